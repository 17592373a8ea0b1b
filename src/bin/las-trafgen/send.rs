//! `las-trafgen send`: replays a pcap through a DPDK port (in `perf/ndr.sh`
//! a `net_memif` client, connected to las or testpmd as the memif server)
//! at a set rate, counts what comes back, and runs the NDR/PDR search of
//! [`las::perf::search`] with one trial per rate.
//!
//! **Pacing.** A token bucket on the TSC: at every turn of the loop the
//! packets due since the trial began (`elapsed × rate`) and not yet sent
//! are sent, at most one burst (32) per turn. Packets are built into
//! fresh mbufs (alloc + copy from the pcap held in memory) and given to
//! `tx_burst`; those a full ring refuses are *offered and lost*, as on a
//! wire (the device under test did not take them in time: its RX ring
//! overflowed). When the generator itself cannot keep up (fewer packets
//! offered than the schedule asked for, by more than 0.5 %) the trial is
//! flagged `late`, and the search does not go above the generator's rate.
//!
//! **Counting.** Every IPv4 frame, and every IPv6 frame carrying
//! L2TPv3 (next header 115 or UDP), received on any RX queue during the
//! trial and a drain time after it (until nothing arrived for 20 ms, at
//! most 500 ms) counts as returned. Every offered frame should come back
//! once, an inner broadcast once per other session (all sessions of a
//! las-trafgen pcap are in one switch); the loss is the shortfall. las's own counters (`--las-socket`) are read
//! before and after each trial: its received packets, busy cycles and
//! drops over the trial.
//!
//! Output: one line per trial on stderr, and a JSON document on stdout
//! (or `--json FILE`) with every trial and the NDR and PDR.
#![forbid(unsafe_code)]

use las::dpdk::{self, Burst, Eal, Mbuf, Mempool, Port, PortConf, RxQueue, TxBuffer, TxQueue};
use las::perf::{search, SearchConfig, Trial};
use las::telemetry::show::{CountersView, Response};
use pcap_file::pcap::PcapReader;
use serde::Serialize;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

/// Packets sent per turn of the loop, at most.
const BURST: usize = 32;

#[derive(clap::Args)]
pub struct SendArgs {
    /// The pcap to replay (written by las-trafgen), looped.
    #[arg(long)]
    pcap: PathBuf,
    /// The DPDK port to use, by device name (give it with --vdev after --).
    #[arg(long, default_value = "net_memif0")]
    port: String,
    /// Run one trial at this rate (packets/s) instead of the search.
    #[arg(long)]
    rate: Option<f64>,
    /// Seconds per trial.
    #[arg(long, default_value_t = 2.0)]
    duration: f64,
    /// Lowest rate the search tries (packets/s).
    #[arg(long, default_value_t = 10_000.0)]
    min_rate: f64,
    /// Highest rate the search tries (packets/s); 0 = measure what the
    /// generator can offer first (one trial at full speed) and use that.
    #[arg(long, default_value_t = 0.0)]
    max_rate: f64,
    /// PDR's loss, in percent.
    #[arg(long, default_value_t = 0.5)]
    pdr_pct: f64,
    /// Stop when the interval is narrower than this, in percent of its top.
    #[arg(long, default_value_t = 1.0)]
    precision_pct: f64,
    /// At most this many trials per search.
    #[arg(long, default_value_t = 30)]
    max_trials: usize,
    /// Before the first trial, send the whole pcap once at this rate
    /// (packets/s) so that las learns every MAC; 0 = no warm-up.
    #[arg(long, default_value_t = 200_000.0)]
    warmup_rate: f64,
    /// RX queues to poll (las, as the memif server, sends on one TX queue
    /// per worker plus one for its control core: the client needs as many
    /// RX queues; testpmd with --txq=1 needs 1).
    #[arg(long, default_value_t = 2)]
    rx_queues: u16,
    /// The device returns every frame once, unchanged (testpmd io): expect
    /// one frame back per frame sent, broadcasts included.
    #[arg(long)]
    echo: bool,
    /// las's control socket: read las's counters around every trial.
    #[arg(long)]
    las_socket: Option<PathBuf>,
    /// Write the JSON result here instead of stdout.
    #[arg(long)]
    json: Option<PathBuf>,
    /// mbufs in the generator's pool.
    #[arg(long, default_value_t = 16383)]
    mbufs: u32,
    /// EAL arguments (after --), e.g. `-l 0 --no-pci --file-prefix tg
    /// --vdev net_memif0,role=client,socket=/tmp/m.sock`.
    #[arg(last = true)]
    eal: Vec<String>,
}

