//! Single-producer/single-consumer mbuf rings between lcores.
use super::error::{DpdkError, Result};
use super::mbuf::{Burst, Mbuf, MAX_BURST};
use super::sys;
use std::ffi::CString;
use std::ptr::NonNull;

/// An `rte_ring` of owned mbufs, one producer and one consumer thread.
pub struct MbufRing {
    ptr: NonNull<sys::rte_ring>,
}

// SAFETY: rte_ring is a lock-free queue designed for inter-lcore use; the
// SP/SC flags are honoured by the runtime (one worker produces, the control
// core consumes).
unsafe impl Send for MbufRing {}
// SAFETY: as above.
unsafe impl Sync for MbufRing {}

impl MbufRing {
    /// `size` must be a power of two; the ring holds size-1 mbufs.
    pub fn new(name: &str, size: u32, socket: i32) -> Result<MbufRing> {
        let c = CString::new(name).map_err(|_| DpdkError::msg("ring name has NUL"))?;
        let flags = sys::RING_F_SP_ENQ | sys::RING_F_SC_DEQ;
        // SAFETY: valid C string; DPDK copies the name.
        let p = unsafe { sys::rte_ring_create(c.as_ptr(), size, socket, flags) };
        NonNull::new(p)
            .map(|ptr| MbufRing { ptr })
            .ok_or_else(|| DpdkError::from_errno(format!("rte_ring_create({name}, {size})")))
    }

    /// Enqueues `m`, or gives it back when the ring is full.
    #[inline(always)]
    pub fn enqueue(&self, m: Mbuf) -> std::result::Result<(), Mbuf> {
        let p = m.into_raw() as *mut std::ffi::c_void;
        // SAFETY: one pointer; on failure ownership stays with us.
        let n = unsafe { sys::las_ring_enqueue_burst(self.ptr.as_ptr(), &p, 1) };
        if n == 1 {
            Ok(())
        } else {
            // SAFETY: not enqueued, so we still own it.
            // Unwrap: `p` came from a live Mbuf, so it is not null.
            Err(unsafe { Mbuf::from_raw(p as *mut sys::rte_mbuf) }.expect("non-null"))
        }
    }

    /// Dequeues up to MAX_BURST mbufs into an empty burst.
    #[inline(always)]
    pub fn dequeue(&self, burst: &mut Burst) -> usize {
        let p = burst.fill_ptr() as *mut *mut std::ffi::c_void;
        // SAFETY: p has MAX_BURST slots; dequeued mbufs become ours.
        let n = unsafe { sys::las_ring_dequeue_burst(self.ptr.as_ptr(), p, MAX_BURST as u32) };
        burst.set_len(n as usize);
        n as usize
    }

    pub fn count(&self) -> u32 {
        // SAFETY: read-only query.
        unsafe { sys::las_ring_count(self.ptr.as_ptr()) }
    }
}

impl Drop for MbufRing {
    fn drop(&mut self) {
        let mut b = Burst::new();
        while self.dequeue(&mut b) > 0 {
            while b.pop().is_some() {}
        }
        // SAFETY: no other thread uses the ring once its owner drops it.
        unsafe { sys::rte_ring_free(self.ptr.as_ptr()) }
    }
}
