//! `otlp-lab load`: timed load runs of the production mix against the
//! loopback receiver (or any OTLP endpoint), for ours and, with the
//! `official-sdk` feature, for the official Rust SDK side by side.
//!
//! Each implementation runs in a child process of its own (`otlp-lab load
//! <scenario> --child ours|sdk --endpoint <url> ...`, a hidden flag) while
//! the parent runs the loopback receiver: CPU seconds and peak RSS come from
//! `getrusage` and are process-wide, so this is what keeps the exporter's
//! figures apart from the receiver's and ours apart from the SDK's. The
//! child prints its run as one JSON line; the parent replaces its delivered
//! count with what the receiver confirmed, adds the receiver's own CPU
//! seconds, and writes `profiles/load/<scenario>.json` (see
//! `/work/contracts.md`).
//!
//! Closed loop (no rate): every producer hands items over with
//! [`Handle::send`], which waits for queue room, as fast as it can for the
//! duration. Open loop (a rate): producers offer paced blocks with
//! `try_item` every [`TICK`]; what the queue refuses is counted as dropped by
//! reason, and a late tick is skipped, not made up in a burst.
//!
//! The mix is the production workload's: blocks of 7 spans, one 2-point
//! metric and one log record (70/20/10 of the items).

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use crate::scenarios::{self, BLOCK_ITEMS, BLOCK_SPANS, NS_PER_MS};
use otlp_pipeline::compress::Compression;
use otlp_pipeline::exporter::{ExportObserver, Exporter, Protocol};
use otlp_pipeline::fixtures::{self, SplitMix64};
use otlp_pipeline::pipeline::{DropReason, ExportRequest, ExportResult, Handle, Item, PipelineConfig};
use otlp_pipeline::receiver::{Receiver, ReceiverConfig, ReceiverCounts};

/// Interval of the open loop's paced offers.
pub const TICK: Duration = Duration::from_millis(10);
/// Offered rate of `sustained_load` when no `--rate` is given, in items/s.
pub const SUSTAINED_DEFAULT_RATE: f64 = 200_000.0;
/// Target delivered rate of the production workload, items/s (issue 6).
pub const TARGET_ITEMS_PER_S: f64 = 500_000.0;
/// Target export p99, microseconds.
pub const TARGET_P99_US: f64 = 5_000.0;
/// Target peak RSS of the exporter process: 40 MiB.
pub const TARGET_PEAK_RSS_BYTES: u64 = 40 << 20;
/// Target ratio of our delivered rate to the official SDK's.
pub const TARGET_SDK_RATIO: f64 = 5.0;
/// The largest `--queue`: the ring is allocated whole at start, about
/// 300 bytes an item, so this bounds it near 300 MiB.
pub const MAX_QUEUE: usize = 1 << 20;
/// Deadline of the final shutdown: far above what a drain needs, so that
/// only a hung receiver reaches it.
const SHUTDOWN: Duration = Duration::from_secs(30);
/// Longest a child may run past its duration (drain, start-up) before the
/// parent gives up on it.
const CHILD_GRACE: Duration = Duration::from_secs(60);

/// The load scenarios.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LoadScenario {
    /// The 70/20/10 mix from 50 workers.
    Production,
    /// The mix from 10, 50, 100, 200 and 500 producers.
    HighConcurrency,
    /// The mix with batches of 100, 500, 1,000 and 5,000 items.
    BatchProcessing,
    /// The mix over http/protobuf, http/json and grpc, each with none, gzip and zstd.
    NetworkIo,
    /// The mix offered at a steady rate (open loop).
    Sustained,
}

impl LoadScenario {
    /// Every load scenario.
    pub const ALL: [LoadScenario; 5] = [
        LoadScenario::Production,
        LoadScenario::HighConcurrency,
        LoadScenario::BatchProcessing,
        LoadScenario::NetworkIo,
        LoadScenario::Sustained,
    ];

    /// Its name, as the CLI takes it and the result file is called.
    pub const fn name(self) -> &'static str {
        match self {
            LoadScenario::Production => "production_workload",
            LoadScenario::HighConcurrency => "high_concurrency",
            LoadScenario::BatchProcessing => "batch_processing",
            LoadScenario::NetworkIo => "network_io",
            LoadScenario::Sustained => "sustained_load",
        }
    }

    /// Whether the targets of issue 6 apply (the production mix from 50
    /// workers, closed or open loop).
    pub const fn has_targets(self) -> bool {
        matches!(self, LoadScenario::Production | LoadScenario::Sustained)
    }

    /// The steps of a run with these options.
    pub fn steps(self, o: &LoadOptions) -> Vec<StepSpec> {
        let step = |name: String, protocol, compression, workers, batch, rate| StepSpec {
            step: name,
            protocol,
            compression,
            workers,
            batch,
            exports: o.exports.unwrap_or(PipelineConfig::default().max_concurrent_exports),
            queue: o.queue.unwrap_or(PipelineConfig::default().queue_capacity),
            rate,
            duration: o.duration,
        };
        let workers = o.workers.unwrap_or(scenarios::WORKERS);
        let batch = o.batch.unwrap_or(PipelineConfig::default().max_batch_items);
        match self {
            LoadScenario::Production => {
                vec![step(format!("workers={workers}"), o.protocol, o.compression, workers, batch, o.rate)]
            }
            LoadScenario::Sustained => {
                let rate = o.rate.unwrap_or(SUSTAINED_DEFAULT_RATE);
                vec![step(format!("rate={rate}"), o.protocol, o.compression, workers, batch, Some(rate))]
            }
            LoadScenario::HighConcurrency => scenarios::PRODUCERS
                .iter()
                .map(|&p| step(format!("producers={p}"), o.protocol, o.compression, p, batch, o.rate))
                .collect(),
            LoadScenario::BatchProcessing => scenarios::BATCH_SIZES
                .iter()
                .map(|&b| step(format!("batch={b}"), o.protocol, o.compression, workers, b, o.rate))
                .collect(),
            LoadScenario::NetworkIo => {
                let mut steps = Vec::new();
                for protocol in [Protocol::HttpProtobuf, Protocol::HttpJson, Protocol::Grpc] {
                    for compression in [Compression::None, Compression::GZIP_DEFAULT, Compression::ZSTD_DEFAULT] {
                        let name = format!("{protocol}+{}", codec_name(compression));
                        steps.push(step(name, protocol, compression, workers, batch, o.rate));
                    }
                }
                steps
            }
        }
    }
}

impl fmt::Display for LoadScenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A scenario name `otlp-lab load` does not know.
#[derive(Debug, thiserror::Error)]
#[error(
    "unknown load scenario `{0}`: expected one of production_workload, high_concurrency, batch_processing, network_io, sustained_load"
)]
pub struct UnknownLoadScenario(pub String);

impl FromStr for LoadScenario {
    type Err = UnknownLoadScenario;
    fn from_str(s: &str) -> Result<Self, UnknownLoadScenario> {
        LoadScenario::ALL.into_iter().find(|l| l.name() == s).ok_or_else(|| UnknownLoadScenario(s.to_owned()))
    }
}

/// Which exporter a run measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Implementation {
    /// This crate's exporter.
    Ours,
    /// The official Rust SDK (`opentelemetry_sdk` + `opentelemetry-otlp`).
    Sdk,
}

