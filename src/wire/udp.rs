//! UDP (RFC 768).

use std::net::Ipv4Addr;

use super::checksum;
use super::ipv4::protocol;
use super::{Error, Result};

/// Length of the UDP header.
pub const HEADER_LEN: usize = 8;

mod field {
    use crate::wire::Field;
    pub const SRC_PORT: Field = 0..2;
    pub const DST_PORT: Field = 2..4;
    pub const LENGTH: Field = 4..6;
    pub const CHECKSUM: Field = 6..8;
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

/// A read/write view of a UDP datagram.
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

    /// Ensures buffer >= 8 and `8 <= len <= buffer len`.
    pub fn check_len(&self) -> Result<()> {
        let blen = self.buffer.as_ref().len();
        if blen < HEADER_LEN {
            return Err(Error);
        }
        let len = usize::from(self.len());
        if len < HEADER_LEN || len > blen {
            return Err(Error);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn src_port(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::SRC_PORT])
    }

    pub fn dst_port(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::DST_PORT])
    }

    /// The length field (header + payload).
    pub fn len(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::LENGTH])
    }

    /// Whether the length field is zero (never true after `check_len`).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn checksum(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::CHECKSUM])
    }

    /// The payload, bounded by the length field.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..usize::from(self.len())]
    }

    /// Verifies the checksum over the pseudo-header and `len` bytes.
    /// A zero checksum (none sent) is valid over IPv4.
    pub fn verify_checksum_v4(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        if self.checksum() == 0 {
            return true;
        }
        let len = self.len();
        let data = &self.buffer.as_ref()[..usize::from(len)];
        let sum = checksum::combine(
            checksum::pseudo_header_v4(src, dst, protocol::UDP, len),
            checksum::sum(data),
        );
        checksum::fold(sum) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_src_port(&mut self, v: u16) {
        self.buffer.as_mut()[field::SRC_PORT].copy_from_slice(&v.to_be_bytes())
    }

    pub fn set_dst_port(&mut self, v: u16) {
        self.buffer.as_mut()[field::DST_PORT].copy_from_slice(&v.to_be_bytes())
    }

    pub fn set_len(&mut self, v: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&v.to_be_bytes())
    }

    pub fn set_checksum(&mut self, v: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&v.to_be_bytes())
    }

    /// Computes and stores the checksum (0 is sent as 0xffff).
    pub fn fill_checksum_v4(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        self.set_checksum(0);
        let len = self.len();
        let data = &self.buffer.as_ref()[..usize::from(len)];
        let sum = checksum::combine(
            checksum::pseudo_header_v4(src, dst, protocol::UDP, len),
            checksum::sum(data),
        );
        let c = !checksum::fold(sum);
        self.set_checksum(if c == 0 { 0xffff } else { c })
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
}

/// An owned UDP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UdpRepr {
    pub src_port: u16,
    pub dst_port: u16,
    /// Payload length; `HEADER_LEN + payload_len` must fit in a `u16`
    /// (`emit` saturates otherwise).
    pub payload_len: usize,
}

impl UdpRepr {
    /// Parses a datagram, verifying its checksum against the IPv4
    /// pseudo-header.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>, src: Ipv4Addr, dst: Ipv4Addr) -> Result<UdpRepr> {
        p.check_len()?;
        if !p.verify_checksum_v4(src, dst) {
            return Err(Error);
        }
        Ok(UdpRepr {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
            payload_len: p.payload().len(),
        })
    }

    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header with a zero checksum (call
    /// [`Packet::fill_checksum_v4`] once the payload is in place).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) {
        p.set_src_port(self.src_port);
        p.set_dst_port(self.dst_port);
        let len = u16::try_from(HEADER_LEN.saturating_add(self.payload_len)).unwrap_or(u16::MAX);
        p.set_len(len);
        p.set_checksum(0);
    }
}

#[cfg(test)]
mod test {
    use super::*;

