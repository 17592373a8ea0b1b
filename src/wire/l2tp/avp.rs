//! L2TPv3 Attribute Value Pairs (RFC 3931 §5.1).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |M|H| rsvd  |      Length       |           Vendor ID           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         Attribute Type        |        Attribute Value ...
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The 10-bit length counts the 6-byte header. [`Avp`] is the view of one
//! AVP, [`AvpIter`] walks the AVPs of a message and stops at the first
//! malformed one (the smoltcp option-iterator model).

use crate::wire::{Error, Result};

/// Length of the AVP header (flags/length, vendor ID, attribute type).
pub const HEADER_LEN: usize = 6;
/// Largest AVP (the length field has 10 bits).
pub const MAX_LEN: usize = 0x3ff;
/// Largest attribute value.
pub const MAX_VALUE_LEN: usize = MAX_LEN - HEADER_LEN;

/// The Mandatory bit.
pub const FLAG_M: u16 = 0x8000;
/// The Hidden bit.
pub const FLAG_H: u16 = 0x4000;
const LEN_MASK: u16 = 0x03ff;

/// IETF attribute types (vendor ID 0), RFC 3931 §5.4 and the IANA
/// registry ([`ietf::NAMES`] lists every registered one).
pub mod ietf {
    pub const VENDOR: u16 = 0;
    pub const MESSAGE_TYPE: u16 = 0;
    pub const RESULT_CODE: u16 = 1;
    pub const PROTOCOL_VERSION: u16 = 2;
    pub const FRAMING_CAPABILITIES: u16 = 3;
    pub const BEARER_CAPABILITIES: u16 = 4;
    pub const TIE_BREAKER: u16 = 5;
    pub const FIRMWARE_REVISION: u16 = 6;
    pub const HOST_NAME: u16 = 7;
    pub const VENDOR_NAME: u16 = 8;
    pub const RECEIVE_WINDOW_SIZE: u16 = 10;
    pub const CHALLENGE: u16 = 11;
    pub const CAUSE_CODE: u16 = 12;
    pub const CHALLENGE_RESPONSE: u16 = 13;
    /// Serial Number (RFC 2661's Call Serial Number), MUST in ICRQ/OCRQ.
    pub const SERIAL_NUMBER: u16 = 15;
    pub const PHYSICAL_CHANNEL_ID: u16 = 25;
    /// Circuit Errors (RFC 2661's Call Errors), WEN only.
    pub const CIRCUIT_ERRORS: u16 = 34;
    pub const RANDOM_VECTOR: u16 = 36;
    pub const EXTENDED_VENDOR_ID: u16 = 58;
    pub const MESSAGE_DIGEST: u16 = 59;
    pub const ROUTER_ID: u16 = 60;
    pub const ASSIGNED_CONTROL_CONNECTION_ID: u16 = 61;
    pub const PW_CAPABILITY_LIST: u16 = 62;
    pub const LOCAL_SESSION_ID: u16 = 63;
    pub const REMOTE_SESSION_ID: u16 = 64;
    pub const ASSIGNED_COOKIE: u16 = 65;
    pub const REMOTE_END_ID: u16 = 66;
    pub const PW_TYPE: u16 = 68;
    pub const L2_SPECIFIC_SUBLAYER: u16 = 69;
    pub const DATA_SEQUENCING: u16 = 70;
    pub const CIRCUIT_STATUS: u16 = 71;
    pub const PREFERRED_LANGUAGE: u16 = 72;
    pub const CONTROL_MESSAGE_AUTH_NONCE: u16 = 73;
    pub const TX_CONNECT_SPEED: u16 = 74;
    pub const RX_CONNECT_SPEED: u16 = 75;
    pub const FAILOVER_CAPABILITY: u16 = 76;
    /// Interface Maximum Transmission Unit (RFC 4667).
    pub const INTERFACE_MTU: u16 = 91;

