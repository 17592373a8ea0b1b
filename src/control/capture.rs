//! Live capture, the control core's half (`las capture`): arms the
//! workers, drains their rings into pcapng, streams it to one client of
//! the control socket, and disarms them when the capture ends. Pure (no
//! DPDK): the rings are `worker::capture::Rings`, the workers are told
//! through their command queues; tests drive it by filling rings by hand.
//!
//! # What is captured
//!
//! * `--switch NAME`: inner Ethernet frames entering the virtual switch
//!   from any member (after decapsulation, before the switch's filters:
//!   frames it then drops are in the capture too) and leaving it to any
//!   member (before encapsulation: every copy of a flood). A frame
//!   switched from A to B is in the capture twice, inbound on A and
//!   outbound on B.
//! * `--session NAME`: the same, for one pseudowire only.
//! * `--port NAME`: outer frames as the port received them (before
//!   classification and reassembly: fragments, ARP, L2TP control and
//!   garbage too) and as las sent them (workers' data and fragments, the
//!   control core's ARP, ICMP and L2TP control).
//!
//! # The pcapng
//!
//! One Interface Description Block per source, written when its first
//! frame is: per session for `--switch` and `--session` (`if_name` is
//! the session's name, `if_description` says switch and session), per
//! port for `--port`. Linktype Ethernet, `if_tsresol` 9 (nanoseconds:
//! the `pcap-file` crate writes EPB timestamps in nanoseconds whatever
//! the IDB says, so every IDB must say 9), snaplen as asked. Each
//! Enhanced Packet Block has `epb_flags` with the direction (inbound /
//! outbound) and a real-time timestamp: the worker stamps the TSC, and
//! the capture maps it onto the wall clock read once when it started.
//!
//! # The stream
//!
//! Request line (see [`CaptureSpec::line`]): `capture switch|session|port
//! NAME snaplen N rate N [count N]`. Answer: one JSON line, an error
//! (`{"kind":"error",...}`, then the server closes) or
//! `{"kind":"capture",...}` ([`Started`]); then chunks of a one-byte tag
//! and a 32-bit big-endian length: [`CHUNK_PCAPNG`] (whole pcapng
//! blocks, the first one the Section Header Block) and, last,
//! [`CHUNK_END`] with a [`Summary`] in JSON; then the server closes. The
//! client may send `stop\n` at any time: the capture ends, what the
//! rings hold is still sent, then the summary. A client that closes
//! ends the capture as well.
//!
//! # Bounds
//!
//! One capture at a time. Per producer (each worker, and the control
//! core) a ring of [`RING_BYTES`] of `snaplen`-byte slots (32..=1024
//! slots), a rate cap (`rate` frames a second, default
//! [`RATE_DEFAULT`]); per client at most [`OUT_MAX`] bytes waiting for
//! the socket: a frame that would go beyond is dropped and counted
//! `client_slow`. At most [`DRAIN_PER_PUMP`] frames per control-loop
//! turn. Nothing in here blocks or waits.
#![forbid(unsafe_code)]

use crate::worker::capture::{Arm, Direction, Filter, Rings};
use crate::worker::{Command, WorkerShared};
use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::blocks::section_header::{SectionHeaderBlock, SectionHeaderOption};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::DataLink;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const SNAPLEN_MIN: u32 = 64;
pub const SNAPLEN_MAX: u32 = 65535;
/// A jumbo frame (9000-byte MTU) with its Ethernet header and a VLAN tag.
pub const SNAPLEN_DEFAULT: u32 = 9018;
/// Frames a second each worker copies at most, unless asked otherwise.
pub const RATE_DEFAULT: u32 = 10_000;
pub const RATE_MAX: u32 = 1_000_000;
/// Memory of one producer's ring (its slots are `snaplen` bytes each).
pub const RING_BYTES: usize = 4 << 20;
const SLOTS_MIN: usize = 32;
const SLOTS_MAX: usize = 1024;
/// Bytes waiting for one capture client at most.
pub const OUT_MAX: usize = 4 << 20;
/// Frames taken from the rings per control-loop turn at most.
pub const DRAIN_PER_PUMP: usize = 1024;
/// How long a stopping capture waits for the workers to let go (ms).
pub const DETACH_TIMEOUT_MS: u64 = 2_000;
/// Chunk tags of the stream (see the module docs).
pub const CHUNK_PCAPNG: u8 = b'P';
pub const CHUNK_END: u8 = b'E';
/// Longest chunk a client accepts.
pub const CHUNK_MAX: usize = 64 << 20;

/// What to capture, by the operator's names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Switch(String),
    Session(String),
    Port(String),
}

