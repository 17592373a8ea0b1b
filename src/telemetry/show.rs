//! What `las show …` asks the control socket and how the answer is printed.
//!
//! The protocol is one request line (`show sessions`, `show macs cust100`,
//! …) answered by one JSON document, then the server closes the stream.
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the operator can ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Ports,
    Tunnels,
    Sessions,
    Switches,
    Macs(Option<String>),
    Counters,
    /// The mesh peers (`[mesh]`).
    Mesh,
    /// Re-read the configuration (`path`, else the file las started
    /// with) and apply what changed; `dry_run` only says what would.
    Reload {
        path: Option<String>,
        dry_run: bool,
    },
}

impl Request {
    /// Parses a request line (`ports`, `tunnels`, `sessions`, `switches`,
    /// `macs [SWITCH]`, `counters`), with or without a leading `show`.
    /// `reload [--dry-run] [PATH]` (the path is the rest of the line).
    pub fn parse(line: &str) -> Result<Request, String> {
        if let Some(rest) = line.trim().strip_prefix("reload") {
            if !(rest.is_empty() || rest.starts_with(' ')) {
                return Err(format!("unknown request {line:?}"));
            }
            let rest = rest.trim_start();
            let (dry_run, rest) = match rest.strip_prefix("--dry-run") {
                Some(r) if r.is_empty() || r.starts_with(' ') => (true, r.trim_start()),
                _ => (false, rest),
            };
            let path = (!rest.is_empty()).then(|| rest.to_string());
            return Ok(Request::Reload { path, dry_run });
        }
        let mut words = line.split_whitespace().peekable();
        if words.peek() == Some(&"show") {
            words.next();
        }
        let what = words.next().ok_or("empty request")?;
        let arg = words.next().map(str::to_owned);
        if words.next().is_some() {
            return Err(format!("too many words in request {line:?}"));
        }
        let r = match (what, arg) {
            ("ports", None) => Request::Ports,
            ("tunnels", None) => Request::Tunnels,
            ("sessions", None) => Request::Sessions,
            ("switches", None) => Request::Switches,
            ("macs", sw) => Request::Macs(sw),
            ("counters", None) => Request::Counters,
            ("mesh", None) => Request::Mesh,
            (w, _) => return Err(format!("unknown request {w:?}")),
        };
        Ok(r)
    }

