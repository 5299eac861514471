//! What the direct decoder reports: the wire error and the message and field
//! it was found in.

use std::fmt;

/// The message being decoded when a wire error occurred.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message {
    /// `ExportTraceServiceRequest` / `TracesData`.
    TracesData,
    /// `ExportMetricsServiceRequest` / `MetricsData`.
    MetricsData,
    /// `ExportLogsServiceRequest` / `LogsData`.
    LogsData,
    /// `ResourceSpans`.
    ResourceSpans,
    /// `ScopeSpans`.
    ScopeSpans,
    /// `Span`.
    Span,
    /// `Span.Event`.
    Event,
    /// `Span.Link`.
    Link,
    /// `Status`.
    Status,
    /// `ResourceMetrics`.
    ResourceMetrics,
    /// `ScopeMetrics`.
    ScopeMetrics,
    /// `Metric`.
    Metric,
    /// `Gauge`.
    Gauge,
    /// `Sum`.
    Sum,
    /// `Histogram`.
    Histogram,
    /// `ExponentialHistogram`.
    ExponentialHistogram,
    /// `Summary`.
    Summary,
    /// `NumberDataPoint`.
    NumberDataPoint,
    /// `HistogramDataPoint`.
    HistogramDataPoint,
    /// `ExponentialHistogramDataPoint`.
    ExponentialHistogramDataPoint,
    /// `ExponentialHistogramDataPoint.Buckets`.
    Buckets,
    /// `SummaryDataPoint`.
    SummaryDataPoint,
    /// `SummaryDataPoint.ValueAtQuantile`.
    ValueAtQuantile,
    /// `Exemplar`.
    Exemplar,
    /// `ResourceLogs`.
    ResourceLogs,
    /// `ScopeLogs`.
    ScopeLogs,
    /// `LogRecord`.
    LogRecord,
    /// `Resource`.
    Resource,
    /// `EntityRef`.
    EntityRef,
    /// `InstrumentationScope`.
    InstrumentationScope,
    /// `KeyValue`.
    KeyValue,
    /// `AnyValue`.
    AnyValue,
    /// `ArrayValue`.
    ArrayValue,
    /// `KeyValueList`.
    KeyValueList,
}

