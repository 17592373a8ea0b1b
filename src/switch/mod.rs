//! Virtual switching: MAC tables, learning, aging, filters.
//!
//! * [`mactable::MacTable`] — the per-worker replica used on the fast path
//!   (preallocated, no allocation or panic per packet, O(1) flushes).
//! * [`aging::AgingTable`] — the control core's merged table (the truth).
//! * [`filter::L2Filter`] — per-switch ethertype allow-list and BPDU drop.
//! * [`policy`] — TCP MSS clamping, VLAN modes and VLAN learning domains,
//!   MTU policy.
//! * [`storm::StormControl`] — per-member broadcast/multicast/unknown-unicast
//!   token buckets.
//! * [`flap::FlapDetector`] — MAC move (loop) detection on the control core.
//!
//! MAC addresses are carried as `u64` values holding the 48-bit address
//! big-endian in the low 48 bits (see [`mac_to_u64`] / [`mac_from_u64`]).
#![forbid(unsafe_code)]

use std::fmt;

pub mod aging;
pub mod filter;
pub mod flap;
pub mod mactable;
pub mod policy;
pub mod storm;

pub use aging::{AgingEntry, AgingTable, Touch};
pub use filter::{ethertype_name, parse_ethertype, FilterError, L2Filter, Verdict, LLC};
pub use flap::{FlapConfig, FlapDetector, FlapVerdict};
pub use mactable::{Learn, MacTable};
pub use policy::{
    clamp_mss, clamp_mss_fixed, mss_ceiling, vlan_verdict, DomainError, MssClamp, MssResult,
    MtuPolicy, VlanDomains, VlanDrop, VlanMode,
};
pub use storm::{StormControl, StormRate, TrafficClass};

/// Identifier of a virtual switch (a dense index into preallocated arrays).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SwitchId(pub u16);

/// Identifier of a switch member (today a pseudowire session); a dense index.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MemberId(pub u16);

impl fmt::Debug for SwitchId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sw{}", self.0)
    }
}

impl fmt::Display for SwitchId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sw{}", self.0)
    }
}

impl fmt::Debug for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "m{}", self.0)
    }
}

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "m{}", self.0)
    }
}

/// Mask of the 48 address bits in a `mac_u64`.
pub const MAC_MASK: u64 = 0xffff_ffff_ffff;

/// Pack a MAC address into the low 48 bits of a `u64` (big-endian order).
#[inline]
pub fn mac_to_u64(mac: [u8; 6]) -> u64 {
    u64::from_be_bytes([0, 0, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]])
}

/// Unpack the low 48 bits of `v` into a MAC address.
#[inline]
pub fn mac_from_u64(v: u64) -> [u8; 6] {
    let b = v.to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

/// True for group (multicast/broadcast) addresses: I/G bit of the first octet.
#[inline]
pub fn mac_is_group(mac_u64: u64) -> bool {
    mac_u64 & (1 << 40) != 0
}

/// Format a `mac_u64` as `aa:bb:cc:dd:ee:ff`.
pub fn mac_fmt(mac_u64: u64) -> String {
    let m = mac_from_u64(mac_u64);
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

/// Split-horizon flooding: every member of the switch except the ingress one.
pub fn flood_targets<'a>(
    members: &'a [MemberId],
    ingress: MemberId,
) -> impl Iterator<Item = MemberId> + 'a {
    members.iter().copied().filter(move |&m| m != ingress)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_roundtrip() {
        let m = [0x02, 0x00, 0x5e, 0x10, 0xab, 0xff];
        let v = mac_to_u64(m);
        assert_eq!(v, 0x0200_5e10_abff);
        assert_eq!(mac_from_u64(v), m);
        assert_eq!(mac_fmt(v), "02:00:5e:10:ab:ff");
        assert!(!mac_is_group(v));
        assert!(mac_is_group(mac_to_u64([0xff; 6])));
        assert!(mac_is_group(mac_to_u64([0x01, 0x00, 0x5e, 0, 0, 1])));
    }

    #[test]
    fn id_debug() {
        assert_eq!(format!("{:?}", SwitchId(3)), "sw3");
        assert_eq!(format!("{:?}", MemberId(7)), "m7");
        assert_eq!(format!("{}", MemberId(7)), "m7");
    }

    #[test]
    fn flood_split_horizon() {
        let members = [MemberId(1), MemberId(2), MemberId(3)];
        let v: Vec<_> = flood_targets(&members, MemberId(2)).collect();
        assert_eq!(v, vec![MemberId(1), MemberId(3)]);
        let v: Vec<_> = flood_targets(&members, MemberId(9)).collect();
        assert_eq!(v, members.to_vec());
        assert_eq!(flood_targets(&[MemberId(1)], MemberId(1)).count(), 0);
    }
}