impl Implementation {
    /// The name in the result file.
    pub const fn name(self) -> &'static str {
        match self {
            Implementation::Ours => "otlp-lab",
            Implementation::Sdk => "official-sdk",
        }
    }

    /// The value of the hidden `--child` flag.
    pub const fn flag(self) -> &'static str {
        match self {
            Implementation::Ours => "ours",
            Implementation::Sdk => "sdk",
        }
    }
}

impl FromStr for Implementation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "ours" => Ok(Implementation::Ours),
            "sdk" => Ok(Implementation::Sdk),
            other => Err(format!("unknown implementation `{other}`: expected ours or sdk")),
        }
    }
}

/// Options of `otlp-lab load`.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// An OTLP endpoint to load instead of the loopback receiver.
    pub endpoint: Option<String>,
    /// The protocol (the network_io sweep sets its own).
    pub protocol: Protocol,
    /// The body codec (the network_io sweep sets its own).
    pub compression: Compression,
    /// How long each step offers load.
    pub duration: Duration,
    /// Items per second to offer (open loop); `None` is the closed loop.
    pub rate: Option<f64>,
    /// Producers (default 50; the high_concurrency sweep sets its own).
    pub workers: Option<u64>,
    /// Items per batch (default the pipeline's; the batch_processing sweep sets its own).
    pub batch: Option<usize>,
    /// Our export requests in flight at once (default the pipeline's).
    pub exports: Option<usize>,
    /// Items the queue holds (ours and the SDK's; default the pipeline's 2,048).
    pub queue: Option<usize>,
    /// Run the official SDK beside ours in every step.
    pub sdk: bool,
    /// Where the result file goes.
    pub out: PathBuf,
    /// Draw a progress bar (only ever on a terminal).
    pub progress: bool,
    /// The `otlp-lab` binary that runs the children (default: this process's executable).
    pub exe: Option<PathBuf>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            endpoint: None,
            protocol: Protocol::HttpProtobuf,
            compression: Compression::None,
            duration: Duration::from_secs(10),
            rate: None,
            workers: None,
            batch: None,
            exports: None,
            queue: None,
            sdk: false,
            out: PathBuf::from("profiles/load"),
            progress: true,
            exe: None,
        }
    }
}

/// One step of a scenario, as a child runs it.
#[derive(Clone, Debug, PartialEq)]
pub struct StepSpec {
    /// Its name in the results (`workers=50`, `batch=1000`, `grpc+zstd`, ...).
    pub step: String,
    /// The protocol.
    pub protocol: Protocol,
    /// The body codec.
    pub compression: Compression,
    /// Producers.
    pub workers: u64,
    /// Items per batch.
    pub batch: usize,
    /// Our export requests in flight at once (the SDK exports one at a time).
    pub exports: usize,
    /// Items the queue holds, ours and the SDK's span and log queues alike
    /// (the SDK's is never below one batch).
    pub queue: usize,
    /// Offered items per second (open loop), or `None` (closed loop).
    pub rate: Option<f64>,
    /// How long load is offered.
    pub duration: Duration,
}

/// Why a load run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A setting that cannot be used.
    #[error("{0}")]
    Invalid(String),
    /// `--sdk` in a build without the official SDK.
    #[error("--sdk needs the official SDK: build with `cargo build --release --features official-sdk`")]
    NoSdk,
    /// The runtime, the receiver or a child could not start.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// The exporter refused its settings.
    #[error("building the exporter: {0}")]
    Exporter(#[from] otlp_pipeline::exporter::ExporterError),
    /// A producer task failed.
    #[error("a producer failed: {0}")]
    Producer(String),
    /// The exporter's shutdown did not return.
    #[error("the exporter's shutdown hung")]
    Hung,
    /// A child process failed or printed something that is not a run.
    #[error("the {implementation} child of step {step}: {detail}")]
    Child {
        /// Which implementation.
        implementation: &'static str,
        /// Which step.
        step: String,
        /// What went wrong (its exit status and standard error).
        detail: String,
    },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> LoadError {
    let what = what.into();
    move |source| LoadError::Io { what, source }
}

/// The codec's name without its level, as the result file spells it.
fn codec_name(c: Compression) -> &'static str {
    match c {
        Compression::None => "none",
        Compression::Gzip { .. } => "gzip",
        Compression::Zstd { .. } => "zstd",
    }
}

// ---------------------------------------------------------------------------
// Measurements

/// Export latency per request, in microseconds, shared by the export tasks
/// (ours through [`ExportObserver`], the SDK's through a wrapping exporter).
/// One lock and one record per request; recording never allocates.
#[derive(Debug)]
pub struct LatencyRecorder {
    histogram: Mutex<Histogram<u64>>,
}

/// Largest latency the histogram tracks (longer ones are clamped to it): one minute.
const LATENCY_MAX_US: u64 = 60_000_000;

impl LatencyRecorder {
    /// An empty recorder (1 µs to 60 s, three significant digits).
    pub fn new() -> Self {
        let h = Histogram::new_with_bounds(1, LATENCY_MAX_US, 3).expect("static bounds are valid");
        LatencyRecorder { histogram: Mutex::new(h) }
    }

    /// Records one request's latency.
    pub fn record(&self, elapsed: Duration) {
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX).clamp(1, LATENCY_MAX_US);
        self.histogram.lock().unwrap_or_else(PoisonError::into_inner).saturating_record(us);
    }

    /// Percentiles of what was recorded.
    pub fn summary(&self) -> LatencySummary {
        let h = self.histogram.lock().unwrap_or_else(PoisonError::into_inner);
        let q = |q: f64| if h.is_empty() { 0.0 } else { h.value_at_quantile(q) as f64 };
        LatencySummary {
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            p999: q(0.999),
            max: if h.is_empty() { 0.0 } else { h.max() as f64 },
            count: h.len(),
        }
    }
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl ExportObserver for LatencyRecorder {
    fn exported(&self, _request: &ExportRequest, _result: &ExportResult, elapsed: Duration) {
        self.record(elapsed);
    }
}

/// Export latency percentiles, microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LatencySummary {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Slowest request.
    pub max: f64,
    /// Requests timed.
    pub count: u64,
}

/// CPU seconds and peak RSS of this process so far.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Usage {
    /// User CPU seconds.
    pub user_s: f64,
    /// System CPU seconds.
    pub system_s: f64,
    /// Peak resident set size, bytes.
    pub peak_rss_bytes: u64,
}

impl Usage {
    /// `getrusage(RUSAGE_SELF)`: every thread of the process.
    pub fn now() -> Usage {
        let ru = getrusage_self();
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        // Linux reports ru_maxrss in KiB.
        Usage {
            user_s: secs(ru.ru_utime),
            system_s: secs(ru.ru_stime),
            peak_rss_bytes: u64::try_from(ru.ru_maxrss).unwrap_or(0) * 1024,
        }
    }
}

#[allow(unsafe_code)]
fn getrusage_self() -> libc::rusage {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: an all-zero rusage is a valid value (plain integers), and
    // getrusage only writes a complete rusage through the pointer, which
    // points at memory we own for the duration of the call.
    unsafe {
        libc::getrusage(libc::RUSAGE_SELF, ru.as_mut_ptr());
        ru.assume_init()
    }
}

