//! The poll-mode worker: classify, decapsulate, switch, encapsulate, send.
//!
//! One `Worker` runs per worker lcore (or interleaved with the control loop
//! on a one-core box). It owns its RX queues, one TX queue on every port,
//! its MAC table replica and its counters. It talks to the control core
//! only through bounded queues: commands in, events and punted mbufs out.
//!
//! Per burst: `rx_burst` → for each packet classify once (outer Ethernet,
//! IPv4 or IPv6 for one of our addresses, protocol 115 or UDP to the L2TP
//! port) →
//! session lookup and checks → decapsulate by `adj` (no copy) → switch
//! policy and learning → forward to one member or flood (split horizon) →
//! prepend the member's prebuilt header template → collect per port →
//! one `tx_burst` per port at the end of the burst.
//!
//! Nothing here allocates, locks, formats or panics per packet; every drop
//! bumps the counter of its `DropReason`.
//!
//! Where this differs from `DESIGN.md`, and why:
//! * Sessions are found by one hash lookup on the local session id for
//!   static and dynamic sessions alike (DESIGN: a dense array for ids las
//!   assigns): the RFC 3931 machines choose dynamic ids at random from the
//!   whole 32-bit space (they must not be guessable). The lookup is a
//!   fixed, seeded open-addressing index (`super::sessions`) whose slots
//!   the burst loop prefetches; with 65,535 sessions `hashbrown` probing
//!   was a third of the worker's time (`perf/README.md`).
//! * The burst is processed in stages (see `Worker::burst`): parse all,
//!   find all sessions, hash all MAC keys and prefetch, decide every frame
//!   in order (decapsulate, policy, learn, look up), then carry the
//!   decisions out in order (`Act`: output or flood). Sending each frame
//!   as soon as it was decided read its egress session's line just after
//!   prefetching it; at 65,535 sessions that miss was the largest stall.
//!   While the tables fit in the caches (at most `DIRECT_MACS` MACs and
//!   `PRELOOKUP_SESSIONS` sessions) there is nothing to hide, and the
//!   stages' bookkeeping is what costs: such a burst takes the direct loop
//!   (`Worker::burst_direct`), one packet at a time through the same steps,
//!   each decision carried out at once: 11 % fewer instructions and ~15
//!   cycles a packet less at 1k MACs × 8 sessions (`perf/README.md`).
//!   In front of it sits a fast path for known unicast of the common
//!   case (`fast`, `Worker::fast_unicast`): read-only questions, the
//!   full rules' own, then one move of the data start and the template;
//!   anything else goes back to the full rules untouched. The staged
//!   loop takes the same fast path in stages (classify; session; the
//!   questions, MAC hashes and bucket prefetches; learn, look up and
//!   send), so that large tables pay for the full rules only where the
//!   fast path says no, and then carries every decision out in arrival
//!   order as it is made: ~210 fewer instructions a packet than the full
//!   rules in stages (`perf/README.md`). Its egress
//!   half (`encap_send`) sends flood copies too: `Worker::flood_bulk`
//!   gathers a flood's targets a batch at a time and makes each batch's
//!   copies in one call, and every egress slot keeps one precomputed
//!   limit (`Egress::fast_lim`) that answers whether a frame may take
//!   it.
//! * The control core's packets (ARP, ICMP, L2TP control) leave through its
//!   own TX queue when the device has one more queue than workers, and
//!   otherwise through worker 0's inject ring: `net_pcap` has as many TX
//!   queues as output files and `net_tap` wants as many TX as RX queues.
//! * Workers are EAL lcores launched with `rte_eal_remote_launch` (pinned
//!   by the EAL, per-lcore mempool caches work); `core_affinity` only
//!   checks `--cores` against the machine before the EAL starts.
//! * A worker tells the control core about an active MAC at most once per
//!   `[dataplane] mac_refresh` seconds, not per packet; the control core
//!   ages entries and removes them from every worker.
//! * Outer reassembly (`rte_ip_frag`) is wrapped so that a reassembled
//!   packet is as valid as a received one (header checksum filled, bytes
//!   pulled into the first segment), exact duplicate fragments are dropped
//!   before DPDK (which would fail the datagram on them; see
//!   `wire::ip_frag`), and every fragment is accounted for: held
//!   (`reassembly_held`), merged (`reassembled_fragments`), or dropped
//!   (`reassembly_failed`, `duplicate_fragment`, and at stop
//!   `reassembly_pending_at_stop`).
//! * Sequenced sessions (default sublayer with S = 1) have one owning
//!   worker, `member % workers`: frames for one egress session arrive on
//!   every worker (RSS spreads the *ingress* pseudowires), and a worker
//!   that is not the owner hands them, after the switch decision and
//!   before any egress work, to the owner through an SP/SC ring per pair
//!   of workers (`handoff_out`, enqueued once per burst; the egress
//!   member rides in the mbuf's tag). The owner drains its rings once per
//!   poll loop, then encapsulates, numbers (its own counter per session:
//!   a load and a store, no shared write) and sends on its TX queue. So
//!   the numbers of a session leave in order on one queue, consecutive
//!   whatever the number of workers; frames from one worker keep their
//!   order; a handed-off frame waits up to one poll loop of the owner. A
//!   full ring drops the frame (`sequencer_ring_full`); frames handed
//!   over are counted (`sequencer_handoff`). Unsequenced sessions (no
//!   sublayer, or S = 0) never cross workers and read no shared state.
//!   At stop an owner sends what it finds in its rings; frames a worker
//!   hands over after its owner has stopped are freed with the ring. The
//!   tag is a member slot, not a session: a frame still in a ring when
//!   its session is removed counts as `egress_gone`, or, if a new session
//!   took the slot in those microseconds, goes to that one.
//! * Per-session traffic counts are kept in the worker's own session
//!   state, next to what the packet reads anyway: receive counts in
//!   `Session` line 0 (the checks' line), send counts in the member's
//!   `Egress` line (the template's). A sweep over the member slots adds
//!   them into the shared per-session counters once a second, 64 slots per
//!   poll loop (`Publisher`), and at once when a count nears 2^31 bytes, a
//!   session is removed or replaced, or the worker stops. Views that show
//!   them (`las show sessions`, `counters`, `mesh`, the metrics) first ask
//!   every worker to publish and wait for it (`super::fresh_counters`, at
//!   most 200 ms). At 65,535 sessions the per-packet read-modify-writes of
//!   a separate counters table were two of the eight cache lines a packet
//!   needed (`perf/README.md`). A session added into a slot another one
//!   left starts its counters from zero (each worker zeroes its own).
//! * Flood copies of frames of at least `SHARE_MIN` bytes share the payload
//!   (header mbuf + indirect clone); smaller ones are copied. The threshold
//!   is an estimate (one cache-line-sized copy against two extra mbufs and
//!   reference counting), not yet measured.
//! * Pseudowires to IPv6 peers share everything past classification
//!   (`classify6`): the session check compares the outer source as an
//!   `IpAddr` (family and bytes), the template is an IPv6 one. Toward an
//!   IPv6 peer a frame that does not fit the port MTU is dropped
//!   (`mtu_exceeded`) whatever the switch's `mtu_policy`: IPv6 routers
//!   do not fragment and las does not fragment at the source. A computed
//!   UDP checksum over IPv6 costs one read of the inner frame
//!   (`Mbuf::checksum_sum`, in place across segments). Outer IPv6
//!   fragments go to the same reassembly table as IPv4 ones
//!   (`rte_ipv6_frag_reassemble_packet`) when their Fragment header
//!   follows the fixed header; others are `ipv6_fragment`. Exact duplicate
//!   fragments are dropped before DPDK as for IPv4 (`wire::ip_frag`).
//! * Live capture (`las capture`, see `super::capture`) has four points,
//!   each behind `if self.capturing`: outer frames as received (`burst`,
//!   before classification) and as queued for TX (`send`), inner frames
//!   entering the switch (`deliver`, after decapsulation) and leaving it
//!   (`output`, before encapsulation). A copy that does not fit is
//!   counted, never waited for.
#![forbid(unsafe_code)]

mod fast;

use fast::{Fast, FastKeys};

use super::capture::{Direction, Offer, Tap};
use super::decide::{self, DataPacket, Forward, PolicyView, RxSeq, RxSession};
use super::sessions::SessionIndex;
use super::{classify, Class, Command, Event, SessionSpec, SwitchSpec, WorkerShared, VLAN_DOMAINS};

use super::punt::{punt_class, PuntClass, TokenBucket};
use crate::dpdk::frag::Reassembly;
use crate::dpdk::{
    prefetch0, prefetch_lines, tsc, Burst, FragTable, HugeSlice, Mbuf, Mempool, RingConsumer,
    RingProducer, RxQueue, SharedMbuf, TxBuffer, TxQueue, MAX_BURST,
};
use crate::switch::mactable::{self, Hashed};
use crate::switch::policy::{MssResult, MtuPolicy, VlanDomains, VlanMode};
use crate::switch::storm::StormControl;
use crate::switch::{Learn, MacTable, MemberId, SwitchId};
use crate::telemetry::{DropReason, WorkerCounters};
use crate::wire::l2tp::encap::EncapTemplate;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

/// A port as the worker sees it (its queues are in `WorkerSetup`).
#[derive(Clone, Copy)]
pub struct WorkerPort {
    /// Our IPv4 address here; `Ipv4Addr::UNSPECIFIED` on an IPv6-only
    /// port, which `classify` never matches (IPv4 and ARP: `not_for_us`).
    pub address: Ipv4Addr,
    pub mtu: u16,
    /// The device transmits chained (multi-segment) mbufs.
    pub multi_seg: bool,
    /// Reassemble outer IPv4 and IPv6 fragments arriving here.
    pub reassembly: bool,
    /// Our IPv6 addresses here (global, link-local), if the port has
    /// `address6`.
    pub v6: Option<super::Ours6>,
    /// The device marks the IPv4 header checksum of what it receives
    /// good or bad (`dpdk::Port::rx_ip_checksum`): the burst loops then
    /// read the mark (`Mbuf::rx_ip_checksum_good`); on other ports they
    /// never do.
    pub checksum_marks: bool,
}

/// Flood copies of frames at least this long share the payload (see
/// `Worker::flood`); shorter ones are copied.
pub const SHARE_MIN: usize = 512;

/// Everything needed to build a worker.
pub struct WorkerSetup {
    pub id: usize,
    pub ports: Vec<WorkerPort>,
    /// (port index, RX queue) pairs this worker polls.
    pub rx: Vec<(usize, RxQueue)>,
    /// This worker's TX queue on every port, by port index.
    pub tx: Vec<TxQueue>,
    pub udp_port: u16,
    pub pool: Arc<Mempool>,
    pub shared: Arc<WorkerShared>,
    /// Worker → control: ARP, ICMP and L2TP control packets.
    pub punt: RingProducer,
    /// Control → worker: packets the control core wants sent on a port
    /// that has no TX queue of its own for the control core. The mbuf's
    /// port field holds the port index.
    pub inject: RingConsumer,
    /// Transmit sequence numbers for sequenced sessions, indexed by
    /// member; each is written only by the session's owning worker.
    pub tx_seq: Arc<[AtomicU32]>,
    /// Sequencer rings to every other worker, by worker id (None at our
    /// own id, so a single None with one worker).
    pub handoff_out: Vec<Option<RingProducer>>,
    /// Sequencer rings from every other worker.
    pub handoff_in: Vec<RingConsumer>,
    pub max_sessions: usize,
    pub max_switches: usize,
    pub mac_table_size: usize,
    pub mac_refresh: u32,
    pub tsc_hz: u64,
    /// Packets per RX burst.
    pub burst: usize,
    /// Packets punted to the control core per second (0 = no limit).
    pub punt_rate: u32,
    /// Outer IPv4 reassembly (None: fragments are dropped).
    pub frag: Option<FragTable>,
}

