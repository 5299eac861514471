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
//! [`Pipeline::shutdown`], `accepted == exported + dropped`. That holds even
//! if the batcher task itself panics (a bug): what it held is counted as
//! [`DropReason::BatcherPanicked`], later offers are refused with that
//! reason, and `flush` and `shutdown` fail with
//! [`FlushError::BatcherPanicked`] and [`ShutdownError::BatcherPanicked`].
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

use tokio::sync::{Semaphore, mpsc, oneshot};
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
            Err(queue::TrySendError::Closed(item)) => (self.closed_reason(), item),
        };
        self.stats.drop_items(reason, n);
        Err(Refused { reason, item })
    }

    /// Hands an item over, waiting for room in the queue instead of
    /// dropping: for producers that prefer backpressure to loss (batch jobs,
    /// the lab's closed-loop generators). Fails only after shutdown, or once
    /// the batcher has panicked (`BatcherPanicked`). A send cancelled while
    /// it waits counts its item as dropped (`QueueFull`).
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
                let reason = self.closed_reason();
                self.stats.drop_items(reason, n);
                let refused = Refused { reason, item };
                SendItem(Some(Box::pin(std::future::ready(Err(refused)))))
            }
        }
    }

    async fn wait_for_room(&self, item: Item, cancelled: CountIfCancelled<'_>) -> Result<(), Refused> {
        let n = cancelled.items;
        let sent = self.tx.wait_for_room(item).await;
        std::mem::forget(cancelled);
        sent.map_err(|item| {
            let reason = self.closed_reason();
            self.stats.drop_items(reason, n);
            Refused { reason, item }
        })
    }

    /// Why the closed queue refused an item: a shutdown, or the batcher's
    /// death (it closes the queue as it unwinds). Off the hot path: only a
    /// refusal reads the flag.
    fn closed_reason(&self) -> DropReason {
        if self.stats.batcher_panicked() { DropReason::BatcherPanicked } else { DropReason::AfterShutdown }
    }

    /// True once the pipeline's batcher task has panicked: nothing more is
    /// exported, every item it held and every later offer is counted as
    /// dropped ([`DropReason::BatcherPanicked`]).
    pub fn batcher_panicked(&self) -> bool {
        self.stats.batcher_panicked()
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
    /// The batcher task panicked (before or during the flush): nothing more
    /// will be exported, and what it held is counted as dropped
    /// ([`DropReason::BatcherPanicked`]).
    #[error("the pipeline's batcher task panicked")]
    BatcherPanicked,
}

/// [`Pipeline::shutdown`] (or `Exporter::shutdown`, with the exporter's
/// counters as `S`) did not end cleanly. The counters it carries are final
/// and balance all the same.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ShutdownError<S = StatsSnapshot> {
    /// The batcher task panicked (a bug in the pipeline): what it held when
    /// it died, and every item offered after, is counted as dropped
    /// ([`DropReason::BatcherPanicked`]).
    #[error("the pipeline's batcher task panicked{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    BatcherPanicked {
        /// The panic's message, when it was a string.
        message: Option<Box<str>>,
        /// The final counters (boxed, to keep the error small).
        stats: Box<S>,
    },
}

impl<S> ShutdownError<S> {
    /// The final counters.
    pub fn stats(&self) -> &S {
        match self {
            ShutdownError::BatcherPanicked { stats, .. } => stats,
        }
    }

    /// The final counters, for a caller that reports them either way.
    pub fn into_stats(self) -> S {
        match self {
            ShutdownError::BatcherPanicked { stats, .. } => *stats,
        }
    }

    /// The same error with other counters (the exporter's, around the pipeline's).
    pub(crate) fn map_stats<T>(self, f: impl FnOnce(S) -> T) -> ShutdownError<T> {
        match self {
            ShutdownError::BatcherPanicked { message, stats } => {
                ShutdownError::BatcherPanicked { message, stats: Box::new(f(*stats)) }
            }
        }
    }
}

/// The text of a panic's payload, when it has one.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> Option<Box<str>> {
    payload
        .downcast_ref::<&str>()
        .map(|s| Box::from(*s))
        .or_else(|| payload.downcast_ref::<String>().map(|s| s.as_str().into()))
}

