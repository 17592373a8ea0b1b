//! IPv6 on ports (`address6`, `gateway6`) and IPv6 static neighbours
//! (`[[neighbor]]` with an IPv6 `address`).
use super::{ConfigError, Port, Port6, Quoted};
use std::net::Ipv6Addr;

type R<T> = Result<T, ConfigError>;

fn is_link_local(a: Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

fn in_prefix(a: Ipv6Addr, p: Ipv6Addr, len: u8) -> bool {
    let m = if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len))
    };
    u128::from(a) & m == u128::from(p) & m
}

impl Port6 {
    /// `ip` is on the link: inside the prefix, or link-local (fe80::/10).
    pub fn on_link(&self, ip: Ipv6Addr) -> bool {
        is_link_local(ip) || in_prefix(ip, self.address, self.prefix_len)
    }
}

/// `port[i].address6` (`addr/len`) and `port[i].gateway6`.
pub(super) fn port6(
    i: usize,
    address6: Option<String>,
    gateway6: Option<String>,
) -> R<Option<Port6>> {
    let k = |s: &str| format!("port[{i}].{s}");
    let Some(astr) = address6 else {
        if let Some(g) = gateway6 {
            return Err(ConfigError::new(
                k("gateway6"),
                Quoted(&g),
                "needs port address6",
            ));
        }
        return Ok(None);
    };
    let Some((a, p)) = astr.split_once('/') else {
        return Err(ConfigError::new(
            k("address6"),
            Quoted(&astr),
            "missing prefix length (expected address/prefix, e.g. 2001:db8::1/64)",
        ));
    };
    let address: Ipv6Addr = a
        .trim()
        .parse()
        .map_err(|_| ConfigError::new(k("address6"), Quoted(&astr), "not an IPv6 address"))?;
    let prefix_len: u8 = p.trim().parse().ok().filter(|l| *l <= 128).ok_or_else(|| {
        ConfigError::new(
            k("address6"),
            Quoted(&astr),
            "prefix length must be 0..=128",
        )
    })?;
    if address.is_unspecified()
        || address.is_multicast()
        || address.is_loopback()
        || is_link_local(address)
        || address.to_ipv4_mapped().is_some()
    {
        return Err(ConfigError::new(
            k("address6"),
            Quoted(&astr),
            "must be a global or unique-local unicast address (las adds its link-local one itself)",
        ));
    }
    let gateway = match gateway6 {
        None => None,
        Some(g) => {
            let gw: Ipv6Addr = g
                .trim()
                .parse()
                .map_err(|_| ConfigError::new(k("gateway6"), Quoted(&g), "not an IPv6 address"))?;
            let p6 = Port6 {
                address,
                prefix_len,
                gateway: None,
            };
            if gw.is_multicast() || gw.is_unspecified() || gw == address || !p6.on_link(gw) {
                return Err(ConfigError::new(
                    k("gateway6"),
                    Quoted(&g),
                    format!(
                        "must be another unicast address on the link: link-local (fe80::/10) \
                         or inside {address}/{prefix_len}"
                    ),
                ));
            }
            Some(gw)
        }
    };
    Ok(Some(Port6 {
        address,
        prefix_len,
        gateway,
    }))
}

