//! IPv6 neighbour discovery on the control core
//! (`src/control/neighbour6.rs`) on any punted frame, and the ND option
//! iterator of `src/wire/icmpv6.rs`.
//!
//! Input: one byte of flags (bit 0: want the peer 2001:db8::a first;
//! bit 1: fill a correct ICMPv6 checksum, bit 2: set hop limit 255, when
//! the frame holds an IPv6 header and a message), two bytes of time in
//! units of 100 ms, then the Ethernet frame. The machine serves
//! 2001:db8::1 and fe80::1 at 02:00:00:00:00:01 on port 0.
//! Checked: a refused frame is counted once under the reason returned
//! and answered with nothing; every frame the machine sends (answers,
//! NSs, NAs at start) walks and parses as a valid ICMPv6 message from
//! one of our addresses, at most one answer per frame; a
//! MAC change is reported only with a unicast MAC; the cache never
//! exceeds its capacity; the option iterator stops after an error.
#![no_main]

use std::net::Ipv6Addr;

use las::control::neighbour6::{Action, Neighbours6};
use las::wire::ethernet::ethertype;
use las::wire::icmpv6::{self, Icmpv6Repr, NdOptions};
use las::wire::ipv4::protocol;
use las::wire::ipv6::{self, Ipv6Repr};
use las_fuzz::Input;
use libfuzzer_sys::fuzz_target;

const OUR_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
const OUR: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
const PEER: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x0a);
const CAPACITY: usize = 4;

/// A frame las sends must be a valid ICMPv6 message from us.
fn check_sent(frame: &[u8]) {
    assert_eq!(&frame[6..12], &OUR_MAC, "source MAC");
    assert_eq!(u16::from_be_bytes([frame[12], frame[13]]), ethertype::IPV6);
    let ipb = &frame[14..];
    let w = ipv6::walk_extensions(ipb, 0, 0).expect("sent frame walks");
    assert_eq!(w.protocol, protocol::IPV6_ICMP);
    let p = ipv6::Packet::new_checked(ipb).expect("sent IPv6");
    let ip = Ipv6Repr::parse(&p).expect("sent IPv6 parses");
    assert!(ip.src == OUR || ip.src == LL, "sent from {}", ip.src);
    let msg = &ipb[w.offset..];
    assert_eq!(msg.len(), ip.payload_len);
    let m = Icmpv6Repr::parse(&ip, &icmpv6::Packet::new_unchecked(msg))
        .unwrap_or_else(|e| panic!("las sent an invalid ICMPv6 message: {e:?}"));
    assert!(!matches!(m, Icmpv6Repr::EchoRequest { .. }));
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input::new(data);
    let flags = inp.u8();
    let now = u64::from(inp.u16()) * 100;
    let mut frame = inp.rest().to_vec();

    // Make checksum- and hop-limit-gated paths reachable.
    if frame.len() >= 14 + 40 + 4 {
        if flags & 4 != 0 {
            frame[21] = 255;
        }
        if flags & 2 != 0 {
            if let Ok(p) = ipv6::Packet::new_checked(&frame[14..]) {
                let (s, d) = (p.src_addr(), p.dst_addr());
                let end = 54 + usize::from(p.payload_len());
                if let Ok(w) = ipv6::walk_extensions(&frame[14..], 8, 256) {
                    let at = 14 + w.offset;
                    if end >= at + 4 {
                        icmpv6::Packet::new_unchecked(&mut frame[at..end]).fill_checksum(s, d);
                    }
                }
            }
        }
    }

    let mut n = Neighbours6::new(CAPACITY);
    assert!(n.set_port(0, OUR_MAC, &[OUR, LL], 0));
    if flags & 1 != 0 {
        assert!(n.want(0, PEER, 0));
    }
    let mut out = vec![];
    n.poll(0, &mut out);
    let before = n.counters.clone();
    let start = out.len();
    match n.frame_in(0, &frame, now, &mut out) {
        Err(reason) => {
            assert_eq!(out.len(), start, "a dropped frame got an answer");
            assert_eq!(n.counters.dropped(reason), before.dropped(reason) + 1);
            let total = |c: &las::control::neighbour6::Nd6Counters| c.drops.iter().sum::<u64>();
            assert_eq!(total(&n.counters), total(&before) + 1);
        }
        Ok(()) => {
            let sends = out[start..]
                .iter()
                .filter(|a| matches!(a, Action::Send { .. }))
                .count();
            assert!(sends <= 1, "{sends} answers to one frame");
        }
    }
    n.poll(now, &mut out);
    n.poll(now + 60_000, &mut out);
    for a in &out {
        match a {
            Action::Send { port, frame } => {
                assert_eq!(*port, 0);
                check_sent(frame);
            }
            Action::Changed { mac, .. } => {
                assert!(mac[0] & 1 == 0 && *mac != [0; 6], "learned {mac:02x?}");
            }
            Action::Conflict { ip, .. } => assert!(*ip == OUR || *ip == LL),
        }
    }
    assert!(n.len() <= CAPACITY);

    // The option iterator on the raw bytes: stops after an error.
    let mut it = NdOptions::new(&frame);
    let mut n_opts = 0;
    while let Some(o) = it.next() {
        n_opts += 1;
        if o.is_err() {
            assert!(it.next().is_none());
            break;
        }
    }
    assert!(n_opts <= frame.len() / 8 + 1);
});
