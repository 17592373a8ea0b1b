//! The Prometheus rendering of las's state: what `las show ports|tunnels|
//! sessions|switches|counters --json` answers, turned into the Prometheus
//! text exposition format (version 0.0.4). Pure: a [`Snapshot`] in, text
//! out; [`super::exporter`] fetches the snapshot and serves the text.
//!
//! # The crate: `metrics-exporter-prometheus`, not `prometheus-client`
//!
//! Both are maintained. `prometheus-client` (the Prometheus project's own
//! Rust client) writes only the OpenMetrics text format: a counter family
//! `x` with samples `x_total` and a closing `# EOF`. Prometheus itself
//! reads that, but `promtool check metrics` (2.42, Debian 12), which the
//! tests run on las's real output, reads the classic format, sees the
//! `x_total` samples as a second, untyped family without help and fails
//! (exit 3, "no help text"). `metrics-exporter-prometheus` writes the
//! classic format with the names as given; used without its default
//! features it is a renderer only (no tokio, no hyper, no global
//! recorder). Each scrape fills a fresh [`PrometheusRecorder`] with the
//! snapshot's absolute values and renders it, so a session or switch
//! that is gone is gone from the next scrape too (a long-lived recorder
//! would keep its series until an idle timeout).
//!
//! # Names
//!
//! `las_` + what `las show` calls it; counters end in `_total`, gauges do
//! not; label names are `port`, `switch`, `session`, `vc_id`, `peer`,
//! `kind`, `state`, `reason`, `stage`, `worker`. The full list, with help
//! texts, is what a scrape prints; README.md ("Monitoring") has the
//! overview. Every drop reason and every refusal reason is always
//! present (zeros too), so a dashboard or alert never waits for the
//! first drop to know the series.
//!
//! # Bounded output
//!
//! A carrier box can hold 64k sessions; six series each would make one
//! scrape hundreds of thousands of lines. Only the first
//! [`Limits::max_session_series`] sessions (in las's own order, which is
//! stable while they stay up) get series of their own; all of them are
//! counted in `las_sessions{kind,state}`, and
//! `las_session_series_omitted` says how many have none. Switches
//! likewise with [`Limits::max_switch_series`].
use super::show::{CountersView, MeshView, PortView, SessionView, SwitchView, TunnelView};
use super::{DropReason, Stage};
use metrics::{Key, KeyName, Label, Level, Metadata, Recorder, SharedString};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};
use std::collections::BTreeMap;

/// Everything one scrape renders: the answers to six `las show`
/// requests.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub ports: Vec<PortView>,
    pub tunnels: Vec<TunnelView>,
    pub sessions: Vec<SessionView>,
    pub switches: Vec<SwitchView>,
    pub counters: CountersView,
    pub mesh: Vec<MeshView>,
}

/// Caps on per-object series (`[metrics]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_session_series: usize,
    pub max_switch_series: usize,
}

/// Control counters of `las show counters` that are levels, not counts:
/// (key, metric name, help).
const CONTROL_GAUGES: &[(&str, &str, &str)] = &[
    (
        "mbufs_in_use",
        "las_mbufs_in_use",
        "mbufs of the packet pool in use now.",
    ),
    (
        "mbufs_available",
        "las_mbufs_available",
        "mbufs of the packet pool free now.",
    ),
    (
        "reassembly_held",
        "las_reassembly_held_fragments",
        "Outer fragments waiting in reassembly now.",
    ),
];

/// Control counters rendered elsewhere (`l2tp_tunnels`: by state, from
/// the tunnel list).
const CONTROL_SKIPPED: &[&str] = &["l2tp_tunnels"];

/// Tunnel states always listed (0 when none), so the series exist.
const TUNNEL_STATES: &[&str] = &["waitctlconn", "established", "closing"];

const META: Metadata<'static> = Metadata::new("las", Level::INFO, None);

