//! Sizes, chosen so that each scenario at scale 1 stays well under 3 s natively
//! in release on the 2-core lab machine (sustained_load excepted: it runs for
//! its duration), while still making enough batches to show each effect.

use std::time::Duration;

use otlp_pipeline::compress::Compression;
use otlp_pipeline::pipeline::PipelineConfig;
use otlp_pipeline::transport::{BreakerConfig, RetryConfig};

/// Requests of e2e_web_application: 6,000 spans, enough for a dozen full batches.
pub(super) const WEB_REQUESTS: u64 = 2_000;
/// One request in 20 fails (5%): it gets an error status and a log record.
pub(super) const WEB_ERROR_EVERY: u64 = 20;
/// The request counter is collected every 100 requests, as an SDK's periodic reader would.
pub(super) const WEB_METRIC_EVERY: u64 = 100;
/// One cache lookup in 3 misses: the hit rate of a warm cache in front of a database.
pub(super) const WEB_CACHE_MISS_EVERY: u64 = 3;
/// Distinct user ids in the web requests' paths: ids repeat, as on a real
/// site, and paths vary in length (1 to 3 digits).
pub(super) const WEB_USERS: u64 = 1_000;
/// Nanoseconds per millisecond: span times are in ns, and the simulated
/// requests are laid out in ms.
pub(crate) const NS_PER_MS: u64 = 1_000_000;
/// Length of a simulated request (its server span), which its error log quotes.
pub(super) const REQUEST_NS: u64 = 3 * NS_PER_MS;
/// Start-to-start spacing of simulated requests and calls: longer than a
/// request, so that consecutive ones do not overlap in a trace view.
pub(super) const REQUEST_SPACING_NS: u64 = REQUEST_NS + NS_PER_MS;
/// Calls of microservices_communication: 3,000 spans, all kept by the receiver's capture.
pub(super) const MICRO_CALLS: u64 = 1_000;
/// Services of microservices_communication, caller first.
pub(super) const SERVICES: [&str; 3] = ["frontend", "orders", "payments"];
/// Spans per batch size: two full batches of the largest size.
pub(super) const BATCH_SPANS: u64 = 10_000;
/// Batch sizes compared: from chatty to about 2.3 MB per request (under the receiver's 4 MiB limit).
pub(crate) const BATCH_SIZES: [usize; 4] = [100, 500, 1_000, 5_000];
/// Spans per producer count: 20 per producer at the largest count.
pub(super) const CONCURRENCY_SPANS: u64 = 10_000;
/// Producer counts compared.
pub(crate) const PRODUCERS: [u64; 5] = [10, 50, 100, 200, 500];
/// Distinct item ids in the API spans' paths: 1 to 4 digits, so that
/// encoded spans vary in size as real ones do.
pub(super) const API_ITEM_IDS: u64 = 10_000;
/// Offered rate of sustained_load, items per second, in every runner: the
/// scenario (`otlp-lab run`, `heap`, `audit`, `flame`) and `otlp-lab load`
/// without `--rate`. One producer on the scenario's single thread sustains it
/// even under dhat's allocator, so the heap profile and the leak audit see a
/// steady state rather than an overflowing queue; higher rates are for
/// `otlp-lab load --rate`, whose producers yield between blocks.
pub(crate) const SUSTAINED_RATE: u64 = 20_000;
/// Pacing tick: 100 ticks a second keeps the offered rate smooth at a cost of one timer each.
pub(super) const SUSTAINED_TICK: Duration = Duration::from_millis(10);
/// Spans per attribute count in data_size_variations.
pub(super) const DATA_SIZE_SPANS: u64 = 2_000;
/// Attribute counts compared: from a bare span to a heavily annotated one.
pub(super) const ATTRIBUTE_COUNTS: [usize; 5] = [1, 5, 10, 20, 50];
/// Rounds of mixed_telemetry_types: each a span, every 4th a 2-point metric, every 2nd a log.
pub(super) const MIXED_ROUNDS: u64 = 10_000;
/// The histograms' mean, in ms: their sum is count × mean, so that sum and
/// count stay consistent whatever the random bucket counts.
pub(super) const HISTOGRAM_MEAN_MS: f64 = 42.0;
/// The histograms' extremes, in ms: inside the first and last finite
/// buckets of the default bounds (0-5 ms and 7.5-10 s).
pub(super) const HISTOGRAM_MIN_MS: f64 = 0.5;
/// See [`HISTOGRAM_MIN_MS`].
pub(super) const HISTOGRAM_MAX_MS: f64 = 9_000.0;
/// Spans sent through the 503 receiver (before the minimum below).
pub(super) const RETRY_SPANS: u64 = 1_000;
/// At least 30 requests of 20 spans, so that a 30% fault rate is seen in
/// every run (no fault in 30 tries has probability 0.7^30 ≈ 2e-5; the
/// receiver is seeded and fresh per run, so a run either always or never
/// sees one, and the tests show it does).
pub(super) const RETRY_SPANS_MIN: u64 = 600;
/// Batch size of the fault steps: many requests from few spans.
pub(super) const ERROR_BATCH: usize = 20;
/// Fraction of requests the 503 receiver fails.
pub(super) const RETRY_FAIL_FRACTION: f64 = 0.3;
/// Retries of the 503 and 400 steps: 40 attempts, so that no batch runs out
/// (40 injected failures in a row have probability 0.3^40 ≈ 1e-21, which
/// leaves room for the attempts refused while the breaker is open); backoff bounds of 2
/// to 20 ms keep the step to milliseconds; `max_elapsed` is only a guard.
pub(super) const FAST_RETRY: RetryConfig = RetryConfig {
    max_attempts: 40,
    initial_backoff: Duration::from_millis(2),
    max_backoff: Duration::from_millis(20),
    max_elapsed: Duration::from_secs(10),
};
/// Breaker of the 503 step: opens on a run of 5 failures (the default) but
/// recovers within 20 ms, so that it shapes the run without stalling it.
pub(super) const QUICK_BREAKER: BreakerConfig =
    BreakerConfig { failure_threshold: 5, open_for: Duration::from_millis(20), half_open_probes: 1 };