    /// Every attribute of the IANA "L2TP Control Message Attribute
    /// Value Pairs" registry, by number, with its name and defining RFC
    /// (index = attribute type). Sources: RFC 3931 §10.1, the IANA
    /// registry as Wireshark's `packet-l2tp.c` (`avp_type_vals`) and
    /// freeRtr's `packL2tp.java` list it. 20 is reserved; 67 is listed by
    /// those tables but by no RFC we could read: still registered, so
    /// recognised.
    pub const NAMES: [(&str, &str); 104] = [
        ("Message Type", "RFC 3931"),
        ("Result Code", "RFC 3931"),
        ("Protocol Version", "RFC 2661"),
        ("Framing Capabilities", "RFC 2661"),
        ("Bearer Capabilities", "RFC 2661"),
        ("Tie Breaker", "RFC 3931"),
        ("Firmware Revision", "RFC 2661"),
        ("Host Name", "RFC 3931"),
        ("Vendor Name", "RFC 3931"),
        ("Assigned Tunnel ID", "RFC 2661"),
        ("Receive Window Size", "RFC 3931"),
        ("Challenge", "RFC 2661"),
        ("Q.931 Cause Code", "RFC 2661"),
        ("Challenge Response", "RFC 2661"),
        ("Assigned Session ID", "RFC 2661"),
        ("Serial Number", "RFC 3931"),
        ("Minimum BPS", "RFC 2661"),
        ("Maximum BPS", "RFC 2661"),
        ("Bearer Type", "RFC 2661"),
        ("Framing Type", "RFC 2661"),
        ("Reserved", "RFC 2661"),
        ("Called Number", "RFC 2661"),
        ("Calling Number", "RFC 2661"),
        ("Sub-Address", "RFC 2661"),
        ("Connect Speed", "RFC 2661"),
        ("Physical Channel ID", "RFC 3931"),
        ("Initial Received LCP CONFREQ", "RFC 2661"),
        ("Last Sent LCP CONFREQ", "RFC 2661"),
        ("Last Received LCP CONFREQ", "RFC 2661"),
        ("Proxy Authen Type", "RFC 2661"),
        ("Proxy Authen Name", "RFC 2661"),
        ("Proxy Authen Challenge", "RFC 2661"),
        ("Proxy Authen ID", "RFC 2661"),
        ("Proxy Authen Response", "RFC 2661"),
        ("Circuit Errors", "RFC 3931"),
        ("ACCM", "RFC 2661"),
        ("Random Vector", "RFC 3931"),
        ("Private Group ID", "RFC 2661"),
        ("Rx Connect Speed", "RFC 2661"),
        ("Sequencing Required", "RFC 2661"),
        ("Rx Minimum BPS", "RFC 3301"),
        ("Rx Maximum BPS", "RFC 3301"),
        ("Service Category", "RFC 3301"),
        ("Service Name", "RFC 3301"),
        ("Calling Sub-Address", "RFC 3301"),
        ("VPI/VCI Identifier", "RFC 3301"),
        ("PPP Disconnect Cause Code", "RFC 3145"),
        ("CCDS", "RFC 3308"),
        ("SDS", "RFC 3308"),
        ("LCP Want Options", "RFC 3437"),
        ("LCP Allow Options", "RFC 3437"),
        ("LNS Last Sent LCP Confreq", "RFC 3437"),
        ("LNS Last Received LCP Confreq", "RFC 3437"),
        ("Modem On-Hold Capable", "RFC 3573"),
        ("Modem On-Hold Status", "RFC 3573"),
        ("PPPoE Relay", "RFC 3817"),
        ("PPPoE Relay Response Capability", "RFC 3817"),
        ("PPPoE Relay Forward Capability", "RFC 3817"),
        ("Extended Vendor ID", "RFC 3931"),
        ("Message Digest", "RFC 3931"),
        ("Router ID", "RFC 3931"),
        ("Assigned Control Connection ID", "RFC 3931"),
        ("Pseudowire Capabilities List", "RFC 3931"),
        ("Local Session ID", "RFC 3931"),
        ("Remote Session ID", "RFC 3931"),
        ("Assigned Cookie", "RFC 3931"),
        ("Remote End ID", "RFC 3931"),
        ("Application Code", "IANA"),
        ("Pseudowire Type", "RFC 3931"),
        ("L2-Specific Sublayer", "RFC 3931"),
        ("Data Sequencing", "RFC 3931"),
        ("Circuit Status", "RFC 3931"),
        ("Preferred Language", "RFC 3931"),
        ("Control Message Authentication Nonce", "RFC 3931"),
        ("Tx Connect Speed", "RFC 3931"),
        ("Rx Connect Speed", "RFC 3931"),
        ("Failover Capability", "RFC 4951"),
        ("Tunnel Recovery", "RFC 4951"),
        ("Suggested Control Sequence", "RFC 4951"),
        ("Failover Session State", "RFC 4951"),
        ("Multicast Capability", "RFC 4045"),
        ("New Outgoing Sessions", "RFC 4045"),
        ("New Outgoing Sessions Acknowledgement", "RFC 4045"),
        ("Withdraw Outgoing Sessions", "RFC 4045"),
        ("Multicast Packets Priority", "RFC 4045"),
        ("Frame-Relay Header Length", "RFC 4591"),
        ("ATM Maximum Concatenated Cells", "RFC 4454"),
        ("OAM Emulation Required", "RFC 4454"),
        ("ATM Alarm Status", "RFC 4454"),
        ("Attachment Group Identifier", "RFC 4667"),
        ("Local End Identifier", "RFC 4667"),
        ("Interface Maximum Transmission Unit", "RFC 4667"),
        ("FCS Retention", "RFC 4720"),
        (
            "Tunnel Switching Aggregator ID",
            "draft-ietf-l2tpext-tunnel-switching",
        ),
        ("Maximum Receive Unit", "RFC 4623"),
        ("Maximum Reassembled Receive Unit", "RFC 4623"),
        ("VCCV Capability", "RFC 5085"),
        ("Connect Speed Update", "RFC 5515"),
        ("Connect Speed Update Enable", "RFC 5515"),
        ("TDM Pseudowire", "RFC 5611"),
        ("RTP", "RFC 5611"),
        ("PW Switching Point", "RFC 6073"),
        ("S-BFD Target Discriminator ID", "RFC 7886"),
        ("ECN Capability", "RFC 9601"),
    ];

