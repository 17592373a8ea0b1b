//! Which AVPs each control message carries: RFC 3931 §6.1–§6.15 as a
//! table, the one source that the message builders (through
//! [`check`], run on every message las queues) and the conformance tests
//! use.
//!
//! Each message type lists its AVPs as [`Need::Must`] and [`Need::May`],
//! verbatim from the RFC (the text is quoted in the table below), plus
//! the few [`Need::Interop`] AVPs that the RFC does not list but that
//! routers in the field send or expect, each with the reason. RFC 4667
//! (whose body we could not read here) only adds optional AVPs to these
//! messages; RFC 4719 adds none.
//!
//! In Cisco's dual form (IOS `protocol l2tpv3`, [`Flavour::CiscoDual`]
//! in the builders) an IETF AVP may be accompanied or replaced by its
//! vendor-9 twin ([`cisco::to_ietf`]): a MUST is met by either, and a
//! vendor-9 AVP is allowed where its IETF twin is.
//!
//! ```text
//!  message   MUST                                            MAY (besides Random Vector, Message Digest)
//!  SCCRQ     Host Name, Router ID, Assigned CCID, PW Caps    Nonce, Tie Breaker, Vendor Name, RWS, Pref. Language
//!  SCCRP     Host Name, Router ID, Assigned CCID, PW Caps    Nonce, Vendor Name, RWS, Pref. Language
//!  SCCCN     -                                               -
//!  StopCCN   Result Code                                     Assigned CCID (MUST after SCCRQ/SCCRP was sent)
//!  HELLO     -                                               -
//!  ICRQ      Local SID, Remote SID, Serial Number, PW Type,  Cookie, Session Tie Breaker, L2SS, Data Seq.,
//!            Remote End ID, Circuit Status                   Tx/Rx Connect Speed, Physical Channel ID
//!  ICRP      Local SID, Remote SID, Circuit Status           Cookie, L2SS, Data Seq., Tx/Rx Speed, Phys. Ch.
//!  ICCN      Local SID, Remote SID                           L2SS, Data Seq., Tx/Rx Speed, Circuit Status
//!  OCRQ      as ICRQ                                         as ICRQ less Physical Channel ID
//!  OCRP      as ICRP                                         as ICRP
//!  OCCN      as ICCN                                         as ICCN
//!  CDN       Result Code, Local SID, Remote SID              -
//!  WEN       Local SID, Remote SID, Circuit Errors           -
//!  SLI       Local SID, Remote SID                           Circuit Status
//!  ACK       -                                               (Message Digest only: no Random Vector)
//! ```

use super::avp::{cisco, describe, ietf};
use super::message::{Message, MessageType};

#[cfg(doc)]
use super::message::Flavour;

/// How an AVP stands in a message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// "The following AVPs MUST be present".
    Must,
    /// "The following AVPs MAY be present".
    May,
    /// Not in the RFC's lists, but sent or expected by deployed routers;
    /// the text says who and why.
    Interop(&'static str),
}

/// One AVP (by its IETF attribute type) of a message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub attr: u16,
    pub need: Need,
}

const fn must(attr: u16) -> Rule {
    Rule {
        attr,
        need: Need::Must,
    }
}

const fn may(attr: u16) -> Rule {
    Rule {
        attr,
        need: Need::May,
    }
}

const fn interop(attr: u16, why: &'static str) -> Rule {
    Rule {
        attr,
        need: Need::Interop(why),
    }
}

use ietf::*;

/// Random Vector and Message Digest: MAY in every message but ACK.
const COMMON: [Rule; 2] = [may(RANDOM_VECTOR), may(MESSAGE_DIGEST)];

const CHAP: &str =
    "RFC 2661 CHAP-style authentication (Cisco `authentication`, L2TPv2-derived stacks)";

