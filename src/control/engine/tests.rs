//! The engine without DPDK: configurations from TOML text, frames as
//! byte buffers, time passed in, the workers' command queues read back.
//!
//! The dynamic-session tests drive the engine with las's own RFC 3931
//! initiator (`Endpoint::connect`): they test the engine's wiring
//! (admission, member and switch allocation, worker programming,
//! refusals), not interop, which `tests/cisco_control.rs` checks against
//! a real Cisco's bytes and tshark.

use super::*;
use crate::control::l2tp::{Endpoint as L2tpEndpoint, EndpointConfig as L2tpConfig};
use crate::telemetry::WorkerCounters;
use crate::wire::l2tp::message::{pw_type, Message, MessageType};

const OURS: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const OUR_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
const PEER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const PEER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x0a];
const TSC_HZ: u64 = 1_000_000_000;

const BASE: &str = r#"
[dataplane]
max_sessions = 16
max_switches = 4

[[port]]
name = "wan0"
device = "net_null0"
address = "192.0.2.1/24"

[[switch]]
name = "blue"
vc_ids = ["100"]
flap_threshold = 3
flap_window = 10
flap_block = 30

[[switch]]
name = "green"
vlan_mode = "vlan-aware"
vlans = [10]

[[session]]
name = "siteA"
switch = "blue"
peer = "192.0.2.10"
encap = "ip"
local_session_id = 1001
remote_session_id = 2001

[[session]]
name = "siteB"
switch = "blue"
peer = "192.0.2.11"
encap = "ip"
local_session_id = 1002
remote_session_id = 2002
"#;

struct Rig {
    e: Engine,
    workers: Vec<Arc<WorkerShared>>,
    now: Now,
}

impl Rig {
    fn new(extra: &str, nworkers: usize) -> Rig {
        Rig::from_doc(&format!("{BASE}{extra}"), nworkers)
    }

    /// A rig for a whole configuration `doc` (not based on `BASE`).
    fn from_doc(doc: &str, nworkers: usize) -> Rig {
        let cfg = Config::from_toml_str(doc).expect("test config");
        let workers: Vec<Arc<WorkerShared>> = (0..nworkers)
            .map(|_| {
                let c = WorkerCounters::new(
                    cfg.dataplane.max_sessions,
                    cfg.dataplane.max_switches,
                    cfg.ports.len(),
                );
                Arc::new(WorkerShared::new(1024, 1024, c))
            })
            .collect();
        // The first port is OURS at OUR_MAC; ports the test adds get
        // MACs of their own.
        let ports = cfg
            .ports
            .iter()
            .enumerate()
            .map(|(i, p)| PortInfo {
                name: p.name.clone(),
                device: p.device.clone(),
                driver: "net_null".into(),
                mac: [2, 0, 0, 0, 0, 1 + i as u8],
                address: p.address,
                prefix_len: p.prefix_len,
                gateway: p.gateway,
                mtu: p.mtu,
                rx_queues: 1,
                tx_queues: 1,
                dont_fragment: false,
                rx_ip_checksum: false,
                v6: p.v6.clone(),
            })
            .collect();
        let lcores = (1..=nworkers as u32).collect();
        let e = Engine::new(cfg, ports, workers.clone(), lcores, TSC_HZ);
        let mut r = Rig {
            e,
            workers,
            now: Now { ms: 1, tsc: 5_000 },
        };
        r.e.program(r.now);
        r
    }

    fn advance(&mut self, ms: u64) {
        self.now.ms += ms;
        self.now.tsc += ms * (TSC_HZ / 1000);
        self.e.poll(self.now);
    }

    /// Every command worker `w` was sent since the last call.
    fn commands(&self, w: usize) -> Vec<Command> {
        std::iter::from_fn(|| self.workers[w].commands.pop()).collect()
    }

    fn frames(&mut self) -> Vec<Outgoing> {
        let mut v = Vec::new();
        self.e.take_frames(&mut v);
        v
    }

    fn learned(&mut self, w: usize, switch: u16, mac: u64, member: u16) {
        let ev = Event::Learned {
            switch: SwitchId(switch),
            mac,
            member: MemberId(member),
        };
        self.workers[w].events.push(ev).expect("event queue");
        self.e.poll(self.now);
    }

    fn counter(&self, name: &str) -> u64 {
        self.e.counters_view(&Snapshot::default()).control[name]
    }
}

/// An ARP request from `ip`/`mac` for `target` (the responder's own
/// builder, so the bytes are the RFC 826 layout it is tested against).
fn arp_from(mac: [u8; 6], ip: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    respond::arp_request(&mut f, mac, ip, target);
    f
}

/// An L2TP control message over IP (zero session id) from the peer.
fn l2tp_over_ip(msg: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; ethernet::HEADER_LEN + ipv4::HEADER_LEN + 4 + msg.len()];
    EthernetRepr {
        src: MacAddr(PEER_MAC),
        dst: MacAddr(OUR_MAC),
        ethertype: ethertype::IPV4,
    }
    .emit(&mut ethernet::Frame::new_unchecked(&mut f[..]));
    Ipv4Repr {
        src: PEER,
        dst: OURS,
        protocol: protocol::L2TP,
        payload_len: 4 + msg.len(),
        ttl: 64,
        ident: 1,
        dont_frag: false,
        dscp: 0,
    }
    .emit(&mut ipv4::Packet::new_unchecked(
        &mut f[ethernet::HEADER_LEN..],
    ));
    f[ethernet::HEADER_LEN + ipv4::HEADER_LEN + 4..].copy_from_slice(msg);
    f
}

/// An L2TP control message over UDP from the peer's port `sport`.
fn l2tp_over_udp(msg: &[u8], sport: u16) -> Vec<u8> {
    let mut f = l2tp_over_ip(&[0u8; 4]);
    f.truncate(ethernet::HEADER_LEN + ipv4::HEADER_LEN);
    let mut u = vec![0u8; udp::HEADER_LEN + msg.len()];
    u[udp::HEADER_LEN..].copy_from_slice(msg);
    UdpRepr {
        src_port: sport,
        dst_port: 1701,
        payload_len: msg.len(),
    }
    .emit(&mut udp::Packet::new_unchecked(&mut u[..]));
    f.extend_from_slice(&u);
    let total = (ipv4::HEADER_LEN + u.len()) as u16;
    let mut ip = ipv4::Packet::new_unchecked(&mut f[ethernet::HEADER_LEN..]);
    Ipv4Repr {
        src: PEER,
        dst: OURS,
        protocol: protocol::UDP,
        payload_len: u.len(),
        ttl: 64,
        ident: 1,
        dont_frag: false,
        dscp: 0,
    }
    .emit(&mut ip);
    assert_eq!(u16::from_be_bytes([f[16], f[17]]), total);
    f
}

/// The L2TP message inside a frame the engine sent to the peer (over IP,
/// or over UDP to port `udp`), and the UDP port it went to (0: IP).
fn l2tp_payload(o: &Outgoing) -> Option<(&[u8], u16)> {
    let ip = ipv4::Packet::new_checked(&o.frame[ethernet::HEADER_LEN..]).ok()?;
    if ip.dst_addr() != PEER {
        return None;
    }
    let l = ethernet::HEADER_LEN + ipv4::HEADER_LEN;
    match ip.next_header() {
        protocol::L2TP => Some((&o.frame[l + 4..], 0)),
        protocol::UDP => {
            let u = udp::Packet::new_checked(&o.frame[l..]).ok()?;
            Some((&o.frame[l + udp::HEADER_LEN..], u.dst_port()))
        }
        _ => None,
    }
}

/// Our `address6` on the IPv6 port the tests add.
const OURS6: std::net::Ipv6Addr = std::net::Ipv6Addr::new(0x2001, 0xdb8, 6, 0, 0, 0, 0, 1);

