//! `las-trafgen`: writes a pcap of L2TPv3 data traffic *toward* las, and the
//! matching las configuration, for benchmarks (see `perf/README.md`).
//! Two more modes: `las-trafgen send` replays such a pcap through a DPDK
//! port at a set rate and runs the NDR/PDR search (`send.rs`,
//! `perf/ndr.sh`); `las-trafgen ctl` plays many LACs setting up sessions
//! over RFC 3931 (`ctl.rs`, `perf/control-bench.sh`).
//!
//! Peer `i` (0-based) is `198.18.0.0 + 256 + i` (in the benchmark prefix
//! 198.18.0.0/15, up to 65,535 peers) behind one router, `192.0.2.254`
//! (`02:00:00:00:00:fe`) on las's /24, the port's gateway: one static
//! neighbour, whatever the number of sessions, keeps the generated config
//! small and quick to load. With `--underlay ipv6` the pseudowires run
//! over IPv6 instead (RFC 8200 header, next header 115 or UDP with the
//! checksum computed, or zero with `--udp6-checksum zero`): peer `i` is
//! `2001:2::1:0 + i` (in RFC 5180's benchmarking prefix 2001:2::/48; the
//! /64 holds every peer), las is `--las-ip6` (default `2001:db8::1/64`)
//! and the router is `::fe` of that /64, the port's `gateway6`, again one
//! static `[[neighbor]]`, so nothing waits on neighbour discovery. The
//! port keeps its IPv4 address (las requires one). Peer `i` sends to las local session id `1000+i`
//! (las answers on remote session id `2000+i`). All sessions are members
//! of one switch, `bench`. Inner source MAC `m` (`02:10:00:xx:xx:xx`, up
//! to 2^24 MACs) always sits behind session `m % sessions`, so after one
//! pass over the capture every source MAC is learned and unicast frames go
//! to exactly one other session; a share of frames (`--broadcast-pct`) is
//! broadcast and floods to all other members. Destinations are chosen among
//! the MACs already seen as sources (in the first pass over the MACs, those
//! before the packet), so they are known unicast even on the first pass;
//! with more MACs than packets only the first `packets` MACs are sources.
#![forbid(unsafe_code)]

mod ctl;
#[cfg(feature = "dpdk")]
mod send;

use clap::{Parser, Subcommand, ValueEnum};
use las::wire::ethernet::{ethertype, EthernetRepr, Frame, MacAddr, HEADER_LEN as ETH_LEN};
use las::wire::ipv4::{self, protocol, Ipv4Repr, HEADER_LEN as IP_LEN};
use las::wire::ipv6::{self, Ipv6Repr, UdpChecksum, HEADER_LEN as IP6_LEN};
use las::wire::l2tp::{Cookie, DataRepr, Encap, SublayerRepr, UDP_PORT};
use las::wire::udp::{self, UdpRepr, HEADER_LEN as UDP_LEN};
use pcap_file::pcap::{PcapPacket, PcapWriter};
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum EncapArg {
    Ip,
    Udp,
}

/// The outer network the pseudowires run over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Underlay {
    Ipv4,
    Ipv6,
}

/// The UDP checksum of L2TPv3/UDP/IPv6 packets (both directions: in the
/// pcap, and `[l2tp] udp6_checksum` in the config, what las sends).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Udp6Checksum {
    /// RFC 8200 §8.1.
    Compute,
    /// RFC 6935/6936 zero-checksum tunnel mode.
    Zero,
}

#[derive(Parser)]
#[command(
    name = "las-trafgen",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    about = "Write a pcap of L2TPv3 traffic toward las, plus the matching las TOML",
    long_about = "Writes a pcap of L2TPv3 data packets from N peers to las, carrying \
inner Ethernet frames between many hosts in one virtual switch (`bench`), and prints \
(or writes with --config-out) the las configuration that terminates them, with static \
neighbours so no ARP is needed.\n\n\
Example:\n  las-trafgen --out /tmp/b64.pcap --size 64 --packets 4096 --config-out /tmp/b64.toml"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    #[command(flatten)]
    gen: Args,
}

