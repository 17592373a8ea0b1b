//! Encapsulation and decapsulation of Ethernet frames for one pseudowire,
//! built on [`crate::wire::l2tp`].
//!
//! # IPv4 and IPv6
//!
//! The L2TPv3 bytes are the same over both (RFC 3931 §4.1.1.1 for IP,
//! §4.1.2.1 for UDP; §4.1.1.2: a zero session id, then the control
//! header, marks a control message over IP): only what the kernel hands
//! us differs, which [`raw_payload`] absorbs. A raw IPv4 socket delivers
//! the IPv4 header before the payload (stripped here, by IHL and total
//! length, the source read from it); a raw IPv6 socket delivers only what
//! follows the IPv6 header and its extension headers (RFC 3542 §3), the
//! source coming from `recvfrom`. Linux's own L2TPv3-over-IPv6
//! (`net/l2tp/l2tp_ip6.c`, what `ip l2tp add tunnel ... local <v6>
//! remote <v6> encap ip` uses) reads and writes exactly these bytes after
//! the IPv6 header, next header 115: `l2tp_ip6_recv` takes the first 4
//! bytes as the session id, 0 meaning a control message passed up without
//! them, and `l2tp_ip6_sendmsg` prepends the 4 zero bytes to control
//! messages; over UDP (`encap udp` with IPv6 addresses) the L2TP header
//! follows the UDP header as over IPv4, with the UDP checksum that IPv6
//! requires (computed by the kernel on our side).

use std::net::{IpAddr, Ipv4Addr};

use super::config::SessionParams;
use crate::wire::ethernet;
use crate::wire::ipv4;
use crate::wire::l2tp::{classify_udp, DataRepr, Encap, Kind, L2Spec, SublayerRepr};

/// Why a packet was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Outer IPv4 header (raw IPv4 socket) too short or inconsistent.
    IpMalformed,
    /// Not protocol 115 (raw socket) — should not happen.
    NotL2tp,
    /// From an address other than the configured peer(s).
    WrongSource,
    /// Failover: a data packet from the peer that is not the current one
    /// (the backup's last packets after a revert, say).
    NotCurrentPeer,
    /// An L2TP control message (no control connection in static mode).
    Control,
    /// Truncated L2TPv3 header or bad version.
    Malformed,
    /// Session id other than ours.
    SessionMismatch,
    /// Cookie other than the one we expect.
    CookieMismatch,
    /// Sequence number older than expected (default sublayer).
    SequenceError,
    /// Inner frame shorter than an Ethernet header.
    InnerMalformed,
    /// Frame too large for the buffer.
    Oversize,
    /// Writing to the TAP failed.
    TapWriteError,
    /// Sending on the socket failed.
    SendError,
    /// Dynamic mode: no session is up (frame from the TAP, or data from
    /// the peer, while the control connection is (re)connecting).
    NoSession,
}

impl DropReason {
    pub const COUNT: usize = 14;
    pub const ALL: [DropReason; Self::COUNT] = [
        DropReason::IpMalformed,
        DropReason::NotL2tp,
        DropReason::WrongSource,
        DropReason::NotCurrentPeer,
        DropReason::Control,
        DropReason::Malformed,
        DropReason::SessionMismatch,
        DropReason::CookieMismatch,
        DropReason::SequenceError,
        DropReason::InnerMalformed,
        DropReason::Oversize,
        DropReason::TapWriteError,
        DropReason::SendError,
        DropReason::NoSession,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            DropReason::IpMalformed => "ip-malformed",
            DropReason::NotL2tp => "not-l2tp",
            DropReason::WrongSource => "wrong-source",
            DropReason::NotCurrentPeer => "not-current-peer",
            DropReason::Control => "control-message",
            DropReason::Malformed => "l2tp-malformed",
            DropReason::SessionMismatch => "session-mismatch",
            DropReason::CookieMismatch => "cookie-mismatch",
            DropReason::SequenceError => "sequence-error",
            DropReason::InnerMalformed => "inner-malformed",
            DropReason::Oversize => "oversize",
            DropReason::TapWriteError => "tap-write-error",
            DropReason::SendError => "send-error",
            DropReason::NoSession => "no-session",
        }
    }
}

/// The control message inside an L2TPv3 payload, if it is one: over UDP
/// the whole payload when the T bit is set; over IP what follows a zero
/// session id (4 bytes).
pub fn control_message(encap: Encap, payload: &[u8]) -> Option<&[u8]> {
    match encap {
        Encap::Udp => matches!(classify_udp(payload), Ok(Kind::Control)).then_some(payload),
        Encap::Ip => (payload.len() >= 4 && payload[..4] == [0; 4]).then(|| &payload[4..]),
    }
}

