//! The whole-exporter comparison: one process creates N spans of the
//! standard fixture one by one through an exporter's API and ships them to a
//! loopback receiver (`otlp-lab exporter-run`); `otlp-lab exporter-compare`
//! runs that process under callgrind at two span counts, for our exporter and
//! for the official Rust SDK, and reports the marginal instructions per span
//! (start-up and shutdown cancel in the difference).
//!
//! Ours runs on a tokio current-thread runtime: span creation, batching,
//! encoding, compression and the send share one thread. The SDK's
//! `BatchSpanProcessor` always exports from a thread of its own; its OTLP
//! transports (hyper, tonic) run on a current-thread runtime that a second
//! thread drives (see [`run`]). Callgrind counts every thread.

use std::error::Error;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::time::{Duration, Instant};

use otlp_pipeline::compress::Compression;
use otlp_pipeline::exporter::{Exporter, Protocol};
use otlp_pipeline::fixtures::{self, FixtureIdStream};
use otlp_pipeline::pipeline::Item;
use otlp_pipeline::receiver::{Receiver, ReceiverConfig};

/// How long an exporter-run may take to deliver what is left at shutdown.
/// Generous: under callgrind everything runs about 50 to 100 times slower.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(600);

/// The DESIGN.md targets, instructions per span, by case.
pub const TARGETS: [(&str, f64); 2] = [("http/protobuf+none", 4000.0), ("http/protobuf+zstd", 8000.0)];

/// The cases `exporter-compare` runs unless told otherwise.
pub const DEFAULT_CASES: [&str; 5] =
    ["http/protobuf+none", "http/protobuf+zstd", "http/protobuf+gzip", "grpc+none", "grpc+zstd"];

/// Which exporter a run measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Implementation {
    /// `otlp_pipeline::exporter::Exporter`.
    Ours,
    /// `opentelemetry_sdk` + `opentelemetry-otlp` (cargo feature `official-sdk`).
    Sdk,
}

impl Implementation {
    /// The name in results files (`profiles/exporter.json`).
    pub fn result_name(self) -> &'static str {
        match self {
            Implementation::Ours => "otlp-lab",
            Implementation::Sdk => "official-sdk",
        }
    }

    /// The name on the command line.
    pub fn cli_name(self) -> &'static str {
        match self {
            Implementation::Ours => "ours",
            Implementation::Sdk => "sdk",
        }
    }

    /// Whether this build can run it.
    pub fn check_available(self) -> Result<(), UnknownName> {
        if self == Implementation::Sdk && !cfg!(feature = "official-sdk") {
            return Err(UnknownName(
                "the official SDK is not in this build: build with `cargo build --release --features official-sdk`"
                    .into(),
            ));
        }
        Ok(())
    }
}

impl fmt::Display for Implementation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.cli_name())
    }
}

/// A name on the command line that means nothing here.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct UnknownName(String);

impl FromStr for Implementation {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        match s.trim() {
            "ours" | "otlp-lab" => Ok(Implementation::Ours),
            "sdk" | "official-sdk" => Ok(Implementation::Sdk),
            other => Err(UnknownName(format!("unknown implementation `{other}`: expected ours or sdk"))),
        }
    }
}

/// One protocol and codec.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Case {
    /// The protocol.
    pub protocol: Protocol,
    /// The codec (each implementation's default level: ours zstd 1 and gzip
    /// 6, the SDK's zstd 3 and gzip 6).
    pub compression: Compression,
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}+{}", self.protocol, self.compression)
    }
}

