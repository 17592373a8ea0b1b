//! The poll-mode worker: classify, decapsulate, switch, encapsulate, send.
//!
//! One `Worker` runs per worker lcore (or interleaved with the control loop
//! on a one-core box). It owns its RX queues, one TX queue on every port,
//! its MAC table replica and its counters. It talks to the control core
//! only through bounded queues: commands in, events and punted mbufs out.
//!
//! Per burst: `rx_burst` → for each packet classify once (outer Ethernet,
//! IPv4 for one of our addresses, protocol 115 or UDP to the L2TP port) →
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
//!   assigns). The RFC 3931 machines choose dynamic ids at random from the
//!   whole 32-bit space (they must not be guessable), and the profile
//!   (`perf/README.md`) shows the session lookup is not where the cycles go;
//!   the two MAC-table probes are.
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
//!   `wire::ipv4_frag`), and every fragment is accounted for: held
//!   (`reassembly_held`), merged (`reassembled_fragments`), or dropped
//!   (`reassembly_failed`, `duplicate_fragment`, and at stop
//!   `reassembly_pending_at_stop`).
//! * Flood copies of frames of at least `SHARE_MIN` bytes share the payload
//!   (header mbuf + indirect clone); smaller ones are copied. The threshold
//!   is an estimate (one cache-line-sized copy against two extra mbufs and
//!   reference counting), not yet measured.
#![forbid(unsafe_code)]

use super::{classify, Class, Command, Event, SessionSpec, SwitchSpec, WorkerShared, VLAN_DOMAINS};

use crate::dpdk::frag::Reassembly;
use crate::dpdk::{
    tsc, Burst, FragTable, Mbuf, Mempool, RingConsumer, RingProducer, RxQueue, SharedMbuf,
    TxBuffer, TxQueue,
};
use crate::switch::filter::Verdict;
use crate::switch::policy::{self, MssClamp, MssResult, MtuPolicy, VlanDomains, VlanMode};
use crate::switch::storm::{StormControl, TrafficClass};
use crate::switch::{Learn, MacTable, MemberId, SwitchId};
use crate::telemetry::DropReason;
use crate::wire::l2tp::encap::EncapTemplate;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

