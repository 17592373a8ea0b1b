//! Internet checksum (RFC 1071) helpers and RFC 1624 incremental update.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Ones-complement partial sum of `data` as big-endian 16-bit words. An odd
/// trailing byte is padded with a zero byte. The result is folded to at
/// most 0xffff (so callers may add a few more words without overflow), but
/// not complemented. Works for any length.
#[inline(always)]
pub fn sum(data: &[u8]) -> u32 {
    // Two ways to the same sum: the wide one adds a quarter as often but
    // costs more to set up and finish, which short headers (an IPv4
    // header is 20 bytes) feel (perf/instructions.sh).
    if data.len() >= 64 {
        sum_wide(data)
    } else {
        sum_narrow(data)
    }
}

/// 32-bit big-endian words into a u64: the same sum modulo 0xffff as
/// 16-bit words (RFC 1071 §2 (B): 2^16 ≡ 1 modulo 0xffff, so a wider
/// word is the sum of its 16-bit parts), without carries to track.
#[inline(always)]
fn sum_narrow(data: &[u8]) -> u32 {
    let mut acc: u64 = 0;
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        acc += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    acc += tail_sum(words.remainder());
    // No overflow below 16 GiB (2^32 words).
    let t = (acc >> 32) + (acc & 0xffff_ffff);
    let t = (t >> 32) + (t & 0xffff_ffff);
    u32::from(fold(t as u32))
}

/// Whether a 20-byte IPv4 header (no options, the usual case) sums to
/// 0xffff, i.e. its checksum field is right: `checksum(h) == 0` in a
/// quarter of the instructions. The words are added in the machine's own
/// byte order (RFC 1071 §2 (B): the sum is byte-order independent up to
/// a swap of its two bytes), and 0xffff is its own swap.
#[inline(always)]
pub fn header20_ok(h: &[u8; 20]) -> bool {
    let w = |i: usize| u64::from(u32::from_ne_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]));
    let acc = w(0) + w(4) + w(8) + w(12) + w(16);
    // At most 5 × (2^32 − 1): two steps bring it to 32 bits.
    let t = (acc >> 32) + (acc & 0xffff_ffff);
    let t = (t >> 32) + (t & 0xffff_ffff);
    fold(t as u32) == 0xffff
}

/// 64-bit big-endian words with end-around carry (a lost 2^64 is a 1 to
/// add back, as 2^64 ≡ 1 modulo 0xffff): half the additions of
/// `sum_narrow`, for frames (out of line: the short path stays small).
#[inline(never)]
fn sum_wide(data: &[u8]) -> u32 {
    let mut acc: u64 = 0;
    let mut carries: u64 = 0;
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        let v = u64::from_be_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        let (s, o) = acc.overflowing_add(v);
        acc = s;
        carries += u64::from(o);
    }
    let rest = match *words.remainder() {
        [a, b, c, d, ref tail @ ..] => u64::from(u32::from_be_bytes([a, b, c, d])) + tail_sum(tail),
        ref tail => tail_sum(tail),
    };
    // At most 2^32 + 2^61 + 2^32: no overflow.
    let t = (acc >> 32) + (acc & 0xffff_ffff) + carries + rest;
    let t = (t >> 32) + (t & 0xffff_ffff);
    let t = (t >> 32) + (t & 0xffff_ffff);
    u32::from(fold(t as u32))
}

/// The sum of 0 to 3 trailing bytes as 16-bit words, the last one padded.
#[inline(always)]
fn tail_sum(tail: &[u8]) -> u64 {
    match *tail {
        [a] => u64::from(a) << 8,
        [a, b] => u64::from(u16::from_be_bytes([a, b])),
        [a, b, c] => u64::from(u16::from_be_bytes([a, b])) + (u64::from(c) << 8),
        _ => 0,
    }
}

/// Folds the carries of a partial sum into 16 bits. NOT complemented.
pub fn fold(sum: u32) -> u16 {
    // Two steps always suffice for a u32 (the first leaves at most
    // 0x1fffe, the second at most 0xffff), and a step on a folded value
    // changes nothing: the same result as folding until it fits, without
    // the loop's branches.
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = (sum & 0xffff) + (sum >> 16);
    sum as u16
}

/// Adds two partial sums without overflowing.
pub fn combine(a: u32, b: u32) -> u32 {
    u32::from(fold(a)) + u32::from(fold(b))
}

/// The Internet checksum of `data`: `!fold(sum(data))`.
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum(data))
}

