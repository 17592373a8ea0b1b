//! L2TPv3 data messages (RFC 3931 §4.1.1, §4.1.2.2, §4.6; RFC 4719).
//!
//! Over IP (protocol 115):
//!
//! ```text
//! | Session ID (32) | Cookie (0/32/64) | L2-Specific Sublayer (0/32) | Ethernet frame
//! ```
//!
//! A session ID of 0 means a control message follows the 4 zero bytes.
//!
//! Over UDP:
//!
//! ```text
//! |T|x|x|x|x|x|x|x|x|x|x|x| Ver | Reserved (16) | Session ID (32) | Cookie | Sublayer | frame
//! ```
//!
//! T = 1 means the whole UDP payload is a control message.

use core::fmt;
use core::str::FromStr;

use super::VERSION;
use crate::wire::ethernet::hex_digit;
use crate::wire::{Error, Result};

/// L2TPv3 header length over IP before the cookie (the session ID).
pub const IP_HEADER_LEN: usize = 4;
/// L2TPv3 header length over UDP before the cookie (flags/version,
/// reserved, session ID).
pub const UDP_HEADER_LEN: usize = 8;
/// Length of the default L2-Specific Sublayer.
pub const SUBLAYER_LEN: usize = 4;

/// How L2TPv3 is carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encap {
    /// Directly over IPv4, protocol 115.
    Ip,
    /// Over UDP.
    Udp,
}

impl Encap {
    /// Length of the L2TPv3 header before the cookie.
    pub const fn header_len(self) -> usize {
        match self {
            Encap::Ip => IP_HEADER_LEN,
            Encap::Udp => UDP_HEADER_LEN,
        }
    }
}

/// The L2-Specific Sublayer in use on a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum L2Spec {
    /// No sublayer.
    #[default]
    None,
    /// The 4-byte default L2-Specific Sublayer (RFC 3931 §4.6).
    Default,
}

impl L2Spec {
    pub const fn len(self) -> usize {
        match self {
            L2Spec::None => 0,
            L2Spec::Default => SUBLAYER_LEN,
        }
    }

    pub const fn is_empty(self) -> bool {
        matches!(self, L2Spec::None)
    }
}

/// What an L2TPv3 payload carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A control message. Over IP it starts after the 4 zero bytes; over
    /// UDP it is the whole UDP payload.
    Control,
    /// A data message for the given (local) session.
    Data { session_id: u32 },
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Classifies the payload of an IPv4 packet with protocol 115.
/// Errors only if it is shorter than 4 bytes.
pub fn classify_ip(payload: &[u8]) -> Result<Kind> {
    let sid = payload.get(..IP_HEADER_LEN).ok_or(Error)?;
    match be32(sid) {
        0 => Ok(Kind::Control),
        session_id => Ok(Kind::Data { session_id }),
    }
}

/// Classifies the payload of an L2TP UDP datagram. Errors if the version is
/// not 3, if a data header is truncated, or if its session ID is 0.
pub fn classify_udp(payload: &[u8]) -> Result<Kind> {
    let flags = payload.get(..2).ok_or(Error)?;
    if flags[1] & 0x0f != VERSION {
        return Err(Error);
    }
    if flags[0] & 0x80 != 0 {
        return Ok(Kind::Control);
    }
    let sid = payload.get(4..UDP_HEADER_LEN).ok_or(Error)?;
    match be32(sid) {
        0 => Err(Error),
        session_id => Ok(Kind::Data { session_id }),
    }
}

/// Total L2TPv3 header length before the Ethernet frame. `cookie_len` is
/// taken as is (validate it with [`Cookie::new`] when configuring).
pub fn data_offsets(encap: Encap, cookie_len: usize, l2spec: L2Spec) -> usize {
    encap.header_len() + cookie_len + l2spec.len()
}

/// An L2TPv3 cookie: 0, 4 or 8 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Cookie {
    len: u8,
    bytes: [u8; 8],
}

impl Cookie {
    /// No cookie.
    pub const NONE: Cookie = Cookie {
        len: 0,
        bytes: [0; 8],
    };

    /// Errors unless `b` is 0, 4 or 8 bytes long.
    pub fn new(b: &[u8]) -> Result<Cookie> {
        if !matches!(b.len(), 0 | 4 | 8) {
            return Err(Error);
        }
        let mut bytes = [0u8; 8];
        bytes[..b.len()].copy_from_slice(b);
        Ok(Cookie {
            len: b.len() as u8,
            bytes,
        })
    }

    /// What `from_hex` takes, for error messages that name the field.
    pub const HEX_FORMAT: &'static str =
        "expected 8 or 16 hex digits (a 4- or 8-byte cookie), optionally prefixed with 0x";

