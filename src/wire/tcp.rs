//! TCP (RFC 9293): header view, options, and MSS clamping.

use std::net::Ipv4Addr;

use super::checksum;
use super::ipv4::protocol;
use super::{Error, Result};

/// Length of a TCP header without options.
pub const HEADER_LEN: usize = 20;

/// Option kinds.
pub mod option_kind {
    pub const END: u8 = 0;
    pub const NOP: u8 = 1;
    pub const MSS: u8 = 2;
    pub const WINDOW_SCALE: u8 = 3;
    pub const SACK_PERMITTED: u8 = 4;
    pub const SACK: u8 = 5;
    pub const TIMESTAMPS: u8 = 8;
}

mod field {
    use crate::wire::Field;
    pub const SRC_PORT: Field = 0..2;
    pub const DST_PORT: Field = 2..4;
    pub const SEQ_NUM: Field = 4..8;
    pub const ACK_NUM: Field = 8..12;
    pub const DATA_OFF: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WINDOW: Field = 14..16;
    pub const CHECKSUM: Field = 16..18;
    pub const URGENT: Field = 18..20;
    pub const OPTIONS: usize = 20;
}

/// Flag bits in byte 13.
pub mod flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// A read/write view of a TCP segment. The buffer must be exactly the
/// segment (the IPv4 payload) for the checksum functions.
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

    /// Ensures buffer >= 20 and `20 <= header_len <= buffer len`.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error);
        }
        let hl = self.header_len();
        if hl < HEADER_LEN || hl > len {
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

    pub fn seq_number(&self) -> u32 {
        be32(&self.buffer.as_ref()[field::SEQ_NUM])
    }

    pub fn ack_number(&self) -> u32 {
        be32(&self.buffer.as_ref()[field::ACK_NUM])
    }

    /// Header length in bytes (data offset * 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::DATA_OFF] >> 4) * 4
    }

    /// The flag byte (see [`flags`]).
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }

    pub fn syn(&self) -> bool {
        self.flags() & flags::SYN != 0
    }

    pub fn ack(&self) -> bool {
        self.flags() & flags::ACK != 0
    }

    pub fn fin(&self) -> bool {
        self.flags() & flags::FIN != 0
    }

    pub fn rst(&self) -> bool {
        self.flags() & flags::RST != 0
    }

    pub fn window_len(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::WINDOW])
    }

    pub fn checksum(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::CHECKSUM])
    }

    pub fn urgent_at(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::URGENT])
    }

    /// The raw option bytes (20..header_len).
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[field::OPTIONS..self.header_len()]
    }

    /// An iterator over the options.
    pub fn options_iter(&self) -> TcpOptions<'_> {
        TcpOptions::new(self.options())
    }

    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }

    /// Verifies the checksum over the IPv4 pseudo-header and the buffer.
    pub fn verify_checksum_v4(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        let data = self.buffer.as_ref();
        let Ok(len) = u16::try_from(data.len()) else {
            return false;
        };
        let sum = checksum::combine(
            checksum::pseudo_header_v4(src, dst, protocol::TCP, len),
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

    pub fn set_seq_number(&mut self, v: u32) {
        self.buffer.as_mut()[field::SEQ_NUM].copy_from_slice(&v.to_be_bytes())
    }

    pub fn set_ack_number(&mut self, v: u32) {
        self.buffer.as_mut()[field::ACK_NUM].copy_from_slice(&v.to_be_bytes())
    }

    /// Sets the data offset to `len / 4` (`len` in bytes, 20..=60); keeps
    /// the low nibble.
    pub fn set_header_len(&mut self, len: usize) {
        let b = &mut self.buffer.as_mut()[field::DATA_OFF];
        *b = (*b & 0x0f) | (((len / 4) as u8) << 4);
    }

    pub fn set_flags(&mut self, f: u8) {
        self.buffer.as_mut()[field::FLAGS] = f
    }

    pub fn set_window_len(&mut self, v: u16) {
        self.buffer.as_mut()[field::WINDOW].copy_from_slice(&v.to_be_bytes())
    }

    pub fn set_checksum(&mut self, v: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&v.to_be_bytes())
    }

    pub fn set_urgent_at(&mut self, v: u16) {
        self.buffer.as_mut()[field::URGENT].copy_from_slice(&v.to_be_bytes())
    }

    pub fn options_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        &mut self.buffer.as_mut()[field::OPTIONS..hl]
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        &mut self.buffer.as_mut()[hl..]
    }

    /// Computes and stores the checksum over the IPv4 pseudo-header and the
    /// whole buffer (which must be shorter than 64 KiB).
    pub fn fill_checksum_v4(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        self.set_checksum(0);
        let data = self.buffer.as_ref();
        let len = u16::try_from(data.len()).unwrap_or(u16::MAX);
        let sum = checksum::combine(
            checksum::pseudo_header_v4(src, dst, protocol::TCP, len),
            checksum::sum(data),
        );
        self.set_checksum(!checksum::fold(sum))
    }
}

