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
//! # Failover
//!
//! With a backup peer ([`DynamicConfig::backup`], Cisco's `xconnect …
//! backup peer`), the phases above are toward the current [`Peer`]
//! ([`Control::peer`]; the data path sends there), and a failure moves on
//! to the other peer instead of backing off on the same one:
//!
//! ```text
//!  any ── down (HELLO unanswered, StopCCN, CDN, setup failed/timed out)
//!      ─▶ Backoff on the other peer: at once after one failure; after
//!         both peers failed in a row, 1 s doubling to 30 s (reset when a
//!         session comes up)
//!  Up on the backup, Revert::After(d): the probe of the primary
//!      Wait ── [SCCRQ] ─▶ Connecting ── TunnelUp ─▶ Answering
//!      Answering ── d s later ─▶ [ICRQ] Opening ── SessionUp ─▶ revert:
//!         the data path moves to the primary, then the backup's control
//!         connection is closed (StopCCN): make before break
//!      a probe that fails ─▶ Wait (1 s, doubling to 30 s)
//!  the backup fails while the probe is connected: the session is asked
//!      for on the probe's control connection at once (no new SCCRQ)
//! ```
//!
//! Bounds: a silent peer is declared dead within
//! [`DynamicConfig::dead_peer_bound_ms`] of its last message (HELLO
//! interval plus the retransmissions); a StopCCN or CDN is seen at once.
//! The switch is then one control connection setup on the other peer
//! (SCCRQ/SCCRP/SCCCN, ICRQ/ICRP/ICCN and the ICCN's acknowledgement).
//! With [`Revert::Never`] there is no probe: las-edge stays on the backup
//! until that fails.
//!
//! [`Control`] does no I/O and reads no clock: the forwarding loop feeds
//! it control messages with the peer they came from and the time (ms),
//! sends what [`Control::take_sends`] returns to the peer named there and
//! swaps its codec (and the data path's peer, [`Control::peer`]) on
//! [`Control::take_change`].

use crate::control::l2tp::OsRandom;
use std::sync::Arc;
use std::time::Instant;

use super::config::{DynamicConfig, Revert, SessionParams};
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

/// Which peer: `--peer` (the primary) or `--backup-peer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Peer {
    Primary,
    Backup,
}

impl Peer {
    pub fn other(self) -> Peer {
        match self {
            Peer::Primary => Peer::Backup,
            Peer::Backup => Peer::Primary,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Peer::Primary => "primary",
            Peer::Backup => "backup",
        }
    }
}

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

/// The probe of the primary while the session is up on the backup (see
/// the module diagram).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// No probe: no backup peer, on the primary, `Revert::Never`, or the
    /// session is not up.
    Off,
    /// Next control connection to the primary at `at`.
    Wait { at: u64 },
    /// SCCRQ sent to the primary on tunnel `ccid`.
    Connecting { ccid: u32 },
    /// The primary's control connection is up since `since`.
    Answering { ccid: u32, since: u64 },
    /// Reverting: ICRQ sent to the primary.
    Opening { ccid: u32, sid: u32, since: u64 },
}

impl Probe {
    fn ccid(&self) -> Option<u32> {
        match *self {
            Probe::Connecting { ccid }
            | Probe::Answering { ccid, .. }
            | Probe::Opening { ccid, .. } => Some(ccid),
            _ => None,
        }
    }
}

/// The tunnel configuration of las-edge for `cfg`.
pub fn tunnel_config(cfg: &DynamicConfig, template: &SessionParams) -> TunnelConfig {
    let mut t = TunnelConfig {
        host_name: b"las-edge".to_vec(),
        // 32 bits whatever the underlay: `--router-id`, else the IPv4
        // `--local` (config.rs requires it over IPv6).
        router_id: cfg.router_id,
        hello_interval: u64::from(cfg.hello_interval) * 1000,
        initiator_flavour: if cfg.cisco_avps {
            Flavour::CiscoDual
        } else {
            Flavour::Ietf
        },
        tie_breaker: true,
        ..TunnelConfig::default()
    };
    t.reliable.max_retries = cfg.retransmit_retries;
    t.reliable.rto_max = u64::from(cfg.retransmit_max) * 1000;
    t.reliable.rto_initial = t.reliable.rto_initial.min(t.reliable.rto_max);
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
    ep: Endpoint<Peer>,
    phase: Phase,
    /// The peer `phase` is about (the data path's peer while Up).
    peer: Peer,
    /// Set with a backup peer: when to go back to the primary.
    failover: Option<Revert>,
    probe: Probe,
    backoff: u64,
    probe_backoff: u64,
    /// Failures in a row since the last session came up (failover: every
    /// second one, both peers have failed).
    fails: u32,
    epoch: Instant,
    sends: Vec<(Peer, Vec<u8>)>,
    change: Option<Option<SessionParams>>,
    /// When the ICCN of the session being opened went out.
    iccn_at: Option<u64>,
    stats: ControlStats,
}

