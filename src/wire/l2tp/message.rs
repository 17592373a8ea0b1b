//! L2TPv3 control messages (RFC 3931 §3.2.1, §5, §6): an owned
//! [`Message`] with parse, emit, typed accessors and builders.
//!
//! A message is the 12-byte control header ([`super::control`]) followed
//! by AVPs. The first AVP is the Message Type; a message with no AVPs at
//! all is a ZLB ACK (RFC 3931 §4.4.3), represented by
//! `msg_type == None` (there is no `Zlb` variant).
//!
//! # Two flavours of AVPs
//!
//! Cisco IOS in its default mode speaks the pre-RFC L2TPv3 drafts: it
//! sends the IETF AVP with M = 0 and a vendor-9 copy with M = 1 (see
//! [`avp::cisco`]). The accessors look for the IETF AVP first, then the
//! Cisco one, so either kind of peer works; the `with_*` builders take a
//! [`Flavour`] to choose what we send.
//!
//! Hidden AVPs are kept hidden by [`Message::parse`]; accessors skip them.
//! [`Message::parse_with_secret`] (or [`Message::unhide`]) reveals them.

use super::avp::{self, cisco, ietf, AvpIter, AvpOwned};
use super::control::{self, Packet};
use crate::wire::{Error, Result};

/// Control message types (RFC 3931 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// Start-Control-Connection-Request.
    Sccrq,
    /// Start-Control-Connection-Reply.
    Sccrp,
    /// Start-Control-Connection-Connected.
    Scccn,
    /// Stop-Control-Connection-Notification.
    StopCcn,
    Hello,
    /// Outgoing-Call-Request.
    Ocrq,
    Ocrp,
    Occn,
    /// Incoming-Call-Request.
    Icrq,
    Icrp,
    Iccn,
    /// Call-Disconnect-Notify.
    Cdn,
    /// WAN-Error-Notify.
    Wen,
    /// Set-Link-Info.
    Sli,
    /// Explicit acknowledgement (RFC 3931 §5.4 / §6.15).
    Ack,
    Unknown(u16),
}

impl From<u16> for MessageType {
    fn from(v: u16) -> MessageType {
        use MessageType::*;
        match v {
            1 => Sccrq,
            2 => Sccrp,
            3 => Scccn,
            4 => StopCcn,
            6 => Hello,
            7 => Ocrq,
            8 => Ocrp,
            9 => Occn,
            10 => Icrq,
            11 => Icrp,
            12 => Iccn,
            14 => Cdn,
            15 => Wen,
            16 => Sli,
            20 => Ack,
            x => Unknown(x),
        }
    }
}

impl From<MessageType> for u16 {
    fn from(t: MessageType) -> u16 {
        use MessageType::*;
        match t {
            Sccrq => 1,
            Sccrp => 2,
            Scccn => 3,
            StopCcn => 4,
            Hello => 6,
            Ocrq => 7,
            Ocrp => 8,
            Occn => 9,
            Icrq => 10,
            Icrp => 11,
            Iccn => 12,
            Cdn => 14,
            Wen => 15,
            Sli => 16,
            Ack => 20,
            Unknown(x) => x,
        }
    }
}

/// Which AVPs the `with_*` builders emit for attributes that exist in both
/// the IETF (RFC 3931) and the Cisco vendor-9 (draft) numbering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Flavour {
    /// The IETF AVP only, with the RFC's M bit.
    #[default]
    Ietf,
    /// The IETF AVP with M = 0 followed by the vendor-9 copy with M = 1
    /// (what Cisco IOS sends by default).
    CiscoDual,
}

/// Result Code AVP values for StopCCN (RFC 3931 §5.4.2).
pub mod stopccn_result {
    pub const GENERAL_REQUEST_TO_CLEAR: u16 = 1;
    pub const GENERAL_ERROR: u16 = 2;
    pub const ALREADY_EXISTS: u16 = 3;
    pub const NOT_AUTHORIZED: u16 = 4;
    pub const BAD_PROTOCOL_VERSION: u16 = 5;
    pub const BEING_SHUT_DOWN: u16 = 6;
    pub const FSM_ERROR: u16 = 7;
}

/// Result Code AVP values for CDN (RFC 2661 §4.4.2, RFC 3931 §5.4.2 and
/// the IANA registry).
pub mod cdn_result {
    pub const LOST_CARRIER: u16 = 1;
    pub const GENERAL_ERROR: u16 = 2;
    pub const ADMINISTRATIVE: u16 = 3;
    pub const NO_FACILITIES_TEMPORARY: u16 = 4;
    pub const NO_FACILITIES_PERMANENT: u16 = 5;
    /// Session not established due to losing the tie breaker (RFC 3931).
    pub const LOST_TIE_BREAKER: u16 = 13;
    /// Session not established due to unsupported PW type (RFC 3931).
    pub const UNSUPPORTED_PW_TYPE: u16 = 14;
    /// Sequencing required without a valid L2-Specific Sublayer (RFC 3931).
    pub const SEQUENCING_WITHOUT_SUBLAYER: u16 = 15;
    pub const FSM_ERROR: u16 = 16;
}

/// General error codes carried in the Result Code AVP (RFC 3931 §5.4.2).
pub mod error_code {
    pub const NO_ERROR: u16 = 0;
    pub const NO_CONTROL_CONNECTION: u16 = 1;
    pub const LENGTH_WRONG: u16 = 2;
    pub const VALUE_OUT_OF_RANGE: u16 = 3;
    pub const INSUFFICIENT_RESOURCES: u16 = 4;
    pub const INVALID_SESSION_ID: u16 = 5;
    pub const VENDOR_ERROR: u16 = 6;
    pub const TRY_ANOTHER: u16 = 7;
    pub const UNKNOWN_MANDATORY_AVP: u16 = 8;
}

/// PW types (RFC 4446 / IANA), those we care about.
pub mod pw_type {
    pub const ETHERNET_VLAN: u16 = 0x0004;
    pub const ETHERNET: u16 = 0x0005;
}