/// Items per signal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Signals {
    /// Spans.
    pub spans: u64,
    /// Metric data points (SDK: measurements recorded).
    pub points: u64,
    /// Log records.
    pub logs: u64,
}

impl Signals {
    /// All items.
    pub fn total(self) -> u64 {
        self.spans + self.points + self.logs
    }

    pub(crate) fn plus(self, o: Signals) -> Signals {
        Signals { spans: self.spans + o.spans, points: self.points + o.points, logs: self.logs + o.logs }
    }

    fn to_json(self) -> Value {
        json!({"spans": self.spans, "points": self.points, "logs": self.logs})
    }

    fn from_json(v: &Value) -> Option<Signals> {
        Some(Signals { spans: v["spans"].as_u64()?, points: v["points"].as_u64()?, logs: v["logs"].as_u64()? })
    }
}

/// One implementation's run of one step: a row of `runs` in the result file.
#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    /// Which exporter.
    pub implementation: Implementation,
    /// The step.
    pub spec: StepSpec,
    /// Wall time from the first offer to the end of the exporter's shutdown.
    pub duration_s: f64,
    /// Items offered, per signal.
    pub offered: Signals,
    /// Items delivered, per signal: confirmed by the loopback receiver, or
    /// the exporter's own exported count for another endpoint.
    pub delivered: Signals,
    /// What the exporter says it exported (before the receiver's confirmation).
    pub exported: u64,
    /// Dropped items by reason; they add up to `offered − delivered`.
    pub dropped: BTreeMap<String, u64>,
    /// Export latency per request.
    pub latency: LatencySummary,
    /// The exporter process's CPU and peak RSS.
    pub usage: Usage,
    /// The loopback receiver's CPU seconds (user, system) during the run,
    /// measured in the parent; `None` for another endpoint.
    pub receiver_cpu_s: Option<(f64, f64)>,
    /// Offers actually made per second (open loop: below the rate when the
    /// generator could not keep up and ticks were skipped).
    pub offered_per_s: f64,
    /// Export requests made.
    pub requests: u64,
    /// What the numbers mean where it is not obvious.
    pub notes: Vec<String>,
}

impl RunResult {
    /// Delivered items per second.
    pub fn items_per_s(&self) -> f64 {
        self.delivered.total() as f64 / self.duration_s.max(1e-9)
    }

    /// Delivered spans per second.
    pub fn spans_per_s(&self) -> f64 {
        self.delivered.spans as f64 / self.duration_s.max(1e-9)
    }

    /// Delivered spans and log records per second: the items both
    /// implementations export one by one (the SDK folds metric
    /// measurements into a few aggregated points, ours sends every point),
    /// hence the basis of the comparison with the SDK.
    pub fn spans_logs_per_s(&self) -> f64 {
        (self.delivered.spans + self.delivered.logs) as f64 / self.duration_s.max(1e-9)
    }

    /// All dropped items.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }

    /// CPU seconds (user + system) of the exporter per million delivered items.
    pub fn cpu_s_per_million(&self) -> f64 {
        (self.usage.user_s + self.usage.system_s) * 1e6 / self.delivered.total().max(1) as f64
    }

    /// The run as the contract's JSON object (with extra fields).
    pub fn to_json(&self) -> Value {
        let s = &self.spec;
        let l = &self.latency;
        let mut v = json!({
            "implementation": self.implementation.name(),
            "step": s.step,
            "protocol": s.protocol.to_string(),
            "compression": codec_name(s.compression),
            "workers": s.workers,
            "offered_rate": s.rate,
            "duration_s": self.duration_s,
            "offered": self.offered.total(),
            "delivered": self.delivered.total(),
            "items_per_s": self.items_per_s(),
            "dropped": self.dropped,
            "dropped_total": self.dropped_total(),
            "latency_us": {"p50": l.p50, "p90": l.p90, "p99": l.p99, "p999": l.p999, "max": l.max, "count": l.count},
            "cpu_user_s": self.usage.user_s,
            "cpu_system_s": self.usage.system_s,
            "peak_rss_bytes": self.usage.peak_rss_bytes,
            "batch": s.batch,
            "max_concurrent_exports": s.exports,
            "queue_capacity": s.queue,
            "step_duration_s": s.duration.as_secs_f64(),
            "offered_per_signal": self.offered.to_json(),
            "delivered_per_signal": self.delivered.to_json(),
            "exported": self.exported,
            "spans_per_s": self.spans_per_s(),
            "offered_per_s": self.offered_per_s,
            "requests": self.requests,
            "cpu_s_per_million_items": self.cpu_s_per_million(),
            "notes": self.notes,
        });
        if let Some((user, system)) = self.receiver_cpu_s {
            v["receiver_cpu_user_s"] = json!(user);
            v["receiver_cpu_system_s"] = json!(system);
        }
        v
    }

    /// Reads back what [`RunResult::to_json`] wrote (a child's output).
    pub fn from_json(v: &Value) -> Result<RunResult, String> {
        let f = |k: &str| v[k].as_f64().ok_or_else(|| format!("missing number `{k}`"));
        let u = |k: &str| v[k].as_u64().ok_or_else(|| format!("missing count `{k}`"));
        let st = |k: &str| v[k].as_str().ok_or_else(|| format!("missing string `{k}`"));
        let implementation = match st("implementation")? {
            "otlp-lab" => Implementation::Ours,
            "official-sdk" => Implementation::Sdk,
            other => return Err(format!("unknown implementation `{other}`")),
        };
        let protocol = st("protocol")?.parse::<Protocol>().map_err(|e| e.to_string())?;
        let compression = st("compression")?.parse::<Compression>().map_err(|e| e.to_string())?;
        let l = &v["latency_us"];
        let lf = |k: &str| l[k].as_f64().ok_or_else(|| format!("missing latency `{k}`"));
        let dropped = v["dropped"]
            .as_object()
            .ok_or("missing `dropped`")?
            .iter()
            .map(|(k, n)| n.as_u64().map(|n| (k.clone(), n)).ok_or_else(|| format!("bad count for drop reason `{k}`")))
            .collect::<Result<_, _>>()?;
        let signals = |k: &str| Signals::from_json(&v[k]).ok_or_else(|| format!("missing `{k}`"));
        Ok(RunResult {
            implementation,
            spec: StepSpec {
                step: st("step")?.to_owned(),
                protocol,
                compression,
                workers: u("workers")?,
                batch: usize::try_from(u("batch")?).map_err(|e| e.to_string())?,
                exports: usize::try_from(u("max_concurrent_exports")?).map_err(|e| e.to_string())?,
                // Results written before the setting existed ran with the default.
                queue: match v.get("queue_capacity") {
                    None => PipelineConfig::default().queue_capacity,
                    Some(_) => usize::try_from(u("queue_capacity")?).map_err(|e| e.to_string())?,
                },
                rate: v["offered_rate"].as_f64(),
                duration: Duration::from_secs_f64(f("step_duration_s")?),
            },
            duration_s: f("duration_s")?,
            offered: signals("offered_per_signal")?,
            delivered: signals("delivered_per_signal")?,
            exported: u("exported")?,
            dropped,
            latency: LatencySummary {
                p50: lf("p50")?,
                p90: lf("p90")?,
                p99: lf("p99")?,
                p999: lf("p999")?,
                max: lf("max")?,
                count: l["count"].as_u64().ok_or("missing latency `count`")?,
            },
            usage: Usage {
                user_s: f("cpu_user_s")?,
                system_s: f("cpu_system_s")?,
                peak_rss_bytes: u("peak_rss_bytes")?,
            },
            receiver_cpu_s: None,
            offered_per_s: f("offered_per_s")?,
            requests: u("requests")?,
            notes: v["notes"]
                .as_array()
                .map(|a| a.iter().filter_map(|n| n.as_str().map(str::to_owned)).collect())
                .unwrap_or_default(),
        })
    }
}

