//! Outer IPv4 reassembly and fragmentation (`rte_ip_frag`).
use super::error::{DpdkError, Result};
use super::mbuf::Mbuf;
use super::mempool::Mempool;
use super::sys;
use std::ptr::NonNull;

/// Most fragments `fragment_ipv4` can produce, and the most a reassembled
/// packet may have (`RTE_LIBRTE_IP_FRAG_MAX_FRAG`).
pub fn max_fragments() -> usize {
    // SAFETY: returns a compile-time constant.
    unsafe { sys::las_ip_frag_max_frag() as usize }
}

/// A per-worker reassembly table with its death row (fragments the
/// library gave up on, freed after each call).
pub struct FragTable {
    tbl: NonNull<sys::rte_ip_frag_tbl>,
    dr: Box<sys::rte_ip_frag_death_row>,
    /// Fragments freed because reassembly failed or timed out.
    dropped: u64,
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
        Ok(FragTable {
            tbl,
            dr: Box::new(sys::rte_ip_frag_death_row::default()),
            dropped: 0,
        })
    }

    /// Hands over an IPv4 fragment whose IP header starts `l2_len` bytes
    /// into its first segment (the caller checked the header is there and
    /// valid). Returns the whole packet once every fragment has arrived:
    /// data from the first fragment's Ethernet header on, later fragments
    /// chained as further segments, IP total length updated.
    #[inline]
    pub fn reassemble(
        &mut self,
        mut m: Mbuf,
        l2_len: u16,
        l3_len: u16,
        now_tsc: u64,
    ) -> Option<Mbuf> {
        m.set_l2_l3(l2_len, l3_len);
        let ip = m.data_mut()[l2_len as usize..].as_mut_ptr() as *mut sys::rte_ipv4_hdr;
        let raw = m.into_raw();
        // SAFETY: `raw` is a valid mbuf whose IPv4 header is at `ip` inside
        // its first segment; the library takes ownership of it (keeping it,
        // returning it in a chain, or putting it on the death row, which we
        // free below).
        let out = unsafe {
            sys::rte_ipv4_frag_reassemble_packet(self.tbl.as_ptr(), &mut *self.dr, raw, now_tsc, ip)
        };
        self.free_death_row();
        // SAFETY: a non-null result is a complete packet we now own.
        unsafe { Mbuf::from_raw(out) }
    }

    /// Frees what the library put on the death row.
    #[inline]
    pub fn free_death_row(&mut self) {
        if self.dr.cnt > 0 {
            self.dropped += u64::from(self.dr.cnt);
            // SAFETY: the death row holds mbufs the library handed back to us.
            unsafe { sys::rte_ip_frag_free_death_row(&mut *self.dr, 0) }
        }
    }

    /// Drops packets whose reassembly timed out.
    pub fn expire(&mut self, now_tsc: u64) {
        // SAFETY: valid table and death row.
        unsafe {
            sys::rte_ip_frag_table_del_expired_entries(self.tbl.as_ptr(), &mut *self.dr, now_tsc)
        }
        self.free_death_row();
    }

    /// Fragments freed so far (timeouts, overlaps, table full).
    pub fn dropped(&self) -> u64 {
        self.dropped
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
