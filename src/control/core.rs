//! The control core's I/O loop: the DPDK side of the control engine.
//!
//! One non-blocking loop on the control lcore drains the workers' punt
//! rings into `Engine::frame_in`, sends what the engine answers in place
//! and what it queues (`take_frames`) through the control core's own TX
//! queue or worker 0's inject ring, serves the control socket, and
//! samples the devices for `las show`. Every decision is the engine's
//! (`control::engine`, pure and unit-tested); this file only moves mbufs.
//!
//! Live capture (`control::capture`) is served here too: the socket asks
//! `Serve` to resolve a capture's names and arm the workers, and for a
//! port capture the control core copies the frames it sends through its
//! own TX queue itself (its tap), since no worker sees them.
#![forbid(unsafe_code)]

use super::capture::{Capture, CaptureSpec, SourceName};
use super::engine::{Disposition, Engine, Now, Outgoing, PortInfo, PortSample, Snapshot};
use super::socket::{ControlSocket, Handler};
use crate::config::Config;
use crate::dpdk::{tsc, Burst, Mbuf, Mempool, Port, RingConsumer, RingProducer, TxBuffer, TxQueue};
use crate::telemetry::show::{Request, Response};
use crate::worker::capture::{Direction, Filter, Tap};
use crate::worker::WorkerShared;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A port as the control core knows it: what the engine sees, plus the
/// device handles.
pub struct PortRt {
    pub info: PortInfo,
    pub port: Port,
    /// The control core's own TX queue, if the device has enough queues;
    /// otherwise its packets go through worker 0's inject ring.
    pub ctrl_tx: Option<TxQueue>,
}

/// The control core's ends of what connects it to the workers, one of
/// each per worker.
pub struct WorkerLinks {
    pub shared: Vec<Arc<WorkerShared>>,
    /// The consuming half of each worker's punt ring.
    pub punt: Vec<RingConsumer>,
    /// The producing half of each worker's inject ring.
    pub inject: Vec<RingProducer>,
}

pub struct ControlCore {
    engine: Engine,
    ports: Vec<PortRt>,
    punt: Vec<RingConsumer>,
    inject: Vec<RingProducer>,
    pool: Arc<Mempool>,
    socket: Option<ControlSocket>,
    /// The file las started with (what `las reload` and SIGHUP re-read).
    config_path: PathBuf,
    start: Instant,
    ctrl_tx: TxBuffer,
    burst: Burst,
    outgoing: Vec<Outgoing>,
    /// The workers' queues, for arming captures.
    workers: Vec<Arc<WorkerShared>>,
    tsc_hz: u64,
    /// A port capture's copy of what the control core sends itself.
    tap: Option<Tap>,
}

impl ControlCore {
    pub fn new(
        cfg: Config,
        ports: Vec<PortRt>,
        links: WorkerLinks,
        worker_lcores: Vec<u32>,
        pool: Arc<Mempool>,
        tsc_hz: u64,
        config_path: PathBuf,
    ) -> ControlCore {
        let WorkerLinks {
            shared,
            punt,
            inject,
        } = links;
        let infos = ports.iter().map(|p| p.info.clone()).collect();
        ControlCore {
            workers: shared.clone(),
            tsc_hz,
            tap: None,
            engine: Engine::new(cfg, infos, shared, worker_lcores, tsc_hz),
            ports,
            punt,
            inject,
            pool,
            socket: None,
            config_path,
            start: Instant::now(),
            ctrl_tx: TxBuffer::new(),
            burst: Burst::new(),
            outgoing: Vec::new(),
        }
    }

    fn now(&self) -> Now {
        Now {
            ms: self.start.elapsed().as_millis() as u64,
            tsc: tsc(),
        }
    }

    pub fn set_socket(&mut self, s: ControlSocket) {
        self.socket = Some(s);
    }

    /// Programs the workers from the configuration (see `Engine::program`)
    /// and sends what that queued (gratuitous ARPs, ARP requests).
    pub fn program(&mut self) {
        let now = self.now();
        self.engine.program(now);
        self.send_queued();
    }

