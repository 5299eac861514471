//! Spans and their batch structure.

use std::time::{SystemTime, UNIX_EPOCH};

use super::lists;
use super::{AnyValue, InstrumentationScope, KeyValue, Resource, SpanId, Str, TraceId};

/// The role of a span in a trace: OTLP `Span.SpanKind`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum SpanKind {
    /// Not specified (treated as internal by backends).
    #[default]
    Unspecified = 0,
    /// An internal operation.
    Internal = 1,
    /// Server side of a synchronous request.
    Server = 2,
    /// Client side of a synchronous request.
    Client = 3,
    /// Sender of an asynchronous message.
    Producer = 4,
    /// Receiver of an asynchronous message.
    Consumer = 5,
}

impl SpanKind {
    /// The enum from its OTLP number; unknown numbers map to `Unspecified`.
    pub fn from_i32(v: i32) -> Self {
        match v {
            1 => SpanKind::Internal,
            2 => SpanKind::Server,
            3 => SpanKind::Client,
            4 => SpanKind::Producer,
            5 => SpanKind::Consumer,
            _ => SpanKind::Unspecified,
        }
    }
}

/// Outcome of a span: OTLP `Status.StatusCode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum StatusCode {
    /// The default: no status set.
    #[default]
    Unset = 0,
    /// Explicitly successful.
    Ok = 1,
    /// Failed.
    Error = 2,
}

impl StatusCode {
    /// The enum from its OTLP number; unknown numbers map to `Unset`.
    pub fn from_i32(v: i32) -> Self {
        match v {
            1 => StatusCode::Ok,
            2 => StatusCode::Error,
            _ => StatusCode::Unset,
        }
    }
}

/// Span status: a code and an optional message.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Status {
    /// The code.
    pub code: StatusCode,
    /// A developer-facing message, usually only for `Error`.
    pub message: Str,
}

impl Status {
    /// `Ok`, no message.
    pub const OK: Status = Status { code: StatusCode::Ok, message: Str::EMPTY };

    /// `Error` with a message.
    pub fn error(message: impl Into<Str>) -> Self {
        Status { code: StatusCode::Error, message: message.into() }
    }

    /// True when nothing is set: OTLP then omits the status.
    pub fn is_unset(&self) -> bool {
        self.code == StatusCode::Unset && self.message.is_empty()
    }
}

/// A timestamped event inside a span.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Event {
    /// When it happened, ns since the Unix epoch.
    pub time_unix_nano: u64,
    /// Event name.
    pub name: Str,
    /// Event attributes.
    pub attributes: Vec<KeyValue>,
    /// Attributes the producer discarded.
    pub dropped_attributes_count: u32,
}

impl Event {
    /// An event without attributes.
    pub fn new(name: impl Into<Str>, time_unix_nano: u64) -> Self {
        // The list is taken here, as in `Span::builder`, not in `attr`.
        Event { time_unix_nano, name: name.into(), attributes: lists::key_values(), ..Default::default() }
    }

    /// Adds an attribute.
    pub fn attr(mut self, key: impl Into<Str>, value: impl Into<AnyValue>) -> Self {
        self.attributes.push(KeyValue::new(key, value));
        self
    }
}

/// A link from a span to another span, possibly in another trace.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Link {
    /// Linked trace.
    pub trace_id: TraceId,
    /// Linked span.
    pub span_id: SpanId,
    /// W3C tracestate of the linked context.
    pub trace_state: Str,
    /// Link attributes.
    pub attributes: Vec<KeyValue>,
    /// Attributes the producer discarded.
    pub dropped_attributes_count: u32,
    /// W3C trace flags and the remote bits (see [`Span::flags`]).
    pub flags: u32,
}