static SCCRQ: &[Rule] = &[
    COMMON[0],
    COMMON[1],
    must(HOST_NAME),
    must(ROUTER_ID),
    must(ASSIGNED_CONTROL_CONNECTION_ID),
    must(PW_CAPABILITY_LIST),
    may(CONTROL_MESSAGE_AUTH_NONCE),
    may(TIE_BREAKER),
    may(VENDOR_NAME),
    may(RECEIVE_WINDOW_SIZE),
    may(PREFERRED_LANGUAGE),
    interop(
        PROTOCOL_VERSION,
        "Cisco IOS sends it (M=1) in its SCCRQ (pyl2tpv3as test.py capture)",
    ),
    interop(
        FRAMING_CAPABILITIES,
        "Cisco IOS sends it (M=1) in its SCCRQ (pyl2tpv3as test.py capture)",
    ),
    interop(FIRMWARE_REVISION, "Cisco IOS sends it in its SCCRQ"),
    interop(CHALLENGE, CHAP),
];

static SCCRP: &[Rule] = &[
    COMMON[0],
    COMMON[1],
    must(HOST_NAME),
    must(ROUTER_ID),
    must(ASSIGNED_CONTROL_CONNECTION_ID),
    must(PW_CAPABILITY_LIST),
    may(CONTROL_MESSAGE_AUTH_NONCE),
    may(VENDOR_NAME),
    may(RECEIVE_WINDOW_SIZE),
    may(PREFERRED_LANGUAGE),
    interop(
        PROTOCOL_VERSION,
        "echoed when the SCCRQ carried one: pyl2tpv3as's SCCRP, which IOS accepts, has it",
    ),
    interop(FIRMWARE_REVISION, "Cisco IOS sends it"),
    interop(CHALLENGE, CHAP),
    interop(CHALLENGE_RESPONSE, CHAP),
];

static SCCCN: &[Rule] = &[COMMON[0], COMMON[1], interop(CHALLENGE_RESPONSE, CHAP)];

static STOPCCN: &[Rule] = &[
    COMMON[0],
    COMMON[1],
    must(RESULT_CODE),
    may(ASSIGNED_CONTROL_CONNECTION_ID),
];

static HELLO: &[Rule] = &COMMON;

const CONNECT_SPEEDS: [Rule; 2] = [may(TX_CONNECT_SPEED), may(RX_CONNECT_SPEED)];

const MTU: &str = "Cisco IOS sends its Interface MTU (9/14) in the draft form (RFC 4667's AVP 91)";

static ICRQ: &[Rule] = &[
    COMMON[0],
    COMMON[1],
    must(LOCAL_SESSION_ID),
    must(REMOTE_SESSION_ID),
    must(SERIAL_NUMBER),
    must(PW_TYPE),
    must(REMOTE_END_ID),
    must(CIRCUIT_STATUS),
    may(ASSIGNED_COOKIE),
    may(TIE_BREAKER),
    may(L2_SPECIFIC_SUBLAYER),
    may(DATA_SEQUENCING),
    CONNECT_SPEEDS[0],
    CONNECT_SPEEDS[1],
    may(PHYSICAL_CHANNEL_ID),
    interop(INTERFACE_MTU, MTU),
];

static ICRP: &[Rule] = &[
    COMMON[0],
    COMMON[1],
    must(LOCAL_SESSION_ID),
    must(REMOTE_SESSION_ID),
    must(CIRCUIT_STATUS),
    may(ASSIGNED_COOKIE),
    may(L2_SPECIFIC_SUBLAYER),
    may(DATA_SEQUENCING),
    CONNECT_SPEEDS[0],
    CONNECT_SPEEDS[1],
    may(PHYSICAL_CHANNEL_ID),
    interop(
        PW_TYPE,
        "Cisco's draft form echoes the PW type (9/7) in its ICRP; pyl2tpv3as's ICRP, accepted by IOS, does",
    ),
    interop(INTERFACE_MTU, MTU),
];