    /// Whether the attribute is registered, and so recognised: its M bit
    /// never tears anything down (RFC 3931 §5.2: "if the AVP is
    /// recognized ... the M bit is of no consequence"). Most of them las
    /// ignores (L2TPv2's PPP and bearer AVPs, RFC 4045 multicast, ...).
    pub const fn is_known(attr: u16) -> bool {
        (attr as usize) < NAMES.len()
    }

    /// The registered name, if any.
    pub fn name(attr: u16) -> Option<&'static str> {
        NAMES.get(usize::from(attr)).map(|(n, _)| *n)
    }

    /// The M bit RFC 3931 §5.4 says the sender SHOULD set (or MUST, for
    /// the Message Type): 0 for Vendor Name, Preferred Language, Serial
    /// Number, Tx/Rx Connect Speed, Physical Channel ID, Circuit Errors,
    /// Extended Vendor ID and the optional L2TPv2-era AVPs (Firmware
    /// Revision, Tie Breaker in its v2 SCCRQ use); 1 for the rest.
    pub const fn rfc_m_bit(attr: u16) -> bool {
        !matches!(
            attr,
            FIRMWARE_REVISION
                | VENDOR_NAME
                | SERIAL_NUMBER
                | PHYSICAL_CHANNEL_ID
                | CIRCUIT_ERRORS
                | EXTENDED_VENDOR_ID
                | PREFERRED_LANGUAGE
                | TX_CONNECT_SPEED
                | RX_CONNECT_SPEED
        )
    }
}

