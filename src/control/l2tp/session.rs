//! One L2TPv3 session (pseudowire) inside a control connection: the
//! incoming-call FSM of RFC 3931 §3.4.1, both roles.
//!
//! ```text
//!  responder (las):   ICRQ ─▶ [send ICRP] WaitConnect ── ICCN ─▶ Established
//!  initiator (edge):  open ─▶ [send ICRQ] WaitReply ── ICRP ─▶ [send ICCN] Established
//!  any state:         CDN (received or sent) ─▶ gone
//! ```
//!
//! The session only builds messages and reports; the owning
//! [`super::tunnel::Tunnel`] sends them through reliable delivery and
//! turns results into [`super::Action`]s. A session that fails before it
//! is established leaves with a CDN and no `SessionDown` (the data plane
//! never heard of it).
//!
//! Cookies: `peer_cookie` is the Assigned Cookie the peer sent, which we
//! must put on every data packet we **send**; `our_cookie` is the one we
//! assigned and expect to **receive**. The L2-Specific Sublayer AVP says
//! which sublayer its sender wants to *receive* (§5.4.4); Data Sequencing
//! says whether its sender wants sequenced packets.

use super::RefuseReason;
use crate::wire::l2tp::avp::describe;
use crate::wire::l2tp::avp::ietf;
use crate::wire::l2tp::message::cdn_result;
use crate::wire::l2tp::message::error_code;
use crate::wire::l2tp::message::Flavour;
use crate::wire::l2tp::message::Message;
use crate::wire::l2tp::message::MessageType;

/// Where a session is (see the module diagram).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// Initiator: ICRQ sent, waiting for ICRP.
    WaitReply,
    /// Responder: ICRP sent, waiting for ICCN.
    WaitConnect,
    /// ICCN sent or received: the pseudowire carries data.
    Established,
}

/// What the data plane needs to carry a session, reported once when it
/// becomes established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUp {
    /// Our Control Connection ID of the owning tunnel.
    pub local_ccid: u32,
    /// The Session ID we assigned: data packets to us carry it.
    pub local_session_id: u32,
    /// The peer's Session ID: data packets we send carry it.
    pub remote_session_id: u32,
    /// The cookie the peer assigned: we **send** it (0, 4 or 8 bytes).
    pub peer_cookie: Vec<u8>,
    /// The cookie we assigned: we **expect** it on receive.
    pub our_cookie: Vec<u8>,
    /// Remote End ID (the VC ID): selects the virtual switch.
    pub remote_end_id: Vec<u8>,
    /// PW type (5 Ethernet, 4 Ethernet VLAN).
    pub pw_type: u16,
    /// Sublayer we expect on receive (0 none, 1 default).
    pub l2spec: u16,
    /// Sublayer the peer expects from us (0 none, 1 default).
    pub peer_l2spec: u16,
    /// Data sequencing the peer asked of us (0 none, 1 non-IP, 2 all).
    pub sequencing: u16,
}

/// Session parameters, taken from the tunnel configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// PW types we accept (default `[5, 4]`).
    pub pw_types: Vec<u16>,
    /// Length of the cookie we assign (0, 4 or 8; default 0: none).
    pub cookie_len: usize,
    /// Sublayer we want to receive (default 0: none).
    pub l2spec: u16,
    /// Accept a peer asking us to send the default sublayer (type 1).
    /// When false we send no sublayer whatever the peer asks, and a peer
    /// that also asks for sequencing is refused (CDN result 15).
    pub allow_default_sublayer: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            pw_types: vec![
                crate::wire::l2tp::message::pw_type::ETHERNET,
                crate::wire::l2tp::message::pw_type::ETHERNET_VLAN,
            ],
            cookie_len: 0,
            l2spec: 0,
            allow_default_sublayer: true,
        }
    }
}

/// A refusal: the result and error codes of the CDN to send, why (for
/// the counters) and the text for its Error Message and the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refuse {
    pub result: u16,
    pub error: Option<u16>,
    pub reason: RefuseReason,
    pub detail: String,
}

impl Refuse {
    pub fn new(
        reason: RefuseReason,
        result: u16,
        error: Option<u16>,
        detail: impl Into<String>,
    ) -> Refuse {
        Refuse {
            result,
            error,
            reason,
            detail: detail.into(),
        }
    }

