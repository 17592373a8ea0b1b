//! Packet formats: zero-copy views and owned representations.
//!
//! The style follows smoltcp. Each protocol has:
//!
//! * a zero-copy view (`Packet<T>` or `Frame<T>`) over any `T: AsRef<[u8]>`,
//!   with `new_unchecked`, `new_checked` (which calls `check_len`),
//!   `into_inner`, one-line getters and (for `T: AsMut<[u8]>`) setters;
//! * where useful, an owned `Repr` with `parse`, `buffer_len` and `emit`.
//!
//! # The panic rule
//!
//! **Once `check_len()` has returned `Ok(())` on a view (or the view was
//! built with `new_checked`), no accessor of that view may panic**, whatever
//! the bytes are. Views built with `new_unchecked` on a buffer that was never
//! checked may panic on a too-short buffer; that is the caller's contract.
//! Setters that change a length field (e.g. `set_total_len`) may break the
//! invariant; re-check after changing them if the buffer is not trusted.
//!
//! Free functions that take a raw `&[u8]` (classifiers, `clamp_mss`,
//! `inner_offset`, ...) never panic on any input. All arithmetic on lengths
//! taken from packets is checked. Views never allocate.
#![forbid(unsafe_code)]

use core::fmt;

pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod icmpv4;
pub mod ipv4;
pub mod ipv6;
pub mod l2tp;
pub mod tcp;
pub mod udp;
pub mod vlan;

/// Byte range of a field inside a header.
pub(crate) type Field = core::ops::Range<usize>;

/// The buffer is too short or the packet is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Error;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("truncated or malformed packet")
    }
}

impl std::error::Error for Error {}

/// Result of parsing or checking a packet.
pub type Result<T> = core::result::Result<T, Error>;
