//! Owned packet buffers and fixed-size bursts of them.
use super::mempool::Mempool;
use super::sys;
use std::mem::MaybeUninit;
use std::ptr::NonNull;

/// The largest burst las moves at once.
pub const MAX_BURST: usize = 64;

/// One owned `rte_mbuf` (possibly the head of a segment chain). Freed on drop.
///
/// Its first segment is always its own: the only way to share packet
/// data is [`Mbuf::share`], which consumes the `Mbuf` and gives a
/// [`SharedMbuf`] that can only be read; a shared payload becomes part of
/// an `Mbuf` again only behind a header segment of its own
/// ([`SharedMbuf::behind`]) or once nobody else holds it
/// ([`SharedMbuf::into_exclusive`]). So `data_mut` and `prepend` never
/// write bytes another packet sees.
///
/// ```
/// // What is allowed (the misuses below differ from it in one line each).
/// fn flood_copy(
///     m: las::dpdk::Mbuf,
///     hdr: las::dpdk::Mbuf,
///     pool: &las::dpdk::Mempool,
/// ) -> Option<las::dpdk::Mbuf> {
///     let shared = m.share();
///     let _first = shared.data()[0];
///     let body = shared.clone_indirect(pool)?;
///     let mut copy = body.behind(hdr).ok()?;
///     let _ = copy.prepend(14);
///     Some(copy)
/// }
/// ```
///
/// ```compile_fail
/// fn f(m: las::dpdk::Mbuf, pool: &las::dpdk::Mempool) {
///     let shared = m.share();
///     let _copy = shared.clone_indirect(pool);
///     m.data_mut()[0] = 0; // `m` was moved into the shared payload
/// }
/// ```
///
/// ```compile_fail
/// fn f(s: &mut las::dpdk::SharedMbuf) {
///     s.data_mut()[0] = 0; // a shared payload has no writer
/// }
/// ```
///
/// ```compile_fail
/// fn f(s: &mut las::dpdk::SharedMbuf) {
///     let _ = s.prepend(14); // nor headroom to write into
/// }
/// ```
pub struct Mbuf {
    ptr: NonNull<sys::rte_mbuf>,
}

// SAFETY: an mbuf is plain memory from a thread-safe pool; ownership moves
// between lcores through rings, exactly one owner at a time.
unsafe impl Send for Mbuf {}

impl Mbuf {
    /// Takes ownership of a raw mbuf pointer, or None if null.
    ///
    /// # Safety
    /// `p` must be a valid mbuf that nobody else owns.
    #[inline(always)]
    pub(crate) unsafe fn from_raw(p: *mut sys::rte_mbuf) -> Option<Mbuf> {
        NonNull::new(p).map(|ptr| Mbuf { ptr })
    }

    /// The raw pointer, still owned by `self`.
    #[inline(always)]
    pub(crate) fn as_raw(&self) -> *mut sys::rte_mbuf {
        self.ptr.as_ptr()
    }

    /// Sets the L2 and L3 header lengths (for `rte_ip_frag`).
    #[inline(always)]
    pub fn set_l2_l3(&mut self, l2: u16, l3: u16) {
        // SAFETY: field writes on an mbuf we own uniquely.
        unsafe { sys::las_mbuf_set_l2_l3(self.ptr.as_ptr(), l2, l3) }
    }

    /// Gives up ownership (to a NIC queue or a ring).
    #[inline(always)]
    pub(crate) fn into_raw(self) -> *mut sys::rte_mbuf {
        let p = self.ptr.as_ptr();
        std::mem::forget(self);
        p
    }

    /// A fresh mbuf from `pool` with default headroom and no data.
    #[inline]
    pub fn alloc(pool: &Mempool) -> Option<Mbuf> {
        // SAFETY: pool is valid; the result is a new mbuf we own, or null.
        unsafe { Mbuf::from_raw(sys::las_pktmbuf_alloc(pool.as_ptr())) }
    }

    /// The mbuf header. Its layout comes from DPDK's own `rte_mbuf.h`
    /// through bindgen, so reading fields here costs a load, not a call.
    #[inline(always)]
    fn hdr(&self) -> &sys::rte_mbuf {
        // SAFETY: `ptr` is a valid mbuf we own for the life of &self.
        unsafe { self.ptr.as_ref() }
    }

