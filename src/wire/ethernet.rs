//! Ethernet II frames and MAC addresses.

use core::fmt;
use core::str::FromStr;

use super::{Error, Result};

/// Length of the Ethernet II header (dst, src, ethertype).
pub const HEADER_LEN: usize = 14;

/// EtherType values.
pub mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const ARP: u16 = 0x0806;
    pub const IPV6: u16 = 0x86dd;
    /// 802.1Q customer VLAN tag.
    pub const VLAN: u16 = 0x8100;
    /// 802.1ad service VLAN tag.
    pub const QINQ: u16 = 0x88a8;
    /// Pre-standard QinQ tag.
    pub const QINQ_OLD: u16 = 0x9100;
    pub const LLDP: u16 = 0x88cc;
    /// Slow protocols (LACP, marker, OAM).
    pub const SLOW: u16 = 0x8809;
    /// MAC control (PAUSE, PFC).
    pub const MAC_CONTROL: u16 = 0x8808;
    /// Alias of [`MAC_CONTROL`].
    pub const PAUSE: u16 = MAC_CONTROL;
    pub const EAPOL: u16 = 0x888e;
}

/// A 48-bit IEEE MAC address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    pub const ZERO: MacAddr = MacAddr([0; 6]);

    /// Builds from a byte slice of exactly 6 bytes.
    pub fn from_bytes(b: &[u8]) -> Result<MacAddr> {
        <[u8; 6]>::try_from(b).map(MacAddr).map_err(|_| Error)
    }

    pub fn as_bytes(&self) -> &[u8; 6] {
        &self.0
    }

    pub fn is_broadcast(&self) -> bool {
        self.0 == [0xff; 6]
    }

    /// I/G bit set (includes broadcast).
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    pub fn is_unicast(&self) -> bool {
        !self.is_multicast()
    }

    /// U/L bit set.
    pub fn is_local(&self) -> bool {
        self.0[0] & 0x02 != 0
    }

    /// The 48-bit big-endian value in the low bits of a `u64`.
    pub fn to_u64(&self) -> u64 {
        let mut b = [0u8; 8];
        b[2..].copy_from_slice(&self.0);
        u64::from_be_bytes(b)
    }

    /// The inverse of [`to_u64`](Self::to_u64); the high 16 bits are ignored.
    pub fn from_u64(v: u64) -> MacAddr {
        let b = v.to_be_bytes();
        MacAddr([b[2], b[3], b[4], b[5], b[6], b[7]])
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for MacAddr {
    type Err = Error;

    /// Accepts `aa:bb:cc:dd:ee:ff` or `aa-bb-cc-dd-ee-ff` (one separator
    /// kind, two hex digits per octet, either case).
    fn from_str(s: &str) -> Result<MacAddr> {
        let b = s.as_bytes();
        if b.len() != 17 {
            return Err(Error);
        }
        let sep = b[2];
        if sep != b':' && sep != b'-' {
            return Err(Error);
        }
        let mut out = [0u8; 6];
        for (i, o) in out.iter_mut().enumerate() {
            let p = i * 3;
            if i > 0 && b[p - 1] != sep {
                return Err(Error);
            }
            *o = (hex_digit(b[p])? << 4) | hex_digit(b[p + 1])?;
        }
        Ok(MacAddr(out))
    }
}

pub(crate) fn hex_digit(c: u8) -> Result<u8> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(Error),
    }
}

/// IEEE 802.1 reserved group addresses 01:80:c2:00:00:00..=0f (STP BPDUs,
/// LACP, LLDP, 802.1X, PAUSE, ...), which bridges must not forward.
pub fn is_bpdu_dst(mac: &MacAddr) -> bool {
    let b = &mac.0;
    b[..5] == [0x01, 0x80, 0xc2, 0x00, 0x00] && b[5] <= 0x0f
}

mod field {
    use crate::wire::Field;
    pub const DST: Field = 0..6;
    pub const SRC: Field = 6..12;
    pub const ETHERTYPE: Field = 12..14;
    pub const PAYLOAD: usize = 14;
}

/// A read/write view of an Ethernet II frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    pub fn new_unchecked(buffer: T) -> Frame<T> {
        Frame { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Frame<T>> {
        let f = Self::new_unchecked(buffer);
        f.check_len()?;
        Ok(f)
    }

    /// Ensures the buffer holds at least the 14-byte header.
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

    pub fn dst_addr(&self) -> MacAddr {
        MacAddr::from_bytes(&self.buffer.as_ref()[field::DST]).unwrap_or_default()
    }

    pub fn src_addr(&self) -> MacAddr {
        MacAddr::from_bytes(&self.buffer.as_ref()[field::SRC]).unwrap_or_default()
    }

    pub fn ethertype(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::ETHERTYPE];
        u16::from_be_bytes([b[0], b[1]])
    }

    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    pub fn set_dst_addr(&mut self, a: MacAddr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&a.0)
    }

    pub fn set_src_addr(&mut self, a: MacAddr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&a.0)
    }

    pub fn set_ethertype(&mut self, t: u16) {
        self.buffer.as_mut()[field::ETHERTYPE].copy_from_slice(&t.to_be_bytes())
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD..]
    }
}

/// An owned Ethernet II header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EthernetRepr {
    pub src: MacAddr,
    pub dst: MacAddr,
    pub ethertype: u16,
}

impl EthernetRepr {
    pub fn parse<T: AsRef<[u8]>>(frame: &Frame<T>) -> Result<EthernetRepr> {
        frame.check_len()?;
        Ok(EthernetRepr {
            src: frame.src_addr(),
            dst: frame.dst_addr(),
            ethertype: frame.ethertype(),
        })
    }

    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header. The frame must hold at least `HEADER_LEN` bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, frame: &mut Frame<T>) {
        frame.set_dst_addr(self.dst);
        frame.set_src_addr(self.src);
        frame.set_ethertype(self.ethertype);
    }
}