/// An L2TP control message over IPv6 from `src` to `dst`: over IP
/// behind a zero session id (`sport` 0), else over UDP from `sport` to
/// 1701 with its checksum (RFC 8200 §8.1, summed here by
/// `wire::ipv6::checksum`, which its own tests check against
/// independent vectors).
fn l2tp6(src: std::net::Ipv6Addr, dst: std::net::Ipv6Addr, sport: u16, msg: &[u8]) -> Vec<u8> {
    use crate::wire::ipv6::{self, Ipv6Repr};
    let mut l4 = Vec::new();
    if sport == 0 {
        l4.extend_from_slice(&[0; 4]);
        l4.extend_from_slice(msg);
    } else {
        l4.extend_from_slice(&sport.to_be_bytes());
        l4.extend_from_slice(&1701u16.to_be_bytes());
        l4.extend_from_slice(&((8 + msg.len()) as u16).to_be_bytes());
        l4.extend_from_slice(&[0, 0]);
        l4.extend_from_slice(msg);
        let c = ipv6::checksum(src, dst, protocol::UDP, &l4);
        l4[6..8].copy_from_slice(&(if c == 0 { 0xffff } else { c }).to_be_bytes());
    }
    let mut f = vec![0u8; ethernet::HEADER_LEN + ipv6::HEADER_LEN];
    EthernetRepr {
        src: MacAddr(PEER_MAC),
        dst: MacAddr([2, 0, 0, 0, 0, 2]),
        ethertype: ethertype::IPV6,
    }
    .emit(&mut ethernet::Frame::new_unchecked(&mut f[..]));
    Ipv6Repr {
        src,
        dst,
        next_header: if sport == 0 {
            protocol::L2TP
        } else {
            protocol::UDP
        },
        payload_len: l4.len(),
        hop_limit: 64,
        traffic_class: 0,
        flow_label: 0,
    }
    .emit(&mut ipv6::Packet::new_unchecked(
        &mut f[ethernet::HEADER_LEN..],
    ));
    f.extend_from_slice(&l4);
    f
}

/// The L2TP message inside an IPv6 frame the engine sent out of `port`
/// to `peer`, and the UDP port it went to (0: IP). Checks what any
/// IPv6 host would: our address as the source, the payload length, the
/// UDP length and a checksum that is present and verifies.
fn l2tp_payload6(o: &Outgoing, port: usize, peer: std::net::Ipv6Addr) -> Option<(&[u8], u16)> {
    use crate::wire::ipv6;
    if o.port != port || o.frame.get(12..14) != Some(&[0x86, 0xdd][..]) {
        return None;
    }
    let ip = ipv6::Packet::new_checked(&o.frame[ethernet::HEADER_LEN..]).ok()?;
    if ip.dst_addr() != peer {
        return None;
    }
    assert_eq!(ip.src_addr(), OURS6);
    assert_eq!(
        ethernet::HEADER_LEN + ipv6::HEADER_LEN + usize::from(ip.payload_len()),
        o.frame.len()
    );
    let l = ethernet::HEADER_LEN + ipv6::HEADER_LEN;
    match ip.next_header() {
        protocol::L2TP => {
            assert_eq!(&o.frame[l..l + 4], &[0; 4]);
            Some((&o.frame[l + 4..], 0))
        }
        protocol::UDP => {
            let u = udp::Packet::new_checked(&o.frame[l..]).ok()?;
            assert_eq!(usize::from(u.len()), o.frame.len() - l);
            assert_ne!(u.checksum(), 0);
            assert!(ipv6::verify_checksum(
                OURS6,
                peer,
                protocol::UDP,
                &o.frame[l..]
            ));
            assert_eq!(u.src_port(), 1701);
            Some((&o.frame[l + udp::HEADER_LEN..], u.dst_port()))
        }
        _ => None,
    }
}

/// A minimal RFC 3931 initiator standing in for a router.
struct Router {
    ep: L2tpEndpoint<()>,
    ccid: u32,
    ups: Vec<SessionUp>,
    downs: usize,
    /// The UDP source port las sees (0: over IP).
    udp_port: u16,
    /// What las sent to a port other than `udp_port`.
    elsewhere: usize,
    /// Over IPv6 from this address, on this port (else over IPv4 from
    /// PEER on port 0).
    v6: Option<(std::net::Ipv6Addr, usize)>,
}

impl Router {
    fn connect(rig: &mut Rig) -> Router {
        Router::connect_from(rig, 0)
    }

    fn connect_from(rig: &mut Rig, udp_port: u16) -> Router {
        let mut cfg = L2tpConfig::default();
        cfg.tunnel.host_name = b"router".to_vec();
        cfg.tunnel.router_id = 0x0a0a0a0a;
        let mut ep = L2tpEndpoint::new(cfg, Box::new(OsRandom));
        let (ccid, acts) = ep.connect(rig.now.ms, ());
        let mut r = Router {
            ep,
            ccid,
            ups: Vec::new(),
            downs: 0,
            udp_port,
            elsewhere: 0,
            v6: None,
        };
        r.exchange(rig, acts);
        r
    }

    /// A router at `src` on las's port `port` (its `address6` is
    /// [`OURS6`]) over IP (`udp_port` 0) or UDP.
    fn connect6(rig: &mut Rig, src: std::net::Ipv6Addr, port: usize, udp_port: u16) -> Router {
        let mut cfg = L2tpConfig::default();
        cfg.tunnel.host_name = b"router6".to_vec();
        cfg.tunnel.router_id = 0x0a0a0a0b;
        let mut ep = L2tpEndpoint::new(cfg, Box::new(OsRandom));
        let (ccid, acts) = ep.connect(rig.now.ms, ());
        let mut r = Router {
            ep,
            ccid,
            ups: Vec::new(),
            downs: 0,
            udp_port,
            elsewhere: 0,
            v6: Some((src, port)),
        };
        r.exchange(rig, acts);
        r
    }

    fn open(&mut self, rig: &mut Rig, vc: &str) {
        let (_, acts) = self
            .ep
            .open_session(rig.now.ms, self.ccid, vc.as_bytes(), pw_type::ETHERNET)
            .expect("tunnel up");
        self.exchange(rig, acts);
    }

    /// Delivers messages both ways until both sides are quiet, letting
    /// time pass (delayed acknowledgements) when nothing is in flight.
    fn exchange(&mut self, rig: &mut Rig, mut acts: Vec<((), Action)>) {
        let mut quiet = 0;
        for _ in 0..64 {
            let mut sent = false;
            for (_, a) in acts.drain(..) {
                match a {
                    Action::Send(b) => {
                        sent = true;
                        let (mut f, port) = match (self.v6, self.udp_port) {
                            (None, 0) => (l2tp_over_ip(&b), 0),
                            (None, p) => (l2tp_over_udp(&b, p), 0),
                            (Some((src, port)), p) => (l2tp6(src, OURS6, p, &b), port),
                        };
                        assert_eq!(rig.e.frame_in(rig.now, port, &mut f), Disposition::Consumed);
                    }
                    Action::SessionUp(u) => self.ups.push(u),
                    Action::SessionDown(_) => self.downs += 1,
                    _ => {}
                }
            }
            for o in rig.frames() {
                let got = match self.v6 {
                    None => l2tp_payload(&o),
                    Some((src, port)) => l2tp_payload6(&o, port, src),
                };
                if let Some((m, port)) = got {
                    if port != self.udp_port {
                        // Lost: the NAT has no mapping there any more.
                        self.elsewhere += 1;
                        continue;
                    }
                    sent = true;
                    acts.extend(self.ep.handle(rig.now.ms, (), m));
                }
            }
            if sent || !acts.is_empty() {
                quiet = 0;
                continue;
            }
            quiet += 1;
            if quiet == 3 {
                return;
            }
            rig.advance(300);
            acts.extend(self.ep.poll(rig.now.ms));
        }
        panic!("the control exchange did not settle");
    }
}

#[test]
fn program_sends_switches_sessions_and_arp() {
    let mut rig = Rig::new("", 2);
    for w in 0..2 {
        let cmds = rig.commands(w);
        let switches = cmds
            .iter()
            .filter(|c| matches!(c, Command::AddSwitch(_)))
            .count();
        let sessions: Vec<u32> = cmds
            .iter()
            .filter_map(|c| match c {
                Command::AddSession(s) => Some(s.local_session_id),
                _ => None,
            })
            .collect();
        assert_eq!(switches, 2, "worker {w}");
        assert_eq!(sessions, [1001, 1002], "worker {w}");
        // VLAN 10 of the VLAN-aware switch has its domain from the start.
        assert!(cmds.iter().any(|c| matches!(
            c,
            Command::MapVlan {
                switch: SwitchId(1),
                vid: 10,
                ..
            }
        )));
    }
    // A gratuitous ARP and one request per unresolved next hop.
    let targets: Vec<[u8; 4]> = rig
        .frames()
        .iter()
        .map(|o| o.frame[38..42].try_into().unwrap())
        .collect();
    assert!(targets.contains(&OURS.octets()), "{targets:?}");
    assert!(targets.contains(&PEER.octets()), "{targets:?}");
    assert!(targets.contains(&[192, 0, 2, 11]), "{targets:?}");
}

