//! The batcher task: the only reader of the queue.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::task::{JoinError, JoinSet};
use tokio::time::Instant;

use super::stats::Stats;
use super::{BodyFormat, Control, DropReason, ExportRequest, ExportResult, ExportSink, Item, Pipeline, PipelineConfig};
use crate::compress::{Compression, Compressor};
use crate::encode::{Signal, direct, json};
use crate::model::{InstrumentationScope, LogRecord, LogsData, Metric, MetricsData, Resource, Span, TracesData};
use crate::pool::{BufferPool, BufferPoolConfig};

/// One batch of any signal, on its way to encoding.
enum Batch {
    Traces(TracesData),
    Metrics(MetricsData),
    Logs(LogsData),
}

pub(super) struct Batcher<S> {
    config: PipelineConfig,
    resource: Resource,
    scope: InstrumentationScope,
    sink: Arc<S>,
    rx: super::queue::Receiver,
    control: mpsc::Receiver<Control>,
    stats: Arc<Stats>,
    pool: BufferPool,
    encoder: direct::Encoder,
    /// Scratch for OTLP/JSON bodies.
    json_scratch: Vec<u8>,
    compressor: Compressor,
    spans: Vec<Span>,
    metrics: Vec<Metric>,
    metric_points: usize,
    logs: Vec<LogRecord>,
    /// When the oldest item of the current partial batches arrived.
    oldest: Option<Instant>,
    permits: Arc<Semaphore>,
    /// The export tasks. Each counts its own items, however it ends (see
    /// [`InFlight`]); the batcher only reaps them.
    inflight: JoinSet<()>,
    /// Items taken out of their batch (being encoded, or waiting for a free
    /// export slot) and not yet handed to an export task.
    dispatching: u64,
    /// A control message that arrived while the batcher was busy waiting (for
    /// an export slot or for exports to finish); handled next.
    stashed: Option<Control>,
    /// The acknowledgement owed to the flush or shutdown being carried out.
    /// Kept here, not in a local of `run`, so that a panic drops it only
    /// after [`Batcher`]'s `Drop` has marked the batcher dead: the caller
    /// woken by the dropped acknowledgement then sees why.
    ack: Option<oneshot::Sender<()>>,
    /// The shutdown deadline, once a shutdown has been asked for: every wait
    /// ends there, so a hung receiver cannot hold shutdown past it.
    deadline: Option<Instant>,
    /// Room in the list recycler for what this pipeline holds in flight, so
    /// that the lists of each exported batch are kept for the next spans.
    _lists: crate::model::lists::StockRoom,
}

impl<S: ExportSink> Batcher<S> {
    pub(super) fn new(
        config: PipelineConfig,
        resource: Resource,
        scope: InstrumentationScope,
        sink: Arc<S>,
        rx: super::queue::Receiver,
        control: mpsc::Receiver<Control>,
        stats: Arc<Stats>,
    ) -> Self {
        // One body per export slot plus the one being filled, so the pool
        // never has to allocate in steady state.
        let pool = BufferPool::with_config(BufferPoolConfig {
            // A pool that keeps nothing hands out a fresh buffer every time.
            max_pooled: if config.pool_bodies { config.max_concurrent_exports + 1 } else { 0 },
            ..BufferPoolConfig::default()
        });
        Batcher {
            _lists: crate::model::lists::room_for(config.queue_capacity.saturating_add(config.max_batch_items)),
            permits: Arc::new(Semaphore::new(config.max_concurrent_exports)),
            spans: Vec::with_capacity(config.max_batch_items),
            metrics: Vec::new(),
            metric_points: 0,
            logs: Vec::new(),
            config,
            resource,
            scope,
            sink,
            rx,
            control,
            stats,
            pool,
            encoder: direct::Encoder::new(),
            json_scratch: Vec::new(),
            compressor: Compressor::new(),
            oldest: None,
            inflight: JoinSet::new(),
            dispatching: 0,
            stashed: None,
            ack: None,
            deadline: None,
        }
    }

