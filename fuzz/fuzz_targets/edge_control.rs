//! las-edge's control connection (`src/edge/dynamic.rs` `Control`, the
//! initiator) against a las `Endpoint` (the responder), over a lossy,
//! fuzz-controlled wire, with time passing.
//!
//! Input: 3 configuration bytes, then records of
//! `[op][time step][u16 length][bytes]`; op (low 3 bits):
//!
//! * 0: deliver everything las-edge sent to las;  1: the other way;
//! * 2: drop the oldest message to las;  3: drop the oldest to las-edge;
//! * 4: give las-edge the bytes as a control message;
//! * 5: flip byte `bytes[0]` of the oldest message to las-edge by
//!   `bytes[1]`, then deliver it;
//! * 6: only let time pass;  7: give las the bytes (from las-edge's address).
//!
//! Checked: las-edge forwards (`take_change`) exactly while its phase is
//! Up, with the ids of that phase; every message either side sends
//! parses; las's SessionUp/SessionDown/TunnelDown promises hold; while
//! nothing was injected or corrupted, the session las-edge forwards on is
//! one las set up, with matching ids, cookies and sublayers both ways. At the end las-edge shuts down, its StopCCN leaves, and both
//! sides end with no tunnel.
#![no_main]

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use las::control::l2tp::{Action, Endpoint, EndpointConfig, SecretAuth, SessionUp};
use las::edge::dynamic::Phase;
use las::edge::{Codec, Control, DynamicConfig, Peer, SessionParams};
use las::wire::l2tp::auth::DigestAlg;
use las::wire::l2tp::message::stopccn_result;
use las::wire::l2tp::{Cookie, Encap, L2Spec, Message};
use las_fuzz::{Counter, Events, Input};
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "fuzz-secret";

struct Sim {
    edge: Control,
    las: Endpoint<()>,
    now: u64,
    to_las: VecDeque<Vec<u8>>,
    to_edge: VecDeque<Vec<u8>>,
    events: Events,
    /// Every session las set up, by its Local Session ID (unique: the
    /// counter never repeats).
    las_ever: HashMap<u32, SessionUp>,
    /// What las-edge forwards with.
    fwd: Option<SessionParams>,
    /// No bytes were injected or corrupted (drops are fine).
    clean: bool,
}

fn l2spec(v: u16) -> L2Spec {
    if v == 1 {
        L2Spec::Default
    } else {
        L2Spec::None
    }
}

impl Sim {
    fn las_actions(&mut self, acts: Vec<((), Action)>) {
        self.events.see(acts.iter().map(|(_, a)| a));
        for (_, a) in acts {
            match a {
                Action::Send(b) => {
                    Message::parse(&b).expect("las sent what does not parse");
                    self.to_edge.push_back(b);
                }
                Action::SessionUp(u) => {
                    self.las_ever.insert(u.local_session_id, u);
                }
                _ => {}
            }
        }
    }

    /// Collects what las-edge did and checks its forwarding state.
    fn edge_after(&mut self) {
        for (peer, b) in self.edge.take_sends() {
            assert_eq!(peer, Peer::Primary, "no backup peer here");
            Message::parse(&b).expect("las-edge sent what does not parse");
            self.to_las.push_back(b);
        }
        if let Some(change) = self.edge.take_change() {
            self.fwd = change;
            if let (Some(p), true) = (self.fwd, self.clean) {
                self.check_session(&p);
            }
        }
        match (self.edge.phase(), self.fwd) {
            (Phase::Up { sid, .. }, Some(p)) => {
                assert_eq!(p.session_id, sid, "forwarding on another session");
                let _ = Codec::new(p).tx_header_len();
            }
            (Phase::Up { .. }, None) => panic!("las-edge is up but does not forward"),
            (phase, Some(p)) => panic!("las-edge forwards with {p:?} in phase {phase:?}"),
            (_, None) => {}
        }
    }

    /// The session las-edge now forwards on is one las set up (it may be
    /// gone again by now: a late acknowledgement of the ICCN can reach
    /// las-edge after las gave up on the tunnel), with the same ids,
    /// cookies and sublayers.
    fn check_session(&self, p: &SessionParams) {
        let Some(u) = self.las_ever.get(&p.peer_session_id) else {
            panic!(
                "las-edge up on {p:?}, a session las never set up: {:?}",
                self.las_ever
            );
        };
        assert_eq!(u.remote_session_id, p.session_id);
        assert_eq!(u.peer_cookie, p.cookie.as_bytes(), "cookie las sends");
        assert_eq!(u.our_cookie, p.peer_cookie.as_bytes(), "cookie las expects");
        assert_eq!(l2spec(u.peer_l2spec), p.l2spec, "sublayer las sends");
        assert_eq!(l2spec(u.l2spec), p.peer_l2spec, "sublayer las expects");
    }

    fn to_las_all(&mut self) {
        while let Some(b) = self.to_las.pop_front() {
            let acts = self.las.handle(self.now, (), &b);
            self.las_actions(acts);
        }
    }

    fn to_edge_all(&mut self) {
        while let Some(b) = self.to_edge.pop_front() {
            self.edge.handle(self.now, Peer::Primary, &b);
            self.edge_after();
        }
    }

