//! The sessions of a control connection: ICRQ in (checks, admission,
//! ICRP or a CDN that says why), ICRP/ICCN/CDN/SLI/WEN for a session,
//! sessions las-edge opens and closes, and the initiator's sessions
//! reported up once their ICCN is acknowledged.

use super::*;

impl Tunnel {
    /// Initiator: sessions whose ICCN the peer has acknowledged are up
    /// (RFC 3931 §4.2: until then the peer may not have it, and may not
    /// forward our data).
    pub(super) fn confirm_sessions(&mut self, out: &mut Vec<Action>) {
        let mut up: Vec<u32> = self
            .sessions
            .values()
            .filter(|s| {
                s.state == SessionState::Established
                    && s.iccn_mark != 0
                    && self.rel.is_acked(s.iccn_mark)
            })
            .map(|s| s.local_id)
            .collect();
        up.sort_unstable();
        for id in up {
            if let Some(s) = self.sessions.get_mut(&id) {
                s.iccn_mark = 0;
                out.push(Action::SessionUp(s.up()));
            }
        }
    }

    pub(super) fn new_session_id(rng: &mut dyn Random, ids: &HashSet<u32>) -> u32 {
        loop {
            let id = rng.next_u32();
            if id != 0 && !ids.contains(&id) {
                return id;
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_icrq(
        &mut self,
        now: u64,
        m: &Message,
        rng: &mut dyn Random,
        ids: &mut HashSet<u32>,
        admit: &mut Admit,
        out: &mut Vec<Action>,
    ) {
        let fl = if m.has_cisco_avps() {
            Flavour::CiscoDual
        } else {
            Flavour::Ietf
        };
        let remote = m.local_session_id().unwrap_or(0);
        // The id the session gets; a CDN refusing it names it too (a CDN
        // with Local Session ID 0 tells the peer nothing).
        let id = Self::new_session_id(rng, ids);
        if remote != 0 && self.sessions.values().any(|s| s.remote_id == remote) {
            let r = Refuse::fsm(format!(
                "ICRQ for peer session {remote}, which already has a session here"
            ));
            return self.refuse_session(now, m, fl, id, remote, r, out);
        }
        if self.sessions.len() >= self.cfg.max_sessions {
            self.stats.session_limit += 1;
            let r = Refuse::new(
                RefuseReason::SessionLimit,
                cdn_result::GENERAL_ERROR,
                Some(error_code::INSUFFICIENT_RESOURCES),
                format!(
                    "{} sessions on this control connection (l2tp.max_sessions_per_tunnel)",
                    self.sessions.len()
                ),
            );
            return self.refuse_session(now, m, fl, id, remote, r, out);
        }
        let cookie = random_bytes(rng, self.cfg.session.cookie_len);
        match Session::accept(
            &self.cfg.session,
            m,
            self.local_ccid,
            self.remote_ccid,
            id,
            cookie,
            fl,
        ) {
            Ok((s, icrp)) => {
                let req = SessionRequest {
                    local_ccid: self.local_ccid,
                    remote_end_id: &s.remote_end_id,
                    pw_type: s.pw_type,
                };
                if let Err(d) = admit(&req) {
                    let r = Refuse::new(d.reason, d.result, d.error, d.detail);
                    return self.refuse_session(now, m, fl, id, remote, r, out);
                }
                ids.insert(id);
                let active = m.circuit_status().map(|(a, _)| a);
                self.sessions.insert(id, s);
                self.queue(now, icrp);
                if let Some(active) = active {
                    out.push(Action::SessionStatus {
                        local_ccid: self.local_ccid,
                        local_session_id: id,
                        active,
                    });
                }
            }
            Err((remote, r)) => self.refuse_session(now, m, fl, id, remote, r, out),
        }
    }

    /// Refuses an ICRQ with a CDN that carries the reason as its Error
    /// Message, and reports it.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn refuse_session(
        &mut self,
        now: u64,
        m: &Message,
        fl: Flavour,
        local: u32,
        remote: u32,
        r: Refuse,
        out: &mut Vec<Action>,
    ) {
        out.push(Action::Refused(Refusal::cdn(
            self.local_ccid,
            m.msg_type,
            &r,
            local,
            remote,
        )));
        self.queue(now, session::cdn(self.remote_ccid, fl, local, remote, &r));
    }

    pub(super) fn on_session_msg(
        &mut self,
        now: u64,
        ty: MessageType,
        m: &Message,
        ids: &mut HashSet<u32>,
        out: &mut Vec<Action>,
    ) {
        let id = m.remote_session_id().unwrap_or(0);
        let Some(s) = self.sessions.get_mut(&id) else {
            self.stats.unknown_session += 1;
            out.push(self.dropped(
                m,
                RefuseReason::UnknownSession,
                format!("no session {id} on this control connection"),
            ));
            return;
        };
        let peer = self.remote_ccid;
        let result = match ty {
            MessageType::Icrp => s.on_icrp(m, peer).map(Some),
            MessageType::Iccn => match s.on_iccn(m) {
                Ok(true) => {
                    out.push(Action::SessionUp(s.up()));
                    return;
                }
                Ok(false) => {
                    self.stats.repeated_iccn += 1;
                    return;
                }
                Err(r) => Err(r),
            },
            MessageType::Cdn => {
                let rc = m.result_code();
                let reason = DownReason::Peer {
                    result: rc.as_ref().map_or(0, |r| r.result),
                    error: rc.and_then(|r| r.error),
                };
                self.remove_session(id, reason, ids, out);
                return;
            }
            _ if m.unknown_mandatory().is_some() => {
                let (v, a) = m.unknown_mandatory().unwrap_or_default();
                Err(Refuse::unknown_mandatory(v, a))
            }
            MessageType::Sli => {
                if let Some((active, _)) = m.circuit_status() {
                    s.circuit_active = active;
                    out.push(Action::SessionStatus {
                        local_ccid: self.local_ccid,
                        local_session_id: id,
                        active,
                    });
                }
                return;
            }
            _ => {
                self.stats.wen += 1;
                return;
            }
        };
        match result {
            Ok(reply) => {
                if let Some(r) = reply {
                    // Initiator: established once the ICCN is
                    // acknowledged (Tunnel::confirm_sessions).
                    let mark = self.queue(now, r);
                    if let Some(s) = self.sessions.get_mut(&id) {
                        s.iccn_mark = mark;
                    }
                }
            }
            Err(r) => {
                let cdn = s.cdn(peer, &r);
                out.push(Action::Refused(Refusal::cdn(
                    self.local_ccid,
                    m.msg_type,
                    &r,
                    id,
                    s.remote_id,
                )));
                self.queue(now, cdn);
                let reason = DownReason::Local {
                    result: r.result,
                    error: r.error,
                };
                self.remove_session(id, reason, ids, out);
            }
        }
    }

    pub(super) fn remove_session(
        &mut self,
        id: u32,
        reason: DownReason,
        ids: &mut HashSet<u32>,
        out: &mut Vec<Action>,
    ) {
        if let Some(s) = self.sessions.remove(&id) {
            ids.remove(&id);
            if s.is_up() {
                out.push(Action::SessionDown(SessionDown {
                    local_ccid: self.local_ccid,
                    local_session_id: id,
                    remote_session_id: s.remote_id,
                    reason,
                }));
            }
        }
    }

    /// Closes one session with a CDN (result, error).
    pub fn close_session(
        &mut self,
        now: u64,
        local_id: u32,
        result: u16,
        error: Option<u16>,
        text: &str,
        ids: &mut HashSet<u32>,
    ) -> Vec<Action> {
        let mut out = Vec::new();
        let Some(s) = self.sessions.get(&local_id) else {
            return out;
        };
        let mut r = Refuse::local(result, error);
        r.detail = text.to_string();
        let cdn = s.cdn(self.remote_ccid, &r);
        self.queue(now, cdn);
        self.remove_session(local_id, DownReason::Local { result, error }, ids, &mut out);
        out.extend(self.flush(now));
        out
    }

    /// A Set-Link-Info (RFC 3931 §6.13) with Circuit Status (`active`,
    /// not new) on an established session; nothing if it is not up.
    pub fn link_info(&mut self, now: u64, local_id: u32, active: bool) -> Vec<Action> {
        let Some(s) = self.sessions.get(&local_id).filter(|s| s.is_up()) else {
            return Vec::new();
        };
        let m = Message::new(MessageType::Sli, self.remote_ccid)
            .with_local_session_id(s.flavour, s.local_id)
            .with_remote_session_id(s.flavour, s.remote_id)
            .with_circuit_status(s.flavour, active, false);
        self.queue(now, m);
        self.flush(now)
    }

    /// Opens a session (ICRQ) on an established tunnel. Returns
    /// the Local Session ID, or `None` if not established or full.
    pub fn open_session(
        &mut self,
        now: u64,
        remote_end_id: &[u8],
        pw_type: u16,
        rng: &mut dyn Random,
        ids: &mut HashSet<u32>,
    ) -> Option<(u32, Vec<Action>)> {
        if self.state != TunnelState::Established || self.sessions.len() >= self.cfg.max_sessions {
            return None;
        }
        let id = Self::new_session_id(rng, ids);
        let cookie = random_bytes(rng, self.cfg.session.cookie_len);
        let serial = self.next_serial;
        self.next_serial = self.next_serial.wrapping_add(1).max(1);
        let (s, icrq) = Session::initiate(
            &self.cfg.session,
            self.local_ccid,
            self.remote_ccid,
            id,
            cookie,
            remote_end_id,
            pw_type,
            self.flavour,
            serial,
        );
        ids.insert(id);
        self.sessions.insert(id, s);
        self.queue(now, icrq);
        Some((id, self.flush(now)))
    }
}
