//! L2TPv3 data messages: `classify_ip`, `classify_udp`, `data_offsets`,
//! `DataRepr` parse → emit → parse, the default sublayer and cookies; the
//! worker's outer-frame classifier (`src/worker/classify.rs`, included
//! by path: the `worker` module needs DPDK, this one file does not); and
//! encap ↔ decap: what an `EncapTemplate` writes (over IPv4 and over
//! IPv6, `classify6`) classifies as data for its session and
//! decapsulates to the same inner frame; a computed UDP checksum over
//! IPv6 verifies.
#![no_main]

use las::wire::ethernet::MacAddr;
use las::wire::ipv6::UdpChecksum;
use las::wire::l2tp::data::SUBLAYER_LEN;
use las::wire::l2tp::{
    classify_ip, classify_udp, data_offsets, Cookie, DataRepr, DefaultSublayer, Encap,
    EncapTemplate, Kind, L2Spec, SublayerRepr, TemplateParams, TemplateParams6,
};
use las_fuzz::Input;
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

// `classify.rs` names `crate::telemetry` and `crate::wire`.
use las::{telemetry, wire};

#[allow(dead_code)]
#[path = "../../src/worker/classify.rs"]
mod classify;
use classify::{classify, classify6, Class, Ours6};

const ENCAPS: [Encap; 2] = [Encap::Ip, Encap::Udp];
const L2SPECS: [L2Spec; 2] = [L2Spec::None, L2Spec::Default];

fn data_views(payload: &[u8], cookie_len: usize) {
    match classify_ip(payload) {
        Ok(Kind::Control) => assert_eq!(payload[..4], [0; 4]),
        Ok(Kind::Data { session_id }) => assert_ne!(session_id, 0),
        Err(_) => assert!(payload.len() < 4),
    }
    if let Ok(Kind::Data { session_id }) = classify_udp(payload) {
        assert_ne!(session_id, 0);
    }
    for encap in ENCAPS {
        for l2spec in L2SPECS {
            let Ok(r) = DataRepr::parse(encap, payload, cookie_len, l2spec) else {
                continue;
            };
            assert_eq!(r.buffer_len(), data_offsets(encap, cookie_len, l2spec));
            assert!(r.buffer_len() <= payload.len());
            assert_eq!(
                r.cookie.as_bytes(),
                &payload[encap.header_len()..][..cookie_len]
            );
            let mut out = vec![0xa5u8; r.buffer_len()];
            r.emit(&mut out).expect("room for the header");
            assert_eq!(DataRepr::parse(encap, &out, cookie_len, l2spec), Ok(r));
            assert!(r.emit(&mut out[..r.buffer_len() - 1]).is_err());
        }
    }
    if let Ok(s) = DefaultSublayer::new_checked(payload) {
        let (seq, on) = (s.seq(), s.sequenced());
        assert!(seq <= 0x00ff_ffff);
        let mut b = payload[..SUBLAYER_LEN].to_vec();
        let mut w = DefaultSublayer::new_unchecked(&mut b[..]);
        w.emit(on.then_some(seq));
        assert_eq!((w.sequenced(), w.seq()), (on, if on { seq } else { 0 }));
    }
}

fn cookies(b: &[u8]) {
    match Cookie::new(b) {
        Ok(c) => {
            assert_eq!(c.as_bytes(), b);
            assert_eq!(Cookie::from_hex(&c.to_string()), Ok(c));
        }
        Err(_) => assert!(!matches!(b.len(), 0 | 4 | 8)),
    }
    if let Ok(s) = std::str::from_utf8(b) {
        if let Ok(c) = Cookie::from_hex(s) {
            assert!(matches!(c.len(), 0 | 4 | 8));
        }
    }
}

