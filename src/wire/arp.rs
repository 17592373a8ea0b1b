//! ARP (RFC 826), Ethernet/IPv4 only.

use std::net::Ipv4Addr;

use super::ethernet::{ethertype, MacAddr};
use super::{Error, Result};

/// Length of an Ethernet/IPv4 ARP packet.
pub const PACKET_LEN: usize = 28;

/// Hardware type Ethernet.
pub const HTYPE_ETHERNET: u16 = 1;

mod field {
    use crate::wire::Field;
    pub const HTYPE: Field = 0..2;
    pub const PTYPE: Field = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Field = 6..8;
    pub const SHA: Field = 8..14;
    pub const SPA: Field = 14..18;
    pub const THA: Field = 18..24;
    pub const TPA: Field = 24..28;
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn addr(b: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(b[0], b[1], b[2], b[3])
}

fn mac(b: &[u8]) -> MacAddr {
    MacAddr::from_bytes(b).unwrap_or_default()
}

/// ARP operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArpOp {
    Request,
    Reply,
    Unknown(u16),
}

impl From<u16> for ArpOp {
    fn from(v: u16) -> ArpOp {
        match v {
            1 => ArpOp::Request,
            2 => ArpOp::Reply,
            x => ArpOp::Unknown(x),
        }
    }
}

impl From<ArpOp> for u16 {
    fn from(op: ArpOp) -> u16 {
        match op {
            ArpOp::Request => 1,
            ArpOp::Reply => 2,
            ArpOp::Unknown(x) => x,
        }
    }
}

/// A read/write view of an ARP packet. Accessors assume the
/// Ethernet/IPv4 layout (hlen 6, plen 4); `check_len` only checks that 28
/// bytes are there, `ArpRepr::parse` checks the types.
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

    /// Ensures the buffer holds 28 bytes (trailing padding is allowed).
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < PACKET_LEN {
            Err(Error)
        } else {
            Ok(())
        }
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn htype(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::HTYPE])
    }

    pub fn ptype(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::PTYPE])
    }

    pub fn hlen(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }

    pub fn plen(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }

    pub fn operation(&self) -> ArpOp {
        ArpOp::from(be16(&self.buffer.as_ref()[field::OPER]))
    }

    pub fn sender_hw(&self) -> MacAddr {
        mac(&self.buffer.as_ref()[field::SHA])
    }

    pub fn sender_proto(&self) -> Ipv4Addr {
        addr(&self.buffer.as_ref()[field::SPA])
    }

    pub fn target_hw(&self) -> MacAddr {
        mac(&self.buffer.as_ref()[field::THA])
    }

    pub fn target_proto(&self) -> Ipv4Addr {
        addr(&self.buffer.as_ref()[field::TPA])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_htype(&mut self, v: u16) {
        self.buffer.as_mut()[field::HTYPE].copy_from_slice(&v.to_be_bytes())
    }

    pub fn set_ptype(&mut self, v: u16) {
        self.buffer.as_mut()[field::PTYPE].copy_from_slice(&v.to_be_bytes())
    }

    pub fn set_hlen(&mut self, v: u8) {
        self.buffer.as_mut()[field::HLEN] = v
    }

    pub fn set_plen(&mut self, v: u8) {
        self.buffer.as_mut()[field::PLEN] = v
    }

    pub fn set_operation(&mut self, op: ArpOp) {
        self.buffer.as_mut()[field::OPER].copy_from_slice(&u16::from(op).to_be_bytes())
    }

    pub fn set_sender_hw(&mut self, a: MacAddr) {
        self.buffer.as_mut()[field::SHA].copy_from_slice(&a.0)
    }

    pub fn set_sender_proto(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::SPA].copy_from_slice(&a.octets())
    }

    pub fn set_target_hw(&mut self, a: MacAddr) {
        self.buffer.as_mut()[field::THA].copy_from_slice(&a.0)
    }

    pub fn set_target_proto(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::TPA].copy_from_slice(&a.octets())
    }
}

/// An owned Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArpRepr {
    pub operation: ArpOp,
    pub sender_mac: MacAddr,
    pub sender_ip: Ipv4Addr,
    pub target_mac: MacAddr,
    pub target_ip: Ipv4Addr,
}

