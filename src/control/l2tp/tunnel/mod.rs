//! One L2TPv3 control connection (RFC 3931 §3.3): its FSM, HELLO
//! keepalive (§4.4), StopCCN, authentication hooks, and the sessions it
//! owns.
//!
//! ```text
//!  responder (las)                         initiator (las-edge)
//!  Idle ── SCCRQ / send SCCRP ─▶ WaitCtlConn   Idle ── send SCCRQ ─▶ WaitCtlReply
//!  WaitCtlConn ── SCCCN ─▶ Established         WaitCtlReply ── SCCRP / send SCCCN ─▶ Established
//!
//!  any ── StopCCN received / sent ─▶ Closing ── closing_hold elapsed ─▶ Closed
//!  any ── retransmissions exhausted (peer dead) ─▶ Closed
//!  Idle/WaitCtl* ── setup_timeout ─▶ Closed
//!  Established ── hello_interval without receiving anything ─▶ send HELLO
//! ```
//!
//! Valid-in-state: SCCRQ only in `Idle` (responder), SCCRP only in
//! `WaitCtlReply`, SCCCN only in `WaitCtlConn`, session messages only in
//! `Established`; anything else is acknowledged (by reliable delivery)
//! and ignored (counted in `ignored`). In `Closing` we keep acknowledging
//! retransmissions so the peer's StopCCN (or ours) completes.
//!
//! Every tunnel-down reports `SessionDown` for each established session
//! first, then `TunnelDown`.
//!
//! # Flavour
//!
//! A responder answers in the flavour of the SCCRQ: Cisco vendor-9 dual
//! AVPs when the SCCRQ carried any vendor-9 AVP, IETF only otherwise.
//! Sessions answer in the flavour of their ICRQ the same way.
//!
//! # Acknowledgements received
//!
//! A ZLB or an explicit ACK (type 20) only acknowledges: it takes no
//! sequence number (its `Ns` is the peer's next one), is not acknowledged
//! and never reaches the FSM; only its `Nr` is used.
//!
//! # Authentication
//!
//! With [`TunnelConfig::auth`] set and [`TunnelConfig::digest`] on, every
//! non-ZLB message (explicit ACKs included) must pass
//! [`Authenticator::verify`]; one that fails is dropped before reliable
//! delivery sees it (not acknowledged, not answered, its `Nr` not used)
//! and counted in `auth_failures`. Our nonce goes in SCCRQ / SCCRP; every
//! message we send gets a Message Digest AVP right after the Message Type,
//! sealed at each (re)transmission. A ZLB cannot carry a digest, and ZLBs
//! are only permitted without authentication (RFC 3931 §4.3, §6.15), so we
//! then never send one: a standalone acknowledgement is an explicit ACK
//! message (type 20) with the Message Digest, sealed like the rest. A ZLB
//! from the peer is still accepted (its `Nr` used) for interoperability.
//!
//! With [`TunnelConfig::challenge`] on, we put a Challenge in our SCCRQ /
//! SCCRP and require the right Challenge Response in the SCCRP / SCCCN;
//! a wrong or missing response closes the tunnel silently
//! (`DownReason::AuthFailed`, counted). A Challenge from the peer is
//! always answered when an authenticator is configured.
//!
//! # Tie breaker (§5.4.3)
//!
//! las only responds and never sends a Tie Breaker. las-edge may both
//! initiate and respond: with [`TunnelConfig::tie_breaker`] on, its SCCRQ
//! carries a random Tie Breaker, and the [`super::Endpoint`] resolves a
//! crossing SCCRQ from the same peer: the lower value wins; the loser
//! abandons its own tunnel silently (`LostTieBreaker`) and answers the
//! winner's SCCRQ; the winner ignores the loser's SCCRQ; on equal values
//! both ignore the new SCCRQ and keep retrying their own.

mod sessions;
mod setup;

use std::collections::HashMap;
use std::collections::HashSet;
use std::sync::Arc;

use super::reliable::OutgoingKind;
use super::reliable::Reliable;
use super::reliable::ReliableConfig;
use super::reliable::DEFAULT_PEER_WINDOW;
use super::session;
use super::session::Refuse;
use super::session::Session;
use super::session::SessionConfig;
use super::session::SessionState;
use super::Action;
use super::Admit;
use super::Answer;
use super::Authenticator;
use super::DownReason;
use super::Random;
use super::Refusal;
use super::RefuseReason;
use super::SessionDown;
use super::SessionRequest;
use super::TunnelDown;
use super::TunnelUp;
use crate::wire::l2tp::avp::cisco;
use crate::wire::l2tp::avp::describe;
use crate::wire::l2tp::avp::ietf;
use crate::wire::l2tp::control::HEADER_LEN;
use crate::wire::l2tp::message::cdn_result;
use crate::wire::l2tp::message::error_code;
use crate::wire::l2tp::message::stopccn_result;
use crate::wire::l2tp::message::Flavour;
use crate::wire::l2tp::message::Message;
use crate::wire::l2tp::message::MessageType;
use crate::wire::l2tp::rules;

/// Message type numbers used in CHAP-style responses.
const SCCRP_ID: u16 = 2;
const SCCCN_ID: u16 = 3;

/// Where a control connection is (see the module diagram).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunnelState {
    /// Responder before the SCCRQ was processed.
    Idle,
    /// Initiator: SCCRQ sent.
    WaitCtlReply,
    /// Responder: SCCRP sent.
    WaitCtlConn,
    Established,
    /// StopCCN sent or received; acknowledging until `closing_hold`.
    Closing,
    /// Gone: the owner drops it.
    Closed,
}

/// Control connection parameters.
#[derive(Clone)]
pub struct TunnelConfig {
    pub host_name: Vec<u8>,
    pub router_id: u32,
    pub reliable: ReliableConfig,
    /// HELLO after this much silence (ms, default 60 s).
    pub hello_interval: u64,
    /// Setup must complete within this (ms, default 60 s).
    pub setup_timeout: u64,
    /// How long a closing tunnel keeps acknowledging (ms, default 31 s,
    /// one full retransmission cycle).
    pub closing_hold: u64,
    pub max_sessions: usize,
    pub session: SessionConfig,
    /// Flavour of what we initiate (SCCRQ, ICRQ of las-edge).
    pub initiator_flavour: Flavour,
    /// Send a Tie Breaker in our SCCRQ (las-edge).
    pub tie_breaker: bool,
    /// Authentication algorithms (with the shared secret).
    pub auth: Option<Arc<dyn Authenticator + Send + Sync>>,
    /// Require and send the Message Digest on every message.
    pub digest: bool,
    /// Require and send a CHAP-style Challenge.
    pub challenge: bool,
    /// The shared secret, to decode hidden AVPs (§5.3).
    pub secret: Option<Vec<u8>>,
}

impl Default for TunnelConfig {
    fn default() -> Self {
        TunnelConfig {
            host_name: b"las".to_vec(),
            router_id: 0,
            reliable: ReliableConfig::default(),
            hello_interval: 60_000,
            setup_timeout: 60_000,
            closing_hold: 31_000,
            max_sessions: 1024,
            session: SessionConfig::default(),
            initiator_flavour: Flavour::Ietf,
            tie_breaker: false,
            auth: None,
            digest: false,
            challenge: false,
            secret: None,
        }
    }
}

/// Per-tunnel counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TunnelStats {
    /// Messages dropped for a bad digest or a wrong challenge response.
    pub auth_failures: u64,
    /// HELLOs sent.
    pub hellos_sent: u64,
    /// Messages with hidden AVPs that could not be decoded (no secret, or
    /// no Random Vector before them): dropped.
    pub hidden_undecodable: u64,
    /// Messages valid but not in this state (acknowledged, ignored).
    pub ignored: u64,
    /// Session messages naming a session we do not have.
    pub unknown_session: u64,
    /// ICRQs refused because of `max_sessions`.
    pub session_limit: u64,
    /// WEN messages received.
    pub wen: u64,
    /// Messages received that lack a MUST AVP of RFC 3931 §6 we can do
    /// without (e.g. an ICRQ without Serial Number): accepted, counted.
    pub nonconformant_rx: u64,
    /// Messages we built that break [`rules`] (a bug: logged).
    pub nonconformant_tx: u64,
    /// Further ICCNs for an established session (ignored, acknowledged).
    pub repeated_iccn: u64,
    /// Times the peer's address moved (a NAT gave it a new UDP port).
    pub peer_moves: u64,
}

/// One control connection and its sessions.
pub struct Tunnel {
    cfg: TunnelConfig,
    state: TunnelState,
    responder: bool,
    local_ccid: u32,
    remote_ccid: u32,
    flavour: Flavour,
    rel: Reliable<Message>,
    sessions: HashMap<u32, Session>,
    created: u64,
    last_rx: u64,
    last_hello: u64,
    hold_until: u64,
    our_nonce: Vec<u8>,
    peer_nonce: Vec<u8>,
    our_challenge: Option<Vec<u8>>,
    tie_breaker: Option<u64>,
    peer_host_name: Vec<u8>,
    /// Serial Number of the next ICRQ we send.
    next_serial: u32,
    stats: TunnelStats,
}

fn random_bytes(rng: &mut dyn Random, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rng.fill(&mut v);
    v
}

impl Tunnel {
    fn new(cfg: TunnelConfig, local_ccid: u32, now: u64, rng: &mut dyn Random) -> Tunnel {
        let our_nonce = if cfg.auth.is_some() && cfg.digest {
            random_bytes(rng, 16)
        } else {
            Vec::new()
        };
        let our_challenge = (cfg.auth.is_some() && cfg.challenge).then(|| random_bytes(rng, 16));
        let mut t = Tunnel {
            rel: Reliable::new(cfg.reliable),
            flavour: cfg.initiator_flavour,
            cfg,
            state: TunnelState::Idle,
            responder: true,
            local_ccid,
            remote_ccid: 0,
            sessions: HashMap::new(),
            created: now,
            last_rx: now,
            last_hello: now,
            hold_until: 0,
            our_nonce,
            peer_nonce: Vec::new(),
            our_challenge,
            tie_breaker: None,
            peer_host_name: Vec::new(),
            next_serial: 1,
            stats: TunnelStats::default(),
        };
        t.set_ack_style();
        t
    }

    /// With digests on, standalone acknowledgements are explicit ACK
    /// messages with the Message Digest AVP ([`Tunnel::flush`] seals them
    /// like every message): a ZLB cannot carry one. ZLBs otherwise.
    /// Called again once the flavour is known.
    fn set_ack_style(&mut self) {
        let Some(a) = self.auth().filter(|_| self.digest_on()) else {
            return;
        };
        let mut m = Message::new(MessageType::Ack, 0);
        m.avps.push(a.placeholder(self.flavour));
        let body = m.emit().split_off(HEADER_LEN);
        self.rel.set_ack_body(body);
    }

    /// A responder in `Idle`, waiting for the SCCRQ given to
    /// [`Tunnel::handle`].
    pub fn responder(cfg: TunnelConfig, local_ccid: u32, now: u64, rng: &mut dyn Random) -> Tunnel {
        Tunnel::new(cfg, local_ccid, now, rng)
    }