/// The decoded Result Code AVP.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResultCode {
    pub result: u16,
    pub error: Option<u16>,
    pub message: Option<String>,
}

/// An owned control message.
///
/// `avps` holds every AVP after the Message Type AVP, in wire order
/// (the Message Type itself lives in `msg_type`; `None` = ZLB).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Message {
    pub ccid: u32,
    pub ns: u16,
    pub nr: u16,
    pub msg_type: Option<MessageType>,
    pub avps: Vec<AvpOwned>,
}

const MSG_TYPE_AVP_LEN: usize = 8;

fn u16_of(v: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes(v.try_into().ok()?))
}

fn u32_of(v: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(v.try_into().ok()?))
}

fn u64_of(v: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(v.try_into().ok()?))
}

impl Message {
    /// A message of the given type with no AVPs yet (ns = nr = 0; the
    /// reliable-delivery layer fills them in).
    pub fn new(msg_type: MessageType, ccid: u32) -> Message {
        Message {
            ccid,
            ns: 0,
            nr: 0,
            msg_type: Some(msg_type),
            avps: Vec::new(),
        }
    }

    /// A ZLB ACK.
    pub fn zlb(ccid: u32, ns: u16, nr: u16) -> Message {
        Message {
            ccid,
            ns,
            nr,
            msg_type: None,
            avps: Vec::new(),
        }
    }

    /// Whether this is a ZLB ACK (no AVPs at all).
    pub fn is_zlb(&self) -> bool {
        self.msg_type.is_none()
    }

    /// Whether this is an acknowledgement only: a ZLB or an explicit ACK
    /// message (type 20, RFC 3931 §6.15). Neither takes a sequence number
    /// (its `Ns` is the sender's next one), neither is acknowledged.
    pub fn is_ack(&self) -> bool {
        matches!(self.msg_type, None | Some(MessageType::Ack))
    }

    /// Parses a whole control message starting at the flags/version word
    /// (over IP the caller strips the 4 zero session-ID bytes first; over
    /// UDP it is the UDP payload). Checks T = L = S = 1, version 3, the
    /// length field (bytes past it are ignored), that every AVP is well
    /// formed and that the first AVP is a Message Type AVP (M = 1, H = 0,
    /// vendor 0, attribute 0, length 8) unless there are no AVPs (ZLB). A
    /// vendor-9 Message Type AVP first (Cisco's draft-era "Cisco ACK")
    /// parses as an explicit ACK.
    pub fn parse(bytes: &[u8]) -> Result<Message> {
        let p = Packet::new_checked(bytes)?;
        let mut it = AvpIter::new(p.payload());
        let msg_type = match it.next() {
            None => None,
            Some(first) => {
                let first = first?;
                if first.hidden
                    || first.attr != ietf::MESSAGE_TYPE
                    || first.buffer_len() != MSG_TYPE_AVP_LEN
                {
                    return Err(Error);
                }
                match first.vendor {
                    ietf::VENDOR if first.mandatory => {
                        Some(MessageType::from(u16_of(first.value).ok_or(Error)?))
                    }
                    // Cisco's draft-era explicit acknowledgement: a
                    // vendor-9 Message Type AVP ("Cisco ACK" in
                    // Wireshark's packet-l2tp.c).
                    cisco::VENDOR => Some(MessageType::Ack),
                    _ => return Err(Error),
                }
            }
        };
        let avps = it
            .map(|a| a.map(|a| a.to_owned()))
            .collect::<Result<Vec<_>>>()?;
        Ok(Message {
            ccid: p.ccid(),
            ns: p.ns(),
            nr: p.nr(),
            msg_type,
            avps,
        })
    }

    /// Bytes [`Message::emit`] produces.
    pub fn buffer_len(&self) -> usize {
        let mt = if self.msg_type.is_some() {
            MSG_TYPE_AVP_LEN
        } else {
            0
        };
        control::HEADER_LEN + mt + self.avps.iter().map(AvpOwned::buffer_len).sum::<usize>()
    }

    /// Emits the message: header (T = L = S = 1, version 3, length),
    /// Message Type AVP unless ZLB, then `avps` in order. The length field
    /// saturates at 0xffff (a message that long cannot be sent anyway).
    pub fn emit(&self) -> Vec<u8> {
        self.emit_inner(None)
    }

    /// Emits with `extra` placed right after the Message Type AVP.
    pub(crate) fn emit_inner(&self, extra: Option<&AvpOwned>) -> Vec<u8> {
        let mut out = vec![0u8; control::HEADER_LEN];
        if let Some(t) = self.msg_type {
            AvpOwned::new(
                ietf::VENDOR,
                ietf::MESSAGE_TYPE,
                true,
                u16::from(t).to_be_bytes().to_vec(),
            )
            .emit(&mut out);
        }
        if let Some(e) = extra {
            e.emit(&mut out);
        }
        for a in &self.avps {
            a.emit(&mut out);
        }
        let len = u16::try_from(out.len()).unwrap_or(u16::MAX);
        let mut p = Packet::new_unchecked(&mut out[..]);
        p.set_flags_and_version();
        p.set_length(len);
        p.set_ccid(self.ccid);
        p.set_ns(self.ns);
        p.set_nr(self.nr);
        out
    }

    // ---- lookup ----

    /// The first visible (not hidden) AVP with this vendor and attribute.
    pub fn find(&self, vendor: u16, attr: u16) -> Option<&AvpOwned> {
        self.avps
            .iter()
            .find(|a| !a.hidden && a.vendor == vendor && a.attr == attr)
    }

    /// The value of the IETF AVP `attr` or else its Cisco vendor-9 twin
    /// `cisco_attr`, each only if `ok` accepts it.
    fn dual<'a, R>(
        &'a self,
        attr: u16,
        cisco_attr: Option<u16>,
        ok: impl Fn(&'a [u8]) -> Option<R>,
    ) -> Option<R> {
        if let Some(r) = self.find(ietf::VENDOR, attr).and_then(|a| ok(&a.value)) {
            return Some(r);
        }
        let c = cisco_attr?;
        self.find(cisco::VENDOR, c).and_then(|a| ok(&a.value))
    }

