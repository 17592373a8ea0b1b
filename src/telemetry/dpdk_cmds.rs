//! las's own commands in DPDK telemetry: `/las/switches`, `/las/sessions`,
//! `/las/tunnels`, `/las/ports`, `/las/drops` and `/las/counters`, listed
//! by `dpdk-telemetry.py` next to DPDK's `/ethdev/stats` and friends.
//!
//! Like the Prometheus exporter, a command gets its data as a client of
//! las's control socket (what `las show … --json` asks, within
//! [`TIMEOUT`]): DPDK runs telemetry callbacks on its own telemetry
//! threads, so they share no state with the control core or the workers
//! and never stall them. A las that does not answer in time gives
//! `{"error": "…"}`, not a hang.
//!
//! This module is pure (no DPDK types): the answer is a small owned
//! [`Value`] tree, and [`fit`] bounds it to what DPDK 22.11's
//! `rte_tel_data` can carry, visibly:
//!
//! - a dict holds at most [`MAX_DICT_ENTRIES`] entries and the whole
//!   reply at most [`MAX_OUTPUT_LEN`] bytes of JSON (DPDK silently drops
//!   what does not fit): entries beyond are left out and counted in a
//!   last entry `"_truncated": <entries left out>`;
//! - a list of strings holds at most [`MAX_ARRAY_ENTRIES`]; the last kept
//!   one is then `"... N more"`;
//! - a string holds at most [`MAX_STRING_LEN`]` - 1` bytes; a longer one
//!   ends in `...`. Control characters become `?`;
//! - dict keys may only have `A-Z a-z 0-9 _ /` (DPDK refuses others):
//!   other characters become `_`, and a key seen before gets `_2`, `_3`…
//! - dicts nest at most [`MAX_DEPTH`] deep.
//!
//! Booleans become 0/1 and absent (`null`) fields are left out.
//! `/las/sessions,SWITCH` and `/las/switches,SWITCH` show one switch's
//! only (DPDK passes what follows the comma as the parameter).
//!
//! Telemetry is on whenever DPDK's is: the EAL's `--no-telemetry` turns
//! it off (the commands are still registered, but no socket serves them).
//! `--no-shconf` keeps it on in DPDK 22.11 (the socket is made all the
//! same; the pcap tests run with it). The socket is
//! `<runtime dir>/dpdk_telemetry.v2`, for root
//! `/var/run/dpdk/<--file-prefix>/dpdk_telemetry.v2`; connect with
//! `dpdk-telemetry.py -f <prefix>`.
#![forbid(unsafe_code)]

use super::show::{Request, Response};
use std::collections::HashSet;
use std::time::Duration;

/// How long one telemetry command waits for las's control socket.
pub const TIMEOUT: Duration = Duration::from_secs(1);
/// DPDK 22.11 `RTE_TEL_MAX_STRING_LEN`: strings and keys, NUL included.
pub const MAX_STRING_LEN: usize = 128;
/// DPDK 22.11 `RTE_TEL_MAX_DICT_ENTRIES`.
pub const MAX_DICT_ENTRIES: usize = 256;
/// DPDK 22.11 `RTE_TEL_MAX_ARRAY_ENTRIES`.
pub const MAX_ARRAY_ENTRIES: usize = 512;
/// DPDK 22.11's reply buffer (`max_output_len` of the socket's greeting).
pub const MAX_OUTPUT_LEN: usize = 16 * 1024;
/// Dicts in dicts: the reply's own dict is depth 1.
pub const MAX_DEPTH: usize = 3;
/// The key of the marker entry of a truncated dict.
pub const TRUNCATED: &str = "_truncated";

/// What a telemetry command answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    U64(u64),
    Str(String),
    /// A list of strings.
    Strs(Vec<String>),
    /// Entries in order.
    Dict(Vec<(String, Value)>),
}

impl Value {
    /// `{"error": msg}`.
    pub fn error(msg: impl Into<String>) -> Value {
        Value::Dict(vec![("error".into(), Value::Str(msg.into()))])
    }

    /// The entry `key` of a dict.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(es) => es.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The JSON DPDK writes for this value, as serde_json renders it
    /// (the same bytes once [`fit`] has cleaned the strings).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::U64(n) => (*n).into(),
            Value::Str(s) => s.clone().into(),
            Value::Strs(l) => l.clone().into(),
            Value::Dict(es) => {
                // Keys are unique once fitted (the order may differ: a
                // Map sorts them without serde_json's preserve_order).
                let mut m = serde_json::Map::new();
                for (k, v) in es {
                    m.insert(k.clone(), v.to_json());
                }
                serde_json::Value::Object(m)
            }
        }
    }
}