    /// An initiator: queues the SCCRQ and enters `WaitCtlReply`.
    pub fn initiator(
        cfg: TunnelConfig,
        local_ccid: u32,
        now: u64,
        rng: &mut dyn Random,
    ) -> (Tunnel, Vec<Action>) {
        let mut t = Tunnel::new(cfg, local_ccid, now, rng);
        t.responder = false;
        if t.cfg.tie_breaker {
            t.tie_breaker = Some(rng.next_u64());
        }
        let fl = t.flavour;
        let mut m = Message::new(MessageType::Sccrq, 0)
            .with_host_name(&t.cfg.host_name)
            .with_router_id(fl, t.cfg.router_id)
            .with_receive_window(t.cfg.reliable.receive_window)
            .with_assigned_ccid(fl, local_ccid)
            .with_pw_capabilities(fl, &t.cfg.session.pw_types);
        if fl == Flavour::CiscoDual {
            m = m.avp_u16(cisco::VENDOR, cisco::DRAFT_AVP_VERSION, true, 1);
        }
        if let Some(tb) = t.tie_breaker {
            m = m.with_tie_breaker(fl, tb);
        }
        if !t.our_nonce.is_empty() {
            m = m.with_nonce(fl, &t.our_nonce);
        }
        if let Some(c) = &t.our_challenge {
            m = m.with_challenge(c);
        }
        t.queue(now, m);
        t.state = TunnelState::WaitCtlReply;
        let acts = t.flush(now);
        (t, acts)
    }

    pub fn state(&self) -> TunnelState {
        self.state
    }

    pub fn is_responder(&self) -> bool {
        self.responder
    }

    pub fn local_ccid(&self) -> u32 {
        self.local_ccid
    }

    /// The peer's Control Connection ID, once known.
    pub fn remote_ccid(&self) -> Option<u32> {
        (self.remote_ccid != 0).then_some(self.remote_ccid)
    }

    pub fn flavour(&self) -> Flavour {
        self.flavour
    }

    pub fn tie_breaker(&self) -> Option<u64> {
        self.tie_breaker
    }

    pub fn peer_host_name(&self) -> &[u8] {
        &self.peer_host_name
    }

    pub fn stats(&self) -> &TunnelStats {
        &self.stats
    }

    pub fn reliable(&self) -> &Reliable<Message> {
        &self.rel
    }

    pub fn session(&self, local_id: u32) -> Option<&Session> {
        self.sessions.get(&local_id)
    }

    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    fn auth(&self) -> Option<&(dyn Authenticator + Send + Sync)> {
        self.cfg.auth.as_deref()
    }

    fn digest_on(&self) -> bool {
        self.cfg.auth.is_some() && self.cfg.digest
    }