#[test]
fn arp_for_us_is_answered_in_place_and_resolves_the_template() {
    let mut rig = Rig::new("", 1);
    rig.commands(0);
    let mut f = arp_from(PEER_MAC, PEER, OURS);
    assert_eq!(rig.e.frame_in(rig.now, 0, &mut f), Disposition::Reply);
    // The reply goes back to the asker, from us.
    assert_eq!(&f[0..6], &PEER_MAC);
    assert_eq!(&f[6..12], &OUR_MAC);
    let templates: Vec<_> = rig
        .commands(0)
        .into_iter()
        .filter_map(|c| match c {
            Command::SetTemplate(m, Some(t)) => Some((m, t)),
            _ => None,
        })
        .collect();
    assert_eq!(templates.len(), 1);
    let (member, t) = &templates[0];
    assert_eq!(*member, MemberId(0));
    assert_eq!(&t.bytes()[0..6], &PEER_MAC, "next hop MAC in the template");
    let views = rig.e.session_views();
    assert_eq!(views[0].state, "up");
    assert_eq!(views[1].state, "resolving");
    // Someone else's ARP is learned from but not answered.
    let mut other = arp_from(PEER_MAC, PEER, Ipv4Addr::new(192, 0, 2, 99));
    assert_eq!(
        rig.e.frame_in(rig.now, 0, &mut other),
        Disposition::Consumed
    );
    // Garbage is counted, never answered.
    let mut short = vec![0u8; 10];
    assert_eq!(
        rig.e.frame_in(rig.now, 0, &mut short),
        Disposition::Consumed
    );
    assert_eq!(rig.counter("punt_other"), 1);
}

#[test]
fn mac_learned_on_one_worker_is_installed_on_the_others() {
    let mut rig = Rig::new("", 3);
    for w in 0..3 {
        rig.commands(w);
    }
    rig.learned(1, 0, 0x0200_0000_00aa, 0);
    assert!(rig.commands(1).is_empty(), "the learner has it already");
    for w in [0, 2] {
        let cmds = rig.commands(w);
        assert!(
            matches!(
                cmds.as_slice(),
                [Command::InstallMac {
                    switch: SwitchId(0),
                    mac: 0x0200_0000_00aa,
                    member: MemberId(0),
                    is_static: false
                }]
            ),
            "worker {w}: {cmds:?}"
        );
    }
    assert_eq!(rig.counter("macs_learned"), 1);
    // A refresh from the same member changes nothing.
    rig.learned(0, 0, 0x0200_0000_00aa, 0);
    assert!(rig.commands(1).is_empty());
    // A move is installed everywhere else and counted.
    rig.learned(0, 0, 0x0200_0000_00aa, 1);
    assert_eq!(rig.counter("macs_moved"), 1);
    assert!(matches!(
        rig.commands(2).as_slice(),
        [Command::InstallMac {
            member: MemberId(1),
            ..
        }]
    ));
    // An event from a member that is gone is ignored.
    rig.learned(0, 0, 0x0200_0000_00bb, 9);
    assert_eq!(rig.counter("macs_learned"), 1);
}

/// A worker ages out a MAC it learned and no longer sees (`AgedLocal`):
/// if the control core still has it (refreshed through another worker),
/// that worker gets it back as an installed entry; if the control core
/// never heard of it (its learn event was lost), nothing is sent.
#[test]
fn a_mac_a_worker_aged_is_installed_again_if_still_known() {
    let mut rig = Rig::new("", 2);
    rig.commands(0);
    rig.commands(1);
    let mac = 0x0200_0000_00aa;
    rig.learned(0, 0, mac, 1);
    assert_eq!(rig.commands(1).len(), 1, "installed on worker 1");
    let aged = |mac| Event::AgedLocal {
        switch: SwitchId(0),
        mac,
        member: MemberId(1),
    };
    rig.workers[1].events.push(aged(mac)).expect("event queue");
    rig.e.poll(rig.now);
    assert!(
        matches!(
            rig.commands(1).as_slice(),
            [Command::InstallMac {
                switch: SwitchId(0),
                mac: 0x0200_0000_00aa,
                member: MemberId(1),
                is_static: false
            }]
        ),
        "worker 1 gets it back"
    );
    assert!(rig.commands(0).is_empty());
    assert_eq!(rig.counter("macs_reinstalled"), 1);
    rig.workers[0]
        .events
        .push(aged(0x0200_0000_00bb))
        .expect("event queue");
    rig.e.poll(rig.now);
    assert!(rig.commands(0).is_empty() && rig.commands(1).is_empty());
    assert_eq!(rig.counter("macs_reinstalled"), 1);
}

#[test]
fn a_flapping_mac_blocks_the_member_it_moved_to() {
    let mut rig = Rig::new("", 2);
    rig.commands(0);
    rig.commands(1);
    let mac = 0x0200_0000_00cc;
    // blue: flap_threshold 3 moves in flap_window 10 s, flap_block 30 s.
    rig.learned(0, 0, mac, 0);
    rig.learned(0, 0, mac, 1);
    rig.learned(0, 0, mac, 0);
    assert_eq!(rig.counter("mac_flaps"), 0);
    rig.learned(0, 0, mac, 1);
    assert_eq!(rig.counter("mac_flaps"), 0, "3 moves: at the threshold");
    rig.learned(0, 0, mac, 0);
    assert_eq!(rig.counter("mac_flaps"), 1, "4 moves: above it");
    assert_eq!(rig.counter("members_blocked"), 1);
    let blocks: Vec<_> = rig
        .commands(1)
        .into_iter()
        .filter_map(|c| match c {
            Command::BlockMember { member, until_tsc } => Some((member, until_tsc)),
            _ => None,
        })
        .collect();
    assert_eq!(blocks, [(MemberId(0), rig.now.tsc + 30 * TSC_HZ)]);
}

#[test]
fn vlan_domains_are_allocated_once_and_run_out_loudly() {
    let mut rig = Rig::new("", 1);
    rig.commands(0);
    rig.workers[0]
        .events
        .push(Event::NeedVlan {
            switch: SwitchId(1),
            vid: 20,
        })
        .unwrap();
    rig.workers[0]
        .events
        .push(Event::NeedVlan {
            switch: SwitchId(1),
            vid: 20,
        })
        .unwrap();
    rig.e.poll(rig.now);
    let maps: Vec<_> = rig
        .commands(0)
        .into_iter()
        .filter_map(|c| match c {
            Command::MapVlan {
                switch,
                vid,
                domain,
            } => Some((switch, vid, domain)),
            _ => None,
        })
        .collect();
    assert_eq!(maps.len(), 1, "one domain per (switch, VLAN): {maps:?}");
    assert_eq!((maps[0].0, maps[0].1), (SwitchId(1), 20));
    // The domain is a switch id past the real switches, and maps back.
    assert!(maps[0].2 .0 as usize >= 4);
    assert_eq!(rig.e.domain_owner(maps[0].2), (SwitchId(1), Some(20)));
    // Every domain taken: counted, not crashed.
    for vid in 100..(100 + VLAN_DOMAINS as u16) {
        rig.workers[0]
            .events
            .push(Event::NeedVlan {
                switch: SwitchId(1),
                vid,
            })
            .ok();
        if rig.workers[0].events.is_full() {
            rig.e.poll(rig.now);
            rig.commands(0);
        }
    }
    rig.e.poll(rig.now);
    assert!(rig.counter("vlan_domains_full") > 0);
}

#[test]
fn macs_age_out_of_every_worker() {
    let mut rig = Rig::new("", 2);
    rig.commands(0);
    rig.commands(1);
    rig.learned(0, 0, 0x0200_0000_00dd, 0);
    rig.commands(1);
    // blue ages after the default 300 s.
    rig.advance(299_000);
    assert!(rig.commands(0).is_empty());
    rig.advance(2_000);
    for w in 0..2 {
        assert!(
            rig.commands(w).iter().any(|c| matches!(
                c,
                Command::RemoveMac {
                    switch: SwitchId(0),
                    mac: 0x0200_0000_00dd
                }
            )),
            "worker {w}"
        );
    }
    assert_eq!(rig.counter("macs_aged"), 1);
}