/// A `[[session]]` IPv6 `peer` (`key`, as written `pstr`): a global or
/// unique-local unicast address that is not ours. Returns its port: the
/// one named (`named`, which must have `address6`), else the port whose
/// IPv6 prefix holds the peer, else the first with a `gateway6`.
pub(super) fn session_peer6(
    key: &str,
    pstr: &str,
    peer: Ipv6Addr,
    ports: &[Port],
    named: Option<usize>,
) -> R<usize> {
    if peer.is_unspecified()
        || peer.is_multicast()
        || peer.is_loopback()
        || is_link_local(peer)
        || peer.to_ipv4_mapped().is_some()
    {
        return Err(ConfigError::new(
            key,
            Quoted(pstr),
            "must be a global or unique-local unicast IPv6 address",
        ));
    }
    if let Some(p) = ports
        .iter()
        .find(|p| p.v6.as_ref().is_some_and(|v| v.address == peer))
    {
        return Err(ConfigError::new(
            key,
            Quoted(pstr),
            format!(
                "is the address6 of port {:?}; the peer must be remote",
                p.name
            ),
        ));
    }
    match named {
        Some(i) => match ports.get(i) {
            Some(p) if p.v6.is_some() => Ok(i),
            p => Err(ConfigError::new(
                key,
                Quoted(pstr),
                format!(
                    "is an IPv6 peer, but port {:?} has no address6",
                    p.map_or("?", |p| p.name.as_str())
                ),
            )),
        },
        None => ports
            .iter()
            .position(|p| {
                p.v6.as_ref()
                    .is_some_and(|v| in_prefix(peer, v.address, v.prefix_len))
            })
            .or_else(|| {
                ports
                    .iter()
                    .position(|p| p.v6.as_ref().is_some_and(|v| v.gateway.is_some()))
            })
            .ok_or_else(|| {
                ConfigError::new(
                    key,
                    Quoted(pstr),
                    "is an IPv6 peer, but no port has an address6 prefix holding it or a \
                     gateway6; set address6 (and gateway6) on its port",
                )
            }),
    }
}

/// An IPv6 `[[neighbor]]` address on port `p`.
pub(super) fn neighbor6(key: &str, astr: &str, p: &Port) -> R<Ipv6Addr> {
    let a: Ipv6Addr = astr
        .trim()
        .parse()
        .map_err(|_| ConfigError::new(key, Quoted(astr), "not an IPv4 or IPv6 address"))?;
    let Some(p6) = &p.v6 else {
        return Err(ConfigError::new(
            key,
            Quoted(astr),
            format!("port {:?} has no address6", p.name),
        ));
    };
    if a.is_multicast() || a.is_unspecified() || a == p6.address || !p6.on_link(a) {
        return Err(ConfigError::new(
            key,
            Quoted(astr),
            format!(
                "must be another host on port {:?}'s link (link-local, or inside {}/{})",
                p.name, p6.address, p6.prefix_len
            ),
        ));
    }
    Ok(a)
}

#[cfg(test)]
mod test {
    use crate::config::Config;
    use std::net::Ipv6Addr;

    fn cfg(port: &str, rest: &str) -> Result<Config, String> {
        Config::from_toml_str(&format!(
            "[[port]]\nname = \"wan0\"\ndevice = \"net_null0\"\naddress = \"198.51.100.1/24\"\n{port}\n{rest}"
        ))
        .map_err(|e| e.to_string())
    }

    #[test]
    fn address6_gateway6_and_neighbours() {
        let c = cfg(
            "address6 = \"2001:db8:1::1/64\"\ngateway6 = \"fe80::1\"",
            "[[neighbor]]\nport = \"wan0\"\naddress = \"2001:db8:1::10\"\nmac = \"02:00:00:00:00:10\"\n",
        )
        .unwrap();
        let p6 = c.ports[0].v6.as_ref().unwrap();
        assert_eq!(p6.address, "2001:db8:1::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(p6.prefix_len, 64);
        assert_eq!(p6.gateway, Some("fe80::1".parse().unwrap()));
        assert!(c.neighbors.is_empty());
        assert_eq!(c.neighbors6.len(), 1);
        assert_eq!(
            c.neighbors6[0].address,
            "2001:db8:1::10".parse::<Ipv6Addr>().unwrap()
        );
        assert!(cfg("", "").unwrap().ports[0].v6.is_none());
    }

    #[test]
    fn bad_values_name_the_key() {
        let e = |p: &str, r: &str| cfg(p, r).unwrap_err();
        assert!(e("address6 = \"2001:db8::1\"", "").contains("port[0].address6"));
        assert!(e("address6 = \"2001:db8::1/129\"", "").contains("0..=128"));
        assert!(e("address6 = \"fe80::1/64\"", "").contains("link-local"));
        assert!(e("address6 = \"ff02::1/64\"", "").contains("port[0].address6"));
        assert!(e("gateway6 = \"fe80::1\"", "").contains("needs port address6"));
        assert!(e(
            "address6 = \"2001:db8::1/64\"\ngateway6 = \"2001:db9::1\"",
            ""
        )
        .contains("port[0].gateway6"));
        let n = "[[neighbor]]\nport = \"wan0\"\naddress = \"2001:db8:1::10\"\nmac = \"02:00:00:00:00:10\"\n";
        assert!(e("", n).contains("has no address6"));
        assert!(e("address6 = \"2001:db8:2::1/64\"", n).contains("neighbor[0].address"));
    }
}

#[cfg(test)]
mod session_test {
    use crate::config::Config;
    use std::net::IpAddr;