    /// An AVP with M = 1 that we do not recognise (RFC 3931 §5.2:
    /// result 2, error 8).
    pub fn unknown_mandatory(vendor: u16, attr: u16) -> Refuse {
        Refuse::new(
            RefuseReason::UnknownMandatoryAvp,
            cdn_result::GENERAL_ERROR,
            Some(error_code::UNKNOWN_MANDATORY_AVP),
            format!("unknown mandatory AVP: {}", describe(vendor, attr)),
        )
    }

    /// A MUST AVP we cannot do without is absent.
    pub fn missing(attr: u16) -> Refuse {
        Refuse::new(
            RefuseReason::MissingAvp,
            cdn_result::GENERAL_ERROR,
            Some(error_code::LENGTH_WRONG),
            format!("missing {}", describe(ietf::VENDOR, attr)),
        )
    }

    /// A message not valid in the session's state.
    pub fn fsm(what: impl Into<String>) -> Refuse {
        Refuse::new(RefuseReason::FsmError, cdn_result::FSM_ERROR, None, what)
    }

    /// A local decision (e.g. an operator's close), no fault of the peer.
    pub fn local(result: u16, error: Option<u16>) -> Refuse {
        Refuse::new(RefuseReason::Local, result, error, String::new())
    }
}

/// One session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub state: SessionState,
    pub local_ccid: u32,
    pub local_id: u32,
    /// 0 until the peer told us (initiator before ICRP).
    pub remote_id: u32,
    pub pw_type: u16,
    pub remote_end_id: Vec<u8>,
    pub peer_cookie: Vec<u8>,
    pub our_cookie: Vec<u8>,
    pub l2spec: u16,
    pub peer_l2spec: u16,
    pub sequencing: u16,
    /// Last Circuit Status reported by the peer (active).
    pub circuit_active: bool,
    pub flavour: Flavour,
    /// Initiator: the reliable-delivery mark of our ICCN until the peer
    /// acknowledged it (then 0 and the session is reported up).
    pub iccn_mark: u64,
}

impl Session {
    /// Responder: checks an ICRQ and builds the session and its ICRP.
    /// `Err` carries the CDN to send (addressed to the peer's session id,
    /// which may be 0 when it was missing).
    #[allow(clippy::too_many_arguments)]
    pub fn accept(
        cfg: &SessionConfig,
        icrq: &Message,
        local_ccid: u32,
        peer_ccid: u32,
        local_id: u32,
        our_cookie: Vec<u8>,
        flavour: Flavour,
    ) -> Result<(Session, Message), (u32, Refuse)> {
        let remote_id = icrq.local_session_id().unwrap_or(0);
        if let Some((v, a)) = icrq.unknown_mandatory() {
            return Err((remote_id, Refuse::unknown_mandatory(v, a)));
        }
        if remote_id == 0 {
            let mut r = Refuse::missing(ietf::LOCAL_SESSION_ID);
            r.error = Some(error_code::INVALID_SESSION_ID);
            if icrq.local_session_id().is_some() {
                r.detail = "Local Session ID 0 is not a session".into();
            }
            return Err((0, r));
        }
        let Some(pw_type) = icrq.pw_type() else {
            return Err((remote_id, Refuse::missing(ietf::PW_TYPE)));
        };
        if !cfg.pw_types.contains(&pw_type) {
            return Err((
                remote_id,
                Refuse::new(
                    RefuseReason::UnsupportedPwType,
                    cdn_result::UNSUPPORTED_PW_TYPE,
                    None,
                    format!(
                        "PW type {pw_type} not supported (las carries {:?})",
                        cfg.pw_types
                    ),
                ),
            ));
        }
        if icrq.remote_end_id().is_none_or(<[u8]>::is_empty) {
            return Err((remote_id, Refuse::missing(ietf::REMOTE_END_ID)));
        }
        if let Some(r) = bad_cookie(icrq) {
            return Err((remote_id, r));
        }
        let mut peer_l2spec = icrq.l2_specific_sublayer().unwrap_or(0);
        if peer_l2spec == 1 && !cfg.allow_default_sublayer {
            peer_l2spec = 0;
        }
        let sequencing = icrq.data_sequencing().unwrap_or(0);
        if sequencing != 0 && peer_l2spec == 0 {
            return Err((
                remote_id,
                Refuse::new(
                    RefuseReason::SequencingWithoutSublayer,
                    cdn_result::SEQUENCING_WITHOUT_SUBLAYER,
                    None,
                    "Data Sequencing asked without the default L2-Specific Sublayer",
                ),
            ));
        }
        let s = Session {
            state: SessionState::WaitConnect,
            local_ccid,
            local_id,
            remote_id,
            pw_type,
            remote_end_id: icrq.remote_end_id().unwrap_or_default().to_vec(),
            peer_cookie: icrq.assigned_cookie().unwrap_or_default(),
            our_cookie,
            l2spec: cfg.l2spec,
            peer_l2spec,
            sequencing,
            circuit_active: icrq.circuit_status().is_none_or(|(a, _)| a),
            flavour,
            iccn_mark: 0,
        };
        // RFC 3931 §6.7: Local and Remote Session ID and Circuit Status
        // (§5.4.5: "MUST be advertised ... in ICRQ, ICRP"): our side of
        // the circuit is the virtual switch, active and new. Cisco's
        // draft form also echoes the PW type (rules::ICRP, Interop).
        let mut icrp = Message::new(MessageType::Icrp, peer_ccid)
            .with_local_session_id(flavour, local_id)
            .with_remote_session_id(flavour, remote_id)
            .with_circuit_status(flavour, true, true);
        if flavour == Flavour::CiscoDual {
            icrp = icrp.with_pw_type(flavour, pw_type);
        }
        if !s.our_cookie.is_empty() {
            icrp = icrp.with_assigned_cookie(flavour, &s.our_cookie);
        }
        if s.l2spec != 0 || icrq.l2_specific_sublayer().is_some() {
            icrp = icrp.with_l2_specific_sublayer(flavour, s.l2spec);
        }
        Ok((s, icrp))
    }

