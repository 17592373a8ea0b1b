//! Whether las takes a pseudowire a peer asks for (ICRQ), decided before
//! it answers: the VC ID must name a switch that exists or may be
//! created, a member slot must be free, and the switch must be able to
//! carry the PW type. A "no" becomes a CDN whose Error Message says why
//! (and a log line and a counter, see [`super::refusals`]).
//!
//! PW type 4 (Ethernet VLAN) follows RFC 4448's tagged mode as RFC 4719
//! applies it to L2TPv3: every frame on such a pseudowire carries a
//! VLAN tag. A `drop-tagged` switch (the default, and what an
//! auto-created switch gets) drops tagged frames and so cannot carry one:
//! the session is refused (CDN result 14). In `transparent` and
//! `vlan-aware` switches it is accepted, and the data plane drops and
//! counts (`untagged_on_vlan_pw`) any untagged frame from or to it.

use super::l2tp::{Denied, RefuseReason};
use crate::switch::policy::VlanMode;
use crate::wire::l2tp::message::{cdn_result, error_code, pw_type};
use crate::wire::l2tp::VcId;

/// CDN result code for "attempt to connect to non-existent forwarder"
/// (RFC 4667 §7, as Wireshark's `result_code_cdn_vals` lists it).
pub const CDN_NO_FORWARDER: u16 = 24;

/// The switch a VC ID maps to, as far as admission cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// A switch exists (configured `vc_ids`, or auto-created before).
    Existing { name: &'a str, vlan_mode: VlanMode },
    /// None yet: one would be auto-created (drop-tagged).
    New,
}

/// What the control core knows when a session is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Room {
    /// `l2tp.auto_switch`.
    pub auto_switch: bool,
    /// A switch slot is free (`dataplane.max_switches`).
    pub switch_free: bool,
    pub max_switches: usize,
    /// A member slot is free (`dataplane.max_sessions`).
    pub member_free: bool,
    pub max_sessions: usize,
    /// Auto-created switches the asking peer holds, and how many it may.
    pub peer_auto_switches: usize,
    pub max_auto_per_peer: usize,
}

fn denied(reason: RefuseReason, result: u16, error: Option<u16>, detail: String) -> Denied {
    Denied {
        reason,
        result,
        error,
        detail,
    }
}