/// Renders `s` in the Prometheus text format. `scrape_seconds`: how long
/// fetching it took (`las_exporter_scrape_duration_seconds`).
pub fn render(s: &Snapshot, lim: Limits, scrape_seconds: f64) -> String {
    let o = Out {
        rec: PrometheusBuilder::new().build_recorder(),
    };
    o.gauge(
        "las_exporter_scrape_duration_seconds",
        "Time the metrics thread took to get this scrape's answers from las's control socket.",
        vec![],
        finite(scrape_seconds),
    );
    o.gauge(
        "las_uptime_seconds",
        "Seconds since las started.",
        vec![],
        s.counters.uptime_secs as f64,
    );
    o.gauge(
        "las_tsc_hertz",
        "TSC cycles per second: divide las_worker_busy_cycles_total rates by it for the busy share.",
        vec![],
        s.counters.tsc_hz as f64,
    );
    ports(&o, &s.ports);
    switches(&o, &s.switches, lim.max_switch_series);
    sessions(&o, &s.sessions, lim.max_session_series);
    tunnels(&o, &s.tunnels);
    mesh(&o, &s.mesh);
    drops(&o, &s.counters.drops);
    control(&o, &s.counters.control);
    workers(&o, &s.counters);
    sorted(&o.rec.handle().render())
}

