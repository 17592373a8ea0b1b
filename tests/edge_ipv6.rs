//! las-edge against las-edge over an IPv6 underlay, in network namespaces
//! this test creates: two namespaces (`e6-<case>-a-<pid>` and
//! `e6-<case>-b-<pid>`) joined by a veth pair that has only IPv6
//! addresses (`fd00:e6::1/64` and `fd00:e6::2/64`, no IPv4 on the
//! underlay at all), a TAP `pw0` in each with an inner IPv4 address
//! (`10.66.0.1/24`, `10.66.0.2/24`), and one las-edge per namespace
//! bridging its TAP to a static pseudowire toward the other. Frames the
//! kernel writes into one TAP (ARP, ICMP echo, 1400-byte echoes) must come
//! out of the other: ping across the pseudowire, then each las-edge's exit
//! counters show the frames it carried and no drops.
//!
//! Cases: raw IPv6 protocol 115 with cookies and the RFC 4719 default
//! sublayer, and UDP over IPv6 (non-default ports) without them.
//!
//! Dynamic mode: las-edge only initiates control connections (it is a
//! LAC) and las does not carry L2TPv3 over IPv6 yet, so the other side is
//! a small responder written here on las's own RFC 3931 machine
//! (`las::control::l2tp::Endpoint`, as las uses it), run in namespace b by
//! re-executing this test binary (`edge_ipv6_responder`, which does
//! nothing unless `E6_RESPONDER` is set). Once the session is up it sends
//! an ARP request for las-edge's host down the pseudowire and waits for
//! the ARP reply: a frame that came out of las-edge's TAP and one that went
//! into it. Both raw IPv6 and UDP over IPv6.
//!
//! Namespaces, TAPs and processes are removed when the test ends, passes
//! or fails (a guard's `Drop`).
//!
//! Needs root and `ip netns`: #[ignore]d; run with
//! `cargo test --test edge_ipv6 -- --include-ignored --test-threads=1`.

mod common;