const ETH_LEN: usize = crate::wire::ethernet::HEADER_LEN;

const ETHERTYPE_IPV4: u16 = crate::wire::ethernet::ethertype::IPV4;
const ETHERTYPE_IPV6: u16 = crate::wire::ethernet::ethertype::IPV6;

/// Above this many sessions, `Worker::burst` looks destinations up once
/// ahead to prefetch the egress sessions (`perf/README.md`: it pays with
/// 4096 sessions and more, costs a few cycles with 8).
const PRELOOKUP_SESSIONS: usize = 256;

/// Packets between two stages of `Worker::burst_staged`'s pipeline: a
/// stage works on the packet `STAGE_LAG` places behind the one the stage
/// before it works on, so that a line prefetched for a packet has the
/// time of `STAGE_LAG` packets' work to arrive. At 1M MACs × 65,535
/// sessions 6 and 8 were 6–7 % faster than stages over the whole burst,
/// 2 was 8 % slower and 12 gave back part of the gain, on a quiet Intel
/// VM; on a busy AMD EPYC one no difference showed within its ±20 %
/// noise (`perf/README.md`, "A pipeline instead of stages").
const STAGE_LAG: usize = 8;

/// At most this many MACs in the worker's table (a bucket line each,
/// 512 KiB, about the L2 cache) and `PRELOOKUP_SESSIONS` sessions, a
/// burst takes the direct loop (`Worker::burst_direct`).
const DIRECT_MACS: usize = 8192;

/// Which burst loop the worker runs (`Worker::burst`). `Auto` picks by
/// the tables' size for each burst: the direct loop while they fit in
/// cache, the staged loop otherwise, both with the fast path for known
/// unicast (`Worker::fast_unicast`, in stages in the staged loop). The
/// environment variable `LAS_BURST_LOOP` forces one, for the tests that
/// cover each with small tables and for benchmarks: `staged`, `direct`
/// (both with the fast path), `staged-full` or `full` (the staged or the
/// direct loop with every packet through the full rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BurstLoop {
    Auto,
    Staged,
    StagedFull,
    Direct,
    Full,
}

impl BurstLoop {
    fn from_env() -> BurstLoop {
        match std::env::var("LAS_BURST_LOOP").as_deref() {
            Err(_) | Ok("" | "auto") => BurstLoop::Auto,
            Ok("staged") => BurstLoop::Staged,
            Ok("staged-full") => BurstLoop::StagedFull,
            Ok("direct") => BurstLoop::Direct,
            Ok("full") => BurstLoop::Full,
            Ok(v) => {
                log::warn!(
                    "LAS_BURST_LOOP={v:?} is not auto, staged, staged-full, direct or full: auto"
                );
                BurstLoop::Auto
            }
        }
    }
}

/// MAC tables bigger than this (bytes) get their buckets prefetched.
const PREFETCH_MACS_ABOVE: usize = 512 << 10;

/// Most buckets of the MAC table `Worker::age_local` looks at per step
/// (16 KiB). A step a millisecond, over a 1024th of the table, at least
/// one bucket and at most this many: a pass takes a second up to 16 MiB
/// of table (262,144 buckets), 4 s over the 64 MiB of a million MACs.
/// Small steps keep the events of a step within what the ring takes.
const AGE_CHUNK: usize = 256;

/// Switch counters of a run of packets of one switch (see `Worker::run`).
#[derive(Default)]
struct SwitchRun {
    sw: SwitchId,
    rx_packets: u64,
    rx_bytes: u64,
    unicast: u64,
}

impl SwitchRun {
    /// Writes the counts into `c` and starts a new run. (A method of the
    /// run, not of the worker, so that `switch` can call it while it
    /// holds the switch's state and counters.)
    #[inline(always)]
    fn flush(&mut self, c: &WorkerCounters) {
        let r = std::mem::take(self);
        if r.rx_packets == 0 && r.unicast == 0 {
            return;
        }
        if let Some(swc) = c.switches.get(r.sw.0 as usize) {
            swc.rx_packets.add(r.rx_packets);
            swc.rx_bytes.add(r.rx_bytes);
            swc.unicast.add(r.unicast);
        }
    }
}

/// What `switch` decided for a frame, carried out once the whole burst is
/// decided (`Worker::act_all`), in arrival order. A unicast's first read
/// of its `Egress` line is then a burst's work after the prefetch that
/// `burst` issued for it; acting at once had it miss there, the largest
/// stall at 65,535 sessions (`perf/stages.py`; perf/README.md, "The time
/// by stage, and acting after the burst"). The direct loop, which has
/// no prefetches to wait for, carries each one out at once (`Worker::act`).
enum Act {
    Unicast {
        m: Mbuf,
        ingress: MemberId,
        out: MemberId,
        sw: SwitchId,
    },
    Flood {
        m: Mbuf,
        ingress: MemberId,
        sw: SwitchId,
    },
}

/// Per-session counts above this many bytes are published at once
/// (they are `u32`; a frame adds at most 64 KiB).
const PUBLISH_BYTES: u32 = 1 << 31;

/// Member slots a worker publishes per poll loop (`Worker::publish_step`):
/// a sweep over 65,536 slots takes 1,024 loops, forwarding in between.
const PUBLISH_CHUNK: usize = 64;

/// Where the worker is in publishing its per-session counts (see
/// `Session::rx_packets`, `Egress::tx_packets`). A sweep over every member
/// slot starts once a second, or when the control core asks for fresh
/// counters (`WorkerShared::publish_request`); it goes `PUBLISH_CHUNK`
/// slots per poll loop and then tells the control core which request it
/// served (`WorkerShared::published`).
#[derive(Default)]
struct Publisher {
    /// The next slot of the sweep in progress.
    cursor: usize,
    sweeping: bool,
    /// The request the sweep in progress serves.
    serving: u64,
    /// The last request served.
    served: u64,
    /// TSC at which the next periodic sweep starts.
    next_tsc: u64,
}

/// What `output` reads of an egress member, one per member slot and
/// apart from `Session`: a frame to a member touches this one line (two
/// for headers that end past it, see `Worker::egress_lines`) and no
/// other, its counts included. Vacant slots have `live` false.
///
/// `tx_packets` and `tx_bytes` are the frames sent since the worker last
/// published them into the shared per-session counters (`Publisher`):
/// an add into the line the template was just read from, instead of a
/// read-modify-write of a counters line of its own (22 % of the worker at
/// 65,535 sessions, `perf/README.md`).
#[repr(C, align(64))]
struct Egress {
    tx_packets: u32,
    tx_bytes: u32,
    /// `Egress::LIVE`, `VLAN_PW` (`SessionSpec::vlan_pw`) and `MESH`
    /// (`SessionSpec::mesh`).
    flags: u8,
    port: u8,
    /// Inner frames shorter than this take `encap_send`: one more than
    /// the longest inner frame the port MTU allows behind the template,
    /// or 0 when none may (a vacant slot, a VLAN pseudowire, no template,
    /// a sequenced one, one that needs the inner checksum, a port
    /// without a TX queue here). Kept by `Egress::refresh_fast` whenever
    /// what it depends on changes, so that the fast path asks one
    /// question per frame instead of eight.
    fast_lim: u16,
    template: Option<EncapTemplate>,
}

/// Where the header bytes start in `Egress`.
const EGRESS_BYTES_OFFSET: usize =
    std::mem::offset_of!(Egress, template) + EncapTemplate::BYTES_OFFSET;

const _: () = {
    use std::mem::size_of;
    // The template's niche holds the Option's tag: the header bytes start
    // where the arithmetic above says (asserted for IPv4 below).
    assert!(size_of::<Option<EncapTemplate>>() == size_of::<EncapTemplate>());
    // An IPv4 header without cookie (with or without the default
    // sublayer, IP or UDP encapsulation without sublayer) ends in line 0.
    assert!(EGRESS_BYTES_OFFSET + 14 + 20 + 4 + 4 <= 64);
};

impl Egress {
    const LIVE: u8 = 1;
    const VLAN_PW: u8 = 2;
    const MESH: u8 = 4;

    const VACANT: Egress = Egress {
        tx_packets: 0,
        tx_bytes: 0,
        flags: 0,
        port: 0,
        fast_lim: 0,
        template: None,
    };

    #[inline(always)]
    fn live(&self) -> bool {
        self.flags & Self::LIVE != 0
    }

    #[inline(always)]
    fn vlan_pw(&self) -> bool {
        self.flags & Self::VLAN_PW != 0
    }

    #[inline(always)]
    fn mesh(&self) -> bool {
        self.flags & Self::MESH != 0
    }

    /// Sets `fast_lim` from the flags, the template and the port (`ports`
    /// by index; `tx` queues for the first `ntx` of them).
    fn refresh_fast(&mut self, ports: &[WorkerPort], ntx: usize) {
        let p = usize::from(self.port);
        self.fast_lim = match (&self.template, ports.get(p)) {
            (Some(t), Some(port))
                if self.live()
                    && !self.vlan_pw()
                    && !t.sequencing()
                    && !t.needs_inner_sum()
                    && p < ntx =>
            {
                let max = (usize::from(port.mtu) + ETH_LEN).saturating_sub(t.len());
                // Not even an Ethernet header fits: none may.
                if max < ETH_LEN {
                    0
                } else {
                    u16::try_from(max + 1).unwrap_or(u16::MAX)
                }
            }
            _ => 0,
        };
    }
}

/// A session (member) replica, one per member slot, indexed at random by
/// the burst loop; what sending to the member needs is in `Egress`.
///
/// Laid out by cache line (`repr(C, align(64))`, asserted below): line 0
/// holds everything the receive checks read (`Worker::check`) and the
/// receive counts not yet published (`rx_packets`, `rx_bytes`); the cold
/// rest follows. The burst loop prefetches line 0 (`prefetch_ingress`).
#[repr(C, align(64))]
struct Session {
    /// `spec.vlan_pw`.
    vlan_pw: bool,
    /// `spec.mesh`: in the mesh split-horizon group.
    mesh: bool,
    /// Flap blocking (`Command::BlockMember`): the checks compare
    /// `blocked_until` (cold) only while this is set.
    blocked: bool,
    switch: SwitchId,
    /// What the receive checks compare against (from `spec`).
    rx: RxSession,
    /// Receive sequencing (default sublayer).
    seq: RxSeq,
    /// Frames and bytes received since the worker last published them
    /// into the shared per-session counters (see `Publisher`).
    rx_packets: u32,
    rx_bytes: u32,
    /// When `Event::PeerPort` was last sent for this session (TSC).
    port_event_tsc: u64,
    /// Dropped until this TSC value while `blocked`.
    blocked_until: u64,
    spec: SessionSpec,
}

const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(offset_of!(Session, seq) + size_of::<RxSeq>() <= 64);
    assert!(offset_of!(Session, rx_bytes) + size_of::<u32>() <= 64);
    assert!(offset_of!(Session, blocked) < 64);
    // `Option<Session>` uses a niche: slots stay line-aligned.
    assert!(size_of::<Option<Session>>() == size_of::<Session>());
};

/// A data packet between the stages of `Worker::burst`: its session
/// passed the checks, and its MAC keys are hashed (buckets prefetched).
#[derive(Clone, Copy)]
struct Pending {
    member: MemberId,
    sw: SwitchId,
    vlan_pw: bool,
    inner_off: usize,
    end: usize,
    /// Source and destination keys in the switch's own domain; None when
    /// the switch is VLAN-aware (the domain is known only after policy).
    keys: Option<(Hashed, Hashed)>,
}