impl Control {
    /// A control connection with random identifiers from the OS.
    pub fn new(cfg: &DynamicConfig, template: SessionParams) -> Control {
        Self::with_random(cfg, template, Box::new(OsRandom))
    }

    pub fn with_random(
        cfg: &DynamicConfig,
        template: SessionParams,
        rng: Box<dyn Random>,
    ) -> Control {
        let ecfg = EndpointConfig {
            tunnel: tunnel_config(cfg, &template),
            max_tunnels_per_peer: 4,
            max_tunnels: 8,
        };
        let failover = cfg.backup.map(|b| b.revert);
        let stats = ControlStats {
            peer: failover.map(|_| Peer::Primary.name().to_string()),
            ..ControlStats::default()
        };
        Control {
            vc_id: cfg.vc_id.as_bytes().to_vec(),
            template,
            ep: Endpoint::new(ecfg, rng),
            phase: Phase::Backoff { retry_at: 0 },
            peer: Peer::Primary,
            failover,
            probe: Probe::Off,
            backoff: BACKOFF_MIN,
            probe_backoff: BACKOFF_MIN,
            fails: 0,
            epoch: Instant::now(),
            sends: Vec::new(),
            change: None,
            iccn_at: None,
            stats,
        }
    }

    /// Milliseconds since this control connection was created.
    pub fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The peer the phase is about: while Up, where the data path sends
    /// and the only peer whose data packets are taken.
    pub fn peer(&self) -> Peer {
        self.peer
    }

    /// The probe of the primary (failover only).
    pub fn probe(&self) -> Probe {
        self.probe
    }

    /// Messages to transmit, each to its peer (over IP: without the 4
    /// zero bytes, which the caller adds).
    pub fn take_sends(&mut self) -> Vec<(Peer, Vec<u8>)> {
        std::mem::take(&mut self.sends)
    }

    /// `Some(Some(p))`: a session came up, forward with `p` to
    /// [`Control::peer`]; `Some(None)`: it went down, stop forwarding.
    pub fn take_change(&mut self) -> Option<Option<SessionParams>> {
        self.change.take()
    }

    pub fn stats(&self) -> ControlStats {
        let mut s = self.stats.clone();
        s.state = self.phase.name().to_string();
        if self.failover.is_some() {
            s.peer = Some(self.peer.name().to_string());
        }
        s.auth_failures += self
            .ep
            .tunnels()
            .map(|(_, t)| t.stats().auth_failures)
            .sum::<u64>();
        s
    }

    /// A control message from peer `from`.
    pub fn handle(&mut self, now: u64, from: Peer, raw: &[u8]) {
        self.stats.control_rx += 1;
        let acts = self.ep.handle(now, from, raw);
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
        let probe = match self.probe {
            Probe::Wait { at } => Some(at),
            Probe::Answering { since, .. } => self.revert_at(since),
            Probe::Opening { since, .. } => Some(since + OPEN_TIMEOUT),
            _ => None,
        };
        [own, probe, self.ep.next_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Timers: (re)connection, retransmissions, HELLO, setup timeouts,
    /// the probe of the primary.
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
        self.probe_timers(now);
    }

    /// Graceful stop: StopCCN on every tunnel, no reconnection.
    pub fn shutdown(&mut self, now: u64) {
        let acts = self
            .ep
            .shutdown(now, stopccn_result::GENERAL_REQUEST_TO_CLEAR);
        self.phase = Phase::Stopped;
        self.probe = Probe::Off;
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
        let (ccid, acts) = self.ep.connect(now, self.peer);
        if self.failover.is_some() {
            log::info!(
                "las-edge: opening control connection {ccid} to the {} peer (SCCRQ)",
                self.peer.name()
            );
        } else {
            log::info!("las-edge: opening control connection {ccid} (SCCRQ)");
        }
        self.phase = Phase::Connecting { ccid };
        self.actions(now, acts);
    }

    /// Asks for our VC ID on the established tunnel `ccid` (the phase's).
    fn open_session(&mut self, now: u64, ccid: u32) {
        let vc = self.vc_id.clone();
        match self.ep.open_session(now, ccid, &vc, pw_type::ETHERNET) {
            Some((sid, more)) => {
                self.phase = Phase::Opening {
                    ccid,
                    sid,
                    since: now,
                };
                self.actions(now, more);
            }
            None => self.restart(now, ccid, "cannot open a session".into()),
        }
    }

    /// Closes tunnel `ccid` with StopCCN and backs off.
    fn restart(&mut self, now: u64, ccid: u32, why: String) {
        let acts = self
            .ep
            .stop_tunnel(now, ccid, stopccn_result::GENERAL_REQUEST_TO_CLEAR, None);
        self.down(now, why);
        self.actions(now, acts);
    }

    /// The session (or tunnel) is gone: stop forwarding, back off (with
    /// a backup peer: go on with the other peer).
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
        self.stats.last_down = Some(why.clone());
        if self.failover.is_none() {
            let retry_at = now + self.backoff;
            log::warn!(
                "las-edge: {why}: reconnecting in {} s",
                self.backoff as f64 / 1000.0
            );
            self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
            self.phase = Phase::Backoff { retry_at };
            return;
        }
        self.fails += 1;
        self.stats.failovers += 1;
        let from = self.peer;
        self.peer = from.other();
        // Only ever set while up on the backup: its tunnel is to the primary.
        match std::mem::replace(&mut self.probe, Probe::Off) {
            Probe::Connecting { ccid } => {
                log::warn!(
                    "las-edge: {why} ({} peer): failing over to the primary, whose control connection {ccid} is being set up",
                    from.name()
                );
                self.phase = Phase::Connecting { ccid };
                return;
            }
            Probe::Answering { ccid, .. } => {
                log::warn!(
                    "las-edge: {why} ({} peer): failing over to the primary on its control connection {ccid}",
                    from.name()
                );
                self.stats.tunnels_up += 1;
                self.phase = Phase::Connecting { ccid };
                self.open_session(now, ccid);
                return;
            }
            Probe::Opening { ccid, sid, since } => {
                log::warn!(
                    "las-edge: {why} ({} peer): failing over to the primary, session {sid} being opened",
                    from.name()
                );
                self.phase = Phase::Opening { ccid, sid, since };
                return;
            }
            Probe::Off | Probe::Wait { .. } => {}
        }
        // After one failure the other peer at once; once both failed in a
        // row, back off before the next round.
        let wait = if self.fails % 2 == 1 {
            0
        } else {
            let b = self.backoff;
            self.backoff = (b * 2).min(BACKOFF_MAX);
            b
        };
        log::warn!(
            "las-edge: {why} ({} peer): failing over to the {} peer{}",
            from.name(),
            self.peer.name(),
            if wait == 0 {
                String::new()
            } else {
                format!(" in {} s (both peers failed)", wait as f64 / 1000.0)
            }
        );
        self.phase = Phase::Backoff {
            retry_at: now + wait,
        };
    }

