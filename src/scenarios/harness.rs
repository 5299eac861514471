//! Exporters and the checks every network step ends with.

use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::workloads::Outcome;
use otlp_pipeline::compress::Compression;
use otlp_pipeline::exporter::{Exporter, ExporterBuilder, ExporterStats, Protocol};
use otlp_pipeline::fixtures;
use otlp_pipeline::model::Span;
use otlp_pipeline::pipeline::{DropReason, Handle, Item, PipelineConfig, StatsSnapshot};
use otlp_pipeline::receiver::{Receiver, ReceiverCounts};

use super::sizes::{COUNT_ONLY_DELAY, HANG_GUARD, SHUTDOWN};
use super::{ScenarioError, ScenarioRow};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Sent {
    pub(super) spans: u64,
    pub(super) points: u64,
    pub(super) logs: u64,
}

impl Sent {
    pub(super) fn total(self) -> u64 {
        self.spans + self.points + self.logs
    }

    pub(super) fn plus(self, o: Sent) -> Sent {
        Sent { spans: self.spans + o.spans, points: self.points + o.points, logs: self.logs + o.logs }
    }
}

/// An exporter for the loopback receiver with count-only batching.
pub(super) fn exporter_to(
    endpoint: String,
    protocol: Protocol,
    compression: Compression,
    max_batch_items: usize,
) -> ExporterBuilder {
    Exporter::builder()
        .endpoint(endpoint)
        .protocol(protocol)
        .batch(PipelineConfig { max_batch_items, max_delay: COUNT_ONLY_DELAY, ..PipelineConfig::default() })
        .compression(compression)
        .resource(fixtures::resource())
        .scope(fixtures::scope())
}

pub(super) fn http_exporter(receiver: &Receiver, max_batch_items: usize) -> ExporterBuilder {
    exporter_to(receiver.http_endpoint(), Protocol::HttpProtobuf, Compression::None, max_batch_items)
}

pub(super) fn build(step: &str, builder: ExporterBuilder) -> Result<Exporter, ScenarioError> {
    builder.build().map_err(|source| ScenarioError::Exporter { step: step.into(), source })
}

/// Hands an item over, waiting for queue room (closed loop).
pub(super) async fn send(step: &str, h: &Handle, item: Item) -> Result<(), ScenarioError> {
    h.send(item).await.map_err(|r| ScenarioError::Refused { step: step.into(), reason: r.reason })
}

pub(super) async fn shutdown(
    step: &str,
    exporter: Exporter,
    deadline: Duration,
) -> Result<ExporterStats, ScenarioError> {
    tokio::time::timeout(deadline + HANG_GUARD, exporter.shutdown(deadline))
        .await
        .map_err(|_elapsed| ScenarioError::Hung { step: step.into() })
        .map(|shut| shut.unwrap_or_else(otlp_pipeline::ShutdownError::into_stats))
}

/// The start of a step: the receiver's counts and the clock, so that its end
/// can tell what this step delivered (the receiver lives across steps and
/// runs) and how long it took.
pub(super) struct StepStart<'r> {
    receiver: &'r Receiver,
    before: ReceiverCounts,
    pub(super) at: Instant,
}

impl<'r> StepStart<'r> {
    pub(super) fn now(receiver: &'r Receiver) -> Self {
        StepStart { receiver, before: receiver.counts(), at: Instant::now() }
    }

    /// What the receiver counted since the start, and the wall time since.
    pub(super) fn end(self) -> (ReceiverCounts, Duration) {
        let wall = self.at.elapsed();
        (delta(self.receiver.counts(), self.before), wall)
    }

    /// Shuts the step's exporter down; returns its final counters, what the
    /// receiver counted since the start, and the step's wall time.
    pub(super) async fn finish(
        self,
        step: &str,
        exporter: Exporter,
    ) -> Result<(ExporterStats, ReceiverCounts, Duration), ScenarioError> {
        let stats = shutdown(step, exporter, SHUTDOWN).await?;
        let (got, wall) = self.end();
        Ok((stats, got, wall))
    }
}

