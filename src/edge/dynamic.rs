//! Dynamic mode: the RFC 3931 control connection of las-edge, as the
//! initiating side, on top of the control plane's [`Endpoint`].
//!
//! ```text
//!  Backoff ── retry time ─▶ [SCCRQ] Connecting ── TunnelUp ─▶ [ICRQ] Opening
//!  Opening ── SessionUp ─▶ Up (forwarding with the negotiated SessionParams)
//!  any ── TunnelDown / SessionDown / refused / timeout ─▶ Backoff (1 s, doubling to 30 s)
//!  any ── shutdown ─▶ [StopCCN] Stopped
//! ```
//!
//! [`Control`] does no I/O and reads no clock: the forwarding loop feeds
//! it control messages and the time (ms), sends what [`Control::take_sends`]
//! returns and swaps its codec on [`Control::take_change`].

use crate::control::l2tp::OsRandom;
use std::sync::Arc;
use std::time::Instant;

use super::config::{DynamicConfig, SessionParams};
use super::counters::ControlStats;
use crate::control::l2tp::{
    Action, DownReason, Endpoint, EndpointConfig, Random, SecretAuth, SessionUp, TunnelConfig,
    TunnelState,
};
use crate::wire::l2tp::message::{cdn_result, pw_type, stopccn_result};
use crate::wire::l2tp::{Cookie, Flavour, L2Spec};

/// First reconnection delay, ms.
pub const BACKOFF_MIN: u64 = 1_000;
/// Longest reconnection delay, ms.
pub const BACKOFF_MAX: u64 = 30_000;
/// How long the ICRQ may wait for an answer before we start over, ms.
pub const OPEN_TIMEOUT: u64 = 30_000;

/// Where the control connection is (see the module diagram).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Waiting to (re)connect at `retry_at`.
    Backoff { retry_at: u64 },
    /// SCCRQ sent on tunnel `ccid`.
    Connecting { ccid: u32 },
    /// Tunnel up, ICRQ sent for session `sid`.
    Opening { ccid: u32, sid: u32, since: u64 },
    /// The session carries data.
    Up { ccid: u32, sid: u32 },
    /// Shut down (StopCCN sent): no reconnection.
    Stopped,
}

impl Phase {
    pub fn name(&self) -> &'static str {
        match self {
            Phase::Backoff { .. } => "reconnecting",
            Phase::Connecting { .. } => "connecting",
            Phase::Opening { .. } => "opening-session",
            Phase::Up { .. } => "established",
            Phase::Stopped => "stopped",
        }
    }

    fn ccid(&self) -> Option<u32> {
        match *self {
            Phase::Connecting { ccid } | Phase::Opening { ccid, .. } | Phase::Up { ccid, .. } => {
                Some(ccid)
            }
            _ => None,
        }
    }
}

/// The tunnel configuration of las-edge for `cfg`.
pub fn tunnel_config(
    cfg: &DynamicConfig,
    template: &SessionParams,
    router_id: u32,
) -> TunnelConfig {
    let mut t = TunnelConfig {
        host_name: b"las-edge".to_vec(),
        router_id,
        hello_interval: u64::from(cfg.hello_interval) * 1000,
        initiator_flavour: if cfg.cisco_avps {
            Flavour::CiscoDual
        } else {
            Flavour::Ietf
        },
        tie_breaker: true,
        ..TunnelConfig::default()
    };
    t.session.pw_types = vec![pw_type::ETHERNET];
    t.session.l2spec = match template.l2spec {
        L2Spec::None => 0,
        L2Spec::Default => 1,
    };
    if let Some((secret, alg)) = &cfg.secret {
        t.auth = Some(Arc::new(SecretAuth::new(*alg, secret.as_bytes())));
        t.secret = Some(secret.as_bytes().to_vec());
        t.digest = true;
    }
    t
}

/// The data-plane parameters of a negotiated session.
pub fn session_params(template: &SessionParams, up: &SessionUp) -> Result<SessionParams, String> {
    let l2 = |v: u16| match v {
        0 => Ok(L2Spec::None),
        1 => Ok(L2Spec::Default),
        o => Err(format!("unsupported L2-Specific Sublayer {o}")),
    };
    let cookie = |b: &[u8], what: &str| {
        Cookie::new(b).map_err(|_| format!("{what} of {} bytes (not 0, 4 or 8)", b.len()))
    };
    let peer_l2spec = l2(up.peer_l2spec)?;
    if up.sequencing != 0 && peer_l2spec == L2Spec::None {
        return Err("peer asks for sequencing without a sublayer".into());
    }
    Ok(SessionParams {
        encap: template.encap,
        session_id: up.local_session_id,
        peer_session_id: up.remote_session_id,
        cookie: cookie(&up.our_cookie, "our cookie")?,
        peer_cookie: cookie(&up.peer_cookie, "peer cookie")?,
        l2spec: l2(up.l2spec)?,
        peer_l2spec,
    })
}

