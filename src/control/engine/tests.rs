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
use crate::wire::l2tp::message::pw_type;

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
        let cfg = Config::from_toml_str(&format!("{BASE}{extra}")).expect("test config");
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
        let ports = vec![PortInfo {
            name: "wan0".into(),
            device: "net_null0".into(),
            driver: "net_null".into(),
            mac: OUR_MAC,
            address: OURS,
            prefix_len: 24,
            gateway: None,
            mtu: 1500,
            rx_queues: 1,
            tx_queues: 1,
            dont_fragment: false,
        }];
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

/// The L2TP message inside a frame the engine sent to the peer over IP.
fn l2tp_payload(o: &Outgoing) -> Option<&[u8]> {
    let ip = ipv4::Packet::new_checked(&o.frame[ethernet::HEADER_LEN..]).ok()?;
    if ip.next_header() != protocol::L2TP || ip.dst_addr() != PEER {
        return None;
    }
    let l = ethernet::HEADER_LEN + ipv4::HEADER_LEN + 4;
    Some(&o.frame[l..])
}

/// A minimal RFC 3931 initiator standing in for a router.
struct Router {
    ep: L2tpEndpoint<()>,
    ccid: u32,
    ups: Vec<SessionUp>,
    downs: usize,
}

impl Router {
    fn connect(rig: &mut Rig) -> Router {
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
                        let mut f = l2tp_over_ip(&b);
                        assert_eq!(rig.e.frame_in(rig.now, 0, &mut f), Disposition::Consumed);
                    }
                    Action::SessionUp(u) => self.ups.push(u),
                    Action::SessionDown(_) => self.downs += 1,
                    _ => {}
                }
            }
            for o in rig.frames() {
                if let Some(m) = l2tp_payload(&o) {
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
