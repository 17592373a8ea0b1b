//! Outer IPv4 and IPv6 reassembly, IPv4 fragmentation (`rte_ip_frag`).
//!
//! IPv6: DPDK reassembles only a Fragment header right after the fixed
//! header (it rewrites that header's Next Header and removes the
//! Fragment header), so `worker::classify6` hands over only those.
//! Exact duplicate fragments of either family are dropped before DPDK,
//! which would fail their datagram (`wire::ip_frag`).
use super::error::{DpdkError, Result};
use super::mbuf::Mbuf;
use super::mempool::Mempool;
use super::sys;
use crate::wire::ip_frag::{DuplicateFilter, Fragment, Seen};
use std::ptr::NonNull;

/// Most fragments `fragment_ipv4` can produce, and the most a reassembled
/// packet may have (`RTE_LIBRTE_IP_FRAG_MAX_FRAG`).
pub fn max_fragments() -> usize {
    // SAFETY: returns a compile-time constant.
    unsafe { sys::las_ip_frag_max_frag() as usize }
}

/// Bytes of a reassembled packet made contiguous in its first segment (as
/// far as its tailroom allows): everything, for packets up to an mbuf's
/// size, as a received packet has it. Classification, decapsulation and
/// the switch's policy read headers from the first segment only.
const PULLUP: usize = 64 * 1024;

/// What became of a fragment handed to [`FragTable::reassemble`].
pub enum Reassembly {
    /// Kept until the rest arrives (or freed: see [`FragTable::dropped`]).
    Held,
    /// An exact duplicate of a fragment already held: freed, never handed
    /// to DPDK (see [`crate::wire::ip_frag`]).
    Duplicate,
    /// It completed a packet of `fragments` fragments.
    Done { packet: Mbuf, fragments: u64 },
}

/// A per-worker reassembly table with its death row (fragments the
/// library gave up on, freed after each call).
///
/// Accounting: every fragment handed in is, at any time, either held
/// ([`FragTable::held`]), freed ([`FragTable::dropped`], or the return of
/// [`FragTable::drain`]), or part of a packet returned in
/// [`Reassembly::Done`] (counted there). Each fragment is made one segment
/// before it goes in, so a returned chain's segments are its fragments.
pub struct FragTable {
    tbl: NonNull<sys::rte_ip_frag_tbl>,
    dr: Box<sys::rte_ip_frag_death_row>,
    /// Fragments freed because reassembly failed or timed out.
    dropped: u64,
    /// Fragments held by the table.
    held: u64,
    dups: DuplicateFilter,
}

// SAFETY: the table is used by the one worker that owns it; it moves to
// that worker's lcore once, before use.
unsafe impl Send for FragTable {}

impl FragTable {
    /// `max_flows` packets in reassembly at once, each complete within
    /// `timeout_cycles` TSC cycles.
    pub fn new(max_flows: u32, timeout_cycles: u64, socket: i32) -> Result<FragTable> {
        let entries = 16u32;
        let buckets = (max_flows.max(entries) / entries).next_power_of_two();
        // SAFETY: plain constructor; returns null on failure.
        let p = unsafe {
            sys::rte_ip_frag_table_create(buckets, entries, max_flows, timeout_cycles, socket)
        };
        let tbl = NonNull::new(p).ok_or_else(|| {
            DpdkError::from_errno(format!("rte_ip_frag_table_create({max_flows} flows)"))
        })?;
        let mut seed = [0u8; 8];
        let _ = getrandom::fill(&mut seed);
        let seed = u64::from_ne_bytes(seed) ^ super::tsc();
        Ok(FragTable {
            tbl,
            dr: Box::new(sys::rte_ip_frag_death_row::default()),
            dropped: 0,
            held: 0,
            dups: DuplicateFilter::new(max_flows as usize, timeout_cycles, seed),
        })
    }

