//! Storm control: token buckets per (member, traffic class).
//!
//! Classes are [`TrafficClass::Broadcast`], [`TrafficClass::Multicast`] and
//! [`TrafficClass::UnknownUnicast`]. Each bucket has a rate in packets per
//! second and a burst (bucket depth, in packets). The worker polices
//! *ingress*: it calls [`StormControl::allow`] once per frame it is about
//! to flood, with the member the frame came from, and drops (and counts,
//! per class, in its own counters) the frame when it returns `false`.
//!
//! Arithmetic is integer only. Tokens are kept in units of `1 / hz` packet
//! (one packet costs `hz` units), so a refill of `elapsed` clock ticks adds
//! exactly `elapsed · pps` units: no rounding, no drift. Refill happens on
//! use; there are no timers. `now` is any monotonic clock with `hz` ticks
//! per second (TSC cycles, nanoseconds, ...); wrap-around of a `u64` clock
//! is handled by wrapping subtraction, and a clock that steps backwards
//! (more than 2^63 ticks "elapsed") refills nothing. All products
//! saturate, so huge gaps and huge rates cannot overflow.
//!
//! All memory is allocated by [`StormControl::new`]; `allow` is O(1), never
//! allocates and never panics. Rate 0 means unlimited, and members out of
//! range are not policed.
#![forbid(unsafe_code)]

use super::MemberId;

/// Traffic classes subject to storm control.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TrafficClass {
    Broadcast = 0,
    Multicast = 1,
    UnknownUnicast = 2,
}

impl TrafficClass {
    /// Number of classes (buckets per member).
    pub const COUNT: usize = 3;

    /// All classes, in index order.
    pub const ALL: [TrafficClass; 3] = [
        TrafficClass::Broadcast,
        TrafficClass::Multicast,
        TrafficClass::UnknownUnicast,
    ];

    /// Dense index (0..COUNT), for per-class counter arrays.
    #[inline]
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The class of a flooded frame to `dst_mac_u64` (see
    /// [`mac_to_u64`](super::mac_to_u64)): broadcast, other group addresses
    /// multicast, unicast (which is only flooded when unknown) unknown
    /// unicast.
    #[inline]
    pub fn of_dst(dst_mac_u64: u64) -> TrafficClass {
        if dst_mac_u64 & super::MAC_MASK == super::MAC_MASK {
            TrafficClass::Broadcast
        } else if super::mac_is_group(dst_mac_u64) {
            TrafficClass::Multicast
        } else {
            TrafficClass::UnknownUnicast
        }
    }
}

/// A bucket's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct StormRate {
    /// Sustained packets per second; 0 = unlimited.
    pub pps: u32,
    /// Bucket depth in packets (at least 1 is used).
    pub burst: u32,
}

impl StormRate {
    /// No limit.
    pub const UNLIMITED: StormRate = StormRate { pps: 0, burst: 0 };

