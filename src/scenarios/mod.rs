//! The twelve scenarios of DESIGN.md ("Scenarios"): end-to-end runs of the
//! exporter against the in-process loopback receiver, plus the CPU and memory
//! scenarios that need no network. Each is defined once (name, unmeasured
//! [`Scenario::prepare`], measured [`PreparedScenario::run`] returning an
//! [`Outcome`]) and used by every runner, like the micro-workloads.
//!
//! A prepared scenario owns a current-thread tokio runtime and, for network
//! scenarios, its receivers on 127.0.0.1 (ephemeral ports; error_handling
//! starts its 503 receiver afresh in each run, so that its seeded faults
//! repeat). Each run builds fresh exporters against them, checks at the end that every accepted item
//! was exported or counted as dropped and that the receiver counted exactly
//! what the exporter says it exported, and fails with a [`ScenarioError`]
//! otherwise: nothing may be lost silently.
//!
//! Outcomes repeat from run to run (except `sustained_load`, which is paced
//! by the clock): `items` counts the items the receiver took (network
//! scenarios; in `error_handling` the rejected and given-up items are not
//! among them) or the items processed (CPU and memory scenarios), `bytes` the
//! encoded bytes before compression (network scenarios) or all bytes produced
//! (CPU and memory scenarios), and `checksum` folds only deterministic
//! quantities (counts per signal and per step; fingerprints of the encoded
//! bytes in the CPU scenarios). Network exporters close batches by count only
//! (their `max_delay` is an hour), so even the number of requests and the
//! encoded bytes do not depend on how fast the machine is.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::runtime::Runtime;
use tokio::task::JoinSet;

use crate::workloads::{Outcome, fingerprint};
use otlp_pipeline::compress::{CompressError, Compression, Compressor, Decompressor};
use otlp_pipeline::encode::{Signal, direct};
use otlp_pipeline::exporter::{Exporter, ExporterBuilder, ExporterError, ExporterStats, Protocol};
use otlp_pipeline::fixtures::{self, SplitMix64};
use otlp_pipeline::model::{
    AnyValue, FLAG_IS_REMOTE, FLAG_SAMPLED, HistogramDataPoint, KeyValue, LogRecord, Metric, MetricData,
    NumberDataPoint, NumberValue, Resource, Severity, Span, SpanContext, SpanId, SpanKind, Status, Str, Temporality,
    TraceId, TraceparentError, TracesData,
};
use otlp_pipeline::pipeline::{DropReason, Handle, Item, PipelineConfig, StatsSnapshot};
use otlp_pipeline::pool::{BatchArena, BufferPool};
use otlp_pipeline::receiver::{Faults, Received, Receiver, ReceiverConfig, ReceiverCounts};
use otlp_pipeline::transport::http::HttpConfigError;
use otlp_pipeline::transport::{BreakerConfig, RetryConfig};

/// The twelve named scenarios of the design.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// Simulated HTTP requests with child spans, a request counter and error logs.
    WebApplication,
    /// A→B→C calls with W3C `traceparent` propagation, one exporter per service.
    Microservices,
    /// One span count exported with four batch sizes.
    BatchProcessing,
    /// One exporter fed by 10 to 500 producer tasks.
    HighConcurrency,
    /// A steady offered rate for a fixed duration.
    SustainedLoad,
    /// Encode and compress spans of 1 to 50 attributes (no network).
    DataSizeVariations,
    /// Spans, metric points and log records interleaved through one exporter.
    MixedTelemetry,
    /// Refused configurations, receiver errors, timeouts and malformed requests.
    ErrorHandling,
    /// Batch sizes, pooled vs fresh buffers, arena vs heap scratch (no network).
    MemoryPatterns,
    /// Encode plus zstd and gzip over the standard batch (no network).
    CpuIntensive,
    /// OTLP/HTTP vs OTLP/gRPC, each with none, gzip and zstd.
    NetworkIo,
    /// 70% spans, 20% metric points, 10% log records from 50 workers.
    Production,
}

impl Scenario {
    /// All scenarios, in the design's order.
    pub const ALL: &'static [Scenario] = &[
        Scenario::WebApplication,
        Scenario::Microservices,
        Scenario::BatchProcessing,
        Scenario::HighConcurrency,
        Scenario::SustainedLoad,
        Scenario::DataSizeVariations,
        Scenario::MixedTelemetry,
        Scenario::ErrorHandling,
        Scenario::MemoryPatterns,
        Scenario::CpuIntensive,
        Scenario::NetworkIo,
        Scenario::Production,
    ];

    /// The one name used everywhere (bench id, profile and flamegraph file names).
    pub const fn name(self) -> &'static str {
        match self {
            Scenario::WebApplication => "e2e_web_application",
            Scenario::Microservices => "microservices_communication",
            Scenario::BatchProcessing => "batch_processing",
            Scenario::HighConcurrency => "high_concurrency",
            Scenario::SustainedLoad => "sustained_load",
            Scenario::DataSizeVariations => "data_size_variations",
            Scenario::MixedTelemetry => "mixed_telemetry_types",
            Scenario::ErrorHandling => "error_handling",
            Scenario::MemoryPatterns => "memory_patterns",
            Scenario::CpuIntensive => "cpu_intensive",
            Scenario::NetworkIo => "network_io",
            Scenario::Production => "production_workload",
        }
    }

    /// One line saying what it does, with its parameters at scale 1.
    pub const fn description(self) -> &'static str {
        match self {
            Scenario::WebApplication => {
                "2,000 HTTP requests (a SERVER span with db and cache child spans each, a request counter every 100 \
                 requests, an error log every 20th) over OTLP/HTTP protobuf to the loopback receiver"
            }
            Scenario::Microservices => {
                "1,000 calls A→B→C with traceparent injected and extracted at each hop, one exporter and \
                 service.name per service; the receiver's capture verifies every trace chain"
            }
            Scenario::BatchProcessing => {
                "10,000 spans exported with max_batch_items 100, 500, 1000 and 5000 over OTLP/HTTP protobuf"
            }
            Scenario::HighConcurrency => {
                "10,000 spans per step from 10, 50, 100, 200 and 500 closed-loop producer tasks through one exporter"
            }
            Scenario::SustainedLoad => {
                "spans offered at 20,000/s in 10 ms ticks for the given duration (default 10 s), open loop: \
                 what the queue cannot take is counted as dropped"
            }
            Scenario::DataSizeVariations => {
                "2,000 spans with 1, 5, 10, 20 and 50 attributes: direct encode and zstd level 1 into reused \
                 buffers (no network)"
            }
            Scenario::MixedTelemetry => {
                "10,000 spans, 5,000 metric points (gauge, sum, histogram) and 5,000 log records interleaved \
                 through one exporter; per-signal counts checked at the receiver"
            }
            Scenario::ErrorHandling => {
                "16 refused configurations, 30% injected 503s absorbed by retries, permanent 400s counted as \
                 rejected, 50 ms attempt timeouts against a 250 ms receiver counted as retries_exhausted, \
                 6 malformed requests answered 4xx"
            }
            Scenario::MemoryPatterns => {
                "4,096 spans encoded in batches of 16 and of 1,024 into fresh Vecs and into BufferPool buffers, \
                 plus per-batch scratch in a BatchArena vs heap Vecs (no network)"
            }
            Scenario::CpuIntensive => {
                "16 batches of the 512-span fixture: direct encode, then zstd levels 1 and 3 and gzip 6 with \
                 reused contexts (no network)"
            }
            Scenario::NetworkIo => {
                "10,000 spans per step over OTLP/HTTP protobuf and OTLP/gRPC, each with no compression, gzip 6 \
                 and zstd 1"
            }
            Scenario::Production => {
                "100,000 items (70% spans, 20% metric points, 10% log records) from 50 closed-loop worker tasks \
                 through one OTLP/HTTP protobuf exporter"
            }
        }
    }

    /// True when `run()` needs no network and no clock, so its instruction
    /// count is deterministic (cpu_intensive, data_size_variations,
    /// memory_patterns). Their report rows carry no wall time for that reason.
    pub const fn deterministic(self) -> bool {
        matches!(self, Scenario::CpuIntensive | Scenario::DataSizeVariations | Scenario::MemoryPatterns)
    }

    /// Unmeasured setup: fixtures, a tokio current_thread runtime owned by
    /// the [`PreparedScenario`], and (for network scenarios) the in-process
    /// loopback receiver (127.0.0.1:0, gRPC too where needed) started on that
    /// runtime.
    pub fn prepare(self, params: &ScenarioParams) -> Result<PreparedScenario, ScenarioError> {
        let n = |count: u64| scaled(count, params.scale);
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(ScenarioError::Runtime)?;
        let start = |config: ReceiverConfig| runtime.block_on(Receiver::start(config)).map_err(ScenarioError::Receiver);
        let plain = || start(ReceiverConfig::default());
        let state = match self {
            Scenario::WebApplication => State::Web { receiver: plain()?, requests: n(WEB_REQUESTS) },
            Scenario::Microservices => State::Micro {
                receiver: start(ReceiverConfig { capture: true, ..ReceiverConfig::default() })?,
                calls: n(MICRO_CALLS),
            },
            Scenario::BatchProcessing => State::Batch { receiver: plain()?, spans: spans(n(BATCH_SPANS)) },
            Scenario::HighConcurrency => State::Concurrency { receiver: plain()?, spans: n(CONCURRENCY_SPANS) },
            Scenario::SustainedLoad => {
                State::Sustained { receiver: plain()?, rate: n(SUSTAINED_RATE), duration: params.duration }
            }
            Scenario::DataSizeVariations => State::DataSize(Box::new(DataSize::new(n(DATA_SIZE_SPANS))?)),
            Scenario::MixedTelemetry => State::Mixed { receiver: plain()?, rounds: n(MIXED_ROUNDS) },
            Scenario::ErrorHandling => {
                let faulty = |faults: Faults| start(ReceiverConfig { faults, ..ReceiverConfig::default() });
                State::Errors(Box::new(Errors {
                    ok: plain()?,
                    unavailable: ReceiverConfig {
                        faults: Faults {
                            seed: fixtures::SEED,
                            fail_fraction: RETRY_FAIL_FRACTION,
                            fail_status: 503,
                            ..Faults::default()
                        },
                        ..ReceiverConfig::default()
                    },
                    bad_request: faulty(Faults {
                        seed: fixtures::SEED,
                        fail_fraction: 1.0,
                        fail_status: 400,
                        ..Faults::default()
                    })?,
                    slow: faulty(Faults { delay: Some(SLOW_RECEIVER_DELAY), ..Faults::default() })?,
                    retry_spans: spans(n(RETRY_SPANS).max(RETRY_SPANS_MIN)),
                    few_spans: spans(FEW_SPANS),
                }))
            }
            Scenario::MemoryPatterns => State::Memory(Box::new(Memory::new(n(MEMORY_SPANS)))),
            Scenario::CpuIntensive => State::Cpu(Box::new(Cpu::new(n(CPU_BATCHES))?)),
            Scenario::NetworkIo => State::Network {
                receiver: start(ReceiverConfig {
                    grpc_addr: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
                    ..ReceiverConfig::default()
                })?,
                spans: spans(n(NETWORK_SPANS)),
            },
            Scenario::Production => State::Production { receiver: plain()?, items: n(PRODUCTION_ITEMS) },
        };
        Ok(PreparedScenario { scenario: self, state, runtime, rows: Vec::new() })
    }
}

/// How big a scenario runs.
#[derive(Clone, Debug)]
pub struct ScenarioParams {
    /// How long `sustained_load` offers load; the other scenarios ignore it.
    pub duration: Duration,
    /// Divisor of every scenario's item counts (those of [`Scenario::description`]
    /// are at scale 1); 0 counts as 1. Tests use larger divisors to run fast.
    pub scale: u32,
}

impl Default for ScenarioParams {
    /// 10 s of sustained load, full counts.
    fn default() -> Self {
        ScenarioParams { duration: Duration::from_secs(10), scale: 1 }
    }
}

/// One row of a scenario's report: one step of the last run (one batch
/// size, one producer count, one protocol and codec, ...), for the CLI to
/// print with its `Display`.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioRow {
    /// What the step varies, e.g. `max_batch_items=500`, `producers=50`, `grpc+zstd`.
    pub step: String,
    /// Items the receiver took (network steps) or items processed (CPU and memory steps).
    pub items: u64,
    /// Export requests made (one per batch, whatever the retries); 0 without network.
    pub requests: u64,
    /// Bytes handed to the transport after the pipeline's compression
    /// (network steps; over gRPC tonic compresses, so this is the raw size),
    /// or bytes produced (CPU and memory steps).
    pub bytes: u64,
    /// Wall time of the step; `None` in the deterministic scenarios, whose
    /// runs read no clock.
    pub wall: Option<Duration>,
    /// Further figures of the step, in display order, e.g.
    /// `("dropped", "queue_full=12")` or `("zstd1_bytes_per_span", "141.2")`.
    pub extra: Vec<(&'static str, String)>,
}