impl Target {
    /// `switch`, `session` or `port`.
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Switch(_) => "switch",
            Target::Session(_) => "session",
            Target::Port(_) => "port",
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Target::Switch(n) | Target::Session(n) | Target::Port(n) => n,
        }
    }
}

/// A capture request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureSpec {
    pub target: Target,
    /// Stop after this many frames (None: until stopped).
    pub count: Option<u64>,
    pub snaplen: u32,
    /// Frames a second per worker.
    pub rate: u32,
}

impl CaptureSpec {
    /// Checks the bounds; the error names the option and its value.
    pub fn validate(&self) -> Result<(), String> {
        if !(SNAPLEN_MIN..=SNAPLEN_MAX).contains(&self.snaplen) {
            return Err(format!(
                "--snaplen {}: must be {SNAPLEN_MIN}..={SNAPLEN_MAX}",
                self.snaplen
            ));
        }
        if !(1..=RATE_MAX).contains(&self.rate) {
            return Err(format!("--rate {}: must be 1..={RATE_MAX}", self.rate));
        }
        if self.count == Some(0) {
            return Err("--count 0: must be at least 1".into());
        }
        let name = self.target.name();
        if name.is_empty() || name.chars().any(char::is_whitespace) {
            return Err(format!(
                "--{} {name:?}: not a name las uses",
                self.target.kind()
            ));
        }
        Ok(())
    }

    /// The request line.
    pub fn line(&self) -> String {
        let mut s = format!(
            "capture {} {} snaplen {} rate {}",
            self.target.kind(),
            self.target.name(),
            self.snaplen,
            self.rate
        );
        if let Some(c) = self.count {
            s.push_str(&format!(" count {c}"));
        }
        s
    }

    /// Parses a request line made by [`CaptureSpec::line`]: `capture`
    /// followed by the target and `key value` pairs in any order. None if
    /// the line is not a capture request at all.
    pub fn parse(line: &str) -> Option<Result<CaptureSpec, String>> {
        let mut w = line.split_whitespace();
        if w.next() != Some("capture") {
            return None;
        }
        Some(Self::parse_rest(w))
    }

    fn parse_rest<'a>(mut w: impl Iterator<Item = &'a str>) -> Result<CaptureSpec, String> {
        let (kind, name) = match (w.next(), w.next()) {
            (Some(k), Some(n)) => (k, n.to_string()),
            _ => return Err("capture: switch, session or port and a name expected".into()),
        };
        let target = match kind {
            "switch" => Target::Switch(name),
            "session" => Target::Session(name),
            "port" => Target::Port(name),
            k => {
                return Err(format!(
                    "capture: unknown target {k:?} (switch, session, port)"
                ))
            }
        };
        let mut spec = CaptureSpec {
            target,
            count: None,
            snaplen: SNAPLEN_DEFAULT,
            rate: RATE_DEFAULT,
        };
        while let Some(k) = w.next() {
            let v = w
                .next()
                .ok_or_else(|| format!("capture: {k} without a value"))?;
            let num = |max: u64| {
                v.parse::<u64>()
                    .ok()
                    .filter(|n| *n <= max)
                    .ok_or_else(|| format!("capture: {k} {v:?} is not a number up to {max}"))
            };
            match k {
                "count" => spec.count = Some(num(u64::MAX)?),
                "snaplen" => spec.snaplen = num(u32::MAX.into())? as u32,
                "rate" => spec.rate = num(u32::MAX.into())? as u32,
                _ => return Err(format!("capture: unknown option {k:?}")),
            }
        }
        spec.validate()?;
        Ok(spec)
    }
}

/// The first line of a capture's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename = "capture")]
pub struct Started {
    /// E.g. `switch cust100 (inner frames)`.
    pub what: String,
    pub snaplen: u32,
    pub rate: u32,
    pub count: Option<u64>,
    /// Producers armed: the workers (and the control core for a port).
    pub producers: usize,
}

/// How a capture went, sent last.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Frames written to the stream.
    pub frames: u64,
    /// Missed: a producer's ring was full (the control core drained too
    /// slowly).
    pub ring_full: u64,
    /// Missed: over the rate cap (`--rate` frames a second per worker).
    pub rate_capped: u64,
    /// Missed: the client read too slowly ([`OUT_MAX`] bytes waiting).
    pub client_slow: u64,
    /// Why it ended: `count reached`, `stopped by the client`, ...
    pub ended: String,
}

impl Summary {
    pub fn missed(&self) -> u64 {
        self.ring_full + self.rate_capped + self.client_slow
    }

