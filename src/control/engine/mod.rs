//! The control engine: the owner of the truth, without the I/O.
//!
//! It answers ARP and ICMP echo for our addresses, resolves next hops,
//! speaks the RFC 3931 control channel (dynamic pseudowires join the
//! virtual switch named by their VC ID), keeps the merged MAC table and
//! ages it, detects MAC flaps, allocates VLAN learning domains, programs
//! the workers through their command queues and answers `las show`.
//!
//! It owns no device: frames come in as byte slices (`frame_in`), frames
//! it sends leave through `take_frames`, time is passed in (`Now`), and
//! what only the device knows (port statistics, mbuf pool use) comes in a
//! `Snapshot` when a view needs it. `control::core` is the thin DPDK loop
//! around it (punt and inject rings, mbufs, TX queues, the socket). Like
//! OPTE's engine/OS split, this keeps everything with a decision in it
//! buildable and testable without DPDK or root (`tests.rs`).
//!
//! Sessions (static from the config, dynamic from the control channel)
//! and virtual switches live here in one table each, indexed by their
//! data-plane ids (`MemberId`, `SwitchId`). The parts are split by the
//! state they own: `program` (worker queues, switches, sessions,
//! templates), `pseudowires` (the control channel and session
//! lifecycle), `macs` (MAC events, flaps, VLAN domains), `views`
//! (`las show`).
#![forbid(unsafe_code)]

mod diff;
mod l2tp6;
mod macs;
mod mesh;
mod nd6;
mod program;
mod pseudowires;
mod reload;
mod views;

use super::admission::{self, Room, Target};
use super::l2tp::OsRandom;
use super::l2tp::{
    Action, Answer, DownReason, Endpoint, EndpointConfig, Refusal, RefuseReason, SecretAuth,
    SessionUp, TunnelConfig,
};
use super::neighbour::Neighbours;
use super::ratelimit::{Rate, SourceLimiter};
use super::refusals::RefusalLog;

/// Control messages a second one peer address may send: `l2tp.control_rate`
/// sustained, twice that at once. At the default 1000, a router bringing
/// up 1000 pseudowires (~2000 ICRQ/ICCN) is through in 2 s; parsing and a
/// digest cost ~6 µs a message, so one peer at full rate takes under 1 %
/// of the control core.
fn control_rate(l2: &config::L2tp) -> Rate {
    Rate {
        per_second: l2.control_rate,
        burst: l2.control_rate.saturating_mul(2),
    }
}
/// Peer addresses with their own bucket (the rest share one).
const CONTROL_RATE_SOURCES: usize = 4096;
use super::respond::{self, ArpOutcome};
use super::socket::SocketStats;
use crate::config::{self, Config};
use crate::switch::filter::ethertype_name;
use crate::switch::flap::{FlapDetector, FlapVerdict};
use crate::switch::policy::VlanDomains;
use crate::switch::{mac_from_u64, AgingTable, MemberId, SwitchId, Touch};
use crate::telemetry::show::{
    CountersView, MacView, MeshView, PortView, Request, Response, SessionView, SwitchView,
    TunnelView, WorkerView,
};
use crate::telemetry::{DropCounters, DropReason};
use crate::wire::ethernet::{self, ethertype, EthernetRepr, MacAddr};
use crate::wire::ipv4::{self, protocol, Ipv4Repr};
use crate::wire::l2tp::auth::DigestAlg;
use crate::wire::l2tp::message::stopccn_result;
use crate::wire::l2tp::{Cookie, EncapTemplate, TemplateParams, TemplateParams6};
use crate::wire::l2tp::{Encap, L2Spec, VcId};
use crate::wire::udp::{self, UdpRepr};
use crate::worker::{Command, Event, SessionSpec, SwitchSpec, WorkerShared, VLAN_DOMAINS};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

/// A port as the control engine knows it (the device handles stay in
/// `control::core`).
#[derive(Debug, Clone)]
pub struct PortInfo {
    pub name: String,
    pub device: String,
    pub driver: String,
    pub mac: [u8; 6],
    /// `None` on an IPv6-only port: no ARP, ICMP, gratuitous ARP or IPv4
    /// pseudowire there.
    pub address: Option<Ipv4Addr>,
    pub prefix_len: u8,
    pub gateway: Option<Ipv4Addr>,
    pub mtu: u16,
    pub rx_queues: u16,
    pub tx_queues: u16,
    /// Set DF on the outer IPv4 header of pseudowire packets.
    pub dont_fragment: bool,
    /// The device checks received IPv4 header checksums
    /// (`dpdk::Port::rx_ip_checksum`).
    pub rx_ip_checksum: bool,
    /// IPv6 beside or instead of IPv4 (`address6`, `gateway6`).
    pub v6: Option<config::Port6>,
}