/// A classified data packet waiting for its session (stage 1 → 2).
#[derive(Clone, Copy)]
struct Found {
    member: MemberId,
    pkt: DataPacket,
}

struct Switch {
    members: Vec<MemberId>,
    spec: SwitchSpec,
    /// See `Command::SetMaxFrame`.
    max_frame: usize,
}

pub struct Worker {
    id: usize,
    /// Debug builds: panic at this loop count (env
    /// `LAS_FAILPOINT_WORKER_PANIC`), for the test that las stops.
    #[cfg(debug_assertions)]
    panic_at_loop: Option<u64>,
    ports: Vec<WorkerPort>,
    rx: Vec<(usize, RxQueue)>,
    tx: Vec<TxBuffer>,
    /// This worker's TX queue per port.
    txq: Vec<TxQueue>,
    udp_port: u16,
    pool: Arc<Mempool>,
    shared: Arc<WorkerShared>,
    punt: RingProducer,
    inject: RingConsumer,
    tx_seq: Arc<[AtomicU32]>,
    /// Sequencer rings by worker id, one entry per worker (None at our
    /// own id): owners of sequenced sessions are
    /// `member % handoff_out.len()`.
    handoff_out: Vec<Option<RingProducer>>,
    /// Frames collected per owning worker, enqueued once per burst.
    handoff_buf: Vec<TxBuffer>,
    handoff_in: Vec<RingConsumer>,
    sessions: HugeSlice<Option<Session>>,
    /// Per member slot, what sending to it reads (see `Egress`).
    egress: HugeSlice<Egress>,
    /// Lines of an `Egress` the burst loop prefetches: 1, or 2 once a
    /// template whose header ends past the first line was installed.
    egress_lines: usize,
    publisher: Publisher,
    /// The event ring refused an event in this poll loop (see `switch`).
    events_full: bool,
    by_id: SessionIndex,
    switches: Vec<Option<Switch>>,
    macs: MacTable,
    mac_refresh: u32,
    /// Where `age_local` goes on in the MAC table, and the TSC of its
    /// next step.
    age_cursor: usize,
    next_age_tsc: u64,
    tsc_hz: u64,
    start_tsc: u64,
    now: u32,
    ip_ident: u16,
    burst: Burst,
    burst_size: usize,
    /// Token buckets for punted packets (`worker::punt`): neighbour
    /// discovery, and everything else.
    punt_neighbour: TokenBucket,
    punt_other: TokenBucket,
    tsc_now: u64,
    frag: Option<FragTable>,
    last_frag_expiry: u64,
    storm: StormControl,
    /// (switch, VLAN) → learning domain, for VLAN-aware switches.
    vlans: VlanDomains,
    /// Switch counters summed over a run of packets of one switch and
    /// written once per run or burst (`SwitchRun::flush`): per-packet
    /// counter stores showed in the profile.
    run: SwitchRun,
    /// Decisions of this burst not yet carried out (`Act`), and the
    /// unicast counts of carrying them out (`run` counts what arrives,
    /// `out_run` what is sent; each leaves the other's fields at zero).
    /// Room for `MAX_BURST` is allocated at start; a burst decides at
    /// most that many.
    acts: Vec<Act>,
    burst_loop: BurstLoop,
    out_run: SwitchRun,
    /// Prefetch MAC-table buckets only when the table outgrows the L2
    /// cache (below that the prefetches cost more than they save).
    prefetch_macs: bool,
    /// A capture is armed (`tap` is set): the one branch an unarmed
    /// capture costs per capture point.
    capturing: bool,
    tap: Option<Tap>,
}

impl Worker {
    pub fn new(s: WorkerSetup) -> Worker {
        let nports = s.ports.len();
        let mut macs = MacTable::with_domains(
            s.mac_table_size,
            s.max_sessions,
            s.max_switches,
            VLAN_DOMAINS,
        );
        for sw in 0..s.max_switches {
            macs.set_switch_limit(SwitchId(sw as u16), 0);
        }
        let prefetch_macs = macs.buckets() * 64 > PREFETCH_MACS_ABOVE;
        crate::dpdk::advise_hugepages(macs.storage());
        macs.prefault();
        log::info!(
            "worker {}: MAC table of {} entries: {} buckets of 64 B, {:.1} MiB, {} bytes per entry",
            s.id,
            macs.capacity(),
            macs.buckets(),
            macs.bytes() as f64 / (1 << 20) as f64,
            macs.bytes() / macs.capacity().max(1)
        );
        let mut by_id = SessionIndex::new(s.max_sessions);
        crate::dpdk::advise_hugepages(by_id.storage());
        by_id.prefault();
        let slot = std::mem::size_of::<Option<Session>>() + std::mem::size_of::<Egress>();
        log::info!(
            "worker {}: {} session slots of {} B, {:.1} MiB",
            s.id,
            s.max_sessions,
            slot,
            (s.max_sessions * slot) as f64 / (1 << 20) as f64
        );
        let burst_loop = BurstLoop::from_env();
        if burst_loop != BurstLoop::Auto {
            log::info!(
                "worker {}: {burst_loop:?} burst loop (LAS_BURST_LOOP)",
                s.id
            );
        }
        Worker {
            #[cfg(debug_assertions)]
            panic_at_loop: std::env::var("LAS_FAILPOINT_WORKER_PANIC")
                .ok()
                .and_then(|v| v.parse().ok()),
            id: s.id,
            ports: s.ports,
            rx: s.rx,
            tx: (0..nports).map(|_| TxBuffer::new()).collect(),
            txq: s.tx,
            udp_port: s.udp_port,
            pool: s.pool,
            shared: s.shared,
            punt: s.punt,
            inject: s.inject,
            tx_seq: s.tx_seq,
            handoff_buf: (0..s.handoff_out.len()).map(|_| TxBuffer::new()).collect(),
            handoff_out: s.handoff_out,
            handoff_in: s.handoff_in,
            // Indexed at random per packet: huge pages (`HugeSlice`).
            sessions: HugeSlice::new(s.max_sessions, |_| None),
            egress: HugeSlice::new(s.max_sessions, |_| Egress::VACANT),
            egress_lines: 1,
            publisher: Publisher::default(),
            events_full: false,
            by_id,
            switches: (0..s.max_switches).map(|_| None).collect(),
            macs,
            mac_refresh: s.mac_refresh,
            age_cursor: 0,
            next_age_tsc: 0,
            tsc_hz: s.tsc_hz.max(1),
            start_tsc: tsc(),
            now: 0,
            ip_ident: (s.id as u16) << 12,
            burst: Burst::new(),
            burst_size: s.burst,
            punt_neighbour: TokenBucket::new(s.punt_rate.into(), s.tsc_hz, tsc()),
            punt_other: TokenBucket::new(s.punt_rate.into(), s.tsc_hz, tsc()),
            tsc_now: tsc(),
            frag: s.frag,
            last_frag_expiry: tsc(),
            storm: StormControl::new(s.max_sessions, s.tsc_hz.max(1)),
            vlans: VlanDomains::new(s.max_switches, VLAN_DOMAINS),
            run: SwitchRun::default(),
            acts: Vec::with_capacity(MAX_BURST),
            burst_loop,
            out_run: SwitchRun::default(),
            prefetch_macs,
            capturing: false,
            tap: None,
        }
    }

    pub fn id(&self) -> usize {
        self.id
    }

    /// Runs until `stop` is set. Polls RX only once the control core has
    /// programmed the worker and set `go`.
    pub fn run(&mut self, stop: &AtomicBool) {
        while !self.shared.go.load(Ordering::Acquire) {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            self.apply_commands();
            self.tsc_now = tsc();
            self.publish_step();
            crate::dpdk::pause();
        }
        while !stop.load(Ordering::Relaxed) {
            self.poll_once();
        }
        self.finish();
    }

    /// At stop: sends what is queued and frees the fragments still waiting
    /// in reassembly, counting them (`reassembly_pending_at_stop`), so the
    /// final report adds up. Call once the worker polls no more.
    pub fn finish(&mut self) {
        self.flush_all();
        // Frames other workers handed us before they stopped.
        self.drain_handoff();
        self.publish_all();
        if let Some(f) = self.frag.as_mut() {
            let n = f.drain();
            let c = &self.shared.counters;
            c.drops[DropReason::ReassemblyPendingAtStop as usize].add(n);
            c.reassembly_held.set(f.held());
        }
    }

    /// One iteration: apply commands, poll every owned RX queue once,
    /// drain the inject ring, flush TX. Returns packets received.
    pub fn poll_once(&mut self) -> usize {
        let c = &self.shared.counters;
        c.loops.inc();
        // Fault injection for tests (debug builds only): a worker that
        // panics must stop las, never leave its queues unserved.
        #[cfg(debug_assertions)]
        if self.panic_at_loop.is_some_and(|n| c.loops.get() >= n) {
            panic!(
                "LAS_FAILPOINT_WORKER_PANIC: worker {} panics as asked",
                self.id
            );
        }
        self.apply_commands();
        self.events_full = false;
        let t0 = tsc();
        self.tsc_now = t0;
        self.now = ((t0.wrapping_sub(self.start_tsc)) / self.tsc_hz) as u32;
        let mut total = 0;
        for i in 0..self.rx.len() {
            let pidx = self.rx[i].0;
            let n = self.rx[i].1.rx_burst(&mut self.burst, self.burst_size);
            if n == 0 {
                continue;
            }
            total += n;
            self.shared.counters.ports[pidx].rx_packets.add(n as u64);
            self.burst(pidx);
            self.flush_all();
        }
        self.drain_handoff();
        self.drain_inject();
        self.publish_step();
        self.age_local();
        if self.frag.is_some() && t0.wrapping_sub(self.last_frag_expiry) > self.tsc_hz / 10 {
            self.last_frag_expiry = t0;
            if let Some(f) = self.frag.as_mut() {
                let before = f.dropped();
                f.expire(t0);
                let lost = f.dropped() - before;
                let c = &self.shared.counters;
                c.drops[DropReason::ReassemblyFailed as usize].add(lost);
                c.reassembly_held.set(f.held());
            }
        }
        if total > 0 {
            let c = &self.shared.counters;
            c.rx_total.add(total as u64);
            c.busy_cycles.add(tsc().wrapping_sub(t0));
        }
        total
    }

    fn drain_inject(&mut self) {
        if self.inject.count() == 0 {
            return;
        }
        let mut b = Burst::new();
        self.inject.dequeue(&mut b);
        while let Some(m) = b.pop() {
            let pidx = m.port() as usize;
            if pidx < self.tx.len() {
                self.send(pidx, m);
            }
        }
        self.flush_all();
    }

    /// Numbers and sends the frames other workers handed us for the
    /// sequenced sessions we own (the egress member is the mbuf's tag).
    #[inline]
    fn drain_handoff(&mut self) {
        for i in 0..self.handoff_in.len() {
            if self.handoff_in[i].count() == 0 {
                continue;
            }
            let mut b = Burst::new();
            self.handoff_in[i].dequeue(&mut b);
            while let Some(m) = b.pop() {
                let member = MemberId(m.tag() as u16);
                self.output(m, member);
            }
            self.flush_all();
        }
    }

    #[inline]
    fn flush_all(&mut self) {
        for pidx in 0..self.tx.len() {
            self.flush(pidx);
        }
        self.flush_handoff();
    }