    /// One line for the operator.
    pub fn render(&self) -> String {
        format!(
            "{} frame{} captured, {} missed (ring_full {}, rate_capped {}, client_slow {}); {}",
            self.frames,
            if self.frames == 1 { "" } else { "s" },
            self.missed(),
            self.ring_full,
            self.rate_capped,
            self.client_slow,
            self.ended
        )
    }
}

/// Ring slots for a snaplen: [`RING_BYTES`] worth, 32..=1024.
pub fn slots_for(snaplen: u32) -> usize {
    (RING_BYTES / (snaplen.max(1) as usize)).clamp(SLOTS_MIN, SLOTS_MAX)
}

/// Maps TSC stamps onto the wall clock.
#[derive(Debug, Clone, Copy)]
struct Clock {
    wall_ns: u128,
    tsc0: u64,
    hz: u64,
}

impl Clock {
    fn at(&self, tsc: u64) -> Duration {
        let d = tsc.wrapping_sub(self.tsc0);
        // A stamp from just before `tsc0` (another core's TSC a hair
        // behind) counts as `tsc0`.
        let d = if d > u64::MAX / 2 { 0 } else { d };
        let ns = self.wall_ns + u128::from(d) * 1_000_000_000 / u128::from(self.hz.max(1));
        Duration::from_nanos(ns.min(u128::from(u64::MAX)) as u64)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Running,
    /// Disarming since (ms).
    Stopping(u64),
    Done,
}

/// The name and description of a capture source (an IDB).
pub struct SourceName {
    pub name: String,
    pub description: String,
}

/// One capture (see the module docs).
pub struct Capture {
    filter: Filter,
    snaplen: u32,
    count: Option<u64>,
    workers: Vec<Arc<WorkerShared>>,
    /// One per worker, then the control core's.
    rings: Vec<Arc<Rings>>,
    /// Arm commands a full command queue did not take yet.
    arm: Vec<Option<Box<Arm>>>,
    /// Workers armed (their arm command queued).
    armed: Vec<bool>,
    /// Disarm commands still to queue.
    disarm: Vec<bool>,
    state: State,
    clock: Clock,
    /// Blocks of this turn, framed into `out` at its end.
    blocks: PcapNgWriter<Vec<u8>>,
    /// Source of each IDB written, by IDB index.
    ifaces: Vec<u16>,
    out: Vec<u8>,
    out_off: usize,
    summary: Summary,
    /// Frames drained after `count` was reached (not missed: not wanted).
    beyond_count: u64,
    started: Started,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture")
            .field("filter", &self.filter)
            .field("state", &self.state)
            .field("summary", &self.summary)
            .finish()
    }
}

impl Capture {
    /// Starts a capture of `filter` (`what` describes it) on the workers
    /// behind `workers`: allocates the rings and queues the arm commands.
    /// Returns the capture and, for a port capture, the control core's
    /// own arm (for the frames it sends itself).
    pub fn start(
        spec: &CaptureSpec,
        filter: Filter,
        what: String,
        workers: Vec<Arc<WorkerShared>>,
        tsc_hz: u64,
        tsc_now: u64,
    ) -> Result<(Capture, Option<Arm>), String> {
        let n = workers.len();
        let slots = slots_for(spec.snaplen);
        let snap = spec.snaplen as usize;
        let rings: Vec<Arc<Rings>> = (0..=n).map(|_| Arc::new(Rings::new(slots, snap))).collect();
        let arm: Vec<Option<Box<Arm>>> = rings[..n]
            .iter()
            .map(|r| {
                Some(Box::new(Arm {
                    filter,
                    rate: spec.rate,
                    rings: r.clone(),
                }))
            })
            .collect();
        let ctrl = match filter {
            Filter::Port(_) => Some(Arm {
                filter,
                rate: spec.rate,
                rings: rings[n].clone(),
            }),
            _ => {
                rings[n]
                    .detached
                    .store(true, std::sync::atomic::Ordering::Release);
                None
            }
        };
        let wall_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let shb = SectionHeaderBlock {
            options: vec![
                SectionHeaderOption::UserApplication(Cow::Owned(format!(
                    "las {}",
                    env!("CARGO_PKG_VERSION")
                ))),
                SectionHeaderOption::Comment(Cow::Owned(format!("las capture: {what}"))),
            ],
            ..SectionHeaderBlock::default()
        };
        // Into a Vec: the section header cannot fail to be written.
        let blocks = PcapNgWriter::with_section_header(Vec::new(), shb)
            .map_err(|e| format!("capture: pcapng section header: {e}"))?;
        let producers = n + usize::from(ctrl.is_some());
        let started = Started {
            what,
            snaplen: spec.snaplen,
            rate: spec.rate,
            count: spec.count,
            producers,
        };
        let mut c = Capture {
            filter,
            snaplen: spec.snaplen,
            count: spec.count,
            workers,
            rings,
            arm,
            armed: vec![false; n],
            disarm: vec![false; n],
            state: State::Running,
            clock: Clock {
                wall_ns,
                tsc0: tsc_now,
                hz: tsc_hz,
            },
            blocks,
            ifaces: Vec::new(),
            out: Vec::new(),
            out_off: 0,
            summary: Summary::default(),
            beyond_count: 0,
            started,
        };
        let mut line = serde_json::to_vec(&c.started).unwrap_or_default();
        line.push(b'\n');
        c.out.extend_from_slice(&line);
        c.queue_commands();
        Ok((c, ctrl))
    }

