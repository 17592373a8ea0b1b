//! Runs the namespace lab (`lab/lab.sh run`): las on a net_af_packet port
//! and three las-edge sites, first with static sessions, then in dynamic
//! mode (RFC 3931 control connections opened by the edges, by VC ID), then
//! the sites over an IPv6 underlay (static, then dynamic), then MTU scenarios (MSS clamping over a 1500-byte underlay, jumbo frames),
//! an edge behind a NAT, and redundancy: two meshed las (a second las
//! in its own namespace) sharing a switch, with edge failover between
//! them (the outage is printed as RESULT fo-outage-secs).
//! tshark decodes what las sent on the underlay during the static, the
//! dynamic and the IPv6 parts (CHECK tshark-static, tshark-dynamic,
//! tshark-ipv6, tshark-ipv6-dynamic).
//! Needs root and `ip netns`: #[ignore]d, so a plain `cargo test` lists
//! it as ignored; `cargo test -- --include-ignored` (scripts/test.sh)
//! runs it, and without root it fails.

use std::process::Command;

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn has_netns() -> bool {
    Command::new("ip")
        .args(["netns", "list"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

const CHECKS: &[&str] = &[
    "las-start",
    "edges-start",
    // Prometheus scrapes las.
    "prom-up",
    "ping-a-b",
    "ping-b-a",
    "arp-a-learns-b",
    "ping-a-b-mtu",
    "prom-switch-counter-rose",
    "prom-drop-counters",
    "isolation-c-a",
    "reload-applied",
    "reload-no-loss",
    "reload-switch-added",
    "reload-c-reaches-a",
    "reload-back-isolated",
    "isolation-c-b",
    "c-reaches-las",
    "tcp-a-b",
    "mac-a-on-siteA",
    "mac-move-to-siteB",
    "mac-move-back",
    "mac-b-on-siteB",
    "mac-b-aged",
    // tshark decodes every frame las sent during the static part.
    "tshark-static",
    // Dynamic mode.
    "dyn-las-start",
    "dyn-sessions-up",
    "dyn-tunnels-established",
    "dyn-vc-100-cust100",
    "dyn-vc-200-auto-switch",
    "dyn-secret-ok",
    "dyn-cisco-dual",
    "dyn-ping-a-b",
    "dyn-ping-b-a",
    "dyn-isolation-c-a",
    "dyn-c-reaches-las",
    "dyn-dead-edge-cleared",
    "dyn-edge-stop-clears",
    "dyn-wrong-secret",
    "dyn-edge-rejoins",
    "dyn-stopccn-seen",
    "dyn-las-restart",
    "dyn-reconnect",
    "dyn-ping-after-restart",
    "dyn-edge-counters",
    "tshark-dynamic",
    // The IPv6 underlay: static pseudowires over IPv6, ND and ICMPv6 by las.
    "ipv6-las-start",
    "ipv6-edges-start",
    "ipv6-ping-las",
    "ipv6-nd",
    "ipv6-sessions-up",
    "ipv6-ping-a-b",
    "ipv6-ping-b-a",
    "ipv6-ping-a-b-mtu",
    "ipv6-isolation",
    "ipv6-tcp",
    "ipv6-no-drops",
    "tshark-ipv6",
    "ipv6-dyn-las-start",
    "ipv6-dyn-sessions-up",
    "ipv6-dyn-ping-a-b",
    "ipv6-dyn-ping-b-a",
    "ipv6-dyn-isolation",
    "ipv6-dyn-control-clean",
    "tshark-ipv6-dynamic",
    // MTU scenarios.
    "mtu-edges-start",
    "mtu-tcp-stalls-without-clamp",
    "mtu-las-drops-oversize",
    "mtu-las-start",
    "mtu-tcp-completes-with-clamp",
    "mtu-mss-clamped",
    "mtu-jumbo-las-start",
    "mtu-jumbo-ping-8000",
    "mtu-jumbo-ping-full",
    "mtu-jumbo-tcp",
    "mtu-jumbo-mss-unclamped",
    // An edge behind a masquerading NAT (flushed; idle past its timeout).
    "nat-session-up",
    "nat-ping",
    "nat-rebind-resumes",
    "nat-same-session",
    "nat-spoof-ignored",
    "nat-idle-kept",
    // Edge failover: site C dual-homed to las1 and las2 (--backup-peer).
    "fo-las-start",
    "fo-sites-up",
    "fo-c-on-las1",
    "fo-ping-c-a",
    // The las mesh (las1 and las2 share cust100).
    "red-mesh-up",
    "red-ping-a-b",
    "red-ping-c-b",
    "red-broadcast-once",
    "fo-c-on-las2",
    "fo-outage",
    "fo-ping-c-b",
    "fo-edge-logged",
    "fo-las1-restart",
    "red-ping-a-b-after-restart",
    "fo-revert-after-delay",
    "fo-backup-released",
    "fo-ping-c-a-after-revert",
    "fo-edge-counters",
];

#[test]
#[ignore = "needs root (DPDK, veth, netns): run with cargo test -- --include-ignored"]
fn lab() {
    // #[ignore]d: asked for with --include-ignored, it must not pass
    // without running.
    assert!(
        is_root() && has_netns(),
        "the lab needs root and `ip netns`: run it as root"
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/lab/lab.sh");
    let out = Command::new("bash")
        .arg(script)
        .arg("run")
        .env("LAS_BIN", env!("CARGO_BIN_EXE_las"))
        .env("LAS_EDGE_BIN", env!("CARGO_BIN_EXE_las-edge"))
        .output()
        .expect("cannot run lab/lab.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");

    let lines: Vec<&str> = stdout.lines().collect();
    let mut missing = Vec::new();
    for name in CHECKS {
        let prefix = format!("CHECK {name} ");
        match lines.iter().find(|l| l.starts_with(&prefix)) {
            Some(l) if l[prefix.len()..].starts_with("ok") => {}
            Some(l) => missing.push(format!("failed: {l}")),
            None => missing.push(format!("not run: {name}")),
        }
    }
    assert!(missing.is_empty(), "lab checks: {missing:#?}");
    let mbps: f64 = lines
        .iter()
        .find_map(|l| l.strip_prefix("RESULT tcp-a-b-mbps "))
        .and_then(|v| v.trim().parse().ok())
        .expect("no RESULT tcp-a-b-mbps line");
    assert!(mbps > 0.0, "TCP throughput {mbps}");
    let outage: f64 = lines
        .iter()
        .find_map(|l| l.strip_prefix("RESULT fo-outage-secs "))
        .and_then(|v| v.trim().parse().ok())
        .expect("no RESULT fo-outage-secs line");
    // las-edge's timers in the lab: HELLO 2 s, 3 retransmissions 1 s
    // apart (dead after 6 s), plus the setup on the backup.
    assert!(outage > 0.0 && outage <= 8.0, "failover outage {outage} s");
    for name in ["mtu-clamp-tcp-mbps", "mtu-jumbo-tcp-mbps"] {
        let prefix = format!("RESULT {name} ");
        let v: f64 = lines
            .iter()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no RESULT {name} line"));
        assert!(v > 0.0, "{name} {v}");
    }
    let summary = lines
        .iter()
        .find(|l| l.starts_with("SUMMARY "))
        .expect("no SUMMARY line");
    assert!(summary.ends_with(" failed=0"), "{summary}");
    assert!(out.status.success(), "lab.sh exited with {}", out.status);
}
