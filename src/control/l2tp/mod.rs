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

/// The one source of random identifiers, nonces and challenges of las
/// and las-edge: the kernel's generator (getrandom(2)). It fails closed:
/// if the kernel cannot give random bytes, the process stops with a
/// message, rather than hand out guessable Control Connection IDs,
/// Session IDs, cookies or nonces.
pub struct OsRandom;

impl Random for OsRandom {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill(&mut b);
        u32::from_ne_bytes(b)
    }

    fn fill(&mut self, buf: &mut [u8]) {
        if let Err(e) = getrandom::fill(buf) {
            // Unwrap-free exit: no identifier may be predictable.
            eprintln!("las: the kernel's random generator failed ({e}): stopping");
            std::process::exit(70);
        }
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
    /// algorithm (RFC 3931 §5.4.1, and what Wireshark's L2TPv3 digest
    /// check does); `alg` is the digest's hash.
    pub fn new(alg: DigestAlg, secret: &[u8]) -> Self {
        SecretAuth {
            alg,
            secret: secret.to_vec(),
            key: auth::shared_key(secret),
        }
    }
}

impl Authenticator for SecretAuth {
    fn placeholder(&self, _flavour: Flavour) -> AvpOwned {
        let mut v = vec![0u8; 1 + self.alg.digest_len()];
        v[0] = self.alg.digest_type();
        AvpOwned::new(ietf::VENDOR, ietf::MESSAGE_DIGEST, true, v)
    }

    fn seal(&self, bytes: &mut [u8], our_nonce: &[u8], peer_nonce: &[u8]) {
        auth::seal_digest(self.alg, &self.key, our_nonce, peer_nonce, bytes);
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
    /// A message was refused: answered with a CDN or StopCCN, or dropped.
    /// The caller logs it and counts it by reason.
    Refused(Refusal),
}

/// Why las refused a control message or closed a session or tunnel on
/// its own account. Each has a counter, `refused_<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RefuseReason {
    /// Did not parse as a control message.
    Malformed,
    /// Longer than [`MAX_MESSAGE_LEN`]: dropped before parsing.
    Oversize,
    /// Over the per-source message rate (the caller's limiter).
    RateLimited,
    /// For a Control Connection ID we do not have (or 0 and not SCCRQ).
    UnknownCcid,
    /// From another address than the tunnel's peer.
    WrongPeer,
    /// SCCRQ over `max_tunnels_per_peer` / `max_tunnels`.
    TunnelLimit,
    /// Message Digest missing, wrong or more than two.
    DigestFailed,
    /// Wrong or missing Challenge Response.
    ChallengeFailed,
    /// Hidden AVPs without a secret or Random Vector to decode them.
    HiddenUndecodable,
    /// An unrecognised AVP with M = 1 (RFC 3931 §5.2).
    UnknownMandatoryAvp,
    /// A MUST AVP we need is absent.
    MissingAvp,
    /// An AVP whose value cannot be right (e.g. a 5-byte cookie).
    BadAvp,
    /// ICRQ over `max_sessions_per_tunnel`.
    SessionLimit,
    /// PW type not offered (CDN 14).
    UnsupportedPwType,
    /// Sequencing without the default sublayer (CDN 15).
    SequencingWithoutSublayer,
    /// A message not valid in its session's state.
    FsmError,
    /// A session message for a session we do not have.
    UnknownSession,
    /// No virtual switch for the VC ID (not configured, auto off).
    NoSwitch,
    /// The switch table is full (`dataplane.max_switches`).
    SwitchLimit,
    /// The member table is full (`dataplane.max_sessions`).
    MemberLimit,
    /// The switch cannot carry the PW type (e.g. VLAN PW, RFC 4448
    /// tagged mode, into a switch that is not VLAN-aware).
    PwTypeMismatch,
    /// No port reaches the peer.
    NoRoute,
    /// A stale control connection of a restarted peer, replaced by the
    /// new one it opened (closed without a word to the peer).
    Replaced,
    /// Closed by las itself (operator, shutdown): not a refusal of the
    /// peer; not counted as one.
    Local,
}

