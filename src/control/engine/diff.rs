//! What differs between two configurations, as readable lines: the
//! comparisons `reload` plans with (see `reload.rs`).

use super::*;

/// Settings the data plane holds from start: a difference is refused.
pub(super) fn restart_only(old: &Config, new: &Config) -> Vec<String> {
    let mut v = Vec::new();
    if old.eal_args != new.eal_args {
        v.push("eal.args".to_string());
    }
    let (a, b) = (&old.dataplane, &new.dataplane);
    for (k, differs) in [
        ("mbufs", a.mbufs != b.mbufs),
        ("mbuf_size", a.mbuf_size != b.mbuf_size),
        ("rx_descriptors", a.rx_descriptors != b.rx_descriptors),
        ("tx_descriptors", a.tx_descriptors != b.tx_descriptors),
        ("burst", a.burst != b.burst),
        ("max_sessions", a.max_sessions != b.max_sessions),
        ("max_switches", a.max_switches != b.max_switches),
        ("mac_table_size", a.mac_table_size != b.mac_table_size),
        ("punt_ring", a.punt_ring != b.punt_ring),
        ("event_ring", a.event_ring != b.event_ring),
        ("command_ring", a.command_ring != b.command_ring),
        ("mac_refresh", a.mac_refresh != b.mac_refresh),
    ] {
        if differs {
            v.push(format!("dataplane.{k}"));
        }
    }
    if old.control != new.control {
        v.push("control.socket".into());
    }
    if old.metrics != new.metrics {
        v.push("metrics".into());
    }
    if old.mesh != new.mesh {
        v.push("mesh".into());
    }
    if old.l2tp.udp_port != new.l2tp.udp_port {
        v.push("l2tp.udp_port".into());
    }
    if old.l2tp.udp6_checksum != new.l2tp.udp6_checksum {
        v.push("l2tp.udp6_checksum".into());
    }
    if old.l2tp.punt_rate != new.l2tp.punt_rate {
        v.push("l2tp.punt_rate".into());
    }
    if old.ports.len() != new.ports.len() {
        v.push(format!(
            "port (count {} → {})",
            old.ports.len(),
            new.ports.len()
        ));
    }
    for (i, (a, b)) in old.ports.iter().zip(&new.ports).enumerate() {
        let mut b = b.clone();
        b.gateway = a.gateway;
        if *a != b {
            v.push(format!("port[{i}] ({})", a.name));
        }
    }
    v
}

/// `old → new` for each differing field of a switch's settings.
pub(super) fn switch_diff(a: &config::Switch, b: &config::Switch) -> Vec<String> {
    let mut v = Vec::new();
    let mut f = |k: &str, x: String, y: String| {
        if x != y {
            v.push(format!("{k} {x} → {y}"));
        }
    };
    f("aging", a.aging.to_string(), b.aging.to_string());
    f(
        "mac_limit",
        a.mac_limit.to_string(),
        b.mac_limit.to_string(),
    );
    f(
        "ethertypes",
        ethertypes(a.filter.allowed()),
        ethertypes(b.filter.allowed()),
    );
    f(
        "deny",
        ethertypes(a.filter.denied()),
        ethertypes(b.filter.denied()),
    );
    f("vlans", format!("{:?}", a.vlans), format!("{:?}", b.vlans));
    f(
        "mss_clamp",
        format!("{:?}", a.mss_clamp),
        format!("{:?}", b.mss_clamp),
    );
    f(
        "vlan_mode",
        format!("{:?}", a.vlan_mode),
        format!("{:?}", b.vlan_mode),
    );
    f(
        "mtu_policy",
        format!("{:?}", a.mtu_policy),
        format!("{:?}", b.mtu_policy),
    );
    for (k, x, y) in [
        ("storm_broadcast", a.storm_broadcast, b.storm_broadcast),
        ("storm_multicast", a.storm_multicast, b.storm_multicast),
        (
            "storm_unknown_unicast",
            a.storm_unknown_unicast,
            b.storm_unknown_unicast,
        ),
        (
            "mac_limit_per_member",
            a.mac_limit_per_member,
            b.mac_limit_per_member,
        ),
        ("flap_threshold", a.flap_threshold, b.flap_threshold),
        ("flap_window", a.flap_window, b.flap_window),
        ("flap_block", a.flap_block, b.flap_block),
    ] {
        f(k, x.to_string(), y.to_string());
    }
    f(
        "vc_ids",
        format!("{:?}", a.vc_ids),
        format!("{:?}", b.vc_ids),
    );
    v
}

