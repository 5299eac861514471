//! The whole-exporter runner's SDK side (`crate::exporter_run`): the
//! standard fixture's spans created one by one through the SDK's tracer,
//! `SdkTracerProvider` with its `BatchSpanProcessor` (its own export thread,
//! batches of 512, 5 s delay) and the OTLP span exporter; the same spans
//! through the SDK's tracer into our span processor and exporter
//! (`sdk-ours`); and the `tracing` fixture (`crate::stacks::tracing_span`)
//! through tracing-opentelemetry into the SDK's pipeline (`tracing-otel`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer as _,
    TracerProvider as _,
};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{IdGenerator, SdkTracerProvider};
use otlp_pipeline::otel::OtlpSpanProcessor;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;

use super::exporter::{Instrumented, SdkCounters, Transport};
use super::providers::{SdkConfig, tracer_provider};
use super::runtime::IoRuntime;
use super::{SdkError, resource};
use otlp_pipeline::fixtures::{FixtureIdStream, FixtureIds};

const MS: u64 = 1_000_000;

/// Spans per export: the SDK's default batch.
const BATCH: usize = 512;

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

fn time(ns: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(ns)
}

/// Same shape as `fixtures::spans`: name, kind, times, ten attributes in
/// order, one event, status OK, the fixture's ids and parents.
fn span(tracer: &opentelemetry_sdk::trace::SdkTracer, next_id: &AtomicU64, ids: &FixtureIds) {
    let idx = ids.idx;
    let cx = parent_context(ids);
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

/// The fixture's parent as the SDK's context.
fn parent_context(ids: &FixtureIds) -> Context {
    let parent = SpanContext::new(
        TraceId::from_bytes(ids.trace_id),
        SpanId::from_bytes(ids.parent),
        TraceFlags::SAMPLED,
        ids.parent_remote,
        TraceState::NONE,
    );
    Context::new().with_remote_span_context(parent)
}

/// The scope every run's tracer has.
fn scope() -> InstrumentationScope {
    InstrumentationScope::builder("otlp-lab").with_version("0.1.0").build()
}

/// Creates `spans` fixture spans through the SDK and exports them over
/// `transport`; returns the spans its exports delivered. The main thread
/// creates the spans, the processor's thread exports, and the I/O runtime's
/// thread drives the transports (hyper's connections, tonic's channel).
pub fn run_fixture_spans(transport: &Transport, spans: u64, deadline: Duration) -> Result<u64, SdkError> {
    let count = usize::try_from(spans)?;
    let io = IoRuntime::start()?;
    let counters = Arc::new(SdkCounters::default());
    let next_id = Arc::new(AtomicU64::new(0));
    let config = SdkConfig { transport: transport.clone(), batch: BATCH, queue: QUEUE.max(count) };
    let provider = {
        // tonic's lazy channel spawns its worker on the runtime it is built in.
        let _in_runtime = io.handle.enter();
        let exporter = Instrumented::new(transport.span_exporter()?, &io.handle, None, &counters);
        tracer_provider(exporter, &config).with_id_generator(FixtureIdGenerator(next_id.clone())).build()
    };
    let tracer = provider.tracer_with_scope(scope());
    for ids in FixtureIdStream::default().take(count) {
        span(&tracer, &next_id, &ids);
    }
    let shutdown = provider.shutdown_with_timeout(deadline);
    if !io.stop() {
        return Err(SdkError::RuntimeThread);
    }
    shutdown?;
    Ok(counters.spans.load(Relaxed))
}

/// Creates `spans` fixture spans through the `tracing` macros
/// (`crate::stacks::tracing_span`), turned into SDK spans by
/// tracing-opentelemetry's layer with its defaults (what a service gets from
/// `tracing_opentelemetry::layer().with_tracer(..)`), then through the same
/// `BatchSpanProcessor` and OTLP exporter as [`run_fixture_spans`]; the
/// remote parent is set with `OpenTelemetrySpanExt::set_parent`. Returns
/// the spans its exports delivered.
pub fn run_tracing_spans(transport: &Transport, spans: u64, deadline: Duration) -> Result<u64, SdkError> {
    let count = usize::try_from(spans)?;
    let io = IoRuntime::start()?;
    let counters = Arc::new(SdkCounters::default());
    let config = SdkConfig { transport: transport.clone(), batch: BATCH, queue: QUEUE.max(count) };
    let provider = {
        // tonic's lazy channel spawns its worker on the runtime it is built in.
        let _in_runtime = io.handle.enter();
        let exporter = Instrumented::new(transport.span_exporter()?, &io.handle, None, &counters);
        tracer_provider(exporter, &config).build()
    };
    let tracer = provider.tracer_with_scope(scope());
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::INFO)
        .with(tracing_opentelemetry::layer().with_tracer(tracer));
    crate::stacks::install(subscriber)?;
    let mut refused = None;
    for ids in FixtureIdStream::default().take(count) {
        crate::stacks::tracing_span(&ids, |span| {
            if let Err(e) = span.set_parent(parent_context(&ids)) {
                refused.get_or_insert(e.to_string());
            }
        });
    }
    let shutdown = provider.shutdown_with_timeout(deadline);
    if !io.stop() {
        return Err(SdkError::RuntimeThread);
    }
    if let Some(e) = refused {
        return Err(SdkError::Parent(e));
    }
    shutdown?;
    Ok(counters.spans.load(Relaxed))
}

/// Creates `spans` fixture spans through the SDK's tracer, exactly as
/// [`run_fixture_spans`] does, into our span processor
/// (`otlp_pipeline::otel::OtlpSpanProcessor`) and `exporter`, our pipeline,
/// which this call shuts down. `rt` runs the exporter (current-thread, as
/// `ours` does); the spans are created inside it, with a turn for the
/// batcher every `crate::stacks::YIELD_EVERY` spans. Returns what our exporter
/// says it exported, or the error it ended with.
pub fn run_sdk_ours<E>(
    rt: &tokio::runtime::Runtime,
    exporter: otlp_pipeline::Exporter,
    spans: u64,
    finish: impl AsyncFnOnce(otlp_pipeline::Exporter) -> Result<u64, E>,
) -> Result<Result<u64, E>, SdkError> {
    let count = usize::try_from(spans)?;
    rt.block_on(async {
        let next_id = Arc::new(AtomicU64::new(0));
        let handle = exporter.handle();
        let provider = SdkTracerProvider::builder()
            .with_resource(resource())
            .with_span_processor(OtlpSpanProcessor::new(exporter.handle()))
            .with_id_generator(FixtureIdGenerator(next_id.clone()))
            .build();
        let tracer = provider.tracer_with_scope(scope());
        for (i, ids) in FixtureIdStream::default().take(count).enumerate() {
            span(&tracer, &next_id, &ids);
            // Our processor never waits: give the batcher its turn (see
            // `crate::stacks::YIELD_EVERY`).
            if (i + 1) % crate::stacks::YIELD_EVERY == 0 {
                crate::stacks::producer_turn(&handle).await;
            }
        }
        provider.shutdown()?;
        Ok(finish(exporter).await)
    })
}
