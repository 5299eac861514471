//! The child: one implementation, one step, against one endpoint.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::results::RunResult;
use super::specs::StepSpec;
use super::{LoadError, runtime};
use crate::harness::{Implementation, LatencyRecorder, OpenLoop, Pace, Signals, Usage};
use crate::scenarios;
use otlp_pipeline::exporter::Exporter;
use otlp_pipeline::fixtures::{self, SplitMix64};
use otlp_pipeline::pipeline::{DropReason, Handle, Item, PipelineConfig};

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
        Implementation::Ours => run_ours(spec, endpoint),
        Implementation::Sdk => run_sdk(spec, endpoint),
        other => Err(LoadError::NotInLoad(other)),
    }
}

/// The production mix through the official SDK in this process, as one
/// run: the SDK drops silently, so whatever its exporters did not deliver
/// counts as `unreported`.
#[cfg(feature = "official-sdk")]
fn run_sdk(spec: &StepSpec, endpoint: &str) -> Result<RunResult, LoadError> {
    use crate::sdk::{ProductionPlan, SdkConfig, Transport, run_production};
    let config = SdkConfig {
        transport: Transport { endpoint: endpoint.to_owned(), protocol: spec.protocol, compression: spec.compression },
        batch: spec.batch,
        queue: spec.queue,
    };
    let plan = ProductionPlan { workers: spec.workers, duration: spec.duration, rate: spec.rate };
    let run = run_production(&config, &plan)?;
    let lost = run.offered.total().saturating_sub(run.delivered.total());
    let mut dropped = BTreeMap::new();
    if lost > 0 {
        dropped.insert("unreported".to_owned(), lost);
    }
    Ok(RunResult {
        implementation: Implementation::Sdk,
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
fn run_sdk(_spec: &StepSpec, _endpoint: &str) -> Result<RunResult, LoadError> {
    Err(LoadError::NoSdk)
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
        let pace = spec.pace(start);
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..spec.workers {
            tasks.spawn(our_producer(exporter.handle(), worker, pace));
        }
        let mut offered = Signals::default();
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
