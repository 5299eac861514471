//! proptest strategies that generate whole telemetry models, edge cases
//! included: empty and non-ASCII strings, nested arrays and key-value lists,
//! NaN and infinite doubles, zero ids, empty batches, missing optional fields.
#![allow(dead_code)]

use otlp_pipeline::model::*;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

/// Strings: often empty or short ASCII, sometimes long or non-ASCII.
pub fn text() -> impl Strategy<Value = Str> {
    prop_oneof![
        3 => "[a-z._]{0,12}",
        1 => "\\PC{0,40}",
        1 => "[a-zA-Z0-9 /:?=&]{100,300}",
        1 => Just(String::new()),
    ]
    .prop_map(Str::from)
}

/// Doubles including NaN, infinities and signed zeros.
pub fn double() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => any::<f64>(),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(-0.0),
        1 => Just(0.0),
    ]
}

/// A double for an implicit-presence field: proto3 does not write 0.0, so
/// -0.0 cannot survive a round trip there (nor in prost); leave it out.
pub fn plain_double() -> impl Strategy<Value = f64> {
    double().prop_map(|d| if d == 0.0 { 0.0 } else { d })
}

pub fn any_value() -> impl Strategy<Value = AnyValue> {
    let leaf = prop_oneof![
        Just(AnyValue::Empty),
        text().prop_map(AnyValue::String),
        any::<bool>().prop_map(AnyValue::Bool),
        any::<i64>().prop_map(AnyValue::Int),
        double().prop_map(AnyValue::Double),
        vec(any::<u8>(), 0..40).prop_map(|b| AnyValue::Bytes(b.into())),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(AnyValue::Array),
            vec((text(), inner), 0..4).prop_map(|kvs| AnyValue::KvList(
                kvs.into_iter().map(|(key, value)| KeyValue { key, value }).collect()
            )),
        ]
    })
}

pub fn key_values() -> impl Strategy<Value = Vec<KeyValue>> {
    vec((text(), any_value()).prop_map(|(key, value)| KeyValue { key, value }), 0..5)
}

fn trace_id() -> impl Strategy<Value = TraceId> {
    prop_oneof![1 => Just(TraceId::INVALID), 4 => any::<[u8; 16]>().prop_map(TraceId)]
}

fn span_id() -> impl Strategy<Value = SpanId> {
    prop_oneof![1 => Just(SpanId::INVALID), 4 => any::<[u8; 8]>().prop_map(SpanId)]
}

fn resource() -> impl Strategy<Value = Resource> {
    (key_values(), any::<u32>())
        .prop_map(|(attributes, dropped_attributes_count)| Resource { attributes, dropped_attributes_count })
}

fn scope() -> impl Strategy<Value = InstrumentationScope> {
    (text(), text(), key_values(), any::<u32>()).prop_map(|(name, version, attributes, dropped_attributes_count)| {
        InstrumentationScope { name, version, attributes, dropped_attributes_count }
    })
}

fn kind() -> impl Strategy<Value = SpanKind> {
    (0..6i32).prop_map(SpanKind::from_i32)
}

fn status() -> impl Strategy<Value = Status> {
    ((0..3i32).prop_map(StatusCode::from_i32), text()).prop_map(|(code, message)| Status { code, message })
}

fn event() -> impl Strategy<Value = Event> {
    (any::<u64>(), text(), key_values(), any::<u32>()).prop_map(|(time_unix_nano, name, attributes, dropped)| Event {
        time_unix_nano,
        name,
        attributes,
        dropped_attributes_count: dropped,
    })
}

fn link() -> impl Strategy<Value = Link> {
    (trace_id(), span_id(), text(), key_values(), any::<u32>(), any::<u32>()).prop_map(
        |(trace_id, span_id, trace_state, attributes, dropped_attributes_count, flags)| Link {
            trace_id,
            span_id,
            trace_state,
            attributes,
            dropped_attributes_count,
            flags,
        },
    )
}

pub fn span() -> impl Strategy<Value = Span> {
    (
        (trace_id(), span_id(), text(), option::of(span_id()), any::<u32>(), text(), kind()),
        (any::<u64>(), any::<u64>(), key_values(), any::<u32>()),
        (vec(event(), 0..3), any::<u32>(), vec(link(), 0..2), any::<u32>(), status()),
    )
        .prop_map(|(a, b, c)| Span {
            trace_id: a.0,
            span_id: a.1,
            trace_state: a.2,
            parent_span_id: a.3,
            flags: a.4,
            name: a.5,
            kind: a.6,
            start_time_unix_nano: b.0,
            end_time_unix_nano: b.1,
            attributes: b.2,
            dropped_attributes_count: b.3,
            events: c.0,
            dropped_events_count: c.1,
            links: c.2,
            dropped_links_count: c.3,
            status: c.4,
        })
}

pub fn traces_data() -> impl Strategy<Value = TracesData> {
    let scope_spans = (scope(), vec(span(), 0..4), text()).prop_map(|(scope, spans, schema_url)| ScopeSpans {
        scope,
        spans,
        schema_url,
    });
    let resource_spans = (resource(), vec(scope_spans, 0..3), text())
        .prop_map(|(resource, scope_spans, schema_url)| ResourceSpans { resource, scope_spans, schema_url });
    vec(resource_spans, 0..3).prop_map(|resource_spans| TracesData { resource_spans })
}

