//! The mesh: las nodes that serve the same virtual switches (`[mesh]`).
//!
//! # How it works
//!
//! * **One control connection per pair of nodes**, RFC 3931 as with any
//!   edge. The node with the lower address (its port address toward the
//!   peer) opens it and reopens it every `mesh.retry_interval` seconds
//!   while it is down; the other only answers. Secrets and auth modes are
//!   those of the peer's address (`[[l2tp.peer]]`, else `[l2tp]`).
//! * **One mesh pseudowire per shared switch.** On a mesh connection
//!   either node opens a session (ICRQ, PW type 5, Remote End ID = the
//!   switch's VC ID: its first `vc_ids` entry, the VC ID that created an
//!   auto switch, else its name) for every switch it *offers*: a
//!   configured switch always, an auto-created one while it has an edge
//!   member. The other node puts the session into the switch with that VC
//!   ID (or that name), creating it like an edge's VC ID would (the mesh
//!   peer's auto switches do not count against its per-peer quota). A
//!   customer on las A and one on las B with the same VC ID so share one
//!   LAN, whichever node saw the VC ID first.
//! * **Both nodes may open the same one** (they both offer the switch):
//!   the session opened by the lower-address node is kept and the other
//!   closed, once up, with a CDN (result 13, "lost the tie breaker";
//!   `mesh_duplicates_closed`). Both nodes decide
//!   alike, so they keep the same one.
//! * **Split horizon** (RFC 4762 §4.4, full-mesh VPLS): mesh members are
//!   one split-horizon group. A frame from a mesh member is never sent to
//!   another mesh member (unicast: dropped as `split_horizon`; flooding:
//!   skipped), so a full mesh of N nodes forwards every frame at most one
//!   hop inside the mesh and has no loop without a spanning tree. It does
//!   need a *full* mesh: a node reaches only its direct mesh peers.
//! * **MACs follow a site.** When an edge pseudowire of switch S goes
//!   down, its MACs are flushed here (as always) and every mesh peer
//!   gets a Set-Link-Info (RFC 3931 §6.13, Circuit Status active) on the
//!   mesh pseudowire of S: las reads an SLI on a mesh pseudowire as
//!   "flush what you learned through me in this switch"
//!   (`mesh_flushes_sent` / `_received`). The site's MACs are then
//!   flooded for until the node that now has the site is learned, instead
//!   of black-holed toward the old node until they age out. A mesh peer
//!   that dies stops answering HELLOs: its connection goes down and its
//!   mesh members' MACs go with them.
//! * An auto-created switch whose only members are mesh pseudowires is
//!   freed after `l2tp.auto_switch_grace` like one without members (its
//!   mesh pseudowires are closed): a switch stays where it has sites.
//!
//! Loops between an edge dual-homed to two nodes are the edge's to
//! avoid: it is active toward one las at a time (las-edge
//! `--backup-peer`, Cisco `backup peer`).

use super::*;
use crate::wire::l2tp::message::{cdn_result, pw_type};

/// A mesh pseudowire of one switch with one peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct MeshPw {
    /// Our Local Session ID.
    pub sid: u32,
    /// We sent the ICRQ.
    pub ours: bool,
    /// Reported up (a member of the switch).
    pub up: bool,
}

/// A configured mesh peer.
pub(super) struct MeshPeer {
    pub ip: Ipv4Addr,
    /// Our control connection with it, once opened (by either side).
    pub ccid: Option<u32>,
    pub established: bool,
    /// When the connection came up (ms).
    pub since: u64,
    /// No earlier attempt to connect (ms).
    pub next_try: u64,
    pub pws: HashMap<SwitchId, MeshPw>,
    /// Sessions we opened on the connection (ICRQ sent), until down.
    pub opened: std::collections::HashSet<u32>,
    pub connects: u64,
}

impl MeshPeer {
    pub(super) fn new(ip: Ipv4Addr) -> MeshPeer {
        MeshPeer {
            ip,
            ccid: None,
            established: false,
            since: 0,
            next_try: 0,
            pws: HashMap::new(),
            opened: Default::default(),
            connects: 0,
        }
    }
}

impl Engine {
    /// The mesh peers of `cfg`, none connected.
    pub(super) fn mesh_peers(cfg: &Config) -> Vec<MeshPeer> {
        cfg.mesh.peers.iter().map(|&ip| MeshPeer::new(ip)).collect()
    }

