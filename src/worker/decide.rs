//! The worker's per-packet decisions as pure functions over byte slices:
//! session checks and decapsulation offsets, the switch policy verdict,
//! and the forwarding choice. `engine` feeds them bytes from mbufs and
//! acts on the answer (adj, learn, send, count); here nothing touches an
//! mbuf, a counter or a clock, so every decision is tested without DPDK
//! (`cargo test --no-default-features --lib worker::decide`).
//!
//! Layouts come from `crate::wire`: the L2TPv3 header lengths and the
//! default sublayer view from `wire::l2tp`, Ethernet and VLAN from
//! `wire::ethernet` / `wire::vlan`.

use crate::switch::filter::{L2Filter, Verdict};
use crate::switch::policy::{self, VlanMode};
use crate::switch::storm::TrafficClass;
use crate::switch::{mac_is_group, MemberId};
use crate::telemetry::DropReason;
use crate::wire::ethernet;
use crate::wire::l2tp::data::{DefaultSublayer, SUBLAYER_LEN};
use crate::wire::l2tp::{Cookie, Encap, L2Spec};
use crate::wire::vlan;
use std::net::IpAddr;

const ETH_LEN: usize = ethernet::HEADER_LEN;

/// Out-of-sequence packets in a row after which a sequenced session
/// accepts the peer's numbering again (a restarted peer starts at 0; Linux
/// calls this `nr_oos_count_max`). Isolated reordered packets still drop.
pub const SEQ_RESYNC: u8 = 4;

/// What the receive side of a session expects (from its `SessionSpec`),
/// with what the checks derive from it worked out once, when the session
/// is set up (`RxSession::new`), not for every packet: the header length
/// and where the cookie and the sublayer lie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxSession {
    encap: Encap,
    l2spec: L2Spec,
    /// Bytes of L2TPv3 header before the inner frame.
    header_len: u8,
    /// Offset of the cookie from the L2TPv3 header (`Encap::header_len`);
    /// the sublayer, if any, follows the cookie at `sublayer_off`.
    cookie_off: u8,
    sublayer_off: u8,
    udp_peer_port: u16,
    /// IPv4 or IPv6: compared with `DataPacket::src` (family and bytes,
    /// no allocation).
    peer: IpAddr,
    cookie: Cookie,
}

impl RxSession {
    pub fn new(
        encap: Encap,
        udp_peer_port: u16,
        peer: IpAddr,
        cookie: Cookie,
        l2spec: L2Spec,
    ) -> RxSession {
        // At most 8 (UDP) + 8 (cookie) + 4 (sublayer): fits a u8.
        let cookie_off = encap.header_len() as u8;
        let sublayer_off = cookie_off + cookie.len() as u8;
        RxSession {
            encap,
            l2spec,
            header_len: sublayer_off + l2spec.len() as u8,
            cookie_off,
            sublayer_off,
            udp_peer_port,
            peer,
            cookie,
        }
    }

    /// Bytes of L2TPv3 header before the inner frame.
    #[inline(always)]
    pub fn header_len(&self) -> usize {
        usize::from(self.header_len)
    }
}

/// A classified data packet's outer facts (see `Class::Data`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataPacket {
    pub encap: Encap,
    /// The outer source address (IPv4 or IPv6).
    pub src: IpAddr,
    pub udp_src_port: u16,
    /// Offset of the L2TPv3 header.
    pub l2tp_off: usize,
    /// End of the outer IP packet.
    pub end: usize,
}

/// Receive sequencing state of a session (default sublayer, RFC 3931 §4.6).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RxSeq {
    /// The next number expected (None until the first sequenced packet).
    expect: Option<u32>,
    /// Out-of-sequence packets in a row.
    oos: u8,
}

