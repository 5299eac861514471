//! The zero-copy views allocate nothing: validating the standard fixtures
//! (512 spans, 100 metric points, 512 log records) and walking every item
//! they hold (every attribute, nested value, event, link, point, bucket and
//! record) takes 0 heap blocks.
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
use otlp_pipeline::fixtures;

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

/// A running fingerprint of what a walk read (wrapping: values are
/// arbitrary bits).
#[derive(Default)]
struct Acc(u64);

impl Acc {
    fn add(&mut self, x: u64) {
        self.0 = self.0.rotate_left(5).wrapping_add(x);
    }

    fn value(&mut self, v: AnyValueView<'_>) {
        match v {
            AnyValueView::String(s) => self.add(s.len() as u64),
            AnyValueView::Bool(b) => self.add(u64::from(b)),
            AnyValueView::Int(i) => self.add(i as u64),
            AnyValueView::Double(d) => self.add(d.to_bits()),
            AnyValueView::Bytes(b) => self.add(b.len() as u64),
            AnyValueView::Array(xs) => xs.iter().for_each(|x| self.value(x)),
            AnyValueView::KvList(kvs) => self.attributes(kvs),
            _ => self.add(1),
        }
    }

    fn attributes(&mut self, kvs: List<'_, KeyValueView<'_>>) {
        for kv in kvs {
            self.add(kv.key.len() as u64);
            self.value(kv.value);
        }
    }
}

fn walk_traces(body: &[u8]) -> u64 {
    let v = TracesView::new(body).expect("valid");
    let mut a = Acc::default();
    a.add(v.span_count() as u64);
    for r in v.resource_spans() {
        a.attributes(r.resource().attributes());
        a.add(r.schema_url().len() as u64);
        for s in r.scope_spans() {
            a.add(s.scope().name().len() as u64);
            a.attributes(s.scope().attributes());
            for span in s.spans() {
                a.add(u64::from_le_bytes(span.span_id.0) ^ u64::from(span.trace_id.0[0]));
                a.add(span.name.len() as u64);
                a.add(span.end_time_unix_nano);
                a.add(span.parent_span_id.map_or(0, |p| u64::from_le_bytes(p.0)));
                a.add(span.status_message.len() as u64);
                a.attributes(span.attributes());
                for e in span.events() {
                    a.add(e.name.len() as u64);
                    a.attributes(e.attributes());
                }
                for l in span.links() {
                    a.add(u64::from_le_bytes(l.span_id.0));
                    a.attributes(l.attributes());
                }
            }
        }
    }
    a.0
}

fn walk_metrics(body: &[u8]) -> u64 {
    let v = MetricsView::new(body).expect("valid");
    let mut a = Acc::default();
    a.add(v.data_point_count() as u64);
    for m in v.metrics() {
        a.add(m.name.len() as u64);
        a.attributes(m.metadata());
        match m.data {
            Some(MetricDataView::Gauge(points) | MetricDataView::Sum { points, .. }) => {
                for p in points {
                    a.add(p.time_unix_nano);
                    a.attributes(p.attributes());
                }
            }
            Some(MetricDataView::Histogram { points, .. }) => {
                for p in points {
                    a.add(p.count);
                    p.bucket_counts().for_each(|x| a.add(x));
                    p.explicit_bounds().for_each(|x| a.add(x.to_bits()));
                    a.attributes(p.attributes());
                }
            }
            Some(MetricDataView::ExponentialHistogram { points, .. }) => {
                for p in points {
                    a.add(p.count);
                    for b in [p.positive(), p.negative()].into_iter().flatten() {
                        b.bucket_counts().for_each(|x| a.add(x));
                    }
                    a.attributes(p.attributes());
                }
            }
            None => {}
        }
    }
    a.0
}

fn walk_logs(body: &[u8]) -> u64 {
    let v = LogsView::new(body).expect("valid");
    let mut a = Acc::default();
    a.add(v.log_record_count() as u64);
    for r in v.log_records() {
        a.add(r.time_unix_nano);
        a.add(r.severity_text.len() as u64);
        a.attributes(r.attributes());
        if let Some(b) = r.body {
            a.value(b);
        }
        a.add(r.trace_id.map_or(0, |t| u64::from(t.0[0])));
    }
    a.0
}

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
    let sums = [black_box(walk_traces(black_box(&t))), walk_metrics(black_box(&m)), walk_logs(black_box(&l))];
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
