//! Reliable delivery of control messages for one control connection
//! (RFC 3931 §4.2), independent of what the messages say.
//!
//! # What it does
//!
//! * **Sequence numbers.** Every message we send through
//!   [`Reliable::send`] gets the next `Ns` (starting at 0, 16-bit modular)
//!   when it is first put on the wire, not when it is queued. `Nr` (the next `Ns` we expect from the peer) is
//!   written into every transmission, retransmissions included, so a
//!   retransmission also acknowledges whatever arrived since.
//! * **Comparisons** follow §4.2: `a` is "less than" `b` when
//!   `(b - a) mod 2^16` is in `1..=32767` ([`seq_lt`]).
//! * **Peer window.** At most `peer_window` messages (Receive Window Size
//!   AVP, default 4; Cisco advertises 1024) are outstanding; later ones
//!   wait in a queue until acknowledgements open the window.
//! * **Retransmission.** Each outstanding message has its own timer:
//!   first after `rto_initial` (1 s), doubling up to `rto_max` (8 s), so
//!   transmissions happen at t = 0, 1, 3, 7, 15, 23, … After `max_retries`
//!   retransmissions, when the next timer expires unacknowledged, the
//!   connection is **dead** ([`Reliable::is_dead`]) and stops sending.
//! * **Acknowledgement.** Any message we transmit carries `Nr`. When we
//!   accepted something (new or duplicate) and nothing goes out within
//!   `ack_delay`, [`Reliable::poll`] emits a standalone acknowledgement:
//!   a ZLB (header-only message) by default, or an explicit ACK message
//!   (RFC 3931 §6.15, Message Type 20) once [`Reliable::set_ack_body`]
//!   gave its AVPs; the tunnel does that when message authentication is
//!   on, because a ZLB cannot carry a Message Digest (§4.3). Either kind
//!   is acknowledgement only: its `Ns` is the next `Ns` we would use,
//!   `next_ns` is not advanced, and it is never retransmitted.
//! * **Receive side.** An acknowledgement-only message (ZLB or explicit
//!   ACK: `msg == None`) only updates what the peer acknowledged; its `Ns`
//!   is not looked at and it is not acknowledged.
//!   `Ns == expected`: accepted and queued for delivery,
//!   followed by any held successors. `Ns < expected` (a duplicate): not
//!   delivered, but acknowledged again (the peer missed our ack).
//!   `expected < Ns < expected + receive_window`: held until the gap fills.
//!   Further ahead: dropped (the peer will retransmit).
//!
//! Slow start and congestion avoidance (RFC 3931 Appendix A) are not
//! implemented: the window is the peer's advertised window. Time is
//! passed in as milliseconds (`now`); nothing here reads a clock.
//!
//! # How a caller drives it
//!
//! ```text
//!   send(now, bytes) ──▶ queue ──(window open)──▶ poll(now) ─▶ Outgoing::New
//!   receive(now, ns, nr, Some(msg)) ─▶ Receive ─▶ pop_delivered() until None
//!   receive(now, ns, nr, None)  (ZLB or ACK: acknowledgement only)
//!   poll(now) at next_timeout() ─▶ Outgoing::{Retransmit, Zlb, Ack}
//! ```
//!
//! The bytes given to [`Reliable::send`] are a complete control message
//! (header + AVPs) with the peer's Control Connection ID already in the
//! header; `Ns`/`Nr` are overwritten here. Digest sealing (RFC 3931 §4.3
//! covers the header) is the caller's job on every [`Outgoing`], because
//! `Nr` changes between retransmissions (an explicit ACK is sealed too;
//! a ZLB cannot be).

use std::collections::BTreeMap;
use std::collections::VecDeque;

use crate::wire::l2tp::control::ControlRepr;
use crate::wire::l2tp::control::Packet;
use crate::wire::l2tp::control::HEADER_LEN;

/// `a < b` in 16-bit sequence space (RFC 3931 §4.2, 32768 window).
pub fn seq_lt(a: u16, b: u16) -> bool {
    let d = b.wrapping_sub(a);
    d != 0 && d < 0x8000
}

/// `a <= b` in 16-bit sequence space.
pub fn seq_le(a: u16, b: u16) -> bool {
    a == b || seq_lt(a, b)
}