/// One TCP option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpOption<'a> {
    EndOfList,
    NoOp,
    Mss(u16),
    WindowScale(u8),
    SackPermitted,
    Timestamps {
        tsval: u32,
        tsecr: u32,
    },
    /// Any other option (or a known kind with an unexpected length).
    Unknown {
        kind: u8,
        data: &'a [u8],
    },
}

/// Iterator over TCP options. Yields `Err` once on a malformed option and
/// then stops; stops after `EndOfList`.
#[derive(Debug, Clone)]
pub struct TcpOptions<'a> {
    rest: &'a [u8],
    done: bool,
}

impl<'a> TcpOptions<'a> {
    pub fn new(options: &'a [u8]) -> TcpOptions<'a> {
        TcpOptions {
            rest: options,
            done: false,
        }
    }
}

impl<'a> Iterator for TcpOptions<'a> {
    type Item = Result<TcpOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let (&kind, after) = self.rest.split_first()?;
        match kind {
            option_kind::END => {
                self.done = true;
                return Some(Ok(TcpOption::EndOfList));
            }
            option_kind::NOP => {
                self.rest = after;
                return Some(Ok(TcpOption::NoOp));
            }
            _ => {}
        }
        let len = match after.first() {
            Some(&l) if l >= 2 && usize::from(l) <= self.rest.len() => usize::from(l),
            _ => {
                self.done = true;
                return Some(Err(Error));
            }
        };
        let data = &self.rest[2..len];
        self.rest = &self.rest[len..];
        Some(Ok(match (kind, data.len()) {
            (option_kind::MSS, 2) => TcpOption::Mss(be16(data)),
            (option_kind::WINDOW_SCALE, 1) => TcpOption::WindowScale(data[0]),
            (option_kind::SACK_PERMITTED, 0) => TcpOption::SackPermitted,
            (option_kind::TIMESTAMPS, 8) => TcpOption::Timestamps {
                tsval: be32(&data[..4]),
                tsecr: be32(&data[4..]),
            },
            _ => TcpOption::Unknown { kind, data },
        }))
    }
}

