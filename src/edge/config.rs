//! Command line and configuration file of `las-edge`.
//!
//! Every key can be given on the command line (`--session-id 1001`) or in a
//! small TOML file (`session-id = 1001`) passed with `--config`; the
//! command line wins.
//!
//! The underlay is IPv4 or IPv6, chosen by the addresses: `--local`,
//! `--peer` and `--backup-peer` must all be of one family (a mix is refused
//! naming the key and its value). IPv4-mapped (`::ffff:a.b.c.d`) and
//! link-local IPv6 addresses are refused: the first is IPv4 in disguise, the
//! second needs an interface scope las-edge does not take. The RFC 3931
//! Router ID (dynamic mode) is 32 bits: `--router-id`, or the IPv4 `--local`
//! address; over IPv6 it must be given (it is never derived from an IPv6
//! address).

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use clap::{Args, Parser};
use serde::Deserialize;

use crate::wire::l2tp::auth::DigestAlg;
use crate::wire::l2tp::{Cookie, Encap, L2Spec, UDP_PORT};

/// Default TAP MTU: leaves room for the outer IP header (IPv4, or the
/// 40-byte IPv6 one) and the largest L2TPv3 header (UDP, 8-byte cookie,
/// sublayer) plus the inner Ethernet header inside a 1500-byte underlay
/// (1400 + 14 + 8 + 4 + 8 + 4 + 40 = 1478).
pub const DEFAULT_TAP_MTU: u16 = 1400;
/// Default number of packets per recvmmsg/sendmmsg batch.
pub const DEFAULT_BATCH: usize = 32;
/// Default HELLO interval of the control connection (dynamic mode), s.
pub const DEFAULT_HELLO_INTERVAL: u32 = 60;
/// Longest VC ID (Remote End ID) accepted.
pub const MAX_VC_ID_LEN: usize = 64;
/// Default revert delay (`--revert-delay`), s: with a backup peer,
/// las-edge goes back to the primary once the primary's control
/// connection has stayed up this long. See [`Revert`].
pub const DEFAULT_REVERT_DELAY: u32 = 30;
/// Longest revert delay accepted, s (one day).
pub const MAX_REVERT_DELAY: u32 = 86_400;
/// Default retransmissions of a control message before the peer is
/// declared dead (`--retransmit-retries`; las's `[l2tp]` default too).
pub const DEFAULT_RETRANSMIT_RETRIES: u32 = 10;
/// Default cap of the doubling retransmission timeout, s
/// (`--retransmit-max`; las's `[l2tp]` default too).
pub const DEFAULT_RETRANSMIT_MAX: u32 = 8;

#[derive(Parser, Debug, Default)]
#[command(
    name = "las-edge",
    version,
    about = "Software L2TPv3 edge router: bridges a TAP interface to one L2TPv3 pseudowire",
    long_about = "las-edge bridges a TAP interface to one L2TPv3 Ethernet pseudowire \
(RFC 3931/4719) toward las or any L2TPv3 peer, like Linux `ip l2tp` + l2tp_eth in user space.\n\n\
Static mode (session ids and cookies configured on both sides):\n\
  las-edge --tap pw0 --local 10.0.0.2 --peer 10.0.0.1 --encap ip \\\n\
           --session-id 2001 --peer-session-id 1001\n\n\
--session-id is the id the peer puts in packets to us (we check it), --peer-session-id the id \
we put in packets to the peer; --cookie is the cookie we expect, --peer-cookie the one we send.\n\n\
Dynamic mode (--vc-id): las-edge opens an RFC 3931 control connection to the peer and \
requests the session for that VC ID; ids and cookies are negotiated, and it reconnects by \
itself when the peer goes away:\n\
  las-edge --tap pw0 --local 10.0.0.2 --peer 10.0.0.1 --encap udp --vc-id 100 [--secret S]\n\n\
IPv6 underlay: give IPv6 addresses (--local, --peer and --backup-peer all of one family; \
raw IPv6 protocol 115 or UDP over IPv6). In dynamic mode over IPv6, --router-id A.B.C.D is \
required (the RFC 3931 Router ID is 32 bits; over IPv4 it defaults to --local):\n\
  las-edge --tap pw0 --local fd00::2 --peer fd00::1 --encap ip \\\n\
           --session-id 2001 --peer-session-id 1001\n\
  las-edge --tap pw0 --local fd00::2 --peer fd00::1 --encap udp --vc-id 100 \\\n\
           --router-id 192.0.2.2\n\n\
Failover (dynamic mode, like Cisco `xconnect ... backup peer`): with --backup-peer, a control \
connection or session to the current peer that goes down (HELLO unanswered, StopCCN, CDN, setup \
failure or timeout) is re-established on the other peer at once; while on the backup, las-edge \
probes the primary and moves back once the primary has answered for --revert-delay seconds \
(default 30; `never`: stay on the backup until it fails):\n\
  las-edge --tap pw0 --local 10.0.0.2 --peer 10.0.0.1 --backup-peer 10.0.0.5 --encap ip \\\n\
           --vc-id 100 --hello-interval 5 --retransmit-retries 3 --retransmit-max 1 \\\n\
           --revert-delay 60"
)]
pub struct EdgeArgs {
    /// TOML file with the same keys (e.g. `session-id = 1001`); flags override it.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub keys: Keys,
}