/// Parameters of one reliable-delivery instance. All times in ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReliableConfig {
    /// First retransmission timeout (RFC 3931 recommends 1 s).
    pub rto_initial: u64,
    /// Cap of the doubling retransmission timeout (≥ 8 s per RFC).
    pub rto_max: u64,
    /// Retransmissions of one message before the connection is dead.
    pub max_retries: u32,
    /// How long to wait for a piggyback before acknowledging with a ZLB
    /// (or an explicit ACK).
    pub ack_delay: u64,
    /// Our receive window (what we advertise): how far ahead of the
    /// expected `Ns` a message is held rather than dropped.
    pub receive_window: u16,
}

impl Default for ReliableConfig {
    fn default() -> Self {
        ReliableConfig {
            rto_initial: 1_000,
            rto_max: 8_000,
            max_retries: 10,
            ack_delay: 100,
            receive_window: 16,
        }
    }
}

/// The peer's window when it sends no Receive Window Size AVP.
pub const DEFAULT_PEER_WINDOW: u16 = 4;

/// What [`Reliable::receive`] did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receive {
    /// In order: queued for [`Reliable::pop_delivered`] (with any held
    /// messages it unblocked).
    Deliver,
    /// Already received (`Ns` < expected): dropped, re-acknowledged.
    Duplicate,
    /// Ahead of expected but inside our window: held until the gap fills
    /// (also returned for a second copy of an already-held message).
    Held,
    /// Too far ahead: dropped.
    OutOfWindow,
    /// A ZLB or an explicit ACK (acknowledgement only): its `Nr` was
    /// used, nothing else (it takes no sequence number).
    Ack,
}

/// Why a datagram goes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutgoingKind {
    /// First transmission of a queued message.
    New,
    /// Retransmission after a timeout (`Nr` refreshed).
    Retransmit,
    /// A header-only acknowledgement (ZLB).
    Zlb,
    /// An explicit ACK message (Message Type 20, no `Ns` of its own); like
    /// [`OutgoingKind::New`] it needs sealing when digests are on.
    Ack,
}

/// One datagram to transmit now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub kind: OutgoingKind,
    pub ns: u16,
    pub nr: u16,
    /// The complete control message, `Ns`/`Nr` already written.
    pub bytes: Vec<u8>,
}

/// Counters of one reliable-delivery instance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReliableStats {
    /// First transmissions of messages.
    pub sent: u64,
    /// Retransmissions.
    pub retransmitted: u64,
    /// ZLB acknowledgements sent.
    pub zlb_sent: u64,
    /// Explicit ACK messages sent.
    pub ack_sent: u64,
    /// Messages accepted in order (directly or from the held set).
    pub delivered: u64,
    /// Duplicates received (re-acknowledged, not delivered).
    pub duplicates: u64,
    /// Out-of-order messages held.
    pub held: u64,
    /// Messages dropped because they were beyond our receive window.
    pub out_of_window: u64,
    /// `Nr` values acknowledging messages never sent (ignored).
    pub bad_acks: u64,
}

#[derive(Debug)]
struct InFlight {
    ns: u16,
    bytes: Vec<u8>,
    /// When the next retransmission is due.
    due: u64,
    /// The interval that led to `due` (doubles each time).
    rto: u64,
    retries: u32,
}

/// Reliable delivery for one control connection. `M` is whatever the
/// caller wants back from [`Reliable::pop_delivered`] (a parsed message,
/// raw bytes, ...).
#[derive(Debug)]
pub struct Reliable<M> {
    cfg: ReliableConfig,
    peer_window: u16,
    /// Peer's Control Connection ID, written into ZLBs / ACKs.
    peer_ccid: u32,
    /// AVPs of a standalone acknowledgement: empty for a ZLB, else an
    /// explicit ACK (Message Type AVP first).
    ack_body: Vec<u8>,
    /// Ns of the next new message.
    next_ns: u16,
    /// Nr: the next Ns we expect.
    expected: u16,
    queue: VecDeque<Vec<u8>>,
    in_flight: VecDeque<InFlight>,
    held: BTreeMap<u16, M>,
    delivered: VecDeque<M>,
    /// A ZLB / ACK is due at this time unless something else goes out
    /// first.
    ack_due: Option<u64>,
    dead: bool,
    /// Messages given to [`Reliable::send`] so far, and how many of them
    /// the peer acknowledged (in order: acknowledgement is cumulative).
    submitted: u64,
    acked: u64,
    stats: ReliableStats,
}

