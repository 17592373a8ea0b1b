//! RFC 3931 (L2TPv3) control plane as pure state machines: no I/O, no
//! clock (time is passed in as `now`, milliseconds), no randomness of its
//! own (an injected [`Random`]).
//!
//! * [`reliable`]: reliable delivery of control messages (§4.2).
//! * [`tunnel`]: the control connection FSM (§3.3), HELLO (§4.4),
//!   StopCCN, authentication hooks; owns its sessions.
//! * [`session`]: the incoming-call session FSM (§3.4.1).
//! * [`Endpoint`] (here): demultiplexes by Control Connection ID and peer
//!   address, creates responder tunnels on SCCRQ, enforces limits.
//!
//! Everything returns [`Action`]s: datagrams to send and data-plane
//! events (session up/down, tunnel down).
//!
//! # Authentication
//!
//! The algorithms (HMAC message digest with nonces, RFC 3931 §4.3/§5.4.1;
//! CHAP-style challenge, RFC 2661 §4.2) live in the codec's `auth`
//! module; the FSM sees them through the small [`Authenticator`] adapter
//! so it can be tested with a toy implementation.

use std::collections::HashMap;
use std::collections::HashSet;
use std::hash::Hash;

use crate::wire::l2tp::auth;
use crate::wire::l2tp::auth::DigestAlg;
use crate::wire::l2tp::avp::ietf;
use crate::wire::l2tp::avp::AvpOwned;
use crate::wire::l2tp::message::Flavour;
use crate::wire::l2tp::message::Message;
use crate::wire::l2tp::message::MessageType;

pub mod reliable;
pub mod session;
pub mod tunnel;

pub use session::SessionUp;
pub use tunnel::Tunnel;
pub use tunnel::TunnelConfig;
pub use tunnel::TunnelState;

/// Source of random identifiers (Control Connection IDs, Session IDs,
/// cookies, nonces). Any `FnMut() -> u32` closure is one.
pub trait Random {
    fn next_u32(&mut self) -> u32;

    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(4) {
            let v = self.next_u32().to_be_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }

    fn next_u64(&mut self) -> u64 {
        (u64::from(self.next_u32()) << 32) | u64::from(self.next_u32())
    }
}

impl<F: FnMut() -> u32> Random for F {
    fn next_u32(&mut self) -> u32 {
        self()
    }
}

/// Adapter to the control-message security algorithms.
///
/// `our_nonce`/`peer_nonce` are the Control Message Authentication Nonces
/// exchanged in SCCRQ/SCCRP (empty until known; the SCCRQ is digested
/// before the responder's nonce exists, RFC 3931 §4.3).
pub trait Authenticator {
    /// The Message Digest AVP to place right after the Message Type AVP
    /// of every message we send, with a zeroed digest; [`seal`] fills it.
    ///
    /// [`seal`]: Authenticator::seal
    fn placeholder(&self, flavour: Flavour) -> AvpOwned;
    /// Fills the digest of an outgoing message (after `Ns`/`Nr` are
    /// final: called again on every retransmission).
    fn seal(&self, bytes: &mut [u8], our_nonce: &[u8], peer_nonce: &[u8]);
    /// Checks the digest of a received message, bytes as received.
    fn verify(&self, raw: &[u8], our_nonce: &[u8], peer_nonce: &[u8]) -> bool;
    /// CHAP-style response: MD5(message type id ‖ secret ‖ challenge).
    fn challenge_response(&self, msg_type: u16, challenge: &[u8]) -> [u8; 16];
}

/// The real [`Authenticator`]: the codec's `wire::l2tp::auth` with a
/// shared secret (HMAC-MD5 or HMAC-SHA-1 digests keyed by
/// `shared_key(secret)`, MD5 CHAP-style responses). An adapter only: the
/// FSM never touches the algorithms itself.
pub struct SecretAuth {
    alg: DigestAlg,
    secret: Vec<u8>,
    key: Vec<u8>,
}

impl SecretAuth {
    /// The shared key is HMAC-MD5(secret, 2) whatever the digest
    /// algorithm (RFC 3931 §4.3 as the project's spec states it, and what
    /// Wireshark's L2TPv3 digest check does); `alg` is the digest's hash.
    pub fn new(alg: DigestAlg, secret: &[u8]) -> Self {
        SecretAuth {
            alg,
            secret: secret.to_vec(),
            key: auth::shared_key(DigestAlg::Md5, secret),
        }
    }
}

/// Offset of the digest bytes of the Message Digest AVP placed right
/// after the Message Type AVP: header 12 + Message Type 8 + AVP header 6
/// + digest type 1.
const DIGEST_AT: usize = 12 + 8 + 6 + 1;

impl Authenticator for SecretAuth {
    fn placeholder(&self, _flavour: Flavour) -> AvpOwned {
        let mut v = vec![0u8; 1 + self.alg.digest_len()];
        v[0] = self.alg.digest_type();
        AvpOwned::new(ietf::VENDOR, ietf::MESSAGE_DIGEST, true, v)
    }

    fn seal(&self, bytes: &mut [u8], our_nonce: &[u8], peer_nonce: &[u8]) {
        let end = DIGEST_AT + self.alg.digest_len();
        if bytes.len() < end {
            return;
        }
        bytes[DIGEST_AT..end].fill(0);
        let d = auth::compute_digest(self.alg, &self.key, our_nonce, peer_nonce, bytes);
        bytes[DIGEST_AT..end].copy_from_slice(&d);
    }

    fn verify(&self, raw: &[u8], our_nonce: &[u8], peer_nonce: &[u8]) -> bool {
        auth::verify_digest(raw, &self.key, our_nonce, peer_nonce)
    }