/// Cisco attribute types (vendor ID 9) from the pre-RFC L2TPv3 drafts,
/// still sent by IOS in its default mode (`protocol l2tpv3`; `protocol
/// l2tpv3ietf` sends the IETF AVPs only). Names as Wireshark's
/// `packet-l2tp.c` (`cisco_avp_type_vals`) gives them.
pub mod cisco {
    pub const VENDOR: u16 = 9;
    /// A vendor-9 Message Type AVP: Wireshark names it "Cisco ACK". Seen
    /// as the first AVP it is an explicit acknowledgement.
    pub const ACK: u16 = 0;
    pub const ASSIGNED_CONNECTION_ID: u16 = 1;
    pub const PW_CAPABILITY_LIST: u16 = 2;
    pub const LOCAL_SESSION_ID: u16 = 3;
    pub const REMOTE_SESSION_ID: u16 = 4;
    pub const ASSIGNED_COOKIE: u16 = 5;
    pub const REMOTE_END_ID: u16 = 6;
    pub const PW_TYPE: u16 = 7;
    pub const CIRCUIT_STATUS: u16 = 8;
    pub const SESSION_TIE_BREAKER: u16 = 9;
    pub const DRAFT_AVP_VERSION: u16 = 10;
    pub const MESSAGE_DIGEST: u16 = 12;
    pub const AUTH_NONCE: u16 = 13;
    pub const INTERFACE_MTU: u16 = 14;

    /// Whether we recognise this Cisco attribute (11 is unassigned;
    /// IOS's SCCRQ also carries 110 and 111, empty and with M = 0, which
    /// nobody documents: unknown, and ignored for their M = 0).
    pub const fn is_known(attr: u16) -> bool {
        matches!(attr, 0..=10 | 12..=14)
    }

    /// The name Wireshark gives the attribute.
    pub fn name(attr: u16) -> Option<&'static str> {
        Some(match attr {
            ACK => "Cisco ACK",
            ASSIGNED_CONNECTION_ID => "Assigned Connection ID",
            PW_CAPABILITY_LIST => "Pseudowire Capabilities List",
            LOCAL_SESSION_ID => "Local Session ID",
            REMOTE_SESSION_ID => "Remote Session ID",
            ASSIGNED_COOKIE => "Assigned Cookie",
            REMOTE_END_ID => "Remote End ID",
            PW_TYPE => "Pseudowire Type",
            CIRCUIT_STATUS => "Circuit Status",
            SESSION_TIE_BREAKER => "Session Tie Breaker",
            DRAFT_AVP_VERSION => "Draft AVP Version",
            MESSAGE_DIGEST => "Message Digest",
            AUTH_NONCE => "Control Message Authentication Nonce",
            INTERFACE_MTU => "Interface MTU",
            _ => return None,
        })
    }

    /// The Cisco attribute that carries the same thing as an IETF one.
    pub const fn from_ietf(ietf_attr: u16) -> Option<u16> {
        use super::ietf;
        Some(match ietf_attr {
            ietf::ASSIGNED_CONTROL_CONNECTION_ID => ASSIGNED_CONNECTION_ID,
            ietf::PW_CAPABILITY_LIST => PW_CAPABILITY_LIST,
            ietf::LOCAL_SESSION_ID => LOCAL_SESSION_ID,
            ietf::REMOTE_SESSION_ID => REMOTE_SESSION_ID,
            ietf::ASSIGNED_COOKIE => ASSIGNED_COOKIE,
            ietf::REMOTE_END_ID => REMOTE_END_ID,
            ietf::PW_TYPE => PW_TYPE,
            ietf::CIRCUIT_STATUS => CIRCUIT_STATUS,
            ietf::MESSAGE_DIGEST => MESSAGE_DIGEST,
            ietf::CONTROL_MESSAGE_AUTH_NONCE => AUTH_NONCE,
            _ => return None,
        })
    }

    /// The IETF attribute a Cisco one stands for (the inverse of
    /// [`from_ietf`], plus the Session Tie Breaker → Tie Breaker).
    pub const fn to_ietf(cisco_attr: u16) -> Option<u16> {
        use super::ietf;
        Some(match cisco_attr {
            ASSIGNED_CONNECTION_ID => ietf::ASSIGNED_CONTROL_CONNECTION_ID,
            PW_CAPABILITY_LIST => ietf::PW_CAPABILITY_LIST,
            LOCAL_SESSION_ID => ietf::LOCAL_SESSION_ID,
            REMOTE_SESSION_ID => ietf::REMOTE_SESSION_ID,
            ASSIGNED_COOKIE => ietf::ASSIGNED_COOKIE,
            REMOTE_END_ID => ietf::REMOTE_END_ID,
            PW_TYPE => ietf::PW_TYPE,
            CIRCUIT_STATUS => ietf::CIRCUIT_STATUS,
            SESSION_TIE_BREAKER => ietf::TIE_BREAKER,
            MESSAGE_DIGEST => ietf::MESSAGE_DIGEST,
            AUTH_NONCE => ietf::CONTROL_MESSAGE_AUTH_NONCE,
            INTERFACE_MTU => ietf::INTERFACE_MTU,
            _ => return None,
        })
    }
}

