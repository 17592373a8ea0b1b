//! The packet views of `las::wire` (ethernet, vlan, arp, ipv4, ipv6, udp,
//! tcp, icmpv4): on any bytes, `new_checked` either fails or gives a view
//! whose every getter works (the panic rule of `wire/mod.rs`); owned
//! representations survive parse → emit → parse; filled checksums
//! verify; incremental checksum updates agree with a full recompute;
//! fragment identities (`ip_frag`) read from any bytes are fragments
//! (M set or an offset, a multiple of 8) and the duplicate filter calls
//! a second copy of one a duplicate.
#![no_main]

use las::wire::ip_frag::{DuplicateFilter, Fragment, Seen};
use las::wire::{arp, checksum, ethernet, icmpv4, ipv4, ipv6, tcp, udp, vlan};
use las_fuzz::{ones_eq, ones_sum};
use libfuzzer_sys::fuzz_target;
use std::net::Ipv4Addr;

fn addrs(b: &[u8]) -> (Ipv4Addr, Ipv4Addr) {
    let g = |i: usize| b.get(i).copied().unwrap_or(0);
    (
        Ipv4Addr::new(g(0), g(1), g(2), g(3)),
        Ipv4Addr::new(g(4), g(5), g(6), g(7)),
    )
}

fn ethernet(b: &[u8]) {
    let Ok(f) = ethernet::Frame::new_checked(b) else {
        assert!(b.len() < ethernet::HEADER_LEN);
        return;
    };
    let (d, s, t) = (f.dst_addr(), f.src_addr(), f.ethertype());
    let _ = (
        d.is_broadcast(),
        d.is_multicast(),
        d.is_unicast(),
        d.is_local(),
    );
    assert_eq!(ethernet::MacAddr::from_u64(d.to_u64()), d);
    assert_eq!(d.to_string().parse::<ethernet::MacAddr>(), Ok(d));
    let _ = (ethernet::is_bpdu_dst(&d), s.as_bytes(), t, f.payload());
    let r = ethernet::EthernetRepr::parse(&f).expect("checked frame parses");
    let mut out = [0xa5u8; ethernet::HEADER_LEN];
    r.emit(&mut ethernet::Frame::new_unchecked(&mut out[..]));
    assert_eq!(&out[..], &b[..ethernet::HEADER_LEN]);
}

fn vlan(b: &[u8]) {
    if let Some((off, _et, tags)) = vlan::inner_offset(b) {
        assert!(tags <= 2 && off == ethernet::HEADER_LEN + vlan::HEADER_LEN * usize::from(tags));
        assert!(off <= b.len());
    }
    let Ok(p) = vlan::Packet::new_checked(b) else {
        return;
    };
    let _ = (
        p.tci(),
        p.vid(),
        p.pcp(),
        p.dei(),
        p.inner_ethertype(),
        p.payload(),
    );
    let r = vlan::VlanRepr::parse(&p).expect("checked tag parses");
    let mut out = [0xa5u8; vlan::HEADER_LEN];
    r.emit(&mut vlan::Packet::new_unchecked(&mut out[..]));
    assert_eq!(&out[..], &b[..vlan::HEADER_LEN]);
}

fn arp(b: &[u8]) {
    let Ok(p) = arp::Packet::new_checked(b) else {
        return;
    };
    let _ = (p.htype(), p.ptype(), p.hlen(), p.plen(), p.operation());
    let _ = (
        p.sender_hw(),
        p.sender_proto(),
        p.target_hw(),
        p.target_proto(),
    );
    if let Ok(r) = arp::ArpRepr::parse(&p) {
        let mut out = vec![0xa5u8; r.buffer_len()];
        r.emit(&mut arp::Packet::new_unchecked(&mut out[..]));
        assert_eq!(&out[..], &b[..r.buffer_len()]);
    }
}

fn ipv4(b: &[u8]) {
    let Ok(p) = ipv4::Packet::new_checked(b) else {
        return;
    };
    let _ = (
        p.version(),
        p.header_len(),
        p.dscp(),
        p.ecn(),
        p.total_len(),
    );
    let _ = (p.ident(), p.dont_frag(), p.more_frags(), p.frag_offset());
    let _ = (p.is_fragment(), p.ttl(), p.next_header(), p.checksum());
    let _ = (p.src_addr(), p.dst_addr(), p.header(), p.payload());
    let verified = p.verify_checksum();
    // The incremental TTL update keeps a good checksum good.
    let mut c = b.to_vec();
    let mut q = ipv4::Packet::new_unchecked(&mut c[..]);
    let ttl = q.ttl();
    assert_eq!(q.decrement_ttl(), ttl.saturating_sub(1));
    assert!(
        !verified || q.verify_checksum(),
        "decrement_ttl broke the checksum"
    );
    q.fill_checksum();
    assert!(q.verify_checksum(), "fill_checksum does not verify");
    if let Ok(r) = ipv4::Ipv4Repr::parse(&p) {
        let mut out = vec![0xa5u8; r.buffer_len() + r.payload_len];
        let mut q = ipv4::Packet::new_unchecked(&mut out[..]);
        r.emit(&mut q);
        let q = ipv4::Packet::new_checked(&out[..]).expect("emitted header checks");
        assert_eq!(ipv4::Ipv4Repr::parse(&q), Ok(r));
    }
}

fn ipv6(b: &[u8]) {
    let Ok(p) = ipv6::Packet::new_checked(b) else {
        return;
    };
    let _ = (
        p.version(),
        p.traffic_class(),
        p.flow_label(),
        p.payload_len(),
    );
    let _ = (p.next_header(), p.hop_limit(), p.src_addr(), p.dst_addr());
    assert_eq!(p.payload().len(), usize::from(p.payload_len()));
}