/// Sends `spans` (cloned) through a fresh exporter; returns its final
/// counters, what the receiver counted meanwhile, and the wall time.
pub(super) async fn export_spans(
    step: &str,
    receiver: &Receiver,
    builder: ExporterBuilder,
    spans: &[Span],
) -> Result<(ExporterStats, ReceiverCounts, Duration), ScenarioError> {
    let start = StepStart::now(receiver);
    let exporter = build(step, builder)?;
    let h = exporter.handle();
    for s in spans {
        send(step, &h, Item::Span(s.clone())).await?;
    }
    drop(h);
    start.finish(step, exporter).await
}

/// What a receiver counted between two readings (it lives across runs).
pub(super) fn delta(after: ReceiverCounts, before: ReceiverCounts) -> ReceiverCounts {
    after.since(before)
}

/// Every accepted item is exported or counted as dropped.
pub(super) fn check_balanced(step: &str, stats: &StatsSnapshot) -> Result<(), ScenarioError> {
    if stats.is_balanced() {
        Ok(())
    } else {
        Err(ScenarioError::Unbalanced { step: step.into(), stats: Box::new(*stats) })
    }
}

/// Nothing was dropped and exactly `sent` items were accepted (with the
/// balance, every one of them was exported).
pub(super) fn check_none_dropped(step: &str, stats: &StatsSnapshot, sent: u64) -> Result<(), ScenarioError> {
    if stats.dropped_total() > 0 || stats.accepted != sent {
        return Err(ScenarioError::Dropped { step: step.into(), stats: Box::new(*stats) });
    }
    Ok(())
}

/// Every accepted item is exported or counted as dropped, and the receiver
/// counted exactly what the exporter exported.
pub(super) fn check_accounted(step: &str, stats: &StatsSnapshot, got: &ReceiverCounts) -> Result<(), ScenarioError> {
    check_balanced(step, stats)?;
    let received = got.spans + got.points + got.logs;
    if received != stats.exported {
        return Err(ScenarioError::ReceiverMismatch { step: step.into(), received, exported: stats.exported });
    }
    Ok(())
}

/// As [`check_accounted`], and everything sent was delivered: nothing
/// dropped, and the receiver counted per signal what was sent.
pub(super) fn check_delivered(
    step: &str,
    stats: &StatsSnapshot,
    got: &ReceiverCounts,
    sent: Sent,
) -> Result<(), ScenarioError> {
    check_accounted(step, stats, got)?;
    check_none_dropped(step, stats, sent.total())?;
    for (signal, received, sent) in
        [("spans", got.spans, sent.spans), ("points", got.points, sent.points), ("logs", got.logs, sent.logs)]
    {
        if received != sent {
            return Err(ScenarioError::SignalMismatch { step: step.into(), signal, received, sent });
        }
    }
    Ok(())
}

pub(super) fn dropped_text(p: &StatsSnapshot) -> String {
    let parts: Vec<String> =
        DropReason::ALL.iter().filter(|r| p.dropped(**r) > 0).map(|r| format!("{r}:{}", p.dropped(*r))).collect();
    if parts.is_empty() { "0".to_owned() } else { parts.join(",") }
}

pub(super) fn exporter_row(step: impl Into<String>, stats: &ExporterStats, wall: Duration) -> ScenarioRow {
    pipeline_row(step, &stats.pipeline, stats.transport.retries, wall)
}

/// A step's row from the counters of its exporters and their retries.
pub(super) fn pipeline_row(step: impl Into<String>, p: &StatsSnapshot, retries: u64, wall: Duration) -> ScenarioRow {
    let mut extra = vec![("bytes_raw", p.bytes_raw.to_string()), ("dropped", dropped_text(p))];
    if retries > 0 {
        extra.push(("retries", retries.to_string()));
    }
    ScenarioRow {
        step: step.into(),
        items: p.exported,
        requests: p.requests,
        bytes: p.bytes_sent,
        wall: Some(wall),
        extra,
    }
}