    fn ietf_value(&self, attr: u16) -> Option<&[u8]> {
        self.find(ietf::VENDOR, attr).map(|a| &a.value[..])
    }

    // ---- typed accessors ----

    /// Assigned Control Connection ID (IETF 61 / Cisco 1).
    pub fn assigned_ccid(&self) -> Option<u32> {
        self.dual(
            ietf::ASSIGNED_CONTROL_CONNECTION_ID,
            Some(cisco::ASSIGNED_CONNECTION_ID),
            u32_of,
        )
    }

    /// Host Name (IETF 7), raw bytes.
    pub fn host_name(&self) -> Option<&[u8]> {
        self.ietf_value(ietf::HOST_NAME)
    }

    /// Vendor Name (IETF 8), raw bytes.
    pub fn vendor_name(&self) -> Option<&[u8]> {
        self.ietf_value(ietf::VENDOR_NAME)
    }

    /// Router ID (IETF 60).
    pub fn router_id(&self) -> Option<u32> {
        self.ietf_value(ietf::ROUTER_ID).and_then(u32_of)
    }

    /// Receive Window Size (IETF 10).
    pub fn receive_window(&self) -> Option<u16> {
        self.ietf_value(ietf::RECEIVE_WINDOW_SIZE).and_then(u16_of)
    }

    /// Firmware Revision (IETF 6).
    pub fn firmware_revision(&self) -> Option<u16> {
        self.ietf_value(ietf::FIRMWARE_REVISION).and_then(u16_of)
    }

    /// Protocol Version (IETF 2) as (version, revision).
    pub fn protocol_version(&self) -> Option<(u8, u8)> {
        match *self.ietf_value(ietf::PROTOCOL_VERSION)? {
            [v, r] => Some((v, r)),
            _ => None,
        }
    }

    /// Serial Number (IETF 15), 4 bytes.
    pub fn serial_number(&self) -> Option<u32> {
        self.ietf_value(ietf::SERIAL_NUMBER).and_then(u32_of)
    }

    /// Tie Breaker (IETF 5) or Cisco Session Tie Breaker (9), 8 bytes.
    pub fn tie_breaker(&self) -> Option<u64> {
        self.dual(ietf::TIE_BREAKER, Some(cisco::SESSION_TIE_BREAKER), u64_of)
    }

    /// Pseudowire Capabilities List (IETF 62 / Cisco 2); empty if absent.
    /// A trailing odd byte is ignored.
    pub fn pw_capabilities(&self) -> Vec<u16> {
        self.dual(
            ietf::PW_CAPABILITY_LIST,
            Some(cisco::PW_CAPABILITY_LIST),
            |v| {
                Some(
                    v.chunks_exact(2)
                        .map(|c| u16::from_be_bytes([c[0], c[1]]))
                        .collect(),
                )
            },
        )
        .unwrap_or_default()
    }

    /// Local Session ID (IETF 63 / Cisco 3).
    pub fn local_session_id(&self) -> Option<u32> {
        self.dual(
            ietf::LOCAL_SESSION_ID,
            Some(cisco::LOCAL_SESSION_ID),
            u32_of,
        )
    }

    /// Remote Session ID (IETF 64 / Cisco 4).
    pub fn remote_session_id(&self) -> Option<u32> {
        self.dual(
            ietf::REMOTE_SESSION_ID,
            Some(cisco::REMOTE_SESSION_ID),
            u32_of,
        )
    }

    /// Assigned Cookie (IETF 65 / Cisco 5), 0, 4 or 8 bytes.
    pub fn assigned_cookie(&self) -> Option<Vec<u8>> {
        self.dual(ietf::ASSIGNED_COOKIE, Some(cisco::ASSIGNED_COOKIE), |v| {
            matches!(v.len(), 0 | 4 | 8).then(|| v.to_vec())
        })
    }

    /// The Assigned Cookie AVP's value whatever its length (IETF 65 /
    /// Cisco 5), to tell "none" from "malformed".
    pub fn assigned_cookie_raw(&self) -> Option<&[u8]> {
        self.dual(ietf::ASSIGNED_COOKIE, Some(cisco::ASSIGNED_COOKIE), Some)
    }

    /// Remote End ID (IETF 66 / Cisco 6), raw bytes.
    pub fn remote_end_id(&self) -> Option<&[u8]> {
        self.dual(ietf::REMOTE_END_ID, Some(cisco::REMOTE_END_ID), Some)
    }

    /// Pseudowire Type (IETF 68 / Cisco 7).
    pub fn pw_type(&self) -> Option<u16> {
        self.dual(ietf::PW_TYPE, Some(cisco::PW_TYPE), u16_of)
    }

    /// L2-Specific Sublayer (IETF 69): 0 none, 1 default.
    pub fn l2_specific_sublayer(&self) -> Option<u16> {
        self.ietf_value(ietf::L2_SPECIFIC_SUBLAYER).and_then(u16_of)
    }

    /// Data Sequencing (IETF 70): 0 none, 1 non-IP, 2 all.
    pub fn data_sequencing(&self) -> Option<u16> {
        self.ietf_value(ietf::DATA_SEQUENCING).and_then(u16_of)
    }

    /// Circuit Status (IETF 71 / Cisco 8) as (active, new): A is bit
    /// 0x0001, N is bit 0x0002.
    pub fn circuit_status(&self) -> Option<(bool, bool)> {
        self.dual(ietf::CIRCUIT_STATUS, Some(cisco::CIRCUIT_STATUS), |v| {
            u16_of(v).map(|s| (s & 1 != 0, s & 2 != 0))
        })
    }

    /// Result Code (IETF 1): result, optional error, optional message.
    pub fn result_code(&self) -> Option<ResultCode> {
        let v = self.ietf_value(ietf::RESULT_CODE)?;
        let result = u16_of(v.get(..2)?)?;
        let error = v.get(2..4).and_then(u16_of);
        let message = v
            .get(4..)
            .filter(|m| !m.is_empty())
            .map(|m| String::from_utf8_lossy(m).into_owned());
        Some(ResultCode {
            result,
            error,
            message,
        })
    }

