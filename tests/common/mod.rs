//! Shared harness for the pcap end-to-end tests: runs the real `las`
//! binary on a `net_pcap` port and builds/parses frames with small
//! hand-written helpers that are independent of `las::wire`.
#![allow(dead_code)]

pub mod tshark;

use las::control::socket::query;
use las::telemetry::show::{
    CountersView, MacView, PortView, Request, Response, SessionView, SwitchView,
};
use pcap_file::pcap::{PcapPacket, PcapReader, PcapWriter};
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const LAS_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
pub const LAS_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
pub const BCAST: [u8; 6] = [0xff; 6];

/// Serializes the tests of one test binary (the worker busy-polls and the
/// machine is small).
pub static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// `las check --config path`: its output (no DPDK, no root).
pub fn las_check(path: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_las"))
        .arg("check")
        .arg("--config")
        .arg(path)
        .output()
        .expect("run las check")
}

pub fn lock() -> std::sync::MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// True if DPDK can run here (root). Without root: skip loudly, unless CI
/// is set, then fail.
pub fn have_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap_or("");
    if uid == "0" {
        return true;
    }
    // These tests are #[ignore]d: a plain `cargo test` lists them as
    // ignored; asked for with --include-ignored, they must not pass
    // without doing anything.
    panic!("this test needs root (DPDK, veth, network namespaces): run it as root");
}

// ---------------------------------------------------------------- frames