/// A running pipeline. Dropping it without [`Pipeline::shutdown`] shuts the
/// batcher down in the background with [`Pipeline::DROP_DEADLINE`].
#[derive(Debug)]
pub struct Pipeline {
    handle: Handle,
    control: mpsc::Sender<Control>,
    task: JoinHandle<()>,
    /// The export slots, shared with the batcher: every one is back once
    /// every export task has ended and counted its items.
    permits: Arc<Semaphore>,
    /// How many export slots there are.
    slots: u32,
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
        // A tokio semaphore hands out at most `u32::MAX` permits at once.
        let slots = u32::try_from(config.max_concurrent_exports).unwrap_or(u32::MAX);
        let batcher = batcher::Batcher::new(config, resource, scope, Arc::new(sink), rx, control_rx, stats.clone());
        let permits = batcher.permits();
        let task = tokio::spawn(batcher.run());
        Ok(Pipeline { handle: Handle { tx, stats }, control: control_tx, task, permits, slots })
    }

    /// A handle for recording items; clone it freely.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// The counters now.
    pub fn stats(&self) -> StatsSnapshot {
        self.handle.stats()
    }

    /// True once the batcher task has panicked (see [`Handle::batcher_panicked`]).
    pub fn batcher_panicked(&self) -> bool {
        self.handle.batcher_panicked()
    }

    /// Exports everything queued or batched and waits until every export in
    /// flight has finished (delivered or dropped), or `timeout` passes.
    /// Fails at once with [`FlushError::BatcherPanicked`] if the batcher has
    /// panicked, or as soon as it does.
    pub async fn flush(&self, timeout: Duration) -> Result<(), FlushError> {
        let (ack, done) = oneshot::channel();
        if self.control.send(Control::Flush(ack)).await.is_err() {
            return Err(self.gone());
        }
        match tokio::time::timeout(timeout, done).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(self.gone()),
            Err(_) => Err(FlushError::Timeout(timeout)),
        }
    }

    /// Why the batcher no longer answers. Its `Drop` marks a panic before
    /// the control channel and the pending acknowledgement are dropped, so
    /// the flag is set by the time a caller sees either gone.
    fn gone(&self) -> FlushError {
        if self.batcher_panicked() { FlushError::BatcherPanicked } else { FlushError::Closed }
    }

    /// Stops taking items, exports everything queued, and waits for the
    /// exports until `deadline` from now. Whatever is still queued, batched or
    /// in flight then is counted as dropped (`ShutdownDeadline`). Returns the
    /// final counters, which balance.
    ///
    /// # Errors
    /// [`ShutdownError::BatcherPanicked`] if the batcher task panicked,
    /// before or during the shutdown. The error carries the final counters,
    /// which balance too: what the batcher held is counted as
    /// [`DropReason::BatcherPanicked`].
    pub async fn shutdown(self, deadline: Duration) -> Result<StatsSnapshot, ShutdownError> {
        let at = tokio::time::Instant::now() + deadline;
        let (ack, done) = oneshot::channel();
        if self.control.send(Control::Shutdown(at, ack)).await.is_ok() {
            let _finished_or_gone = done.await;
        }
        let message = match self.task.await {
            Err(e) if e.is_panic() => panic_message(&*e.into_panic()),
            _ if self.handle.batcher_panicked() => None,
            _ => return Ok(self.handle.stats()),
        };
        // The dead batcher's JoinSet aborted the export tasks; each counts
        // its items when the runtime drops it (at once for a task waiting,
        // after its current poll for one running) and only then frees its
        // slot. So once every slot is back, every item is counted.
        let _all_counted = self.permits.acquire_many(self.slots).await;
        Err(ShutdownError::BatcherPanicked { message, stats: Box::new(self.handle.stats()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;
    use crate::model::Str;

    /// Bounds every wait on the pipeline: a hang guard, not a timing check.
    const HANG_GUARD: Duration = Duration::from_secs(30);

    /// Never answers: its exports stay in flight until aborted.
    struct Held;

    impl ExportSink for Held {
        async fn export(&self, _request: &ExportRequest) -> ExportResult {
            std::future::pending().await
        }
    }

    /// One batch in flight (held by the sink), two log records batched, a
    /// batch being encoded when the batcher panics (the test hook, see
    /// `batcher::test_hook`), six spans still queued, and two offers after
    /// its death: every one is counted as dropped, `BatcherPanicked`, and
    /// flush and shutdown report the panic instead of hanging or succeeding.
    /// (Producers racing the dying batcher on other threads: the queue's
    /// `close_and_drain_loses_nothing_to_concurrent_producers`.)
    #[tokio::test]
    async fn batcher_panic_is_counted_and_reported() {
        let config = PipelineConfig {
            max_batch_items: 4,
            max_concurrent_exports: 1,
            queue_capacity: 64,
            max_delay: Duration::from_secs(3600),
            ..PipelineConfig::default()
        };
        let p = Pipeline::start(config, fixtures::resource(), fixtures::scope(), Held).expect("valid config");
        let h = p.handle();
        let mut spans = fixtures::spans(13).into_iter();
        // Offered before the batcher runs (one thread, no await between).
        for s in spans.by_ref().take(4) {
            h.span(s);
        }
        for l in fixtures::log_records(2) {
            h.log(l);
        }
        for s in spans.by_ref().take(3) {
            h.span(s);
        }
        let mut poison = fixtures::spans(1).remove(0);
        poison.name = Str::from_static(batcher::test_hook::PANIC_SPAN);
        h.span(poison);
        for s in spans {
            h.span(s);
        }

        let flushed = tokio::time::timeout(HANG_GUARD, p.flush(Duration::from_secs(10))).await.expect("flush hung");
        assert_eq!(flushed, Err(FlushError::BatcherPanicked));
        assert!(p.batcher_panicked() && h.batcher_panicked());

        // Offers after its death are refused and counted, with its reason.
        let late = h.try_span(fixtures::spans(1).remove(0)).expect_err("the batcher is dead");
        assert_eq!(late.reason, DropReason::BatcherPanicked);
        let waited = h.send(Item::Log(fixtures::log_records(1).remove(0))).await.expect_err("the batcher is dead");
        assert_eq!(waited.reason, DropReason::BatcherPanicked);
        let again = tokio::time::timeout(HANG_GUARD, p.flush(Duration::from_secs(10))).await.expect("flush hung");
        assert_eq!(again, Err(FlushError::BatcherPanicked));

        let err = tokio::time::timeout(HANG_GUARD, p.shutdown(Duration::from_secs(10)))
            .await
            .expect("shutdown hung")
            .expect_err("the batcher panicked");
        assert!(err.to_string().contains("test hook: the batcher panics"), "{err}");
        let stats = *err.stats();
        assert_eq!(stats.accepted, 4 + 2 + 4 + 6 + 2, "{stats}");
        assert_eq!(stats.exported, 0, "{stats}");
        assert_eq!(stats.dropped(DropReason::BatcherPanicked), stats.accepted, "{stats}");
        assert_eq!(stats.accepted, stats.exported + stats.dropped_total(), "{stats}");
        assert!(stats.is_balanced());
    }

    /// Exports already delivered before the panic stay exported; the rest is
    /// dropped, and the totals balance.
    #[tokio::test]
    async fn batcher_panic_after_deliveries_balances() {
        let config = PipelineConfig { max_batch_items: 10, max_delay: Duration::from_secs(3600), ..Default::default() };
        let p = Pipeline::start(config, fixtures::resource(), fixtures::scope(), DiscardSink).expect("valid config");
        let h = p.handle();
        for s in fixtures::spans(30) {
            h.span(s);
        }
        p.flush(Duration::from_secs(10)).await.expect("a healthy flush");
        assert_eq!(p.stats().exported, 30);
        let mut poison = fixtures::spans(1).remove(0);
        poison.name = Str::from_static(batcher::test_hook::PANIC_SPAN);
        h.span(poison);
        for s in fixtures::spans(5) {
            h.span(s);
        }
        let flushed = tokio::time::timeout(HANG_GUARD, p.flush(Duration::from_secs(10))).await.expect("flush hung");
        assert_eq!(flushed, Err(FlushError::BatcherPanicked));
        let stats = tokio::time::timeout(HANG_GUARD, p.shutdown(Duration::from_secs(10)))
            .await
            .expect("shutdown hung")
            .expect_err("the batcher panicked")
            .into_stats();
        assert_eq!((stats.accepted, stats.exported), (36, 30), "{stats}");
        assert_eq!(stats.dropped(DropReason::BatcherPanicked), 6, "{stats}");
        assert!(stats.is_balanced(), "{stats}");
    }
}
