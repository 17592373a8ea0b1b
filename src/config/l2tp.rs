//! `[l2tp]`: validation of the control-plane settings.
use super::limits::{at_most, MAX_L2TP_ALLOW, MAX_L2TP_PEERS};
use super::raw::RawL2tp;
use super::{prefix_contains, ConfigError, L2SpecCfg, L2tp, Quoted};
use std::net::{IpAddr, Ipv4Addr};

/// Message digest algorithm (RFC 3931 §5.4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Digest {
    Md5,
    Sha1,
}

/// How a peer with a secret authenticates (`auth`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMode {
    /// RFC 3931 Message Digest on every message, with nonces (Cisco
    /// `digest secret`, ProL2TP).
    Digest,
    /// RFC 2661 CHAP-style Challenge / Challenge Response in the
    /// SCCRQ/SCCRP/SCCCN only (Cisco `authentication` + `password`,
    /// L2TPv2-derived stacks, freeRtr).
    Challenge,
    /// Both.
    Both,
}

impl AuthMode {
    pub fn digest(self) -> bool {
        matches!(self, AuthMode::Digest | AuthMode::Both)
    }

    pub fn challenge(self) -> bool {
        matches!(self, AuthMode::Challenge | AuthMode::Both)
    }
}

fn auth_mode(key: &str, s: &str) -> R<AuthMode> {
    match s {
        "digest" => Ok(AuthMode::Digest),
        "challenge" => Ok(AuthMode::Challenge),
        "both" => Ok(AuthMode::Both),
        o => Err(ConfigError::new(
            key,
            Quoted(o),
            "must be \"digest\", \"challenge\" or \"both\"",
        )),
    }
}

/// `[[l2tp.peer]]`: a secret (and how to use it) for the peers in an
/// IPv4 or IPv6 prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct L2tpPeer {
    pub prefix: IpAddr,
    pub prefix_len: u8,
    pub secret: String,
    /// `None`: the global `l2tp.auth`.
    pub auth: Option<AuthMode>,
}

type R<T> = Result<T, ConfigError>;

fn int(key: &str, v: Option<i64>, default: i64, lo: i64, hi: i64) -> R<i64> {
    let v = v.unwrap_or(default);
    if v < lo || v > hi {
        return Err(ConfigError::new(key, v, format!("must be in {lo}..={hi}")));
    }
    Ok(v)
}

/// True if two prefixes cover the same addresses.
fn same_prefix((a, l): (IpAddr, u8), (b, m): (IpAddr, u8)) -> bool {
    l == m && prefix_contains(a, l, b)
}

/// Parses an IPv4 prefix `a.b.c.d/len` (bare address: /32) or an IPv6
/// one `x:y::/len` (bare address: /128). Host bits are allowed (the
/// prefix is what the length covers).
pub(super) fn prefix(key: &str, s: &str) -> R<(IpAddr, u8)> {
    let bad = |why: &str| ConfigError::new(key, Quoted(s), why.to_string());
    let (a, l) = match s.split_once('/') {
        Some((a, l)) => (
            a.trim(),
            Some(
                l.trim()
                    .parse::<u8>()
                    .map_err(|_| bad("prefix length is not a number"))?,
            ),
        ),
        None => (s.trim(), None),
    };
    let a: IpAddr = a.parse().map_err(|_| bad("not an IPv4 or IPv6 address"))?;
    let max = if a.is_ipv4() { 32 } else { 128 };
    let l = l.unwrap_or(max);
    if l > max {
        return Err(bad(if a.is_ipv4() {
            "prefix length must be 0..=32 for IPv4"
        } else {
            "prefix length must be 0..=128 for IPv6"
        }));
    }
    Ok((a, l))
}

