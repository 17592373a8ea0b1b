//! The control core: the owner of the truth.
//!
//! A single non-blocking loop that drains the workers' punt and event
//! rings, answers ARP and ICMP echo for our addresses, resolves next hops,
//! speaks the RFC 3931 control channel (dynamic pseudowires join the
//! virtual switch named by their VC ID), keeps the merged MAC table and
//! ages it, programs the workers through their command rings, and serves
//! `las show` on the control socket.
//!
//! Sessions (static from the config, dynamic from the control channel)
//! and virtual switches live here in one table each, indexed by their
//! data-plane ids (`MemberId`, `SwitchId`).
#![forbid(unsafe_code)]

use super::admission::{self, Room, Target};
use super::l2tp::OsRandom;
use super::l2tp::{
    Action, Answer, DownReason, Endpoint, EndpointConfig, Refusal, RefuseReason, SecretAuth,
    SessionUp, TunnelConfig,
};
use super::neighbour::Neighbours;
use super::ratelimit::{Rate, SourceLimiter};
use super::refusals::RefusalLog;

/// Control messages a second one peer address may send (sustained, and
/// at once). A router bringing up 1000 pseudowires sends ~2000 ICRQ/ICCN:
/// 2 s at this rate. Parsing and a digest cost ~6 µs a message, so one
/// peer at full rate takes under 1 % of the control core.
const CONTROL_RATE: Rate = Rate {
    per_second: 1000,
    burst: 2000,
};
/// Peer addresses with their own bucket (the rest share one).
const CONTROL_RATE_SOURCES: usize = 4096;
use super::respond::{self, ArpOutcome};
use super::socket::ControlSocket;
use crate::config::{self, Config};
use crate::dpdk::{Burst, Mbuf, Mempool, Port, TxBuffer};
use crate::switch::filter::{ethertype_name, L2Filter};
use crate::switch::flap::{FlapConfig, FlapDetector, FlapVerdict};
use crate::switch::policy::{MssClamp, MtuPolicy, VlanDomains, VlanMode};
use crate::switch::storm::StormRate;
use crate::switch::{mac_from_u64, AgingTable, MemberId, SwitchId, Touch};
use crate::telemetry::show::{
    CountersView, MacView, PortView, Request, Response, SessionView, SwitchView, TunnelView,
    WorkerView,
};
use crate::telemetry::{DropCounters, DropReason};
use crate::wire::ethernet::{self, ethertype, EthernetRepr, MacAddr};
use crate::wire::ipv4::{self, protocol, Ipv4Repr};
use crate::wire::l2tp::auth::DigestAlg;
use crate::wire::l2tp::message::stopccn_result;
use crate::wire::l2tp::{Cookie, EncapTemplate, TemplateParams};
use crate::wire::l2tp::{Encap, L2Spec, VcId};
use crate::wire::udp::{self, UdpRepr};
use crate::worker::{Command, Event, SessionSpec, SwitchSpec, WorkerShared, VLAN_DOMAINS};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::Ipv4Addr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A port as the control core knows it.
pub struct PortRt {
    pub port: Port,
    pub name: String,
    pub device: String,
    pub driver: String,
    pub mac: [u8; 6],
    pub address: Ipv4Addr,
    pub prefix_len: u8,
    pub gateway: Option<Ipv4Addr>,
    pub mtu: u16,
    pub rx_queues: u16,
    pub tx_queues: u16,
    /// The control core's own TX queue, if the device has enough queues;
    /// otherwise its packets go through worker 0's inject ring.
    pub ctrl_txq: Option<u16>,
    /// The device transmits multi-segment mbufs.
    pub multi_seg: bool,
    /// Set DF on the outer IPv4 header of pseudowire packets.
    pub dont_fragment: bool,
}

impl PortRt {
    /// The next hop toward `ip`: itself when on-link, else the gateway.
    fn next_hop(&self, ip: Ipv4Addr) -> Ipv4Addr {
        if in_prefix(self.address, self.prefix_len, ip) {
            ip
        } else {
            self.gateway.unwrap_or(ip)
        }
    }
}

/// An L2TP control-channel peer: its address and, over UDP, its port
/// (0 over IP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    pub ip: Ipv4Addr,
    pub udp_port: u16,
}

/// Where a dynamic session came from.
struct DynInfo {
    ccid: u32,
    vc_id: String,
    since: Instant,
}

/// A pseudowire, static or dynamic.
struct SessionRt {
    name: String,
    member: MemberId,
    switch: SwitchId,
    port: usize,
    peer: Ipv4Addr,
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
    next_hop: Ipv4Addr,
    next_hop_mac: Option<[u8; 6]>,
    /// Length of the encapsulation header (0 until the next hop resolves).
    template_len: usize,
    /// PW type 4 (RFC 4448 tagged mode): frames must carry a VLAN tag.
    vlan_pw: bool,
    dynamic: Option<DynInfo>,
}

/// A virtual switch.
struct SwitchRt {
    name: String,
    aging: u32,
    mac_limit: u32,
    ethertypes: Vec<u16>,
    deny: Vec<u16>,
    /// Created on first use by a VC ID (not in the config).
    auto: bool,
    member_mac_limit: u32,
    vlan_mode: VlanMode,
    mss: MssClamp,
    mtu_policy: MtuPolicy,
    storm: [StormRate; 3],
    flap: FlapConfig,
    /// `learn_failed` summed over workers at the last check.
    learn_failed_seen: u64,
    /// VLAN-aware: the allowed VLANs (empty = all).
    vlans: Vec<u16>,
    /// Largest inner frame all members carry (sent to the workers).
    max_frame: usize,
    /// Auto-created: the peer whose session created it (its quota).
    creator: Option<Ipv4Addr>,
    /// Auto-created and without members since (ms): freed after
    /// `l2tp.auto_switch_grace`.
    empty_since: Option<u64>,
    /// The workers' counters of this switch slot when the switch was
    /// made: a freed auto switch's slot is reused, and the views count
    /// from here.
    base: [u64; SWITCH_COUNTERS],
}