    /// When the primary, answering since `since`, is taken back.
    fn revert_at(&self, since: u64) -> Option<u64> {
        match self.failover {
            Some(Revert::After(d)) => Some(since + u64::from(d) * 1000),
            _ => None,
        }
    }

    fn probe_timers(&mut self, now: u64) {
        match self.probe {
            Probe::Wait { at } if now >= at => {
                self.stats.probes += 1;
                let (ccid, acts) = self.ep.connect(now, Peer::Primary);
                log::info!("las-edge: probing the primary: control connection {ccid} (SCCRQ)");
                self.probe = Probe::Connecting { ccid };
                self.actions(now, acts);
            }
            Probe::Answering { ccid, since } if self.revert_at(since).is_some_and(|t| now >= t) => {
                log::info!(
                    "las-edge: the primary has answered for {} s: reverting, requesting the session on control connection {ccid}",
                    (now - since) / 1000
                );
                let vc = self.vc_id.clone();
                match self.ep.open_session(now, ccid, &vc, pw_type::ETHERNET) {
                    Some((sid, more)) => {
                        self.probe = Probe::Opening {
                            ccid,
                            sid,
                            since: now,
                        };
                        self.actions(now, more);
                    }
                    None => self.probe_failed(now, Some(ccid), "cannot open a session".into()),
                }
            }
            Probe::Opening { ccid, since, .. } if now >= since + OPEN_TIMEOUT => {
                self.probe_failed(now, Some(ccid), "no answer to the session request".into());
            }
            _ => {}
        }
    }

    /// The probe failed: closes its tunnel `stop` (StopCCN) if given and
    /// probes again later.
    fn probe_failed(&mut self, now: u64, stop: Option<u32>, why: String) {
        log::info!(
            "las-edge: probe of the primary: {why}; next probe in {} s",
            self.probe_backoff as f64 / 1000.0
        );
        self.probe = Probe::Wait {
            at: now + self.probe_backoff,
        };
        self.probe_backoff = (self.probe_backoff * 2).min(BACKOFF_MAX);
        if let Some(ccid) = stop {
            let acts =
                self.ep
                    .stop_tunnel(now, ccid, stopccn_result::GENERAL_REQUEST_TO_CLEAR, None);
            self.actions(now, acts);
        }
    }

    /// The primary's session came up on the probe: the data path moves
    /// there, then the backup's control connection is closed.
    fn revert(&mut self, now: u64, ccid: u32, sid: u32, p: SessionParams) {
        log::info!(
            "las-edge: reverted to the primary: session {} -> peer session {}; closing the backup's control connection",
            p.session_id,
            p.peer_session_id
        );
        let old = self.phase.ccid();
        self.stats.reverts += 1;
        self.stats.sessions_up += 1;
        // The backup's session and control connection, closed below.
        self.stats.sessions_down += 1;
        self.stats.tunnels_up += 1;
        self.stats.tunnels_down += 1;
        self.stats.session_id = p.session_id;
        self.stats.peer_session_id = p.peer_session_id;
        self.peer = Peer::Primary;
        self.phase = Phase::Up { ccid, sid };
        self.probe = Probe::Off;
        self.fails = 0;
        self.backoff = BACKOFF_MIN;
        self.change = Some(Some(p));
        if let Some(old) = old {
            let acts =
                self.ep
                    .stop_tunnel(now, old, stopccn_result::GENERAL_REQUEST_TO_CLEAR, None);
            self.actions(now, acts);
        }
    }