static ICCN: &[Rule] = &[
    COMMON[0],
    COMMON[1],
    must(LOCAL_SESSION_ID),
    must(REMOTE_SESSION_ID),
    may(L2_SPECIFIC_SUBLAYER),
    may(DATA_SEQUENCING),
    CONNECT_SPEEDS[0],
    CONNECT_SPEEDS[1],
    may(CIRCUIT_STATUS),
];

static OCRQ: &[Rule] = &[
    COMMON[0],
    COMMON[1],
    must(LOCAL_SESSION_ID),
    must(REMOTE_SESSION_ID),
    must(SERIAL_NUMBER),
    must(PW_TYPE),
    must(REMOTE_END_ID),
    must(CIRCUIT_STATUS),
    may(ASSIGNED_COOKIE),
    CONNECT_SPEEDS[0],
    CONNECT_SPEEDS[1],
    may(TIE_BREAKER),
    may(L2_SPECIFIC_SUBLAYER),
    may(DATA_SEQUENCING),
];

static OCRP: &[Rule] = &[
    COMMON[0],
    COMMON[1],
    must(LOCAL_SESSION_ID),
    must(REMOTE_SESSION_ID),
    must(CIRCUIT_STATUS),
    may(ASSIGNED_COOKIE),
    may(L2_SPECIFIC_SUBLAYER),
    CONNECT_SPEEDS[0],
    CONNECT_SPEEDS[1],
    may(DATA_SEQUENCING),
    may(PHYSICAL_CHANNEL_ID),
];

static OCCN: &[Rule] = &[
    COMMON[0],
    COMMON[1],
    must(LOCAL_SESSION_ID),
    must(REMOTE_SESSION_ID),
    may(L2_SPECIFIC_SUBLAYER),
    CONNECT_SPEEDS[0],
    CONNECT_SPEEDS[1],
    may(DATA_SEQUENCING),
    may(CIRCUIT_STATUS),
];

static CDN: &[Rule] = &[
    COMMON[0],
    COMMON[1],
    must(RESULT_CODE),
    must(LOCAL_SESSION_ID),
    must(REMOTE_SESSION_ID),
    interop(
        CAUSE_CODE,
        "RFC 2661's Q.931 Cause Code, still sent by L2TPv2-derived stacks",
    ),
];

static WEN: &[Rule] = &[
    COMMON[0],
    COMMON[1],
    must(LOCAL_SESSION_ID),
    must(REMOTE_SESSION_ID),
    must(CIRCUIT_ERRORS),
];

static SLI: &[Rule] = &[
    COMMON[0],
    COMMON[1],
    must(LOCAL_SESSION_ID),
    must(REMOTE_SESSION_ID),
    may(CIRCUIT_STATUS),
    interop(PW_TYPE, "pyl2tpv3as's SLI, accepted by IOS, carries it"),
];

static ACK: &[Rule] = &[may(MESSAGE_DIGEST)];

/// The AVPs of a message type (RFC 3931 §6), `None` for a type the RFC
/// does not define for L2TPv3.
pub fn rules(t: MessageType) -> Option<&'static [Rule]> {
    use MessageType as T;
    Some(match t {
        T::Sccrq => SCCRQ,
        T::Sccrp => SCCRP,
        T::Scccn => SCCCN,
        T::StopCcn => STOPCCN,
        T::Hello => HELLO,
        T::Ocrq => OCRQ,
        T::Ocrp => OCRP,
        T::Occn => OCCN,
        T::Icrq => ICRQ,
        T::Icrp => ICRP,
        T::Iccn => ICCN,
        T::Cdn => CDN,
        T::Wen => WEN,
        T::Sli => SLI,
        T::Ack => ACK,
        T::Unknown(_) => return None,
    })
}

/// How `attr` (IETF numbering) stands in messages of type `t`.
pub fn need(t: MessageType, attr: u16) -> Option<Need> {
    rules(t)?.iter().find(|r| r.attr == attr).map(|r| r.need)
}

