//! Configuration: TOML schema and validation.
//!
//! [`Config::from_toml_str`] parses the file with serde into raw structs
//! (unknown keys rejected) and validates them into the typed [`Config`].
//! Every error is a [`ConfigError`] naming the offending key (for example
//! `session[2].local_cookie`), its value and the reason.
//!
//! See `configs/las.example.toml` for the documented schema.
#![forbid(unsafe_code)]

pub use crate::switch::filter::L2Filter;
pub use crate::wire::l2tp::Cookie;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

mod ipv6;
mod l2tp;
pub mod limits;
mod mesh;
mod metrics;
mod raw;
mod validate;

pub use l2tp::{AuthMode, Digest, L2tpPeer};

pub use crate::switch::flap::FlapConfig;
pub use crate::switch::policy::{MssClamp, MtuPolicy, VlanMode};
pub use crate::switch::storm::StormRate;
pub use validate::parse_mac;

/// A configuration error: `{key} = {value}: {reason}`.
///
/// The key and the value are echoed through [`shown`], so an error about
/// a huge value stays short.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// Path of the offending key, e.g. `session[2].local_cookie`,
    /// `port[0].address`, `dataplane.burst`; empty when unknown.
    pub key: String,
    /// The offending value as written (or a summary such as a count),
    /// cut to [`SHOWN_MAX`] characters.
    pub value: String,
    /// Why it is wrong.
    pub reason: String,
}

impl ConfigError {
    pub fn new(
        key: impl Into<String>,
        value: impl fmt::Display,
        reason: impl Into<String>,
    ) -> Self {
        ConfigError {
            key: shown(key.into()),
            value: shown(value),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}: {}", self.key, self.value, self.reason)
    }
}

/// Most characters of a key or value that an error echoes.
pub const SHOWN_MAX: usize = 64;

/// `v` as an error echoes it: whole when it has at most [`SHOWN_MAX`]
/// characters, else its first [`SHOWN_MAX`] characters, then `… (N bytes)`
/// with the length of all of it. `v` is formatted into a bounded buffer,
/// so a 10 MB value costs no 10 MB copy.
pub fn shown(v: impl fmt::Display) -> String {
    struct Head {
        s: String,
        chars: usize,
        bytes: usize,
        cut: bool,
    }
    impl fmt::Write for Head {
        fn write_str(&mut self, part: &str) -> fmt::Result {
            self.bytes += part.len();
            if !self.cut {
                for c in part.chars() {
                    if self.chars == SHOWN_MAX {
                        self.cut = true;
                        break;
                    }
                    self.s.push(c);
                    self.chars += 1;
                }
            }
            Ok(())
        }
    }
    let mut h = Head {
        s: String::new(),
        chars: 0,
        bytes: 0,
        cut: false,
    };
    // `Head` never fails; should `v`'s `Display` fail, what it wrote so
    // far is shown.
    let _ = fmt::write(&mut h, format_args!("{v}"));
    if h.cut {
        h.s.push_str(&format!("… ({} bytes)", h.bytes));
    }
    h.s
}

/// A string shown quoted and escaped (`{:?}`), without copying it first.
#[derive(Clone, Copy)]
pub(crate) struct Quoted<'a>(pub &'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl std::error::Error for ConfigError {}

/// The validated configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Extra EAL arguments (`[eal] args`).
    pub eal_args: Vec<String>,
    pub dataplane: Dataplane,
    pub control: Control,
    pub metrics: Metrics,
    pub mesh: Mesh,
    pub l2tp: L2tp,
    /// At least one.
    pub ports: Vec<Port>,
    pub neighbors: Vec<Neighbor>,
    /// `[[neighbor]]` entries with an IPv6 address.
    pub neighbors6: Vec<Neighbor6>,
    pub switches: Vec<Switch>,
    pub sessions: Vec<Session>,
}

