//! Per-worker MAC table used on the per-packet fast path.
//!
//! All memory is allocated by [`MacTable::new`]; no method allocates or panics
//! afterwards. Out-of-range switch or member ids are treated as invalid input
//! (`lookup` misses, `learn`/`install` return [`Learn::Invalid`]).
//!
//! Flushing is O(1) in the number of entries: each member and each switch has
//! a generation counter stored in every entry, and bumping it makes all the
//! entries that carry the old value *stale*. Stale entries behave as missing
//! for [`MacTable::lookup`] and are overwritten in place by learning; they
//! keep occupying capacity until [`MacTable::reclaim`] removes them.
//!
//! Invariant: a member belongs to at most one switch at a time
//! ([`MacTable::set_member_switch`]); learning or installing a MAC for a
//! member in another switch moves the member there (flushing its entries in
//! the old switch). This keeps per-switch and per-member counts exact.

use super::{mac_is_group, MemberId, SwitchId, MAC_MASK};
use hashbrown::HashMap;

/// Outcome of [`MacTable::learn`] / [`MacTable::install`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Learn {
    /// A new (or previously stale) entry was created.
    New,
    /// The MAC was live on another member of the same switch and moved.
    Moved { from: MemberId },
    /// Same member; the stamp was at least `refresh_after` seconds old and
    /// has been updated. The caller should tell the control core.
    Refresh,
    /// Same member, stamp recent enough: nothing changed.
    Unchanged,
    /// The switch's MAC limit is reached; nothing learned.
    SwitchLimit,
    /// The member's MAC limit is reached; nothing learned (or moved).
    MemberLimit,
    /// The table is full even after reclaiming stale entries.
    TableFull,
    /// Group (multicast/broadcast) source MAC, or out-of-range switch/member id.
    Invalid,
    /// The MAC is a static entry on another member; learning never moves it.
    StaticConflict,
}

const FLAG_STATIC: u8 = 1;
/// Sentinel in `member_switch` for "not attached to a switch".
const NO_SWITCH: u16 = u16::MAX;

/// 16 bytes.
#[derive(Clone, Copy, Debug)]
struct Entry {
    member: u16,
    flags: u8,
    member_gen: u32,
    switch_gen: u32,
    stamp: u32,
}

#[inline]
fn key(sw: SwitchId, mac: u64) -> u64 {
    (u64::from(sw.0) << 48) | (mac & MAC_MASK)
}

/// The per-worker MAC table (see the module docs).
pub struct MacTable {
    map: HashMap<u64, Entry>,
    capacity: usize,
    live: usize,
    member_gen: Vec<u32>,
    member_count: Vec<u32>,
    member_switch: Vec<u16>,
    switch_gen: Vec<u32>,
    switch_count: Vec<u32>,
    switch_limit: Vec<u32>,
    member_limit: Vec<u32>,
    /// Learning domain → switch. Ids below `max_switches` are the switches
    /// themselves; higher ids are VLAN domains of VLAN-aware switches
    /// (`set_domain`), `NO_SWITCH` until mapped.
    domain_switch: Vec<u16>,
}

impl MacTable {
    /// Preallocate a table for `capacity` entries, member ids
    /// `0..max_members` and switch ids `0..max_switches` (at most 65536).
    pub fn new(capacity: usize, max_members: usize, max_switches: usize) -> Self {
        Self::with_domains(capacity, max_members, max_switches, 0)
    }

    /// Like [`new`](Self::new), with `vlan_domains` extra learning domain
    /// ids (`max_switches..max_switches + vlan_domains`) for VLAN-aware
    /// switches: each (switch, VLAN) learns in its own domain (the domain
    /// is the key's 16-bit field) while limits, counts, flushes and member
    /// binding stay those of the switch.
    pub fn with_domains(
        capacity: usize,
        max_members: usize,
        max_switches: usize,
        vlan_domains: usize,
    ) -> Self {
        let max_switches = max_switches.min(1 << 16);
        let max_members = max_members.min(1 << 16);
        let domains = (max_switches + vlan_domains).min(1 << 16);
        MacTable {
            domain_switch: (0..domains)
                .map(|d| {
                    if d < max_switches {
                        d as u16
                    } else {
                        NO_SWITCH
                    }
                })
                .collect(),
            map: HashMap::with_capacity(capacity),
            capacity,
            live: 0,
            member_gen: vec![0; max_members],
            member_count: vec![0; max_members],
            member_switch: vec![NO_SWITCH; max_members],
            switch_gen: vec![0; max_switches],
            switch_count: vec![0; max_switches],
            switch_limit: vec![0; max_switches],
            member_limit: vec![0; max_members],
        }
    }