impl ScenarioRow {
    /// Items per second of wall time, when the step was timed.
    pub fn items_per_second(&self) -> Option<f64> {
        self.wall.filter(|w| !w.is_zero()).map(|w| self.items as f64 / w.as_secs_f64())
    }

    fn untimed(step: impl Into<String>, items: u64, bytes: u64) -> Self {
        ScenarioRow { step: step.into(), items, requests: 0, bytes, wall: None, extra: Vec::new() }
    }
}

impl fmt::Display for ScenarioRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:<28} items={} requests={} bytes={}", self.step, self.items, self.requests, self.bytes)?;
        if let Some(wall) = self.wall {
            write!(f, " wall={:.3}s", wall.as_secs_f64())?;
        }
        if let Some(rate) = self.items_per_second() {
            write!(f, " items/s={rate:.0}")?;
        }
        for (k, v) in &self.extra {
            write!(f, " {k}={v}")?;
        }
        Ok(())
    }
}

/// Why a scenario could not run, or found items lost or an error missing.
///
/// `step` fields name the step that failed as its report row does
/// (`max_batch_items=500`, `retry_503`, ...), or the service in
/// microservices_communication.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The scenario's tokio runtime could not be built.
    #[error("cannot build the tokio runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The loopback receiver could not listen on 127.0.0.1.
    #[error("cannot start the loopback receiver: {0}")]
    Receiver(#[source] std::io::Error),
    /// The exporter refused a configuration the scenario means to be valid.
    #[error("{step}: cannot build the exporter: {source}")]
    Exporter {
        /// The step that failed.
        step: Box<str>,
        /// The builder's error.
        #[source]
        source: ExporterError,
    },
    /// A codec failed to compress the scenario's data.
    #[error("{step}: compression failed: {source}")]
    Compress {
        /// The step that failed.
        step: Box<str>,
        /// The codec's error.
        #[source]
        source: CompressError,
    },
    /// A codec failed to decompress what it had just compressed.
    #[error("{step}: decompression failed: {source}")]
    Decompress {
        /// The step that failed.
        step: Box<str>,
        /// The codec's error.
        #[source]
        source: CompressError,
    },
    /// Decompressing a codec's output did not give back its input.
    #[error("{step}: {input} bytes compressed, {output} different bytes decompressed")]
    RoundTrip {
        /// The step that failed.
        step: Box<str>,
        /// Length of the compressed input.
        input: usize,
        /// Length of what decompression gave back.
        output: usize,
    },
    /// Accepted items are neither exported nor counted as dropped.
    #[error("{step}: items lost: accepted {} != exported {} + dropped {} ({stats})",
        stats.accepted, stats.exported, stats.dropped_total())]
    Unbalanced {
        /// The step that failed.
        step: Box<str>,
        /// The exporter's final counters.
        stats: Box<StatsSnapshot>,
    },
    /// Items were dropped, or fewer accepted than sent, in a step where every
    /// item must be delivered.
    #[error("{step}: {} items dropped, none may be ({stats})", stats.dropped_total())]
    Dropped {
        /// The step that failed.
        step: Box<str>,
        /// The exporter's final counters.
        stats: Box<StatsSnapshot>,
    },
    /// The receiver counted a different number of items than the exporter exported.
    #[error("{step}: the receiver counted {received} items, the exporter exported {exported}")]
    ReceiverMismatch {
        /// The step that failed.
        step: Box<str>,
        /// Items the receiver counted (all signals).
        received: u64,
        /// Items the exporter counted as exported.
        exported: u64,
    },
    /// The receiver counted a different number of one signal's items than were sent.
    #[error("{step}: the receiver counted {received} {signal}, {sent} were sent")]
    SignalMismatch {
        /// The step that failed.
        step: Box<str>,
        /// `spans`, `points` or `logs`.
        signal: &'static str,
        /// What the receiver counted.
        received: u64,
        /// What the scenario sent.
        sent: u64,
    },
    /// The pipeline refused an item a closed-loop producer handed it.
    #[error("{step}: the pipeline refused an item ({reason})")]
    Refused {
        /// The step that failed.
        step: Box<str>,
        /// The pipeline's reason.
        reason: DropReason,
    },
    /// A producer task panicked or was cancelled.
    #[error("{step}: a producer task failed: {source}")]
    Producer {
        /// The step that failed.
        step: Box<str>,
        /// The task's end.
        #[source]
        source: tokio::task::JoinError,
    },
    /// The exporter's shutdown did not return by its deadline.
    #[error("{step}: the exporter's shutdown did not return")]
    Hung {
        /// The step that failed.
        step: Box<str>,
    },
    /// A service could not read the `traceparent` its caller sent.
    #[error("call {call}: the callee refused the traceparent: {source}")]
    Traceparent {
        /// The call's index.
        call: u64,
        /// The parser's error.
        #[source]
        source: TraceparentError,
    },
    /// A received span does not continue its caller's trace.
    #[error("span {span:?}: {what}")]
    Propagation {
        /// The span where the chain broke.
        span: SpanId,
        /// What is wrong.
        what: &'static str,
    },
    /// An expected error did not occur (or another one did): a refused
    /// configuration was accepted, a fault was not seen, a status differs;
    /// or two ways of computing one result disagree.
    #[error("{step}: expected {expected}, got {got}")]
    Unexpected {
        /// The step that failed.
        step: Box<str>,
        /// What should have happened.
        expected: Box<str>,
        /// What did.
        got: Box<str>,
    },
    /// A hand-made request to the receiver failed to get any answer.
    #[error("{step}: request to the receiver failed: {source}")]
    Probe {
        /// The step that failed.
        step: Box<str>,
        /// The HTTP client's error.
        #[source]
        source: hyper_util::client::legacy::Error,
    },
    /// A hand-made request to the receiver got no complete answer in time.
    #[error("{step}: {case}: no answer from the receiver within {timeout:?}")]
    ProbeTimeout {
        /// The step that failed.
        step: Box<str>,
        /// The malformed request, as named in the step's row.
        case: &'static str,
        /// How long the request and its answer were given.
        timeout: Duration,
    },
}

fn unexpected(step: &str, expected: impl Into<Box<str>>, got: impl Into<Box<str>>) -> ScenarioError {
    ScenarioError::Unexpected { step: step.into(), expected: expected.into(), got: got.into() }
}

/// A prepared scenario: [`PreparedScenario::run`] is the measured part.
#[derive(Debug)]
pub struct PreparedScenario {
    scenario: Scenario,
    // Declared before the runtime so the receivers are dropped first.
    state: State,
    runtime: Runtime,
    rows: Vec<ScenarioRow>,
}

impl PreparedScenario {
    /// The scenario this was prepared for.
    pub fn scenario(&self) -> Scenario {
        self.scenario
    }

    /// The measured part; repeatable: each call is a fresh run of the
    /// scenario (new exporters against the same receivers; error_handling's
    /// 503 receiver is started afresh). The `Outcome` is
    /// the same on every run except for `sustained_load`, whose items depend
    /// on how many ticks fit into its duration and on what the queue could take.
    pub fn run(&mut self) -> Result<Outcome, ScenarioError> {
        let PreparedScenario { state, runtime, rows, .. } = self;
        rows.clear();
        match state {
            State::Web { receiver, requests } => runtime.block_on(web_application(receiver, *requests, rows)),
            State::Micro { receiver, calls } => runtime.block_on(microservices(receiver, *calls, rows)),
            State::Batch { receiver, spans } => runtime.block_on(batch_processing(receiver, spans, rows)),
            State::Concurrency { receiver, spans } => runtime.block_on(high_concurrency(receiver, *spans, rows)),
            State::Sustained { receiver, rate, duration } => {
                runtime.block_on(sustained_load(receiver, *rate, *duration, rows))
            }
            State::DataSize(s) => s.run(rows),
            State::Mixed { receiver, rounds } => runtime.block_on(mixed_telemetry(receiver, *rounds, rows)),
            State::Errors(s) => runtime.block_on(error_handling(s, rows)),
            State::Memory(s) => s.run(rows),
            State::Cpu(s) => s.run(rows),
            State::Network { receiver, spans } => runtime.block_on(network_io(receiver, spans, rows)),
            State::Production { receiver, items } => runtime.block_on(production(receiver, *items, rows)),
        }
    }

    /// The per-step rows of the last run (empty before the first), for the
    /// CLI to print: one [`ScenarioRow`] per step (batch size, producer
    /// count, protocol and codec, attribute count, error class, ...) with
    /// items, requests, bytes, wall time and items/s, and the step's own
    /// figures in `extra`.
    pub fn report(&self) -> &[ScenarioRow] {
        &self.rows
    }
}

/// What each scenario keeps between runs.
#[derive(Debug)]
enum State {
    Web { receiver: Receiver, requests: u64 },
    Micro { receiver: Receiver, calls: u64 },
    Batch { receiver: Receiver, spans: Vec<Span> },
    Concurrency { receiver: Receiver, spans: u64 },
    Sustained { receiver: Receiver, rate: u64, duration: Duration },
    DataSize(Box<DataSize>),
    Mixed { receiver: Receiver, rounds: u64 },
    Errors(Box<Errors>),
    Memory(Box<Memory>),
    Cpu(Box<Cpu>),
    Network { receiver: Receiver, spans: Vec<Span> },
    Production { receiver: Receiver, items: u64 },
}

// ---------------------------------------------------------------------------
// Sizes, chosen so that each scenario at scale 1 stays well under 3 s natively
// in release on the 2-core lab machine (sustained_load excepted: it runs for
// its duration), while still making enough batches to show each effect.

/// Requests of e2e_web_application: 6,000 spans, enough for a dozen full batches.
const WEB_REQUESTS: u64 = 2_000;
/// One request in 20 fails (5%): it gets an error status and a log record.
const WEB_ERROR_EVERY: u64 = 20;
/// The request counter is collected every 100 requests, as an SDK's periodic reader would.
const WEB_METRIC_EVERY: u64 = 100;
/// One cache lookup in 3 misses: the hit rate of a warm cache in front of a database.
const WEB_CACHE_MISS_EVERY: u64 = 3;
/// Distinct user ids in the web requests' paths: ids repeat, as on a real
/// site, and paths vary in length (1 to 3 digits).
const WEB_USERS: u64 = 1_000;
/// Nanoseconds per millisecond: span times are in ns, and the simulated
/// requests are laid out in ms.
pub(crate) const NS_PER_MS: u64 = 1_000_000;
/// Length of a simulated request (its server span), which its error log quotes.
const REQUEST_NS: u64 = 3 * NS_PER_MS;
/// Start-to-start spacing of simulated requests and calls: longer than a
/// request, so that consecutive ones do not overlap in a trace view.
const REQUEST_SPACING_NS: u64 = REQUEST_NS + NS_PER_MS;
/// Calls of microservices_communication: 3,000 spans, all kept by the receiver's capture.
const MICRO_CALLS: u64 = 1_000;
/// Services of microservices_communication, caller first.
const SERVICES: [&str; 3] = ["frontend", "orders", "payments"];
/// Spans per batch size: two full batches of the largest size.
const BATCH_SPANS: u64 = 10_000;
/// Batch sizes compared: from chatty to about 2.3 MB per request (under the receiver's 4 MiB limit).
pub(crate) const BATCH_SIZES: [usize; 4] = [100, 500, 1_000, 5_000];
/// Spans per producer count: 20 per producer at the largest count.
const CONCURRENCY_SPANS: u64 = 10_000;
/// Producer counts compared.
pub(crate) const PRODUCERS: [u64; 5] = [10, 50, 100, 200, 500];
/// Distinct item ids in the API spans' paths: 1 to 4 digits, so that
/// encoded spans vary in size as real ones do.
const API_ITEM_IDS: u64 = 10_000;
/// Offered rate of sustained_load: the rate the peer figures of DESIGN.md were measured at.
const SUSTAINED_RATE: u64 = 20_000;
/// Pacing tick: 100 ticks a second keeps the offered rate smooth at a cost of one timer each.
const SUSTAINED_TICK: Duration = Duration::from_millis(10);
/// Spans per attribute count in data_size_variations.
const DATA_SIZE_SPANS: u64 = 2_000;
/// Attribute counts compared: from a bare span to a heavily annotated one.
const ATTRIBUTE_COUNTS: [usize; 5] = [1, 5, 10, 20, 50];
/// Rounds of mixed_telemetry_types: each a span, every 4th a 2-point metric, every 2nd a log.
const MIXED_ROUNDS: u64 = 10_000;
/// The histograms' mean, in ms: their sum is count × mean, so that sum and
/// count stay consistent whatever the random bucket counts.
const HISTOGRAM_MEAN_MS: f64 = 42.0;
/// The histograms' extremes, in ms: inside the first and last finite
/// buckets of the default bounds (0-5 ms and 7.5-10 s).
const HISTOGRAM_MIN_MS: f64 = 0.5;
/// See [`HISTOGRAM_MIN_MS`].
const HISTOGRAM_MAX_MS: f64 = 9_000.0;
/// Spans sent through the 503 receiver (before the minimum below).
const RETRY_SPANS: u64 = 1_000;
/// At least 30 requests of 20 spans, so that a 30% fault rate is seen in
/// every run (no fault in 30 tries has probability 0.7^30 ≈ 2e-5; the
/// receiver is seeded and fresh per run, so a run either always or never
/// sees one, and the tests show it does).
const RETRY_SPANS_MIN: u64 = 600;
/// Batch size of the fault steps: many requests from few spans.
const ERROR_BATCH: usize = 20;
/// Fraction of requests the 503 receiver fails.
const RETRY_FAIL_FRACTION: f64 = 0.3;
/// Retries of the 503 and 400 steps: 40 attempts, so that no batch runs out
/// (40 injected failures in a row have probability 0.3^40 ≈ 1e-21, which
/// leaves room for the attempts refused while the breaker is open); backoff bounds of 2
/// to 20 ms keep the step to milliseconds; `max_elapsed` is only a guard.
const FAST_RETRY: RetryConfig = RetryConfig {
    max_attempts: 40,
    initial_backoff: Duration::from_millis(2),
    max_backoff: Duration::from_millis(20),
    max_elapsed: Duration::from_secs(10),
};
/// Breaker of the 503 step: opens on a run of 5 failures (the default) but
/// recovers within 20 ms, so that it shapes the run without stalling it.
const QUICK_BREAKER: BreakerConfig =
    BreakerConfig { failure_threshold: 5, open_for: Duration::from_millis(20), half_open_probes: 1 };
