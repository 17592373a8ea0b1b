//! IPv6 (RFC 8200): the fixed header, the extension header walk, the
//! upper-layer checksum, and the addresses neighbour discovery needs.
//!
//! Where each check comes from:
//!
//! * [`Packet::check_len`]: RFC 8200 §3 (40-byte header, Payload Length
//!   counts everything after it, extension headers included).
//! * [`walk_extensions`]: RFC 8200 §4 and §4.1 (Hop-by-Hop only
//!   immediately after the IPv6 header; any other order accepted),
//!   §4.2 (options: Pad1, PadN, the two high bits of an unrecognised
//!   option's type say skip or discard), §4.3 and §4.6 (Hop-by-Hop and
//!   Destination Options length in 8-octet units, not counting the
//!   first 8), §4.4 (Routing: Segments Left 0 means ignore the header;
//!   las is no router, so a non-zero Segments Left is dropped), §4.5
//!   (Fragment: 8 bytes; M = 1 with a length not a multiple of 8, or an
//!   offset and length beyond 65,535, are discarded), RFC 6946 (an
//!   atomic fragment, offset 0 and M = 0, is processed as if it had no
//!   Fragment header), RFC 4302 §2.2 (AH length in 4-octet units minus 2).
//!   The walk is bounded by a header count and a chain length chosen by
//!   the caller (RFC 8200 §4 puts no limit; RFC 7045 and RFC 9098 note
//!   that middleboxes and hosts must pick one).
//! * [`checksum`] and [`verify_checksum`]: the upper-layer pseudo-header
//!   of RFC 8200 §8.1. With a Routing header, the pseudo-header carries
//!   the final destination; the walk accepts only Routing headers with
//!   Segments Left 0, whose final destination is the IPv6 destination.
//! * [`verify_udp_checksum`] / [`fill_udp_checksum`]: RFC 8200 §8.1
//!   (a UDP checksum is mandatory over IPv6; a computed 0 is sent as
//!   0xffff; a received 0 is discarded), relaxed by RFC 6935 §5 and RFC
//!   6936 §5 for tunnel protocols (a zero checksum may be sent and, on
//!   the tunnel's port, accepted). [`UdpChecksum`] is that choice.
//! * [`solicited_node`]: RFC 4291 §2.7.1; [`multicast_mac`]: RFC 2464 §7.

use std::net::Ipv6Addr;

use super::checksum as csum;
use super::ethernet::MacAddr;
use super::ipv4::protocol;
use super::udp;
use super::{Error, Result};

/// Length of the fixed IPv6 header.
pub const HEADER_LEN: usize = 40;

mod field {
    use crate::wire::Field;
    pub const VER_TC_FLOW: Field = 0..4;
    pub const PAYLOAD_LEN: Field = 4..6;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC_ADDR: Field = 8..24;
    pub const DST_ADDR: Field = 24..40;
}

fn addr(b: &[u8]) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a.copy_from_slice(b);
    Ipv6Addr::from(a)
}

fn vtf(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// A read/write view of an IPv6 packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Ensures buffer >= 40 and `40 + payload_len <= buffer len`. Does not
    /// check the version.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN || HEADER_LEN + usize::from(self.payload_len()) > len {
            return Err(Error);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[0] >> 4
    }

    pub fn traffic_class(&self) -> u8 {
        (vtf(&self.buffer.as_ref()[field::VER_TC_FLOW]) >> 20) as u8
    }

    pub fn flow_label(&self) -> u32 {
        vtf(&self.buffer.as_ref()[field::VER_TC_FLOW]) & 0x000f_ffff
    }

    pub fn payload_len(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::PAYLOAD_LEN];
        u16::from_be_bytes([b[0], b[1]])
    }

    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NEXT_HEADER]
    }

    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    pub fn src_addr(&self) -> Ipv6Addr {
        addr(&self.buffer.as_ref()[field::SRC_ADDR])
    }

    pub fn dst_addr(&self) -> Ipv6Addr {
        addr(&self.buffer.as_ref()[field::DST_ADDR])
    }

    /// The payload, bounded by `payload_len` (not by the buffer end).
    pub fn payload(&self) -> &[u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        &self.buffer.as_ref()[HEADER_LEN..end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set_vtf(&mut self, v: u32) {
        self.buffer.as_mut()[field::VER_TC_FLOW].copy_from_slice(&v.to_be_bytes())
    }

    pub fn set_version(&mut self, v: u8) {
        let cur = vtf(&self.buffer.as_ref()[field::VER_TC_FLOW]);
        self.set_vtf((cur & 0x0fff_ffff) | (u32::from(v & 0xf) << 28))
    }

    pub fn set_traffic_class(&mut self, tc: u8) {
        let cur = vtf(&self.buffer.as_ref()[field::VER_TC_FLOW]);
        self.set_vtf((cur & 0xf00f_ffff) | (u32::from(tc) << 20))
    }

    pub fn set_flow_label(&mut self, fl: u32) {
        let cur = vtf(&self.buffer.as_ref()[field::VER_TC_FLOW]);
        self.set_vtf((cur & 0xfff0_0000) | (fl & 0x000f_ffff))
    }

    pub fn set_payload_len(&mut self, v: u16) {
        self.buffer.as_mut()[field::PAYLOAD_LEN].copy_from_slice(&v.to_be_bytes())
    }

    pub fn set_next_header(&mut self, v: u8) {
        self.buffer.as_mut()[field::NEXT_HEADER] = v
    }

    pub fn set_hop_limit(&mut self, v: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = v
    }

    pub fn set_src_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&a.octets())
    }

    pub fn set_dst_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&a.octets())
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
}

/// An owned IPv6 fixed header (extension headers are not represented:
/// `next_header` is the first one, `payload_len` counts them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Repr {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub next_header: u8,
    /// Payload length; must fit in a `u16` (`emit` saturates otherwise;
    /// jumbograms, RFC 2675, are not supported).
    pub payload_len: usize,
    pub hop_limit: u8,
    pub traffic_class: u8,
    /// Flow label (20 bits; `emit` masks the rest).
    pub flow_label: u32,
}

