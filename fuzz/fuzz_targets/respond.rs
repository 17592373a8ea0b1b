//! The ARP and ICMP echo responders of the control core
//! (`src/control/respond.rs`) on any punted frame.
//!
//! Input: our IPv4 address (4 bytes), our MAC (6 bytes), then the frame.
//! Checked: a frame is only rewritten when answered; an ARP reply is a
//! well-formed reply from us to the asker; an echo reply has valid IPv4
//! and ICMP checksums, our address as source and the asker as
//! destination, and the request's identifier, sequence and data;
//! `arp_request` writes a request that parses back.
#![no_main]

use std::net::Ipv4Addr;

use las::control::respond::{arp_in_place, arp_request, icmp_echo_in_place, ArpOutcome};
use las::wire::arp::{self, ArpOp, ArpRepr};
use las::wire::ethernet::{self, ethertype, MacAddr};
use las::wire::{icmpv4, ipv4};
use las_fuzz::Input;
use libfuzzer_sys::fuzz_target;

fn arp_reply(before: &[u8], mac: [u8; 6], ip: Ipv4Addr) {
    let mut f = before.to_vec();
    match arp_in_place(&mut f, mac, ip) {
        ArpOutcome::Replied {
            sender_ip,
            sender_mac,
        } => {
            assert_eq!(f.len(), before.len());
            let e = ethernet::Frame::new_checked(&f[..]).expect("reply frame");
            assert_eq!(
                (e.dst_addr(), e.src_addr()),
                (MacAddr(sender_mac), MacAddr(mac))
            );
            assert_eq!(e.ethertype(), ethertype::ARP);
            let p = arp::Packet::new_checked(e.payload()).expect("reply packet");
            let r = ArpRepr::parse(&p).expect("reply parses");
            assert_eq!(r.operation, ArpOp::Reply);
            assert_eq!((r.sender_mac, r.sender_ip), (MacAddr(mac), ip));
            assert_eq!(
                (r.target_mac, r.target_ip),
                (MacAddr(sender_mac), sender_ip)
            );
            assert!(!sender_ip.is_unspecified());
        }
        ArpOutcome::Seen { .. } | ArpOutcome::Invalid => {
            assert_eq!(f, before, "frame rewritten without a reply");
        }
    }
}

fn echo(before: &[u8], ip: Ipv4Addr) {
    let mut f = before.to_vec();
    if !icmp_echo_in_place(&mut f, ip) {
        return;
    }
    assert_eq!(f.len(), before.len());
    let (e0, e1) = (
        ethernet::Frame::new_checked(before).expect("request frame"),
        ethernet::Frame::new_checked(&f[..]).expect("reply frame"),
    );
    assert_eq!(
        (e1.dst_addr(), e1.src_addr()),
        (e0.src_addr(), e0.dst_addr())
    );
    let (q, r) = (
        ipv4::Packet::new_checked(e0.payload()).expect("request IPv4"),
        ipv4::Packet::new_checked(e1.payload()).expect("reply IPv4"),
    );
    assert!(r.verify_checksum(), "reply IPv4 checksum");
    assert_eq!((r.src_addr(), r.dst_addr()), (ip, q.src_addr()));
    assert_eq!(r.payload().len(), q.payload().len());
    let (qi, ri) = (
        icmpv4::Packet::new_checked(q.payload()).expect("request ICMP"),
        icmpv4::Packet::new_checked(r.payload()).expect("reply ICMP"),
    );
    assert!(ri.verify_checksum(), "reply ICMP checksum");
    assert_eq!((ri.msg_type(), ri.code()), (icmpv4::ECHO_REPLY, 0));
    assert_eq!(
        (ri.ident(), ri.seq_no(), ri.data()),
        (qi.ident(), qi.seq_no(), qi.data())
    );
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input::new(data);
    let ip = Ipv4Addr::from(inp.u32());
    let mut mac = [0u8; 6];
    mac.iter_mut().for_each(|b| *b = inp.u8());
    let frame = inp.rest();
    arp_reply(frame, mac, ip);
    echo(frame, ip);

    let mut buf = [0xa5u8; 64];
    let target = Ipv4Addr::from(u32::from(ip).rotate_left(8));
    let n = arp_request(&mut buf, mac, ip, target);
    let e = ethernet::Frame::new_checked(&buf[..n]).expect("request frame");
    assert_eq!(e.dst_addr(), MacAddr::BROADCAST);
    let r = ArpRepr::parse(&arp::Packet::new_checked(e.payload()).expect("ARP")).expect("parses");
    assert_eq!(
        (r.operation, r.sender_ip, r.target_ip),
        (ArpOp::Request, ip, target)
    );
});
