//! The whole-exporter process: it creates N spans of the standard fixture
//! one by one through a stack's API and ships them to a receiver
//! (`otlp-lab exporter-run`), for each stack ([`Implementation`]: ours, the
//! official SDK, `tracing` with our layer or with tracing-opentelemetry, the
//! SDK's API with our processor, `tracing` with no layer).
//! `crate::exporter_compare` runs it under callgrind and DHAT and
//! `crate::exporter_load` natively.
//!
//! Our exporter runs on a tokio current-thread runtime: span creation,
//! batching, encoding, compression and the send share one thread. The SDK's
//! `BatchSpanProcessor` always exports from a thread of its own; its OTLP
//! transports (hyper, tonic) run on a current-thread runtime that a second
//! thread drives (`crate::sdk`). Callgrind counts every thread.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

pub use crate::harness::{Implementation, SdkNotBuilt, UnknownImplementation};
use crate::stacks::QUEUE;
use otlp_pipeline::compress::{CompressError, Compression};
use otlp_pipeline::exporter::{Exporter, ExporterError, Protocol};
use otlp_pipeline::fixtures::{self, FixtureIdStream};
use otlp_pipeline::layer::OtlpLayer;
use otlp_pipeline::pipeline::{DropReason, Item, PipelineConfig, StatsSnapshot};
use otlp_pipeline::receiver::ReceiverCounts;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt as _;

/// How long an exporter-run may take to deliver what is left at shutdown.
/// Generous: callgrind slows the whole process down many times over.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(600);

/// The targets, instructions per span, by case.
pub const TARGETS: [(&str, u64); 2] = [("http/protobuf+none", 4000), ("http/protobuf+zstd", 8000)];

/// The cases `exporter-compare` runs unless told otherwise: the two with
/// targets. Every protocol and codec of [`ALL_CASES`] can be asked for.
pub const DEFAULT_CASES: [&str; 2] = ["http/protobuf+none", "http/protobuf+zstd"];

/// Every case every stack can run.
pub const ALL_CASES: [&str; 5] =
    ["http/protobuf+none", "http/protobuf+zstd", "http/protobuf+gzip", "grpc+none", "grpc+zstd"];

/// One protocol and codec.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Case {
    /// The protocol.
    pub protocol: Protocol,
    /// The codec (each implementation's default level: ours zstd 1 and gzip
    /// 6, the SDK's zstd 3 and gzip 6).
    pub compression: Compression,
}

impl Case {
    /// OTLP/HTTP with protobuf bodies, uncompressed: the case every stack's goal is set on.
    pub const HTTP_NONE: Case = Case { protocol: Protocol::HttpProtobuf, compression: Compression::None };
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}+{}", self.protocol, self.compression)
    }
}

/// A case on the command line that cannot be run.
#[derive(Debug, thiserror::Error)]
#[error("bad case `{case}`: {problem} (e.g. http/protobuf+zstd, grpc+none)")]
pub struct BadCase {
    /// What was given.
    pub case: String,
    /// What is wrong with it.
    #[source]
    pub problem: CaseProblem,
}

/// What is wrong with a case.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaseProblem {
    /// No `+` between protocol and codec.
    #[error("expected PROTOCOL+COMPRESSION")]
    Shape,
    /// An unknown protocol.
    #[error("{0}")]
    Protocol(ExporterError),
    /// http/json, which the SDK's build here lacks.
    #[error("the official SDK's http/json is not built here; use http/protobuf or grpc")]
    HttpJson,
    /// An unknown codec.
    #[error("{0}")]
    Compression(CompressError),
    /// A codec with a level.
    #[error("give the codec without a level (none, gzip, zstd): each side uses its default")]
    Level,
}

impl FromStr for Case {
    type Err = BadCase;
    fn from_str(s: &str) -> Result<Self, BadCase> {
        let bad = |problem| BadCase { case: s.to_owned(), problem };
        let (p, c) = s.trim().split_once('+').ok_or_else(|| bad(CaseProblem::Shape))?;
        let protocol: Protocol = p.parse().map_err(|e| bad(CaseProblem::Protocol(e)))?;
        if protocol == Protocol::HttpJson {
            return Err(bad(CaseProblem::HttpJson));
        }
        let compression: Compression = c.parse().map_err(|e| bad(CaseProblem::Compression(e)))?;
        if !matches!(compression, Compression::None | Compression::GZIP_DEFAULT | Compression::ZSTD_DEFAULT) {
            return Err(bad(CaseProblem::Level));
        }
        Ok(Case { protocol, compression })
    }
}