// ---------------------------------------------------------------------------
// The child: one implementation, one step, against one endpoint.

/// Runs one step of one implementation against `endpoint` in this process
/// (what `--child` does), and returns its figures; `delivered` is the
/// exporter's own count until the parent confirms it with the receiver's.
pub fn run_child(implementation: Implementation, spec: &StepSpec, endpoint: &str) -> Result<RunResult, LoadError> {
    if spec.workers == 0 {
        return Err(LoadError::Invalid("--workers must be at least 1".into()));
    }
    if spec.rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
        return Err(LoadError::Invalid("--rate must be a positive number of items per second".into()));
    }
    match implementation {
        Implementation::Ours => run_ours(spec, endpoint),
        Implementation::Sdk => run_sdk(spec, endpoint),
    }
}

#[cfg(feature = "official-sdk")]
fn run_sdk(spec: &StepSpec, endpoint: &str) -> Result<RunResult, LoadError> {
    crate::sdk::run_production(spec, endpoint)
}

#[cfg(not(feature = "official-sdk"))]
fn run_sdk(_spec: &StepSpec, _endpoint: &str) -> Result<RunResult, LoadError> {
    Err(LoadError::NoSdk)
}

/// How a producer paces its blocks.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Pace {
    /// As fast as the queue takes them, until the deadline.
    Closed { deadline: Instant },
    /// `blocks_per_tick` blocks (fractional: carried over) every [`TICK`] until the deadline.
    Open { deadline: Instant, blocks_per_tick: f64 },
}

impl Pace {
    pub(crate) fn new(spec: &StepSpec, start: Instant) -> Pace {
        let deadline = start + spec.duration;
        match spec.rate {
            None => Pace::Closed { deadline },
            Some(rate) => Pace::Open {
                deadline,
                blocks_per_tick: rate * TICK.as_secs_f64() / (spec.workers as f64 * BLOCK_ITEMS as f64),
            },
        }
    }
}

/// A ticker for an open-loop producer: skips late ticks instead of bursting.
fn ticker() -> tokio::time::Interval {
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    interval
}

/// The open loop's pacing, for ours and the SDK's producers alike: every
/// [`TICK`], as many blocks as the credit allows, yielding between them as a
/// service does between requests. Without the yield, 50 producers on one
/// thread offered a whole tick's burst (5,000 items at 500k/s) before the
/// batcher on that thread could take any, and a 2,048-item queue dropped
/// most of it at rates the closed loop sustains.
pub(crate) struct OpenLoop {
    interval: tokio::time::Interval,
    deadline: Instant,
    blocks_per_tick: f64,
    credit: f64,
}

impl OpenLoop {
    pub(crate) fn new(deadline: Instant, blocks_per_tick: f64) -> Self {
        OpenLoop { interval: ticker(), deadline, blocks_per_tick, credit: 0.0 }
    }

    /// Waits for the next block's turn; false once the deadline has passed.
    pub(crate) async fn next_block(&mut self) -> bool {
        if self.credit >= 1.0 {
            self.credit -= 1.0;
            tokio::task::yield_now().await;
            return true;
        }
        loop {
            self.interval.tick().await;
            if Instant::now() >= self.deadline {
                return false;
            }
            self.credit += self.blocks_per_tick;
            if self.credit >= 1.0 {
                self.credit -= 1.0;
                return true;
            }
        }
    }
}

/// One block of the production mix through `offer` (7 spans, one 2-point
/// metric, one log record); `offer` returns false when the item is refused
/// for good (after shutdown).
async fn offer_block<F, Fut>(rng: &mut SplitMix64, worker: u64, block: u64, offer: &mut F) -> Result<Signals, String>
where
    F: FnMut(Item) -> Fut,
    Fut: std::future::Future<Output = Result<(), DropReason>>,
{
    let seq = block * BLOCK_ITEMS;
    for j in 0..BLOCK_SPANS {
        offer(Item::Span(scenarios::api_span(rng, worker, seq + j))).await.map_err(|r| r.to_string())?;
    }
    let time = fixtures::BASE_TIME_NS + seq * NS_PER_MS;
    let metric = Item::Metric(scenarios::two_point_metric(rng, block, time));
    let points = metric.count();
    offer(metric).await.map_err(|r| r.to_string())?;
    offer(Item::Log(scenarios::app_log(rng, seq))).await.map_err(|r| r.to_string())?;
    Ok(Signals { spans: BLOCK_SPANS, points, logs: 1 })
}

/// One of our producers: offers blocks until the deadline; returns what it offered.
async fn our_producer(h: Handle, worker: u64, pace: Pace) -> Result<Signals, String> {
    let mut rng = SplitMix64::new(fixtures::SEED.wrapping_add(worker));
    let mut offered = Signals::default();
    let mut block = 0u64;
    match pace {
        Pace::Closed { deadline } => {
            let mut send = |item: Item| {
                let h = &h;
                async move { h.send(item).await.map_err(|r| r.reason) }
            };
            while Instant::now() < deadline {
                offered = offered.plus(offer_block(&mut rng, worker, block, &mut send).await?);
                block += 1;
            }
        }
        Pace::Open { deadline, blocks_per_tick } => {
            // A refusal is counted by the pipeline; only shutdown ends the producer.
            let mut offer = |item: Item| {
                let r = match h.try_item(item) {
                    Err(r) if r.reason == DropReason::AfterShutdown => Err(r.reason),
                    _ => Ok(()),
                };
                std::future::ready(r)
            };
            let mut pacer = OpenLoop::new(deadline, blocks_per_tick);
            while pacer.next_block().await {
                offered = offered.plus(offer_block(&mut rng, worker, block, &mut offer).await?);
                block += 1;
            }
        }
    }
    Ok(offered)
}

fn runtime() -> Result<tokio::runtime::Runtime, LoadError> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(io_err("starting a tokio runtime"))
}

