//! The [`Endpoint`]: every control connection of this box, demultiplexed
//! by Control Connection ID and peer address; it creates responder
//! tunnels on SCCRQ, tells a restarted peer's new SCCRQ from a
//! retransmission, and enforces the limits.

use std::collections::HashMap;
use std::collections::HashSet;
use std::hash::Hash;

use super::*;
use crate::wire::l2tp::message::Message;
use crate::wire::l2tp::message::MessageType;

/// The longest control message taken in. Real ones are a few hundred
/// bytes (IOS's SCCRQ: 217); the cap bounds the work an attacker can ask
/// for per datagram (a copy and an HMAC of the message per digest).
pub const MAX_MESSAGE_LEN: usize = 4096;

/// Limits and defaults of an [`Endpoint`].
#[derive(Clone)]
pub struct EndpointConfig {
    pub tunnel: TunnelConfig,
    /// Control connections per peer address.
    pub max_tunnels_per_peer: usize,
    /// Control connections in all.
    pub max_tunnels: usize,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig {
            tunnel: TunnelConfig::default(),
            max_tunnels_per_peer: 4,
            max_tunnels: 4096,
        }
    }
}

/// Endpoint counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndpointStats {
    /// Datagrams that did not parse as a control message.
    pub malformed: u64,
    /// Messages for an unknown Control Connection ID (or ccid 0 and not
    /// SCCRQ).
    pub unknown_ccid: u64,
    /// Messages whose source address is not the tunnel's peer.
    pub wrong_peer: u64,
    /// SCCRQs refused by a limit.
    pub limit_refused: u64,
    /// SCCRQs ignored because we won a tie (§5.4.3).
    pub tie_won: u64,
    /// SCCRQs dropped for a bad or missing Message Digest (no tunnel is
    /// kept for them).
    pub sccrq_auth_failures: u64,
    /// SCCRQs with hidden AVPs that could not be decoded (no secret).
    pub hidden_undecodable: u64,
    /// Tunnels that followed their peer to a new address (NAT).
    pub peer_moves: u64,
}

/// All control connections of this box, keyed by our Control Connection
/// ID. `A` is the peer address type (an `IpAddr`, or anything in tests).
///
/// Local Session IDs are unique across the endpoint (the data plane looks
/// sessions up by the ID we assigned alone).
pub struct Endpoint<A> {
    cfg: EndpointConfig,
    rng: Box<dyn Random>,
    tunnels: HashMap<u32, (A, Tunnel)>,
    session_ids: HashSet<u32>,
    stats: EndpointStats,
    /// Adjusts the tunnel configuration per peer (e.g. the secret of the
    /// peer's prefix) for tunnels the peer opens.
    per_peer: Option<PerPeer<A>>,
    /// Which address changes a tunnel may follow (see `set_mover`).
    mover: Option<Mover<A>>,
}

/// See [`Endpoint::set_per_peer`].
pub type PerPeer<A> = Box<dyn Fn(&A, &TunnelConfig) -> TunnelConfig>;

/// See [`Endpoint::set_mover`].
pub type Mover<A> = Box<dyn Fn(&A, &A) -> bool>;

impl<A: Copy + Eq + Hash> Endpoint<A> {
    pub fn new(cfg: EndpointConfig, rng: Box<dyn Random>) -> Self {
        Endpoint {
            cfg,
            rng,
            tunnels: HashMap::new(),
            session_ids: HashSet::new(),
            stats: EndpointStats::default(),
            per_peer: None,
            mover: None,
        }
    }

    /// Marks a Session ID as taken (by a statically configured session),
    /// so no dynamic session is ever assigned it.
    pub fn reserve_session_id(&mut self, id: u32) {
        self.session_ids.insert(id);
    }

    /// True when `id` is taken: reserved, or a session's.
    pub fn session_id_taken(&self, id: u32) -> bool {
        self.session_ids.contains(&id)
    }

    /// Gives back a Session ID reserved by a static session that is gone.
    pub fn release_session_id(&mut self, id: u32) {
        self.session_ids.remove(&id);
    }

