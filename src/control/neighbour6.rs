//! IPv6 neighbour discovery on the control core (RFC 4861): the
//! neighbour cache, address resolution with retries, the Neighbor
//! Solicitation responder for our addresses, unsolicited Neighbor
//! Advertisements at start, and ICMPv6 echo replies. The IPv6 sibling
//! of `neighbour.rs` (cache) and `respond.rs` (ARP/ICMP answers): pure,
//! time passed in as milliseconds, frames in as bytes and out as
//! [`Action`]s, so it is tested byte for byte.
//!
//! What comes from where:
//!
//! * Validation of every message: `wire::icmpv6` (RFC 4861 §7.1.1,
//!   §7.1.2) after `wire::ipv6::walk_extensions`; fragmented ND
//!   messages are dropped (RFC 6980 §5).
//! * NS received (§7.2.3): answered only for one of our addresses; from
//!   a unicast source, with a solicited NA (S = 1, O = 1) to the source,
//!   at its Source Link-Layer Address or else the frame's source MAC,
//!   and the source is learned from that option (entry created or
//!   replaced); from `::` (a duplicate address detection probe, §7.2.4),
//!   with an NA to all nodes (S = 0, O = 1) and nothing learned.
//! * NA received (§7.2.5): updates an entry that exists, never creates
//!   one; with O = 0 it does not replace a known MAC; without a Target
//!   Link-Layer Address it only confirms a known one. An NA for one of
//!   our own addresses is another node claiming it (RFC 4862 §5.4.4):
//!   reported as [`Action::Conflict`].
//! * Resolution (§7.2.2, §7.3.3, constants of §10): an unresolved entry
//!   that is wanted gets `MAX_MULTICAST_SOLICIT` multicast NSs,
//!   `RETRANS_TIMER_MS` apart; a round without an answer is counted
//!   (`resolve_failed`) and the next round starts after a back-off
//!   (`FAILED_RETRY_MS` doubling to `FAILED_RETRY_MAX_MS`): las keeps
//!   asking for a next hop a session needs, where a host would give up.
//!   A resolved wanted entry is re-confirmed every `REACHABLE_TIME_MS`
//!   with up to `MAX_UNICAST_SOLICIT` unicast NSs; if none is answered
//!   (`probe_failed`) it goes back to multicast rounds but keeps its
//!   MAC meanwhile, as `neighbour.rs` does, so traffic is not cut by a
//!   lost probe. (The full RFC state machine's DELAY state waits for
//!   upper-layer hints, which a tunnel endpoint does not have.)
//! * Start (§7.2.6): `MAX_NEIGHBOR_ADVERTISEMENT` unsolicited NAs per
//!   address, `RETRANS_TIMER_MS` apart, to ff02::1.
//! * Echo (RFC 4443 §4.2): a request to one of our unicast addresses
//!   gets a reply with its identifier, sequence number and data.
//!
//! Bounds: the cache holds at most `capacity` entries. A new entry that
//! does not fit evicts the oldest learned entry nobody wants (counted in
//! `evicted`); if every entry is static or wanted it is refused (counted
//! in `cache_full`). A port has at most `MAX_ADDRESSES` addresses. Each
//! frame in gives at most one frame out; a poll at most one per entry and
//! one per address. Frames out are at most [`icmpv6::ND_FRAME_LEN`]
//! bytes, echo replies at most `MAX_ECHO_FRAME`.
use std::collections::HashMap;
use std::net::Ipv6Addr;

use crate::wire::ethernet::{self, ethertype, MacAddr};
use crate::wire::icmpv6::{self, Icmpv6Error, Icmpv6Repr, NaFlags};
use crate::wire::ipv4::protocol;
use crate::wire::ipv6::{self, ExtError, Ipv6Repr};

/// RFC 4861 §10: multicast NSs per resolution round.
pub const MAX_MULTICAST_SOLICIT: u32 = 3;
/// RFC 4861 §10: unicast NSs per reachability probe.
pub const MAX_UNICAST_SOLICIT: u32 = 3;
/// RFC 4861 §10: unsolicited NAs per address at start.
pub const MAX_NEIGHBOR_ADVERTISEMENT: u32 = 3;
/// RFC 4861 §10 RETRANS_TIMER: between NSs of a round, and between the
/// unsolicited NAs at start.
pub const RETRANS_TIMER_MS: u64 = 1000;
/// RFC 4861 §10 REACHABLE_TIME: a confirmed entry is probed again after
/// this long.
pub const REACHABLE_TIME_MS: u64 = 30_000;
/// Pause after a resolution round without an answer; doubles up to
/// `FAILED_RETRY_MAX_MS`.
pub const FAILED_RETRY_MS: u64 = 4000;
pub const FAILED_RETRY_MAX_MS: u64 = 60_000;
/// Cache size when the configuration does not say.
pub const DEFAULT_CAPACITY: usize = 1024;
/// Addresses per port (global and link-local together).
pub const MAX_ADDRESSES: usize = 8;
/// The largest echo reply las sends (a jumbo frame); larger requests are
/// dropped as `echo_too_big`.
pub const MAX_ECHO_FRAME: usize = 9216;

/// Why a frame handed to [`Neighbours6::frame_in`] was dropped. Each is
/// one counter, named by [`name`](Self::name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Nd6Drop {
    /// A port with no IPv6 identity ([`Neighbours6::set_port`]).
    UnknownPort,
    /// Shorter than an Ethernet header.
    Malformed,
    /// Not ethertype IPv6.
    NotIpv6,
    /// The IPv6 header or its extension headers are refused.
    Extension(ExtError),
    /// Not ICMPv6 (after the extension headers).
    NotIcmpv6,
    /// An IPv6 fragment (RFC 6980 §5 for ND; the control core does not
    /// reassemble echo requests either).
    Fragmented,
    /// The ICMPv6 message is refused.
    Icmpv6(Icmpv6Error),
    /// An NS whose target, or an echo request whose destination, is not
    /// one of the port's addresses.
    NotForUs,
    /// An echo request from `::`: there is no one to answer.
    EchoFromUnspecified,
    /// An echo request whose reply would exceed `MAX_ECHO_FRAME`.
    EchoTooBig,
}

const OWN: [Nd6Drop; 8] = [
    Nd6Drop::UnknownPort,
    Nd6Drop::Malformed,
    Nd6Drop::NotIpv6,
    Nd6Drop::NotIcmpv6,
    Nd6Drop::Fragmented,
    Nd6Drop::NotForUs,
    Nd6Drop::EchoFromUnspecified,
    Nd6Drop::EchoTooBig,
];

impl Nd6Drop {
    /// The number of distinct reasons (and counters).
    pub const COUNT: usize = OWN.len() + ExtError::COUNT + Icmpv6Error::COUNT;

