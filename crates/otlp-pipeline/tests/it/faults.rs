//! The exporter against a receiver that fails on purpose (seeded, so each run
//! sees the same sequence): nothing is lost while retries can absorb the
//! trouble, and a longer outage ends in counted drops, never a hang.

use std::time::Duration;

use otlp_pipeline::compress::Compression;
use otlp_pipeline::exporter::{Exporter, ExporterStats, Protocol};
use otlp_pipeline::fixtures;
use otlp_pipeline::pipeline::{DropReason, PipelineConfig};
use otlp_pipeline::receiver::{Faults, Receiver, ReceiverConfig};
use otlp_pipeline::transport::{BreakerConfig, RetryConfig};

/// Fast retries so that the tests take a second or two of wall time.
fn retry() -> RetryConfig {
    RetryConfig {
        max_attempts: 40,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(100),
        max_elapsed: Duration::from_secs(20),
    }
}

fn breaker() -> BreakerConfig {
    BreakerConfig { failure_threshold: 5, open_for: Duration::from_millis(50), half_open_probes: 1 }
}

/// Sends `n` spans in batches of 100 through a faulty receiver; returns the
/// exporter's and the receiver's final counts.
async fn run(faults: Faults, n: usize, retry: RetryConfig, deadline: Duration) -> (ExporterStats, u64, u64) {
    let receiver =
        Receiver::start(ReceiverConfig { faults, ..ReceiverConfig::default() }).await.expect("bind loopback");
    let exporter = Exporter::builder()
        .endpoint(receiver.http_endpoint())
        .protocol(Protocol::HttpProtobuf)
        .batch(PipelineConfig { max_batch_items: 100, ..PipelineConfig::default() })
        .compression(Compression::ZSTD_DEFAULT)
        .timeout(Duration::from_secs(2))
        .retry(retry)
        .breaker(breaker())
        .build()
        .expect("valid exporter");
    for s in fixtures::spans(n) {
        exporter.handle().try_span(s).expect("the queue holds the whole test");
    }
    // A guard against a hang, not a timing assertion: shutdown has its own deadline.
    let stats = tokio::time::timeout(deadline + Duration::from_secs(30), exporter.shutdown(deadline))
        .await
        .expect("shutdown returns by its deadline")
        .expect("the batcher is alive");
    let counts = receiver.shutdown().await;
    assert!(stats.pipeline.is_balanced(), "{}", stats.pipeline);
    (stats, counts.spans, counts.faulted_requests)
}

fn faults(seed: u64) -> Faults {
    Faults { seed, fail_status: 503, ..Faults::default() }
}

#[tokio::test]
async fn thirty_percent_failures_lose_nothing() {
    let f = Faults { fail_fraction: 0.3, ..faults(1) };
    let (stats, received, faulted) = run(f, 2000, retry(), Duration::from_secs(30)).await;
    assert!(faulted > 0, "the receiver injected failures");
    assert_eq!(stats.pipeline.dropped_total(), 0, "{}", stats.pipeline);
    assert_eq!(stats.pipeline.exported, 2000);
    assert_eq!(received, 2000);
    assert!(stats.transport.retries >= faulted, "{:?}", stats.transport);
}

#[tokio::test]
async fn retry_after_on_429_is_honoured_and_loses_nothing() {
    let f = Faults { fail_fraction: 0.5, fail_status: 429, retry_after: Some(Duration::from_secs(1)), ..faults(2) };
    let (stats, received, faulted) = run(f, 300, retry(), Duration::from_secs(30)).await;
    assert!(faulted > 0);
    assert_eq!(stats.pipeline.dropped_total(), 0, "{}", stats.pipeline);
    assert_eq!(received, 300);
}

#[tokio::test]
async fn resets_and_a_slow_receiver_lose_nothing() {
    let f = Faults { reset_fraction: 0.3, delay: Some(Duration::from_millis(30)), ..faults(3) };
    let (stats, received, faulted) = run(f, 1000, retry(), Duration::from_secs(30)).await;
    assert!(faulted > 0);
    assert_eq!(stats.pipeline.dropped_total(), 0, "{}", stats.pipeline);
    assert_eq!(received, 1000);
}

#[tokio::test]
async fn a_short_outage_is_absorbed() {
    let f = Faults { down: Some((Duration::ZERO, Duration::from_millis(400))), ..faults(4) };
    let (stats, received, faulted) = run(f, 1000, retry(), Duration::from_secs(30)).await;
    assert!(faulted > 0, "the outage was seen");
    assert_eq!(stats.pipeline.dropped_total(), 0, "{}", stats.pipeline);
    assert_eq!(received, 1000);
}

#[tokio::test]
async fn a_long_outage_ends_in_counted_drops_not_a_hang() {
    let f = Faults { down: Some((Duration::ZERO, Duration::from_secs(3600))), ..faults(5) };
    let short = RetryConfig { max_elapsed: Duration::from_millis(300), ..retry() };
    let (stats, received, _) = run(f, 500, short, Duration::from_secs(1)).await;
    let p = stats.pipeline;
    assert_eq!(received, 0);
    assert_eq!(p.exported, 0);
    assert_eq!(p.dropped(DropReason::RetriesExhausted) + p.dropped(DropReason::ShutdownDeadline), 500, "{p}");
}
