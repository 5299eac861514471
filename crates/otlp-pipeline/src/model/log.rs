//! Log records.

use std::time::SystemTime;

use super::span::unix_nanos;
use super::{AnyValue, InstrumentationScope, KeyValue, Resource, SpanId, Str, TraceId};

/// OTLP `SeverityNumber` (1-24; 0 is unspecified). Kept as a number so that
/// every value on the wire survives a round trip.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Severity(pub i32);

impl Severity {
    /// Unspecified.
    pub const UNSPECIFIED: Severity = Severity(0);
    /// TRACE.
    pub const TRACE: Severity = Severity(1);
    /// DEBUG.
    pub const DEBUG: Severity = Severity(5);
    /// INFO.
    pub const INFO: Severity = Severity(9);
    /// WARN.
    pub const WARN: Severity = Severity(13);
    /// ERROR.
    pub const ERROR: Severity = Severity(17);
    /// FATAL.
    pub const FATAL: Severity = Severity(21);
}

/// One log record: OTLP `LogRecord`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogRecord {
    /// When the event happened, ns (0 if unknown).
    pub time_unix_nano: u64,
    /// When the pipeline saw it, ns.
    pub observed_time_unix_nano: u64,
    /// Severity number.
    pub severity_number: Severity,
    /// Severity as the source wrote it ("INFO").
    pub severity_text: Str,
    /// The body; `None` when absent.
    pub body: Option<AnyValue>,
    /// Record attributes.
    pub attributes: Vec<KeyValue>,
    /// Attributes the producer discarded.
    pub dropped_attributes_count: u32,
    /// W3C trace flags of the associated span.
    pub flags: u32,
    /// Associated trace, if any.
    pub trace_id: Option<TraceId>,
    /// Associated span, if any.
    pub span_id: Option<SpanId>,
    /// Event name, for records that are events.
    pub event_name: Str,
}

impl LogRecord {
    /// Starts a record observed now.
    pub fn builder() -> LogRecordBuilder {
        let now = unix_nanos(SystemTime::now());
        LogRecordBuilder {
            // The list is taken here, as in `Span::builder`, not in `attr`.
            record: LogRecord {
                time_unix_nano: now,
                observed_time_unix_nano: now,
                attributes: super::lists::key_values(),
                ..Default::default()
            },
        }
    }
}

/// Builds a [`LogRecord`]: `LogRecord::builder().severity(Severity::INFO, "INFO").body("hi").build()`.
#[derive(Clone, Debug)]
#[must_use]
pub struct LogRecordBuilder {
    record: LogRecord,
}

impl LogRecordBuilder {
    /// Sets event and observed time, ns since the Unix epoch.
    pub fn times(mut self, time_unix_nano: u64, observed_unix_nano: u64) -> Self {
        self.record.time_unix_nano = time_unix_nano;
        self.record.observed_time_unix_nano = observed_unix_nano;
        self
    }
    /// Sets severity number and text.
    pub fn severity(mut self, number: Severity, text: impl Into<Str>) -> Self {
        self.record.severity_number = number;
        self.record.severity_text = text.into();
        self
    }
    /// Sets the body.
    pub fn body(mut self, body: impl Into<AnyValue>) -> Self {
        self.record.body = Some(body.into());
        self
    }
    /// Adds an attribute.
    pub fn attr(mut self, key: impl Into<Str>, value: impl Into<AnyValue>) -> Self {
        self.record.attributes.push(KeyValue::new(key, value));
        self
    }
    /// Ties the record to a span.
    pub fn span_context(mut self, trace_id: TraceId, span_id: SpanId, flags: u32) -> Self {
        self.record.trace_id = Some(trace_id);
        self.record.span_id = Some(span_id);
        self.record.flags = flags;
        self
    }
    /// Sets the event name.
    pub fn event_name(mut self, name: impl Into<Str>) -> Self {
        self.record.event_name = name.into();
        self
    }
    /// Finishes the record.
    pub fn build(self) -> LogRecord {
        self.record
    }
}

/// Log records from one scope: OTLP `ScopeLogs`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScopeLogs {
    /// The producing library.
    pub scope: InstrumentationScope,
    /// The records.
    pub log_records: Vec<LogRecord>,
    /// Schema URL of the log data.
    pub schema_url: Str,
}

/// Log records from one resource: OTLP `ResourceLogs`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResourceLogs {
    /// The producing entity.
    pub resource: Resource,
    /// Records grouped by scope.
    pub scope_logs: Vec<ScopeLogs>,
    /// Schema URL of the resource.
    pub schema_url: Str,
}

/// A batch of log records: OTLP `LogsData`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogsData {
    /// Records grouped by resource.
    pub resource_logs: Vec<ResourceLogs>,
}

impl LogsData {
    /// One resource, one scope, these records.
    pub fn single(resource: Resource, scope: InstrumentationScope, log_records: Vec<LogRecord>) -> Self {
        LogsData {
            resource_logs: vec![ResourceLogs {
                resource,
                scope_logs: vec![ScopeLogs { scope, log_records, schema_url: Str::EMPTY }],
                schema_url: Str::EMPTY,
            }],
        }
    }

    /// Number of records in the batch.
    pub fn record_count(&self) -> usize {
        self.resource_logs.iter().flat_map(|r| &r.scope_logs).map(|s| s.log_records.len()).sum()
    }
}