    /// Every reason, in counter order.
    pub fn all() -> impl Iterator<Item = Nd6Drop> {
        OWN.into_iter()
            .chain(ExtError::ALL.iter().map(|&e| Nd6Drop::Extension(e)))
            .chain(Icmpv6Error::ALL.iter().map(|&e| Nd6Drop::Icmpv6(e)))
    }

    /// The counter's index, below [`COUNT`](Self::COUNT).
    pub fn index(self) -> usize {
        let pos = |all: &[Nd6Drop]| all.iter().position(|&d| d == self).unwrap_or(0);
        match self {
            Nd6Drop::Extension(e) => {
                OWN.len() + ExtError::ALL.iter().position(|&x| x == e).unwrap_or(0)
            }
            Nd6Drop::Icmpv6(e) => {
                OWN.len()
                    + ExtError::COUNT
                    + Icmpv6Error::ALL.iter().position(|&x| x == e).unwrap_or(0)
            }
            _ => pos(&OWN),
        }
    }

    /// The counter's name.
    pub const fn name(self) -> &'static str {
        match self {
            Nd6Drop::UnknownPort => "nd_unknown_port",
            Nd6Drop::Malformed => "nd_malformed",
            Nd6Drop::NotIpv6 => "nd_not_ipv6",
            Nd6Drop::Extension(e) => e.name(),
            Nd6Drop::NotIcmpv6 => "nd_not_icmpv6",
            Nd6Drop::Fragmented => "nd_fragmented",
            Nd6Drop::Icmpv6(e) => e.name(),
            // Not "..._us": Prometheus reads it as microseconds.
            Nd6Drop::NotForUs => "nd_not_for_this_node",
            Nd6Drop::EchoFromUnspecified => "icmpv6_echo_from_unspecified",
            Nd6Drop::EchoTooBig => "icmpv6_echo_too_big",
        }
    }
}

/// What the machine counts. Drops by reason in `drops` (see
/// [`Nd6Counters::drops`]); the rest are events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nd6Counters {
    /// Dropped frames, indexed by [`Nd6Drop::index`].
    pub drops: [u64; Nd6Drop::COUNT],
    /// Valid NSs received (for us or not).
    pub ns_rx: u64,
    /// Valid NAs received.
    pub na_rx: u64,
    /// Valid echo requests received.
    pub echo_requests_rx: u64,
    /// Valid echo replies received (las sends no requests: ignored).
    pub echo_replies_rx: u64,
    /// NAs sent: answers and unsolicited.
    pub na_tx: u64,
    /// NSs sent: resolution and probes.
    pub ns_tx: u64,
    pub echo_replies_tx: u64,
    /// Entries created by learning (an NS to us with a source address).
    pub learned: u64,
    /// A neighbour's MAC set or changed (templates to rebuild).
    pub changed: u64,
    /// NAs that changed nothing: no entry, a static entry, O = 0 against
    /// a known MAC, or no Target Link-Layer Address for an unresolved one.
    pub na_ignored: u64,
    /// Learned entries evicted to make room.
    pub evicted: u64,
    /// Entries refused: the cache was full of static and wanted entries.
    pub cache_full: u64,
    /// Resolution rounds with no answer.
    pub resolve_failed: u64,
    /// Reachability probes with no answer (the MAC is kept).
    pub probe_failed: u64,
    /// NAs from another node for one of our addresses.
    pub conflicts: u64,
}

impl Default for Nd6Counters {
    fn default() -> Self {
        Nd6Counters {
            drops: [0; Nd6Drop::COUNT],
            ns_rx: 0,
            na_rx: 0,
            echo_requests_rx: 0,
            echo_replies_rx: 0,
            na_tx: 0,
            ns_tx: 0,
            echo_replies_tx: 0,
            learned: 0,
            changed: 0,
            na_ignored: 0,
            evicted: 0,
            cache_full: 0,
            resolve_failed: 0,
            probe_failed: 0,
            conflicts: 0,
        }
    }
}

impl Nd6Counters {
    /// The count of one drop reason.
    pub fn dropped(&self, reason: Nd6Drop) -> u64 {
        self.drops.get(reason.index()).copied().unwrap_or(0)
    }

    /// Every drop reason with its name and count.
    pub fn drops(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        Nd6Drop::all().map(|d| (d.name(), self.dropped(d)))
    }
}

/// What the caller must do after [`Neighbours6::frame_in`] or
/// [`Neighbours6::poll`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send `frame` out of `port`.
    Send { port: usize, frame: Vec<u8> },
    /// `ip` on `port` is now at `mac` (new or changed): rebuild the
    /// templates that use it.
    Changed {
        port: usize,
        ip: Ipv6Addr,
        mac: [u8; 6],
    },
    /// Another node, at `mac`, advertises our address `ip`.
    Conflict {
        port: usize,
        ip: Ipv6Addr,
        mac: [u8; 6],
    },
}

/// One neighbour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbour6 {
    pub mac: Option<[u8; 6]>,
    pub is_static: bool,
    /// Whether a session or the gateway needs this entry (we keep asking).
    pub wanted: bool,
    /// When the MAC was last set or confirmed (or the entry made).
    pub updated_ms: u64,
    /// NSs sent for this entry, all rounds.
    pub probes: u64,
    /// A resolved entry whose unicast probe went unanswered: asked by
    /// multicast, its MAC kept.
    pub stale: bool,
    next_probe_ms: u64,
    /// NSs sent in the current round.
    tries: u32,
    /// The pause after the next failed round.
    backoff_ms: u64,
}

impl Neighbour6 {
    fn new(mac: Option<[u8; 6]>, is_static: bool, wanted: bool, now_ms: u64) -> Self {
        Neighbour6 {
            mac,
            is_static,
            wanted,
            updated_ms: now_ms,
            probes: 0,
            stale: false,
            next_probe_ms: if is_static {
                u64::MAX
            } else if mac.is_some() {
                now_ms.saturating_add(REACHABLE_TIME_MS)
            } else {
                now_ms
            },
            tries: 0,
            backoff_ms: FAILED_RETRY_MS,
        }
    }

    /// The MAC is (re)confirmed now.
    fn confirm(&mut self, now_ms: u64) {
        self.updated_ms = now_ms;
        self.stale = false;
        self.tries = 0;
        self.backoff_ms = FAILED_RETRY_MS;
        self.next_probe_ms = now_ms.saturating_add(REACHABLE_TIME_MS);
    }
}

/// Our identity on a port.
#[derive(Debug, Clone)]
struct Port {
    mac: MacAddr,
    addrs: Vec<Ipv6Addr>,
    nas_left: u32,
    next_na_ms: u64,
}