impl RefuseReason {
    /// The counter name (after `refused_`).
    pub const fn as_str(self) -> &'static str {
        use RefuseReason::*;
        match self {
            Malformed => "malformed",
            Oversize => "oversize",
            RateLimited => "rate_limited",
            UnknownCcid => "unknown_ccid",
            WrongPeer => "wrong_peer",
            TunnelLimit => "tunnel_limit",
            DigestFailed => "digest_failed",
            ChallengeFailed => "challenge_failed",
            HiddenUndecodable => "hidden_undecodable",
            UnknownMandatoryAvp => "unknown_mandatory_avp",
            MissingAvp => "missing_avp",
            BadAvp => "bad_avp",
            SessionLimit => "session_limit",
            UnsupportedPwType => "unsupported_pw_type",
            SequencingWithoutSublayer => "sequencing_without_sublayer",
            FsmError => "fsm_error",
            UnknownSession => "unknown_session",
            NoSwitch => "no_switch",
            SwitchLimit => "switch_limit",
            MemberLimit => "member_limit",
            PwTypeMismatch => "pw_type_mismatch",
            NoRoute => "no_route",
            Replaced => "replaced",
            Local => "local",
        }
    }

    /// Every reason, for listing counters.
    pub const ALL: [RefuseReason; 24] = {
        use RefuseReason::*;
        [
            Malformed,
            Oversize,
            RateLimited,
            UnknownCcid,
            WrongPeer,
            TunnelLimit,
            DigestFailed,
            ChallengeFailed,
            HiddenUndecodable,
            UnknownMandatoryAvp,
            MissingAvp,
            BadAvp,
            SessionLimit,
            UnsupportedPwType,
            SequencingWithoutSublayer,
            FsmError,
            UnknownSession,
            NoSwitch,
            SwitchLimit,
            MemberLimit,
            PwTypeMismatch,
            NoRoute,
            Replaced,
            Local,
        ]
    };
}

/// What las did with a refused message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Answered with a CDN (the session is gone).
    Cdn,
    /// Answered with a StopCCN (the control connection is closing).
    StopCcn,
    /// Dropped without an answer.
    Dropped,
}

/// A refused control message, for the log and the counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Our Control Connection ID (0 when no tunnel is involved).
    pub local_ccid: u32,
    /// The refused message's type (`None`: it did not parse).
    pub msg: Option<MessageType>,
    pub answer: Answer,
    pub reason: RefuseReason,
    /// What is wrong, naming the AVP or limit; also the Error Message of
    /// the CDN / StopCCN.
    pub detail: String,
    /// Our and the peer's Session ID, for session refusals (0: none).
    pub local_session_id: u32,
    pub remote_session_id: u32,
}

impl Refusal {
    pub(crate) fn dropped(
        local_ccid: u32,
        msg: Option<MessageType>,
        reason: RefuseReason,
        detail: impl Into<String>,
    ) -> Refusal {
        Refusal {
            local_ccid,
            msg,
            answer: Answer::Dropped,
            reason,
            detail: detail.into(),
            local_session_id: 0,
            remote_session_id: 0,
        }
    }
}

/// A session the peer asks for (ICRQ), for the caller's admission check
/// ([`Endpoint::handle_with`]) before las answers ICRP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionRequest<'a> {
    pub local_ccid: u32,
    pub remote_end_id: &'a [u8],
    pub pw_type: u16,
}

/// The caller's "no" to a [`SessionRequest`]: the CDN's result, error
/// and Error Message, and the counter's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    pub reason: RefuseReason,
    pub result: u16,
    pub error: Option<u16>,
    pub detail: String,
}

/// The admission check a [`Tunnel`] runs on each acceptable ICRQ.
pub type Admit<'a> = dyn FnMut(&SessionRequest) -> Result<(), Denied> + 'a;

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
    /// The peer opened a new control connection with the same ID (it
    /// restarted); this one was dropped.
    Replaced,
}

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
            return vec![(
                peer,
                Action::Refused(Refusal::dropped(
                    0,
                    None,
                    RefuseReason::Oversize,
                    format!(
                        "{} bytes, more than any control message ({MAX_MESSAGE_LEN})",
                        raw.len()
                    ),
                )),
            )];
        }
        let Ok(msg) = Message::parse(raw) else {
            self.stats.malformed += 1;
            return vec![(
                peer,
                Action::Refused(Refusal::dropped(
                    0,
                    None,
                    RefuseReason::Malformed,
                    format!("not an L2TPv3 control message ({} bytes)", raw.len()),
                )),
            )];
        };
        let mut admit_peer = |r: &SessionRequest| admit(&peer, r);
        if msg.ccid != 0 {
            let Some((addr, t)) = self.tunnels.get_mut(&msg.ccid) else {
                self.stats.unknown_ccid += 1;
                return vec![(
                    peer,
                    Action::Refused(Refusal::dropped(
                        0,
                        msg.msg_type,
                        RefuseReason::UnknownCcid,
                        format!("no control connection {}", msg.ccid),
                    )),
                )];
            };
            if *addr != peer {
                self.stats.wrong_peer += 1;
                return vec![(
                    peer,
                    Action::Refused(Refusal::dropped(
                        msg.ccid,
                        msg.msg_type,
                        RefuseReason::WrongPeer,
                        format!("control connection {} belongs to another peer", msg.ccid),
                    )),
                )];
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
            self.replace_stale(peer, &mut out);
            self.reap(now);
            return out;
        }
        if msg.msg_type != Some(MessageType::Sccrq) {
            self.stats.unknown_ccid += 1;
            return vec![(
                peer,
                Action::Refused(Refusal::dropped(
                    0,
                    msg.msg_type,
                    RefuseReason::UnknownCcid,
                    "Control Connection ID 0 on a message other than SCCRQ",
                )),
            )];
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
