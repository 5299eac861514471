//! Seed inputs, generated rather than committed as binaries: the standard
//! fixtures plus one small batch per signal with every model feature the
//! fixtures lack (nested values, bytes, links, exponential histograms,
//! kvlist bodies), encoded in the target's format.

use otlp_pipeline::compress::{Compression, Compressor};
use otlp_pipeline::encode::{direct, json};
use otlp_pipeline::fixtures;
use otlp_pipeline::model::*;

use crate::Target;

/// The seeds of `target`, named (the names become the corpus files').
pub fn seeds(target: Target) -> Vec<(String, Vec<u8>)> {
    let proto = proto_seeds();
    let json = json_seeds();
    let pick = |all: &[(&str, Signal, Vec<u8>)], signal: Signal| {
        all.iter().filter(|(_, s, _)| *s == signal).map(|(n, _, b)| (n.to_string(), b.clone())).collect()
    };
    match target {
        Target::DecodeTraces => pick(&proto, Signal::Traces),
        Target::DecodeMetrics => pick(&proto, Signal::Metrics),
        Target::DecodeLogs => pick(&proto, Signal::Logs),
        Target::JsonTraces => pick(&json, Signal::Traces),
        Target::JsonMetrics => pick(&json, Signal::Metrics),
        Target::JsonLogs => pick(&json, Signal::Logs),
        Target::Gzip => compressed(Compression::Gzip { level: 6 }, &proto, &json),
        Target::Zstd => compressed(Compression::Zstd { level: 3 }, &proto, &json),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Signal {
    Traces,
    Metrics,
    Logs,
}

fn proto_seeds() -> Vec<(&'static str, Signal, Vec<u8>)> {
    fn w<T>(f: fn(&T, &mut Vec<u8>) -> usize, d: &T) -> Vec<u8> {
        let mut out = Vec::new();
        f(d, &mut out);
        out
    }
    vec![
        ("empty", Signal::Traces, Vec::new()),
        ("fixture_2", Signal::Traces, w(direct::encode_traces, &fixtures::traces(2))),
        ("rich", Signal::Traces, w(direct::encode_traces, &rich_traces())),
        ("empty", Signal::Metrics, Vec::new()),
        ("fixture_10", Signal::Metrics, w(direct::encode_metrics, &fixtures::metrics(10))),
        ("rich", Signal::Metrics, w(direct::encode_metrics, &rich_metrics())),
        ("empty", Signal::Logs, Vec::new()),
        ("fixture_2", Signal::Logs, w(direct::encode_logs, &fixtures::logs(2))),
        ("rich", Signal::Logs, w(direct::encode_logs, &rich_logs())),
    ]
}

fn json_seeds() -> Vec<(&'static str, Signal, Vec<u8>)> {
    fn w<T>(f: fn(&T, &mut Vec<u8>), d: &T) -> Vec<u8> {
        let mut out = Vec::new();
        f(d, &mut out);
        out
    }
    vec![
        ("empty", Signal::Traces, b"{}".to_vec()),
        ("fixture_2", Signal::Traces, w(json::write_traces, &fixtures::traces(2))),
        ("rich", Signal::Traces, w(json::write_traces, &rich_traces())),
        // The leniencies of the JSON mapping: snake_case names, integers as
        // numbers, enums by name, null members.
        (
            "lenient",
            Signal::Traces,
            br#"{"resource_spans":[{"scope_spans":[{"spans":[{"trace_id":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","name":"s","kind":"SPAN_KIND_SERVER","startTimeUnixNano":5,"endTimeUnixNano":"6","status":{"code":"STATUS_CODE_ERROR","message":null},"attributes":[{"key":"k","value":{"int_value":7}}]}]}]}]}"#.to_vec(),
        ),
        ("empty", Signal::Metrics, b"{}".to_vec()),
        ("fixture_10", Signal::Metrics, w(json::write_metrics, &fixtures::metrics(10))),
        ("rich", Signal::Metrics, w(json::write_metrics, &rich_metrics())),
        ("empty", Signal::Logs, b"{}".to_vec()),
        ("fixture_2", Signal::Logs, w(json::write_logs, &fixtures::logs(2))),
        ("rich", Signal::Logs, w(json::write_logs, &rich_logs())),
    ]
}

/// Each protobuf and JSON seed compressed, behind the two-byte output limit
/// the compression targets read first: the largest limit, and one a byte
/// short of the output (the "too large" path).
fn compressed(
    codec: Compression,
    proto: &[(&str, Signal, Vec<u8>)],
    json: &[(&str, Signal, Vec<u8>)],
) -> Vec<(String, Vec<u8>)> {
    let mut c = Compressor::new();
    let mut out = Vec::new();
    let signal_name = |s: Signal| match s {
        Signal::Traces => "traces",
        Signal::Metrics => "metrics",
        Signal::Logs => "logs",
    };
    for (format, all) in [("proto", proto), ("json", json)] {
        for (name, signal, body) in all {
            if *name != "rich" {
                continue;
            }
            let mut data = Vec::new();
            c.compress(codec, body, &mut data).expect("the seeds compress");
            let short = u16::try_from(body.len().saturating_sub(1)).unwrap_or(u16::MAX);
            for (limit_name, limit) in [("max", u16::MAX), ("short", short)] {
                let mut input = limit.to_le_bytes().to_vec();
                input.extend_from_slice(&data);
                out.push((format!("{format}_{}_{limit_name}", signal_name(*signal)), input));
            }
        }
    }
    out
}

/// A value of every `AnyValue` kind, nested.
fn nested() -> AnyValue {
    AnyValue::Array(vec![
        AnyValue::Int(-3),
        AnyValue::Empty,
        AnyValue::Bytes(vec![0, 1, 0xff].into()),
        AnyValue::KvList(vec![KeyValue::new("inner", vec![1u8, 2, 3]), KeyValue::new("d", -0.5)]),
    ])
}

fn resource() -> Resource {
    let mut resource = fixtures::resource();
    resource.attributes.push(KeyValue::new("nested", nested()));
    resource.dropped_attributes_count = 2;
    resource
}

fn scope() -> InstrumentationScope {
    let mut scope = InstrumentationScope::new("scope", "9.9");
    scope.attributes.push(KeyValue::new("b", false));
    scope.dropped_attributes_count = 1;
    scope
}

fn rich_traces() -> TracesData {
    let mut span = Span::builder("rich")
        .trace_id(TraceId([1; 16]))
        .span_id(SpanId([2; 8]))
        .parent(TraceId([1; 16]), SpanId([5; 8]))
        .trace_state("a=b")
        .flags(0x301)
        .kind(SpanKind::Consumer)
        .times(5, 6)
        .attr("s", "x")
        .attr("n", nested())
        .event(Event::new("ev", 7).attr("k", 1.5))
        .link(Link {
            trace_id: TraceId([3; 16]),
            span_id: SpanId([4; 8]),
            trace_state: "t".into(),
            attributes: vec![KeyValue::new("l", 1)],
            dropped_attributes_count: 3,
            flags: 0x100,
        })
        .status(Status::error("boom"))
        .build();
    span.dropped_attributes_count = 4;
    span.dropped_events_count = 5;
    span.dropped_links_count = 6;
    let mut d = TracesData::single(resource(), scope(), vec![span]);
    d.resource_spans[0].schema_url = "https://example.com/r".into();
    d.resource_spans[0].scope_spans[0].schema_url = "https://example.com/s".into();
    d
}

fn rich_metrics() -> MetricsData {
    let point = |value| NumberDataPoint {
        attributes: vec![KeyValue::new("p", nested())],
        start_time_unix_nano: 1,
        time_unix_nano: 2,
        value: Some(value),
        flags: 1,
    };
    let exp = ExponentialHistogramDataPoint {
        attributes: vec![KeyValue::new("e", true)],
        start_time_unix_nano: 1,
        time_unix_nano: 2,
        count: 6,
        sum: Some(7.5),
        scale: -2,
        zero_count: 1,
        positive: Some(ExpBuckets { offset: -1, bucket_counts: vec![1, 2] }),
        negative: Some(ExpBuckets { offset: 3, bucket_counts: vec![2] }),
        flags: 0,
        min: Some(-4.0),
        max: Some(9.0),
        zero_threshold: 0.001,
    };
    let hist = HistogramDataPoint {
        count: 3,
        sum: Some(2.5),
        bucket_counts: vec![1, 2],
        explicit_bounds: vec![1.0],
        min: Some(0.5),
        max: Some(2.0),
        ..HistogramDataPoint::default()
    };
    let mut gauge = Metric::new("g", "a gauge", "1", MetricData::Gauge(vec![point(NumberValue::Int(-4))]));
    gauge.metadata.push(KeyValue::new("m", "d"));
    let metrics = vec![
        gauge,
        Metric::new(
            "s",
            "",
            "By",
            MetricData::Sum {
                points: vec![point(NumberValue::Double(0.25))],
                temporality: Temporality::Delta,
                is_monotonic: false,
            },
        ),
        Metric::new("h", "", "ms", MetricData::Histogram { points: vec![hist], temporality: Temporality::Cumulative }),
        Metric::new(
            "e",
            "",
            "",
            MetricData::ExponentialHistogram { points: vec![exp], temporality: Temporality::Delta },
        ),
    ];
    let mut d = MetricsData::single(resource(), scope(), metrics);
    d.resource_metrics[0].schema_url = "https://example.com/r".into();
    d
}

fn rich_logs() -> LogsData {
    let mut record = LogRecord::builder()
        .times(5, 6)
        .severity(Severity(17), "ERROR")
        .body(AnyValue::KvList(vec![KeyValue::new("msg", "boom"), KeyValue::new("n", nested())]))
        .attr("a", 1.5)
        .span_context(TraceId([1; 16]), SpanId([2; 8]), 1)
        .build();
    record.dropped_attributes_count = 2;
    record.event_name = "ev".into();
    let mut bare = LogRecord::builder().times(0, 1).build();
    bare.body = None;
    LogsData::single(resource(), scope(), vec![record, bare])
}