    /// `pps` with a burst of one second's worth (`burst = pps`), the
    /// setting used for the `storm_*` config keys.
    pub const fn per_second(pps: u32) -> StormRate {
        StormRate { pps, burst: pps }
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Bucket {
    /// Tokens in units of 1/hz packet.
    tokens: u64,
    /// Clock at the last refill.
    last: u64,
    /// Packets per second; 0 = unlimited.
    pps: u32,
    /// Depth in units of 1/hz packet (`burst · hz`, saturated).
    cap: u64,
}

/// Storm-control buckets for members `0..max_members` (see the module
/// docs).
pub struct StormControl {
    buckets: Vec<[Bucket; TrafficClass::COUNT]>,
    hz: u64,
}

impl StormControl {
    /// Preallocate buckets for `max_members` members, all unlimited. `hz`:
    /// clock ticks per second of the `now` values passed later (at least 1).
    pub fn new(max_members: usize, hz: u64) -> Self {
        StormControl {
            buckets: vec![[Bucket::default(); TrafficClass::COUNT]; max_members],
            hz: hz.max(1),
        }
    }

    /// Clock ticks per second.
    pub fn hz(&self) -> u64 {
        self.hz
    }

    /// Number of members with buckets.
    pub fn max_members(&self) -> usize {
        self.buckets.len()
    }

    /// Set the rate of one bucket; it starts full at `now`. Out-of-range
    /// members are ignored.
    pub fn configure(&mut self, member: MemberId, class: TrafficClass, rate: StormRate, now: u64) {
        let hz = self.hz;
        if let Some(b) = self
            .buckets
            .get_mut(usize::from(member.0))
            .map(|m| &mut m[class.index()])
        {
            let cap = u64::from(rate.burst.max(1)).saturating_mul(hz);
            *b = Bucket {
                tokens: cap,
                last: now,
                pps: rate.pps,
                cap,
            };
        }
    }

    /// Set all three classes of a member (`[broadcast, multicast,
    /// unknown unicast]`), buckets full at `now`.
    pub fn configure_member(
        &mut self,
        member: MemberId,
        rates: [StormRate; TrafficClass::COUNT],
        now: u64,
    ) {
        for (c, r) in TrafficClass::ALL.into_iter().zip(rates) {
            self.configure(member, c, r, now);
        }
    }

    /// Make every bucket of `member` unlimited (e.g. when it leaves).
    pub fn reset(&mut self, member: MemberId) {
        if let Some(m) = self.buckets.get_mut(usize::from(member.0)) {
            *m = [Bucket::default(); TrafficClass::COUNT];
        }
    }

    /// The rate configured for a bucket (`UNLIMITED` when out of range).
    pub fn rate(&self, member: MemberId, class: TrafficClass) -> StormRate {
        match self.buckets.get(usize::from(member.0)) {
            Some(m) => {
                let b = &m[class.index()];
                StormRate {
                    pps: b.pps,
                    burst: u32::try_from(b.cap / self.hz).unwrap_or(u32::MAX),
                }
            }
            None => StormRate::UNLIMITED,
        }
    }

    /// Take one packet from the bucket (member, class) at time `now`:
    /// `true` = forward it, `false` = drop it (over the rate). O(1).
    #[inline]
    pub fn allow(&mut self, member: MemberId, class: TrafficClass, now: u64) -> bool {
        let hz = self.hz;
        let Some(m) = self.buckets.get_mut(usize::from(member.0)) else {
            return true;
        };
        let b = &mut m[class.index()];
        if b.pps == 0 {
            return true;
        }
        let elapsed = now.wrapping_sub(b.last);
        if elapsed <= i64::MAX as u64 {
            // Saturating: a long idle gap (or a huge rate) just fills up.
            let add = elapsed.saturating_mul(u64::from(b.pps));
            b.tokens = b.tokens.saturating_add(add).min(b.cap);
        }
        b.last = now;
        if b.tokens >= hz {
            b.tokens -= hz;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TrafficClass::*;

    const M0: MemberId = MemberId(0);
    const M1: MemberId = MemberId(1);
    const NS: u64 = 1_000_000_000;

    /// Offer one packet every `step` ticks from `start` for `n` packets;
    /// returns how many were admitted.
    fn offer(
        s: &mut StormControl,
        m: MemberId,
        c: TrafficClass,
        start: u64,
        step: u64,
        n: u64,
    ) -> u64 {
        (0..n)
            .filter(|i| s.allow(m, c, start.wrapping_add(i * step)))
            .count() as u64
    }

    #[test]
    fn unlimited_by_default_and_rate_zero() {
        let mut s = StormControl::new(4, NS);
        assert_eq!(offer(&mut s, M0, Broadcast, 0, 0, 10_000), 10_000);
        s.configure(M0, Broadcast, StormRate { pps: 0, burst: 5 }, 0);
        assert_eq!(offer(&mut s, M0, Broadcast, 0, 0, 10_000), 10_000);
        // Out-of-range members are not policed.
        assert!(s.allow(MemberId(4), Broadcast, 0));
        s.configure(MemberId(99), Broadcast, StormRate::per_second(1), 0);
        s.reset(MemberId(99));
        assert_eq!(s.rate(MemberId(99), Multicast), StormRate::UNLIMITED);
    }

    #[test]
    fn burst_then_rate() {
        let mut s = StormControl::new(4, NS);
        s.configure(
            M0,
            Broadcast,
            StormRate {
                pps: 100,
                burst: 10,
            },
            0,
        );
        assert_eq!(
            s.rate(M0, Broadcast),
            StormRate {
                pps: 100,
                burst: 10
            }
        );
        // A back-to-back burst at t=0: exactly the burst passes.
        assert_eq!(offer(&mut s, M0, Broadcast, 0, 0, 50), 10);
        // 10 ms later exactly one token (100 pps) has come back.
        assert!(s.allow(M0, Broadcast, 10_000_000));
        assert!(!s.allow(M0, Broadcast, 10_000_000));
        // 9.999 ms later: not yet.
        assert!(!s.allow(M0, Broadcast, 19_999_999));
        assert!(s.allow(M0, Broadcast, 20_000_000));
    }

    #[test]
    fn exact_admitted_counts_over_time() {
        // 1000 pps, burst 1, offered at 10 kpps for 2 s: 1 (initial) +
        // 2000 refills.
        let mut s = StormControl::new(1, NS);
        s.configure(
            M0,
            Multicast,
            StormRate {
                pps: 1000,
                burst: 1,
            },
            0,
        );
        assert_eq!(offer(&mut s, M0, Multicast, 0, 100_000, 20_001), 2001);
        // Same with a TSC-like clock (2.5 GHz), rate 3 pps, burst 2, over
        // 10 s offered at 100 pps: 2 (burst) + 30.
        let hz = 2_500_000_000;
        let mut s = StormControl::new(1, hz);
        s.configure(M0, UnknownUnicast, StormRate { pps: 3, burst: 2 }, 7);
        let got = offer(&mut s, M0, UnknownUnicast, 7, hz / 100, 1001);
        assert_eq!(got, 32);
    }

    #[test]
    fn fractional_refill_is_not_lost() {
        // 3 pps, offered every 100 ms: tokens accumulate in 1/hz units
        // (0.3 packet per offer), so over 10 s exactly 30 (+2 initial
        // burst) pass.
        let mut s = StormControl::new(1, 1000);
        s.configure(M0, Broadcast, StormRate { pps: 3, burst: 2 }, 0);
        assert_eq!(offer(&mut s, M0, Broadcast, 0, 100, 101), 32);
        // With burst 1 the bucket overflows between offers (full after
        // 333 ms, next offer at 400 ms): one packet per 400 ms.
        let mut s = StormControl::new(1, 1000);
        s.configure(M0, Broadcast, StormRate { pps: 3, burst: 1 }, 0);
        assert_eq!(offer(&mut s, M0, Broadcast, 0, 100, 101), 26);
    }

    #[test]
    fn refill_after_idle_is_capped_at_burst() {
        let mut s = StormControl::new(1, NS);
        s.configure(M0, Broadcast, StormRate { pps: 10, burst: 5 }, 0);
        assert_eq!(offer(&mut s, M0, Broadcast, 0, 0, 100), 5);
        // An hour idle: only the burst comes back.
        let t = 3600 * NS;
        assert_eq!(offer(&mut s, M0, Broadcast, t, 0, 100), 5);
    }

    #[test]
    fn members_and_classes_are_independent() {
        let mut s = StormControl::new(2, NS);
        let r = StormRate { pps: 1, burst: 2 };
        s.configure_member(M0, [r; 3], 0);
        s.configure_member(M1, [r; 3], 0);
        assert_eq!(offer(&mut s, M0, Broadcast, 0, 0, 10), 2);
        assert_eq!(offer(&mut s, M0, Multicast, 0, 0, 10), 2);
        assert_eq!(offer(&mut s, M1, Broadcast, 0, 0, 10), 2);
        assert_eq!(offer(&mut s, M0, UnknownUnicast, 0, 0, 10), 2);
        assert!(!s.allow(M0, Broadcast, 0));
        s.reset(M0);
        assert!(s.allow(M0, Broadcast, 0));
        assert!(!s.allow(M1, Broadcast, 0));
    }

    #[test]
    fn huge_values_do_not_overflow() {
        // Max rate and burst with a huge hz: caps saturate, still sane.
        let mut s = StormControl::new(1, u64::MAX);
        s.configure(
            M0,
            Broadcast,
            StormRate {
                pps: u32::MAX,
                burst: u32::MAX,
            },
            0,
        );
        assert!(s.allow(M0, Broadcast, 0));
        assert!(s.allow(M0, Broadcast, u64::MAX / 2));
        // Huge jumps with a normal clock.
        let mut s = StormControl::new(1, NS);
        s.configure(
            M0,
            Broadcast,
            StormRate {
                pps: u32::MAX,
                burst: 3,
            },
            0,
        );
        assert_eq!(offer(&mut s, M0, Broadcast, 0, 0, 10), 3);
        assert_eq!(offer(&mut s, M0, Broadcast, i64::MAX as u64, 0, 10), 3);
        // hz 0 is treated as 1.
        let mut s = StormControl::new(1, 0);
        s.configure(M0, Broadcast, StormRate { pps: 1, burst: 1 }, 0);
        assert_eq!(offer(&mut s, M0, Broadcast, 0, 1, 5), 5);
    }

    #[test]
    fn clock_wrap_and_backwards() {
        // The u64 clock wraps: 100 pps across the wrap behaves normally.
        let mut s = StormControl::new(1, NS);
        let start = u64::MAX - 5 * NS / 10; // 0.5 s before the wrap
        s.configure(M0, Broadcast, StormRate { pps: 100, burst: 1 }, start);
        // One packet per 10 ms for 1 s across the wrap: 1 + 100.
        assert_eq!(offer(&mut s, M0, Broadcast, start, NS / 100, 101), 101);
        // Offered twice as fast: still 100 per second.
        let mut s = StormControl::new(1, NS);
        s.configure(M0, Broadcast, StormRate { pps: 100, burst: 1 }, start);
        assert_eq!(offer(&mut s, M0, Broadcast, start, NS / 200, 201), 101);
        // A clock stepping backwards refills nothing (and does not panic).
        let mut s = StormControl::new(1, NS);
        s.configure(M0, Broadcast, StormRate { pps: 100, burst: 2 }, 10 * NS);
        assert_eq!(offer(&mut s, M0, Broadcast, 10 * NS, 0, 5), 2);
        assert!(!s.allow(M0, Broadcast, 5 * NS));
        assert!(!s.allow(M0, Broadcast, 5 * NS + 9_999_999));
        assert!(s.allow(M0, Broadcast, 5 * NS + 10_000_000));
    }

    #[test]
    fn class_of_dst() {
        assert_eq!(TrafficClass::of_dst(0xffff_ffff_ffff), Broadcast);
        assert_eq!(TrafficClass::of_dst(0x0100_5e00_0001), Multicast);
        assert_eq!(TrafficClass::of_dst(0x3333_0000_0001), Multicast);
        assert_eq!(TrafficClass::of_dst(0x0200_0000_0001), UnknownUnicast);
        assert_eq!(TrafficClass::ALL.map(TrafficClass::index), [0, 1, 2]);
    }
}