/// The control connection of one las-edge.
pub struct Control {
    vc_id: Vec<u8>,
    template: SessionParams,
    ep: Endpoint<()>,
    phase: Phase,
    backoff: u64,
    epoch: Instant,
    sends: Vec<Vec<u8>>,
    change: Option<Option<SessionParams>>,
    /// When the ICCN of the session being opened went out.
    iccn_at: Option<u64>,
    stats: ControlStats,
}

impl Control {
    /// A control connection with random identifiers from the OS.
    pub fn new(cfg: &DynamicConfig, template: SessionParams, router_id: u32) -> Control {
        Self::with_random(cfg, template, router_id, Box::new(OsRandom))
    }

    pub fn with_random(
        cfg: &DynamicConfig,
        template: SessionParams,
        router_id: u32,
        rng: Box<dyn Random>,
    ) -> Control {
        let ecfg = EndpointConfig {
            tunnel: tunnel_config(cfg, &template, router_id),
            max_tunnels_per_peer: 4,
            max_tunnels: 8,
        };
        Control {
            vc_id: cfg.vc_id.as_bytes().to_vec(),
            template,
            ep: Endpoint::new(ecfg, rng),
            phase: Phase::Backoff { retry_at: 0 },
            backoff: BACKOFF_MIN,
            epoch: Instant::now(),
            sends: Vec::new(),
            change: None,
            iccn_at: None,
            stats: ControlStats::default(),
        }
    }

    /// Milliseconds since this control connection was created.
    pub fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Messages to transmit to the peer (over IP: without the 4 zero
    /// bytes, which the caller adds).
    pub fn take_sends(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.sends)
    }

    /// `Some(Some(p))`: a session came up, forward with `p`;
    /// `Some(None)`: it went down, stop forwarding.
    pub fn take_change(&mut self) -> Option<Option<SessionParams>> {
        self.change.take()
    }

    pub fn stats(&self) -> ControlStats {
        let mut s = self.stats.clone();
        s.state = self.phase.name().to_string();
        s.auth_failures += self
            .ep
            .tunnels()
            .map(|(_, t)| t.stats().auth_failures)
            .sum::<u64>();
        s
    }

    /// A control message from the peer.
    pub fn handle(&mut self, now: u64, raw: &[u8]) {
        self.stats.control_rx += 1;
        let acts = self.ep.handle(now, (), raw);
        self.actions(now, acts);
        self.check_refused(now);
    }

