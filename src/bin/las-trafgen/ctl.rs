//! `las-trafgen ctl`: the control plane's setup rate. Plays many LACs
//! (one address each, one control connection each) that open many
//! sessions toward las over RFC 3931, IP (protocol 115) or UDP, and
//! meanwhile keeps a data stream flowing over a few sessions established
//! beforehand, counted on both ends.
//!
//! The control connections are the library's own initiator
//! ([`las::control::l2tp::Endpoint`], as in las-edge), so the messages
//! are those las-edge sends and `tests/cisco_control.rs` checks against
//! real routers: SCCRQ with Host Name, Router ID, Assigned Control
//! Connection ID, PW Capabilities, Tie Breaker (and, `--flavour cisco`,
//! Cisco IOS's vendor-9 copies, as IOS sends in its default mode); ICRQ
//! with Local/Remote Session ID, Serial Number, Remote End ID (the VC ID
//! in ASCII decimal, as IOS writes it), PW Type (Ethernet), Circuit
//! Status, L2-Specific Sublayer, and an Assigned Cookie with
//! `--cookie-len`; ICCN; retransmission with back-off and ZLB acks from
//! the reliable-delivery layer. A session counts as established when
//! las has acknowledged its ICCN (the `SessionUp` of the initiator).
//!
//! Layout (the addresses are given by `perf/control-bench.sh`, which puts
//! them on one interface of a network namespace): storm LAC `i` is
//! `--first-lac + i`; the `--steady` LACs follow them. Storm session `k`
//! is on LAC `k % lacs` with VC ID `first_vc + k / sessions_per_vc`, so
//! the sessions of one VC ID sit on different LACs, like sites of one
//! customer. Steady session `j` (one per steady LAC) has VC ID
//! `first_vc + sessions` for all of them; each sends `--steady-pps`
//! frames/s to the host behind its partner (`j ^ 1`).
//!
//! One thread, non-blocking sockets multiplexed with epoll (mio), the
//! endpoint's timers polled when due.
#![forbid(unsafe_code)]