    /// Maximum number of entries (live + stale).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Number of live entries.
    pub fn len(&self) -> usize {
        self.live
    }

    /// True when there is no live entry.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Number of occupied slots (live + stale entries).
    pub fn occupied(&self) -> usize {
        self.map.len()
    }

    /// Live entries in switch `sw` (0 for an out-of-range id).
    pub fn switch_count(&self, sw: SwitchId) -> u32 {
        self.switch_count
            .get(usize::from(sw.0))
            .copied()
            .unwrap_or(0)
    }

    /// Live entries pointing at member `m` (0 for an out-of-range id).
    pub fn member_count(&self, m: MemberId) -> u32 {
        self.member_count
            .get(usize::from(m.0))
            .copied()
            .unwrap_or(0)
    }

    /// The switch member `m` is attached to, if any.
    pub fn member_switch(&self, m: MemberId) -> Option<SwitchId> {
        match self.member_switch.get(usize::from(m.0)) {
            Some(&s) if s != NO_SWITCH => Some(SwitchId(s)),
            _ => None,
        }
    }

    /// Maps VLAN learning domain `domain` (≥ max_switches) to switch `sw`.
    /// Domain ids are allocated by the control core and never reused for
    /// another switch while entries may exist.
    pub fn set_domain(&mut self, domain: SwitchId, sw: SwitchId) {
        if usize::from(domain.0) >= self.switch_gen.len()
            && usize::from(sw.0) < self.switch_gen.len()
        {
            if let Some(d) = self.domain_switch.get_mut(usize::from(domain.0)) {
                *d = sw.0;
            }
        }
    }

    /// The switch a learning domain belongs to.
    #[inline]
    fn real(&self, domain: SwitchId) -> Option<SwitchId> {
        match self.domain_switch.get(usize::from(domain.0)) {
            Some(&s) if s != NO_SWITCH => Some(SwitchId(s)),
            _ => None,
        }
    }

    /// Most MACs `m` may have learned (0 = unlimited); applies to new and
    /// moved MACs, not to entries installed by the control core.
    pub fn set_member_limit(&mut self, m: MemberId, limit: u32) {
        if let Some(l) = self.member_limit.get_mut(usize::from(m.0)) {
            *l = limit;
        }
    }

    #[inline]
    fn member_at_limit(&self, m: MemberId) -> bool {
        let mi = usize::from(m.0);
        let limit = self.member_limit[mi];
        limit != 0 && self.member_count[mi] >= limit
    }

    /// Set the per-switch MAC limit (0 = unlimited). Existing entries stay.
    pub fn set_switch_limit(&mut self, sw: SwitchId, limit: u32) {
        if let Some(l) = self.switch_limit.get_mut(usize::from(sw.0)) {
            *l = limit;
        }
    }

    /// Attach member `m` to switch `sw`. If it was attached elsewhere, its
    /// entries there are flushed first. Out-of-range ids are ignored.
    pub fn set_member_switch(&mut self, m: MemberId, sw: SwitchId) {
        if usize::from(sw.0) >= self.switch_gen.len() {
            return;
        }
        let Some(&cur) = self.member_switch.get(usize::from(m.0)) else {
            return;
        };
        if cur != sw.0 {
            self.flush_member(m);
            self.member_switch[usize::from(m.0)] = sw.0;
        }
    }

    /// Flush member `m` and detach it from its switch.
    pub fn detach_member(&mut self, m: MemberId) {
        self.flush_member(m);
        if let Some(s) = self.member_switch.get_mut(usize::from(m.0)) {
            *s = NO_SWITCH;
        }
    }