/// Spans of the 400 and timeout steps: a few requests are enough.
const FEW_SPANS: u64 = 200;
/// Batch size of the 400 and timeout steps: two requests of 100 spans.
const FEW_BATCH: usize = 100;
/// Per-attempt timeout of the timeout step.
const SHORT_TIMEOUT: Duration = Duration::from_millis(50);
/// The slow receiver answers after five attempt timeouts: no attempt can
/// succeed, however late the timer fires on a loaded machine.
const SLOW_RECEIVER_DELAY: Duration = SHORT_TIMEOUT.saturating_mul(5);
/// Retries of the timeout step: one retry, so that the timeout is seen
/// twice per batch, then the drop. `max_elapsed` leaves room for both
/// attempts and the backoff between them (2 × 50 + 5 ms) with margin.
const SHORT_RETRY: RetryConfig = RetryConfig {
    max_attempts: 2,
    initial_backoff: Duration::from_millis(5),
    max_backoff: Duration::from_millis(5),
    max_elapsed: SHORT_TIMEOUT.saturating_mul(4),
};
/// Bound on each malformed request and its answer: the loopback receiver
/// answers in well under a millisecond, so this only turns a hung receiver
/// into an error instead of a hung run.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// Spans sent after the malformed requests, to show the receiver still serves.
const AFTER_PROBE_SPANS: u64 = 10;
/// Spans of memory_patterns: 256 small batches or 4 large ones.
const MEMORY_SPANS: u64 = 4_096;
/// A small batch: what a lightly loaded service flushes on its timer.
const SMALL_BATCH: usize = 16;
/// First chunk of the scratch arena: one 4 KiB page holds a small batch's
/// scratch (16 spans × 10 attributes × 4 bytes, twice that with the Vec's
/// doublings), so a batch never needs a second chunk.
const ARENA_INITIAL: usize = 4 << 10;
/// Scratch each arena keeps across batches: far above a small batch's needs,
/// so the arena is reused, never replaced.
const ARENA_RETAINED: usize = 64 << 10;
/// Batches of cpu_intensive.
const CPU_BATCHES: u64 = 16;
/// Codecs of cpu_intensive: the exporter's default, zstd's own default
/// level, and what most peers send.
const CPU_CODECS: [Compression; 3] =
    [Compression::ZSTD_DEFAULT, Compression::Zstd { level: 3 }, Compression::GZIP_DEFAULT];
/// Spans per step of network_io.
const NETWORK_SPANS: u64 = 10_000;
/// Items of production_workload.
const PRODUCTION_ITEMS: u64 = 100_000;
/// Worker tasks of production_workload.
pub(crate) const WORKERS: u64 = 50;
/// A worker's unit of work: 7 spans, one 2-point metric and one log record
/// make 10 items in the 70/20/10 mix.
pub(crate) const BLOCK_ITEMS: u64 = 10;
/// The spans of a block.
pub(crate) const BLOCK_SPANS: u64 = 7;

/// The pipeline's default batch size (512 spans ≈ 234 KB encoded), which
/// the network scenarios keep unless they vary it.
fn default_batch() -> usize {
    PipelineConfig::default().max_batch_items
}

/// A large batch in memory_patterns: twice the default.
fn large_batch() -> usize {
    2 * default_batch()
}

/// Longest a partial batch waits in the closed-loop scenarios: far longer
/// than any run, so batches close by count only and the requests and encoded
/// bytes depend on the items alone, not on the machine's speed (a slow run
/// under valgrind would otherwise flush partial batches on the timer).
/// Shutdown still exports the last partial batches at once.
const COUNT_ONLY_DELAY: Duration = Duration::from_secs(3_600);
/// Shutdown deadline of every exporter: a guard, far above what a run needs.
const SHUTDOWN: Duration = Duration::from_secs(30);
/// Extra time given to a shutdown before it is declared hung.
const HANG_GUARD: Duration = Duration::from_secs(10);

fn scaled(count: u64, scale: u32) -> u64 {
    (count / u64::from(scale.max(1))).max(1)
}

// ---------------------------------------------------------------------------
// Telemetry of the simulated services. Ids come from the seeded fixture PRNG
// and timestamps from the fixtures' base time, so every run sends the same bytes.

fn trace_id(rng: &mut SplitMix64) -> TraceId {
    let mut b = [0u8; 16];
    // `max(1)`: an all-zero id is invalid and would be refused by traceparent parsing.
    b[..8].copy_from_slice(&rng.next_u64().max(1).to_le_bytes());
    b[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
    TraceId(b)
}

fn span_id(rng: &mut SplitMix64) -> SpanId {
    SpanId(rng.next_u64().max(1).to_le_bytes())
}

/// A typical API server span, as the concurrency and production workers make.
pub(crate) fn api_span(rng: &mut SplitMix64, worker: u64, seq: u64) -> Span {
    let start = fixtures::BASE_TIME_NS + seq * NS_PER_MS;
    Span::builder("GET /api/items/{id}")
        .with_capacity(5)
        .trace_id(trace_id(rng))
        .span_id(span_id(rng))
        .kind(SpanKind::Server)
        .times(start, start + NS_PER_MS)
        .attr("http.request.method", "GET")
        .attr("http.route", "/api/items/{id}")
        .attr("url.path", Str::format(format_args!("/api/items/{}", rng.below(API_ITEM_IDS))))
        .attr("http.response.status_code", 200)
        .attr("worker.id", worker as i64)
        .status(Status::OK)
        .build()
}

/// An INFO record tied to a span, about the size of the fixture's.
pub(crate) fn app_log(rng: &mut SplitMix64, seq: u64) -> LogRecord {
    let t = fixtures::BASE_TIME_NS + seq * NS_PER_MS;
    let order = rng.below(1_000_000);
    LogRecord::builder()
        .times(t, t)
        .severity(Severity::INFO, "INFO")
        .body(Str::format(format_args!("order {order:06} placed by user {seq:05}, payment accepted")))
        .attr("code.function", "checkout::place_order")
        .span_context(trace_id(rng), span_id(rng), FLAG_SAMPLED)
        .build()
}

fn number_point(attributes: Vec<KeyValue>, time: u64, value: NumberValue) -> NumberDataPoint {
    NumberDataPoint {
        attributes,
        start_time_unix_nano: fixtures::BASE_TIME_NS,
        time_unix_nano: time,
        value: Some(value),
        flags: 0,
    }
}

/// The request counter of e2e_web_application: one cumulative point per status.
fn request_counter(ok: u64, errors: u64, time: u64) -> Metric {
    let point = |status: i64, count: u64| {
        let attributes =
            vec![KeyValue::new("http.route", "/api/users/{id}"), KeyValue::new("http.response.status_code", status)];
        number_point(attributes, time, NumberValue::Int(count as i64))
    };
    let points = vec![point(200, ok), point(500, errors)];
    let data = MetricData::Sum { points, temporality: Temporality::Cumulative, is_monotonic: true };
    Metric::new("http.server.request.count", "Requests served", "{request}", data)
}

/// A 2-point gauge, sum or histogram (by `n % 3`), so every metric encoder runs.
pub(crate) fn two_point_metric(rng: &mut SplitMix64, n: u64, time: u64) -> Metric {
    let attrs = |cpu: i64| vec![KeyValue::new("host.name", "node-17"), KeyValue::new("cpu", cpu)];
    match n % 3 {
        0 => {
            let points = (0..2).map(|c| number_point(attrs(c), time, NumberValue::Double(rng.unit_f64()))).collect();
            Metric::new("system.cpu.utilization", "", "1", MetricData::Gauge(points))
        }
        1 => {
            let points =
                (0..2).map(|c| number_point(attrs(c), time, NumberValue::Int(rng.below(1_000_000) as i64))).collect();
            let data = MetricData::Sum { points, temporality: Temporality::Cumulative, is_monotonic: true };
            Metric::new("system.cpu.time", "", "ms", data)
        }
        _ => {
            let points = (0..2)
                .map(|c| {
                    let bucket_counts: Vec<u64> =
                        (0..=fixtures::DEFAULT_BOUNDS.len()).map(|_| rng.below(100)).collect();
                    let count = bucket_counts.iter().sum();
                    HistogramDataPoint {
                        attributes: attrs(c),
                        start_time_unix_nano: fixtures::BASE_TIME_NS,
                        time_unix_nano: time,
                        count,
                        sum: Some(count as f64 * HISTOGRAM_MEAN_MS),
                        bucket_counts,
                        explicit_bounds: fixtures::DEFAULT_BOUNDS.to_vec(),
                        min: Some(HISTOGRAM_MIN_MS),
                        max: Some(HISTOGRAM_MAX_MS),
                        ..HistogramDataPoint::default()
                    }
                })
                .collect();
            let data = MetricData::Histogram { points, temporality: Temporality::Cumulative };
            Metric::new("http.server.request.duration", "", "ms", data)
        }
    }
}

/// The standard fixture spans, as a producer would hand them over.
fn spans(n: u64) -> Vec<Span> {
    fixtures::spans(usize::try_from(n).expect("scenario sizes fit in memory, hence in usize"))
}

// ---------------------------------------------------------------------------
// Exporters and the checks every network step ends with.

/// What one step handed to the pipeline, per signal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Sent {
    spans: u64,
    points: u64,
    logs: u64,
}

impl Sent {
    fn total(self) -> u64 {
        self.spans + self.points + self.logs
    }

    fn plus(self, o: Sent) -> Sent {
        Sent { spans: self.spans + o.spans, points: self.points + o.points, logs: self.logs + o.logs }
    }
}

/// An exporter for the loopback receiver with count-only batching.
fn exporter_to(
    endpoint: String,
    protocol: Protocol,
    compression: Compression,
    max_batch_items: usize,
) -> ExporterBuilder {
    Exporter::builder()
        .endpoint(endpoint)
        .protocol(protocol)
        .batch(PipelineConfig { max_batch_items, max_delay: COUNT_ONLY_DELAY, ..PipelineConfig::default() })
        .compression(compression)
        .resource(fixtures::resource())
        .scope(fixtures::scope())
}

fn http_exporter(receiver: &Receiver, max_batch_items: usize) -> ExporterBuilder {
    exporter_to(receiver.http_endpoint(), Protocol::HttpProtobuf, Compression::None, max_batch_items)
}

fn build(step: &str, builder: ExporterBuilder) -> Result<Exporter, ScenarioError> {
    builder.build().map_err(|source| ScenarioError::Exporter { step: step.into(), source })
}

/// Hands an item over, waiting for queue room (closed loop).
async fn send(step: &str, h: &Handle, item: Item) -> Result<(), ScenarioError> {
    h.send(item).await.map_err(|r| ScenarioError::Refused { step: step.into(), reason: r.reason })
}

async fn shutdown(step: &str, exporter: Exporter, deadline: Duration) -> Result<ExporterStats, ScenarioError> {
    tokio::time::timeout(deadline + HANG_GUARD, exporter.shutdown(deadline))
        .await
        .map_err(|_elapsed| ScenarioError::Hung { step: step.into() })
}