#[test]
fn dynamic_session_up_joins_its_switch_and_down_frees_it() {
    let mut rig = Rig::new("", 2);
    rig.commands(0);
    rig.commands(1);
    let mut router = Router::connect(&mut rig);
    assert_eq!(rig.e.tunnel_views().len(), 1);
    assert_eq!(rig.e.tunnel_views()[0].state, "established");
    router.open(&mut rig, "100");
    assert_eq!(router.ups.len(), 1, "the router's session is up");
    assert_eq!(rig.counter("sessions_up"), 1);
    let added: Vec<_> = rig
        .commands(1)
        .into_iter()
        .filter_map(|c| match c {
            Command::AddSession(s) => Some(*s),
            _ => None,
        })
        .collect();
    assert_eq!(added.len(), 1);
    // VC ID 100 is switch "blue"; the first member slot after the two
    // static sessions.
    assert_eq!(added[0].switch, SwitchId(0));
    assert_eq!(added[0].member, MemberId(2));
    assert_eq!(added[0].local_session_id, router.ups[0].remote_session_id);
    let dynamic: Vec<_> = rig
        .e
        .session_views()
        .into_iter()
        .filter(|s| s.kind == "dynamic")
        .collect();
    assert_eq!(dynamic.len(), 1);
    assert_eq!(dynamic[0].vc_id.as_deref(), Some("100"));
    assert_eq!(dynamic[0].switch, "blue");
    // The router closes it: the workers forget the member and its MACs.
    rig.learned(0, 0, 0x0200_0000_00ee, 2);
    rig.commands(0);
    rig.commands(1);
    let sid = router.ups[0].local_session_id;
    let acts = router
        .ep
        .close_session(rig.now.ms, router.ccid, sid, 3, None, "");
    router.exchange(&mut rig, acts);
    assert_eq!(rig.counter("sessions_down"), 1);
    let cmds = rig.commands(1);
    assert!(cmds
        .iter()
        .any(|c| matches!(c, Command::RemoveSession(MemberId(2)))));
    assert!(cmds.iter().any(|c| matches!(
        c,
        Command::RemoveMac {
            mac: 0x0200_0000_00ee,
            ..
        }
    )));
    assert!(rig.e.session_views().iter().all(|s| s.kind == "static"));
}

#[test]
fn unknown_vc_id_is_refused_with_a_cdn_and_counted() {
    let mut rig = Rig::new("\n[l2tp]\nauto_switch = false\n", 1);
    let mut router = Router::connect(&mut rig);
    router.open(&mut rig, "777");
    assert!(router.ups.is_empty());
    let (_, t) = router.ep.tunnels().next().expect("tunnel");
    assert_eq!(t.session_count(), 0, "the router's session is gone (CDN)");
    assert_eq!(rig.counter("refused_no_switch"), 1);
    assert!(rig.e.session_views().iter().all(|s| s.kind == "static"));
    assert!(!rig
        .commands(0)
        .iter()
        .any(|c| matches!(c, Command::AddSession(s) if s.local_session_id > 2000)));
}

#[test]
fn a_new_vc_id_creates_an_auto_switch_freed_after_its_grace() {
    let mut rig = Rig::new("\n[l2tp]\nauto_switch_grace = 5\n", 1);
    let mut router = Router::connect(&mut rig);
    router.open(&mut rig, "555");
    assert_eq!(router.ups.len(), 1);
    let names: Vec<String> = rig.e.switch_views().into_iter().map(|s| s.name).collect();
    assert!(names.contains(&"vc-555".to_string()), "{names:?}");
    let sid = router.ups[0].local_session_id;
    let acts = router
        .ep
        .close_session(rig.now.ms, router.ccid, sid, 3, None, "");
    router.exchange(&mut rig, acts);
    rig.commands(0);
    rig.advance(4_000);
    assert!(rig.e.switch_views().iter().any(|s| s.name == "vc-555"));
    rig.advance(2_000);
    assert!(!rig.e.switch_views().iter().any(|s| s.name == "vc-555"));
    assert_eq!(rig.counter("switches_freed"), 1);
    assert!(rig
        .commands(0)
        .iter()
        .any(|c| matches!(c, Command::FlushSwitch(SwitchId(2)))));
}

#[test]
fn views_render_names_not_ids() {
    let mut rig = Rig::new("", 1);
    rig.learned(0, 0, 0x0200_0000_0001, 1);
    let io = Snapshot {
        ports: vec![PortSample {
            link_up: true,
            rx_packets: 7,
            ..PortSample::default()
        }],
        mbufs_in_use: 3,
        mbufs_available: 97,
    };
    let Response::Macs { macs } = rig.e.answer(&Request::Macs(Some("blue".into())), &io) else {
        panic!("not a MAC list")
    };
    assert_eq!(macs.len(), 1);
    assert_eq!(macs[0].switch, "blue");
    assert_eq!(macs[0].member, "siteB");
    assert_eq!(macs[0].mac, "02:00:00:00:00:01");
    assert!(matches!(
        rig.e.answer(&Request::Macs(Some("nope".into())), &io),
        Response::Error { .. }
    ));
    let Response::Ports { ports } = rig.e.answer(&Request::Ports, &io) else {
        panic!("not a port list")
    };
    assert_eq!((ports[0].rx_packets, ports[0].link_up), (7, true));
    let c = rig.e.counters_view(&io);
    assert_eq!(c.control["mbufs_in_use"], 3);
    assert_eq!(c.drops.len(), DropReason::ALL.len());
    let report = rig.e.final_report(&io);
    for want in ["wan0", "siteA", "siteB", "blue", "green"] {
        assert!(report.contains(want), "{want} missing from:\n{report}");
    }
}

fn reload(rig: &mut Rig, extra: &str, dry_run: bool) -> Result<Vec<String>, String> {
    let cfg = Config::from_toml_str(&format!("{BASE}{extra}")).expect("test config");
    rig.e.reload(rig.now, cfg, dry_run).map(|c| c.lines)
}

fn reload_text(rig: &mut Rig, text: &str) -> Result<Vec<String>, String> {
    let cfg = Config::from_toml_str(text).expect("test config");
    rig.e.reload(rig.now, cfg, false).map(|c| c.lines)
}

fn drain(rig: &Rig) {
    for w in 0..rig.workers.len() {
        rig.commands(w);
    }
}

const THIRD: &str = r#"
[[switch]]
name = "red"
vc_ids = ["300"]

[[session]]
name = "siteC"
switch = "red"
peer = "192.0.2.12"
encap = "ip"
local_session_id = 1003
remote_session_id = 2003
"#;

#[test]
fn reload_of_the_same_file_changes_nothing() {
    let mut rig = Rig::new("", 2);
    drain(&rig);
    assert_eq!(reload(&mut rig, "", false), Ok(vec![]));
    assert!(rig.commands(0).is_empty());
    assert!(rig.commands(1).is_empty());
}

#[test]
fn reload_adds_a_switch_and_session_and_leaves_the_rest_alone() {
    let mut rig = Rig::new("", 2);
    drain(&rig);
    let lines = reload(&mut rig, THIRD, true).unwrap();
    assert_eq!(lines, ["switch red: added", "session siteC: added"]);
    assert!(rig.commands(0).is_empty(), "a dry run changes nothing");
    assert!(!rig.e.switch_views().iter().any(|s| s.name == "red"));

    let lines = reload(&mut rig, THIRD, false).unwrap();
    assert_eq!(lines.len(), 2);
    for w in 0..2 {
        let cmds = rig.commands(w);
        let added: Vec<u16> = cmds
            .iter()
            .filter_map(|c| match c {
                Command::AddSwitch(s) => Some(s.id.0),
                _ => None,
            })
            .collect();
        assert_eq!(added, [2], "only the new switch: {cmds:?}");
        let sessions: Vec<(u16, u16, u32)> = cmds
            .iter()
            .filter_map(|c| match c {
                Command::AddSession(s) => Some((s.member.0, s.switch.0, s.local_session_id)),
                _ => None,
            })
            .collect();
        assert_eq!(sessions, [(2, 2, 1003)]);
        assert!(!cmds.iter().any(|c| matches!(
            c,
            Command::RemoveSession(_) | Command::FlushSwitch(_) | Command::RemoveMac { .. }
        )));
    }
    let red = rig
        .e
        .switch_views()
        .into_iter()
        .find(|s| s.name == "red")
        .expect("red");
    assert_eq!(red.members, ["siteC"]);
    assert_eq!(red.vc_ids, ["300"]);
}

