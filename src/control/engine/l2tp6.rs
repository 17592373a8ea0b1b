//! The RFC 3931 control channel over IPv6: control messages the workers
//! punt (`worker::classify6`: next header 115 with session id 0, or UDP
//! to `l2tp.udp_port` with the T bit, behind any extension headers the
//! worker walked) are checked here again in full, then go to the same
//! `l2tp_in` as IPv4 ones, with an IPv6 `Peer`. Answers leave from the
//! port's `address6` (`pseudowires::l2tp_send`).
//!
//! Checks, each with its own control counter:
//! * `l2tp6_malformed`: the payload length overruns the frame, the
//!   extension headers do not walk (the bounds of the workers'), the
//!   UDP length is below 8 or overruns the payload, or an IP-encap
//!   message is shorter than its session id.
//! * `l2tp6_not_ours`: the destination is not the port's `address6`
//!   (the workers punt what goes to our link-local address and to
//!   multicast groups too; the control channel answers only the address
//!   its data plane uses).
//! * `l2tp6_bad_source`: the source is not a global unicast address
//!   (unspecified, multicast, loopback, link-local, or ours): no
//!   pseudowire could be built toward it.
//! * `l2tp6_udp_zero_checksum` / `l2tp6_udp_bad_checksum`: over UDP the
//!   checksum must be present and verify. A zero checksum is refused on
//!   control messages whatever `l2tp.udp6_checksum` says: RFC 6936 §5
//!   lets a tunnel skip the UDP checksum only for the packets whose
//!   payload carries its own integrity check (the inner Ethernet frame
//!   of a data packet, through its own upper layers), and an L2TP
//!   control message has none unless a digest is configured; a corrupt
//!   Ns/Nr or AVP would take down a control connection. RFC 3931 §4.1.2.1
//!   does not ask for a zero checksum either, and the peers we know
//!   (Linux, our las-edge, Cisco) send one on control messages.
//!
//! A fragmented control message is reassembled by the workers before it
//! is punted; one that arrives here still fragmented is not ours
//! (`false`: neighbour discovery counts it).

use super::*;
use crate::wire::ipv6;
use std::net::Ipv6Addr;

/// Peers whose last-heard port and MAC are kept at most (`peer_seen`);
/// above this, peers without a control connection are forgotten.
/// `max_tunnels` (4096) plus the mesh, twice over.
const PEER_SEEN_MAX: usize = 8192;

impl Engine {
    /// Port `p` and source MAC `mac` of the last message from `ip`. The
    /// table stays bounded when every message comes from a new (bogus)
    /// address, as IPv6 makes cheap: at [`PEER_SEEN_MAX`] entries, the
    /// peers without a control connection (nor mesh peers) are dropped
    /// (at most 4096 + 64 stay, so this runs at most once per ~4000 new
    /// sources).
    pub(super) fn note_peer_seen(&mut self, ip: IpAddr, p: usize, mac: [u8; 6]) {
        if self.peer_seen.len() >= PEER_SEEN_MAX && !self.peer_seen.contains_key(&ip) {
            let live: std::collections::HashSet<IpAddr> = self
                .l2tp
                .tunnels()
                .map(|(a, _)| a.ip)
                .chain(self.mesh.iter().map(|m| IpAddr::V4(m.ip)))
                .collect();
            self.peer_seen.retain(|k, _| live.contains(k));
        }
        self.peer_seen.insert(ip, (p, mac));
    }

    /// A punted IPv6 frame `d` from port `p`: if it is an L2TP control
    /// message (next header 115, or UDP to `l2tp.udp_port`), checks it
    /// (see the module docs), feeds it to the control channel and
    /// returns true (taken, or counted and dropped). Anything else is
    /// left to neighbour discovery (false).
    pub(super) fn l2tp6_in(&mut self, p: usize, d: &[u8]) -> bool {
        let Some(ours) = self
            .ports
            .get(p)
            .and_then(|x| x.v6.as_ref())
            .map(|v| v.address)
        else {
            return false;
        };
        let Some(pkt) = d.get(ethernet::HEADER_LEN..) else {
            return false;
        };
        // Quick look: is the upper layer L2TP? (The walk checks lengths.)
        let Ok(ip) = ipv6::Packet::new_checked(pkt) else {
            return false;
        };
        if ip.version() != 6 {
            return false;
        }
        let end = ipv6::HEADER_LEN + usize::from(ip.payload_len());
        let Ok(w) = ipv6::walk_extensions(
            &pkt[..end],
            ipv6::DEFAULT_MAX_EXTENSIONS,
            ipv6::DEFAULT_MAX_CHAIN_LEN,
        ) else {
            return false;
        };
        if w.fragment.is_some() {
            return false;
        }
        let proto = w.protocol;
        let upper = &pkt[w.offset.min(end)..end];
        let udp_port = self.cfg.l2tp.udp_port;
        match proto {
            protocol::L2TP => {}
            protocol::UDP
                if upper.len() >= udp::HEADER_LEN
                    && u16::from_be_bytes([upper[2], upper[3]]) == udp_port => {}
            _ => return false,
        }
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        let src_mac = [d[6], d[7], d[8], d[9], d[10], d[11]];
        let checked = if dst != ours {
            Err(&mut self.counters.l2tp6_not_ours)
        } else if !global_unicast(src) || src == ours {
            Err(&mut self.counters.l2tp6_bad_source)
        } else if proto == protocol::L2TP {
            // Session id 0, then the control header.
            match upper.get(4..).filter(|_| upper[..4] == [0; 4]) {
                Some(msg) => Ok((0, msg)),
                None => Err(&mut self.counters.l2tp6_malformed),
            }
        } else {
            let u = udp::Packet::new_unchecked(upper);
            match ipv6::verify_udp_checksum(&u, src, dst, ipv6::UdpChecksum::Compute) {
                Ok(()) => Ok((u.src_port(), &upper[udp::HEADER_LEN..usize::from(u.len())])),
                Err(ipv6::UdpError::Truncated) => Err(&mut self.counters.l2tp6_malformed),
                Err(ipv6::UdpError::ZeroChecksum) => {
                    Err(&mut self.counters.l2tp6_udp_zero_checksum)
                }
                Err(ipv6::UdpError::BadChecksum) => Err(&mut self.counters.l2tp6_udp_bad_checksum),
            }
        };
        match checked {
            Ok((udp_port, msg)) => {
                let peer = Peer {
                    ip: IpAddr::V6(src),
                    udp_port,
                };
                self.l2tp_in(p, peer, src_mac, msg);
            }
            Err(counter) => {
                *counter += 1;
                self.counters.l2tp_control_rx += 1;
            }
        }
        true
    }
}

/// A source a pseudowire can be built toward: not unspecified,
/// loopback, multicast or link-local (fe80::/10; its scope would have
/// to travel with it).
fn global_unicast(a: Ipv6Addr) -> bool {
    !(a.is_unspecified()
        || a.is_loopback()
        || a.is_multicast()
        || (a.segments()[0] & 0xffc0) == 0xfe80)
}