impl Ipv6Repr {
    /// Parses a checked packet: rejects a version other than 6.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Ipv6Repr> {
        p.check_len()?;
        if p.version() != 6 {
            return Err(Error);
        }
        Ok(Ipv6Repr {
            src: p.src_addr(),
            dst: p.dst_addr(),
            next_header: p.next_header(),
            payload_len: usize::from(p.payload_len()),
            hop_limit: p.hop_limit(),
            traffic_class: p.traffic_class(),
            flow_label: p.flow_label(),
        })
    }

    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the 40-byte header. The packet must hold at least
    /// `HEADER_LEN` bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) {
        let len = u16::try_from(self.payload_len).unwrap_or(u16::MAX);
        p.set_vtf(
            (6 << 28) | (u32::from(self.traffic_class) << 20) | (self.flow_label & 0x000f_ffff),
        );
        p.set_payload_len(len);
        p.set_next_header(self.next_header);
        p.set_hop_limit(self.hop_limit);
        p.set_src_addr(self.src);
        p.set_dst_addr(self.dst);
    }
}

/// The solicited-node multicast address of `addr` (RFC 4291 §2.7.1):
/// `ff02::1:ff00:0/104` with the low 24 bits of `addr`.
pub fn solicited_node(addr: Ipv6Addr) -> Ipv6Addr {
    let o = addr.octets();
    Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(o[13]),
        u16::from_be_bytes([o[14], o[15]]),
    )
}

/// Whether `addr` is a solicited-node multicast address (ff02::1:ffXX:XXXX).
pub fn is_solicited_node(addr: Ipv6Addr) -> bool {
    let o = addr.octets();
    o[..13] == [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff]
}

/// The Ethernet destination of an IPv6 multicast address (RFC 2464 §7):
/// 33:33 followed by the address's low 32 bits. Any address is mapped;
/// the caller makes sure it is multicast.
pub fn multicast_mac(addr: Ipv6Addr) -> MacAddr {
    let o = addr.octets();
    MacAddr([0x33, 0x33, o[12], o[13], o[14], o[15]])
}

/// The all-nodes link-local multicast address, ff02::1 (RFC 4291 §2.7.1).
/// The link-local address of an interface with MAC `mac`: fe80::/64
/// with the modified EUI-64 interface identifier (RFC 4291 appendix A,
/// RFC 4862 §5.3).
pub fn link_local(mac: [u8; 6]) -> Ipv6Addr {
    Ipv6Addr::from([
        0xfe,
        0x80,
        0,
        0,
        0,
        0,
        0,
        0,
        mac[0] ^ 0x02,
        mac[1],
        mac[2],
        0xff,
        0xfe,
        mac[3],
        mac[4],
        mac[5],
    ])
}

pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

fn upper_len(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// The upper-layer checksum of `data` (header with a zero checksum
/// field, and payload) under the RFC 8200 §8.1 pseudo-header, ready to
/// store. `data.len()` is the upper-layer packet length.
pub fn checksum(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, data: &[u8]) -> u16 {
    let ph = csum::pseudo_header_v6(src, dst, next_header, upper_len(data.len()));
    !csum::fold(csum::combine(ph, csum::sum(data)))
}

/// Whether `data` (with its checksum field as received) verifies under
/// the RFC 8200 §8.1 pseudo-header.
pub fn verify_checksum(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, data: &[u8]) -> bool {
    let ph = csum::pseudo_header_v6(src, dst, next_header, upper_len(data.len()));
    csum::fold(csum::combine(ph, csum::sum(data))) == 0xffff
}

/// The UDP checksum over IPv6, as the encapsulation is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum UdpChecksum {
    /// RFC 8200 §8.1: compute the checksum on send (0 goes out as
    /// 0xffff); on receive, a zero checksum is dropped
    /// ([`UdpError::ZeroChecksum`]) and any other must verify.
    #[default]
    Compute,
    /// RFC 6935 §5 / RFC 6936 §5, for a tunnel's own UDP port only: send
    /// a zero checksum (skip the sum); on receive, accept zero, and still
    /// verify a non-zero checksum (RFC 6936 §5: zero-checksum mode must
    /// not turn off the check of a checksum that is present).
    ZeroAllowed,
}

/// Why a UDP datagram over IPv6 was refused. Each is one drop counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UdpError {
    /// The UDP length field is below 8 or beyond the buffer.
    Truncated,
    /// A zero checksum under [`UdpChecksum::Compute`].
    ZeroChecksum,
    /// The checksum does not verify.
    BadChecksum,
}

impl UdpError {
    pub const ALL: &'static [UdpError] = &[
        UdpError::Truncated,
        UdpError::ZeroChecksum,
        UdpError::BadChecksum,
    ];
    pub const COUNT: usize = Self::ALL.len();

    /// The counter's name.
    pub const fn name(self) -> &'static str {
        match self {
            UdpError::Truncated => "udp6_truncated",
            UdpError::ZeroChecksum => "udp6_zero_checksum",
            UdpError::BadChecksum => "udp6_bad_checksum",
        }
    }
}

impl From<UdpError> for Error {
    fn from(_: UdpError) -> Error {
        Error
    }
}

/// Sum of the UDP datagram as the view shows it (header words from the
/// getters, then the payload; the payload starts at an even offset).
fn udp_sum<T: AsRef<[u8]>>(p: &udp::Packet<T>) -> u32 {
    let hdr = u32::from(p.src_port())
        + u32::from(p.dst_port())
        + u32::from(p.len())
        + u32::from(p.checksum());
    csum::combine(hdr, csum::sum(p.payload()))
}

/// Verifies a UDP datagram received over IPv6 from `src` to `dst`
/// (the final destination, RFC 8200 §8.1) under `policy`.
pub fn verify_udp_checksum<T: AsRef<[u8]>>(
    p: &udp::Packet<T>,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    policy: UdpChecksum,
) -> core::result::Result<(), UdpError> {
    p.check_len().map_err(|_| UdpError::Truncated)?;
    if p.checksum() == 0 {
        return match policy {
            UdpChecksum::Compute => Err(UdpError::ZeroChecksum),
            UdpChecksum::ZeroAllowed => Ok(()),
        };
    }
    let ph = csum::pseudo_header_v6(src, dst, protocol::UDP, u32::from(p.len()));
    if csum::fold(csum::combine(ph, udp_sum(p))) == 0xffff {
        Ok(())
    } else {
        Err(UdpError::BadChecksum)
    }
}

/// Stores the checksum of a UDP datagram sent over IPv6 from `src` to
/// `dst`: computed (a computed 0 is sent as 0xffff, RFC 8200 §8.1) under
/// [`UdpChecksum::Compute`], zero under [`UdpChecksum::ZeroAllowed`].
/// Fails, writing nothing, if the length field does not fit the buffer.
pub fn fill_udp_checksum<T: AsRef<[u8]> + AsMut<[u8]>>(
    p: &mut udp::Packet<T>,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    policy: UdpChecksum,
) -> core::result::Result<(), UdpError> {
    p.check_len().map_err(|_| UdpError::Truncated)?;
    p.set_checksum(0);
    if policy == UdpChecksum::ZeroAllowed {
        return Ok(());
    }
    let ph = csum::pseudo_header_v6(src, dst, protocol::UDP, u32::from(p.len()));
    let c = !csum::fold(csum::combine(ph, udp_sum(p)));
    p.set_checksum(if c == 0 { 0xffff } else { c });
    Ok(())
}