/// The start of a step: the receiver's counts and the clock, so that its end
/// can tell what this step delivered (the receiver lives across steps and
/// runs) and how long it took.
struct StepStart<'r> {
    receiver: &'r Receiver,
    before: ReceiverCounts,
    at: Instant,
}

impl<'r> StepStart<'r> {
    fn now(receiver: &'r Receiver) -> Self {
        StepStart { receiver, before: receiver.counts(), at: Instant::now() }
    }

    /// What the receiver counted since the start, and the wall time since.
    fn end(self) -> (ReceiverCounts, Duration) {
        let wall = self.at.elapsed();
        (delta(self.receiver.counts(), self.before), wall)
    }

    /// Shuts the step's exporter down; returns its final counters, what the
    /// receiver counted since the start, and the step's wall time.
    async fn finish(
        self,
        step: &str,
        exporter: Exporter,
    ) -> Result<(ExporterStats, ReceiverCounts, Duration), ScenarioError> {
        let stats = shutdown(step, exporter, SHUTDOWN).await?;
        let (got, wall) = self.end();
        Ok((stats, got, wall))
    }
}

/// Sends `spans` (cloned) through a fresh exporter; returns its final
/// counters, what the receiver counted meanwhile, and the wall time.
async fn export_spans(
    step: &str,
    receiver: &Receiver,
    builder: ExporterBuilder,
    spans: &[Span],
) -> Result<(ExporterStats, ReceiverCounts, Duration), ScenarioError> {
    let start = StepStart::now(receiver);
    let exporter = build(step, builder)?;
    let h = exporter.handle();
    for s in spans {
        send(step, &h, Item::Span(s.clone())).await?;
    }
    drop(h);
    start.finish(step, exporter).await
}

/// What a receiver counted between two readings (it lives across runs).
fn delta(after: ReceiverCounts, before: ReceiverCounts) -> ReceiverCounts {
    ReceiverCounts {
        spans: after.spans.saturating_sub(before.spans),
        points: after.points.saturating_sub(before.points),
        logs: after.logs.saturating_sub(before.logs),
        accepted_requests: after.accepted_requests.saturating_sub(before.accepted_requests),
        refused_requests: after.refused_requests.saturating_sub(before.refused_requests),
        faulted_requests: after.faulted_requests.saturating_sub(before.faulted_requests),
        body_bytes: after.body_bytes.saturating_sub(before.body_bytes),
        captured_files: after.captured_files.saturating_sub(before.captured_files),
        capture_errors: after.capture_errors.saturating_sub(before.capture_errors),
    }
}

/// Every accepted item is exported or counted as dropped.
fn check_balanced(step: &str, stats: &StatsSnapshot) -> Result<(), ScenarioError> {
    if stats.is_balanced() {
        Ok(())
    } else {
        Err(ScenarioError::Unbalanced { step: step.into(), stats: Box::new(*stats) })
    }
}

/// Nothing was dropped and exactly `sent` items were accepted (with the
/// balance, every one of them was exported).
fn check_none_dropped(step: &str, stats: &StatsSnapshot, sent: u64) -> Result<(), ScenarioError> {
    if stats.dropped_total() > 0 || stats.accepted != sent {
        return Err(ScenarioError::Dropped { step: step.into(), stats: Box::new(*stats) });
    }
    Ok(())
}

/// Every accepted item is exported or counted as dropped, and the receiver
/// counted exactly what the exporter exported.
fn check_accounted(step: &str, stats: &StatsSnapshot, got: &ReceiverCounts) -> Result<(), ScenarioError> {
    check_balanced(step, stats)?;
    let received = got.spans + got.points + got.logs;
    if received != stats.exported {
        return Err(ScenarioError::ReceiverMismatch { step: step.into(), received, exported: stats.exported });
    }
    Ok(())
}

/// As [`check_accounted`], and everything sent was delivered: nothing
/// dropped, and the receiver counted per signal what was sent.
fn check_delivered(step: &str, stats: &StatsSnapshot, got: &ReceiverCounts, sent: Sent) -> Result<(), ScenarioError> {
    check_accounted(step, stats, got)?;
    check_none_dropped(step, stats, sent.total())?;
    for (signal, received, sent) in
        [("spans", got.spans, sent.spans), ("points", got.points, sent.points), ("logs", got.logs, sent.logs)]
    {
        if received != sent {
            return Err(ScenarioError::SignalMismatch { step: step.into(), signal, received, sent });
        }
    }
    Ok(())
}

fn dropped_text(p: &StatsSnapshot) -> String {
    let parts: Vec<String> =
        DropReason::ALL.iter().filter(|r| p.dropped(**r) > 0).map(|r| format!("{r}:{}", p.dropped(*r))).collect();
    if parts.is_empty() { "0".to_owned() } else { parts.join(",") }
}

fn exporter_row(step: impl Into<String>, stats: &ExporterStats, wall: Duration) -> ScenarioRow {
    pipeline_row(step, &stats.pipeline, stats.transport.retries, wall)
}

/// A step's row from the counters of its exporters and their retries.
fn pipeline_row(step: impl Into<String>, p: &StatsSnapshot, retries: u64, wall: Duration) -> ScenarioRow {
    let mut extra = vec![("bytes_raw", p.bytes_raw.to_string()), ("dropped", dropped_text(p))];
    if retries > 0 {
        extra.push(("retries", retries.to_string()));
    }
    ScenarioRow {
        step: step.into(),
        items: p.exported,
        requests: p.requests,
        bytes: p.bytes_sent,
        wall: Some(wall),
        extra,
    }
}

/// Folds deterministic quantities into a checksum (FNV-1a over whole
/// words, rotated so that small counts still spread over all bits).
fn fold(parts: impl IntoIterator<Item = u64>) -> u64 {
    parts.into_iter().fold(0xcbf2_9ce4_8422_2325, mix)
}

fn mix(h: u64, v: u64) -> u64 {
    (h.rotate_left(29) ^ v).wrapping_mul(0x0000_0100_0000_01b3)
}

fn network_outcome(stats: &StatsSnapshot, parts: impl IntoIterator<Item = u64>) -> Outcome {
    Outcome { items: stats.exported, bytes: stats.bytes_raw, checksum: fold(parts) }
}

/// Ends a step whose one exporter must deliver everything it was sent:
/// shuts it down, checks every signal at the receiver, and reports the step
/// with `extra` and the per-signal counts. The outcome folds the per-signal
/// counts sent, then `parts`.
async fn deliver_all(
    step: &str,
    start: StepStart<'_>,
    exporter: Exporter,
    sent: Sent,
    extra: Vec<(&'static str, String)>,
    parts: &[u64],
    rows: &mut Vec<ScenarioRow>,
) -> Result<Outcome, ScenarioError> {
    let (stats, got, wall) = start.finish(step, exporter).await?;
    check_delivered(step, &stats.pipeline, &got, sent)?;
    let mut row = exporter_row(step, &stats, wall);
    row.extra.extend(extra);
    row.extra.extend([
        ("spans", got.spans.to_string()),
        ("points", got.points.to_string()),
        ("logs", got.logs.to_string()),
    ]);
    rows.push(row);
    let counts = [sent.spans, sent.points, sent.logs];
    Ok(network_outcome(&stats.pipeline, counts.into_iter().chain(parts.iter().copied())))
}

/// What a scenario of several exporter steps accumulates: the counters of
/// all its exporters, the deterministic parts of its checksum, its rows.
struct Tally<'a> {
    total: StatsSnapshot,
    parts: Vec<u64>,
    rows: &'a mut Vec<ScenarioRow>,
}

impl<'a> Tally<'a> {
    fn new(rows: &'a mut Vec<ScenarioRow>) -> Self {
        Tally { total: StatsSnapshot::default(), parts: Vec::new(), rows }
    }

    /// Adds one exporter step: its counters, `part` (its deterministic
    /// result) and its row.
    fn record(&mut self, stats: &StatsSnapshot, part: u64, row: ScenarioRow) {
        self.total += *stats;
        self.parts.push(part);
        self.rows.push(row);
    }

    /// The row recorded last, for a step's own figures.
    fn last_row(&mut self) -> &mut ScenarioRow {
        self.rows.last_mut().expect("called after a step was recorded")
    }

    fn outcome(self) -> Outcome {
        network_outcome(&self.total, self.parts)
    }
}

/// Exports `spans` through a fresh exporter, checks that every one was
/// delivered, and records the step (its part: the spans exported); returns
/// the exporter's counters and what the receiver counted, for the step's
/// own checks.
async fn deliver_spans(
    step: &str,
    receiver: &Receiver,
    builder: ExporterBuilder,
    spans: &[Span],
    tally: &mut Tally<'_>,
) -> Result<(ExporterStats, ReceiverCounts), ScenarioError> {
    let (stats, got, wall) = export_spans(step, receiver, builder, spans).await?;
    check_delivered(step, &stats.pipeline, &got, Sent { spans: spans.len() as u64, ..Sent::default() })?;
    tally.record(&stats.pipeline, stats.pipeline.exported, exporter_row(step, &stats, wall));
    Ok((stats, got))
}

/// Waits for every producer; a refused item or a failed task fails the step.
async fn join_producers(step: &str, tasks: &mut JoinSet<Result<Sent, DropReason>>) -> Result<Sent, ScenarioError> {
    let mut sent = Sent::default();
    while let Some(joined) = tasks.join_next().await {
        let part = joined
            .map_err(|source| ScenarioError::Producer { step: step.into(), source })?
            .map_err(|reason| ScenarioError::Refused { step: step.into(), reason })?;
        sent = sent.plus(part);
    }
    Ok(sent)
}

// ---------------------------------------------------------------------------
// e2e_web_application

async fn web_application(
    receiver: &Receiver,
    requests: u64,
    rows: &mut Vec<ScenarioRow>,
) -> Result<Outcome, ScenarioError> {
    const STEP: &str = "http/protobuf";
    let start = StepStart::now(receiver);
    let exporter = build(STEP, http_exporter(receiver, default_batch()))?;
    let h = exporter.handle();
    let mut rng = SplitMix64::new(fixtures::SEED);
    let (mut sent, mut ok, mut errors) = (Sent::default(), 0u64, 0u64);
    for i in 0..requests {
        let error = i % WEB_ERROR_EVERY == WEB_ERROR_EVERY - 1;
        let t0 = fixtures::BASE_TIME_NS + i * REQUEST_SPACING_NS;
        let (trace, root) = (trace_id(&mut rng), span_id(&mut rng));
        let status: i64 = if error { 500 } else { 200 };
        let user = i % WEB_USERS;
        // Inside the request: the cache lookup first, then the query, as a
        // read-through cache does.
        let cache = Span::builder("cache.get")
            .parent(trace, root)
            .span_id(span_id(&mut rng))
            .kind(SpanKind::Client)
            .times(t0 + NS_PER_MS / 4, t0 + NS_PER_MS / 2)
            .attr("cache.system", "redis")
            .attr("cache.hit", i % WEB_CACHE_MISS_EVERY != 0)
            .build();
        let db = Span::builder("SELECT users")
            .parent(trace, root)
            .span_id(span_id(&mut rng))
            .kind(SpanKind::Client)
            .times(t0 + NS_PER_MS / 2, t0 + 2 * NS_PER_MS)
            .attr("db.system", "postgresql")
            .attr("db.query.text", "SELECT * FROM users WHERE id = $1")
            .build();
        let server = Span::builder("GET /api/users/{id}")
            .with_capacity(4)
            .trace_id(trace)
            .span_id(root)
            .kind(SpanKind::Server)
            .times(t0, t0 + REQUEST_NS)
            .attr("http.request.method", "GET")
            .attr("http.route", "/api/users/{id}")
            .attr("url.path", Str::format(format_args!("/api/users/{user}")))
            .attr("http.response.status_code", status)
            .status(if error { Status::error("upstream timeout") } else { Status::OK })
            .build();
        // Children end first, so a real SDK would hand them over first.
        for span in [cache, db, server] {
            send(STEP, &h, Item::Span(span)).await?;
            sent.spans += 1;
        }
        let t_end = t0 + REQUEST_NS;
        if error {
            errors += 1;
            let log = LogRecord::builder()
                .times(t_end, t_end)
                .severity(Severity::ERROR, "ERROR")
                .body(Str::format(format_args!(
                    "GET /api/users/{user}: upstream timeout after {} ms",
                    REQUEST_NS / NS_PER_MS
                )))
                .attr("http.response.status_code", status)
                .span_context(trace, root, FLAG_SAMPLED)
                .build();
            send(STEP, &h, Item::Log(log)).await?;
            sent.logs += 1;
        } else {
            ok += 1;
        }
        if (i + 1) % WEB_METRIC_EVERY == 0 || i + 1 == requests {
            let counter = Item::Metric(request_counter(ok, errors, t_end));
            sent.points += counter.count();
            send(STEP, &h, counter).await?;
        }
    }
    drop(h);
    let extra = vec![("requests_simulated", requests.to_string())];
    deliver_all(STEP, start, exporter, sent, extra, &[ok, errors], rows).await
}

