//! MAC move (flap) detection, a loop indicator. Runs on the control core,
//! fed by the workers' `Moved` learn events.
//!
//! A MAC that moves between members of a switch more than `threshold` times
//! within `window` seconds is *flapping*. Windows are fixed and open at a
//! move: the first move of a MAC opens a window; a move at least `window`
//! seconds after the window opened starts a new window (counting 1). Every
//! move that brings the count above `threshold` returns
//! [`FlapVerdict::Flapping`] (the caller rate-limits its log and decides
//! whether to [`block`](FlapDetector::block) a member for `flap_block`
//! seconds).
//!
//! Memory is bounded: [`FlapDetector::new`] allocates a fixed table of
//! `capacity` trackers, organised as sets of [`WAYS`] slots chosen by a
//! randomly seeded hash of (switch, MAC); a new MAC takes a free slot of
//! its set or evicts the set's least recently moved tracker. Nothing
//! allocates after `new`, and every call is O(1) (block state: one slot per
//! member).
#![forbid(unsafe_code)]

use super::{MemberId, SwitchId, MAC_MASK};
use std::hash::BuildHasher;

/// Slots per hash set.
pub const WAYS: usize = 4;

/// Flap detection settings of a switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlapConfig {
    /// Moves within `window` above which a MAC is flapping; 0 = off.
    pub threshold: u32,
    /// Window in seconds (0 acts as 1).
    pub window: u32,
    /// Seconds to block a member for; 0 = log only.
    pub block: u32,
}

impl Default for FlapConfig {
    fn default() -> Self {
        FlapConfig {
            threshold: 5,
            window: 10,
            block: 0,
        }
    }
}

/// Outcome of [`FlapDetector::on_move`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlapVerdict {
    Ok,
    /// `moves` moves in the current window, more than the threshold.
    Flapping {
        moves: u32,
    },
}

#[derive(Clone, Copy, Debug, Default)]
struct Tracker {
    /// `sw << 48 | mac`; meaningful only when `moves > 0`.
    key: u64,
    /// When the current window opened (seconds).
    window_start: u64,
    /// When the MAC last moved (seconds), for eviction.
    last: u64,
    /// Moves in the current window; 0 = free slot.
    moves: u32,
}

/// Bounded MAC move tracker plus per-member blocks (see the module docs).
pub struct FlapDetector {
    slots: Vec<Tracker>,
    /// `capacity / WAYS`, a power of two.
    sets: usize,
    hasher: hashbrown::DefaultHashBuilder,
    /// Per member: blocked while `now < blocked_until`.
    blocked_until: Vec<u64>,
    evictions: u64,
}

impl FlapDetector {
    /// A detector tracking at most `capacity` MACs (rounded up to a power of
    /// two, at least [`WAYS`]) with block slots for members
    /// `0..max_members`.
    pub fn new(capacity: usize, max_members: usize) -> Self {
        let sets = (capacity.max(WAYS) / WAYS).next_power_of_two();
        FlapDetector {
            slots: vec![Tracker::default(); sets * WAYS],
            sets,
            hasher: hashbrown::DefaultHashBuilder::default(),
            blocked_until: vec![0; max_members],
            evictions: 0,
        }
    }

    /// Number of trackers.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Trackers in use.
    pub fn len(&self) -> usize {
        self.slots.iter().filter(|t| t.moves > 0).count()
    }

    /// True when no MAC is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Trackers evicted to make room so far.
    pub fn evictions(&self) -> u64 {
        self.evictions
    }

    fn set_of(&self, key: u64) -> std::ops::Range<usize> {
        let h = self.hasher.hash_one(key) as usize;
        let s = (h & (self.sets - 1)) * WAYS;
        s..s + WAYS
    }

    /// Record that `mac` (a `mac_u64`) moved from member `from` to `to` in
    /// switch `sw` at `now_secs`. A "move" to the same member is ignored.
    pub fn on_move(
        &mut self,
        cfg: &FlapConfig,
        sw: SwitchId,
        mac: u64,
        from: MemberId,
        to: MemberId,
        now_secs: u64,
    ) -> FlapVerdict {
        if cfg.threshold == 0 || from == to {
            return FlapVerdict::Ok;
        }
        let key = (u64::from(sw.0) << 48) | (mac & MAC_MASK);
        let set = self.set_of(key);
        let window = u64::from(cfg.window.max(1));
        let slots = &mut self.slots[set];
        let t = if let Some(t) = slots.iter_mut().find(|t| t.moves > 0 && t.key == key) {
            if now_secs.saturating_sub(t.window_start) >= window {
                t.window_start = now_secs;
                t.moves = 1;
            } else {
                t.moves = t.moves.saturating_add(1);
            }
            t
        } else {
            let i = match slots.iter().position(|t| t.moves == 0) {
                Some(i) => i,
                None => {
                    self.evictions += 1;
                    // Least recently moved; ties: the first.
                    let mut i = 0;
                    for (j, t) in slots.iter().enumerate() {
                        if t.last < slots[i].last {
                            i = j;
                        }
                    }
                    i
                }
            };
            slots[i] = Tracker {
                key,
                window_start: now_secs,
                last: now_secs,
                moves: 1,
            };
            &mut slots[i]
        };
        t.last = now_secs;
        if t.moves > cfg.threshold {
            FlapVerdict::Flapping { moves: t.moves }
        } else {
            FlapVerdict::Ok
        }
    }