    const SRC: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);
    const DST: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 2);

    /// Reference checksum over pseudo-header + datagram.
    fn ref_csum(src: Ipv4Addr, dst: Ipv4Addr, dgram: &[u8]) -> u16 {
        let mut v = Vec::new();
        v.extend_from_slice(&src.octets());
        v.extend_from_slice(&dst.octets());
        v.extend_from_slice(&[0, 17]);
        v.extend_from_slice(&(dgram.len() as u16).to_be_bytes());
        v.extend_from_slice(dgram);
        let mut acc: u64 = 0;
        for (i, b) in v.iter().enumerate() {
            acc += u64::from(*b) << if i % 2 == 0 { 8 } else { 0 };
        }
        while acc > 0xffff {
            acc = (acc & 0xffff) + (acc >> 16);
        }
        !(acc as u16)
    }

    // L2TPv3-over-UDP port 1701 -> 1701, 5-byte payload (odd), 1 pad byte.
    static DGRAM: [u8; 14] = [
        0x06, 0xa5, 0x06, 0xa5, 0x00, 0x0d, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x07, 0xff,
    ];

    fn dgram() -> [u8; 14] {
        let mut d = DGRAM;
        let c = ref_csum(SRC, DST, &d[..13]);
        d[6..8].copy_from_slice(&c.to_be_bytes());
        d
    }

    fn repr() -> UdpRepr {
        UdpRepr {
            src_port: 1701,
            dst_port: 1701,
            payload_len: 5,
        }
    }

    #[test]
    fn test_deconstruct() {
        let d = dgram();
        let p = Packet::new_checked(&d[..]).unwrap();
        assert_eq!(p.src_port(), 1701);
        assert_eq!(p.dst_port(), 1701);
        assert_eq!(p.len(), 13);
        assert!(!p.is_empty());
        assert_eq!(p.payload(), &[0x00, 0x03, 0x00, 0x00, 0x07]);
        assert!(p.verify_checksum_v4(SRC, DST));
        assert!(!p.verify_checksum_v4(SRC, Ipv4Addr::new(192, 168, 1, 3)));
    }

    #[test]
    fn test_construct() {
        let mut buf = [0xa5u8; 14];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_src_port(1701);
        p.set_dst_port(1701);
        p.set_len(13);
        p.payload_mut()
            .copy_from_slice(&[0x00, 0x03, 0x00, 0x00, 0x07]);
        p.fill_checksum_v4(SRC, DST);
        buf[13] = 0xff;
        assert_eq!(buf, dgram());
    }

    #[test]
    fn test_parse() {
        let d = dgram();
        let p = Packet::new_checked(&d[..]).unwrap();
        assert_eq!(UdpRepr::parse(&p, SRC, DST), Ok(repr()));
        let mut bad = d;
        bad[9] ^= 1;
        let p = Packet::new_checked(&bad[..]).unwrap();
        assert_eq!(UdpRepr::parse(&p, SRC, DST), Err(Error));
    }

    #[test]
    fn test_emit() {
        let mut buf = [0xa5u8; 13];
        repr().emit(&mut Packet::new_unchecked(&mut buf[..]));
        buf[8..].copy_from_slice(&DGRAM[8..13]);
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.fill_checksum_v4(SRC, DST);
        assert_eq!(buf, dgram()[..13]);
    }

    #[test]
    fn test_zero_checksum() {
        let p = Packet::new_checked(&DGRAM[..]).unwrap();
        assert!(p.verify_checksum_v4(SRC, DST));
    }

    #[test]
    fn test_checksum_zero_sent_as_ffff() {
        // Find a payload word that makes the computed checksum 0.
        let mut buf = [0u8; 10];
        buf[4..6].copy_from_slice(&10u16.to_be_bytes());
        let c = ref_csum(SRC, DST, &buf);
        // Adding ~c... set payload word so that the sum becomes 0xffff.
        buf[8..10].copy_from_slice(&c.to_be_bytes());
        assert_eq!(ref_csum(SRC, DST, &buf), 0);
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.fill_checksum_v4(SRC, DST);
        assert_eq!(p.checksum(), 0xffff);
        assert!(p.verify_checksum_v4(SRC, DST));
    }

    #[test]
    fn test_too_short() {
        let d = dgram();
        for len in 0..13 {
            assert_eq!(Packet::new_checked(&d[..len]).err(), Some(Error), "{len}");
        }
    }

    #[test]
    fn test_bad_len_field() {
        let mut d = dgram();
        d[4..6].copy_from_slice(&7u16.to_be_bytes());
        assert_eq!(Packet::new_checked(&d[..]).err(), Some(Error));
        d[4..6].copy_from_slice(&15u16.to_be_bytes());
        assert_eq!(Packet::new_checked(&d[..]).err(), Some(Error));
        d[4..6].copy_from_slice(&8u16.to_be_bytes());
        assert!(Packet::new_checked(&d[..]).unwrap().payload().is_empty());
    }
}