impl ArpRepr {
    /// Rejects anything but htype 1 / ptype 0x0800 / hlen 6 / plen 4.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<ArpRepr> {
        p.check_len()?;
        if p.htype() != HTYPE_ETHERNET
            || p.ptype() != ethertype::IPV4
            || p.hlen() != 6
            || p.plen() != 4
        {
            return Err(Error);
        }
        Ok(ArpRepr {
            operation: p.operation(),
            sender_mac: p.sender_hw(),
            sender_ip: p.sender_proto(),
            target_mac: p.target_hw(),
            target_ip: p.target_proto(),
        })
    }

    pub const fn buffer_len(&self) -> usize {
        PACKET_LEN
    }

    /// The packet must hold at least 28 bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) {
        p.set_htype(HTYPE_ETHERNET);
        p.set_ptype(ethertype::IPV4);
        p.set_hlen(6);
        p.set_plen(4);
        p.set_operation(self.operation);
        p.set_sender_hw(self.sender_mac);
        p.set_sender_proto(self.sender_ip);
        p.set_target_hw(self.target_mac);
        p.set_target_proto(self.target_ip);
    }
}

#[cfg(test)]
mod test {
    use super::*;

    // Who has 192.168.1.1? Tell 192.168.1.100 (from 00:1b:21:3a:4c:5d).
    static REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x00, 0x1b, 0x21, 0x3a, 0x4c, 0x5d, 0xc0,
        0xa8, 0x01, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0xa8, 0x01, 0x01,
    ];

    fn repr() -> ArpRepr {
        ArpRepr {
            operation: ArpOp::Request,
            sender_mac: MacAddr([0x00, 0x1b, 0x21, 0x3a, 0x4c, 0x5d]),
            sender_ip: Ipv4Addr::new(192, 168, 1, 100),
            target_mac: MacAddr::ZERO,
            target_ip: Ipv4Addr::new(192, 168, 1, 1),
        }
    }

    #[test]
    fn test_deconstruct() {
        let p = Packet::new_checked(&REQUEST[..]).unwrap();
        assert_eq!(p.htype(), 1);
        assert_eq!(p.ptype(), 0x0800);
        assert_eq!(p.hlen(), 6);
        assert_eq!(p.plen(), 4);
        assert_eq!(p.operation(), ArpOp::Request);
        assert_eq!(p.sender_hw(), MacAddr([0x00, 0x1b, 0x21, 0x3a, 0x4c, 0x5d]));
        assert_eq!(p.sender_proto(), Ipv4Addr::new(192, 168, 1, 100));
        assert_eq!(p.target_hw(), MacAddr::ZERO);
        assert_eq!(p.target_proto(), Ipv4Addr::new(192, 168, 1, 1));
    }

    #[test]
    fn test_construct() {
        let mut buf = [0xa5u8; 28];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_htype(1);
        p.set_ptype(0x0800);
        p.set_hlen(6);
        p.set_plen(4);
        p.set_operation(ArpOp::Request);
        p.set_sender_hw(MacAddr([0x00, 0x1b, 0x21, 0x3a, 0x4c, 0x5d]));
        p.set_sender_proto(Ipv4Addr::new(192, 168, 1, 100));
        p.set_target_hw(MacAddr::ZERO);
        p.set_target_proto(Ipv4Addr::new(192, 168, 1, 1));
        assert_eq!(buf, REQUEST);
    }

    #[test]
    fn test_parse() {
        let p = Packet::new_checked(&REQUEST[..]).unwrap();
        assert_eq!(ArpRepr::parse(&p), Ok(repr()));
    }

    #[test]
    fn test_emit() {
        let mut buf = [0xa5u8; 28];
        let r = repr();
        assert_eq!(r.buffer_len(), 28);
        r.emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(buf, REQUEST);
    }

    #[test]
    fn test_ops() {
        for (v, op) in [
            (1u16, ArpOp::Request),
            (2, ArpOp::Reply),
            (3, ArpOp::Unknown(3)),
        ] {
            assert_eq!(ArpOp::from(v), op);
            assert_eq!(u16::from(op), v);
        }
    }

    #[test]
    fn test_too_short() {
        assert_eq!(Packet::new_checked(&REQUEST[..27]).err(), Some(Error));
    }

    #[test]
    fn test_parse_not_ethernet_ipv4() {
        for (i, v) in [(1usize, 0x06u8), (3, 0xdd), (4, 8), (5, 16)] {
            let mut b = REQUEST;
            b[i] = v;
            let p = Packet::new_checked(&b[..]).unwrap();
            assert_eq!(ArpRepr::parse(&p), Err(Error), "byte {i}");
        }
    }
}
