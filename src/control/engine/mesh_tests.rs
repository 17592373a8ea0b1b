//! The mesh between las engines: several engines on one simulated LAN
//! (frames delivered by destination MAC, broadcasts to all), each with
//! its own configuration, its workers' queues read back, time passed in.
//! They resolve each other with ARP and speak RFC 3931 to each other as
//! they would on a wire; an edge router is las's own initiator
//! (interop with real routers is `tests/cisco_control.rs`'s job).

use super::*;
use crate::control::l2tp::{Endpoint as L2tpEndpoint, EndpointConfig as L2tpConfig};
use crate::telemetry::WorkerCounters;
use crate::wire::l2tp::message::pw_type;

const TSC_HZ: u64 = 1_000_000_000;
const EDGE_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
const EDGE_MAC: [u8; 6] = [2, 0, 0, 0, 0, 10];

fn ip(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(198, 51, 100, n)
}

fn mac(n: u8) -> [u8; 6] {
    [2, 0, 0, 0, 0, n]
}

struct Node {
    n: u8,
    text: String,
    e: Engine,
    workers: Vec<Arc<WorkerShared>>,
}

/// The edge router: an RFC 3931 initiator at `EDGE_IP` talking to one node.
struct Edge {
    ep: L2tpEndpoint<()>,
    to: usize,
    ccid: u32,
    ups: Vec<SessionUp>,
}

struct Net {
    nodes: Vec<Node>,
    edge: Option<Edge>,
    now: Now,
    /// Nodes whose frames are lost (a dead node).
    dead: Vec<bool>,
}

