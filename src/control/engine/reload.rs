//! Configuration changes while las runs: start-up and reload alike.
//!
//! `program` (start) and `reload` both compute the difference between the
//! configuration the engine runs on and a new, validated one, and apply
//! it through the workers' command queues between bursts, as at start: a
//! switch or session that did not change is not touched, so its traffic
//! and counters go on. Start-up is the difference from an empty
//! configuration.
//!
//! What the data plane cannot take live is refused by name and nothing is
//! applied (ports and their devices, EAL arguments, `[dataplane]` sizes,
//! the control socket, `[metrics]` (its thread starts with las),
//! `l2tp.udp_port` and `l2tp.punt_rate`, which the workers' classifier
//! holds). A port's gateway and the static neighbours
//! change live.
//!
//! Identities: a switch is its `name` (a configured switch that takes the
//! name of a switch a VC ID created adopts it, members and all); a static
//! session is its `name`. A changed static session is removed and added
//! again (its ids, cookies or peer changed: the data plane must forget the
//! old ones). A dynamic session stays up unless the change makes it
//! invalid: its VC ID no longer leads to its switch (the switch was
//! removed, or the VC ID moved to another switch) — CDN, result 3
//! (administrative) — or its peer is no longer in `l2tp.allow` — StopCCN,
//! result 4 (not authorized). Secrets, auth modes, timers and limits apply
//! to control connections set up after the reload; established ones keep
//! what they were set up with (rotating a secret does not drop a tunnel).

use super::diff::{l2tp_diff, restart_only, session_key, static_macs, switch_diff};
use super::program::switch_spec;
use super::*;
use crate::wire::l2tp::message::cdn_result;

/// What a reload did or (dry run) would do, one readable line each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    pub lines: Vec<String>,
}