    /// The export slots: every one is back once every export task has
    /// ended and counted its items (see [`InFlight`]).
    pub(super) fn permits(&self) -> Arc<Semaphore> {
        self.permits.clone()
    }

    /// Keeps a control message for later; a shutdown's deadline applies at once.
    fn stash(&mut self, ctl: Option<Control>) {
        let ctl = ctl.unwrap_or_else(|| {
            // The Pipeline was dropped without shutdown: nobody awaits the ack.
            Control::Shutdown(Instant::now() + Pipeline::DROP_DEADLINE, tokio::sync::oneshot::channel().0)
        });
        if let Control::Shutdown(deadline, _) = &ctl {
            self.deadline = Some(*deadline);
        }
        self.stashed = Some(ctl);
    }

    pub(super) async fn run(mut self) {
        // False once every sender is gone (only after the Pipeline is dropped,
        // which the control branch then handles).
        let mut queue_open = true;
        loop {
            match self.stashed.take() {
                Some(Control::Flush(ack)) => {
                    self.ack = Some(ack);
                    self.flush().await;
                    if let Some(ack) = self.ack.take() {
                        let _caller_may_have_timed_out = ack.send(());
                    }
                    continue;
                }
                Some(Control::Shutdown(deadline, ack)) => {
                    self.ack = Some(ack);
                    self.shutdown(deadline).await;
                    if let Some(ack) = self.ack.take() {
                        let _caller_may_be_gone = ack.send(());
                    }
                    return;
                }
                None => {}
            }
            let due = self.oldest.map(|t| t + self.config.max_delay);
            tokio::select! {
                biased;
                ctl = self.control.recv() => self.stash(ctl),
                Some(joined) = self.inflight.join_next(), if !self.inflight.is_empty() => settle(joined),
                _ = tokio::time::sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => {
                    self.export_all().await;
                }
                item = self.rx.recv(), if queue_open => match item {
                    Some(item) => {
                        if let Some(full) = self.stage(item) {
                            self.export_full(full).await;
                        }
                        self.drain_queued().await;
                    }
                    None => queue_open = false,
                },
            }
        }
    }

    /// Takes what else is already queued, up to one batch, before the next
    /// `select!`: a round of it (control, exports in flight, a fresh timer,
    /// the queue) costs several times what batching an item does, and under
    /// load the queue is rarely empty. Stops early when a control message
    /// was stashed, so a flush or shutdown waits for at most one batch.
    async fn drain_queued(&mut self) {
        for _ in 0..self.config.max_batch_items {
            if self.stashed.is_some() {
                break;
            }
            let Some(item) = self.rx.try_recv() else { break };
            if let Some(full) = self.stage(item) {
                self.export_full(full).await;
            }
        }
    }

    /// Stages an item and exports its batch if full (flush and shutdown;
    /// the hot loops call `stage` themselves, see there).
    async fn push(&mut self, item: Item) {
        if let Some(full) = self.stage(item) {
            self.export_full(full).await;
        }
    }

    /// Exports the batch that [`Batcher::stage`] found full.
    async fn export_full(&mut self, full: Signal) {
        match full {
            Signal::Traces => self.export_traces().await,
            Signal::Metrics => self.export_metrics().await,
            Signal::Logs => self.export_logs().await,
        }
        if self.spans.is_empty() && self.metrics.is_empty() && self.logs.is_empty() {
            self.oldest = None;
        }
    }

    /// Adds an item to its batch; says whose batch is now full. Not async:
    /// the item (a few hundred bytes) then moves straight from the queue
    /// into its batch, not through a future's state.
    #[inline]
    fn stage(&mut self, item: Item) -> Option<Signal> {
        if self.oldest.is_none() {
            self.oldest = Some(Instant::now());
        }
        let max = self.config.max_batch_items;
        match item {
            Item::Span(s) => {
                self.spans.push(s);
                (self.spans.len() >= max).then_some(Signal::Traces)
            }
            Item::Metric(m) => {
                self.metric_points += m.data.as_ref().map_or(0, |d| d.point_count());
                self.metrics.push(m);
                (self.metric_points >= max).then_some(Signal::Metrics)
            }
            Item::Log(l) => {
                self.logs.push(l);
                (self.logs.len() >= max).then_some(Signal::Logs)
            }
        }
    }

