//! IPv4 and IPv6 fragment identity (RFC 791 §3.2, RFC 8200 §4.5) and
//! the exact-duplicate filter in front of `rte_ip_frag`.
//!
//! RFC 791 lets a datagram's fragments arrive duplicated (the network may
//! duplicate any packet) and tells the receiver to reassemble anyway;
//! IPv6 routers and links duplicate packets just the same. DPDK 22.11's
//! `rte_ipv4_frag_reassemble_packet` and `rte_ipv6_frag_reassemble_packet`
//! do not: a second first or last fragment makes `ip_frag_process` free
//! every fragment of the datagram, and a second middle fragment inflates
//! the collected size so that reassembly finds a hole or too many bytes
//! and frees them all (`tests/pcap_e2e.rs::fragments_short_duplicated_and_held`
//! and `tests/ipv6_pw_e2e.rs::ipv6_duplicate_fragments_are_dropped_and_the_datagram_kept`
//! fail without this filter). So the worker drops an *exact* duplicate
//! (same datagram: source, destination and ident, and for IPv4 the
//! protocol; same offset, length and M flag) of a fragment it handed to
//! the table before, counting it as `duplicate_fragment`, and leaves
//! everything else to DPDK. That is what Linux does too
//! (`inet_frag_queue_insert`, for both families: an exact duplicate is
//! dropped and the queue kept; any other overlap discards the whole
//! datagram, which DPDK also does, and RFC 8200 §4.5 requires for IPv6).
//!
//! [`DuplicateFilter`] remembers, per datagram, the fragments handed over,
//! in a direct-mapped table of fixed size allocated once (no allocation
//! per packet). A datagram's record lives as long as DPDK keeps its
//! fragments: from its first fragment for the reassembly timeout, until
//! reassembled or failed ([`DuplicateFilter::forget`]). Two datagrams
//! whose keys map to one slot evict each other; the evicted one merely
//! loses the protection (a duplicate then fails it inside DPDK, as
//! before). Slots are chosen by a seeded hash, so a sender cannot aim at
//! another sender's slots without knowing the seed.
//!
//! Pure and allocation-free after `new`; tested on byte buffers.
#![forbid(unsafe_code)]

/// What identifies a datagram for reassembly: RFC 791 §3.2 (source,
/// destination, protocol, identification) or RFC 8200 §4.5 (source,
/// destination, identification). IPv4 addresses take the first four
/// bytes; `v6` keeps the families apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct DatagramKey {
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub ident: u32,
    /// IPv4's protocol; 0 for IPv6.
    pub protocol: u8,
    pub v6: bool,
}

/// One fragment's place in its datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fragment {
    pub key: DatagramKey,
    /// Offset of its data in the datagram, in bytes.
    pub offset: u16,
    /// Length of its data (IPv4: total length minus header length; IPv6:
    /// payload length minus the Fragment header).
    pub len: u16,
    /// More fragments follow.
    pub more: bool,
}

/// IPv6's Next Header value of a Fragment header (RFC 8200 §4.5).
const IPV6_FRAGMENT: u8 = 44;

impl Fragment {
    /// Reads a fragment's identity from the IPv4 header at the start of
    /// `ip`. `None` unless `ip` holds a whole header (IHL ≥ 5, within
    /// `ip`) of a fragment (MF set or offset nonzero). Never panics.
    pub fn parse(ip: &[u8]) -> Option<Fragment> {
        let h = ip.get(..20)?;
        let hl = usize::from(h[0] & 0x0f) * 4;
        if h[0] >> 4 != 4 || hl < 20 || ip.len() < hl {
            return None;
        }
        let flags = u16::from_be_bytes([h[6], h[7]]);
        let more = flags & 0x2000 != 0;
        let offset = (flags & 0x1fff) << 3;
        if !more && offset == 0 {
            return None;
        }
        let total = u16::from_be_bytes([h[2], h[3]]);
        let mut key = DatagramKey {
            ident: u32::from(u16::from_be_bytes([h[4], h[5]])),
            protocol: h[9],
            ..DatagramKey::default()
        };
        key.src[..4].copy_from_slice(&h[12..16]);
        key.dst[..4].copy_from_slice(&h[16..20]);
        Some(Fragment {
            key,
            offset,
            len: total.saturating_sub(hl as u16),
            more,
        })
    }