    /// O(1): invalidate every entry (learned or static) pointing at `m`.
    pub fn flush_member(&mut self, m: MemberId) {
        let mi = usize::from(m.0);
        let Some(g) = self.member_gen.get_mut(mi) else {
            return;
        };
        *g = g.wrapping_add(1);
        let n = std::mem::take(&mut self.member_count[mi]);
        let sw = self.member_switch[mi];
        if let Some(c) = self.switch_count.get_mut(usize::from(sw)) {
            *c = c.saturating_sub(n);
        }
        self.live = self.live.saturating_sub(n as usize);
    }

    /// Invalidate every entry (learned or static) of switch `sw`: O(1) in
    /// the number of entries, O(max_members) to zero member counts.
    pub fn flush_switch(&mut self, sw: SwitchId) {
        let si = usize::from(sw.0);
        let Some(g) = self.switch_gen.get_mut(si) else {
            return;
        };
        *g = g.wrapping_add(1);
        let n = std::mem::take(&mut self.switch_count[si]);
        self.live = self.live.saturating_sub(n as usize);
        for (c, &s) in self.member_count.iter_mut().zip(self.member_switch.iter()) {
            if s == sw.0 {
                *c = 0;
            }
        }
    }

    #[inline]
    fn is_live(&self, sw: SwitchId, e: &Entry) -> bool {
        self.switch_gen.get(usize::from(sw.0)) == Some(&e.switch_gen)
            && self.member_gen.get(usize::from(e.member)) == Some(&e.member_gen)
    }

    #[inline]
    fn ids_ok(&self, sw: SwitchId, m: MemberId) -> bool {
        usize::from(sw.0) < self.switch_gen.len() && usize::from(m.0) < self.member_gen.len()
    }

    /// Destination lookup: the member a live entry points at.
    #[inline]
    pub fn lookup(&self, domain: SwitchId, mac: u64) -> Option<MemberId> {
        let e = self.map.get(&key(domain, mac))?;
        let sw = self.real(domain)?;
        if self.is_live(sw, e) {
            Some(MemberId(e.member))
        } else {
            None
        }
    }

    /// Remove all stale entries; returns how many were removed. O(n).
    pub fn reclaim(&mut self) -> usize {
        if self.map.len() == self.live {
            return 0;
        }
        let before = self.map.len();
        let sg = &self.switch_gen;
        let mg = &self.member_gen;
        let ds = &self.domain_switch;
        self.map.retain(|&k, e| {
            ds.get((k >> 48) as usize)
                .and_then(|&s| sg.get(usize::from(s)))
                == Some(&e.switch_gen)
                && mg.get(usize::from(e.member)) == Some(&e.member_gen)
        });
        before - self.map.len()
    }

    fn new_entry(&self, sw: SwitchId, m: MemberId, now: u32, is_static: bool) -> Entry {
        Entry {
            member: m.0,
            flags: if is_static { FLAG_STATIC } else { 0 },
            member_gen: self.member_gen[usize::from(m.0)],
            switch_gen: self.switch_gen[usize::from(sw.0)],
            stamp: now,
        }
    }

    /// Account for a new live entry of `m` in `sw`.
    fn count_add(&mut self, sw: SwitchId, m: MemberId) {
        self.live += 1;
        self.switch_count[usize::from(sw.0)] += 1;
        self.member_count[usize::from(m.0)] += 1;
    }

