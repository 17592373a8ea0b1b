//! What the worker lets through to the control core: one token bucket
//! per kind of punted packet, so a storm of one kind cannot starve the
//! other.
//!
//! Why: in `perf/control-bench.sh` 100 LACs opening 10,000 sessions at
//! once spend a shared bucket on L2TP control messages, and an ARP
//! request from a LAC's kernel for las (a Linux neighbour entry is
//! re-confirmed every 15-45 s) is dropped with them. Neighbour discovery
//! (ARP, and ICMPv6 RS/RA/NS/NA/Redirect) now has a bucket of its own;
//! control messages, ICMP echo and the rest share the other. (The stream
//! loss that bench still sees in some runs was not this: it remains with
//! no neighbour drop; see `perf/README.md`.)
//!
//! Each bucket has `[l2tp] punt_rate` per second and a quarter of a
//! second of depth: the synchronised burst of many peers each filling the
//! receive window las advertises (16 messages × 100 LACs) passes whole,
//! where a tenth of a second (1,000 at the default rate) dropped part of
//! it and the LACs' 1 s retransmission timer set the setup time (1,000
//! sessions in 1.16 s; with a quarter, 0.18 s).
//!
//! Pure integer arithmetic on the TSC, no timers, no allocation.

use crate::wire::ethernet::{self, ethertype};

/// The kind of a punted frame, for its token bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PuntClass {
    /// ARP, or ICMPv6 neighbour discovery (types 133-137, RFC 4861 §4)
    /// right behind the IPv6 header.
    Neighbour,
    /// L2TP control messages, ICMP, anything else punted.
    Other,
}

/// The class of a frame the classifier punted (`first`: its first
/// segment, from the Ethernet header).
#[inline(always)]
pub fn punt_class(first: &[u8]) -> PuntClass {
    const L2: usize = ethernet::HEADER_LEN;
    let et = first.get(12..14).map(|b| u16::from_be_bytes([b[0], b[1]]));
    match et {
        Some(ethertype::ARP) => PuntClass::Neighbour,
        Some(ethertype::IPV6) => {
            // Next header ICMPv6 (58), then the ICMPv6 type.
            let nh = first.get(L2 + 6).copied();
            let ty = first.get(L2 + 40).copied();
            match (nh, ty) {
                (Some(58), Some(133..=137)) => PuntClass::Neighbour,
                _ => PuntClass::Other,
            }
        }
        _ => PuntClass::Other,
    }
}

/// A token bucket of `rate` tokens per second (0 = unlimited) and a
/// quarter of a second of depth (at least 64), on a clock of `hz` ticks
/// per second.
#[derive(Debug, Clone, Copy)]
pub struct TokenBucket {
    rate: u64,
    hz: u64,
    tokens: u64,
    last: u64,
}

impl TokenBucket {
    /// A full bucket at time `now`.
    pub fn new(rate: u64, hz: u64, now: u64) -> TokenBucket {
        TokenBucket {
            rate,
            hz: hz.max(1),
            tokens: Self::depth(rate),
            last: now,
        }
    }

    /// Bucket depth for `rate`: a quarter of a second, at least 64.
    pub fn depth(rate: u64) -> u64 {
        (rate / 4).max(64)
    }

    /// Takes a token at time `now`, if there is one.
    #[inline(always)]
    pub fn take(&mut self, now: u64) -> bool {
        if self.rate == 0 {
            return true;
        }
        let elapsed = now.wrapping_sub(self.last).min(self.hz);
        let add = elapsed.saturating_mul(self.rate) / self.hz;
        if add > 0 {
            // Advance by the time the added tokens represent, so
            // fractions are not lost; after a second or more idle, start
            // afresh from now.
            self.last = if elapsed == self.hz {
                now
            } else {
                self.last
                    .wrapping_add(add.saturating_mul(self.hz) / self.rate)
            };
            self.tokens = (self.tokens + add).min(Self::depth(self.rate));
        }
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }
}

#[cfg(test)]
mod test {
    use super::*;

    const HZ: u64 = 1_000_000;

    #[test]
    fn depth_then_rate() {
        let mut b = TokenBucket::new(10_000, HZ, 0);
        // A full bucket: 2500 at once, then nothing at the same instant.
        assert_eq!((0..5000).filter(|_| b.take(0)).count(), 2500);
        // 10 ms later: 100 more, not 101.
        assert_eq!((0..200).filter(|_| b.take(10_000)).count(), 100);
        // Fractions add up: 250 µs steps of 2.5 tokens give 5 per 500 µs.
        let mut got = 0;
        for k in 1..=4u64 {
            got += (0..10).filter(|_| b.take(10_000 + k * 250)).count();
        }
        assert_eq!(got, 10);
    }

    #[test]
    fn refills_to_depth_only_and_zero_is_unlimited() {
        let mut b = TokenBucket::new(1000, HZ, 0);
        assert_eq!((0..1000).filter(|_| b.take(0)).count(), 250);
        // An hour idle: the depth again, not an hour of tokens.
        let later = 3600 * HZ;
        assert_eq!((0..1000).filter(|_| b.take(later)).count(), 250);
        let mut free = TokenBucket::new(0, HZ, 0);
        assert!((0..100_000).all(|_| free.take(0)));
        // Tiny rates still get a usable depth.
        assert_eq!(TokenBucket::depth(5), 64);
    }

    #[test]
    fn neighbour_discovery_is_its_own_class() {
        let mut arp = [0u8; 60];
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(punt_class(&arp), PuntClass::Neighbour);
        let mut v6 = [0u8; 78];
        v6[12..14].copy_from_slice(&[0x86, 0xdd]);
        v6[14 + 6] = 58;
        for (ty, want) in [
            (133, PuntClass::Neighbour), // Router Solicitation
            (135, PuntClass::Neighbour), // Neighbor Solicitation
            (136, PuntClass::Neighbour), // Neighbor Advertisement
            (137, PuntClass::Neighbour), // Redirect
            (128, PuntClass::Other),     // Echo Request
            (1, PuntClass::Other),       // Destination Unreachable
        ] {
            v6[54] = ty;
            assert_eq!(punt_class(&v6), want, "ICMPv6 type {ty}");
        }
        // Behind a Hop-by-Hop header (MLD): not looked into.
        v6[14 + 6] = 0;
        v6[54] = 135;
        assert_eq!(punt_class(&v6), PuntClass::Other);
        let mut ip = [0u8; 60];
        ip[12..14].copy_from_slice(&[0x08, 0x00]);
        assert_eq!(punt_class(&ip), PuntClass::Other);
        assert_eq!(punt_class(&[0u8; 10]), PuntClass::Other);
        // A truncated IPv6 header.
        assert_eq!(punt_class(&v6[..40]), PuntClass::Other);
    }
}