fn number_point() -> impl Strategy<Value = NumberDataPoint> {
    let value =
        option::of(prop_oneof![double().prop_map(NumberValue::Double), any::<i64>().prop_map(NumberValue::Int)]);
    (key_values(), any::<u64>(), any::<u64>(), value, any::<u32>()).prop_map(
        |(attributes, start_time_unix_nano, time_unix_nano, value, flags)| NumberDataPoint {
            attributes,
            start_time_unix_nano,
            time_unix_nano,
            value,
            flags,
        },
    )
}

fn histogram_point() -> impl Strategy<Value = HistogramDataPoint> {
    (
        (key_values(), any::<u64>(), any::<u64>(), any::<u64>(), option::of(double())),
        (vec(any::<u64>(), 0..17), vec(double(), 0..16), any::<u32>(), option::of(double()), option::of(double())),
    )
        .prop_map(|(a, b)| HistogramDataPoint {
            attributes: a.0,
            start_time_unix_nano: a.1,
            time_unix_nano: a.2,
            count: a.3,
            sum: a.4,
            bucket_counts: b.0,
            explicit_bounds: b.1,
            flags: b.2,
            min: b.3,
            max: b.4,
        })
}

fn exp_buckets() -> impl Strategy<Value = ExpBuckets> {
    (any::<i32>(), vec(any::<u64>(), 0..8)).prop_map(|(offset, bucket_counts)| ExpBuckets { offset, bucket_counts })
}

fn exp_histogram_point() -> impl Strategy<Value = ExponentialHistogramDataPoint> {
    (
        (key_values(), any::<u64>(), any::<u64>(), any::<u64>(), option::of(double()), any::<i32>(), any::<u64>()),
        (
            option::of(exp_buckets()),
            option::of(exp_buckets()),
            any::<u32>(),
            option::of(double()),
            option::of(double()),
        ),
        plain_double(),
    )
        .prop_map(|(a, b, zero_threshold)| ExponentialHistogramDataPoint {
            attributes: a.0,
            start_time_unix_nano: a.1,
            time_unix_nano: a.2,
            count: a.3,
            sum: a.4,
            scale: a.5,
            zero_count: a.6,
            positive: b.0,
            negative: b.1,
            flags: b.2,
            min: b.3,
            max: b.4,
            zero_threshold,
        })
}

fn temporality() -> impl Strategy<Value = Temporality> {
    (0..3i32).prop_map(Temporality::from_i32)
}

fn metric_data() -> impl Strategy<Value = MetricData> {
    prop_oneof![
        vec(number_point(), 0..3).prop_map(MetricData::Gauge),
        (vec(number_point(), 0..3), temporality(), any::<bool>())
            .prop_map(|(points, temporality, is_monotonic)| MetricData::Sum { points, temporality, is_monotonic }),
        (vec(histogram_point(), 0..3), temporality())
            .prop_map(|(points, temporality)| MetricData::Histogram { points, temporality }),
        (vec(exp_histogram_point(), 0..3), temporality())
            .prop_map(|(points, temporality)| MetricData::ExponentialHistogram { points, temporality }),
    ]
}

pub fn metric() -> impl Strategy<Value = Metric> {
    (text(), text(), text(), option::of(metric_data()), key_values())
        .prop_map(|(name, description, unit, data, metadata)| Metric { name, description, unit, data, metadata })
}

pub fn metrics_data() -> impl Strategy<Value = MetricsData> {
    let scope_metrics = (scope(), vec(metric(), 0..4), text()).prop_map(|(scope, metrics, schema_url)| ScopeMetrics {
        scope,
        metrics,
        schema_url,
    });
    let resource_metrics = (resource(), vec(scope_metrics, 0..3), text())
        .prop_map(|(resource, scope_metrics, schema_url)| ResourceMetrics { resource, scope_metrics, schema_url });
    vec(resource_metrics, 0..3).prop_map(|resource_metrics| MetricsData { resource_metrics })
}

pub fn log_record() -> impl Strategy<Value = LogRecord> {
    (
        (any::<u64>(), any::<u64>(), any::<i32>().prop_map(Severity), text(), option::of(any_value())),
        (key_values(), any::<u32>(), any::<u32>(), option::of(trace_id()), option::of(span_id()), text()),
    )
        .prop_map(|(a, b)| LogRecord {
            time_unix_nano: a.0,
            observed_time_unix_nano: a.1,
            severity_number: a.2,
            severity_text: a.3,
            body: a.4,
            attributes: b.0,
            dropped_attributes_count: b.1,
            flags: b.2,
            trace_id: b.3,
            span_id: b.4,
            event_name: b.5,
        })
}

pub fn logs_data() -> impl Strategy<Value = LogsData> {
    let scope_logs = (scope(), vec(log_record(), 0..4), text())
        .prop_map(|(scope, log_records, schema_url)| ScopeLogs { scope, log_records, schema_url });
    let resource_logs = (resource(), vec(scope_logs, 0..3), text())
        .prop_map(|(resource, scope_logs, schema_url)| ResourceLogs { resource, scope_logs, schema_url });
    vec(resource_logs, 0..3).prop_map(|resource_logs| LogsData { resource_logs })
}
