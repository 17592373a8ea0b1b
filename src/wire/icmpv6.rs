//! ICMPv6 (RFC 4443): echo, and the Neighbor Discovery (RFC 4861)
//! messages las needs: Neighbor Solicitation and Neighbor Advertisement
//! with the Source/Target Link-Layer Address options.
//!
//! Where each check of [`Icmpv6Repr::parse`] comes from:
//!
//! * the checksum over the RFC 8200 §8.1 pseudo-header (RFC 4443 §2.3),
//!   a message of at least 8 bytes (RFC 4443 §2.1, §4.1), a source that
//!   is not multicast (RFC 4291 §2.7), code 0 for echo (RFC 4443 §4.1,
//!   §4.2);
//! * NS (RFC 4861 §7.1.1) and NA (§7.1.2): Hop Limit 255, code 0, ICMP
//!   length 24 or more, target not multicast, every option with a
//!   non-zero length (§4.6); NS from the unspecified address only to a
//!   solicited-node multicast address and without a Source Link-Layer
//!   Address option; NA to a multicast address only with S = 0; an NA
//!   from an address of its sender's interface (§4.4, so never from
//!   `::`); Link-Layer Address options of 8 bytes (§4.6.1: "the length
//!   for IEEE 802 addresses is 1"; Linux drops the others too).
//!
//! Options las does not know are skipped (§4.6: "silently ignore any
//! options they do not recognize"); the first SLLA/TLLA counts.
//! Each failure is its own [`Icmpv6Error`], a counter on the control core.
//!
//! The emit side writes whole frames ([`emit_frame`] and the helpers
//! after it): NA (solicited, and unsolicited to ff02::1, §7.2.4, §7.2.6),
//! NS (multicast to the solicited-node address, or unicast, §7.2.2,
//! §7.3.3) and echo replies (RFC 4443 §4.2).

use std::net::Ipv6Addr;

use super::ethernet::{self, ethertype, MacAddr};
use super::ipv4::protocol;
use super::ipv6::{self, Ipv6Repr};
use super::{Error, Result};

/// Type, code, checksum, and the 4-byte field every message has.
pub const HEADER_LEN: usize = 8;

/// NS and NA up to the end of the target address.
pub const ND_HEADER_LEN: usize = 24;

/// A Link-Layer Address option for Ethernet (type, length 1, MAC).
pub const LLA_OPTION_LEN: usize = 8;

/// Hop limit of every ND message (RFC 4861 §7.1).
pub const ND_HOP_LIMIT: u8 = 255;

/// Hop limit of the echo replies las sends.
pub const ECHO_HOP_LIMIT: u8 = 64;

/// An NS or NA with one Link-Layer Address option, as a whole frame.
pub const ND_FRAME_LEN: usize =
    ethernet::HEADER_LEN + ipv6::HEADER_LEN + ND_HEADER_LEN + LLA_OPTION_LEN;

/// ICMPv6 message types (IANA "ICMPv6 Parameters").
pub mod msg_type {
    pub const DEST_UNREACHABLE: u8 = 1;
    pub const PACKET_TOO_BIG: u8 = 2;
    pub const TIME_EXCEEDED: u8 = 3;
    pub const PARAM_PROBLEM: u8 = 4;
    pub const ECHO_REQUEST: u8 = 128;
    pub const ECHO_REPLY: u8 = 129;
    pub const ROUTER_SOLICIT: u8 = 133;
    pub const ROUTER_ADVERT: u8 = 134;
    pub const NEIGHBOR_SOLICIT: u8 = 135;
    pub const NEIGHBOR_ADVERT: u8 = 136;
    pub const REDIRECT: u8 = 137;
}

/// Neighbor Discovery option types (RFC 4861 §4.6).
pub mod nd_option {
    pub const SOURCE_LL_ADDR: u8 = 1;
    pub const TARGET_LL_ADDR: u8 = 2;
    pub const PREFIX_INFO: u8 = 3;
    pub const REDIRECTED_HEADER: u8 = 4;
    pub const MTU: u8 = 5;
}

mod field {
    use crate::wire::Field;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Field = 2..4;
    pub const IDENT: Field = 4..6;
    pub const SEQ_NO: Field = 6..8;
    pub const DATA: usize = 8;
    /// NA: R, S, O in the high bits, then 29 reserved bits. NS: reserved.
    pub const FLAGS: Field = 4..8;
    pub const TARGET: Field = 8..24;
    pub const OPTIONS: usize = 24;
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

/// Why an ICMPv6 message was refused. Each means one thing, so each is
/// one counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Icmpv6Error {
    /// Fewer than 8 bytes.
    Truncated,
    /// From a multicast address (RFC 4291 §2.7).
    MulticastSource,
    /// The checksum does not verify (RFC 4443 §2.3).
    BadChecksum,
    /// A type las does not handle (RS, RA, Redirect, MLD, errors, ...).
    UnknownType,
    /// Code not 0 (RFC 4443 §4.1, §4.2; RFC 4861 §7.1.1, §7.1.2).
    BadCode,
    /// NS or NA with a Hop Limit other than 255: it crossed a router.
    BadHopLimit,
    /// NS or NA shorter than 24 bytes.
    NdTooShort,
    /// NS or NA whose target is a multicast address.
    MulticastTarget,
    /// An option with length 0 (RFC 4861 §4.6).
    ZeroLengthOption,
    /// An option runs past the end of the message.
    OptionTruncated,
    /// A Source/Target Link-Layer Address option not 8 bytes long (not
    /// an Ethernet address).
    BadLinkLayerOption,
    /// NS from `::` (duplicate address detection) to an address that is
    /// not a solicited-node multicast address.
    UnspecifiedSourceNotSolicitedNode,
    /// NS from `::` carrying a Source Link-Layer Address option.
    UnspecifiedSourceWithSlla,
    /// NA from `::`.
    NaFromUnspecified,
    /// NA to a multicast address with the Solicited flag set.
    SolicitedNaToMulticast,
}

