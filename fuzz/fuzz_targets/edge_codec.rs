//! las-edge's data codec (`src/edge/codec.rs`): `decap` of any payload,
//! `control_message`, `strip_ipv4`; and what one side's `encap` writes,
//! the other side (the mirrored parameters) `decap`s to the same frame,
//! sequence numbers included.
//!
//! Input: the session parameters (13 bytes), then records
//! `[kind][u16 length][bytes]`: kind bit 0 set: a frame for
//! encap → decap; clear: raw bytes for decap, `control_message` and
//! `strip_ipv4`.
#![no_main]

use las::edge::codec::{control_message, strip_ipv4};
use las::edge::{Codec, DropReason, SessionParams};
use las::wire::ethernet;
use las::wire::l2tp::{Cookie, Encap, L2Spec};
use las_fuzz::Input;
use libfuzzer_sys::fuzz_target;

fn cookie(inp: &mut Input, sel: u8) -> Cookie {
    let b = inp.bytes([0, 4, 8, 0][usize::from(sel & 3)]);
    Cookie::new(b).unwrap_or(Cookie::NONE)
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input::new(data);
    let sel = inp.u8();
    let l2 = |b: bool| if b { L2Spec::Default } else { L2Spec::None };
    let p = SessionParams {
        encap: if sel & 1 != 0 { Encap::Udp } else { Encap::Ip },
        session_id: inp.u32(),
        peer_session_id: inp.u32(),
        cookie: cookie(&mut inp, sel >> 1),
        peer_cookie: cookie(&mut inp, sel >> 3),
        l2spec: l2(sel & 0x20 != 0),
        peer_l2spec: l2(sel & 0x40 != 0),
    };
    // The other end: what we send, it expects, and the other way round.
    let mirror = SessionParams {
        session_id: p.peer_session_id,
        peer_session_id: p.session_id,
        cookie: p.peer_cookie,
        peer_cookie: p.cookie,
        l2spec: p.peer_l2spec,
        peer_l2spec: p.l2spec,
        ..p
    };
    let mut tx = Codec::new(p);
    // `rx` sees only what `tx` sent; `any` also sees the raw records.
    let mut rx = Codec::new(mirror);
    let mut any = Codec::new(mirror);
    assert_eq!(tx.params(), &p);
    while !inp.is_empty() {
        let kind = inp.u8();
        let bytes = inp.record();
        if kind & 1 == 0 {
            if let Ok(frame) = any.decap(bytes) {
                assert!(frame.len() >= ethernet::HEADER_LEN);
                assert!(bytes.ends_with(frame));
            }
            if let Some(m) = control_message(p.encap, bytes) {
                assert!(bytes.ends_with(m));
            }
            if let Ok((_, payload)) = strip_ipv4(bytes) {
                assert!(payload.len() <= bytes.len());
            }
            continue;
        }
        let hl = tx.tx_header_len();
        let mut buf = vec![0xa5u8; hl + bytes.len()];
        buf[hl..].copy_from_slice(bytes);
        tx.encap(&mut buf).expect("room for the header");
        assert_eq!(tx.encap(&mut buf[..hl - 1]), Err(DropReason::Oversize));
        // That second encap used a sequence number the receiver never
        // sees: fine, newer numbers are accepted.
        let got = rx.decap(&buf);
        let _ = any.decap(&buf);
        if p.peer_session_id == 0 {
            // Session ID 0 is a control message (IP) or malformed (UDP).
            assert!(got.is_err(), "session 0 decapsulated: {got:?}");
        } else if bytes.len() < ethernet::HEADER_LEN {
            assert_eq!(got, Err(DropReason::InnerMalformed));
        } else {
            assert_eq!(got, Ok(bytes), "encap → decap changed the frame");
        }
    }
});
