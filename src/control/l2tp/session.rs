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

/// A refusal: the result and error codes of the CDN to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refuse {
    pub result: u16,
    pub error: Option<u16>,
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
        if icrq.unknown_mandatory().is_some() {
            return Err((
                remote_id,
                Refuse {
                    result: cdn_result::GENERAL_ERROR,
                    error: Some(error_code::UNKNOWN_MANDATORY_AVP),
                },
            ));
        }
        if remote_id == 0 {
            return Err((
                0,
                Refuse {
                    result: cdn_result::GENERAL_ERROR,
                    error: Some(error_code::INVALID_SESSION_ID),
                },
            ));
        }
        let pw_type = icrq.pw_type().unwrap_or(0);
        if !cfg.pw_types.contains(&pw_type) {
            return Err((
                remote_id,
                Refuse {
                    result: cdn_result::UNSUPPORTED_PW_TYPE,
                    error: None,
                },
            ));
        }
        let mut peer_l2spec = icrq.l2_specific_sublayer().unwrap_or(0);
        if peer_l2spec == 1 && !cfg.allow_default_sublayer {
            peer_l2spec = 0;
        }
        let sequencing = icrq.data_sequencing().unwrap_or(0);
        if sequencing != 0 && peer_l2spec == 0 {
            return Err((
                remote_id,
                Refuse {
                    result: cdn_result::SEQUENCING_WITHOUT_SUBLAYER,
                    error: None,
                },
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
        };
        let mut icrp = Message::new(MessageType::Icrp, peer_ccid)
            .with_local_session_id(flavour, local_id)
            .with_remote_session_id(flavour, remote_id)
            .with_pw_type(flavour, pw_type);
        if !s.our_cookie.is_empty() {
            icrp = icrp.with_assigned_cookie(flavour, &s.our_cookie);
        }
        if s.l2spec != 0 || icrq.l2_specific_sublayer().is_some() {
            icrp = icrp.with_l2_specific_sublayer(s.l2spec);
        }
        Ok((s, icrp))
    }

    /// Initiator: a new session and its ICRQ.
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
        };
        let mut icrq = Message::new(MessageType::Icrq, peer_ccid)
            .with_local_session_id(flavour, local_id)
            .with_remote_session_id(flavour, 0)
            .with_remote_end_id(flavour, remote_end_id)
            .with_pw_type(flavour, pw_type)
            .with_circuit_status(flavour, true, true)
            .with_l2_specific_sublayer(s.l2spec);
        if !s.our_cookie.is_empty() {
            icrq = icrq.with_assigned_cookie(flavour, &s.our_cookie);
        }
        (s, icrq)
    }

    /// Initiator: ICRP received in `WaitReply`. `Ok` is the ICCN to send
    /// (the session is then established).
    pub fn on_icrp(&mut self, icrp: &Message, peer_ccid: u32) -> Result<Message, Refuse> {
        if self.state != SessionState::WaitReply {
            return Err(Refuse {
                result: cdn_result::FSM_ERROR,
                error: None,
            });
        }
        if icrp.unknown_mandatory().is_some() {
            return Err(Refuse {
                result: cdn_result::GENERAL_ERROR,
                error: Some(error_code::UNKNOWN_MANDATORY_AVP),
            });
        }
        let remote = icrp.local_session_id().unwrap_or(0);
        if remote == 0 {
            return Err(Refuse {
                result: cdn_result::GENERAL_ERROR,
                error: Some(error_code::INVALID_SESSION_ID),
            });
        }
        if icrp.pw_type().is_some_and(|t| t != self.pw_type) {
            return Err(Refuse {
                result: cdn_result::UNSUPPORTED_PW_TYPE,
                error: None,
            });
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
            .with_l2_specific_sublayer(self.l2spec))
    }

    /// Responder: ICCN received in `WaitConnect`. True when it
    /// established the session.
    pub fn on_iccn(&mut self, iccn: &Message) -> Result<bool, Refuse> {
        match self.state {
            SessionState::WaitConnect => {}
            // A second ICCN (should not pass reliable delivery): ignore.
            SessionState::Established => return Ok(false),
            SessionState::WaitReply => {
                return Err(Refuse {
                    result: cdn_result::FSM_ERROR,
                    error: None,
                })
            }
        }
        if iccn.unknown_mandatory().is_some() {
            return Err(Refuse {
                result: cdn_result::GENERAL_ERROR,
                error: Some(error_code::UNKNOWN_MANDATORY_AVP),
            });
        }
        if let Some(s) = iccn.data_sequencing() {
            self.sequencing = s;
        }
        self.state = SessionState::Established;
        Ok(true)
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
    pub fn cdn(&self, peer_ccid: u32, refuse: Refuse) -> Message {
        cdn(
            peer_ccid,
            self.flavour,
            self.local_id,
            self.remote_id,
            refuse,
        )
    }
}

/// A CDN (RFC 3931 §6.11): Result Code, Local Session ID (ours), Remote
/// Session ID (the peer's; 0 if unknown).
pub fn cdn(peer_ccid: u32, flavour: Flavour, local: u32, remote: u32, r: Refuse) -> Message {
    Message::new(MessageType::Cdn, peer_ccid)
        .with_result_code(r.result, r.error, None)
        .with_local_session_id(flavour, local)
        .with_remote_session_id(flavour, remote)
}
