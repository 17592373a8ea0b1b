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

/// Prefetch the first `lines` cache lines of `*p` (at most the lines it
/// spans) into all cache levels, without reading it.
#[inline(always)]
pub fn prefetch_lines<T>(p: &T, lines: usize) {
    let a = p as *const T as *const u8;
    let n = lines.min(std::mem::size_of::<T>().div_ceil(64));
    for i in 0..n {
        let q = a.wrapping_add(i * 64);
        #[cfg(target_arch = "x86_64")]
        // SAFETY: prefetch is a hint; it never faults, even on bad addresses.
        unsafe {
            core::arch::x86_64::_mm_prefetch(q as *const i8, core::arch::x86_64::_MM_HINT_T0)
        }
        #[cfg(not(target_arch = "x86_64"))]
        // SAFETY: prefetch is a hint; it never faults, even on bad addresses.
        unsafe {
            sys::las_prefetch0(q as *const core::ffi::c_void)
        }
    }
}

/// Asks the kernel to back the 2 MiB-aligned part of `mem` with
/// transparent huge pages (`madvise(MADV_HUGEPAGE)`; a hint, errors are
/// ignored). Useful before `mem` is first touched: a big table then costs
/// one TLB entry per 2 MiB instead of per 4 KiB.
pub fn advise_hugepages<T>(mem: &[T]) {
    const HUGE: usize = 2 << 20;
    let start = mem.as_ptr() as usize;
    let a = start.next_multiple_of(HUGE);
    let end = (start + std::mem::size_of_val(mem)) / HUGE * HUGE;
    if end <= a {
        return;
    }
    // SAFETY: the range lies inside `mem`, which the caller owns;
    // MADV_HUGEPAGE changes only how the kernel backs those pages, never
    // their contents, and touches no Rust-visible memory.
    unsafe {
        libc::madvise(a as *mut libc::c_void, end - a, libc::MADV_HUGEPAGE);
    }
}

/// A vector of `n` elements made by `f`, its memory advised for
/// transparent huge pages ([`advise_hugepages`]) before `f`'s values first
/// touch it. For tables the fast path indexes at random (per-session
/// state and counters): at 65,535 sessions they span tens of MiB, a TLB
/// miss per access in 4 KiB pages, one TLB entry per 2 MiB otherwise.
/// Only the 2 MiB-aligned interior can be huge, so this pays for tables
/// of several MiB; smaller ones are merely allocated.
pub fn huge_vec<T>(n: usize, mut f: impl FnMut(usize) -> T) -> Vec<T> {
    let mut v = Vec::with_capacity(n);
    advise_hugepages(v.spare_capacity_mut());
    for i in 0..n {
        v.push(f(i));
    }
    v
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
