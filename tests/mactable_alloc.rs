//! The MAC table allocates nothing after construction: a counting global
//! allocator (per thread, so the test harness's other threads do not
//! count) sees no allocation while ten times the table's capacity of
//! distinct MACs is learned, looked up, aged out and flushed.
use las::switch::{Learn, MacTable, MemberId, SwitchId};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards every call to the system allocator unchanged; the
// thread-local counter is a const-initialised Cell (no allocation).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(|c| c.get())
}

#[test]
fn churn_allocates_nothing() {
    const CAP: usize = 4096;
    let s = SwitchId(0);
    let mut t = MacTable::with_domains(CAP, 16, 4, 16);
    t.set_domain(SwitchId(5), s);
    let bytes = t.bytes();
    let before = allocs();
    let mut learned = 0u64;
    for round in 0..10u64 {
        for i in 0..CAP as u64 {
            let mac = 0x0200_0000_0000 | (round << 24) | i;
            let d = if i % 2 == 0 { s } else { SwitchId(5) };
            let m = MemberId(1 + (i % 12) as u16);
            if t.learn(d, mac, m, round as u32, 5) == Learn::New {
                learned += 1;
            }
            assert_eq!(t.lookup(d, mac), Some(m));
        }
        match round % 3 {
            0 => {
                for i in 0..CAP as u64 {
                    let d = if i % 2 == 0 { s } else { SwitchId(5) };
                    t.remove(d, 0x0200_0000_0000 | (round << 24) | i);
                }
            }
            1 => (1..13).for_each(|m| t.flush_member(MemberId(m))),
            _ => t.flush_switch(s),
        }
        assert_eq!(t.len(), 0);
    }
    let after = allocs();
    assert_eq!(learned, 10 * CAP as u64);
    assert_eq!(after - before, 0, "allocations during churn");
    assert_eq!(t.bytes(), bytes);
    // The counter works: a Vec allocates.
    let v: Vec<u8> = Vec::with_capacity(std::hint::black_box(16));
    assert!(allocs() > after);
    drop(v);
}
