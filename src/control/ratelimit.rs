//! Per-source admission of control messages: a token bucket per peer
//! address in front of the control plane's expensive path (parsing, the
//! digest's HMAC, the state machines), so that one source can use at most
//! its share of the control core and never starve ARP, HELLOs or other
//! peers. What a bucket refuses is dropped and counted
//! (`refused_rate_limited`).
//!
//! Memory is bounded: at most `max_sources` buckets. A new source when
//! the table is full takes the slot of a source whose bucket has refilled
//! completely (it is idle, its state is worth nothing); if none has, all
//! further new sources share one overflow bucket until a slot frees up.

use std::collections::HashMap;
use std::hash::Hash;

/// Token bucket parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Messages per second, sustained.
    pub per_second: u32,
    /// Messages that may come at once.
    pub burst: u32,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Tokens in thousandths of a message.
    milli: u64,
    last_ms: u64,
}

impl Bucket {
    fn full(rate: Rate, now_ms: u64) -> Bucket {
        Bucket {
            milli: u64::from(rate.burst) * 1000,
            last_ms: now_ms,
        }
    }

    fn refill(&mut self, rate: Rate, now_ms: u64) {
        let dt = now_ms.saturating_sub(self.last_ms);
        let cap = u64::from(rate.burst) * 1000;
        self.milli = (self.milli + dt.saturating_mul(u64::from(rate.per_second))).min(cap);
        self.last_ms = now_ms.max(self.last_ms);
    }

    fn take(&mut self, rate: Rate, now_ms: u64) -> bool {
        self.refill(rate, now_ms);
        if self.milli >= 1000 {
            self.milli -= 1000;
            true
        } else {
            false
        }
    }

    fn is_full(&self, rate: Rate) -> bool {
        self.milli >= u64::from(rate.burst) * 1000
    }
}

/// Token buckets by source.
#[derive(Debug, Clone)]
pub struct SourceLimiter<K> {
    rate: Rate,
    max_sources: usize,
    buckets: HashMap<K, Bucket>,
    overflow: Bucket,
}

impl<K: Copy + Eq + Hash> SourceLimiter<K> {
    pub fn new(rate: Rate, max_sources: usize) -> Self {
        SourceLimiter {
            rate,
            max_sources: max_sources.max(1),
            buckets: HashMap::new(),
            overflow: Bucket::full(rate, 0),
        }
    }

    /// A new rate (a reload); buckets keep their tokens, capped at the
    /// new burst on their next refill.
    pub fn set_rate(&mut self, rate: Rate) {
        self.rate = rate;
    }

    /// Whether a message from `src` at `now_ms` may go on.
    pub fn allow(&mut self, src: K, now_ms: u64) -> bool {
        let rate = self.rate;
        if let Some(b) = self.buckets.get_mut(&src) {
            return b.take(rate, now_ms);
        }
        if self.buckets.len() >= self.max_sources {
            let idle = self.buckets.iter_mut().find_map(|(k, b)| {
                b.refill(rate, now_ms);
                b.is_full(rate).then_some(*k)
            });
            match idle {
                Some(k) => {
                    self.buckets.remove(&k);
                }
                None => return self.overflow.take(rate, now_ms),
            }
        }
        let mut b = Bucket::full(rate, now_ms);
        let ok = b.take(rate, now_ms);
        self.buckets.insert(src, b);
        ok
    }

    /// Sources with a bucket.
    pub fn tracked(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod test {
    use super::*;

    const R: Rate = Rate {
        per_second: 100,
        burst: 10,
    };

    #[test]
    fn burst_then_rate() {
        let mut l = SourceLimiter::new(R, 8);
        let ok = (0..50).filter(|_| l.allow(1u32, 0)).count();
        assert_eq!(ok, 10);
        // 100/s: one more every 10 ms.
        assert!(!l.allow(1, 5));
        assert!(l.allow(1, 10));
        assert!(!l.allow(1, 10));
        // Over a second at twice the rate: about half gets through.
        let ok = (0..200).filter(|i| l.allow(1, 1_000 + i * 5)).count();
        assert!((95..=115).contains(&ok), "{ok}");
    }

    #[test]
    fn one_source_does_not_starve_another() {
        let mut l = SourceLimiter::new(R, 8);
        for i in 0..10_000u64 {
            l.allow(1u32, i / 10);
        }
        assert!(l.allow(2, 1_000));
        assert_eq!((0..20).filter(|_| l.allow(2, 1_000)).count(), 9);
    }

    #[test]
    fn bounded_table() {
        let mut l = SourceLimiter::new(R, 4);
        // Many sources at once: 4 buckets, the rest share the overflow.
        let ok = (0..1_000u32).filter(|s| l.allow(*s, 0)).count();
        assert_eq!(l.tracked(), 4);
        assert_eq!(ok, 4 + 10);
        // Once idle sources refilled, new ones get their slots.
        assert!(l.allow(5_000, 10_000));
        assert!(l.tracked() <= 4);
    }
}
