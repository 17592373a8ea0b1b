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
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    /// Per-session traffic counts live in the worker's own session lines
    /// and reach `counters.sessions` once a second, or as soon as the
    /// control core bumps this (see `fresh_counters`).
    pub publish_request: AtomicU64,
    /// The last `publish_request` the worker has published everything for.
    pub published: AtomicU64,
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
            publish_request: AtomicU64::new(0),
            published: AtomicU64::new(0),
        }
    }
}

/// Asks every worker to publish its per-session counts now and waits until
/// all have, or `timeout` passed (a worker that does not poll, e.g. before
/// it starts or after it stopped, must not hang the control core).
/// Returns whether every worker answered. With 65,535 sessions a worker
/// needs a few milliseconds: it publishes a chunk of sessions per poll
/// loop, so forwarding goes on meanwhile. `local` runs while waiting: with
/// one core the worker shares the control core's thread, and `local`
/// publishes for it.
pub fn fresh_counters(
    workers: &[Arc<WorkerShared>],
    timeout: Duration,
    local: &mut dyn FnMut(),
) -> bool {
    let want: Vec<u64> = workers
        .iter()
        .map(|w| w.publish_request.fetch_add(1, Ordering::AcqRel) + 1)
        .collect();
    let t0 = Instant::now();
    loop {
        local();
        let done = workers
            .iter()
            .zip(&want)
            .all(|(w, &n)| w.published.load(Ordering::Acquire) >= n);
        if done {
            return true;
        }
        if t0.elapsed() >= timeout {
            return false;
        }
        std::thread::yield_now();
    }
}