fn run_ours(spec: &StepSpec, endpoint: &str) -> Result<RunResult, LoadError> {
    let rt = runtime()?;
    let recorder = Arc::new(LatencyRecorder::new());
    let (offered, stats, wall) = rt.block_on(async {
        let batch = PipelineConfig {
            max_batch_items: spec.batch,
            max_concurrent_exports: spec.exports,
            queue_capacity: spec.queue,
            ..PipelineConfig::default()
        };
        let exporter = Exporter::builder()
            .endpoint(endpoint)
            .protocol(spec.protocol)
            .batch(batch)
            .compression(spec.compression)
            .resource(fixtures::resource())
            .scope(fixtures::scope())
            .observer(recorder.clone())
            .build()?;
        let start = Instant::now();
        let pace = Pace::new(spec, start);
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..spec.workers {
            tasks.spawn(our_producer(exporter.handle(), worker, pace));
        }
        let mut offered = Signals::default();
        while let Some(joined) = tasks.join_next().await {
            offered =
                offered.plus(joined.map_err(|e| LoadError::Producer(e.to_string()))?.map_err(LoadError::Producer)?);
        }
        let produced = start.elapsed();
        let stats =
            tokio::time::timeout(SHUTDOWN * 2, exporter.shutdown(SHUTDOWN)).await.map_err(|_| LoadError::Hung)?;
        Ok::<_, LoadError>((offered, stats, (start.elapsed(), produced)))
    })?;
    let p = &stats.pipeline;
    let dropped = DropReason::ALL
        .iter()
        .filter(|r| p.dropped(**r) > 0)
        .map(|r| (r.name().to_owned(), p.dropped(*r)))
        .collect::<BTreeMap<_, _>>();
    // The pipeline counts accepted items exactly; the producers' tally is per signal.
    let mut notes = Vec::new();
    if p.accepted != offered.total() {
        notes.push(format!("pipeline accepted {} items, producers offered {}", p.accepted, offered.total()));
    }
    // The pipeline counts exported items, not their signals: the split is
    // an estimate until the parent replaces it with the receiver's counts.
    let delivered = scale_signals(offered, p.exported);
    Ok(RunResult {
        implementation: Implementation::Ours,
        spec: spec.clone(),
        duration_s: wall.0.as_secs_f64(),
        offered,
        delivered,
        exported: p.exported,
        dropped,
        latency: recorder.summary(),
        usage: Usage::now(),
        receiver_cpu_s: None,
        offered_per_s: offered.total() as f64 / wall.1.as_secs_f64().max(1e-9),
        requests: p.requests,
        notes,
    })
}

/// `offered` scaled down to `total` items, signal by signal (logs take the
/// rounding), for an exporter that only counts a total.
fn scale_signals(offered: Signals, total: u64) -> Signals {
    if offered.total() <= total {
        return offered;
    }
    let f = total as f64 / offered.total() as f64;
    let spans = (offered.spans as f64 * f) as u64;
    let points = (offered.points as f64 * f) as u64;
    Signals { spans, points, logs: total - spans - points }
}

// ---------------------------------------------------------------------------
// The parent: the receiver, the children, the result file.

/// A finished load run: what goes into `profiles/load/<scenario>.json`.
#[derive(Clone, Debug)]
pub struct LoadReport {
    /// The scenario.
    pub scenario: LoadScenario,
    /// `loopback` or the endpoint URL.
    pub target: String,
    /// `closed` or `open`.
    pub mode: &'static str,
    /// Every run, step by step (ours first, then the SDK's, per step).
    pub runs: Vec<RunResult>,
    /// The machine's load average (1, 5, 15 minutes) before and after the
    /// runs: on a shared machine, other work takes CPU from the run.
    pub load_average: (Option<[f64; 3]>, Option<[f64; 3]>),
}

/// `/proc/loadavg`'s three averages (Linux), if readable.
fn load_average() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut it = text.split_whitespace().map(|w| w.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

impl LoadReport {
    /// The result file's JSON.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "scenario": self.scenario.name(),
            "target": self.target,
            "mode": self.mode,
            "runs": self.runs.iter().map(RunResult::to_json).collect::<Vec<_>>(),
            "load_average_before": self.load_average.0,
            "load_average_after": self.load_average.1,
        });
        if self.scenario.has_targets() {
            v["targets"] = json!({
                "items_per_s": TARGET_ITEMS_PER_S,
                "p99_us": TARGET_P99_US,
                "peak_rss_bytes": TARGET_PEAK_RSS_BYTES,
                "sdk_ratio": TARGET_SDK_RATIO,
            });
        }
        if let Some(r) = self.ratios() {
            v["ratios"] = r;
        }
        v
    }

    /// Ours over the SDK's, from the first step that has both.
    fn pair(&self) -> Option<(&RunResult, &RunResult)> {
        let ours = self.runs.iter().filter(|r| r.implementation == Implementation::Ours);
        ours.into_iter().find_map(|o| {
            let sdk =
                self.runs.iter().find(|r| r.implementation == Implementation::Sdk && r.spec.step == o.spec.step)?;
            Some((o, sdk))
        })
    }

    fn ratios(&self) -> Option<Value> {
        let (o, s) = self.pair()?;
        let div = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::INFINITY };
        // JSON has no infinity: a ratio over zero is left out (null).
        let num = |x: f64| if x.is_finite() { json!(x) } else { Value::Null };
        Some(json!({
            "step": o.spec.step,
            "basis": "items_per_s_vs_sdk compares delivered spans + log records per second; the SDK aggregates metric measurements into a few points, so all_items_per_s_vs_sdk (measurements counted as items) flatters it",
            "items_per_s_vs_sdk": num(div(o.spans_logs_per_s(), s.spans_logs_per_s())),
            "all_items_per_s_vs_sdk": num(div(o.items_per_s(), s.items_per_s())),
            "spans_per_s_vs_sdk": num(div(o.spans_per_s(), s.spans_per_s())),
            "p99_us_vs_sdk": num(div(o.latency.p99, s.latency.p99)),
            "cpu_s_per_million_vs_sdk": num(div(o.cpu_s_per_million(), s.cpu_s_per_million())),
            "peak_rss_vs_sdk": num(div(o.usage.peak_rss_bytes as f64, s.usage.peak_rss_bytes as f64)),
        }))
    }

    /// The table the CLI prints: one row per run, then the targets with
    /// PASS or MISS.
    pub fn table(&self) -> String {
        let mut t = String::new();
        let first = self.runs.first();
        let _ = writeln!(
            t,
            "{} ({} loop, target {}, {:.1} s per step)",
            self.scenario,
            self.mode,
            self.target,
            first.map_or(0.0, |r| r.spec.duration.as_secs_f64())
        );
        if let (Some(b), Some(a)) = self.load_average {
            let _ = writeln!(
                t,
                "machine load average (1 min) {:.1} before, {:.1} after, on {} cores",
                b[0],
                a[0],
                std::thread::available_parallelism().map_or(0, usize::from)
            );
        }
        let _ = writeln!(
            t,
            "{:<13} {:<22} {:>10} {:>10} {:>10} {:>9} {:>8} {:>8} {:>8} {:>8} {:>6} {:>7} {:>7} {:>7}",
            "impl",
            "step",
            "offered",
            "delivered",
            "items/s",
            "dropped",
            "p50 µs",
            "p99 µs",
            "p99.9 µs",
            "max µs",
            "reqs",
            "cpu s",
            "rss MB",
            "recv s"
        );
        for r in &self.runs {
            let recv = r.receiver_cpu_s.map_or("-".to_owned(), |(u, s)| format!("{:.2}", u + s));
            let _ = writeln!(
                t,
                "{:<13} {:<22} {:>10} {:>10} {:>10.0} {:>9} {:>8.0} {:>8.0} {:>8.0} {:>8.0} {:>6} {:>7.2} {:>7.1} {:>7}",
                r.implementation.name(),
                r.spec.step,
                r.offered.total(),
                r.delivered.total(),
                r.items_per_s(),
                r.dropped_total(),
                r.latency.p50,
                r.latency.p99,
                r.latency.p999,
                r.latency.max,
                r.requests,
                r.usage.user_s + r.usage.system_s,
                r.usage.peak_rss_bytes as f64 / (1 << 20) as f64,
                recv
            );
            for n in &r.notes {
                let _ = writeln!(t, "    note: {n}");
            }
        }
        if self.scenario.has_targets() {
            for o in self.runs.iter().filter(|r| r.implementation == Implementation::Ours) {
                let _ = writeln!(t, "targets ({}, {}):", o.implementation.name(), o.spec.step);
                let verdict = |ok: bool| if ok { "PASS" } else { "MISS" };
                match o.spec.rate {
                    // An open loop below the target rate cannot show it: what it
                    // shows is whether that rate is sustained (the lines below).
                    Some(rate) if rate < TARGET_ITEMS_PER_S => {
                        let _ = writeln!(
                            t,
                            "  delivered >= {:.0} items/s   n/a   (open loop offering {:.0} items/s: the closed-loop run shows the rate; delivered {:.0})",
                            TARGET_ITEMS_PER_S,
                            rate,
                            o.items_per_s()
                        );
                    }
                    _ => {
                        let _ = writeln!(
                            t,
                            "  delivered >= {:.0} items/s   {}  ({:.0})",
                            TARGET_ITEMS_PER_S,
                            verdict(o.items_per_s() >= TARGET_ITEMS_PER_S),
                            o.items_per_s()
                        );
                    }
                }
                let _ = writeln!(
                    t,
                    "  zero drops                 {}  ({})",
                    verdict(o.dropped_total() == 0),
                    o.dropped_total()
                );
                let queue_full = o.dropped.get(DropReason::QueueFull.name()).copied().unwrap_or(0);
                if o.spec.rate.is_some() && queue_full > 0 {
                    // An open loop keeps offering while an export is in
                    // flight: the queue must hold what arrives meanwhile.
                    let _ = writeln!(
                        t,
                        "    {queue_full} refused by the full queue of {} items: for this rate try --queue {} (or more --exports)",
                        o.spec.queue,
                        o.spec.queue.saturating_mul(4).min(MAX_QUEUE)
                    );
                }
                let _ = writeln!(
                    t,
                    "  export p99 < {:.0} µs        {}  ({:.0} µs)",
                    TARGET_P99_US,
                    verdict(o.latency.count > 0 && o.latency.p99 < TARGET_P99_US),
                    o.latency.p99
                );
                let _ = writeln!(
                    t,
                    "  peak RSS < {} MiB          {}  ({:.1} MiB)",
                    TARGET_PEAK_RSS_BYTES >> 20,
                    verdict(o.usage.peak_rss_bytes < TARGET_PEAK_RSS_BYTES),
                    o.usage.peak_rss_bytes as f64 / (1 << 20) as f64
                );
                if let Some(s) =
                    self.runs.iter().find(|s| s.implementation == Implementation::Sdk && s.spec.step == o.spec.step)
                {
                    let ratio = o.spans_logs_per_s() / s.spans_logs_per_s().max(1e-9);
                    let spans = o.spans_per_s() / s.spans_per_s().max(1e-9);
                    let all = o.items_per_s() / s.items_per_s().max(1e-9);
                    let _ = writeln!(
                        t,
                        "  >= {TARGET_SDK_RATIO:.0}x the SDK's spans+logs/s  {}  ({ratio:.2}x; spans {spans:.2}x; all items {all:.2}x, the SDK's aggregated measurements counted)",
                        verdict(ratio >= TARGET_SDK_RATIO)
                    );
                }
            }
        }
        t
    }
}

