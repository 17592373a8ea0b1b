//! Per-worker MAC table used on the per-packet fast path, built for the
//! cache (VPP's bihash 8_8 is the model).
//!
//! # Layout
//!
//! A power-of-two array of 64-byte buckets (one cache line each), every
//! bucket four 16-byte entries: an 8-byte key (learning domain in the top
//! 16 bits, MAC in the low 48) and an 8-byte value:
//!
//! ```text
//! bits  0..16  member id
//! bits 16..31  the member's generation when the entry was written
//! bit  31      LOCAL: learned from a frame on this worker (not installed
//!              by the control core); its stamp is this worker's
//! bits 32..48  the switch's generation when the entry was written
//! bits 48..61  stamp: coarse time (seconds) mod 8192
//! bit  61      OVERFLOW (slot 0 only): an entry whose first bucket is
//!              this one was placed in its second bucket
//! bit  62      STATIC
//! bit  63      VALID (an all-zero entry is empty)
//! ```
//!
//! A seeded multiply-xorshift hash of the key (the seed is random per table,
//! from `getrandom`: MAC-flood attackers choose keys and must not be able to
//! aim them at one bucket) gives every key two buckets, *first* and
//! *second* (bounded probing: two-choice, like a cuckoo table). An entry
//! is put in its first bucket when that has an empty or stale slot, else in
//! its second; when both are full of live entries, one entry of the two is
//! moved to its own other bucket if that has room (one level of cuckoo
//! displacement, at most 8 extra bucket reads, only on that rare insert).
//! A lookup reads the first bucket, and the second only if the first's
//! OVERFLOW hint is set (hints are never cleared: a hint costs a read on a
//! miss, never a wrong answer). The table is sized to half load
//! (`capacity` entries in `2 × capacity` slots); a learn that still finds
//! no room fails with [`Learn::TableFull`] (counted by the caller), it
//! never rehashes. A linear probe over 4 adjacent buckets was tried first:
//! at half load it refused about one insert in 2000
//! (`churn_does_not_grow`), which a MAC table cannot afford.
//!
//! # Memory
//!
//! All memory is allocated by [`MacTable::new`]; no method allocates
//! afterwards, and there is no rehash, resize or tombstone. The buckets
//! are a plain `Vec` allocated zeroed once at construction (a fresh
//! anonymous mapping for big tables, so its pages are not touched yet)
//! and aligned by an offset into it: to 64 bytes, or for a table of 1 MiB
//! or more to a huge page, owning whole huge pages (`crate::mem`; before
//! that, a table lost its first huge page to the misaligned start).
//! DPDK socket memory was
//! the alternative (hugepages, the worker's NUMA node) but would put an
//! FFI handle and `unsafe` into this pure module; instead the worker asks
//! the kernel for transparent huge pages over the still untouched range
//! ([`MacTable::storage`], `dpdk::advise_hugepages`) and then touches
//! every page once ([`MacTable::prefault`]) so that no page fault is left
//! for the fast path. The worker builds and prefaults its table in
//! `Worker::new`, on its own lcore, so Linux's default first-touch
//! policy puts the pages on the worker's NUMA node, as socket memory
//! would. See [`MacTable::bytes`] for the footprint.
//!
//! # Staleness, flushes and aging
//!
//! Flushing is O(1) in the number of entries: each member has a 15-bit and
//! each switch a 16-bit generation stored in every entry, and bumping it makes all
//! the entries that carry the old value *stale*. Stale entries behave as
//! missing for [`MacTable::lookup`] and are overwritten in place by the
//! next insert into their window (stale entries do not count against
//! `capacity`, only against the window's four-slot buckets). When a
//! generation wraps (every 32768th flush of one member, 65536th of one
//! switch), the
//! entries of that member or switch are swept out of the table once, so a
//! stale entry can never come back to life; that sweep is the only O(table)
//! operation and it runs on a command or a member move, not per packet.
//! The control core ages entries and removes them with [`MacTable::remove`].
//! It ages what the workers tell it of, through a ring that can be full;
//! an entry learned here whose event was lost would never age. So
//! [`MacTable::expire_local`] also ages, in slices, the entries learned
//! here (`LOCAL`) whose stamp is older than the switch's limit
//! ([`MacTable::set_switch_aging`]: its aging plus slack, past the time
//! the control core would have removed an entry it knew), each once the
//! caller has told the control core (which installs it again if it still
//! keeps the MAC: see [`local_aging`]).
//!
//! Out-of-range switch or member ids are treated as invalid input
//! (`lookup` misses, `learn`/`install` return [`Learn::Invalid`]).
//!
//! Invariant: a member belongs to at most one switch at a time
//! ([`MacTable::set_member_switch`]); learning or installing a MAC for a
//! member in another switch moves the member there (flushing its entries in
//! the old switch). This keeps per-switch and per-member counts exact.

use super::{mac_is_group, MemberId, SwitchId, MAC_MASK};

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
    /// The table holds `capacity` live entries, or the key's two buckets
    /// are full of live entries that cannot move.
    TableFull,
    /// Group (multicast/broadcast) source MAC, or out-of-range switch/member id.
    Invalid,
    /// The MAC is a static entry on another member; learning never moves it.
    StaticConflict,
}

/// Sentinel in `member_switch` for "not attached to a switch".
const NO_SWITCH: u16 = u16::MAX;

/// Entries per bucket (4 × 16 bytes = one 64-byte cache line).
pub const BUCKET_ENTRIES: usize = 4;
/// u64 words per bucket: `[key0, value0, key1, value1, …]`.
const WORDS: usize = 2 * BUCKET_ENTRIES;
const BUCKET_BYTES: usize = WORDS * 8;
const CACHE_LINE: usize = 64;

const VALID: u64 = 1 << 63;
const STATIC: u64 = 1 << 62;
const OVERFLOW: u64 = 1 << 61;
const LOCAL: u64 = 1 << 31;
/// Member generations are 15 bits (the 16th bit of their field is `LOCAL`).
const MEMBER_GEN_MASK: u16 = 0x7fff;
const STAMP_SHIFT: u32 = 48;
/// Stamps are kept modulo 2^13 seconds (2 h 16 min).
const STAMP_MASK: u32 = (1 << 13) - 1;
/// The largest limit [`MacTable::set_switch_aging`] takes: half the stamp
/// range, so that a sweep sees an entry's age before it wraps.
pub const MAX_LOCAL_AGING: u32 = STAMP_MASK >> 1;

/// When a worker ages a MAC it learned itself ([`MacTable::expire_local`];
/// it matters for MACs whose learn event was lost, which only the worker
/// knows of) in a switch whose MACs age after `aging` seconds (0: never):
/// `aging` seconds after its last sighting, plus `mac_refresh` (the
/// worker's stamp can be that much older than the control core's last
/// word) and 2 s (the control core's 1 s aging tick and the event's way
/// there), so that the worker does not age a MAC before the control core
/// would. The stamps allow at most [`MAX_LOCAL_AGING`] (4095 s): a longer
/// aging (operators match MAC aging to 4 h ARP timeouts) is cut to that,
/// not switched off, or lost learn events could fill the table again.
/// A MAC the worker ages earlier than the control core is one the
/// control core still keeps, and installs on that worker again when told
/// (`Event::AgedLocal`, `control.macs_reinstalled`).
pub fn local_aging(aging: u32, mac_refresh: u32) -> u32 {
    if aging == 0 {
        0
    } else {
        aging
            .saturating_add(mac_refresh)
            .saturating_add(2)
            .min(MAX_LOCAL_AGING)
    }
}

#[inline(always)]
fn key(domain: SwitchId, mac: u64) -> u64 {
    (u64::from(domain.0) << 48) | (mac & MAC_MASK)
}