    /// Tells every worker to apply its queue, and returns once all have
    /// (see `Engine::sync_workers`).
    pub fn sync_workers(&mut self, idle: impl FnMut() -> Result<(), String>) -> Result<(), String> {
        self.engine.sync_workers(idle)
    }

    /// One iteration of the control loop. Returns true if it did anything.
    pub fn poll_once(&mut self) -> bool {
        self.poll_once_with(&mut || {})
    }

    /// `poll_once`, where `local` publishes the session counters of a
    /// worker that runs on this thread (one core; see
    /// `worker::fresh_counters`).
    pub fn poll_once_with(&mut self, local: &mut dyn FnMut()) -> bool {
        let mut busy = false;
        for w in 0..self.punt.len() {
            busy |= self.drain_punt(w);
        }
        busy |= self.engine.poll(self.now());
        self.send_queued();
        // Never waits on a client (control::socket).
        if let Some(mut sock) = self.socket.take() {
            let serve = Serve {
                now: self.now(),
                engine: &mut self.engine,
                ports: &self.ports,
                pool: &self.pool,
                config_path: &self.config_path,
                workers: &self.workers,
                local,
                tsc_hz: self.tsc_hz,
                tap: &mut self.tap,
            };
            busy |= sock.poll(serve.now.ms, serve);
            self.engine.note_socket(sock.stats());
            self.socket = Some(sock);
        }
        if self.tap.as_ref().is_some_and(Tap::stop_requested) {
            if let Some(t) = self.tap.take() {
                t.detach();
            }
        }
        busy
    }

    /// Ends a running capture (las is stopping): its client gets the
    /// rest and the summary while the loop still turns (`linger`).
    pub fn stop_captures(&mut self) {
        let ms = self.now().ms;
        if let Some(s) = self.socket.as_mut() {
            s.stop_captures("las is stopping", ms);
        }
    }

    /// Re-reads the file las started with and applies it (SIGHUP).
    pub fn reload_config(&mut self, by: &str) {
        let now = self.now();
        let path = self.config_path.clone();
        if let Response::Error { error } = reload(&mut self.engine, now, &path, false, by) {
            log::error!("{error}");
        }
        self.send_queued();
    }

    /// Graceful shutdown of the control channel: StopCCN to every peer.
    /// The caller keeps polling for a moment so they leave.
    pub fn stop_l2tp(&mut self) {
        let now = self.now();
        self.engine.stop_l2tp(now);
        self.send_queued();
    }

    /// Everything `las` prints when it stops.
    pub fn final_report(&self) -> String {
        self.engine.final_report(&snapshot(&self.ports, &self.pool))
    }

    fn drain_punt(&mut self, w: usize) -> bool {
        let mut burst = std::mem::take(&mut self.burst);
        let n = self.punt[w].dequeue(&mut burst);
        let now = self.now();
        while let Some(mut m) = burst.pop() {
            let p = m.port() as usize;
            if p >= self.ports.len() || !m.linearize() {
                self.engine.note_punt_unreadable();
                continue;
            }
            if self.engine.frame_in(now, p, m.data_mut()) == Disposition::Reply {
                self.transmit(p, m);
            }
        }
        self.burst = burst;
        n > 0
    }

    /// Copies the engine's queued frames into mbufs and sends them.
    fn send_queued(&mut self) {
        let mut out = std::mem::take(&mut self.outgoing);
        self.engine.take_frames(&mut out);
        for o in out.drain(..) {
            let Some(mut m) = Mbuf::alloc(&self.pool) else {
                self.engine.note_tx_failed(1);
                continue;
            };
            let Some(buf) = m.append(o.frame.len()) else {
                self.engine.note_tx_failed(1);
                continue;
            };
            buf.copy_from_slice(&o.frame);
            self.transmit(o.port, m);
        }
        self.outgoing = out;
    }