    /// Hands over an IPv4 fragment whose IP header starts `l2_len` bytes
    /// into its first segment (the caller checked the header is there and
    /// valid). Once every fragment has arrived, returns the whole packet
    /// as valid as a received one: data from the first fragment's
    /// Ethernet header on, IP total length and flags rewritten by DPDK,
    /// the header checksum (which DPDK leaves 0) filled in, and the bytes
    /// pulled into the first segment as far as it has room.
    #[inline]
    pub fn reassemble(
        &mut self,
        mut m: Mbuf,
        l2_len: u16,
        l3_len: u16,
        now_tsc: u64,
    ) -> Reassembly {
        let frag = Fragment::parse(&m.data()[usize::from(l2_len)..]);
        if self.is_duplicate(frag.as_ref(), now_tsc) {
            return Reassembly::Duplicate;
        }
        // One segment per fragment: DPDK chains fragments, and this makes
        // a reassembled chain's segment count its fragment count.
        if !m.linearize() {
            self.dropped += 1;
            self.forget(frag.as_ref());
            return Reassembly::Held;
        }
        m.set_l2_l3(l2_len, l3_len);
        let ip = m.data_mut()[l2_len as usize..].as_mut_ptr() as *mut sys::rte_ipv4_hdr;
        let raw = m.into_raw();
        self.held += 1;
        // SAFETY: `raw` is a valid mbuf whose IPv4 header is at `ip` inside
        // its first segment; the library takes ownership of it (keeping it,
        // returning it in a chain, or putting it on the death row, which we
        // free below).
        let out = unsafe {
            sys::rte_ipv4_frag_reassemble_packet(self.tbl.as_ptr(), &mut *self.dr, raw, now_tsc, ip)
        };
        if self.free_death_row() > 0 {
            // DPDK gave up on something (this datagram, or a stale one it
            // evicted): forget this datagram's fragments, so a later copy
            // is never called a duplicate of a fragment DPDK let go.
            self.forget(frag.as_ref());
        }
        // SAFETY: a non-null result is a complete packet we now own.
        let Some(mut packet) = (unsafe { Mbuf::from_raw(out) }) else {
            return Reassembly::Held;
        };
        self.forget(frag.as_ref());
        let fragments = u64::from(packet.nb_segs());
        self.held = self.held.saturating_sub(fragments);
        packet.pullup(PULLUP);
        let l2 = usize::from(l2_len);
        let l3 = usize::from(l3_len);
        if let Some(h) = packet.data_mut().get_mut(l2..l2 + l3) {
            crate::wire::ipv4::Packet::new_unchecked(h).fill_checksum();
        }
        Reassembly::Done { packet, fragments }
    }

    /// Hands over an IPv6 fragment whose IPv6 header starts `l2_len`
    /// bytes into its first segment, followed at once by its Fragment
    /// header (the caller checked both are there and valid). Once every
    /// fragment has arrived, returns the whole packet as valid as a
    /// received one: the Fragment header removed, payload length and
    /// next header rewritten by DPDK, the bytes pulled into the first
    /// segment as far as it has room.
    #[inline]
    pub fn reassemble6(&mut self, mut m: Mbuf, l2_len: u16, now_tsc: u64) -> Reassembly {
        const IP6: usize = 40;
        const FRAG: usize = 8;
        let l2 = usize::from(l2_len);
        let frag = m.data().get(l2..).and_then(Fragment::parse6);
        if self.is_duplicate(frag.as_ref(), now_tsc) {
            return Reassembly::Duplicate;
        }
        // One segment per fragment, as for IPv4.
        if m.data().len() < l2 + IP6 + FRAG || !m.linearize() {
            self.dropped += 1;
            self.forget(frag.as_ref());
            return Reassembly::Held;
        }
        m.set_l2_l3(l2_len, (IP6 + FRAG) as u16);
        let ip = m.data_mut()[l2..].as_mut_ptr();
        let ip_hdr = ip as *mut sys::rte_ipv6_hdr;
        // SAFETY: the first segment holds l2 + 48 bytes (checked above);
        // the Fragment header is the 8 bytes after the 40-byte header.
        let frag_hdr = unsafe { ip.add(IP6) } as *mut sys::rte_ipv6_fragment_ext;
        let raw = m.into_raw();
        self.held += 1;
        // SAFETY: `raw` is a valid mbuf whose IPv6 and Fragment headers
        // are at `ip_hdr` and `frag_hdr` inside its first segment; the
        // library takes ownership of it (keeping it, returning it in a
        // chain, or putting it on the death row, which we free below).
        let out = unsafe {
            sys::rte_ipv6_frag_reassemble_packet(
                self.tbl.as_ptr(),
                &mut *self.dr,
                raw,
                now_tsc,
                ip_hdr,
                frag_hdr,
            )
        };
        if self.free_death_row() > 0 {
            // As for IPv4: DPDK let something go; a later copy of this
            // datagram's fragments is not a duplicate.
            self.forget(frag.as_ref());
        }
        // SAFETY: a non-null result is a complete packet we now own.
        let Some(mut packet) = (unsafe { Mbuf::from_raw(out) }) else {
            return Reassembly::Held;
        };
        self.forget(frag.as_ref());
        let fragments = u64::from(packet.nb_segs());
        self.held = self.held.saturating_sub(fragments);
        packet.pullup(PULLUP);
        Reassembly::Done { packet, fragments }
    }

