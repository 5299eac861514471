//! The child: one implementation, one step, against one endpoint.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::results::RunResult;
use super::specs::StepSpec;
use super::{LoadError, runtime};
use crate::harness::{Implementation, LatencyRecorder, OpenLoop, Pace, Signals, Usage, produce_blocks};
use crate::scenarios::{self, NS_PER_MS};
use otlp_pipeline::exporter::Exporter;
use otlp_pipeline::fixtures::{self, SplitMix64};
use otlp_pipeline::layer::OtlpLayer;
use otlp_pipeline::pipeline::{DropReason, Handle, Item, PipelineConfig};
use tracing_subscriber::layer::SubscriberExt as _;

/// Deadline of the final shutdown: far above what a drain needs, so that
/// only a hung receiver reaches it.
const SHUTDOWN: Duration = Duration::from_secs(30);

/// Runs one step of one implementation against `endpoint` in this process
/// (what `--child` does), and returns its figures; `delivered` is the
/// exporter's own count until the parent confirms it with the receiver's.
pub fn run_child(implementation: Implementation, spec: &StepSpec, endpoint: &str) -> Result<RunResult, LoadError> {
    if spec.workers == 0 {
        return Err(LoadError::NoWorkers);
    }
    if spec.rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
        return Err(LoadError::Rate);
    }
    match implementation {
        Implementation::Ours | Implementation::TracingOurs | Implementation::SdkOurs => {
            implementation.check_available().map_err(|_| LoadError::NoSdk(implementation))?;
            run_ours(implementation, spec, endpoint)
        }
        Implementation::Sdk | Implementation::TracingOtel => run_sdk(implementation, spec, endpoint),
        other => Err(LoadError::NotInLoad(other)),
    }
}

/// The production mix through the official SDK in this process, as one
/// run, through its API (`sdk`) or through `tracing` and
/// tracing-opentelemetry (`tracing-otel`): the SDK drops silently, so
/// whatever its exporters did not deliver counts as `unreported`.
#[cfg(feature = "official-sdk")]
fn run_sdk(implementation: Implementation, spec: &StepSpec, endpoint: &str) -> Result<RunResult, LoadError> {
    use crate::sdk::{ProductionPlan, SdkConfig, Transport, run_production, run_tracing_production};
    let config = SdkConfig {
        transport: Transport { endpoint: endpoint.to_owned(), protocol: spec.protocol, compression: spec.compression },
        batch: spec.batch,
        queue: spec.queue,
    };
    let plan = ProductionPlan { workers: spec.workers, duration: spec.duration, rate: spec.rate };
    let run = match implementation {
        Implementation::TracingOtel => run_tracing_production(&config, &plan)?,
        _ => run_production(&config, &plan)?,
    };
    let lost = run.offered.total().saturating_sub(run.delivered.total());
    let mut dropped = BTreeMap::new();
    if lost > 0 {
        dropped.insert("unreported".to_owned(), lost);
    }
    Ok(RunResult {
        implementation,
        spec: spec.clone(),
        duration_s: run.wall.as_secs_f64(),
        offered: run.offered,
        delivered: run.delivered,
        exported: run.delivered.total(),
        dropped,
        requests: run.latency.count,
        latency: run.latency,
        usage: Usage::now(),
        receiver_cpu_s: None,
        offered_per_s: run.offered.total() as f64 / run.produced.as_secs_f64().max(1e-9),
        notes: vec![
            "the SDK drops silently (a full BatchSpanProcessor/BatchLogProcessor queue): dropped = offered - delivered"
                .to_owned(),
            "metric items are measurements, aggregated by the SDK into a few points per export".to_owned(),
        ],
    })
}

#[cfg(not(feature = "official-sdk"))]
fn run_sdk(implementation: Implementation, _spec: &StepSpec, _endpoint: &str) -> Result<RunResult, LoadError> {
    Err(LoadError::NoSdk(implementation))
}

/// One block of the production mix (the scenarios' one generator) through
/// `offer`; `offer` fails when the item is refused for good (after shutdown).
async fn offer_block<F, Fut>(
    rng: &mut SplitMix64,
    worker: u64,
    block: u64,
    offer: &mut F,
) -> Result<Signals, DropReason>
where
    F: FnMut(Item) -> Fut,
    Fut: std::future::Future<Output = Result<(), DropReason>>,
{
    let items = scenarios::production_block(rng, worker, block);
    let offered = Signals { spans: items.spans(), points: items.points(), logs: items.logs() };
    for item in items {
        offer(item).await?;
    }
    Ok(offered)
}