    /// Bytes of the first segment.
    #[inline(always)]
    pub fn data(&self) -> &[u8] {
        let h = self.hdr();
        // SAFETY: buf_addr + data_off .. + data_len are the initialised
        // bytes of the first segment, owned by this mbuf for &self.
        unsafe {
            let p = (h.buf_addr as *const u8).add(h.data_off as usize);
            std::slice::from_raw_parts(p, h.data_len as usize)
        }
    }

    /// Bytes of the first segment, writable. An mbuf shared by reference
    /// count (a clone) must not be written; `is_shared` tells.
    #[inline(always)]
    pub fn data_mut(&mut self) -> &mut [u8] {
        // SAFETY: as `data`, and &mut self guarantees unique access.
        unsafe {
            let h = self.ptr.as_ref();
            let p = (h.buf_addr as *mut u8).add(h.data_off as usize);
            std::slice::from_raw_parts_mut(p, h.data_len as usize)
        }
    }

    #[inline(always)]
    pub fn data_len(&self) -> usize {
        self.hdr().data_len as usize
    }

    #[inline(always)]
    pub fn pkt_len(&self) -> usize {
        self.hdr().pkt_len as usize
    }

    /// Whether the device checked the outer IPv4 header checksum and
    /// found it right (`RTE_MBUF_F_RX_IP_CKSUM_GOOD`): only on a port
    /// with the offload (`Port::rx_ip_checksum`), and never for a packet
    /// the device could not parse or found bad. False says nothing either
    /// way: the packet's checksum is to be checked in software.
    #[inline(always)]
    pub fn rx_ip_checksum_good(&self) -> bool {
        self.hdr().ol_flags & u64::from(sys::RTE_MBUF_F_RX_IP_CKSUM_MASK)
            == u64::from(sys::RTE_MBUF_F_RX_IP_CKSUM_GOOD)
    }

    #[inline(always)]
    pub fn nb_segs(&self) -> u16 {
        self.hdr().nb_segs
    }

    /// The ones-complement sum of the whole packet, across its segments,
    /// as `wire::checksum::sum` of the bytes laid end to end would give
    /// (a segment that starts at an odd offset adds its sum byte-swapped,
    /// RFC 1071 §2(B)). Reads in place: no copy, no allocation.
    #[inline]
    pub fn checksum_sum(&self) -> u32 {
        use crate::wire::checksum;
        let mut acc = 0u32;
        let mut odd = false;
        let mut seg: *const sys::rte_mbuf = self.ptr.as_ptr();
        let mut left = self.nb_segs();
        while !seg.is_null() && left > 0 {
            left -= 1;
            // SAFETY: `seg` is this packet's head or a `next` link of its
            // chain (non-null, checked above), which we own for &self;
            // buf_addr + data_off .. + data_len are its initialised bytes.
            let (data, next) = unsafe {
                let h = &*seg;
                let p = (h.buf_addr as *const u8).add(h.data_off as usize);
                (std::slice::from_raw_parts(p, h.data_len as usize), h.next)
            };
            let s = checksum::fold(checksum::sum(data));
            let s = if odd { s.swap_bytes() } else { s };
            acc = checksum::combine(acc, u32::from(s));
            odd ^= data.len() % 2 == 1;
            seg = next;
        }
        acc
    }

    #[inline(always)]
    pub fn headroom(&self) -> usize {
        self.hdr().data_off as usize
    }

    #[inline(always)]
    pub fn tailroom(&self) -> usize {
        // SAFETY: field read of a valid mbuf (last segment walk in DPDK).
        unsafe { sys::las_mbuf_tailroom(self.ptr.as_ptr()) as usize }
    }

    /// The port the mbuf was received on.
    #[inline(always)]
    pub fn port(&self) -> u16 {
        self.hdr().port
    }

    /// Sets the port field (used to tell a worker where to send an
    /// injected packet).
    #[inline(always)]
    pub fn set_port(&mut self, port: u16) {
        // SAFETY: field write on an mbuf we own uniquely.
        unsafe { self.ptr.as_mut().port = port }
    }

