//! The control-plane `Endpoint` (src/control/l2tp/mod.rs) fed datagrams
//! from four peers while time passes, then shut down.
//!
//! Input: 2 configuration bytes, then records of
//! `[op/peer byte][time step byte][u16 length][bytes]`. The low 2 bits of
//! the first byte pick the peer, the next 3 the operation:
//!
//! * 0, 1: deliver the bytes as they are;
//! * 2, 3: deliver them as that peer's next message on its tunnel: if
//!   they parse, the Control Connection ID, Ns and Nr are set to what the
//!   tunnel expects, the Remote Session ID to the session las assigned
//!   last, a Challenge Response and a Message Digest are computed with
//!   the shared secret (so the fuzzer reaches established tunnels and
//!   sessions without guessing identifiers or hashes);
//! * 4: only let time pass;
//! * 5: the operator closes the peer's last session (CDN);
//! * 6: the operator stops the peer's tunnel (StopCCN);
//! * 7: graceful shutdown (and carry on).
//!
//! After each record time advances by the step (×250 ms) and every timer
//! due runs. At the end: `shutdown()`, then time until no tunnel is left.
//!
//! Checked throughout: every message las sends parses; SessionUp at most
//! once per session until its SessionDown; SessionDown only for a
//! session that is up; TunnelDown only after its sessions went down. At
//! the end: every tunnel gone, every session that was up reported down.
#![no_main]

use std::sync::Arc;

use las::control::l2tp::{
    Action, Denied, Endpoint, EndpointConfig, RefuseReason, SecretAuth, SessionRequest,
};
use las::wire::l2tp::auth::{self, DigestAlg};
use las::wire::l2tp::avp::{cisco, ietf};
use las::wire::l2tp::message::{cdn_result, stopccn_result};
use las::wire::l2tp::{Message, MessageType};
use las_fuzz::{Counter, Events, Input};
use libfuzzer_sys::fuzz_target;

const PEERS: usize = 4;
const SECRET: &[u8] = b"fuzz-secret";

/// What each peer learned from las's messages to it.
#[derive(Debug, Default, Clone)]
struct Peer {
    /// Our Control Connection ID (SCCRP's Assigned Control Connection ID).
    ccid: u32,
    /// Our last Session ID (ICRP's Local Session ID).
    sid: u32,
    /// The nonces of the peer's SCCRQ and of las's SCCRP.
    their_nonce: Vec<u8>,
    our_nonce: Vec<u8>,
    /// The Challenge in las's SCCRP.
    challenge: Vec<u8>,
}

struct Sim {
    ep: Endpoint<u8>,
    now: u64,
    events: Events,
    peers: [Peer; PEERS],
    /// ICRQs whose Remote End ID starts with this byte are refused.
    deny: u8,
    digest: bool,
}

impl Sim {
    fn take(&mut self, acts: Vec<(u8, Action)>) {
        self.events.see(acts.iter().map(|(_, a)| a));
        for (peer, a) in &acts {
            let Action::Send(b) = a else { continue };
            let m = Message::parse(b)
                .unwrap_or_else(|_| panic!("las sent what does not parse: {b:02x?}"));
            let p = &mut self.peers[usize::from(*peer)];
            match m.msg_type {
                Some(MessageType::Sccrp) => {
                    p.ccid = m.assigned_ccid().unwrap_or(p.ccid);
                    p.our_nonce = m.nonce().unwrap_or_default().to_vec();
                    p.challenge = m.challenge().unwrap_or_default().to_vec();
                }
                Some(MessageType::Icrp) => p.sid = m.local_session_id().unwrap_or(p.sid),
                _ => {}
            }
        }
    }

    fn deliver(&mut self, peer: u8, raw: &[u8]) {
        let deny = self.deny;
        let mut admit = |_: &u8, r: &SessionRequest| match r.remote_end_id.first() {
            Some(&b) if b == deny => Err(Denied {
                reason: RefuseReason::NoSwitch,
                result: cdn_result::ADMINISTRATIVE,
                error: None,
                detail: "no switch for this VC ID".into(),
            }),
            _ => Ok(()),
        };
        let acts = self.ep.handle_with(self.now, peer, raw, &mut admit);
        self.take(acts);
    }