/// IPv6 neighbours per (port index, address), and our addresses per port.
#[derive(Debug)]
pub struct Neighbours6 {
    ports: HashMap<usize, Port>,
    map: HashMap<(usize, Ipv6Addr), Neighbour6>,
    capacity: usize,
    pub counters: Nd6Counters,
}

impl Default for Neighbours6 {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

fn good_mac(mac: [u8; 6]) -> bool {
    mac[0] & 1 == 0 && mac != [0; 6]
}

fn good_neighbour(ip: Ipv6Addr) -> bool {
    !(ip.is_unspecified() || ip.is_multicast() || ip.is_loopback())
}

impl Neighbours6 {
    /// A machine whose cache holds at most `capacity` entries (at least 1).
    pub fn new(capacity: usize) -> Self {
        Neighbours6 {
            ports: HashMap::new(),
            map: HashMap::new(),
            capacity: capacity.max(1),
            counters: Nd6Counters::default(),
        }
    }

    /// Sets our MAC and addresses on `port` (replacing earlier ones), and
    /// schedules `MAX_NEIGHBOR_ADVERTISEMENT` unsolicited NAs for each
    /// address from `now_ms` on. Returns false, changing nothing, with
    /// no address, more than `MAX_ADDRESSES`, or one that is not unicast.
    pub fn set_port(&mut self, port: usize, mac: [u8; 6], addrs: &[Ipv6Addr], now_ms: u64) -> bool {
        if addrs.is_empty()
            || addrs.len() > MAX_ADDRESSES
            || !addrs.iter().all(|&a| good_neighbour(a))
            || !good_mac(mac)
        {
            return false;
        }
        self.ports.insert(
            port,
            Port {
                mac: MacAddr(mac),
                addrs: addrs.to_vec(),
                nas_left: MAX_NEIGHBOR_ADVERTISEMENT,
                next_na_ms: now_ms,
            },
        );
        true
    }

    /// Forgets our identity on `port` and every neighbour learned there.
    pub fn remove_port(&mut self, port: usize) {
        self.ports.remove(&port);
        self.map.retain(|&(p, _), _| p != port);
    }

    /// The Ethernet multicast groups `port` must receive: all nodes
    /// (33:33:00:00:00:01) and the solicited-node group of each address.
    pub fn multicast_macs(&self, port: usize) -> Vec<MacAddr> {
        let Some(p) = self.ports.get(&port) else {
            return vec![];
        };
        let mut v = vec![ipv6::multicast_mac(ipv6::ALL_NODES)];
        for &a in &p.addrs {
            let m = ipv6::multicast_mac(ipv6::solicited_node(a));
            if !v.contains(&m) {
                v.push(m);
            }
        }
        v
    }

    /// Whether `ip` is one of our addresses on `port`.
    pub fn is_ours(&self, port: usize, ip: Ipv6Addr) -> bool {
        self.ports.get(&port).is_some_and(|p| p.addrs.contains(&ip))
    }

    /// Makes room for one more entry: evicts the oldest learned entry
    /// that nobody wants. False if there is none.
    fn make_room(&mut self) -> bool {
        if self.map.len() < self.capacity {
            return true;
        }
        let victim = self
            .map
            .iter()
            .filter(|(_, e)| !e.is_static && !e.wanted)
            .min_by_key(|(k, e)| (e.updated_ms, **k))
            .map(|(k, _)| *k);
        match victim {
            Some(k) => {
                self.map.remove(&k);
                self.counters.evicted += 1;
                true
            }
            None => {
                self.counters.cache_full += 1;
                false
            }
        }
    }

    /// A static entry from the configuration: never probed, never
    /// replaced. False if the cache is full or the address or MAC is
    /// not a neighbour's.
    pub fn add_static(&mut self, port: usize, ip: Ipv6Addr, mac: [u8; 6]) -> bool {
        if !good_neighbour(ip) || !good_mac(mac) {
            return false;
        }
        if !self.map.contains_key(&(port, ip)) && !self.make_room() {
            return false;
        }
        self.map
            .insert((port, ip), Neighbour6::new(Some(mac), true, true, 0));
        true
    }

    /// A static entry taken out of the configuration: it becomes an
    /// unresolved wanted one, asked for now.
    pub fn remove_static(&mut self, port: usize, ip: Ipv6Addr, now_ms: u64) {
        if let Some(e) = self.map.get_mut(&(port, ip)).filter(|e| e.is_static) {
            *e = Neighbour6::new(None, false, true, now_ms);
        }
    }

    /// Registers that we need `ip` on `port`; it is asked for at the next
    /// poll if unknown. False if the cache has no room for it.
    pub fn want(&mut self, port: usize, ip: Ipv6Addr, now_ms: u64) -> bool {
        if !good_neighbour(ip) {
            return false;
        }
        if let Some(e) = self.map.get_mut(&(port, ip)) {
            e.wanted = true;
            return true;
        }
        if !self.make_room() {
            return false;
        }
        self.map
            .insert((port, ip), Neighbour6::new(None, false, true, now_ms));
        true
    }

    /// We no longer need `ip` on `port`: its entry stays while there is
    /// room, and is no longer probed.
    pub fn unwant(&mut self, port: usize, ip: Ipv6Addr) {
        if let Some(e) = self.map.get_mut(&(port, ip)).filter(|e| !e.is_static) {
            e.wanted = false;
        }
    }

    pub fn get(&self, port: usize, ip: Ipv6Addr) -> Option<[u8; 6]> {
        self.map.get(&(port, ip)).and_then(|n| n.mac)
    }

