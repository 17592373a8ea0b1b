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

use std::hash::Hash;

use crate::wire::l2tp::auth;
use crate::wire::l2tp::auth::DigestAlg;
use crate::wire::l2tp::avp::ietf;
use crate::wire::l2tp::avp::AvpOwned;
use crate::wire::l2tp::message::Flavour;
use crate::wire::l2tp::message::MessageType;

mod endpoint;
pub mod reliable;
pub mod session;
pub mod tunnel;

pub use endpoint::{Endpoint, EndpointConfig, EndpointStats, PerPeer, MAX_MESSAGE_LEN};
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
    /// The tunnel now talks to the address this action is tagged with
    /// (its peer moved: `Endpoint::set_mover`); its sessions follow.
    PeerMoved { local_ccid: u32 },
    /// A message was refused: answered with a CDN or StopCCN, or dropped.
    /// The caller logs it and counts it by reason.
    Refused(Refusal),
}

macro_rules! refuse_reasons {
    ($( $(#[doc = $doc:literal])* $var:ident = $name:literal ),+ $(,)?) => {
        /// Why las refused a control message or closed a session or tunnel
        /// on its own account. Each has a counter, `refused_<name>`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum RefuseReason { $( $(#[doc = $doc])* $var ),+ }

        impl RefuseReason {
            /// Every reason, for listing counters.
            pub const ALL: &'static [RefuseReason] = &[ $(RefuseReason::$var),+ ];
            /// The counter name (after `refused_`).
            pub const fn as_str(self) -> &'static str {
                match self { $(RefuseReason::$var => $name),+ }
            }
        }
    };
}

refuse_reasons! {
    /// Did not parse as a control message.
    Malformed = "malformed",
    /// Longer than [`MAX_MESSAGE_LEN`]: dropped before parsing.
    Oversize = "oversize",
    /// Over the per-source message rate (the caller's limiter).
    RateLimited = "rate_limited",
    /// For a Control Connection ID we do not have (or 0 and not SCCRQ).
    UnknownCcid = "unknown_ccid",
    /// From another address than the tunnel's peer.
    WrongPeer = "wrong_peer",
    /// SCCRQ over `max_tunnels_per_peer` / `max_tunnels`.
    TunnelLimit = "tunnel_limit",
    /// Message Digest missing, wrong or more than two.
    DigestFailed = "digest_failed",
    /// Wrong or missing Challenge Response.
    ChallengeFailed = "challenge_failed",
    /// Hidden AVPs without a secret or Random Vector to decode them.
    HiddenUndecodable = "hidden_undecodable",
    /// An unrecognised AVP with M = 1 (RFC 3931 §5.2).
    UnknownMandatoryAvp = "unknown_mandatory_avp",
    /// A MUST AVP we need is absent.
    MissingAvp = "missing_avp",
    /// An AVP whose value cannot be right (e.g. a 5-byte cookie).
    BadAvp = "bad_avp",
    /// ICRQ over `max_sessions_per_tunnel`.
    SessionLimit = "session_limit",
    /// PW type not offered (CDN 14).
    UnsupportedPwType = "unsupported_pw_type",
    /// Sequencing without the default sublayer (CDN 15).
    SequencingWithoutSublayer = "sequencing_without_sublayer",
    /// A message not valid in its session's state.
    FsmError = "fsm_error",
    /// A session message for a session we do not have.
    UnknownSession = "unknown_session",
    /// No virtual switch for the VC ID (not configured, auto off).
    NoSwitch = "no_switch",
    /// The switch table is full (`dataplane.max_switches`).
    SwitchLimit = "switch_limit",
    /// The member table is full (`dataplane.max_sessions`).
    MemberLimit = "member_limit",
    /// The switch cannot carry the PW type (e.g. VLAN PW, RFC 4448
    /// tagged mode, into a switch that is not VLAN-aware).
    PwTypeMismatch = "pw_type_mismatch",
    /// No port reaches the peer.
    NoRoute = "no_route",
    /// A stale control connection of a restarted peer, replaced by the
    /// new one it opened (closed without a word to the peer).
    Replaced = "replaced",
    /// Closed by las itself (operator, shutdown): not a refusal of the
    /// peer; not counted as one.
    Local = "local",
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
    /// A session refused with a CDN.
    pub(crate) fn cdn(
        local_ccid: u32,
        msg: Option<MessageType>,
        r: &session::Refuse,
        local_session_id: u32,
        remote_session_id: u32,
    ) -> Refusal {
        Refusal {
            local_ccid,
            msg,
            answer: Answer::Cdn,
            reason: r.reason,
            detail: r.detail.clone(),
            local_session_id,
            remote_session_id,
        }
    }

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