/// Length of `s` as a JSON string, quotes included (after [`clean`]:
/// only `"` and `\` need escaping, with one byte each).
fn str_len(s: &str) -> usize {
    2 + s.len() + s.bytes().filter(|b| matches!(b, b'"' | b'\\')).count()
}

fn u64_len(n: u64) -> usize {
    n.checked_ilog10().unwrap_or(0) as usize + 1
}

/// Length of `v` as compact JSON (as DPDK writes it).
pub fn json_len(v: &Value) -> usize {
    match v {
        Value::U64(n) => u64_len(*n),
        Value::Str(s) => str_len(s),
        Value::Strs(l) => {
            2 + l.iter().map(|s| str_len(s)).sum::<usize>() + l.len().saturating_sub(1)
        }
        Value::Dict(es) => {
            2 + es
                .iter()
                .map(|(k, v)| str_len(k) + 1 + json_len(v))
                .sum::<usize>()
                + es.len().saturating_sub(1)
        }
    }
}

/// A string DPDK carries as is: no control characters, at most
/// `MAX_STRING_LEN - 1` bytes (cut on a character boundary, ending in
/// `...`).
pub fn clean(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if out.len() >= MAX_STRING_LEN {
        let mut cut = MAX_STRING_LEN - 1 - 3;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str("...");
    }
    out
}

/// A dict key DPDK accepts: `A-Z a-z 0-9 _ /`, at most
/// `MAX_STRING_LEN - 1` bytes, not empty.
pub fn clean_key(s: &str) -> String {
    let mut k: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '/' {
                c
            } else {
                '_'
            }
        })
        .collect();
    k.truncate(MAX_STRING_LEN - 1);
    if k.is_empty() {
        k.push('_');
    }
    k
}

/// Room kept for a `,"_truncated":N` entry or a `,"... N more"` string.
const MARKER: usize = 32;

/// The reply budget for command `cmd`: DPDK writes `{"<cmd>":<value>}`
/// into [`MAX_OUTPUT_LEN`] bytes, NUL included; a little slack on top.
pub fn budget(cmd: &str) -> usize {
    MAX_OUTPUT_LEN.saturating_sub(cmd.len() + 6 + 16)
}

/// `v` within DPDK's limits and at most `budget` bytes of JSON (see the
/// module docs for how it is cut). Always a value, if only a marker.
pub fn fit(v: Value, budget: usize) -> Value {
    fit_in(v, budget, 1).unwrap_or_else(|| Value::Str("...".into()))
}

fn fit_in(v: Value, budget: usize, depth: usize) -> Option<Value> {
    let v = match v {
        Value::U64(n) => Value::U64(n),
        Value::Str(s) => Value::Str(clean(&s)),
        Value::Strs(l) => fit_strs(l, budget),
        Value::Dict(_) if depth > MAX_DEPTH => Value::Str("(nested too deep)".into()),
        Value::Dict(es) => fit_dict(es, budget, depth),
    };
    (json_len(&v) <= budget).then_some(v)
}

fn fit_strs(l: Vec<String>, budget: usize) -> Value {
    let l: Vec<String> = l.iter().map(|s| clean(s)).collect();
    let len = 2 + l.iter().map(|s| str_len(s)).sum::<usize>() + l.len().saturating_sub(1);
    if len <= budget && l.len() <= MAX_ARRAY_ENTRIES {
        return Value::Strs(l);
    }
    let total = l.len();
    let mut kept = Vec::new();
    let mut used = 2;
    for s in l {
        let n = str_len(&s) + usize::from(!kept.is_empty());
        if kept.len() + 1 >= MAX_ARRAY_ENTRIES || used + n + MARKER > budget {
            break;
        }
        used += n;
        kept.push(s);
    }
    let more = total - kept.len();
    kept.push(format!("... {more} more"));
    Value::Strs(kept)
}

