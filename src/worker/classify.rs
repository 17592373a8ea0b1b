//! Classify an outer frame once: what it is and where its parts start.
use crate::telemetry::DropReason;
use crate::wire::checksum;
use crate::wire::ethernet::{self, ethertype};
use crate::wire::ipv4::{self, protocol};
use crate::wire::ipv6;
use crate::wire::l2tp::{self, Encap, Kind};
use crate::wire::udp;
use crate::wire::vlan;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What to do with a received frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// An L2TPv3 data packet for us.
    Data {
        session_id: u32,
        encap: Encap,
        /// Outer IPv4 or IPv6 source.
        src: IpAddr,
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
    /// An outer IPv6 fragment for us whose Fragment header follows the
    /// fixed header at once: for reassembly (`rte_ip_frag` handles no
    /// other layout).
    Fragment6,
    /// For the control core: ARP, ICMP to us, L2TP control messages.
    Punt,
    Drop(DropReason),
}

/// Our IPv6 addresses on a port: global, link-local.
pub type Ours6 = [Ipv6Addr; 2];

/// Whether `dst` is for a port with addresses `ours`: one of them,
/// all-nodes (ff02::1), or the solicited-node group of one of them
/// (ff02::1:ffXX:XXXX, RFC 4291 §2.7.1).
#[inline]
fn for_us6(dst: [u8; 16], ours: &Ours6) -> bool {
    const SOLICITED: [u8; 13] = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff];
    const ALL_NODES: [u8; 16] = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    if dst == ALL_NODES {
        return true;
    }
    ours.iter().any(|a| {
        let o = a.octets();
        dst == o || (dst[..13] == SOLICITED && dst[13..] == o[13..])
    })
}

/// Classifies an outer IPv6 frame (ethertype 0x86dd) received on a port
/// with IPv6 addresses `ours`, with L2TPv3-over-UDP on `udp_port`.
///
/// * ICMPv6 for us (neighbour discovery, echo), and anything behind a
///   Hop-by-Hop header (MLD carries one), goes to the control core,
///   which validates it in full (`control::neighbour6`).
/// * L2TPv3 data (next header 115, or UDP to `udp_port`) is
///   `Class::Data` with the outer IPv6 source. Other extension headers
///   are walked with [`ipv6::walk_extensions`] up to
///   [`ipv6::DEFAULT_MAX_EXTENSIONS`] headers and
///   [`ipv6::DEFAULT_MAX_CHAIN_LEN`] bytes; a failed walk is one of
///   `ipv6_too_many_extensions`, `ipv6_unknown_extension`,
///   `ipv6_bad_extension`. The walk needs the whole IPv6 packet in the
///   first segment (a chained jumbo frame with extension headers is
///   `malformed`); without extension headers only the headers must be.
/// * An outer fragment whose Fragment header comes right after the
///   fixed header is `Class::Fragment6`, for reassembly; one behind
///   other extension headers is dropped as `ipv6_fragment` (an atomic
///   fragment, RFC 6946, is walked through). Whether the reassembled
///   payload is ours is decided when it is classified again.
/// * L2TPv3 control messages (next header 115 with session id 0, or
///   UDP to `udp_port` with the T bit), behind the same walk of
///   extension headers, go to the control core (`Class::Punt`), which
///   checks them in full (`control::engine::l2tp6`): addresses, lengths,
///   the UDP checksum.
/// * UDP: a zero checksum is accepted (RFC 6936 §5, the tunnel's own
///   port) and a non-zero one is not verified here: the fast path does
///   not sum every frame on receive, as over IPv4 (the session checks,
///   peer address, session id and cookie, stand behind it).
#[inline]
pub fn classify6(first: &[u8], pkt_len: usize, ours: &Ours6, udp_port: u16) -> Class {
    const L2: usize = ethernet::HEADER_LEN;
    const IP6: usize = ipv6::HEADER_LEN;
    let Some(h) = first.get(L2..L2 + IP6) else {
        return Class::Drop(DropReason::Malformed);
    };
    let plen = usize::from(u16::from_be_bytes([h[4], h[5]]));
    if h[0] >> 4 != 6 || L2 + IP6 + plen > pkt_len {
        return Class::Drop(DropReason::Malformed);
    }
    let mut dst = [0u8; 16];
    dst.copy_from_slice(&h[24..40]);
    if !for_us6(dst, ours) {
        return Class::Drop(DropReason::NotForUs);
    }
    let end = L2 + IP6 + plen;
    let (proto, l4_off) = match h[6] {
        // ICMPv6, Hop-by-Hop (MLD queries and reports carry one).
        protocol::IPV6_ICMP | ipv6::ext::HOP_BY_HOP => return Class::Punt,
        p @ (protocol::L2TP | protocol::UDP) => (p, L2 + IP6),
        ipv6::ext::ROUTING
        | ipv6::ext::FRAGMENT
        | ipv6::ext::DESTINATION_OPTIONS
        | ipv6::ext::AH
        | ipv6::ext::ESP
        | ipv6::ext::MOBILITY
        | ipv6::ext::HIP
        | ipv6::ext::SHIM6
        | ipv6::ext::EXPERIMENT_1
        | ipv6::ext::EXPERIMENT_2 => {
            let Some(pkt) = first.get(L2..end) else {
                return Class::Drop(DropReason::Malformed);
            };
            match ipv6::walk_extensions(
                pkt,
                ipv6::DEFAULT_MAX_EXTENSIONS,
                ipv6::DEFAULT_MAX_CHAIN_LEN,
            ) {
                Ok(w) => match w.fragment {
                    Some(f) if f.header_offset == IP6 => return Class::Fragment6,
                    Some(_) => return Class::Drop(DropReason::Ipv6Fragment),
                    None => match w.protocol {
                        protocol::IPV6_ICMP => return Class::Punt,
                        p @ (protocol::L2TP | protocol::UDP) => (p, L2 + w.offset),
                        _ => return Class::Drop(DropReason::UnsupportedProtocol),
                    },
                },
                Err(e) => return Class::Drop(ext_error(e)),
            }
        }
        // TCP, say.
        _ => return Class::Drop(DropReason::UnsupportedProtocol),
    };
    let mut src = [0u8; 16];
    src.copy_from_slice(&h[8..24]);
    let src = IpAddr::V6(Ipv6Addr::from(src));
    let payload = first.get(l4_off..end.min(first.len())).unwrap_or(&[]);
    if proto == protocol::L2TP {
        l2tp_over_ip(payload, src, l4_off, end)
    } else {
        l2tp_over_udp(first, payload, src, l4_off, end, udp_port)
    }
}