/// One operation: OTLP `Span`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Span {
    /// The trace this span belongs to.
    pub trace_id: TraceId,
    /// This span.
    pub span_id: SpanId,
    /// W3C tracestate.
    pub trace_state: Str,
    /// The parent span; `None` for a root span.
    pub parent_span_id: Option<SpanId>,
    /// Bits 0-7: W3C trace flags; bit 8: "is remote" is known; bit 9: parent is remote.
    pub flags: u32,
    /// Operation name.
    pub name: Str,
    /// Span kind.
    pub kind: SpanKind,
    /// Start, ns since the Unix epoch.
    pub start_time_unix_nano: u64,
    /// End, ns since the Unix epoch.
    pub end_time_unix_nano: u64,
    /// Span attributes.
    pub attributes: Vec<KeyValue>,
    /// Attributes the producer discarded.
    pub dropped_attributes_count: u32,
    /// Span events.
    pub events: Vec<Event>,
    /// Events the producer discarded.
    pub dropped_events_count: u32,
    /// Links to other spans.
    pub links: Vec<Link>,
    /// Links the producer discarded.
    pub dropped_links_count: u32,
    /// Span status.
    pub status: Status,
}

/// Sampled bit of the W3C trace flags.
pub const FLAG_SAMPLED: u32 = 0x01;
/// `Span.flags` bit: whether the parent is remote is known.
pub const FLAG_HAS_IS_REMOTE: u32 = 0x100;
/// `Span.flags` bit: the parent is remote.
pub const FLAG_IS_REMOTE: u32 = 0x200;

/// Nanoseconds since the Unix epoch for a `SystemTime` (0 before the epoch).
pub fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

impl Span {
    /// The context to propagate to a callee (`traceparent`/`tracestate`).
    pub fn context(&self) -> super::SpanContext {
        super::SpanContext {
            trace_id: self.trace_id,
            span_id: self.span_id,
            trace_flags: (self.flags & 0xff) as u8,
            trace_state: self.trace_state.clone(),
        }
    }

    /// Starts a span, sampled, kind internal. Whatever the setters leave
    /// unset is filled in by [`SpanBuilder::build`]: fresh random trace and
    /// span ids, and the current time as start and end. So a caller that
    /// knows its ids and times pays for neither a draw nor a clock read.
    pub fn builder(name: impl Into<Str>) -> SpanBuilder {
        SpanBuilder {
            span: Span {
                flags: FLAG_SAMPLED,
                name: name.into(),
                kind: SpanKind::Internal,
                // Taken here, before the builder exists, rather than in a
                // setter: a call inside the chain makes the compiler copy
                // the whole builder around it.
                attributes: lists::key_values(),
                ..Default::default()
            },
        }
    }
}

/// Builds a [`Span`]: `Span::builder("GET /users").kind(SpanKind::Server).attr("k", "v").build()`.
#[derive(Clone, Debug)]
#[must_use]
pub struct SpanBuilder {
    span: Span,
}

