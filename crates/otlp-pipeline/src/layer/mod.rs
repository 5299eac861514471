//! A `tracing-subscriber` layer (feature `tracing`): the spans and events of
//! an app instrumented with `tracing` become this crate's spans and log
//! records, handed to an exporter's [`Handle`].
//!
//! ```no_run
//! use otlp_pipeline::Exporter;
//! use otlp_pipeline::layer::OtlpLayer;
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let exporter = Exporter::builder().from_env()?.build()?;
//! let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(exporter.handle()));
//! tracing::subscriber::set_global_default(subscriber)?;
//!
//! let span = tracing::info_span!("GET /users", otel.kind = "server", http.response.status_code = 200);
//! span.in_scope(|| tracing::info!(user = 7, "found"));
//! drop(span);
//! exporter.shutdown(std::time::Duration::from_secs(5)).await?;
//! # Ok(())
//! # }
//! ```
//!
//! What a span becomes:
//!
//! - ids: a new span id; the trace id and parent of the enclosing `tracing`
//!   span (the registry's span tree), or of a remote parent set with
//!   [`OtlpLayer::set_parent`] / [`OtlpLayer::set_parent_from_headers`]
//!   (W3C `traceparent`), or a new trace.
//! - fields: typed attributes (i64, f64, bool, string, bytes; keys stay
//!   `&'static str`), except the conventions tracing-opentelemetry reads:
//!   `otel.name` (the name), `otel.kind` (`server`, `client`, `producer`,
//!   `consumer`, `internal`), `otel.status_code` (`ok`, `error`, `unset`),
//!   `otel.status_description` (status error with this description; its
//!   older name `otel.status_message` too); and one of ours, `error`
//!   (`true`, or a message that becomes the description: status error),
//!   which tracing-opentelemetry keeps as an attribute.
//! - events inside it: span events (name: the message; the other fields as
//!   attributes); an `ERROR` event sets the status to error unless it is
//!   ok, as tracing-opentelemetry does. An event with an `error` field and
//!   no message (what `#[instrument(err)]` emits) is an exception, as
//!   tracing-opentelemetry maps it: named `exception`, the error as its
//!   `exception.message` attribute and as the span's status description.
//! - start and end: when it was created and closed (all its handles dropped).
//!
//! `tests/it/fidelity.rs` compares what this layer delivers with what
//! tracing-opentelemetry and the SDK deliver for the same calls, and names
//! the differences on purpose (the crate's README lists them).
//!
//! An event outside any span becomes a log record: severity from the level,
//! body the message, the other fields as attributes.
//!
//! The exporter's own telemetry is ignored: spans and events whose target
//! belongs to a crate under the exporter ([`DEFAULT_IGNORED_CRATES`]:
//! `hyper`, `hyper_util`, `h2`, `tonic`, `tower`, the rustls crates, and
//! this crate), by the target's first `::` segment, so `tower_http` is not
//! caught. With no level filter, as above, these crates log each connection
//! and request at debug and trace level on the exporter's own tasks; exported
//! as log records, each export would log more of them, without end (the
//! OpenTelemetry SDKs' telemetry-induced telemetry). The list is
//! [`LayerConfig::ignored_crates`]. It is matched by target rather than by
//! marking the export's tasks, because the events come from tasks the
//! exporter does not poll itself (hyper's connection tasks, tonic's buffer
//! worker, spawned through executors the transport would have to wrap), and
//! because the same crates
//! serve the app's own requests, whose connection logs are as much noise in
//! the app's traces. An ignored span is one the layer does not see: events in
//! it become log records, spans under it start their own trace.
//!
//! Sampling is parent-based with a trace-id ratio at the root
//! ([`LayerConfig::sampling_ratio`]): a child follows its parent (local or
//! remote), a root draws by the ratio on its trace id. A span under an
//! unsampled parent costs the registry's bookkeeping and nothing else: the
//! layer keeps a zero-sized marker and records none of its fields or events.
//! A root is recorded whatever its draw, because a remote parent set after
//! its creation still decides for it; an unsampled root is dropped at its
//! close.
//!
//! Owns: the per-span state (in the registry's extensions, as
//! tracing-opentelemetry keeps its `OtelData`), the field mapping, sampling,
//! and the hand-over: a closed span goes to [`Handle::try_span`], which never
//! blocks; a full queue refuses it and the pipeline counts it as dropped
//! ([`crate::DropReason::QueueFull`]). Does not own: batching, encoding and
//! export (the pipeline behind the handle; the resource and scope are the
//! exporter's), or filtering by level and by any target beyond the ignored
//! crates (the app's `tracing-subscriber` filters, around this layer).

