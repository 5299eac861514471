//! The telemetry model: plain data for spans, metrics and logs, shaped like
//! OTLP's messages so that every encoder maps it one to one.
//!
//! Owns: the types, their builders, and the recycled attribute and event
//! lists the builders take ([`lists`]; the pipeline hands an encoded batch's
//! lists back there). Does not own: any encoding, I/O, or the byte buffers
//! and arenas of the data path ([`crate::pool`]).
//!
//! Strings are [`Str`] (static, owned or shared without copying), ids are
//! fixed-size newtypes with hex `Display`/`FromStr`.

mod common;
mod context;
pub(crate) mod ids;
pub mod lists;
mod log;
mod metric;
mod span;
mod str;

pub use common::{AnyValue, InstrumentationScope, KeyValue, Resource};
pub use context::{SpanContext, TraceparentError};
pub use ids::{ParseIdError, SpanId, TraceId};
pub use log::{LogRecord, LogRecordBuilder, LogsData, ResourceLogs, ScopeLogs, Severity};
pub use metric::{
    ExpBuckets, ExponentialHistogramDataPoint, HistogramDataPoint, Metric, MetricData, MetricsData, NumberDataPoint,
    NumberValue, ResourceMetrics, ScopeMetrics, Temporality,
};
pub use span::{
    Event, FLAG_HAS_IS_REMOTE, FLAG_IS_REMOTE, FLAG_SAMPLED, Link, ResourceSpans, ScopeSpans, Span, SpanBuilder,
    SpanKind, Status, StatusCode, TracesData, unix_nanos,
};
pub use str::Str;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_guards() {
        // Growth of these is deliberate: they are copied per attribute and per span.
        assert_eq!(size_of::<Str>(), 32);
        assert_eq!(size_of::<AnyValue>(), 40);
        assert_eq!(size_of::<KeyValue>(), 72);
    }

    #[test]
    fn builder_reads_naturally() {
        let s =
            Span::builder("GET /users").kind(SpanKind::Server).attr("http.request.method", "GET").attr("n", 3).build();
        assert_eq!(s.name, "GET /users");
        assert_eq!(s.kind, SpanKind::Server);
        assert_eq!(s.attributes[1].value, AnyValue::Int(3));
        assert!(s.trace_id.is_valid() && s.span_id.is_valid());
    }
}