/// The default RFC 3931 Router ID (when `l2tp.router_id` is unset): the
/// IPv4 address of the first port, in file order, that has one — the
/// same rule as `Config::router_id`. IPv6-only ports are skipped;
/// validation refuses a config where every port is IPv6-only and
/// `router_id` is unset.
fn default_router_id(ports: &[PortInfo]) -> Ipv4Addr {
    ports
        .iter()
        .find_map(|p| p.address)
        .unwrap_or(Ipv4Addr::UNSPECIFIED)
}

/// What only the devices know, sampled by the I/O loop when a view is
/// rendered.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub ports: Vec<PortSample>,
    pub mbufs_in_use: u64,
    pub mbufs_available: u64,
}

/// One port's link and statistics.
#[derive(Debug, Clone, Copy, Default)]
pub struct PortSample {
    pub link_up: bool,
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub rx_missed: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_nombuf: u64,
}

/// The time, passed in: milliseconds since start (timers, aging) and the
/// TSC (what the workers compare block deadlines with).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Now {
    pub ms: u64,
    pub tsc: u64,
}

/// A frame the engine sends out of port `port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub port: usize,
    pub frame: Vec<u8>,
}

/// What to do with a punted frame after `frame_in`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Rewritten in place as the answer: send it back out of its port.
    Reply,
    /// Taken (or counted and dropped): free it.
    Consumed,
}

impl PortInfo {
    /// The next hop toward `ip`, IPv4 or IPv6: itself when on-link, else
    /// the gateway (`gateway6`).
    fn next_hop_ip(&self, ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(ip) => IpAddr::V4(self.next_hop(ip)),
            IpAddr::V6(ip) => IpAddr::V6(match &self.v6 {
                Some(v6) if !v6.on_link(ip) => v6.gateway.unwrap_or(ip),
                _ => ip,
            }),
        }
    }

    /// The next hop toward `ip`: itself when on-link, else the gateway.
    fn next_hop(&self, ip: Ipv4Addr) -> Ipv4Addr {
        if self
            .address
            .is_some_and(|a| in_prefix(a, self.prefix_len, ip))
        {
            ip
        } else {
            self.gateway.unwrap_or(ip)
        }
    }
}

/// An L2TP control-channel peer: its address, IPv4 or IPv6, and over
/// UDP its port (0 over IP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    pub ip: IpAddr,
    pub udp_port: u16,
}

/// Where a dynamic session came from.
struct DynInfo {
    ccid: u32,
    vc_id: String,
    /// When it came up (ms).
    since: u64,
}

/// A pseudowire, static or dynamic.
struct SessionRt {
    name: String,
    member: MemberId,
    switch: SwitchId,
    port: usize,
    /// IPv4 or IPv6 (a dynamic session's is its control peer's).
    peer: IpAddr,
    encap: Encap,
    udp_local_port: u16,
    udp_peer_port: u16,
    local_session_id: u32,
    remote_session_id: u32,
    /// Expected on receive.
    local_cookie: Cookie,
    /// Sent.
    remote_cookie: Cookie,
    /// Sublayer on receive / on transmit.
    l2spec_rx: L2Spec,
    l2spec_tx: L2Spec,
    /// Send sequence numbers (only with the default sublayer).
    sequencing: bool,
    /// The peer, or the port's gateway (`gateway6` for an IPv6 peer);
    /// resolved by ARP or neighbour discovery.
    next_hop: IpAddr,
    next_hop_mac: Option<[u8; 6]>,
    /// Length of the encapsulation header (0 until the next hop resolves).
    template_len: usize,
    /// PW type 4 (RFC 4448 tagged mode): frames must carry a VLAN tag.
    vlan_pw: bool,
    /// A mesh pseudowire to another las (the mesh split-horizon group).
    mesh: bool,
    dynamic: Option<DynInfo>,
}