// ---------------------------------------------------------------------------
// microservices_communication

async fn microservices(receiver: &Receiver, calls: u64, rows: &mut Vec<ScenarioRow>) -> Result<Outcome, ScenarioError> {
    // All services run at once, so the step is timed (and reported) as one.
    let step = format!("{}_services", SERVICES.len());
    // A failed earlier run may have left spans in the capture.
    let _stale = receiver.take_captured();
    let start = StepStart::now(receiver);
    let mut exporters = Vec::with_capacity(SERVICES.len());
    for service in SERVICES {
        let resource = Resource::new([
            KeyValue::new("service.name", service),
            KeyValue::new("service.version", "1.0.0"),
            KeyValue::new("deployment.environment", "prod"),
        ]);
        exporters.push(build(service, http_exporter(receiver, default_batch()).resource(resource))?);
    }
    let handles: Vec<Handle> = exporters.iter().map(Exporter::handle).collect();
    let mut rng = SplitMix64::new(fixtures::SEED);
    for call in 0..calls {
        // Each callee's span lies inside its caller's.
        let t0 = fixtures::BASE_TIME_NS + call * REQUEST_SPACING_NS;
        let index = call as i64;
        let a = Span::builder("GET /checkout")
            .trace_id(trace_id(&mut rng))
            .span_id(span_id(&mut rng))
            .kind(SpanKind::Server)
            .times(t0, t0 + REQUEST_NS)
            .attr("call.index", index)
            .build();
        // The header is all that crosses to the callee: B rebuilds the context from it.
        let header = a.context().traceparent();
        let remote =
            SpanContext::from_headers(&header, None).map_err(|source| ScenarioError::Traceparent { call, source })?;
        let b = Span::builder("POST /orders")
            .child_of_remote(&remote)
            .span_id(span_id(&mut rng))
            .kind(SpanKind::Server)
            .times(t0 + NS_PER_MS / 2, t0 + 5 * NS_PER_MS / 2)
            .attr("call.index", index)
            .build();
        let header = b.context().traceparent();
        let remote =
            SpanContext::from_headers(&header, None).map_err(|source| ScenarioError::Traceparent { call, source })?;
        let c = Span::builder("POST /payments")
            .child_of_remote(&remote)
            .span_id(span_id(&mut rng))
            .kind(SpanKind::Server)
            .times(t0 + NS_PER_MS, t0 + 2 * NS_PER_MS)
            .attr("call.index", index)
            .build();
        for (h, span) in handles.iter().zip([a, b, c]) {
            send(&step, h, Item::Span(span)).await?;
        }
    }
    drop(handles);
    let (mut total, mut retries, mut requests) = (StatsSnapshot::default(), 0, Vec::new());
    for (service, exporter) in SERVICES.iter().zip(exporters) {
        let stats = shutdown(service, exporter, SHUTDOWN).await?;
        check_balanced(service, &stats.pipeline)?;
        check_none_dropped(service, &stats.pipeline, calls)?;
        total += stats.pipeline;
        retries += stats.transport.retries;
        requests.push(stats.pipeline.requests.to_string());
    }
    let (got, wall) = start.end();
    check_delivered(&step, &total, &got, Sent { spans: calls * SERVICES.len() as u64, ..Sent::default() })?;
    let mut row = pipeline_row(step, &total, retries, wall);
    row.extra.push(("requests_per_service", requests.join(",")));
    rows.push(row);
    let verifying = Instant::now();
    let (verified, traces) = verify_chains(receiver.take_captured(), calls)?;
    let mut row = ScenarioRow::untimed("propagation", verified, 0);
    row.wall = Some(verifying.elapsed());
    rows.push(row);
    Ok(network_outcome(&total, [got.spans, verified, traces]))
}

/// Checks that every payments span continues an orders span, which
/// continues a root frontend span, all in one trace; that each span
/// continues only one callee's span (one chain per call); and that every
/// call has a trace of its own. Returns the chains verified and a fold of
/// their sorted trace ids.
fn verify_chains(captured: Vec<Received>, calls: u64) -> Result<(u64, u64), ScenarioError> {
    let mut by_service: [HashMap<SpanId, Span>; 3] = Default::default();
    for received in captured {
        let Received::Traces(data) = received else {
            return Err(unexpected("propagation", "only traces at the receiver", "metrics or logs"));
        };
        for rs in data.resource_spans {
            let service =
                rs.resource.attributes.iter().find(|kv| kv.key == "service.name").and_then(|kv| match &kv.value {
                    AnyValue::String(s) => SERVICES.iter().position(|n| s == *n),
                    _ => None,
                });
            let Some(service) = service else {
                return Err(unexpected("propagation", "service.name of a known service", "a span without one"));
            };
            for span in rs.scope_spans.into_iter().flat_map(|s| s.spans) {
                // A repeated span id shrinks the map, so the count below catches it.
                by_service[service].insert(span.span_id, span);
            }
        }
    }
    for (service, spans) in SERVICES.iter().zip(&by_service) {
        if spans.len() as u64 != calls {
            return Err(ScenarioError::SignalMismatch {
                step: (*service).into(),
                signal: "spans",
                received: spans.len() as u64,
                sent: calls,
            });
        }
    }
    let [frontend, orders, payments] = &by_service;
    let (mut orders_used, mut frontend_used) = (HashSet::new(), HashSet::new());
    let mut traces = HashSet::new();
    for c in payments.values() {
        let broken = |what| Err(ScenarioError::Propagation { span: c.span_id, what });
        let Some(b) = c.parent_span_id.and_then(|p| orders.get(&p)) else {
            return broken("the payments span's parent is not an orders span");
        };
        if !orders_used.insert(b.span_id) {
            return broken("another payments span continues the same orders span");
        }
        let Some(a) = b.parent_span_id.and_then(|p| frontend.get(&p)) else {
            return broken("the orders span's parent is not a frontend span");
        };
        if !frontend_used.insert(a.span_id) {
            return broken("another orders span continues the same frontend span");
        }
        if a.parent_span_id.is_some() {
            return broken("the frontend span is not a root span");
        }
        if b.trace_id != a.trace_id || c.trace_id != a.trace_id {
            return broken("the trace id changed along the call chain");
        }
        if b.flags & FLAG_IS_REMOTE == 0 || c.flags & FLAG_IS_REMOTE == 0 {
            return broken("a callee's parent is not marked remote");
        }
        traces.insert(a.trace_id);
    }
    if traces.len() as u64 != calls {
        return Err(unexpected("propagation", format!("{calls} distinct trace ids"), traces.len().to_string()));
    }
    let mut ids: Vec<TraceId> = traces.into_iter().collect();
    ids.sort_unstable();
    let words = ids.iter().map(|t| u64::from_le_bytes(t.0[..8].try_into().expect("8 of the 16 bytes")));
    Ok((calls, fold(words)))
}

// ---------------------------------------------------------------------------
// batch_processing, network_io

async fn batch_processing(
    receiver: &Receiver,
    spans: &[Span],
    rows: &mut Vec<ScenarioRow>,
) -> Result<Outcome, ScenarioError> {
    let mut tally = Tally::new(rows);
    for size in BATCH_SIZES {
        let step = format!("max_batch_items={size}");
        tally.parts.push(size as u64);
        deliver_spans(&step, receiver, http_exporter(receiver, size), spans, &mut tally).await?;
    }
    Ok(tally.outcome())
}

async fn network_io(
    receiver: &Receiver,
    spans: &[Span],
    rows: &mut Vec<ScenarioRow>,
) -> Result<Outcome, ScenarioError> {
    let mut tally = Tally::new(rows);
    for protocol in [Protocol::HttpProtobuf, Protocol::Grpc] {
        for compression in [Compression::None, Compression::GZIP_DEFAULT, Compression::ZSTD_DEFAULT] {
            let step = format!("{protocol}+{compression}");
            let endpoint = match protocol {
                Protocol::Grpc => receiver.grpc_endpoint().expect("the network_io receiver is started with gRPC"),
                _ => receiver.http_endpoint(),
            };
            let builder = exporter_to(endpoint, protocol, compression, default_batch());
            deliver_spans(&step, receiver, builder, spans, &mut tally).await?;
            if protocol == Protocol::Grpc && compression != Compression::None {
                tally.last_row().extra.push(("note", "tonic compresses after the pipeline: bytes are raw".to_owned()));
            }
        }
    }
    Ok(tally.outcome())
}

// ---------------------------------------------------------------------------
// high_concurrency, production_workload

async fn high_concurrency(
    receiver: &Receiver,
    spans: u64,
    rows: &mut Vec<ScenarioRow>,
) -> Result<Outcome, ScenarioError> {
    let mut tally = Tally::new(rows);
    for producers in PRODUCERS {
        let step = format!("producers={producers}");
        let start = StepStart::now(receiver);
        let exporter = build(&step, http_exporter(receiver, default_batch()))?;
        let mut tasks = JoinSet::new();
        for worker in 0..producers {
            // The remainder goes to the first producers, so the total is exact.
            let n = spans / producers + u64::from(worker < spans % producers);
            let h = exporter.handle();
            tasks.spawn(async move {
                let mut rng = SplitMix64::new(fixtures::SEED.wrapping_add(worker));
                for seq in 0..n {
                    h.send(Item::Span(api_span(&mut rng, worker, seq))).await.map_err(|r| r.reason)?;
                }
                Ok(Sent { spans: n, ..Sent::default() })
            });
        }
        let sent = join_producers(&step, &mut tasks).await?;
        let (stats, got, wall) = start.finish(&step, exporter).await?;
        check_delivered(&step, &stats.pipeline, &got, sent)?;
        tally.parts.push(producers);
        tally.record(&stats.pipeline, stats.pipeline.exported, exporter_row(step, &stats, wall));
    }
    Ok(tally.outcome())
}

async fn production(receiver: &Receiver, items: u64, rows: &mut Vec<ScenarioRow>) -> Result<Outcome, ScenarioError> {
    let step = format!("{WORKERS}_workers");
    let blocks = (items / (WORKERS * BLOCK_ITEMS)).max(1);
    let start = StepStart::now(receiver);
    let exporter = build(&step, http_exporter(receiver, default_batch()))?;
    let mut tasks = JoinSet::new();
    for worker in 0..WORKERS {
        let h = exporter.handle();
        tasks.spawn(async move {
            let mut rng = SplitMix64::new(fixtures::SEED.wrapping_add(worker));
            let mut sent = Sent::default();
            for block in 0..blocks {
                let seq = block * BLOCK_ITEMS;
                for j in 0..BLOCK_SPANS {
                    h.send(Item::Span(api_span(&mut rng, worker, seq + j))).await.map_err(|r| r.reason)?;
                }
                let time = fixtures::BASE_TIME_NS + seq * NS_PER_MS;
                let metric = Item::Metric(two_point_metric(&mut rng, block, time));
                let points = metric.count();
                h.send(metric).await.map_err(|r| r.reason)?;
                h.send(Item::Log(app_log(&mut rng, seq))).await.map_err(|r| r.reason)?;
                sent = sent.plus(Sent { spans: BLOCK_SPANS, points, logs: 1 });
            }
            Ok(sent)
        });
    }
    let sent = join_producers(&step, &mut tasks).await?;
    deliver_all(&step, start, exporter, sent, Vec::new(), &[], rows).await
}

// ---------------------------------------------------------------------------
// sustained_load, mixed_telemetry_types

