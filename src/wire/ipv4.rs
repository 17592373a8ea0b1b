//! IPv4 (RFC 791).

use std::net::Ipv4Addr;

use super::checksum;
use super::{Error, Result};

/// Length of an IPv4 header without options.
pub const HEADER_LEN: usize = 20;

/// IP protocol numbers.
pub mod protocol {
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const IPV6_ICMP: u8 = 58;
    /// L2TPv3 over IP (RFC 3931).
    pub const L2TP: u8 = 115;
}

mod field {
    use crate::wire::Field;
    pub const VER_IHL: usize = 0;
    pub const DSCP_ECN: usize = 1;
    pub const LENGTH: Field = 2..4;
    pub const IDENT: Field = 4..6;
    pub const FLG_OFF: Field = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Field = 10..12;
    pub const SRC_ADDR: Field = 12..16;
    pub const DST_ADDR: Field = 16..20;
}

const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;

/// A read/write view of an IPv4 packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn addr(b: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(b[0], b[1], b[2], b[3])
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

    /// Ensures buffer >= 20 bytes, IHL >= 5, and
    /// `header_len <= total_len <= buffer len`. Does not check the version
    /// or the checksum. Trailing bytes after `total_len` (Ethernet padding)
    /// are allowed.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error);
        }
        let hl = self.header_len();
        let tl = usize::from(self.total_len());
        if hl < HEADER_LEN || hl > tl || tl > len {
            return Err(Error);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// Header length in bytes (IHL * 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    pub fn dscp(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] >> 2
    }

    pub fn ecn(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] & 0x03
    }

    pub fn total_len(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::LENGTH])
    }

    pub fn ident(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::IDENT])
    }

    pub fn dont_frag(&self) -> bool {
        be16(&self.buffer.as_ref()[field::FLG_OFF]) & FLAG_DF != 0
    }

    pub fn more_frags(&self) -> bool {
        be16(&self.buffer.as_ref()[field::FLG_OFF]) & FLAG_MF != 0
    }

    /// Fragment offset in bytes.
    pub fn frag_offset(&self) -> u16 {
        (be16(&self.buffer.as_ref()[field::FLG_OFF]) & 0x1fff) << 3
    }

    /// MF set or a nonzero fragment offset.
    pub fn is_fragment(&self) -> bool {
        be16(&self.buffer.as_ref()[field::FLG_OFF]) & (FLAG_MF | 0x1fff) != 0
    }

    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// The protocol field.
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }

    pub fn checksum(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::CHECKSUM])
    }

    pub fn src_addr(&self) -> Ipv4Addr {
        addr(&self.buffer.as_ref()[field::SRC_ADDR])
    }

    pub fn dst_addr(&self) -> Ipv4Addr {
        addr(&self.buffer.as_ref()[field::DST_ADDR])
    }

    /// The header including options (`header_len` bytes).
    pub fn header(&self) -> &[u8] {
        &self.buffer.as_ref()[..self.header_len()]
    }

    /// Whether the header checksum is correct.
    pub fn verify_checksum(&self) -> bool {
        let h = self.header();
        match <&[u8; HEADER_LEN]>::try_from(h) {
            Ok(h20) => checksum::header20_ok(h20),
            Err(_) => checksum::checksum(h) == 0,
        }
    }

    /// The payload, from `header_len` up to `total_len` (not the buffer end).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..usize::from(self.total_len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_version(&mut self, v: u8) {
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0x0f) | (v << 4);
    }

    /// Sets IHL to `len / 4` (`len` in bytes, 20..=60).
    pub fn set_header_len(&mut self, len: usize) {
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0xf0) | ((len / 4) as u8 & 0x0f);
    }

    pub fn set_dscp(&mut self, dscp: u8) {
        let b = &mut self.buffer.as_mut()[field::DSCP_ECN];
        *b = (*b & 0x03) | (dscp << 2);
    }

    pub fn set_ecn(&mut self, ecn: u8) {
        let b = &mut self.buffer.as_mut()[field::DSCP_ECN];
        *b = (*b & 0xfc) | (ecn & 0x03);
    }

    pub fn set_total_len(&mut self, len: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&len.to_be_bytes())
    }

    pub fn set_ident(&mut self, id: u16) {
        self.buffer.as_mut()[field::IDENT].copy_from_slice(&id.to_be_bytes())
    }

    fn set_flg_off(&mut self, v: u16) {
        self.buffer.as_mut()[field::FLG_OFF].copy_from_slice(&v.to_be_bytes())
    }

    fn flg_off(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::FLG_OFF])
    }

    /// Clears DF, MF and the reserved flag.
    pub fn clear_flags(&mut self) {
        let v = self.flg_off() & 0x1fff;
        self.set_flg_off(v)
    }

    pub fn set_dont_frag(&mut self, df: bool) {
        let v = (self.flg_off() & !FLAG_DF) | if df { FLAG_DF } else { 0 };
        self.set_flg_off(v)
    }

    pub fn set_more_frags(&mut self, mf: bool) {
        let v = (self.flg_off() & !FLAG_MF) | if mf { FLAG_MF } else { 0 };
        self.set_flg_off(v)
    }

    /// Sets the fragment offset, in bytes (a multiple of 8).
    pub fn set_frag_offset(&mut self, off: u16) {
        let v = (self.flg_off() & 0xe000) | (off >> 3);
        self.set_flg_off(v)
    }

    pub fn set_ttl(&mut self, ttl: u8) {
        self.buffer.as_mut()[field::TTL] = ttl
    }

    pub fn set_next_header(&mut self, proto: u8) {
        self.buffer.as_mut()[field::PROTOCOL] = proto
    }

    pub fn set_checksum(&mut self, c: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&c.to_be_bytes())
    }

    pub fn set_src_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&a.octets())
    }

    pub fn set_dst_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&a.octets())
    }

    /// Computes and stores the header checksum.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::checksum(self.header());
        self.set_checksum(c)
    }

    /// Decrements the TTL, updating the checksum incrementally (RFC 1624).
    /// Returns the new TTL; a TTL of 0 is left unchanged.
    pub fn decrement_ttl(&mut self) -> u8 {
        let ttl = self.ttl();
        if ttl == 0 {
            return 0;
        }
        let b = self.buffer.as_ref();
        let old = be16(&b[field::TTL..field::PROTOCOL + 1]);
        let new = old - 0x0100;
        let c = checksum::update_u16(self.checksum(), old, new);
        self.set_ttl(ttl - 1);
        self.set_checksum(c);
        ttl - 1
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let range = self.header_len()..usize::from(self.total_len());
        &mut self.buffer.as_mut()[range]
    }
}