fn l2tp_frame(src: ([u8; 6], Ipv4Addr), dst: ([u8; 6], Ipv4Addr), msg: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; ethernet::HEADER_LEN + ipv4::HEADER_LEN + 4 + msg.len()];
    EthernetRepr {
        src: MacAddr(src.0),
        dst: MacAddr(dst.0),
        ethertype: ethertype::IPV4,
    }
    .emit(&mut ethernet::Frame::new_unchecked(&mut f[..]));
    Ipv4Repr {
        src: src.1,
        dst: dst.1,
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

impl Net {
    /// Nodes `.1`, `.2`, ... with `[mesh] peers` = every other node and
    /// `extra[i]` appended to node i's configuration.
    fn new(extra: &[&str]) -> Net {
        let k = extra.len() as u8;
        let nodes = extra
            .iter()
            .enumerate()
            .map(|(i, x)| {
                let n = i as u8 + 1;
                let peers: Vec<String> = (1..=k)
                    .filter(|&p| p != n)
                    .map(|p| format!("\"{}\"", ip(p)))
                    .collect();
                let text = format!(
                    "[dataplane]\nmax_sessions = 16\nmax_switches = 8\n\
                     [[port]]\nname = \"wan0\"\ndevice = \"net_null0\"\naddress = \"{}/24\"\n\
                     [mesh]\npeers = [{}]\nretry_interval = 2\n{x}",
                    ip(n),
                    peers.join(", ")
                );
                let cfg = Config::from_toml_str(&text).expect("test config");
                let text_kept = text.clone();
                let c = WorkerCounters::new(
                    cfg.dataplane.max_sessions,
                    cfg.dataplane.max_switches,
                    cfg.ports.len(),
                );
                let workers = vec![Arc::new(WorkerShared::new(4096, 1024, c))];
                let ports = vec![PortInfo {
                    name: "wan0".into(),
                    device: "net_null0".into(),
                    driver: "net_null".into(),
                    mac: mac(n),
                    address: Some(ip(n)),
                    prefix_len: 24,
                    gateway: None,
                    mtu: 1500,
                    rx_queues: 1,
                    tx_queues: 1,
                    dont_fragment: false,
                    rx_ip_checksum: false,
                    v6: None,
                }];
                let e = Engine::new(cfg, ports, workers.clone(), vec![1], TSC_HZ);
                Node {
                    n,
                    text: text_kept,
                    e,
                    workers,
                }
            })
            .collect::<Vec<_>>();
        let mut net = Net {
            dead: vec![false; nodes.len()],
            nodes,
            edge: None,
            now: Now { ms: 1, tsc: 5_000 },
        };
        for node in &mut net.nodes {
            node.e.program(net.now);
        }
        net
    }

    /// Delivers every frame until the LAN is quiet, `ms` of time passing
    /// in 100 ms steps.
    fn run(&mut self, ms: u64) {
        let steps = ms / 100;
        for _ in 0..steps.max(1) {
            self.now.ms += 100;
            self.now.tsc += 100 * (TSC_HZ / 1000);
            for n in &mut self.nodes {
                n.e.poll(self.now);
            }
            if let Some(edge) = self.edge.as_mut() {
                let acts = edge.ep.poll(self.now.ms);
                self.edge_acts(acts);
            }
            self.deliver();
        }
    }

    fn deliver(&mut self) {
        for _ in 0..64 {
            let mut moved = false;
            for i in 0..self.nodes.len() {
                let mut out = Vec::new();
                self.nodes[i].e.take_frames(&mut out);
                if self.dead[i] {
                    continue;
                }
                for o in out {
                    moved = true;
                    self.put_on_lan(i, o.frame);
                }
            }
            if !moved {
                return;
            }
        }
        panic!("the LAN did not settle");
    }

    /// A frame node `from` sent: to the node with its destination MAC,
    /// or to all others (broadcast), or to the edge.
    fn put_on_lan(&mut self, from: usize, frame: Vec<u8>) {
        let dst: [u8; 6] = frame[..6].try_into().expect("frame");
        if dst == EDGE_MAC {
            let l = ethernet::HEADER_LEN + ipv4::HEADER_LEN + 4;
            if let Some(edge) = self.edge.as_mut() {
                let acts = edge.ep.handle(self.now.ms, (), &frame[l..]);
                self.edge_acts(acts);
            }
            return;
        }
        for j in 0..self.nodes.len() {
            if j == from || self.dead[j] || (dst != [0xff; 6] && dst != mac(self.nodes[j].n)) {
                continue;
            }
            let mut f = frame.clone();
            if self.nodes[j].e.frame_in(self.now, 0, &mut f) == Disposition::Reply {
                self.put_on_lan(j, f);
            }
        }
    }

    fn edge_acts(&mut self, acts: Vec<((), Action)>) {
        let Some(edge) = self.edge.as_mut() else {
            return;
        };
        let to = edge.to;
        let mut frames = Vec::new();
        for (_, a) in acts {
            match a {
                Action::Send(b) => frames.push(l2tp_frame(
                    (EDGE_MAC, EDGE_IP),
                    (mac(to as u8 + 1), ip(to as u8 + 1)),
                    &b,
                )),
                Action::SessionUp(u) => edge.ups.push(u),
                _ => {}
            }
        }
        for mut f in frames {
            if self.nodes[to].e.frame_in(self.now, 0, &mut f) == Disposition::Reply {
                self.put_on_lan(to, f);
            }
        }
    }

    /// An edge connects to node `to` and opens a session for `vc`.
    fn edge_session(&mut self, to: usize, vc: &str) {
        let mut cfg = L2tpConfig::default();
        cfg.tunnel.host_name = b"edge".to_vec();
        let mut ep = L2tpEndpoint::new(cfg, Box::new(OsRandom));
        let (ccid, acts) = ep.connect(self.now.ms, ());
        self.edge = Some(Edge {
            ep,
            to,
            ccid,
            ups: Vec::new(),
        });
        self.edge_acts(acts);
        self.run(2000);
        let edge = self.edge.as_mut().expect("edge");
        let (_, acts) = edge
            .ep
            .open_session(self.now.ms, ccid, vc.as_bytes(), pw_type::ETHERNET)
            .expect("edge tunnel up");
        self.edge_acts(acts);
        self.run(2000);
        assert_eq!(self.edge.as_ref().map(|e| e.ups.len()), Some(1));
    }

    fn edge_close(&mut self) {
        let edge = self.edge.as_mut().expect("edge");
        let sid = edge.ups[0].local_session_id;
        let acts = edge
            .ep
            .close_session(self.now.ms, edge.ccid, sid, 3, None, "");
        self.edge_acts(acts);
        self.run(1000);
    }

    fn mesh_sessions(&self, i: usize) -> Vec<SessionView> {
        self.nodes[i]
            .e
            .session_views()
            .into_iter()
            .filter(|s| s.kind == "mesh")
            .collect()
    }

    fn commands(&self, i: usize) -> Vec<Command> {
        std::iter::from_fn(|| self.nodes[i].workers[0].commands.pop()).collect()
    }

    fn counter(&self, i: usize, name: &str) -> u64 {
        self.nodes[i].e.counters_view(&Snapshot::default()).control[name]
    }
}

const BLUE: &str = "[[switch]]\nname = \"blue\"\nvc_ids = [\"100\"]\n";

#[test]
fn two_nodes_join_a_shared_switch_with_one_mesh_pseudowire() {
    let mut net = Net::new(&[BLUE, BLUE]);
    net.commands(1);
    net.run(3000);
    for i in 0..2 {
        let m = net.nodes[i].e.mesh_views();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].state, "established", "node {i}: {m:?}");
        assert_eq!(m[0].switches, vec!["blue".to_string()], "node {i}");
        assert_eq!(m[0].pending, 0);
        let s = net.mesh_sessions(i);
        assert_eq!(s.len(), 1, "node {i}: exactly one mesh pseudowire: {s:?}");
        assert_eq!(s[0].switch, "blue");
    }
    for i in 0..2 {
        let t = net.nodes[i].e.tunnel_views();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].sessions, 1, "node {i}: the duplicate is closed: {t:?}");
    }
    assert_eq!(net.nodes[0].e.mesh_views()[0].role, "initiator");
    assert_eq!(net.nodes[1].e.mesh_views()[0].role, "responder");
    // Both offered blue at once: the lower node's pseudowire is the one
    // both kept.
    let (a, b) = (&net.mesh_sessions(0)[0], &net.mesh_sessions(1)[0]);
    assert_eq!(a.local_session_id, b.remote_session_id);
    assert_eq!(a.remote_session_id, b.local_session_id);
    // The workers have it as a mesh member (split-horizon group).
    let added: Vec<SessionSpec> = net
        .commands(1)
        .into_iter()
        .filter_map(|c| match c {
            Command::AddSession(s) => Some(*s),
            _ => None,
        })
        .collect();
    assert_eq!(added.len(), 1, "{added:?}");
    assert!(added[0].mesh);
    assert_eq!(net.counter(0, "mesh_tunnels_up"), 1);
    assert_eq!(net.counter(0, "mesh_connects"), 1);
    assert_eq!(net.counter(1, "mesh_connects"), 0);
}

