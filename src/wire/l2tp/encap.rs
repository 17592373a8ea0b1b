//! Prebuilt per-pseudowire encapsulation header (fast path).
//!
//! [`EncapTemplate::new`] (IPv4) and [`EncapTemplate::new6`] (IPv6) lay
//! out, once per pseudowire:
//!
//! ```text
//! outer Ethernet (14) | IPv4 (20) | [UDP (8)] | L2TPv3 (4 or 8) | cookie (0/4/8) | [sublayer (4)]
//! outer Ethernet (14) | IPv6 (40) | [UDP (8)] | L2TPv3 (4 or 8) | cookie (0/4/8) | [sublayer (4)]
//! ```
//!
//! [`EncapTemplate::write`] copies it in front of an inner Ethernet frame
//! and patches only the per-packet fields: over IPv4 the total length,
//! ident and header checksum (incremental, from a precomputed partial
//! sum); over IPv6 the payload length (IPv6 has no header checksum).
//!
//! UDP over IPv6 (RFC 8200 §8.1) wants a checksum over the pseudo-header
//! and the whole datagram; RFC 6935 §5 and RFC 6936 allow tunnels a zero
//! checksum. [`TemplateParams6::udp_checksum`] chooses
//! ([`UdpChecksum::Compute`] is the default of `[l2tp] udp6_checksum`:
//! Linux `ip l2tp` accepts a zero checksum only with `udp6_csum_rx off`,
//! so computing it is what interoperates). With `Compute`, `write` is
//! given the ones-complement sum of the inner frame (the caller sums it
//! across mbuf segments without copying, see [`needs_inner_sum`]) and
//! finishes the checksum from the pseudo-header's partial sum, the
//! header bytes after the IPv6 header, and that sum: nothing allocated,
//! one pass over the frame. A computed 0 is sent as 0xffff.
//!
//! [`needs_inner_sum`]: EncapTemplate::needs_inner_sum

use std::net::{Ipv4Addr, Ipv6Addr};

use super::data::{Cookie, DataRepr, Encap, L2Spec, SublayerRepr, SUBLAYER_LEN};
use crate::wire::checksum;
use crate::wire::ethernet::{self, ethertype, EthernetRepr, Frame, MacAddr};
use crate::wire::ipv4::{self, protocol, Ipv4Repr};
use crate::wire::ipv6::{self, Ipv6Repr, UdpChecksum};
use crate::wire::udp::{self, UdpRepr};

/// Capacity of the template buffer: the longest header is 82 bytes
/// (IPv6, UDP, 8-byte cookie, sublayer), rounded up to a multiple of 8.
pub const MAX_LEN: usize = 88;

/// Everything that is constant for a pseudowire's outer headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TemplateParams {
    pub src_mac: MacAddr,
    pub dst_mac: MacAddr,
    pub src_ip: Ipv4Addr,
    pub dst_ip: Ipv4Addr,
    pub encap: Encap,
    /// Used only with `Encap::Udp`.
    pub udp_src_port: u16,
    /// Used only with `Encap::Udp`.
    pub udp_dst_port: u16,
    /// The peer's (remote) session ID.
    pub session_id: u32,
    pub cookie: Cookie,
    pub l2spec: L2Spec,
    pub ttl: u8,
    /// DSCP (6 bits).
    pub dscp: u8,
    pub dont_frag: bool,
}

/// Everything that is constant for a pseudowire's outer headers over an
/// IPv6 underlay. Traffic class is `dscp << 2` (ECN 0), flow label 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TemplateParams6 {
    pub src_mac: MacAddr,
    pub dst_mac: MacAddr,
    pub src_ip: Ipv6Addr,
    pub dst_ip: Ipv6Addr,
    pub encap: Encap,
    /// Used only with `Encap::Udp`.
    pub udp_src_port: u16,
    /// Used only with `Encap::Udp`.
    pub udp_dst_port: u16,
    /// The peer's (remote) session ID.
    pub session_id: u32,
    pub cookie: Cookie,
    pub l2spec: L2Spec,
    pub hop_limit: u8,
    /// DSCP (6 bits).
    pub dscp: u8,
    /// With `Encap::Udp`: compute the UDP checksum per packet, or send 0.
    pub udp_checksum: UdpChecksum,
}

