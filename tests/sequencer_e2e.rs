//! Sequenced sessions with two workers: one owner numbers and sends.
//!
//! las runs two workers (`--cores 0,1,2@1`: both on one CPU when the
//! machine has two, so this runs on the smallest CI box) on a `net_pcap`
//! port with two RX and two TX queues: worker 0 reads `in0.pcap` and
//! writes `out0.pcap`, worker 1 reads `in1.pcap` and writes `out1.pcap`.
//! Peers A and B (no sublayer) each flood 300 broadcasts into the switch,
//! A's on queue 0 and B's on queue 1; peer C has the default sublayer, so
//! las numbers what it sends to C (RFC 4719 §3 / RFC 3931 §4.6). Both
//! workers flood to C. The frames to C must all leave through one TX
//! queue, numbered 0..599 in the order they leave, each source's frames in
//! the order they came: the owning worker numbers them, the other hands
//! them over (`sequencer_handoff` = 300). With a shared counter instead,
//! C's frames leave from both queues and interleave arbitrarily.
//!
//! The frames are built by hand from the RFCs (`common`), and tshark
//! decodes both output files with C's sublayer (`common::tshark`).
mod common;

use common::*;
use las::telemetry::show::{Request, Response};
use std::time::Duration;

const PER_PEER: u32 = 300;

/// The sublayer sequence number of a frame las sent to an IP-encapsulated
/// session without cookie: Ethernet 14 + IPv4 20 + session id 4, then
/// 0x40 (S) and 24 bits.
fn seq_of(f: &[u8]) -> u32 {
    let o = 14 + 20 + 4;
    assert_eq!(f[o] & 0x40, 0x40, "S bit clear in {}", hex(f));
    u32::from_be_bytes([0, f[o + 1], f[o + 2], f[o + 3]])
}

/// The tag `inner()` writes into the payload (after Ethernet, 4 bytes).
fn tag_of(inner: &[u8]) -> u32 {
    u32::from_be_bytes([inner[14], inner[15], inner[16], inner[17]])
}

#[test]
#[ignore = "needs root (DPDK, veth, netns): run with cargo test -- --include-ignored"]
fn two_workers_one_numbering() {
    let _g = lock();
    if !have_root() {
        return;
    }
    let a = Sess::new("siteA", "s1", 10);
    let b = Sess::new("siteB", "s1", 11);
    let c = Sess::new("siteC", "s1", 12).l2spec();
    let setup = Setup::new("seqowner", &["s1"], &[a.clone(), b.clone(), c.clone()]);

    let scratch = Scratch::new("seqowner");
    let dir = scratch.dir.clone();
    let from = |s: &Sess, host_n: u16, base: u32| -> Vec<Vec<u8>> {
        (0..PER_PEER)
            .map(|i| s.ingress(&inner(BCAST, host(host_n), 0x0806, base + i, 80), None))
            .collect()
    };
    write_pcap(&dir.join("in0.pcap"), &from(&a, 1, 0));
    write_pcap(&dir.join("in1.pcap"), &from(&b, 2, 100_000));
    let d = |n: &str| dir.join(n).display().to_string();
    let mut cfg = setup.config(&dir, &scratch.prefix);
    cfg = cfg.replace(
        &format!("rx_pcap={},tx_pcap={}", d("in.pcap"), d("out.pcap")),
        &format!(
            "rx_pcap={},rx_pcap={},tx_pcap={},tx_pcap={}",
            d("in0.pcap"),
            d("in1.pcap"),
            d("out0.pcap"),
            d("out1.pcap")
        ),
    );
    assert!(cfg.contains("in1.pcap"), "config not rewritten:\n{cfg}");
    let cfg_path = dir.join("las.toml");
    std::fs::write(&cfg_path, &cfg).unwrap();

    // Two workers on CPU 1 (or 0 on a one-CPU machine).
    let cpu = if std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2 {
        1
    } else {
        0
    };
    let cores = format!("0,1@{cpu},2@{cpu}");
    let sock = dir.join("las.sock");
    let mut las = Las::start(&cfg_path, &cores, &dir);
    las.wait_ready(&sock);
    las.wait_received(&sock, 2 * u64::from(PER_PEER), Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(300));
    let counters = counters(&sock);
    // While las runs: the per-session counts sit in each worker's own
    // session lines until published (once a second); a view asks both
    // workers to publish first. C's 600 frames were counted by its owner.
    let Response::Sessions { sessions } = ask(&sock, Request::Sessions) else {
        unreachable!()
    };
    let count = |n: &str| {
        let v = sessions.iter().find(|v| v.name == n).unwrap();
        (v.rx_packets, v.tx_packets)
    };
    let live = [count("siteA"), count("siteB"), count("siteC")];
    las.stop();
    let n = u64::from(PER_PEER);
    assert_eq!(
        live,
        [(n, n), (n, n), (0, 2 * n)],
        "session counts while las runs"
    );

    assert_eq!(counters.workers.len(), 2, "two workers{}", las.logs());
    assert_drops(&counters, &[]);
    let check = setup.tshark_check();
    let outs: Vec<Vec<Vec<u8>>> = ["out0.pcap", "out1.pcap"]
        .iter()
        .map(|n| {
            tshark::assert_clean(&dir.join(n), &check);
            read_pcap(&dir.join(n))
        })
        .collect();
    let to_c: Vec<Vec<Vec<u8>>> = outs.iter().map(|o| to_peer(o, c.peer_ip)).collect();
    let (owner_out, other_out) = if to_c[0].is_empty() {
        (&to_c[1], &to_c[0])
    } else {
        (&to_c[0], &to_c[1])
    };
    assert!(
        other_out.is_empty(),
        "frames to the sequenced session left through both TX queues ({} and {})",
        to_c[0].len(),
        to_c[1].len()
    );
    assert_eq!(owner_out.len(), 2 * PER_PEER as usize);
    let seqs: Vec<u32> = owner_out.iter().map(|f| seq_of(f)).collect();
    let want: Vec<u32> = (0..2 * PER_PEER).collect();
    assert_eq!(seqs, want, "numbers on the wire, in order");
    // Each source's frames keep their order.
    let off = c.egress_inner_off();
    let tags: Vec<u32> = owner_out.iter().map(|f| tag_of(&f[off..])).collect();
    let mine = |lo: u32| -> Vec<u32> {
        tags.iter()
            .copied()
            .filter(|t| (lo..lo + PER_PEER).contains(t))
            .collect()
    };
    assert_eq!(mine(0), (0..PER_PEER).collect::<Vec<_>>(), "A's order");
    assert_eq!(
        mine(100_000),
        (100_000..100_000 + PER_PEER).collect::<Vec<_>>(),
        "B's order"
    );
    // The unsequenced copies (A → B, B → A) leave from their own worker.
    let all: usize = outs
        .iter()
        .map(|o| o.iter().filter(|f| is_data(f)).count())
        .sum();
    assert_eq!(all, 4 * PER_PEER as usize);
    assert_eq!(
        counters.control["sequencer_handoff"],
        u64::from(PER_PEER),
        "the non-owner hands over its copies to C"
    );
}
