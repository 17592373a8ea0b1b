//! Single-producer/single-consumer mbuf rings between lcores.
//!
//! A ring is created as two halves, [`RingProducer`] and
//! [`RingConsumer`]. Each is `Send` (it can move to the thread that uses
//! it) but neither is `Sync` nor `Clone`, and both operations take
//! `&mut self`: at most one thread enqueues and one dequeues, which is
//! what the ring's SP/SC flags assume. The ring is freed (its remaining
//! mbufs with it) when both halves are gone.
//!
//! ```
//! // What is allowed: each half moves to its thread.
//! fn movable<T: Send>() {}
//! movable::<las::dpdk::RingProducer>();
//! movable::<las::dpdk::RingConsumer>();
//! fn pass(p: &mut las::dpdk::RingProducer, m: las::dpdk::Mbuf) {
//!     let _ = p.enqueue(m);
//! }
//! ```
//!
//! ```compile_fail
//! // A producer cannot be shared between threads ...
//! fn shared<T: Sync>() {}
//! shared::<las::dpdk::RingProducer>();
//! ```
//!
//! ```compile_fail
//! // ... nor copied into a second one.
//! fn two(p: las::dpdk::RingProducer) -> (las::dpdk::RingProducer, las::dpdk::RingProducer) {
//!     (p.clone(), p)
//! }
//! ```
//!
//! ```compile_fail
//! // The consumer likewise.
//! fn shared<T: Sync>() {}
//! shared::<las::dpdk::RingConsumer>();
//! ```
use super::error::{DpdkError, Result};
use super::mbuf::{Burst, Mbuf, TxBuffer, MAX_BURST};
use super::sys;
use std::cell::Cell;
use std::ffi::CString;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::Arc;

/// The `rte_ring` itself, freed with its contents when both halves drop.
struct RingInner {
    ptr: NonNull<sys::rte_ring>,
}

// SAFETY: rte_ring is a lock-free queue made for use between lcores. The
// inner ring is reached only through the one RingProducer (enqueue) and
// the one RingConsumer (dequeue), neither Sync nor Clone, and freed by
// the last of them to drop, when nobody else can use it.
unsafe impl Send for RingInner {}
// SAFETY: as above: shared only between the two halves, which use
// disjoint sides of an SP/SC ring.
unsafe impl Sync for RingInner {}

impl RingInner {
    fn dequeue(&self, burst: &mut Burst) -> usize {
        let p = burst.fill_ptr() as *mut *mut std::ffi::c_void;
        // SAFETY: p has MAX_BURST slots; dequeued mbufs become ours. Only
        // the consumer half (or the last drop) calls this.
        let n = unsafe { sys::las_ring_dequeue_burst(self.ptr.as_ptr(), p, MAX_BURST as u32) };
        // SAFETY: the ring wrote the first `n` slots, mbufs now ours.
        unsafe { burst.set_len(n as usize) };
        n as usize
    }
}

impl Drop for RingInner {
    fn drop(&mut self) {
        let mut b = Burst::new();
        while self.dequeue(&mut b) > 0 {
            while b.pop().is_some() {}
        }
        // SAFETY: both halves are gone: nobody else uses the ring.
        unsafe { sys::rte_ring_free(self.ptr.as_ptr()) }
    }
}

/// The enqueueing half of an mbuf ring.
pub struct RingProducer {
    inner: Arc<RingInner>,
    /// Not Sync.
    _one_thread: PhantomData<Cell<()>>,
}

/// The dequeueing half of an mbuf ring.
pub struct RingConsumer {
    inner: Arc<RingInner>,
    /// Not Sync.
    _one_thread: PhantomData<Cell<()>>,
}

// SAFETY: a half may move to another thread; being neither Sync nor Clone
// it is used by one thread at a time, which is what SP/SC needs.
unsafe impl Send for RingProducer {}
// SAFETY: as above.
unsafe impl Send for RingConsumer {}

/// Creates an SP/SC ring of `size` slots (a power of two; it holds
/// `size - 1` mbufs) on NUMA `socket`, as its two halves.
pub fn mbuf_ring(name: &str, size: u32, socket: i32) -> Result<(RingProducer, RingConsumer)> {
    let c = CString::new(name).map_err(|_| DpdkError::msg("ring name has NUL"))?;
    let flags = sys::RING_F_SP_ENQ | sys::RING_F_SC_DEQ;
    // SAFETY: valid C string; DPDK copies the name.
    let p = unsafe { sys::rte_ring_create(c.as_ptr(), size, socket, flags) };
    let ptr = NonNull::new(p)
        .ok_or_else(|| DpdkError::from_errno(format!("rte_ring_create({name}, {size})")))?;
    let inner = Arc::new(RingInner { ptr });
    Ok((
        RingProducer {
            inner: inner.clone(),
            _one_thread: PhantomData,
        },
        RingConsumer {
            inner,
            _one_thread: PhantomData,
        },
    ))
}

impl RingProducer {
    /// Enqueues `m`, or gives it back when the ring is full.
    #[inline(always)]
    pub fn enqueue(&mut self, m: Mbuf) -> std::result::Result<(), Mbuf> {
        let p = m.into_raw() as *mut std::ffi::c_void;
        // SAFETY: one pointer; the only producer (&mut self); on failure
        // ownership stays with us.
        let n = unsafe { sys::las_ring_enqueue_burst(self.inner.ptr.as_ptr(), &p, 1) };
        if n == 1 {
            Ok(())
        } else {
            // SAFETY: not enqueued, so we still own it.
            // Unwrap: `p` came from a live Mbuf, so it is not null.
            Err(unsafe { Mbuf::from_raw(p as *mut sys::rte_mbuf) }.expect("non-null"))
        }
    }
}

impl RingProducer {
    /// Enqueues every mbuf of `buf` (emptying it) in one operation, and
    /// frees what did not fit. Returns how many were freed.
    #[inline]
    pub fn enqueue_all(&mut self, buf: &mut TxBuffer) -> usize {
        let (p, n) = buf.raw();
        // SAFETY: p holds n owned mbufs; the only producer (&mut self).
        // What is enqueued belongs to the ring from here; `consume` below
        // forgets those slots and frees the rest, which stayed ours.
        let sent = unsafe {
            sys::las_ring_enqueue_burst(
                self.inner.ptr.as_ptr(),
                p as *mut *mut std::ffi::c_void,
                n as u32,
            )
        } as usize;
        buf.consume(sent).1
    }
}

impl RingConsumer {
    /// Dequeues up to MAX_BURST mbufs into an empty burst.
    #[inline(always)]
    pub fn dequeue(&mut self, burst: &mut Burst) -> usize {
        self.inner.dequeue(burst)
    }

    /// Mbufs waiting.
    pub fn count(&self) -> u32 {
        // SAFETY: read-only query of the ring's indices.
        unsafe { sys::las_ring_count(self.inner.ptr.as_ptr()) }
    }
}
