//! Per-switch L2 filter applied to the inner Ethernet frame.
//!
//! * Destinations in the IEEE 802.1 reserved range `01:80:c2:00:00:00..=0f`
//!   (STP BPDUs, pause, LACP, LLDP, 802.1X, ...) are always dropped.
//! * Type/length values below `0x0600` are 802.3 length fields (LLC frames);
//!   they pass only if the allow-list contains the pseudo-entry [`LLC`].
//! * Frames to Cisco's L2 protocol address (CDP, VTP, DTP, PVST+:
//!   `01:00:0c:cc:cc:cc/cd`) drop when the deny list names [`CISCO`].
//! * An ethertype in the deny list drops.
//! * Otherwise the ethertype must be in the allow-list, or the allow-list
//!   holds [`ANY`].

use std::fmt;

/// Pseudo-ethertype in an allow-list meaning "802.3/LLC frames".
pub const LLC: u16 = 0x0000;

/// Pseudo-ethertype in an allow-list meaning "every ethertype".
pub const ANY: u16 = 0xffff;

/// Pseudo-entry in a deny list meaning "Cisco's L2 protocols" (CDP, VTP,
/// DTP, PVST+, sent to 01:00:0c:cc:cc:cc / cd as LLC/SNAP frames).
pub const CISCO: u16 = 0x0001;

/// Maximum number of entries in an allow-list.
pub const MAX_ETHERTYPES: usize = 32;

/// Maximum number of entries in a deny list.
pub const MAX_DENY: usize = 16;

/// Default allow-list: IPv4, ARP, IPv6.
pub const DEFAULT_ETHERTYPES: [u16; 3] = [0x0800, 0x0806, 0x86dd];

/// Filter decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// Destination in the IEEE reserved range (BPDUs, LACP, LLDP, ...).
    DropBpdu,
    /// Ethertype (or LLC) not in the allow-list.
    DropEthertype,
}

/// Error building an [`L2Filter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterError {
    /// More than [`MAX_ETHERTYPES`] (or [`MAX_DENY`]) entries were given.
    TooMany(usize),
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterError::TooMany(n) => {
                write!(f, "{n} ethertypes given, at most {MAX_ETHERTYPES} allowed")
            }
        }
    }
}

impl std::error::Error for FilterError {}

/// Ethertype allow- and deny-lists held inline (no heap), scanned linearly.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct L2Filter {
    types: [u16; MAX_ETHERTYPES],
    len: u8,
    deny: [u16; MAX_DENY],
    deny_len: u8,
    /// The verdict for a unicast destination and the three common types
    /// (bit 0 IPv4, 1 ARP, 2 IPv6; set = pass), worked out by the full
    /// rules whenever the lists change (`with_quick`).
    quick: u8,
}

/// The common ethertypes `L2Filter::quick` decides, by bit.
const QUICK: [u16; 3] = [0x0800, 0x0806, 0x86dd];

/// The bit of `QUICK` for ethertype `et`; 0 for any other type.
#[inline(always)]
fn quick_bit(et: u16) -> u8 {
    // IPv4 asked first: the common case, one compare.
    if et == 0x0800 {
        1
    } else if et == 0x86dd {
        4
    } else if et == 0x0806 {
        2
    } else {
        0
    }
}

impl fmt::Debug for L2Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.allowed().iter().map(|t| format!("{t:#06x}")))
            .finish()
    }
}

impl Default for L2Filter {
    fn default() -> Self {
        let mut types = [0u16; MAX_ETHERTYPES];
        types[..DEFAULT_ETHERTYPES.len()].copy_from_slice(&DEFAULT_ETHERTYPES);
        L2Filter {
            types,
            len: DEFAULT_ETHERTYPES.len() as u8,
            deny: [0; MAX_DENY],
            deny_len: 0,
            quick: 0,
        }
        .with_quick()
    }
}

impl L2Filter {
    /// Build a filter from an allow-list (duplicates are dropped).
    pub fn new(allowed: &[u16]) -> Result<Self, FilterError> {
        if allowed.len() > MAX_ETHERTYPES {
            return Err(FilterError::TooMany(allowed.len()));
        }
        let mut f = L2Filter {
            types: [0; MAX_ETHERTYPES],
            len: 0,
            deny: [0; MAX_DENY],
            deny_len: 0,
            quick: 0,
        };
        for &t in allowed {
            if !f.allowed().contains(&t) {
                f.types[usize::from(f.len)] = t;
                f.len += 1;
            }
        }
        Ok(f.with_quick())
    }