    /// Sends a control-core packet out of port `p`.
    fn transmit(&mut self, p: usize, mut m: Mbuf) {
        match self.ports[p].ctrl_tx.as_mut() {
            Some(q) => {
                // No worker sees what leaves through this queue: a port
                // capture gets it from the control core's own tap (what
                // goes through the inject ring, a worker captures).
                if let Some(t) = self.tap.as_mut().filter(|t| t.filter.port(p)) {
                    let copy = |buf: &mut [u8]| m.read_into(0, buf).then_some(buf.len());
                    t.offer(tsc(), m.pkt_len(), p as u16, Direction::Out, copy);
                }
                if self.ctrl_tx.push(m).is_ok() {
                    let (_, _, dropped) = q.tx_burst(&mut self.ctrl_tx);
                    self.engine.note_tx_failed(dropped as u64);
                }
            }
            None => {
                m.set_port(p as u16);
                if self.inject[0].enqueue(m).is_err() {
                    self.engine.note_tx_failed(1);
                }
            }
        }
    }

    pub fn ports(&self) -> &[PortRt] {
        &self.ports
    }

    /// Ends the control core, giving back the ports (to stop them).
    pub fn into_ports(self) -> Vec<PortRt> {
        self.ports
    }

    /// Keeps the control loop (and, on one core, `idle`) running for
    /// `d`, e.g. so StopCCN messages leave before the ports stop.
    pub fn linger(&mut self, d: Duration, mut idle: impl FnMut()) {
        let until = Instant::now() + d;
        while Instant::now() < until {
            self.poll_once();
            idle();
        }
    }
}

/// What the control socket asks of the control core (`Handler`): `las
/// show` and `las reload` answers, and captures.
struct Serve<'a> {
    now: Now,
    engine: &'a mut Engine,
    ports: &'a [PortRt],
    pool: &'a Mempool,
    config_path: &'a Path,
    workers: &'a [Arc<WorkerShared>],
    /// Publishes the counters of a worker on this thread (one core).
    local: &'a mut dyn FnMut(),
    tsc_hz: u64,
    tap: &'a mut Option<Tap>,
}

/// How long a view waits for the workers' session counters
/// (`worker::fresh_counters`) before answering with what they published.
const FRESH_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(200);

/// At most this many names are listed when a capture names none.
const NAMES_LISTED: usize = 8;

/// `names` as a short list for an error message.
fn listed(names: impl Iterator<Item = String>) -> String {
    let all: Vec<String> = names.collect();
    if all.is_empty() {
        return "none".into();
    }
    let mut s = all
        .iter()
        .take(NAMES_LISTED)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if all.len() > NAMES_LISTED {
        s.push_str(&format!(" and {} more", all.len() - NAMES_LISTED));
    }
    s
}

impl Serve<'_> {
    /// The data-plane filter for `t`, and what it captures in words; the
    /// error names the option and the value.
    fn resolve(&self, t: &super::capture::Target) -> Result<(Filter, String), String> {
        use super::capture::Target;
        match t {
            Target::Switch(n) => match self.engine.switch_id(n) {
                Some(id) => Ok((Filter::Switch(id), format!("switch {n} (inner frames)"))),
                None => Err(format!(
                    "--switch {n:?}: no such switch (switches: {})",
                    listed(self.engine.switch_views().into_iter().map(|s| s.name))
                )),
            },
            Target::Session(n) => match self.engine.session_id(n) {
                Some(id) => Ok((Filter::Session(id), format!("session {n} (inner frames)"))),
                None => Err(format!(
                    "--session {n:?}: no such session (sessions: {})",
                    listed(self.engine.session_views().into_iter().map(|s| s.name))
                )),
            },
            Target::Port(n) => match self.ports.iter().position(|p| &p.info.name == n) {
                Some(i) => Ok((Filter::Port(i as u8), format!("port {n} (outer frames)"))),
                None => Err(format!(
                    "--port {n:?}: no such port (ports: {})",
                    listed(self.ports.iter().map(|p| p.info.name.clone()))
                )),
            },
        }
    }
}