/// The settable keys, shared by the command line and the TOML file.
#[derive(Args, Deserialize, Debug, Default, Clone, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Keys {
    /// TAP interface to create or attach to (brought up by las-edge).
    #[arg(long)]
    pub tap: Option<String>,
    /// MTU to set on the TAP (default 1400).
    #[arg(long)]
    pub tap_mtu: Option<u16>,
    /// Never fragment: set DF on the tunnel packets (IP_MTU_DISCOVER =
    /// IP_PMTUDISC_DO; over IPv6 IPV6_MTU_DISCOVER = IPV6_PMTUDISC_DO, so
    /// no fragment header either). A frame whose tunnel packet exceeds the
    /// path MTU is then dropped (counted as a send error) instead of being
    /// sent in fragments, like on an underlay that cannot fragment.
    #[arg(long)]
    #[serde(default)]
    pub df: bool,
    /// Our IPv4 or IPv6 address (source of the tunnel packets).
    #[arg(long)]
    pub local: Option<IpAddr>,
    /// The peer's address (las; with --backup-peer, the primary), of the
    /// same family as --local.
    #[arg(long)]
    pub peer: Option<IpAddr>,
    /// ip (IP protocol 115) or udp.
    #[arg(long)]
    pub encap: Option<String>,
    /// UDP encap: our UDP port (default 1701).
    #[arg(long)]
    pub sport: Option<u16>,
    /// UDP encap: the peer's UDP port (default 1701).
    #[arg(long)]
    pub dport: Option<u16>,
    /// Session id the peer puts in packets to us (nonzero).
    #[arg(long)]
    pub session_id: Option<u32>,
    /// Session id we put in packets to the peer (nonzero).
    #[arg(long)]
    pub peer_session_id: Option<u32>,
    /// Cookie we expect to receive: 8 or 16 hex digits, optional 0x.
    #[arg(long)]
    pub cookie: Option<String>,
    /// Cookie we send: 8 or 16 hex digits, optional 0x.
    #[arg(long)]
    pub peer_cookie: Option<String>,
    /// none or default (RFC 4719 default sublayer with sequence numbers).
    #[arg(long)]
    pub l2spec: Option<String>,
    /// Packets per recvmmsg/sendmmsg batch (1..=1024, default 32).
    #[arg(long)]
    pub batch: Option<usize>,
    /// Dynamic mode: the VC ID (Remote End ID) to request from the peer
    /// over an RFC 3931 control connection. No session ids or cookies then.
    #[arg(long)]
    #[serde(default, deserialize_with = "str_or_int")]
    pub vc_id: Option<String>,
    /// Dynamic mode: shared secret of the control connection (Message
    /// Digest on every message; challenges from the peer are answered).
    #[arg(long)]
    pub secret: Option<String>,
    /// Dynamic mode: md5 (default) or sha1, the Message Digest algorithm.
    #[arg(long)]
    pub digest: Option<String>,
    /// Dynamic mode: the RFC 3931 Router ID we send, A.B.C.D (32 bits).
    /// Default: --local when it is IPv4; required when --local is IPv6.
    #[arg(long)]
    pub router_id: Option<Ipv4Addr>,
    /// Dynamic mode: send Cisco vendor-9 AVPs too (for Cisco IOS peers).
    #[arg(long)]
    #[serde(default)]
    pub cisco_avps: bool,
    /// Dynamic mode: HELLO after this many seconds of silence (default 60
    /// over IP, 20 over UDP).
    #[arg(long)]
    pub hello_interval: Option<u32>,
    /// Dynamic mode: retransmissions of an unacknowledged control message
    /// before the peer counts as dead (1..=100, default 10).
    #[arg(long)]
    pub retransmit_retries: Option<u32>,
    /// Dynamic mode: cap of the doubling retransmission timeout, seconds
    /// (1..=60, default 8). Dead-peer detection takes at most the HELLO
    /// interval plus 1, 2, 4, ... (capped here) for each retransmission
    /// and one more.
    #[arg(long)]
    pub retransmit_max: Option<u32>,
    /// Dynamic mode: a second peer (another las) to fail over to, like
    /// Cisco `backup peer`. --peer is the primary; the same family.
    #[arg(long)]
    pub backup_peer: Option<IpAddr>,
    /// With --backup-peer: seconds the primary must answer (its control
    /// connection up) before las-edge moves back to it from the backup;
    /// 0 = as soon as it answers, `never` = stay on the backup until the
    /// backup fails (default 30).
    #[arg(long)]
    #[serde(default, deserialize_with = "str_or_int")]
    pub revert_delay: Option<String>,
}

/// A VC ID may be written as a TOML string or number.
fn str_or_int<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum V {
        S(String),
        I(u64),
    }
    Ok(Option::<V>::deserialize(d)?.map(|v| match v {
        V::S(s) => s,
        V::I(i) => i.to_string(),
    }))
}

impl Keys {
    /// `self`, with the keys `over` sets replaced.
    pub fn overridden_by(self, over: Keys) -> Keys {
        Keys {
            tap: over.tap.or(self.tap),
            tap_mtu: over.tap_mtu.or(self.tap_mtu),
            df: over.df || self.df,
            local: over.local.or(self.local),
            peer: over.peer.or(self.peer),
            encap: over.encap.or(self.encap),
            sport: over.sport.or(self.sport),
            dport: over.dport.or(self.dport),
            session_id: over.session_id.or(self.session_id),
            peer_session_id: over.peer_session_id.or(self.peer_session_id),
            cookie: over.cookie.or(self.cookie),
            peer_cookie: over.peer_cookie.or(self.peer_cookie),
            l2spec: over.l2spec.or(self.l2spec),
            batch: over.batch.or(self.batch),
            vc_id: over.vc_id.or(self.vc_id),
            secret: over.secret.or(self.secret),
            digest: over.digest.or(self.digest),
            router_id: over.router_id.or(self.router_id),
            cisco_avps: over.cisco_avps || self.cisco_avps,
            hello_interval: over.hello_interval.or(self.hello_interval),
            retransmit_retries: over.retransmit_retries.or(self.retransmit_retries),
            retransmit_max: over.retransmit_max.or(self.retransmit_max),
            backup_peer: over.backup_peer.or(self.backup_peer),
            revert_delay: over.revert_delay.or(self.revert_delay),
        }
    }