    /// A 32-bit tag one lcore leaves for another that receives the mbuf
    /// through a ring (the worker puts the egress member of a frame it
    /// hands to a session's owning worker here). It lives in the RX hash
    /// field, which nothing reads once the packet is classified.
    #[inline(always)]
    pub fn tag(&self) -> u32 {
        // SAFETY: every variant of the hash union is plain integers, so
        // reading `rss` is defined whatever was written last.
        unsafe { self.hdr().__bindgen_anon_2.hash.rss }
    }

    /// Sets [`Mbuf::tag`].
    #[inline(always)]
    pub fn set_tag(&mut self, tag: u32) {
        // SAFETY: field write on an mbuf we own uniquely.
        unsafe { self.ptr.as_mut().__bindgen_anon_2.hash.rss = tag }
    }

    /// True when another mbuf references the same data (a clone exists),
    /// so the data must not be written.
    #[inline(always)]
    pub fn is_shared(&self) -> bool {
        // SAFETY: field read of a valid mbuf.
        unsafe { sys::las_mbuf_refcnt(self.ptr.as_ptr()) > 1 }
    }

    /// Removes `n` bytes from the front (decapsulation). False if the first
    /// segment is shorter than `n`.
    #[inline(always)]
    pub fn adj(&mut self, n: usize) -> bool {
        if n > u16::MAX as usize {
            return false;
        }
        // SAFETY: rte_pktmbuf_adj checks n against data_len and returns null
        // without changing anything if it does not fit.
        !unsafe { sys::las_pktmbuf_adj(self.ptr.as_ptr(), n as u16) }.is_null()
    }

    /// Removes `n` bytes from the end. False if the last segment is shorter.
    #[inline(always)]
    pub fn trim(&mut self, n: usize) -> bool {
        if n > u16::MAX as usize {
            return false;
        }
        // SAFETY: rte_pktmbuf_trim checks n against the last segment.
        unsafe { sys::las_pktmbuf_trim(self.ptr.as_ptr(), n as u16) == 0 }
    }

    /// Prepends `n` bytes into the headroom (encapsulation) and returns the
    /// whole first segment, starting with the `n` new bytes. None if the
    /// headroom is too small.
    #[inline(always)]
    pub fn prepend(&mut self, n: usize) -> Option<&mut [u8]> {
        // What `rte_pktmbuf_prepend` does, without the call (it runs for
        // every packet sent): the headroom is `data_off`, and
        // `data_off + data_len <= buf_len <= u16::MAX`, so neither
        // length can overflow.
        // SAFETY: `ptr` is a valid mbuf we own uniquely (&mut self); its
        // first segment is its own (see `Mbuf`), so moving its data start
        // back into its headroom touches no other packet's bytes.
        let h = unsafe { self.ptr.as_mut() };
        if n > usize::from(h.data_off) {
            return None;
        }
        let n16 = n as u16;
        h.data_off -= n16;
        h.data_len += n16;
        h.pkt_len += u32::from(n16);
        Some(self.data_mut())
    }

    /// Replaces the first `strip` bytes of a one-segment packet by `n`
    /// new ones in its headroom: `adj(strip)` then `prepend(n)` in one
    /// step, without the call `adj` makes (the fast path's decapsulation
    /// and encapsulation, `Worker::fast_unicast`). Returns the whole
    /// segment, starting with the `n` new bytes; None, with nothing
    /// changed, for a chain, when `strip` exceeds the segment, or when
    /// the headroom after stripping is short of `n`.
    #[inline(always)]
    pub fn reencap(&mut self, strip: usize, n: usize) -> Option<&mut [u8]> {
        // SAFETY: `ptr` is a valid mbuf we own uniquely (&mut self), and
        // its first segment is its own (see `Mbuf`). The checks keep the
        // new data start inside the buffer (`data_off + strip - n >= 0`)
        // and the data end where it was (`data_off + data_len`, within
        // `buf_len <= u16::MAX`), so no length can overflow and no other
        // packet's bytes are touched.
        let h = unsafe { self.ptr.as_mut() };
        let (off, len) = (usize::from(h.data_off), usize::from(h.data_len));
        if h.nb_segs != 1 || strip > len || off + strip < n {
            return None;
        }
        h.data_off = (off + strip - n) as u16;
        h.data_len = (len - strip + n) as u16;
        h.pkt_len = h.pkt_len - strip as u32 + n as u32;
        Some(self.data_mut())
    }