/// The pcap's frames, in one buffer.
struct Frames {
    data: Vec<u8>,
    /// (offset, length) of each frame in `data`.
    at: Vec<(usize, usize)>,
    /// Per frame, how many frames las sends for it: 1 for inner unicast,
    /// one per other session for an inner broadcast/multicast (every
    /// session of a las-trafgen pcap is in one switch; sessions are
    /// counted as distinct outer source addresses).
    copies: Vec<u64>,
}

/// The outer source address and the offset of the inner Ethernet frame
/// of an L2TPv3 frame as las-trafgen writes it (over IPv4 or IPv6 without
/// extension headers, no cookie, no sublayer), if it is one.
fn l2tp_frame(p: &[u8]) -> Option<(u128, usize)> {
    let (src, ip_len, next) = match p.get(12..14)? {
        [0x08, 0x00] => {
            let src: [u8; 4] = p.get(26..30)?.try_into().ok()?;
            let ihl = usize::from(p.get(14)? & 0x0f) * 4;
            (u128::from(u32::from_be_bytes(src)), ihl, *p.get(23)?)
        }
        [0x86, 0xdd] => {
            let src: [u8; 16] = p.get(22..38)?.try_into().ok()?;
            (u128::from_be_bytes(src), 40, *p.get(20)?)
        }
        _ => return None,
    };
    let inner = match next {
        115 => 14 + ip_len + 4,
        17 => 14 + ip_len + 8 + 8,
        _ => return None,
    };
    Some((src, inner))
}

/// The inner destination MAC's group bit of an L2TPv3 frame as
/// las-trafgen writes it, if it is one.
fn inner_group(p: &[u8]) -> Option<bool> {
    let (_, inner) = l2tp_frame(p)?;
    Some(p.get(inner)? & 1 == 1)
}

/// Whether a frame received back counts: IPv4 (not las's ARP), or IPv6
/// carrying L2TPv3 (not las's neighbour discovery).
fn counts(p: &[u8]) -> bool {
    match p.get(12..14) {
        Some([0x08, 0x00]) => true,
        Some([0x86, 0xdd]) => matches!(p.get(20), Some(115 | 17)),
        _ => false,
    }
}

impl Frames {
    fn load(path: &PathBuf) -> Result<Frames, String> {
        let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut r = PcapReader::new(std::io::BufReader::new(f))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let mut fr = Frames {
            data: Vec::new(),
            at: Vec::new(),
            copies: Vec::new(),
        };
        let mut peers = std::collections::HashSet::new();
        let mut group = Vec::new();
        while let Some(p) = r.next_packet() {
            let p = p.map_err(|e| format!("{}: {e}", path.display()))?;
            fr.at.push((fr.data.len(), p.data.len()));
            fr.data.extend_from_slice(&p.data);
            if let Some((src, _)) = l2tp_frame(&p.data) {
                peers.insert(src);
            }
            group.push(inner_group(&p.data).unwrap_or(false));
        }
        if fr.at.is_empty() {
            return Err(format!("{}: no packets", path.display()));
        }
        let others = (peers.len() as u64).saturating_sub(1);
        fr.copies = group
            .into_iter()
            .map(|g| if g { others } else { 1 })
            .collect();
        Ok(fr)
    }

    fn max_len(&self) -> usize {
        self.at.iter().map(|a| a.1).max().unwrap_or(0)
    }

    fn mean_len(&self) -> f64 {
        self.at.iter().map(|a| a.1 as f64).sum::<f64>() / self.at.len() as f64
    }
}