impl FromStr for Case {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        let bad = |why: String| UnknownName(format!("bad case `{s}`: {why} (e.g. http/protobuf+zstd, grpc+none)"));
        let (p, c) = s.trim().split_once('+').ok_or_else(|| bad("expected PROTOCOL+COMPRESSION".into()))?;
        let protocol: Protocol = p.parse().map_err(|e| bad(format!("{e}")))?;
        if protocol == Protocol::HttpJson {
            return Err(bad("the official SDK's http/json is not built here; use http/protobuf or grpc".into()));
        }
        let compression: Compression = c.parse().map_err(|e| bad(format!("{e}")))?;
        if !matches!(compression, Compression::None | Compression::GZIP_DEFAULT | Compression::ZSTD_DEFAULT) {
            return Err(bad("give the codec without a level (none, gzip, zstd): each side uses its default".into()));
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

/// Creates `plan.spans` spans one by one through the implementation's API,
/// shuts the exporter down (which flushes everything) and fails unless every
/// span was exported. Builds its own runtime: call it outside one.
pub fn run(plan: &RunPlan) -> Result<RunReport, Box<dyn Error>> {
    plan.implementation.check_available()?;
    let report = match plan.implementation {
        Implementation::Ours => run_ours(plan)?,
        #[cfg(feature = "official-sdk")]
        Implementation::Sdk => sdk::run(plan)?,
        #[cfg(not(feature = "official-sdk"))]
        Implementation::Sdk => unreachable!("check_available refused it"),
    };
    if report.exported != report.created {
        return Err(format!(
            "{}: {} of {} spans exported ({} {})",
            plan.implementation, report.exported, report.created, plan.case, plan.endpoint
        )
        .into());
    }
    Ok(report)
}

fn run_ours(plan: &RunPlan) -> Result<RunReport, Box<dyn Error>> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let exporter = Exporter::builder()
            .endpoint(plan.endpoint.as_str())
            .protocol(plan.case.protocol)
            .compression(plan.case.compression)
            .resource(fixtures::resource())
            .scope(fixtures::scope())
            .build()?;
        let h = exporter.handle();
        // `send` waits for queue room: on one thread the batcher only runs
        // while the producer waits, and `try_span` would drop what does not fit.
        for ids in FixtureIdStream::default().take(usize::try_from(plan.spans)?) {
            h.send(Item::Span(fixtures::span(&ids))).await?;
        }
        let stats = exporter.shutdown(SHUTDOWN_DEADLINE).await;
        let p = stats.pipeline;
        if p.dropped_total() > 0 {
            return Err(format!(
                "{} spans dropped: {p} (last transport error: {:?})",
                p.dropped_total(),
                stats.transport.last_error
            )
            .into());
        }
        Ok(RunReport { created: plan.spans, exported: p.exported })
    })
}

#[cfg(feature = "official-sdk")]
mod sdk {
    //! The official SDK side: `SdkTracerProvider` with the default
    //! `BatchSpanProcessor` (its own export thread, batches of 512, 5 s delay)
    //! and the `opentelemetry-otlp` span exporter.

    use std::error::Error;
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use opentelemetry::trace::{
        SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer as _,
        TracerProvider as _,
    };
    use opentelemetry::{Context, InstrumentationScope, KeyValue};
    use opentelemetry_otlp::{WithExportConfig, WithHttpConfig, WithTonicConfig};
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::trace::{
        BatchConfigBuilder, BatchSpanProcessor, IdGenerator, SdkTracerProvider, SpanData, SpanExporter,
    };

    use super::{RunPlan, RunReport, SHUTDOWN_DEADLINE};
    use otlp_pipeline::exporter::Protocol;
    use otlp_pipeline::fixtures::{FixtureIdStream, FixtureIds};

    const MS: u64 = 1_000_000;

    /// The processor's queue. The SDK drops a span that finds its queue full
    /// (default 2,048) and has no backpressure; under callgrind the producer
    /// easily outruns the export thread. One fixed size for every run (at
    /// least the largest count) keeps the setting out of the difference.
    const QUEUE: usize = 1 << 16;

    /// Hands out the span id the driver chose: the SDK takes span ids only
    /// from its `IdGenerator`, and the fixture's come from its seeded PRNG.
    #[derive(Debug, Default)]
    struct FixtureIdGenerator(Arc<AtomicU64>);

    impl IdGenerator for FixtureIdGenerator {
        fn new_trace_id(&self) -> TraceId {
            // Never asked: every span gets a parent context with its trace id.
            TraceId::INVALID
        }
        fn new_span_id(&self) -> SpanId {
            SpanId::from_bytes(self.0.load(Relaxed).to_le_bytes())
        }
    }

    /// The OTLP exporter, counting the spans of every successful export (the
    /// processor drops silently: this is how the run knows all arrived).
    #[derive(Debug)]
    struct Counted<E> {
        inner: E,
        exported: Arc<AtomicU64>,
    }

