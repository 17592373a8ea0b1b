//! The control plane. Pure parts (neighbour cache, ARP/ICMP responders,
//! the socket protocol) build without DPDK; `core` runs on the control
//! lcore and needs it.
#![forbid(unsafe_code)]

pub mod admission;
pub mod l2tp;
pub mod neighbour;
pub mod ratelimit;
pub mod refusals;
pub mod respond;
pub mod socket;

#[cfg(feature = "dpdk")]
pub mod core;