    /// New settings (a reload): control connections opened from now on
    /// get them; established ones keep theirs.
    pub fn set_config(&mut self, cfg: EndpointConfig) {
        self.cfg = cfg;
    }

    /// Sets a function that derives the configuration of a tunnel opened
    /// by `peer` from the endpoint's default (per-peer secrets).
    pub fn set_per_peer(&mut self, f: PerPeer<A>) {
        self.per_peer = Some(f);
    }

    /// Lets a tunnel follow its peer from address `from` to `to` when
    /// `f(from, to)` allows it (las: same IP, both UDP, another port — a
    /// NAT that remapped the peer) and the message from `to` proves it
    /// comes from the peer ([`Tunnel::may_move`]). Without a mover every
    /// message from another address is refused as `WrongPeer`.
    ///
    /// Why this is safe enough: only a control message moves a tunnel,
    /// never data; it must carry the tunnel's Control Connection ID and a
    /// sequence number the peer has not used yet (or acknowledge one of
    /// ours in flight) — what an off-path attacker cannot know — and with
    /// authentication on, a valid Message Digest, which nobody without
    /// the secret can make. An attacker on the path can already drop or
    /// rewrite the peer's traffic; moving it gains them nothing more.
    pub fn set_mover(&mut self, f: Mover<A>) {
        self.mover = Some(f);
    }

    /// Sends a HELLO on tunnel `local_ccid` to `to` (the tunnel's address
    /// is unchanged): a peer that moved there answers, and its answer
    /// moves the tunnel. Its retransmissions go to the tunnel's address.
    pub fn probe(&mut self, now: u64, local_ccid: u32, to: A) -> Vec<(A, Action)> {
        match self.tunnels.get_mut(&local_ccid) {
            Some((_, t)) => Self::tag(to, t.hello_now(now)),
            None => Vec::new(),
        }
    }

    /// All tunnels with their peers.
    pub fn tunnels(&self) -> impl Iterator<Item = (&A, &Tunnel)> {
        self.tunnels.values().map(|(a, t)| (a, t))
    }

    pub fn stats(&self) -> &EndpointStats {
        &self.stats
    }

    pub fn tunnel(&self, local_ccid: u32) -> Option<&Tunnel> {
        self.tunnels.get(&local_ccid).map(|(_, t)| t)
    }

    pub fn tunnel_count(&self) -> usize {
        self.tunnels.len()
    }

    fn new_ccid(&mut self) -> u32 {
        loop {
            let c = self.rng.next_u32();
            if c != 0 && !self.tunnels.contains_key(&c) {
                return c;
            }
        }
    }

    /// A message from `peer` dropped and reported.
    fn refuse(
        peer: A,
        local_ccid: u32,
        msg: Option<MessageType>,
        reason: RefuseReason,
        detail: impl Into<String>,
    ) -> Vec<(A, Action)> {
        vec![(
            peer,
            Action::Refused(Refusal::dropped(local_ccid, msg, reason, detail)),
        )]
    }

    fn tag(peer: A, acts: Vec<Action>) -> Vec<(A, Action)> {
        acts.into_iter().map(|a| (peer, a)).collect()
    }

    /// A control datagram from `peer` (over UDP: the UDP payload; over IP:
    /// after the 4 zero bytes). Returns what to do, each with the peer it
    /// concerns. Whether `peer` is allowed at all is the caller's check.
    /// Every session the peer asks for is accepted (las-edge and tests);
    /// see [`Endpoint::handle_with`].
    pub fn handle(&mut self, now: u64, peer: A, raw: &[u8]) -> Vec<(A, Action)> {
        self.handle_with(now, peer, raw, &mut |_, _| Ok(()))
    }

