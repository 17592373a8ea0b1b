//! Packet buffer pools.
use super::error::{DpdkError, Result};
use super::sys;
use std::ffi::CString;
use std::ptr::NonNull;

/// A `rte_pktmbuf` pool. Lives for the whole run (never freed while mbufs
/// may be in flight; dropped only after ports are closed).
pub struct Mempool {
    ptr: NonNull<sys::rte_mempool>,
}

// SAFETY: rte_mempool is designed for concurrent use from many lcores
// (per-lcore caches, lock-free ring underneath).
unsafe impl Send for Mempool {}
// SAFETY: as above; all operations we expose are thread-safe in DPDK.
unsafe impl Sync for Mempool {}

impl Mempool {
    /// Creates a pool of `n` mbufs with `data_room` bytes each (headroom included).
    pub fn new(name: &str, n: u32, cache: u32, data_room: u16, socket: i32) -> Result<Mempool> {
        let cname = CString::new(name).map_err(|_| DpdkError::msg("pool name has NUL"))?;
        // SAFETY: valid C string; DPDK copies the name.
        let p =
            unsafe { sys::rte_pktmbuf_pool_create(cname.as_ptr(), n, cache, 0, data_room, socket) };
        NonNull::new(p).map(|ptr| Mempool { ptr }).ok_or_else(|| {
            DpdkError::from_errno(format!(
                "rte_pktmbuf_pool_create({name}, {n} mbufs of {data_room} bytes)"
            ))
        })
    }

    pub(crate) fn as_ptr(&self) -> *mut sys::rte_mempool {
        self.ptr.as_ptr()
    }

    /// Mbufs free in the pool (approximate under concurrency).
    pub fn available(&self) -> u32 {
        // SAFETY: pool pointer valid for our lifetime.
        unsafe { sys::rte_mempool_avail_count(self.ptr.as_ptr()) }
    }

    /// Mbufs taken out of the pool (approximate under concurrency).
    pub fn in_use(&self) -> u32 {
        // SAFETY: pool pointer valid for our lifetime.
        unsafe { sys::rte_mempool_in_use_count(self.ptr.as_ptr()) }
    }
}

impl Drop for Mempool {
    fn drop(&mut self) {
        // SAFETY: the owner drops the pool only after every port using it
        // is closed and every mbuf returned.
        unsafe { sys::rte_mempool_free(self.ptr.as_ptr()) }
    }
}