#[derive(Subcommand)]
enum Cmd {
    /// Replay a pcap through a DPDK port at a set rate, count what comes
    /// back, and search the NDR and PDR (see perf/ndr.sh).
    #[cfg(feature = "dpdk")]
    Send(send::SendArgs),
    /// Play many LACs setting up sessions toward las over RFC 3931 while
    /// a data stream flows over a few sessions (see perf/control-bench.sh).
    Ctl(ctl::CtlArgs),
}

#[derive(clap::Args)]
struct Args {
    /// pcap file to write.
    #[arg(long, required = true)]
    out: Option<PathBuf>,
    /// Number of pseudowires (peers); 1..=65535.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=65535))]
    sessions: u32,
    /// Inner source MACs in total (spread over the sessions); 1..=2^24.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=(1 << 24)))]
    macs: u32,
    /// Inner Ethernet frame size in bytes, without FCS (60..=9000).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(60..=9000))]
    size: u16,
    /// Instead of --size, the simple IMIX: inner frames of 60, 570 and 1514
    /// bytes without FCS (64, 574, 1518 with it) in the ratio 7:4:1, in a
    /// fixed order.
    #[arg(long)]
    imix: bool,
    /// Number of packets in the pcap.
    #[arg(long, default_value_t = 4096)]
    packets: u32,
    /// L2TPv3 over IP (protocol 115) or over UDP (port 1701).
    #[arg(long, value_enum, default_value_t = EncapArg::Ip)]
    encap: EncapArg,
    /// The outer network: IPv4 (peers in 198.18.0.0/15) or IPv6 (peers in
    /// 2001:2::/64, behind the router ::fe of --las-ip6's /64).
    #[arg(long, value_enum, default_value_t = Underlay::Ipv4)]
    underlay: Underlay,
    /// las's address on the port (a /24 with the router at .254).
    #[arg(long, default_value = "192.0.2.1")]
    las_ip: Ipv4Addr,
    /// las's IPv6 address on the port with --underlay ipv6 (a /64 with the
    /// router at ::fe).
    #[arg(long, default_value = "2001:db8::1")]
    las_ip6: Ipv6Addr,
    /// With --underlay ipv6 and --encap udp: the UDP checksum the pcap
    /// carries and las sends (`[l2tp] udp6_checksum`).
    #[arg(long, value_enum, default_value_t = Udp6Checksum::Compute)]
    udp6_checksum: Udp6Checksum,
    /// las's port MAC (the outer destination MAC).
    #[arg(long, default_value = "02:00:00:00:00:01")]
    las_mac: MacAddr,
    /// Percentage of inner frames sent to the broadcast address (0..=100).
    #[arg(long, default_value_t = 0.0)]
    broadcast_pct: f64,
    /// Seed of the pseudo-random destination choice.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write the las TOML here instead of printing it on stdout.
    #[arg(long)]
    config_out: Option<PathBuf>,
    /// The port's device in the generated config.
    #[arg(
        long,
        default_value = "net_pcap0,rx_pcap=<OUT>,infinite_rx=1,tx_pcap=/dev/null"
    )]
    device: String,
    /// Control socket in the generated config.
    #[arg(long, default_value = "/tmp/las-bench.sock")]
    socket: String,
    /// The dataplane's mbufs in the generated config (0 = big enough for the pcap
    /// held in mbufs by net_pcap's infinite_rx, plus descriptors and caches).
    #[arg(long, default_value_t = 0)]
    mbufs: u32,
}

fn peer_ip(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 18, 1, 0)) + i)
}

/// The router between las and every peer (the port's gateway).
fn router(las_ip: Ipv4Addr) -> Ipv4Addr {
    Ipv4Addr::from((u32::from(las_ip) & 0xffff_ff00) | 254)
}

/// IPv6 peer `i`: `2001:2::1:0 + i` (RFC 5180's benchmarking prefix; the
/// 65,535 peers trafgen allows fit in the low 32 bits of one /64, and
/// none is the /64's subnet-router anycast address).
fn peer_ip6(i: u32) -> Ipv6Addr {
    Ipv6Addr::from(u128::from(Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 1, 0)) + u128::from(i))
}

/// The IPv6 router between las and every peer (the port's `gateway6`):
/// `::fe` of las's /64.
fn router6(las_ip6: Ipv6Addr) -> Ipv6Addr {
    Ipv6Addr::from((u128::from(las_ip6) & !u128::from(u64::MAX)) | 0xfe)
}