#[inline(always)]
fn v_member(v: u64) -> u16 {
    v as u16
}
#[inline(always)]
fn v_member_gen(v: u64) -> u16 {
    (v >> 16) as u16 & MEMBER_GEN_MASK
}
#[inline(always)]
fn v_switch_gen(v: u64) -> u16 {
    (v >> 32) as u16
}
#[inline(always)]
fn v_stamp(v: u64) -> u32 {
    (v >> STAMP_SHIFT) as u32 & STAMP_MASK
}

/// A precomputed hash of a (domain, MAC) key, for the staged burst loop:
/// hash every packet's keys, prefetch their buckets, then look up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hashed {
    key: u64,
    /// The hash: its low bits give the first bucket (`MacTable::home`),
    /// bits 40 and up the second (`MacTable::alt`), worked out where they
    /// are needed (the second only when a lookup goes there).
    x: u64,
}

/// The per-worker MAC table (see the module docs).
pub struct MacTable {
    /// Zeroed at construction; bucket `i` is `mem[base + 8 i..][..8]`,
    /// 64-byte aligned.
    mem: Vec<u64>,
    base: usize,
    /// `buckets - 1` (buckets is a power of two).
    mask: usize,
    seed: [u64; 2],
    capacity: usize,
    live: usize,
    /// Valid slots, live or stale.
    used: usize,
    member_gen: Vec<u16>,
    member_count: Vec<u32>,
    member_switch: Vec<u16>,
    switch_gen: Vec<u16>,
    switch_count: Vec<u32>,
    switch_limit: Vec<u32>,
    /// Seconds after which `expire_local` removes a `LOCAL` entry of the
    /// switch (0 = never).
    switch_aging: Vec<u32>,
    member_limit: Vec<u32>,
    /// Learning domain → switch. Ids below `max_switches` are the switches
    /// themselves; higher ids are VLAN domains of VLAN-aware switches
    /// (`set_domain`), `NO_SWITCH` until mapped.
    domain_switch: Vec<u16>,
}

fn random_seed() -> [u64; 2] {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        // No OS randomness: the clock and an address are better than 0.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let a = &b as *const _ as u64;
        b[..8].copy_from_slice(&t.to_ne_bytes());
        b[8..].copy_from_slice(&a.rotate_left(29).to_ne_bytes());
    }
    let mut s0 = [0u8; 8];
    let mut s1 = [0u8; 8];
    s0.copy_from_slice(&b[..8]);
    s1.copy_from_slice(&b[8..]);
    [u64::from_ne_bytes(s0), u64::from_ne_bytes(s1) | 1]
}