/// RFC 1071 checksum, written independently of `las::wire::checksum`.
pub fn csum(data: &[u8]) -> u16 {
    let mut acc: u32 = 0;
    for c in data.chunks(2) {
        let w = if c.len() == 2 {
            u32::from(c[0]) << 8 | u32::from(c[1])
        } else {
            u32::from(c[0]) << 8
        };
        acc += w;
    }
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

pub fn eth(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An IPv4 header (IHL 5, TOS 0, no flags) with a valid checksum, plus payload.
pub fn ipv4(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    ident: u16,
    ttl: u8,
    payload: &[u8],
) -> Vec<u8> {
    let total = 20 + payload.len();
    let mut h = vec![0x45, 0x00];
    h.extend_from_slice(&(total as u16).to_be_bytes());
    h.extend_from_slice(&ident.to_be_bytes());
    h.extend_from_slice(&[0x00, 0x00, ttl, proto, 0, 0]);
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&dst.octets());
    let c = csum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h.extend_from_slice(payload);
    h
}

/// A UDP header with checksum 0, plus payload.
pub fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::with_capacity(8 + payload.len());
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

/// An inner Ethernet frame of at least 60 bytes whose payload is `tag`
/// followed by a recognizable pattern.
pub fn inner(dst: [u8; 6], src: [u8; 6], ethertype: u16, tag: u32, len: usize) -> Vec<u8> {
    let mut p = tag.to_be_bytes().to_vec();
    let n = len.max(60) - 14;
    while p.len() < n {
        p.push((p.len() as u8).wrapping_mul(7) ^ (tag as u8));
    }
    eth(dst, src, ethertype, &p)
}

pub fn mac(last: u8) -> [u8; 6] {
    [0x02, 0, 0, 0, 0, last]
}

pub fn host(n: u16) -> [u8; 6] {
    [0x02, 0xaa, 0, 0, (n >> 8) as u8, n as u8]
}

/// An Ethernet/IPv4 ARP request, padded to 60 bytes with zeros.
pub fn arp_request(sender_mac: [u8; 6], sender_ip: Ipv4Addr, target_ip: Ipv4Addr) -> Vec<u8> {
    let mut a = vec![0, 1, 8, 0, 6, 4, 0, 1];
    a.extend_from_slice(&sender_mac);
    a.extend_from_slice(&sender_ip.octets());
    a.extend_from_slice(&[0; 6]);
    a.extend_from_slice(&target_ip.octets());
    let mut f = eth(BCAST, sender_mac, 0x0806, &a);
    f.resize(60, 0);
    f
}

/// The ARP reply las must send for `arp_request(peer_mac, peer_ip, LAS_IP)`.
pub fn arp_reply_from_las(peer_mac: [u8; 6], peer_ip: Ipv4Addr) -> Vec<u8> {
    let mut a = vec![0, 1, 8, 0, 6, 4, 0, 2];
    a.extend_from_slice(&LAS_MAC);
    a.extend_from_slice(&LAS_IP.octets());
    a.extend_from_slice(&peer_mac);
    a.extend_from_slice(&peer_ip.octets());
    let mut f = eth(peer_mac, LAS_MAC, 0x0806, &a);
    f.resize(60, 0);
    f
}

/// A broadcast ARP request sent by las (who-has `target` tell 192.0.2.1),
/// 60 bytes.
pub fn arp_request_from_las(target: Ipv4Addr) -> Vec<u8> {
    let mut a = vec![0, 1, 8, 0, 6, 4, 0, 1];
    a.extend_from_slice(&LAS_MAC);
    a.extend_from_slice(&LAS_IP.octets());
    a.extend_from_slice(&[0; 6]);
    a.extend_from_slice(&target.octets());
    let mut f = eth(BCAST, LAS_MAC, 0x0806, &a);
    f.resize(60, 0);
    f
}

pub fn icmp_echo(kind: u8, id: u16, seq: u16, data: &[u8]) -> Vec<u8> {
    let mut i = vec![kind, 0, 0, 0];
    i.extend_from_slice(&id.to_be_bytes());
    i.extend_from_slice(&seq.to_be_bytes());
    i.extend_from_slice(data);
    let c = csum(&i);
    i[2..4].copy_from_slice(&c.to_be_bytes());
    i
}

/// A static pseudowire as configured, with what the test needs to build
/// the frames its peer sends and expects.
#[derive(Clone, Debug)]
pub struct Sess {
    pub name: String,
    pub switch: String,
    pub peer_ip: Ipv4Addr,
    pub peer_mac: [u8; 6],
    /// Add a static [[neighbor]] for the peer.
    pub static_neighbor: bool,
    pub udp: bool,
    pub peer_port: u16,
    pub local_id: u32,
    pub remote_id: u32,
    pub local_cookie: Vec<u8>,
    pub remote_cookie: Vec<u8>,
    pub l2spec: bool,
}

impl Sess {
    /// Session `name` in `switch`, peer 192.0.2.`octet` with MAC 02:00:00:00:00:`octet`,
    /// IP encapsulation, ids 1000+octet / 2000+octet, no cookies.
    pub fn new(name: &str, switch: &str, octet: u8) -> Sess {
        Sess {
            name: name.into(),
            switch: switch.into(),
            peer_ip: Ipv4Addr::new(192, 0, 2, octet),
            peer_mac: mac(octet),
            static_neighbor: true,
            udp: false,
            peer_port: 1701,
            local_id: 1000 + u32::from(octet),
            remote_id: 2000 + u32::from(octet),
            local_cookie: vec![],
            remote_cookie: vec![],
            l2spec: false,
        }
    }

    pub fn udp(mut self) -> Sess {
        self.udp = true;
        self
    }

    pub fn cookies(mut self, local: &[u8], remote: &[u8]) -> Sess {
        self.local_cookie = local.to_vec();
        self.remote_cookie = remote.to_vec();
        self
    }

    pub fn l2spec(mut self) -> Sess {
        self.l2spec = true;
        self
    }

    pub fn ids(mut self, local: u32, remote: u32) -> Sess {
        self.local_id = local;
        self.remote_id = remote;
        self
    }

    pub fn toml(&self) -> String {
        let mut s = String::new();
        if self.static_neighbor {
            writeln!(
                s,
                "[[neighbor]]\nport = \"wan0\"\naddress = \"{}\"\nmac = \"{}\"\n",
                self.peer_ip,
                fmt_mac(self.peer_mac)
            )
            .unwrap();
        }
        writeln!(
            s,
            "[[session]]\nname = \"{}\"\nswitch = \"{}\"\npeer = \"{}\"\nencap = \"{}\"\n\
             local_session_id = {}\nremote_session_id = {}\nl2spec = \"{}\"",
            self.name,
            self.switch,
            self.peer_ip,
            if self.udp { "udp" } else { "ip" },
            self.local_id,
            self.remote_id,
            if self.l2spec { "default" } else { "none" }
        )
        .unwrap();
        if self.udp {
            writeln!(s, "udp_peer_port = {}", self.peer_port).unwrap();
        }
        if !self.local_cookie.is_empty() {
            writeln!(s, "local_cookie = \"{}\"", hex(&self.local_cookie)).unwrap();
        }
        if !self.remote_cookie.is_empty() {
            writeln!(s, "remote_cookie = \"{}\"", hex(&self.remote_cookie)).unwrap();
        }
        s.push('\n');
        s
    }

    /// The L2TPv3 part (after IP or UDP) with an explicit session id and
    /// cookie. `seq`: Some(n) adds the default sublayer with S=1.
    fn l2tp(&self, session: u32, cookie: &[u8], seq: Option<u32>, inner: &[u8]) -> Vec<u8> {
        let mut p = Vec::new();
        if self.udp {
            p.extend_from_slice(&[0x00, 0x03, 0x00, 0x00]);
        }
        p.extend_from_slice(&session.to_be_bytes());
        p.extend_from_slice(cookie);
        if self.l2spec {
            let s = seq.unwrap_or(0);
            p.extend_from_slice(&[0x40, (s >> 16) as u8, (s >> 8) as u8, s as u8]);
        }
        p.extend_from_slice(inner);
        p
    }

    /// A frame the peer sends to las carrying `inner`.
    pub fn ingress(&self, inner: &[u8], seq: Option<u32>) -> Vec<u8> {
        self.ingress_custom(self.local_id, &self.local_cookie, seq, inner)
    }

    /// Like `ingress` with another session id / cookie.
    pub fn ingress_custom(
        &self,
        session: u32,
        cookie: &[u8],
        seq: Option<u32>,
        inner: &[u8],
    ) -> Vec<u8> {
        let l2 = self.l2tp(session, cookie, seq, inner);
        let ip = if self.udp {
            ipv4(
                self.peer_ip,
                LAS_IP,
                17,
                0x1111,
                64,
                &udp(self.peer_port, 1701, &l2),
            )
        } else {
            ipv4(self.peer_ip, LAS_IP, 115, 0x1111, 64, &l2)
        };
        eth(LAS_MAC, self.peer_mac, 0x0800, &ip)
    }

    /// The frame las must send to this peer for `inner`, with the outer
    /// IPv4 ident `ident` and sublayer sequence `seq`.
    pub fn egress(&self, inner: &[u8], ident: u16, seq: u32) -> Vec<u8> {
        let l2 = self.l2tp(self.remote_id, &self.remote_cookie, Some(seq), inner);
        let ip = if self.udp {
            ipv4(
                LAS_IP,
                self.peer_ip,
                17,
                ident,
                64,
                &udp(1701, self.peer_port, &l2),
            )
        } else {
            ipv4(LAS_IP, self.peer_ip, 115, ident, 64, &l2)
        };
        eth(self.peer_mac, LAS_MAC, 0x0800, &ip)
    }

    /// Offset of the inner frame in an egress frame.
    pub fn egress_inner_off(&self) -> usize {
        14 + 20
            + if self.udp { 16 } else { 4 }
            + self.remote_cookie.len()
            + if self.l2spec { 4 } else { 0 }
    }
}

pub fn fmt_mac(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

pub fn hex(b: &[u8]) -> String {
    let mut s = String::from("0x");
    for x in b {
        write!(s, "{x:02x}").unwrap();
    }
    s
}

// ---------------------------------------------------------------- output

/// True for an L2TPv3 data frame sent by las (IPv4 from 192.0.2.1,
/// protocol 115 or UDP from port 1701).
pub fn is_data(f: &[u8]) -> bool {
    f.len() >= 34
        && f[12..14] == [0x08, 0x00]
        && f[26..30] == LAS_IP.octets()
        && (f[23] == 115 || (f[23] == 17 && f.len() >= 42 && f[34..36] == 1701u16.to_be_bytes()))
}

/// Outer IPv4 destination of a data frame.
pub fn dst_ip(f: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(f[30], f[31], f[32], f[33])
}

pub fn ident(f: &[u8]) -> u16 {
    u16::from_be_bytes([f[18], f[19]])
}

/// Data frames las sent to `peer`, in order.
pub fn to_peer(out: &[Vec<u8>], peer: Ipv4Addr) -> Vec<Vec<u8>> {
    out.iter()
        .filter(|f| is_data(f) && dst_ip(f) == peer)
        .cloned()
        .collect()
}

/// Asserts that las sent exactly `inners` (in order) to `s`, byte for byte,
/// with sublayer sequence numbers `first_seq..` when `s.l2spec`.
/// Returns the frames.
pub fn assert_egress(
    out: &[Vec<u8>],
    s: &Sess,
    inners: &[Vec<u8>],
    first_seq: u32,
) -> Vec<Vec<u8>> {
    let got = to_peer(out, s.peer_ip);
    assert_eq!(
        got.len(),
        inners.len(),
        "session {}: number of frames sent to {}",
        s.name,
        s.peer_ip
    );
    for (i, (g, inn)) in got.iter().zip(inners).enumerate() {
        let seq = if s.l2spec { first_seq + i as u32 } else { 0 };
        let want = s.egress(inn, ident(g), seq);
        assert_eq!(
            hexdump(g),
            hexdump(&want),
            "session {}: frame {i} to {} differs",
            s.name,
            s.peer_ip
        );
        assert_eq!(csum(&g[14..34]), 0, "outer IPv4 checksum");
    }
    got
}

pub fn hexdump(b: &[u8]) -> String {
    let mut s = String::new();
    for (i, c) in b.chunks(16).enumerate() {
        write!(s, "\n{:04x}:", i * 16).unwrap();
        for x in c {
            write!(s, " {x:02x}").unwrap();
        }
    }
    s
}

/// Asserts every drop counter: those named with their value, all others 0.
pub fn assert_drops(c: &CountersView, want: &[(&str, u64)]) {
    for (k, _) in want {
        assert!(c.drops.contains_key(*k), "no drop counter named {k}");
    }
    for (k, v) in &c.drops {
        let w = want.iter().find(|(n, _)| n == k).map(|x| x.1).unwrap_or(0);
        assert_eq!(*v, w, "drop.{k} (all drops: {:?})", c.drops);
    }
}

pub fn switch<'a>(r: &'a Outcome, name: &str) -> &'a SwitchView {
    r.switches
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no switch {name}"))
}