/// Peer `i` and las, the outer source and destination.
fn endpoints(a: &Args, i: u32) -> (IpAddr, IpAddr) {
    match a.underlay {
        Underlay::Ipv4 => (peer_ip(i).into(), a.las_ip.into()),
        Underlay::Ipv6 => (peer_ip6(i).into(), a.las_ip6.into()),
    }
}

const ROUTER_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0xfe]);

fn host_mac(m: u32) -> MacAddr {
    MacAddr([0x02, 0x10, 0, (m >> 16) as u8, (m >> 8) as u8, m as u8])
}

fn host_ip(m: u32) -> Ipv4Addr {
    Ipv4Addr::from(0x0a00_0000u32 + 1 + m)
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u32) -> u32 {
        (((self.next() >> 32) * u64::from(n)) >> 32) as u32
    }
}

/// The inner Ethernet frame: IPv4/UDP between two hosts, zero payload,
/// exactly `size` bytes.
fn inner_frame(size: usize, src: u32, dst: Option<u32>, seq: u32) -> Vec<u8> {
    let mut f = vec![0u8; size];
    let dst_mac = dst.map_or(MacAddr::BROADCAST, host_mac);
    EthernetRepr {
        src: host_mac(src),
        dst: dst_mac,
        ethertype: ethertype::IPV4,
    }
    .emit(&mut Frame::new_unchecked(&mut f[..]));
    let ip_src = host_ip(src);
    let ip_dst = dst.map_or(Ipv4Addr::BROADCAST, host_ip);
    let ip_payload = size - ETH_LEN - IP_LEN;
    Ipv4Repr {
        src: ip_src,
        dst: ip_dst,
        protocol: protocol::UDP,
        payload_len: ip_payload,
        ttl: 64,
        ident: seq as u16,
        dont_frag: false,
        dscp: 0,
    }
    .emit(&mut ipv4::Packet::new_unchecked(&mut f[ETH_LEN..]));
    let u = &mut f[ETH_LEN + IP_LEN..];
    let mut up = udp::Packet::new_unchecked(u);
    UdpRepr {
        src_port: 10_000 + (src % 1000) as u16,
        dst_port: 9,
        payload_len: ip_payload - UDP_LEN,
    }
    .emit(&mut up);
    up.fill_checksum_v4(ip_src, ip_dst);
    f
}

/// Wraps an inner frame from peer `i` into outer
/// Ethernet/IPv4-or-IPv6[/UDP]/L2TPv3 (RFC 3931 §4.1.1, §4.1.2.1; the
/// IPv6 header per RFC 8200 §3, its UDP checksum per §8.1), with the
/// `las::wire` builders.
fn outer_packet(a: &Args, i: u32, inner: &[u8], ident: u16) -> Vec<u8> {
    let encap = match a.encap {
        EncapArg::Ip => Encap::Ip,
        EncapArg::Udp => Encap::Udp,
    };
    let l2tp = DataRepr {
        encap,
        session_id: 1000 + i,
        cookie: Cookie::NONE,
        sublayer: SublayerRepr::None,
    };
    let l2tp_len = l2tp.buffer_len();
    let udp_len = if encap == Encap::Udp { UDP_LEN } else { 0 };
    let (ip_len, ethertype) = match a.underlay {
        Underlay::Ipv4 => (IP_LEN, ethertype::IPV4),
        Underlay::Ipv6 => (IP6_LEN, ethertype::IPV6),
    };
    let next = if encap == Encap::Udp {
        protocol::UDP
    } else {
        protocol::L2TP
    };
    let ip_payload = udp_len + l2tp_len + inner.len();
    let mut p = vec![0u8; ETH_LEN + ip_len + ip_payload];
    EthernetRepr {
        src: ROUTER_MAC,
        dst: a.las_mac,
        ethertype,
    }
    .emit(&mut Frame::new_unchecked(&mut p[..]));
    let (src, dst) = endpoints(a, i);
    match (src, dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => Ipv4Repr {
            src,
            dst,
            protocol: next,
            payload_len: ip_payload,
            ttl: 64,
            ident,
            dont_frag: true,
            dscp: 0,
        }
        .emit(&mut ipv4::Packet::new_unchecked(&mut p[ETH_LEN..])),
        (IpAddr::V6(src), IpAddr::V6(dst)) => Ipv6Repr {
            src,
            dst,
            next_header: next,
            payload_len: ip_payload,
            hop_limit: 64,
            traffic_class: 0,
            flow_label: 0,
        }
        .emit(&mut ipv6::Packet::new_unchecked(&mut p[ETH_LEN..])),
        _ => unreachable!("endpoints() gives one family"),
    }
    let l2tp_off = ETH_LEN + ip_len + udp_len;
    l2tp.emit(&mut p[l2tp_off..])
        .expect("buffer sized for the header");
    p[l2tp_off + l2tp_len..].copy_from_slice(inner);
    if encap == Encap::Udp {
        let mut up = udp::Packet::new_unchecked(&mut p[ETH_LEN + ip_len..]);
        UdpRepr {
            src_port: UDP_PORT,
            dst_port: UDP_PORT,
            payload_len: l2tp_len + inner.len(),
        }
        .emit(&mut up);
        match (src, dst) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => up.fill_checksum_v4(src, dst),
            (IpAddr::V6(src), IpAddr::V6(dst)) => {
                let policy = match a.udp6_checksum {
                    Udp6Checksum::Compute => UdpChecksum::Compute,
                    Udp6Checksum::Zero => UdpChecksum::ZeroAllowed,
                };
                ipv6::fill_udp_checksum(&mut up, src, dst, policy)
                    .expect("the UDP length was just written to fit the buffer");
            }
            _ => unreachable!("endpoints() gives one family"),
        }
    }
    p
}