impl<M> Reliable<M> {
    pub fn new(cfg: ReliableConfig) -> Self {
        Reliable {
            cfg,
            peer_window: DEFAULT_PEER_WINDOW,
            peer_ccid: 0,
            ack_body: Vec::new(),
            next_ns: 0,
            expected: 0,
            queue: VecDeque::new(),
            in_flight: VecDeque::new(),
            held: BTreeMap::new(),
            delivered: VecDeque::new(),
            ack_due: None,
            dead: false,
            submitted: 0,
            acked: 0,
            stats: ReliableStats::default(),
        }
    }

    pub fn config(&self) -> &ReliableConfig {
        &self.cfg
    }

    /// Sets the peer's Receive Window Size (0 is treated as 1).
    pub fn set_peer_window(&mut self, w: u16) {
        self.peer_window = w.max(1);
    }

    pub fn peer_window(&self) -> u16 {
        self.peer_window
    }

    /// Sets the Control Connection ID written into ZLBs / ACKs.
    pub fn set_peer_ccid(&mut self, ccid: u32) {
        self.peer_ccid = ccid;
    }

    /// What standalone acknowledgements carry after the header: nothing
    /// (the default) for a ZLB, or the AVPs of an explicit ACK message
    /// (the Message Type AVP with value 20 first, then e.g. a zeroed
    /// Message Digest AVP for the caller to seal). `Ns`/`Nr`/ccid/length
    /// are filled in per acknowledgement.
    pub fn set_ack_body(&mut self, avps: Vec<u8>) {
        self.ack_body = avps;
    }

    /// The `Ns` the next new message will get.
    pub fn next_ns(&self) -> u16 {
        self.next_ns
    }

    /// The `Nr` we send: the next `Ns` expected from the peer.
    pub fn expected_ns(&self) -> u16 {
        self.expected
    }

    pub fn stats(&self) -> &ReliableStats {
        &self.stats
    }

    /// True once a message exhausted its retries: the peer is gone.
    pub fn is_dead(&self) -> bool {
        self.dead
    }

    /// True when nothing is queued or waiting for acknowledgement.
    pub fn all_acked(&self) -> bool {
        self.queue.is_empty() && self.in_flight.is_empty()
    }

    /// Messages sent and not yet acknowledged.
    pub fn outstanding(&self) -> usize {
        self.in_flight.len()
    }

    /// Messages waiting for the window to open.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Queues a complete control message (≥ 12 bytes, header first). It is
    /// transmitted by the next [`Reliable::poll`] once the window allows.
    /// Ignored on a dead connection or a buffer shorter than a header.
    /// Returns the message's place in the order of sending (1, 2, …; 0
    /// when ignored): [`Reliable::is_acked`] tells when the peer has it.
    pub fn send(&mut self, _now: u64, bytes: Vec<u8>) -> u64 {
        if self.dead || bytes.len() < HEADER_LEN {
            return 0;
        }
        self.queue.push_back(bytes);
        self.submitted += 1;
        self.submitted
    }

    /// Whether the message [`Reliable::send`] numbered `mark` has been
    /// acknowledged by the peer (false for 0).
    pub fn is_acked(&self, mark: u64) -> bool {
        mark != 0 && self.acked >= mark
    }

    /// Whether a message numbered `ns` would be taken now (delivered or
    /// held): not a duplicate, inside the receive window.
    pub fn in_window(&self, ns: u16) -> bool {
        ns == self.expected
            || (!seq_lt(ns, self.expected)
                && ns.wrapping_sub(self.expected) < self.cfg.receive_window.max(1))
    }

    /// Whether `nr` acknowledges a message of ours still in flight (and
    /// nothing we never sent).
    pub fn acks_in_flight(&self, nr: u16) -> bool {
        !seq_lt(self.next_ns, nr) && self.in_flight.front().is_some_and(|f| seq_lt(f.ns, nr))
    }

