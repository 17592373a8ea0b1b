//! Helpers shared by the fuzz targets: a reader that turns the fuzz input
//! into numbers and records, a counter-based [`Random`], and an Internet
//! checksum written independently of `las::wire::checksum`.
#![forbid(unsafe_code)]

use las::control::l2tp::Random;

/// Reads numbers and slices from the front of the fuzz input. Every read
/// succeeds: past the end it yields zeros and empty slices, so a target
/// never has to handle "too short" itself.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Input<'a> {
        Input { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    /// Up to `n` bytes (fewer at the end of the input).
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (b, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        b
    }

    /// A record: a 2-byte big-endian length, then that many bytes.
    pub fn record(&mut self) -> &'a [u8] {
        let n = usize::from(self.u16());
        self.bytes(n)
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        self.bytes(self.data.len())
    }
}

/// A deterministic [`Random`]: 1, 2, 3, … (so identifiers are easy for
/// the fuzzer to guess and every run of an input is the same).
#[derive(Debug, Clone, Default)]
pub struct Counter(pub u32);

impl Random for Counter {
    fn next_u32(&mut self) -> u32 {
        self.0 = self.0.wrapping_add(1);
        self.0
    }
}

/// Ones-complement sum of `data` as big-endian 16-bit words (an odd last
/// byte padded with zero), folded to 16 bits, not complemented. Written
/// from RFC 1071 with a 64-bit accumulator, independent of the crate.
pub fn ones_sum(parts: &[&[u8]]) -> u16 {
    let mut acc: u64 = 0;
    let mut odd = false;
    for p in parts {
        for &b in p.iter() {
            acc += if odd { u64::from(b) } else { u64::from(b) << 8 };
            odd = !odd;
        }
    }
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// Whether two ones-complement values are the same number (0x0000 and
/// 0xffff are both zero).
pub fn ones_eq(a: u16, b: u16) -> bool {
    let n = |x: u16| if x == 0xffff { 0 } else { x };
    n(a) == n(b)
}

/// Checks the promises an [`Endpoint`](las::control::l2tp::Endpoint)
/// makes about its data-plane events, over everything it returns:
///
/// * a SessionUp is emitted at most once for a Session ID until its
///   SessionDown;
/// * a SessionDown follows exactly one SessionUp (never twice, never for
///   a session that was not up), of the same tunnel;
/// * a tunnel's sessions are reported down before its TunnelDown.
#[derive(Debug, Default)]
pub struct Events {
    /// Local Session ID → local Control Connection ID, while up.
    pub up: std::collections::HashMap<u32, u32>,
    pub sessions_up: u64,
    pub sessions_down: u64,
    pub tunnels_up: u64,
    pub tunnels_down: u64,
}

impl Events {
    /// With `LAS_FUZZ_DEBUG` set (running one input by hand), prints what
    /// happened, to check that a seed gets where it should.
    pub fn report(&self, what: &str) {
        if std::env::var_os("LAS_FUZZ_DEBUG").is_some() {
            eprintln!(
                "{what}: tunnels up {} down {}, sessions up {} down {}",
                self.tunnels_up, self.tunnels_down, self.sessions_up, self.sessions_down
            );
        }
    }

    pub fn see<'a>(&mut self, acts: impl IntoIterator<Item = &'a las::control::l2tp::Action>) {
        use las::control::l2tp::Action;
        for a in acts {
            match a {
                Action::SessionUp(u) => {
                    self.sessions_up += 1;
                    let before = self.up.insert(u.local_session_id, u.local_ccid);
                    assert!(
                        before.is_none(),
                        "SessionUp twice for session {} without a SessionDown: {u:?}",
                        u.local_session_id
                    );
                }
                Action::SessionDown(d) => {
                    self.sessions_down += 1;
                    let ccid = self.up.remove(&d.local_session_id);
                    assert!(
                        ccid.is_some(),
                        "SessionDown for session {} that was not up: {d:?}",
                        d.local_session_id
                    );
                    assert_eq!(ccid, Some(d.local_ccid), "SessionDown on another tunnel");
                }
                Action::TunnelUp(_) => self.tunnels_up += 1,
                Action::TunnelDown(t) => {
                    self.tunnels_down += 1;
                    let left: Vec<_> = self
                        .up
                        .iter()
                        .filter(|(_, c)| **c == t.local_ccid)
                        .collect();
                    assert!(
                        left.is_empty(),
                        "TunnelDown {t:?} with sessions still up: {left:?}"
                    );
                }
                _ => {}
            }
        }
    }
}