/// Offers `rate` spans a second in ticks until `duration` has passed. The
/// producer never waits for the queue (`try_span`): what it cannot take is
/// counted as dropped, as for a service that must not block. A late tick is
/// skipped, not made up in a burst, so the offered rate stays steady.
async fn sustained_load(
    receiver: &Receiver,
    rate: u64,
    duration: Duration,
    rows: &mut Vec<ScenarioRow>,
) -> Result<Outcome, ScenarioError> {
    const STEP: &str = "paced";
    let per_tick = (rate * SUSTAINED_TICK.as_millis() as u64 / 1_000).max(1);
    let ticks = (duration.as_millis() / SUSTAINED_TICK.as_millis()).max(1) as u64;
    let start = StepStart::now(receiver);
    // The default batching (its max_delay included): this scenario is about time.
    let builder = Exporter::builder()
        .endpoint(receiver.http_endpoint())
        .protocol(Protocol::HttpProtobuf)
        .resource(fixtures::resource())
        .scope(fixtures::scope());
    let exporter = build(STEP, builder)?;
    let h = exporter.handle();
    let mut rng = SplitMix64::new(fixtures::SEED);
    let mut interval = tokio::time::interval(SUSTAINED_TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut offered = 0;
    for _ in 0..ticks {
        interval.tick().await;
        if start.at.elapsed() >= duration {
            break;
        }
        for _ in 0..per_tick {
            h.span(api_span(&mut rng, 0, offered));
            offered += 1;
        }
    }
    drop(h);
    let (stats, got, wall) = start.finish(STEP, exporter).await?;
    check_accounted(STEP, &stats.pipeline, &got)?;
    if stats.pipeline.accepted != offered {
        return Err(unexpected(STEP, format!("{offered} items accepted"), stats.pipeline.accepted.to_string()));
    }
    let mut row = exporter_row(STEP, &stats, wall);
    row.extra.extend([("offered", offered.to_string()), ("offered_per_second", rate.to_string())]);
    rows.push(row);
    let p = &stats.pipeline;
    Ok(network_outcome(p, [offered, p.exported, p.dropped_total()]))
}

async fn mixed_telemetry(
    receiver: &Receiver,
    rounds: u64,
    rows: &mut Vec<ScenarioRow>,
) -> Result<Outcome, ScenarioError> {
    const STEP: &str = "interleaved";
    let start = StepStart::now(receiver);
    let exporter = build(STEP, http_exporter(receiver, default_batch()))?;
    let h = exporter.handle();
    let mut rng = SplitMix64::new(fixtures::SEED);
    let mut sent = Sent::default();
    for i in 0..rounds {
        send(STEP, &h, Item::Span(api_span(&mut rng, 0, i))).await?;
        sent.spans += 1;
        if i % 4 == 0 {
            let metric = Item::Metric(two_point_metric(&mut rng, i / 4, fixtures::BASE_TIME_NS + i * NS_PER_MS));
            sent.points += metric.count();
            send(STEP, &h, metric).await?;
        }
        if i % 2 == 0 {
            send(STEP, &h, Item::Log(app_log(&mut rng, i))).await?;
            sent.logs += 1;
        }
    }
    drop(h);
    deliver_all(STEP, start, exporter, sent, Vec::new(), &[], rows).await
}

// ---------------------------------------------------------------------------
// error_handling

/// The receivers and fixtures of error_handling.
#[derive(Debug)]
struct Errors {
    /// Healthy: target of the malformed requests.
    ok: Receiver,
    /// Fails 30% of requests with 503; started fresh in each run (see
    /// [`unavailable_receiver`]).
    unavailable: ReceiverConfig,
    /// Fails every request with 400.
    bad_request: Receiver,
    /// Answers after `SLOW_RECEIVER_DELAY`.
    slow: Receiver,
    retry_spans: Vec<Span>,
    few_spans: Vec<Span>,
}

/// The kinds of configuration error the builder reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ConfigKind {
    Endpoint,
    Header,
    Batch,
    Compression,
    Transport,
    Unsupported,
    Setting,
}

impl ConfigKind {
    const ALL: [ConfigKind; 7] = [
        ConfigKind::Endpoint,
        ConfigKind::Header,
        ConfigKind::Batch,
        ConfigKind::Compression,
        ConfigKind::Transport,
        ConfigKind::Unsupported,
        ConfigKind::Setting,
    ];

    fn of(e: &ExporterError) -> Self {
        use otlp_pipeline::pipeline::ConfigError as PipelineError;
        match e {
            ExporterError::Invalid { .. } => ConfigKind::Setting,
            ExporterError::Http(HttpConfigError::Header(_)) => ConfigKind::Header,
            ExporterError::Http(_) => ConfigKind::Endpoint,
            ExporterError::Compression(_) | ExporterError::Pipeline(PipelineError::Compression(_)) => {
                ConfigKind::Compression
            }
            ExporterError::Pipeline(_) => ConfigKind::Batch,
            ExporterError::Transport(_) => ConfigKind::Transport,
            ExporterError::Unsupported(_) => ConfigKind::Unsupported,
            // The pipeline's error is non-exhaustive: a kind added there is a setting until named here.
            _ => ConfigKind::Setting,
        }
    }

    fn name(self) -> &'static str {
        match self {
            ConfigKind::Endpoint => "endpoint",
            ConfigKind::Header => "header",
            ConfigKind::Batch => "batch",
            ConfigKind::Compression => "compression",
            ConfigKind::Transport => "transport",
            ConfigKind::Unsupported => "unsupported",
            ConfigKind::Setting => "setting",
        }
    }
}

/// A configuration the builder must refuse: its name, the kind of error
/// expected, a word the message must contain (so it says what is wrong),
/// and the builder (or the error already raised while configuring it).
type ConfigCase = (&'static str, ConfigKind, &'static str, Result<ExporterBuilder, ExporterError>);

fn invalid_configs(endpoint: &str) -> Vec<ConfigCase> {
    let base = || Exporter::builder().endpoint(endpoint);
    let env =
        |key: &'static str, value: &'static str| base().from_env_with(move |k| (k == key).then(|| value.to_owned()));
    let batch = |f: fn(&mut PipelineConfig)| {
        let mut config = PipelineConfig::default();
        f(&mut config);
        Ok(base().batch(config))
    };
    let retry = |f: fn(&mut RetryConfig)| {
        let mut config = RetryConfig::default();
        f(&mut config);
        Ok(base().retry(config))
    };
    use ConfigKind as K;
    vec![
        ("endpoint_not_a_url", K::Endpoint, "not a url", Ok(Exporter::builder().endpoint("not a url"))),
        ("endpoint_scheme", K::Endpoint, "ftp://", Ok(Exporter::builder().endpoint("ftp://127.0.0.1:4318"))),
        ("header_name", K::Header, "bad header", Ok(base().headers([("bad header".to_owned(), "x".to_owned())]))),
        ("zero_batch_size", K::Batch, "max_batch_items", batch(|c| c.max_batch_items = 0)),
        ("zero_queue", K::Batch, "queue_capacity", batch(|c| c.queue_capacity = 0)),
        ("zero_concurrency", K::Batch, "max_concurrent_exports", batch(|c| c.max_concurrent_exports = 0)),
        ("zstd_level", K::Compression, "zstd level 99", Ok(base().compression(Compression::Zstd { level: 99 }))),
        ("gzip_level", K::Compression, "gzip level 12", Ok(base().compression(Compression::Gzip { level: 12 }))),
        ("env_compression", K::Compression, "lz4", env("OTEL_EXPORTER_OTLP_COMPRESSION", "lz4")),
        ("zero_timeout", K::Transport, "timeout", Ok(base().timeout(Duration::ZERO))),
        ("zero_attempts", K::Transport, "max_attempts", retry(|c| c.max_attempts = 0)),
        ("backoff_below_initial", K::Transport, "max_backoff", retry(|c| c.max_backoff = c.initial_backoff / 2)),
        (
            "zero_breaker_threshold",
            K::Transport,
            "failure_threshold",
            Ok(base().breaker(BreakerConfig { failure_threshold: 0, ..BreakerConfig::default() })),
        ),
        (
            "grpc_signal_endpoint",
            K::Unsupported,
            "per-signal",
            Ok(base().protocol(Protocol::Grpc).signal_endpoint(Signal::Traces, format!("{endpoint}/v1/traces"))),
        ),
        ("env_timeout", K::Setting, "OTEL_EXPORTER_OTLP_TIMEOUT", env("OTEL_EXPORTER_OTLP_TIMEOUT", "10s")),
        ("unknown_protocol", K::Setting, "thrift", "thrift".parse::<Protocol>().map(|p| base().protocol(p))),
    ]
}

/// A malformed request and the status the OTLP spec calls for.
struct Probe {
    case: &'static str,
    /// GET instead of POST.
    get: bool,
    path: &'static str,
    content_type: &'static str,
    content_encoding: Option<&'static str>,
    body: &'static [u8],
    status: u16,
}

const fn probe(
    case: &'static str,
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    status: u16,
) -> Probe {
    Probe { case, get: false, path, content_type, content_encoding: None, body, status }
}

const PROBES: [Probe; 6] = [
    probe("garbage_protobuf", "/v1/traces", "application/x-protobuf", b"this is not protobuf", 400),
    probe("garbage_json", "/v1/logs", "application/json", b"{\"resourceLogs\": [", 400),
    Probe {
        content_encoding: Some("gzip"),
        ..probe("corrupt_gzip", "/v1/metrics", "application/x-protobuf", b"not gzip", 400)
    },
    probe("bad_content_type", "/v1/traces", "text/plain", b"hello", 415),
    probe("unknown_path", "/v1/profiles", "application/x-protobuf", b"", 404),
    Probe { get: true, ..probe("wrong_method", "/v1/traces", "application/x-protobuf", b"", 405) },
];

/// Starts the 503 receiver of one run. Its seeded fault decisions follow
/// the requests in arrival order from the receiver's start, so a receiver
/// of its own makes each run see the same faults, whatever earlier runs did.
async fn unavailable_receiver(config: &ReceiverConfig) -> Result<Receiver, ScenarioError> {
    Receiver::start(config.clone()).await.map_err(ScenarioError::Receiver)
}

/// Sends one malformed request and reads the whole answer (so that the
/// connection is reused for the next probe); returns the status.
async fn send_probe(
    step: &str,
    client: &Client<HttpConnector, Full<Bytes>>,
    endpoint: &str,
    p: &Probe,
) -> Result<u16, ScenarioError> {
    let mut request = http::Request::builder()
        .method(if p.get { http::Method::GET } else { http::Method::POST })
        .uri(format!("{endpoint}{}", p.path))
        .header(http::header::CONTENT_TYPE, p.content_type);
    if let Some(encoding) = p.content_encoding {
        request = request.header(http::header::CONTENT_ENCODING, encoding);
    }
    let request = request.body(Full::new(Bytes::from_static(p.body))).expect("static request parts are valid");
    let exchange = async {
        let response = client.request(request).await?;
        let status = response.status().as_u16();
        // The body is only drained: a broken one does not change the status.
        let _body = response.into_body().collect().await;
        Ok::<_, hyper_util::client::legacy::Error>(status)
    };
    match tokio::time::timeout(PROBE_TIMEOUT, exchange).await {
        Ok(answer) => answer.map_err(|source| ScenarioError::Probe { step: step.into(), source }),
        Err(_elapsed) => Err(ScenarioError::ProbeTimeout { step: step.into(), case: p.case, timeout: PROBE_TIMEOUT }),
    }
}