    /// Initiator: a new session and its ICRQ (RFC 3931 §6.6: Local and
    /// Remote Session ID, Serial Number, PW Type, Remote End ID, Circuit
    /// Status). `serial` numbers the sessions of this LCCE.
    #[allow(clippy::too_many_arguments)]
    pub fn initiate(
        cfg: &SessionConfig,
        local_ccid: u32,
        peer_ccid: u32,
        local_id: u32,
        our_cookie: Vec<u8>,
        remote_end_id: &[u8],
        pw_type: u16,
        flavour: Flavour,
        serial: u32,
    ) -> (Session, Message) {
        let s = Session {
            state: SessionState::WaitReply,
            local_ccid,
            local_id,
            remote_id: 0,
            pw_type,
            remote_end_id: remote_end_id.to_vec(),
            peer_cookie: Vec::new(),
            our_cookie,
            l2spec: cfg.l2spec,
            peer_l2spec: 0,
            sequencing: 0,
            circuit_active: true,
            flavour,
            iccn_mark: 0,
        };
        let mut icrq = Message::new(MessageType::Icrq, peer_ccid)
            .with_local_session_id(flavour, local_id)
            .with_remote_session_id(flavour, 0)
            .with_serial_number(flavour, serial)
            .with_remote_end_id(flavour, remote_end_id)
            .with_pw_type(flavour, pw_type)
            .with_circuit_status(flavour, true, true)
            .with_l2_specific_sublayer(flavour, s.l2spec);
        if !s.our_cookie.is_empty() {
            icrq = icrq.with_assigned_cookie(flavour, &s.our_cookie);
        }
        (s, icrq)
    }

