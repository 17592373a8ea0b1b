//! Bringing las up and down: EAL, pool, ports, workers, the control loop.
#![forbid(unsafe_code)]

use crate::config::Config;
use crate::control::core::{ControlCore, PortRt, WorkerLinks};
use crate::control::engine::PortInfo;
use crate::control::socket::ControlSocket;
use crate::dpdk::{
    self, mbuf_ring, Eal, LcoreId, Mempool, Port, PortConf, RingConsumer, RingProducer, RxQueue,
    TxQueue,
};
use crate::telemetry::exporter::{Exporter, ExporterConfig};
use crate::telemetry::metrics::Limits;
use crate::telemetry::WorkerCounters;
use crate::worker::{Worker, WorkerPort, WorkerSetup, WorkerShared};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// One lcore of `--cores`: the EAL lcore id (the first is the control
/// core, the others are workers) and the CPU its thread is pinned to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lcore {
    pub id: u32,
    pub cpu: u32,
}

/// Parses a core list like `2-7`, `0,2,4-5` or `3` (order kept, first =
/// control core). An element may also be `LCORE@CPU`: lcore `LCORE` on
/// CPU `CPU` (DPDK's `--lcores` mapping), e.g. `0,1,2@1` runs two
/// workers on CPU 1. Poll threads that share a CPU share its time; this
/// is for trying several workers on a small machine (tests, labs), not
/// for speed.
pub fn parse_cores(s: &str) -> Result<Vec<Lcore>, String> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let part = part.trim();
        let bad = || {
            format!(
                "--cores {s:?}: {part:?} is not a core number, a range like 2-7, \
                 or LCORE@CPU like 2@1"
            )
        };
        if let Some((id, cpu)) = part.split_once('@') {
            let id: u32 = id.trim().parse().map_err(|_| bad())?;
            let cpu: u32 = cpu.trim().parse().map_err(|_| bad())?;
            out.push(Lcore { id, cpu });
        } else if let Some((a, b)) = part.split_once('-') {
            let a: u32 = a.trim().parse().map_err(|_| bad())?;
            let b: u32 = b.trim().parse().map_err(|_| bad())?;
            if a > b {
                return Err(bad());
            }
            out.extend((a..=b).map(|c| Lcore { id: c, cpu: c }));
        } else {
            let c = part.parse().map_err(|_| bad())?;
            out.push(Lcore { id: c, cpu: c });
        }
    }
    let mut seen = std::collections::HashSet::new();
    for c in &out {
        if !seen.insert(c.id) {
            return Err(format!("--cores {s:?}: core {} listed twice", c.id));
        }
        if c.id >= MAX_LCORE {
            return Err(format!(
                "--cores {s:?}: lcore {} is too large (DPDK has lcores 0-{})",
                c.id,
                MAX_LCORE - 1
            ));
        }
    }
    if out.is_empty() {
        return Err("--cores is empty".into());
    }
    Ok(out)
}

/// DPDK's `RTE_MAX_LCORE` in Debian's build.
const MAX_LCORE: u32 = 128;

/// Checks that every core's CPU exists on this machine.
pub fn check_cores(cores: &[Lcore]) -> Result<(), String> {
    let ids = core_affinity::get_core_ids().unwrap_or_default();
    if ids.is_empty() {
        return Ok(()); // cannot tell; EAL will complain
    }
    for c in cores {
        if !ids.iter().any(|i| i.id == c.cpu as usize) {
            let avail: Vec<String> = ids.iter().map(|i| i.id.to_string()).collect();
            return Err(format!(
                "--cores: CPU {} is not available here (available: {})",
                c.cpu,
                avail.join(",")
            ));
        }
    }
    Ok(())
}

/// The DPDK device name of a configured port device: the vdev name before
/// the first comma, or the PCI address with its domain.
pub fn device_name(device: &str) -> String {
    if is_vdev(device) {
        device.split(',').next().unwrap_or(device).to_string()
    } else if device.matches(':').count() == 1 {
        format!("0000:{device}")
    } else {
        device.to_string()
    }
}

