//! The Prometheus endpoint: a small HTTP/1.1 server on its own thread
//! that answers `GET /metrics` with [`super::metrics::render`].
//!
//! It gets its data as a client of las's own control socket, asking what
//! `las show ports|tunnels|sessions|switches|counters --json` asks, so it
//! shares no state with the control core or the workers and can never
//! stall them: the control core answers it like any `las show`, a little
//! on each pass of its loop. A las that does not answer within
//! `[metrics] timeout_ms` gives the scrape a `503` (Prometheus records
//! `up = 0`) instead of a hang.
//!
//! HTTP requests are untrusted. The server reads at most
//! [`MAX_REQUEST`] bytes of request head within [`REQUEST_TIMEOUT`],
//! serves at most [`MAX_CONNECTIONS`] connections at once (the next get a
//! `503` and are closed), answers one request per connection
//! (`Connection: close`), and writes within [`WRITE_TIMEOUT`]. Only `GET`
//! and `HEAD` of `/metrics` (and `/`, a pointer to it) are served.
#![forbid(unsafe_code)]

use super::metrics::{render, Limits, Snapshot};
use super::show::{Request, Response};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Longest request head (request line and headers) read.
pub const MAX_REQUEST: usize = 8192;
/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 4;
/// Time a client has to send its request head.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// Time a client has to take the answer.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest answer read from the control socket (64k sessions are ~30 MB
/// of JSON).
pub const MAX_ANSWER: usize = 256 << 20;
/// How often the accept loop looks at the stop flag.
const ACCEPT_POLL: Duration = Duration::from_millis(50);

/// What the exporter needs to know.
#[derive(Debug, Clone)]
pub struct ExporterConfig {
    pub listen: SocketAddr,
    /// las's control socket.
    pub socket: PathBuf,
    pub limits: Limits,
    /// How long one scrape may wait for las.
    pub timeout: Duration,
}

/// The running exporter; stopping (or dropping) it ends its thread.
pub struct Exporter {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Exporter {
    /// Binds `cfg.listen` and starts serving on a thread of its own.
    pub fn start(cfg: ExporterConfig) -> Result<Exporter, String> {
        let listener = TcpListener::bind(cfg.listen)
            .map_err(|e| format!("metrics.listen = {}: cannot listen: {e}", cfg.listen))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("metrics.listen = {}: {e}", cfg.listen))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("metrics.listen = {}: {e}", cfg.listen))?;
        let stop = Arc::new(AtomicBool::new(false));
        let st = stop.clone();
        let thread = std::thread::Builder::new()
            .name("las-metrics".into())
            .spawn(move || serve(listener, cfg, st))
            .map_err(|e| format!("cannot start the metrics thread: {e}"))?;
        Ok(Exporter {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// The address it listens on (the port chosen, if 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and waits for the accept loop to end (connections
    /// being served finish on their own, within their timeouts).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Decrements the count of busy connections when a handler ends, however
/// it ends.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn serve(listener: TcpListener, cfg: ExporterConfig, stop: Arc<AtomicBool>) {
    let busy = Arc::new(AtomicUsize::new(0));
    let cfg = Arc::new(cfg);
    while !stop.load(Ordering::Relaxed) {
        let stream = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => {
                std::thread::sleep(ACCEPT_POLL);
                continue;
            }
            Err(e) => {
                // EMFILE and friends: back off rather than spin.
                log::warn!("metrics: accept: {e}");
                std::thread::sleep(ACCEPT_POLL);
                continue;
            }
        };
        if busy.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
            busy.fetch_sub(1, Ordering::AcqRel);
            refuse_busy(stream);
            continue;
        }
        let slot = Slot(busy.clone());
        let cfg = cfg.clone();
        let spawned = std::thread::Builder::new()
            .name("las-metrics-conn".into())
            .spawn(move || {
                let _slot = slot;
                handle(stream, &cfg);
            });
        if let Err(e) = spawned {
            log::warn!("metrics: cannot start a connection thread: {e}");
        }
    }
}

/// Answers `503` without waiting on the client.
fn refuse_busy(mut s: TcpStream) {
    let _ = s.set_nonblocking(true);
    let _ = s.write_all(&response(
        503,
        "Service Unavailable",
        "text/plain; charset=utf-8",
        format!("las metrics: {MAX_CONNECTIONS} scrapes in progress, try again\n").as_bytes(),
        false,
    ));
}

