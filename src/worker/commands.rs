//! Messages between the control core and the workers.
use crate::switch::filter::L2Filter;
use crate::switch::policy::{MssClamp, MtuPolicy, VlanMode};
use crate::switch::storm::StormRate;
use crate::switch::{MemberId, SwitchId};
use crate::wire::l2tp::{Cookie, EncapTemplate};
use crate::wire::l2tp::{Encap, L2Spec};
use std::net::IpAddr;

/// A session as the data plane needs it.
#[derive(Debug, Clone, Copy)]
pub struct SessionSpec {
    pub member: MemberId,
    pub switch: SwitchId,
    /// Index of the port it is reached through.
    pub port: u8,
    /// IPv4, or IPv6 (carried over the port's `address6`).
    pub peer: IpAddr,
    /// The id the peer puts in packets to us.
    pub local_session_id: u32,
    pub encap: Encap,
    pub udp_peer_port: u16,
    /// The cookie we expect on receive.
    pub local_cookie: Cookie,
    pub l2spec: L2Spec,
    /// An Ethernet VLAN pseudowire (PW type 4, RFC 4448 tagged mode):
    /// every frame from and to it must carry a VLAN tag.
    pub vlan_pw: bool,
    /// A mesh pseudowire to another las: frames from one mesh member are
    /// never sent to another (the mesh split-horizon group).
    pub mesh: bool,
}

/// A virtual switch's data-plane policy.
#[derive(Debug, Clone)]
pub struct SwitchSpec {
    pub id: SwitchId,
    pub filter: L2Filter,
    pub mac_limit: u32,
    /// Per member (0 = unlimited).
    pub member_mac_limit: u32,
    pub vlan_mode: VlanMode,
    pub mss: MssClamp,
    pub mtu_policy: MtuPolicy,
    /// Storm control per member: broadcast, multicast, unknown unicast.
    pub storm: [StormRate; 3],
    /// VLAN-aware: only VLANs with a domain are allowed (the configured
    /// `vlans` list); otherwise domains are made on demand.
    pub vlan_list: bool,
    /// The switch's `aging` (seconds, 0 = never): the worker ages the
    /// MACs only it knows of some seconds after it (`Worker::age_local`).
    pub aging: u32,
}

/// Control core → worker. Applied between bursts, in order.
#[derive(Debug)]
pub enum Command {
    AddSwitch(Box<SwitchSpec>),
    AddSession(Box<SessionSpec>),
    RemoveSession(MemberId),
    /// The encapsulation header for a member (None: next hop unresolved).
    SetTemplate(MemberId, Option<Box<EncapTemplate>>),
    InstallMac {
        switch: SwitchId,
        mac: u64,
        member: MemberId,
        is_static: bool,
    },
    /// The largest inner frame every member of the switch can carry (for
    /// MSS clamping in `auto` mode; 0 = not known yet).
    SetMaxFrame {
        switch: SwitchId,
        max_frame: usize,
    },
    /// Drop everything a member sends until this TSC value (MAC flapping).
    BlockMember {
        member: MemberId,
        until_tsc: u64,
    },
    /// VLAN `vid` of VLAN-aware switch `switch` learns in `domain`.
    MapVlan {
        switch: SwitchId,
        vid: u16,
        domain: SwitchId,
    },
    RemoveMac {
        switch: SwitchId,
        mac: u64,
    },
    FlushMember(MemberId),
    FlushSwitch(SwitchId),
    /// Forget every VLAN learning domain of a switch, and their MACs (a
    /// switch removed, or its VLAN mode or list changed).
    DropVlans(SwitchId),
    /// Start copying frames into a capture's rings (`Some`), or stop
    /// (`None`); either way the worker lets go of the rings it had
    /// (see `worker::capture`).
    Capture(Option<Box<super::capture::Arm>>),
}

/// Worker → control core.
#[derive(Debug, Clone, Copy)]
pub enum Event {
    /// A source MAC was learned, moved or is still active. `switch` is
    /// the learning domain: the switch id, or a VLAN domain of a
    /// VLAN-aware switch.
    Learned {
        switch: SwitchId,
        mac: u64,
        member: MemberId,
    },
    /// The worker aged out a MAC it had learned itself and not seen for
    /// longer than the switch's aging allows (`MacTable::expire_local`):
    /// either the control core never heard of it (a lost `Learned`), or
    /// it still keeps the MAC (active on another worker, or a switch that
    /// ages later than the worker's stamps allow) and installs it here
    /// again. `switch` is the learning domain.
    AgedLocal {
        switch: SwitchId,
        mac: u64,
        member: MemberId,
    },
    /// A VLAN-aware switch saw a VLAN it has no learning domain for yet.
    NeedVlan { switch: SwitchId, vid: u16 },
    /// Data for `member` came from its peer's address on another UDP
    /// source port (at most once a second per member).
    PeerPort { member: MemberId, port: u16 },
}

/// VLAN learning domains per worker and in the control core.
pub const VLAN_DOMAINS: usize = 4096;