/// The vendor-9 AVPs of Cisco's draft form that have no IETF twin, by
/// message type.
fn cisco_only(t: MessageType, attr: u16) -> bool {
    use MessageType as T;
    matches!((t, attr), (T::Sccrq | T::Sccrp, cisco::DRAFT_AVP_VERSION))
}

/// A way a message breaks its rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// A MUST AVP is absent (in both numberings).
    Missing(u16),
    /// An AVP the message type does not list.
    NotAllowed { vendor: u16, attr: u16 },
    /// The same AVP twice (only Message Digest may appear twice, §5.4.1).
    Repeated { vendor: u16, attr: u16 },
    /// A message type RFC 3931 does not define.
    UnknownType(u16),
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Violation::Missing(a) => write!(f, "missing {}", describe(ietf::VENDOR, *a)),
            Violation::NotAllowed { vendor, attr } => {
                write!(f, "{} not allowed here", describe(*vendor, *attr))
            }
            Violation::Repeated { vendor, attr } => {
                write!(f, "{} repeated", describe(*vendor, *attr))
            }
            Violation::UnknownType(t) => write!(f, "message type {t} not defined for L2TPv3"),
        }
    }
}

/// Whether `m` carries `attr` (IETF numbering) as an IETF AVP or as its
/// vendor-9 twin, visible or hidden.
pub fn carries(m: &Message, attr: u16) -> bool {
    m.avps.iter().any(|a| match a.vendor {
        ietf::VENDOR => a.attr == attr,
        cisco::VENDOR => cisco::to_ietf(a.attr) == Some(attr),
        _ => false,
    })
}

/// The first MUST AVP that `m` lacks (IETF numbering). ZLBs lack none.
pub fn first_missing(m: &Message) -> Option<u16> {
    let t = m.msg_type?;
    rules(t)?
        .iter()
        .find(|r| r.need == Need::Must && !carries(m, r.attr))
        .map(|r| r.attr)
}