impl RxSeq {
    /// Takes sequence number `seq`: accepts the expected number or anything
    /// newer (within half the 24-bit space) and drops older ones — unless
    /// they keep coming: after `SEQ_RESYNC` in a row the peer has restarted
    /// its numbering, and we follow it.
    #[inline]
    pub fn accept(&mut self, seq: u32) -> bool {
        let seq = seq & 0x00ff_ffff;
        if let Some(exp) = self.expect {
            let diff = seq.wrapping_sub(exp) & 0x00ff_ffff;
            if diff >= 0x0080_0000 {
                self.oos = self.oos.saturating_add(1);
                if self.oos < SEQ_RESYNC {
                    return false;
                }
            }
        }
        self.oos = 0;
        self.expect = Some((seq + 1) & 0x00ff_ffff);
        true
    }
}

/// Compares a 0-, 4- or 8-byte cookie at `off` as one integer load (no
/// `memcmp` call per packet).
#[inline(always)]
fn cookie_matches(data: &[u8], off: usize, want: &[u8]) -> bool {
    match want.len() {
        0 => true,
        4 => match (data.get(off..off + 4), <[u8; 4]>::try_from(want)) {
            (Some(got), Ok(w)) => {
                u32::from_ne_bytes([got[0], got[1], got[2], got[3]]) == u32::from_ne_bytes(w)
            }
            _ => false,
        },
        8 => match (data.get(off..off + 8), <[u8; 8]>::try_from(want)) {
            (Some(got), Ok(w)) => {
                let mut g = [0u8; 8];
                g.copy_from_slice(got);
                u64::from_ne_bytes(g) == u64::from_ne_bytes(w)
            }
            _ => false,
        },
        _ => data.get(off..off + want.len()) == Some(want),
    }
}

/// The session id of L2TPv3 data (`Class::Data`), and what the session
/// checks read of the packet; None for every other class.
#[inline(always)]
pub fn data_packet(class: &super::Class) -> Option<(u32, DataPacket)> {
    match *class {
        super::Class::Data {
            session_id,
            encap,
            src,
            udp_src_port,
            l2tp_off,
            end,
        } => Some((
            session_id,
            DataPacket {
                encap,
                src,
                udp_src_port,
                l2tp_off,
                end,
            },
        )),
        _ => None,
    }
}

/// Session checks of a data packet whose first segment is `first`:
/// encapsulation, outer source address, room for the inner Ethernet
/// header, cookie, UDP source port, and the sublayer's sequence number
/// (which updates `seq`). Returns the inner frame's offset (what to `adj`).
///
/// A packet that passes everything but the UDP source port is
/// `UdpPortChanged`, not a mismatch: it is what a peer whose NAT gave it
/// a new port sends. It is still dropped (data never moves a session);
/// the worker tells the control core, which asks the peer there.
#[inline(always)]
pub fn check_session(
    first: &[u8],
    p: &DataPacket,
    s: &RxSession,
    seq: &mut RxSeq,
) -> Result<usize, DropReason> {
    let (inner_off, sequenced) = check_session_fields(first, p, s)?;
    if let Some(n) = sequenced {
        if !seq.accept(n) {
            return Err(DropReason::SequenceError);
        }
    }
    Ok(inner_off)
}

/// `check_session` without the sequence number: the inner frame's
/// offset, and the sequence number when the packet carries one (its
/// default sublayer has S set), which the caller must still accept.
/// The fast path (`Worker::fast_unicast`) takes packets whose answer is
/// `Ok((_, None))`: for them `check_session` gives the same offset and
/// leaves `seq` alone.
#[inline(always)]
pub fn check_session_fields(
    first: &[u8],
    p: &DataPacket,
    s: &RxSession,
) -> Result<(usize, Option<u32>), DropReason> {
    if s.encap != p.encap {
        return Err(DropReason::EncapMismatch);
    }
    if s.peer != p.src {
        return Err(DropReason::SourceMismatch);
    }
    let inner_off = p.l2tp_off + s.header_len();
    if inner_off + ETH_LEN > p.end {
        return Err(DropReason::InnerMalformed);
    }
    // Headers (outer and the inner Ethernet header) must be in the first
    // segment; only a pathological chain would split them.
    if inner_off + ETH_LEN > first.len() {
        return Err(DropReason::Malformed);
    }
    // The cookie follows the session id (over UDP, the flags word and
    // the session id).
    let cookie_off = p.l2tp_off + usize::from(s.cookie_off);
    if !cookie_matches(first, cookie_off, s.cookie.as_bytes()) {
        return Err(DropReason::CookieMismatch);
    }
    if p.encap == Encap::Udp && s.udp_peer_port != p.udp_src_port {
        return Err(DropReason::UdpPortChanged);
    }
    if s.l2spec == L2Spec::Default {
        let off = p.l2tp_off + usize::from(s.sublayer_off);
        let sub = first
            .get(off..off + SUBLAYER_LEN)
            .ok_or(DropReason::Malformed)?;
        let sub = DefaultSublayer::new_unchecked(sub);
        if sub.sequenced() {
            return Ok((inner_off, Some(sub.seq())));
        }
    }
    Ok((inner_off, None))
}