/// `[dataplane]`: sizes of pools, rings and tables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dataplane {
    /// mbufs in the packet pool, >= 1023.
    pub mbufs: u32,
    /// Data room per mbuf including the 128-byte headroom, 1024..=65535.
    pub mbuf_size: u16,
    /// Power of two, 64..=16384.
    pub rx_descriptors: u16,
    /// Power of two, 64..=16384.
    pub tx_descriptors: u16,
    /// Packets per burst, 1..=64.
    pub burst: u16,
    /// 1..=65535 (member ids are `0..max_sessions`).
    pub max_sessions: usize,
    /// 1..=65535 (switch ids are `0..max_switches`).
    pub max_switches: usize,
    /// Entries per worker MAC table, >= 16.
    pub mac_table_size: usize,
    /// Power of two.
    pub punt_ring: u32,
    /// Power of two.
    pub event_ring: u32,
    /// Power of two.
    pub command_ring: u32,
    /// Seconds between refresh events for an active MAC, >= 1.
    pub mac_refresh: u32,
}

impl Default for Dataplane {
    fn default() -> Self {
        Dataplane {
            mbufs: 16383,
            mbuf_size: 2176,
            rx_descriptors: 1024,
            tx_descriptors: 1024,
            burst: 32,
            max_sessions: 4096,
            max_switches: 1024,
            mac_table_size: 65536,
            punt_ring: 1024,
            event_ring: 4096,
            command_ring: 4096,
            mac_refresh: 1,
        }
    }
}

/// `[control]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Control {
    /// Control socket path (default `/run/las/las.sock`).
    pub socket: PathBuf,
}

impl Default for Control {
    fn default() -> Self {
        Control {
            socket: PathBuf::from("/run/las/las.sock"),
        }
    }
}

/// `[mesh]`: other las nodes that serve the same virtual switches
/// (`control::engine::mesh`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mesh {
    /// Their addresses (unique, not ours; at most 64). Empty: no mesh.
    pub peers: Vec<Ipv4Addr>,
    /// How mesh pseudowires are carried (default `Ip`).
    pub encap: Encap,
    /// Seconds between attempts to reach a peer whose control connection
    /// is down (1..=300, default 5).
    pub retry_interval: u16,
}

impl Default for Mesh {
    fn default() -> Self {
        Mesh {
            peers: Vec::new(),
            encap: Encap::Ip,
            retry_interval: 5,
        }
    }
}

/// `[metrics]`: the Prometheus endpoint (`crate::telemetry::exporter`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metrics {
    /// Where `/metrics` is served; `None` (the default): not at all.
    pub listen: Option<SocketAddr>,
    /// Sessions with series of their own (the rest are only counted).
    pub max_session_series: usize,
    /// Switches with series of their own (the rest are only counted).
    pub max_switch_series: usize,
    /// How long a scrape may wait for las's control socket (ms).
    pub timeout_ms: u32,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            listen: None,
            max_session_series: 1000,
            max_switch_series: 1000,
            timeout_ms: 2000,
        }
    }
}