impl Message {
    /// The field's name in the OTLP `.proto`, or `None` for a field number
    /// the message does not define.
    pub fn field_name(self, tag: u32) -> Option<&'static str> {
        use Message as M;
        let names: &[&str] = match self {
            M::TracesData => &["resource_spans"],
            M::MetricsData => &["resource_metrics"],
            M::LogsData => &["resource_logs"],
            M::ResourceSpans => &["resource", "scope_spans", "schema_url"],
            M::ScopeSpans => &["scope", "spans", "schema_url"],
            M::Span => &[
                "trace_id",
                "span_id",
                "trace_state",
                "parent_span_id",
                "name",
                "kind",
                "start_time_unix_nano",
                "end_time_unix_nano",
                "attributes",
                "dropped_attributes_count",
                "events",
                "dropped_events_count",
                "links",
                "dropped_links_count",
                "status",
                "flags",
            ],
            M::Event => &["time_unix_nano", "name", "attributes", "dropped_attributes_count"],
            M::Link => &["trace_id", "span_id", "trace_state", "attributes", "dropped_attributes_count", "flags"],
            M::Status => &["", "message", "code"],
            M::ResourceMetrics => &["resource", "scope_metrics", "schema_url"],
            M::ScopeMetrics => &["scope", "metrics", "schema_url"],
            M::Metric => &[
                "name",
                "description",
                "unit",
                "",
                "gauge",
                "",
                "sum",
                "",
                "histogram",
                "exponential_histogram",
                "summary",
                "metadata",
            ],
            M::Gauge | M::Summary => &["data_points"],
            M::Sum => &["data_points", "aggregation_temporality", "is_monotonic"],
            M::Histogram | M::ExponentialHistogram => &["data_points", "aggregation_temporality"],
            M::NumberDataPoint => &[
                "",
                "start_time_unix_nano",
                "time_unix_nano",
                "as_double",
                "exemplars",
                "as_int",
                "attributes",
                "flags",
            ],
            M::HistogramDataPoint => &[
                "",
                "start_time_unix_nano",
                "time_unix_nano",
                "count",
                "sum",
                "bucket_counts",
                "explicit_bounds",
                "exemplars",
                "attributes",
                "flags",
                "min",
                "max",
            ],
            M::ExponentialHistogramDataPoint => &[
                "attributes",
                "start_time_unix_nano",
                "time_unix_nano",
                "count",
                "sum",
                "scale",
                "zero_count",
                "positive",
                "negative",
                "flags",
                "exemplars",
                "min",
                "max",
                "zero_threshold",
            ],
            M::Buckets => &["offset", "bucket_counts"],
            M::SummaryDataPoint => &[
                "",
                "start_time_unix_nano",
                "time_unix_nano",
                "count",
                "sum",
                "quantile_values",
                "attributes",
                "flags",
            ],
            M::ValueAtQuantile => &["quantile", "value"],
            M::Exemplar => &["", "time_unix_nano", "as_double", "span_id", "trace_id", "as_int", "filtered_attributes"],
            M::ResourceLogs => &["resource", "scope_logs", "schema_url"],
            M::ScopeLogs => &["scope", "log_records", "schema_url"],
            M::LogRecord => &[
                "time_unix_nano",
                "severity_number",
                "severity_text",
                "",
                "body",
                "attributes",
                "dropped_attributes_count",
                "flags",
                "trace_id",
                "span_id",
                "observed_time_unix_nano",
                "event_name",
            ],
            M::Resource => &["attributes", "dropped_attributes_count", "entity_refs"],
            M::EntityRef => &["schema_url", "type", "id_keys", "description_keys"],
            M::InstrumentationScope => &["name", "version", "attributes", "dropped_attributes_count"],
            M::KeyValue => &["key", "value", "key_strindex"],
            M::AnyValue => &[
                "string_value",
                "bool_value",
                "int_value",
                "double_value",
                "array_value",
                "kvlist_value",
                "bytes_value",
                "string_value_strindex",
            ],
            M::ArrayValue | M::KeyValueList => &["values"],
        };
        let i = usize::try_from(tag).ok()?.checked_sub(1)?;
        names.get(i).copied().filter(|n| !n.is_empty())
    }
}

/// What is wrong with the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireErrorKind {
    /// The input ends inside a varint, or a varint is longer than 10 bytes or
    /// overflows 64 bits.
    InvalidVarint,
    /// A field key above `u32::MAX`.
    InvalidKey,
    /// Field number 0.
    InvalidTag,
    /// Wire type 6 or 7.
    InvalidWireType,
    /// A known field with a wire type its type does not have.
    UnexpectedWireType,
    /// A length or a fixed-width value runs past the end of its message.
    Truncated,
    /// A string field that is not UTF-8.
    InvalidString,
    /// An end-group key without its start, or with another field number.
    UnexpectedEndGroup,
    /// More than 100 nested messages (or groups).
    RecursionLimit,
}

impl WireErrorKind {
    fn describe(self) -> &'static str {
        match self {
            WireErrorKind::InvalidVarint => "invalid varint",
            WireErrorKind::InvalidKey => "invalid field key",
            WireErrorKind::InvalidTag => "invalid field number 0",
            WireErrorKind::InvalidWireType => "invalid wire type",
            WireErrorKind::UnexpectedWireType => "unexpected wire type",
            WireErrorKind::Truncated => "length past the end of the message",
            WireErrorKind::InvalidString => "string is not UTF-8",
            WireErrorKind::UnexpectedEndGroup => "unexpected end-group tag",
            WireErrorKind::RecursionLimit => "recursion limit reached",
        }
    }
}

/// A wire-format error of the direct decoder: what, and the innermost
/// message and field number it was found in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WireError {
    /// What is wrong.
    pub kind: WireErrorKind,
    /// The innermost message being decoded, and the field number (0 when the
    /// error is in a field key).
    pub at: Option<(Message, u32)>,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.describe())?;
        match self.at {
            None => Ok(()),
            Some((m, 0)) => write!(f, " in a field key of {m:?}"),
            Some((m, tag)) => match m.field_name(tag) {
                Some(name) => write!(f, " in {m:?}.{name} (field {tag})"),
                None => write!(f, " in {m:?} field {tag} (unknown)"),
            },
        }
    }
}

impl std::error::Error for WireError {}