/// Decides on a session for `vc` of PW type `pw`.
pub fn admit(vc: &VcId, pw: u16, target: Target, room: Room) -> Result<(), Denied> {
    let lack = |reason, what: String| {
        denied(
            reason,
            cdn_result::NO_FACILITIES_TEMPORARY,
            Some(error_code::INSUFFICIENT_RESOURCES),
            what,
        )
    };
    if !room.member_free {
        return Err(lack(
            RefuseReason::MemberLimit,
            format!(
                "no free member slot: dataplane.max_sessions = {} reached",
                room.max_sessions
            ),
        ));
    }
    let mode = match target {
        Target::Existing { vlan_mode, .. } => vlan_mode,
        Target::New if !room.auto_switch => {
            return Err(denied(
                RefuseReason::NoSwitch,
                CDN_NO_FORWARDER,
                None,
                format!("no switch has VC ID {vc} in its vc_ids, and l2tp.auto_switch is off"),
            ))
        }
        Target::New if room.peer_auto_switches >= room.max_auto_per_peer => {
            return Err(lack(
                RefuseReason::SwitchLimit,
                format!(
                "cannot create switch vc-{vc}: this peer holds {} auto-created switches (limit {})",
                room.peer_auto_switches, room.max_auto_per_peer
            ),
            ))
        }
        Target::New if !room.switch_free => {
            return Err(lack(
                RefuseReason::SwitchLimit,
                format!(
                    "cannot create switch vc-{vc}: dataplane.max_switches = {} reached",
                    room.max_switches
                ),
            ))
        }
        Target::New => VlanMode::DropTagged,
    };
    if pw == pw_type::ETHERNET_VLAN && mode == VlanMode::DropTagged {
        let name = match target {
            Target::Existing { name, .. } => format!("switch {name} is"),
            Target::New => format!("auto-created switch vc-{vc} would be"),
        };
        return Err(denied(
            RefuseReason::PwTypeMismatch,
            cdn_result::UNSUPPORTED_PW_TYPE,
            None,
            format!(
                "PW type 4 (Ethernet VLAN) carries tagged frames; {name} drop-tagged \
                 (configure the switch with vlan_mode transparent or vlan-aware, \
                 or use PW type 5)"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod test {
    use super::*;

    const ROOM: Room = Room {
        auto_switch: true,
        switch_free: true,
        max_switches: 4,
        member_free: true,
        max_sessions: 16,
        peer_auto_switches: 0,
        max_auto_per_peer: 2,
    };

    fn vc() -> VcId {
        VcId::Number(100)
    }

    #[test]
    fn ethernet_into_any_switch() {
        for mode in [
            VlanMode::DropTagged,
            VlanMode::Transparent,
            VlanMode::VlanAware,
        ] {
            let t = Target::Existing {
                name: "s",
                vlan_mode: mode,
            };
            assert_eq!(admit(&vc(), pw_type::ETHERNET, t, ROOM), Ok(()));
        }
        assert_eq!(admit(&vc(), pw_type::ETHERNET, Target::New, ROOM), Ok(()));
    }

    #[test]
    fn vlan_pw_needs_a_switch_that_carries_tags() {
        let t = |m| Target::Existing {
            name: "cust",
            vlan_mode: m,
        };
        let e = admit(&vc(), 4, t(VlanMode::DropTagged), ROOM).unwrap_err();
        assert_eq!(e.reason, RefuseReason::PwTypeMismatch);
        assert_eq!(e.result, cdn_result::UNSUPPORTED_PW_TYPE);
        assert!(
            e.detail.contains("switch cust is drop-tagged"),
            "{}",
            e.detail
        );
        let e = admit(&vc(), 4, Target::New, ROOM).unwrap_err();
        assert!(e.detail.contains("vc-100 would be"), "{}", e.detail);
        assert_eq!(admit(&vc(), 4, t(VlanMode::Transparent), ROOM), Ok(()));
        assert_eq!(admit(&vc(), 4, t(VlanMode::VlanAware), ROOM), Ok(()));
    }

    #[test]
    fn limits_name_the_real_cause() {
        let e = admit(
            &vc(),
            5,
            Target::New,
            Room {
                auto_switch: false,
                ..ROOM
            },
        )
        .unwrap_err();
        assert_eq!(e.reason, RefuseReason::NoSwitch);
        assert_eq!(e.result, CDN_NO_FORWARDER);
        assert!(e.detail.contains("auto_switch is off"));
        let e = admit(
            &vc(),
            5,
            Target::New,
            Room {
                switch_free: false,
                ..ROOM
            },
        )
        .unwrap_err();
        assert_eq!(e.reason, RefuseReason::SwitchLimit);
        assert!(e.detail.contains("max_switches = 4"), "{}", e.detail);
        assert!(!e.detail.contains("auto_switch"));
        let e = admit(
            &vc(),
            5,
            Target::New,
            Room {
                member_free: false,
                ..ROOM
            },
        )
        .unwrap_err();
        assert_eq!(e.reason, RefuseReason::MemberLimit);
        assert!(e.detail.contains("max_sessions = 16"));
        // One peer cannot take every switch slot.
        let e = admit(
            &vc(),
            5,
            Target::New,
            Room {
                peer_auto_switches: 2,
                ..ROOM
            },
        )
        .unwrap_err();
        assert_eq!(e.reason, RefuseReason::SwitchLimit);
        assert!(e.detail.contains("this peer holds 2"), "{}", e.detail);
        // ... but still joins switches that exist.
        let t = Target::Existing {
            name: "s",
            vlan_mode: VlanMode::DropTagged,
        };
        let full = Room {
            peer_auto_switches: 2,
            switch_free: false,
            ..ROOM
        };
        assert_eq!(admit(&vc(), 5, t, full), Ok(()));
    }
}