    /// Parses a TOML configuration.
    pub fn from_toml(text: &str) -> Result<Keys, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }
}

/// The pseudowire's parameters, independent of sockets and the TAP. Static
/// mode takes them from the configuration; the control connection
/// (dynamic mode) negotiates them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionParams {
    pub encap: Encap,
    /// The id the peer puts in packets to us (checked on receive).
    pub session_id: u32,
    /// The id we put in packets to the peer.
    pub peer_session_id: u32,
    /// The cookie we expect to receive.
    pub cookie: Cookie,
    /// The cookie we send.
    pub peer_cookie: Cookie,
    /// The sublayer we expect to receive.
    pub l2spec: L2Spec,
    /// The sublayer we send (static mode: the same as `l2spec`; a control
    /// connection may negotiate a different one per direction).
    pub peer_l2spec: L2Spec,
}

/// Dynamic mode: what the control connection needs.
#[derive(Clone, PartialEq, Eq)]
pub struct DynamicConfig {
    /// VC ID (Remote End ID) requested in the ICRQ.
    pub vc_id: String,
    /// RFC 3931 Router ID sent in the SCCRQ (`--router-id`, else the IPv4
    /// `--local`).
    pub router_id: u32,
    /// Shared secret and digest algorithm, if authenticating.
    pub secret: Option<(String, DigestAlg)>,
    /// Send Cisco vendor-9 AVPs as well as the IETF ones.
    pub cisco_avps: bool,
    /// HELLO interval, seconds.
    pub hello_interval: u32,
    /// Retransmissions of a control message before the peer is dead.
    pub retransmit_retries: u32,
    /// Cap of the doubling retransmission timeout, seconds.
    pub retransmit_max: u32,
    /// A backup peer (`--backup-peer`), if any.
    pub backup: Option<Failover>,
}

/// When las-edge, running on its backup peer, goes back to the primary
/// (Cisco's `backup delay <enable> <disable|never>`; las-edge's enable
/// delay is always 0: it switches as soon as it sees the failure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revert {
    /// Stay on the backup until it fails (`--revert-delay never`).
    Never,
    /// Move back once the primary's control connection (a probe opened
    /// while on the backup) has stayed up this many seconds; 0: at once.
    After(u32),
}

/// Dynamic mode with a backup peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failover {
    /// The backup peer's address (the primary is [`EdgeConfig::peer`]),
    /// of the same family.
    pub peer: IpAddr,
    pub revert: Revert,
}

impl DynamicConfig {
    /// The longest time from the last message the peer sent to las-edge
    /// declaring it dead, ms: the HELLO interval, then the HELLO and its
    /// retransmissions, each timeout doubling from 1 s up to
    /// `retransmit_max`, and one more timeout after the last.
    pub fn dead_peer_bound_ms(&self) -> u64 {
        let max = u64::from(self.retransmit_max) * 1000;
        let mut rto = 1000u64.min(max);
        let mut total = u64::from(self.hello_interval) * 1000;
        for _ in 0..=self.retransmit_retries {
            total += rto;
            rto = (rto * 2).min(max);
        }
        total
    }
}

impl std::fmt::Debug for DynamicConfig {
    // Never print the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamicConfig")
            .field("vc_id", &self.vc_id)
            .field("router_id", &Ipv4Addr::from(self.router_id))
            .field("secret", &self.secret.as_ref().map(|(_, a)| ("***", a)))
            .field("cisco_avps", &self.cisco_avps)
            .field("hello_interval", &self.hello_interval)
            .field("retransmit_retries", &self.retransmit_retries)
            .field("retransmit_max", &self.retransmit_max)
            .field("backup", &self.backup)
            .finish()
    }
}

/// How the pseudowire is carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Raw IP socket (IPv4 or IPv6 by the addresses), protocol 115.
    Ip,
    /// UDP socket bound to `local:sport`, sending to `peer:dport`.
    Udp { sport: u16, dport: u16 },
}

/// Everything las-edge needs to run one pseudowire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeConfig {
    pub tap: String,
    pub tap_mtu: u16,
    /// Set DF on the tunnel packets and never fragment them (`--df`).
    pub df: bool,
    /// Our address; `peer` (and a backup peer) are of the same family.
    pub local: IpAddr,
    pub peer: IpAddr,
    pub transport: Transport,
    /// Static mode: the pseudowire. Dynamic mode: only `encap` and
    /// `l2spec` (the sublayer we ask to receive) are set; ids are 0 until
    /// the control connection negotiates a session.
    pub session: SessionParams,
    /// Set in dynamic mode (`--vc-id`).
    pub dynamic: Option<DynamicConfig>,
    pub batch: usize,
}

fn required<T>(v: Option<T>, key: &str) -> Result<T, String> {
    v.ok_or_else(|| format!("missing --{key} (or `{key}` in the config file)"))
}

fn cookie(v: Option<&str>, key: &str) -> Result<Cookie, String> {
    match v {
        None => Ok(Cookie::NONE),
        Some(s) => Cookie::from_hex(s)
            .map_err(|_| format!("--{key} {s:?}: bad cookie hex: {}", Cookie::HEX_FORMAT)),
    }
}

fn family(a: IpAddr) -> &'static str {
    if a.is_ipv4() {
        "IPv4"
    } else {
        "IPv6"
    }
}