fn ethertypes(t: &[u16]) -> String {
    let names: Vec<String> = t
        .iter()
        .map(|&t| ethertype_name(t).map_or_else(|| format!("0x{t:04x}"), str::to_owned))
        .collect();
    format!("[{}]", names.join(", "))
}

/// The `[l2tp]` keys that differ (secrets by name only).
pub(super) fn l2tp_diff(a: &config::L2tp, b: &config::L2tp) -> Vec<String> {
    let mut v = Vec::new();
    let mut f = |k: &str, x: String, y: String| {
        if x != y {
            v.push(format!("l2tp.{k}: {x} → {y}"));
        }
    };
    f("host_name", a.host_name.clone(), b.host_name.clone());
    f(
        "router_id",
        format!("{:?}", a.router_id),
        format!("{:?}", b.router_id),
    );
    for (k, x, y) in [
        ("hello_interval", a.hello_interval, b.hello_interval),
        (
            "hello_interval_udp",
            a.hello_interval_udp,
            b.hello_interval_udp,
        ),
        ("retransmit_max", a.retransmit_max, b.retransmit_max),
        (
            "retransmit_retries",
            a.retransmit_retries,
            b.retransmit_retries,
        ),
        (
            "receive_window",
            u32::from(a.receive_window),
            u32::from(b.receive_window),
        ),
        (
            "auto_switch_grace",
            a.auto_switch_grace,
            b.auto_switch_grace,
        ),
        ("control_rate", a.control_rate, b.control_rate),
    ] {
        f(k, x.to_string(), y.to_string());
    }
    for (k, x, y) in [
        (
            "max_tunnels_per_peer",
            a.max_tunnels_per_peer,
            b.max_tunnels_per_peer,
        ),
        (
            "max_sessions_per_tunnel",
            a.max_sessions_per_tunnel,
            b.max_sessions_per_tunnel,
        ),
        ("cookie_len", a.cookie_len, b.cookie_len),
    ] {
        f(k, x.to_string(), y.to_string());
    }
    f("allow", format!("{:?}", a.allow), format!("{:?}", b.allow));
    f(
        "digest",
        format!("{:?}", a.digest),
        format!("{:?}", b.digest),
    );
    f("auth", format!("{:?}", a.auth), format!("{:?}", b.auth));
    f(
        "auto_switch",
        a.auto_switch.to_string(),
        b.auto_switch.to_string(),
    );
    f(
        "l2spec",
        format!("{:?}", a.l2spec),
        format!("{:?}", b.l2spec),
    );
    let changed = |x: bool| if x { "set" } else { "none" }.to_string();
    if a.secret != b.secret {
        v.push(format!(
            "l2tp.secret: changed ({} → {}; applies to new control connections)",
            changed(a.secret.is_some()),
            changed(b.secret.is_some())
        ));
    }
    if a.peers != b.peers {
        v.push(format!(
            "l2tp.peer: changed ({} → {} entries; applies to new control connections)",
            a.peers.len(),
            b.peers.len()
        ));
    }
    v
}

/// A static session's settings with its switch named (indexes differ
/// between files).
pub(super) fn session_key<'a>(
    s: &'a config::Session,
    switches: &'a [config::Switch],
) -> (&'a str, config::Session) {
    let mut c = s.clone();
    c.switch = 0;
    (switches.get(s.switch).map_or("", |w| w.name.as_str()), c)
}

/// Static MACs as (switch, MAC, session name).
pub(super) fn static_macs(cfg: &Config) -> Vec<(String, [u8; 6], String)> {
    let mut v = Vec::new();
    for sw in &cfg.switches {
        for m in &sw.static_macs {
            let session = cfg.sessions.get(m.session).map_or("", |s| s.name.as_str());
            v.push((sw.name.clone(), m.mac, session.to_string()));
        }
    }
    v
}
