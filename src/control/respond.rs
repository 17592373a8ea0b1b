//! ARP and ICMP echo handling on plain byte buffers: parse a punted frame,
//! answer in place, build requests. Pure, so it is tested byte for byte.
use crate::wire::arp::{self, ArpOp, ArpRepr};
use crate::wire::checksum;
use crate::wire::ethernet::{self, ethertype, MacAddr};
use crate::wire::icmpv4;
use crate::wire::ipv4::{self, protocol};
use std::net::Ipv4Addr;

/// What a punted ARP packet told us and what we did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArpOutcome {
    /// Not a valid Ethernet/IPv4 ARP packet.
    Invalid,
    /// A request for one of our addresses: the frame now holds the reply.
    Replied {
        sender_ip: Ipv4Addr,
        sender_mac: [u8; 6],
    },
    /// Information only (a reply, or a request for someone else).
    Seen {
        sender_ip: Ipv4Addr,
        sender_mac: [u8; 6],
        for_us: bool,
    },
}

/// Handles an ARP frame received on a port with `our_mac`/`our_ip`. When it
/// is a request for `our_ip`, rewrites `frame` into the reply.
pub fn arp_in_place(frame: &mut [u8], our_mac: [u8; 6], our_ip: Ipv4Addr) -> ArpOutcome {
    let Ok(eth) = ethernet::Frame::new_checked(&*frame) else {
        return ArpOutcome::Invalid;
    };
    if eth.ethertype() != ethertype::ARP {
        return ArpOutcome::Invalid;
    }
    let Ok(pkt) = arp::Packet::new_checked(eth.payload()) else {
        return ArpOutcome::Invalid;
    };
    let Ok(req) = ArpRepr::parse(&pkt) else {
        return ArpOutcome::Invalid;
    };
    let sender_ip = req.sender_ip;
    let sender_mac = req.sender_mac.0;
    let for_us = req.target_ip == our_ip;
    if req.operation != ArpOp::Request || !for_us || sender_ip.is_unspecified() {
        return ArpOutcome::Seen {
            sender_ip,
            sender_mac,
            for_us,
        };
    }
    let reply = ArpRepr {
        operation: ArpOp::Reply,
        sender_mac: MacAddr(our_mac),
        sender_ip: our_ip,
        target_mac: req.sender_mac,
        target_ip: req.sender_ip,
    };
    let mut eth = ethernet::Frame::new_unchecked(&mut *frame);
    eth.set_dst_addr(MacAddr(sender_mac));
    eth.set_src_addr(MacAddr(our_mac));
    let mut p = arp::Packet::new_unchecked(eth.payload_mut());
    reply.emit(&mut p);
    // The request's padding (or anything past the ARP packet) is the
    // asker's bytes: a reply carries zeros there, not an echo.
    if let Some(rest) = frame.get_mut(ethernet::HEADER_LEN + 28..) {
        rest.fill(0);
    }
    ArpOutcome::Replied {
        sender_ip,
        sender_mac,
    }
}

/// Writes a broadcast ARP request for `target` into `buf` (at least 42
/// bytes). `target == our_ip` makes it a gratuitous ARP. Returns the length.
pub fn arp_request(buf: &mut [u8], our_mac: [u8; 6], our_ip: Ipv4Addr, target: Ipv4Addr) -> usize {
    let len = ethernet::HEADER_LEN + 28;
    let mut eth = ethernet::Frame::new_unchecked(&mut buf[..len]);
    eth.set_dst_addr(MacAddr::BROADCAST);
    eth.set_src_addr(MacAddr(our_mac));
    eth.set_ethertype(ethertype::ARP);
    let r = ArpRepr {
        operation: ArpOp::Request,
        sender_mac: MacAddr(our_mac),
        sender_ip: our_ip,
        target_mac: MacAddr([0; 6]),
        target_ip: target,
    };
    let mut p = arp::Packet::new_unchecked(eth.payload_mut());
    r.emit(&mut p);
    len
}