/// Finds the MSS option (kind 2, length 4) in a TCP segment (`tcp_segment`
/// starts at the TCP header) and, if its value is above `max_mss`, lowers it
/// to `max_mss`, updating the TCP checksum incrementally (RFC 1624; works
/// at any option alignment).
///
/// Returns `Some((old, new))` when an MSS option was found (`new == old`
/// when it was not above `max_mss` and nothing was written), `None` when
/// there is none or the header/options are malformed (nothing written).
/// Does not look at the flags: the caller decides (SYN). Never panics.
pub fn clamp_mss(tcp_segment: &mut [u8], max_mss: u16) -> Option<(u16, u16)> {
    let hl = usize::from(tcp_segment.get(field::DATA_OFF)? >> 4) * 4;
    if hl < HEADER_LEN || hl > tcp_segment.len() {
        return None;
    }
    let mut i = field::OPTIONS;
    let mss_off = loop {
        if i >= hl {
            return None;
        }
        match tcp_segment[i] {
            option_kind::END => return None,
            option_kind::NOP => i += 1,
            kind => {
                let len = usize::from(*tcp_segment.get(i + 1).filter(|_| i + 1 < hl)?);
                if len < 2 || i + len > hl {
                    return None;
                }
                if kind == option_kind::MSS {
                    if len != 4 {
                        return None;
                    }
                    break i + 2;
                }
                i += len;
            }
        }
    };
    let old = be16(&tcp_segment[mss_off..mss_off + 2]);
    if old <= max_mss {
        return Some((old, old));
    }
    let csum = be16(&tcp_segment[field::CHECKSUM]);
    // A 16-bit value at an odd offset contributes its bytes swapped.
    let new_csum = if mss_off % 2 == 0 {
        checksum::update_u16(csum, old, max_mss)
    } else {
        checksum::update_u16(csum, old.swap_bytes(), max_mss.swap_bytes())
    };
    tcp_segment[mss_off..mss_off + 2].copy_from_slice(&max_mss.to_be_bytes());
    tcp_segment[field::CHECKSUM].copy_from_slice(&new_csum.to_be_bytes());
    Some((old, max_mss))
}

#[cfg(test)]
mod test {
    use super::*;

    const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const DST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    /// Independent checksum over pseudo-header + segment.
    fn ref_csum(seg: &[u8]) -> u16 {
        let mut v = Vec::new();
        v.extend_from_slice(&SRC.octets());
        v.extend_from_slice(&DST.octets());
        v.extend_from_slice(&[0, 6]);
        v.extend_from_slice(&(seg.len() as u16).to_be_bytes());
        v.extend_from_slice(seg);
        let mut acc: u64 = 0;
        for (i, b) in v.iter().enumerate() {
            acc += u64::from(*b) << if i % 2 == 0 { 8 } else { 0 };
        }
        while acc > 0xffff {
            acc = (acc & 0xffff) + (acc >> 16);
        }
        !(acc as u16)
    }

    // Linux SYN: 43210 -> 22, seq 0x01020304, options
    // MSS 1460, SACK-perm, TS(0x11223344, 0), NOP, WS 7. Checksum filled in.
    static SYN: [u8; 40] = [
        0xa8, 0xca, 0x00, 0x16, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfa,
        0xf0, 0x00, 0x00, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x11, 0x22,
        0x33, 0x44, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
    ];

    fn syn() -> [u8; 40] {
        let mut s = SYN;
        let c = ref_csum(&s);
        s[16..18].copy_from_slice(&c.to_be_bytes());
        s
    }

    #[test]
    fn test_deconstruct() {
        let s = syn();
        let p = Packet::new_checked(&s[..]).unwrap();
        assert_eq!(p.src_port(), 43210);
        assert_eq!(p.dst_port(), 22);
        assert_eq!(p.seq_number(), 0x0102_0304);
        assert_eq!(p.ack_number(), 0);
        assert_eq!(p.header_len(), 40);
        assert!(p.syn() && !p.ack() && !p.fin() && !p.rst());
        assert_eq!(p.window_len(), 64240);
        assert_eq!(p.urgent_at(), 0);
        assert_eq!(p.options().len(), 20);
        assert!(p.payload().is_empty());
        assert!(p.verify_checksum_v4(SRC, DST));
        let opts: Vec<_> = p.options_iter().collect();
        assert_eq!(
            opts,
            vec![
                Ok(TcpOption::Mss(1460)),
                Ok(TcpOption::SackPermitted),
                Ok(TcpOption::Timestamps {
                    tsval: 0x1122_3344,
                    tsecr: 0
                }),
                Ok(TcpOption::NoOp),
                Ok(TcpOption::WindowScale(7)),
            ]
        );
    }

    #[test]
    fn test_construct() {
        let mut buf = [0xa5u8; 40];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_src_port(43210);
        p.set_dst_port(22);
        p.set_seq_number(0x0102_0304);
        p.set_ack_number(0);
        buf[12] = 0;
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_header_len(40);
        p.set_flags(flags::SYN);
        p.set_window_len(64240);
        p.set_urgent_at(0);
        p.options_mut().copy_from_slice(&SYN[20..]);
        p.fill_checksum_v4(SRC, DST);
        assert_eq!(buf, syn());
    }

