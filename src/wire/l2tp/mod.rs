//! L2TPv3 (RFC 3931) with Ethernet pseudowires (RFC 4719).
//!
//! * [`data`]: data message headers, classification, cookies and the
//!   default L2-Specific Sublayer.
//! * [`control`]: the control message header.
//! * [`avp`], [`message`], [`auth`]: AVPs, whole control messages, and
//!   hidden AVPs / message digests / CHAP-style challenge responses.
//! * [`encap`]: the prebuilt per-pseudowire encapsulation template used on
//!   the fast path.

pub mod auth;
pub mod avp;
pub mod control;
pub mod data;
pub mod encap;
pub mod message;

pub use data::{
    classify_ip, classify_udp, data_offsets, Cookie, DataRepr, DefaultSublayer, Encap, Kind,
    L2Spec, SublayerRepr, IP_HEADER_LEN, UDP_HEADER_LEN,
};
pub use encap::{EncapTemplate, TemplateParams};

/// The L2TP version carried in the header (L2TPv3).
pub const VERSION: u8 = 3;

/// The IANA UDP port for L2TP.
pub const UDP_PORT: u16 = 1701;