#[test]
fn reload_changes_one_switch_policy_in_place() {
    let mut rig = Rig::new("", 1);
    rig.learned(0, 0, 0x0200_0000_0001, 0);
    drain(&rig);
    let text = BASE.replace(
        "name = \"blue\"\n",
        "name = \"blue\"\ndeny = [\"cdp\"]\nmac_limit = 100\n",
    );
    let lines = reload_text(&mut rig, &text).unwrap();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("switch blue: mac_limit 0 → 100, deny [] → ["));
    let cmds = rig.commands(0);
    assert!(
        matches!(
            cmds.as_slice(),
            [Command::AddSwitch(s)] if s.id == SwitchId(0) && s.mac_limit == 100
                && !s.filter.denied().is_empty()
        ),
        "one policy update, nothing flushed: {cmds:?}"
    );
    // Its MACs stay learned.
    assert_eq!(rig.e.switch_views()[0].macs, 1);
}

#[test]
fn reload_that_changes_vlan_mode_relearns_that_switch_only() {
    let mut rig = Rig::new("", 1);
    drain(&rig);
    let text = BASE.replace("vlans = [10]", "vlans = [10, 20]");
    let lines = reload_text(&mut rig, &text).unwrap();
    assert_eq!(lines, ["switch green: vlans [10] → [10, 20]"]);
    let cmds = rig.commands(0);
    assert!(
        matches!(cmds[0], Command::DropVlans(SwitchId(1))),
        "{cmds:?}"
    );
    let mapped: Vec<u16> = cmds
        .iter()
        .filter_map(|c| match c {
            Command::MapVlan { switch, vid, .. } if *switch == SwitchId(1) => Some(*vid),
            _ => None,
        })
        .collect();
    assert_eq!(mapped, [10, 20]);
    assert!(!cmds
        .iter()
        .any(|c| matches!(c, Command::FlushSwitch(SwitchId(0)))));
}

#[test]
fn reload_changing_a_static_session_replaces_it() {
    let mut rig = Rig::new("", 1);
    rig.learned(0, 0, 0x0200_0000_0002, 1);
    drain(&rig);
    let text = BASE.replace(
        "local_session_id = 1002\nremote_session_id = 2002\n",
        "local_session_id = 1002\nremote_session_id = 2002\nlocal_cookie = \"0x01020304\"\n",
    );
    let lines = reload_text(&mut rig, &text).unwrap();
    assert_eq!(lines, ["session siteB: changed (removed and added again)"]);
    let cmds = rig.commands(0);
    assert!(
        matches!(cmds[0], Command::RemoveSession(MemberId(1))),
        "{cmds:?}"
    );
    assert!(cmds.iter().any(|c| matches!(
        c,
        Command::AddSession(s) if s.member == MemberId(1) && s.local_cookie.len() == 4
    )));
    assert!(cmds.iter().any(|c| matches!(
        c,
        Command::RemoveMac {
            mac: 0x0200_0000_0002,
            ..
        }
    )));
    assert!(!cmds
        .iter()
        .any(|c| matches!(c, Command::RemoveSession(MemberId(0)))));
}

#[test]
fn reload_refuses_what_needs_a_restart_and_applies_nothing() {
    let mut rig = Rig::new("", 1);
    drain(&rig);
    let text = format!(
        "{}{THIRD}",
        BASE.replace("address = \"192.0.2.1/24\"", "address = \"192.0.2.5/24\"")
            .replace("max_switches = 4", "max_switches = 8")
    );
    let e = reload_text(&mut rig, &text).unwrap_err();
    assert!(e.contains("dataplane.max_switches"), "{e}");
    assert!(e.contains("port[0] (wan0)"), "{e}");
    assert!(rig.commands(0).is_empty());
    assert!(!rig.e.switch_views().iter().any(|s| s.name == "red"));
    // A gateway is not a restart.
    let text = BASE.replace(
        "address = \"192.0.2.1/24\"",
        "address = \"192.0.2.1/24\"\ngateway = \"192.0.2.254\"",
    );
    let lines = reload_text(&mut rig, &text).unwrap();
    assert_eq!(lines, ["port wan0 gateway: None → Some(192.0.2.254)"]);
}

#[test]
fn reload_refuses_more_switches_than_slots() {
    // Two switches configured, two made by VC IDs: every slot taken.
    let mut rig = Rig::new("", 1);
    let mut router = Router::connect(&mut rig);
    router.open(&mut rig, "501");
    router.open(&mut rig, "502");
    assert_eq!(rig.e.switch_views().len(), 4);
    let e = reload(&mut rig, "\n[[switch]]\nname = \"s3\"\n", false).unwrap_err();
    assert!(e.contains("1 switch(es) to add, 0 free slot(s)"), "{e}");
}

#[test]
fn reload_removing_a_switch_closes_its_dynamic_sessions_only() {
    let mut rig = Rig::new(THIRD, 1);
    let mut router = Router::connect(&mut rig);
    router.open(&mut rig, "100");
    router.open(&mut rig, "300");
    assert_eq!(router.ups.len(), 2);
    drain(&rig);
    // red goes (with siteC); blue and its VC ID 100 stay.
    let lines = reload(&mut rig, "", false).unwrap();
    assert!(
        lines.iter().any(|l| l.starts_with("switch red: removed")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("VC ID 300): closed (CDN)")),
        "{lines:?}"
    );
    // The CDN reaches the router; its other session and tunnel stay.
    router.exchange(&mut rig, Vec::new());
    let (_, t) = router.ep.tunnels().next().expect("tunnel");
    assert_eq!(t.session_count(), 1);
    assert_eq!(rig.e.tunnel_views()[0].state, "established");
    let dynamic: Vec<String> = rig
        .e
        .session_views()
        .into_iter()
        .filter(|s| s.kind == "dynamic")
        .map(|s| s.switch)
        .collect();
    assert_eq!(dynamic, ["blue"]);
    let cmds = rig.commands(0);
    assert!(cmds
        .iter()
        .any(|c| matches!(c, Command::FlushSwitch(SwitchId(2)))));
    assert_eq!(
        cmds.iter()
            .filter(|c| matches!(c, Command::RemoveSession(_)))
            .count(),
        2,
        "siteC and the dynamic session in red: {cmds:?}"
    );
    assert!(!rig.e.switch_views().iter().any(|s| s.name == "red"));
}

#[test]
fn reload_that_disallows_a_peer_stops_its_tunnel() {
    let mut rig = Rig::new("", 1);
    let mut router = Router::connect(&mut rig);
    router.open(&mut rig, "100");
    let lines = reload(&mut rig, "\n[l2tp]\nallow = [\"198.51.100.0/24\"]\n", false).unwrap();
    assert!(
        lines.iter().any(|l| l.contains("no longer in l2tp.allow")),
        "{lines:?}"
    );
    router.exchange(&mut rig, Vec::new());
    assert!(router
        .ep
        .tunnels()
        .all(|(_, t)| t.state() != crate::control::l2tp::TunnelState::Established));
    assert_eq!(rig.counter("sessions_down"), 1);
}

#[test]
fn reload_names_changed_secrets_without_showing_them() {
    let mut rig = Rig::new("", 1);
    let lines = reload(&mut rig, "\n[l2tp]\nsecret = \"hunter2\"\n", true).unwrap();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("l2tp.secret: changed"));
    assert!(!lines[0].contains("hunter2"));
}