/// Auto-created switches one peer address may hold at once: a peer that
/// asks for VC 1, 2, 3, ... cannot take every switch slot.
const AUTO_SWITCHES_PER_PEER: usize = 64;
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
    fn from_config(sw: &config::Switch, auto: bool) -> SwitchRt {
        SwitchRt {
            name: sw.name.clone(),
            aging: sw.aging,
            mac_limit: sw.mac_limit,
            ethertypes: sw.ethertypes.clone(),
            deny: sw.deny.clone(),
            auto,
            member_mac_limit: sw.mac_limit_per_member,
            vlan_mode: sw.vlan_mode,
            mss: sw.mss_clamp,
            mtu_policy: sw.mtu_policy,
            storm: sw.storm_rates(),
            flap: sw.flap_config(),
            learn_failed_seen: 0,
            vlans: sw.vlans.clone(),
            max_frame: 0,
            creator: None,
            empty_since: None,
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
    sessions_up: u64,
    sessions_down: u64,
    sessions_refused: u64,
    punt_other: u64,
    punt_tx_failed: u64,
    neighbours_resolved: u64,
    macs_learned: u64,
    macs_moved: u64,
    macs_aged: u64,
    mac_flaps: u64,
    members_blocked: u64,
    vlan_domains: u64,
    vlan_domains_full: u64,
    switches_freed: u64,
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
        put("sessions_up", self.sessions_up);
        put("sessions_down", self.sessions_down);
        put("sessions_refused", self.sessions_refused);
        put("punt_other", self.punt_other);
        put("punt_tx_failed", self.punt_tx_failed);
        put("neighbours_resolved", self.neighbours_resolved);
        put("macs_learned", self.macs_learned);
        put("macs_moved", self.macs_moved);
        put("macs_aged", self.macs_aged);
        put("mac_flaps", self.mac_flaps);
        put("members_blocked", self.members_blocked);
        put("vlan_domains", self.vlan_domains);
        put("vlan_domains_full", self.vlan_domains_full);
        put("switches_freed", self.switches_freed);
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
fn set_auth(t: &mut TunnelConfig, l2: &config::L2tp, ip: Ipv4Addr) {
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
        set_auth(&mut t, l2, Ipv4Addr::UNSPECIFIED);
    }
    EndpointConfig {
        tunnel: t,
        max_tunnels_per_peer: l2.max_tunnels_per_peer,
        max_tunnels: 4096,
    }
}

pub struct ControlCore {
    cfg: Config,
    ports: Vec<PortRt>,
    workers: Vec<Arc<WorkerShared>>,
    worker_lcores: Vec<u32>,
    backlog: Vec<VecDeque<Command>>,
    pool: Arc<Mempool>,
    neighbours: Neighbours,
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
    /// Where each control peer was last heard: port index and source MAC.
    peer_seen: HashMap<Ipv4Addr, (usize, [u8; 6])>,
    /// When each established control connection came up.
    tunnel_since: HashMap<u32, Instant>,
    counters: Counters,
    refusals: RefusalLog,
    /// Control messages per source (in front of parsing and digests).
    control_rate: SourceLimiter<Ipv4Addr>,
    socket: Option<ControlSocket>,
    start: Instant,
    tsc_hz: u64,
    last_timer_ms: u64,
    last_aging_s: u64,
    ip_ident: u16,
    ctrl_tx: TxBuffer,
    burst: Burst,
    due: Vec<(usize, Ipv4Addr)>,
    expired: Vec<(SwitchId, u64, MemberId)>,
}

impl ControlCore {
    pub fn new(
        cfg: Config,
        ports: Vec<PortRt>,
        workers: Vec<Arc<WorkerShared>>,
        worker_lcores: Vec<u32>,
        pool: Arc<Mempool>,
        tsc_hz: u64,
    ) -> ControlCore {
        let n = workers.len();
        let router_id = ports
            .first()
            .map(|p| p.address)
            .unwrap_or(Ipv4Addr::UNSPECIFIED);
        let mut l2tp = Endpoint::new(endpoint_config(&cfg, router_id), Box::new(OsRandom));
        let l2cfg = cfg.l2tp.clone();
        l2tp.set_per_peer(Box::new(move |peer: &Peer, base: &TunnelConfig| {
            let mut t = base.clone();
            set_auth(&mut t, &l2cfg, peer.ip);
            t
        }));
        for s in &cfg.sessions {
            l2tp.reserve_session_id(s.local_session_id);
        }
        let max_sessions = cfg.dataplane.max_sessions;
        let max_switches = cfg.dataplane.max_switches;
        let nstatic = cfg.sessions.len();
        ControlCore {
            backlog: (0..n).map(|_| VecDeque::new()).collect(),
            sessions: (0..max_sessions).map(|_| None).collect(),
            switches: (0..max_switches).map(|_| None).collect(),
            by_vc: HashMap::new(),
            by_sid: HashMap::new(),
            free_members: (nstatic..max_sessions).rev().map(|m| m as u16).collect(),
            l2tp,
            peer_seen: HashMap::new(),
            tunnel_since: HashMap::new(),
            cfg,
            ports,
            workers,
            worker_lcores,
            pool,
            neighbours: Neighbours::new(),
            aging: AgingTable::new(),
            flaps: FlapDetector::new(4096, max_sessions),
            vlans: VlanDomains::new(max_switches, VLAN_DOMAINS),
            counters: Counters::default(),
            drops: DropCounters::default(),
            refusals: RefusalLog::default(),
            control_rate: SourceLimiter::new(CONTROL_RATE, CONTROL_RATE_SOURCES),
            socket: None,
            start: Instant::now(),
            tsc_hz,
            last_timer_ms: 0,
            last_aging_s: 0,
            ip_ident: 0,
            ctrl_tx: TxBuffer::new(),
            burst: Burst::new(),
            due: Vec::new(),
            expired: Vec::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// Queues `cmd` for every worker.
    fn broadcast(&mut self, mut make: impl FnMut() -> Command) {
        for w in 0..self.workers.len() {
            let c = make();
            self.send_cmd(w, c);
        }
    }

    fn send_cmd(&mut self, w: usize, cmd: Command) {
        if !self.backlog[w].is_empty() {
            self.counters.commands_backlogged += 1;
            self.backlog[w].push_back(cmd);
            return;
        }
        if let Err(cmd) = self.workers[w].commands.push(cmd) {
            self.counters.commands_backlogged += 1;
            self.backlog[w].push_back(cmd);
        }
    }

    fn flush_backlog(&mut self) {
        for w in 0..self.workers.len() {
            while let Some(cmd) = self.backlog[w].pop_front() {
                if let Err(cmd) = self.workers[w].commands.push(cmd) {
                    self.backlog[w].push_front(cmd);
                    break;
                }
            }
        }
    }

    /// Creates switch `id` and programs it into the workers.
    fn add_switch(&mut self, id: SwitchId, sw: SwitchRt) {
        // Validated with the config: at most MAX_ETHERTYPES / MAX_DENY.
        let filter = L2Filter::new(&sw.ethertypes)
            .and_then(|f| f.with_deny(&sw.deny))
            .unwrap_or_default();
        let spec = SwitchSpec {
            id,
            filter,
            mac_limit: sw.mac_limit,
            member_mac_limit: sw.member_mac_limit,
            vlan_mode: sw.vlan_mode,
            mss: sw.mss,
            mtu_policy: sw.mtu_policy,
            storm: sw.storm,
            vlan_list: !sw.vlans.is_empty(),
        };
        self.broadcast(|| Command::AddSwitch(Box::new(spec.clone())));
        let vlans = sw.vlans.clone();
        self.switches[id.0 as usize] = Some(sw);
        for vid in vlans {
            self.map_vlan(id, vid);
        }
    }

    /// Adds a session to the data plane (its template follows once the
    /// next hop resolves).
    fn add_session(&mut self, s: SessionRt) {
        let spec = SessionSpec {
            member: s.member,
            switch: s.switch,
            port: s.port as u8,
            peer: s.peer,
            local_session_id: s.local_session_id,
            encap: s.encap,
            udp_peer_port: s.udp_peer_port,
            local_cookie: s.local_cookie,
            l2spec: s.l2spec_rx,
            vlan_pw: s.vlan_pw,
        };
        self.broadcast(|| Command::AddSession(Box::new(spec)));
        let now = self.now_ms();
        self.neighbours.want(s.port, s.next_hop, now);
        let i = s.member.0 as usize;
        self.sessions[i] = Some(s);
    }

    /// Programs switches and static sessions, static neighbours, and sends
    /// gratuitous ARPs and the first ARP requests.
    pub fn program(&mut self) {
        let now = self.now_ms();
        for (i, sw) in self.cfg.switches.clone().into_iter().enumerate() {
            for vc in &sw.vc_ids {
                self.by_vc.insert(vc.clone(), SwitchId(i as u16));
            }
            self.add_switch(SwitchId(i as u16), SwitchRt::from_config(&sw, false));
        }
        for n in self.cfg.neighbors.clone() {
            self.neighbours.add_static(n.port, n.address, n.mac);
        }
        for (i, s) in self.cfg.sessions.clone().into_iter().enumerate() {
            let l2spec = match s.l2spec {
                config::L2SpecCfg::None => L2Spec::None,
                config::L2SpecCfg::Default => L2Spec::Default,
            };
            // Validated with the config; a cookie that is not 0, 4 or 8
            // bytes never becomes "no cookie check".
            let (Ok(local_cookie), Ok(remote_cookie)) =
                (Cookie::new(&s.local_cookie), Cookie::new(&s.remote_cookie))
            else {
                log::error!(
                    "session {}: a cookie is not 0, 4 or 8 bytes: not programmed",
                    s.name
                );
                continue;
            };
            let next_hop = self.ports[s.port].next_hop(s.peer);
            self.add_session(SessionRt {
                name: s.name,
                member: MemberId(i as u16),
                switch: SwitchId(s.switch as u16),
                port: s.port,
                peer: s.peer,
                encap: match s.encap {
                    config::Encap::Ip => Encap::Ip,
                    config::Encap::Udp => Encap::Udp,
                },
                udp_local_port: s.udp_local_port,
                udp_peer_port: s.udp_peer_port,
                local_session_id: s.local_session_id,
                remote_session_id: s.remote_session_id,
                local_cookie,
                remote_cookie,
                l2spec_rx: l2spec,
                l2spec_tx: l2spec,
                sequencing: l2spec == L2Spec::Default,
                next_hop,
                next_hop_mac: None,
                template_len: 0,
                vlan_pw: false,
                dynamic: None,
            });
        }
        for (i, sw) in self.cfg.switches.clone().into_iter().enumerate() {
            let switch = SwitchId(i as u16);
            for sm in sw.static_macs {
                let mac = crate::switch::mac_to_u64(sm.mac);
                let member = MemberId(sm.session as u16);
                self.aging.add_static(switch, mac, member);
                self.broadcast(|| Command::InstallMac {
                    switch,
                    mac,
                    member,
                    is_static: true,
                });
            }
        }
        for p in 0..self.ports.len() {
            if let Some(gw) = self.ports[p].gateway {
                self.neighbours.want(p, gw, now);
            }
            let (mac, ip) = (self.ports[p].mac, self.ports[p].address);
            self.send_arp(p, mac, ip, ip);
        }
        self.refresh_templates();
        self.timers();
    }

    /// Tells every worker to apply its queue, and returns once all have.
    pub fn sync_workers(&mut self, mut idle: impl FnMut()) {
        for w in &self.workers {
            w.sync_request.fetch_add(1, Ordering::AcqRel);
        }
        loop {
            self.flush_backlog();
            let done = self.backlog.iter().all(VecDeque::is_empty)
                && self.workers.iter().all(|w| {
                    w.commands.is_empty()
                        && w.synced.load(Ordering::Acquire)
                            == w.sync_request.load(Ordering::Acquire)
                });
            if done {
                return;
            }
            idle();
        }
    }

    pub fn set_socket(&mut self, s: ControlSocket) {
        self.socket = Some(s);
    }

    /// Rebuilds the encapsulation template of every session whose next hop
    /// MAC changed, and sends it to the workers.
    fn refresh_templates(&mut self) {
        for i in 0..self.sessions.len() {
            let Some(s) = self.sessions[i].as_ref() else {
                continue;
            };
            let mac = self.neighbours.get(s.port, s.next_hop);
            if mac == s.next_hop_mac {
                continue;
            }
            let member = s.member;
            let t = mac.map(|m| Box::new(self.template(s, m)));
            if let Some(s) = self.sessions[i].as_mut() {
                s.next_hop_mac = mac;
                s.template_len = t.as_ref().map_or(0, |t| t.len());
            }
            if mac.is_some() {
                self.counters.neighbours_resolved += 1;
            }
            self.broadcast(|| Command::SetTemplate(member, t.clone()));
        }
        self.update_max_frames();
    }

    /// For MSS clamping in `auto` mode: the largest inner frame every
    /// member of a switch can carry in one outer packet (its port's MTU
    /// minus its encapsulation), sent to the workers when it changes.
    fn update_max_frames(&mut self) {
        for i in 0..self.switches.len() {
            let Some(sw) = self.switches[i].as_ref() else {
                continue;
            };
            let max_frame = self
                .sessions
                .iter()
                .flatten()
                .filter(|s| s.switch.0 as usize == i && s.template_len > 0)
                .map(|s| {
                    (self.ports[s.port].mtu as usize)
                        .saturating_sub(s.template_len - ethernet::HEADER_LEN)
                })
                .min()
                .unwrap_or(0);
            if max_frame != sw.max_frame {
                if let Some(sw) = self.switches[i].as_mut() {
                    sw.max_frame = max_frame;
                }
                let switch = SwitchId(i as u16);
                self.broadcast(|| Command::SetMaxFrame { switch, max_frame });
            }
        }
    }

    fn template(&self, s: &SessionRt, next_hop_mac: [u8; 6]) -> EncapTemplate {
        let p = &self.ports[s.port];
        let mut t = EncapTemplate::new(&TemplateParams {
            src_mac: MacAddr(p.mac),
            dst_mac: MacAddr(next_hop_mac),
            src_ip: p.address,
            dst_ip: s.peer,
            encap: s.encap,
            udp_src_port: s.udp_local_port,
            udp_dst_port: s.udp_peer_port,
            session_id: s.remote_session_id,
            cookie: s.remote_cookie,
            l2spec: s.l2spec_tx,
            ttl: 64,
            dscp: 0,
            dont_frag: p.dont_fragment,
        });
        if s.l2spec_tx == L2Spec::Default {
            t.set_sequencing(s.sequencing);
        }
        t
    }

    /// One iteration of the control loop. Returns true if it did anything.
    pub fn poll_once(&mut self) -> bool {
        let mut busy = false;
        self.flush_backlog();
        for w in 0..self.workers.len() {
            busy |= self.drain_punt(w);
            busy |= self.drain_events(w);
        }
        let now = self.now_ms();
        if self.l2tp.next_timeout().is_some_and(|t| t <= now) {
            let acts = self.l2tp.poll(now);
            self.l2tp_actions(acts);
        }
        if now >= self.last_timer_ms + 100 {
            self.last_timer_ms = now;
            self.timers();
        }
        // Never waits on a client (control::socket).
        if let Some(mut sock) = self.socket.take() {
            busy |= sock.poll(now, |r| self.answer(r));
            let st = sock.stats();
            self.counters.requests_served = st.served;
            self.counters.socket_clients_refused = st.refused_busy;
            self.counters.socket_requests_too_long = st.too_long;
            self.counters.socket_clients_timed_out = st.timed_out;
            self.socket = Some(sock);
        }
        busy
    }

    /// Graceful shutdown of the control channel: StopCCN to every peer.
    /// The caller keeps polling for a moment so they leave.
    pub fn stop_l2tp(&mut self) {
        let now = self.now_ms();
        let acts = self.l2tp.shutdown(now, stopccn_result::BEING_SHUT_DOWN);
        self.l2tp_actions(acts);
    }

    fn timers(&mut self) {
        let now = self.now_ms();
        let mut due = std::mem::take(&mut self.due);
        due.clear();
        self.neighbours.due(now, &mut due);
        for &(p, ip) in &due {
            let (mac, ours) = (self.ports[p].mac, self.ports[p].address);
            self.send_arp(p, mac, ours, ip);
        }
        self.due = due;
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
                        .map(|s| s.aging as u64)
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
        }
    }

    fn send_arp(&mut self, p: usize, mac: [u8; 6], ours: Ipv4Addr, target: Ipv4Addr) {
        let Some(mut m) = Mbuf::alloc(&self.pool) else {
            self.counters.punt_tx_failed += 1;
            return;
        };
        let Some(buf) = m.append(60) else {
            self.counters.punt_tx_failed += 1;
            return;
        };
        buf.fill(0);
        respond::arp_request(buf, mac, ours, target);
        self.counters.arp_requests_tx += 1;
        self.transmit(p, m);
    }

    /// Sends a control-core packet out of port `p`.
    fn transmit(&mut self, p: usize, mut m: Mbuf) {
        match self.ports[p].ctrl_txq {
            Some(q) => {
                if self.ctrl_tx.push(m).is_ok() {
                    let (_, _, dropped) = self.ports[p].port.tx_burst(q, &mut self.ctrl_tx);
                    self.counters.punt_tx_failed += dropped as u64;
                }
            }
            None => {
                m.set_port(p as u16);
                if self.workers[0].inject.enqueue(m).is_err() {
                    self.counters.punt_tx_failed += 1;
                }
            }
        }
    }

    fn drain_punt(&mut self, w: usize) -> bool {
        let mut burst = std::mem::take(&mut self.burst);
        let n = self.workers[w].punt.dequeue(&mut burst);
        while let Some(m) = burst.pop() {
            self.punted(m);
        }
        self.burst = burst;
        n > 0
    }

    fn punted(&mut self, mut m: Mbuf) {
        let p = m.port() as usize;
        if p >= self.ports.len() || !m.linearize() {
            self.counters.punt_other += 1;
            return;
        }
        let (mac, ours) = (self.ports[p].mac, self.ports[p].address);
        let d = m.data();
        if d.len() < ethernet::HEADER_LEN {
            self.counters.punt_other += 1;
            return;
        }
        let et = u16::from_be_bytes([d[12], d[13]]);
        if et == ethertype::ARP {
            let now = self.now_ms();
            match respond::arp_in_place(m.data_mut(), mac, ours) {
                ArpOutcome::Replied {
                    sender_ip,
                    sender_mac,
                } => {
                    self.counters.arp_requests_rx += 1;
                    if self.neighbours.learn(p, sender_ip, sender_mac, true, now) {
                        self.refresh_templates();
                    }
                    self.counters.arp_replies_tx += 1;
                    self.transmit(p, m);
                }
                ArpOutcome::Seen {
                    sender_ip,
                    sender_mac,
                    for_us,
                } => {
                    self.counters.arp_other_rx += 1;
                    if self.neighbours.learn(p, sender_ip, sender_mac, for_us, now) {
                        self.refresh_templates();
                    }
                }
                ArpOutcome::Invalid => self.counters.punt_other += 1,
            }
            return;
        }
        // IPv4: ICMP or L2TP control (the classifier punts only those).
        let Ok(ip) = ipv4::Packet::new_checked(&d[ethernet::HEADER_LEN..]) else {
            self.counters.punt_other += 1;
            return;
        };
        match ip.next_header() {
            protocol::ICMP => {
                if respond::icmp_echo_in_place(m.data_mut(), ours) {
                    self.counters.icmp_echo_replies_tx += 1;
                    self.transmit(p, m);
                } else {
                    self.counters.icmp_other_rx += 1;
                }
            }
            protocol::L2TP => {
                let payload = ip.payload();
                if payload.len() < 4 {
                    self.counters.punt_other += 1;
                    return;
                }
                let peer = Peer {
                    ip: ip.src_addr(),
                    udp_port: 0,
                };
                let src_mac = [d[6], d[7], d[8], d[9], d[10], d[11]];
                self.l2tp_in(p, peer, src_mac, &payload[4..]);
            }
            protocol::UDP => {
                let Ok(u) = udp::Packet::new_checked(ip.payload()) else {
                    self.counters.punt_other += 1;
                    return;
                };
                let peer = Peer {
                    ip: ip.src_addr(),
                    udp_port: u.src_port(),
                };
                let src_mac = [d[6], d[7], d[8], d[9], d[10], d[11]];
                self.l2tp_in(p, peer, src_mac, u.payload());
            }
            _ => self.counters.punt_other += 1,
        }
    }

    /// A control message from `peer` arrived on port `p`.
    fn l2tp_in(&mut self, p: usize, peer: Peer, src_mac: [u8; 6], msg: &[u8]) {
        self.counters.l2tp_control_rx += 1;
        if !self.cfg.l2tp.allowed(peer.ip) {
            self.counters.l2tp_peer_refused += 1;
            self.drops.drop(DropReason::ControlRefused);
            return;
        }
        let now = self.now_ms();
        if !self.control_rate.allow(peer.ip, now) {
            let r = Refusal::dropped(
                0,
                None,
                RefuseReason::RateLimited,
                format!(
                    "over {} control messages/s from this peer",
                    CONTROL_RATE.per_second
                ),
            );
            return self.refused(peer, &r);
        }
        self.peer_seen.insert(peer.ip, (p, src_mac));
        let room = Room {
            auto_switch: self.cfg.l2tp.auto_switch,
            switch_free: self.switches.iter().any(Option::is_none),
            max_switches: self.switches.len(),
            member_free: !self.free_members.is_empty(),
            max_sessions: self.cfg.dataplane.max_sessions,
            peer_auto_switches: self.auto_switches_of(peer.ip),
            max_auto_per_peer: AUTO_SWITCHES_PER_PEER,
        };
        let (by_vc, switches) = (&self.by_vc, &self.switches);
        let acts = self.l2tp.handle_with(now, peer, msg, &mut |_, req| {
            let vc = VcId::from_remote_end_id(req.remote_end_id);
            let target = match by_vc
                .get(&vc.to_string())
                .and_then(|s| switches.get(s.0 as usize).and_then(Option::as_ref))
            {
                Some(sw) => Target::Existing {
                    name: &sw.name,
                    vlan_mode: sw.vlan_mode,
                },
                None => Target::New,
            };
            admission::admit(&vc, req.pw_type, target, room)
        });
        self.l2tp_actions(acts);
    }

    /// Logs (rate-limited) and counts a refusal.
    fn refused(&mut self, peer: Peer, r: &Refusal) {
        let now = self.now_ms();
        let who = if peer.udp_port != 0 {
            format!("{}:{}", peer.ip, peer.udp_port)
        } else {
            peer.ip.to_string()
        };
        if let Some(line) = self.refusals.record(now, &who, r) {
            log::warn!("{line}");
        }
    }

    fn l2tp_actions(&mut self, acts: Vec<(Peer, Action)>) {
        for (peer, a) in acts {
            match a {
                Action::Send(bytes) => self.l2tp_send(peer, &bytes),
                Action::SessionUp(up) => self.session_up(peer, up),
                Action::SessionDown(d) => {
                    self.session_down(d.local_ccid, d.local_session_id, d.reason)
                }
                Action::TunnelUp(t) => {
                    self.tunnel_since.insert(t.local_ccid, Instant::now());
                    log::info!(
                        "l2tp: control connection {} up with {} ({}), peer ccid {}",
                        t.local_ccid,
                        peer.ip,
                        String::from_utf8_lossy(&t.peer_host_name),
                        t.remote_ccid
                    )
                }
                Action::TunnelDown(t) => {
                    self.tunnel_since.remove(&t.local_ccid);
                    log::info!(
                        "l2tp: control connection {} with {} down: {:?}",
                        t.local_ccid,
                        peer.ip,
                        t.reason
                    )
                }
                Action::SessionStatus {
                    local_ccid,
                    local_session_id,
                    active,
                } => log::info!(
                    "l2tp: session {local_session_id} (ccid {local_ccid}) circuit {}",
                    if active { "up" } else { "down" }
                ),
                Action::Refused(r) => self.refused(peer, &r),
            }
        }
    }

    /// Sends a control message to `peer`: over UDP back to the port it
    /// used, over IP behind a zero session id.
    fn l2tp_send(&mut self, peer: Peer, msg: &[u8]) {
        let Some(&(p, last_mac)) = self.peer_seen.get(&peer.ip) else {
            self.counters.l2tp_no_route += 1;
            return;
        };
        let port = &self.ports[p];
        let nh = port.next_hop(peer.ip);
        // Prefer the ARP cache; a peer we never resolved is answered
        // through the router its packet came from.
        let dst = self.neighbours.get(p, nh).unwrap_or(last_mac);
        let (l4, proto) = if peer.udp_port != 0 {
            (udp::HEADER_LEN, protocol::UDP)
        } else {
            (4, protocol::L2TP)
        };
        let len = ethernet::HEADER_LEN + ipv4::HEADER_LEN + l4 + msg.len();
        let (src_mac, src_ip, udp_port) = (port.mac, port.address, self.cfg.l2tp.udp_port);
        self.ip_ident = self.ip_ident.wrapping_add(1);
        let ident = self.ip_ident;
        let Some(mut m) = Mbuf::alloc(&self.pool) else {
            self.counters.punt_tx_failed += 1;
            return;
        };
        let Some(buf) = m.append(len) else {
            self.counters.punt_tx_failed += 1;
            return;
        };
        let mut eth = ethernet::Frame::new_unchecked(&mut buf[..]);
        EthernetRepr {
            src: MacAddr(src_mac),
            dst: MacAddr(dst),
            ethertype: ethertype::IPV4,
        }
        .emit(&mut eth);
        let ipb = &mut buf[ethernet::HEADER_LEN..];
        Ipv4Repr {
            src: src_ip,
            dst: peer.ip,
            protocol: proto,
            payload_len: l4 + msg.len(),
            ttl: 64,
            ident,
            dont_frag: false,
            dscp: 0,
        }
        .emit(&mut ipv4::Packet::new_unchecked(&mut ipb[..]));
        let l4b = &mut ipb[ipv4::HEADER_LEN..];
        if peer.udp_port != 0 {
            l4b[udp::HEADER_LEN..].copy_from_slice(msg);
            let mut u = udp::Packet::new_unchecked(&mut l4b[..]);
            UdpRepr {
                src_port: udp_port,
                dst_port: peer.udp_port,
                payload_len: msg.len(),
            }
            .emit(&mut u);
            u.fill_checksum_v4(src_ip, peer.ip);
        } else {
            l4b[..4].fill(0);
            l4b[4..].copy_from_slice(msg);
        }
        self.counters.l2tp_control_tx += 1;
        self.transmit(p, m);
    }

    /// The switch for a VC ID: the configured one, else (if allowed) a new
    /// one created with default policy.
    fn switch_for_vc(
        &mut self,
        vc: &str,
        peer: Ipv4Addr,
    ) -> Result<SwitchId, (RefuseReason, String)> {
        if let Some(&s) = self.by_vc.get(vc) {
            return Ok(s);
        }
        let mine = self.auto_switches_of(peer);
        if self.cfg.l2tp.auto_switch && mine >= AUTO_SWITCHES_PER_PEER {
            return Err((
                RefuseReason::SwitchLimit,
                format!("cannot create switch vc-{vc}: this peer holds {mine} auto-created switches (limit {AUTO_SWITCHES_PER_PEER})"),
            ));
        }
        if !self.cfg.l2tp.auto_switch {
            return Err((
                RefuseReason::NoSwitch,
                format!("no switch has VC ID {vc} in its vc_ids, and l2tp.auto_switch is off"),
            ));
        }
        let Some(free) = self.switches.iter().position(Option::is_none) else {
            return Err((
                RefuseReason::SwitchLimit,
                format!(
                    "cannot create switch vc-{vc}: dataplane.max_switches = {} reached",
                    self.switches.len()
                ),
            ));
        };
        let id = SwitchId(free as u16);
        let defaults = config::Switch::with_defaults(&format!("vc-{vc}"));
        let mut sw = SwitchRt::from_config(&defaults, true);
        sw.creator = Some(peer);
        sw.base = self.switch_sums(free);
        sw.learn_failed_seen = sw.base[6];
        self.add_switch(id, sw);
        self.by_vc.insert(vc.to_string(), id);
        log::info!("switch vc-{vc} created for VC ID {vc} (by {peer})");
        Ok(id)
    }

    /// Auto-created switches that `peer`'s sessions created and that live.
    fn auto_switches_of(&self, peer: Ipv4Addr) -> usize {
        self.switches
            .iter()
            .flatten()
            .filter(|s| s.creator == Some(peer))
            .count()
    }

    /// A switch slot's counters summed over the workers.
    fn switch_sums(&self, i: usize) -> [u64; SWITCH_COUNTERS] {
        let mut t = [0u64; SWITCH_COUNTERS];
        for w in &self.workers {
            for (a, b) in t.iter_mut().zip(switch_counters(&w.counters.switches[i])) {
                *a += b;
            }
        }
        t
    }

    /// Frees the auto-created switches without a member for
    /// `l2tp.auto_switch_grace` (a pseudowire that flaps keeps its switch,
    /// and its counters stay in `las show` until then): their MACs are
    /// flushed on the workers, their VC ID forgotten, their slot free.
    fn free_idle_switches(&mut self, now: u64) {
        let grace = u64::from(self.cfg.l2tp.auto_switch_grace) * 1000;
        let idle: Vec<usize> = self
            .switches
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let s = s.as_ref()?;
                (s.auto && s.empty_since.is_some_and(|t| now >= t + grace)).then_some(i)
            })
            .collect();
        for i in idle {
            let id = SwitchId(i as u16);
            if self.sessions.iter().flatten().any(|x| x.switch == id) {
                continue;
            }
            self.broadcast(|| Command::FlushSwitch(id));
            self.aging.remove_switch(id);
            self.by_vc.retain(|_, s| *s != id);
            if let Some(sw) = self.switches[i].take() {
                log::info!("switch {} freed: no member for {} s", sw.name, grace / 1000);
            }
            self.counters.switches_freed += 1;
        }
    }

    fn session_up(&mut self, peer: Peer, up: SessionUp) {
        let now = self.now_ms();
        // Canonical and printable (wire::l2tp::vcid): ASCII decimal and
        // 4-byte binary Remote End IDs name the same VC ID.
        let vc = VcId::from_remote_end_id(&up.remote_end_id).to_string();
        // Admission (at ICRQ) made this unlikely; the state may have
        // changed before the ICCN came.
        let refuse = |this: &mut Self, reason: RefuseReason, why: String| {
            this.counters.sessions_refused += 1;
            let r = Refusal {
                local_ccid: up.local_ccid,
                msg: Some(crate::wire::l2tp::message::MessageType::Iccn),
                answer: Answer::Cdn,
                reason,
                detail: format!("VC ID {vc}: {why}"),
                local_session_id: up.local_session_id,
                remote_session_id: up.remote_session_id,
            };
            this.refused(peer, &r);
            let acts = this.l2tp.close_session(
                now,
                up.local_ccid,
                up.local_session_id,
                crate::wire::l2tp::message::cdn_result::NO_FACILITIES_TEMPORARY,
                Some(crate::wire::l2tp::message::error_code::INSUFFICIENT_RESOURCES),
                &r.detail,
            );
            this.l2tp_actions(acts);
        };
        if self
            .by_sid
            .contains_key(&(up.local_ccid, up.local_session_id))
        {
            // The FSM reports a session up once; never give one session
            // two members (it would get its own broadcasts back).
            let r = Refusal::dropped(
                up.local_ccid,
                Some(crate::wire::l2tp::message::MessageType::Iccn),
                RefuseReason::FsmError,
                format!("session {} is up already", up.local_session_id),
            );
            return self.refused(peer, &r);
        }
        let Some(&(p, _)) = self.peer_seen.get(&peer.ip) else {
            return refuse(
                self,
                RefuseReason::NoRoute,
                "no port toward the peer".into(),
            );
        };
        if self.free_members.is_empty() {
            let why = format!(
                "no free member slot: dataplane.max_sessions = {} reached",
                self.cfg.dataplane.max_sessions
            );
            return refuse(self, RefuseReason::MemberLimit, why);
        }
        // The FSM only takes 0-, 4- and 8-byte cookies; anything else
        // is refused, never carried as "no cookie".
        let (Ok(local_cookie), Ok(remote_cookie)) =
            (Cookie::new(&up.our_cookie), Cookie::new(&up.peer_cookie))
        else {
            let why = "a cookie is not 0, 4 or 8 bytes".to_string();
            return refuse(self, RefuseReason::BadAvp, why);
        };
        let switch = match self.switch_for_vc(&vc, peer.ip) {
            Ok(s) => s,
            Err((reason, why)) => return refuse(self, reason, why),
        };
        let Some(member) = self.free_members.pop() else {
            return;
        };
        let member = MemberId(member);
        let l2 = |v: u16| {
            if v == 1 {
                L2Spec::Default
            } else {
                L2Spec::None
            }
        };
        let next_hop = self.ports[p].next_hop(peer.ip);
        let s = SessionRt {
            name: format!("{}/{}", peer.ip, up.local_session_id),
            member,
            switch,
            port: p,
            peer: peer.ip,
            encap: if peer.udp_port != 0 {
                Encap::Udp
            } else {
                Encap::Ip
            },
            udp_local_port: if peer.udp_port != 0 {
                self.cfg.l2tp.udp_port
            } else {
                0
            },
            udp_peer_port: peer.udp_port,
            local_session_id: up.local_session_id,
            remote_session_id: up.remote_session_id,
            local_cookie,
            remote_cookie,
            l2spec_rx: l2(up.l2spec),
            l2spec_tx: l2(up.peer_l2spec),
            sequencing: up.sequencing != 0,
            next_hop,
            next_hop_mac: None,
            template_len: 0,
            vlan_pw: up.pw_type == crate::wire::l2tp::message::pw_type::ETHERNET_VLAN,
            dynamic: Some(DynInfo {
                ccid: up.local_ccid,
                vc_id: vc.clone(),
                since: Instant::now(),
            }),
        };
        log::info!(
            "l2tp: session {} up: peer {} VC ID {vc} → switch {}",
            s.local_session_id,
            peer.ip,
            self.switch_name(switch)
        );
        self.by_sid
            .insert((up.local_ccid, up.local_session_id), member);
        if let Some(sw) = self.switches[switch.0 as usize].as_mut() {
            sw.empty_since = None;
        }
        self.add_session(s);
        self.counters.sessions_up += 1;
        self.refresh_templates();
    }

    fn session_down(&mut self, ccid: u32, sid: u32, reason: DownReason) {
        let Some(member) = self.by_sid.remove(&(ccid, sid)) else {
            return;
        };
        log::info!("l2tp: session {sid} (ccid {ccid}) down: {reason:?}");
        self.counters.sessions_down += 1;
        self.broadcast(|| Command::RemoveSession(member));
        for (switch, mac) in self.aging.remove_member(member) {
            self.broadcast(|| Command::RemoveMac { switch, mac });
        }
        let switch = self.sessions[member.0 as usize].take().map(|s| s.switch);
        self.free_members.push(member.0);
        self.update_max_frames();
        // An auto-created switch's last member: its grace period starts.
        if let Some(sw) = switch {
            let empty = !self.sessions.iter().flatten().any(|x| x.switch == sw);
            let now = self.now_ms();
            if let Some(rt) = self.switches[sw.0 as usize]
                .as_mut()
                .filter(|r| r.auto && empty)
            {
                rt.empty_since = Some(now);
            }
        }
    }

    fn drain_events(&mut self, w: usize) -> bool {
        let mut any = false;
        let now = self.now_ms() / 1000;
        for _ in 0..1024 {
            let Some(ev) = self.workers[w].events.pop() else {
                break;
            };
            any = true;
            match ev {
                Event::NeedVlan { switch, vid } => self.map_vlan(switch, vid),
                Event::Learned {
                    switch,
                    mac,
                    member,
                } => {
                    // A late event from a session that is gone.
                    if self
                        .sessions
                        .get(member.0 as usize)
                        .is_none_or(Option::is_none)
                    {
                        continue;
                    }
                    match self.aging.touch(switch, mac, member, now) {
                        t @ (Touch::New | Touch::Moved { .. }) => {
                            if let Touch::Moved { from } = t {
                                self.counters.macs_moved += 1;
                                self.flap_check(switch, mac, from, member, now);
                            } else {
                                self.counters.macs_learned += 1;
                            }
                            for o in 0..self.workers.len() {
                                if o != w {
                                    self.send_cmd(
                                        o,
                                        Command::InstallMac {
                                            switch,
                                            mac,
                                            member,
                                            is_static: false,
                                        },
                                    );
                                }
                            }
                        }
                        Touch::Refreshed | Touch::StaticConflict => {}
                    }
                }
            }
        }
        any
    }

    /// Logs (at most once a second per switch) that source MACs were not
    /// learned because a MAC limit was reached; the workers only count.
    fn log_mac_limits(&mut self) {
        for i in 0..self.switches.len() {
            if self.switches[i].is_none() {
                continue;
            }
            let failed: u64 = self
                .workers
                .iter()
                .map(|w| w.counters.switches[i].learn_failed.get())
                .sum();
            let name = self.switch_name(SwitchId(i as u16));
            let Some(sw) = self.switches[i].as_mut() else {
                continue;
            };
            if failed > sw.learn_failed_seen {
                log::warn!(
                    "switch {name}: {} source MAC(s) not learned in the last second: MAC limit \
                     reached (mac_limit {}, mac_limit_per_member {}) or table full",
                    failed - sw.learn_failed_seen,
                    sw.mac_limit,
                    sw.member_mac_limit
                );
                sw.learn_failed_seen = failed;
            }
        }
    }

    /// Allocates the learning domain of (switch, VLAN) and programs it.
    fn map_vlan(&mut self, switch: SwitchId, vid: u16) {
        if self.vlans.domain(switch, vid).is_some() {
            return;
        }
        match self.vlans.alloc(switch, vid) {
            Ok(domain) => {
                self.counters.vlan_domains += 1;
                self.broadcast(|| Command::MapVlan {
                    switch,
                    vid,
                    domain,
                });
            }
            Err(_) => self.counters.vlan_domains_full += 1,
        }
    }

    /// The switch (and VLAN) of a learning domain.
    fn domain_owner(&self, d: SwitchId) -> (SwitchId, Option<u16>) {
        match self.vlans.owner(d) {
            Some((sw, vid)) if vid != 0 => (sw, Some(vid)),
            Some((sw, _)) => (sw, None),
            None => (d, None),
        }
    }

    /// MAC move (flap) detection: a MAC bouncing between members is a loop
    /// indicator; it is logged and counted, and with `flap_block` the
    /// member it moved to is blocked for that long.
    fn flap_check(&mut self, switch: SwitchId, mac: u64, from: MemberId, to: MemberId, now: u64) {
        let owner = self.domain_owner(switch).0;
        let Some(cfg) = self
            .switches
            .get(owner.0 as usize)
            .and_then(Option::as_ref)
            .map(|s| s.flap)
        else {
            return;
        };
        if cfg.threshold == 0 {
            return;
        }
        if let FlapVerdict::Flapping { moves } =
            self.flaps.on_move(&cfg, switch, mac, from, to, now)
        {
            self.counters.mac_flaps += 1;
            log::warn!(
                "switch {}: MAC {} flapping between {} and {} ({moves} moves in {} s): a loop?",
                self.switch_name(owner),
                MacAddr(mac_from_u64(mac)),
                self.member_name(from),
                self.member_name(to),
                cfg.window
            );
            // A move off a member already blocked for flapping is the loop
            // being cut (or the host talking from where it really is):
            // blocking the destination too would cut off both ends.
            if cfg.block > 0 && !self.flaps.blocked(to, now) && !self.flaps.blocked(from, now) {
                self.flaps.block(to, now + u64::from(cfg.block));
                self.counters.members_blocked += 1;
                let until_tsc = crate::dpdk::tsc() + u64::from(cfg.block) * self.tsc_hz;
                log::warn!(
                    "member {} blocked for {} s",
                    self.member_name(to),
                    cfg.block
                );
                self.broadcast(|| Command::BlockMember {
                    member: to,
                    until_tsc,
                });
            }
        }
    }

    fn switch_name(&self, s: SwitchId) -> String {
        self.switches
            .get(s.0 as usize)
            .and_then(Option::as_ref)
            .map(|x| x.name.clone())
            .unwrap_or_else(|| format!("{s:?}"))
    }

    fn member_name(&self, m: MemberId) -> String {
        self.sessions
            .get(m.0 as usize)
            .and_then(Option::as_ref)
            .map(|x| x.name.clone())
            .unwrap_or_else(|| format!("{m:?}"))
    }

    /// Answers a `las show` request.
    pub fn answer(&self, r: &Request) -> Response {
        match r {
            Request::Ports => Response::Ports {
                ports: self.port_views(),
            },
            Request::Sessions => Response::Sessions {
                sessions: self.session_views(),
            },
            Request::Switches => Response::Switches {
                switches: self.switch_views(),
            },
            Request::Tunnels => Response::Tunnels {
                tunnels: self.tunnel_views(),
            },
            Request::Macs(sw) => {
                let want = match sw {
                    None => None,
                    Some(name) => {
                        let found = self
                            .switches
                            .iter()
                            .position(|s| matches!(s, Some(s) if &s.name == name));
                        match found {
                            Some(i) => Some(SwitchId(i as u16)),
                            None => {
                                return Response::Error {
                                    error: format!("no switch named {name:?}"),
                                }
                            }
                        }
                    }
                };
                let now = self.now_ms() / 1000;
                let macs = self
                    .aging
                    .entries_sorted()
                    .into_iter()
                    .map(|(d, mac, e)| (self.domain_owner(d), mac, e))
                    .filter(|((s, _), _, _)| want.is_none_or(|w| w == *s))
                    .map(|((s, vlan), mac, e)| MacView {
                        switch: self.switch_name(s),
                        vlan,
                        mac: MacAddr(mac_from_u64(mac)).to_string(),
                        member: self.member_name(e.member),
                        age_secs: now.saturating_sub(e.last_seen),
                        is_static: e.is_static,
                    })
                    .collect();
                Response::Macs { macs }
            }
            Request::Counters => Response::Counters(self.counters_view()),
        }
    }

    pub fn port_views(&self) -> Vec<PortView> {
        self.ports
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let st = p.port.stats();
                let (up, _) = p.port.link();
                let punted = self
                    .workers
                    .iter()
                    .map(|w| w.counters.ports[i].punted.get())
                    .sum();
                PortView {
                    name: p.name.clone(),
                    device: p.device.clone(),
                    driver: p.driver.clone(),
                    mac: MacAddr(p.mac).to_string(),
                    address: format!("{}/{}", p.address, p.prefix_len),
                    gateway: p.gateway.map(|g| g.to_string()),
                    mtu: p.mtu,
                    link_up: up,
                    rx_queues: p.rx_queues,
                    tx_queues: p.tx_queues,
                    rx_packets: st.ipackets,
                    rx_bytes: st.ibytes,
                    tx_packets: st.opackets,
                    tx_bytes: st.obytes,
                    rx_missed: st.imissed,
                    rx_errors: st.ierrors,
                    tx_errors: st.oerrors,
                    rx_nombuf: st.rx_nombuf,
                    punted,
                }
            })
            .collect()
    }

    pub fn session_views(&self) -> Vec<SessionView> {
        self.sessions
            .iter()
            .flatten()
            .map(|s| {
                let i = s.member.0 as usize;
                let sum = |f: &dyn Fn(&crate::telemetry::SessionCounters) -> u64| -> u64 {
                    self.workers
                        .iter()
                        .map(|w| f(&w.counters.sessions[i]))
                        .sum()
                };
                let l2 = |l: L2Spec| match l {
                    L2Spec::None => "none",
                    L2Spec::Default => "default",
                };
                SessionView {
                    name: s.name.clone(),
                    switch: self.switch_name(s.switch),
                    port: self.ports[s.port].name.clone(),
                    peer: s.peer.to_string(),
                    encap: match s.encap {
                        Encap::Ip => "ip".into(),
                        Encap::Udp => format!("udp:{}->{}", s.udp_local_port, s.udp_peer_port),
                    },
                    local_session_id: s.local_session_id,
                    remote_session_id: s.remote_session_id,
                    local_cookie: hex(s.local_cookie.as_bytes()),
                    remote_cookie: hex(s.remote_cookie.as_bytes()),
                    l2spec: if s.l2spec_rx == s.l2spec_tx {
                        l2(s.l2spec_rx).into()
                    } else {
                        format!("rx {} tx {}", l2(s.l2spec_rx), l2(s.l2spec_tx))
                    },
                    next_hop: s.next_hop.to_string(),
                    next_hop_mac: s.next_hop_mac.map(|m| MacAddr(m).to_string()),
                    state: if s.next_hop_mac.is_some() {
                        "up".into()
                    } else {
                        "resolving".into()
                    },
                    kind: if s.dynamic.is_some() {
                        "dynamic".into()
                    } else {
                        "static".into()
                    },
                    vc_id: s.dynamic.as_ref().map(|d| d.vc_id.clone()),
                    ccid: s.dynamic.as_ref().map(|d| d.ccid),
                    uptime_secs: s.dynamic.as_ref().map(|d| d.since.elapsed().as_secs()),
                    rx_packets: sum(&|c| c.rx_packets.get()),
                    rx_bytes: sum(&|c| c.rx_bytes.get()),
                    tx_packets: sum(&|c| c.tx_packets.get()),
                    tx_bytes: sum(&|c| c.tx_bytes.get()),
                }
            })
            .collect()
    }

    pub fn tunnel_views(&self) -> Vec<TunnelView> {
        let mut v: Vec<TunnelView> = self
            .l2tp
            .tunnels()
            .map(|(peer, t)| TunnelView {
                local_ccid: t.local_ccid(),
                remote_ccid: t.remote_ccid().unwrap_or(0),
                peer: peer.ip.to_string(),
                encap: if peer.udp_port != 0 {
                    format!("udp:{}", peer.udp_port)
                } else {
                    "ip".into()
                },
                state: format!("{:?}", t.state()).to_lowercase(),
                host_name: String::from_utf8_lossy(t.peer_host_name()).into_owned(),
                flavour: format!("{:?}", t.flavour()).to_lowercase(),
                sessions: t.session_count(),
                auth_failures: t.stats().auth_failures,
                hellos_sent: t.stats().hellos_sent,
                uptime_secs: self
                    .tunnel_since
                    .get(&t.local_ccid())
                    .map(|i| i.elapsed().as_secs()),
            })
            .collect();
        v.sort_by(|a, b| (&a.peer, a.local_ccid).cmp(&(&b.peer, b.local_ccid)));
        v
    }

    pub fn switch_views(&self) -> Vec<SwitchView> {
        self.switches
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (i, s)))
            .map(|(i, s)| {
                // Counted from the switch's creation (a freed auto
                // switch's slot is reused).
                let now = self.switch_sums(i);
                let mut d = [0u64; SWITCH_COUNTERS];
                for (k, v) in d.iter_mut().enumerate() {
                    *v = now[k].saturating_sub(s.base[k]);
                }
                SwitchView {
                    name: s.name.clone(),
                    id: i as u16,
                    members: self
                        .sessions
                        .iter()
                        .flatten()
                        .filter(|x| x.switch.0 as usize == i)
                        .map(|x| x.name.clone())
                        .collect(),
                    macs: self
                        .aging
                        .iter()
                        .filter(|(d, _, _)| self.domain_owner(*d).0 .0 as usize == i)
                        .count(),
                    aging: s.aging,
                    mac_limit: s.mac_limit,
                    ethertypes: s
                        .ethertypes
                        .iter()
                        .map(|&t| {
                            ethertype_name(t)
                                .map(str::to_owned)
                                .unwrap_or_else(|| format!("0x{t:04x}"))
                        })
                        .collect(),
                    vc_ids: self
                        .by_vc
                        .iter()
                        .filter(|(_, &id)| id.0 as usize == i)
                        .map(|(vc, _)| vc.clone())
                        .collect(),
                    auto: s.auto,
                    rx_packets: d[0],
                    rx_bytes: d[1],
                    unicast: d[2],
                    flooded: d[3],
                    flood_copies: d[4],
                    filtered: d[5],
                    learn_failed: d[6],
                    mss_clamped: d[7],
                    fragmented: d[8],
                }
            })
            .collect()
    }

    pub fn counters_view(&self) -> CountersView {
        let drops = DropReason::ALL
            .iter()
            .map(|&r| {
                (
                    r.name().to_string(),
                    self.workers
                        .iter()
                        .map(|w| w.counters.drops[r as usize].get())
                        .sum::<u64>()
                        + self.drops.get(r),
                )
            })
            .collect();
        let mut control = self.counters.map();
        control.insert("mbufs_in_use".into(), self.pool.in_use() as u64);
        control.insert("mbufs_available".into(), self.pool.available() as u64);
        let es = self.l2tp.stats();
        control.insert("l2tp_malformed".into(), es.malformed);
        control.insert("l2tp_unknown_ccid".into(), es.unknown_ccid);
        control.insert("l2tp_wrong_peer".into(), es.wrong_peer);
        control.insert("l2tp_tunnel_limit".into(), es.limit_refused);
        control.insert(
            "l2tp_hidden_undecodable".into(),
            es.hidden_undecodable
                + self
                    .l2tp
                    .tunnels()
                    .map(|(_, t)| t.stats().hidden_undecodable)
                    .sum::<u64>(),
        );
        control.insert("l2tp_tunnels".into(), self.l2tp.tunnel_count() as u64);
        control.extend(self.refusals.counters());
        let sum = |f: fn(&super::l2tp::tunnel::TunnelStats) -> u64| -> u64 {
            self.l2tp.tunnels().map(|(_, t)| f(t.stats())).sum()
        };
        control.insert("l2tp_nonconformant_rx".into(), sum(|s| s.nonconformant_rx));
        control.insert("l2tp_nonconformant_tx".into(), sum(|s| s.nonconformant_tx));
        control.insert("l2tp_repeated_iccn".into(), sum(|s| s.repeated_iccn));
        let totals =
            crate::telemetry::counters::worker_totals(self.workers.iter().map(|w| &w.counters));
        control.extend(totals.map(|(k, v)| (k.to_string(), v)));
        control.insert(
            "l2tp_auth_failures".into(),
            self.l2tp
                .tunnels()
                .map(|(_, t)| t.stats().auth_failures)
                .sum::<u64>()
                + es.sccrq_auth_failures,
        );
        CountersView {
            uptime_secs: self.start.elapsed().as_secs(),
            tsc_hz: self.tsc_hz,
            drops,
            control,
            workers: self
                .workers
                .iter()
                .enumerate()
                .map(|(i, w)| WorkerView {
                    id: i,
                    lcore: self.worker_lcores.get(i).copied().unwrap_or(0),
                    rx_packets: w.counters.rx_total.get(),
                    busy_cycles: w.counters.busy_cycles.get(),
                    loops: w.counters.loops.get(),
                    events_lost: w.counters.events_lost.get(),
                    commands: w.counters.commands.get(),
                })
                .collect(),
        }
    }

    /// Everything `las` prints when it stops.
    pub fn final_report(&self) -> String {
        let mut s = String::new();
        for r in [
            Request::Ports,
            Request::Tunnels,
            Request::Sessions,
            Request::Switches,
            Request::Counters,
        ] {
            s.push_str(&self.answer(&r).render());
            s.push('\n');
        }
        s
    }

    pub fn ports(&self) -> &[PortRt] {
        &self.ports
    }

    /// Keeps the control loop (and, on one core, `idle`) running for
    /// `d`, e.g. so StopCCN messages leave before the ports stop.
    pub fn linger(&mut self, d: Duration, mut idle: impl FnMut()) {
        let until = Instant::now() + d;
        while Instant::now() < until {
            self.poll_once();
            idle();
        }
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