    async fn export_all(&mut self) {
        if !self.spans.is_empty() {
            self.export_traces().await;
        }
        if !self.metrics.is_empty() {
            self.export_metrics().await;
        }
        if !self.logs.is_empty() {
            self.export_logs().await;
        }
        self.oldest = None;
    }

    // Each `export_*` counts the items it takes out of their batch as
    // `dispatching` at once, so that a panic anywhere from here to the
    // export task's spawn finds them counted (see `Drop for Batcher`).

    async fn export_traces(&mut self) {
        let spans = std::mem::replace(&mut self.spans, Vec::with_capacity(self.config.max_batch_items));
        self.dispatching = spans.len() as u64;
        let batch = Batch::Traces(TracesData::single(self.resource.clone(), self.scope.clone(), spans));
        self.export(batch).await;
    }

    async fn export_metrics(&mut self) {
        let metrics = std::mem::take(&mut self.metrics);
        self.dispatching = self.metric_points as u64;
        self.metric_points = 0;
        let batch = Batch::Metrics(MetricsData::single(self.resource.clone(), self.scope.clone(), metrics));
        self.export(batch).await;
    }

    async fn export_logs(&mut self) {
        let logs = std::mem::take(&mut self.logs);
        self.dispatching = logs.len() as u64;
        let batch = Batch::Logs(LogsData::single(self.resource.clone(), self.scope.clone(), logs));
        self.export(batch).await;
    }

    /// Encodes and compresses a batch into a pooled body, frees the batch,
    /// and hands the body to an export task.
    async fn export(&mut self, mut batch: Batch) {
        let (signal, items) = match &batch {
            Batch::Traces(d) => (Signal::Traces, d.span_count()),
            Batch::Metrics(d) => (Signal::Metrics, d.point_count()),
            Batch::Logs(d) => (Signal::Logs, d.record_count()),
        };
        let items = items as u64;
        #[cfg(test)]
        test_hook::panic_if_asked(&batch);
        let (body, raw_len) = match (self.config.format, self.config.compression) {
            // Encoded in place at the end of a pooled buffer that is then the
            // body itself: no copy between encoder, pipeline and transport.
            (BodyFormat::Protobuf, Compression::None) => {
                let mut buf = self.pool.get_initialized();
                let start = match &batch {
                    Batch::Traces(d) => direct::encode_traces_tail(d, &mut buf),
                    Batch::Metrics(d) => direct::encode_metrics_tail(d, &mut buf),
                    Batch::Logs(d) => direct::encode_logs_tail(d, &mut buf),
                };
                let raw_len = buf.len() - start;
                (buf.into_bytes_from(start), raw_len)
            }
            (format, codec) => {
                let raw = match format {
                    BodyFormat::Protobuf => match &batch {
                        Batch::Traces(d) => self.encoder.traces(d),
                        Batch::Metrics(d) => self.encoder.metrics(d),
                        Batch::Logs(d) => self.encoder.logs(d),
                    },
                    BodyFormat::Json => {
                        self.json_scratch.clear();
                        match &batch {
                            Batch::Traces(d) => json::write_traces(d, &mut self.json_scratch),
                            Batch::Metrics(d) => json::write_metrics(d, &mut self.json_scratch),
                            Batch::Logs(d) => json::write_logs(d, &mut self.json_scratch),
                        }
                        &self.json_scratch
                    }
                };
                let body = compress(&self.pool, &mut self.compressor, codec, raw);
                (body.into_bytes(), raw.len())
            }
        };
        // The spans' and records' lists go back to the builders: a batch
        // freeing its 1,500 small blocks at once would take the allocator's
        // slow path for each (see crate::model::lists).
        match &mut batch {
            Batch::Traces(d) => crate::model::lists::recycle_traces(d),
            Batch::Logs(d) => crate::model::lists::recycle_logs(d),
            Batch::Metrics(_) => {}
        }
        drop(batch);
        self.dispatch(signal, body, items, raw_len).await;
    }

