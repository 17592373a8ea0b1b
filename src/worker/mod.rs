//! The poll-mode worker: classify, decapsulate, switch, encapsulate, send.
//!
//! `engine` (the DPDK part, see its docs) runs the burst loop. What the
//! worker shares with the control core — the commands and events between
//! them, the per-worker queues and counters — and the outer-frame
//! classifier are pure and build without DPDK (`--no-default-features`).
#![forbid(unsafe_code)]

pub mod capture;
mod classify;
mod commands;
pub mod decide;
#[cfg(feature = "dpdk")]
mod engine;
pub mod punt;
pub mod sessions;

pub use classify::{classify, classify6, Class, Ours6};
pub use commands::{Command, Event, SessionSpec, SwitchSpec, VLAN_DOMAINS};
#[cfg(feature = "dpdk")]
pub use engine::{Worker, WorkerPort, WorkerSetup};

use crate::telemetry::WorkerCounters;
use crossbeam_queue::ArrayQueue;
use std::sync::atomic::{AtomicBool, AtomicU32};

/// The queues and counters a worker shares with the control core.
pub struct WorkerShared {
    pub commands: ArrayQueue<Command>,
    pub events: ArrayQueue<Event>,
    pub counters: WorkerCounters,
    /// Set by the worker once it has applied every command queued before
    /// the control core bumped `sync_request` (used at startup and in
    /// tests to know the data plane is programmed).
    pub synced: AtomicU32,
    pub sync_request: AtomicU32,
    /// The worker polls RX only once this is set (after initial programming).
    pub go: AtomicBool,
}

impl WorkerShared {
    pub fn new(command_ring: usize, event_ring: usize, counters: WorkerCounters) -> WorkerShared {
        WorkerShared {
            commands: ArrayQueue::new(command_ring),
            events: ArrayQueue::new(event_ring),
            counters,
            synced: AtomicU32::new(0),
            sync_request: AtomicU32::new(0),
            go: AtomicBool::new(false),
        }
    }
}
