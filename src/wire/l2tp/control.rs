//! L2TPv3 control message header (RFC 3931 §3.2.1). AVPs come later.
//!
//! ```text
//! |T|L|x|x|S|x|x|x|x|x|x|x|  Ver  |             Length            |
//! |                     Control Connection ID                     |
//! |               Ns              |               Nr              |
//! ```
//!
//! Over IP the header follows 4 zero bytes (session ID 0); over UDP it is
//! the start of the UDP payload.

use super::VERSION;
use crate::wire::{Error, Result};

/// Length of the control message header.
pub const HEADER_LEN: usize = 12;

const FLAG_T: u16 = 0x8000;
const FLAG_L: u16 = 0x4000;
const FLAG_S: u16 = 0x0800;

mod field {
    use crate::wire::Field;
    pub const FLAGS: Field = 0..2;
    pub const LENGTH: Field = 2..4;
    pub const CCID: Field = 4..8;
    pub const NS: Field = 8..10;
    pub const NR: Field = 10..12;
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

/// A read/write view of a control message.
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

    /// Ensures buffer >= 12, T = L = S = 1, version 3, and
    /// `12 <= length <= buffer len`.
    pub fn check_len(&self) -> Result<()> {
        let blen = self.buffer.as_ref().len();
        if blen < HEADER_LEN {
            return Err(Error);
        }
        if !(self.is_control() && self.has_length() && self.has_sequence())
            || self.version() != VERSION
        {
            return Err(Error);
        }
        let len = usize::from(self.length());
        if len < HEADER_LEN || len > blen {
            return Err(Error);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn flags(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::FLAGS])
    }

    /// The T bit.
    pub fn is_control(&self) -> bool {
        self.flags() & FLAG_T != 0
    }

    /// The L bit.
    pub fn has_length(&self) -> bool {
        self.flags() & FLAG_L != 0
    }

    /// The S bit.
    pub fn has_sequence(&self) -> bool {
        self.flags() & FLAG_S != 0
    }

    pub fn version(&self) -> u8 {
        (self.flags() & 0x000f) as u8
    }

    /// Total message length including the header.
    pub fn length(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::LENGTH])
    }

    pub fn ccid(&self) -> u32 {
        let b = &self.buffer.as_ref()[field::CCID];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    pub fn ns(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::NS])
    }

    pub fn nr(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::NR])
    }

    /// The AVPs: bytes 12..length. Empty for a ZLB ACK.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..usize::from(self.length())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Writes T = L = S = 1 and version 3.
    pub fn set_flags_and_version(&mut self) {
        let v = FLAG_T | FLAG_L | FLAG_S | u16::from(VERSION);
        self.buffer.as_mut()[field::FLAGS].copy_from_slice(&v.to_be_bytes())
    }

    pub fn set_length(&mut self, v: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&v.to_be_bytes())
    }

    pub fn set_ccid(&mut self, v: u32) {
        self.buffer.as_mut()[field::CCID].copy_from_slice(&v.to_be_bytes())
    }

    pub fn set_ns(&mut self, v: u16) {
        self.buffer.as_mut()[field::NS].copy_from_slice(&v.to_be_bytes())
    }

    pub fn set_nr(&mut self, v: u16) {
        self.buffer.as_mut()[field::NR].copy_from_slice(&v.to_be_bytes())
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.length());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
}

/// An owned control message header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ControlRepr {
    pub ccid: u32,
    pub ns: u16,
    pub nr: u16,
    /// Length of the AVPs after the header.
    pub payload_len: usize,
}

impl ControlRepr {
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<ControlRepr> {
        p.check_len()?;
        Ok(ControlRepr {
            ccid: p.ccid(),
            ns: p.ns(),
            nr: p.nr(),
            payload_len: p.payload().len(),
        })
    }

    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the 12-byte header (length saturates at 0xffff). The packet
    /// must hold at least `HEADER_LEN` bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) {
        let len = u16::try_from(HEADER_LEN.saturating_add(self.payload_len)).unwrap_or(u16::MAX);
        p.set_flags_and_version();
        p.set_length(len);
        p.set_ccid(self.ccid);
        p.set_ns(self.ns);
        p.set_nr(self.nr);
    }
}

#[cfg(test)]
mod test {
    use super::*;

    // ZLB-ish message with one 6-byte AVP header stub (Message Type, SCCRQ).
    static MSG: [u8; 20] = [
        0xc8, 0x03, 0x00, 0x14, 0x00, 0x00, 0x30, 0x39, 0x00, 0x01, 0x00, 0x02, 0x80, 0x08, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x01,
    ];

    fn repr() -> ControlRepr {
        ControlRepr {
            ccid: 12345,
            ns: 1,
            nr: 2,
            payload_len: 8,
        }
    }

    #[test]
    fn test_deconstruct() {
        let p = Packet::new_checked(&MSG[..]).unwrap();
        assert!(p.is_control() && p.has_length() && p.has_sequence());
        assert_eq!(p.version(), 3);
        assert_eq!(p.length(), 20);
        assert_eq!(p.ccid(), 12345);
        assert_eq!(p.ns(), 1);
        assert_eq!(p.nr(), 2);
        assert_eq!(p.payload(), &MSG[12..]);
    }

    #[test]
    fn test_construct() {
        let mut buf = [0xa5u8; 20];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_flags_and_version();
        p.set_length(20);
        p.set_ccid(12345);
        p.set_ns(1);
        p.set_nr(2);
        p.payload_mut().copy_from_slice(&MSG[12..]);
        assert_eq!(buf, MSG);
    }

    #[test]
    fn test_parse() {
        let p = Packet::new_checked(&MSG[..]).unwrap();
        assert_eq!(ControlRepr::parse(&p), Ok(repr()));
    }

    #[test]
    fn test_emit() {
        let mut buf = [0xa5u8; 12];
        repr().emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(buf, MSG[..12]);
    }

    #[test]
    fn test_too_short() {
        for len in 0..20 {
            assert_eq!(Packet::new_checked(&MSG[..len]).err(), Some(Error), "{len}");
        }
    }

    #[test]
    fn test_bad_length_field() {
        let mut b = MSG;
        b[3] = 11;
        assert_eq!(Packet::new_checked(&b[..]).err(), Some(Error));
        b[2..4].copy_from_slice(&0xffffu16.to_be_bytes());
        assert_eq!(Packet::new_checked(&b[..]).err(), Some(Error));
    }

    #[test]
    fn test_bad_flags() {
        for (byte, mask) in [(0usize, 0x80u8), (0, 0x40), (0, 0x08)] {
            let mut b = MSG;
            b[byte] &= !mask;
            assert_eq!(Packet::new_checked(&b[..]).err(), Some(Error));
        }
        let mut b = MSG;
        b[1] = 0x02;
        assert_eq!(Packet::new_checked(&b[..]).err(), Some(Error));
    }
}