pub fn session<'a>(r: &'a Outcome, name: &str) -> &'a SessionView {
    r.sessions
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no session {name}"))
}

/// (rx_packets, unicast, flooded, flood_copies, filtered, learn_failed)
pub fn switch_counts(s: &SwitchView) -> (u64, u64, u64, u64, u64, u64) {
    (
        s.rx_packets,
        s.unicast,
        s.flooded,
        s.flood_copies,
        s.filtered,
        s.learn_failed,
    )
}

/// (switch, mac, member) of every learned MAC, sorted.
pub fn macs(r: &Outcome) -> Vec<(String, String, String)> {
    let mut v: Vec<_> = r
        .macs
        .iter()
        .map(|m| (m.switch.clone(), m.mac.clone(), m.member.clone()))
        .collect();
    v.sort();
    v
}

// ---------------------------------------------------------------- running las

pub struct Setup {
    pub name: String,
    pub cores: String,
    /// Lines for [dataplane] besides mbufs.
    pub dataplane: String,
    /// The port's IPv4 `address` line (default `192.0.2.1/24`, which is
    /// `LAS_IP`); `None` leaves it out: an IPv6-only port (`port_extra`
    /// then sets `address6`, and the test `[l2tp] router_id`).
    pub address: Option<String>,
    /// Extra lines for the [[port]].
    pub port_extra: String,
    /// The port's DPDK device; `None`: `net_pcap` reading `in.pcap` and
    /// writing `out.pcap` in the run's directory.
    pub device: Option<String>,
    /// [[switch]] tables (and anything else at the top level).
    pub switches: String,
    pub sessions: Vec<Sess>,
    /// How long `run` lets the control core work after the last frame
    /// was received, before reading state (default 300 ms).
    pub settle_ms: u64,
    /// Display filter of the frames in out.pcap whose inner packets are
    /// real (not the usual tag-and-pattern payloads) and are decoded and
    /// judged by tshark too; `None`: inner frames stay opaque to it (see
    /// `tshark`).
    pub tshark_inner: Option<String>,
    /// Mbufs las is expected to hold once idle, above `IDLE_MBUFS`:
    /// fragments left waiting in reassembly (one mbuf each).
    pub held_mbufs: u64,
}