/// A prebuilt encapsulation header. `Copy`, 100 bytes, no allocation.
///
/// `repr(C)` with the fields `write` reads first ahead of the bytes: the
/// worker keeps the template at the start of a cache line, so an IPv4
/// header (up to 54 bytes with cookie and sublayer) and what describes it
/// share that one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct EncapTemplate {
    /// IPv4: unfolded ones-complement sum of the IPv4 header with total
    /// length, ident and checksum set to 0. IPv6 with `udp6_sum`: that of
    /// the pseudo-header without its length (addresses, next header).
    partial_ip_csum: u32,
    len: u8,
    ip_off: u8,
    /// 0 if no UDP header.
    udp_off: u8,
    /// 0 if no sublayer.
    sublayer_off: u8,
    /// The outer header is IPv6.
    v6: bool,
    /// IPv6 and UDP with a computed checksum (see the module docs).
    udp6_sum: bool,
    bytes: [u8; MAX_LEN],
}

mod field {
    use crate::wire::Field;
    // Relative to the IPv4 header.
    pub const IP_LENGTH: Field = 2..4;
    pub const IP_IDENT: Field = 4..6;
    pub const IP_CHECKSUM: Field = 10..12;
    // Relative to the IPv6 header.
    pub const IP6_PAYLOAD_LENGTH: Field = 4..6;
    // Relative to the UDP header.
    pub const UDP_LENGTH: Field = 4..6;
    pub const UDP_CHECKSUM: Field = 6..8;
}

/// The L2TPv3 header of a template as `DataRepr`, and its length.
fn data_repr(encap: Encap, session_id: u32, cookie: Cookie, l2spec: L2Spec) -> DataRepr {
    DataRepr {
        encap,
        session_id,
        cookie,
        sublayer: match l2spec {
            L2Spec::None => SublayerRepr::None,
            L2Spec::Default => SublayerRepr::Default { seq: Some(0) },
        },
    }
}

impl EncapTemplate {
    /// Builds the template. IPv4: IHL 5, ECN 0, ident 0, total length 0,
    /// checksum 0 (patched by `write`); UDP checksum 0 (not used).
    /// With `L2Spec::Default`, the sublayer's S bit is set and `write`
    /// fills the sequence number; see [`set_sequencing`](Self::set_sequencing).
    pub fn new(p: &TemplateParams) -> EncapTemplate {
        let mut bytes = [0u8; MAX_LEN];
        let ip_off = ethernet::HEADER_LEN;
        let (proto, udp_off, l2tp_off) = match p.encap {
            Encap::Ip => (protocol::L2TP, 0, ip_off + ipv4::HEADER_LEN),
            Encap::Udp => (
                protocol::UDP,
                ip_off + ipv4::HEADER_LEN,
                ip_off + ipv4::HEADER_LEN + udp::HEADER_LEN,
            ),
        };
        let data = DataRepr {
            encap: p.encap,
            session_id: p.session_id,
            cookie: p.cookie,
            sublayer: match p.l2spec {
                L2Spec::None => SublayerRepr::None,
                L2Spec::Default => SublayerRepr::Default { seq: Some(0) },
            },
        };
        let len = l2tp_off + data.buffer_len();
        let sublayer_off = match p.l2spec {
            L2Spec::None => 0,
            L2Spec::Default => len - SUBLAYER_LEN,
        };

        EthernetRepr {
            src: p.src_mac,
            dst: p.dst_mac,
            ethertype: ethertype::IPV4,
        }
        .emit(&mut Frame::new_unchecked(&mut bytes[..]));
        let mut ip = ipv4::Packet::new_unchecked(&mut bytes[ip_off..]);
        Ipv4Repr {
            src: p.src_ip,
            dst: p.dst_ip,
            protocol: proto,
            payload_len: 0,
            ttl: p.ttl,
            ident: 0,
            dont_frag: p.dont_frag,
            dscp: p.dscp,
        }
        .emit(&mut ip);
        ip.set_total_len(0);
        ip.set_checksum(0);
        let partial_ip_csum = checksum::sum(&bytes[ip_off..ip_off + ipv4::HEADER_LEN]);
        if udp_off != 0 {
            let mut u = udp::Packet::new_unchecked(&mut bytes[udp_off..]);
            UdpRepr {
                src_port: p.udp_src_port,
                dst_port: p.udp_dst_port,
                payload_len: 0,
            }
            .emit(&mut u);
            u.set_len(0);
        }
        // Cannot fail: MAX_LEN holds the longest header.
        let _ = data.emit(&mut bytes[l2tp_off..]);

        EncapTemplate {
            bytes,
            len: len as u8,
            ip_off: ip_off as u8,
            udp_off: udp_off as u8,
            sublayer_off: sublayer_off as u8,
            v6: false,
            udp6_sum: false,
            partial_ip_csum,
        }
    }