/// The simple IMIX (inner sizes without FCS, 7:4:1), one cycle of 12.
const IMIX: [u16; 12] = [60, 570, 60, 60, 570, 60, 1514, 60, 570, 60, 60, 570];

fn config(a: &Args, out: &std::path::Path, mtu: usize, outer: usize) -> String {
    let device = a.device.replace("<OUT>", &out.display().to_string());
    let mbufs = if a.mbufs > 0 {
        a.mbufs
    } else {
        // infinite_rx keeps the whole pcap in mbufs of the RX pool; add RX and
        // TX descriptors, per-lcore caches and flood copies, round up to 2^n-1.
        // Not rounded to 2^n - 1: at a million packets that would double
        // the hugepages needed.
        let need = u64::from(a.packets) + 16384;
        need.max(16383).min(u64::from(u32::MAX)) as u32
    };
    // Room for the pcap's largest packet behind the 128-byte headroom.
    let mbuf_size = (outer + 128).next_multiple_of(64).clamp(1024, 65535);
    // Every source MAC, plus slack (the table itself sizes to half load).
    let learned = u64::from(a.macs.min(a.packets));
    let mac_table = (learned + learned / 16 + 1024).min(1 << 28);
    let encap = if a.encap == EncapArg::Udp {
        "udp"
    } else {
        "ip"
    };
    let v6 = a.underlay == Underlay::Ipv6;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Generated by las-trafgen for {} ({} sessions, {} MACs, {} inner frames, {} encap over {}).",
        out.display(),
        a.sessions,
        a.macs,
        if a.imix {
            "IMIX".to_string()
        } else {
            format!("{}-byte", a.size)
        },
        encap,
        if v6 { "IPv6" } else { "IPv4" }
    );
    let _ = writeln!(
        s,
        "# EAL options (hugepages or --no-huge, --file-prefix) are given on the las command line.\n"
    );
    let _ = writeln!(s, "[eal]\nargs = []\n");
    let _ = writeln!(
        s,
        "[dataplane]\nmbufs = {mbufs}\nmbuf_size = {mbuf_size}\nmax_sessions = {}\nmax_switches = 4\nmac_table_size = {mac_table}\n",
        (a.sessions + 8).next_power_of_two().min(65535)
    );
    let _ = writeln!(s, "[control]\nsocket = {:?}\n", a.socket);
    if v6 && a.encap == EncapArg::Udp {
        let c = match a.udp6_checksum {
            Udp6Checksum::Compute => "compute",
            Udp6Checksum::Zero => "zero",
        };
        let _ = writeln!(s, "[l2tp]\nudp6_checksum = \"{c}\"\n");
    }
    let _ = writeln!(
        s,
        "[[port]]\nname = \"wan0\"\ndevice = {device:?}\naddress = \"{}/24\"\ngateway = \"{}\"\nmtu = {mtu}\nmac = \"{}\"",
        a.las_ip,
        router(a.las_ip),
        a.las_mac
    );
    if v6 {
        let _ = writeln!(
            s,
            "address6 = \"{}/64\"\ngateway6 = \"{}\"",
            a.las_ip6,
            router6(a.las_ip6)
        );
    }
    s.push('\n');
    let _ = writeln!(
        s,
        "[[neighbor]]\nport = \"wan0\"\naddress = \"{}\"\nmac = \"{ROUTER_MAC}\"\n",
        router(a.las_ip)
    );
    if v6 {
        let _ = writeln!(
            s,
            "[[neighbor]]\nport = \"wan0\"\naddress = \"{}\"\nmac = \"{ROUTER_MAC}\"\n",
            router6(a.las_ip6)
        );
    }
    let _ = writeln!(s, "[[switch]]\nname = \"bench\"\naging = 300\n");
    for i in 0..a.sessions {
        let _ = writeln!(
            s,
            "[[session]]\nname = \"pw{i}\"\nswitch = \"bench\"\npeer = \"{}\"\nencap = \"{encap}\"\nlocal_session_id = {}\nremote_session_id = {}",
            endpoints(a, i).0,
            1000 + i,
            2000 + i
        );
    }
    s
}

