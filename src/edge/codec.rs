//! Encapsulation and decapsulation of Ethernet frames for one pseudowire,
//! built on [`crate::wire::l2tp`].

use std::net::Ipv4Addr;

use super::config::SessionParams;
use crate::wire::ethernet;
use crate::wire::ipv4;
use crate::wire::l2tp::{classify_udp, DataRepr, Encap, Kind, L2Spec, SublayerRepr};

/// Why a packet was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Outer IPv4 header (raw socket) too short or inconsistent.
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
}