/// What one `exporter-run` does.
#[derive(Clone, Debug)]
pub struct RunPlan {
    /// Whose exporter.
    pub implementation: Implementation,
    /// Spans to create and export.
    pub spans: u64,
    /// Base URL of the receiver (`/v1/traces` is appended for OTLP/HTTP).
    pub endpoint: String,
    /// Protocol and codec.
    pub case: Case,
}

/// What one run delivered, by the exporter's own count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunReport {
    /// Spans created.
    pub created: u64,
    /// Spans the exporter reports as delivered.
    pub exported: u64,
}

/// Why an `exporter-run` failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The official SDK in a build without it.
    #[error(transparent)]
    NotBuilt(#[from] SdkNotBuilt),
    /// The tokio runtime could not start.
    #[error("starting a tokio runtime: {0}")]
    Runtime(#[from] std::io::Error),
    /// More spans than this machine can count.
    #[error("span count: {0}")]
    Count(#[from] std::num::TryFromIntError),
    /// Our exporter refused its settings.
    #[error("building the exporter: {0}")]
    Exporter(#[from] ExporterError),
    /// Our exporter refused a span.
    #[error("a span was refused: {0}")]
    Refused(DropReason),
    /// The process already has a global `tracing` subscriber.
    #[error(transparent)]
    Subscriber(crate::stacks::AlreadyInstalled),
    /// A stack without the SDK handed to the SDK's runner.
    #[error("{0} does not run on the official SDK")]
    NotSdk(Implementation),
    /// Our layer could not give a span its remote parent.
    #[error("our layer could not set a span's parent: {0}")]
    Parent(String),
    /// Our exporter dropped spans.
    #[error("{} spans dropped: {stats} (last transport error: {last_error:?})", stats.dropped_total())]
    Dropped {
        /// The pipeline's counters at shutdown.
        stats: Box<StatsSnapshot>,
        /// The transport's last error.
        last_error: Option<Box<str>>,
    },
    /// The official SDK could not be set up or run.
    #[cfg(feature = "official-sdk")]
    #[error(transparent)]
    Sdk(#[from] crate::sdk::SdkError),
    /// Fewer spans exported than created.
    #[error("{implementation}: {exported} of {created} spans exported ({case} {endpoint})")]
    Incomplete {
        /// Whose exporter.
        implementation: Implementation,
        /// Spans exported.
        exported: u64,
        /// Spans created.
        created: u64,
        /// Protocol and codec.
        case: Case,
        /// The receiver.
        endpoint: String,
    },
}

/// Creates `plan.spans` spans one by one through the implementation's API,
/// shuts the exporter down (which flushes everything) and fails unless every
/// span was exported. Builds its own runtime: call it outside one.
pub fn run(plan: &RunPlan) -> Result<RunReport, RunError> {
    plan.implementation.check_available()?;
    let report = match plan.implementation {
        Implementation::Ours => run_ours(plan)?,
        Implementation::TracingOurs => run_tracing_ours(plan)?,
        Implementation::TracingBare => run_tracing_bare(plan)?,
        Implementation::Sdk | Implementation::TracingOtel | Implementation::SdkOurs => run_sdk(plan)?,
    };
    let expected = if plan.implementation.exports() { report.created } else { 0 };
    if report.exported != expected {
        return Err(RunError::Incomplete {
            implementation: plan.implementation,
            exported: report.exported,
            created: expected,
            case: plan.case,
            endpoint: plan.endpoint.clone(),
        });
    }
    Ok(report)
}

/// The three stacks that need the official SDK.
#[cfg(feature = "official-sdk")]
fn run_sdk(plan: &RunPlan) -> Result<RunReport, RunError> {
    let transport = crate::sdk::Transport {
        endpoint: plan.endpoint.clone(),
        protocol: plan.case.protocol,
        compression: plan.case.compression,
    };
    let exported = match plan.implementation {
        Implementation::TracingOtel => crate::sdk::run_tracing_spans(&transport, plan.spans, SHUTDOWN_DEADLINE)?,
        Implementation::Sdk => crate::sdk::run_fixture_spans(&transport, plan.spans, SHUTDOWN_DEADLINE)?,
        Implementation::SdkOurs => {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let exporter = {
                let _in_runtime = rt.enter();
                exporter(plan, Some(QUEUE))?
            };
            crate::sdk::run_sdk_ours(&rt, exporter, plan.spans, async |e| finish(e, SHUTDOWN_DEADLINE).await)??
        }
        other @ (Implementation::Ours | Implementation::TracingOurs | Implementation::TracingBare) => {
            return Err(RunError::NotSdk(other));
        }
    };
    Ok(RunReport { created: plan.spans, exported })
}

#[cfg(not(feature = "official-sdk"))]
fn run_sdk(plan: &RunPlan) -> Result<RunReport, RunError> {
    Err(RunError::NotBuilt(SdkNotBuilt(plan.implementation)))
}

fn run_ours(plan: &RunPlan) -> Result<RunReport, RunError> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let exporter = exporter(plan, None)?;
        let h = exporter.handle();
        // `send` waits for queue room: on one thread the batcher only runs
        // while the producer waits, and `try_span` would drop what does not fit.
        for ids in FixtureIdStream::default().take(usize::try_from(plan.spans)?) {
            h.send(Item::Span(fixtures::span(&ids))).await.map_err(|r| RunError::Refused(r.reason))?;
        }
        let exported = finish(exporter, SHUTDOWN_DEADLINE).await?;
        Ok(RunReport { created: plan.spans, exported })
    })
}

/// Our exporter as `exporter-run` builds it for every stack that ends in our
/// pipeline: the plan's endpoint, protocol and codec, the standard resource
/// and scope; `queue`, when given, replaces the default queue capacity.
fn exporter(plan: &RunPlan, queue: Option<usize>) -> Result<Exporter, RunError> {
    let mut builder = Exporter::builder();
    if let Some(queue_capacity) = queue {
        builder = builder.batch(PipelineConfig { queue_capacity, ..PipelineConfig::default() });
    }
    Ok(builder
        .endpoint(plan.endpoint.as_str())
        .protocol(plan.case.protocol)
        .compression(plan.case.compression)
        .resource(fixtures::resource())
        .scope(fixtures::scope())
        .build()?)
}

/// Shuts `exporter` down and fails if it dropped anything; returns what it exported.
async fn finish(exporter: Exporter, deadline: Duration) -> Result<u64, RunError> {
    let stats = exporter.shutdown(deadline).await.unwrap_or_else(otlp_pipeline::ShutdownError::into_stats);
    let p = stats.pipeline;
    if p.dropped_total() > 0 {
        return Err(RunError::Dropped { stats: Box::new(p), last_error: stats.transport.last_error });
    }
    Ok(p.exported)
}

/// `tracing` with no layer: the registry alone (behind the same INFO level
/// filter as the other `tracing` stacks), which keeps the span tree and
/// records no field. Nothing is exported.
fn run_tracing_bare(plan: &RunPlan) -> Result<RunReport, RunError> {
    let count = usize::try_from(plan.spans)?;
    crate::stacks::install(tracing_subscriber::registry().with(LevelFilter::INFO)).map_err(RunError::Subscriber)?;
    for ids in FixtureIdStream::default().take(count) {
        crate::stacks::tracing_span(&ids, |_| {});
    }
    Ok(RunReport { created: plan.spans, exported: 0 })
}

/// `tracing` + our layer (`OtlpLayer`) + our exporter, on one current-thread
/// runtime like `ours`. The layer never waits for the queue, so the producer
/// gives the exporter its turn every [`crate::stacks::YIELD_EVERY`] spans
/// ([`crate::stacks::producer_turn`]), as the exporter's task would run on
/// a service's other worker.
fn run_tracing_ours(plan: &RunPlan) -> Result<RunReport, RunError> {
    let count = usize::try_from(plan.spans)?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let exporter = exporter(plan, Some(QUEUE))?;
        // The level filter keeps the debug events of the libraries under
        // the exporter (h2 under tonic) out of the layer.
        let handle = exporter.handle();
        let subscriber = tracing_subscriber::registry().with(LevelFilter::INFO).with(OtlpLayer::new(exporter.handle()));
        crate::stacks::install(subscriber).map_err(RunError::Subscriber)?;
        for (i, ids) in FixtureIdStream::default().take(count).enumerate() {
            let mut refused = None;
            crate::stacks::tracing_span(&ids, |span| {
                refused = OtlpLayer::set_parent(span, &crate::stacks::parent_context(&ids)).err();
            });
            if let Some(e) = refused {
                return Err(RunError::Parent(e.to_string()));
            }
            if (i + 1) % crate::stacks::YIELD_EVERY == 0 {
                crate::stacks::producer_turn(&handle).await;
            }
        }
        let exported = finish(exporter, SHUTDOWN_DEADLINE).await?;
        Ok(RunReport { created: plan.spans, exported })
    })
}

