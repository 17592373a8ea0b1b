//! The control core: the owner of the truth.
//!
//! A single non-blocking loop that drains the workers' punt and event
//! rings, answers ARP and ICMP echo for our addresses, resolves next hops,
//! keeps the merged MAC table and ages it, programs the workers through
//! their command rings, and serves `las show` on the control socket.
#![forbid(unsafe_code)]

use super::neighbour::Neighbours;
use super::respond::{self, ArpOutcome};
use super::socket::ControlSocket;
use crate::config::{self, Config};
use crate::dpdk::{Burst, Mbuf, Mempool, Port, TxBuffer};
use crate::switch::filter::{ethertype_name, L2Filter};
use crate::switch::{mac_from_u64, AgingTable, MemberId, SwitchId, Touch};
use crate::telemetry::show::{
    CountersView, MacView, PortView, Request, Response, SessionView, SwitchView, WorkerView,
};
use crate::telemetry::DropReason;
use crate::wire::ethernet::{ethertype, MacAddr};
use crate::wire::ipv4::protocol;
use crate::wire::l2tp::{Cookie, EncapTemplate, TemplateParams};
use crate::wire::l2tp::{Encap, L2Spec};
use crate::worker::{Command, Event, SessionSpec, SwitchSpec, WorkerShared};
use std::collections::{BTreeMap, VecDeque};
use std::net::Ipv4Addr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

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
}