/// An owned IPv4 header without options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Repr {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    /// Payload length; `HEADER_LEN + payload_len` must fit in a `u16`
    /// (`emit` saturates otherwise).
    pub payload_len: usize,
    pub ttl: u8,
    pub ident: u16,
    pub dont_frag: bool,
    /// DSCP (6 bits); ECN is emitted as 0.
    pub dscp: u8,
}

impl Ipv4Repr {
    /// Parses a checked packet: rejects version != 4, a bad header checksum,
    /// and fragments. Options are accepted and skipped.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Ipv4Repr> {
        p.check_len()?;
        if p.version() != 4 || !p.verify_checksum() || p.is_fragment() {
            return Err(Error);
        }
        Ok(Ipv4Repr {
            src: p.src_addr(),
            dst: p.dst_addr(),
            protocol: p.next_header(),
            payload_len: p.payload().len(),
            ttl: p.ttl(),
            ident: p.ident(),
            dont_frag: p.dont_frag(),
            dscp: p.dscp(),
        })
    }

    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes a 20-byte header with the checksum filled. The packet must
    /// hold at least `HEADER_LEN` bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) {
        let total = u16::try_from(HEADER_LEN.saturating_add(self.payload_len)).unwrap_or(u16::MAX);
        p.set_version(4);
        p.set_header_len(HEADER_LEN);
        let b = p.buffer.as_mut();
        b[field::DSCP_ECN] = self.dscp << 2;
        p.set_total_len(total);
        p.set_ident(self.ident);
        p.set_flg_off(if self.dont_frag { FLAG_DF } else { 0 });
        p.set_ttl(self.ttl);
        p.set_next_header(self.protocol);
        p.set_src_addr(self.src);
        p.set_dst_addr(self.dst);
        p.fill_checksum();
    }
}

#[cfg(test)]
mod test {
    use super::*;

    /// Reference RFC 1071 checksum, independent of `wire::checksum`.
    fn ref_csum(data: &[u8]) -> u16 {
        let mut acc: u64 = 0;
        for (i, b) in data.iter().enumerate() {
            acc += if i % 2 == 0 {
                u64::from(*b) << 8
            } else {
                u64::from(*b)
            };
        }
        while acc > 0xffff {
            acc = (acc & 0xffff) + (acc >> 16);
        }
        !(acc as u16)
    }

