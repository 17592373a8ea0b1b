//! Counters and the operator's view of them: the control socket protocol
//! and `las show` rendering.
#![forbid(unsafe_code)]

pub mod counters;
pub mod exporter;
pub mod metrics;
pub mod show;

pub use counters::{
    Counter, DropCounters, DropReason, SessionCounters, Stage, SwitchCounters, WorkerCounters,
};