#[test]
fn reload_moves_static_macs() {
    let mut rig = Rig::new("", 1);
    drain(&rig);
    let text = BASE.replace(
        "flap_block = 30\n",
        "flap_block = 30\nstatic_macs = [{ mac = \"02:00:00:00:00:77\", session = \"siteA\" }]\n",
    );
    let lines = reload_text(&mut rig, &text).unwrap();
    assert_eq!(
        lines,
        ["static MAC 02:00:00:00:00:77 in blue → siteA: added"]
    );
    assert!(matches!(
        rig.commands(0).as_slice(),
        [Command::InstallMac {
            is_static: true,
            member: MemberId(0),
            ..
        }]
    ));
    let lines = reload(&mut rig, "", false).unwrap();
    assert_eq!(
        lines,
        ["static MAC 02:00:00:00:00:77 in blue → siteA: removed"]
    );
    assert!(matches!(
        rig.commands(0).as_slice(),
        [Command::RemoveMac { .. }]
    ));
}

#[test]
fn a_udp_peer_behind_a_nat_that_remaps_it_is_followed() {
    let mut rig = Rig::new("", 2);
    let mut router = Router::connect_from(&mut rig, 40001);
    router.open(&mut rig, "100");
    assert_eq!(router.ups.len(), 1);
    let dynamic = |rig: &Rig| {
        rig.e
            .session_views()
            .into_iter()
            .find(|s| s.kind == "dynamic")
            .expect("dynamic session")
    };
    assert_eq!(dynamic(&rig).encap, "udp:1701->40001");
    drain(&rig);
    // The NAT forgets the mapping; the router's next HELLO leaves from
    // port 40002.
    router.udp_port = 40002;
    let acts = router.ep.probe(rig.now.ms, router.ccid, ());
    router.exchange(&mut rig, acts);
    assert_eq!(rig.counter("l2tp_peer_moves"), 1);
    assert_eq!(router.elsewhere, 0, "las answered on the new port");
    assert_eq!(dynamic(&rig).encap, "udp:1701->40002");
    assert_eq!(rig.e.tunnel_views()[0].encap, "udp:40002");
    assert_eq!(rig.e.tunnel_views()[0].state, "established");
    // The workers take data from the new port, and send there.
    for w in 0..2 {
        let cmds = rig.commands(w);
        assert!(
            cmds.iter()
                .any(|c| matches!(c, Command::AddSession(s) if s.udp_peer_port == 40002)),
            "{cmds:?}"
        );
    }
    // A replay of a message las already has, from yet another port,
    // moves nothing: it is a duplicate.
    let (_, t) = router.ep.tunnels().next().unwrap();
    let mut hello = Message::new(MessageType::Hello, t.remote_ccid().unwrap());
    hello.ns = t.reliable().next_ns().wrapping_sub(1);
    hello.nr = t.reliable().expected_ns();
    let mut f = l2tp_over_udp(&hello.emit(), 40003);
    rig.e.frame_in(rig.now, 0, &mut f);
    assert_eq!(rig.counter("l2tp_peer_moves"), 1);
    assert_eq!(rig.counter("l2tp_wrong_peer"), 1);
    assert_eq!(dynamic(&rig).encap, "udp:1701->40002");
}

#[test]
fn a_peer_over_ip_or_from_another_address_never_moves() {
    let mut rig = Rig::new("", 1);
    let mut router = Router::connect(&mut rig);
    router.open(&mut rig, "100");
    // Over IP there is no port: the same tunnel from UDP is another peer.
    router.udp_port = 40005;
    let acts = router.ep.probe(rig.now.ms, router.ccid, ());
    router.exchange(&mut rig, acts);
    assert_eq!(rig.counter("l2tp_peer_moves"), 0);
    assert!(rig.counter("l2tp_wrong_peer") > 0);
}

#[test]
fn udp_peers_get_the_nat_friendly_hello_interval() {
    let mut rig = Rig::new("", 1);
    let mut router = Router::connect_from(&mut rig, 40001);
    router.open(&mut rig, "100");
    let hellos = |rig: &Rig| rig.e.tunnel_views()[0].hellos_sent;
    let before = hellos(&rig);
    // hello_interval_udp defaults to 20 s (60 s over IP).
    rig.advance(19_000);
    assert_eq!(hellos(&rig), before);
    rig.advance(2_000);
    assert_eq!(hellos(&rig), before + 1);
}

#[test]
fn data_from_a_new_port_prompts_a_hello_there_whose_answer_moves_the_tunnel() {
    let mut rig = Rig::new("", 1);
    let mut router = Router::connect_from(&mut rig, 40001);
    router.open(&mut rig, "100");
    let member = rig
        .e
        .session_views()
        .iter()
        .position(|s| s.kind == "dynamic")
        .map(|i| i as u16)
        .expect("dynamic session");
    // The static sessions hold members 0 and 1.
    assert_eq!(member, 2);
    drain(&rig);
    // The NAT remapped the router; its data arrives from 40002 and the
    // worker reports it.
    router.udp_port = 40002;
    rig.workers[0]
        .events
        .push(Event::PeerPort {
            member: MemberId(member),
            port: 40002,
        })
        .unwrap();
    rig.e.poll(rig.now);
    assert_eq!(rig.counter("l2tp_port_probes"), 1);
    // The HELLO went to 40002; the router's acknowledgement from there
    // moves the tunnel.
    router.exchange(&mut rig, Vec::new());
    assert_eq!(rig.counter("l2tp_peer_moves"), 1);
    assert_eq!(rig.e.tunnel_views()[0].encap, "udp:40002");
    // A report for a static session asks nobody.
    rig.workers[0]
        .events
        .push(Event::PeerPort {
            member: MemberId(0),
            port: 40009,
        })
        .unwrap();
    rig.e.poll(rig.now);
    assert_eq!(rig.counter("l2tp_port_probes"), 1);
}

/// The switch's largest frame follows its members' encapsulations as
/// they come and go (`update_max_frame` visits the switch's own member
/// list, not every session slot).
#[test]
fn max_frame_follows_the_members_of_the_switch() {
    const NEIGH: &str = r#"
[[neighbor]]
port = "wan0"
address = "192.0.2.10"
mac = "02:00:00:00:00:0a"

[[neighbor]]
port = "wan0"
address = "192.0.2.11"
mac = "02:00:00:00:00:0b"

[[neighbor]]
port = "wan0"
address = "192.0.2.13"
mac = "02:00:00:00:00:0d"
"#;
    const UDP: &str = r#"
[[session]]
name = "siteU"
switch = "blue"
peer = "192.0.2.13"
encap = "udp"
local_session_id = 1004
remote_session_id = 2004
remote_cookie = "0x0102030405060708"
"#;
    let max_frames = |cmds: Vec<Command>| -> Vec<(u16, usize)> {
        cmds.into_iter()
            .filter_map(|c| match c {
                Command::SetMaxFrame { switch, max_frame } => Some((switch.0, max_frame)),
                _ => None,
            })
            .collect()
    };
    // IPv4 20 + session id 4: 1500 - 24.
    let mut rig = Rig::new(NEIGH, 1);
    assert_eq!(max_frames(rig.commands(0)).last(), Some(&(0, 1476)));
    // IPv4 20 + UDP 8 + flags/session 8 + cookie 8: 1500 - 44.
    reload(&mut rig, &format!("{NEIGH}{UDP}"), false).unwrap();
    assert_eq!(max_frames(rig.commands(0)), [(0, 1456)]);
    // The UDP member leaves: back to the IP members' frame; "green"
    // (no members) is not touched.
    reload(&mut rig, NEIGH, false).unwrap();
    assert_eq!(max_frames(rig.commands(0)), [(0, 1476)]);
}