/// L2TPv3 over IP (after the IPv4 header or the IPv6 header chain):
/// `payload` is the IP payload at `l4_off` as far as it lies in the first
/// segment, `end` the end of the IP packet.
#[inline(always)]
fn l2tp_over_ip(payload: &[u8], src: IpAddr, l4_off: usize, end: usize) -> Class {
    match l2tp::classify_ip(payload) {
        Ok(Kind::Control) => Class::Punt,
        Ok(Kind::Data { session_id }) => Class::Data {
            session_id,
            encap: Encap::Ip,
            src,
            udp_src_port: 0,
            l2tp_off: l4_off,
            end,
        },
        // Shorter than a session id.
        Err(_) => Class::Drop(DropReason::L2tpTruncated),
    }
}

/// L2TPv3 over UDP to `udp_port` (after the IPv4 header or the IPv6
/// header chain), with the UDP length checked against the IP packet's
/// `end`; `payload` as for [`l2tp_over_ip`].
#[inline(always)]
fn l2tp_over_udp(
    first: &[u8],
    payload: &[u8],
    src: IpAddr,
    l4_off: usize,
    end: usize,
    udp_port: u16,
) -> Class {
    if payload.len() < udp::HEADER_LEN {
        return Class::Drop(DropReason::Malformed);
    }
    let u = udp::Packet::new_unchecked(payload);
    let ulen = usize::from(u.len());
    if ulen < udp::HEADER_LEN || l4_off + ulen > end {
        return Class::Drop(DropReason::Malformed);
    }
    if u.dst_port() != udp_port {
        return Class::Drop(DropReason::UnsupportedProtocol);
    }
    let sport = u.src_port();
    let end = l4_off + ulen;
    let l2tp = first
        .get(l4_off + udp::HEADER_LEN..end.min(first.len()))
        .unwrap_or(&[]);
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
        Err(_) => Class::Drop(udp_l2tp_error(l2tp)),
    }
}

/// The drop counter of a failed IPv6 extension header walk.
#[cold]
fn ext_error(e: ipv6::ExtError) -> DropReason {
    use ipv6::ExtError as E;
    match e {
        E::TooManyExtensions | E::ChainTooLong => DropReason::Ipv6TooManyExtensions,
        E::UnsupportedExtension | E::UnknownNextHeader => DropReason::Ipv6UnknownExtension,
        // The fixed header was checked above: cannot happen.
        E::Truncated | E::BadVersion => DropReason::Malformed,
        E::ChainTruncated
        | E::HopByHopNotFirst
        | E::BadOption
        | E::UnrecognizedOption
        | E::RoutingSegmentsLeft
        | E::FragmentNotMultipleOf8
        | E::FragmentTooBig => DropReason::Ipv6BadExtension,
    }
}