    pub fn entry(&self, port: usize, ip: Ipv6Addr) -> Option<&Neighbour6> {
        self.map.get(&(port, ip))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&(usize, Ipv6Addr), &Neighbour6)> {
        self.map.iter()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The source address for an NS about `target`: a link-local one of
    /// ours for a link-local target, else a global one, else the first.
    fn source_for(p: &Port, target: Ipv6Addr) -> Ipv6Addr {
        let ll = |a: &Ipv6Addr| a.segments()[0] & 0xffc0 == 0xfe80;
        let want_ll = ll(&target);
        p.addrs
            .iter()
            .copied()
            .find(|a| ll(a) == want_ll)
            .or_else(|| p.addrs.first().copied())
            .unwrap_or(Ipv6Addr::UNSPECIFIED)
    }

    /// Learns `ip` at `mac` from an NS aimed at us (RFC 4861 §7.2.3):
    /// creates or replaces the entry (static ones excepted).
    fn learn_from_ns(
        &mut self,
        port: usize,
        ip: Ipv6Addr,
        mac: [u8; 6],
        now_ms: u64,
        out: &mut Vec<Action>,
    ) {
        if !good_mac(mac) || !good_neighbour(ip) {
            return;
        }
        let changed = match self.map.get_mut(&(port, ip)) {
            Some(e) if e.is_static => false,
            Some(e) => {
                let changed = e.mac != Some(mac);
                e.mac = Some(mac);
                e.confirm(now_ms);
                changed
            }
            None => {
                if !self.make_room() {
                    return;
                }
                self.map
                    .insert((port, ip), Neighbour6::new(Some(mac), false, false, now_ms));
                self.counters.learned += 1;
                true
            }
        };
        if changed {
            self.counters.changed += 1;
            out.push(Action::Changed { port, ip, mac });
        }
    }

    /// An NA for `target` (RFC 4861 §7.2.5): updates an existing entry.
    fn learn_from_na(
        &mut self,
        port: usize,
        target: Ipv6Addr,
        flags: NaFlags,
        tlla: Option<MacAddr>,
        now_ms: u64,
        out: &mut Vec<Action>,
    ) {
        let tlla = tlla.map(|m| m.0).filter(|&m| good_mac(m));
        let Some(e) = self.map.get_mut(&(port, target)).filter(|e| !e.is_static) else {
            self.counters.na_ignored += 1;
            return;
        };
        let changed = match (e.mac, tlla) {
            (None, None) => {
                self.counters.na_ignored += 1;
                return;
            }
            (None, Some(m)) => {
                e.mac = Some(m);
                true
            }
            (Some(_), None) => false,
            (Some(old), Some(m)) if old == m => false,
            (Some(_), Some(m)) if flags.overrides() => {
                e.mac = Some(m);
                true
            }
            (Some(_), Some(_)) => {
                self.counters.na_ignored += 1;
                return;
            }
        };
        // A solicited NA confirms reachability; an unsolicited one that
        // sets a MAC is believed too (the RFC's STALE, probed later).
        if flags.solicited() || changed {
            e.confirm(now_ms);
        }
        if changed {
            let mac = e.mac.unwrap_or_default();
            self.counters.changed += 1;
            out.push(Action::Changed {
                port,
                ip: target,
                mac,
            });
        }
    }

    /// A frame the workers punted (ND or ICMPv6 for us), received on
    /// `port`. Answers go to `out` as [`Action::Send`], along with
    /// [`Action::Changed`] and [`Action::Conflict`]. On a drop, the
    /// reason is counted and returned.
    pub fn frame_in(
        &mut self,
        port: usize,
        frame: &[u8],
        now_ms: u64,
        out: &mut Vec<Action>,
    ) -> Result<(), Nd6Drop> {
        let r = self.handle(port, frame, now_ms, out);
        if let Err(d) = r {
            if let Some(c) = self.counters.drops.get_mut(d.index()) {
                *c += 1;
            }
        }
        r
    }

    fn handle(
        &mut self,
        port: usize,
        frame: &[u8],
        now_ms: u64,
        out: &mut Vec<Action>,
    ) -> Result<(), Nd6Drop> {
        let Some(p) = self.ports.get(&port) else {
            return Err(Nd6Drop::UnknownPort);
        };
        let (our_mac, addrs) = (p.mac, p.addrs.clone());
        let eth = ethernet::Frame::new_checked(frame).map_err(|_| Nd6Drop::Malformed)?;
        if eth.ethertype() != ethertype::IPV6 {
            return Err(Nd6Drop::NotIpv6);
        }
        let ipb = eth.payload();
        let w = ipv6::walk_extensions(
            ipb,
            ipv6::DEFAULT_MAX_EXTENSIONS,
            ipv6::DEFAULT_MAX_CHAIN_LEN,
        )
        .map_err(Nd6Drop::Extension)?;
        if w.fragment.is_some() {
            return Err(Nd6Drop::Fragmented);
        }
        if w.protocol != protocol::IPV6_ICMP {
            return Err(Nd6Drop::NotIcmpv6);
        }
        // The walk checked the header and lengths; these cannot fail.
        let ipp = ipv6::Packet::new_checked(ipb).map_err(|_| Nd6Drop::Malformed)?;
        let ip = Ipv6Repr::parse(&ipp).map_err(|_| Nd6Drop::Malformed)?;
        let end = ipv6::HEADER_LEN + ip.payload_len;
        let msg = ipb.get(w.offset..end).ok_or(Nd6Drop::Malformed)?;
        let repr =
            Icmpv6Repr::parse(&ip, &icmpv6::Packet::new_unchecked(msg)).map_err(Nd6Drop::Icmpv6)?;
        let src_mac = eth.src_addr();
        match repr {
            Icmpv6Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } => {
                self.counters.echo_requests_rx += 1;
                if !addrs.contains(&ip.dst) {
                    return Err(Nd6Drop::NotForUs);
                }
                if ip.src.is_unspecified() {
                    return Err(Nd6Drop::EchoFromUnspecified);
                }
                let r = Icmpv6Repr::EchoReply {
                    ident,
                    seq_no,
                    data,
                };
                let len = ethernet::HEADER_LEN + ipv6::HEADER_LEN + r.buffer_len();
                if len > MAX_ECHO_FRAME {
                    return Err(Nd6Drop::EchoTooBig);
                }
                let mut buf = vec![0u8; len];
                let n = icmpv6::emit_frame(&mut buf, our_mac, src_mac, ip.dst, ip.src, &r)
                    .map_err(|_| Nd6Drop::EchoTooBig)?;
                buf.truncate(n);
                self.counters.echo_replies_tx += 1;
                out.push(Action::Send { port, frame: buf });
            }
            Icmpv6Repr::EchoReply { .. } => self.counters.echo_replies_rx += 1,
            Icmpv6Repr::NeighborSolicit { target, source_lla } => {
                self.counters.ns_rx += 1;
                if !addrs.contains(&target) {
                    return Err(Nd6Drop::NotForUs);
                }
                let mut buf = vec![0u8; icmpv6::ND_FRAME_LEN];
                let n = if ip.src.is_unspecified() {
                    icmpv6::unsolicited_na(&mut buf, our_mac, target)
                } else {
                    if let Some(m) = source_lla {
                        self.learn_from_ns(port, ip.src, m.0, now_ms, out);
                    }
                    let to = source_lla.unwrap_or(src_mac);
                    icmpv6::solicited_na(&mut buf, our_mac, target, to, ip.src)
                };
                if let Ok(n) = n {
                    buf.truncate(n);
                    self.counters.na_tx += 1;
                    out.push(Action::Send { port, frame: buf });
                }
            }
            Icmpv6Repr::NeighborAdvert {
                flags,
                target,
                target_lla,
            } => {
                self.counters.na_rx += 1;
                if addrs.contains(&target) {
                    self.counters.conflicts += 1;
                    let mac = target_lla.unwrap_or(src_mac).0;
                    out.push(Action::Conflict {
                        port,
                        ip: target,
                        mac,
                    });
                    return Ok(());
                }
                self.learn_from_na(port, target, flags, target_lla, now_ms, out);
            }
        }
        Ok(())
    }