/// Checks one tunnel address: no IPv4-mapped or link-local IPv6, and (when
/// `local` is given) the same family as `local`.
fn address(key: &str, a: IpAddr, local: Option<IpAddr>) -> Result<(), String> {
    if let IpAddr::V6(v6) = a {
        if let Some(v4) = v6.to_ipv4_mapped() {
            return Err(format!(
                "--{key} {a}: an IPv4-mapped IPv6 address; write the IPv4 address ({v4})"
            ));
        }
        if v6.segments()[0] & 0xffc0 == 0xfe80 {
            return Err(format!(
                "--{key} {a}: a link-local IPv6 address (it needs an interface scope, which \
                 las-edge does not take); use a global or unique local (fd00::/8) address"
            ));
        }
    }
    match local {
        Some(l) if l.is_ipv4() != a.is_ipv4() => Err(format!(
            "--{key} {a}: an {} address, but --local {l} is {}: one tunnel's addresses \
             must all be IPv4 or all IPv6",
            family(a),
            family(l)
        )),
        _ => Ok(()),
    }
}

/// `--revert-delay`: seconds (0..=[`MAX_REVERT_DELAY`]) or `never`.
fn revert(v: Option<&str>) -> Result<Revert, String> {
    match v {
        None => Ok(Revert::After(DEFAULT_REVERT_DELAY)),
        Some("never") => Ok(Revert::Never),
        Some(s) => match s.parse::<u32>() {
            Ok(n) if n <= MAX_REVERT_DELAY => Ok(Revert::After(n)),
            _ => Err(format!(
                "--revert-delay {s:?}: expected seconds (0..={MAX_REVERT_DELAY}) or never"
            )),
        },
    }
}

impl EdgeConfig {
    /// Reads `--config` if given and merges the command line over it.
    pub fn from_args(args: EdgeArgs) -> Result<EdgeConfig, String> {
        let keys = match &args.config {
            Some(path) => Self::read_file(path)?.overridden_by(args.keys),
            None => args.keys,
        };
        Self::from_keys(keys)
    }

    fn read_file(path: &Path) -> Result<Keys, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Keys::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Validates a complete set of keys.
    pub fn from_keys(k: Keys) -> Result<EdgeConfig, String> {
        let tap = required(k.tap.clone(), "tap")?;
        if tap.is_empty() || tap.len() > 15 || tap.contains(['/', ' ']) {
            return Err(format!(
                "--tap {tap:?}: not a valid interface name (1 to 15 characters, no '/' or spaces)"
            ));
        }
        let tap_mtu = k.tap_mtu.unwrap_or(DEFAULT_TAP_MTU);
        if !(68..=9000).contains(&tap_mtu) {
            return Err(format!("--tap-mtu {tap_mtu}: must be 68..=9000"));
        }
        let local = required(k.local, "local")?;
        let peer = required(k.peer, "peer")?;
        address("local", local, None)?;
        address("peer", peer, Some(local))?;
        if let Some(b) = k.backup_peer {
            address("backup-peer", b, Some(local))?;
        }
        let encap = match required(k.encap.clone(), "encap")?.as_str() {
            "ip" => Encap::Ip,
            "udp" => Encap::Udp,
            other => return Err(format!("--encap {other:?}: expected ip or udp")),
        };
        let transport = match encap {
            Encap::Ip => {
                if k.sport.is_some() || k.dport.is_some() {
                    return Err("--sport/--dport only apply to --encap udp".into());
                }
                Transport::Ip
            }
            Encap::Udp => {
                let sport = k.sport.unwrap_or(UDP_PORT);
                let dport = k.dport.unwrap_or(UDP_PORT);
                if sport == 0 || dport == 0 {
                    return Err("--sport/--dport: port 0 is not allowed".into());
                }
                Transport::Udp { sport, dport }
            }
        };
        let dynamic = match k.vc_id {
            Some(ref vc_id) => Some(Self::dynamic(
                vc_id.clone(),
                &k,
                local,
                peer,
                match transport {
                    // NAT-friendly (see config::HELLO_INTERVAL_UDP).
                    Transport::Udp { .. } => crate::config::HELLO_INTERVAL_UDP,
                    Transport::Ip => DEFAULT_HELLO_INTERVAL,
                },
            )?),
            None => {
                if k.secret.is_some()
                    || k.digest.is_some()
                    || k.cisco_avps
                    || k.hello_interval.is_some()
                    || k.retransmit_retries.is_some()
                    || k.retransmit_max.is_some()
                    || k.router_id.is_some()
                {
                    return Err(
                        "--secret/--digest/--cisco-avps/--hello-interval/--retransmit-retries/--retransmit-max/--router-id only apply in dynamic mode (--vc-id)"
                            .into(),
                    );
                }
                if let Some(b) = k.backup_peer {
                    return Err(format!(
                        "--backup-peer {b}: failover needs dynamic mode (--vc-id): a static \
                         session has no control connection to notice a dead peer"
                    ));
                }
                if k.revert_delay.is_some() {
                    return Err(
                        "--revert-delay only applies with --backup-peer (dynamic mode)".into(),
                    );
                }
                None
            }
        };
        let (session_id, peer_session_id) = if dynamic.is_some() {
            if k.session_id.is_some()
                || k.peer_session_id.is_some()
                || k.cookie.is_some()
                || k.peer_cookie.is_some()
            {
                return Err(
                    "--vc-id (dynamic mode) negotiates session ids and cookies: \
                     do not give --session-id/--peer-session-id/--cookie/--peer-cookie"
                        .into(),
                );
            }
            (0, 0)
        } else {
            let session_id = required(k.session_id, "session-id")?;
            let peer_session_id = required(k.peer_session_id, "peer-session-id")?;
            if session_id == 0 || peer_session_id == 0 {
                return Err("session ids must be nonzero (0 marks control messages)".into());
            }
            (session_id, peer_session_id)
        };
        let l2spec = match k.l2spec.as_deref().unwrap_or("none") {
            "none" => L2Spec::None,
            "default" => L2Spec::Default,
            other => return Err(format!("--l2spec {other:?}: expected none or default")),
        };
        let batch = k.batch.unwrap_or(DEFAULT_BATCH);
        if !(1..=1024).contains(&batch) {
            return Err(format!("--batch {batch}: must be 1..=1024"));
        }
        Ok(EdgeConfig {
            tap,
            tap_mtu,
            df: k.df,
            local,
            peer,
            transport,
            session: SessionParams {
                encap,
                session_id,
                peer_session_id,
                cookie: cookie(k.cookie.as_deref(), "cookie")?,
                peer_cookie: cookie(k.peer_cookie.as_deref(), "peer-cookie")?,
                l2spec,
                peer_l2spec: l2spec,
            },
            dynamic,
            batch,
        })
    }