    /// Enqueues what this burst collected for other owners.
    #[inline]
    fn flush_handoff(&mut self) {
        for o in 0..self.handoff_buf.len() {
            if self.handoff_buf[o].is_empty() {
                continue;
            }
            let n = self.handoff_buf[o].len();
            let lost = match self.handoff_out[o].as_mut() {
                Some(r) => r.enqueue_all(&mut self.handoff_buf[o]),
                None => 0,
            };
            let c = &self.shared.counters;
            c.sequencer_handoff.add((n - lost) as u64);
            if lost > 0 {
                c.drops[DropReason::SequencerRingFull as usize].add(lost as u64);
            }
        }
    }

    /// Hands `m` (a frame for `member`, a sequenced session worker
    /// `owner` owns) to that worker.
    #[cold]
    fn hand_off(&mut self, mut m: Mbuf, member: MemberId, owner: usize) {
        m.set_tag(member.0.into());
        if let Err(m) = self.handoff_buf[owner].push(m) {
            self.flush_handoff();
            if self.handoff_buf[owner].push(m).is_err() {
                self.shared.counters.drop(DropReason::SequencerRingFull);
            }
        }
    }

    #[inline(always)]
    fn flush(&mut self, pidx: usize) {
        if self.tx[pidx].is_empty() {
            return;
        }
        let (sent, bytes, dropped) = self.txq[pidx].tx_burst(&mut self.tx[pidx]);
        let pc = &self.shared.counters.ports[pidx];
        pc.tx_packets.add(sent as u64);
        pc.tx_bytes.add(bytes);
        // What the NIC refused is freed here and counted as `tx_full`.
        if dropped > 0 {
            self.shared.counters.drops[DropReason::TxFull as usize].add(dropped as u64);
        }
    }

    /// Queues `m` for transmission on port `pidx`, flushing first if full.
    #[inline(always)]
    fn send(&mut self, pidx: usize, m: Mbuf) {
        self.capture_port(pidx, &m, Direction::Out);
        if let Err(m) = self.tx[pidx].push(m) {
            self.flush(pidx);
            if self.tx[pidx].push(m).is_err() {
                self.shared.counters.drop(DropReason::TxFull);
            }
        }
    }

    /// One received burst: staged while the tables are larger than the
    /// caches, direct while they fit (`BurstLoop`, `DIRECT_MACS`). Both
    /// count port `rx_bytes` once per burst and send in arrival order.
    #[inline(always)]
    fn burst(&mut self, pidx: usize) {
        let (direct, fast) = match self.burst_loop {
            BurstLoop::Auto => (
                self.macs.len() <= DIRECT_MACS && self.by_id.len() <= PRELOOKUP_SESSIONS,
                true,
            ),
            BurstLoop::Direct => (true, true),
            BurstLoop::Full => (true, false),
            BurstLoop::Staged => (false, true),
            BurstLoop::StagedFull => (false, false),
        };
        // The capture points are in the full rules.
        let fast = fast && !self.capturing;
        // A copy of each loop for ports whose device marks checksums, so
        // that the others do not pay for reading the mark.
        let marks = self.ports.get(pidx).is_some_and(|p| p.checksum_marks);
        match (direct, marks) {
            (true, false) => self.burst_direct::<false>(pidx, fast),
            (true, true) => self.burst_direct::<true>(pidx, fast),
            (false, false) => self.burst_staged::<false>(pidx, fast),
            (false, true) => self.burst_staged::<true>(pidx, fast),
        }
    }

    /// `burst` while what the packets touch stays in cache (few sessions,
    /// few MACs): one packet at a time, first through the fast path
    /// (`fast_unicast`, known unicast of the common case) when `fast`,
    /// then, for what it leaves, through the same steps as the staged
    /// loop, each decision carried out at once. The stages of
    /// `burst_staged` hide misses; without misses to hide they cost
    /// instructions: 11 % of las's own at 1k MACs × 8 sessions
    /// (`perf/README.md`).
    ///
    /// Out of line, one call per burst, and so is `burst_staged`: both
    /// inlined into `poll_once`, a change to one loop moved the other's
    /// code there. With the staged loop's pipeline, las's own
    /// instructions a packet at 1k MACs went from 588 to 609 inlined
    /// (636 with only `burst_staged` out of line), and to 584 with both
    /// out of line (`perf/instructions.sh`).
    #[inline(never)]
    fn burst_direct<const MARKS: bool>(&mut self, pidx: usize, fast: bool) {
        let mut bytes = 0u64;
        let mut fast_n = 0u64;
        while let Some(m) = self.burst.pop() {
            bytes += m.pkt_len() as u64;
            let tried = if fast {
                self.fast_unicast::<MARKS>(pidx, m)
            } else {
                Fast::Full(m)
            };
            let (m, member, pkt) = match tried {
                Fast::Sent => {
                    fast_n += 1;
                    continue;
                }
                Fast::Found { m, member, pkt } => (m, member, pkt),
                Fast::Full(m) => {
                    let Some((m, session_id, pkt)) = self.receive(pidx, m) else {
                        continue;
                    };
                    let Some(member) = self.by_id.get(session_id) else {
                        self.shared.counters.drop(DropReason::UnknownSession);
                        continue;
                    };
                    (m, member, pkt)
                }
            };
            self.full_now(m, member, &pkt);
        }
        let c = &self.shared.counters;
        c.ports[pidx].rx_bytes.add(bytes);
        if fast_n > 0 {
            c.fast_path.add(fast_n);
        }
        self.run.flush(c);
        self.out_run.flush(c);
    }

    /// A burst in stages, each stage a step down the chain of lines a
    /// packet depends on:
    /// 1. classify (what is not L2TPv3 data is handled at once), hash
    ///    the session id and prefetch its index slot;
    /// 2. find the session; prefetch the session state;
    /// 3. the fast path's questions (`fast`: `fast_questions`), else the
    ///    session checks; hash the inner source and destination MAC keys
    ///    and prefetch their MAC-table buckets;
    /// 4. with many sessions, look the destination up ahead and prefetch
    ///    its egress state;
    /// 5. in arrival order: the fast path's learn, lookup and send
    ///    (`fast_send`), or decapsulate, policy, learn, decide (`Act`),
    ///    carried out at once (`fast`) or after the burst (`act_all`).
    ///
    /// The stages run as a pipeline over the burst, not one after the
    /// other (DESIGN's "parse all, hash all, prefetch all, then decide
    /// and act", with the alternative the issue allows): step `t` runs
    /// stage 1 for packet `t`, stage 2 for packet `t - STAGE_LAG`, stage
    /// 3 for `t - 2 * STAGE_LAG` and so on. Every step then issues about
    /// one packet's prefetches among the work of five stages, instead of
    /// a burst's worth of them at once, which waited for free miss
    /// buffers (perf/README.md). A stage's work for one packet does not
    /// read what a later stage of another packet writes: the session
    /// checks read session state that only commands change (between
    /// bursts), the MAC keys are hashes of the frame, and stage 5 looks
    /// the destination up again. Stage 4's lookup is only for the
    /// prefetch.
    ///
    /// With `fast`, known unicast of the common case takes the fast path
    /// as in the direct loop, each stage of it after the prefetch its
    /// misses need, and every decision is carried out in arrival order
    /// as it is made: a frame the fast path sends never overtakes one
    /// the full rules decided before it. Port `rx_bytes` are counted once
    /// per burst.
    ///
    /// Out of line, as `burst_direct` is: see there.
    #[inline(never)]
    fn burst_staged<const MARKS: bool>(&mut self, pidx: usize, fast: bool) {
        let mut pkts: [Option<Mbuf>; MAX_BURST] = [const { None }; MAX_BURST];
        let mut found = [Found {
            member: MemberId(0),
            pkt: DataPacket {
                encap: crate::wire::l2tp::Encap::Ip,
                src: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                udp_src_port: 0,
                l2tp_off: 0,
                end: 0,
            },
        }; MAX_BURST];
        // Classified by the fast path's `fast_classify`.
        let mut quick = [false; MAX_BURST];
        // Data packets stage 1 has taken so far (slots 0..n).
        let mut n = 0;
        let mut bytes = 0u64;
        let mut fast_n = 0u64;
        let mut ids = [self.by_id.hash(0); MAX_BURST];
        let mut keys = [None::<FastKeys>; MAX_BURST];
        let mut pending = [None::<Pending>; MAX_BURST];
        let d = STAGE_LAG;
        // Stage 4 only with many sessions (`PRELOOKUP_SESSIONS`); stage 5
        // works on the packet `last` places behind stage 1.
        let pre = self.by_id.len() > PRELOOKUP_SESSIONS;
        let last = if pre { 4 * d } else { 3 * d };
        let mut rx_done = false;
        let mut t = 0usize;
        loop {
            // Stage 1: the next data packet of the burst, slot t.
            if !rx_done {
                loop {
                    let Some(m) = self.burst.pop() else {
                        rx_done = true;
                        break;
                    };
                    bytes += m.pkt_len() as u64;
                    let (m, session_id, pkt, q) =
                        match fast.then(|| self.fast_classify::<MARKS>(pidx, &m)) {
                            Some(Some((session_id, pkt))) => (m, session_id, pkt, true),
                            _ => {
                                let Some((m, session_id, pkt)) = self.receive(pidx, m) else {
                                    continue;
                                };
                                (m, session_id, pkt, false)
                            }
                        };
                    ids[n] = self.by_id.hash(session_id);
                    prefetch0(self.by_id.hint(ids[n]));
                    found[n].pkt = pkt;
                    quick[n] = q;
                    pkts[n] = Some(m);
                    n += 1;
                    break;
                }
            }
            // Stage 2: slot t - d.
            if let Some(i) = t.checked_sub(d).filter(|&i| i < n) {
                match self.by_id.get_hashed(ids[i]) {
                    Some(member) => {
                        self.prefetch_ingress(member);
                        found[i].member = member;
                    }
                    None => {
                        pkts[i] = None;
                        self.shared.counters.drop(DropReason::UnknownSession);
                    }
                }
            }
            // Stage 3: slot t - 2d.
            if let Some(i) = t.checked_sub(2 * d).filter(|&i| i < n) {
                if let Some(m) = pkts[i].as_ref() {
                    let mut k = None;
                    if quick[i] {
                        k = self.fast_questions(m.data(), found[i].member, &found[i].pkt);
                    }
                    if let Some(k) = k {
                        if self.prefetch_macs {
                            let (_, src, dst) = k.hashed();
                            prefetch0(self.macs.bucket_hint(src));
                            prefetch0(self.macs.bucket_hint(dst));
                        }
                        keys[i] = Some(k);
                    } else {
                        match self.check(m, found[i].member, &found[i].pkt) {
                            Ok(p) => {
                                if let (Some((src, dst)), true) = (p.keys, self.prefetch_macs) {
                                    prefetch0(self.macs.bucket_hint(src));
                                    prefetch0(self.macs.bucket_hint(dst));
                                }
                                pending[i] = Some(p);
                            }
                            Err(r) => {
                                pkts[i] = None;
                                self.shared.counters.drop(r);
                            }
                        }
                    }
                }
            }
            // Stage 4: slot t - 3d. Looks the destination up ahead
            // (read-only; its bucket is in cache by now) and prefetches
            // the egress session: with thousands of sessions templates
            // and counters are misses. With few they stay in cache and
            // the second lookup would only cost (`PRELOOKUP_SESSIONS`).
            if pre {
                if let Some(i) = t.checked_sub(3 * d).filter(|&i| i < n) {
                    let ahead = match (keys[i], pending[i]) {
                        (Some(k), _) => Some(k.hashed()),
                        (
                            None,
                            Some(Pending {
                                sw,
                                keys: Some((src, dst)),
                                ..
                            }),
                        ) => Some((sw, src, dst)),
                        _ => None,
                    };
                    if let Some((sw, _, dst)) = ahead {
                        if let Some(out) = self.macs.lookup_hashed(sw, dst) {
                            self.prefetch_egress(out);
                        }
                    }
                }
            }
            // Stage 5: slot t - last.
            if let Some(i) = t.checked_sub(last).filter(|&i| i < n) {
                if let Some(m) = pkts[i].take() {
                    if let Some(k) = keys[i] {
                        let Found { member, pkt } = found[i];
                        match self.fast_send(m, member, &pkt, k) {
                            Ok(()) => fast_n += 1,
                            Err(m) => self.full_now(m, member, &pkt),
                        }
                    } else if let Some(p) = pending[i] {
                        if let Some(a) = self.deliver(m, p) {
                            if fast {
                                self.act(a);
                            } else {
                                self.queue(a);
                            }
                        }
                    }
                }
            }
            t += 1;
            // Done when every packet went through stage 5 (or none was
            // data: nothing to pipeline).
            if rx_done && (n == 0 || t >= n + last) {
                break;
            }
        }
        let c = &self.shared.counters;
        c.ports[pidx].rx_bytes.add(bytes);
        if fast_n > 0 {
            c.fast_path.add(fast_n);
        }
        self.run.flush(c);
        self.act_all();
    }