/// Partial sum of the IPv4 pseudo-header (RFC 768 / RFC 793).
/// `len` is the upper-layer length (header + payload).
pub fn pseudo_header_v4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, len: u16) -> u32 {
    let s = src.octets();
    let d = dst.octets();
    let mut acc = 0u32;
    acc += u32::from(u16::from_be_bytes([s[0], s[1]]));
    acc += u32::from(u16::from_be_bytes([s[2], s[3]]));
    acc += u32::from(u16::from_be_bytes([d[0], d[1]]));
    acc += u32::from(u16::from_be_bytes([d[2], d[3]]));
    acc += u32::from(proto);
    acc += u32::from(len);
    acc
}

/// Partial sum of the IPv6 pseudo-header (RFC 8200 §8.1).
/// `len` is the upper-layer packet length.
pub fn pseudo_header_v6(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, len: u32) -> u32 {
    let mut acc = combine(sum(&src.octets()), sum(&dst.octets()));
    acc += len >> 16;
    acc += len & 0xffff;
    acc += u32::from(next_header);
    acc
}

/// RFC 1624 eqn. 3 incremental update: `HC' = ~(~HC + ~m + m')`, where the
/// 16-bit word `old` (m) at an even offset in the checksummed data becomes
/// `new` (m'). Every incremental checksum update in las goes through here.
///
/// The one's-complement corner (RFC 1624 §3, §5): eqn. 3 yields 0x0000
/// whenever the new data sums to zero, and a sum is zero in two ways: the
/// words sum to 0xffff (-0; a full recomputation gives checksum 0x0000),
/// or every word is 0x0000 (+0; recomputation gives 0xffff, and 0x0000
/// fails every verifier, since then the whole sum is +0, not 0xffff). The
/// second needs `new == 0`. From (HC, m, m') alone the two cannot be told
/// apart (an ICMP echo reply with id 0, seq 0 and no data, whose checksum
/// must be 0xffff, and one with id 0xffff, whose recomputed checksum is
/// 0x0000, update from the same request checksum), so in exactly that
/// case this returns 0xffff: it verifies in both (0xffff + 0xffff folds to
/// 0xffff), where 0x0000 would be wrong in the second.
///
/// Hence: the result always verifies, and it equals a full recomputation
/// except when `new == 0` and the other words are nonzero but sum to
/// 0xffff (0xffff is returned where recomputation gives 0x0000; both are
/// zero in one's complement). Unchanged data returns `old_csum` as is.
pub fn update_u16(old_csum: u16, old: u16, new: u16) -> u16 {
    if old == new {
        return old_csum;
    }
    let acc = u32::from(!old_csum) + u32::from(!old) + u32::from(new);
    match !fold(acc) {
        0 if new == 0 => 0xffff,
        c => c,
    }
}

#[cfg(test)]
mod test {
    use super::*;

    /// `header20_ok` agrees with `checksum(h) == 0` on random headers, on
    /// the same headers with a correct checksum written in, and on the
    /// all-zero and all-ones headers.
    #[test]
    fn header20_matches_checksum() {
        let mut next = crate::testing::xorshift(0x2545_f491_4f6c_dd1d);
        let mut good = 0;
        for round in 0..20_000 {
            let mut h = [0u8; 20];
            for b in h.iter_mut() {
                *b = next() as u8;
            }
            if round % 2 == 0 {
                h[10..12].copy_from_slice(&[0, 0]);
                let c = checksum(&h);
                h[10..12].copy_from_slice(&c.to_be_bytes());
            }
            let want = reference(&h) == 0;
            good += usize::from(want);
            assert_eq!(header20_ok(&h), want, "{h:02x?}");
        }
        assert!(good >= 10_000);
        for h in [[0u8; 20], [0xffu8; 20]] {
            assert_eq!(header20_ok(&h), reference(&h) == 0, "{h:02x?}");
        }
    }

    /// Straightforward reference: RFC 1071 sum with u64 accumulator.
    fn reference(data: &[u8]) -> u16 {
        let mut acc: u64 = 0;
        let mut i = 0;
        while i < data.len() {
            let hi = u64::from(data[i]) << 8;
            let lo = if i + 1 < data.len() {
                u64::from(data[i + 1])
            } else {
                0
            };
            acc += hi | lo;
            i += 2;
        }
        while acc > 0xffff {
            acc = (acc & 0xffff) + (acc >> 16);
        }
        !(acc as u16)
    }

