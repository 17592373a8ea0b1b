//! End-to-end tests of the per-switch L2 policy and the MTU handling: the
//! real `las` binary on a `net_pcap` port (see `pcap_e2e.rs` for how a run
//! works). Frames, TCP/IP checksums, fragment checks and reassembly are
//! written here independently of `las::wire`.
//!
//! Needs root (DPDK with `--no-huge`); without root the tests print
//! "SKIPPED" and pass, unless `CI` is set.

mod common;

use common::*;
use std::net::Ipv4Addr;
use std::path::Path;

const ARP: u16 = 0x0806;
const IPV4: u16 = 0x0800;
const IPV6: u16 = 0x86dd;
const CTAG: u16 = 0x8100;
const STAG: u16 = 0x88a8;
const OLD_STAG: u16 = 0x9100;

const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;

// ------------------------------------------------------------ helpers

/// An Ethernet frame with VLAN tags `(tpid, tci)` (outer first) before
/// `ethertype`.
fn eth_tagged(
    dst: [u8; 6],
    src: [u8; 6],
    tags: &[(u16, u16)],
    ethertype: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + 4 * tags.len() + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    for (tpid, tci) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// `inner()` with VLAN tags: a recognizable payload of `len` bytes in all.
fn tagged_inner(
    dst: [u8; 6],
    src: [u8; 6],
    tags: &[(u16, u16)],
    ethertype: u16,
    tag: u32,
    len: usize,
) -> Vec<u8> {
    let plain = inner(dst, src, ethertype, tag, len - 4 * tags.len());
    eth_tagged(dst, src, tags, ethertype, &plain[14..])
}

/// Where the MSS option sits in the TCP options.
#[derive(Clone, Copy, Debug)]
enum Opts {
    /// MSS only.
    Plain,
    /// Like Linux: MSS, SACK permitted, timestamps, NOP, window scale.
    Linux,
    /// NOP, NOP, timestamps, then MSS.
    AfterTimestamps,
    /// NOP then MSS: the MSS value at an odd offset.
    OddOffset,
}

fn tcp_options(layout: Opts, mss: u16) -> Vec<u8> {
    let m = mss.to_be_bytes();
    match layout {
        Opts::Plain => vec![2, 4, m[0], m[1]],
        Opts::Linux => vec![
            2, 4, m[0], m[1], 4, 2, 8, 10, 0x11, 0x22, 0x33, 0x44, 0, 0, 0, 0, 1, 3, 3, 7,
        ],
        Opts::AfterTimestamps => vec![
            1, 1, 8, 10, 0x55, 0x66, 0x77, 0x88, 0, 0, 0, 0, 2, 4, m[0], m[1],
        ],
        Opts::OddOffset => vec![1, 2, 4, m[0], m[1], 1, 1, 0],
    }
}

const V4_SRC: [u8; 4] = [10, 0, 0, 1];
const V4_DST: [u8; 4] = [10, 0, 0, 2];
const V6_SRC: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const V6_DST: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

/// TCP pseudo header (IPv4: 12 bytes, IPv6: 40 bytes).
fn pseudo(v6: bool, len: usize) -> Vec<u8> {
    let mut p = Vec::new();
    if v6 {
        p.extend_from_slice(&V6_SRC);
        p.extend_from_slice(&V6_DST);
        p.extend_from_slice(&(len as u32).to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 6]);
    } else {
        p.extend_from_slice(&V4_SRC);
        p.extend_from_slice(&V4_DST);
        p.extend_from_slice(&[0, 6]);
        p.extend_from_slice(&(len as u16).to_be_bytes());
    }
    p
}

