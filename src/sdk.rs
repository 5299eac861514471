//! The official Rust SDK (`opentelemetry_sdk` + `opentelemetry-otlp` 0.33)
//! set up the way its documentation sets it up, for the side-by-side load
//! run (feature `official-sdk`).
//!
//! How the SDK runs, from its 0.33 sources: `BatchSpanProcessor` and
//! `BatchLogProcessor` each own a dedicated thread that drains a bounded
//! channel (`try_send` from the caller: a full queue drops the item and only
//! counts it, without telling the caller) and calls the exporter with
//! `futures_executor::block_on`. `PeriodicReader` has its own thread too.
//! The hyper client (`opentelemetry-http`) spawns its connection tasks with
//! `TokioExecutor` and times requests with `tokio::time`, and tonic's channel
//! spawns its worker on tokio: both need a tokio runtime that is being
//! driven, which a `block_on` on the processor thread is not. So
//! [`SdkProviders`] starts one current-thread tokio runtime on a thread of
//! its own (what an application's `#[tokio::main]` runtime gives the SDK)
//! and every exporter call is polled inside its context.
//!
//! Every exporter is wrapped to time each export call (one latency sample
//! per request, as for ours) and to count the spans and log records of the
//! calls that succeeded.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant, SystemTime};

use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{Span as _, SpanKind, Status, TraceFlags, Tracer as _, TracerProvider as _};
use opentelemetry::{KeyValue, trace};
use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _, WithTonicConfig as _};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{BatchLogProcessor, LogBatch, LogExporter, SdkLoggerProvider};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider, SpanData, SpanExporter};

use crate::load::{Implementation, LatencyRecorder, LoadError, OpenLoop, Pace, RunResult, Signals, StepSpec, Usage};
use crate::scenarios::{BLOCK_ITEMS, BLOCK_SPANS, NS_PER_MS};
use otlp_pipeline::compress::Compression;
use otlp_pipeline::exporter::Protocol;
use otlp_pipeline::fixtures::{self, SplitMix64};

/// How the SDK's exporters are set up.
#[derive(Clone, Debug)]
pub struct SdkConfig {
    /// Base URL (`/v1/traces` and so on are appended for OTLP/HTTP).
    pub endpoint: String,
    /// http/protobuf or grpc (the SDK's http/json feature is not built).
    pub protocol: Protocol,
    /// none, gzip or zstd (the SDK picks the zstd level itself).
    pub compression: Compression,
    /// Spans and log records per export (`max_export_batch_size`).
    pub batch: usize,
    /// The span and log processors' queues (`max_queue_size`; never below `batch`).
    pub queue: usize,
}