    /// The mesh peer at `ip` (mesh peers are IPv4: `config::mesh`).
    pub(super) fn mesh_index(&self, ip: IpAddr) -> Option<usize> {
        self.mesh.iter().position(|m| IpAddr::V4(m.ip) == ip)
    }

    /// The mesh peer whose control connection is `ccid`.
    pub(super) fn mesh_of_ccid(&self, ccid: u32) -> Option<usize> {
        self.mesh.iter().position(|m| m.ccid == Some(ccid))
    }

    /// The control-channel address of a mesh peer.
    fn mesh_addr(&self, ip: Ipv4Addr) -> Peer {
        Peer {
            ip: IpAddr::V4(ip),
            udp_port: match self.cfg.mesh.encap {
                config::Encap::Ip => 0,
                config::Encap::Udp => self.cfg.l2tp.udp_port,
            },
        }
    }

    /// The port toward `ip`: the one whose prefix holds it, else the
    /// first with a gateway.
    fn port_toward(&self, ip: Ipv4Addr) -> Option<usize> {
        self.ports
            .iter()
            .position(|p| p.address.is_some_and(|a| in_prefix(a, p.prefix_len, ip)))
            .or_else(|| self.ports.iter().position(|p| p.gateway.is_some()))
    }

    /// We open the control connection to `ip`: our address toward it is
    /// the lower.
    pub(super) fn mesh_initiator(&self, ip: Ipv4Addr) -> bool {
        self.port_toward(ip)
            .and_then(|p| self.ports[p].address)
            .is_some_and(|a| u32::from(a) < u32::from(ip))
    }

    /// Every 100 ms: (re)open the control connections we own once their
    /// next hop is resolved.
    pub(super) fn mesh_tick(&mut self) {
        let now = self.now_ms();
        for i in 0..self.mesh.len() {
            let ip = self.mesh[i].ip;
            if self.mesh[i].ccid.is_some() || now < self.mesh[i].next_try {
                continue;
            }
            if !self.mesh_initiator(ip) {
                continue;
            }
            let Some(p) = self.port_toward(ip) else {
                continue;
            };
            let nh = self.ports[p].next_hop(ip);
            let Some(mac) = self.neighbours.get(p, nh) else {
                // Resolve first; the next tick tries again.
                self.neighbours.want(p, nh, now);
                self.mesh[i].next_try = now + 500;
                continue;
            };
            self.note_peer_seen(IpAddr::V4(ip), p, mac);
            let peer = self.mesh_addr(ip);
            let (ccid, acts) = self.l2tp.connect(now, peer);
            let retry = u64::from(self.cfg.mesh.retry_interval) * 1000;
            let m = &mut self.mesh[i];
            m.ccid = Some(ccid);
            m.connects += 1;
            m.next_try = now + retry;
            self.counters.mesh_connects += 1;
            log::info!("mesh: connecting to {ip} (control connection {ccid})");
            self.l2tp_actions(acts);
        }
    }

    /// A control connection came up: if it is with a mesh peer, offer it
    /// our switches.
    pub(super) fn mesh_tunnel_up(&mut self, peer: Peer, ccid: u32) {
        let Some(i) = self.mesh_index(peer.ip) else {
            return;
        };
        let now = self.now_ms();
        if let Some(old) = self.mesh[i].ccid.filter(|&c| c != ccid) {
            // The peer restarted and reconnected: its old connection is
            // dead, and its sessions with it.
            if self.mesh[i].established || !self.mesh_initiator(self.mesh[i].ip) {
                log::info!(
                    "mesh: {} reconnected: control connection {old} replaced by {ccid}",
                    peer.ip
                );
                let acts = self
                    .l2tp
                    .stop_tunnel(now, old, stopccn_result::GENERAL_ERROR, None);
                self.l2tp_actions(acts);
            }
        }
        let m = &mut self.mesh[i];
        m.ccid = Some(ccid);
        m.established = true;
        m.since = now;
        m.pws.clear();
        m.opened.clear();
        self.counters.mesh_tunnels_up += 1;
        log::info!("mesh: {} up (control connection {ccid})", peer.ip);
        let offered: Vec<SwitchId> = (0..self.switches.len())
            .map(|s| SwitchId(s as u16))
            .filter(|&s| self.mesh_offers(s))
            .collect();
        for s in offered {
            self.mesh_open(i, s);
        }
    }