    /// Takes in a received message's header. `msg` is `None` for an
    /// acknowledgement-only message (a ZLB or an explicit ACK): only `nr`
    /// is used, `ns` is ignored (such a message takes no sequence number)
    /// and it is not acknowledged. Otherwise `msg` is stored and handed
    /// back by [`Reliable::pop_delivered`] when its turn comes.
    pub fn receive(&mut self, now: u64, ns: u16, nr: u16, msg: Option<M>) -> Receive {
        self.ack(nr);
        let Some(msg) = msg else {
            return Receive::Ack;
        };
        if ns == self.expected {
            self.accept(msg);
            while let Some(m) = self.held.remove(&self.expected) {
                self.accept(m);
            }
            self.schedule_ack(now);
            return Receive::Deliver;
        }
        if seq_lt(ns, self.expected) {
            self.stats.duplicates += 1;
            self.schedule_ack(now);
            return Receive::Duplicate;
        }
        let ahead = ns.wrapping_sub(self.expected);
        if ahead < self.cfg.receive_window.max(1) {
            if !self.held.contains_key(&ns) {
                self.stats.held += 1;
                self.held.insert(ns, msg);
            }
            return Receive::Held;
        }
        self.stats.out_of_window += 1;
        Receive::OutOfWindow
    }

    /// The next message accepted in order, if any.
    pub fn pop_delivered(&mut self) -> Option<M> {
        self.delivered.pop_front()
    }

    fn accept(&mut self, msg: M) {
        self.delivered.push_back(msg);
        self.expected = self.expected.wrapping_add(1);
        self.stats.delivered += 1;
    }

    fn schedule_ack(&mut self, now: u64) {
        if self.ack_due.is_none() {
            self.ack_due = Some(now.saturating_add(self.cfg.ack_delay));
        }
    }

    /// Drops every in-flight message with `Ns < nr`. An `nr` beyond what
    /// we sent is ignored (counted).
    fn ack(&mut self, nr: u16) {
        if seq_lt(self.next_ns, nr) {
            self.stats.bad_acks += 1;
            return;
        }
        while let Some(f) = self.in_flight.front() {
            if seq_lt(f.ns, nr) {
                self.in_flight.pop_front();
                self.acked += 1;
            } else {
                break;
            }
        }
    }

    fn stamp(bytes: &mut [u8], ns: u16, nr: u16) {
        let mut p = Packet::new_unchecked(bytes);
        p.set_ns(ns);
        p.set_nr(nr);
    }

    /// What to put on the wire at `now`: new messages the window admits,
    /// due retransmissions, and a ZLB (or explicit ACK) when an
    /// acknowledgement is due and nothing else carried it. Marks the connection dead (and returns
    /// nothing) when a message ran out of retries.
    pub fn poll(&mut self, now: u64) -> Vec<Outgoing> {
        let mut out = Vec::new();
        if self.dead {
            return out;
        }
        // Retransmissions first (oldest first).
        for f in self.in_flight.iter_mut() {
            if f.due > now {
                continue;
            }
            if f.retries >= self.cfg.max_retries {
                self.dead = true;
                self.queue.clear();
                self.in_flight.clear();
                self.ack_due = None;
                return Vec::new();
            }
            f.retries += 1;
            f.rto = f.rto.saturating_mul(2).min(self.cfg.rto_max);
            f.due = now.saturating_add(f.rto);
            Self::stamp(&mut f.bytes, f.ns, self.expected);
            self.stats.retransmitted += 1;
            out.push(Outgoing {
                kind: OutgoingKind::Retransmit,
                ns: f.ns,
                nr: self.expected,
                bytes: f.bytes.clone(),
            });
        }
        // New messages while the peer's window has room.
        while self.in_flight.len() < usize::from(self.peer_window) {
            let Some(mut bytes) = self.queue.pop_front() else {
                break;
            };
            let ns = self.next_ns;
            self.next_ns = ns.wrapping_add(1);
            Self::stamp(&mut bytes, ns, self.expected);
            self.stats.sent += 1;
            out.push(Outgoing {
                kind: OutgoingKind::New,
                ns,
                nr: self.expected,
                bytes: bytes.clone(),
            });
            self.in_flight.push_back(InFlight {
                ns,
                bytes,
                due: now.saturating_add(self.cfg.rto_initial),
                rto: self.cfg.rto_initial,
                retries: 0,
            });
        }
        if !out.is_empty() {
            // Piggybacked: every transmission carries the current Nr.
            self.ack_due = None;
        } else if self.ack_due.is_some_and(|t| t <= now) {
            self.ack_due = None;
            out.push(self.standalone_ack());
        }
        out
    }