/// A switch's policy as `policy_verdict` needs it.
#[derive(Debug, Clone, Copy)]
pub struct PolicyView<'a> {
    pub vlan_mode: VlanMode,
    pub filter: &'a L2Filter,
}

/// The policy's answer for a frame that passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    /// The ethertype after any VLAN tags.
    pub ethertype: u16,
    /// VLAN-aware switches: the frame's VLAN (0 untagged); else None.
    pub vlan: Option<u16>,
}

/// Why the policy refused a frame: the drop reason, and whether the
/// switch's `filtered` counter counts it too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub reason: DropReason,
    pub filtered: bool,
}

impl Refused {
    const fn plain(reason: DropReason) -> Refused {
        Refused {
            reason,
            filtered: false,
        }
    }
    const fn filtered(reason: DropReason) -> Refused {
        Refused {
            reason,
            filtered: true,
        }
    }
}

/// The switch policy for an inner Ethernet frame `frame` (its first
/// segment, at least the Ethernet header) from a member that is an
/// Ethernet VLAN pseudowire when `vlan_pw`: group source MAC, VLAN mode,
/// L2 filter (BPDUs, ethertype allow-list).
#[inline(always)]
pub fn policy_verdict(p: PolicyView<'_>, frame: &[u8], vlan_pw: bool) -> Result<Pass, Refused> {
    let Ok(eth) = ethernet::Frame::new_checked(frame) else {
        return Err(Refused::plain(DropReason::InnerMalformed));
    };
    // A group (multicast/broadcast) source address is invalid: never
    // learned, never forwarded.
    if eth.src_addr().0[0] & 1 != 0 {
        return Err(Refused::plain(DropReason::GroupSourceMac));
    }
    let dst = eth.dst_addr().0;
    let mut et = eth.ethertype();
    let tagged = vlan::is_tag_ethertype(et);
    if !tagged && vlan_pw {
        return Err(Refused::plain(DropReason::UntaggedOnVlanPw));
    }
    // VLAN mode: drop-tagged drops 802.1Q/802.1ad frames; the other modes
    // filter on the ethertype inside the tags, and VLAN-aware learns per
    // (VLAN, MAC).
    let mut vid = None;
    if tagged || p.vlan_mode == VlanMode::VlanAware {
        vid = policy::vlan_verdict(p.vlan_mode, frame)
            .map_err(|_| Refused::filtered(DropReason::VlanTagged))?;
        if tagged {
            match vlan::inner_offset(frame) {
                Some((_, inner_et, _)) => et = inner_et,
                None => return Err(Refused::plain(DropReason::InnerMalformed)),
            }
        }
    }
    match p.filter.check(dst, et) {
        Verdict::Pass => Ok(Pass {
            ethertype: et,
            vlan: vid,
        }),
        Verdict::DropBpdu => Err(Refused::filtered(DropReason::FilteredBpdu)),
        Verdict::DropEthertype => Err(Refused::filtered(DropReason::FilteredEthertype)),
    }
}