    /// A control connection went down: if it was a mesh peer's, its
    /// pseudowires are gone (reported down before this) and, if we own
    /// the connection, it is reopened after `mesh.retry_interval`.
    pub(super) fn mesh_tunnel_down(&mut self, ccid: u32) {
        let Some(i) = self.mesh_of_ccid(ccid) else {
            return;
        };
        let now = self.now_ms();
        let retry = u64::from(self.cfg.mesh.retry_interval) * 1000;
        let m = &mut self.mesh[i];
        if m.established {
            self.counters.mesh_tunnels_down += 1;
        }
        log::info!("mesh: {} down (control connection {ccid})", m.ip);
        m.ccid = None;
        m.established = false;
        m.pws.clear();
        m.opened.clear();
        m.next_try = m.next_try.max(now + retry.min(1000));
    }

    /// Whether this node offers switch `s` to its mesh peers: configured,
    /// or auto-created and with an edge member.
    pub(super) fn mesh_offers(&self, s: SwitchId) -> bool {
        match self.switches.get(s.0 as usize).and_then(Option::as_ref) {
            None => false,
            Some(sw) if !sw.auto => true,
            Some(_) => self.edge_members(s) > 0,
        }
    }

    /// Members of `s` that are not mesh pseudowires.
    pub(super) fn edge_members(&self, s: SwitchId) -> usize {
        self.switches
            .get(s.0 as usize)
            .and_then(Option::as_ref)
            .map_or(0, |sw| sw.edges)
    }

    /// The Remote End ID that names switch `s` to a mesh peer.
    fn mesh_vc(&self, s: SwitchId) -> Option<String> {
        let sw = self.switches.get(s.0 as usize)?.as_ref()?;
        if let Some(v) = sw.cfg.vc_ids.first() {
            return Some(v.clone());
        }
        if let Some((v, _)) = self.by_vc.iter().find(|(_, &id)| id == s) {
            return Some(v.clone());
        }
        Some(sw.cfg.name.clone())
    }

    /// Offers switch `s` to every mesh peer that is up and has no mesh
    /// pseudowire of it yet (a switch was created, or got its first
    /// edge).
    pub(super) fn mesh_offer(&mut self, s: SwitchId) {
        if !self.mesh_offers(s) {
            return;
        }
        for i in 0..self.mesh.len() {
            if self.mesh[i].established && !self.mesh[i].pws.contains_key(&s) {
                self.mesh_open(i, s);
            }
        }
    }

    fn mesh_open(&mut self, i: usize, s: SwitchId) {
        let (Some(ccid), Some(vc)) = (self.mesh[i].ccid, self.mesh_vc(s)) else {
            return;
        };
        let now = self.now_ms();
        let Some((sid, acts)) = self
            .l2tp
            .open_session(now, ccid, vc.as_bytes(), pw_type::ETHERNET)
        else {
            return;
        };
        self.mesh[i].pws.insert(
            s,
            MeshPw {
                sid,
                ours: true,
                up: false,
            },
        );
        self.mesh[i].opened.insert(sid);
        self.l2tp_actions(acts);
    }

    /// A session on mesh connection `ccid` with peer `i` is up in switch
    /// `s`: whether it becomes a member.
    ///
    /// Both nodes may have opened one for `s`. The one the lower-address
    /// node opened is kept; the other is closed once it is up (a CDN for
    /// a session still being set up may not name the peer's session id
    /// yet, and the lower node closes it anyway when it comes up on its
    /// side), so a losing session of ours that is still pending is only
    /// forgotten here.
    pub(super) fn mesh_session_up(&mut self, i: usize, ccid: u32, sid: u32, s: SwitchId) -> bool {
        let lower = self.mesh_initiator(self.mesh[i].ip);
        let now = self.now_ms();
        let new_ours = self.mesh[i].opened.contains(&sid);
        let existing = self.mesh[i].pws.get(&s).copied().filter(|pw| pw.sid != sid);
        let keep_new = match existing {
            None => true,
            // The same side opened a second one (it reopened it): the
            // newer.
            Some(pw) if pw.ours == new_ours => true,
            // Ours against theirs: the lower node's.
            Some(_) => new_ours == lower,
        };
        // The loser to close now: one that is up.
        let close = match (keep_new, existing) {
            (true, Some(pw)) if pw.up => Some(pw.sid),
            (true, _) => None,
            (false, _) => Some(sid),
        };
        if keep_new {
            self.mesh[i].pws.insert(
                s,
                MeshPw {
                    sid,
                    ours: new_ours,
                    up: true,
                },
            );
            self.counters.mesh_pws_up += 1;
        }
        if existing.is_some() {
            self.counters.mesh_duplicates_closed += 1;
        }
        if let Some(l) = close {
            log::info!(
                "mesh: {}: two pseudowires for switch {}: closing session {l}",
                self.mesh[i].ip,
                self.switch_name(s)
            );
            let acts = self.l2tp.close_session(
                now,
                ccid,
                l,
                cdn_result::LOST_TIE_BREAKER,
                None,
                "duplicate mesh pseudowire: the lower-address node's is kept",
            );
            self.l2tp_actions(acts);
        }
        keep_new
    }