/// A static session to an IPv6 peer: its next hop is asked for by
/// neighbour discovery (a solicitation to its solicited-node group); a
/// static `[[neighbor]]` gives a template at once: Ethernet to the
/// neighbour's MAC, IPv6 from the port's `address6` to the peer, next
/// header 115; and the switch's largest frame counts the 40-byte header.
#[test]
fn ipv6_static_sessions_resolve_by_nd_and_get_ipv6_templates() {
    let extra = r#"
[[port]]
name = "wan6"
device = "net_null1"
address = "198.51.100.1/24"
address6 = "2001:db8:6::1/64"

[[switch]]
name = "six"

[[session]]
name = "v6a"
switch = "six"
peer = "2001:db8:6::10"
local_session_id = 3001
remote_session_id = 4001

[[session]]
name = "v6b"
switch = "six"
peer = "2001:db8:6::11"
encap = "udp"
local_session_id = 3002
remote_session_id = 4002

[[neighbor]]
port = "wan6"
address = "2001:db8:6::10"
mac = "02:00:00:00:06:10"
"#;
    let mut rig = Rig::new(extra, 1);
    let cmds = rig.commands(0);
    let peer6: std::net::Ipv6Addr = "2001:db8:6::10".parse().unwrap();
    let spec = cmds
        .iter()
        .find_map(|c| match c {
            Command::AddSession(s) if s.local_session_id == 3001 => Some(s.clone()),
            _ => None,
        })
        .expect("v6a programmed");
    assert_eq!(spec.peer, IpAddr::V6(peer6));
    assert_eq!(spec.port, 1);
    let t = cmds
        .iter()
        .find_map(|c| match c {
            Command::SetTemplate(m, Some(t)) if *m == spec.member => Some(t.clone()),
            _ => None,
        })
        .expect("v6a's template from the static neighbour");
    let b = t.bytes();
    assert!(t.is_ipv6());
    assert_eq!(&b[0..6], &[2, 0, 0, 0, 6, 0x10]);
    assert_eq!(&b[6..12], &[2, 0, 0, 0, 0, 2]);
    assert_eq!(&b[12..14], &[0x86, 0xdd]);
    assert_eq!(b[20], 115);
    let src: std::net::Ipv6Addr = "2001:db8:6::1".parse().unwrap();
    assert_eq!(&b[22..38], &src.octets());
    assert_eq!(&b[38..54], &peer6.octets());
    assert_eq!(&b[54..58], &4001u32.to_be_bytes());
    // v6b's next hop is solicited: an NS to ff02::1:ff00:11 out of wan6.
    rig.advance(10);
    let frames = rig.frames();
    assert!(
        frames.iter().any(|o| o.port == 1
            && o.frame.get(12..14) == Some(&[0x86, 0xdd][..])
            && o.frame.get(54) == Some(&135)
            && o.frame.get(38..54)
                == Some(
                    &"ff02::1:ff00:11"
                        .parse::<std::net::Ipv6Addr>()
                        .unwrap()
                        .octets()[..]
                )),
        "no NS for the v6b peer"
    );
    let views = rig.e.session_views();
    let v = views.iter().find(|v| v.name == "v6b").unwrap();
    assert_eq!(v.peer, "2001:db8:6::11");
    assert_eq!(v.state, "resolving");
    assert_eq!(views.iter().find(|v| v.name == "v6a").unwrap().state, "up");
    // The switch's largest frame: 1500 - (40 + 4).
    let sw = rig.e.switches[2].as_ref().unwrap();
    assert_eq!(sw.max_frame, 1500 - 44);
}

/// A second port with IPv6, and a static neighbour for one IPv6 peer.
const V6PORT: &str = r#"
[[port]]
name = "wan6"
device = "net_null1"
address = "198.51.100.1/24"
address6 = "2001:db8:6::1/64"

[[neighbor]]
port = "wan6"
address = "2001:db8:6::10"
mac = "02:00:00:00:06:10"
"#;

fn ip6(s: &str) -> std::net::Ipv6Addr {
    s.parse().unwrap()
}

#[test]
fn ipv6_dynamic_sessions_join_the_vc_switch_beside_ipv4_ones() {
    let mut rig = Rig::new(V6PORT, 1);
    rig.commands(0);
    let (a6, b6) = (ip6("2001:db8:6::10"), ip6("2001:db8:6::11"));
    let mut over_ip = Router::connect6(&mut rig, a6, 1, 0);
    let mut over_udp = Router::connect6(&mut rig, b6, 1, 40000);
    let mut v4 = Router::connect(&mut rig);
    for r in [&mut over_ip, &mut over_udp, &mut v4] {
        r.open(&mut rig, "100");
        assert_eq!(r.ups.len(), 1, "the router's session is up");
        assert_eq!(r.elsewhere, 0);
    }
    assert_eq!(rig.counter("sessions_up"), 3);
    let cmds = rig.commands(0);
    let added: Vec<SessionSpec> = cmds
        .iter()
        .filter_map(|c| match c {
            Command::AddSession(s) => Some(**s),
            _ => None,
        })
        .collect();
    assert_eq!(added.len(), 3);
    // All in switch "blue" (VC ID 100), with the two static IPv4 ones.
    assert!(added.iter().all(|s| s.switch == SwitchId(0)));
    let a = added.iter().find(|s| s.peer == IpAddr::V6(a6)).unwrap();
    assert_eq!((a.encap, a.port, a.udp_peer_port), (Encap::Ip, 1, 0));
    let b = added.iter().find(|s| s.peer == IpAddr::V6(b6)).unwrap();
    assert_eq!((b.encap, b.port, b.udp_peer_port), (Encap::Udp, 1, 40000));
    assert!(added.iter().any(|s| s.peer == IpAddr::V4(PEER)));
    // The peer with a static neighbour gets its IPv6 template at once.
    let t = cmds
        .iter()
        .find_map(|c| match c {
            Command::SetTemplate(m, Some(t)) if *m == a.member => Some(t.clone()),
            _ => None,
        })
        .expect("an IPv6 template");
    let by = t.bytes();
    assert!(t.is_ipv6());
    assert_eq!(&by[0..6], &[2, 0, 0, 0, 6, 0x10]);
    assert_eq!(&by[12..14], &[0x86, 0xdd]);
    assert_eq!(by[20], 115);
    assert_eq!(&by[22..38], &OURS6.octets());
    assert_eq!(&by[38..54], &a6.octets());
    assert_eq!(&by[54..58], &over_ip.ups[0].local_session_id.to_be_bytes());
    // The other is being solicited (answered meanwhile through the MAC
    // its messages came from).
    let views = rig.e.session_views();
    let v = views.iter().find(|v| v.peer == "2001:db8:6::11").unwrap();
    assert_eq!(v.state, "resolving");
    assert!(rig.counter("nd6_solicitations_tx") > 0);
    // `las show`: IPv6 peers as addresses, session names bracketed.
    let tunnels = rig.e.tunnel_views();
    assert!(tunnels
        .iter()
        .any(|t| t.peer == "2001:db8:6::10" && t.encap == "ip" && t.state == "established"));
    assert!(tunnels
        .iter()
        .any(|t| t.peer == "2001:db8:6::11" && t.encap == "udp:40000"));
    let views = rig.e.session_views();
    let v = views
        .iter()
        .find(|v| v.kind == "dynamic" && v.peer == "2001:db8:6::10")
        .expect("the IPv6 session in las show sessions");
    assert_eq!(v.switch, "blue");
    assert_eq!(
        v.name,
        format!("[2001:db8:6::10]/{}", over_ip.ups[0].remote_session_id)
    );
    // The IPv6 router closes its session; the others stay.
    let sid = over_ip.ups[0].local_session_id;
    let acts = over_ip
        .ep
        .close_session(rig.now.ms, over_ip.ccid, sid, 3, None, "");
    over_ip.exchange(&mut rig, acts);
    assert_eq!(rig.counter("sessions_down"), 1);
    assert_eq!(
        rig.e
            .session_views()
            .iter()
            .filter(|s| s.kind == "dynamic")
            .count(),
        2
    );
}

/// An SCCRQ as las's own initiator sends it.
fn sccrq() -> Vec<u8> {
    let mut ep = L2tpEndpoint::new(L2tpConfig::default(), Box::new(OsRandom));
    let (_, acts) = ep.connect(1, ());
    acts.into_iter()
        .find_map(|(_, a)| match a {
            Action::Send(b) => Some(b),
            _ => None,
        })
        .expect("an SCCRQ")
}

