//! Integration tests that play a Cisco IOS router against the real `las`
//! binary's RFC 3931 (L2TPv3) control channel.
//!
//! las runs on a DPDK `net_af_packet` port on one end of a veth pair; the
//! test gives the kernel's end an address in las's subnet and talks to las
//! with ordinary sockets (UDP port 1701, or a raw IPv4 socket for
//! protocol 115). Every reply is parsed with `Message::parse` and checked
//! field by field; las's state is read through its control socket.
//!
//! `net_tap` would be simpler but las cannot use it: the tap PMD wants as
//! many RX as TX queues, and las asks for one TX queue more (its control
//! core's).
//!
//! tcpdump captures the kernel's end of the veth pair for the life of
//! las, and tshark must decode every frame las sent there without a
//! malformed frame or an expert error (`common::tshark`), with the Message
//! Digests verified where the test configures a secret.
//!
//! Needs root (DPDK, veth); without root the tests print "SKIPPED" and
//! pass, unless `CI` is set, in which case they fail.

mod common;

use common::tshark::{self, Capture};
use common::{counters, have_root, lock, Scratch};
use las::control::socket::query;
use las::telemetry::show::{CountersView, Request, Response, SessionView, TunnelView};
use las::wire::l2tp::auth::{self, DigestAlg};
use las::wire::l2tp::avp::{cisco, ietf, AvpOwned};
use las::wire::l2tp::message::{
    cdn_result, error_code, stopccn_result, Flavour, Message, MessageType,
};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::collections::VecDeque;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use MessageType as T;

/// The switch every test configures for VC ID "100".
const SWITCH: &str = "[[switch]]\nname = \"s1\"\nvc_ids = [\"100\"]\n";

/// True if the tests can run here: root, and `ip` for the veth pair.
fn can_run() -> bool {
    if !have_root() {
        return false;
    }
    if !sh(&["ip", "link", "show", "lo"]) {
        if std::env::var_os("CI").is_some() {
            panic!("cisco_control tests need iproute2 (ip), and CI is set");
        }
        eprintln!("\n*** SKIPPED: no iproute2 (ip) for the veth pair. ***\n");
        return false;
    }
    true
}

