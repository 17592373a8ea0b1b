//! MAC events from the workers: learning, moves, refreshes, MAC limits,
//! VLAN learning domains and flap (loop) detection.

use super::*;

impl Engine {
    pub(super) fn drain_events(&mut self, w: usize) -> bool {
        let mut any = false;
        let now = self.now_ms() / 1000;
        for _ in 0..1024 {
            let Some(ev) = self.workers[w].events.pop() else {
                break;
            };
            any = true;
            match ev {
                Event::NeedVlan { switch, vid } => self.map_vlan(switch, vid),
                // The worker dropped a MAC only its own stamp kept alive.
                // If this table still has it (refreshed through another
                // worker, or installed), that worker gets it back.
                Event::AgedLocal { switch, mac, .. } => {
                    if let Some(e) = self.aging.get(switch, mac) {
                        self.counters.macs_reinstalled += 1;
                        self.send_cmd(
                            w,
                            Command::InstallMac {
                                switch,
                                mac,
                                member: e.member,
                                is_static: e.is_static,
                            },
                        );
                    }
                }
                Event::PeerPort { member, port } => self.peer_port(member, port),
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
    pub(super) fn log_mac_limits(&mut self) {
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
                    sw.cfg.mac_limit,
                    sw.cfg.mac_limit_per_member
                );
                sw.learn_failed_seen = failed;
            }
        }
    }

    /// Allocates the learning domain of (switch, VLAN) and programs it.
    pub(super) fn map_vlan(&mut self, switch: SwitchId, vid: u16) {
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
    pub(super) fn domain_owner(&self, d: SwitchId) -> (SwitchId, Option<u16>) {
        match self.vlans.owner(d) {
            Some((sw, vid)) if vid != 0 => (sw, Some(vid)),
            Some((sw, _)) => (sw, None),
            None => (d, None),
        }
    }

    /// MAC move (flap) detection: a MAC bouncing between members is a loop
    /// indicator; it is logged and counted, and with `flap_block` the
    /// member it moved to is blocked for that long.
    pub(super) fn flap_check(
        &mut self,
        switch: SwitchId,
        mac: u64,
        from: MemberId,
        to: MemberId,
        now: u64,
    ) {
        let owner = self.domain_owner(switch).0;
        let Some(cfg) = self
            .switches
            .get(owner.0 as usize)
            .and_then(Option::as_ref)
            .map(|s| s.cfg.flap_config())
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
                let until_tsc = self.now.tsc + u64::from(cfg.block) * self.tsc_hz;
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

    pub(super) fn switch_name(&self, s: SwitchId) -> String {
        self.switches
            .get(s.0 as usize)
            .and_then(Option::as_ref)
            .map(|x| x.cfg.name.clone())
            .unwrap_or_else(|| format!("{s:?}"))
    }

    pub(super) fn member_name(&self, m: MemberId) -> String {
        self.sessions
            .get(m.0 as usize)
            .and_then(Option::as_ref)
            .map(|x| x.name.clone())
            .unwrap_or_else(|| format!("{m:?}"))
    }
}