    /// The full rules for a data packet of `member`'s session, carried
    /// out at once: the session checks, then `deliver` and `act`, or the
    /// drop counted under the check's reason.
    #[inline(always)]
    fn full_now(&mut self, m: Mbuf, member: MemberId, pkt: &DataPacket) {
        match self.check(&m, member, pkt) {
            Ok(p) => {
                if let Some(a) = self.deliver(m, p) {
                    self.act(a);
                }
            }
            Err(r) => self.shared.counters.drop(r),
        }
    }

    /// Prefetches what the receive checks read of `member`'s session:
    /// line 0 of `Session` (its receive counts too).
    #[inline(always)]
    fn prefetch_ingress(&self, member: MemberId) {
        // Addresses only: reading the Option's tag here would wait for
        // the very miss the prefetch is for.
        if let Some(s) = self.sessions.get(member.0 as usize) {
            prefetch0(s);
        }
    }

    /// Prefetches what `output` reads of `member`: its `Egress` line(s).
    #[inline(always)]
    fn prefetch_egress(&self, member: MemberId) {
        if let Some(e) = self.egress.get(member.0 as usize) {
            prefetch_lines(e, self.egress_lines);
        }
    }

    /// One step of publishing the per-session counts (see `Publisher`):
    /// starts a sweep when one is due or asked for, publishes the next
    /// `PUBLISH_CHUNK` slots, and says so when a sweep ends.
    #[inline]
    fn publish_step(&mut self) {
        let p = &mut self.publisher;
        if !p.sweeping {
            let req = self.shared.publish_request.load(Ordering::Acquire);
            if req == p.served && self.tsc_now < p.next_tsc {
                return;
            }
            p.sweeping = true;
            p.cursor = 0;
            p.serving = req;
        }
        let from = self.publisher.cursor;
        let to = (from + PUBLISH_CHUNK).min(self.sessions.len());
        for i in from..to {
            self.publish_member(i);
        }
        let p = &mut self.publisher;
        p.cursor = to;
        if to == self.sessions.len() {
            p.sweeping = false;
            p.served = p.serving;
            p.next_tsc = self.tsc_now.wrapping_add(self.tsc_hz);
            self.shared.published.store(p.served, Ordering::Release);
        }
    }

    /// One step of aging the MACs only this worker's stamp keeps alive
    /// (`MacTable::expire_local`, `mactable::local_aging`): the control core ages
    /// what the workers tell it of, and a learn event lost to a full ring
    /// (a burst of new sources, a MAC flood) would otherwise leave its
    /// entry here for good, until the table is full of them. A MAC the
    /// control core still keeps (active through another worker, or a
    /// switch aging beyond what the stamps hold) is installed here again
    /// (`Event::AgedLocal`).
    #[inline]
    fn age_local(&mut self) {
        if self.tsc_now < self.next_age_tsc {
            return;
        }
        self.next_age_tsc = self.tsc_now.wrapping_add(self.tsc_hz / 1000);
        let chunk = (self.macs.buckets() >> 10).clamp(1, AGE_CHUNK);
        // Each MAC aged here is told to the control core first, which
        // installs it again if it still keeps it; with the ring full it
        // stays until the next pass.
        let events = &self.shared.events;
        let (next, removed) =
            self.macs
                .expire_local(self.age_cursor, chunk, self.now, |switch, mac, member| {
                    events
                        .push(Event::AgedLocal {
                            switch,
                            mac,
                            member,
                        })
                        .is_ok()
                });
        self.age_cursor = next;
        if removed > 0 {
            self.shared.counters.macs_aged_local.add(removed as u64);
        }
    }

    /// Publishes every slot at once if the control core asked for fresh
    /// counters (`worker::fresh_counters`): for a worker that shares the
    /// control core's thread (one core), which cannot wait for sweeps.
    pub fn publish_requested(&mut self) {
        let req = self.shared.publish_request.load(Ordering::Acquire);
        if req != self.publisher.served {
            self.publish_all();
        }
    }

    /// Publishes every slot at once (at stop, or as asked).
    fn publish_all(&mut self) {
        for i in 0..self.sessions.len() {
            self.publish_member(i);
        }
        let req = self.shared.publish_request.load(Ordering::Acquire);
        self.publisher = Publisher {
            served: req,
            next_tsc: self.tsc_now.wrapping_add(self.tsc_hz),
            ..Publisher::default()
        };
        self.shared.published.store(req, Ordering::Release);
    }

    /// `publish_member` for a count near `PUBLISH_BYTES`, out of the
    /// packet path's code.
    #[cold]
    #[inline(never)]
    fn publish_full(&mut self, i: usize) {
        self.publish_member(i);
    }

    /// Adds member slot `i`'s unpublished counts to the shared counters.
    #[inline]
    fn publish_member(&mut self, i: usize) {
        let Some(c) = self.shared.counters.sessions.get(i) else {
            return;
        };
        if let Some(Some(s)) = self.sessions.get_mut(i) {
            if s.rx_packets != 0 {
                c.add_rx(s.rx_packets.into(), s.rx_bytes.into());
                (s.rx_packets, s.rx_bytes) = (0, 0);
            }
        }
        if let Some(e) = self.egress.get_mut(i) {
            if e.tx_packets != 0 {
                c.add_tx(e.tx_packets.into(), e.tx_bytes.into());
                (e.tx_packets, e.tx_bytes) = (0, 0);
            }
        }
    }

    /// Captures `m`, received (`In`) or sent (`Out`) on port `pidx`, if a
    /// capture takes that port's frames.
    #[inline(always)]
    fn capture_port(&mut self, pidx: usize, m: &Mbuf, dir: Direction) {
        if self.capturing && self.tap.as_ref().is_some_and(|t| t.filter.port(pidx)) {
            capture(&mut self.tap, &self.shared.counters, m, pidx, dir);
        }
    }

    /// A received packet: captured if the port is being captured, then
    /// classified (`rx_one`).
    #[inline(always)]
    fn receive(&mut self, pidx: usize, m: Mbuf) -> Option<(Mbuf, u32, DataPacket)> {
        self.capture_port(pidx, &m, Direction::In);
        self.rx_one(pidx, m)
    }

    /// Classifies a received packet: L2TPv3 data is returned with its
    /// session id; anything else is acted on here. A fragment that
    /// completes a packet is classified again and returned in its place,
    /// so it keeps its position in the burst.
    #[inline(always)]
    fn rx_one(&mut self, pidx: usize, mut m: Mbuf) -> Option<(Mbuf, u32, DataPacket)> {
        let port = self.ports[pidx];
        let mut fresh = true;
        // IPv6 only on a port with `address6` (elsewhere `not_for_us`).
        let ours6 = port
            .v6
            .filter(|_| m.data().get(12..14) == Some(&[0x86, 0xdd][..]));
        loop {
            let class = match &ours6 {
                Some(ours6) => super::classify6(m.data(), m.pkt_len(), ours6, self.udp_port),
                None => classify(m.data(), m.pkt_len(), port.address, self.udp_port, fresh),
            };
            if let Some((session_id, pkt)) = decide::data_packet(&class) {
                return Some((m, session_id, pkt));
            }
            match class {
                Class::Fragment { ip_header_len } => {
                    m = self.reassemble(pidx, m, Some(ip_header_len), fresh)?;
                    fresh = false;
                }
                Class::Fragment6 => {
                    m = self.reassemble(pidx, m, None, fresh)?;
                    fresh = false;
                }
                class => {
                    self.other(pidx, m, class);
                    return None;
                }
            }
        }
    }

    /// Hands an outer fragment to reassembly: IPv4 with its header length
    /// (`ipv4_header_len`), or IPv6 (None; the Fragment header follows
    /// the fixed header). Returns the whole packet when this fragment
    /// completed one. `fresh`: `m` was received (a reassembled packet
    /// that is a fragment again is dropped).
    #[inline(never)]
    fn reassemble(
        &mut self,
        pidx: usize,
        m: Mbuf,
        ipv4_header_len: Option<u16>,
        fresh: bool,
    ) -> Option<Mbuf> {
        let port = self.ports[pidx];
        let Some(frag) = self.frag.as_mut().filter(|_| fresh && port.reassembly) else {
            self.shared.counters.drop(match ipv4_header_len {
                Some(_) => DropReason::OuterFragment,
                None => DropReason::Ipv6Fragment,
            });
            return None;
        };
        let before = frag.dropped();
        let r = match ipv4_header_len {
            Some(hl) => frag.reassemble(m, ETH_LEN as u16, hl, self.tsc_now),
            None => frag.reassemble6(m, ETH_LEN as u16, self.tsc_now),
        };
        let c = &self.shared.counters;
        let lost = frag.dropped() - before;
        if lost > 0 {
            c.drops[DropReason::ReassemblyFailed as usize].add(lost);
        }
        c.reassembly_held.set(frag.held());
        match r {
            Reassembly::Held => None,
            Reassembly::Duplicate => {
                c.drop(DropReason::DuplicateFragment);
                None
            }
            Reassembly::Done { packet, fragments } => {
                c.reassembled.inc();
                c.reassembled_fragments.add(fragments);
                Some(packet)
            }
        }
    }

    /// Acts on a packet that is neither L2TPv3 data nor a fragment: a drop
    /// or a punt to the control core.
    #[inline(never)]
    fn other(&mut self, pidx: usize, mut m: Mbuf, class: Class) {
        match class {
            Class::Drop(r) => self.shared.counters.drop(r),
            Class::Punt => {
                // Token buckets in front of the punt ring, one per kind
                // (`worker::punt`), so a flood of ARP, ICMP or control
                // packets costs the worker little, the control core a
                // bounded amount, and the other kind nothing.
                let (bucket, reason) = match punt_class(m.data()) {
                    PuntClass::Neighbour => {
                        (&mut self.punt_neighbour, DropReason::NeighbourRateLimited)
                    }
                    PuntClass::Other => (&mut self.punt_other, DropReason::PuntRateLimited),
                };
                if !bucket.take(self.tsc_now) {
                    self.shared.counters.drop(reason);
                    return;
                }
                m.set_port(pidx as u16);
                // Counted once: punted, or dropped because the ring is full.
                if self.punt.enqueue(m).is_err() {
                    self.shared.counters.drop(DropReason::PuntRingFull);
                } else {
                    self.shared.counters.ports[pidx].punted.inc();
                }
            }
            // Handled by the caller.
            Class::Data { .. } | Class::Fragment { .. } | Class::Fragment6 => {
                self.shared.counters.drop(DropReason::Malformed)
            }
        }
    }

