//! las's DPDK telemetry commands end to end: the real `las` binary on a
//! `net_pcap` port (see `pcap_e2e.rs` for how a run works), with the EAL
//! flags of every pcap test (`--no-huge --no-shconf`, a file prefix of
//! its own: telemetry stays on under them). While it runs, the test
//! speaks DPDK's telemetry protocol on
//! `/var/run/dpdk/<prefix>/dpdk_telemetry.v2` itself (a `SOCK_SEQPACKET`
//! socket: a JSON greeting, then one JSON reply per command) and checks
//! that `/` lists las's commands beside DPDK's, that `/las/switches`
//! holds what `las show switches --json` says, that `/ethdev/...` answers
//! alongside, and that a reply too big for DPDK's buffer is cut visibly.
//! Then `dpdk-telemetry.py` (Debian's `dpdk` package, installed by
//! scripts/deps.sh; the test fails without it) runs commands from stdin.
//!
//! Needs root (DPDK with `--no-huge`): #[ignore]d, so a plain `cargo
//! test` lists it as ignored; `cargo test -- --include-ignored`
//! (scripts/test.sh) runs it, and without root it fails.

mod common;

use common::*;
use serde_json::Value as J;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const IPV4: u16 = 0x0800;
const LAS_CMDS: [&str; 7] = [
    "/las/ports",
    "/las/switches",
    "/las/sessions",
    "/las/tunnels",
    "/las/drops",
    "/las/counters",
    "/las/mesh",
];

/// A client of a DPDK telemetry socket.
struct Telemetry {
    sock: UnixStream,
    /// The greeting: version, pid, max_output_len.
    info: J,
}

impl Telemetry {
    /// Connects to `path`, waiting up to 10 s for it to appear: it must.
    fn connect(path: &Path) -> Telemetry {
        let t0 = Instant::now();
        while !path.exists() {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "no DPDK telemetry socket at {} (is telemetry off?)",
                path.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let s = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::SEQPACKET, None)
            .expect("a SOCK_SEQPACKET socket");
        s.connect(&socket2::SockAddr::unix(path).unwrap())
            .unwrap_or_else(|e| panic!("cannot connect to {}: {e}", path.display()));
        let sock: UnixStream = s.into();
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut t = Telemetry {
            sock,
            info: J::Null,
        };
        t.info = t.recv();
        t
    }

    fn recv(&mut self) -> J {
        use std::io::Read;
        // One message per read (SEQPACKET); DPDK's are at most 16 KiB.
        let mut buf = vec![0u8; 1 << 20];
        let n = self.sock.read(&mut buf).expect("a telemetry reply");
        let max = self.info["max_output_len"].as_u64().unwrap_or(u64::MAX);
        assert!(n as u64 <= max, "reply of {n} bytes, over {max}");
        serde_json::from_slice(&buf[..n])
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&buf[..n])))
    }

    /// Sends `cmd` (with its `,params`) and returns the reply's value.
    fn ask(&mut self, cmd: &str) -> J {
        self.sock.write_all(cmd.as_bytes()).unwrap();
        let mut r = self.recv();
        let name = cmd.split(',').next().unwrap();
        r.get_mut(name)
            .unwrap_or_else(|| panic!("{cmd}: reply without {name}"))
            .take()
    }
}

/// `las show <what> --json` through the las binary: its answer's list.
fn las_show(sock: &Path, what: &str) -> Vec<J> {
    let out = Command::new(env!("CARGO_BIN_EXE_las"))
        .args(["show", what, "--json", "--socket"])
        .arg(sock)
        .output()
        .unwrap();
    assert!(out.status.success(), "las show {what}: {out:?}");
    let j: J = serde_json::from_slice(&out.stdout).unwrap();
    j[what].as_array().expect("a list").clone()
}

/// `telemetry` holds every field of the `las show` row `row` (but the
/// name, its key), numbers and strings equal, booleans as 0/1.
fn assert_same(row: &J, telemetry: &J, key: &str) {
    let name = &row[key];
    for (k, v) in row.as_object().unwrap() {
        if k == key {
            continue;
        }
        let t = &telemetry[k];
        match v {
            J::Null => assert!(t.is_null(), "{name} {k}: {t}"),
            J::Bool(b) => assert_eq!(t.as_u64(), Some(u64::from(*b)), "{name} {k}"),
            _ => assert_eq!(t, v, "{name} {k}"),
        }
    }
}

/// `dpdk-telemetry.py`, from PATH or where the dpdk package puts it.
fn telemetry_py() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/share/dpdk/usertools")])
        .map(|d| d.join("dpdk-telemetry.py"))
        .find(|p| p.exists())
        .expect("no dpdk-telemetry.py: install Debian's `dpdk` package (scripts/deps.sh does)")
}