/// A TCP segment with `flags`, `opts` and a full, freshly computed checksum.
fn tcp_segment(v6: bool, flags: u8, opts: &[u8], payload: &[u8]) -> Vec<u8> {
    assert_eq!(opts.len() % 4, 0);
    let hl = 20 + opts.len();
    let mut t = Vec::with_capacity(hl + payload.len());
    t.extend_from_slice(&40000u16.to_be_bytes());
    t.extend_from_slice(&443u16.to_be_bytes());
    t.extend_from_slice(&0x0102_0304u32.to_be_bytes());
    let ack = if flags & ACK != 0 { 0x0a0b_0c0d } else { 0 };
    t.extend_from_slice(&u32::to_be_bytes(ack));
    t.push(((hl / 4) as u8) << 4);
    t.push(flags);
    t.extend_from_slice(&64240u16.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 0]);
    t.extend_from_slice(opts);
    t.extend_from_slice(payload);
    let mut sum_in = pseudo(v6, t.len());
    sum_in.extend_from_slice(&t);
    let c = csum(&sum_in);
    t[16..18].copy_from_slice(&c.to_be_bytes());
    t
}

/// An inner Ethernet frame carrying a TCP segment over IPv4 or IPv6, inside
/// `tags`, with the MSS option `mss` laid out as `layout`.
fn tcp_frame(
    dst: [u8; 6],
    src: [u8; 6],
    tags: &[(u16, u16)],
    v6: bool,
    flags: u8,
    layout: Opts,
    mss: u16,
) -> Vec<u8> {
    let seg = tcp_segment(v6, flags, &tcp_options(layout, mss), &[]);
    if v6 {
        let mut ip = vec![0x60, 0, 0, 0];
        ip.extend_from_slice(&(seg.len() as u16).to_be_bytes());
        ip.extend_from_slice(&[6, 64]);
        ip.extend_from_slice(&V6_SRC);
        ip.extend_from_slice(&V6_DST);
        ip.extend_from_slice(&seg);
        eth_tagged(dst, src, tags, IPV6, &ip)
    } else {
        let ip = ipv4(V4_SRC.into(), V4_DST.into(), 6, 0x4242, 64, &seg);
        eth_tagged(dst, src, tags, IPV4, &ip)
    }
}

/// Independent check of an inner TCP frame: skips VLAN tags, then
/// verifies the IP header (IPv4 checksum) and the full TCP checksum over
/// the pseudo header. Returns the MSS option value.
fn verify_tcp(frame: &[u8]) -> u16 {
    let mut off = 12;
    while matches!(
        u16::from_be_bytes([frame[off], frame[off + 1]]),
        CTAG | STAG | OLD_STAG
    ) {
        off += 4;
    }
    let et = u16::from_be_bytes([frame[off], frame[off + 1]]);
    let l3 = off + 2;
    let (v6, l4) = match et {
        IPV4 => {
            assert_eq!(csum(&frame[l3..l3 + 20]), 0, "inner IPv4 header checksum");
            (false, l3 + 20)
        }
        IPV6 => (true, l3 + 40),
        _ => panic!("not IP: {et:04x}"),
    };
    let seg = &frame[l4..];
    let mut sum_in = pseudo(v6, seg.len());
    sum_in.extend_from_slice(seg);
    assert_eq!(csum(&sum_in), 0, "TCP checksum invalid{}", hexdump(frame));
    // Find the MSS option.
    let hl = usize::from(seg[12] >> 4) * 4;
    let mut i = 20;
    while i < hl {
        match seg[i] {
            0 => break,
            1 => i += 1,
            2 => return u16::from_be_bytes([seg[i + 2], seg[i + 3]]),
            _ => i += usize::from(seg[i + 1]),
        }
    }
    panic!("no MSS option");
}

/// The non-data frames las sent: exactly its gratuitous ARP.
fn assert_only_garp(r: &Outcome) {
    assert_eq!(
        r.other(),
        vec![arp_request_from_las(LAS_IP)],
        "control frames other than the gratuitous ARP"
    );
}

/// The inner frame of an (unfragmented) egress frame to `s`.
fn inner_of<'a>(s: &Sess, f: &'a [u8]) -> &'a [u8] {
    &f[s.egress_inner_off()..]
}

// ------------------------------------------------------------ 1. MSS clamping

/// Auto ceiling for IPv4 in a switch of IP-encapsulated members without
/// cookie at port MTU 1500: the inner frame may be 1500 − 20 − 4 = 1476
/// bytes, so MSS = 1476 − 14 − 20 − 20.
const AUTO_V4: u16 = 1422;
const AUTO_V6: u16 = AUTO_V4 - 20;