pub fn is_vdev(device: &str) -> bool {
    device.starts_with("net_")
}

/// The EAL argument vector for `cfg` on `cores`, plus `extra` from the
/// command line. vdevs are added with `--vdev`, PCI ports with `-a`; with
/// no PCI port at all, `--no-pci` keeps the EAL off the machine's own NICs.
pub fn eal_args(cfg: &Config, cores: &[Lcore], extra: &[String]) -> Vec<String> {
    // `-l` when every lcore runs on the CPU of its number, else `--lcores`
    // with the mapping.
    let (opt, list): (&str, Vec<String>) = if cores.iter().all(|c| c.id == c.cpu) {
        ("-l", cores.iter().map(|c| c.id.to_string()).collect())
    } else {
        (
            "--lcores",
            cores
                .iter()
                .map(|c| format!("{}@{}", c.id, c.cpu))
                .collect(),
        )
    };
    let mut a = vec![
        "las".to_string(),
        opt.into(),
        list.join(","),
        "--main-lcore".into(),
        cores[0].id.to_string(),
    ];
    a.extend(cfg.eal_args.iter().cloned());
    let mut any_pci = false;
    for p in &cfg.ports {
        if is_vdev(&p.device) {
            a.push("--vdev".into());
            a.push(p.device.clone());
        } else {
            any_pci = true;
            a.push("-a".into());
            a.push(device_name(&p.device));
        }
    }
    a.extend(extra.iter().cloned());
    let has = |f: &str| a.iter().any(|x| x == f);
    if !any_pci && !has("--no-pci") && !has("-a") && !has("--allow") && !has("-b") {
        a.push("--no-pci".into());
    }
    a
}

/// How a run ended: the final report (counters), and what failed if las
/// stopped because a worker died.
pub struct Ended {
    pub report: String,
    pub failure: Option<String>,
}

/// What the signal handlers set: stop (SIGINT, SIGTERM) and reload
/// (SIGHUP).
#[derive(Clone, Default)]
pub struct Signals {
    pub stop: Arc<AtomicBool>,
    pub reload: Arc<AtomicBool>,
}