    /// Appends `n` bytes at the tail of a one-segment packet and returns
    /// them. None for a chain (its last segment may be a shared payload,
    /// whose tailroom is another packet's) or without the tailroom.
    #[inline]
    pub fn append(&mut self, n: usize) -> Option<&mut [u8]> {
        if n > u16::MAX as usize || self.nb_segs() != 1 {
            return None;
        }
        // SAFETY: rte_pktmbuf_append checks the tailroom; on success the
        // returned pointer addresses `n` bytes owned by this mbuf.
        unsafe {
            let p = sys::las_pktmbuf_append(self.ptr.as_ptr(), n as u16);
            if p.is_null() {
                None
            } else {
                Some(std::slice::from_raw_parts_mut(p as *mut u8, n))
            }
        }
    }

    /// Copies the whole packet (all segments) into fresh mbuf(s) from `pool`.
    #[inline]
    pub fn copy(&self, pool: &Mempool) -> Option<Mbuf> {
        deep_copy(self.ptr, pool)
    }

    /// Fills the empty `out` with up to `n` (at most `MAX_BURST`) copies
    /// of the whole packet from `pool`, for a flood; returns how many it
    /// made (fewer when the pool runs short). A one-segment packet takes
    /// one bulk allocation for all of them (`las_pktmbuf_copy_bulk`).
    #[inline]
    pub fn copies_into(&self, pool: &Mempool, n: usize, out: &mut Burst) -> usize {
        let n = n.min(MAX_BURST);
        // Frees anything `out` still held (`fill_ptr` forgets it).
        while out.pop().is_some() {}
        let slots = out.fill_ptr();
        // SAFETY: `self` is a valid mbuf, only read; `slots` has room for
        // MAX_BURST >= n pointers, of which the shim writes the first
        // `made`, each a new mbuf we own and hand to `out`.
        let made = unsafe {
            sys::las_pktmbuf_copy_bulk(self.ptr.as_ptr(), pool.as_ptr(), slots, n as u32)
        } as usize;
        // SAFETY: the shim wrote the first `made` slots, each a new mbuf.
        unsafe { out.set_len(made) };
        made
    }

    /// Makes the packet's data shareable (read-only from now on): see
    /// [`SharedMbuf`].
    #[inline]
    pub fn share(self) -> SharedMbuf {
        let ptr = self.ptr;
        std::mem::forget(self);
        SharedMbuf { ptr }
    }

    /// Appends `tail` as further segments of `self`. Gives `tail` back if
    /// the chain would be too long.
    #[inline]
    pub fn chain(&mut self, tail: Mbuf) -> Result<(), Mbuf> {
        let t = tail.into_raw();
        // SAFETY: both valid; on success `self` owns `t`, on failure nothing
        // changed and we take `t` back.
        unsafe {
            if sys::las_pktmbuf_chain(self.ptr.as_ptr(), t) == 0 {
                Ok(())
            } else {
                // Unwrap: `t` came from a live Mbuf, so it is not null.
                Err(Mbuf::from_raw(t).expect("non-null"))
            }
        }
    }

    /// Makes the packet one contiguous segment if it fits. False otherwise.
    pub fn linearize(&mut self) -> bool {
        if self.nb_segs() == 1 {
            return true;
        }
        // SAFETY: valid mbuf we own uniquely.
        unsafe { sys::las_pktmbuf_linearize(self.ptr.as_ptr()) == 0 }
    }