/// Classifies an outer Ethernet frame received on a port whose address is
/// `ours`, with L2TPv3-over-UDP on `udp_port`. `ours` is
/// `Ipv4Addr::UNSPECIFIED` on an IPv6-only port: then every IPv4 packet
/// and ARP frame is `NotForUs` (one compare, on IPv4/ARP frames only).
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
    if verify_checksum {
        if let Some(c) = classify_fast::<false>(first, pkt_len, ours, udp_port) {
            return c;
        }
    }
    classify_full(first, pkt_len, ours, udp_port, verify_checksum)
}

/// `classify` of the common case in few instructions: an untagged IPv4
/// packet without options to `ours`, unfragmented, with a right header
/// checksum, carrying L2TPv3 data over IP or over UDP to `udp_port`, its
/// headers in `first`. None for anything else, which `classify_full`
/// decides. Where it answers, it answers as `classify_full` does (the
/// test `fast_agrees_with_full_rules` checks it on mutated frames); it
/// took las's own code from 1106 to 1053 instructions per packet
/// (perf/instructions.sh, ip:64).
///
/// `DEVICE_CHECKED`: the port's device checked the header checksum and
/// marked it right (`Mbuf::rx_ip_checksum_good`), so it is not summed
/// again: the answer is then `classify_full`'s without the checksum
/// check, as for a reassembled packet. A packet the device marked bad,
/// or did not mark, is checked here (and a bad one left to the full
/// rules, which count it). A const parameter, so that the caller's one
/// test of the mark picks one of two straight paths: a `bool` argument
/// cost 14 instructions a packet where the device marks nothing
/// (`net_pcap`: 598 against 584, `perf/instructions.sh`), this 5 (589),
/// and nothing (584) with the burst loops' copy for ports without marks
/// (`Worker::burst`), which never reads them.
#[inline(always)]
pub(super) fn classify_fast<const DEVICE_CHECKED: bool>(
    first: &[u8],
    pkt_len: usize,
    ours: Ipv4Addr,
    udp_port: u16,
) -> Option<Class> {
    const L2: usize = ethernet::HEADER_LEN;
    const L4: usize = L2 + ipv4::HEADER_LEN;
    let h: &[u8; L4 + 4] = first.get(..L4 + 4)?.try_into().ok()?;
    let ip: &[u8; ipv4::HEADER_LEN] = h[L2..L4].try_into().ok()?;
    // IPv4, version 4 and a 20-byte header (0x45); no MF flag, no offset.
    if u16::from_be_bytes([h[12], h[13]]) != ethertype::IPV4
        || h[14] != 0x45
        || u16::from_be_bytes([h[20], h[21]]) & 0x3fff != 0
    {
        return None;
    }
    let total = usize::from(u16::from_be_bytes([h[16], h[17]]));
    let end = L2 + total;
    if end > pkt_len
        || ours.is_unspecified()
        || h[30..34] != ours.octets()
        || !(DEVICE_CHECKED || checksum::header20_ok(ip))
    {
        return None;
    }
    let src = IpAddr::V4(Ipv4Addr::new(h[26], h[27], h[28], h[29]));
    match h[23] {
        protocol::L2TP => {
            let session_id = u32::from_be_bytes([h[34], h[35], h[36], h[37]]);
            if total < ipv4::HEADER_LEN + 4 || session_id == 0 {
                return None;
            }
            Some(Class::Data {
                session_id,
                encap: Encap::Ip,
                src,
                udp_src_port: 0,
                l2tp_off: L4,
                end,
            })
        }
        protocol::UDP => {
            // The UDP header and an L2TPv3 data header (flags word,
            // session id) within the UDP length, within the IP packet.
            let u: &[u8; 16] = first.get(L4..L4 + 16)?.try_into().ok()?;
            let ulen = usize::from(u16::from_be_bytes([u[4], u[5]]));
            let session_id = u32::from_be_bytes([u[12], u[13], u[14], u[15]]);
            if u16::from_be_bytes([u[2], u[3]]) != udp_port
                || ulen < 16
                || L4 + ulen > end
                || u[8] & 0x80 != 0
                || u[9] & 0x0f != l2tp::VERSION
                || session_id == 0
            {
                return None;
            }
            Some(Class::Data {
                session_id,
                encap: Encap::Udp,
                src,
                udp_src_port: u16::from_be_bytes([u[0], u[1]]),
                l2tp_off: L4 + udp::HEADER_LEN,
                end: L4 + ulen,
            })
        }
        _ => None,
    }
}

