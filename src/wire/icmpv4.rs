//! ICMPv4 (RFC 792), enough for echo.

use super::checksum;
use super::{Error, Result};

/// Length of the ICMP header (type, code, checksum, rest-of-header).
pub const HEADER_LEN: usize = 8;

pub const ECHO_REPLY: u8 = 0;
pub const DEST_UNREACHABLE: u8 = 3;
pub const ECHO_REQUEST: u8 = 8;
pub const TIME_EXCEEDED: u8 = 11;

/// Code of `DEST_UNREACHABLE`: fragmentation needed and DF set.
pub const CODE_FRAG_NEEDED: u8 = 4;

mod field {
    use crate::wire::Field;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Field = 2..4;
    pub const IDENT: Field = 4..6;
    pub const SEQ_NO: Field = 6..8;
    pub const DATA: usize = 8;
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

/// A read/write view of an ICMPv4 message. The checksum covers the whole
/// buffer, so the buffer must be exactly the IPv4 payload.
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

    /// Ensures the buffer holds the 8-byte header.
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

    /// Everything after the 8-byte header.
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[field::DATA..]
    }

    pub fn verify_checksum(&self) -> bool {
        checksum::checksum(self.buffer.as_ref()) == 0
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

    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::DATA..]
    }

    /// Computes and stores the checksum over the whole buffer.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::checksum(self.buffer.as_ref());
        self.set_checksum(c)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    // Echo request (id 0x1c2e, seq 1) with 8 data bytes; checksum by hand:
    // 0x0800+0x1c2e+0x0001+0x6162+0x6364+0x6566+0x6768 = 0x1b5c3 -> 0xb5c4,
    // complemented 0x4a3b.
    static ECHO: [u8; 16] = [
        0x08, 0x00, 0x4a, 0x3b, 0x1c, 0x2e, 0x00, 0x01, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67,
        0x68,
    ];

    #[test]
    fn test_deconstruct() {
        let p = Packet::new_checked(&ECHO[..]).unwrap();
        assert_eq!(p.msg_type(), ECHO_REQUEST);
        assert_eq!(p.code(), 0);
        assert_eq!(p.checksum(), 0x4a3b);
        assert_eq!(p.ident(), 0x1c2e);
        assert_eq!(p.seq_no(), 1);
        assert_eq!(p.data(), b"abcdefgh");
        assert!(p.verify_checksum());
    }

    #[test]
    fn test_construct() {
        let mut buf = [0xa5u8; 16];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_msg_type(ECHO_REQUEST);
        p.set_code(0);
        p.set_ident(0x1c2e);
        p.set_seq_no(1);
        p.data_mut().copy_from_slice(b"abcdefgh");
        p.fill_checksum();
        assert_eq!(buf, ECHO);
    }

    #[test]
    fn test_echo_reply_in_place() {
        let mut buf = ECHO;
        let mut p = Packet::new_checked(&mut buf[..]).unwrap();
        p.set_msg_type(ECHO_REPLY);
        p.fill_checksum();
        assert!(p.verify_checksum());
        // Only the type byte differs: checksum grows by 0x0800.
        assert_eq!(p.checksum(), 0x4a3b + 0x0800);
    }

    #[test]
    fn test_bad_checksum() {
        let mut buf = ECHO;
        buf[15] ^= 0x10;
        assert!(!Packet::new_checked(&buf[..]).unwrap().verify_checksum());
    }

    #[test]
    fn test_too_short() {
        assert_eq!(Packet::new_checked(&ECHO[..7]).err(), Some(Error));
        assert!(Packet::new_checked(&ECHO[..8]).unwrap().data().is_empty());
    }
}
