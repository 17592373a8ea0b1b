//! Per-switch L2 policy on the inner Ethernet frame: TCP MSS clamping, VLAN
//! handling and the MTU policy.
//!
//! Everything here that takes a frame runs per packet on the fast path: no
//! allocation, no panic on any input, no formatting, O(1) (bounded loops
//! only). [`VlanDomains`] allocates only in [`VlanDomains::new`].
//!
//! # MSS clamping
//!
//! [`clamp_mss`] finds a TCP SYN or SYN-ACK inside 0, 1 or 2 VLAN tags
//! (0x8100, 0x88a8, 0x9100) over IPv4 (any IHL; non-fragments and first
//! fragments only) or IPv6 (hop-by-hop, routing and destination-options
//! extension headers are skipped, at most [`MAX_IPV6_EXT`] of them; a
//! fragment header is followed only for a first fragment), and lowers its
//! MSS option to [`mss_ceiling`]. The TCP checksum is updated incrementally
//! (RFC 1624) by [`crate::wire::tcp::clamp_mss`], so the payload is never
//! summed, and first fragments clamp correctly although the segment is
//! incomplete. The MSS is only ever lowered.
//!
//! # VLAN modes and VLAN-aware learning
//!
//! [`VlanMode`] is per switch; [`vlan_verdict`] says whether a frame passes
//! and in which VLAN it is learned.
//!
//! In [`VlanMode::VlanAware`] a MAC is learned per (switch, VLAN, MAC). The
//! MAC table key stays `(id u16) << 48 | mac` (`domain << 48 | mac`); the
//! 16-bit field holds a *learning domain*, not a switch id:
//!
//! * domain `sw` (the switch id itself) is the switch's VLAN 0: untagged and
//!   priority-tagged frames, and every frame of a switch in the other modes;
//!   nothing changes for switches that are not VLAN-aware;
//! * each other (switch, VID) pair in use gets a dense domain id
//!   `>= max_switches`, allocated by the control core in its
//!   [`VlanDomains`] ([`VlanDomains::alloc`]) and sent to the workers, whose
//!   replica is programmed with [`VlanDomains::install`]. Workers only call
//!   [`VlanDomains::domain`] (one hash lookup) per packet.
//!
//! Packing (switch, VID) into the 16-bit field by hashing would collide
//! (two VLANs would share a table), and 16 + 12 bits do not fit; a dense id
//! cannot collide, costs one lookup and keeps
//! [`MacTable`](super::MacTable) entries and keys unchanged. A VLAN without a domain yet (not allocated by the
//! control core, or the pool is full) must not fall back to domain `sw`,
//! which would mix VLANs: the worker skips learning, floods the frame as
//! unknown unicast and tells the control core (like a new MAC), which
//! allocates the domain and programs the workers.
//!
//! **The MAC table must know the domain's switch.** `MacTable` binds each
//! member to one switch id and flushes the member when it learns under
//! another one, and counts/limits per id. A member carries several VLANs of
//! the same switch, so `MacTable` needs a `domain → switch` map (identity
//! for ids `< max_switches`) and must use the *switch* for the member
//! binding, the MAC limit, the counters and the flush generation, and the
//! *domain* only in the key. `MacTable` does so: the control core maps
//! each domain to its switch (`MacTable::set_domain`), and VLAN-aware
//! switches learn per (VLAN, MAC) in the workers.
#![forbid(unsafe_code)]

use super::SwitchId;
use crate::wire::ethernet::{self, ethertype};
use crate::wire::ipv4::protocol;
use crate::wire::{tcp, vlan};
use hashbrown::HashMap;

/// IPv6 extension headers [`clamp_mss`] skips before giving up.
pub const MAX_IPV6_EXT: usize = 4;

/// Lowest MSS [`mss_ceiling`] returns (Linux `TCP_MIN_MSS`): clamping below
/// it would only make stacks ignore the option or stall.
pub const MIN_MSS: u16 = 88;

/// Per-switch MSS clamping setting (`mss_clamp` in the config).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum MssClamp {
    /// Never touch the MSS.
    Off,
    /// Clamp to what the egress pseudowire path carries ([`mss_ceiling`]).
    #[default]
    Auto,
    /// Clamp to this value (IPv4 and IPv6 alike).
    Fixed(u16),
}

impl MssClamp {
    /// Apply the setting to `frame`; `max_frame` as for [`clamp_mss`]
    /// (ignored for `Fixed`). `None` when `Off` (the frame is not read).
    #[inline]
    pub fn apply(self, frame: &mut [u8], max_frame: usize) -> Option<MssResult> {
        match self {
            MssClamp::Off => None,
            // Most frames are not TCP: say so without the call.
            _ if cannot_be_syn(frame) => Some(MssResult::NotTcpSyn),
            MssClamp::Auto => Some(clamp_mss(frame, max_frame)),
            MssClamp::Fixed(mss) => Some(clamp_mss_fixed(frame, mss)),
        }
    }
}

impl MssClamp {
    /// Whether the worker's clamping (`apply` on an IPv4 or IPv6 frame,
    /// `Auto` only once `max_frame` is known) might change `frame`:
    /// false when clamping is off or waits for the path, or when the
    /// quick test rules out a TCP SYN. The worker's fast path takes only
    /// frames for which this is false.
    #[inline(always)]
    pub fn may_change(self, frame: &[u8], max_frame: usize) -> bool {
        match self {
            MssClamp::Off => false,
            MssClamp::Auto if max_frame == 0 => false,
            _ => !cannot_be_syn(frame),
        }
    }
}

/// Outcome of [`clamp_mss`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MssResult {
    /// Not a TCP SYN/SYN-ACK we can parse (other protocol, non-first
    /// fragment, more than two tags, truncated or malformed headers, ...).
    NotTcpSyn,
    /// A SYN without a well-formed MSS option (or with malformed options).
    NoOption,
    /// The MSS option is already at or below the ceiling.
    Unchanged,
    /// The MSS option was lowered from `old` to `new`.
    Clamped { old: u16, new: u16 },
}

/// The MSS ceiling for a frame with `tags` VLAN tags and an IP header of
/// `ip_header_len` bytes (IPv4 IHL·4, or IPv6 40 + extension headers) when
/// the path carries inner frames of at most `max_frame` bytes (Ethernet
/// header included, no FCS): `max_frame − 14 − 4·tags − ip_header_len − 20`,
/// saturating, at least [`MIN_MSS`], at most 65535.
#[inline]
pub fn mss_ceiling(max_frame: usize, tags: u8, ip_header_len: usize) -> u16 {
    let c = max_frame
        .saturating_sub(ethernet::HEADER_LEN)
        .saturating_sub(vlan::HEADER_LEN * usize::from(tags))
        .saturating_sub(ip_header_len)
        .saturating_sub(tcp::HEADER_LEN);
    u16::try_from(c).unwrap_or(u16::MAX).max(MIN_MSS)
}