    fn dynamic(
        vc_id: String,
        k: &Keys,
        local: IpAddr,
        peer: IpAddr,
        default_hello: u32,
    ) -> Result<DynamicConfig, String> {
        let (secret, digest) = (&k.secret, &k.digest);
        if vc_id.is_empty()
            || vc_id.len() > MAX_VC_ID_LEN
            || !vc_id.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(format!(
                "--vc-id {vc_id:?}: must be 1 to {MAX_VC_ID_LEN} printable characters, no spaces"
            ));
        }
        let alg = match digest.as_deref() {
            None | Some("md5") => DigestAlg::Md5,
            Some("sha1") => DigestAlg::Sha1,
            Some(o) => return Err(format!("--digest {o:?}: expected md5 or sha1")),
        };
        let secret = match secret {
            Some(s) if s.is_empty() => return Err("--secret must not be empty".into()),
            Some(s) => Some((s.clone(), alg)),
            None if digest.is_some() => return Err("--digest needs --secret".into()),
            None => None,
        };
        let hello_interval = k.hello_interval.unwrap_or(default_hello);
        if !(1..=3600).contains(&hello_interval) {
            return Err(format!(
                "--hello-interval {hello_interval}: must be 1..=3600"
            ));
        }
        let retransmit_retries = k.retransmit_retries.unwrap_or(DEFAULT_RETRANSMIT_RETRIES);
        if !(1..=100).contains(&retransmit_retries) {
            return Err(format!(
                "--retransmit-retries {retransmit_retries}: must be 1..=100"
            ));
        }
        let retransmit_max = k.retransmit_max.unwrap_or(DEFAULT_RETRANSMIT_MAX);
        if !(1..=60).contains(&retransmit_max) {
            return Err(format!("--retransmit-max {retransmit_max}: must be 1..=60"));
        }
        let backup = match k.backup_peer {
            Some(b) if b == peer => {
                return Err(format!(
                    "--backup-peer {b}: the same address as --peer (the primary)"
                ))
            }
            Some(b)
                if b.is_unspecified()
                    || b.is_multicast()
                    || matches!(b, IpAddr::V4(v4) if v4.is_broadcast()) =>
            {
                return Err(format!("--backup-peer {b}: not a unicast address"))
            }
            Some(b) => Some(Failover {
                peer: b,
                revert: revert(k.revert_delay.as_deref())?,
            }),
            None if k.revert_delay.is_some() => {
                return Err("--revert-delay only applies with --backup-peer".into())
            }
            None => None,
        };
        let router_id = match (k.router_id, local) {
            (Some(r), _) => u32::from(r),
            (None, IpAddr::V4(l)) => u32::from(l),
            (None, IpAddr::V6(l)) => {
                return Err(format!(
                    "--local {l} is IPv6: dynamic mode needs --router-id A.B.C.D (the RFC 3931 \
                     Router ID is 32 bits and is not derived from an IPv6 address)"
                ))
            }
        };
        Ok(DynamicConfig {
            vc_id,
            router_id,
            secret,
            cisco_avps: k.cisco_avps,
            hello_interval,
            retransmit_retries,
            retransmit_max,
            backup,
        })
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn parse(args: &[&str]) -> Result<EdgeConfig, String> {
        let a = EdgeArgs::try_parse_from(std::iter::once("las-edge").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        EdgeConfig::from_args(a)
    }

    const IP: &[&str] = &[
        "--tap",
        "pw0",
        "--local",
        "10.0.0.2",
        "--peer",
        "10.0.0.1",
        "--encap",
        "ip",
        "--session-id",
        "2001",
        "--peer-session-id",
        "1001",
    ];

    #[test]
    fn test_cli_ip() {
        let c = parse(IP).unwrap();
        assert_eq!(c.tap, "pw0");
        assert_eq!(c.tap_mtu, DEFAULT_TAP_MTU);
        assert!(!c.df);
        assert_eq!(c.local, IpAddr::from([10, 0, 0, 2]));
        assert_eq!(c.peer, IpAddr::from([10, 0, 0, 1]));
        assert_eq!(c.transport, Transport::Ip);
        assert_eq!(c.batch, DEFAULT_BATCH);
        assert_eq!(
            c.session,
            SessionParams {
                encap: Encap::Ip,
                session_id: 2001,
                peer_session_id: 1001,
                cookie: Cookie::NONE,
                peer_cookie: Cookie::NONE,
                l2spec: L2Spec::None,
                peer_l2spec: L2Spec::None,
            }
        );
        assert!(c.dynamic.is_none());
    }

    #[test]
    fn test_cli_udp() {
        let c = parse(&[
            "--tap",
            "pw1",
            "--local",
            "10.0.0.3",
            "--peer",
            "10.0.0.1",
            "--encap",
            "udp",
            "--sport",
            "1702",
            "--session-id",
            "2002",
            "--peer-session-id",
            "1002",
            "--cookie",
            "0x01020304",
            "--peer-cookie",
            "0a0b0c0d0e0f1011",
            "--l2spec",
            "default",
        ])
        .unwrap();
        assert_eq!(
            c.transport,
            Transport::Udp {
                sport: 1702,
                dport: 1701
            }
        );
        assert_eq!(c.session.encap, Encap::Udp);
        assert_eq!(c.session.cookie.as_bytes(), &[1, 2, 3, 4]);
        assert_eq!(c.session.peer_cookie.len(), 8);
        assert_eq!(c.session.l2spec, L2Spec::Default);
    }

    #[test]
    fn test_cli_errors() {
        let with = |extra: &[&str]| {
            let mut v = IP.to_vec();
            v.extend_from_slice(extra);
            parse(&v).unwrap_err()
        };
        assert!(with(&["--cookie", "xyz"]).contains("bad cookie hex"));
        assert!(with(&["--peer-cookie", "dead"]).contains("--peer-cookie"));
        assert!(with(&["--sport", "1701"]).contains("only apply to --encap udp"));
        assert!(with(&["--l2spec", "seq"]).contains("expected none or default"));
        assert!(with(&["--batch", "0"]).contains("--batch"));
        assert!(parse(&IP[2..]).unwrap_err().contains("missing --tap"));
        let mut v = IP.to_vec();
        v[7] = "gre";
        assert!(parse(&v).unwrap_err().contains("expected ip or udp"));
        let mut v = IP.to_vec();
        v[9] = "0";
        assert!(parse(&v).unwrap_err().contains("nonzero"));
        // clap rejects a malformed address.
        let mut v = IP.to_vec();
        v[3] = "10.0.0";
        assert!(parse(&v).is_err());
    }

    #[test]
    fn test_toml_and_override() {
        let file = Keys::from_toml(
            r#"
            tap = "siteb"
            local = "10.0.0.3"
            peer = "10.0.0.1"
            encap = "udp"
            session-id = 2002
            peer-session-id = 1002
            cookie = "0x01020304"
            peer-cookie = "0x0a0b0c0d"
            tap-mtu = 1380
            "#,
        )
        .unwrap();
        let c = EdgeConfig::from_keys(file.clone()).unwrap();
        assert_eq!(c.tap_mtu, 1380);
        assert_eq!(
            c.transport,
            Transport::Udp {
                sport: 1701,
                dport: 1701
            }
        );
        let over = Keys {
            session_id: Some(7),
            ..Keys::default()
        };
        let c = EdgeConfig::from_keys(file.overridden_by(over)).unwrap();
        assert_eq!(c.session.session_id, 7);
        assert_eq!(c.session.peer_session_id, 1002);
        assert!(Keys::from_toml("sesion-id = 1")
            .unwrap_err()
            .contains("unknown field"));
    }

    const DYN: &[&str] = &[
        "--tap", "pw0", "--local", "10.0.0.2", "--peer", "10.0.0.1", "--encap", "udp", "--vc-id",
        "100",
    ];

    #[test]
    fn test_dynamic() {
        let c = parse(DYN).unwrap();
        let d = c.dynamic.clone().unwrap();
        assert_eq!(d.vc_id, "100");
        assert_eq!(d.secret, None);
        assert!(!d.cisco_avps);
        // Over UDP the NAT-friendly default; over IP the RFC-typical one.
        assert_eq!(d.hello_interval, crate::config::HELLO_INTERVAL_UDP);
        let mut ip: Vec<&str> = DYN.to_vec();
        ip[7] = "ip";
        let d_ip = parse(&ip).unwrap().dynamic.unwrap();
        assert_eq!(d_ip.hello_interval, DEFAULT_HELLO_INTERVAL);
        assert_eq!(c.session.encap, Encap::Udp);
        assert_eq!((c.session.session_id, c.session.peer_session_id), (0, 0));

        let with = |extra: &[&str]| {
            let mut v = DYN.to_vec();
            v.extend_from_slice(extra);
            parse(&v)
        };
        let c = with(&[
            "--secret",
            "s3cret",
            "--digest",
            "sha1",
            "--cisco-avps",
            "--hello-interval",
            "5",
            "--l2spec",
            "default",
        ])
        .unwrap();
        let d = c.dynamic.unwrap();
        assert_eq!(d.secret, Some(("s3cret".into(), DigestAlg::Sha1)));
        assert!(d.cisco_avps);
        assert_eq!(d.hello_interval, 5);
        assert_eq!(c.session.l2spec, L2Spec::Default);
        // The secret is never printed.
        assert!(!format!("{d:?}").contains("s3cret"));

        for (extra, msg) in [
            (&["--session-id", "5"][..], "negotiates session ids"),
            (&["--peer-cookie", "01020304"][..], "negotiates session ids"),
            (&["--digest", "md5"][..], "--digest needs --secret"),
            (
                &["--digest", "sha256", "--secret", "x"][..],
                "expected md5 or sha1",
            ),
            (&["--secret", ""][..], "must not be empty"),
            (&["--hello-interval", "0"][..], "--hello-interval"),
        ] {
            let e = with(extra).unwrap_err();
            assert!(e.contains(msg), "{extra:?}: {e}");
        }
        let mut v = DYN.to_vec();
        v[9] = "a b";
        assert!(parse(&v).unwrap_err().contains("--vc-id"));
        // Dynamic-only keys without --vc-id.
        let mut v = IP.to_vec();
        v.extend_from_slice(&["--secret", "x"]);
        assert!(parse(&v)
            .unwrap_err()
            .contains("only apply in dynamic mode"));
        let mut v = IP.to_vec();
        v.push("--cisco-avps");
        assert!(parse(&v)
            .unwrap_err()
            .contains("only apply in dynamic mode"));
    }

    #[test]
    fn test_dynamic_toml() {
        let file = Keys::from_toml(
            r#"
            tap = "pw0"
            local = "10.0.0.3"
            peer = "10.0.0.1"
            encap = "ip"
            vc-id = 200
            secret = "s"
            cisco-avps = true
            "#,
        )
        .unwrap();
        let c = EdgeConfig::from_keys(file.clone()).unwrap();
        let d = c.dynamic.unwrap();
        assert_eq!(d.vc_id, "200");
        assert!(d.cisco_avps);
        assert_eq!(c.transport, Transport::Ip);
        let k = Keys::from_toml("vc-id = \"cust-a\"").unwrap();
        assert_eq!(k.vc_id.as_deref(), Some("cust-a"));
        // The command line overrides the file.
        let over = Keys {
            vc_id: Some("300".into()),
            ..Keys::default()
        };
        let c = EdgeConfig::from_keys(file.overridden_by(over)).unwrap();
        assert_eq!(c.dynamic.unwrap().vc_id, "300");
        assert!(Keys::from_toml("vc-id = true").is_err());
    }

    #[test]
    fn test_failover() {
        let with = |extra: &[&str]| {
            let mut v = DYN.to_vec();
            v.extend_from_slice(extra);
            parse(&v)
        };
        let d = with(&["--backup-peer", "10.0.0.5"])
            .unwrap()
            .dynamic
            .unwrap();
        assert_eq!(
            d.backup,
            Some(Failover {
                peer: IpAddr::from([10, 0, 0, 5]),
                revert: Revert::After(DEFAULT_REVERT_DELAY),
            })
        );
        assert_eq!(
            (d.retransmit_retries, d.retransmit_max),
            (DEFAULT_RETRANSMIT_RETRIES, DEFAULT_RETRANSMIT_MAX)
        );
        // HELLO after 20 s (UDP), then 1+2+4+8*8 s of retransmissions.
        assert_eq!(d.dead_peer_bound_ms(), 20_000 + 71_000);
        let d = with(&[
            "--backup-peer",
            "10.0.0.5",
            "--revert-delay",
            "never",
            "--hello-interval",
            "2",
            "--retransmit-retries",
            "3",
            "--retransmit-max",
            "1",
        ])
        .unwrap()
        .dynamic
        .unwrap();
        assert_eq!(d.backup.unwrap().revert, Revert::Never);
        assert_eq!(d.dead_peer_bound_ms(), 6_000);
        let d = with(&["--backup-peer", "10.0.0.5", "--revert-delay", "0"]).unwrap();
        assert_eq!(d.dynamic.unwrap().backup.unwrap().revert, Revert::After(0));
        for (extra, msg) in [
            (
                &["--backup-peer", "10.0.0.1"][..],
                "--backup-peer 10.0.0.1: the same",
            ),
            (&["--backup-peer", "0.0.0.0"][..], "not a unicast"),
            (&["--revert-delay", "5"][..], "--revert-delay only applies"),
            (
                &["--backup-peer", "10.0.0.5", "--revert-delay", "soon"][..],
                "--revert-delay \"soon\"",
            ),
            (
                &["--backup-peer", "10.0.0.5", "--revert-delay", "86401"][..],
                "--revert-delay \"86401\"",
            ),
            (&["--retransmit-retries", "0"][..], "--retransmit-retries 0"),
            (&["--retransmit-max", "61"][..], "--retransmit-max 61"),
        ] {
            let e = with(extra).unwrap_err();
            assert!(e.contains(msg), "{extra:?}: {e}");
        }
        // Static mode has no control connection to fail over with.
        let mut v = IP.to_vec();
        v.extend_from_slice(&["--backup-peer", "10.0.0.5"]);
        let e = parse(&v).unwrap_err();
        assert!(
            e.contains("--backup-peer 10.0.0.5: failover needs dynamic mode"),
            "{e}"
        );
        let mut v = IP.to_vec();
        v.extend_from_slice(&["--retransmit-max", "1"]);
        assert!(parse(&v)
            .unwrap_err()
            .contains("only apply in dynamic mode"));
        // TOML: a number or "never"; the command line wins.
        let file = Keys::from_toml(
            r#"
            tap = "pw0"
            local = "10.0.0.3"
            peer = "10.0.0.1"
            encap = "ip"
            vc-id = 100
            backup-peer = "10.0.0.5"
            revert-delay = 45
            "#,
        )
        .unwrap();
        let c = EdgeConfig::from_keys(file.clone()).unwrap();
        assert_eq!(c.dynamic.unwrap().backup.unwrap().revert, Revert::After(45));
        let over = Keys {
            revert_delay: Some("never".into()),
            ..Keys::default()
        };
        let c = EdgeConfig::from_keys(file.overridden_by(over)).unwrap();
        assert_eq!(c.dynamic.unwrap().backup.unwrap().revert, Revert::Never);
        let k = Keys::from_toml("revert-delay = \"never\"").unwrap();
        assert_eq!(k.revert_delay.as_deref(), Some("never"));
        assert!(Keys::from_toml("backup-peer = \"10.0.0\"").is_err());
    }

    #[test]
    fn test_ipv6() {
        let v6 = |extra: &[&str]| {
            let mut v = IP.to_vec();
            v[3] = "fd00:e6::2";
            v[5] = "fd00:e6::1";
            v.extend_from_slice(extra);
            parse(&v)
        };
        let c = v6(&[]).unwrap();
        assert_eq!(c.local, "fd00:e6::2".parse::<IpAddr>().unwrap());
        assert_eq!(c.peer, "fd00:e6::1".parse::<IpAddr>().unwrap());
        assert_eq!(c.transport, Transport::Ip);
        assert_eq!(c.session.session_id, 2001);
        // UDP over IPv6.
        let mut v = IP.to_vec();
        v[3] = "2001:db8::2";
        v[5] = "2001:db8::1";
        v[7] = "udp";
        let c = parse(&v).unwrap();
        assert_eq!(
            c.transport,
            Transport::Udp {
                sport: 1701,
                dport: 1701
            }
        );
        assert!(c.peer.is_ipv6());

        // Mixing families names the key and the value.
        for (local, peer, msg) in [
            (
                "10.0.0.2",
                "fd00:e6::1",
                "--peer fd00:e6::1: an IPv6 address, but --local 10.0.0.2 is IPv4",
            ),
            (
                "fd00:e6::2",
                "10.0.0.1",
                "--peer 10.0.0.1: an IPv4 address, but --local fd00:e6::2 is IPv6",
            ),
            (
                "::ffff:10.0.0.2",
                "10.0.0.1",
                "--local ::ffff:10.0.0.2: an IPv4-mapped IPv6 address; write the IPv4 address (10.0.0.2)",
            ),
            ("fe80::2", "fe80::1", "--local fe80::2: a link-local IPv6 address"),
            ("fd00:e6::2", "fe80::1", "--peer fe80::1: a link-local"),
        ] {
            let mut v = IP.to_vec();
            v[3] = local;
            v[5] = peer;
            let e = parse(&v).unwrap_err();
            assert!(e.contains(msg), "{local} {peer}: {e}");
        }
        let e = Keys::from_toml(
            r#"
            tap = "pw0"
            local = "fd00:e6::2"
            peer = "10.0.0.1"
            encap = "udp"
            session-id = 1
            peer-session-id = 2
            "#,
        )
        .and_then(EdgeConfig::from_keys)
        .unwrap_err();
        assert!(e.contains("--peer 10.0.0.1: an IPv4 address"), "{e}");
        let c = Keys::from_toml(
            r#"
            tap = "pw0"
            local = "fd00:e6::2"
            peer = "fd00:e6::1"
            encap = "ip"
            session-id = 1
            peer-session-id = 2
            "#,
        )
        .and_then(EdgeConfig::from_keys)
        .unwrap();
        assert!(c.local.is_ipv6());
    }

    #[test]
    fn test_ipv6_dynamic_router_id() {
        let dyn6 = |extra: &[&str]| {
            let mut v = DYN.to_vec();
            v[3] = "fd00:e6::2";
            v[5] = "fd00:e6::1";
            v.extend_from_slice(extra);
            parse(&v)
        };
        // Over IPv6 the Router ID must be given ...
        let e = dyn6(&[]).unwrap_err();
        assert!(
            e.contains("--local fd00:e6::2 is IPv6: dynamic mode needs --router-id"),
            "{e}"
        );
        let d = dyn6(&["--router-id", "192.0.2.2"])
            .unwrap()
            .dynamic
            .unwrap();
        assert_eq!(d.router_id, 0xc000_0202);
        assert!(format!("{d:?}").contains("router_id: 192.0.2.2"));
        // ... over IPv4 it defaults to --local, and can be set.
        assert_eq!(parse(DYN).unwrap().dynamic.unwrap().router_id, 0x0a00_0002);
        let mut v = DYN.to_vec();
        v.extend_from_slice(&["--router-id", "1.2.3.4"]);
        assert_eq!(parse(&v).unwrap().dynamic.unwrap().router_id, 0x0102_0304);
        assert!(parse(&[DYN, &["--router-id", "1.2.3"]].concat()).is_err());
        // A backup peer of the other family is refused by name.
        let e = dyn6(&["--router-id", "1.2.3.4", "--backup-peer", "10.0.0.5"]).unwrap_err();
        assert!(
            e.contains("--backup-peer 10.0.0.5: an IPv4 address, but --local fd00:e6::2 is IPv6"),
            "{e}"
        );
        let d = dyn6(&["--router-id", "1.2.3.4", "--backup-peer", "fd00:e6::5"])
            .unwrap()
            .dynamic
            .unwrap();
        assert_eq!(
            d.backup.unwrap().peer,
            "fd00:e6::5".parse::<IpAddr>().unwrap()
        );
        for (b, msg) in [
            ("ff02::1", "--backup-peer ff02::1: not a unicast"),
            ("::", "--backup-peer ::: not a unicast"),
            ("fd00:e6::1", "the same address as --peer"),
        ] {
            let e = dyn6(&["--router-id", "1.2.3.4", "--backup-peer", b]).unwrap_err();
            assert!(e.contains(msg), "{b}: {e}");
        }
        // Static mode has no Router ID.
        let mut v = IP.to_vec();
        v.extend_from_slice(&["--router-id", "1.2.3.4"]);
        assert!(parse(&v)
            .unwrap_err()
            .contains("only apply in dynamic mode"));
        // TOML.
        let c = Keys::from_toml(
            r#"
            tap = "pw0"
            local = "fd00:e6::2"
            peer = "fd00:e6::1"
            encap = "ip"
            vc-id = 100
            router-id = "192.0.2.2"
            "#,
        )
        .and_then(EdgeConfig::from_keys)
        .unwrap();
        assert_eq!(c.dynamic.unwrap().router_id, 0xc000_0202);
    }

    #[test]
    fn test_df() {
        let mut args = IP.to_vec();
        args.push("--df");
        assert!(parse(&args).unwrap().df);
        let k = Keys::from_toml("df = true").unwrap();
        assert!(k.df);
        assert!(!Keys::from_toml("df = false").unwrap().df);
        // The flag cannot clear what the file sets.
        assert!(k.overridden_by(Keys::default()).df);
    }

    #[test]
    fn test_example_configs() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/configs");
        for name in [
            "edge-ip.toml",
            "edge-udp.toml",
            "edge-dynamic.toml",
            "edge-failover.toml",
            "edge-ipv6.toml",
        ] {
            let path = PathBuf::from(dir).join(name);
            let a = EdgeArgs {
                config: Some(path.clone()),
                keys: Keys::default(),
            };
            EdgeConfig::from_args(a).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
}