use clap::ValueEnum;
use las::control::l2tp::{Action, Endpoint, EndpointConfig, OsRandom, TunnelConfig};
use las::edge::codec::{control_message, strip_ipv4, Codec};
use las::edge::dynamic::session_params;
use las::edge::SessionParams;
use las::wire::ipv4::protocol::L2TP;
use las::wire::l2tp::message::{pw_type, stopccn_result};
use las::wire::l2tp::{Cookie, Encap, Flavour, L2Spec, UDP_PORT};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use nix::sys::socket::sockopt;
use serde::Serialize;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::collections::{HashMap, VecDeque};
use std::io::{ErrorKind, Read};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EncapArg {
    Ip,
    Udp,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FlavourArg {
    /// IETF AVPs only (Linux, MikroTik, Juniper, IOS `l2tpv3ietf`).
    Ietf,
    /// IETF AVPs and Cisco's vendor-9 copies (Cisco IOS's default).
    Cisco,
}

#[derive(clap::Args)]
pub struct CtlArgs {
    /// las's address.
    #[arg(long, default_value = "198.19.200.1")]
    las: Ipv4Addr,
    /// Address of the first LAC; the others follow it.
    #[arg(long, default_value = "198.19.200.10")]
    first_lac: Ipv4Addr,
    /// LACs opening sessions during the measurement (one control
    /// connection each).
    #[arg(long, default_value_t = 100)]
    lacs: u32,
    /// Sessions to establish in all, spread over the LACs.
    #[arg(long, default_value_t = 1000)]
    sessions: u32,
    /// L2TPv3 over IP (protocol 115) or UDP (port 1701).
    #[arg(long, value_enum, default_value_t = EncapArg::Ip)]
    encap: EncapArg,
    /// AVP flavour of what the LACs send.
    #[arg(long, value_enum, default_value_t = FlavourArg::Cisco)]
    flavour: FlavourArg,
    /// Cookie each LAC assigns to its sessions: 0, 4 or 8 bytes.
    #[arg(long, default_value_t = 0)]
    cookie_len: usize,
    /// VC ID of the first storm session.
    #[arg(long, default_value_t = 1000)]
    first_vc: u32,
    /// Storm sessions per VC ID (each VC ID is one virtual switch in las).
    #[arg(long, default_value_t = 2)]
    sessions_per_vc: u32,
    /// Sessions established before the measurement that carry a data
    /// stream throughout (one per extra LAC; 0 or at least 2).
    #[arg(long, default_value_t = 2)]
    steady: u32,
    /// Frames per second each steady session sends.
    #[arg(long, default_value_t = 1000)]
    steady_pps: u32,
    /// Give up this many seconds after the first SCCRQ.
    #[arg(long, default_value_t = 60.0)]
    timeout: f64,
    /// Keep the data stream running this long after the last session is
    /// up, seconds (and as long before the storm).
    #[arg(long, default_value_t = 1.0)]
    settle: f64,
    /// Write the JSON result here instead of stdout.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// One LAC: its socket (bound to its address).
struct Lac {
    sock: Socket,
    /// Our Control Connection ID of its tunnel.
    ccid: Option<u32>,
    /// Its control connection is up.
    up: bool,
}

/// A steady session's data path.
struct Steady {
    codec: Option<Codec>,
    sent: u64,
    received: u64,
    /// Frames received before the storm began.
    received_before: u64,
    /// Frames the kernel refused to send (tried again later).
    send_failed: u64,
}

#[derive(Serialize, Default)]
struct Output {
    encap: &'static str,
    flavour: &'static str,
    lacs: u32,
    sessions: u32,
    sessions_per_vc: u32,
    cookie_len: usize,
    /// Sessions las acknowledged (ICCN acked).
    established: u32,
    /// Sessions refused or torn down.
    failed: u32,
    tunnels_up: u32,
    /// Seconds from the first SCCRQ to each tenth of the sessions up.
    deciles_s: Vec<f64>,
    /// Seconds from the first SCCRQ to the last session up (None: not all).
    all_up_s: Option<f64>,
    /// established / all_up_s (or / timeout when not all came up).
    sessions_per_s: f64,
    /// Control messages sent by the LACs (first transmissions), and
    /// retransmitted.
    messages_sent: u64,
    retransmissions: u64,
    /// Refusals and failures, by what las said.
    errors: Vec<String>,
    steady_sessions: u32,
    steady_pps: u32,
    steady_sent: u64,
    steady_received: u64,
    steady_lost: i64,
    steady_loss_pct: f64,
    /// The stream flowed before the storm (frames received in the
    /// settle time before the first SCCRQ).
    steady_flowing_before: bool,
    /// Datagrams the generator's kernel refused to send (full socket
    /// buffer): control messages (retransmitted later) and stream frames
    /// (sent again later, not counted as sent).
    control_send_failed: u64,
    steady_send_failed: u64,
    /// 10k-style target: every session up in <= 10 s with no loss.
    target_met: bool,
}

fn open_socket(encap: EncapArg, addr: Ipv4Addr) -> Result<Socket, String> {
    let (s, local) = match encap {
        EncapArg::Ip => (
            Socket::new(
                Domain::IPV4,
                Type::RAW,
                Some(Protocol::from(i32::from(L2TP))),
            ),
            SocketAddrV4::new(addr, 0),
        ),
        EncapArg::Udp => (
            Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)),
            SocketAddrV4::new(addr, UDP_PORT),
        ),
    };
    let s = s.map_err(|e| format!("socket for {addr}: {e} (root needed for raw IP)"))?;
    s.bind(&SockAddr::from(local))
        .map_err(|e| format!("cannot bind {local}: {e} (is the address on an interface?)"))?;
    s.set_nonblocking(true).map_err(|e| e.to_string())?;
    // Big buffers (past rmem_max/wmem_max, as root): a burst of control
    // work must not make the generator's own socket drop stream frames.
    if nix::sys::socket::setsockopt(&s, sockopt::RcvBufForce, &(32 << 20)).is_err() {
        let _ = s.set_recv_buffer_size(4 << 20);
    }
    if nix::sys::socket::setsockopt(&s, sockopt::SndBufForce, &(8 << 20)).is_err() {
        let _ = s.set_send_buffer_size(4 << 20);
    }
    Ok(s)
}

struct Ctl {
    a: CtlArgs,
    ep: Endpoint<u32>,
    lacs: Vec<Lac>,
    /// las's control/data address.
    dst: SockAddr,
    start: Instant,
    /// ccid -> LAC index.
    by_ccid: HashMap<u32, u32>,
    /// Steady sessions (LAC index - lacs).
    steady: Vec<Steady>,
    template: SessionParams,
    established: u32,
    failed: u32,
    tunnels_up: u32,
    up_times: Vec<f64>,
    errors: HashMap<String, u32>,
    storm_at: Option<Instant>,
    buf: Vec<u8>,
    /// Control messages the kernel refused to send.
    send_failed: u64,
}