/// `[l2tp]`: the RFC 3931 control plane (dynamic pseudowires).
/// Default HELLO interval toward UDP peers, seconds: below the 30 s
/// after which common NATs (Linux conntrack's `nf_conntrack_udp_timeout`,
/// many home routers) drop an unanswered UDP mapping, so an idle
/// pseudowire behind one keeps its mapping.
pub const HELLO_INTERVAL_UDP: u32 = 20;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct L2tp {
    /// Local UDP port for L2TPv3 over UDP (default 1701).
    pub udp_port: u16,
    /// Host Name AVP we send (default "las").
    pub host_name: String,
    /// Router ID AVP, a 32-bit id written as an IPv4 address (default:
    /// the first port's IPv4 `address`; every port has one, so an IPv6
    /// control connection gets it too).
    pub router_id: Option<Ipv4Addr>,
    /// HELLO after this many seconds of silence (default 60).
    /// Seconds of silence before a HELLO to a peer over IP (default 60).
    pub hello_interval: u32,
    /// The same to a peer over UDP (default [`HELLO_INTERVAL_UDP`], or
    /// `hello_interval` if that is shorter): a NAT in the path forgets an
    /// idle UDP mapping after 30 s or so.
    pub hello_interval_udp: u32,
    /// Retransmission interval cap, seconds (default 8; starts at 1 s).
    pub retransmit_max: u32,
    /// Retransmissions before the peer is declared dead (default 10).
    pub retransmit_retries: u32,
    /// Receive Window Size AVP we advertise (default 16).
    pub receive_window: u16,
    pub max_tunnels_per_peer: usize,
    pub max_sessions_per_tunnel: usize,
    /// Peers allowed to open control connections, IPv4 and IPv6
    /// prefixes (empty: any).
    pub allow: Vec<(IpAddr, u8)>,
    /// Global shared secret (None: no authentication).
    pub secret: Option<String>,
    /// Per-prefix secrets (the longest matching prefix wins over `secret`).
    pub peers: Vec<L2tpPeer>,
    pub digest: Digest,
    /// How peers with a secret authenticate (default `digest`), unless
    /// their `[[l2tp.peer]]` says otherwise.
    pub auth: AuthMode,
    /// Create a virtual switch for an unknown VC ID (default true).
    pub auto_switch: bool,
    /// Seconds an auto-created switch outlives its last member before it
    /// is freed (default 60; its counters stay in `las show` until then).
    pub auto_switch_grace: u32,
    /// Auto-created switches one peer address may hold at once (default
    /// 64, 1..=65535): a peer asking for VC 1, 2, 3, ... cannot take every
    /// switch slot; an edge router aggregating many customers needs more.
    pub auto_switches_per_peer: u32,
    /// Length of the cookie las assigns to dynamic sessions: 0, 4 or 8.
    pub cookie_len: usize,
    /// Sublayer las asks to receive: none (default) or default.
    pub l2spec: L2SpecCfg,
    /// Control packets (ARP, ICMP, L2TP control) punted per second per
    /// worker; the excess is dropped and counted (default 10000).
    pub punt_rate: u32,
    /// L2TP control messages one peer address may send per second
    /// (twice that at once); the excess is dropped before parsing and
    /// counted (refused_rate_limited). Default 1000.
    pub control_rate: u32,
    /// UDP checksum of pseudowire packets las sends over IPv6:
    /// `Compute` (default, RFC 8200 §8.1; what Linux `ip l2tp` accepts
    /// unless its session has `udp6_csum_rx off`) or `ZeroAllowed`
    /// ("zero": send 0, RFC 6935 §5 / RFC 6936). Received checksums are
    /// not verified on the fast path either way (a zero one is accepted).
    pub udp6_checksum: crate::wire::ipv6::UdpChecksum,
}

impl Default for L2tp {
    fn default() -> Self {
        L2tp {
            udp_port: 1701,
            host_name: "las".into(),
            router_id: None,
            hello_interval: 60,
            hello_interval_udp: HELLO_INTERVAL_UDP,
            retransmit_max: 8,
            retransmit_retries: 10,
            receive_window: 16,
            max_tunnels_per_peer: 4,
            max_sessions_per_tunnel: 1024,
            allow: Vec::new(),
            secret: None,
            peers: Vec::new(),
            digest: Digest::Md5,
            auth: AuthMode::Digest,
            auto_switch: true,
            auto_switch_grace: 60,
            auto_switches_per_peer: 64,
            cookie_len: 0,
            l2spec: L2SpecCfg::None,
            punt_rate: 10_000,
            control_rate: 1000,
            udp6_checksum: crate::wire::ipv6::UdpChecksum::Compute,
        }
    }
}

impl L2tp {
    /// The `[[l2tp.peer]]` entry for a peer address: the longest
    /// matching prefix of its family.
    fn peer_entry(&self, ip: IpAddr) -> Option<&L2tpPeer> {
        self.peers
            .iter()
            .filter(|p| prefix_contains(p.prefix, p.prefix_len, ip))
            .max_by_key(|p| p.prefix_len)
    }

    /// The secret for a peer address (IPv4 or IPv6): the longest
    /// matching `[[l2tp.peer]]` prefix, else the global one.
    pub fn secret_for(&self, ip: IpAddr) -> Option<&str> {
        self.peer_entry(ip)
            .map(|p| p.secret.as_str())
            .or(self.secret.as_deref())
    }

