//! Local session id → member: a fixed open-addressing table the burst
//! loop can prefetch (hash every packet's session id, prefetch its slot,
//! then look up), which `hashbrown` does not allow. Profiles with 65,535
//! sessions showed a third of the worker's time in `hashbrown` probing.
//!
//! One `u64` per slot: the session id in the high 32 bits, the member in
//! the low 16; 0 is empty (session id 0 means control, never data).
//! Linear probing at most half full; removal shifts the following entries
//! back (no tombstones). Memory is allocated once, on a huge-page
//! boundary when it is big (`crate::mem`: 1 MiB at 65,535 sessions, one
//! TLB entry instead of 256); the hash is seeded at random.

use crate::switch::MemberId;

pub struct SessionIndex {
    /// Zeroed at construction; slot `i` is `mem[base + i]`.
    mem: Vec<u64>,
    base: usize,
    mask: usize,
    shift: u32,
    seed: u64,
    len: usize,
}

/// A hashed session id (see [`SessionIndex::hash`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    id: u32,
    home: usize,
}

impl SessionIndex {
    /// An index for up to `max` sessions.
    pub fn new(max: usize) -> SessionIndex {
        let mut b = [0u8; 8];
        let seed = match getrandom::fill(&mut b) {
            Ok(()) => u64::from_ne_bytes(b),
            Err(_) => 0x243f_6a88_85a3_08d3,
        };
        Self::with_seed(max, seed)
    }

    fn with_seed(max: usize, seed: u64) -> SessionIndex {
        let n = (2 * max.max(1)).next_power_of_two().max(2);
        let (mem, base) = crate::mem::zeroed_words(n);
        SessionIndex {
            mem,
            base,
            mask: n - 1,
            shift: 64 - n.trailing_zeros(),
            seed,
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// The slots, whole huge pages for a big index, for
    /// `dpdk::advise_hugepages` before [`prefault`](Self::prefault).
    pub fn storage(&self) -> &[u64] {
        &self.mem[self.base..self.base + crate::mem::span(self.mask + 1)]
    }

    /// Writes every page of the slots once (values unchanged), so that no
    /// first-touch page fault is left for the worker.
    pub fn prefault(&mut self) {
        let span = crate::mem::span(self.mask + 1);
        crate::mem::prefault(&mut self.mem[self.base..self.base + span]);
    }

    /// Where slot `i` (masked: always in range) is in `mem`.
    #[inline(always)]
    fn index(&self, i: usize) -> usize {
        self.base + (i & self.mask)
    }

    #[inline(always)]
    fn slot(&self, i: usize) -> u64 {
        self.mem[self.index(i)]
    }

    #[inline(always)]
    fn set(&mut self, i: usize, e: u64) {
        let j = self.index(i);
        self.mem[j] = e;
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline(always)]
    fn home(&self, id: u32) -> usize {
        let x = (u64::from(id) ^ self.seed).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (x >> self.shift) as usize & self.mask
    }

    #[inline(always)]
    pub fn hash(&self, id: u32) -> Slot {
        Slot {
            id,
            home: self.home(id),
        }
    }

    /// The slot to prefetch for `h`.
    #[inline(always)]
    pub fn hint(&self, h: Slot) -> &u64 {
        &self.mem[self.index(h.home)]
    }

    #[inline(always)]
    pub fn get_hashed(&self, h: Slot) -> Option<MemberId> {
        if h.id == 0 {
            return None;
        }
        let mut i = h.home & self.mask;
        // Every slot at most once, counted down in `left`: a `for` over
        // `0..=mask` cost instructions a lookup for its inclusive range
        // (perf/instructions.sh).
        let mut left = self.mask;
        loop {
            let e = self.slot(i);
            if e == 0 {
                return None;
            }
            if (e >> 32) as u32 == h.id {
                return Some(MemberId(e as u16));
            }
            if left == 0 {
                return None;
            }
            left -= 1;
            i = (i + 1) & self.mask;
        }
    }

    #[inline]
    pub fn get(&self, id: u32) -> Option<MemberId> {
        self.get_hashed(self.hash(id))
    }

    /// Maps `id` to `m` (replacing an old mapping). False when `id` is 0
    /// or the index already holds `max` sessions.
    pub fn insert(&mut self, id: u32, m: MemberId) -> bool {
        if id == 0 {
            return false;
        }
        let e = (u64::from(id) << 32) | u64::from(m.0);
        let mut i = self.home(id);
        loop {
            let cur = self.slot(i);
            if cur == 0 {
                if 2 * (self.len + 1) > self.mask + 1 {
                    return false;
                }
                self.set(i, e);
                self.len += 1;
                return true;
            }
            if (cur >> 32) as u32 == id {
                self.set(i, e);
                return true;
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Removes `id`; true if it was there.
    pub fn remove(&mut self, id: u32) -> bool {
        if id == 0 {
            return false;
        }
        let mut i = self.home(id);
        loop {
            let cur = self.slot(i);
            if cur == 0 {
                return false;
            }
            if (cur >> 32) as u32 == id {
                break;
            }
            i = (i + 1) & self.mask;
        }
        // Backward shift: move later entries of the run whose home is not
        // between the hole and themselves into the hole.
        let mut j = i;
        loop {
            j = (j + 1) & self.mask;
            let e = self.slot(j);
            if e == 0 {
                break;
            }
            let k = self.home((e >> 32) as u32);
            let stays = if i <= j {
                i < k && k <= j
            } else {
                i < k || k <= j
            };
            if !stays {
                self.set(i, e);
                i = j;
            }
        }
        self.set(i, 0);
        self.len -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_get_remove() {
        let mut s = SessionIndex::new(4);
        assert!(s.insert(1000, MemberId(1)));
        assert!(s.insert(1001, MemberId(2)));
        assert_eq!(s.get(1000), Some(MemberId(1)));
        assert_eq!(s.get(1001), Some(MemberId(2)));
        assert_eq!(s.get(1002), None);
        assert_eq!(s.get(0), None);
        assert!(!s.insert(0, MemberId(3)), "0 is control");
        assert!(s.insert(1000, MemberId(5)), "replace");
        assert_eq!(s.get(1000), Some(MemberId(5)));
        assert!(s.remove(1000));
        assert!(!s.remove(1000));
        assert_eq!(s.get(1000), None);
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn full_at_max() {
        let mut s = SessionIndex::new(4);
        for i in 1..=4 {
            assert!(s.insert(i, MemberId(i as u16)));
        }
        assert!(!s.insert(99, MemberId(9)));
        assert_eq!(s.len(), 4);
    }

    /// Collisions and removal in the middle of runs (with a seed and ids
    /// chosen to collide), checked against a model.
    #[test]
    fn removal_keeps_runs_findable() {
        let mut s = SessionIndex::with_seed(64, 42);
        let mut model = std::collections::HashMap::new();
        let mut x = 7u32;
        for round in 0..2000u32 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let id = 1 + x % 200;
            if round % 3 == 2 {
                assert_eq!(s.remove(id), model.remove(&id).is_some());
            } else if model.len() < 64 || model.contains_key(&id) {
                assert!(s.insert(id, MemberId(round as u16)));
                model.insert(id, MemberId(round as u16));
            }
            for id in 1..=200 {
                assert_eq!(s.get(id), model.get(&id).copied(), "id {id} round {round}");
            }
        }
        assert_eq!(s.len(), model.len());
    }
}
