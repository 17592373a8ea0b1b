//! The workers' half of live capture (`las capture`): what a worker
//! copies, where it puts the copy, and how fast. Pure: it builds and
//! tests without DPDK; `engine` calls it with the bytes of an mbuf.
//!
//! # Cost
//!
//! A worker keeps one `capturing: bool`; every capture point in the
//! burst loop is `if self.capturing { .. }`, so with no capture armed a
//! packet pays one predictable, not-taken branch per point. Armed, a
//! packet pays a [`Filter`] match; a matching one a token-bucket check
//! ([`Rate`]), a pop from the free list, a copy of at most `snaplen`
//! bytes into that preallocated slot and a push to the ring.
//!
//! # Rings, not `rte_ring`
//!
//! Each worker (and the control core, for the frames it sends itself)
//! gets its own [`Rings`] per capture: two bounded crossbeam
//! `ArrayQueue`s that pass boxed [`Slot`]s back and forth, `free`
//! (control → worker) and `full` (worker → control). Every slot is
//! allocated (and its pages touched) by the control core when the
//! capture starts, and the worker only moves the boxes: no allocation,
//! lock or syscall per packet. Copying into a slot rather than keeping
//! an mbuf (`rte_pktmbuf_copy` into an `rte_ring`) keeps capture out of
//! the packet pool: a slow reader can never starve RX of mbufs. Both
//! queues hold every slot, so a push never fails.
//!
//! # Never in the way
//!
//! A frame that finds no free slot is counted `ring_full`, one over the
//! rate cap `rate_capped`; forwarding goes on either way: capture misses
//! are not packet drops and appear in no `DropReason`.
#![forbid(unsafe_code)]

use crate::switch::{MemberId, SwitchId};
use crate::telemetry::Counter;
use crossbeam_queue::ArrayQueue;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What a capture selects, as the data plane knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// Inner frames entering the switch from any member (after
    /// decapsulation, before the switch's filters) and leaving it to any
    /// member (before encapsulation). A frame switched from member A to
    /// member B shows twice: inbound on A, outbound on B.
    Switch(SwitchId),
    /// Inner frames received from and sent to one pseudowire.
    Session(MemberId),
    /// Outer frames as received on the port (before classification and
    /// reassembly) and as sent to it (encapsulated data, fragments, and
    /// the control core's ARP, ICMP and L2TP control frames).
    Port(u8),
}

impl Filter {
    /// An inner frame of `member`, in switch `sw`, is captured.
    #[inline(always)]
    pub fn inner(self, sw: SwitchId, member: MemberId) -> bool {
        match self {
            Filter::Switch(s) => s == sw,
            Filter::Session(m) => m == member,
            Filter::Port(_) => false,
        }
    }

    /// An outer frame of port `port` is captured.
    #[inline(always)]
    pub fn port(self, port: usize) -> bool {
        matches!(self, Filter::Port(p) if usize::from(p) == port)
    }
}

/// Which way a captured frame went (pcapng `epb_flags` direction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Received: from a member into the switch, or from the wire.
    In,
    /// Sent: from the switch to a member, or to the wire.
    Out,
}

/// One captured frame in a preallocated buffer.
#[derive(Debug)]
pub struct Slot {
    /// `snaplen` bytes, of which `len` hold the frame's first bytes.
    pub data: Box<[u8]>,
    pub len: u32,
    /// The frame's length on the wire (or in the switch).
    pub orig_len: u32,
    /// When it was copied (TSC).
    pub tsc: u64,
    /// The member (inner frames) or port index (outer frames).
    pub source: u16,
    pub dir: Direction,
}

impl Slot {
    pub fn frame(&self) -> &[u8] {
        &self.data[..(self.len as usize).min(self.data.len())]
    }
}

/// The rings and counters one producer (a worker, or the control core)
/// shares with the capture's reader for one capture.
pub struct Rings {
    /// Empty slots, for the producer to fill.
    pub free: ArrayQueue<Box<Slot>>,
    /// Filled slots, for the reader.
    pub full: ArrayQueue<Box<Slot>>,
    /// Frames copied into the ring.
    pub captured: Counter,
    /// Matching frames not copied: no free slot.
    pub ring_full: Counter,
    /// Matching frames not copied: over the rate cap.
    pub rate_capped: Counter,
    /// Set by the producer once it holds the rings no more (it applied
    /// the command that disarmed it): nothing more will come.
    pub detached: AtomicBool,
    /// Set by the reader to ask the control core's own tap to let go
    /// (workers are told by a command instead).
    pub stop: AtomicBool,
}

impl std::fmt::Debug for Rings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rings")
            .field("slots", &self.free.capacity())
            .field("free", &self.free.len())
            .field("full", &self.full.len())
            .finish()
    }
}