    /// Queues a message for reliable delivery (adds the digest
    /// placeholder when digests are on).
    fn queue(&mut self, now: u64, mut m: Message) -> u64 {
        if let (Some(a), true) = (self.auth(), self.digest_on()) {
            m.avps.insert(0, a.placeholder(self.flavour));
        }
        let v = rules::check(&m);
        if !v.is_empty() {
            self.stats.nonconformant_tx += 1;
            log::error!(
                "l2tp: control connection {}: las built a {:?} that breaks RFC 3931 §6: {}",
                self.local_ccid,
                m.msg_type,
                v.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        self.rel.send(now, m.emit())
    }

    /// Moves what reliable delivery wants to send into actions, sealing
    /// digests (on everything but a ZLB, which is only sent without
    /// digests).
    fn flush(&mut self, now: u64) -> Vec<Action> {
        let out = self.rel.poll(now);
        let seal = self.digest_on();
        out.into_iter()
            .map(|o| {
                let mut b = o.bytes;
                if seal && o.kind != OutgoingKind::Zlb {
                    if let Some(a) = self.cfg.auth.as_deref() {
                        a.seal(&mut b, &self.our_nonce, &self.peer_nonce);
                    }
                }
                Action::Send(b)
            })
            .collect()
    }

    /// Why an SCCRQ/SCCRP cannot be accepted (the StopCCN error code and
    /// text): an unknown mandatory AVP, no Assigned Control Connection ID.
    fn setup_error(&self, m: &Message) -> Option<(RefuseReason, u16, String)> {
        if let Some((v, a)) = m.unknown_mandatory() {
            Some((
                RefuseReason::UnknownMandatoryAvp,
                error_code::UNKNOWN_MANDATORY_AVP,
                format!("unknown mandatory AVP: {}", describe(v, a)),
            ))
        } else if self.remote_ccid == 0 {
            Some((
                RefuseReason::MissingAvp,
                error_code::VALUE_OUT_OF_RANGE,
                format!(
                    "missing or zero {}",
                    describe(ietf::VENDOR, ietf::ASSIGNED_CONTROL_CONNECTION_ID)
                ),
            ))
        } else {
            None
        }
    }

    fn dropped(&self, m: &Message, reason: RefuseReason, detail: impl Into<String>) -> Action {
        Action::Refused(Refusal::dropped(
            self.local_ccid,
            m.msg_type,
            reason,
            detail,
        ))
    }

    /// Counts a received message that lacks a MUST AVP (RFC 3931 §6)
    /// that we can do without; the message is processed.
    fn note_conformance(&mut self, m: &Message) {
        if let Some(a) = rules::first_missing(m) {
            self.stats.nonconformant_rx += 1;
            log::debug!(
                "l2tp: control connection {}: {:?} without {} (accepted)",
                self.local_ccid,
                m.msg_type,
                describe(ietf::VENDOR, a)
            );
        }
    }

    /// A received control message for this tunnel (`raw`: its bytes as
    /// received, for the digest). Valid in every state but `Closed`.
    /// `admit` is asked about every acceptable ICRQ.
    /// Whether `msg`, from an address other than the peer's, proves it
    /// comes from the peer (see `Endpoint::set_mover`): the tunnel is
    /// established; the message is the next one expected or inside the
    /// receive window (never a duplicate, which anyone who saw it could
    /// replay), or an acknowledgement of a message of ours in flight;
    /// and with authentication on, its Message Digest verifies (a ZLB has
    /// none and never qualifies then). Changes nothing.
    pub fn may_move(&self, msg: &Message, raw: &[u8]) -> bool {
        if self.state != TunnelState::Established {
            return false;
        }
        let fresh = if msg.is_ack() {
            self.rel.acks_in_flight(msg.nr)
        } else {
            self.rel.in_window(msg.ns)
        };
        if !fresh {
            return false;
        }
        !self.digest_on()
            || self
                .auth()
                .is_some_and(|a| a.verify(raw, &self.our_nonce, &self.peer_nonce))
    }

    /// The peer's address moved (counted; the endpoint keeps addresses).
    pub(crate) fn note_moved(&mut self) {
        self.stats.peer_moves += 1;
    }

    /// Queues a HELLO now (a peer that may have moved answers it).
    pub fn hello_now(&mut self, now: u64) -> Vec<Action> {
        if self.state != TunnelState::Established {
            return Vec::new();
        }
        self.send_hello(now);
        self.flush(now)
    }

    pub fn handle(
        &mut self,
        now: u64,
        msg: &Message,
        raw: &[u8],
        rng: &mut dyn Random,
        ids: &mut HashSet<u32>,
        admit: &mut Admit,
    ) -> Vec<Action> {
        if self.state == TunnelState::Closed {
            return Vec::new();
        }
        if self.digest_on() && !msg.is_zlb() {
            let first = matches!(msg.msg_type, Some(MessageType::Sccrq | MessageType::Sccrp));
            let peer_nonce = if first && self.peer_nonce.is_empty() {
                msg.nonce().unwrap_or_default().to_vec()
            } else {
                self.peer_nonce.clone()
            };
            // The SCCRQ's digest uses no nonces (auth::verify_digest).
            let ok = self
                .auth()
                .is_some_and(|a| a.verify(raw, &self.our_nonce, &peer_nonce));
            if !ok {
                self.stats.auth_failures += 1;
                let why = if msg.message_digest().is_none() {
                    "no Message Digest (authentication is on for this peer)"
                } else {
                    "Message Digest does not verify (wrong secret or digest type?)"
                };
                return vec![self.dropped(msg, RefuseReason::DigestFailed, why)];
            }
            self.peer_nonce = peer_nonce;
        }
        self.last_rx = now;
        // Hidden AVPs (RFC 3931 §5.3) are decoded with the shared secret;
        // without one, or if they do not decode, the message is dropped.
        let mut msg = msg.clone();
        if msg.avps.iter().any(|a| a.hidden) {
            let ok = match self.cfg.secret.as_deref() {
                Some(secret) => msg.unhide(secret).is_ok(),
                None => false,
            };
            if !ok {
                self.stats.hidden_undecodable += 1;
                let why = if self.cfg.secret.is_some() {
                    "hidden AVPs do not decode with the peer's secret"
                } else {
                    "hidden AVPs but no secret is configured for this peer"
                };
                return vec![self.dropped(&msg, RefuseReason::HiddenUndecodable, why)];
            }
        }
        // A ZLB or explicit ACK only acknowledges: no Ns of its own, no
        // FSM event.
        let payload = (!msg.is_ack()).then(|| msg.clone());
        self.rel.receive(now, msg.ns, msg.nr, payload);
        let mut out = Vec::new();
        while let Some(m) = self.rel.pop_delivered() {
            if self.state == TunnelState::Closed {
                break;
            }
            self.note_conformance(&m);
            self.process(now, &m, rng, ids, admit, &mut out);
        }
        self.confirm_sessions(&mut out);
        out.extend(self.flush(now));
        out
    }

    fn process(
        &mut self,
        now: u64,
        m: &Message,
        rng: &mut dyn Random,
        ids: &mut HashSet<u32>,
        admit: &mut Admit,
        out: &mut Vec<Action>,
    ) {
        use MessageType as T;
        use TunnelState as S;
        let Some(ty) = m.msg_type else { return };
        match (self.state, ty) {
            (_, T::StopCcn) => self.on_stopccn(now, m, ids, out),
            (S::Closing, _) => self.stats.ignored += 1,
            (S::Idle, T::Sccrq) if self.responder => self.on_sccrq(now, m, ids, out),
            (S::WaitCtlReply, T::Sccrp) => self.on_sccrp(now, m, ids, out),
            (S::WaitCtlConn, T::Scccn) => self.on_scccn(now, m, ids, out),
            (_, T::Hello) => {
                if let Some((v, a)) = m.unknown_mandatory() {
                    self.refuse_stop(
                        now,
                        m,
                        RefuseReason::UnknownMandatoryAvp,
                        error_code::UNKNOWN_MANDATORY_AVP,
                        format!("unknown mandatory AVP: {}", describe(v, a)),
                        ids,
                        out,
                    );
                }
            }
            (S::Established, T::Icrq) => self.on_icrq(now, m, rng, ids, admit, out),
            (S::Established, T::Icrp | T::Iccn | T::Cdn | T::Sli | T::Wen) => {
                self.on_session_msg(now, ty, m, ids, out)
            }
            _ => self.stats.ignored += 1,
        }
    }

    /// Timers: retransmissions, ZLB / ACK acks, HELLO, dead peer, setup
    /// timeout, end of `Closing`.
    pub fn poll(&mut self, now: u64, ids: &mut HashSet<u32>) -> Vec<Action> {
        if self.state == TunnelState::Closed {
            return Vec::new();
        }
        let mut out = self.flush(now);
        if self.rel.is_dead() {
            let mut v = self.abandon(DownReason::PeerDead, ids);
            out.append(&mut v);
            return out;
        }
        match self.state {
            TunnelState::Closing if now >= self.hold_until => {
                self.state = TunnelState::Closed;
            }
            TunnelState::Idle | TunnelState::WaitCtlReply | TunnelState::WaitCtlConn
                if now >= self.created.saturating_add(self.cfg.setup_timeout) =>
            {
                out.extend(self.abandon(DownReason::SetupTimeout, ids));
            }
            // No HELLO while something is unacknowledged: retransmission
            // already probes the peer.
            TunnelState::Established if self.rel.all_acked() && now >= self.hello_due() => {
                self.send_hello(now);
                out.extend(self.flush(now));
            }
            _ => {}
        }
        out
    }

    fn send_hello(&mut self, now: u64) {
        self.last_hello = now;
        self.stats.hellos_sent += 1;
        self.queue(now, Message::new(MessageType::Hello, self.remote_ccid));
    }

    fn hello_due(&self) -> u64 {
        self.last_rx
            .max(self.last_hello)
            .saturating_add(self.cfg.hello_interval)
    }

    /// When [`Tunnel::poll`] next has work.
    pub fn next_timeout(&self) -> Option<u64> {
        let own = match self.state {
            TunnelState::Closed => return None,
            TunnelState::Closing => Some(self.hold_until),
            TunnelState::Established if self.rel.all_acked() => Some(self.hello_due()),
            TunnelState::Established => None,
            _ => Some(self.created.saturating_add(self.cfg.setup_timeout)),
        };
        match (self.rel.next_timeout(), own) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod test {
    use super::super::Denied;
    use super::super::Endpoint;
    use super::super::EndpointConfig;
    use super::super::SessionUp;
    use super::*;
    use crate::wire::l2tp::avp::AvpOwned;
    use crate::wire::l2tp::message::pw_type;

    const PEER: u8 = 1;
    const PEER_CCID: u32 = 0xabcd_0001;

    /// Deterministic ids: 0x100, 0x101, ...
    fn rng() -> Box<dyn Random> {
        let mut n = 0xffu32;
        Box::new(move || {
            n += 1;
            n
        })
    }

    fn endpoint(cfg: TunnelConfig) -> Endpoint<u8> {
        let cfg = EndpointConfig {
            tunnel: cfg,
            ..EndpointConfig::default()
        };
        Endpoint::new(cfg, rng())
    }

    fn cfg() -> TunnelConfig {
        TunnelConfig {
            host_name: b"las1".to_vec(),
            router_id: 0x0a00_0063,
            ..TunnelConfig::default()
        }
    }

    /// A hand-driven peer: numbers its messages.
    struct Peer {
        ns: u16,
        nr: u16,
        ccid: u32,
        fl: Flavour,
    }

    impl Peer {
        fn new(fl: Flavour) -> Peer {
            Peer {
                ns: 0,
                nr: 0,
                ccid: 0,
                fl,
            }
        }
        fn msg(&mut self, mut m: Message) -> Vec<u8> {
            m.ccid = self.ccid;
            m.ns = self.ns;
            m.nr = self.nr;
            self.ns = self.ns.wrapping_add(1);
            m.emit()
        }
        fn sccrq(&mut self) -> Vec<u8> {
            let fl = self.fl;
            self.msg(
                Message::new(MessageType::Sccrq, 0)
                    .with_host_name(b"pe1")
                    .with_router_id(fl, 0x0a00_0001)
                    .with_receive_window(8)
                    .with_assigned_ccid(fl, PEER_CCID)
                    .with_pw_capabilities(fl, &[5, 4]),
            )
        }
        fn icrq(&mut self, sid: u32, pw: u16) -> Vec<u8> {
            let fl = self.fl;
            self.msg(
                Message::new(MessageType::Icrq, 0)
                    .with_local_session_id(fl, sid)
                    .with_remote_session_id(fl, 0)
                    .with_remote_end_id(fl, &7u32.to_be_bytes())
                    .with_pw_type(fl, pw)
                    .with_assigned_cookie(fl, &[1, 2, 3, 4]),
            )
        }
        /// Takes in what we sent; returns the parsed messages but ZLBs
        /// and ACKs.
        fn recv(&mut self, acts: &[(u8, Action)]) -> Vec<Message> {
            let mut v = Vec::new();
            for (_, a) in acts {
                if let Action::Send(b) = a {
                    let m = Message::parse(b).unwrap();
                    if !m.is_ack() && m.ns == self.nr {
                        self.nr = self.nr.wrapping_add(1);
                    }
                    if !m.is_ack() {
                        v.push(m);
                    }
                }
            }
            v
        }
    }

    fn sends(acts: &[(u8, Action)]) -> usize {
        acts.iter()
            .filter(|(_, a)| matches!(a, Action::Send(_)))
            .count()
    }

    /// What happened, refusals aside (see [`refused`]).
    fn events(acts: &[(u8, Action)]) -> Vec<Action> {
        acts.iter()
            .filter(|(_, a)| !matches!(a, Action::Send(_) | Action::Refused(_)))
            .map(|(_, a)| a.clone())
            .collect()
    }

    /// The reasons of the refusals among `acts`.
    fn refused(acts: &[(u8, Action)]) -> Vec<RefuseReason> {
        acts.iter()
            .filter_map(|(_, a)| match a {
                Action::Refused(r) => Some(r.reason),
                _ => None,
            })
            .collect()
    }

    /// Nothing sent and nothing happened (refusals may be reported).
    fn quiet(acts: &[(u8, Action)]) -> bool {
        sends(acts) == 0 && events(acts).is_empty()
    }

    /// Runs the handshake up to an established tunnel; returns our ccid.
    fn establish(ep: &mut Endpoint<u8>, p: &mut Peer) -> u32 {
        let rq = p.sccrq();
        let out = ep.handle(0, PEER, &rq);
        let rp = p.recv(&out);
        assert_eq!(rp.len(), 1);
        let ours = rp[0].assigned_ccid().unwrap();
        p.ccid = PEER_CCID;
        let cn = p.msg(Message::new(MessageType::Scccn, 0));
        p.ccid = ours;
        let mut cn = Message::parse(&cn).unwrap();
        cn.ccid = ours;
        let out = ep.handle(10, PEER, &cn.emit());
        assert!(matches!(events(&out)[..], [Action::TunnelUp(_)]));
        ours
    }

    fn responder_handshake(fl: Flavour) {
        let mut ep = endpoint(cfg());
        let mut p = Peer::new(fl);
        let out = ep.handle(0, PEER, &p.sccrq());
        assert_eq!(sends(&out), 1);
        let rp = p.recv(&out);
        let m = &rp[0];
        assert_eq!(m.msg_type, Some(MessageType::Sccrp));
        assert_eq!((m.ccid, m.ns, m.nr), (PEER_CCID, 0, 1));
        assert_eq!(m.assigned_ccid(), Some(0x100));
        assert_eq!(m.host_name(), Some(&b"las1"[..]));
        assert_eq!(m.router_id(), Some(0x0a00_0063));
        assert_eq!(m.receive_window(), Some(16));
        assert_eq!(m.pw_capabilities(), vec![5, 4]);
        assert_eq!(m.has_cisco_avps(), fl == Flavour::CiscoDual);
        if fl == Flavour::CiscoDual {
            let c = m
                .find(cisco::VENDOR, cisco::ASSIGNED_CONNECTION_ID)
                .unwrap();
            assert!(c.mandatory);
            assert_eq!(c.value, 0x100u32.to_be_bytes());
            assert!(
                !m.find(0, ietf::ASSIGNED_CONTROL_CONNECTION_ID)
                    .unwrap()
                    .mandatory
            );
        } else {
            assert!(
                m.find(0, ietf::ASSIGNED_CONTROL_CONNECTION_ID)
                    .unwrap()
                    .mandatory
            );
        }
        let t = ep.tunnel(0x100).unwrap();
        assert_eq!(t.state(), TunnelState::WaitCtlConn);
        assert_eq!(t.reliable().peer_window(), 8);
        p.ccid = 0x100;
        let out = ep.handle(10, PEER, &p.msg(Message::new(MessageType::Scccn, 0)));
        assert_eq!(
            events(&out),
            vec![Action::TunnelUp(TunnelUp {
                local_ccid: 0x100,
                remote_ccid: PEER_CCID,
                peer_host_name: b"pe1".to_vec(),
            })]
        );
        // ZLB ack after the delay, not before.
        assert_eq!(sends(&ep.poll(50)), 0);
        let out = ep.poll(110);
        let (_, Action::Send(z)) = &out[0] else {
            panic!()
        };
        let z = Message::parse(z).unwrap();
        assert!(z.is_zlb());
        assert_eq!((z.ccid, z.ns, z.nr), (PEER_CCID, 1, 2));
        // Session.
        let out = ep.handle(200, PEER, &p.icrq(0x7777, pw_type::ETHERNET));
        let rp = p.recv(&out);
        let m = &rp[0];
        assert_eq!(m.msg_type, Some(MessageType::Icrp));
        assert_eq!((m.ccid, m.ns, m.nr), (PEER_CCID, 1, 3));
        assert_eq!(m.local_session_id(), Some(0x101));
        assert_eq!(m.remote_session_id(), Some(0x7777));
        // RFC 3931 §6.7: Circuit Status is a MUST; PW Type only in
        // Cisco's draft form (rules::ICRP).
        assert_eq!(m.circuit_status(), Some((true, true)));
        assert_eq!(m.pw_type(), (fl == Flavour::CiscoDual).then_some(5));
        assert_eq!(rules::check(m), vec![]);
        assert_eq!(m.assigned_cookie(), None);
        assert_eq!(m.l2_specific_sublayer(), None);
        assert_eq!(m.has_cisco_avps(), fl == Flavour::CiscoDual);
        let fl2 = p.fl;
        let iccn = p.msg(
            Message::new(MessageType::Iccn, 0)
                .with_local_session_id(fl2, 0x7777)
                .with_remote_session_id(fl2, 0x101),
        );
        let out = ep.handle(300, PEER, &iccn);
        assert_eq!(
            events(&out),
            vec![Action::SessionUp(SessionUp {
                local_ccid: 0x100,
                local_session_id: 0x101,
                remote_session_id: 0x7777,
                peer_cookie: vec![1, 2, 3, 4],
                our_cookie: vec![],
                remote_end_id: 7u32.to_be_bytes().to_vec(),
                pw_type: 5,
                l2spec: 0,
                peer_l2spec: 0,
                sequencing: 0,
            })]
        );
    }

    #[test]
    fn responder_handshake_ietf() {
        responder_handshake(Flavour::Ietf);
    }

    #[test]
    fn responder_handshake_cisco() {
        responder_handshake(Flavour::CiscoDual);
    }

    #[test]
    fn our_cookie_assigned_when_configured() {
        let mut c = cfg();
        c.session.cookie_len = 4;
        let mut ep = endpoint(c);
        let mut p = Peer::new(Flavour::Ietf);
        establish(&mut ep, &mut p);
        let out = ep.handle(100, PEER, &p.icrq(9, pw_type::ETHERNET_VLAN));
        let m = &p.recv(&out)[0];
        // rng: 0x100 ccid, 0x101 session id, 0x102 cookie.
        assert_eq!(m.assigned_cookie(), Some(0x102u32.to_be_bytes().to_vec()));
        assert_eq!(m.circuit_status(), Some((true, true)));
        assert_eq!(rules::check(m), vec![]);
    }

    #[test]
    fn sccrp_lost_retransmitted_and_dup_sccrq() {
        let mut ep = endpoint(cfg());
        let mut p = Peer::new(Flavour::Ietf);
        let rq = p.sccrq();
        let first = ep.handle(0, PEER, &rq);
        assert_eq!(sends(&first), 1);
        // The peer retransmits its SCCRQ: same tunnel, duplicate, ZLB.
        let out = ep.handle(500, PEER, &rq);
        assert_eq!(sends(&out), 0);
        assert_eq!(ep.tunnel_count(), 1);
        let out = ep.poll(600);
        assert_eq!(sends(&out), 1);
        // Our SCCRP was lost: retransmitted at 1 s, same content and Nr.
        let out = ep.poll(1_000);
        assert_eq!(sends(&out), 1);
        assert_eq!(out[0].1, first[0].1);
        assert_eq!(ep.poll(2_999).len(), 0);
        assert_eq!(sends(&ep.poll(3_000)), 1);
    }

    #[test]
    fn reordered_scccn_and_icrq() {
        let mut ep = endpoint(cfg());
        let mut p = Peer::new(Flavour::Ietf);
        let rp = {
            let x = p.sccrq();
            p.recv(&ep.handle(0, PEER, &x))
        };
        p.ccid = rp[0].assigned_ccid().unwrap();
        let cn = p.msg(Message::new(MessageType::Scccn, 0));
        let rq = p.icrq(5, pw_type::ETHERNET);
        // ICRQ first: held, nothing happens.
        let out = ep.handle(10, PEER, &rq);
        assert!(out.is_empty());
        let out = ep.handle(20, PEER, &cn);
        let ev = events(&out);
        assert!(matches!(ev[..], [Action::TunnelUp(_)]));
        let got = p.recv(&out);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].msg_type, Some(MessageType::Icrp));
        assert_eq!(got[0].nr, 3);
    }

    #[test]
    fn hello_after_silence() {
        let mut ep = endpoint(cfg());
        let mut p = Peer::new(Flavour::Ietf);
        let ours = establish(&mut ep, &mut p);
        ep.poll(200); // ZLB
        assert_eq!(ep.next_timeout(), Some(60_010));
        assert_eq!(sends(&ep.poll(60_009)), 0);
        let out = ep.poll(60_010);
        let m = p.recv(&out);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].msg_type, Some(MessageType::Hello));
        assert_eq!(ep.tunnel(ours).unwrap().stats().hellos_sent, 1);
        // Peer acks; next HELLO 60 s after that.
        let z = Message::zlb(ours, p.ns, p.nr).emit();
        ep.handle(60_100, PEER, &z);
        assert_eq!(sends(&ep.poll(120_099)), 0);
        assert_eq!(p.recv(&ep.poll(120_100)).len(), 1);
    }

