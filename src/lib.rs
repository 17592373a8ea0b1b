//! las — the L2TPv3 access switch.
//!
//! Pure modules (`wire`, `switch`, `config`, and the state-keeping parts of
//! `control`) build without DPDK (`--no-default-features`); the data plane
//! (`dpdk`, `worker`, the runtime) needs the `dpdk` feature.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod config;
pub mod control;
pub mod edge;
pub mod mem;
pub mod perf;
pub mod switch;
pub mod telemetry;
pub mod wire;

#[cfg(feature = "dpdk")]
pub mod dpdk;
#[cfg(feature = "dpdk")]
pub mod runtime;
pub mod worker;
