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
//! small and quick to load. Peer `i` sends to las local session id `1000+i`
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
use las::wire::l2tp::{Cookie, DataRepr, Encap, SublayerRepr, UDP_PORT};
use las::wire::udp::{self, UdpRepr, HEADER_LEN as UDP_LEN};
use pcap_file::pcap::{PcapPacket, PcapWriter};
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum EncapArg {
    Ip,
    Udp,
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
    /// las's address on the port (a /24 with the router at .254).
    #[arg(long, default_value = "192.0.2.1")]
    las_ip: Ipv4Addr,
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
    /// The [[port]] device in the generated config.
    #[arg(
        long,
        default_value = "net_pcap0,rx_pcap=<OUT>,infinite_rx=1,tx_pcap=/dev/null"
    )]
    device: String,
    /// Control socket in the generated config.
    #[arg(long, default_value = "/tmp/las-bench.sock")]
    socket: String,
    /// [dataplane] mbufs in the generated config (0 = big enough for the pcap
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

/// Wraps an inner frame from peer `i` into outer Ethernet/IPv4[/UDP]/L2TPv3.
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
    let ip_payload = udp_len + l2tp_len + inner.len();
    let mut p = vec![0u8; ETH_LEN + IP_LEN + ip_payload];
    EthernetRepr {
        src: ROUTER_MAC,
        dst: a.las_mac,
        ethertype: ethertype::IPV4,
    }
    .emit(&mut Frame::new_unchecked(&mut p[..]));
    Ipv4Repr {
        src: peer_ip(i),
        dst: a.las_ip,
        protocol: if encap == Encap::Udp {
            protocol::UDP
        } else {
            protocol::L2TP
        },
        payload_len: ip_payload,
        ttl: 64,
        ident,
        dont_frag: true,
        dscp: 0,
    }
    .emit(&mut ipv4::Packet::new_unchecked(&mut p[ETH_LEN..]));
    let l2tp_off = ETH_LEN + IP_LEN + udp_len;
    l2tp.emit(&mut p[l2tp_off..])
        .expect("buffer sized for the header");
    p[l2tp_off + l2tp_len..].copy_from_slice(inner);
    if encap == Encap::Udp {
        let mut up = udp::Packet::new_unchecked(&mut p[ETH_LEN + IP_LEN..]);
        UdpRepr {
            src_port: UDP_PORT,
            dst_port: UDP_PORT,
            payload_len: l2tp_len + inner.len(),
        }
        .emit(&mut up);
        up.fill_checksum_v4(peer_ip(i), a.las_ip);
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
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Generated by las-trafgen for {} ({} sessions, {} MACs, {} inner frames, {} encap).",
        out.display(),
        a.sessions,
        a.macs,
        if a.imix {
            "IMIX".to_string()
        } else {
            format!("{}-byte", a.size)
        },
        encap
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
    let _ = writeln!(
        s,
        "[[port]]\nname = \"wan0\"\ndevice = {device:?}\naddress = \"{}/24\"\ngateway = \"{}\"\nmtu = {mtu}\nmac = \"{}\"\n",
        a.las_ip,
        router(a.las_ip),
        a.las_mac
    );
    let _ = writeln!(
        s,
        "[[neighbor]]\nport = \"wan0\"\naddress = \"{}\"\nmac = \"{ROUTER_MAC}\"\n",
        router(a.las_ip)
    );
    let _ = writeln!(s, "[[switch]]\nname = \"bench\"\naging = 300\n");
    for i in 0..a.sessions {
        let _ = writeln!(
            s,
            "[[session]]\nname = \"pw{i}\"\nswitch = \"bench\"\npeer = \"{}\"\nencap = \"{encap}\"\nlocal_session_id = {}\nremote_session_id = {}",
            peer_ip(i),
            1000 + i,
            2000 + i
        );
    }
    s
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

fn generate(a: Args) -> Result<(), String> {
    let out = a.out.clone().ok_or("--out is required")?;
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
    let size = usize::from(a.size);
    if a.macs < a.sessions {
        return Err("--macs must be at least --sessions".into());
    }
    if a.macs > a.packets {
        eprintln!(
            "las-trafgen: warning: {} MACs but only {} packets: not every MAC is a source",
            a.macs, a.packets
        );
    }
    let file = std::fs::File::create(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut w = PcapWriter::new(std::io::BufWriter::new(file)).map_err(|e| e.to_string())?;
    let mut rng = Rng(a.seed.max(1) ^ 0x9e37_79b9_7f4a_7c15);
    let s = a.sessions;
    let mut broadcast = 0u32;
    let mut max_outer = 0usize;
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
        let p = outer_packet(&a, peer, &inner, k as u16);
        max_outer = max_outer.max(p.len());
        w.write_packet(&PcapPacket::new(
            Duration::from_micros(u64::from(k)),
            p.len() as u32,
            &p,
        ))
        .map_err(|e| e.to_string())?;
    }
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
