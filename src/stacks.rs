//! The standard fixture span as a service instrumented with `tracing`
//! writes it: one definition for every `tracing` stack that the
//! whole-exporter runner measures (`crate::exporter_run`: no layer, our
//! layer; `crate::sdk`: tracing-opentelemetry). Imports nothing of the lab,
//! so that both can import it.
//!
//! Every value a `tracing` field takes lazily stays lazy: the two strings
//! built per span (`url.full`, `cache.key`) are `format_args!`, formatted by
//! whichever layer records them, as a service writes `url.full = %uri`. With
//! no layer nothing formats them, which is why the floor is a floor.

use std::time::Duration;

use otlp_pipeline::fixtures::FixtureIds;
use otlp_pipeline::model::{FLAG_SAMPLED, SpanContext, SpanId, Str, TraceId};
use otlp_pipeline::pipeline::Handle;

/// The process already has a global `tracing` subscriber: each stack's run
/// installs its own, once per process (`otlp-lab exporter-run`).
#[derive(Debug, thiserror::Error)]
#[error("a global tracing subscriber is already installed in this process: {0}")]
pub struct AlreadyInstalled(String);

/// Installs `subscriber` as the process's global default, as a service does
/// at start (a scoped default, `tracing::subscriber::with_default`, costs
/// a thread-local lookup on every call that the global one does not).
pub fn install<S>(subscriber: S) -> Result<(), AlreadyInstalled>
where
    S: tracing::Subscriber + Send + Sync + 'static,
{
    tracing::subscriber::set_global_default(subscriber).map_err(|e| AlreadyInstalled(e.to_string()))
}

/// Spans a producer makes between two turns it gives the exporter, in the
/// runs whose producer shares the exporter's one thread and whose adapter
/// never waits (our layer, our span processor): one default batch, so that
/// the batcher takes, encodes and recycles as it goes, as it does beside
/// `ours`, whose `send` waits for room.
pub const YIELD_EVERY: usize = 512;

/// The pipeline's queue in the runs where spans reach it through an adapter
/// that never waits (`Handle::try_span`: our layer, our span processor).
/// One fixed size for every run keeps the setting (a ring allocated at
/// start) out of the marginal difference; the SDK's processor queue is the
/// same size (`crate::sdk`).
pub const QUEUE: usize = 1 << 16;

/// The producer's turn for the exporter, every [`YIELD_EVERY`] spans, in
/// the runs whose producer shares the exporter's one thread: a yield, so
/// that the batcher takes what is queued; then, while more than half the
/// queue is still in flight (accepted, neither exported nor dropped: the
/// exports are slower than the producer, as natively they are), a wait of
/// a millisecond at a time, so that the adapter, which never waits itself,
/// never finds the queue full. Under callgrind the backlog stays far below
/// half, and only the yield and the counter read happen.
pub async fn producer_turn(handle: &Handle) {
    tokio::task::yield_now().await;
    loop {
        let s = handle.stats();
        let in_flight = s.accepted.saturating_sub(s.exported + s.dropped_total());
        if in_flight <= (QUEUE / 2) as u64 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The fixture's span (`fixtures::span`) through the `tracing` macros:
/// name, `otel.kind = "server"`, the ten attributes with their types, one
/// event (`cache.lookup` with `cache.key`), `otel.status_code = "ok"`. The
/// stack's own way to adopt the fixture's remote parent is `set_parent`,
/// called right after the span is created, as a service does with the
/// context it extracted from the request.
pub fn tracing_span(ids: &FixtureIds, set_parent: impl FnOnce(&tracing::Span)) {
    let idx = ids.idx;
    let span = tracing::info_span!(
        "GET /api/users/{id}",
        otel.kind = "server",
        http.request.method = "GET",
        url.full = %format_args!("https://shop.example.com/api/users/{idx}"),
        http.response.status_code = 200,
        server.address = "shop.example.com",
        server.port = 443,
        user_agent.original = "Mozilla/5.0 (X11; Linux x86_64)",
        db.system = "postgresql",
        cache.hit = true,
        duration_ms = 1.25,
        thread.id = (idx % 16) as i64,
        otel.status_code = "ok",
    );
    set_parent(&span);
    span.in_scope(|| tracing::info!(cache.key = %format_args!("user:{idx}"), "cache.lookup"));
}

/// The fixture's remote parent as our layer takes it.
pub fn parent_context(ids: &FixtureIds) -> SpanContext {
    SpanContext {
        trace_id: TraceId(ids.trace_id),
        span_id: SpanId(ids.parent),
        trace_flags: FLAG_SAMPLED as u8,
        trace_state: Str::default(),
    }
}

/// The production mix's API span (`crate::scenarios`' `api_span`: its name,
/// kind, five attributes and status) as a request handler instrumented with
/// `tracing` writes it: created, entered, and closed when the handler
/// returns; `item` is the id in its path.
pub fn tracing_api_span(item: u64, worker: u64) {
    let span = tracing::info_span!(
        "GET /api/items/{id}",
        otel.kind = "server",
        http.request.method = "GET",
        http.route = "/api/items/{id}",
        url.path = %format_args!("/api/items/{item}"),
        http.response.status_code = 200,
        worker.id = worker as i64,
        otel.status_code = "ok",
    );
    let _entered = span.enter();
}

/// The production mix's log record (`crate::scenarios`' `app_log`: its body
/// and attribute, at INFO) as a `tracing` event outside any span, which our
/// layer and opentelemetry-appender-tracing turn into a log record.
pub fn tracing_app_log(order: u64, seq: u64) {
    tracing::info!(
        code.function = "checkout::place_order",
        "order {order:06} placed by user {seq:05}, payment accepted"
    );
}