/// Builds the capture's packets in order and hands each to `emit` with
/// its index; returns how many carry a broadcast inner frame.
fn packets(
    a: &Args,
    mut emit: impl FnMut(u32, &[u8]) -> Result<(), String>,
) -> Result<u32, String> {
    let size = usize::from(a.size);
    let mut rng = Rng(a.seed.max(1) ^ 0x9e37_79b9_7f4a_7c15);
    let s = a.sessions;
    let mut broadcast = 0u32;
    // Destinations are chosen among the MACs that are sources.
    let sources = a.macs.min(a.packets);
    for k in 0..a.packets {
        // Source MACs in round-robin, so every MAC is a source early on and
        // the sessions take turns.
        let src = k % a.macs;
        let peer = src % s;
        let bcast = a.broadcast_pct > 0.0
            && (rng.next() >> 11) as f64 / (1u64 << 53) as f64 * 100.0 < a.broadcast_pct;
        // A random host behind another session, among those that have
        // already been a source: in the first pass over the MACs only the
        // ones before this packet (so las, learning in order, knows them;
        // an unknown destination would flood to every other session, and
        // with thousands of sessions the first pass would never end).
        // This skews the first pass's destinations towards early MACs.
        let known = if k < sources { k } else { sources };
        let dst = if bcast || s == 1 || known == 0 {
            broadcast += 1;
            None
        } else {
            let mut d = rng.below(known);
            let mut tries = 0;
            while d % s == peer && tries < known {
                d = (d + 1) % known;
                tries += 1;
            }
            if d % s == peer {
                broadcast += 1;
                None
            } else {
                Some(d)
            }
        };
        let size = if a.imix {
            usize::from(IMIX[k as usize % IMIX.len()])
        } else {
            size
        };
        let inner = inner_frame(size, src, dst, k);
        emit(k, &outer_packet(a, peer, &inner, k as u16))?;
    }
    Ok(broadcast)
}

fn main() -> Result<(), String> {
    let cli = Cli::parse();
    match cli.cmd {
        #[cfg(feature = "dpdk")]
        Some(Cmd::Send(s)) => send::main(s),
        Some(Cmd::Ctl(c)) => ctl::main(c),
        None => generate(cli.gen),
    }
}

