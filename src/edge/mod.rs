//! `las-edge`: a software L2TPv3 edge router.
//!
//! It bridges a TAP interface to one static L2TPv3 Ethernet pseudowire
//! (RFC 3931/4719), like Linux `ip l2tp` with `l2tp_eth`, but in user space.
//!
//! * [`config`]: command line / TOML parsing into [`EdgeConfig`] (the
//!   endpoint) and [`SessionParams`] (the pseudowire). A future control
//!   connection (dynamic mode) produces the same [`SessionParams`].
//! * [`codec`]: adds and checks the L2TPv3 data header with [`crate::wire`].
//! * [`counters`]: packet/byte counters and drops by reason.
//! * [`forward`]: the TAP/socket forwarding loop (batched, poll-driven).
#![forbid(unsafe_code)]

pub mod codec;
pub mod config;
pub mod counters;
pub mod forward;

pub use codec::{Codec, DropReason};
pub use config::{EdgeArgs, EdgeConfig, SessionParams, Transport};
pub use counters::Counters;
pub use forward::{run, Endpoint};