/// Why the SDK could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SdkError {
    /// A protocol this build of the SDK has no exporter for.
    #[error("the official SDK is built without {0} here (http/protobuf and grpc only)")]
    Protocol(Protocol),
    /// The exporter refused its settings.
    #[error("building the SDK's OTLP exporter: {0}")]
    Build(#[from] opentelemetry_otlp::ExporterBuildError),
    /// The tokio runtime of the exporters could not start.
    #[error("starting the SDK's tokio runtime: {0}")]
    Runtime(#[from] std::io::Error),
}

/// What the wrapped exporters saw.
#[derive(Debug, Default)]
pub struct SdkCounters {
    /// Spans in export calls that succeeded.
    pub spans: AtomicU64,
    /// Log records in export calls that succeeded.
    pub logs: AtomicU64,
    /// Metric export calls that succeeded.
    pub metric_exports: AtomicU64,
}

/// A tracer, meter and logger provider exporting over OTLP, with the
/// runtime their exporters need.
#[derive(Debug)]
pub struct SdkProviders {
    /// Spans: `BatchSpanProcessor` + the OTLP span exporter.
    pub tracer: SdkTracerProvider,
    /// Metrics: `PeriodicReader` + the OTLP metric exporter.
    pub meter: SdkMeterProvider,
    /// Logs: `BatchLogProcessor` + the OTLP log exporter.
    pub logger: SdkLoggerProvider,
    /// Export latency, one sample per export call.
    pub latency: Arc<LatencyRecorder>,
    /// Items the exporters delivered.
    pub counters: Arc<SdkCounters>,
    io: IoRuntime,
}

impl SdkProviders {
    /// Builds the three providers with their batch processors and OTLP exporters.
    pub fn start(config: &SdkConfig) -> Result<SdkProviders, SdkError> {
        let io = IoRuntime::start()?;
        let latency = Arc::new(LatencyRecorder::new());
        let counters = Arc::new(SdkCounters::default());
        let wrap = Wrap { io: &io.handle, latency: &latency, counters: &counters };
        let resource = resource();
        let base = config.endpoint.trim_end_matches('/');
        let compression = compression(config.compression);
        // tonic's channel spawns its worker when it is built: build inside the runtime.
        let _entered = io.handle.enter();
        let (spans, metrics, logs) = match config.protocol {
            Protocol::HttpProtobuf => {
                let proto = opentelemetry_otlp::Protocol::HttpBinary;
                let mut s = opentelemetry_otlp::SpanExporter::builder()
                    .with_http()
                    .with_protocol(proto)
                    .with_endpoint(format!("{base}/v1/traces"));
                let mut m = opentelemetry_otlp::MetricExporter::builder()
                    .with_http()
                    .with_protocol(proto)
                    .with_endpoint(format!("{base}/v1/metrics"))
                    .with_temporality(Temporality::Cumulative);
                let mut l = opentelemetry_otlp::LogExporter::builder()
                    .with_http()
                    .with_protocol(proto)
                    .with_endpoint(format!("{base}/v1/logs"));
                if let Some(c) = compression {
                    s = s.with_compression(c);
                    m = m.with_compression(c);
                    l = l.with_compression(c);
                }
                (s.build()?, m.build()?, l.build()?)
            }
            Protocol::Grpc => {
                let mut s = opentelemetry_otlp::SpanExporter::builder().with_tonic().with_endpoint(base);
                let mut m = opentelemetry_otlp::MetricExporter::builder()
                    .with_tonic()
                    .with_endpoint(base)
                    .with_temporality(Temporality::Cumulative);
                let mut l = opentelemetry_otlp::LogExporter::builder().with_tonic().with_endpoint(base);
                if let Some(c) = compression {
                    s = s.with_compression(c);
                    m = m.with_compression(c);
                    l = l.with_compression(c);
                }
                (s.build()?, m.build()?, l.build()?)
            }
            other => return Err(SdkError::Protocol(other)),
        };
        // The SDK's defaults (5 s delay), with the batch size and queue of the step.
        let batch = BatchConfigBuilder::default()
            .with_max_export_batch_size(config.batch)
            .with_max_queue_size(config.queue.max(config.batch))
            .build();
        let tracer = SdkTracerProvider::builder()
            .with_resource(resource.clone())
            .with_span_processor(BatchSpanProcessor::new(wrap.timed(spans), batch))
            .build();
        let meter = SdkMeterProvider::builder()
            .with_resource(resource.clone())
            .with_reader(PeriodicReader::builder(wrap.timed(metrics)).build())
            .build();
        let log_processor = BatchLogProcessor::builder(wrap.timed(logs))
            .with_batch_config(
                opentelemetry_sdk::logs::BatchConfigBuilder::default()
                    .with_max_export_batch_size(config.batch)
                    .with_max_queue_size(config.queue.max(config.batch))
                    .build(),
            )
            .build();
        let logger = SdkLoggerProvider::builder().with_resource(resource).with_log_processor(log_processor).build();
        drop(_entered);
        Ok(SdkProviders { tracer, meter, logger, latency, counters, io })
    }

    /// Shuts the providers down (each exports what it still holds; the
    /// blocking calls run on this thread, outside any runtime), then the
    /// exporters' runtime.
    pub fn shutdown(self) {
        // Errors here mean items not delivered, which the receiver's counts show.
        let _ = self.tracer.shutdown();
        let _ = self.logger.shutdown();
        let _ = self.meter.shutdown();
        self.io.stop();
    }
}

/// Our codec as the SDK's: it has no levels, so ours at its default level
/// is the fair comparison.
pub(crate) fn compression(c: Compression) -> Option<opentelemetry_otlp::Compression> {
    match c {
        Compression::None => None,
        Compression::Gzip { .. } => Some(opentelemetry_otlp::Compression::Gzip),
        Compression::Zstd { .. } => Some(opentelemetry_otlp::Compression::Zstd),
    }
}

/// The standard resource (fixtures::resource), as SDK attributes.
fn resource() -> opentelemetry_sdk::Resource {
    let attrs = [
        ("service.name", "checkout"),
        ("service.version", "1.4.2"),
        ("host.name", "node-17"),
        ("deployment.environment", "prod"),
        ("telemetry.sdk.language", "rust"),
    ];
    opentelemetry_sdk::Resource::builder_empty().with_attributes(attrs.map(|(k, v)| KeyValue::new(k, v))).build()
}

/// A current-thread tokio runtime driven by a thread of its own.
#[derive(Debug)]
struct IoRuntime {
    handle: tokio::runtime::Handle,
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl IoRuntime {
    fn start() -> std::io::Result<IoRuntime> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let handle = rt.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new().name("sdk-exporter-io".into()).spawn(move || {
            rt.block_on(async {
                let _ = stopped.await;
            });
        })?;
        Ok(IoRuntime { handle, stop, thread })
    }

    fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

/// Polls `fut` inside the runtime's context (the guard is held per poll,
/// never across an await, so the future stays `Send`).
async fn in_runtime<F: Future>(io: &tokio::runtime::Handle, fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| {
        let _entered = io.enter();
        fut.as_mut().poll(cx)
    })
    .await
}

/// An SDK exporter, timed per call and run in the I/O runtime.
#[derive(Debug)]
struct Timed<E> {
    inner: E,
    io: tokio::runtime::Handle,
    latency: Arc<LatencyRecorder>,
    counters: Arc<SdkCounters>,
}

/// What every [`Timed`] exporter of one set of providers shares.
struct Wrap<'a> {
    io: &'a tokio::runtime::Handle,
    latency: &'a Arc<LatencyRecorder>,
    counters: &'a Arc<SdkCounters>,
}