    /// Delivers `raw` fixed up as the peer's next message on its tunnel.
    fn deliver_patched(&mut self, peer: u8, raw: &[u8]) {
        let Ok(mut m) = Message::parse(raw) else {
            return self.deliver(peer, raw);
        };
        let p = self.peers[usize::from(peer)].clone();
        if m.msg_type == Some(MessageType::Sccrq) {
            m.ccid = 0;
            m.ns = 0;
            m.nr = 0;
            self.peers[usize::from(peer)].their_nonce = m.nonce().unwrap_or_default().to_vec();
        } else {
            m.ccid = p.ccid;
            if let Some(t) = self.ep.tunnel(p.ccid) {
                m.ns = t.reliable().expected_ns();
                m.nr = t.reliable().next_ns();
            }
        }
        for a in m.avps.iter_mut().filter(|a| !a.hidden) {
            let remote_sid = matches!(
                (a.vendor, a.attr),
                (ietf::VENDOR, ietf::REMOTE_SESSION_ID) | (cisco::VENDOR, cisco::REMOTE_SESSION_ID)
            );
            if remote_sid && a.value.len() == 4 {
                a.value = p.sid.to_be_bytes().to_vec();
            }
            if (a.vendor, a.attr) == (ietf::VENDOR, ietf::CHALLENGE_RESPONSE) {
                let id = m.msg_type.map_or(0, |t| u16::from(t) as u8);
                a.value = auth::chap_response(id, SECRET, &p.challenge).to_vec();
            }
        }
        let b = if self.digest {
            let key = auth::shared_key(SECRET);
            let nonce = self.peers[usize::from(peer)].their_nonce.clone();
            m.emit_with_digest(DigestAlg::Md5, &key, &nonce, &p.our_nonce)
        } else {
            m.emit()
        };
        self.deliver(peer, &b);
    }

    /// Moves the clock to `until`, running every timer due on the way.
    fn advance(&mut self, until: u64) {
        for _ in 0..1000 {
            match self.ep.next_timeout() {
                Some(t) if t <= until => {
                    self.now = self.now.max(t);
                    let acts = self.ep.poll(self.now);
                    self.take(acts);
                    if self.ep.next_timeout().is_some_and(|t| t <= self.now) {
                        // Due again at once: move on rather than spin.
                        self.now += 1;
                    }
                }
                _ => break,
            }
        }
        self.now = self.now.max(until);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input::new(data);
    let (c0, c1) = (inp.u8(), inp.u8());
    let mut cfg = EndpointConfig {
        max_tunnels_per_peer: 1 + usize::from(c0 & 3),
        max_tunnels: 2 + usize::from((c0 >> 2) & 7),
        ..EndpointConfig::default()
    };
    cfg.tunnel.max_sessions = 1 + usize::from(c0 >> 5);
    cfg.tunnel.session.cookie_len = [0, 4, 8, 0][usize::from(c1 & 3)];
    cfg.tunnel.session.l2spec = u16::from((c1 >> 2) & 1);
    cfg.tunnel.session.allow_default_sublayer = c1 & 8 != 0;
    let digest = c1 & 0x10 != 0;
    if digest || c1 & 0x20 != 0 {
        cfg.tunnel.auth = Some(Arc::new(SecretAuth::new(DigestAlg::Md5, SECRET)));
        cfg.tunnel.secret = Some(SECRET.to_vec());
        cfg.tunnel.digest = digest;
        cfg.tunnel.challenge = c1 & 0x20 != 0;
    }
    let mut sim = Sim {
        ep: Endpoint::new(cfg, Box::new(Counter::default())),
        now: 0,
        events: Events::default(),
        peers: Default::default(),
        deny: c1 | 0x80,
        digest,
    };
    while !inp.is_empty() {
        let h = inp.u8();
        let step = u64::from(inp.u8()) * 250;
        let bytes = inp.record();
        let peer = h % PEERS as u8;
        let p = sim.peers[usize::from(peer)].clone();
        match (h >> 2) & 7 {
            0 | 1 => sim.deliver(peer, bytes),
            2 | 3 => sim.deliver_patched(peer, bytes),
            4 => {}
            5 => {
                let acts = sim.ep.close_session(
                    sim.now,
                    p.ccid,
                    p.sid,
                    cdn_result::ADMINISTRATIVE,
                    None,
                    "fuzz",
                );
                sim.take(acts);
            }
            6 => {
                let acts = sim.ep.stop_tunnel(
                    sim.now,
                    p.ccid,
                    stopccn_result::GENERAL_REQUEST_TO_CLEAR,
                    None,
                );
                sim.take(acts);
            }
            _ => {
                let acts = sim.ep.shutdown(sim.now, stopccn_result::BEING_SHUT_DOWN);
                sim.take(acts);
            }
        }
        let until = sim.now + step;
        sim.advance(until);
    }

    sim.events.report("before shutdown");
    let acts = sim.ep.shutdown(sim.now, stopccn_result::BEING_SHUT_DOWN);
    sim.take(acts);
    // Nobody answers any more: retransmissions give up, closing tunnels
    // finish their hold; an hour is far more than either takes.
    let end = sim.now + 3_600_000;
    while sim.ep.tunnel_count() > 0 && sim.now < end {
        let next = sim.ep.next_timeout().unwrap_or(end).min(end);
        sim.advance(next.max(sim.now + 1));
    }
    let left: Vec<_> = sim
        .ep
        .tunnels()
        .map(|(p, t)| (*p, t.local_ccid(), t.state()))
        .collect();
    assert!(
        left.is_empty(),
        "tunnels left an hour after shutdown: {left:?}"
    );
    assert!(
        sim.events.up.is_empty(),
        "sessions up with no SessionDown after shutdown: {:?}",
        sim.events.up
    );
});
