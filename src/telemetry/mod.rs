//! Counters and the operator's view of them: the control socket protocol
//! and `las show` rendering (`show`), and Prometheus: the same answers in
//! the Prometheus text format (`metrics`), served over HTTP by a thread
//! that is a client of the control socket (`exporter`), and las's own
//! DPDK telemetry commands, clients of it too (`dpdk_cmds`).
#![forbid(unsafe_code)]

pub mod counters;
pub mod dpdk_cmds;
pub mod exporter;
pub mod metrics;
pub mod show;

pub use counters::{
    Counter, DropCounters, DropReason, SessionCounters, Stage, SwitchCounters, WorkerCounters,
};
