//! Per-worker counters.
//!
//! Each counter has exactly one writer (the worker that owns it) and any
//! number of readers (telemetry). `Counter::add` is a relaxed load + store,
//! not an atomic read-modify-write, so the fast path pays no locked
//! instruction; readers never see torn values. Totals are summed over
//! workers only when read.
use std::sync::atomic::{AtomicU64, Ordering};

/// A single-writer monotonically increasing counter.
#[derive(Default, Debug)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`. Only the owning thread may call this.
    #[inline(always)]
    pub fn add(&self, n: u64) {
        let v = self.0.load(Ordering::Relaxed);
        self.0.store(v.wrapping_add(n), Ordering::Relaxed);
    }
    #[inline(always)]
    pub fn inc(&self) {
        self.add(1)
    }
    #[inline(always)]
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
    /// Stores `v`: for a gauge (a level, not a count). Only the owning
    /// thread may call this.
    #[inline(always)]
    pub fn set(&self, v: u64) {
        self.0.store(v, Ordering::Relaxed);
    }
}

/// Where in a packet's life a drop happens; the counter identity that
/// `las show counters` adds up depends on it.
///
/// * `Ingress`: the fate of a frame a worker received (or of a packet it
///   reassembled): every received frame ends in exactly one of
///   `unicast`, `flooded` (switch counters), `punted` (port counter), one
///   ingress drop, or reassembly (held, or merged into a reassembled
///   packet that then has its own fate):
///   `rx = unicast + flooded + punted + Σ ingress drops + reassembly_held
///   + reassembled_fragments - reassembled`.
/// * `Egress`: one copy on its way out to one member (a unicast frame, or
///   one target of a flood) or a packet the NIC refused. The frame was
///   already counted as `unicast` or `flooded`.
/// * `Control`: a punted packet the control core drops (already counted
///   as `punted`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    Ingress,
    Egress,
    Control,
}