/// Where the TCP header of a SYN sits in a frame.
struct SynAt {
    /// Offset of the TCP header.
    tcp: usize,
    /// End of the IP packet (start of Ethernet padding, if any).
    end: usize,
    tags: u8,
    ip_header_len: usize,
}

#[inline]
fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at + 2)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

/// IPv4: `Some((header_len, total_len))` for a TCP non-fragment or first
/// fragment whose lengths fit the buffer.
#[inline]
fn ipv4_tcp(ip: &[u8]) -> Option<(usize, usize)> {
    let vihl = *ip.first()?;
    let hl = usize::from(vihl & 0x0f) * 4;
    let tl = usize::from(be16(ip, 2)?);
    if vihl >> 4 != 4 || hl < 20 || hl > tl || tl > ip.len() {
        return None;
    }
    // Fragment offset must be 0 (MF may be set: first fragment).
    if be16(ip, 6)? & 0x1fff != 0 || *ip.get(9)? != protocol::TCP {
        return None;
    }
    Some((hl, tl))
}

/// IPv6: `Some((header_len incl. extension headers, packet len))` when TCP
/// follows the fixed header and at most [`MAX_IPV6_EXT`] skippable
/// extension headers (hop-by-hop, routing, destination options, the
/// fragment header of a first fragment).
#[inline]
fn ipv6_tcp(ip: &[u8]) -> Option<(usize, usize)> {
    const HOP_BY_HOP: u8 = 0;
    const ROUTING: u8 = 43;
    const FRAGMENT: u8 = 44;
    const DEST_OPTS: u8 = 60;
    if *ip.first()? >> 4 != 6 {
        return None;
    }
    let end = 40 + usize::from(be16(ip, 4)?);
    if end > ip.len() {
        return None;
    }
    let mut nh = *ip.get(6)?;
    let mut off = 40;
    for _ in 0..=MAX_IPV6_EXT {
        match nh {
            protocol::TCP => return Some((off, end)),
            HOP_BY_HOP | ROUTING | DEST_OPTS => {
                let len = (usize::from(*ip.get(off + 1)?) + 1) * 8;
                nh = *ip.get(off)?;
                off += len;
            }
            FRAGMENT => {
                // Offset (13 bits) must be 0: first fragment or atomic.
                if be16(ip, off + 2)? & 0xfff8 != 0 {
                    return None;
                }
                nh = *ip.get(off)?;
                off += 8;
            }
            _ => return None,
        }
        if off > end {
            return None;
        }
    }
    None
}

/// A quick test, without parsing, that rules out most frames [`find_syn`]
/// would refuse: an untagged IPv4 frame whose protocol is not TCP, an
/// untagged IPv6 frame whose next header is neither TCP nor an extension
/// header `find_syn` skips, and frames too short for an IP header. Only
/// ever true when `find_syn(frame)` is None (tested below against it on
/// random frames).
#[inline(always)]
fn cannot_be_syn(frame: &[u8]) -> bool {
    let Some(h) = frame.get(..24) else {
        return true;
    };
    match u16::from_be_bytes([h[12], h[13]]) {
        ethertype::IPV4 => h[23] != protocol::TCP,
        ethertype::IPV6 => !matches!(h[20], protocol::TCP | 0 | 43 | 44 | 60),
        _ => false,
    }
}

/// Locate a TCP SYN (SYN or SYN-ACK; not with RST or FIN) in `frame`.
#[inline]
fn find_syn(frame: &[u8]) -> Option<SynAt> {
    let (l3, et, tags) = vlan::inner_offset(frame)?;
    let ip = frame.get(l3..)?;
    let (ip_header_len, ip_len) = match et {
        ethertype::IPV4 => ipv4_tcp(ip)?,
        ethertype::IPV6 => ipv6_tcp(ip)?,
        _ => return None,
    };
    if ip_header_len + tcp::HEADER_LEN > ip_len {
        return None;
    }
    let flags = *ip.get(ip_header_len + 13)?;
    let syn_bits = tcp::flags::SYN | tcp::flags::RST | tcp::flags::FIN;
    if flags & syn_bits != tcp::flags::SYN {
        return None;
    }
    Some(SynAt {
        tcp: l3 + ip_header_len,
        end: l3 + ip_len,
        tags,
        ip_header_len,
    })
}

#[inline]
fn clamp_at(frame: &mut [u8], at: &SynAt, ceiling: u16) -> MssResult {
    let Some(seg) = frame.get_mut(at.tcp..at.end) else {
        return MssResult::NotTcpSyn;
    };
    match tcp::clamp_mss(seg, ceiling) {
        None => MssResult::NoOption,
        Some((old, new)) if old == new => MssResult::Unchanged,
        Some((old, new)) => MssResult::Clamped { old, new },
    }
}

/// Clamp the MSS option of a TCP SYN/SYN-ACK in the inner Ethernet `frame`
/// (no FCS) to [`mss_ceiling`]`(max_frame, tags, ip_header_len)`, where
/// `max_frame` is the largest inner frame (header included, no FCS) the
/// egress pseudowire path carries. Only ever lowers the MSS; updates the
/// TCP checksum incrementally. Never panics; writes nothing unless it
/// returns [`MssResult::Clamped`].
#[inline]
pub fn clamp_mss(frame: &mut [u8], max_frame: usize) -> MssResult {
    let Some(at) = find_syn(frame) else {
        return MssResult::NotTcpSyn;
    };
    let ceiling = mss_ceiling(max_frame, at.tags, at.ip_header_len);
    clamp_at(frame, &at, ceiling)
}

/// Like [`clamp_mss`] with a fixed ceiling `mss` (`mss_clamp = N`).
#[inline]
pub fn clamp_mss_fixed(frame: &mut [u8], mss: u16) -> MssResult {
    let Some(at) = find_syn(frame) else {
        return MssResult::NotTcpSyn;
    };
    clamp_at(frame, &at, mss)
}

/// What to do with an inner frame too big for the egress path
/// (`mtu_policy` in the config).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum MtuPolicy {
    /// Drop it and count it.
    #[default]
    Drop,
    /// Send it in outer IPv4 fragments.
    Fragment,
}

/// Per-switch VLAN handling (`vlan_mode` in the config).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum VlanMode {
    /// Tagged frames (any tag, priority tags included) are dropped, like the
    /// original Python LAS.
    #[default]
    DropTagged,
    /// Tagged frames pass untouched; learning ignores the VLAN.
    Transparent,
    /// Tagged frames pass; MACs are learned per (VLAN, MAC) using the outer
    /// VID (untagged and priority-tagged frames are VLAN 0).
    VlanAware,
}