/// `classify` by the rules in full.
#[inline(never)]
fn classify_full(
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
        // An IPv6-only port (`ours` unspecified): no IPv4 or ARP is ours.
        // The explicit guard keeps a packet to 0.0.0.0 from matching.
        ethertype::IPV4 | ethertype::ARP if ours.is_unspecified() => {
            return Class::Drop(DropReason::NotForUs)
        }
        ethertype::IPV4 => {}
        ethertype::ARP => return Class::Punt,
        t if vlan::is_tag_ethertype(t) => return Class::Drop(DropReason::UnderlayVlan),
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
    let src = IpAddr::V4(ip.src_addr());
    // The part of the IP payload that is in the first segment.
    let payload = &first[l4_off..end.min(first.len())];
    match ip.next_header() {
        protocol::L2TP => l2tp_over_ip(payload, src, l4_off, end),
        protocol::UDP => l2tp_over_udp(first, payload, src, l4_off, end, udp_port),
        protocol::ICMP => Class::Punt,
        _ => Class::Drop(DropReason::UnsupportedProtocol),
    }
}

/// Why [`l2tp::classify_udp`] refused `l2tp` (the UDP payload, as far as
/// it lies in the first segment): one precise reason each.
#[cold]
fn udp_l2tp_error(l2tp: &[u8]) -> DropReason {
    match l2tp {
        [] | [_] => DropReason::L2tpTruncated,
        [_, ver, ..] if ver & 0x0f != l2tp::VERSION => DropReason::BadL2tpVersion,
        _ if l2tp.len() < l2tp::UDP_HEADER_LEN => DropReason::L2tpTruncated,
        _ => DropReason::ZeroSessionId,
    }
}

#[cfg(test)]
mod test {