impl MacTable {
    /// Preallocate a table for `capacity` live entries, member ids
    /// `0..max_members` (at most 65535) and switch ids `0..max_switches`
    /// (at most 65536).
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
        Self::with_seed(
            capacity,
            max_members,
            max_switches,
            vlan_domains,
            random_seed(),
        )
    }

    fn with_seed(
        capacity: usize,
        max_members: usize,
        max_switches: usize,
        vlan_domains: usize,
        seed: [u64; 2],
    ) -> Self {
        let max_switches = max_switches.min(1 << 16);
        // Member ids are 16 bits in the entry; keep one value spare.
        let max_members = max_members.min((1 << 16) - 1);
        let domains = (max_switches + vlan_domains).min(1 << 16);
        let capacity = capacity.max(1);
        // Half load: 2 × capacity slots, at least one bucket.
        let buckets = (2 * capacity)
            .div_ceil(BUCKET_ENTRIES)
            .next_power_of_two()
            .max(1);
        // Aligned to a cache line, or to a huge page for a big table
        // (`crate::mem`); one zeroed allocation (calloc): big tables come
        // as fresh, untouched pages.
        let (mem, base) = crate::mem::zeroed_words(WORDS * buckets);
        MacTable {
            mem,
            base,
            mask: buckets - 1,
            seed: [seed[0], seed[1] | 1],
            capacity,
            live: 0,
            used: 0,
            domain_switch: (0..domains)
                .map(|d| {
                    if d < max_switches {
                        d as u16
                    } else {
                        NO_SWITCH
                    }
                })
                .collect(),
            member_gen: vec![0; max_members],
            member_count: vec![0; max_members],
            member_switch: vec![NO_SWITCH; max_members],
            switch_gen: vec![0; max_switches],
            switch_count: vec![0; max_switches],
            switch_limit: vec![0; max_switches],
            switch_aging: vec![0; max_switches],
            member_limit: vec![0; max_members],
        }
    }

    /// Maximum number of live entries.
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
        self.used
    }

    /// Number of buckets (a power of two).
    pub fn buckets(&self) -> usize {
        self.mask + 1
    }

    /// Bytes of memory the table and its per-member/per-switch arrays use
    /// (the whole footprint; it never changes after construction). A big
    /// table's allocation also has up to one huge page of padding in
    /// front that is never touched (`crate::mem`): address space, not
    /// memory, and not counted here.
    pub fn bytes(&self) -> usize {
        crate::mem::span(WORDS * self.buckets()) * 8
            + self.member_gen.capacity() * 2
            + self.member_count.capacity() * 4
            + self.member_switch.capacity() * 2
            + self.switch_gen.capacity() * 2
            + self.switch_count.capacity() * 4
            + self.switch_limit.capacity() * 4
            + self.switch_aging.capacity() * 4
            + self.member_limit.capacity() * 4
            + self.domain_switch.capacity() * 2
    }

    /// The buckets, for `dpdk::advise_hugepages` before
    /// [`prefault`](Self::prefault): whole huge pages from a huge-page
    /// boundary for a big table (`crate::mem`).
    pub fn storage(&self) -> &[u64] {
        let span = crate::mem::span(WORDS * self.buckets());
        &self.mem[self.base..self.base + span]
    }

    /// Writes every page of the bucket array once, so the fast path never
    /// takes a first-touch page fault. Entries are unchanged; the padding
    /// before the table stays untouched.
    pub fn prefault(&mut self) {
        let span = crate::mem::span(WORDS * self.buckets());
        crate::mem::prefault(&mut self.mem[self.base..self.base + span]);
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
    #[inline(always)]
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
        *g = g.wrapping_add(1) & MEMBER_GEN_MASK;
        let wrapped = *g == 0;
        let n = std::mem::take(&mut self.member_count[mi]);
        let sw = self.member_switch[mi];
        if let Some(c) = self.switch_count.get_mut(usize::from(sw)) {
            *c = c.saturating_sub(n);
        }
        self.live = self.live.saturating_sub(n as usize);
        if wrapped {
            // Every entry of `m` is stale now; remove them before one
            // written 32768 flushes ago could match the generation again.
            self.sweep(|_, v| v_member(v) == m.0);
        }
    }

    /// Invalidate every entry (learned or static) of switch `sw`: O(1) in
    /// the number of entries, O(max_members) to zero member counts.
    pub fn flush_switch(&mut self, sw: SwitchId) {
        let si = usize::from(sw.0);
        let Some(g) = self.switch_gen.get_mut(si) else {
            return;
        };
        *g = g.wrapping_add(1);
        let wrapped = *g == 0;
        let n = std::mem::take(&mut self.switch_count[si]);
        self.live = self.live.saturating_sub(n as usize);
        for (c, &s) in self.member_count.iter_mut().zip(self.member_switch.iter()) {
            if s == sw.0 {
                *c = 0;
            }
        }
        if wrapped {
            let ds = std::mem::take(&mut self.domain_switch);
            self.sweep(|k, _| ds.get((k >> 48) as usize) == Some(&sw.0));
            self.domain_switch = ds;
        }
    }

    /// Empties every slot whose (key, value) satisfies `stale` (O(table);
    /// only on a generation wrap). Overflow hints stay.
    #[cold]
    fn sweep(&mut self, stale: impl Fn(u64, u64) -> bool) {
        let mut removed = 0;
        for b in 0..=self.mask {
            for e in 0..BUCKET_ENTRIES {
                let i = self.slot(b, e);
                let (k, v) = (self.mem[i], self.mem[i + 1]);
                if v & VALID != 0 && stale(k, v) {
                    self.mem[i] = 0;
                    self.mem[i + 1] &= OVERFLOW;
                    removed += 1;
                }
            }
        }
        self.used -= removed;
    }

    /// Index in `mem` of the key word of entry `e` of bucket `b`.
    #[inline(always)]
    fn slot(&self, b: usize, e: usize) -> usize {
        self.base + b * WORDS + 2 * e
    }

    /// True when a valid entry of `sw` with value `v` is live.
    #[inline(always)]
    fn is_live(&self, sw: SwitchId, v: u64) -> bool {
        self.switch_gen.get(usize::from(sw.0)) == Some(&v_switch_gen(v))
            && self.member_gen.get(usize::from(v_member(v))) == Some(&v_member_gen(v))
    }

    /// True when the valid entry (`k`, `v`) is live.
    #[inline(always)]
    fn entry_live(&self, k: u64, v: u64) -> bool {
        match self.real(SwitchId((k >> 48) as u16)) {
            Some(sw) => self.is_live(sw, v),
            None => false,
        }
    }

    #[inline(always)]
    fn ids_ok(&self, sw: SwitchId, m: MemberId) -> bool {
        usize::from(sw.0) < self.switch_gen.len() && usize::from(m.0) < self.member_gen.len()
    }

    /// Hashes a key: seeded multiply-xorshift (two multiplies).
    #[inline(always)]
    pub fn hash(&self, domain: SwitchId, mac: u64) -> Hashed {
        self.hash_key(key(domain, mac))
    }

    #[inline(always)]
    fn hash_key(&self, k: u64) -> Hashed {
        let mut x = (k ^ self.seed[0]).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        x ^= x >> 29;
        x = x.wrapping_mul(self.seed[1]);
        x ^= x >> 32;
        Hashed { key: k, x }
    }

    /// The first bucket of `h`.
    #[inline(always)]
    fn home(&self, h: Hashed) -> usize {
        h.x as usize & self.mask
    }

    /// The second bucket of `h` (equal to its first only in a one-bucket
    /// table).
    #[inline(always)]
    fn alt(&self, h: Hashed) -> usize {
        let home = self.home(h);
        let alt = (h.x >> 40) as usize & self.mask;
        if alt == home {
            home ^ (1 & self.mask)
        } else {
            alt
        }
    }

    /// A word in the first bucket of `h`, to prefetch its cache line.
    #[inline(always)]
    pub fn bucket_hint(&self, h: Hashed) -> &u64 {
        let i = self.slot(self.home(h), 0);
        &self.mem[i.min(self.mem.len() - 1)]
    }

    /// The words of bucket `b` as one array, so that a scan of it costs
    /// one bounds check (`b` is masked: always there).
    #[inline(always)]
    fn words(&self, b: usize) -> Option<&[u64; WORDS]> {
        let s = self.slot(b, 0);
        self.mem.get(s..s + WORDS)?.try_into().ok()
    }

    /// The entry (0..BUCKET_ENTRIES) of `key` in bucket words `w`, live
    /// or stale.
    #[inline(always)]
    fn scan(w: &[u64; WORDS], key: u64) -> Option<usize> {
        // A `while` over the constant count, not `(0..N).find(..)`: the
        // compiler kept `find`'s `try_fold` out of line, a call per scan
        // (8 % of the worker at 1k MACs in `perf record`).
        let mut e = 0;
        while e < BUCKET_ENTRIES {
            if w[2 * e] == key && w[2 * e + 1] & VALID != 0 {
                return Some(e);
            }
            e += 1;
        }
        None
    }

    /// Finds `h.key` (live or stale): the `mem` index of its key word.
    #[inline(always)]
    fn find(&self, h: Hashed) -> Option<usize> {
        let w = self.words(self.home(h))?;
        if let Some(e) = Self::scan(w, h.key) {
            return Some(self.slot(self.home(h), e));
        }
        // Nothing first-homed here ever went to its second bucket.
        let alt = self.alt(h);
        if w[1] & OVERFLOW == 0 || alt == self.home(h) {
            return None;
        }
        let e = Self::scan(self.words(alt)?, h.key)?;
        Some(self.slot(alt, e))
    }

    /// `find`'s entry value, read from the bucket words it scanned.
    #[inline(always)]
    fn find_value(&self, h: Hashed) -> Option<u64> {
        let home = self.home(h);
        let w = self.words(home)?;
        if let Some(e) = Self::scan(w, h.key) {
            return Some(w[2 * e + 1]);
        }
        let alt = self.alt(h);
        if w[1] & OVERFLOW == 0 || alt == home {
            return None;
        }
        let w = self.words(alt)?;
        Self::scan(w, h.key).map(|e| w[2 * e + 1])
    }

    /// `find`'s slot (the index of its key word) and its entry value,
    /// read from the bucket words it scanned.
    #[inline(always)]
    fn find_entry(&self, h: Hashed) -> Option<(usize, u64)> {
        let home = self.home(h);
        let w = self.words(home)?;
        if let Some(e) = Self::scan(w, h.key) {
            return Some((self.slot(home, e), w[2 * e + 1]));
        }
        let alt = self.alt(h);
        if w[1] & OVERFLOW == 0 || alt == home {
            return None;
        }
        let w = self.words(alt)?;
        Self::scan(w, h.key).map(|e| (self.slot(alt, e), w[2 * e + 1]))
    }

    /// The fast path's learn and destination lookup in one
    /// (`Worker::fast_unicast`): the member `dst` is live on, when the
    /// source `src` is [`learned_fresh`](Self::learned_fresh) on `member`;
    /// None when either answer is no. The same answer as the two calls
    /// (`learned_fresh` then [`lookup_hashed`](Self::lookup_hashed)),
    /// with the domain's switch and its generation, and the member's
    /// generation, read once.
    #[inline(always)]
    pub fn fresh_then_lookup(
        &self,
        domain: SwitchId,
        src: Hashed,
        dst: Hashed,
        member: MemberId,
        now: u32,
        refresh_after: u32,
    ) -> Option<MemberId> {
        let sw = self.real(domain)?;
        let sgen = *self.switch_gen.get(usize::from(sw.0))?;
        let mi = usize::from(member.0);
        if self.member_switch.get(mi) != Some(&sw.0) {
            return None;
        }
        let mgen = *self.member_gen.get(mi)?;
        let v = self.find_value(src)?;
        let age = now.wrapping_sub(v_stamp(v)) & STAMP_MASK;
        if v_member(v) != member.0
            || v_member_gen(v) != mgen
            || v_switch_gen(v) != sgen
            || age >= refresh_after.min(STAMP_MASK)
        {
            return None;
        }
        let w = self.find_value(dst)?;
        let out = v_member(w);
        if v_switch_gen(w) != sgen
            || self.member_gen.get(usize::from(out)) != Some(&v_member_gen(w))
        {
            return None;
        }
        Some(MemberId(out))
    }

    /// [`fresh_then_lookup`](Self::fresh_then_lookup) that also refreshes:
    /// where [`learn_hashed`](Self::learn_hashed) would answer
    /// [`Learn::Refresh`] (the source is live on `member`, in the
    /// member's switch, and its stamp is `refresh_after` seconds old or
    /// more) it writes the stamp `learn_hashed` would write. None: the
    /// source is not learned here on `member` (a new MAC, a move, another
    /// switch); nothing was written, and `learn_hashed` decides. Else
    /// `(refreshed, dst)`: learning is done (`Unchanged`, or `Refresh`
    /// when `refreshed`, which the caller reports as `learn_hashed`'s
    /// caller would), and `dst` is `lookup_hashed`'s answer after it.
    ///
    /// Its checks repeat `fresh_then_lookup`'s on purpose: factored into
    /// two shared `#[inline(always)]` helpers they cost the fast path 5
    /// more instructions a packet in the direct loop and 9.5 in the staged
    /// one (`perf/instructions.sh`, 2026-12-02), though the code is the
    /// same. The unit tests `learned_fresh_is_learn_unchanged` and
    /// `refresh_then_lookup_is_learn_then_lookup` hold each of the two to
    /// `learn_hashed` and `lookup_hashed`.
    #[inline(always)]
    pub fn refresh_then_lookup(
        &mut self,
        domain: SwitchId,
        src: Hashed,
        dst: Hashed,
        member: MemberId,
        now: u32,
        refresh_after: u32,
    ) -> Option<(bool, Option<MemberId>)> {
        let sw = self.real(domain)?;
        let sgen = *self.switch_gen.get(usize::from(sw.0))?;
        let mi = usize::from(member.0);
        if self.member_switch.get(mi) != Some(&sw.0) {
            return None;
        }
        let mgen = *self.member_gen.get(mi)?;
        let (i, v) = self.find_entry(src)?;
        if v_member(v) != member.0 || v_member_gen(v) != mgen || v_switch_gen(v) != sgen {
            return None;
        }
        let age = now.wrapping_sub(v_stamp(v)) & STAMP_MASK;
        let refreshed = age >= refresh_after.min(STAMP_MASK);
        if refreshed {
            // `put`'s refresh: this worker's stamp, learned here.
            if let Some(x) = self.mem.get_mut(i + 1) {
                *x = (v & !(u64::from(STAMP_MASK) << STAMP_SHIFT))
                    | (u64::from(now & STAMP_MASK) << STAMP_SHIFT)
                    | LOCAL;
            }
        }
        let Some(w) = self.find_value(dst) else {
            return Some((refreshed, None));
        };
        let out = v_member(w);
        let live = v_switch_gen(w) == sgen
            && self.member_gen.get(usize::from(out)) == Some(&v_member_gen(w));
        Some((refreshed, live.then_some(MemberId(out))))
    }

    /// Destination lookup: the member a live entry points at.
    #[inline]
    pub fn lookup(&self, domain: SwitchId, mac: u64) -> Option<MemberId> {
        self.lookup_hashed(domain, self.hash(domain, mac))
    }

    /// [`lookup`](Self::lookup) with a hash from [`hash`](Self::hash).
    #[inline(always)]
    pub fn lookup_hashed(&self, domain: SwitchId, h: Hashed) -> Option<MemberId> {
        let i = self.find(h)?;
        let v = self.mem[i + 1];
        let sw = self.real(domain)?;
        if self.is_live(sw, v) {
            Some(MemberId(v_member(v)))
        } else {
            None
        }
    }

    /// An entry's value; `local`: learned from a frame here (`LOCAL`).
    fn value(&self, sw: SwitchId, m: MemberId, now: u32, is_static: bool, local: bool) -> u64 {
        VALID
            | if is_static { STATIC } else { 0 }
            | if local { LOCAL } else { 0 }
            | (u64::from(now & STAMP_MASK) << STAMP_SHIFT)
            | (u64::from(self.switch_gen[usize::from(sw.0)]) << 32)
            | (u64::from(self.member_gen[usize::from(m.0)] & MEMBER_GEN_MASK) << 16)
            | u64::from(m.0)
    }

    /// Writes (`k`, `v`) at key index `i`, keeping slot 0's overflow hint.
    #[inline(always)]
    fn write(&mut self, i: usize, k: u64, v: u64) {
        self.mem[i] = k;
        self.mem[i + 1] = v | (self.mem[i + 1] & OVERFLOW);
    }

    /// The first empty or stale slot of bucket `b`.
    #[inline]
    fn free_in(&self, b: usize) -> Option<usize> {
        (0..BUCKET_ENTRIES).map(|e| self.slot(b, e)).find(|&i| {
            let v = self.mem[i + 1];
            v & VALID == 0 || !self.entry_live(self.mem[i], v)
        })
    }

    /// Claims slot `i` (empty or stale) and returns it.
    #[inline]
    fn claim(&mut self, i: usize) -> usize {
        if self.mem[i + 1] & VALID == 0 {
            self.used += 1;
        }
        i
    }

    #[inline]
    fn mark_overflow(&mut self, b: usize) {
        let i = self.slot(b, 0) + 1;
        self.mem[i] |= OVERFLOW;
    }

    /// A slot for a key known to be absent: an empty or stale slot of its
    /// first bucket, else of its second, else one freed by moving an entry
    /// of either to that entry's other bucket.
    fn place(&mut self, h: Hashed) -> Option<usize> {
        let h_alt = self.alt(h);
        if let Some(i) = self.free_in(self.home(h)) {
            return Some(self.claim(i));
        }
        if h_alt == self.home(h) {
            return None;
        }
        if let Some(i) = self.free_in(h_alt) {
            self.mark_overflow(self.home(h));
            return Some(self.claim(i));
        }
        for b in [self.home(h), h_alt] {
            for e in 0..BUCKET_ENTRIES {
                let i = self.slot(b, e);
                let vk = self.mem[i];
                let vh = self.hash_key(vk);
                let vh_alt = self.alt(vh);
                let other = if b == self.home(vh) {
                    vh_alt
                } else {
                    self.home(vh)
                };
                if other == b {
                    continue;
                }
                let Some(j) = self.free_in(other) else {
                    continue;
                };
                let j = self.claim(j);
                let vv = self.mem[i + 1] & !OVERFLOW;
                self.write(j, vk, vv);
                if other == vh_alt {
                    self.mark_overflow(self.home(vh));
                }
                if b == h_alt {
                    self.mark_overflow(self.home(h));
                }
                // Slot `i` stays valid: it takes the new key.
                return Some(i);
            }
        }
        None
    }

    /// Account for a new live entry of `m` in `sw`.
    fn count_add(&mut self, sw: SwitchId, m: MemberId) {
        self.live += 1;
        self.switch_count[usize::from(sw.0)] += 1;
        self.member_count[usize::from(m.0)] += 1;
    }

    /// Common path of learn/install. `refresh` is `Some(refresh_after)` when
    /// learning (limit/static/refresh rules apply); `None` to overwrite.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn put(
        &mut self,
        domain: SwitchId,
        h: Hashed,
        m: MemberId,
        now: u32,
        refresh: Option<u32>,
        is_static: bool,
    ) -> Learn {
        let learning = refresh.is_some();
        let Some(sw) = self.real(domain) else {
            return Learn::Invalid;
        };
        if mac_is_group(h.key & MAC_MASK) || !self.ids_ok(sw, m) {
            return Learn::Invalid;
        }
        if self.member_switch[usize::from(m.0)] != sw.0 {
            self.set_member_switch(m, sw);
        }
        let found = self.find(h);
        if let Some(i) = found {
            let v = self.mem[i + 1];
            if self.is_live(sw, v) {
                if v_member(v) == m.0 {
                    if let Some(refresh_after) = refresh {
                        let age = now.wrapping_sub(v_stamp(v)) & STAMP_MASK;
                        if age >= refresh_after.min(STAMP_MASK) {
                            // Seen here now: this worker's stamp (an
                            // installed entry becomes one learned here).
                            let nv = (v & !(u64::from(STAMP_MASK) << STAMP_SHIFT))
                                | (u64::from(now & STAMP_MASK) << STAMP_SHIFT)
                                | LOCAL;
                            self.mem[i + 1] = nv;
                            return Learn::Refresh;
                        }
                        return Learn::Unchanged;
                    }
                    let nv = self.value(sw, m, now, is_static, learning);
                    self.write(i, h.key, nv);
                    return Learn::Unchanged;
                }
                if learning && v & STATIC != 0 {
                    return Learn::StaticConflict;
                }
                if learning && self.member_at_limit(m) {
                    return Learn::MemberLimit;
                }
                // Move within the switch: switch count unchanged.
                let from = MemberId(v_member(v));
                if let Some(c) = self.member_count.get_mut(usize::from(from.0)) {
                    *c = c.saturating_sub(1);
                }
                self.member_count[usize::from(m.0)] += 1;
                let nv = self.value(sw, m, now, is_static, learning);
                self.write(i, h.key, nv);
                return Learn::Moved { from };
            }
        }
        if learning && self.at_limit(sw) {
            return Learn::SwitchLimit;
        }
        if learning && self.member_at_limit(m) {
            return Learn::MemberLimit;
        }
        if self.live >= self.capacity {
            return Learn::TableFull;
        }
        // A stale entry of the key is overwritten in place; otherwise an
        // empty or stale slot of its buckets.
        let i = match found {
            Some(i) => i,
            None => match self.place(h) {
                Some(i) => i,
                None => return Learn::TableFull,
            },
        };
        let nv = self.value(sw, m, now, is_static, learning);
        self.write(i, h.key, nv);
        self.count_add(sw, m);
        Learn::New
    }

    #[inline]
    fn at_limit(&self, sw: SwitchId) -> bool {
        let si = usize::from(sw.0);
        let limit = self.switch_limit[si];
        limit != 0 && self.switch_count[si] >= limit
    }

    /// Learn source MAC `mac` on `member` of switch `sw` at coarse time `now`
    /// (seconds). `refresh_after`: a live entry on the same member whose
    /// stamp is at least this many seconds old (at most 8191) is refreshed
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
        let h = self.hash(sw, mac);
        self.put(sw, h, member, now, Some(refresh_after), false)
    }

    /// [`learn`](Self::learn) with a hash from [`hash`](Self::hash).
    #[inline(always)]
    pub fn learn_hashed(
        &mut self,
        sw: SwitchId,
        h: Hashed,
        member: MemberId,
        now: u32,
        refresh_after: u32,
    ) -> Learn {
        self.put(sw, h, member, now, Some(refresh_after), false)
    }

    /// True exactly when [`learn_hashed`](Self::learn_hashed) with these
    /// arguments would answer [`Learn::Unchanged`] and write nothing: the
    /// key is live on `member`, in the member's switch, and its stamp is
    /// younger than `refresh_after`. Reads only; the fast path
    /// (`Worker::fast_unicast`) learns a source this way and leaves
    /// every other answer to `learn_hashed`.
    #[inline(always)]
    pub fn learned_fresh(
        &self,
        domain: SwitchId,
        h: Hashed,
        member: MemberId,
        now: u32,
        refresh_after: u32,
    ) -> bool {
        let Some(sw) = self.real(domain) else {
            return false;
        };
        // A group source never has an entry (`put` refuses it), so the
        // key compare below rules it out; the member must be known and
        // already in this switch (else `put` records the move).
        if self.member_switch.get(usize::from(member.0)) != Some(&sw.0) {
            return false;
        }
        let Some(i) = self.find(h) else {
            return false;
        };
        let v = self.mem[i + 1];
        let age = now.wrapping_sub(v_stamp(v)) & STAMP_MASK;
        v_member(v) == member.0 && self.is_live(sw, v) && age < refresh_after.min(STAMP_MASK)
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
        let h = self.hash(sw, mac);
        self.put(sw, h, member, now, None, is_static)
    }

    /// Remove an entry; true if a live entry was removed.
    pub fn remove(&mut self, domain: SwitchId, mac: u64) -> bool {
        let Some(sw) = self.real(domain) else {
            return false;
        };
        let h = self.hash(domain, mac);
        let Some(i) = self.find(h) else {
            return false;
        };
        let v = self.mem[i + 1];
        let live = self.is_live(sw, v);
        self.clear(i, live.then_some(sw));
        live
    }

    /// Empties the valid slot whose key word is at `i`; `live`: the
    /// entry was live in that switch, and leaves its counts.
    fn clear(&mut self, i: usize, live: Option<SwitchId>) {
        let v = self.mem[i + 1];
        self.mem[i] = 0;
        self.mem[i + 1] &= OVERFLOW;
        self.used -= 1;
        let Some(sw) = live else {
            return;
        };
        self.live = self.live.saturating_sub(1);
        if let Some(c) = self.switch_count.get_mut(usize::from(sw.0)) {
            *c = c.saturating_sub(1);
        }
        if let Some(c) = self.member_count.get_mut(usize::from(v_member(v))) {
            *c = c.saturating_sub(1);
        }
    }

    /// Seconds after which [`expire_local`](Self::expire_local) removes an
    /// entry of switch `sw` learned here; 0 is never. More than
    /// [`MAX_LOCAL_AGING`] is cut to it (what the stamps hold), never
    /// turned off: see [`local_aging`].
    pub fn set_switch_aging(&mut self, sw: SwitchId, secs: u32) {
        if let Some(a) = self.switch_aging.get_mut(usize::from(sw.0)) {
            *a = secs.min(MAX_LOCAL_AGING);
        }
    }

    /// Ages `n` buckets from bucket `from` on (wrapping around): the live
    /// entries learned here (`LOCAL`, not static) whose stamp is more than
    /// their switch's limit old at `now` (seconds) are offered to `tell`
    /// (learning domain, MAC, member) and removed if it says so (false:
    /// kept for the next pass, e.g. the event ring is full). Returns the
    /// bucket to go on from and how many entries were removed. A sweep
    /// over the table in slices: O(n), no allocation.
    pub fn expire_local(
        &mut self,
        from: usize,
        n: usize,
        now: u32,
        mut tell: impl FnMut(SwitchId, u64, MemberId) -> bool,
    ) -> (usize, usize) {
        let mut removed = 0;
        let mut b = from & self.mask;
        for _ in 0..n.min(self.mask + 1) {
            let Some(w) = self.words(b) else {
                break;
            };
            // Most buckets have no entry learned here: one pass over the
            // four values first.
            let local = |e: usize| w[2 * e + 1] & (VALID | STATIC | LOCAL) == VALID | LOCAL;
            if !(0..BUCKET_ENTRIES).any(local) {
                b = (b + 1) & self.mask;
                continue;
            }
            for e in 0..BUCKET_ENTRIES {
                let i = self.slot(b, e);
                let (k, v) = (self.mem[i], self.mem[i + 1]);
                if v & (VALID | STATIC | LOCAL) != VALID | LOCAL {
                    continue;
                }
                let Some(sw) = self.real(SwitchId((k >> 48) as u16)) else {
                    continue;
                };
                let limit = self
                    .switch_aging
                    .get(usize::from(sw.0))
                    .copied()
                    .unwrap_or(0);
                if limit == 0 || !self.is_live(sw, v) {
                    continue;
                }
                if now.wrapping_sub(v_stamp(v)) & STAMP_MASK > limit
                    && tell(
                        SwitchId((k >> 48) as u16),
                        k & MAC_MASK,
                        MemberId(v_member(v)),
                    )
                {
                    self.clear(i, Some(sw));
                    removed += 1;
                }
            }
            b = (b + 1) & self.mask;
        }
        (b, removed)
    }

    /// Live entries: `(domain, mac_u64, member, stamp, is_static)`, in no
    /// particular order (the domain is the switch id unless VLAN-aware;
    /// the stamp is the learn/refresh time in seconds modulo 8192).
    pub fn iter(&self) -> impl Iterator<Item = (SwitchId, u64, MemberId, u32, bool)> + '_ {
        (0..=self.mask)
            .flat_map(move |b| (0..BUCKET_ENTRIES).map(move |e| self.slot(b, e)))
            .filter_map(move |i| {
                let (k, v) = (self.mem[i], self.mem[i + 1]);
                if v & VALID != 0 && self.entry_live(k, v) {
                    Some((
                        SwitchId((k >> 48) as u16),
                        k & MAC_MASK,
                        MemberId(v_member(v)),
                        v_stamp(v),
                        v & STATIC != 0,
                    ))
                } else {
                    None
                }
            })
    }
}