/// A run's requests carried something else than spans, or some were
/// refused: the wire bytes per span would count them, so a measurement
/// fails with this instead.
#[derive(Debug, thiserror::Error)]
#[error(
    "{implementation}: the receiver got {logs} log records, {points} points and {refused} refused requests besides the spans"
)]
pub struct NotOnlySpans {
    /// The stack.
    pub implementation: Implementation,
    /// Log records received.
    pub logs: u64,
    /// Metric points received.
    pub points: u64,
    /// Requests refused.
    pub refused: u64,
}

/// Checks what the receiver counted during one run of `implementation`
/// (`since`: the difference of two readings): spans and nothing else.
pub fn check_only_spans(implementation: Implementation, since: ReceiverCounts) -> Result<(), NotOnlySpans> {
    if since.logs != 0 || since.points != 0 || since.refused_requests != 0 {
        return Err(NotOnlySpans {
            implementation,
            logs: since.logs,
            points: since.points,
            refused: since.refused_requests,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_or_say_why_not() {
        assert_eq!("ours".parse::<Implementation>().ok(), Some(Implementation::Ours));
        assert!("jaeger".parse::<Implementation>().expect_err("bad").to_string().contains("tracing-bare"));
        for imp in Implementation::ALL {
            assert_eq!(imp.flag().parse::<Implementation>().ok(), Some(imp));
            assert_eq!(serde_json::to_value(imp).expect("serializes"), imp.flag());
        }
        // Result files written before the stacks were added still read.
        assert_eq!(serde_json::from_str::<Implementation>("\"otlp-lab\"").ok(), Some(Implementation::Ours));
        assert_eq!(serde_json::from_str::<Implementation>("\"official-sdk\"").ok(), Some(Implementation::Sdk));
        for c in ALL_CASES {
            assert_eq!(c.parse::<Case>().expect(c).to_string(), c);
        }
        for bad in ["grpc", "http/json+none", "grpc+lz4", "grpc+zstd:3", "thrift+none"] {
            assert!(bad.parse::<Case>().expect_err(bad).to_string().contains(bad), "{bad}");
        }
    }

    #[test]
    fn only_spans_pass_the_check() {
        let spans = ReceiverCounts { spans: 10, body_bytes: 4650, accepted_requests: 1, ..ReceiverCounts::default() };
        assert!(check_only_spans(Implementation::Ours, spans).is_ok());
        for (other, what) in [
            (ReceiverCounts { logs: 1, ..spans }, "1 log records, 0 points and 0 refused"),
            (ReceiverCounts { points: 2, ..spans }, "0 log records, 2 points and 0 refused"),
            (ReceiverCounts { refused_requests: 3, ..spans }, "0 log records, 0 points and 3 refused"),
        ] {
            let e = check_only_spans(Implementation::TracingOurs, other).expect_err(what);
            assert!(e.to_string().starts_with("tracing-ours: ") && e.to_string().contains(what), "{e}");
        }
    }
}