    /// Waits for a free export slot (the queue fills meanwhile: backpressure
    /// becomes counted drops at the door), then spawns the export.
    async fn dispatch(&mut self, signal: Signal, body: bytes::Bytes, items: u64, raw_len: usize) {
        let permit = loop {
            let deadline = self.deadline;
            // Biased: a fixed polling order (tokio otherwise randomizes it per
            // call), which keeps instruction counts repeatable; every branch
            // still gets its turn, as the loop ends on the first ready one.
            tokio::select! {
                biased;
                permit = self.permits.clone().acquire_owned() => break permit.expect("the semaphore is never closed"),
                // Reap finished exports while waiting.
                Some(joined) = self.inflight.join_next(), if !self.inflight.is_empty() => settle(joined),
                ctl = self.control.recv(), if self.stashed.is_none() => self.stash(ctl),
                _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                    self.stats.drop_items(DropReason::ShutdownDeadline, items);
                    self.dispatching = 0;
                    return;
                }
            }
        };
        self.stats.request(raw_len, body.len());
        let request = ExportRequest {
            signal,
            body,
            compression: self.config.compression,
            format: self.config.format,
            items,
            raw_len,
        };
        let sink = self.sink.clone();
        // From here the items are the export task's to count: built outside
        // the task and moved in, so that a task dropped before its first poll
        // counts them too.
        let flight = InFlight { stats: self.stats.clone(), items, armed: true, _permit: permit };
        self.dispatching = 0;
        self.inflight.spawn(async move {
            let flight = flight;
            let result = sink.export(&request).await;
            // No await after the sink returns: an abort cannot split the
            // result from its recording.
            flight.record(result);
        });
    }

    /// Waits for every export in flight, or until the shutdown deadline.
    async fn drain_inflight(&mut self) {
        while !self.inflight.is_empty() {
            let deadline = self.deadline;
            // Biased for repeatable counts, as in `dispatch`.
            tokio::select! {
                biased;
                Some(joined) = self.inflight.join_next() => settle(joined),
                ctl = self.control.recv(), if self.stashed.is_none() => self.stash(ctl),
                _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => return,
            }
        }
    }

    async fn flush(&mut self) {
        while let Some(item) = self.rx.try_recv() {
            self.push(item).await;
        }
        self.export_all().await;
        self.drain_inflight().await;
    }

    async fn shutdown(&mut self, deadline: Instant) {
        self.deadline = Some(deadline);
        self.rx.close();
        let drained = tokio::time::timeout_at(deadline, async {
            while let Some(item) = self.rx.recv().await {
                self.push(item).await;
            }
            self.export_all().await;
            self.drain_inflight().await;
        })
        .await;
        if drained.is_err() || !self.inflight.is_empty() {
            // Aborted tasks count their items as ShutdownDeadline (`InFlight`).
            self.inflight.abort_all();
            while let Some(joined) = self.inflight.join_next().await {
                settle(joined);
            }
            let mut left = self.dispatching;
            left += (self.spans.len() + self.metric_points + self.logs.len()) as u64;
            self.spans.clear();
            self.metrics.clear();
            self.metric_points = 0;
            self.logs.clear();
            while let Some(item) = self.rx.try_recv() {
                left += item.count();
            }
            self.stats.drop_items(DropReason::ShutdownDeadline, left);
        }
    }
}

/// Reaps an export task that ended: normally, by a panic in the sink, or
/// aborted at the shutdown deadline. Nothing to count: the task's
/// [`InFlight`] has counted its items in every case.
fn settle(joined: Result<(), JoinError>) {
    let _counted_by_the_task = joined;
}