    /// Reads a fragment's identity from an IPv6 fixed header at the start
    /// of `ip` followed at once by a Fragment header (the only layout the
    /// worker hands to reassembly, see `dpdk::frag`). `None` unless `ip`
    /// holds both (version 6, Next Header 44) and it is a fragment (M set
    /// or offset nonzero; an atomic fragment is not). Never panics.
    pub fn parse6(ip: &[u8]) -> Option<Fragment> {
        let h = ip.get(..48)?;
        if h[0] >> 4 != 6 || h[6] != IPV6_FRAGMENT {
            return None;
        }
        let word = u16::from_be_bytes([h[42], h[43]]);
        let more = word & 1 != 0;
        let offset = word & 0xfff8;
        if !more && offset == 0 {
            return None;
        }
        let payload = u16::from_be_bytes([h[4], h[5]]);
        let mut key = DatagramKey {
            ident: u32::from_be_bytes([h[44], h[45], h[46], h[47]]),
            v6: true,
            ..DatagramKey::default()
        };
        key.src.copy_from_slice(&h[8..24]);
        key.dst.copy_from_slice(&h[24..40]);
        Some(Fragment {
            key,
            offset,
            len: payload.saturating_sub(8),
            more,
        })
    }
}

/// The verdict of [`DuplicateFilter::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Not seen before: recorded; hand it to reassembly.
    New,
    /// An exact duplicate of a fragment handed over before: drop it.
    Duplicate,
}

/// Fragments remembered per datagram. DPDK 22.11 reassembles at most
/// `RTE_LIBRTE_IP_FRAG_MAX_FRAG` (8) fragments; fragments beyond what a
/// slot holds are not remembered (their duplicates go to DPDK, which
/// fails such a datagram anyway).
pub const SLOT_FRAGMENTS: usize = 16;

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    key: DatagramKey,
    /// When the datagram's first fragment was recorded (caller's clock).
    start: u64,
    used: bool,
    n: u8,
    /// (offset, len, more) of the fragments recorded.
    frags: [(u16, u16, bool); SLOT_FRAGMENTS],
}

/// Remembers the fragments handed to reassembly, to drop exact duplicates.
pub struct DuplicateFilter {
    slots: Box<[Slot]>,
    mask: usize,
    timeout: u64,
    seed: u64,
}

impl DuplicateFilter {
    /// Room for about `flows` datagrams (rounded up to a power of two, at
    /// least 16), each remembered for `timeout` clock units from its
    /// first fragment (the reassembly timeout). `seed` keys the hash.
    pub fn new(flows: usize, timeout: u64, seed: u64) -> DuplicateFilter {
        let n = flows.clamp(16, 1 << 20).next_power_of_two();
        DuplicateFilter {
            slots: vec![Slot::default(); n].into_boxed_slice(),
            mask: n - 1,
            timeout,
            seed: seed | 1,
        }
    }