/// las's counters that matter here, summed over workers.
#[derive(Debug, Clone, Copy, Default, Serialize)]
struct LasSample {
    rx: u64,
    busy: u64,
    drops: u64,
    tsc_hz: u64,
}

fn las_counters(sock: &PathBuf) -> Result<LasSample, String> {
    let mut s = UnixStream::connect(sock).map_err(|e| format!("{}: {e}", sock.display()))?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    s.write_all(b"show counters\n")
        .map_err(|e| format!("{}: {e}", sock.display()))?;
    let mut buf = String::new();
    s.read_to_string(&mut buf)
        .map_err(|e| format!("{}: {e}", sock.display()))?;
    let r: Response = serde_json::from_str(&buf).map_err(|e| format!("las answered {e}"))?;
    let Response::Counters(CountersView {
        tsc_hz,
        drops,
        workers,
        ..
    }) = r
    else {
        return Err(format!("las answered something else: {buf:.200}"));
    };
    Ok(LasSample {
        rx: workers.iter().map(|w| w.rx_packets).sum(),
        busy: workers.iter().map(|w| w.busy_cycles).sum(),
        drops: drops.values().sum(),
        tsc_hz,
    })
}

/// One trial, as measured.
#[derive(Debug, Clone, Copy, Default, Serialize)]
struct Measured {
    /// Asked-for rate, packets/s.
    rate: f64,
    /// Seconds the sending lasted.
    secs: f64,
    /// Packets the schedule asked for by the end.
    due: u64,
    /// Packets built and handed to tx_burst (sent + refused).
    offered: u64,
    /// Frames las should send back for them (flood copies included).
    expected: u64,
    /// Packets tx_burst took.
    sent: u64,
    /// Packets a full ring refused (lost at the device's input).
    refused: u64,
    /// Frames received back.
    received: u64,
    /// mbuf allocations that failed (the generator's pool ran dry).
    nombuf: u64,
    /// The generator fell behind the schedule by more than 0.5 %.
    late: bool,
    /// Loss ratio (expected - received) / expected.
    loss: f64,
    /// Offered packets/s.
    offered_pps: f64,
    /// las over the trial (with --las-socket): packets its workers received,
    /// busy cycles per received packet, packets it dropped.
    las_rx: Option<u64>,
    las_busy_cyc: Option<f64>,
    las_drops: Option<u64>,
}

struct Gen<'p> {
    frames: Frames,
    pool: &'p Mempool,
    rx: Vec<RxQueue>,
    tx: TxQueue,
    next: usize,
    hz: u64,
    las: Option<PathBuf>,
}