    /// [`Endpoint::handle`] with an admission check: `admit` decides, for
    /// each ICRQ that passed the protocol checks, whether las takes the
    /// session (ICRP) or refuses it (CDN with the [`Denied`] text), before
    /// the peer is told anything.
    ///
    /// # A new SCCRQ
    ///
    /// An SCCRQ (Control Connection ID 0) starts a new control connection
    /// (RFC 3931 §3.3) unless it is a retransmission of the SCCRQ of a
    /// tunnel still being set up (same peer, same Assigned Control
    /// Connection ID, SCCRP sent and no SCCCN yet): that one gets the
    /// duplicate, which reliable delivery acknowledges. A router that
    /// restarts and reuses its Control Connection ID therefore gets a new
    /// tunnel, never the old one's ZLB with a stale `Nr` (which it would
    /// take as an acknowledgement and wait forever). The stale tunnel from
    /// the same peer with the same ID is dropped silently (a StopCCN to
    /// that ID would now close the new one on the peer) once the new one
    /// is established, its sessions reported down; it counts as
    /// [`RefuseReason::Replaced`].
    pub fn handle_with(
        &mut self,
        now: u64,
        peer: A,
        raw: &[u8],
        admit: &mut dyn FnMut(&A, &SessionRequest) -> Result<(), Denied>,
    ) -> Vec<(A, Action)> {
        if raw.len() > MAX_MESSAGE_LEN {
            return Self::refuse(
                peer,
                0,
                None,
                RefuseReason::Oversize,
                format!(
                    "{} bytes, more than any control message ({MAX_MESSAGE_LEN})",
                    raw.len()
                ),
            );
        }
        let Ok(msg) = Message::parse(raw) else {
            self.stats.malformed += 1;
            return Self::refuse(
                peer,
                0,
                None,
                RefuseReason::Malformed,
                format!("not an L2TPv3 control message ({} bytes)", raw.len()),
            );
        };
        let mut admit_peer = |r: &SessionRequest| admit(&peer, r);
        if msg.ccid != 0 {
            let Some((addr, t)) = self.tunnels.get_mut(&msg.ccid) else {
                self.stats.unknown_ccid += 1;
                return Self::refuse(
                    peer,
                    0,
                    msg.msg_type,
                    RefuseReason::UnknownCcid,
                    format!("no control connection {}", msg.ccid),
                );
            };
            let moves = *addr != peer
                && self.mover.as_ref().is_some_and(|f| f(addr, &peer))
                && t.may_move(&msg, raw);
            if moves {
                *addr = peer;
                t.note_moved();
                self.stats.peer_moves += 1;
            }
            if *addr != peer {
                self.stats.wrong_peer += 1;
                return Self::refuse(
                    peer,
                    msg.ccid,
                    msg.msg_type,
                    RefuseReason::WrongPeer,
                    format!("control connection {} belongs to another peer", msg.ccid),
                );
            }
            let acts = t.handle(
                now,
                &msg,
                raw,
                &mut *self.rng,
                &mut self.session_ids,
                &mut admit_peer,
            );
            let mut out = Self::tag(peer, acts);
            if moves {
                out.insert(
                    0,
                    (
                        peer,
                        Action::PeerMoved {
                            local_ccid: msg.ccid,
                        },
                    ),
                );
            }
            self.replace_stale(peer, &mut out);
            self.reap(now);
            return out;
        }
        if msg.msg_type != Some(MessageType::Sccrq) {
            self.stats.unknown_ccid += 1;
            return Self::refuse(
                peer,
                0,
                msg.msg_type,
                RefuseReason::UnknownCcid,
                "Control Connection ID 0 on a message other than SCCRQ",
            );
        }
        // A retransmitted SCCRQ goes to the tunnel it created, as long as
        // that one is still being set up.
        let their = msg.assigned_ccid();
        let existing = self.tunnels.iter().find_map(|(c, (a, t))| {
            (*a == peer
                && t.is_responder()
                && their.is_some()
                && t.remote_ccid() == their
                && matches!(t.state(), TunnelState::Idle | TunnelState::WaitCtlConn))
            .then_some(*c)
        });
        let mut out = Vec::new();
        if existing.is_none() {
            // Tie breaker (§5.4.3): an SCCRQ of ours to this peer is still
            // unanswered and both carry a tie breaker: the lower wins.
            if let Some(theirs) = msg.tie_breaker() {
                let ours = self.tunnels.iter().find_map(|(c, (a, t))| {
                    (*a == peer && t.state() == TunnelState::WaitCtlReply)
                        .then(|| t.tie_breaker().map(|tb| (*c, tb)))
                        .flatten()
                });
                if let Some((c, tb)) = ours {
                    if tb <= theirs {
                        // We win (or a tie: both sides drop the new one).
                        self.stats.tie_won += 1;
                        return Vec::new();
                    }
                    if let Some((_, mut t)) = self.tunnels.remove(&c) {
                        out.extend(Self::tag(
                            peer,
                            t.abandon(DownReason::LostTieBreaker, &mut self.session_ids),
                        ));
                    }
                }
            }
            // Stale tunnels of this peer (closing, or replaced by a
            // restart) do not count against the per-peer limit.
            let per_peer = self
                .tunnels
                .values()
                .filter(|(a, t)| {
                    *a == peer && t.state() != TunnelState::Closing && {
                        their.is_none() || t.remote_ccid() != their
                    }
                })
                .count();
            if per_peer >= self.cfg.max_tunnels_per_peer
                || self.tunnels.len() >= self.cfg.max_tunnels
            {
                self.stats.limit_refused += 1;
                let why = if per_peer >= self.cfg.max_tunnels_per_peer {
                    format!(
                        "{per_peer} control connections from this peer (l2tp.max_tunnels_per_peer)"
                    )
                } else {
                    format!("{} control connections in all", self.tunnels.len())
                };
                out.push((
                    peer,
                    Action::Refused(Refusal::dropped(
                        0,
                        msg.msg_type,
                        RefuseReason::TunnelLimit,
                        why,
                    )),
                ));
                return out;
            }
        }
        let ccid = match existing {
            Some(c) => c,
            None => {
                let c = self.new_ccid();
                let tcfg = match &self.per_peer {
                    Some(f) => f(&peer, &self.cfg.tunnel),
                    None => self.cfg.tunnel.clone(),
                };
                let t = Tunnel::responder(tcfg, c, now, &mut *self.rng);
                self.tunnels.insert(c, (peer, t));
                c
            }
        };
        if let Some((_, t)) = self.tunnels.get_mut(&ccid) {
            let acts = t.handle(
                now,
                &msg,
                raw,
                &mut *self.rng,
                &mut self.session_ids,
                &mut admit_peer,
            );
            // A new tunnel whose SCCRQ failed authentication never left
            // Idle: forget it rather than hold a slot (and count toward
            // the limits) until the setup timeout.
            if existing.is_none() && t.state() == TunnelState::Idle {
                self.stats.sccrq_auth_failures += t.stats().auth_failures;
                self.stats.hidden_undecodable += t.stats().hidden_undecodable;
                self.tunnels.remove(&ccid);
            }
            out.extend(Self::tag(peer, acts));
        }
        self.replace_stale(peer, &mut out);
        self.reap(now);
        out
    }

