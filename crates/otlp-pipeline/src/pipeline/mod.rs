//! The export pipeline: a bounded queue between the callers and one batcher
//! task, which batches by size and by maximum delay, encodes with the direct
//! encoder, compresses into pooled buffers and hands each batch to an
//! [`ExportSink`] with bounded concurrency.
//!
//! Owns: queueing, batching, the drop accounting ([`StatsSnapshot`]), flush
//! and shutdown. Does not own: how a request reaches a receiver, retries or
//! the circuit breaker — those belong to the sink (the transport layer builds
//! on this one). Callers never block: an item offered to a full queue is
//! refused at once, handed back, and counted as dropped.
//!
//! Every item handed in is counted as accepted and then, exactly once, as
//! exported or dropped with a [`DropReason`]; after [`Pipeline::flush`] and
//! [`Pipeline::shutdown`], `accepted == exported + dropped`.
//!
//! Needs a tokio runtime: [`Pipeline::start`] spawns the batcher on the
//! current one.

mod batcher;
mod config;
mod queue;
mod stats;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub use config::{BodyFormat, ConfigError, PipelineConfig};
pub use stats::{DropReason, StatsSnapshot};

use crate::compress::Compression;
use crate::encode::Signal;
use crate::model::{InstrumentationScope, LogRecord, Metric, Resource, Span};
use stats::Stats;

/// One telemetry item offered to the pipeline.
#[derive(Clone, Debug)]
pub enum Item {
    /// A finished span.
    Span(Span),
    /// A metric with its points (counted as its number of points).
    Metric(Metric),
    /// A log record.
    Log(LogRecord),
}

impl Item {
    /// How many items this counts as in the stats.
    pub fn count(&self) -> u64 {
        match self {
            Item::Span(_) | Item::Log(_) => 1,
            Item::Metric(m) => m.data.as_ref().map_or(0, |d| d.point_count() as u64),
        }
    }
}

/// One encoded, compressed batch on its way to a receiver.
#[derive(Debug)]
pub struct ExportRequest {
    /// Which OTLP service it is for.
    pub signal: Signal,
    /// The request body (an `Export*ServiceRequest`), compressed with
    /// `compression`: a pooled buffer behind a `Bytes`, so that transports
    /// send it (and retries resend it) without copying, and it returns to
    /// the pool when the last clone is dropped.
    pub body: bytes::Bytes,
    /// The codec of `body`.
    pub compression: Compression,
    /// The encoding of `body` before compression.
    pub format: BodyFormat,
    /// Items in the batch.
    pub items: u64,
    /// Size of the body before compression.
    pub raw_len: usize,
}

/// How an export ended, as the sink reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportResult {
    /// The receiver took the batch; `rejected` of its items were refused
    /// (OTLP partial success) and count as dropped.
    Delivered {
        /// Items the receiver refused.
        rejected: u64,
    },
    /// Nothing was delivered; every item counts as dropped for this reason.
    Dropped(DropReason),
}

/// Where batches go: the transport layer (HTTP, gRPC) or an in-process sink.
/// Retries and backoff happen inside `export`; its result is final.
pub trait ExportSink: Send + Sync + 'static {
    /// Delivers one batch.
    fn export(&self, request: &ExportRequest) -> impl Future<Output = ExportResult> + Send;
}

/// A shared sink, so that the caller can keep a reference to it (to read what
/// it saw, or to share one transport between pipelines).
impl<S: ExportSink> ExportSink for Arc<S> {
    fn export(&self, request: &ExportRequest) -> impl Future<Output = ExportResult> + Send {
        (**self).export(request)
    }
}

/// A sink that accepts every batch and keeps nothing: for measuring the
/// pipeline itself.
#[derive(Clone, Copy, Debug, Default)]
pub struct DiscardSink;

impl ExportSink for DiscardSink {
    async fn export(&self, _request: &ExportRequest) -> ExportResult {
        ExportResult::Delivered { rejected: 0 }
    }
}

