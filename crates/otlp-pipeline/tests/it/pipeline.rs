//! The pipeline against scripted sinks, on tokio's paused clock (no wall-clock
//! waits): delivery, batching by size and delay, drop accounting by reason,
//! flush and shutdown deadlines. Every test ends by checking the invariant
//! accepted == exported + dropped.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use otlp_pipeline::compress::{Compression, Decompressor};
use otlp_pipeline::encode::{Signal, reference};
use otlp_pipeline::fixtures;
use otlp_pipeline::model::{LogRecord, Metric, Span};
use otlp_pipeline::pipeline::{
    DropReason, ExportRequest, ExportResult, ExportSink, Item, Pipeline, PipelineConfig, StatsSnapshot,
};

#[derive(Clone, Copy)]
enum Behavior {
    Accept,
    Partial(u64),
    Fail(DropReason),
    Hang,
    Panic,
}

/// Records every batch it gets (decompressed) and answers as told.
struct Sink {
    behavior: Behavior,
    batches: Mutex<Vec<(Signal, u64, Vec<u8>)>>,
    calls: AtomicUsize,
}

impl Sink {
    fn new(behavior: Behavior) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Sink { behavior, batches: Mutex::new(Vec::new()), calls: AtomicUsize::new(0) })
    }
}

impl ExportSink for Sink {
    async fn export(&self, request: &ExportRequest) -> ExportResult {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let mut raw = Vec::new();
        Decompressor::new().decompress(request.compression, &request.body, &mut raw, 64 << 20).expect("valid body");
        assert_eq!(raw.len(), request.raw_len);
        self.batches.lock().expect("lock").push((request.signal, request.items, raw));
        match self.behavior {
            Behavior::Accept => ExportResult::Delivered { rejected: 0 },
            Behavior::Partial(n) => ExportResult::Delivered { rejected: n },
            Behavior::Fail(reason) => ExportResult::Dropped(reason),
            Behavior::Hang => std::future::pending().await,
            Behavior::Panic => panic!("scripted sink panic"),
        }
    }
}

fn config(batch: usize, queue: usize, concurrency: usize, compression: Compression) -> PipelineConfig {
    PipelineConfig {
        max_batch_items: batch,
        max_delay: Duration::from_millis(100),
        queue_capacity: queue,
        max_concurrent_exports: concurrency,
        compression,
        format: otlp_pipeline::pipeline::BodyFormat::Protobuf,
        pool_bodies: true,
    }
}

fn start(cfg: PipelineConfig, sink: &std::sync::Arc<Sink>) -> Pipeline {
    Pipeline::start(cfg, fixtures::resource(), fixtures::scope(), sink.clone()).expect("valid config")
}

fn assert_balanced(s: &StatsSnapshot) {
    assert!(s.is_balanced(), "accepted != exported + dropped: {s}");
}