    /// Whether `frag` (None: not parsed, let DPDK judge) exactly repeats
    /// a fragment handed over before; if not, it is recorded.
    #[inline]
    fn is_duplicate(&mut self, frag: Option<&Fragment>, now_tsc: u64) -> bool {
        frag.is_some_and(|f| self.dups.check(f, now_tsc) == Seen::Duplicate)
    }

    /// Forgets the fragments recorded of `frag`'s datagram: DPDK completed
    /// it or let it go.
    #[inline]
    fn forget(&mut self, frag: Option<&Fragment>) {
        if let Some(f) = frag {
            self.dups.forget(&f.key);
        }
    }

    /// Frees what the library put on the death row; returns how many.
    #[inline]
    fn free_death_row(&mut self) -> u64 {
        let n = u64::from(self.dr.cnt);
        if n > 0 {
            self.dropped += n;
            self.held = self.held.saturating_sub(n);
            // SAFETY: the death row holds mbufs the library handed back to us.
            unsafe { sys::rte_ip_frag_free_death_row(&mut *self.dr, 0) }
        }
        n
    }

    /// Drops packets whose reassembly timed out.
    pub fn expire(&mut self, now_tsc: u64) {
        // SAFETY: valid table and death row.
        unsafe {
            sys::rte_ip_frag_table_del_expired_entries(self.tbl.as_ptr(), &mut *self.dr, now_tsc)
        }
        self.free_death_row();
    }

    /// Frees every fragment still held (at shutdown) and returns how many;
    /// they are not added to [`FragTable::dropped`].
    pub fn drain(&mut self) -> u64 {
        let before = self.dropped;
        // Everything is expired at the end of time. The death row takes a
        // bounded number of fragments per call, so repeat until the table
        // gives nothing more.
        loop {
            let n = self.dropped;
            self.expire(u64::MAX);
            if self.dropped == n {
                break;
            }
        }
        let freed = self.dropped - before;
        self.dropped = before;
        freed
    }

    /// Fragments freed so far (timeouts, overlaps, table full).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Fragments held now.
    pub fn held(&self) -> u64 {
        self.held
    }
}

impl Drop for FragTable {
    fn drop(&mut self) {
        self.free_death_row();
        // SAFETY: the table is ours; destroying it frees held fragments.
        unsafe { sys::rte_ip_frag_table_destroy(self.tbl.as_ptr()) }
    }
}

/// Splits the IPv4 packet `m` (data starting at its IP header) into
/// fragments of at most `mtu` bytes, each a fresh header mbuf from
/// `direct` chained to an indirect mbuf from `indirect` over `m`'s
/// payload. Writes them to `out` and returns how many; `m` is consumed.
/// The fragments' IP checksums are left 0 for the caller to fill.
pub fn fragment_ipv4(
    m: Mbuf,
    mtu: u16,
    direct: &Mempool,
    indirect: &Mempool,
    out: &mut [Option<Mbuf>],
) -> Result<usize> {
    let mut raw: [*mut sys::rte_mbuf; 16] = [std::ptr::null_mut(); 16];
    let n = out.len().min(raw.len());
    // SAFETY: `m` is a valid packet starting at its IP header; `raw` has
    // room for `n` results, which become ours. The input is not consumed by
    // the library (it takes references to its data), so we drop it after.
    let ret = unsafe {
        sys::rte_ipv4_fragment_packet(
            m.as_raw(),
            raw.as_mut_ptr(),
            n as u16,
            mtu,
            direct.as_ptr(),
            indirect.as_ptr(),
        )
    };
    drop(m);
    if ret < 0 {
        return Err(DpdkError::from_ret("rte_ipv4_fragment_packet", ret));
    }
    for (i, slot) in out.iter_mut().enumerate().take(ret as usize) {
        // SAFETY: the first `ret` entries are new mbufs we own.
        *slot = unsafe { Mbuf::from_raw(raw[i]) };
    }
    Ok(ret as usize)
}