    /// After a tunnel of `peer` came up (a `TunnelUp` in `out`): drops,
    /// silently, the other tunnels of that peer with the same peer
    /// Control Connection ID (a restarted router's old connection).
    fn replace_stale(&mut self, peer: A, out: &mut Vec<(A, Action)>) {
        let ups: Vec<(u32, u32)> = out
            .iter()
            .filter_map(|(_, a)| match a {
                Action::TunnelUp(u) => Some((u.local_ccid, u.remote_ccid)),
                _ => None,
            })
            .collect();
        for (new, remote) in ups {
            let stale: Vec<u32> = self
                .tunnels
                .iter()
                .filter(|(c, (a, t))| **c != new && *a == peer && t.remote_ccid() == Some(remote))
                .map(|(c, _)| *c)
                .collect();
            for c in stale {
                if let Some((_, mut t)) = self.tunnels.remove(&c) {
                    out.extend(Self::tag(
                        peer,
                        t.abandon(DownReason::Replaced, &mut self.session_ids),
                    ));
                    out.push((
                        peer,
                        Action::Refused(Refusal::dropped(
                            c,
                            Some(MessageType::Sccrq),
                            RefuseReason::Replaced,
                            format!(
                                "peer reopened its control connection {remote}: \
                                 connection {c} replaced by {new}"
                            ),
                        )),
                    ));
                }
            }
        }
    }