    /// The secret and authentication mode for a peer address: the
    /// longest matching `[[l2tp.peer]]` prefix (its `auth`, else the
    /// global one), else the global secret. `None`: no authentication.
    pub fn auth_for(&self, ip: IpAddr) -> Option<(&str, AuthMode)> {
        match self.peer_entry(ip) {
            Some(p) => Some((p.secret.as_str(), p.auth.unwrap_or(self.auth))),
            None => self.secret.as_deref().map(|s| (s, self.auth)),
        }
    }

    /// True if `ip` may open control connections: `allow` is empty, or
    /// one of its prefixes (of the same family) holds `ip`.
    pub fn allowed(&self, ip: IpAddr) -> bool {
        self.allow.is_empty() || self.allow.iter().any(|&(a, l)| prefix_contains(a, l, ip))
    }
}

/// Whether the prefix `addr/len` holds `ip`. An IPv4 prefix never holds
/// an IPv6 address nor the reverse (an IPv4-mapped `::ffff:a.b.c.d` is
/// an IPv6 address here: the control channel sees the outer header's
/// family).
pub fn prefix_contains(addr: IpAddr, len: u8, ip: IpAddr) -> bool {
    match (addr, ip) {
        (IpAddr::V4(a), IpAddr::V4(ip)) => {
            u32::from(a) & prefix_mask(len) == u32::from(ip) & prefix_mask(len)
        }
        (IpAddr::V6(a), IpAddr::V6(ip)) => {
            let m = prefix_mask6(len);
            u128::from(a) & m == u128::from(ip) & m
        }
        _ => false,
    }
}

/// The netmask of an IPv6 prefix length (0..=128; more is /128).
pub fn prefix_mask6(len: u8) -> u128 {
    match len {
        0 => 0,
        l if l >= 128 => u128::MAX,
        l => u128::MAX << (128 - u32::from(l)),
    }
}

/// `[[port]]`: a DPDK port with one IPv4 address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    /// Unique, `[A-Za-z0-9_.-]{1,32}`.
    pub name: String,
    /// A vdev spec (`net_...`) or a PCI address (`dddd:bb:dd.f` / `bb:dd.f`).
    pub device: String,
    /// The IPv4 address, or `None` on an IPv6-only port (`address6` set,
    /// `address` absent). Such a port answers no ARP or ICMP, sends no
    /// gratuitous ARP, and carries no IPv4 pseudowire, neighbour or mesh.
    pub address: Option<Ipv4Addr>,
    /// 0..=32 (0 when `address` is `None`).
    pub prefix_len: u8,
    /// Inside the prefix, different from `address` (`None` without one).
    pub gateway: Option<Ipv4Addr>,
    /// 68..=9600 (default 1500).
    pub mtu: u16,
    /// MAC override (unicast).
    pub mac: Option<[u8; 6]>,
    /// IPv6 (`address6`, `gateway6`), beside or instead of the IPv4
    /// address (at least one of the two is set).
    pub v6: Option<Port6>,
    /// Set the DF bit on outer IPv4 packets (default false). Incompatible
    /// with a switch using `mtu_policy = "fragment"` through this port.
    pub dont_fragment: bool,
    /// Reassemble outer IPv4 and IPv6 fragments addressed to us (default true).
    pub reassembly: bool,
    /// Reassembly timeout in ms, 1..=60000 (default 2000).
    pub reassembly_timeout_ms: u32,
    /// Concurrent reassemblies per worker, 1..=1048576 (default 4096).
    pub reassembly_max_flows: u32,
}

impl Port {
    /// The netmask of the port's prefix.
    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(prefix_mask(self.prefix_len))
    }

    /// True if `ip` is inside the port's IPv4 prefix (never on an
    /// IPv6-only port).
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let m = prefix_mask(self.prefix_len);
        self.address
            .is_some_and(|a| u32::from(ip) & m == u32::from(a) & m)
    }

    /// The IPv4 address and prefix as `a.b.c.d/len`, or `-` on an
    /// IPv6-only port (for logs and reports).
    pub fn address_text(&self) -> String {
        match self.address {
            Some(a) => format!("{a}/{}", self.prefix_len),
            None => "-".to_string(),
        }
    }

    /// True if this port's device is a vdev (`net_...`) rather than PCI.
    pub fn is_vdev(&self) -> bool {
        self.device.starts_with("net_")
    }
}