    /// Adds a deny list (ethertypes, [`LLC`], [`CISCO`]).
    pub fn with_deny(mut self, deny: &[u16]) -> Result<Self, FilterError> {
        if deny.len() > MAX_DENY {
            return Err(FilterError::TooMany(deny.len()));
        }
        self.deny_len = 0;
        for &t in deny {
            if !self.denied().contains(&t) {
                self.deny[usize::from(self.deny_len)] = t;
                self.deny_len += 1;
            }
        }
        Ok(self.with_quick())
    }

    /// The deny list.
    pub fn denied(&self) -> &[u16] {
        &self.deny[..usize::from(self.deny_len).min(MAX_DENY)]
    }

    /// The allow-list.
    pub fn allowed(&self) -> &[u16] {
        &self.types[..usize::from(self.len).min(MAX_ETHERTYPES)]
    }

    /// Works out `quick` from the lists by the full rules.
    fn with_quick(mut self) -> Self {
        self.quick = 0;
        for (bit, &t) in QUICK.iter().enumerate() {
            if self.check_full([0, 0, 0, 0, 0, 0], t) == Verdict::Pass {
                self.quick |= 1 << bit;
            }
        }
        self
    }

    /// Decide on an inner frame given its destination MAC and its
    /// type/length field.
    #[inline(always)]
    pub fn check(&self, dst_mac: [u8; 6], ethertype_or_len: u16) -> Verdict {
        // The reserved and Cisco destinations are group addresses: for a
        // unicast one, a common type is one bit (perf/instructions.sh).
        if dst_mac[0] & 1 == 0 {
            let bit = quick_bit(ethertype_or_len);
            if bit != 0 {
                return if self.quick & bit != 0 {
                    Verdict::Pass
                } else {
                    Verdict::DropEthertype
                };
            }
        }
        self.check_full(dst_mac, ethertype_or_len)
    }

    /// Whether [`check`](Self::check) passes a frame with ethertype
    /// `et` to any unicast destination by the quick rule alone: true
    /// only for IPv4, ARP and IPv6 frames the lists let through (never
    /// for a VLAN tag's ethertype). False says nothing: `check` decides.
    #[inline(always)]
    pub fn quick_pass(&self, et: u16) -> bool {
        self.quick & quick_bit(et) != 0
    }

    /// `check` by the rules in full (the module doc).
    #[inline(never)]
    fn check_full(&self, dst_mac: [u8; 6], ethertype_or_len: u16) -> Verdict {
        if dst_mac[..5] == [0x01, 0x80, 0xc2, 0x00, 0x00] && dst_mac[5] <= 0x0f {
            return Verdict::DropBpdu;
        }
        let deny = self.denied();
        if !deny.is_empty()
            && dst_mac[..5] == [0x01, 0x00, 0x0c, 0xcc, 0xcc]
            && (dst_mac[5] == 0xcc || dst_mac[5] == 0xcd)
            && deny.contains(&CISCO)
        {
            return Verdict::DropBpdu;
        }
        let t = if ethertype_or_len < 0x0600 {
            LLC
        } else {
            ethertype_or_len
        };
        if !deny.is_empty() && deny.contains(&t) {
            return Verdict::DropEthertype;
        }
        // One pass over the allow-list for `t` or ANY.
        if self.allowed().iter().any(|&a| a == t || a == ANY) {
            Verdict::Pass
        } else {
            Verdict::DropEthertype
        }
    }
}

const NAMES: &[(&str, u16)] = &[
    ("ipv4", 0x0800),
    ("arp", 0x0806),
    ("ipv6", 0x86dd),
    ("vlan", 0x8100),
    ("8021q", 0x8100),
    ("qinq", 0x88a8),
    ("8021ad", 0x88a8),
    ("lldp", 0x88cc),
    ("mpls", 0x8847),
    ("mpls-multicast", 0x8848),
    ("pppoe-discovery", 0x8863),
    ("pppoe-session", 0x8864),
    ("rarp", 0x8035),
    ("llc", LLC),
    ("netbeui", LLC),
    ("lacp", 0x8809),
    ("slow", 0x8809),
    ("pause", 0x8808),
    ("8021x", 0x888e),
    ("eapol", 0x888e),
    ("any", ANY),
    ("cdp", CISCO),
];

/// Parse an ethertype given by name (case-insensitive: `ipv4`, `arp`,
/// `ipv6`, `vlan`/`8021q`, `qinq`/`8021ad`, `lldp`, `mpls`,
/// `mpls-multicast`, `pppoe-discovery`, `pppoe-session`, `rarp`, `llc`), by
/// hex (`0x88cc`) or by decimal. Numbers must be `>= 0x0600` (or 0 = [`LLC`]).
pub fn parse_ethertype(name: &str) -> Option<u16> {
    let s = name.trim();
    // STP/RSTP BPDUs go to the reserved range and never cross; naming them
    // in a list is allowed and means LLC (they are 802.3/LLC frames).
    if s.eq_ignore_ascii_case("stp") || s.eq_ignore_ascii_case("rstp") {
        return Some(LLC);
    }
    if let Some(&(_, v)) = NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(s)) {
        return Some(v);
    }
    let v = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u16::from_str_radix(h, 16).ok()?
    } else if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse::<u16>().ok()?
    } else {
        return None;
    };
    if v == LLC || v >= 0x0600 {
        Some(v)
    } else {
        None
    }
}