/// A parsed request line.
#[derive(Debug, PartialEq, Eq)]
struct Req<'a> {
    method: &'a str,
    path: &'a str,
}

/// What is wrong with a request, as an HTTP status.
#[derive(Debug, PartialEq, Eq)]
enum Bad {
    /// 400
    Malformed(&'static str),
    /// 431
    TooLarge,
    /// The client went away or was too slow: no answer.
    Gone,
}

/// Reads the request head (up to the blank line) within
/// [`REQUEST_TIMEOUT`] and [`MAX_REQUEST`] bytes.
fn read_head(s: &mut TcpStream) -> Result<Vec<u8>, Bad> {
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || s.set_read_timeout(Some(left)).is_err() {
            return Err(Bad::Gone);
        }
        match s.read(&mut chunk) {
            Ok(0) => return Err(Bad::Gone),
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if let Some(end) = find(&buf, b"\r\n\r\n") {
                    buf.truncate(end);
                    return Ok(buf);
                }
                if let Some(end) = find(&buf, b"\n\n") {
                    buf.truncate(end);
                    return Ok(buf);
                }
                if buf.len() > MAX_REQUEST {
                    return Err(Bad::TooLarge);
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return Err(Bad::Gone),
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Parses the request line of `head`.
fn parse(head: &[u8]) -> Result<Req<'_>, Bad> {
    let head = std::str::from_utf8(head).map_err(|_| Bad::Malformed("request is not UTF-8"))?;
    let line = head.lines().next().unwrap_or("");
    let mut words = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Err(Bad::Malformed("request line is not METHOD TARGET VERSION"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(Bad::Malformed("not an HTTP/1.x request"));
    }
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(Bad::Malformed("bad method"));
    }
    let path = target.split('?').next().unwrap_or(target);
    Ok(Req { method, path })
}

fn response(code: u16, reason: &str, ctype: &str, body: &[u8], head_only: bool) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\
         Connection: close\r\n{}\r\n",
        body.len(),
        if code == 405 {
            "Allow: GET, HEAD\r\n"
        } else {
            ""
        }
    )
    .into_bytes();
    if !head_only {
        r.extend_from_slice(body);
    }
    r
}

const TEXT: &str = "text/plain; charset=utf-8";
/// The classic Prometheus text format.
const METRICS_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Serves one connection: one request, one answer.
fn handle(mut s: TcpStream, cfg: &ExporterConfig) {
    let answer = match read_head(&mut s) {
        Err(Bad::Gone) => return,
        Err(Bad::TooLarge) => response(
            431,
            "Request Header Fields Too Large",
            TEXT,
            format!("request head longer than {MAX_REQUEST} bytes\n").as_bytes(),
            false,
        ),
        Err(Bad::Malformed(why)) => response(
            400,
            "Bad Request",
            TEXT,
            format!("{why}\n").as_bytes(),
            false,
        ),
        Ok(head) => match parse(&head) {
            Err(Bad::Malformed(why)) => response(
                400,
                "Bad Request",
                TEXT,
                format!("{why}\n").as_bytes(),
                false,
            ),
            Err(_) => return,
            Ok(req) => route(&req, cfg),
        },
    };
    let _ = s.set_write_timeout(Some(WRITE_TIMEOUT));
    let _ = s.write_all(&answer);
    let _ = s.flush();
    linger(s);
}

/// Closes gracefully: a client still sending (a request that was too
/// long) would otherwise get a reset that can destroy the answer before
/// it reads it. Reads and discards what it sends, at most [`LINGER_BYTES`]
/// for at most [`LINGER`].
fn linger(mut s: TcpStream) {
    if s.shutdown(std::net::Shutdown::Write).is_err() {
        return;
    }
    let deadline = Instant::now() + LINGER;
    let mut chunk = [0u8; 4096];
    let mut n = 0;
    while n < LINGER_BYTES {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || s.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(k) => n += k,
        }
    }
}

/// See [`linger`].
const LINGER: Duration = Duration::from_millis(500);
const LINGER_BYTES: usize = 1 << 20;

