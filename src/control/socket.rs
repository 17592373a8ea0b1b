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
use crate::telemetry::show::{Request, Response};
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
        })
    }

    pub fn stats(&self) -> SocketStats {
        self.stats
    }

    /// Clients connected now.
    pub fn clients(&self) -> usize {
        self.clients.len()
    }

    /// Advances every connection without waiting: accepts new clients,
    /// reads what requests have arrived, answers complete ones with
    /// `answer`, writes what the sockets take, drops idle clients. `now`
    /// is in ms. True if anything happened.
    pub fn poll(&mut self, now: u64, mut answer: impl FnMut(&Request) -> Response) -> bool {
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
        self.clients.retain_mut(|c| {
            let (keep, moved) = c.advance(&mut answer, stats);
            busy |= moved;
            if moved {
                c.last_progress = now;
            }
            if keep && now.saturating_sub(c.last_progress) >= IDLE_MS {
                stats.timed_out += 1;
                return false;
            }
            keep
        });
        busy
    }
}

impl Client {
    /// One step; `(keep, progressed)`.
    fn advance(
        &mut self,
        answer: &mut impl FnMut(&Request) -> Response,
        stats: &mut SocketStats,
    ) -> (bool, bool) {
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
                            let resp = match Request::parse(line.trim()) {
                                Ok(r) => answer(&r),
                                Err(e) => Response::Error { error: e },
                            };
                            stats.served += 1;
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