impl Icmpv6Error {
    pub const ALL: &'static [Icmpv6Error] = &[
        Icmpv6Error::Truncated,
        Icmpv6Error::MulticastSource,
        Icmpv6Error::BadChecksum,
        Icmpv6Error::UnknownType,
        Icmpv6Error::BadCode,
        Icmpv6Error::BadHopLimit,
        Icmpv6Error::NdTooShort,
        Icmpv6Error::MulticastTarget,
        Icmpv6Error::ZeroLengthOption,
        Icmpv6Error::OptionTruncated,
        Icmpv6Error::BadLinkLayerOption,
        Icmpv6Error::UnspecifiedSourceNotSolicitedNode,
        Icmpv6Error::UnspecifiedSourceWithSlla,
        Icmpv6Error::NaFromUnspecified,
        Icmpv6Error::SolicitedNaToMulticast,
    ];
    pub const COUNT: usize = Self::ALL.len();

    /// The counter's name.
    pub const fn name(self) -> &'static str {
        match self {
            Icmpv6Error::Truncated => "icmpv6_truncated",
            Icmpv6Error::MulticastSource => "icmpv6_multicast_source",
            Icmpv6Error::BadChecksum => "icmpv6_bad_checksum",
            Icmpv6Error::UnknownType => "icmpv6_unknown_type",
            Icmpv6Error::BadCode => "icmpv6_bad_code",
            Icmpv6Error::BadHopLimit => "nd_bad_hop_limit",
            Icmpv6Error::NdTooShort => "nd_too_short",
            Icmpv6Error::MulticastTarget => "nd_multicast_target",
            Icmpv6Error::ZeroLengthOption => "nd_zero_length_option",
            Icmpv6Error::OptionTruncated => "nd_option_truncated",
            Icmpv6Error::BadLinkLayerOption => "nd_bad_link_layer_option",
            Icmpv6Error::UnspecifiedSourceNotSolicitedNode => {
                "nd_unspecified_source_not_solicited_node"
            }
            Icmpv6Error::UnspecifiedSourceWithSlla => "nd_unspecified_source_with_slla",
            Icmpv6Error::NaFromUnspecified => "nd_na_from_unspecified",
            Icmpv6Error::SolicitedNaToMulticast => "nd_solicited_na_to_multicast",
        }
    }
}

impl From<Icmpv6Error> for Error {
    fn from(_: Icmpv6Error) -> Error {
        Error
    }
}

/// The R, S and O flags of a Neighbor Advertisement (RFC 4861 §4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NaFlags(u8);

impl NaFlags {
    pub const NONE: NaFlags = NaFlags(0);
    /// R: the sender is a router.
    pub const ROUTER: NaFlags = NaFlags(0x80);
    /// S: an answer to a Neighbor Solicitation.
    pub const SOLICITED: NaFlags = NaFlags(0x40);
    /// O: override an existing cache entry.
    pub const OVERRIDE: NaFlags = NaFlags(0x20);

    /// From the flags byte; the reserved bits are dropped.
    pub const fn from_bits(b: u8) -> NaFlags {
        NaFlags(b & 0xe0)
    }

    pub const fn bits(self) -> u8 {
        self.0
    }

    pub const fn contains(self, other: NaFlags) -> bool {
        self.0 & other.0 == other.0
    }

    pub const fn router(self) -> bool {
        self.contains(Self::ROUTER)
    }

    pub const fn solicited(self) -> bool {
        self.contains(Self::SOLICITED)
    }

    pub const fn overrides(self) -> bool {
        self.contains(Self::OVERRIDE)
    }
}

impl core::ops::BitOr for NaFlags {
    type Output = NaFlags;
    fn bitor(self, rhs: NaFlags) -> NaFlags {
        NaFlags(self.0 | rhs.0)
    }
}

/// A read/write view of an ICMPv6 message. The checksum covers the whole
/// buffer, so the buffer must be exactly the upper-layer packet (from
/// the ICMPv6 header to the end of the IPv6 payload).
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

    /// Ensures the buffer holds the 8-byte header. The ND accessors
    /// ([`target_addr`](Self::target_addr), [`options`](Self::options))
    /// need 24 bytes and give `::` and no options on a shorter buffer.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error)
        } else {
            Ok(())
        }
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }

    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    pub fn checksum(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::CHECKSUM])
    }

    /// Echo identifier.
    pub fn ident(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::IDENT])
    }

    /// Echo sequence number.
    pub fn seq_no(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::SEQ_NO])
    }

    /// Everything after the 8-byte header (echo data).
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[field::DATA..]
    }

    /// The R, S, O flags of an NA.
    pub fn na_flags(&self) -> NaFlags {
        NaFlags::from_bits(self.buffer.as_ref()[field::FLAGS.start])
    }

    /// The 29 (NA) or 32 (NS) reserved bits, as a word.
    pub fn reserved(&self) -> u32 {
        let b = &self.buffer.as_ref()[field::FLAGS];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]]) & 0x1fff_ffff
    }

    /// The target address of an NS or NA; `::` if the buffer is too
    /// short to hold one.
    pub fn target_addr(&self) -> Ipv6Addr {
        self.buffer
            .as_ref()
            .get(field::TARGET)
            .and_then(|b| <[u8; 16]>::try_from(b).ok())
            .map_or(Ipv6Addr::UNSPECIFIED, Ipv6Addr::from)
    }

    /// The options of an NS or NA (empty if the buffer ends before them).
    pub fn options(&self) -> &[u8] {
        self.buffer.as_ref().get(field::OPTIONS..).unwrap_or(&[])
    }

    /// The options of an NS or NA, one by one.
    pub fn nd_options(&self) -> NdOptions<'_> {
        NdOptions::new(self.options())
    }

    /// Whether the checksum verifies for a message from `src` to `dst`.
    pub fn verify_checksum(&self, src: Ipv6Addr, dst: Ipv6Addr) -> bool {
        ipv6::verify_checksum(src, dst, protocol::IPV6_ICMP, self.buffer.as_ref())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_msg_type(&mut self, v: u8) {
        self.buffer.as_mut()[field::TYPE] = v
    }

    pub fn set_code(&mut self, v: u8) {
        self.buffer.as_mut()[field::CODE] = v
    }

    pub fn set_checksum(&mut self, v: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&v.to_be_bytes())
    }

    pub fn set_ident(&mut self, v: u16) {
        self.buffer.as_mut()[field::IDENT].copy_from_slice(&v.to_be_bytes())
    }

    pub fn set_seq_no(&mut self, v: u16) {
        self.buffer.as_mut()[field::SEQ_NO].copy_from_slice(&v.to_be_bytes())
    }

    /// Writes the NA flags and clears the reserved bits (for an NS, pass
    /// [`NaFlags::NONE`]).
    pub fn set_na_flags(&mut self, f: NaFlags) {
        self.buffer.as_mut()[field::FLAGS].copy_from_slice(&[f.bits(), 0, 0, 0])
    }

    /// The buffer must hold 24 bytes.
    pub fn set_target_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::TARGET].copy_from_slice(&a.octets())
    }

    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::DATA..]
    }

    /// The buffer must hold 24 bytes.
    pub fn options_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::OPTIONS..]
    }

    /// Computes and stores the checksum over the whole buffer.
    pub fn fill_checksum(&mut self, src: Ipv6Addr, dst: Ipv6Addr) {
        self.set_checksum(0);
        let c = ipv6::checksum(src, dst, protocol::IPV6_ICMP, self.buffer.as_ref());
        self.set_checksum(c)
    }
}

