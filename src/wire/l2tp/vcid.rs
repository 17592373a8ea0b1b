//! The VC ID a pseudowire's Remote End ID names (RFC 3931 §5.4.4 leaves
//! its format to the application; Cisco's `xconnect <peer> <vc-id>`
//! puts the VC ID in it).
//!
//! Stacks differ in how they write the number: Cisco IOS and freeRtr as
//! ASCII decimal ("100"), others as a 4-byte big-endian integer. las
//! takes both to mean the same VC ID, so `vc_ids = [100]` matches either:
//!
//! * 1 to 10 ASCII digits whose value fits 32 bits: that number;
//! * otherwise exactly 4 bytes: that big-endian number (an ID that is 4
//!   ASCII digits is read as decimal first: "1234" is 1234);
//! * anything else: the bytes themselves, written as `0x` and lowercase
//!   hex wherever las shows them (switch names, logs, `las show`), so a
//!   name is always printable.
//!
//! The canonical text ([`VcId`]'s `Display`) is what keys switches.

use core::fmt;

/// A VC ID, canonical.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VcId {
    Number(u32),
    Bytes(Vec<u8>),
}

impl VcId {
    /// The VC ID a Remote End ID AVP value names.
    pub fn from_remote_end_id(b: &[u8]) -> VcId {
        if (1..=10).contains(&b.len()) && b.iter().all(u8::is_ascii_digit) {
            // Unwrap-free: ASCII digits are UTF-8.
            if let Some(n) = core::str::from_utf8(b)
                .ok()
                .and_then(|s| s.parse::<u32>().ok())
            {
                return VcId::Number(n);
            }
        }
        match <[u8; 4]>::try_from(b) {
            Ok(a) => VcId::Number(u32::from_be_bytes(a)),
            Err(_) => VcId::Bytes(b.to_vec()),
        }
    }

    /// A VC ID as the configuration writes it: a decimal number, `0x`
    /// and an even number of hex digits (the Remote End ID's bytes), or
    /// other text (its bytes as the Remote End ID).
    pub fn from_config(s: &str) -> Result<VcId, &'static str> {
        if s.is_empty() {
            return Err("must not be empty");
        }
        if s.len() > 255 {
            return Err("must be at most 255 bytes");
        }
        if let Some(h) = s.strip_prefix("0x") {
            if h.is_empty() || h.len() % 2 != 0 || !h.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err("0x must be followed by an even number of hex digits");
            }
            let bytes: Vec<u8> = (0..h.len())
                .step_by(2)
                .filter_map(|i| u8::from_str_radix(&h[i..i + 2], 16).ok())
                .collect();
            return Ok(VcId::from_remote_end_id(&bytes));
        }
        if s.bytes().all(|c| c.is_ascii_digit()) && s.parse::<u32>().is_err() {
            return Err("a numeric VC ID must fit 32 bits (0..=4294967295)");
        }
        Ok(VcId::from_remote_end_id(s.as_bytes()))
    }

    /// The Remote End ID las-edge sends for it: ASCII decimal, as Cisco.
    pub fn to_remote_end_id(&self) -> Vec<u8> {
        match self {
            VcId::Number(n) => n.to_string().into_bytes(),
            VcId::Bytes(b) => b.clone(),
        }
    }
}

impl fmt::Display for VcId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VcId::Number(n) => write!(f, "{n}"),
            VcId::Bytes(b) => {
                f.write_str("0x")?;
                b.iter().try_for_each(|x| write!(f, "{x:02x}"))
            }
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn ascii_and_binary_mean_the_same() {
        let ascii = VcId::from_remote_end_id(b"100");
        let binary = VcId::from_remote_end_id(&[0, 0, 0, 100]);
        assert_eq!(ascii, VcId::Number(100));
        assert_eq!(ascii, binary);
        assert_eq!(binary.to_string(), "100");
        assert_eq!(VcId::from_remote_end_id(b"1234"), VcId::Number(1234));
        assert_eq!(VcId::from_remote_end_id(b"0100"), VcId::Number(100));
        assert_eq!(
            VcId::from_remote_end_id(b"4294967295"),
            VcId::Number(u32::MAX)
        );
        assert_eq!(
            VcId::from_remote_end_id(b"4294967296").to_string(),
            "0x34323934393637323936"
        );
    }

    #[test]
    fn others_are_hex_and_printable() {
        let v = VcId::from_remote_end_id(b"vc\x00\x07\xff");
        assert_eq!(v.to_string(), "0x76630007ff");
        assert_eq!(VcId::from_remote_end_id(b"").to_string(), "0x");
        assert_eq!(
            VcId::from_remote_end_id(b"cust-a").to_string(),
            "0x637573742d61"
        );
        for b in [&b"\x00\x00\x00d"[..], b"\n\r\x1b[2J", b"\xff\xfe"] {
            let s = VcId::from_remote_end_id(b).to_string();
            assert!(s.bytes().all(|c| c.is_ascii_graphic()), "{s:?}");
        }
    }

    #[test]
    fn config_forms() {
        assert_eq!(VcId::from_config("100"), Ok(VcId::Number(100)));
        assert_eq!(VcId::from_config("0x00000064"), Ok(VcId::Number(100)));
        assert_eq!(
            VcId::from_config("cust-a"),
            Ok(VcId::from_remote_end_id(b"cust-a"))
        );
        assert_eq!(
            VcId::from_config("0x637573742d61").unwrap().to_string(),
            "0x637573742d61"
        );
        assert!(VcId::from_config("").is_err());
        assert!(VcId::from_config("0x1").is_err());
        assert!(VcId::from_config("0xzz").is_err());
        assert!(VcId::from_config("4294967296").is_err());
        assert_eq!(VcId::Number(7).to_remote_end_id(), b"7");
    }
}
