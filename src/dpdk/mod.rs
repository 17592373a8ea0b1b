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
/// touch it. Only the 2 MiB-aligned interior can be huge; for tables the
/// fast path indexes at random use [`HugeSlice`], which is all huge.
pub fn huge_vec<T>(n: usize, mut f: impl FnMut(usize) -> T) -> Vec<T> {
    let mut v = Vec::with_capacity(n);
    advise_hugepages(v.spare_capacity_mut());
    for i in 0..n {
        v.push(f(i));
    }
    v
}

/// A fixed-length table for state the fast path indexes at random
/// (per-session state at 65,535 sessions: 8 MiB each for `Session` and
/// `Egress`). From [`crate::mem::HUGE_PAGE`]` / 2` bytes on it is its own
/// allocation aligned to a huge page and rounded up to whole huge pages,
/// advised for transparent huge pages before `f` first touches it: one
/// TLB entry per 2 MiB for all of it. A `Vec` started wherever the
/// allocator put it and kept a quarter of an 8 MiB table in 4 KiB pages.
/// Smaller tables are a plain aligned allocation.
pub struct HugeSlice<T> {
    ptr: std::ptr::NonNull<T>,
    len: usize,
    layout: std::alloc::Layout,
}

// SAFETY: a HugeSlice owns its elements like a Box<[T]>; sending or sharing
// it sends or shares the Ts, so the bounds are those of Box<[T]>.
unsafe impl<T: Send> Send for HugeSlice<T> {}
// SAFETY: as above; &HugeSlice<T> only hands out &T.
unsafe impl<T: Sync> Sync for HugeSlice<T> {}

impl<T> HugeSlice<T> {
    /// `n` elements made by `f` in order. Panics (at start-up, like `Vec`)
    /// when the size overflows, and aborts when memory is exhausted.
    pub fn new(n: usize, mut f: impl FnMut(usize) -> T) -> Self {
        use crate::mem::HUGE_PAGE;
        use std::alloc::Layout;
        let array = Layout::array::<T>(n).expect("HugeSlice: size overflows");
        let huge = array.size() >= HUGE_PAGE / 2;
        let layout = if huge {
            Layout::from_size_align(
                array.size().next_multiple_of(HUGE_PAGE),
                HUGE_PAGE.max(array.align()),
            )
            .expect("HugeSlice: size overflows")
        } else {
            array
        };
        let ptr = if layout.size() == 0 {
            // Nothing to allocate (no elements, or zero-sized ones): a
            // dangling, aligned pointer is valid for them.
            std::ptr::NonNull::dangling()
        } else {
            // SAFETY: `layout` has a non-zero size (checked above).
            let raw = unsafe { std::alloc::alloc(layout) } as *mut T;
            match std::ptr::NonNull::new(raw) {
                Some(p) => p,
                None => std::alloc::handle_alloc_error(layout),
            }
        };
        if huge {
            // SAFETY: the range is the allocation just made, owned here and
            // not yet touched; MADV_HUGEPAGE changes only how the kernel
            // backs it, never its contents.
            unsafe {
                libc::madvise(
                    ptr.as_ptr() as *mut libc::c_void,
                    layout.size(),
                    libc::MADV_HUGEPAGE,
                );
            }
        }
        let mut s = HugeSlice {
            ptr,
            len: 0,
            layout,
        };
        for i in 0..n {
            // SAFETY: `i < n` fits the allocation (`layout` holds at least
            // `n` elements, aligned for T; any address suits a zero-sized
            // T); slot `i` is uninitialised and
            // `len` counts the initialised prefix, so a panic in `f` drops
            // exactly the elements made so far (see Drop).
            unsafe { s.ptr.as_ptr().add(i).write(f(i)) };
            s.len = i + 1;
        }
        s
    }
}

impl<T> std::ops::Deref for HugeSlice<T> {
    type Target = [T];
    #[inline(always)]
    fn deref(&self) -> &[T] {
        // SAFETY: `ptr` points at `len` initialised, aligned Ts owned by
        // self (dangling but aligned for a zero-sized allocation, which
        // is valid for a slice of zero-sized Ts).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T> std::ops::DerefMut for HugeSlice<T> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`; `&mut self` makes the borrow unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<T> Drop for HugeSlice<T> {
    fn drop(&mut self) {
        // SAFETY: the first `len` elements are initialised and owned here,
        // dropped once; then the allocation is freed with the layout it
        // was made with (none was made for a zero size).
        unsafe {
            std::ptr::drop_in_place(std::ptr::slice_from_raw_parts_mut(
                self.ptr.as_ptr(),
                self.len,
            ));
            if self.layout.size() != 0 {
                std::alloc::dealloc(self.ptr.as_ptr() as *mut u8, self.layout);
            }
        }
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

#[cfg(test)]
mod tests {
    use super::HugeSlice;
    use crate::mem::HUGE_PAGE;
    use std::rc::Rc;

    #[test]
    fn huge_slice_is_aligned_whole_and_drops_its_elements() {
        let alive = Rc::new(());
        // 40,000 × 64 B ≥ 1 MiB: huge.
        #[repr(align(64))]
        struct Line(#[allow(dead_code)] Rc<()>, usize);
        let mut t = HugeSlice::new(40_000, |i| Line(alive.clone(), i));
        assert_eq!(t.len(), 40_000);
        assert_eq!(t.as_ptr() as usize % HUGE_PAGE, 0);
        assert_eq!(t.layout.size() % HUGE_PAGE, 0);
        assert!(t.iter().enumerate().all(|(i, l)| l.1 == i));
        t[7].1 = 70;
        assert_eq!(t[7].1, 70);
        assert_eq!(Rc::strong_count(&alive), 40_001);
        drop(t);
        assert_eq!(Rc::strong_count(&alive), 1);

        // Small: plainly aligned for T, not padded to a huge page.
        let s = HugeSlice::new(3, |i| Line(alive.clone(), i));
        assert_eq!(s.as_ptr() as usize % 64, 0);
        assert_eq!(s.layout.size(), 3 * 64);
        drop(s);
        assert_eq!(Rc::strong_count(&alive), 1);

        // Empty and zero-sized.
        assert!(HugeSlice::new(0, |_| 0u64).is_empty());
        let z = HugeSlice::new(5, |_| ());
        assert_eq!(z.len(), 5);
    }

    #[test]
    fn huge_slice_drops_what_was_made_when_its_maker_panics() {
        let alive = Rc::new(());
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            HugeSlice::new(10, |i| {
                assert!(i < 4, "stop");
                alive.clone()
            })
        }));
        assert!(r.is_err());
        assert_eq!(Rc::strong_count(&alive), 1);
    }
}