/// Next-header values of extension headers (IANA "IPv6 Extension Header
/// Types", RFC 8200 §4) and No Next Header.
pub mod ext {
    pub const HOP_BY_HOP: u8 = 0;
    pub const ROUTING: u8 = 43;
    pub const FRAGMENT: u8 = 44;
    /// Encapsulating Security Payload (RFC 4303): the rest is encrypted.
    pub const ESP: u8 = 50;
    /// Authentication Header (RFC 4302).
    pub const AH: u8 = 51;
    /// No Next Header (RFC 8200 §4.7).
    pub const NO_NEXT_HEADER: u8 = 59;
    pub const DESTINATION_OPTIONS: u8 = 60;
    /// Mobility (RFC 6275).
    pub const MOBILITY: u8 = 135;
    /// Host Identity Protocol (RFC 7401).
    pub const HIP: u8 = 139;
    /// Shim6 (RFC 5533).
    pub const SHIM6: u8 = 140;
    /// Reserved for experimentation (RFC 3692, RFC 4727).
    pub const EXPERIMENT_1: u8 = 253;
    pub const EXPERIMENT_2: u8 = 254;
}

/// Length of the Fragment header (RFC 8200 §4.5).
pub const FRAGMENT_HEADER_LEN: usize = 8;

/// A bound for [`walk_extensions`]: extension headers per packet. Real
/// traffic to a tunnel endpoint carries none or one (a Fragment
/// header); a long chain is an attack on the parser.
pub const DEFAULT_MAX_EXTENSIONS: usize = 8;

/// A bound for [`walk_extensions`]: bytes of extension headers before
/// the upper-layer header (or the fragment data).
pub const DEFAULT_MAX_CHAIN_LEN: usize = 256;

/// Why an extension header walk gave up. Each variant means one thing,
/// so the data path can count each under its own name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExtError {
    /// Shorter than the 40-byte fixed header, or Payload Length beyond
    /// the buffer (RFC 8200 §3).
    Truncated,
    /// The version field is not 6.
    BadVersion,
    /// An extension header runs past the end of the payload.
    ChainTruncated,
    /// More extension headers than the caller's bound.
    TooManyExtensions,
    /// The extension headers are longer than the caller's bound.
    ChainTooLong,
    /// A Hop-by-Hop Options header anywhere but first (RFC 8200 §4.1).
    HopByHopNotFirst,
    /// A TLV option runs past the end of its header (RFC 8200 §4.2).
    BadOption,
    /// An unrecognised option whose type says "discard" (its two high
    /// bits are not 00; RFC 8200 §4.2). Jumbo Payload (0xc2) is one:
    /// las does not take jumbograms.
    UnrecognizedOption,
    /// A Routing header with Segments Left not 0 (RFC 8200 §4.4): the
    /// packet is to be forwarded, and las is not a router.
    RoutingSegmentsLeft,
    /// A fragment with M = 1 whose length is not a multiple of 8 octets
    /// (RFC 8200 §4.5).
    FragmentNotMultipleOf8,
    /// A fragment whose offset and length pass 65,535 octets of
    /// reassembled payload (RFC 8200 §4.5).
    FragmentTooBig,
    /// A known extension header that las cannot walk: ESP (the rest is
    /// encrypted), Mobility, HIP, Shim6, or the experimental 253/254.
    UnsupportedExtension,
    /// A next-header value that is neither a walked extension header nor
    /// an upper-layer protocol las terminates (L2TP 115, UDP, ICMPv6,
    /// No Next Header): TCP, say, or an unknown extension.
    UnknownNextHeader,
}

impl ExtError {
    pub const ALL: &'static [ExtError] = &[
        ExtError::Truncated,
        ExtError::BadVersion,
        ExtError::ChainTruncated,
        ExtError::TooManyExtensions,
        ExtError::ChainTooLong,
        ExtError::HopByHopNotFirst,
        ExtError::BadOption,
        ExtError::UnrecognizedOption,
        ExtError::RoutingSegmentsLeft,
        ExtError::FragmentNotMultipleOf8,
        ExtError::FragmentTooBig,
        ExtError::UnsupportedExtension,
        ExtError::UnknownNextHeader,
    ];
    pub const COUNT: usize = Self::ALL.len();

    /// The counter's name.
    pub const fn name(self) -> &'static str {
        match self {
            ExtError::Truncated => "ipv6_truncated",
            ExtError::BadVersion => "ipv6_bad_version",
            ExtError::ChainTruncated => "ipv6_ext_truncated",
            ExtError::TooManyExtensions => "ipv6_too_many_extensions",
            ExtError::ChainTooLong => "ipv6_ext_chain_too_long",
            ExtError::HopByHopNotFirst => "ipv6_hop_by_hop_not_first",
            ExtError::BadOption => "ipv6_bad_option",
            ExtError::UnrecognizedOption => "ipv6_unrecognized_option",
            ExtError::RoutingSegmentsLeft => "ipv6_routing_segments_left",
            ExtError::FragmentNotMultipleOf8 => "ipv6_fragment_not_multiple_of_8",
            ExtError::FragmentTooBig => "ipv6_fragment_too_big",
            ExtError::UnsupportedExtension => "ipv6_unsupported_extension",
            ExtError::UnknownNextHeader => "ipv6_unknown_next_header",
        }
    }
}

impl From<ExtError> for Error {
    fn from(_: ExtError) -> Error {
        Error
    }
}

/// A Fragment header found by [`walk_extensions`] (RFC 8200 §4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fragment {
    /// Offset of the Fragment header from the start of the IPv6 header
    /// (what `rte_ipv6_frag_reassemble_packet` is given).
    pub header_offset: usize,
    /// The Next Header field of the Fragment header.
    pub next_header: u8,
    /// Fragment offset in bytes (a multiple of 8).
    pub offset: u16,
    /// The M flag: more fragments follow.
    pub more: bool,
    pub ident: u32,
}