/// Refuses options that would make a capture las cannot use.
fn check_args(a: &Args) -> Result<(), String> {
    if !(0.0..=100.0).contains(&a.broadcast_pct) {
        return Err("--broadcast-pct must be within 0..=100".into());
    }
    if a.packets == 0 {
        return Err("--packets must be at least 1".into());
    }
    let own = u32::from(a.las_ip) & 0xff;
    if own == 0 || own >= 254 || (a.las_ip.octets()[0] == 198 && a.las_ip.octets()[1] & 0xfe == 18)
    {
        return Err(format!(
            "--las-ip {} must not be .0, .254 (the router) or .255 of its /24, nor in 198.18.0.0/15 (the peers)",
            a.las_ip
        ));
    }
    if a.underlay == Underlay::Ipv6 {
        let r = router6(a.las_ip6);
        let net = Ipv6Addr::from(u128::from(r) & !0xff);
        let peers = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0);
        let bad = a.las_ip6 == r
            || a.las_ip6 == net
            || a.las_ip6.segments()[..3] == peers.segments()[..3]
            || !matches!(a.las_ip6.segments()[0], 0x2000..=0x3fff | 0xfc00..=0xfdff);
        if bad {
            return Err(format!(
                "--las-ip6 {} must be a global or unique-local unicast address, not ::fe (the router) or ::0 of its /64, nor in 2001:2::/48 (the peers)",
                a.las_ip6
            ));
        }
    }
    if a.macs < a.sessions {
        return Err("--macs must be at least --sessions".into());
    }
    Ok(())
}