    /// A mesh session went down (or was refused before coming up).
    /// Losing duplicates come through here too: only the recorded one
    /// counts as a pseudowire down.
    pub(super) fn mesh_session_down(&mut self, ccid: u32, sid: u32) {
        if let Some(i) = self.mesh_of_ccid(ccid) {
            self.mesh[i].opened.remove(&sid);
            let before = self.mesh[i].pws.len();
            self.mesh[i].pws.retain(|_, pw| pw.sid != sid);
            if self.mesh[i].pws.len() != before {
                self.counters.mesh_pws_down += 1;
            }
        }
    }

    /// An edge of switch `s` went away: every mesh peer flushes what it
    /// learned through us in `s`.
    pub(super) fn mesh_flush_peers(&mut self, s: SwitchId) {
        let now = self.now_ms();
        for i in 0..self.mesh.len() {
            let (Some(ccid), Some(pw)) = (self.mesh[i].ccid, self.mesh[i].pws.get(&s).copied())
            else {
                continue;
            };
            if !pw.up {
                continue;
            }
            self.counters.mesh_flushes_sent += 1;
            let acts = self.l2tp.link_info(now, ccid, pw.sid, true);
            self.l2tp_actions(acts);
        }
    }

    /// A Set-Link-Info on session `sid` of connection `ccid`: on a mesh
    /// pseudowire, forget the MACs learned through it.
    pub(super) fn mesh_link_info(&mut self, ccid: u32, sid: u32) -> bool {
        let Some(&member) = self.by_sid.get(&(ccid, sid)) else {
            return false;
        };
        if !self
            .sessions
            .get(member.0 as usize)
            .and_then(Option::as_ref)
            .is_some_and(|s| s.mesh)
        {
            return false;
        }
        self.counters.mesh_flushes_received += 1;
        self.flush_member_macs(member);
        true
    }

    /// Forgets every MAC learned on `member` (control core and workers).
    /// The workers' own entries go by generation (`FlushMember`), also
    /// those the control core never heard of (a lost event).
    pub(super) fn flush_member_macs(&mut self, member: MemberId) {
        self.forget_macs_of(member);
        self.broadcast(|| Command::FlushMember(member));
    }

    /// Once a second: forgets the pseudowires we opened that never came
    /// up and that the control connection no longer has (the peer
    /// refused them with a CDN); the switch is offered again at the
    /// connection's next start or the switch's next edge.
    pub(super) fn mesh_prune(&mut self) {
        for m in &mut self.mesh {
            let Some(ccid) = m.ccid else { continue };
            let t = self.l2tp.tunnel(ccid);
            let live = |sid: u32| t.is_some_and(|t| t.session(sid).is_some());
            m.pws.retain(|_, pw| pw.up || live(pw.sid));
            m.opened.retain(|&sid| live(sid));
        }
    }

    /// Closes our mesh pseudowires of switch `s` (it is being freed).
    pub(super) fn mesh_close_switch(&mut self, s: SwitchId) {
        let now = self.now_ms();
        for i in 0..self.mesh.len() {
            let (Some(ccid), Some(pw)) = (self.mesh[i].ccid, self.mesh[i].pws.remove(&s)) else {
                continue;
            };
            let acts = self.l2tp.close_session(
                now,
                ccid,
                pw.sid,
                cdn_result::ADMINISTRATIVE,
                None,
                "switch freed: no site on this las",
            );
            self.l2tp_actions(acts);
        }
    }
}