/// Folds deterministic quantities into a checksum (FNV-1a over whole
/// words, rotated so that small counts still spread over all bits).
pub(super) fn fold(parts: impl IntoIterator<Item = u64>) -> u64 {
    parts.into_iter().fold(0xcbf2_9ce4_8422_2325, mix)
}

pub(super) fn mix(h: u64, v: u64) -> u64 {
    (h.rotate_left(29) ^ v).wrapping_mul(0x0000_0100_0000_01b3)
}

pub(super) fn network_outcome(stats: &StatsSnapshot, parts: impl IntoIterator<Item = u64>) -> Outcome {
    Outcome { items: stats.exported, bytes: stats.bytes_raw, checksum: fold(parts) }
}

/// Ends a step whose one exporter must deliver everything it was sent:
/// shuts it down, checks every signal at the receiver, and reports the step
/// with `extra` and the per-signal counts. The outcome folds the per-signal
/// counts sent, then `parts`.
pub(super) async fn deliver_all(
    step: &str,
    start: StepStart<'_>,
    exporter: Exporter,
    sent: Sent,
    extra: Vec<(&'static str, String)>,
    parts: &[u64],
    rows: &mut Vec<ScenarioRow>,
) -> Result<Outcome, ScenarioError> {
    let (stats, got, wall) = start.finish(step, exporter).await?;
    check_delivered(step, &stats.pipeline, &got, sent)?;
    let mut row = exporter_row(step, &stats, wall);
    row.extra.extend(extra);
    row.extra.extend([
        ("spans", got.spans.to_string()),
        ("points", got.points.to_string()),
        ("logs", got.logs.to_string()),
    ]);
    rows.push(row);
    let counts = [sent.spans, sent.points, sent.logs];
    Ok(network_outcome(&stats.pipeline, counts.into_iter().chain(parts.iter().copied())))
}

/// What a scenario of several exporter steps accumulates: the counters of
/// all its exporters, the deterministic parts of its checksum, its rows.
pub(super) struct Tally<'a> {
    total: StatsSnapshot,
    pub(super) parts: Vec<u64>,
    pub(super) rows: &'a mut Vec<ScenarioRow>,
}

impl<'a> Tally<'a> {
    pub(super) fn new(rows: &'a mut Vec<ScenarioRow>) -> Self {
        Tally { total: StatsSnapshot::default(), parts: Vec::new(), rows }
    }

    /// Adds one exporter step: its counters, `part` (its deterministic
    /// result) and its row.
    pub(super) fn record(&mut self, stats: &StatsSnapshot, part: u64, row: ScenarioRow) {
        self.total += *stats;
        self.parts.push(part);
        self.rows.push(row);
    }

    /// The row recorded last, for a step's own figures.
    pub(super) fn last_row(&mut self) -> &mut ScenarioRow {
        self.rows.last_mut().expect("called after a step was recorded")
    }

    pub(super) fn outcome(self) -> Outcome {
        network_outcome(&self.total, self.parts)
    }
}

/// Exports `spans` through a fresh exporter, checks that every one was
/// delivered, and records the step (its part: the spans exported); returns
/// the exporter's counters and what the receiver counted, for the step's
/// own checks.
pub(super) async fn deliver_spans(
    step: &str,
    receiver: &Receiver,
    builder: ExporterBuilder,
    spans: &[Span],
    tally: &mut Tally<'_>,
) -> Result<(ExporterStats, ReceiverCounts), ScenarioError> {
    let (stats, got, wall) = export_spans(step, receiver, builder, spans).await?;
    check_delivered(step, &stats.pipeline, &got, Sent { spans: spans.len() as u64, ..Sent::default() })?;
    tally.record(&stats.pipeline, stats.pipeline.exported, exporter_row(step, &stats, wall));
    Ok((stats, got))
}

