//! Setting a control connection up and down: SCCRQ/SCCRP/SCCCN with
//! their challenges and digests, StopCCN both ways, and what becomes of
//! the sessions when the tunnel goes.

use super::*;

impl Tunnel {
    pub(super) fn on_sccrq(
        &mut self,
        now: u64,
        m: &Message,
        ids: &mut HashSet<u32>,
        out: &mut Vec<Action>,
    ) {
        self.flavour = if m.has_cisco_avps() {
            Flavour::CiscoDual
        } else {
            Flavour::Ietf
        };
        self.set_ack_style();
        self.remote_ccid = m.assigned_ccid().unwrap_or(0);
        self.rel.set_peer_ccid(self.remote_ccid);
        self.rel
            .set_peer_window(m.receive_window().unwrap_or(DEFAULT_PEER_WINDOW));
        self.peer_host_name = m.host_name().unwrap_or_default().to_vec();
        if let Some((reason, err, text)) = self.setup_error(m) {
            self.refuse_stop(now, m, reason, err, text, ids, out);
            return;
        }
        let fl = self.flavour;
        let mut r = Message::new(MessageType::Sccrp, self.remote_ccid);
        if let Some((v, rev)) = m.protocol_version() {
            r = r.with_protocol_version(v, rev);
        }
        r = r
            .with_host_name(&self.cfg.host_name)
            .with_router_id(fl, self.cfg.router_id)
            .with_receive_window(self.cfg.reliable.receive_window)
            .with_assigned_ccid(fl, self.local_ccid)
            .with_pw_capabilities(fl, &self.cfg.session.pw_types);
        if fl == Flavour::CiscoDual {
            r = r.avp_u16(cisco::VENDOR, cisco::DRAFT_AVP_VERSION, true, 1);
        }
        if !self.our_nonce.is_empty() {
            r = r.with_nonce(fl, &self.our_nonce);
        }
        if let (Some(a), Some(ch)) = (self.auth(), m.challenge()) {
            r = r.with_challenge_response(&a.challenge_response(SCCRP_ID, ch));
        }
        if let Some(c) = &self.our_challenge {
            r = r.with_challenge(c);
        }
        self.queue(now, r);
        self.state = TunnelState::WaitCtlConn;
    }

    /// Checks the peer's Challenge Response against our challenge.
    pub(super) fn challenge_ok(&self, m: &Message, id: u16) -> bool {
        match (&self.our_challenge, self.auth()) {
            (Some(c), Some(a)) => m.challenge_response() == Some(&a.challenge_response(id, c)[..]),
            _ => true,
        }
    }

    pub(super) fn on_scccn(
        &mut self,
        now: u64,
        m: &Message,
        ids: &mut HashSet<u32>,
        out: &mut Vec<Action>,
    ) {
        if !self.challenge_ok(m, SCCCN_ID) {
            self.challenge_failed(m, ids, out);
            return;
        }
        if let Some((v, a)) = m.unknown_mandatory() {
            let text = format!("unknown mandatory AVP: {}", describe(v, a));
            let reason = RefuseReason::UnknownMandatoryAvp;
            self.refuse_stop(
                now,
                m,
                reason,
                error_code::UNKNOWN_MANDATORY_AVP,
                text,
                ids,
                out,
            );
            return;
        }
        self.establish(out);
    }

    /// A wrong or missing Challenge Response: the tunnel is dropped
    /// without an answer (RFC 2661 §5.1.1 leaves the reply open; telling
    /// a prober why helps nobody).
    pub(super) fn challenge_failed(
        &mut self,
        m: &Message,
        ids: &mut HashSet<u32>,
        out: &mut Vec<Action>,
    ) {
        self.stats.auth_failures += 1;
        let why = if m.challenge_response().is_none() {
            "no Challenge Response to our Challenge (the peer does not do CHAP-style authentication?)"
        } else {
            "wrong Challenge Response (secrets differ)"
        };
        out.push(self.dropped(m, RefuseReason::ChallengeFailed, why));
        out.extend(self.abandon(DownReason::AuthFailed, ids));
    }

