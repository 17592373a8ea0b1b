//! TCP MSS clamping on inner frames (`src/switch/policy.rs`).
//!
//! The target finds the TCP SYN itself (0–2 VLAN tags, IPv4 or IPv6 with
//! up to 4 extension headers, first fragments only), independently of
//! the crate, and optionally fills in a correct TCP checksum first.
//! Checked: nothing but the MSS option and the checksum changes; only a
//! SYN is clamped, only downwards, to the ceiling asked for; the
//! ones-complement sum of the segment is unchanged and a checksum that
//! verified still verifies (computed here, RFC 1071); a SYN whose MSS is
//! above the ceiling is clamped.
#![no_main]

use las::switch::policy::{mss_ceiling, MssClamp, MssResult};
use las::wire::tcp;
use las_fuzz::{ones_eq, ones_sum, Input};
use libfuzzer_sys::fuzz_target;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at + 2)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

/// A TCP SYN found in a frame.
struct Syn {
    /// Offset of the TCP header and end of the IP packet.
    tcp: usize,
    end: usize,
    tags: u8,
    ip_header_len: usize,
    /// The pseudo-header (RFC 793 / RFC 8200 §8.1).
    pseudo: Vec<u8>,
    /// The segment is all here (not a first fragment).
    whole: bool,
}

fn find_syn(f: &[u8]) -> Option<Syn> {
    let mut et_at = 12;
    let mut tags = 0u8;
    let mut et = be16(f, et_at)?;
    while tags < 2 && matches!(et, 0x8100 | 0x88a8 | 0x9100) {
        et_at += 4;
        et = be16(f, et_at)?;
        tags += 1;
    }
    let l3 = et_at + 2;
    let ip = f.get(l3..)?;
    let (hl, len, pseudo, whole) = match et {
        0x0800 => {
            let ihl = usize::from(ip.first()? & 0x0f) * 4;
            let tl = usize::from(be16(ip, 2)?);
            if ip[0] >> 4 != 4 || ihl < 20 || ihl > tl || tl > ip.len() {
                return None;
            }
            let frag = be16(ip, 6)?;
            if frag & 0x1fff != 0 || ip[9] != 6 {
                return None;
            }
            let mut ph = ip[12..20].to_vec();
            ph.extend_from_slice(&[0, 6]);
            ph.extend_from_slice(&((tl - ihl) as u16).to_be_bytes());
            (ihl, tl, ph, frag & 0x2000 == 0)
        }
        0x86dd => {
            if ip.first()? >> 4 != 6 {
                return None;
            }
            let end = 40 + usize::from(be16(ip, 4)?);
            if end > ip.len() {
                return None;
            }
            let (mut nh, mut off, mut whole) = (ip[6], 40, true);
            let mut found = false;
            for _ in 0..5 {
                match nh {
                    6 => {
                        found = true;
                        break;
                    }
                    0 | 43 | 60 => {
                        let len = (usize::from(*ip.get(off + 1)?) + 1) * 8;
                        nh = *ip.get(off)?;
                        off += len;
                    }
                    44 => {
                        let fo = be16(ip, off + 2)?;
                        if fo & 0xfff8 != 0 {
                            return None;
                        }
                        whole &= fo & 1 == 0;
                        nh = *ip.get(off)?;
                        off += 8;
                    }
                    _ => return None,
                }
                if off > end {
                    return None;
                }
            }
            if !found {
                return None;
            }
            let mut ph = ip[8..40].to_vec();
            ph.extend_from_slice(&((end - off) as u32).to_be_bytes());
            ph.extend_from_slice(&[0, 0, 0, 6]);
            (off, end, ph, whole)
        }
        _ => return None,
    };
    if hl + 20 > len {
        return None;
    }
    // SYN or SYN-ACK, not with RST or FIN.
    if ip[hl + 13] & 0x07 != 0x02 {
        return None;
    }
    Some(Syn {
        tcp: l3 + hl,
        end: l3 + len,
        tags,
        ip_header_len: hl,
        pseudo,
        whole,
    })
}

fn verifies(f: &[u8], s: &Syn) -> bool {
    ones_sum(&[&s.pseudo, &f[s.tcp..s.end]]) == 0xffff
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input::new(data);
    let sel = inp.u8();
    let value = inp.u16();
    let clamp = match sel & 3 {
        0 => MssClamp::Off,
        1 | 2 => MssClamp::Auto,
        _ => MssClamp::Fixed(value),
    };
    let max_frame = usize::from(value);
    let mut frame = inp.rest().to_vec();
    let syn = find_syn(&frame);
    if let (Some(s), true) = (&syn, sel & 4 != 0) {
        // Give the SYN a correct checksum, so that it must stay correct.
        if s.whole {
            frame[s.tcp + 16..s.tcp + 18].fill(0);
            let c = !ones_sum(&[&s.pseudo, &frame[s.tcp..s.end]]);
            frame[s.tcp + 16..s.tcp + 18].copy_from_slice(&c.to_be_bytes());
            assert!(verifies(&frame, s));
        }
    }
    let before = frame.clone();
    let got = clamp.apply(&mut frame, max_frame);
    let ceiling = |s: &Syn| match clamp {
        MssClamp::Fixed(m) => m,
        _ => mss_ceiling(max_frame, s.tags, s.ip_header_len),
    };
    let Some(MssResult::Clamped { old, new }) = got else {
        assert_eq!(frame, before, "{got:?} but the frame changed");
        if let Some(s) = &syn {
            // The wire-level clamp on the segment we found: if it would
            // lower the MSS, the policy must have.
            let mut seg = before[s.tcp..s.end].to_vec();
            if let (Some((o, n)), Some(_)) = (tcp::clamp_mss(&mut seg, ceiling(s)), got) {
                assert_eq!(o, n, "SYN with MSS {o} above {n} not clamped: {got:?}");
            }
        }
        return;
    };
    assert_ne!(clamp, MssClamp::Off);
    let Some(s) = syn else {
        panic!("clamped {old} → {new} in a frame that is not a TCP SYN");
    };
    assert!(new < old, "MSS raised or kept: {old} → {new}");
    assert_eq!(new, ceiling(&s), "clamped to the wrong ceiling");
    let diff: Vec<usize> = (0..frame.len())
        .filter(|&i| frame[i] != before[i])
        .collect();
    assert!(
        diff.iter().all(|&i| (s.tcp..s.end).contains(&i)) && diff.len() <= 4,
        "bytes outside the MSS and checksum changed: {diff:?}"
    );
    assert!(
        ones_eq(
            ones_sum(&[&before[s.tcp..s.end]]),
            ones_sum(&[&frame[s.tcp..s.end]])
        ),
        "the segment's ones-complement sum changed"
    );
    if s.whole && verifies(&before, &s) {
        assert!(verifies(&frame, &s), "TCP checksum no longer verifies");
    }
    let seg = tcp::Packet::new_checked(&frame[s.tcp..s.end]).expect("TCP header");
    let mss = seg.options_iter().find_map(|o| match o {
        Ok(tcp::TcpOption::Mss(v)) => Some(v),
        _ => None,
    });
    assert_eq!(mss, Some(new), "the MSS option does not read {new}");
});