    /// Message Digest (IETF 59 / Cisco 12) as (digest type, digest).
    pub fn message_digest(&self) -> Option<(u8, &[u8])> {
        self.dual(ietf::MESSAGE_DIGEST, Some(cisco::MESSAGE_DIGEST), |v| {
            v.split_first().map(|(t, d)| (*t, d))
        })
    }

    /// Control Message Authentication Nonce (IETF 73 / Cisco 13).
    pub fn nonce(&self) -> Option<&[u8]> {
        self.dual(
            ietf::CONTROL_MESSAGE_AUTH_NONCE,
            Some(cisco::AUTH_NONCE),
            Some,
        )
    }

    /// Random Vector (IETF 36), the first one in the message.
    pub fn random_vector(&self) -> Option<&[u8]> {
        self.ietf_value(ietf::RANDOM_VECTOR)
    }

    /// Challenge (IETF 11).
    pub fn challenge(&self) -> Option<&[u8]> {
        self.ietf_value(ietf::CHALLENGE)
    }

    /// Challenge Response (IETF 13), 16 bytes.
    pub fn challenge_response(&self) -> Option<&[u8]> {
        self.ietf_value(ietf::CHALLENGE_RESPONSE)
            .filter(|v| v.len() == 16)
    }

    /// Whether the message carries any vendor-9 AVP (a Cisco peer in its
    /// default mode; answer in [`Flavour::CiscoDual`]).
    pub fn has_cisco_avps(&self) -> bool {
        self.avps.iter().any(|a| a.vendor == cisco::VENDOR)
    }

    /// The first AVP with M = 1 that we do not know, as (vendor, attr).
    /// Such an AVP must tear the session or control connection down
    /// (RFC 3931 §5.2); unknown AVPs with M = 0 are ignored.
    pub fn unknown_mandatory(&self) -> Option<(u16, u16)> {
        self.avps
            .iter()
            .find(|a| {
                a.mandatory
                    && match a.vendor {
                        ietf::VENDOR => !ietf::is_known(a.attr),
                        cisco::VENDOR => !cisco::is_known(a.attr),
                        _ => true,
                    }
            })
            .map(|a| (a.vendor, a.attr))
    }

    // ---- builders ----

    /// Appends an AVP (chainable).
    pub fn avp(mut self, a: AvpOwned) -> Message {
        self.avps.push(a);
        self
    }

    /// Appends an AVP with a raw value (cut at [`avp::MAX_VALUE_LEN`]).
    pub fn avp_bytes(self, vendor: u16, attr: u16, mandatory: bool, v: &[u8]) -> Message {
        let v = &v[..v.len().min(avp::MAX_VALUE_LEN)];
        self.avp(AvpOwned::new(vendor, attr, mandatory, v.to_vec()))
    }

    pub fn avp_u16(self, vendor: u16, attr: u16, mandatory: bool, v: u16) -> Message {
        self.avp_bytes(vendor, attr, mandatory, &v.to_be_bytes())
    }

    pub fn avp_u32(self, vendor: u16, attr: u16, mandatory: bool, v: u32) -> Message {
        self.avp_bytes(vendor, attr, mandatory, &v.to_be_bytes())
    }

    pub fn avp_u64(self, vendor: u16, attr: u16, mandatory: bool, v: u64) -> Message {
        self.avp_bytes(vendor, attr, mandatory, &v.to_be_bytes())
    }

    /// An IETF AVP with the M bit RFC 3931 §5.4 asks of its sender
    /// ([`ietf::rfc_m_bit`]) in the IETF form. In the Cisco dual form
    /// the AVPs that RFC 3931 introduced (58..=76) go with M = 0, as IOS
    /// sends them (pyl2tpv3as's captured SCCRQ): a draft-era peer may not
    /// recognise them, and M = 1 would oblige it to tear down (§5.2).
    pub fn ietf_avp(self, flavour: Flavour, attr: u16, v: &[u8]) -> Message {
        let m = match flavour {
            Flavour::CiscoDual if (58..=76).contains(&attr) => false,
            _ => ietf::rfc_m_bit(attr),
        };
        self.avp_bytes(ietf::VENDOR, attr, m, v)
    }

    /// An attribute that exists in both numberings: the IETF AVP alone
    /// or, in [`Flavour::CiscoDual`], the IETF AVP with M = 0 followed by
    /// the vendor-9 twin with M = 1.
    fn dual_bytes(self, flavour: Flavour, attr: u16, v: &[u8]) -> Message {
        match (flavour, cisco::from_ietf(attr)) {
            (Flavour::CiscoDual, Some(c)) => self
                .avp_bytes(ietf::VENDOR, attr, false, v)
                .avp_bytes(cisco::VENDOR, c, true, v),
            _ => self.ietf_avp(flavour, attr, v),
        }
    }

    /// Serial Number (IETF 15), MUST in ICRQ: M = 0 in the IETF form
    /// (RFC 3931 §5.4.4 "SHOULD be set to 0"), M = 1 in Cisco's dual form
    /// as its L2TPv2 ancestor required (RFC 2661 §4.4.5) and as IOS sends
    /// it; §5.4.4 allows either ("MAY vary").
    pub fn with_serial_number(self, flavour: Flavour, serial: u32) -> Message {
        let m = flavour == Flavour::CiscoDual;
        self.avp_bytes(ietf::VENDOR, ietf::SERIAL_NUMBER, m, &serial.to_be_bytes())
    }

    pub fn with_assigned_ccid(self, flavour: Flavour, id: u32) -> Message {
        self.dual_bytes(
            flavour,
            ietf::ASSIGNED_CONTROL_CONNECTION_ID,
            &id.to_be_bytes(),
        )
    }

    pub fn with_pw_capabilities(self, flavour: Flavour, types: &[u16]) -> Message {
        let v: Vec<u8> = types.iter().flat_map(|t| t.to_be_bytes()).collect();
        self.dual_bytes(flavour, ietf::PW_CAPABILITY_LIST, &v)
    }