/// Runs every step of `scenario`, each implementation in a child process,
/// against the loopback receiver started here (or `options.endpoint`);
/// writes `<out>/<scenario>.json` and returns the report.
pub fn run(scenario: LoadScenario, options: &LoadOptions) -> Result<LoadReport, LoadError> {
    if options.sdk && !cfg!(feature = "official-sdk") {
        return Err(LoadError::NoSdk);
    }
    if options.duration.is_zero() {
        return Err(LoadError::Invalid("--duration must be positive".into()));
    }
    if options.rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
        return Err(LoadError::Invalid("--rate must be a positive number of items per second".into()));
    }
    if options.workers == Some(0) || options.batch == Some(0) || options.exports == Some(0) || options.queue == Some(0)
    {
        return Err(LoadError::Invalid("--workers, --batch, --exports and --queue must be at least 1".into()));
    }
    if options.queue.is_some_and(|q| q > MAX_QUEUE) {
        return Err(LoadError::Invalid(format!("--queue must be at most {MAX_QUEUE} items")));
    }
    let exe = match &options.exe {
        Some(p) => p.clone(),
        None => std::env::current_exe().map_err(io_err("finding the otlp-lab executable"))?,
    };
    let steps = scenario.steps(options);
    let mode = if steps.iter().any(|s| s.rate.is_some()) { "open" } else { "closed" };
    let rt = runtime()?;
    let receiver = match &options.endpoint {
        Some(_) => None,
        None => Some(
            rt.block_on(Receiver::start(ReceiverConfig {
                grpc_addr: Some(([127, 0, 0, 1], 0).into()),
                ..ReceiverConfig::default()
            }))
            .map_err(io_err("starting the loopback receiver"))?,
        ),
    };
    let load_before = load_average();
    let mut implementations = vec![Implementation::Ours];
    if options.sdk {
        implementations.push(Implementation::Sdk);
    }
    let mut runs = Vec::new();
    for spec in &steps {
        for &imp in &implementations {
            if imp == Implementation::Sdk && spec.protocol == Protocol::HttpJson {
                // opentelemetry-otlp's http-json feature is not built here.
                continue;
            }
            let endpoint = match (&options.endpoint, &receiver) {
                (Some(e), _) => e.clone(),
                (None, Some(r)) if spec.protocol == Protocol::Grpc => {
                    r.grpc_endpoint().expect("the loopback receiver is started with gRPC")
                }
                (None, Some(r)) => r.http_endpoint(),
                (None, None) => unreachable!("a receiver is started when no endpoint is given"),
            };
            let run =
                rt.block_on(run_in_child(&exe, scenario, imp, spec, &endpoint, receiver.as_ref(), options.progress))?;
            runs.push(run);
        }
    }
    let report = LoadReport {
        scenario,
        target: options.endpoint.clone().unwrap_or_else(|| "loopback".to_owned()),
        mode,
        runs,
        load_average: (load_before, load_average()),
    };
    write_report(&report, &options.out)?;
    Ok(report)
}

fn write_report(report: &LoadReport, out: &Path) -> Result<(), LoadError> {
    std::fs::create_dir_all(out).map_err(io_err(format!("creating {}", out.display())))?;
    let path = out.join(format!("{}.json", report.scenario.name()));
    let text = serde_json::to_string_pretty(&report.to_json()).expect("JSON values serialize");
    std::fs::write(&path, text + "\n").map_err(io_err(format!("writing {}", path.display())))
}