    /// Moves of `mac` in its current window (0 if untracked).
    pub fn moves(&self, sw: SwitchId, mac: u64) -> u32 {
        let key = (u64::from(sw.0) << 48) | (mac & MAC_MASK);
        self.slots[self.set_of(key)]
            .iter()
            .find(|t| t.moves > 0 && t.key == key)
            .map_or(0, |t| t.moves)
    }

    /// Forget every tracker of switch `sw` (O(capacity); on switch removal).
    pub fn forget_switch(&mut self, sw: SwitchId) {
        for t in &mut self.slots {
            if t.moves > 0 && t.key >> 48 == u64::from(sw.0) {
                *t = Tracker::default();
            }
        }
    }

    /// Block `member` until `until_secs` (exclusive). A later call replaces
    /// the time (so it can also shorten or lift a block). Out-of-range
    /// members are ignored.
    pub fn block(&mut self, member: MemberId, until_secs: u64) {
        if let Some(b) = self.blocked_until.get_mut(usize::from(member.0)) {
            *b = until_secs;
        }
    }

    /// Lift a block.
    pub fn unblock(&mut self, member: MemberId) {
        self.block(member, 0);
    }

    /// Whether `member` is blocked at `now_secs`.
    pub fn blocked(&self, member: MemberId, now_secs: u64) -> bool {
        self.blocked_until
            .get(usize::from(member.0))
            .is_some_and(|&u| now_secs < u)
    }