#[test]
fn a_switch_appears_on_a_mesh_peer_on_demand_and_goes_with_its_sites() {
    let grace = "[l2tp]\nauto_switch_grace = 5\n";
    let mut net = Net::new(&[grace, grace]);
    net.run(3000);
    assert_eq!(net.nodes[0].e.mesh_views()[0].state, "established");
    assert!(net.mesh_sessions(0).is_empty());
    // A site with VC ID 7 comes up on node 2: node 1 gets switch vc-7.
    net.edge_session(1, "7");
    let names = |net: &Net, i: usize| -> Vec<String> {
        net.nodes[i]
            .e
            .switch_views()
            .into_iter()
            .map(|s| s.name)
            .collect()
    };
    assert_eq!(names(&net, 1), vec!["vc-7".to_string()]);
    assert_eq!(names(&net, 0), vec!["vc-7".to_string()]);
    assert_eq!(net.mesh_sessions(0).len(), 1);
    assert_eq!(net.mesh_sessions(1).len(), 1);
    // Node 1 has no site in vc-7: its copy is idle and freed after the
    // grace, closing the mesh pseudowire; node 2 keeps its own.
    net.run(7000);
    assert!(names(&net, 0).is_empty(), "{:?}", names(&net, 0));
    assert!(net.mesh_sessions(1).is_empty());
    assert_eq!(names(&net, 1), vec!["vc-7".to_string()]);
    assert!(net.nodes[1].e.mesh_views()[0].switches.is_empty());
}

#[test]
fn a_site_that_leaves_makes_the_mesh_peers_flush_its_macs() {
    let mut net = Net::new(&[BLUE, BLUE]);
    net.run(3000);
    net.edge_session(0, "100");
    // Node 2 learned a MAC of that site through its mesh member.
    let member = {
        let v = net.mesh_sessions(1);
        assert_eq!(v.len(), 1);
        net.nodes[1]
            .e
            .sessions
            .iter()
            .flatten()
            .find(|s| s.mesh)
            .map(|s| s.member)
            .expect("mesh member")
    };
    let site_mac = 0x0200_00aa_0001;
    net.nodes[1].workers[0]
        .events
        .push(Event::Learned {
            switch: SwitchId(0),
            mac: site_mac,
            member,
        })
        .expect("event");
    net.run(200);
    net.commands(1);
    net.edge_close();
    assert_eq!(net.counter(0, "mesh_flushes_sent"), 1);
    assert_eq!(net.counter(1, "mesh_flushes_received"), 1);
    let cmds = net.commands(1);
    assert!(
        cmds.iter()
            .any(|c| matches!(c, Command::RemoveMac { mac, .. } if *mac == site_mac)),
        "{cmds:?}"
    );
    assert!(cmds
        .iter()
        .any(|c| matches!(c, Command::FlushMember(m) if *m == member)));
    // The mesh pseudowire itself stays: blue is configured on both.
    assert_eq!(net.mesh_sessions(1).len(), 1);
}