pub(super) fn validate(r: RawL2tp) -> R<L2tp> {
    let d = L2tp::default();
    let host_name = r.host_name.unwrap_or(d.host_name);
    if host_name.is_empty() || host_name.len() > 64 {
        return Err(ConfigError::new(
            "l2tp.host_name",
            Quoted(&host_name),
            "must be 1..=64 bytes",
        ));
    }
    let router_id = r
        .router_id
        .map(|s| {
            // Dotted quad, or the 32-bit id in decimal.
            s.parse::<Ipv4Addr>()
                .or_else(|_| s.parse::<u32>().map(Ipv4Addr::from))
                .map_err(|_| {
                    ConfigError::new(
                        "l2tp.router_id",
                        Quoted(&s),
                        "not a 32-bit router id (a.b.c.d or a decimal number)",
                    )
                })
                .and_then(|id| {
                    if id.is_unspecified() {
                        // RFC 3931 section 5.4.3: nonzero.
                        Err(ConfigError::new(
                            "l2tp.router_id",
                            Quoted(&s),
                            "must be nonzero (RFC 3931 section 5.4.3)",
                        ))
                    } else {
                        Ok(id)
                    }
                })
        })
        .transpose()?;
    // An allow-list: a prefix given twice is kept once.
    let allow_raw = r.allow.unwrap_or_default();
    at_most("l2tp.allow", &allow_raw, MAX_L2TP_ALLOW)?;
    let mut allow: Vec<(IpAddr, u8)> = Vec::with_capacity(allow_raw.len());
    for (i, s) in allow_raw.iter().enumerate() {
        let p = prefix(&format!("l2tp.allow[{i}]"), s)?;
        if !allow.iter().any(|&q| same_prefix(p, q)) {
            allow.push(p);
        }
    }
    let nonempty = |key: &str, s: String| -> R<String> {
        if s.is_empty() {
            Err(ConfigError::new(key, "\"\"", "must not be empty"))
        } else {
            Ok(s)
        }
    };
    let secret = r.secret.map(|s| nonempty("l2tp.secret", s)).transpose()?;
    at_most("l2tp.peer", &r.peer, MAX_L2TP_PEERS)?;
    let mut peers: Vec<L2tpPeer> = Vec::new();
    // Index in `peers` -> entry index.
    let mut entry = Vec::new();
    for (i, p) in r.peer.into_iter().enumerate() {
        let key = |f: &str| format!("l2tp.peer[{i}].{f}");
        let pfx = p
            .prefix
            .ok_or_else(|| ConfigError::new(key("prefix"), "(missing)", "required"))?;
        let (prefix, prefix_len) = prefix(&key("prefix"), &pfx)?;
        let secret = p
            .secret
            .ok_or_else(|| ConfigError::new(key("secret"), "(missing)", "required"))?;
        let auth = p
            .auth
            .as_deref()
            .map(|a| auth_mode(&key("auth"), a))
            .transpose()?;
        let peer = L2tpPeer {
            prefix,
            prefix_len,
            secret: nonempty(&key("secret"), secret)?,
            auth,
        };
        // The same prefix again: kept once if it says the same, else
        // refused (which secret would win?).
        if let Some(at) = peers
            .iter()
            .position(|q| same_prefix((q.prefix, q.prefix_len), (prefix, prefix_len)))
        {
            if peers[at] == peer {
                continue;
            }
            return Err(ConfigError::new(
                key("prefix"),
                Quoted(&pfx),
                format!(
                    "same prefix as l2tp.peer[{}], with another secret or auth",
                    entry[at]
                ),
            ));
        }
        peers.push(peer);
        entry.push(i);
    }
    let digest = match r.digest.as_deref() {
        None | Some("md5") => Digest::Md5,
        Some("sha1") => Digest::Sha1,
        Some(o) => {
            return Err(ConfigError::new(
                "l2tp.digest",
                Quoted(o),
                "must be \"md5\" or \"sha1\"",
            ))
        }
    };
    // `challenge = true` is the older spelling of `auth = "both"`.
    let auth = match (r.auth.as_deref(), r.challenge) {
        (Some(_), Some(c)) => {
            return Err(ConfigError::new(
                "l2tp.challenge",
                c,
                "give either l2tp.auth or the older l2tp.challenge, not both",
            ))
        }
        (Some(a), None) => auth_mode("l2tp.auth", a)?,
        (None, Some(true)) => AuthMode::Both,
        (None, _) => AuthMode::Digest,
    };
    let set_explicitly = r.auth.is_some() || r.challenge == Some(true);
    if set_explicitly && auth.challenge() && secret.is_none() && peers.is_empty() {
        let (key, v) = if r.challenge.is_some() {
            ("l2tp.challenge", "true".to_string())
        } else {
            ("l2tp.auth", format!("{:?}", r.auth.unwrap_or_default()))
        };
        return Err(ConfigError::new(
            key,
            v,
            "needs l2tp.secret or [[l2tp.peer]] secrets",
        ));
    }
    let cookie_len = int("l2tp.cookie_len", r.cookie_len, 0, 0, 8)? as usize;
    if ![0, 4, 8].contains(&cookie_len) {
        return Err(ConfigError::new(
            "l2tp.cookie_len",
            cookie_len,
            "must be 0, 4 or 8",
        ));
    }
    let l2spec = match r.l2spec.as_deref() {
        None | Some("none") => L2SpecCfg::None,
        Some("default") => L2SpecCfg::Default,
        Some(o) => {
            return Err(ConfigError::new(
                "l2tp.l2spec",
                Quoted(o),
                "must be \"none\" or \"default\"",
            ))
        }
    };
    let udp6_checksum = match r.udp6_checksum.as_deref() {
        None | Some("compute") => crate::wire::ipv6::UdpChecksum::Compute,
        Some("zero") => crate::wire::ipv6::UdpChecksum::ZeroAllowed,
        Some(o) => {
            return Err(ConfigError::new(
                "l2tp.udp6_checksum",
                Quoted(o),
                "must be \"compute\" or \"zero\"",
            ))
        }
    };
    let hello_interval = int("l2tp.hello_interval", r.hello_interval, 60, 1, 3600)? as u32;
    Ok(L2tp {
        udp6_checksum,
        udp_port: int("l2tp.udp_port", r.udp_port, 1701, 1, 65535)? as u16,
        host_name,
        router_id,
        hello_interval,
        // A shorter hello_interval applies to UDP peers too.
        hello_interval_udp: int(
            "l2tp.hello_interval_udp",
            r.hello_interval_udp,
            i64::from(super::HELLO_INTERVAL_UDP.min(hello_interval)),
            1,
            3600,
        )? as u32,
        retransmit_max: int("l2tp.retransmit_max", r.retransmit_max, 8, 1, 60)? as u32,
        retransmit_retries: int("l2tp.retransmit_retries", r.retransmit_retries, 10, 1, 100)?
            as u32,
        receive_window: int("l2tp.receive_window", r.receive_window, 16, 1, 1024)? as u16,
        max_tunnels_per_peer: int(
            "l2tp.max_tunnels_per_peer",
            r.max_tunnels_per_peer,
            4,
            1,
            1024,
        )? as usize,
        max_sessions_per_tunnel: int(
            "l2tp.max_sessions_per_tunnel",
            r.max_sessions_per_tunnel,
            1024,
            1,
            65535,
        )? as usize,
        allow,
        secret,
        peers,
        digest,
        auth,
        auto_switch: r.auto_switch.unwrap_or(true),
        auto_switch_grace: int("l2tp.auto_switch_grace", r.auto_switch_grace, 60, 0, 86_400)?
            as u32,
        auto_switches_per_peer: int(
            "l2tp.auto_switches_per_peer",
            r.auto_switches_per_peer,
            64,
            1,
            65_535,
        )? as u32,
        cookie_len,
        l2spec,
        punt_rate: int("l2tp.punt_rate", r.punt_rate, 10_000, 0, 10_000_000)? as u32,
        control_rate: int("l2tp.control_rate", r.control_rate, 1000, 1, 1_000_000)? as u32,
    })
}