    /// Parses 0, 8 or 16 hex digits, with an optional `0x`/`0X` prefix.
    /// The one cookie parser: the config, las-edge and the tests use it.
    pub fn from_hex(s: &str) -> Result<Cookie> {
        let s = s
            .strip_prefix("0x")
            .or_else(|| s.strip_prefix("0X"))
            .unwrap_or(s);
        let d = s.as_bytes();
        if !matches!(d.len(), 0 | 8 | 16) {
            return Err(Error);
        }
        let mut bytes = [0u8; 8];
        for (i, pair) in d.chunks_exact(2).enumerate() {
            bytes[i] = (hex_digit(pair[0])? << 4) | hex_digit(pair[1])?;
        }
        Ok(Cookie {
            len: (d.len() / 2) as u8,
            bytes,
        })
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len).min(8)]
    }

    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Display for Cookie {
    /// Lowercase hex without prefix; empty for no cookie.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Cookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cookie({self})")
    }
}

impl FromStr for Cookie {
    type Err = Error;
    fn from_str(s: &str) -> Result<Cookie> {
        Cookie::from_hex(s)
    }
}

mod field {
    use crate::wire::Field;
    pub const SUBLAYER: Field = 0..4;
}

const SUBLAYER_S: u8 = 0x40;

/// A view of the default L2-Specific Sublayer (RFC 3931 §4.6):
///
/// ```text
/// |x|S|x|x|x|x|x|x|              Sequence Number (24)             |
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultSublayer<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> DefaultSublayer<T> {
    pub fn new_unchecked(buffer: T) -> DefaultSublayer<T> {
        DefaultSublayer { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<DefaultSublayer<T>> {
        let s = Self::new_unchecked(buffer);
        s.check_len()?;
        Ok(s)
    }

    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < SUBLAYER_LEN {
            Err(Error)
        } else {
            Ok(())
        }
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The S bit: the sequence number is valid.
    pub fn sequenced(&self) -> bool {
        self.buffer.as_ref()[0] & SUBLAYER_S != 0
    }

    /// The 24-bit sequence number.
    pub fn seq(&self) -> u32 {
        be32(&self.buffer.as_ref()[field::SUBLAYER]) & 0x00ff_ffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> DefaultSublayer<T> {
    pub fn set_sequenced(&mut self, s: bool) {
        let b = &mut self.buffer.as_mut()[0];
        *b = (*b & !SUBLAYER_S) | if s { SUBLAYER_S } else { 0 };
    }

    /// Sets the low 24 bits of `seq`, keeping the flag byte.
    pub fn set_seq(&mut self, seq: u32) {
        let b = &mut self.buffer.as_mut()[field::SUBLAYER];
        b[1..4].copy_from_slice(&seq.to_be_bytes()[1..4]);
    }

    /// Writes the whole sublayer: `Some(seq)` sets S and the sequence
    /// number, `None` writes all zeros. Reserved bits are zeroed.
    pub fn emit(&mut self, seq: Option<u32>) {
        let v = match seq {
            Some(s) => (u32::from(SUBLAYER_S) << 24) | (s & 0x00ff_ffff),
            None => 0,
        };
        self.buffer.as_mut()[field::SUBLAYER].copy_from_slice(&v.to_be_bytes())
    }
}

/// The sublayer of a data message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SublayerRepr {
    #[default]
    None,
    /// Default sublayer; `seq` is `Some` when S is set.
    Default { seq: Option<u32> },
}

impl SublayerRepr {
    pub const fn l2spec(&self) -> L2Spec {
        match self {
            SublayerRepr::None => L2Spec::None,
            SublayerRepr::Default { .. } => L2Spec::Default,
        }
    }
}

/// An owned L2TPv3 data message header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DataRepr {
    pub encap: Encap,
    pub session_id: u32,
    pub cookie: Cookie,
    pub sublayer: SublayerRepr,
}

impl DataRepr {
    /// Parses the header of a data message, given the session's expected
    /// cookie length and sublayer. The frame is
    /// `&payload[repr.buffer_len()..]`. Errors on a control message, a
    /// session ID of 0, a bad UDP version, a bad `cookie_len`, or a
    /// truncated header.
    pub fn parse(
        encap: Encap,
        payload: &[u8],
        cookie_len: usize,
        l2spec: L2Spec,
    ) -> Result<DataRepr> {
        let kind = match encap {
            Encap::Ip => classify_ip(payload)?,
            Encap::Udp => classify_udp(payload)?,
        };
        let Kind::Data { session_id } = kind else {
            return Err(Error);
        };
        let off = encap.header_len();
        let cookie_end = off.checked_add(cookie_len).ok_or(Error)?;
        let cookie = Cookie::new(payload.get(off..cookie_end).ok_or(Error)?)?;
        let sublayer = match l2spec {
            L2Spec::None => SublayerRepr::None,
            L2Spec::Default => {
                let b = payload
                    .get(cookie_end..cookie_end + SUBLAYER_LEN)
                    .ok_or(Error)?;
                let s = DefaultSublayer::new_unchecked(b);
                SublayerRepr::Default {
                    seq: s.sequenced().then(|| s.seq()),
                }
            }
        };
        Ok(DataRepr {
            encap,
            session_id,
            cookie,
            sublayer,
        })
    }

    /// Header length before the Ethernet frame.
    pub fn buffer_len(&self) -> usize {
        data_offsets(self.encap, self.cookie.len(), self.sublayer.l2spec())
    }

    /// Writes the header into the start of `buf`. Errors (writing nothing)
    /// if `buf` is shorter than `buffer_len()`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        let buf = buf.get_mut(..self.buffer_len()).ok_or(Error)?;
        let mut off = match self.encap {
            Encap::Ip => 0,
            Encap::Udp => {
                buf[..4].copy_from_slice(&[0, VERSION, 0, 0]);
                4
            }
        };
        buf[off..off + 4].copy_from_slice(&self.session_id.to_be_bytes());
        off += 4;
        let c = self.cookie.as_bytes();
        buf[off..off + c.len()].copy_from_slice(c);
        off += c.len();
        if let SublayerRepr::Default { seq } = self.sublayer {
            DefaultSublayer::new_unchecked(&mut buf[off..off + SUBLAYER_LEN]).emit(seq);
        }
        Ok(())
    }
}

#[cfg(test)]
mod test {
    use super::*;

    // Over IP: session 0x0001e240, 4-byte cookie, sublayer seq 0x000102,
    // then the start of an Ethernet frame.
    static IP_DATA: [u8; 16] = [
        0x00, 0x01, 0xe2, 0x40, 0xde, 0xad, 0xbe, 0xef, 0x40, 0x00, 0x01, 0x02, 0xff, 0xff, 0xff,
        0xff,
    ];

    // Over UDP: ver 3, session 0x12345678, 8-byte cookie, no sublayer.
    static UDP_DATA: [u8; 18] = [
        0x00, 0x03, 0x00, 0x00, 0x12, 0x34, 0x56, 0x78, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
        0x08, 0xff, 0xff,
    ];

    // Control message over IP (4 zero bytes then T|L|S, ver 3).
    static IP_CONTROL: [u8; 16] = [0, 0, 0, 0, 0xc8, 0x03, 0x00, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0];

    fn ip_repr() -> DataRepr {
        DataRepr {
            encap: Encap::Ip,
            session_id: 123_456,
            cookie: Cookie::new(&[0xde, 0xad, 0xbe, 0xef]).unwrap(),
            sublayer: SublayerRepr::Default { seq: Some(0x102) },
        }
    }

    fn udp_repr() -> DataRepr {
        DataRepr {
            encap: Encap::Udp,
            session_id: 0x1234_5678,
            cookie: Cookie::new(&[1, 2, 3, 4, 5, 6, 7, 8]).unwrap(),
            sublayer: SublayerRepr::None,
        }
    }

    #[test]
    fn test_classify() {
        assert_eq!(
            classify_ip(&IP_DATA),
            Ok(Kind::Data {
                session_id: 123_456
            })
        );
        assert_eq!(classify_ip(&IP_CONTROL), Ok(Kind::Control));
        assert_eq!(
            classify_udp(&UDP_DATA),
            Ok(Kind::Data {
                session_id: 0x1234_5678
            })
        );
        assert_eq!(classify_udp(&IP_CONTROL[4..]), Ok(Kind::Control));
    }

    #[test]
    fn test_classify_bad() {
        for len in 0..4 {
            assert_eq!(classify_ip(&IP_DATA[..len]), Err(Error));
        }
        for len in 0..8 {
            assert_eq!(classify_udp(&UDP_DATA[..len]), Err(Error), "{len}");
        }
        // Wrong version (L2TPv2).
        let mut b = UDP_DATA;
        b[1] = 0x02;
        assert_eq!(classify_udp(&b), Err(Error));
        let mut c = IP_CONTROL;
        c[5] = 0x02;
        assert_eq!(classify_udp(&c[4..]), Err(Error));
        // Session 0 in a UDP data message.
        let mut b = UDP_DATA;
        b[4..8].copy_from_slice(&[0; 4]);
        assert_eq!(classify_udp(&b), Err(Error));
    }

    #[test]
    fn test_data_offsets() {
        assert_eq!(data_offsets(Encap::Ip, 0, L2Spec::None), 4);
        assert_eq!(data_offsets(Encap::Ip, 4, L2Spec::Default), 12);
        assert_eq!(data_offsets(Encap::Udp, 8, L2Spec::None), 16);
        assert_eq!(data_offsets(Encap::Udp, 8, L2Spec::Default), 20);
    }

    #[test]
    fn test_sublayer_deconstruct() {
        let s = DefaultSublayer::new_checked(&IP_DATA[8..12]).unwrap();
        assert!(s.sequenced());
        assert_eq!(s.seq(), 0x102);
        let s = DefaultSublayer::new_checked(&[0xbf, 0xff, 0xff, 0xff][..]).unwrap();
        assert!(!s.sequenced());
        assert_eq!(s.seq(), 0xff_ffff);
    }

    #[test]
    fn test_sublayer_construct() {
        let mut buf = [0xa5u8; 4];
        let mut s = DefaultSublayer::new_unchecked(&mut buf[..]);
        s.emit(None);
        s.set_sequenced(true);
        s.set_seq(0xff00_0102);
        assert_eq!(buf, IP_DATA[8..12]);
        let mut s = DefaultSublayer::new_unchecked(&mut buf[..]);
        s.emit(Some(0x0100_0000));
        assert_eq!(buf, [0x40, 0, 0, 0]);
        assert_eq!(DefaultSublayer::new_checked(&buf[..3]).err(), Some(Error));
    }

    #[test]
    fn test_parse() {
        let r = DataRepr::parse(Encap::Ip, &IP_DATA, 4, L2Spec::Default).unwrap();
        assert_eq!(r, ip_repr());
        assert_eq!(r.buffer_len(), 12);
        let r = DataRepr::parse(Encap::Udp, &UDP_DATA, 8, L2Spec::None).unwrap();
        assert_eq!(r, udp_repr());
        assert_eq!(&UDP_DATA[r.buffer_len()..], &[0xff, 0xff]);
    }

    #[test]
    fn test_emit() {
        let mut buf = [0xa5u8; 16];
        ip_repr().emit(&mut buf).unwrap();
        assert_eq!(buf[..12], IP_DATA[..12]);
        assert_eq!(buf[12..], [0xa5; 4]);
        let mut buf = [0xa5u8; 16];
        udp_repr().emit(&mut buf).unwrap();
        assert_eq!(buf, UDP_DATA[..16]);
        let mut short = [0xa5u8; 15];
        assert_eq!(udp_repr().emit(&mut short), Err(Error));
        assert_eq!(short, [0xa5; 15]);
    }

    #[test]
    fn test_parse_bad() {
        // Truncated cookie / sublayer.
        assert_eq!(
            DataRepr::parse(Encap::Ip, &IP_DATA[..11], 4, L2Spec::Default),
            Err(Error)
        );
        assert_eq!(
            DataRepr::parse(Encap::Ip, &IP_DATA[..7], 4, L2Spec::None),
            Err(Error)
        );
        // Bad cookie length.
        assert_eq!(
            DataRepr::parse(Encap::Ip, &IP_DATA, 2, L2Spec::None),
            Err(Error)
        );
        assert_eq!(
            DataRepr::parse(Encap::Ip, &IP_DATA, usize::MAX, L2Spec::None),
            Err(Error)
        );
        // Control message.
        assert_eq!(
            DataRepr::parse(Encap::Ip, &IP_CONTROL, 0, L2Spec::None),
            Err(Error)
        );
    }

    #[test]
    fn test_cookie() {
        assert_eq!(Cookie::NONE.len(), 0);
        assert!(Cookie::NONE.is_empty());
        assert_eq!(Cookie::default(), Cookie::NONE);
        let c = Cookie::from_hex("0xDEADbeef").unwrap();
        assert_eq!(c.as_bytes(), &[0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(c.to_string(), "deadbeef");
        assert_eq!(Cookie::from_hex("deadbeef"), Ok(c));
        assert_eq!("deadbeef".parse::<Cookie>(), Ok(c));
        let c8 = Cookie::from_hex("0102030405060708").unwrap();
        assert_eq!(c8.len(), 8);
        assert_eq!(c8.to_string(), "0102030405060708");
        assert_eq!(Cookie::from_hex(""), Ok(Cookie::NONE));
        assert_eq!(Cookie::from_hex("0x"), Ok(Cookie::NONE));
        assert_eq!(format!("{c:?}"), "Cookie(deadbeef)");
    }

    #[test]
    fn test_cookie_bad() {
        for s in [
            "dead",
            "deadbeefde",
            "0xdeadbeeg",
            "deadbeef\u{e9}",
            "0x0x12345678",
        ] {
            assert_eq!(Cookie::from_hex(s), Err(Error), "{s:?}");
        }
        assert_eq!(Cookie::new(&[1, 2]), Err(Error));
        assert_eq!(Cookie::new(&[0; 12]), Err(Error));
    }
}