struct SessionRt {
    member: MemberId,
    switch: SwitchId,
    port: usize,
    next_hop: Ipv4Addr,
    next_hop_mac: Option<[u8; 6]>,
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
    punt_other: u64,
    punt_tx_failed: u64,
    neighbours_resolved: u64,
    macs_learned: u64,
    macs_moved: u64,
    macs_aged: u64,
    commands_backlogged: u64,
    requests_served: u64,
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
        put("punt_other", self.punt_other);
        put("punt_tx_failed", self.punt_tx_failed);
        put("neighbours_resolved", self.neighbours_resolved);
        put("macs_learned", self.macs_learned);
        put("macs_moved", self.macs_moved);
        put("macs_aged", self.macs_aged);
        put("commands_backlogged", self.commands_backlogged);
        put("requests_served", self.requests_served);
        m
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
    sessions: Vec<SessionRt>,
    counters: Counters,
    socket: Option<ControlSocket>,
    start: Instant,
    tsc_hz: u64,
    last_timer_ms: u64,
    last_aging_s: u64,
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
        ControlCore {
            cfg,
            ports,
            workers,
            worker_lcores,
            backlog: (0..n).map(|_| VecDeque::new()).collect(),
            pool,
            neighbours: Neighbours::new(),
            aging: AgingTable::new(),
            sessions: Vec::new(),
            counters: Counters::default(),
            socket: None,
            start: Instant::now(),
            tsc_hz,
            last_timer_ms: 0,
            last_aging_s: 0,
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

    /// Programs switches and static sessions, static neighbours, and sends
    /// gratuitous ARPs and the first ARP requests.
    pub fn program(&mut self) {
        let now = self.now_ms();
        for (i, sw) in self.cfg.switches.clone().iter().enumerate() {
            // Validated with the config: at most MAX_ETHERTYPES entries.
            let filter = L2Filter::new(&sw.ethertypes).unwrap_or_default();
            let spec = SwitchSpec {
                id: SwitchId(i as u16),
                filter,
                mac_limit: sw.mac_limit,
            };
            self.broadcast(|| Command::AddSwitch(Box::new(spec.clone())));
        }
        for n in self.cfg.neighbors.clone() {
            self.neighbours.add_static(n.port, n.address, n.mac);
        }
        for (i, s) in self.cfg.sessions.clone().iter().enumerate() {
            let member = MemberId(i as u16);
            let port = &self.ports[s.port];
            let next_hop = if in_prefix(port.address, port.prefix_len, s.peer) {
                s.peer
            } else {
                port.gateway.unwrap_or(s.peer)
            };
            let spec = SessionSpec {
                member,
                switch: SwitchId(s.switch as u16),
                port: s.port as u8,
                peer: s.peer,
                local_session_id: s.local_session_id,
                encap: match s.encap {
                    config::Encap::Ip => Encap::Ip,
                    config::Encap::Udp => Encap::Udp,
                },
                udp_peer_port: s.udp_peer_port,
                local_cookie: Cookie::new(&s.local_cookie).unwrap_or(Cookie::NONE),
                l2spec: match s.l2spec {
                    config::L2SpecCfg::None => L2Spec::None,
                    config::L2SpecCfg::Default => L2Spec::Default,
                },
            };
            self.broadcast(|| Command::AddSession(Box::new(spec)));
            self.neighbours.want(s.port, next_hop, now);
            self.sessions.push(SessionRt {
                member,
                switch: SwitchId(s.switch as u16),
                port: s.port,
                next_hop,
                next_hop_mac: None,
            });
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
            let (port, nh) = (self.sessions[i].port, self.sessions[i].next_hop);
            let mac = self.neighbours.get(port, nh);
            if mac == self.sessions[i].next_hop_mac {
                continue;
            }
            self.sessions[i].next_hop_mac = mac;
            let member = self.sessions[i].member;
            let t = mac.map(|m| Box::new(self.template(i, m)));
            if mac.is_some() {
                self.counters.neighbours_resolved += 1;
            }
            self.broadcast(|| Command::SetTemplate(member, t.clone()));
        }
    }

    fn template(&self, i: usize, next_hop_mac: [u8; 6]) -> EncapTemplate {
        let s = &self.cfg.sessions[i];
        let p = &self.ports[self.sessions[i].port];
        EncapTemplate::new(&TemplateParams {
            src_mac: MacAddr(p.mac),
            dst_mac: MacAddr(next_hop_mac),
            src_ip: p.address,
            dst_ip: s.peer,
            encap: match s.encap {
                config::Encap::Ip => Encap::Ip,
                config::Encap::Udp => Encap::Udp,
            },
            udp_src_port: s.udp_local_port,
            udp_dst_port: s.udp_peer_port,
            session_id: s.remote_session_id,
            cookie: Cookie::new(&s.remote_cookie).unwrap_or(Cookie::NONE),
            l2spec: match s.l2spec {
                config::L2SpecCfg::None => L2Spec::None,
                config::L2SpecCfg::Default => L2Spec::Default,
            },
            ttl: 64,
            dscp: 0,
            dont_frag: false,
        })
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
        if now >= self.last_timer_ms + 100 {
            self.last_timer_ms = now;
            self.timers();
        }
        if let Some(mut sock) = self.socket.take() {
            while let Some(req) = sock.accept_request() {
                busy = true;
                let resp = match req {
                    Ok(r) => self.answer(&r),
                    Err(e) => Response::Error { error: e },
                };
                self.counters.requests_served += 1;
                sock.respond(&resp);
            }
            self.socket = Some(sock);
        }
        busy
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
            let cfg = &self.cfg;
            self.aging.expire(
                secs,
                |sw| {
                    cfg.switches
                        .get(sw.0 as usize)
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
        let n = respond::arp_request(buf, mac, ours, target);
        debug_assert!(n <= 60);
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
        if d.len() < 14 {
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
        // IPv4: ICMP or L2TP control (the classifier only punts those).
        let proto = if d.len() > 23 { d[23] } else { 0 };
        if proto == protocol::ICMP {
            if respond::icmp_echo_in_place(m.data_mut(), ours) {
                self.counters.icmp_echo_replies_tx += 1;
                self.transmit(p, m);
            } else {
                self.counters.icmp_other_rx += 1;
            }
            return;
        }
        if proto == protocol::L2TP || proto == protocol::UDP {
            // The RFC 3931 control plane is not built yet: count and drop.
            self.counters.l2tp_control_rx += 1;
            self.workers[0].counters.drop(DropReason::ControlUnhandled);
            return;
        }
        self.counters.punt_other += 1;
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
                Event::Learned {
                    switch,
                    mac,
                    member,
                } => match self.aging.touch(switch, mac, member, now) {
                    Touch::New | Touch::Moved { .. } => {
                        if matches!(self.aging.get(switch, mac), Some(e) if e.member == member) {
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
                                    },
                                );
                            }
                        }
                    }
                    Touch::Refreshed | Touch::StaticConflict => {}
                },
            }
        }
        any
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
            Request::Macs(sw) => {
                let want = match sw {
                    None => None,
                    Some(name) => match self.cfg.switches.iter().position(|s| &s.name == name) {
                        Some(i) => Some(SwitchId(i as u16)),
                        None => {
                            return Response::Error {
                                error: format!("no switch named {name:?}"),
                            }
                        }
                    },
                };
                let now = self.now_ms() / 1000;
                let macs = self
                    .aging
                    .entries_sorted()
                    .into_iter()
                    .filter(|(s, _, _)| want.is_none_or(|w| w == *s))
                    .map(|(s, mac, e)| MacView {
                        switch: self.switch_name(s),
                        mac: MacAddr(mac_from_u64(mac)).to_string(),
                        member: self
                            .cfg
                            .sessions
                            .get(e.member.0 as usize)
                            .map(|x| x.name.clone())
                            .unwrap_or_else(|| format!("{:?}", e.member)),
                        age_secs: now.saturating_sub(e.last_seen),
                        is_static: e.is_static,
                    })
                    .collect();
                Response::Macs { macs }
            }
            Request::Counters => Response::Counters(self.counters_view()),
        }
    }

    fn switch_name(&self, s: SwitchId) -> String {
        self.cfg
            .switches
            .get(s.0 as usize)
            .map(|x| x.name.clone())
            .unwrap_or_else(|| format!("{s:?}"))
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
        self.cfg
            .sessions
            .iter()
            .zip(&self.sessions)
            .map(|(s, rt)| {
                let i = rt.member.0 as usize;
                let sum = |f: &dyn Fn(&crate::telemetry::SessionCounters) -> u64| -> u64 {
                    self.workers
                        .iter()
                        .map(|w| f(&w.counters.sessions[i]))
                        .sum()
                };
                SessionView {
                    name: s.name.clone(),
                    switch: self.switch_name(rt.switch),
                    port: self.ports[rt.port].name.clone(),
                    peer: s.peer.to_string(),
                    encap: match s.encap {
                        config::Encap::Ip => "ip".into(),
                        config::Encap::Udp => {
                            format!("udp:{}->{}", s.udp_local_port, s.udp_peer_port)
                        }
                    },
                    local_session_id: s.local_session_id,
                    remote_session_id: s.remote_session_id,
                    local_cookie: hex(&s.local_cookie),
                    remote_cookie: hex(&s.remote_cookie),
                    l2spec: match s.l2spec {
                        config::L2SpecCfg::None => "none".into(),
                        config::L2SpecCfg::Default => "default".into(),
                    },
                    next_hop: rt.next_hop.to_string(),
                    next_hop_mac: rt.next_hop_mac.map(|m| MacAddr(m).to_string()),
                    state: if rt.next_hop_mac.is_some() {
                        "up".into()
                    } else {
                        "resolving".into()
                    },
                    rx_packets: sum(&|c| c.rx_packets.get()),
                    rx_bytes: sum(&|c| c.rx_bytes.get()),
                    tx_packets: sum(&|c| c.tx_packets.get()),
                    tx_bytes: sum(&|c| c.tx_bytes.get()),
                }
            })
            .collect()
    }

    pub fn switch_views(&self) -> Vec<SwitchView> {
        self.cfg
            .switches
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let sum = |f: &dyn Fn(&crate::telemetry::SwitchCounters) -> u64| -> u64 {
                    self.workers
                        .iter()
                        .map(|w| f(&w.counters.switches[i]))
                        .sum()
                };
                SwitchView {
                    name: s.name.clone(),
                    id: i as u16,
                    members: self
                        .cfg
                        .sessions
                        .iter()
                        .filter(|x| x.switch == i)
                        .map(|x| x.name.clone())
                        .collect(),
                    macs: self.aging.switch_len(SwitchId(i as u16)),
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
                    rx_packets: sum(&|c| c.rx_packets.get()),
                    rx_bytes: sum(&|c| c.rx_bytes.get()),
                    unicast: sum(&|c| c.unicast.get()),
                    flooded: sum(&|c| c.flooded.get()),
                    flood_copies: sum(&|c| c.flood_copies.get()),
                    filtered: sum(&|c| c.filtered.get()),
                    learn_failed: sum(&|c| c.learn_failed.get()),
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
                        .sum(),
                )
            })
            .collect();
        let mut control = self.counters.map();
        control.insert("mbufs_in_use".into(), self.pool.in_use() as u64);
        control.insert("mbufs_available".into(), self.pool.available() as u64);
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
}

fn in_prefix(addr: Ipv4Addr, len: u8, ip: Ipv4Addr) -> bool {
    let mask = if len == 0 {
        0
    } else {
        u32::MAX << (32 - len as u32)
    };
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