/// The netmask for a prefix length (lengths above 32 act as 32).
pub fn prefix_mask(prefix_len: u8) -> u32 {
    match prefix_len {
        0 => 0,
        n if n >= 32 => u32::MAX,
        n => u32::MAX << (32 - u32::from(n)),
    }
}

/// `[[neighbor]]`: a static ARP entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Neighbor {
    /// Index into [`Config::ports`].
    pub port: usize,
    pub address: Ipv4Addr,
    pub mac: [u8; 6],
}

/// A static IPv6 neighbour (`[[neighbor]]` with an IPv6 address).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Neighbor6 {
    /// Index into [`Config::ports`].
    pub port: usize,
    pub address: std::net::Ipv6Addr,
    pub mac: [u8; 6],
}

/// A port's IPv6 side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port6 {
    /// Global or unique-local unicast.
    pub address: std::net::Ipv6Addr,
    /// 0..=128.
    pub prefix_len: u8,
    /// Link-local or inside the prefix.
    pub gateway: Option<std::net::Ipv6Addr>,
}

/// `[[switch]]`: a virtual switch. Its index in [`Config::switches`] is its
/// `SwitchId`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Switch {
    pub name: String,
    /// MAC aging seconds, 0 = never (default 300).
    pub aging: u32,
    /// Max MACs in the switch, 0 = unlimited (default 0).
    pub mac_limit: u32,
    /// `ethertypes`, the allow-list (at most 32; `switch::LLC` = 0 for
    /// 802.3/LLC; default IPv4, ARP, IPv6), and `deny` (ethertypes, `LLC`
    /// for NetBEUI and other 802.3/LLC frames, `CISCO` for CDP, VTP, DTP,
    /// PVST+; at most 16; default empty), duplicates removed: the filter
    /// the workers run, built once here.
    pub filter: L2Filter,
    /// Remote End IDs (VC IDs) of dynamic pseudowires that join this switch.
    pub vc_ids: Vec<String>,
    /// VLAN-aware switches: the VLANs allowed (1..=4094, sorted, unique);
    /// empty = every VLAN.
    pub vlans: Vec<u16>,
    /// TCP MSS clamping (default `Auto`; `Fixed` in 536..=65495).
    pub mss_clamp: MssClamp,
    /// VLAN handling (default `DropTagged`).
    pub vlan_mode: VlanMode,
    /// Frames too big for the egress path (default `Drop`).
    pub mtu_policy: MtuPolicy,
    /// Storm control, packets per second per member, 0 = off (default 0),
    /// 0..=100000000.
    pub storm_broadcast: u32,
    pub storm_multicast: u32,
    pub storm_unknown_unicast: u32,
    /// Max MACs learned per member, 0 = unlimited (default 0).
    pub mac_limit_per_member: u32,
    /// MAC moves within `flap_window` above which a MAC is flapping,
    /// 0 = off (default 5), 0..=65535.
    pub flap_threshold: u32,
    /// Flap window in seconds, 1..=3600 (default 10).
    pub flap_window: u32,
    /// Seconds a member is blocked after a flap, 0 = log only (default 0),
    /// 0..=86400.
    pub flap_block: u32,
    /// Static MAC entries; each session is a member of this switch and each
    /// MAC appears once.
    pub static_macs: Vec<StaticMac>,
}

impl Switch {
    /// A switch with every policy at its default (what a `[[switch]]`
    /// with only a name gives); used for switches created by VC ID.
    pub fn with_defaults(name: &str) -> Switch {
        Switch {
            name: name.to_string(),
            aging: 300,
            mac_limit: 0,
            filter: L2Filter::default(),
            vc_ids: Vec::new(),
            vlans: Vec::new(),
            mss_clamp: MssClamp::Auto,
            vlan_mode: VlanMode::DropTagged,
            mtu_policy: MtuPolicy::Drop,
            storm_broadcast: 0,
            storm_multicast: 0,
            storm_unknown_unicast: 0,
            mac_limit_per_member: 0,
            flap_threshold: 5,
            flap_window: 10,
            flap_block: 0,
            static_macs: Vec::new(),
        }
    }