/// The arguments of a child for one step.
fn child_args(scenario: LoadScenario, imp: Implementation, spec: &StepSpec, endpoint: &str) -> Vec<String> {
    let mut args = vec![
        "load".to_owned(),
        scenario.name().to_owned(),
        "--child".to_owned(),
        imp.flag().to_owned(),
        "--step".to_owned(),
        spec.step.clone(),
        "--endpoint".to_owned(),
        endpoint.to_owned(),
        "--protocol".to_owned(),
        spec.protocol.to_string(),
        "--compression".to_owned(),
        spec.compression.to_string(),
        "--duration".to_owned(),
        spec.duration.as_secs_f64().to_string(),
        "--workers".to_owned(),
        spec.workers.to_string(),
        "--batch".to_owned(),
        spec.batch.to_string(),
        "--exports".to_owned(),
        spec.exports.to_string(),
        "--queue".to_owned(),
        spec.queue.to_string(),
        "--no-progress".to_owned(),
    ];
    if let Some(rate) = spec.rate {
        args.extend(["--rate".to_owned(), rate.to_string()]);
    }
    args
}

/// Runs one child while the receiver serves on this runtime; draws the
/// progress bar from the receiver's counts.
async fn run_in_child(
    exe: &Path,
    scenario: LoadScenario,
    imp: Implementation,
    spec: &StepSpec,
    endpoint: &str,
    receiver: Option<&Receiver>,
    progress: bool,
) -> Result<RunResult, LoadError> {
    let child_err = |detail: String| LoadError::Child { implementation: imp.name(), step: spec.step.clone(), detail };
    let before = receiver.map(Receiver::counts);
    let usage_before = Usage::now();
    let mut cmd = std::process::Command::new(exe);
    cmd.args(child_args(scenario, imp, spec, endpoint))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().map_err(io_err(format!("starting {}", exe.display())))?;
    let waiting = tokio::task::spawn_blocking(move || child.wait_with_output());
    let bar = progress_bar(progress, imp, spec);
    let started = Instant::now();
    let limit = spec.duration + CHILD_GRACE;
    let mut waiting = std::pin::pin!(waiting);
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let output = loop {
        tokio::select! {
            done = &mut waiting => break done.map_err(|e| child_err(e.to_string()))?.map_err(io_err("waiting for the child"))?,
            _ = tick.tick() => {
                let elapsed = started.elapsed();
                if elapsed > limit {
                    return Err(child_err(format!("still running after {limit:?}")));
                }
                if let (Some(bar), Some(r), Some(b)) = (&bar, receiver, before) {
                    let n = delta_total(r.counts(), b);
                    bar.set_position(elapsed.as_millis().min(spec.duration.as_millis()) as u64);
                    bar.set_message(format!("{n} items delivered, {:.0} items/s", n as f64 / elapsed.as_secs_f64().max(1e-3)));
                } else if let Some(bar) = &bar {
                    bar.set_position(elapsed.as_millis().min(spec.duration.as_millis()) as u64);
                }
            }
        }
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let usage_after = Usage::now();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(child_err(format!("{} — {}", output.status, stderr.trim())));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().rev().find(|l| l.trim_start().starts_with('{')).unwrap_or("");
    let value: Value =
        serde_json::from_str(line).map_err(|e| child_err(format!("its output is not JSON ({e}): {stdout}")))?;
    let mut run = RunResult::from_json(&value).map_err(child_err)?;
    if let (Some(r), Some(b)) = (receiver, before) {
        confirm_with_receiver(&mut run, r.counts(), b);
        run.receiver_cpu_s =
            Some((usage_after.user_s - usage_before.user_s, usage_after.system_s - usage_before.system_s));
    }
    Ok(run)
}

fn delta_total(after: ReceiverCounts, before: ReceiverCounts) -> u64 {
    (after.spans + after.points + after.logs).saturating_sub(before.spans + before.points + before.logs)
}

/// Replaces a run's delivered counts with what the receiver took, and makes
/// the drops add up: for ours, anything exported but not received is
/// counted as `unconfirmed`; the SDK drops silently, so everything offered
/// and not received is `unreported`.
fn confirm_with_receiver(run: &mut RunResult, after: ReceiverCounts, before: ReceiverCounts) {
    let got = Signals {
        spans: after.spans.saturating_sub(before.spans),
        points: after.points.saturating_sub(before.points),
        logs: after.logs.saturating_sub(before.logs),
    };
    match run.implementation {
        Implementation::Ours => {
            run.delivered = got;
            let missing = run.offered.total().saturating_sub(got.total() + run.dropped_total());
            if missing > 0 {
                run.dropped.insert("unconfirmed".to_owned(), missing);
                run.notes.push(format!("{missing} items neither received nor counted as dropped"));
            }
        }
        Implementation::Sdk => {
            // The SDK aggregates measurements: the receiver gets a few
            // points per instrument, which hold every measurement recorded.
            let points = if got.points > 0 { run.offered.points } else { 0 };
            run.notes.push(format!(
                "receiver got {} metric points aggregating {} measurements",
                got.points, run.offered.points
            ));
            run.delivered = Signals { spans: got.spans, points, logs: got.logs };
            run.dropped.clear();
            let lost = run.offered.total().saturating_sub(run.delivered.total());
            if lost > 0 {
                run.dropped.insert("unreported".to_owned(), lost);
            }
        }
    }
}

fn progress_bar(progress: bool, imp: Implementation, spec: &StepSpec) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal as _;
    if !progress || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(spec.duration.as_millis() as u64);
    let style = indicatif::ProgressStyle::with_template("{prefix:>28} [{elapsed_precise}] {wide_bar} {msg}")
        .expect("the template is valid");
    bar.set_style(style);
    bar.set_prefix(format!("{} {}", imp.name(), spec.step));
    Some(bar)
}

/// The options of `otlp-lab load`.
#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// production_workload, high_concurrency, batch_processing, network_io or sustained_load.
    pub scenario: LoadScenario,
    /// Base URL of an OTLP endpoint to load (default: the loopback receiver in this process).
    #[arg(long)]
    pub endpoint: Option<String>,
    /// http/protobuf, http/json or grpc (network_io sweeps all three).
    #[arg(long, default_value = "http/protobuf")]
    pub protocol: Protocol,
    /// none, gzip or zstd (network_io sweeps all three).
    #[arg(long, default_value = "none")]
    pub compression: Compression,
    /// Seconds of load per step.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Offered items per second (open loop); without it, the closed loop.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Producers (default 50; high_concurrency sweeps its own).
    #[arg(long)]
    pub workers: Option<u64>,
    /// Items per batch (default 512; batch_processing sweeps its own).
    #[arg(long)]
    pub batch: Option<usize>,
    /// Our export requests in flight at once (default 2).
    #[arg(long)]
    pub exports: Option<usize>,
    /// Items the queue holds, ours and the SDK's alike (default 2,048; at
    /// most 1,048,576). An open loop at a high rate needs room for the
    /// items offered while an export is in flight.
    #[arg(long)]
    pub queue: Option<usize>,
    /// Run the official SDK beside ours (needs a build with `--features official-sdk`).
    #[arg(long)]
    pub sdk: bool,
    /// Folder of the result file `<scenario>.json`.
    #[arg(long, default_value = "profiles/load")]
    pub out: PathBuf,
    /// No progress bar (there is none unless standard error is a terminal).
    #[arg(long)]
    pub no_progress: bool,
    /// Internal: run one implementation for one step and print its run as JSON.
    #[arg(long, hide = true, requires = "endpoint")]
    pub child: Option<Implementation>,
    /// Internal: the step's name, for --child.
    #[arg(long, hide = true)]
    pub step: Option<String>,
}