    /// Common path of learn/install. `refresh` is `Some(refresh_after)` when
    /// learning (limit/static/refresh rules apply); `None` to overwrite.
    fn put(
        &mut self,
        domain: SwitchId,
        mac: u64,
        m: MemberId,
        now: u32,
        refresh: Option<u32>,
        is_static: bool,
    ) -> Learn {
        let learning = refresh.is_some();
        let Some(sw) = self.real(domain) else {
            return Learn::Invalid;
        };
        if mac_is_group(mac) || !self.ids_ok(sw, m) {
            return Learn::Invalid;
        }
        if self.member_switch[usize::from(m.0)] != sw.0 {
            self.set_member_switch(m, sw);
        }
        let k = key(domain, mac);
        let existing = self.map.get(&k).map(|e| (*e, self.is_live(sw, e)));
        match existing {
            Some((e, true)) => {
                if e.member == m.0 {
                    if let Some(refresh_after) = refresh {
                        if now.wrapping_sub(e.stamp) >= refresh_after {
                            if let Some(slot) = self.map.get_mut(&k) {
                                slot.stamp = now;
                            }
                            return Learn::Refresh;
                        }
                        return Learn::Unchanged;
                    }
                    let ne = self.new_entry(sw, m, now, is_static);
                    self.map.insert(k, ne);
                    return Learn::Unchanged;
                }
                if learning && e.flags & FLAG_STATIC != 0 {
                    return Learn::StaticConflict;
                }
                if learning && self.member_at_limit(m) {
                    return Learn::MemberLimit;
                }
                // Move within the switch: switch count unchanged.
                let from = MemberId(e.member);
                if let Some(c) = self.member_count.get_mut(usize::from(e.member)) {
                    *c = c.saturating_sub(1);
                }
                self.member_count[usize::from(m.0)] += 1;
                let ne = self.new_entry(sw, m, now, is_static);
                self.map.insert(k, ne);
                Learn::Moved { from }
            }
            Some((_, false)) => {
                if learning && self.at_limit(sw) {
                    return Learn::SwitchLimit;
                }
                if learning && self.member_at_limit(m) {
                    return Learn::MemberLimit;
                }
                let ne = self.new_entry(sw, m, now, is_static);
                self.map.insert(k, ne);
                self.count_add(sw, m);
                Learn::New
            }
            None => {
                if learning && self.at_limit(sw) {
                    return Learn::SwitchLimit;
                }
                if learning && self.member_at_limit(m) {
                    return Learn::MemberLimit;
                }
                if self.map.len() >= self.capacity && self.reclaim() == 0 {
                    return Learn::TableFull;
                }
                let ne = self.new_entry(sw, m, now, is_static);
                self.map.insert(k, ne);
                self.count_add(sw, m);
                Learn::New
            }
        }
    }

    #[inline]
    fn at_limit(&self, sw: SwitchId) -> bool {
        let si = usize::from(sw.0);
        let limit = self.switch_limit[si];
        limit != 0 && self.switch_count[si] >= limit
    }

    /// Learn source MAC `mac` on `member` of switch `sw` at coarse time `now`
    /// (seconds). `refresh_after`: a live entry on the same member whose
    /// stamp is at least this many seconds old is refreshed
    /// ([`Learn::Refresh`]).
    #[inline]
    pub fn learn(
        &mut self,
        sw: SwitchId,
        mac: u64,
        member: MemberId,
        now: u32,
        refresh_after: u32,
    ) -> Learn {
        self.put(sw, mac, member, now, Some(refresh_after), false)
    }

    /// Control-core programming: create or overwrite an entry, ignoring the
    /// switch limit and static protection. Returns `New`, `Moved`,
    /// `Unchanged` (same member; entry rewritten), `TableFull` or `Invalid`.
    pub fn install(
        &mut self,
        sw: SwitchId,
        mac: u64,
        member: MemberId,
        now: u32,
        is_static: bool,
    ) -> Learn {
        self.put(sw, mac, member, now, None, is_static)
    }

    /// Remove an entry; true if a live entry was removed.
    pub fn remove(&mut self, domain: SwitchId, mac: u64) -> bool {
        let k = key(domain, mac);
        let Some(sw) = self.real(domain) else {
            return false;
        };
        let Some(e) = self.map.remove(&k) else {
            return false;
        };
        if !self.is_live(sw, &e) {
            return false;
        }
        self.live = self.live.saturating_sub(1);
        if let Some(c) = self.switch_count.get_mut(usize::from(sw.0)) {
            *c = c.saturating_sub(1);
        }
        if let Some(c) = self.member_count.get_mut(usize::from(e.member)) {
            *c = c.saturating_sub(1);
        }
        true
    }

