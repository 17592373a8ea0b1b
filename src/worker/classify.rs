//! Classify an outer frame once: what it is and where its parts start.
use crate::telemetry::DropReason;
use crate::wire::ethernet::{self, ethertype};
use crate::wire::ipv4::{self, protocol};
use crate::wire::l2tp::{self, Encap, Kind};
use crate::wire::udp;
use std::net::Ipv4Addr;

/// What to do with a received frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// An L2TPv3 data packet for us.
    Data {
        session_id: u32,
        encap: Encap,
        /// Outer IPv4 source.
        src: Ipv4Addr,
        /// UDP source port (0 for IP encapsulation).
        udp_src_port: u16,
        /// Offset of the L2TPv3 header (session id, or UDP flags word).
        l2tp_off: usize,
        /// End of the outer IP packet (anything after is Ethernet padding).
        end: usize,
    },
    /// An outer IPv4 fragment for us (header checked) with this IP header
    /// length: for reassembly.
    Fragment {
        ip_header_len: u16,
    },
    /// For the control core: ARP, ICMP to us, L2TP control messages.
    Punt,
    Drop(DropReason),
}

/// Classifies an outer Ethernet frame received on a port whose address is
/// `ours`, with L2TPv3-over-UDP on `udp_port`.
///
/// `first` is the packet's first segment and `pkt_len` its whole length:
/// a reassembled or jumbo packet spans several segments, and only the
/// headers must lie in the first one. Lengths from the packet are checked
/// against `pkt_len`; bytes are read from `first` only. `verify_checksum`
/// is false for reassembled packets (every fragment was checked).
#[inline(always)]
pub fn classify(
    first: &[u8],
    pkt_len: usize,
    ours: Ipv4Addr,
    udp_port: u16,
    verify_checksum: bool,
) -> Class {
    let Ok(eth) = ethernet::Frame::new_checked(first) else {
        return Class::Drop(DropReason::Malformed);
    };
    match eth.ethertype() {
        ethertype::IPV4 => {}
        ethertype::ARP => return Class::Punt,
        ethertype::VLAN | ethertype::QINQ => return Class::Drop(DropReason::UnderlayVlan),
        _ => return Class::Drop(DropReason::NotForUs),
    }
    const L2: usize = ethernet::HEADER_LEN;
    if first.len() < L2 + ipv4::HEADER_LEN {
        return Class::Drop(DropReason::Malformed);
    }
    // The view is bounded by hand: the header must be in `first`, the
    // total length within `pkt_len`. Only header accessors are used.
    let ip = ipv4::Packet::new_unchecked(&first[L2..]);
    let hl = ip.header_len();
    let total = ip.total_len() as usize;
    if ip.version() != 4 || hl < ipv4::HEADER_LEN || first.len() < L2 + hl || total < hl {
        return Class::Drop(DropReason::Malformed);
    }
    if L2 + total > pkt_len {
        return Class::Drop(DropReason::Malformed);
    }
    if ip.dst_addr() != ours {
        return Class::Drop(DropReason::NotForUs);
    }
    if verify_checksum && !ip.verify_checksum() {
        return Class::Drop(DropReason::BadIpChecksum);
    }
    if ip.is_fragment() {
        return Class::Fragment {
            ip_header_len: hl as u16,
        };
    }
    let end = L2 + total;
    let l4_off = L2 + hl;
    let src = ip.src_addr();
    // The part of the IP payload that is in the first segment.
    let payload = &first[l4_off..end.min(first.len())];
    match ip.next_header() {
        protocol::L2TP => match l2tp::classify_ip(payload) {
            Ok(Kind::Control) => Class::Punt,
            Ok(Kind::Data { session_id }) => Class::Data {
                session_id,
                encap: Encap::Ip,
                src,
                udp_src_port: 0,
                l2tp_off: l4_off,
                end,
            },
            Err(_) => Class::Drop(DropReason::Malformed),
        },
        protocol::UDP => {
            if payload.len() < udp::HEADER_LEN {
                return Class::Drop(DropReason::Malformed);
            }
            let u = udp::Packet::new_unchecked(payload);
            let ulen = u.len() as usize;
            if ulen < udp::HEADER_LEN || ulen > total - hl {
                return Class::Drop(DropReason::Malformed);
            }
            if u.dst_port() != udp_port {
                return Class::Drop(DropReason::UnsupportedProtocol);
            }
            let sport = u.src_port();
            let end = l4_off + ulen;
            let l2tp = &first[(l4_off + udp::HEADER_LEN)..end.min(first.len())];
            match l2tp::classify_udp(l2tp) {
                Ok(Kind::Control) => Class::Punt,
                Ok(Kind::Data { session_id }) => Class::Data {
                    session_id,
                    encap: Encap::Udp,
                    src,
                    udp_src_port: sport,
                    l2tp_off: l4_off + udp::HEADER_LEN,
                    end,
                },
                Err(_) => Class::Drop(DropReason::BadL2tpVersion),
            }
        }
        protocol::ICMP => Class::Punt,
        _ => Class::Drop(DropReason::UnsupportedProtocol),
    }
}