/// `otlp-lab load`: runs the scenario and prints its table (or, with the
/// hidden `--child`, one implementation's run as a JSON line).
pub fn cli(args: LoadArgs) -> Result<(), LoadError> {
    if !(args.duration.is_finite() && args.duration > 0.0 && args.duration <= 3_600.0) {
        return Err(LoadError::Invalid(format!(
            "--duration must be between 0 and 3600 seconds, got {}",
            args.duration
        )));
    }
    let duration = Duration::from_secs_f64(args.duration);
    if let Some(implementation) = args.child {
        let endpoint = args.endpoint.ok_or_else(|| LoadError::Invalid("--child needs --endpoint".into()))?;
        let spec = StepSpec {
            step: args.step.unwrap_or_else(|| "child".to_owned()),
            protocol: args.protocol,
            compression: args.compression,
            workers: args.workers.unwrap_or(scenarios::WORKERS),
            batch: args.batch.unwrap_or(PipelineConfig::default().max_batch_items),
            exports: args.exports.unwrap_or(PipelineConfig::default().max_concurrent_exports),
            queue: args.queue.unwrap_or(PipelineConfig::default().queue_capacity),
            rate: args.rate,
            duration,
        };
        let run = run_child(implementation, &spec, &endpoint)?;
        println!("{}", run.to_json());
        return Ok(());
    }
    let options = LoadOptions {
        endpoint: args.endpoint,
        protocol: args.protocol,
        compression: args.compression,
        duration,
        rate: args.rate,
        workers: args.workers,
        batch: args.batch,
        exports: args.exports,
        queue: args.queue,
        sdk: args.sdk,
        out: args.out,
        progress: !args.no_progress,
        exe: None,
    };
    let report = run(args.scenario, &options)?;
    print!("{}", report.table());
    println!("results: {}", options.out.join(format!("{}.json", args.scenario.name())).display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_list_the_known() {
        for s in LoadScenario::ALL {
            assert_eq!(s.name().parse::<LoadScenario>().expect("known"), s);
        }
        let e = "nope".parse::<LoadScenario>().expect_err("unknown").to_string();
        for s in LoadScenario::ALL {
            assert!(e.contains(s.name()), "{e}");
        }
    }

    #[test]
    fn sweeps_have_their_steps() {
        let o = LoadOptions::default();
        assert_eq!(LoadScenario::HighConcurrency.steps(&o).len(), 5);
        assert_eq!(LoadScenario::BatchProcessing.steps(&o).len(), 4);
        let net = LoadScenario::NetworkIo.steps(&o);
        assert_eq!(net.len(), 9);
        assert_eq!(net[8].step, "grpc+zstd");
        assert_eq!(LoadScenario::Sustained.steps(&o)[0].rate, Some(SUSTAINED_DEFAULT_RATE));
        assert_eq!(LoadScenario::Production.steps(&o)[0].rate, None);
    }

    #[test]
    fn a_run_survives_its_json() {
        let recorder = LatencyRecorder::new();
        for us in [100, 200, 300, 5_000] {
            recorder.record(Duration::from_micros(us));
        }
        let run = RunResult {
            implementation: Implementation::Ours,
            spec: LoadScenario::NetworkIo.steps(&LoadOptions::default())[5].clone(),
            duration_s: 1.5,
            offered: Signals { spans: 70, points: 20, logs: 10 },
            delivered: Signals { spans: 70, points: 20, logs: 5 },
            exported: 95,
            dropped: BTreeMap::from([("queue_full".to_owned(), 5)]),
            latency: recorder.summary(),
            usage: Usage::now(),
            receiver_cpu_s: None,
            offered_per_s: 66.7,
            requests: 3,
            notes: vec!["a note".to_owned()],
        };
        let v = run.to_json();
        assert_eq!(v["dropped_total"], 5);
        assert_eq!(v["latency_us"]["count"], 4);
        assert_eq!(v["compression"], "zstd");
        assert_eq!(RunResult::from_json(&v).expect("reads back"), run);
        // A result written before `--queue` existed ran with the default queue.
        let mut old = v.clone();
        old.as_object_mut().expect("an object").remove("queue_capacity");
        assert_eq!(
            RunResult::from_json(&old).expect("reads back").spec.queue,
            PipelineConfig::default().queue_capacity
        );
    }

    #[test]
    fn an_open_loop_refused_by_a_full_queue_is_told_how_to_make_room() {
        let o = LoadOptions { rate: Some(600_000.0), queue: Some(1_024), ..LoadOptions::default() };
        let spec = LoadScenario::Sustained.steps(&o)[0].clone();
        assert_eq!(spec.queue, 1_024);
        let run = |dropped: u64| RunResult {
            implementation: Implementation::Ours,
            spec: spec.clone(),
            duration_s: 1.0,
            offered: Signals { spans: 1_000, points: 0, logs: 0 },
            delivered: Signals { spans: 1_000 - dropped, points: 0, logs: 0 },
            exported: 1_000 - dropped,
            dropped: BTreeMap::from([(DropReason::QueueFull.name().to_owned(), dropped)]),
            latency: LatencySummary::default(),
            usage: Usage::default(),
            receiver_cpu_s: None,
            offered_per_s: 1_000.0,
            requests: 2,
            notes: Vec::new(),
        };
        let report = |dropped| LoadReport {
            scenario: LoadScenario::Sustained,
            target: "loopback".to_owned(),
            mode: "open",
            runs: vec![run(dropped)],
            load_average: (None, None),
        };
        let t = report(7).table();
        assert!(t.contains("7 refused by the full queue of 1024 items: for this rate try --queue 4096"), "{t}");
        assert!(!report(0).table().contains("try --queue"));
    }

    #[test]
    fn the_receiver_confirms_ours_and_accounts_the_sdk() {
        let spec = LoadScenario::Production.steps(&LoadOptions::default())[0].clone();
        let base = RunResult {
            implementation: Implementation::Ours,
            spec,
            duration_s: 1.0,
            offered: Signals { spans: 700, points: 200, logs: 100 },
            delivered: Signals { spans: 700, points: 200, logs: 100 },
            exported: 1_000,
            dropped: BTreeMap::new(),
            latency: LatencySummary::default(),
            usage: Usage::default(),
            receiver_cpu_s: None,
            offered_per_s: 1_000.0,
            requests: 2,
            notes: Vec::new(),
        };
        let before = ReceiverCounts { spans: 5, ..ReceiverCounts::default() };
        let after = ReceiverCounts { spans: 705, points: 200, logs: 90, ..ReceiverCounts::default() };
        let mut ours = base.clone();
        confirm_with_receiver(&mut ours, after, before);
        assert_eq!(ours.delivered.total(), 990);
        assert_eq!(ours.dropped["unconfirmed"], 10);
        assert_eq!(ours.offered.total(), ours.delivered.total() + ours.dropped_total());

        let mut sdk = RunResult { implementation: Implementation::Sdk, ..base };
        let after = ReceiverCounts { spans: 105, points: 6, logs: 30, ..ReceiverCounts::default() };
        confirm_with_receiver(&mut sdk, after, before);
        assert_eq!(sdk.delivered, Signals { spans: 100, points: 200, logs: 30 });
        assert_eq!(sdk.dropped["unreported"], 670);
    }
}