/// Waits for every producer; a refused item or a failed task fails the step.
pub(super) async fn join_producers(
    step: &str,
    tasks: &mut JoinSet<Result<Sent, DropReason>>,
) -> Result<Sent, ScenarioError> {
    let mut sent = Sent::default();
    while let Some(joined) = tasks.join_next().await {
        let part = joined
            .map_err(|source| ScenarioError::Producer { step: step.into(), source })?
            .map_err(|reason| ScenarioError::Refused { step: step.into(), reason })?;
        sent = sent.plus(part);
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counters of a step that exported `exported` items and dropped
    /// `dropped` for the given reason.
    fn stats(accepted: u64, exported: u64, dropped: (DropReason, u64)) -> StatsSnapshot {
        let mut s = StatsSnapshot { accepted, exported, ..StatsSnapshot::default() };
        s.dropped[dropped.0 as usize] = dropped.1;
        s
    }

    fn counts(spans: u64, points: u64, logs: u64) -> ReceiverCounts {
        ReceiverCounts { spans, points, logs, ..ReceiverCounts::default() }
    }

    const NONE: (DropReason, u64) = (DropReason::QueueFull, 0);

    #[test]
    fn check_accounted_finds_lost_and_miscounted_items() {
        let ok = stats(10, 8, (DropReason::Rejected, 2));
        assert!(check_accounted("s", &ok, &counts(5, 2, 1)).is_ok());
        // Two items neither exported nor dropped.
        let lost = stats(10, 8, NONE);
        let e = check_accounted("s", &lost, &counts(8, 0, 0)).expect_err("unbalanced");
        assert!(matches!(&e, ScenarioError::Unbalanced { step, stats } if &**step == "s" && **stats == lost), "{e}");
        // Balanced, but the receiver saw one item more than was exported.
        let e = check_accounted("s", &ok, &counts(9, 0, 0)).expect_err("receiver mismatch");
        assert!(matches!(e, ScenarioError::ReceiverMismatch { received: 9, exported: 8, .. }), "{e}");
    }

    #[test]
    fn check_delivered_finds_drops_short_counts_and_misfiled_signals() {
        let sent = Sent { spans: 5, points: 2, logs: 1 };
        let all = stats(8, 8, NONE);
        assert!(check_delivered("s", &all, &counts(5, 2, 1), sent).is_ok());
        // Accounted for, but dropped: not delivered.
        let dropped = stats(8, 7, (DropReason::QueueFull, 1));
        let e = check_delivered("s", &dropped, &counts(5, 2, 0), sent).expect_err("dropped");
        assert!(matches!(&e, ScenarioError::Dropped { stats, .. } if **stats == dropped), "{e}");
        // Everything accepted was delivered, but fewer were accepted than sent.
        let short = stats(7, 7, NONE);
        let e = check_delivered("s", &short, &counts(5, 2, 0), sent).expect_err("short");
        assert!(matches!(e, ScenarioError::Dropped { .. }), "{e}");
        // The right total, in the wrong signals.
        let e = check_delivered("s", &all, &counts(4, 3, 1), sent).expect_err("misfiled");
        assert!(matches!(e, ScenarioError::SignalMismatch { signal: "spans", received: 4, sent: 5, .. }), "{e}");
        let e = check_delivered("s", &all, &counts(5, 1, 2), sent).expect_err("misfiled");
        assert!(matches!(e, ScenarioError::SignalMismatch { signal: "points", received: 1, sent: 2, .. }), "{e}");
        // An unbalanced step fails as such even when the receiver agrees.
        let e = check_delivered("s", &stats(9, 8, NONE), &counts(5, 2, 1), sent).expect_err("unbalanced");
        assert!(matches!(e, ScenarioError::Unbalanced { .. }), "{e}");
    }

    #[test]
    fn stats_add_up_field_by_field() {
        let a = StatsSnapshot {
            accepted: 1,
            exported: 2,
            dropped: [3, 4, 5, 6, 7, 8, 13],
            bytes_raw: 9,
            bytes_sent: 10,
            requests: 11,
            failed_requests: 12,
        };
        let mut total = a;
        total += a;
        let doubled = StatsSnapshot {
            accepted: 2,
            exported: 4,
            dropped: [6, 8, 10, 12, 14, 16, 26],
            bytes_raw: 18,
            bytes_sent: 20,
            requests: 22,
            failed_requests: 24,
        };
        assert_eq!(total, doubled);
    }
}