impl Handler for Serve<'_> {
    fn answer(&mut self, r: &Request) -> Response {
        match r {
            Request::Reload { path, dry_run } => {
                let path = path.as_deref().map_or(self.config_path, Path::new);
                reload(self.engine, self.now, path, *dry_run, "las reload")
            }
            // Sampled per request, not per loop: port statistics cost.
            r => {
                // Workers keep per-session counts in their own session
                // lines and publish them once a second; a view wants
                // them as of now (a few ms with 65,535 sessions).
                if matches!(r, Request::Sessions | Request::Counters | Request::Mesh)
                    && !crate::worker::fresh_counters(self.workers, FRESH_TIMEOUT, self.local)
                {
                    log::debug!("a worker did not publish its session counters in time");
                }
                self.engine.answer(r, &snapshot(self.ports, self.pool))
            }
        }
    }

    fn capture(&mut self, spec: &CaptureSpec) -> Result<Capture, String> {
        spec.validate()?;
        let (filter, what) = self.resolve(&spec.target)?;
        let (cap, ctrl) = Capture::start(
            spec,
            filter,
            what.clone(),
            self.workers.to_vec(),
            self.tsc_hz,
            tsc(),
        )?;
        if let Some(old) = self.tap.take() {
            old.detach();
        }
        *self.tap = ctrl.map(|a| Tap::new(a, self.tsc_hz, tsc()));
        log::info!(
            "capture of {what} started (snaplen {}, rate {}/s per worker{})",
            spec.snaplen,
            spec.rate,
            spec.count
                .map(|c| format!(", count {c}"))
                .unwrap_or_default()
        );
        Ok(cap)
    }

    fn source_name(&self, filter: Filter, source: u16) -> SourceName {
        match filter {
            Filter::Port(_) => {
                let (name, device) = self
                    .ports
                    .get(source as usize)
                    .map(|p| (p.info.name.clone(), p.info.device.clone()))
                    .unwrap_or_else(|| (format!("port{source}"), String::new()));
                SourceName {
                    description: format!("las port {name} ({device}): outer frames"),
                    name,
                }
            }
            Filter::Switch(_) | Filter::Session(_) => {
                let (session, switch) = self.engine.session_label(crate::switch::MemberId(source));
                SourceName {
                    description: format!(
                        "las switch {switch}, session {session}: inner frames from and to it"
                    ),
                    name: session,
                }
            }
        }
    }
}

/// What only the devices know, for the engine's views.
fn snapshot(ports: &[PortRt], pool: &Mempool) -> Snapshot {
    Snapshot {
        ports: ports
            .iter()
            .map(|p| {
                let st = p.port.stats();
                PortSample {
                    link_up: p.port.link().0,
                    rx_packets: st.ipackets,
                    rx_bytes: st.ibytes,
                    tx_packets: st.opackets,
                    tx_bytes: st.obytes,
                    rx_missed: st.imissed,
                    rx_errors: st.ierrors,
                    tx_errors: st.oerrors,
                    rx_nombuf: st.rx_nombuf,
                }
            })
            .collect(),
        mbufs_in_use: pool.in_use() as u64,
        mbufs_available: pool.available() as u64,
    }
}

/// Reads, validates and applies `path` (see `Engine::reload`); an invalid
/// file or a refused change leaves las as it was. `by` names who asked,
/// for the log.
fn reload(engine: &mut Engine, now: Now, path: &Path, dry_run: bool, by: &str) -> Response {
    let t0 = Instant::now();
    let what = if dry_run { "dry run" } else { "reload" };
    log::info!("{what} of {} requested by {by}", path.display());
    let cfg = match Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            return Response::Error {
                error: format!(
                    "{}: {e}: not reloaded, las keeps running on its configuration",
                    path.display()
                ),
            }
        }
    };
    let warnings = cfg.warnings();
    for w in &warnings {
        log::warn!("{}: {w}", path.display());
    }
    match engine.reload(now, cfg, dry_run) {
        Ok(changes) => Response::Reloaded {
            changes: changes.lines,
            warnings,
            dry_run,
            took_ms: t0.elapsed().as_secs_f64() * 1e3,
        },
        Err(error) => Response::Error { error },
    }
}