    /// Initiator: ICRP received in `WaitReply`. `Ok` is the ICCN to send
    /// (the session is then established).
    pub fn on_icrp(&mut self, icrp: &Message, peer_ccid: u32) -> Result<Message, Refuse> {
        if self.state != SessionState::WaitReply {
            return Err(Refuse::fsm("ICRP for a session not waiting for one"));
        }
        if let Some((v, a)) = icrp.unknown_mandatory() {
            return Err(Refuse::unknown_mandatory(v, a));
        }
        let remote = icrp.local_session_id().unwrap_or(0);
        if remote == 0 {
            let mut r = Refuse::missing(ietf::LOCAL_SESSION_ID);
            r.error = Some(error_code::INVALID_SESSION_ID);
            return Err(r);
        }
        if let Some(r) = bad_cookie(icrp) {
            return Err(r);
        }
        if let Some(t) = icrp.pw_type().filter(|t| *t != self.pw_type) {
            return Err(Refuse::new(
                RefuseReason::UnsupportedPwType,
                cdn_result::UNSUPPORTED_PW_TYPE,
                None,
                format!(
                    "ICRP names PW type {t}, the ICRQ asked for {}",
                    self.pw_type
                ),
            ));
        }
        self.remote_id = remote;
        self.peer_cookie = icrp.assigned_cookie().unwrap_or_default();
        self.peer_l2spec = icrp.l2_specific_sublayer().unwrap_or(0);
        self.sequencing = icrp.data_sequencing().unwrap_or(0);
        self.state = SessionState::Established;
        let fl = self.flavour;
        Ok(Message::new(MessageType::Iccn, peer_ccid)
            .with_local_session_id(fl, self.local_id)
            .with_remote_session_id(fl, self.remote_id)
            .with_l2_specific_sublayer(fl, self.l2spec))
    }

    /// Responder: ICCN received in `WaitConnect`. True when it
    /// established the session; false for another ICCN on an established
    /// session (a retransmission with a new Ns, or a hostile peer): the
    /// session is established once and reported up once.
    pub fn on_iccn(&mut self, iccn: &Message) -> Result<bool, Refuse> {
        match self.state {
            SessionState::WaitConnect => {}
            SessionState::Established => return Ok(false),
            SessionState::WaitReply => {
                return Err(Refuse::fsm("ICCN for a session that sent the ICRQ"))
            }
        }
        if let Some((v, a)) = iccn.unknown_mandatory() {
            return Err(Refuse::unknown_mandatory(v, a));
        }
        if let Some(s) = iccn.data_sequencing() {
            self.sequencing = s;
        }
        self.state = SessionState::Established;
        Ok(true)
    }

    /// Whether the session was reported up (`SessionUp`): established,
    /// and for the initiator its ICCN acknowledged.
    pub fn is_up(&self) -> bool {
        self.state == SessionState::Established && self.iccn_mark == 0
    }

    /// The data-plane view of an established session.
    pub fn up(&self) -> SessionUp {
        SessionUp {
            local_ccid: self.local_ccid,
            local_session_id: self.local_id,
            remote_session_id: self.remote_id,
            peer_cookie: self.peer_cookie.clone(),
            our_cookie: self.our_cookie.clone(),
            remote_end_id: self.remote_end_id.clone(),
            pw_type: self.pw_type,
            l2spec: self.l2spec,
            peer_l2spec: self.peer_l2spec,
            sequencing: self.sequencing,
        }
    }

    /// A CDN for this session.
    pub fn cdn(&self, peer_ccid: u32, refuse: &Refuse) -> Message {
        cdn(
            peer_ccid,
            self.flavour,
            self.local_id,
            self.remote_id,
            refuse,
        )
    }
}

/// An Assigned Cookie that is not 0, 4 or 8 bytes (RFC 3931 §5.4.4): a
/// refusal, never "no cookie".
fn bad_cookie(m: &Message) -> Option<Refuse> {
    let c = m.assigned_cookie_raw()?;
    (!matches!(c.len(), 0 | 4 | 8)).then(|| {
        Refuse::new(
            RefuseReason::BadAvp,
            cdn_result::GENERAL_ERROR,
            Some(error_code::VALUE_OUT_OF_RANGE),
            format!("Assigned Cookie of {} bytes (must be 0, 4 or 8)", c.len()),
        )
    })
}

/// A CDN (RFC 3931 §6.12): Result Code (with the refusal's text as its
/// Error Message, §5.4.2), Local Session ID (ours), Remote Session ID
/// (the peer's; 0 if unknown).
pub fn cdn(peer_ccid: u32, flavour: Flavour, local: u32, remote: u32, r: &Refuse) -> Message {
    let text = (!r.detail.is_empty()).then_some(r.detail.as_str());
    Message::new(MessageType::Cdn, peer_ccid)
        .with_result_code(r.result, r.error, text)
        .with_local_session_id(flavour, local)
        .with_remote_session_id(flavour, remote)
}