    /// When `member`'s block ends, if blocked at `now_secs`.
    pub fn blocked_until(&self, member: MemberId, now_secs: u64) -> Option<u64> {
        self.blocked_until
            .get(usize::from(member.0))
            .copied()
            .filter(|&u| now_secs < u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S0: SwitchId = SwitchId(0);
    const S1: SwitchId = SwitchId(1);
    const M1: MemberId = MemberId(1);
    const M2: MemberId = MemberId(2);
    const A: u64 = 0x0200_0000_000a;
    const B: u64 = 0x0200_0000_000b;

    fn cfg(threshold: u32, window: u32) -> FlapConfig {
        FlapConfig {
            threshold,
            window,
            block: 0,
        }
    }

    /// Ping-pong `mac` between M1 and M2 at the given times.
    fn pingpong(
        d: &mut FlapDetector,
        c: &FlapConfig,
        sw: SwitchId,
        mac: u64,
        times: &[u64],
    ) -> Vec<FlapVerdict> {
        times
            .iter()
            .enumerate()
            .map(|(i, &t)| {
                let (f, to) = if i % 2 == 0 { (M1, M2) } else { (M2, M1) };
                d.on_move(c, sw, mac, f, to, t)
            })
            .collect()
    }

    #[test]
    fn defaults() {
        let c = FlapConfig::default();
        assert_eq!((c.threshold, c.window, c.block), (5, 10, 0));
    }

    #[test]
    fn threshold_within_window() {
        let mut d = FlapDetector::new(64, 8);
        let c = cfg(3, 10);
        let v = pingpong(&mut d, &c, S0, A, &[100, 101, 102, 103, 104, 109]);
        assert_eq!(
            v,
            vec![
                FlapVerdict::Ok,
                FlapVerdict::Ok,
                FlapVerdict::Ok,
                FlapVerdict::Flapping { moves: 4 },
                FlapVerdict::Flapping { moves: 5 },
                FlapVerdict::Flapping { moves: 6 },
            ]
        );
        assert_eq!(d.moves(S0, A), 6);
        // 10 s after the window opened (at 100): a new window.
        assert_eq!(d.on_move(&c, S0, A, M1, M2, 110), FlapVerdict::Ok);
        assert_eq!(d.moves(S0, A), 1);
    }

    #[test]
    fn slow_moves_never_flap() {
        let mut d = FlapDetector::new(64, 8);
        let c = cfg(2, 10);
        let times: Vec<u64> = (0..50).map(|i| 1000 + i * 6).collect();
        // Windows open at 1000, 1012, 1024, ...: two moves in each.
        let v = pingpong(&mut d, &c, S0, A, &times);
        assert!(v.iter().all(|v| *v == FlapVerdict::Ok), "{v:?}");
    }

    #[test]
    fn same_member_and_off() {
        let mut d = FlapDetector::new(64, 8);
        let c = cfg(1, 10);
        for t in 0..10 {
            assert_eq!(d.on_move(&c, S0, A, M1, M1, t), FlapVerdict::Ok);
        }
        assert_eq!(d.moves(S0, A), 0);
        let off = cfg(0, 10);
        for t in 0..10 {
            assert_eq!(d.on_move(&off, S0, A, M1, M2, t), FlapVerdict::Ok);
        }
        assert!(d.is_empty());
    }

    #[test]
    fn keyed_per_switch_and_mac() {
        let mut d = FlapDetector::new(64, 8);
        let c = cfg(2, 10);
        pingpong(&mut d, &c, S0, A, &[1, 2]);
        pingpong(&mut d, &c, S1, A, &[1, 2]);
        pingpong(&mut d, &c, S0, B, &[1]);
        assert_eq!((d.moves(S0, A), d.moves(S1, A), d.moves(S0, B)), (2, 2, 1));
        assert_eq!(
            d.on_move(&c, S0, A, M1, M2, 3),
            FlapVerdict::Flapping { moves: 3 }
        );
        assert_eq!(d.moves(S1, A), 2);
        d.forget_switch(S0);
        assert_eq!((d.moves(S0, A), d.moves(S1, A), d.moves(S0, B)), (0, 2, 0));
    }

    #[test]
    fn bounded_memory_evicts_oldest() {
        let mut d = FlapDetector::new(4, 8);
        assert_eq!(d.capacity(), 4); // one set of 4 ways
        let c = cfg(100, 1000);
        for i in 0..4u64 {
            d.on_move(&c, S0, A + i, M1, M2, 10 + i);
        }
        assert_eq!(d.len(), 4);
        // Refresh the oldest (A at t=10) so A+1 becomes the oldest.
        d.on_move(&c, S0, A, M2, M1, 20);
        d.on_move(&c, S0, B + 100, M1, M2, 21);
        assert_eq!(d.len(), 4);
        assert_eq!(d.evictions(), 1);
        assert_eq!(d.moves(S0, A + 1), 0, "least recently moved evicted");
        assert_eq!(d.moves(S0, A), 2);
        assert_eq!(d.moves(S0, B + 100), 1);
        // Many MACs: the table never grows.
        let mut d = FlapDetector::new(64, 8);
        for i in 0..10_000u64 {
            d.on_move(&c, S0, A + (i << 8), M1, M2, i);
        }
        assert_eq!(d.capacity(), 64);
        assert!(d.len() <= 64);
        assert!(d.evictions() >= 10_000 - 64);
    }

    #[test]
    fn blocks() {
        let mut d = FlapDetector::new(16, 4);
        assert!(!d.blocked(M1, 0));
        d.block(M1, 130);
        assert!(d.blocked(M1, 100));
        assert!(d.blocked(M1, 129));
        assert!(!d.blocked(M1, 130));
        assert_eq!(d.blocked_until(M1, 100), Some(130));
        assert_eq!(d.blocked_until(M1, 130), None);
        assert!(!d.blocked(M2, 100));
        d.unblock(M1);
        assert!(!d.blocked(M1, 100));
        // Out of range: ignored.
        d.block(MemberId(4), 1000);
        assert!(!d.blocked(MemberId(4), 0));
    }

    #[test]
    fn flap_then_block_with_manual_clock() {
        let mut d = FlapDetector::new(16, 4);
        let c = FlapConfig {
            threshold: 2,
            window: 5,
            block: 30,
        };
        let mut now = 1_000;
        let mut blocked_at = None;
        for i in 0..10 {
            let (f, t) = if i % 2 == 0 { (M1, M2) } else { (M2, M1) };
            if d.blocked(t, now) {
                continue;
            }
            if let FlapVerdict::Flapping { .. } = d.on_move(&c, S0, A, f, t, now) {
                d.block(t, now + u64::from(c.block));
                blocked_at.get_or_insert(now);
            }
            now += 1;
        }
        assert_eq!(blocked_at, Some(1_002));
        assert!(d.blocked(M2, 1_031));
        assert!(!d.blocked(M2, 1_032));
        // A clock going backwards does not panic or reopen windows oddly.
        assert_eq!(d.on_move(&c, S1, A, M1, M2, 50), FlapVerdict::Ok);
        assert_eq!(d.on_move(&c, S1, A, M2, M1, 10), FlapVerdict::Ok);
        assert_eq!(
            d.on_move(&c, S1, A, M1, M2, 0),
            FlapVerdict::Flapping { moves: 3 }
        );
        assert_eq!(d.on_move(&c, S1, A, M1, M2, u64::MAX), FlapVerdict::Ok);
    }
}