#[tokio::test(start_paused = true)]
async fn every_item_arrives_and_decodes_equal_to_what_was_sent() {
    for compression in [Compression::None, Compression::ZSTD_DEFAULT, Compression::GZIP_DEFAULT] {
        let sink = Sink::new(Behavior::Accept);
        let p = start(config(256, 4096, 2, compression), &sink);
        let h = p.handle();
        let spans = fixtures::spans(1000);
        let logs = fixtures::log_records(300);
        let metrics = fixtures::metrics(100).resource_metrics[0].scope_metrics[0].metrics.clone();
        for s in &spans {
            h.try_span(s.clone()).expect("queue has room");
        }
        for l in &logs {
            h.try_log(l.clone()).expect("queue has room");
        }
        for m in &metrics {
            h.try_metric(m.clone()).expect("queue has room");
        }
        p.flush(Duration::from_secs(5)).await.expect("flush completes");
        let stats = p.shutdown(Duration::from_secs(1)).await.expect("the batcher is alive");
        assert_eq!(stats.accepted, 1000 + 300 + 100, "{stats}");
        assert_eq!(stats.exported, stats.accepted, "{stats}");
        assert_balanced(&stats);

        let (mut got_spans, mut got_logs, mut got_metrics) =
            (Vec::<Span>::new(), Vec::<LogRecord>::new(), Vec::<Metric>::new());
        for (signal, items, raw) in sink.batches.lock().expect("lock").iter() {
            match signal {
                Signal::Traces => {
                    let d = reference::decode_traces(raw).expect("decodes");
                    assert_eq!(d.resource_spans[0].resource, fixtures::resource());
                    assert!(d.span_count() <= 256 && d.span_count() as u64 == *items);
                    got_spans.extend(d.resource_spans.into_iter().flat_map(|r| r.scope_spans).flat_map(|s| s.spans));
                }
                Signal::Logs => got_logs.extend(
                    reference::decode_logs(raw)
                        .expect("decodes")
                        .resource_logs
                        .into_iter()
                        .flat_map(|r| r.scope_logs)
                        .flat_map(|s| s.log_records),
                ),
                Signal::Metrics => got_metrics.extend(
                    reference::decode_metrics(raw)
                        .expect("decodes")
                        .resource_metrics
                        .into_iter()
                        .flat_map(|r| r.scope_metrics)
                        .flat_map(|s| s.metrics),
                ),
            }
        }
        assert_eq!(got_spans, spans, "{compression}");
        assert_eq!(got_logs, logs, "{compression}");
        assert_eq!(got_metrics, metrics, "{compression}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_partial_batch_leaves_after_max_delay() {
    let sink = Sink::new(Behavior::Accept);
    let p = start(config(512, 64, 1, Compression::None), &sink);
    for s in fixtures::spans(3) {
        p.handle().span(s);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(sink.calls.load(Ordering::Relaxed), 0, "not before max_delay");
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(sink.calls.load(Ordering::Relaxed), 1, "one batch after max_delay");
    assert_eq!(p.stats().exported, 3);
    assert_balanced(&p.shutdown(Duration::from_secs(1)).await.expect("the batcher is alive"));
}

#[tokio::test(start_paused = true)]
async fn a_full_queue_refuses_at_once_and_counts_and_shutdown_stops_at_its_deadline() {
    let sink = Sink::new(Behavior::Hang);
    let p = start(config(2, 4, 1, Compression::None), &sink);
    let h = p.handle();
    let mut refused = 0;
    for s in fixtures::spans(40) {
        if let Err(r) = h.try_span(s) {
            assert_eq!(r.reason, DropReason::QueueFull);
            assert!(matches!(r.item, otlp_pipeline::pipeline::Item::Span(_)), "the item comes back");
            refused += 1;
        }
        // Let the batcher run between offers, as a real producer would.
        tokio::task::yield_now().await;
    }
    assert!(refused > 0);
    let before = tokio::time::Instant::now();
    let stats = p.shutdown(Duration::from_secs(2)).await.expect("the batcher is alive");
    assert!(tokio::time::Instant::now() - before <= Duration::from_secs(2) + Duration::from_millis(1));
    assert_eq!(stats.accepted, 40);
    assert_eq!(stats.exported, 0);
    assert_eq!(stats.dropped(DropReason::QueueFull), refused);
    assert_eq!(stats.dropped(DropReason::ShutdownDeadline), 40 - refused, "{stats}");
    assert_balanced(&stats);
    let late = h.try_span(fixtures::spans(1).remove(0)).expect_err("closed");
    assert_eq!(late.reason, DropReason::AfterShutdown);
    let stats = h.stats();
    assert_eq!(stats.dropped(DropReason::AfterShutdown), 1);
    assert_balanced(&stats);
}

#[tokio::test(start_paused = true)]
async fn a_send_given_up_while_waiting_for_room_counts_its_item_as_dropped() {
    let sink = Sink::new(Behavior::Hang);
    let p = start(config(2, 4, 1, Compression::None), &sink);
    let h = p.handle();
    let mut given_up = 0;
    for s in fixtures::spans(40) {
        // The sink hangs, so the queue fills and a send has to wait; the
        // caller stops waiting after 1 ms.
        if tokio::time::timeout(Duration::from_millis(1), h.send(Item::Span(s))).await.is_err() {
            given_up += 1;
        }
    }
    assert!(given_up > 0);
    let stats = p.shutdown(Duration::from_secs(1)).await.expect("the batcher is alive");
    assert_eq!(stats.accepted, 40);
    assert_eq!(stats.dropped(DropReason::QueueFull), given_up, "{stats}");
    assert_balanced(&stats);
}

#[tokio::test(start_paused = true)]
async fn a_send_dropped_before_its_first_poll_counts_its_item_as_dropped() {
    let sink = Sink::new(Behavior::Hang);
    let p = start(config(2, 4, 1, Compression::None), &sink);
    let h = p.handle();
    let mut waiting = 0;
    for s in fixtures::spans(40) {
        // Found the queue full and never awaited: the future is dropped
        // with the item inside it.
        let send = h.send(Item::Span(s));
        if format!("{send:?}") == "SendItem(waiting)" {
            waiting += 1;
        }
        drop(send);
    }
    assert!(waiting > 0);
    let stats = p.shutdown(Duration::from_secs(1)).await.expect("the batcher is alive");
    assert_eq!(stats.accepted, 40);
    assert_eq!(stats.dropped(DropReason::QueueFull), waiting, "{stats}");
    assert_balanced(&stats);
}

#[tokio::test(start_paused = true)]
async fn receiver_outcomes_are_counted_by_reason() {
    for (behavior, expect_exported, reason) in [
        (Behavior::Partial(3), 100 - 4 * 3, Some(DropReason::Rejected)),
        (Behavior::Fail(DropReason::RetriesExhausted), 0, Some(DropReason::RetriesExhausted)),
        (Behavior::Fail(DropReason::Rejected), 0, Some(DropReason::Rejected)),
        (Behavior::Panic, 0, Some(DropReason::ExportPanicked)),
    ] {
        let sink = Sink::new(behavior);
        let p = start(config(25, 1000, 2, Compression::None), &sink);
        for s in fixtures::spans(100) {
            p.handle().try_span(s).expect("room");
        }
        p.flush(Duration::from_secs(5)).await.expect("flush completes");
        let stats = p.shutdown(Duration::from_secs(1)).await.expect("the batcher is alive");
        assert_eq!(sink.calls.load(Ordering::Relaxed), 4);
        assert_eq!(stats.exported, expect_exported, "{stats}");
        if let Some(r) = reason {
            assert_eq!(stats.dropped(r), 100 - expect_exported, "{stats}");
        }
        assert_balanced(&stats);
    }
}

#[tokio::test(start_paused = true)]
async fn flush_times_out_without_losing_count_and_bad_config_is_refused() {
    let sink = Sink::new(Behavior::Hang);
    let p = start(config(10, 100, 1, Compression::None), &sink);
    for s in fixtures::spans(10) {
        p.handle().span(s);
    }
    let err = p.flush(Duration::from_millis(300)).await.expect_err("the sink never answers");
    assert!(err.to_string().contains("300ms"), "{err}");
    let stats = p.shutdown(Duration::from_millis(100)).await.expect("the batcher is alive");
    assert_eq!(stats.dropped(DropReason::ShutdownDeadline), 10, "{stats}");
    assert_balanced(&stats);

    let mut bad = config(10, 100, 1, Compression::None);
    bad.max_batch_items = 0;
    let err = Pipeline::start(bad, fixtures::resource(), fixtures::scope(), sink.clone()).expect_err("refused");
    assert!(err.to_string().contains("max_batch_items"), "{err}");
    let bad = config(10, 100, 1, Compression::Zstd { level: 99 });
    assert!(Pipeline::start(bad, fixtures::resource(), fixtures::scope(), sink).is_err());
}