impl Ctl {
    fn now(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn encap(&self) -> Encap {
        match self.a.encap {
            EncapArg::Ip => Encap::Ip,
            EncapArg::Udp => Encap::Udp,
        }
    }

    /// Sends one datagram; false if the kernel refused it (full buffer).
    fn send(&self, lac: u32, payload: &[u8]) -> bool {
        let s = &self.lacs[lac as usize].sock;
        // A refused control message is retransmitted by reliable
        // delivery; a refused stream frame is not counted as sent.
        s.send_to(payload, &self.dst).is_ok()
    }

    fn send_control(&mut self, lac: u32, m: &[u8]) {
        let ok = match self.a.encap {
            EncapArg::Udp => self.send(lac, m),
            EncapArg::Ip => self.send(lac, &[&[0u8; 4][..], m].concat()),
        };
        if !ok {
            self.send_failed += 1;
        }
    }

    fn vc_of(&self, k: u32) -> u32 {
        self.a.first_vc + k / self.a.sessions_per_vc.max(1)
    }

    /// Carries out the endpoint's actions (and what they lead to).
    fn act(&mut self, acts: Vec<(u32, Action)>) {
        let mut q: VecDeque<(u32, Action)> = acts.into();
        while let Some((lac, a)) = q.pop_front() {
            match a {
                Action::Send(m) => self.send_control(lac, &m),
                Action::TunnelUp(t) => {
                    self.tunnels_up += 1;
                    self.lacs[lac as usize].up = true;
                    // Open this LAC's sessions: storm k = lac, lac + L, ...
                    let now = self.now();
                    let ks: Vec<(u32, bool)> = if lac < self.a.lacs {
                        (lac..self.a.sessions)
                            .step_by(self.a.lacs as usize)
                            .map(|k| (self.vc_of(k), false))
                            .collect()
                    } else {
                        vec![(self.a.first_vc + self.a.sessions, true)]
                    };
                    for (vc, _) in ks {
                        let vc = vc.to_string().into_bytes();
                        if let Some((_, acts)) =
                            self.ep
                                .open_session(now, t.local_ccid, &vc, pw_type::ETHERNET)
                        {
                            q.extend(acts);
                        }
                    }
                }
                Action::SessionUp(up) => {
                    if lac < self.a.lacs {
                        self.established += 1;
                        if let Some(t) = self.storm_at {
                            self.up_times.push(t.elapsed().as_secs_f64());
                        }
                    } else {
                        let j = (lac - self.a.lacs) as usize;
                        match session_params(&self.template, &up) {
                            Ok(p) => self.steady[j].codec = Some(Codec::new(p)),
                            Err(e) => *self.errors.entry(format!("steady: {e}")).or_default() += 1,
                        }
                    }
                }
                Action::SessionDown(d) => {
                    self.failed += 1;
                    *self
                        .errors
                        .entry(format!("session down: {:?}", d.reason))
                        .or_default() += 1;
                    if lac >= self.a.lacs {
                        self.steady[(lac - self.a.lacs) as usize].codec = None;
                    }
                }
                Action::TunnelDown(d) => {
                    self.lacs[lac as usize].up = false;
                    *self
                        .errors
                        .entry(format!("tunnel down: {:?}", d.reason))
                        .or_default() += 1;
                }
                Action::Refused(r) => {
                    *self
                        .errors
                        .entry(format!("refused: {:?} {}", r.reason, r.detail))
                        .or_default() += 1;
                }
                Action::SessionStatus { .. } | Action::PeerMoved { .. } => {}
            }
        }
    }

    fn connect(&mut self, lac: u32) {
        let now = self.now();
        let (ccid, acts) = self.ep.connect(now, lac);
        self.lacs[lac as usize].ccid = Some(ccid);
        self.by_ccid.insert(ccid, lac);
        self.act(acts);
    }

    /// Reads everything waiting on LAC `lac`'s socket.
    fn drain(&mut self, lac: u32) {
        let mut buf = std::mem::take(&mut self.buf);
        loop {
            let n = match (&self.lacs[lac as usize].sock).read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            self.datagram(lac, &buf[..n]);
        }
        self.buf = buf;
    }

    /// One datagram from las to LAC `lac`: control to the endpoint, data
    /// to the steady session's counter.
    fn datagram(&mut self, lac: u32, d: &[u8]) {
        let payload = match self.a.encap {
            EncapArg::Ip => match strip_ipv4(d) {
                Ok((src, p)) if src == self.a.las => p,
                _ => return,
            },
            EncapArg::Udp => d,
        };
        let ctl = match self.encap() {
            Encap::Ip => (payload.len() >= 4 && payload[..4] == [0; 4]).then(|| &payload[4..]),
            Encap::Udp => control_message(Encap::Udp, payload),
        };
        if let Some(m) = ctl {
            let now = self.now();
            let acts = self.ep.handle(now, lac, m);
            self.act(acts);
            return;
        }
        if lac >= self.a.lacs {
            let st = &mut self.steady[(lac - self.a.lacs) as usize];
            if let Some(c) = st.codec.as_mut() {
                if c.decap(payload).is_ok() {
                    st.received += 1;
                }
            }
        }
    }

    /// Sends the steady frames due by now (each session at steady_pps).
    fn stream(&mut self, since: Instant, frame: &mut Vec<u8>) {
        let due = (since.elapsed().as_secs_f64() * f64::from(self.a.steady_pps)) as u64;
        for j in 0..self.steady.len() {
            let partner = (j ^ 1) as u32;
            while self.steady[j].sent < due {
                let seq = self.steady[j].sent as u32;
                let Some(c) = self.steady[j].codec.as_mut() else {
                    break;
                };
                let h = c.tx_header_len();
                let inner =
                    super::inner_frame(60, 0xf0_0000 + j as u32, Some(0xf0_0000 + partner), seq);
                frame.clear();
                frame.resize(h, 0);
                frame.extend_from_slice(&inner);
                if c.encap(&mut frame[..]).is_err() {
                    break;
                }
                self.steady[j].sent += 1;
                let lac = self.a.lacs + j as u32;
                let f = std::mem::take(frame);
                if !self.send(lac, &f) {
                    // Never left this host: not las's loss.
                    self.steady[j].sent -= 1;
                    self.steady[j].send_failed += 1;
                    *frame = f;
                    break;
                }
                *frame = f;
            }
        }
    }
}

fn retransmissions(ep: &Endpoint<u32>) -> (u64, u64) {
    ep.tunnels().fold((0, 0), |(s, r), (_, t)| {
        let st = t.reliable().stats();
        (s + st.sent, r + st.retransmitted)
    })
}

pub fn main(a: CtlArgs) -> Result<(), String> {
    if a.steady == 1 {
        return Err(
            "--steady must be 0 or at least 2 (sessions stream to each other in pairs)".into(),
        );
    }
    if a.lacs == 0 || a.sessions < a.lacs {
        return Err("--lacs must be within 1..=--sessions".into());
    }
    if ![0, 4, 8].contains(&a.cookie_len) {
        return Err("--cookie-len must be 0, 4 or 8".into());
    }
    let total = a.lacs + a.steady;
    let first = u32::from(a.first_lac);
    let mut lacs = Vec::new();
    for i in 0..total {
        let addr = Ipv4Addr::from(first + i);
        lacs.push(Lac {
            sock: open_socket(a.encap, addr)?,
            ccid: None,
            up: false,
        });
    }
    let per_lac = a.sessions.div_ceil(a.lacs) as usize;
    let mut tc = TunnelConfig {
        host_name: b"cb-lac".to_vec(),
        router_id: first,
        initiator_flavour: match a.flavour {
            FlavourArg::Cisco => Flavour::CiscoDual,
            FlavourArg::Ietf => Flavour::Ietf,
        },
        tie_breaker: true,
        max_sessions: per_lac.max(1) + 1,
        ..TunnelConfig::default()
    };
    tc.session.pw_types = vec![pw_type::ETHERNET];
    tc.session.cookie_len = a.cookie_len;
    // No HELLO during a run.
    tc.hello_interval = 3_600_000;
    let ep = Endpoint::new(
        EndpointConfig {
            tunnel: tc,
            max_tunnels_per_peer: 4,
            max_tunnels: total as usize + 16,
        },
        Box::new(OsRandom),
    );
    let encap = match a.encap {
        EncapArg::Ip => Encap::Ip,
        EncapArg::Udp => Encap::Udp,
    };
    let dst = match a.encap {
        EncapArg::Ip => SocketAddrV4::new(a.las, 0),
        EncapArg::Udp => SocketAddrV4::new(a.las, UDP_PORT),
    };
    let mut poll = Poll::new().map_err(|e| e.to_string())?;
    for (i, l) in lacs.iter().enumerate() {
        poll.registry()
            .register(
                &mut SourceFd(&l.sock.as_raw_fd()),
                Token(i),
                Interest::READABLE,
            )
            .map_err(|e| e.to_string())?;
    }
    let steady = (0..a.steady)
        .map(|_| Steady {
            codec: None,
            sent: 0,
            received: 0,
            received_before: 0,
            send_failed: 0,
        })
        .collect();
    let mut c = Ctl {
        ep,
        lacs,
        dst: SockAddr::from(dst),
        start: Instant::now(),
        by_ccid: HashMap::new(),
        steady,
        template: SessionParams {
            encap,
            session_id: 0,
            peer_session_id: 0,
            cookie: Cookie::NONE,
            peer_cookie: Cookie::NONE,
            l2spec: L2Spec::None,
            peer_l2spec: L2Spec::None,
        },
        established: 0,
        failed: 0,
        tunnels_up: 0,
        up_times: Vec::new(),
        errors: HashMap::new(),
        storm_at: None,
        buf: vec![0u8; 65536],
        send_failed: 0,
        a,
    };
    let mut events = Events::with_capacity(1024);
    let mut frame = Vec::with_capacity(256);
    let settle = Duration::from_secs_f64(c.a.settle);

    // 1. The steady sessions, then their stream alone for `settle`.
    for j in 0..c.a.steady {
        c.connect(c.a.lacs + j);
    }
    let t0 = Instant::now();
    let mut stream_at: Option<Instant> = None;
    let mut phase = if c.a.steady > 0 { 0 } else { 2 };
    let mut before_end: Option<Instant> = None;
    let mut last_report = Instant::now();
    let deadline_setup = Duration::from_secs(15);
    loop {
        // Wait for input, at most until the next timer or 1 ms (stream).
        let now = c.now();
        let wait =
            c.ep.next_timeout()
                .map_or(1, |t| t.saturating_sub(now))
                .min(1);
        poll.poll(&mut events, Some(Duration::from_millis(wait)))
            .map_err(|e| e.to_string())?;
        let ready: Vec<usize> = events.iter().map(|e| e.token().0).collect();
        for i in ready {
            c.drain(i as u32);
        }
        let now = c.now();
        if c.ep.next_timeout().is_some_and(|t| t <= now) {
            let acts = c.ep.poll(now);
            c.act(acts);
        }
        if let Some(s) = stream_at {
            c.stream(s, &mut frame);
        }
        match phase {
            0 => {
                if c.steady.iter().all(|s| s.codec.is_some()) {
                    eprintln!(
                        "ctl: {} steady sessions up; streaming {} frames/s each",
                        c.steady.len(),
                        c.a.steady_pps
                    );
                    stream_at = Some(Instant::now());
                    before_end = Some(Instant::now() + settle);
                    phase = 1;
                } else if t0.elapsed() > deadline_setup {
                    return Err(format!(
                        "the {} steady sessions did not come up in 15 s (errors: {:?})",
                        c.a.steady, c.errors
                    ));
                }
            }
            1 => {
                if before_end.is_some_and(|t| Instant::now() >= t) {
                    for s in c.steady.iter_mut() {
                        s.received_before = s.received;
                    }
                    phase = 2;
                }
            }
            2 => {
                eprintln!(
                    "ctl: storm: {} LACs x 1 control connection, {} sessions, {} encap",
                    c.a.lacs,
                    c.a.sessions,
                    if encap == Encap::Ip { "ip" } else { "udp" }
                );
                c.storm_at = Some(Instant::now());
                for i in 0..c.a.lacs {
                    c.connect(i);
                }
                phase = 3;
            }
            3 => {
                let t = c.storm_at.map_or(0.0, |t| t.elapsed().as_secs_f64());
                if c.established + c.failed >= c.a.sessions || t > c.a.timeout {
                    before_end = Some(Instant::now() + settle);
                    phase = 4;
                }
            }
            4 => {
                if before_end.is_some_and(|t| Instant::now() >= t) {
                    break;
                }
            }
            _ => unreachable!(),
        }
        if last_report.elapsed() >= Duration::from_secs(1) && phase >= 3 {
            last_report = Instant::now();
            let (_, r) = retransmissions(&c.ep);
            eprintln!(
                "ctl: t={:.1} s: tunnels up {}/{}, sessions up {}/{}, failed {}, retransmissions {}",
                c.storm_at.map_or(0.0, |t| t.elapsed().as_secs_f64()),
                c.tunnels_up,
                c.a.lacs + c.a.steady,
                c.established,
                c.a.sessions,
                c.failed,
                r
            );
        }
    }
    // 2. Stop the stream, let the last frames arrive.
    let drain_end = Instant::now() + Duration::from_millis(500);
    while Instant::now() < drain_end {
        poll.poll(&mut events, Some(Duration::from_millis(10)))
            .map_err(|e| e.to_string())?;
        let ready: Vec<usize> = events.iter().map(|e| e.token().0).collect();
        for i in ready {
            c.drain(i as u32);
        }
        let now = c.now();
        let acts = c.ep.poll(now);
        c.act(acts);
    }
    let (sent_msgs, retrans) = retransmissions(&c.ep);
    let sent: u64 = c.steady.iter().map(|s| s.sent).sum();
    let received: u64 = c.steady.iter().map(|s| s.received).sum();
    let lost = sent as i64 - received as i64;
    let mut up = c.up_times.clone();
    up.sort_by(f64::total_cmp);
    let all_up = (c.established == c.a.sessions).then(|| up.last().copied().unwrap_or(0.0));
    let deciles = (1..=10)
        .filter_map(|d| {
            let k = (c.a.sessions as usize * d).div_ceil(10);
            up.get(k.saturating_sub(1)).copied()
        })
        .collect();
    let mut errors: Vec<String> = c.errors.iter().map(|(k, v)| format!("{v} x {k}")).collect();
    errors.sort();
    let out = Output {
        encap: if encap == Encap::Ip { "ip" } else { "udp" },
        flavour: match c.a.flavour {
            FlavourArg::Cisco => "cisco",
            FlavourArg::Ietf => "ietf",
        },
        lacs: c.a.lacs,
        sessions: c.a.sessions,
        sessions_per_vc: c.a.sessions_per_vc,
        cookie_len: c.a.cookie_len,
        established: c.established,
        failed: c.failed,
        tunnels_up: c.tunnels_up,
        deciles_s: deciles,
        all_up_s: all_up,
        sessions_per_s: f64::from(c.established) / all_up.unwrap_or(c.a.timeout).max(1e-3),
        messages_sent: sent_msgs,
        retransmissions: retrans,
        errors,
        steady_sessions: c.a.steady,
        steady_pps: c.a.steady_pps,
        steady_sent: sent,
        steady_received: received,
        steady_lost: lost,
        steady_loss_pct: if sent > 0 {
            100.0 * lost as f64 / sent as f64
        } else {
            0.0
        },
        steady_flowing_before: c.steady.iter().all(|s| s.received_before > 0),
        control_send_failed: c.send_failed,
        steady_send_failed: c.steady.iter().map(|s| s.send_failed).sum(),
        target_met: all_up.is_some_and(|t| t <= 10.0) && lost == 0,
    };
    eprintln!(
        "ctl: {} of {} sessions up{}; {:.0} sessions/s; {} retransmissions; steady stream: sent {sent}, received {received}, lost {lost}",
        out.established,
        out.sessions,
        out.all_up_s.map_or(String::new(), |t| format!(" in {t:.2} s")),
        out.sessions_per_s,
        out.retransmissions
    );
    // 3. Close everything (StopCCN), so that las frees the sessions.
    let now = c.now();
    let acts = c.ep.shutdown(now, stopccn_result::GENERAL_REQUEST_TO_CLEAR);
    c.act(acts);
    let end = Instant::now() + Duration::from_secs(3);
    while Instant::now() < end && c.ep.tunnel_count() > 0 {
        poll.poll(&mut events, Some(Duration::from_millis(10)))
            .map_err(|e| e.to_string())?;
        let ready: Vec<usize> = events.iter().map(|e| e.token().0).collect();
        for i in ready {
            c.drain(i as u32);
        }
        let now = c.now();
        let acts = c.ep.poll(now);
        c.act(acts);
    }
    let json = serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?;
    match &c.a.json {
        Some(p) => std::fs::write(p, json + "\n").map_err(|e| format!("{}: {e}", p.display()))?,
        None => println!("{json}"),
    }
    Ok(())
}