fn sh(args: &[&str]) -> bool {
    Command::new(args[0])
        .args(&args[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

// ---------------------------------------------------------------- las

/// A running las on a net_af_packet port (one end of a veth pair), the
/// kernel's end configured and captured. Dropping it kills las, removes
/// the veth pair and the DPDK files, and (unless the test already failed)
/// has tshark check what las sent.
struct Las {
    scratch: Scratch,
    child: Option<Child>,
    /// tcpdump on the kernel's end, from before las starts.
    capture: Option<Capture>,
    /// How tshark judges the capture: the frames from las's MAC.
    tshark: tshark::Check,
    iface: String,
    sock: PathBuf,
    las_ip: Ipv4Addr,
    my_ip: Ipv4Addr,
}

impl Las {
    /// Starts las with `[l2tp]` lines `l2tp` and top-level tables `extra`,
    /// on 198.19.`net`.1/24; the kernel side gets .10 and .11.
    fn start(name: &str, net: u8, l2tp: &str, extra: &str) -> Las {
        let scratch = Scratch::new(&format!("cisco-{name}"));
        let pid = std::process::id() % 100_000;
        // las's end (af_packet) and the kernel's end of a veth pair.
        let las_if = format!("lc{net}l{pid}");
        let iface = format!("lc{net}k{pid}");
        let las_ip = Ipv4Addr::new(198, 19, net, 1);
        let my_ip = Ipv4Addr::new(198, 19, net, 10);
        let _ = sh(&["ip", "link", "del", &iface]);
        assert!(
            sh(&["ip", "link", "add", &iface, "type", "veth", "peer", "name", &las_if]),
            "cannot create veth pair {iface}/{las_if}"
        );
        let dir = scratch.dir.clone();
        let sock = dir.join("las.sock");
        let cfg = format!(
            "[eal]\nargs = [\"--no-pci\", \"--no-huge\", \"--no-shconf\", \"-m\", \"256\", \"--file-prefix\", \"{}\"]\n\n\
             [dataplane]\nmbufs = 4095\nmax_sessions = 16\nmax_switches = 4\nmac_table_size = 1024\n\n\
             [control]\nsocket = \"{}\"\n\n\
             [[port]]\nname = \"wan0\"\ndevice = \"net_af_packet0,iface={las_if}\"\n\
             address = \"{las_ip}/24\"\nmac = \"02:00:00:00:00:01\"\n\n\
             [l2tp]\nhost_name = \"las-test\"\n{l2tp}\n{extra}\n",
            scratch.prefix,
            sock.display(),
        );
        std::fs::write(dir.join("las.toml"), cfg).unwrap();
        // Neither end may answer or forward for las; IPv6 only adds noise.
        for i in [&iface, &las_if] {
            let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{i}/disable_ipv6"), "1");
        }
        let _ = std::fs::write(format!("/proc/sys/net/ipv4/conf/{las_if}/forwarding"), "0");
        for a in [
            vec!["ip", "link", "set", "dev", &las_if, "up"],
            vec!["ip", "link", "set", "dev", &iface, "up"],
            vec!["ip", "addr", "add", &format!("{my_ip}/24"), "dev", &iface],
            vec![
                "ip",
                "addr",
                "add",
                &format!("198.19.{net}.11/24"),
                "dev",
                &iface,
            ],
        ] {
            assert!(sh(&a), "{a:?} failed");
        }
        // Checksums filled in by the kernel: af_packet hands las the frame as is.
        let _ = sh(&["ethtool", "-K", &iface, "tx", "off"]);
        let what = format!("what las sent in cisco_control {name}");
        let capture = Capture::start(&iface, &dir.join("wire.pcap"), 100_000, &what);
        let mut check = tshark::Check::new(&what);
        check.from = Some("eth.src == 02:00:00:00:00:01".into());
        let child = Command::new(env!("CARGO_BIN_EXE_las"))
            .arg("--config")
            .arg(dir.join("las.toml"))
            .arg("--cores")
            .arg("0")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.join("stdout.txt")).unwrap())
            .stderr(std::fs::File::create(dir.join("stderr.txt")).unwrap())
            .spawn()
            .expect("cannot start las");
        let mut las = Las {
            scratch,
            child: Some(child),
            capture,
            tshark: check,
            iface,
            sock,
            las_ip,
            my_ip,
        };
        let t0 = Instant::now();
        loop {
            if let Ok(Response::Ports { .. }) = query(&las.sock, &Request::Ports) {
                break;
            }
            if let Ok(Some(st)) = las.child.as_mut().unwrap().try_wait() {
                panic!("las exited early with {st}{}", las.logs());
            }
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "las never became ready{}",
                las.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        las
    }

    fn logs(&self) -> String {
        let d = &self.scratch.dir;
        format!(
            "\n--- las stdout ---\n{}\n--- las stderr ---\n{}",
            std::fs::read_to_string(d.join("stdout.txt")).unwrap_or_default(),
            std::fs::read_to_string(d.join("stderr.txt")).unwrap_or_default()
        )
    }

    fn ask(&self, r: Request) -> Response {
        match query(&self.sock, &r) {
            Ok(Response::Error { error }) => panic!("las answered {r:?} with error {error}"),
            Ok(x) => x,
            Err(e) => panic!("query {r:?}: {e}{}", self.logs()),
        }
    }

    fn tunnels(&self) -> Vec<TunnelView> {
        match self.ask(Request::Tunnels) {
            Response::Tunnels { tunnels } => tunnels,
            x => panic!("unexpected {x:?}"),
        }
    }

    fn sessions(&self) -> Vec<SessionView> {
        match self.ask(Request::Sessions) {
            Response::Sessions { sessions } => sessions,
            x => panic!("unexpected {x:?}"),
        }
    }

    fn counters(&self) -> CountersView {
        counters(&self.sock)
    }

    fn control(&self, k: &str) -> u64 {
        *self
            .counters()
            .control
            .get(k)
            .unwrap_or_else(|| panic!("no control counter {k}"))
    }

    /// Polls `f` for up to `t`; panics with `what` if it never holds.
    fn wait(&self, t: Duration, what: &str, mut f: impl FnMut(&Las) -> bool) {
        let t0 = Instant::now();
        while !f(self) {
            assert!(
                t0.elapsed() < t,
                "timed out waiting for {what}{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until las has `n` sessions, all with a resolved next hop.
    fn wait_sessions_up(&self, n: usize) -> Vec<SessionView> {
        self.wait(Duration::from_secs(5), "sessions up", |l| {
            let s = l.sessions();
            s.len() == n && s.iter().all(|s| s.state == "up")
        });
        self.sessions()
    }

    fn sigint(&self) {
        let pid = self.child.as_ref().unwrap().id();
        assert!(sh(&["kill", "-INT", &pid.to_string()]));
    }

    fn wait_exit(&mut self) -> ExitStatus {
        let c = self.child.as_mut().unwrap();
        let t0 = Instant::now();
        loop {
            if let Ok(Some(s)) = c.try_wait() {
                self.child = None;
                return s;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "las did not exit within 20 s of SIGINT{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGINT, then las must exit with status 0.
    fn stop(mut self) {
        self.sigint();
        let st = self.wait_exit();
        assert!(st.success(), "las exited with {st}{}", self.logs());
    }
}

impl Drop for Las {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(c) = self.capture.as_mut() {
            c.stop();
        }
        // Deleting one end of the veth pair deletes both.
        let _ = Command::new("ip")
            .args(["link", "del", &self.iface])
            .stderr(Stdio::null())
            .status();
        // A test that failed already says why; a second panic would abort.
        if let Some(c) = &self.capture {
            if !std::thread::panicking() {
                tshark::assert_clean(&c.path, &self.tshark);
            }
        }
    }
}

// ---------------------------------------------------------------- peer

enum Transport {
    Udp(UdpSocket),
    Ip(Socket),
}

/// Digest state of an authenticated control connection.
struct AuthState {
    key: Vec<u8>,
    our_nonce: Vec<u8>,
    las_nonce: Vec<u8>,
}

/// One control connection as the Cisco side sees it.
struct Peer {
    t: Transport,
    las_ip: Ipv4Addr,
    /// las's Control Connection ID (0 until SCCRP).
    ccid: u32,
    /// Ours.
    my_ccid: u32,
    ns: u16,
    nr: u16,
    /// Data packets received, from the session id on.
    data: VecDeque<Vec<u8>>,
    auth: Option<AuthState>,
}

impl Peer {
    fn udp(las: &Las, src: Ipv4Addr, port: u16, my_ccid: u32) -> Peer {
        let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
        s.set_reuse_address(true).unwrap();
        s.bind(&SockAddr::from(SocketAddrV4::new(src, port)))
            .unwrap_or_else(|e| panic!("bind {src}:{port}: {e}"));
        let u: UdpSocket = s.into();
        u.connect(SocketAddrV4::new(las.las_ip, 1701)).unwrap();
        Peer::new(Transport::Udp(u), las.las_ip, my_ccid)
    }

    fn ip(las: &Las, my_ccid: u32) -> Peer {
        let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(115))).unwrap();
        s.bind(&SockAddr::from(SocketAddrV4::new(las.my_ip, 0)))
            .unwrap();
        Peer::new(Transport::Ip(s), las.las_ip, my_ccid)
    }

    fn new(t: Transport, las_ip: Ipv4Addr, my_ccid: u32) -> Peer {
        Peer {
            t,
            las_ip,
            ccid: 0,
            my_ccid,
            ns: 0,
            nr: 0,
            data: VecDeque::new(),
            auth: None,
        }
    }

    fn is_udp(&self) -> bool {
        matches!(self.t, Transport::Udp(_))
    }

    /// Sends a control message as is (over IP behind 4 zero bytes).
    fn send_raw(&self, msg: &[u8]) {
        match &self.t {
            Transport::Udp(u) => {
                u.send(msg).unwrap();
            }
            Transport::Ip(s) => {
                let mut b = vec![0u8; 4];
                b.extend_from_slice(msg);
                s.send_to(&b, &SockAddr::from(SocketAddrV4::new(self.las_ip, 0)))
                    .unwrap();
            }
        }
    }

    /// Sends a data packet for `session` carrying `frame`.
    fn send_data(&self, session: u32, frame: &[u8]) {
        let mut b = Vec::new();
        if self.is_udp() {
            b.extend_from_slice(&[0x00, 0x03, 0x00, 0x00]);
        }
        b.extend_from_slice(&session.to_be_bytes());
        b.extend_from_slice(frame);
        match &self.t {
            Transport::Udp(u) => {
                u.send(&b).unwrap();
            }
            Transport::Ip(s) => {
                s.send_to(&b, &SockAddr::from(SocketAddrV4::new(self.las_ip, 0)))
                    .unwrap();
            }
        }
    }

    /// Numbers `m` (ccid, Ns, Nr), emits it (with a digest when
    /// authenticating) and sends it. Returns the bytes. A ZLB or an
    /// explicit ACK carries our next Ns without using it up.
    fn send(&mut self, mut m: Message) -> Vec<u8> {
        m.ccid = self.ccid;
        m.ns = self.ns;
        m.nr = self.nr;
        if !m.is_ack() {
            self.ns = self.ns.wrapping_add(1);
        }
        let b = match &self.auth {
            Some(a) => m.emit_with_digest(DigestAlg::Md5, &a.key, &a.our_nonce, &a.las_nonce),
            None => m.emit(),
        };
        self.send_raw(&b);
        b
    }

    fn ack(&mut self) {
        self.send(Message::zlb(0, 0, 0));
    }

    /// The next control message's bytes within `t` (data packets are
    /// queued in `self.data`).
    fn recv_bytes(&mut self, t: Duration) -> Option<Vec<u8>> {
        let end = Instant::now() + t;
        let mut buf = vec![0u8; 65536];
        loop {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            let left = left.max(Duration::from_millis(1));
            let payload = match &mut self.t {
                Transport::Udp(u) => {
                    u.set_read_timeout(Some(left)).unwrap();
                    match u.recv(&mut buf) {
                        Ok(n) => buf[..n].to_vec(),
                        Err(_) => continue,
                    }
                }
                Transport::Ip(s) => {
                    s.set_read_timeout(Some(left)).unwrap();
                    let n = match s.read(&mut buf) {
                        Ok(n) => n,
                        Err(_) => continue,
                    };
                    let b = &buf[..n];
                    let ihl = usize::from(b[0] & 0x0f) * 4;
                    let total = usize::from(u16::from_be_bytes([b[2], b[3]])).min(n);
                    if b[9] != 115 || b[12..16] != self.las_ip.octets() || total < ihl + 4 {
                        continue;
                    }
                    let p = &b[ihl..total];
                    if p[..4] != [0; 4] {
                        self.data.push_back(p.to_vec());
                        continue;
                    }
                    p[4..].to_vec()
                }
            };
            if self.is_udp() && payload.len() >= 8 && payload[0] & 0x80 == 0 {
                self.data.push_back(payload[4..].to_vec());
                continue;
            }
            return Some(payload);
        }
    }

    /// The next control message within `t`, parsed; checks it is for us.
    fn recv(&mut self, t: Duration) -> Option<(Message, Vec<u8>)> {
        let b = self.recv_bytes(t)?;
        let m =
            Message::parse(&b).unwrap_or_else(|e| panic!("las sent a bad message {e:?}: {b:02x?}"));
        assert_eq!(m.ccid, self.my_ccid, "Control Connection ID of {m:?}");
        Some((m, b))
    }

    /// The next message but ZLBs and explicit ACKs (skipped), which must
    /// be of type `ty` and in sequence; advances Nr.
    fn expect(&mut self, ty: MessageType) -> Message {
        self.expect_raw(ty).0
    }

    fn expect_raw(&mut self, ty: MessageType) -> (Message, Vec<u8>) {
        let end = Instant::now() + Duration::from_secs(3);
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let Some((m, b)) = self.recv(left) else {
                panic!("no {ty:?} from las within 3 s");
            };
            if m.is_ack() {
                continue;
            }
            assert_eq!(m.msg_type, Some(ty), "message type of {m:?}");
            assert_eq!(m.ns, self.nr, "Ns of {m:?}");
            assert_eq!(m.nr, self.ns, "Nr of {m:?} (acknowledges all we sent)");
            self.nr = self.nr.wrapping_add(1);
            return (m, b);
        }
    }

    /// A ZLB acknowledging everything we sent must come next.
    fn expect_zlb(&mut self) {
        let Some((m, _)) = self.recv(Duration::from_secs(2)) else {
            panic!("no ZLB ACK from las within 2 s");
        };
        assert!(m.is_zlb(), "expected a ZLB, got {m:?}");
        assert_eq!(m.ns, self.nr, "Ns of the ZLB");
        assert_eq!(m.nr, self.ns, "Nr of the ZLB");
    }

    /// An explicit ACK (type 20) acknowledging everything we sent must
    /// come next, carrying las's next Ns; with authentication its
    /// Message Digest (right after the Message Type) must verify.
    fn expect_ack(&mut self) -> Message {
        let Some((m, b)) = self.recv(Duration::from_secs(2)) else {
            panic!("no ACK from las within 2 s");
        };
        assert!(!m.is_zlb(), "a ZLB where an explicit ACK is due: {m:?}");
        assert_eq!(m.msg_type, Some(T::Ack), "expected an ACK, got {m:?}");
        assert_eq!(m.ns, self.nr, "Ns of the ACK (las's next, not used up)");
        assert_eq!(m.nr, self.ns, "Nr of the ACK");
        if let Some(a) = &self.auth {
            let d = &m.avps[0];
            assert_eq!(
                (d.vendor, d.attr, d.mandatory),
                (ietf::VENDOR, ietf::MESSAGE_DIGEST, true),
                "ACK without a Message Digest: {m:?}"
            );
            assert!(
                auth::verify_digest(&b, &a.key, &a.our_nonce, &a.las_nonce),
                "ACK digest does not verify"
            );
        }
        m
    }

    /// Nothing at all on the control channel for `t`.
    fn expect_silence(&mut self, t: Duration) {
        if let Some(b) = self.recv_bytes(t) {
            panic!("expected no answer, got {:?}", Message::parse(&b));
        }
    }

    /// The next data packet within `t` (from the session id on).
    fn recv_data(&mut self, t: Duration) -> Option<Vec<u8>> {
        if let Some(d) = self.data.pop_front() {
            return Some(d);
        }
        let _ = self.recv_bytes(t);
        self.data.pop_front()
    }
}

// ---------------------------------------------------------------- messages

/// (vendor, attr, M, H) of every AVP, sorted.
fn avp_set(m: &Message) -> Vec<(u16, u16, bool, bool)> {
    let mut v: Vec<_> = m
        .avps
        .iter()
        .map(|a| (a.vendor, a.attr, a.mandatory, a.hidden))
        .collect();
    v.sort();
    v
}

/// The AVPs a message of flavour `fl` has for IETF attributes `attrs`
/// that have a Cisco twin, plus `plain` (IETF, M = 1) and `cisco_extra`
/// (vendor 9, M = 1), sorted.
fn want_set(
    fl: Flavour,
    dual: &[u16],
    plain: &[u16],
    cisco_extra: &[u16],
) -> Vec<(u16, u16, bool, bool)> {
    let mut v = Vec::new();
    for &a in plain {
        v.push((ietf::VENDOR, a, true, false));
    }
    for &a in dual {
        match fl {
            Flavour::Ietf => v.push((ietf::VENDOR, a, true, false)),
            Flavour::CiscoDual => {
                v.push((ietf::VENDOR, a, false, false));
                v.push((cisco::VENDOR, cisco::from_ietf(a).unwrap(), true, false));
            }
        }
    }
    if fl == Flavour::CiscoDual {
        for &a in cisco_extra {
            v.push((cisco::VENDOR, a, true, false));
        }
    }
    v.sort();
    v
}

fn find(m: &Message, vendor: u16, attr: u16) -> &AvpOwned {
    m.find(vendor, attr)
        .unwrap_or_else(|| panic!("no AVP {vendor}/{attr} in {m:?}"))
}

/// The value of a dual attribute: the IETF AVP and, in `CiscoDual`, the
/// vendor-9 copy must carry the same value.
fn dual_value(m: &Message, fl: Flavour, attr: u16) -> Vec<u8> {
    let v = find(m, ietf::VENDOR, attr).value.clone();
    if fl == Flavour::CiscoDual {
        let c = find(m, cisco::VENDOR, cisco::from_ietf(attr).unwrap());
        assert_eq!(c.value, v, "vendor-9 copy of attribute {attr}");
    }
    v
}

fn be32(v: &[u8]) -> u32 {
    u32::from_be_bytes(v.try_into().expect("4 bytes"))
}

fn sccrq(fl: Flavour, my_ccid: u32) -> Message {
    let m = Message::new(T::Sccrq, 0)
        .with_host_name(b"ios-pe1")
        .with_router_id(0x0a00_0001)
        .with_assigned_ccid(fl, my_ccid)
        .with_pw_capabilities(fl, &[5, 4])
        .with_receive_window(1024);
    match fl {
        Flavour::Ietf => m,
        Flavour::CiscoDual => m.avp_u16(cisco::VENDOR, cisco::DRAFT_AVP_VERSION, true, 1),
    }
}

fn icrq(fl: Flavour, sid: u32, vc: &[u8], pw: u16) -> Message {
    Message::new(T::Icrq, 0)
        .with_local_session_id(fl, sid)
        .with_remote_session_id(fl, 0)
        .with_remote_end_id(fl, vc)
        .with_pw_type(fl, pw)
        .with_circuit_status(fl, true, true)
}

fn iccn(fl: Flavour, ours: u32, theirs: u32) -> Message {
    Message::new(T::Iccn, 0)
        .with_local_session_id(fl, ours)
        .with_remote_session_id(fl, theirs)
        .with_circuit_status(fl, true, false)
}

fn cdn(fl: Flavour, ours: u32, theirs: u32) -> Message {
    Message::new(T::Cdn, 0)
        .with_result_code(cdn_result::ADMINISTRATIVE, None, None)
        .with_local_session_id(fl, ours)
        .with_remote_session_id(fl, theirs)
}

fn stopccn(fl: Flavour, my_ccid: u32) -> Message {
    Message::new(T::StopCcn, 0)
        .with_result_code(stopccn_result::GENERAL_REQUEST_TO_CLEAR, None, None)
        .with_assigned_ccid(fl, my_ccid)
}

/// SCCRQ → SCCRP (checked field by field) → SCCCN → ZLB. Returns las's
/// Control Connection ID.
fn open_tunnel(las: &Las, p: &mut Peer, fl: Flavour) -> u32 {
    p.send(sccrq(fl, p.my_ccid));
    let r = p.expect(T::Sccrp);
    check_sccrp(las, &r, fl);
    let ccid = be32(&dual_value(&r, fl, ietf::ASSIGNED_CONTROL_CONNECTION_ID));
    assert_ne!(ccid, 0, "las's Control Connection ID");
    p.ccid = ccid;
    p.send(Message::new(T::Scccn, 0));
    p.expect_zlb();
    ccid
}

fn check_sccrp(las: &Las, r: &Message, fl: Flavour) {
    assert_eq!((r.ns, r.nr), (0, 1), "SCCRP Ns/Nr");
    assert_eq!(
        avp_set(r),
        want_set(
            fl,
            &[
                ietf::ASSIGNED_CONTROL_CONNECTION_ID,
                ietf::PW_CAPABILITY_LIST
            ],
            &[ietf::HOST_NAME, ietf::ROUTER_ID, ietf::RECEIVE_WINDOW_SIZE],
            &[cisco::DRAFT_AVP_VERSION],
        ),
        "SCCRP AVPs: {r:?}"
    );
    assert_eq!(r.host_name(), Some(&b"las-test"[..]));
    assert_eq!(r.router_id(), Some(u32::from(las.las_ip)));
    assert_eq!(r.receive_window(), Some(16));
    assert_eq!(
        dual_value(r, fl, ietf::PW_CAPABILITY_LIST),
        vec![0, 5, 0, 4],
        "PW capabilities"
    );
    if fl == Flavour::CiscoDual {
        assert_eq!(
            find(r, cisco::VENDOR, cisco::DRAFT_AVP_VERSION).value,
            vec![0, 1]
        );
    } else {
        assert!(!r.has_cisco_avps(), "IETF peer got vendor-9 AVPs: {r:?}");
    }
}

/// ICRQ → ICRP (checked) → ICCN → ZLB. Returns las's Session ID.
fn open_session(p: &mut Peer, fl: Flavour, ours: u32) -> u32 {
    p.send(icrq(fl, ours, b"100", 5));
    let r = p.expect(T::Icrp);
    assert_eq!(
        avp_set(&r),
        want_set(
            fl,
            &[
                ietf::LOCAL_SESSION_ID,
                ietf::REMOTE_SESSION_ID,
                ietf::PW_TYPE
            ],
            &[],
            &[],
        ),
        "ICRP AVPs (no cookie by default): {r:?}"
    );
    let sid = be32(&dual_value(&r, fl, ietf::LOCAL_SESSION_ID));
    assert_ne!(sid, 0, "las's Session ID");
    assert_eq!(be32(&dual_value(&r, fl, ietf::REMOTE_SESSION_ID)), ours);
    assert_eq!(dual_value(&r, fl, ietf::PW_TYPE), vec![0, 5]);
    assert_eq!(r.assigned_cookie(), None);
    p.send(iccn(fl, ours, sid));
    p.expect_zlb();
    sid
}

/// An Ethernet broadcast frame with a recognizable payload.
fn bcast_frame(tag: u8) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[0x02, 0xbb, 0, 0, 0, tag]);
    f.extend_from_slice(&[0x08, 0x00]);
    for i in 0..64u8 {
        f.push(i ^ tag);
    }
    f
}

// ---------------------------------------------------------------- 1-3. handshake, sessions, data

/// The whole life of a tunnel: setup, two sessions for VC ID "100", a
/// flooded frame between them, CDN, StopCCN.
fn full_flow(name: &str, net: u8, udp: bool, fl: Flavour) {
    let las = Las::start(name, net, "", SWITCH);
    let mut p = if udp {
        Peer::udp(&las, las.my_ip, 1701, 0x0c15_c001)
    } else {
        Peer::ip(&las, 0x0c15_c001)
    };
    let ccid = open_tunnel(&las, &mut p, fl);
    let t = las.tunnels();
    assert_eq!(t.len(), 1, "{t:?}");
    assert_eq!(t[0].local_ccid, ccid);
    assert_eq!(t[0].remote_ccid, p.my_ccid);
    assert_eq!(t[0].peer, las.my_ip.to_string());
    assert_eq!(t[0].encap, if udp { "udp:1701" } else { "ip" });
    assert_eq!(t[0].state, "established");
    assert_eq!(t[0].host_name, "ios-pe1");
    let want_fl = match fl {
        Flavour::Ietf => "ietf",
        Flavour::CiscoDual => "ciscodual",
    };
    assert_eq!(t[0].flavour, want_fl);

    let (ours_a, ours_b) = (0x0000_1001, 0x0000_1002);
    let sid_a = open_session(&mut p, fl, ours_a);
    let sid_b = open_session(&mut p, fl, ours_b);
    assert_ne!(sid_a, sid_b);
    let s = las.wait_sessions_up(2);
    for (sid, ours) in [(sid_a, ours_a), (sid_b, ours_b)] {
        let v = s
            .iter()
            .find(|v| v.local_session_id == sid)
            .unwrap_or_else(|| panic!("no session {sid} in {s:?}"));
        assert_eq!(v.kind, "dynamic");
        assert_eq!(v.vc_id.as_deref(), Some("100"));
        assert_eq!(v.switch, "s1");
        assert_eq!(v.ccid, Some(ccid));
        assert_eq!(v.remote_session_id, ours);
        assert_eq!(v.peer, las.my_ip.to_string());
        assert_eq!(v.encap, if udp { "udp:1701->1701" } else { "ip" }, "{v:?}");
        assert_eq!(v.local_cookie, "");
        assert_eq!(v.remote_cookie, "");
        assert_eq!(v.l2spec, "none");
    }
    assert_eq!(las.tunnels()[0].sessions, 2);

    // Data: a broadcast into session A is flooded to B only.
    let f = bcast_frame(1);
    p.send_data(sid_a, &f);
    let d = p
        .recv_data(Duration::from_secs(2))
        .expect("las did not flood the frame to session B");
    assert_eq!(be32(&d[..4]), ours_b, "session id of the flooded copy");
    assert_eq!(&d[4..], &f[..], "inner frame");
    assert_eq!(
        p.recv_data(Duration::from_millis(300)),
        None,
        "split horizon"
    );
    let s = las.sessions();
    let a = s.iter().find(|v| v.local_session_id == sid_a).unwrap();
    let b = s.iter().find(|v| v.local_session_id == sid_b).unwrap();
    assert_eq!((a.rx_packets, a.tx_packets), (1, 0));
    assert_eq!((b.rx_packets, b.tx_packets), (0, 1));

    // CDN for B: las removes it and acknowledges.
    p.send(cdn(fl, ours_b, sid_b));
    p.expect_zlb();
    las.wait(Duration::from_secs(2), "session B removed", |l| {
        let s = l.sessions();
        s.len() == 1 && s[0].local_session_id == sid_a
    });
    assert_eq!(las.control("sessions_down"), 1);

    // StopCCN: every session goes; the tunnel is held (closing) to
    // acknowledge retransmissions for a full cycle (RFC 3931 §6.4).
    let stop = p.send(stopccn(fl, p.my_ccid));
    p.expect_zlb();
    las.wait(Duration::from_secs(2), "sessions cleared", |l| {
        l.sessions().is_empty()
    });
    let t = las.tunnels();
    assert!(
        t.is_empty() || (t.len() == 1 && t[0].state == "closing" && t[0].sessions == 0),
        "after StopCCN: {t:?}"
    );
    // A retransmitted StopCCN (our ZLB was "lost") is acknowledged again.
    p.send_raw(&stop);
    p.expect_zlb();
    assert_eq!(las.control("sessions_down"), 2);
    // Nothing else from las (no StopCCN of its own at shutdown either).
    las.stop();
}

#[test]
fn cisco_dual_over_udp() {
    let _g = lock();
    if !can_run() {
        return;
    }
    full_flow("dual-udp", 1, true, Flavour::CiscoDual);
}

#[test]
fn ietf_over_ip() {
    let _g = lock();
    if !can_run() {
        return;
    }
    full_flow("ietf-ip", 2, false, Flavour::Ietf);
}

#[test]
fn cisco_dual_over_ip() {
    let _g = lock();
    if !can_run() {
        return;
    }
    full_flow("dual-ip", 3, false, Flavour::CiscoDual);
}

#[test]
fn ietf_over_udp() {
    let _g = lock();
    if !can_run() {
        return;
    }
    full_flow("ietf-udp", 4, true, Flavour::Ietf);
}

// ---------------------------------------------------------------- 4. reliability

/// A retransmitted SCCRQ makes no second tunnel; an unacknowledged SCCRP
/// is retransmitted after ~1 s and ~2 s more, with the same Ns.
#[test]
fn sccrq_retransmit_and_sccrp_retransmissions() {
    let _g = lock();
    if !can_run() {
        return;
    }
    let las = Las::start("rexmit", 5, "", SWITCH);
    let fl = Flavour::CiscoDual;
    let mut p = Peer::udp(&las, las.my_ip, 1701, 0x0c15_c002);
    let rq = p.send(sccrq(fl, p.my_ccid));
    let r = p.expect(T::Sccrp);
    let t0 = Instant::now();
    check_sccrp(&las, &r, fl);
    // Retransmission of the SCCRQ (same Ns 0, Nr 0: it does not ack).
    p.send_raw(&rq);
    let mut times = Vec::new();
    while times.len() < 2 {
        let Some((m, _)) = p.recv(Duration::from_secs(4)) else {
            panic!("SCCRP not retransmitted (got {} so far)", times.len());
        };
        if m.is_zlb() {
            // The duplicate SCCRQ is acknowledged.
            assert_eq!((m.ns, m.nr), (1, 1), "ZLB for the duplicate SCCRQ");
            continue;
        }
        assert_eq!(m.msg_type, Some(T::Sccrp));
        assert_eq!((m.ns, m.nr), (0, 1), "retransmitted SCCRP keeps Ns 0");
        assert_eq!(m.avps, r.avps, "retransmission carries the same AVPs");
        times.push(t0.elapsed());
    }
    let d1 = times[0].as_secs_f64();
    let d2 = (times[1] - times[0]).as_secs_f64();
    assert!(
        (0.7..1.6).contains(&d1),
        "first retransmission after {d1} s"
    );
    assert!(
        (1.6..2.8).contains(&d2),
        "second retransmission {d2} s later"
    );
    let t = las.tunnels();
    assert_eq!(t.len(), 1, "one tunnel for a retransmitted SCCRQ: {t:?}");
    assert_eq!(t[0].state, "waitctlconn");
    // Completing the handshake still works.
    p.ccid = be32(&dual_value(&r, fl, ietf::ASSIGNED_CONTROL_CONNECTION_ID));
    p.send(Message::new(T::Scccn, 0));
    p.expect_zlb();
    assert_eq!(las.tunnels()[0].state, "established");
    las.stop();
}

/// With `hello_interval = 1` a silent peer gets HELLOs; a peer that
/// stops answering is declared dead after the retransmissions and its
/// tunnel and sessions are cleared.
#[test]
fn hello_and_dead_peer() {
    let _g = lock();
    if !can_run() {
        return;
    }
    let las = Las::start(
        "hello",
        6,
        "hello_interval = 1\nretransmit_max = 1\nretransmit_retries = 2\n",
        SWITCH,
    );
    let fl = Flavour::CiscoDual;
    let mut p = Peer::udp(&las, las.my_ip, 1701, 0x0c15_c003);
    open_tunnel(&las, &mut p, fl);
    open_session(&mut p, fl, 0x2001);
    las.wait_sessions_up(1);
    // Silent: a HELLO comes about a second later.
    let t0 = Instant::now();
    let h = p.expect(T::Hello);
    assert!(h.avps.is_empty(), "HELLO carries only the Message Type");
    assert!(t0.elapsed() < Duration::from_millis(2500));
    p.ack();
    // Acknowledged: the next one a second later, with the next Ns.
    let t1 = Instant::now();
    let h2 = p.expect(T::Hello);
    let e = t1.elapsed().as_secs_f64();
    assert!((0.7..2.0).contains(&e), "second HELLO after {e} s");
    assert!(las.tunnels()[0].hellos_sent >= 2);
    // Now we play dead: the HELLO is retransmitted (same Ns) twice, then
    // las gives up and clears the tunnel and its session.
    let mut rexmit = 0;
    while let Some((m, _)) = p.recv(Duration::from_millis(1600)) {
        assert_eq!(m.msg_type, Some(T::Hello), "{m:?}");
        assert_eq!(m.ns, h2.ns, "retransmitted HELLO keeps its Ns");
        rexmit += 1;
    }
    assert_eq!(rexmit, 2, "retransmissions with retransmit_retries = 2");
    las.wait(Duration::from_secs(3), "dead peer's tunnel cleared", |l| {
        l.tunnels().is_empty()
    });
    assert!(las.sessions().is_empty(), "sessions of a dead tunnel");
    assert_eq!(las.control("sessions_down"), 1);
    assert_eq!(las.control("l2tp_tunnels"), 0);
    las.stop();
}

// ---------------------------------------------------------------- 5. errors

#[test]
fn errors_and_malformed() {
    let _g = lock();
    if !can_run() {
        return;
    }
    let las = Las::start("errors", 7, "allow = [\"198.19.7.10/32\"]\n", SWITCH);
    let fl = Flavour::CiscoDual;
    let mut p = Peer::udp(&las, las.my_ip, 1701, 0x0c15_c004);
    open_tunnel(&las, &mut p, fl);

    // PW type 11 (IP interworking) is not supported: CDN result 14.
    p.send(icrq(fl, 0x3001, b"100", 11));
    let c = p.expect(T::Cdn);
    let rc = c.result_code().expect("Result Code");
    assert_eq!(rc.result, cdn_result::UNSUPPORTED_PW_TYPE, "{c:?}");
    assert_eq!(c.remote_session_id(), Some(0x3001));
    assert_eq!(c.local_session_id(), Some(0));
    assert!(find(&c, ietf::VENDOR, ietf::RESULT_CODE).mandatory);
    p.ack();

    // An unknown mandatory AVP in an ICRQ: CDN result 2, error 8.
    p.send(icrq(fl, 0x3002, b"100", 5).avp_u32(ietf::VENDOR, 99, true, 7));
    let c = p.expect(T::Cdn);
    let rc = c.result_code().expect("Result Code");
    assert_eq!(
        (rc.result, rc.error),
        (
            cdn_result::GENERAL_ERROR,
            Some(error_code::UNKNOWN_MANDATORY_AVP)
        ),
        "{c:?}"
    );
    assert_eq!(c.remote_session_id(), Some(0x3002));
    p.ack();
    // ... but an unknown AVP with M = 0 is ignored (RFC 3931 §5.2).
    p.send(icrq(fl, 0x3003, b"100", 5).avp_u32(ietf::VENDOR, 99, false, 7));
    p.expect(T::Icrp);
    p.ack();
    assert_eq!(las.tunnels()[0].state, "established");

    // SCCRQ with an unknown mandatory AVP: StopCCN result 2, error 8.
    let mut q = Peer::udp(&las, las.my_ip, 0, 0x0c15_c005);
    q.send(sccrq(fl, q.my_ccid).avp_u32(cisco::VENDOR, 200, true, 1));
    let s = q.expect(T::StopCcn);
    let rc = s.result_code().expect("Result Code");
    assert_eq!(
        (rc.result, rc.error),
        (
            stopccn_result::GENERAL_ERROR,
            Some(error_code::UNKNOWN_MANDATORY_AVP)
        ),
        "{s:?}"
    );
    assert_ne!(s.assigned_ccid(), Some(0));
    assert!(s.assigned_ccid().is_some());

    // Malformed control messages: counted, never answered, no crash.
    let before = las.control("l2tp_malformed");
    let good = sccrq(fl, 0x0c15_c006).emit();
    let mut bad_len = good.clone();
    let l = u16::from_be_bytes([bad_len[2], bad_len[3]]) + 10;
    bad_len[2..4].copy_from_slice(&l.to_be_bytes());
    let mut avp_overflow = good.clone();
    // Second AVP (after the 8-byte Message Type): length 0x3ff.
    avp_overflow[20] |= 0x03;
    avp_overflow[21] = 0xff;
    let truncated = good[..10].to_vec();
    let mut short_avp = good.clone();
    short_avp[20] &= 0xfc;
    short_avp[21] = 3;
    let mut r = Peer::udp(&las, las.my_ip, 0, 0);
    for b in [&bad_len, &avp_overflow, &truncated, &short_avp] {
        r.send_raw(b);
    }
    r.expect_silence(Duration::from_millis(500));
    las.wait(Duration::from_secs(2), "l2tp_malformed counted", |l| {
        l.control("l2tp_malformed") == before + 4
    });

    // A peer outside [l2tp] allow: no answer, counted.
    let before = las.control("l2tp_peer_refused");
    let mut x = Peer::udp(&las, Ipv4Addr::new(198, 19, 7, 11), 1701, 0x0c15_c007);
    x.send(sccrq(fl, x.my_ccid));
    x.expect_silence(Duration::from_millis(700));
    assert_eq!(las.control("l2tp_peer_refused"), before + 1);
    assert!(
        las.counters().drops.values().sum::<u64>() >= 1,
        "refused control packet counted as a drop"
    );

    // Still alive: the first tunnel answers a HELLO.
    p.send(Message::new(T::Hello, 0));
    p.expect_zlb();
    let t = las.tunnels();
    assert_eq!(
        t.iter().filter(|t| t.state == "established").count(),
        1,
        "{t:?}"
    );
    las.stop();
}

// ---------------------------------------------------------------- 6. authentication

#[test]
fn message_digest_authentication() {
    let _g = lock();
    if !can_run() {
        return;
    }
    let mut las = Las::start("auth", 8, "secret = \"s3cret\"\n", SWITCH);
    // tshark verifies the digest of every control message las sends.
    las.tshark.secret = Some("s3cret".into());
    let fl = Flavour::CiscoDual;
    let key = auth::shared_key(DigestAlg::Md5, b"s3cret");
    let our_nonce: Vec<u8> = (0..16u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
    let mut p = Peer::udp(&las, las.my_ip, 1701, 0x0c15_c008);
    p.auth = Some(AuthState {
        key: key.clone(),
        our_nonce: our_nonce.clone(),
        las_nonce: Vec::new(),
    });
    p.send(sccrq(fl, p.my_ccid).with_nonce(&our_nonce));
    let (r, raw) = p.expect_raw(T::Sccrp);
    // Message Digest right after the Message Type, MD5 (type 0, 16 bytes).
    let d = &r.avps[0];
    assert_eq!(
        (d.vendor, d.attr, d.mandatory),
        (ietf::VENDOR, ietf::MESSAGE_DIGEST, true)
    );
    assert_eq!(d.value.len(), 17);
    assert_eq!(d.value[0], 0);
    let las_nonce = r.nonce().expect("SCCRP carries las's nonce").to_vec();
    assert!(!las_nonce.is_empty());
    assert!(
        auth::verify_digest(&raw, &key, &our_nonce, &las_nonce),
        "SCCRP digest does not verify"
    );
    p.auth.as_mut().unwrap().las_nonce = las_nonce.clone();
    p.ccid = be32(&dual_value(&r, fl, ietf::ASSIGNED_CONTROL_CONNECTION_ID));
    p.send(Message::new(T::Scccn, 0));
    // With authentication las never sends a ZLB: it acknowledges with an
    // explicit ACK (type 20) carrying a valid digest and its next Ns (1).
    let a = p.expect_ack();
    assert_eq!((a.ns, a.nr), (1, 2));
    assert_eq!(las.tunnels()[0].state, "established");
    // Our own explicit ACK (unnumbered: Ns 2 is still our next) is
    // accepted and not acknowledged ...
    assert_eq!(p.ns, 2);
    p.send(Message::new(T::Ack, 0));
    assert_eq!(p.ns, 2);
    p.expect_silence(Duration::from_millis(400));
    // ... and the ICRQ that follows with the same Ns 2 is processed, not
    // dropped as a duplicate. A session with digests on every message.
    p.send(icrq(fl, 0x4001, b"100", 5));
    let (icrp, raw) = p.expect_raw(T::Icrp);
    assert!(auth::verify_digest(&raw, &key, &our_nonce, &las_nonce));
    assert_eq!(icrp.avps[0].attr, ietf::MESSAGE_DIGEST);
    let sid = icrp.local_session_id().unwrap();
    // An ACK of the ICRP with a wrong digest: dropped (its Nr unused, so
    // the ICRP comes again after the 1 s timeout), counted.
    let mut a = Message::new(T::Ack, p.ccid);
    a.ns = p.ns;
    a.nr = p.nr;
    let mut bad = a.emit_with_digest(DigestAlg::Md5, &key, &our_nonce, &las_nonce);
    bad[30] ^= 0x01;
    p.send_raw(&bad);
    let Some((again, _)) = p.recv(Duration::from_secs(3)) else {
        panic!("ICRP not retransmitted after a bad-digest ACK");
    };
    assert_eq!(again.msg_type, Some(T::Icrp), "{again:?}");
    assert_eq!((again.ns, again.nr), (icrp.ns, icrp.nr));
    assert_eq!(las.control("l2tp_auth_failures"), 1);
    assert_eq!(las.tunnels()[0].auth_failures, 1);
    // Correctly signed, the ACK is accepted: no more retransmissions
    // (the next would come 2 s later), no acknowledgement of the ACK.
    p.send(Message::new(T::Ack, 0));
    p.expect_silence(Duration::from_millis(2_500));
    // The ICCN carries the same Ns as the ACK: processed.
    p.send(iccn(fl, 0x4001, sid));
    p.expect_ack();
    las.wait_sessions_up(1);
    assert_eq!(las.control("l2tp_auth_failures"), 1);

    // A HELLO with a wrong digest: dropped unacknowledged, counted.
    let mut h = Message::new(T::Hello, p.ccid);
    h.ns = p.ns;
    h.nr = p.nr;
    let mut bad = h.emit_with_digest(DigestAlg::Md5, &key, &our_nonce, &las_nonce);
    bad[30] ^= 0x01;
    p.send_raw(&bad);
    p.expect_silence(Duration::from_millis(500));
    assert_eq!(las.control("l2tp_auth_failures"), 2);
    assert_eq!(las.tunnels()[0].auth_failures, 2);
    // The same HELLO correctly signed is accepted (its Ns was not used).
    p.send(Message::new(T::Hello, 0));
    p.expect_ack();

    // An SCCRQ with a wrong digest: no answer, counted.
    let mut q = Peer::udp(&las, las.my_ip, 0, 0x0c15_c009);
    let mut rq = sccrq(fl, q.my_ccid)
        .with_nonce(&our_nonce)
        .emit_with_digest(
            DigestAlg::Md5,
            &auth::shared_key(DigestAlg::Md5, b"wrong"),
            &our_nonce,
            &[],
        );
    q.send_raw(&rq);
    q.expect_silence(Duration::from_millis(700));
    assert_eq!(las.control("l2tp_auth_failures"), 3);
    // ... and leaves no half-open tunnel behind to hold a slot.
    assert_eq!(las.tunnels().len(), 1, "{:?}", las.tunnels());
    // Without any digest at all: no answer either.
    rq = sccrq(fl, q.my_ccid).with_nonce(&our_nonce).emit();
    q.send_raw(&rq);
    q.expect_silence(Duration::from_millis(700));
    assert_eq!(las.control("l2tp_auth_failures"), 4);
    assert_eq!(
        las.tunnels()
            .iter()
            .filter(|t| t.state == "established")
            .count(),
        1
    );
    las.stop();
}

// ---------------------------------------------------------------- 7. shutdown

#[test]
fn sigint_sends_stopccn() {
    let _g = lock();
    if !can_run() {
        return;
    }
    let mut las = Las::start("shutdown", 9, "", SWITCH);
    let fl = Flavour::CiscoDual;
    let mut p = Peer::udp(&las, las.my_ip, 1701, 0x0c15_c00a);
    let ccid = open_tunnel(&las, &mut p, fl);
    open_session(&mut p, fl, 0x5001);
    las.wait_sessions_up(1);
    las.sigint();
    let s = p.expect(T::StopCcn);
    let rc = s.result_code().expect("Result Code");
    assert_eq!(rc.result, stopccn_result::BEING_SHUT_DOWN, "{s:?}");
    assert_eq!(s.assigned_ccid(), Some(ccid));
    assert_eq!(
        be32(&dual_value(&s, fl, ietf::ASSIGNED_CONTROL_CONNECTION_ID)),
        ccid
    );
    p.ack();
    let st = las.wait_exit();
    assert!(st.success(), "las exited with {st}{}", las.logs());
}