/// Runs the four error classes in order; the outcome folds only their
/// deterministic results (error kinds seen, items per drop reason, status
/// codes), never retry counts or timings. Its items are the spans delivered:
/// neither the rejected nor the given-up ones.
async fn error_handling(s: &Errors, rows: &mut Vec<ScenarioRow>) -> Result<Outcome, ScenarioError> {
    let mut tally = Tally::new(rows);

    // (1) Invalid configurations are refused by the builder, each with a clear error.
    let step = "invalid_config";
    let started = Instant::now();
    let mut seen = [0u64; ConfigKind::ALL.len()];
    for (case, kind, word, builder) in invalid_configs(&s.ok.http_endpoint()) {
        match builder.and_then(ExporterBuilder::build) {
            Ok(exporter) => {
                let _stats = exporter.shutdown(Duration::ZERO).await;
                return Err(unexpected(step, format!("{case} refused"), "accepted"));
            }
            Err(e) => {
                let message = e.to_string();
                if ConfigKind::of(&e) != kind || !message.contains(word) {
                    return Err(unexpected(step, format!("{case}: a {} error naming `{word}`", kind.name()), message));
                }
                seen[kind as usize] += 1;
            }
        }
    }
    let mut row = ScenarioRow::untimed(step, 0, 0);
    row.wall = Some(started.elapsed());
    row.extra.extend(ConfigKind::ALL.iter().map(|k| (k.name(), seen[*k as usize].to_string())));
    tally.rows.push(row);
    tally.parts.extend(seen);

    // (2a) A receiver failing 30% of requests with 503: retries deliver everything.
    let step = "retry_503";
    let unavailable = unavailable_receiver(&s.unavailable).await?;
    let builder = http_exporter(&unavailable, ERROR_BATCH).retry(FAST_RETRY).breaker(QUICK_BREAKER);
    let (stats, got) = deliver_spans(step, &unavailable, builder, &s.retry_spans, &mut tally).await?;
    drop(unavailable);
    if got.faulted_requests == 0 || stats.transport.retries == 0 {
        let got = format!("{} faulted requests, {} retries", got.faulted_requests, stats.transport.retries);
        return Err(unexpected(step, "injected 503s, retried", got));
    }
    tally.last_row().extra.push(("faulted_requests", got.faulted_requests.to_string()));

    // (2b) A permanent 400: the items are counted as rejected, never retried, never lost.
    let step = "rejected_400";
    let builder = http_exporter(&s.bad_request, FEW_BATCH).retry(FAST_RETRY);
    let (stats, got, wall) = export_spans(step, &s.bad_request, builder, &s.few_spans).await?;
    check_accounted(step, &stats.pipeline, &got)?;
    let rejected = stats.pipeline.dropped(DropReason::Rejected);
    if rejected != s.few_spans.len() as u64 || stats.transport.retries != 0 {
        let got = format!("{} ({} retries)", dropped_text(&stats.pipeline), stats.transport.retries);
        return Err(unexpected(step, format!("rejected:{} without retries", s.few_spans.len()), got));
    }
    tally.record(&stats.pipeline, rejected, exporter_row(step, &stats, wall));

    // (3) Attempts time out against a receiver slower than the exporter's timeout; a
    // small retry budget ends in counted drops, and shutdown returns.
    let step = "timeout";
    let builder = http_exporter(&s.slow, FEW_BATCH).timeout(SHORT_TIMEOUT).retry(SHORT_RETRY);
    // The receiver's count is not compared here: a request the exporter gave
    // up on may still be served (at-least-once), and whether it is depends on timing.
    let (stats, _served_anyway, wall) = export_spans(step, &s.slow, builder, &s.few_spans).await?;
    let p = &stats.pipeline;
    check_balanced(step, p)?;
    let exhausted = p.dropped(DropReason::RetriesExhausted);
    if exhausted != s.few_spans.len() as u64 || p.exported != 0 || stats.transport.timeouts == 0 {
        let got = format!("{} ({} timeouts)", dropped_text(p), stats.transport.timeouts);
        return Err(unexpected(step, format!("retries_exhausted:{} after timeouts", s.few_spans.len()), got));
    }
    let mut row = exporter_row(step, &stats, wall);
    row.extra.push(("timeouts", stats.transport.timeouts.to_string()));
    tally.record(p, exhausted, row);

    // (4) Malformed requests are answered 4xx, and the receiver keeps serving.
    let step = "bad_input";
    let started = Instant::now();
    let before = s.ok.counts();
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let endpoint = s.ok.http_endpoint();
    let mut row = ScenarioRow::untimed(step, 0, 0);
    for p in &PROBES {
        let status = send_probe(step, &client, &endpoint, p).await?;
        if status != p.status {
            return Err(unexpected(step, format!("{}: HTTP {}", p.case, p.status), format!("HTTP {status}")));
        }
        row.extra.push((p.case, status.to_string()));
        row.bytes += p.body.len() as u64;
        tally.parts.push(u64::from(status));
    }
    let refused = delta(s.ok.counts(), before).refused_requests;
    if refused != PROBES.len() as u64 {
        return Err(unexpected(step, format!("{} refused requests", PROBES.len()), refused.to_string()));
    }
    row.wall = Some(started.elapsed());
    tally.rows.push(row);
    let step = "serving_after_bad_input";
    let after = &s.few_spans[..AFTER_PROBE_SPANS as usize];
    deliver_spans(step, &s.ok, http_exporter(&s.ok, FEW_BATCH), after, &mut tally).await?;

    Ok(tally.outcome())
}

// ---------------------------------------------------------------------------
// data_size_variations

#[derive(Debug)]
struct DataSize {
    steps: Vec<(usize, TracesData)>,
    encoder: direct::Encoder,
    compressor: Compressor,
    out: Vec<u8>,
}

/// Decompresses `compressed` and checks that it gives `raw` back (and no
/// more). Run once in prepare, unmeasured, so that what the measured runs
/// produce is known to be valid.
fn check_round_trip(step: &str, codec: Compression, raw: &[u8], compressed: &[u8]) -> Result<(), ScenarioError> {
    let mut out = Vec::with_capacity(raw.len());
    Decompressor::new()
        .decompress(codec, compressed, &mut out, raw.len())
        .map_err(|source| ScenarioError::Decompress { step: step.into(), source })?;
    if out != raw {
        return Err(ScenarioError::RoundTrip { step: step.into(), input: raw.len(), output: out.len() });
    }
    Ok(())
}

/// Spans shaped like the fixture's, with `attrs` attributes of mixed types.
fn spans_with_attributes(n: u64, attrs: usize) -> Vec<Span> {
    spans(n)
        .into_iter()
        .enumerate()
        .map(|(i, mut s)| {
            s.attributes = (0..attrs)
                .map(|a| {
                    let key = format!("app.attribute_{a:02}");
                    match a % 4 {
                        0 => KeyValue::new(key, format!("value-{i}-{a}")),
                        1 => KeyValue::new(key, (i * 31 + a) as i64),
                        2 => KeyValue::new(key, (i + a) % 2 == 0),
                        _ => KeyValue::new(key, (i + a) as f64 * 0.25),
                    }
                })
                .collect();
            s
        })
        .collect()
}

impl DataSize {
    fn new(spans: u64) -> Result<Self, ScenarioError> {
        let steps = ATTRIBUTE_COUNTS
            .iter()
            .map(|&k| (k, TracesData::single(fixtures::resource(), fixtures::scope(), spans_with_attributes(spans, k))))
            .collect();
        let mut s = DataSize { steps, encoder: direct::Encoder::new(), compressor: Compressor::new(), out: Vec::new() };
        // Warm up: the encoder's scratch, the zstd context and the output buffer reach steady state.
        s.run(&mut Vec::new())?;
        for (attrs, data) in &s.steps {
            let step = format!("attributes={attrs}");
            let raw = s.encoder.traces(data);
            s.out.clear();
            s.compressor
                .compress(Compression::ZSTD_DEFAULT, raw, &mut s.out)
                .map_err(|source| ScenarioError::Compress { step: step.as_str().into(), source })?;
            check_round_trip(&step, Compression::ZSTD_DEFAULT, raw, &s.out)?;
        }
        Ok(s)
    }

    fn run(&mut self, rows: &mut Vec<ScenarioRow>) -> Result<Outcome, ScenarioError> {
        let mut outcome = Outcome { items: 0, bytes: 0, checksum: fold([]) };
        for (attrs, data) in &self.steps {
            let raw = self.encoder.traces(data);
            self.out.clear();
            self.compressor
                .compress(Compression::ZSTD_DEFAULT, raw, &mut self.out)
                .map_err(|source| ScenarioError::Compress { step: "data_size_variations".into(), source })?;
            let spans = data.span_count() as u64;
            outcome.items += spans;
            outcome.bytes += (raw.len() + self.out.len()) as u64;
            outcome.checksum = mix(mix(outcome.checksum, fingerprint(raw)), fingerprint(&self.out));
            let per_span = |bytes: usize| format!("{:.1}", bytes as f64 / spans as f64);
            let mut row = ScenarioRow::untimed(format!("attributes={attrs}"), spans, raw.len() as u64);
            row.extra.extend([
                ("bytes_per_span", per_span(raw.len())),
                ("zstd_bytes", self.out.len().to_string()),
                ("zstd_bytes_per_span", per_span(self.out.len())),
                ("zstd_ratio", format!("{:.2}", raw.len() as f64 / self.out.len() as f64)),
            ]);
            rows.push(row);
        }
        Ok(outcome)
    }
}

// ---------------------------------------------------------------------------
// memory_patterns

#[derive(Debug)]
struct Memory {
    small: Vec<TracesData>,
    large: Vec<TracesData>,
    pool: BufferPool,
    arena: BatchArena,
}

fn batches(spans: &[Span], size: usize) -> Vec<TracesData> {
    spans.chunks(size).map(|c| TracesData::single(fixtures::resource(), fixtures::scope(), c.to_vec())).collect()
}

/// Per-batch scratch, as an exporter computes it: a word per attribute
/// (key length, value kind), sorted, then folded.
fn scratch_words(batch: &TracesData, mut push: impl FnMut(u32)) {
    for span in batch.spans() {
        for kv in &span.attributes {
            let kind = match kv.value {
                AnyValue::String(_) => 1,
                AnyValue::Int(_) => 2,
                AnyValue::Bool(_) => 3,
                AnyValue::Double(_) => 4,
                _ => 0,
            };
            push((kv.key.len() as u32) << 8 | kind);
        }
    }
}

fn fold_sorted(words: &mut [u32]) -> u64 {
    words.sort_unstable();
    words.iter().fold(words.len() as u64, |h, w| mix(h, u64::from(*w)))
}

impl Memory {
    fn new(n: u64) -> Self {
        let all = spans(n);
        let (small, large) = (batches(&all, SMALL_BATCH), batches(&all, large_batch()));
        let pool = BufferPool::default();
        // Warm up: one pooled buffer grown to the largest batch, as in steady state.
        if let Some(first) = large.first() {
            direct::encode_traces(first, &mut pool.get());
        }
        Memory { small, large, pool, arena: BatchArena::with_capacity(ARENA_INITIAL, ARENA_RETAINED) }
    }

    /// Fails when a buffer or scratch strategy changes a result: the pooled
    /// encodings must equal the fresh ones, the arena's fold the heap's.
    fn run(&mut self, rows: &mut Vec<ScenarioRow>) -> Result<Outcome, ScenarioError> {
        let mut outcome = Outcome { items: 0, bytes: 0, checksum: fold([]) };
        let mut record = |outcome: &mut Outcome, mut row: ScenarioRow, batches: usize, checksum: u64| {
            outcome.items += row.items;
            outcome.bytes += row.bytes;
            outcome.checksum = mix(outcome.checksum, checksum);
            row.extra.insert(0, ("batches", batches.to_string()));
            rows.push(row);
        };
        for (label, batches) in [("small", &self.small), ("large", &self.large)] {
            let (items, bytes, fresh) = encode_all(batches, None);
            record(
                &mut outcome,
                ScenarioRow::untimed(format!("{label}_batches+fresh_vec"), items, bytes),
                batches.len(),
                fresh,
            );

            let step = format!("{label}_batches+buffer_pool");
            let before = self.pool.stats();
            let (items, bytes, h) = encode_all(batches, Some(&self.pool));
            let after = self.pool.stats();
            if h != fresh {
                return Err(unexpected(
                    &step,
                    format!("the fresh Vecs' fingerprint {fresh:#018x}"),
                    format!("{h:#018x}"),
                ));
            }
            let mut row = ScenarioRow::untimed(step, items, bytes);
            row.extra.extend([
                ("pool_hits", (after.hits - before.hits).to_string()),
                ("pool_misses", (after.misses - before.misses).to_string()),
            ]);
            record(&mut outcome, row, batches.len(), h);
        }

        let (mut items, mut heap) = (0, fold([]));
        for batch in &self.small {
            let mut words = Vec::new();
            scratch_words(batch, |w| words.push(w));
            heap = mix(heap, fold_sorted(&mut words));
            items += batch.span_count() as u64;
        }
        record(&mut outcome, ScenarioRow::untimed("scratch+heap_vec", items, 0), self.small.len(), heap);

        let before = self.arena.stats();
        let (mut items, mut h) = (0, fold([]));
        for batch in &self.small {
            let folded = self.arena.with(|bump| {
                let mut words = bumpalo::collections::Vec::new_in(bump);
                scratch_words(batch, |w| words.push(w));
                // Kept until the reset, as batch scratch is: dropping the Vec
                // would hand its bytes straight back and hide them from the stats.
                fold_sorted(words.into_bump_slice_mut())
            });
            h = mix(h, folded);
            items += batch.span_count() as u64;
        }
        let after = self.arena.stats();
        let step = "scratch+batch_arena";
        if h != heap {
            return Err(unexpected(step, format!("the heap Vecs' fold {heap:#018x}"), format!("{h:#018x}")));
        }
        let mut row = ScenarioRow::untimed(step, items, 0);
        row.extra.extend([
            ("arena_bytes", (after.bytes_allocated - before.bytes_allocated).to_string()),
            ("arena_peak_batch_bytes", after.peak_batch_bytes.to_string()),
            ("arena_retained_bytes", after.retained_bytes.to_string()),
        ]);
        record(&mut outcome, row, self.small.len(), h);
        Ok(outcome)
    }
}

/// Encodes every batch into a buffer of its own, from `pool` or a fresh
/// `Vec` (dropped after each batch); returns spans, bytes and a fingerprint
/// of the outputs.
fn encode_all(batches: &[TracesData], pool: Option<&BufferPool>) -> (u64, u64, u64) {
    let (mut items, mut bytes, mut h) = (0, 0, fold([]));
    for batch in batches {
        let (len, fp) = match pool {
            Some(pool) => {
                let mut out = pool.get();
                direct::encode_traces(batch, &mut out);
                (out.len(), fingerprint(&out))
            }
            None => {
                let mut out = Vec::new();
                direct::encode_traces(batch, &mut out);
                (out.len(), fingerprint(&out))
            }
        };
        items += batch.span_count() as u64;
        bytes += len as u64;
        h = mix(h, fp);
    }
    (items, bytes, h)
}

// ---------------------------------------------------------------------------
// cpu_intensive

#[derive(Debug)]
struct Cpu {
    data: TracesData,
    batches: u64,
    encoder: direct::Encoder,
    compressor: Compressor,
    out: Vec<u8>,
}