    // Real capture: UDP 192.168.0.1 -> 192.168.0.199, total length 0x73 in
    // the original; here total_len = 24 (4 payload bytes) with 2 bytes of
    // trailing Ethernet padding. Checksum computed by `ref_csum`.
    static PACKET: [u8; 26] = [
        0x45, 0x00, 0x00, 0x18, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x00,
    ];

    // Real header from the Wikipedia example: checksum 0xb861.
    static REAL: [u8; 20] = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ];

    fn packet() -> [u8; 26] {
        let mut p = PACKET;
        let c = ref_csum(&p[..20]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        p
    }

    fn repr() -> Ipv4Repr {
        Ipv4Repr {
            src: Ipv4Addr::new(192, 168, 0, 1),
            dst: Ipv4Addr::new(192, 168, 0, 199),
            protocol: protocol::UDP,
            payload_len: 4,
            ttl: 64,
            ident: 0x1234,
            dont_frag: true,
            dscp: 0,
        }
    }

    #[test]
    fn test_real_checksum() {
        let p = Packet::new_unchecked(&REAL[..]);
        assert!(p.verify_checksum());
        let mut h = REAL;
        h[10] = 0xa5;
        let mut p = Packet::new_unchecked(&mut h[..]);
        assert!(!p.verify_checksum());
        p.fill_checksum();
        assert_eq!(h, REAL);
    }

    #[test]
    fn test_deconstruct() {
        let buf = packet();
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(p.version(), 4);
        assert_eq!(p.header_len(), 20);
        assert_eq!(p.dscp(), 0);
        assert_eq!(p.ecn(), 0);
        assert_eq!(p.total_len(), 24);
        assert_eq!(p.ident(), 0x1234);
        assert!(p.dont_frag());
        assert!(!p.more_frags());
        assert_eq!(p.frag_offset(), 0);
        assert!(!p.is_fragment());
        assert_eq!(p.ttl(), 64);
        assert_eq!(p.next_header(), protocol::UDP);
        assert_eq!(p.checksum(), ref_csum(&PACKET[..20]));
        assert_eq!(p.src_addr(), Ipv4Addr::new(192, 168, 0, 1));
        assert_eq!(p.dst_addr(), Ipv4Addr::new(192, 168, 0, 199));
        assert!(p.verify_checksum());
        assert_eq!(p.payload(), &[0xde, 0xad, 0xbe, 0xef]);
    }

    #[test]
    fn test_construct() {
        let mut buf = [0xa5u8; 26];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_version(4);
        p.set_header_len(20);
        p.set_dscp(0);
        p.set_ecn(0);
        p.set_total_len(24);
        p.set_ident(0x1234);
        p.clear_flags();
        p.set_dont_frag(true);
        p.set_more_frags(false);
        p.set_frag_offset(0);
        p.set_ttl(64);
        p.set_next_header(protocol::UDP);
        p.set_src_addr(Ipv4Addr::new(192, 168, 0, 1));
        p.set_dst_addr(Ipv4Addr::new(192, 168, 0, 199));
        p.fill_checksum();
        p.payload_mut().copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        buf[24] = 0;
        buf[25] = 0;
        assert_eq!(buf, packet());
    }

    #[test]
    fn test_parse() {
        let buf = packet();
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(Ipv4Repr::parse(&p).unwrap(), repr());
    }

    #[test]
    fn test_emit() {
        let mut buf = [0xa5u8; 20];
        let r = repr();
        assert_eq!(r.buffer_len(), 20);
        r.emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(buf, packet()[..20]);
    }

    #[test]
    fn test_fragment_fields() {
        let mut buf = packet();
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_more_frags(true);
        p.set_frag_offset(1480);
        assert!(p.more_frags() && p.dont_frag() && p.is_fragment());
        assert_eq!(p.frag_offset(), 1480);
        assert_eq!(&buf[6..8], &[0x60, 0xb9]);
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_more_frags(false);
        assert!(p.is_fragment());
        p.set_frag_offset(0);
        assert!(!p.is_fragment());
        p.set_more_frags(true);
        assert!(p.is_fragment());
        p.fill_checksum();
        assert_eq!(Ipv4Repr::parse(&p), Err(Error));
    }

    #[test]
    fn test_decrement_ttl() {
        let mut buf = packet();
        let mut p = Packet::new_unchecked(&mut buf[..]);
        assert_eq!(p.decrement_ttl(), 63);
        assert!(p.verify_checksum());
        assert_eq!(p.checksum(), {
            let mut h = buf;
            h[10] = 0;
            h[11] = 0;
            ref_csum(&h[..20])
        });
        let mut buf = packet();
        buf[8] = 0;
        let mut p = Packet::new_unchecked(&mut buf[..]);
        assert_eq!(p.decrement_ttl(), 0);
    }

    /// RFC 1624 corner: after the decrement the header sums to 0xffff,
    /// so the checksum must be 0x0000 (never 0xffff: the version word is
    /// not zero), exactly as a full recomputation gives.
    #[test]
    fn test_decrement_ttl_checksum_zero() {
        let mut buf = packet();
        // Choose the ident so that the header with TTL 63 sums to 0xffff.
        buf[4..6].copy_from_slice(&[0, 0]);
        buf[10..12].copy_from_slice(&[0, 0]);
        buf[8] = 63;
        let s = !ref_csum(&buf[..20]);
        buf[4..6].copy_from_slice(&(0xffff - s).to_be_bytes());
        assert_eq!(ref_csum(&buf[..20]), 0x0000);
        buf[8] = 64;
        let c = ref_csum(&buf[..20]);
        buf[10..12].copy_from_slice(&c.to_be_bytes());
        let mut p = Packet::new_unchecked(&mut buf[..]);
        assert!(p.verify_checksum());
        assert_eq!(p.decrement_ttl(), 63);
        assert_eq!(p.checksum(), 0x0000);
        assert!(p.verify_checksum());
    }

    #[test]
    fn test_options_payload() {
        // IHL 6 with a 4-byte NOP option block.
        let mut buf = [0u8; 28];
        buf[..20].copy_from_slice(&packet()[..20]);
        buf[0] = 0x46;
        buf[2..4].copy_from_slice(&28u16.to_be_bytes());
        buf[20..24].copy_from_slice(&[1, 1, 1, 0]);
        buf[24..].copy_from_slice(&[9, 8, 7, 6]);
        let mut p = Packet::new_checked(&mut buf[..]).unwrap();
        p.fill_checksum();
        assert_eq!(p.header_len(), 24);
        assert_eq!(p.payload(), &[9, 8, 7, 6]);
        let r = Ipv4Repr::parse(&p).unwrap();
        assert_eq!(r.payload_len, 4);
    }

    #[test]
    fn test_too_short() {
        let buf = packet();
        for len in 0..20 {
            assert_eq!(Packet::new_checked(&buf[..len]).err(), Some(Error));
        }
        // total_len 24 > buffer 23
        assert_eq!(Packet::new_checked(&buf[..23]).err(), Some(Error));
        assert!(Packet::new_checked(&buf[..24]).is_ok());
    }

    #[test]
    fn test_bad_ihl() {
        for ihl in [0u8, 4] {
            let mut buf = packet();
            buf[0] = 0x40 | ihl;
            assert_eq!(Packet::new_checked(&buf[..]).err(), Some(Error));
        }
        // IHL 7 (28 bytes) > total_len 24
        let mut buf = packet();
        buf[0] = 0x47;
        assert_eq!(Packet::new_checked(&buf[..]).err(), Some(Error));
        // IHL 15 (60 bytes) with short buffer: no panic
        buf[0] = 0x4f;
        assert_eq!(Packet::new_checked(&buf[..]).err(), Some(Error));
    }

    #[test]
    fn test_bad_total_len() {
        let mut buf = packet();
        buf[2..4].copy_from_slice(&19u16.to_be_bytes());
        assert_eq!(Packet::new_checked(&buf[..]).err(), Some(Error));
        buf[2..4].copy_from_slice(&0xffffu16.to_be_bytes());
        assert_eq!(Packet::new_checked(&buf[..]).err(), Some(Error));
    }

    #[test]
    fn test_parse_bad_version_or_checksum() {
        let mut buf = packet();
        buf[0] = 0x65;
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(Ipv4Repr::parse(&p), Err(Error));
        let mut buf = packet();
        buf[11] ^= 1;
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(Ipv4Repr::parse(&p), Err(Error));
    }

    #[test]
    fn test_emit_saturates() {
        let mut r = repr();
        r.payload_len = usize::MAX;
        let mut buf = [0u8; 20];
        r.emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(Packet::new_unchecked(&buf[..]).total_len(), 0xffff);
    }
}
