//! The only FFI/unsafe code in las: thin, safe wrappers over DPDK.
//!
//! Every raw call lives here and is turned into a `Result` at this seam;
//! the rest of the crate is `#![forbid(unsafe_code)]`. Handles own what they
//! point at (`Mbuf` frees itself on drop, `into_raw` hands ownership to the
//! NIC), and IDs are newtypes.

pub mod eal;
pub mod error;
pub mod frag;
pub mod mbuf;
pub mod mempool;
pub mod port;
pub mod ring;
pub mod sys;
pub mod telemetry;

pub use eal::{Eal, LcoreId};
pub use error::{DpdkError, Result};
pub use frag::FragTable;
pub use mbuf::{Burst, Mbuf, SharedMbuf, TxBuffer, MAX_BURST};
pub use mempool::Mempool;
pub use port::{EthStats, Port, PortConf, PortId, PortInfo, RxQueue, TxQueue};
pub use ring::{mbuf_ring, RingConsumer, RingProducer};

/// The time-stamp counter: cycles since an arbitrary start. Cheap.
#[inline(always)]
pub fn tsc() -> u64 {
    // SAFETY: reads the TSC; no memory is touched.
    unsafe { sys::las_tsc() }
}

/// Cycles per second of `tsc()`. Valid after EAL init.
pub fn tsc_hz() -> u64 {
    // SAFETY: plain getter of a value computed at EAL init.
    unsafe { sys::rte_get_tsc_hz() }
}

/// Prefetch the cache line holding `p` into all cache levels.
#[inline(always)]
pub fn prefetch0<T: ?Sized>(p: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetch is a hint; it never faults, even on bad addresses.
    unsafe {
        core::arch::x86_64::_mm_prefetch(
            p as *const T as *const i8,
            core::arch::x86_64::_MM_HINT_T0,
        )
    }
    #[cfg(not(target_arch = "x86_64"))]
    // SAFETY: prefetch is a hint; it never faults, even on bad addresses.
    unsafe {
        sys::las_prefetch0(p as *const T as *const core::ffi::c_void)
    }
}

/// A CPU pause hint for spin loops.
#[inline(always)]
pub fn pause() {
    // SAFETY: executes the `pause` instruction only.
    unsafe { sys::las_pause() }
}

/// The DPDK version string, e.g. "DPDK 22.11.11".
pub fn version() -> String {
    // SAFETY: rte_version returns a pointer to a static NUL-terminated string.
    let s = unsafe { std::ffi::CStr::from_ptr(sys::rte_version()) };
    s.to_string_lossy().into_owned()
}