impl Cpu {
    fn new(batches: u64) -> Result<Self, ScenarioError> {
        let data = fixtures::traces(fixtures::DEFAULT_SPANS);
        let mut cpu =
            Cpu { data, batches: 1, encoder: direct::Encoder::new(), compressor: Compressor::new(), out: Vec::new() };
        // Warm up every context and buffer with one batch, then set the real count.
        cpu.run(&mut Vec::new())?;
        cpu.batches = batches;
        let raw = cpu.encoder.traces(&cpu.data);
        for codec in CPU_CODECS {
            let step = format!("encode+{codec}");
            cpu.out.clear();
            cpu.compressor
                .compress(codec, raw, &mut cpu.out)
                .map_err(|source| ScenarioError::Compress { step: step.as_str().into(), source })?;
            check_round_trip(&step, codec, raw, &cpu.out)?;
        }
        Ok(cpu)
    }

    fn run(&mut self, rows: &mut Vec<ScenarioRow>) -> Result<Outcome, ScenarioError> {
        let (mut raw_bytes, mut compressed, mut h) = (0u64, [0u64; CPU_CODECS.len()], fold([]));
        for _ in 0..self.batches {
            let raw = self.encoder.traces(&self.data);
            raw_bytes += raw.len() as u64;
            h = mix(h, fingerprint(raw));
            for (codec, total) in CPU_CODECS.iter().zip(&mut compressed) {
                self.out.clear();
                self.compressor
                    .compress(*codec, raw, &mut self.out)
                    .map_err(|source| ScenarioError::Compress { step: codec.to_string().into(), source })?;
                *total += self.out.len() as u64;
                h = mix(h, fingerprint(&self.out));
            }
        }
        let spans = self.batches * self.data.span_count() as u64;
        rows.push(ScenarioRow::untimed("encode_direct", spans, raw_bytes));
        for (codec, bytes) in CPU_CODECS.iter().zip(compressed) {
            let mut row = ScenarioRow::untimed(format!("encode+{codec}"), spans, bytes);
            row.extra.push(("ratio", format!("{:.2}", raw_bytes as f64 / bytes as f64)));
            rows.push(row);
        }
        Ok(Outcome { items: spans, bytes: raw_bytes + compressed.iter().sum::<u64>(), checksum: h })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_deterministic_ones_need_no_network() {
        let mut names: Vec<_> = Scenario::ALL.iter().map(|s| s.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 12);
        let det: Vec<_> = Scenario::ALL.iter().filter(|s| s.deterministic()).map(|s| s.name()).collect();
        assert_eq!(det, ["data_size_variations", "memory_patterns", "cpu_intensive"]);
    }

    #[test]
    fn every_invalid_config_names_a_kind_and_fold_spreads() {
        let cases = invalid_configs("http://127.0.0.1:1");
        for kind in ConfigKind::ALL {
            assert!(cases.iter().any(|c| c.1 == kind), "{kind:?} has no case");
        }
        assert_ne!(fold([1, 2]), fold([2, 1]));
        assert_eq!(scaled(10, 0), 10);
        assert_eq!(scaled(5, 10), 1);
    }

    #[test]
    fn error_handling_description_matches_its_cases() {
        let d = Scenario::ErrorHandling.description();
        let configs = invalid_configs("http://127.0.0.1:1").len();
        for phrase in [
            format!("{configs} refused configurations"),
            format!("{} malformed requests", PROBES.len()),
            format!("{}% injected 503s", (RETRY_FAIL_FRACTION * 100.0).round()),
            format!("{} ms attempt timeouts", SHORT_TIMEOUT.as_millis()),
            format!("{} ms receiver", SLOW_RECEIVER_DELAY.as_millis()),
        ] {
            assert!(d.contains(&phrase), "{phrase:?} is not in {d:?}");
        }
    }

    /// Counters of a step that exported `exported` items and dropped
    /// `dropped` for the given reason.
    fn stats(accepted: u64, exported: u64, dropped: (DropReason, u64)) -> StatsSnapshot {
        let mut s = StatsSnapshot { accepted, exported, ..StatsSnapshot::default() };
        s.dropped[dropped.0 as usize] = dropped.1;
        s
    }

    fn counts(spans: u64, points: u64, logs: u64) -> ReceiverCounts {
        ReceiverCounts { spans, points, logs, ..ReceiverCounts::default() }
    }

    const NONE: (DropReason, u64) = (DropReason::QueueFull, 0);

    #[test]
    fn check_accounted_finds_lost_and_miscounted_items() {
        let ok = stats(10, 8, (DropReason::Rejected, 2));
        assert!(check_accounted("s", &ok, &counts(5, 2, 1)).is_ok());
        // Two items neither exported nor dropped.
        let lost = stats(10, 8, NONE);
        let e = check_accounted("s", &lost, &counts(8, 0, 0)).expect_err("unbalanced");
        assert!(matches!(&e, ScenarioError::Unbalanced { step, stats } if &**step == "s" && **stats == lost), "{e}");
        // Balanced, but the receiver saw one item more than was exported.
        let e = check_accounted("s", &ok, &counts(9, 0, 0)).expect_err("receiver mismatch");
        assert!(matches!(e, ScenarioError::ReceiverMismatch { received: 9, exported: 8, .. }), "{e}");
    }

    #[test]
    fn check_delivered_finds_drops_short_counts_and_misfiled_signals() {
        let sent = Sent { spans: 5, points: 2, logs: 1 };
        let all = stats(8, 8, NONE);
        assert!(check_delivered("s", &all, &counts(5, 2, 1), sent).is_ok());
        // Accounted for, but dropped: not delivered.
        let dropped = stats(8, 7, (DropReason::QueueFull, 1));
        let e = check_delivered("s", &dropped, &counts(5, 2, 0), sent).expect_err("dropped");
        assert!(matches!(&e, ScenarioError::Dropped { stats, .. } if **stats == dropped), "{e}");
        // Everything accepted was delivered, but fewer were accepted than sent.
        let short = stats(7, 7, NONE);
        let e = check_delivered("s", &short, &counts(5, 2, 0), sent).expect_err("short");
        assert!(matches!(e, ScenarioError::Dropped { .. }), "{e}");
        // The right total, in the wrong signals.
        let e = check_delivered("s", &all, &counts(4, 3, 1), sent).expect_err("misfiled");
        assert!(matches!(e, ScenarioError::SignalMismatch { signal: "spans", received: 4, sent: 5, .. }), "{e}");
        let e = check_delivered("s", &all, &counts(5, 1, 2), sent).expect_err("misfiled");
        assert!(matches!(e, ScenarioError::SignalMismatch { signal: "points", received: 1, sent: 2, .. }), "{e}");
        // An unbalanced step fails as such even when the receiver agrees.
        let e = check_delivered("s", &stats(9, 8, NONE), &counts(5, 2, 1), sent).expect_err("unbalanced");
        assert!(matches!(e, ScenarioError::Unbalanced { .. }), "{e}");
    }

    #[test]
    fn stats_add_up_field_by_field() {
        let a = StatsSnapshot {
            accepted: 1,
            exported: 2,
            dropped: [3, 4, 5, 6, 7, 8],
            bytes_raw: 9,
            bytes_sent: 10,
            requests: 11,
            failed_requests: 12,
        };
        let mut total = a;
        total += a;
        let doubled = StatsSnapshot {
            accepted: 2,
            exported: 4,
            dropped: [6, 8, 10, 12, 14, 16],
            bytes_raw: 18,
            bytes_sent: 20,
            requests: 22,
            failed_requests: 24,
        };
        assert_eq!(total, doubled);
    }

    /// The spans of one call, frontend → orders → payments, propagated as
    /// the scenario does.
    fn chain(rng: &mut SplitMix64) -> [Span; 3] {
        let a = Span::builder("a").trace_id(trace_id(rng)).span_id(span_id(rng)).build();
        let remote = SpanContext::from_headers(&a.context().traceparent(), None).expect("valid traceparent");
        let b = Span::builder("b").child_of_remote(&remote).span_id(span_id(rng)).build();
        let remote = SpanContext::from_headers(&b.context().traceparent(), None).expect("valid traceparent");
        let c = Span::builder("c").child_of_remote(&remote).span_id(span_id(rng)).build();
        [a, b, c]
    }

    fn chains(calls: usize) -> Vec<[Span; 3]> {
        let mut rng = SplitMix64::new(fixtures::SEED);
        (0..calls).map(|_| chain(&mut rng)).collect()
    }

    /// What the receiver would capture: one request per service.
    fn captured(chains: &[[Span; 3]]) -> Vec<Received> {
        SERVICES
            .iter()
            .enumerate()
            .map(|(i, service)| {
                let resource = Resource::new([KeyValue::new("service.name", *service)]);
                let spans = chains.iter().map(|c| c[i].clone()).collect();
                Received::Traces(TracesData::single(resource, fixtures::scope(), spans))
            })
            .collect()
    }

    fn broken_because(result: Result<(u64, u64), ScenarioError>, why: &str) {
        match result {
            Err(ScenarioError::Propagation { what, .. }) => assert!(what.contains(why), "{what}"),
            other => panic!("expected a broken chain ({why}), got {other:?}"),
        }
    }

    #[test]
    fn verify_chains_accepts_one_trace_per_call() {
        let (verified, fold_a) = verify_chains(captured(&chains(4)), 4).expect("valid chains");
        assert_eq!(verified, 4);
        // The fold depends on the trace ids, not on the order of arrival.
        let mut reversed = chains(4);
        reversed.reverse();
        assert_eq!(verify_chains(captured(&reversed), 4).expect("valid chains").1, fold_a);
    }

    #[test]
    fn verify_chains_refuses_a_shared_trace_id() {
        let mut c = chains(3);
        // Call 1 continues call 0's trace, consistently along its chain.
        let t0 = c[0][0].trace_id;
        for span in &mut c[1] {
            span.trace_id = t0;
        }
        match verify_chains(captured(&c), 3) {
            Err(ScenarioError::Unexpected { expected, got, .. }) => {
                assert_eq!((&*expected, &*got), ("3 distinct trace ids", "2"));
            }
            other => panic!("expected a shared trace to be refused, got {other:?}"),
        }
    }

    #[test]
    fn verify_chains_refuses_a_parent_used_twice() {
        // Call 1's payments span continues call 0's orders span.
        let mut c = chains(2);
        let (b0, t0) = (c[0][1].span_id, c[0][0].trace_id);
        c[1][2].parent_span_id = Some(b0);
        c[1][2].trace_id = t0;
        broken_because(verify_chains(captured(&c), 2), "continues the same orders span");

        // Call 1's orders span continues call 0's frontend span.
        let mut c = chains(2);
        let (a0, t0) = (c[0][0].span_id, c[0][0].trace_id);
        c[1][1].parent_span_id = Some(a0);
        c[1][1].trace_id = t0;
        c[1][2].trace_id = t0;
        broken_because(verify_chains(captured(&c), 2), "continues the same frontend span");
    }

    #[test]
    fn verify_chains_refuses_broken_links_and_wrong_counts() {
        let mut c = chains(2);
        c[1][2].parent_span_id = Some(SpanId([9; 8]));
        broken_because(verify_chains(captured(&c), 2), "not an orders span");

        let mut c = chains(2);
        c[1][2].trace_id = TraceId([7; 16]);
        broken_because(verify_chains(captured(&c), 2), "trace id changed");

        let mut c = chains(2);
        c[1][1].flags &= !FLAG_IS_REMOTE;
        broken_because(verify_chains(captured(&c), 2), "not marked remote");

        let e = verify_chains(captured(&chains(2)), 3).expect_err("a call short");
        assert!(matches!(e, ScenarioError::SignalMismatch { received: 2, sent: 3, .. }), "{e}");
    }

    #[test]
    fn check_round_trip_refuses_bad_or_different_output() {
        let mut raw = Vec::new();
        direct::encode_traces(&fixtures::traces(8), &mut raw);
        let codec = Compression::ZSTD_DEFAULT;
        let mut compressed = Vec::new();
        Compressor::new().compress(codec, &raw, &mut compressed).expect("compresses");
        check_round_trip("s", codec, &raw, &compressed).expect("round trip");

        let e = check_round_trip("s", codec, &raw, b"not zstd").expect_err("corrupt");
        assert!(matches!(e, ScenarioError::Decompress { .. }), "{e}");
        // Valid data, but not what was encoded.
        let mut other = raw.clone();
        other[0] ^= 1;
        let e = check_round_trip("s", codec, &other, &compressed).expect_err("different");
        assert!(matches!(e, ScenarioError::RoundTrip { .. }), "{e}");
        // More than was encoded: stopped at the input's length.
        let e = check_round_trip("s", codec, &raw[..raw.len() - 1], &compressed).expect_err("longer");
        assert!(matches!(e, ScenarioError::Decompress { source: CompressError::TooLarge { .. }, .. }), "{e}");
    }
}
