//! IEEE 802.1Q / 802.1ad VLAN tags.
//!
//! The view covers the 4 bytes that follow a tag ethertype (0x8100, 0x88a8
//! or 0x9100): the TCI and the encapsulated ethertype.

use super::ethernet::{self, ethertype};
use super::{Error, Result};

/// Length of one tag after the outer ethertype (TCI + inner ethertype).
pub const HEADER_LEN: usize = 4;

/// Highest number of tags [`inner_offset`] skips.
pub const MAX_TAGS: u8 = 2;

/// Whether `t` is a VLAN tag ethertype (802.1Q, 802.1ad, or old QinQ).
pub fn is_tag_ethertype(t: u16) -> bool {
    matches!(t, ethertype::VLAN | ethertype::QINQ | ethertype::QINQ_OLD)
}

mod field {
    use crate::wire::Field;
    pub const TCI: Field = 0..2;
    pub const ETHERTYPE: Field = 2..4;
    pub const PAYLOAD: usize = 4;
}

/// A read/write view of one VLAN tag.
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

    /// Ensures the buffer holds at least 4 bytes.
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

    /// Tag control information: PCP (3) | DEI (1) | VID (12).
    pub fn tci(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::TCI];
        u16::from_be_bytes([b[0], b[1]])
    }

    pub fn vid(&self) -> u16 {
        self.tci() & 0x0fff
    }

    pub fn pcp(&self) -> u8 {
        (self.tci() >> 13) as u8
    }

    pub fn dei(&self) -> bool {
        self.tci() & 0x1000 != 0
    }

    pub fn inner_ethertype(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::ETHERTYPE];
        u16::from_be_bytes([b[0], b[1]])
    }

    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_tci(&mut self, tci: u16) {
        self.buffer.as_mut()[field::TCI].copy_from_slice(&tci.to_be_bytes())
    }

    /// Sets the VID (low 12 bits of `vid`), keeping PCP and DEI.
    pub fn set_vid(&mut self, vid: u16) {
        let tci = (self.tci() & 0xf000) | (vid & 0x0fff);
        self.set_tci(tci)
    }

    /// Sets the PCP (low 3 bits of `pcp`), keeping DEI and VID.
    pub fn set_pcp(&mut self, pcp: u8) {
        let tci = (self.tci() & 0x1fff) | (u16::from(pcp & 0x7) << 13);
        self.set_tci(tci)
    }

    pub fn set_dei(&mut self, dei: bool) {
        let tci = (self.tci() & !0x1000) | if dei { 0x1000 } else { 0 };
        self.set_tci(tci)
    }

    pub fn set_inner_ethertype(&mut self, t: u16) {
        self.buffer.as_mut()[field::ETHERTYPE].copy_from_slice(&t.to_be_bytes())
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD..]
    }
}

/// An owned VLAN tag (the 4 bytes after the tag ethertype).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VlanRepr {
    pub pcp: u8,
    pub dei: bool,
    pub vid: u16,
    pub inner_ethertype: u16,
}

impl VlanRepr {
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<VlanRepr> {
        p.check_len()?;
        Ok(VlanRepr {
            pcp: p.pcp(),
            dei: p.dei(),
            vid: p.vid(),
            inner_ethertype: p.inner_ethertype(),
        })
    }

    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// The packet must hold at least 4 bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut Packet<T>) {
        let tci = (u16::from(self.pcp & 7) << 13)
            | if self.dei { 0x1000 } else { 0 }
            | (self.vid & 0x0fff);
        p.set_tci(tci);
        p.set_inner_ethertype(self.inner_ethertype);
    }
}

/// Finds the L3 payload of an Ethernet `frame`, skipping up to two VLAN tags
/// (0x8100, 0x88a8, 0x9100).
///
/// Returns `(offset of the L3 payload, final ethertype, number of tags)`, or
/// `None` if the frame is too short for its header and tags. A frame with
/// more than two tags returns the offset after the second tag, with the
/// third tag's ethertype as the final ethertype. Never panics.
pub fn inner_offset(frame: &[u8]) -> Option<(usize, u16, u8)> {
    let mut off = ethernet::HEADER_LEN;
    let et = frame.get(off - 2..off)?;
    let mut t = u16::from_be_bytes([et[0], et[1]]);
    let mut tags = 0u8;
    while tags < MAX_TAGS && is_tag_ethertype(t) {
        let et = frame.get(off + 2..off + 4)?;
        t = u16::from_be_bytes([et[0], et[1]]);
        off += HEADER_LEN;
        tags += 1;
    }
    Some((off, t, tags))
}

