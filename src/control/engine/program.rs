//! Programming the workers: commands through their rings (with a
//! backlog when a ring is full), switches and sessions, encapsulation
//! templates, the largest frame per switch.

use super::*;
use std::sync::atomic::Ordering;

impl Engine {
    /// Queues `cmd` for every worker.
    pub(super) fn broadcast(&mut self, mut make: impl FnMut() -> Command) {
        for w in 0..self.workers.len() {
            let c = make();
            self.send_cmd(w, c);
        }
    }

    pub(super) fn send_cmd(&mut self, w: usize, cmd: Command) {
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

    pub(super) fn flush_backlog(&mut self) {
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
    pub(super) fn add_switch(&mut self, id: SwitchId, sw: SwitchRt) {
        let spec = switch_spec(id, &sw.cfg);
        self.broadcast(|| Command::AddSwitch(Box::new(spec.clone())));
        let vlans = sw.cfg.vlans.clone();
        self.switches[id.0 as usize] = Some(sw);
        for vid in vlans {
            self.map_vlan(id, vid);
        }
    }

    /// Adds a session to the data plane (its template follows once the
    /// next hop resolves).
    pub(super) fn add_session(&mut self, s: SessionRt) {
        if let Some(sw) = self.switches[s.switch.0 as usize].as_mut() {
            if !s.mesh {
                sw.edges += 1;
            }
            sw.members.push(s.member);
        }
        let spec = session_spec(&s);
        self.broadcast(|| Command::AddSession(Box::new(spec)));
        self.want_next_hop(s.port, s.next_hop);
        let i = s.member.0 as usize;
        self.sessions[i] = Some(s);
    }

    /// Programs switches and static sessions, static neighbours, and sends
    /// gratuitous ARPs and the first ARP requests: the difference from
    /// an empty configuration, applied as a reload would (`reload.rs`).
    pub fn program(&mut self, now: Now) {
        self.now = now;
        let cfg = self.cfg.clone();
        let mut empty = cfg.clone();
        empty.switches.clear();
        empty.sessions.clear();
        empty.neighbors.clear();
        empty.neighbors6.clear();
        self.cfg = empty;
        match self.plan(&cfg) {
            Ok(plan) => {
                self.apply(plan, cfg, true);
            }
            Err(e) => {
                // Validation bounds the config to the tables: cannot happen.
                log::error!("programming the configuration: {e}");
                self.cfg = cfg;
            }
        }
        // Gratuitous ARP from every port with an IPv4 address.
        for p in 0..self.ports.len() {
            if let (mac, Some(ip)) = (self.ports[p].mac, self.ports[p].address) {
                self.send_arp(p, mac, ip, ip);
            }
        }
        self.nd6_start();
        self.refresh_templates();
        self.timers();
    }

    /// Tells every worker to apply its queue, and returns once all have,
    /// or with `idle`'s error as soon as it gives one (a worker died: it
    /// would never answer).
    pub fn sync_workers(
        &mut self,
        mut idle: impl FnMut() -> Result<(), String>,
    ) -> Result<(), String> {
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
                return Ok(());
            }
            idle()?;
        }
    }

    /// Rebuilds the encapsulation template of every session whose next hop
    /// MAC changed, and sends it to the workers.
    pub(super) fn refresh_templates(&mut self) {
        let mut touched = Vec::new();
        for i in 0..self.sessions.len() {
            let Some(s) = self.sessions[i].as_ref() else {
                continue;
            };
            let mac = self.next_hop_mac(s.port, s.next_hop);
            if mac == s.next_hop_mac {
                continue;
            }
            if mac.is_some() {
                self.counters.neighbours_resolved += 1;
            }
            touched.push(s.switch);
            self.send_template(i);
        }
        touched.sort_unstable_by_key(|s| s.0);
        touched.dedup();
        for sw in touched {
            self.update_max_frame(sw);
        }
    }

    /// Builds session `i`'s encapsulation header for its next hop's MAC as
    /// the neighbour cache knows it now (none while unresolved) and sends
    /// it to the workers.
    pub(super) fn send_template(&mut self, i: usize) {
        let Some(s) = self.sessions[i].as_ref() else {
            return;
        };
        let mac = self.next_hop_mac(s.port, s.next_hop);
        let member = s.member;
        let t = mac.map(|m| Box::new(self.template(s, m)));
        if let Some(s) = self.sessions[i].as_mut() {
            s.next_hop_mac = mac;
            s.template_len = t.as_ref().map_or(0, |t| t.len());
        }
        self.broadcast(|| Command::SetTemplate(member, t.clone()));
    }

    /// For MSS clamping in `auto` mode: the largest inner frame every
    /// member of a switch can carry in one outer packet (its port's MTU
    /// minus its encapsulation), sent to the workers when it changes.
    pub(super) fn update_max_frames(&mut self) {
        for i in 0..self.switches.len() {
            self.update_max_frame(SwitchId(i as u16));
        }
    }

