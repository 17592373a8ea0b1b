//! The control core's merged MAC table: the truth that the per-worker
//! [`MacTable`](super::MacTable) replicas are derived from. It may allocate.
//!
//! Time is supplied by the caller (`now_secs`), so tests use a manual clock.

use super::{MemberId, SwitchId, MAC_MASK};
use std::collections::HashMap;

/// Outcome of [`AgingTable::touch`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Touch {
    /// The MAC was not known in this switch.
    New,
    /// The MAC moved from another member.
    Moved { from: MemberId },
    /// Same member; last-seen time updated.
    Refreshed,
    /// A static entry on another member: left unchanged.
    StaticConflict,
}

/// One entry of the [`AgingTable`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AgingEntry {
    pub member: MemberId,
    /// Last time (caller's seconds) the MAC was seen; for static entries the
    /// time it was added (0).
    pub last_seen: u64,
    pub is_static: bool,
}

/// The control core's MAC table, keyed by `(switch, mac_u64)`.
#[derive(Default, Debug)]
pub struct AgingTable {
    map: HashMap<(SwitchId, u64), AgingEntry>,
}

impl AgingTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of entries (learned and static).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Number of entries in switch `sw` (O(n)).
    pub fn switch_len(&self, sw: SwitchId) -> usize {
        self.map.keys().filter(|k| k.0 == sw).count()
    }

    /// Record that `mac` was seen on `member` of switch `sw` at `now_secs`.
    /// Static entries are never moved by a touch; a touch from their own
    /// member is reported as `Refreshed` (nothing changes).
    pub fn touch(&mut self, sw: SwitchId, mac: u64, member: MemberId, now_secs: u64) -> Touch {
        let k = (sw, mac & MAC_MASK);
        match self.map.get_mut(&k) {
            None => {
                self.map.insert(
                    k,
                    AgingEntry {
                        member,
                        last_seen: now_secs,
                        is_static: false,
                    },
                );
                Touch::New
            }
            Some(e) if e.is_static => {
                if e.member == member {
                    Touch::Refreshed
                } else {
                    Touch::StaticConflict
                }
            }
            Some(e) => {
                e.last_seen = e.last_seen.max(now_secs);
                if e.member == member {
                    Touch::Refreshed
                } else {
                    let from = e.member;
                    e.member = member;
                    e.last_seen = now_secs;
                    Touch::Moved { from }
                }
            }
        }
    }

    /// Add (or overwrite with) a static entry; static entries never age.
    pub fn add_static(&mut self, sw: SwitchId, mac: u64, member: MemberId) {
        self.map.insert(
            (sw, mac & MAC_MASK),
            AgingEntry {
                member,
                last_seen: 0,
                is_static: true,
            },
        );
    }

    pub fn get(&self, sw: SwitchId, mac: u64) -> Option<AgingEntry> {
        self.map.get(&(sw, mac & MAC_MASK)).copied()
    }

    /// Remove one entry (learned or static).
    pub fn remove(&mut self, sw: SwitchId, mac: u64) -> Option<AgingEntry> {
        self.map.remove(&(sw, mac & MAC_MASK))
    }

    /// Remove and report (appending to `out`, sorted) every learned entry not
    /// touched for more than its switch's aging time:
    /// `now - last_seen > aging_secs_of(sw)`. Aging 0 means never; static
    /// entries never age. Returns the number removed.
    pub fn expire(
        &mut self,
        now: u64,
        aging_secs_of: impl Fn(SwitchId) -> u64,
        out: &mut Vec<(SwitchId, u64, MemberId)>,
    ) -> usize {
        let start = out.len();
        self.map.retain(|&(sw, mac), e| {
            if e.is_static {
                return true;
            }
            let aging = aging_secs_of(sw);
            if aging != 0 && now.saturating_sub(e.last_seen) > aging {
                out.push((sw, mac, e.member));
                false
            } else {
                true
            }
        });
        out[start..].sort_unstable();
        out.len() - start
    }

    /// Remove every entry (learned and static) pointing at member `m`;
    /// returns the removed `(switch, mac)` pairs, sorted.
    pub fn remove_member(&mut self, m: MemberId) -> Vec<(SwitchId, u64)> {
        let mut removed = Vec::new();
        self.map.retain(|&k, e| {
            if e.member == m {
                removed.push(k);
                false
            } else {
                true
            }
        });
        removed.sort_unstable();
        removed
    }

    /// Remove every entry of switch `sw`; returns how many were removed.
    pub fn remove_switch(&mut self, sw: SwitchId) -> usize {
        let before = self.map.len();
        self.map.retain(|k, _| k.0 != sw);
        before - self.map.len()
    }

    /// All entries, unordered.
    pub fn iter(&self) -> impl Iterator<Item = (SwitchId, u64, AgingEntry)> + '_ {
        self.map.iter().map(|(&(sw, mac), &e)| (sw, mac, e))
    }

    /// All entries sorted by (switch, mac), for display.
    pub fn entries_sorted(&self) -> Vec<(SwitchId, u64, AgingEntry)> {
        let mut v: Vec<_> = self.iter().collect();
        v.sort_unstable_by_key(|e| (e.0, e.1));
        v
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

    #[test]
    fn touch_new_move_refresh() {
        let mut t = AgingTable::new();
        assert_eq!(t.touch(S0, A, M1, 10), Touch::New);
        assert_eq!(t.touch(S0, A, M1, 11), Touch::Refreshed);
        assert_eq!(t.get(S0, A).map(|e| e.last_seen), Some(11));
        assert_eq!(t.touch(S0, A, M2, 12), Touch::Moved { from: M1 });
        assert_eq!(t.get(S0, A).map(|e| e.member), Some(M2));
        assert_eq!(t.touch(S1, A, M1, 12), Touch::New);
        assert_eq!(t.len(), 2);
        assert_eq!(t.switch_len(S0), 1);
    }

    #[test]
    fn expiry_with_manual_clock() {
        let mut t = AgingTable::new();
        let aging = |sw: SwitchId| if sw == S0 { 300 } else { 0 };
        let mut now = 1000u64;
        t.touch(S0, A, M1, now);
        t.touch(S0, B, M2, now);
        t.touch(S1, A, M1, now); // S1: aging 0 = never
        t.add_static(S0, 0x0200_0000_00ee, M1);
        let mut out = Vec::new();
        now += 200;
        t.touch(S0, B, M2, now);
        now += 100; // A is exactly 300 s old: not more than aging
        assert_eq!(t.expire(now, aging, &mut out), 0);
        now += 1;
        assert_eq!(t.expire(now, aging, &mut out), 1);
        assert_eq!(out, vec![(S0, A, M1)]);
        assert!(t.get(S0, A).is_none());
        now += 1_000_000;
        out.clear();
        assert_eq!(t.expire(now, aging, &mut out), 1);
        assert_eq!(out, vec![(S0, B, M2)]);
        // Never-aging switch and static entry remain.
        assert!(t.get(S1, A).is_some());
        assert!(t.get(S0, 0x0200_0000_00ee).unwrap().is_static);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn statics_not_moved() {
        let mut t = AgingTable::new();
        t.add_static(S0, A, M1);
        assert_eq!(t.touch(S0, A, M2, 5), Touch::StaticConflict);
        assert_eq!(t.touch(S0, A, M1, 5), Touch::Refreshed);
        assert_eq!(t.get(S0, A).unwrap().member, M1);
        assert!(t.remove(S0, A).is_some());
        assert!(t.is_empty());
    }

    #[test]
    fn remove_member_and_switch() {
        let mut t = AgingTable::new();
        t.touch(S0, B, M1, 1);
        t.touch(S0, A, M1, 1);
        t.touch(S0, 0x0200_0000_0001, M2, 1);
        t.touch(S1, A, M2, 1);
        assert_eq!(t.remove_member(M1), vec![(S0, A), (S0, B)]);
        assert_eq!(t.len(), 2);
        assert_eq!(t.remove_switch(S0), 1);
        let e = t.entries_sorted();
        assert_eq!(e.len(), 1);
        assert_eq!((e[0].0, e[0].1, e[0].2.member), (S1, A, M2));
    }

    #[test]
    fn sorted_output() {
        let mut t = AgingTable::new();
        t.touch(S1, A, M1, 1);
        t.touch(S0, B, M1, 1);
        t.touch(S0, A, M2, 1);
        let keys: Vec<_> = t.entries_sorted().iter().map(|e| (e.0, e.1)).collect();
        assert_eq!(keys, vec![(S0, A), (S0, B), (S1, A)]);
    }
}
