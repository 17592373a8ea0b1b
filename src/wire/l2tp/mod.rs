//! L2TPv3 (RFC 3931) with Ethernet pseudowires (RFC 4719).
//!
//! * [`data`]: data message headers, classification, cookies and the
//!   default L2-Specific Sublayer.
//! * [`control`]: the control message header.
//! * [`avp`], [`message`], [`auth`]: AVPs, whole control messages, and
//!   hidden AVPs / message digests / CHAP-style challenge responses.
//! * [`rules`]: which AVPs each control message carries (RFC 3931 §6).
//! * [`vcid`]: the VC ID a Remote End ID names.
//! * [`encap`]: the prebuilt per-pseudowire encapsulation template used on
//!   the fast path.

pub mod auth;
pub mod avp;
pub mod control;
pub mod data;
pub mod encap;
pub mod message;
pub mod rules;
pub mod vcid;

pub use auth::DigestAlg;
pub use avp::{AvpIter, AvpOwned, AvpRef};
pub use data::{
    classify_ip, classify_udp, data_offsets, Cookie, DataRepr, DefaultSublayer, Encap, Kind,
    L2Spec, SublayerRepr, IP_HEADER_LEN, UDP_HEADER_LEN,
};
pub use encap::{EncapTemplate, TemplateParams, TemplateParams6};
pub use message::{Flavour, Message, MessageType, ResultCode};
pub use vcid::VcId;

/// The L2TP version carried in the header (L2TPv3).
pub const VERSION: u8 = 3;

/// The IANA UDP port for L2TP.
pub const UDP_PORT: u16 = 1701;