    // RFC 1071 §3 example: 00 01 f2 03 f4 f5 f6 f7 -> sum 0xddf2
    static RFC1071: [u8; 8] = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];

    // A real IPv4 header (checksum 0xb861 at bytes 10..12).
    static IPV4_HDR: [u8; 20] = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ];

    #[test]
    fn test_rfc1071_example() {
        assert_eq!(fold(sum(&RFC1071)), 0xddf2);
        assert_eq!(checksum(&RFC1071), !0xddf2);
    }

    #[test]
    fn test_ipv4_header() {
        assert_eq!(checksum(&IPV4_HDR), 0);
        let mut h = IPV4_HDR;
        h[10] = 0;
        h[11] = 0;
        assert_eq!(checksum(&h), 0xb861);
    }

    #[test]
    fn test_odd_length() {
        let data = [0x12u8, 0x34, 0x56];
        assert_eq!(fold(sum(&data)), 0x1234 + 0x5600);
        assert_eq!(checksum(&data), reference(&data));
        assert_eq!(checksum(&[]), 0xffff);
    }

    #[test]
    fn test_against_reference() {
        let mut data = vec![0u8; 70_001];
        let mut x: u32 = 1;
        for b in data.iter_mut() {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            *b = (x >> 16) as u8;
        }
        for len in (0..=17).chain([63, 64, 1500, 65_535, 70_001]) {
            assert_eq!(checksum(&data[..len]), reference(&data[..len]), "len {len}");
            // Every remainder after the 8-byte words, at every alignment.
            for start in 1..8.min(len) {
                let d = &data[start..len];
                assert_eq!(checksum(d), reference(d), "{start}..{len}");
                assert!(sum(d) <= 0xffff);
            }
        }
        // All zeros sums to 0, never to the other zero 0xffff.
        assert_eq!(sum(&[0u8; 7]), 0);
        // `fold` against folding until it fits, at the edges and between.
        let slow = |mut s: u32| {
            while s > 0xffff {
                s = (s & 0xffff) + (s >> 16);
            }
            s as u16
        };
        let edges = [
            0,
            1,
            0xfffe,
            0xffff,
            0x1_0000,
            0x1_fffe,
            0x1_ffff,
            0xffff_0000,
            u32::MAX,
        ];
        for s in edges
            .into_iter()
            .chain((0..100_000u32).map(|i| i.wrapping_mul(0x9e37_79b9)))
        {
            assert_eq!(fold(s), slow(s), "{s:#x}");
        }
        let ff = vec![0xffu8; 100_000];
        assert_eq!(checksum(&ff), reference(&ff));
        // Both ways at every length across the switch between them.
        for len in 0..200 {
            for d in [&data[..len], &ff[..len]] {
                assert_eq!(sum_narrow(d), sum_wide(d), "len {len}");
            }
        }
    }

    #[test]
    fn test_pseudo_header_v4() {
        let src = Ipv4Addr::new(192, 168, 0, 1);
        let dst = Ipv4Addr::new(10, 0, 0, 2);
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&src.octets());
        bytes.extend_from_slice(&dst.octets());
        bytes.extend_from_slice(&[0, 17, 0x01, 0x23]);
        assert_eq!(
            fold(pseudo_header_v4(src, dst, 17, 0x0123)),
            !reference(&bytes)
        );
    }

    #[test]
    fn test_pseudo_header_v6() {
        let src: Ipv6Addr = "fe80::1:2:3:4".parse().unwrap();
        let dst: Ipv6Addr = "2001:db8::ffff:ffff".parse().unwrap();
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&src.octets());
        bytes.extend_from_slice(&dst.octets());
        bytes.extend_from_slice(&0x0001_2345u32.to_be_bytes());
        bytes.extend_from_slice(&[0, 0, 0, 58]);
        assert_eq!(
            fold(pseudo_header_v6(src, dst, 58, 0x0001_2345)),
            !reference(&bytes)
        );
    }

    #[test]
    fn test_update_u16() {
        // Change the TTL/proto word of the header and compare to recompute.
        let mut h = IPV4_HDR;
        let old = u16::from_be_bytes([h[8], h[9]]);
        h[8] = 0x3f;
        let new = u16::from_be_bytes([h[8], h[9]]);
        let upd = update_u16(0xb861, old, new);
        h[10] = 0;
        h[11] = 0;
        assert_eq!(upd, checksum(&h));
        // Word 4 is the checksum field; change word 2 and verify.
        let mut data = [0u8; 10];
        for (i, w) in [0x0000u16, 0xffff, 0x1234, 0x8000].iter().enumerate() {
            data[2 * i..2 * i + 2].copy_from_slice(&w.to_be_bytes());
        }
        let c = checksum(&data);
        for new in [0x0000u16, 0xffff, 0x0001, 0xfffe, 0x4321] {
            let mut d2 = data;
            d2[4..6].copy_from_slice(&new.to_be_bytes());
            d2[8..10].copy_from_slice(&update_u16(c, 0x1234, new).to_be_bytes());
            assert_eq!(checksum(&d2), 0, "new {new:#x}");
        }
    }

    /// Sets word `i` of `data` (big-endian).
    fn put(data: &mut [u8], i: usize, w: u16) {
        data[2 * i..2 * i + 2].copy_from_slice(&w.to_be_bytes());
    }

    /// The RFC 1624 corner: vectors where the updated checksum must be
    /// 0xffff (all other words zero) and where it must be 0x0000 (the
    /// words sum to 0xffff), each checked against a full recomputation.
    #[test]
    fn test_update_u16_zero_corner() {
        // ICMP echo request id 0, seq 0, no data: [0x0800, csum, 0, 0].
        // The reply ([0x0000, csum, 0, 0]) must carry 0xffff.
        let mut req = [0u8; 8];
        put(&mut req, 0, 0x0800);
        let c = checksum(&req);
        assert_eq!(c, 0xf7ff);
        let upd = update_u16(c, 0x0800, 0x0000);
        assert_eq!(upd, 0xffff, "all-zero reply");
        let mut rep = [0u8; 8];
        put(&mut rep, 1, upd);
        assert_eq!(checksum(&rep), 0, "verifies");
        assert_eq!(reference(&[0u8; 8]), 0xffff, "equals recomputation");
        // Plain eqn. 3 gives 0x0000 here, which does not verify.
        assert_eq!(!fold(u32::from(!c) + u32::from(!0x0800u16)), 0x0000);
        assert_ne!(checksum(&[0u8; 8]), 0);

        // Same request checksum, but id 0xffff: the reply's words sum to
        // 0xffff. Recomputation gives 0x0000; 0xffff verifies as well.
        let mut req = [0u8; 8];
        put(&mut req, 0, 0x0800);
        put(&mut req, 2, 0xffff);
        let c2 = checksum(&req);
        assert_eq!(c2, c, "indistinguishable from the all-zero case");
        let mut rep = req;
        put(&mut rep, 0, 0x0000);
        put(&mut rep, 1, update_u16(c2, 0x0800, 0x0000));
        assert_eq!(checksum(&rep), 0, "verifies");

        // Must be 0x0000: an IPv4 header whose other words sum to 0xffff
        // after the change (the version word is never zero, so the
        // checksum of an IPv4 header is never 0xffff).
        let mut h = [0u8; 20];
        put(&mut h, 0, 0x4500);
        put(&mut h, 1, 0x0014);
        put(&mut h, 4, 0x4001); // TTL 64, protocol 1
        let rest = fold(sum(&h));
        put(&mut h, 3, 0xffff - rest); // ident: makes the sum 0xffff
        let c = checksum(&h);
        assert_eq!(c, 0x0000, "recomputed");
        // Decrement the TTL and bump the ident so the sum stays 0xffff:
        // the checksum must stay 0x0000.
        let mut h2 = h;
        put(&mut h2, 4, 0x3f01);
        put(&mut h2, 3, 0xffff - rest + 0x0100);
        let c2 = update_u16(
            update_u16(c, 0x4001, 0x3f01),
            0xffff - rest,
            0xffff - rest + 0x0100,
        );
        assert_eq!(c2, checksum(&h2));
        assert_eq!(c2, 0x0000, "must stay 0x0000");
        put(&mut h2, 5, c2);
        assert_eq!(checksum(&h2), 0);
    }

    /// Random words, random changes: the update always verifies, and it
    /// equals a full recomputation unless the documented ambiguity applies.
    #[test]
    fn test_update_u16_matches_recomputation() {
        let mut next = crate::testing::xorshift(0x1234_5678_9abc_def1);
        for round in 0..200_000u32 {
            let n = 2 + (next() % 6) as usize;
            let mut data = vec![0u8; 2 * n];
            for i in 0..n {
                // Many zero and 0xffff words, so the corners come up.
                let w = match next() % 4 {
                    0 => 0,
                    1 => 0xffff,
                    _ => next() as u16,
                };
                put(&mut data, i, w);
            }
            let ci = (next() % n as u64) as usize; // checksum word
            let mi = (ci + 1 + (next() % (n as u64 - 1)) as usize) % n; // changed word
            put(&mut data, ci, 0);
            let c = checksum(&data);
            put(&mut data, ci, c);
            let old = u16::from_be_bytes([data[2 * mi], data[2 * mi + 1]]);
            let new = match next() % 3 {
                0 => 0,
                1 => !old,
                _ => next() as u16,
            };
            let upd = update_u16(c, old, new);
            put(&mut data, mi, new);
            put(&mut data, ci, upd);
            assert_eq!(checksum(&data), 0, "round {round}: does not verify");
            put(&mut data, ci, 0);
            let full = checksum(&data);
            let rest_nonzero_neg_zero = old != new && new == 0 && full == 0;
            if rest_nonzero_neg_zero {
                assert_eq!(upd, 0xffff, "round {round}");
            } else {
                assert_eq!(upd, full, "round {round}: differs from recomputation");
            }
        }
    }
}