macro_rules! drop_reasons {
    ($( $(#[doc = $doc:literal])* $var:ident = $name:literal, $stage:ident ),+ $(,)?) => {
        /// Why a packet was dropped. Doubles as the index of its counter.
        /// Each reason means one thing.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum DropReason { $( $(#[doc = $doc])* $var ),+ }

        impl DropReason {
            pub const ALL: &'static [DropReason] = &[ $(DropReason::$var),+ ];
            pub const COUNT: usize = Self::ALL.len();
            /// The counter's name as shown by `las show counters`.
            pub const fn name(self) -> &'static str {
                match self { $(DropReason::$var => $name),+ }
            }
            /// Where the drop happens (see [`Stage`]).
            pub const fn stage(self) -> Stage {
                match self { $(DropReason::$var => Stage::$stage),+ }
            }
            /// The reason named `name`.
            pub fn from_name(name: &str) -> Option<DropReason> {
                Self::ALL.iter().copied().find(|r| r.name() == name)
            }
        }
    };
}

drop_reasons! {
    /// Outer frame shorter than an Ethernet header, or its IPv4 or UDP
    /// header inconsistent (truncated, IHL < 5, version not 4, lengths
    /// beyond the frame); or, never expected, outer headers that do not
    /// lie in the packet's first segment.
    Malformed = "malformed", Ingress,
    /// Outer IPv4 header checksum wrong.
    BadIpChecksum = "bad_ip_checksum", Ingress,
    /// Not addressed to one of our IPv4 or IPv6 addresses, or an
    /// ethertype we do not terminate (LLDP, ...; IPv6 on a port without
    /// `address6`).
    NotForUs = "not_for_us", Ingress,
    /// An outer IPv6 fragment (a Fragment header that is not atomic) to
    /// us that las does not reassemble: reassembly is off for the port,
    /// or the Fragment header is not right after the IPv6 header (what
    /// `rte_ip_frag` handles), or a reassembled packet is a fragment
    /// again.
    Ipv6Fragment = "ipv6_fragment", Ingress,
    /// More outer IPv6 extension headers, or more bytes of them, than
    /// las walks (`worker::classify6`).
    Ipv6TooManyExtensions = "ipv6_too_many_extensions", Ingress,
    /// An outer IPv6 extension header las cannot walk (ESP, Mobility,
    /// HIP, Shim6, experimental) or an unknown next header.
    Ipv6UnknownExtension = "ipv6_unknown_extension", Ingress,
    /// An outer IPv6 extension header chain that is invalid: truncated,
    /// Hop-by-Hop not first, a bad or discard-type option, a Routing
    /// header with segments left, an impossible fragment.
    Ipv6BadExtension = "ipv6_bad_extension", Ingress,
    /// The outer frame carries a VLAN tag (0x8100, 0x88a8 or 0x9100) the
    /// port is not configured for.
    UnderlayVlan = "underlay_vlan", Ingress,
    /// IPv4 protocol or UDP port that las does not terminate.
    UnsupportedProtocol = "unsupported_protocol", Ingress,
    /// L2TP over UDP with a version other than 3.
    BadL2tpVersion = "bad_l2tp_version", Ingress,
    /// L2TPv3 data header cut short: over IP fewer than 4 bytes (session
    /// id), over UDP fewer than 2 (flags/version) or, for data (T = 0),
    /// fewer than 8 (flags, reserved, session id).
    L2tpTruncated = "l2tp_truncated", Ingress,
    /// L2TPv3 data (T = 0) over UDP with session id 0, which no session
    /// has (RFC 3931 §4.1: session id 0 is reserved for control messages).
    ZeroSessionId = "zero_session_id", Ingress,
    /// An outer IPv4 fragment and reassembly is off for the port.
    OuterFragment = "outer_fragment", Ingress,
    /// Fragments freed by reassembly: timed out, overlapping, too many
    /// fragments, or the table full.
    ReassemblyFailed = "reassembly_failed", Ingress,
    /// An exact duplicate (same source, destination, ident, IPv4
    /// protocol, offset, length and M flag) of an outer IPv4 or IPv6
    /// fragment held in reassembly, dropped before `rte_ip_frag`, which
    /// would fail the whole datagram on it (networks may duplicate
    /// packets; Linux drops such duplicates the same way).
    DuplicateFragment = "duplicate_fragment", Ingress,
    /// Fragments still waiting in reassembly when las stopped (freed then).
    ReassemblyPendingAtStop = "reassembly_pending_at_stop", Ingress,
    /// Data for a session id we do not know.
    UnknownSession = "unknown_session", Ingress,
    /// Session known but the packet came over the other encapsulation (IP vs UDP).
    EncapMismatch = "encap_mismatch", Ingress,
    /// Everything matches the session (peer address, session id, cookie)
    /// but the UDP source port: the peer's NAT gave it a new port? Data
    /// never moves a session; the control core asks the peer on that port
    /// with a HELLO, and its answer moves the tunnel.
    UdpPortChanged = "udp_port_changed", Ingress,
    /// Data from an address other than the session's peer.
    SourceMismatch = "source_mismatch", Ingress,
    /// The cookie does not match the one configured for the session.
    CookieMismatch = "cookie_mismatch", Ingress,
    /// Default L2-specific sublayer sequence number older than expected.
    SequenceError = "sequence_error", Ingress,
    /// The inner Ethernet frame is shorter than an Ethernet header.
    InnerMalformed = "inner_malformed", Ingress,
    /// A VLAN-tagged inner frame in a switch in `drop-tagged` mode (or a
    /// tag the switch's VLAN mode refuses).
    VlanTagged = "vlan_tagged", Ingress,
    /// An untagged frame from an Ethernet VLAN pseudowire (PW type 4):
    /// RFC 4448 tagged mode, as RFC 4719 applies it, puts a VLAN tag on
    /// every frame of such a pseudowire.
    UntaggedOnVlanPw = "untagged_on_vlan_pw", Ingress,
    /// Broadcast beyond the member's storm-control rate.
    StormBroadcast = "storm_broadcast", Ingress,
    /// Multicast beyond the member's storm-control rate.
    StormMulticast = "storm_multicast", Ingress,
    /// Unknown unicast beyond the member's storm-control rate.
    StormUnknownUnicast = "storm_unknown_unicast", Ingress,
    /// The member is blocked for MAC flapping (a loop).
    MemberBlocked = "member_blocked", Ingress,
    /// The inner ethertype is not allowed in the virtual switch.
    FilteredEthertype = "filtered_ethertype", Ingress,
    /// IEEE reserved group address (STP BPDU, LACP, LLDP, 802.1X, pause): never crosses.
    FilteredBpdu = "filtered_bpdu", Ingress,
    /// An inner frame whose source MAC is a group (multicast or
    /// broadcast) address: invalid (IEEE 802.3 §3.2.3), never learned or
    /// forwarded.
    GroupSourceMac = "group_source_mac", Ingress,
    /// An inner frame whose source MAC is a static entry of another
    /// member: static entries never move, and the frame (a spoof, or a
    /// host that moved against the configuration) is dropped.
    StaticMacConflict = "static_mac_conflict", Ingress,
    /// Unicast to a MAC learned on the member the frame came from.
    SameMember = "same_member", Ingress,
    /// Unicast from a mesh pseudowire to a MAC learned on another mesh
    /// pseudowire: the mesh split-horizon group never forwards inside
    /// itself (a full mesh reaches every node in one hop).
    SplitHorizon = "split_horizon", Ingress,
    /// Flooded in a switch with no other member.
    NoFloodTarget = "no_flood_target", Ingress,
    /// The session's switch was removed while the frame was in flight.
    SwitchGone = "switch_gone", Ingress,
    /// The punt ring to the control core was full.
    PuntRingFull = "punt_ring_full", Ingress,
    /// More control-plane packets (L2TP control, ICMP) than `[l2tp]
    /// punt_rate` allows.
    PuntRateLimited = "punt_rate_limited", Ingress,
    /// More neighbour discovery (ARP, ICMPv6 ND) than `[l2tp] punt_rate`
    /// allows: a bucket of its own (`worker::punt`).
    NeighbourRateLimited = "neighbour_rate_limited", Ingress,
    /// The egress member (session) was removed while the frame was in flight.
    EgressGone = "egress_gone", Egress,
    /// An untagged frame to an Ethernet VLAN pseudowire (PW type 4),
    /// which carries only tagged frames (see `untagged_on_vlan_pw`).
    UntaggedToVlanPw = "untagged_to_vlan_pw", Egress,
    /// The egress session's next hop MAC is not resolved yet.
    NoNeighbour = "no_neighbour", Egress,
    /// Too little headroom to prepend the encapsulation.
    NoHeadroom = "no_headroom", Egress,
    /// The encapsulated packet would exceed the egress port MTU.
    MtuExceeded = "mtu_exceeded", Egress,
    /// Outer fragmentation failed (no mbufs, or DF set).
    FragmentFailed = "fragment_failed", Egress,
    /// No mbuf for a flood copy.
    NoMbuf = "no_mbuf", Egress,
    /// The NIC refused the packet (TX queue full).
    TxFull = "tx_full", Egress,
    /// A frame for a sequenced session owned by another worker found the
    /// ring to that worker full (see `sequencer_handoff`).
    SequencerRingFull = "sequencer_ring_full", Egress,
    /// L2TP control message from a peer outside `[l2tp] allow`.
    ControlRefused = "control_refused", Control,
}

/// Drop counters of one thread (a worker, or the control core), indexed
/// by [`DropReason`]; single writer like every [`Counter`].
#[derive(Debug)]
pub struct DropCounters([Counter; DropReason::COUNT]);

impl Default for DropCounters {
    fn default() -> Self {
        DropCounters(std::array::from_fn(|_| Counter::default()))
    }
}

impl DropCounters {
    #[inline(always)]
    pub fn drop(&self, r: DropReason) {
        self.0[r as usize].inc();
    }
    #[inline(always)]
    pub fn add(&self, r: DropReason, n: u64) {
        self.0[r as usize].add(n);
    }
    pub fn get(&self, r: DropReason) -> u64 {
        self.0[r as usize].get()
    }
}

/// Per-session traffic counters (one set per worker, summed when read).
#[derive(Default, Debug)]
pub struct SessionCounters {
    pub rx_packets: Counter,
    pub rx_bytes: Counter,
    pub tx_packets: Counter,
    pub tx_bytes: Counter,
}

impl SessionCounters {
    /// Adds `packets` received, `bytes` long in all. Owner only.
    pub fn add_rx(&self, packets: u64, bytes: u64) {
        self.rx_packets.add(packets);
        self.rx_bytes.add(bytes);
    }

    /// Adds `packets` sent, `bytes` long in all. Owner only.
    pub fn add_tx(&self, packets: u64, bytes: u64) {
        self.tx_packets.add(packets);
        self.tx_bytes.add(bytes);
    }

    /// Starts all four from zero (a new session in a reused slot). Owner
    /// only.
    pub fn reset(&self) {
        for c in [
            &self.rx_packets,
            &self.rx_bytes,
            &self.tx_packets,
            &self.tx_bytes,
        ] {
            c.set(0);
        }
    }
}

/// Per-virtual-switch counters.
#[derive(Default, Debug)]
pub struct SwitchCounters {
    /// Frames received from members (after decapsulation and filters).
    pub rx_packets: Counter,
    pub rx_bytes: Counter,
    /// Known-unicast frames forwarded to one member.
    pub unicast: Counter,
    /// Frames flooded (broadcast, multicast, unknown unicast).
    pub flooded: Counter,
    /// Copies made for flooding.
    pub flood_copies: Counter,
    /// Frames dropped by the switch's filter.
    pub filtered: Counter,
    /// Source MACs that could not be learned (switch or member limit,
    /// table full, or learned and taken back because the event ring to
    /// the control core was full: see `Worker::switch`).
    pub learn_failed: Counter,
    /// TCP SYNs whose MSS option was lowered.
    pub mss_clamped: Counter,
    /// Frames sent as outer IPv4 fragments (mtu_policy = "fragment").
    pub fragmented: Counter,
}

/// Per-port counters kept by las (the device's own are read from DPDK).
#[derive(Default, Debug)]
pub struct PortCounters {
    pub rx_packets: Counter,
    pub rx_bytes: Counter,
    pub tx_packets: Counter,
    pub tx_bytes: Counter,
    pub punted: Counter,
}

/// Everything one worker counts.
#[derive(Debug)]
pub struct WorkerCounters {
    pub drops: [Counter; DropReason::COUNT],
    pub sessions: Box<[SessionCounters]>,
    pub switches: Box<[SwitchCounters]>,
    pub ports: Box<[PortCounters]>,
    /// Learn/move/refresh events that did not fit in the event ring.
    pub events_lost: Counter,
    /// Control commands applied.
    pub commands: Counter,
    /// TSC cycles spent in loop iterations that received packets.
    pub busy_cycles: Counter,
    /// Packets received (all ports) — the denominator for cycles/packet.
    pub rx_total: Counter,
    /// Loop iterations.
    pub loops: Counter,
    /// Outer packets reassembled from fragments.
    pub reassembled: Counter,
    /// Fragments that went into those packets.
    pub reassembled_fragments: Counter,
    /// Fragments waiting in reassembly now (a gauge).
    pub reassembly_held: Counter,
    /// Live entries in the worker's MAC table (a gauge, set when the
    /// worker publishes its session counts: once a second, or when asked
    /// for fresh counters).
    pub mac_entries: Counter,
    /// Frames copied for `las capture` (all captures since start).
    pub capture_frames: Counter,
    /// Frames a capture wanted but found its ring full (not drops:
    /// forwarding went on).
    pub capture_ring_full: Counter,
    /// Frames a capture wanted beyond its rate cap (not drops either).
    pub capture_rate_capped: Counter,
    /// Frames for a sequenced session handed to the session's owning
    /// worker (which numbers and sends them) through a ring.
    pub sequencer_handoff: Counter,
    /// MACs the worker aged out of its own table: learned here, their
    /// learn event lost to a full event ring, so the control core never
    /// aged them (`MacTable::expire_local`).
    pub macs_aged_local: Counter,
    /// Data packets forwarded by the fast path (`worker::engine::fast`:
    /// known unicast of the common case, in the direct or the staged
    /// burst loop), added once per burst; every other packet took the
    /// full rules.
    pub fast_path: Counter,
}

/// A per-session table of counters. Workers publish into it in sweeps
/// (once a second, not per packet, since the counts moved into the lines
/// a packet reads anyway); with the data plane its memory is still
/// advised for transparent huge pages (`dpdk::huge_vec`).
fn table<T>(n: usize, f: impl Fn() -> T) -> Box<[T]> {
    #[cfg(feature = "dpdk")]
    return crate::dpdk::huge_vec(n, |_| f()).into_boxed_slice();
    #[cfg(not(feature = "dpdk"))]
    (0..n).map(|_| f()).collect()
}

impl WorkerCounters {
    pub fn new(sessions: usize, switches: usize, ports: usize) -> Self {
        WorkerCounters {
            drops: std::array::from_fn(|_| Counter::default()),
            sessions: table(sessions, SessionCounters::default),
            switches: (0..switches).map(|_| SwitchCounters::default()).collect(),
            ports: (0..ports).map(|_| PortCounters::default()).collect(),
            events_lost: Counter::default(),
            commands: Counter::default(),
            busy_cycles: Counter::default(),
            rx_total: Counter::default(),
            loops: Counter::default(),
            reassembled: Counter::default(),
            reassembled_fragments: Counter::default(),
            reassembly_held: Counter::default(),
            mac_entries: Counter::default(),
            capture_frames: Counter::default(),
            capture_ring_full: Counter::default(),
            capture_rate_capped: Counter::default(),
            sequencer_handoff: Counter::default(),
            macs_aged_local: Counter::default(),
            fast_path: Counter::default(),
        }
    }

    #[inline(always)]
    pub fn drop(&self, r: DropReason) {
        self.drops[r as usize].inc();
    }
}

/// The workers' counters that `las show counters` lists among the control
/// counters, summed over workers: reassembly (`reassembled`,
/// `reassembled_fragments`, `reassembly_held`; see [`Stage`] for how they
/// enter the counter identity) and live capture (`capture_frames`,
/// `capture_ring_full`, `capture_rate_capped`: copies, not packets; they
/// are outside the identity), `sequencer_handoff` (frames that
/// crossed to another worker: moved, not added, so outside it too), and
/// `macs_aged_local` (MACs, not packets).
pub fn worker_totals<'a>(
    workers: impl Iterator<Item = &'a WorkerCounters>,
) -> [(&'static str, u64); 8] {
    let mut t = [
        ("reassembled", 0),
        ("reassembled_fragments", 0),
        ("reassembly_held", 0),
        ("capture_frames", 0),
        ("capture_ring_full", 0),
        ("capture_rate_capped", 0),
        ("sequencer_handoff", 0),
        ("macs_aged_local", 0),
    ];
    for w in workers {
        t[0].1 += w.reassembled.get();
        t[1].1 += w.reassembled_fragments.get();
        t[2].1 += w.reassembly_held.get();
        t[3].1 += w.capture_frames.get();
        t[4].1 += w.capture_ring_full.get();
        t[5].1 += w.capture_rate_capped.get();
        t[6].1 += w.sequencer_handoff.get();
        t[7].1 += w.macs_aged_local.get();
    }
    t
}

#[cfg(test)]
mod test {
    use super::*;

    /// README's list of drop reasons names every reason, under its
    /// stage (one was once missing from it).
    #[test]
    fn readme_lists_every_reason_under_its_stage() {
        use crate::testing::{code_spans, repo_file, section};
        let readme = repo_file("README.md");
        // The three bullets of "Every packet las drops is counted ...".
        for r in DropReason::ALL {
            let (bullet, next) = match r.stage() {
                Stage::Ingress => ("* *ingress*", "* *egress*"),
                Stage::Egress => ("* *egress*", "* *control*"),
                Stage::Control => ("* *control*", "So every received frame"),
            };
            let names = code_spans(section(&readme, bullet, next));
            assert!(
                names.contains(r.name()),
                "README.md: drop reason {} is not listed under {bullet}",
                r.name()
            );
        }
    }

    #[test]
    fn names_unique_and_indexed() {
        let mut names: Vec<_> = DropReason::ALL.iter().map(|r| r.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), DropReason::COUNT);
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
        }
    }

    #[test]
    fn stages() {
        use DropReason::*;
        for r in [
            NoNeighbour,
            MtuExceeded,
            TxFull,
            EgressGone,
            UntaggedToVlanPw,
        ] {
            assert_eq!(r.stage(), Stage::Egress, "{}", r.name());
        }
        assert_eq!(ControlRefused.stage(), Stage::Control);
        for r in [
            UnknownSession,
            SwitchGone,
            GroupSourceMac,
            DuplicateFragment,
        ] {
            assert_eq!(r.stage(), Stage::Ingress, "{}", r.name());
        }
        for r in DropReason::ALL {
            assert_eq!(DropReason::from_name(r.name()), Some(*r));
        }
        assert_eq!(DropReason::from_name("nope"), None);
        let d = DropCounters::default();
        d.drop(ControlRefused);
        d.add(ControlRefused, 2);
        assert_eq!(d.get(ControlRefused), 3);
        assert_eq!(d.get(Malformed), 0);
    }

    #[test]
    fn counter_adds() {
        let w = WorkerCounters::new(2, 2, 1);
        w.drop(DropReason::TxFull);
        w.drop(DropReason::TxFull);
        w.sessions[1].rx_bytes.add(1500);
        assert_eq!(w.drops[DropReason::TxFull as usize].get(), 2);
        assert_eq!(w.drops[DropReason::Malformed as usize].get(), 0);
        assert_eq!(w.sessions[1].rx_bytes.get(), 1500);
    }

    #[test]
    fn session_counts_add_and_reset() {
        let c = SessionCounters::default();
        c.add_rx(2, 1460);
        c.add_rx(1, 60);
        c.add_tx(3, 180);
        let all = |c: &SessionCounters| {
            [&c.rx_packets, &c.rx_bytes, &c.tx_packets, &c.tx_bytes].map(Counter::get)
        };
        assert_eq!(all(&c), [3, 1520, 3, 180]);
        c.reset();
        assert_eq!(all(&c), [0; 4]);
    }
}