fn generate(a: Args) -> Result<(), String> {
    let out = a.out.clone().ok_or("--out is required")?;
    check_args(&a)?;
    if a.macs > a.packets {
        eprintln!(
            "las-trafgen: warning: {} MACs but only {} packets: not every MAC is a source",
            a.macs, a.packets
        );
    }
    let file = std::fs::File::create(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut w = PcapWriter::new(std::io::BufWriter::new(file)).map_err(|e| e.to_string())?;
    let mut max_outer = 0usize;
    let broadcast = packets(&a, |k, p| {
        max_outer = max_outer.max(p.len());
        w.write_packet(&PcapPacket::new(
            Duration::from_micros(u64::from(k)),
            p.len() as u32,
            p,
        ))
        .map(|_| ())
        .map_err(|e| e.to_string())
    })?;
    drop(w);
    // The outer IP packet must fit the port MTU or las drops it on output.
    let mtu = (max_outer - ETH_LEN).max(1500);
    let cfg = config(&a, &out, mtu, max_outer);
    eprintln!(
        "las-trafgen: wrote {} packets ({} broadcast inner, outer frame {} bytes) to {}",
        a.packets,
        broadcast,
        max_outer,
        out.display()
    );
    match &a.config_out {
        Some(p) => {
            std::fs::write(p, cfg).map_err(|e| format!("{}: {e}", p.display()))?;
            eprintln!("las-trafgen: wrote the las config to {}", p.display());
        }
        None => print!("{cfg}"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use las::config::Config;
    use las::wire::l2tp::L2Spec;

    fn args(extra: &[&str]) -> Args {
        let mut v = vec!["las-trafgen", "--out", "/tmp/trafgen-test.pcap"];
        v.extend_from_slice(extra);
        let cli = Cli::try_parse_from(v).expect("valid options");
        assert!(cli.cmd.is_none());
        check_args(&cli.gen).expect("accepted options");
        cli.gen
    }

    fn all(a: &Args) -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        packets(a, |k, p| {
            assert_eq!(k as usize, v.len());
            v.push(p.to_vec());
            Ok(())
        })
        .unwrap();
        v
    }

    /// Decodes one IPv6 frame the way las's classifier must: outer
    /// Ethernet to las, IPv6 from the peer to las, L2TPv3 data for the
    /// peer's session; returns (peer index, inner frame).
    fn decode6(a: &Args, p: &[u8]) -> (u32, Vec<u8>) {
        let eth = Frame::new_checked(p).unwrap();
        assert_eq!(eth.dst_addr(), a.las_mac);
        assert_eq!(eth.src_addr(), ROUTER_MAC);
        assert_eq!(eth.ethertype(), ethertype::IPV6);
        let ip = ipv6::Packet::new_checked(eth.payload()).unwrap();
        let r = Ipv6Repr::parse(&ip).unwrap();
        assert_eq!(
            r.payload_len,
            p.len() - ETH_LEN - IP6_LEN,
            "RFC 8200 payload length"
        );
        assert_eq!(r.hop_limit, 64);
        assert_eq!(r.dst, a.las_ip6);
        let (encap, l2) = match r.next_header {
            protocol::L2TP => (Encap::Ip, ip.payload()),
            protocol::UDP => {
                let u = udp::Packet::new_checked(ip.payload()).unwrap();
                assert_eq!((u.src_port(), u.dst_port()), (UDP_PORT, UDP_PORT));
                assert_eq!(usize::from(u.len()), r.payload_len);
                match a.udp6_checksum {
                    Udp6Checksum::Compute => {
                        assert_ne!(u.checksum(), 0, "RFC 8200 §8.1: never zero");
                        ipv6::verify_udp_checksum(&u, r.src, r.dst, UdpChecksum::Compute)
                            .expect("the UDP checksum verifies");
                    }
                    Udp6Checksum::Zero => assert_eq!(u.checksum(), 0),
                }
                (Encap::Udp, &ip.payload()[UDP_LEN..])
            }
            n => panic!("next header {n}"),
        };
        let d = DataRepr::parse(encap, l2, 0, L2Spec::None).unwrap();
        let peer = d.session_id - 1000;
        assert!(peer < a.sessions);
        assert_eq!(r.src, peer_ip6(peer));
        (peer, l2[d.buffer_len()..].to_vec())
    }

    /// The first packet of `--underlay ipv6 --encap ip`, byte for byte
    /// (RFC 8200 §3, RFC 3931 §4.1.1.1): Ethernet, IPv6 from 2001:2::1:0
    /// to 2001:db8::1, next header 115, session 1000.
    #[test]
    fn ipv6_ip_header_bytes() {
        let a = args(&["--underlay", "ipv6", "--size", "60", "--packets", "4"]);
        let p = &all(&a)[0];
        assert_eq!(p.len(), ETH_LEN + 40 + 4 + 60);
        #[rustfmt::skip]
        let want: [u8; 58] = [
            // Ethernet: to las, from the router, IPv6.
            0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0xfe, 0x86, 0xdd,
            // Version 6, traffic class 0, flow label 0; payload 64; next 115; hop limit 64.
            0x60, 0x00, 0x00, 0x00, 0x00, 0x40, 0x73, 0x40,
            // 2001:2::1:0
            0x20, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
            // 2001:db8::1
            0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
            // Session id 1000.
            0x00, 0x00, 0x03, 0xe8,
        ];
        assert_eq!(p[..58], want);
        // The inner frame follows unchanged.
        assert_eq!(p[58..], inner_frame(60, 0, None, 0)[..]);
    }

    /// Every frame of both encapsulations decodes to the same inner
    /// frame, from the same peer, as the IPv4 capture carries.
    #[test]
    fn ipv6_frames_carry_the_ipv4_captures_inner_frames() {
        for encap in ["ip", "udp"] {
            for size in ["60", "1514"] {
                let common = [
                    "--encap",
                    encap,
                    "--size",
                    size,
                    "--packets",
                    "64",
                    "--broadcast-pct",
                    "10",
                ];
                let a4 = args(&common);
                let mut o6 = common.to_vec();
                o6.extend_from_slice(&["--underlay", "ipv6"]);
                let a6 = args(&o6);
                let (v4, v6) = (all(&a4), all(&a6));
                assert_eq!(v4.len(), v6.len());
                for (k, (p4, p6)) in v4.iter().zip(&v6).enumerate() {
                    let (peer, inner) = decode6(&a6, p6);
                    assert_eq!(peer, k as u32 % 1000 % 8);
                    // IPv4 (20 bytes) vs IPv6 (40 bytes) header.
                    assert_eq!(p6.len(), p4.len() + 20);
                    assert_eq!(
                        p4[p4.len() - inner.len()..],
                        inner[..],
                        "{encap} {size} #{k}"
                    );
                }
            }
        }
    }

    #[test]
    fn ipv6_udp_zero_checksum() {
        let a = args(&[
            "--underlay",
            "ipv6",
            "--encap",
            "udp",
            "--udp6-checksum",
            "zero",
            "--packets",
            "16",
        ]);
        for p in all(&a) {
            decode6(&a, &p);
        }
        let c = config(&a, std::path::Path::new("/tmp/x.pcap"), 1500, 130);
        let cfg = Config::from_toml_str(&c).unwrap();
        assert_eq!(cfg.l2tp.udp6_checksum, UdpChecksum::ZeroAllowed);
    }

    /// The IPv4 capture is what it was: IPv4 with a valid header
    /// checksum, from 198.18.1.x.
    #[test]
    fn ipv4_frames_unchanged() {
        let a = args(&["--encap", "udp", "--packets", "8"]);
        for (k, p) in all(&a).iter().enumerate() {
            let eth = Frame::new_checked(&p[..]).unwrap();
            assert_eq!(eth.ethertype(), ethertype::IPV4);
            let ip = ipv4::Packet::new_checked(eth.payload()).unwrap();
            assert!(ip.verify_checksum());
            assert_eq!(ip.src_addr(), peer_ip(k as u32 % 8));
            assert_eq!(ip.dst_addr(), a.las_ip);
            let u = udp::Packet::new_checked(ip.payload()).unwrap();
            assert!(u.verify_checksum_v4(ip.src_addr(), ip.dst_addr()));
        }
    }

    /// The IPv6 config loads in las: IPv6 peers on the port with
    /// address6, reached through the gateway6 router, whose MAC is a
    /// static neighbour (no neighbour discovery to wait for).
    #[test]
    fn ipv6_config_loads() {
        for encap in ["ip", "udp"] {
            let a = args(&[
                "--underlay",
                "ipv6",
                "--encap",
                encap,
                "--sessions",
                "300",
                "--macs",
                "1000",
            ]);
            let c = config(&a, std::path::Path::new("/tmp/x.pcap"), 1558, 1572);
            let cfg = Config::from_toml_str(&c).unwrap_or_else(|e| panic!("{e}\n{c}"));
            assert_eq!(cfg.sessions.len(), 300);
            for (i, s) in cfg.sessions.iter().enumerate() {
                assert_eq!(s.peer, IpAddr::V6(peer_ip6(i as u32)));
                assert_eq!(s.port, 0);
            }
            let v6 = cfg.ports[0].v6.as_ref().expect("address6");
            assert_eq!((v6.address, v6.prefix_len), (a.las_ip6, 64));
            let gw: Ipv6Addr = "2001:db8::fe".parse().unwrap();
            assert_eq!(v6.gateway, Some(gw));
            assert!(!v6.on_link(peer_ip6(0)), "peers sit behind the router");
            assert_eq!(cfg.neighbors6.len(), 1);
            assert_eq!(cfg.neighbors6[0].address, gw);
            assert_eq!(cfg.neighbors6[0].mac, ROUTER_MAC.0);
            assert_eq!(cfg.l2tp.udp6_checksum, UdpChecksum::Compute);
        }
    }

    /// The peers of the largest session count stay distinct, in one /64,
    /// off las's link.
    #[test]
    fn ipv6_peers_cover_every_session() {
        let last = peer_ip6(65534);
        assert_eq!(peer_ip6(0).to_string(), "2001:2::1:0");
        assert_eq!(last.to_string(), "2001:2::1:fffe");
        assert_eq!(u128::from(last) >> 64, u128::from(peer_ip6(0)) >> 64);
        let mut seen: Vec<_> = (0..65535).map(peer_ip6).collect();
        seen.dedup();
        assert_eq!(seen.len(), 65535);
    }

    #[test]
    fn bad_las_ip6_refused() {
        for bad in [
            "2001:db8::fe",
            "2001:db8::",
            "2001:2::5",
            "fe80::1",
            "ff02::1",
            "::1",
        ] {
            let cli = Cli::try_parse_from([
                "las-trafgen",
                "--out",
                "/tmp/x.pcap",
                "--underlay",
                "ipv6",
                "--las-ip6",
                bad,
            ])
            .unwrap();
            let e = check_args(&cli.gen).unwrap_err();
            assert!(e.contains("--las-ip6"), "{bad}: {e}");
        }
        // Irrelevant under IPv4.
        let cli =
            Cli::try_parse_from(["las-trafgen", "--out", "/x", "--las-ip6", "fe80::1"]).unwrap();
        check_args(&cli.gen).unwrap();
    }
}