    /// Makes the first `len` bytes of the packet (all of it, if shorter)
    /// contiguous in the first segment, moving bytes from the following
    /// segments into its tailroom as far as it has room. Returns true if
    /// they are now there. Does nothing to a shared or indirect first
    /// segment.
    pub fn pullup(&mut self, len: usize) -> bool {
        let want = len.min(self.pkt_len());
        if self.data_len() >= want {
            return true;
        }
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        // SAFETY: valid mbuf we own; the shim only moves bytes between its
        // own segments and frees segments it empties (it checks that the
        // first segment is direct and unshared before writing to it).
        let have = unsafe { sys::las_pktmbuf_pullup(self.ptr.as_ptr(), len) };
        usize::from(have) >= want
    }

    /// Copies `buf.len()` bytes at offset `off` of the packet (across
    /// segments) into `buf`. False if the packet is too short.
    pub fn read_into(&self, off: usize, buf: &mut [u8]) -> bool {
        let len = buf.len();
        if off.checked_add(len).is_none_or(|end| end > self.pkt_len()) {
            return false;
        }
        // SAFETY: range checked above; rte_pktmbuf_read returns a pointer to
        // `len` readable bytes (either inside the mbuf or in `buf`).
        unsafe {
            let p = sys::las_pktmbuf_read(
                self.ptr.as_ptr(),
                off as u32,
                len as u32,
                buf.as_mut_ptr() as *mut core::ffi::c_void,
            ) as *const u8;
            if p.is_null() {
                return false;
            }
            if p != buf.as_ptr() {
                std::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), len);
            }
        }
        true
    }

    /// Prefetches the first cache line of packet data.
    #[inline(always)]
    pub fn prefetch_data(&self) {
        super::prefetch0(&self.data()[0..0]);
    }
}

impl Drop for Mbuf {
    #[inline(always)]
    fn drop(&mut self) {
        // SAFETY: we own the mbuf (chain); freeing returns it to its pool.
        unsafe { sys::las_pktmbuf_free(self.ptr.as_ptr()) }
    }
}

/// A copy of the whole packet at `src` (all segments, only read) into
/// fresh mbufs from `pool`.
#[inline]
fn deep_copy(src: NonNull<sys::rte_mbuf>, pool: &Mempool) -> Option<Mbuf> {
    // SAFETY: `src` is a valid mbuf its caller holds; it is only read; the
    // result is a new chain we own, or null.
    unsafe {
        Mbuf::from_raw(sys::rte_pktmbuf_copy(
            src.as_ptr(),
            pool.as_ptr(),
            0,
            u32::MAX,
        ))
    }
}

/// Packet data shared by reference count between several packets (flood
/// copies): it can be read, cloned, and sent behind a header of its own,
/// never written.
pub struct SharedMbuf {
    ptr: NonNull<sys::rte_mbuf>,
}

// SAFETY: DPDK's mbuf reference count is atomic, and nothing writes the
// shared data (no method hands out `&mut` to it); each handle is owned by
// one thread at a time.
unsafe impl Send for SharedMbuf {}

impl SharedMbuf {
    /// Bytes of the first segment.
    #[inline(always)]
    pub fn data(&self) -> &[u8] {
        // SAFETY: `ptr` is a valid mbuf we hold a reference to; its bytes
        // are initialised and nobody writes them while shared.
        unsafe {
            let h = self.ptr.as_ref();
            let p = (h.buf_addr as *const u8).add(h.data_off as usize);
            std::slice::from_raw_parts(p, h.data_len as usize)
        }
    }

    #[inline(always)]
    pub fn pkt_len(&self) -> usize {
        // SAFETY: field read of a valid mbuf.
        unsafe { self.ptr.as_ref().pkt_len as usize }
    }

    /// A deep copy of the whole packet into fresh mbufs of its own.
    #[inline]
    pub fn copy(&self, pool: &Mempool) -> Option<Mbuf> {
        deep_copy(self.ptr, pool)
    }

    /// One more packet sharing this data (an indirect mbuf from `pool`).
    #[inline]
    pub fn clone_indirect(&self, pool: &Mempool) -> Option<SharedMbuf> {
        // SAFETY: source valid; the result is a new indirect chain we own.
        let p = unsafe { sys::rte_pktmbuf_clone(self.ptr.as_ptr(), pool.as_ptr()) };
        NonNull::new(p).map(|ptr| SharedMbuf { ptr })
    }