#[test]
fn a_dead_mesh_peer_is_dropped_by_hello_and_reconnected_when_back() {
    let hello = "[l2tp]\nhello_interval = 2\n";
    let cfg = format!("{BLUE}{hello}");
    let mut net = Net::new(&[&cfg, &cfg]);
    net.run(3000);
    assert_eq!(net.mesh_sessions(0).len(), 1);
    // Node 1 learned a MAC behind node 2.
    let member = net.nodes[0]
        .e
        .sessions
        .iter()
        .flatten()
        .find(|s| s.mesh)
        .map(|s| s.member)
        .expect("mesh member");
    let far_mac = 0x0200_00bb_0002;
    net.nodes[0].workers[0]
        .events
        .push(Event::Learned {
            switch: SwitchId(0),
            mac: far_mac,
            member,
        })
        .expect("event");
    net.run(200);
    net.commands(0);
    net.dead[1] = true;
    // HELLO after 2 s, then 10 retransmissions backing off to 8 s.
    net.run(80_000);
    assert_eq!(net.nodes[0].e.mesh_views()[0].state, "connecting");
    assert!(net.mesh_sessions(0).is_empty());
    let cmds = net.commands(0);
    assert!(
        cmds.iter()
            .any(|c| matches!(c, Command::RemoveSession(m) if *m == member)),
        "the mesh member left the workers"
    );
    assert!(
        cmds.iter()
            .any(|c| matches!(c, Command::RemoveMac { mac, .. } if *mac == far_mac)),
        "the MACs learned over the dead peer are flushed"
    );
    assert_eq!(net.counter(0, "mesh_tunnels_down"), 1);
    // Back (its engine never noticed: its own connection timed out too).
    net.dead[1] = false;
    net.run(30_000);
    assert_eq!(net.nodes[0].e.mesh_views()[0].state, "established");
    assert_eq!(net.mesh_sessions(0).len(), 1);
    assert_eq!(net.mesh_sessions(1).len(), 1);
}

#[test]
fn three_nodes_form_a_full_mesh() {
    let mut net = Net::new(&[BLUE, BLUE, BLUE]);
    net.run(4000);
    for i in 0..3 {
        let m = net.nodes[i].e.mesh_views();
        assert_eq!(m.len(), 2);
        assert!(m.iter().all(|p| p.state == "established"), "{m:?}");
        assert_eq!(net.mesh_sessions(i).len(), 2, "node {i}");
        let t = net.nodes[i].e.tunnel_views();
        assert!(t.iter().all(|t| t.sessions == 1), "node {i}: {t:?}");
    }
    // Node 1 opened both of its connections, node 3 none.
    assert_eq!(net.counter(0, "mesh_connects"), 2);
    assert_eq!(net.counter(1, "mesh_connects"), 1);
    assert_eq!(net.counter(2, "mesh_connects"), 0);
}

#[test]
fn mesh_peers_authenticate_with_their_secret() {
    let s = |secret: &str| format!("{BLUE}[l2tp]\nsecret = \"{secret}\"\n");
    let mut net = Net::new(&[&s("mesh-secret"), &s("mesh-secret")]);
    net.run(3000);
    assert_eq!(net.nodes[0].e.mesh_views()[0].state, "established");
    assert_eq!(net.mesh_sessions(1).len(), 1);
    // A wrong secret never comes up, and is retried once the attempt
    // has given up (10 retransmissions backing off to 8 s).
    let mut net = Net::new(&[&s("mesh-secret"), &s("other")]);
    net.run(120_000);
    for i in 0..2 {
        assert_ne!(net.nodes[i].e.mesh_views()[0].state, "established");
        assert!(net.mesh_sessions(i).is_empty());
    }
    assert!(net.counter(0, "mesh_connects") >= 2, "retried");
}

#[test]
fn a_switch_added_by_reload_joins_the_mesh_and_named_switches_survive_reloads() {
    // "red" has no VC ID: its mesh pseudowire names it by name.
    let red = "[[switch]]\nname = \"red\"\n";
    let mut net = Net::new(&[red, red]);
    net.run(3000);
    assert_eq!(
        net.nodes[0].e.mesh_views()[0].switches,
        vec!["red".to_string()]
    );
    let same = Config::from_toml_str(&net.nodes[0].text).expect("config");
    let now = net.now;
    let ch = net.nodes[0].e.reload(now, same, false).expect("reload");
    assert!(ch.is_empty(), "{:?}", ch.lines);
    // Node 1 gets "green" (VC ID 200): node 2 creates vc-200 for it.
    let text = format!(
        "{}[[switch]]\nname = \"green\"\nvc_ids = [\"200\"]\n",
        net.nodes[0].text
    );
    let cfg = Config::from_toml_str(&text).expect("config");
    net.nodes[0].e.reload(now, cfg, false).expect("reload");
    net.run(2000);
    let mut sw = net.nodes[0].e.mesh_views()[0].switches.clone();
    sw.sort();
    assert_eq!(sw, vec!["green".to_string(), "red".to_string()]);
    let mut sw = net.nodes[1].e.mesh_views()[0].switches.clone();
    sw.sort();
    assert_eq!(sw, vec!["red".to_string(), "vc-200".to_string()]);
}
