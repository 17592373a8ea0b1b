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
}

macro_rules! drop_reasons {
    ($( $(#[doc = $doc:literal])* $var:ident = $name:literal ),+ $(,)?) => {
        /// Why a packet was dropped. Doubles as the index of its counter.
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
        }
    };
}

drop_reasons! {
    /// Outer frame too short or its IPv4 header inconsistent.
    Malformed = "malformed",
    /// Outer IPv4 header checksum wrong.
    BadIpChecksum = "bad_ip_checksum",
    /// Not addressed to one of our IPv4 addresses, or an ethertype we do not terminate.
    NotForUs = "not_for_us",
    /// The outer frame carries a VLAN tag the port is not configured for.
    UnderlayVlan = "underlay_vlan",
    /// IPv4 protocol or UDP port that las does not terminate.
    UnsupportedProtocol = "unsupported_protocol",
    /// L2TP over UDP with a version other than 3.
    BadL2tpVersion = "bad_l2tp_version",
    /// An outer IPv4 fragment and reassembly is off for the port.
    OuterFragment = "outer_fragment",
    /// Fragments freed by reassembly: timed out, overlapping, too many
    /// fragments, or the table full.
    ReassemblyFailed = "reassembly_failed",
    /// Data for a session id we do not know.
    UnknownSession = "unknown_session",
    /// Session known but the packet came over the other encapsulation (IP vs UDP) or UDP port.
    EncapMismatch = "encap_mismatch",
    /// Data from an address other than the session's peer.
    SourceMismatch = "source_mismatch",
    /// The cookie does not match the one configured for the session.
    CookieMismatch = "cookie_mismatch",
    /// Default L2-specific sublayer sequence number older than expected.
    SequenceError = "sequence_error",
    /// The inner Ethernet frame is shorter than an Ethernet header.
    InnerMalformed = "inner_malformed",
    /// A VLAN-tagged inner frame in a switch in `drop-tagged` mode (or a
    /// tag the switch's VLAN mode refuses).
    VlanTagged = "vlan_tagged",
    /// An untagged frame from or to an Ethernet VLAN pseudowire (PW type
    /// 4): RFC 4448 tagged mode, as RFC 4719 applies it, puts a VLAN tag
    /// on every frame of such a pseudowire.
    UntaggedOnVlanPw = "untagged_on_vlan_pw",
    /// Broadcast beyond the member's storm-control rate.
    StormBroadcast = "storm_broadcast",
    /// Multicast beyond the member's storm-control rate.
    StormMulticast = "storm_multicast",
    /// Unknown unicast beyond the member's storm-control rate.
    StormUnknownUnicast = "storm_unknown_unicast",
    /// The member is blocked for MAC flapping (a loop).
    MemberBlocked = "member_blocked",
    /// Outer fragmentation failed (no mbufs, or DF set).
    FragmentFailed = "fragment_failed",
    /// The inner ethertype is not allowed in the virtual switch.
    FilteredEthertype = "filtered_ethertype",
    /// IEEE reserved group address (STP BPDU, LACP, LLDP, 802.1X, pause): never crosses.
    FilteredBpdu = "filtered_bpdu",
    /// Unicast to a MAC learned on the member the frame came from.
    SameMember = "same_member",
    /// Flooded in a switch with no other member.
    NoFloodTarget = "no_flood_target",
    /// The egress session's next hop MAC is not resolved yet.
    NoNeighbour = "no_neighbour",
    /// Too little headroom to prepend the encapsulation.
    NoHeadroom = "no_headroom",
    /// The encapsulated packet would exceed the egress port MTU.
    MtuExceeded = "mtu_exceeded",
    /// No mbuf for a flood copy.
    NoMbuf = "no_mbuf",
    /// The NIC refused the packet (TX queue full).
    TxFull = "tx_full",
    /// The punt ring to the control core was full.
    PuntRingFull = "punt_ring_full",
    /// More control-plane packets than `[l2tp] punt_rate` allows.
    PuntRateLimited = "punt_rate_limited",
    /// L2TP control message from a peer outside `[l2tp] allow`.
    ControlRefused = "control_refused",
}

/// Per-session traffic counters (one set per worker, summed when read).
#[derive(Default, Debug)]
pub struct SessionCounters {
    pub rx_packets: Counter,
    pub rx_bytes: Counter,
    pub tx_packets: Counter,
    pub tx_bytes: Counter,
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
    /// table full).
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
}

impl WorkerCounters {
    pub fn new(sessions: usize, switches: usize, ports: usize) -> Self {
        WorkerCounters {
            drops: std::array::from_fn(|_| Counter::default()),
            sessions: (0..sessions).map(|_| SessionCounters::default()).collect(),
            switches: (0..switches).map(|_| SwitchCounters::default()).collect(),
            ports: (0..ports).map(|_| PortCounters::default()).collect(),
            events_lost: Counter::default(),
            commands: Counter::default(),
            busy_cycles: Counter::default(),
            rx_total: Counter::default(),
            loops: Counter::default(),
            reassembled: Counter::default(),
        }
    }

    #[inline(always)]
    pub fn drop(&self, r: DropReason) {
        self.drops[r as usize].inc();
    }
}

#[cfg(test)]
mod test {
    use super::*;

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
    fn counter_adds() {
        let w = WorkerCounters::new(2, 2, 1);
        w.drop(DropReason::TxFull);
        w.drop(DropReason::TxFull);
        w.sessions[1].rx_bytes.add(1500);
        assert_eq!(w.drops[DropReason::TxFull as usize].get(), 2);
        assert_eq!(w.drops[DropReason::Malformed as usize].get(), 0);
        assert_eq!(w.sessions[1].rx_bytes.get(), 1500);
    }
}