fn fit_dict(es: Vec<(String, Value)>, budget: usize, depth: usize) -> Value {
    // Keys first: clean, and unique.
    let mut seen = HashSet::new();
    let es: Vec<(String, Value)> = es
        .into_iter()
        .map(|(k, v)| {
            let base = clean_key(&k);
            let mut key = base.clone();
            let mut n = 2;
            while !seen.insert(key.clone()) {
                key = clean_key(&format!("{base}_{n}"));
                n += 1;
            }
            (key, v)
        })
        .collect();
    // All of it, if it fits.
    if es.len() <= MAX_DICT_ENTRIES {
        let whole: Option<Vec<(String, Value)>> = es
            .iter()
            .map(|(k, v)| Some((k.clone(), fit_in(v.clone(), budget, depth + 1)?)))
            .collect();
        if let Some(whole) = whole {
            let d = Value::Dict(whole);
            if json_len(&d) <= budget {
                return d;
            }
        }
    }
    // Else as many as fit, in order, and the marker.
    let total = es.len();
    let mut kept: Vec<(String, Value)> = Vec::new();
    let mut used = 2;
    for (k, v) in es {
        if kept.len() + 1 >= MAX_DICT_ENTRIES {
            break;
        }
        let head = str_len(&k) + 1 + usize::from(!kept.is_empty());
        let Some(room) = budget.checked_sub(used + head + MARKER) else {
            break;
        };
        let Some(v) = fit_in(v, room, depth + 1) else {
            break;
        };
        used += head + json_len(&v);
        kept.push((k, v));
    }
    let omitted = (total - kept.len()) as u64;
    if omitted > 0 {
        kept.push((TRUNCATED.into(), Value::U64(omitted)));
    }
    Value::Dict(kept)
}

/// A JSON document (a `las show … --json` answer, or part of it) as a
/// [`Value`]: numbers that are not u64 and lists of anything but scalars
/// become strings and index-keyed dicts; `null` is `None`.
pub fn from_json(v: &serde_json::Value) -> Option<Value> {
    use serde_json::Value as J;
    Some(match v {
        J::Null => return None,
        J::Bool(b) => Value::U64(u64::from(*b)),
        J::Number(n) => match n.as_u64() {
            Some(u) => Value::U64(u),
            None => Value::Str(n.to_string()),
        },
        J::String(s) => Value::Str(s.clone()),
        J::Array(a) if a.iter().all(|x| !x.is_array() && !x.is_object()) => Value::Strs(
            a.iter()
                .map(|x| match x {
                    J::String(s) => s.clone(),
                    x => x.to_string(),
                })
                .collect(),
        ),
        J::Array(a) => Value::Dict(
            a.iter()
                .enumerate()
                .filter_map(|(i, x)| Some((i.to_string(), from_json(x)?)))
                .collect(),
        ),
        J::Object(m) => Value::Dict(
            m.iter()
                .filter_map(|(k, x)| Some((k.clone(), from_json(x)?)))
                .collect(),
        ),
    })
}

/// Rows (`las show` views) as a dict keyed by each row's `key` field
/// (left out of the row itself).
fn keyed<T: serde::Serialize>(rows: &[T], key: &str) -> Value {
    Value::Dict(
        rows.iter()
            .filter_map(|r| {
                let mut j = serde_json::to_value(r).ok()?;
                let name = match j.as_object_mut()?.remove(key)? {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                Some((name, from_json(&j)?))
            })
            .collect(),
    )
}

/// las's telemetry commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    Ports,
    Switches,
    Sessions,
    Tunnels,
    Drops,
    Counters,
    Mesh,
}

impl Cmd {
    pub const ALL: [Cmd; 7] = [
        Cmd::Ports,
        Cmd::Switches,
        Cmd::Sessions,
        Cmd::Tunnels,
        Cmd::Drops,
        Cmd::Counters,
        Cmd::Mesh,
    ];

