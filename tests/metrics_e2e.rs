//! The Prometheus endpoint end to end: the real `las` binary on a
//! `net_pcap` port (see `pcap_e2e.rs` for how a run works) with
//! `[metrics] listen` set. Its `/metrics`, fetched over TCP while it runs,
//! must pass `promtool check metrics` (Debian's `prometheus` package,
//! installed by scripts/deps.sh; the test fails without it), agree with
//! what `las show` says, honour `max_session_series`, and hold every
//! metric and label the Grafana dashboard (contrib/grafana/las.json)
//! queries.
//!
//! Needs root (DPDK with `--no-huge`): #[ignore]d, so a plain `cargo
//! test` lists it as ignored; `cargo test -- --include-ignored`
//! (scripts/test.sh) runs it, and without root it fails.

mod common;

use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

const IPV4: u16 = 0x0800;

/// A loopback port free a moment ago.
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// GET `path` from 127.0.0.1:`port`: (status line, headers, body).
fn get(port: u16, path: &str) -> (String, String, String) {
    let mut c = TcpStream::connect(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("cannot connect to the metrics port {port}: {e}"));
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(c, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut raw = String::new();
    c.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP answer");
    let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    (status.into(), headers.into(), body.into())
}

/// Runs `promtool check metrics` on `text`: (success, what it said).
fn promtool(text: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run promtool ({e}): install Debian's `prometheus` package \
                 (scripts/deps.sh does)"
            )
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

/// Samples of the text format: series (`name{labels}`) -> value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (series, v) = l.rsplit_once(' ').unwrap();
            (series.to_string(), v.parse().unwrap())
        })
        .collect()
}

/// Label names of a series.
fn label_names(series: &str) -> BTreeSet<String> {
    let Some((_, labels)) = series.split_once('{') else {
        return BTreeSet::new();
    };
    // Values are simple here (no escaped quotes): name="value",...
    labels
        .trim_end_matches('}')
        .split("\",")
        .filter_map(|kv| kv.split_once('=').map(|(k, _)| k.to_string()))
        .collect()
}

/// Every `las_…` metric name in a PromQL expression.
fn metric_names(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let b = expr.as_bytes();
    let mut i = 0;
    while let Some(at) = expr[i..].find("las_") {
        let start = i + at;
        let word_start =
            start == 0 || !(b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'_');
        let mut end = start;
        while end < b.len() && (b[end].is_ascii_alphanumeric() || b[end] == b'_') {
            end += 1;
        }
        if word_start {
            out.push(expr[start..end].to_string());
        }
        i = end;
    }
    out
}

/// (expr, legendFormat) of every target of every panel, and every query
/// of the template variables.
fn dashboard_queries() -> Vec<(String, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/grafana/las.json");
    let d: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).expect("dashboard JSON");
    let mut q = Vec::new();
    for p in d["panels"].as_array().expect("panels") {
        for t in p["targets"].as_array().into_iter().flatten() {
            q.push((
                t["expr"].as_str().expect("expr").to_string(),
                t["legendFormat"].as_str().unwrap_or("").to_string(),
            ));
        }
    }
    for v in d["templating"]["list"].as_array().expect("templating") {
        if let Some(def) = v["definition"].as_str() {
            q.push((def.to_string(), String::new()));
        }
    }
    q
}