    pub fn line(&self) -> String {
        match self {
            Request::Ports => "show ports".into(),
            Request::Tunnels => "show tunnels".into(),
            Request::Sessions => "show sessions".into(),
            Request::Switches => "show switches".into(),
            Request::Macs(None) => "show macs".into(),
            Request::Macs(Some(s)) => format!("show macs {s}"),
            Request::Counters => "show counters".into(),
            Request::Mesh => "show mesh".into(),
            Request::Reload { path, dry_run } => {
                let mut s = String::from("reload");
                if *dry_run {
                    s.push_str(" --dry-run");
                }
                if let Some(p) = path {
                    s.push(' ');
                    s.push_str(p);
                }
                s
            }
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PortView {
    pub name: String,
    pub device: String,
    pub driver: String,
    pub mac: String,
    /// `a.b.c.d/len`; `None` (JSON `null`, `-` in the table) on an
    /// IPv6-only port.
    pub address: Option<String>,
    /// `address6` with its prefix length, if the port has one.
    #[serde(default)]
    pub address6: Option<String>,
    pub gateway: Option<String>,
    pub mtu: u16,
    pub link_up: bool,
    pub rx_queues: u16,
    pub tx_queues: u16,
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub rx_missed: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_nombuf: u64,
    pub punted: u64,
    /// The device checks received IPv4 header checksums (DPDK's
    /// `RTE_ETH_RX_OFFLOAD_IPV4_CKSUM`, on whenever the device has it):
    /// the fast path does not sum a header the device marked right.
    #[serde(default)]
    pub rx_ip_checksum_offload: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SessionView {
    pub name: String,
    pub switch: String,
    pub port: String,
    pub peer: String,
    pub encap: String,
    pub local_session_id: u32,
    pub remote_session_id: u32,
    pub local_cookie: String,
    pub remote_cookie: String,
    pub l2spec: String,
    pub next_hop: String,
    pub next_hop_mac: Option<String>,
    pub state: String,
    /// "static" (configured) or "dynamic" (RFC 3931 control channel).
    pub kind: String,
    /// Dynamic sessions: the Remote End ID (VC ID), our control
    /// connection id, and seconds since the session came up.
    pub vc_id: Option<String>,
    pub ccid: Option<u32>,
    pub uptime_secs: Option<u64>,
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SwitchView {
    pub name: String,
    pub id: u16,
    pub members: Vec<String>,
    pub macs: usize,
    pub aging: u32,
    pub mac_limit: u32,
    pub ethertypes: Vec<String>,
    /// VC IDs that select this switch.
    pub vc_ids: Vec<String>,
    /// Created on first use by a VC ID.
    pub auto: bool,
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub unicast: u64,
    pub flooded: u64,
    pub flood_copies: u64,
    pub filtered: u64,
    pub learn_failed: u64,
    /// TCP SYNs whose MSS option was lowered.
    #[serde(default)]
    pub mss_clamped: u64,
    /// Frames sent as outer IPv4 fragments (mtu_policy = "fragment").
    #[serde(default)]
    pub fragmented: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TunnelView {
    pub local_ccid: u32,
    pub remote_ccid: u32,
    pub peer: String,
    pub encap: String,
    pub state: String,
    pub host_name: String,
    /// "ietf" or "ciscodual" (IETF AVPs plus Cisco vendor-9 copies).
    pub flavour: String,
    pub sessions: usize,
    pub auth_failures: u64,
    pub hellos_sent: u64,
    /// Seconds since the control connection was established.
    #[serde(default)]
    pub uptime_secs: Option<u64>,
    /// Control messages retransmitted on this connection.
    #[serde(default)]
    pub retransmissions: u64,
    /// Times the peer moved to a new UDP port (a NAT remapped it).
    #[serde(default)]
    pub peer_moves: u64,
}

/// A mesh peer (`las show mesh`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MeshView {
    pub peer: String,
    /// "initiator" (we open the control connection) or "responder".
    pub role: String,
    /// "down", "connecting" or "established".
    pub state: String,
    /// Our Control Connection ID with it (0: none).
    pub ccid: u32,
    pub uptime_secs: Option<u64>,
    /// Switches joined to it by a mesh pseudowire that is up.
    pub switches: Vec<String>,
    /// Mesh pseudowires opened and not up yet.
    pub pending: usize,
    /// Frames and bytes received from and sent to it over the mesh.
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    /// Times we opened a control connection to it.
    pub connects: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MacView {
    pub switch: String,
    /// The VLAN, in a VLAN-aware switch (None: untagged / not VLAN-aware).
    pub vlan: Option<u16>,
    pub mac: String,
    pub member: String,
    pub age_secs: u64,
    pub is_static: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WorkerView {
    pub id: usize,
    pub lcore: u32,
    pub rx_packets: u64,
    pub busy_cycles: u64,
    pub loops: u64,
    pub events_lost: u64,
    pub commands: u64,
    /// Commands waiting in the worker's command ring now.
    #[serde(default)]
    pub command_queue: u64,
    /// Learn/refresh events waiting in the worker's event ring now.
    #[serde(default)]
    pub event_queue: u64,
    /// Live entries in the worker's own MAC table (as last published):
    /// those it learned and those the control core installed. With one
    /// worker, above the control core's count (`las show switches`) by
    /// MACs learned in the last moments and those whose event was lost.
    #[serde(default)]
    pub mac_entries: u64,
    /// Data packets forwarded on the worker's fast path (known unicast
    /// of the common case); the rest of `rx_packets` took the full rules.
    #[serde(default)]
    pub fast_path: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CountersView {
    pub uptime_secs: u64,
    pub tsc_hz: u64,
    /// Drops by reason, summed over workers (every reason listed, zeros too).
    pub drops: BTreeMap<String, u64>,
    /// Control-core counters (ARP, ICMP, punts handled, …).
    pub control: BTreeMap<String, u64>,
    pub workers: Vec<WorkerView>,
}

/// The answer to a request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Response {
    Ports {
        ports: Vec<PortView>,
    },
    Tunnels {
        tunnels: Vec<TunnelView>,
    },
    Sessions {
        sessions: Vec<SessionView>,
    },
    Switches {
        switches: Vec<SwitchView>,
    },
    Macs {
        macs: Vec<MacView>,
    },
    Counters(CountersView),
    Mesh {
        mesh: Vec<MeshView>,
    },
    /// What a reload changed (or, dry run, would change).
    Reloaded {
        changes: Vec<String>,
        /// `Config::warnings` of the new configuration.
        #[serde(default)]
        warnings: Vec<String>,
        dry_run: bool,
        took_ms: f64,
    },
    Error {
        error: String,
    },
}

/// Renders rows as an aligned text table.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < w.len() {
                w[i] = w[i].max(c.len());
            }
        }
    }
    let mut out = String::new();
    let line = |cells: &mut dyn Iterator<Item = &str>, out: &mut String| {
        let mut s = String::new();
        for (i, c) in cells.enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            // A row longer than the headers is a bug, but never a panic.
            let width = w.get(i).copied().unwrap_or(0);
            s.push_str(&format!("{c:<width$}"));
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(&mut headers.iter().copied(), &mut out);
    for r in rows {
        line(&mut r.iter().map(String::as_str), &mut out);
    }
    out
}

impl Response {
    /// Human-readable rendering.
    pub fn render(&self) -> String {
        match self {
            Response::Error { error } => format!("error: {error}\n"),
            Response::Reloaded {
                changes,
                warnings,
                dry_run,
                took_ms,
            } => {
                let mut s = String::new();
                for w in warnings {
                    s.push_str(&format!("warning: {w}\n"));
                }
                let verb = if *dry_run { "would change" } else { "changed" };
                if changes.is_empty() {
                    s.push_str("no changes\n");
                } else {
                    for c in changes {
                        s.push_str(&format!("{verb}: {c}\n"));
                    }
                }
                if !dry_run {
                    s.push_str(&format!("reloaded in {took_ms:.1} ms\n"));
                }
                s
            }
            Response::Ports { ports } => table(
                &[
                    "PORT", "DEVICE", "DRIVER", "MAC", "ADDRESS", "ADDRESS6", "MTU", "LINK",
                    "RX-PKTS", "TX-PKTS", "MISSED", "RX-ERR", "TX-ERR", "PUNTED",
                ],
                &ports
                    .iter()
                    .map(|p| {
                        vec![
                            p.name.clone(),
                            p.device.clone(),
                            p.driver.clone(),
                            p.mac.clone(),
                            p.address.clone().unwrap_or_else(|| "-".into()),
                            p.address6.clone().unwrap_or_else(|| "-".into()),
                            p.mtu.to_string(),
                            if p.link_up { "up" } else { "down" }.into(),
                            p.rx_packets.to_string(),
                            p.tx_packets.to_string(),
                            p.rx_missed.to_string(),
                            p.rx_errors.to_string(),
                            p.tx_errors.to_string(),
                            p.punted.to_string(),
                        ]
                    })
                    .collect::<Vec<_>>(),
            ),
            Response::Tunnels { tunnels } => table(
                &[
                    "CCID",
                    "PEER-CCID",
                    "PEER",
                    "ENCAP",
                    "STATE",
                    "HOST",
                    "FLAVOUR",
                    "SESSIONS",
                    "UPTIME",
                    "AUTH-FAIL",
                    "MOVES",
                ],
                &tunnels
                    .iter()
                    .map(|t| {
                        vec![
                            t.local_ccid.to_string(),
                            t.remote_ccid.to_string(),
                            t.peer.clone(),
                            t.encap.clone(),
                            t.state.clone(),
                            t.host_name.clone(),
                            t.flavour.clone(),
                            t.sessions.to_string(),
                            t.uptime_secs
                                .map(|u| format!("{u}s"))
                                .unwrap_or_else(|| "-".into()),
                            t.auth_failures.to_string(),
                            t.peer_moves.to_string(),
                        ]
                    })
                    .collect::<Vec<_>>(),
            ),
            Response::Sessions { sessions } => table(
                &[
                    "SESSION",
                    "SWITCH",
                    "PEER",
                    "ENCAP",
                    "VC-ID",
                    "LOCAL-ID",
                    "REMOTE-ID",
                    "COOKIES",
                    "STATE",
                    "UPTIME",
                    "RX-PKTS",
                    "RX-BYTES",
                    "TX-PKTS",
                    "TX-BYTES",
                ],
                &sessions
                    .iter()
                    .map(|s| {
                        vec![
                            s.name.clone(),
                            s.switch.clone(),
                            s.peer.clone(),
                            s.encap.clone(),
                            s.vc_id.clone().unwrap_or_else(|| "-".into()),
                            s.local_session_id.to_string(),
                            s.remote_session_id.to_string(),
                            format!("{}/{}", dash(&s.local_cookie), dash(&s.remote_cookie)),
                            s.state.clone(),
                            s.uptime_secs
                                .map(|u| format!("{u}s"))
                                .unwrap_or_else(|| "-".into()),
                            s.rx_packets.to_string(),
                            s.rx_bytes.to_string(),
                            s.tx_packets.to_string(),
                            s.tx_bytes.to_string(),
                        ]
                    })
                    .collect::<Vec<_>>(),
            ),
            Response::Switches { switches } => table(
                &[
                    "SWITCH",
                    "MEMBERS",
                    "MACS",
                    "AGING",
                    "RX-PKTS",
                    "RX-BYTES",
                    "UNICAST",
                    "FLOODED",
                    "COPIES",
                    "FILTERED",
                    "LEARN-FAIL",
                    "MSS-CLAMPED",
                    "FRAGMENTED",
                ],
                &switches
                    .iter()
                    .map(|s| {
                        vec![
                            s.name.clone(),
                            s.members.len().to_string(),
                            s.macs.to_string(),
                            s.aging.to_string(),
                            s.rx_packets.to_string(),
                            s.rx_bytes.to_string(),
                            s.unicast.to_string(),
                            s.flooded.to_string(),
                            s.flood_copies.to_string(),
                            s.filtered.to_string(),
                            s.learn_failed.to_string(),
                            s.mss_clamped.to_string(),
                            s.fragmented.to_string(),
                        ]
                    })
                    .collect::<Vec<_>>(),
            ),
            Response::Mesh { mesh } if mesh.is_empty() => "no mesh peers ([mesh] peers)\n".into(),
            Response::Mesh { mesh } => table(
                &[
                    "PEER", "ROLE", "STATE", "CCID", "UPTIME", "SWITCHES", "PENDING", "RX-PKTS",
                    "TX-PKTS", "CONNECTS",
                ],
                &mesh
                    .iter()
                    .map(|m| {
                        vec![
                            m.peer.clone(),
                            m.role.clone(),
                            m.state.clone(),
                            m.ccid.to_string(),
                            m.uptime_secs
                                .map(|u| format!("{u}s"))
                                .unwrap_or_else(|| "-".into()),
                            if m.switches.is_empty() {
                                "-".into()
                            } else {
                                m.switches.join(",")
                            },
                            m.pending.to_string(),
                            m.rx_packets.to_string(),
                            m.tx_packets.to_string(),
                            m.connects.to_string(),
                        ]
                    })
                    .collect::<Vec<_>>(),
            ),
            Response::Macs { macs } => table(
                &["SWITCH", "VLAN", "MAC", "MEMBER", "AGE", "TYPE"],
                &macs
                    .iter()
                    .map(|m| {
                        vec![
                            m.switch.clone(),
                            m.vlan.map_or_else(|| "-".into(), |v| v.to_string()),
                            m.mac.clone(),
                            m.member.clone(),
                            m.age_secs.to_string(),
                            if m.is_static { "static" } else { "dynamic" }.into(),
                        ]
                    })
                    .collect::<Vec<_>>(),
            ),
            Response::Counters(c) => {
                let mut out = format!("uptime {} s\n\n", c.uptime_secs);
                let rows: Vec<Vec<String>> = c
                    .drops
                    .iter()
                    .map(|(k, v)| vec![format!("drop.{k}"), v.to_string()])
                    .chain(
                        c.control
                            .iter()
                            .map(|(k, v)| vec![format!("control.{k}"), v.to_string()]),
                    )
                    .collect();
                out.push_str(&table(&["COUNTER", "VALUE"], &rows));
                out.push('\n');
                let rows: Vec<Vec<String>> = c
                    .workers
                    .iter()
                    .map(|w| {
                        let cpp = if w.rx_packets > 0 {
                            format!("{:.1}", w.busy_cycles as f64 / w.rx_packets as f64)
                        } else {
                            "-".into()
                        };
                        vec![
                            w.id.to_string(),
                            w.lcore.to_string(),
                            w.rx_packets.to_string(),
                            cpp,
                            w.events_lost.to_string(),
                            w.commands.to_string(),
                            w.mac_entries.to_string(),
                            w.fast_path.to_string(),
                        ]
                    })
                    .collect();
                out.push_str(&table(
                    &[
                        "WORKER",
                        "LCORE",
                        "RX-PKTS",
                        "CYCLES/PKT",
                        "EVENTS-LOST",
                        "COMMANDS",
                        "MACS",
                        "FAST-PATH",
                    ],
                    &rows,
                ));
                out
            }
        }
    }
}

fn dash(s: &str) -> &str {
    if s.is_empty() {
        "-"
    } else {
        s
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn parse_requests() {
        assert_eq!(Request::parse("show ports"), Ok(Request::Ports));
        assert_eq!(Request::parse("sessions"), Ok(Request::Sessions));
        assert_eq!(
            Request::parse("show macs cust100"),
            Ok(Request::Macs(Some("cust100".into())))
        );
        assert_eq!(Request::parse("macs"), Ok(Request::Macs(None)));
        assert!(Request::parse("show").is_err());
        assert!(Request::parse("show bogus").is_err());
        assert!(Request::parse("show ports extra").is_err());
        for r in [
            Request::Ports,
            Request::Macs(Some("x".into())),
            Request::Counters,
        ] {
            assert_eq!(Request::parse(&r.line()), Ok(r));
        }
    }

    /// Every table has as many header cells as row cells.
    #[test]
    fn every_table_is_rectangular() {
        let tunnel = TunnelView {
            local_ccid: 1,
            remote_ccid: 2,
            peer: "p".into(),
            encap: "ip".into(),
            state: "established".into(),
            host_name: "h".into(),
            flavour: "ietf".into(),
            sessions: 1,
            auth_failures: 0,
            hellos_sent: 0,
            uptime_secs: Some(3),
            retransmissions: 0,
            peer_moves: 0,
        };
        let session = SessionView {
            name: "s".into(),
            switch: "w".into(),
            port: "p".into(),
            peer: "1.2.3.4".into(),
            encap: "ip".into(),
            local_session_id: 1,
            remote_session_id: 2,
            local_cookie: String::new(),
            remote_cookie: String::new(),
            l2spec: "none".into(),
            next_hop: "1.2.3.4".into(),
            next_hop_mac: None,
            state: "up".into(),
            kind: "static".into(),
            vc_id: None,
            ccid: None,
            uptime_secs: None,
            rx_packets: 0,
            rx_bytes: 0,
            tx_packets: 0,
            tx_bytes: 0,
        };
        let port = PortView {
            name: "wan0".into(),
            device: "net_null0".into(),
            driver: "net_null".into(),
            mac: "02:00:00:00:00:01".into(),
            address: Some("192.0.2.1/24".into()),
            address6: None,
            gateway: None,
            mtu: 1500,
            link_up: true,
            rx_queues: 1,
            tx_queues: 2,
            rx_packets: 0,
            rx_bytes: 0,
            tx_packets: 0,
            tx_bytes: 0,
            rx_missed: 0,
            rx_errors: 0,
            tx_errors: 0,
            rx_nombuf: 0,
            punted: 0,
            rx_ip_checksum_offload: false,
        };
        let switch = SwitchView {
            name: "s".into(),
            id: 0,
            members: vec!["a".into()],
            macs: 0,
            aging: 300,
            mac_limit: 0,
            ethertypes: vec![],
            vc_ids: vec![],
            auto: false,
            rx_packets: 0,
            rx_bytes: 0,
            unicast: 0,
            flooded: 0,
            flood_copies: 0,
            filtered: 0,
            learn_failed: 0,
            mss_clamped: 0,
            fragmented: 0,
        };
        let rendered = [
            Response::Ports { ports: vec![port] },
            Response::Switches {
                switches: vec![switch],
            },
            Response::Tunnels {
                tunnels: vec![tunnel],
            },
            Response::Sessions {
                sessions: vec![session],
            },
        ];
        for r in rendered {
            let t = r.render();
            let lines: Vec<&str> = t.lines().collect();
            assert_eq!(lines.len(), 2, "{t}");
            let cols = |l: &str| l.split_whitespace().count();
            assert_eq!(cols(lines[0]), cols(lines[1]), "{t}");
        }
    }

    #[test]
    fn json_round_trip_and_table() {
        let r = Response::Macs {
            macs: vec![MacView {
                switch: "s".into(),
                vlan: None,
                mac: "02:00:00:00:00:01".into(),
                member: "a".into(),
                age_secs: 3,
                is_static: false,
            }],
        };
        let j = serde_json::to_string(&r).unwrap();
        assert!(j.contains("\"kind\":\"macs\""));
        let back: Response = serde_json::from_str(&j).unwrap();
        assert_eq!(back, r);
        let t = r.render();
        assert_eq!(
            t,
            "SWITCH  VLAN  MAC                MEMBER  AGE  TYPE\ns       -     02:00:00:00:00:01  a       3    dynamic\n"
        );
    }
}
