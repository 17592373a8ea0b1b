//! The device's IPv4 header checksum check (`RTE_ETH_RX_OFFLOAD_IPV4_CKSUM`)
//! on a port whose driver has it: DPDK's `net_tap`, whose receive path
//! checks the header checksum of every IPv4 packet and marks the mbuf
//! good or bad (`tap_verify_csum` in DPDK's `drivers/net/tap`), as a NIC
//! does in hardware. las enables the offload, says so (`las show ports`,
//! `rx_ip_checksum_offload`), and its fast path then skips its own sum for
//! a packet marked good; a packet marked bad must still be dropped as
//! `bad_ip_checksum` and never forwarded.
//!
//! That the worker reads the mark at all is seen only through this: with
//! the mark misread (bad taken for good) the bad frame reaches the peer
//! and the test fails, in the direct loop and (`LAS_BURST_LOOP=staged`,
//! scripts/test.sh) in the staged one; that it then skips its own sum is
//! held by the unit test `fast_agrees_with_full_rules`.
//!
//! las runs in a network namespace the test makes (`ip netns exec`), so
//! its tap interface appears there and nothing leaves it. The frames are
//! written to the kernel's side of the tap by Python's own `AF_PACKET`
//! socket (python3 comes with Debian's `dpdk` package, whose scripts need
//! it), not by las code, and built by the tests' hand-written helpers
//! (`common`), independent of `las::wire`. What las sends back is
//! captured there by tcpdump, compared byte for byte with those helpers'
//! frames, and decoded by tshark (`common::tshark`), which must find no
//! malformed frame or expert error in it.
//!
//! Needs root (DPDK, netns): #[ignore]d, run by `cargo test --
//! --include-ignored` (scripts/test.sh); without root it fails.

mod common;

use common::tshark::{assert_clean, Capture};
use common::*;
use las::telemetry::show::{Request, Response};
use std::io::Write as _;
use std::process::Stdio;
use std::time::Duration;

/// Sends the hex frames of stdin's lines on `sys.argv[1]`, one every
/// 100 ms (time for las to learn from one before the next).
const INJECT: &str = r#"
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for line in sys.stdin:
    if line.strip():
        s.send(bytes.fromhex(line.strip()))
        time.sleep(0.1)
"#;

/// A namespace for las (`common::Netns`), with no IPv6 on the tap when
/// it appears: no router solicitations or MLD reports for las to count
/// among its drops.
fn tap_netns(name: &str) -> Netns {
    let ns = Netns::new(name);
    ns.ipv6("all", false);
    ns.ipv6("default", false);
    ns
}

fn hex_of(f: &[u8]) -> String {
    f.iter().map(|b| format!("{b:02x}")).collect()
}

/// `f` with its outer IPv4 header checksum made wrong: the right one
/// plus one.
fn corrupt_ip_checksum(mut f: Vec<u8>) -> Vec<u8> {
    let c = u16::from_be_bytes([f[24], f[25]]).wrapping_add(1);
    f[24..26].copy_from_slice(&c.to_be_bytes());
    assert_ne!(csum(&f[14..34]), 0);
    f
}

#[test]
#[ignore = "needs root (DPDK, netns): run with cargo test -- --include-ignored"]
fn device_checked_ip_checksum() {
    assert!(have_root());
    let _g = lock();
    let a = Sess::new("a", "sw", 10);
    let b = Sess::new("b", "sw", 11);
    let iface = format!("lastap{}", std::process::id() % 100_000);
    let mut setup = Setup::new("tapcsum", &["sw"], &[a.clone(), b.clone()]);
    setup.cores = "0,1".into();
    setup.device = Some(format!("net_tap0,iface={iface}"));
    let scratch = Scratch::new(&setup.name);
    let dir = scratch.dir.clone();
    let ns = tap_netns(&format!("las-tapcsum-{}", std::process::id()));
    let cfg_path = dir.join("las.toml");
    std::fs::write(&cfg_path, setup.config(&dir, &scratch.prefix)).unwrap();
    let sock = dir.join("las.sock");
    let mut las = Las::start_in(Some(ns.name()), &cfg_path, &setup.cores, &dir);
    las.wait_ready(&sock);

    let Response::Ports { ports } = ask(&sock, Request::Ports) else {
        unreachable!()
    };
    assert_eq!(ports[0].driver, "net_tap");
    assert!(
        ports[0].rx_ip_checksum_offload,
        "las did not enable net_tap's IPv4 checksum offload{}",
        las.logs()
    );

    let (h1, h2) = (host(1), host(2));
    let ab = |tag| inner(h2, h1, 0x0800, tag, 60);
    // b's host first (flooded to a: h1 unknown), then a's, learned by the
    // full rules and forwarded to b, then a's again, known on both sides:
    // the fast path's, around one with a wrong header checksum.
    let mut frames = vec![b.ingress(&inner(h1, h2, 0x0800, 1, 60), None)];
    let mut to_b = vec![];
    for tag in 2..=6 {
        frames.push(a.ingress(&ab(tag), None));
        to_b.push(ab(tag));
    }
    frames.push(corrupt_ip_checksum(a.ingress(&ab(7), None)));
    frames.push(a.ingress(&ab(8), None));
    to_b.push(ab(8));

    let pcap = dir.join("tap.pcap");
    let mut cap = Capture::start_in(
        Some(ns.name()),
        &iface,
        &pcap,
        1000,
        "what las sent on net_tap",
    );
    let mut py = ns
        .command("python3")
        .args(["-c", INJECT, &iface])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    {
        let mut stdin = py.stdin.take().unwrap();
        for f in &frames {
            writeln!(stdin, "{}", hex_of(f)).unwrap();
        }
    }
    let out = py.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python3 injector: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every frame in (the tap PMD reads on a signal: the last one may
    // still be in the kernel when python exits), then time to send.
    las.wait_received(&sock, frames.len() as u64, Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(200));
    let c = counters(&sock);
    // The capture first: las's exit removes the tap, and with it what
    // tcpdump had not read yet.
    let cap = cap.as_mut().expect("tcpdump and tshark (scripts/deps.sh)");
    cap.stop();
    las.stop();
    let got: Vec<Vec<u8>> = read_pcap(&pcap)
        .into_iter()
        .filter(|f| f.len() >= 14 && f[6..12] == LAS_MAC)
        .collect();
    let mut check = setup.tshark_check();
    check.what = "what las sent on net_tap".into();
    check.from = Some("eth.src == 02:00:00:00:00:01".into());
    assert_clean(&pcap, &check);

    assert_egress(&got, &b, &to_b, 0);
    assert_egress(&got, &a, &[inner(h1, h2, 0x0800, 1, 60)], 0);
    assert_drops(&c, &[("bad_ip_checksum", 1)]);
    // Tags 3 to 6 and 8: known on both sides after tag 2.
    let want = if fast_path_on() { 5 } else { 0 };
    assert_eq!(c.workers[0].fast_path, want, "fast_path");
}