    fn index(&self, k: &DatagramKey) -> usize {
        let w = |b: &[u8; 16], i: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[i..i + 8]);
            u64::from_ne_bytes(x)
        };
        let b = u64::from(k.ident) << 16 | u64::from(k.protocol) << 8 | u64::from(k.v6);
        let mut x = (w(&k.src, 0) ^ self.seed.rotate_left(17)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        for v in [w(&k.src, 8), w(&k.dst, 0), w(&k.dst, 8)] {
            x ^= x >> 29;
            x = (x ^ v).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        }
        x ^= x >> 29;
        x = (x ^ b ^ self.seed).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x ^= x >> 32;
        (x as usize) & self.mask
    }

    /// Whether `f` exactly repeats a fragment recorded within the
    /// timeout; if not, records it. `now` is the caller's clock.
    pub fn check(&mut self, f: &Fragment, now: u64) -> Seen {
        let i = self.index(&f.key);
        let timeout = self.timeout;
        let s = &mut self.slots[i];
        let live = s.used && s.key == f.key && s.start.saturating_add(timeout) >= now;
        if !live {
            *s = Slot {
                key: f.key,
                start: now,
                used: true,
                n: 0,
                frags: [(0, 0, false); SLOT_FRAGMENTS],
            };
        }
        let this = (f.offset, f.len, f.more);
        let n = usize::from(s.n);
        if s.frags[..n].contains(&this) {
            return Seen::Duplicate;
        }
        if n < SLOT_FRAGMENTS {
            s.frags[n] = this;
            s.n += 1;
        }
        Seen::New
    }

    /// Forgets datagram `key`: it was reassembled or reassembly gave up.
    pub fn forget(&mut self, key: &DatagramKey) {
        let i = self.index(key);
        let s = &mut self.slots[i];
        if s.used && s.key == *key {
            s.used = false;
            s.n = 0;
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    /// An IPv4 header (no checksum needed here) of a fragment.
    fn hdr(ident: u16, offset: u16, len: u16, more: bool) -> [u8; 20] {
        let mut h = [0u8; 20];
        h[0] = 0x45;
        h[2..4].copy_from_slice(&(20 + len).to_be_bytes());
        h[4..6].copy_from_slice(&ident.to_be_bytes());
        let fl = (offset / 8) | if more { 0x2000 } else { 0 };
        h[6..8].copy_from_slice(&fl.to_be_bytes());
        h[8] = 64;
        h[9] = 115;
        h[12..16].copy_from_slice(&[192, 0, 2, 10]);
        h[16..20].copy_from_slice(&[192, 0, 2, 1]);
        h
    }

    fn frag(ident: u16, offset: u16, len: u16, more: bool) -> Fragment {
        Fragment::parse(&hdr(ident, offset, len, more)).unwrap()
    }

    fn v4(a: [u8; 4]) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..4].copy_from_slice(&a);
        b
    }

    /// An IPv6 fixed header (RFC 8200 §3) and a Fragment header (§4.5),
    /// written from the RFC's figures, of `len` bytes of fragment data.
    fn hdr6(src_last: u8, ident: u32, offset: u16, len: u16, more: bool) -> [u8; 48] {
        let mut h = [0u8; 48];
        h[0] = 0x60;
        h[4..6].copy_from_slice(&(8 + len).to_be_bytes());
        h[6] = 44;
        h[7] = 64;
        h[8..10].copy_from_slice(&[0x20, 0x01]);
        h[10..12].copy_from_slice(&[0x0d, 0xb8]);
        h[23] = src_last;
        h[24..26].copy_from_slice(&[0x20, 0x01]);
        h[26..28].copy_from_slice(&[0x0d, 0xb8]);
        h[39] = 1;
        h[40] = 115;
        h[42..44].copy_from_slice(&(offset | u16::from(more)).to_be_bytes());
        h[44..48].copy_from_slice(&ident.to_be_bytes());
        h
    }

    fn frag6(ident: u32, offset: u16, len: u16, more: bool) -> Fragment {
        Fragment::parse6(&hdr6(10, ident, offset, len, more)).unwrap()
    }

    #[test]
    fn parse6() {
        let f = frag6(0x0a0a_0001, 1232, 520, false);
        let mut src = [0u8; 16];
        src[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        let mut dst = src;
        src[15] = 10;
        dst[15] = 1;
        assert_eq!(
            f,
            Fragment {
                key: DatagramKey {
                    src,
                    dst,
                    ident: 0x0a0a_0001,
                    protocol: 0,
                    v6: true,
                },
                offset: 1232,
                len: 520,
                more: false
            }
        );
        assert!(frag6(1, 0, 8, true).more);
        // An atomic fragment (offset 0, M 0) is not one.
        assert_eq!(Fragment::parse6(&hdr6(10, 1, 0, 8, false)), None);
        // Not IPv6; no Fragment header right after the fixed header.
        let mut h = hdr6(10, 1, 0, 8, true);
        h[0] = 0x45;
        assert_eq!(Fragment::parse6(&h), None);
        let mut h = hdr6(10, 1, 0, 8, true);
        h[6] = 60;
        assert_eq!(Fragment::parse6(&h), None);
        // Payload length below the Fragment header: length 0, no panic.
        let mut h = hdr6(10, 1, 8, 8, true);
        h[4..6].copy_from_slice(&4u16.to_be_bytes());
        assert_eq!(Fragment::parse6(&h).unwrap().len, 0);
        for n in 0..48 {
            assert_eq!(Fragment::parse6(&hdr6(10, 1, 8, 8, true)[..n]), None);
        }
        // An IPv4 header is not read as IPv6, nor the other way round.
        assert_eq!(Fragment::parse6(&hdr(1, 8, 8, true)), None);
        assert_eq!(Fragment::parse(&hdr6(10, 1, 8, 8, true)), None);
    }

    #[test]
    fn exact_duplicates_only6() {
        let mut d = DuplicateFilter::new(64, 100, 42);
        let first = frag6(7, 0, 256, true);
        let last = frag6(7, 512, 192, false);
        assert_eq!(d.check(&last, 0), Seen::New);
        assert_eq!(d.check(&last, 1), Seen::Duplicate);
        assert_eq!(d.check(&first, 2), Seen::New);
        assert_eq!(d.check(&first, 3), Seen::Duplicate);
        // Same offset, another length: an overlap for DPDK to refuse.
        assert_eq!(d.check(&frag6(7, 256, 248, true), 4), Seen::New);
        assert_eq!(d.check(&frag6(7, 256, 256, true), 4), Seen::New);
        assert_eq!(d.check(&frag6(7, 256, 256, true), 4), Seen::Duplicate);
        // Another ident, source, or family is another datagram.
        assert_eq!(d.check(&frag6(8, 0, 256, true), 5), Seen::New);
        let other = Fragment::parse6(&hdr6(11, 7, 0, 256, true)).unwrap();
        assert_eq!(d.check(&other, 5), Seen::New);
        let mut v4like = first;
        v4like.key.v6 = false;
        assert_eq!(d.check(&v4like, 5), Seen::New);
        // Forgotten once reassembled.
        d.forget(&first.key);
        assert_eq!(d.check(&first, 6), Seen::New);
    }

    #[test]
    fn parse() {
        let f = frag(0x1234, 1480, 520, false);
        assert_eq!(
            f,
            Fragment {
                key: DatagramKey {
                    src: v4([192, 0, 2, 10]),
                    dst: v4([192, 0, 2, 1]),
                    ident: 0x1234,
                    protocol: 115,
                    v6: false,
                },
                offset: 1480,
                len: 520,
                more: false
            }
        );
        assert!(frag(1, 0, 8, true).more);
        // Not a fragment; too short; bad IHL or version.
        assert_eq!(Fragment::parse(&hdr(1, 0, 8, false)), None);
        assert_eq!(Fragment::parse(&hdr(1, 0, 8, true)[..19]), None);
        let mut h = hdr(1, 0, 8, true);
        h[0] = 0x44;
        assert_eq!(Fragment::parse(&h), None);
        h[0] = 0x46;
        assert_eq!(Fragment::parse(&h), None, "IHL 6 beyond the slice");
        h[0] = 0x65;
        assert_eq!(Fragment::parse(&h), None);
        // Total length below the header: length 0, no panic.
        let mut h = hdr(1, 8, 8, true);
        h[2..4].copy_from_slice(&4u16.to_be_bytes());
        assert_eq!(Fragment::parse(&h).unwrap().len, 0);
        for n in 0..20 {
            assert_eq!(Fragment::parse(&hdr(1, 8, 8, true)[..n]), None);
        }
    }

    #[test]
    fn exact_duplicates_only() {
        let mut d = DuplicateFilter::new(64, 100, 42);
        let first = frag(7, 0, 8, true);
        let last = frag(7, 8, 40, false);
        assert_eq!(d.check(&first, 0), Seen::New);
        assert_eq!(d.check(&first, 1), Seen::Duplicate);
        assert_eq!(d.check(&last, 2), Seen::New);
        assert_eq!(d.check(&last, 3), Seen::Duplicate);
        assert_eq!(d.check(&first, 4), Seen::Duplicate);
        // Overlaps that are not exact duplicates go to reassembly.
        assert_eq!(d.check(&frag(7, 0, 16, true), 5), Seen::New);
        assert_eq!(d.check(&frag(7, 8, 40, true), 5), Seen::New, "MF differs");
        assert_eq!(d.check(&frag(7, 8, 32, false), 5), Seen::New);
        // Another datagram (ident, protocol, source) is independent.
        assert_eq!(d.check(&frag(8, 0, 8, true), 6), Seen::New);
        let mut other = first;
        other.key.protocol = 17;
        assert_eq!(d.check(&other, 6), Seen::New);
        other = first;
        other.key.src = v4([192, 0, 2, 11]);
        assert_eq!(d.check(&other, 6), Seen::New);
    }

    #[test]
    fn forget_and_timeout() {
        let mut d = DuplicateFilter::new(64, 100, 1);
        let f = frag(9, 0, 8, true);
        assert_eq!(d.check(&f, 10), Seen::New);
        // Reassembled: the ident may come again as a new datagram.
        d.forget(&f.key);
        assert_eq!(d.check(&f, 20), Seen::New);
        assert_eq!(d.check(&f, 110), Seen::Duplicate, "within the timeout");
        // Past the timeout (from the first fragment) DPDK has let it go.
        assert_eq!(d.check(&f, 121), Seen::New);
        assert_eq!(d.check(&f, 122), Seen::Duplicate);
        // Forgetting another key leaves this one alone.
        d.forget(&frag(10, 0, 8, true).key);
        assert_eq!(d.check(&f, 123), Seen::Duplicate);
    }

    #[test]
    fn full_slot_and_collisions() {
        let mut d = DuplicateFilter::new(16, 1000, 3);
        for i in 0..SLOT_FRAGMENTS as u16 + 4 {
            assert_eq!(d.check(&frag(1, i * 8, 8, true), 0), Seen::New);
        }
        // Recorded ones are still caught; those beyond the slot are not.
        assert_eq!(d.check(&frag(1, 0, 8, true), 1), Seen::Duplicate);
        assert_eq!(
            d.check(&frag(1, SLOT_FRAGMENTS as u16 * 8, 8, true), 1),
            Seen::New
        );
        // Many datagrams in 16 slots: evictions, never a false duplicate.
        let mut d = DuplicateFilter::new(16, 1000, 5);
        for ident in 0..1000u16 {
            assert_eq!(d.check(&frag(ident, 0, 8, true), 0), Seen::New);
        }
    }
}
