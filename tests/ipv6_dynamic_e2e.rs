//! Dynamic pseudowires over IPv6 (issue 15), end to end: the real `las`
//! on `net_af_packet` inside a network namespace, and three las-edge
//! processes as dynamic LACs (RFC 3931 control channel, VC ID 100) in
//! namespaces of their own, all on one Linux bridge:
//!
//! ```text
//!  c6-a-<pid>: las-edge --encap ip  fd00:c6::a  ─┐
//!  c6-b-<pid>: las-edge --encap udp fd00:c6::b  ─┼─ br0 ── l0: las (c6-l-<pid>)
//!  c6-c-<pid>: las-edge --encap udp 198.19.6.12 ─┘     fd00:c6::1, 198.19.6.1
//! ```
//!
//! Each site has a TAP `pw0` with an inner IPv4 address (10.66.0.1/2/3)
//! that its las-edge bridges to its pseudowire. All three land in switch
//! `blue` (VC ID 100): one switch mixes IPv6 over IP, IPv6 over UDP and
//! IPv4 members. The kernels' pings between the TAP hosts cross las both
//! ways between every pair of sites.
//!
//! Where the bytes come from: every control message and data packet las
//! receives is built by las-edge (the Linux kernel's IPv6/IPv4 stack
//! carries them: raw sockets for protocol 115, UDP sockets for UDP, the
//! kernel computing the UDP checksums, with the sites' veth checksum
//! offload off so that they are complete on the wire); the inner frames
//! are the
//! kernels' ARP and ICMP echo. What las sends is captured with tcpdump on
//! the bridge side of its veth inside its namespace and decoded by tshark (Wireshark's
//! own L2TPv3, IPv6 and UDP dissectors, UDP checksums verified): no
//! frame las sent may be malformed or carry an expert error
//! (`common::tshark`), and the capture must hold IPv6 control messages
//! and IPv6 data packets from las, over IP and over UDP.
//!
//! Namespaces (names start with `c6-`), processes and the scratch
//! directory are removed on drop, pass or fail.
//!
//! Root only (netns, veth, TAP, DPDK): `#[ignore]`d; run with
//! `cargo test --test ipv6_dynamic_e2e -- --include-ignored --test-threads=1`.

mod common;

