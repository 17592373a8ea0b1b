//! IPv6 on the control core: neighbour discovery (RFC 4861) and ICMPv6
//! echo for the ports that have an `address6`, through the pure
//! `control::neighbour6` machine. Each such port answers for its global
//! address and for its link-local one (fe80::/64 + modified EUI-64 of
//! the port's MAC), sends unsolicited NAs for both at start, resolves
//! its `gateway6` and keeps the `[[neighbor]]` IPv6 entries static.
//!
//! The workers punt what IPv6 is for us (unicast to those addresses,
//! all-nodes and their solicited-node groups, ICMPv6 or behind a
//! Hop-by-Hop header: `worker::classify6`); the machine validates it in
//! full. Static pseudowires to IPv6 peers resolve their next hop (the
//! peer, or `gateway6` when it is off-link) here: a `Changed` neighbour
//! rebuilds the templates that use it (`program::refresh_templates`).
//! L2TPv3 control messages over IPv6 are taken before this
//! (`l2tp6::l2tp6_in`); what is left is neighbour discovery's.

use super::*;
use crate::control::neighbour6::Action as Nd6Action;
use crate::wire::ipv6;

impl Engine {
    /// Our IPv6 addresses on port `p`: global, link-local.
    pub(super) fn addrs6(&self, p: usize) -> Option<[std::net::Ipv6Addr; 2]> {
        let port = self.ports.get(p)?;
        let v6 = port.v6.as_ref()?;
        Some([v6.address, ipv6::link_local(port.mac)])
    }

    /// At start: our addresses (unsolicited NAs follow from the timers),
    /// the gateways to resolve, the static neighbours.
    pub(super) fn nd6_start(&mut self) {
        let now = self.now_ms();
        for p in 0..self.ports.len() {
            let Some(addrs) = self.addrs6(p) else {
                continue;
            };
            if !self.nd6.set_port(p, self.ports[p].mac, &addrs, now) {
                log::warn!(
                    "port {}: IPv6 addresses {} and {} refused by neighbour discovery",
                    self.ports[p].name,
                    addrs[0],
                    addrs[1]
                );
                continue;
            }
            if let Some(gw) = self.ports[p].v6.as_ref().and_then(|v| v.gateway) {
                self.nd6.want(p, gw, now);
            }
        }
        for n in self.cfg.neighbors6.clone() {
            self.nd6.add_static(n.port, n.address, n.mac);
        }
        self.nd6_poll();
    }

    /// A punted IPv6 frame from port `p`.
    pub(super) fn nd6_in(&mut self, p: usize, d: &[u8]) {
        let now = self.now_ms();
        let mut acts = Vec::new();
        // A refusal is counted by the machine, by reason.
        let _ = self.nd6.frame_in(p, d, now, &mut acts);
        self.nd6_actions(acts);
    }

    pub(super) fn nd6_poll(&mut self) {
        let now = self.now_ms();
        let mut acts = Vec::new();
        self.nd6.poll(now, &mut acts);
        self.nd6_actions(acts);
    }

    fn nd6_actions(&mut self, acts: Vec<Nd6Action>) {
        for a in acts {
            match a {
                Nd6Action::Send { port, frame } => self.out.push(Outgoing { port, frame }),
                // Pseudowires to IPv6 peers whose next hop this is get
                // their header rebuilt for the new MAC.
                Nd6Action::Changed { .. } => self.refresh_templates(),
                Nd6Action::Conflict { port, ip, mac } => log::warn!(
                    "port {}: {} at {} advertises our IPv6 address {ip}",
                    self.ports.get(port).map_or("?", |p| p.name.as_str()),
                    "another node",
                    MacAddr(mac)
                ),
            }
        }
    }

    /// The ND machine's counters, as `nd6_*` control counters.
    pub(super) fn nd6_counters(&self, m: &mut BTreeMap<String, u64>) {
        let c = &self.nd6.counters;
        for (k, v) in [
            // Spelled out: Prometheus reads "ns" and "us" as units.
            ("solicitations_rx", c.ns_rx),
            ("advertisements_rx", c.na_rx),
            ("echo_requests_rx", c.echo_requests_rx),
            ("echo_replies_rx", c.echo_replies_rx),
            ("advertisements_tx", c.na_tx),
            ("solicitations_tx", c.ns_tx),
            ("echo_replies_tx", c.echo_replies_tx),
            ("learned", c.learned),
            ("changed", c.changed),
            ("advertisements_ignored", c.na_ignored),
            ("evicted", c.evicted),
            ("cache_full", c.cache_full),
            ("resolve_failed", c.resolve_failed),
            ("probe_failed", c.probe_failed),
            ("conflicts", c.conflicts),
        ] {
            m.insert(format!("nd6_{k}"), v);
        }
        for (k, v) in c.drops() {
            m.insert(format!("nd6_dropped_{k}"), v);
        }
    }
}