/// Every way `m` breaks the table: missing MUST AVPs, AVPs not listed
/// for its type, repeated AVPs. Empty for a conforming message (and for
/// a ZLB). AVPs of vendors other than 0 and 9 are never allowed in what
/// las sends.
pub fn check(m: &Message) -> Vec<Violation> {
    let Some(t) = m.msg_type else {
        return Vec::new();
    };
    let Some(rs) = rules(t) else {
        return vec![Violation::UnknownType(u16::from(t))];
    };
    let mut v: Vec<Violation> = rs
        .iter()
        .filter(|r| r.need == Need::Must && !carries(m, r.attr))
        .map(|r| Violation::Missing(r.attr))
        .collect();
    for (i, a) in m.avps.iter().enumerate() {
        let allowed = match a.vendor {
            ietf::VENDOR => need(t, a.attr).is_some(),
            cisco::VENDOR => {
                cisco::to_ietf(a.attr).is_some_and(|i| need(t, i).is_some())
                    || cisco_only(t, a.attr)
            }
            _ => false,
        };
        if !allowed {
            v.push(Violation::NotAllowed {
                vendor: a.vendor,
                attr: a.attr,
            });
        }
        let digest = a.vendor == ietf::VENDOR && a.attr == ietf::MESSAGE_DIGEST;
        let twice = m.avps[..i]
            .iter()
            .filter(|b| b.vendor == a.vendor && b.attr == a.attr)
            .count();
        if twice >= if digest { 2 } else { 1 } {
            v.push(Violation::Repeated {
                vendor: a.vendor,
                attr: a.attr,
            });
        }
    }
    v
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::wire::l2tp::message::Flavour;

    const ALL: [MessageType; 15] = [
        MessageType::Sccrq,
        MessageType::Sccrp,
        MessageType::Scccn,
        MessageType::StopCcn,
        MessageType::Hello,
        MessageType::Ocrq,
        MessageType::Ocrp,
        MessageType::Occn,
        MessageType::Icrq,
        MessageType::Icrp,
        MessageType::Iccn,
        MessageType::Cdn,
        MessageType::Wen,
        MessageType::Sli,
        MessageType::Ack,
    ];

    #[test]
    fn table_is_consistent() {
        for t in ALL {
            let rs = rules(t).unwrap();
            for (i, r) in rs.iter().enumerate() {
                assert!(ietf::is_known(r.attr), "{t:?} {}", r.attr);
                assert!(
                    rs[..i].iter().all(|o| o.attr != r.attr),
                    "{t:?} lists {} twice",
                    r.attr
                );
            }
        }
        assert_eq!(rules(MessageType::Unknown(5)), None);
        // Spot checks against RFC 3931 §6 text.
        assert_eq!(need(MessageType::Icrq, SERIAL_NUMBER), Some(Need::Must));
        assert_eq!(need(MessageType::Icrp, CIRCUIT_STATUS), Some(Need::Must));
        assert_eq!(need(MessageType::Iccn, CIRCUIT_STATUS), Some(Need::May));
        assert_eq!(need(MessageType::Sli, CIRCUIT_STATUS), Some(Need::May));
        assert_eq!(need(MessageType::Cdn, LOCAL_SESSION_ID), Some(Need::Must));
        assert_eq!(need(MessageType::Ack, RANDOM_VECTOR), None);
        assert_eq!(need(MessageType::Sccrq, SERIAL_NUMBER), None);
    }

    #[test]
    fn check_finds_every_kind_of_violation() {
        let ok = Message::new(MessageType::Icrp, 1)
            .with_local_session_id(Flavour::Ietf, 5)
            .with_remote_session_id(Flavour::Ietf, 6)
            .with_circuit_status(Flavour::Ietf, true, true);
        assert_eq!(check(&ok), vec![]);
        assert_eq!(first_missing(&ok), None);
        // The Cisco dual form meets the MUSTs with either numbering.
        let dual = Message::new(MessageType::Icrp, 1)
            .with_local_session_id(Flavour::CiscoDual, 5)
            .with_remote_session_id(Flavour::CiscoDual, 6)
            .with_circuit_status(Flavour::CiscoDual, true, true)
            .with_pw_type(Flavour::CiscoDual, 5);
        assert_eq!(check(&dual), vec![]);
        let no_status = Message::new(MessageType::Icrp, 1)
            .with_local_session_id(Flavour::Ietf, 5)
            .with_remote_session_id(Flavour::Ietf, 6);
        assert_eq!(check(&no_status), vec![Violation::Missing(CIRCUIT_STATUS)]);
        assert_eq!(first_missing(&no_status), Some(CIRCUIT_STATUS));
        assert_eq!(
            check(&no_status).first().map(|v| v.to_string()).as_deref(),
            Some("missing Circuit Status (71)")
        );
        let extra = ok.clone().with_host_name(b"x").avp_u16(311, 1, false, 0);
        assert_eq!(
            check(&extra),
            vec![
                Violation::NotAllowed {
                    vendor: 0,
                    attr: HOST_NAME
                },
                Violation::NotAllowed {
                    vendor: 311,
                    attr: 1
                }
            ]
        );
        let twice = ok.clone().with_local_session_id(Flavour::Ietf, 7);
        assert_eq!(
            check(&twice),
            vec![Violation::Repeated {
                vendor: 0,
                attr: LOCAL_SESSION_ID
            }]
        );
        // Two digests are legal, three are not.
        let d = |m: Message| m.avp_bytes(0, MESSAGE_DIGEST, true, &[0; 17]);
        assert_eq!(check(&d(d(ok.clone()))), vec![]);
        assert_eq!(check(&d(d(d(ok.clone())))).len(), 1);
        assert_eq!(check(&Message::zlb(1, 2, 3)), vec![]);
        assert_eq!(
            check(&Message::new(MessageType::Unknown(99), 1)),
            vec![Violation::UnknownType(99)]
        );
    }
}