    /// The shared data as the tail of `hdr` (a segment of its own, for
    /// the headers to prepend): an `Mbuf` whose first segment is `hdr`'s.
    /// Gives both back if the chain would be too long.
    #[inline]
    pub fn behind(self, hdr: Mbuf) -> Result<Mbuf, (Mbuf, SharedMbuf)> {
        let tail = self.ptr;
        std::mem::forget(self);
        // SAFETY: both valid; on success `hdr` owns the reference `tail`
        // (only read from now on: Mbuf never writes past its first
        // segment, `append` refuses chains); on failure nothing changed.
        if unsafe { sys::las_pktmbuf_chain(hdr.ptr.as_ptr(), tail.as_ptr()) } == 0 {
            Ok(hdr)
        } else {
            Err((hdr, SharedMbuf { ptr: tail }))
        }
    }

    /// The data as an ordinary `Mbuf` again, when this is the last
    /// reference to a direct (not indirect) mbuf; itself otherwise.
    #[inline]
    pub fn into_exclusive(self) -> Result<Mbuf, SharedMbuf> {
        // SAFETY: field reads of a valid mbuf.
        let alone = unsafe {
            sys::las_mbuf_refcnt(self.ptr.as_ptr()) == 1
                && sys::las_mbuf_is_direct(self.ptr.as_ptr())
        };
        if !alone {
            return Err(self);
        }
        let ptr = self.ptr;
        std::mem::forget(self);
        // The last reference to a direct mbuf: nobody else sees it.
        Ok(Mbuf { ptr })
    }
}

impl Drop for SharedMbuf {
    #[inline(always)]
    fn drop(&mut self) {
        // SAFETY: drops our reference; the data is freed with the last.
        unsafe { sys::las_pktmbuf_free(self.ptr.as_ptr()) }
    }
}

/// A fixed array of up to MAX_BURST owned mbufs, filled by `rx_burst`, a
/// ring dequeue or `Mbuf::copies_into` and emptied by `pop`. No
/// allocation, and no initialisation of the slots either (one lives on
/// the stack of every short flood): only the first `len`, which the filler
/// wrote, are ever read.
pub struct Burst {
    pkts: [MaybeUninit<*mut sys::rte_mbuf>; MAX_BURST],
    len: usize,
    pos: usize,
}

// SAFETY: holds owned mbufs only (see Mbuf's Send).
unsafe impl Send for Burst {}

impl Default for Burst {
    fn default() -> Self {
        Self::new()
    }
}

impl Burst {
    pub const fn new() -> Burst {
        Burst {
            // SAFETY: an array of `MaybeUninit` needs no initialisation
            // (written this way, not as `[MaybeUninit::uninit(); N]`,
            // which rustc lowers to a memset of the whole array).
            pkts: unsafe { MaybeUninit::uninit().assume_init() },
            len: 0,
            pos: 0,
        }
    }

    /// Mbufs not yet taken.
    #[inline(always)]
    pub fn remaining(&self) -> usize {
        self.len - self.pos
    }

    /// Empties the burst (forgetting any mbufs not taken: callers fill
    /// only an empty one) and gives its MAX_BURST slots to fill.
    #[inline(always)]
    pub(crate) fn fill_ptr(&mut self) -> *mut *mut sys::rte_mbuf {
        debug_assert_eq!(self.remaining(), 0);
        self.pos = 0;
        self.len = 0;
        // `MaybeUninit<T>` has the layout of `T`.
        self.pkts.as_mut_ptr().cast()
    }

    /// Makes the first `n` slots (at most MAX_BURST) the burst.
    ///
    /// # Safety
    /// Since the last `fill_ptr`, the first `n` slots were written, each
    /// with a valid mbuf that nobody else owns.
    #[inline(always)]
    pub(crate) unsafe fn set_len(&mut self, n: usize) {
        self.len = n.min(MAX_BURST);
        self.pos = 0;
    }