    /// A standalone acknowledgement with the current `Ns`/`Nr`: a ZLB, or
    /// an explicit ACK when an ACK body is set. Either way `next_ns` stays
    /// (the `Ns` is the one the next message will carry) and nothing is
    /// kept for retransmission.
    fn standalone_ack(&mut self) -> Outgoing {
        let kind = if self.ack_body.is_empty() {
            self.stats.zlb_sent += 1;
            OutgoingKind::Zlb
        } else {
            self.stats.ack_sent += 1;
            OutgoingKind::Ack
        };
        let mut bytes = vec![0u8; HEADER_LEN];
        bytes.extend_from_slice(&self.ack_body);
        let repr = ControlRepr {
            ccid: self.peer_ccid,
            ns: self.next_ns,
            nr: self.expected,
            payload_len: self.ack_body.len(),
        };
        repr.emit(&mut Packet::new_unchecked(&mut bytes[..]));
        Outgoing {
            kind,
            ns: self.next_ns,
            nr: self.expected,
            bytes,
        }
    }

    /// When [`Reliable::poll`] next has something to do: the earliest
    /// retransmission or acknowledgement deadline, or `Some(0)` ("now") when queued
    /// messages fit in the window. `None` when idle or dead.
    pub fn next_timeout(&self) -> Option<u64> {
        if self.dead {
            return None;
        }
        if !self.queue.is_empty() && self.in_flight.len() < usize::from(self.peer_window) {
            return Some(0);
        }
        let rtx = self.in_flight.iter().map(|f| f.due).min();
        match (rtx, self.ack_due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    const CCID: u32 = 0x1234_5678;

    /// A control message with one fake 4-byte body, tagged by `tag`.
    fn msg(tag: u8) -> Vec<u8> {
        let mut b = vec![0xa5u8; HEADER_LEN + 4];
        ControlRepr {
            ccid: CCID,
            ns: 0xa5a5,
            nr: 0xa5a5,
            payload_len: 4,
        }
        .emit(&mut Packet::new_unchecked(&mut b[..]));
        b[HEADER_LEN..].copy_from_slice(&[tag; 4]);
        b
    }

    fn hdr(b: &[u8]) -> (u16, u16) {
        let p = Packet::new_checked(b).unwrap();
        (p.ns(), p.nr())
    }

    fn rel() -> Reliable<u8> {
        let mut r = Reliable::new(ReliableConfig::default());
        r.set_peer_ccid(CCID);
        r
    }

    #[test]
    fn seq_compare() {
        assert!(seq_lt(0, 1));
        assert!(!seq_lt(1, 0));
        assert!(!seq_lt(5, 5));
        assert!(seq_lt(65535, 0));
        assert!(seq_lt(65000, 100));
        assert!(seq_lt(0, 32767));
        assert!(!seq_lt(0, 32768));
        // Exactly half the space apart: neither is less.
        assert!(!seq_lt(32768, 0));
        assert!(seq_lt(32769, 0));
        assert!(seq_le(7, 7));
    }

    #[test]
    fn send_assigns_ns_at_transmission() {
        let mut r = rel();
        r.send(0, msg(1));
        r.send(0, msg(2));
        assert_eq!(r.next_timeout(), Some(0));
        let out = r.poll(0);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].kind, OutgoingKind::New);
        assert_eq!(hdr(&out[0].bytes), (0, 0));
        assert_eq!(hdr(&out[1].bytes), (1, 0));
        assert_eq!(out[1].bytes[HEADER_LEN..], [2; 4]);
        assert_eq!(r.outstanding(), 2);
        assert!(!r.all_acked());
        assert_eq!(r.receive(10, 0, 2, None), Receive::Ack);
        assert!(r.all_acked());
        assert_eq!(r.next_timeout(), None);
    }

    #[test]
    fn loss_backoff_1_2_4_8_8() {
        let mut r = rel();
        r.send(0, msg(1));
        assert_eq!(r.poll(0).len(), 1);
        let mut times = Vec::new();
        let mut t = 0;
        while times.len() < 6 {
            let next = r.next_timeout().unwrap();
            assert!(next > t);
            // Nothing before the deadline.
            assert!(r.poll(next - 1).is_empty());
            t = next;
            let out = r.poll(t);
            assert_eq!(out.len(), 1);
            assert_eq!(out[0].kind, OutgoingKind::Retransmit);
            assert_eq!(out[0].ns, 0);
            times.push(t);
        }
        assert_eq!(times, vec![1_000, 3_000, 7_000, 15_000, 23_000, 31_000]);
        assert_eq!(r.stats().retransmitted, 6);
    }