mod context;
mod fields;
mod sampler;
mod targets;

use std::any::TypeId;
use std::borrow::Cow;
use std::time::SystemTime;

use tracing::span::{Attributes, Id, Record};
use tracing::{Event as TracingEvent, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

pub use context::ContextError;
pub use targets::DEFAULT_IGNORED_CRATES;

use crate::model::{
    AnyValue, Event, FLAG_HAS_IS_REMOTE, FLAG_SAMPLED, Link, LogRecord, Severity, Span, SpanContext, SpanId, SpanKind,
    StatusCode, Str, TraceId, lists, unix_nanos,
};
use crate::pipeline::{Handle, Item};
use context::{Op, WithState};
use fields::{EventFields, SpanFields};
use sampler::Sampler;
use targets::Ignored;

/// How the layer samples and bounds what it records.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerConfig {
    /// Fraction of traces started here that are sampled, decided on the
    /// trace id (as the OpenTelemetry SDKs' `TraceIdRatioBased` does, so
    /// services at the same ratio keep the same traces). Spans with a parent
    /// follow the parent. Within `0.0..=1.0`; default 1.0 (every trace).
    pub sampling_ratio: f64,
    /// Attributes kept per span; the rest are counted in
    /// `dropped_attributes_count`. Default 128, the OpenTelemetry SDKs' limit.
    pub max_attributes_per_span: usize,
    /// Events kept per span; the rest are counted as dropped (an event's
    /// attributes are bounded by `max_attributes_per_span`). Default 128, the OpenTelemetry SDKs' limit: a span that
    /// logs in a loop does not grow without bound.
    pub max_events_per_span: usize,
    /// Links kept per span (`follows_from`). Default 128.
    pub max_links_per_span: usize,
    /// Events outside any span become log records (default); off, they are
    /// ignored.
    pub logs: bool,
    /// Crates whose spans and events the layer ignores, matched on the
    /// target's first segment: a target that is a name, or starts with
    /// `name::` (`hyper_util::client` is `hyper_util`'s, `tower_http` is not
    /// `tower`'s). Default [`DEFAULT_IGNORED_CRATES`]: the crates under the
    /// exporter, whose events would otherwise be exported and log more
    /// events in turn. An app that removes one needs a level or target
    /// filter of its own for it. Each name is non-empty, without `:`.
    pub ignored_crates: Vec<Cow<'static, str>>,
}

/// The OpenTelemetry SDKs' default span limits.
const DEFAULT_LIMIT: usize = 128;

impl Default for LayerConfig {
    fn default() -> Self {
        LayerConfig {
            sampling_ratio: 1.0,
            max_attributes_per_span: DEFAULT_LIMIT,
            max_events_per_span: DEFAULT_LIMIT,
            max_links_per_span: DEFAULT_LIMIT,
            logs: true,
            ignored_crates: DEFAULT_IGNORED_CRATES.iter().map(|&n| Cow::Borrowed(n)).collect(),
        }
    }
}

/// A [`LayerConfig`] the layer cannot take.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LayerConfigError {
    /// The sampling ratio is not a number within `0.0..=1.0`.
    #[error("sampling ratio {0} is not within 0.0..=1.0")]
    SamplingRatio(f64),
    /// The entry at this index of `ignored_crates` is empty or holds `:`,
    /// so it is no target's first segment.
    #[error("ignored_crates[{0}] is not a crate name (empty, or holds ':')")]
    IgnoredCrate(usize),
}

impl LayerConfig {
    /// Checks the settings.
    pub fn validate(&self) -> Result<(), LayerConfigError> {
        if !(0.0..=1.0).contains(&self.sampling_ratio) {
            return Err(LayerConfigError::SamplingRatio(self.sampling_ratio));
        }
        if let Some(i) = self.ignored_crates.iter().position(|n| targets::invalid(n)) {
            return Err(LayerConfigError::IgnoredCrate(i));
        }
        Ok(())
    }
}