    fn with_session(ep: &mut Endpoint<u8>, p: &mut Peer) -> (u32, u32) {
        let ours = establish(ep, p);
        let out = ep.handle(100, PEER, &p.icrq(0x55, pw_type::ETHERNET));
        let sid = p.recv(&out)[0].local_session_id().unwrap();
        let iccn = p.msg(
            Message::new(MessageType::Iccn, 0)
                .with_local_session_id(Flavour::Ietf, 0x55)
                .with_remote_session_id(Flavour::Ietf, sid),
        );
        let out = ep.handle(200, PEER, &iccn);
        assert!(matches!(events(&out)[..], [Action::SessionUp(_)]));
        (ours, sid)
    }

    #[test]
    fn dead_peer_clears_sessions() {
        let mut ep = endpoint(cfg());
        let mut p = Peer::new(Flavour::Ietf);
        let (ours, sid) = with_session(&mut ep, &mut p);
        let mut all = Vec::new();
        let mut hellos = 0;
        while let Some(t) = ep.next_timeout() {
            let out = ep.poll(t);
            hellos += p.recv(&out).len();
            all.extend(events(&out));
        }
        assert_eq!(hellos, 11, "HELLO and 10 retransmissions");
        assert_eq!(
            all,
            vec![
                Action::SessionDown(SessionDown {
                    local_ccid: ours,
                    local_session_id: sid,
                    remote_session_id: 0x55,
                    reason: DownReason::TunnelDown,
                }),
                Action::TunnelDown(TunnelDown {
                    local_ccid: ours,
                    remote_ccid: PEER_CCID,
                    reason: DownReason::PeerDead,
                }),
            ]
        );
        assert_eq!(ep.tunnel_count(), 0);
    }

    #[test]
    fn stopccn_received() {
        let mut ep = endpoint(cfg());
        let mut p = Peer::new(Flavour::Ietf);
        let (ours, sid) = with_session(&mut ep, &mut p);
        let stop = p.msg(
            Message::new(MessageType::StopCcn, 0)
                .with_assigned_ccid(Flavour::Ietf, PEER_CCID)
                .with_result_code(1, None, None),
        );
        let out = ep.handle(1_000, PEER, &stop);
        assert_eq!(
            events(&out),
            vec![
                Action::SessionDown(SessionDown {
                    local_ccid: ours,
                    local_session_id: sid,
                    remote_session_id: 0x55,
                    reason: DownReason::TunnelDown,
                }),
                Action::TunnelDown(TunnelDown {
                    local_ccid: ours,
                    remote_ccid: PEER_CCID,
                    reason: DownReason::Peer {
                        result: 1,
                        error: None
                    },
                }),
            ]
        );
        // ZLB ack (an older ack was already due: it goes out at once),
        // and a retransmitted StopCCN is re-acked.
        assert_eq!(sends(&out) + sends(&ep.poll(1_100)), 1);
        let mut again = Message::parse(&stop).unwrap();
        again.nr = p.nr;
        ep.handle(2_000, PEER, &again.emit());
        assert_eq!(sends(&ep.poll(2_100)), 1);
        assert_eq!(ep.tunnel(ours).unwrap().state(), TunnelState::Closing);
        ep.poll(32_000);
        assert_eq!(ep.tunnel_count(), 0);
    }

    #[test]
    fn stopccn_sent() {
        let mut ep = endpoint(cfg());
        let mut p = Peer::new(Flavour::Ietf);
        let (ours, _) = with_session(&mut ep, &mut p);
        let out = ep.stop_tunnel(500, ours, 6, None);
        let m = p.recv(&out);
        assert_eq!(m[0].msg_type, Some(MessageType::StopCcn));
        assert_eq!(m[0].assigned_ccid(), Some(ours));
        assert_eq!(m[0].result_code().unwrap().result, 6);
        assert_eq!(events(&out).len(), 2);
    }

    #[test]
    fn cdn_both_ways() {
        let mut ep = endpoint(cfg());
        let mut p = Peer::new(Flavour::Ietf);
        let (ours, sid) = with_session(&mut ep, &mut p);
        // Ours.
        let out = ep.close_session(300, ours, sid, 3, None, "operator");
        let m = p.recv(&out);
        assert_eq!(m[0].msg_type, Some(MessageType::Cdn));
        assert_eq!(m[0].local_session_id(), Some(sid));
        assert_eq!(m[0].remote_session_id(), Some(0x55));
        assert_eq!(m[0].result_code().unwrap().result, 3);
        assert!(matches!(
            events(&out)[..],
            [Action::SessionDown(SessionDown {
                reason: DownReason::Local { result: 3, .. },
                ..
            })]
        ));
        // Theirs, on a second session.
        let out = ep.handle(400, PEER, &p.icrq(0x66, pw_type::ETHERNET));
        let sid2 = p.recv(&out)[0].local_session_id().unwrap();
        let iccn = p.msg(
            Message::new(MessageType::Iccn, 0)
                .with_local_session_id(Flavour::Ietf, 0x66)
                .with_remote_session_id(Flavour::Ietf, sid2),
        );
        ep.handle(500, PEER, &iccn);
        let cdn = p.msg(session::cdn(
            0,
            Flavour::Ietf,
            0x66,
            sid2,
            &Refuse::new(RefuseReason::Local, 2, Some(6), ""),
        ));
        let out = ep.handle(600, PEER, &cdn);
        assert_eq!(
            events(&out),
            vec![Action::SessionDown(SessionDown {
                local_ccid: ours,
                local_session_id: sid2,
                remote_session_id: 0x66,
                reason: DownReason::Peer {
                    result: 2,
                    error: Some(6)
                },
            })]
        );
        assert_eq!(ep.tunnel(ours).unwrap().session_count(), 0);
    }

    #[test]
    fn unsupported_pw_type_cdn() {
        let mut ep = endpoint(cfg());
        let mut p = Peer::new(Flavour::Ietf);
        establish(&mut ep, &mut p);
        let out = ep.handle(100, PEER, &p.icrq(0x44, 0x0001));
        let m = p.recv(&out);
        assert_eq!(m[0].msg_type, Some(MessageType::Cdn));
        assert_eq!(
            m[0].result_code().unwrap().result,
            cdn_result::UNSUPPORTED_PW_TYPE
        );
        assert_eq!(m[0].remote_session_id(), Some(0x44));
        assert!(events(&out).is_empty());
        assert_eq!(refused(&out), [RefuseReason::UnsupportedPwType]);
        // The CDN names our session (not 0) and says why.
        assert_ne!(m[0].local_session_id(), Some(0));
        let text = m[0].result_code().unwrap().message.unwrap();
        assert!(text.contains("PW type"), "{text}");
    }

    #[test]
    fn unknown_mandatory_avp() {
        let mut ep = endpoint(cfg());
        let mut p = Peer::new(Flavour::Ietf);
        let ours = establish(&mut ep, &mut p);
        // In a session message: CDN 2/8.
        let mut rq = Message::parse(&p.icrq(0x44, 5)).unwrap();
        rq = rq.avp(AvpOwned::new(0, 999, true, vec![1]));
        let out = ep.handle(100, PEER, &rq.emit());
        let m = p.recv(&out);
        assert_eq!(m[0].msg_type, Some(MessageType::Cdn));
        let rc = m[0].result_code().unwrap();
        assert_eq!((rc.result, rc.error), (2, Some(8)));
        // Unknown but not mandatory: fine.
        let hello = Message::new(MessageType::Hello, 0).avp(AvpOwned::new(0, 999, false, vec![]));
        let out = ep.handle(200, PEER, &p.msg(hello));
        assert!(events(&out).is_empty());
        // In a control-connection message: StopCCN 2/8.
        let hello = Message::new(MessageType::Hello, 0).avp(AvpOwned::new(77, 1, true, vec![]));
        let out = ep.handle(300, PEER, &p.msg(hello));
        let m = p.recv(&out);
        assert_eq!(m[0].msg_type, Some(MessageType::StopCcn));
        let rc = m[0].result_code().unwrap();
        assert_eq!((rc.result, rc.error), (2, Some(8)));
        assert!(matches!(
            events(&out)[..],
            [Action::TunnelDown(TunnelDown {
                reason: DownReason::Local {
                    result: 2,
                    error: Some(8)
                },
                ..
            })]
        ));
        assert_eq!(ep.tunnel(ours).unwrap().state(), TunnelState::Closing);
    }