    /// The flap detector settings of this switch.
    pub fn flap_config(&self) -> FlapConfig {
        FlapConfig {
            threshold: self.flap_threshold,
            window: self.flap_window,
            block: self.flap_block,
        }
    }

    /// Storm-control rates `[broadcast, multicast, unknown unicast]`, each
    /// with a burst of one second's worth.
    pub fn storm_rates(&self) -> [StormRate; 3] {
        [
            StormRate::per_second(self.storm_broadcast),
            StormRate::per_second(self.storm_multicast),
            StormRate::per_second(self.storm_unknown_unicast),
        ]
    }
}

/// `static_macs = [{ mac = "..", session = ".." }]` entry of a switch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaticMac {
    /// Nonzero unicast MAC.
    pub mac: [u8; 6],
    /// Index into [`Config::sessions`] (`MemberId`); a member of the switch.
    pub session: usize,
}

/// Pseudowire encapsulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encap {
    /// L2TPv3 directly over IP (protocol 115).
    Ip,
    /// L2TPv3 over UDP.
    Udp,
}

/// L2-specific sublayer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum L2SpecCfg {
    /// No sublayer.
    None,
    /// RFC 4719 default L2-specific sublayer (with sequencing).
    Default,
}

/// `[[session]]`: a static pseudowire. Its index in [`Config::sessions`] is
/// its `MemberId`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub name: String,
    /// Index into [`Config::switches`].
    pub switch: usize,
    /// IPv4, or IPv6 (then its port has `address6`).
    pub peer: IpAddr,
    /// Index into [`Config::ports`].
    pub port: usize,
    pub encap: Encap,
    /// Id the peer puts in packets to us; nonzero, unique.
    pub local_session_id: u32,
    /// Id we put in packets to the peer; nonzero.
    pub remote_session_id: u32,
    /// Cookie expected on receive.
    pub local_cookie: Cookie,
    /// Cookie we send.
    pub remote_cookie: Cookie,
    /// Encap `udp`: our UDP port (= `l2tp.udp_port`); 0 for encap `ip`.
    pub udp_local_port: u16,
    /// Encap `udp`: the peer's UDP port (default 1701); 0 for encap `ip`.
    pub udp_peer_port: u16,
    pub l2spec: L2SpecCfg,
}

impl Config {
    /// The RFC 3931 Router ID: `l2tp.router_id`, else the IPv4 address of
    /// the first port (in file order) that has one. Validation refuses a
    /// config with neither, so this is never 0.0.0.0 for a valid config.
    pub fn router_id(&self) -> Ipv4Addr {
        self.l2tp
            .router_id
            .or_else(|| self.ports.iter().find_map(|p| p.address))
            .unwrap_or(Ipv4Addr::UNSPECIFIED)
    }

    /// Parse and validate a TOML document of at most
    /// [`limits::MAX_FILE_BYTES`]. Lists are counted against their
    /// [`limits`] before the TOML parser sees the document.
    pub fn from_toml_str(s: &str) -> Result<Config, ConfigError> {
        if s.len() > limits::MAX_FILE_BYTES {
            return Err(ConfigError::new(
                "file",
                format!("({} bytes)", s.len()),
                limits::file_too_big(),
            ));
        }
        limits::prescan(s)?;
        let raw: raw::RawConfig = toml::from_str(s).map_err(|e| validate::toml_error(s, &e))?;
        validate::validate(raw)
    }