/// A span the layer records: sampled, or a root whose draw a remote parent
/// may still overturn.
#[derive(Debug)]
struct Recorded {
    span: Span,
    /// Exported at its close.
    sampled: bool,
    /// Its fields and events are kept: sampled, or not decided for good.
    recording: bool,
}

impl Recorded {
    fn context(&self) -> SpanContext {
        let mut c = self.span.context();
        c.trace_flags = (c.trace_flags & !1) | u8::from(self.sampled);
        c
    }
}

/// A span under an unsampled parent. Zero-sized: the registry boxes every
/// extension, and a box of nothing allocates nothing.
#[derive(Debug)]
struct Unsampled;

/// The `tracing-subscriber` layer; see the [module docs](self).
#[derive(Debug)]
pub struct OtlpLayer {
    handle: Handle,
    sampler: Sampler,
    /// `config.ignored_crates`, in the form the hot path reads.
    ignored: Ignored,
    config: LayerConfig,
    /// Set when the layer is attached to its subscriber, whose type it
    /// knows (see [`context`]).
    with_state: Option<WithState>,
}

impl OtlpLayer {
    /// A layer that hands spans and log records to `handle` (an exporter's,
    /// [`crate::Exporter::handle`]), sampling every trace.
    pub fn new(handle: Handle) -> Self {
        Self::build(handle, LayerConfig::default())
    }

    /// A layer with these settings.
    pub fn with_config(handle: Handle, config: LayerConfig) -> Result<Self, LayerConfigError> {
        config.validate()?;
        Ok(Self::build(handle, config))
    }

    fn build(handle: Handle, config: LayerConfig) -> Self {
        OtlpLayer {
            handle,
            sampler: Sampler::new(config.sampling_ratio),
            ignored: Ignored::new(&config.ignored_crates),
            config,
            with_state: None,
        }
    }

    /// The settings.
    pub fn config(&self) -> &LayerConfig {
        &self.config
    }

    /// Makes `span` the child of a remote span (the caller of a request, its
    /// context extracted from the request's headers): same trace, the
    /// remote span as parent, its sampling decision and tracestate. Call it
    /// right after creating the span, before its children: they take their
    /// trace from it when they are created.
    pub fn set_parent(span: &tracing::Span, parent: &SpanContext) -> Result<(), ContextError> {
        context::with_state(span, Op::SetParent(parent)).map(drop)
    }

    /// [`Self::set_parent`] from the W3C `traceparent` (and `tracestate`)
    /// header values; a malformed `traceparent` is
    /// [`ContextError::Traceparent`] and leaves the span as it was.
    pub fn set_parent_from_headers(
        span: &tracing::Span,
        traceparent: &str,
        tracestate: Option<&str>,
    ) -> Result<(), ContextError> {
        let parent = SpanContext::from_headers(traceparent, tracestate)?;
        Self::set_parent(span, &parent)
    }

    /// The context to propagate to a callee of `span`
    /// ([`SpanContext::traceparent`]). A span under an unsampled parent
    /// gives its trace, unsampled, with its nearest recorded ancestor as the
    /// parent.
    pub fn span_context(span: &tracing::Span) -> Result<SpanContext, ContextError> {
        context::with_state(span, Op::Context)?.ok_or(ContextError::NotRecorded)
    }
}

/// Now, ns since the Unix epoch.
#[inline]
fn now() -> u64 {
    unix_nanos(SystemTime::now())
}

/// OTLP severity of a `tracing` level.
fn severity(level: Level) -> Severity {
    match level {
        Level::TRACE => Severity::TRACE,
        Level::DEBUG => Severity::DEBUG,
        Level::INFO => Severity::INFO,
        Level::WARN => Severity::WARN,
        Level::ERROR => Severity::ERROR,
    }
}

