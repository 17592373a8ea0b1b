//! The local control socket that `las show` talks to: a Unix stream
//! socket, one request line in, one JSON document out.
//!
//! The control core serves it from its poll loop, so it must never wait
//! on a client: every connection is non-blocking and advances a little
//! on each [`ControlSocket::poll`]. A client that connects and stays
//! silent holds a slot until [`IDLE_MS`] and costs nothing meanwhile; a
//! request line longer than [`MAX_REQUEST`] is answered with an error and
//! the connection closed; at most [`MAX_CLIENTS`] are served at once
//! (more are accepted and closed at once, counted); an answer the client
//! reads slowly is written as the socket takes it.
//!
//! A `capture ...` request (`las capture`) is answered by a stream, not
//! one document: see `control::capture` for the protocol. One capture
//! runs at a time; its client is never timed out while it reads, and
//! what it does not read in time is dropped and counted by the capture,
//! never waited for. A capture whose client went away stays here,
//! disarming the workers, until they let go of its rings.
use super::capture::{Capture, CaptureSpec, SourceName};
use crate::telemetry::show::{Request, Response};
use crate::worker::capture::Filter;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Longest request line (the longest real one is under 100 bytes).
pub const MAX_REQUEST: usize = 4096;
/// Clients served at once.
pub const MAX_CLIENTS: usize = 16;
/// A client that neither finishes its request nor reads its answer for
/// this long is dropped (ms).
pub const IDLE_MS: u64 = 5_000;
/// Connections accepted per poll (the rest wait in the kernel's queue).
const ACCEPTS_PER_POLL: usize = 8;

/// Counters of the socket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SocketStats {
    pub served: u64,
    /// Closed at once: [`MAX_CLIENTS`] busy.
    pub refused_busy: u64,
    /// Request line over [`MAX_REQUEST`].
    pub too_long: u64,
    /// Dropped after [`IDLE_MS`] without progress.
    pub timed_out: u64,
}

enum Phase {
    /// Reading the request line.
    Reading(Vec<u8>),
    /// Writing the answer from this offset.
    Writing(Vec<u8>, usize),
    /// Streaming a capture.
    Capture(Box<Capture>),
}

/// What the socket asks of the control core.
pub trait Handler {
    /// Answers a `las show` or `las reload` request.
    fn answer(&mut self, r: &Request) -> Response;
    /// Starts a capture: resolves its names and arms the workers.
    fn capture(&mut self, spec: &CaptureSpec) -> Result<Capture, String> {
        let _ = spec;
        Err("this las serves no captures".into())
    }
    /// The name and description of a capture source (a pcapng IDB).
    fn source_name(&self, filter: Filter, source: u16) -> SourceName {
        SourceName {
            name: format!("{filter:?}/{source}"),
            description: String::new(),
        }
    }
}

/// A closure answers requests and serves no captures.
impl<F: FnMut(&Request) -> Response> Handler for F {
    fn answer(&mut self, r: &Request) -> Response {
        self(r)
    }
}

struct Client {
    stream: UnixStream,
    phase: Phase,
    last_progress: u64,
}

pub struct ControlSocket {
    listener: UnixListener,
    path: PathBuf,
    clients: Vec<Client>,
    stats: SocketStats,
    /// Captures whose client went away, until the workers let go.
    retiring: Vec<Capture>,
}

/// The JSON line for `resp`.
fn encode(resp: &Response) -> Vec<u8> {
    let mut body = serde_json::to_vec(resp).unwrap_or_else(|e| {
        format!("{{\"kind\":\"error\",\"error\":\"encoding: {e}\"}}").into_bytes()
    });
    body.push(b'\n');
    body
}