impl Changes {
    fn add(&mut self, line: String) {
        self.lines.push(line);
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

/// The decisions of one reload, made before anything is applied.
pub(super) struct Plan {
    changes: Changes,
    /// Slots of configured switches that are gone.
    remove_switches: Vec<SwitchId>,
    /// New switch index → its slot (existing, or `None`: to be added).
    slot_of: Vec<Option<SwitchId>>,
    /// Existing slots whose settings change, with the new index.
    update_switches: Vec<(SwitchId, usize)>,
    /// Static sessions to remove (gone or changed).
    remove_sessions: Vec<MemberId>,
    /// New session indexes to add (new or changed).
    add_sessions: Vec<usize>,
    /// Control connections whose peer is no longer allowed.
    stop_tunnels: Vec<u32>,
    /// Dynamic sessions whose VC ID will no longer lead to their switch:
    /// (ccid, local session id, why).
    close_sessions: Vec<(u32, u32, String)>,
}

impl Engine {
    /// Applies `new` (validated) to the running engine: see the module
    /// docs. Nothing is applied when it returns an error; with `dry_run`
    /// nothing is applied either, and the changes say what would be.
    pub fn reload(&mut self, now: Now, new: Config, dry_run: bool) -> Result<Changes, String> {
        self.now = now;
        let restart = restart_only(&self.cfg, &new);
        if !restart.is_empty() {
            return Err(format!(
                "not reloaded: {} cannot change while las runs (restart las for that)",
                restart.join(", ")
            ));
        }
        let plan = self.plan(&new)?;
        if dry_run {
            return Ok(plan.changes);
        }
        Ok(self.apply(plan, new, false))
    }

    /// The configured switch slot named `name` (or an auto switch that a
    /// configured one of that name adopts).
    fn slot_named(&self, name: &str) -> Option<SwitchId> {
        self.switches
            .iter()
            .position(|s| s.as_ref().is_some_and(|s| s.cfg.name == name))
            .map(|i| SwitchId(i as u16))
    }

    /// The member of the static session named `name`.
    fn static_member(&self, name: &str) -> Option<MemberId> {
        self.sessions
            .iter()
            .flatten()
            .find(|s| s.dynamic.is_none() && s.name == name)
            .map(|s| s.member)
    }

    pub(super) fn plan(&self, new: &Config) -> Result<Plan, String> {
        let old = &self.cfg;
        let mut p = Plan {
            changes: Changes::default(),
            remove_switches: Vec::new(),
            slot_of: Vec::new(),
            update_switches: Vec::new(),
            remove_sessions: Vec::new(),
            add_sessions: Vec::new(),
            stop_tunnels: Vec::new(),
            close_sessions: Vec::new(),
        };
        // Switches.
        for sw in &old.switches {
            if !new.switches.iter().any(|n| n.name == sw.name) {
                if let Some(id) = self.slot_named(&sw.name) {
                    let n = self.sessions.iter().flatten().filter(|s| s.switch == id);
                    p.changes.add(format!(
                        "switch {}: removed ({} member(s) leave it)",
                        sw.name,
                        n.count()
                    ));
                    p.remove_switches.push(id);
                }
            }
        }
        let free = self.switches.iter().filter(|s| s.is_none()).count() + p.remove_switches.len();
        let mut adding = 0;
        for (j, sw) in new.switches.iter().enumerate() {
            let slot = self.slot_named(&sw.name);
            p.slot_of.push(slot);
            match slot.and_then(|id| self.switches[id.0 as usize].as_ref().map(|s| (id, s))) {
                None => {
                    adding += 1;
                    p.changes.add(format!("switch {}: added", sw.name));
                }
                Some((id, rt)) => {
                    let d = switch_diff(&rt.cfg, sw);
                    if rt.auto {
                        p.changes.add(format!(
                            "switch {}: now configured (was created by its VC ID)",
                            sw.name
                        ));
                    }
                    if !d.is_empty() {
                        p.changes
                            .add(format!("switch {}: {}", sw.name, d.join(", ")));
                    }
                    if rt.auto || !d.is_empty() {
                        p.update_switches.push((id, j));
                    }
                }
            }
        }
        if adding > free {
            return Err(format!(
                "not reloaded: {adding} switch(es) to add, {free} free slot(s) \
                 (dataplane.max_switches = {})",
                self.switches.len()
            ));
        }
        // Static sessions.
        for s in &old.sessions {
            let key = session_key(s, &old.switches);
            match new.sessions.iter().find(|n| n.name == s.name) {
                None => {
                    p.changes.add(format!("session {}: removed", s.name));
                }
                Some(n) if session_key(n, &new.switches) != key => {
                    p.changes.add(format!(
                        "session {}: changed (removed and added again)",
                        s.name
                    ));
                }
                Some(_) => continue,
            }
            if let Some(m) = self.static_member(&s.name) {
                p.remove_sessions.push(m);
            }
        }
        for (j, s) in new.sessions.iter().enumerate() {
            let same = old
                .sessions
                .iter()
                .find(|o| o.name == s.name)
                .is_some_and(|o| session_key(o, &old.switches) == session_key(s, &new.switches));
            if same {
                continue;
            }
            if !old.sessions.iter().any(|o| o.name == s.name) {
                p.changes.add(format!("session {}: added", s.name));
            }
            // A dynamic session may hold the id (a static one that stays
            // or goes has it reserved already).
            let reserved_by_static = old
                .sessions
                .iter()
                .any(|o| o.local_session_id == s.local_session_id);
            if !reserved_by_static && self.l2tp.session_id_taken(s.local_session_id) {
                return Err(format!(
                    "not reloaded: session[{j}].local_session_id = {} is in use by a dynamic session",
                    s.local_session_id
                ));
            }
            p.add_sessions.push(j);
        }
        let free_members = self.free_members.len() + p.remove_sessions.len();
        if p.add_sessions.len() > free_members {
            return Err(format!(
                "not reloaded: {} session(s) to add, {free_members} free member slot(s) \
                 (dataplane.max_sessions = {})",
                p.add_sessions.len(),
                self.sessions.len()
            ));
        }
        // Static MACs, neighbours, gateways, [l2tp].
        let (om, nm) = (static_macs(old), static_macs(new));
        for m in om.iter().filter(|m| !nm.contains(m)) {
            p.changes.add(format!(
                "static MAC {} in {} → {}: removed",
                MacAddr(m.1),
                m.0,
                m.2
            ));
        }
        for m in nm.iter().filter(|m| !om.contains(m)) {
            p.changes.add(format!(
                "static MAC {} in {} → {}: added",
                MacAddr(m.1),
                m.0,
                m.2
            ));
        }
        for n in old.neighbors.iter().filter(|n| !new.neighbors.contains(n)) {
            p.changes.add(format!(
                "neighbor {} on port {}: removed",
                n.address, n.port
            ));
        }
        for n in new.neighbors.iter().filter(|n| !old.neighbors.contains(n)) {
            p.changes.add(format!(
                "neighbor {} on port {}: {}",
                n.address,
                n.port,
                MacAddr(n.mac)
            ));
        }
        for (a, b) in old.ports.iter().zip(&new.ports) {
            if a.gateway != b.gateway {
                p.changes.add(format!(
                    "port {} gateway: {:?} → {:?}",
                    a.name, a.gateway, b.gateway
                ));
            }
        }
        for line in l2tp_diff(&old.l2tp, &new.l2tp) {
            p.changes.add(line);
        }
        for (peer, t) in self.l2tp.tunnels() {
            if !new.l2tp.allowed(peer.ip) && t.state() != crate::control::l2tp::TunnelState::Closed
            {
                p.changes.add(format!(
                    "control connection {} with {}: stopped, the peer is no longer in l2tp.allow",
                    t.local_ccid(),
                    peer.ip
                ));
                p.stop_tunnels.push(t.local_ccid());
            }
        }
        // Where each VC ID will lead: a configured switch that lists it,
        // else the auto switch it created (unless a configured switch
        // takes that switch's name).
        let target = |vc: &str| -> Option<&str> {
            if let Some(sw) = new
                .switches
                .iter()
                .find(|s| s.vc_ids.iter().any(|v| v == vc))
            {
                return Some(&sw.name);
            }
            let rt = self.switches[self.by_vc.get(vc)?.0 as usize].as_ref()?;
            let adopted = new.switches.iter().any(|n| n.name == rt.cfg.name);
            (rt.auto && !adopted).then_some(rt.cfg.name.as_str())
        };
        // A mesh pseudowire may name a switch without VC IDs by its name.
        let target_of = |s: &SessionRt, vc: &str| -> Option<&str> {
            target(vc).or_else(|| {
                new.switches
                    .iter()
                    .find(|n| {
                        s.mesh
                            && n.vc_ids.is_empty()
                            && VcId::from_remote_end_id(n.name.as_bytes()).to_string() == vc
                    })
                    .map(|n| n.name.as_str())
            })
        };
        for s in self.sessions.iter().flatten() {
            let Some(d) = s.dynamic.as_ref() else {
                continue;
            };
            let now_in = self.switch_name(s.switch);
            if target_of(s, &d.vc_id) == Some(now_in.as_str()) {
                continue;
            }
            let why = match target_of(s, &d.vc_id) {
                Some(other) => format!("VC ID {} now leads to switch {other}", d.vc_id),
                None => format!("switch {now_in} no longer serves VC ID {}", d.vc_id),
            };
            p.changes.add(format!(
                "session {} (peer {}, VC ID {}): closed (CDN): {why}",
                s.local_session_id, s.peer, d.vc_id
            ));
            p.close_sessions.push((d.ccid, s.local_session_id, why));
        }
        Ok(p)
    }

    /// Applies a plan; `quiet` at start-up (the changes are the whole
    /// configuration).
    pub(super) fn apply(&mut self, plan: Plan, new: Config, quiet: bool) -> Changes {
        let t0 = std::time::Instant::now();
        let old = std::mem::replace(&mut self.cfg, new);
        let changes = plan.changes;
        let now = self.now_ms();
        // [l2tp]: new control connections get the new settings.
        let router_id = super::default_router_id(&self.ports);
        self.l2tp.set_config(endpoint_config(&self.cfg, router_id));
        self.l2tp.set_per_peer(per_peer(self.cfg.l2tp.clone()));
        self.control_rate.set_rate(control_rate(&self.cfg.l2tp));
        for ccid in plan.stop_tunnels {
            let acts = self
                .l2tp
                .stop_tunnel(now, ccid, stopccn_result::NOT_AUTHORIZED, None);
            self.l2tp_actions(acts);
        }
        // Dynamic sessions whose VC ID will lead elsewhere: CDN.
        for (ccid, sid, why) in plan.close_sessions {
            let acts =
                self.l2tp
                    .close_session(now, ccid, sid, cdn_result::ADMINISTRATIVE, None, &why);
            self.l2tp_actions(acts);
        }
        // Static sessions that go or change.
        for m in plan.remove_sessions {
            if let Some(s) = self.drop_member(m) {
                self.l2tp.release_session_id(s.local_session_id);
            }
        }
        // Switches that go (a member left behind is dropped with it).
        for id in plan.remove_switches {
            let name = self.switch_name(id);
            self.drop_switch(id);
            log::info!("switch {name} removed");
        }
        // Switches that stay and change, then new ones in free slots.
        let mut slot_of = plan.slot_of;
        let mut added = Vec::new();
        for (id, j) in plan.update_switches {
            let sw = self.cfg.switches[j].clone();
            self.update_switch(id, sw);
        }
        for (j, slot) in slot_of.iter_mut().enumerate() {
            if slot.is_some() {
                continue;
            }
            // Counted in plan(): a slot is free.
            let Some(free) = self.switches.iter().position(Option::is_none) else {
                continue;
            };
            let id = SwitchId(free as u16);
            let mut rt = SwitchRt::new(self.cfg.switches[j].clone(), false);
            rt.base = self.switch_sums(free);
            rt.learn_failed_seen = rt.base[6];
            self.add_switch(id, rt);
            *slot = Some(id);
            added.push(id);
        }
        // VC IDs: the configured switches' own; auto switches keep theirs
        // unless a configured switch now lists the VC ID.
        let switches = &self.switches;
        self.by_vc
            .retain(|_, s| switches[s.0 as usize].as_ref().is_some_and(|r| r.auto));
        for (j, sw) in self.cfg.switches.iter().enumerate() {
            if let Some(id) = slot_of[j] {
                for vc in &sw.vc_ids {
                    self.by_vc.insert(vc.clone(), id);
                }
            }
        }
        // New static sessions, then the static MACs that refer to them.
        for j in plan.add_sessions {
            let s = self.cfg.sessions[j].clone();
            let Some(switch) = slot_of.get(s.switch).copied().flatten() else {
                continue;
            };
            self.add_static_session(&s, switch);
        }
        self.apply_static_macs(&old, &slot_of);
        // Neighbours and gateways.
        for n in old
            .neighbors
            .iter()
            .filter(|n| !self.cfg.neighbors.contains(n))
        {
            self.neighbours.remove_static(n.port, n.address, now);
        }
        for n in self.cfg.neighbors.clone() {
            if !old.neighbors.contains(&n) {
                self.neighbours.add_static(n.port, n.address, n.mac);
            }
        }
        for n in old
            .neighbors6
            .iter()
            .filter(|n| !self.cfg.neighbors6.contains(n))
        {
            self.nd6.remove_static(n.port, n.address, now);
        }
        for n in self.cfg.neighbors6.clone() {
            if !old.neighbors6.contains(&n) {
                self.nd6.add_static(n.port, n.address, n.mac);
            }
        }
        for (i, p) in self.cfg.ports.iter().enumerate() {
            self.ports[i].gateway = p.gateway;
            if let Some(gw) = p.gateway {
                self.neighbours.want(i, gw, now);
            }
        }
        self.reroute_sessions();
        self.refresh_templates();
        self.update_max_frames();
        // New switches join the mesh peers that are up.
        for id in added {
            self.mesh_offer(id);
        }
        let took = t0.elapsed();
        if !changes.is_empty() && !quiet {
            log::info!(
                "reload: {} change(s) applied in {:.1} ms",
                changes.lines.len(),
                took.as_secs_f64() * 1e3
            );
            for l in &changes.lines {
                log::info!("reload: {l}");
            }
        }
        changes
    }

    /// New settings for a switch that stays: the workers take the new
    /// policy at once; a different VLAN mode or VLAN list starts its
    /// VLAN learning over.
    fn update_switch(&mut self, id: SwitchId, new: config::Switch) {
        let Some(rt) = self.switches[id.0 as usize].as_mut() else {
            return;
        };
        let relearn = rt.cfg.vlan_mode != new.vlan_mode || rt.cfg.vlans != new.vlans;
        rt.cfg = new;
        rt.auto = false;
        rt.creator = None;
        rt.empty_since = None;
        let spec = switch_spec(id, &rt.cfg);
        let vlans = rt.cfg.vlans.clone();
        if relearn {
            self.drop_vlans(id);
            self.broadcast(|| Command::FlushSwitch(id));
            self.aging.remove_switch(id);
        }
        self.broadcast(|| Command::AddSwitch(Box::new(spec.clone())));
        if relearn {
            for vid in vlans {
                self.map_vlan(id, vid);
            }
        }
    }

    /// Frees every VLAN learning domain of a switch, here and on the
    /// workers, with their MACs.
    fn drop_vlans(&mut self, id: SwitchId) {
        let mut freed = Vec::new();
        self.vlans.remove_switch(id, |d| freed.push(d));
        for d in freed {
            self.aging.remove_switch(d);
        }
        self.broadcast(|| Command::DropVlans(id));
    }

    /// Frees a switch slot without members: MACs flushed on the workers,
    /// VLAN domains freed, VC IDs forgotten.
    pub(super) fn drop_switch(&mut self, id: SwitchId) {
        let members = self.switches[id.0 as usize]
            .as_ref()
            .map(|sw| sw.members.clone())
            .unwrap_or_default();
        for m in members {
            self.drop_member(m);
        }
        self.drop_vlans(id);
        self.broadcast(|| Command::FlushSwitch(id));
        self.aging.remove_switch(id);
        self.by_vc.retain(|_, s| *s != id);
        self.switches[id.0 as usize] = None;
    }

    /// Removes a member from the workers and frees its slot; returns it.
    pub(super) fn drop_member(&mut self, member: MemberId) -> Option<SessionRt> {
        let s = self.sessions.get_mut(member.0 as usize)?.take()?;
        if let Some(sw) = self.switches[s.switch.0 as usize].as_mut() {
            if !s.mesh {
                sw.edges = sw.edges.saturating_sub(1);
            }
            if let Some(k) = sw.members.iter().position(|&m| m == member) {
                sw.members.swap_remove(k);
            }
        }
        if let Some(d) = &s.dynamic {
            self.by_sid.remove(&(d.ccid, s.local_session_id));
        }
        self.broadcast(|| Command::RemoveSession(member));
        self.forget_macs_of(member);
        self.free_members.push(member.0);
        Some(s)
    }

    /// Removes the MACs the control core knows on `member` from the
    /// aging table and from every worker.
    pub(super) fn forget_macs_of(&mut self, member: MemberId) {
        for (switch, mac) in self.aging.remove_member(member) {
            self.broadcast(|| Command::RemoveMac { switch, mac });
        }
    }

    /// Programs a static session from the configuration into `switch`.
    fn add_static_session(&mut self, s: &config::Session, switch: SwitchId) {
        let Some(member) = self.free_members.pop() else {
            return;
        };
        self.l2tp.reserve_session_id(s.local_session_id);
        let l2spec = match s.l2spec {
            config::L2SpecCfg::None => L2Spec::None,
            config::L2SpecCfg::Default => L2Spec::Default,
        };
        let next_hop = self.ports[s.port].next_hop_ip(s.peer);
        self.add_session(SessionRt {
            mesh: false,
            name: s.name.clone(),
            member: MemberId(member),
            switch,
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
            local_cookie: s.local_cookie,
            remote_cookie: s.remote_cookie,
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

    /// Static MACs: removes those no longer configured (or whose session
    /// was re-added: the data plane forgot them with the member) and
    /// installs the rest anew where needed.
    fn apply_static_macs(&mut self, old: &Config, slot_of: &[Option<SwitchId>]) {
        let news = static_macs(&self.cfg);
        for m @ (sw, mac, _) in &static_macs(old) {
            if news.contains(m) {
                continue;
            }
            if let Some(id) = self.slot_named(sw) {
                let mac = crate::switch::mac_to_u64(*mac);
                if self.aging.get(id, mac).is_some_and(|e| e.is_static) {
                    self.aging.remove(id, mac);
                    self.broadcast(|| Command::RemoveMac { switch: id, mac });
                }
            }
        }
        for (j, sw) in self.cfg.switches.clone().iter().enumerate() {
            let Some(switch) = slot_of.get(j).copied().flatten() else {
                continue;
            };
            for sm in &sw.static_macs {
                let Some(session) = self.cfg.sessions.get(sm.session) else {
                    continue;
                };
                let Some(member) = self.static_member(&session.name) else {
                    continue;
                };
                let mac = crate::switch::mac_to_u64(sm.mac);
                if self
                    .aging
                    .get(switch, mac)
                    .is_some_and(|e| e.is_static && e.member == member)
                {
                    continue;
                }
                self.aging.add_static(switch, mac, member);
                self.broadcast(|| Command::InstallMac {
                    switch,
                    mac,
                    member,
                    is_static: true,
                });
            }
        }
    }

    /// Next hops after a gateway change: a session whose next hop moved
    /// gets the header for the new one (none until it resolves; it is
    /// asked for by ARP now).
    fn reroute_sessions(&mut self) {
        for i in 0..self.sessions.len() {
            let Some(s) = self.sessions[i].as_ref() else {
                continue;
            };
            let nh = self.ports[s.port].next_hop_ip(s.peer);
            if nh == s.next_hop {
                continue;
            }
            let port = s.port;
            if let Some(s) = self.sessions[i].as_mut() {
                s.next_hop = nh;
            }
            self.want_next_hop(port, nh);
            self.send_template(i);
        }
    }
}