/// One of our producers: offers blocks until the deadline; returns what it offered.
async fn our_producer(h: Handle, worker: u64, pace: Pace) -> Result<Signals, DropReason> {
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

/// A producer of a service instrumented with `tracing` over our layer (the
/// global subscriber [`run_ours`] installs): the spans and the record of
/// `scenarios::tracing_block`, the metric through our handle (a service's
/// metrics do not go through `tracing`). Neither ever waits: a full queue
/// refuses the item and the pipeline counts it (`queue_full`).
async fn tracing_producer(h: Handle, worker: u64, pace: Pace) -> Signals {
    let mut rng = SplitMix64::new(fixtures::SEED.wrapping_add(worker));
    produce_blocks(pace, |block| {
        let (spans, logs) = scenarios::tracing_block(&mut rng, worker, block);
        let time = fixtures::BASE_TIME_NS + block * scenarios::BLOCK_ITEMS * NS_PER_MS;
        let metric = scenarios::two_point_metric(&mut rng, block, time);
        let points = metric.data.as_ref().map_or(0, |d| d.point_count() as u64);
        // Refused: counted by the pipeline.
        let _counted = h.try_item(Item::Metric(metric));
        Signals { spans, points, logs }
    })
    .await
}

/// The SDK's API into our pipeline (`sdk-ours`): the SDK's producers.
#[cfg(feature = "official-sdk")]
async fn sdk_ours(h: &Handle, pace: Pace, workers: u64) -> Result<Signals, LoadError> {
    Ok(crate::sdk::run_production_ours(h, pace, workers).await?)
}

#[cfg(not(feature = "official-sdk"))]
async fn sdk_ours(_h: &Handle, _pace: Pace, _workers: u64) -> Result<Signals, LoadError> {
    Err(LoadError::NoSdk(Implementation::SdkOurs))
}

/// Our exporter with its producers in this process: through our API
/// (`ours`, whose `send` waits for queue room in the closed loop), through
/// `tracing` and our layer (`tracing-ours`), or through the SDK's API and
/// our processors (`sdk-ours`); the last two never wait.
fn run_ours(implementation: Implementation, spec: &StepSpec, endpoint: &str) -> Result<RunResult, LoadError> {
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
        if implementation == Implementation::TracingOurs {
            // The level filter keeps the debug events of the libraries under
            // the exporter (hyper, h2 under tonic) out of the layer.
            let subscriber = tracing_subscriber::registry()
                .with(tracing_subscriber::filter::LevelFilter::INFO)
                .with(OtlpLayer::new(exporter.handle()));
            crate::stacks::install(subscriber).map_err(LoadError::Subscriber)?;
        }
        let start = Instant::now();
        let pace = spec.pace(start);
        let mut offered = Signals::default();
        if implementation == Implementation::SdkOurs {
            offered = sdk_ours(&exporter.handle(), pace, spec.workers).await?;
        }
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..spec.workers {
            let h = exporter.handle();
            match implementation {
                Implementation::TracingOurs => {
                    tasks.spawn(async move { Ok(tracing_producer(h, worker, pace).await) });
                }
                Implementation::SdkOurs => {}
                _ => {
                    tasks.spawn(our_producer(h, worker, pace));
                }
            }
        }
        while let Some(joined) = tasks.join_next().await {
            offered = offered.plus(joined?.map_err(LoadError::Refused)?);
        }
        let produced = start.elapsed();
        let stats = tokio::time::timeout(SHUTDOWN * 2, exporter.shutdown(SHUTDOWN))
            .await
            .map_err(|_| LoadError::Hung)?
            .unwrap_or_else(otlp_pipeline::ShutdownError::into_stats);
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
    // (The SDK's meter hands the pipeline aggregated points, not the measurements offered.)
    if p.accepted != offered.total() && implementation != Implementation::SdkOurs {
        notes.push(format!("pipeline accepted {} items, producers offered {}", p.accepted, offered.total()));
    }
    // The pipeline counts exported items, not their signals: the split is
    // an estimate until the parent replaces it with the receiver's counts.
    let delivered = scale_signals(offered, p.exported);
    Ok(RunResult {
        implementation,
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