/// Runs las on `cfg` (read from `config_path`, which a reload re-reads)
/// until `signals.stop` is set, or until a worker panics: a worker that
/// is gone leaves its queues unserved, so las does not run on without
/// it; it stops cleanly (StopCCN, ports closed, counters reported) and
/// says which worker failed.
pub fn run(
    cfg: Config,
    config_path: PathBuf,
    lcores: &[Lcore],
    extra: &[String],
    signals: Signals,
) -> Result<Ended, String> {
    if let Some(p) = cfg.ports.iter().find(|p| !p.is_vdev()) {
        if extra.iter().any(|a| a == "--no-pci") {
            return Err(format!(
                "EAL argument --no-pci: port {} is the PCI device {}, which --no-pci keeps \
                 DPDK from probing (las adds --no-pci itself when no port is PCI)",
                p.name, p.device
            ));
        }
    }
    let args = eal_args(&cfg, lcores, extra);
    let cores: Vec<u32> = lcores.iter().map(|c| c.id).collect();
    log::info!("EAL arguments: {}", args[1..].join(" "));
    let eal = Eal::init(&args).map_err(|e| e.to_string())?;
    log::info!("{}", dpdk::version());
    match std::fs::read_to_string(crate::mem::THP_SYSFS) {
        Ok(t) if crate::mem::thp_mode(&t) == Some("never") => log::warn!(
            "transparent huge pages are off ({} is \"never\"): the MAC and session \
             tables stay in 4 KiB pages, and every random read of them costs more \
             (set it to \"madvise\")",
            crate::mem::THP_SYSFS
        ),
        _ => {}
    }
    let tsc_hz = dpdk::tsc_hz();
    let nworkers = cores.len().saturating_sub(1).max(1);
    let single = cores.len() == 1;
    let worker_lcores: Vec<u32> = if single {
        vec![cores[0]]
    } else {
        cores[1..].to_vec()
    };
    let pool = make_pool(&cfg)?;
    let mut ports = open_ports(&cfg, &pool, nworkers)?;
    let (setups, links) = plan_workers(&cfg, &mut ports, &pool, nworkers, tsc_hz)?;
    let shared = links.shared.clone();
    let socket_path = cfg.control.socket.clone();
    let metrics = cfg.metrics.clone();
    let mut ctrl = ControlCore::new(
        cfg,
        ports.ports,
        links,
        worker_lcores.clone(),
        pool.clone(),
        tsc_hz,
        config_path,
    );
    ctrl.program();
    let mut workers = Workers::launch(&eal, setups, &worker_lcores, single)?;
    // A worker that dies here would never answer: stop las as when one
    // dies later (named, the report printed, a non-zero exit).
    if let Err(f) = ctrl.sync_workers(|| workers.idle(cores[0])) {
        log::error!("{f}: stopping las (its queues would go unserved)");
        let report = shut_down(ctrl, workers, &eal);
        return Ok(Ended {
            report,
            failure: Some(f),
        });
    }
    for s in &shared {
        s.go.store(true, Ordering::Release);
    }
    // The metrics thread is a client of the control socket: it starts
    // once the socket is there.
    let exporter = match ControlSocket::bind(&socket_path)
        .and_then(|s| Ok((s, start_metrics(&metrics, &socket_path)?)))
    {
        Ok((s, exporter)) => {
            ctrl.set_socket(s);
            exporter
        }
        Err(e) => {
            workers.stop(&eal);
            return Err(e);
        }
    };
    start_telemetry(&socket_path);
    log::info!(
        "las ready: {} port(s), {nworkers} worker(s) on cores {cores:?}, control socket {}",
        ctrl.ports().len(),
        socket_path.display()
    );
    let failure = serve(&mut ctrl, &mut workers, &signals, cores[0]);
    match &failure {
        Some(f) => log::error!("{f}: stopping las (its queues would go unserved)"),
        None => log::info!("stopping"),
    }
    if let Some(e) = exporter {
        e.stop();
    }
    let report = shut_down(ctrl, workers, &eal);
    drop(shared);
    drop(pool);
    drop(eal);
    Ok(Ended { report, failure })
}

/// The Prometheus exporter, if `[metrics] listen` is set.
fn start_metrics(
    m: &crate::config::Metrics,
    socket: &std::path::Path,
) -> Result<Option<Exporter>, String> {
    let Some(listen) = m.listen else {
        return Ok(None);
    };
    let e = Exporter::start(ExporterConfig {
        listen,
        socket: socket.to_path_buf(),
        limits: Limits {
            max_session_series: m.max_session_series,
            max_switch_series: m.max_switch_series,
        },
        timeout: Duration::from_millis(m.timeout_ms.into()),
    })?;
    log::info!("metrics at http://{}/metrics", e.local_addr());
    Ok(Some(e))
}

/// las's DPDK telemetry commands (`/las/...`), clients of the control
/// socket like the exporter. A failure is logged: telemetry is an extra.
fn start_telemetry(socket: &std::path::Path) {
    use crate::telemetry::dpdk_cmds;
    match dpdk_cmds::register(socket, dpdk_cmds::TIMEOUT) {
        Ok(()) => match dpdk::telemetry::socket_path() {
            Some(p) => log::info!("DPDK telemetry at {} (/las/...)", p.display()),
            None => log::info!("DPDK telemetry is off (EAL --no-telemetry)"),
        },
        Err(e) => log::error!("{e}"),
    }
}

/// The one mbuf pool (RX queues, punts, flood copies, control frames).
fn make_pool(cfg: &Config) -> Result<Arc<Mempool>, String> {
    let dp = &cfg.dataplane;
    let pool = Mempool::new(
        "las_pool",
        dp.mbufs,
        256.min(dp.mbufs / 8),
        dp.mbuf_size,
        -1,
    )
    .map_err(|e| e.to_string())?;
    Ok(Arc::new(pool))
}