/// What a raw protocol-115 socket received, as (source, L2TPv3 payload).
/// `from` is the address `recvfrom` gave; its family is the socket's.
/// Over IPv4 the payload follows the IPv4 header, which names the source
/// ([`strip_ipv4`]); over IPv6 the kernel has removed the header, so the
/// whole buffer is the payload and `from` the source.
pub fn raw_payload(from: IpAddr, buf: &[u8]) -> Result<(IpAddr, &[u8]), DropReason> {
    match from {
        IpAddr::V4(_) => strip_ipv4(buf).map(|(src, p)| (IpAddr::V4(src), p)),
        IpAddr::V6(_) => Ok((from, buf)),
    }
}

/// Strips the IPv4 header a raw socket delivers before the payload, by IHL.
/// Returns the source address and the payload (up to the IP total length).
pub fn strip_ipv4(buf: &[u8]) -> Result<(Ipv4Addr, &[u8]), DropReason> {
    let p = ipv4::Packet::new_checked(buf).map_err(|_| DropReason::IpMalformed)?;
    if p.version() != 4 {
        return Err(DropReason::IpMalformed);
    }
    if p.next_header() != ipv4::protocol::L2TP {
        return Err(DropReason::NotL2tp);
    }
    let hl = p.header_len();
    let tl = usize::from(p.total_len());
    Ok((p.src_addr(), &buf[hl..tl]))
}

/// The per-pseudowire codec: the transmit header template and sequence
/// state. It holds no sockets, so a control connection can build one from
/// negotiated [`SessionParams`].
#[derive(Debug, Clone)]
pub struct Codec {
    params: SessionParams,
    tx_seq: u32,
    rx_seq: Option<u32>,
}

impl Codec {
    pub fn new(params: SessionParams) -> Codec {
        Codec {
            params,
            tx_seq: 0,
            rx_seq: None,
        }
    }

    pub fn params(&self) -> &SessionParams {
        &self.params
    }

    /// Length of the header [`Codec::encap`] writes before the frame.
    pub fn tx_header_len(&self) -> usize {
        self.tx_repr(None).buffer_len()
    }

    fn tx_repr(&self, seq: Option<u32>) -> DataRepr {
        DataRepr {
            encap: self.params.encap,
            session_id: self.params.peer_session_id,
            cookie: self.params.peer_cookie,
            sublayer: match self.params.peer_l2spec {
                L2Spec::None => SublayerRepr::None,
                L2Spec::Default => SublayerRepr::Default { seq },
            },
        }
    }

    /// Writes the L2TPv3 header into `buf[..tx_header_len()]`; the frame
    /// must already be at `buf[tx_header_len()..]`. Advances the transmit
    /// sequence number when the default sublayer is in use.
    pub fn encap(&mut self, buf: &mut [u8]) -> Result<(), DropReason> {
        let seq = match self.params.peer_l2spec {
            L2Spec::None => None,
            L2Spec::Default => {
                let s = self.tx_seq;
                self.tx_seq = (s + 1) & 0x00ff_ffff;
                Some(s)
            }
        };
        self.tx_repr(seq)
            .emit(buf)
            .map_err(|_| DropReason::Oversize)
    }