/// A port as the worker sees it (its queues are in `WorkerSetup`).
#[derive(Clone, Copy)]
pub struct WorkerPort {
    pub address: Ipv4Addr,
    pub mtu: u16,
    /// The device transmits chained (multi-segment) mbufs.
    pub multi_seg: bool,
    /// Reassemble outer IPv4 fragments arriving here.
    pub reassembly: bool,
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
    /// Shared transmit sequence numbers for sequenced sessions, indexed by member.
    pub tx_seq: Arc<[AtomicU32]>,
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

/// Out-of-sequence packets in a row after which a sequenced session
/// accepts the peer's numbering again (a restarted peer starts at 0; Linux
/// calls this `nr_oos_count_max`). Isolated reordered packets still drop.
const SEQ_RESYNC: u8 = 4;
const ETHERTYPE_IPV4: u16 = crate::wire::ethernet::ethertype::IPV4;
const ETHERTYPE_IPV6: u16 = crate::wire::ethernet::ethertype::IPV6;

/// Compares a 0-, 4- or 8-byte cookie at `off` as one integer load (no
/// `memcmp` call per packet). The caller checked `off + want.len()` is
/// inside `data`.
#[inline(always)]
fn cookie_matches(data: &[u8], off: usize, want: &[u8]) -> bool {
    match want.len() {
        0 => true,
        4 => match (data.get(off..off + 4), <[u8; 4]>::try_from(want)) {
            (Some(got), Ok(w)) => {
                u32::from_ne_bytes([got[0], got[1], got[2], got[3]]) == u32::from_ne_bytes(w)
            }
            _ => false,
        },
        8 => match (data.get(off..off + 8), <[u8; 8]>::try_from(want)) {
            (Some(got), Ok(w)) => {
                let mut g = [0u8; 8];
                g.copy_from_slice(got);
                u64::from_ne_bytes(g) == u64::from_ne_bytes(w)
            }
            _ => false,
        },
        _ => data.get(off..off + want.len()) == Some(want),
    }
}

/// Bucket depth for a punt rate: a tenth of a second, at least 64.
fn punt_burst(rate: u64) -> u64 {
    (rate / 10).max(64)
}

/// A session (member) replica.
struct Session {
    active: bool,
    switch: SwitchId,
    port: u8,
    spec: SessionSpec,
    /// Length of everything before the inner frame, after the outer IP header.
    l2tp_len: usize,
    template: Option<EncapTemplate>,
    rx_seq: Option<u32>,
    /// Consecutive out-of-sequence packets (see `SEQ_RESYNC`).
    rx_oos: u8,
}

struct Switch {
    members: Vec<MemberId>,
    spec: SwitchSpec,
    /// See `Command::SetMaxFrame`.
    max_frame: usize,
}

pub struct Worker {
    id: usize,
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
    sessions: Vec<Option<Session>>,
    by_id: hashbrown::HashMap<u32, MemberId>,
    switches: Vec<Option<Switch>>,
    macs: MacTable,
    mac_refresh: u32,
    tsc_hz: u64,
    start_tsc: u64,
    now: u32,
    ip_ident: u16,
    burst: Burst,
    burst_size: usize,
    /// Token bucket for punted packets: tokens, last refill (TSC), rate.
    punt_tokens: u64,
    punt_last: u64,
    punt_rate: u64,
    tsc_now: u64,
    frag: Option<FragTable>,
    last_frag_expiry: u64,
    storm: StormControl,
    /// (switch, VLAN) → learning domain, for VLAN-aware switches.
    vlans: VlanDomains,
    /// Per member: dropped until this TSC value (flap blocking).
    blocked_until: Vec<u64>,
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
        Worker {
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
            sessions: (0..s.max_sessions).map(|_| None).collect(),
            by_id: hashbrown::HashMap::with_capacity(s.max_sessions),
            switches: (0..s.max_switches).map(|_| None).collect(),
            macs,
            mac_refresh: s.mac_refresh,
            tsc_hz: s.tsc_hz.max(1),
            start_tsc: tsc(),
            now: 0,
            ip_ident: (s.id as u16) << 12,
            burst: Burst::new(),
            burst_size: s.burst,
            punt_tokens: punt_burst(s.punt_rate as u64),
            punt_last: tsc(),
            punt_rate: s.punt_rate as u64,
            tsc_now: tsc(),
            frag: s.frag,
            last_frag_expiry: tsc(),
            storm: StormControl::new(s.max_sessions, s.tsc_hz.max(1)),
            vlans: VlanDomains::new(s.max_switches, VLAN_DOMAINS),
            blocked_until: vec![0; s.max_sessions],
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
        self.apply_commands();
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
            while let Some(m) = self.burst.pop() {
                self.handle(pidx, m);
            }
            self.flush_all();
        }
        self.drain_inject();
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