impl Setup {
    pub fn new(name: &str, switches: &[&str], sessions: &[Sess]) -> Setup {
        let mut sw = String::new();
        for s in switches {
            writeln!(sw, "[[switch]]\nname = \"{s}\"\n").unwrap();
        }
        Setup {
            name: name.into(),
            cores: "0".into(),
            dataplane: "max_sessions = 16\nmax_switches = 4\nmac_table_size = 1024\n".into(),
            address: Some("192.0.2.1/24".into()),
            port_extra: String::new(),
            device: None,
            switches: sw,
            sessions: sessions.to_vec(),
            settle_ms: 300,
            tshark_inner: None,
            held_mbufs: 0,
        }
    }

    /// How tshark is to decode what las writes for this setup: the
    /// sessions' cookies and sublayers (what las sends to each peer), no
    /// control messages to learn them from.
    pub fn tshark_check(&self) -> tshark::Check {
        let mut c = tshark::Check::new(&format!("out.pcap of {}", self.name));
        c.default = tshark::Prefs::fixed(0, false);
        for s in &self.sessions {
            c.group(
                tshark::Prefs::fixed(s.remote_cookie.len(), s.l2spec),
                &format!("ip.dst == {} && l2tp.sid == {}", s.peer_ip, s.remote_id),
            );
        }
        c.inner = self.tshark_inner.clone();
        c
    }