    /// Builds an IPv6 template: next header 115 or 17, payload length 0
    /// (patched by `write`), UDP length and checksum 0 (patched by
    /// `write`; the checksum stays 0 under `UdpChecksum::ZeroAllowed`).
    /// Sublayer and sequencing as [`new`](Self::new).
    pub fn new6(p: &TemplateParams6) -> EncapTemplate {
        let mut bytes = [0u8; MAX_LEN];
        let ip_off = ethernet::HEADER_LEN;
        let l4_off = ip_off + ipv6::HEADER_LEN;
        let (next_header, udp_off, l2tp_off) = match p.encap {
            Encap::Ip => (protocol::L2TP, 0, l4_off),
            Encap::Udp => (protocol::UDP, l4_off, l4_off + udp::HEADER_LEN),
        };
        let data = data_repr(p.encap, p.session_id, p.cookie, p.l2spec);
        let len = l2tp_off + data.buffer_len();
        let sublayer_off = match p.l2spec {
            L2Spec::None => 0,
            L2Spec::Default => len - SUBLAYER_LEN,
        };
        EthernetRepr {
            src: p.src_mac,
            dst: p.dst_mac,
            ethertype: ethertype::IPV6,
        }
        .emit(&mut Frame::new_unchecked(&mut bytes[..]));
        Ipv6Repr {
            src: p.src_ip,
            dst: p.dst_ip,
            next_header,
            payload_len: 0,
            hop_limit: p.hop_limit,
            traffic_class: (p.dscp & 0x3f) << 2,
            flow_label: 0,
        }
        .emit(&mut ipv6::Packet::new_unchecked(&mut bytes[ip_off..]));
        if udp_off != 0 {
            let mut u = udp::Packet::new_unchecked(&mut bytes[udp_off..]);
            UdpRepr {
                src_port: p.udp_src_port,
                dst_port: p.udp_dst_port,
                payload_len: 0,
            }
            .emit(&mut u);
            u.set_len(0);
            u.set_checksum(0);
        }
        // Cannot fail: MAX_LEN holds the longest header.
        let _ = data.emit(&mut bytes[l2tp_off..]);
        let udp6_sum = udp_off != 0 && p.udp_checksum == UdpChecksum::Compute;
        let partial_ip_csum = if udp6_sum {
            checksum::pseudo_header_v6(p.src_ip, p.dst_ip, protocol::UDP, 0)
        } else {
            0
        };
        EncapTemplate {
            bytes,
            len: len as u8,
            ip_off: ip_off as u8,
            udp_off: udp_off as u8,
            sublayer_off: sublayer_off as u8,
            v6: true,
            udp6_sum,
            partial_ip_csum,
        }
    }

    /// Whether the outer header is IPv6.
    pub fn is_ipv6(&self) -> bool {
        self.v6
    }

    /// Whether `write` needs the ones-complement sum of the inner frame
    /// (IPv6, UDP, checksum computed); otherwise it ignores `inner_sum`.
    #[inline(always)]
    pub fn needs_inner_sum(&self) -> bool {
        self.udp6_sum
    }

    /// Where the header bytes start in the template (after what `write`
    /// reads to describe them): a user that lays templates out by cache
    /// line knows from it which line a header of `len` bytes ends in.
    pub const BYTES_OFFSET: usize = std::mem::offset_of!(EncapTemplate, bytes);

