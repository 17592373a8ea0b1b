//! IPv6 on a port, through the real `las` binary on `net_pcap`: neighbour
//! discovery and ICMPv6 echo answered for the port's global and
//! link-local addresses, the gateway resolved, malformed ND counted, and
//! an L2TPv3 control message over IPv6 handed to the control channel
//! (which counts it; a whole dynamic exchange over IPv6 is
//! `ipv6_dynamic_e2e.rs`). Pseudowires over IPv6: `ipv6_pw_e2e.rs`.
//!
//! The frames las receives are built here by hand from RFC 4861 §4.3
//! (NS), §4.6.1 (Source Link-Layer Address option) and RFC 4443 §4.1
//! (echo request), with the checksum of RFC 8200 §8.1 computed by
//! `tests/common`'s own RFC 1071 sum, independent of `las::wire`. What
//! las sends is checked field by field here and decoded by tshark
//! (`common::run` fails on a malformed frame or an expert error, a bad
//! ICMPv6 checksum included).
//!
//! Root only (DPDK): `#[ignore]`d; CI runs it with `--include-ignored`.

mod common;

use common::{csum, eth, have_root, lock, run, Setup, LAS_MAC};
use std::net::Ipv6Addr;

const IPV6: u16 = 0x86dd;
const PEER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];

fn ip6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

/// The RFC 8200 §8.1 pseudo-header checksum of an ICMPv6 message.
fn icmp6_csum(src: Ipv6Addr, dst: Ipv6Addr, msg: &[u8]) -> u16 {
    let mut p = Vec::new();
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 58]);
    p.extend_from_slice(msg);
    csum(&p)
}

/// An IPv6 packet (next header `nh`, hop limit `hl`) in an Ethernet frame.
fn ip6_frame(
    dst_mac: [u8; 6],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    nh: u8,
    hl: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    p.extend_from_slice(&[nh, hl]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(payload);
    eth(dst_mac, PEER_MAC, IPV6, &p)
}

/// An ICMPv6 message with its checksum filled.
fn icmp6(src: Ipv6Addr, dst: Ipv6Addr, mut msg: Vec<u8>) -> Vec<u8> {
    msg[2] = 0;
    msg[3] = 0;
    let c = icmp6_csum(src, dst, &msg);
    msg[2..4].copy_from_slice(&c.to_be_bytes());
    msg
}

/// A Neighbor Solicitation for `target` with a Source Link-Layer Address
/// option (RFC 4861 §4.3).
fn ns(src: Ipv6Addr, dst: Ipv6Addr, target: Ipv6Addr) -> Vec<u8> {
    let mut m = vec![135, 0, 0, 0, 0, 0, 0, 0];
    m.extend_from_slice(&target.octets());
    m.extend_from_slice(&[1, 1]);
    m.extend_from_slice(&PEER_MAC);
    icmp6(src, dst, m)
}

fn multicast_mac(a: Ipv6Addr) -> [u8; 6] {
    let o = a.octets();
    [0x33, 0x33, o[12], o[13], o[14], o[15]]
}

fn solicited(a: Ipv6Addr) -> Ipv6Addr {
    let o = a.octets();
    Ipv6Addr::from([
        0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, o[13], o[14], o[15],
    ])
}

/// An ICMPv6 packet las sent: (destination MAC, source, destination,
/// type, the whole message).
type Sent6 = ([u8; 6], Ipv6Addr, Ipv6Addr, u8, Vec<u8>);

/// Every ICMPv6 packet las sent, checksums and hop limits checked.
fn icmp6_out(out: &[Vec<u8>]) -> Vec<Sent6> {
    out.iter()
        .filter(|f| f.len() >= 54 && f[12..14] == [0x86, 0xdd] && f[20] == 58)
        .map(|f| {
            let src = Ipv6Addr::from(<[u8; 16]>::try_from(&f[22..38]).unwrap());
            let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&f[38..54]).unwrap());
            let plen = usize::from(u16::from_be_bytes([f[18], f[19]]));
            let msg = f[54..54 + plen].to_vec();
            if (133..=137).contains(&msg[0]) {
                assert_eq!(f[21], 255, "ND goes out with hop limit 255 (RFC 4861 §7.1)");
            }
            assert_eq!(
                icmp6_csum(src, dst, &msg),
                0,
                "ICMPv6 checksum of {msg:02x?}"
            );
            let mut dmac = [0u8; 6];
            dmac.copy_from_slice(&f[..6]);
            (dmac, src, dst, msg[0], msg)
        })
        .collect()
}