use common::Netns;
use std::io::Read;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::process::{Child, Command, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

const EDGE: &str = env!("CARGO_BIN_EXE_las-edge");
const UL_A: &str = "fd00:e6::1";
const UL_B: &str = "fd00:e6::2";
const HOST_A: &str = "10.66.0.1";
const HOST_B: &str = "10.66.0.2";

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn has_netns() -> bool {
    Command::new("ip")
        .args(["netns", "list"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn sh(args: &[&str]) -> Output {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"))
}

/// Two namespaces, their underlay, TAPs and las-edges; all removed on drop
/// (`Drop` kills the las-edges, then the fields drop: the namespaces go).
struct Lab {
    ns: [Netns; 2],
    edges: Vec<(String, Child)>,
}

impl Lab {
    fn new(case: &str) -> Lab {
        let pid = std::process::id();
        let lab = Lab {
            ns: [
                Netns::new(&format!("e6-{case}-a-{pid}")),
                Netns::new(&format!("e6-{case}-b-{pid}")),
            ],
            edges: Vec::new(),
        };
        let ns = &lab.ns;
        ns[0].veth("ul0", &ns[1], "ul0");
        for (n, ul, host, mac) in [
            (&ns[0], UL_A, HOST_A, "02:e6:00:00:00:0a"),
            (&ns[1], UL_B, HOST_B, "02:e6:00:00:00:0b"),
        ] {
            n.ipv6("all", true);
            n.ipv6("default", true);
            // IPv6 only on the underlay; no DAD delay.
            n.ip(&["addr", "add", &format!("{ul}/64"), "dev", "ul0", "nodad"]);
            n.ip(&["link", "set", "ul0", "up"]);
            // The host side: a TAP las-edge attaches to and brings up, with
            // an inner IPv4 address; no IPv6 chatter (router and listener
            // solicitations) on it.
            n.ip(&["tuntap", "add", "mode", "tap", "name", "pw0"]);
            n.ip(&["link", "set", "pw0", "address", mac]);
            n.ipv6("pw0", false);
            n.ip(&["addr", "add", &format!("{host}/24"), "dev", "pw0"]);
        }
        // The underlay answers before any las-edge runs.
        lab.wait_for(
            "underlay ping",
            &["ping", "-6", "-c", "1", "-W", "1", UL_B],
            10,
        );
        lab
    }

    fn exec(&self, side: usize, args: &[&str]) -> Output {
        self.ns[side].exec(args)
    }

    /// Retries `args` in namespace a, once a second, until it succeeds.
    fn wait_for(&self, what: &str, args: &[&str], tries: u32) {
        let mut last = None;
        for _ in 0..tries {
            let o = self.exec(0, args);
            if o.status.success() {
                return;
            }
            last = Some(o);
            sleep(Duration::from_secs(1));
        }
        let o = last.unwrap();
        panic!(
            "{what}: {args:?} never succeeded: {}{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
            self.logs()
        );
    }

    /// Starts las-edge in namespace `side` with `args`.
    fn edge(&mut self, side: usize, args: &[&str]) {
        let child = self.ns[side]
            .command(EDGE)
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start las-edge");
        self.edges.push((self.ns[side].name().to_string(), child));
    }

    /// Whether every las-edge is still running (a failed start exits).
    fn assert_running(&mut self) {
        for (ns, c) in &mut self.edges {
            if let Ok(Some(st)) = c.try_wait() {
                let mut err = String::new();
                if let Some(e) = c.stderr.as_mut() {
                    let _ = e.read_to_string(&mut err);
                }
                panic!("las-edge in {ns} exited ({st}): {err}");
            }
        }
    }

    fn logs(&self) -> String {
        let mut s = String::new();
        for n in &self.ns {
            let o = sh(&["ip", "-n", n.name(), "-s", "link", "show"]);
            s += &format!("--- {}\n{}", n.name(), String::from_utf8_lossy(&o.stdout));
        }
        s
    }

    /// Stops every las-edge with SIGTERM; returns (namespace, stdout,
    /// stderr) of each: the exit counters are on stdout.
    fn stop(&mut self) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        for (ns, mut c) in std::mem::take(&mut self.edges) {
            let _ = sh(&["kill", "-TERM", &c.id().to_string()]);
            // Dynamic mode waits up to 10 s for its StopCCN to be
            // acknowledged (the responder may be gone by then).
            let deadline = Instant::now() + Duration::from_secs(15);
            while c.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let o = c.wait_with_output().expect("las-edge output");
            assert!(o.status.success(), "las-edge in {ns}: exit {}", o.status);
            out.push((
                ns,
                String::from_utf8_lossy(&o.stdout).into_owned(),
                String::from_utf8_lossy(&o.stderr).into_owned(),
            ));
        }
        out
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for (_, c) in &mut self.edges {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `N` from a counters line `<prefix> N packets, ...`.
fn packets(counters: &str, prefix: &str) -> u64 {
    counters
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {prefix:?} line in {counters}"))
}

/// Brings up both las-edges with `a` and `b` (the namespace-specific
/// arguments), pings across the pseudowire (small and 1400-byte frames)
/// and checks the exit counters.
fn run_case(case: &str, a: &[&str], b: &[&str]) {
    assert!(
        is_root() && has_netns(),
        "this test needs root and `ip netns`: run it as root"
    );
    let mut lab = Lab::new(case);
    lab.edge(0, a);
    lab.edge(1, b);
    sleep(Duration::from_millis(500));
    lab.assert_running();
    // ARP, then echo: frames written into one TAP come out of the other,
    // both ways.
    lab.wait_for(
        "ping across the pseudowire",
        &["ping", "-c", "1", "-W", "1", HOST_B],
        15,
    );
    let o = lab.exec(0, &["ping", "-c", "5", "-i", "0.2", "-W", "2", HOST_B]);
    assert!(
        o.status.success(),
        "ping a -> b: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    // Big frames (1400 + 28 inner IP/ICMP + 14 Ethernet) fit the 1500-byte
    // IPv6 underlay with the tunnel headers; the TAP MTU is 1400.
    let o = lab.exec(
        1,
        &[
            "ping", "-c", "3", "-i", "0.2", "-W", "2", "-s", "1372", "-M", "do", HOST_A,
        ],
    );
    assert!(
        o.status.success(),
        "1400-byte ping b -> a: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    lab.assert_running();
    for (ns, stdout, stderr) in lab.stop() {
        println!("--- las-edge in {ns}\n{stdout}{stderr}");
        let tx = packets(&stdout, "tx (tap -> pseudowire): ");
        let rx = packets(&stdout, "rx (pseudowire -> tap): ");
        assert!(tx >= 9 && rx >= 9, "{ns}: tx {tx}, rx {rx}\n{stdout}");
        assert!(
            stdout.contains("drops: 0\n"),
            "{ns}: unexpected drops\n{stdout}"
        );
        assert!(stderr.contains(if case == "ip" { "Ip" } else { "Udp" }));
    }
}

#[test]
#[ignore = "needs root (netns, veth, TAP): run with cargo test -- --include-ignored"]
fn edge_ipv6_static_ip() {
    // Cookies of both sizes and the default sublayer (sequence numbers).
    let common = ["--tap", "pw0", "--encap", "ip", "--l2spec", "default"];
    let a = [
        &common[..],
        &[
            "--local",
            UL_A,
            "--peer",
            UL_B,
            "--session-id",
            "2001",
            "--peer-session-id",
            "1001",
            "--cookie",
            "0a0b0c0d",
            "--peer-cookie",
            "0102030405060708",
        ],
    ]
    .concat();
    let b = [
        &common[..],
        &[
            "--local",
            UL_B,
            "--peer",
            UL_A,
            "--session-id",
            "1001",
            "--peer-session-id",
            "2001",
            "--cookie",
            "0102030405060708",
            "--peer-cookie",
            "0a0b0c0d",
        ],
    ]
    .concat();
    run_case("ip", &a, &b);
}

#[test]
#[ignore = "needs root (netns, veth, TAP): run with cargo test -- --include-ignored"]
fn edge_ipv6_static_udp() {
    let common = ["--tap", "pw0", "--encap", "udp"];
    let a = [
        &common[..],
        &[
            "--local",
            UL_A,
            "--peer",
            UL_B,
            "--sport",
            "1702",
            "--dport",
            "1703",
            "--session-id",
            "3001",
            "--peer-session-id",
            "4001",
        ],
    ]
    .concat();
    let b = [
        &common[..],
        &[
            "--local",
            UL_B,
            "--peer",
            UL_A,
            "--sport",
            "1703",
            "--dport",
            "1702",
            "--session-id",
            "4001",
            "--peer-session-id",
            "3001",
        ],
    ]
    .concat();
    run_case("udp", &a, &b);
}

/// Dynamic mode over IPv6 (`encap`: ip or udp): las-edge in namespace a
/// against the responder in namespace b.
fn run_dynamic(encap: &str) {
    assert!(
        is_root() && has_netns(),
        "this test needs root and `ip netns`: run it as root"
    );
    let mut lab = Lab::new(&format!("d{encap}"));
    let exe = std::env::current_exe().expect("test binary");
    let responder = lab.ns[1]
        .command(exe)
        .args([
            "--exact",
            "edge_ipv6_responder",
            "--include-ignored",
            "--nocapture",
        ])
        .env("E6_RESPONDER", encap)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start the responder");
    lab.edges
        .push((format!("{} (responder)", lab.ns[1].name()), responder));
    sleep(Duration::from_millis(300));
    lab.edge(
        0,
        &[
            "--tap",
            "pw0",
            "--local",
            UL_A,
            "--peer",
            UL_B,
            "--encap",
            encap,
            "--vc-id",
            "100",
            "--router-id",
            "192.0.2.1",
            "--hello-interval",
            "2",
        ],
    );
    // The responder exits by itself once the ARP reply came back (or
    // after its deadline).
    let deadline = Instant::now() + Duration::from_secs(30);
    let (_, mut r) = lab.edges.remove(0);
    let st = loop {
        if let Some(st) = r.try_wait().expect("responder") {
            break st;
        }
        assert!(Instant::now() < deadline, "the responder never finished");
        sleep(Duration::from_millis(100));
    };
    let o = r.wait_with_output().expect("responder output");
    let rout = String::from_utf8_lossy(&o.stdout).into_owned();
    println!(
        "--- responder\n{rout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    lab.assert_running();
    let edges = lab.stop();
    for (ns, stdout, stderr) in &edges {
        println!("--- las-edge in {ns}\n{stdout}{stderr}");
    }
    assert!(
        st.success() && rout.contains("RESPONDER ok"),
        "responder failed"
    );
    let (ns, stdout, _) = &edges[0];
    assert!(
        stdout.contains("sessions up/down/refused: 1/"),
        "{ns}: no session\n{stdout}"
    );
    let tx = packets(stdout, "tx (tap -> pseudowire): ");
    let rx = packets(stdout, "rx (pseudowire -> tap): ");
    assert!(tx >= 1 && rx >= 1, "{ns}: tx {tx}, rx {rx}\n{stdout}");
}

#[test]
#[ignore = "needs root (netns, veth, TAP): run with cargo test -- --include-ignored"]
fn edge_ipv6_dynamic_ip() {
    run_dynamic("ip");
}

#[test]
#[ignore = "needs root (netns, veth, TAP): run with cargo test -- --include-ignored"]
fn edge_ipv6_dynamic_udp() {
    run_dynamic("udp");
}

/// The responder's fake host on the pseudowire.
const FAKE_MAC: [u8; 6] = [0x02, 0xe6, 0, 0, 0, 0x99];
const FAKE_IP: [u8; 4] = [10, 66, 0, 9];

/// An ARP request from the fake host for las-edge's host (RFC 826).
fn arp_request() -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&FAKE_MAC);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&FAKE_MAC);
    f.extend_from_slice(&FAKE_IP);
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&[10, 66, 0, 1]);
    f
}

fn is_arp_reply_to_us(f: &[u8]) -> bool {
    f.len() >= 42 && f[..6] == FAKE_MAC && f[12..14] == [0x08, 0x06] && f[20..22] == [0, 2]
}

/// Not a test on its own: the responder `run_dynamic` starts in
/// namespace b (does nothing without `E6_RESPONDER`). It answers one
/// las-edge's control connection as las would (IETF AVPs, no cookie,
/// no sublayer), then proves the data path both ways with ARP.
#[test]
#[ignore = "helper of edge_ipv6_dynamic_*: does nothing on its own"]
fn edge_ipv6_responder() {
    use las::control::l2tp::{Action, Endpoint, EndpointConfig, OsRandom};
    use las::edge::{Codec, SessionParams};
    use las::wire::l2tp::{Cookie, Encap, L2Spec};
    use socket2::{Domain, Protocol, Socket, Type};

    let Ok(encap) = std::env::var("E6_RESPONDER") else {
        return;
    };
    let ip = encap == "ip";
    let local: IpAddr = UL_B.parse().unwrap();
    let (sock, addr) = if ip {
        let s = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::from(115))).unwrap();
        (s, SocketAddr::new(local, 0))
    } else {
        let s = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP)).unwrap();
        (s, SocketAddr::new(local, 1701))
    };
    sock.bind(&addr.into()).unwrap();
    // std's recv_from/send_to are plain recvfrom/sendto: fine on a raw
    // socket too (the source port reads 0).
    let sock: UdpSocket = sock.into();
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mut ep: Endpoint<SocketAddr> = Endpoint::new(EndpointConfig::default(), Box::new(OsRandom));
    let t0 = Instant::now();
    let now = || t0.elapsed().as_millis() as u64;
    let send_ctl = |sock: &UdpSocket, to: SocketAddr, m: &[u8]| {
        let b = if ip {
            [&[0u8; 4][..], m].concat()
        } else {
            m.to_vec()
        };
        sock.send_to(&b, to).unwrap();
    };
    let mut codec: Option<(Codec, SocketAddr)> = None;
    let mut last_arp = Instant::now();
    let mut buf = vec![0u8; 4096];
    while t0.elapsed() < Duration::from_secs(25) {
        let mut acts = ep.poll(now());
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => {
                let p = &buf[..n];
                let ctl = if ip {
                    (n >= 4 && p[..4] == [0; 4]).then(|| &p[4..])
                } else {
                    (n >= 1 && p[0] & 0x80 != 0).then_some(p)
                };
                if let Some(m) = ctl {
                    acts.extend(ep.handle(now(), from, m));
                } else if let Some((c, _)) = codec.as_mut() {
                    if let Ok(f) = c.decap(p) {
                        println!("responder: frame of {} bytes", f.len());
                        if is_arp_reply_to_us(f) {
                            println!("RESPONDER ok: ARP reply from {from} over {encap}");
                            return;
                        }
                    }
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => println!("responder: recv: {e}"),
        }
        for (peer, a) in acts {
            match a {
                Action::Send(m) => send_ctl(&sock, peer, &m),
                Action::SessionUp(u) => {
                    println!(
                        "responder: session up, ids {} -> {}, vc {:?}",
                        u.local_session_id,
                        u.remote_session_id,
                        String::from_utf8_lossy(&u.remote_end_id)
                    );
                    let p = SessionParams {
                        encap: if ip { Encap::Ip } else { Encap::Udp },
                        session_id: u.local_session_id,
                        peer_session_id: u.remote_session_id,
                        cookie: Cookie::new(&u.our_cookie).unwrap(),
                        peer_cookie: Cookie::new(&u.peer_cookie).unwrap(),
                        l2spec: L2Spec::None,
                        peer_l2spec: L2Spec::None,
                    };
                    codec = Some((Codec::new(p), peer));
                }
                _ => {}
            }
        }
        if let Some((c, peer)) = codec.as_mut() {
            if last_arp.elapsed() > Duration::from_millis(300) {
                last_arp = Instant::now();
                let f = arp_request();
                let h = c.tx_header_len();
                let mut b = vec![0u8; h + f.len()];
                b[h..].copy_from_slice(&f);
                c.encap(&mut b).unwrap();
                let _ = sock.send_to(&b, *peer);
            }
        }
    }
    panic!("responder: no ARP reply within 25 s over {encap}");
}