/// A printable name for any AVP: "Serial Number (15)", "Cisco Remote
/// End ID (9/6)", "vendor 311 attribute 1".
pub fn describe(vendor: u16, attr: u16) -> String {
    match vendor {
        ietf::VENDOR => match ietf::name(attr) {
            Some(n) => format!("{n} ({attr})"),
            None => format!("unregistered attribute {attr}"),
        },
        cisco::VENDOR => match cisco::name(attr) {
            Some(n) => format!("Cisco {n} (9/{attr})"),
            None => format!("Cisco attribute 9/{attr}"),
        },
        v => format!("vendor {v} attribute {attr}"),
    }
}

mod field {
    use crate::wire::Field;
    pub const FLAGS_LEN: Field = 0..2;
    pub const VENDOR: Field = 2..4;
    pub const ATTR: Field = 4..6;
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

/// A read/write view of one AVP at the start of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Avp<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Avp<T> {
    pub fn new_unchecked(buffer: T) -> Avp<T> {
        Avp { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Avp<T>> {
        let a = Self::new_unchecked(buffer);
        a.check_len()?;
        Ok(a)
    }

    /// Ensures the header fits and `6 <= length <= buffer len`.
    pub fn check_len(&self) -> Result<()> {
        let blen = self.buffer.as_ref().len();
        if blen < HEADER_LEN {
            return Err(Error);
        }
        let len = usize::from(self.length());
        if len < HEADER_LEN || len > blen {
            return Err(Error);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn flags_len(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::FLAGS_LEN])
    }

    /// The M bit.
    pub fn mandatory(&self) -> bool {
        self.flags_len() & FLAG_M != 0
    }

    /// The H bit.
    pub fn hidden(&self) -> bool {
        self.flags_len() & FLAG_H != 0
    }

    /// The whole AVP length, header included.
    pub fn length(&self) -> u16 {
        self.flags_len() & LEN_MASK
    }

    pub fn vendor(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::VENDOR])
    }

    pub fn attr(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::ATTR])
    }

    /// The attribute value: bytes 6..length.
    pub fn value(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..usize::from(self.length())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Avp<T> {
    /// Writes the M and H bits and the length (masked to 10 bits).
    pub fn set_flags_and_length(&mut self, mandatory: bool, hidden: bool, len: u16) {
        let mut v = len & LEN_MASK;
        if mandatory {
            v |= FLAG_M;
        }
        if hidden {
            v |= FLAG_H;
        }
        self.buffer.as_mut()[field::FLAGS_LEN].copy_from_slice(&v.to_be_bytes())
    }

    pub fn set_vendor(&mut self, v: u16) {
        self.buffer.as_mut()[field::VENDOR].copy_from_slice(&v.to_be_bytes())
    }

    pub fn set_attr(&mut self, v: u16) {
        self.buffer.as_mut()[field::ATTR].copy_from_slice(&v.to_be_bytes())
    }

    pub fn value_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.length());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
}

/// A borrowed, parsed AVP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AvpRef<'a> {
    pub mandatory: bool,
    pub hidden: bool,
    pub vendor: u16,
    pub attr: u16,
    pub value: &'a [u8],
}

impl<'a> AvpRef<'a> {
    /// Bytes this AVP takes on the wire.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN + self.value.len()
    }

    pub fn to_owned(&self) -> AvpOwned {
        AvpOwned {
            mandatory: self.mandatory,
            hidden: self.hidden,
            vendor: self.vendor,
            attr: self.attr,
            value: self.value.to_vec(),
        }
    }
}

/// An owned AVP.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct AvpOwned {
    pub mandatory: bool,
    pub hidden: bool,
    pub vendor: u16,
    pub attr: u16,
    pub value: Vec<u8>,
}