    fn advance(&mut self, until: u64) {
        for _ in 0..1000 {
            let next = match (self.edge.next_timeout(), self.las.next_timeout()) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => match a.or(b) {
                    Some(t) => t,
                    None => break,
                },
            };
            if next > until {
                break;
            }
            self.now = self.now.max(next);
            self.edge.poll(self.now);
            self.edge_after();
            if self.las.next_timeout().is_some_and(|t| t <= self.now) {
                let acts = self.las.poll(self.now);
                self.las_actions(acts);
            }
            self.now += 1;
        }
        self.now = self.now.max(until);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input::new(data);
    let (c0, c1, c2) = (inp.u8(), inp.u8(), inp.u8());
    let secret = (c0 & 1 != 0).then(|| {
        let alg = if c0 & 2 != 0 {
            DigestAlg::Sha1
        } else {
            DigestAlg::Md5
        };
        (SECRET.to_string(), alg)
    });
    let dcfg = DynamicConfig {
        vc_id: "100".into(),
        router_id: 0x0a00_0002,
        secret: secret.clone(),
        cisco_avps: c0 & 4 != 0,
        hello_interval: 1 + u32::from(c2 % 60),
        retransmit_retries: 10,
        retransmit_max: 8,
        backup: None,
    };
    let template = SessionParams {
        encap: if c0 & 8 != 0 { Encap::Udp } else { Encap::Ip },
        session_id: 0,
        peer_session_id: 0,
        cookie: Cookie::NONE,
        peer_cookie: Cookie::NONE,
        l2spec: if c0 & 16 != 0 {
            L2Spec::Default
        } else {
            L2Spec::None
        },
        peer_l2spec: L2Spec::None,
    };
    let edge = Control::with_random(&dcfg, template, Box::new(Counter(0)));

    let mut lcfg = EndpointConfig::default();
    lcfg.tunnel.session.cookie_len = [0, 4, 8, 0][usize::from(c1 & 3)];
    lcfg.tunnel.session.l2spec = u16::from((c1 >> 2) & 1);
    // As las runs it: with `false` las sends no sublayer whatever the peer
    // asks, and a las-edge that asked for one would misread every frame.
    lcfg.tunnel.session.allow_default_sublayer = true;
    if let Some((s, alg)) = &secret {
        lcfg.tunnel.auth = Some(Arc::new(SecretAuth::new(*alg, s.as_bytes())));
        lcfg.tunnel.secret = Some(s.as_bytes().to_vec());
        lcfg.tunnel.digest = true;
    }
    let las = Endpoint::new(lcfg, Box::new(Counter(1_000_000)));

    let mut sim = Sim {
        edge,
        las,
        now: 0,
        to_las: VecDeque::new(),
        to_edge: VecDeque::new(),
        events: Events::default(),
        las_ever: HashMap::new(),
        fwd: None,
        clean: true,
    };
    sim.edge.poll(0);
    sim.edge_after();
    while !inp.is_empty() {
        let op = inp.u8();
        let step = u64::from(inp.u8()) * 250;
        let bytes = inp.record();
        match op & 7 {
            0 => sim.to_las_all(),
            1 => sim.to_edge_all(),
            2 => drop(sim.to_las.pop_front()),
            3 => drop(sim.to_edge.pop_front()),
            4 => {
                sim.clean = false;
                sim.edge.handle(sim.now, Peer::Primary, bytes);
                sim.edge_after();
            }
            5 => {
                if let Some(mut b) = sim.to_edge.pop_front() {
                    if let [at, x, ..] = *bytes {
                        if let Some(v) = b.get_mut(usize::from(at)) {
                            *v ^= x;
                            sim.clean &= x == 0;
                        }
                    }
                    sim.edge.handle(sim.now, Peer::Primary, &b);
                    sim.edge_after();
                }
            }
            6 => {}
            _ => {
                sim.clean = false;
                let acts = sim.las.handle(sim.now, (), bytes);
                sim.las_actions(acts);
            }
        }
        let until = sim.now + step;
        sim.advance(until);
    }

    sim.events
        .report(&format!("las, with las-edge {:?}", sim.edge.stats()));
    // las-edge stops: its StopCCN reaches las, which acknowledges it.
    sim.edge.shutdown(sim.now);
    sim.edge_after();
    assert_eq!(sim.edge.phase(), Phase::Stopped);
    let end = sim.now + 3_600_000;
    while !sim.edge.flushed() && sim.now < end {
        sim.to_las_all();
        sim.to_edge_all();
        let until = sim.now + 1_000;
        sim.advance(until);
    }
    assert!(sim.edge.flushed(), "las-edge's StopCCN never left");
    assert_eq!(sim.edge.phase(), Phase::Stopped);
    // las: every tunnel ends (closed by the StopCCN, or shut down).
    let acts = sim.las.shutdown(sim.now, stopccn_result::BEING_SHUT_DOWN);
    sim.las_actions(acts);
    while sim.las.tunnel_count() > 0 && sim.now < end + 3_600_000 {
        sim.to_edge.clear();
        let next = sim.las.next_timeout().unwrap_or(sim.now + 1_000);
        sim.advance(next.max(sim.now + 1));
        sim.to_las.clear();
    }
    assert_eq!(sim.las.tunnel_count(), 0, "las tunnels left after shutdown");
    assert!(sim.events.up.is_empty(), "las sessions never reported down");
});