impl SpanBuilder {
    /// Sets the trace id.
    #[inline]
    pub fn trace_id(mut self, id: TraceId) -> Self {
        self.span.trace_id = id;
        self
    }
    /// Sets the span id.
    #[inline]
    pub fn span_id(mut self, id: SpanId) -> Self {
        self.span.span_id = id;
        self
    }
    /// Makes this a child of `parent` in the same trace.
    #[inline]
    pub fn parent(mut self, trace_id: TraceId, parent: SpanId) -> Self {
        self.span.trace_id = trace_id;
        self.span.parent_span_id = Some(parent);
        self
    }
    /// Makes this the server side of a call that arrived with `remote`
    /// (extracted from `traceparent`): same trace, remote parent, its flags
    /// and tracestate.
    #[inline]
    pub fn child_of_remote(mut self, remote: &super::SpanContext) -> Self {
        self.span.trace_id = remote.trace_id;
        self.span.parent_span_id = Some(remote.span_id);
        self.span.flags = u32::from(remote.trace_flags) | FLAG_HAS_IS_REMOTE | FLAG_IS_REMOTE;
        self.span.trace_state = remote.trace_state.clone();
        self
    }
    /// Sets the flags (see [`Span::flags`]).
    #[inline]
    pub fn flags(mut self, flags: u32) -> Self {
        self.span.flags = flags;
        self
    }
    /// Sets the W3C tracestate.
    #[inline]
    pub fn trace_state(mut self, state: impl Into<Str>) -> Self {
        self.span.trace_state = state.into();
        self
    }
    /// Sets the kind.
    #[inline]
    pub fn kind(mut self, kind: SpanKind) -> Self {
        self.span.kind = kind;
        self
    }
    /// Sets start and end, ns since the Unix epoch.
    #[inline]
    pub fn times(mut self, start_unix_nano: u64, end_unix_nano: u64) -> Self {
        self.span.start_time_unix_nano = start_unix_nano;
        self.span.end_time_unix_nano = end_unix_nano;
        self
    }
    /// Sets start and end from `SystemTime`s.
    #[inline]
    pub fn system_times(self, start: SystemTime, end: SystemTime) -> Self {
        self.times(unix_nanos(start), unix_nanos(end))
    }
    /// Adds an attribute.
    #[inline]
    pub fn attr(mut self, key: impl Into<Str>, value: impl Into<AnyValue>) -> Self {
        self.span.attributes.push(KeyValue::new(key, value));
        self
    }
    /// Adds attributes: `.attributes([KeyValue::new("k", "v"), ..])`. One
    /// call for many pairs: each setter call moves the whole builder, a
    /// few hundred bytes, which the compiler cannot always avoid.
    #[inline]
    pub fn attributes(mut self, attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        self.span.attributes.extend(attributes);
        self
    }
    /// Reserves room for `n` more attributes (avoids regrowth in hot loops).
    #[inline]
    pub fn with_capacity(mut self, attributes: usize) -> Self {
        self.span.attributes.reserve_exact(attributes);
        self
    }
    /// Adds an event.
    #[inline]
    pub fn event(mut self, event: Event) -> Self {
        // The first block comes from the recycled lists (crate::model::lists).
        if self.span.events.capacity() == 0 {
            self.span.events = lists::events();
        }
        self.span.events.push(event);
        self
    }
    /// Adds a link.
    #[inline]
    pub fn link(mut self, link: Link) -> Self {
        self.span.links.push(link);
        self
    }
    /// Sets the status.
    #[inline]
    pub fn status(mut self, status: Status) -> Self {
        self.span.status = status;
        self
    }
    /// Finishes the span. An all-zero id (invalid in OTLP and W3C) means
    /// unset and is drawn at random here; so are zero start and end times,
    /// which become now.
    #[inline]
    pub fn build(mut self) -> Span {
        let s = &mut self.span;
        if s.trace_id == TraceId::default() {
            s.trace_id = TraceId::random();
        }
        if s.span_id == SpanId::default() {
            s.span_id = SpanId::random();
        }
        if s.start_time_unix_nano == 0 && s.end_time_unix_nano == 0 {
            let now = unix_nanos(SystemTime::now());
            (s.start_time_unix_nano, s.end_time_unix_nano) = (now, now);
        }
        self.span
    }
}

/// Spans from one instrumentation scope: OTLP `ScopeSpans`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScopeSpans {
    /// The producing library.
    pub scope: InstrumentationScope,
    /// The spans.
    pub spans: Vec<Span>,
    /// Schema URL of the span data.
    pub schema_url: Str,
}

/// Spans from one resource: OTLP `ResourceSpans`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResourceSpans {
    /// The producing entity.
    pub resource: Resource,
    /// Spans grouped by scope.
    pub scope_spans: Vec<ScopeSpans>,
    /// Schema URL of the resource.
    pub schema_url: Str,
}

/// A batch of spans: OTLP `TracesData` (the body of an export request).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TracesData {
    /// Spans grouped by resource.
    pub resource_spans: Vec<ResourceSpans>,
}

impl TracesData {
    /// One resource, one scope, these spans.
    pub fn single(resource: Resource, scope: InstrumentationScope, spans: Vec<Span>) -> Self {
        TracesData {
            resource_spans: vec![ResourceSpans {
                resource,
                scope_spans: vec![ScopeSpans { scope, spans, schema_url: Str::EMPTY }],
                schema_url: Str::EMPTY,
            }],
        }
    }

    /// Every span of the batch, resource by resource, scope by scope.
    pub fn spans(&self) -> impl Iterator<Item = &Span> {
        self.resource_spans.iter().flat_map(|r| &r.scope_spans).flat_map(|s| &s.spans)
    }

    /// Number of spans in the batch.
    pub fn span_count(&self) -> usize {
        self.resource_spans.iter().flat_map(|r| &r.scope_spans).map(|s| s.spans.len()).sum()
    }
}
