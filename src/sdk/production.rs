//! The production mix through the SDK, for the load runner: the SDK's twin
//! of `crate::scenarios`' production block through its API (`sdk`), and
//! the block as a service instrumented with `tracing` emits it through
//! tracing-opentelemetry (`tracing-otel`), from producers paced as ours are
//! (`crate::harness::Pace`).

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant, SystemTime};

use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{Span as _, SpanKind, Status, TraceFlags, Tracer as _, TracerProvider as _};
use opentelemetry::{KeyValue, trace};

use super::{SdkConfig, SdkError, SdkProviders};
use crate::harness::{LatencySummary, Pace, Signals, produce_blocks};
use crate::scenarios::{self, BLOCK_ITEMS, BLOCK_SPANS, NS_PER_MS};
use otlp_pipeline::fixtures::{self, SplitMix64};

/// How the producers offer load.
#[derive(Clone, Copy, Debug)]
pub struct ProductionPlan {
    /// Producers.
    pub workers: u64,
    /// How long they offer.
    pub duration: Duration,
    /// Items per second between them (open loop), or as fast as they can.
    pub rate: Option<f64>,
}

/// What one run of the production mix through the SDK did.
#[derive(Clone, Copy, Debug)]
pub struct ProductionRun {
    /// Items offered, per signal (metric items are measurements).
    pub offered: Signals,
    /// Items the exporters delivered: spans and log records counted per
    /// successful export; measurements all, once a metric export succeeded
    /// (the SDK aggregates them into a few points).
    pub delivered: Signals,
    /// Export latency, one sample per export call.
    pub latency: LatencySummary,
    /// Time the producers offered load.
    pub produced: Duration,
    /// Time from the first offer to the end of the providers' shutdown.
    pub wall: Duration,
}

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
    sdk_metric(i, rng, block);
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

/// The block's metric through the SDK's instruments: two measurements of
/// the gauge, the counter or the histogram, by block.
fn sdk_metric(i: &Instruments, rng: &mut SplitMix64, block: u64) {
    for cpu in 0..2i64 {
        let attrs = [KeyValue::new("host.name", "node-17"), KeyValue::new("cpu", cpu)];
        match block % 3 {
            0 => i.gauge.record(rng.unit_f64(), &attrs),
            1 => i.counter.add(rng.below(1_000), &attrs),
            _ => i.histogram.record(rng.unit_f64() * 100.0, &attrs),
        }
    }
}

/// The production block of a service instrumented with `tracing` and
/// exporting through tracing-opentelemetry and opentelemetry-appender-tracing
/// (the global subscriber [`run_tracing_production`] installs): the spans
/// and the record of `scenarios::tracing_block`, the metric through the
/// SDK's instruments as [`sdk_block`] records it.
fn tracing_block(i: &Instruments, rng: &mut SplitMix64, worker: u64, block: u64) -> Signals {
    let (spans, logs) = scenarios::tracing_block(rng, worker, block);
    sdk_metric(i, rng, block);
    Signals { spans, points: 2, logs }
}

/// How a producer emits its blocks: through the SDK's API, or through `tracing`.
#[derive(Clone, Copy, Debug)]
enum Api {
    Sdk,
    Tracing,
}

async fn sdk_producer(i: Instruments, api: Api, worker: u64, pace: Pace) -> Signals {
    let mut rng = SplitMix64::new(fixtures::SEED.wrapping_add(worker));
    produce_blocks(pace, |block| match api {
        Api::Sdk => sdk_block(&i, &mut rng, worker, block),
        Api::Tracing => tracing_block(&i, &mut rng, worker, block),
    })
    .await
}

/// Runs the production mix through the SDK in this process: producers on
/// a current-thread runtime, as ours run.
pub fn run_production(config: &SdkConfig, plan: &ProductionPlan) -> Result<ProductionRun, SdkError> {
    let providers = SdkProviders::start(config)?;
    produce(providers, Api::Sdk, plan)
}

/// Runs the production mix as a service instrumented with `tracing` emits
/// it (`tracing` + tracing-opentelemetry for the spans,
/// opentelemetry-appender-tracing for the log records, the SDK's meter for
/// the metric) through the same providers as [`run_production`]. Installs
/// the process's global `tracing` subscriber: once per process.
pub fn run_tracing_production(config: &SdkConfig, plan: &ProductionPlan) -> Result<ProductionRun, SdkError> {
    use tracing_subscriber::layer::SubscriberExt as _;
    let providers = SdkProviders::start(config)?;
    // The level filter keeps the debug events of the libraries under the
    // exporters (hyper, h2 under tonic) out of both layers.
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::INFO)
        .with(tracing_opentelemetry::layer().with_tracer(providers.tracer.tracer("otlp-lab")))
        .with(opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge::new(&providers.logger));
    crate::stacks::install(subscriber)?;
    produce(providers, Api::Tracing, plan)
}

/// Longest `sdk-ours` waits for its queue to drain before the meter's last
/// collection: far above what a drain takes, so that only a stuck receiver
/// reaches it (the points then refused are counted by the pipeline).
const DRAIN: Duration = Duration::from_secs(30);

/// Runs the production mix through the SDK's API into our pipeline
/// (`sdk-ours`: [`SdkProviders::start_ours`] on `handle`), from producers
/// on the caller's runtime, which runs our exporter too; returns what they
/// offered, once the providers have handed everything over (our exporter's
/// shutdown, the caller's, drains it).
pub(crate) async fn run_production_ours(
    handle: &otlp_pipeline::pipeline::Handle,
    pace: Pace,
    workers: u64,
) -> Result<Signals, SdkError> {
    let providers = SdkProviders::start_ours(handle);
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..workers {
        tasks.spawn(sdk_producer(Instruments::new(&providers), Api::Sdk, worker, pace));
    }
    let mut offered = Signals::default();
    while let Some(joined) = tasks.join_next().await {
        offered = offered.plus(joined?);
    }
    // Our processors hand over as they go, but the meter hands its
    // aggregated points over in one collection at its shutdown, without
    // waiting: let the exporter take what the producers left queued first
    // (bounded), so that a queue they left full does not refuse them all.
    let deadline = Instant::now() + DRAIN;
    while Instant::now() < deadline {
        let s = handle.stats();
        if s.accepted <= s.exported + s.dropped_total() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    providers.shutdown();
    Ok(offered)
}

fn produce(providers: SdkProviders, api: Api, plan: &ProductionPlan) -> Result<ProductionRun, SdkError> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let start = Instant::now();
    let pace = Pace::new(start, plan.duration, plan.rate, plan.workers);
    let offered = rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..plan.workers {
            tasks.spawn(sdk_producer(Instruments::new(&providers), api, worker, pace));
        }
        let mut offered = Signals::default();
        while let Some(joined) = tasks.join_next().await {
            offered = offered.plus(joined?);
        }
        Ok::<_, SdkError>(offered)
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
    Ok(ProductionRun { offered, delivered, latency: latency.summary(), produced, wall })
}