    const SW: &str = "[[switch]]\nname = \"s\"\n";

    fn cfg(port: &str, session: &str) -> Result<Config, String> {
        Config::from_toml_str(&format!(
            "[[port]]\nname = \"wan0\"\ndevice = \"net_null0\"\naddress = \"198.51.100.1/24\"\n{port}\n\
             [[port]]\nname = \"wan1\"\ndevice = \"net_null1\"\naddress = \"203.0.113.1/24\"\n\
             {SW}[[session]]\nname = \"a\"\nswitch = \"s\"\nlocal_session_id = 1\n\
             remote_session_id = 2\n{session}\n"
        ))
        .map_err(|e| e.to_string())
    }

    #[test]
    fn ipv6_peers() {
        let v6 = "address6 = \"2001:db8:1::1/64\"";
        let c = cfg(v6, "peer = \"2001:db8:1::10\"").unwrap();
        let s = &c.sessions[0];
        assert_eq!(s.peer, "2001:db8:1::10".parse::<IpAddr>().unwrap());
        assert_eq!(s.port, 0);
        // Off-link: the port with a gateway6.
        let c = cfg(
            "address6 = \"2001:db8:1::1/64\"\ngateway6 = \"fe80::1\"",
            "peer = \"2001:db8:9::10\"\nencap = \"udp\"",
        )
        .unwrap();
        assert_eq!(c.sessions[0].port, 0);
        // IPv4 stays as it was.
        let c = cfg(v6, "peer = \"198.51.100.10\"").unwrap();
        assert_eq!(
            c.sessions[0].peer,
            "198.51.100.10".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn bad_ipv6_peers_name_field_and_value() {
        let e = |p: &str, s: &str| cfg(p, s).unwrap_err();
        let v6 = "address6 = \"2001:db8:1::1/64\"";
        let m = e("", "peer = \"2001:db8:1::10\"");
        assert!(
            m.contains("session[0].peer") && m.contains("2001:db8:1::10"),
            "{m}"
        );
        assert!(m.contains("address6"), "{m}");
        let m = e(v6, "peer = \"2001:db8:1::10\"\nport = \"wan1\"");
        assert!(
            m.contains("session[0].peer") && m.contains("\"wan1\" has no address6"),
            "{m}"
        );
        let m = e(v6, "peer = \"2001:db8:9::10\"");
        assert!(m.contains("gateway6"), "{m}");
        for bad in ["ff02::1", "::", "::1", "fe80::1", "::ffff:192.0.2.1"] {
            let m = e(v6, &format!("peer = \"{bad}\""));
            assert!(m.contains("session[0].peer") && m.contains(bad), "{m}");
        }
        let m = e(v6, "peer = \"2001:db8:1::1\"");
        assert!(m.contains("address6 of port"), "{m}");
        let m = e(v6, "peer = \"nope\"");
        assert!(m.contains("not an IPv4 or IPv6 address"), "{m}");
    }
}