fn route(req: &Req<'_>, cfg: &ExporterConfig) -> Vec<u8> {
    let head_only = req.method == "HEAD";
    if req.method != "GET" && !head_only {
        return response(
            405,
            "Method Not Allowed",
            TEXT,
            b"only GET and HEAD\n",
            false,
        );
    }
    match req.path {
        "/metrics" => {
            let t0 = Instant::now();
            match scrape(&cfg.socket, cfg.timeout) {
                Ok(snap) => {
                    let body = render(&snap, cfg.limits, t0.elapsed().as_secs_f64());
                    response(200, "OK", METRICS_TYPE, body.as_bytes(), head_only)
                }
                Err(e) => {
                    log::warn!("metrics: scrape failed: {e}");
                    response(
                        503,
                        "Service Unavailable",
                        TEXT,
                        format!("las did not answer: {e}\n").as_bytes(),
                        head_only,
                    )
                }
            }
        }
        "/" => response(
            200,
            "OK",
            TEXT,
            b"las: Prometheus metrics at /metrics\n",
            head_only,
        ),
        _ => response(
            404,
            "Not Found",
            TEXT,
            b"not found: las serves /metrics\n",
            head_only,
        ),
    }
}

/// Asks the las at `socket` for everything a scrape renders, within
/// `timeout` for all six requests together.
pub fn scrape(socket: &Path, timeout: Duration) -> Result<Snapshot, String> {
    let deadline = Instant::now() + timeout;
    let ask = |r: Request| -> Result<Response, String> {
        match query(socket, &r, deadline)? {
            Response::Error { error } => Err(format!("{}: {error}", r.line())),
            x => Ok(x),
        }
    };
    let unexpected = |r: Request| format!("{}: unexpected answer", r.line());
    let Response::Ports { ports } = ask(Request::Ports)? else {
        return Err(unexpected(Request::Ports));
    };
    let Response::Tunnels { tunnels } = ask(Request::Tunnels)? else {
        return Err(unexpected(Request::Tunnels));
    };
    let Response::Sessions { sessions } = ask(Request::Sessions)? else {
        return Err(unexpected(Request::Sessions));
    };
    let Response::Switches { switches } = ask(Request::Switches)? else {
        return Err(unexpected(Request::Switches));
    };
    let Response::Counters(counters) = ask(Request::Counters)? else {
        return Err(unexpected(Request::Counters));
    };
    let Response::Mesh { mesh } = ask(Request::Mesh)? else {
        return Err(unexpected(Request::Mesh));
    };
    Ok(Snapshot {
        mesh,
        ports,
        tunnels,
        sessions,
        switches,
        counters,
    })
}