    impl<E: SpanExporter> SpanExporter for Counted<E> {
        fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
            let n = batch.len() as u64;
            let export = self.inner.export(batch);
            async move {
                let result = export.await;
                match &result {
                    Ok(()) => {
                        self.exported.fetch_add(n, Relaxed);
                    }
                    // The processor only logs a failed export, and internal logs are off here.
                    Err(e) => eprintln!("otlp-lab: official SDK export of {n} spans failed: {e}"),
                }
                result
            }
        }
        fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
            self.inner.shutdown_with_timeout(timeout)
        }
        fn force_flush(&self) -> OTelSdkResult {
            self.inner.force_flush()
        }
        fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
            self.inner.set_resource(resource);
        }
    }

    /// opentelemetry-http's hyper client needs a tokio context in the thread
    /// that polls it, and the batch processor polls exports on its own plain
    /// thread (`futures_executor::block_on`). This runs each request on the
    /// runtime instead, as the SDK's default blocking reqwest client does
    /// with a runtime of its own.
    #[derive(Debug, Clone)]
    struct OnRuntime {
        client: opentelemetry_http::hyper::HyperClient,
        runtime: tokio::runtime::Handle,
    }

    impl opentelemetry_http::HttpClient for OnRuntime {
        fn send_bytes<'a, 'b>(
            &'a self,
            request: opentelemetry_http::Request<opentelemetry_http::Bytes>,
        ) -> Pin<
            Box<
                dyn Future<
                        Output = Result<
                            opentelemetry_http::Response<opentelemetry_http::Bytes>,
                            opentelemetry_http::HttpError,
                        >,
                    > + Send
                    + 'b,
            >,
        >
        where
            'a: 'b,
            Self: 'b,
        {
            let client = self.client.clone();
            let task = self.runtime.spawn(async move { client.send_bytes(request).await });
            Box::pin(async move { task.await.map_err(|e| Box::new(e) as opentelemetry_http::HttpError)? })
        }
    }

    fn time(ns: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(ns)
    }

    fn exporter(
        plan: &RunPlan,
        runtime: &tokio::runtime::Handle,
    ) -> Result<opentelemetry_otlp::SpanExporter, Box<dyn Error>> {
        let compression = crate::sdk::compression(plan.case.compression);
        let base = plan.endpoint.trim_end_matches('/');
        Ok(match plan.case.protocol {
            Protocol::Grpc => {
                let mut b = opentelemetry_otlp::SpanExporter::builder().with_tonic().with_endpoint(base);
                if let Some(c) = compression {
                    b = b.with_compression(c);
                }
                b.build()?
            }
            Protocol::HttpProtobuf => {
                let client = OnRuntime {
                    client: opentelemetry_http::hyper::HyperClient::with_default_connector(
                        Duration::from_secs(60),
                        None,
                    ),
                    runtime: runtime.clone(),
                };
                let mut b = opentelemetry_otlp::SpanExporter::builder()
                    .with_http()
                    .with_http_client(client)
                    .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                    .with_endpoint(format!("{base}/v1/traces"));
                if let Some(c) = compression {
                    b = b.with_compression(c);
                }
                b.build()?
            }
            Protocol::HttpJson => return Err("the official SDK's http/json is not built here".into()),
        })
    }

    /// Same shape as `fixtures::spans`: name, kind, times, ten attributes in
    /// order, one event, status OK, the fixture's ids and parents.
    fn span(tracer: &opentelemetry_sdk::trace::SdkTracer, next_id: &AtomicU64, ids: &FixtureIds) {
        let idx = ids.idx;
        let parent = SpanContext::new(
            TraceId::from_bytes(ids.trace_id),
            SpanId::from_bytes(ids.parent),
            TraceFlags::SAMPLED,
            ids.parent_remote,
            TraceState::NONE,
        );
        let cx = Context::new().with_remote_span_context(parent);
        next_id.store(u64::from_le_bytes(ids.span_id), Relaxed);
        let start = ids.start();
        let mut span = tracer
            .span_builder("GET /api/users/{id}")
            .with_kind(SpanKind::Server)
            .with_start_time(time(start))
            .with_attributes([
                KeyValue::new("http.request.method", "GET"),
                KeyValue::new("url.full", format!("https://shop.example.com/api/users/{idx}")),
                KeyValue::new("http.response.status_code", 200),
                KeyValue::new("server.address", "shop.example.com"),
                KeyValue::new("server.port", 443),
                KeyValue::new("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64)"),
                KeyValue::new("db.system", "postgresql"),
                KeyValue::new("cache.hit", true),
                KeyValue::new("duration_ms", 1.25),
                KeyValue::new("thread.id", (idx % 16) as i64),
            ])
            .start_with_context(tracer, &cx);
        use opentelemetry::trace::Span as _;
        span.add_event_with_timestamp(
            "cache.lookup",
            time(start + MS / 2),
            vec![KeyValue::new("cache.key", format!("user:{idx}"))],
        );
        span.set_status(Status::Ok);
        span.end_with_timestamp(time(ids.end()));
    }

    /// The main thread creates the spans; the processor's thread exports; a
    /// third thread drives the current-thread runtime that the transports
    /// (hyper's connections, tonic's channel) live on.
    pub(super) fn run(plan: &RunPlan) -> Result<RunReport, Box<dyn Error>> {
        let rt = Arc::new(tokio::runtime::Builder::new_current_thread().enable_all().build()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let driver = {
            let rt = rt.clone();
            std::thread::Builder::new().name("runtime".into()).spawn(move || {
                let _stopped_or_gone = rt.block_on(stopped);
            })?
        };
        let exported = Arc::new(AtomicU64::new(0));
        let next_id = Arc::new(AtomicU64::new(0));
        let provider = {
            // tonic's lazy channel spawns its worker on the runtime it is built in.
            let _in_runtime = rt.enter();
            let exporter = Counted { inner: exporter(plan, rt.handle())?, exported: exported.clone() };
            let config = BatchConfigBuilder::default().with_max_queue_size(QUEUE.max(plan.spans as usize)).build();
            let resource = opentelemetry_sdk::Resource::builder_empty()
                .with_attributes(
                    otlp_pipeline::fixtures::resource()
                        .attributes
                        .iter()
                        .map(|kv| KeyValue::new(kv.key.to_string(), any_to_string(&kv.value))),
                )
                .build();
            SdkTracerProvider::builder()
                .with_span_processor(BatchSpanProcessor::builder(exporter).with_batch_config(config).build())
                .with_resource(resource)
                .with_id_generator(FixtureIdGenerator(next_id.clone()))
                .build()
        };
        let tracer =
            provider.tracer_with_scope(InstrumentationScope::builder("otlp-lab").with_version("0.1.0").build());
        for ids in FixtureIdStream::default().take(usize::try_from(plan.spans)?) {
            span(&tracer, &next_id, &ids);
        }
        let shutdown = provider.shutdown_with_timeout(SHUTDOWN_DEADLINE);
        let _receiver_gone = stop.send(());
        driver.join().map_err(|_| "the runtime thread panicked")?;
        shutdown.map_err(|e| format!("SDK shutdown: {e}"))?;
        Ok(RunReport { created: plan.spans, exported: exported.load(Relaxed) })
    }

    /// The fixture's resource values are all strings.
    fn any_to_string(v: &otlp_pipeline::model::AnyValue) -> String {
        match v {
            otlp_pipeline::model::AnyValue::String(s) => s.to_string(),
            other => format!("{other:?}"),
        }
    }
}