impl ControlSocket {
    /// Binds `path`, replacing a stale socket file but refusing to steal
    /// the socket of a running las.
    pub fn bind(path: &Path) -> Result<ControlSocket, String> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("control socket directory {}: {e}", dir.display()))?;
            }
        }
        if path.exists() {
            if UnixStream::connect(path).is_ok() {
                return Err(format!(
                    "control socket {} is in use: is another las running? (set [control] socket)",
                    path.display()
                ));
            }
            let _ = std::fs::remove_file(path);
        }
        let listener = UnixListener::bind(path)
            .map_err(|e| format!("control socket {}: {e}", path.display()))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("control socket {}: {e}", path.display()))?;
        Ok(ControlSocket {
            listener,
            path: path.to_owned(),
            clients: Vec::new(),
            stats: SocketStats::default(),
            retiring: Vec::new(),
        })
    }

    pub fn stats(&self) -> SocketStats {
        self.stats
    }

    /// Clients connected now.
    pub fn clients(&self) -> usize {
        self.clients.len()
    }

    /// A capture is running (or still disarming).
    pub fn capturing(&self) -> bool {
        !self.retiring.is_empty()
            || self
                .clients
                .iter()
                .any(|c| matches!(c.phase, Phase::Capture(_)))
    }

    /// Ends every running capture (las is stopping): their clients get
    /// what the rings hold and the summary while the loop still turns.
    pub fn stop_captures(&mut self, why: &str, now: u64) {
        for c in &mut self.clients {
            if let Phase::Capture(cap) = &mut c.phase {
                cap.stop(why, now);
            }
        }
        for cap in &mut self.retiring {
            cap.stop(why, now);
        }
    }

    /// Advances every connection without waiting: accepts new clients,
    /// reads what requests have arrived, answers complete ones with
    /// `handler`, streams captures, writes what the sockets take, drops
    /// idle clients. `now` is in ms. True if anything happened.
    pub fn poll(&mut self, now: u64, mut handler: impl Handler) -> bool {
        let mut busy = false;
        for _ in 0..ACCEPTS_PER_POLL {
            let Ok((stream, _)) = self.listener.accept() else {
                break;
            };
            busy = true;
            if self.clients.len() >= MAX_CLIENTS || stream.set_nonblocking(true).is_err() {
                self.stats.refused_busy += 1;
                let mut s = stream;
                let _ = s.set_nonblocking(true);
                let _ = s.write(&encode(&Response::Error {
                    error: format!("las is serving {MAX_CLIENTS} clients: try again"),
                }));
                continue;
            }
            self.clients.push(Client {
                stream,
                phase: Phase::Reading(Vec::new()),
                last_progress: now,
            });
        }
        let stats = &mut self.stats;
        let retiring = &mut self.retiring;
        let mut capturing = !retiring.is_empty();
        for c in &self.clients {
            capturing |= matches!(c.phase, Phase::Capture(_));
        }
        self.clients.retain_mut(|c| {
            let (keep, moved) = c.advance(&mut handler, stats, now, &mut capturing);
            busy |= moved;
            if moved {
                c.last_progress = now;
            }
            let streaming = matches!(&c.phase, Phase::Capture(cap) if cap.pending().is_empty());
            if keep && !streaming && now.saturating_sub(c.last_progress) >= IDLE_MS {
                stats.timed_out += 1;
                if let Phase::Capture(cap) = &mut c.phase {
                    cap.stop("the client read nothing for 5 s", now);
                }
                return Client::retire(c, retiring, now);
            }
            if !keep {
                return Client::retire(c, retiring, now);
            }
            keep
        });
        let names = |f: Filter, src: u16| handler.source_name(f, src);
        self.retiring.retain_mut(|cap| {
            busy |= cap.pump(now, &names);
            let n = cap.pending().len();
            cap.consume(n);
            !cap.is_done()
        });
        busy
    }
}

impl Client {
    /// A client that goes: a capture it was streaming that has not
    /// ended yet is kept (in `retiring`) until the workers let go of it.
    /// Returns false (for `retain_mut`).
    fn retire(c: &mut Client, retiring: &mut Vec<Capture>, now: u64) -> bool {
        let phase = std::mem::replace(&mut c.phase, Phase::Reading(Vec::new()));
        if let Phase::Capture(mut cap) = phase {
            if !cap.is_done() {
                cap.stop("the client went away", now);
                retiring.push(*cap);
            }
        }
        false
    }

