//! Raw serde structs mirroring the TOML file. Every field is optional and
//! numbers are `i64`, so that range and presence checks (done in
//! `validate`) can name the key and the value.

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub eal: RawEal,
    #[serde(default)]
    pub dataplane: RawDataplane,
    #[serde(default)]
    pub control: RawControl,
    #[serde(default)]
    pub metrics: RawMetrics,
    #[serde(default)]
    pub mesh: RawMesh,
    #[serde(default)]
    pub l2tp: RawL2tp,
    #[serde(default)]
    pub port: Vec<RawPort>,
    #[serde(default)]
    pub neighbor: Vec<RawNeighbor>,
    #[serde(default)]
    pub switch: Vec<RawSwitch>,
    #[serde(default)]
    pub session: Vec<RawSession>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawEal {
    pub args: Option<Vec<String>>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawDataplane {
    pub mbufs: Option<i64>,
    pub mbuf_size: Option<i64>,
    pub rx_descriptors: Option<i64>,
    pub tx_descriptors: Option<i64>,
    pub burst: Option<i64>,
    pub max_sessions: Option<i64>,
    pub max_switches: Option<i64>,
    pub mac_table_size: Option<i64>,
    pub punt_ring: Option<i64>,
    pub event_ring: Option<i64>,
    pub command_ring: Option<i64>,
    pub mac_refresh: Option<i64>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawControl {
    pub socket: Option<String>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawMesh {
    pub peers: Option<Vec<String>>,
    pub encapsulation: Option<String>,
    pub retry_interval: Option<i64>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    pub listen: Option<String>,
    pub max_session_series: Option<i64>,
    pub max_switch_series: Option<i64>,
    pub timeout_ms: Option<i64>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawL2tp {
    pub udp_port: Option<i64>,
    pub udp6_checksum: Option<String>,
    pub host_name: Option<String>,
    pub router_id: Option<String>,
    pub hello_interval: Option<i64>,
    pub hello_interval_udp: Option<i64>,
    pub retransmit_max: Option<i64>,
    pub retransmit_retries: Option<i64>,
    pub receive_window: Option<i64>,
    pub max_tunnels_per_peer: Option<i64>,
    pub max_sessions_per_tunnel: Option<i64>,
    pub allow: Option<Vec<String>>,
    pub secret: Option<String>,
    pub digest: Option<String>,
    pub auth: Option<String>,
    pub challenge: Option<bool>,
    pub auto_switch: Option<bool>,
    pub auto_switch_grace: Option<i64>,
    pub auto_switches_per_peer: Option<i64>,
    pub cookie_len: Option<i64>,
    pub l2spec: Option<String>,
    pub punt_rate: Option<i64>,
    pub control_rate: Option<i64>,
    #[serde(default)]
    pub peer: Vec<RawL2tpPeer>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawL2tpPeer {
    pub prefix: Option<String>,
    pub secret: Option<String>,
    pub auth: Option<String>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawPort {
    pub name: Option<String>,
    pub device: Option<String>,
    pub address: Option<String>,
    pub gateway: Option<String>,
    pub address6: Option<String>,
    pub gateway6: Option<String>,
    pub mtu: Option<i64>,
    pub mac: Option<String>,
    pub dont_fragment: Option<bool>,
    pub reassembly: Option<bool>,
    pub reassembly_timeout_ms: Option<i64>,
    pub reassembly_max_flows: Option<i64>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawNeighbor {
    pub port: Option<String>,
    pub address: Option<String>,
    pub mac: Option<String>,
}

/// A value given as a number or as a string (an ethertype, a VLAN range,
/// a VC ID, an MSS). Deserialized by hand rather than `untagged`, so a
/// wrong type is reported as "invalid type: .., expected an integer or a
/// string" instead of "data did not match any variant".
#[derive(Debug, Clone)]
pub enum StrOrInt {
    Int(i64),
    Str(String),
}

/// As written: a number, or a string quoted.
impl fmt::Display for StrOrInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StrOrInt::Int(n) => write!(f, "{n}"),
            StrOrInt::Str(s) => write!(f, "{s:?}"),
        }
    }
}

impl<'de> Deserialize<'de> for StrOrInt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = StrOrInt;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or a string")
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StrOrInt, E> {
                Ok(StrOrInt::Int(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StrOrInt, E> {
                i64::try_from(v)
                    .map(StrOrInt::Int)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<StrOrInt, E> {
                Ok(StrOrInt::Str(v.to_owned()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<StrOrInt, E> {
                Ok(StrOrInt::Str(v))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawSwitch {
    pub name: Option<String>,
    pub aging: Option<i64>,
    pub mac_limit: Option<i64>,
    pub ethertypes: Option<Vec<StrOrInt>>,
    pub deny: Option<Vec<StrOrInt>>,
    pub vc_ids: Option<Vec<StrOrInt>>,
    pub vlans: Option<Vec<StrOrInt>>,
    pub mss_clamp: Option<StrOrInt>,
    pub vlan_mode: Option<String>,
    pub mtu_policy: Option<String>,
    pub storm_broadcast: Option<i64>,
    pub storm_multicast: Option<i64>,
    pub storm_unknown_unicast: Option<i64>,
    pub mac_limit_per_member: Option<i64>,
    pub flap_threshold: Option<i64>,
    pub flap_window: Option<i64>,
    pub flap_block: Option<i64>,
    pub static_macs: Option<Vec<RawStaticMac>>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawStaticMac {
    pub mac: Option<String>,
    pub session: Option<String>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawSession {
    pub name: Option<String>,
    pub switch: Option<String>,
    pub peer: Option<String>,
    pub port: Option<String>,
    pub encap: Option<String>,
    pub local_session_id: Option<i64>,
    pub remote_session_id: Option<i64>,
    pub local_cookie: Option<String>,
    pub remote_cookie: Option<String>,
    pub udp_local_port: Option<i64>,
    pub udp_peer_port: Option<i64>,
    pub l2spec: Option<String>,
}

#[cfg(test)]
mod test {
    use super::RawConfig;
    use crate::testing::{code_spans, repo_file};

    /// The keys serde accepts where `probe` puts the unknown key
    /// `zz_probe`: the list its "unknown field" error gives.
    fn keys(probe: &str) -> Vec<String> {
        let e = toml::from_str::<RawConfig>(probe)
            .expect_err(probe)
            .to_string();
        let (_, expected) = e
            .split_once("expected")
            .unwrap_or_else(|| panic!("{probe}: {e}"));
        let k: Vec<String> = code_spans(expected).into_iter().collect();
        assert!(!k.is_empty(), "{probe}: {e}");
        k
    }

    /// `configs/las.example.toml` says it documents every key: each key
    /// the parser takes is there, as `key = ...` (or commented out,
    /// `# key = ...`, or in an inline table) or as its table's header. (`l2tp.auto_switch_grace`
    /// was once missing.)
    #[test]
    fn example_documents_every_key() {
        let example = repo_file("configs/las.example.toml");
        let lines: Vec<&str> = example
            .lines()
            .map(|l| l.trim_start_matches('#').trim_start())
            .collect();
        let probes = [
            ("", "zz_probe = 1"),
            ("eal", "[eal]\nzz_probe = 1"),
            ("dataplane", "[dataplane]\nzz_probe = 1"),
            ("control", "[control]\nzz_probe = 1"),
            ("metrics", "[metrics]\nzz_probe = 1"),
            ("mesh", "[mesh]\nzz_probe = 1"),
            ("l2tp", "[l2tp]\nzz_probe = 1"),
            ("l2tp.peer", "[[l2tp.peer]]\nzz_probe = 1"),
            ("port", "[[port]]\nzz_probe = 1"),
            ("neighbor", "[[neighbor]]\nzz_probe = 1"),
            ("switch", "[[switch]]\nzz_probe = 1"),
            (
                "switch.static_macs",
                "[[switch]]\nstatic_macs = [{ zz_probe = 1 }]",
            ),
            ("session", "[[session]]\nzz_probe = 1"),
        ];
        let mut n = 0;
        for (table, probe) in probes {
            for k in keys(probe) {
                let full = if table.is_empty() {
                    k.clone()
                } else {
                    format!("{table}.{k}")
                };
                let documented = lines.iter().any(|l| {
                    l.strip_prefix(k.as_str())
                        .is_some_and(|r| r.trim_start().starts_with('='))
                        || l.contains(&format!("{{ {k} ="))
                        || l.contains(&format!(", {k} ="))
                        || *l == format!("[{full}]")
                        || *l == format!("[[{full}]]")
                });
                assert!(
                    documented,
                    "configs/las.example.toml does not document {full}"
                );
                n += 1;
            }
        }
        // The probes reached the keys: every table has some.
        assert!(n > 80, "{n} keys");
    }
}
