//! `[mesh]`: other las nodes that serve the same virtual switches
//! (`control::engine::mesh` says how the mesh works).
use super::raw::RawMesh;
use super::{ConfigError, Encap, L2tp, Mesh, Port, Quoted};
use std::net::Ipv4Addr;

type R<T> = Result<T, ConfigError>;

/// Mesh peers one las keeps (a full mesh of 65 nodes is far beyond what
/// one control core should carry as one flooding domain).
pub const MAX_PEERS: usize = 64;

pub(super) fn validate(r: RawMesh, l2tp: &L2tp, ports: &[Port]) -> R<Mesh> {
    let d = Mesh::default();
    let raw = r.peers.unwrap_or_default();
    if raw.len() > MAX_PEERS {
        return Err(ConfigError::new(
            "mesh.peers",
            raw.len(),
            format!("at most {MAX_PEERS} peers"),
        ));
    }
    let mut peers = Vec::with_capacity(raw.len());
    for (i, s) in raw.iter().enumerate() {
        let key = format!("mesh.peers[{i}]");
        let ip: Ipv4Addr = match s.trim().parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(ip)) => ip,
            // The mesh opens its control connections over IPv4 only.
            Ok(std::net::IpAddr::V6(_)) => {
                return Err(ConfigError::new(
                    &key,
                    Quoted(s),
                    "is an IPv6 address: mesh peers are IPv4 only (IPv6 edges can still \
                     come in over the control channel)",
                ))
            }
            Err(_) => return Err(ConfigError::new(&key, Quoted(s), "not an IPv4 address")),
        };
        if ip.is_unspecified() || ip.is_multicast() || ip.is_broadcast() || ip.is_loopback() {
            return Err(ConfigError::new(
                &key,
                Quoted(s),
                "not a unicast address another las can have",
            ));
        }
        // The mesh runs over IPv4 (`port_toward` skips IPv6-only ports):
        // with no IPv4 port at all, it could never come up.
        if ports.iter().all(|p| p.address.is_none()) {
            return Err(ConfigError::new(
                &key,
                Quoted(s),
                "no port has an IPv4 address (port address): mesh peers are reached over \
                 IPv4 and IPv6-only ports carry no mesh",
            ));
        }
        if ports.iter().any(|p| p.address == Some(ip)) {
            return Err(ConfigError::new(
                &key,
                Quoted(s),
                "is one of this las's own port addresses",
            ));
        }
        if peers.contains(&ip) {
            return Err(ConfigError::new(&key, Quoted(s), "listed twice"));
        }
        if !l2tp.allowed(ip.into()) {
            return Err(ConfigError::new(
                &key,
                Quoted(s),
                "is not in l2tp.allow: las would refuse its own mesh peer's control messages",
            ));
        }
        peers.push(ip);
    }
    let encap = match r.encapsulation.as_deref().map(str::trim) {
        None | Some("ip") => Encap::Ip,
        Some("udp") => Encap::Udp,
        Some(o) => {
            return Err(ConfigError::new(
                "mesh.encapsulation",
                Quoted(o),
                "must be \"ip\" or \"udp\"",
            ))
        }
    };
    let retry = r.retry_interval.unwrap_or(i64::from(d.retry_interval));
    if !(1..=300).contains(&retry) {
        return Err(ConfigError::new(
            "mesh.retry_interval",
            retry,
            "must be in 1..=300 (seconds)",
        ));
    }
    Ok(Mesh {
        peers,
        encap,
        retry_interval: retry as u16,
    })
}

#[cfg(test)]
mod test {
    use crate::config::{Config, ConfigError, Encap, Mesh};
    use std::net::Ipv4Addr;

    const BASE: &str =
        "[[port]]\nname = \"wan0\"\ndevice = \"net_null0\"\naddress = \"198.51.100.1/24\"\n";

    fn cfg(mesh: &str) -> Result<Config, ConfigError> {
        Config::from_toml_str(&format!("{BASE}[mesh]\n{mesh}"))
    }

    fn err(mesh: &str) -> String {
        cfg(mesh).unwrap_err().to_string()
    }

    #[test]
    fn off_by_default() {
        let c = Config::from_toml_str(BASE).unwrap();
        assert_eq!(c.mesh, Mesh::default());
        assert!(c.mesh.peers.is_empty());
    }

    #[test]
    fn peers_and_encapsulation() {
        let c = cfg("peers = [\"198.51.100.2\", \"203.0.113.9\"]\nencapsulation = \"udp\"\nretry_interval = 2\n")
            .unwrap();
        assert_eq!(
            c.mesh.peers,
            vec![
                Ipv4Addr::new(198, 51, 100, 2),
                Ipv4Addr::new(203, 0, 113, 9)
            ]
        );
        assert_eq!(c.mesh.encap, Encap::Udp);
        assert_eq!(c.mesh.retry_interval, 2);
    }

    #[test]
    fn bad_values_name_the_key() {
        assert!(err("peers = [\"x\"]").contains("mesh.peers[0]"));
        assert!(err("peers = [\"198.51.100.1\"]").contains("own port"));
        assert!(err("peers = [\"198.51.100.2\", \"198.51.100.2\"]").contains("mesh.peers[1]"));
        assert!(err("peers = [\"224.0.0.5\"]").contains("unicast"));
        let e = err("peers = [\"198.51.100.2\", \"2001:db8::2\"]");
        assert!(
            e.contains("mesh.peers[1]") && e.contains("IPv4 only"),
            "{e}"
        );
        assert!(err("encapsulation = \"gre\"").contains("mesh.encapsulation"));
        assert!(err("retry_interval = 0").contains("mesh.retry_interval"));
        assert!(err("peer = []").contains("peer"));
    }

    #[test]
    fn a_peer_outside_the_allow_list_is_refused() {
        let e = Config::from_toml_str(&format!(
            "{BASE}[l2tp]\nallow = [\"10.0.0.0/8\"]\n[mesh]\npeers = [\"198.51.100.2\"]\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("l2tp.allow"), "{e}");
    }
}