    /// Read (at most [`limits::MAX_FILE_BYTES`]), parse and validate a
    /// file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        use std::io::Read;
        let err = |why: String| ConfigError::new("file", path.display(), why);
        let f = std::fs::File::open(path).map_err(|e| err(e.to_string()))?;
        let mut buf = Vec::new();
        f.take(limits::MAX_FILE_BYTES as u64 + 1)
            .read_to_end(&mut buf)
            .map_err(|e| err(e.to_string()))?;
        if buf.len() > limits::MAX_FILE_BYTES {
            return Err(err(limits::file_too_big()));
        }
        let s = String::from_utf8(buf).map_err(|e| err(format!("not UTF-8: {e}")))?;
        Self::from_toml_str(&s)
    }

    /// Settings that are valid but most likely not meant, one sentence
    /// each naming the keys: logged when las starts or reloads, and
    /// printed by `las check`.
    pub fn warnings(&self) -> Vec<String> {
        let refresh = self.dataplane.mac_refresh;
        let mut w = Vec::new();
        for (i, sw) in self.switches.iter().enumerate() {
            // A worker tells the control core of an active MAC once per
            // `mac_refresh` seconds; the control core ages it `aging`
            // seconds after the last word, on a 1 s tick. Below
            // `mac_refresh + 2` an active MAC can age out between two
            // refreshes and be flooded to until it is learned again.
            if sw.aging != 0 && u64::from(sw.aging) < u64::from(refresh) + 2 {
                w.push(format!(
                    "switch[{i}].aging = {} (switch {}) is less than dataplane.mac_refresh \
                     ({refresh}) + 2 s: MACs that stay active may age out between their \
                     refreshes, and frames to them are flooded until they are learned again",
                    sw.aging, sw.name
                ));
            }
        }
        w
    }

    /// The default port for a peer: the port whose prefix contains it, else
    /// the first port with a gateway.
    pub fn port_for(&self, peer: Ipv4Addr) -> Option<usize> {
        validate::port_for(&self.ports, peer)
    }

    /// Index of the port named `name`.
    pub fn port_index(&self, name: &str) -> Option<usize> {
        self.ports.iter().position(|p| p.name == name)
    }

    /// Index (`SwitchId`) of the switch named `name`.
    pub fn switch_index(&self, name: &str) -> Option<usize> {
        self.switches.iter().position(|s| s.name == name)
    }

    /// Index (`MemberId`) of the session named `name`.
    pub fn session_index(&self, name: &str) -> Option<usize> {
        self.sessions.iter().position(|s| s.name == name)
    }
}

#[cfg(test)]
mod defaults_test {
    use super::*;

    #[test]
    fn switch_defaults_match_the_parser() {
        let c = Config::from_toml_str(
            "[[port]]\nname = \"p\"\ndevice = \"net_null0\"\naddress = \"192.0.2.1/24\"\n\
             [[switch]]\nname = \"x\"\n",
        )
        .unwrap();
        assert_eq!(c.switches[0], Switch::with_defaults("x"));
    }

    /// `warnings` names a switch whose aging is too short for the
    /// refresh interval, and nothing else.
    #[test]
    fn aging_below_the_refresh_interval_is_warned_of() {
        let cfg = |refresh: u32, agings: &[u32]| {
            let mut s = format!(
                "[dataplane]\nmac_refresh = {refresh}\n\
                 [[port]]\nname = \"p\"\ndevice = \"net_null0\"\naddress = \"192.0.2.1/24\"\n"
            );
            for (i, a) in agings.iter().enumerate() {
                s += &format!("[[switch]]\nname = \"s{i}\"\naging = {a}\n");
            }
            Config::from_toml_str(&s).unwrap()
        };
        assert!(cfg(1, &[0, 3, 300]).warnings().is_empty());
        assert!(cfg(10, &[0, 12, 300]).warnings().is_empty());
        let w = cfg(10, &[300, 11, 0, 5]).warnings();
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].starts_with("switch[1].aging = 11 (switch s1)"),
            "{w:?}"
        );
        assert!(w[0].contains("dataplane.mac_refresh (10)"), "{w:?}");
        assert!(w[1].starts_with("switch[3].aging = 5 (switch s3)"), "{w:?}");
        assert_eq!(cfg(1, &[2]).warnings().len(), 1);
        // Auto-created switches age at 300 s: only mac_refresh near that.
        assert!(cfg(298, &[]).warnings().is_empty());
    }
}