    /// The command as typed in `dpdk-telemetry.py`.
    pub fn name(self) -> &'static str {
        match self {
            Cmd::Ports => "/las/ports",
            Cmd::Switches => "/las/switches",
            Cmd::Sessions => "/las/sessions",
            Cmd::Tunnels => "/las/tunnels",
            Cmd::Drops => "/las/drops",
            Cmd::Counters => "/las/counters",
            Cmd::Mesh => "/las/mesh",
        }
    }

    /// Its `/help` text (under 128 bytes).
    pub fn help(self) -> &'static str {
        match self {
            Cmd::Ports => "las ports and their counters, by name (las show ports)",
            Cmd::Switches => {
                "las virtual switches by name, counters included. Parameter: a switch name"
            }
            Cmd::Sessions => {
                "las pseudowire sessions by name, counters included. Parameter: a switch name"
            }
            Cmd::Tunnels => "las L2TPv3 control connections by local connection id",
            Cmd::Drops => "las drops by reason, summed over workers, zeros included",
            Cmd::Counters => "las uptime, control-core counters and workers (drops: /las/drops)",
            Cmd::Mesh => "las mesh peers by address (las show mesh)",
        }
    }

    /// What it asks the control socket.
    pub fn request(self) -> Request {
        match self {
            Cmd::Ports => Request::Ports,
            Cmd::Switches => Request::Switches,
            Cmd::Sessions => Request::Sessions,
            Cmd::Tunnels => Request::Tunnels,
            Cmd::Drops | Cmd::Counters => Request::Counters,
            Cmd::Mesh => Request::Mesh,
        }
    }

    /// The answer to the command with `params` (`None`: no comma), given
    /// the control socket's answer to [`Cmd::request`] (not yet fitted).
    pub fn answer(self, params: Option<&str>, resp: Result<Response, String>) -> Value {
        let resp = match resp {
            Ok(Response::Error { error }) => return Value::error(error),
            Ok(r) => r,
            Err(e) => return Value::error(e),
        };
        let switch = params.map(str::trim).filter(|p| !p.is_empty());
        let unexpected = || Value::error(format!("{}: unexpected answer", self.request().line()));
        match (self, resp) {
            (Cmd::Ports, Response::Ports { ports }) => keyed(&ports, "name"),
            (Cmd::Switches, Response::Switches { mut switches }) => {
                if let Some(sw) = switch {
                    switches.retain(|s| s.name == sw);
                }
                keyed(&switches, "name")
            }
            (Cmd::Sessions, Response::Sessions { mut sessions }) => {
                if let Some(sw) = switch {
                    sessions.retain(|s| s.switch == sw);
                }
                keyed(&sessions, "name")
            }
            (Cmd::Tunnels, Response::Tunnels { tunnels }) => keyed(&tunnels, "local_ccid"),
            (Cmd::Mesh, Response::Mesh { mesh }) => keyed(&mesh, "peer"),
            (Cmd::Drops, Response::Counters(c)) => Value::Dict(
                c.drops
                    .into_iter()
                    .map(|(k, v)| (k, Value::U64(v)))
                    .collect(),
            ),
            (Cmd::Counters, Response::Counters(c)) => {
                let mut j = match serde_json::to_value(&c) {
                    Ok(j) => j,
                    Err(e) => return Value::error(e.to_string()),
                };
                if let Some(o) = j.as_object_mut() {
                    o.remove("drops");
                }
                // The workers become {"0": {...}, ...} (by index = id).
                from_json(&j).unwrap_or_else(unexpected)
            }
            _ => unexpected(),
        }
    }
}