    /// When [`Control::poll`] next has work.
    pub fn next_timeout(&self) -> Option<u64> {
        let own = match self.phase {
            Phase::Backoff { retry_at } => Some(retry_at),
            Phase::Opening { since, .. } => Some(since + OPEN_TIMEOUT),
            _ => None,
        };
        match (own, self.ep.next_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Timers: (re)connection, retransmissions, HELLO, setup timeouts.
    pub fn poll(&mut self, now: u64) {
        if self.ep.next_timeout().is_some_and(|t| t <= now) {
            let acts = self.ep.poll(now);
            self.actions(now, acts);
        }
        match self.phase {
            Phase::Backoff { retry_at } if now >= retry_at => self.connect(now),
            Phase::Opening { ccid, since, .. } if now >= since + OPEN_TIMEOUT => {
                log::warn!("las-edge: no answer to the session request: starting over");
                self.restart(now, ccid, "session request timed out".into());
            }
            _ => {}
        }
    }

    /// Graceful stop: StopCCN on every tunnel, no reconnection.
    pub fn shutdown(&mut self, now: u64) {
        let acts = self
            .ep
            .shutdown(now, stopccn_result::GENERAL_REQUEST_TO_CLEAR);
        self.phase = Phase::Stopped;
        self.actions(now, acts);
        if self.change.is_none() {
            self.change = Some(None);
        }
    }

    /// Whether everything we sent was acknowledged (after
    /// [`Control::shutdown`]: the StopCCN left).
    pub fn flushed(&self) -> bool {
        self.ep
            .tunnels()
            .all(|(_, t)| t.state() == TunnelState::Closed || t.reliable().all_acked())
    }

    fn connect(&mut self, now: u64) {
        self.stats.connects += 1;
        let (ccid, acts) = self.ep.connect(now, ());
        log::info!("las-edge: opening control connection {ccid} (SCCRQ)");
        self.phase = Phase::Connecting { ccid };
        self.actions(now, acts);
    }

    /// Closes tunnel `ccid` with StopCCN and backs off.
    fn restart(&mut self, now: u64, ccid: u32, why: String) {
        let acts = self
            .ep
            .stop_tunnel(now, ccid, stopccn_result::GENERAL_REQUEST_TO_CLEAR, None);
        self.down(now, why);
        self.actions(now, acts);
    }

    /// The session (or tunnel) is gone: stop forwarding, back off.
    fn down(&mut self, now: u64, why: String) {
        self.iccn_at = None;
        if self.phase == Phase::Stopped {
            return;
        }
        if matches!(self.phase, Phase::Backoff { .. }) {
            return;
        }
        if matches!(self.phase, Phase::Up { .. }) {
            self.change = Some(None);
            self.stats.sessions_down += 1;
        }
        let retry_at = now + self.backoff;
        log::warn!(
            "las-edge: {why}: reconnecting in {} s",
            self.backoff as f64 / 1000.0
        );
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
        self.stats.last_down = Some(why);
        self.phase = Phase::Backoff { retry_at };
    }

    /// A session we asked for vanished before it came up: the peer
    /// refused it with a CDN.
    fn check_refused(&mut self, now: u64) {
        if let Phase::Opening { ccid, sid, .. } = self.phase {
            let iccn_out = self
                .ep
                .tunnel(ccid)
                .and_then(|t| t.session(sid))
                .is_some_and(|s| {
                    s.state == crate::control::l2tp::session::SessionState::Established
                        && !s.is_up()
                });
            if iccn_out && self.iccn_at.is_none() {
                self.iccn_at = Some(now);
                self.stats.iccn_sent += 1;
                log::info!("las-edge: ICCN sent; the session is up once the peer acknowledges it");
            }
            let gone = self
                .ep
                .tunnel(ccid)
                .is_some_and(|t| t.state() == TunnelState::Established && t.session(sid).is_none());
            if gone {
                self.stats.sessions_refused += 1;
                self.restart(
                    now,
                    ccid,
                    format!(
                        "session for VC ID {:?} refused by the peer",
                        String::from_utf8_lossy(&self.vc_id)
                    ),
                );
            }
        }
    }

    fn actions(&mut self, now: u64, acts: Vec<((), Action)>) {
        for (_, a) in acts {
            match a {
                Action::Send(b) => {
                    self.stats.control_tx += 1;
                    self.sends.push(b);
                }
                Action::TunnelUp(t) => {
                    if self.phase != (Phase::Connecting { ccid: t.local_ccid }) {
                        continue;
                    }
                    self.stats.tunnels_up += 1;
                    log::info!(
                        "las-edge: control connection {} up with {:?} (peer ccid {}); requesting VC ID {:?}",
                        t.local_ccid,
                        String::from_utf8_lossy(&t.peer_host_name),
                        t.remote_ccid,
                        String::from_utf8_lossy(&self.vc_id)
                    );
                    let vc = self.vc_id.clone();
                    match self
                        .ep
                        .open_session(now, t.local_ccid, &vc, pw_type::ETHERNET)
                    {
                        Some((sid, more)) => {
                            self.phase = Phase::Opening {
                                ccid: t.local_ccid,
                                sid,
                                since: now,
                            };
                            self.actions(now, more);
                        }
                        None => {
                            self.restart(now, t.local_ccid, "cannot open a session".into());
                        }
                    }
                }
                Action::SessionUp(up) => {
                    let Phase::Opening { ccid, sid, .. } = self.phase else {
                        continue;
                    };
                    if up.local_ccid != ccid || up.local_session_id != sid {
                        continue;
                    }
                    match session_params(&self.template, &up) {
                        Ok(p) => {
                            log::info!(
                                "las-edge: session up: session {} -> peer session {}, cookie {}/{} bytes (rx/tx), sublayer {:?}/{:?} (rx/tx)",
                                p.session_id,
                                p.peer_session_id,
                                p.cookie.len(),
                                p.peer_cookie.len(),
                                p.l2spec,
                                p.peer_l2spec
                            );
                            if let Some(t) = self.iccn_at.take() {
                                log::info!(
                                    "las-edge: ICCN acknowledged after {} ms",
                                    now.saturating_sub(t)
                                );
                            }
                            self.stats.sessions_up += 1;
                            self.stats.session_id = p.session_id;
                            self.stats.peer_session_id = p.peer_session_id;
                            self.backoff = BACKOFF_MIN;
                            self.phase = Phase::Up { ccid, sid };
                            self.change = Some(Some(p));
                        }
                        Err(e) => {
                            self.stats.sessions_refused += 1;
                            let text = format!("las-edge cannot use the session: {e}");
                            let acts = self.ep.close_session(
                                now,
                                ccid,
                                sid,
                                cdn_result::GENERAL_ERROR,
                                None,
                                &text,
                            );
                            self.actions(now, acts);
                            self.restart(now, ccid, format!("unusable session: {e}"));
                        }
                    }
                }
                // A tunnel going down reports its sessions first: the
                // TunnelDown that follows says why.
                Action::SessionDown(d) if d.reason == DownReason::TunnelDown => {}
                Action::SessionDown(d) => {
                    if self.phase
                        == (Phase::Up {
                            ccid: d.local_ccid,
                            sid: d.local_session_id,
                        })
                    {
                        let why = format!("session down: {}", reason(&d.reason));
                        self.restart(now, d.local_ccid, why);
                    }
                }
                Action::TunnelDown(t) => {
                    if self.phase.ccid() == Some(t.local_ccid) {
                        self.stats.tunnels_down += 1;
                        self.down(
                            now,
                            format!("control connection down: {}", reason(&t.reason)),
                        );
                    } else if self.phase == Phase::Stopped {
                        self.stats.tunnels_down += 1;
                    }
                }
                Action::SessionStatus { active, .. } => {
                    log::info!(
                        "las-edge: peer reports the circuit {}",
                        if active { "up" } else { "down" }
                    );
                }
                // las-edge has one peer and sets no mover.
                Action::PeerMoved { .. } => {}
                Action::Refused(r) => {
                    self.stats.refused += 1;
                    log::warn!(
                        "las-edge: {} from the peer refused ({:?}, {}): {}",
                        r.msg.map_or("datagram".to_string(), |t| format!("{t:?}")),
                        r.answer,
                        r.reason.as_str(),
                        r.detail
                    );
                }
            }
        }
    }
}

fn reason(r: &DownReason) -> String {
    match r {
        DownReason::Peer { result, error } => match error {
            Some(e) => format!("closed by the peer (result {result}, error {e})"),
            None => format!("closed by the peer (result {result})"),
        },
        DownReason::Local { result, .. } => format!("closed by us (result {result})"),
        DownReason::PeerDead => "peer not answering".into(),
        DownReason::TunnelDown => "control connection down".into(),
        DownReason::SetupTimeout => "setup timed out".into(),
        DownReason::AuthFailed => "authentication failed".into(),
        DownReason::LostTieBreaker => "lost the tie breaker".into(),
        DownReason::Replaced => "replaced by a new control connection".into(),
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::wire::l2tp::auth::DigestAlg;
    use crate::wire::l2tp::Encap;

    fn counter(seed: u32) -> Box<dyn Random> {
        let mut n = seed;
        Box::new(move || {
            n = n.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            n
        })
    }

    fn dcfg(secret: Option<&str>) -> DynamicConfig {
        DynamicConfig {
            vc_id: "100".into(),
            secret: secret.map(|s| (s.to_string(), DigestAlg::Md5)),
            cisco_avps: false,
            hello_interval: 60,
        }
    }

    fn template() -> SessionParams {
        SessionParams {
            encap: Encap::Udp,
            session_id: 0,
            peer_session_id: 0,
            cookie: Cookie::NONE,
            peer_cookie: Cookie::NONE,
            l2spec: L2Spec::None,
            peer_l2spec: L2Spec::None,
        }
    }

    /// A las-like responder: assigns 8-byte cookies, wants the default
    /// sublayer, optional secret.
    fn las(secret: Option<&str>) -> Endpoint<()> {
        let mut t = TunnelConfig::default();
        t.session.cookie_len = 8;
        t.session.l2spec = 1;
        if let Some(s) = secret {
            t.auth = Some(Arc::new(SecretAuth::new(DigestAlg::Md5, s.as_bytes())));
            t.digest = true;
        }
        Endpoint::new(
            EndpointConfig {
                tunnel: t,
                ..EndpointConfig::default()
            },
            counter(7),
        )
    }

    /// Runs both sides until quiet (or `until` ms); `drop_to_las`
    /// loses the edge's messages. Returns the responder's session-ups.
    fn pump(
        edge: &mut Control,
        las: &mut Endpoint<()>,
        now: &mut u64,
        until: u64,
        drop_to_las: bool,
    ) -> Vec<SessionUp> {
        let mut ups = Vec::new();
        while *now < until {
            edge.poll(*now);
            let mut to_las = edge.take_sends();
            let acts = las.poll(*now);
            let mut to_edge = Vec::new();
            let mut absorb = |acts: Vec<((), Action)>, to_edge: &mut Vec<Vec<u8>>| {
                for (_, a) in acts {
                    match a {
                        Action::Send(b) => to_edge.push(b),
                        Action::SessionUp(u) => ups.push(u),
                        _ => {}
                    }
                }
            };
            absorb(acts, &mut to_edge);
            while !to_las.is_empty() || !to_edge.is_empty() {
                for m in to_las.drain(..) {
                    if !drop_to_las {
                        let acts = las.handle(*now, (), &m);
                        absorb(acts, &mut to_edge);
                    }
                }
                for m in to_edge.drain(..) {
                    edge.handle(*now, &m);
                }
                to_las = edge.take_sends();
            }
            *now += 50;
        }
        ups
    }

    #[test]
    fn test_session_params() {
        let up = SessionUp {
            local_ccid: 1,
            local_session_id: 11,
            remote_session_id: 22,
            peer_cookie: vec![1, 2, 3, 4],
            our_cookie: vec![],
            remote_end_id: b"100".to_vec(),
            pw_type: 5,
            l2spec: 0,
            peer_l2spec: 1,
            sequencing: 0,
        };
        let p = session_params(&template(), &up).unwrap();
        assert_eq!((p.session_id, p.peer_session_id), (11, 22));
        assert_eq!(p.peer_cookie.as_bytes(), &[1, 2, 3, 4]);
        assert!(p.cookie.is_empty());
        assert_eq!((p.l2spec, p.peer_l2spec), (L2Spec::None, L2Spec::Default));
        let bad = SessionUp {
            peer_cookie: vec![1, 2, 3],
            ..up.clone()
        };
        assert!(session_params(&template(), &bad)
            .unwrap_err()
            .contains("3 bytes"));
        let bad = SessionUp {
            peer_l2spec: 0,
            sequencing: 2,
            ..up
        };
        assert!(session_params(&template(), &bad).is_err());
    }

    #[test]
    fn test_tunnel_config() {
        let mut d = dcfg(Some("s3cret"));
        d.cisco_avps = true;
        d.hello_interval = 5;
        let t = tunnel_config(&d, &template(), 42);
        assert_eq!(t.initiator_flavour, Flavour::CiscoDual);
        assert!(t.auth.is_some() && t.digest && !t.challenge);
        assert_eq!(t.hello_interval, 5000);
        assert_eq!(t.router_id, 42);
        let t = tunnel_config(&dcfg(None), &template(), 0);
        assert!(t.auth.is_none() && !t.digest);
        assert_eq!(t.initiator_flavour, Flavour::Ietf);
    }

    #[test]
    fn test_comes_up_and_mirrors_responder() {
        for secret in [None, Some("s3cret")] {
            let mut edge = Control::with_random(&dcfg(secret), template(), 1, counter(1));
            let mut las = las(secret);
            let mut now = 0;
            let ups = pump(&mut edge, &mut las, &mut now, 2_000, false);
            assert!(matches!(edge.phase(), Phase::Up { .. }), "{secret:?}");
            let p = edge.take_change().unwrap().unwrap();
            assert_eq!(ups.len(), 1);
            let u = &ups[0];
            assert_eq!(u.remote_end_id, b"100");
            // What las expects is what we send, and vice versa.
            assert_eq!(p.peer_session_id, u.local_session_id);
            assert_eq!(p.session_id, u.remote_session_id);
            assert_eq!(p.peer_cookie.as_bytes(), &u.our_cookie[..]);
            assert_eq!(p.peer_cookie.len(), 8);
            assert_eq!(p.cookie.as_bytes(), &u.peer_cookie[..]);
            assert_eq!(p.peer_l2spec, L2Spec::Default);
            assert_eq!(p.l2spec, L2Spec::None);
            let s = edge.stats();
            assert_eq!((s.connects, s.tunnels_up, s.sessions_up), (1, 1, 1));
            assert_eq!(s.state, "established");
        }
    }

    #[test]
    fn test_wrong_secret_never_up() {
        let mut edge = Control::with_random(&dcfg(Some("wrong")), template(), 1, counter(1));
        let mut las = las(Some("right"));
        let mut now = 0;
        let ups = pump(&mut edge, &mut las, &mut now, 5_000, false);
        assert!(ups.is_empty());
        assert!(matches!(edge.phase(), Phase::Connecting { .. }));
        assert!(edge.take_change().is_none());
        // A bad SCCRQ is refused before a tunnel exists: counted by the endpoint.
        let failures: u64 = las
            .tunnels()
            .map(|(_, t)| t.stats().auth_failures)
            .sum::<u64>()
            + las.stats().sccrq_auth_failures;
        assert!(failures > 0);
    }

    #[test]
    fn test_stopccn_then_reconnect_with_backoff() {
        let mut edge = Control::with_random(&dcfg(None), template(), 1, counter(1));
        let mut las1 = las(None);
        let mut now = 0;
        pump(&mut edge, &mut las1, &mut now, 1_000, false);
        assert!(edge.take_change().unwrap().is_some());
        // las shuts down: StopCCN.
        for (_, a) in las1.shutdown(now, stopccn_result::BEING_SHUT_DOWN) {
            if let Action::Send(b) = a {
                edge.handle(now, &b);
            }
        }
        assert_eq!(edge.take_change(), Some(None));
        let Phase::Backoff { retry_at } = edge.phase() else {
            panic!("{:?}", edge.phase());
        };
        assert_eq!(retry_at, now + BACKOFF_MIN);
        assert!(edge.next_timeout().unwrap() <= retry_at);
        assert!(edge
            .stats()
            .last_down
            .unwrap()
            .contains("closed by the peer"));
        // A new las: the edge reconnects by itself after the backoff.
        let mut las2 = las(None);
        let until = now + 3_000;
        let ups = pump(&mut edge, &mut las2, &mut now, until, false);
        assert_eq!(ups.len(), 1);
        assert!(edge.take_change().unwrap().is_some());
        let s = edge.stats();
        assert_eq!((s.connects, s.sessions_up, s.sessions_down), (2, 2, 1));
    }

    #[test]
    fn test_dead_peer_backoff_doubles() {
        let mut d = dcfg(None);
        d.hello_interval = 1;
        let mut edge = Control::with_random(&d, template(), 1, counter(1));
        let mut l = las(None);
        let mut now = 0;
        pump(&mut edge, &mut l, &mut now, 1_000, false);
        assert!(matches!(edge.phase(), Phase::Up { .. }));
        // las vanishes: HELLOs go unanswered until the edge gives up.
        pump(&mut edge, &mut l, &mut now, 120_000, true);
        let s = edge.stats();
        assert!(s.sessions_down == 1 && s.connects >= 2, "{s:?}");
        assert!(!matches!(edge.phase(), Phase::Up { .. }));
        assert_eq!(edge.take_change(), Some(None));
        assert!(edge.backoff > BACKOFF_MIN);
    }

    #[test]
    fn test_shutdown_sends_stopccn() {
        let mut edge = Control::with_random(&dcfg(None), template(), 1, counter(1));
        let mut l = las(None);
        let mut now = 0;
        pump(&mut edge, &mut l, &mut now, 1_000, false);
        edge.take_change();
        edge.shutdown(now);
        assert_eq!(edge.phase(), Phase::Stopped);
        assert_eq!(edge.take_change(), Some(None));
        assert!(!edge.flushed());
        let sends = edge.take_sends();
        assert_eq!(sends.len(), 1);
        let mut downs = 0;
        for (_, a) in l.handle(now, (), &sends[0]) {
            match a {
                Action::SessionDown(_) | Action::TunnelDown(_) => downs += 1,
                Action::Send(b) => edge.handle(now, &b),
                _ => {}
            }
        }
        assert_eq!(downs, 2);
        // las acknowledges (ZLB after the ack delay).
        now += 500;
        for (_, a) in l.poll(now) {
            if let Action::Send(b) = a {
                edge.handle(now, &b);
            }
        }
        assert!(edge.flushed());
        // No reconnection after a shutdown.
        edge.poll(now + 60_000);
        assert_eq!(edge.phase(), Phase::Stopped);
    }
}