    /// Opens a control connection to `peer` (sends SCCRQ), configured
    /// for it like a tunnel it opens (`set_per_peer`): las-edge toward
    /// las, las toward its mesh peers.
    /// Returns our Control Connection ID.
    pub fn connect(&mut self, now: u64, peer: A) -> (u32, Vec<(A, Action)>) {
        let c = self.new_ccid();
        let tcfg = match &self.per_peer {
            Some(f) => f(&peer, &self.cfg.tunnel),
            None => self.cfg.tunnel.clone(),
        };
        let (t, acts) = Tunnel::initiator(tcfg, c, now, &mut *self.rng);
        self.tunnels.insert(c, (peer, t));
        (c, Self::tag(peer, acts))
    }

    /// Opens a session (sends ICRQ) on an established tunnel (las-edge;
    /// las on a mesh tunnel, whichever side opened it).
    pub fn open_session(
        &mut self,
        now: u64,
        local_ccid: u32,
        remote_end_id: &[u8],
        pw_type: u16,
    ) -> Option<(u32, Vec<(A, Action)>)> {
        let (peer, t) = self.tunnels.get_mut(&local_ccid)?;
        let peer = *peer;
        let (id, acts) = t.open_session(
            now,
            remote_end_id,
            pw_type,
            &mut *self.rng,
            &mut self.session_ids,
        )?;
        Some((id, Self::tag(peer, acts)))
    }

    /// Closes one session with a CDN (result, error, and `text` as its
    /// Error Message when not empty).
    pub fn close_session(
        &mut self,
        now: u64,
        local_ccid: u32,
        local_session_id: u32,
        result: u16,
        error: Option<u16>,
        text: &str,
    ) -> Vec<(A, Action)> {
        let Some((peer, t)) = self.tunnels.get_mut(&local_ccid) else {
            return Vec::new();
        };
        let peer = *peer;
        let acts = t.close_session(
            now,
            local_session_id,
            result,
            error,
            text,
            &mut self.session_ids,
        );
        Self::tag(peer, acts)
    }

    /// Sends a Set-Link-Info (RFC 3931 §6.13) with Circuit Status on an
    /// established session (las tells a mesh peer to flush, see
    /// `control::engine::mesh`).
    pub fn link_info(
        &mut self,
        now: u64,
        local_ccid: u32,
        local_session_id: u32,
        active: bool,
    ) -> Vec<(A, Action)> {
        let Some((peer, t)) = self.tunnels.get_mut(&local_ccid) else {
            return Vec::new();
        };
        let peer = *peer;
        let acts = t.link_info(now, local_session_id, active);
        Self::tag(peer, acts)
    }

    /// Sends StopCCN on one tunnel.
    pub fn stop_tunnel(
        &mut self,
        now: u64,
        local_ccid: u32,
        result: u16,
        error: Option<u16>,
    ) -> Vec<(A, Action)> {
        let Some((peer, t)) = self.tunnels.get_mut(&local_ccid) else {
            return Vec::new();
        };
        let peer = *peer;
        let acts = t.stop(now, result, error, &mut self.session_ids);
        Self::tag(peer, acts)
    }

    /// Timers of every tunnel; drops tunnels that are closed.
    pub fn poll(&mut self, now: u64) -> Vec<(A, Action)> {
        let mut out = Vec::new();
        for (peer, t) in self.tunnels.values_mut() {
            out.extend(Self::tag(*peer, t.poll(now, &mut self.session_ids)));
        }
        self.reap(now);
        out
    }

    /// Earliest time [`Endpoint::poll`] has work.
    pub fn next_timeout(&self) -> Option<u64> {
        self.tunnels
            .values()
            .filter_map(|(_, t)| t.next_timeout())
            .min()
    }

    /// Sends StopCCN on every tunnel (graceful shutdown).
    pub fn shutdown(&mut self, now: u64, result: u16) -> Vec<(A, Action)> {
        let mut out = Vec::new();
        for (peer, t) in self.tunnels.values_mut() {
            out.extend(Self::tag(
                *peer,
                t.stop(now, result, None, &mut self.session_ids),
            ));
        }
        out
    }

    fn reap(&mut self, _now: u64) {
        self.tunnels
            .retain(|_, (_, t)| t.state() != TunnelState::Closed);
    }
}