    fn challenge_response(&self, msg_type: u16, challenge: &[u8]) -> [u8; 16] {
        auth::chap_response(msg_type as u8, &self.secret, challenge)
    }
}

/// Something for the caller to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Transmit this control message to the tunnel's peer.
    Send(Vec<u8>),
    /// The control connection is established.
    TunnelUp(TunnelUp),
    /// The control connection is gone (its sessions were reported down
    /// first).
    TunnelDown(TunnelDown),
    /// A pseudowire is established: program the data plane.
    SessionUp(SessionUp),
    /// A pseudowire that was up is gone: remove it from the data plane.
    SessionDown(SessionDown),
    /// The peer reported circuit status (SLI or ICRQ/ICCN).
    SessionStatus {
        local_ccid: u32,
        local_session_id: u32,
        active: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelUp {
    pub local_ccid: u32,
    pub remote_ccid: u32,
    pub peer_host_name: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelDown {
    pub local_ccid: u32,
    pub remote_ccid: u32,
    pub reason: DownReason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDown {
    pub local_ccid: u32,
    pub local_session_id: u32,
    pub remote_session_id: u32,
    pub reason: DownReason,
}

/// Why a tunnel or session went down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownReason {
    /// The peer sent StopCCN / CDN with this result and error.
    Peer { result: u16, error: Option<u16> },
    /// We sent StopCCN / CDN with this result and error.
    Local { result: u16, error: Option<u16> },
    /// Retransmissions gave up: the peer is dead.
    PeerDead,
    /// The owning tunnel went down.
    TunnelDown,
    /// Control connection setup did not complete in time.
    SetupTimeout,
    /// The CHAP-style challenge response was wrong (closed silently).
    AuthFailed,
    /// Simultaneous open toward the same peer, and we lost (§5.4.3).
    LostTieBreaker,
}

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
}

/// See [`Endpoint::set_per_peer`].
pub type PerPeer<A> = Box<dyn Fn(&A, &TunnelConfig) -> TunnelConfig>;

impl<A: Copy + Eq + Hash> Endpoint<A> {
    pub fn new(cfg: EndpointConfig, rng: Box<dyn Random>) -> Self {
        Endpoint {
            cfg,
            rng,
            tunnels: HashMap::new(),
            session_ids: HashSet::new(),
            stats: EndpointStats::default(),
            per_peer: None,
        }
    }

    /// Marks a Session ID as taken (by a statically configured session),
    /// so no dynamic session is ever assigned it.
    pub fn reserve_session_id(&mut self, id: u32) {
        self.session_ids.insert(id);
    }

    /// Sets a function that derives the configuration of a tunnel opened
    /// by `peer` from the endpoint's default (per-peer secrets).
    pub fn set_per_peer(&mut self, f: PerPeer<A>) {
        self.per_peer = Some(f);
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

    fn tag(peer: A, acts: Vec<Action>) -> Vec<(A, Action)> {
        acts.into_iter().map(|a| (peer, a)).collect()
    }

    /// A control datagram from `peer` (over UDP: the UDP payload; over IP:
    /// after the 4 zero bytes). Returns what to do, each with the peer it
    /// concerns. Whether `peer` is allowed at all is the caller's check.
    pub fn handle(&mut self, now: u64, peer: A, raw: &[u8]) -> Vec<(A, Action)> {
        let Ok(msg) = Message::parse(raw) else {
            self.stats.malformed += 1;
            return Vec::new();
        };
        if msg.ccid != 0 {
            let Some((addr, t)) = self.tunnels.get_mut(&msg.ccid) else {
                self.stats.unknown_ccid += 1;
                return Vec::new();
            };
            if *addr != peer {
                self.stats.wrong_peer += 1;
                return Vec::new();
            }
            let acts = t.handle(now, &msg, raw, &mut *self.rng, &mut self.session_ids);
            self.reap(now);
            return Self::tag(peer, acts);
        }
        if msg.msg_type != Some(MessageType::Sccrq) {
            self.stats.unknown_ccid += 1;
            return Vec::new();
        }
        // A retransmitted SCCRQ goes to the tunnel it created.
        let their = msg.assigned_ccid();
        let existing = self.tunnels.iter().find_map(|(c, (a, t))| {
            (*a == peer && t.is_responder() && their.is_some() && t.remote_ccid() == their)
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
            let per_peer = self.tunnels.values().filter(|(a, _)| *a == peer).count();
            if per_peer >= self.cfg.max_tunnels_per_peer
                || self.tunnels.len() >= self.cfg.max_tunnels
            {
                self.stats.limit_refused += 1;
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
            let acts = t.handle(now, &msg, raw, &mut *self.rng, &mut self.session_ids);
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
        self.reap(now);
        out
    }

    /// las-edge: opens a control connection to `peer` (sends SCCRQ).
    /// Returns our Control Connection ID.
    pub fn connect(&mut self, now: u64, peer: A) -> (u32, Vec<(A, Action)>) {
        let c = self.new_ccid();
        let (t, acts) = Tunnel::initiator(self.cfg.tunnel.clone(), c, now, &mut *self.rng);
        self.tunnels.insert(c, (peer, t));
        (c, Self::tag(peer, acts))
    }

    /// las-edge: opens a session (sends ICRQ) on an established tunnel.
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

    /// Closes one session with a CDN (result, error).
    pub fn close_session(
        &mut self,
        now: u64,
        local_ccid: u32,
        local_session_id: u32,
        result: u16,
        error: Option<u16>,
    ) -> Vec<(A, Action)> {
        let Some((peer, t)) = self.tunnels.get_mut(&local_ccid) else {
            return Vec::new();
        };
        let peer = *peer;
        let acts = t.close_session(now, local_session_id, result, error, &mut self.session_ids);
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
