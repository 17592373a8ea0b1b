//! Packet formats: zero-copy views and owned representations.
//!
//! The style follows smoltcp. Each protocol has:
//!
//! * a zero-copy view (`Packet<T>` or `Frame<T>`) over any `T: AsRef<[u8]>`,
//!   with `new_unchecked`, `new_checked` (which calls `check_len`),
//!   `into_inner`, one-line getters and (for `T: AsMut<[u8]>`) setters;
//! * where useful, an owned `Repr` with `parse`, `buffer_len` and `emit`.
//!
//! # The panic rule
//!
//! **Once `check_len()` has returned `Ok(())` on a view (or the view was
//! built with `new_checked`), no accessor of that view may panic**, whatever
//! the bytes are. Views built with `new_unchecked` on a buffer that was never
//! checked may panic on a too-short buffer; that is the caller's contract.
//! Setters that change a length field (e.g. `set_total_len`) may break the
//! invariant; re-check after changing them if the buffer is not trusted.
//!
//! Free functions that take a raw `&[u8]` (classifiers, `clamp_mss`,
//! `inner_offset`, ...) never panic on any input. All arithmetic on lengths
//! taken from packets is checked. Views never allocate.
#![forbid(unsafe_code)]

use core::fmt;

pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod icmpv4;
pub mod icmpv6;
pub mod ip_frag;
pub mod ipv4;
pub mod ipv6;
pub mod l2tp;
pub mod tcp;
pub mod udp;
pub mod vlan;

/// Byte range of a field inside a header.
pub(crate) type Field = core::ops::Range<usize>;

/// The buffer is too short or the packet is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Error;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("truncated or malformed packet")
    }
}

impl std::error::Error for Error {}

/// Result of parsing or checking a packet.
pub type Result<T> = core::result::Result<T, Error>;

#[cfg(test)]
mod test {
    //! The panic rule: after `check_len` succeeds, every accessor works on
    //! arbitrary bytes; free functions never panic.
    use super::*;
    use std::net::Ipv4Addr;

    fn lcg(x: &mut u64) -> u8 {
        *x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (*x >> 33) as u8
    }

    #[test]
    fn test_no_panic_on_random_input() {
        let mut seed = 0x1234_5678u64;
        let a = Ipv4Addr::new(1, 2, 3, 4);
        for round in 0..20_000 {
            let len = usize::from(lcg(&mut seed)) % 96;
            let mut buf: Vec<u8> = (0..len).map(|_| lcg(&mut seed)).collect();
            // Bias some headers towards plausible values.
            if round % 2 == 0 && len > 0 {
                buf[0] = 0x45 + (buf[0] & 0x0b);
            }
            if round % 3 == 0 && len > 3 {
                buf[2] = 0;
                buf[3] %= 96;
            }
            let b = &buf[..];
            if let Ok(p) = ethernet::Frame::new_checked(b) {
                let _ = (p.dst_addr(), p.src_addr(), p.ethertype(), p.payload());
            }
            let _ = vlan::inner_offset(b);
            if let Ok(p) = vlan::Packet::new_checked(b) {
                let _ = (p.tci(), p.vid(), p.pcp(), p.dei(), p.inner_ethertype());
                let _ = p.payload();
            }
            if let Ok(p) = ipv4::Packet::new_checked(b) {
                let _ = (
                    p.version(),
                    p.header_len(),
                    p.dscp(),
                    p.ecn(),
                    p.total_len(),
                );
                let _ = (p.ident(), p.dont_frag(), p.more_frags(), p.frag_offset());
                let _ = (p.is_fragment(), p.ttl(), p.next_header(), p.checksum());
                let _ = (p.src_addr(), p.dst_addr(), p.verify_checksum(), p.payload());
                let _ = ipv4::Ipv4Repr::parse(&p);
            }
            if let Ok(p) = ipv6::Packet::new_checked(b) {
                let _ = (p.version(), p.traffic_class(), p.flow_label(), p.payload());
                let _ = (p.next_header(), p.hop_limit(), p.src_addr(), p.dst_addr());
            }
            if let Ok(p) = udp::Packet::new_checked(b) {
                let _ = (
                    p.src_port(),
                    p.dst_port(),
                    p.len(),
                    p.checksum(),
                    p.payload(),
                );
                let _ = udp::UdpRepr::parse(&p, a, a);
            }
            if let Ok(p) = tcp::Packet::new_checked(b) {
                let _ = (p.src_port(), p.seq_number(), p.ack_number(), p.flags());
                let _ = (p.syn(), p.ack(), p.window_len(), p.urgent_at(), p.payload());
                let _ = p.options_iter().count();
                let _ = p.verify_checksum_v4(a, a);
            }
            let _ = tcp::clamp_mss(&mut buf.clone(), 536);
            if let Ok(p) = arp::Packet::new_checked(b) {
                let _ = (p.operation(), p.sender_hw(), p.target_proto());
                let _ = arp::ArpRepr::parse(&p);
            }
            if let Ok(p) = icmpv4::Packet::new_checked(b) {
                let _ = (p.msg_type(), p.code(), p.ident(), p.seq_no(), p.data());
                let _ = p.verify_checksum();
            }
            let _ = l2tp::classify_ip(b);
            let _ = l2tp::classify_udp(b);
            for encap in [l2tp::Encap::Ip, l2tp::Encap::Udp] {
                for cl in [0, 3, 4, 8, usize::MAX] {
                    for l2 in [l2tp::L2Spec::None, l2tp::L2Spec::Default] {
                        let _ = l2tp::DataRepr::parse(encap, b, cl, l2);
                    }
                }
            }
            if let Ok(p) = l2tp::control::Packet::new_checked(b) {
                let _ = (p.ccid(), p.ns(), p.nr(), p.payload());
            }
            if let Ok(p) = l2tp::DefaultSublayer::new_checked(b) {
                let _ = (p.sequenced(), p.seq());
            }
        }
    }
}