/// [`policy_verdict`] for the fast path, in a few instructions: true
/// when the policy passes an untagged frame (not on a VLAN pseudowire)
/// with destination `dst`, source `src` and ethertype `et` as it is,
/// that is `Ok(Pass { ethertype: et, vlan: None })`: both addresses are
/// unicast, the switch is not VLAN-aware, and the filter's quick rule
/// passes `et` (IPv4, ARP or IPv6, so never a tag). False says nothing:
/// `policy_verdict` decides. The test `policy_quick_is_policy_verdict`
/// holds it to `policy_verdict`.
#[inline(always)]
pub fn policy_quick(p: PolicyView<'_>, dst: u64, src: u64, et: u16) -> bool {
    !mac_is_group(dst | src) && p.vlan_mode != VlanMode::VlanAware && p.filter.quick_pass(et)
}

/// Where a frame goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forward {
    /// Known unicast: to this member.
    Unicast(MemberId),
    /// To every other member of the switch, policed by storm control as
    /// this class.
    Flood(TrafficClass),
    Drop(DropReason),
}

/// The forwarding choice for destination MAC `dst` (as a `u64`), given the
/// table's answer `known` for it (ignored for group addresses) and the
/// ingress member.
#[inline(always)]
pub fn forward(dst: u64, known: Option<MemberId>, ingress: MemberId) -> Forward {
    if !mac_is_group(dst) {
        match known {
            Some(out) if out == ingress => return Forward::Drop(DropReason::SameMember),
            Some(out) => return Forward::Unicast(out),
            None => {}
        }
    }
    Forward::Flood(TrafficClass::of_dst(dst))
}

/// The mesh split-horizon rule (RFC 4762 §4.4): a frame that came from
/// a mesh pseudowire (`from_mesh`) may not leave on another one
/// (`to_mesh`). Edges are each their own group: they reach everyone.
#[inline(always)]
pub fn may_send(from_mesh: bool, to_mesh: bool) -> bool {
    !(from_mesh && to_mesh)
}

/// The drop reason when storm control refuses a flood of `class`.
pub const fn storm_reason(class: TrafficClass) -> DropReason {
    match class {
        TrafficClass::Broadcast => DropReason::StormBroadcast,
        TrafficClass::Multicast => DropReason::StormMulticast,
        TrafficClass::UnknownUnicast => DropReason::StormUnknownUnicast,
    }
}

/// Destination and source MAC of an inner frame as `u64`s (see
/// `switch::mac_to_u64`); None if `frame` is shorter than two addresses.
#[inline(always)]
pub fn macs(frame: &[u8]) -> Option<(u64, u64)> {
    frame.first_chunk::<12>().map(mac_pair)
}

/// [`macs`] and the ethertype (or length) field after them: None if
/// `frame` is shorter than an Ethernet header.
#[inline(always)]
pub fn eth_header(frame: &[u8]) -> Option<(u64, u64, u16)> {
    let b = frame.first_chunk::<14>()?;
    let (dst, src) = b.first_chunk::<12>().map(mac_pair)?;
    Some((dst, src, u16::from_be_bytes([b[12], b[13]])))
}

/// The two addresses at the start of an Ethernet header, as `u64`s.
#[inline(always)]
fn mac_pair(b: &[u8; 12]) -> (u64, u64) {
    let dst = u64::from_be_bytes([0, 0, b[0], b[1], b[2], b[3], b[4], b[5]]);
    let src = u64::from_be_bytes([0, 0, b[6], b[7], b[8], b[9], b[10], b[11]]);
    (dst, src)
}

#[cfg(test)]
mod tests {

    #[test]
    fn split_horizon_keeps_mesh_to_mesh_out() {
        // Edge to edge, edge to mesh, mesh to edge: yes; mesh to mesh: no.
        assert!(may_send(false, false));
        assert!(may_send(false, true));
        assert!(may_send(true, false));
        assert!(!may_send(true, true));
    }

    use super::*;

    use std::net::{Ipv4Addr, Ipv6Addr};
    const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
    const L2TP_OFF: usize = 14 + 20;

    fn ip_session(cookie: &[u8], l2spec: L2Spec) -> RxSession {
        RxSession::new(Encap::Ip, 0, PEER, Cookie::new(cookie).unwrap(), l2spec)
    }