/// The configured ports, started, and their queues until they go to the
/// thread that uses each.
struct OpenPorts {
    ports: Vec<PortRt>,
    /// Per port: the device transmits chained mbufs.
    multi_seg: Vec<bool>,
    rx: Vec<Vec<Option<RxQueue>>>,
    tx: Vec<Vec<Option<TxQueue>>>,
}

fn open_ports(cfg: &Config, pool: &Mempool, nworkers: usize) -> Result<OpenPorts, String> {
    let dp = &cfg.dataplane;
    let mut open = OpenPorts {
        ports: Vec::new(),
        multi_seg: Vec::new(),
        rx: Vec::new(),
        tx: Vec::new(),
    };
    for (i, pc) in cfg.ports.iter().enumerate() {
        let name = device_name(&pc.device);
        let id = Port::by_name(&name).map_err(|e| format!("port[{i}] {}: {e}", pc.name))?;
        let info = Port::info(id).map_err(|e| e.to_string())?;
        let rxq = (nworkers as u16).min(info.max_rx_queues).max(1);
        let (txq, ctrl_txq) = if info.max_tx_queues as usize > nworkers {
            (nworkers as u16 + 1, Some(nworkers as u16))
        } else if info.max_tx_queues as usize == nworkers {
            (nworkers as u16, None)
        } else {
            return Err(format!(
                "port[{i}] {}: device {name} has {} TX queues, las needs one per worker ({nworkers})",
                pc.name, info.max_tx_queues
            ));
        };
        if rxq < nworkers as u16 {
            log::warn!(
                "port {}: device has {} RX queue(s); only {} of {} workers poll it",
                pc.name,
                info.max_rx_queues,
                rxq,
                nworkers
            );
        }
        let conf = |txq: u16| PortConf {
            rx_queues: rxq,
            tx_queues: txq,
            rx_desc: dp.rx_descriptors,
            tx_desc: dp.tx_descriptors,
            mtu: pc.mtu,
            // Frames larger than one mbuf arrive as segment chains.
            scatter: usize::from(pc.mtu) + 18 > usize::from(dp.mbuf_size) - 128,
        };
        let ((port, rxqs, txqs), txq, ctrl_txq) = match Port::setup(id, &conf(txq), pool) {
            Ok(p) => (p, txq, ctrl_txq),
            // Some drivers (net_tap) want as many TX as RX queues: then the
            // control core sends through worker 0 instead.
            Err(e) if ctrl_txq.is_some() => {
                log::info!(
                    "port {}: {e}; retrying without a control-core TX queue",
                    pc.name
                );
                let p = Port::setup(id, &conf(nworkers as u16), pool)
                    .map_err(|e| format!("port[{i}] {}: {e}", pc.name))?;
                (p, nworkers as u16, None)
            }
            Err(e) => return Err(format!("port[{i}] {}: {e}", pc.name)),
        };
        let mut txqs: Vec<Option<TxQueue>> = txqs.into_iter().map(Some).collect();
        let ctrl_tx = ctrl_txq.and_then(|q| txqs.get_mut(usize::from(q))?.take());
        open.rx.push(rxqs.into_iter().map(Some).collect());
        open.tx.push(txqs);
        let mac = match pc.mac {
            Some(m) => {
                if let Err(e) = port.set_mac(m) {
                    log::info!("port {}: {e}; using {m:02x?} in promiscuous mode", pc.name);
                }
                m
            }
            None => port.mac().map_err(|e| e.to_string())?,
        };
        log::info!(
            "port {} ({name}, {}): {} rx / {} tx queues, mac {}, {}, {}",
            pc.name,
            info.driver,
            rxq,
            txq,
            crate::wire::ethernet::MacAddr(mac),
            // Whether long flooded frames share their payload here.
            if info.tx_multi_seg {
                "sends mbuf chains"
            } else {
                "no mbuf chains"
            },
            if port.rx_ip_checksum {
                "device checks IPv4 header checksums"
            } else {
                "IPv4 header checksums checked in software"
            }
        );
        open.multi_seg.push(info.tx_multi_seg);
        open.ports.push(PortRt {
            info: PortInfo {
                name: pc.name.clone(),
                device: pc.device.clone(),
                driver: info.driver.clone(),
                mac,
                address: pc.address,
                prefix_len: pc.prefix_len,
                gateway: pc.gateway,
                mtu: pc.mtu,
                rx_queues: rxq,
                tx_queues: txq,
                dont_fragment: pc.dont_fragment,
                rx_ip_checksum: port.rx_ip_checksum,
                v6: pc.v6.clone(),
            },
            port,
            ctrl_tx,
        });
    }
    Ok(open)
}

