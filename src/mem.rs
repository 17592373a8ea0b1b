//! Memory for the tables the fast path indexes at random (the MAC table,
//! the session index), laid out for huge pages without `unsafe`.
//!
//! A table of `HUGE_PAGE / 2` bytes or more starts on a huge-page
//! boundary and owns whole huge pages, so that `madvise(MADV_HUGEPAGE)`
//! (`dpdk::advise_hugepages`, which rounds inward to 2 MiB) covers all of
//! it: one TLB entry per 2 MiB instead of per 4 KiB. Before this, a table
//! started wherever `calloc` put it and lost its first and last partial
//! huge pages: a quarter of an 8 MiB table, all of a 1 MiB one. On this
//! project's VM a dependent random read of a 64 MiB table costs 425–465
//! cycles in huge pages and 550–635 in 4 KiB pages (`perf/memlat.c`;
//! perf/README.md, "Huge pages and lagged lookups").
//!
//! The allocation is a zeroed `Vec<u64>` one huge page longer than
//! needed; the table uses the aligned words from `base` on. `vec![0; n]`
//! is one `calloc`, whose big blocks are fresh pages: the words before
//! `base` are never written, so they are address space, not memory.

/// A transparent huge page on x86-64 (and arm64 with 4 KiB base pages).
pub const HUGE_PAGE: usize = 2 << 20;

const CACHE_LINE: usize = 64;

/// `len` zeroed words for a table: the allocation and the index of the
/// table's first word in it. The table is `mem[base..base + len]`;
/// [`span`] says how much of `mem` from `base` to advise for huge pages.
pub fn zeroed_words(len: usize) -> (Vec<u64>, usize) {
    let align = if huge(len) { HUGE_PAGE } else { CACHE_LINE };
    let mem = vec![0u64; span(len) + align / 8];
    let addr = mem.as_ptr() as usize;
    let base = (align - addr % align) % align / 8;
    (mem, base)
}

/// Words from `base` that belong to a table of `len` words: `len`
/// rounded up to whole huge pages for a table big enough to want them
/// (the rest of its last huge page is never used, but advising it
/// lets the kernel back the whole page at once).
pub fn span(len: usize) -> usize {
    if huge(len) {
        len.next_multiple_of(HUGE_PAGE / 8)
    } else {
        len
    }
}

/// Writes every 4 KiB page of `words` once (values unchanged), so that no
/// first-touch page fault is left for the fast path.
pub fn prefault(words: &mut [u64]) {
    for w in words.iter_mut().step_by(512) {
        *w = std::hint::black_box(*w);
    }
}

/// Where the kernel says whether it gives transparent huge pages.
pub const THP_SYSFS: &str = "/sys/kernel/mm/transparent_hugepage/enabled";

/// The selected mode in the text of [`THP_SYSFS`] (`always [madvise]
/// never` → `madvise`); None when there is no bracketed word.
pub fn thp_mode(text: &str) -> Option<&str> {
    text.split_whitespace()
        .find_map(|w| w.strip_prefix('[')?.strip_suffix(']'))
}

fn huge(len: usize) -> bool {
    len.saturating_mul(8) >= HUGE_PAGE / 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_tables_start_on_a_huge_page_and_own_whole_pages() {
        for len in [
            HUGE_PAGE / 16,
            HUGE_PAGE / 8,
            3 * HUGE_PAGE / 8 + 5,
            1 << 20,
        ] {
            let (mem, base) = zeroed_words(len);
            let start = mem[base..].as_ptr() as usize;
            assert_eq!(start % HUGE_PAGE, 0, "len {len}");
            assert!(base + span(len) <= mem.len(), "len {len}");
            assert_eq!(span(len) * 8 % HUGE_PAGE, 0, "len {len}");
            assert!(span(len) >= len);
            assert!(mem.iter().all(|&w| w == 0));
        }
    }

    #[test]
    fn thp_mode_is_the_bracketed_word() {
        // The first as this machine's Linux 6.18 writes the file.
        assert_eq!(thp_mode("always [madvise] never\n"), Some("madvise"));
        assert_eq!(thp_mode("[always] madvise never\n"), Some("always"));
        assert_eq!(thp_mode("always madvise [never]\n"), Some("never"));
        assert_eq!(thp_mode(""), None);
        assert_eq!(thp_mode("always madvise never"), None);
    }

    #[test]
    fn small_tables_start_on_a_cache_line_and_are_not_rounded() {
        for len in [1, 8, 100, HUGE_PAGE / 16 - 1] {
            let (mem, base) = zeroed_words(len);
            assert_eq!(mem[base..].as_ptr() as usize % CACHE_LINE, 0, "len {len}");
            assert_eq!(span(len), len);
            assert!(base + len <= mem.len());
            assert!(mem.len() < len + CACHE_LINE, "len {len}: no huge padding");
        }
    }
}