#[test]
#[ignore = "needs root (DPDK): run with --include-ignored"]
fn neighbour_discovery_and_echo_on_an_ipv6_port() {
    let _g = lock();
    assert!(have_root());
    let ours = ip6("2001:db8::1");
    // fe80::/64 + modified EUI-64 of 02:00:00:00:00:01 (RFC 4291 app. A).
    let ll = ip6("fe80::ff:fe00:1");
    let peer = ip6("2001:db8::a");
    let peer_ll = ip6("fe80::a");
    let gw = ip6("2001:db8::fe");
    let mut setup = Setup::new("ipv6-nd", &[], &[]);
    setup.port_extra = format!("address6 = \"{ours}/64\"\ngateway6 = \"{gw}\"\n");

    let echo_data = b"las over IPv6".to_vec();
    let mut echo = vec![128, 0, 0, 0, 0x12, 0x34, 0, 7];
    echo.extend_from_slice(&echo_data);
    let mut bad_ns = ip6_frame(
        multicast_mac(solicited(ours)),
        peer,
        solicited(ours),
        58,
        254,
        &ns(peer, solicited(ours), ours),
    );
    bad_ns[21] = 254;
    let frames = vec![
        // NS for our global address, to its solicited-node group.
        ip6_frame(
            multicast_mac(solicited(ours)),
            peer,
            solicited(ours),
            58,
            255,
            &ns(peer, solicited(ours), ours),
        ),
        // NS for our link-local address, from the peer's link-local one.
        ip6_frame(
            multicast_mac(solicited(ll)),
            peer_ll,
            solicited(ll),
            58,
            255,
            &ns(peer_ll, solicited(ll), ll),
        ),
        // Echo request to our global address.
        ip6_frame(
            LAS_MAC,
            peer,
            ours,
            58,
            64,
            &icmp6(peer, ours, echo.clone()),
        ),
        // Hop limit 254: not from the link (RFC 4861 §7.1.1): dropped.
        bad_ns,
        // NS for someone else: not for us at all.
        ip6_frame(
            multicast_mac(solicited(ip6("2001:db8::99"))),
            peer,
            solicited(ip6("2001:db8::99")),
            58,
            255,
            &ns(peer, solicited(ip6("2001:db8::99")), ip6("2001:db8::99")),
        ),
        // An L2TPv3 control message (session id 0) over IPv6 to us.
        ip6_frame(LAS_MAC, peer, ours, 115, 64, &[0, 0, 0, 0, 0, 0, 0, 0]),
    ];
    let r = run(&setup, &frames);
    let out = icmp6_out(&r.out);

    // Solicited NAs: to the asker, S and O set, our MAC as target link-layer address.
    for (src, target) in [(peer, ours), (peer_ll, ll)] {
        let na = out
            .iter()
            .find(|o| o.3 == 136 && o.2 == src && o.4[8..24] == target.octets())
            .unwrap_or_else(|| panic!("no NA for {target} to {src}: {out:?}\n{}", r.stderr));
        assert_eq!(na.0, PEER_MAC, "to the asker's link-layer address");
        assert_eq!(na.1, target, "from the address asked for");
        assert_eq!(na.4[4] & 0xe0, 0x60, "S = 1, O = 1, R = 0");
        assert_eq!(&na.4[24..26], &[2, 1], "Target Link-Layer Address option");
        assert_eq!(na.4[26..32], LAS_MAC);
    }
    // The echo reply.
    let reply = out
        .iter()
        .find(|o| o.3 == 129)
        .unwrap_or_else(|| panic!("no echo reply: {out:?}"));
    assert_eq!((reply.0, reply.1, reply.2), (PEER_MAC, ours, peer));
    assert_eq!(&reply.4[4..8], &[0x12, 0x34, 0, 7]);
    assert_eq!(&reply.4[8..], &echo_data[..]);
    // Unsolicited NAs at start (to all nodes) and an NS for the gateway.
    let all_nodes = ip6("ff02::1");
    for a in [ours, ll] {
        assert!(
            out.iter()
                .any(|o| o.3 == 136 && o.2 == all_nodes && o.4[8..24] == a.octets()),
            "no unsolicited NA for {a}: {out:?}"
        );
    }
    assert!(
        out.iter()
            .any(|o| o.3 == 135 && o.2 == solicited(gw) && o.4[8..24] == gw.octets()),
        "no NS for the gateway {gw}: {out:?}"
    );
    // Nothing for 2001:db8::99.
    assert!(!out
        .iter()
        .any(|o| o.3 == 136 && o.4[8..24] == ip6("2001:db8::99").octets()));
    // Counted: the NSs and the echo, the bad NS by its reason, the
    // control message over IPv6 as received by the control channel.
    assert_eq!(
        r.control("nd6_solicitations_rx"),
        2,
        "{:?}",
        r.counters.control
    );
    assert_eq!(r.control("nd6_echo_replies_tx"), 1);
    let dropped: u64 = r
        .counters
        .control
        .iter()
        .filter(|(k, _)| k.starts_with("nd6_dropped_"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(dropped, 1, "the hop-limit-254 NS: {:?}", r.counters.control);
    assert_eq!(r.control("l2tp_control_rx"), 1);
    assert!(!r.counters.drops.contains_key("ipv6_control"));
    assert_eq!(r.counters.drops["not_for_us"], 1);
}