    /// Session checks of an L2TPv3 data packet for `member`
    /// (`decide::check_session`, plus the member's state here); on success
    /// the packet's MAC keys are hashed for the switch's own domain.
    #[inline(always)]
    fn check(&mut self, m: &Mbuf, member: MemberId, p: &DataPacket) -> Result<Pending, DropReason> {
        let Some(s) = self.sessions[member.0 as usize].as_mut() else {
            return Err(DropReason::UnknownSession);
        };
        if s.blocked {
            if s.blocked_until > self.tsc_now {
                return Err(DropReason::MemberBlocked);
            }
            s.blocked = false;
        }
        let data = m.data();
        let inner_off = match decide::check_session(data, p, &s.rx, &mut s.seq) {
            Ok(off) => off,
            Err(DropReason::UdpPortChanged) => {
                // Tell the control core, at most once a second.
                if self.tsc_now >= s.port_event_tsc.saturating_add(self.tsc_hz) {
                    s.port_event_tsc = self.tsc_now;
                    let ev = Event::PeerPort {
                        member,
                        port: p.udp_src_port,
                    };
                    if self.shared.events.push(ev).is_err() {
                        self.shared.counters.events_lost.inc();
                    }
                }
                return Err(DropReason::UdpPortChanged);
            }
            Err(e) => return Err(e),
        };
        let sw = s.switch;
        let keys = match self.switches.get(sw.0 as usize) {
            Some(Some(x)) if x.spec.vlan_mode != VlanMode::VlanAware => {
                decide::macs(&data[inner_off..])
                    .map(|(dst, src)| (self.macs.hash(sw, src), self.macs.hash(sw, dst)))
            }
            _ => None,
        };
        Ok(Pending {
            member,
            sw,
            vlan_pw: s.vlan_pw,
            inner_off,
            end: p.end,
            keys,
        })
    }

    /// Decapsulates a checked data packet and switches its inner frame;
    /// returns the decision to carry out (None: dropped and counted).
    #[inline(always)]
    fn deliver(&mut self, mut m: Mbuf, p: Pending) -> Option<Act> {
        let c = &self.shared.counters;
        // Trim Ethernet padding after the outer IP packet, then strip the
        // outer headers by moving the data offset.
        let trailing = m.pkt_len() - p.end;
        if trailing > 0 && !m.trim(trailing) {
            c.drop(DropReason::Malformed);
            return None;
        }
        if !m.adj(p.inner_off) {
            c.drop(DropReason::Malformed);
            return None;
        }
        // Counted in the session line the checks just read (published
        // later, see `Publisher`).
        let i = p.member.0 as usize;
        if let Some(Some(s)) = self.sessions.get_mut(i) {
            s.rx_packets = s.rx_packets.wrapping_add(1);
            s.rx_bytes = s.rx_bytes.saturating_add(m.pkt_len() as u32);
            if s.rx_bytes >= PUBLISH_BYTES {
                self.publish_full(i);
            }
        }
        let c = &self.shared.counters;
        if self.capturing
            && self
                .tap
                .as_ref()
                .is_some_and(|t| t.filter.inner(p.sw, p.member))
        {
            let src = p.member.0 as usize;
            capture(&mut self.tap, c, &m, src, Direction::In);
        }
        self.switch(m, p.member, p.vlan_pw, p.sw, p.keys)
    }

    /// Switches an inner Ethernet frame that arrived from `ingress`:
    /// VLAN mode, L2 filter, MSS clamp, learning, then the decision,
    /// unicast or flood (None: dropped and counted), which the burst loop
    /// carries out at once (direct) or queues (staged). `vlan_pw`: the ingress member is an Ethernet VLAN pseudowire.
    /// `keys`: the (source, destination) keys hashed in the switch's own
    /// domain by `check`, used when the frame learns there.
    #[inline(always)]
    fn switch(
        &mut self,
        mut m: Mbuf,
        ingress: MemberId,
        vlan_pw: bool,
        sw: SwitchId,
        keys: Option<(Hashed, Hashed)>,
    ) -> Option<Act> {
        let c = &self.shared.counters;
        let Some(swst) = self.switches[sw.0 as usize].as_ref() else {
            c.drop(DropReason::SwitchGone);
            return None;
        };
        let swc = &c.switches[sw.0 as usize];
        let view = PolicyView {
            vlan_mode: swst.spec.vlan_mode,
            filter: &swst.spec.filter,
        };
        let pass = match decide::policy_verdict(view, m.data(), vlan_pw) {
            Ok(p) => p,
            Err(r) => {
                if r.filtered {
                    swc.filtered.inc();
                }
                c.drop(r.reason);
                return None;
            }
        };
        let Some((dst64, src)) = decide::macs(m.data()) else {
            c.drop(DropReason::InnerMalformed);
            return None;
        };
        if self.run.sw != sw {
            self.run.flush(c);
            self.run.sw = sw;
        }
        self.run.rx_packets += 1;
        self.run.rx_bytes += m.pkt_len() as u64;

        // TCP MSS clamping on SYN / SYN-ACK (auto waits for the path).
        // `may_change` first: off, waiting for the path, or not a SYN by
        // the quick test, without `apply`'s call.
        let (mss, max_frame) = (swst.spec.mss, swst.max_frame);
        let et = pass.ethertype;
        if (et == ETHERTYPE_IPV4 || et == ETHERTYPE_IPV6) && mss.may_change(m.data(), max_frame) {
            if let Some(MssResult::Clamped { .. }) = mss.apply(m.data_mut(), max_frame) {
                swc.mss_clamped.inc();
            }
        }

        // The learning domain: the switch, or its VLAN's domain. A VLAN
        // without one yet is flooded unlearned until the control core
        // allocates it.
        let domain = match pass.vlan {
            None => Some(sw),
            Some(vid) => {
                let d = self.vlans.domain(sw, vid);
                if d.is_none() {
                    if vid != 0 && swst.spec.vlan_list {
                        swc.filtered.inc();
                        c.drop(DropReason::VlanTagged);
                        return None;
                    }
                    if self
                        .shared
                        .events
                        .push(Event::NeedVlan { switch: sw, vid })
                        .is_err()
                    {
                        c.events_lost.inc();
                    }
                }
                d
            }
        };
        // Keys hashed in the switch's domain by `check`, else hash now.
        let keys = match (domain, keys) {
            (Some(d), Some(k)) if d == sw => Some(k),
            (Some(d), _) => Some((self.macs.hash(d, src), self.macs.hash(d, dst64))),
            (None, _) => None,
        };
        let mut known = None;
        if let (Some(domain), Some((hsrc, hdst))) = (domain, keys) {
            match self
                .macs
                .learn_hashed(domain, hsrc, ingress, self.now, self.mac_refresh)
            {
                Learn::New | Learn::Moved { .. } | Learn::Refresh => {
                    let ev = Event::Learned {
                        switch: domain,
                        mac: src,
                        member: ingress,
                    };
                    report_learned(&mut self.events_full, &self.shared, ev);
                }
                Learn::SwitchLimit | Learn::MemberLimit | Learn::TableFull => {
                    swc.learn_failed.inc()
                }
                // The source is pinned to another member: a spoof, or a
                // host that moved against the configuration. Static entries
                // never move, and the frame does not pass (as VPP's L2
                // learning drops a MAC-move violation).
                Learn::StaticConflict => {
                    c.drop(DropReason::StaticMacConflict);
                    return None;
                }
                // Invalid: an id out of range (group sources were dropped above).
                Learn::Unchanged | Learn::Invalid => {}
            }
            if !crate::switch::mac_is_group(dst64) {
                known = self.macs.lookup_hashed(domain, hdst);
            }
        }
        let act = match decide::forward(dst64, known, ingress) {
            Forward::Unicast(out) => Act::Unicast {
                m,
                ingress,
                out,
                sw,
            },
            Forward::Drop(r) => {
                c.drop(r);
                return None;
            }
            Forward::Flood(class) => {
                // Storm control polices what a member floods.
                if !self.storm.allow(ingress, class, self.tsc_now) {
                    c.drop(decide::storm_reason(class));
                    return None;
                }
                Act::Flood { m, ingress, sw }
            }
        };
        Some(act)
    }

    /// Queues a decision of the staged loop for `act_all`.
    #[inline(always)]
    fn queue(&mut self, act: Act) {
        if self.acts.len() == self.acts.capacity() {
            // Not reached (a burst decides at most MAX_BURST frames); if
            // it were, act now rather than let the Vec grow.
            self.act_all();
        }
        self.acts.push(act);
    }

    /// Carries out the burst's decisions (`Act`) in arrival order: split
    /// horizon and output for a unicast, the copies for a flood.
    #[inline(always)]
    fn act_all(&mut self) {
        // Taken out for the loop and put back: no allocation either way.
        let mut acts = std::mem::take(&mut self.acts);
        for a in acts.drain(..) {
            self.act(a);
        }
        self.acts = acts;
        self.out_run.flush(&self.shared.counters);
    }

    /// Carries out one decision: split horizon and output for a unicast,
    /// the copies for a flood.
    #[inline(always)]
    fn act(&mut self, a: Act) {
        match a {
            Act::Unicast {
                m,
                ingress,
                out,
                sw,
            } => {
                if !decide::may_send(self.is_mesh(ingress), self.is_mesh_out(out)) {
                    self.shared.counters.drop(DropReason::SplitHorizon);
                    return;
                }
                if self.out_run.sw != sw {
                    self.out_run.flush(&self.shared.counters);
                    self.out_run.sw = sw;
                }
                self.out_run.unicast += 1;
                self.output(m, out);
            }
            Act::Flood { m, ingress, sw } => self.flood(m, ingress, sw),
        }
    }

    /// Floods to every member of `sw` except `ingress` (split horizon).
    /// Every target but the last gets a copy; the last gets the original.
    ///
    /// A copy of a frame of at least `SHARE_MIN` bytes shares the payload:
    /// a fresh header mbuf (which takes the encapsulation) chained to an
    /// indirect clone of the original, when the egress port accepts
    /// multi-segment packets. Smaller frames are copied outright, which is
    /// cheaper than the extra mbufs and reference counting. The original
    /// can still take its own header: prepending writes only into its
    /// headroom, before the bytes the clones point at. When every copy is
    /// made outright (short frames, and any frame when no port sends
    /// chains), `flood_bulk` makes them in bulk.
    #[inline]
    fn flood(&mut self, m: Mbuf, ingress: MemberId, sw: SwitchId) {
        let c = &self.shared.counters;
        let Some(swst) = self.switches[sw.0 as usize].as_ref() else {
            c.drop(DropReason::SwitchGone);
            return;
        };
        let from_mesh = self.is_mesh(ingress);
        // Copies come in bulk unless the payload may be shared: a long
        // frame with some port that sends chains. Below, it is.
        if m.pkt_len() < SHARE_MIN || !self.ports.iter().any(|p| p.multi_seg) {
            self.flood_bulk(m, ingress, from_mesh, sw);
            return;
        }
        let n = swst
            .members
            .iter()
            .filter(|&&x| !flood_skips(&self.egress, x, ingress, from_mesh))
            .count();
        if n == 0 {
            c.drop(DropReason::NoFloodTarget);
            return;
        }
        c.switches[sw.0 as usize].flooded.inc();
        let mut left = n;
        let mut i = 0;
        let mut made = 0u64;
        // The frame, until its payload is first shared (then `shared`).
        let mut orig = Some(m);
        let mut shared: Option<SharedMbuf> = None;
        while left > 0 {
            let out = match self.switches[sw.0 as usize].as_ref() {
                Some(s) => s.members[i],
                None => break,
            };
            i += 1;
            if flood_skips(&self.egress, out, ingress, from_mesh) {
                continue;
            }
            left -= 1;
            if left == 0 {
                // The last one takes the frame itself: the original, or
                // the shared payload (behind a header of its own while
                // other copies still hold it).
                let last = match (orig.take(), shared.take()) {
                    (Some(m), _) => Some(m),
                    (None, Some(s)) => match s.into_exclusive() {
                        Ok(m) => Some(m),
                        Err(s) => Mbuf::alloc(&self.pool).and_then(|h| s.behind(h).ok()),
                    },
                    (None, None) => None,
                };
                match last {
                    Some(m) => self.output_fast(m, out),
                    None => self.shared.counters.drop(DropReason::NoMbuf),
                }
                break;
            }
            // The payload is shared from the first target whose port
            // sends chains on.
            let multi_seg = match self.egress.get(out.0 as usize) {
                Some(e) if e.live() => self.ports[e.port as usize].multi_seg,
                _ => false,
            };
            if multi_seg && shared.is_none() {
                shared = orig.take().map(Mbuf::share);
            }
            let copy = match (&orig, &shared) {
                (Some(m), _) => m.copy(&self.pool),
                (None, Some(s)) if multi_seg => {
                    match (Mbuf::alloc(&self.pool), s.clone_indirect(&self.pool)) {
                        (Some(hdr), Some(body)) => body.behind(hdr).ok(),
                        _ => None,
                    }
                }
                // Shared already, but this port takes no chains: a copy.
                (None, Some(s)) => s.copy(&self.pool),
                (None, None) => None,
            };
            match copy {
                Some(cp) => {
                    made += 1;
                    self.output_fast(cp, out)
                }
                None => self.shared.counters.drop(DropReason::NoMbuf),
            }
        }
        self.shared.counters.switches[sw.0 as usize]
            .flood_copies
            .add(made);
    }