    /// Refuses a control-connection message with a StopCCN (result 2,
    /// `error`, `text` as its Error Message) and reports it.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn refuse_stop(
        &mut self,
        now: u64,
        m: &Message,
        reason: RefuseReason,
        error: u16,
        text: String,
        ids: &mut HashSet<u32>,
        out: &mut Vec<Action>,
    ) {
        out.push(Action::Refused(Refusal {
            local_ccid: self.local_ccid,
            msg: m.msg_type,
            answer: Answer::StopCcn,
            reason,
            detail: text.clone(),
            local_session_id: 0,
            remote_session_id: 0,
        }));
        self.stop_with(
            now,
            stopccn_result::GENERAL_ERROR,
            Some(error),
            Some(&text),
            ids,
            out,
        );
    }

    pub(super) fn establish(&mut self, out: &mut Vec<Action>) {
        self.state = TunnelState::Established;
        out.push(Action::TunnelUp(TunnelUp {
            local_ccid: self.local_ccid,
            remote_ccid: self.remote_ccid,
            peer_host_name: self.peer_host_name.clone(),
        }));
    }

    pub(super) fn on_sccrp(
        &mut self,
        now: u64,
        m: &Message,
        ids: &mut HashSet<u32>,
        out: &mut Vec<Action>,
    ) {
        self.remote_ccid = m.assigned_ccid().unwrap_or(0);
        self.rel.set_peer_ccid(self.remote_ccid);
        self.rel
            .set_peer_window(m.receive_window().unwrap_or(DEFAULT_PEER_WINDOW));
        self.peer_host_name = m.host_name().unwrap_or_default().to_vec();
        if !self.challenge_ok(m, SCCRP_ID) {
            self.challenge_failed(m, ids, out);
            return;
        }
        if let Some((reason, err, text)) = self.setup_error(m) {
            self.refuse_stop(now, m, reason, err, text, ids, out);
            return;
        }
        let mut c = Message::new(MessageType::Scccn, self.remote_ccid);
        if let (Some(a), Some(ch)) = (self.auth(), m.challenge()) {
            c = c.with_challenge_response(&a.challenge_response(SCCCN_ID, ch));
        }
        self.queue(now, c);
        self.establish(out);
    }

    pub(super) fn on_stopccn(
        &mut self,
        now: u64,
        m: &Message,
        ids: &mut HashSet<u32>,
        out: &mut Vec<Action>,
    ) {
        let rc = m.result_code();
        let reason = DownReason::Peer {
            result: rc.as_ref().map_or(0, |r| r.result),
            error: rc.and_then(|r| r.error),
        };
        out.extend(self.sessions_down(ids));
        if !matches!(self.state, TunnelState::Closing) {
            out.push(self.tunnel_down(reason));
        }
        self.state = TunnelState::Closing;
        self.hold_until = now.saturating_add(self.cfg.closing_hold);
    }

    pub(super) fn tunnel_down(&self, reason: DownReason) -> Action {
        Action::TunnelDown(TunnelDown {
            local_ccid: self.local_ccid,
            remote_ccid: self.remote_ccid,
            reason,
        })
    }

    /// Removes every session, reporting the established ones down.
    pub(super) fn sessions_down(&mut self, ids: &mut HashSet<u32>) -> Vec<Action> {
        let mut v: Vec<Session> = self.sessions.drain().map(|(_, s)| s).collect();
        v.sort_by_key(|s| s.local_id);
        v.into_iter()
            .filter_map(|s| {
                ids.remove(&s.local_id);
                s.is_up().then_some({
                    Action::SessionDown(SessionDown {
                        local_ccid: self.local_ccid,
                        local_session_id: s.local_id,
                        remote_session_id: s.remote_id,
                        reason: DownReason::TunnelDown,
                    })
                })
            })
            .collect()
    }

    /// Sends StopCCN (result, error), reports sessions and the tunnel
    /// down, enters `Closing`. Nothing in `Closing`/`Closed`.
    pub fn stop(
        &mut self,
        now: u64,
        result: u16,
        error: Option<u16>,
        ids: &mut HashSet<u32>,
    ) -> Vec<Action> {
        let mut out = Vec::new();
        self.stop_into(now, result, error, ids, &mut out);
        out.extend(self.flush(now));
        out
    }

    pub(super) fn stop_into(
        &mut self,
        now: u64,
        result: u16,
        error: Option<u16>,
        ids: &mut HashSet<u32>,
        out: &mut Vec<Action>,
    ) {
        self.stop_with(now, result, error, None, ids, out)
    }

    pub(super) fn stop_with(
        &mut self,
        now: u64,
        result: u16,
        error: Option<u16>,
        text: Option<&str>,
        ids: &mut HashSet<u32>,
        out: &mut Vec<Action>,
    ) {
        if matches!(self.state, TunnelState::Closing | TunnelState::Closed) {
            return;
        }
        let m = Message::new(MessageType::StopCcn, self.remote_ccid)
            .with_assigned_ccid(self.flavour, self.local_ccid)
            .with_result_code(result, error, text);
        self.queue(now, m);
        out.extend(self.sessions_down(ids));
        out.push(self.tunnel_down(DownReason::Local { result, error }));
        self.state = TunnelState::Closing;
        self.hold_until = now.saturating_add(self.cfg.closing_hold);
    }

    /// Drops the tunnel without a word to the peer (`Closed`).
    pub fn abandon(&mut self, reason: DownReason, ids: &mut HashSet<u32>) -> Vec<Action> {
        let mut out = self.sessions_down(ids);
        if !matches!(self.state, TunnelState::Closing | TunnelState::Closed) {
            out.push(self.tunnel_down(reason));
        }
        self.state = TunnelState::Closed;
        out
    }
}