    pub fn filter(&self) -> Filter {
        self.filter
    }

    pub fn started(&self) -> &Started {
        &self.started
    }

    /// Ends the capture (once the workers let go, the summary follows).
    pub fn stop(&mut self, why: &str, now_ms: u64) {
        if self.state == State::Running {
            self.summary.ended = why.to_string();
            self.state = State::Stopping(now_ms);
            for (i, a) in self.arm.iter_mut().enumerate() {
                // Never queued: nobody holds these rings.
                if a.take().is_some() {
                    self.rings[i]
                        .detached
                        .store(true, std::sync::atomic::Ordering::Release);
                }
            }
            for (d, armed) in self.disarm.iter_mut().zip(&self.armed) {
                *d = *armed;
            }
            if let Some(r) = self.rings.last() {
                r.stop.store(true, std::sync::atomic::Ordering::Release);
            }
            self.queue_commands();
        }
    }

    /// All producers let go and the summary is queued.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Bytes waiting for the client.
    pub fn pending(&self) -> &[u8] {
        &self.out[self.out_off..]
    }

    /// `n` bytes of [`Capture::pending`] were sent.
    pub fn consume(&mut self, n: usize) {
        self.out_off = (self.out_off + n).min(self.out.len());
        if self.out_off == self.out.len() {
            self.out.clear();
            self.out_off = 0;
        } else if self.out_off > OUT_MAX / 2 {
            self.out.drain(..self.out_off);
            self.out_off = 0;
        }
    }

    /// The summary so far (final once done).
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    fn queue_commands(&mut self) {
        for i in 0..self.workers.len() {
            if let Some(a) = self.arm[i].take() {
                match self.workers[i].commands.push(Command::Capture(Some(a))) {
                    Ok(()) => self.armed[i] = true,
                    Err(Command::Capture(a)) => self.arm[i] = a,
                    Err(_) => {}
                }
            }
            if self.disarm[i]
                && self.workers[i]
                    .commands
                    .push(Command::Capture(None))
                    .is_ok()
            {
                self.disarm[i] = false;
            }
        }
    }

    /// One turn: queues commands a full queue refused, drains the rings
    /// into pcapng, and ends the capture when `count` is reached or the
    /// producers let go. `names` names a source for its IDB. True if
    /// anything moved.
    pub fn pump(&mut self, now_ms: u64, names: &dyn Fn(Filter, u16) -> SourceName) -> bool {
        if self.state == State::Done {
            return false;
        }
        self.queue_commands();
        // Read before draining: a producer that let go wrote its last
        // frame before, so this turn's drain takes everything.
        let all_detached = self.rings.iter().all(|r| r.is_detached());
        let mut moved = 0;
        for r in 0..self.rings.len() {
            while moved < DRAIN_PER_PUMP {
                let Some(slot) = self.rings[r].full.pop() else {
                    break;
                };
                moved += 1;
                if self.count.is_some_and(|c| self.summary.frames >= c) {
                    self.beyond_count += 1;
                } else if self.room() < slot.len as usize + 256 {
                    self.summary.client_slow += 1;
                } else {
                    self.write_frame(&slot, names);
                }
                let _ = self.rings[r].free.push(slot);
            }
        }
        if self.state == State::Running && self.count.is_some_and(|c| self.summary.frames >= c) {
            self.stop("count reached", now_ms);
        }
        self.frame_blocks();
        if let State::Stopping(since) = self.state {
            let timed_out = now_ms.saturating_sub(since) >= DETACH_TIMEOUT_MS;
            let drained = self.rings.iter().all(|r| r.full.is_empty());
            if (all_detached && drained) || timed_out {
                if !all_detached {
                    self.summary
                        .ended
                        .push_str(" (a worker did not let go in time)");
                }
                self.finish();
            }
        }
        moved > 0
    }