/// A virtual switch: its settings as configured (or the defaults, for
/// one created by a VC ID) and what the engine keeps about it.
struct SwitchRt {
    cfg: config::Switch,
    /// Created on first use by a VC ID (not in the config).
    auto: bool,
    /// `learn_failed` summed over workers at the last check.
    learn_failed_seen: u64,
    /// Largest inner frame all members carry (sent to the workers).
    max_frame: usize,
    /// Auto-created: the peer whose session created it (its quota).
    creator: Option<IpAddr>,
    /// Auto-created and without members since (ms): freed after
    /// `l2tp.auto_switch_grace`.
    empty_since: Option<u64>,
    /// Members that are not mesh pseudowires (kept by `add_session` and
    /// `drop_member`).
    edges: usize,
    /// Every member (edge and mesh), kept by `add_session` and
    /// `drop_member`: what `update_max_frame` and `drop_switch` visit
    /// (a pass over every session slot per pseudowire set up made
    /// setting up n of them O(n × slots)).
    members: Vec<MemberId>,
    /// The workers' counters of this switch slot when the switch was
    /// made: a freed auto switch's slot is reused, and the views count
    /// from here.
    base: [u64; SWITCH_COUNTERS],
}
const SWITCH_COUNTERS: usize = 9;

/// The counters of one switch slot, as an array (see `SwitchView`).
fn switch_counters(c: &crate::telemetry::SwitchCounters) -> [u64; SWITCH_COUNTERS] {
    [
        c.rx_packets.get(),
        c.rx_bytes.get(),
        c.unicast.get(),
        c.flooded.get(),
        c.flood_copies.get(),
        c.filtered.get(),
        c.learn_failed.get(),
        c.mss_clamped.get(),
        c.fragmented.get(),
    ]
}

impl SwitchRt {
    fn new(cfg: config::Switch, auto: bool) -> SwitchRt {
        SwitchRt {
            cfg,
            auto,
            learn_failed_seen: 0,
            max_frame: 0,
            creator: None,
            empty_since: None,
            edges: 0,
            members: Vec::new(),
            base: [0; SWITCH_COUNTERS],
        }
    }
}

/// Control-core counters (owned and read by the control thread only).
#[derive(Default, Debug)]
struct Counters {
    arp_requests_rx: u64,
    arp_replies_tx: u64,
    arp_requests_tx: u64,
    arp_other_rx: u64,
    icmp_echo_replies_tx: u64,
    icmp_other_rx: u64,
    l2tp_control_rx: u64,
    l2tp_control_tx: u64,
    l2tp_peer_refused: u64,
    l2tp_no_route: u64,
    l2tp6_not_ours: u64,
    l2tp6_bad_source: u64,
    l2tp6_malformed: u64,
    l2tp6_udp_zero_checksum: u64,
    l2tp6_udp_bad_checksum: u64,
    l2tp_peer_moves: u64,
    l2tp_port_probes: u64,
    sessions_up: u64,
    sessions_down: u64,
    sessions_refused: u64,
    punt_other: u64,
    punt_tx_failed: u64,
    neighbours_resolved: u64,
    macs_learned: u64,
    macs_moved: u64,
    macs_aged: u64,
    /// MACs a worker aged out itself that this table still had, installed
    /// on that worker again (`Event::AgedLocal`).
    macs_reinstalled: u64,
    mac_flaps: u64,
    members_blocked: u64,
    vlan_domains: u64,
    vlan_domains_full: u64,
    switches_freed: u64,
    mesh_connects: u64,
    mesh_tunnels_up: u64,
    mesh_tunnels_down: u64,
    mesh_pws_up: u64,
    mesh_pws_down: u64,
    mesh_duplicates_closed: u64,
    mesh_flushes_sent: u64,
    mesh_flushes_received: u64,
    commands_backlogged: u64,
    requests_served: u64,
    socket_clients_refused: u64,
    socket_requests_too_long: u64,
    socket_clients_timed_out: u64,
}