impl AvpOwned {
    pub fn new(vendor: u16, attr: u16, mandatory: bool, value: Vec<u8>) -> AvpOwned {
        AvpOwned {
            mandatory,
            hidden: false,
            vendor,
            attr,
            value,
        }
    }

    pub fn as_ref(&self) -> AvpRef<'_> {
        AvpRef {
            mandatory: self.mandatory,
            hidden: self.hidden,
            vendor: self.vendor,
            attr: self.attr,
            value: &self.value,
        }
    }

    /// Bytes this AVP takes on the wire (values longer than
    /// [`MAX_VALUE_LEN`] are cut there by [`AvpOwned::emit`]).
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.value.len().min(MAX_VALUE_LEN)
    }

    /// Appends the AVP to `out`. A value longer than [`MAX_VALUE_LEN`] is
    /// truncated (the builders never produce one).
    pub fn emit(&self, out: &mut Vec<u8>) {
        let value = &self.value[..self.value.len().min(MAX_VALUE_LEN)];
        let start = out.len();
        out.resize(start + HEADER_LEN + value.len(), 0);
        let mut a = Avp::new_unchecked(&mut out[start..]);
        a.set_flags_and_length(
            self.mandatory,
            self.hidden,
            (HEADER_LEN + value.len()) as u16,
        );
        a.set_vendor(self.vendor);
        a.set_attr(self.attr);
        a.value_mut().copy_from_slice(value);
    }
}

/// Iterates over the AVPs in `buf` (a message's bytes after the 12-byte
/// header). Yields `Err` once for the first malformed AVP (length < 6 or
/// past the end of the buffer) and then stops.
#[derive(Debug, Clone)]
pub struct AvpIter<'a> {
    buf: &'a [u8],
    failed: bool,
}

impl<'a> AvpIter<'a> {
    pub fn new(buf: &'a [u8]) -> AvpIter<'a> {
        AvpIter { buf, failed: false }
    }
}

impl<'a> Iterator for AvpIter<'a> {
    type Item = Result<AvpRef<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.buf.is_empty() {
            return None;
        }
        let avp = match Avp::new_checked(self.buf) {
            Ok(a) => a,
            Err(e) => {
                self.failed = true;
                return Some(Err(e));
            }
        };
        let len = usize::from(avp.length());
        let item = AvpRef {
            mandatory: avp.mandatory(),
            hidden: avp.hidden(),
            vendor: avp.vendor(),
            attr: avp.attr(),
            value: &self.buf[HEADER_LEN..len],
        };
        self.buf = &self.buf[len..];
        Some(Ok(item))
    }
}

impl core::iter::FusedIterator for AvpIter<'_> {}

#[cfg(test)]
mod test {
    use super::*;

    // Message Type SCCRQ (M), then Host Name "lac" (M), then a vendor-9
    // Assigned Connection ID 0x01020304 (no M).
    static AVPS: [u8; 27] = [
        0x80, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, // msg type
        0x80, 0x09, 0x00, 0x00, 0x00, 0x07, b'l', b'a', b'c', // host name
        0x00, 0x0a, 0x00, 0x09, 0x00, 0x01, 0x01, 0x02, 0x03, 0x04, // cisco ccid
    ];

    #[test]
    fn test_deconstruct() {
        let a = Avp::new_checked(&AVPS[8..]).unwrap();
        assert!(a.mandatory());
        assert!(!a.hidden());
        assert_eq!(a.length(), 9);
        assert_eq!(a.vendor(), 0);
        assert_eq!(a.attr(), ietf::HOST_NAME);
        assert_eq!(a.value(), b"lac");
    }

    #[test]
    fn test_construct() {
        let mut buf = [0xa5u8; 10];
        let mut a = Avp::new_unchecked(&mut buf[..]);
        a.set_flags_and_length(false, false, 10);
        a.set_vendor(cisco::VENDOR);
        a.set_attr(cisco::ASSIGNED_CONNECTION_ID);
        a.value_mut().copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(buf, AVPS[17..]);
    }

