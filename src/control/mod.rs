//! The control plane. Everything with a decision in it (the engine, the
//! RFC 3931 machines, admission, the neighbour cache, ARP/ICMP
//! responders, the socket protocol) builds without DPDK; `core`, the I/O
//! loop around the engine on the control lcore, needs it.
#![forbid(unsafe_code)]

pub mod admission;
pub mod capture;
pub mod engine;
pub mod l2tp;
pub mod neighbour;
pub mod neighbour6;
pub mod ratelimit;
pub mod refusals;
pub mod respond;
pub mod socket;

#[cfg(feature = "dpdk")]
pub mod core;