    /// Live entries: `(domain, mac_u64, member, stamp, is_static)`, in no
    /// particular order (the domain is the switch id unless VLAN-aware).
    pub fn iter(&self) -> impl Iterator<Item = (SwitchId, u64, MemberId, u32, bool)> + '_ {
        self.map.iter().filter_map(move |(&k, e)| {
            let domain = SwitchId((k >> 48) as u16);
            let sw = self.real(domain)?;
            if self.is_live(sw, e) {
                Some((
                    domain,
                    k & MAC_MASK,
                    MemberId(e.member),
                    e.stamp,
                    e.flags & FLAG_STATIC != 0,
                ))
            } else {
                None
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S0: SwitchId = SwitchId(0);
    const S1: SwitchId = SwitchId(1);
    const M1: MemberId = MemberId(1);
    const M2: MemberId = MemberId(2);
    const M3: MemberId = MemberId(3);
    const A: u64 = 0x0200_0000_000a;
    const B: u64 = 0x0200_0000_000b;
    const C: u64 = 0x0200_0000_000c;

    fn table() -> MacTable {
        MacTable::new(64, 8, 4)
    }

    fn check_counts(t: &MacTable) {
        let live: Vec<_> = t.iter().collect();
        assert_eq!(live.len(), t.len());
        for s in 0..4u16 {
            let n = live.iter().filter(|e| e.0 == SwitchId(s)).count();
            assert_eq!(n as u32, t.switch_count(SwitchId(s)), "switch {s}");
        }
        for m in 0..8u16 {
            let n = live.iter().filter(|e| e.2 == MemberId(m)).count();
            assert_eq!(n as u32, t.member_count(MemberId(m)), "member {m}");
        }
    }

    #[test]
    fn entry_is_small() {
        assert!(std::mem::size_of::<Entry>() <= 16);
    }

    #[test]
    fn learn_lookup() {
        let mut t = table();
        assert_eq!(t.lookup(S0, A), None);
        assert_eq!(t.learn(S0, A, M1, 100, 1), Learn::New);
        assert_eq!(t.lookup(S0, A), Some(M1));
        // Same MAC in another switch is a different entry.
        assert_eq!(t.lookup(S1, A), None);
        assert_eq!(t.learn(S0, B, M2, 100, 1), Learn::New);
        assert_eq!(t.lookup(S0, B), Some(M2));
        assert_eq!(t.len(), 2);
        assert_eq!(t.switch_count(S0), 2);
        assert_eq!(t.member_count(M1), 1);
        assert_eq!(t.member_switch(M1), Some(S0));
        check_counts(&t);
    }

    #[test]
    fn move_between_members() {
        let mut t = table();
        t.learn(S0, A, M1, 100, 1);
        t.learn(S0, B, M2, 100, 1);
        assert_eq!(t.learn(S0, A, M2, 101, 1), Learn::Moved { from: M1 });
        assert_eq!(t.lookup(S0, A), Some(M2));
        assert_eq!(t.member_count(M1), 0);
        assert_eq!(t.member_count(M2), 2);
        assert_eq!(t.switch_count(S0), 2);
        check_counts(&t);
    }

    #[test]
    fn refresh_timing() {
        let mut t = table();
        let mut now = 1000u32;
        assert_eq!(t.learn(S0, A, M1, now, 5), Learn::New);
        assert_eq!(t.learn(S0, A, M1, now, 5), Learn::Unchanged);
        now += 4;
        assert_eq!(t.learn(S0, A, M1, now, 5), Learn::Unchanged);
        now += 1;
        assert_eq!(t.learn(S0, A, M1, now, 5), Learn::Refresh);
        // The stamp was updated: not again until 5 s later.
        now += 3;
        assert_eq!(t.learn(S0, A, M1, now, 5), Learn::Unchanged);
        now += 2;
        assert_eq!(t.learn(S0, A, M1, now, 5), Learn::Refresh);
        assert_eq!(t.iter().next().map(|e| e.3), Some(now));
        // Clock wraparound of the coarse u32 stamp.
        let mut t = table();
        t.learn(S0, A, M1, u32::MAX - 1, 2);
        assert_eq!(t.learn(S0, A, M1, 0, 2), Learn::Refresh);
    }

    #[test]
    fn flush_member_o1_and_counts() {
        let mut t = table();
        t.learn(S0, A, M1, 1, 1);
        t.learn(S0, B, M1, 1, 1);
        t.learn(S0, C, M2, 1, 1);
        t.learn(S1, A, M3, 1, 1);
        t.flush_member(M1);
        assert_eq!(t.lookup(S0, A), None);
        assert_eq!(t.lookup(S0, B), None);
        assert_eq!(t.lookup(S0, C), Some(M2));
        assert_eq!(t.len(), 2);
        assert_eq!(t.switch_count(S0), 1);
        assert_eq!(t.member_count(M1), 0);
        assert_eq!(t.occupied(), 4, "stale entries still occupy slots");
        check_counts(&t);
        // Re-learn overwrites the stale entry in place.
        assert_eq!(t.learn(S0, A, M2, 2, 1), Learn::New);
        assert_eq!(t.occupied(), 4);
        assert_eq!(t.switch_count(S0), 2);
        check_counts(&t);
        // Flushing again does not double-subtract.
        t.flush_member(M1);
        check_counts(&t);
    }

    #[test]
    fn flush_switch_o1_and_counts() {
        let mut t = table();
        t.learn(S0, A, M1, 1, 1);
        t.learn(S0, B, M2, 1, 1);
        t.learn(S1, C, M3, 1, 1);
        t.flush_switch(S0);
        assert_eq!(t.lookup(S0, A), None);
        assert_eq!(t.lookup(S0, B), None);
        assert_eq!(t.lookup(S1, C), Some(M3));
        assert_eq!(t.len(), 1);
        assert_eq!(t.switch_count(S0), 0);
        assert_eq!(t.member_count(M1), 0);
        assert_eq!(t.member_count(M2), 0);
        assert_eq!(t.member_count(M3), 1);
        check_counts(&t);
        // Members keep working after the flush.
        assert_eq!(t.learn(S0, A, M1, 2, 1), Learn::New);
        assert_eq!(t.member_count(M1), 1);
        // A member flush after a switch flush stays exact.
        t.flush_member(M2);
        t.flush_member(M1);
        assert_eq!(t.switch_count(S0), 0);
        check_counts(&t);
    }

    #[test]
    fn member_changes_switch() {
        let mut t = table();
        t.learn(S0, A, M1, 1, 1);
        t.learn(S0, B, M1, 1, 1);
        // Learning in another switch moves the member (old entries flushed).
        assert_eq!(t.learn(S1, C, M1, 1, 1), Learn::New);
        assert_eq!(t.lookup(S0, A), None);
        assert_eq!(t.member_switch(M1), Some(S1));
        assert_eq!(t.switch_count(S0), 0);
        assert_eq!(t.member_count(M1), 1);
        check_counts(&t);
        t.detach_member(M1);
        assert_eq!(t.member_switch(M1), None);
        assert_eq!(t.len(), 0);
        check_counts(&t);
    }

    #[test]
    fn reclaim_removes_stale() {
        let mut t = table();
        t.learn(S0, A, M1, 1, 1);
        t.learn(S0, B, M2, 1, 1);
        t.learn(S1, C, M3, 1, 1);
        assert_eq!(t.reclaim(), 0);
        t.flush_member(M1);
        t.flush_switch(S1);
        assert_eq!(t.occupied(), 3);
        assert_eq!(t.reclaim(), 2);
        assert_eq!(t.occupied(), 1);
        assert_eq!(t.lookup(S0, B), Some(M2));
        check_counts(&t);
    }

    #[test]
    fn capacity_full() {
        let mut t = MacTable::new(4, 8, 4);
        let cap0 = t.map.capacity();
        for i in 0..4u64 {
            assert_eq!(t.learn(S0, A + (i << 8), M1, 1, 1), Learn::New);
        }
        assert_eq!(t.learn(S0, C, M2, 1, 1), Learn::TableFull);
        assert_eq!(t.len(), 4);
        // Existing entries still refresh/move when full.
        assert_eq!(t.learn(S0, A, M2, 1, 1), Learn::Moved { from: M1 });
        // Flushing makes room via the reclaim inside learn.
        t.flush_member(M1);
        assert_eq!(t.occupied(), 4);
        assert_eq!(t.learn(S0, C, M2, 1, 1), Learn::New);
        assert_eq!(t.occupied(), 2);
        check_counts(&t);
        assert_eq!(t.install(S0, B, M2, 1, false), Learn::New);
        assert_eq!(t.map.capacity(), cap0, "no reallocation");
    }

    #[test]
    fn vlan_domains_share_the_switch() {
        // Switches 0..4, VLAN domains 4..8.
        let mut t = MacTable::with_domains(64, 8, 4, 4);
        let d5 = SwitchId(5);
        let mac = 0x0200_0000_0001;
        assert_eq!(
            t.learn(d5, mac, M1, 0, 1),
            Learn::Invalid,
            "unmapped domain"
        );
        t.set_domain(d5, S0);
        t.set_domain(SwitchId(6), S0);
        // The same MAC in two VLANs of one switch: two entries, one member.
        assert_eq!(t.learn(S0, mac, M1, 0, 1), Learn::New);
        assert_eq!(t.learn(d5, mac, MemberId(2), 0, 1), Learn::New);
        assert_eq!(t.lookup(S0, mac), Some(M1));
        assert_eq!(t.lookup(d5, mac), Some(MemberId(2)));
        assert_eq!(t.lookup(SwitchId(6), mac), None);
        // Learning in another VLAN of the same switch keeps the member's
        // entries (no re-binding flush).
        assert_eq!(t.learn(SwitchId(6), 0x0200_0000_0002, M1, 0, 1), Learn::New);
        assert_eq!(t.lookup(S0, mac), Some(M1));
        assert_eq!(t.switch_count(S0), 3);
        // The switch limit counts every VLAN; a flush of the switch clears them.
        t.set_switch_limit(S0, 3);
        assert_eq!(t.learn(d5, 0x0200_0000_0003, M1, 0, 1), Learn::SwitchLimit);
        t.flush_switch(S0);
        assert_eq!(t.lookup(d5, mac), None);
        assert_eq!(t.lookup(S0, mac), None);
        assert_eq!(t.reclaim(), 3);
        assert!(!t.remove(d5, mac));
        // Domain ids of the plain range cannot be remapped.
        t.set_domain(S1, S0);
        assert_eq!(t.learn(S1, mac, MemberId(3), 0, 1), Learn::New);
        assert_eq!(t.member_switch(MemberId(3)), Some(S1));
    }

    #[test]
    fn member_limit() {
        let mut t = MacTable::new(64, 8, 4);
        t.set_member_switch(M1, S0);
        t.set_member_switch(MemberId(2), S0);
        t.set_member_limit(M1, 2);
        assert_eq!(t.learn(S0, 0x0200_0000_0001, M1, 0, 1), Learn::New);
        assert_eq!(t.learn(S0, 0x0200_0000_0002, M1, 0, 1), Learn::New);
        assert_eq!(t.learn(S0, 0x0200_0000_0003, M1, 0, 1), Learn::MemberLimit);
        assert_eq!(t.lookup(S0, 0x0200_0000_0003), None);
        // Another member is not limited; a MAC may not move onto M1 either.
        assert_eq!(t.learn(S0, 0x0200_0000_0004, MemberId(2), 0, 1), Learn::New);
        assert_eq!(t.learn(S0, 0x0200_0000_0004, M1, 0, 1), Learn::MemberLimit);
        assert_eq!(t.lookup(S0, 0x0200_0000_0004), Some(MemberId(2)));
        // Moving one away frees room.
        assert!(matches!(
            t.learn(S0, 0x0200_0000_0001, MemberId(2), 0, 1),
            Learn::Moved { .. }
        ));
        assert_eq!(t.learn(S0, 0x0200_0000_0003, M1, 0, 1), Learn::New);
        // The control core may still install.
        assert_eq!(t.install(S0, 0x0200_0000_0005, M1, 0, false), Learn::New);
    }

    #[test]
    fn switch_limit() {
        let mut t = table();
        t.set_switch_limit(S0, 2);
        assert_eq!(t.learn(S0, A, M1, 1, 1), Learn::New);
        assert_eq!(t.learn(S0, B, M1, 1, 1), Learn::New);
        assert_eq!(t.learn(S0, C, M1, 1, 1), Learn::SwitchLimit);
        // Other switches are unaffected.
        assert_eq!(t.learn(S1, C, M3, 1, 1), Learn::New);
        // Moves and refreshes are allowed at the limit.
        assert_eq!(t.learn(S0, A, M2, 1, 1), Learn::Moved { from: M1 });
        assert_eq!(t.learn(S0, A, M2, 5, 1), Learn::Refresh);
        // After a flush there is room again (stale entries are overwritten).
        t.flush_member(M2);
        assert_eq!(t.learn(S0, C, M1, 1, 1), Learn::New);
        // Install ignores the limit.
        assert_eq!(t.install(S0, A, M1, 1, false), Learn::New);
        assert_eq!(t.switch_count(S0), 3);
        t.set_switch_limit(S0, 0);
        assert_eq!(t.learn(S0, 0x0200_0000_00ff, M1, 1, 1), Learn::New);
        check_counts(&t);
    }

    #[test]
    fn static_entries() {
        let mut t = table();
        assert_eq!(t.install(S0, A, M1, 1, true), Learn::New);
        assert_eq!(t.learn(S0, A, M2, 2, 1), Learn::StaticConflict);
        assert_eq!(t.lookup(S0, A), Some(M1));
        assert_eq!(t.learn(S0, A, M1, 2, 0), Learn::Refresh);
        assert!(t.iter().any(|e| e.1 == A && e.4));
        // Control core may overwrite it.
        assert_eq!(t.install(S0, A, M2, 3, false), Learn::Moved { from: M1 });
        assert_eq!(t.learn(S0, A, M1, 4, 1), Learn::Moved { from: M2 });
        assert!(t.remove(S0, A));
        assert!(!t.remove(S0, A));
        assert_eq!(t.len(), 0);
        check_counts(&t);
    }

    #[test]
    fn group_macs_not_learned() {
        let mut t = table();
        assert_eq!(t.learn(S0, 0xffff_ffff_ffff, M1, 1, 1), Learn::Invalid);
        assert_eq!(t.learn(S0, 0x0100_5e00_0001, M1, 1, 1), Learn::Invalid);
        assert_eq!(t.learn(S0, 0x3333_0000_0001, M1, 1, 1), Learn::Invalid);
        assert_eq!(t.install(S0, 0x0180_c200_0000, M1, 1, true), Learn::Invalid);
        assert_eq!(t.len(), 0);
        assert_eq!(t.occupied(), 0);
    }

    #[test]
    fn out_of_range_ids_do_not_panic() {
        let mut t = table();
        assert_eq!(t.learn(SwitchId(4), A, M1, 1, 1), Learn::Invalid);
        assert_eq!(t.learn(S0, A, MemberId(8), 1, 1), Learn::Invalid);
        assert_eq!(t.lookup(SwitchId(900), A), None);
        t.flush_member(MemberId(100));
        t.flush_switch(SwitchId(100));
        t.set_switch_limit(SwitchId(100), 1);
        t.set_member_switch(MemberId(100), S0);
        t.set_member_switch(M1, SwitchId(100));
        assert!(!t.remove(SwitchId(100), A));
        assert_eq!(t.switch_count(SwitchId(100)), 0);
        assert_eq!(t.member_count(MemberId(100)), 0);
    }

    #[test]
    fn remove_stale_is_false() {
        let mut t = table();
        t.learn(S0, A, M1, 1, 1);
        t.flush_switch(S0);
        assert!(!t.remove(S0, A));
        assert_eq!(t.occupied(), 0);
        check_counts(&t);
    }
}
