//! `las-edge`: a software L2TPv3 edge router.
//!
//! It bridges a TAP interface to one L2TPv3 Ethernet pseudowire
//! (RFC 3931/4719), like Linux `ip l2tp` with `l2tp_eth`, but in user space:
//! static (ids and cookies configured) or dynamic (negotiated over an
//! RFC 3931 control connection that las-edge opens, by VC ID).
//!
//! * [`config`]: command line / TOML parsing into [`EdgeConfig`] (the
//!   endpoint) and [`SessionParams`] (the pseudowire).
//! * [`dynamic`]: the control connection ([`Control`]), which produces
//!   [`SessionParams`] when a session comes up and reconnects with backoff,
//!   or, with a backup peer, fails over to the other [`Peer`] and reverts.
//! * [`codec`]: adds and checks the L2TPv3 data header with [`crate::wire`].
//! * [`counters`]: packet/byte counters and drops by reason.
//! * [`forward`]: the TAP/socket forwarding loop (batched, poll-driven).
#![forbid(unsafe_code)]

pub mod codec;
pub mod config;
pub mod counters;
pub mod dynamic;
pub mod forward;

pub use codec::{Codec, DropReason};
pub use config::{DynamicConfig, EdgeArgs, EdgeConfig, Failover, Revert, SessionParams, Transport};
pub use counters::{ControlStats, Counters};
pub use dynamic::{Control, Peer};
pub use forward::{run, Endpoint};