impl OtlpLayer {
    /// A new span with its ids (from its parent, or a new trace) and whether
    /// it is sampled; `None` under an unsampled parent.
    fn start<S>(&self, span: &tracing_subscriber::registry::SpanRef<'_, S>) -> Option<(Span, bool)>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let parent = span.parent();
        let local = parent.as_ref().and_then(|p| {
            let ext = p.extensions();
            if let Some(r) = ext.get::<Recorded>() {
                Some(r.sampled.then(|| (r.span.trace_id, r.span.span_id, r.span.trace_state.clone())))
            } else {
                ext.get::<Unsampled>().map(|_| None)
            }
        });
        let (trace_id, parent_span_id, trace_state, sampled) = match local {
            Some(None) => return None,
            Some(Some((trace_id, parent_id, trace_state))) => (trace_id, Some(parent_id), trace_state, true),
            // A root, or the child of a span this layer does not see.
            None => {
                let trace_id = TraceId::random();
                (trace_id, None, Str::EMPTY, self.sampler.sample(trace_id))
            }
        };
        let span = Span {
            trace_id,
            span_id: SpanId::random(),
            trace_state,
            parent_span_id,
            flags: FLAG_HAS_IS_REMOTE | if sampled { FLAG_SAMPLED } else { 0 },
            name: Str::from_static(span.metadata().name()),
            kind: SpanKind::Internal,
            start_time_unix_nano: now(),
            attributes: lists::key_values(),
            ..Span::default()
        };
        Some((span, sampled))
    }

    /// A span event from `event`, and its exception message when it is
    /// an exception (see `fields::EventFields`).
    fn span_event(&self, event: &TracingEvent<'_>) -> (Event, Option<Str>) {
        let mut e = Event {
            time_unix_nano: now(),
            name: Str::from_static(event.metadata().name()),
            attributes: lists::key_values(),
            dropped_attributes_count: 0,
        };
        let mut visit = EventFields::new(
            fields::Attributes {
                list: &mut e.attributes,
                dropped: &mut e.dropped_attributes_count,
                max: self.config.max_attributes_per_span,
                replace: false,
            },
            true,
        );
        event.record(&mut visit);
        let exception = visit.exception;
        if let Some(message) = visit.message {
            e.name = message;
        } else if exception.is_some() {
            e.name = Str::from_static("exception");
        }
        (e, exception)
    }

    /// Adds `event` to `span` (or counts it, past the limit). An ERROR
    /// event, or an exception (whatever its level, as tracing-opentelemetry
    /// does), fails a span whose status is not ok; the first exception's
    /// message becomes the description.
    fn add_event(&self, span: &mut Span, level: Level, event: Option<(Event, Option<Str>)>) {
        let (event, exception) = event.unzip();
        let exception = exception.flatten();
        if (level == Level::ERROR || exception.is_some()) && span.status.code != StatusCode::Ok {
            span.status.code = StatusCode::Error;
        }
        if let Some(message) = exception
            && span.status.code == StatusCode::Error
            && span.status.message.is_empty()
        {
            span.status.message = message;
        }
        match event {
            Some(e) if span.events.len() < self.config.max_events_per_span => {
                // The first block comes from the recycled lists, as in `SpanBuilder::event`.
                if span.events.capacity() == 0 {
                    span.events = lists::events();
                }
                span.events.push(e);
            }
            _ => span.dropped_events_count = span.dropped_events_count.saturating_add(1),
        }
    }

    /// A log record from an event outside any span.
    fn log(&self, event: &TracingEvent<'_>) {
        let meta = event.metadata();
        let now = now();
        let mut r = LogRecord {
            time_unix_nano: now,
            observed_time_unix_nano: now,
            severity_number: severity(*meta.level()),
            severity_text: Str::from_static(meta.level().as_str()),
            attributes: lists::key_values(),
            ..LogRecord::default()
        };
        let mut visit = EventFields::new(
            fields::Attributes {
                list: &mut r.attributes,
                dropped: &mut r.dropped_attributes_count,
                max: self.config.max_attributes_per_span,
                replace: false,
            },
            false,
        );
        event.record(&mut visit);
        r.body = visit.message.map(AnyValue::String);
        // A refusal (full queue) is counted by the pipeline; the caller goes on.
        self.handle.log(r);
    }
}

impl<S> Layer<S> for OtlpLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_layer(&mut self, _subscriber: &mut S) {
        self.with_state = Some(WithState::of::<S>());
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        // Without state, the span's records, links, events and close find
        // nothing to do either.
        if self.ignored.contains(attrs.metadata().target()) {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let Some((mut s, sampled)) = self.start(&span) else {
            span.extensions_mut().replace(Unsampled);
            return;
        };
        attrs.record(&mut SpanFields::new(&mut s, self.config.max_attributes_per_span, false));
        span.extensions_mut().replace(Recorded { span: s, sampled, recording: true });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        if let Some(r) = ext.get_mut::<Recorded>().filter(|r| r.recording) {
            values.record(&mut SpanFields::new(&mut r.span, self.config.max_attributes_per_span, true));
        }
    }