    /// One step of a capture's stream: reads `stop` or EOF from the
    /// client, moves frames from the rings, writes what the socket takes.
    fn stream(&mut self, handler: &mut impl Handler, now: u64) -> (bool, bool) {
        let Phase::Capture(cap) = &mut self.phase else {
            return (true, false);
        };
        let mut progressed = false;
        let mut chunk = [0u8; 64];
        // A client that sends more than `stop` costs at most 1 KiB of
        // reading per turn.
        for _ in 0..16 {
            match self.stream.read(&mut chunk) {
                // The client is gone: end the capture (it is retired
                // until the workers let go).
                Ok(0) => return (false, true),
                Ok(n) => {
                    progressed = true;
                    if chunk[..n].windows(4).any(|w| w == b"stop") {
                        cap.stop("stopped by the client", now);
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return (false, true),
            }
        }
        let names = |f: Filter, src: u16| handler.source_name(f, src);
        progressed |= cap.pump(now, &names);
        loop {
            let pending = cap.pending();
            if pending.is_empty() {
                break;
            }
            match self.stream.write(pending) {
                Ok(0) => return (false, true),
                Ok(n) => {
                    cap.consume(n);
                    progressed = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return (false, true),
            }
        }
        if cap.is_done() && cap.pending().is_empty() {
            return (false, true);
        }
        (true, progressed)
    }

    /// One step; `(keep, progressed)`. `capturing`: a capture runs (a
    /// second one is refused).
    fn advance(
        &mut self,
        handler: &mut impl Handler,
        stats: &mut SocketStats,
        now: u64,
        capturing: &mut bool,
    ) -> (bool, bool) {
        if matches!(self.phase, Phase::Capture(_)) {
            return self.stream(handler, now);
        }
        let mut progressed = false;
        if let Phase::Reading(buf) = &mut self.phase {
            let mut chunk = [0u8; 1024];
            loop {
                match self.stream.read(&mut chunk) {
                    Ok(0) => return (false, true),
                    Ok(n) => {
                        progressed = true;
                        let take = n.min(MAX_REQUEST + 1 - buf.len().min(MAX_REQUEST + 1));
                        buf.extend_from_slice(&chunk[..take]);
                        if let Some(end) = buf.iter().position(|&b| b == b'\n') {
                            let line = String::from_utf8_lossy(&buf[..end]).into_owned();
                            stats.served += 1;
                            let resp = match CaptureSpec::parse(line.trim()) {
                                Some(Ok(_)) if *capturing => Response::Error {
                                    error: "a capture is running already (one at a time)".into(),
                                },
                                Some(Ok(spec)) => match handler.capture(&spec) {
                                    Ok(cap) => {
                                        *capturing = true;
                                        self.phase = Phase::Capture(Box::new(cap));
                                        return self.stream(handler, now);
                                    }
                                    Err(error) => Response::Error { error },
                                },
                                Some(Err(error)) => Response::Error { error },
                                None => match Request::parse(line.trim()) {
                                    Ok(r) => handler.answer(&r),
                                    Err(e) => Response::Error { error: e },
                                },
                            };
                            self.phase = Phase::Writing(encode(&resp), 0);
                            break;
                        }
                        if buf.len() > MAX_REQUEST {
                            stats.too_long += 1;
                            let err = Response::Error {
                                error: format!("request longer than {MAX_REQUEST} bytes"),
                            };
                            self.phase = Phase::Writing(encode(&err), 0);
                            break;
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return (true, progressed),
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(_) => return (false, true),
                }
            }
        }
        if let Phase::Writing(body, off) = &mut self.phase {
            while *off < body.len() {
                match self.stream.write(&body[*off..]) {
                    Ok(0) => return (false, true),
                    Ok(n) => {
                        *off += n;
                        progressed = true;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return (true, progressed),
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(_) => return (false, true),
                }
            }
            return (false, true);
        }
        (true, progressed)
    }
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Client side: sends `req` to the las listening on `path`.
pub fn query(path: &Path, req: &Request) -> Result<Response, String> {
    let mut s = UnixStream::connect(path).map_err(|e| {
        format!(
            "cannot reach las at {}: {e} (is it running? --socket or [control] socket sets the path)",
            path.display()
        )
    })?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    s.write_all(format!("{}\n", req.line()).as_bytes())
        .map_err(|e| format!("sending request: {e}"))?;
    let mut body = String::new();
    BufReader::new(s)
        .read_line(&mut body)
        .map_err(|e| format!("reading answer: {e}"))?;
    serde_json::from_str(&body).map_err(|e| format!("bad answer from las: {e}: {body:?}"))
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::worker::capture::{Direction, Tap};
    use std::time::Instant;

    fn sock(name: &str) -> (ControlSocket, PathBuf) {
        let dir = std::env::temp_dir().join(format!("las-sock-{}-{name}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let p = dir.join("s.sock");
        (ControlSocket::bind(&p).unwrap(), p)
    }

    fn answer(_: &Request) -> Response {
        Response::Error {
            error: "answered".into(),
        }
    }

    /// Polls until `f` holds (at most 2 s), each poll timed.
    fn poll_until(s: &mut ControlSocket, now: &mut u64, mut f: impl FnMut(&ControlSocket) -> bool) {
        let t0 = Instant::now();
        while !f(s) {
            let t = Instant::now();
            s.poll(*now, answer);
            assert!(t.elapsed() < Duration::from_millis(50), "a poll blocked");
            *now += 1;
            assert!(
                t0.elapsed() < Duration::from_secs(2),
                "condition never held"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn a_silent_client_blocks_nobody() {
        let (mut s, p) = sock("silent");
        let mut now = 0;
        let _silent = UnixStream::connect(&p).unwrap();
        poll_until(&mut s, &mut now, |s| s.clients() == 1);
        // Another client is served while the silent one sits there.
        let q = std::thread::spawn({
            let p = p.clone();
            move || query(&p, &Request::Ports)
        });
        poll_until(&mut s, &mut now, |s| s.stats().served == 1);
        poll_until(&mut s, &mut now, |_| q.is_finished());
        assert_eq!(
            q.join().unwrap(),
            Ok(Response::Error {
                error: "answered".into()
            })
        );
        // The silent one goes after IDLE_MS without progress.
        now += IDLE_MS;
        s.poll(now, answer);
        assert_eq!(s.clients(), 0);
        assert_eq!(s.stats().timed_out, 1);
    }

    /// Serves captures of one emulated worker.
    struct Capturer {
        worker: std::sync::Arc<crate::worker::WorkerShared>,
    }

    impl Handler for Capturer {
        fn answer(&mut self, r: &Request) -> Response {
            answer(r)
        }
        fn capture(&mut self, spec: &CaptureSpec) -> Result<Capture, String> {
            let f = Filter::Session(crate::switch::MemberId(1));
            let w = vec![self.worker.clone()];
            Capture::start(spec, f, "session x".into(), w, 1000, 0).map(|(c, _)| c)
        }
    }

    /// The worker's side: applies capture commands, offers a frame.
    fn emulate_worker(w: &crate::worker::WorkerShared, tap: &mut Option<Tap>, t: u64) {
        use crate::worker::Command;
        while let Some(c) = w.commands.pop() {
            if let Command::Capture(a) = c {
                if let Some(old) = tap.take() {
                    old.detach();
                }
                *tap = a.map(|a| Tap::new(*a, 1000, t));
            }
        }
        if let Some(tap) = tap.as_mut() {
            let f = [0x42u8; 60];
            tap.offer(t, 60, 1, Direction::In, |b| {
                b.copy_from_slice(&f[..b.len()]);
                Some(b.len())
            });
        }
    }

    fn worker() -> std::sync::Arc<crate::worker::WorkerShared> {
        let c = crate::telemetry::WorkerCounters::new(2, 2, 1);
        std::sync::Arc::new(crate::worker::WorkerShared::new(8, 8, c))
    }

    #[test]
    fn a_capture_streams_until_the_client_stops_it() {
        use super::super::capture::{run_client, Target};
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        let (mut s, p) = sock("capture");
        let w = worker();
        let stop = Arc::new(AtomicBool::new(false));
        let client = std::thread::spawn({
            let (p, stop) = (p.clone(), stop.clone());
            move || {
                let spec = CaptureSpec {
                    target: Target::Session("x".into()),
                    count: None,
                    snaplen: 64,
                    rate: 1000,
                };
                let mut out = Vec::new();
                let end = run_client(&p, &spec, &mut out, &stop, &mut |_| {});
                (end, out)
            }
        });
        let mut tap = None;
        let t0 = Instant::now();
        let mut now = 0;
        while !client.is_finished() {
            s.poll(now, Capturer { worker: w.clone() });
            emulate_worker(&w, &mut tap, now);
            if now == 200 {
                assert!(s.capturing());
                // A second capture meanwhile is refused.
                let q = std::thread::spawn({
                    let p = p.clone();
                    move || {
                        let mut c = UnixStream::connect(&p).unwrap();
                        c.write_all(b"capture port wan0\n").unwrap();
                        let mut back = String::new();
                        let _ = BufReader::new(c).read_line(&mut back);
                        back
                    }
                });
                while !q.is_finished() {
                    s.poll(now, Capturer { worker: w.clone() });
                }
                assert!(q.join().unwrap().contains("one at a time"));
                stop.store(true, Ordering::Relaxed);
            }
            now += 1;
            assert!(t0.elapsed() < Duration::from_secs(10), "never ended");
            std::thread::sleep(Duration::from_micros(200));
        }
        let (end, out) = client.join().unwrap();
        let end = end.unwrap();
        assert_eq!(end.summary.ended, "stopped by the client");
        assert!(end.summary.frames > 100, "{:?}", end.summary);
        assert!(tap.is_none(), "the worker was disarmed");
        let mut r = pcap_file::pcapng::PcapNgReader::new(&out[..]).unwrap();
        let mut n = 0;
        while let Some(b) = r.next_block() {
            if let pcap_file::pcapng::Block::EnhancedPacket(e) = b.unwrap() {
                assert_eq!(&e.data[..], &[0x42; 60][..]);
                n += 1;
            }
        }
        assert_eq!(n, end.summary.frames);
        poll_until_capture_ends(&mut s, &w, &mut tap, now);
    }

    fn poll_until_capture_ends(
        s: &mut ControlSocket,
        w: &crate::worker::WorkerShared,
        tap: &mut Option<Tap>,
        mut now: u64,
    ) {
        let t0 = Instant::now();
        while s.capturing() {
            s.poll(now, Capturer { worker: worker() });
            emulate_worker(w, tap, now);
            now += 1;
            assert!(t0.elapsed() < Duration::from_secs(5), "capture never ended");
        }
    }

    #[test]
    fn a_client_that_goes_away_disarms_the_workers() {
        let (mut s, p) = sock("capture-gone");
        let w = worker();
        let mut c = UnixStream::connect(&p).unwrap();
        c.write_all(b"capture session x\n").unwrap();
        let mut tap = None;
        let mut now = 0;
        while tap.is_none() {
            s.poll(now, Capturer { worker: w.clone() });
            emulate_worker(&w, &mut tap, now);
            now += 1;
        }
        drop(c);
        poll_until_capture_ends(&mut s, &w, &mut tap, now);
        assert!(tap.is_none());
        assert_eq!(s.clients(), 0);
    }

    #[test]
    fn a_megabyte_of_garbage_is_refused() {
        let (mut s, p) = sock("garbage");
        let mut now = 0;
        let mut c = UnixStream::connect(&p).unwrap();
        let w = std::thread::spawn(move || {
            let garbage = vec![b'x'; 1 << 20];
            let _ = c.write_all(&garbage);
            let mut back = String::new();
            let _ = BufReader::new(c).read_line(&mut back);
            back
        });
        poll_until(&mut s, &mut now, |s| s.stats().too_long == 1);
        poll_until(&mut s, &mut now, |s| s.clients() == 0);
        let back = w.join().unwrap();
        assert!(back.contains("longer than 4096"), "{back}");
    }

    #[test]
    fn clients_are_bounded() {
        let (mut s, p) = sock("bounded");
        let mut now = 0;
        let conns: Vec<UnixStream> = (0..MAX_CLIENTS + 3)
            .map(|_| UnixStream::connect(&p).unwrap())
            .collect();
        poll_until(&mut s, &mut now, |s| {
            s.clients() == MAX_CLIENTS && s.stats().refused_busy == 3
        });
        drop(conns);
        poll_until(&mut s, &mut now, |s| s.clients() == 0);
    }

    #[test]
    fn a_request_in_pieces_and_a_bad_one() {
        let (mut s, p) = sock("pieces");
        let mut now = 0;
        let mut c = UnixStream::connect(&p).unwrap();
        c.write_all(b"show sw").unwrap();
        poll_until(&mut s, &mut now, |s| s.clients() == 1);
        s.poll(now, answer);
        assert_eq!(s.stats().served, 0);
        c.write_all(b"itches\n").unwrap();
        poll_until(&mut s, &mut now, |s| s.stats().served == 1);
        let mut back = String::new();
        c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut r = BufReader::new(c);
        let _ = r.read_line(&mut back);
        assert!(back.contains("answered"), "{back}");
        let mut c = UnixStream::connect(&p).unwrap();
        c.write_all(b"frobnicate\n").unwrap();
        poll_until(&mut s, &mut now, |s| s.stats().served == 2);
        let mut back = String::new();
        c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let _ = BufReader::new(c).read_line(&mut back);
        assert!(back.contains("error"), "{back}");
        assert!(!back.contains("answered"), "{back}");
    }
}
