//! The control core's side of RFC 3931: control messages in (per-peer
//! rate limit, admission of sessions at ICRQ), the actions of the
//! `l2tp` machines out (datagrams, sessions up and down, refusals
//! logged and counted), virtual switches for VC IDs and their lifecycle.

use super::program::session_spec;
use super::*;

impl Engine {
    /// A control message from `peer` arrived on port `p`.
    pub(super) fn l2tp_in(&mut self, p: usize, peer: Peer, src_mac: [u8; 6], msg: &[u8]) {
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
                    self.cfg.l2tp.control_rate
                ),
            );
            return self.refused(peer, &r);
        }
        self.note_peer_seen(peer.ip, p, src_mac);
        let from_mesh = self.mesh_index(peer.ip).is_some();
        let (by_vc, switches) = (&self.by_vc, &self.switches);
        let (auto_switch, max_sessions) =
            (self.cfg.l2tp.auto_switch, self.cfg.dataplane.max_sessions);
        let max_auto_per_peer = self.cfg.l2tp.auto_switches_per_peer as usize;
        let member_free = !self.free_members.is_empty();
        let acts = self.l2tp.handle_with(now, peer, msg, &mut |_, req| {
            // Only at an ICRQ: the switch scans stay off the path of
            // every other message.
            let room = Room {
                auto_switch,
                switch_free: switches.iter().any(Option::is_none),
                max_switches: switches.len(),
                member_free,
                max_sessions,
                // A mesh peer's switches are ours too: no quota.
                peer_auto_switches: if from_mesh {
                    0
                } else {
                    switches
                        .iter()
                        .flatten()
                        .filter(|s| s.creator == Some(peer.ip))
                        .count()
                },
                max_auto_per_peer,
            };
            let vc = VcId::from_remote_end_id(req.remote_end_id);
            let vcs = vc.to_string();
            let target = match by_vc
                .get(&vcs)
                .and_then(|s| switches.get(s.0 as usize).and_then(Option::as_ref))
                .or_else(|| {
                    // A mesh peer names a switch without a VC ID by name.
                    switches
                        .iter()
                        .flatten()
                        .find(|s| from_mesh && s.cfg.name.as_bytes() == req.remote_end_id)
                }) {
                Some(sw) => Target::Existing {
                    name: &sw.cfg.name,
                    vlan_mode: sw.cfg.vlan_mode,
                },
                None => Target::New,
            };
            admission::admit(&vc, req.pw_type, target, room)
        });
        self.l2tp_actions(acts);
    }

    /// Logs (rate-limited) and counts a refusal.
    pub(super) fn refused(&mut self, peer: Peer, r: &Refusal) {
        let now = self.now_ms();
        let who = if peer.udp_port != 0 {
            std::net::SocketAddr::new(peer.ip, peer.udp_port).to_string()
        } else {
            peer.ip.to_string()
        };
        if let Some(line) = self.refusals.record(now, &who, r) {
            log::warn!("{line}");
        }
    }

    pub(super) fn l2tp_actions(&mut self, acts: Vec<(Peer, Action)>) {
        for (peer, a) in acts {
            match a {
                Action::Send(bytes) => self.l2tp_send(peer, &bytes),
                Action::SessionUp(up) => self.session_up(peer, up),
                Action::SessionDown(d) => {
                    self.session_down(d.local_ccid, d.local_session_id, d.reason)
                }
                Action::TunnelUp(t) => {
                    self.tunnel_since.insert(t.local_ccid, self.now.ms);
                    self.mesh_tunnel_up(peer, t.local_ccid);
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
                    self.mesh_tunnel_down(t.local_ccid);
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
                    ..
                } if self.mesh_link_info(local_ccid, local_session_id) => {}
                Action::SessionStatus {
                    local_ccid,
                    local_session_id,
                    active,
                } => log::info!(
                    "l2tp: session {local_session_id} (ccid {local_ccid}) circuit {}",
                    if active { "up" } else { "down" }
                ),
                Action::Refused(r) => self.refused(peer, &r),
                Action::PeerMoved { local_ccid } => self.peer_moved(peer, local_ccid),
            }
        }
    }

    /// Sends a control message to `peer`: over UDP back to the port it
    /// used, over IP behind a zero session id; over IPv4 from the port's
    /// `address`, over IPv6 from its `address6`.
    pub(super) fn l2tp_send(&mut self, peer: Peer, msg: &[u8]) {
        let Some(&(p, last_mac)) = self.peer_seen.get(&peer.ip) else {
            self.counters.l2tp_no_route += 1;
            return;
        };
        let frame = match peer.ip {
            IpAddr::V4(ip) => self.l2tp_frame4(p, last_mac, ip, peer.udp_port, msg),
            IpAddr::V6(ip) => self.l2tp_frame6(p, last_mac, ip, peer.udp_port, msg),
        };
        let Some(frame) = frame else {
            self.counters.l2tp_no_route += 1;
            return;
        };
        self.counters.l2tp_control_tx += 1;
        self.out.push(Outgoing { port: p, frame });
    }

    /// A control message to `dst` over IPv4 out of port `p` (None: the
    /// port is IPv6-only).
    fn l2tp_frame4(
        &mut self,
        p: usize,
        last_mac: [u8; 6],
        dst_ip: Ipv4Addr,
        udp_dst: u16,
        msg: &[u8],
    ) -> Option<Vec<u8>> {
        let port = &self.ports[p];
        let src_ip = port.address?;
        let nh = port.next_hop(dst_ip);
        // Prefer the ARP cache; a peer we never resolved is answered
        // through the router its packet came from.
        let dst = self.neighbours.get(p, nh).unwrap_or(last_mac);
        let (l4, proto) = if udp_dst != 0 {
            (udp::HEADER_LEN, protocol::UDP)
        } else {
            (4, protocol::L2TP)
        };
        let len = ethernet::HEADER_LEN + ipv4::HEADER_LEN + l4 + msg.len();
        let (src_mac, udp_port) = (port.mac, self.cfg.l2tp.udp_port);
        self.ip_ident = self.ip_ident.wrapping_add(1);
        let ident = self.ip_ident;
        let mut frame = vec![0u8; len];
        let buf = &mut frame[..];
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
            dst: dst_ip,
            protocol: proto,
            payload_len: l4 + msg.len(),
            ttl: 64,
            ident,
            dont_frag: false,
            dscp: 0,
        }
        .emit(&mut ipv4::Packet::new_unchecked(&mut ipb[..]));
        let l4b = &mut ipb[ipv4::HEADER_LEN..];
        if udp_dst != 0 {
            l4b[udp::HEADER_LEN..].copy_from_slice(msg);
            let mut u = udp::Packet::new_unchecked(&mut l4b[..]);
            UdpRepr {
                src_port: udp_port,
                dst_port: udp_dst,
                payload_len: msg.len(),
            }
            .emit(&mut u);
            u.fill_checksum_v4(src_ip, dst_ip);
        } else {
            l4b[..4].fill(0);
            l4b[4..].copy_from_slice(msg);
        }
        Some(frame)
    }

    /// A control message to `dst` over IPv6 out of port `p`, from its
    /// `address6` (None: the port has none, or the message does not fit
    /// an IPv6 payload). The next hop's MAC comes from neighbour
    /// discovery; until it resolves (it is asked for here), the frame
    /// goes to the MAC the peer's last message came from, as over IPv4
    /// with ARP: that is the peer, or the router in front of it. The
    /// UDP checksum is always computed (RFC 8200 §8.1; `udp6_checksum =
    /// "zero"` is for data only, see `engine::l2tp6`).
    fn l2tp_frame6(
        &mut self,
        p: usize,
        last_mac: [u8; 6],
        dst_ip: std::net::Ipv6Addr,
        udp_dst: u16,
        msg: &[u8],
    ) -> Option<Vec<u8>> {
        use crate::wire::ipv6::{self, Ipv6Repr};
        let port = &self.ports[p];
        let src_ip = port.v6.as_ref()?.address;
        let IpAddr::V6(nh) = port.next_hop_ip(IpAddr::V6(dst_ip)) else {
            return None;
        };
        let (src_mac, udp_port) = (port.mac, self.cfg.l2tp.udp_port);
        let dst = match self.nd6.get(p, nh) {
            Some(m) => m,
            None => {
                self.want_next_hop(p, IpAddr::V6(nh));
                last_mac
            }
        };
        let (l4, proto) = if udp_dst != 0 {
            (udp::HEADER_LEN, protocol::UDP)
        } else {
            (4, protocol::L2TP)
        };
        let plen = l4 + msg.len();
        if plen > usize::from(u16::MAX) {
            return None;
        }
        let mut frame = vec![0u8; ethernet::HEADER_LEN + ipv6::HEADER_LEN + plen];
        let buf = &mut frame[..];
        EthernetRepr {
            src: MacAddr(src_mac),
            dst: MacAddr(dst),
            ethertype: ethertype::IPV6,
        }
        .emit(&mut ethernet::Frame::new_unchecked(&mut buf[..]));
        let ipb = &mut buf[ethernet::HEADER_LEN..];
        Ipv6Repr {
            src: src_ip,
            dst: dst_ip,
            next_header: proto,
            payload_len: plen,
            hop_limit: 64,
            traffic_class: 0,
            flow_label: 0,
        }
        .emit(&mut ipv6::Packet::new_unchecked(&mut ipb[..]));
        let l4b = &mut ipb[ipv6::HEADER_LEN..];
        if udp_dst != 0 {
            l4b[udp::HEADER_LEN..].copy_from_slice(msg);
            let mut u = udp::Packet::new_unchecked(&mut l4b[..]);
            UdpRepr {
                src_port: udp_port,
                dst_port: udp_dst,
                payload_len: msg.len(),
            }
            .emit(&mut u);
            // The length was just written from the buffer: cannot fail.
            ipv6::fill_udp_checksum(&mut u, src_ip, dst_ip, ipv6::UdpChecksum::Compute).ok()?;
        } else {
            l4b[..4].fill(0);
            l4b[4..].copy_from_slice(msg);
        }
        Some(frame)
    }

    /// The switch for a VC ID: the configured one, else (if allowed) a new
    /// one created with default policy.
    pub(super) fn switch_for_vc(
        &mut self,
        vc: &str,
        peer: IpAddr,
    ) -> Result<SwitchId, (RefuseReason, String)> {
        if let Some(&s) = self.by_vc.get(vc) {
            return Ok(s);
        }
        let mine = self.auto_switches_of(peer);
        let quota = self.cfg.l2tp.auto_switches_per_peer as usize;
        if self.cfg.l2tp.auto_switch && mine >= quota {
            return Err((
                RefuseReason::SwitchLimit,
                format!("cannot create switch vc-{vc}: this peer holds {mine} auto-created switches (l2tp.auto_switches_per_peer = {quota})"),
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
        let mut sw = SwitchRt::new(defaults, true);
        sw.creator = Some(peer);
        sw.base = self.switch_sums(free);
        sw.learn_failed_seen = sw.base[6];
        self.add_switch(id, sw);
        self.by_vc.insert(vc.to_string(), id);
        log::info!("switch vc-{vc} created for VC ID {vc} (by {peer})");
        Ok(id)
    }

    /// Auto-created switches that `peer`'s sessions created and that live.
    pub(super) fn auto_switches_of(&self, peer: IpAddr) -> usize {
        self.switches
            .iter()
            .flatten()
            .filter(|s| s.creator == Some(peer))
            .count()
    }

    /// A switch slot's counters summed over the workers.
    pub(super) fn switch_sums(&self, i: usize) -> [u64; SWITCH_COUNTERS] {
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
    pub(super) fn free_idle_switches(&mut self, now: u64) {
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
            if self.edge_members(id) > 0 {
                continue;
            }
            log::info!(
                "switch {} freed: no member for {} s",
                self.switch_name(id),
                grace / 1000
            );
            self.mesh_close_switch(id);
            self.drop_switch(id);
            self.counters.switches_freed += 1;
        }
    }

    pub(super) fn session_up(&mut self, peer: Peer, up: SessionUp) {
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
        if peer.ip.is_ipv6() && self.ports[p].v6.is_none() {
            // The workers punt IPv6 only on ports with `address6`.
            return refuse(
                self,
                RefuseReason::NoRoute,
                "an IPv6 peer on a port without address6".into(),
            );
        }
        if peer.ip.is_ipv4() && self.ports[p].address.is_none() {
            // Nor IPv4 on an IPv6-only port.
            return refuse(
                self,
                RefuseReason::NoRoute,
                "an IPv4 peer on a port without address".into(),
            );
        }
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
        let mesh = self.mesh_of_ccid(up.local_ccid);
        let named = mesh.and_then(|_| {
            self.switches
                .iter()
                .position(|s| {
                    s.as_ref()
                        .is_some_and(|s| s.cfg.name.as_bytes() == up.remote_end_id.as_slice())
                })
                .filter(|_| !self.by_vc.contains_key(&vc))
                .map(|i| SwitchId(i as u16))
        });
        let switch = match named.map_or_else(|| self.switch_for_vc(&vc, peer.ip), Ok) {
            Ok(s) => s,
            Err((reason, why)) => {
                self.mesh_session_down(up.local_ccid, up.local_session_id);
                return refuse(self, reason, why);
            }
        };
        if let Some(i) = mesh {
            if self.switches[switch.0 as usize]
                .as_ref()
                .is_some_and(|s| s.creator == Some(peer.ip))
            {
                // Made for a mesh peer: not its quota.
                if let Some(sw) = self.switches[switch.0 as usize].as_mut() {
                    sw.creator = None;
                }
            }
            if !self.mesh_session_up(i, up.local_ccid, up.local_session_id, switch) {
                return;
            }
        }
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
        let next_hop = self.ports[p].next_hop_ip(peer.ip);
        // An IPv6 address in brackets: `fd00::2/7` would read as a prefix.
        let who = match peer.ip {
            IpAddr::V4(ip) => ip.to_string(),
            IpAddr::V6(ip) => format!("[{ip}]"),
        };
        let s = SessionRt {
            name: if mesh.is_some() {
                format!("mesh:{who}/{}", up.local_session_id)
            } else {
                format!("{who}/{}", up.local_session_id)
            },
            mesh: mesh.is_some(),
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
                since: self.now.ms,
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
        let is_mesh = s.mesh;
        self.add_session(s);
        // A switch with only mesh members has no site here: it is idle.
        let now = self.now_ms();
        let edges = self.edge_members(switch);
        if let Some(sw) = self.switches[switch.0 as usize].as_mut() {
            sw.empty_since = if edges > 0 {
                None
            } else {
                sw.empty_since.or(Some(now))
            };
        }
        self.counters.sessions_up += 1;
        // Only this session's header and its switch's largest frame can
        // change (a template pass over every session here made setting up
        // n pseudowires O(n²)).
        let i = member.0 as usize;
        if self.sessions[i]
            .as_ref()
            .is_some_and(|s| self.next_hop_mac(s.port, s.next_hop).is_some())
        {
            self.counters.neighbours_resolved += 1;
            self.send_template(i);
        }
        self.update_max_frame(switch);
        if !is_mesh {
            self.mesh_offer(switch);
        }
    }

    pub(super) fn session_down(&mut self, ccid: u32, sid: u32, reason: DownReason) {
        self.mesh_session_down(ccid, sid);
        let Some(member) = self.by_sid.remove(&(ccid, sid)) else {
            return;
        };
        log::info!("l2tp: session {sid} (ccid {ccid}) down: {reason:?}");
        self.counters.sessions_down += 1;
        let gone = self.drop_member(member);
        let switch = gone.as_ref().map(|s| s.switch);
        if let Some(sw) = switch {
            self.update_max_frame(sw);
        }
        if let Some(s) = gone.filter(|s| !s.mesh) {
            // A site left: the mesh peers forget where its MACs were.
            self.mesh_flush_peers(s.switch);
        }
        // An auto-created switch's last edge: its grace period starts.
        if let Some(sw) = switch {
            let empty = self.edge_members(sw) == 0;
            let now = self.now_ms();
            if let Some(rt) = self.switches[sw.0 as usize]
                .as_mut()
                .filter(|r| r.auto && empty)
            {
                rt.empty_since = Some(now);
            }
        }
    }

    /// Data for `member` came from its peer on UDP port `port`, not the
    /// session's: maybe a NAT remapped the peer. A HELLO goes to the peer
    /// there now (the worker reports this at most once a second per
    /// session); if the peer is there, its answer (in sequence, with a
    /// valid digest when authentication is on) moves the tunnel, within
    /// one round trip instead of at the peer's next HELLO. Someone
    /// spoofing data gets one HELLO a second sent to the peer's own
    /// address, which they cannot read unless they are on its path.
    pub(super) fn peer_port(&mut self, member: MemberId, port: u16) {
        let Some(s) = self
            .sessions
            .get(member.0 as usize)
            .and_then(Option::as_ref)
        else {
            return;
        };
        let Some(d) = s.dynamic.as_ref() else {
            // A static session has no control connection to ask through.
            return;
        };
        let ip = s.peer;
        let ccid = d.ccid;
        self.counters.l2tp_port_probes += 1;
        let now = self.now_ms();
        let acts = self.l2tp.probe(now, ccid, Peer { ip, udp_port: port });
        self.l2tp_actions(acts);
    }

    /// A tunnel followed its peer to a new UDP port (a NAT remapped it):
    /// its sessions send there from now on, and the workers take data
    /// from there (and no longer from the old port).
    pub(super) fn peer_moved(&mut self, peer: Peer, ccid: u32) {
        self.counters.l2tp_peer_moves += 1;
        let mut moved = Vec::new();
        for s in self.sessions.iter_mut().flatten() {
            if s.dynamic.as_ref().is_some_and(|d| d.ccid == ccid)
                && s.udp_peer_port != peer.udp_port
            {
                moved.push((s.member, s.udp_peer_port));
                s.udp_peer_port = peer.udp_port;
            }
        }
        let from = moved.first().map_or(0, |m| m.1);
        log::info!(
            "l2tp: control connection {ccid} with {} moved to UDP port {} (from {from}): \
             {} session(s) follow",
            peer.ip,
            peer.udp_port,
            moved.len()
        );
        for (member, _) in moved {
            let i = member.0 as usize;
            if let Some(spec) = self.sessions[i].as_ref().map(session_spec) {
                // The new source port for the checks, then the header
                // with the new destination port.
                self.broadcast(|| Command::AddSession(Box::new(spec)));
                self.send_template(i);
            }
        }
    }
}