#[test]
fn ipv6_control_messages_are_checked_before_the_control_channel() {
    let mut rig = Rig::new(V6PORT, 1);
    rig.frames();
    let a6 = ip6("2001:db8:6::10");
    let m = sccrq();
    let send = |rig: &mut Rig, mut f: Vec<u8>, counter: &str| {
        let before = rig.counter(counter);
        assert_eq!(rig.e.frame_in(rig.now, 1, &mut f), Disposition::Consumed);
        assert_eq!(rig.counter(counter), before + 1, "{counter}");
    };
    const UDP: usize = 14 + 40;
    // A zero UDP checksum: refused on control messages (RFC 6936 §5).
    let mut f = l2tp6(a6, OURS6, 40000, &m);
    f[UDP + 6..UDP + 8].fill(0);
    send(&mut rig, f, "l2tp6_udp_zero_checksum");
    // A checksum that does not verify.
    let mut f = l2tp6(a6, OURS6, 40000, &m);
    *f.last_mut().unwrap() ^= 0x5a;
    send(&mut rig, f, "l2tp6_udp_bad_checksum");
    // A UDP length past the IPv6 payload.
    let mut f = l2tp6(a6, OURS6, 40000, &m);
    let ulen = u16::from_be_bytes([f[UDP + 4], f[UDP + 5]]) + 2;
    f[UDP + 4..UDP + 6].copy_from_slice(&ulen.to_be_bytes());
    send(&mut rig, f, "l2tp6_malformed");
    // Over IP, shorter than the session id.
    let mut f = l2tp6(a6, OURS6, 0, &[]);
    f.truncate(f.len() - 1);
    f[18..20].copy_from_slice(&3u16.to_be_bytes());
    send(&mut rig, f, "l2tp6_malformed");
    // To our link-local address, from a link-local one.
    let ll = crate::wire::ipv6::link_local([2, 0, 0, 0, 0, 2]);
    send(&mut rig, l2tp6(a6, ll, 0, &m), "l2tp6_not_ours");
    send(
        &mut rig,
        l2tp6(ip6("fe80::10"), OURS6, 0, &m),
        "l2tp6_bad_source",
    );
    assert!(rig.e.tunnel_views().is_empty());
    assert!(rig
        .frames()
        .iter()
        .all(|o| o.frame.get(20) != Some(&17) && o.frame.get(20) != Some(&115)));
    // Good ones over IP and UDP open control connections, answered over
    // IPv6 (`l2tp_payload6` checks the answers).
    send(&mut rig, l2tp6(a6, OURS6, 0, &m), "l2tp_control_rx");
    send(&mut rig, l2tp6(a6, OURS6, 40000, &m), "l2tp_control_rx");
    assert_eq!(rig.e.tunnel_views().len(), 2);
    let frames = rig.frames();
    assert_eq!(
        frames
            .iter()
            .filter_map(|o| l2tp_payload6(o, 1, a6))
            .map(|(_, port)| port)
            .collect::<Vec<_>>(),
        vec![0, 40000]
    );
    // Through the MAC the messages came from.
    assert!(frames
        .iter()
        .filter(|o| l2tp_payload6(o, 1, a6).is_some())
        .all(|o| o.frame[0..6] == [2, 0, 0, 0, 6, 0x10]));
}

#[test]
fn ipv6_prefixes_in_allow_and_peer_secrets() {
    let extra = format!(
        "{V6PORT}\n[l2tp]\nallow = [\"192.0.2.0/24\", \"2001:db8:6::/120\"]\n\
         [[l2tp.peer]]\nprefix = \"2001:db8:7::/64\"\nsecret = \"seven\"\n"
    );
    let mut rig = Rig::new(&extra, 1);
    let secret = |ip: &str| rig.e.cfg.l2tp.secret_for(ip.parse().unwrap());
    assert_eq!(secret("2001:db8:7::10"), Some("seven"));
    assert_eq!(secret("2001:db8:6::10"), None);
    assert_eq!(secret("192.0.2.10"), None);
    let before = rig.counter("l2tp_peer_refused");
    let mut f = l2tp6(ip6("2001:db8:6::1:10"), OURS6, 0, &sccrq());
    rig.e.frame_in(rig.now, 1, &mut f);
    assert_eq!(rig.counter("l2tp_peer_refused"), before + 1);
    assert!(rig.e.tunnel_views().is_empty());
    let mut f = l2tp6(ip6("2001:db8:6::10"), OURS6, 0, &sccrq());
    rig.e.frame_in(rig.now, 1, &mut f);
    assert_eq!(rig.e.tunnel_views().len(), 1);
}

#[test]
fn bogus_ipv6_sources_do_not_grow_the_peer_table_without_bound() {
    let extra = format!("{V6PORT}\n[l2tp]\ncontrol_rate = 1000000\n");
    let mut rig = Rig::new(&extra, 1);
    let mut good = Router::connect6(&mut rig, ip6("2001:db8:6::10"), 1, 0);
    // A ZLB to a control connection that does not exist, from 20,000
    // addresses (a /64 has plenty).
    let zlb = [0xc8, 0x03, 0, 12, 0, 0, 0, 99, 0, 0, 0, 0];
    for i in 0..20_000u32 {
        let src = std::net::Ipv6Addr::from(u128::from(ip6("2001:db8:6:0:1::")) + u128::from(i));
        let mut f = l2tp6(src, OURS6, 0, &zlb);
        rig.e.frame_in(rig.now, 1, &mut f);
    }
    assert!(rig.e.peer_seen.len() <= 8192, "{}", rig.e.peer_seen.len());
    assert!(rig.e.control_rate.tracked() <= CONTROL_RATE_SOURCES);
    // The peer with a control connection is still reachable.
    good.open(&mut rig, "100");
    assert_eq!(good.ups.len(), 1);
}

/// One IPv6-only port (no `address`), a static IPv6 pseudowire, the
/// Router ID given (validation requires it with no IPv4 port).
const V6ONLY: &str = r#"
[l2tp]
router_id = "10.9.8.7"

[[port]]
name = "wan0"
device = "net_null0"
address6 = "2001:db8:6::1/64"

[[switch]]
name = "blue"

[[session]]
name = "siteA"
switch = "blue"
peer = "2001:db8:6::10"
encap = "ip"
local_session_id = 1001
remote_session_id = 2001
"#;

#[test]
fn an_ipv6_only_port_sends_and_answers_no_arp_or_icmp() {
    let mut rig = Rig::from_doc(V6ONLY, 1);
    rig.commands(0);
    // No gratuitous ARP (nor any ARP) at start: only ND.
    let frames = rig.frames();
    assert!(!frames.is_empty(), "ND solicitations at start");
    assert!(
        frames.iter().all(|o| o.frame[12..14] != [0x08, 0x06]),
        "an ARP frame from an IPv6-only port"
    );
    assert!(frames.iter().all(|o| o.frame[12..14] == [0x86, 0xdd]));
    assert_eq!(rig.counter("arp_requests_tx"), 0);
    // An ARP request for what used to be its IPv4 address is not
    // answered, learned from or resolved; it is counted.
    let other = rig.counter("punt_other");
    let mut f = arp_from(PEER_MAC, PEER, OURS);
    assert_eq!(rig.e.frame_in(rig.now, 0, &mut f), Disposition::Consumed);
    assert_eq!(f, arp_from(PEER_MAC, PEER, OURS), "left untouched");
    assert_eq!(rig.counter("arp_replies_tx"), 0);
    assert_eq!(rig.counter("arp_requests_rx"), 0);
    // Nor an IPv4 packet (here an L2TP SCCRQ over IP).
    let mut f = l2tp_over_ip(&sccrq());
    assert_eq!(rig.e.frame_in(rig.now, 0, &mut f), Disposition::Consumed);
    assert_eq!(rig.counter("punt_other"), other + 2);
    assert_eq!(rig.counter("l2tp_control_rx"), 0);
    rig.advance(5_000);
    assert!(rig.frames().iter().all(|o| o.frame[12..14] != [0x08, 0x06]));
    // `las show ports`: no IPv4 address, never 0.0.0.0.
    let ports = rig.e.port_views(&Snapshot {
        ports: vec![PortSample::default()],
        ..Snapshot::default()
    });
    assert_eq!(ports[0].address, None);
    assert_eq!(ports[0].address6.as_deref(), Some("2001:db8:6::1/64"));
}

#[test]
fn router_id_is_the_first_ipv4_port_address_unless_configured() {
    let doc = r#"
[[port]]
name = "v6"
device = "net_null0"
address6 = "2001:db8:6::1/64"

[[port]]
name = "v4"
device = "net_null1"
address = "192.0.2.1/24"
"#;
    let cfg = Config::from_toml_str(doc).unwrap();
    assert_eq!(cfg.router_id(), OURS);
    let rig = Rig::from_doc(doc, 1);
    assert_eq!(default_router_id(&rig.e.ports), OURS);
    // `[l2tp] router_id` wins.
    let cfg = Config::from_toml_str(&format!("[l2tp]\nrouter_id = \"7\"\n{doc}")).unwrap();
    assert_eq!(cfg.router_id(), Ipv4Addr::new(0, 0, 0, 7));
}