    /// `flood` when every copy is made outright (`Mbuf::copies_into`):
    /// the targets are taken from the member list up to `MAX_BURST` at a
    /// time, each batch's copies made in one call, and the last target
    /// of all takes `m` itself. Split horizon as in `flood`.
    #[inline]
    fn flood_bulk(&mut self, m: Mbuf, ingress: MemberId, from_mesh: bool, sw: SwitchId) {
        let mut targets = [MemberId(0); MAX_BURST];
        let mut copies = Burst::new();
        let (mut next, mut made, mut first) = (0usize, 0u64, true);
        loop {
            // The next batch of targets, in member order, and whether a
            // target is left after it.
            let (k, more) = {
                let Some(Some(s)) = self.switches.get(sw.0 as usize) else {
                    self.shared.counters.drop(DropReason::SwitchGone);
                    return;
                };
                let refused = |x: MemberId| flood_skips(&self.egress, x, ingress, from_mesh);
                let mut k = 0;
                while k < MAX_BURST {
                    let Some(&x) = s.members.get(next) else {
                        break;
                    };
                    next += 1;
                    if !refused(x) {
                        targets[k] = x;
                        k += 1;
                    }
                }
                // Only a full batch can leave some.
                let more = k == MAX_BURST
                    && s.members
                        .get(next..)
                        .is_some_and(|r| r.iter().any(|&x| !refused(x)));
                (k, more)
            };
            let c = &self.shared.counters;
            if k == 0 {
                // Only the first batch can be empty (`more`).
                c.drop(DropReason::NoFloodTarget);
                return;
            }
            if first {
                c.switches[sw.0 as usize].flooded.inc();
                first = false;
            }
            // The last target of all takes the frame itself.
            let want = if more { k } else { k - 1 };
            m.copies_into(&self.pool, want, &mut copies);
            let inner = m.pkt_len();
            for &out in &targets[..want] {
                match copies.take() {
                    Some(cp) => {
                        made += 1;
                        if let Err(cp) = self.encap_send(cp, out.0 as usize, 0, inner) {
                            self.output_slow(cp, out);
                        }
                    }
                    None => self.shared.counters.drop(DropReason::NoMbuf),
                }
            }
            if !more {
                self.shared.counters.switches[sw.0 as usize]
                    .flood_copies
                    .add(made);
                self.output_fast(m, targets[k - 1]);
                return;
            }
        }
    }

    /// Whether `member` is a mesh pseudowire (split-horizon group), as
    /// an ingress member (its `Session` line, read by the checks).
    #[inline(always)]
    fn is_mesh(&self, member: MemberId) -> bool {
        self.sessions
            .get(member.0 as usize)
            .and_then(Option::as_ref)
            .is_some_and(|s| s.mesh)
    }

    /// The same as an egress member (its `Egress` line, which `output`
    /// reads next).
    #[inline(always)]
    fn is_mesh_out(&self, member: MemberId) -> bool {
        mesh_out(&self.egress, member)
    }

    /// Encapsulates `m` with `member`'s header template and queues it.
    /// Reads the member's `Egress` line(s) only, save on rare paths
    /// (capture, outer fragmentation).
    #[inline(always)]
    fn output(&mut self, mut m: Mbuf, member: MemberId) {
        let c = &self.shared.counters;
        let i = member.0 as usize;
        let Some(e) = self.egress.get(i).filter(|e| e.live()) else {
            c.drop(DropReason::EgressGone);
            return;
        };
        let Some(t) = e.template.as_ref() else {
            c.drop(DropReason::NoNeighbour);
            return;
        };
        // A sequenced session is numbered and sent by its owner only.
        let sequencing = t.sequencing();
        let workers = self.handoff_out.len();
        if sequencing && workers > 1 {
            let owner = i % workers;
            if owner != self.id {
                self.hand_off(m, member, owner);
                return;
            }
        }
        if e.vlan_pw() {
            // Across segments: a flood copy's first segment is its empty
            // header segment, the frame follows.
            let mut et = [0u8; 2];
            let tagged = m.read_into(12, &mut et)
                && crate::wire::vlan::is_tag_ethertype(u16::from_be_bytes(et));
            if !tagged {
                c.drop(DropReason::UntaggedToVlanPw);
                return;
            }
        }
        let pidx = e.port as usize;
        let inner = m.pkt_len();
        let hl = t.len();
        let mtu = self.ports[pidx].mtu as usize;
        let too_big = hl - ETH_LEN + inner > mtu;
        // The member's switch: read from its `Session` on rare paths only.
        let switch_of = |sessions: &[Option<Session>]| {
            sessions.get(i).and_then(Option::as_ref).map(|s| s.switch)
        };
        if too_big {
            // IPv6: routers do not fragment and las does not fragment at
            // the source (yet), whatever the switch's `mtu_policy`.
            if t.is_ipv6() {
                c.drop(DropReason::MtuExceeded);
                return;
            }
            // Fragment the outer packet only when the switch says so and
            // the template does not set DF.
            let policy = switch_of(&self.sessions)
                .and_then(|sw| self.switches.get(sw.0 as usize))
                .and_then(Option::as_ref)
                .map(|x| x.spec.mtu_policy);
            let df = t.bytes().get(ETH_LEN..).is_some_and(|ip| {
                ip.len() >= crate::wire::ipv4::HEADER_LEN
                    && crate::wire::ipv4::Packet::new_unchecked(ip).dont_frag()
            });
            if policy != Some(MtuPolicy::Fragment) || df {
                c.drop(DropReason::MtuExceeded);
                return;
            }
        }
        // Only the owner numbers a sequenced session (above), so this is
        // a plain load and store, no locked instruction.
        let seq = if sequencing {
            let next = &self.tx_seq[i];
            let n = next.load(Ordering::Relaxed);
            next.store(n.wrapping_add(1), Ordering::Relaxed);
            n
        } else {
            0
        };
        self.ip_ident = self.ip_ident.wrapping_add(1);
        let ident = self.ip_ident;
        if self.capturing {
            if let Some(sw) = switch_of(&self.sessions) {
                if self
                    .tap
                    .as_ref()
                    .is_some_and(|tap| tap.filter.inner(sw, member))
                {
                    capture(&mut self.tap, c, &m, i, Direction::Out);
                }
            }
        }
        // UDP over IPv6 with a computed checksum: the inner frame's sum,
        // read across its segments before the header goes in front.
        let inner_sum = if t.needs_inner_sum() {
            m.checksum_sum()
        } else {
            0
        };
        let Some(buf) = m.prepend(hl) else {
            c.drop(DropReason::NoHeadroom);
            return;
        };
        t.write(buf, inner, ident, seq, inner_sum);
        let mut eth = [0u8; ETH_LEN];
        if too_big {
            eth.copy_from_slice(&t.bytes()[..ETH_LEN]);
        }
        // Counted in the line the template came from (published later,
        // see `Publisher`).
        if let Some(e) = self.egress.get_mut(i) {
            e.tx_packets = e.tx_packets.wrapping_add(1);
            e.tx_bytes = e.tx_bytes.saturating_add(inner as u32);
            if e.tx_bytes >= PUBLISH_BYTES {
                self.publish_full(i);
            }
        }
        if too_big {
            match switch_of(&self.sessions) {
                Some(sw) => self.fragment_out(m, pidx, mtu, eth, sw),
                None => self.shared.counters.drop(DropReason::EgressGone),
            }
            return;
        }
        self.send(pidx, m);
    }

    /// Sends the encapsulated packet `m` as outer IPv4 fragments of at
    /// most `mtu` bytes, each behind a copy of the Ethernet header `eth`.
    #[cold]
    fn fragment_out(
        &mut self,
        mut m: Mbuf,
        pidx: usize,
        mtu: usize,
        eth: [u8; ETH_LEN],
        sw: SwitchId,
    ) {
        let c = &self.shared.counters;
        if !m.adj(ETH_LEN) {
            c.drop(DropReason::FragmentFailed);
            return;
        }
        let mut frags: [Option<Mbuf>; 16] = std::array::from_fn(|_| None);
        let n = match crate::dpdk::frag::fragment_ipv4(
            m, mtu as u16, &self.pool, &self.pool, &mut frags,
        ) {
            Ok(n) => n,
            Err(_) => {
                c.drop(DropReason::FragmentFailed);
                return;
            }
        };
        c.switches[sw.0 as usize].fragmented.inc();
        for f in frags.iter_mut().take(n) {
            let Some(mut f) = f.take() else { continue };
            let Some(buf) = f.prepend(ETH_LEN) else {
                self.shared.counters.drop(DropReason::FragmentFailed);
                continue;
            };
            buf[..ETH_LEN].copy_from_slice(&eth);
            if buf.len() >= ETH_LEN + crate::wire::ipv4::HEADER_LEN {
                crate::wire::ipv4::Packet::new_unchecked(&mut buf[ETH_LEN..]).fill_checksum();
            }
            self.send(pidx, f);
        }
    }

    /// Applies queued control commands (between bursts).
    pub fn apply_commands(&mut self) {
        let req = self.shared.sync_request.load(Ordering::Acquire);
        // Fault injection for tests (debug builds only): 0 panics while
        // the first commands are applied, before the worker forwards.
        #[cfg(debug_assertions)]
        if self.panic_at_loop == Some(0) {
            panic!(
                "LAS_FAILPOINT_WORKER_PANIC: worker {} panics applying its first commands",
                self.id
            );
        }
        while let Some(cmd) = self.shared.commands.pop() {
            self.shared.counters.commands.inc();
            self.apply(cmd);
        }
        if self.shared.synced.load(Ordering::Relaxed) != req {
            self.shared.synced.store(req, Ordering::Release);
        }
    }

