//! The twelve scenarios (README, "Scenarios"): end-to-end runs of the
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

mod concurrency;
mod error_handling;
mod harness;
mod network;
mod offline;
mod sizes;
mod telemetry;

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::runtime::Runtime;

use crate::workloads::Outcome;
use otlp_pipeline::compress::CompressError;
use otlp_pipeline::exporter::ExporterError;
use otlp_pipeline::fixtures;
use otlp_pipeline::model::{Span, SpanId, TraceparentError};
use otlp_pipeline::pipeline::{DropReason, StatsSnapshot};
use otlp_pipeline::receiver::{Faults, Receiver, ReceiverConfig};

use concurrency::{high_concurrency, mixed_telemetry, production, sustained_load};
use error_handling::{Errors, error_handling};
use network::{batch_processing, microservices, network_io, web_application};
use offline::{Cpu, DataSize, Memory};
use sizes::{
    BATCH_SPANS, CONCURRENCY_SPANS, CPU_BATCHES, DATA_SIZE_SPANS, FEW_SPANS, MEMORY_SPANS, MICRO_CALLS, MIXED_ROUNDS,
    NETWORK_SPANS, PRODUCTION_ITEMS, RETRY_FAIL_FRACTION, RETRY_SPANS, RETRY_SPANS_MIN, SLOW_RECEIVER_DELAY,
    WEB_REQUESTS, scaled,
};
use telemetry::spans;

pub(crate) use sizes::{BATCH_SIZES, BLOCK_ITEMS, NS_PER_MS, PRODUCERS, SUSTAINED_RATE, WORKERS};
// The SDK's twin of the production block builds its items by hand.
#[cfg(feature = "official-sdk")]
pub(crate) use sizes::BLOCK_SPANS;
pub(crate) use telemetry::{api_span, app_log, production_block, tracing_block, two_point_metric};

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
    /// A configuration the builder must refuse was refused with another
    /// kind of error, or with a message that does not name what is wrong.
    #[error("{step}: {case}: expected a {expected} error naming `{word}`, got: {source}")]
    WrongRefusal {
        /// The step that failed.
        step: Box<str>,
        /// The refused configuration, as the scenario names it.
        case: &'static str,
        /// The kind of configuration error expected.
        expected: &'static str,
        /// What the message should name.
        word: &'static str,
        /// The error the builder gave (boxed: the other variants are small).
        #[source]
        source: Box<ExporterError>,
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
    fn sustained_load_description_states_its_rate() {
        let (thousands, rest) = (SUSTAINED_RATE / 1_000, SUSTAINED_RATE % 1_000);
        let rate = format!("offered at {thousands},{rest:03}/s");
        let d = Scenario::SustainedLoad.description();
        assert!(d.contains(&rate), "{rate:?} is not in {d:?}");
    }
}