/// The worker's classifier on a raw outer frame.
fn worker_classify(frame: &[u8], extra: usize, ours: Ipv4Addr, udp_port: u16, verify: bool) {
    let pkt_len = frame.len() + extra;
    match classify(frame, pkt_len, ours, udp_port, verify) {
        Class::Data {
            l2tp_off,
            end,
            session_id,
            ..
        } => {
            assert!(l2tp_off <= frame.len() && l2tp_off <= end && end <= pkt_len);
            assert_ne!(session_id, 0);
        }
        Class::Fragment { ip_header_len } => assert!(ip_header_len >= 20),
        Class::Fragment6 => panic!("classify hands no IPv6 fragment to reassembly"),
        Class::Punt | Class::Drop(_) => {}
    }
    // The same bytes as an IPv6 frame to 2001:db8::<ours>.
    let ours6: Ours6 = [v6_of(ours), "fe80::1".parse().expect("address")];
    match classify6(frame, pkt_len, &ours6, udp_port) {
        Class::Data {
            l2tp_off,
            end,
            session_id,
            ..
        } => {
            assert!(l2tp_off <= frame.len() && l2tp_off <= end && end <= pkt_len);
            assert_ne!(session_id, 0);
        }
        Class::Fragment { .. } => panic!("classify6 hands no IPv4 fragment to reassembly"),
        // A Fragment header right after the fixed header.
        Class::Fragment6 => assert_eq!(frame.get(20), Some(&44)),
        Class::Punt | Class::Drop(_) => {}
    }
}

/// 2001:db8::/96 with `a` in the low 32 bits.
fn v6_of(a: Ipv4Addr) -> Ipv6Addr {
    Ipv6Addr::from((0x2001_0db8u128 << 96) | u128::from(u32::from(a)))
}

/// Encapsulates `inner` with a template built from `p`, then classifies
/// and parses it back as the receiving side would.
fn encap_decap(p: &TemplateParams, sequencing: bool, ident: u16, seq: u32, inner: &[u8]) {
    let mut t = EncapTemplate::new(p);
    t.set_sequencing(sequencing);
    assert_eq!(t.has_udp(), p.encap == Encap::Udp);
    assert_eq!(t.has_sublayer(), p.l2spec == L2Spec::Default);
    let mut pkt = vec![0xa5u8; t.len() + inner.len()];
    pkt[t.len()..].copy_from_slice(inner);
    t.write(&mut pkt, inner.len(), ident, seq, 0);
    let ip = wire::ipv4::Packet::new_checked(&pkt[14..]).expect("outer IPv4 checks");
    assert!(ip.verify_checksum(), "template IPv4 checksum");
    assert_eq!(usize::from(ip.total_len()), pkt.len() - 14);
    let class = classify(&pkt, pkt.len(), p.dst_ip, p.udp_dst_port, true);
    if p.dst_ip.is_unspecified() {
        // 0.0.0.0 is the worker's "no IPv4 address" (an IPv6-only port):
        // nothing IPv4 is ours there, our own encapsulation included.
        assert_eq!(class, Class::Drop(telemetry::DropReason::NotForUs));
        return;
    }
    if p.session_id == 0 {
        // Session ID 0 means a control message: never data.
        assert!(!matches!(class, Class::Data { .. }), "{class:?}");
        return;
    }
    let Class::Data {
        session_id,
        encap,
        src,
        udp_src_port,
        l2tp_off,
        end,
    } = class
    else {
        panic!("our own encapsulation classified as {class:?}");
    };
    assert_eq!(
        (session_id, encap, src, end),
        (p.session_id, p.encap, IpAddr::V4(p.src_ip), pkt.len())
    );
    if p.encap == Encap::Udp {
        assert_eq!(udp_src_port, p.udp_src_port);
    }
    let r = DataRepr::parse(encap, &pkt[l2tp_off..end], p.cookie.len(), p.l2spec)
        .expect("our own header parses");
    assert_eq!((r.session_id, r.cookie), (p.session_id, p.cookie));
    let want = match p.l2spec {
        L2Spec::None => SublayerRepr::None,
        L2Spec::Default => SublayerRepr::Default {
            seq: sequencing.then_some(seq & 0x00ff_ffff),
        },
    };
    assert_eq!(r.sublayer, want);
    assert_eq!(&pkt[l2tp_off + r.buffer_len()..end], inner);
}

