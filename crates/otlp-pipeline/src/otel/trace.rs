//! `OtlpSpanProcessor`: ended SDK spans into the pipeline.

use std::time::Duration;

use opentelemetry::Context;
use opentelemetry::trace::{SpanContext as OtelSpanContext, Status as OtelStatus, TraceFlags};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanProcessor};

use super::{attributes, cow, push_scope};
use crate::model::{
    Event, FLAG_HAS_IS_REMOTE, FLAG_IS_REMOTE, Link, Span, SpanId, SpanKind, Status, StatusCode, Str, TraceId, lists,
    unix_nanos,
};
use crate::pipeline::{Handle, Item};

/// A `SpanProcessor` that hands each ended span to a pipeline's [`Handle`];
/// see the [module docs](super).
#[derive(Clone, Debug)]
pub struct OtlpSpanProcessor {
    handle: Handle,
    scope_attributes: bool,
}

impl OtlpSpanProcessor {
    /// A processor that offers spans to `handle` (an exporter's,
    /// [`crate::Exporter::handle`]), each with its scope as attributes.
    pub fn new(handle: Handle) -> Self {
        OtlpSpanProcessor { handle, scope_attributes: true }
    }

    /// Whether each span gets its instrumentation scope as the attributes
    /// `otel.scope.name` and `otel.scope.version` (default on: the pipeline
    /// exports every span under the exporter's one scope, so the span's own
    /// would otherwise be lost). Off, when the app has a single tracer whose
    /// scope is the exporter's.
    #[must_use]
    pub fn scope_attributes(mut self, on: bool) -> Self {
        self.scope_attributes = on;
        self
    }

    /// The span as this crate's.
    pub fn convert(&self, data: SpanData) -> Span {
        let cx = &data.span_context;
        let mut attrs = attributes(&data.attributes);
        if self.scope_attributes {
            let scope = &data.instrumentation_scope;
            push_scope(&mut attrs, scope.name(), scope.version());
        }
        let mut events = Vec::new();
        if !data.events.is_empty() {
            events = lists::events();
            events.extend(data.events.events.into_iter().map(|e| Event {
                time_unix_nano: unix_nanos(e.timestamp),
                name: cow(e.name),
                attributes: attributes(&e.attributes),
                dropped_attributes_count: e.dropped_attributes_count,
            }));
        }
        let parent = data.parent_span_id;
        Span {
            trace_id: TraceId(cx.trace_id().to_bytes()),
            span_id: SpanId(cx.span_id().to_bytes()),
            trace_state: trace_state(cx),
            parent_span_id: (parent != opentelemetry::trace::SpanId::INVALID).then(|| SpanId(parent.to_bytes())),
            flags: flags(cx.trace_flags(), data.parent_span_is_remote),
            name: cow(data.name),
            kind: kind(&data.span_kind),
            start_time_unix_nano: unix_nanos(data.start_time),
            end_time_unix_nano: unix_nanos(data.end_time),
            attributes: attrs,
            dropped_attributes_count: data.dropped_attributes_count,
            events,
            dropped_events_count: data.events.dropped_count,
            links: data.links.links.iter().map(link).collect(),
            dropped_links_count: data.links.dropped_count,
            status: match data.status {
                OtelStatus::Unset => Status::default(),
                OtelStatus::Ok => Status::OK,
                OtelStatus::Error { description } => Status { code: StatusCode::Error, message: cow(description) },
            },
        }
    }
}

/// `Span.flags` as `opentelemetry-proto` builds them: the W3C trace flags,
/// "is remote is known", and "is remote".
fn flags(trace_flags: TraceFlags, remote: bool) -> u32 {
    u32::from(trace_flags.to_u8()) | FLAG_HAS_IS_REMOTE | if remote { FLAG_IS_REMOTE } else { 0 }
}

fn trace_state(cx: &OtelSpanContext) -> Str {
    let header = cx.trace_state().header();
    if header.is_empty() { Str::EMPTY } else { Str::from(header) }
}

fn kind(k: &opentelemetry::trace::SpanKind) -> SpanKind {
    use opentelemetry::trace::SpanKind as K;
    match k {
        K::Client => SpanKind::Client,
        K::Server => SpanKind::Server,
        K::Producer => SpanKind::Producer,
        K::Consumer => SpanKind::Consumer,
        K::Internal => SpanKind::Internal,
    }
}

fn link(l: &opentelemetry::trace::Link) -> Link {
    let cx = &l.span_context;
    Link {
        trace_id: TraceId(cx.trace_id().to_bytes()),
        span_id: SpanId(cx.span_id().to_bytes()),
        trace_state: trace_state(cx),
        attributes: attributes(&l.attributes),
        dropped_attributes_count: l.dropped_attributes_count,
        flags: flags(cx.trace_flags(), cx.is_remote()),
    }
}

impl SpanProcessor for OtlpSpanProcessor {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        // Never blocks: a full queue refuses the span, and the pipeline
        // counts it as dropped (`DropReason::QueueFull`).
        if let Err(refused) = self.handle.try_span(self.convert(span))
            && let Item::Span(mut s) = refused.item
        {
            lists::recycle_span(&mut s);
        }
    }

    /// Nothing is held here; the exporter flushes the pipeline (module docs).
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    /// Nothing is held here; the exporter shuts the pipeline down (module docs).
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}