    /// `update_max_frames` for one switch: what a member joining or
    /// leaving it can change (O(its members), where all switches would be
    /// O(switches × sessions) per pseudowire set up).
    pub(super) fn update_max_frame(&mut self, switch: SwitchId) {
        let Some(sw) = self
            .switches
            .get(switch.0 as usize)
            .and_then(Option::as_ref)
        else {
            return;
        };
        let max_frame = sw
            .members
            .iter()
            .filter_map(|m| self.sessions.get(m.0 as usize)?.as_ref())
            .filter(|s| s.template_len > 0)
            .map(|s| {
                (self.ports[s.port].mtu as usize)
                    .saturating_sub(s.template_len - ethernet::HEADER_LEN)
            })
            .min()
            .unwrap_or(0);
        if max_frame != sw.max_frame {
            if let Some(sw) = self.switches[switch.0 as usize].as_mut() {
                sw.max_frame = max_frame;
            }
            self.broadcast(|| Command::SetMaxFrame { switch, max_frame });
        }
    }

    /// The MAC of next hop `nh` on `port`, from the ARP cache or the
    /// neighbour discovery cache.
    pub(super) fn next_hop_mac(&self, port: usize, nh: IpAddr) -> Option<[u8; 6]> {
        match nh {
            IpAddr::V4(ip) => self.neighbours.get(port, ip),
            IpAddr::V6(ip) => self.nd6.get(port, ip),
        }
    }

    /// Asks ARP or neighbour discovery for next hop `nh` on `port`.
    pub(super) fn want_next_hop(&mut self, port: usize, nh: IpAddr) {
        let now = self.now_ms();
        match nh {
            IpAddr::V4(ip) => self.neighbours.want(port, ip, now),
            IpAddr::V6(ip) => {
                if !self.nd6.want(port, ip, now) {
                    log::warn!("port {port}: no room to resolve IPv6 next hop {ip}");
                }
            }
        }
    }

    /// Session `s`'s header toward `next_hop_mac`: over IPv4 from the
    /// port's `address`, or over IPv6 from its `address6` (a session
    /// has an IPv6 peer only on a port with one: config validation).
    pub(super) fn template(&self, s: &SessionRt, next_hop_mac: [u8; 6]) -> EncapTemplate {
        let p = &self.ports[s.port];
        let mut t = match s.peer {
            IpAddr::V4(peer) => EncapTemplate::new(&TemplateParams {
                src_mac: MacAddr(p.mac),
                dst_mac: MacAddr(next_hop_mac),
                // An IPv4 session is never on an IPv6-only port
                // (validation; dynamic ones are refused).
                src_ip: p.address.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
                dst_ip: peer,
                encap: s.encap,
                udp_src_port: s.udp_local_port,
                udp_dst_port: s.udp_peer_port,
                session_id: s.remote_session_id,
                cookie: s.remote_cookie,
                l2spec: s.l2spec_tx,
                ttl: 64,
                dscp: 0,
                dont_frag: p.dont_fragment,
            }),
            IpAddr::V6(peer) => EncapTemplate::new6(&TemplateParams6 {
                src_mac: MacAddr(p.mac),
                dst_mac: MacAddr(next_hop_mac),
                src_ip: p
                    .v6
                    .as_ref()
                    .map_or(std::net::Ipv6Addr::UNSPECIFIED, |v| v.address),
                dst_ip: peer,
                encap: s.encap,
                udp_src_port: s.udp_local_port,
                udp_dst_port: s.udp_peer_port,
                session_id: s.remote_session_id,
                cookie: s.remote_cookie,
                l2spec: s.l2spec_tx,
                hop_limit: 64,
                dscp: 0,
                udp_checksum: self.cfg.l2tp.udp6_checksum,
            }),
        };
        if s.l2spec_tx == L2Spec::Default {
            t.set_sequencing(s.sequencing);
        }
        t
    }
}

/// What the workers need of a switch's settings.
pub(super) fn switch_spec(id: SwitchId, c: &config::Switch) -> SwitchSpec {
    SwitchSpec {
        id,
        filter: c.filter,
        mac_limit: c.mac_limit,
        member_mac_limit: c.mac_limit_per_member,
        vlan_mode: c.vlan_mode,
        mss: c.mss_clamp,
        mtu_policy: c.mtu_policy,
        storm: c.storm_rates(),
        vlan_list: !c.vlans.is_empty(),
        aging: c.aging,
    }
}

/// What the workers need of a session.
pub(super) fn session_spec(s: &SessionRt) -> SessionSpec {
    SessionSpec {
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
        mesh: s.mesh,
    }
}