    pub fn config(&self, dir: &Path, prefix: &str) -> String {
        let mut c = String::new();
        writeln!(
            c,
            "[eal]\nargs = [\"--no-pci\", \"--no-huge\", \"--no-shconf\", \"-m\", \"256\", \"--file-prefix\", \"{prefix}\"]\n\n\
             [dataplane]\nmbufs = 4095\n{}\n\
             [control]\nsocket = \"{}\"\n\n\
             [[port]]\nname = \"wan0\"\ndevice = \"{}\"\n\
             {}mac = \"02:00:00:00:00:01\"\n{}\n",
            self.dataplane,
            dir.join("las.sock").display(),
            self.device.clone().unwrap_or_else(|| format!(
                "net_pcap0,rx_pcap={},tx_pcap={}",
                dir.join("in.pcap").display(),
                dir.join("out.pcap").display()
            )),
            self.address
                .as_ref()
                .map_or(String::new(), |a| format!("address = \"{a}\"\n")),
            self.port_extra,
        )
        .unwrap();
        c.push_str(&self.switches);
        for s in &self.sessions {
            c.push_str(&s.toml());
        }
        c
    }
}

/// What a run left behind.
pub struct Outcome {
    pub ports: Vec<PortView>,
    pub counters: CountersView,
    pub sessions: Vec<SessionView>,
    pub switches: Vec<SwitchView>,
    pub macs: Vec<MacView>,
    /// Every frame in out.pcap, in order.
    pub out: Vec<Vec<u8>>,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// Frames that are not L2TPv3 data from las (ARP, ICMP, ...).
    pub fn other(&self) -> Vec<Vec<u8>> {
        self.out.iter().filter(|f| !is_data(f)).cloned().collect()
    }

    pub fn data(&self) -> Vec<Vec<u8>> {
        self.out.iter().filter(|f| is_data(f)).cloned().collect()
    }

    pub fn control(&self, k: &str) -> u64 {
        *self
            .counters
            .control
            .get(k)
            .unwrap_or_else(|| panic!("no control counter {k}"))
    }
}

/// A per-test directory and DPDK file prefix, removed on drop.
pub struct Scratch {
    pub dir: PathBuf,
    pub prefix: String,
}

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let prefix = format!("las-e2e-{name}-{}", std::process::id());
        let dir = std::env::temp_dir().join(&prefix);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch { dir, prefix }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_dir_all(Path::new("/run/dpdk").join(&self.prefix));
    }
}

/// A named network namespace with its loopback up, deleted on drop
/// (errors ignored). Whatever runs in it must be gone by then: a test
/// that starts processes there kills them first.
pub struct Netns {
    name: String,
}