    #[test]
    fn give_up_after_max_retries() {
        let cfg = ReliableConfig {
            max_retries: 3,
            ..ReliableConfig::default()
        };
        let mut r: Reliable<u8> = Reliable::new(cfg);
        r.send(0, msg(1));
        r.poll(0);
        for t in [1_000, 3_000, 7_000] {
            assert_eq!(r.poll(t).len(), 1);
            assert!(!r.is_dead());
        }
        assert_eq!(r.next_timeout(), Some(15_000));
        assert!(r.poll(14_999).is_empty());
        assert!(!r.is_dead());
        assert!(r.poll(15_000).is_empty());
        assert!(r.is_dead());
        assert_eq!(r.next_timeout(), None);
        r.send(15_001, msg(2));
        assert!(r.poll(15_001).is_empty());
    }

    #[test]
    fn default_ten_retries() {
        let mut r = rel();
        r.send(0, msg(1));
        r.poll(0);
        let mut n = 0;
        while let Some(t) = r.next_timeout() {
            n += r.poll(t).len();
        }
        assert!(r.is_dead());
        assert_eq!(n, 10);
    }

    #[test]
    fn retransmission_refreshes_nr() {
        let mut r = rel();
        r.send(0, msg(1));
        assert_eq!(hdr(&r.poll(0)[0].bytes), (0, 0));
        // Peer message arrives, no ack of ours.
        assert_eq!(r.receive(50, 0, 0, Some(7)), Receive::Deliver);
        assert_eq!(r.pop_delivered(), Some(7));
        let out = r.poll(1_000);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].kind, OutgoingKind::Retransmit);
        assert_eq!(hdr(&out[0].bytes), (0, 1));
        // The retransmission carried the ack: no ZLB later.
        assert!(r.poll(2_000).iter().all(|o| o.kind != OutgoingKind::Zlb));
    }

    #[test]
    fn duplicate_reacked_not_delivered() {
        let mut r = rel();
        assert_eq!(r.receive(0, 0, 0, Some(1)), Receive::Deliver);
        assert_eq!(r.pop_delivered(), Some(1));
        assert_eq!(r.pop_delivered(), None);
        let out = r.poll(100);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].kind, OutgoingKind::Zlb);
        assert_eq!(hdr(&out[0].bytes), (0, 1));
        // The peer missed the ZLB and retransmits.
        assert_eq!(r.receive(1_000, 0, 0, Some(1)), Receive::Duplicate);
        assert_eq!(r.pop_delivered(), None);
        assert!(r.poll(1_050).is_empty());
        let out = r.poll(1_100);
        assert_eq!(out[0].kind, OutgoingKind::Zlb);
        assert_eq!(r.stats().duplicates, 1);
    }

    #[test]
    fn zlb_only_without_piggyback() {
        let mut r = rel();
        r.receive(0, 0, 0, Some(1));
        assert_eq!(r.next_timeout(), Some(100));
        assert!(r.poll(99).is_empty());
        // A reply goes out before the delay: it carries Nr, no ZLB.
        r.send(50, msg(9));
        let out = r.poll(50);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].kind, OutgoingKind::New);
        assert_eq!(hdr(&out[0].bytes), (0, 1));
        assert!(r.poll(100).is_empty());
        assert!(r.poll(200).is_empty());
        assert_eq!(r.stats().zlb_sent, 0);
        // Without a reply, a ZLB after exactly the delay.
        r.receive(300, 1, 1, Some(2));
        assert!(r.poll(399).is_empty());
        let out = r.poll(400);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].kind, OutgoingKind::Zlb);
        assert_eq!(out[0].bytes.len(), HEADER_LEN);
        let p = Packet::new_checked(&out[0].bytes[..]).unwrap();
        assert_eq!((p.ccid(), p.ns(), p.nr(), p.length()), (CCID, 1, 2, 12));
    }

    /// Message Type AVP (M = 1, length 8, vendor 0, attr 0) = ACK (20),
    /// then a fake 4-byte trailer standing in for a digest AVP.
    const ACK_BODY: [u8; 12] = [0x80, 8, 0, 0, 0, 0, 0, 20, 0xd1, 0xd2, 0xd3, 0xd4];

    #[test]
    fn explicit_ack_instead_of_zlb() {
        let mut r = rel();
        r.set_ack_body(ACK_BODY.to_vec());
        // One message of ours out and acknowledged: next Ns is 1.
        r.send(0, msg(9));
        assert_eq!(r.poll(0)[0].ns, 0);
        assert_eq!(r.receive(10, 0, 1, Some(1)), Receive::Deliver);
        assert_eq!(r.next_timeout(), Some(110));
        let out = r.poll(110);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].kind, OutgoingKind::Ack);
        assert_eq!((out[0].ns, out[0].nr), (1, 1));
        let p = Packet::new_checked(&out[0].bytes[..]).unwrap();
        assert_eq!((p.ccid(), p.ns(), p.nr(), p.length()), (CCID, 1, 1, 24));
        assert_eq!(p.payload(), ACK_BODY);
        // Takes no sequence number, is not kept for retransmission.
        assert_eq!(r.next_ns(), 1);
        assert_eq!(r.outstanding(), 0);
        assert!(r.all_acked());
        assert_eq!(r.next_timeout(), None);
        assert!(r.poll(60_000).is_empty());
        assert_eq!((r.stats().ack_sent, r.stats().zlb_sent), (1, 0));
        assert_eq!(r.stats().retransmitted, 0);
        // The next real message gets the Ns the ACK carried.
        r.send(200, msg(10));
        let out = r.poll(200);
        assert_eq!(
            (out[0].kind, out[0].ns, out[0].nr),
            (OutgoingKind::New, 1, 1)
        );
        // A duplicate is re-acknowledged with an ACK too.
        assert_eq!(r.receive(300, 0, 2, Some(1)), Receive::Duplicate);
        let out = r.poll(400);
        assert_eq!(
            (out[0].kind, out[0].ns, out[0].nr),
            (OutgoingKind::Ack, 2, 1)
        );
        assert_eq!(r.next_ns(), 2);
    }

    #[test]
    fn received_ack_is_not_numbered() {
        let mut r = rel();
        r.send(0, msg(1));
        r.send(0, msg(2));
        r.poll(0);
        // The peer's first message, then an ACK carrying the Ns it will
        // use next (1): only its Nr counts.
        assert_eq!(r.receive(10, 0, 0, Some(1)), Receive::Deliver);
        assert_eq!(r.pop_delivered(), Some(1));
        assert_eq!(r.receive(20, 1, 1, None), Receive::Ack);
        assert_eq!(r.expected_ns(), 1);
        assert_eq!(r.outstanding(), 1);
        assert_eq!(r.pop_delivered(), None);
        // Its next real message is Ns 1: in order, not a duplicate.
        assert_eq!(r.receive(30, 1, 2, Some(2)), Receive::Deliver);
        assert_eq!(r.pop_delivered(), Some(2));
        assert_eq!(r.stats().duplicates, 0);
        assert!(r.all_acked());
        // An ACK (or ZLB) is never acknowledged itself: a lone one
        // schedules nothing.
        let mut r = rel();
        assert_eq!(r.receive(0, 0, 0, None), Receive::Ack);
        assert_eq!(r.next_timeout(), None);
        assert!(r.poll(1_000).is_empty());
    }

    #[test]
    fn reorder_held_then_in_order() {
        let mut r = rel();
        assert_eq!(r.receive(0, 2, 0, Some(2)), Receive::Held);
        assert_eq!(r.receive(0, 1, 0, Some(1)), Receive::Held);
        assert_eq!(r.receive(0, 2, 0, Some(2)), Receive::Held);
        assert_eq!(r.pop_delivered(), None);
        assert!(r.poll(500).is_empty(), "no ack for held messages");
        assert_eq!(r.receive(600, 0, 0, Some(0)), Receive::Deliver);
        assert_eq!(r.pop_delivered(), Some(0));
        assert_eq!(r.pop_delivered(), Some(1));
        assert_eq!(r.pop_delivered(), Some(2));
        assert_eq!(r.pop_delivered(), None);
        assert_eq!(r.expected_ns(), 3);
        assert_eq!(r.stats().held, 2);
    }

    #[test]
    fn beyond_window_dropped() {
        let cfg = ReliableConfig {
            receive_window: 4,
            ..ReliableConfig::default()
        };
        let mut r: Reliable<u8> = Reliable::new(cfg);
        assert_eq!(r.receive(0, 3, 0, Some(3)), Receive::Held);
        assert_eq!(r.receive(0, 4, 0, Some(4)), Receive::OutOfWindow);
        assert_eq!(r.receive(0, 30000, 0, Some(5)), Receive::OutOfWindow);
        assert_eq!(r.stats().out_of_window, 2);
    }

    #[test]
    fn window_limit_fifth_waits() {
        let mut r = rel();
        for i in 0..5 {
            r.send(0, msg(i));
        }
        let out = r.poll(0);
        assert_eq!(out.len(), 4);
        assert_eq!(r.queued(), 1);
        assert_eq!(r.next_timeout(), Some(1_000));
        // Ack the first: the 5th goes out with Ns 4.
        r.receive(200, 0, 1, None);
        assert_eq!(r.next_timeout(), Some(0));
        let out = r.poll(200);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].ns, 4);
        assert_eq!(out[0].bytes[HEADER_LEN..], [4; 4]);
        assert_eq!(r.queued(), 0);
    }

    #[test]
    fn cisco_window_and_zero_window() {
        let mut r = rel();
        r.set_peer_window(1024);
        for i in 0..100 {
            r.send(0, msg(i));
        }
        assert_eq!(r.poll(0).len(), 100);
        let mut r = rel();
        r.set_peer_window(0);
        r.send(0, msg(0));
        r.send(0, msg(1));
        assert_eq!(r.poll(0).len(), 1);
    }

    #[test]
    fn bogus_ack_ignored() {
        let mut r = rel();
        r.send(0, msg(0));
        r.poll(0);
        r.receive(10, 0, 5, None);
        assert_eq!(r.outstanding(), 1);
        assert_eq!(r.stats().bad_acks, 1);
        r.receive(10, 0, 1, None);
        assert_eq!(r.outstanding(), 0);
    }

    #[test]
    fn partial_ack_keeps_rest() {
        let mut r = rel();
        for i in 0..3 {
            r.send(0, msg(i));
        }
        r.poll(0);
        r.receive(10, 0, 2, None);
        assert_eq!(r.outstanding(), 1);
        let out = r.poll(1_000);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].ns, 2);
    }

    #[test]
    fn wraparound() {
        let mut a = rel();
        let mut b: Reliable<Vec<u8>> = Reliable::new(ReliableConfig::default());
        b.set_peer_ccid(CCID);
        // Walk both ends close to the wrap, then across it.
        let mut t = 0;
        for i in 0..65_540u32 {
            a.send(t, msg(i as u8));
            for o in a.poll(t) {
                let (ns, nr) = hdr(&o.bytes);
                assert_eq!(ns, i as u16);
                assert_eq!(b.receive(t, ns, nr, Some(o.bytes)), Receive::Deliver);
                assert!(b.pop_delivered().is_some());
            }
            t += 1;
            for o in b.poll(t + 100) {
                let (ns, nr) = hdr(&o.bytes);
                assert_eq!(a.receive(t, ns, nr, None), Receive::Ack);
            }
            assert!(a.all_acked(), "{i}");
        }
        assert_eq!(a.next_ns(), 4);
        assert_eq!(b.expected_ns(), 4);
        // Duplicates across the wrap are still recognised.
        assert_eq!(b.receive(t, 65535, 0, Some(vec![])), Receive::Duplicate);
        assert_eq!(b.receive(t, 5, 0, Some(vec![])), Receive::Held);
    }

    #[test]
    fn reorder_across_wrap() {
        let mut r = rel();
        // Bring expected to 65534.
        for ns in 0..65534u32 {
            r.receive(0, ns as u16, 0, Some(0));
            r.pop_delivered();
        }
        assert_eq!(r.expected_ns(), 65534);
        assert_eq!(r.receive(0, 0, 0, Some(3)), Receive::Held);
        assert_eq!(r.receive(0, 65535, 0, Some(2)), Receive::Held);
        assert_eq!(r.receive(0, 65534, 0, Some(1)), Receive::Deliver);
        let got: Vec<u8> = std::iter::from_fn(|| r.pop_delivered()).collect();
        assert_eq!(got, vec![1, 2, 3]);
        assert_eq!(r.expected_ns(), 1);
    }
}
