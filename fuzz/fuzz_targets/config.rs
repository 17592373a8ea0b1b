//! The configuration loaders an operator feeds: `Config::from_toml_str`
//! (las) with the lookups las makes on the result, las-edge's TOML keys
//! (`EdgeConfig::from_keys`), and the value parsers they use (VC IDs,
//! cookies, MAC addresses).
//!
//! Checked: nothing panics, and whatever the loaders accept is usable:
//! every switch yields its flap and storm settings, every peer address
//! a port, secret and admission answer.
#![no_main]

use std::net::Ipv4Addr;

use las::config::{parse_mac, Config};
use las::edge::config::Keys;
use las::edge::EdgeConfig;
use las::wire::ethernet::MacAddr;
use las::wire::l2tp::{Cookie, VcId};
use libfuzzer_sys::fuzz_target;

fn values(s: &str) {
    if let Ok(v) = VcId::from_config(s) {
        let _ = (v.to_string(), v.to_remote_end_id());
    }
    if let Ok(c) = Cookie::from_hex(s) {
        assert_eq!(Cookie::from_hex(&c.to_string()), Ok(c));
    }
    if let Ok(m) = s.parse::<MacAddr>() {
        assert_eq!(m.to_string().parse::<MacAddr>(), Ok(m));
    }
    let _ = (Cookie::from_hex(s), parse_mac(s));
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    values(s);
    match Config::from_toml_str(s) {
        Ok(c) => {
            // At most one warning per switch.
            assert!(c.warnings().len() <= c.switches.len());
            let probes = [
                Ipv4Addr::new(0, 0, 0, 0),
                Ipv4Addr::new(10, 0, 0, 1),
                Ipv4Addr::new(192, 0, 2, 1),
                Ipv4Addr::new(255, 255, 255, 255),
            ];
            let peers = c.ports.iter().filter_map(|p| p.address);
            for ip in probes.into_iter().chain(peers) {
                if let Some(i) = c.port_for(ip) {
                    assert!(i < c.ports.len());
                }
            }
            // The control-plane lookups take IPv4 and IPv6 peers.
            let ips = probes
                .into_iter()
                .map(std::net::IpAddr::V4)
                .chain([
                    std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
                    std::net::IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
                ])
                .chain(c.l2tp.peers.iter().map(|p| p.prefix))
                .chain(c.l2tp.allow.iter().map(|a| a.0));
            for ip in ips {
                let _ = (
                    c.l2tp.secret_for(ip),
                    c.l2tp.auth_for(ip),
                    c.l2tp.allowed(ip),
                );
            }
            // RFC 3931 section 5.4.3: a valid config has a nonzero Router ID.
            assert!(!c.router_id().is_unspecified());
            for p in &c.ports {
                let a = p.address.unwrap_or(Ipv4Addr::UNSPECIFIED);
                let _ = (p.netmask(), p.contains(a), p.is_vdev(), p.address_text());
                assert_eq!(
                    c.port_index(&p.name).map(|i| &c.ports[i].name),
                    Some(&p.name)
                );
            }
            for sw in &c.switches {
                let _ = (sw.flap_config(), sw.storm_rates());
                assert!(c.switch_index(&sw.name).is_some());
            }
            for se in &c.sessions {
                assert!(c.session_index(&se.name).is_some());
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    if let Ok(k) = Keys::from_toml(s) {
        let _ = EdgeConfig::from_keys(k.clone().overridden_by(Keys::default()));
        let _ = EdgeConfig::from_keys(k);
    }
});