impl Wrap<'_> {
    fn timed<E>(&self, inner: E) -> Timed<E> {
        Timed { inner, io: self.io.clone(), latency: self.latency.clone(), counters: self.counters.clone() }
    }
}

impl<E: SpanExporter> SpanExporter for Timed<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let n = batch.len() as u64;
        let start = Instant::now();
        let result = in_runtime(&self.io, self.inner.export(batch)).await;
        self.latency.record(start.elapsed());
        if result.is_ok() {
            self.counters.spans.fetch_add(n, Relaxed);
        }
        result
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let _entered = self.io.enter();
        self.inner.shutdown_with_timeout(timeout)
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }
    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.inner.set_resource(resource);
    }
}

impl<E: LogExporter> LogExporter for Timed<E> {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        let n = batch.iter().count() as u64;
        let start = Instant::now();
        let result = in_runtime(&self.io, self.inner.export(batch)).await;
        self.latency.record(start.elapsed());
        if result.is_ok() {
            self.counters.logs.fetch_add(n, Relaxed);
        }
        result
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let _entered = self.io.enter();
        self.inner.shutdown_with_timeout(timeout)
    }
    fn event_enabled(&self, level: Severity, target: &str, name: Option<&str>) -> bool {
        self.inner.event_enabled(level, target, name)
    }
    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.inner.set_resource(resource);
    }
}

impl<E: PushMetricExporter> PushMetricExporter for Timed<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let start = Instant::now();
        let result = in_runtime(&self.io, self.inner.export(metrics)).await;
        self.latency.record(start.elapsed());
        if result.is_ok() {
            self.counters.metric_exports.fetch_add(1, Relaxed);
        }
        result
    }
    fn force_flush(&self) -> OTelSdkResult {
        let _entered = self.io.enter();
        self.inner.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let _entered = self.io.enter();
        self.inner.shutdown_with_timeout(timeout)
    }
    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}

// ---------------------------------------------------------------------------
// The production mix through the SDK's API.

/// One producer's instruments.
#[derive(Clone)]
struct Instruments {
    tracer: opentelemetry_sdk::trace::SdkTracer,
    logger: opentelemetry_sdk::logs::SdkLogger,
    gauge: opentelemetry::metrics::Gauge<f64>,
    counter: opentelemetry::metrics::Counter<u64>,
    histogram: opentelemetry::metrics::Histogram<f64>,
}

impl Instruments {
    fn new(p: &SdkProviders) -> Self {
        let meter = p.meter.meter("otlp-lab");
        Instruments {
            tracer: p.tracer.tracer("otlp-lab"),
            logger: p.logger.logger("otlp-lab"),
            gauge: meter.f64_gauge("system.cpu.utilization").with_unit("1").build(),
            counter: meter.u64_counter("system.cpu.time").with_unit("ms").build(),
            histogram: meter
                .f64_histogram("http.server.request.duration")
                .with_unit("ms")
                .with_boundaries(fixtures::DEFAULT_BOUNDS.to_vec())
                .build(),
        }
    }
}

fn at(ns: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_nanos(ns)
}