    /// RFC 1624 corner: a SYN whose clamped segment (with pseudo-header)
    /// sums to 0xffff must get checksum 0x0000, as recomputation gives; the
    /// pseudo-header's protocol word is never zero, so 0xffff never is.
    #[test]
    fn test_clamp_mss_checksum_zero() {
        for max in [1400u16, 536, 1200] {
            let mut s = syn();
            // Clamp a scratch copy with a zero checksum field and find the
            // sequence number that makes the clamped sum 0xffff.
            s[4..8].copy_from_slice(&[0, 0, 0, 0]);
            s[16..18].copy_from_slice(&[0, 0]);
            s[22..24].copy_from_slice(&max.to_be_bytes());
            let rest = !ref_csum(&s);
            s[4..6].copy_from_slice(&(0xffff - rest).to_be_bytes());
            assert_eq!(ref_csum(&s), 0x0000);
            s[22..24].copy_from_slice(&1460u16.to_be_bytes());
            let c = ref_csum(&s);
            s[16..18].copy_from_slice(&c.to_be_bytes());
            assert_eq!(clamp_mss(&mut s, max), Some((1460, max)));
            assert_eq!(&s[16..18], &[0, 0], "max {max}");
            assert_eq!(ref_csum(&s), 0);
        }
    }

    #[test]
    fn test_clamp_mss() {
        let mut s = syn();
        assert_eq!(clamp_mss(&mut s, 1400), Some((1460, 1400)));
        assert_eq!(&s[22..24], &1400u16.to_be_bytes());
        assert_eq!(ref_csum(&s), 0);
        let mut want = s;
        want[16] = 0;
        want[17] = 0;
        let c = ref_csum(&want);
        assert_eq!(&s[16..18], &c.to_be_bytes());
        // Already low enough: untouched.
        let before = s;
        assert_eq!(clamp_mss(&mut s, 1400), Some((1400, 1400)));
        assert_eq!(clamp_mss(&mut s, 1500), Some((1400, 1400)));
        assert_eq!(s, before);
    }

    #[test]
    fn test_clamp_mss_odd_offset() {
        // NOP, MSS 9000, NOP, NOP, NOP (options 8 bytes, MSS value at 23).
        let mut s = [0u8; 28];
        s[..20].copy_from_slice(&SYN[..20]);
        s[12] = 0x70;
        s[20..].copy_from_slice(&[1, 2, 4, 0x23, 0x28, 1, 1, 0]);
        let c = ref_csum(&s);
        s[16..18].copy_from_slice(&c.to_be_bytes());
        assert_eq!(clamp_mss(&mut s, 1360), Some((9000, 1360)));
        assert_eq!(&s[23..25], &1360u16.to_be_bytes());
        assert_eq!(ref_csum(&s), 0);
        // Also with an odd-length payload after the options.
        let mut v = s.to_vec();
        v[23..25].copy_from_slice(&9000u16.to_be_bytes());
        v.extend_from_slice(b"hello");
        v[16..18].copy_from_slice(&[0, 0]);
        let c = ref_csum(&v);
        v[16..18].copy_from_slice(&c.to_be_bytes());
        assert_eq!(clamp_mss(&mut v, 1000), Some((9000, 1000)));
        assert_eq!(ref_csum(&v), 0);
    }

    #[test]
    fn test_clamp_mss_absent() {
        let mut s = syn();
        s[20..24].copy_from_slice(&[1, 1, 1, 1]);
        assert_eq!(clamp_mss(&mut s, 1000), None);
        // After End-of-list: ignored.
        let mut s = syn();
        s[20..24].copy_from_slice(&[0, 2, 4, 0x40]);
        assert_eq!(clamp_mss(&mut s, 1000), None);
        // No options.
        let mut s = syn();
        s[12] = 0x50;
        assert_eq!(clamp_mss(&mut s, 1000), None);
    }

