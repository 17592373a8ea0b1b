//! The control core's I/O loop: the DPDK side of the control engine.
//!
//! One non-blocking loop on the control lcore drains the workers' punt
//! rings into `Engine::frame_in`, sends what the engine answers in place
//! and what it queues (`take_frames`) through the control core's own TX
//! queue or worker 0's inject ring, serves the control socket, and
//! samples the devices for `las show`. Every decision is the engine's
//! (`control::engine`, pure and unit-tested); this file only moves mbufs.
#![forbid(unsafe_code)]

use super::engine::{Disposition, Engine, Now, Outgoing, PortInfo, PortSample, Snapshot};
use super::socket::ControlSocket;
use crate::config::Config;
use crate::dpdk::{tsc, Burst, Mbuf, Mempool, Port, RingConsumer, RingProducer, TxBuffer, TxQueue};
use crate::telemetry::show::{Request, Response};
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

    /// Tells every worker to apply its queue, and returns once all have.
    pub fn sync_workers(&mut self, idle: impl FnMut()) {
        self.engine.sync_workers(idle);
    }

    /// One iteration of the control loop. Returns true if it did anything.
    pub fn poll_once(&mut self) -> bool {
        let mut busy = false;
        for w in 0..self.punt.len() {
            busy |= self.drain_punt(w);
        }
        busy |= self.engine.poll(self.now());
        self.send_queued();
        // Never waits on a client (control::socket).
        if let Some(mut sock) = self.socket.take() {
            let now = self.now();
            let (engine, ports, pool) = (&mut self.engine, &self.ports, &self.pool);
            let config_path = &self.config_path;
            busy |= sock.poll(now.ms, |r| match r {
                Request::Reload { path, dry_run } => {
                    let path = path.as_deref().map_or(config_path.as_path(), Path::new);
                    reload(engine, now, path, *dry_run, "las reload")
                }
                // Sampled per request, not per loop: port statistics cost.
                r => engine.answer(r, &snapshot(ports, pool)),
            });
            self.engine.note_socket(sock.stats());
            self.socket = Some(sock);
        }
        busy
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
    match engine.reload(now, cfg, dry_run) {
        Ok(changes) => Response::Reloaded {
            changes: changes.lines,
            dry_run,
            took_ms: t0.elapsed().as_secs_f64() * 1e3,
        },
        Err(error) => Response::Error { error },
    }
}