/// Turns an ICMP echo request to `our_ip` into the echo reply, in place.
/// Returns false (and leaves the frame unspecified) if it is anything else.
pub fn icmp_echo_in_place(frame: &mut [u8], our_ip: Ipv4Addr) -> bool {
    let Ok(eth) = ethernet::Frame::new_checked(&*frame) else {
        return false;
    };
    if eth.ethertype() != ethertype::IPV4 {
        return false;
    }
    let Ok(ip) = ipv4::Packet::new_checked(eth.payload()) else {
        return false;
    };
    if ip.next_header() != protocol::ICMP
        || ip.dst_addr() != our_ip
        || !ip.verify_checksum()
        || ip.is_fragment()
    {
        return false;
    }
    let src = ip.src_addr();
    if src.is_broadcast() || src.is_multicast() || src.is_unspecified() {
        return false;
    }
    let Ok(icmp) = icmpv4::Packet::new_checked(ip.payload()) else {
        return false;
    };
    if icmp.msg_type() != icmpv4::ECHO_REQUEST || icmp.code() != 0 || !icmp.verify_checksum() {
        return false;
    }
    let (dmac, smac) = (eth.dst_addr(), eth.src_addr());
    let hl = ip.header_len();
    let total = ip.total_len() as usize;
    let mut eth = ethernet::Frame::new_unchecked(&mut *frame);
    eth.set_dst_addr(smac);
    eth.set_src_addr(dmac);
    let ipb = eth.payload_mut();
    let mut ip = ipv4::Packet::new_unchecked(&mut ipb[..total]);
    ip.set_dst_addr(src);
    ip.set_src_addr(our_ip);
    ip.set_ttl(64);
    ip.fill_checksum();
    let mut icmp = icmpv4::Packet::new_unchecked(&mut ipb[hl..total]);
    let old = icmp.checksum();
    icmp.set_msg_type(icmpv4::ECHO_REPLY);
    // type 8 → 0 in the high byte of the first 16-bit word.
    icmp.set_checksum(checksum::update_u16(old, 0x0800, 0x0000));
    true
}

#[cfg(test)]
mod test {
    use super::*;