/// Slots of each sequencer ring between two workers (a power of two):
/// 16 bursts of 64 (the largest `[dataplane] burst`), about 50 µs of
/// frames at 20 Mpps for sessions the other worker owns.
const SEQUENCER_RING: u32 = 1024;

/// One setup per worker (its RX queues, a TX queue on every port, its
/// rings and counters) and the control core's ends of the same links.
fn plan_workers(
    cfg: &Config,
    open: &mut OpenPorts,
    pool: &Arc<Mempool>,
    nworkers: usize,
    tsc_hz: u64,
) -> Result<(Vec<WorkerSetup>, WorkerLinks), String> {
    let dp = &cfg.dataplane;
    let tx_seq: Arc<[AtomicU32]> = (0..dp.max_sessions).map(|_| AtomicU32::new(0)).collect();
    let mut setups = Vec::new();
    let mut links = WorkerLinks {
        shared: Vec::new(),
        punt: Vec::new(),
        inject: Vec::new(),
    };
    let frag = if cfg.ports.iter().any(|p| p.reassembly) {
        let flows = cfg.ports.iter().map(|p| p.reassembly_max_flows).max();
        let ms = cfg.ports.iter().map(|p| p.reassembly_timeout_ms).max();
        Some((flows.unwrap_or(4096), ms.unwrap_or(2000)))
    } else {
        None
    };
    // Sequencer rings: worker w hands the frames of a sequenced session
    // that worker o owns to o (`worker::engine`, "Sequenced sessions").
    // One SP/SC ring per ordered pair; none with one worker.
    let mut handoff_out: Vec<Vec<Option<RingProducer>>> = Vec::new();
    let mut handoff_in: Vec<Vec<RingConsumer>> = (0..nworkers).map(|_| Vec::new()).collect();
    for w in 0..nworkers {
        let mut outs = Vec::new();
        for (o, ins) in handoff_in.iter_mut().enumerate() {
            if o == w {
                outs.push(None);
                continue;
            }
            let (p, c) = mbuf_ring(&format!("las_seq{w}_{o}"), SEQUENCER_RING, -1)
                .map_err(|e| e.to_string())?;
            outs.push(Some(p));
            ins.push(c);
        }
        handoff_out.push(outs);
    }
    for (w, (handoff_out, handoff_in)) in handoff_out.into_iter().zip(handoff_in).enumerate() {
        let counters = WorkerCounters::new(dp.max_sessions, dp.max_switches, open.ports.len());
        let sh = Arc::new(WorkerShared::new(
            dp.command_ring as usize,
            dp.event_ring as usize,
            counters,
        ));
        let (punt_tx, punt_rx) =
            mbuf_ring(&format!("las_punt{w}"), dp.punt_ring, -1).map_err(|e| e.to_string())?;
        let (inject_tx, inject_rx) =
            mbuf_ring(&format!("las_inject{w}"), dp.punt_ring, -1).map_err(|e| e.to_string())?;
        links.punt.push(punt_rx);
        links.inject.push(inject_tx);
        links.shared.push(sh.clone());
        // Worker w polls RX queue w of each port that has one, and sends
        // on TX queue w of every port.
        let rx = open
            .rx
            .iter_mut()
            .enumerate()
            .filter_map(|(i, qs)| Some((i, qs.get_mut(w)?.take()?)))
            .collect();
        let tx = open
            .tx
            .iter_mut()
            .map(|qs| qs.get_mut(w).and_then(Option::take))
            .collect::<Option<Vec<TxQueue>>>()
            .ok_or("a port has fewer TX queues than workers")?;
        let frag = match frag {
            Some((flows, ms)) => Some(
                crate::dpdk::FragTable::new(flows, tsc_hz / 1000 * u64::from(ms), -1)
                    .map_err(|e| format!("reassembly table: {e}"))?,
            ),
            None => None,
        };
        setups.push(WorkerSetup {
            id: w,
            ports: open
                .ports
                .iter()
                .enumerate()
                .map(|(i, p)| WorkerPort {
                    // IPv6-only: the unspecified address classify never matches.
                    address: p.info.address.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
                    mtu: p.info.mtu,
                    multi_seg: open.multi_seg[i],
                    reassembly: cfg.ports[i].reassembly,
                    v6: cfg.ports[i]
                        .v6
                        .as_ref()
                        .map(|v| [v.address, crate::wire::ipv6::link_local(p.info.mac)]),
                    checksum_marks: p.info.rx_ip_checksum,
                })
                .collect(),
            rx,
            tx,
            udp_port: cfg.l2tp.udp_port,
            pool: pool.clone(),
            shared: sh,
            punt: punt_tx,
            inject: inject_rx,
            tx_seq: tx_seq.clone(),
            handoff_out,
            handoff_in,
            max_sessions: dp.max_sessions,
            max_switches: dp.max_switches,
            mac_table_size: dp.mac_table_size,
            mac_refresh: dp.mac_refresh,
            tsc_hz,
            burst: dp.burst as usize,
            punt_rate: cfg.l2tp.punt_rate,
            frag,
        });
    }
    Ok((setups, links))
}