/// The SDK's twin of the production block: 7 server spans like
/// `scenarios::api_span`, two measurements of one instrument (gauge, counter
/// or histogram by block), one INFO log record tied to a span.
fn sdk_block(i: &Instruments, rng: &mut SplitMix64, worker: u64, block: u64) -> Signals {
    let seq = block * BLOCK_ITEMS;
    for j in 0..BLOCK_SPANS {
        let start = fixtures::BASE_TIME_NS + (seq + j) * NS_PER_MS;
        let mut span = i
            .tracer
            .span_builder("GET /api/items/{id}")
            .with_kind(SpanKind::Server)
            .with_start_time(at(start))
            .with_attributes([
                KeyValue::new("http.request.method", "GET"),
                KeyValue::new("http.route", "/api/items/{id}"),
                KeyValue::new("url.path", format!("/api/items/{}", rng.below(10_000))),
                KeyValue::new("http.response.status_code", 200),
                KeyValue::new("worker.id", worker as i64),
            ])
            .start(&i.tracer);
        span.set_status(Status::Ok);
        span.end_with_timestamp(at(start + NS_PER_MS));
    }
    for cpu in 0..2i64 {
        let attrs = [KeyValue::new("host.name", "node-17"), KeyValue::new("cpu", cpu)];
        match block % 3 {
            0 => i.gauge.record(rng.unit_f64(), &attrs),
            1 => i.counter.add(rng.below(1_000), &attrs),
            _ => i.histogram.record(rng.unit_f64() * 100.0, &attrs),
        }
    }
    let t = at(fixtures::BASE_TIME_NS + seq * NS_PER_MS);
    let mut record = i.logger.create_log_record();
    record.set_timestamp(t);
    record.set_observed_timestamp(t);
    record.set_severity_number(Severity::Info);
    record.set_severity_text("INFO");
    record.set_body(AnyValue::from(format!(
        "order {:06} placed by user {seq:05}, payment accepted",
        rng.below(1_000_000)
    )));
    record.add_attribute("code.function", "checkout::place_order");
    let mut trace_id = [0u8; 16];
    trace_id[..8].copy_from_slice(&rng.next_u64().max(1).to_le_bytes());
    trace_id[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
    let span_id = rng.next_u64().max(1).to_le_bytes();
    record.set_trace_context(
        trace::TraceId::from_bytes(trace_id),
        trace::SpanId::from_bytes(span_id),
        Some(TraceFlags::SAMPLED),
    );
    i.logger.emit(record);
    Signals { spans: BLOCK_SPANS, points: 2, logs: 1 }
}

async fn sdk_producer(i: Instruments, worker: u64, pace: Pace) -> Signals {
    let mut rng = SplitMix64::new(fixtures::SEED.wrapping_add(worker));
    let (mut offered, mut block) = (Signals::default(), 0u64);
    match pace {
        Pace::Closed { deadline } => {
            while Instant::now() < deadline {
                offered = offered.plus(sdk_block(&i, &mut rng, worker, block));
                block += 1;
                // The SDK never makes a caller wait: yield so that the other producers run.
                tokio::task::yield_now().await;
            }
        }
        Pace::Open { deadline, blocks_per_tick } => {
            let mut pacer = OpenLoop::new(deadline, blocks_per_tick);
            while pacer.next_block().await {
                offered = offered.plus(sdk_block(&i, &mut rng, worker, block));
                block += 1;
            }
        }
    }
    offered
}

/// Runs one step of the production mix through the SDK in this process:
/// producers on a current-thread runtime, as ours run.
pub(crate) fn run_production(spec: &StepSpec, endpoint: &str) -> Result<RunResult, LoadError> {
    let config = SdkConfig {
        endpoint: endpoint.to_owned(),
        protocol: spec.protocol,
        compression: spec.compression,
        batch: spec.batch,
        queue: spec.queue,
    };
    let providers = SdkProviders::start(&config).map_err(|e| LoadError::Invalid(e.to_string()))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| LoadError::Io { what: "starting a tokio runtime".into(), source })?;
    let start = Instant::now();
    let pace = Pace::new(spec, start);
    let offered = rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..spec.workers {
            tasks.spawn(sdk_producer(Instruments::new(&providers), worker, pace));
        }
        let mut offered = Signals::default();
        while let Some(joined) = tasks.join_next().await {
            let o = joined.map_err(|e| LoadError::Producer(e.to_string()))?;
            offered = offered.plus(o);
        }
        Ok::<_, LoadError>(offered)
    })?;
    drop(rt);
    let produced = start.elapsed();
    let (latency, counters) = (providers.latency.clone(), providers.counters.clone());
    providers.shutdown();
    let wall = start.elapsed();
    let metrics_delivered = counters.metric_exports.load(Relaxed) > 0;
    let delivered = Signals {
        spans: counters.spans.load(Relaxed),
        points: if metrics_delivered { offered.points } else { 0 },
        logs: counters.logs.load(Relaxed),
    };
    let lost = offered.total().saturating_sub(delivered.total());
    let mut dropped = std::collections::BTreeMap::new();
    if lost > 0 {
        dropped.insert("unreported".to_owned(), lost);
    }
    let latency = latency.summary();
    Ok(RunResult {
        implementation: Implementation::Sdk,
        spec: spec.clone(),
        duration_s: wall.as_secs_f64(),
        offered,
        delivered,
        exported: delivered.total(),
        dropped,
        requests: latency.count,
        latency,
        usage: Usage::now(),
        receiver_cpu_s: None,
        offered_per_s: offered.total() as f64 / produced.as_secs_f64().max(1e-9),
        notes: vec![
            "the SDK drops silently (a full BatchSpanProcessor/BatchLogProcessor queue): dropped = offered - delivered"
                .to_owned(),
            "metric items are measurements, aggregated by the SDK into a few points per export".to_owned(),
        ],
    })
}