    /// Takes the next mbuf, prefetching the data of the one `ahead` after it.
    #[inline(always)]
    pub fn pop(&mut self) -> Option<Mbuf> {
        let m = self.take()?;
        if self.pos + 2 < self.len {
            // SAFETY: the slot is below `len`, so inside `pkts` (only
            // `fill_ptr` and `set_len` write `len`, never above
            // MAX_BURST) and written, and holds a valid mbuf we own; we
            // only compute its data address for a prefetch hint, which
            // never faults.
            unsafe {
                let h = &*self.pkts.get_unchecked(self.pos + 2).assume_init();
                super::prefetch0(&*(h.buf_addr as *const u8).add(h.data_off as usize));
            }
        }
        Some(m)
    }

    /// Takes the next mbuf, without `pop`'s prefetch: for mbufs just
    /// made here (`Mbuf::copies_into`), whose data is in cache already.
    #[inline(always)]
    pub fn take(&mut self) -> Option<Mbuf> {
        if self.pos >= self.len {
            return None;
        }
        // SAFETY: slots below `len` are inside `pkts` (`len` is at most
        // MAX_BURST: `fill_ptr` and `set_len` are its only writers) and
        // were written (`set_len`'s contract).
        let p = unsafe { self.pkts.get_unchecked(self.pos).assume_init() };
        self.pos += 1;
        // SAFETY: slots in pos..len hold mbufs we own; each is taken once.
        unsafe { Mbuf::from_raw(p) }
    }
}

impl Drop for Burst {
    fn drop(&mut self) {
        while self.take().is_some() {}
    }
}

/// Mbufs collected for one TX queue, sent with one `tx_burst`.
pub struct TxBuffer {
    pkts: [*mut sys::rte_mbuf; MAX_BURST],
    len: usize,
    /// Bytes (pkt_len) of the queued mbufs.
    bytes: u64,
}

// SAFETY: holds owned mbufs only.
unsafe impl Send for TxBuffer {}

impl Default for TxBuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl TxBuffer {
    pub const fn new() -> TxBuffer {
        TxBuffer {
            pkts: [std::ptr::null_mut(); MAX_BURST],
            len: 0,
            bytes: 0,
        }
    }

    #[inline(always)]
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline(always)]
    pub fn is_full(&self) -> bool {
        self.len == MAX_BURST
    }

    /// Queues `m`; gives it back when full (the caller flushes and retries).
    #[inline(always)]
    pub fn push(&mut self, m: Mbuf) -> Result<(), Mbuf> {
        if self.len == MAX_BURST {
            return Err(m);
        }
        self.bytes += m.pkt_len() as u64;
        self.pkts[self.len] = m.into_raw();
        self.len += 1;
        Ok(())
    }

    #[inline(always)]
    pub(crate) fn raw(&mut self) -> (*mut *mut sys::rte_mbuf, usize) {
        (self.pkts.as_mut_ptr(), self.len)
    }

    /// After a partial send of `sent`, frees the rest. Returns the bytes
    /// sent and how many mbufs were freed unsent.
    #[inline(always)]
    pub(crate) fn consume(&mut self, sent: usize) -> (u64, usize) {
        let sent = sent.min(self.len);
        let rest = self.len - sent;
        let mut unsent_bytes = 0;
        for i in sent..self.len {
            // SAFETY: slots sent..len still hold mbufs we own.
            if let Some(m) = unsafe { Mbuf::from_raw(self.pkts[i]) } {
                unsent_bytes += m.pkt_len() as u64;
            }
        }
        let sent_bytes = self.bytes.saturating_sub(unsent_bytes);
        self.len = 0;
        self.bytes = 0;
        (sent_bytes, rest)
    }
}

impl Drop for TxBuffer {
    fn drop(&mut self) {
        self.consume(0);
    }
}

#[cfg(test)]
mod test {
    use super::sys;

    /// The fast path reads mbuf fields through bindgen's layout; make sure
    /// it is the 128-byte, two-cache-line struct DPDK documents.
    #[test]
    fn mbuf_layout() {
        assert_eq!(std::mem::size_of::<sys::rte_mbuf>(), 128);
        assert_eq!(std::mem::offset_of!(sys::rte_mbuf, data_off), 16);
        assert_eq!(std::mem::offset_of!(sys::rte_mbuf, pkt_len), 36);
        assert_eq!(std::mem::offset_of!(sys::rte_mbuf, data_len), 40);
    }
}