    const OUR_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const OUR_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const PEER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x0a];
    const PEER_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);

    #[test]
    fn arp_request_then_reply() {
        let mut buf = [0xa5u8; 60];
        let n = arp_request(&mut buf, PEER_MAC, PEER_IP, OUR_IP);
        assert_eq!(n, 42);
        let expect_req: [u8; 42] = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 0x0a, 0x08, 0x06, // eth
            0, 1, 8, 0, 6, 4, 0, 1, // htype ptype hlen plen op=request
            2, 0, 0, 0, 0, 0x0a, 192, 0, 2, 10, // sender
            0, 0, 0, 0, 0, 0, 192, 0, 2, 1, // target
        ];
        assert_eq!(&buf[..42], &expect_req);
        assert_eq!(buf[42], 0xa5);
        let out = arp_in_place(&mut buf[..42], OUR_MAC, OUR_IP);
        assert_eq!(
            out,
            ArpOutcome::Replied {
                sender_ip: PEER_IP,
                sender_mac: PEER_MAC
            }
        );
        let expect_reply: [u8; 42] = [
            2, 0, 0, 0, 0, 0x0a, 2, 0, 0, 0, 0, 1, 0x08, 0x06, //
            0, 1, 8, 0, 6, 4, 0, 2, //
            2, 0, 0, 0, 0, 1, 192, 0, 2, 1, //
            2, 0, 0, 0, 0, 0x0a, 192, 0, 2, 10,
        ];
        assert_eq!(&buf[..42], &expect_reply);
    }

    /// The reply does not send the request's padding back.
    #[test]
    fn arp_reply_padding_is_zeroed() {
        let mut buf = [0x7eu8; 60];
        arp_request(&mut buf, PEER_MAC, PEER_IP, OUR_IP);
        assert!(matches!(
            arp_in_place(&mut buf, OUR_MAC, OUR_IP),
            ArpOutcome::Replied { .. }
        ));
        assert_eq!(buf[41], 10);
        assert!(buf[42..].iter().all(|&b| b == 0), "{:?}", &buf[42..]);
    }

    #[test]
    fn arp_for_someone_else_is_only_seen() {
        let mut buf = [0u8; 42];
        arp_request(&mut buf, PEER_MAC, PEER_IP, Ipv4Addr::new(192, 0, 2, 99));
        let before = buf;
        let out = arp_in_place(&mut buf, OUR_MAC, OUR_IP);
        assert_eq!(
            out,
            ArpOutcome::Seen {
                sender_ip: PEER_IP,
                sender_mac: PEER_MAC,
                for_us: false
            }
        );
        assert_eq!(buf, before);
        assert_eq!(
            arp_in_place(&mut buf[..30], OUR_MAC, OUR_IP),
            ArpOutcome::Invalid
        );
    }

    fn echo_request() -> Vec<u8> {
        let mut f = vec![];
        f.extend_from_slice(&OUR_MAC);
        f.extend_from_slice(&PEER_MAC);
        f.extend_from_slice(&[0x08, 0x00]);
        let mut ip = vec![
            0x45,
            0,
            0,
            28 + 4,
            0x12,
            0x34,
            0x40,
            0,
            64,
            1,
            0,
            0,
            192,
            0,
            2,
            10,
            192,
            0,
            2,
            1,
        ];
        let c = checksum::checksum(&ip);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        f.extend_from_slice(&ip);
        let mut icmp = vec![8, 0, 0, 0, 0x00, 0x07, 0x00, 0x01, b'p', b'i', b'n', b'g'];
        let c = checksum::checksum(&icmp);
        icmp[2..4].copy_from_slice(&c.to_be_bytes());
        f.extend_from_slice(&icmp);
        f
    }

    #[test]
    fn icmp_echo_reply() {
        let mut f = echo_request();
        assert!(icmp_echo_in_place(&mut f, OUR_IP));
        assert_eq!(&f[0..6], &PEER_MAC);
        assert_eq!(&f[6..12], &OUR_MAC);
        assert_eq!(&f[26..30], &[192, 0, 2, 1]);
        assert_eq!(&f[30..34], &[192, 0, 2, 10]);
        assert_eq!(checksum::checksum(&f[14..34]), 0, "ip checksum");
        assert_eq!(f[34], 0, "echo reply");
        assert_eq!(checksum::checksum(&f[34..]), 0, "icmp checksum");
        assert_eq!(&f[38..], &[0, 7, 0, 1, b'p', b'i', b'n', b'g']);
    }

    /// An echo request with id 0, seq 0 and no data: the reply is all
    /// zeros but its checksum, which must be 0xffff (RFC 1624's corner; the
    /// plain eqn. 3 gave 0x0000, which no receiver accepts).
    #[test]
    fn icmp_echo_reply_all_zero() {
        let mut f = echo_request();
        f.truncate(34 + 8);
        f[16..18].copy_from_slice(&28u16.to_be_bytes());
        f[24..26].copy_from_slice(&[0, 0]);
        let c = checksum::checksum(&f[14..34]);
        f[24..26].copy_from_slice(&c.to_be_bytes());
        f[34..42].copy_from_slice(&[8, 0, 0xf7, 0xff, 0, 0, 0, 0]);
        assert_eq!(checksum::checksum(&f[34..]), 0);
        assert!(icmp_echo_in_place(&mut f, OUR_IP));
        assert_eq!(&f[34..42], &[0, 0, 0xff, 0xff, 0, 0, 0, 0]);
        assert_eq!(checksum::checksum(&f[34..]), 0, "icmp checksum");
        // Id 0xffff: the reply's words sum to 0xffff; 0x0000 is what a
        // recomputation gives, 0xffff verifies too (see update_u16).
        let mut f = echo_request();
        f.truncate(34 + 8);
        f[16..18].copy_from_slice(&28u16.to_be_bytes());
        f[24..26].copy_from_slice(&[0, 0]);
        let c = checksum::checksum(&f[14..34]);
        f[24..26].copy_from_slice(&c.to_be_bytes());
        f[34..42].copy_from_slice(&[8, 0, 0xf7, 0xff, 0xff, 0xff, 0, 0]);
        assert_eq!(checksum::checksum(&f[34..]), 0);
        assert!(icmp_echo_in_place(&mut f, OUR_IP));
        assert_eq!(checksum::checksum(&f[34..]), 0, "icmp checksum");
    }

    #[test]
    fn icmp_not_for_us_or_broken() {
        let mut f = echo_request();
        assert!(!icmp_echo_in_place(&mut f, Ipv4Addr::new(192, 0, 2, 2)));
        let mut f = echo_request();
        f[36] ^= 0xff; // icmp checksum
        assert!(!icmp_echo_in_place(&mut f, OUR_IP));
        let mut f = echo_request();
        f[34] = 0; // already a reply
        assert!(!icmp_echo_in_place(&mut f, OUR_IP));
        let mut f = echo_request();
        assert!(!icmp_echo_in_place(&mut f[..20], OUR_IP));
    }
}