/// Where the upper-layer header starts, as found by [`walk_extensions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Extensions {
    /// The upper-layer protocol: `protocol::L2TP`, `protocol::UDP`,
    /// `protocol::IPV6_ICMP` or `ext::NO_NEXT_HEADER`; for a fragment,
    /// the Fragment header's Next Header.
    pub protocol: u8,
    /// Offset of the upper-layer header (of the fragment data, for a
    /// fragment) from the start of the IPv6 header. At most the end of
    /// the payload.
    pub offset: usize,
    /// Extension headers walked.
    pub count: usize,
    /// `Some` when the packet is a fragment (not an atomic one): the walk
    /// stops at its Fragment header, and the caller hands the packet to
    /// reassembly and walks the reassembled packet again.
    pub fragment: Option<Fragment>,
}

/// Checks the TLV options of a Hop-by-Hop or Destination Options header
/// (RFC 8200 §4.2). Pad1 and PadN are padding; any other option is not
/// acted on, so it is skipped or discarded as its type's high bits say.
fn check_options(mut opts: &[u8]) -> core::result::Result<(), ExtError> {
    while let Some((&kind, rest)) = opts.split_first() {
        if kind == 0 {
            opts = rest;
            continue;
        }
        let Some((&len, rest)) = rest.split_first() else {
            return Err(ExtError::BadOption);
        };
        let Some(rest) = rest.get(usize::from(len)..) else {
            return Err(ExtError::BadOption);
        };
        if kind != 1 && kind >> 6 != 0 {
            return Err(ExtError::UnrecognizedOption);
        }
        opts = rest;
    }
    Ok(())
}

/// Walks the extension headers of the IPv6 packet in `packet` (starting
/// at the fixed header), and returns the upper-layer protocol and where
/// it starts. Walks Hop-by-Hop, Routing, Destination Options, Fragment
/// and AH; stops at L2TP (115), UDP, ICMPv6 and No Next Header. At most
/// `max_headers` headers and `max_chain_len` bytes of them. A
/// non-atomic fragment stops the walk (see [`Extensions::fragment`]).
///
/// Never panics, never allocates; each failure is its own [`ExtError`].
pub fn walk_extensions(
    packet: &[u8],
    max_headers: usize,
    max_chain_len: usize,
) -> core::result::Result<Extensions, ExtError> {
    let p = Packet::new_checked(packet).map_err(|_| ExtError::Truncated)?;
    if p.version() != 6 {
        return Err(ExtError::BadVersion);
    }
    let payload = p.payload();
    let mut nh = p.next_header();
    let mut off = 0usize; // into `payload`
    let mut count = 0usize;
    loop {
        match nh {
            ext::HOP_BY_HOP | ext::ROUTING | ext::DESTINATION_OPTIONS | ext::FRAGMENT | ext::AH => {
            }
            protocol::L2TP | protocol::UDP | protocol::IPV6_ICMP | ext::NO_NEXT_HEADER => {
                return Ok(Extensions {
                    protocol: nh,
                    offset: HEADER_LEN + off,
                    count,
                    fragment: None,
                });
            }
            ext::ESP
            | ext::MOBILITY
            | ext::HIP
            | ext::SHIM6
            | ext::EXPERIMENT_1
            | ext::EXPERIMENT_2 => return Err(ExtError::UnsupportedExtension),
            _ => return Err(ExtError::UnknownNextHeader),
        }
        if nh == ext::HOP_BY_HOP && count != 0 {
            return Err(ExtError::HopByHopNotFirst);
        }
        if count >= max_headers {
            return Err(ExtError::TooManyExtensions);
        }
        // Every extension header is at least 8 bytes.
        let hdr = payload.get(off..).unwrap_or(&[]);
        let (Some(&next), Some(&len_field)) = (hdr.first(), hdr.get(1)) else {
            return Err(ExtError::ChainTruncated);
        };
        let len = match nh {
            ext::FRAGMENT => FRAGMENT_HEADER_LEN,
            ext::AH => (usize::from(len_field) + 2) * 4,
            _ => (usize::from(len_field) + 1) * 8,
        };
        let Some(hdr) = hdr.get(..len) else {
            return Err(ExtError::ChainTruncated);
        };
        if off + len > max_chain_len {
            return Err(ExtError::ChainTooLong);
        }
        match nh {
            ext::HOP_BY_HOP | ext::DESTINATION_OPTIONS => {
                check_options(hdr.get(2..).unwrap_or(&[]))?;
            }
            ext::ROUTING if hdr.get(3).is_some_and(|&left| left != 0) => {
                return Err(ExtError::RoutingSegmentsLeft);
            }
            ext::FRAGMENT => {
                let w = |i: usize| hdr.get(i).copied().unwrap_or(0);
                let off_m = u16::from_be_bytes([w(2), w(3)]);
                let frag = Fragment {
                    header_offset: HEADER_LEN + off,
                    next_header: next,
                    offset: off_m & 0xfff8,
                    more: off_m & 1 != 0,
                    ident: u32::from_be_bytes([w(4), w(5), w(6), w(7)]),
                };
                // RFC 6946: an atomic fragment is no fragment.
                if frag.offset != 0 || frag.more {
                    let data_start = off + FRAGMENT_HEADER_LEN;
                    let data_len = payload.len() - data_start;
                    if frag.more && !data_len.is_multiple_of(8) {
                        return Err(ExtError::FragmentNotMultipleOf8);
                    }
                    // The unfragmentable part, then the data at its offset.
                    if off + usize::from(frag.offset) + data_len > usize::from(u16::MAX) {
                        return Err(ExtError::FragmentTooBig);
                    }
                    return Ok(Extensions {
                        protocol: next,
                        offset: HEADER_LEN + data_start,
                        count: count + 1,
                        fragment: Some(frag),
                    });
                }
            }
            // Routing with Segments Left 0; AH (not verified here).
            _ => {}
        }
        count += 1;
        off += len;
        nh = next;
    }
}

#[cfg(test)]
mod test {

    #[test]
    fn link_local_is_modified_eui64() {
        // RFC 4291 appendix A's example: 34-56-78-9A-BC-DE gives the
        // interface identifier 3656:78ff:fe9a:bcde.
        let ll = link_local([0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde]);
        assert_eq!(ll, "fe80::3656:78ff:fe9a:bcde".parse::<Ipv6Addr>().unwrap());
    }

    use super::*;

    // ICMPv6 (58) fe80::1 -> ff02::1, TC 0xb8, flow 0x12345, hop limit 255,
    // 4-byte payload + 2 bytes of padding.
    static PACKET: [u8; 46] = [
        0x6b, 0x81, 0x23, 0x45, 0x00, 0x04, 0x3a, 0xff, 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 1, 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x80, 0x00, 0xde, 0xad,
        0x00, 0x00,
    ];