/// `text` with its families sorted by name and each family's samples by
/// labels (the recorder writes them in hash order): the same state
/// scrapes to the same text, and a person reading it finds things.
fn sorted(text: &str) -> String {
    let mut families: Vec<Vec<&str>> = text
        .split("\n\n")
        .map(|block| {
            let mut lines: Vec<&str> = block.lines().filter(|l| !l.is_empty()).collect();
            let head = lines.iter().take_while(|l| l.starts_with('#')).count();
            lines[head..].sort_unstable();
            lines
        })
        .filter(|lines| !lines.is_empty())
        .collect();
    // Each block starts with its HELP (or TYPE) line naming the family.
    families.sort_by(|a, b| a[0].split(' ').nth(2).cmp(&b[0].split(' ').nth(2)));
    let mut out = String::with_capacity(text.len());
    for f in families {
        for line in f {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// NaN and infinities are valid in the format but not what a scrape
/// duration means; never written.
fn finite(v: f64) -> f64 {
    if v.is_finite() {
        v
    } else {
        0.0
    }
}

struct Out {
    rec: PrometheusRecorder,
}

impl Out {
    fn counter(&self, name: &'static str, help: &'static str, labels: Vec<Label>, v: u64) {
        self.counter_owned(name.into(), help.into(), labels, v)
    }

    fn counter_owned(&self, name: String, help: String, labels: Vec<Label>, v: u64) {
        self.rec
            .describe_counter(KeyName::from(name.clone()), None, SharedString::from(help));
        self.rec
            .register_counter(&Key::from_parts(name, labels), &META)
            .absolute(v);
    }

    fn gauge(&self, name: &'static str, help: &'static str, labels: Vec<Label>, v: f64) {
        self.rec.describe_gauge(
            KeyName::from_const_str(name),
            None,
            SharedString::const_str(help),
        );
        self.rec
            .register_gauge(&Key::from_parts(name, labels), &META)
            .set(v);
    }
}

fn l(pairs: &[(&'static str, &str)]) -> Vec<Label> {
    pairs
        .iter()
        .map(|(k, v)| Label::new(*k, v.to_string()))
        .collect()
}

fn ports(o: &Out, ports: &[PortView]) {
    type Get = fn(&PortView) -> u64;
    let counters: [(&str, &str, Get); 9] = [
        (
            "las_port_rx_packets_total",
            "Packets the port received (DPDK ipackets).",
            |p| p.rx_packets,
        ),
        (
            "las_port_rx_bytes_total",
            "Bytes the port received (DPDK ibytes).",
            |p| p.rx_bytes,
        ),
        (
            "las_port_tx_packets_total",
            "Packets the port sent (DPDK opackets).",
            |p| p.tx_packets,
        ),
        (
            "las_port_tx_bytes_total",
            "Bytes the port sent (DPDK obytes).",
            |p| p.tx_bytes,
        ),
        (
            "las_port_rx_missed_total",
            "Packets the NIC dropped because no RX descriptor was free (DPDK imissed).",
            |p| p.rx_missed,
        ),
        (
            "las_port_rx_errors_total",
            "Erroneous packets received (DPDK ierrors).",
            |p| p.rx_errors,
        ),
        (
            "las_port_tx_errors_total",
            "Packets the port failed to send (DPDK oerrors).",
            |p| p.tx_errors,
        ),
        (
            "las_port_rx_nombuf_total",
            "RX mbuf allocation failures (DPDK rx_nombuf).",
            |p| p.rx_nombuf,
        ),
        (
            "las_port_punted_total",
            "Packets the workers handed to the control core (ARP, ICMP, L2TP control, ...).",
            |p| p.punted,
        ),
    ];
    for p in ports {
        let port = l(&[("port", &p.name)]);
        for (name, help, get) in counters {
            o.counter(name, help, port.clone(), get(p));
        }
        o.gauge(
            "las_port_link_up",
            "1 if the port's link is up.",
            port,
            f64::from(u8::from(p.link_up)),
        );
        o.gauge(
            "las_port_info",
            "The port's device, driver, MAC and address (value 1).",
            l(&[
                ("port", &p.name),
                ("device", &p.device),
                ("driver", &p.driver),
                ("mac", &p.mac),
                // `-` on an IPv6-only port (never 0.0.0.0).
                ("address", p.address.as_deref().unwrap_or("-")),
                ("address6", p.address6.as_deref().unwrap_or("-")),
            ]),
            1.0,
        );
    }
}

fn switches(o: &Out, switches: &[SwitchView], cap: usize) {
    type Get = fn(&SwitchView) -> u64;
    let counters: [(&str, &str, Get); 9] = [
        (
            "las_switch_rx_packets_total",
            "Frames the switch received from its members (after decapsulation).",
            |s| s.rx_packets,
        ),
        (
            "las_switch_rx_bytes_total",
            "Bytes of the frames the switch received from its members.",
            |s| s.rx_bytes,
        ),
        (
            "las_switch_unicast_packets_total",
            "Known-unicast frames forwarded to one member.",
            |s| s.unicast,
        ),
        (
            "las_switch_flooded_packets_total",
            "Frames flooded (broadcast, multicast, unknown unicast).",
            |s| s.flooded,
        ),
        (
            "las_switch_flood_copies_total",
            "Copies made for flooding.",
            |s| s.flood_copies,
        ),
        (
            "las_switch_filtered_packets_total",
            "Frames dropped by the switch's filters (ethertype, BPDU, VLAN, ...).",
            |s| s.filtered,
        ),
        (
            "las_switch_learn_failures_total",
            "Source MACs that could not be learned (switch or member MAC limit, table full, \
             event ring to the control core full).",
            |s| s.learn_failed,
        ),
        (
            "las_switch_mss_clamped_total",
            "TCP SYNs whose MSS option the switch lowered.",
            |s| s.mss_clamped,
        ),
        (
            "las_switch_fragmented_packets_total",
            "Frames sent as outer IPv4 fragments (mtu_policy = \"fragment\").",
            |s| s.fragmented,
        ),
    ];
    for s in switches.iter().take(cap) {
        let sw = l(&[("switch", &s.name)]);
        for (name, help, get) in counters {
            o.counter(name, help, sw.clone(), get(s));
        }
        o.gauge(
            "las_switch_macs",
            "MAC addresses in the switch's table now.",
            sw.clone(),
            s.macs as f64,
        );
        o.gauge(
            "las_switch_members",
            "Members (sessions) of the switch now.",
            sw,
            s.members.len() as f64,
        );
    }
    o.gauge(
        "las_switches",
        "Virtual switches now (configured and auto-created).",
        vec![],
        switches.len() as f64,
    );
    o.gauge(
        "las_switch_series_limit",
        "Most switches with series of their own ([metrics] max_switch_series).",
        vec![],
        cap as f64,
    );
    o.gauge(
        "las_switch_series_omitted",
        "Switches without series of their own (over max_switch_series).",
        vec![],
        switches.len().saturating_sub(cap) as f64,
    );
}

fn sessions(o: &Out, sessions: &[SessionView], cap: usize) {
    type Get = fn(&SessionView) -> u64;
    let counters: [(&str, &str, Get); 4] = [
        (
            "las_session_rx_packets_total",
            "Frames received on the pseudowire.",
            |s| s.rx_packets,
        ),
        (
            "las_session_rx_bytes_total",
            "Bytes received on the pseudowire (inner frames).",
            |s| s.rx_bytes,
        ),
        (
            "las_session_tx_packets_total",
            "Frames sent on the pseudowire.",
            |s| s.tx_packets,
        ),
        (
            "las_session_tx_bytes_total",
            "Bytes sent on the pseudowire (inner frames).",
            |s| s.tx_bytes,
        ),
    ];
    for s in sessions.iter().take(cap) {
        let vc = s.vc_id.as_deref().unwrap_or("");
        let labels = l(&[
            ("session", &s.name),
            ("switch", &s.switch),
            ("vc_id", vc),
            ("peer", &s.peer),
            ("kind", &s.kind),
        ]);
        for (name, help, get) in counters {
            o.counter(name, help, labels.clone(), get(s));
        }
        o.gauge(
            "las_session_up",
            "1 if the session forwards (next hop resolved), 0 while resolving.",
            labels.clone(),
            f64::from(u8::from(s.state == "up")),
        );
        if let Some(u) = s.uptime_secs {
            o.gauge(
                "las_session_uptime_seconds",
                "Seconds since the dynamic session came up.",
                labels,
                u as f64,
            );
        }
    }
    // Every session counted, whatever the cap.
    let mut by: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for kind in ["static", "dynamic"] {
        for state in ["up", "resolving"] {
            by.insert((kind, state), 0);
        }
    }
    for s in sessions {
        *by.entry((&s.kind, &s.state)).or_default() += 1;
    }
    for ((kind, state), n) in by {
        o.gauge(
            "las_sessions",
            "Sessions now, by kind (static, dynamic) and state (up, resolving).",
            l(&[("kind", kind), ("state", state)]),
            n as f64,
        );
    }
    o.gauge(
        "las_session_series_limit",
        "Most sessions with series of their own ([metrics] max_session_series).",
        vec![],
        cap as f64,
    );
    o.gauge(
        "las_session_series_omitted",
        "Sessions without series of their own (over max_session_series).",
        vec![],
        sessions.len().saturating_sub(cap) as f64,
    );
}

fn tunnels(o: &Out, tunnels: &[TunnelView]) {
    let mut by: BTreeMap<&str, u64> = TUNNEL_STATES.iter().map(|s| (*s, 0)).collect();
    for t in tunnels {
        *by.entry(&t.state).or_default() += 1;
    }
    for (state, n) in by {
        o.gauge(
            "las_l2tp_tunnels",
            "L2TP control connections now, by state.",
            l(&[("state", state)]),
            n as f64,
        );
    }
    o.counter(
        "las_l2tp_retransmissions_total",
        "Control messages retransmitted, summed over the control connections that exist now \
         (one that closes takes its count along: a counter reset).",
        vec![],
        tunnels.iter().map(|t| t.retransmissions).sum(),
    );
    o.counter(
        "las_l2tp_hellos_sent_total",
        "HELLOs sent, summed over the control connections that exist now.",
        vec![],
        tunnels.iter().map(|t| t.hellos_sent).sum(),
    );
}

/// One series per mesh peer (`[mesh] peers`, at most 64).
fn mesh(o: &Out, mesh: &[MeshView]) {
    for m in mesh {
        let peer = l(&[("peer", &m.peer)]);
        o.gauge(
            "las_mesh_peer_up",
            "1 if the control connection with this mesh peer is established.",
            peer.clone(),
            f64::from(u8::from(m.state == "established")),
        );
        o.gauge(
            "las_mesh_switches",
            "Switches joined to this mesh peer by a mesh pseudowire that is up.",
            peer.clone(),
            m.switches.len() as f64,
        );
        o.counter(
            "las_mesh_rx_packets_total",
            "Frames received from this mesh peer over its mesh pseudowires that exist now.",
            peer.clone(),
            m.rx_packets,
        );
        o.counter(
            "las_mesh_tx_packets_total",
            "Frames sent to this mesh peer over its mesh pseudowires that exist now.",
            peer,
            m.tx_packets,
        );
    }
}

fn drops(o: &Out, drops: &BTreeMap<String, u64>) {
    for (reason, v) in drops {
        let stage = match DropReason::from_name(reason).map(DropReason::stage) {
            Some(Stage::Ingress) => "ingress",
            Some(Stage::Egress) => "egress",
            Some(Stage::Control) => "control",
            None => "unknown",
        };
        o.counter(
            "las_drops_total",
            "Packets dropped, by reason (README.md, \"las show\"), and stage: ingress (a received \
             frame's fate), egress (one copy to one member), control (a punted packet).",
            l(&[("reason", reason), ("stage", stage)]),
            *v,
        );
    }
}

fn control(o: &Out, control: &BTreeMap<String, u64>) {
    for (k, v) in control {
        if CONTROL_SKIPPED.contains(&k.as_str()) {
            continue;
        }
        if let Some((_, name, help)) = CONTROL_GAUGES.iter().find(|(key, _, _)| key == k) {
            o.gauge(name, help, vec![], *v as f64);
        } else if let Some(reason) = k.strip_prefix("refused_") {
            o.counter(
                "las_l2tp_refusals_total",
                "Control-plane refusals (a CDN, a StopCCN, or a message dropped unanswered), by \
                 reason: las show counters control.refused_<reason>.",
                l(&[("reason", reason)]),
                *v,
            );
        } else {
            o.counter_owned(
                format!("las_control_{k}_total"),
                format!("Control-core counter {k} (las show counters: control.{k})."),
                vec![],
                *v,
            );
        }
    }
}

fn workers(o: &Out, c: &CountersView) {
    type Get = fn(&super::show::WorkerView) -> u64;
    let counters: [(&str, &str, Get); 6] = [
        (
            "las_worker_rx_packets_total",
            "Packets the worker received (all ports).",
            |w| w.rx_packets,
        ),
        (
            "las_worker_busy_cycles_total",
            "TSC cycles the worker spent in loop iterations that received packets: per packet, \
             rate(this) / rate(las_worker_rx_packets_total); busy share, rate(this) / las_tsc_hertz.",
            |w| w.busy_cycles,
        ),
        (
            "las_worker_loops_total",
            "Poll loop iterations.",
            |w| w.loops,
        ),
        (
            "las_worker_events_lost_total",
            "MAC learn/refresh events that did not fit in the event ring.",
            |w| w.events_lost,
        ),
        (
            "las_worker_commands_total",
            "Control commands the worker applied.",
            |w| w.commands,
        ),
        (
            "las_worker_fast_path_packets_total",
            "Data packets the worker forwarded on its fast path (known unicast of the common \
             case); the rest of las_worker_rx_packets_total took the full rules.",
            |w| w.fast_path,
        ),
    ];
    for w in &c.workers {
        let id = w.id.to_string();
        let lcore = w.lcore.to_string();
        let labels = l(&[("worker", &id), ("lcore", &lcore)]);
        for (name, help, get) in counters {
            o.counter(name, help, labels.clone(), get(w));
        }
        o.gauge(
            "las_worker_command_queue",
            "Commands waiting in the worker's command ring now.",
            labels.clone(),
            w.command_queue as f64,
        );
        o.gauge(
            "las_worker_event_queue",
            "Learn/refresh events waiting in the worker's event ring now.",
            labels.clone(),
            w.event_queue as f64,
        );
        o.gauge(
            "las_worker_mac_entries",
            "Live entries in the worker's own MAC table (published once a second).",
            labels,
            w.mac_entries as f64,
        );
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::telemetry::show::WorkerView;
    use std::collections::BTreeSet;

    fn session(i: usize, kind: &str, state: &str) -> SessionView {
        SessionView {
            name: format!("s{i}"),
            switch: "cust100".into(),
            port: "wan0".into(),
            peer: "192.0.2.10".into(),
            encap: "ip".into(),
            local_session_id: 1000 + i as u32,
            remote_session_id: 2000 + i as u32,
            local_cookie: String::new(),
            remote_cookie: String::new(),
            l2spec: "none".into(),
            next_hop: "192.0.2.10".into(),
            next_hop_mac: None,
            state: state.into(),
            kind: kind.into(),
            vc_id: (kind == "dynamic").then(|| "100".into()),
            ccid: None,
            uptime_secs: (kind == "dynamic").then_some(42),
            rx_packets: 10 + i as u64,
            rx_bytes: 1000,
            tx_packets: 20,
            tx_bytes: 2000,
        }
    }

    fn switch(name: &str) -> SwitchView {
        SwitchView {
            name: name.into(),
            id: 0,
            members: vec!["s0".into(), "s1".into()],
            macs: 3,
            aging: 300,
            mac_limit: 0,
            ethertypes: vec![],
            vc_ids: vec![],
            auto: false,
            rx_packets: 7,
            rx_bytes: 700,
            unicast: 4,
            flooded: 3,
            flood_copies: 6,
            filtered: 1,
            learn_failed: 2,
            mss_clamped: 5,
            fragmented: 0,
        }
    }

    fn snapshot(sessions: usize, switches: usize) -> Snapshot {
        let drops = DropReason::ALL
            .iter()
            .map(|r| (r.name().to_string(), 0))
            .chain([("cookie_mismatch".to_string(), 9)])
            .collect();
        let control = [
            ("mbufs_in_use", 12),
            ("mbufs_available", 4083),
            ("reassembly_held", 0),
            ("l2tp_tunnels", 1),
            ("refused_no_switch", 2),
            ("refused_digest_failed", 0),
            ("sessions_up", 5),
            ("l2tp_auth_failures", 1),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Snapshot {
            mesh: vec![MeshView {
                peer: "192.0.2.2".into(),
                role: "initiator".into(),
                state: "established".into(),
                ccid: 9,
                uptime_secs: Some(4),
                switches: vec!["cust100".into()],
                pending: 0,
                rx_packets: 12,
                rx_bytes: 1200,
                tx_packets: 13,
                tx_bytes: 1300,
                connects: 1,
            }],
            ports: vec![PortView {
                name: "wan0".into(),
                device: "net_pcap0,rx_pcap=in.pcap".into(),
                driver: "net_pcap".into(),
                mac: "02:00:00:00:00:01".into(),
                address: Some("192.0.2.1/24".into()),
                address6: None,
                gateway: None,
                mtu: 1500,
                link_up: true,
                rx_queues: 1,
                tx_queues: 2,
                rx_packets: 100,
                rx_bytes: 10_000,
                tx_packets: 50,
                tx_bytes: 5000,
                rx_missed: 1,
                rx_errors: 0,
                tx_errors: 0,
                rx_nombuf: 2,
                punted: 3,
                rx_ip_checksum_offload: false,
            }],
            tunnels: vec![TunnelView {
                local_ccid: 1,
                remote_ccid: 2,
                peer: "192.0.2.10".into(),
                encap: "ip".into(),
                state: "established".into(),
                host_name: "edge".into(),
                flavour: "ietf".into(),
                sessions: 1,
                auth_failures: 0,
                hellos_sent: 4,
                uptime_secs: Some(60),
                retransmissions: 3,
                peer_moves: 0,
            }],
            sessions: (0..sessions)
                .map(|i| {
                    if i % 2 == 0 {
                        session(i, "static", "up")
                    } else {
                        session(i, "dynamic", "resolving")
                    }
                })
                .collect(),
            switches: (0..switches)
                .map(|i| switch(&format!("cust{}", 100 + i)))
                .collect(),
            counters: CountersView {
                uptime_secs: 77,
                tsc_hz: 2_000_000_000,
                drops,
                control,
                workers: vec![WorkerView {
                    id: 0,
                    lcore: 1,
                    rx_packets: 100,
                    busy_cycles: 18_500,
                    loops: 1000,
                    events_lost: 0,
                    commands: 8,
                    command_queue: 2,
                    event_queue: 1,
                    mac_entries: 3,
                    fast_path: 90,
                }],
            },
        }
    }

    const LIM: Limits = Limits {
        max_session_series: 1000,
        max_switch_series: 1000,
    };

    /// (name, labels) -> value of every sample; and the HELP and TYPE of
    /// every family. Panics on a line that is not a comment or a
    /// well-formed sample.
    struct Parsed {
        samples: BTreeMap<String, f64>,
        help: BTreeMap<String, String>,
        types: BTreeMap<String, String>,
    }

    fn parse(text: &str) -> Parsed {
        let mut p = Parsed {
            samples: BTreeMap::new(),
            help: BTreeMap::new(),
            types: BTreeMap::new(),
        };
        for line in text.lines().filter(|l| !l.is_empty()) {
            if let Some(r) = line.strip_prefix("# HELP ") {
                let (n, h) = r.split_once(' ').expect("HELP line with text");
                assert!(p.help.insert(n.into(), h.into()).is_none(), "two HELP {n}");
            } else if let Some(r) = line.strip_prefix("# TYPE ") {
                let (n, t) = r.split_once(' ').expect("TYPE line with a type");
                assert!(p.types.insert(n.into(), t.into()).is_none(), "two TYPE {n}");
            } else {
                let (series, v) = line.rsplit_once(' ').expect("sample line");
                let v: f64 = v.parse().unwrap_or_else(|_| panic!("value of {line}"));
                assert!(
                    p.samples.insert(series.into(), v).is_none(),
                    "twice: {line}"
                );
            }
        }
        p
    }

    fn family(series: &str) -> &str {
        series.split('{').next().unwrap()
    }

    #[test]
    fn every_family_has_help_and_type_and_counters_end_in_total() {
        let text = render(&snapshot(3, 2), LIM, 0.004);
        let p = parse(&text);
        let families: BTreeSet<&str> = p.samples.keys().map(|s| family(s)).collect();
        assert!(families.len() > 40, "{families:?}");
        for f in &families {
            let t = p.types.get(*f).unwrap_or_else(|| panic!("no TYPE for {f}"));
            assert!(p.help.contains_key(*f), "no HELP for {f}");
            assert!(f.starts_with("las_"), "{f}");
            assert!(
                f.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{f}"
            );
            assert_eq!(t == "counter", f.ends_with("_total"), "{f} is a {t}");
        }
    }

    /// README's "What it exports" table names every family a scrape
    /// has (the mesh families were once missing from it); the control
    /// counters are its `las_control_<name>_total` row.
    #[test]
    fn readme_lists_every_family() {
        use crate::testing::{code_spans, repo_file, section};
        let readme = repo_file("README.md");
        let table = section(&readme, "| metrics | labels |", "Worker load in PromQL");
        let names = code_spans(table);
        assert!(names.contains("las_control_<name>_total"));
        let text = render(&snapshot(3, 2), LIM, 0.004);
        let p = parse(&text);
        let families: BTreeSet<&str> = p.samples.keys().map(|s| family(s)).collect();
        for f in families {
            if f.starts_with("las_control_") && f.ends_with("_total") {
                continue;
            }
            assert!(
                names.contains(f),
                "README.md: {f} is not in \"What it exports\""
            );
        }
    }

    #[test]
    fn values_and_labels() {
        let p = parse(&render(&snapshot(3, 2), LIM, 0.25));
        let want: &[(&str, f64)] = &[
            ("las_switch_rx_packets_total{switch=\"cust100\"}", 7.0),
            ("las_mesh_peer_up{peer=\"192.0.2.2\"}", 1.0),
            ("las_mesh_switches{peer=\"192.0.2.2\"}", 1.0),
            ("las_mesh_tx_packets_total{peer=\"192.0.2.2\"}", 13.0),
            ("las_switch_flooded_packets_total{switch=\"cust101\"}", 3.0),
            ("las_switch_learn_failures_total{switch=\"cust100\"}", 2.0),
            ("las_switch_mss_clamped_total{switch=\"cust100\"}", 5.0),
            ("las_switch_macs{switch=\"cust100\"}", 3.0),
            ("las_switch_members{switch=\"cust100\"}", 2.0),
            ("las_switches", 2.0),
            ("las_port_rx_packets_total{port=\"wan0\"}", 100.0),
            ("las_port_rx_nombuf_total{port=\"wan0\"}", 2.0),
            ("las_port_rx_missed_total{port=\"wan0\"}", 1.0),
            ("las_port_link_up{port=\"wan0\"}", 1.0),
            (
                "las_session_rx_packets_total{session=\"s1\",switch=\"cust100\",vc_id=\"100\",peer=\"192.0.2.10\",kind=\"dynamic\"}",
                11.0,
            ),
            (
                "las_session_up{session=\"s0\",switch=\"cust100\",vc_id=\"\",peer=\"192.0.2.10\",kind=\"static\"}",
                1.0,
            ),
            (
                "las_session_up{session=\"s1\",switch=\"cust100\",vc_id=\"100\",peer=\"192.0.2.10\",kind=\"dynamic\"}",
                0.0,
            ),
            (
                "las_session_uptime_seconds{session=\"s1\",switch=\"cust100\",vc_id=\"100\",peer=\"192.0.2.10\",kind=\"dynamic\"}",
                42.0,
            ),
            ("las_sessions{kind=\"static\",state=\"up\"}", 2.0),
            ("las_sessions{kind=\"dynamic\",state=\"resolving\"}", 1.0),
            ("las_sessions{kind=\"dynamic\",state=\"up\"}", 0.0),
            ("las_session_series_omitted", 0.0),
            ("las_l2tp_tunnels{state=\"established\"}", 1.0),
            ("las_l2tp_tunnels{state=\"closing\"}", 0.0),
            ("las_l2tp_retransmissions_total", 3.0),
            ("las_l2tp_hellos_sent_total", 4.0),
            (
                "las_drops_total{reason=\"cookie_mismatch\",stage=\"ingress\"}",
                9.0,
            ),
            ("las_drops_total{reason=\"tx_full\",stage=\"egress\"}", 0.0),
            (
                "las_drops_total{reason=\"control_refused\",stage=\"control\"}",
                0.0,
            ),
            ("las_l2tp_refusals_total{reason=\"no_switch\"}", 2.0),
            ("las_l2tp_refusals_total{reason=\"digest_failed\"}", 0.0),
            ("las_control_sessions_up_total", 5.0),
            ("las_control_l2tp_auth_failures_total", 1.0),
            ("las_mbufs_in_use", 12.0),
            ("las_mbufs_available", 4083.0),
            ("las_reassembly_held_fragments", 0.0),
            (
                "las_worker_busy_cycles_total{worker=\"0\",lcore=\"1\"}",
                18500.0,
            ),
            ("las_worker_command_queue{worker=\"0\",lcore=\"1\"}", 2.0),
            ("las_worker_event_queue{worker=\"0\",lcore=\"1\"}", 1.0),
            ("las_worker_mac_entries{worker=\"0\",lcore=\"1\"}", 3.0),
            (
                "las_worker_fast_path_packets_total{worker=\"0\",lcore=\"1\"}",
                90.0,
            ),
            ("las_tsc_hertz", 2e9),
            ("las_uptime_seconds", 77.0),
            ("las_exporter_scrape_duration_seconds", 0.25),
        ];
        for (series, v) in want {
            assert_eq!(p.samples.get(*series), Some(v), "{series}");
        }
        // Every drop reason, zeros too.
        let n = p
            .samples
            .keys()
            .filter(|s| family(s) == "las_drops_total")
            .count();
        assert_eq!(n, DropReason::COUNT);
        // l2tp_tunnels is rendered by state only; gauges are not counters.
        assert!(!p.samples.contains_key("las_control_l2tp_tunnels_total"));
        assert!(!p.samples.contains_key("las_control_mbufs_in_use_total"));
        // Static sessions have no uptime series.
        assert!(!p
            .samples
            .keys()
            .any(|s| s.starts_with("las_session_uptime_seconds{session=\"s0\"")));
    }

    #[test]
    fn session_and_switch_series_are_capped() {
        let lim = Limits {
            max_session_series: 2,
            max_switch_series: 1,
        };
        let p = parse(&render(&snapshot(5, 3), lim, 0.0));
        let count = |f: &str| p.samples.keys().filter(|s| family(s) == f).count();
        assert_eq!(count("las_session_rx_packets_total"), 2);
        assert_eq!(count("las_session_up"), 2);
        assert_eq!(p.samples["las_session_series_limit"], 2.0);
        assert_eq!(p.samples["las_session_series_omitted"], 3.0);
        // Totals still count every session.
        let total: f64 = p
            .samples
            .iter()
            .filter(|(s, _)| family(s) == "las_sessions")
            .map(|(_, v)| v)
            .sum();
        assert_eq!(total, 5.0);
        assert_eq!(count("las_switch_rx_packets_total"), 1);
        assert_eq!(p.samples["las_switches"], 3.0);
        assert_eq!(p.samples["las_switch_series_omitted"], 2.0);
        // Zero: no per-session series at all.
        let lim = Limits {
            max_session_series: 0,
            max_switch_series: 0,
        };
        let p = parse(&render(&snapshot(64, 3), lim, 0.0));
        assert_eq!(count_in(&p, "las_session_rx_packets_total"), 0);
        assert_eq!(p.samples["las_session_series_omitted"], 64.0);
    }

    fn count_in(p: &Parsed, f: &str) -> usize {
        p.samples.keys().filter(|s| family(s) == f).count()
    }

    #[test]
    fn label_values_are_escaped() {
        let mut s = snapshot(1, 1);
        s.sessions[0].name = "a\"b\nc".into();
        let text = render(&s, LIM, 0.0);
        assert!(
            text.contains("las_session_rx_packets_total{session=\"a\\\"b\\nc\""),
            "{text}"
        );
        // Still one sample per line.
        parse(&text);
    }

    #[test]
    fn output_is_sorted() {
        let text = render(&snapshot(3, 2), LIM, 0.0);
        assert_eq!(text, render(&snapshot(3, 2), LIM, 0.0));
        let names: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .map(|l| l.split(' ').next().unwrap())
            .collect();
        let mut want = names.clone();
        want.sort_unstable();
        assert_eq!(names, want);
        assert!(text.contains(
            "las_switch_macs{switch=\"cust100\"} 3\nlas_switch_macs{switch=\"cust101\"} 3\n"
        ));
        assert!(text.ends_with('\n') && !text.contains("\n\n"));
    }

    #[test]
    fn gone_objects_leave_no_series() {
        let a = parse(&render(&snapshot(3, 2), LIM, 0.0));
        let b = parse(&render(&snapshot(1, 1), LIM, 0.0));
        assert_eq!(count_in(&a, "las_session_tx_packets_total"), 3);
        assert_eq!(count_in(&b, "las_session_tx_packets_total"), 1);
        assert_eq!(count_in(&b, "las_switch_tx_packets_total"), 0);
        assert_eq!(count_in(&b, "las_switch_rx_packets_total"), 1);
    }
}