    #[test]
    fn test_clamp_mss_malformed() {
        let cases: [(usize, &[u8]); 5] = [
            // Option length 0, 1 before MSS.
            (20, &[8, 0]),
            (20, &[8, 1]),
            // Option length runs past header.
            (20, &[8, 30]),
            // MSS with length 3.
            (20, &[2, 3, 5]),
            // MSS with length 6.
            (20, &[2, 6, 5, 0xb4, 0, 0]),
        ];
        for (at, bytes) in cases {
            let mut s = syn();
            s[at..at + bytes.len()].copy_from_slice(bytes);
            let before = s;
            assert_eq!(clamp_mss(&mut s, 1000), None, "{bytes:?}");
            assert_eq!(s, before);
        }
        // Kind at the last header byte with no room for length.
        let mut s = syn();
        s[20..39].copy_from_slice(&[1; 19]);
        s[39] = 2;
        assert_eq!(clamp_mss(&mut s, 1000), None);
        // MSS cut by the header length (data offset 6 = 24 bytes, MSS at 22).
        let mut s = syn();
        s[12] = 0x60;
        s[20..24].copy_from_slice(&[1, 1, 2, 4]);
        assert_eq!(clamp_mss(&mut s, 1000), None);
    }

    #[test]
    fn test_clamp_mss_bad_header() {
        for len in 0..20 {
            let mut s = syn();
            assert_eq!(clamp_mss(&mut s[..len], 1000), None);
        }
        let mut s = syn();
        assert_eq!(clamp_mss(&mut s[..39], 1000), None);
        let mut s = syn();
        s[12] = 0x40;
        assert_eq!(clamp_mss(&mut s, 1000), None);
        let mut s = syn();
        s[12] = 0xf0;
        assert_eq!(clamp_mss(&mut s, 1000), None);
    }

    #[test]
    fn test_clamp_mss_exhaustive_no_panic() {
        // Every option byte pattern from a small alphabet: no panics, and
        // when clamped the checksum still verifies.
        let alphabet = [0u8, 1, 2, 3, 4, 0xff];
        let mut count = 0;
        for a in alphabet {
            for b in alphabet {
                for c in alphabet {
                    for d in alphabet {
                        let mut s = [0u8; 24];
                        s[..20].copy_from_slice(&SYN[..20]);
                        s[12] = 0x60;
                        s[20..].copy_from_slice(&[a, b, c, d]);
                        let csum = ref_csum(&s);
                        s[16..18].copy_from_slice(&csum.to_be_bytes());
                        if let Some((old, new)) = clamp_mss(&mut s, 0x0300) {
                            assert!(new <= old);
                            assert_eq!(ref_csum(&s), 0);
                            count += 1;
                        }
                    }
                }
            }
        }
        assert!(count > 0);
    }

    #[test]
    fn test_options_malformed() {
        let opts: Vec<_> = TcpOptions::new(&[1, 8, 1]).collect();
        assert_eq!(opts, vec![Ok(TcpOption::NoOp), Err(Error)]);
        let opts: Vec<_> = TcpOptions::new(&[8]).collect();
        assert_eq!(opts, vec![Err(Error)]);
        let opts: Vec<_> = TcpOptions::new(&[0, 2, 4, 5, 0xb4]).collect();
        assert_eq!(opts, vec![Ok(TcpOption::EndOfList)]);
        let opts: Vec<_> = TcpOptions::new(&[2, 3, 5]).collect();
        assert_eq!(
            opts,
            vec![Ok(TcpOption::Unknown {
                kind: 2,
                data: &[5]
            })]
        );
    }

    #[test]
    fn test_too_short() {
        let s = syn();
        for len in 0..40 {
            assert_eq!(Packet::new_checked(&s[..len]).err(), Some(Error), "{len}");
        }
        let mut s = syn();
        s[12] = 0x40;
        assert_eq!(Packet::new_checked(&s[..]).err(), Some(Error));
    }
}
