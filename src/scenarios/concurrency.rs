//! Many producers or a paced one: high_concurrency, production_workload,
//! sustained_load, mixed_telemetry_types.

use std::time::Duration;

use tokio::task::JoinSet;

use crate::workloads::Outcome;
use otlp_pipeline::exporter::{Exporter, Protocol};
use otlp_pipeline::fixtures::{self, SplitMix64};
use otlp_pipeline::pipeline::Item;
use otlp_pipeline::receiver::Receiver;

use super::harness::{
    Sent, StepStart, Tally, build, check_accounted, check_delivered, deliver_all, exporter_row, http_exporter,
    join_producers, network_outcome, send,
};
use super::sizes::{BLOCK_ITEMS, NS_PER_MS, PRODUCERS, SUSTAINED_TICK, WORKERS, default_batch};
use super::{ScenarioError, ScenarioRow, api_span, app_log, production_block, two_point_metric, unexpected};

pub(super) async fn high_concurrency(
    receiver: &Receiver,
    spans: u64,
    rows: &mut Vec<ScenarioRow>,
) -> Result<Outcome, ScenarioError> {
    let mut tally = Tally::new(rows);
    for producers in PRODUCERS {
        let step = format!("producers={producers}");
        let start = StepStart::now(receiver);
        let exporter = build(&step, http_exporter(receiver, default_batch()))?;
        let mut tasks = JoinSet::new();
        for worker in 0..producers {
            // The remainder goes to the first producers, so the total is exact.
            let n = spans / producers + u64::from(worker < spans % producers);
            let h = exporter.handle();
            tasks.spawn(async move {
                let mut rng = SplitMix64::new(fixtures::SEED.wrapping_add(worker));
                for seq in 0..n {
                    h.send(Item::Span(api_span(&mut rng, worker, seq))).await.map_err(|r| r.reason)?;
                }
                Ok(Sent { spans: n, ..Sent::default() })
            });
        }
        let sent = join_producers(&step, &mut tasks).await?;
        let (stats, got, wall) = start.finish(&step, exporter).await?;
        check_delivered(&step, &stats.pipeline, &got, sent)?;
        tally.parts.push(producers);
        tally.record(&stats.pipeline, stats.pipeline.exported, exporter_row(step, &stats, wall));
    }
    Ok(tally.outcome())
}

pub(super) async fn production(
    receiver: &Receiver,
    items: u64,
    rows: &mut Vec<ScenarioRow>,
) -> Result<Outcome, ScenarioError> {
    let step = format!("{WORKERS}_workers");
    let blocks = (items / (WORKERS * BLOCK_ITEMS)).max(1);
    let start = StepStart::now(receiver);
    let exporter = build(&step, http_exporter(receiver, default_batch()))?;
    let mut tasks = JoinSet::new();
    for worker in 0..WORKERS {
        let h = exporter.handle();
        tasks.spawn(async move {
            let mut rng = SplitMix64::new(fixtures::SEED.wrapping_add(worker));
            let mut sent = Sent::default();
            for block in 0..blocks {
                let items = production_block(&mut rng, worker, block);
                let part = Sent { spans: items.spans(), points: items.points(), logs: items.logs() };
                for item in items {
                    h.send(item).await.map_err(|r| r.reason)?;
                }
                sent = sent.plus(part);
            }
            Ok(sent)
        });
    }
    let sent = join_producers(&step, &mut tasks).await?;
    deliver_all(&step, start, exporter, sent, Vec::new(), &[], rows).await
}

/// Offers `rate` spans a second in ticks until `duration` has passed. The
/// producer never waits for the queue (`try_span`): what it cannot take is
/// counted as dropped, as for a service that must not block. A late tick is
/// skipped, not made up in a burst, so the offered rate stays steady.
pub(super) async fn sustained_load(
    receiver: &Receiver,
    rate: u64,
    duration: Duration,
    rows: &mut Vec<ScenarioRow>,
) -> Result<Outcome, ScenarioError> {
    const STEP: &str = "paced";
    let per_tick = (rate * SUSTAINED_TICK.as_millis() as u64 / 1_000).max(1);
    let ticks = (duration.as_millis() / SUSTAINED_TICK.as_millis()).max(1) as u64;
    let start = StepStart::now(receiver);
    // The default batching (its max_delay included): this scenario is about time.
    let builder = Exporter::builder()
        .endpoint(receiver.http_endpoint())
        .protocol(Protocol::HttpProtobuf)
        .resource(fixtures::resource())
        .scope(fixtures::scope());
    let exporter = build(STEP, builder)?;
    let h = exporter.handle();
    let mut rng = SplitMix64::new(fixtures::SEED);
    let mut interval = tokio::time::interval(SUSTAINED_TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut offered = 0;
    for _ in 0..ticks {
        interval.tick().await;
        if start.at.elapsed() >= duration {
            break;
        }
        for _ in 0..per_tick {
            h.span(api_span(&mut rng, 0, offered));
            offered += 1;
        }
    }
    drop(h);
    let (stats, got, wall) = start.finish(STEP, exporter).await?;
    check_accounted(STEP, &stats.pipeline, &got)?;
    if stats.pipeline.accepted != offered {
        return Err(unexpected(STEP, format!("{offered} items accepted"), stats.pipeline.accepted.to_string()));
    }
    let mut row = exporter_row(STEP, &stats, wall);
    row.extra.extend([("offered", offered.to_string()), ("offered_per_second", rate.to_string())]);
    rows.push(row);
    let p = &stats.pipeline;
    Ok(network_outcome(p, [offered, p.exported, p.dropped_total()]))
}

pub(super) async fn mixed_telemetry(
    receiver: &Receiver,
    rounds: u64,
    rows: &mut Vec<ScenarioRow>,
) -> Result<Outcome, ScenarioError> {
    const STEP: &str = "interleaved";
    let start = StepStart::now(receiver);
    let exporter = build(STEP, http_exporter(receiver, default_batch()))?;
    let h = exporter.handle();
    let mut rng = SplitMix64::new(fixtures::SEED);
    let mut sent = Sent::default();
    for i in 0..rounds {
        send(STEP, &h, Item::Span(api_span(&mut rng, 0, i))).await?;
        sent.spans += 1;
        if i % 4 == 0 {
            let metric = Item::Metric(two_point_metric(&mut rng, i / 4, fixtures::BASE_TIME_NS + i * NS_PER_MS));
            sent.points += metric.count();
            send(STEP, &h, metric).await?;
        }
        if i % 2 == 0 {
            send(STEP, &h, Item::Log(app_log(&mut rng, i))).await?;
            sent.logs += 1;
        }
    }
    drop(h);
    deliver_all(STEP, start, exporter, sent, Vec::new(), &[], rows).await
}