    /// Checks an L2TPv3 payload (after the IPv4 header, or the UDP payload)
    /// and returns the Ethernet frame it carries.
    pub fn decap<'a>(&mut self, payload: &'a [u8]) -> Result<&'a [u8], DropReason> {
        let p = &self.params;
        if p.encap == Encap::Udp {
            match classify_udp(payload) {
                Ok(Kind::Control) => return Err(DropReason::Control),
                Ok(Kind::Data { .. }) => {}
                Err(_) => return Err(DropReason::Malformed),
            }
        } else if payload.len() >= 4 && payload[..4] == [0; 4] {
            return Err(DropReason::Control);
        }
        let r = DataRepr::parse(p.encap, payload, p.cookie.len(), p.l2spec)
            .map_err(|_| DropReason::Malformed)?;
        if r.session_id != p.session_id {
            return Err(DropReason::SessionMismatch);
        }
        if r.cookie != p.cookie {
            return Err(DropReason::CookieMismatch);
        }
        if let SublayerRepr::Default { seq: Some(seq) } = r.sublayer {
            if let Some(exp) = self.rx_seq {
                // Accept the expected number or anything newer (within half
                // the 24-bit space); drop older ones (as las does).
                if seq.wrapping_sub(exp) & 0x00ff_ffff >= 0x0080_0000 {
                    return Err(DropReason::SequenceError);
                }
            }
            self.rx_seq = Some((seq + 1) & 0x00ff_ffff);
        }
        let frame = &payload[r.buffer_len()..];
        if frame.len() < ethernet::HEADER_LEN {
            return Err(DropReason::InnerMalformed);
        }
        Ok(frame)
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::wire::l2tp::Cookie;

    fn cookie_of(s: &str) -> Cookie {
        Cookie::from_hex(s).unwrap()
    }

    fn params(encap: Encap, l2spec: L2Spec) -> SessionParams {
        SessionParams {
            encap,
            session_id: 2001,
            peer_session_id: 1001,
            cookie: cookie_of("0a0b0c0d"),
            peer_cookie: cookie_of("0102030405060708"),
            l2spec,
            peer_l2spec: l2spec,
        }
    }

    /// The far side's view: swap ids and cookies.
    fn mirror(p: &SessionParams) -> SessionParams {
        SessionParams {
            session_id: p.peer_session_id,
            peer_session_id: p.session_id,
            cookie: p.peer_cookie,
            peer_cookie: p.cookie,
            l2spec: p.peer_l2spec,
            peer_l2spec: p.l2spec,
            ..*p
        }
    }

    fn frame() -> Vec<u8> {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06]);
        f.extend(0..46u8);
        f
    }

    fn encap_frame(c: &mut Codec, f: &[u8]) -> Vec<u8> {
        let h = c.tx_header_len();
        let mut buf = vec![0u8; h + f.len()];
        buf[h..].copy_from_slice(f);
        c.encap(&mut buf).unwrap();
        buf
    }

    #[test]
    fn test_round_trip() {
        for encap in [Encap::Ip, Encap::Udp] {
            for l2spec in [L2Spec::None, L2Spec::Default] {
                let p = params(encap, l2spec);
                let mut tx = Codec::new(p);
                let mut rx = Codec::new(mirror(&p));
                let f = frame();
                for _ in 0..3 {
                    let pkt = encap_frame(&mut tx, &f);
                    assert_eq!(pkt.len(), f.len() + encap.header_len() + 8 + l2spec.len());
                    assert_eq!(rx.decap(&pkt), Ok(&f[..]), "{encap:?} {l2spec:?}");
                }
                // Parsed with las::wire directly.
                let pkt = encap_frame(&mut tx, &f);
                let r = DataRepr::parse(encap, &pkt, 8, l2spec).unwrap();
                assert_eq!(r.session_id, 1001);
                assert_eq!(r.cookie, cookie_of("0102030405060708"));
                if l2spec == L2Spec::Default {
                    assert_eq!(r.sublayer, SublayerRepr::Default { seq: Some(3) });
                }
            }
        }
    }

    #[test]
    fn test_decap_drops() {
        let p = params(Encap::Udp, L2Spec::Default);
        let mut tx = Codec::new(mirror(&p));
        let f = frame();
        let good = encap_frame(&mut tx, &f);

        let mut rx = Codec::new(p);
        let mut bad = good.clone();
        bad[7] ^= 1;
        assert_eq!(rx.decap(&bad), Err(DropReason::SessionMismatch));
        let mut bad = good.clone();
        bad[9] ^= 1;
        assert_eq!(rx.decap(&bad), Err(DropReason::CookieMismatch));
        assert_eq!(rx.decap(&good[..10]), Err(DropReason::Malformed));
        assert_eq!(rx.decap(&good[..20]), Err(DropReason::InnerMalformed));
        let mut ctl = good.clone();
        ctl[0] = 0xc8;
        assert_eq!(rx.decap(&ctl), Err(DropReason::Control));

        // Sequencing: newer is fine, older is dropped.
        let newer = encap_frame(&mut tx, &f);
        assert_eq!(rx.decap(&newer), Ok(&f[..]));
        assert_eq!(rx.decap(&good), Err(DropReason::SequenceError));

        // Over IP, 4 zero bytes are a control message.
        let mut rx = Codec::new(params(Encap::Ip, L2Spec::None));
        assert_eq!(rx.decap(&[0u8; 40]), Err(DropReason::Control));
    }

    #[test]
    fn test_asymmetric_sublayer() {
        // We send the default sublayer but expect none (negotiated).
        let mut p = params(Encap::Ip, L2Spec::None);
        p.peer_l2spec = L2Spec::Default;
        let mut tx = Codec::new(p);
        let mut rx = Codec::new(mirror(&p));
        let f = frame();
        let pkt = encap_frame(&mut tx, &f);
        assert_eq!(pkt.len(), f.len() + 4 + 8 + 4);
        assert_eq!(rx.decap(&pkt), Ok(&f[..]));
        let back = encap_frame(&mut rx, &f);
        assert_eq!(back.len(), f.len() + 4 + 4);
        assert_eq!(tx.decap(&back), Ok(&f[..]));
    }

    #[test]
    fn test_control_message() {
        let ctl = [0xc8, 0x03, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(control_message(Encap::Udp, &ctl), Some(&ctl[..]));
        let data = [0, 0x03, 0, 0, 0, 0, 0x03, 0xe9, 1, 2];
        assert_eq!(control_message(Encap::Udp, &data), None);
        let mut ip = vec![0u8; 4];
        ip.extend_from_slice(&ctl);
        assert_eq!(control_message(Encap::Ip, &ip), Some(&ctl[..]));
        assert_eq!(control_message(Encap::Ip, &data), None);
        assert_eq!(control_message(Encap::Ip, &[0, 0]), None);
    }

    #[test]
    fn test_strip_ipv4() {
        let mut pkt = vec![
            0x46, 0, 0, 32, 0, 0, 0x40, 0, 64, 115, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 1, 2, 3, 4,
        ];
        pkt.extend_from_slice(&[0xaa; 8]);
        pkt.extend_from_slice(&[0; 6]); // trailing junk beyond total length
        let (src, payload) = strip_ipv4(&pkt).unwrap();
        assert_eq!(src, Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(payload, &[0xaa; 8]);
        pkt[9] = 17;
        assert_eq!(strip_ipv4(&pkt), Err(DropReason::NotL2tp));
        assert_eq!(strip_ipv4(&pkt[..10]), Err(DropReason::IpMalformed));
    }

    #[test]
    fn test_raw_payload() {
        // IPv4: the header is stripped and names the source, whatever
        // recvfrom said.
        let mut v4 = vec![
            0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 115, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        v4.extend_from_slice(&[0, 0, 0x03, 0xe9, 1, 2, 3, 4]);
        let any4 = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        let (src, p) = raw_payload(any4, &v4).unwrap();
        assert_eq!(src, IpAddr::from([10, 0, 0, 1]));
        assert_eq!(p, &v4[20..]);
        // IPv6: the kernel delivers the payload alone; the source is
        // recvfrom's. A first byte of 0x45 is no header here: session id
        // 0x45000000 is data like any other.
        let from: IpAddr = "fd00:e6::1".parse().unwrap();
        let (src, p) = raw_payload(from, &v4).unwrap();
        assert_eq!((src, p), (from, &v4[..]));
        assert_eq!(raw_payload(any4, &v4[..8]), Err(DropReason::IpMalformed));
        assert_eq!(raw_payload(from, &[]), Ok((from, &[][..])));
    }

    /// What Linux `l2tp_ip6` puts after the IPv6 header (next header 115)
    /// for session 0x3e9, cookie 0a0b0c0d, no sublayer, and a control
    /// message (4 zero bytes, then the header with T, L, S set and
    /// version 3): the codec decapsulates the first and leaves the second
    /// to the control connection, as over IPv4.
    #[test]
    fn test_ipv6_ip_payloads() {
        let mut p = params(Encap::Ip, L2Spec::None);
        p.session_id = 0x3e9;
        p.cookie = cookie_of("0a0b0c0d");
        let mut rx = Codec::new(p);
        let f = frame();
        let mut data = vec![0, 0, 0x03, 0xe9, 0x0a, 0x0b, 0x0c, 0x0d];
        data.extend_from_slice(&f);
        let from: IpAddr = "fd00:e6::1".parse().unwrap();
        let (_, payload) = raw_payload(from, &data).unwrap();
        assert_eq!(rx.decap(payload), Ok(&f[..]));
        let ctl = [0, 0, 0, 0, 0xc8, 0x03, 0, 12, 0, 0, 0, 7, 0, 0, 0, 0];
        let (_, payload) = raw_payload(from, &ctl).unwrap();
        assert_eq!(rx.decap(payload), Err(DropReason::Control));
        assert_eq!(control_message(Encap::Ip, payload), Some(&ctl[4..]));
        // And what we send is those bytes: session id, cookie, frame.
        let mut tx = Codec::new(mirror(&p));
        let mut want = vec![0, 0, 0x03, 0xe9, 0x0a, 0x0b, 0x0c, 0x0d];
        want.extend_from_slice(&f);
        let mut buf = vec![0xa5; 8 + f.len()];
        buf[8..].copy_from_slice(&f);
        tx.encap(&mut buf).unwrap();
        assert_eq!(buf, want);
    }
}