/// `encap_decap` over IPv6, between the IPv6 forms of `p`'s addresses,
/// with the UDP checksum computed or zero.
fn encap_decap6(p: &TemplateParams, compute: bool, seq: u32, inner: &[u8]) {
    let p6 = TemplateParams6 {
        src_mac: p.src_mac,
        dst_mac: p.dst_mac,
        src_ip: v6_of(p.src_ip),
        dst_ip: v6_of(p.dst_ip),
        encap: p.encap,
        udp_src_port: p.udp_src_port,
        udp_dst_port: p.udp_dst_port,
        session_id: p.session_id,
        cookie: p.cookie,
        l2spec: p.l2spec,
        hop_limit: p.ttl,
        dscp: p.dscp,
        udp_checksum: if compute {
            UdpChecksum::Compute
        } else {
            UdpChecksum::ZeroAllowed
        },
    };
    let t = EncapTemplate::new6(&p6);
    let mut pkt = vec![0xa5u8; t.len() + inner.len()];
    pkt[t.len()..].copy_from_slice(inner);
    let sum = if t.needs_inner_sum() {
        wire::checksum::sum(inner)
    } else {
        0
    };
    t.write(&mut pkt, inner.len(), 0, seq, sum);
    let ours6: Ours6 = [p6.dst_ip, "fe80::1".parse().expect("address")];
    let class = classify6(&pkt, pkt.len(), &ours6, p.udp_dst_port);
    if p.session_id == 0 {
        assert!(!matches!(class, Class::Data { .. }), "{class:?}");
        return;
    }
    let Class::Data {
        session_id,
        encap,
        src,
        l2tp_off,
        end,
        ..
    } = class
    else {
        panic!("our own IPv6 encapsulation classified as {class:?}");
    };
    assert_eq!(
        (session_id, encap, src, end),
        (p.session_id, p.encap, IpAddr::V6(p6.src_ip), pkt.len())
    );
    if p.encap == Encap::Udp {
        let u = wire::udp::Packet::new_checked(&pkt[54..]).expect("UDP checks");
        let policy = if compute {
            UdpChecksum::Compute
        } else {
            assert_eq!(u.checksum(), 0);
            UdpChecksum::ZeroAllowed
        };
        assert_eq!(
            wire::ipv6::verify_udp_checksum(&u, p6.src_ip, p6.dst_ip, policy),
            Ok(())
        );
    }
    let r = DataRepr::parse(encap, &pkt[l2tp_off..end], p.cookie.len(), p.l2spec)
        .expect("our own header parses");
    assert_eq!(&pkt[l2tp_off + r.buffer_len()..end], inner);
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input::new(data);
    let sel = inp.u8();
    let cookie_len = [0, 4, 8, 3][usize::from(sel & 3)];
    let ours = Ipv4Addr::from(inp.u32());
    let udp_port = inp.u16();
    let extra = usize::from(inp.u8());
    let payload = inp.rest();
    data_views(payload, cookie_len);
    cookies(payload.get(..usize::from(sel >> 4) % 10).unwrap_or(payload));
    worker_classify(payload, extra, ours, udp_port, sel & 4 != 0);

    // The same bytes read as template parameters and an inner frame.
    let mut inp = Input::new(data);
    let sel = inp.u8();
    let cookie = [&[][..], &[1, 2, 3, 4][..], &[9, 8, 7, 6, 5, 4, 3, 2][..]];
    let p = TemplateParams {
        src_mac: MacAddr([2, 0, 0, 0, 0, 1]),
        dst_mac: MacAddr([2, 0, 0, 0, 0, 2]),
        src_ip: Ipv4Addr::from(inp.u32()),
        dst_ip: Ipv4Addr::from(inp.u32()),
        encap: ENCAPS[usize::from(sel & 1)],
        udp_src_port: inp.u16(),
        udp_dst_port: inp.u16(),
        session_id: inp.u32(),
        cookie: Cookie::new(cookie[usize::from(sel >> 1) % 3]).expect("valid cookie"),
        l2spec: L2SPECS[usize::from(sel >> 3) & 1],
        ttl: inp.u8(),
        dscp: inp.u8() & 0x3f,
        dont_frag: sel & 0x10 != 0,
    };
    let ident = inp.u16();
    let seq = inp.u32();
    let inner = inp.rest();
    // Lengths past 64 KiB saturate by design (the caller bounds them).
    let inner = &inner[..inner.len().min(60_000)];
    encap_decap(&p, sel & 0x20 != 0, ident, seq, inner);
    encap_decap6(&p, sel & 0x40 != 0, seq, inner);
});