impl Rings {
    /// Rings of `slots` slots of `snaplen` bytes each. The slots' pages
    /// are written here, so the producer never takes a page fault on them.
    pub fn new(slots: usize, snaplen: usize) -> Rings {
        let slots = slots.max(1);
        let free = ArrayQueue::new(slots);
        for _ in 0..slots {
            let s = Box::new(Slot {
                data: vec![0xa5; snaplen].into_boxed_slice(),
                len: 0,
                orig_len: 0,
                tsc: 0,
                source: 0,
                dir: Direction::In,
            });
            // Unwrap-free: the queue has room for every slot.
            let _ = free.push(s);
        }
        Rings {
            free,
            full: ArrayQueue::new(slots),
            captured: Counter::default(),
            ring_full: Counter::default(),
            rate_capped: Counter::default(),
            detached: AtomicBool::new(false),
            stop: AtomicBool::new(false),
        }
    }

    pub fn is_detached(&self) -> bool {
        self.detached.load(Ordering::Acquire)
    }
}

/// A token bucket in frames per second over an injected clock (TSC
/// cycles): integer arithmetic, no timers, no syscalls.
#[derive(Debug, Clone)]
pub struct Rate {
    per_second: u64,
    burst: u64,
    hz: u64,
    tokens: u64,
    last: u64,
}

impl Rate {
    /// `per_second` frames a second (at least 1), at most a tenth of a
    /// second's worth (at least 32) at once; `hz` clock ticks a second;
    /// full at `now`.
    pub fn new(per_second: u32, hz: u64, now: u64) -> Rate {
        let per_second = u64::from(per_second.max(1));
        let burst = (per_second / 10).max(32);
        Rate {
            per_second,
            burst,
            hz: hz.max(1),
            tokens: burst,
            last: now,
        }
    }

    /// Takes a token at time `now` if there is one.
    #[inline]
    pub fn allow(&mut self, now: u64) -> bool {
        let elapsed = now.wrapping_sub(self.last).min(self.hz);
        let add = elapsed.saturating_mul(self.per_second) / self.hz;
        if add > 0 {
            // Advance by the time the added tokens stand for, so
            // fractions carry over; after a second or more idle, restart.
            self.last = if elapsed == self.hz {
                now
            } else {
                self.last
                    .wrapping_add(add.saturating_mul(self.hz) / self.per_second)
            };
            self.tokens = (self.tokens + add).min(self.burst);
        }
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }
}

/// What a worker needs to start capturing (`Command::Capture`).
#[derive(Debug)]
pub struct Arm {
    pub filter: Filter,
    /// Frames a second this producer copies at most.
    pub rate: u32,
    pub rings: Arc<Rings>,
}

/// A producer's side of an armed capture.
pub struct Tap {
    pub filter: Filter,
    rate: Rate,
    rings: Arc<Rings>,
}

impl Tap {
    pub fn new(arm: Arm, hz: u64, now: u64) -> Tap {
        Tap {
            filter: arm.filter,
            rate: Rate::new(arm.rate, hz, now),
            rings: arm.rings,
        }
    }

    /// The control core's tap: the reader asked it to let go.
    pub fn stop_requested(&self) -> bool {
        self.rings.stop.load(Ordering::Acquire)
    }

    /// Copies a matching frame (`copy` fills the slot's buffer and
    /// returns the bytes written, or None if it could not) unless the
    /// rate cap or a full ring says no. Returns what happened, for the
    /// producer's own cumulative counters.
    #[inline]
    pub fn offer(
        &mut self,
        now: u64,
        orig_len: usize,
        source: u16,
        dir: Direction,
        copy: impl FnOnce(&mut [u8]) -> Option<usize>,
    ) -> Offer {
        if !self.rate.allow(now) {
            self.rings.rate_capped.inc();
            return Offer::RateCapped;
        }
        let Some(mut slot) = self.rings.free.pop() else {
            self.rings.ring_full.inc();
            return Offer::RingFull;
        };
        let n = orig_len.min(slot.data.len());
        match copy(&mut slot.data[..n]) {
            Some(len) => {
                slot.len = len.min(n) as u32;
                slot.orig_len = orig_len.min(u32::MAX as usize) as u32;
                slot.tsc = now;
                slot.source = source;
                slot.dir = dir;
                // Cannot fail: `full` has room for every slot. Were it
                // to, the slot goes back to `free`, never dropped (a
                // free on the fast path).
                if let Err(s) = self.rings.full.push(slot) {
                    let _ = self.rings.free.push(s);
                    self.rings.ring_full.inc();
                    return Offer::RingFull;
                }
                self.rings.captured.inc();
                Offer::Captured
            }
            None => {
                let _ = self.rings.free.push(slot);
                Offer::Failed
            }
        }
    }

    /// Lets go of the rings (disarmed): the reader may free them once
    /// every producer has.
    pub fn detach(self) {
        self.rings.detached.store(true, Ordering::Release);
    }
}