    /// Header length in bytes.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Never true: a template holds at least Ethernet + IPv4 + 4 bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The template bytes (per-packet fields zero).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes[..self.len()]
    }

    /// Whether the template has a UDP header.
    pub fn has_udp(&self) -> bool {
        self.udp_off != 0
    }

    /// Whether the template has the default sublayer.
    pub fn has_sublayer(&self) -> bool {
        self.sublayer_off != 0
    }

    /// Whether `write` fills a sequence number (default sublayer with S = 1).
    pub fn sequencing(&self) -> bool {
        self.sublayer_off != 0 && self.bytes[usize::from(self.sublayer_off)] != 0
    }

    /// With the default sublayer, turns data sequencing on (S = 1, `write`
    /// fills the sequence number; the default) or off (S = 0, sequence
    /// number 0). No effect without a sublayer.
    pub fn set_sequencing(&mut self, on: bool) {
        if self.sublayer_off != 0 {
            let off = usize::from(self.sublayer_off);
            self.bytes[off] = if on { 0x40 } else { 0 };
        }
    }

    /// Writes the header into `dst[..len()]`, the inner Ethernet frame of
    /// `inner_len` bytes following it, and patches: over IPv4 the total
    /// length, ident and header checksum (incremental); over IPv6 the
    /// payload length (`ip_ident` unused); the UDP length; the 24-bit
    /// sublayer sequence number (low 24 bits of `seq`, if sequencing);
    /// and over IPv6 with a computed UDP checksum that checksum, from
    /// `inner_sum`: [`checksum::sum`] of the inner frame (ignored unless
    /// [`needs_inner_sum`](Self::needs_inner_sum)).
    ///
    /// Never panics when `dst.len() >= len()`; with a shorter `dst` it
    /// writes nothing (and asserts in debug builds). Lengths that would
    /// exceed 65535 saturate (and assert in debug builds): the caller
    /// bounds `inner_len` by the MTU.
    #[inline(always)]
    pub fn write(&self, dst: &mut [u8], inner_len: usize, ip_ident: u16, seq: u32, inner_sum: u32) {
        let len = self.len();
        debug_assert!(dst.len() >= len, "encap: dst too short");
        let Some(out) = dst.get_mut(..len) else {
            return;
        };
        out.copy_from_slice(&self.bytes[..len]);

        let ip_off = usize::from(self.ip_off);
        let ip_len = (len - ip_off).saturating_add(inner_len);
        debug_assert!(ip_len <= usize::from(u16::MAX), "encap: too long");
        if self.v6 {
            let plen = u16::try_from(ip_len.saturating_sub(ipv6::HEADER_LEN)).unwrap_or(u16::MAX);
            out[ip_off..][field::IP6_PAYLOAD_LENGTH].copy_from_slice(&plen.to_be_bytes());
        } else {
            let ip_len = u16::try_from(ip_len).unwrap_or(u16::MAX);
            let ip = &mut out[ip_off..ip_off + ipv4::HEADER_LEN];
            ip[field::IP_LENGTH].copy_from_slice(&ip_len.to_be_bytes());
            ip[field::IP_IDENT].copy_from_slice(&ip_ident.to_be_bytes());
            let sum = self.partial_ip_csum + u32::from(ip_len) + u32::from(ip_ident);
            ip[field::IP_CHECKSUM].copy_from_slice(&(!checksum::fold(sum)).to_be_bytes());
        }

        if self.sublayer_off != 0 {
            let off = usize::from(self.sublayer_off);
            if out[off] != 0 {
                out[off + 1..off + 4].copy_from_slice(&seq.to_be_bytes()[1..4]);
            }
        }

        if self.udp_off != 0 {
            let udp_off = usize::from(self.udp_off);
            let udp_len =
                u16::try_from((len - udp_off).saturating_add(inner_len)).unwrap_or(u16::MAX);
            out[udp_off..][field::UDP_LENGTH].copy_from_slice(&udp_len.to_be_bytes());
            if self.udp6_sum {
                // The header after the UDP header's start is 8 + 8 +
                // cookie + sublayer bytes: even, so the inner frame's
                // sum adds as it is.
                let sum = checksum::combine(
                    self.partial_ip_csum + u32::from(udp_len),
                    checksum::combine(checksum::sum(&out[udp_off..]), inner_sum),
                );
                let c = !checksum::fold(sum);
                let c = if c == 0 { 0xffff } else { c };
                out[udp_off..][field::UDP_CHECKSUM].copy_from_slice(&c.to_be_bytes());
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod test {
    use super::*;
    use crate::wire::l2tp::data_offsets;

    /// Template parameters for tests (also the worker's).
    pub(crate) fn params(encap: Encap, cookie: &[u8], l2spec: L2Spec) -> TemplateParams {
        TemplateParams {
            src_mac: MacAddr([0x02, 0x00, 0x00, 0x00, 0x00, 0x01]),
            dst_mac: MacAddr([0x00, 0x1b, 0x21, 0x3a, 0x4c, 0x5d]),
            src_ip: Ipv4Addr::new(192, 0, 2, 1),
            dst_ip: Ipv4Addr::new(198, 51, 100, 254),
            encap,
            udp_src_port: 1701,
            udp_dst_port: 50000,
            session_id: 0xcafe_f00d,
            cookie: Cookie::new(cookie).unwrap(),
            l2spec,
            ttl: 64,
            dscp: 46,
            dont_frag: true,
        }
    }

    /// Independent RFC 1071 checksum.
    fn ref_csum(data: &[u8]) -> u16 {
        let mut acc: u64 = 0;
        for (i, b) in data.iter().enumerate() {
            acc += u64::from(*b) << if i % 2 == 0 { 8 } else { 0 };
        }
        while acc > 0xffff {
            acc = (acc & 0xffff) + (acc >> 16);
        }
        !(acc as u16)
    }

    /// Builds the header field by field with the Repr emitters.
    fn reference(p: &TemplateParams, inner_len: usize, ident: u16, seq: u32) -> Vec<u8> {
        let l2tp_len = data_offsets(p.encap, p.cookie.len(), p.l2spec);
        let udp_len = match p.encap {
            Encap::Ip => 0,
            Encap::Udp => 8,
        };
        let total = 14 + 20 + udp_len + l2tp_len;
        let mut buf = vec![0xa5u8; total];
        EthernetRepr {
            src: p.src_mac,
            dst: p.dst_mac,
            ethertype: ethertype::IPV4,
        }
        .emit(&mut Frame::new_unchecked(&mut buf[..]));
        Ipv4Repr {
            src: p.src_ip,
            dst: p.dst_ip,
            protocol: match p.encap {
                Encap::Ip => 115,
                Encap::Udp => 17,
            },
            payload_len: udp_len + l2tp_len + inner_len,
            ttl: p.ttl,
            ident,
            dont_frag: p.dont_frag,
            dscp: p.dscp,
        }
        .emit(&mut ipv4::Packet::new_unchecked(&mut buf[14..]));
        if p.encap == Encap::Udp {
            UdpRepr {
                src_port: p.udp_src_port,
                dst_port: p.udp_dst_port,
                payload_len: l2tp_len + inner_len,
            }
            .emit(&mut udp::Packet::new_unchecked(&mut buf[34..]));
        }
        DataRepr {
            encap: p.encap,
            session_id: p.session_id,
            cookie: p.cookie,
            sublayer: match p.l2spec {
                L2Spec::None => SublayerRepr::None,
                L2Spec::Default => SublayerRepr::Default { seq: Some(seq) },
            },
        }
        .emit(&mut buf[14 + 20 + udp_len..])
        .unwrap();
        buf
    }

    #[test]
    fn test_template_matches_reference() {
        let cookies: [&[u8]; 3] = [&[], &[0xde, 0xad, 0xbe, 0xef], &[1, 2, 3, 4, 5, 6, 7, 8]];
        for encap in [Encap::Ip, Encap::Udp] {
            for cookie in cookies {
                for l2spec in [L2Spec::None, L2Spec::Default] {
                    let p = params(encap, cookie, l2spec);
                    let t = EncapTemplate::new(&p);
                    for (inner_len, ident, seq) in [
                        (60usize, 0u16, 0u32),
                        (1514, 0x1234, 0x00ab_cdef),
                        (64, 0xffff, 0xff12_3456),
                        (9000, 0x8000, 1),
                        (0, 0, 0x00ff_ffff),
                    ] {
                        let want = reference(&p, inner_len, ident, seq);
                        assert_eq!(t.len(), want.len());
                        let mut out = vec![0xa5u8; t.len() + 4];
                        t.write(&mut out, inner_len, ident, seq, 0);
                        let ctx = format!("{encap:?} {cookie:x?} {l2spec:?} {inner_len}");
                        assert_eq!(&out[..t.len()], &want[..], "{ctx}");
                        assert_eq!(&out[t.len()..], &[0xa5; 4], "{ctx}");
                        let ip = ipv4::Packet::new_unchecked(&out[14..]);
                        assert!(ip.verify_checksum(), "{ctx}");
                        assert_eq!(ref_csum(&out[14..34]), 0, "{ctx}");
                        assert_eq!(
                            usize::from(ip.total_len()),
                            t.len() - 14 + inner_len,
                            "{ctx}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn test_template_bytes_exact() {
        // UDP, 4-byte cookie, default sublayer: fully spelled out.
        let p = params(Encap::Udp, &[0xde, 0xad, 0xbe, 0xef], L2Spec::Default);
        let t = EncapTemplate::new(&p);
        assert_eq!(t.len(), 58);
        assert!(t.has_udp() && t.has_sublayer());
        let mut out = [0u8; 58];
        t.write(&mut out, 100, 0x0102, 0x0003_0405, 0);
        let mut want: Vec<u8> = vec![
            0x00, 0x1b, 0x21, 0x3a, 0x4c, 0x5d, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00,
            // IPv4: tos 46<<2 = 0xb8, total 20+8+16+100 = 144
            0x45, 0xb8, 0x00, 0x90, 0x01, 0x02, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 192, 0, 2, 1,
            198, 51, 100, 254, //
            // UDP: 1701 -> 50000, len 8+16+100 = 124, csum 0
            0x06, 0xa5, 0xc3, 0x50, 0x00, 0x7c, 0x00, 0x00, //
            // L2TPv3 over UDP: ver 3, reserved, session, cookie, sublayer
            0x00, 0x03, 0x00, 0x00, 0xca, 0xfe, 0xf0, 0x0d, 0xde, 0xad, 0xbe, 0xef, 0x40, 0x03,
            0x04, 0x05,
        ];
        let c = ref_csum(&want[14..34]);
        want[24..26].copy_from_slice(&c.to_be_bytes());
        assert_eq!(&out[..], &want[..]);

        // IP, no cookie, no sublayer: 38 bytes.
        let p = params(Encap::Ip, &[], L2Spec::None);
        let t = EncapTemplate::new(&p);
        assert_eq!(t.len(), 38);
        assert!(!t.has_udp() && !t.has_sublayer());
        assert_eq!(t.bytes()[23], 115);
        assert_eq!(&t.bytes()[34..], &[0xca, 0xfe, 0xf0, 0x0d]);
    }

    /// The template's IPv4 checksum is finished from a partial sum, never
    /// by eqn. 3, so it has no 0x0000/0xffff ambiguity: where the header
    /// sums to 0xffff it must be (and is) 0x0000, like a recomputation.
    #[test]
    fn test_ip_checksum_zero() {
        let p = params(Encap::Udp, &[], L2Spec::None);
        let t = EncapTemplate::new(&p);
        let mut hits = 0;
        for ident in 0..=u16::MAX {
            let mut out = vec![0xa5u8; t.len()];
            t.write(&mut out, 100, ident, 0, 0);
            let c = u16::from_be_bytes([out[24], out[25]]);
            assert_ne!(c, 0xffff);
            if c == 0 {
                hits += 1;
                assert_eq!(ref_csum(&out[14..34]), 0, "verifies");
                out[24..26].copy_from_slice(&[0, 0]);
                assert_eq!(ref_csum(&out[14..34]), 0x0000, "recomputed");
            }
        }
        assert_eq!(hits, 1, "one ident makes the header sum 0xffff");
    }

    #[test]
    fn test_max_len() {
        let t = EncapTemplate::new(&params(Encap::Udp, &[0; 8], L2Spec::Default));
        assert_eq!(t.len(), 62);
        assert!(t.len() <= MAX_LEN);
    }

    #[test]
    fn test_sequencing_off() {
        let p = params(Encap::Ip, &[], L2Spec::Default);
        let mut t = EncapTemplate::new(&p);
        t.set_sequencing(false);
        assert!(!t.sequencing());
        let mut out = [0xa5u8; 42];
        t.write(&mut out, 60, 7, 0x0012_3456, 0);
        assert_eq!(&out[38..42], &[0, 0, 0, 0]);
        t.set_sequencing(true);
        assert!(t.sequencing());
        t.write(&mut out, 60, 7, 0x0012_3456, 0);
        assert_eq!(&out[38..42], &[0x40, 0x12, 0x34, 0x56]);
        // No sublayer: no effect.
        let mut t = EncapTemplate::new(&params(Encap::Ip, &[], L2Spec::None));
        let before = t;
        t.set_sequencing(false);
        assert_eq!(t, before);
        t.set_sequencing(true);
        assert!(!t.sequencing());
    }

    #[test]
    fn test_no_dont_frag_no_dscp() {
        let mut p = params(Encap::Udp, &[], L2Spec::None);
        p.dont_frag = false;
        p.dscp = 0;
        let t = EncapTemplate::new(&p);
        let mut out = [0u8; 50];
        t.write(&mut out, 1000, 0xbeef, 0, 0);
        assert_eq!(&out[..], &reference(&p, 1000, 0xbeef, 0)[..]);
        assert_eq!(out[20], 0);
        assert_eq!(out[15], 0);
    }

    #[test]
    #[cfg(not(debug_assertions))]
    fn test_write_short_dst_no_panic() {
        let t = EncapTemplate::new(&params(Encap::Udp, &[], L2Spec::None));
        let mut out = [0xa5u8; 10];
        t.write(&mut out, 60, 0, 0, 0);
        assert_eq!(out, [0xa5; 10]);
        let mut out = [0u8; 64];
        t.write(&mut out, usize::MAX, 0, 0, 0);
    }

    const SRC6: &str = "2001:db8:1::1";
    const DST6: &str = "2001:db8:2::a";

    /// IPv6 template parameters for tests (also the worker's).
    pub(crate) fn params6(
        encap: Encap,
        cookie: &[u8],
        l2spec: L2Spec,
        sum: UdpChecksum,
    ) -> TemplateParams6 {
        TemplateParams6 {
            src_mac: MacAddr([0x02, 0x00, 0x00, 0x00, 0x00, 0x01]),
            dst_mac: MacAddr([0x00, 0x1b, 0x21, 0x3a, 0x4c, 0x5d]),
            src_ip: SRC6.parse().unwrap(),
            dst_ip: DST6.parse().unwrap(),
            encap,
            udp_src_port: 1701,
            udp_dst_port: 50000,
            session_id: 0xcafe_f00d,
            cookie: Cookie::new(cookie).unwrap(),
            l2spec,
            hop_limit: 64,
            dscp: 46,
            udp_checksum: sum,
        }
    }

    /// The expected IPv6 header, byte by byte from RFC 8200 §3, RFC 768
    /// and RFC 3931 §4.1.1/§4.1.2.1 (not through the crate's emitters);
    /// the UDP checksum computed by `ref_csum` over the pseudo-header
    /// (RFC 8200 §8.1), the datagram and `inner`.
    fn reference6(
        encap: Encap,
        cookie: &[u8],
        sublayer: Option<u32>,
        compute: bool,
        inner: &[u8],
    ) -> Vec<u8> {
        let src: Ipv6Addr = SRC6.parse().unwrap();
        let dst: Ipv6Addr = DST6.parse().unwrap();
        let mut l2tp = Vec::new();
        if encap == Encap::Udp {
            l2tp.extend_from_slice(&[0x00, 0x03, 0x00, 0x00]);
        }
        l2tp.extend_from_slice(&[0xca, 0xfe, 0xf0, 0x0d]);
        l2tp.extend_from_slice(cookie);
        if let Some(seq) = sublayer {
            l2tp.extend_from_slice(&[0x40, (seq >> 16) as u8, (seq >> 8) as u8, seq as u8]);
        }
        let mut l4 = Vec::new();
        if encap == Encap::Udp {
            let ulen = (8 + l2tp.len() + inner.len()) as u16;
            l4.extend_from_slice(&[0x06, 0xa5, 0xc3, 0x50]);
            l4.extend_from_slice(&ulen.to_be_bytes());
            l4.extend_from_slice(&[0, 0]);
        }
        l4.extend_from_slice(&l2tp);
        let plen = (l4.len() + inner.len()) as u16;
        if encap == Encap::Udp && compute {
            let mut ph = Vec::new();
            ph.extend_from_slice(&src.octets());
            ph.extend_from_slice(&dst.octets());
            ph.extend_from_slice(&u32::from(plen).to_be_bytes());
            ph.extend_from_slice(&[0, 0, 0, 17]);
            ph.extend_from_slice(&l4);
            ph.extend_from_slice(inner);
            let c = match ref_csum(&ph) {
                0 => 0xffff,
                c => c,
            };
            l4[6..8].copy_from_slice(&c.to_be_bytes());
        }
        let mut f = vec![
            0x00, 0x1b, 0x21, 0x3a, 0x4c, 0x5d, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86, 0xdd,
            // version 6, traffic class 46 << 2 = 0xb8, flow label 0
            0x6b, 0x80, 0x00, 0x00,
        ];
        f.extend_from_slice(&plen.to_be_bytes());
        f.push(if encap == Encap::Udp { 17 } else { 115 });
        f.push(64);
        f.extend_from_slice(&src.octets());
        f.extend_from_slice(&dst.octets());
        f.extend_from_slice(&l4);
        f
    }

    #[test]
    fn test_v6_template_bytes_exact() {
        let cookies: [&[u8]; 3] = [&[], &[0xde, 0xad, 0xbe, 0xef], &[1, 2, 3, 4, 5, 6, 7, 8]];
        let inners: [Vec<u8>; 3] = [
            (0..60u8).collect(),
            (0..=255u8).cycle().take(1501).collect(),
            vec![0xff; 64],
        ];
        for encap in [Encap::Ip, Encap::Udp] {
            for cookie in cookies {
                for l2spec in [L2Spec::None, L2Spec::Default] {
                    for sum in [UdpChecksum::Compute, UdpChecksum::ZeroAllowed] {
                        let t = EncapTemplate::new6(&params6(encap, cookie, l2spec, sum));
                        assert!(t.is_ipv6());
                        let compute = encap == Encap::Udp && sum == UdpChecksum::Compute;
                        assert_eq!(t.needs_inner_sum(), compute);
                        for (inner, seq) in inners.iter().zip([0u32, 0x00ab_cdef, 0xff12_3456]) {
                            let sub = (l2spec == L2Spec::Default).then_some(seq & 0x00ff_ffff);
                            let want = reference6(encap, cookie, sub, compute, inner);
                            let ctx = format!("{encap:?} {cookie:x?} {l2spec:?} {sum:?}");
                            assert_eq!(t.len(), want.len(), "{ctx}");
                            let mut out = vec![0xa5u8; t.len() + 4];
                            let isum = if t.needs_inner_sum() {
                                checksum::sum(inner)
                            } else {
                                0x1234
                            };
                            t.write(&mut out, inner.len(), 0x7777, seq, isum);
                            assert_eq!(&out[..t.len()], &want[..], "{ctx}");
                            assert_eq!(&out[t.len()..], &[0xa5; 4], "{ctx}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn test_v6_max_len_and_udp_verifies() {
        let p = params6(Encap::Udp, &[0; 8], L2Spec::Default, UdpChecksum::Compute);
        let t = EncapTemplate::new6(&p);
        assert_eq!(t.len(), 82);
        assert!(t.len() <= MAX_LEN && MAX_LEN.is_multiple_of(8));
        // The datagram verifies with the crate's receive-side check too.
        let inner: Vec<u8> = (0..=255u8).cycle().take(999).collect();
        let mut out = vec![0u8; t.len() + inner.len()];
        t.write(&mut out, inner.len(), 0, 5, checksum::sum(&inner));
        out[t.len()..].copy_from_slice(&inner);
        let u = udp::Packet::new_checked(&out[54..]).unwrap();
        assert_eq!(
            ipv6::verify_udp_checksum(&u, p.src_ip, p.dst_ip, UdpChecksum::Compute),
            Ok(())
        );
        let t = EncapTemplate::new6(&params6(Encap::Ip, &[], L2Spec::None, UdpChecksum::Compute));
        assert_eq!(t.len(), 58);
        assert!(!t.needs_inner_sum());
    }
}