/// An export task's items until its result is recorded, and its export
/// slot. However the task ends, its items are counted exactly once: it
/// records the sink's result ([`InFlight::record`]); a task dropped before
/// that counts them as dropped here — unwound by a panic in the sink
/// (`ExportPanicked`), aborted because the batcher died (`BatcherPanicked`),
/// or aborted at the shutdown deadline or by the runtime's shutdown
/// (`ShutdownDeadline`). The slot is released after the count (fields drop
/// after `drop`), so once every permit is back, every export is counted.
struct InFlight {
    stats: Arc<Stats>,
    items: u64,
    armed: bool,
    _permit: OwnedSemaphorePermit,
}

impl InFlight {
    fn record(mut self, result: ExportResult) {
        self.armed = false;
        record(&self.stats, self.items, result);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        // The batcher's death first: its unwinding aborts the tasks, and
        // whatever they were doing, that is why they ended.
        let reason = if self.stats.batcher_panicked() {
            DropReason::BatcherPanicked
        } else if std::thread::panicking() {
            DropReason::ExportPanicked
        } else {
            DropReason::ShutdownDeadline
        };
        self.stats.drop_items(reason, self.items);
    }
}

/// Counts what a batcher still holds when it is dropped. After `run`
/// returns that is nothing (shutdown exported or counted it all). When the
/// batcher panics, the unwinding drops it here: it marks itself dead (so
/// that flush, shutdown and producers report `BatcherPanicked`), closes the
/// queue and counts what was queued, batched or being encoded as
/// `BatcherPanicked`; then its fields drop, the `JoinSet` aborting the
/// export tasks, which count their own items. Dropped unfinished without a
/// panic (the runtime shut down under it), it counts the same as
/// `ShutdownDeadline`.
impl<S> Drop for Batcher<S> {
    fn drop(&mut self) {
        let panicked = std::thread::panicking();
        if panicked {
            // Before the queue's close: a producer refused by it sees the flag.
            self.stats.set_batcher_panicked();
        }
        let mut left = self.dispatching + (self.spans.len() + self.metric_points + self.logs.len()) as u64;
        left += self.rx.close_and_drain();
        if left > 0 {
            let reason = if panicked { DropReason::BatcherPanicked } else { DropReason::ShutdownDeadline };
            self.stats.drop_items(reason, left);
        }
    }
}

fn record(stats: &Stats, items: u64, result: ExportResult) {
    match result {
        ExportResult::Delivered { rejected } => {
            let rejected = rejected.min(items);
            stats.export(items - rejected);
            stats.drop_items(DropReason::Rejected, rejected);
        }
        ExportResult::Dropped(reason) => {
            stats.failed_request();
            stats.drop_items(reason, items);
        }
    }
}

/// Compresses the encoded batch into a pooled body (or copies it, for
/// OTLP/JSON without a codec).
fn compress(pool: &BufferPool, compressor: &mut Compressor, codec: Compression, raw: &[u8]) -> crate::pool::PooledBuf {
    let mut body = pool.get();
    match codec {
        Compression::None => body.extend_from_slice(raw),
        _ => compressor.compress(codec, raw, &mut body).expect("the codec was validated at start"),
    }
    body
}

/// The way to make the batcher itself panic in tests: a span named
/// [`test_hook::PANIC_SPAN`] panics when its batch is encoded. That is on the
/// batcher task, where a bug in the encoder or the compressor would panic,
/// and not in the spawned export (a sink's panic is caught apart, as
/// `ExportPanicked`). No sink or observer callback runs on the batcher task,
/// so a test-only check is the least intrusive way in; it compiles to
/// nothing outside the crate's unit tests.
#[cfg(test)]
pub(super) mod test_hook {
    use super::Batch;

    /// The name of the span that makes the batcher panic.
    pub(in crate::pipeline) const PANIC_SPAN: &str = "test: panic in the batcher";

    pub(super) fn panic_if_asked(batch: &Batch) {
        if let Batch::Traces(d) = batch {
            let spans = d.resource_spans.iter().flat_map(|r| &r.scope_spans).flat_map(|s| &s.spans);
            if spans.into_iter().any(|s| s.name == PANIC_SPAN) {
                panic!("test hook: the batcher panics while encoding a batch");
            }
        }
    }
}