    #[test]
    fn test_deconstruct() {
        let p = Packet::new_checked(&PACKET[..]).unwrap();
        assert_eq!(p.version(), 6);
        assert_eq!(p.traffic_class(), 0xb8);
        assert_eq!(p.flow_label(), 0x12345);
        assert_eq!(p.payload_len(), 4);
        assert_eq!(p.next_header(), 58);
        assert_eq!(p.hop_limit(), 255);
        assert_eq!(p.src_addr(), "fe80::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(p.dst_addr(), "ff02::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(p.payload(), &[0x80, 0x00, 0xde, 0xad]);
    }

    #[test]
    fn test_construct() {
        let mut buf = [0xa5u8; 46];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_version(6);
        p.set_traffic_class(0xb8);
        p.set_flow_label(0x12345);
        p.set_payload_len(4);
        p.set_next_header(58);
        p.set_hop_limit(255);
        p.set_src_addr("fe80::1".parse().unwrap());
        p.set_dst_addr("ff02::1".parse().unwrap());
        p.payload_mut().copy_from_slice(&[0x80, 0x00, 0xde, 0xad]);
        buf[44] = 0;
        buf[45] = 0;
        assert_eq!(buf, PACKET);
    }

    #[test]
    fn test_too_short() {
        for len in 0..44 {
            assert_eq!(
                Packet::new_checked(&PACKET[..len]).err(),
                Some(Error),
                "{len}"
            );
        }
        assert!(Packet::new_checked(&PACKET[..44]).is_ok());
    }

    #[test]
    fn test_bad_payload_len() {
        let mut b = PACKET;
        b[4..6].copy_from_slice(&0xffffu16.to_be_bytes());
        assert_eq!(Packet::new_checked(&b[..]).err(), Some(Error));
    }

    // Reference packets made with scapy 2.8.0 (Ether/IPv6 layers, the
    // Ethernet header cut off here) and decoded by tshark 4.0.17 with
    // `-o udp.check_checksum:TRUE`: no malformed flag, every checksum
    // "Good" (UDP_ZERO: "Illegal checksum value (0)", as Wireshark
    // judges any zero UDP checksum over IPv6; RFC 6936 allows it here).
    //
    // UDP_EXT: IPv6(src="2001:db8::a", dst="2001:db8::1", hlim=64)
    //   /IPv6ExtHdrHopByHop()/IPv6ExtHdrDestOpt()
    //   /IPv6ExtHdrSegmentRouting(addresses=["2001:db8::1"], segleft=0)
    //   /UDP(sport=1701, dport=1701)/Raw(b"\0\x03\0\0\0\0\0\x07")
    // UDP_ZERO: the same without extension headers, UDP(chksum=0).
    // L2TP_IP: IPv6(tc=0xb8, fl=0x12345, nh=115)/Raw(session 0x1001 +
    //   bytes(range(14))).
    // FRAG1, FRAG2: IPv6ExtHdrFragment(nh=115, offset=0, m=1,
    //   id=0x12345678)/Raw(bytes(range(16))) and (offset=2, m=0)
    //   /Raw(bytes(range(16, 21))); tshark reassembles them into one
    //   L2TPv3 data packet for session 0x00010203.
    static UDP_EXT: [u8; 96] = [
        0x60, 0x00, 0x00, 0x00, 0x00, 0x38, 0x00, 0x40, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x3c, 0x00, 0x01, 0x04, 0x00,
        0x00, 0x00, 0x00, 0x2b, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00, 0x11, 0x02, 0x04, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x01, 0x06, 0xa5, 0x06, 0xa5, 0x00, 0x10, 0x96, 0xfd, 0x00, 0x03,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x07,
    ];
    static UDP_ZERO: [u8; 56] = [
        0x60, 0x00, 0x00, 0x00, 0x00, 0x10, 0x11, 0x40, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x06, 0xa5, 0x06, 0xa5, 0x00,
        0x10, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07,
    ];
    static L2TP_IP: [u8; 58] = [
        0x6b, 0x81, 0x23, 0x45, 0x00, 0x12, 0x73, 0x40, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x10, 0x01, 0x00,
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d,
    ];
    static FRAG1: [u8; 64] = [
        0x60, 0x00, 0x00, 0x00, 0x00, 0x18, 0x2c, 0x40, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x73, 0x00, 0x00, 0x01, 0x12,
        0x34, 0x56, 0x78, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
        0x0c, 0x0d, 0x0e, 0x0f,
    ];
    static FRAG2: [u8; 53] = [
        0x60, 0x00, 0x00, 0x00, 0x00, 0x0d, 0x2c, 0x40, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x73, 0x00, 0x00, 0x10, 0x12,
        0x34, 0x56, 0x78, 0x10, 0x11, 0x12, 0x13, 0x14,
    ];

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    const MAXH: usize = DEFAULT_MAX_EXTENSIONS;
    const MAXL: usize = DEFAULT_MAX_CHAIN_LEN;

    fn l2tp_repr() -> Ipv6Repr {
        Ipv6Repr {
            src: a("2001:db8::a"),
            dst: a("2001:db8::1"),
            next_header: protocol::L2TP,
            payload_len: 18,
            hop_limit: 64,
            traffic_class: 0xb8,
            flow_label: 0x12345,
        }
    }

    #[test]
    fn test_repr_parse() {
        let p = Packet::new_checked(&L2TP_IP[..]).unwrap();
        assert_eq!(Ipv6Repr::parse(&p), Ok(l2tp_repr()));
        let mut b = L2TP_IP;
        b[0] = 0x4b;
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(Ipv6Repr::parse(&p), Err(Error));
    }

    #[test]
    fn test_repr_emit() {
        let r = l2tp_repr();
        let mut buf = [0xa5u8; HEADER_LEN];
        assert_eq!(r.buffer_len(), HEADER_LEN);
        r.emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(buf[..], L2TP_IP[..HEADER_LEN]);
        let mut big = r;
        big.payload_len = 70_000;
        big.flow_label = 0xfff_ffff;
        big.emit(&mut Packet::new_unchecked(&mut buf[..]));
        let p = Packet::new_unchecked(&buf[..]);
        assert_eq!((p.payload_len(), p.flow_label()), (0xffff, 0xf_ffff));
        assert_eq!((p.version(), p.traffic_class()), (6, 0xb8));
    }

    #[test]
    fn test_walk_no_extensions() {
        let w = walk_extensions(&L2TP_IP, MAXH, MAXL).unwrap();
        assert_eq!(
            w,
            Extensions {
                protocol: protocol::L2TP,
                offset: 40,
                count: 0,
                fragment: None
            }
        );
        assert_eq!(&L2TP_IP[w.offset..w.offset + 4], &[0, 0, 0x10, 0x01]);
        // Nothing may follow: a walk with no room for extensions works.
        assert_eq!(walk_extensions(&L2TP_IP, 0, 0), Ok(w));
    }

    #[test]
    fn test_walk_hbh_dest_routing_udp() {
        let w = walk_extensions(&UDP_EXT, MAXH, MAXL).unwrap();
        assert_eq!(
            w,
            Extensions {
                protocol: protocol::UDP,
                offset: 40 + 8 + 8 + 24,
                count: 3,
                fragment: None
            }
        );
        let u = udp::Packet::new_checked(&UDP_EXT[w.offset..]).unwrap();
        assert_eq!((u.src_port(), u.dst_port(), u.len()), (1701, 1701, 16));
        // Bounds: exactly enough passes, one less fails.
        assert_eq!(walk_extensions(&UDP_EXT, 3, 40), Ok(w));
        assert_eq!(
            walk_extensions(&UDP_EXT, 2, 40),
            Err(ExtError::TooManyExtensions)
        );
        assert_eq!(
            walk_extensions(&UDP_EXT, 3, 39),
            Err(ExtError::ChainTooLong)
        );
    }

    #[test]
    fn test_udp_checksum_over_ipv6() {
        let (src, dst) = (a("2001:db8::a"), a("2001:db8::1"));
        let u = udp::Packet::new_checked(&UDP_EXT[80..]).unwrap();
        assert_eq!(u.checksum(), 0x96fd);
        for policy in [UdpChecksum::Compute, UdpChecksum::ZeroAllowed] {
            assert_eq!(verify_udp_checksum(&u, src, dst, policy), Ok(()));
            assert_eq!(
                verify_udp_checksum(&u, src, a("2001:db8::2"), policy),
                Err(UdpError::BadChecksum)
            );
        }
        // The generic upper-layer helpers agree.
        assert!(verify_checksum(src, dst, protocol::UDP, &UDP_EXT[80..]));
        let mut d = [0u8; 16];
        d.copy_from_slice(&UDP_EXT[80..]);
        d[6..8].copy_from_slice(&[0, 0]);
        assert_eq!(checksum(src, dst, protocol::UDP, &d), 0x96fd);
        // Fill reproduces scapy's checksum, over a buffer pre-filled 0xa5.
        let mut d = [0xa5u8; 16];
        d[..6].copy_from_slice(&UDP_EXT[80..86]);
        d[8..].copy_from_slice(&UDP_EXT[88..]);
        let mut q = udp::Packet::new_unchecked(&mut d[..]);
        fill_udp_checksum(&mut q, src, dst, UdpChecksum::Compute).unwrap();
        assert_eq!(d[..], UDP_EXT[80..]);
        let mut q = udp::Packet::new_unchecked(&mut d[..]);
        fill_udp_checksum(&mut q, src, dst, UdpChecksum::ZeroAllowed).unwrap();
        assert_eq!(d[..], UDP_ZERO[40..]);
    }

    #[test]
    fn test_udp_zero_checksum_policy() {
        let (src, dst) = (a("2001:db8::a"), a("2001:db8::1"));
        let w = walk_extensions(&UDP_ZERO, MAXH, MAXL).unwrap();
        assert_eq!((w.protocol, w.offset), (protocol::UDP, 40));
        let u = udp::Packet::new_checked(&UDP_ZERO[40..]).unwrap();
        assert_eq!(
            verify_udp_checksum(&u, src, dst, UdpChecksum::Compute),
            Err(UdpError::ZeroChecksum)
        );
        assert_eq!(
            verify_udp_checksum(&u, src, dst, UdpChecksum::ZeroAllowed),
            Ok(())
        );
        // Bad length field: refused, nothing written.
        let mut d = UDP_ZERO;
        d[44..46].copy_from_slice(&17u16.to_be_bytes());
        let mut q = udp::Packet::new_unchecked(&mut d[40..]);
        assert_eq!(
            fill_udp_checksum(&mut q, src, dst, UdpChecksum::Compute),
            Err(UdpError::Truncated)
        );
        assert_eq!(
            verify_udp_checksum(&q, src, dst, UdpChecksum::ZeroAllowed),
            Err(UdpError::Truncated)
        );
        assert_eq!(d[46..48], [0, 0]);
    }

    /// A computed checksum of 0 goes out as 0xffff (RFC 8200 §8.1).
    #[test]
    fn test_udp_checksum_zero_sent_as_ffff() {
        let (src, dst) = (a("2001:db8::a"), a("2001:db8::1"));
        let mut d = [0u8; 10];
        d[4..6].copy_from_slice(&10u16.to_be_bytes());
        let c = checksum(src, dst, protocol::UDP, &d);
        d[8..10].copy_from_slice(&c.to_be_bytes());
        assert_eq!(checksum(src, dst, protocol::UDP, &d), 0);
        let mut q = udp::Packet::new_unchecked(&mut d[..]);
        fill_udp_checksum(&mut q, src, dst, UdpChecksum::Compute).unwrap();
        assert_eq!(q.checksum(), 0xffff);
        assert_eq!(
            verify_udp_checksum(&q, src, dst, UdpChecksum::Compute),
            Ok(())
        );
    }

    #[test]
    fn test_walk_fragments() {
        let frag = |offset, more| Fragment {
            header_offset: 40,
            next_header: protocol::L2TP,
            offset,
            more,
            ident: 0x1234_5678,
        };
        let w = walk_extensions(&FRAG1, MAXH, MAXL).unwrap();
        assert_eq!(
            w,
            Extensions {
                protocol: protocol::L2TP,
                offset: 48,
                count: 1,
                fragment: Some(frag(0, true))
            }
        );
        let w = walk_extensions(&FRAG2, MAXH, MAXL).unwrap();
        assert_eq!(w.fragment, Some(frag(16, false)));
        assert_eq!(&FRAG2[w.offset..], &[0x10, 0x11, 0x12, 0x13, 0x14]);
        // RFC 6946: offset 0 and M = 0 is an atomic fragment, walked past.
        let mut b = FRAG2;
        b[42..44].copy_from_slice(&[0, 0]);
        let w = walk_extensions(&b, MAXH, MAXL).unwrap();
        assert_eq!((w.protocol, w.offset, w.count), (protocol::L2TP, 48, 1));
        assert_eq!(w.fragment, None);
        // The reserved bits (2 and 1 of the offset word) are ignored.
        let mut b = FRAG2;
        b[43] |= 0x06;
        assert_eq!(
            walk_extensions(&b, MAXH, MAXL).unwrap().fragment,
            Some(frag(16, false))
        );
    }

    #[test]
    fn test_walk_bad_fragments() {
        // M = 1 and 15 bytes of data: not a multiple of 8.
        let mut b = FRAG1;
        b[4..6].copy_from_slice(&23u16.to_be_bytes());
        assert_eq!(
            walk_extensions(&b[..63], MAXH, MAXL),
            Err(ExtError::FragmentNotMultipleOf8)
        );
        // The last fragment may end anywhere.
        assert!(walk_extensions(&FRAG2, MAXH, MAXL).is_ok());
        // Offset 65528 + 16 bytes > 65535.
        let mut b = FRAG1;
        b[42..44].copy_from_slice(&0xfff9u16.to_be_bytes());
        assert_eq!(
            walk_extensions(&b, MAXH, MAXL),
            Err(ExtError::FragmentTooBig)
        );
        // Offset 65528 with 7 bytes: exactly 65535.
        let mut b = [0u8; 55];
        b[..53].copy_from_slice(&FRAG2);
        b[4..6].copy_from_slice(&15u16.to_be_bytes());
        b[42..44].copy_from_slice(&0xfff8u16.to_be_bytes());
        assert!(walk_extensions(&b, MAXH, MAXL).is_ok());
        // A fragment header cut short.
        let mut b = FRAG2;
        b[4..6].copy_from_slice(&7u16.to_be_bytes());
        assert_eq!(
            walk_extensions(&b[..47], MAXH, MAXL),
            Err(ExtError::ChainTruncated)
        );
    }

    /// Builds an IPv6 packet whose payload is `chain` (extension headers
    /// and what follows), first next header `nh`.
    fn packet(nh: u8, chain: &[u8]) -> Vec<u8> {
        let mut v = L2TP_IP[..40].to_vec();
        v[4..6].copy_from_slice(&(chain.len() as u16).to_be_bytes());
        v[6] = nh;
        v.extend_from_slice(chain);
        v
    }

    /// `n` Destination Options headers (8 bytes of PadN each), then UDP.
    fn dest_chain(n: usize) -> Vec<u8> {
        let mut c = vec![];
        for i in 0..n {
            let next = if i + 1 == n { protocol::UDP } else { 60 };
            c.extend_from_slice(&[next, 0, 1, 4, 0, 0, 0, 0]);
        }
        c.extend_from_slice(&[0x06, 0xa5, 0x06, 0xa5, 0, 8, 0, 0]);
        c
    }

    #[test]
    fn test_walk_too_many_extensions() {
        let p = packet(ext::DESTINATION_OPTIONS, &dest_chain(9));
        assert_eq!(
            walk_extensions(&p, 8, MAXL),
            Err(ExtError::TooManyExtensions)
        );
        let w = walk_extensions(&p, 9, MAXL).unwrap();
        assert_eq!((w.protocol, w.offset, w.count), (protocol::UDP, 40 + 72, 9));
        // A long chain of the smallest headers cannot pass the bound.
        let p = packet(ext::DESTINATION_OPTIONS, &dest_chain(2000));
        assert_eq!(
            walk_extensions(&p, MAXH, usize::MAX),
            Err(ExtError::TooManyExtensions)
        );
        assert_eq!(
            walk_extensions(&p, usize::MAX, MAXL),
            Err(ExtError::ChainTooLong)
        );
    }

    #[test]
    fn test_walk_chain_longer_than_buffer() {
        // The Destination Options header claims 88 bytes.
        let mut b = UDP_EXT;
        b[49] = 10;
        assert_eq!(
            walk_extensions(&b, MAXH, MAXL),
            Err(ExtError::ChainTruncated)
        );
        // Payload Length ends the packet inside the Routing header; the
        // bytes after it (Ethernet padding, say) are not read.
        for end in [41, 48, 50, 60, 79] {
            let mut b = UDP_EXT;
            b[4..6].copy_from_slice(&(end as u16 - 40).to_be_bytes());
            assert_eq!(
                walk_extensions(&b, MAXH, MAXL),
                Err(ExtError::ChainTruncated),
                "end {end}"
            );
        }
        // Next header says Hop-by-Hop, and there is no payload at all.
        assert_eq!(
            walk_extensions(&packet(0, &[]), MAXH, MAXL),
            Err(ExtError::ChainTruncated)
        );
    }

    #[test]
    fn test_walk_truncated_or_not_ipv6() {
        for len in 0..40 {
            assert_eq!(
                walk_extensions(&UDP_EXT[..len], MAXH, MAXL),
                Err(ExtError::Truncated)
            );
        }
        assert_eq!(
            walk_extensions(&UDP_EXT[..95], MAXH, MAXL),
            Err(ExtError::Truncated)
        );
        let mut b = UDP_EXT;
        b[0] = 0x45;
        assert_eq!(walk_extensions(&b, MAXH, MAXL), Err(ExtError::BadVersion));
    }

    #[test]
    fn test_walk_hop_by_hop_not_first() {
        // Destination Options, then Hop-by-Hop.
        let mut c = vec![0, 0, 1, 4, 0, 0, 0, 0];
        c.extend_from_slice(&dest_chain(1));
        assert_eq!(
            walk_extensions(&packet(60, &c), MAXH, MAXL),
            Err(ExtError::HopByHopNotFirst)
        );
        c[0] = 60;
        assert!(walk_extensions(&packet(60, &c), MAXH, MAXL).is_ok());
        assert!(walk_extensions(&packet(0, &c), MAXH, MAXL).is_ok());
    }

    #[test]
    fn test_walk_options() {
        let with = |opts: [u8; 6]| {
            let mut c = vec![protocol::UDP, 0];
            c.extend_from_slice(&opts);
            c.extend_from_slice(&[0x06, 0xa5, 0x06, 0xa5, 0, 8, 0, 0]);
            walk_extensions(&packet(0, &c), MAXH, MAXL)
        };
        // Pad1 x6; PadN; Router Alert (5) and PadN; unknown skip-type
        // option 0x1e; Tunnel Encapsulation Limit (4) then Pad1 x3.
        for ok in [
            [0, 0, 0, 0, 0, 0],
            [1, 4, 0, 0, 0, 0],
            [5, 2, 0, 0, 1, 0],
            [0x1e, 4, 1, 2, 3, 4],
            [4, 1, 4, 0, 0, 0],
        ] {
            assert_eq!(with(ok).map(|w| w.offset), Ok(48), "{ok:?}");
        }
        // PadN runs past the header; an option type with no length.
        for bad in [[1, 5, 0, 0, 0, 0], [0, 0, 0, 0, 0, 1]] {
            assert_eq!(with(bad), Err(ExtError::BadOption), "{bad:?}");
        }
        // Jumbo Payload (0xc2) and unknown types with action 01, 10, 11.
        for kind in [0xc2, 0x5e, 0x9e, 0xde] {
            assert_eq!(
                with([kind, 4, 0, 0, 0, 0]),
                Err(ExtError::UnrecognizedOption),
                "{kind:#x}"
            );
        }
    }

    #[test]
    fn test_walk_routing_segments_left() {
        let mut b = UDP_EXT;
        assert_eq!(b[56 + 2..56 + 4], [4, 0]); // type 4, segments left 0
        b[59] = 1;
        assert_eq!(
            walk_extensions(&b, MAXH, MAXL),
            Err(ExtError::RoutingSegmentsLeft)
        );
    }

    #[test]
    fn test_walk_ah() {
        // AH (RFC 4302): next header UDP, Payload Len 4 -> (4 + 2) * 4 =
        // 24 bytes (SPI, sequence, 12-byte ICV), then the UDP header.
        let mut c = vec![protocol::UDP, 4, 0, 0, 0, 0, 1, 0, 0, 0, 0, 7];
        c.extend_from_slice(&[0xcc; 12]);
        c.extend_from_slice(&[0x06, 0xa5, 0x06, 0xa5, 0, 8, 0, 0]);
        let w = walk_extensions(&packet(ext::AH, &c), MAXH, MAXL).unwrap();
        assert_eq!((w.protocol, w.offset, w.count), (protocol::UDP, 64, 1));
        c[1] = 5; // 28 bytes: past the UDP header's start, fits the payload
        assert_eq!(
            walk_extensions(&packet(ext::AH, &c), MAXH, MAXL).map(|w| w.offset),
            Ok(68)
        );
        c[1] = 6; // 32 bytes: all of the payload, UDP header empty
        assert_eq!(
            walk_extensions(&packet(ext::AH, &c), MAXH, MAXL).map(|w| w.offset),
            Ok(72)
        );
        c[1] = 7;
        assert_eq!(
            walk_extensions(&packet(ext::AH, &c), MAXH, MAXL),
            Err(ExtError::ChainTruncated)
        );
    }

    #[test]
    fn test_walk_stops_or_refuses() {
        let c = dest_chain(1);
        for (nh, want) in [
            (protocol::L2TP, Ok(protocol::L2TP)),
            (protocol::UDP, Ok(protocol::UDP)),
            (protocol::IPV6_ICMP, Ok(protocol::IPV6_ICMP)),
            (ext::NO_NEXT_HEADER, Ok(ext::NO_NEXT_HEADER)),
            (ext::ESP, Err(ExtError::UnsupportedExtension)),
            (ext::MOBILITY, Err(ExtError::UnsupportedExtension)),
            (ext::HIP, Err(ExtError::UnsupportedExtension)),
            (ext::SHIM6, Err(ExtError::UnsupportedExtension)),
            (253, Err(ExtError::UnsupportedExtension)),
            (254, Err(ExtError::UnsupportedExtension)),
            (protocol::TCP, Err(ExtError::UnknownNextHeader)),
            (4, Err(ExtError::UnknownNextHeader)),
            (255, Err(ExtError::UnknownNextHeader)),
        ] {
            let got = walk_extensions(&packet(nh, &c), MAXH, MAXL).map(|w| w.protocol);
            assert_eq!(got, want, "{nh}");
            // The same after one Destination Options header.
            let mut c2 = vec![nh, 0, 1, 4, 0, 0, 0, 0];
            c2.extend_from_slice(&c);
            let got = walk_extensions(&packet(60, &c2), MAXH, MAXL).map(|w| w.protocol);
            assert_eq!(got, want, "60 then {nh}");
        }
    }

    #[test]
    fn test_error_names_distinct() {
        let mut names: Vec<_> = ExtError::ALL.iter().map(|e| e.name()).collect();
        names.extend(UdpError::ALL.iter().map(|e| e.name()));
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n);
        assert_eq!(n, ExtError::COUNT + UdpError::COUNT);
        assert_eq!(Error::from(ExtError::BadOption), Error);
        assert_eq!(Error::from(UdpError::BadChecksum), Error);
    }