/// An item the pipeline did not take, handed back with the reason. It is
/// already counted as dropped.
#[derive(Debug, thiserror::Error)]
#[error("telemetry item refused: {reason}")]
pub struct Refused {
    /// Why.
    pub reason: DropReason,
    /// The item, returned to the caller.
    pub item: Item,
}

/// The future of [`Handle::send`]: ready at once when the queue had room.
#[must_use = "an item waiting for room is only sent if the future is awaited"]
pub struct SendItem<'a>(Option<Waiting<'a>>);

/// A send waiting for room.
type Waiting<'a> = std::pin::Pin<Box<dyn Future<Output = Result<(), Refused>> + Send + 'a>>;

impl std::fmt::Debug for SendItem<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "SendItem(waiting)" } else { "SendItem(sent)" })
    }
}

impl Future for SendItem<'_> {
    type Output = Result<(), Refused>;
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        match self.0.as_mut() {
            None => std::task::Poll::Ready(Ok(())),
            Some(waiting) => waiting.as_mut().poll(cx),
        }
    }
}

/// Counts a waiting item as dropped if its send is cancelled (the future
/// dropped before the queue took it): accepted items must all be accounted.
struct CountIfCancelled<'a> {
    stats: &'a Stats,
    items: u64,
}

impl Drop for CountIfCancelled<'_> {
    fn drop(&mut self) {
        self.stats.drop_items(DropReason::QueueFull, self.items);
    }
}

/// A cheap, cloneable handle that records items without blocking.
#[derive(Clone, Debug)]
pub struct Handle {
    tx: queue::Sender,
    stats: Arc<Stats>,
}

// `Refused` carries the item back by value: boxing it would allocate on every
// refusal, i.e. on the overload path, where allocation hurts most.
#[allow(clippy::result_large_err)]
impl Handle {
    /// Offers an item; refused at once when the queue is full or closed.
    pub fn try_item(&self, item: Item) -> Result<(), Refused> {
        let n = item.count();
        self.stats.accept(n);
        let (reason, item) = match self.tx.try_send(item) {
            Ok(()) => return Ok(()),
            Err(queue::TrySendError::Full(item)) => (DropReason::QueueFull, item),
            Err(queue::TrySendError::Closed(item)) => (DropReason::AfterShutdown, item),
        };
        self.stats.drop_items(reason, n);
        Err(Refused { reason, item })
    }

    /// Hands an item over, waiting for room in the queue instead of
    /// dropping: for producers that prefer backpressure to loss (batch jobs,
    /// the lab's closed-loop generators). Fails only after shutdown. A send
    /// cancelled while it waits counts its item as dropped (`QueueFull`).
    ///
    /// The first offer happens here, not at the first poll: when there is
    /// room, the item goes straight into the queue and the future holds none
    /// of its few hundred bytes (an `async fn` would copy the item into its
    /// state, and again into each future it awaits). Only a wait for room
    /// allocates its future.
    pub fn send(&self, item: Item) -> SendItem<'_> {
        let n = item.count();
        self.stats.accept(n);
        match self.tx.try_send(item) {
            Ok(()) => SendItem(None),
            Err(queue::TrySendError::Full(item)) => {
                // Built here, not inside the future: a future dropped before
                // its first poll never runs its body, but drops its arguments.
                let cancelled = CountIfCancelled { stats: &self.stats, items: n };
                SendItem(Some(Box::pin(self.wait_for_room(item, cancelled))))
            }
            Err(queue::TrySendError::Closed(item)) => {
                self.stats.drop_items(DropReason::AfterShutdown, n);
                let refused = Refused { reason: DropReason::AfterShutdown, item };
                SendItem(Some(Box::pin(std::future::ready(Err(refused)))))
            }
        }
    }

    async fn wait_for_room(&self, item: Item, cancelled: CountIfCancelled<'_>) -> Result<(), Refused> {
        let n = cancelled.items;
        let sent = self.tx.wait_for_room(item).await;
        std::mem::forget(cancelled);
        sent.map_err(|item| {
            self.stats.drop_items(DropReason::AfterShutdown, n);
            Refused { reason: DropReason::AfterShutdown, item }
        })
    }

    /// Offers a span (see [`Handle::try_item`]).
    pub fn try_span(&self, span: Span) -> Result<(), Refused> {
        self.try_item(Item::Span(span))
    }

    /// Offers a metric (see [`Handle::try_item`]).
    pub fn try_metric(&self, metric: Metric) -> Result<(), Refused> {
        self.try_item(Item::Metric(metric))
    }

    /// Offers a log record (see [`Handle::try_item`]).
    pub fn try_log(&self, record: LogRecord) -> Result<(), Refused> {
        self.try_item(Item::Log(record))
    }

    /// Records a span; if refused, it is counted as dropped and discarded.
    pub fn span(&self, span: Span) {
        let _counted = self.try_span(span);
    }

    /// Records a log record; if refused, it is counted as dropped and discarded.
    pub fn log(&self, record: LogRecord) {
        let _counted = self.try_log(record);
    }

    /// Records a metric; if refused, it is counted as dropped and discarded.
    pub fn metric(&self, metric: Metric) {
        let _counted = self.try_metric(metric);
    }

    /// The counters now.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }
}