impl Netns {
    /// `ip netns add name` (a stale namespace of that name, left by a
    /// killed run, is deleted first), then `lo` up in it.
    pub fn new(name: &str) -> Netns {
        let _ = Command::new("ip").args(["netns", "del", name]).output();
        let ns = Netns { name: name.into() };
        checked(&["ip", "netns", "add", name]);
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip netns exec <name> program`, to add arguments and stdio to.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).arg(program);
        c
    }

    /// Runs `args` in the namespace and returns its output, whatever its
    /// exit status.
    pub fn exec(&self, args: &[&str]) -> std::process::Output {
        self.command(args[0])
            .args(&args[1..])
            .output()
            .unwrap_or_else(|e| panic!("cannot run {args:?} in {}: {e}", self.name))
    }

    /// Runs `args` in the namespace; panics with the command and its
    /// output unless it succeeds.
    pub fn run(&self, args: &[&str]) {
        let mut v = vec!["ip", "netns", "exec", &self.name];
        v.extend_from_slice(args);
        checked(&v);
    }

    /// The kernel's IPv6 on or off for `conf` (`all`, `default` or an
    /// interface) in the namespace: `sysctl net.ipv6.conf.<conf>.disable_ipv6`,
    /// which must succeed.
    pub fn ipv6(&self, conf: &str, on: bool) {
        let set = format!("net.ipv6.conf.{conf}.disable_ipv6={}", u8::from(!on));
        self.run(&["sysctl", "-qw", &set]);
    }

    /// `ip -n <name> args...`, which must succeed (panics with its
    /// output).
    pub fn ip(&self, args: &[&str]) {
        let mut v = vec!["ip", "-n", &self.name];
        v.extend_from_slice(args);
        checked(&v);
    }

    /// A veth pair made inside the namespaces: `ours` here, its peer
    /// `theirs` in `other` (nothing appears in the root namespace); both
    /// down.
    pub fn veth(&self, ours: &str, other: &Netns, theirs: &str) {
        self.ip(&[
            "link",
            "add",
            ours,
            "type",
            "veth",
            "peer",
            "name",
            theirs,
            "netns",
            &other.name,
        ]);
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// Runs `args` (program first); panics with the command and its output
/// unless it succeeds.
fn checked(args: &[&str]) {
    let o = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"));
    assert!(
        o.status.success(),
        "{args:?} failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

pub fn write_pcap(path: &Path, frames: &[Vec<u8>]) {
    let f = std::fs::File::create(path).unwrap();
    let mut w = PcapWriter::new(std::io::BufWriter::new(f)).unwrap();
    for (i, fr) in frames.iter().enumerate() {
        let ts = Duration::from_micros(1_000_000 + i as u64);
        w.write_packet(&PcapPacket::new(ts, fr.len() as u32, fr))
            .unwrap();
    }
}

pub fn read_pcap(path: &Path) -> Vec<Vec<u8>> {
    let f =
        std::fs::File::open(path).unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    let mut r = PcapReader::new(std::io::BufReader::new(f)).unwrap();
    let mut out = Vec::new();
    while let Some(p) = r.next_packet() {
        let p = p.unwrap();
        assert_eq!(p.orig_len as usize, p.data.len(), "truncated capture");
        out.push(p.data.into_owned());
    }
    out
}

/// The real las binary started on a config with `--cores`, its output
/// in `stdout.txt` and `stderr.txt` of a directory; killed on drop
/// unless [`Las::stop`]ped.
pub struct Las {
    pub running: Running,
    pub pid: u32,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Las {
    pub fn start(cfg: &Path, cores: &str, dir: &Path) -> Las {
        Las::start_in(None, cfg, cores, dir)
    }

    /// [`Las::start`] inside network namespace `netns` (`ip netns exec`,
    /// which execs las: the pid is las's), where a `net_tap` port's
    /// interface then appears.
    pub fn start_in(netns: Option<&str>, cfg: &Path, cores: &str, dir: &Path) -> Las {
        let (stdout, stderr) = (dir.join("stdout.txt"), dir.join("stderr.txt"));
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, env!("CARGO_BIN_EXE_las")]);
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_las")),
        };
        let child = cmd
            .arg("--config")
            .arg(cfg)
            .arg("--cores")
            .arg(cores)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("cannot start las");
        Las {
            pid: child.id(),
            running: Running { child: Some(child) },
            stdout,
            stderr,
        }
    }

    /// What las printed so far, for a failure message.
    pub fn logs(&self) -> String {
        las_logs(&self.stdout, &self.stderr)
    }

    /// [`wait_ready`] on `sock`.
    pub fn wait_ready(&mut self, sock: &Path) {
        let (o, e) = (&self.stdout, &self.stderr);
        wait_ready(sock, self.running.child.as_mut().unwrap(), &|| {
            las_logs(o, e)
        });
    }

    /// Waits until port 0 has received `n` frames (panics with the logs
    /// after `timeout`).
    pub fn wait_received(&self, sock: &Path, n: u64, timeout: Duration) {
        let t0 = Instant::now();
        loop {
            let Response::Ports { ports } = ask(sock, Request::Ports) else {
                unreachable!()
            };
            if ports[0].rx_packets == n {
                return;
            }
            assert!(
                t0.elapsed() < timeout,
                "las received {} of {n} frames{}",
                ports[0].rx_packets,
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGINT, then a clean exit within 20 s (panics with the logs
    /// otherwise).
    pub fn stop(&mut self) {
        let st = Command::new("kill")
            .arg("-INT")
            .arg(self.pid.to_string())
            .status()
            .unwrap();
        assert!(st.success());
        let status = wait_timeout(
            self.running.child.as_mut().unwrap(),
            Duration::from_secs(20),
        );
        let Some(status) = status else {
            panic!("las did not exit within 20 s of SIGINT{}", self.logs());
        };
        self.running.child = None;
        assert!(status.success(), "las exited with {status}{}", self.logs());
    }
}

fn las_logs(stdout: &Path, stderr: &Path) -> String {
    format!(
        "\n--- las stdout ---\n{}\n--- las stderr ---\n{}",
        std::fs::read_to_string(stdout).unwrap_or_default(),
        std::fs::read_to_string(stderr).unwrap_or_default()
    )
}

pub struct Running {
    pub child: Option<Child>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn wait_timeout(c: &mut Child, t: Duration) -> Option<ExitStatus> {
    let end = Instant::now() + t;
    loop {
        if let Ok(Some(s)) = c.try_wait() {
            return Some(s);
        }
        if Instant::now() > end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn ask(sock: &Path, r: Request) -> Response {
    match query(sock, &r) {
        Ok(Response::Error { error }) => panic!("las answered {r:?} with error {error}"),
        Ok(x) => x,
        Err(e) => panic!("query {r:?}: {e}"),
    }
}

pub fn counters(sock: &Path) -> CountersView {
    match ask(sock, Request::Counters) {
        Response::Counters(c) => c,
        x => panic!("unexpected answer {x:?}"),
    }
}

/// Waits (20 s at most) until las answers on its control socket; panics
/// with `logs()` if it exits first or never answers.
pub fn wait_ready(sock: &Path, child: &mut Child, logs: &dyn Fn() -> String) {
    let t0 = Instant::now();
    loop {
        if let Ok(Response::Ports { .. }) = query(sock, &Request::Ports) {
            return;
        }
        if let Ok(Some(st)) = child.try_wait() {
            panic!("las exited early with {st}{}", logs());
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "las never became ready{}",
            logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The number of mbufs las holds when idle on a net_pcap port: 0 (the
/// pcap PMD keeps no mbufs in RX rings, and the mempool counts per-lcore
/// caches as available). Checked on its own by `idle_baseline`.
pub const IDLE_MBUFS: u64 = 0;

/// Runs las on `frames` and returns what it did. Panics (with las's
/// output) on any failure: no socket, frames not all received, exit status
/// not 0 or a hang.
pub fn run(setup: &Setup, frames: &[Vec<u8>]) -> Outcome {
    run_with(setup, frames, |_| ()).0
}

/// Like [`run`], and calls `during` with the control socket's path while
/// las still runs: once every frame was received and handled, before the
/// state is read; what it returns comes back beside the outcome.
pub fn run_with<T>(
    setup: &Setup,
    frames: &[Vec<u8>],
    during: impl FnOnce(&Path) -> T,
) -> (Outcome, T) {
    let scratch = Scratch::new(&setup.name);
    let dir = scratch.dir.clone();
    write_pcap(&dir.join("in.pcap"), frames);
    let cfg = dir.join("las.toml");
    std::fs::write(&cfg, setup.config(&dir, &scratch.prefix)).unwrap();
    let sock = dir.join("las.sock");
    let mut las = Las::start(&cfg, &setup.cores, &dir);
    las.wait_ready(&sock);
    las.wait_received(&sock, frames.len() as u64, Duration::from_secs(10));
    // Let the control core answer punted ARP/ICMP and learn.
    std::thread::sleep(Duration::from_millis(setup.settle_ms));
    // No leak: the pool is back at its idle level (polled: ARP retries
    // hold an mbuf for a moment).
    let t0 = Instant::now();
    let mut c = counters(&sock);
    let baseline = IDLE_MBUFS + setup.held_mbufs;
    while c.control["mbufs_in_use"] != baseline && t0.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(20));
        c = counters(&sock);
    }
    assert_eq!(
        c.control["mbufs_in_use"], baseline,
        "mbufs in use after traffic (leak?): {:?}",
        c.control
    );
    let during = during(&sock);
    let Response::Ports { ports } = ask(&sock, Request::Ports) else {
        unreachable!()
    };
    let Response::Sessions { sessions } = ask(&sock, Request::Sessions) else {
        unreachable!()
    };
    let Response::Switches { switches } = ask(&sock, Request::Switches) else {
        unreachable!()
    };
    let Response::Macs { macs } = ask(&sock, Request::Macs(None)) else {
        unreachable!()
    };
    let counters = counters(&sock);

    las.stop();
    let out = read_pcap(&dir.join("out.pcap"));
    tshark::assert_clean(&dir.join("out.pcap"), &setup.tshark_check());
    let outcome = Outcome {
        ports,
        counters,
        sessions,
        switches,
        macs,
        out,
        stdout: std::fs::read_to_string(dir.join("stdout.txt")).unwrap_or_default(),
        stderr: std::fs::read_to_string(dir.join("stderr.txt")).unwrap_or_default(),
    };
    (outcome, during)
}

/// A counter from the final report las prints when it stops (`las show
/// counters` rendered: `drop.<reason>` or `control.<name>`), if listed.
pub fn report_counter(r: &Outcome, name: &str) -> Option<u64> {
    r.stdout.lines().find_map(|l| {
        let mut w = l.split_whitespace();
        (w.next() == Some(name))
            .then(|| w.next().and_then(|v| v.parse().ok()))
            .flatten()
    })
}

/// Asserts the counter identity: every one of the `received` frames
/// ended in exactly one place, `unicast` + `flooded` (switches),
/// `punted` (ports), an ingress drop, held in reassembly, or merged into
/// a reassembled packet (N fragments, one fate). Egress and control
/// drops concern copies and punted packets already counted.
pub fn assert_accounted(r: &Outcome, received: u64) {
    use las::telemetry::{DropReason, Stage};
    let c = &r.counters;
    let rx: u64 = r.ports.iter().map(|p| p.rx_packets).sum();
    assert_eq!(rx, received, "frames received");
    let workers_rx: u64 = c.workers.iter().map(|w| w.rx_packets).sum();
    assert_eq!(workers_rx, received, "frames the workers received");
    let unicast: u64 = r.switches.iter().map(|s| s.unicast).sum();
    let flooded: u64 = r.switches.iter().map(|s| s.flooded).sum();
    let punted: u64 = r.ports.iter().map(|p| p.punted).sum();
    let ingress: u64 = c
        .drops
        .iter()
        .filter(|(k, _)| {
            DropReason::from_name(k)
                .unwrap_or_else(|| panic!("unknown drop reason {k}"))
                .stage()
                == Stage::Ingress
        })
        .map(|(_, v)| v)
        .sum();
    let held = r.control("reassembly_held");
    let merged = r.control("reassembled_fragments") - r.control("reassembled");
    assert_eq!(
        rx,
        unicast + flooded + punted + ingress + held + merged,
        "received != unicast {unicast} + flooded {flooded} + punted {punted} + ingress \
         drops {ingress} + held {held} + merged {merged}; drops: {:?}",
        c.drops
    );
}

/// Runs las expecting it to fail before touching any port; returns
/// (exit status, stderr, whether out.pcap exists).
pub fn run_bad_config(name: &str, config: &str) -> (ExitStatus, String, bool) {
    let scratch = Scratch::new(name);
    let dir = scratch.dir.clone();
    let cfg = dir.join("las.toml");
    let config = config
        .replace("@DIR@", &dir.display().to_string())
        .replace("@PREFIX@", &scratch.prefix);
    std::fs::write(&cfg, config).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_las"))
        .arg("--config")
        .arg(&cfg)
        .arg("--cores")
        .arg("0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr.txt")).unwrap())
        .spawn()
        .unwrap();
    let Some(status) = wait_timeout(&mut child, Duration::from_secs(20)) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("las hung on a bad config");
    };
    let stderr = std::fs::read_to_string(dir.join("stderr.txt")).unwrap();
    (status, stderr, dir.join("out.pcap").exists())
}