    /// Bytes that may still be queued for the client.
    fn room(&self) -> usize {
        OUT_MAX.saturating_sub(self.out.len() - self.out_off + self.blocks.get_ref().len())
    }

    fn write_frame(
        &mut self,
        slot: &crate::worker::capture::Slot,
        names: &dyn Fn(Filter, u16) -> SourceName,
    ) {
        let iface = match self.ifaces.iter().position(|&s| s == slot.source) {
            Some(i) => i,
            None => {
                let n = names(self.filter, slot.source);
                let idb = InterfaceDescriptionBlock {
                    linktype: DataLink::ETHERNET,
                    snaplen: self.snaplen,
                    options: vec![
                        InterfaceDescriptionOption::IfName(Cow::Owned(n.name)),
                        InterfaceDescriptionOption::IfDescription(Cow::Owned(n.description)),
                        InterfaceDescriptionOption::IfTsResol(9),
                    ],
                };
                if self.blocks.write_pcapng_block(idb).is_err() {
                    return;
                }
                self.ifaces.push(slot.source);
                self.ifaces.len() - 1
            }
        };
        // epb_flags bits 0-1: 01 inbound, 10 outbound.
        let flags = match slot.dir {
            Direction::In => 1,
            Direction::Out => 2,
        };
        let epb = EnhancedPacketBlock {
            interface_id: iface as u32,
            timestamp: self.clock.at(slot.tsc),
            original_len: slot.orig_len,
            data: Cow::Borrowed(slot.frame()),
            options: vec![EnhancedPacketOption::Flags(flags)],
        };
        if self.blocks.write_pcapng_block(epb).is_ok() {
            self.summary.frames += 1;
        }
    }

    /// Frames the blocks written this turn into one chunk (the section
    /// header, written at creation, goes with the first).
    fn frame_blocks(&mut self) {
        let b = self.blocks.get_mut();
        if b.is_empty() {
            return;
        }
        self.out.push(CHUNK_PCAPNG);
        self.out.extend_from_slice(&(b.len() as u32).to_be_bytes());
        self.out.extend_from_slice(b);
        b.clear();
    }

    fn finish(&mut self) {
        for r in &self.rings {
            self.summary.ring_full += r.ring_full.get();
            self.summary.rate_capped += r.rate_capped.get();
        }
        let body = serde_json::to_vec(&self.summary).unwrap_or_default();
        self.out.push(CHUNK_END);
        self.out
            .extend_from_slice(&(body.len() as u32).to_be_bytes());
        self.out.extend_from_slice(&body);
        self.state = State::Done;
    }
}

/// How `las capture` ended on the client's side.
#[derive(Debug)]
pub struct ClientEnd {
    pub summary: Summary,
    /// Writing the pcapng failed (e.g. the reader of `-w -` went away):
    /// the capture was stopped then.
    pub out_error: Option<String>,
}

/// How long a stopped client waits for the summary.
const CLIENT_STOP_WAIT: Duration = Duration::from_secs(5);

