//! The batcher task: the only reader of the queue.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc};
use tokio::task::{Id, JoinError, JoinSet};
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

/// Task ids are the runtime's own counters, not outside input, so a keyed
/// hasher buys nothing; a fixed one keeps the batcher's instruction count the
/// same on every run (the lab's determinism check) where a random seed would
/// move the probe sequence.
type FixedState = std::hash::BuildHasherDefault<std::hash::DefaultHasher>;

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
    inflight: JoinSet<()>,
    /// Items of each export task: a task records its own result when the
    /// sink returns; one that panics or is aborted is accounted for here.
    inflight_items: HashMap<Id, u64, FixedState>,
    /// Items taken out of a batch but not yet handed to an export task
    /// (waiting for a free export slot).
    dispatching: u64,
    /// A control message that arrived while the batcher was busy waiting (for
    /// an export slot or for exports to finish); handled next.
    stashed: Option<Control>,
    /// The shutdown deadline, once a shutdown has been asked for: every wait
    /// ends there, so a hung receiver cannot hold shutdown past it.
    deadline: Option<Instant>,
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
            inflight_items: HashMap::default(),
            dispatching: 0,
            stashed: None,
            deadline: None,
        }
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
                    self.flush().await;
                    let _caller_may_have_timed_out = ack.send(());
                    continue;
                }
                Some(Control::Shutdown(deadline, ack)) => {
                    self.shutdown(deadline).await;
                    let _caller_may_be_gone = ack.send(());
                    return;
                }
                None => {}
            }
            let due = self.oldest.map(|t| t + self.config.max_delay);
            tokio::select! {
                biased;
                ctl = self.control.recv() => self.stash(ctl),
                Some(joined) = self.inflight.join_next_with_id(), if !self.inflight.is_empty() => self.settle(joined),
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

    async fn export_traces(&mut self) {
        let spans = std::mem::replace(&mut self.spans, Vec::with_capacity(self.config.max_batch_items));
        let batch = Batch::Traces(TracesData::single(self.resource.clone(), self.scope.clone(), spans));
        self.export(batch).await;
    }

    async fn export_metrics(&mut self) {
        let metrics = std::mem::take(&mut self.metrics);
        self.metric_points = 0;
        let batch = Batch::Metrics(MetricsData::single(self.resource.clone(), self.scope.clone(), metrics));
        self.export(batch).await;
    }

    async fn export_logs(&mut self) {
        let logs = std::mem::take(&mut self.logs);
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
        self.dispatching = items;
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
                Some(joined) = self.inflight.join_next_with_id(), if !self.inflight.is_empty() => self.settle(joined),
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
        let (sink, stats) = (self.sink.clone(), self.stats.clone());
        let task = self.inflight.spawn(async move {
            let result = sink.export(&request).await;
            // No await after the sink returns: an abort cannot split the
            // result from its recording.
            record(&stats, items, result);
            drop(permit);
        });
        self.inflight_items.insert(task.id(), items);
        self.dispatching = 0;
    }

    /// Accounts for an export task that ended: normally (it recorded its own
    /// result), by panicking in the sink, or aborted at the shutdown deadline.
    fn settle(&mut self, joined: Result<(Id, ()), JoinError>) {
        let (id, reason) = match joined {
            Ok((id, ())) => (id, None),
            Err(e) if e.is_panic() => (e.id(), Some(DropReason::ExportPanicked)),
            Err(e) => (e.id(), Some(DropReason::ShutdownDeadline)),
        };
        let items = self.inflight_items.remove(&id).unwrap_or(0);
        if let Some(reason) = reason {
            self.stats.drop_items(reason, items);
        }
    }

    /// Waits for every export in flight, or until the shutdown deadline.
    async fn drain_inflight(&mut self) {
        while !self.inflight.is_empty() {
            let deadline = self.deadline;
            // Biased for repeatable counts, as in `dispatch`.
            tokio::select! {
                biased;
                Some(joined) = self.inflight.join_next_with_id() => self.settle(joined),
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
            // Aborted tasks are counted as ShutdownDeadline by `settle`.
            self.inflight.abort_all();
            while let Some(joined) = self.inflight.join_next_with_id().await {
                self.settle(joined);
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