/// Spans of the 400 and timeout steps: a few requests are enough.
pub(super) const FEW_SPANS: u64 = 200;
/// Batch size of the 400 and timeout steps: two requests of 100 spans.
pub(super) const FEW_BATCH: usize = 100;
/// Per-attempt timeout of the timeout step.
pub(super) const SHORT_TIMEOUT: Duration = Duration::from_millis(50);
/// The slow receiver answers after five attempt timeouts: no attempt can
/// succeed, however late the timer fires on a loaded machine.
pub(super) const SLOW_RECEIVER_DELAY: Duration = SHORT_TIMEOUT.saturating_mul(5);
/// Retries of the timeout step: one retry, so that the timeout is seen
/// twice per batch, then the drop. `max_elapsed` leaves room for both
/// attempts and the backoff between them (2 × 50 + 5 ms) with margin.
pub(super) const SHORT_RETRY: RetryConfig = RetryConfig {
    max_attempts: 2,
    initial_backoff: Duration::from_millis(5),
    max_backoff: Duration::from_millis(5),
    max_elapsed: SHORT_TIMEOUT.saturating_mul(4),
};
/// Bound on each malformed request and its answer: the loopback receiver
/// answers in well under a millisecond, so this only turns a hung receiver
/// into an error instead of a hung run.
pub(super) const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// Spans sent after the malformed requests, to show the receiver still serves.
pub(super) const AFTER_PROBE_SPANS: u64 = 10;
/// Spans of memory_patterns: 256 small batches or 4 large ones.
pub(super) const MEMORY_SPANS: u64 = 4_096;
/// A small batch: what a lightly loaded service flushes on its timer.
pub(super) const SMALL_BATCH: usize = 16;
/// First chunk of the scratch arena: one 4 KiB page holds a small batch's
/// scratch (16 spans × 10 attributes × 4 bytes, twice that with the Vec's
/// doublings), so a batch never needs a second chunk.
pub(super) const ARENA_INITIAL: usize = 4 << 10;
/// Scratch each arena keeps across batches: far above a small batch's needs,
/// so the arena is reused, never replaced.
pub(super) const ARENA_RETAINED: usize = 64 << 10;
/// Batches of cpu_intensive.
pub(super) const CPU_BATCHES: u64 = 16;
/// Codecs of cpu_intensive: the exporter's default, zstd's own default
/// level, and what most peers send.
pub(super) const CPU_CODECS: [Compression; 3] =
    [Compression::ZSTD_DEFAULT, Compression::Zstd { level: 3 }, Compression::GZIP_DEFAULT];
/// Spans per step of network_io.
pub(super) const NETWORK_SPANS: u64 = 10_000;
/// Items of production_workload.
pub(super) const PRODUCTION_ITEMS: u64 = 100_000;
/// Worker tasks of production_workload.
pub(crate) const WORKERS: u64 = 50;
/// A worker's unit of work: 7 spans, one 2-point metric and one log record
/// make 10 items in the 70/20/10 mix.
pub(crate) const BLOCK_ITEMS: u64 = 10;
/// The spans of a block.
pub(crate) const BLOCK_SPANS: u64 = 7;

/// The pipeline's default batch size (512 spans ≈ 234 KB encoded), which
/// the network scenarios keep unless they vary it.
pub(super) fn default_batch() -> usize {
    PipelineConfig::default().max_batch_items
}

/// A large batch in memory_patterns: twice the default.
pub(super) fn large_batch() -> usize {
    2 * default_batch()
}

/// Longest a partial batch waits in the closed-loop scenarios: far longer
/// than any run, so batches close by count only and the requests and encoded
/// bytes depend on the items alone, not on the machine's speed (a slow run
/// under valgrind would otherwise flush partial batches on the timer).
/// Shutdown still exports the last partial batches at once.
pub(super) const COUNT_ONLY_DELAY: Duration = Duration::from_secs(3_600);
/// Shutdown deadline of every exporter: a guard, far above what a run needs.
pub(super) const SHUTDOWN: Duration = Duration::from_secs(30);
/// Extra time given to a shutdown before it is declared hung.
pub(super) const HANG_GUARD: Duration = Duration::from_secs(10);

pub(super) fn scaled(count: u64, scale: u32) -> u64 {
    (count / u64::from(scale.max(1))).max(1)
}