    #[test]
    fn session_limit() {
        let mut c = cfg();
        c.max_sessions = 1;
        let mut ep = endpoint(c);
        let mut p = Peer::new(Flavour::Ietf);
        establish(&mut ep, &mut p);
        {
            let x = p.icrq(1, 5);
            p.recv(&ep.handle(100, PEER, &x))
        };
        let m = {
            let x = p.icrq(2, 5);
            p.recv(&ep.handle(200, PEER, &x))
        };
        assert_eq!(m[0].msg_type, Some(MessageType::Cdn));
        assert_eq!(m[0].result_code().unwrap().error, Some(4));
    }

    /// Toy digest: a keyed 16-byte mix over the message with the digest
    /// zeroed. The AVP sits right after the Message Type (bytes 20..43).
    struct ToyAuth(u8);

    impl ToyAuth {
        fn mac(&self, b: &[u8], n1: &[u8], n2: &[u8]) -> [u8; 16] {
            let mut d = [self.0; 16];
            for (k, x) in b.iter().chain(n1).chain(n2).enumerate() {
                let x = if (27..43).contains(&k) { 0 } else { *x };
                d[k % 16] = d[k % 16].rotate_left(3) ^ x;
            }
            d
        }
    }

    impl Authenticator for ToyAuth {
        fn placeholder(&self, _fl: Flavour) -> AvpOwned {
            let mut v = vec![1u8];
            v.extend([0u8; 16]);
            AvpOwned::new(0, ietf::MESSAGE_DIGEST, true, v)
        }
        fn seal(&self, b: &mut [u8], ours: &[u8], peer: &[u8]) {
            // Our view: (ours, peer); the verifier's: (its, ours). Order
            // the nonces canonically so both agree. The SCCRQ goes
            // without nonces (RFC 3931 §5.4.1).
            let sccrq = b.get(18..20) == Some(&[0, 1]);
            let (ours, peer): (&[u8], &[u8]) = if sccrq { (&[], &[]) } else { (ours, peer) };
            let (a, c) = if ours <= peer {
                (ours, peer)
            } else {
                (peer, ours)
            };
            let d = self.mac(b, a, c);
            b[27..43].copy_from_slice(&d);
        }
        fn verify(&self, b: &[u8], ours: &[u8], peer: &[u8]) -> bool {
            let sccrq = b.get(18..20) == Some(&[0, 1]);
            let (ours, peer): (&[u8], &[u8]) = if sccrq { (&[], &[]) } else { (ours, peer) };
            let (a, c) = if ours <= peer {
                (ours, peer)
            } else {
                (peer, ours)
            };
            b.len() >= 43 && b[20..26] == [0x80, 23, 0, 0, 0, 59] && b[27..43] == self.mac(b, a, c)
        }
        fn challenge_response(&self, ty: u16, ch: &[u8]) -> [u8; 16] {
            let mut v = vec![ty as u8];
            v.extend(ch);
            self.mac(&v, &[], &[])
        }
    }

    fn auth_cfg(key: u8, digest: bool, challenge: bool) -> TunnelConfig {
        TunnelConfig {
            auth: Some(Arc::new(ToyAuth(key))),
            digest,
            challenge,
            ..cfg()
        }
    }

    /// Moves datagrams between two endpoints; drops those `lose` selects.
    fn pump(
        a: &mut Endpoint<u8>,
        b: &mut Endpoint<u8>,
        until: u64,
        mut pending: Vec<(bool, Vec<u8>)>,
        lose: &mut dyn FnMut(usize, &[u8]) -> bool,
        ev: &mut Vec<(bool, Action)>,
    ) {
        let mut now = 0;
        let mut n = 0;
        while now <= until {
            let mut next = Vec::new();
            for (to_b, bytes) in pending.drain(..) {
                n += 1;
                // Everything either side builds follows RFC 3931 §6.
                let m = Message::parse(&bytes).unwrap();
                assert_eq!(rules::check(&m), vec![], "{m:?}");
                if lose(n, &bytes) {
                    continue;
                }
                let out = if to_b {
                    b.handle(now, 1, &bytes)
                } else {
                    a.handle(now, 2, &bytes)
                };
                for (_, act) in out {
                    match act {
                        Action::Send(x) => next.push((!to_b, x)),
                        e => ev.push((!to_b, e)),
                    }
                }
            }
            for (from_a, ep) in [(true, &mut *a), (false, &mut *b)] {
                for (_, act) in ep.poll(now) {
                    match act {
                        Action::Send(x) => next.push((from_a, x)),
                        e => ev.push((from_a, e)),
                    }
                }
            }
            pending = next;
            now += 50;
        }
    }

    fn ups(ev: &[(bool, Action)], side: bool) -> Vec<SessionUp> {
        ev.iter()
            .filter_map(|(s, a)| match a {
                Action::SessionUp(u) if *s == side => Some(u.clone()),
                _ => None,
            })
            .collect()
    }

    fn edge_vs_las(ca: TunnelConfig, cb: TunnelConfig, lose: &mut dyn FnMut(usize, &[u8]) -> bool) {
        let mut a = Endpoint::new(
            EndpointConfig {
                tunnel: ca,
                ..EndpointConfig::default()
            },
            Box::new({
                let mut n = 0x5000u32;
                move || {
                    n += 3;
                    n
                }
            }),
        );
        let mut b = endpoint(cb);
        let (ccid, out) = a.connect(0, 2);
        let pending = out
            .into_iter()
            .filter_map(|(_, x)| match x {
                Action::Send(x) => Some((true, x)),
                _ => None,
            })
            .collect();
        let mut ev = Vec::new();
        pump(&mut a, &mut b, 20_000, pending, lose, &mut ev);
        assert_eq!(a.tunnel(ccid).unwrap().state(), TunnelState::Established);
        let (sid, out) = a.open_session(20_000, ccid, b"vc7", 5).unwrap();
        let pending = out
            .into_iter()
            .filter_map(|(_, x)| match x {
                Action::Send(x) => Some((true, x)),
                _ => None,
            })
            .collect();
        pump(&mut a, &mut b, 30_000, pending, lose, &mut ev);
        let ua = ups(&ev, true);
        let ub = ups(&ev, false);
        assert_eq!(ua.len(), 1, "{ev:?}");
        assert_eq!(ub.len(), 1, "{ev:?}");
        assert_eq!(ua[0].local_session_id, sid);
        assert_eq!(ua[0].remote_session_id, ub[0].local_session_id);
        assert_eq!(ub[0].remote_session_id, sid);
        assert_eq!(ua[0].our_cookie, ub[0].peer_cookie);
        assert_eq!(ub[0].our_cookie, ua[0].peer_cookie);
        assert_eq!(ub[0].remote_end_id, b"vc7");
        assert!(a.tunnel(ccid).unwrap().reliable().all_acked());
        assert!(ev.iter().all(|(_, e)| !matches!(e, Action::TunnelDown(_))));
    }

    #[test]
    fn initiator_against_responder_lossless() {
        edge_vs_las(cfg(), cfg(), &mut |_, _| false);
    }

    #[test]
    fn initiator_against_responder_lossy_cisco_cookies() {
        let mut ca = cfg();
        ca.initiator_flavour = Flavour::CiscoDual;
        ca.session.cookie_len = 8;
        let mut cb = cfg();
        cb.session.cookie_len = 4;
        // Lose every third datagram.
        edge_vs_las(ca, cb, &mut |n, _| n % 3 == 0);
    }