/// What `exporter-compare` runs.
#[derive(Clone, Debug)]
pub struct CompareConfig {
    /// Runs per implementation, case and span count.
    pub repeats: u32,
    /// The smaller span count.
    pub low: u64,
    /// The larger span count.
    pub high: u64,
    /// Whose exporters.
    pub implementations: Vec<Implementation>,
    /// Protocols and codecs.
    pub cases: Vec<Case>,
    /// Where the JSON goes.
    pub out: PathBuf,
    /// The `otlp-lab` binary to run under valgrind (normally this one).
    pub exe: PathBuf,
}

/// One row of the results: an implementation and a case.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Whose exporter.
    pub implementation: Implementation,
    /// Protocol and codec.
    pub case: Case,
    /// Total instructions of each repeat at the low count.
    pub low: Vec<u64>,
    /// Total instructions of each repeat at the high count.
    pub high: Vec<u64>,
}

/// Median, min and max of a sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    /// The median (the mean of the middle two for an even count).
    pub median: f64,
    /// The smallest.
    pub min: f64,
    /// The largest.
    pub max: f64,
}

impl Spread {
    /// Of a non-empty sample.
    pub fn of(values: &[f64]) -> Option<Spread> {
        if values.is_empty() {
            return None;
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
        Some(Spread { median, min: v[0], max: v[n - 1] })
    }
}

impl Row {
    /// The marginal instructions per span of each repeat: (I_high − I_low) / (high − low).
    pub fn marginals(&self, low: u64, high: u64) -> Vec<f64> {
        let d = (high - low) as f64;
        self.low.iter().zip(&self.high).map(|(l, h)| (*h as f64 - *l as f64) / d).collect()
    }
}

/// The target of a case, if DESIGN.md sets one.
pub fn target(case: &Case) -> Option<f64> {
    let key = case.to_string();
    TARGETS.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// Reads the total instruction count (`Ir`) from a callgrind output file:
/// the `events:` line names the columns, `totals:` (or `summary:`) holds them.
pub fn callgrind_total(text: &str) -> Result<u64, String> {
    let events: Vec<&str> =
        text.lines().find_map(|l| l.strip_prefix("events:")).ok_or("no `events:` line")?.split_whitespace().collect();
    let column = events.iter().position(|e| *e == "Ir").ok_or("no Ir event")?;
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("totals:"))
        .or_else(|| text.lines().find_map(|l| l.strip_prefix("summary:")))
        .ok_or("no `totals:` or `summary:` line")?;
    let value = line.split_whitespace().nth(column).ok_or("the totals line has too few columns")?;
    value.parse().map_err(|e| format!("totals `{value}`: {e}"))
}

/// The results file (`profiles/exporter.json`, see /work/contracts.md).
pub fn to_json(cfg: &CompareConfig, rows: &[Row]) -> serde_json::Value {
    let rows: Vec<_> = rows
        .iter()
        .map(|r| {
            let m = Spread::of(&r.marginals(cfg.low, cfg.high)).unwrap_or(Spread { median: 0.0, min: 0.0, max: 0.0 });
            serde_json::json!({
                "implementation": r.implementation.result_name(),
                "protocol": r.case.protocol.to_string(),
                "compression": r.case.compression.to_string(),
                "marginal_per_span": {"median": m.median, "min": m.min, "max": m.max},
                "instructions_low": r.low,
                "instructions_high": r.high,
            })
        })
        .collect();
    let targets: serde_json::Map<String, serde_json::Value> =
        TARGETS.iter().map(|(k, v)| ((*k).to_owned(), serde_json::json!(*v as u64))).collect();
    serde_json::json!({
        "spans_low": cfg.low,
        "spans_high": cfg.high,
        "repeats": cfg.repeats,
        "rows": rows,
        "targets": targets,
        "measure": "callgrind Ir of the whole `otlp-lab exporter-run` process, every thread",
    })
}

/// The table `exporter-compare` prints: per case, each implementation's
/// median (min–max), the target and verdict for ours, and SDK / ours.
pub fn table(cfg: &CompareConfig, rows: &[Row]) -> String {
    use std::fmt::Write as _;
    let spread = |imp: Implementation, case: &Case| {
        rows.iter()
            .find(|r| r.implementation == imp && r.case == *case)
            .and_then(|r| Spread::of(&r.marginals(cfg.low, cfg.high)))
    };
    let cell = |s: Option<Spread>| {
        s.map_or_else(|| "-".to_owned(), |s| format!("{:.0} ({:.0}–{:.0})", s.median, s.min, s.max))
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "instructions per span, ({} − {} spans) / {}, median (min–max) of {} runs",
        cfg.high,
        cfg.low,
        cfg.high - cfg.low,
        cfg.repeats
    );
    let _ = writeln!(
        out,
        "{:<20} {:>24} {:>24} {:>9} {:>8} {:>7}",
        "case", "ours", "official SDK", "SDK/ours", "target", "ours"
    );
    for case in &cfg.cases {
        let (o, s) = (spread(Implementation::Ours, case), spread(Implementation::Sdk, case));
        let ratio = match (o, s) {
            (Some(o), Some(s)) if o.median > 0.0 => format!("{:.1}×", s.median / o.median),
            _ => "-".to_owned(),
        };
        let (t, verdict) = match (target(case), o) {
            (Some(t), Some(o)) => (format!("{t:.0}"), if o.median <= t { "PASS" } else { "MISS" }),
            (Some(t), None) => (format!("{t:.0}"), "-"),
            (None, _) => ("-".to_owned(), "-"),
        };
        let _ = writeln!(
            out,
            "{:<20} {:>24} {:>24} {:>9} {:>8} {:>7}",
            case.to_string(),
            cell(o),
            cell(s),
            ratio,
            t,
            verdict
        );
    }
    out
}

/// Checks that valgrind runs, and says how to get it when it does not.
fn valgrind_version() -> Result<String, Box<dyn Error>> {
    let out = Command::new("valgrind").arg("--version").output().map_err(|e| {
        format!(
            "valgrind is needed for exporter-compare and could not be run ({e}): install it (apt-get install valgrind, or scripts/run_benchmarks.sh exporter installs it)"
        )
    })?;
    if !out.status.success() {
        return Err(format!("`valgrind --version` failed ({})", out.status).into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// One callgrind run of `exporter-run`; returns the total instructions.
fn callgrind_run(cfg: &CompareConfig, plan: &RunPlan, out_file: &Path) -> Result<u64, Box<dyn Error>> {
    let _stale = std::fs::remove_file(out_file);
    let output = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out_file.display()))
        .arg(&cfg.exe)
        .args(["exporter-run", "--implementation", plan.implementation.cli_name()])
        .args(["--spans", &plan.spans.to_string(), "--endpoint", &plan.endpoint])
        .args(["--protocol", &plan.case.protocol.to_string(), "--compression", &plan.case.compression.to_string()])
        .output()
        .map_err(|e| format!("cannot run valgrind: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        // Valgrind's own lines start with ==pid==; the run's error is among the others.
        let tail: Vec<&str> = stderr.lines().filter(|l| !l.starts_with("==")).collect();
        return Err(format!(
            "exporter-run {} {} with {} spans failed under callgrind ({}): {}",
            plan.implementation,
            plan.case,
            plan.spans,
            output.status,
            tail.join("\n")
        )
        .into());
    }
    let text = std::fs::read_to_string(out_file).map_err(|e| format!("{}: {e}", out_file.display()))?;
    let total = callgrind_total(&text).map_err(|e| format!("{}: {e}", out_file.display()))?;
    Ok(total)
}

/// Runs the comparison: a receiver here (not under valgrind), every
/// implementation × case × span count × repeat under callgrind in a child
/// process, the receiver's count checked after each; writes `cfg.out` and
/// returns the rows. Progress goes to stderr.
pub fn compare(cfg: &CompareConfig) -> Result<Vec<Row>, Box<dyn Error>> {
    if cfg.repeats == 0 {
        return Err("--repeats must be at least 1".into());
    }
    if cfg.low == 0 || cfg.high <= cfg.low {
        return Err(format!("need 0 < --low < --high, got {} and {}", cfg.low, cfg.high).into());
    }
    if cfg.implementations.is_empty() || cfg.cases.is_empty() {
        return Err("nothing to run: give at least one implementation and one case".into());
    }
    for imp in &cfg.implementations {
        imp.check_available()?;
    }
    let version = valgrind_version()?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let receiver = Receiver::start(ReceiverConfig {
            grpc_addr: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
            ..ReceiverConfig::default()
        })
        .await
        .map_err(|e| format!("cannot start the loopback receiver: {e}"))?;
        let http = receiver.http_endpoint();
        let grpc = receiver.grpc_endpoint().ok_or("the receiver has no gRPC endpoint")?;
        let dir = std::env::temp_dir().join(format!("otlp-lab-exporter-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let total = cfg.implementations.len() * cfg.cases.len() * 2 * cfg.repeats as usize;
        eprintln!("otlp-lab: {version}; receiver {http} (HTTP), {grpc} (gRPC); {total} callgrind runs");
        let started = Instant::now();
        let mut rows = Vec::new();
        let mut done = 0;
        for &implementation in &cfg.implementations {
            for &case in &cfg.cases {
                let mut row = Row { implementation, case, low: Vec::new(), high: Vec::new() };
                for repeat in 1..=cfg.repeats {
                    for spans in [cfg.low, cfg.high] {
                        done += 1;
                        let endpoint = if case.protocol == Protocol::Grpc { grpc.clone() } else { http.clone() };
                        let plan = RunPlan { implementation, spans, endpoint, case };
                        let before = receiver.counts().spans;
                        let t = Instant::now();
                        let (cfg2, plan2, file) = (cfg.clone(), plan.clone(), dir.join("callgrind.out"));
                        let ir = tokio::task::spawn_blocking(move || {
                            callgrind_run(&cfg2, &plan2, &file).map_err(|e| e.to_string())
                        })
                        .await
                        .map_err(|e| format!("the run's thread failed: {e}"))??;
                        let got = wait_for_spans(&receiver, before + spans).await - before;
                        if got != spans {
                            return Err(format!(
                                "{implementation} {case} {spans} spans: the receiver got {got} spans"
                            )
                            .into());
                        }
                        eprintln!(
                            "otlp-lab: [{done}/{total}] {:<4} {:<20} {spans:>7} spans, run {repeat}: {ir} Ir ({:.1} s; {:.0} s so far)",
                            implementation.cli_name(),
                            case.to_string(),
                            t.elapsed().as_secs_f64(),
                            started.elapsed().as_secs_f64()
                        );
                        if spans == cfg.low { row.low.push(ir) } else { row.high.push(ir) }
                    }
                }
                rows.push(row);
            }
        }
        let _cleaned = std::fs::remove_dir_all(&dir);
        receiver.shutdown().await;
        if let Some(parent) = cfg.out.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        let mut json = to_json(cfg, &rows);
        json["valgrind"] = serde_json::json!(version);
        json["seconds"] = serde_json::json!(started.elapsed().as_secs_f64().round());
        let text = serde_json::to_string_pretty(&json)?;
        std::fs::write(&cfg.out, text + "\n").map_err(|e| format!("{}: {e}", cfg.out.display()))?;
        eprintln!("otlp-lab: {total} runs in {:.0} s; wrote {}", started.elapsed().as_secs_f64(), cfg.out.display());
        Ok(rows)
    })
}

/// The receiver's span count once it reaches `want`, or after 5 s what it
/// has (the run has exited, so its requests were answered already).
async fn wait_for_spans(receiver: &Receiver, want: u64) -> u64 {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let got = receiver.counts().spans;
        if got >= want || Instant::now() >= until {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_callgrind_totals_and_names_bad_input() {
        let text = "version: 1\ncreator: callgrind-3.22\nevents: Ir\nfn=main\n1 5\nsummary: 123456\ntotals: 123456\n";
        assert_eq!(callgrind_total(text), Ok(123_456));
        assert_eq!(callgrind_total("events: Dr Ir\ntotals: 7 42\n"), Ok(42));
        assert!(callgrind_total("events: Ir\n").expect_err("no totals").contains("totals"));
        assert!(callgrind_total("totals: 5\n").expect_err("no events").contains("events"));
    }

    #[test]
    fn marginals_and_spread() {
        let row = Row {
            implementation: Implementation::Ours,
            case: "grpc+zstd".parse().expect("valid"),
            low: vec![1_000_000, 1_000_100],
            high: vec![5_000_000, 5_200_100],
        };
        assert_eq!(row.marginals(100, 1100), vec![4000.0, 4200.0]);
        let s = Spread::of(&[3.0, 1.0, 2.0]).expect("non-empty");
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        assert_eq!(Spread::of(&[1.0, 2.0]).map(|s| s.median), Some(1.5));
    }

    #[test]
    fn names_parse_or_say_why_not() {
        assert_eq!("ours".parse::<Implementation>().ok(), Some(Implementation::Ours));
        assert!("jaeger".parse::<Implementation>().expect_err("bad").to_string().contains("ours or sdk"));
        for c in DEFAULT_CASES {
            assert_eq!(c.parse::<Case>().expect(c).to_string(), c);
        }
        for bad in ["grpc", "http/json+none", "grpc+lz4", "grpc+zstd:3", "thrift+none"] {
            assert!(bad.parse::<Case>().expect_err(bad).to_string().contains(bad), "{bad}");
        }
        assert_eq!(target(&"http/protobuf+zstd".parse().expect("valid")), Some(8000.0));
    }
}