#[cfg(test)]
mod test {
    use crate::config::{AuthMode, Config, Digest};

    const BASE: &str =
        "[[port]]\nname = \"p\"\ndevice = \"net_null0\"\naddress = \"192.0.2.1/24\"\n";

    fn cfg(extra: &str) -> Result<Config, crate::config::ConfigError> {
        Config::from_toml_str(&format!("{BASE}{extra}"))
    }

    #[test]
    fn defaults() {
        let c = cfg("").unwrap();
        assert_eq!(c.l2tp.hello_interval, 60);
        assert_eq!(c.l2tp.hello_interval_udp, 20);
        // A shorter hello_interval covers UDP peers too, unless set apart.
        let short = cfg("[l2tp]\nhello_interval = 2\n").unwrap();
        assert_eq!(short.l2tp.hello_interval_udp, 2);
        let apart = cfg("[l2tp]\nhello_interval = 2\nhello_interval_udp = 25\n").unwrap();
        assert_eq!(apart.l2tp.hello_interval_udp, 25);
        assert_eq!(c.l2tp.control_rate, 1000);
        assert_eq!(c.l2tp.auto_switch_grace, 60);
        assert!(c.l2tp.auto_switch);
        assert_eq!(c.l2tp.secret_for("10.0.0.1".parse().unwrap()), None);
        assert!(c.l2tp.allowed("10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn secrets_and_allow() {
        let c = cfg(
            "[l2tp]\nsecret = \"g\"\nallow = [\"10.0.0.0/8\", \"192.0.2.7\"]\ndigest = \"sha1\"\n\
             [[l2tp.peer]]\nprefix = \"10.1.0.0/16\"\nsecret = \"a\"\n\
             [[l2tp.peer]]\nprefix = \"10.1.2.0/24\"\nsecret = \"b\"\n",
        )
        .unwrap();
        let l = &c.l2tp;
        assert_eq!(l.digest, Digest::Sha1);
        assert_eq!(l.secret_for("10.1.2.3".parse().unwrap()), Some("b"));
        assert_eq!(l.secret_for("10.1.9.3".parse().unwrap()), Some("a"));
        assert_eq!(l.secret_for("10.9.9.3".parse().unwrap()), Some("g"));
        assert!(l.allowed("10.200.0.1".parse().unwrap()));
        assert_eq!(
            l.auth_for("10.1.2.3".parse().unwrap()),
            Some(("b", AuthMode::Digest))
        );
        assert!(l.allowed("192.0.2.7".parse().unwrap()));
        assert!(!l.allowed("192.0.2.8".parse().unwrap()));
    }

    #[test]
    fn auth_modes_per_prefix() {
        let c = cfg("[l2tp]\nsecret = \"g\"\nauth = \"both\"\n\
             [[l2tp.peer]]\nprefix = \"10.1.0.0/16\"\nsecret = \"cisco\"\nauth = \"challenge\"\n\
             [[l2tp.peer]]\nprefix = \"10.2.0.0/16\"\nsecret = \"pro\"\n")
        .unwrap();
        let l = &c.l2tp;
        let at = |ip: &str| l.auth_for(ip.parse().unwrap());
        assert_eq!(at("10.1.0.9"), Some(("cisco", AuthMode::Challenge)));
        assert_eq!(at("10.2.0.9"), Some(("pro", AuthMode::Both)));
        assert_eq!(at("10.3.0.9"), Some(("g", AuthMode::Both)));
        assert_eq!(
            cfg("").unwrap().l2tp.auth_for("10.3.0.9".parse().unwrap()),
            None
        );
        let old = cfg("[l2tp]\nsecret = \"g\"\nchallenge = true\n").unwrap();
        assert_eq!(old.l2tp.auth, AuthMode::Both);
        assert!(AuthMode::Challenge.challenge() && !AuthMode::Challenge.digest());
    }

    #[test]
    fn ipv6_prefixes_and_router_id() {
        let c = cfg(
            "[l2tp]\nallow = [\"2001:db8::/32\", \"2001:db8::1\", \"10.0.0.0/8\"]\n\
             router_id = \"3221225985\"\n\
             [[l2tp.peer]]\nprefix = \"2001:db8:1::/48\"\nsecret = \"a\"\n\
             [[l2tp.peer]]\nprefix = \"2001:db8:1:2::/64\"\nsecret = \"b\"\nauth = \"both\"\n",
        )
        .unwrap();
        let l = &c.l2tp;
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        assert_eq!(l.router_id, Some("192.0.2.1".parse().unwrap()));
        assert!(l.allowed(ip("2001:db8:ffff::9")));
        assert!(l.allowed(ip("10.1.2.3")));
        assert!(!l.allowed(ip("2001:db9::1")));
        // An IPv4 prefix never holds an IPv6 address, nor the reverse.
        assert!(!l.allowed(ip("::ffff:10.1.2.3")));
        assert_eq!(l.secret_for(ip("2001:db8:1:2::7")), Some("b"));
        assert_eq!(l.secret_for(ip("2001:db8:1:3::7")), Some("a"));
        assert_eq!(
            l.auth_for(ip("2001:db8:1:2::7")),
            Some(("b", AuthMode::Both))
        );
        assert_eq!(l.secret_for(ip("10.0.0.1")), None);
        // The same IPv6 prefix twice (host bits aside) is kept once.
        let c = cfg("[l2tp]\nallow = [\"2001:db8::/32\", \"2001:db8::5/32\"]\n").unwrap();
        assert_eq!(c.l2tp.allow.len(), 1);
    }

    #[test]
    fn errors_name_the_key() {
        for (t, key) in [
            ("[l2tp]\ncookie_len = 3\n", "l2tp.cookie_len"),
            ("[l2tp]\ndigest = \"md4\"\n", "l2tp.digest"),
            ("[l2tp]\nallow = [\"10.0.0.0/33\"]\n", "l2tp.allow[0]"),
            ("[l2tp]\nallow = [\"2001:db8::/129\"]\n", "l2tp.allow[0]"),
            (
                "[l2tp]\nallow = [\"10.0.0.0/8\", \"2001:db8::g/64\"]\n",
                "l2tp.allow[1]",
            ),
            (
                "[[l2tp.peer]]\nprefix = \"2001:db8::/200\"\nsecret = \"s\"\n",
                "l2tp.peer[0].prefix",
            ),
            ("[l2tp]\nchallenge = true\n", "l2tp.challenge"),
            ("[l2tp]\nhello_interval = 0\n", "l2tp.hello_interval"),
            ("[l2tp]\ncontrol_rate = 0\n", "l2tp.control_rate"),
            ("[l2tp]\nauto_switch_grace = -1\n", "l2tp.auto_switch_grace"),
            (
                "[l2tp]\nauto_switches_per_peer = 0\n",
                "l2tp.auto_switches_per_peer",
            ),
            (
                "[[l2tp.peer]]\nprefix = \"x\"\nsecret = \"s\"\n",
                "l2tp.peer[0].prefix",
            ),
            (
                "[[l2tp.peer]]\nprefix = \"10.0.0.0/8\"\n",
                "l2tp.peer[0].secret",
            ),
            ("[l2tp]\nrouter_id = \"r\"\n", "l2tp.router_id"),
            ("[l2tp]\nl2spec = \"x\"\n", "l2tp.l2spec"),
            ("[l2tp]\nudp6_checksum = \"off\"\n", "l2tp.udp6_checksum"),
            ("[l2tp]\nauth = \"chap\"\nsecret = \"s\"\n", "l2tp.auth"),
            ("[l2tp]\nauth = \"challenge\"\n", "l2tp.auth"),
            (
                "[l2tp]\nauth = \"both\"\nchallenge = true\nsecret = \"s\"\n",
                "l2tp.challenge",
            ),
            (
                "[[l2tp.peer]]\nprefix = \"10.0.0.0/8\"\nsecret = \"s\"\nauth = \"md5\"\n",
                "l2tp.peer[0].auth",
            ),
        ] {
            let e = cfg(t).unwrap_err();
            assert_eq!(e.key, key, "{t}: {e}");
        }
    }
}
