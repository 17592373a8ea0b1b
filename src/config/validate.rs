//! Validation of the raw structs into the typed [`Config`].

use super::limits::{
    at_most, MAX_DENY, MAX_EAL_ARGS, MAX_ETHERTYPES, MAX_NEIGHBORS, MAX_PORTS, MAX_STATIC_MACS,
    MAX_VC_IDS, MAX_VC_IDS_TOTAL, MAX_VLAN_ENTRIES,
};
use super::raw::{RawConfig, RawPort, RawSession, RawStaticMac, RawSwitch, StrOrInt};
use super::{
    prefix_mask, shown, Config, ConfigError, Control, Dataplane, Encap, L2SpecCfg, L2tp, MssClamp,
    MtuPolicy, Neighbor, Port, Quoted, Session, StaticMac, Switch, VlanMode, SHOWN_MAX,
};
use crate::switch::filter::{parse_ethertype, L2Filter, DEFAULT_ETHERTYPES};
use crate::wire::l2tp::{Cookie, VcId};
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

type R<T> = Result<T, ConfigError>;

/// Turn a toml/serde error into a [`ConfigError`]: the key is guessed from
/// the error's position in the source, the reason carries line and column.
/// A TOML date/time where another type was expected reaches serde as a
/// map; the message says "date/time" instead. Values the message quotes
/// are cut as [`shown`] cuts them.
pub(super) fn toml_error(src: &str, e: &toml::de::Error) -> ConfigError {
    let mut msg = cap_quoted(
        &e.message()
            .trim()
            .lines()
            .map(str::trim)
            .collect::<Vec<_>>()
            .join("; "),
    )
    .replace("expected i64", "expected an integer");
    let Some(span) = e.span() else {
        return ConfigError::new("", "", msg);
    };
    let start = span.start.min(src.len());
    let end = span.end.clamp(start, src.len());
    let (line, col) = line_col(src, start);
    let value = src
        .get(start..end)
        .unwrap_or("")
        .lines()
        .next()
        .unwrap_or("")
        .trim();
    if msg.contains("invalid type: map") && value.parse::<toml::value::Datetime>().is_ok() {
        msg = msg.replacen("invalid type: map", "invalid type: date/time", 1);
    }
    ConfigError::new(
        key_at(src, start),
        value,
        format!("line {line}, column {col}: {msg}"),
    )
}

/// `msg` with each `"..."` (escaped as `{:?}` escapes) and `` `...` ``
/// longer than [`SHOWN_MAX`] characters cut by [`shown`]: serde quotes
/// a whole wrong string value or unknown key.
fn cap_quoted(msg: &str) -> String {
    let mut out = String::new();
    let mut rest = msg;
    while let Some(open) = rest.find(['"', '`']) {
        let q = rest.as_bytes()[open];
        out.push_str(&rest[..open]);
        let body = &rest[open + 1..];
        let mut end = None;
        let mut esc = false;
        for (k, c) in body.char_indices() {
            match c {
                '\\' if q == b'"' && !esc => esc = true,
                c if c == char::from(q) && !esc => {
                    end = Some(k);
                    break;
                }
                _ => esc = false,
            }
        }
        let Some(end) = end else {
            out.push_str(&rest[open..]);
            return out;
        };
        let seg = &rest[open..open + end + 2];
        if body[..end].chars().count() > SHOWN_MAX {
            out.push_str(&shown(seg));
        } else {
            out.push_str(seg);
        }
        rest = &rest[open + end + 2..];
    }
    out.push_str(rest);
    out
}

fn line_col(src: &str, off: usize) -> (usize, usize) {
    let before = src.get(..off).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn is_bare_key(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.\" ".contains(&b))
}

/// Best-effort TOML key path (`session[2].local_cookie`) for a byte offset.
fn key_at(src: &str, off: usize) -> String {
    let mut table = String::new();
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut last_key: Option<String> = None;
    let mut pos = 0;
    for line in src.split_inclusive('\n') {
        pos += line.len();
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("[[") {
            let name = rest.split(']').next().unwrap_or("").trim().to_string();
            let n = counts.entry(name.clone()).or_insert(0);
            table = format!("{name}[{n}]");
            *n += 1;
            last_key = None;
        } else if let Some(rest) = t.strip_prefix('[') {
            table = rest.split(']').next().unwrap_or("").trim().to_string();
            last_key = None;
        } else if let Some((k, _)) = t.split_once('=') {
            let k = k.trim();
            if is_bare_key(k) {
                last_key = Some(k.trim_matches('"').to_string());
            }
        }
        if off < pos {
            break;
        }
    }
    match (table.is_empty(), last_key) {
        (_, None) => table,
        (true, Some(k)) => k,
        (false, Some(k)) => format!("{table}.{k}"),
    }
}

/// Parse `aa:bb:cc:dd:ee:ff` (hex, case-insensitive; `-` also accepted).
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let sep = if s.contains('-') { '-' } else { ':' };
    let mut out = [0u8; 6];
    let mut n = 0;
    for part in s.split(sep) {
        if n == 6 || part.is_empty() || part.len() > 2 {
            return None;
        }
        out[n] = u8::from_str_radix(part, 16).ok()?;
        n += 1;
    }
    (n == 6).then_some(out)
}

fn valid_name(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
}

fn name(key: String, v: Option<String>, seen: &mut HashSet<String>) -> R<String> {
    let v = required(&key, v)?;
    if !valid_name(&v) {
        return Err(ConfigError::new(
            key,
            quote(&v),
            "must match [A-Za-z0-9_.-]{1,32}",
        ));
    }
    if !seen.insert(v.clone()) {
        return Err(ConfigError::new(key, quote(&v), "duplicate name"));
    }
    Ok(v)
}

fn quote(s: &str) -> Quoted<'_> {
    Quoted(s)
}

fn required<T>(key: &str, v: Option<T>) -> R<T> {
    v.ok_or_else(|| ConfigError::new(key, "(missing)", "required key is missing"))
}

fn int(key: &str, v: Option<i64>, default: i64, lo: i64, hi: i64) -> R<i64> {
    let v = v.unwrap_or(default);
    if v < lo || v > hi {
        return Err(ConfigError::new(key, v, format!("must be in {lo}..={hi}")));
    }
    Ok(v)
}

fn pow2(key: &str, v: Option<i64>, default: i64, lo: i64, hi: i64) -> R<i64> {
    let v = int(key, v, default, lo, hi)?;
    if (v as u64).is_power_of_two() {
        Ok(v)
    } else {
        Err(ConfigError::new(key, v, "must be a power of two"))
    }
}

fn ipv4(key: &str, s: &str) -> R<Ipv4Addr> {
    s.trim()
        .parse()
        .map_err(|_| ConfigError::new(key, quote(s), "not an IPv4 address"))
}

fn is_pci(s: &str) -> bool {
    // dddd:bb:dd.f or bb:dd.f (hex).
    let Some((head, func)) = s.rsplit_once('.') else {
        return false;
    };
    let hex = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit());
    if !(func.len() == 1 && func.bytes().all(|b| (b'0'..=b'7').contains(&b))) {
        return false;
    }
    let parts: Vec<&str> = head.split(':').collect();
    match parts.as_slice() {
        [d, b, dev] => hex(d, 4) && hex(b, 2) && hex(dev, 2),
        [b, dev] => hex(b, 2) && hex(dev, 2),
        _ => false,
    }
}

fn unicast_mac(key: &str, s: &str) -> R<[u8; 6]> {
    let m = parse_mac(s)
        .ok_or_else(|| ConfigError::new(key, quote(s), "not a MAC address (aa:bb:cc:dd:ee:ff)"))?;
    if m[0] & 1 != 0 || m == [0; 6] {
        return Err(ConfigError::new(
            key,
            quote(s),
            "must be a nonzero unicast MAC",
        ));
    }
    Ok(m)
}

/// Why `ip`, inside `net/len`, cannot be a host there: it is the network
/// or the broadcast address of the prefix. Prefixes of /31 (RFC 3021) and
/// /32 have neither.
fn not_a_host(ip: Ipv4Addr, net: Ipv4Addr, len: u8) -> Option<String> {
    if len >= 31 {
        return None;
    }
    let m = prefix_mask(len);
    let netaddr = u32::from(net) & m;
    if u32::from(ip) & m != netaddr {
        return None;
    }
    let pfx = format!("{}/{len}", Ipv4Addr::from(netaddr));
    match u32::from(ip) & !m {
        0 => Some(format!("is the network address of {pfx}, not a host")),
        h if h == !m => Some(format!("is the broadcast address of {pfx}, not a host")),
        _ => None,
    }
}

