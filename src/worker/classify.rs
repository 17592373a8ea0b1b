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
    /// For the control core: ARP, ICMP to us, L2TP control messages.
    Punt,
    Drop(DropReason),
}

/// Classifies an outer Ethernet frame received on a port whose address is
/// `ours`, with L2TPv3-over-UDP on `udp_port`.
#[inline(always)]
pub fn classify(frame: &[u8], ours: Ipv4Addr, udp_port: u16) -> Class {
    let Ok(eth) = ethernet::Frame::new_checked(frame) else {
        return Class::Drop(DropReason::Malformed);
    };
    match eth.ethertype() {
        ethertype::IPV4 => {}
        ethertype::ARP => return Class::Punt,
        ethertype::VLAN | ethertype::QINQ => return Class::Drop(DropReason::UnderlayVlan),
        _ => return Class::Drop(DropReason::NotForUs),
    }
    let ip_bytes = &frame[ethernet::HEADER_LEN..];
    let Ok(ip) = ipv4::Packet::new_checked(ip_bytes) else {
        return Class::Drop(DropReason::Malformed);
    };
    if ip.version() != 4 {
        return Class::Drop(DropReason::Malformed);
    }
    if ip.dst_addr() != ours {
        return Class::Drop(DropReason::NotForUs);
    }
    if !ip.verify_checksum() {
        return Class::Drop(DropReason::BadIpChecksum);
    }
    if ip.is_fragment() {
        return Class::Drop(DropReason::OuterFragment);
    }
    let hl = ip.header_len();
    let end = ethernet::HEADER_LEN + ip.total_len() as usize;
    let l4_off = ethernet::HEADER_LEN + hl;
    let src = ip.src_addr();
    let payload = ip.payload();
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
            let Ok(u) = udp::Packet::new_checked(payload) else {
                return Class::Drop(DropReason::Malformed);
            };
            if u.dst_port() != udp_port {
                return Class::Drop(DropReason::UnsupportedProtocol);
            }
            let sport = u.src_port();
            let end = l4_off + u.len() as usize;
            match l2tp::classify_udp(u.payload()) {
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