const _: () = assert!(BUCKET_BYTES == CACHE_LINE);

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
    fn bucket_is_a_cache_line() {
        let t = table();
        assert_eq!(BUCKET_BYTES, 64);
        assert_eq!(t.bucket_hint(t.hash(S0, A)) as *const u64 as usize % 64, 0);
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
    fn stale_entries_are_overwritten_in_place() {
        let mut t = table();
        t.learn(S0, A, M1, 1, 1);
        t.learn(S0, B, M2, 1, 1);
        t.learn(S1, C, M3, 1, 1);
        t.flush_member(M1);
        t.flush_switch(S1);
        assert_eq!(t.occupied(), 3, "flushes leave stale slots");
        assert_eq!(t.len(), 1);
        // The stale key itself is rewritten in its slot.
        assert_eq!(t.learn(S1, C, M3, 2, 1), Learn::New);
        assert_eq!(t.occupied(), 3);
        assert_eq!(t.lookup(S0, B), Some(M2));
        check_counts(&t);
    }

    /// Keys with the same two buckets, found by brute force.
    fn colliding(t: &MacTable, n: usize) -> Vec<u64> {
        let h = t.hash(S0, A);
        (0..1u64 << 24)
            .map(|i| 0x0200_0000_0000 | i)
            .filter(|&m| {
                let g = t.hash(S0, m);
                (t.home(g), t.alt(g)) == (t.home(h), t.alt(h))
            })
            .take(n)
            .collect()
    }

    #[test]
    fn two_choice_buckets() {
        // 64 entries → 32 buckets of 4 slots.
        let mut t = MacTable::with_seed(64, 8, 4, 0, [7, 9]);
        assert_eq!(t.buckets(), 32);
        let keys = colliding(&t, 9);
        assert_eq!(keys.len(), 9);
        for &k in &keys[..8] {
            assert_eq!(t.learn(S0, k, M1, 1, 1), Learn::New);
        }
        // Both buckets are full of live entries whose other bucket is the
        // same pair: no room, and no rehash or eviction.
        assert_eq!(t.learn(S0, keys[8], M1, 1, 1), Learn::TableFull);
        // Keys in their second bucket are still found (overflow hint).
        for &k in &keys[..8] {
            assert_eq!(t.lookup(S0, k), Some(M1), "{k:x}");
        }
        assert_eq!(t.lookup(S0, keys[8]), None);
        // A removed slot is reused.
        assert!(t.remove(S0, keys[3]));
        assert_eq!(t.lookup(S0, keys[3]), None);
        assert_eq!(t.learn(S0, keys[8], M1, 1, 1), Learn::New);
        assert_eq!(t.lookup(S0, keys[8]), Some(M1));
        // A stale entry in the buckets is evicted in place.
        t.install(S0, keys[0], M2, 1, false);
        t.flush_member(M1);
        assert_eq!(t.len(), 1);
        assert_eq!(t.occupied(), 8);
        assert_eq!(t.learn(S0, keys[3], M3, 1, 1), Learn::New);
        assert_eq!(t.occupied(), 8, "took a stale slot");
        assert_eq!(t.lookup(S0, keys[0]), Some(M2));
        assert_eq!(t.lookup(S0, keys[3]), Some(M3));
        check_counts(&t);
    }

    #[test]
    fn displacement_makes_room() {
        // Fill both buckets of a key with entries that have room elsewhere:
        // the new key still gets in, and everything stays findable.
        let mut t = MacTable::with_seed(64, 8, 4, 0, [11, 13]);
        let h = t.hash(S0, A);
        let mut placed = Vec::new();
        for i in 0..1u64 << 20 {
            let m = 0x0200_0000_0000 | i;
            let g = t.hash(S0, m);
            // First bucket is one of the pair, second is elsewhere.
            if (t.home(g) == t.home(h) || t.home(g) == t.alt(h))
                && t.alt(g) != t.home(h)
                && t.alt(g) != t.alt(h)
            {
                placed.push(m);
                if placed.len() == 8 {
                    break;
                }
            }
        }
        assert_eq!(placed.len(), 8);
        for &m in &placed {
            assert_eq!(t.learn(S0, m, M1, 1, 1), Learn::New);
        }
        assert_eq!(t.learn(S0, A, M2, 1, 1), Learn::New);
        assert_eq!(t.lookup(S0, A), Some(M2));
        for &m in &placed {
            assert_eq!(t.lookup(S0, m), Some(M1), "{m:x}");
        }
        check_counts(&t);
    }

    #[test]
    fn fills_to_capacity() {
        const CAP: usize = 1 << 16;
        let mut t = MacTable::new(CAP, 8, 4);
        let mut x = 0x1234_5678_9abc_def0u64;
        let mut macs = Vec::with_capacity(CAP);
        while macs.len() < CAP {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mac = x & 0xfeff_ffff_ffff; // unicast
            if t.learn(S0, mac, M1, 1, 1) == Learn::New {
                macs.push(mac);
            } else {
                assert_eq!(t.lookup(S0, mac), Some(M1), "only a repeat may fail");
            }
        }
        assert_eq!(t.len(), CAP);
        assert!(macs.iter().all(|&m| t.lookup(S0, m) == Some(M1)));
        // At capacity: the live limit.
        assert_eq!(t.learn(S0, 0x0200_0000_0001, M1, 1, 1), Learn::TableFull);
    }

    #[test]
    fn seeds_differ() {
        let a = MacTable::with_seed(1024, 8, 4, 0, [1, 3]);
        let b = MacTable::with_seed(1024, 8, 4, 0, [2, 5]);
        let same = (0..256u64)
            .filter(|&m| a.home(a.hash(S0, A + m)) == b.home(b.hash(S0, A + m)))
            .count();
        assert!(same < 32, "{same} of 256 keys share a home bucket");
        let r = MacTable::new(1024, 8, 4);
        assert_ne!(r.seed, MacTable::new(1024, 8, 4).seed, "random seed");
    }

    /// `expire_local` ages what only this table knows of: entries learned
    /// here (their learn event may never have reached the control core),
    /// not those the control core installed or pinned, and only past the
    /// switch's limit, from any slice of buckets, the counts kept.
    #[test]
    fn expire_local_ages_only_learned_entries() {
        let yes = |_, _, _| true;
        let mut t = table();
        t.set_switch_aging(S0, 10);
        assert_eq!(t.learn(S0, A, M1, 100, 1), Learn::New);
        assert_eq!(t.install(S0, B, M2, 100, false), Learn::New);
        assert_eq!(t.install(S0, C, M3, 100, true), Learn::New);
        assert_eq!(
            t.learn(S1, A, MemberId(4), 100, 1),
            Learn::New,
            "S1: no limit"
        );
        let all = t.buckets();
        // At the limit: nothing yet.
        assert_eq!(t.expire_local(0, all, 110, yes), (0, 0));
        assert_eq!(t.len(), 4);
        // In slices of one bucket, from the middle.
        let mut removed = 0;
        let mut b = all / 2;
        for _ in 0..all {
            let (next, r) = t.expire_local(b, 1, 111, yes);
            assert_eq!(next, (b + 1) % all);
            (b, removed) = (next, removed + r);
        }
        assert_eq!(removed, 1);
        assert_eq!(t.lookup(S0, A), None);
        assert_eq!(
            t.lookup(S0, B),
            Some(M2),
            "installed: the control core ages it"
        );
        assert_eq!(t.lookup(S0, C), Some(M3), "static");
        assert_eq!(t.member_count(M1), 0);
        check_counts(&t);
        // A refresh is a sighting here: an installed entry becomes local.
        assert_eq!(t.learn(S0, B, M2, 105, 1), Learn::Refresh);
        assert_eq!(t.expire_local(0, all, 115, yes), (0, 0));
        assert_eq!(t.expire_local(0, all, 116, yes), (0, 1));
        assert_eq!(t.lookup(S0, B), None);
        // The stamp wraps at 8192 s: the age is taken modulo that.
        t.set_switch_aging(S0, 100);
        assert_eq!(t.learn(S0, A, M1, 8190, 1), Learn::New);
        assert_eq!(t.expire_local(0, all, 8192 + 50, yes), (0, 0));
        assert_eq!(t.expire_local(0, all, 8192 + 99, yes), (0, 1));
        // Limits too long for the stamp are cut to what it holds.
        t.set_switch_aging(S0, MAX_LOCAL_AGING + 1);
        assert_eq!(t.learn(S0, A, M1, 0, 1), Learn::New);
        assert_eq!(t.expire_local(0, all, MAX_LOCAL_AGING, yes), (0, 0));
        assert_eq!(t.expire_local(0, all, MAX_LOCAL_AGING + 1, yes), (0, 1));
        assert_eq!(t.learn(S0, A, M1, 0, 1), Learn::New);
        // Removed only once told: a refusal (a full event ring) keeps the
        // entry for the next pass.
        t.set_switch_aging(S0, 10);
        assert_eq!(t.expire_local(0, all, 20, |_, _, _| false), (0, 0));
        assert_eq!(t.lookup(S0, A), Some(M1));
        let mut told = Vec::new();
        let r = t.expire_local(0, all, 20, |d, mac, m| {
            told.push((d, mac, m));
            true
        });
        assert_eq!(r, (0, 1));
        assert_eq!(told, [(S0, A, M1)]);
        check_counts(&t);
    }

    #[test]
    fn generation_wrap_sweeps_stale_entries() {
        let mut t = table();
        t.learn(S0, A, M1, 1, 1);
        t.learn(S0, B, M2, 1, 1);
        let g = t.member_gen[1];
        for _ in 0..=u16::MAX {
            t.flush_member(M1);
        }
        // 65536 flushes: M1's generation is back where A was written.
        assert_eq!(t.member_gen[1], g);
        assert_eq!(t.lookup(S0, A), None, "stale entry must not revive");
        assert_eq!(t.occupied(), 1);
        assert_eq!(t.member_count(M1), 0);
        for _ in 0..=u16::MAX {
            t.flush_switch(S0);
        }
        assert_eq!(t.lookup(S0, B), None);
        assert_eq!(t.occupied(), 0);
        assert_eq!(t.learn(S0, A, M1, 2, 1), Learn::New);
        check_counts(&t);
    }

    /// Churns ten times the capacity in distinct MACs through learning,
    /// aging (remove), member and switch flushes: the table keeps working
    /// and its memory does not move or grow. (`tests/mactable_alloc.rs`
    /// also counts allocator calls during the same churn: none.)
    #[test]
    fn local_aging_follows_the_switch_and_is_cut_to_the_stamps() {
        assert_eq!(local_aging(0, 1), 0, "a switch that never ages");
        assert_eq!(local_aging(300, 1), 303);
        assert_eq!(local_aging(300, 30), 332);
        assert_eq!(local_aging(4093, 0), 4095);
        // Longer agings: cut to what the stamps hold, never off.
        assert_eq!(local_aging(4094, 1), MAX_LOCAL_AGING);
        assert_eq!(local_aging(14_400, 1), MAX_LOCAL_AGING);
        assert_eq!(local_aging(u32::MAX, u32::MAX), MAX_LOCAL_AGING);
        // What the table does with it: an entry learned here ages.
        let mut t = MacTable::new(64, 8, 4);
        t.set_switch_aging(S0, local_aging(14_400, 1));
        assert_eq!(t.learn(S0, A, M1, 0, 1), Learn::New);
        let mut aged = 0;
        let (_, n) = t.expire_local(0, t.buckets(), MAX_LOCAL_AGING, |_, _, _| {
            aged += 1;
            true
        });
        assert_eq!((n, aged), (0, 0), "not before its time");
        let (_, n) = t.expire_local(0, t.buckets(), MAX_LOCAL_AGING + 1, |_, _, _| {
            aged += 1;
            true
        });
        assert_eq!((n, aged), (1, 1));
    }

    #[test]
    fn churn_does_not_grow() {
        const CAP: usize = 1024;
        let mut t = MacTable::new(CAP, 8, 4);
        let bytes = t.bytes();
        let allocated = t.mem.capacity();
        let ptr = t.storage().as_ptr();
        let mut full = 0;
        for round in 0..10u64 {
            for i in 0..CAP as u64 {
                let mac = 0x0200_0000_0000 | (round << 20) | i;
                let m = MemberId(1 + (i % 6) as u16);
                match t.learn(S0, mac, m, round as u32, 5) {
                    Learn::New => {}
                    Learn::TableFull => full += 1,
                    other => panic!("{other:?}"),
                }
            }
            match round % 3 {
                // Aging: the control core removes every entry.
                0 => {
                    for i in 0..CAP as u64 {
                        t.remove(S0, 0x0200_0000_0000 | (round << 20) | i);
                    }
                }
                1 => (1..7).for_each(|m| t.flush_member(MemberId(m))),
                _ => t.flush_switch(S0),
            }
            assert_eq!(t.len(), 0);
            check_counts(&t);
        }
        // Half load, two choices and displacement: never full.
        assert_eq!(full, 0);
        assert_eq!(t.bytes(), bytes);
        assert_eq!(t.mem.capacity(), allocated);
        assert_eq!(t.storage().as_ptr(), ptr);
    }

    #[test]
    fn footprint_per_entry() {
        let t = MacTable::new(1 << 16, 64, 4);
        assert_eq!(t.buckets(), 1 << 15);
        // 2 slots of 16 bytes per entry.
        assert!(
            t.bytes() / t.capacity() <= 33,
            "{}",
            t.bytes() / t.capacity()
        );
    }

    #[test]
    fn capacity_full() {
        let mut t = MacTable::new(4, 8, 4);
        let bytes = t.bytes();
        for i in 0..4u64 {
            assert_eq!(t.learn(S0, A + (i << 8), M1, 1, 1), Learn::New);
        }
        assert_eq!(t.learn(S0, C, M2, 1, 1), Learn::TableFull);
        assert_eq!(t.len(), 4);
        // Existing entries still refresh/move when full.
        assert_eq!(t.learn(S0, A, M2, 1, 1), Learn::Moved { from: M1 });
        // Flushing makes room: stale entries do not count.
        t.flush_member(M1);
        assert_eq!(t.occupied(), 4);
        assert_eq!(t.learn(S0, C, M2, 1, 1), Learn::New);
        assert!(t.occupied() <= 5);
        check_counts(&t);
        assert_eq!(t.install(S0, B, M2, 1, false), Learn::New);
        assert_eq!(t.bytes(), bytes, "no reallocation");
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
        assert_eq!(t.occupied(), 3);
        assert!(!t.remove(d5, mac));
        assert_eq!(t.occupied(), 2);
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

    /// A xorshift generator for the random-step tests: `rnd(n)` in `0..n`.
    fn xorshift() -> impl FnMut(u64) -> u64 {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        move |n| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        }
    }

    /// The MACs of the random-step tests: three hosts, two more, and the
    /// broadcast address (a group source, which learning refuses).
    const RANDOM_MACS: [u64; 6] = [
        A,
        B,
        C,
        0x0200_0000_0001,
        0x0200_0000_0002,
        0xffff_ffff_ffff,
    ];

    /// `refresh_then_lookup` is `learn_hashed` followed by
    /// `lookup_hashed` whenever it answers, and writes nothing when it
    /// does not: two tables with one seed in lockstep, one driven by
    /// `refresh_then_lookup` (then `learn_hashed` when it says None, as the
    /// worker's full rules do), the other by the two calls, must hold the
    /// same words after every step.
    #[test]
    fn refresh_then_lookup_is_learn_then_lookup() {
        let seed = [0x1234_5678_9abc_def0, 0x0fed_cba9_8765_4321];
        let mut t = MacTable::with_seed(256, 8, 4, 2, seed);
        let mut u = MacTable::with_seed(256, 8, 4, 2, seed);
        for x in [&mut t, &mut u] {
            x.set_domain(SwitchId(4), S0);
            x.set_domain(SwitchId(5), S1);
        }
        let mut rnd = xorshift();
        let macs = RANDOM_MACS;
        let mut now = 0u32;
        let (mut refreshed_n, mut fresh_n, mut found) = (0, 0, 0);
        for _ in 0..200_000 {
            let domain = SwitchId([0, 1, 2, 4, 5, 7][rnd(6) as usize]);
            let mac = macs[rnd(6) as usize];
            let m = MemberId(rnd(10) as u16);
            match rnd(100) {
                0..=69 => {
                    let refresh = [0, 1, 5, 9000][rnd(4) as usize];
                    let dmac = macs[rnd(6) as usize];
                    let (h, hd) = (t.hash(domain, mac), t.hash(domain, dmac));
                    let before = t.storage().to_vec();
                    let fast = t.refresh_then_lookup(domain, h, hd, m, now, refresh);
                    let r = u.learn_hashed(domain, h, m, now, refresh);
                    let out = u.lookup_hashed(domain, hd);
                    match fast {
                        Some((refreshed, dst)) => {
                            let want = if refreshed {
                                Learn::Refresh
                            } else {
                                Learn::Unchanged
                            };
                            assert_eq!(r, want);
                            assert_eq!(dst, out);
                            refreshed_n += usize::from(refreshed);
                            fresh_n += usize::from(!refreshed);
                            found += usize::from(dst.is_some());
                        }
                        None => {
                            assert_eq!(t.storage(), &before[..], "None wrote");
                            assert_ne!(r, Learn::Refresh);
                            t.learn_hashed(domain, h, m, now, refresh);
                        }
                    }
                }
                70..=79 => {
                    let s = rnd(2) == 0;
                    t.install(domain, mac, m, now, s);
                    u.install(domain, mac, m, now, s);
                }
                80..=87 => {
                    t.remove(domain, mac);
                    u.remove(domain, mac);
                }
                88..=89 => {
                    t.flush_member(m);
                    u.flush_member(m);
                }
                90..=93 => {
                    let s = SwitchId(rnd(2) as u16);
                    t.flush_switch(s);
                    u.flush_switch(s);
                }
                _ => now = now.wrapping_add([1, 2, 7, 5000][rnd(4) as usize]),
            }
            assert_eq!(t.storage(), u.storage());
            assert_eq!(t.member_switch(m), u.member_switch(m));
        }
        // Each answer was given often enough to mean something.
        assert!(refreshed_n > 500, "{refreshed_n}");
        assert!(fresh_n > 500, "{fresh_n}");
        assert!(found > 100, "{found}");
    }

    /// `learned_fresh` says yes exactly when `learn_hashed` would answer
    /// `Unchanged` and change nothing (no entry, count or member's
    /// switch), and `fresh_then_lookup` is it followed by
    /// `lookup_hashed`, over random learns, installs (static too), removals,
    /// flushes, VLAN domains, out-of-range members, group sources and a
    /// clock that jumps and wraps.
    #[test]
    fn learned_fresh_is_learn_unchanged() {
        let mut t = MacTable::new(256, 8, 4);
        // Domains 4 and 5: VLAN domains of switches 0 and 1.
        t.set_domain(SwitchId(4), S0);
        t.set_domain(SwitchId(5), S1);
        let mut rnd = xorshift();
        let macs = RANDOM_MACS;
        let mut now = 0u32;
        let (mut yes, mut found) = (0, 0);
        for _ in 0..200_000 {
            let domain = SwitchId([0, 1, 2, 4, 5, 7][rnd(6) as usize]);
            let mac = macs[rnd(6) as usize];
            let m = MemberId(rnd(10) as u16);
            match rnd(100) {
                0..=69 => {
                    let refresh = [0, 1, 5, 9000][rnd(4) as usize];
                    let h = t.hash(domain, mac);
                    let fresh = t.learned_fresh(domain, h, m, now, refresh);
                    // And with a destination: the lookup after it.
                    let dmac = macs[rnd(6) as usize];
                    let hd = t.hash(domain, dmac);
                    let both = fresh.then(|| t.lookup_hashed(domain, hd)).flatten();
                    assert_eq!(t.fresh_then_lookup(domain, h, hd, m, now, refresh), both);
                    found += usize::from(both.is_some());
                    let before = t.storage().to_vec();
                    let ms = t.member_switch(m);
                    let r = t.learn_hashed(domain, h, m, now, refresh);
                    let kept = t.storage() == &before[..] && t.member_switch(m) == ms;
                    assert_eq!(fresh, r == Learn::Unchanged && kept, "{r:?}");
                    yes += usize::from(fresh);
                }
                70..=79 => {
                    t.install(domain, mac, m, now, rnd(2) == 0);
                }
                80..=87 => {
                    t.remove(domain, mac);
                }
                88..=89 => t.flush_member(m),
                90..=93 => t.flush_switch(SwitchId(rnd(2) as u16)),
                _ => now = now.wrapping_add([1, 2, 7, 5000][rnd(4) as usize]),
            }
        }
        // Yes was said often enough to mean something.
        assert!(yes > 500, "{yes}");
        assert!(found > 100, "{found}");
        // A fresh source and a destination stale by a flush of its
        // switch or of its member: no answer.
        let mut t = MacTable::new(256, 8, 4);
        let (ha, hb) = (t.hash(S0, A), t.hash(S0, B));
        assert_eq!(t.learn(S0, B, M2, 1, 5), Learn::New);
        assert_eq!(t.learn(S0, A, M1, 1, 5), Learn::New);
        assert_eq!(t.fresh_then_lookup(S0, ha, hb, M1, 2, 5), Some(M2));
        t.flush_switch(S0);
        assert_eq!(t.learn(S0, A, M1, 3, 5), Learn::New);
        assert_eq!(t.fresh_then_lookup(S0, ha, hb, M1, 4, 5), None);
        assert_eq!(t.learn(S0, B, M2, 4, 5), Learn::New);
        assert_eq!(t.fresh_then_lookup(S0, ha, hb, M1, 4, 5), Some(M2));
        t.flush_member(M2);
        assert_eq!(t.fresh_then_lookup(S0, ha, hb, M1, 4, 5), None);
        // And a source gone stale the same ways, or old.
        assert_eq!(t.learn(S0, B, M2, 4, 5), Learn::New);
        assert_eq!(t.fresh_then_lookup(S0, ha, hb, M1, 8, 5), None);
        assert_eq!(t.fresh_then_lookup(S0, ha, hb, M2, 4, 5), None);
        t.flush_member(M1);
        assert_eq!(t.fresh_then_lookup(S0, ha, hb, M1, 4, 5), None);
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