    #[test]
    fn test_emit_owned() {
        let mut out = vec![];
        AvpOwned::new(0, ietf::HOST_NAME, true, b"lac".to_vec()).emit(&mut out);
        assert_eq!(out, AVPS[8..17]);
        let mut h = AvpOwned::new(0, 7, false, vec![]);
        h.hidden = true;
        let mut out = vec![];
        h.emit(&mut out);
        assert_eq!(out, [0x40, 0x06, 0, 0, 0, 7]);
    }

    #[test]
    fn test_iter() {
        let v: Vec<_> = AvpIter::new(&AVPS).collect();
        assert_eq!(v.len(), 3);
        let c = v[2].unwrap();
        assert_eq!(
            c,
            AvpRef {
                mandatory: false,
                hidden: false,
                vendor: 9,
                attr: 1,
                value: &[1, 2, 3, 4]
            }
        );
        assert_eq!(c.to_owned().as_ref(), c);
        assert_eq!(AvpIter::new(&[]).count(), 0);
    }

    #[test]
    fn test_iter_short_length() {
        let mut b = AVPS;
        b[9] = 5; // host name length 5 < 6
        let v: Vec<_> = AvpIter::new(&b).collect();
        assert_eq!(v.len(), 2);
        assert!(v[0].is_ok());
        assert_eq!(v[1], Err(Error));
    }

    #[test]
    fn test_iter_overflow() {
        let mut b = AVPS;
        b[18] = 11; // last AVP claims one byte more than there is
        let v: Vec<_> = AvpIter::new(&b).collect();
        assert_eq!(v.len(), 3);
        assert_eq!(v[2], Err(Error));
        // A truncated header is an error too.
        let v: Vec<_> = AvpIter::new(&AVPS[..11]).collect();
        assert_eq!(v, vec![Ok(v[0].unwrap()), Err(Error)]);
    }

    #[test]
    fn test_too_short() {
        for len in 0..6 {
            assert_eq!(Avp::new_checked(&AVPS[8..8 + len]).err(), Some(Error));
        }
        assert_eq!(Avp::new_checked(&AVPS[8..16]).err(), Some(Error));
        assert!(Avp::new_checked(&AVPS[8..17]).is_ok());
    }

    #[test]
    fn test_known() {
        assert!(ietf::is_known(ietf::PW_TYPE));
        // Registered L2TPv2 and extension AVPs are recognised (RFC 3931
        // §5.2: their M bit is of no consequence).
        for a in [2, 3, 9, 15, 30, 56, 57, 67, 91, 103] {
            assert!(ietf::is_known(a), "{a}");
        }
        assert!(!ietf::is_known(104));
        assert_eq!(ietf::name(ietf::SERIAL_NUMBER), Some("Serial Number"));
        assert_eq!(
            ietf::name(ietf::INTERFACE_MTU),
            Some("Interface Maximum Transmission Unit")
        );
        assert_eq!(ietf::name(ietf::CIRCUIT_STATUS), Some("Circuit Status"));
        assert!(!ietf::rfc_m_bit(ietf::SERIAL_NUMBER));
        assert!(ietf::rfc_m_bit(ietf::CIRCUIT_STATUS));
        assert_eq!(describe(0, 15), "Serial Number (15)");
        assert_eq!(describe(9, 6), "Cisco Remote End ID (9/6)");
        assert_eq!(describe(9, 110), "Cisco attribute 9/110");
        assert_eq!(describe(311, 1), "vendor 311 attribute 1");
        assert!(cisco::is_known(cisco::INTERFACE_MTU));
        assert!(cisco::is_known(cisco::ACK));
        for c in 0..=20 {
            if let Some(i) = cisco::to_ietf(c) {
                assert!(ietf::is_known(i));
                if c != cisco::SESSION_TIE_BREAKER && c != cisco::INTERFACE_MTU {
                    assert_eq!(cisco::from_ietf(i), Some(c));
                }
            }
        }
        assert!(!cisco::is_known(11));
        assert_eq!(cisco::from_ietf(ietf::PW_TYPE), Some(cisco::PW_TYPE));
        assert_eq!(cisco::from_ietf(ietf::HOST_NAME), None);
    }
}