fn udp(b: &[u8], src: Ipv4Addr, dst: Ipv4Addr) {
    let Ok(p) = udp::Packet::new_checked(b) else {
        return;
    };
    let _ = (
        p.src_port(),
        p.dst_port(),
        p.len(),
        p.is_empty(),
        p.checksum(),
    );
    let _ = (p.payload(), p.verify_checksum_v4(src, dst));
    let mut c = b.to_vec();
    let mut q = udp::Packet::new_unchecked(&mut c[..]);
    q.fill_checksum_v4(src, dst);
    assert!(
        q.verify_checksum_v4(src, dst),
        "UDP fill_checksum does not verify"
    );
    assert_ne!(q.checksum(), 0);
    if let Ok(r) = udp::UdpRepr::parse(&p, src, dst) {
        let mut out = vec![0xa5u8; r.buffer_len() + r.payload_len];
        let mut q = udp::Packet::new_unchecked(&mut out[..]);
        r.emit(&mut q);
        q.payload_mut().copy_from_slice(p.payload());
        q.fill_checksum_v4(src, dst);
        let q = udp::Packet::new_checked(&out[..]).expect("emitted datagram checks");
        assert_eq!(udp::UdpRepr::parse(&q, src, dst), Ok(r));
        assert_eq!(q.payload(), p.payload());
    }
}

fn tcp(b: &[u8], src: Ipv4Addr, dst: Ipv4Addr) {
    if let Ok(p) = tcp::Packet::new_checked(b) {
        let _ = (p.src_port(), p.dst_port(), p.seq_number(), p.ack_number());
        let _ = (
            p.header_len(),
            p.flags(),
            p.syn(),
            p.ack(),
            p.fin(),
            p.rst(),
        );
        let _ = (
            p.window_len(),
            p.checksum(),
            p.urgent_at(),
            p.options(),
            p.payload(),
        );
        let opts: Vec<_> = p.options_iter().collect();
        assert!(opts.len() <= p.options().len());
        let verified = p.verify_checksum_v4(src, dst);
        if b.len() <= usize::from(u16::MAX) {
            let mut c = b.to_vec();
            let mut q = tcp::Packet::new_unchecked(&mut c[..]);
            q.fill_checksum_v4(src, dst);
            assert!(
                q.verify_checksum_v4(src, dst),
                "TCP fill_checksum does not verify"
            );
        }
        // MSS clamping on the bare segment: only lowers, keeps the sum.
        let max = u16::from_be_bytes([b[0], b[1]]);
        let mut c = b.to_vec();
        match tcp::clamp_mss(&mut c, max) {
            None => assert_eq!(c, b, "clamp_mss wrote without an MSS option"),
            Some((old, new)) => {
                assert_eq!(new, old.min(max));
                assert!(
                    ones_eq(ones_sum(&[b]), ones_sum(&[&c])),
                    "clamp_mss changed the sum"
                );
                let q = tcp::Packet::new_checked(&c[..]).expect("still checks");
                assert!(!verified || q.verify_checksum_v4(src, dst));
            }
        }
    } else {
        let mut c = b.to_vec();
        assert_eq!(
            tcp::clamp_mss(&mut c, 0),
            None,
            "clamp_mss on a short header"
        );
        assert_eq!(c, b);
    }
}

fn icmp(b: &[u8]) {
    let Ok(p) = icmpv4::Packet::new_checked(b) else {
        return;
    };
    let _ = (
        p.msg_type(),
        p.code(),
        p.checksum(),
        p.ident(),
        p.seq_no(),
        p.data(),
    );
    let _ = p.verify_checksum();
    let mut c = b.to_vec();
    let mut q = icmpv4::Packet::new_unchecked(&mut c[..]);
    q.fill_checksum();
    assert!(q.verify_checksum(), "ICMP fill_checksum does not verify");
}

/// RFC 1624: the incremental update of one 16-bit word agrees with
/// recomputing the checksum (up to the two zeros of ones complement).
fn incremental(b: &[u8]) {
    if b.len() < 4 {
        return;
    }
    let words = b.len() / 2;
    let at = usize::from(b[0]) % words * 2;
    let new = u16::from_be_bytes([b[b.len() - 1], b[1]]);
    let old = u16::from_be_bytes([b[at], b[at + 1]]);
    let before = checksum::checksum(b);
    assert!(
        ones_eq(before, !ones_sum(&[b])),
        "checksum disagrees with RFC 1071"
    );
    let mut c = b.to_vec();
    c[at..at + 2].copy_from_slice(&new.to_be_bytes());
    let after = checksum::checksum(&c);
    assert!(ones_eq(checksum::update_u16(before, old, new), after));
}

fn fragments(b: &[u8]) {
    let mut d = DuplicateFilter::new(16, 10, 1);
    for (f, v6) in [(Fragment::parse(b), false), (Fragment::parse6(b), true)] {
        let Some(f) = f else { continue };
        assert_eq!(f.key.v6, v6);
        assert!(f.more || f.offset != 0, "{f:?}");
        assert_eq!(f.offset % 8, 0, "{f:?}");
        assert_eq!(d.check(&f, 0), Seen::New);
        assert_eq!(d.check(&f, 1), Seen::Duplicate);
        d.forget(&f.key);
        assert_eq!(d.check(&f, 2), Seen::New);
    }
}

fuzz_target!(|data: &[u8]| {
    let (src, dst) = addrs(data);
    ethernet(data);
    vlan(data);
    arp(data);
    ipv4(data);
    ipv6(data);
    udp(data, src, dst);
    tcp(data, src, dst);
    icmp(data);
    incremental(data);
    fragments(data);
});