    fn apply(&mut self, cmd: Command) {
        match cmd {
            Command::AddSwitch(spec) => {
                let spec = *spec;
                let i = spec.id.0 as usize;
                if i >= self.switches.len() {
                    return;
                }
                self.macs.set_switch_limit(spec.id, spec.mac_limit);
                self.macs
                    .set_switch_aging(spec.id, mactable::local_aging(spec.aging, self.mac_refresh));
                match self.switches[i].as_mut() {
                    Some(sw) => sw.spec = spec,
                    None => {
                        self.switches[i] = Some(Switch {
                            members: Vec::with_capacity(8),
                            spec,
                            max_frame: 0,
                        })
                    }
                }
                // Members already in the switch take the new policy.
                if let Some(sw) = self.switches[i].as_ref() {
                    for &m in &sw.members {
                        self.macs.set_member_limit(m, sw.spec.member_mac_limit);
                        self.storm.configure_member(m, sw.spec.storm, self.tsc_now);
                    }
                }
            }
            Command::AddSession(spec) => {
                let i = spec.member.0 as usize;
                if i >= self.sessions.len() {
                    return;
                }
                let Some(sw) = self.switches[spec.switch.0 as usize].as_mut() else {
                    return;
                };
                if !sw.members.contains(&spec.member) {
                    sw.members.push(spec.member);
                }
                let (limit, storm) = (sw.spec.member_mac_limit, sw.spec.storm);
                self.macs.set_member_switch(spec.member, spec.switch);
                self.macs.set_member_limit(spec.member, limit);
                self.storm
                    .configure_member(spec.member, storm, self.tsc_now);
                // A session that replaces itself (same slot, new spec)
                // keeps its counts; one that takes a slot another session
                // left starts from zero, not from the last one's counts
                // (slots are reused, most recently freed first).
                self.publish_member(i);
                if self.sessions[i].is_none() {
                    if let Some(c) = self.shared.counters.sessions.get(i) {
                        c.reset();
                    }
                }
                // At most max_sessions members: the index has room.
                self.by_id.insert(spec.local_session_id, spec.member);
                let rx = RxSession::new(
                    spec.encap,
                    spec.udp_peer_port,
                    spec.peer,
                    spec.local_cookie,
                    spec.l2spec,
                );
                self.sessions[i] = Some(Session {
                    vlan_pw: spec.vlan_pw,
                    mesh: spec.mesh,
                    switch: spec.switch,
                    rx,
                    spec: *spec,
                    seq: RxSeq::default(),
                    rx_packets: 0,
                    rx_bytes: 0,
                    port_event_tsc: 0,
                    blocked: false,
                    blocked_until: 0,
                });
                self.egress[i] = Egress {
                    flags: Egress::LIVE
                        | if spec.vlan_pw { Egress::VLAN_PW } else { 0 }
                        | if spec.mesh { Egress::MESH } else { 0 },
                    port: spec.port,
                    ..Egress::VACANT
                };
            }
            Command::RemoveSession(member) => {
                let i = member.0 as usize;
                self.publish_member(i);
                if let Some(e) = self.egress.get_mut(i) {
                    *e = Egress::VACANT;
                }
                if let Some(s) = self.sessions.get_mut(i).and_then(Option::take) {
                    self.by_id.remove(s.spec.local_session_id);
                    if let Some(sw) = self.switches[s.switch.0 as usize].as_mut() {
                        sw.members.retain(|&x| x != member);
                    }
                    self.macs.flush_member(member);
                }
            }
            Command::SetTemplate(member, t) => {
                if let Some(e) = self.egress.get_mut(member.0 as usize).filter(|e| e.live()) {
                    e.template = t.map(|b| *b);
                    e.refresh_fast(&self.ports, self.tx.len());
                    if e.template
                        .is_some_and(|t| EGRESS_BYTES_OFFSET + t.len() > 64)
                    {
                        self.egress_lines = 2;
                    }
                }
            }
            Command::InstallMac {
                switch,
                mac,
                member,
                is_static,
            } => {
                self.macs.install(switch, mac, member, self.now, is_static);
            }
            Command::SetMaxFrame { switch, max_frame } => {
                if let Some(Some(sw)) = self.switches.get_mut(switch.0 as usize) {
                    sw.max_frame = max_frame;
                }
            }
            Command::MapVlan {
                switch,
                vid,
                domain,
            } => {
                if self.vlans.install(switch, vid, domain).is_ok() {
                    self.macs.set_domain(domain, switch);
                }
            }
            Command::BlockMember { member, until_tsc } => {
                if let Some(Some(s)) = self.sessions.get_mut(member.0 as usize) {
                    s.blocked = true;
                    s.blocked_until = until_tsc;
                }
            }
            Command::RemoveMac { switch, mac } => {
                self.macs.remove(switch, mac);
            }
            Command::FlushMember(member) => self.macs.flush_member(member),
            Command::FlushSwitch(sw) => self.macs.flush_switch(sw),
            Command::DropVlans(sw) => {
                let macs = &mut self.macs;
                self.vlans.remove_switch(sw, |d| macs.flush_switch(d));
            }
            Command::Capture(arm) => {
                if let Some(old) = self.tap.take() {
                    old.detach();
                }
                self.tap = arm.map(|a| Tap::new(*a, self.tsc_hz, tsc()));
                self.capturing = self.tap.is_some();
            }
        }
    }
}

/// Tells the control core of a MAC learned, moved or refreshed
/// (`Event::Learned`). A full ring stays full for a while: after one
/// refusal, the rest of this poll loop's events are lost without
/// touching the ring (whose head line the control core writes).
#[inline(always)]
fn report_learned(events_full: &mut bool, shared: &WorkerShared, ev: Event) {
    if *events_full || shared.events.push(ev).is_err() {
        *events_full = true;
        shared.counters.events_lost.inc();
    }
}

/// `Worker::is_mesh_out` on the egress slots alone (a closure that
/// calls it then borrows only them).
#[inline(always)]
fn mesh_out(egress: &[Egress], member: MemberId) -> bool {
    egress
        .get(member.0 as usize)
        .is_some_and(|e| e.live() && e.mesh())
}

/// Whether a flood from `ingress` (a mesh pseudowire when `from_mesh`)
/// skips member `x`: the ingress member itself, and split horizon
/// (`decide::may_send`: no mesh pseudowire to another), which can refuse
/// a target only when the frame came from a mesh pseudowire: only then
/// is the target's `Egress` line read.
#[inline(always)]
fn flood_skips(egress: &[Egress], x: MemberId, ingress: MemberId, from_mesh: bool) -> bool {
    x == ingress || (from_mesh && mesh_out(egress, x))
}

/// Copies `m` into the armed capture (`super::capture`) and counts what
/// became of it. Out of line: only frames a capture wants come here.
/// `source`: the member (inner frames) or port index (outer frames).
#[cold]
#[inline(never)]
fn capture(tap: &mut Option<Tap>, c: &WorkerCounters, m: &Mbuf, source: usize, dir: Direction) {
    let Some(tap) = tap.as_mut() else {
        return;
    };
    let copy = |buf: &mut [u8]| m.read_into(0, buf).then_some(buf.len());
    match tap.offer(tsc(), m.pkt_len(), source as u16, dir, copy) {
        Offer::Captured => c.capture_frames.inc(),
        Offer::RingFull => c.capture_ring_full.inc(),
        Offer::RateCapped => c.capture_rate_capped.inc(),
        Offer::Failed => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ipv6::UdpChecksum;
    use crate::wire::l2tp::data::{Encap, L2Spec};
    use crate::wire::l2tp::encap::test::{params, params6};

    fn port(mtu: u16) -> WorkerPort {
        WorkerPort {
            address: Ipv4Addr::new(192, 0, 2, 1),
            mtu,
            multi_seg: false,
            reassembly: false,
            v6: None,
            checksum_marks: false,
        }
    }

    fn v4(encap: Encap, l2spec: L2Spec, sequencing: bool) -> EncapTemplate {
        let mut t = EncapTemplate::new(&params(encap, &[], l2spec));
        t.set_sequencing(sequencing);
        t
    }

    fn v6(udp_checksum: UdpChecksum) -> EncapTemplate {
        EncapTemplate::new6(&params6(Encap::Udp, &[], L2Spec::None, udp_checksum))
    }

    fn slot(flags: u8, port: u8, template: Option<EncapTemplate>) -> Egress {
        Egress {
            flags,
            port,
            template,
            ..Egress::VACANT
        }
    }

    /// `fast_lim` gives the answer `encap_send` used to work out per
    /// frame: no frame takes the fast egress of a vacant slot, a VLAN
    /// pseudowire, a slot without a template, a sequenced one, one that
    /// needs the inner checksum or one whose port has no TX queue here;
    /// otherwise exactly the inner frames that fit the port MTU behind
    /// the template do.
    #[test]
    fn fast_lim_answers_the_slot_questions() {
        let ports = [port(1500), port(9000)];
        let ip = v4(Encap::Ip, L2Spec::None, false);
        let live = Egress::LIVE;
        let lim = |e: &mut Egress, ntx: usize| {
            e.refresh_fast(&ports, ntx);
            e.fast_lim
        };
        // IP, no sublayer: 14 + 20 + 4 bytes of header, so an inner frame
        // of up to 1500 - 24 = 1476 bytes fits a 1500-byte MTU.
        assert_eq!(ip.len(), 38);
        assert_eq!(lim(&mut slot(live, 0, Some(ip)), 2), 1477);
        assert_eq!(lim(&mut slot(live, 1, Some(ip)), 2), 8977);
        // Every no.
        assert_eq!(lim(&mut slot(0, 0, Some(ip)), 2), 0, "vacant");
        let vlan_pw = live | Egress::VLAN_PW;
        assert_eq!(lim(&mut slot(vlan_pw, 0, Some(ip)), 2), 0, "VLAN pw");
        assert_eq!(lim(&mut slot(live, 0, None), 2), 0, "no template");
        assert_eq!(lim(&mut slot(live, 2, Some(ip)), 2), 0, "no such port");
        assert_eq!(lim(&mut slot(live, 1, Some(ip)), 1), 0, "no TX queue");
        let seq = v4(Encap::Ip, L2Spec::Default, true);
        assert_eq!(lim(&mut slot(live, 0, Some(seq)), 2), 0, "sequenced");
        let udp6 = v6(UdpChecksum::Compute);
        assert!(udp6.needs_inner_sum());
        assert_eq!(lim(&mut slot(live, 0, Some(udp6)), 2), 0, "inner sum");
        // The sublayer without sequencing, UDP, and UDP over IPv6 with a
        // zero checksum may.
        let sub = v4(Encap::Ip, L2Spec::Default, false);
        assert_eq!(lim(&mut slot(live, 0, Some(sub)), 2), 1473);
        // UDP: 8 bytes of UDP and an 8-byte L2TPv3 header (RFC 3931
        // §4.1.2.2) instead of the 4-byte session ID.
        let udp = v4(Encap::Udp, L2Spec::None, false);
        assert_eq!(udp.len(), 14 + 20 + 8 + 8);
        assert_eq!(lim(&mut slot(live, 0, Some(udp)), 2), 1465);
        let udp6z = v6(UdpChecksum::ZeroAllowed);
        assert_eq!(
            lim(&mut slot(live, 0, Some(udp6z)), 2),
            (1500 + ETH_LEN - udp6z.len() + 1) as u16
        );
        // A mesh pseudowire's egress is no different.
        let mesh = live | Egress::MESH;
        assert_eq!(lim(&mut slot(mesh, 0, Some(ip)), 2), 1477);
        // An MTU that leaves no room for an inner Ethernet header behind
        // the template: none may, and a limit just under is no better.
        for (mtu, want) in [(20, 0), (24 + 13, 0), (24 + 14, 15)] {
            let tiny = [port(mtu)];
            let mut e = slot(live, 0, Some(ip));
            e.refresh_fast(&tiny, 1);
            assert_eq!(e.fast_lim, want, "MTU {mtu}");
        }
    }
}