/// One Neighbor Discovery option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NdOption<'a> {
    /// Source Link-Layer Address (type 1).
    SourceLinkLayer(MacAddr),
    /// Target Link-Layer Address (type 2).
    TargetLinkLayer(MacAddr),
    /// Any other option: its type and its bytes after type and length.
    Other { kind: u8, data: &'a [u8] },
}

/// The options of an ND message: yields each option, or the first
/// error and then nothing (a zero length would loop forever, RFC 4861
/// §4.6; a length past the end means a broken message).
#[derive(Debug, Clone)]
pub struct NdOptions<'a> {
    rest: &'a [u8],
}

impl<'a> NdOptions<'a> {
    pub fn new(options: &'a [u8]) -> NdOptions<'a> {
        NdOptions { rest: options }
    }

    fn parse_one(&mut self) -> core::result::Result<NdOption<'a>, Icmpv6Error> {
        let rest = self.rest;
        let (Some(&kind), Some(&units)) = (rest.first(), rest.get(1)) else {
            return Err(Icmpv6Error::OptionTruncated);
        };
        if units == 0 {
            return Err(Icmpv6Error::ZeroLengthOption);
        }
        let len = usize::from(units) * 8;
        let (Some(opt), Some(after)) = (rest.get(..len), rest.get(len..)) else {
            return Err(Icmpv6Error::OptionTruncated);
        };
        self.rest = after;
        let data = opt.get(2..).unwrap_or(&[]);
        Ok(match kind {
            nd_option::SOURCE_LL_ADDR | nd_option::TARGET_LL_ADDR => {
                let mac = MacAddr::from_bytes(data).map_err(|_| Icmpv6Error::BadLinkLayerOption)?;
                if kind == nd_option::SOURCE_LL_ADDR {
                    NdOption::SourceLinkLayer(mac)
                } else {
                    NdOption::TargetLinkLayer(mac)
                }
            }
            _ => NdOption::Other { kind, data },
        })
    }
}

impl<'a> Iterator for NdOptions<'a> {
    type Item = core::result::Result<NdOption<'a>, Icmpv6Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let r = self.parse_one();
        if r.is_err() {
            self.rest = &[];
        }
        Some(r)
    }
}

/// An ICMPv6 message las handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Icmpv6Repr<'a> {
    EchoRequest {
        ident: u16,
        seq_no: u16,
        data: &'a [u8],
    },
    EchoReply {
        ident: u16,
        seq_no: u16,
        data: &'a [u8],
    },
    NeighborSolicit {
        target: Ipv6Addr,
        /// The Source Link-Layer Address option, if any.
        source_lla: Option<MacAddr>,
    },
    NeighborAdvert {
        flags: NaFlags,
        target: Ipv6Addr,
        /// The Target Link-Layer Address option, if any.
        target_lla: Option<MacAddr>,
    },
}

impl<'a> Icmpv6Repr<'a> {
    /// Parses and validates the message `p` (exactly the upper-layer
    /// packet) that came in the IPv6 packet `ip` (its source, destination
    /// and hop limit count). Every check is listed in the module docs.
    pub fn parse<T>(
        ip: &Ipv6Repr,
        p: &Packet<&'a T>,
    ) -> core::result::Result<Icmpv6Repr<'a>, Icmpv6Error>
    where
        T: AsRef<[u8]> + ?Sized,
    {
        let buf: &'a [u8] = p.buffer.as_ref();
        if buf.len() < HEADER_LEN {
            return Err(Icmpv6Error::Truncated);
        }
        if ip.src.is_multicast() {
            return Err(Icmpv6Error::MulticastSource);
        }
        if !p.verify_checksum(ip.src, ip.dst) {
            return Err(Icmpv6Error::BadChecksum);
        }
        let ty = p.msg_type();
        match ty {
            msg_type::ECHO_REQUEST | msg_type::ECHO_REPLY => {
                if p.code() != 0 {
                    return Err(Icmpv6Error::BadCode);
                }
                let (ident, seq_no) = (p.ident(), p.seq_no());
                let data = buf.get(field::DATA..).unwrap_or(&[]);
                Ok(if ty == msg_type::ECHO_REQUEST {
                    Icmpv6Repr::EchoRequest {
                        ident,
                        seq_no,
                        data,
                    }
                } else {
                    Icmpv6Repr::EchoReply {
                        ident,
                        seq_no,
                        data,
                    }
                })
            }
            msg_type::NEIGHBOR_SOLICIT | msg_type::NEIGHBOR_ADVERT => {
                if ip.hop_limit != ND_HOP_LIMIT {
                    return Err(Icmpv6Error::BadHopLimit);
                }
                if p.code() != 0 {
                    return Err(Icmpv6Error::BadCode);
                }
                if buf.len() < ND_HEADER_LEN {
                    return Err(Icmpv6Error::NdTooShort);
                }
                let target = p.target_addr();
                if target.is_multicast() {
                    return Err(Icmpv6Error::MulticastTarget);
                }
                let (mut slla, mut tlla) = (None, None);
                for opt in NdOptions::new(p.options()) {
                    match opt? {
                        NdOption::SourceLinkLayer(m) => {
                            slla.get_or_insert(m);
                        }
                        NdOption::TargetLinkLayer(m) => {
                            tlla.get_or_insert(m);
                        }
                        NdOption::Other { .. } => {}
                    }
                }
                if ty == msg_type::NEIGHBOR_SOLICIT {
                    if ip.src.is_unspecified() {
                        if !ipv6::is_solicited_node(ip.dst) {
                            return Err(Icmpv6Error::UnspecifiedSourceNotSolicitedNode);
                        }
                        if slla.is_some() {
                            return Err(Icmpv6Error::UnspecifiedSourceWithSlla);
                        }
                    }
                    Ok(Icmpv6Repr::NeighborSolicit {
                        target,
                        source_lla: slla,
                    })
                } else {
                    let flags = p.na_flags();
                    if ip.src.is_unspecified() {
                        return Err(Icmpv6Error::NaFromUnspecified);
                    }
                    if ip.dst.is_multicast() && flags.solicited() {
                        return Err(Icmpv6Error::SolicitedNaToMulticast);
                    }
                    Ok(Icmpv6Repr::NeighborAdvert {
                        flags,
                        target,
                        target_lla: tlla,
                    })
                }
            }
            _ => Err(Icmpv6Error::UnknownType),
        }
    }