    /// Counts the explicit ACKs crossing; fails on any ZLB (not permitted
    /// with authentication, RFC 3931 §6.15).
    fn no_zlb(acks: &mut usize) -> impl FnMut(&[u8]) + '_ {
        move |b| {
            let m = Message::parse(b).unwrap();
            assert!(!m.is_zlb(), "a ZLB with digests on");
            if m.msg_type == Some(MessageType::Ack) {
                // Sealed like every message.
                assert_eq!(m.avps[0].attr, ietf::MESSAGE_DIGEST, "{m:?}");
                *acks += 1;
            }
        }
    }

    #[test]
    fn initiator_against_responder_digest_and_challenge() {
        let mut acks = 0;
        let mut check = no_zlb(&mut acks);
        edge_vs_las(
            auth_cfg(9, true, true),
            auth_cfg(9, true, true),
            &mut |n, b| {
                check(b);
                n % 4 == 0
            },
        );
        drop(check);
        assert!(acks > 0);
    }

    fn secret_cfg(secret: &[u8]) -> TunnelConfig {
        TunnelConfig {
            auth: Some(Arc::new(super::super::SecretAuth::new(
                crate::wire::l2tp::auth::DigestAlg::Md5,
                secret,
            ))),
            digest: true,
            challenge: true,
            ..cfg()
        }
    }

    /// An SCCRQ whose Host Name is hidden (RFC 3931 §5.3): decoded with
    /// the secret; without one the message is dropped, not misread.
    fn sccrq_hidden_host(secret: &[u8]) -> Vec<u8> {
        use crate::wire::l2tp::avp::ietf;
        use crate::wire::l2tp::message::{Flavour, Message, MessageType};
        let rv = [7u8; 16];
        Message::new(MessageType::Sccrq, 0)
            .with_protocol_version(1, 0)
            .with_assigned_ccid(Flavour::Ietf, 77)
            .with_router_id(Flavour::Ietf, 0x0a00_0001)
            .with_pw_capabilities(Flavour::Ietf, &[5])
            .with_random_vector(&rv)
            .avp_hidden(0, ietf::HOST_NAME, true, b"cisco-pe1", secret, &rv)
            .emit()
    }

    #[test]
    fn hidden_avps_decoded_with_the_secret() {
        let mut las = endpoint(TunnelConfig {
            secret: Some(b"s3cret".to_vec()),
            ..cfg()
        });
        let out = las.handle(0, 1, &sccrq_hidden_host(b"s3cret"));
        assert!(
            out.iter().any(|(_, a)| matches!(a, Action::Send(_))),
            "SCCRP sent"
        );
        let (_, t) = las.tunnels().next().unwrap();
        assert_eq!(t.peer_host_name(), b"cisco-pe1");

        let mut plain = endpoint(cfg());
        let out = plain.handle(0, 1, &sccrq_hidden_host(b"s3cret"));
        assert!(quiet(&out), "no secret: nothing answered");
        assert_eq!(refused(&out), [RefuseReason::HiddenUndecodable]);
        assert_eq!(plain.stats().hidden_undecodable, 1);
        assert_eq!(plain.tunnel_count(), 0);
    }

    #[test]
    fn initiator_against_responder_real_hmac() {
        let mut acks = 0;
        let mut check = no_zlb(&mut acks);
        edge_vs_las(secret_cfg(b"s3cret"), secret_cfg(b"s3cret"), &mut |n, b| {
            check(b);
            n % 5 == 0
        });
        drop(check);
        assert!(acks > 0);
    }

    #[test]
    fn real_hmac_wrong_secret_dropped() {
        let mut a = endpoint(secret_cfg(b"one"));
        let mut b = endpoint(secret_cfg(b"two"));
        let (_, out) = a.connect(0, 2);
        let (_, Action::Send(rq)) = &out[0] else {
            panic!()
        };
        let out = b.handle(0, 1, rq);
        assert!(quiet(&out));
        assert_eq!(refused(&out), [RefuseReason::DigestFailed]);
        // Counted, and no half-open tunnel is kept for it.
        assert_eq!(b.stats().sccrq_auth_failures, 1);
        assert_eq!(b.tunnel_count(), 0);
    }

    #[test]
    fn digest_failure_dropped_and_counted() {
        let mut a = Endpoint::new(
            EndpointConfig {
                tunnel: auth_cfg(1, true, false),
                ..EndpointConfig::default()
            },
            rng(),
        );
        let mut b = endpoint(auth_cfg(2, true, false));
        let (_, out) = a.connect(0, 2);
        let (_, Action::Send(rq)) = &out[0] else {
            panic!()
        };
        // Wrong key: dropped, no reply, counted.
        let out = b.handle(0, 1, rq);
        assert!(quiet(&out));
        assert_eq!(refused(&out), [RefuseReason::DigestFailed]);
        assert!(b.poll(5_000).is_empty());
        // Counted by the endpoint; the tunnel created for the SCCRQ is
        // not kept (it would hold a slot until the setup timeout).
        assert_eq!(b.stats().sccrq_auth_failures, 1);
        assert!(b.tunnel(0x100).is_none());
        assert_eq!(b.tunnel_count(), 0);
        // A tampered message with the right key is dropped too.
        let mut c = endpoint(auth_cfg(1, true, false));
        let mut bad = rq.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(quiet(&c.handle(0, 1, &bad)));
        // The genuine one is answered.
        let out = c.handle(0, 1, rq);
        assert_eq!(sends(&out), 1);
    }

    #[test]
    fn wrong_challenge_response_closes_silently() {
        let mut ep = endpoint(auth_cfg(3, false, true));
        let mut p = Peer::new(Flavour::Ietf);
        let rp = {
            let x = p.sccrq();
            p.recv(&ep.handle(0, PEER, &x))
        };
        assert!(rp[0].challenge().is_some());
        p.ccid = rp[0].assigned_ccid().unwrap();
        let cn = p.msg(Message::new(MessageType::Scccn, 0).with_challenge_response(&[0; 16]));
        let out = ep.handle(10, PEER, &cn);
        assert_eq!(sends(&out), 0);
        assert!(matches!(
            events(&out)[..],
            [Action::TunnelDown(TunnelDown {
                reason: DownReason::AuthFailed,
                ..
            })]
        ));
        assert_eq!(ep.tunnel_count(), 0);
    }

    #[test]
    fn tie_breaker_lower_wins() {
        let mut c = cfg();
        c.tie_breaker = true;
        let mut a = endpoint(c);
        let (ours, _) = a.connect(0, PEER);
        let tb = a.tunnel(ours).unwrap().tie_breaker().unwrap();
        let fl = Flavour::Ietf;
        let sccrq = |v: u64| {
            Message::new(MessageType::Sccrq, 0)
                .with_assigned_ccid(fl, 77)
                .with_tie_breaker(fl, v)
                .emit()
        };
        // Theirs is higher: we win and ignore it.
        assert!(a.handle(10, PEER, &sccrq(tb + 1)).is_empty());
        assert_eq!(a.stats().tie_won, 1);
        // Theirs is lower: we abandon ours and answer.
        let out = a.handle(20, PEER, &sccrq(tb - 1));
        assert!(matches!(
            events(&out)[..],
            [Action::TunnelDown(TunnelDown {
                reason: DownReason::LostTieBreaker,
                ..
            })]
        ));
        assert_eq!(sends(&out), 1);
        assert!(a.tunnel(ours).is_none());
        assert_eq!(a.tunnel_count(), 1);
    }

    #[test]
    fn wrong_peer_and_unknown_ccid() {
        let mut ep = endpoint(cfg());
        let mut p = Peer::new(Flavour::Ietf);
        let ours = establish(&mut ep, &mut p);
        let hello = p.msg(Message::new(MessageType::Hello, 0));
        assert_eq!(
            refused(&ep.handle(100, 9, &hello)),
            [RefuseReason::WrongPeer]
        );
        assert_eq!(ep.stats().wrong_peer, 1);
        let mut m = Message::parse(&hello).unwrap();
        m.ccid = ours + 1;
        assert_eq!(
            refused(&ep.handle(100, PEER, &m.emit())),
            [RefuseReason::UnknownCcid]
        );
        assert_eq!(ep.stats().unknown_ccid, 1);
        assert_eq!(
            refused(&ep.handle(100, PEER, &[1, 2, 3])),
            [RefuseReason::Malformed]
        );
        assert_eq!(ep.stats().malformed, 1);
    }

    #[test]
    fn setup_timeout() {
        let mut ep = endpoint(cfg());
        let mut p = Peer::new(Flavour::Ietf);
        let rp = {
            let x = p.sccrq();
            p.recv(&ep.handle(0, PEER, &x))
        };
        // The peer acks the SCCRP but never sends SCCCN.
        let z = Message::zlb(rp[0].assigned_ccid().unwrap(), 1, 1).emit();
        ep.handle(100, PEER, &z);
        let out = ep.poll(60_000);
        assert!(matches!(
            events(&out)[..],
            [Action::TunnelDown(TunnelDown {
                reason: DownReason::SetupTimeout,
                ..
            })]
        ));
    }

    /// las with digests on acknowledges with a sealed explicit ACK, never
    /// a ZLB; that ACK takes no Ns, is not retransmitted. The peer's ACK
    /// (unnumbered) only acknowledges: a bad digest is dropped and
    /// counted, a good one accepted, and the next real message, carrying
    /// the same Ns, is processed.
    #[test]
    fn digest_explicit_ack_both_ways() {
        use crate::wire::l2tp::auth;
        use crate::wire::l2tp::auth::DigestAlg;
        let mut c = secret_cfg(b"s3cret");
        c.challenge = false;
        let mut ep = endpoint(c);
        let key = auth::shared_key(b"s3cret");
        let nonce = vec![0x5au8; 16];
        let mut p = Peer::new(Flavour::Ietf);
        let rq = Message::parse(&p.sccrq())
            .unwrap()
            .with_nonce(Flavour::Ietf, &nonce);
        let out = ep.handle(
            0,
            PEER,
            &rq.emit_with_digest(DigestAlg::Md5, &key, &nonce, &[]),
        );
        let (_, Action::Send(raw)) = &out[0] else {
            panic!("{out:?}")
        };
        let rp = Message::parse(raw).unwrap();
        assert_eq!(rp.msg_type, Some(MessageType::Sccrp));
        let las_nonce = rp.nonce().unwrap().to_vec();
        assert!(auth::verify_digest(raw, &key, &nonce, &las_nonce));
        p.recv(&out);
        let ours = rp.assigned_ccid().unwrap();
        p.ccid = ours;
        let seal = |b: Vec<u8>| {
            Message::parse(&b)
                .unwrap()
                .emit_with_digest(DigestAlg::Md5, &key, &nonce, &las_nonce)
        };
        let out = ep.handle(10, PEER, &seal(p.msg(Message::new(MessageType::Scccn, 0))));
        assert!(matches!(events(&out)[..], [Action::TunnelUp(_)]));
        assert_eq!(sends(&out), 0);
        // After the ack delay: an explicit ACK with a valid digest.
        assert!(ep.poll(109).is_empty());
        let out = ep.poll(110);
        assert_eq!(out.len(), 1);
        let (_, Action::Send(raw)) = &out[0] else {
            panic!("{out:?}")
        };
        let a = Message::parse(raw).unwrap();
        assert!(!a.is_zlb());
        assert_eq!(a.msg_type, Some(MessageType::Ack));
        assert_eq!((a.ccid, a.ns, a.nr), (PEER_CCID, 1, 2));
        assert_eq!(a.avps.len(), 1);
        assert_eq!(
            (a.avps[0].vendor, a.avps[0].attr),
            (0, ietf::MESSAGE_DIGEST)
        );
        assert!(auth::verify_digest(raw, &key, &nonce, &las_nonce));
        let r = ep.tunnel(ours).unwrap().reliable();
        assert_eq!(r.next_ns(), 1, "the ACK took no Ns");
        assert!(r.all_acked());
        assert_eq!((r.stats().ack_sent, r.stats().zlb_sent), (1, 0));
        // Never retransmitted.
        assert!(ep.poll(30_000).is_empty());

        // ICRQ (Ns 2) → ICRP (Ns 1), outstanding.
        let out = ep.handle(31_000, PEER, &seal(p.icrq(0x7777, pw_type::ETHERNET)));
        let m = p.recv(&out);
        assert_eq!(m[0].msg_type, Some(MessageType::Icrp));
        assert_eq!((m[0].ns, m[0].nr), (1, 3));
        assert_eq!(ep.tunnel(ours).unwrap().reliable().outstanding(), 1);
        // Our ACK of it, unnumbered: Ns 3 is our next.
        let mut ack = Message::new(MessageType::Ack, ours);
        ack.ns = p.ns;
        ack.nr = p.nr;
        assert_eq!((ack.ns, ack.nr), (3, 2));
        let good = ack.emit_with_digest(DigestAlg::Md5, &key, &nonce, &las_nonce);
        let mut bad = good.clone();
        bad[30] ^= 1;
        let out = ep.handle(31_010, PEER, &bad);
        assert!(quiet(&out));
        assert_eq!(refused(&out), [RefuseReason::DigestFailed]);
        let t = ep.tunnel(ours).unwrap();
        assert_eq!(t.stats().auth_failures, 1);
        assert_eq!(t.reliable().outstanding(), 1, "bad digest: Nr not used");
        assert!(ep.handle(31_020, PEER, &good).is_empty());
        let t = ep.tunnel(ours).unwrap();
        assert_eq!(t.stats().auth_failures, 1);
        assert_eq!(t.stats().ignored, 0, "no FSM event");
        assert_eq!(t.reliable().outstanding(), 0);
        assert_eq!(t.reliable().expected_ns(), 3);
        // Neither acknowledged nor does the ICRP come again.
        assert!(ep.poll(33_000).is_empty());
        // The ICCN carries Ns 3 too: processed, not a duplicate.
        let fl = p.fl;
        let iccn = p.msg(
            Message::new(MessageType::Iccn, 0)
                .with_local_session_id(fl, 0x7777)
                .with_remote_session_id(fl, m[0].local_session_id().unwrap()),
        );
        assert_eq!(Message::parse(&iccn).unwrap().ns, 3);
        let out = ep.handle(34_000, PEER, &seal(iccn));
        assert!(
            matches!(events(&out)[..], [Action::SessionUp(_)]),
            "{out:?}"
        );
        let out = ep.poll(34_100);
        let (_, Action::Send(raw)) = &out[0] else {
            panic!("{out:?}")
        };
        let a = Message::parse(raw).unwrap();
        assert_eq!(a.msg_type, Some(MessageType::Ack));
        assert_eq!((a.ns, a.nr), (2, 4));
        assert!(auth::verify_digest(raw, &key, &nonce, &las_nonce));
        let r = ep.tunnel(ours).unwrap().reliable();
        assert_eq!(r.stats().duplicates, 0);
        assert_eq!((r.stats().ack_sent, r.stats().zlb_sent), (2, 0));
    }

    /// Without authentication an explicit ACK from the peer is accepted
    /// the same way (acknowledgement only, no Ns); ours stay ZLBs.
    #[test]
    fn explicit_ack_without_digest_is_unnumbered() {
        let mut ep = endpoint(cfg());
        let mut p = Peer::new(Flavour::Ietf);
        let ours = establish(&mut ep, &mut p);
        let icrq = p.icrq(0x7777, pw_type::ETHERNET);
        let m = p.recv(&ep.handle(100, PEER, &icrq));
        assert_eq!((m[0].ns, m[0].nr), (1, 3));
        let mut ack = Message::new(MessageType::Ack, ours);
        ack.ns = p.ns;
        ack.nr = p.nr;
        assert!(ep.handle(150, PEER, &ack.emit()).is_empty());
        let t = ep.tunnel(ours).unwrap();
        assert_eq!(t.reliable().outstanding(), 0);
        assert_eq!(t.reliable().expected_ns(), 3);
        assert_eq!(t.stats().ignored, 0);
        assert!(ep.poll(1_500).is_empty());
        let fl = p.fl;
        let iccn = p.msg(
            Message::new(MessageType::Iccn, 0)
                .with_local_session_id(fl, 0x7777)
                .with_remote_session_id(fl, m[0].local_session_id().unwrap()),
        );
        let out = ep.handle(2_000, PEER, &iccn);
        assert!(
            matches!(events(&out)[..], [Action::SessionUp(_)]),
            "{out:?}"
        );
        let out = ep.poll(2_100);
        let (_, Action::Send(z)) = &out[0] else {
            panic!("{out:?}")
        };
        let z = Message::parse(z).unwrap();
        assert!(z.is_zlb());
        assert_eq!((z.ns, z.nr), (2, 4));
        assert_eq!(ep.tunnel(ours).unwrap().reliable().stats().duplicates, 0);
    }

    // ---- issue 8: interop ----

    /// What IOS sends in an ICRQ (RFC 3931 §6.6 and the draft form):
    /// Serial Number with M = 1 (as RFC 2661 required, §5.4.4 allows it),
    /// Circuit Status, Session Tie Breaker and Interface MTU (vendor 9),
    /// the VC ID in ASCII.
    fn ios_icrq(p: &mut Peer, sid: u32, vc: &[u8]) -> Vec<u8> {
        let m = ios_icrq_msg(p.fl, sid, vc);
        p.msg(m)
    }

    fn ios_icrq_msg(fl: Flavour, sid: u32, vc: &[u8]) -> Message {
        let mut m = Message::new(MessageType::Icrq, 0)
            .with_local_session_id(fl, sid)
            .with_remote_session_id(fl, 0)
            .avp_u32(0, ietf::SERIAL_NUMBER, true, 7)
            .with_pw_type(fl, pw_type::ETHERNET)
            .with_remote_end_id(fl, vc)
            .with_circuit_status(fl, true, true)
            .with_tie_breaker(fl, 0x0102_0304_0506_0708);
        if fl == Flavour::CiscoDual {
            m = m.avp_u16(cisco::VENDOR, cisco::INTERFACE_MTU, false, 1500);
        }
        m
    }

    fn ios_session(fl: Flavour) {
        let mut ep = endpoint(cfg());
        let mut p = Peer::new(fl);
        let ours = establish(&mut ep, &mut p);
        let out = ep.handle(100, PEER, &ios_icrq(&mut p, 0x99, b"100"));
        assert_eq!(refused(&out), vec![]);
        let rp = p.recv(&out);
        assert_eq!(rp[0].msg_type, Some(MessageType::Icrp));
        assert_eq!(rules::check(&rp[0]), vec![]);
        assert_eq!(rp[0].circuit_status(), Some((true, true)));
        let sid = rp[0].local_session_id().unwrap();
        let iccn = p.msg(
            Message::new(MessageType::Iccn, 0)
                .with_local_session_id(fl, 0x99)
                .with_remote_session_id(fl, sid)
                .with_circuit_status(fl, true, false),
        );
        let out = ep.handle(200, PEER, &iccn);
        match &events(&out)[..] {
            [Action::SessionUp(u)] => {
                assert_eq!(u.local_ccid, ours);
                assert_eq!(u.remote_end_id, b"100");
            }
            e => panic!("{e:?}"),
        }
        assert_eq!(ep.tunnel(ours).unwrap().stats().nonconformant_rx, 0);
    }

    #[test]
    fn ios_icrq_with_serial_number_m1_comes_up_dual() {
        ios_session(Flavour::CiscoDual);
    }

    #[test]
    fn ios_icrq_with_serial_number_m1_comes_up_ietf() {
        ios_session(Flavour::Ietf);
    }

    /// Any registered IETF AVP with M = 1 is recognised, however unused
    /// (§5.2: "the M bit is of no consequence"); an unregistered one still
    /// refuses the session, and the CDN says which.
    #[test]
    fn registered_avps_never_tear_down() {
        let mut ep = endpoint(cfg());
        let mut p = Peer::new(Flavour::Ietf);
        establish(&mut ep, &mut p);
        for (i, attr) in [2u16, 3, 9, 14, 24, 30, 46, 80, 91, 101]
            .into_iter()
            .enumerate()
        {
            let m = ios_icrq_msg(Flavour::Ietf, 0x200 + i as u32, b"1");
            let b = p.msg(m.avp_u16(0, attr, true, 0));
            let out = ep.handle(100, PEER, &b);
            assert_eq!(refused(&out), vec![], "attr {attr}");
            assert_eq!(
                p.recv(&out)[0].msg_type,
                Some(MessageType::Icrp),
                "attr {attr}"
            );
        }
        let m = ios_icrq_msg(Flavour::Ietf, 0x300, b"1");
        let b = p.msg(m.avp_u16(0, 250, true, 0));
        let out = ep.handle(100, PEER, &b);
        assert_eq!(refused(&out), [RefuseReason::UnknownMandatoryAvp]);
        let cdn = &p.recv(&out)[0];
        let rc = cdn.result_code().unwrap();
        assert_eq!((rc.result, rc.error), (2, Some(8)));
        assert_eq!(
            rc.message.as_deref(),
            Some("unknown mandatory AVP: unregistered attribute 250")
        );
        assert_ne!(cdn.local_session_id(), Some(0));
        assert_eq!(cdn.remote_session_id(), Some(0x300));
    }

    /// A router that restarts and reuses its Control Connection ID opens
    /// a new tunnel (RFC 3931 §3.3), answered with a fresh SCCRP, not the
    /// old tunnel's ZLB; the old one goes once the new one is up.
    #[test]
    fn restart_reusing_ccid_gets_a_new_tunnel() {
        let mut ep = endpoint(cfg());
        let mut p = Peer::new(Flavour::CiscoDual);
        let (old, _) = with_session(&mut ep, &mut p);
        // The router restarts: same ccid, Ns from 0.
        let mut p2 = Peer::new(Flavour::CiscoDual);
        let out = ep.handle(1_000, PEER, &p2.sccrq());
        let rp = p2.recv(&out);
        assert_eq!(rp.len(), 1, "{out:?}");
        assert_eq!(rp[0].msg_type, Some(MessageType::Sccrp));
        assert_eq!((rp[0].ns, rp[0].nr), (0, 1));
        let new = rp[0].assigned_ccid().unwrap();
        assert_ne!(new, old);
        assert_eq!(ep.tunnel_count(), 2);
        // Its SCCCN brings it up and drops the old one with its session.
        p2.ccid = new;
        let out = ep.handle(1_010, PEER, &p2.msg(Message::new(MessageType::Scccn, 0)));
        let ev = events(&out);
        assert!(
            matches!(ev[0], Action::TunnelUp(TunnelUp { local_ccid, .. }) if local_ccid == new)
        );
        assert!(ev.iter().any(|e| matches!(e, Action::SessionDown(_))));
        assert!(ev.iter().any(|e| matches!(
            e,
            Action::TunnelDown(TunnelDown { reason: DownReason::Replaced, local_ccid, .. })
                if *local_ccid == old
        )));
        assert_eq!(refused(&out), [RefuseReason::Replaced]);
        // Silently: nothing is sent toward the old ccid (it is the new one's).
        assert_eq!(p2.recv(&out).len(), 0);
        assert!(ep.tunnel(old).is_none());
        assert_eq!(ep.tunnel(new).unwrap().state(), TunnelState::Established);
    }

    /// The same after the old tunnel was stopped (StopCCN, Closing): the
    /// closing tunnel does not swallow the new SCCRQ either.
    #[test]
    fn restart_while_closing_gets_a_new_tunnel() {
        let mut ep = endpoint(cfg());
        let mut p = Peer::new(Flavour::Ietf);
        let old = establish(&mut ep, &mut p);
        ep.stop_tunnel(500, old, stopccn_result::GENERAL_REQUEST_TO_CLEAR, None);
        assert_eq!(ep.tunnel(old).unwrap().state(), TunnelState::Closing);
        let mut p2 = Peer::new(Flavour::Ietf);
        let rp = {
            let x = p2.sccrq();
            p2.recv(&ep.handle(1_000, PEER, &x))
        };
        assert_eq!(rp[0].msg_type, Some(MessageType::Sccrp));
        assert_ne!(rp[0].assigned_ccid(), Some(old));
    }

    /// Repeated ICCNs (new Ns each) never make a second SessionUp: the
    /// data plane would take a member slot for each (zombie sessions).
    #[test]
    fn repeated_iccn_reports_up_once() {
        let mut ep = endpoint(cfg());
        let mut p = Peer::new(Flavour::Ietf);
        let (ours, sid) = with_session(&mut ep, &mut p);
        for i in 0..3 {
            let iccn = p.msg(
                Message::new(MessageType::Iccn, 0)
                    .with_local_session_id(Flavour::Ietf, 0x55)
                    .with_remote_session_id(Flavour::Ietf, sid),
            );
            let out = ep.handle(300 + i, PEER, &iccn);
            assert!(events(&out).is_empty(), "{out:?}");
        }
        assert_eq!(ep.tunnel(ours).unwrap().stats().repeated_iccn, 3);
        let cdn = p.msg(session::cdn(
            0,
            Flavour::Ietf,
            0x55,
            sid,
            &Refuse::new(RefuseReason::Local, 3, None, ""),
        ));
        let out = ep.handle(400, PEER, &cdn);
        assert_eq!(events(&out).len(), 1);
        assert_eq!(ep.tunnel(ours).unwrap().session_count(), 0);
    }

    /// A second ICRQ for a peer session that already has one is refused.
    #[test]
    fn duplicate_icrq_refused() {
        let mut ep = endpoint(cfg());
        let mut p = Peer::new(Flavour::Ietf);
        let (ours, _) = with_session(&mut ep, &mut p);
        let out = ep.handle(300, PEER, &p.icrq(0x55, pw_type::ETHERNET));
        assert_eq!(refused(&out), [RefuseReason::FsmError]);
        assert_eq!(p.recv(&out)[0].msg_type, Some(MessageType::Cdn));
        assert_eq!(ep.tunnel(ours).unwrap().session_count(), 1);
    }

    /// The caller's admission check refuses before ICRP, and the CDN
    /// carries its result, error and text.
    #[test]
    fn admission_refuses_with_the_callers_reason() {
        let mut ep = endpoint(cfg());
        let mut p = Peer::new(Flavour::Ietf);
        let ours = establish(&mut ep, &mut p);
        let icrq = ios_icrq(&mut p, 0x42, b"200");
        let mut asked = Vec::new();
        let out = ep.handle_with(100, PEER, &icrq, &mut |peer, r| {
            asked.push((*peer, r.remote_end_id.to_vec(), r.pw_type));
            Err(Denied {
                reason: RefuseReason::NoSwitch,
                result: 24,
                error: None,
                detail: "no switch has VC ID 200".into(),
            })
        });
        assert_eq!(asked, vec![(PEER, b"200".to_vec(), 5)]);
        assert_eq!(refused(&out), [RefuseReason::NoSwitch]);
        let cdn = &p.recv(&out)[0];
        assert_eq!(cdn.msg_type, Some(MessageType::Cdn));
        let rc = cdn.result_code().unwrap();
        assert_eq!(rc.result, 24);
        assert_eq!(rc.message.as_deref(), Some("no switch has VC ID 200"));
        assert_eq!(rules::check(cdn), vec![]);
        assert_eq!(ep.tunnel(ours).unwrap().session_count(), 0);
    }

    /// A peer that never acknowledges our CDN costs the retransmission
    /// budget and no more: the CDN goes out 1 + max_retries times, then
    /// the peer is declared dead.
    #[test]
    fn never_acked_cdn_costs_the_retransmission_budget() {
        let mut ep = endpoint(cfg());
        let mut p = Peer::new(Flavour::Ietf);
        let (ours, sid) = with_session(&mut ep, &mut p);
        let mut cdns = sends(&ep.close_session(300, ours, sid, 3, None, "bye"));
        let mut t = 300;
        let mut down = false;
        while t < 300 + 200_000 {
            t += 100;
            let out = ep.poll(t);
            cdns += out
                .iter()
                .filter(|(_, a)| matches!(a, Action::Send(b) if Message::parse(b).is_ok_and(|m| m.msg_type == Some(MessageType::Cdn))))
                .count();
            down |= out.iter().any(|(_, a)| {
                matches!(
                    a,
                    Action::TunnelDown(TunnelDown {
                        reason: DownReason::PeerDead,
                        ..
                    })
                )
            });
        }
        let retries = cfg().reliable.max_retries as usize;
        assert_eq!(cdns, 1 + retries);
        assert!(down);
        assert_eq!(ep.tunnel_count(), 0);
    }

    /// The initiator reports a session up only when the peer has
    /// acknowledged its ICCN (RFC 3931 §4.2), not when it sends it.
    #[test]
    fn initiator_up_only_after_iccn_acked() {
        let mut a = endpoint(cfg());
        let mut b = endpoint(cfg());
        let fwd = |to: &mut Endpoint<u8>, now: u64, out: Vec<(u8, Action)>| -> Vec<(u8, Action)> {
            let mut r = Vec::new();
            for (_, x) in out {
                if let Action::Send(bytes) = x {
                    r.extend(to.handle(now, 9, &bytes));
                }
            }
            r
        };
        let (ccid, out) = a.connect(0, 9);
        let out = fwd(&mut b, 0, out); // SCCRQ -> SCCRP
        let out = fwd(&mut a, 0, out); // SCCRP -> SCCCN
        let _ = fwd(&mut b, 0, out);
        let (sid, out) = a.open_session(10, ccid, b"7", 5).unwrap();
        let icrq = out
            .iter()
            .find_map(|(_, x)| match x {
                Action::Send(b) => Message::parse(b).ok(),
                _ => None,
            })
            .unwrap();
        assert_eq!(icrq.serial_number(), Some(1));
        assert_eq!(rules::check(&icrq), vec![]);
        let out = fwd(&mut b, 10, out); // ICRQ -> ICRP
        let out = fwd(&mut a, 10, out); // ICRP -> ICCN (not up yet)
        assert!(!out.iter().any(|(_, x)| matches!(x, Action::SessionUp(_))));
        let s = a.tunnel(ccid).unwrap().session(sid).unwrap();
        assert_eq!(s.state, SessionState::Established);
        assert!(!s.is_up());
        let iccn: Vec<(u8, Action)> = out
            .into_iter()
            .filter(|(_, x)| matches!(x, Action::Send(_)))
            .collect();
        let out = fwd(&mut b, 20, iccn); // las: up
        assert!(out.iter().any(|(_, x)| matches!(x, Action::SessionUp(_))));
        // las's acknowledgement (after its ack delay) brings the edge up.
        let ack = b.poll(20 + cfg().reliable.ack_delay + 1);
        let out = fwd(&mut a, 500, ack);
        assert!(out
            .iter()
            .any(|(_, x)| matches!(x, Action::SessionUp(u) if u.local_session_id == sid)));
        assert!(a.tunnel(ccid).unwrap().session(sid).unwrap().is_up());
    }

    /// One conformance test per RFC 3931 §6 message type las or las-edge
    /// builds, driven by `rules`: both sides of a full life (setup,
    /// session, HELLO, explicit ACK with digests, CDN, refusals, StopCCN)
    /// are collected, each message checked, and every type either side
    /// must be able to send is seen.
    #[test]
    fn every_message_built_conforms() {
        use std::collections::BTreeSet;
        let mut seen: BTreeSet<(bool, u16)> = BTreeSet::new();
        let mut note = |from_edge: bool, out: &[(u8, Action)]| -> Vec<Vec<u8>> {
            let mut v = Vec::new();
            for (_, a) in out {
                if let Action::Send(b) = a {
                    let m = Message::parse(b).unwrap();
                    assert_eq!(rules::check(&m), vec![], "{m:?}");
                    if let Some(t) = m.msg_type {
                        seen.insert((from_edge, u16::from(t)));
                    }
                    v.push(b.clone());
                }
            }
            v
        };
        for fl in [Flavour::Ietf, Flavour::CiscoDual] {
            let mut ca = auth_cfg(3, true, true);
            ca.initiator_flavour = fl;
            ca.hello_interval = 5_000;
            let mut edge = endpoint(ca);
            let mut las = endpoint(auth_cfg(3, true, true));
            let mut t = 0;
            // Deliver everything until quiet; returns nothing.
            let mut run = |edge: &mut Endpoint<u8>,
                           las: &mut Endpoint<u8>,
                           t: &mut u64,
                           first: Vec<(u8, Action)>,
                           from_edge: bool| {
                let mut q: Vec<(bool, Vec<u8>)> = note(from_edge, &first)
                    .into_iter()
                    .map(|b| (from_edge, b))
                    .collect();
                for _ in 0..50 {
                    let mut next = Vec::new();
                    for (fe, b) in q.drain(..) {
                        let out = if fe {
                            las.handle(*t, 1, &b)
                        } else {
                            edge.handle(*t, 2, &b)
                        };
                        next.extend(note(!fe, &out).into_iter().map(|b| (!fe, b)));
                    }
                    *t += 100;
                    for (fe, ep) in [(true, &mut *edge), (false, &mut *las)] {
                        let out = ep.poll(*t);
                        next.extend(note(fe, &out).into_iter().map(|b| (fe, b)));
                    }
                    if next.is_empty() {
                        break;
                    }
                    q = next;
                }
            };
            let (ccid, out) = edge.connect(t, 2);
            run(&mut edge, &mut las, &mut t, out, true);
            let (sid, out) = edge.open_session(t, ccid, b"100", 5).unwrap();
            run(&mut edge, &mut las, &mut t, out, true);
            // HELLO from both after silence.
            t += 6_000;
            run(&mut edge, &mut las, &mut t, Vec::new(), true);
            t += 60_000;
            run(&mut edge, &mut las, &mut t, Vec::new(), true);
            // las refuses a PW type with a CDN; the edge closes its own.
            let (_, out) = edge.open_session(t, ccid, b"100", 11).unwrap();
            run(&mut edge, &mut las, &mut t, out, true);
            let out = edge.close_session(t, ccid, sid, 3, None, "bye");
            run(&mut edge, &mut las, &mut t, out, true);
            let (_, out) = edge.open_session(t, ccid, b"101", 5).unwrap();
            run(&mut edge, &mut las, &mut t, out, true);
            // One side stops the tunnel: las in one flavour, the edge in
            // the other.
            let stop = stopccn_result::GENERAL_REQUEST_TO_CLEAR;
            if fl == Flavour::Ietf {
                let lccid = las.tunnels().next().unwrap().1.local_ccid();
                let out = las.stop_tunnel(t, lccid, stop, None);
                run(&mut edge, &mut las, &mut t, out, false);
            } else {
                let out = edge.stop_tunnel(t, ccid, stop, None);
                run(&mut edge, &mut las, &mut t, out, true);
            }
        }
        use MessageType as T;
        for (from_edge, ty) in [
            (true, T::Sccrq),
            (true, T::Scccn),
            (true, T::Icrq),
            (true, T::Iccn),
            (true, T::Cdn),
            (true, T::Hello),
            (true, T::Ack),
            (true, T::StopCcn),
            (false, T::Sccrp),
            (false, T::Icrp),
            (false, T::Cdn),
            (false, T::Hello),
            (false, T::Ack),
            (false, T::StopCcn),
        ] {
            assert!(
                seen.contains(&(from_edge, u16::from(ty))),
                "{} never sent {ty:?}: {seen:?}",
                if from_edge { "edge" } else { "las" }
            );
        }
    }

    /// A datagram longer than any control message is dropped before it
    /// is parsed (and before any digest is computed), and counted.
    #[test]
    fn oversize_dropped_before_parsing() {
        let mut ep = endpoint(auth_cfg(1, true, false));
        let mut p = Peer::new(Flavour::Ietf);
        let mut m = Message::parse(&p.sccrq()).unwrap();
        while m.buffer_len() <= super::super::MAX_MESSAGE_LEN {
            m.avps
                .insert(0, AvpOwned::new(0, ietf::MESSAGE_DIGEST, true, vec![0; 17]));
        }
        let out = ep.handle(0, PEER, &m.emit());
        assert!(quiet(&out));
        assert_eq!(refused(&out), [RefuseReason::Oversize]);
        assert_eq!(ep.tunnel_count(), 0);
        // Three digest AVPs in a small one: refused before hashing.
        let mut m = Message::parse(&p.sccrq()).unwrap();
        for _ in 0..3 {
            m.avps
                .insert(0, AvpOwned::new(0, ietf::MESSAGE_DIGEST, true, vec![0; 17]));
        }
        assert_eq!(
            refused(&ep.handle(0, PEER, &m.emit())),
            [RefuseReason::DigestFailed]
        );
    }

    /// A cookie that is not 0, 4 or 8 bytes refuses the session: it must
    /// never turn into "no cookie" (fail open).
    #[test]
    fn bad_cookie_refused() {
        let mut ep = endpoint(cfg());
        let mut p = Peer::new(Flavour::Ietf);
        let ours = establish(&mut ep, &mut p);
        let m =
            ios_icrq_msg(Flavour::Ietf, 0x77, b"1").with_assigned_cookie(Flavour::Ietf, &[1; 5]);
        let out = ep.handle(100, PEER, &p.msg(m));
        assert_eq!(refused(&out), [RefuseReason::BadAvp]);
        let rc = p.recv(&out)[0].result_code().unwrap();
        assert_eq!(
            rc.message.as_deref(),
            Some("Assigned Cookie of 5 bytes (must be 0, 4 or 8)")
        );
        assert_eq!(ep.tunnel(ours).unwrap().session_count(), 0);
    }
}