#[test]
#[ignore = "needs root (DPDK with --no-huge): run with cargo test -- --include-ignored"]
fn las_commands_in_dpdk_telemetry() {
    let _g = lock();
    assert!(have_root());
    let a = Sess::new("siteA", "cust100", 10).cookies(&[0xde, 0xad, 0xbe, 0xef], &[]);
    let b = Sess::new("siteB", "cust100", 11).udp();
    let c = Sess::new("siteC", "cust200", 12);
    // Enough sessions that /las/sessions is over DPDK's 16 KiB.
    let mut sessions = vec![a.clone(), b.clone(), c.clone()];
    for o in 20..80u8 {
        sessions.push(Sess::new(&format!("extra-site-{o}"), "cust100", o));
    }
    let mut setup = Setup::new("telemetry", &["cust100", "cust200"], &sessions);
    setup.dataplane = "max_sessions = 128\nmax_switches = 4\nmac_table_size = 1024\n".into();
    let f = |src: u8, tag: u32| inner(BCAST, host(u16::from(src)), IPV4, tag, 100);
    let frames = vec![
        a.ingress(&f(1, 1), None),
        b.ingress(&f(2, 2), None),
        c.ingress(&f(3, 3), None),
        a.ingress_custom(a.local_id, &[0xde, 0xad, 0xbe, 0xee], None, &f(1, 4)), // cookie_mismatch
        a.ingress_custom(4242, &a.local_cookie, None, &f(1, 5)),                 // unknown_session
    ];
    // The harness's file prefix (Scratch).
    let prefix = format!("las-e2e-{}-{}", setup.name, std::process::id());
    let tel_path = Path::new("/var/run/dpdk")
        .join(&prefix)
        .join("dpdk_telemetry.v2");
    let nframes = frames.len() as u64;
    let (r, py) = run_with(&setup, &frames, |sock| {
        let mut t = Telemetry::connect(&tel_path);
        assert!(
            t.info["version"].as_str().unwrap().starts_with("DPDK"),
            "{}",
            t.info
        );

        // The command list: las's beside DPDK's.
        let list = t.ask("/");
        let list: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        for c in LAS_CMDS.iter().chain(&["/ethdev/list", "/ethdev/stats"]) {
            assert!(list.contains(c), "{c} not in {list:?}");
        }
        let help = t.ask("/help,/las/switches");
        assert!(
            help["/las/switches"].as_str().unwrap().contains("switch"),
            "{help}"
        );

        // /las/switches: what las show switches says.
        let sw = t.ask("/las/switches");
        let shown = las_show(sock, "switches");
        assert_eq!(sw.as_object().unwrap().len(), shown.len(), "{sw}");
        for row in &shown {
            let name = row["name"].as_str().unwrap();
            assert_same(row, &sw[name], "name");
        }
        assert_eq!(sw["cust100"]["rx_packets"], 2, "{sw}");
        assert_eq!(sw["cust200"]["rx_packets"], 1, "{sw}");
        assert_eq!(sw["cust100"]["members"].as_array().unwrap().len(), 62);
        let one = t.ask("/las/switches,cust200");
        assert_eq!(one.as_object().unwrap().len(), 1, "{one}");
        assert_eq!(one["cust200"], sw["cust200"]);

        // Sessions of one switch; names keyed as DPDK allows.
        let s = t.ask("/las/sessions,cust200");
        assert_eq!(s.as_object().unwrap().len(), 1, "{s}");
        let shown = las_show(sock, "sessions");
        let site_c = shown.iter().find(|r| r["name"] == "siteC").unwrap();
        assert_same(site_c, &s["siteC"], "name");
        // All of them are over 16 KiB: cut, and it says so.
        let all = t.ask("/las/sessions");
        let all = all.as_object().unwrap();
        let omitted = all["_truncated"].as_u64().expect("a _truncated marker");
        assert!(omitted > 0);
        assert_eq!(all.len() as u64 - 1 + omitted, shown.len() as u64);
        assert!(all.contains_key("siteA") && all.contains_key("extra_site_20"));

        let drops = t.ask("/las/drops");
        assert_eq!(drops["cookie_mismatch"], 1, "{drops}");
        assert_eq!(drops["unknown_session"], 1, "{drops}");
        let counters = t.ask("/las/counters");
        assert!(counters.get("drops").is_none());
        assert!(counters["uptime_secs"].is_u64(), "{counters}");
        assert!(counters["control"]["mbufs_in_use"].is_u64(), "{counters}");
        assert_eq!(
            counters["workers"]["0"]["rx_packets"], nframes,
            "{counters}"
        );
        let ports = t.ask("/las/ports");
        assert_eq!(ports["wan0"]["rx_packets"], nframes, "{ports}");
        assert_eq!(t.ask("/las/tunnels"), serde_json::json!({}));

        // DPDK's own commands alongside.
        assert_eq!(t.ask("/ethdev/list"), serde_json::json!([0]));
        let stats = t.ask("/ethdev/stats,0");
        assert_eq!(stats["ipackets"], nframes, "{stats}");

        // dpdk-telemetry.py, non-interactive: commands on stdin, one
        // JSON reply a line on stdout.
        let mut py = Command::new("python3")
            .arg(telemetry_py())
            .args(["-f", &prefix])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3");
        py.stdin
            .take()
            .unwrap()
            .write_all(b"/las/switches,cust100\n/ethdev/list\n/las/drops\n")
            .unwrap();
        let out = py.wait_with_output().unwrap();
        (
            sw,
            drops,
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    });
    let (sw, drops, ok, stdout, stderr) = py;
    assert!(ok, "dpdk-telemetry.py failed:\n{stdout}\n{stderr}");
    let replies: Vec<J> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}\n{stdout}")))
        .collect();
    assert_eq!(replies.len(), 3, "{stdout}");
    assert_eq!(replies[0]["/las/switches"]["cust100"], sw["cust100"]);
    assert_eq!(replies[1]["/ethdev/list"], serde_json::json!([0]));
    assert_eq!(replies[2]["/las/drops"], drops);
    assert!(
        r.stderr
            .contains(&format!("DPDK telemetry at {}", tel_path.display())),
        "{}",
        r.stderr
    );
    // The final state agrees with what telemetry said.
    assert_eq!(switch(&r, "cust100").rx_packets, 2);
}