    /// Length of the message.
    pub fn buffer_len(&self) -> usize {
        match self {
            Icmpv6Repr::EchoRequest { data, .. } | Icmpv6Repr::EchoReply { data, .. } => {
                HEADER_LEN + data.len()
            }
            Icmpv6Repr::NeighborSolicit { source_lla: l, .. }
            | Icmpv6Repr::NeighborAdvert { target_lla: l, .. } => {
                ND_HEADER_LEN + if l.is_some() { LLA_OPTION_LEN } else { 0 }
            }
        }
    }

    /// The hop limit to send this message with.
    pub fn hop_limit(&self) -> u8 {
        match self {
            Icmpv6Repr::EchoRequest { .. } | Icmpv6Repr::EchoReply { .. } => ECHO_HOP_LIMIT,
            _ => ND_HOP_LIMIT,
        }
    }

    /// Writes the message from `src` to `dst`, checksum filled. The
    /// packet must be exactly [`buffer_len`](Self::buffer_len) bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        p: &mut Packet<T>,
    ) {
        let lla = |p: &mut Packet<T>, kind: u8, mac: Option<MacAddr>| {
            if let Some(m) = mac {
                let o = p.options_mut();
                o[0] = kind;
                o[1] = 1;
                o[2..8].copy_from_slice(&m.0);
            }
        };
        match *self {
            Icmpv6Repr::EchoRequest {
                ident,
                seq_no,
                data,
            }
            | Icmpv6Repr::EchoReply {
                ident,
                seq_no,
                data,
            } => {
                let ty = if matches!(self, Icmpv6Repr::EchoRequest { .. }) {
                    msg_type::ECHO_REQUEST
                } else {
                    msg_type::ECHO_REPLY
                };
                p.set_msg_type(ty);
                p.set_code(0);
                p.set_ident(ident);
                p.set_seq_no(seq_no);
                p.data_mut().copy_from_slice(data);
            }
            Icmpv6Repr::NeighborSolicit { target, source_lla } => {
                p.set_msg_type(msg_type::NEIGHBOR_SOLICIT);
                p.set_code(0);
                p.set_na_flags(NaFlags::NONE);
                p.set_target_addr(target);
                lla(p, nd_option::SOURCE_LL_ADDR, source_lla);
            }
            Icmpv6Repr::NeighborAdvert {
                flags,
                target,
                target_lla,
            } => {
                p.set_msg_type(msg_type::NEIGHBOR_ADVERT);
                p.set_code(0);
                p.set_na_flags(flags);
                p.set_target_addr(target);
                lla(p, nd_option::TARGET_LL_ADDR, target_lla);
            }
        }
        p.fill_checksum(src, dst);
    }
}

/// Writes a whole frame, Ethernet `eth_src → eth_dst`, IPv6 `src → dst`
/// with [`Icmpv6Repr::hop_limit`], then `repr`, into the front of `buf`.
/// Returns its length; fails, writing nothing, if `buf` is too short.
pub fn emit_frame(
    buf: &mut [u8],
    eth_src: MacAddr,
    eth_dst: MacAddr,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    repr: &Icmpv6Repr,
) -> Result<usize> {
    let icmp_len = repr.buffer_len();
    let ip_at = ethernet::HEADER_LEN;
    let icmp_at = ip_at + ipv6::HEADER_LEN;
    let len = icmp_at + icmp_len;
    let frame = buf.get_mut(..len).ok_or(Error)?;
    let mut eth = ethernet::Frame::new_unchecked(&mut *frame);
    eth.set_dst_addr(eth_dst);
    eth.set_src_addr(eth_src);
    eth.set_ethertype(ethertype::IPV6);
    let ip = Ipv6Repr {
        src,
        dst,
        next_header: protocol::IPV6_ICMP,
        payload_len: icmp_len,
        hop_limit: repr.hop_limit(),
        traffic_class: 0,
        flow_label: 0,
    };
    ip.emit(&mut ipv6::Packet::new_unchecked(&mut frame[ip_at..icmp_at]));
    repr.emit(src, dst, &mut Packet::new_unchecked(&mut frame[icmp_at..]));
    Ok(len)
}

/// A solicited NA (RFC 4861 §7.2.4): `our_ip` is at `our_mac`, S = 1,
/// O = 1, R = 0, to the solicitor `to_ip` at `to_mac`.
pub fn solicited_na(
    buf: &mut [u8],
    our_mac: MacAddr,
    our_ip: Ipv6Addr,
    to_mac: MacAddr,
    to_ip: Ipv6Addr,
) -> Result<usize> {
    let na = Icmpv6Repr::NeighborAdvert {
        flags: NaFlags::SOLICITED | NaFlags::OVERRIDE,
        target: our_ip,
        target_lla: Some(our_mac),
    };
    emit_frame(buf, our_mac, to_mac, our_ip, to_ip, &na)
}