/// The running workers: on their own lcores, or (one core) one worker
/// interleaved with the control loop.
struct Workers {
    lcores: Vec<u32>,
    local: Option<Worker>,
    stop: Arc<AtomicBool>,
    /// The core of the first worker that panicked (u32::MAX: none).
    dead: Arc<AtomicU32>,
}

impl Workers {
    fn launch(
        eal: &Eal,
        mut setups: Vec<WorkerSetup>,
        lcores: &[u32],
        single: bool,
    ) -> Result<Workers, String> {
        let mut w = Workers {
            lcores: if single { Vec::new() } else { lcores.to_vec() },
            local: None,
            stop: Arc::new(AtomicBool::new(false)),
            dead: Arc::new(AtomicU32::new(u32::MAX)),
        };
        if single {
            w.local = setups.pop().map(Worker::new);
            return Ok(w);
        }
        for (setup, &lc) in setups.into_iter().zip(lcores) {
            let st = w.stop.clone();
            let dead = w.dead.clone();
            let launched = eal.launch(LcoreId(lc), move || {
                let r = catch_unwind(AssertUnwindSafe(|| {
                    let mut w = Worker::new(setup);
                    w.run(&st);
                }));
                if r.is_err() {
                    let _ =
                        dead.compare_exchange(u32::MAX, lc, Ordering::AcqRel, Ordering::Relaxed);
                }
            });
            if let Err(e) = launched {
                w.stop(eal);
                return Err(e.to_string());
            }
        }
        Ok(w)
    }

    /// While the control core waits: run the local worker's commands,
    /// or yield to the workers' cores. Err names a worker that panicked
    /// (here, on `main_core`, or on its own core).
    fn idle(&mut self, main_core: u32) -> Result<(), String> {
        match self.local.as_mut() {
            Some(w) => {
                if catch_unwind(AssertUnwindSafe(|| w.apply_commands())).is_err() {
                    self.local = None;
                    return Err(format!("the worker on core {main_core} panicked"));
                }
            }
            None => std::thread::sleep(Duration::from_micros(50)),
        }
        self.alive()
    }

    /// Err names the first worker on a core of its own that panicked.
    fn alive(&self) -> Result<(), String> {
        match self.dead.load(Ordering::Acquire) {
            u32::MAX => Ok(()),
            d => Err(format!("the worker on core {d} panicked")),
        }
    }

    /// Publishes the local worker's session counters (one core), when
    /// the control core asks for them.
    fn publish_local(&mut self) {
        if let Some(w) = self.local.as_mut() {
            w.publish_requested();
        }
    }