    pub fn with_local_session_id(self, flavour: Flavour, id: u32) -> Message {
        self.dual_bytes(flavour, ietf::LOCAL_SESSION_ID, &id.to_be_bytes())
    }

    pub fn with_remote_session_id(self, flavour: Flavour, id: u32) -> Message {
        self.dual_bytes(flavour, ietf::REMOTE_SESSION_ID, &id.to_be_bytes())
    }

    pub fn with_assigned_cookie(self, flavour: Flavour, cookie: &[u8]) -> Message {
        self.dual_bytes(flavour, ietf::ASSIGNED_COOKIE, cookie)
    }

    pub fn with_remote_end_id(self, flavour: Flavour, id: &[u8]) -> Message {
        self.dual_bytes(flavour, ietf::REMOTE_END_ID, id)
    }

    pub fn with_pw_type(self, flavour: Flavour, t: u16) -> Message {
        self.dual_bytes(flavour, ietf::PW_TYPE, &t.to_be_bytes())
    }

    pub fn with_circuit_status(self, flavour: Flavour, active: bool, new: bool) -> Message {
        let v = u16::from(active) | (u16::from(new) << 1);
        self.dual_bytes(flavour, ietf::CIRCUIT_STATUS, &v.to_be_bytes())
    }

    /// Tie Breaker (IETF 5, M = 0) in SCCRQ/ICRQ; in `CiscoDual` also the
    /// Cisco Session Tie Breaker (9, M = 1), meant for ICRQ.
    pub fn with_tie_breaker(self, flavour: Flavour, v: u64) -> Message {
        let m = self.avp_u64(ietf::VENDOR, ietf::TIE_BREAKER, false, v);
        match flavour {
            Flavour::Ietf => m,
            Flavour::CiscoDual => m.avp_u64(cisco::VENDOR, cisco::SESSION_TIE_BREAKER, true, v),
        }
    }

    /// Control Message Authentication Nonce (IETF 73, M = 1).
    pub fn with_nonce(self, flavour: Flavour, nonce: &[u8]) -> Message {
        self.ietf_avp(flavour, ietf::CONTROL_MESSAGE_AUTH_NONCE, nonce)
    }

    pub fn with_host_name(self, name: &[u8]) -> Message {
        self.avp_bytes(ietf::VENDOR, ietf::HOST_NAME, true, name)
    }

    pub fn with_vendor_name(self, name: &[u8]) -> Message {
        self.avp_bytes(ietf::VENDOR, ietf::VENDOR_NAME, false, name)
    }

    pub fn with_firmware_revision(self, rev: u16) -> Message {
        self.avp_u16(ietf::VENDOR, ietf::FIRMWARE_REVISION, false, rev)
    }

    pub fn with_router_id(self, flavour: Flavour, id: u32) -> Message {
        self.ietf_avp(flavour, ietf::ROUTER_ID, &id.to_be_bytes())
    }

    pub fn with_receive_window(self, rws: u16) -> Message {
        self.avp_u16(ietf::VENDOR, ietf::RECEIVE_WINDOW_SIZE, true, rws)
    }

    /// Protocol Version (IETF 2), version 1 revision 0 in L2TPv3.
    pub fn with_protocol_version(self, ver: u8, rev: u8) -> Message {
        self.avp_bytes(ietf::VENDOR, ietf::PROTOCOL_VERSION, true, &[ver, rev])
    }

    pub fn with_l2_specific_sublayer(self, flavour: Flavour, v: u16) -> Message {
        self.ietf_avp(flavour, ietf::L2_SPECIFIC_SUBLAYER, &v.to_be_bytes())
    }

    pub fn with_data_sequencing(self, flavour: Flavour, v: u16) -> Message {
        self.ietf_avp(flavour, ietf::DATA_SEQUENCING, &v.to_be_bytes())
    }

    /// Result Code (IETF 1, M = 1). The error code is written when given
    /// or when a message is given (as 0).
    pub fn with_result_code(self, result: u16, error: Option<u16>, msg: Option<&str>) -> Message {
        let mut v = result.to_be_bytes().to_vec();
        if error.is_some() || msg.is_some() {
            v.extend_from_slice(&error.unwrap_or(0).to_be_bytes());
        }
        if let Some(m) = msg {
            v.extend_from_slice(m.as_bytes());
        }
        self.avp_bytes(ietf::VENDOR, ietf::RESULT_CODE, true, &v)
    }

    pub fn with_random_vector(self, rv: &[u8]) -> Message {
        self.avp_bytes(ietf::VENDOR, ietf::RANDOM_VECTOR, true, rv)
    }

    pub fn with_challenge(self, c: &[u8]) -> Message {
        self.avp_bytes(ietf::VENDOR, ietf::CHALLENGE, true, c)
    }