/// An unsolicited NA to all nodes, ff02::1 (RFC 4861 §7.2.6, and the
/// answer to an NS from `::`, §7.2.4): S = 0, O = 1.
pub fn unsolicited_na(buf: &mut [u8], our_mac: MacAddr, our_ip: Ipv6Addr) -> Result<usize> {
    let na = Icmpv6Repr::NeighborAdvert {
        flags: NaFlags::OVERRIDE,
        target: our_ip,
        target_lla: Some(our_mac),
    };
    let dst = ipv6::ALL_NODES;
    emit_frame(buf, our_mac, ipv6::multicast_mac(dst), our_ip, dst, &na)
}

/// An NS for `target` from `our_ip`, with our Source Link-Layer Address
/// (RFC 4861 §4.3, §7.2.2). `unicast: None` sends it to the target's
/// solicited-node multicast address (address resolution);
/// `Some(mac)` to the target itself at `mac` (a reachability probe,
/// §7.3.3).
pub fn neighbor_solicit(
    buf: &mut [u8],
    our_mac: MacAddr,
    our_ip: Ipv6Addr,
    target: Ipv6Addr,
    unicast: Option<MacAddr>,
) -> Result<usize> {
    let ns = Icmpv6Repr::NeighborSolicit {
        target,
        source_lla: Some(our_mac),
    };
    let (dst, mac) = match unicast {
        Some(mac) => (target, mac),
        None => {
            let dst = ipv6::solicited_node(target);
            (dst, ipv6::multicast_mac(dst))
        }
    };
    emit_frame(buf, our_mac, mac, our_ip, dst, &ns)
}

/// An echo reply (RFC 4443 §4.2) from `our_ip` to `to_ip`, carrying the
/// request's identifier, sequence number and data.
#[allow(clippy::too_many_arguments)]
pub fn echo_reply(
    buf: &mut [u8],
    our_mac: MacAddr,
    our_ip: Ipv6Addr,
    to_mac: MacAddr,
    to_ip: Ipv6Addr,
    ident: u16,
    seq_no: u16,
    data: &[u8],
) -> Result<usize> {
    let r = Icmpv6Repr::EchoReply {
        ident,
        seq_no,
        data,
    };
    emit_frame(buf, our_mac, to_mac, our_ip, to_ip, &r)
}

#[cfg(test)]
pub(crate) mod test {
    //! The reference frames are shared with `control::neighbour6`'s tests.
    use super::*;