impl Counters {
    fn map(&self) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::new();
        let mut put = |k: &str, v: u64| {
            m.insert(k.to_string(), v);
        };
        put("arp_requests_rx", self.arp_requests_rx);
        put("arp_replies_tx", self.arp_replies_tx);
        put("arp_requests_tx", self.arp_requests_tx);
        put("arp_other_rx", self.arp_other_rx);
        put("icmp_echo_replies_tx", self.icmp_echo_replies_tx);
        put("icmp_other_rx", self.icmp_other_rx);
        put("l2tp_control_rx", self.l2tp_control_rx);
        put("l2tp_control_tx", self.l2tp_control_tx);
        put("l2tp_peer_refused", self.l2tp_peer_refused);
        put("l2tp_no_route", self.l2tp_no_route);
        put("l2tp6_not_ours", self.l2tp6_not_ours);
        put("l2tp6_bad_source", self.l2tp6_bad_source);
        put("l2tp6_malformed", self.l2tp6_malformed);
        put("l2tp6_udp_zero_checksum", self.l2tp6_udp_zero_checksum);
        put("l2tp6_udp_bad_checksum", self.l2tp6_udp_bad_checksum);
        put("l2tp_peer_moves", self.l2tp_peer_moves);
        put("l2tp_port_probes", self.l2tp_port_probes);
        put("sessions_up", self.sessions_up);
        put("sessions_down", self.sessions_down);
        put("sessions_refused", self.sessions_refused);
        put("punt_other", self.punt_other);
        put("punt_tx_failed", self.punt_tx_failed);
        put("neighbours_resolved", self.neighbours_resolved);
        put("macs_learned", self.macs_learned);
        put("macs_moved", self.macs_moved);
        put("macs_aged", self.macs_aged);
        put("macs_reinstalled", self.macs_reinstalled);
        put("mac_flaps", self.mac_flaps);
        put("members_blocked", self.members_blocked);
        put("vlan_domains", self.vlan_domains);
        put("vlan_domains_full", self.vlan_domains_full);
        put("switches_freed", self.switches_freed);
        put("mesh_connects", self.mesh_connects);
        put("mesh_tunnels_up", self.mesh_tunnels_up);
        put("mesh_tunnels_down", self.mesh_tunnels_down);
        put("mesh_pws_up", self.mesh_pws_up);
        put("mesh_pws_down", self.mesh_pws_down);
        put("mesh_duplicates_closed", self.mesh_duplicates_closed);
        put("mesh_flushes_sent", self.mesh_flushes_sent);
        put("mesh_flushes_received", self.mesh_flushes_received);
        put("commands_backlogged", self.commands_backlogged);
        put("requests_served", self.requests_served);
        put("socket_clients_refused", self.socket_clients_refused);
        put("socket_requests_too_long", self.socket_requests_too_long);
        put("socket_clients_timed_out", self.socket_clients_timed_out);
        m
    }
}

/// Authentication of a tunnel with the peer at `ip`: its secret and
/// `auth` mode (`[[l2tp.peer]]`, else `[l2tp]`), or none.
fn set_auth(t: &mut TunnelConfig, l2: &config::L2tp, ip: IpAddr) {
    let alg = match l2.digest {
        config::Digest::Md5 => DigestAlg::Md5,
        config::Digest::Sha1 => DigestAlg::Sha1,
    };
    let a = l2.auth_for(ip);
    t.auth = a.map(|(s, _)| {
        Arc::new(SecretAuth::new(alg, s.as_bytes()))
            as Arc<dyn super::l2tp::Authenticator + Send + Sync>
    });
    t.secret = a.map(|(s, _)| s.as_bytes().to_vec());
    t.digest = a.is_some_and(|(_, m)| m.digest());
    t.challenge = a.is_some_and(|(_, m)| m.challenge());
}

/// The configuration of a tunnel `peer` opens: its secret and auth mode,
/// and the HELLO interval of its encapsulation.
fn per_peer(l2: config::L2tp) -> crate::control::l2tp::PerPeer<Peer> {
    Box::new(move |peer: &Peer, base: &TunnelConfig| {
        let mut t = base.clone();
        set_auth(&mut t, &l2, peer.ip);
        if peer.udp_port != 0 {
            t.hello_interval = u64::from(l2.hello_interval_udp) * 1000;
        }
        t
    })
}