impl Gen<'_> {
    /// Builds up to `n` packets into `buf` (continuing the pcap's loop);
    /// adds the frames las should send for them to `expect`. Returns the
    /// failed allocations.
    fn fill(&mut self, buf: &mut TxBuffer, n: usize, expect: &mut u64) -> u64 {
        let mut nombuf = 0;
        for _ in 0..n {
            let (off, len) = self.frames.at[self.next];
            let Some(mut m) = Mbuf::alloc(self.pool) else {
                nombuf += 1;
                break;
            };
            match m.append(len) {
                Some(d) => d.copy_from_slice(&self.frames.data[off..off + len]),
                None => {
                    nombuf += 1;
                    break;
                }
            }
            if buf.push(m).is_err() {
                break;
            }
            *expect += self.frames.copies[self.next];
            self.next += 1;
            if self.next == self.frames.at.len() {
                self.next = 0;
            }
        }
        nombuf
    }

    /// Receives what is there; counts the pseudowire frames ([`counts`]).
    fn poll_rx(&mut self, burst: &mut Burst) -> u64 {
        let mut n = 0;
        for q in self.rx.iter_mut() {
            q.rx_burst(burst, BURST);
            while let Some(m) = burst.pop() {
                if counts(m.data()) {
                    n += 1;
                }
            }
        }
        n
    }

    /// Sends at `rate` packets/s for `secs` s (or `count` packets, if
    /// given, whichever comes first), then drains.
    fn trial(&mut self, rate: f64, secs: f64, count: Option<u64>) -> Result<Measured, String> {
        let before = match &self.las {
            Some(s) => Some(las_counters(s)?),
            None => None,
        };
        let mut burst = Burst::new();
        let mut buf = TxBuffer::new();
        // Packets due per TSC cycle, in 32.32 fixed point.
        let per_cycle = ((rate / self.hz as f64) * 4_294_967_296.0) as u128;
        let len = (secs * self.hz as f64) as u64;
        let mut m = Measured {
            rate,
            ..Default::default()
        };
        let start = dpdk::tsc();
        let mut now = start;
        while now - start < len && count.is_none_or(|c| m.offered < c) {
            let due = ((u128::from(now - start) * per_cycle) >> 32) as u64;
            let due = count.map_or(due, |c| due.min(c));
            let n = (due.saturating_sub(m.offered) as usize).min(BURST);
            if n > 0 {
                m.nombuf += self.fill(&mut buf, n, &mut m.expected);
                let k = buf.len() as u64;
                let (sent, _, refused) = self.tx.tx_burst(&mut buf);
                m.offered += k;
                m.sent += sent as u64;
                m.refused += refused as u64;
            }
            m.received += self.poll_rx(&mut burst);
            now = dpdk::tsc();
        }
        let end = now;
        m.due = ((u128::from(end - start) * per_cycle) >> 32) as u64;
        if let Some(c) = count {
            m.due = m.due.min(c);
        }
        // Drain: what is still in flight comes back within a few ms.
        let quiet = self.hz / 50;
        let limit = self.hz / 2;
        let mut last = dpdk::tsc();
        loop {
            let t = dpdk::tsc();
            if t - last > quiet || t - end > limit {
                break;
            }
            let k = self.poll_rx(&mut burst);
            if k > 0 {
                m.received += k;
                last = t;
            }
        }
        m.secs = (end - start) as f64 / self.hz as f64;
        m.offered_pps = if m.secs > 0.0 {
            m.offered as f64 / m.secs
        } else {
            0.0
        };
        m.late = (m.offered as f64) < m.due as f64 * 0.995;
        m.loss = Trial {
            rate,
            offered: m.expected,
            received: m.received,
        }
        .loss();
        if let (Some(b), Some(s)) = (before, &self.las) {
            let a = las_counters(s)?;
            let rx = a.rx.saturating_sub(b.rx);
            m.las_rx = Some(rx);
            m.las_busy_cyc = (rx > 0).then(|| a.busy.saturating_sub(b.busy) as f64 / rx as f64);
            m.las_drops = Some(a.drops.saturating_sub(b.drops));
        }
        Ok(m)
    }
}

fn report(m: &Measured) {
    let mut s = format!(
        "trafgen: trial {:>10.0} pps for {:.2} s: offered {} ({:.3} Mpps{}), refused {}, received {} of {}, loss {:.4} %",
        m.rate,
        m.secs,
        m.offered,
        m.offered_pps / 1e6,
        if m.late { ", LATE" } else { "" },
        m.refused,
        m.received,
        m.expected,
        m.loss * 100.0
    );
    if let (Some(rx), Some(d)) = (m.las_rx, m.las_drops) {
        s.push_str(&format!(
            "; las rx {rx}, drops {d}, busy {:.0} cyc/pkt",
            m.las_busy_cyc.unwrap_or(0.0)
        ));
    }
    if m.nombuf > 0 {
        s.push_str(&format!("; {} mbuf allocations failed", m.nombuf));
    }
    eprintln!("{s}");
}

#[derive(Serialize)]
struct BoundOut {
    /// packets/s, None = not even the minimum rate.
    pps: Option<f64>,
    failed_at_pps: Option<f64>,
    converged: bool,
    trial: Option<Measured>,
}

#[derive(Serialize)]
struct Output {
    pcap: String,
    packets_in_pcap: usize,
    /// Mean outer frame length without FCS (bytes).
    mean_frame: f64,
    tsc_hz: u64,
    duration: f64,
    generator_max_pps: Option<f64>,
    min_rate: f64,
    max_rate: f64,
    pdr_pct: f64,
    precision_pct: f64,
    ndr: Option<BoundOut>,
    pdr: Option<BoundOut>,
    trials: Vec<Measured>,
}

