//! Command line and configuration file of `las-edge`.
//!
//! Every key can be given on the command line (`--session-id 1001`) or in a
//! small TOML file (`session-id = 1001`) passed with `--config`; the
//! command line wins.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use clap::{Args, Parser};
use serde::Deserialize;

use crate::wire::l2tp::{Cookie, Encap, L2Spec, UDP_PORT};

/// Default TAP MTU: leaves room for the outer IPv4 header and the largest
/// L2TPv3 header (UDP, 8-byte cookie, sublayer) plus the inner Ethernet
/// header inside a 1500-byte underlay.
pub const DEFAULT_TAP_MTU: u16 = 1400;
/// Default number of packets per recvmmsg/sendmmsg batch.
pub const DEFAULT_BATCH: usize = 32;

#[derive(Parser, Debug, Default)]
#[command(
    name = "las-edge",
    version,
    about = "Software L2TPv3 edge router: bridges a TAP interface to one L2TPv3 pseudowire",
    long_about = "las-edge bridges a TAP interface to one static L2TPv3 Ethernet pseudowire \
(RFC 3931/4719) toward las or any L2TPv3 peer, like Linux `ip l2tp` + l2tp_eth in user space.\n\n\
  las-edge --tap pw0 --local 10.0.0.2 --peer 10.0.0.1 --encap ip \\\n\
           --session-id 2001 --peer-session-id 1001\n\n\
--session-id is the id the peer puts in packets to us (we check it), --peer-session-id the id \
we put in packets to the peer; --cookie is the cookie we expect, --peer-cookie the one we send."
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
    /// Our IPv4 address (source of the tunnel packets).
    #[arg(long)]
    pub local: Option<Ipv4Addr>,
    /// The peer's IPv4 address (las).
    #[arg(long)]
    pub peer: Option<Ipv4Addr>,
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
}

impl Keys {
    /// `self`, with the keys `over` sets replaced.
    pub fn overridden_by(self, over: Keys) -> Keys {
        Keys {
            tap: over.tap.or(self.tap),
            tap_mtu: over.tap_mtu.or(self.tap_mtu),
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
        }
    }

    /// Parses a TOML configuration.
    pub fn from_toml(text: &str) -> Result<Keys, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }
}

/// The pseudowire's parameters, independent of sockets and the TAP. Static
/// mode takes them from the configuration; a control connection (dynamic
/// mode) would negotiate them.
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
    pub l2spec: L2Spec,
}

/// How the pseudowire is carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Raw IPv4 socket, protocol 115.
    Ip,
    /// UDP socket bound to `local:sport`, sending to `peer:dport`.
    Udp { sport: u16, dport: u16 },
}

/// Everything las-edge needs to run one pseudowire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeConfig {
    pub tap: String,
    pub tap_mtu: u16,
    pub local: Ipv4Addr,
    pub peer: Ipv4Addr,
    pub transport: Transport,
    pub session: SessionParams,
    pub batch: usize,
}

fn required<T>(v: Option<T>, key: &str) -> Result<T, String> {
    v.ok_or_else(|| format!("missing --{key} (or `{key}` in the config file)"))
}

fn cookie(v: Option<&str>, key: &str) -> Result<Cookie, String> {
    match v {
        None => Ok(Cookie::NONE),
        Some(s) => Cookie::from_hex(s).map_err(|_| {
            format!("--{key} {s:?}: bad cookie hex: expected 8 or 16 hex digits (4 or 8 bytes), optionally prefixed with 0x")
        }),
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
        let tap = required(k.tap, "tap")?;
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
        let encap = match required(k.encap, "encap")?.as_str() {
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
        let session_id = required(k.session_id, "session-id")?;
        let peer_session_id = required(k.peer_session_id, "peer-session-id")?;
        if session_id == 0 || peer_session_id == 0 {
            return Err("session ids must be nonzero (0 marks control messages)".into());
        }
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
            },
            batch,
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
        assert_eq!(c.local, Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(c.peer, Ipv4Addr::new(10, 0, 0, 1));
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
            }
        );
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

    #[test]
    fn test_example_configs() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/configs");
        for name in ["edge-ip.toml", "edge-udp.toml"] {
            let path = PathBuf::from(dir).join(name);
            let a = EdgeArgs {
                config: Some(path.clone()),
                keys: Keys::default(),
            };
            EdgeConfig::from_args(a).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
}