#[test]
fn mss_clamp() {
    let _g = lock();
    if !have_root() {
        return;
    }
    // "auto": two IP members without cookie, VLAN-transparent.
    let a = Sess::new("siteA", "auto", 10);
    let b = Sess::new("siteB", "auto", 11);
    // "mix": an IP member and a UDP member sending an 8-byte cookie:
    // 1500 − (20 + 8 + 4 + 4 + 8) = 1456 for every member of the switch.
    let c = Sess::new("siteC", "mix", 12);
    let d = Sess::new("siteD", "mix", 13)
        .udp()
        .cookies(&[1, 2, 3, 4], &[5, 6, 7, 8, 9, 10, 11, 12]);
    let e = Sess::new("siteE", "fixed", 14);
    let f = Sess::new("siteF", "fixed", 15);
    let g = Sess::new("siteG", "off", 16);
    let h = Sess::new("siteH", "off", 17);
    let all = [&a, &b, &c, &d, &e, &f, &g, &h].map(|s| s.clone());
    let mut setup = Setup::new("mss", &[], &all);
    setup.switches = [
        switch_toml("auto", "vlan_mode = \"transparent\""),
        switch_toml("mix", ""),
        switch_toml("fixed", "mss_clamp = 1300"),
        switch_toml("off", "mss_clamp = \"off\""),
    ]
    .concat();
    let mix_v4: u16 = 1456 - 54;
    let mix_v6: u16 = 1456 - 74;

    let (ha, hb, hc, hd, he, hf, hg, hh) = (
        host(1),
        host(2),
        host(3),
        host(4),
        host(5),
        host(6),
        host(7),
        host(8),
    );
    let mut frames = Vec::new();
    // (sender, inner sent, expected receiver, inner expected)
    let mut to: Vec<(String, Vec<u8>)> = Vec::new();
    let mut send = |from: &Sess, to_sess: &[&Sess], sent: Vec<u8>, want: Vec<u8>| {
        frames.push(from.ingress(&sent, None));
        for t in to_sess {
            to.push((t.name.clone(), want.clone()));
        }
    };
    // Learning: every host announces itself.
    for (s, o, hm, tag) in [
        (&a, &b, ha, 1),
        (&b, &a, hb, 2),
        (&c, &d, hc, 3),
        (&d, &c, hd, 4),
        (&e, &f, he, 5),
        (&f, &e, hf, 6),
        (&g, &h, hg, 7),
        (&h, &g, hh, 8),
    ] {
        let arp = inner(BCAST, hm, ARP, tag, 60);
        send(s, &[o], arp.clone(), arp);
    }
    let syn = |dst, src, tags: &[(u16, u16)], v6, flags, layout, mss| {
        tcp_frame(dst, src, tags, v6, flags, layout, mss)
    };
    // auto, A -> hb and B -> ha: (tags, v6, flags, layout, mss in, mss out)
    let q100 = (CTAG, 100u16);
    let s10 = (STAG, 10u16);
    let auto_cases: Vec<(bool, Vec<(u16, u16)>, bool, u8, Opts, u16, u16)> = vec![
        (true, vec![], false, SYN, Opts::Plain, 1460, AUTO_V4),
        (false, vec![], false, SYN | ACK, Opts::Linux, 1460, AUTO_V4),
        (true, vec![], true, SYN, Opts::Plain, 1440, AUTO_V6),
        (true, vec![], false, SYN, Opts::Plain, 1200, 1200),
        (true, vec![], false, ACK, Opts::Plain, 1460, 1460),
        (true, vec![], false, SYN | RST, Opts::Plain, 1460, 1460),
        (true, vec![], false, SYN, Opts::AfterTimestamps, 1460, AUTO_V4),
        (true, vec![], false, SYN, Opts::OddOffset, 1460, AUTO_V4),
        (true, vec![q100], false, SYN, Opts::Linux, 1460, AUTO_V4 - 4),
        (true, vec![s10, q100], false, SYN, Opts::Plain, 1460, AUTO_V4 - 8),
        (
            true,
            vec![s10, q100],
            true,
            SYN,
            Opts::AfterTimestamps,
            1460,
            AUTO_V6 - 8,
        ),
        (
            false,
            vec![(OLD_STAG, 5)],
            true,
            SYN | ACK,
            Opts::Linux,
            1460,
            AUTO_V6 - 4,
        ),
        (true, vec![], false, SYN, Opts::Plain, AUTO_V4, AUTO_V4),
        (true, vec![], false, SYN, Opts::Plain, AUTO_V4 + 1, AUTO_V4),
    ];
    let mut auto_clamped = 0;
    for (from_a, tags, v6, flags, layout, mss_in, mss_out) in auto_cases {
        let (from, dest, dst, src) = if from_a {
            (&a, &b, hb, ha)
        } else {
            (&b, &a, ha, hb)
        };
        if mss_in != mss_out {
            auto_clamped += 1;
        }
        send(
            from,
            &[dest],
            syn(dst, src, &tags, v6, flags, layout, mss_in),
            syn(dst, src, &tags, v6, flags, layout, mss_out),
        );
    }
    // mix: min over the members, both directions.
    send(
        &c,
        &[&d],
        syn(hd, hc, &[], false, SYN, Opts::Plain, 1460),
        syn(hd, hc, &[], false, SYN, Opts::Plain, mix_v4),
    );
    send(
        &d,
        &[&c],
        syn(hc, hd, &[], true, SYN | ACK, Opts::Linux, 1460),
        syn(hc, hd, &[], true, SYN | ACK, Opts::Linux, mix_v6),
    );
    // fixed 1300.
    send(
        &e,
        &[&f],
        syn(hf, he, &[], false, SYN, Opts::Plain, 1460),
        syn(hf, he, &[], false, SYN, Opts::Plain, 1300),
    );
    send(
        &f,
        &[&e],
        syn(he, hf, &[], true, SYN | ACK, Opts::Linux, 1460),
        syn(he, hf, &[], true, SYN | ACK, Opts::Linux, 1300),
    );
    send(
        &e,
        &[&f],
        syn(hf, he, &[], false, SYN, Opts::Plain, 1200),
        syn(hf, he, &[], false, SYN, Opts::Plain, 1200),
    );
    // off.
    for v6 in [false, true] {
        let x = syn(hh, hg, &[], v6, SYN, Opts::Plain, 1460);
        send(&g, &[&h], x.clone(), x);
    }
    let r = run(&setup, &frames);

    assert_drops(&r.counters, &[]);
    assert_only_garp(&r);
    let mut ndata = 0;
    for s in &all {
        let want: Vec<Vec<u8>> = to
            .iter()
            .filter(|(n, _)| *n == s.name)
            .map(|x| x.1.clone())
            .collect();
        ndata += want.len();
        let got = assert_egress(&r.out, s, &want, 0);
        for (gf, w) in got.iter().zip(&want) {
            let i = inner_of(s, gf);
            if w[12..14] != ARP.to_be_bytes() {
                // Independent full checksum over what las sent.
                assert_eq!(verify_tcp(i), verify_tcp(w));
            }
        }
    }
    assert_eq!(r.data().len(), ndata);
    assert_eq!(auto_clamped, 10);
    for (sw, n) in [("auto", 10), ("mix", 2), ("fixed", 2), ("off", 0)] {
        assert_eq!(switch(&r, sw).mss_clamped, n, "mss_clamped in {sw}");
        assert_eq!(switch(&r, sw).fragmented, 0, "fragmented in {sw}");
    }
    // Everything but the learning broadcasts went unicast.
    assert_eq!(switch_counts(switch(&r, "auto")), (16, 14, 2, 0, 0, 0));
    assert_eq!(switch_counts(switch(&r, "mix")), (4, 2, 2, 0, 0, 0));
    assert_eq!(switch_counts(switch(&r, "fixed")), (5, 3, 2, 0, 0, 0));
    assert_eq!(switch_counts(switch(&r, "off")), (4, 2, 2, 0, 0, 0));
}