    // Reference frames made with scapy 2.8.0 and decoded by tshark
    // 4.0.17 (`tshark -V`): each a valid NS/NA/echo, "[Checksum Status:
    // Good]", no malformed or expert flag. With OUR = 2001:db8::1 at
    // 02:00:00:00:00:01 and PEER = 2001:db8::a at 02:00:00:00:00:0a:
    // NS:       Ether(PEER_MAC -> 33:33:ff:00:00:01)/IPv6(PEER ->
    //           ff02::1:ff00:1, hlim=255)/ICMPv6ND_NS(tgt=OUR)
    //           /ICMPv6NDOptSrcLLAddr(lladdr=PEER_MAC)
    // NA_SOL:   Ether(OUR_MAC -> PEER_MAC)/IPv6(OUR -> PEER, hlim=255)
    //           /ICMPv6ND_NA(R=0, S=1, O=1, tgt=OUR)
    //           /ICMPv6NDOptDstLLAddr(lladdr=OUR_MAC)
    // NA_UNSOL: the same to ff02::1 (33:33:00:00:00:01), S=0, O=1
    // NS_OURS:  Ether(OUR_MAC -> 33:33:ff:00:00:0a)/IPv6(OUR ->
    //           ff02::1:ff00:a, hlim=255)/ICMPv6ND_NS(tgt=PEER)
    //           /ICMPv6NDOptSrcLLAddr(lladdr=OUR_MAC)
    // NS_PROBE: the same, unicast to PEER at PEER_MAC
    // NS_DAD:   Ether(PEER_MAC -> 33:33:ff:00:00:01)/IPv6(:: ->
    //           ff02::1:ff00:1, hlim=255)/ICMPv6ND_NS(tgt=OUR)
    // NA_PEER:  Ether(PEER_MAC -> OUR_MAC)/IPv6(PEER -> OUR, hlim=255)
    //           /ICMPv6ND_NA(R=1, S=1, O=1, tgt=PEER)
    //           /ICMPv6NDOptDstLLAddr(lladdr=PEER_MAC)
    // ECHO_REQ: Ether(PEER_MAC -> OUR_MAC)/IPv6(PEER -> OUR, hlim=64)
    //           /ICMPv6EchoRequest(id=0x1234, seq=1, data=b"abcdefgh")
    // ECHO_REP: the reply, OUR -> PEER, ICMPv6EchoReply(...)
    pub(crate) static NS: [u8; 86] = [
        0x33, 0x33, 0xff, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x86, 0xdd, 0x60,
        0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0x00, 0x00, 0x01, 0x87, 0x00, 0x1c, 0x17, 0x00, 0x00,
        0x00, 0x00, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x01, 0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x0a,
    ];
    pub(crate) static NA_SOL: [u8; 86] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86, 0xdd, 0x60,
        0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x88, 0x00, 0x8a, 0x6b, 0x60, 0x00,
        0x00, 0x00, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x01, 0x02, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
    ];
    pub(crate) static NA_UNSOL: [u8; 86] = [
        0x33, 0x33, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86, 0xdd, 0x60,
        0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x88, 0x00, 0xf9, 0x2a, 0x20, 0x00,
        0x00, 0x00, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x01, 0x02, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
    ];
    pub(crate) static NS_OURS: [u8; 86] = [
        0x33, 0x33, 0xff, 0x00, 0x00, 0x0a, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86, 0xdd, 0x60,
        0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0x00, 0x00, 0x0a, 0x87, 0x00, 0x1c, 0x17, 0x00, 0x00,
        0x00, 0x00, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x0a, 0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
    ];
    pub(crate) static NS_PROBE: [u8; 86] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86, 0xdd, 0x60,
        0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x87, 0x00, 0xec, 0x62, 0x00, 0x00,
        0x00, 0x00, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x0a, 0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
    ];
    pub(crate) static NS_DAD: [u8; 78] = [
        0x33, 0x33, 0xff, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x86, 0xdd, 0x60,
        0x00, 0x00, 0x00, 0x00, 0x18, 0x3a, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0x00, 0x00, 0x01, 0x87, 0x00, 0x4c, 0xed, 0x00, 0x00,
        0x00, 0x00, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x01,
    ];
    pub(crate) static NA_PEER: [u8; 86] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x86, 0xdd, 0x60,
        0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x88, 0x00, 0x0a, 0x59, 0xe0, 0x00,
        0x00, 0x00, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x0a, 0x02, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x0a,
    ];
    pub(crate) static ECHO_REQ: [u8; 70] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x86, 0xdd, 0x60,
        0x00, 0x00, 0x00, 0x00, 0x10, 0x3a, 0x40, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x80, 0x00, 0x80, 0x6d, 0x12, 0x34,
        0x00, 0x01, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
    ];
    pub(crate) static ECHO_REP: [u8; 70] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86, 0xdd, 0x60,
        0x00, 0x00, 0x00, 0x00, 0x10, 0x3a, 0x40, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x81, 0x00, 0x7f, 0x6d, 0x12, 0x34,
        0x00, 0x01, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
    ];

    const OUR_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
    const PEER_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 0x0a]);
    const OUR: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
    const PEER: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x0a);
    const AT: usize = ethernet::HEADER_LEN + ipv6::HEADER_LEN;

    fn ip_of(frame: &[u8]) -> Ipv6Repr {
        let p = ipv6::Packet::new_checked(&frame[ethernet::HEADER_LEN..]).unwrap();
        Ipv6Repr::parse(&p).unwrap()
    }

    fn parse(frame: &[u8]) -> core::result::Result<Icmpv6Repr<'_>, Icmpv6Error> {
        let ip = ip_of(frame);
        let icmp = &frame[AT..AT + ip.payload_len];
        Icmpv6Repr::parse(&ip, &Packet::new_unchecked(icmp))
    }

    /// `frame` with its ICMPv6 message changed by `f` (and cut to `len`
    /// bytes), lengths and checksum made right again: only the change
    /// under test is wrong.
    fn edit(frame: &[u8], len: usize, f: impl Fn(&mut Vec<u8>)) -> Vec<u8> {
        let mut v = frame.to_vec();
        f(&mut v);
        v.truncate(AT + len);
        v[18..20].copy_from_slice(&(len as u16).to_be_bytes());
        let ip = ip_of(&v);
        let mut p = Packet::new_unchecked(&mut v[AT..]);
        p.fill_checksum(ip.src, ip.dst);
        v
    }

    fn ns_repr() -> Icmpv6Repr<'static> {
        Icmpv6Repr::NeighborSolicit {
            target: OUR,
            source_lla: Some(PEER_MAC),
        }
    }

    #[test]
    fn test_deconstruct_ns() {
        let p = Packet::new_checked(&NS[AT..]).unwrap();
        assert_eq!(p.msg_type(), msg_type::NEIGHBOR_SOLICIT);
        assert_eq!((p.code(), p.reserved()), (0, 0));
        assert_eq!(p.target_addr(), OUR);
        assert_eq!(p.options(), &[1, 1, 2, 0, 0, 0, 0, 0x0a]);
        let opts: Vec<_> = p.nd_options().collect();
        assert_eq!(opts, vec![Ok(NdOption::SourceLinkLayer(PEER_MAC))]);
        let dst = ipv6::solicited_node(OUR);
        assert!(p.verify_checksum(PEER, dst));
        assert!(!p.verify_checksum(PEER, OUR));
    }

    #[test]
    fn test_deconstruct_na_and_echo() {
        let p = Packet::new_checked(&NA_PEER[AT..]).unwrap();
        let f = p.na_flags();
        assert!(f.router() && f.solicited() && f.overrides());
        assert_eq!(f, NaFlags::ROUTER | NaFlags::SOLICITED | NaFlags::OVERRIDE);
        assert_eq!(p.reserved(), 0);
        let p = Packet::new_checked(&NA_UNSOL[AT..]).unwrap();
        assert_eq!(p.na_flags(), NaFlags::OVERRIDE);
        let p = Packet::new_checked(&ECHO_REQ[AT..]).unwrap();
        assert_eq!(
            (p.ident(), p.seq_no(), p.data()),
            (0x1234, 1, &b"abcdefgh"[..])
        );
        // ND accessors on a message too short for them.
        assert_eq!(p.target_addr(), Ipv6Addr::UNSPECIFIED);
        assert!(p.options().is_empty());
    }

    #[test]
    fn test_parse_references() {
        let na = |flags, target, mac| Icmpv6Repr::NeighborAdvert {
            flags,
            target,
            target_lla: Some(mac),
        };
        let so = NaFlags::SOLICITED | NaFlags::OVERRIDE;
        let cases: [(&[u8], Icmpv6Repr); 9] = [
            (&NS, ns_repr()),
            (&NA_SOL, na(so, OUR, OUR_MAC)),
            (&NA_UNSOL, na(NaFlags::OVERRIDE, OUR, OUR_MAC)),
            (
                &NS_OURS,
                Icmpv6Repr::NeighborSolicit {
                    target: PEER,
                    source_lla: Some(OUR_MAC),
                },
            ),
            (
                &NS_PROBE,
                Icmpv6Repr::NeighborSolicit {
                    target: PEER,
                    source_lla: Some(OUR_MAC),
                },
            ),
            (
                &NS_DAD,
                Icmpv6Repr::NeighborSolicit {
                    target: OUR,
                    source_lla: None,
                },
            ),
            (&NA_PEER, na(so | NaFlags::ROUTER, PEER, PEER_MAC)),
            (
                &ECHO_REQ,
                Icmpv6Repr::EchoRequest {
                    ident: 0x1234,
                    seq_no: 1,
                    data: b"abcdefgh",
                },
            ),
            (
                &ECHO_REP,
                Icmpv6Repr::EchoReply {
                    ident: 0x1234,
                    seq_no: 1,
                    data: b"abcdefgh",
                },
            ),
        ];
        for (i, (frame, want)) in cases.iter().enumerate() {
            assert_eq!(parse(frame), Ok(*want), "case {i}");
            assert_eq!(want.buffer_len(), frame.len() - AT, "case {i}");
        }
    }

    /// Every frame builder against scapy's bytes, in buffers pre-filled
    /// with 0xa5 and longer than needed.
    #[test]
    fn test_emit_frames() {
        let check = |want: &[u8], f: &dyn Fn(&mut [u8]) -> Result<usize>| {
            let mut buf = [0xa5u8; 128];
            assert_eq!(f(&mut buf), Ok(want.len()));
            assert_eq!(&buf[..want.len()], want);
            assert!(buf[want.len()..].iter().all(|&b| b == 0xa5));
        };
        check(&NA_SOL, &|b| solicited_na(b, OUR_MAC, OUR, PEER_MAC, PEER));
        check(&NA_UNSOL, &|b| unsolicited_na(b, OUR_MAC, OUR));
        check(&NS_OURS, &|b| neighbor_solicit(b, OUR_MAC, OUR, PEER, None));
        check(&NS_PROBE, &|b| {
            neighbor_solicit(b, OUR_MAC, OUR, PEER, Some(PEER_MAC))
        });
        check(&ECHO_REP, &|b| {
            echo_reply(b, OUR_MAC, OUR, PEER_MAC, PEER, 0x1234, 1, b"abcdefgh")
        });
        let sn = ipv6::solicited_node(OUR);
        check(&NS, &|b| {
            emit_frame(b, PEER_MAC, ipv6::multicast_mac(sn), PEER, sn, &ns_repr())
        });
        let dad = Icmpv6Repr::NeighborSolicit {
            target: OUR,
            source_lla: None,
        };
        check(&NS_DAD, &|b| {
            let m = ipv6::multicast_mac(sn);
            emit_frame(b, PEER_MAC, m, Ipv6Addr::UNSPECIFIED, sn, &dad)
        });
        let na = Icmpv6Repr::NeighborAdvert {
            flags: NaFlags::ROUTER | NaFlags::SOLICITED | NaFlags::OVERRIDE,
            target: PEER,
            target_lla: Some(PEER_MAC),
        };
        check(&NA_PEER, &|b| {
            emit_frame(b, PEER_MAC, OUR_MAC, PEER, OUR, &na)
        });
        let req = Icmpv6Repr::EchoRequest {
            ident: 0x1234,
            seq_no: 1,
            data: b"abcdefgh",
        };
        check(&ECHO_REQ, &|b| {
            emit_frame(b, PEER_MAC, OUR_MAC, PEER, OUR, &req)
        });
        assert_eq!(ND_FRAME_LEN, NA_SOL.len());
    }

    #[test]
    fn test_emit_short_buffer() {
        let mut buf = [0xa5u8; ND_FRAME_LEN - 1];
        assert_eq!(unsolicited_na(&mut buf, OUR_MAC, OUR), Err(Error));
        assert!(buf.iter().all(|&b| b == 0xa5));
        let mut buf = [0xa5u8; ND_FRAME_LEN];
        assert_eq!(unsolicited_na(&mut buf, OUR_MAC, OUR), Ok(ND_FRAME_LEN));
    }

    #[test]
    fn test_truncated_and_bad_checksum() {
        for len in 0..8 {
            let ip = ip_of(&ECHO_REQ);
            let p = Packet::new_unchecked(&ECHO_REQ[AT..AT + len]);
            assert_eq!(Icmpv6Repr::parse(&ip, &p), Err(Icmpv6Error::Truncated));
            assert!(Packet::new_checked(&ECHO_REQ[AT..AT + len]).is_err());
        }
        for frame in [&NS[..], &NA_SOL, &ECHO_REQ] {
            let mut b = frame.to_vec();
            let last = b.len() - 1;
            b[last] ^= 0x40;
            assert_eq!(parse(&b), Err(Icmpv6Error::BadChecksum));
        }
        // The payload cut short by Payload Length: checksum over less.
        let mut b = NS.to_vec();
        b[19] -= 8;
        assert_eq!(parse(&b), Err(Icmpv6Error::BadChecksum));
    }

    #[test]
    fn test_nd_too_short() {
        for len in [8, 16, 23] {
            let b = edit(&NS, len, |_| {});
            assert_eq!(parse(&b), Err(Icmpv6Error::NdTooShort), "{len}");
        }
        // 24 bytes: an NS without options is fine.
        let b = edit(&NS, 24, |_| {});
        assert_eq!(
            parse(&b),
            Ok(Icmpv6Repr::NeighborSolicit {
                target: OUR,
                source_lla: None
            })
        );
    }

    #[test]
    fn test_hop_limit_and_code() {
        for hl in [254u8, 64, 1, 0] {
            for frame in [&NS[..], &NA_SOL, &NS_DAD] {
                let mut b = frame.to_vec();
                b[21] = hl;
                assert_eq!(parse(&b), Err(Icmpv6Error::BadHopLimit), "{hl}");
            }
        }
        // Echo does not care about the hop limit.
        let mut b = ECHO_REQ.to_vec();
        b[21] = 1;
        assert!(parse(&b).is_ok());
        for frame in [&NS[..], &NA_SOL, &ECHO_REQ, &ECHO_REP] {
            let b = edit(frame, frame.len() - AT, |v| v[AT + 1] = 1);
            assert_eq!(parse(&b), Err(Icmpv6Error::BadCode));
        }
    }

    #[test]
    fn test_options() {
        let len = NS.len() - AT;
        // Option length 0 (RFC 4861 §4.6).
        let b = edit(&NS, len, |v| v[AT + 25] = 0);
        assert_eq!(parse(&b), Err(Icmpv6Error::ZeroLengthOption));
        // Length 2 (16 bytes) with 8 bytes left.
        let b = edit(&NS, len, |v| v[AT + 25] = 2);
        assert_eq!(parse(&b), Err(Icmpv6Error::OptionTruncated));
        // One byte of option.
        let b = edit(&NS, 25, |_| {});
        assert_eq!(parse(&b), Err(Icmpv6Error::OptionTruncated));
        // SLLA of 16 bytes: not an Ethernet address.
        let b = edit(&NS, len + 8, |v| {
            v[AT + 25] = 2;
            v.extend_from_slice(&[0; 8]);
        });
        assert_eq!(parse(&b), Err(Icmpv6Error::BadLinkLayerOption));
        // An unknown option (Nonce, 14, RFC 3971) is skipped; a second
        // SLLA does not replace the first.
        let b = edit(&NS, len + 16, |v| {
            v.truncate(AT + 24);
            v.extend_from_slice(&[14, 1, 1, 2, 3, 4, 5, 6]);
            v.extend_from_slice(&NS[AT + 24..]);
            v.extend_from_slice(&[1, 1, 2, 0, 0, 0, 0, 0x0b]);
        });
        assert_eq!(parse(&b), Ok(ns_repr()));
        let p = Packet::new_checked(&b[AT..]).unwrap();
        let opts: Vec<_> = p.nd_options().collect();
        assert_eq!(
            opts,
            vec![
                Ok(NdOption::Other {
                    kind: 14,
                    data: &[1, 2, 3, 4, 5, 6]
                }),
                Ok(NdOption::SourceLinkLayer(PEER_MAC)),
                Ok(NdOption::SourceLinkLayer(MacAddr([2, 0, 0, 0, 0, 0x0b]))),
            ]
        );
        // The iterator stops after an error.
        let mut it = NdOptions::new(&[1, 0, 2, 1, 0, 0, 0, 0, 0, 1]);
        assert_eq!(it.next(), Some(Err(Icmpv6Error::ZeroLengthOption)));
        assert_eq!(it.next(), None);
    }

    #[test]
    fn test_multicast_target_and_source() {
        for frame in [&NS[..], &NA_SOL] {
            let b = edit(frame, frame.len() - AT, |v| {
                v[AT + 8..AT + 24].copy_from_slice(&ipv6::ALL_NODES.octets())
            });
            assert_eq!(parse(&b), Err(Icmpv6Error::MulticastTarget));
        }
        let b = edit(&ECHO_REQ, ECHO_REQ.len() - AT, |v| {
            v[22..38].copy_from_slice(&ipv6::ALL_NODES.octets())
        });
        assert_eq!(parse(&b), Err(Icmpv6Error::MulticastSource));
    }

    #[test]
    fn test_ns_from_unspecified() {
        // DAD to ff02::1, not the solicited-node address.
        let len = NS_DAD.len() - AT;
        let b = edit(&NS_DAD, len, |v| {
            v[38..54].copy_from_slice(&ipv6::ALL_NODES.octets())
        });
        assert_eq!(
            parse(&b),
            Err(Icmpv6Error::UnspecifiedSourceNotSolicitedNode)
        );
        // DAD with a Source Link-Layer Address option.
        let b = edit(&NS_DAD, len + 8, |v| {
            v.extend_from_slice(&[1, 1, 2, 0, 0, 0, 0, 0x0a])
        });
        assert_eq!(parse(&b), Err(Icmpv6Error::UnspecifiedSourceWithSlla));
    }

    #[test]
    fn test_na_checks() {
        let len = NA_SOL.len() - AT;
        // S = 1 to ff02::1.
        let b = edit(&NA_SOL, len, |v| {
            v[38..54].copy_from_slice(&ipv6::ALL_NODES.octets())
        });
        assert_eq!(parse(&b), Err(Icmpv6Error::SolicitedNaToMulticast));
        // From ::.
        let b = edit(&NA_UNSOL, len, |v| v[22..38].fill(0));
        assert_eq!(parse(&b), Err(Icmpv6Error::NaFromUnspecified));
        // Reserved bits set are ignored (RFC 4861 §4.4).
        let b = edit(&NA_SOL, len, |v| v[AT + 7] = 1);
        assert!(parse(&b).is_ok());
    }

    #[test]
    fn test_unknown_type() {
        // A Router Solicitation (133) and a Packet Too Big.
        for ty in [msg_type::ROUTER_SOLICIT, msg_type::PACKET_TOO_BIG, 0, 255] {
            let b = edit(&NS, NS.len() - AT, |v| v[AT] = ty);
            assert_eq!(parse(&b), Err(Icmpv6Error::UnknownType), "{ty}");
        }
    }

    #[test]
    fn test_error_names_distinct() {
        let mut names: Vec<_> = Icmpv6Error::ALL.iter().map(|e| e.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Icmpv6Error::COUNT);
        assert_eq!(Error::from(Icmpv6Error::BadChecksum), Error);
    }

    /// Parse on random messages never panics; what parses re-emits to a
    /// message that parses the same.
    #[test]
    fn test_random_input() {
        let mut next = crate::testing::xorshift(0x2545_f491_4f6c_dd1d);
        let types = [128u8, 129, 135, 136, 133, 1];
        for round in 0..50_000 {
            let len = (next() % 64) as usize;
            let mut m: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if len > 2 {
                m[0] = types[(next() % types.len() as u64) as usize];
                m[1] = u8::from(next().is_multiple_of(8));
            }
            // Option lengths mostly plausible.
            for i in (25..len).step_by(8) {
                m[i] %= 3;
            }
            let ip = Ipv6Repr {
                src: if round % 5 == 0 {
                    Ipv6Addr::UNSPECIFIED
                } else {
                    PEER
                },
                dst: if round % 3 == 0 {
                    ipv6::solicited_node(OUR)
                } else {
                    OUR
                },
                next_header: protocol::IPV6_ICMP,
                payload_len: len,
                hop_limit: if round % 7 == 0 { 64 } else { 255 },
                traffic_class: 0,
                flow_label: 0,
            };
            if len >= 4 && round % 2 == 0 {
                Packet::new_unchecked(&mut m[..]).fill_checksum(ip.src, ip.dst);
            }
            let p = Packet::new_unchecked(&m[..]);
            let _ = (p.target_addr(), p.options(), p.nd_options().count());
            if let Ok(p) = Packet::new_checked(&m[..]) {
                let _ = (p.msg_type(), p.code(), p.ident(), p.seq_no(), p.data());
                let _ = (p.na_flags(), p.reserved(), p.checksum());
            }
            if let Ok(r) = Icmpv6Repr::parse(&ip, &p) {
                let mut out = vec![0xa5u8; r.buffer_len()];
                r.emit(ip.src, ip.dst, &mut Packet::new_unchecked(&mut out[..]));
                let q = Packet::new_unchecked(&out[..]);
                assert_eq!(Icmpv6Repr::parse(&ip, &q), Ok(r), "{m:02x?}");
            }
        }
    }
}