/// One request to the control socket, all of it (connecting included)
/// before `deadline`. Also used by the DPDK telemetry commands.
pub fn query(path: &Path, req: &Request, deadline: Instant) -> Result<Response, String> {
    let left = || {
        let l = deadline.saturating_duration_since(Instant::now());
        if l.is_zero() {
            Err(format!("{}: no answer in time", req.line()))
        } else {
            Ok(l)
        }
    };
    let addr = socket2::SockAddr::unix(path)
        .map_err(|e| format!("control socket {}: {e}", path.display()))?;
    let sock = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None)
        .map_err(|e| format!("control socket: {e}"))?;
    // A las whose accept queue is full would block a plain connect.
    sock.connect_timeout(&addr, left()?)
        .map_err(|e| format!("cannot reach las at {}: {e}", path.display()))?;
    let mut s: UnixStream = sock.into();
    s.set_write_timeout(Some(left()?))
        .map_err(|e| e.to_string())?;
    s.write_all(format!("{}\n", req.line()).as_bytes())
        .map_err(|e| format!("{}: sending: {e}", req.line()))?;
    let mut body = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        s.set_read_timeout(Some(left()?))
            .map_err(|e| e.to_string())?;
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                body.extend_from_slice(&chunk[..n]);
                if body.last() == Some(&b'\n') {
                    break;
                }
                if body.len() > MAX_ANSWER {
                    return Err(format!(
                        "{}: answer longer than {MAX_ANSWER} bytes",
                        req.line()
                    ));
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(format!("{}: no answer in time", req.line()))
            }
            Err(e) => return Err(format!("{}: reading: {e}", req.line())),
        }
    }
    serde_json::from_slice(&body).map_err(|e| format!("{}: bad answer: {e}", req.line()))
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::control::socket::ControlSocket;
    use crate::telemetry::show::{CountersView, SwitchView};
    use std::collections::BTreeMap;

    fn sock_path(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("las-exp-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("las.sock")
    }

    /// A stand-in las: serves the control socket at `path` with canned
    /// answers until `stop`; `delay` before each poll.
    fn fake_las(path: &Path, stop: Arc<AtomicBool>, delay: Duration) -> JoinHandle<()> {
        let mut s = ControlSocket::bind(path).unwrap();
        std::thread::spawn(move || {
            let t0 = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                s.poll(t0.elapsed().as_millis() as u64, answer);
                std::thread::sleep(delay);
            }
        })
    }

    fn answer(r: &Request) -> Response {
        match r {
            Request::Ports => Response::Ports { ports: vec![] },
            Request::Tunnels => Response::Tunnels { tunnels: vec![] },
            Request::Sessions => Response::Sessions { sessions: vec![] },
            Request::Mesh => Response::Mesh { mesh: vec![] },
            Request::Switches => Response::Switches {
                switches: vec![SwitchView {
                    name: "cust100".into(),
                    id: 0,
                    members: vec![],
                    macs: 0,
                    aging: 300,
                    mac_limit: 0,
                    ethertypes: vec![],
                    vc_ids: vec![],
                    auto: false,
                    rx_packets: 17,
                    rx_bytes: 0,
                    unicast: 0,
                    flooded: 0,
                    flood_copies: 0,
                    filtered: 0,
                    learn_failed: 0,
                    mss_clamped: 0,
                    fragmented: 0,
                }],
            },
            Request::Counters => Response::Counters(CountersView {
                uptime_secs: 1,
                tsc_hz: 1,
                drops: BTreeMap::from([("cookie_mismatch".into(), 3)]),
                control: BTreeMap::new(),
                workers: vec![],
            }),
            Request::Macs(_) | Request::Reload { .. } => Response::Error { error: "no".into() },
        }
    }

    fn exporter(socket: PathBuf, timeout_ms: u64) -> Exporter {
        Exporter::start(ExporterConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            socket,
            limits: Limits {
                max_session_series: 10,
                max_switch_series: 10,
            },
            timeout: Duration::from_millis(timeout_ms),
        })
        .unwrap()
    }

    /// Sends `raw`, returns (status code, whole answer).
    fn http(addr: SocketAddr, raw: &[u8]) -> (u16, String) {
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = c.write_all(raw);
        let mut out = String::new();
        let _ = std::io::BufReader::new(c).read_to_string(&mut out);
        let code = out
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        (code, out)
    }

    #[test]
    fn serves_metrics_from_the_control_socket() {
        let p = sock_path("ok");
        let stop = Arc::new(AtomicBool::new(false));
        let las = fake_las(&p, stop.clone(), Duration::from_millis(1));
        let e = exporter(p, 2000);
        let (code, out) = http(e.local_addr(), b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(code, 200, "{out}");
        assert!(
            out.contains("Content-Type: text/plain; version=0.0.4"),
            "{out}"
        );
        assert!(out.contains("\nlas_switch_rx_packets_total{switch=\"cust100\"} 17\n"));
        assert!(out.contains("\nlas_drops_total{reason=\"cookie_mismatch\",stage=\"ingress\"} 3\n"));
        let len: usize = out
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(len, out.split_once("\r\n\r\n").unwrap().1.len());
        // HEAD: the same head, no body.
        let (code, out) = http(e.local_addr(), b"HEAD /metrics?x=1 HTTP/1.0\r\n\r\n");
        assert_eq!(code, 200);
        assert!(out.ends_with("\r\n\r\n"), "{out}");
        stop.store(true, Ordering::Relaxed);
        las.join().unwrap();
        e.stop();
    }

    #[test]
    fn bad_requests_get_clear_errors() {
        let p = sock_path("bad");
        let e = exporter(p, 200);
        let a = e.local_addr();
        assert_eq!(http(a, b"GET /nope HTTP/1.1\r\n\r\n").0, 404);
        let (code, out) = http(a, b"POST /metrics HTTP/1.1\r\n\r\n");
        assert_eq!(code, 405);
        assert!(out.contains("Allow: GET, HEAD"), "{out}");
        assert_eq!(http(a, b"GET /metrics\r\n\r\n").0, 400);
        assert_eq!(http(a, b"GET /metrics SPDY/3\r\n\r\n").0, 400);
        assert_eq!(http(a, b"\xff\xfe / HTTP/1.1\r\n\r\n").0, 400);
        assert_eq!(http(a, b"get /metrics HTTP/1.1\r\n\r\n").0, 400);
        let mut big = b"GET /metrics HTTP/1.1\r\nX: ".to_vec();
        big.resize(256 << 10, b'a');
        assert_eq!(http(a, &big).0, 431);
        assert_eq!(http(a, b"GET / HTTP/1.1\r\n\r\n").0, 200);
        // No las at the socket path: a 503 saying so, not a hang.
        let (code, out) = http(a, b"GET /metrics HTTP/1.1\r\n\r\n");
        assert_eq!(code, 503, "{out}");
        assert!(out.contains("cannot reach las"), "{out}");
    }

    #[test]
    fn a_silent_las_is_a_503_within_the_timeout() {
        let p = sock_path("silent");
        // Bound, never polled: connections queue, nobody answers.
        let _s = ControlSocket::bind(&p).unwrap();
        let e = exporter(p, 300);
        let t0 = Instant::now();
        let (code, out) = http(e.local_addr(), b"GET /metrics HTTP/1.1\r\n\r\n");
        assert_eq!(code, 503, "{out}");
        assert!(out.contains("no answer in time"), "{out}");
        assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    }

    #[test]
    fn silent_clients_are_bounded_and_dropped() {
        let p = sock_path("clients");
        let stop = Arc::new(AtomicBool::new(false));
        let las = fake_las(&p, stop.clone(), Duration::from_millis(1));
        let e = exporter(p, 2000);
        let a = e.local_addr();
        // MAX_CONNECTIONS clients that never send a byte hold every slot.
        let silent: Vec<TcpStream> = (0..MAX_CONNECTIONS)
            .map(|_| TcpStream::connect(a).unwrap())
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        let t0 = Instant::now();
        let (code, _) = http(a, b"GET /metrics HTTP/1.1\r\n\r\n");
        assert_eq!(code, 503);
        assert!(t0.elapsed() < Duration::from_secs(1));
        // They are dropped after REQUEST_TIMEOUT, and scrapes work again.
        for mut s in silent {
            s.set_read_timeout(Some(REQUEST_TIMEOUT * 3)).unwrap();
            let mut b = [0u8; 16];
            assert!(matches!(s.read(&mut b), Ok(0)), "not closed");
        }
        std::thread::sleep(Duration::from_millis(100));
        let (code, _) = http(a, b"GET /metrics HTTP/1.1\r\n\r\n");
        assert_eq!(code, 200);
        stop.store(true, Ordering::Relaxed);
        las.join().unwrap();
    }

    #[test]
    fn request_lines() {
        assert_eq!(
            parse(b"GET /metrics HTTP/1.1\r\nHost: a"),
            Ok(Req {
                method: "GET",
                path: "/metrics"
            })
        );
        assert_eq!(
            parse(b"GET /metrics?name[]=x HTTP/1.0").map(|r| r.path),
            Ok("/metrics")
        );
        assert!(parse(b"").is_err());
        assert!(parse(b"GET  /metrics HTTP/1.1").is_err());
        assert!(parse(b"GET /metrics HTTP/2 extra").is_err());
    }

    #[test]
    fn the_listen_error_names_the_key() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let taken = l.local_addr().unwrap();
        let r = Exporter::start(ExporterConfig {
            listen: taken,
            socket: PathBuf::from("/nonexistent"),
            limits: Limits {
                max_session_series: 1,
                max_switch_series: 1,
            },
            timeout: Duration::from_millis(100),
        });
        let e = r.err().unwrap();
        assert!(e.starts_with(&format!("metrics.listen = {taken}: ")), "{e}");
    }
}