/// xorshift64* — a tiny seeded PRNG.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A `[[switch]]` table named `name` with the raw TOML lines `extra`
/// (policy keys), for `Setup::switches`.
pub fn switch_toml(name: &str, extra: &str) -> String {
    format!("[[switch]]\nname = \"{name}\"\n{extra}\n")
}

/// With `LAS_BURST_LOOP` set (`staged`, `staged-full`, `direct` or
/// `full`, see `scripts/test.sh`), checks that las ran that burst loop:
/// its workers log the loop they were forced to
/// (`worker::engine::BurstLoop`). Unset, las picks by table size and
/// there is nothing to check.
pub fn assert_burst_loop(stderr: &str) {
    let want = match std::env::var("LAS_BURST_LOOP").as_deref() {
        Ok("staged") => "Staged burst loop",
        Ok("staged-full") => "StagedFull burst loop",
        Ok("direct") => "Direct burst loop",
        Ok("full") => "Full burst loop",
        _ => return,
    };
    assert!(
        stderr.contains(want),
        "LAS_BURST_LOOP is set but las did not log {want:?}:\n{stderr}"
    );
}

/// Whether las's workers run the fast path for known unicast
/// (`worker::engine::fast`): yes unless `LAS_BURST_LOOP` forces a loop
/// without it (`staged-full` or `full`: every packet through the full
/// rules).
pub fn fast_path_on() -> bool {
    !matches!(
        std::env::var("LAS_BURST_LOOP").as_deref(),
        Ok("staged-full" | "full")
    )
}