    pub fn with_challenge_response(self, r: &[u8; 16]) -> Message {
        self.avp_bytes(ietf::VENDOR, ietf::CHALLENGE_RESPONSE, true, r)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    /// A Cisco default-mode SCCRQ in the shape IOS sends (RFC 3931 AVPs
    /// with M = 0, vendor-9 copies with M = 1), shortened: ccid 0, ns 0,
    /// nr 0. The real capture is [`CISCO_IOS_SCCRQ`].
    static SCCRQ: [u8; 105] = [
        0xc8, 0x03, 0x00, 0x69, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //
        0x80, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, // Message Type SCCRQ
        0x80, 0x08, 0x00, 0x00, 0x00, 0x02, 0x01, 0x00, // Protocol Version 1.0
        0x80, 0x0b, 0x00, 0x00, 0x00, 0x07, b'p', b'e', b'1', b'-', b'a', // Host Name
        0x00, 0x0a, 0x00, 0x00, 0x00, 0x3c, 0x0a, 0x00, 0x00, 0x01, // Router ID, M=0
        0x80, 0x08, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x08, // RWS 8
        0x00, 0x0a, 0x00, 0x00, 0x00, 0x3d, 0x12, 0x34, 0x56, 0x78, // IETF CCID, M=0
        0x80, 0x0a, 0x00, 0x09, 0x00, 0x01, 0x12, 0x34, 0x56, 0x78, // Cisco CCID, M=1
        0x00, 0x0a, 0x00, 0x00, 0x00, 0x3e, 0x00, 0x05, 0x00, 0x04, // IETF PW caps
        0x80, 0x0a, 0x00, 0x09, 0x00, 0x02, 0x00, 0x05, 0x00, 0x04, // Cisco PW caps
        0x80, 0x08, 0x00, 0x09, 0x00, 0x0a, 0x00, 0x01, // Cisco draft AVP version 1
    ];

    fn sccrq() -> Message {
        Message::new(MessageType::Sccrq, 0)
            .with_protocol_version(1, 0)
            .with_host_name(b"pe1-a")
            .with_router_id(Flavour::CiscoDual, 0x0a00_0001)
            .with_receive_window(8)
            .with_assigned_ccid(Flavour::CiscoDual, 0x1234_5678)
            .with_pw_capabilities(Flavour::CiscoDual, &[5, 4])
            .avp_u16(cisco::VENDOR, cisco::DRAFT_AVP_VERSION, true, 1)
    }

    #[test]
    fn test_sccrq_emit() {
        let m = sccrq();
        assert_eq!(m.buffer_len(), SCCRQ.len());
        assert_eq!(m.emit(), SCCRQ);
    }

    #[test]
    fn test_sccrq_parse() {
        let m = Message::parse(&SCCRQ).unwrap();
        assert_eq!(m, sccrq());
        assert_eq!(m.msg_type, Some(MessageType::Sccrq));
        assert_eq!(m.protocol_version(), Some((1, 0)));
        assert_eq!(m.host_name(), Some(&b"pe1-a"[..]));
        assert_eq!(m.router_id(), Some(0x0a00_0001));
        assert_eq!(m.receive_window(), Some(8));
        assert_eq!(m.assigned_ccid(), Some(0x1234_5678));
        assert_eq!(m.pw_capabilities(), vec![5, 4]);
        assert!(m.has_cisco_avps());
        assert_eq!(m.unknown_mandatory(), None);
        assert_eq!(m.tie_breaker(), None);
        assert!(!m.is_zlb());
        // Trailing bytes after the length field are ignored.
        let mut long = SCCRQ.to_vec();
        long.extend_from_slice(&[0xa5; 7]);
        assert_eq!(Message::parse(&long), Ok(sccrq()));
    }

    /// A real Cisco IOS SCCRQ (L2TPv3 over IP, default `protocol
    /// l2tpv3`, no authentication; host "ar1.bru1", "Cisco Systems,
    /// Inc."), byte for byte from the original Python LAS project:
    /// github.com/cdevr/pyl2tpv3as, test.py, `testDecodeSCCRQ`. It
    /// starts with the 4 zero bytes of the session ID over IP.
    const CISCO_IOS_SCCRQ: &str = "00000000c80300d90000000000000000\
        80080000000000018008000000020100800a0000000300000000000e000000053c\
        1a508b77f271de0008000000061130800e000000076172312e6272753100190000\
        0008436973636f2053797374656d732c20496e632e80080000000a040000060000\
        0038000600000039000a0000003c5e8ca002000a0000003da6ef07760018000000\
        3e000500040006000700010003000a0009000b800a00090001a6ef077680180009\
        0002000500040006000700010003000a0009000b80080009000a00010006000900\
        6e00060009006f";

    pub(crate) fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// What the real IOS SCCRQ carries, and that nothing in it is an
    /// unknown mandatory AVP: Protocol Version (2) and Framing
    /// Capabilities (3) come with M = 1 (L2TPv2 AVPs, registered, so
    /// recognised), 9/110 and 9/111 with M = 0.
    #[test]
    fn test_real_cisco_ios_sccrq() {
        let b = unhex(CISCO_IOS_SCCRQ);
        assert_eq!(b.len(), 221);
        assert_eq!(&b[..4], [0, 0, 0, 0]);
        let m = Message::parse(&b[4..]).unwrap();
        assert_eq!(m.msg_type, Some(MessageType::Sccrq));
        assert_eq!((m.ccid, m.ns, m.nr), (0, 0, 0));
        assert_eq!(m.host_name(), Some(&b"ar1.bru1"[..]));
        assert_eq!(m.vendor_name(), Some(&b"Cisco Systems, Inc."[..]));
        assert_eq!(m.protocol_version(), Some((1, 0)));
        assert_eq!(m.router_id(), Some(0x5e8c_a002));
        assert_eq!(m.receive_window(), Some(1024));
        assert_eq!(m.assigned_ccid(), Some(0xa6ef_0776));
        assert_eq!(m.pw_capabilities(), vec![5, 4, 6, 7, 1, 3, 10, 9, 11]);
        assert_eq!(m.tie_breaker(), Some(0x3c1a_508b_77f2_71de));
        assert_eq!(m.firmware_revision(), Some(0x1130));
        assert!(m.has_cisco_avps());
        assert_eq!(m.unknown_mandatory(), None);
        assert_eq!(crate::wire::l2tp::rules::first_missing(&m), None);
        // Re-emitted, it is the same bytes.
        assert_eq!(m.emit(), b[4..]);
    }

    #[test]
    fn test_cisco_only_avps() {
        // A peer that sends only the vendor-9 copies is understood too.
        let m = Message::new(MessageType::Icrq, 7)
            .avp_u32(cisco::VENDOR, cisco::ASSIGNED_CONNECTION_ID, true, 99)
            .avp_u32(cisco::VENDOR, cisco::LOCAL_SESSION_ID, true, 1000)
            .avp_u32(cisco::VENDOR, cisco::REMOTE_SESSION_ID, true, 0)
            .avp_u16(cisco::VENDOR, cisco::PW_TYPE, true, 5)
            .avp_u16(cisco::VENDOR, cisco::CIRCUIT_STATUS, true, 3)
            .avp_bytes(cisco::VENDOR, cisco::ASSIGNED_COOKIE, true, &[1, 2, 3, 4])
            .avp_u32(cisco::VENDOR, cisco::REMOTE_END_ID, true, 100)
            .avp_u64(cisco::VENDOR, cisco::SESSION_TIE_BREAKER, true, 42);
        let m = Message::parse(&m.emit()).unwrap();
        assert_eq!(m.assigned_ccid(), Some(99));
        assert_eq!(m.local_session_id(), Some(1000));
        assert_eq!(m.remote_session_id(), Some(0));
        assert_eq!(m.pw_type(), Some(5));
        assert_eq!(m.circuit_status(), Some((true, true)));
        assert_eq!(m.assigned_cookie(), Some(vec![1, 2, 3, 4]));
        assert_eq!(m.remote_end_id(), Some(&[0, 0, 0, 100][..]));
        assert_eq!(m.tie_breaker(), Some(42));
        assert_eq!(m.unknown_mandatory(), None);
    }

    /// IETF-only ICRQ: ccid 0x01020304, ns 1, nr 2.
    static ICRQ: [u8; 76] = [
        0xc8, 0x03, 0x00, 0x4c, 0x01, 0x02, 0x03, 0x04, 0x00, 0x01, 0x00, 0x02, //
        0x80, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, // Message Type ICRQ
        0x80, 0x0a, 0x00, 0x00, 0x00, 0x3f, 0x00, 0x00, 0x10, 0x01, // Local Session ID
        0x80, 0x0a, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, // Remote Session ID 0
        0x80, 0x0a, 0x00, 0x00, 0x00, 0x42, b'1', b'2', b'3', b'4', // Remote End ID
        0x80, 0x08, 0x00, 0x00, 0x00, 0x44, 0x00, 0x05, // PW Type Ethernet
        0x80, 0x0a, 0x00, 0x00, 0x00, 0x41, 0xde, 0xad, 0xbe, 0xef, // Assigned Cookie
        0x80, 0x08, 0x00, 0x00, 0x00, 0x47, 0x00, 0x03, // Circuit Status A+N
    ];

    fn icrq() -> Message {
        let mut m = Message::new(MessageType::Icrq, 0x0102_0304)
            .with_local_session_id(Flavour::Ietf, 0x1001)
            .with_remote_session_id(Flavour::Ietf, 0)
            .with_remote_end_id(Flavour::Ietf, b"1234")
            .with_pw_type(Flavour::Ietf, pw_type::ETHERNET)
            .with_assigned_cookie(Flavour::Ietf, &[0xde, 0xad, 0xbe, 0xef])
            .with_circuit_status(Flavour::Ietf, true, true);
        m.ns = 1;
        m.nr = 2;
        m
    }

    #[test]
    fn test_icrq() {
        assert_eq!(icrq().emit(), ICRQ);
        let m = Message::parse(&ICRQ).unwrap();
        assert_eq!(m, icrq());
        assert_eq!((m.ccid, m.ns, m.nr), (0x0102_0304, 1, 2));
        assert_eq!(m.local_session_id(), Some(0x1001));
        assert_eq!(m.remote_session_id(), Some(0));
        assert_eq!(m.remote_end_id(), Some(&b"1234"[..]));
        assert_eq!(m.pw_type(), Some(5));
        assert_eq!(m.assigned_cookie(), Some(vec![0xde, 0xad, 0xbe, 0xef]));
        assert_eq!(m.circuit_status(), Some((true, true)));
        assert!(!m.has_cisco_avps());
        assert_eq!(m.assigned_ccid(), None);
        assert_eq!(m.l2_specific_sublayer(), None);
    }

    static ZLB: [u8; 12] = [
        0xc8, 0x03, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x2a, 0x00, 0x05, 0x00, 0x07,
    ];

    #[test]
    fn test_zlb() {
        let m = Message::zlb(42, 5, 7);
        assert_eq!(m.emit(), ZLB);
        let p = Message::parse(&ZLB).unwrap();
        assert_eq!(p, m);
        assert!(p.is_zlb());
        assert!(p.is_ack());
        assert_eq!(p.msg_type, None);
        let ack = Message::parse(&Message::new(MessageType::Ack, 42).emit()).unwrap();
        assert_eq!(ack.msg_type, Some(MessageType::Ack));
        assert!(ack.is_ack() && !ack.is_zlb());
        assert!(!Message::new(MessageType::Hello, 42).is_ack());
    }

    #[test]
    fn test_stopccn_result_code() {
        let m = Message::new(MessageType::StopCcn, 9)
            .with_assigned_ccid(Flavour::Ietf, 1)
            .with_result_code(
                stopccn_result::GENERAL_ERROR,
                Some(error_code::UNKNOWN_MANDATORY_AVP),
                Some("bad avp"),
            );
        let b = m.emit();
        assert_eq!(
            &b[b.len() - 17..],
            [0x80, 0x11, 0, 0, 0, 1, 0, 2, 0, 8, b'b', b'a', b'd', b' ', b'a', b'v', b'p']
        );
        let p = Message::parse(&b).unwrap();
        assert_eq!(
            p.result_code(),
            Some(ResultCode {
                result: 2,
                error: Some(8),
                message: Some("bad avp".into())
            })
        );
        let p = Message::parse(
            &Message::new(MessageType::Cdn, 1)
                .with_result_code(cdn_result::UNSUPPORTED_PW_TYPE, None, None)
                .emit(),
        )
        .unwrap();
        assert_eq!(
            p.result_code(),
            Some(ResultCode {
                result: 14,
                error: None,
                message: None
            })
        );
    }

    #[test]
    fn test_unknown_mandatory() {
        let m = icrq().avp_u16(0, 67, false, 1); // unknown, M = 0: ignored
        assert_eq!(Message::parse(&m.emit()).unwrap().unknown_mandatory(), None);
        let m = m.avp_u16(0, 200, true, 1);
        assert_eq!(
            Message::parse(&m.emit()).unwrap().unknown_mandatory(),
            Some((0, 200))
        );
        let m = icrq().avp_u16(9, 11, true, 1);
        assert_eq!(m.unknown_mandatory(), Some((9, 11)));
        let m = icrq().avp_u16(311, 1, true, 1);
        assert_eq!(m.unknown_mandatory(), Some((311, 1)));
    }

    /// A vendor-9 Message Type AVP first: Cisco's draft-era ACK
    /// (Wireshark's packet-l2tp.c names vendor 9 attribute 0 "Cisco
    /// ACK"): an acknowledgement.
    #[test]
    fn test_cisco_ack() {
        let mut b = ICRQ;
        b[15] = 9;
        let m = Message::parse(&b).unwrap();
        assert_eq!(m.msg_type, Some(MessageType::Ack));
        assert!(m.is_ack());
    }

    #[test]
    fn test_serial_number() {
        let m = icrq().with_serial_number(Flavour::Ietf, 0x0102_0304);
        let b = m.emit();
        // M = 0 (RFC 3931 §5.4.4), length 10, attribute 15.
        assert_eq!(&b[b.len() - 10..], [0, 10, 0, 0, 0, 15, 1, 2, 3, 4]);
        assert_eq!(
            Message::parse(&b).unwrap().serial_number(),
            Some(0x0102_0304)
        );
    }

    #[test]
    fn test_msg_type_roundtrip() {
        for v in 0..32u16 {
            assert_eq!(u16::from(MessageType::from(v)), v);
        }
        assert_eq!(MessageType::from(5), MessageType::Unknown(5));
        let m = Message::parse(&Message::new(MessageType::Unknown(99), 1).emit()).unwrap();
        assert_eq!(m.msg_type, Some(MessageType::Unknown(99)));
    }

    #[test]
    fn test_malformed() {
        assert_eq!(Message::parse(&[]), Err(Error));
        for len in 0..ICRQ.len() {
            assert_eq!(Message::parse(&ICRQ[..len]), Err(Error), "{len}");
        }
        // Length field past the buffer.
        let mut b = ICRQ;
        b[3] += 1;
        assert_eq!(Message::parse(&b), Err(Error));
        // Wrong version, T bit clear, L bit clear, S bit clear.
        for (i, mask) in [(1usize, 0x01u8), (0, 0x80), (0, 0x40), (0, 0x08)] {
            let mut b = ICRQ;
            b[i] ^= mask;
            assert_eq!(Message::parse(&b), Err(Error), "{i} {mask:#x}");
        }
        // AVP length < 6.
        let mut b = ICRQ;
        b[21] = 5;
        assert_eq!(Message::parse(&b), Err(Error));
        // Last AVP overflows the length field (but not the buffer).
        let mut b = ICRQ.to_vec();
        b[69] = 9;
        b.push(0);
        assert_eq!(Message::parse(&b), Err(Error));
        // Length field cuts an AVP short.
        let mut b = ICRQ;
        b[3] -= 1;
        assert_eq!(Message::parse(&b), Err(Error));
    }

    #[test]
    fn test_first_avp_not_message_type() {
        let bad = |f: &dyn Fn(&mut [u8; 76])| {
            let mut b = ICRQ;
            f(&mut b);
            assert_eq!(Message::parse(&b), Err(Error));
        };
        bad(&|b| b[12] = 0x00); // M = 0
        bad(&|b| b[12] = 0xc0); // H = 1
        bad(&|b| b[15] = 7); // vendor 7
        bad(&|b| b[17] = 63); // another attribute
                              // Swap the first two AVPs: Local Session ID comes first.
        let mut b = ICRQ;
        b[12..30].copy_from_slice(&[&ICRQ[20..30], &ICRQ[12..20]].concat());
        assert_eq!(Message::parse(&b), Err(Error));
        // A Message Type AVP of length 10.
        let m = Message {
            msg_type: None,
            ..Message::zlb(1, 0, 0)
        }
        .avp_u32(0, 0, true, 1);
        assert_eq!(Message::parse(&m.emit()), Err(Error));
    }

    #[test]
    fn test_no_panic_on_random_input() {
        use crate::wire::l2tp::auth;
        let mut next = crate::testing::xorshift(0x9e37_79b9_7f4a_7c15);
        let mut rnd = || next() as u8;
        for round in 0..20_000 {
            let len = usize::from(rnd()) % 80;
            let mut b: Vec<u8> = (0..len).map(|_| rnd()).collect();
            // Mostly plausible headers and a Message Type AVP.
            if round % 4 != 0 && len >= 20 {
                b[..4].copy_from_slice(&[0xc8, 0x03, 0, len as u8 - (rnd() % 4)]);
                b[12..18].copy_from_slice(&[0x80, 0x08, 0, 0, 0, 0]);
                if round % 3 == 0 && len >= 22 {
                    b[20] &= 0xc0;
                    b[21] %= 24;
                }
            }
            let _ = avp::AvpIter::new(&b).count();
            let _ = auth::verify_digest(&b, b"k", b"a", b"b");
            for m in [Message::parse(&b), Message::parse_with_secret(&b, b"k")]
                .into_iter()
                .flatten()
            {
                let _ = (m.assigned_ccid(), m.host_name(), m.router_id());
                let _ = (m.receive_window(), m.tie_breaker(), m.pw_capabilities());
                let _ = (
                    m.local_session_id(),
                    m.remote_session_id(),
                    m.assigned_cookie(),
                );
                let _ = (m.remote_end_id(), m.pw_type(), m.l2_specific_sublayer());
                let _ = (m.data_sequencing(), m.circuit_status(), m.result_code());
                let _ = (m.message_digest(), m.nonce(), m.random_vector());
                let _ = (m.challenge(), m.challenge_response(), m.protocol_version());
                let _ = (
                    m.has_cisco_avps(),
                    m.unknown_mandatory(),
                    m.firmware_revision(),
                );
                assert_eq!(Message::parse(&m.emit()).as_ref(), Ok(&m));
            }
        }
    }
}