    /// A session we asked for vanished before it came up: the peer
    /// refused it with a CDN.
    fn check_refused(&mut self, now: u64) {
        let vanished = |ep: &Endpoint<Peer>, ccid: u32, sid: u32| {
            ep.tunnel(ccid)
                .is_some_and(|t| t.state() == TunnelState::Established && t.session(sid).is_none())
        };
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
            if vanished(&self.ep, ccid, sid) {
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
        if let Probe::Opening { ccid, sid, .. } = self.probe {
            if vanished(&self.ep, ccid, sid) {
                self.stats.sessions_refused += 1;
                self.probe_failed(now, Some(ccid), "the primary refused the session".into());
            }
        }
    }

    /// A session las offered that las-edge cannot carry: counted, and
    /// closed with a CDN that says why.
    fn refuse_unusable(&mut self, now: u64, ccid: u32, sid: u32, why: &str) {
        self.stats.sessions_refused += 1;
        let text = format!("las-edge cannot use the session: {why}");
        let acts = self
            .ep
            .close_session(now, ccid, sid, cdn_result::GENERAL_ERROR, None, &text);
        self.actions(now, acts);
    }

    fn actions(&mut self, now: u64, acts: Vec<(Peer, Action)>) {
        for (peer, a) in acts {
            match a {
                Action::Send(b) => {
                    self.stats.control_tx += 1;
                    self.sends.push((peer, b));
                }
                Action::TunnelUp(t) => {
                    if self.probe == (Probe::Connecting { ccid: t.local_ccid }) {
                        log::info!(
                            "las-edge: the primary answers: control connection {} up (peer ccid {})",
                            t.local_ccid,
                            t.remote_ccid
                        );
                        self.probe = Probe::Answering {
                            ccid: t.local_ccid,
                            since: now,
                        };
                        self.probe_backoff = BACKOFF_MIN;
                        self.probe_timers(now);
                        continue;
                    }
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
                    self.open_session(now, t.local_ccid);
                }
                Action::SessionUp(up) => {
                    if let Probe::Opening { ccid, sid, .. } = self.probe {
                        if up.local_ccid == ccid && up.local_session_id == sid {
                            match session_params(&self.template, &up) {
                                Ok(p) => self.revert(now, ccid, sid, p),
                                Err(e) => {
                                    self.refuse_unusable(now, ccid, sid, &e);
                                    self.probe_failed(
                                        now,
                                        Some(ccid),
                                        format!("unusable session: {e}"),
                                    );
                                }
                            }
                            continue;
                        }
                    }
                    let Phase::Opening { ccid, sid, .. } = self.phase else {
                        continue;
                    };
                    if up.local_ccid != ccid || up.local_session_id != sid {
                        continue;
                    }
                    match session_params(&self.template, &up) {
                        Ok(p) => {
                            log::info!(
                                "las-edge: session up{}: session {} -> peer session {}, cookie {}/{} bytes (rx/tx), sublayer {:?}/{:?} (rx/tx)",
                                if self.failover.is_some() {
                                    format!(" on the {} peer", self.peer.name())
                                } else {
                                    String::new()
                                },
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
                            self.fails = 0;
                            self.phase = Phase::Up { ccid, sid };
                            self.change = Some(Some(p));
                            if self.peer == Peer::Backup
                                && matches!(self.failover, Some(Revert::After(_)))
                            {
                                self.probe_backoff = BACKOFF_MIN;
                                self.probe = Probe::Wait {
                                    at: now + BACKOFF_MIN,
                                };
                            }
                        }
                        Err(e) => {
                            self.refuse_unusable(now, ccid, sid, &e);
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
                    } else if self.probe.ccid() == Some(t.local_ccid) {
                        self.probe_failed(
                            now,
                            None,
                            format!("control connection down: {}", reason(&t.reason)),
                        );
                    } else if self.phase == Phase::Stopped {
                        self.stats.tunnels_down += 1;
                    }
                }
                Action::SessionStatus { active, .. } => {
                    log::info!(
                        "las-edge: {} peer reports the circuit {}",
                        peer.name(),
                        if active { "up" } else { "down" }
                    );
                }
                // las-edge sets no mover.
                Action::PeerMoved { .. } => {}
                Action::Refused(r) => {
                    self.stats.refused += 1;
                    log::warn!(
                        "las-edge: {} from the {} peer refused ({:?}, {}): {}",
                        r.msg.map_or("datagram".to_string(), |t| format!("{t:?}")),
                        peer.name(),
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
    use crate::edge::config::Failover;
    use crate::wire::l2tp::auth::DigestAlg;
    use crate::wire::l2tp::Encap;
    use std::net::IpAddr;

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
            router_id: 1,
            secret: secret.map(|s| (s.to_string(), DigestAlg::Md5)),
            cisco_avps: false,
            hello_interval: 60,
            retransmit_retries: 10,
            retransmit_max: 8,
            backup: None,
        }
    }

    /// Failover with the lab's short timers: HELLO after 2 s, 3
    /// retransmissions 1 s apart (dead 6 s after the last message).
    fn fo(revert: Revert) -> DynamicConfig {
        DynamicConfig {
            hello_interval: 2,
            retransmit_retries: 3,
            retransmit_max: 1,
            backup: Some(Failover {
                peer: IpAddr::from([192, 0, 2, 2]),
                revert,
            }),
            ..dcfg(None)
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

    fn idx(p: Peer) -> usize {
        match p {
            Peer::Primary => 0,
            Peer::Backup => 1,
        }
    }

    fn absorb(
        p: Peer,
        acts: Vec<((), Action)>,
        to_edge: &mut Vec<(Peer, Vec<u8>)>,
        ups: &mut Vec<(Peer, SessionUp)>,
    ) {
        for (_, a) in acts {
            match a {
                Action::Send(b) => to_edge.push((p, b)),
                Action::SessionUp(u) => ups.push((p, u)),
                _ => {}
            }
        }
    }

    /// Runs las-edge against its primary and backup las (`None`: dead,
    /// not running and everything sent to it lost) until `until` ms, in
    /// 50 ms steps with no delay on the wire. Returns the responders'
    /// session-ups.
    fn run(
        edge: &mut Control,
        mut las: [Option<&mut Endpoint<()>>; 2],
        now: &mut u64,
        until: u64,
    ) -> Vec<(Peer, SessionUp)> {
        let mut ups = Vec::new();
        while *now < until {
            edge.poll(*now);
            let mut to_las = edge.take_sends();
            let mut to_edge = Vec::new();
            for p in [Peer::Primary, Peer::Backup] {
                if let Some(l) = las[idx(p)].as_deref_mut() {
                    absorb(p, l.poll(*now), &mut to_edge, &mut ups);
                }
            }
            while !to_las.is_empty() || !to_edge.is_empty() {
                for (p, m) in to_las.drain(..) {
                    if let Some(l) = las[idx(p)].as_deref_mut() {
                        let acts = l.handle(*now, (), &m);
                        absorb(p, acts, &mut to_edge, &mut ups);
                    }
                }
                for (p, m) in to_edge.drain(..) {
                    edge.handle(*now, p, &m);
                }
                to_las = edge.take_sends();
            }
            *now += 50;
        }
        ups
    }

    /// One las only (the primary); `drop_to_las`: it is dead.
    fn pump(
        edge: &mut Control,
        las: &mut Endpoint<()>,
        now: &mut u64,
        until: u64,
        drop_to_las: bool,
    ) -> Vec<SessionUp> {
        let las = if drop_to_las { None } else { Some(las) };
        run(edge, [las, None], now, until)
            .into_iter()
            .map(|(_, u)| u)
            .collect()
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
        d.router_id = 42;
        let t = tunnel_config(&d, &template());
        assert_eq!(t.initiator_flavour, Flavour::CiscoDual);
        assert!(t.auth.is_some() && t.digest && !t.challenge);
        assert_eq!(t.hello_interval, 5000);
        assert_eq!(t.router_id, 42);
        assert_eq!((t.reliable.max_retries, t.reliable.rto_max), (10, 8_000));
        let t = tunnel_config(&fo(Revert::Never), &template());
        assert_eq!(
            (
                t.reliable.max_retries,
                t.reliable.rto_initial,
                t.reliable.rto_max
            ),
            (3, 1_000, 1_000)
        );
        let t = tunnel_config(&dcfg(None), &template());
        assert!(t.auth.is_none() && !t.digest);
        assert_eq!(t.initiator_flavour, Flavour::Ietf);
    }

    #[test]
    fn test_comes_up_and_mirrors_responder() {
        for secret in [None, Some("s3cret")] {
            let mut edge = Control::with_random(&dcfg(secret), template(), counter(1));
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
        let mut edge = Control::with_random(&dcfg(Some("wrong")), template(), counter(1));
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
        let mut edge = Control::with_random(&dcfg(None), template(), counter(1));
        let mut las1 = las(None);
        let mut now = 0;
        pump(&mut edge, &mut las1, &mut now, 1_000, false);
        assert!(edge.take_change().unwrap().is_some());
        // las shuts down: StopCCN.
        for (_, a) in las1.shutdown(now, stopccn_result::BEING_SHUT_DOWN) {
            if let Action::Send(b) = a {
                edge.handle(now, Peer::Primary, &b);
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
        let mut edge = Control::with_random(&d, template(), counter(1));
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
        let mut edge = Control::with_random(&dcfg(None), template(), counter(1));
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
        assert_eq!(sends[0].0, Peer::Primary);
        for (_, a) in l.handle(now, (), &sends[0].1) {
            match a {
                Action::SessionDown(_) | Action::TunnelDown(_) => downs += 1,
                Action::Send(b) => edge.handle(now, Peer::Primary, &b),
                _ => {}
            }
        }
        assert_eq!(downs, 2);
        // las acknowledges (ZLB after the ack delay).
        now += 500;
        for (_, a) in l.poll(now) {
            if let Action::Send(b) = a {
                edge.handle(now, Peer::Primary, &b);
            }
        }
        assert!(edge.flushed());
        // No reconnection after a shutdown.
        edge.poll(now + 60_000);
        assert_eq!(edge.phase(), Phase::Stopped);
    }

    /// Runs until las-edge is up on `peer` (checked every 50 ms), at most
    /// until `limit`; returns when it came up.
    fn up_on(
        edge: &mut Control,
        las: [Option<&mut Endpoint<()>>; 2],
        now: &mut u64,
        peer: Peer,
        limit: u64,
    ) -> Option<u64> {
        let [mut a, mut b] = las;
        while *now <= limit {
            if edge.peer() == peer && matches!(edge.phase(), Phase::Up { .. }) {
                return Some(*now);
            }
            let until = *now + 50;
            run(edge, [a.as_deref_mut(), b.as_deref_mut()], now, until);
        }
        None
    }

    /// The session las-edge forwards with is the one `las` set up.
    fn forwards_with(edge: &mut Control, ups: &[(Peer, SessionUp)], peer: Peer) {
        let p = edge.take_change().expect("no change").expect("not up");
        let (_, u) = ups.last().expect("no session up");
        assert!(ups.iter().any(|(q, v)| *q == peer && v == u));
        assert_eq!(p.peer_session_id, u.local_session_id);
        assert_eq!(p.session_id, u.remote_session_id);
    }

    #[test]
    fn test_primary_dies_backup_up_within_bound() {
        let cfg = fo(Revert::After(30));
        let bound = cfg.dead_peer_bound_ms();
        assert_eq!(bound, 6_000);
        let mut edge = Control::with_random(&cfg, template(), counter(1));
        let (mut a, mut b) = (las(None), las(None));
        let mut now = 0;
        let ups = run(&mut edge, [Some(&mut a), Some(&mut b)], &mut now, 1_000);
        assert!(matches!(edge.phase(), Phase::Up { .. }));
        assert_eq!(edge.peer(), Peer::Primary);
        assert!(ups.iter().all(|(p, _)| *p == Peer::Primary));
        forwards_with(&mut edge, &ups, Peer::Primary);
        assert_eq!(edge.probe(), Probe::Off);
        // Let HELLOs go both ways, then the primary dies (kill -9).
        run(&mut edge, [Some(&mut a), Some(&mut b)], &mut now, 9_000);
        let killed = now;
        let mut ups = Vec::new();
        while !(edge.peer() == Peer::Backup && matches!(edge.phase(), Phase::Up { .. })) {
            assert!(now < killed + 20_000, "no failover: {:?}", edge.phase());
            let until = now + 50;
            ups.extend(run(&mut edge, [None, Some(&mut b)], &mut now, until));
        }
        // Detection (HELLO unanswered) plus one setup, which takes no
        // time on this wire but one 50 ms step per message exchange.
        let took = now - killed;
        assert!(took <= bound + 500, "{took} ms > {bound} ms + setup");
        // Not before the HELLO interval: it really was detection.
        assert!(took >= 2_000, "{took} ms");
        forwards_with(&mut edge, &ups, Peer::Backup);
        let s = edge.stats();
        assert_eq!(s.peer.as_deref(), Some("backup"));
        assert_eq!((s.failovers, s.sessions_up, s.sessions_down), (1, 2, 1));
        assert!(s.last_down.unwrap().contains("peer not answering"));
    }

    #[test]
    fn test_backup_dies_back_to_primary() {
        let cfg = fo(Revert::Never);
        let mut edge = Control::with_random(&cfg, template(), counter(1));
        let mut b = las(None);
        let mut now = 0;
        // The primary is down from the start: its SCCRQ goes unanswered
        // (4 tries, dead after 4 s), then the backup at once.
        let t = up_on(
            &mut edge,
            [None, Some(&mut b)],
            &mut now,
            Peer::Backup,
            10_000,
        );
        let t = t.expect("never up on the backup");
        assert!((4_000..=4_500).contains(&t), "{t}");
        // The primary comes back, the backup dies: back to the primary.
        let mut a = las(None);
        run(&mut edge, [Some(&mut a), Some(&mut b)], &mut now, t + 3_000);
        assert_eq!(edge.peer(), Peer::Backup);
        assert_eq!(a.tunnel_count(), 0, "Never: the primary is not probed");
        let killed = now;
        let limit = now + 20_000;
        let t = up_on(
            &mut edge,
            [Some(&mut a), None],
            &mut now,
            Peer::Primary,
            limit,
        );
        let t = t.expect("never back on the primary");
        assert!(
            t - killed <= cfg.dead_peer_bound_ms() + 500,
            "{}",
            t - killed
        );
        let s = edge.stats();
        assert_eq!((s.failovers, s.reverts, s.probes), (2, 0, 0));
        assert_eq!(s.peer.as_deref(), Some("primary"));
    }

    #[test]
    fn test_revert_after_delay() {
        let cfg = fo(Revert::After(10));
        let mut edge = Control::with_random(&cfg, template(), counter(1));
        let mut b = las(None);
        let mut now = 0;
        up_on(
            &mut edge,
            [None, Some(&mut b)],
            &mut now,
            Peer::Backup,
            10_000,
        )
        .expect("never up on the backup");
        edge.take_change();
        // The primary stays down for a while: probes fail, back off.
        run(&mut edge, [None, Some(&mut b)], &mut now, 30_000);
        assert_eq!(edge.peer(), Peer::Backup);
        assert!(edge.stats().probes >= 2, "{:?}", edge.stats());
        assert!(edge.take_change().is_none(), "the data path never moved");
        // The primary is back; the next probe finds it.
        let mut a = las(None);
        let since = loop {
            assert!(now < 90_000, "the primary never answered the probe");
            if let Probe::Answering { since, .. } = edge.probe() {
                break since;
            }
            let until = now + 50;
            run(&mut edge, [Some(&mut a), Some(&mut b)], &mut now, until);
        };
        assert_eq!(a.tunnel_count(), 1);
        // Until the delay has passed: still on the backup.
        let mut ups = run(
            &mut edge,
            [Some(&mut a), Some(&mut b)],
            &mut now,
            since + 9_900,
        );
        assert_eq!(edge.peer(), Peer::Backup);
        assert!(ups.is_empty());
        assert!(edge.take_change().is_none());
        ups.extend(run(
            &mut edge,
            [Some(&mut a), Some(&mut b)],
            &mut now,
            since + 10_500,
        ));
        assert_eq!(edge.peer(), Peer::Primary);
        assert!(matches!(edge.phase(), Phase::Up { .. }));
        forwards_with(&mut edge, &ups, Peer::Primary);
        assert_eq!(edge.probe(), Probe::Off);
        // The backup's control connection was closed (StopCCN).
        let limit = now + 2_000;
        run(&mut edge, [Some(&mut a), Some(&mut b)], &mut now, limit);
        assert!(b
            .tunnels()
            .all(|(_, t)| t.state() != TunnelState::Established));
        assert_eq!(a.tunnel_count(), 1);
        let s = edge.stats();
        assert_eq!((s.reverts, s.failovers), (1, 1));
        assert_eq!(s.peer.as_deref(), Some("primary"));
        // Back on the primary: no probing, and it stays there.
        let limit = now + 60_000;
        run(&mut edge, [Some(&mut a), Some(&mut b)], &mut now, limit);
        assert_eq!(edge.peer(), Peer::Primary);
        assert_eq!(edge.stats().probes, s.probes);
    }

    #[test]
    fn test_revert_zero_is_immediate() {
        let mut edge = Control::with_random(&fo(Revert::After(0)), template(), counter(1));
        let (mut a, mut b) = (las(None), las(None));
        let mut now = 0;
        up_on(
            &mut edge,
            [None, Some(&mut b)],
            &mut now,
            Peer::Backup,
            10_000,
        )
        .unwrap();
        let back = now;
        // First probe 1 s after the session came up on the backup.
        let t = up_on(
            &mut edge,
            [Some(&mut a), Some(&mut b)],
            &mut now,
            Peer::Primary,
            back + 5_000,
        );
        let t = t.expect("no revert");
        assert!(t - back <= 1_500, "{}", t - back);
        assert_eq!(edge.stats().reverts, 1);
    }

    #[test]
    fn test_never_revert() {
        let mut edge = Control::with_random(&fo(Revert::Never), template(), counter(1));
        let (mut a, mut b) = (las(None), las(None));
        let mut now = 0;
        up_on(
            &mut edge,
            [None, Some(&mut b)],
            &mut now,
            Peer::Backup,
            10_000,
        )
        .unwrap();
        edge.take_change();
        run(&mut edge, [Some(&mut a), Some(&mut b)], &mut now, 300_000);
        assert_eq!(edge.peer(), Peer::Backup);
        assert!(matches!(edge.phase(), Phase::Up { .. }));
        assert_eq!(edge.probe(), Probe::Off);
        assert!(edge.take_change().is_none());
        assert_eq!(a.tunnel_count(), 0);
        let s = edge.stats();
        assert_eq!((s.probes, s.reverts), (0, 0));
    }

    /// Delivers `acts` (las's answers) to las-edge as from `peer`.
    fn deliver(edge: &mut Control, now: u64, peer: Peer, acts: Vec<((), Action)>) {
        for (_, a) in acts {
            if let Action::Send(b) = a {
                edge.handle(now, peer, &b);
            }
        }
    }

    #[test]
    fn test_stopccn_from_primary_switches_at_once() {
        let mut edge = Control::with_random(&fo(Revert::After(30)), template(), counter(1));
        let (mut a, mut b) = (las(None), las(None));
        let mut now = 0;
        run(&mut edge, [Some(&mut a), Some(&mut b)], &mut now, 1_000);
        assert_eq!(edge.peer(), Peer::Primary);
        edge.take_change();
        let acts = a.shutdown(now, stopccn_result::BEING_SHUT_DOWN);
        deliver(&mut edge, now, Peer::Primary, acts);
        // No backoff: the backup is tried at once.
        assert_eq!(edge.take_change(), Some(None));
        assert_eq!(edge.peer(), Peer::Backup);
        assert_eq!(edge.phase(), Phase::Backoff { retry_at: now });
        let t0 = now;
        let t = up_on(
            &mut edge,
            [Some(&mut a), Some(&mut b)],
            &mut now,
            Peer::Backup,
            t0 + 5_000,
        );
        assert!(t.expect("not up on the backup") - t0 <= 500);
        assert!(edge
            .stats()
            .last_down
            .unwrap()
            .contains("closed by the peer"));
    }

    #[test]
    fn test_cdn_from_primary_switches_at_once() {
        let mut edge = Control::with_random(&fo(Revert::Never), template(), counter(1));
        let (mut a, mut b) = (las(None), las(None));
        let mut now = 0;
        let ups = run(&mut edge, [Some(&mut a), Some(&mut b)], &mut now, 1_000);
        assert_eq!(edge.peer(), Peer::Primary);
        let (_, u) = &ups[0];
        let acts = a.close_session(
            now,
            u.local_ccid,
            u.local_session_id,
            cdn_result::ADMINISTRATIVE,
            None,
            "",
        );
        deliver(&mut edge, now, Peer::Primary, acts);
        assert_eq!(edge.peer(), Peer::Backup);
        let t0 = now;
        let t = up_on(
            &mut edge,
            [Some(&mut a), Some(&mut b)],
            &mut now,
            Peer::Backup,
            t0 + 5_000,
        );
        assert!(t.expect("not up on the backup") - t0 <= 500);
        assert!(edge.stats().last_down.unwrap().contains("session down"));
    }

    #[test]
    fn test_backup_dies_while_probe_connected() {
        // The probe's control connection to the primary is taken over:
        // only the session is asked for, no new SCCRQ.
        let cfg = fo(Revert::After(600));
        let mut edge = Control::with_random(&cfg, template(), counter(1));
        let (mut a, mut b) = (las(None), las(None));
        let mut now = 0;
        up_on(
            &mut edge,
            [None, Some(&mut b)],
            &mut now,
            Peer::Backup,
            10_000,
        )
        .unwrap();
        while !matches!(edge.probe(), Probe::Answering { .. }) {
            assert!(now < 60_000);
            let until = now + 50;
            run(&mut edge, [Some(&mut a), Some(&mut b)], &mut now, until);
        }
        let connects = edge.stats().connects;
        let killed = now;
        let limit = now + 20_000;
        let t = up_on(
            &mut edge,
            [Some(&mut a), None],
            &mut now,
            Peer::Primary,
            limit,
        );
        assert!(t.expect("not back on the primary") - killed <= cfg.dead_peer_bound_ms() + 500);
        assert_eq!(edge.stats().connects, connects);
        assert_eq!(a.tunnel_count(), 1);
    }

    #[test]
    fn test_both_dead_alternate_with_backoff() {
        let mut edge = Control::with_random(&fo(Revert::After(30)), template(), counter(1));
        let mut now = 0;
        let mut tried = Vec::new();
        while now < 120_000 {
            if let Phase::Connecting { .. } = edge.phase() {
                if tried.last().map(|(p, _)| *p) != Some(edge.peer()) {
                    tried.push((edge.peer(), now));
                }
            }
            let until = now + 50;
            run(&mut edge, [None, None], &mut now, until);
        }
        // primary, backup, primary, ... the other peer at once after one
        // failure; after both failed, 1 s, 2 s, 4 s, ... before a round.
        assert!(tried.len() >= 8, "{tried:?}");
        for (i, w) in tried.windows(2).enumerate() {
            assert_eq!(w[1].0, w[0].0.other(), "{tried:?}");
            let gap = w[1].1 - w[0].1;
            // Each try lasts 4 s (SCCRQ and 3 retransmissions, 1 s apart).
            let wait = gap - 4_000;
            if i % 2 == 0 {
                assert!(wait <= 100, "{i}: {tried:?}");
            } else {
                let b = (BACKOFF_MIN << (i / 2)).min(BACKOFF_MAX);
                assert!(
                    wait >= b && wait <= b + 100,
                    "{i}: {wait} vs {b}: {tried:?}"
                );
            }
        }
        assert_eq!(edge.take_change(), None);
    }
}
