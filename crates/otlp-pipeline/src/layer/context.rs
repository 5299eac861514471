//! Reaching a span's state from a `tracing::Span` handle: setting a remote
//! parent, reading the context to propagate.
//!
//! A `tracing::Span` knows only its id and its dispatcher. The layer, when it
//! is attached to a subscriber, records a function that knows the
//! subscriber's concrete type ([`WithState`]); the dispatcher hands it out
//! through `downcast_ref`, as tracing-opentelemetry does for its `OtelData`.

use tracing::span::Id;
use tracing::{Dispatch, Subscriber};
use tracing_subscriber::registry::LookupSpan;

use super::{Recorded, Unsampled};
use crate::model::{FLAG_HAS_IS_REMOTE, FLAG_IS_REMOTE, SpanContext, TraceparentError};

/// Why a span's context could not be set or read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContextError {
    /// The span is disabled: no subscriber took it (filtered out by level,
    /// or no subscriber is set).
    #[error("the span is disabled: no subscriber recorded it")]
    Disabled,
    /// The span's subscriber has no [`super::OtlpLayer`].
    #[error("the span's subscriber has no OtlpLayer")]
    NoLayer,
    /// The layer holds nothing for this span: it is closed, or a per-layer
    /// filter kept it from the layer.
    #[error("the OtlpLayer holds no state for this span (closed, or filtered out of the layer)")]
    NotRecorded,
    /// A sampled remote parent came too late: the span's local parent was
    /// not sampled, so its fields were never recorded. Set the remote parent
    /// on a root span, before creating its children.
    #[error("the span's local parent was not sampled: a sampled remote parent cannot be set on it")]
    UnsampledLocalParent,
    /// The `traceparent` header is malformed.
    #[error(transparent)]
    Traceparent(#[from] TraceparentError),
}

/// What to do with a span's state.
#[derive(Clone, Copy, Debug)]
pub(super) enum Op<'a> {
    /// Make the span a child of this remote span.
    SetParent(&'a SpanContext),
    /// Read the context to propagate to a callee.
    Context,
}

/// Runs an [`Op`] on a span of the subscriber the layer was attached to.
#[derive(Clone, Copy, Debug)]
pub(super) struct WithState(pub(super) fn(&Dispatch, &Id, Op<'_>) -> Result<Option<SpanContext>, ContextError>);

impl WithState {
    /// The function for subscribers of type `S`.
    pub(super) fn of<S>() -> Self
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        WithState(run::<S>)
    }
}

fn run<S>(dispatch: &Dispatch, id: &Id, op: Op<'_>) -> Result<Option<SpanContext>, ContextError>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let subscriber = dispatch.downcast_ref::<S>().ok_or(ContextError::NoLayer)?;
    let span = subscriber.span(id).ok_or(ContextError::NotRecorded)?;
    match op {
        Op::SetParent(parent) => {
            let mut ext = span.extensions_mut();
            if let Some(r) = ext.get_mut::<Recorded>() {
                let s = &mut r.span;
                s.trace_id = parent.trace_id;
                s.parent_span_id = Some(parent.span_id);
                s.trace_state = parent.trace_state.clone();
                s.flags = u32::from(parent.trace_flags) | FLAG_HAS_IS_REMOTE | FLAG_IS_REMOTE;
                // Parent-based: the remote decision is final.
                r.sampled = parent.is_sampled();
                r.recording = r.sampled;
                if !r.recording {
                    s.attributes.clear();
                    s.events.clear();
                    s.links.clear();
                }
                Ok(None)
            } else if ext.get_mut::<Unsampled>().is_some() {
                if parent.is_sampled() { Err(ContextError::UnsampledLocalParent) } else { Ok(None) }
            } else {
                Err(ContextError::NotRecorded)
            }
        }
        Op::Context => {
            if let Some(r) = span.extensions().get::<Recorded>() {
                return Ok(Some(r.context()));
            }
            if span.extensions().get::<Unsampled>().is_none() {
                return Err(ContextError::NotRecorded);
            }
            // Nothing is held for a span under an unsampled parent; the
            // nearest recorded ancestor (its trace's root) gives the trace
            // to propagate, unsampled, so that the callee drops it too.
            span.scope()
                .skip(1)
                .find_map(|a| a.extensions().get::<Recorded>().map(Recorded::context))
                .map(|mut c| {
                    c.trace_flags &= !1;
                    Some(c)
                })
                .ok_or(ContextError::NotRecorded)
        }
    }
}

/// Runs `op` on `span`'s state through its dispatcher.
pub(super) fn with_state(span: &tracing::Span, op: Op<'_>) -> Result<Option<SpanContext>, ContextError> {
    span.with_subscriber(|(id, dispatch)| {
        let with = dispatch.downcast_ref::<WithState>().ok_or(ContextError::NoLayer)?;
        (with.0)(dispatch, id, op)
    })
    .ok_or(ContextError::Disabled)?
}