#[test]
#[ignore = "needs root (DPDK, veth, netns): run with cargo test -- --include-ignored"]
fn metrics_pass_promtool_and_match_las_show() {
    let _g = lock();
    assert!(have_root());
    let a = Sess::new("siteA", "cust100", 10).cookies(&[0xde, 0xad, 0xbe, 0xef], &[]);
    let b = Sess::new("siteB", "cust100", 11).udp();
    let c = Sess::new("siteC", "cust200", 12);
    let mut setup = Setup::new(
        "metrics",
        &["cust100", "cust200"],
        &[a.clone(), b.clone(), c.clone()],
    );
    let port = free_port();
    // Two of the three sessions get series of their own.
    setup.switches.push_str(&format!(
        "[metrics]\nlisten = \"127.0.0.1:{port}\"\nmax_session_series = 2\n"
    ));
    // A mesh peer that never answers: its series exist (down), so the
    // dashboard's mesh panels are checked too.
    setup
        .switches
        .push_str("[mesh]\npeers = [\"192.0.2.99\"]\n");
    let f = |src: u8, tag: u32| inner(BCAST, host(u16::from(src)), IPV4, tag, 100);
    let frames = vec![
        a.ingress(&f(1, 1), None), // flooded to B
        b.ingress(&f(2, 2), None), // flooded to A
        c.ingress(&f(3, 3), None), // cust200: no flood target
        a.ingress_custom(a.local_id, &[0xde, 0xad, 0xbe, 0xee], None, &f(1, 4)), // cookie_mismatch
        a.ingress_custom(4242, &a.local_cookie, None, &f(1, 5)), // unknown_session
    ];
    let (r, (status, headers, body, root, missing)) = run_with(&setup, &frames, |_| {
        let (status, headers, body) = get(port, "/metrics");
        let root = get(port, "/").0;
        let missing = get(port, "/nope").0;
        (status, headers, body, root, missing)
    });
    assert_eq!(status, "HTTP/1.1 200 OK", "{headers}\n{body}");
    assert!(
        headers.contains("Content-Type: text/plain; version=0.0.4"),
        "{headers}"
    );
    assert_eq!(root, "HTTP/1.1 200 OK");
    assert_eq!(missing, "HTTP/1.1 404 Not Found");
    assert!(
        r.stderr
            .contains(&format!("metrics at http://127.0.0.1:{port}/metrics")),
        "{}",
        r.stderr
    );

    // promtool: the text format and Prometheus's naming rules.
    let (ok, said) = promtool(&body);
    assert!(
        ok && said.trim().is_empty(),
        "promtool check metrics: {said}\n{body}"
    );

    // The numbers are las show's.
    let s = samples(&body);
    let val = |series: &str| -> f64 {
        *s.get(series)
            .unwrap_or_else(|| panic!("no series {series} in\n{body}"))
    };
    for name in ["cust100", "cust200"] {
        let sw = switch(&r, name);
        assert!(sw.rx_packets > 0, "{name}");
        assert_eq!(
            val(&format!("las_switch_rx_packets_total{{switch=\"{name}\"}}")),
            sw.rx_packets as f64
        );
        assert_eq!(
            val(&format!(
                "las_switch_flooded_packets_total{{switch=\"{name}\"}}"
            )),
            sw.flooded as f64
        );
        assert_eq!(
            val(&format!("las_switch_members{{switch=\"{name}\"}}")),
            sw.members.len() as f64
        );
    }
    for (reason, v) in &r.counters.drops {
        let series = s
            .iter()
            .find(|(k, _)| {
                k.starts_with("las_drops_total{") && k.contains(&format!("reason=\"{reason}\""))
            })
            .unwrap_or_else(|| panic!("no las_drops_total for {reason}"));
        assert_eq!(*series.1, *v as f64, "{reason}");
    }
    assert_eq!(r.counters.drops["cookie_mismatch"], 1);
    assert_eq!(r.counters.drops["unknown_session"], 1);
    assert_eq!(
        val("las_port_rx_packets_total{port=\"wan0\"}"),
        r.ports[0].rx_packets as f64
    );
    // Every refusal reason is there, zeros too.
    let refusals = s
        .keys()
        .filter(|k| k.starts_with("las_l2tp_refusals_total{"))
        .count();
    let listed = r
        .counters
        .control
        .keys()
        .filter(|k| k.starts_with("refused_"))
        .count();
    assert!(listed > 10 && refusals == listed, "{refusals} of {listed}");

    // max_session_series = 2: two sessions with series, one counted only.
    let per_session = s
        .keys()
        .filter(|k| k.starts_with("las_session_rx_packets_total{"))
        .count();
    assert_eq!(per_session, 2, "{body}");
    assert_eq!(val("las_session_series_limit"), 2.0);
    assert_eq!(val("las_session_series_omitted"), 1.0);
    let total: f64 = s
        .iter()
        .filter(|(k, _)| k.starts_with("las_sessions{"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(total, 3.0);
    let first = &r.sessions[0];
    assert_eq!(
        val(&format!(
            "las_session_rx_packets_total{{session=\"{}\",switch=\"{}\",vc_id=\"\",peer=\"{}\",kind=\"static\"}}",
            first.name, first.switch, first.peer
        )),
        first.rx_packets as f64
    );

    // The dashboard asks only for what is there.
    let mut labels: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for series in s.keys() {
        let name = series.split('{').next().unwrap().to_string();
        labels.entry(name).or_default().extend(label_names(series));
    }
    let queries = dashboard_queries();
    assert!(queries.len() > 20, "{queries:?}");
    let mut asked = BTreeSet::new();
    for (expr, legend) in &queries {
        let names = metric_names(expr);
        assert!(
            !names.is_empty(),
            "a dashboard query without a las metric: {expr}"
        );
        for n in &names {
            assert!(
                labels.contains_key(n),
                "the dashboard queries {n}, which las does not export: {expr}"
            );
            asked.insert(n.clone());
        }
        // {{label}} in a legend names a label of the series the query returns.
        for part in legend.split("{{").skip(1) {
            let l = part.split("}}").next().unwrap().trim();
            assert!(
                names.iter().any(|n| labels[n].contains(l)),
                "legend {legend:?} uses {l}, which {names:?} do not have"
            );
        }
    }
    // What the issue asks the dashboard to show.
    for n in [
        "las_switch_rx_packets_total",
        "las_drops_total",
        "las_sessions",
        "las_worker_busy_cycles_total",
    ] {
        assert!(asked.contains(n), "the dashboard does not show {n}");
    }
}