use common::tshark::{assert_clean, Capture, Check};
use common::{have_root, lock, read_pcap, Netns, Scratch};
use las::control::socket::query;
use las::telemetry::show::{Request, Response, SessionView, TunnelView};
use std::process::{Child, Command, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

const EDGE: &str = env!("CARGO_BIN_EXE_las-edge");
const LAS: &str = env!("CARGO_BIN_EXE_las");
const LAS_MAC: &str = "02:c6:00:00:00:01";
const LAS6: &str = "fd00:c6::1";
const LAS4: &str = "198.19.6.1";

/// A site: namespace tag, underlay address, encapsulation, TAP host.
struct Site {
    tag: &'static str,
    ul: &'static str,
    encap: &'static str,
    host: &'static str,
    mac: &'static str,
}

const SITES: [Site; 3] = [
    Site {
        tag: "a",
        ul: "fd00:c6::a",
        encap: "ip",
        host: "10.66.0.1",
        mac: "02:c6:00:00:0a:01",
    },
    Site {
        tag: "b",
        ul: "fd00:c6::b",
        encap: "udp",
        host: "10.66.0.2",
        mac: "02:c6:00:00:0b:01",
    },
    Site {
        tag: "c",
        ul: "198.19.6.12",
        encap: "udp",
        host: "10.66.0.3",
        mac: "02:c6:00:00:0c:01",
    },
];

fn sh(args: &[&str]) -> Output {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"))
}

/// The namespaces and the processes in them; all removed on drop
/// (`Drop` kills the processes, then the fields drop: the namespaces go).
struct Lab {
    /// las's, then one per site.
    ns: Vec<Netns>,
    procs: Vec<(String, Child)>,
}

impl Lab {
    fn new() -> Lab {
        let pid = std::process::id();
        let mut names = vec![format!("c6-l-{pid}")];
        names.extend(SITES.iter().map(|s| format!("c6-{}-{pid}", s.tag)));
        let lab = Lab {
            ns: names.iter().map(|n| Netns::new(n)).collect(),
            procs: Vec::new(),
        };
        let l = &lab.ns[0];
        // las's namespace: no IPv6 of the kernel's own (las does ND on
        // `l0` itself), a bridge, las's veth on it.
        l.ipv6("all", false);
        l.ipv6("default", false);
        l.ip(&["link", "add", "br0", "type", "bridge"]);
        l.ip(&[
            "link", "add", "l0", "address", LAS_MAC, "type", "veth", "peer", "name", "l0b",
        ]);
        l.ip(&["link", "set", "l0b", "master", "br0"]);
        for (i, s) in SITES.iter().enumerate() {
            let n = &lab.ns[i + 1];
            let port = format!("s{}", s.tag);
            l.veth(&port, n, "ul0");
            l.ip(&["link", "set", &port, "master", "br0", "up"]);
            let v6 = s.ul.contains(':');
            n.ipv6("all", v6);
            let pfx = if v6 { "64" } else { "24" };
            let mut add = vec!["addr", "add"];
            let a = format!("{}/{pfx}", s.ul);
            add.extend([a.as_str(), "dev", "ul0"]);
            if v6 {
                add.push("nodad");
            }
            n.ip(&add);
            n.ip(&["link", "set", "ul0", "up"]);
            // A veth leaves the UDP checksum to an offload that never
            // happens (CHECKSUM_PARTIAL): what las reads off the wire
            // would carry a partial sum, which it rightly refuses on
            // control messages over IPv6 (`l2tp6_udp_bad_checksum`). A
            // NIC or `tx off` sums it in full, as lab/lab.sh does.
            n.run(&["ethtool", "-K", "ul0", "tx", "off"]);
            n.ip(&["tuntap", "add", "mode", "tap", "name", "pw0"]);
            n.ip(&["link", "set", "pw0", "address", s.mac]);
            n.ipv6("pw0", false);
            n.ip(&["addr", "add", &format!("{}/24", s.host), "dev", "pw0"]);
        }
        for i in ["br0", "l0b", "l0"] {
            l.ip(&["link", "set", i, "up"]);
        }
        lab
    }

    fn exec(&self, i: usize, args: &[&str]) -> Output {
        self.ns[i].exec(args)
    }

    fn spawn(
        &mut self,
        i: usize,
        exe: &str,
        args: &[&str],
        out: std::fs::File,
        err: std::fs::File,
    ) {
        let child = self.ns[i]
            .command(exe)
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {exe}: {e}"));
        self.procs.push((self.ns[i].name().to_string(), child));
    }

    fn assert_running(&mut self, logs: &dyn Fn() -> String) {
        for (ns, c) in &mut self.procs {
            if let Ok(Some(st)) = c.try_wait() {
                panic!("a process in {ns} exited ({st}){}", logs());
            }
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for (_, c) in &mut self.procs {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn logs(dir: &std::path::Path) -> String {
    let mut s = String::new();
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    names.sort();
    for p in names {
        if p.extension().is_some_and(|e| e == "txt") {
            s += &format!(
                "\n--- {} ---\n{}",
                p.display(),
                std::fs::read_to_string(&p).unwrap_or_default()
            );
        }
    }
    s
}

fn sessions(sock: &std::path::Path) -> Vec<SessionView> {
    match query(sock, &Request::Sessions) {
        Ok(Response::Sessions { sessions }) => sessions,
        x => panic!("unexpected {x:?}"),
    }
}

fn tunnels(sock: &std::path::Path) -> Vec<TunnelView> {
    match query(sock, &Request::Tunnels) {
        Ok(Response::Tunnels { tunnels }) => tunnels,
        x => panic!("unexpected {x:?}"),
    }
}

/// What las sent in the capture, by kind: (IPv6 control, IPv6 data over
/// IP, IPv6 data over UDP, IPv4 L2TP).
fn las_sent(frames: &[Vec<u8>]) -> (usize, usize, usize, usize) {
    let mac: Vec<u8> = LAS_MAC
        .split(':')
        .map(|h| u8::from_str_radix(h, 16).unwrap())
        .collect();
    let (mut ctl6, mut ip6, mut udp6, mut v4) = (0, 0, 0, 0);
    for f in frames
        .iter()
        .filter(|f| f.len() > 58 && f[6..12] == mac[..])
    {
        match (f[12], f[13]) {
            (0x86, 0xdd) => {
                let l4 = &f[54..];
                match f[20] {
                    115 if l4[..4] == [0; 4] => ctl6 += 1,
                    115 => ip6 += 1,
                    17 if l4.len() > 9 && l4[8] & 0x80 != 0 => ctl6 += 1,
                    17 => udp6 += 1,
                    _ => {}
                }
            }
            (0x08, 0x00) if f[23] == 115 || f[23] == 17 => v4 += 1,
            _ => {}
        }
    }
    (ctl6, ip6, udp6, v4)
}

#[test]
#[ignore = "needs root (netns, veth, TAP, DPDK): run with --include-ignored"]
fn ipv6_and_ipv4_lacs_share_a_dynamic_switch() {
    let _l = lock();
    assert!(have_root(), "needs root");
    let scratch = Scratch::new("c6");
    let dir = scratch.dir.clone();
    let mut lab = Lab::new();
    let sock = dir.join("las.sock");
    let cfg = format!(
        "[eal]\nargs = [\"--no-pci\", \"--no-huge\", \"--no-shconf\", \"-m\", \"256\", \
         \"--file-prefix\", \"{}\"]\n\n\
         [dataplane]\nmbufs = 4095\nmax_sessions = 16\nmax_switches = 4\nmac_table_size = 1024\n\n\
         [control]\nsocket = \"{}\"\n\n\
         [l2tp]\nrouter_id = \"192.0.2.61\"\nallow = [\"fd00:c6::/64\", \"198.19.6.0/24\"]\n\n\
         [[port]]\nname = \"wan0\"\ndevice = \"net_af_packet0,iface=l0\"\n\
         address = \"{LAS4}/24\"\naddress6 = \"{LAS6}/64\"\nmac = \"{LAS_MAC}\"\n\n\
         [[switch]]\nname = \"blue\"\nvc_ids = [\"100\"]\n",
        scratch.prefix,
        sock.display(),
    );
    let file = dir.join("las.toml");
    std::fs::write(&file, cfg).unwrap();
    let f = |n: &str| std::fs::File::create(dir.join(n)).unwrap();
    lab.spawn(
        0,
        LAS,
        &["--config", file.to_str().unwrap(), "--cores", "0"],
        f("las-stdout.txt"),
        f("las-stderr.txt"),
    );
    {
        let d = dir.clone();
        common::wait_ready(&sock, &mut lab.procs[0].1, &|| logs(&d));
    }
    // On the bridge side of las's veth: DPDK's af_packet sends past the
    // qdisc (`qdisc_bypass`), where a capture on `l0` itself sees nothing.
    let pcap = dir.join("l0b.pcap");
    let mut cap = Capture::start_in(
        Some(lab.ns[0].name()),
        "l0b",
        &pcap,
        100_000,
        "what las sends to IPv6 and IPv4 LACs",
    );
    for (i, s) in SITES.iter().enumerate() {
        let peer = if s.ul.contains(':') { LAS6 } else { LAS4 };
        lab.spawn(
            i + 1,
            EDGE,
            &[
                "--tap",
                "pw0",
                "--local",
                s.ul,
                "--peer",
                peer,
                "--encap",
                s.encap,
                "--vc-id",
                "100",
                "--router-id",
                &format!("192.0.2.{}", 70 + i),
                "--hello-interval",
                "2",
            ],
            f(&format!("edge-{}-stdout.txt", s.tag)),
            f(&format!("edge-{}-stderr.txt", s.tag)),
        );
    }
    // Three dynamic sessions up in switch blue.
    let t0 = Instant::now();
    loop {
        lab.assert_running(&|| logs(&dir));
        let up = sessions(&sock)
            .into_iter()
            .filter(|s| s.kind == "dynamic" && s.state == "up")
            .count();
        if up == 3 {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "sessions never all up: {:?}\n{:?}\n{:?}{}",
            sessions(&sock),
            tunnels(&sock),
            common::counters(&sock),
            logs(&dir)
        );
        sleep(Duration::from_millis(200));
    }
    let ss = sessions(&sock);
    for (peer, encap) in [
        ("fd00:c6::a", "ip"),
        ("fd00:c6::b", "udp"),
        ("198.19.6.12", "udp"),
    ] {
        let s = ss
            .iter()
            .find(|s| s.peer == peer)
            .unwrap_or_else(|| panic!("no session with {peer}: {ss:?}"));
        assert_eq!(s.switch, "blue");
        assert!(s.encap.starts_with(encap), "{s:?}");
        assert_eq!(s.vc_id.as_deref(), Some("100"));
    }
    let ts = tunnels(&sock);
    assert!(ts.iter().any(|t| t.peer == "fd00:c6::a" && t.encap == "ip"));
    assert!(ts
        .iter()
        .any(|t| t.peer == "fd00:c6::b" && t.encap.starts_with("udp")));
    // `las show` prints the IPv6 peers.
    let o = sh(&[LAS, "show", "tunnels", "--socket", sock.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("fd00:c6::a") && text.contains("fd00:c6::b"),
        "{text}"
    );
    // Frames cross between every pair of sites, both ways.
    for (from, to) in [(0, 1), (0, 2), (1, 2), (2, 0)] {
        let target = SITES[to].host;
        let mut ok = false;
        for _ in 0..15 {
            let o = lab.exec(from + 1, &["ping", "-c", "1", "-W", "1", target]);
            if o.status.success() {
                ok = true;
                break;
            }
        }
        assert!(ok, "no ping from site {from} to {target}{}", logs(&dir));
        let o = lab.exec(
            from + 1,
            &["ping", "-c", "3", "-i", "0.2", "-W", "2", target],
        );
        assert!(
            o.status.success(),
            "ping {from} -> {target}: {}",
            String::from_utf8_lossy(&o.stdout)
        );
    }
    // Nothing the control core refused on the way.
    let c = common::counters(&sock);
    for k in [
        "l2tp6_not_ours",
        "l2tp6_bad_source",
        "l2tp6_malformed",
        "l2tp6_udp_zero_checksum",
        "l2tp6_udp_bad_checksum",
        "l2tp_no_route",
    ] {
        assert_eq!(c.control.get(k).copied().unwrap_or(0), 0, "{k}: {c:?}");
    }
    if let Some(cap) = cap.as_mut() {
        cap.stop();
        let frames = read_pcap(&pcap);
        let (ctl6, ip6, udp6, v4) = las_sent(&frames);
        assert!(
            ctl6 >= 4 && ip6 > 0 && udp6 > 0 && v4 > 0,
            "las sent {ctl6} IPv6 control, {ip6} IPv6/IP data, {udp6} IPv6/UDP data, \
             {v4} IPv4 L2TP packets"
        );
        let mut check = Check::new("what las sent, captured on l0b");
        check.from = Some(format!("eth.src == {LAS_MAC}"));
        assert_clean(&pcap, &check);
    }
}
