//! The zero-copy views allocate nothing: validating the standard fixtures
//! (512 spans, 100 metric points, 512 log records) and walking every item
//! they hold (`fixtures::walk`: every attribute, nested value, event, link,
//! point, bucket and record) takes 0 heap blocks.
//!
//! A binary of its own because it installs a global allocator. The
//! allocator counts the blocks each thread allocates, rather than the
//! process's (as dhat does): the test harness's own threads allocate now
//! and then, which would make a process-wide count of 0 flaky.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;

use otlp_pipeline::encode::direct;
use otlp_pipeline::encode::view::*;
use otlp_pipeline::fixtures::{self, walk};

/// The system allocator, counting the blocks allocated by each thread.
struct Counting;

thread_local! {
    /// Blocks allocated (or reallocated) by this thread. `const`-initialized
    /// and without a destructor: reading it from inside the allocator
    /// allocates nothing.
    static BLOCKS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    // `try_with`: during thread teardown the slot may be gone; nothing to count then.
    let _ = BLOCKS.try_with(|b| b.set(b.get() + 1));
}

/// Blocks allocated by the current thread so far.
fn blocks() -> u64 {
    BLOCKS.with(Cell::get)
}

// SAFETY: every method forwards to `System` with the caller's arguments,
// which upholds the `GlobalAlloc` contract; counting touches no memory the
// allocator hands out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded as received (see the impl's comment).
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded as received.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded as received.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as received.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

#[test]
fn views_validate_and_walk_without_allocating() {
    let (mut t, mut m, mut l) = (Vec::new(), Vec::new(), Vec::new());
    direct::encode_traces(&fixtures::traces(fixtures::DEFAULT_SPANS), &mut t);
    direct::encode_metrics(&fixtures::metrics(fixtures::DEFAULT_POINTS), &mut m);
    direct::encode_logs(&fixtures::logs(fixtures::DEFAULT_LOGS), &mut l);

    // The counter itself works: a fresh Vec is one block.
    let before = blocks();
    black_box(Vec::<u8>::with_capacity(black_box(16)));
    assert_eq!(blocks() - before, 1, "the counting allocator counts");

    let before = blocks();
    let sums = [
        walk::traces_view(&TracesView::new(black_box(&t)).expect("valid")),
        walk::metrics_view(&MetricsView::new(black_box(&m)).expect("valid")),
        walk::logs_view(&LogsView::new(black_box(&l)).expect("valid")),
    ];
    let allocated = blocks() - before;
    assert_eq!(allocated, 0, "the views allocated {allocated} blocks (walk sums {sums:?})");
    // The walks read something (a fingerprint of nothing would be 0).
    assert!(sums.iter().all(|&s| s != 0), "{sums:?}");
    // The counts are the model's.
    assert_eq!(TracesView::new(&t).expect("valid").span_count(), fixtures::DEFAULT_SPANS);
    assert_eq!(LogsView::new(&l).expect("valid").log_record_count(), fixtures::DEFAULT_LOGS);
    assert_eq!(
        MetricsView::new(&m).expect("valid").data_point_count(),
        fixtures::metrics(fixtures::DEFAULT_POINTS).point_count()
    );
}
