//! What the load runner and the whole-exporter runner share with the
//! official SDK's side (`crate::sdk`): which implementation runs, what a run
//! measures (export latency, CPU and peak RSS, items per signal) and how
//! producers pace their offers. It imports neither `crate::load` nor
//! `crate::sdk`, so that both can import it.

use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::scenarios::BLOCK_ITEMS;
use otlp_pipeline::exporter::ExportObserver;
use otlp_pipeline::pipeline::{ExportRequest, ExportResult};

/// Which exporter a run measures: a whole stack, from the API the
/// instrumented code calls to the wire. The names are the same everywhere a
/// person types or reads them (`--implementation(s)`, result files, the
/// report): the flag names below.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Implementation {
    /// This crate's builder and exporter (`otlp_pipeline::exporter::Exporter`).
    #[serde(rename = "ours", alias = "otlp-lab")]
    Ours,
    /// The official Rust SDK's API, `BatchSpanProcessor` and
    /// `opentelemetry-otlp` (cargo feature `official-sdk`).
    #[serde(rename = "sdk", alias = "official-sdk")]
    Sdk,
    /// `tracing` + our layer (`otlp_pipeline::layer::OtlpLayer`) + our exporter.
    #[serde(rename = "tracing-ours")]
    TracingOurs,
    /// `tracing` + tracing-opentelemetry + the SDK's `BatchSpanProcessor` +
    /// `opentelemetry-otlp`: what most Rust services run (feature `official-sdk`).
    #[serde(rename = "tracing-otel")]
    TracingOtel,
    /// The SDK's API + our span processor (`otlp_pipeline::otel`) + our
    /// exporter (feature `official-sdk`).
    #[serde(rename = "sdk-ours")]
    SdkOurs,
    /// `tracing` with no layer: the registry alone, nothing exported; the
    /// floor that the instrumentation itself costs.
    #[serde(rename = "tracing-bare")]
    TracingBare,
}

impl Implementation {
    /// Every implementation, in the order tables show them.
    pub const ALL: [Implementation; 6] = [
        Implementation::Ours,
        Implementation::Sdk,
        Implementation::TracingOurs,
        Implementation::TracingOtel,
        Implementation::SdkOurs,
        Implementation::TracingBare,
    ];

    /// The name on the command line, in result files and in the report.
    pub const fn flag(self) -> &'static str {
        match self {
            Implementation::Ours => "ours",
            Implementation::Sdk => "sdk",
            Implementation::TracingOurs => "tracing-ours",
            Implementation::TracingOtel => "tracing-otel",
            Implementation::SdkOurs => "sdk-ours",
            Implementation::TracingBare => "tracing-bare",
        }
    }

    /// What the stack is made of, for tables.
    pub const fn describe(self) -> &'static str {
        match self {
            Implementation::Ours => "our builder + our exporter",
            Implementation::Sdk => "SDK API + BatchSpanProcessor + opentelemetry-otlp",
            Implementation::TracingOurs => "tracing + our layer + our exporter",
            Implementation::TracingOtel => "tracing + tracing-opentelemetry + SDK + opentelemetry-otlp",
            Implementation::SdkOurs => "SDK API + our processor + our exporter",
            Implementation::TracingBare => "tracing, no layer (nothing exported)",
        }
    }

    /// Whether it needs the official SDK (cargo feature `official-sdk`).
    pub const fn needs_sdk(self) -> bool {
        matches!(self, Implementation::Sdk | Implementation::TracingOtel | Implementation::SdkOurs)
    }

    /// Whether its spans reach the receiver (all but the floor).
    pub const fn exports(self) -> bool {
        !matches!(self, Implementation::TracingBare)
    }

    /// Whether this build can run it.
    pub fn check_available(self) -> Result<(), SdkNotBuilt> {
        if self.needs_sdk() && !cfg!(feature = "official-sdk") {
            return Err(SdkNotBuilt(self));
        }
        Ok(())
    }
}

impl fmt::Display for Implementation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.flag())
    }
}

/// An implementation name that means nothing here.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown implementation `{0}`: expected one of ours, sdk, tracing-ours, tracing-otel, sdk-ours, tracing-bare")]
pub struct UnknownImplementation(pub String);

/// An implementation that needs the official SDK, asked for in a build without it.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error(
    "`{0}` needs the official SDK, which is not in this build: build with `cargo build --release --features official-sdk`"
)]
pub struct SdkNotBuilt(pub Implementation);

impl FromStr for Implementation {
    type Err = UnknownImplementation;
    fn from_str(s: &str) -> Result<Self, UnknownImplementation> {
        let s = s.trim();
        // The result files' names before the stacks were added.
        let s = match s {
            "otlp-lab" => "ours",
            "official-sdk" => "sdk",
            other => other,
        };
        Implementation::ALL.into_iter().find(|i| i.flag() == s).ok_or_else(|| UnknownImplementation(s.to_owned()))
    }
}

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
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
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

    /// Both added up, signal by signal.
    pub fn plus(self, o: Signals) -> Signals {
        Signals { spans: self.spans + o.spans, points: self.points + o.points, logs: self.logs + o.logs }
    }
}

/// Interval of the open loop's paced offers.
pub const TICK: Duration = Duration::from_millis(10);

/// How a producer paces its blocks.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Pace {
    /// As fast as the queue takes them, until the deadline.
    Closed { deadline: Instant },
    /// `blocks_per_tick` blocks (fractional: carried over) every [`TICK`] until the deadline.
    Open { deadline: Instant, blocks_per_tick: f64 },
}

impl Pace {
    /// `workers` producers offering for `duration` from `start`: as fast
    /// as they can, or `rate` items per second between them in blocks of
    /// the production mix.
    pub(crate) fn new(start: Instant, duration: Duration, rate: Option<f64>, workers: u64) -> Pace {
        let deadline = start + duration;
        match rate {
            None => Pace::Closed { deadline },
            Some(rate) => Pace::Open {
                deadline,
                blocks_per_tick: rate * TICK.as_secs_f64() / (workers as f64 * BLOCK_ITEMS as f64),
            },
        }
    }
}

/// A producer whose API never waits (the SDK's, `tracing`'s): runs
/// `block(0)`, `block(1)`, ... as `pace` says until its deadline and adds
/// up what they offered. In the closed loop it yields after each block, so
/// that the other producers and the exporter's tasks on the same thread run;
/// the open loop paces them with [`OpenLoop`].
pub(crate) async fn produce_blocks(pace: Pace, mut block: impl FnMut(u64) -> Signals) -> Signals {
    let (mut offered, mut n) = (Signals::default(), 0u64);
    match pace {
        Pace::Closed { deadline } => {
            while Instant::now() < deadline {
                offered = offered.plus(block(n));
                n += 1;
                tokio::task::yield_now().await;
            }
        }
        Pace::Open { deadline, blocks_per_tick } => {
            let mut pacer = OpenLoop::new(deadline, blocks_per_tick);
            while pacer.next_block().await {
                offered = offered.plus(block(n));
                n += 1;
            }
        }
    }
    offered
}

/// A ticker for an open-loop producer: skips late ticks instead of bursting.
fn ticker() -> tokio::time::Interval {
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    interval
}

/// The open loop's pacing, for ours and the SDK's producers alike: every
/// [`TICK`], as many blocks as the credit allows, yielding between them as a
/// service does between requests. Without the yield, the producers on one
/// thread offer a whole tick's burst before the batcher on that thread can
/// take any, and the queue refuses what does not fit at rates the closed
/// loop sustains.
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