/// Canonical name of an ethertype for display, if it has one.
pub fn ethertype_name(t: u16) -> Option<&'static str> {
    NAMES.iter().find(|(_, v)| *v == t).map(|(n, _)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNICAST: [u8; 6] = [0x02, 0, 0, 0, 0, 1];
    const BCAST: [u8; 6] = [0xff; 6];

    /// The one-bit answer for unicast frames of the common types is the
    /// answer of the full rules, for every combination of allow and deny
    /// lists over the common types, ANY, LLC and an unrelated type.
    #[test]
    fn quick_agrees_with_full_rules() {
        let pool = [0x0800, 0x0806, 0x86dd, ANY, LLC, 0x88cc];
        let dsts = [
            UNICAST,
            BCAST,
            [0x01, 0x80, 0xc2, 0, 0, 0],
            [0x01, 0, 0x0c, 0xcc, 0xcc, 0xcc],
        ];
        let types = [0x0800, 0x0806, 0x86dd, 0x88cc, 0x0100, 0x8100];
        let mut passed = 0;
        for allow_bits in 0u32..64 {
            for deny_bits in 0u32..16 {
                let allow: Vec<u16> = (0..6)
                    .filter(|b| allow_bits >> b & 1 != 0)
                    .map(|b| pool[b])
                    .collect();
                let deny: Vec<u16> = (0..4)
                    .filter(|b| deny_bits >> b & 1 != 0)
                    .map(|b| pool[b])
                    .collect();
                let f = L2Filter::new(&allow).unwrap().with_deny(&deny).unwrap();
                for d in dsts {
                    for t in types {
                        let v = f.check(d, t);
                        assert_eq!(
                            v,
                            f.check_full(d, t),
                            "allow {allow:x?} deny {deny:x?} dst {d:x?} type {t:#x}"
                        );
                        passed += usize::from(v == Verdict::Pass);
                        // `quick_pass` (the worker's fast path) is `check`
                        // for unicast and a quick type, and no for the rest.
                        if d == UNICAST && QUICK.contains(&t) {
                            assert_eq!(f.quick_pass(t), v == Verdict::Pass, "type {t:#x}");
                        } else if d == UNICAST {
                            assert!(!f.quick_pass(t), "type {t:#x}");
                        }
                    }
                }
            }
        }
        assert!(passed > 0);
        let d = L2Filter::default();
        assert_eq!(d.check(UNICAST, 0x0800), Verdict::Pass);
        assert_eq!(d.check(UNICAST, 0x88cc), Verdict::DropEthertype);
    }

    #[test]
    fn any_and_deny() {
        let cdp = [0x01, 0x00, 0x0c, 0xcc, 0xcc, 0xcc];
        let f = L2Filter::new(&[ANY]).unwrap();
        assert_eq!(f.check(UNICAST, 0x88cc), Verdict::Pass);
        assert_eq!(
            f.check(UNICAST, 0x0040),
            Verdict::Pass,
            "LLC passes with any"
        );
        assert_eq!(f.check(cdp, 0x0040), Verdict::Pass);
        let f = f.with_deny(&[CISCO, 0x88cc, LLC]).unwrap();
        assert_eq!(f.check(cdp, 0x0040), Verdict::DropBpdu);
        assert_eq!(f.check(UNICAST, 0x88cc), Verdict::DropEthertype);
        assert_eq!(
            f.check(UNICAST, 0x0040),
            Verdict::DropEthertype,
            "NetBEUI/LLC"
        );
        assert_eq!(f.check(UNICAST, 0x0800), Verdict::Pass);
        // The reserved range still wins.
        assert_eq!(
            f.check([0x01, 0x80, 0xc2, 0, 0, 0], 0x0800),
            Verdict::DropBpdu
        );
        assert_eq!(parse_ethertype("cdp"), Some(CISCO));
        assert_eq!(parse_ethertype("any"), Some(ANY));
        assert_eq!(parse_ethertype("netbeui"), Some(LLC));
        assert!(L2Filter::default().with_deny(&[0x0800; 17]).is_err());
    }

    #[test]
    fn defaults_pass_ip_arp() {
        let f = L2Filter::default();
        assert_eq!(f.allowed(), &DEFAULT_ETHERTYPES);
        assert_eq!(f.check(UNICAST, 0x0800), Verdict::Pass);
        assert_eq!(f.check(BCAST, 0x0806), Verdict::Pass);
        assert_eq!(f.check(UNICAST, 0x86dd), Verdict::Pass);
        assert_eq!(f.check(UNICAST, 0x8100), Verdict::DropEthertype);
    }

    #[test]
    fn bpdu_always_dropped() {
        let stp = [0x01, 0x80, 0xc2, 0, 0, 0];
        let f = L2Filter::default();
        assert_eq!(f.check(stp, 0x0026), Verdict::DropBpdu);
        // Even if everything relevant is allow-listed.
        let f = L2Filter::new(&[LLC, 0x0800, 0x88cc, 0x8809]).unwrap();
        assert_eq!(f.check(stp, 0x0026), Verdict::DropBpdu);
        assert_eq!(f.check(stp, 0x0800), Verdict::DropBpdu);
        assert_eq!(
            f.check([0x01, 0x80, 0xc2, 0, 0, 0x0e], 0x88cc),
            Verdict::DropBpdu
        );
        assert_eq!(
            f.check([0x01, 0x80, 0xc2, 0, 0, 0x0f], 0x0800),
            Verdict::DropBpdu
        );
        // Just outside the range is not a BPDU.
        assert_eq!(
            f.check([0x01, 0x80, 0xc2, 0, 0, 0x10], 0x0800),
            Verdict::Pass
        );
    }

    #[test]
    fn lldp_dropped_by_default() {
        let f = L2Filter::default();
        assert_eq!(f.check(UNICAST, 0x88cc), Verdict::DropEthertype);
        let f = L2Filter::new(&[0x88cc]).unwrap();
        assert_eq!(f.check(UNICAST, 0x88cc), Verdict::Pass);
        assert_eq!(f.check(UNICAST, 0x0800), Verdict::DropEthertype);
    }

    #[test]
    fn llc_length_field() {
        let f = L2Filter::default();
        assert_eq!(f.check(UNICAST, 0x0040), Verdict::DropEthertype);
        assert_eq!(f.check(UNICAST, 0x05dc), Verdict::DropEthertype);
        let f = L2Filter::new(&[LLC]).unwrap();
        assert_eq!(f.check(UNICAST, 0x0040), Verdict::Pass);
        assert_eq!(f.check(UNICAST, 0x0800), Verdict::DropEthertype);
    }

    #[test]
    fn too_many() {
        let many: Vec<u16> = (0..33).map(|i| 0x9000 + i).collect();
        assert_eq!(L2Filter::new(&many), Err(FilterError::TooMany(33)));
        let f = L2Filter::new(&many[..32]).unwrap();
        assert_eq!(f.allowed().len(), 32);
        assert_eq!(f.check(UNICAST, 0x901f), Verdict::Pass);
        assert_eq!(f.check(UNICAST, 0x9020), Verdict::DropEthertype);
        let f = L2Filter::new(&[0x0800, 0x0800]).unwrap();
        assert_eq!(f.allowed(), &[0x0800]);
        assert_eq!(
            L2Filter::new(&[]).unwrap().check(UNICAST, 0x0800),
            Verdict::DropEthertype
        );
    }

    #[test]
    fn names() {
        assert_eq!(parse_ethertype("ipv4"), Some(0x0800));
        assert_eq!(parse_ethertype("IPv6"), Some(0x86dd));
        assert_eq!(parse_ethertype("arp"), Some(0x0806));
        assert_eq!(parse_ethertype("vlan"), Some(0x8100));
        assert_eq!(parse_ethertype("8021q"), Some(0x8100));
        assert_eq!(parse_ethertype("qinq"), Some(0x88a8));
        assert_eq!(parse_ethertype("8021ad"), Some(0x88a8));
        assert_eq!(parse_ethertype("lldp"), Some(0x88cc));
        assert_eq!(parse_ethertype("mpls"), Some(0x8847));
        assert_eq!(parse_ethertype("pppoe-discovery"), Some(0x8863));
        assert_eq!(parse_ethertype("pppoe-session"), Some(0x8864));
        assert_eq!(parse_ethertype("llc"), Some(LLC));
        assert_eq!(parse_ethertype("0x88cc"), Some(0x88cc));
        assert_eq!(parse_ethertype("0X88CC"), Some(0x88cc));
        assert_eq!(parse_ethertype("2048"), Some(0x0800));
        assert_eq!(parse_ethertype("0"), Some(LLC));
        assert_eq!(parse_ethertype("0x05dc"), None);
        assert_eq!(parse_ethertype("0x10000"), None);
        assert_eq!(parse_ethertype("ipx"), None);
        assert_eq!(parse_ethertype(""), None);
        assert_eq!(parse_ethertype("-1"), None);
        assert_eq!(ethertype_name(0x0800), Some("ipv4"));
        assert_eq!(ethertype_name(0x1234), None);
    }
}