#[cfg(test)]
mod test {
    use super::*;

    // ARP request from 00:1b:21:3a:4c:5d, broadcast, plus 4 payload bytes.
    static FRAME: [u8; 18] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x1b, 0x21, 0x3a, 0x4c, 0x5d, 0x08, 0x06, 0x00,
        0x01, 0x08, 0x00,
    ];

    static HEADER: [u8; 14] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x1b, 0x21, 0x3a, 0x4c, 0x5d, 0x08, 0x00,
    ];

    fn repr() -> EthernetRepr {
        EthernetRepr {
            dst: MacAddr([0x02, 0, 0, 0, 0, 1]),
            src: MacAddr([0x00, 0x1b, 0x21, 0x3a, 0x4c, 0x5d]),
            ethertype: ethertype::IPV4,
        }
    }

    #[test]
    fn test_deconstruct() {
        let f = Frame::new_checked(&FRAME[..]).unwrap();
        assert_eq!(f.dst_addr(), MacAddr::BROADCAST);
        assert_eq!(f.src_addr(), MacAddr([0x00, 0x1b, 0x21, 0x3a, 0x4c, 0x5d]));
        assert_eq!(f.ethertype(), ethertype::ARP);
        assert_eq!(f.payload(), &[0x00, 0x01, 0x08, 0x00]);
    }

    #[test]
    fn test_construct() {
        let mut buf = [0xa5u8; 18];
        let mut f = Frame::new_unchecked(&mut buf[..]);
        f.set_dst_addr(MacAddr::BROADCAST);
        f.set_src_addr(MacAddr([0x00, 0x1b, 0x21, 0x3a, 0x4c, 0x5d]));
        f.set_ethertype(ethertype::ARP);
        f.payload_mut().copy_from_slice(&[0x00, 0x01, 0x08, 0x00]);
        assert_eq!(buf, FRAME);
    }

    #[test]
    fn test_parse() {
        let f = Frame::new_checked(&HEADER[..]).unwrap();
        assert_eq!(EthernetRepr::parse(&f).unwrap(), repr());
    }

    #[test]
    fn test_emit() {
        let mut buf = [0xa5u8; 14];
        let r = repr();
        assert_eq!(r.buffer_len(), 14);
        r.emit(&mut Frame::new_unchecked(&mut buf[..]));
        assert_eq!(buf, HEADER);
    }

    #[test]
    fn test_too_short() {
        assert_eq!(Frame::new_checked(&FRAME[..13]).err(), Some(Error));
        assert_eq!(Frame::new_checked(&[][..]).err(), Some(Error));
        let f = Frame::new_checked(&FRAME[..14]).unwrap();
        assert!(f.payload().is_empty());
    }

    #[test]
    fn test_mac_props() {
        assert!(MacAddr::BROADCAST.is_broadcast());
        assert!(MacAddr::BROADCAST.is_multicast());
        let m = MacAddr([0x01, 0x00, 0x5e, 0, 0, 1]);
        assert!(m.is_multicast() && !m.is_broadcast() && !m.is_unicast());
        let u = MacAddr([0x02, 0, 0, 0, 0, 1]);
        assert!(u.is_unicast() && u.is_local());
        assert_eq!(u.to_u64(), 0x0200_0000_0001);
        assert_eq!(MacAddr::from_u64(0xffff_0200_0000_0001), u);
        assert_eq!(MacAddr::from_u64(u.to_u64()), u);
        assert!(MacAddr([1, 2, 3, 4, 5, 6]) < MacAddr([1, 2, 3, 4, 5, 7]));
    }

    #[test]
    fn test_mac_display_parse() {
        let m = MacAddr([0x00, 0x1b, 0x21, 0x3a, 0x4c, 0xfd]);
        assert_eq!(m.to_string(), "00:1b:21:3a:4c:fd");
        assert_eq!(format!("{m:?}"), "00:1b:21:3a:4c:fd");
        assert_eq!("00:1b:21:3a:4c:fd".parse::<MacAddr>(), Ok(m));
        assert_eq!("00-1B-21-3A-4C-FD".parse::<MacAddr>(), Ok(m));
    }

    #[test]
    fn test_mac_parse_bad() {
        for s in [
            "",
            "00:1b:21:3a:4c",
            "00:1b:21:3a:4c:fd:00",
            "00:1b:21-3a:4c:fd",
            "00:1b:21:3a:4c:fg",
            "0:1b:21:3a:4c:fd0",
            "001b.213a.4cfd00",
            "00:1b:21:3a:4c:f\u{e9}",
        ] {
            assert_eq!(s.parse::<MacAddr>(), Err(Error), "{s:?}");
        }
    }

    #[test]
    fn test_bpdu_dst() {
        assert!(is_bpdu_dst(&MacAddr([0x01, 0x80, 0xc2, 0, 0, 0])));
        assert!(is_bpdu_dst(&MacAddr([0x01, 0x80, 0xc2, 0, 0, 0x0e])));
        assert!(is_bpdu_dst(&MacAddr([0x01, 0x80, 0xc2, 0, 0, 0x0f])));
        assert!(!is_bpdu_dst(&MacAddr([0x01, 0x80, 0xc2, 0, 0, 0x10])));
        assert!(!is_bpdu_dst(&MacAddr([0x01, 0x80, 0xc2, 0, 1, 0x00])));
        assert!(!is_bpdu_dst(&MacAddr::BROADCAST));
    }
}