    /// One turn of the local worker, if any. Err names a worker that
    /// panicked (here or on its own core).
    fn turn(&mut self, ctrl_busy: bool, main_core: u32) -> Result<(), String> {
        match self.local.as_mut() {
            Some(w) => {
                if catch_unwind(AssertUnwindSafe(|| w.poll_once())).is_err() {
                    self.local = None;
                    return Err(format!("the worker on core {main_core} panicked"));
                }
            }
            None => {
                if !ctrl_busy {
                    std::thread::sleep(Duration::from_micros(100));
                }
            }
        }
        self.alive()
    }

    /// Stops every worker and waits for the launched ones.
    fn stop(&mut self, eal: &Eal) {
        self.stop.store(true, Ordering::Relaxed);
        for &lc in &self.lcores {
            if eal.wait(LcoreId(lc)) != 0 {
                log::error!("worker on core {lc} failed");
            }
        }
        self.lcores.clear();
        if let Some(w) = self.local.as_mut() {
            w.finish();
        }
        self.local = None;
    }
}

/// The control loop, until `stop` or a worker panics (its name).
fn serve(
    ctrl: &mut ControlCore,
    workers: &mut Workers,
    signals: &Signals,
    main_core: u32,
) -> Option<String> {
    while !signals.stop.load(Ordering::Relaxed) {
        if signals.reload.swap(false, Ordering::Relaxed) {
            ctrl.reload_config("SIGHUP");
        }
        let busy = ctrl.poll_once_with(&mut || workers.publish_local());
        if let Err(f) = workers.turn(busy, main_core) {
            return Some(f);
        }
    }
    None
}

/// StopCCN to every control peer while the workers still transmit, then
/// the workers, a last look at the punt rings, the report, the ports.
fn shut_down(mut ctrl: ControlCore, mut workers: Workers, eal: &Eal) -> String {
    ctrl.stop_captures();
    ctrl.stop_l2tp();
    ctrl.linger(Duration::from_millis(200), || {
        if let Some(w) = workers.local.as_mut() {
            w.poll_once();
        }
    });
    workers.stop(eal);
    drop(workers);
    // Answer what is still punted (e.g. the last ARP) and let the workers'
    // counters settle before reporting.
    ctrl.poll_once();
    let report = ctrl.final_report();
    // Every queue handle is gone once the control core's own TX queue is
    // (the workers' went with them): each port can stop.
    for p in ctrl.into_ports() {
        drop(p.ctrl_tx);
        if p.port.shutdown().is_err() {
            log::error!("port {}: a queue is still in use: not stopped", p.info.name);
        }
    }
    report
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn cores() {
        let ids = |s: &str| -> Vec<u32> { parse_cores(s).unwrap().iter().map(|c| c.id).collect() };
        assert_eq!(ids("2-4"), vec![2, 3, 4]);
        assert_eq!(ids("0,2,4-5"), vec![0, 2, 4, 5]);
        assert_eq!(ids("3"), vec![3]);
        assert!(parse_cores("2-4").unwrap().iter().all(|c| c.cpu == c.id));
        assert_eq!(
            parse_cores("0,1,2@1").unwrap(),
            vec![
                Lcore { id: 0, cpu: 0 },
                Lcore { id: 1, cpu: 1 },
                Lcore { id: 2, cpu: 1 }
            ]
        );
        assert!(parse_cores("1,1@0").is_err());
        assert!(parse_cores("2@").is_err());
        assert!(parse_cores("@1").is_err());
        assert!(parse_cores("128").is_err());
        assert!(parse_cores("4-2").is_err());
        assert!(parse_cores("a").is_err());
        assert!(parse_cores("1,1").is_err());
        assert!(parse_cores("").is_err());
    }

    #[test]
    fn device_names() {
        assert_eq!(device_name("net_pcap0,rx_pcap=a.pcap"), "net_pcap0");
        assert_eq!(device_name("03:00.0"), "0000:03:00.0");
        assert_eq!(device_name("0000:03:00.1"), "0000:03:00.1");
    }
}