fn endpoint_config(cfg: &Config, router_id: Ipv4Addr) -> EndpointConfig {
    let l2 = &cfg.l2tp;
    let mut t = TunnelConfig {
        host_name: l2.host_name.as_bytes().to_vec(),
        router_id: u32::from(l2.router_id.unwrap_or(router_id)),
        hello_interval: u64::from(l2.hello_interval) * 1000,
        max_sessions: l2.max_sessions_per_tunnel,
        ..TunnelConfig::default()
    };
    t.reliable.rto_max = u64::from(l2.retransmit_max) * 1000;
    t.reliable.max_retries = l2.retransmit_retries;
    t.reliable.receive_window = l2.receive_window;
    t.session.cookie_len = l2.cookie_len;
    t.session.l2spec = match l2.l2spec {
        config::L2SpecCfg::None => 0,
        config::L2SpecCfg::Default => 1,
    };
    if l2.secret.is_some() {
        set_auth(&mut t, l2, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    }
    EndpointConfig {
        tunnel: t,
        max_tunnels_per_peer: l2.max_tunnels_per_peer,
        max_tunnels: 4096,
    }
}

/// The control engine (see the module docs).
pub struct Engine {
    cfg: Config,
    ports: Vec<PortInfo>,
    workers: Vec<Arc<WorkerShared>>,
    worker_lcores: Vec<u32>,
    /// Commands a worker's full queue did not take yet, in order.
    backlog: Vec<VecDeque<Command>>,
    neighbours: Neighbours,
    /// IPv6 neighbour discovery and echo on ports with `address6`.
    nd6: super::neighbour6::Neighbours6,
    aging: AgingTable,
    flaps: FlapDetector,
    /// VLAN learning domains of VLAN-aware switches (the MAC tables and
    /// the aging table are keyed by domain).
    vlans: VlanDomains,
    /// What the control core itself drops (its own counters: the
    /// workers' have one writer each).
    drops: DropCounters,
    sessions: Vec<Option<SessionRt>>,
    switches: Vec<Option<SwitchRt>>,
    /// VC ID → switch.
    by_vc: HashMap<String, SwitchId>,
    /// (ccid, local session id) → member, for dynamic sessions.
    by_sid: HashMap<(u32, u32), MemberId>,
    /// Member ids free for dynamic sessions (a stack).
    free_members: Vec<u16>,
    l2tp: Endpoint<Peer>,
    /// The other las nodes of the mesh (`mesh`).
    mesh: Vec<mesh::MeshPeer>,
    /// Where each control peer was last heard: port index and source MAC
    /// (bounded: `note_peer_seen`).
    peer_seen: HashMap<IpAddr, (usize, [u8; 6])>,
    /// When each established control connection came up (ms).
    tunnel_since: HashMap<u32, u64>,
    counters: Counters,
    refusals: RefusalLog,
    /// Control messages per source (in front of parsing and digests).
    control_rate: SourceLimiter<IpAddr>,
    /// The time of the call being handled.
    now: Now,
    tsc_hz: u64,
    last_timer_ms: u64,
    last_aging_s: u64,
    ip_ident: u16,
    /// Frames to send, taken by the I/O loop.
    out: Vec<Outgoing>,
    due: Vec<(usize, Ipv4Addr)>,
    expired: Vec<(SwitchId, u64, MemberId)>,
}

impl Engine {
    /// An engine for `cfg` on `ports`, programming the workers behind
    /// `workers` (one per data-plane worker, on `worker_lcores`).
    /// Nothing is sent before `program`.
    pub fn new(
        cfg: Config,
        ports: Vec<PortInfo>,
        workers: Vec<Arc<WorkerShared>>,
        worker_lcores: Vec<u32>,
        tsc_hz: u64,
    ) -> Engine {
        let n = workers.len();
        let rate = control_rate(&cfg.l2tp);
        let router_id = default_router_id(&ports);
        let mut l2tp = Endpoint::new(endpoint_config(&cfg, router_id), Box::new(OsRandom));
        let l2cfg = cfg.l2tp.clone();
        l2tp.set_per_peer(per_peer(l2cfg));
        // A NAT may give a UDP peer a new source port: its tunnel follows
        // (Endpoint::set_mover says when that is safe). Over IP there is
        // no port to change.
        l2tp.set_mover(Box::new(|from: &Peer, to: &Peer| {
            from.ip == to.ip && from.udp_port != 0 && to.udp_port != 0
        }));
        let max_sessions = cfg.dataplane.max_sessions;
        let max_switches = cfg.dataplane.max_switches;
        Engine {
            backlog: (0..n).map(|_| VecDeque::new()).collect(),
            sessions: (0..max_sessions).map(|_| None).collect(),
            switches: (0..max_switches).map(|_| None).collect(),
            by_vc: HashMap::new(),
            by_sid: HashMap::new(),
            free_members: (0..max_sessions).rev().map(|m| m as u16).collect(),
            l2tp,
            mesh: Self::mesh_peers(&cfg),
            peer_seen: HashMap::new(),
            tunnel_since: HashMap::new(),
            cfg,
            ports,
            workers,
            worker_lcores,
            neighbours: Neighbours::new(),
            nd6: super::neighbour6::Neighbours6::new(super::neighbour6::DEFAULT_CAPACITY),
            aging: AgingTable::new(),
            flaps: FlapDetector::new(4096, max_sessions),
            vlans: VlanDomains::new(max_switches, VLAN_DOMAINS),
            counters: Counters::default(),
            drops: DropCounters::default(),
            refusals: RefusalLog::default(),
            control_rate: SourceLimiter::new(rate, CONTROL_RATE_SOURCES),
            now: Now::default(),
            tsc_hz,
            last_timer_ms: 0,
            last_aging_s: 0,
            ip_ident: 0,
            out: Vec::new(),
            due: Vec::new(),
            expired: Vec::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.now.ms
    }

    /// The ports, as given to `new`.
    pub fn ports(&self) -> &[PortInfo] {
        &self.ports
    }

    /// Work that comes due with time: the workers' backlog, their MAC
    /// events, the L2TP timers, ARP retries and aging (every 100 ms).
    /// Returns true if it did anything.
    pub fn poll(&mut self, now: Now) -> bool {
        self.now = now;
        let mut busy = false;
        self.flush_backlog();
        for w in 0..self.workers.len() {
            busy |= self.drain_events(w);
        }
        if self.l2tp.next_timeout().is_some_and(|t| t <= now.ms) {
            let acts = self.l2tp.poll(now.ms);
            self.l2tp_actions(acts);
        }
        if now.ms >= self.last_timer_ms + 100 {
            self.last_timer_ms = now.ms;
            self.timers();
        }
        busy
    }

    /// Frames to send (ARP requests, L2TP control messages), oldest first.
    pub fn take_frames(&mut self, into: &mut Vec<Outgoing>) {
        into.append(&mut self.out);
    }

    /// The I/O loop could not hand `n` frames to a device.
    pub fn note_tx_failed(&mut self, n: u64) {
        self.counters.punt_tx_failed += n;
    }

    /// The I/O loop dropped a punted frame it could not read (not
    /// linearisable, from an unknown port).
    pub fn note_punt_unreadable(&mut self) {
        self.counters.punt_other += 1;
    }

    /// The control socket's counters, shown with the engine's.
    pub fn note_socket(&mut self, st: SocketStats) {
        self.counters.requests_served = st.served;
        self.counters.socket_clients_refused = st.refused_busy;
        self.counters.socket_requests_too_long = st.too_long;
        self.counters.socket_clients_timed_out = st.timed_out;
    }

    /// Graceful shutdown of the control channel: StopCCN to every peer.
    /// The caller keeps polling for a moment so they leave.
    pub fn stop_l2tp(&mut self, now: Now) {
        self.now = now;
        let acts = self.l2tp.shutdown(now.ms, stopccn_result::BEING_SHUT_DOWN);
        self.l2tp_actions(acts);
    }

    fn timers(&mut self) {
        let now = self.now_ms();
        let mut due = std::mem::take(&mut self.due);
        due.clear();
        self.neighbours.due(now, &mut due);
        for &(p, ip) in &due {
            // Only IPv4 ports resolve IPv4 neighbours (validation).
            if let (mac, Some(ours)) = (self.ports[p].mac, self.ports[p].address) {
                self.send_arp(p, mac, ours, ip);
            }
        }
        self.due = due;
        self.nd6_poll();
        self.mesh_tick();
        let secs = now / 1000;
        if secs != self.last_aging_s {
            self.last_aging_s = secs;
            let mut out = std::mem::take(&mut self.expired);
            out.clear();
            let switches = &self.switches;
            let vlans = &self.vlans;
            self.aging.expire(
                secs,
                |d| {
                    let sw = vlans.owner(d).map_or(d, |(s, _)| s);
                    switches
                        .get(sw.0 as usize)
                        .and_then(Option::as_ref)
                        .map(|s| u64::from(s.cfg.aging))
                        .unwrap_or(300)
                },
                &mut out,
            );
            for &(switch, mac, _) in &out {
                self.counters.macs_aged += 1;
                self.broadcast(|| Command::RemoveMac { switch, mac });
            }
            self.expired = out;
            self.log_mac_limits();
            self.free_idle_switches(now);
            self.mesh_prune();
        }
    }

    fn send_arp(&mut self, p: usize, mac: [u8; 6], ours: Ipv4Addr, target: Ipv4Addr) {
        let mut frame = vec![0u8; 60];
        respond::arp_request(&mut frame, mac, ours, target);
        self.counters.arp_requests_tx += 1;
        self.out.push(Outgoing { port: p, frame });
    }

    /// A frame the workers punted, received on port `p`: ARP, ICMP to
    /// us, or an L2TP control message. An ARP request or ICMP echo for us
    /// is answered in place (`Disposition::Reply`).
    pub fn frame_in(&mut self, now: Now, p: usize, d: &mut [u8]) -> Disposition {
        self.now = now;
        if p >= self.ports.len() || d.len() < ethernet::HEADER_LEN {
            self.counters.punt_other += 1;
            return Disposition::Consumed;
        }
        let et = u16::from_be_bytes([d[12], d[13]]);
        if et == ethertype::IPV6 {
            // L2TP control over IPv6, else neighbour discovery and echo.
            if !self.l2tp6_in(p, d) {
                self.nd6_in(p, d);
            }
            return Disposition::Consumed;
        }
        let mac = self.ports[p].mac;
        let Some(ours) = self.ports[p].address else {
            // An IPv6-only port: the workers drop IPv4 and ARP there as
            // `not_for_us`; whatever reaches us anyway is not answered.
            self.counters.punt_other += 1;
            return Disposition::Consumed;
        };
        if et == ethertype::ARP {
            match respond::arp_in_place(d, mac, ours) {
                ArpOutcome::Replied {
                    sender_ip,
                    sender_mac,
                } => {
                    self.counters.arp_requests_rx += 1;
                    if self
                        .neighbours
                        .learn(p, sender_ip, sender_mac, true, now.ms)
                    {
                        self.refresh_templates();
                    }
                    self.counters.arp_replies_tx += 1;
                    return Disposition::Reply;
                }
                ArpOutcome::Seen {
                    sender_ip,
                    sender_mac,
                    for_us,
                } => {
                    self.counters.arp_other_rx += 1;
                    if self
                        .neighbours
                        .learn(p, sender_ip, sender_mac, for_us, now.ms)
                    {
                        self.refresh_templates();
                    }
                }
                ArpOutcome::Invalid => self.counters.punt_other += 1,
            }
            return Disposition::Consumed;
        }
        // IPv4: ICMP or L2TP control (the classifier punts only those).
        let src_mac = [d[6], d[7], d[8], d[9], d[10], d[11]];
        let Ok(ip) = ipv4::Packet::new_checked(&d[ethernet::HEADER_LEN..]) else {
            self.counters.punt_other += 1;
            return Disposition::Consumed;
        };
        match ip.next_header() {
            protocol::ICMP => {
                if respond::icmp_echo_in_place(d, ours) {
                    self.counters.icmp_echo_replies_tx += 1;
                    return Disposition::Reply;
                }
                self.counters.icmp_other_rx += 1;
            }
            protocol::L2TP => {
                let payload = ip.payload();
                if payload.len() < 4 {
                    self.counters.punt_other += 1;
                    return Disposition::Consumed;
                }
                let peer = Peer {
                    ip: IpAddr::V4(ip.src_addr()),
                    udp_port: 0,
                };
                self.l2tp_in(p, peer, src_mac, &payload[4..]);
            }
            protocol::UDP => {
                let Ok(u) = udp::Packet::new_checked(ip.payload()) else {
                    self.counters.punt_other += 1;
                    return Disposition::Consumed;
                };
                let peer = Peer {
                    ip: IpAddr::V4(ip.src_addr()),
                    udp_port: u.src_port(),
                };
                self.l2tp_in(p, peer, src_mac, u.payload());
            }
            _ => self.counters.punt_other += 1,
        }
        Disposition::Consumed
    }
}

fn in_prefix(addr: Ipv4Addr, len: u8, ip: Ipv4Addr) -> bool {
    let mask = config::prefix_mask(len);
    (u32::from(addr) & mask) == (u32::from(ip) & mask)
}

fn hex(b: &[u8]) -> String {
    if b.is_empty() {
        return String::new();
    }
    let mut s = String::from("0x");
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    s
}

#[cfg(test)]
mod mesh_tests;
#[cfg(test)]
mod tests;
