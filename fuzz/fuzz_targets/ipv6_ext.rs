//! The IPv6 extension header walk and the IPv6 checksums
//! (`src/wire/ipv6.rs`), and ICMPv6 parse/emit (`src/wire/icmpv6.rs`)
//! behind it.
//!
//! Input: one byte (the header-count bound, mod 12), two bytes (the
//! chain-length bound), one byte of flags (bit 0: fill a correct
//! upper-layer checksum before parsing), then the IPv6 packet.
//! Checked: the walk's answer lies in the payload and keeps to its
//! bounds; loosening the bounds never turns a success into a failure or
//! changes it; a fragment's data follows its 8-byte header; `Ipv6Repr`
//! survives parse → emit; a filled UDP checksum verifies under the
//! policy that filled it (0 only under `ZeroAllowed`); a filled ICMPv6
//! checksum verifies independently (RFC 1071 sum written here); an
//! ICMPv6 message that parses re-emits to one that parses the same.
#![no_main]

use las::wire::icmpv6::{self, Icmpv6Repr};
use las::wire::ipv4::protocol;
use las::wire::ipv6::{self, Ipv6Repr, UdpChecksum};
use las::wire::udp;
use las_fuzz::{ones_eq, ones_sum, Input};
use libfuzzer_sys::fuzz_target;

fn pseudo(src: &[u8], dst: &[u8], nh: u8, len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(40);
    v.extend_from_slice(src);
    v.extend_from_slice(dst);
    v.extend_from_slice(&(len as u32).to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, nh]);
    v
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input::new(data);
    let max_headers = usize::from(inp.u8() % 12);
    let max_len = usize::from(inp.u16());
    let fill = inp.u8() & 1 == 1;
    let mut pkt = inp.rest().to_vec();

    let Ok(w) = ipv6::walk_extensions(&pkt, max_headers, max_len) else {
        // Any failure but the bounds' own is the packet's: the same
        // without bounds.
        let e = ipv6::walk_extensions(&pkt, max_headers, max_len).unwrap_err();
        let bound = matches!(
            e,
            ipv6::ExtError::TooManyExtensions | ipv6::ExtError::ChainTooLong
        );
        if !bound {
            assert_eq!(ipv6::walk_extensions(&pkt, usize::MAX, usize::MAX), Err(e));
        }
        return;
    };
    let p = ipv6::Packet::new_checked(&pkt[..]).expect("walked packet checks");
    let end = ipv6::HEADER_LEN + usize::from(p.payload_len());
    assert!(w.offset >= ipv6::HEADER_LEN && w.offset <= end);
    assert!(w.count <= max_headers);
    assert!(w.offset - ipv6::HEADER_LEN <= max_len);
    assert_eq!(
        ipv6::walk_extensions(&pkt, usize::MAX, usize::MAX),
        Ok(w),
        "looser bounds changed the walk"
    );
    if let Some(f) = w.fragment {
        assert_eq!(f.header_offset + ipv6::FRAGMENT_HEADER_LEN, w.offset);
        assert_eq!(f.offset % 8, 0);
        assert!(f.offset != 0 || f.more, "an atomic fragment stops the walk");
    }
    let r = Ipv6Repr::parse(&p).expect("walked packet parses");
    let mut out = [0xa5u8; ipv6::HEADER_LEN];
    r.emit(&mut ipv6::Packet::new_unchecked(&mut out[..]));
    assert_eq!(&out[..], &pkt[..ipv6::HEADER_LEN]);
    let (src, dst) = (r.src, r.dst);
    if w.fragment.is_some() {
        return;
    }

    match w.protocol {
        protocol::UDP => {
            let Ok(mut u) = udp::Packet::new_checked(&mut pkt[w.offset..end]) else {
                return;
            };
            let _ = ipv6::verify_udp_checksum(&u, src, dst, UdpChecksum::Compute);
            ipv6::fill_udp_checksum(&mut u, src, dst, UdpChecksum::Compute).expect("fills");
            assert_ne!(u.checksum(), 0);
            assert_eq!(
                ipv6::verify_udp_checksum(&u, src, dst, UdpChecksum::Compute),
                Ok(())
            );
            let ulen = usize::from(u.len());
            let dgram = &pkt[w.offset..w.offset + ulen];
            let ph = pseudo(&src.octets(), &dst.octets(), protocol::UDP, ulen);
            assert!(ones_eq(ones_sum(&[&ph, dgram]), 0xffff), "UDP sum");
            let mut u = udp::Packet::new_unchecked(&mut pkt[w.offset..end]);
            ipv6::fill_udp_checksum(&mut u, src, dst, UdpChecksum::ZeroAllowed).expect("fills");
            assert_eq!(u.checksum(), 0);
            assert_eq!(
                ipv6::verify_udp_checksum(&u, src, dst, UdpChecksum::ZeroAllowed),
                Ok(())
            );
            assert_eq!(
                ipv6::verify_udp_checksum(&u, src, dst, UdpChecksum::Compute),
                Err(ipv6::UdpError::ZeroChecksum)
            );
        }
        protocol::IPV6_ICMP => {
            let msg = &mut pkt[w.offset..end];
            if fill && msg.len() >= icmpv6::HEADER_LEN {
                icmpv6::Packet::new_unchecked(&mut *msg).fill_checksum(src, dst);
                let ph = pseudo(&src.octets(), &dst.octets(), 58, msg.len());
                assert!(ones_eq(ones_sum(&[&ph, msg]), 0xffff), "ICMPv6 sum");
            }
            let msg = &pkt[w.offset..end];
            let q = icmpv6::Packet::new_unchecked(msg);
            if let Ok(m) = Icmpv6Repr::parse(&r, &q) {
                let mut out = vec![0xa5u8; m.buffer_len()];
                m.emit(src, dst, &mut icmpv6::Packet::new_unchecked(&mut out[..]));
                let q = icmpv6::Packet::new_unchecked(&out[..]);
                assert_eq!(Icmpv6Repr::parse(&r, &q), Ok(m));
            }
        }
        _ => {}
    }
});
