//! RFC 3931 (L2TPv3) control plane as pure state machines: no I/O, no
//! clock (time is passed in as `now` milliseconds), no randomness of its
//! own (an injected source).
//!
//! * [`reliable`]: reliable delivery of control messages (§4.2).
pub mod reliable;