    /// Timers: the unsolicited NAs at start and the NSs that are due
    /// (resolution rounds and reachability probes). Frames go to `out`.
    pub fn poll(&mut self, now_ms: u64, out: &mut Vec<Action>) {
        let mut ports: Vec<usize> = self.ports.keys().copied().collect();
        ports.sort_unstable();
        for port in ports {
            let Some(p) = self.ports.get_mut(&port) else {
                continue;
            };
            if p.nas_left == 0 || now_ms < p.next_na_ms {
                continue;
            }
            p.nas_left -= 1;
            p.next_na_ms = now_ms.saturating_add(RETRANS_TIMER_MS);
            for &a in &p.addrs {
                let mut buf = vec![0u8; icmpv6::ND_FRAME_LEN];
                if let Ok(n) = icmpv6::unsolicited_na(&mut buf, p.mac, a) {
                    buf.truncate(n);
                    self.counters.na_tx += 1;
                    out.push(Action::Send { port, frame: buf });
                }
            }
        }
        let mut due: Vec<(usize, Ipv6Addr)> = self
            .map
            .iter()
            .filter(|(_, e)| !e.is_static && e.wanted && now_ms >= e.next_probe_ms)
            .map(|(k, _)| *k)
            .collect();
        due.sort_unstable();
        for (port, ip) in due {
            let Some(p) = self.ports.get(&port) else {
                continue;
            };
            let (our_mac, src) = (p.mac, Self::source_for(p, ip));
            let Some(e) = self.map.get_mut(&(port, ip)) else {
                continue;
            };
            let unicast = e.mac.filter(|_| !e.stale);
            let limit = if unicast.is_some() {
                MAX_UNICAST_SOLICIT
            } else {
                MAX_MULTICAST_SOLICIT
            };
            if e.tries >= limit {
                e.tries = 0;
                if unicast.is_some() {
                    // The probe failed: ask by multicast now, keep the MAC.
                    self.counters.probe_failed += 1;
                    e.stale = true;
                } else {
                    self.counters.resolve_failed += 1;
                    e.next_probe_ms = now_ms.saturating_add(e.backoff_ms);
                    e.backoff_ms = (e.backoff_ms * 2).min(FAILED_RETRY_MAX_MS);
                    continue;
                }
            }
            e.tries += 1;
            e.probes += 1;
            e.next_probe_ms = now_ms.saturating_add(RETRANS_TIMER_MS);
            let unicast = e.mac.filter(|_| !e.stale).map(MacAddr);
            let mut buf = vec![0u8; icmpv6::ND_FRAME_LEN];
            if let Ok(n) = icmpv6::neighbor_solicit(&mut buf, our_mac, src, ip, unicast) {
                buf.truncate(n);
                self.counters.ns_tx += 1;
                out.push(Action::Send { port, frame: buf });
            }
        }
    }
}

#[cfg(test)]
mod test {
    //! Frames in and out are the scapy-made, tshark-checked references of
    //! `wire::icmpv6`'s tests (see the comment there), or built by the
    //! `wire::icmpv6` emitters those references verify.
    use super::*;
    use crate::wire::icmpv6::test::{
        ECHO_REP, ECHO_REQ, NA_PEER, NA_SOL, NA_UNSOL, NS, NS_DAD, NS_OURS, NS_PROBE,
    };