    #[test]
    fn test_multicast_helpers() {
        // RFC 4291 §2.7.1 and RFC 2464 §7.
        let s = solicited_node(a("2001:db8::1234:5678:9abc:def0"));
        assert_eq!(s, a("ff02::1:ffbc:def0"));
        assert!(is_solicited_node(s));
        assert!(!is_solicited_node(ALL_NODES));
        assert!(!is_solicited_node(a("ff02::2:ff00:1")));
        assert_eq!(solicited_node(a("fe80::1")), a("ff02::1:ff00:1"));
        assert_eq!(
            multicast_mac(s),
            MacAddr([0x33, 0x33, 0xff, 0xbc, 0xde, 0xf0])
        );
        assert_eq!(multicast_mac(ALL_NODES), MacAddr([0x33, 0x33, 0, 0, 0, 1]));
    }

    /// `walk_extensions` on random bytes: never panics, and what it
    /// returns lies inside the payload.
    #[test]
    fn test_walk_random_input() {
        let mut next = crate::testing::xorshift(0x9e37_79b9_7f4a_7c15);
        let nhs = [0u8, 43, 44, 51, 60, 17, 58, 115, 59, 50, 6];
        for _ in 0..50_000 {
            let len = (next() % 160) as usize;
            let mut b: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if len >= 40 {
                b[0] = 0x60;
                let pl = (len - 40 - (next() % 4) as usize % (len - 39)) as u16;
                b[4..6].copy_from_slice(&pl.to_be_bytes());
                b[6] = nhs[(next() % nhs.len() as u64) as usize];
                // Plausible chains: small lengths, known next headers.
                let mut i = 40;
                while i + 2 <= len {
                    b[i] = nhs[(next() % nhs.len() as u64) as usize];
                    b[i + 1] %= 4;
                    i += 8 * (1 + usize::from(b[i + 1]));
                }
            }
            if let Ok(w) = walk_extensions(&b, (next() % 10) as usize, MAXL) {
                let p = Packet::new_checked(&b[..]).unwrap();
                assert!(w.offset >= 40 && w.offset <= 40 + p.payload().len());
                assert!(w.count <= 9);
                if let Some(f) = w.fragment {
                    assert_eq!(f.header_offset + 8, w.offset);
                }
            }
        }
    }
}