#[cfg(test)]
mod test {
    use super::*;

    // TCI: PCP 5, DEI 1, VID 0x123; inner IPv4; 2 payload bytes.
    static TAG: [u8; 6] = [0xb1, 0x23, 0x08, 0x00, 0x45, 0x00];

    // dst, src, 0x88a8 vid 100, 0x8100 vid 200, IPv6.
    static QINQ_FRAME: [u8; 24] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1, 0x88, 0xa8, 0x00, 0x64, 0x81,
        0x00, 0x00, 0xc8, 0x86, 0xdd, 0x60, 0x00,
    ];

    fn repr() -> VlanRepr {
        VlanRepr {
            pcp: 5,
            dei: true,
            vid: 0x123,
            inner_ethertype: ethertype::IPV4,
        }
    }

    #[test]
    fn test_deconstruct() {
        let p = Packet::new_checked(&TAG[..]).unwrap();
        assert_eq!(p.tci(), 0xb123);
        assert_eq!(p.pcp(), 5);
        assert!(p.dei());
        assert_eq!(p.vid(), 0x123);
        assert_eq!(p.inner_ethertype(), ethertype::IPV4);
        assert_eq!(p.payload(), &[0x45, 0x00]);
    }

    #[test]
    fn test_construct() {
        let mut buf = [0xa5u8; 6];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_tci(0);
        p.set_vid(0xf123);
        p.set_pcp(0xfd);
        p.set_dei(true);
        p.set_inner_ethertype(ethertype::IPV4);
        p.payload_mut().copy_from_slice(&[0x45, 0x00]);
        assert_eq!(buf, TAG);
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_dei(false);
        assert_eq!(p.tci(), 0xa123);
    }

    #[test]
    fn test_parse() {
        let p = Packet::new_checked(&TAG[..]).unwrap();
        assert_eq!(VlanRepr::parse(&p).unwrap(), repr());
    }

    #[test]
    fn test_emit() {
        let mut buf = [0xa5u8; 4];
        repr().emit(&mut Packet::new_unchecked(&mut buf[..]));
        assert_eq!(buf, TAG[..4]);
    }

    #[test]
    fn test_too_short() {
        assert_eq!(Packet::new_checked(&TAG[..3]).err(), Some(Error));
    }

    #[test]
    fn test_inner_offset() {
        assert_eq!(inner_offset(&QINQ_FRAME), Some((22, ethertype::IPV6, 2)));
        // Single tag: rewrite the outer tag to IPv4.
        let mut f = QINQ_FRAME;
        f[12] = 0x81;
        f[13] = 0x00;
        f[16] = 0x08;
        f[17] = 0x00;
        assert_eq!(inner_offset(&f), Some((18, ethertype::IPV4, 1)));
        // Untagged.
        assert_eq!(
            inner_offset(
                &QINQ_FRAME[..12]
                    .iter()
                    .chain(&[0x08, 0x06])
                    .copied()
                    .collect::<Vec<_>>()
            ),
            Some((14, ethertype::ARP, 0))
        );
        // Three tags: stop after two.
        let mut f = QINQ_FRAME;
        f[20] = 0x91;
        f[21] = 0x00;
        assert_eq!(inner_offset(&f), Some((22, ethertype::QINQ_OLD, 2)));
    }

    #[test]
    fn test_inner_offset_truncated() {
        for len in 0..14 {
            assert_eq!(inner_offset(&QINQ_FRAME[..len]), None, "len {len}");
        }
        for len in 14..22 {
            assert_eq!(inner_offset(&QINQ_FRAME[..len]), None, "len {len}");
        }
        assert!(inner_offset(&QINQ_FRAME[..22]).is_some());
    }
}