    const OUR_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const PEER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x0a];
    const OTHER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x0b];
    const OUR: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
    const PEER: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x0a);
    const AT: usize = 54;

    fn machine(capacity: usize) -> Neighbours6 {
        let mut n = Neighbours6::new(capacity);
        assert!(n.set_port(0, OUR_MAC, &[OUR], 0));
        let mut out = vec![];
        n.poll(0, &mut out); // the first unsolicited NA
        n
    }

    fn send(frame: &[u8]) -> Action {
        Action::Send {
            port: 0,
            frame: frame.to_vec(),
        }
    }

    /// Frames of the `Send`s in `out`.
    fn frames(out: &[Action]) -> Vec<&[u8]> {
        out.iter()
            .filter_map(|a| match a {
                Action::Send { frame, .. } => Some(&frame[..]),
                _ => None,
            })
            .collect()
    }

    /// An NA from PEER (at `eth_mac`) with these fields, to OUR.
    fn na(target: Ipv6Addr, flags: NaFlags, tlla: Option<[u8; 6]>) -> Vec<u8> {
        let r = Icmpv6Repr::NeighborAdvert {
            flags,
            target,
            target_lla: tlla.map(MacAddr),
        };
        let mut b = vec![0u8; 128];
        let n = icmpv6::emit_frame(&mut b, MacAddr(PEER_MAC), MacAddr(OUR_MAC), PEER, OUR, &r);
        b.truncate(n.unwrap());
        b
    }

    /// An NS for OUR from `src` at `mac`, with that SLLA.
    fn ns_from(src: Ipv6Addr, mac: [u8; 6]) -> Vec<u8> {
        let r = Icmpv6Repr::NeighborSolicit {
            target: OUR,
            source_lla: Some(MacAddr(mac)),
        };
        let mut b = vec![0u8; 128];
        let n = icmpv6::emit_frame(&mut b, MacAddr(mac), MacAddr(OUR_MAC), src, OUR, &r);
        b.truncate(n.unwrap());
        b
    }

    fn refill(frame: &mut [u8]) {
        let ip = ipv6::Packet::new_checked(&frame[14..]).unwrap();
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        let end = 54 + usize::from(ip.payload_len());
        icmpv6::Packet::new_unchecked(&mut frame[AT..end]).fill_checksum(src, dst);
    }

    /// `frame` with `chain` (extension headers, the last one's next
    /// header ICMPv6) put between the IPv6 header and the message.
    fn with_extensions(frame: &[u8], first: u8, chain: &[u8]) -> Vec<u8> {
        let mut v = frame[..AT].to_vec();
        let pl = u16::from_be_bytes([v[18], v[19]]) + chain.len() as u16;
        v[18..20].copy_from_slice(&pl.to_be_bytes());
        v[20] = first;
        v.extend_from_slice(chain);
        v.extend_from_slice(&frame[AT..]);
        v
    }

    #[test]
    fn ns_for_us_is_answered_and_source_learned() {
        let mut n = machine(16);
        let mut out = vec![];
        assert_eq!(n.frame_in(0, &NS, 5, &mut out), Ok(()));
        assert_eq!(
            out,
            vec![
                Action::Changed {
                    port: 0,
                    ip: PEER,
                    mac: PEER_MAC
                },
                send(&NA_SOL),
            ]
        );
        assert_eq!(n.get(0, PEER), Some(PEER_MAC));
        let c = &n.counters;
        assert_eq!((c.ns_rx, c.na_tx, c.learned, c.changed), (1, 2, 1, 1));
        // Learned, not wanted: never probed.
        out.clear();
        n.poll(1_000_000, &mut out);
        assert!(frames(&out).iter().all(|f| f[..] == NA_UNSOL[..]));
        // Again: answered, nothing changed.
        out.clear();
        n.frame_in(0, &NS, 6, &mut out).unwrap();
        assert_eq!(out, vec![send(&NA_SOL)]);
    }

    /// An NS without a Source Link-Layer Address (a unicast probe) is
    /// answered at the frame's source MAC, and teaches nothing.
    #[test]
    fn ns_without_slla_answered_to_frame_source() {
        let mut n = machine(16);
        let r = Icmpv6Repr::NeighborSolicit {
            target: OUR,
            source_lla: None,
        };
        let mut b = vec![0u8; 128];
        let len = icmpv6::emit_frame(&mut b, MacAddr(PEER_MAC), MacAddr(OUR_MAC), PEER, OUR, &r);
        b.truncate(len.unwrap());
        let mut out = vec![];
        n.frame_in(0, &b, 0, &mut out).unwrap();
        assert_eq!(out, vec![send(&NA_SOL)]);
        assert_eq!(n.get(0, PEER), None);
    }

    #[test]
    fn dad_probe_answered_to_all_nodes() {
        let mut n = machine(16);
        let mut out = vec![];
        n.frame_in(0, &NS_DAD, 0, &mut out).unwrap();
        assert_eq!(out, vec![send(&NA_UNSOL)]);
        assert!(n.is_empty());
    }

    #[test]
    fn ns_for_another_target_is_not_answered() {
        let mut n = Neighbours6::new(16);
        let two: Ipv6Addr = "2001:db8::2".parse().unwrap();
        assert!(n.set_port(0, OUR_MAC, &[two], 0));
        let mut out = vec![];
        assert_eq!(n.frame_in(0, &NS, 0, &mut out), Err(Nd6Drop::NotForUs));
        assert!(out.is_empty() && n.is_empty());
        assert_eq!(n.counters.dropped(Nd6Drop::NotForUs), 1);
        assert_eq!(n.counters.ns_rx, 1);
    }

    #[test]
    fn echo_request_answered() {
        let mut n = machine(16);
        let mut out = vec![];
        n.frame_in(0, &ECHO_REQ, 0, &mut out).unwrap();
        assert_eq!(out, vec![send(&ECHO_REP)]);
        assert_eq!(n.counters.echo_replies_tx, 1);
        // A reply is only counted; a request to another address dropped.
        out.clear();
        n.frame_in(0, &ECHO_REP, 0, &mut out).unwrap();
        assert!(out.is_empty());
        assert_eq!(n.counters.echo_replies_rx, 1);
        let mut b = ECHO_REQ;
        b[53] = 2;
        refill(&mut b);
        assert_eq!(n.frame_in(0, &b, 0, &mut out), Err(Nd6Drop::NotForUs));
    }

    #[test]
    fn unsolicited_nas_at_start() {
        let mut n = Neighbours6::new(16);
        assert!(n.set_port(0, OUR_MAC, &[OUR], 100));
        let mut times = vec![];
        for t in (0..10_000).step_by(100) {
            let mut out = vec![];
            n.poll(t, &mut out);
            for f in frames(&out) {
                assert_eq!(f, &NA_UNSOL[..]);
                times.push(t);
            }
        }
        assert_eq!(times, vec![100, 1100, 2100]);
        assert_eq!(n.counters.na_tx, 3);
    }

    #[test]
    fn resolution_retries_then_backs_off() {
        let mut n = machine(16);
        assert!(n.want(0, PEER, 0));
        let mut times = vec![];
        for t in (0..20_000).step_by(100) {
            let mut out = vec![];
            n.poll(t, &mut out);
            for f in frames(&out) {
                if f[..] != NA_UNSOL[..] {
                    assert_eq!(f, &NS_OURS[..]);
                    times.push(t);
                }
            }
        }
        // Three NSs 1 s apart (RFC 4861 §10), then 4 s, then 8 s pauses.
        assert_eq!(times, vec![0, 1000, 2000, 7000, 8000, 9000, 18000, 19000]);
        assert_eq!(n.counters.resolve_failed, 2);
        assert_eq!(n.entry(0, PEER).unwrap().probes, 8);
        assert_eq!(n.get(0, PEER), None);
    }

    #[test]
    fn na_resolves_then_probes_unicast_then_multicast() {
        let mut n = machine(16);
        n.want(0, PEER, 0);
        let mut out = vec![];
        n.poll(0, &mut out);
        assert_eq!(frames(&out), vec![&NS_OURS[..]]);
        out.clear();
        n.frame_in(0, &NA_PEER, 10, &mut out).unwrap();
        assert_eq!(
            out,
            vec![Action::Changed {
                port: 0,
                ip: PEER,
                mac: PEER_MAC
            }]
        );
        assert_eq!(n.get(0, PEER), Some(PEER_MAC));
        let ns_at = |n: &mut Neighbours6, t| {
            let mut out = vec![];
            n.poll(t, &mut out);
            frames(&out)
                .into_iter()
                .filter(|f| f[..] != NA_UNSOL[..])
                .map(|f| f.to_vec())
                .collect::<Vec<_>>()
        };
        assert!(ns_at(&mut n, 5000).is_empty());
        let t0 = 10 + REACHABLE_TIME_MS;
        assert!(ns_at(&mut n, t0 - 1).is_empty());
        for i in 0..3 {
            assert_eq!(ns_at(&mut n, t0 + i * 1000), vec![NS_PROBE.to_vec()]);
        }
        // Unanswered: multicast, MAC kept.
        assert_eq!(ns_at(&mut n, t0 + 3000), vec![NS_OURS.to_vec()]);
        assert_eq!(n.counters.probe_failed, 1);
        assert_eq!(n.get(0, PEER), Some(PEER_MAC));
        assert!(n.entry(0, PEER).unwrap().stale);
        // The answer confirms it: no change reported, unicast again later.
        out.clear();
        n.frame_in(0, &NA_PEER, t0 + 3500, &mut out).unwrap();
        assert!(out.is_empty());
        assert!(!n.entry(0, PEER).unwrap().stale);
        assert!(ns_at(&mut n, t0 + 4000).is_empty());
        let t1 = t0 + 3500 + REACHABLE_TIME_MS;
        assert_eq!(ns_at(&mut n, t1), vec![NS_PROBE.to_vec()]);
    }

    #[test]
    fn na_update_rules() {
        let mut n = machine(16);
        let mut out = vec![];
        let so = NaFlags::SOLICITED | NaFlags::OVERRIDE;
        // No entry: not created (RFC 4861 §7.2.5).
        n.frame_in(0, &NA_PEER, 0, &mut out).unwrap();
        assert!(out.is_empty() && n.is_empty());
        assert_eq!(n.counters.na_ignored, 1);
        // Unresolved, no Target Link-Layer Address: nothing to learn.
        n.want(0, PEER, 0);
        n.frame_in(0, &na(PEER, so, None), 0, &mut out).unwrap();
        assert_eq!((n.get(0, PEER), n.counters.na_ignored), (None, 2));
        // Resolved; O = 0 with another MAC does not replace it.
        n.frame_in(0, &NA_PEER, 1, &mut out).unwrap();
        out.clear();
        let other = na(PEER, NaFlags::SOLICITED, Some(OTHER_MAC));
        n.frame_in(0, &other, 2, &mut out).unwrap();
        assert!(out.is_empty());
        assert_eq!((n.get(0, PEER), n.counters.na_ignored), (Some(PEER_MAC), 3));
        // O = 1 (unsolicited, to us) does.
        let other = na(PEER, NaFlags::OVERRIDE, Some(OTHER_MAC));
        n.frame_in(0, &other, 3, &mut out).unwrap();
        assert_eq!(
            out,
            vec![Action::Changed {
                port: 0,
                ip: PEER,
                mac: OTHER_MAC
            }]
        );
        // A multicast or zero MAC is never learned.
        out.clear();
        n.frame_in(
            0,
            &na(PEER, so, Some([0x33, 0x33, 0, 0, 0, 1])),
            4,
            &mut out,
        )
        .unwrap();
        assert_eq!((out.len(), n.get(0, PEER)), (0, Some(OTHER_MAC)));
    }

    #[test]
    fn na_for_our_address_is_a_conflict() {
        let mut n = machine(16);
        let mut out = vec![];
        let b = na(OUR, NaFlags::OVERRIDE, Some(PEER_MAC));
        n.frame_in(0, &b, 0, &mut out).unwrap();
        assert_eq!(
            out,
            vec![Action::Conflict {
                port: 0,
                ip: OUR,
                mac: PEER_MAC
            }]
        );
        assert_eq!(n.counters.conflicts, 1);
        assert!(n.is_empty());
    }

    #[test]
    fn static_wins_and_is_never_probed() {
        let mut n = machine(16);
        assert!(n.add_static(0, PEER, OTHER_MAC));
        let mut out = vec![];
        n.frame_in(0, &NS, 0, &mut out).unwrap();
        assert_eq!(out, vec![send(&NA_SOL)]);
        n.frame_in(0, &NA_PEER, 0, &mut out).unwrap();
        assert_eq!(n.get(0, PEER), Some(OTHER_MAC));
        out.clear();
        n.poll(10_000_000, &mut out);
        assert!(frames(&out).iter().all(|f| f[..] == NA_UNSOL[..]));
        // Taken out of the configuration: asked for at once.
        n.remove_static(0, PEER, 20_000_000);
        assert_eq!(n.get(0, PEER), None);
        out.clear();
        n.poll(20_000_000, &mut out);
        let ns: Vec<_> = frames(&out)
            .into_iter()
            .filter(|f| f[..] != NA_UNSOL[..])
            .collect();
        assert_eq!(ns, vec![&NS_OURS[..]]);
        assert!(!n.add_static(0, PEER, [1, 0, 0, 0, 0, 1]));
        assert!(!n.add_static(0, "ff02::1".parse().unwrap(), PEER_MAC));
    }

    #[test]
    fn cache_is_bounded() {
        let mut n = machine(2);
        let addr = |i: u16| Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 1, i);
        let mut out = vec![];
        for i in 1..=3u16 {
            let f = ns_from(addr(i), [2, 0, 0, 0, 1, i as u8]);
            n.frame_in(0, &f, u64::from(i), &mut out).unwrap();
        }
        // The oldest learned entry made room; every NS was answered.
        assert_eq!(n.len(), 2);
        assert_eq!(n.get(0, addr(1)), None);
        assert_eq!(n.get(0, addr(3)), Some([2, 0, 0, 0, 1, 3]));
        assert_eq!(n.counters.evicted, 1);
        assert_eq!(frames(&out).len(), 3);
        // Wanted entries push learned ones out, never each other.
        assert!(n.want(0, PEER, 10));
        assert!(n.want(0, addr(9), 10));
        assert_eq!(n.counters.evicted, 3);
        assert!(!n.want(0, addr(10), 10));
        assert!(!n.add_static(0, addr(11), OTHER_MAC));
        assert_eq!(n.counters.cache_full, 2);
        // A learned source that does not fit is not learned; still answered.
        out.clear();
        n.frame_in(0, &ns_from(addr(4), OTHER_MAC), 11, &mut out)
            .unwrap();
        assert_eq!((frames(&out).len(), n.len()), (1, 2));
        assert_eq!(n.counters.cache_full, 3);
        // Unwanted, an entry can go.
        n.unwant(0, PEER);
        assert!(n.want(0, addr(10), 12));
        assert_eq!(n.get(0, PEER), None);
    }

    #[test]
    fn malformed_frames_are_counted() {
        let mut n = machine(16);
        let dest = |next: u8, len: u8| {
            let mut h = vec![next, len, 1, 4 + len * 8, 0, 0, 0, 0];
            h.resize(8 + usize::from(len) * 8, 0);
            h
        };
        let mut cases: Vec<(Vec<u8>, Nd6Drop)> = vec![];
        cases.push((NS[..60].to_vec(), Nd6Drop::Extension(ExtError::Truncated)));
        let mut b = NS;
        b[85] ^= 1;
        cases.push((b.to_vec(), Nd6Drop::Icmpv6(Icmpv6Error::BadChecksum)));
        let mut b = NS;
        b[21] = 254;
        cases.push((b.to_vec(), Nd6Drop::Icmpv6(Icmpv6Error::BadHopLimit)));
        let mut b = NS;
        b[AT + 25] = 0;
        refill(&mut b);
        cases.push((b.to_vec(), Nd6Drop::Icmpv6(Icmpv6Error::ZeroLengthOption)));
        let mut b = NS;
        b[AT + 8] = 0xff; // target ff..
        refill(&mut b);
        cases.push((b.to_vec(), Nd6Drop::Icmpv6(Icmpv6Error::MulticastTarget)));
        // Nine Destination Options headers before the NS.
        let mut chain = vec![];
        for i in 0..9 {
            chain.extend(dest(if i == 8 { 58 } else { 60 }, 0));
        }
        cases.push((
            with_extensions(&NS, 60, &chain),
            Nd6Drop::Extension(ExtError::TooManyExtensions),
        ));
        // One is fine.
        let ok = with_extensions(&NS, 60, &dest(58, 0));
        let mut out = vec![];
        assert_eq!(n.frame_in(0, &ok, 0, &mut out), Ok(()));
        assert_eq!(frames(&out), vec![&NA_SOL[..]]);
        // A header longer than the packet.
        let mut b = with_extensions(&NS, 60, &dest(58, 0));
        b[AT + 1] = 10;
        cases.push((b, Nd6Drop::Extension(ExtError::ChainTruncated)));
        // A fragment (M = 1) holding the NS.
        let frag = [58, 0, 0, 1, 0, 0, 0, 9];
        cases.push((with_extensions(&NS, 44, &frag), Nd6Drop::Fragmented));
        // UDP, not ICMPv6; ARP; a runt; a port we do not serve.
        let mut b = NS;
        b[20] = 17;
        cases.push((b.to_vec(), Nd6Drop::NotIcmpv6));
        let mut b = NS;
        b[12..14].copy_from_slice(&[0x08, 0x06]);
        cases.push((b.to_vec(), Nd6Drop::NotIpv6));
        cases.push((NS[..13].to_vec(), Nd6Drop::Malformed));
        let mut b = ECHO_REQ;
        b[22..38].fill(0);
        refill(&mut b);
        cases.push((b.to_vec(), Nd6Drop::EchoFromUnspecified));
        for (frame, want) in &cases {
            let mut out = vec![];
            assert_eq!(n.frame_in(0, frame, 0, &mut out), Err(*want), "{want:?}");
            assert!(out.is_empty(), "{want:?}");
            assert_eq!(n.counters.dropped(*want), 1, "{want:?}");
        }
        let mut out = vec![];
        assert_eq!(n.frame_in(7, &NS, 0, &mut out), Err(Nd6Drop::UnknownPort));
        let total: u64 = n.counters.drops().map(|(_, c)| c).sum();
        assert_eq!(total, cases.len() as u64 + 1);
        assert_eq!(n.counters.drops().count(), Nd6Drop::COUNT);
    }

    #[test]
    fn drop_reasons_have_distinct_indices_and_names() {
        let all: Vec<_> = Nd6Drop::all().collect();
        assert_eq!(all.len(), Nd6Drop::COUNT);
        for (i, d) in all.iter().enumerate() {
            assert_eq!(d.index(), i, "{d:?}");
        }
        let mut names: Vec<_> = all.iter().map(|d| d.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Nd6Drop::COUNT);
    }

    #[test]
    fn port_identity() {
        let mut n = Neighbours6::new(16);
        let ll: Ipv6Addr = "fe80::1".parse().unwrap();
        let other: Ipv6Addr = "2001:db8::abcd:1234".parse().unwrap();
        assert!(n.set_port(3, OUR_MAC, &[OUR, ll, other], 0));
        assert_eq!(
            n.multicast_macs(3),
            vec![
                MacAddr([0x33, 0x33, 0, 0, 0, 1]),
                MacAddr([0x33, 0x33, 0xff, 0, 0, 1]),
                MacAddr([0x33, 0x33, 0xff, 0xcd, 0x12, 0x34]),
            ]
        );
        assert!(n.multicast_macs(0).is_empty());
        assert!(n.is_ours(3, ll) && !n.is_ours(0, ll));
        // A link-local target is asked from our link-local address.
        let peer_ll: Ipv6Addr = "fe80::a".parse().unwrap();
        n.want(3, peer_ll, 0);
        n.want(3, PEER, 0);
        let mut out = vec![];
        n.poll(0, &mut out);
        let srcs: Vec<Ipv6Addr> = frames(&out)
            .iter()
            .filter(|f| f[AT] == icmpv6::msg_type::NEIGHBOR_SOLICIT)
            .map(|f| ipv6::Packet::new_checked(&f[14..]).unwrap().src_addr())
            .collect();
        assert_eq!(srcs, vec![OUR, ll]);
        // Bad identities are refused.
        let many = [OUR; MAX_ADDRESSES + 1];
        assert!(!n.set_port(1, OUR_MAC, &many, 0));
        assert!(!n.set_port(1, OUR_MAC, &[], 0));
        assert!(!n.set_port(1, OUR_MAC, &[ipv6::ALL_NODES], 0));
        assert!(!n.set_port(1, [0xff; 6], &[OUR], 0));
        n.remove_port(3);
        assert!(n.is_empty());
        assert_eq!(n.frame_in(3, &NS, 0, &mut out), Err(Nd6Drop::UnknownPort));
    }

    /// Mutated reference frames: no panic, and every frame out is an
    /// IPv6 frame no longer than the bounds.
    #[test]
    fn random_frames_never_panic() {
        let mut next = crate::testing::xorshift(0x0123_4567_89ab_cdef);
        let seeds: [&[u8]; 6] = [&NS, &NS_DAD, &NA_PEER, &ECHO_REQ, &NA_SOL, &NS_OURS];
        let mut n = machine(8);
        n.want(0, PEER, 0);
        for round in 0..30_000u64 {
            let mut f = seeds[(next() % 6) as usize].to_vec();
            for _ in 0..(next() % 4) {
                let i = (next() as usize) % f.len();
                f[i] = next() as u8;
            }
            if next().is_multiple_of(4) {
                f.truncate((next() as usize) % (f.len() + 1));
            }
            if next().is_multiple_of(2) && f.len() >= AT + 4 {
                let ip = ipv6::Packet::new_checked(&f[14..]);
                if let Ok(ip) = ip {
                    let end = 14 + 40 + usize::from(ip.payload_len());
                    let (s, d) = (ip.src_addr(), ip.dst_addr());
                    if end <= f.len() && end >= AT + 4 {
                        icmpv6::Packet::new_unchecked(&mut f[AT..end]).fill_checksum(s, d);
                    }
                }
            }
            let mut out = vec![];
            let _ = n.frame_in(0, &f, round, &mut out);
            n.poll(round * 37, &mut out);
            for a in out {
                if let Action::Send { frame, .. } = a {
                    assert!(frame.len() <= MAX_ECHO_FRAME);
                    assert_eq!(&frame[12..14], &[0x86, 0xdd]);
                }
            }
            assert!(n.len() <= 8);
        }
    }
}