/// The frame was refused by [`vlan_verdict`] (a tagged frame in a
/// `DropTagged` switch, a truncated tag, or the reserved VID 4095).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct VlanDrop;

/// Outer tag of a frame: `Ok(None)` untagged, `Ok(Some(vid))` tagged,
/// `Err` when the tag ethertype is there but the frame ends inside the tag.
#[inline]
fn outer_tag(frame: &[u8]) -> Result<Option<u16>, VlanDrop> {
    let Some(et) = be16(frame, 12) else {
        return Ok(None);
    };
    if !vlan::is_tag_ethertype(et) {
        return Ok(None);
    }
    match be16(frame, 14) {
        Some(tci) => Ok(Some(tci & 0x0fff)),
        None => Err(VlanDrop),
    }
}

/// The VLAN policy of a switch applied to `frame`:
///
/// * `DropTagged`: untagged → `Ok(None)`, tagged → `Err(VlanDrop)`;
/// * `Transparent`: `Ok(None)` (learn without VLAN);
/// * `VlanAware`: `Ok(Some(vid))` with the outer VID, 0 for untagged and
///   priority-tagged frames; VID 4095 (reserved) and a truncated tag are
///   `Err(VlanDrop)`.
///
/// Frames shorter than an Ethernet header are not judged here (the
/// classifier drops runts): they are untagged.
#[inline]
pub fn vlan_verdict(mode: VlanMode, frame: &[u8]) -> Result<Option<u16>, VlanDrop> {
    match mode {
        VlanMode::Transparent => Ok(None),
        VlanMode::DropTagged => match outer_tag(frame)? {
            None => Ok(None),
            Some(_) => Err(VlanDrop),
        },
        VlanMode::VlanAware => match outer_tag(frame)? {
            None => Ok(Some(0)),
            Some(0x0fff) => Err(VlanDrop),
            Some(vid) => Ok(Some(vid)),
        },
    }
}

/// Error of [`VlanDomains::alloc`] / [`VlanDomains::install`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DomainError {
    /// Every domain id is in use.
    Full,
    /// VID outside 1..=4094, switch id `>= max_switches`, or domain id
    /// outside the pool.
    Invalid,
    /// The domain id is already mapped to another (switch, VID).
    InUse,
}

/// Mapping (switch, VID) → dense learning domain id for VLAN-aware
/// switches (see the module docs). Domain ids `0..max_switches` are the
/// switches themselves (VLAN 0); ids `max_switches..max_switches + pool`
/// are handed out for VLANs 1..=4094.
///
/// The control core calls [`alloc`](Self::alloc) (O(pool) scan, rare) and
/// [`remove`](Self::remove); a worker's replica is programmed with
/// [`install`](Self::install) / [`remove`](Self::remove) (O(1)) and read
/// with [`domain`](Self::domain) per packet. All memory is allocated by
/// [`new`](Self::new); nothing allocates afterwards.
pub struct VlanDomains {
    /// `(sw << 12 | vid)` → domain id.
    map: HashMap<u32, u16>,
    /// Owner `(sw, vid)` of domain `base + i`; `vid == 0` = free.
    owner: Vec<(u16, u16)>,
    /// Where the next [`alloc`](Self::alloc) scan starts (round robin, so a
    /// freed id is reused as late as possible).
    cursor: usize,
    base: u16,
}

#[inline]
fn domain_map_key(sw: SwitchId, vid: u16) -> u32 {
    (u32::from(sw.0) << 12) | u32::from(vid & 0x0fff)
}

impl VlanDomains {
    /// Preallocate `pool` VLAN domains after `max_switches` switch ids
    /// (at most 65535). The total is capped at 65536 ids; a `MacTable`
    /// serving these domains needs `max_switches + pool()` switch slots.
    pub fn new(max_switches: usize, pool: usize) -> Self {
        let base = max_switches.min(usize::from(u16::MAX));
        let pool = pool.min((1 << 16) - base);
        VlanDomains {
            map: HashMap::with_capacity(pool),
            owner: vec![(0, 0); pool],
            cursor: 0,
            base: base as u16,
        }
    }

    /// Number of VLAN domain ids in the pool.
    pub fn pool(&self) -> usize {
        self.owner.len()
    }

    /// VLAN domain ids in use.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when no VLAN domain is allocated.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Fast path: the learning domain of `vid` in switch `sw`. VLAN 0 is the
    /// switch itself; other VLANs are `None` until allocated/installed.
    #[inline]
    pub fn domain(&self, sw: SwitchId, vid: u16) -> Option<SwitchId> {
        if vid == 0 {
            return (sw.0 < self.base).then_some(sw);
        }
        self.map
            .get(&domain_map_key(sw, vid))
            .copied()
            .map(SwitchId)
    }

    /// The learning domain for a [`vlan_verdict`] result: `None` (no VLAN:
    /// Transparent/DropTagged switches) is the switch itself.
    #[inline]
    pub fn learn_domain(&self, sw: SwitchId, vlan: Option<u16>) -> Option<SwitchId> {
        match vlan {
            None => (sw.0 < self.base).then_some(sw),
            Some(vid) => self.domain(sw, vid),
        }
    }

    fn valid(&self, sw: SwitchId, vid: u16) -> bool {
        sw.0 < self.base && (1..=4094).contains(&vid)
    }

    /// Control core: the domain of (sw, vid), allocating one if needed.
    pub fn alloc(&mut self, sw: SwitchId, vid: u16) -> Result<SwitchId, DomainError> {
        if vid == 0 && sw.0 < self.base {
            return Ok(sw);
        }
        if !self.valid(sw, vid) {
            return Err(DomainError::Invalid);
        }
        let k = domain_map_key(sw, vid);
        if let Some(&d) = self.map.get(&k) {
            return Ok(SwitchId(d));
        }
        let n = self.owner.len();
        let i = (0..n)
            .map(|j| (self.cursor + j) % n)
            .find(|&i| self.owner[i].1 == 0)
            .ok_or(DomainError::Full)?;
        self.cursor = (i + 1) % n;
        self.owner[i] = (sw.0, vid);
        // i < pool <= 65536 - base.
        let d = self.base + i as u16;
        self.map.insert(k, d);
        Ok(SwitchId(d))
    }

    /// Worker replica: install the mapping the control core allocated.
    /// Replaces an older mapping of (sw, vid); fails with `InUse` if
    /// `domain` belongs to another (switch, VID) (remove that first).
    pub fn install(&mut self, sw: SwitchId, vid: u16, domain: SwitchId) -> Result<(), DomainError> {
        if !self.valid(sw, vid) {
            return Err(DomainError::Invalid);
        }
        let Some(i) = domain.0.checked_sub(self.base).map(usize::from) else {
            return Err(DomainError::Invalid);
        };
        let Some(&(osw, ovid)) = self.owner.get(i) else {
            return Err(DomainError::Invalid);
        };
        if ovid != 0 && (osw, ovid) != (sw.0, vid) {
            return Err(DomainError::InUse);
        }
        self.remove(sw, vid);
        self.owner[i] = (sw.0, vid);
        self.map.insert(domain_map_key(sw, vid), domain.0);
        Ok(())
    }