fn fmt_mac(m: [u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

pub(super) fn port_for(ports: &[Port], peer: Ipv4Addr) -> Option<usize> {
    ports
        .iter()
        .position(|p| p.contains(peer))
        .or_else(|| ports.iter().position(|p| p.gateway.is_some()))
}

fn dataplane(r: super::raw::RawDataplane) -> R<Dataplane> {
    let d = Dataplane::default();
    const K: &str = "dataplane.";
    let k = |s: &str| format!("{K}{s}");
    Ok(Dataplane {
        mbufs: int(&k("mbufs"), r.mbufs, d.mbufs.into(), 1023, u32::MAX.into())? as u32,
        mbuf_size: int(
            &k("mbuf_size"),
            r.mbuf_size,
            d.mbuf_size.into(),
            1024,
            65535,
        )? as u16,
        rx_descriptors: pow2(
            &k("rx_descriptors"),
            r.rx_descriptors,
            d.rx_descriptors.into(),
            64,
            16384,
        )? as u16,
        tx_descriptors: pow2(
            &k("tx_descriptors"),
            r.tx_descriptors,
            d.tx_descriptors.into(),
            64,
            16384,
        )? as u16,
        burst: int(&k("burst"), r.burst, d.burst.into(), 1, 64)? as u16,
        max_sessions: int(
            &k("max_sessions"),
            r.max_sessions,
            d.max_sessions as i64,
            1,
            65535,
        )? as usize,
        max_switches: int(
            &k("max_switches"),
            r.max_switches,
            d.max_switches as i64,
            1,
            65535,
        )? as usize,
        mac_table_size: int(
            &k("mac_table_size"),
            r.mac_table_size,
            d.mac_table_size as i64,
            16,
            1 << 28,
        )? as usize,
        punt_ring: pow2(&k("punt_ring"), r.punt_ring, d.punt_ring.into(), 2, 1 << 28)? as u32,
        event_ring: pow2(
            &k("event_ring"),
            r.event_ring,
            d.event_ring.into(),
            2,
            1 << 28,
        )? as u32,
        command_ring: pow2(
            &k("command_ring"),
            r.command_ring,
            d.command_ring.into(),
            2,
            1 << 28,
        )? as u32,
        // A worker's MAC stamps count seconds modulo 8192 and it ages the
        // MACs it learned after at most half that range
        // (`mactable::MAX_LOCAL_AGING`, 4095 s): with a longer refresh
        // interval an active MAC's stamp could be older than that.
        mac_refresh: int(
            &k("mac_refresh"),
            r.mac_refresh,
            d.mac_refresh.into(),
            1,
            crate::switch::mactable::MAX_LOCAL_AGING.into(),
        )? as u32,
    })
}

/// A port's IPv4 `address` (`a.b.c.d/len`) and optional `gateway`.
fn port4(i: usize, astr: String, gateway: Option<String>) -> R<(Ipv4Addr, u8, Option<Ipv4Addr>)> {
    let k = |s: &str| format!("port[{i}].{s}");
    let Some((a, p)) = astr.split_once('/') else {
        return Err(ConfigError::new(
            k("address"),
            quote(&astr),
            "missing prefix length (expected address/prefix, e.g. 192.0.2.1/24)",
        ));
    };
    let address = ipv4(&k("address"), a)?;
    let prefix_len: u8 = p.trim().parse().map_err(|_| {
        ConfigError::new(k("address"), quote(&astr), "prefix length is not a number")
    })?;
    if prefix_len > 32 {
        return Err(ConfigError::new(
            k("address"),
            quote(&astr),
            "prefix length must be 0..=32",
        ));
    }
    if address.is_unspecified() || address.is_multicast() || address.is_broadcast() {
        return Err(ConfigError::new(
            k("address"),
            quote(&astr),
            "must be a unicast address",
        ));
    }
    if let Some(why) = not_a_host(address, address, prefix_len) {
        return Err(ConfigError::new(k("address"), quote(&astr), why));
    }
    let gateway = match gateway {
        None => None,
        Some(g) => {
            let gw = ipv4(&k("gateway"), &g)?;
            let m = prefix_mask(prefix_len);
            if u32::from(gw) & m != u32::from(address) & m {
                return Err(ConfigError::new(
                    k("gateway"),
                    quote(&g),
                    format!("not inside the port prefix {address}/{prefix_len}"),
                ));
            }
            if gw == address {
                return Err(ConfigError::new(
                    k("gateway"),
                    quote(&g),
                    "must differ from the port address",
                ));
            }
            if let Some(why) = not_a_host(gw, address, prefix_len) {
                return Err(ConfigError::new(k("gateway"), quote(&g), why));
            }
            Some(gw)
        }
    };
    Ok((address, prefix_len, gateway))
}

fn port(i: usize, r: RawPort, names: &mut HashSet<String>) -> R<Port> {
    let k = |s: &str| format!("port[{i}].{s}");
    let name = name(k("name"), r.name, names)?;
    let device = required(&k("device"), r.device)?;
    if !(device.starts_with("net_") || is_pci(&device)) {
        return Err(ConfigError::new(
            k("device"),
            quote(&device),
            "must be a vdev spec starting with \"net_\" or a PCI address (dddd:bb:dd.f or bb:dd.f)",
        ));
    }
    let v6 = super::ipv6::port6(i, r.address6, r.gateway6)?;
    let (address, prefix_len, gateway) = match r.address {
        Some(astr) => {
            let (a, len, gw) = port4(i, astr, r.gateway)?;
            (Some(a), len, gw)
        }
        // IPv6-only: nothing IPv4 may hang off the port.
        None if v6.is_some() => {
            if let Some(g) = r.gateway {
                return Err(ConfigError::new(
                    k("gateway"),
                    quote(&g),
                    "needs an IPv4 port address (port address is not set: the port is IPv6-only)",
                ));
            }
            (None, 0, None)
        }
        None => {
            return Err(ConfigError::new(
                k("address"),
                "(missing)",
                "required key is missing (a port needs address, address6 or both)",
            ))
        }
    };
    let mtu = int(&k("mtu"), r.mtu, 1500, 68, 9600)? as u16;
    let mac = match r.mac {
        None => None,
        Some(m) => Some(unicast_mac(&k("mac"), &m)?),
    };
    Ok(Port {
        name,
        device,
        address,
        prefix_len,
        gateway,
        mtu,
        mac,
        v6,
        dont_fragment: r.dont_fragment.unwrap_or(false),
        reassembly: r.reassembly.unwrap_or(true),
        reassembly_timeout_ms: int(
            &k("reassembly_timeout_ms"),
            r.reassembly_timeout_ms,
            2000,
            1,
            60_000,
        )? as u32,
        reassembly_max_flows: int(
            &k("reassembly_max_flows"),
            r.reassembly_max_flows,
            4096,
            1,
            1 << 20,
        )? as u32,
    })
}

/// The VLAN ids 0..=4095 as a bitset: what a `vlans` list expands into,
/// whatever its ranges.
struct VlanSet([u64; 64]);

impl VlanSet {
    /// Adds `lo..=hi` (both at most 4095), a word at a time.
    fn insert(&mut self, lo: u16, hi: u16) {
        let (lo, hi) = (usize::from(lo), usize::from(hi));
        for w in lo / 64..=hi / 64 {
            let first = if w == lo / 64 { lo % 64 } else { 0 };
            let last = if w == hi / 64 { hi % 64 } else { 63 };
            self.0[w] |= (u64::MAX >> (63 - (last - first))) << first;
        }
    }

    /// The ids in the set, ascending.
    fn to_vec(&self) -> Vec<u16> {
        (0..4096u16)
            .filter(|&v| self.0[usize::from(v / 64)] >> (v % 64) & 1 == 1)
            .collect()
    }
}

/// `switch[i].vlans`: VLAN ids or ranges ("100-200"), 1..=4094, at most
/// [`MAX_VLAN_ENTRIES`] entries; overlaps and repeats merge.
fn vlan_list(i: usize, v: Option<Vec<StrOrInt>>) -> R<Vec<u16>> {
    let list = v.unwrap_or_default();
    at_most(format!("switch[{i}].vlans"), &list, MAX_VLAN_ENTRIES)?;
    let mut set = VlanSet([0; 64]);
    for (j, x) in list.iter().enumerate() {
        let bad = |shown: &dyn std::fmt::Display| {
            ConfigError::new(
                format!("switch[{i}].vlans[{j}]"),
                shown,
                "must be a VLAN id 1..=4094 or a range like \"100-200\"",
            )
        };
        let (lo, hi) = match x {
            StrOrInt::Int(n) => (*n, *n),
            StrOrInt::Str(s) => {
                let parse = |t: &str| t.trim().parse::<i64>().map_err(|_| bad(&quote(s)));
                match s.split_once('-') {
                    Some((a, b)) => (parse(a)?, parse(b)?),
                    None => {
                        let n = parse(s)?;
                        (n, n)
                    }
                }
            }
        };
        if !(1..=4094).contains(&lo) || !(1..=4094).contains(&hi) || lo > hi {
            return Err(bad(&format_args!("{lo}-{hi}")));
        }
        set.insert(lo as u16, hi as u16);
    }
    Ok(set.to_vec())
}

/// `switch[i].vc_ids`: VC IDs as numbers (or decimal strings), `0x`-hex
/// Remote End IDs, or other text (its bytes), at most [`MAX_VC_IDS`].
/// Kept in the canonical form of [`VcId`] (`wire::l2tp::vcid`: ASCII
/// decimal and 4-byte binary Remote End IDs are the same VC ID). A VC ID
/// given twice in one switch is kept once; one in two switches is an
/// error. `owner` maps each VC ID seen so far to its switch.
fn vc_ids(
    i: usize,
    v: Option<Vec<StrOrInt>>,
    owner: &mut HashMap<String, usize>,
) -> R<Vec<String>> {
    let list = v.unwrap_or_default();
    at_most(format!("switch[{i}].vc_ids"), &list, MAX_VC_IDS)?;
    let mut out = Vec::new();
    for (j, x) in list.into_iter().enumerate() {
        let key = format!("switch[{i}].vc_ids[{j}]");
        let s = match x {
            StrOrInt::Int(n) if (0..=i64::from(u32::MAX)).contains(&n) => n.to_string(),
            StrOrInt::Int(n) => return Err(ConfigError::new(key, n, "must be in 0..=4294967295")),
            StrOrInt::Str(s) => s,
        };
        let s = match VcId::from_config(&s) {
            Ok(v) => v.to_string(),
            Err(why) => return Err(ConfigError::new(key, quote(&s), why)),
        };
        match owner.get(&s) {
            Some(&o) if o == i => continue,
            Some(&o) => {
                return Err(ConfigError::new(
                    key,
                    quote(&s),
                    format!("VC ID already used by switch[{o}]"),
                ))
            }
            None => {}
        }
        if owner.len() == MAX_VC_IDS_TOTAL {
            return Err(ConfigError::new(
                key,
                quote(&s),
                format!("more than {MAX_VC_IDS_TOTAL} VC IDs in all switches"),
            ));
        }
        owner.insert(s.clone(), i);
        out.push(s);
    }
    Ok(out)
}

/// Lowest and highest `mss_clamp = N`.
const MSS_MIN: i64 = 536;
const MSS_MAX: i64 = 65495;

fn mss_clamp(key: &str, v: Option<StrOrInt>) -> R<MssClamp> {
    let range = |n: i64, shown: String| {
        if (MSS_MIN..=MSS_MAX).contains(&n) {
            Ok(MssClamp::Fixed(n as u16))
        } else {
            Err(ConfigError::new(
                key,
                shown,
                format!("must be \"auto\", \"off\" or an MSS in {MSS_MIN}..={MSS_MAX}"),
            ))
        }
    };
    match v {
        None => Ok(MssClamp::Auto),
        Some(StrOrInt::Int(n)) => range(n, n.to_string()),
        Some(StrOrInt::Str(s)) => match s.as_str() {
            "auto" => Ok(MssClamp::Auto),
            "off" => Ok(MssClamp::Off),
            t => match t.parse::<i64>() {
                Ok(n) => range(n, quote(&s).to_string()),
                Err(_) => Err(ConfigError::new(
                    key,
                    quote(&s),
                    format!("must be \"auto\", \"off\" or an MSS in {MSS_MIN}..={MSS_MAX}"),
                )),
            },
        },
    }
}

fn vlan_mode(key: &str, v: Option<String>) -> R<VlanMode> {
    match v.as_deref() {
        None | Some("drop-tagged") => Ok(VlanMode::DropTagged),
        Some("transparent") => Ok(VlanMode::Transparent),
        Some("vlan-aware") => Ok(VlanMode::VlanAware),
        Some(o) => Err(ConfigError::new(
            key,
            quote(o),
            "must be \"drop-tagged\", \"transparent\" or \"vlan-aware\"",
        )),
    }
}

fn mtu_policy(key: &str, v: Option<String>) -> R<MtuPolicy> {
    match v.as_deref() {
        None | Some("drop") => Ok(MtuPolicy::Drop),
        Some("fragment") => Ok(MtuPolicy::Fragment),
        Some(o) => Err(ConfigError::new(
            key,
            quote(o),
            "must be \"drop\" or \"fragment\"",
        )),
    }
}

/// Highest `storm_*` rate (packets per second).
const STORM_MAX: i64 = 100_000_000;

/// A `[[switch]]` without `static_macs` (resolved once sessions are known).
fn switch(i: usize, s: RawSwitch, names: &mut HashSet<String>) -> R<Switch> {
    let k = |x: &str| format!("switch[{i}].{x}");
    Ok(Switch {
        name: name(k("name"), s.name, names)?,
        aging: int(&k("aging"), s.aging, 300, 0, u32::MAX.into())? as u32,
        mac_limit: int(&k("mac_limit"), s.mac_limit, 0, 0, u32::MAX.into())? as u32,
        filter: {
            let key = k("ethertypes");
            let list = ethertypes(i, s.ethertypes)?;
            L2Filter::new(&list).map_err(|e| ConfigError::new(key, list.len(), e.to_string()))?
        },
        mss_clamp: mss_clamp(&k("mss_clamp"), s.mss_clamp)?,
        vlan_mode: vlan_mode(&k("vlan_mode"), s.vlan_mode)?,
        mtu_policy: mtu_policy(&k("mtu_policy"), s.mtu_policy)?,
        storm_broadcast: int(&k("storm_broadcast"), s.storm_broadcast, 0, 0, STORM_MAX)? as u32,
        storm_multicast: int(&k("storm_multicast"), s.storm_multicast, 0, 0, STORM_MAX)? as u32,
        storm_unknown_unicast: int(
            &k("storm_unknown_unicast"),
            s.storm_unknown_unicast,
            0,
            0,
            STORM_MAX,
        )? as u32,
        mac_limit_per_member: int(
            &k("mac_limit_per_member"),
            s.mac_limit_per_member,
            0,
            0,
            u32::MAX.into(),
        )? as u32,
        flap_threshold: int(&k("flap_threshold"), s.flap_threshold, 5, 0, 65535)? as u32,
        flap_window: int(&k("flap_window"), s.flap_window, 10, 1, 3600)? as u32,
        flap_block: int(&k("flap_block"), s.flap_block, 0, 0, 86400)? as u32,
        static_macs: Vec::new(),
        vc_ids: Vec::new(),
        vlans: Vec::new(),
    })
}

/// Resolve `switch[i].static_macs` against the sessions. A MAC given
/// twice for one session is kept once; for two sessions, an error.
fn static_macs(
    i: usize,
    list: Vec<RawStaticMac>,
    switches: &[Switch],
    sessions: &[Session],
) -> R<Vec<StaticMac>> {
    at_most(format!("switch[{i}].static_macs"), &list, MAX_STATIC_MACS)?;
    let mut out: Vec<StaticMac> = Vec::with_capacity(list.len());
    // MAC -> (entry index, index in `out`).
    let mut seen: HashMap<[u8; 6], (usize, usize)> = HashMap::with_capacity(list.len());
    for (j, e) in list.into_iter().enumerate() {
        let k = |x: &str| format!("switch[{i}].static_macs[{j}].{x}");
        let mstr = required(&k("mac"), e.mac)?;
        let mac = unicast_mac(&k("mac"), &mstr)?;
        let sn = required(&k("session"), e.session)?;
        let Some(session) = sessions.iter().position(|s| s.name == sn) else {
            return Err(ConfigError::new(
                k("session"),
                quote(&sn),
                "no [[session]] with this name",
            ));
        };
        if sessions[session].switch != i {
            return Err(ConfigError::new(
                k("session"),
                quote(&sn),
                format!(
                    "is a member of switch {:?}, not of {:?}",
                    switches[sessions[session].switch].name, switches[i].name
                ),
            ));
        }
        if let Some(&(o, at)) = seen.get(&mac) {
            if out[at].session == session {
                continue;
            }
            return Err(ConfigError::new(
                k("mac"),
                quote(&mstr),
                format!(
                    "already given for session {:?} in switch[{i}].static_macs[{o}]",
                    sessions[out[at].session].name
                ),
            ));
        }
        seen.insert(mac, (j, out.len()));
        out.push(StaticMac { mac, session });
    }
    Ok(out)
}

fn ethertypes(i: usize, v: Option<Vec<StrOrInt>>) -> R<Vec<u16>> {
    let key = format!("switch[{i}].ethertypes");
    let Some(list) = v else {
        return Ok(DEFAULT_ETHERTYPES.to_vec());
    };
    ethertype_list(&key, list, MAX_ETHERTYPES)
}

/// `switch[i].deny`: the deny list (same names as `ethertypes`, plus `cdp`).
fn deny_list(i: usize, v: Option<Vec<StrOrInt>>) -> R<Vec<u16>> {
    match v {
        None => Ok(Vec::new()),
        Some(list) => ethertype_list(&format!("switch[{i}].deny"), list, MAX_DENY),
    }
}

/// At most `max` entries as written; repeats merge.
fn ethertype_list(key: &str, list: Vec<StrOrInt>, max: usize) -> R<Vec<u16>> {
    at_most(key, &list, max)?;
    let mut out: Vec<u16> = Vec::with_capacity(list.len());
    for (j, e) in list.iter().enumerate() {
        let t = match e {
            StrOrInt::Str(s) => parse_ethertype(s),
            StrOrInt::Int(n) => u16::try_from(*n)
                .ok()
                .and_then(|n| parse_ethertype(&n.to_string())),
        };
        let Some(t) = t else {
            return Err(ConfigError::new(
                format!("{key}[{j}]"),
                e,
                "unknown ethertype: use a name (ipv4, arp, ipv6, vlan, qinq, lldp, mpls, \
                 pppoe-discovery, pppoe-session, llc/netbeui, lacp, pause, 8021x, cdp, any, \
                 ...), hex 0x0600..0xffff or decimal",
            ));
        };
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

struct Ctx<'a> {
    ports: &'a [Port],
    switch_idx: &'a HashMap<String, usize>,
    udp_port: u16,
}

fn session(
    i: usize,
    r: RawSession,
    cx: &Ctx<'_>,
    names: &mut HashSet<String>,
    ids: &mut HashMap<u32, usize>,
) -> R<Session> {
    let k = |s: &str| format!("session[{i}].{s}");
    let name = name(k("name"), r.name, names)?;
    let sw = required(&k("switch"), r.switch)?;
    let switch = *cx
        .switch_idx
        .get(&sw)
        .ok_or_else(|| ConfigError::new(k("switch"), quote(&sw), "no [[switch]] with this name"))?;
    let pstr = required(&k("peer"), r.peer)?;
    let peer: IpAddr = pstr
        .trim()
        .parse()
        .map_err(|_| ConfigError::new(k("peer"), quote(&pstr), "not an IPv4 or IPv6 address"))?;
    let named_port = match r.port {
        Some(pn) => Some(cx.ports.iter().position(|p| p.name == pn).ok_or_else(|| {
            ConfigError::new(k("port"), quote(&pn), "no [[port]] with this name")
        })?),
        None => None,
    };
    let port = match peer {
        IpAddr::V4(peer) => {
            if peer.is_unspecified()
                || peer.is_multicast()
                || peer.is_broadcast()
                || peer.is_loopback()
            {
                return Err(ConfigError::new(
                    k("peer"),
                    quote(&pstr),
                    "must be a unicast address",
                ));
            }
            if let Some(p) = cx.ports.iter().find(|p| p.address == Some(peer)) {
                return Err(ConfigError::new(
                    k("peer"),
                    quote(&pstr),
                    format!(
                        "is the address of port {:?}; the peer must be remote",
                        p.name
                    ),
                ));
            }
            match named_port {
                Some(p) if cx.ports[p].address.is_none() => {
                    return Err(ConfigError::new(
                        k("port"),
                        quote(&cx.ports[p].name),
                        format!(
                            "has no IPv4 address (IPv6-only) and cannot carry the IPv4 peer {peer}"
                        ),
                    ))
                }
                Some(p) => p,
                // Never an IPv6-only port: it contains nothing and has no gateway.
                None => port_for(cx.ports, peer).ok_or_else(|| {
                    ConfigError::new(
                        k("peer"),
                        quote(&pstr),
                        "no port prefix contains the peer and no port has a gateway; set port",
                    )
                })?,
            }
        }
        IpAddr::V6(peer) => {
            super::ipv6::session_peer6(&k("peer"), &pstr, peer, cx.ports, named_port)?
        }
    };
    let encap = match r.encap.as_deref() {
        None | Some("ip") => Encap::Ip,
        Some("udp") => Encap::Udp,
        Some(o) => {
            return Err(ConfigError::new(
                k("encap"),
                quote(o),
                "must be \"ip\" or \"udp\"",
            ))
        }
    };
    let local_session_id = int(
        &k("local_session_id"),
        Some(required(&k("local_session_id"), r.local_session_id)?),
        0,
        1,
        u32::MAX.into(),
    )? as u32;
    if let Some(&other) = ids.get(&local_session_id) {
        return Err(ConfigError::new(
            k("local_session_id"),
            local_session_id,
            format!("already used by session[{other}]"),
        ));
    }
    ids.insert(local_session_id, i);
    let remote_session_id = int(
        &k("remote_session_id"),
        Some(required(&k("remote_session_id"), r.remote_session_id)?),
        0,
        1,
        u32::MAX.into(),
    )? as u32;
    // An empty string is a mistake, not "no cookie": leave the key out.
    let cookie = |key: String, v: Option<String>| -> R<Cookie> {
        match v {
            None => Ok(Cookie::NONE),
            Some(s) => Cookie::from_hex(&s)
                .ok()
                .filter(|c| !c.is_empty())
                .ok_or_else(|| ConfigError::new(key, quote(&s), Cookie::HEX_FORMAT)),
        }
    };
    let local_cookie = cookie(k("local_cookie"), r.local_cookie)?;
    let remote_cookie = cookie(k("remote_cookie"), r.remote_cookie)?;
    let (udp_local_port, udp_peer_port) = match encap {
        Encap::Ip => {
            for (key, v) in [
                ("udp_local_port", r.udp_local_port),
                ("udp_peer_port", r.udp_peer_port),
            ] {
                if let Some(v) = v {
                    return Err(ConfigError::new(
                        k(key),
                        v,
                        "only valid with encap = \"udp\"",
                    ));
                }
            }
            (0, 0)
        }
        Encap::Udp => {
            let lp = int(
                &k("udp_local_port"),
                r.udp_local_port,
                cx.udp_port.into(),
                1,
                65535,
            )? as u16;
            if lp != cx.udp_port {
                return Err(ConfigError::new(
                    k("udp_local_port"),
                    lp,
                    format!(
                        "must equal [l2tp].udp_port = {} for now (one local UDP port)",
                        cx.udp_port
                    ),
                ));
            }
            let pp = int(&k("udp_peer_port"), r.udp_peer_port, 1701, 1, 65535)? as u16;
            (lp, pp)
        }
    };
    let l2spec = match r.l2spec.as_deref() {
        None | Some("none") => L2SpecCfg::None,
        Some("default") => L2SpecCfg::Default,
        Some(o) => {
            return Err(ConfigError::new(
                k("l2spec"),
                quote(o),
                "must be \"none\" or \"default\"",
            ))
        }
    };
    Ok(Session {
        name,
        switch,
        peer,
        port,
        encap,
        local_session_id,
        remote_session_id,
        local_cookie,
        remote_cookie,
        udp_local_port,
        udp_peer_port,
        l2spec,
    })
}

pub(super) fn validate(r: RawConfig) -> R<Config> {
    let eal_args = r.eal.args.unwrap_or_default();
    at_most("eal.args", &eal_args, MAX_EAL_ARGS)?;
    let dataplane = dataplane(r.dataplane)?;
    let control = match r.control.socket {
        None => Control::default(),
        Some(s) if s.is_empty() => {
            return Err(ConfigError::new(
                "control.socket",
                "\"\"",
                "must not be empty",
            ))
        }
        Some(s) => Control {
            socket: PathBuf::from(s),
        },
    };
    let metrics = super::metrics::validate(r.metrics)?;
    let mesh_raw = r.mesh;
    let l2tp: L2tp = super::l2tp::validate(r.l2tp)?;

    if r.port.is_empty() {
        return Err(ConfigError::new(
            "port",
            "(none)",
            "at least one [[port]] is required",
        ));
    }
    at_most("port", &r.port, MAX_PORTS)?;
    let mut names = HashSet::new();
    let ports = r
        .port
        .into_iter()
        .enumerate()
        .map(|(i, p)| port(i, p, &mut names))
        .collect::<R<Vec<_>>>()?;
    for (i, p) in ports.iter().enumerate() {
        let Some(a) = p.address else { continue };
        if let Some(j) = ports[..i].iter().position(|q| q.address == Some(a)) {
            return Err(ConfigError::new(
                format!("port[{i}].address"),
                a,
                format!("same address as port[{j}]"),
            ));
        }
    }
    // `--no-pci` keeps the EAL from scanning the PCI bus at all, so a PCI
    // port would never be probed and las would stop at start saying it
    // has no such device.
    if let Some(i) = ports.iter().position(|p| !p.is_vdev()) {
        if eal_args.iter().any(|a| a == "--no-pci") {
            return Err(ConfigError::new(
                "eal.args",
                "\"--no-pci\"",
                format!(
                    "port[{i}] ({}) is the PCI device {}, which --no-pci keeps DPDK from \
                     probing; remove --no-pci (las adds it itself when no port is PCI)",
                    ports[i].name, ports[i].device
                ),
            ));
        }
    }

    at_most("neighbor", &r.neighbor, MAX_NEIGHBORS)?;
    let mut neighbors: Vec<Neighbor> = Vec::with_capacity(r.neighbor.len());
    let mut neighbors6: Vec<super::Neighbor6> = Vec::new();
    // (port, address) -> (entry index, index in `neighbors`).
    let mut seen: HashMap<(usize, Ipv4Addr), (usize, usize)> = HashMap::new();
    for (i, n) in r.neighbor.into_iter().enumerate() {
        let k = |s: &str| format!("neighbor[{i}].{s}");
        let pn = required(&k("port"), n.port)?;
        let port = ports
            .iter()
            .position(|p| p.name == pn)
            .ok_or_else(|| ConfigError::new(k("port"), quote(&pn), "no [[port]] with this name"))?;
        let astr = required(&k("address"), n.address)?;
        let p = &ports[port];
        if astr.contains(':') {
            let address = super::ipv6::neighbor6(&k("address"), &astr, p)?;
            let mstr = required(&k("mac"), n.mac)?;
            let mac = unicast_mac(&k("mac"), &mstr)?;
            if let Some(o) = neighbors6
                .iter()
                .find(|x| x.port == port && x.address == address)
            {
                if o.mac == mac {
                    continue;
                }
                return Err(ConfigError::new(
                    k("mac"),
                    quote(&mstr),
                    format!(
                        "another [[neighbor]] gives {address} on port {:?} the MAC {}",
                        p.name,
                        fmt_mac(o.mac)
                    ),
                ));
            }
            neighbors6.push(super::Neighbor6 { port, address, mac });
            continue;
        }
        let address = ipv4(&k("address"), &astr)?;
        let Some(ours) = p.address else {
            return Err(ConfigError::new(
                k("address"),
                quote(&astr),
                format!(
                    "is IPv4 but port {:?} has no IPv4 address (IPv6-only)",
                    p.name
                ),
            ));
        };
        let not_host = not_a_host(address, ours, p.prefix_len);
        if !p.contains(address) || address == ours || not_host.is_some() {
            return Err(ConfigError::new(
                k("address"),
                quote(&astr),
                format!(
                    "must be another host inside port {:?}'s prefix {}{}",
                    p.name,
                    p.address_text(),
                    not_host.map_or(String::new(), |w| format!(" (it {w})"))
                ),
            ));
        }
        let mstr = required(&k("mac"), n.mac)?;
        let mac = unicast_mac(&k("mac"), &mstr)?;
        // The same entry again is kept once; another MAC is a conflict.
        if let Some(&(o, at)) = seen.get(&(port, address)) {
            let other = neighbors[at].mac;
            if other == mac {
                continue;
            }
            return Err(ConfigError::new(
                k("mac"),
                quote(&mstr),
                format!(
                    "neighbor[{o}] already gives {address} on port {:?} the MAC {}",
                    p.name,
                    fmt_mac(other)
                ),
            ));
        }
        seen.insert((port, address), (i, neighbors.len()));
        neighbors.push(Neighbor { port, address, mac });
    }

    if r.switch.len() > dataplane.max_switches {
        return Err(ConfigError::new(
            "switch",
            format!("{} switches", r.switch.len()),
            format!(
                "more than dataplane.max_switches = {}",
                dataplane.max_switches
            ),
        ));
    }
    let mut names = HashSet::new();
    let mut switches = Vec::with_capacity(r.switch.len());
    let mut seen_vc = HashMap::new();
    let mut raw_static = Vec::with_capacity(r.switch.len());
    for (i, mut s) in r.switch.into_iter().enumerate() {
        raw_static.push(s.static_macs.take().unwrap_or_default());
        let vc = s.vc_ids.take();
        let vl = s.vlans.take();
        let dn = s.deny.take();
        let mut sw = switch(i, s, &mut names)?;
        sw.vc_ids = vc_ids(i, vc, &mut seen_vc)?;
        sw.vlans = vlan_list(i, vl)?;
        let deny = deny_list(i, dn)?;
        sw.filter = sw.filter.with_deny(&deny).map_err(|e| {
            ConfigError::new(format!("switch[{i}].deny"), deny.len(), e.to_string())
        })?;
        if !sw.vlans.is_empty() && sw.vlan_mode != VlanMode::VlanAware {
            return Err(ConfigError::new(
                format!("switch[{i}].vlans"),
                format!("{} VLANs", sw.vlans.len()),
                "needs vlan_mode = \"vlan-aware\"",
            ));
        }
        switches.push(sw);
    }
    let switch_idx: HashMap<String, usize> = switches
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.clone(), i))
        .collect();

    if r.session.len() > dataplane.max_sessions {
        return Err(ConfigError::new(
            "session",
            format!("{} sessions", r.session.len()),
            format!(
                "more than dataplane.max_sessions = {}",
                dataplane.max_sessions
            ),
        ));
    }
    let cx = Ctx {
        ports: &ports,
        switch_idx: &switch_idx,
        udp_port: l2tp.udp_port,
    };
    let mut names = HashSet::new();
    let mut ids = HashMap::new();
    let sessions = r
        .session
        .into_iter()
        .enumerate()
        .map(|(i, s)| session(i, s, &cx, &mut names, &mut ids))
        .collect::<R<Vec<_>>>()?;

    // Every worker's MAC table holds the static MACs of all switches.
    let mut total = 0;
    for (i, list) in raw_static.into_iter().enumerate() {
        let macs = static_macs(i, list, &switches, &sessions)?;
        total += macs.len();
        if total > dataplane.mac_table_size {
            return Err(ConfigError::new(
                format!("switch[{i}].static_macs"),
                format!("{total} static MACs in switch[0..={i}]"),
                format!(
                    "more than dataplane.mac_table_size = {}",
                    dataplane.mac_table_size
                ),
            ));
        }
        switches[i].static_macs = macs;
    }
    for (i, sw) in switches.iter().enumerate() {
        if sw.mtu_policy != MtuPolicy::Fragment {
            continue;
        }
        let df = sessions
            .iter()
            .find(|s| s.switch == i && ports[s.port].dont_fragment);
        if let Some(s) = df {
            return Err(ConfigError::new(
                format!("switch[{i}].mtu_policy"),
                "\"fragment\"",
                format!(
                    "session {:?} goes through port {:?}, which has dont_fragment = true: \
                     outer IPv4 fragmentation needs the DF bit clear; set dont_fragment = \
                     false on the port or mtu_policy = \"drop\"",
                    s.name, ports[s.port].name
                ),
            ));
        }
    }

    let mesh = super::mesh::validate(mesh_raw, &l2tp, &ports)?;

    // RFC 3931 §5.4.3: the Router ID is 32 bits and nonzero. Without
    // `l2tp.router_id` it is the first port's IPv4 address that has one
    // (`Config::router_id`); with IPv6-only ports there is none to take.
    if l2tp.router_id.is_none() && ports.iter().all(|p| p.address.is_none()) {
        return Err(ConfigError::new(
            "l2tp.router_id",
            "(missing)",
            "required when no port has an IPv4 address (RFC 3931 section 5.4.3: a \
             32-bit nonzero Router ID, a.b.c.d or a decimal number)",
        ));
    }

    Ok(Config {
        eal_args,
        dataplane,
        control,
        metrics,
        mesh,
        l2tp,
        ports,
        neighbors,
        neighbors6,
        switches,
        sessions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[[port]]
name = "wan0"
device = "net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap"
address = "192.0.2.1/24"
gateway = "192.0.2.254"

[[switch]]
name = "cust100"
"#;

    fn cfg(extra: &str) -> Result<Config, ConfigError> {
        Config::from_toml_str(&format!("{BASE}{extra}"))
    }

    #[track_caller]
    fn err(extra: &str, key: &str) -> ConfigError {
        match cfg(extra) {
            Ok(c) => panic!("expected error at {key}, got {c:?}"),
            Err(e) => {
                assert_eq!(e.key, key, "{e}");
                e
            }
        }
    }

    #[track_caller]
    fn err_full(doc: &str, key: &str) -> ConfigError {
        match Config::from_toml_str(doc) {
            Ok(c) => panic!("expected error at {key}, got {c:?}"),
            Err(e) => {
                assert_eq!(e.key, key, "{e}");
                e
            }
        }
    }

    const S: &str = r#"
[[session]]
name = "siteA"
switch = "cust100"
peer = "192.0.2.10"
local_session_id = 1001
remote_session_id = 2001
"#;

    #[test]
    fn minimal_defaults() {
        let c = cfg("").unwrap();
        assert_eq!(c.dataplane, Dataplane::default());
        assert_eq!(c.control, Control::default());
        assert_eq!(c.l2tp.udp_port, 1701);
        assert!(c.eal_args.is_empty());
        let p = &c.ports[0];
        assert_eq!(p.address, Some(Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!(p.prefix_len, 24);
        assert_eq!(p.mtu, 1500);
        assert_eq!(p.mac, None);
        assert!(p.is_vdev());
        assert_eq!(c.switches[0].aging, 300);
        assert_eq!(c.switches[0].mac_limit, 0);
        assert_eq!(c.switches[0].filter.allowed(), [0x0800, 0x0806, 0x86dd]);
        assert!(c.sessions.is_empty());
    }

    #[test]
    fn zero_sessions_and_switches_ok() {
        let c = Config::from_toml_str(
            "[[port]]\nname = \"p\"\ndevice = \"0000:01:00.0\"\naddress = \"10.0.0.1/8\"\n",
        )
        .unwrap();
        assert!(c.switches.is_empty() && c.sessions.is_empty());
        assert!(!c.ports[0].is_vdev());
    }

    /// The example config once paired `--no-pci` with a PCI port: the EAL
    /// then never probes the port.
    #[test]
    fn no_pci_with_a_pci_port_refused() {
        let pci =
            "[[port]]\nname = \"wan0\"\ndevice = \"0000:03:00.0\"\naddress = \"10.0.0.1/8\"\n";
        let e = Config::from_toml_str(&format!(
            "[eal]\nargs = [\"-m\", \"512\", \"--no-pci\"]\n{pci}"
        ))
        .unwrap_err();
        assert_eq!(e.key, "eal.args", "{e}");
        assert!(e.reason.contains("port[0] (wan0)"), "{e}");
        assert!(e.reason.contains("0000:03:00.0"), "{e}");
        // Without it, or with vdevs only, the same is fine.
        Config::from_toml_str(&format!("[eal]\nargs = [\"-m\", \"512\"]\n{pci}")).unwrap();
        Config::from_toml_str(
            "[eal]\nargs = [\"--no-pci\"]\n[[port]]\nname = \"p\"\ndevice = \"net_null0\"\naddress = \"10.0.0.1/8\"\n",
        )
        .unwrap();
    }

    #[test]
    fn session_parsed() {
        let c = cfg(&format!(
            "{S}encap = \"udp\"\nlocal_cookie = \"0xdeadbeef\"\nremote_cookie = \"0102030405060708\"\nl2spec = \"default\"\n"
        ))
        .unwrap();
        let s = &c.sessions[0];
        assert_eq!(s.switch, 0);
        assert_eq!(s.port, 0);
        assert_eq!(s.encap, Encap::Udp);
        assert_eq!(s.local_session_id, 1001);
        assert_eq!(s.remote_session_id, 2001);
        assert_eq!(s.local_cookie.as_bytes(), [0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(s.remote_cookie.as_bytes(), [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!((s.udp_local_port, s.udp_peer_port), (1701, 1701));
        assert_eq!(s.l2spec, L2SpecCfg::Default);
        let c = cfg(S).unwrap();
        let s = &c.sessions[0];
        assert_eq!(s.encap, Encap::Ip);
        assert!(s.local_cookie.is_empty());
        assert_eq!((s.udp_local_port, s.udp_peer_port), (0, 0));
        assert_eq!(s.l2spec, L2SpecCfg::None);
    }

    #[test]
    fn port_selection() {
        let two = r#"
[[port]]
name = "lan"
device = "net_null0"
address = "10.0.0.1/24"
"#;
        // Peer in wan0's prefix.
        let c = cfg(&format!("{two}{S}")).unwrap();
        assert_eq!(c.sessions[0].port, 0);
        // Peer in lan's prefix.
        let c = cfg(&format!("{two}{}", S.replace("192.0.2.10", "10.0.0.9"))).unwrap();
        assert_eq!(c.sessions[0].port, 1);
        assert_eq!(c.port_for(Ipv4Addr::new(10, 0, 0, 9)), Some(1));
        // Off-link peer: the first port with a gateway.
        let c = cfg(&format!("{two}{}", S.replace("192.0.2.10", "198.51.100.7"))).unwrap();
        assert_eq!(c.sessions[0].port, 0);
        // Explicit port.
        let c = cfg(&format!("{two}{S}port = \"lan\"\n")).unwrap();
        assert_eq!(c.sessions[0].port, 1);
        // No gateway anywhere and off-link: error.
        let doc = format!(
            "{}{}",
            BASE.replace("gateway = \"192.0.2.254\"\n", ""),
            S.replace("192.0.2.10", "198.51.100.7")
        );
        err_full(&doc, "session[0].peer");
        assert!(c.ports[0].contains(Ipv4Addr::new(192, 0, 2, 200)));
        assert!(!c.ports[0].contains(Ipv4Addr::new(192, 0, 3, 1)));
        assert_eq!(c.ports[0].netmask(), Ipv4Addr::new(255, 255, 255, 0));
    }

    #[test]
    fn duplicate_names() {
        err("[[switch]]\nname = \"cust100\"\n", "switch[1].name");
        let e = err(&format!("{S}{S}"), "session[1].name");
        assert_eq!(e.reason, "duplicate name");
        err(
            "[[port]]\nname = \"wan0\"\ndevice = \"net_null0\"\naddress = \"10.0.0.1/24\"\n",
            "port[1].name",
        );
        err("[[switch]]\nname = \"bad name\"\n", "switch[1].name");
    }

    #[test]
    fn duplicate_local_session_id() {
        let e = err(
            &format!("{S}{}", S.replace("siteA", "siteB")),
            "session[1].local_session_id",
        );
        assert_eq!(e.value, "1001");
        assert!(e.reason.contains("session[0]"), "{e}");
    }

    #[test]
    fn zero_session_id() {
        err(
            &S.replace("local_session_id = 1001", "local_session_id = 0"),
            "session[0].local_session_id",
        );
        err(
            &S.replace("remote_session_id = 2001", "remote_session_id = 0"),
            "session[0].remote_session_id",
        );
        err(
            &S.replace("remote_session_id = 2001", "remote_session_id = 4294967296"),
            "session[0].remote_session_id",
        );
        err(
            &S.replace("remote_session_id = 2001\n", ""),
            "session[0].remote_session_id",
        );
    }

    #[test]
    fn unknown_references() {
        err(&S.replace("\"cust100\"", "\"nope\""), "session[0].switch");
        err(&format!("{S}port = \"nope\"\n"), "session[0].port");
        err(
            "[[neighbor]]\nport = \"nope\"\naddress = \"192.0.2.10\"\nmac = \"02:00:00:00:00:0a\"\n",
            "neighbor[0].port",
        );
    }

    #[test]
    fn neighbors() {
        let c = cfg(
            "[[neighbor]]\nport = \"wan0\"\naddress = \"192.0.2.10\"\nmac = \"02:00:00:00:00:0A\"\n",
        )
        .unwrap();
        assert_eq!(
            c.neighbors,
            vec![Neighbor {
                port: 0,
                address: Ipv4Addr::new(192, 0, 2, 10),
                mac: [2, 0, 0, 0, 0, 0x0a]
            }]
        );
        err(
            "[[neighbor]]\nport = \"wan0\"\naddress = \"192.0.2.10\"\nmac = \"01:00:00:00:00:0a\"\n",
            "neighbor[0].mac",
        );
        err(
            "[[neighbor]]\nport = \"wan0\"\naddress = \"10.0.0.1\"\nmac = \"02:00:00:00:00:0a\"\n",
            "neighbor[0].address",
        );
    }

    #[test]
    fn bad_cookies() {
        let e = err(
            &format!("{S}local_cookie = \"0xdeadbeeg\"\n"),
            "session[0].local_cookie",
        );
        assert_eq!(e.value, "\"0xdeadbeeg\"");
        err(
            &format!("{S}remote_cookie = \"0x010203\"\n"),
            "session[0].remote_cookie",
        );
        err(
            &format!("{S}remote_cookie = \"0x0102030405\"\n"),
            "session[0].remote_cookie",
        );
        err(
            &format!("{S}remote_cookie = \"\"\n"),
            "session[0].remote_cookie",
        );
        let s = cfg(&format!("{S}local_cookie = \"DEADBEEF\"\n")).unwrap();
        assert_eq!(
            s.sessions[0].local_cookie.as_bytes(),
            [0xde, 0xad, 0xbe, 0xef]
        );
    }

    fn port_doc(addr: &str, extra: &str) -> String {
        format!("[[port]]\nname = \"p\"\ndevice = \"net_null0\"\naddress = \"{addr}\"\n{extra}")
    }

    /// An IPv6-only port (no `address`) and what may not hang off it.
    const V6ONLY: &str = "[l2tp]\nrouter_id = \"10.0.0.1\"\n\
        [[port]]\nname = \"p\"\ndevice = \"net_null0\"\naddress6 = \"2001:db8::1/64\"\n";

    #[test]
    fn ipv6_only_port_is_accepted() {
        let c = Config::from_toml_str(&format!(
            "{V6ONLY}[[switch]]\nname = \"s\"\n\
             [[session]]\nname = \"a\"\nswitch = \"s\"\npeer = \"2001:db8::10\"\n\
             local_session_id = 1\nremote_session_id = 2\n"
        ))
        .unwrap();
        let p = &c.ports[0];
        assert_eq!((p.address, p.prefix_len, p.gateway), (None, 0, None));
        assert_eq!(p.address_text(), "-");
        assert!(!p.contains(Ipv4Addr::UNSPECIFIED));
        assert!(p.v6.is_some());
        assert_eq!(c.router_id(), Ipv4Addr::new(10, 0, 0, 1));
    }

    #[test]
    fn ipv6_only_port_refusals() {
        // Neither address: the error names the IPv4 one.
        let e = err_full(
            "[[port]]\nname = \"p\"\ndevice = \"net_null0\"\n",
            "port[0].address",
        );
        assert!(e.reason.contains("address6"), "{e}");
        // No IPv4 gateway without an IPv4 address.
        let e = err_full(
            &format!("{V6ONLY}gateway = \"192.0.2.254\"\n"),
            "port[0].gateway",
        );
        assert!(
            e.to_string().contains("192.0.2.254") && e.reason.contains("IPv6-only"),
            "{e}"
        );
        // No IPv4 static session: named port, or no port to choose.
        let sess = |port: &str| {
            format!(
                "{V6ONLY}[[switch]]\nname = \"s\"\n[[session]]\nname = \"a\"\nswitch = \"s\"\n\
                 peer = \"192.0.2.10\"\n{port}local_session_id = 1\nremote_session_id = 2\n"
            )
        };
        let e = err_full(&sess("port = \"p\"\n"), "session[0].port");
        assert!(
            e.to_string().contains("\"p\"") && e.reason.contains("IPv4"),
            "{e}"
        );
        let e = err_full(&sess(""), "session[0].peer");
        assert!(e.to_string().contains("192.0.2.10"), "{e}");
        // No IPv4 [[neighbor]] on it.
        let e = err_full(
            &format!(
                "{V6ONLY}[[neighbor]]\nport = \"p\"\naddress = \"192.0.2.10\"\n\
                 mac = \"02:00:00:00:00:0a\"\n"
            ),
            "neighbor[0].address",
        );
        assert!(
            e.to_string().contains("192.0.2.10") && e.reason.contains("IPv6-only"),
            "{e}"
        );
        // No mesh without an IPv4 port.
        let e = err_full(
            &format!("{V6ONLY}[mesh]\npeers = [\"192.0.2.7\"]\n"),
            "mesh.peers[0]",
        );
        assert!(
            e.to_string().contains("192.0.2.7") && e.reason.contains("IPv4"),
            "{e}"
        );
        // The Router ID: required with no IPv4 port, and nonzero.
        let no_id = V6ONLY.replace("[l2tp]\nrouter_id = \"10.0.0.1\"\n", "");
        let e = err_full(&no_id, "l2tp.router_id");
        assert!(
            e.reason.contains("required") && e.reason.contains("5.4.3"),
            "{e}"
        );
        let e = err_full(&V6ONLY.replace("10.0.0.1", "0"), "l2tp.router_id");
        assert!(e.reason.contains("nonzero"), "{e}");
    }

    #[test]
    fn the_automatic_port_for_an_ipv4_peer_skips_ipv6_only_ports() {
        let c = Config::from_toml_str(&format!(
            "{V6ONLY}[[port]]\nname = \"q\"\ndevice = \"net_null1\"\n\
             address = \"192.0.2.1/24\"\ngateway = \"192.0.2.254\"\n\
             [[switch]]\nname = \"s\"\n[[session]]\nname = \"a\"\nswitch = \"s\"\n\
             peer = \"198.51.100.10\"\nlocal_session_id = 1\nremote_session_id = 2\n"
        ))
        .unwrap();
        assert_eq!(c.sessions[0].port, 1);
    }

    #[test]
    fn address_errors() {
        let e = err_full(&port_doc("192.0.2.1", ""), "port[0].address");
        assert!(e.reason.contains("prefix"), "{e}");
        let e = err_full(&port_doc("192.0.2.1/33", ""), "port[0].address");
        assert!(e.reason.contains("0..=32"), "{e}");
        err_full(&port_doc("192.0.2.300/24", ""), "port[0].address");
        err_full(&port_doc("192.0.2.1/x", ""), "port[0].address");
        let e = err_full(
            &port_doc("192.0.2.1/24", "gateway = \"192.0.3.1\"\n"),
            "port[0].gateway",
        );
        assert_eq!(
            e.to_string(),
            "port[0].gateway = \"192.0.3.1\": not inside the port prefix 192.0.2.1/24"
        );
        err_full(
            &port_doc("192.0.2.1/24", "gateway = \"192.0.2.1\"\n"),
            "port[0].gateway",
        );
        err_full(
            &port_doc("192.0.2.1/24", "mac = \"ff:ff:ff:ff:ff:ff\"\n"),
            "port[0].mac",
        );
        let c = Config::from_toml_str(&port_doc("192.0.2.1/32", "mac = \"02:00:00:00:00:01\"\n"))
            .unwrap();
        assert_eq!(c.ports[0].mac, Some([2, 0, 0, 0, 0, 1]));
        err_full(
            &port_doc("192.0.2.1/24", "").replace("net_null0", "eth0"),
            "port[0].device",
        );
    }

    #[test]
    fn peer_is_our_address() {
        err(&S.replace("192.0.2.10", "192.0.2.1"), "session[0].peer");
    }

    #[test]
    fn mtu_range() {
        err_full(&port_doc("192.0.2.1/24", "mtu = 67\n"), "port[0].mtu");
        err_full(&port_doc("192.0.2.1/24", "mtu = 9601\n"), "port[0].mtu");
        let c = Config::from_toml_str(&port_doc("192.0.2.1/24", "mtu = 9600\n")).unwrap();
        assert_eq!(c.ports[0].mtu, 9600);
    }

    #[test]
    fn ethertypes() {
        let c = cfg("[[switch]]\nname = \"s2\"\nethertypes = [\"ipv4\", \"0x88cc\", 34525, \"llc\", \"ipv4\"]\n")
            .unwrap();
        assert_eq!(c.switches[1].filter.allowed(), [0x0800, 0x88cc, 0x86dd, 0]);
        let e = err(
            "[[switch]]\nname = \"s2\"\nethertypes = [\"ipv4\", \"ipx\"]\n",
            "switch[1].ethertypes[1]",
        );
        assert_eq!(e.value, "\"ipx\"");
        err(
            "[[switch]]\nname = \"s2\"\nethertypes = [100]\n",
            "switch[1].ethertypes[0]",
        );
        let many: Vec<String> = (0..33).map(|i| format!("{}", 0x9000 + i)).collect();
        err(
            &format!(
                "[[switch]]\nname = \"s2\"\nethertypes = [{}]\n",
                many.join(", ")
            ),
            "switch[1].ethertypes",
        );
    }

    #[test]
    fn unknown_keys() {
        let e = err(&format!("{S}bogus = 1\n"), "session[0].bogus");
        assert!(e.reason.contains("unknown field"), "{e}");
        assert!(e.reason.contains("line "), "{e}");
        let e = err("[dataplane]\nmbuf = 1\n", "dataplane.mbuf");
        assert!(e.reason.contains("unknown field"), "{e}");
        let e = err("[nope]\nx = 1\n", "nope");
        assert!(e.reason.contains("unknown field"), "{e}");
        // A type error names the key too.
        let e = err("[dataplane]\nburst = \"32\"\n", "dataplane.burst");
        assert!(e.reason.contains("line 11, column 9"), "{e}");
        // Syntax error.
        let e = Config::from_toml_str("[[port]\nname = 1").unwrap_err();
        assert_eq!(e.key, "port[0]");
        assert!(e.reason.starts_with("line 1, column 7: "), "{e}");
        assert!(!e.reason.contains('\n'), "{e}");
    }

    #[test]
    fn too_many_sessions_and_switches() {
        err(
            &format!(
                "[dataplane]\nmax_sessions = 1\n{S}{}",
                S.replace("siteA", "b").replace("1001", "1002")
            ),
            "session",
        );
        err(
            "[dataplane]\nmax_switches = 1\n[[switch]]\nname = \"s2\"\n",
            "switch",
        );
    }

    #[test]
    fn rings_and_dataplane_ranges() {
        let e = err("[dataplane]\npunt_ring = 1000\n", "dataplane.punt_ring");
        assert!(e.reason.contains("power of two"), "{e}");
        err("[dataplane]\nevent_ring = 3000\n", "dataplane.event_ring");
        err("[dataplane]\ncommand_ring = 0\n", "dataplane.command_ring");
        err(
            "[dataplane]\nrx_descriptors = 1000\n",
            "dataplane.rx_descriptors",
        );
        err(
            "[dataplane]\ntx_descriptors = 32768\n",
            "dataplane.tx_descriptors",
        );
        err("[dataplane]\nburst = 65\n", "dataplane.burst");
        err("[dataplane]\nmbufs = 100\n", "dataplane.mbufs");
        err("[dataplane]\nmbuf_size = 70000\n", "dataplane.mbuf_size");
        err(
            "[dataplane]\nmac_table_size = 8\n",
            "dataplane.mac_table_size",
        );
        err("[dataplane]\nmac_refresh = 0\n", "dataplane.mac_refresh");
        let e = err("[dataplane]\nmac_refresh = 4096\n", "dataplane.mac_refresh");
        assert_eq!(e.reason, "must be in 1..=4095");
        err("[dataplane]\nmax_sessions = 0\n", "dataplane.max_sessions");
        err("[l2tp]\nudp_port = 0\n", "l2tp.udp_port");
    }

    #[test]
    fn no_ports() {
        let e = err_full("[[switch]]\nname = \"s\"\n", "port");
        assert!(e.reason.contains("at least one"), "{e}");
        err_full("", "port");
    }

    #[test]
    fn udp_ports() {
        let e = err(
            &format!("{S}encap = \"udp\"\nudp_local_port = 1702\n"),
            "session[0].udp_local_port",
        );
        assert!(e.reason.contains("[l2tp].udp_port"), "{e}");
        err(
            &format!("{S}udp_peer_port = 1702\n"),
            "session[0].udp_peer_port",
        );
        let c = cfg(&format!(
            "{S}encap = \"udp\"\nudp_peer_port = 5000\n[l2tp]\nudp_port = 1800\n"
        ))
        .unwrap();
        assert_eq!(c.sessions[0].udp_local_port, 1800);
        assert_eq!(c.sessions[0].udp_peer_port, 5000);
        err(&format!("{S}encap = \"gre\"\n"), "session[0].encap");
        err(&format!("{S}l2spec = \"cisco\"\n"), "session[0].l2spec");
    }

    #[test]
    fn mac_parsing() {
        assert_eq!(
            parse_mac("aa:BB:cc:dd:ee:ff"),
            Some([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff])
        );
        assert_eq!(
            parse_mac("aa-bb-cc-dd-ee-ff"),
            Some([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff])
        );
        assert_eq!(parse_mac("aa:bb:cc:dd:ee"), None);
        assert_eq!(parse_mac("aa:bb:cc:dd:ee:ff:00"), None);
        assert_eq!(parse_mac("aa:bb:cc:dd:ee:fg"), None);
        assert_eq!(parse_mac("aaa:bb:cc:dd:ee:ff"), None);
        assert_eq!(parse_mac("aa:bb:cc:dd::ff"), None);
    }

    #[test]
    fn error_display() {
        let e = ConfigError::new("session[2].local_cookie", "\"0x12\"", "bad");
        assert_eq!(e.to_string(), "session[2].local_cookie = \"0x12\": bad");
    }

    const SW2: &str = "[[switch]]\nname = \"s2\"\n";

    #[test]
    fn policy_defaults() {
        let c = cfg(S).unwrap();
        let sw = &c.switches[0];
        assert_eq!(sw.mss_clamp, MssClamp::Auto);
        assert_eq!(sw.vlan_mode, VlanMode::DropTagged);
        assert_eq!(sw.mtu_policy, MtuPolicy::Drop);
        assert_eq!(
            (
                sw.storm_broadcast,
                sw.storm_multicast,
                sw.storm_unknown_unicast
            ),
            (0, 0, 0)
        );
        assert_eq!(sw.mac_limit_per_member, 0);
        assert_eq!(
            (sw.flap_threshold, sw.flap_window, sw.flap_block),
            (5, 10, 0)
        );
        assert_eq!(sw.flap_config(), crate::switch::FlapConfig::default());
        assert!(sw.static_macs.is_empty());
        assert_eq!(sw.storm_rates(), [super::super::StormRate::UNLIMITED; 3]);
        let p = &c.ports[0];
        assert!(!p.dont_fragment);
        assert!(p.reassembly);
        assert_eq!(p.reassembly_timeout_ms, 2000);
        assert_eq!(p.reassembly_max_flows, 4096);
    }

    #[test]
    fn policy_values() {
        let c = cfg(&format!(
            "{SW2}mss_clamp = 1400\nvlan_mode = \"vlan-aware\"\nmtu_policy = \"fragment\"\n\
             storm_broadcast = 100\nstorm_multicast = 200\nstorm_unknown_unicast = 300\n\
             mac_limit_per_member = 50\nflap_threshold = 0\nflap_window = 3600\n\
             flap_block = 86400\n"
        ))
        .unwrap();
        let sw = &c.switches[1];
        assert_eq!(sw.mss_clamp, MssClamp::Fixed(1400));
        assert_eq!(sw.vlan_mode, VlanMode::VlanAware);
        assert_eq!(sw.mtu_policy, MtuPolicy::Fragment);
        assert_eq!(sw.storm_rates()[2].pps, 300);
        assert_eq!(sw.storm_rates()[0].burst, 100);
        assert_eq!(sw.mac_limit_per_member, 50);
        assert_eq!(
            (sw.flap_threshold, sw.flap_window, sw.flap_block),
            (0, 3600, 86400)
        );
        for (v, want) in [
            ("\"off\"", MssClamp::Off),
            ("\"auto\"", MssClamp::Auto),
            ("\"1400\"", MssClamp::Fixed(1400)),
            ("536", MssClamp::Fixed(536)),
            ("65495", MssClamp::Fixed(65495)),
        ] {
            let c = cfg(&format!("{SW2}mss_clamp = {v}\n")).unwrap();
            assert_eq!(c.switches[1].mss_clamp, want, "{v}");
        }
        let c = cfg(&format!(
            "{SW2}vlan_mode = \"transparent\"\nmtu_policy = \"drop\"\n"
        ))
        .unwrap();
        assert_eq!(c.switches[1].vlan_mode, VlanMode::Transparent);
        let c = cfg(&format!("{SW2}vlan_mode = \"drop-tagged\"\n")).unwrap();
        assert_eq!(c.switches[1].vlan_mode, VlanMode::DropTagged);
    }

    #[test]
    fn policy_bad_values() {
        for (line, key, value) in [
            ("mss_clamp = 535", "mss_clamp", "535"),
            ("mss_clamp = 65496", "mss_clamp", "65496"),
            ("mss_clamp = -1", "mss_clamp", "-1"),
            ("mss_clamp = \"fast\"", "mss_clamp", "\"fast\""),
            ("mss_clamp = \"100\"", "mss_clamp", "\"100\""),
            ("vlan_mode = \"tagged\"", "vlan_mode", "\"tagged\""),
            ("mtu_policy = \"frag\"", "mtu_policy", "\"frag\""),
            ("storm_broadcast = -1", "storm_broadcast", "-1"),
            (
                "storm_multicast = 100000001",
                "storm_multicast",
                "100000001",
            ),
            ("storm_unknown_unicast = -5", "storm_unknown_unicast", "-5"),
            ("mac_limit_per_member = -1", "mac_limit_per_member", "-1"),
            (
                "mac_limit_per_member = 4294967296",
                "mac_limit_per_member",
                "4294967296",
            ),
            ("flap_threshold = 65536", "flap_threshold", "65536"),
            ("flap_threshold = -1", "flap_threshold", "-1"),
            ("flap_window = 0", "flap_window", "0"),
            ("flap_window = 3601", "flap_window", "3601"),
            ("flap_block = -1", "flap_block", "-1"),
            ("flap_block = 86401", "flap_block", "86401"),
        ] {
            let e = err(&format!("{SW2}{line}\n"), &format!("switch[1].{key}"));
            assert_eq!(e.value, value, "{e}");
            assert!(!e.reason.is_empty());
        }
        let e = err(&format!("{SW2}mss_clamp = 535\n"), "switch[1].mss_clamp");
        assert!(e.reason.contains("536..=65495"), "{e}");
        // Type errors name the key too.
        err(&format!("{SW2}vlan_mode = 1\n"), "switch[1].vlan_mode");
        err(&format!("{SW2}mss_clamp = true\n"), "switch[1].mss_clamp");
    }

    #[test]
    fn port_fragment_keys() {
        let c = Config::from_toml_str(&port_doc(
            "192.0.2.1/24",
            "dont_fragment = true\nreassembly = false\nreassembly_timeout_ms = 60000\n\
             reassembly_max_flows = 1\n",
        ))
        .unwrap();
        let p = &c.ports[0];
        assert!(p.dont_fragment && !p.reassembly);
        assert_eq!(
            (p.reassembly_timeout_ms, p.reassembly_max_flows),
            (60000, 1)
        );
        for (line, key, value) in [
            ("reassembly_timeout_ms = 0", "reassembly_timeout_ms", "0"),
            (
                "reassembly_timeout_ms = 60001",
                "reassembly_timeout_ms",
                "60001",
            ),
            ("reassembly_max_flows = 0", "reassembly_max_flows", "0"),
            (
                "reassembly_max_flows = 1048577",
                "reassembly_max_flows",
                "1048577",
            ),
        ] {
            let e = err_full(
                &port_doc("192.0.2.1/24", &format!("{line}\n")),
                &format!("port[0].{key}"),
            );
            assert_eq!(e.value, value, "{e}");
        }
        err_full(
            &port_doc("192.0.2.1/24", "dont_fragment = \"yes\"\n"),
            "port[0].dont_fragment",
        );
        err_full(
            &port_doc("192.0.2.1/24", "reassembly = 1\n"),
            "port[0].reassembly",
        );
    }

    #[test]
    fn fragment_policy_needs_df_clear() {
        let df = BASE.replace(
            "gateway = \"192.0.2.254\"\n",
            "gateway = \"192.0.2.254\"\ndont_fragment = true\n",
        );
        let frag = df.replace(
            "name = \"cust100\"\n",
            "name = \"cust100\"\nmtu_policy = \"fragment\"\n",
        );
        let e = err_full(&format!("{frag}{S}"), "switch[0].mtu_policy");
        assert_eq!(e.value, "\"fragment\"");
        assert!(e.reason.contains("dont_fragment = true"), "{e}");
        assert!(
            e.reason.contains("\"siteA\"") && e.reason.contains("\"wan0\""),
            "{e}"
        );
        // DF with "drop", or "fragment" without DF, or no sessions: fine.
        Config::from_toml_str(&format!("{df}{S}")).unwrap();
        Config::from_toml_str(&frag).unwrap();
        let c = cfg(S).unwrap();
        assert_eq!(c.switches[0].mtu_policy, MtuPolicy::Drop);
        let nodf = BASE.replace(
            "name = \"cust100\"\n",
            "name = \"cust100\"\nmtu_policy = \"fragment\"\n",
        );
        Config::from_toml_str(&format!("{nodf}{S}")).unwrap();
    }

    #[test]
    fn static_macs() {
        let two = format!(
            "{S}{}[[switch]]\nname = \"other\"\n",
            S.replace("siteA", "siteB").replace("1001", "1002")
        );
        let sm = |entries: &str| {
            BASE.replace(
                "name = \"cust100\"\n",
                &format!("name = \"cust100\"\nstatic_macs = [{entries}]\n"),
            ) + &two
        };
        let c = Config::from_toml_str(&sm(
            "{ mac = \"02:00:00:00:00:01\", session = \"siteA\" }, \
             { mac = \"02:00:00:00:00:02\", session = \"siteB\" }",
        ))
        .unwrap();
        assert_eq!(
            c.switches[0].static_macs,
            vec![
                StaticMac {
                    mac: [2, 0, 0, 0, 0, 1],
                    session: 0
                },
                StaticMac {
                    mac: [2, 0, 0, 0, 0, 2],
                    session: 1
                },
            ]
        );
        assert!(c.switches[1].static_macs.is_empty());
        let bad = [
            (
                "{ mac = \"02:00:00:00:00:zz\", session = \"siteA\" }",
                "switch[0].static_macs[0].mac",
            ),
            (
                "{ mac = \"01:00:5e:00:00:01\", session = \"siteA\" }",
                "switch[0].static_macs[0].mac",
            ),
            (
                "{ mac = \"00:00:00:00:00:00\", session = \"siteA\" }",
                "switch[0].static_macs[0].mac",
            ),
            ("{ session = \"siteA\" }", "switch[0].static_macs[0].mac"),
            (
                "{ mac = \"02:00:00:00:00:01\" }",
                "switch[0].static_macs[0].session",
            ),
            (
                "{ mac = \"02:00:00:00:00:01\", session = \"nope\" }",
                "switch[0].static_macs[0].session",
            ),
            (
                "{ mac = \"02:00:00:00:00:01\", session = \"siteA\" }, \
                 { mac = \"02:00:00:00:00:01\", session = \"siteB\" }",
                "switch[0].static_macs[1].mac",
            ),
        ];
        for (entries, key) in bad {
            err_full(&sm(entries), key);
        }
        // Session of another switch.
        let doc = format!(
            "{}{S}[[switch]]\nname = \"other\"\nstatic_macs = [{{ mac = \"02:00:00:00:00:01\", \
             session = \"siteA\" }}]\n",
            BASE
        );
        let e = err_full(&doc, "switch[1].static_macs[0].session");
        assert!(e.reason.contains("\"cust100\""), "{e}");
        // Unknown key inside an entry.
        let e = Config::from_toml_str(&sm(
            "{ mac = \"02:00:00:00:00:01\", session = \"siteA\", vlan = 5 }",
        ))
        .unwrap_err();
        assert!(e.reason.contains("unknown field"), "{e}");
    }

    #[test]
    fn example_files_valid() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
        for f in ["las.example.toml", "pcap-demo.toml"] {
            let c = Config::load(&dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
            assert!(!c.ports.is_empty());
        }
        let e = Config::load(&dir.join("does-not-exist.toml")).unwrap_err();
        assert_eq!(e.key, "file");
    }

    // --- Limits: every list is counted before anything is expanded. ---

    /// `n` copies of `item`, comma-separated.
    fn many(n: usize, item: &str) -> String {
        vec![item; n].join(", ")
    }

    #[test]
    fn huge_vlans_refused_quickly() {
        // The issue's case: 3 MB of "1-4094" took 2.8 GB and 13 s.
        let doc = format!(
            "{SW2}vlan_mode = \"vlan-aware\"\nvlans = [{}]\n",
            many(330_000, "\"1-4094\"")
        );
        assert!(doc.len() > 3_000_000);
        let t = std::time::Instant::now();
        let e = err(&doc, "switch[1].vlans");
        let took = t.elapsed();
        assert_eq!(e.value, "330000 entries");
        assert_eq!(e.reason, "at most 4094 entries");
        assert!(took < std::time::Duration::from_millis(500), "{took:?}");
        // The limit itself: 4094 full ranges expand into one bitset.
        let t = std::time::Instant::now();
        let c = cfg(&format!(
            "{SW2}vlan_mode = \"vlan-aware\"\nvlans = [{}]\n",
            many(4094, "\"1-4094\"")
        ))
        .unwrap();
        let took = t.elapsed();
        assert_eq!(c.switches[1].vlans, (1..=4094).collect::<Vec<u16>>());
        assert!(took < std::time::Duration::from_millis(500), "{took:?}");
        // Written so the prescan cannot tell (an inline array of tables),
        // validation still counts before expanding.
        let doc = format!(
            "switch = [{{ name = \"s2\", vlan_mode = \"vlan-aware\", vlans = [{}] }}]\n",
            many(4095, "\"1-4094\"")
        );
        let e = err_full(
            &format!("{doc}{}", port_doc("192.0.2.1/24", "")),
            "switch[0].vlans",
        );
        assert_eq!(e.value, "4095 entries");
    }

    #[test]
    fn vlans_merge() {
        let c = cfg(&format!(
            "{SW2}vlan_mode = \"vlan-aware\"\nvlans = [10, \"5-12\", 10, \"12-12\", \"63-65\", \
             4094, \"4000-4094\"]\n"
        ))
        .unwrap();
        let want: Vec<u16> = (5..=12).chain(63..=65).chain(4000..=4094).collect();
        assert_eq!(c.switches[1].vlans, want);
        let e = err(
            &format!("{SW2}vlan_mode = \"vlan-aware\"\nvlans = [1, \"0-5\"]\n"),
            "switch[1].vlans[1]",
        );
        assert_eq!(e.value, "0-5");
        let e = err(
            &format!("{SW2}vlan_mode = \"vlan-aware\"\nvlans = [\"1-x\"]\n"),
            "switch[1].vlans[0]",
        );
        assert_eq!(e.value, "\"1-x\"");
    }

    #[test]
    fn every_list_has_a_limit() {
        let sw = |line: &str| format!("{SW2}{line}\n");
        for (doc, key, n) in [
            (
                format!("[eal]\nargs = [{}]\n", many(129, "\"-v\"")),
                "eal.args",
                129,
            ),
            (
                format!("[l2tp]\nallow = [{}]\n", many(1025, "\"10.0.0.1\"")),
                "l2tp.allow",
                1025,
            ),
            (
                "[[l2tp.peer]]\nprefix = \"10.0.0.0/8\"\nsecret = \"s\"\n".repeat(1025),
                "l2tp.peer",
                1025,
            ),
            (
                "[[neighbor]]\nport = \"wan0\"\naddress = \"192.0.2.9\"\nmac = \"02:00:00:00:00:09\"\n"
                    .repeat(4097),
                "neighbor",
                4097,
            ),
            (
                "[[port]]\nname = \"p\"\ndevice = \"net_null0\"\naddress = \"10.0.0.1/8\"\n"
                    .repeat(32),
                "port",
                33,
            ),
            (
                sw(&format!("ethertypes = [{}]", many(33, "\"ipv4\""))),
                "switch[1].ethertypes",
                33,
            ),
            (
                sw(&format!("deny = [{}]", many(17, "\"cdp\""))),
                "switch[1].deny",
                17,
            ),
            (
                sw(&format!("vc_ids = [{}]", many(4097, "\"7\""))),
                "switch[1].vc_ids",
                4097,
            ),
            (
                sw(&format!(
                    "static_macs = [{}]",
                    many(4097, "{ mac = \"02:00:00:00:00:01\", session = \"siteA\" }")
                )),
                "switch[1].static_macs",
                4097,
            ),
            ("[[switch]]\n".repeat(65535), "switch", 65536),
            ("[[session]]\n".repeat(65536), "session", 65536),
        ] {
            let e = err(&doc, key);
            assert_eq!(e.value, format!("{n} entries"), "{e}");
            assert!(e.reason.starts_with("at most "), "{e}");
        }
        // Repeated ethertypes merge, but count as written.
        let c = cfg(&sw(&format!("ethertypes = [{}]", many(32, "\"ipv4\"")))).unwrap();
        assert_eq!(c.switches[1].filter.allowed(), [0x0800]);
        // Static MACs of all switches fit every worker's MAC table.
        let doc = format!(
            "[dataplane]\nmac_table_size = 16\n{S}{SW2}static_macs = [{}]\n",
            (0..17)
                .map(|i| format!("{{ mac = \"02:00:00:00:00:{i:02x}\", session = \"siteA\" }}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let doc = doc.replace("switch = \"cust100\"", "switch = \"s2\"");
        let e = err(&doc, "switch[1].static_macs");
        assert!(e.reason.contains("mac_table_size = 16"), "{e}");
    }

    #[test]
    fn vc_ids_total() {
        let mut owner: HashMap<String, usize> =
            (0..MAX_VC_IDS_TOTAL).map(|n| (n.to_string(), 0)).collect();
        let e = vc_ids(
            1,
            Some(vec![StrOrInt::Int(1), StrOrInt::Int(-1)]),
            &mut owner,
        )
        .unwrap_err();
        assert_eq!(e.key, "switch[1].vc_ids[0]");
        assert!(e.reason.contains("switch[0]"), "{e}");
        let e = vc_ids(1, Some(vec![StrOrInt::Str("x".into())]), &mut owner).unwrap_err();
        assert_eq!(e.key, "switch[1].vc_ids[0]");
        assert!(e.reason.contains("65535 VC IDs"), "{e}");
    }

    #[test]
    fn file_size_capped() {
        let big = "#".repeat(super::super::limits::MAX_FILE_BYTES + 1);
        let e = Config::from_toml_str(&big).unwrap_err();
        assert_eq!(e.key, "file");
        assert!(e.reason.contains("16 MiB"), "{e}");
        let path = std::env::temp_dir().join(format!("las-cfg-big-{}.toml", std::process::id()));
        let f = std::fs::File::create(&path).unwrap();
        f.set_len(64 << 20).unwrap();
        let e = Config::load(&path).unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            (e.key.as_str(), e.value.as_str()),
            ("file", &*path.display().to_string())
        );
        assert!(e.reason.contains("16 MiB"), "{e}");
    }

    // --- Repeated entries: the same thing again merges, a conflict is refused. ---

    #[test]
    fn repeated_entries() {
        // VC IDs: 100, "100" and 4 bytes of 100 are one VC ID.
        let c = cfg(&format!(
            "{SW2}vc_ids = [100, \"100\", \"0x00000064\", \"x\"]\n"
        ))
        .unwrap();
        assert_eq!(c.switches[1].vc_ids, vec!["100".to_string(), "0x78".into()]);
        let e = err(
            &format!("{SW2}vc_ids = [100]\n[[switch]]\nname = \"s3\"\nvc_ids = [\"100\"]\n"),
            "switch[2].vc_ids[0]",
        );
        assert!(e.reason.contains("switch[1]"), "{e}");
        // Neighbours.
        let n = |ip: &str, mac: &str| {
            format!("[[neighbor]]\nport = \"wan0\"\naddress = \"{ip}\"\nmac = \"{mac}\"\n")
        };
        let c = cfg(&format!(
            "{}{}",
            n("192.0.2.10", "02:00:00:00:00:0a"),
            n("192.0.2.10", "02:00:00:00:00:0A")
        ))
        .unwrap();
        assert_eq!(c.neighbors.len(), 1);
        // Static MACs: the same MAC for the same session again.
        let doc = BASE.replace(
            "name = \"cust100\"\n",
            "name = \"cust100\"\nstatic_macs = [{ mac = \"02:00:00:00:00:01\", session = \"siteA\" }, \
             { mac = \"02:00:00:00:00:01\", session = \"siteA\" }]\n",
        ) + S;
        let c = Config::from_toml_str(&doc).unwrap();
        assert_eq!(c.switches[0].static_macs.len(), 1);
        // l2tp allow-list: one prefix written twice.
        let c = cfg(
            "[l2tp]\nallow = [\"10.0.0.0/8\", \"10.1.2.3/8\", \"192.0.2.7\", \"192.0.2.7/32\"]\n",
        )
        .unwrap();
        assert_eq!(c.l2tp.allow.len(), 2);
        // [[l2tp.peer]]: the same block again is kept once; another secret
        // for the same prefix is refused.
        let peer = |pfx: &str, secret: &str| {
            format!("[[l2tp.peer]]\nprefix = \"{pfx}\"\nsecret = \"{secret}\"\n")
        };
        let c = cfg(&format!(
            "{}{}",
            peer("10.0.0.0/8", "a"),
            peer("10.0.0.0/8", "a")
        ))
        .unwrap();
        assert_eq!(c.l2tp.peers.len(), 1);
        let e = err(
            &format!(
                "{}{}{}",
                peer("10.0.0.0/8", "a"),
                peer("10.1.0.0/16", "b"),
                peer("10.9.9.9/8", "c")
            ),
            "l2tp.peer[2].prefix",
        );
        assert!(e.reason.contains("l2tp.peer[0]"), "{e}");
    }

    #[test]
    fn conflicting_neighbors() {
        let n = |port: &str, ip: &str, mac: &str| {
            format!("[[neighbor]]\nport = \"{port}\"\naddress = \"{ip}\"\nmac = \"{mac}\"\n")
        };
        let e = err(
            &format!(
                "{}{}{}",
                n("wan0", "192.0.2.10", "02:00:00:00:00:0a"),
                n("wan0", "192.0.2.11", "02:00:00:00:00:0b"),
                n("wan0", "192.0.2.10", "02:00:00:00:00:0c")
            ),
            "neighbor[2].mac",
        );
        assert_eq!(e.value, "\"02:00:00:00:00:0c\"");
        assert!(
            e.reason.contains("neighbor[0]") && e.reason.contains("02:00:00:00:00:0a"),
            "{e}"
        );
        // The same address behind another port is another neighbour.
        let lan = "[[port]]\nname = \"lan\"\ndevice = \"net_null0\"\naddress = \"192.0.2.2/24\"\n";
        let c = cfg(&format!(
            "{lan}{}{}",
            n("wan0", "192.0.2.10", "02:00:00:00:00:0a"),
            n("lan", "192.0.2.10", "02:00:00:00:00:0b")
        ))
        .unwrap();
        assert_eq!(c.neighbors.len(), 2);
    }

    #[test]
    fn network_and_broadcast_addresses() {
        for (addr, why) in [
            ("192.0.2.0/24", "network address of 192.0.2.0/24"),
            ("192.0.2.255/24", "broadcast address of 192.0.2.0/24"),
            ("10.255.255.255/8", "broadcast address of 10.0.0.0/8"),
            ("10.0.0.0/8", "network address of 10.0.0.0/8"),
            ("192.0.2.4/30", "network address of 192.0.2.4/30"),
            ("192.0.2.7/30", "broadcast address of 192.0.2.4/30"),
        ] {
            let e = err_full(&port_doc(addr, ""), "port[0].address");
            assert_eq!(e.value, format!("{addr:?}"));
            assert!(e.reason.contains(why), "{e}");
        }
        // /31 (RFC 3021) and /32 have no network or broadcast address.
        for addr in [
            "192.0.2.0/31",
            "192.0.2.1/31",
            "192.0.2.0/32",
            "192.0.2.5/30",
        ] {
            Config::from_toml_str(&port_doc(addr, "")).unwrap();
        }
        let e = err_full(
            &port_doc("192.0.2.1/24", "gateway = \"192.0.2.255\"\n"),
            "port[0].gateway",
        );
        assert!(e.reason.contains("broadcast"), "{e}");
        err_full(
            &port_doc("192.0.2.1/24", "gateway = \"192.0.2.0\"\n"),
            "port[0].gateway",
        );
        let e = err(
            "[[neighbor]]\nport = \"wan0\"\naddress = \"192.0.2.255\"\nmac = \"02:00:00:00:00:0a\"\n",
            "neighbor[0].address",
        );
        assert!(e.reason.contains("broadcast"), "{e}");
    }

    // --- Errors echo at most SHOWN_MAX characters of a value. ---

    #[test]
    fn echoed_values_capped() {
        let long = "a".repeat(10_000_000);
        let e = err(
            &format!("[l2tp]\nhost_name = \"{long}\"\n"),
            "l2tp.host_name",
        );
        assert_eq!(
            e.value,
            format!("\"{}… (10000002 bytes)", &long[..SHOWN_MAX - 1])
        );
        assert!(e.to_string().len() < 200, "{e}");
        // A wrong type: serde quotes the whole string in its message.
        let e = err_full(
            &port_doc("192.0.2.1/24", &format!("mtu = \"{}\"\n", &long[..300])),
            "port[0].mtu",
        );
        assert!(e.value.ends_with("… (302 bytes)"), "{e}");
        assert!(
            e.reason.contains("… (302 bytes), expected an integer"),
            "{e}"
        );
        assert!(e.to_string().len() < 300, "{e}");
        // An unknown key: serde quotes it too, and it is the key.
        let e = Config::from_toml_str(&format!("{} = 1\n", &long[..1000])).unwrap_err();
        assert!(e.key.ends_with("… (1000 bytes)"), "{e}");
        assert!(e.to_string().len() < 400, "{e}");
        // Any value an error names, e.g. a device.
        let e = err_full(
            &port_doc("192.0.2.1/24", "").replace("net_null0", &long[..100]),
            "port[0].device",
        );
        assert_eq!(
            e.value.chars().count(),
            SHOWN_MAX + "… (102 bytes)".chars().count()
        );
    }

    #[test]
    fn shown_cuts_long_values() {
        assert_eq!(shown("abc"), "abc");
        let exact = "é".repeat(SHOWN_MAX);
        assert_eq!(shown(&exact), exact);
        let over = "é".repeat(SHOWN_MAX + 1);
        assert_eq!(
            shown(&over),
            format!("{}… ({} bytes)", "é".repeat(SHOWN_MAX), 2 * (SHOWN_MAX + 1))
        );
        assert_eq!(
            cap_quoted(&format!("x \"{}\" y `z`", "b".repeat(70))),
            format!("x \"{}… (72 bytes) y `z`", "b".repeat(SHOWN_MAX - 1))
        );
        assert_eq!(cap_quoted("a \"b\\\"c\" d"), "a \"b\\\"c\" d");
        assert_eq!(cap_quoted("open \"end"), "open \"end");
    }

    // --- A TOML date/time where a number or string was expected. ---

    #[test]
    fn datetime_named() {
        for (line, key, expected) in [
            ("aging = 1979-05-27", "aging", "expected an integer"),
            (
                "mss_clamp = 1979-05-27T07:32:00Z",
                "mss_clamp",
                "expected an integer or a string",
            ),
            ("vlan_mode = 07:32:00", "vlan_mode", "expected a string"),
            (
                "vc_ids = [1, 1979-05-27 07:32:00]",
                "vc_ids",
                "expected an integer or a string",
            ),
        ] {
            let e = err(&format!("{SW2}{line}\n"), &format!("switch[1].{key}"));
            assert!(
                e.reason
                    .contains(&format!("invalid type: date/time, {expected}")),
                "{e}"
            );
            assert!(!e.reason.contains("map"), "{e}");
        }
        let e = err(
            "[l2tp]\nhello_interval = 1979-05-27\n",
            "l2tp.hello_interval",
        );
        assert_eq!(e.value, "1979-05-27");
        // A real table is still a map.
        let e = err(&format!("{SW2}aging = {{ a = 1 }}\n"), "switch[1].aging");
        assert!(e.reason.contains("invalid type: map"), "{e}");
    }
}