/// Messages from the owner to the batcher.
#[derive(Debug)]
enum Control {
    Flush(oneshot::Sender<()>),
    Shutdown(tokio::time::Instant, oneshot::Sender<()>),
}

/// `flush` did not finish in time, or the pipeline is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FlushError {
    /// Items were still in flight when the timeout passed; they stay counted
    /// as accepted and will be exported or dropped later.
    #[error("flush did not complete within {0:?}")]
    Timeout(Duration),
    /// The batcher task has stopped.
    #[error("the pipeline has shut down")]
    Closed,
}

/// A running pipeline. Dropping it without [`Pipeline::shutdown`] shuts the
/// batcher down in the background with [`Pipeline::DROP_DEADLINE`].
#[derive(Debug)]
pub struct Pipeline {
    handle: Handle,
    control: mpsc::Sender<Control>,
    task: JoinHandle<()>,
}

impl Pipeline {
    /// Deadline of the background shutdown when a pipeline is dropped.
    pub const DROP_DEADLINE: Duration = Duration::from_secs(5);

    /// Validates the settings and spawns the batcher on the current tokio runtime.
    ///
    /// # Panics
    /// Outside a tokio runtime (as `tokio::spawn` does).
    pub fn start<S: ExportSink>(
        config: PipelineConfig,
        resource: Resource,
        scope: InstrumentationScope,
        sink: S,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        let stats = Arc::new(Stats::default());
        let (tx, rx) = queue::channel(config.queue_capacity);
        let (control_tx, control_rx) = mpsc::channel(4);
        let batcher = batcher::Batcher::new(config, resource, scope, Arc::new(sink), rx, control_rx, stats.clone());
        let task = tokio::spawn(batcher.run());
        Ok(Pipeline { handle: Handle { tx, stats }, control: control_tx, task })
    }

    /// A handle for recording items; clone it freely.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// The counters now.
    pub fn stats(&self) -> StatsSnapshot {
        self.handle.stats()
    }

    /// Exports everything queued or batched and waits until every export in
    /// flight has finished (delivered or dropped), or `timeout` passes.
    pub async fn flush(&self, timeout: Duration) -> Result<(), FlushError> {
        let (ack, done) = oneshot::channel();
        self.control.send(Control::Flush(ack)).await.map_err(|_| FlushError::Closed)?;
        match tokio::time::timeout(timeout, done).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(FlushError::Closed),
            Err(_) => Err(FlushError::Timeout(timeout)),
        }
    }

    /// Stops taking items, exports everything queued, and waits for the
    /// exports until `deadline` from now. Whatever is still queued, batched or
    /// in flight then is counted as dropped (`ShutdownDeadline`). Returns the
    /// final counters, which balance.
    pub async fn shutdown(self, deadline: Duration) -> StatsSnapshot {
        let at = tokio::time::Instant::now() + deadline;
        let (ack, done) = oneshot::channel();
        if self.control.send(Control::Shutdown(at, ack)).await.is_ok() {
            let _finished_or_gone = done.await;
        }
        let _joined = self.task.await;
        self.handle.stats()
    }
}