/// The client of a capture (`las capture`): sends `spec` to the las
/// listening on `path`, calls `on_start` with its first answer, writes
/// the pcapng stream to `out` as it comes, sends `stop` once `stop` is
/// set (Ctrl-C) or `out` fails, and returns las's summary.
pub fn run_client(
    path: &std::path::Path,
    spec: &CaptureSpec,
    out: &mut dyn std::io::Write,
    stop: &std::sync::atomic::AtomicBool,
    on_start: &mut dyn FnMut(&Started),
) -> Result<ClientEnd, String> {
    use std::io::{ErrorKind, Read, Write};
    use std::sync::atomic::Ordering;
    use std::time::Instant;
    let mut s = std::os::unix::net::UnixStream::connect(path).map_err(|e| {
        format!(
            "cannot reach las at {}: {e} (is it running? --socket or [control] socket sets the path)",
            path.display()
        )
    })?;
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .map_err(|e| e.to_string())?;
    s.write_all(format!("{}\n", spec.line()).as_bytes())
        .map_err(|e| format!("sending the capture request: {e}"))?;
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    let mut started = false;
    let mut out_error: Option<String> = None;
    let mut stop_sent: Option<Instant> = None;
    let t0 = Instant::now();
    loop {
        if stop_sent.is_none() && (stop.load(Ordering::Relaxed) || out_error.is_some()) {
            // A las that is gone shows as EOF below.
            let _ = s.write_all(b"stop\n");
            stop_sent = Some(Instant::now());
        }
        if stop_sent.is_some_and(|t| t.elapsed() > CLIENT_STOP_WAIT) {
            return Err("las did not end the capture within 5 s of stop".into());
        }
        if !started && t0.elapsed() > Duration::from_secs(10) && stop_sent.is_none() {
            return Err("las did not answer the capture request within 10 s".into());
        }
        match s.read(&mut chunk) {
            Ok(0) => {
                return Err(if started {
                    "las closed the capture before its summary (did las stop?)".into()
                } else {
                    "las closed the connection without an answer".into()
                })
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) =>
            {
                continue
            }
            Err(e) => return Err(format!("reading from las: {e}")),
        }
        if !started {
            let Some(end) = buf.iter().position(|&b| b == b'\n') else {
                if buf.len() > 1 << 20 {
                    return Err("bad answer from las: no line".into());
                }
                continue;
            };
            let line = String::from_utf8_lossy(&buf[..end]).into_owned();
            buf.drain(..=end);
            let v: serde_json::Value = serde_json::from_str(&line)
                .map_err(|e| format!("bad answer from las: {e}: {line:?}"))?;
            match v.get("kind").and_then(|k| k.as_str()) {
                Some("capture") => {
                    let st: Started = serde_json::from_value(v)
                        .map_err(|e| format!("bad answer from las: {e}: {line:?}"))?;
                    on_start(&st);
                    started = true;
                }
                Some("error") => {
                    let e = v.get("error").and_then(|e| e.as_str()).unwrap_or(&line);
                    return Err(e.to_string());
                }
                _ => return Err(format!("bad answer from las: {line:?}")),
            }
        }
        // Whole chunks.
        let mut off = 0;
        while buf.len() - off >= 5 {
            let tag = buf[off];
            let len = u32::from_be_bytes([buf[off + 1], buf[off + 2], buf[off + 3], buf[off + 4]])
                as usize;
            if len > CHUNK_MAX {
                return Err(format!("bad answer from las: a chunk of {len} bytes"));
            }
            if buf.len() - off - 5 < len {
                break;
            }
            let body = &buf[off + 5..off + 5 + len];
            off += 5 + len;
            match tag {
                CHUNK_PCAPNG => {
                    if out_error.is_none() {
                        if let Err(e) = out.write_all(body).and_then(|_| out.flush()) {
                            out_error = Some(e.to_string());
                        }
                    }
                }
                CHUNK_END => {
                    let summary: Summary = serde_json::from_slice(body)
                        .map_err(|e| format!("bad summary from las: {e}"))?;
                    if out_error.is_none() {
                        if let Err(e) = out.flush() {
                            out_error = Some(e.to_string());
                        }
                    }
                    return Ok(ClientEnd { summary, out_error });
                }
                t => return Err(format!("bad answer from las: chunk tag {t:#04x}")),
            }
        }
        buf.drain(..off);
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::switch::{MemberId, SwitchId};
    use crate::telemetry::WorkerCounters;
    use crate::worker::capture::{Offer, Tap};
    use pcap_file::pcapng::{Block, PcapNgReader};

    fn workers(n: usize) -> Vec<Arc<WorkerShared>> {
        (0..n)
            .map(|_| Arc::new(WorkerShared::new(8, 8, WorkerCounters::new(4, 4, 1))))
            .collect()
    }

    fn spec(count: Option<u64>, snaplen: u32) -> CaptureSpec {
        CaptureSpec {
            target: Target::Switch("cust100".into()),
            count,
            snaplen,
            rate: 1000,
        }
    }

    /// The worker's side: takes its queued command.
    fn take_arm(w: &WorkerShared) -> Option<Tap> {
        match w.commands.pop() {
            Some(Command::Capture(Some(a))) => Some(Tap::new(*a, 1_000_000_000, 0)),
            Some(Command::Capture(None)) | None => None,
            Some(c) => panic!("unexpected command {c:?}"),
        }
    }

    fn names(_: Filter, src: u16) -> SourceName {
        SourceName {
            name: format!("s{src}"),
            description: format!("session s{src}"),
        }
    }

    fn offer(t: &mut Tap, tsc: u64, src: u16, dir: Direction, f: &[u8]) -> Offer {
        t.offer(tsc, f.len(), src, dir, |b| {
            let n = b.len();
            b.copy_from_slice(&f[..n]);
            Some(n)
        })
    }

    /// Splits a stream: the first line, the pcapng bytes, the summary.
    fn split(mut s: &[u8]) -> (String, Vec<u8>, Option<Summary>) {
        let end = s.iter().position(|&b| b == b'\n').unwrap();
        let line = String::from_utf8(s[..end].to_vec()).unwrap();
        s = &s[end + 1..];
        let (mut pcapng, mut summary) = (Vec::new(), None);
        while !s.is_empty() {
            let len = u32::from_be_bytes([s[1], s[2], s[3], s[4]]) as usize;
            let body = &s[5..5 + len];
            match s[0] {
                CHUNK_PCAPNG => pcapng.extend_from_slice(body),
                CHUNK_END => summary = Some(serde_json::from_slice(body).unwrap()),
                t => panic!("tag {t}"),
            }
            s = &s[5 + len..];
        }
        (line, pcapng, summary)
    }

    fn frame(n: usize, tag: u8) -> Vec<u8> {
        (0..n).map(|i| (i as u8) ^ tag).collect()
    }

    #[test]
    fn specs_round_trip_and_bounds_name_the_option() {
        let s = CaptureSpec {
            target: Target::Session("pw-7".into()),
            count: Some(10),
            snaplen: 128,
            rate: 50,
        };
        assert_eq!(
            s.line(),
            "capture session pw-7 snaplen 128 rate 50 count 10"
        );
        assert_eq!(CaptureSpec::parse(&s.line()), Some(Ok(s)));
        assert_eq!(CaptureSpec::parse("show ports"), None);
        let p = CaptureSpec::parse("capture port wan0").unwrap().unwrap();
        assert_eq!(p.target, Target::Port("wan0".into()));
        assert_eq!(
            (p.snaplen, p.rate, p.count),
            (SNAPLEN_DEFAULT, RATE_DEFAULT, None)
        );
        let err = |l: &str| CaptureSpec::parse(l).unwrap().unwrap_err();
        assert!(err("capture switch a snaplen 63").contains("--snaplen 63"));
        assert!(err("capture switch a snaplen 65536").contains("--snaplen 65536"));
        assert!(err("capture switch a rate 0").contains("--rate 0"));
        assert!(err("capture switch a count 0").contains("--count 0"));
        assert!(err("capture vlan a").contains("\"vlan\""));
        assert!(err("capture switch").contains("name expected"));
        assert!(err("capture switch a colour red").contains("\"colour\""));
        assert!(err("capture switch a count x").contains("\"x\""));
        assert_eq!(slots_for(65535), 64);
        assert_eq!(slots_for(9018), 465);
        assert_eq!(slots_for(64), 1024);
    }

    #[test]
    fn a_switch_capture_streams_pcapng_with_one_interface_per_session() {
        let w = workers(2);
        let (mut cap, ctrl) = Capture::start(
            &spec(None, 100),
            Filter::Switch(SwitchId(1)),
            "switch cust100 (inner frames)".into(),
            w.clone(),
            1_000_000_000,
            0,
        )
        .unwrap();
        assert!(ctrl.is_none(), "the control core taps ports only");
        let mut t0 = take_arm(&w[0]).unwrap();
        let mut t1 = take_arm(&w[1]).unwrap();
        assert_eq!(t0.filter, Filter::Switch(SwitchId(1)));
        let (a, b, long) = (frame(60, 1), frame(64, 2), frame(300, 3));
        // 1.5 s and 2 s after the start, on a 1 GHz TSC.
        offer(&mut t0, 1_500_000_000, 4, Direction::In, &a);
        offer(&mut t1, 2_000_000_000, 9, Direction::Out, &b);
        offer(&mut t0, 2_000_000_001, 4, Direction::Out, &long);
        assert!(cap.pump(0, &names));
        cap.stop("stopped by the client", 10);
        // Disarm queued; not done before both workers let go.
        assert!(matches!(w[0].commands.pop(), Some(Command::Capture(None))));
        assert!(matches!(w[1].commands.pop(), Some(Command::Capture(None))));
        cap.pump(20, &names);
        assert!(!cap.is_done());
        t0.detach();
        t1.detach();
        cap.pump(30, &names);
        assert!(cap.is_done());
        let (line, pcapng, summary) = split(cap.pending());
        let st: Started = serde_json::from_str(&line).unwrap();
        assert_eq!(st.what, "switch cust100 (inner frames)");
        assert_eq!(st.producers, 2);
        let summary = summary.unwrap();
        assert_eq!(summary.frames, 3);
        assert_eq!(summary.missed(), 0);
        assert_eq!(summary.ended, "stopped by the client");

        let mut r = PcapNgReader::new(&pcapng[..]).unwrap();
        let mut idbs = Vec::new();
        let mut epbs = Vec::new();
        while let Some(b) = r.next_block() {
            match b.unwrap() {
                Block::InterfaceDescription(i) => idbs.push(i.into_owned()),
                Block::EnhancedPacket(e) => epbs.push(e.into_owned()),
                b => panic!("unexpected block {b:?}"),
            }
        }
        assert_eq!(idbs.len(), 2, "one per session: s4, s9");
        for (i, name) in idbs.iter().zip(["s4", "s9"]) {
            assert_eq!(i.linktype, DataLink::ETHERNET);
            assert_eq!(i.snaplen, 100);
            assert!(i
                .options
                .contains(&InterfaceDescriptionOption::IfName(name.into())));
            assert!(i
                .options
                .contains(&InterfaceDescriptionOption::IfTsResol(9)));
        }
        assert_eq!(epbs.len(), 3);
        let wall0 = cap.clock.wall_ns;
        let want = [
            (0, &a[..], 60, 1, 1_500_000_000u128),
            (0, &long[..100], 300, 2, 2_000_000_001),
            (1, &b[..], 64, 2, 2_000_000_000),
        ];
        for (e, (iface, data, orig, flags, dt)) in epbs.iter().zip(want) {
            assert_eq!(e.interface_id, iface);
            assert_eq!(&e.data[..], data);
            assert_eq!(e.original_len, orig);
            assert_eq!(e.options, vec![EnhancedPacketOption::Flags(flags)]);
            assert_eq!(e.timestamp.as_nanos(), wall0 + dt);
        }
    }

    #[test]
    fn count_ends_it_and_misses_are_summed() {
        let w = workers(1);
        let (mut cap, _) = Capture::start(
            &spec(Some(2), 64),
            Filter::Session(MemberId(3)),
            "session x".into(),
            w.clone(),
            1000,
            0,
        )
        .unwrap();
        let mut t = take_arm(&w[0]).unwrap();
        let f = frame(60, 0);
        // Burst of 32 at rate 1000 (a tenth of a second: 100): 3 pass
        // into a ring of 1024 slots, and 200 more hit the cap.
        for _ in 0..3 {
            assert_eq!(offer(&mut t, 0, 3, Direction::In, &f), Offer::Captured);
        }
        let capped = (0..200)
            .filter(|_| offer(&mut t, 0, 3, Direction::In, &f) == Offer::RateCapped)
            .count() as u64;
        cap.pump(0, &names);
        assert!(matches!(w[0].commands.pop(), Some(Command::Capture(None))));
        t.detach();
        cap.pump(1, &names);
        assert!(cap.is_done());
        let s = split(cap.pending()).2.unwrap();
        assert_eq!(s.frames, 2);
        assert_eq!(s.rate_capped, capped);
        assert_eq!(s.ended, "count reached");
        // Frames beyond the count are not misses.
        assert_eq!(s.missed(), capped + s.ring_full);
    }

    #[test]
    fn a_slow_client_loses_frames_not_memory() {
        let w = workers(1);
        let (mut cap, _) = Capture::start(
            &spec(None, 65535),
            Filter::Switch(SwitchId(0)),
            "switch".into(),
            w.clone(),
            1000,
            0,
        )
        .unwrap();
        let mut t = take_arm(&w[0]).unwrap();
        let big = frame(65535, 7);
        // One frame a millisecond (the TSC of `take_arm` runs at 1 GHz).
        let mut now = 0;
        for _ in 0..200 {
            now += 1_000_000;
            offer(&mut t, now, 0, Direction::In, &big);
            cap.pump(now / 1_000_000, &names);
            assert!(cap.pending().len() <= OUT_MAX + 1024);
        }
        assert!(cap.summary().client_slow > 0);
        assert!(cap.summary().frames < 200);
        assert_eq!(cap.summary().frames + cap.summary().client_slow, 200);
        // A worker that never lets go: the capture ends anyway.
        cap.stop("stopped", 200);
        cap.pump(200 + DETACH_TIMEOUT_MS, &names);
        assert!(cap.is_done());
        assert!(cap.summary().ended.contains("did not let go"));
    }

    #[test]
    fn a_port_capture_arms_the_control_core_too() {
        let w = workers(1);
        let (mut cap, ctrl) = Capture::start(
            &spec(None, 64),
            Filter::Port(0),
            "port".into(),
            w.clone(),
            1000,
            0,
        )
        .unwrap();
        let ctrl = Tap::new(ctrl.unwrap(), 1000, 0);
        assert_eq!(cap.started().producers, 2);
        let t = take_arm(&w[0]).unwrap();
        cap.stop("stopped", 0);
        assert!(ctrl.stop_requested());
        t.detach();
        cap.pump(1, &names);
        assert!(
            !cap.is_done(),
            "the control core's tap still holds its ring"
        );
        ctrl.detach();
        cap.pump(2, &names);
        assert!(cap.is_done());
    }
}