    fn on_follows_from(&self, id: &Id, follows: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let Some(link) = ctx.span(follows).and_then(|f| {
            f.extensions().get::<Recorded>().map(|r| Link {
                trace_id: r.span.trace_id,
                span_id: r.span.span_id,
                trace_state: r.span.trace_state.clone(),
                // The followed span is local, whatever its own parent:
                // its W3C trace flags with the sampling decision, and
                // "not remote" (not the span's own is-remote bit).
                flags: (r.span.flags & 0xff & !FLAG_SAMPLED) | u32::from(r.sampled) | FLAG_HAS_IS_REMOTE,
                ..Link::default()
            })
        }) else {
            return;
        };
        let mut ext = span.extensions_mut();
        if let Some(r) = ext.get_mut::<Recorded>().filter(|r| r.recording) {
            if r.span.links.len() < self.config.max_links_per_span {
                r.span.links.push(link);
            } else {
                r.span.dropped_links_count = r.span.dropped_links_count.saturating_add(1);
            }
        }
    }

    fn on_event(&self, event: &TracingEvent<'_>, ctx: Context<'_, S>) {
        if self.ignored.contains(event.metadata().target()) {
            return;
        }
        if let Some(span) = ctx.event_span(event) {
            /// What the event's span does with it.
            enum Target {
                /// Records it; with room for one more event or not.
                Span { room: bool },
                /// Nothing: sampled out with its span.
                Nothing,
                /// A log record: the layer holds nothing for the span.
                Log,
            }
            // Read first, so that the fields are visited without holding
            // the span's lock (a field's `Debug` impl that records into the
            // same span, `Span::record`, would wait on it for ever).
            let into = {
                let ext = span.extensions();
                match ext.get::<Recorded>() {
                    Some(r) if r.recording => {
                        Target::Span { room: r.span.events.len() < self.config.max_events_per_span }
                    }
                    Some(_) => Target::Nothing,
                    None if ext.get::<Unsampled>().is_some() => Target::Nothing,
                    None => Target::Log,
                }
            };
            match into {
                Target::Span { room } => {
                    let e = room.then(|| self.span_event(event));
                    if let Some(r) = span.extensions_mut().get_mut::<Recorded>() {
                        self.add_event(&mut r.span, *event.metadata().level(), e);
                    }
                    return;
                }
                Target::Nothing => return,
                Target::Log => {}
            }
        }
        if self.config.logs {
            self.log(event);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(r) = span.extensions_mut().remove::<Recorded>() else { return };
        let mut s = r.span;
        if !r.sampled {
            // Its lists serve the next spans instead of going back to the
            // allocator (nothing else would return them: it is not exported).
            lists::recycle_span(&mut s);
            return;
        }
        s.end_time_unix_nano = now();
        // Never blocks: a full queue refuses the span, and the pipeline
        // counts it as dropped (`DropReason::QueueFull`).
        if let Err(refused) = self.handle.try_span(s)
            && let Item::Span(mut s) = refused.item
        {
            lists::recycle_span(&mut s);
        }
    }

    // The one way to reach the layer from a `tracing::Span` (its dispatcher's
    // `downcast_ref`): `context::WithState` answers for this layer.
    #[allow(unsafe_code)]
    unsafe fn downcast_raw(&self, id: TypeId) -> Option<*const ()> {
        // SAFETY: no unsafe operation happens here; the function is unsafe by
        // the trait's contract, which is that a pointer returned for `id`
        // points to a live value of the type `id` names. `Self` is returned
        // for `TypeId::of::<Self>()` (the default behaviour), and the
        // `WithState` field, which lives as long as `self`, for
        // `TypeId::of::<WithState>()`.
        if id == TypeId::of::<Self>() {
            Some(std::ptr::from_ref(self).cast())
        } else if id == TypeId::of::<WithState>() {
            self.with_state.as_ref().map(|w| std::ptr::from_ref(w).cast())
        } else {
            None
        }
    }
}
