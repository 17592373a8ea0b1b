//! L2TPv3 control messages: `Message::parse` and every accessor,
//! `parse_with_secret` (hidden AVPs), `auth::verify_digest`,
//! `rules::check`, the control header view, VC IDs. Whatever parses
//! must emit to bytes that parse back to the same message; a message
//! sealed with a digest must verify; a hidden AVP must unhide to its
//! value.
//!
//! The input is one control message as it arrives over UDP, or over IP
//! with the 4 zero bytes of session ID 0 in front.
#![no_main]

use las::wire::l2tp::auth::{self, DigestAlg};
use las::wire::l2tp::avp::{self, cisco, ietf};
use las::wire::l2tp::control::{self, ControlRepr};
use las::wire::l2tp::{rules, Message, VcId};
use libfuzzer_sys::fuzz_target;

const SECRET: &[u8] = b"fuzz-secret";

fn accessors(m: &Message) {
    let _ = (m.is_zlb(), m.is_ack(), m.buffer_len(), m.assigned_ccid());
    let _ = (
        m.host_name(),
        m.vendor_name(),
        m.router_id(),
        m.receive_window(),
    );
    let _ = (
        m.firmware_revision(),
        m.protocol_version(),
        m.serial_number(),
    );
    let _ = (m.tie_breaker(), m.pw_capabilities(), m.local_session_id());
    let _ = (m.remote_session_id(), m.assigned_cookie(), m.pw_type());
    let _ = (
        m.l2_specific_sublayer(),
        m.data_sequencing(),
        m.circuit_status(),
    );
    let _ = (
        m.result_code(),
        m.message_digest(),
        m.nonce(),
        m.random_vector(),
    );
    let _ = (m.challenge(), m.challenge_response(), m.has_cisco_avps());
    let _ = m.unknown_mandatory();
    if let Some(c) = m.assigned_cookie() {
        assert!(matches!(c.len(), 0 | 4 | 8));
    }
    for a in &m.avps {
        let _ = avp::describe(a.vendor, a.attr);
        let _ = rules::carries(m, a.attr);
    }
    for v in rules::check(m) {
        let _ = v.to_string();
    }
    let _ = rules::first_missing(m);
    if let Some(id) = m.remote_end_id() {
        vc_id(id);
    }
}

/// A Remote End ID names a VC ID; its text names it again.
fn vc_id(id: &[u8]) {
    let v = VcId::from_remote_end_id(id);
    let text = v.to_string();
    if (1..=126).contains(&id.len()) {
        assert_eq!(VcId::from_config(&text), Ok(v.clone()), "VC ID {text}");
    }
    assert_eq!(VcId::from_remote_end_id(&v.to_remote_end_id()), v);
}

/// What las sends with a digest, a peer with the same secret verifies.
fn digest_roundtrip(m: &Message) {
    if m.is_zlb() {
        return;
    }
    // Message Digest AVPs directly after the Message Type count; past
    // two (ours plus one Cisco one already there) a message is refused.
    let leading_cisco = m
        .avps
        .iter()
        .filter(|a| !(a.vendor == ietf::VENDOR && a.attr == ietf::MESSAGE_DIGEST))
        .take_while(|a| !a.hidden && a.vendor == cisco::VENDOR && a.attr == cisco::MESSAGE_DIGEST)
        .count();
    let key = auth::shared_key(SECRET);
    let (ours, theirs) = (b"our nonce".as_slice(), m.nonce().unwrap_or_default());
    for alg in [DigestAlg::Md5, DigestAlg::Sha1] {
        let b = m.emit_with_digest(alg, &key, ours, theirs);
        if b.len() > usize::from(u16::MAX) || leading_cisco > 1 {
            continue;
        }
        assert!(
            auth::verify_digest(&b, &key, theirs, ours),
            "{alg:?} digest does not verify"
        );
        assert!(!auth::verify_digest(
            &b,
            &auth::shared_key(b"other"),
            theirs,
            ours
        ));
        let back = Message::parse(&b).expect("digested message parses");
        assert_eq!(back.msg_type, m.msg_type);
    }
}

/// A hidden copy of the first AVP unhides to its value.
fn hidden_roundtrip(m: &Message) {
    let Some(a) = m.avps.first() else {
        return;
    };
    let rv = m.random_vector().unwrap_or(b"0123456789abcdef");
    let value = &a.value[..a.value.len().min(avp::MAX_VALUE_LEN - 2)];
    let h = Message::new(las::wire::l2tp::MessageType::Hello, m.ccid)
        .with_random_vector(rv)
        .avp_hidden(a.vendor, a.attr, a.mandatory, value, SECRET, rv);
    let b = h.emit();
    if b.len() > usize::from(u16::MAX) {
        return;
    }
    let back = Message::parse_with_secret(&b, SECRET).expect("hidden AVP unhides");
    assert_eq!(back.avps[1].value, value);
    assert!(!back.avps[1].hidden);
}

fn message(bytes: &[u8]) {
    if let Ok(p) = control::Packet::new_checked(bytes) {
        let _ = (
            p.is_control(),
            p.has_length(),
            p.has_sequence(),
            p.version(),
        );
        let _ = (p.length(), p.ccid(), p.ns(), p.nr(), p.payload());
        if let Ok(r) = ControlRepr::parse(&p) {
            let mut out = vec![0xa5u8; r.buffer_len() + r.payload_len];
            r.emit(&mut control::Packet::new_unchecked(&mut out[..]));
            let q = control::Packet::new_checked(&out[..]).expect("emitted header checks");
            assert_eq!(ControlRepr::parse(&q), Ok(r));
        }
    }
    for a in avp::AvpIter::new(bytes.get(control::HEADER_LEN..).unwrap_or_default()) {
        let Ok(a) = a else { break };
        assert_eq!(a.to_owned().as_ref(), a);
    }
    let key = auth::shared_key(SECRET);
    let _ = auth::verify_digest(bytes, &key, b"", b"");
    let mut sealed = bytes.to_vec();
    auth::seal_digest(DigestAlg::Md5, &key, b"", b"", &mut sealed);
    if let Ok(mut m) = Message::parse(bytes) {
        accessors(&m);
        let out = m.emit();
        assert_eq!(out.len(), m.buffer_len());
        assert_eq!(
            Message::parse(&out),
            Ok(m.clone()),
            "emit does not parse back"
        );
        digest_roundtrip(&m);
        hidden_roundtrip(&m);
        if m.unhide(SECRET).is_ok() {
            assert!(m.avps.iter().all(|a| !a.hidden));
            accessors(&m);
        }
    }
    if let Ok(m) = Message::parse_with_secret(bytes, SECRET) {
        accessors(&m);
    }
}

fuzz_target!(|data: &[u8]| {
    match data {
        [0, 0, 0, 0, rest @ ..] => message(rest),
        _ => message(data),
    }
});