    #[inline]
    fn flush_all(&mut self) {
        for pidx in 0..self.tx.len() {
            self.flush(pidx);
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
        if let Err(m) = self.tx[pidx].push(m) {
            self.flush(pidx);
            if self.tx[pidx].push(m).is_err() {
                self.shared.counters.drop(DropReason::TxFull);
            }
        }
    }

    #[inline(always)]
    fn handle(&mut self, pidx: usize, m: Mbuf) {
        self.shared.counters.ports[pidx]
            .rx_bytes
            .add(m.pkt_len() as u64);
        self.dispatch(pidx, m, true);
    }

    /// Classifies and acts on a received (or reassembled) packet.
    #[inline(always)]
    fn dispatch(&mut self, pidx: usize, mut m: Mbuf, fresh: bool) {
        let port = self.ports[pidx];
        let class = classify(m.data(), m.pkt_len(), port.address, self.udp_port, fresh);
        match class {
            Class::Drop(r) => self.shared.counters.drop(r),
            Class::Fragment { ip_header_len } => {
                let Some(frag) = self.frag.as_mut().filter(|_| fresh && port.reassembly) else {
                    self.shared.counters.drop(DropReason::OuterFragment);
                    return;
                };
                let before = frag.dropped();
                let r = frag.reassemble(m, ETH_LEN as u16, ip_header_len, self.tsc_now);
                let c = &self.shared.counters;
                let lost = frag.dropped() - before;
                if lost > 0 {
                    c.drops[DropReason::ReassemblyFailed as usize].add(lost);
                }
                c.reassembly_held.set(frag.held());
                match r {
                    Reassembly::Held => {}
                    Reassembly::Duplicate => c.drop(DropReason::DuplicateFragment),
                    Reassembly::Done { packet, fragments } => {
                        c.reassembled.inc();
                        c.reassembled_fragments.add(fragments);
                        self.dispatch(pidx, packet, false);
                    }
                }
            }
            Class::Punt => {
                if !self.punt_allowed() {
                    self.shared.counters.drop(DropReason::PuntRateLimited);
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
            Class::Data {
                session_id,
                encap,
                src,
                udp_src_port,
                l2tp_off,
                end,
            } => self.data(m, session_id, encap, src, udp_src_port, l2tp_off, end),
        }
    }

    /// Token bucket in front of the punt ring, so a flood of ARP, ICMP or
    /// control packets costs the worker little and the control core a
    /// bounded amount. Integer arithmetic on the TSC; no timers.
    #[inline(always)]
    fn punt_allowed(&mut self) -> bool {
        if self.punt_rate == 0 {
            return true;
        }
        let elapsed = self.tsc_now.wrapping_sub(self.punt_last).min(self.tsc_hz);
        let add = elapsed.saturating_mul(self.punt_rate) / self.tsc_hz;
        if add > 0 {
            // Advance by the time the added tokens represent, so fractions
            // are not lost.
            self.punt_last = self
                .punt_last
                .wrapping_add(add.saturating_mul(self.tsc_hz) / self.punt_rate);
            if elapsed == self.tsc_hz {
                self.punt_last = self.tsc_now;
            }
            self.punt_tokens = (self.punt_tokens + add).min(punt_burst(self.punt_rate));
        }
        if self.punt_tokens == 0 {
            return false;
        }
        self.punt_tokens -= 1;
        true
    }

    /// An L2TPv3 data packet: session checks, decapsulation, switching.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn data(
        &mut self,
        mut m: Mbuf,
        session_id: u32,
        encap: crate::wire::l2tp::Encap,
        src: Ipv4Addr,
        udp_src_port: u16,
        l2tp_off: usize,
        end: usize,
    ) {
        let c = &self.shared.counters;
        let Some(&member) = self.by_id.get(&session_id) else {
            c.drop(DropReason::UnknownSession);
            return;
        };
        let Some(s) = self.sessions[member.0 as usize].as_mut() else {
            c.drop(DropReason::UnknownSession);
            return;
        };
        if !s.active {
            c.drop(DropReason::UnknownSession);
            return;
        }
        if self.blocked_until[member.0 as usize] > self.tsc_now {
            c.drop(DropReason::MemberBlocked);
            return;
        }
        if s.spec.encap != encap
            || (encap == crate::wire::l2tp::Encap::Udp && s.spec.udp_peer_port != udp_src_port)
        {
            c.drop(DropReason::EncapMismatch);
            return;
        }
        if s.spec.peer != src {
            c.drop(DropReason::SourceMismatch);
            return;
        }
        let inner_off = l2tp_off + s.l2tp_len;
        let data = m.data();
        if inner_off + ETH_LEN > end {
            c.drop(DropReason::InnerMalformed);
            return;
        }
        // Headers (outer and the inner Ethernet header) must be in the
        // first segment; only a pathological chain would split them.
        if inner_off + ETH_LEN > data.len() {
            c.drop(DropReason::Malformed);
            return;
        }
        // Cookie: right after the session id (and, over UDP, the 4-byte
        // flags/reserved word before it).
        let cookie_off = l2tp_off
            + match encap {
                crate::wire::l2tp::Encap::Ip => 4,
                crate::wire::l2tp::Encap::Udp => 8,
            };
        let want = s.spec.local_cookie.as_bytes();
        if !cookie_matches(data, cookie_off, want) {
            c.drop(DropReason::CookieMismatch);
            return;
        }
        if s.spec.l2spec == crate::wire::l2tp::L2Spec::Default {
            let off = cookie_off + want.len();
            let w = u32::from_be_bytes([data[off], data[off + 1], data[off + 2], data[off + 3]]);
            if w & 0x4000_0000 != 0 {
                let seq = w & 0x00ff_ffff;
                if let Some(exp) = s.rx_seq {
                    // Accept the expected number or anything newer (within
                    // half the 24-bit space); drop older ones — unless they
                    // keep coming: after SEQ_RESYNC in a row the peer has
                    // restarted its numbering, and we follow it.
                    let diff = seq.wrapping_sub(exp) & 0x00ff_ffff;
                    if diff >= 0x0080_0000 {
                        s.rx_oos += 1;
                        if s.rx_oos < SEQ_RESYNC {
                            c.drop(DropReason::SequenceError);
                            return;
                        }
                    }
                }
                s.rx_oos = 0;
                s.rx_seq = Some((seq + 1) & 0x00ff_ffff);
            }
        }
        // Trim Ethernet padding after the outer IP packet, then strip the
        // outer headers by moving the data offset.
        let trailing = m.pkt_len() - end;
        if trailing > 0 && !m.trim(trailing) {
            c.drop(DropReason::Malformed);
            return;
        }
        if !m.adj(inner_off) {
            c.drop(DropReason::Malformed);
            return;
        }
        let (sw, vlan_pw) = (s.switch, s.spec.vlan_pw);
        let len = m.pkt_len() as u64;
        let sc = &c.sessions[member.0 as usize];
        sc.rx_packets.inc();
        sc.rx_bytes.add(len);
        self.switch(m, member, vlan_pw, sw);
    }

    /// Switches an inner Ethernet frame that arrived from `ingress`:
    /// VLAN mode, L2 filter, MSS clamp, learning, then unicast or flood.
    #[inline(always)]
    /// `vlan_pw`: the ingress member is an Ethernet VLAN pseudowire.
    fn switch(&mut self, mut m: Mbuf, ingress: MemberId, vlan_pw: bool, sw: SwitchId) {
        let c = &self.shared.counters;
        let Some(swst) = self.switches[sw.0 as usize].as_ref() else {
            c.drop(DropReason::SwitchGone);
            return;
        };
        let swc = &c.switches[sw.0 as usize];
        let d = m.data();
        let dst: [u8; 6] = [d[0], d[1], d[2], d[3], d[4], d[5]];
        let srcm: [u8; 6] = [d[6], d[7], d[8], d[9], d[10], d[11]];
        // A group (multicast/broadcast) source address is invalid: never
        // learned, never forwarded.
        if srcm[0] & 1 != 0 {
            c.drop(DropReason::GroupSourceMac);
            return;
        }
        let mut et = u16::from_be_bytes([d[12], d[13]]);
        let tagged = crate::wire::vlan::is_tag_ethertype(et);
        if !tagged && vlan_pw {
            c.drop(DropReason::UntaggedOnVlanPw);
            return;
        }
        // VLAN mode: drop-tagged drops 802.1Q/802.1ad frames; the other
        // modes filter on the ethertype inside the tags, and VLAN-aware
        // learns per (VLAN, MAC).
        let mode = swst.spec.vlan_mode;
        let mut vlan = None;
        if crate::wire::vlan::is_tag_ethertype(et) || mode == VlanMode::VlanAware {
            match policy::vlan_verdict(mode, d) {
                Ok(v) => vlan = v,
                Err(_) => {
                    swc.filtered.inc();
                    c.drop(DropReason::VlanTagged);
                    return;
                }
            }
            if crate::wire::vlan::is_tag_ethertype(et) {
                match crate::wire::vlan::inner_offset(d) {
                    Some((_, inner_et, _)) => et = inner_et,
                    None => {
                        c.drop(DropReason::InnerMalformed);
                        return;
                    }
                }
            }
        }
        match swst.spec.filter.check(dst, et) {
            Verdict::Pass => {}
            Verdict::DropBpdu => {
                swc.filtered.inc();
                c.drop(DropReason::FilteredBpdu);
                return;
            }
            Verdict::DropEthertype => {
                swc.filtered.inc();
                c.drop(DropReason::FilteredEthertype);
                return;
            }
        }
        swc.rx_packets.inc();
        swc.rx_bytes.add(m.pkt_len() as u64);

        // TCP MSS clamping on SYN / SYN-ACK (auto waits for the path).
        let (mss, max_frame) = (swst.spec.mss, swst.max_frame);
        let clamp = match mss {
            MssClamp::Off => false,
            MssClamp::Auto => max_frame != 0,
            MssClamp::Fixed(_) => true,
        };
        if clamp && (et == ETHERTYPE_IPV4 || et == ETHERTYPE_IPV6) {
            if let Some(MssResult::Clamped { .. }) = mss.apply(m.data_mut(), max_frame) {
                swc.mss_clamped.inc();
            }
        }

        // The learning domain: the switch, or its VLAN's domain. A VLAN
        // without one yet is flooded unlearned until the control core
        // allocates it.
        let domain = match vlan {
            None => Some(sw),
            Some(vid) => {
                let d = self.vlans.domain(sw, vid);
                if d.is_none() {
                    if vid != 0 && swst.spec.vlan_list {
                        swc.filtered.inc();
                        c.drop(DropReason::VlanTagged);
                        return;
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
        let src = crate::switch::mac_to_u64(srcm);
        if let Some(domain) = domain {
            match self
                .macs
                .learn(domain, src, ingress, self.now, self.mac_refresh)
            {
                Learn::New | Learn::Moved { .. } | Learn::Refresh => {
                    let ev = Event::Learned {
                        switch: domain,
                        mac: src,
                        member: ingress,
                    };
                    if self.shared.events.push(ev).is_err() {
                        c.events_lost.inc();
                    }
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
                    return;
                }
                // Invalid: an id out of range (group sources were dropped above).
                Learn::Unchanged | Learn::Invalid => {}
            }
        }

        let dst64 = crate::switch::mac_to_u64(dst);
        if dst[0] & 1 == 0 {
            if let Some(out) = domain.and_then(|d| self.macs.lookup(d, dst64)) {
                if out == ingress {
                    c.drop(DropReason::SameMember);
                    return;
                }
                swc.unicast.inc();
                self.output(m, out);
                return;
            }
        }
        // Storm control polices what a member floods.
        let class = TrafficClass::of_dst(dst64);
        if !self.storm.allow(ingress, class, self.tsc_now) {
            c.drop(match class {
                TrafficClass::Broadcast => DropReason::StormBroadcast,
                TrafficClass::Multicast => DropReason::StormMulticast,
                TrafficClass::UnknownUnicast => DropReason::StormUnknownUnicast,
            });
            return;
        }
        self.flood(m, ingress, sw);
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
    /// headroom, before the bytes the clones point at.
    #[inline]
    fn flood(&mut self, m: Mbuf, ingress: MemberId, sw: SwitchId) {
        let c = &self.shared.counters;
        let swc = &c.switches[sw.0 as usize];
        let Some(swst) = self.switches[sw.0 as usize].as_ref() else {
            c.drop(DropReason::SwitchGone);
            return;
        };
        let n = swst.members.iter().filter(|&&x| x != ingress).count();
        if n == 0 {
            c.drop(DropReason::NoFloodTarget);
            return;
        }
        swc.flooded.inc();
        let share = m.pkt_len() >= SHARE_MIN;
        let mut left = n;
        let mut i = 0;
        // The frame, until its payload is first shared (then `shared`).
        let mut orig = Some(m);
        let mut shared: Option<SharedMbuf> = None;
        while left > 0 {
            let out = match self.switches[sw.0 as usize].as_ref() {
                Some(s) => s.members[i],
                None => break,
            };
            i += 1;
            if out == ingress {
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
                    Some(m) => self.output(m, out),
                    None => self.shared.counters.drop(DropReason::NoMbuf),
                }
                break;
            }
            let multi_seg = match self.sessions[out.0 as usize].as_ref() {
                Some(s) => self.ports[s.port as usize].multi_seg,
                None => false,
            };
            if share && multi_seg && shared.is_none() {
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
                    self.shared.counters.switches[sw.0 as usize]
                        .flood_copies
                        .inc();
                    self.output(cp, out)
                }
                None => self.shared.counters.drop(DropReason::NoMbuf),
            }
        }
    }

    /// Encapsulates `m` with `member`'s header template and queues it.
    #[inline(always)]
    fn output(&mut self, mut m: Mbuf, member: MemberId) {
        let c = &self.shared.counters;
        let Some(s) = self.sessions[member.0 as usize].as_ref() else {
            c.drop(DropReason::EgressGone);
            return;
        };
        let Some(t) = s.template.as_ref() else {
            c.drop(DropReason::NoNeighbour);
            return;
        };
        if s.spec.vlan_pw {
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
        let pidx = s.port as usize;
        let inner = m.pkt_len();
        let hl = t.len();
        let mtu = self.ports[pidx].mtu as usize;
        let too_big = hl - ETH_LEN + inner > mtu;
        if too_big {
            // Fragment the outer packet only when the switch says so and
            // the template does not set DF.
            let policy = self.switches[s.switch.0 as usize]
                .as_ref()
                .map(|x| x.spec.mtu_policy);
            let df = t.bytes().get(ETH_LEN + 6).is_some_and(|b| b & 0x40 != 0);
            if policy != Some(MtuPolicy::Fragment) || df {
                c.drop(DropReason::MtuExceeded);
                return;
            }
        }
        let seq = if t.has_sublayer() {
            self.tx_seq[member.0 as usize].fetch_add(1, Ordering::Relaxed)
        } else {
            0
        };
        self.ip_ident = self.ip_ident.wrapping_add(1);
        let ident = self.ip_ident;
        let Some(buf) = m.prepend(hl) else {
            c.drop(DropReason::NoHeadroom);
            return;
        };
        t.write(buf, inner, ident, seq);
        let sc = &c.sessions[member.0 as usize];
        sc.tx_packets.inc();
        sc.tx_bytes.add(inner as u64);
        if too_big {
            let mut eth = [0u8; ETH_LEN];
            eth.copy_from_slice(&t.bytes()[..ETH_LEN]);
            let sw = s.switch;
            self.fragment_out(m, pidx, mtu, eth, sw);
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
                self.blocked_until[i] = 0;
                self.by_id.insert(spec.local_session_id, spec.member);
                let l2tp_len = crate::wire::l2tp::data_offsets(
                    spec.encap,
                    spec.local_cookie.len(),
                    spec.l2spec,
                );
                self.sessions[i] = Some(Session {
                    active: true,
                    switch: spec.switch,
                    port: spec.port,
                    l2tp_len,
                    spec: *spec,
                    template: None,
                    rx_seq: None,
                    rx_oos: 0,
                });
            }
            Command::RemoveSession(member) => {
                let i = member.0 as usize;
                if let Some(s) = self.sessions.get_mut(i).and_then(Option::take) {
                    self.by_id.remove(&s.spec.local_session_id);
                    if let Some(sw) = self.switches[s.switch.0 as usize].as_mut() {
                        sw.members.retain(|&x| x != member);
                    }
                    self.macs.flush_member(member);
                }
            }
            Command::SetTemplate(member, t) => {
                if let Some(Some(s)) = self.sessions.get_mut(member.0 as usize) {
                    s.template = t.map(|b| *b);
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
                if let Some(b) = self.blocked_until.get_mut(member.0 as usize) {
                    *b = until_tsc;
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
        }
    }
}