    /// An IPv6 frame to `dst` with next header `nh` and `payload`.
    fn v6(dst: &str, nh: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0x33, 0x33, 0, 0, 0, 1, 2, 0, 0, 0, 0, 9, 0x86, 0xdd];
        f.extend_from_slice(&[0x60, 0, 0, 0]);
        f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        f.extend_from_slice(&[nh, 255]);
        f.extend_from_slice(&"fe80::9".parse::<Ipv6Addr>().unwrap().octets());
        f.extend_from_slice(&dst.parse::<Ipv6Addr>().unwrap().octets());
        f.extend_from_slice(payload);
        f
    }

    fn ours6() -> Ours6 {
        [
            "2001:db8::1".parse().unwrap(),
            "fe80::ff:fe00:1".parse().unwrap(),
        ]
    }

    fn c6(f: &[u8]) -> Class {
        classify6(f, f.len(), &ours6(), 1701)
    }

    fn udp6(port: u16, payload: &[u8]) -> Vec<u8> {
        let mut u = vec![0x06, 0xa5];
        u.extend_from_slice(&port.to_be_bytes());
        u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        u.extend_from_slice(&[0, 0]);
        u.extend_from_slice(payload);
        u
    }

    const FE80_9: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 9));

    #[test]
    fn ipv6_for_us_is_punted_and_pseudowires_classified() {
        let icmp = [135u8, 0, 0, 0, 0, 0, 0, 0];
        for dst in [
            "2001:db8::1",
            "fe80::ff:fe00:1",
            "ff02::1",
            "ff02::1:ff00:1",
        ] {
            assert_eq!(c6(&v6(dst, 58, &icmp)), Class::Punt, "{dst}");
        }
        // Another host, another solicited-node group.
        assert_eq!(
            c6(&v6("2001:db8::2", 58, &icmp)),
            Class::Drop(DropReason::NotForUs)
        );
        assert_eq!(
            c6(&v6("ff02::1:ff00:2", 58, &icmp)),
            Class::Drop(DropReason::NotForUs)
        );
        // L2TPv3 over IP: data, control, truncated.
        let f = v6("2001:db8::1", 115, &[0, 0, 0, 7, 1, 2, 3]);
        assert_eq!(
            c6(&f),
            Class::Data {
                session_id: 7,
                encap: Encap::Ip,
                src: FE80_9,
                udp_src_port: 0,
                l2tp_off: 54,
                end: f.len(),
            }
        );
        assert_eq!(
            c6(&v6("2001:db8::1", 115, &[0, 0, 0, 0, 0xc8, 3])),
            Class::Punt
        );
        assert_eq!(
            c6(&v6("2001:db8::1", 115, &[0, 0, 7])),
            Class::Drop(DropReason::L2tpTruncated)
        );
        // Over UDP: data (zero checksum accepted), control, other ports.
        let f = v6("2001:db8::1", 17, &udp6(1701, &[0, 3, 0, 0, 0, 0, 0, 9]));
        assert_eq!(
            c6(&f),
            Class::Data {
                session_id: 9,
                encap: Encap::Udp,
                src: FE80_9,
                udp_src_port: 1701,
                l2tp_off: 62,
                end: f.len(),
            }
        );
        // Ethernet padding after the IPv6 packet is not part of it.
        let mut padded = f.clone();
        padded.extend_from_slice(&[0; 6]);
        assert!(matches!(c6(&padded), Class::Data { end, .. } if end == f.len()));
        assert_eq!(
            c6(&v6("2001:db8::1", 17, &udp6(1701, &[0xc8, 3, 0, 12]))),
            Class::Punt
        );
        assert_eq!(
            c6(&v6(
                "2001:db8::1",
                17,
                &udp6(1701, &[0, 2, 0, 0, 0, 0, 0, 9])
            )),
            Class::Drop(DropReason::BadL2tpVersion)
        );
        assert_eq!(
            c6(&v6("2001:db8::1", 17, &udp6(53, &[]))),
            Class::Drop(DropReason::UnsupportedProtocol)
        );
        // A UDP length past the IPv6 payload.
        let mut u = udp6(1701, &[0, 3, 0, 0, 0, 0, 0, 9]);
        u[5] = 40;
        assert_eq!(
            c6(&v6("2001:db8::1", 17, &u)),
            Class::Drop(DropReason::Malformed)
        );
        assert_eq!(
            c6(&v6("2001:db8::1", 6, &[0; 20])),
            Class::Drop(DropReason::UnsupportedProtocol)
        );
        // A payload length past the frame, a version that is not 6.
        let mut f = v6("2001:db8::1", 58, &icmp);
        f[18] = 0x10;
        assert_eq!(c6(&f), Class::Drop(DropReason::Malformed));
        let mut f = v6("2001:db8::1", 58, &icmp);
        f[14] = 0x40;
        assert_eq!(c6(&f), Class::Drop(DropReason::Malformed));
        assert_eq!(c6(&f[..30]), Class::Drop(DropReason::Malformed));
    }

    #[test]
    fn ipv6_extension_headers() {
        // Destination Options (8 bytes of PadN) before L2TPv3 over IP.
        let mut p = vec![115, 0, 1, 4, 0, 0, 0, 0];
        p.extend_from_slice(&[0, 0, 0, 7]);
        let f = v6("2001:db8::1", 60, &p);
        assert!(matches!(
            c6(&f),
            Class::Data {
                session_id: 7,
                l2tp_off: 62,
                encap: Encap::Ip,
                ..
            }
        ));
        // Routing (segments left 0) then UDP.
        let mut p = vec![17, 0, 0, 0, 0, 0, 0, 0];
        p.extend_from_slice(&udp6(1701, &[0, 3, 0, 0, 0, 0, 0, 9]));
        assert!(matches!(
            c6(&v6("2001:db8::1", 43, &p)),
            Class::Data {
                session_id: 9,
                l2tp_off: 70,
                encap: Encap::Udp,
                ..
            }
        ));
        // An atomic fragment (offset 0, M = 0) is walked through...
        let mut p = vec![115, 0, 0, 0, 0, 0, 0, 1];
        p.extend_from_slice(&[0, 0, 0, 7]);
        assert!(matches!(
            c6(&v6("2001:db8::1", 44, &p)),
            Class::Data { session_id: 7, .. }
        ));
        // ...a real one goes to reassembly, right after the fixed
        // header only.
        let mut p = vec![115, 0, 0, 1, 0, 0, 0, 1];
        p.extend_from_slice(&[0, 0, 0, 7, 0, 0, 0, 0]);
        assert_eq!(c6(&v6("2001:db8::1", 44, &p)), Class::Fragment6);
        let mut q = vec![44, 0, 1, 4, 0, 0, 0, 0];
        q.extend_from_slice(&p);
        assert_eq!(
            c6(&v6("2001:db8::1", 60, &q)),
            Class::Drop(DropReason::Ipv6Fragment)
        );
        // Not for us: never reassembled.
        assert_eq!(
            c6(&v6("2001:db8::2", 44, &p)),
            Class::Drop(DropReason::NotForUs)
        );
        // Nine Destination Options headers: over the bound.
        let mut p = Vec::new();
        for i in 0..9 {
            p.extend_from_slice(&[if i == 8 { 115 } else { 60 }, 0, 1, 4, 0, 0, 0, 0]);
        }
        p.extend_from_slice(&[0, 0, 0, 7]);
        assert_eq!(
            c6(&v6("2001:db8::1", 60, &p)),
            Class::Drop(DropReason::Ipv6TooManyExtensions)
        );
        // ESP, and an unknown next header behind Destination Options.
        assert_eq!(
            c6(&v6("2001:db8::1", 50, &[0; 16])),
            Class::Drop(DropReason::Ipv6UnknownExtension)
        );
        assert_eq!(
            c6(&v6("2001:db8::1", 60, &[200, 0, 1, 4, 0, 0, 0, 0, 1, 2])),
            Class::Drop(DropReason::Ipv6UnknownExtension)
        );
        // Routing with segments left, a truncated chain.
        assert_eq!(
            c6(&v6(
                "2001:db8::1",
                43,
                &[115, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7]
            )),
            Class::Drop(DropReason::Ipv6BadExtension)
        );
        assert_eq!(
            c6(&v6("2001:db8::1", 60, &[115, 1, 1, 4])),
            Class::Drop(DropReason::Ipv6BadExtension)
        );
        // Control messages behind Destination Options (over IP) and
        // Routing (over UDP) are punted; behind nine headers they are
        // dropped like data.
        let mut p = vec![115, 0, 1, 4, 0, 0, 0, 0];
        p.extend_from_slice(&[0, 0, 0, 0, 0xc8, 3, 0, 12]);
        assert_eq!(c6(&v6("2001:db8::1", 60, &p)), Class::Punt);
        let mut p = vec![17, 0, 0, 0, 0, 0, 0, 0];
        p.extend_from_slice(&udp6(1701, &[0xc8, 3, 0, 12]));
        assert_eq!(c6(&v6("2001:db8::1", 43, &p)), Class::Punt);
        let mut p = Vec::new();
        for i in 0..9 {
            p.extend_from_slice(&[if i == 8 { 115 } else { 60 }, 0, 1, 4, 0, 0, 0, 0]);
        }
        p.extend_from_slice(&[0, 0, 0, 0, 0xc8, 3, 0, 12]);
        assert_eq!(
            c6(&v6("2001:db8::1", 60, &p)),
            Class::Drop(DropReason::Ipv6TooManyExtensions)
        );
        // ICMPv6 behind Destination Options is for the control core.
        assert_eq!(
            c6(&v6(
                "2001:db8::1",
                60,
                &[58, 0, 1, 4, 0, 0, 0, 0, 128, 0, 0, 0]
            )),
            Class::Punt
        );
    }

    use super::*;

    const OURS: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const PEER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);

    /// Independent RFC 1071 checksum.
    fn csum(d: &[u8]) -> u16 {
        let mut acc: u32 = 0;
        for c in d.chunks(2) {
            acc += u32::from(c[0]) << 8 | u32::from(*c.get(1).unwrap_or(&0));
        }
        while acc > 0xffff {
            acc = (acc & 0xffff) + (acc >> 16);
        }
        !(acc as u16)
    }

    fn frame(ethertype: u16, proto: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 10];
        f.extend_from_slice(&ethertype.to_be_bytes());
        let total = (20 + payload.len()) as u16;
        let mut ip = vec![0x45, 0];
        ip.extend_from_slice(&total.to_be_bytes());
        ip.extend_from_slice(&[0, 1, 0, 0, 64, proto, 0, 0]);
        ip.extend_from_slice(&PEER.octets());
        ip.extend_from_slice(&OURS.octets());
        let c = csum(&ip);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        f.extend_from_slice(&ip);
        f.extend_from_slice(payload);
        f
    }

    fn udp(dport: u16, payload: &[u8]) -> Vec<u8> {
        let mut u = vec![0x06, 0xa5];
        u.extend_from_slice(&dport.to_be_bytes());
        u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        u.extend_from_slice(&[0, 0]);
        u.extend_from_slice(payload);
        u
    }

    fn class(f: &[u8]) -> Class {
        classify(f, f.len(), OURS, 1701, true)
    }

    /// The fast path answers only as the full rules do: frames of L2TPv3
    /// data over IP and UDP (and control, ICMP, options, fragments),
    /// with one to three bytes of the first 54 changed at random,
    /// truncated, padded, or with a shorter `pkt_len`; to our address and
    /// on an IPv6-only port. It must answer for most unchanged frames.
    #[test]
    fn fast_agrees_with_full_rules() {
        let mut next = crate::testing::xorshift(0x9e37_79b9_7f4a_7c15);
        let data = [
            0, 0, 0x12, 0x34, 0x40, 0, 0, 1, 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 8, 0,
        ];
        let mut udp_data = vec![0x00, 0x03, 0, 0, 0, 0, 0x12, 0x34];
        udp_data.extend_from_slice(&data[4..]);
        let mut options = frame(0x0800, 115, &data);
        options[14] = 0x46;
        let bases = [
            frame(0x0800, 115, &data),
            frame(0x0800, 17, &udp(1701, &udp_data)),
            frame(0x0800, 115, &[0, 0, 0, 0, 0xc8, 3, 0, 20]),
            frame(0x0800, 17, &udp(1701, &[0xc8, 3, 0, 20, 0, 0, 0, 0])),
            frame(0x0800, 1, &[8, 0, 0, 0, 0, 0, 0, 0]),
            options,
        ];
        let mut answered = 0;
        let mut wrong_sum = 0;
        for round in 0..200_000 {
            let mut f = bases[round % bases.len()].clone();
            let ours = if round % 7 == 0 {
                Ipv4Addr::UNSPECIFIED
            } else {
                OURS
            };
            if round % 5 != 0 {
                for _ in 0..1 + next() % 3 {
                    let i = (next() % 54) as usize % f.len();
                    f[i] = next() as u8;
                }
            }
            // Mostly with the header checksum made right again, so that
            // changed header fields reach the checks behind it.
            if !next().is_multiple_of(4) && f.len() >= 34 {
                f[24..26].copy_from_slice(&[0, 0]);
                let c = csum(&f[14..34]);
                f[24..26].copy_from_slice(&c.to_be_bytes());
            }
            match next() % 6 {
                0 => f.truncate((next() as usize) % (f.len() + 1)),
                1 => f.extend_from_slice(&[0; 7]),
                _ => {}
            }
            let pkt_len = if next().is_multiple_of(8) {
                (next() as usize) % (f.len() + 1)
            } else {
                f.len()
            };
            if let Some(c) = classify_fast::<false>(&f, pkt_len, ours, 1701) {
                answered += 1;
                assert_eq!(
                    c,
                    classify_full(&f, pkt_len, ours, 1701, true),
                    "{f:02x?} pkt_len {pkt_len}"
                );
            }
            // A device that checked the header checksum: the full rules
            // without their own check, whatever the checksum field holds.
            if let Some(c) = classify_fast::<true>(&f, pkt_len, ours, 1701) {
                if csum(&f[14..34]) != 0 {
                    wrong_sum += 1;
                }
                assert_eq!(
                    c,
                    classify_full(&f, pkt_len, ours, 1701, false),
                    "device-checked {f:02x?} pkt_len {pkt_len}"
                );
            }
        }
        assert!(answered > 10_000, "the fast path answered {answered} times");
        // It answers for frames whose checksum field is wrong too.
        assert!(wrong_sum > 1_000, "device-checked, wrong sum: {wrong_sum}");
    }

    fn drop_of(f: &[u8]) -> Option<DropReason> {
        match class(f) {
            Class::Drop(r) => Some(r),
            _ => None,
        }
    }

    #[test]
    fn udp_l2tp_reasons() {
        let d = |p: &[u8]| drop_of(&frame(0x0800, 17, &udp(1701, p)));
        for n in [0usize, 1] {
            assert_eq!(
                d(&[0, 3, 0, 0, 0, 0, 0, 5][..n]),
                Some(DropReason::L2tpTruncated),
                "{n}"
            );
        }
        for n in 2..8 {
            assert_eq!(
                d(&[0, 3, 0, 0, 0, 0, 0, 5][..n]),
                Some(DropReason::L2tpTruncated),
                "{n}"
            );
        }
        assert_eq!(
            d(&[0, 3, 0, 0, 0, 0, 0, 0]),
            Some(DropReason::ZeroSessionId)
        );
        assert_eq!(
            d(&[0, 3, 0, 0, 0, 0, 0, 0, 1, 2]),
            Some(DropReason::ZeroSessionId)
        );
        for v in [0u8, 1, 2, 4, 15] {
            assert_eq!(
                d(&[0, v, 0, 0, 0, 0, 0, 5]),
                Some(DropReason::BadL2tpVersion),
                "v{v}"
            );
            assert_eq!(d(&[0, v]), Some(DropReason::BadL2tpVersion), "v{v}");
        }
        // Version 2 with T=1 is still version 2.
        assert_eq!(d(&[0xc8, 0x02, 0, 12]), Some(DropReason::BadL2tpVersion));
        // Data and control for version 3.
        assert!(matches!(
            class(&frame(0x0800, 17, &udp(1701, &[0, 3, 0, 0, 0, 0, 0, 5]))),
            Class::Data { session_id: 5, .. }
        ));
        assert_eq!(
            class(&frame(0x0800, 17, &udp(1701, &[0xc8, 3]))),
            Class::Punt
        );
        assert_eq!(
            drop_of(&frame(0x0800, 17, &udp(1702, &[0, 3, 0, 0, 0, 0, 0, 5]))),
            Some(DropReason::UnsupportedProtocol)
        );
    }

    #[test]
    fn an_ipv6_only_port_has_no_ipv4_or_arp() {
        // `WorkerPort::address` is UNSPECIFIED there: nothing IPv4 is
        // ours, not even a packet addressed to 0.0.0.0, and no ARP.
        let none = Ipv4Addr::UNSPECIFIED;
        let c = |f: &[u8]| classify(f, f.len(), none, 1701, true);
        let ctl = frame(0x0800, 115, &[0, 0, 0, 0]);
        assert_eq!(class(&ctl), Class::Punt);
        assert_eq!(c(&ctl), Class::Drop(DropReason::NotForUs));
        let mut to_zero = ctl.clone();
        to_zero[30..34].copy_from_slice(&[0; 4]);
        assert_eq!(c(&to_zero), Class::Drop(DropReason::NotForUs));
        let data = frame(0x0800, 115, &[0, 0, 0, 7]);
        assert_eq!(c(&data), Class::Drop(DropReason::NotForUs));
        let mut arp = vec![0xffu8; 6];
        arp.extend_from_slice(&[2, 0, 0, 0, 0, 10, 0x08, 0x06]);
        arp.resize(60, 0);
        assert_eq!(class(&arp), Class::Punt);
        assert_eq!(c(&arp), Class::Drop(DropReason::NotForUs));
    }

    #[test]
    fn ip_l2tp_reasons() {
        for n in 0..4 {
            assert_eq!(
                drop_of(&frame(0x0800, 115, &[0, 0, 0, 7][..n])),
                Some(DropReason::L2tpTruncated),
                "{n}"
            );
        }
        assert_eq!(class(&frame(0x0800, 115, &[0, 0, 0, 0])), Class::Punt);
        assert!(matches!(
            class(&frame(0x0800, 115, &[0, 0, 0, 7])),
            Class::Data { session_id: 7, .. }
        ));
    }

    #[test]
    fn underlay_tags() {
        for t in [0x8100u16, 0x88a8, 0x9100] {
            assert_eq!(
                drop_of(&frame(t, 115, &[0, 0, 0, 7])),
                Some(DropReason::UnderlayVlan),
                "{t:#x}"
            );
        }
        for t in [0x86ddu16, 0x88cc, 0x9200, 0x1234] {
            assert_eq!(
                drop_of(&frame(t, 115, &[0, 0, 0, 7])),
                Some(DropReason::NotForUs),
                "{t:#x}"
            );
        }
        assert_eq!(class(&frame(0x0806, 0, &[])), Class::Punt);
    }

    #[test]
    fn outer_header_reasons() {
        let good = frame(0x0800, 115, &[0, 0, 0, 7]);
        assert_eq!(drop_of(&good[..13]), Some(DropReason::Malformed));
        assert_eq!(drop_of(&good[..33]), Some(DropReason::Malformed));
        let mut f = good.clone();
        f[24] ^= 1;
        assert_eq!(drop_of(&f), Some(DropReason::BadIpChecksum));
        // A fragment for us goes to reassembly with its header length.
        let mut f = good.clone();
        f[20] = 0x20;
        f[24..26].copy_from_slice(&[0, 0]);
        let c = csum(&f[14..34]);
        f[24..26].copy_from_slice(&c.to_be_bytes());
        assert_eq!(class(&f), Class::Fragment { ip_header_len: 20 });
    }
}