/// Registers [`Cmd::ALL`] with DPDK telemetry, each a client of the
/// control socket at `socket` within `timeout`. After the EAL is up.
#[cfg(feature = "dpdk")]
pub fn register(socket: &std::path::Path, timeout: Duration) -> Result<(), String> {
    for cmd in Cmd::ALL {
        let socket = socket.to_path_buf();
        crate::dpdk::telemetry::register(cmd.name(), cmd.help(), move |params| {
            let deadline = std::time::Instant::now() + timeout;
            let resp = super::exporter::query(&socket, &cmd.request(), deadline);
            cmd.answer(params, resp)
        })
        .map_err(|e| format!("DPDK telemetry command {}: {e}", cmd.name()))?;
    }
    Ok(())
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::telemetry::show::{CountersView, SessionView, SwitchView, TunnelView, WorkerView};
    use serde_json::json;
    use std::collections::BTreeMap;

    fn switch(name: &str, rx: u64) -> SwitchView {
        SwitchView {
            name: name.into(),
            id: 3,
            members: vec!["siteA".into(), "siteB".into()],
            macs: 2,
            aging: 300,
            mac_limit: 0,
            ethertypes: vec!["ipv4".into(), "arp".into()],
            vc_ids: vec![],
            auto: true,
            rx_packets: rx,
            rx_bytes: 1000,
            unicast: 1,
            flooded: 2,
            flood_copies: 3,
            filtered: 4,
            learn_failed: 5,
            mss_clamped: 6,
            fragmented: 7,
        }
    }

    fn session(name: &str, switch: &str) -> SessionView {
        serde_json::from_value(json!({
            "name": name, "switch": switch, "port": "wan0", "peer": "192.0.2.10",
            "encap": "ip", "local_session_id": 10, "remote_session_id": 20,
            "local_cookie": "deadbeef", "remote_cookie": "", "l2spec": "none",
            "next_hop": "192.0.2.10", "next_hop_mac": null, "state": "up",
            "kind": "static", "vc_id": null, "ccid": null, "uptime_secs": null,
            "rx_packets": 5, "rx_bytes": 500, "tx_packets": 6, "tx_bytes": 600
        }))
        .unwrap()
    }

    /// The JSON DPDK would write for `v`, by serde_json.
    fn rendered(v: &Value) -> String {
        serde_json::to_string(&v.to_json()).unwrap()
    }

    fn dict(v: &Value) -> &[(String, Value)] {
        match v {
            Value::Dict(es) => es,
            x => panic!("not a dict: {x:?}"),
        }
    }

    #[test]
    fn strings_are_cleaned_and_cut_visibly() {
        assert_eq!(clean("a\tb\0c\u{7f}"), "a?b?c?");
        assert_eq!(clean("he said \"hi\""), "he said \"hi\"");
        let long = "x".repeat(300);
        let c = clean(&long);
        assert_eq!(c.len(), MAX_STRING_LEN - 1);
        assert!(c.ends_with("..."));
        // Cut on a character boundary.
        let c = clean(&"é".repeat(100));
        assert!(c.len() < MAX_STRING_LEN && c.ends_with("..."));
        assert_eq!(clean(&"y".repeat(127)), "y".repeat(127));
    }

    #[test]
    fn keys_use_what_dpdk_accepts_and_stay_unique() {
        assert_eq!(clean_key("site-a.b c"), "site_a_b_c");
        assert_eq!(clean_key(""), "_");
        assert_eq!(clean_key(&"k".repeat(200)).len(), MAX_STRING_LEN - 1);
        let v = fit(
            Value::Dict(vec![
                ("a-b".into(), Value::U64(1)),
                ("a_b".into(), Value::U64(2)),
                ("a.b".into(), Value::U64(3)),
            ]),
            1000,
        );
        let keys: Vec<&str> = dict(&v).iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["a_b", "a_b_2", "a_b_3"]);
    }

    #[test]
    fn json_len_is_what_is_written() {
        let v = fit(
            Value::Dict(vec![
                ("n".into(), Value::U64(0)),
                ("big".into(), Value::U64(u64::MAX)),
                ("s".into(), Value::Str("quote \" and \\ é\n".into())),
                ("l".into(), Value::Strs(vec![])),
                ("l2".into(), Value::Strs(vec!["a".into(), "b\"".into()])),
                ("d".into(), Value::Dict(vec![])),
                ("d2".into(), Value::Dict(vec![("x".into(), Value::U64(10))])),
            ]),
            MAX_OUTPUT_LEN,
        );
        assert_eq!(json_len(&v), rendered(&v).len(), "{}", rendered(&v));
    }

    #[test]
    fn a_big_dict_is_cut_with_a_marker() {
        let es: Vec<(String, Value)> = (0..1000)
            .map(|i| (format!("k{i}"), Value::U64(i)))
            .collect();
        let v = fit(Value::Dict(es), 1 << 20);
        let es = dict(&v);
        assert_eq!(es.len(), MAX_DICT_ENTRIES);
        assert_eq!(es[254].0, "k254");
        assert_eq!(es[255], (TRUNCATED.into(), Value::U64(1000 - 255)));
    }

    #[test]
    fn the_reply_fits_dpdks_buffer() {
        // 200 sessions of ~20 fields: far over 16 KiB.
        let s: Vec<SessionView> = (0..200)
            .map(|i| session(&format!("site{i}"), "cust100"))
            .collect();
        let cmd = Cmd::Sessions;
        let v = cmd.answer(None, Ok(Response::Sessions { sessions: s }));
        assert!(json_len(&v) > MAX_OUTPUT_LEN);
        let b = budget(cmd.name());
        let v = fit(v, b);
        let len = json_len(&v);
        assert!(len <= b, "{len} > {b}");
        assert!(len > b - 1000, "too much room left: {len} of {b}");
        assert_eq!(len, rendered(&v).len());
        let es = dict(&v);
        let (k, omitted) = es.last().unwrap();
        assert_eq!(k, TRUNCATED);
        let Value::U64(omitted) = omitted else {
            panic!()
        };
        assert_eq!(es.len() - 1 + *omitted as usize, 200);
        // Whole sessions are kept.
        assert_eq!(es[0].1, fit(es[0].1.clone(), b));
        assert_eq!(es[0].1.get("rx_packets"), Some(&Value::U64(5)));
    }

    #[test]
    fn what_fits_is_left_whole() {
        let v = Value::Dict(vec![("a".into(), Value::Str("b".into()))]);
        assert_eq!(fit(v.clone(), MAX_OUTPUT_LEN), v);
        // Exactly the budget: no cut.
        assert_eq!(fit(v.clone(), json_len(&v)), v);
        assert_ne!(fit(v.clone(), json_len(&v) - 1), v);
        // No room at all: a marker, still a value.
        assert_eq!(fit(v, 0), Value::Str("...".into()));
    }

    #[test]
    fn a_long_list_is_cut_with_a_marker() {
        let l: Vec<String> = (0..600).map(|i| format!("m{i}")).collect();
        let Value::Strs(l) = fit(Value::Strs(l), 1 << 20) else {
            panic!()
        };
        assert_eq!(l.len(), MAX_ARRAY_ENTRIES);
        assert_eq!(l[510], "m510");
        assert_eq!(l[511], "... 89 more");
        let l: Vec<String> = (0..100).map(|i| format!("m{i}")).collect();
        let v = fit(Value::Strs(l), 200);
        assert!(json_len(&v) <= 200);
        let Value::Strs(l) = v else { panic!() };
        assert!(l.last().unwrap().starts_with("... ") && l.last().unwrap().ends_with(" more"));
    }

    #[test]
    fn dicts_nest_three_deep_at_most() {
        let d = |k: &str, v: Value| Value::Dict(vec![(k.into(), v)]);
        // Three dicts: kept.
        let three = d("a", d("b", d("c", Value::U64(1))));
        assert_eq!(fit(three.clone(), 1000), three);
        // A fourth is not.
        let four = d("a", d("b", d("c", d("x", Value::U64(1)))));
        assert_eq!(
            fit(four, 1000),
            d("a", d("b", d("c", Value::Str("(nested too deep)".into()))))
        );
    }

    #[test]
    fn switches_are_keyed_by_name_with_las_shows_counters() {
        let sw = vec![switch("cust100", 17), switch("cust-200", 3)];
        let v = Cmd::Switches.answer(None, Ok(Response::Switches { switches: sw }));
        let v = fit(v, budget(Cmd::Switches.name()));
        let es = dict(&v);
        assert_eq!(es.len(), 2);
        assert_eq!(es[1].0, "cust_200");
        let c = &es[0].1;
        assert_eq!(c.get("name"), None);
        assert_eq!(c.get("rx_packets"), Some(&Value::U64(17)));
        assert_eq!(c.get("flood_copies"), Some(&Value::U64(3)));
        assert_eq!(c.get("auto"), Some(&Value::U64(1)));
        assert_eq!(
            c.get("members"),
            Some(&Value::Strs(vec!["siteA".into(), "siteB".into()]))
        );
        assert_eq!(c.get("vc_ids"), Some(&Value::Strs(vec![])));
        // One switch by name.
        let sw = vec![switch("cust100", 17), switch("cust200", 3)];
        let v = Cmd::Switches.answer(Some("cust200"), Ok(Response::Switches { switches: sw }));
        assert_eq!(dict(&v).len(), 1);
        assert_eq!(dict(&v)[0].0, "cust200");
    }

    #[test]
    fn sessions_leave_out_absent_fields_and_filter_by_switch() {
        let s = vec![session("siteA", "cust100"), session("siteC", "cust200")];
        let v = Cmd::Sessions.answer(Some(" cust200 "), Ok(Response::Sessions { sessions: s }));
        let es = dict(&v);
        assert_eq!(es.len(), 1);
        assert_eq!(es[0].0, "siteC");
        let c = &es[0].1;
        assert_eq!(c.get("vc_id"), None);
        assert_eq!(c.get("switch"), Some(&Value::Str("cust200".into())));
        assert_eq!(c.get("local_session_id"), Some(&Value::U64(10)));
        assert_eq!(c.get("tx_bytes"), Some(&Value::U64(600)));
        // An empty parameter is no filter.
        let s = vec![session("siteA", "cust100"), session("siteC", "cust200")];
        let v = Cmd::Sessions.answer(Some(""), Ok(Response::Sessions { sessions: s }));
        assert_eq!(dict(&v).len(), 2);
    }

    #[test]
    fn tunnels_are_keyed_by_local_ccid() {
        let t: TunnelView = serde_json::from_value(json!({
            "local_ccid": 77, "remote_ccid": 5, "peer": "192.0.2.10", "encap": "ip",
            "state": "established", "host_name": "edge-a", "flavour": "ietf",
            "sessions": 2, "auth_failures": 0, "hellos_sent": 9
        }))
        .unwrap();
        let v = Cmd::Tunnels.answer(None, Ok(Response::Tunnels { tunnels: vec![t] }));
        let es = dict(&v);
        assert_eq!(es[0].0, "77");
        assert_eq!(es[0].1.get("hellos_sent"), Some(&Value::U64(9)));
        assert_eq!(es[0].1.get("uptime_secs"), None);
    }

    #[test]
    fn drops_and_counters() {
        let c = CountersView {
            uptime_secs: 12,
            tsc_hz: 2_000_000_000,
            drops: BTreeMap::from([("cookie_mismatch".into(), 3), ("no_route".into(), 0)]),
            control: BTreeMap::from([("arp_requests_rx".into(), 4)]),
            workers: vec![WorkerView {
                id: 0,
                lcore: 2,
                rx_packets: 9,
                busy_cycles: 100,
                loops: 1000,
                events_lost: 0,
                commands: 1,
                command_queue: 0,
                event_queue: 0,
                mac_entries: 0,
                fast_path: 0,
            }],
        };
        let v = Cmd::Drops.answer(None, Ok(Response::Counters(c.clone())));
        assert_eq!(
            v,
            Value::Dict(vec![
                ("cookie_mismatch".into(), Value::U64(3)),
                ("no_route".into(), Value::U64(0)),
            ])
        );
        let v = fit(
            Cmd::Counters.answer(None, Ok(Response::Counters(c))),
            budget("/las/counters"),
        );
        assert_eq!(v.get("drops"), None);
        assert_eq!(v.get("uptime_secs"), Some(&Value::U64(12)));
        assert_eq!(
            v.get("control").and_then(|c| c.get("arp_requests_rx")),
            Some(&Value::U64(4))
        );
        let w = v.get("workers").and_then(|w| w.get("0")).unwrap();
        assert_eq!(w.get("lcore"), Some(&Value::U64(2)));
        assert_eq!(w.get("rx_packets"), Some(&Value::U64(9)));
    }

    #[test]
    fn errors_are_answers() {
        let v = Cmd::Switches.answer(None, Err("show switches: no answer in time".into()));
        assert_eq!(v, Value::error("show switches: no answer in time"));
        let v = Cmd::Switches.answer(
            None,
            Ok(Response::Error {
                error: "busy".into(),
            }),
        );
        assert_eq!(v, Value::error("busy"));
        let v = Cmd::Drops.answer(None, Ok(Response::Switches { switches: vec![] }));
        assert_eq!(v, Value::error("show counters: unexpected answer"));
    }

    #[test]
    fn commands_are_names_dpdk_takes() {
        for c in Cmd::ALL {
            let n = c.name();
            assert!(n.starts_with("/las/") && n.len() < 56, "{n}");
            assert!(n
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'/'));
            assert!(c.help().len() < MAX_STRING_LEN, "{n}: help too long");
        }
    }

    #[test]
    fn non_u64_numbers_and_lists_of_objects() {
        let j = json!({"f": 1.5, "neg": -3, "objs": [{"a": 1}, {"a": 2}], "mixed": [1, "x", true]});
        let v = from_json(&j).unwrap();
        assert_eq!(v.get("f"), Some(&Value::Str("1.5".into())));
        assert_eq!(v.get("neg"), Some(&Value::Str("-3".into())));
        assert_eq!(
            v.get("objs")
                .and_then(|o| o.get("1"))
                .and_then(|o| o.get("a")),
            Some(&Value::U64(2))
        );
        assert_eq!(
            v.get("mixed"),
            Some(&Value::Strs(vec!["1".into(), "x".into(), "true".into()]))
        );
    }
}