pub fn main(a: SendArgs) -> Result<(), String> {
    if a.duration.is_nan() || a.duration <= 0.0 {
        return Err("--duration must be positive".into());
    }
    let mut frames = Frames::load(&a.pcap)?;
    if a.echo {
        frames.copies.iter_mut().for_each(|c| *c = 1);
    }
    let mut eal_args = vec!["las-trafgen".to_string()];
    eal_args.extend(a.eal.iter().cloned());
    let _eal = Eal::init(&eal_args).map_err(|e| e.to_string())?;
    let hz = dpdk::tsc_hz();
    let id = Port::by_name(&a.port).map_err(|e| e.to_string())?;
    let room = (frames.max_len() + 128).next_multiple_of(64).max(2176);
    let room = u16::try_from(room).map_err(|_| "pcap frames too large")?;
    let pool = Mempool::new("trafgen", a.mbufs, 256, room, -1).map_err(|e| e.to_string())?;
    let mtu = (frames.max_len().saturating_sub(14)).max(1500) as u16;
    let conf = PortConf {
        rx_queues: a.rx_queues,
        tx_queues: 1,
        rx_desc: 1024,
        tx_desc: 1024,
        mtu,
        scatter: false,
    };
    let (port, rx, mut tx) = Port::setup(id, &conf, &pool).map_err(|e| e.to_string())?;
    let tx = tx.pop().ok_or("no TX queue")?;
    // A memif link comes up once the peer has connected.
    let t0 = std::time::Instant::now();
    while !port.link().0 {
        if t0.elapsed() > Duration::from_secs(15) {
            return Err(format!(
                "{}: link still down after 15 s (is the peer up?)",
                a.port
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "trafgen: {} up; {} packets from {}, mean frame {:.1} bytes",
        a.port,
        frames.at.len(),
        a.pcap.display(),
        frames.mean_len()
    );
    let mut g = Gen {
        frames,
        pool: &pool,
        rx,
        tx,
        next: 0,
        hz,
        las: a.las_socket.clone(),
    };
    if a.warmup_rate > 0.0 {
        let n = g.frames.at.len() as u64;
        let secs = n as f64 / a.warmup_rate * 2.0 + 1.0;
        let m = g.trial(a.warmup_rate, secs, Some(n))?;
        eprintln!(
            "trafgen: warm-up: {} packets at {:.0} pps, {} came back",
            m.offered, a.warmup_rate, m.received
        );
        g.next = 0;
    }
    let mut out = Output {
        pcap: a.pcap.display().to_string(),
        packets_in_pcap: g.frames.at.len(),
        mean_frame: g.frames.mean_len(),
        tsc_hz: hz,
        duration: a.duration,
        generator_max_pps: None,
        min_rate: a.min_rate,
        max_rate: a.max_rate,
        pdr_pct: a.pdr_pct,
        precision_pct: a.precision_pct,
        ndr: None,
        pdr: None,
        trials: Vec::new(),
    };
    if let Some(r) = a.rate {
        let m = g.trial(r, a.duration, None)?;
        report(&m);
        out.trials.push(m);
    } else {
        let mut max = a.max_rate;
        if max <= 0.0 {
            // Full speed: what the generator can offer.
            let m = g.trial(1e12, a.duration, None)?;
            eprintln!(
                "trafgen: generator at full speed offers {:.3} Mpps (loss {:.2} %)",
                m.offered_pps / 1e6,
                m.loss * 100.0
            );
            max = (m.offered_pps * 0.98).floor();
            out.generator_max_pps = Some(m.offered_pps);
        }
        if max < a.min_rate {
            return Err(format!(
                "the maximum rate {max:.0} pps is below --min-rate {}",
                a.min_rate
            ));
        }
        out.max_rate = max;
        let cfg = SearchConfig {
            min_rate: a.min_rate,
            max_rate: max,
            pdr_loss: a.pdr_pct / 100.0,
            precision: a.precision_pct / 100.0,
            max_trials: a.max_trials,
        };
        let mut measured: Vec<Measured> = Vec::new();
        let mut err = None;
        let r = search(&cfg, |rate| {
            if err.is_some() {
                // Stop the search quickly: report total loss.
                return Trial {
                    rate,
                    offered: 1,
                    received: 0,
                };
            }
            match g.trial(rate, a.duration, None) {
                Ok(m) => {
                    report(&m);
                    measured.push(m);
                    Trial {
                        rate,
                        offered: m.expected,
                        received: m.received,
                    }
                }
                Err(e) => {
                    err = Some(e);
                    Trial {
                        rate,
                        offered: 1,
                        received: 0,
                    }
                }
            }
        });
        if let Some(e) = err {
            return Err(e);
        }
        let bound = |b: &las::perf::Bound| BoundOut {
            pps: b.rate,
            failed_at_pps: b.failed_at,
            converged: b.converged,
            trial: b
                .rate
                .and_then(|r| measured.iter().rev().find(|m| m.rate == r).copied()),
        };
        out.ndr = Some(bound(&r.ndr));
        out.pdr = Some(bound(&r.pdr));
        let show = |n: &str, b: &las::perf::Bound| match b.rate {
            Some(p) => eprintln!(
                "trafgen: {n} {:.3} Mpps{}",
                p / 1e6,
                if b.failed_at.is_none() {
                    " (the maximum tried: the limit is the generator)"
                } else {
                    ""
                }
            ),
            None => eprintln!("trafgen: {n} below {:.0} pps", a.min_rate),
        };
        show("NDR", &r.ndr);
        show("PDR", &r.pdr);
        out.trials = measured;
    }
    let json = serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?;
    match &a.json {
        Some(p) => std::fs::write(p, json + "\n").map_err(|e| format!("{}: {e}", p.display()))?,
        None => println!("{json}"),
    }
    // Queues first, then the port, then (at the end of scope) the pool.
    drop(g);
    let _ = port.shutdown();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn frames(opts: &[&str]) -> Vec<Vec<u8>> {
        let mut v = vec!["las-trafgen", "--out", "/tmp/x.pcap", "--packets", "64"];
        v.extend_from_slice(opts);
        let a = crate::Cli::try_parse_from(v).unwrap().gen;
        let mut out = Vec::new();
        crate::packets(&a, |_, p| {
            out.push(p.to_vec());
            Ok(())
        })
        .unwrap();
        out
    }

    /// The counting sees the same peers, inner frames and broadcasts over
    /// either underlay, and counts IPv6 pseudowire frames but not ND.
    #[test]
    fn ipv4_and_ipv6_frames_read_alike() {
        for encap in ["ip", "udp"] {
            let common = ["--encap", encap, "--broadcast-pct", "20"];
            let v4 = frames(&common);
            let v6 = frames(&[&common[..], &["--underlay", "ipv6"]].concat());
            let mut peers = (
                std::collections::HashSet::new(),
                std::collections::HashSet::new(),
            );
            let mut groups = 0;
            for (p4, p6) in v4.iter().zip(&v6) {
                let (s4, i4) = l2tp_frame(p4).unwrap();
                let (s6, i6) = l2tp_frame(p6).unwrap();
                assert_eq!(p4[i4..], p6[i6..]);
                assert_eq!(inner_group(p4), inner_group(p6));
                groups += usize::from(inner_group(p6) == Some(true));
                peers.0.insert(s4);
                peers.1.insert(s6);
                assert!(counts(p4) && counts(p6));
            }
            assert!(groups > 0);
            assert_eq!((peers.0.len(), peers.1.len()), (8, 8));
        }
        // An ICMPv6 neighbour solicitation from las does not count.
        let mut ns = frames(&["--underlay", "ipv6"])[0].clone();
        ns[20] = 58;
        assert!(!counts(&ns));
        assert_eq!(l2tp_frame(&ns), None);
    }
}