    /// Outer Ethernet + IPv4 (zeros, 34 bytes), session id, cookie,
    /// sublayer word (if any), then a 14-byte inner header and 46 bytes.
    fn ip_packet(cookie: &[u8], sublayer: Option<u32>) -> (Vec<u8>, DataPacket) {
        let mut p = vec![0xa5u8; L2TP_OFF];
        p.extend_from_slice(&1000u32.to_be_bytes());
        p.extend_from_slice(cookie);
        if let Some(w) = sublayer {
            p.extend_from_slice(&w.to_be_bytes());
        }
        p.extend_from_slice(&[0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00]);
        p.extend_from_slice(&[0u8; 46]);
        let d = DataPacket {
            encap: Encap::Ip,
            src: PEER,
            udp_src_port: 0,
            l2tp_off: L2TP_OFF,
            end: p.len(),
        };
        (p, d)
    }

    #[test]
    fn session_ok_offsets() {
        let mut seq = RxSeq::default();
        let (p, d) = ip_packet(&[], None);
        let s = ip_session(&[], L2Spec::None);
        assert_eq!(check_session(&p, &d, &s, &mut seq), Ok(L2TP_OFF + 4));
        let c = [1, 2, 3, 4, 5, 6, 7, 8];
        let (p, d) = ip_packet(&c, Some(0));
        let s = ip_session(&c, L2Spec::Default);
        assert_eq!(
            check_session(&p, &d, &s, &mut seq),
            Ok(L2TP_OFF + 4 + 8 + 4)
        );
        // Over UDP: the flags word and reserved field come first.
        let s = RxSession::new(
            Encap::Udp,
            1701,
            PEER,
            Cookie::new(&[9, 9, 9, 9]).unwrap(),
            L2Spec::None,
        );
        let mut p = vec![0u8; L2TP_OFF];
        p.extend_from_slice(&[0, 3, 0, 0, 0, 0, 0x03, 0xe8, 9, 9, 9, 9]);
        p.extend_from_slice(&[0u8; 60]);
        let mut d = DataPacket {
            encap: Encap::Udp,
            src: PEER,
            udp_src_port: 1701,
            l2tp_off: L2TP_OFF,
            end: p.len(),
        };
        assert_eq!(check_session(&p, &d, &s, &mut seq), Ok(L2TP_OFF + 12));
        // The peer on another port (a NAT remapped it): its own reason...
        d.udp_src_port = 1702;
        assert_eq!(
            check_session(&p, &d, &s, &mut seq),
            Err(DropReason::UdpPortChanged)
        );
        // ...but only when everything else matches.
        p[L2TP_OFF + 8] = 8;
        assert_eq!(
            check_session(&p, &d, &s, &mut seq),
            Err(DropReason::CookieMismatch)
        );
        d.src = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 99));
        assert_eq!(
            check_session(&p, &d, &s, &mut seq),
            Err(DropReason::SourceMismatch)
        );
    }

    #[test]
    fn session_mismatches() {
        let mut seq = RxSeq::default();
        let c = [0xde, 0xad, 0xbe, 0xef];
        let (p, d) = ip_packet(&c, None);
        let s = ip_session(&c, L2Spec::None);
        assert_eq!(check_session(&p, &d, &s, &mut seq), Ok(L2TP_OFF + 8));
        // Wrong cookie, one byte off.
        let s2 = ip_session(&[0xde, 0xad, 0xbe, 0xee], L2Spec::None);
        assert_eq!(
            check_session(&p, &d, &s2, &mut seq),
            Err(DropReason::CookieMismatch)
        );
        // Another peer.
        let mut d2 = d;
        d2.src = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 11));
        assert_eq!(
            check_session(&p, &d2, &s, &mut seq),
            Err(DropReason::SourceMismatch)
        );
        // An IPv6 source never matches an IPv4 peer, not even its
        // v4-mapped form; an IPv6 peer matches its own address only.
        let mapped = Ipv4Addr::new(192, 0, 2, 10).to_ipv6_mapped();
        d2.src = IpAddr::V6(mapped);
        assert_eq!(
            check_session(&p, &d2, &s, &mut seq),
            Err(DropReason::SourceMismatch)
        );
        let v6: Ipv6Addr = "2001:db8::10".parse().unwrap();
        let s6 = RxSession::new(
            Encap::Ip,
            0,
            IpAddr::V6(v6),
            Cookie::new(&c).unwrap(),
            L2Spec::None,
        );
        d2.src = IpAddr::V6(v6);
        assert_eq!(check_session(&p, &d2, &s6, &mut seq), Ok(L2TP_OFF + 8));
        d2.src = IpAddr::V6("2001:db8::11".parse().unwrap());
        assert_eq!(
            check_session(&p, &d2, &s6, &mut seq),
            Err(DropReason::SourceMismatch)
        );
        // UDP packet for an IP session.
        let mut d3 = d;
        d3.encap = Encap::Udp;
        assert_eq!(
            check_session(&p, &d3, &s, &mut seq),
            Err(DropReason::EncapMismatch)
        );
        // The outer packet ends before a whole inner Ethernet header.
        let mut d4 = d;
        d4.end = L2TP_OFF + 8 + 13;
        assert_eq!(
            check_session(&p, &d4, &s, &mut seq),
            Err(DropReason::InnerMalformed)
        );
        // The first segment is shorter than the headers.
        let d5 = d;
        assert_eq!(
            check_session(&p[..L2TP_OFF + 8 + 10], &d5, &s, &mut seq),
            Err(DropReason::Malformed)
        );
    }

    /// The offsets `RxSession::new` works out, against the header layout
    /// of RFC 3931 §4.1 (`data_offsets`), for every encapsulation, cookie
    /// length and sublayer: the inner frame's offset, the cookie's bytes
    /// (one byte off is a mismatch) and the sequence number read from the
    /// sublayer after the cookie.
    #[test]
    fn precomputed_offsets_every_layout() {
        let cookies: [&[u8]; 3] = [&[], &[0xc1, 0xc2, 0xc3, 0xc4], &[1, 2, 3, 4, 5, 6, 7, 8]];
        for encap in [Encap::Ip, Encap::Udp] {
            for cookie in cookies {
                for l2spec in [L2Spec::None, L2Spec::Default] {
                    let port = if encap == Encap::Udp { 1701 } else { 0 };
                    let s = RxSession::new(encap, port, PEER, Cookie::new(cookie).unwrap(), l2spec);
                    let hl = crate::wire::l2tp::data_offsets(encap, cookie.len(), l2spec);
                    assert_eq!(s.header_len(), hl, "{encap:?} {cookie:?} {l2spec:?}");
                    let mut p = vec![0xa5u8; L2TP_OFF];
                    if encap == Encap::Udp {
                        p.extend_from_slice(&[0, 3, 0, 0]);
                    }
                    p.extend_from_slice(&1000u32.to_be_bytes());
                    p.extend_from_slice(cookie);
                    if l2spec == L2Spec::Default {
                        p.extend_from_slice(&(0x4000_0000u32 | 77).to_be_bytes());
                    }
                    assert_eq!(p.len(), L2TP_OFF + hl);
                    p.extend_from_slice(&[0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00]);
                    p.extend_from_slice(&[0u8; 46]);
                    let d = DataPacket {
                        encap,
                        src: PEER,
                        udp_src_port: port,
                        l2tp_off: L2TP_OFF,
                        end: p.len(),
                    };
                    let seq = (l2spec == L2Spec::Default).then_some(77);
                    assert_eq!(
                        check_session_fields(&p, &d, &s),
                        Ok((L2TP_OFF + hl, seq)),
                        "{encap:?} {cookie:?} {l2spec:?}"
                    );
                    for i in 0..cookie.len() {
                        let mut bad = p.clone();
                        bad[L2TP_OFF + hl - l2spec.len() - cookie.len() + i] ^= 1;
                        assert_eq!(
                            check_session_fields(&bad, &d, &s),
                            Err(DropReason::CookieMismatch),
                            "{encap:?} {cookie:?} {l2spec:?} byte {i}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn sequence_numbers() {
        let s = ip_session(&[], L2Spec::Default);
        let mut seq = RxSeq::default();
        let pkt = |n: u32| ip_packet(&[], Some(0x4000_0000 | n));
        let run = |seq: &mut RxSeq, n: u32| {
            let (p, d) = pkt(n);
            check_session(&p, &d, &s, seq)
        };
        assert!(run(&mut seq, 10).is_ok());
        assert!(run(&mut seq, 11).is_ok());
        // A gap forward is accepted; an old number is not.
        assert!(run(&mut seq, 20).is_ok());
        assert_eq!(run(&mut seq, 15), Err(DropReason::SequenceError));
        // S bit clear: not checked.
        let (p, d) = ip_packet(&[], Some(5));
        assert!(check_session(&p, &d, &s, &mut seq).is_ok());
        // A restarted peer: after SEQ_RESYNC old numbers in a row, follow.
        assert!(run(&mut seq, 21).is_ok(), "resets the run of old numbers");
        assert_eq!(run(&mut seq, 0), Err(DropReason::SequenceError));
        assert_eq!(run(&mut seq, 1), Err(DropReason::SequenceError));
        assert_eq!(run(&mut seq, 2), Err(DropReason::SequenceError));
        assert!(run(&mut seq, 3).is_ok());
        assert!(run(&mut seq, 4).is_ok());
        // Wrap of the 24-bit space.
        let mut w = RxSeq::default();
        assert!(w.accept(0x00ff_ffff));
        assert!(w.accept(0));
        assert!(!w.accept(0x00ff_fffe));
    }

    fn frame(dst: [u8; 6], src: [u8; 6], rest: &[u8]) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&dst);
        f.extend_from_slice(&src);
        f.extend_from_slice(rest);
        f.resize(64, 0);
        f
    }

    const H1: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const H2: [u8; 6] = [2, 0, 0, 0, 0, 2];

    #[test]
    fn policy_quick_is_policy_verdict() {
        use crate::switch::filter::ANY;
        use crate::switch::mac_to_u64;
        let filters = [
            L2Filter::default(),
            L2Filter::new(&[0x0800]).unwrap(),
            L2Filter::new(&[ANY]).unwrap().with_deny(&[0x0806]).unwrap(),
            L2Filter::new(&[]).unwrap(),
        ];
        let modes = [
            VlanMode::DropTagged,
            VlanMode::Transparent,
            VlanMode::VlanAware,
        ];
        let dsts = [H2, [0xff; 6], [0x01, 0x80, 0xc2, 0, 0, 0]];
        let srcs = [H1, [0x03, 0, 0, 0, 0, 1]];
        let types = [
            0x0800u16, 0x0806, 0x86dd, 0x8100, 0x88a8, 0x9100, 0x88cc, 0x0040,
        ];
        let (mut quick, mut pass) = (0, 0);
        for filter in &filters {
            for vlan_mode in modes {
                let view = PolicyView { vlan_mode, filter };
                for dst in dsts {
                    for src in srcs {
                        for et in types {
                            let mut f = frame(dst, src, &et.to_be_bytes());
                            f[14..18].copy_from_slice(&[0x00, 0x64, 0x08, 0x00]);
                            let (d, s, t) = eth_header(&f).unwrap();
                            assert_eq!((d, s, t), (mac_to_u64(dst), mac_to_u64(src), et));
                            let want = policy_verdict(view, &f, false);
                            pass += usize::from(want.is_ok());
                            if policy_quick(view, d, s, t) {
                                quick += 1;
                                assert_eq!(
                                    want,
                                    Ok(Pass {
                                        ethertype: et,
                                        vlan: None
                                    }),
                                    "{vlan_mode:?} {filter:?} {dst:x?} {src:x?} {et:#x}"
                                );
                            }
                        }
                    }
                }
            }
        }
        // It answers yes for the common case, and leaves some passes to
        // `policy_verdict` (tags, other types, group destinations).
        assert!(quick > 0 && quick < pass, "{quick} {pass}");
        assert_eq!(eth_header(&[0; 13]), None);
    }

    #[test]
    fn policy_verdicts() {
        let filter = L2Filter::default();
        let t = PolicyView {
            vlan_mode: VlanMode::Transparent,
            filter: &filter,
        };
        let ipv4 = frame(H2, H1, &[0x08, 0x00]);
        assert_eq!(
            policy_verdict(t, &ipv4, false),
            Ok(Pass {
                ethertype: 0x0800,
                vlan: None
            })
        );
        // Group source.
        let f = frame(H2, [3, 0, 0, 0, 0, 1], &[0x08, 0x00]);
        assert_eq!(
            policy_verdict(t, &f, false),
            Err(Refused::plain(DropReason::GroupSourceMac))
        );
        // A VLAN pseudowire needs tags.
        assert_eq!(
            policy_verdict(t, &ipv4, true),
            Err(Refused::plain(DropReason::UntaggedOnVlanPw))
        );
        // Tagged IPv6 passes transparent mode with the inner ethertype.
        let tagged = frame(H2, H1, &[0x81, 0x00, 0x00, 0x64, 0x86, 0xdd]);
        assert_eq!(
            policy_verdict(t, &tagged, true),
            Ok(Pass {
                ethertype: 0x86dd,
                vlan: None
            })
        );
        // Drop-tagged mode.
        let d = PolicyView {
            vlan_mode: VlanMode::DropTagged,
            filter: &filter,
        };
        assert_eq!(
            policy_verdict(d, &tagged, false),
            Err(Refused::filtered(DropReason::VlanTagged))
        );
        // VLAN-aware: the VID, 0 when untagged.
        let a = PolicyView {
            vlan_mode: VlanMode::VlanAware,
            filter: &filter,
        };
        assert_eq!(
            policy_verdict(a, &tagged, false).map(|p| p.vlan),
            Ok(Some(100))
        );
        assert_eq!(policy_verdict(a, &ipv4, false).map(|p| p.vlan), Ok(Some(0)));
        // BPDUs never pass; the default allow-list refuses other ethertypes.
        let bpdu = frame([0x01, 0x80, 0xc2, 0, 0, 0], H1, &[0x00, 0x26]);
        assert_eq!(
            policy_verdict(t, &bpdu, false),
            Err(Refused::filtered(DropReason::FilteredBpdu))
        );
        let mpls = frame(H2, H1, &[0x88, 0x47]);
        assert_eq!(
            policy_verdict(t, &mpls, false),
            Err(Refused::filtered(DropReason::FilteredEthertype))
        );
        // Too short for an Ethernet header.
        assert_eq!(
            policy_verdict(t, &ipv4[..13], false),
            Err(Refused::plain(DropReason::InnerMalformed))
        );
    }

    #[test]
    fn forwarding_choice() {
        let (m1, m2) = (MemberId(1), MemberId(2));
        let uni = 0x0200_0000_0002;
        assert_eq!(forward(uni, Some(m2), m1), Forward::Unicast(m2));
        assert_eq!(
            forward(uni, Some(m1), m1),
            Forward::Drop(DropReason::SameMember)
        );
        assert_eq!(
            forward(uni, None, m1),
            Forward::Flood(TrafficClass::UnknownUnicast)
        );
        assert_eq!(
            forward(0xffff_ffff_ffff, Some(m2), m1),
            Forward::Flood(TrafficClass::Broadcast)
        );
        assert_eq!(
            forward(0x0100_5e00_0001, None, m1),
            Forward::Flood(TrafficClass::Multicast)
        );
        assert_eq!(
            storm_reason(TrafficClass::Multicast),
            DropReason::StormMulticast
        );
    }

    #[test]
    fn macs_as_u64() {
        let f = frame(H2, H1, &[8, 0]);
        assert_eq!(macs(&f), Some((0x0200_0000_0002, 0x0200_0000_0001)));
        assert_eq!(macs(&f[..11]), None);
    }
}
