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

/// Helpers shared by unit tests.
#[cfg(test)]
pub(crate) mod testing {
    /// A deterministic xorshift64 generator (shifts 13, 7, 17) from
    /// `seed` (non-zero): the random input of the property tests.
    pub fn xorshift(seed: u64) -> impl FnMut() -> u64 {
        let mut x = seed;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }
}
