//! End-to-end tests of the per-switch L2 policy and the MTU handling: the
//! real `las` binary on a `net_pcap` port (see `pcap_e2e.rs` for how a run
//! works). Frames, TCP/IP checksums, fragment checks and reassembly are
//! written here independently of `las::wire`.
//!
//! Needs root (DPDK with `--no-huge`): the tests are #[ignore]d, so a
//! plain `cargo test` lists them as ignored; `cargo test --
//! --include-ignored` (scripts/test.sh) runs them, and without root they
//! fail.

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

/// What las sent besides IPv4 packets of its own (data and outer
/// fragments): exactly its gratuitous ARP.
fn assert_only_garp(r: &Outcome) {
    let other: Vec<String> = r
        .out
        .iter()
        .filter(|f| !(f.len() >= 34 && f[12..14] == [8, 0] && f[26..30] == LAS_IP.octets()))
        .map(|f| hexdump(f))
        .collect();
    assert_eq!(
        other,
        vec![hexdump(&arp_request_from_las(LAS_IP))],
        "frames other than data and the gratuitous ARP"
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
#[ignore = "needs root (DPDK, veth, netns): run with cargo test -- --include-ignored"]
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
    // The TCP segments are real (checksums and all): tshark decodes them
    // inside the pseudowire too and checks las's incremental checksum
    // update (the ARP frames for learning are tag-and-pattern payloads).
    setup.tshark_inner = Some("tcp".into());
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
    // auto: (from A to hb, else from B to ha; tags, v6, flags, layout,
    // MSS in, MSS out)
    type Case = (bool, Vec<(u16, u16)>, bool, u8, Opts, u16, u16);
    let q100 = (CTAG, 100u16);
    let s10 = (STAG, 10u16);
    let auto_cases: Vec<Case> = vec![
        (true, vec![], false, SYN, Opts::Plain, 1460, AUTO_V4),
        (false, vec![], false, SYN | ACK, Opts::Linux, 1460, AUTO_V4),
        (true, vec![], true, SYN, Opts::Plain, 1440, AUTO_V6),
        (true, vec![], false, SYN, Opts::Plain, 1200, 1200),
        (true, vec![], false, ACK, Opts::Plain, 1460, 1460),
        (true, vec![], false, SYN | RST, Opts::Plain, 1460, 1460),
        (
            true,
            vec![],
            false,
            SYN,
            Opts::AfterTimestamps,
            1460,
            AUTO_V4,
        ),
        (true, vec![], false, SYN, Opts::OddOffset, 1460, AUTO_V4),
        (true, vec![q100], false, SYN, Opts::Linux, 1460, AUTO_V4 - 4),
        (
            true,
            vec![s10, q100],
            false,
            SYN,
            Opts::Plain,
            1460,
            AUTO_V4 - 8,
        ),
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

// ------------------------------------------------------------ 2. MTU

/// Every IPv4 frame las sent to `peer` (data, fragments included), in order.
fn ip_to(out: &[Vec<u8>], peer: Ipv4Addr) -> Vec<Vec<u8>> {
    out.iter()
        .filter(|f| {
            f.len() >= 34
                && f[12..14] == [0x08, 0x00]
                && f[26..30] == LAS_IP.octets()
                && f[30..34] == peer.octets()
        })
        .cloned()
        .collect()
}

fn flags_offset(f: &[u8]) -> u16 {
    u16::from_be_bytes([f[20], f[21]])
}

/// Groups the frames las sent to one peer into packets, checking every
/// fragment on the way: a valid header checksum, DF clear, total length =
/// frame length and <= `mtu`, MF on all but the last, contiguous offsets,
/// payloads of all but the last a multiple of 8, and ident, addresses,
/// protocol, TTL and Ethernet header equal across the fragments. Each
/// packet is returned as the frame it would have been unfragmented (flags
/// and offset 0, fresh checksum), with the number of fragments.
fn reassemble_all(frames: &[Vec<u8>], mtu: usize) -> Vec<(Vec<u8>, usize)> {
    let mut out = Vec::new();
    let mut cur: Vec<&Vec<u8>> = Vec::new();
    for f in frames {
        assert_eq!(f[14], 0x45, "outer IHL{}", hexdump(f));
        assert_eq!(csum(&f[14..34]), 0, "outer IPv4 checksum{}", hexdump(f));
        let total = usize::from(u16::from_be_bytes([f[16], f[17]]));
        assert_eq!(total, f.len() - 14, "outer total length");
        assert!(total <= mtu, "outer packet of {total} bytes > MTU {mtu}");
        let fo = flags_offset(f);
        assert_eq!(fo & 0x4000, 0, "DF set on a packet las may fragment");
        let more = fo & 0x2000 != 0;
        let off = usize::from(fo & 0x1fff) * 8;
        let expected_off: usize = cur.iter().map(|g| g.len() - 34).sum();
        assert_eq!(off, expected_off, "fragment offset");
        if let Some(first) = cur.first() {
            assert_eq!(f[..14], first[..14], "Ethernet header of a fragment");
            assert_eq!(f[18..20], first[18..20], "ident differs between fragments");
            assert_eq!(f[22..24], first[22..24], "TTL/protocol differ");
            assert_eq!(f[26..34], first[26..34], "addresses differ");
        }
        if more {
            assert_eq!((f.len() - 34) % 8, 0, "non-last fragment payload");
        }
        cur.push(f);
        if !more {
            let n = cur.len();
            let mut whole = cur[0][..34].to_vec();
            for g in &cur {
                whole.extend_from_slice(&g[34..]);
            }
            let tl = (whole.len() - 14) as u16;
            whole[16..18].copy_from_slice(&tl.to_be_bytes());
            whole[20..22].copy_from_slice(&[0, 0]);
            whole[24..26].copy_from_slice(&[0, 0]);
            let c = csum(&whole[14..34]);
            whole[24..26].copy_from_slice(&c.to_be_bytes());
            out.push((whole, n));
            cur.clear();
        }
    }
    assert!(cur.is_empty(), "last fragment missing");
    out
}

/// Asserts that las sent exactly `want` to `s` — `(inner, fragments)`:
/// the inner frame and into how many outer fragments it was split (1: not
/// fragmented) — byte for byte once reassembled, with sublayer sequence
/// numbers from 0 when `s.l2spec`. `df`: the DF bit las must set on
/// unfragmented packets.
fn assert_egress_frag(out: &[Vec<u8>], s: &Sess, want: &[(Vec<u8>, usize)], mtu: usize, df: bool) {
    let mut frames = ip_to(out, s.peer_ip);
    if df {
        // Undo DF (checked here) for the fragment checks.
        for f in &mut frames {
            assert_eq!(flags_offset(f), 0x4000, "DF expected{}", hexdump(f));
            f[20] = 0;
            f[24..26].copy_from_slice(&[0, 0]);
            let c = csum(&f[14..34]);
            f[24..26].copy_from_slice(&c.to_be_bytes());
        }
    }
    let got = reassemble_all(&frames, mtu);
    assert_eq!(
        got.iter().map(|g| g.1).collect::<Vec<_>>(),
        want.iter().map(|w| w.1).collect::<Vec<_>>(),
        "session {}: packets (fragments each) sent",
        s.name
    );
    for (i, ((g, _), (inn, _))) in got.iter().zip(want).enumerate() {
        let seq = if s.l2spec { i as u32 } else { 0 };
        let w = s.egress(inn, ident(g), seq);
        assert_eq!(
            hexdump(g),
            hexdump(&w),
            "session {}: packet {i} differs",
            s.name
        );
    }
}

fn fix_ip_csum(f: &mut [u8]) {
    f[24] = 0;
    f[25] = 0;
    let c = csum(&f[14..34]);
    f[24..26].copy_from_slice(&c.to_be_bytes());
}

/// Splits an outer IPv4 packet (an Ethernet frame, IHL 5) into fragments
/// with `chunk`-byte payloads (a multiple of 8).
fn fragment(frame: &[u8], chunk: usize) -> Vec<Vec<u8>> {
    let payload = &frame[34..];
    let mut out = Vec::new();
    for (i, part) in payload.chunks(chunk).enumerate() {
        let off = i * chunk;
        let more = off + part.len() < payload.len();
        let mut f = frame[..34].to_vec();
        f.extend_from_slice(part);
        f[16..18].copy_from_slice(&((20 + part.len()) as u16).to_be_bytes());
        let fl = ((off / 8) as u16) | if more { 0x2000 } else { 0 };
        f[20..22].copy_from_slice(&fl.to_be_bytes());
        fix_ip_csum(&mut f);
        out.push(f);
    }
    out
}

/// A (IP, no cookie), B (UDP, 8-byte cookie out, sublayer: 48 bytes of
/// outer IP payload overhead), C (IP, no cookie), all in switch "s1".
fn mtu_sessions() -> (Sess, Sess, Sess) {
    (
        Sess::new("siteA", "s1", 10),
        Sess::new("siteB", "s1", 11)
            .udp()
            .cookies(&[1, 2, 3, 4], &[9, 8, 7, 6, 5, 4, 3, 2])
            .l2spec(),
        Sess::new("siteC", "s1", 12),
    )
}

fn mtu_drop(name: &str, df: bool) {
    let (a, b, c) = mtu_sessions();
    let mut setup = Setup::new(name, &["s1"], &[a.clone(), b.clone(), c.clone()]);
    if df {
        setup.port_extra = "dont_fragment = true\n".into();
    }
    let (ha, hb) = (host(1), host(2));
    let arp_a = inner(BCAST, ha, ARP, 1, 60);
    let arp_b = inner(BCAST, hb, ARP, 2, 60);
    let fits_b = inner(hb, ha, IPV4, 4, 1452);
    let fits_c = inner(BCAST, ha, IPV4, 5, 1476);
    let frames = vec![
        a.ingress(&arp_a, None),
        b.ingress(&arp_b, Some(0)),
        a.ingress(&inner(hb, ha, IPV4, 3, 1453), None), // too big for B
        a.ingress(&fits_b, None),                       // exactly fits B
        a.ingress(&fits_c, None),                       // fits C, not B
        a.ingress(&inner(BCAST, ha, IPV4, 6, 1477), None), // fits neither
    ];
    let r = run(&setup, &frames);
    assert_drops(&r.counters, &[("mtu_exceeded", 4)]);
    assert_egress_frag(&r.out, &a, &[(arp_b.clone(), 1)], 1500, df);
    assert_egress_frag(&r.out, &b, &[(arp_a.clone(), 1), (fits_b, 1)], 1500, df);
    assert_egress_frag(&r.out, &c, &[(arp_a, 1), (arp_b, 1), (fits_c, 1)], 1500, df);
    let to_b = ip_to(&r.out, b.peer_ip);
    assert_eq!(to_b[1].len(), 14 + 1500);
    assert_eq!(r.data().len(), 6);
    assert_only_garp(&r);
    let sw = switch(&r, "s1");
    // Flood copies are made before the egress MTU check.
    assert_eq!(switch_counts(sw), (6, 2, 4, 4, 0, 0));
    assert_eq!(sw.fragmented, 0);
    assert_eq!(session(&r, "siteB").tx_packets, 2);
}

/// mtu_policy "drop" (the default): too big for the egress path is
/// dropped and counted as mtu_exceeded, per egress member.
#[test]
#[ignore = "needs root (DPDK, veth, netns): run with cargo test -- --include-ignored"]
fn mtu_exceeded_dropped() {
    let _g = lock();
    if !have_root() {
        return;
    }
    mtu_drop("mtudrop", false);
}

/// The same with dont_fragment = true on the port: every packet leaves
/// with DF set, nothing else changes.
#[test]
#[ignore = "needs root (DPDK, veth, netns): run with cargo test -- --include-ignored"]
fn mtu_exceeded_dropped_dont_fragment() {
    let _g = lock();
    if !have_root() {
        return;
    }
    mtu_drop("mtudropdf", true);
}

fn mtu_fragment(name: &str, mtu: usize) {
    let (a, b, c) = mtu_sessions();
    let mut setup = Setup::new(name, &[], &[a.clone(), b.clone(), c.clone()]);
    setup.switches = switch_toml("s1", "mtu_policy = \"fragment\"");
    setup.port_extra = format!("mtu = {mtu}\n");
    let (ha, hb) = (host(1), host(2));
    let arp_a = inner(BCAST, ha, ARP, 1, 60);
    let arp_b = inner(BCAST, hb, ARP, 2, 60);
    // The biggest A can send: too big for B by 24 bytes.
    let max_a = inner(hb, ha, IPV4, 3, mtu - 24);
    // The biggest B takes unfragmented.
    let max_b = inner(hb, ha, IPV4, 4, mtu - 48);
    // 3000 bytes, arriving from A in outer fragments: too big for B and C.
    let big = inner(BCAST, ha, IPV4, 5, 3000);
    let back = inner(ha, hb, IPV4, 6, 1000);
    let chunk = (mtu - 20) / 8 * 8;
    let mut frames = vec![
        a.ingress(&arp_a, None),
        b.ingress(&arp_b, Some(0)),
        a.ingress(&max_a, None),
        a.ingress(&max_b, None),
    ];
    let big_in = fragment(&a.ingress(&big, None), chunk);
    assert_eq!(big_in.len(), 3024usize.div_ceil(chunk));
    frames.extend(big_in);
    frames.push(b.ingress(&back, Some(1)));
    let r = run(&setup, &frames);
    assert_drops(&r.counters, &[]);
    assert_eq!(r.control("reassembled"), 1);
    // Outer IP payload: B 28 + inner, A/C 4 + inner; fragments carry
    // floor((mtu - 20) / 8) * 8 bytes.
    let n = |payload: usize| payload.div_ceil(chunk);
    assert_egress_frag(
        &r.out,
        &b,
        &[
            (arp_a.clone(), 1),
            (max_a, n(28 + mtu - 24)),
            (max_b, 1),
            (big.clone(), n(28 + 3000)),
        ],
        mtu,
        false,
    );
    assert_egress_frag(
        &r.out,
        &c,
        &[(arp_a, 1), (arp_b.clone(), 1), (big, n(4 + 3000))],
        mtu,
        false,
    );
    assert_egress_frag(&r.out, &a, &[(arp_b, 1), (back, 1)], mtu, false);
    assert_eq!(n(28 + mtu - 24), 2);
    let total = 1 + 2 + 1 + n(28 + 3000) + 1 + 1 + n(4 + 3000) + 2;
    assert_eq!(
        r.out.len(),
        total + 1,
        "frames sent (with the gratuitous ARP)"
    );
    assert_only_garp(&r);
    let sw = switch(&r, "s1");
    assert_eq!(sw.fragmented, 3);
    assert_eq!(switch_counts(sw), (6, 3, 3, 3, 0, 0));
    assert_eq!(sw.mss_clamped, 0);
}

/// mtu_policy = "fragment": too-big frames leave in outer IPv4 fragments
/// that reassemble to exactly the packet las would have sent whole.
#[test]
#[ignore = "needs root (DPDK, veth, netns): run with cargo test -- --include-ignored"]
fn mtu_fragmented_1500() {
    let _g = lock();
    if !have_root() {
        return;
    }
    mtu_fragment("frag1500", 1500);
}

/// The same at MTU 1400, where MTU − 20 (1380) is not a multiple of 8:
/// non-last fragments must still carry a multiple of 8 bytes.
#[test]
#[ignore = "needs root (DPDK, veth, netns): run with cargo test -- --include-ignored"]
fn mtu_fragmented_1400() {
    let _g = lock();
    if !have_root() {
        return;
    }
    mtu_fragment("frag1400", 1400);
}

/// Static sessions: mtu_policy = "fragment" through a port with
/// dont_fragment = true is a configuration error naming the key.
#[test]
fn fragment_with_dont_fragment_refused() {
    let _g = lock();
    let (a, b, _) = mtu_sessions();
    let mut setup = Setup::new("fragdf", &[], &[a, b]);
    setup.switches = switch_toml("s1", "mtu_policy = \"fragment\"");
    setup.port_extra = "dont_fragment = true\n".into();
    let cfg = setup.config(Path::new("@DIR@"), "@PREFIX@");
    let (st, err, out) = run_bad_config("fragdf", &cfg);
    assert!(!st.success(), "las accepted fragment + DF: {err}");
    assert!(err.contains("switch[0].mtu_policy"), "stderr: {err}");
    assert!(err.contains("dont_fragment"), "stderr: {err}");
    assert!(!out, "las touched the port");
    assert!(!err.contains("EAL"), "las initialised DPDK: {err}");
    // The same without DF is accepted.
    setup.port_extra = String::new();
    let dir = std::env::temp_dir().join(format!("las-pol-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("las.toml");
    std::fs::write(&p, setup.config(Path::new("/tmp"), "x")).unwrap();
    let o = las_check(&p);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

// ------------------------------------------------------------ 3. jumbo

fn jumbo(name: &str, mbuf_size: Option<u32>) {
    let a = Sess::new("siteA", "s1", 10);
    let b = Sess::new("siteB", "s1", 11)
        .udp()
        .cookies(&[1, 2, 3, 4], &[5, 6, 7, 8, 9, 10, 11, 12]);
    let c = Sess::new("siteC", "s1", 12);
    let mut setup = Setup::new(name, &["s1"], &[a.clone(), b.clone(), c.clone()]);
    setup.port_extra = "mtu = 9000\n".into();
    if let Some(n) = mbuf_size {
        setup.dataplane.push_str(&format!("mbuf_size = {n}\n"));
    }
    let (ha, hb, hc) = (host(1), host(2), host(3));
    let bc = inner(BCAST, ha, IPV4, 1, 8000);
    let uc = inner(ha, hb, IPV4, 2, 8000);
    // IP without cookie: 9000 − 20 − 4 = 8976 is the largest that fits.
    let max = inner(ha, hc, IPV4, 3, 8976);
    let over = inner(ha, hc, IPV4, 4, 8977);
    // Auto MSS at MTU 9000: min(9000 − 24, 9000 − 44) − 54.
    let syn_in = tcp_frame(hb, ha, &[], false, SYN, Opts::Linux, 8960);
    let syn_out = tcp_frame(hb, ha, &[], false, SYN, Opts::Linux, 8956 - 54);
    let frames = vec![
        a.ingress(&bc, None),
        b.ingress(&uc, None),
        c.ingress(&max, None),
        c.ingress(&over, None),
        a.ingress(&syn_in, None),
    ];
    let r = run(&setup, &frames);
    assert_drops(&r.counters, &[("mtu_exceeded", 1)]);
    assert_egress(&r.out, &b, &[bc.clone(), syn_out], 0);
    assert_egress(&r.out, &c, std::slice::from_ref(&bc), 0);
    let to_a = assert_egress(&r.out, &a, &[uc, max], 0);
    assert_eq!(to_a[1].len(), 14 + 9000);
    assert_eq!(r.data().len(), 5);
    assert_only_garp(&r);
    let sw = switch(&r, "s1");
    assert_eq!(switch_counts(sw), (5, 4, 1, 1, 0, 0));
    assert_eq!(sw.mss_clamped, 1);
    assert_eq!(r.ports[0].rx_errors, 0);
    assert_eq!(r.ports[0].tx_errors, 0);
}

/// Port MTU 9000 with mbufs big enough for a whole jumbo frame.
#[test]
#[ignore = "needs root (DPDK, veth, netns): run with cargo test -- --include-ignored"]
fn jumbo_big_mbufs() {
    let _g = lock();
    if !have_root() {
        return;
    }
    jumbo("jumbobig", Some(10240));
}

/// Port MTU 9000 with the default 2 KiB mbufs: jumbo frames arrive as
/// mbuf chains (RX scatter) and leave intact.
#[test]
#[ignore = "needs root (DPDK, veth, netns): run with cargo test -- --include-ignored"]
fn jumbo_chained_mbufs() {
    let _g = lock();
    if !have_root() {
        return;
    }
    jumbo("jumbochain", None);
}

// ------------------------------------------------------------ 4. VLAN modes

#[test]
#[ignore = "needs root (DPDK, veth, netns): run with cargo test -- --include-ignored"]
fn vlan_modes() {
    let _g = lock();
    if !have_root() {
        return;
    }
    let a = Sess::new("siteA", "dt", 10);
    let b = Sess::new("siteB", "dt", 11);
    let c = Sess::new("siteC", "tr", 12);
    let d = Sess::new("siteD", "tr", 13);
    let mut setup = Setup::new("vlan", &[], &[a.clone(), b.clone(), c.clone(), d.clone()]);
    setup.switches = [
        switch_toml("dt", ""),
        switch_toml("tr", "vlan_mode = \"transparent\""),
    ]
    .concat();
    let (ha, hc, hd) = (host(1), host(3), host(4));
    let stp = [0x01, 0x80, 0xc2, 0, 0, 0];
    let lldp = [0x01, 0x80, 0xc2, 0, 0, 0x0e];
    let bpdu = |src: [u8; 6], tags: &[(u16, u16)]| {
        let mut p = vec![0x42, 0x42, 0x03, 0, 0, 0, 0];
        p.resize(39, 0);
        let mut f = eth_tagged(stp, src, tags, p.len() as u16, &p);
        f.resize(60 + 4 * tags.len(), 0);
        f
    };
    let q100 = (CTAG, 100);
    let qinq = [(STAG, 10), (CTAG, 100)];
    let untagged = inner(BCAST, ha, IPV4, 6, 64);
    // Transparent: what passes.
    let t_arp = tagged_inner(BCAST, hc, &[q100], ARP, 7, 64);
    let t_qinq = tagged_inner(hd, hc, &qinq, IPV4, 8, 100);
    let t_back = tagged_inner(hc, hd, &[(CTAG, 200)], IPV4, 9, 80);
    let t_untagged = inner(hc, hd, IPV4, 10, 70);
    let t_prio = tagged_inner(hd, hc, &[(CTAG, 0xa000)], IPV4, 13, 66);
    let t_v6 = tagged_inner(hd, hc, &[q100], IPV6, 14, 90);
    let frames = vec![
        // drop-tagged
        a.ingress(&tagged_inner(BCAST, ha, &[q100], IPV4, 1, 64), None),
        a.ingress(&tagged_inner(BCAST, ha, &qinq, IPV4, 2, 64), None),
        a.ingress(
            &tagged_inner(BCAST, ha, &[(CTAG, 0xa000)], IPV4, 3, 64),
            None,
        ),
        a.ingress(
            &tagged_inner(BCAST, ha, &[(OLD_STAG, 7)], IPV4, 4, 64),
            None,
        ),
        a.ingress(&bpdu(ha, &[]), None),
        a.ingress(&untagged, None),
        // transparent
        c.ingress(&t_arp, None),
        c.ingress(&t_qinq, None), // hd unknown yet: flooded
        d.ingress(&t_back, None), // hc learned in VLAN 100, found from VLAN 200
        d.ingress(&t_untagged, None),
        c.ingress(&tagged_inner(hd, hc, &[q100], 0x88cc, 11, 64), None),
        c.ingress(&tagged_inner(lldp, hc, &[q100], 0x88cc, 12, 64), None),
        c.ingress(&bpdu(hc, &[q100]), None),
        c.ingress(&t_prio, None),
        c.ingress(&t_v6, None),
    ];
    let r = run(&setup, &frames);
    assert_drops(
        &r.counters,
        &[
            ("vlan_tagged", 4),
            ("filtered_bpdu", 3),
            ("filtered_ethertype", 1),
        ],
    );
    assert_egress(&r.out, &b, &[untagged], 0);
    assert_egress(&r.out, &a, &[], 0);
    assert_egress(&r.out, &d, &[t_arp, t_qinq, t_prio, t_v6], 0);
    assert_egress(&r.out, &c, &[t_back, t_untagged], 0);
    assert_eq!(r.data().len(), 7);
    assert_only_garp(&r);
    // rx, unicast, flooded, flood_copies, filtered, learn_failed
    assert_eq!(switch_counts(switch(&r, "dt")), (1, 0, 1, 0, 5, 0));
    assert_eq!(switch_counts(switch(&r, "tr")), (6, 4, 2, 0, 3, 0));
    // One entry per MAC, whatever the VLAN; dropped frames teach nothing.
    assert_eq!(
        macs(&r),
        vec![
            ("dt".into(), fmt_mac(ha), "siteA".into()),
            ("tr".into(), fmt_mac(hc), "siteC".into()),
            ("tr".into(), fmt_mac(hd), "siteD".into()),
        ]
    );
}

// ------------------------------------------------------------ 5. storm control

#[test]
#[ignore = "needs root (DPDK, veth, netns): run with cargo test -- --include-ignored"]
fn storm_control() {
    let _g = lock();
    if !have_root() {
        return;
    }
    let a = Sess::new("siteA", "st", 10);
    let b = Sess::new("siteB", "st", 11);
    let c = Sess::new("siteC", "st", 12);
    let mut setup = Setup::new("storm", &[], &[a.clone(), b.clone(), c.clone()]);
    setup.switches = switch_toml(
        "st",
        "storm_broadcast = 10\nstorm_multicast = 5\nstorm_unknown_unicast = 7",
    );
    // One RX burst of 64 holds every frame of one class from one member,
    // so they are all policed at the same instant: the count that passes
    // is exactly the bucket depth, however slow the machine.
    setup.dataplane.push_str("burst = 64\n");
    let (ha, hb, hc) = (host(1), host(2), host(3));
    let mcast = [0x01, 0x00, 0x5e, 0x00, 0x00, 0x01];
    let unknown = host(99);
    let mut frames = Vec::new();
    let (mut to_a, mut to_b, mut to_c) = (Vec::new(), Vec::new(), Vec::new());
    // RX burst 1: A floods 50 broadcasts (10 pass), B 5 (all pass), then
    // A sends 9 known unicasts (never policed).
    for i in 0..50 {
        let f = inner(BCAST, ha, ARP, i, 60);
        frames.push(a.ingress(&f, None));
        if i < 10 {
            to_b.push(f.clone());
            to_c.push(f);
        }
    }
    for i in 0..5 {
        let f = inner(BCAST, hb, ARP, 100 + i, 60);
        frames.push(b.ingress(&f, None));
        to_a.push(f.clone());
        to_c.push(f);
    }
    for i in 0..9 {
        let f = inner(hb, ha, IPV4, 200 + i, 60);
        frames.push(a.ingress(&f, None));
        to_b.push(f);
    }
    assert_eq!(frames.len(), 64);
    // RX burst 2: A's multicast (5 pass) and unknown unicast (7 pass),
    // C's unknown unicast (its own bucket), A's known unicast.
    for i in 0..20 {
        let f = inner(mcast, ha, IPV4, 300 + i, 60);
        frames.push(a.ingress(&f, None));
        if i < 5 {
            to_b.push(f.clone());
            to_c.push(f);
        }
    }
    for i in 0..20 {
        let f = inner(unknown, ha, IPV4, 400 + i, 60);
        frames.push(a.ingress(&f, None));
        if i < 7 {
            to_b.push(f.clone());
            to_c.push(f);
        }
    }
    for i in 0..3 {
        let f = inner(unknown, hc, IPV4, 500 + i, 60);
        frames.push(c.ingress(&f, None));
        to_a.push(f.clone());
        to_b.push(f);
    }
    for i in 0..10 {
        let f = inner(hb, ha, IPV4, 600 + i, 60);
        frames.push(a.ingress(&f, None));
        to_b.push(f);
    }
    assert!(frames.len() <= 128);
    let r = run(&setup, &frames);
    assert_drops(
        &r.counters,
        &[
            ("storm_broadcast", 40),
            ("storm_multicast", 15),
            ("storm_unknown_unicast", 13),
        ],
    );
    assert_egress(&r.out, &a, &to_a, 0);
    assert_egress(&r.out, &b, &to_b, 0);
    assert_egress(&r.out, &c, &to_c, 0);
    assert_only_garp(&r);
    // rx counts every frame that reached the switch, policed or not.
    let sw = switch(&r, "st");
    assert_eq!(switch_counts(sw), (117, 19, 30, 30, 0, 0));
}

// ------------------------------------------------------------ 6. MAC limits

#[test]
#[ignore = "needs root (DPDK, veth, netns): run with cargo test -- --include-ignored"]
fn mac_limits() {
    let _g = lock();
    if !have_root() {
        return;
    }
    let a = Sess::new("siteA", "pm", 10);
    let b = Sess::new("siteB", "pm", 11);
    let c = Sess::new("siteC", "pm", 12);
    let d = Sess::new("siteD", "sl", 13);
    let e = Sess::new("siteE", "sl", 14);
    let f = Sess::new("siteF", "sl", 15);
    let all = [&a, &b, &c, &d, &e, &f].map(|s| s.clone());
    let mut setup = Setup::new("maclimit", &[], &all);
    setup.switches = [
        switch_toml("pm", "mac_limit_per_member = 2"),
        switch_toml("sl", "mac_limit = 3"),
    ]
    .concat();
    let bc = |h: u16, t| inner(BCAST, host(h), ARP, t, 60);
    let to3 = inner(host(3), host(4), IPV4, 4, 70);
    let to1 = inner(host(1), host(4), IPV4, 5, 70);
    let to14 = inner(host(14), host(15), IPV4, 12, 70);
    let frames = vec![
        a.ingress(&bc(1, 1), None),
        a.ingress(&bc(2, 2), None),
        a.ingress(&bc(3, 3), None), // A's third MAC: not learned
        b.ingress(&to3, None),      // so flooded
        b.ingress(&to1, None),
        b.ingress(&bc(4, 6), None), // B has its own budget
        d.ingress(&bc(11, 7), None),
        d.ingress(&bc(12, 8), None),
        e.ingress(&bc(13, 9), None),
        e.ingress(&bc(14, 10), None), // the switch's fourth MAC
        f.ingress(&bc(15, 11), None), // fifth
        f.ingress(&to14, None),       // flooded
    ];
    let r = run(&setup, &frames);
    assert_drops(&r.counters, &[]);
    assert_egress(&r.out, &a, &[to3.clone(), to1, bc(4, 6)], 0);
    assert_egress(&r.out, &b, &[bc(1, 1), bc(2, 2), bc(3, 3)], 0);
    assert_egress(
        &r.out,
        &c,
        &[bc(1, 1), bc(2, 2), bc(3, 3), to3, bc(4, 6)],
        0,
    );
    assert_egress(
        &r.out,
        &d,
        &[bc(13, 9), bc(14, 10), bc(15, 11), to14.clone()],
        0,
    );
    assert_egress(
        &r.out,
        &e,
        &[bc(11, 7), bc(12, 8), bc(15, 11), to14.clone()],
        0,
    );
    assert_egress(
        &r.out,
        &f,
        &[bc(11, 7), bc(12, 8), bc(13, 9), bc(14, 10)],
        0,
    );
    assert_only_garp(&r);
    // rx, unicast, flooded, flood_copies, filtered, learn_failed
    assert_eq!(switch_counts(switch(&r, "pm")), (6, 1, 5, 5, 0, 1));
    // host(15) fails twice: its broadcast and its unicast to host(14).
    assert_eq!(switch_counts(switch(&r, "sl")), (6, 0, 6, 6, 0, 3));
    assert_eq!(switch(&r, "pm").macs, 3);
    assert_eq!(switch(&r, "sl").macs, 3);
    assert_eq!(switch(&r, "sl").mac_limit, 3);
    let m = |sw: &str, h: u16, s: &str| (sw.to_string(), fmt_mac(host(h)), s.to_string());
    assert_eq!(
        macs(&r),
        vec![
            m("pm", 1, "siteA"),
            m("pm", 2, "siteA"),
            m("pm", 4, "siteB"),
            m("sl", 11, "siteD"),
            m("sl", 12, "siteD"),
            m("sl", 13, "siteE"),
        ]
    );
    assert_eq!(r.control("macs_learned"), 6);
}

/// A burst of new source MACs while the event ring to the control core
/// is full (a MAC flood): the MACs whose learn events are lost must not
/// stay in the worker's table for good. Only the control core aged MACs,
/// and it never heard of these; before the fix they stayed until their
/// member or switch was flushed, so a flood filled the table for good.
/// Now the worker ages what it learned itself, after the switch's aging
/// plus slack (`MacTable::expire_local`).
///
/// `event_ring = 2` and `--cores 0` (the worker runs between control
/// iterations, which drain the ring): of each 32-frame burst of distinct
/// sources at most two events fit, the rest are lost.
#[test]
#[ignore = "needs root (DPDK, veth, netns): run with cargo test -- --include-ignored"]
fn lost_learn_events_age_out() {
    let _g = lock();
    if !have_root() {
        return;
    }
    let a = Sess::new("siteA", "s1", 10);
    let b = Sess::new("siteB", "s1", 11);
    let mut setup = Setup::new("lostlearn", &[], &[a.clone(), b.clone()]);
    setup.dataplane.push_str("event_ring = 2\n");
    setup.switches = switch_toml("s1", "aging = 1");
    // The worker ages its own MACs after aging + mac_refresh + 2 = 4 s
    // (whole seconds: gone 5 to 6 s after the last frame; a pass over a
    // table this small takes half a second).
    setup.settle_ms = 8000;
    const K: u16 = 320;
    let frames: Vec<Vec<u8>> = (0..K)
        .map(|i| a.ingress(&inner(BCAST, host(1000 + i), ARP, u32::from(i), 60), None))
        .collect();
    let r = run(&setup, &frames);
    assert_drops(&r.counters, &[]);
    // Every frame went out (flooded to B).
    assert_eq!(to_peer(&r.out, b.peer_ip).len(), usize::from(K));
    let lost: u64 = r.counters.workers.iter().map(|w| w.events_lost).sum();
    let learned = r.control("macs_learned");
    assert!(lost > 0 && learned > 0, "lost {lost}, learned {learned}");
    // Each source was new once: its event reached the control core or
    // was lost.
    assert_eq!(learned + lost, u64::from(K));
    assert_eq!(switch(&r, "s1").learn_failed, 0);
    // The control core aged what it knew, the worker the rest.
    assert_eq!(r.control("macs_aged"), learned);
    assert_eq!(r.control("macs_aged_local"), lost);
    // The worker told the control core of each; none was active elsewhere.
    assert_eq!(r.control("macs_reinstalled"), 0);
    assert_eq!(switch(&r, "s1").macs, 0);
    let entries: u64 = r.counters.workers.iter().map(|w| w.mac_entries).sum();
    assert_eq!(entries, 0, "MACs left in the worker's table");
}

// ------------------------------------------------------------ 7. static MACs

#[test]
#[ignore = "needs root (DPDK, veth, netns): run with cargo test -- --include-ignored"]
fn static_macs() {
    let _g = lock();
    if !have_root() {
        return;
    }
    let a = Sess::new("siteA", "s1", 10);
    let b = Sess::new("siteB", "s1", 11);
    let c = Sess::new("siteC", "s1", 12);
    let hs = host(50);
    let mut setup = Setup::new("static", &[], &[a.clone(), b.clone(), c.clone()]);
    setup.switches = switch_toml(
        "s1",
        &format!(
            "aging = 1\nstatic_macs = [{{ mac = \"{}\", session = \"siteB\" }}]",
            fmt_mac(hs)
        ),
    );
    // Long enough for the 1 s aging to remove a dynamic MAC.
    setup.settle_ms = 3500;
    let first = inner(hs, host(1), IPV4, 1, 64);
    let spoof = inner(BCAST, hs, ARP, 2, 60);
    let from_c = inner(hs, host(3), IPV4, 3, 64);
    let dynamic = inner(BCAST, host(4), ARP, 4, 60);
    let frames = vec![
        a.ingress(&first, None),  // unicast to B from the first frame
        a.ingress(&spoof, None),  // source = the static MAC, from A: dropped
        c.ingress(&from_c, None), // still to B
        a.ingress(&dynamic, None),
    ];
    let r = run(&setup, &frames);
    // A frame whose source is pinned to another member never passes (nor
    // moves the entry): a spoof, or a host moved against the config.
    assert_drops(&r.counters, &[("static_mac_conflict", 1)]);
    assert_egress(&r.out, &b, &[first, from_c, dynamic.clone()], 0);
    assert_egress(&r.out, &c, &[dynamic], 0);
    assert_egress(&r.out, &a, &[], 0);
    assert_only_garp(&r);
    // rx counts the spoof (it passed the switch's filters), nothing else does.
    assert_eq!(switch_counts(switch(&r, "s1")), (4, 2, 1, 1, 0, 0));
    // The static entry stayed on siteB and outlived the aging that removed
    // the dynamic MACs (host 1, 3, 4).
    assert_eq!(macs(&r), vec![("s1".into(), fmt_mac(hs), "siteB".into())]);
    assert!(r.macs[0].is_static);
    assert_eq!(r.control("macs_moved"), 0);
    assert_eq!(r.control("macs_learned"), 3);
    assert_eq!(r.control("macs_aged"), 3);
}

// ------------------------------------------------------------ 8. flap detection

/// A MAC bouncing between siteA and siteB: flap_threshold = 3 moves in
/// flap_window = 10 s; the fourth move flags it and blocks the member it
/// moved to for flap_block = 30 s.
///
/// Determinism: with `--cores 0` the worker runs interleaved with the
/// control core (control iteration, then one RX burst), and `burst = 1`
/// makes each RX burst one frame. So the learn event of frame k is handled
/// (and a BlockMember command queued) before frame k+1 is received, and
/// the frames after the flapping one are policed as in real time. With
/// bigger bursts or a separate worker lcore, frames right after the flap
/// may still pass; this test does not cover that.
#[test]
#[ignore = "needs root (DPDK, veth, netns): run with cargo test -- --include-ignored"]
fn flap_detection_blocks_member() {
    let _g = lock();
    if !have_root() {
        return;
    }
    let a = Sess::new("siteA", "s1", 10);
    let b = Sess::new("siteB", "s1", 11);
    let c = Sess::new("siteC", "s1", 12);
    let mut setup = Setup::new("flap", &[], &[a.clone(), b.clone(), c.clone()]);
    setup.switches = switch_toml(
        "s1",
        "flap_threshold = 3\nflap_window = 10\nflap_block = 30",
    );
    setup.dataplane.push_str("burst = 1\n");
    let hx = host(7);
    let f = |t| inner(BCAST, hx, ARP, t, 60);
    let to_x = inner(hx, host(3), IPV4, 20, 64);
    let other_a = inner(BCAST, host(8), ARP, 21, 60);
    let other_b = inner(BCAST, host(9), ARP, 22, 60);
    // From hx, fresh on A, to host 3, learned on C by `to_x`: what the
    // worker's fast path takes (src/worker/engine/fast.rs), but for A's
    // block.
    let from_x = inner(host(3), hx, IPV4, 23, 64);
    let frames = vec![
        a.ingress(&f(1), None),    // learned on A
        b.ingress(&f(2), None),    // move 1
        a.ingress(&f(3), None),    // move 2
        b.ingress(&f(4), None),    // move 3
        a.ingress(&f(5), None),    // move 4 > 3: flapping, A blocked
        a.ingress(&f(6), None),    // member_blocked
        a.ingress(&other_a, None), // member_blocked: the whole member
        c.ingress(&to_x, None),    // hx last seen on A: sent to A (egress is not blocked)
        a.ingress(&from_x, None),  // member_blocked, though known unicast (fast path)
        b.ingress(&f(7), None),    // move 5, off the blocked member: B must stay up
        b.ingress(&other_b, None),
        a.ingress(&f(8), None), // still blocked
    ];
    let r = run(&setup, &frames);
    assert_eq!(r.control("macs_moved"), 5);
    assert_eq!(r.control("mac_flaps"), 2);
    assert_eq!(r.control("members_blocked"), 1);
    assert_drops(&r.counters, &[("member_blocked", 4)]);
    assert_egress(&r.out, &a, &[f(2), f(4), to_x, f(7), other_b.clone()], 0);
    assert_egress(&r.out, &b, &[f(1), f(3), f(5)], 0);
    assert_egress(
        &r.out,
        &c,
        &[f(1), f(2), f(3), f(4), f(5), f(7), other_b],
        0,
    );
    assert_only_garp(&r);
    assert_eq!(
        macs(&r),
        vec![
            ("s1".into(), fmt_mac(host(3)), "siteC".into()),
            ("s1".into(), fmt_mac(hx), "siteB".into()),
            ("s1".into(), fmt_mac(host(9)), "siteB".into()),
        ]
    );
}
