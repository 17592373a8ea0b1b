//! What `las show` and the final report see: views over the control
//! core's state and the workers' counters.

use super::*;

impl Engine {
    /// Answers a `las show` request.
    pub fn answer(&self, r: &Request, io: &Snapshot) -> Response {
        match r {
            Request::Ports => Response::Ports {
                ports: self.port_views(io),
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
                            .position(|s| matches!(s, Some(s) if &s.cfg.name == name));
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
            Request::Counters => Response::Counters(self.counters_view(io)),
            Request::Mesh => Response::Mesh {
                mesh: self.mesh_views(),
            },
            // Changes state and reads a file: the control loop answers it
            // (`control::core`), never a view.
            Request::Reload { .. } => Response::Error {
                error: "reload is not a view".into(),
            },
        }
    }

    pub fn port_views(&self, io: &Snapshot) -> Vec<PortView> {
        self.ports
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let st = io.ports.get(i).copied().unwrap_or_default();
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
                    address: p.address.map(|a| format!("{a}/{}", p.prefix_len)),
                    address6: p
                        .v6
                        .as_ref()
                        .map(|v| format!("{}/{}", v.address, v.prefix_len)),
                    gateway: p.gateway.map(|g| g.to_string()),
                    mtu: p.mtu,
                    link_up: st.link_up,
                    rx_queues: p.rx_queues,
                    tx_queues: p.tx_queues,
                    rx_packets: st.rx_packets,
                    rx_bytes: st.rx_bytes,
                    tx_packets: st.tx_packets,
                    tx_bytes: st.tx_bytes,
                    rx_missed: st.rx_missed,
                    rx_errors: st.rx_errors,
                    tx_errors: st.tx_errors,
                    rx_nombuf: st.rx_nombuf,
                    punted,
                    rx_ip_checksum_offload: p.rx_ip_checksum,
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
                    kind: if s.mesh {
                        "mesh".into()
                    } else if s.dynamic.is_some() {
                        "dynamic".into()
                    } else {
                        "static".into()
                    },
                    vc_id: s.dynamic.as_ref().map(|d| d.vc_id.clone()),
                    ccid: s.dynamic.as_ref().map(|d| d.ccid),
                    uptime_secs: s
                        .dynamic
                        .as_ref()
                        .map(|d| self.now.ms.saturating_sub(d.since) / 1000),
                    rx_packets: sum(&|c| c.rx_packets.get()),
                    rx_bytes: sum(&|c| c.rx_bytes.get()),
                    tx_packets: sum(&|c| c.tx_packets.get()),
                    tx_bytes: sum(&|c| c.tx_bytes.get()),
                }
            })
            .collect()
    }

    pub fn mesh_views(&self) -> Vec<MeshView> {
        self.mesh
            .iter()
            .map(|m| {
                let mut switches: Vec<String> = m
                    .pws
                    .iter()
                    .filter(|(_, pw)| pw.up)
                    .map(|(s, _)| self.switch_name(*s))
                    .collect();
                switches.sort();
                let (mut rx, mut rxb, mut tx, mut txb) = (0, 0, 0, 0);
                for s in self.sessions.iter().flatten() {
                    let on = s.mesh && s.dynamic.as_ref().map(|d| d.ccid) == m.ccid;
                    if !on {
                        continue;
                    }
                    for w in &self.workers {
                        let c = &w.counters.sessions[s.member.0 as usize];
                        rx += c.rx_packets.get();
                        rxb += c.rx_bytes.get();
                        tx += c.tx_packets.get();
                        txb += c.tx_bytes.get();
                    }
                }
                MeshView {
                    peer: m.ip.to_string(),
                    role: if self.mesh_initiator(m.ip) {
                        "initiator"
                    } else {
                        "responder"
                    }
                    .into(),
                    state: match (m.ccid, m.established) {
                        (_, true) => "established",
                        (Some(_), false) => "connecting",
                        (None, _) => "down",
                    }
                    .into(),
                    ccid: m.ccid.unwrap_or(0),
                    uptime_secs: m
                        .established
                        .then(|| self.now.ms.saturating_sub(m.since) / 1000),
                    switches,
                    pending: m.pws.values().filter(|pw| !pw.up).count(),
                    rx_packets: rx,
                    rx_bytes: rxb,
                    tx_packets: tx,
                    tx_bytes: txb,
                    connects: m.connects,
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
                    .map(|&t| self.now.ms.saturating_sub(t) / 1000),
                retransmissions: t.reliable().stats().retransmitted,
                peer_moves: t.stats().peer_moves,
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
                    name: s.cfg.name.clone(),
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
                    aging: s.cfg.aging,
                    mac_limit: s.cfg.mac_limit,
                    ethertypes: s
                        .cfg
                        .filter
                        .allowed()
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

    pub fn counters_view(&self, io: &Snapshot) -> CountersView {
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
        self.nd6_counters(&mut control);
        control.insert("mbufs_in_use".into(), io.mbufs_in_use);
        control.insert("mbufs_available".into(), io.mbufs_available);
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
        let sum = |f: fn(&crate::control::l2tp::tunnel::TunnelStats) -> u64| -> u64 {
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
            uptime_secs: self.now.ms / 1000,
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
                    command_queue: w.commands.len() as u64,
                    event_queue: w.events.len() as u64,
                    mac_entries: w.counters.mac_entries.get(),
                    fast_path: w.counters.fast_path.get(),
                })
                .collect(),
        }
    }

    /// `las capture --switch`: the switch named `name`.
    pub fn switch_id(&self, name: &str) -> Option<SwitchId> {
        let i = self
            .switches
            .iter()
            .position(|s| matches!(s, Some(s) if s.cfg.name == name))?;
        Some(SwitchId(i as u16))
    }

    /// `las capture --session`: the session named `name`.
    pub fn session_id(&self, name: &str) -> Option<MemberId> {
        let s = self.sessions.iter().flatten().find(|s| s.name == name)?;
        Some(s.member)
    }

    /// `las capture`: the names of session `m` and of its switch.
    pub fn session_label(&self, m: MemberId) -> (String, String) {
        let sw = self
            .sessions
            .get(m.0 as usize)
            .and_then(Option::as_ref)
            .map(|s| self.switch_name(s.switch));
        (self.member_name(m), sw.unwrap_or_default())
    }

    /// Everything `las` prints when it stops.
    pub fn final_report(&self, io: &Snapshot) -> String {
        let mut s = String::new();
        for r in [
            Request::Ports,
            Request::Tunnels,
            Request::Sessions,
            Request::Switches,
            Request::Counters,
        ] {
            s.push_str(&self.answer(&r, io).render());
            s.push('\n');
        }
        s
    }
}