    /// Remove the mapping of (sw, vid); returns the freed domain. The caller
    /// flushes the domain's MAC entries (and the workers reclaim them)
    /// before the id can be reused; [`alloc`](Self::alloc) reuses ids
    /// round robin, as late as possible.
    pub fn remove(&mut self, sw: SwitchId, vid: u16) -> Option<SwitchId> {
        let d = self.map.remove(&domain_map_key(sw, vid))?;
        if let Some(o) = self.owner.get_mut(usize::from(d.wrapping_sub(self.base))) {
            *o = (0, 0);
        }
        Some(SwitchId(d))
    }

    /// Remove every VLAN domain of switch `sw` (O(pool)); calls `f` with
    /// each freed domain (to flush its MAC entries).
    pub fn remove_switch(&mut self, sw: SwitchId, mut f: impl FnMut(SwitchId)) {
        for i in 0..self.owner.len() {
            let (osw, vid) = self.owner[i];
            if vid != 0 && osw == sw.0 {
                if let Some(d) = self.remove(sw, vid) {
                    f(d);
                }
            }
        }
    }

    /// The (switch, VID) a domain id stands for: the switch itself with VID
    /// 0 below `max_switches`, its owner for an allocated VLAN domain.
    pub fn owner(&self, domain: SwitchId) -> Option<(SwitchId, u16)> {
        if domain.0 < self.base {
            return Some((domain, 0));
        }
        match self.owner.get(usize::from(domain.0 - self.base)) {
            Some(&(sw, vid)) if vid != 0 => Some((SwitchId(sw), vid)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The outer VID of `frame`, `None` if untagged or truncated.
    fn vlan_of(frame: &[u8]) -> Option<u16> {
        outer_tag(frame).ok().flatten()
    }

    /// The MAC table key of `mac` in learning domain `domain`.
    fn learn_key(domain: SwitchId, mac: u64) -> u64 {
        (u64::from(domain.0) << 48) | (mac & crate::switch::MAC_MASK)
    }

    const SRC4: [u8; 4] = [10, 0, 0, 1];
    const DST4: [u8; 4] = [10, 0, 0, 2];
    const SRC6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const DST6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

    const SYN: u8 = 0x02;
    const ACK: u8 = 0x10;

    /// A frame under test with the facts needed to verify its checksum
    /// independently of the code under test.
    #[derive(Clone)]
    struct Built {
        frame: Vec<u8>,
        tcp_off: usize,
        tcp_end: usize,
        v6: bool,
        /// Offset of the MSS value in the frame, if there is one.
        mss_at: Option<usize>,
    }

    /// Independent RFC 1071 sum over pseudo-header + segment, u64
    /// accumulator, byte by byte. Returns the folded sum (0xffff = valid).
    fn folded_sum(b: &Built) -> u16 {
        let seg = &b.frame[b.tcp_off..b.tcp_end];
        let mut v = Vec::new();
        if b.v6 {
            v.extend_from_slice(&SRC6);
            v.extend_from_slice(&DST6);
            v.extend_from_slice(&(seg.len() as u32).to_be_bytes());
            v.extend_from_slice(&[0, 0, 0, 6]);
        } else {
            v.extend_from_slice(&SRC4);
            v.extend_from_slice(&DST4);
            v.extend_from_slice(&[0, 6]);
            v.extend_from_slice(&(seg.len() as u16).to_be_bytes());
        }
        v.extend_from_slice(seg);
        let mut acc: u64 = 0;
        for (i, x) in v.iter().enumerate() {
            acc += u64::from(*x) << if i % 2 == 0 { 8 } else { 0 };
        }
        while acc > 0xffff {
            acc = (acc & 0xffff) + (acc >> 16);
        }
        acc as u16
    }

    fn csum_ok(b: &Built) -> bool {
        folded_sum(b) == 0xffff
    }

    /// Fill the TCP checksum from scratch.
    fn fill_csum(b: &mut Built) {
        let c = b.tcp_off + 16;
        b.frame[c..c + 2].copy_from_slice(&[0, 0]);
        let s = folded_sum(b);
        b.frame[c..c + 2].copy_from_slice(&(!s).to_be_bytes());
        assert!(csum_ok(b));
    }

    fn tcp(flags: u8, options: &[u8], payload: &[u8]) -> Vec<u8> {
        assert_eq!(options.len() % 4, 0);
        let mut t = vec![
            0xa8, 0xca, 0x00, 0x50, 1, 2, 3, 4, 0, 0, 0, 0, 0, flags, 0xfa, 0xf0, 0, 0, 0, 0,
        ];
        t[12] = (((20 + options.len()) / 4) as u8) << 4;
        t.extend_from_slice(options);
        t.extend_from_slice(payload);
        t
    }

    fn eth(tags: &[(u16, u16)], et: u16) -> Vec<u8> {
        let mut f = vec![0x02, 0, 0, 0, 0, 0xbb, 0x02, 0, 0, 0, 0, 0xaa];
        for &(tpid, vid) in tags {
            f.extend_from_slice(&tpid.to_be_bytes());
            f.extend_from_slice(&vid.to_be_bytes());
        }
        f.extend_from_slice(&et.to_be_bytes());
        f
    }

    fn mss_in(seg: &[u8]) -> Option<usize> {
        let hl = usize::from(seg[12] >> 4) * 4;
        let mut i = 20;
        while i < hl {
            match seg[i] {
                0 => return None,
                1 => i += 1,
                2 => return Some(i + 2),
                _ if seg[i + 1] < 2 => return None,
                _ => i += usize::from(seg[i + 1]),
            }
        }
        None
    }

    /// IPv4 frame; `ip_opts` bytes of IP options (multiple of 4).
    fn v4(tags: &[(u16, u16)], ip_opts: usize, frag: u16, seg: Vec<u8>) -> Built {
        let mut f = eth(tags, 0x0800);
        let l3 = f.len();
        let hl = 20 + ip_opts;
        let tl = (hl + seg.len()) as u16;
        f.extend_from_slice(&[0x40 | (hl / 4) as u8, 0]);
        f.extend_from_slice(&tl.to_be_bytes());
        f.extend_from_slice(&[0x12, 0x34]);
        f.extend_from_slice(&frag.to_be_bytes());
        f.extend_from_slice(&[64, 6, 0, 0]);
        f.extend_from_slice(&SRC4);
        f.extend_from_slice(&DST4);
        f.extend(std::iter::repeat_n(1u8, ip_opts)); // NOP options
        let tcp_off = f.len();
        let mss_at = mss_in(&seg).map(|m| tcp_off + m);
        f.extend_from_slice(&seg);
        let mut b = Built {
            tcp_end: f.len(),
            frame: f,
            tcp_off,
            v6: false,
            mss_at,
        };
        assert_eq!(l3 + hl, tcp_off);
        fill_csum(&mut b);
        b
    }

    /// IPv6 frame with extension headers `(type, total len)`.
    fn v6(tags: &[(u16, u16)], ext: &[(u8, usize)], seg: Vec<u8>) -> Built {
        let mut f = eth(tags, 0x86dd);
        let ext_len: usize = ext.iter().map(|e| e.1).sum();
        f.extend_from_slice(&[0x60, 0, 0, 0]);
        f.extend_from_slice(&((ext_len + seg.len()) as u16).to_be_bytes());
        f.push(ext.first().map_or(6, |e| e.0));
        f.push(64);
        f.extend_from_slice(&SRC6);
        f.extend_from_slice(&DST6);
        for (i, &(ty, len)) in ext.iter().enumerate() {
            let nh = ext.get(i + 1).map_or(6, |e| e.0);
            let mut h = vec![0u8; len];
            h[0] = nh;
            if ty == 44 {
                assert_eq!(len, 8);
            } else {
                h[1] = (len / 8 - 1) as u8;
                // PadN filling the options.
                if len > 2 {
                    h[2] = 1;
                    h[3] = (len - 4) as u8;
                }
            }
            f.extend_from_slice(&h);
        }
        let tcp_off = f.len();
        let mss_at = mss_in(&seg).map(|m| tcp_off + m);
        f.extend_from_slice(&seg);
        let mut b = Built {
            tcp_end: f.len(),
            frame: f,
            tcp_off,
            v6: true,
            mss_at,
        };
        fill_csum(&mut b);
        b
    }

    fn mss_of(b: &Built) -> u16 {
        let m = b.mss_at.unwrap();
        u16::from_be_bytes([b.frame[m], b.frame[m + 1]])
    }

    /// Clamp and check: result, checksum valid before and after (independent
    /// full recomputation), the checksum field equal to a from-scratch
    /// checksum, and no byte changed except the MSS and the checksum.
    #[track_caller]
    fn check(mut b: Built, max_frame: usize, want: MssResult) -> Built {
        assert!(csum_ok(&b), "checksum valid before");
        let before = b.frame.clone();
        let got = clamp_mss(&mut b.frame, max_frame);
        assert_eq!(got, want);
        assert!(csum_ok(&b), "checksum valid after");
        let mut scratch = b.clone();
        fill_csum(&mut scratch);
        assert_eq!(scratch.frame, b.frame, "checksum equals full recomputation");
        let c = b.tcp_off + 16;
        for (i, (x, y)) in before.iter().zip(&b.frame).enumerate() {
            let allowed =
                (c..c + 2).contains(&i) || b.mss_at.is_some_and(|m| (m..m + 2).contains(&i));
            if !allowed || !matches!(want, MssResult::Clamped { .. }) {
                assert_eq!(x, y, "byte {i} changed");
            }
        }
        if let MssResult::Clamped { new, .. } = want {
            assert_eq!(mss_of(&b), new);
        }
        b
    }

    // MSS 1460, SACK-perm, timestamps, NOP, window scale (Linux order).
    const LINUX_OPTS: [u8; 20] = [
        2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0x11, 0x22, 0x33, 0x44, 0, 0, 0, 0, 1, 3, 3, 7,
    ];
    // NOP, NOP, timestamps, NOP, window scale, MSS 1460 (odd offset: 29),
    // NOP, NOP, NOP.
    const ODD_OPTS: [u8; 24] = [
        1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7, 1, 2, 4, 0x05, 0xb4, 1, 1, 1,
    ];

    fn clamped(old: u16, new: u16) -> MssResult {
        MssResult::Clamped { old, new }
    }

    #[test]
    fn ipv4_tags_0_1_2() {
        for (tags, n) in [
            (&[][..], 0usize),
            (&[(0x8100, 100)][..], 1),
            (&[(0x88a8, 100), (0x8100, 200)][..], 2),
            (&[(0x9100, 7), (0x8100, 8)][..], 2),
        ] {
            // Path carries 1400-byte IP packets + the inner headers.
            let max_frame = 14 + 4 * n + 1400;
            let b = v4(tags, 0, 0, tcp(SYN, &LINUX_OPTS, &[]));
            assert_eq!(b.mss_at, Some(b.tcp_off + 22));
            let b = check(b, max_frame, clamped(1460, 1360));
            // Idempotent.
            check(b, max_frame, MssResult::Unchanged);
        }
    }

    #[test]
    fn ipv4_header_options_lower_the_ceiling() {
        // IHL 15 (40 bytes of options).
        let b = v4(&[], 40, 0, tcp(SYN, &LINUX_OPTS, &[]));
        check(b, 1514, clamped(1460, 1420));
        let b = v4(&[(0x8100, 1)], 4, 0, tcp(SYN, &LINUX_OPTS, &[]));
        check(b, 1518, clamped(1460, 1456));
    }

    #[test]
    fn ipv6_tags_0_1_2() {
        for (tags, n) in [
            (&[][..], 0usize),
            (&[(0x8100, 100)][..], 1),
            (&[(0x88a8, 100), (0x8100, 200)][..], 2),
        ] {
            let max_frame = 14 + 4 * n + 1400;
            let b = v6(tags, &[], tcp(SYN, &LINUX_OPTS, &[]));
            let b = check(b, max_frame, clamped(1460, 1340));
            check(b, max_frame, MssResult::Unchanged);
        }
    }

    #[test]
    fn ipv6_extension_headers() {
        // Hop-by-hop (8) + destination options (16) + routing (8): 32 bytes.
        let b = v6(
            &[],
            &[(0, 8), (60, 16), (43, 8)],
            tcp(SYN, &LINUX_OPTS, &[]),
        );
        check(b, 1514, clamped(1460, 1440 - 32));
        // First fragment (offset 0, M=1 in byte 3): followed.
        let mut b = v6(&[], &[(44, 8)], tcp(SYN, &LINUX_OPTS, &[]));
        b.frame[14 + 40 + 3] = 1;
        fill_csum(&mut b);
        check(b, 1514, clamped(1460, 1432));
        // Non-first fragment: untouched.
        let mut b = v6(&[], &[(44, 8)], tcp(SYN, &LINUX_OPTS, &[]));
        b.frame[14 + 40 + 2] = 0x05;
        b.frame[14 + 40 + 3] = 0xa8;
        check(b, 1000, MssResult::NotTcpSyn);
        // More extension headers than MAX_IPV6_EXT: left alone.
        let ext = [(0u8, 8usize), (60, 8), (60, 8), (60, 8), (60, 8)];
        let b = v6(&[], &ext, tcp(SYN, &LINUX_OPTS, &[]));
        check(b, 1000, MssResult::NotTcpSyn);
        let b = v6(&[], &ext[..4], tcp(SYN, &LINUX_OPTS, &[]));
        check(b, 1514, clamped(1460, 1440 - 32));
        // Unknown next header (ESP): untouched.
        let mut b = v6(&[], &[], tcp(SYN, &LINUX_OPTS, &[]));
        b.frame[20] = 50;
        check(b, 1000, MssResult::NotTcpSyn);
        // Extension header running past the payload length.
        let mut b = v6(&[], &[(0, 8)], tcp(SYN, &LINUX_OPTS, &[]));
        b.frame[14 + 41] = 200;
        check(b, 1000, MssResult::NotTcpSyn);
    }

    #[test]
    fn mss_at_odd_offset_and_odd_payload() {
        let b = v4(&[], 0, 0, tcp(SYN, &ODD_OPTS, &[]));
        assert_eq!(b.mss_at.map(|m| (m - b.tcp_off) % 2), Some(1));
        check(b, 1000, clamped(1460, 946));
        let b = v6(&[(0x8100, 5)], &[], tcp(SYN | ACK, &ODD_OPTS, b"odd"));
        check(b, 1000, clamped(1460, 922));
        // One VLAN tag shifts the frame by 4, not the TCP parity: also try
        // the MSS after a single NOP.
        let opts = [1, 2, 4, 0x23, 0x28, 1, 1, 0];
        let b = v4(&[(0x8100, 5)], 4, 0, tcp(SYN, &opts, b"hello"));
        check(b, 9000, clamped(9000, 8938));
    }

    #[test]
    fn syn_ack_is_clamped() {
        let b = v4(&[], 0, 0, tcp(SYN | ACK, &LINUX_OPTS, &[]));
        check(b, 1500, clamped(1460, 1446));
        let b = v6(&[], &[], tcp(SYN | ACK | 0xc0, &LINUX_OPTS, &[]));
        check(b, 1500, clamped(1460, 1426));
    }

    #[test]
    fn non_syn_untouched() {
        for flags in [ACK, 0x18, SYN | 0x04, SYN | 0x01, 0] {
            let b = v4(&[], 0, 0, tcp(flags, &LINUX_OPTS, &[]));
            check(b, 600, MssResult::NotTcpSyn);
            let b = v6(&[], &[], tcp(flags, &LINUX_OPTS, &[]));
            check(b, 600, MssResult::NotTcpSyn);
        }
    }

    #[test]
    fn smaller_mss_untouched_and_no_option() {
        let b = v4(&[], 0, 0, tcp(SYN, &LINUX_OPTS, &[]));
        check(b.clone(), 1514, MssResult::Unchanged);
        check(b, 1514 + 1000, MssResult::Unchanged);
        let b = v4(&[], 0, 0, tcp(SYN, &[1, 3, 3, 7], &[]));
        check(b, 600, MssResult::NoOption);
        let b = v6(&[], &[], tcp(SYN, &[], &[]));
        check(b, 600, MssResult::NoOption);
        // Malformed options: option length 0 before the MSS.
        let b = v4(&[], 0, 0, tcp(SYN, &[8, 0, 2, 4, 5, 0xb4, 1, 1], &[]));
        check(b, 600, MssResult::NoOption);
    }

    #[test]
    fn ipv4_fragments() {
        // First fragment (MF, offset 0): clamped.
        let b = v4(&[], 0, 0x2000, tcp(SYN, &LINUX_OPTS, b"data"));
        check(b, 1514, MssResult::Unchanged);
        let b = v4(&[], 0, 0x2000, tcp(SYN, &LINUX_OPTS, b"data"));
        check(b, 1000, clamped(1460, 946));
        // DF only: not a fragment.
        let b = v4(&[], 0, 0x4000, tcp(SYN, &LINUX_OPTS, &[]));
        check(b, 1000, clamped(1460, 946));
        // A first fragment cut inside the TCP header: not a SYN we parse.
        let mut b = v4(&[], 0, 0x2000, tcp(SYN, &LINUX_OPTS, &[]));
        b.frame[16..18].copy_from_slice(&(20u16 + 19).to_be_bytes());
        let before = b.frame.clone();
        assert_eq!(clamp_mss(&mut b.frame, 600), MssResult::NotTcpSyn);
        assert_eq!(b.frame, before);
        // Cut inside the options: the MSS is not reachable.
        b.frame[16..18].copy_from_slice(&(20u16 + 21).to_be_bytes());
        assert_eq!(clamp_mss(&mut b.frame, 600), MssResult::NoOption);
        assert_eq!(
            b.frame,
            before[..16]
                .iter()
                .chain(&(41u16).to_be_bytes())
                .chain(&before[18..])
                .copied()
                .collect::<Vec<_>>()
        );
        // Later fragments: untouched.
        for frag in [0x0001, 0x2001, 0x1fff] {
            let b = v4(&[], 0, frag, tcp(SYN, &LINUX_OPTS, &[]));
            check(b, 1000, MssResult::NotTcpSyn);
        }
    }

    #[test]
    fn other_protocols_untouched() {
        let mut b = v4(&[], 0, 0, tcp(SYN, &LINUX_OPTS, &[]));
        b.frame[14 + 9] = 17;
        check(b, 600, MssResult::NotTcpSyn);
        let mut b = v4(&[], 0, 0, tcp(SYN, &LINUX_OPTS, &[]));
        b.frame[12..14].copy_from_slice(&[0x08, 0x06]);
        check(b, 600, MssResult::NotTcpSyn);
        // Version mismatch.
        let mut b = v4(&[], 0, 0, tcp(SYN, &LINUX_OPTS, &[]));
        b.frame[14] = 0x65;
        check(b, 600, MssResult::NotTcpSyn);
        let mut b = v6(&[], &[], tcp(SYN, &LINUX_OPTS, &[]));
        b.frame[14] = 0x40;
        check(b, 600, MssResult::NotTcpSyn);
        // Three tags: not parsed.
        let b = v4(
            &[(0x88a8, 1), (0x8100, 2), (0x8100, 3)],
            0,
            0,
            tcp(SYN, &LINUX_OPTS, &[]),
        );
        check(b, 600, MssResult::NotTcpSyn);
        // IHL < 5.
        let mut b = v4(&[], 0, 0, tcp(SYN, &LINUX_OPTS, &[]));
        b.frame[14] = 0x44;
        check(b, 600, MssResult::NotTcpSyn);
    }

    #[test]
    fn ethernet_padding_is_ignored() {
        let mut b = v4(&[], 0, 0, tcp(SYN, &LINUX_OPTS, &[]));
        b.frame.extend_from_slice(&[0xa5; 6]);
        let b = check(b, 1000, clamped(1460, 946));
        assert_eq!(&b.frame[b.frame.len() - 6..], &[0xa5; 6]);
    }

    #[test]
    fn truncated_frames_never_panic_or_write() {
        let frames = [
            v4(&[], 40, 0, tcp(SYN, &ODD_OPTS, b"x")),
            v4(
                &[(0x88a8, 1), (0x8100, 2)],
                0,
                0,
                tcp(SYN, &LINUX_OPTS, &[]),
            ),
            v6(
                &[(0x8100, 1)],
                &[(0, 8), (44, 8)],
                tcp(SYN, &LINUX_OPTS, &[]),
            ),
        ];
        for b in frames {
            for len in 0..b.frame.len() {
                let mut f = b.frame[..len].to_vec();
                let r = clamp_mss(&mut f, 100);
                assert!(!matches!(r, MssResult::Clamped { .. }), "len {len}: {r:?}");
                assert_eq!(f, b.frame[..len], "len {len}");
                assert!(clamp_mss_fixed(&mut f, 100) != clamped(1460, 100));
            }
            // Length fields claiming more than the buffer: untouched.
            let mut f = b.frame.clone();
            f.pop();
            assert_eq!(clamp_mss(&mut f, 100), MssResult::NotTcpSyn);
        }
    }

    /// xorshift64*, deterministic, from `seed` (non-zero).
    fn xorshift(seed: u64) -> impl FnMut() -> u64 {
        let mut x = seed;
        move || {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            x.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
    }

    #[test]
    fn cannot_be_syn_only_when_find_syn_refuses() {
        // The quick test in front of `find_syn` must never hide a SYN:
        // mutate the bytes it reads (and others) at random and compare.
        let mut rnd = xorshift(0x2545_f491_4f6c_dd1d);
        let seeds = [
            v4(&[], 0, 0, tcp(SYN, &LINUX_OPTS, &[])),
            v4(&[(0x8100, 7)], 0, 0, tcp(SYN, &LINUX_OPTS, &[])),
            v6(&[], &[], tcp(SYN, &LINUX_OPTS, &[])),
            v6(&[], &[(0, 8), (60, 16)], tcp(SYN | ACK, &LINUX_OPTS, &[])),
        ];
        for b in &seeds {
            assert!(find_syn(&b.frame).is_some());
            assert!(!cannot_be_syn(&b.frame));
        }
        let (mut ruled_out, mut syns) = (0, 0);
        for _ in 0..50_000 {
            let r = rnd();
            let mut f = seeds[(r % 4) as usize].frame.clone();
            for _ in 0..1 + (r >> 2) % 2 {
                let r = rnd();
                // Mostly the ethertype and protocol bytes (12..24).
                let i = if r & 1 == 0 {
                    12 + (r >> 1) as usize % 12
                } else {
                    (r >> 1) as usize % f.len()
                };
                f[i] = (r >> 32) as u8;
            }
            f.truncate(f.len() - (rnd() % 3) as usize * (rnd() % 30) as usize);
            let syn = find_syn(&f).is_some();
            if cannot_be_syn(&f) {
                assert!(!syn, "{f:02x?}");
                ruled_out += 1;
            }
            syns += usize::from(syn);
        }
        assert!(ruled_out > 1000 && syns > 1000, "{ruled_out} {syns}");
        // UDP over IPv4 and IPv6, untagged: ruled out without parsing.
        let mut udp4 = seeds[0].frame.clone();
        udp4[23] = 17;
        let mut udp6 = seeds[2].frame.clone();
        udp6[20] = 17;
        assert!(cannot_be_syn(&udp4) && cannot_be_syn(&udp6));
        assert!(cannot_be_syn(&seeds[0].frame[..23]));
    }

    #[test]
    fn random_mutations_never_panic() {
        let mut rnd = xorshift(0x9e37_79b9_7f4a_7c15);
        let seeds = [
            v4(&[(0x8100, 1)], 4, 0, tcp(SYN, &ODD_OPTS, b"abc")),
            v6(&[], &[(0, 8)], tcp(SYN, &LINUX_OPTS, &[])),
        ];
        let mut clamped_ok = 0;
        for _ in 0..20_000 {
            let r = rnd();
            let mut b = seeds[(r & 1) as usize].clone();
            let mut structural = false;
            for _ in 0..1 + (r >> 1) % 3 {
                let r = rnd();
                let i = (r as usize) % b.frame.len();
                structural |= i < b.tcp_off + 13;
                b.frame[i] = (r >> 32) as u8;
            }
            if !structural {
                // Only TCP flags/options/payload changed: the layout is
                // known, so the checksum can be made valid and must stay so.
                fill_csum(&mut b);
            }
            let cut = (rnd() as usize) % (b.frame.len() + 1);
            let full = cut == b.frame.len();
            b.frame.truncate(cut);
            let max = (rnd() % 2000) as usize;
            if let MssResult::Clamped { old, new } = clamp_mss(&mut b.frame, max) {
                assert!(new < old);
                if full && !structural {
                    assert!(csum_ok(&b));
                    clamped_ok += 1;
                }
            }
        }
        assert!(clamped_ok > 0);
    }

    #[test]
    fn ceiling_and_modes() {
        assert_eq!(mss_ceiling(1514, 0, 20), 1460);
        assert_eq!(mss_ceiling(1514, 2, 40), 1432);
        assert_eq!(mss_ceiling(0, 2, 60), MIN_MSS);
        assert_eq!(mss_ceiling(100, 0, 20), MIN_MSS);
        assert_eq!(mss_ceiling(usize::MAX, 0, 20), u16::MAX);
        let b = v4(&[], 0, 0, tcp(SYN, &LINUX_OPTS, &[]));
        let mut f = b.frame.clone();
        assert_eq!(MssClamp::Off.apply(&mut f, 100), None);
        assert_eq!(f, b.frame);
        assert_eq!(
            MssClamp::Fixed(1200).apply(&mut f, 100),
            Some(clamped(1460, 1200))
        );
        assert_eq!(MssClamp::Auto.apply(&mut f, 1000), Some(clamped(1200, 946)));
        assert_eq!(
            MssClamp::Fixed(1300).apply(&mut f, 0),
            Some(MssResult::Unchanged)
        );
        assert_eq!(MssClamp::default(), MssClamp::Auto);
        let mut b2 = b.clone();
        b2.frame = f;
        assert!(csum_ok(&b2));
    }

    #[test]
    fn vlan_of_frames() {
        let untagged = eth(&[], 0x0800);
        assert_eq!(vlan_of(&untagged), None);
        assert_eq!(vlan_of(&eth(&[(0x8100, 0xe064)], 0x0800)), Some(100));
        assert_eq!(
            vlan_of(&eth(&[(0x88a8, 10), (0x8100, 20)], 0x0800)),
            Some(10)
        );
        assert_eq!(vlan_of(&eth(&[(0x9100, 4094)], 0x86dd)), Some(4094));
        assert_eq!(vlan_of(&eth(&[(0x8100, 0x2000)], 0x0800)), Some(0));
        for len in 0..16 {
            assert_eq!(vlan_of(&eth(&[(0x8100, 5)], 0x0800)[..len]), None);
        }
    }

    #[test]
    fn vlan_verdicts() {
        use VlanMode::*;
        let untagged = eth(&[], 0x0800);
        let tagged = eth(&[(0x8100, 100)], 0x0800);
        let qinq = eth(&[(0x88a8, 10), (0x8100, 20)], 0x0800);
        let prio = eth(&[(0x8100, 0xa000)], 0x0800);
        let reserved = eth(&[(0x8100, 0x0fff)], 0x0800);
        let cut = &tagged[..15];
        assert_eq!(VlanMode::default(), DropTagged);
        assert_eq!(vlan_verdict(DropTagged, &untagged), Ok(None));
        assert_eq!(vlan_verdict(DropTagged, &tagged), Err(VlanDrop));
        assert_eq!(vlan_verdict(DropTagged, &qinq), Err(VlanDrop));
        assert_eq!(vlan_verdict(DropTagged, &prio), Err(VlanDrop));
        assert_eq!(vlan_verdict(DropTagged, cut), Err(VlanDrop));
        for f in [&untagged, &tagged, &qinq, &prio, &reserved] {
            assert_eq!(vlan_verdict(Transparent, f), Ok(None));
        }
        assert_eq!(vlan_verdict(VlanAware, &untagged), Ok(Some(0)));
        assert_eq!(vlan_verdict(VlanAware, &tagged), Ok(Some(100)));
        assert_eq!(vlan_verdict(VlanAware, &qinq), Ok(Some(10)));
        assert_eq!(vlan_verdict(VlanAware, &prio), Ok(Some(0)));
        assert_eq!(vlan_verdict(VlanAware, &reserved), Err(VlanDrop));
        assert_eq!(vlan_verdict(VlanAware, cut), Err(VlanDrop));
        for len in 0..14 {
            for m in [DropTagged, Transparent, VlanAware] {
                let _ = vlan_verdict(m, &tagged[..len]);
            }
        }
    }

    #[test]
    fn vlan_domains() {
        let s = |n| SwitchId(n);
        let mut c = VlanDomains::new(8, 3);
        assert_eq!(c.pool(), 3);
        // VLAN 0 is the switch itself.
        assert_eq!(c.alloc(s(2), 0), Ok(s(2)));
        assert_eq!(c.domain(s(2), 0), Some(s(2)));
        assert_eq!(c.learn_domain(s(2), None), Some(s(2)));
        assert_eq!(c.domain(s(2), 100), None);
        let d100 = c.alloc(s(2), 100).unwrap();
        assert_eq!(d100, s(8));
        assert_eq!(c.alloc(s(2), 100), Ok(d100), "idempotent");
        let d200 = c.alloc(s(2), 200).unwrap();
        let d100b = c.alloc(s(3), 100).unwrap();
        assert_eq!((d200, d100b), (s(9), s(10)));
        assert_eq!(c.alloc(s(3), 101), Err(DomainError::Full));
        assert_eq!(c.alloc(s(8), 1), Err(DomainError::Invalid));
        assert_eq!(c.alloc(s(1), 4095), Err(DomainError::Invalid));
        assert_eq!(c.domain(s(2), 100), Some(d100));
        assert_eq!(c.learn_domain(s(3), Some(100)), Some(d100b));
        assert_eq!(c.owner(d100b), Some((s(3), 100)));
        assert_eq!(c.owner(s(5)), Some((s(5), 0)));
        // Same MAC in different VLANs of one switch: different keys.
        let mac = 0x0200_0000_0001;
        let keys = [
            learn_key(s(2), mac),
            learn_key(d100, mac),
            learn_key(d200, mac),
        ];
        assert!(keys[0] != keys[1] && keys[1] != keys[2] && keys[0] != keys[2]);
        assert_eq!(learn_key(s(2), mac | 0xffff << 48), keys[0]);
        // Remove and reuse (allocation scans round robin from a cursor).
        assert_eq!(c.remove(s(2), 100), Some(d100));
        assert_eq!(c.remove(s(2), 100), None);
        assert_eq!(c.owner(d100), None);
        assert_eq!(c.domain(s(2), 100), None);
        assert_eq!(c.alloc(s(4), 7), Ok(d100));
        let mut freed = Vec::new();
        c.remove_switch(s(2), |d| freed.push(d));
        assert_eq!(freed, vec![d200]);
        assert_eq!(c.len(), 2);

        // A worker replica follows the control core's allocations.
        let mut w = VlanDomains::new(8, 3);
        assert_eq!(w.install(s(3), 100, d100b), Ok(()));
        assert_eq!(w.domain(s(3), 100), Some(d100b));
        assert_eq!(w.install(s(4), 7, d100b), Err(DomainError::InUse));
        assert_eq!(w.install(s(4), 7, s(11)), Err(DomainError::Invalid));
        assert_eq!(w.install(s(4), 7, s(1)), Err(DomainError::Invalid));
        assert_eq!(w.install(s(4), 0, s(8)), Err(DomainError::Invalid));
        // Re-pointing (sw, vid) frees its old domain.
        assert_eq!(w.install(s(3), 100, s(8)), Ok(()));
        assert_eq!(w.owner(d100b), None);
        assert_eq!(w.domain(s(3), 100), Some(s(8)));
        assert_eq!(w.len(), 1);
        // Out of range switch ids never panic.
        assert_eq!(w.domain(s(60000), 0), None);
        assert_eq!(w.learn_domain(s(60000), None), None);
        assert_eq!(w.owner(s(60000)), None);
        // Degenerate sizes.
        let mut z = VlanDomains::new(70000, 10);
        assert_eq!(z.pool(), 1);
        assert_eq!(z.alloc(s(1), 5), Ok(s(65535)));
        assert_eq!(z.alloc(s(1), 6), Err(DomainError::Full));
        let mut e = VlanDomains::new(4, 0);
        assert_eq!(e.alloc(s(1), 5), Err(DomainError::Full));
    }

    #[test]
    fn mtu_policy_default() {
        assert_eq!(MtuPolicy::default(), MtuPolicy::Drop);
    }
}