/// The fate of an offered frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    Captured,
    RingFull,
    RateCapped,
    /// The copy failed (a packet shorter than it claimed): not counted.
    Failed,
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn filters_match_their_own_frames_only() {
        let sw = Filter::Switch(SwitchId(3));
        assert!(sw.inner(SwitchId(3), MemberId(0)));
        assert!(sw.inner(SwitchId(3), MemberId(9)));
        assert!(!sw.inner(SwitchId(4), MemberId(0)));
        assert!(!sw.port(0));
        let se = Filter::Session(MemberId(7));
        assert!(se.inner(SwitchId(0), MemberId(7)));
        assert!(se.inner(SwitchId(1), MemberId(7)));
        assert!(!se.inner(SwitchId(0), MemberId(6)));
        assert!(!se.port(7));
        let p = Filter::Port(1);
        assert!(p.port(1));
        assert!(!p.port(0));
        assert!(!p.port(257));
        assert!(!p.inner(SwitchId(1), MemberId(1)));
    }

    #[test]
    fn rate_cap_with_a_manual_clock() {
        // 100 frames/s on a 1000 Hz clock: a burst of 32, then one
        // every 10 ticks.
        let mut r = Rate::new(100, 1000, 0);
        let first = (0..100).filter(|_| r.allow(0)).count();
        assert_eq!(first, 32);
        assert!(!r.allow(9));
        assert!(r.allow(10));
        assert!(!r.allow(10));
        // Fractions carry: 5 ticks + 5 ticks make one token.
        assert!(!r.allow(15));
        assert!(r.allow(20));
        // A second idle refills to the burst, never beyond.
        let later = (0..100).filter(|_| r.allow(5000)).count();
        assert_eq!(later, 32);
        // Over 1 s at a steady 1000 offers/s: 100 pass (plus nothing).
        let mut r = Rate::new(100, 1000, 0);
        while r.allow(0) {}
        let passed = (1..=1000).filter(|&t| r.allow(t)).count();
        assert_eq!(passed, 100);
    }

    #[test]
    fn rate_cap_survives_a_clock_that_wraps() {
        let mut r = Rate::new(1000, 1000, u64::MAX - 5);
        while r.allow(u64::MAX - 5) {}
        // 10 ticks later, across the wrap: 10 tokens.
        let n = (0..50).filter(|_| r.allow(4)).count();
        assert_eq!(n, 10);
    }

    fn arm(slots: usize, snaplen: usize, rate: u32) -> (Tap, Arc<Rings>) {
        let rings = Arc::new(Rings::new(slots, snaplen));
        let tap = Tap::new(
            Arm {
                filter: Filter::Port(0),
                rate,
                rings: rings.clone(),
            },
            1000,
            0,
        );
        (tap, rings)
    }

    fn copy_of(b: &[u8]) -> impl FnOnce(&mut [u8]) -> Option<usize> + '_ {
        move |dst: &mut [u8]| {
            let n = dst.len();
            dst.copy_from_slice(&b[..n]);
            Some(n)
        }
    }

    #[test]
    fn a_frame_is_cut_at_snaplen_and_keeps_its_length() {
        let (mut tap, rings) = arm(4, 64, 1000);
        let frame: Vec<u8> = (0..100u8).collect();
        let o = tap.offer(7, frame.len(), 3, Direction::Out, copy_of(&frame));
        assert_eq!(o, Offer::Captured);
        let s = rings.full.pop().unwrap();
        assert_eq!(s.frame(), &frame[..64]);
        assert_eq!((s.len, s.orig_len, s.tsc, s.source), (64, 100, 7, 3));
        assert_eq!(s.dir, Direction::Out);
        // A short frame: exactly its bytes.
        rings.free.push(s).unwrap();
        tap.offer(8, 10, 0, Direction::In, copy_of(&frame));
        assert_eq!(rings.full.pop().unwrap().frame(), &frame[..10]);
        assert_eq!(rings.captured.get(), 2);
    }

    #[test]
    fn a_full_ring_and_the_rate_cap_are_counted_not_waited_for() {
        let (mut tap, rings) = arm(2, 64, 100);
        let f = [1u8; 60];
        assert_eq!(
            tap.offer(0, 60, 0, Direction::In, copy_of(&f)),
            Offer::Captured
        );
        assert_eq!(
            tap.offer(0, 60, 0, Direction::In, copy_of(&f)),
            Offer::Captured
        );
        assert_eq!(
            tap.offer(0, 60, 0, Direction::In, copy_of(&f)),
            Offer::RingFull
        );
        assert_eq!(rings.ring_full.get(), 1);
        // The reader gives a slot back: room again.
        let s = rings.full.pop().unwrap();
        rings.free.push(s).unwrap();
        assert_eq!(
            tap.offer(0, 60, 0, Direction::In, copy_of(&f)),
            Offer::Captured
        );
        // Burst of 32 at 100/s: the rest of the burst is spent on
        // ring-full misses, then the cap says no.
        let mut capped = 0;
        for _ in 0..40 {
            if tap.offer(0, 60, 0, Direction::In, copy_of(&f)) == Offer::RateCapped {
                capped += 1;
            }
        }
        assert_eq!(capped, 40 - (32 - 4));
        assert_eq!(rings.rate_capped.get(), capped);
        assert_eq!(rings.captured.get(), 3);
        // A failed copy gives its slot back and counts nothing.
        let s = rings.full.pop().unwrap();
        rings.free.push(s).unwrap();
        let o = tap.offer(1000, 60, 0, Direction::In, |_| None);
        assert_eq!(o, Offer::Failed);
        assert_eq!(rings.free.len(), 1);
        tap.detach();
        assert!(rings.is_detached());
    }
}
