//! OTLP/JSON: golden files, round trips through both parsers, agreement with
//! protobuf, the leniency the spec asks for and the errors it rules out.

use otlp_pipeline::encode::json::{
    self, JsonError, parse_logs, parse_logs_serde, parse_metrics, parse_metrics_serde, parse_traces,
    parse_traces_serde, write_logs, write_metrics, write_traces,
};
use otlp_pipeline::encode::reference;
use otlp_pipeline::fixtures;
use otlp_pipeline::model::*;

use crate::util::golden::golden;

// ---------------------------------------------------------------- helpers

fn traces_json(d: &TracesData) -> Vec<u8> {
    let mut out = Vec::new();
    write_traces(d, &mut out);
    out
}

fn metrics_json(d: &MetricsData) -> Vec<u8> {
    let mut out = Vec::new();
    write_metrics(d, &mut out);
    out
}

fn logs_json(d: &LogsData) -> Vec<u8> {
    let mut out = Vec::new();
    write_logs(d, &mut out);
    out
}

/// Both parsers must accept the same documents and reject the same ones (not
/// always at the same place: serde_json's map iterates keys in sorted order,
/// so with two faults in a document each parser may report another one; the
/// error tests check both parsers' paths on single faults). Accepted models are compared through their JSON with
/// doubles rounded to 12 digits: serde_json's default float parsing is not
/// round-trip exact (simd-json's is), so a double may come out one ulp apart.
fn agree<T: std::fmt::Debug>(
    json: &[u8],
    simd: &Result<T, JsonError>,
    serde: &Result<T, JsonError>,
    write: fn(&T, &mut Vec<u8>),
) {
    let doc = || String::from_utf8_lossy(json).into_owned();
    match (simd, serde) {
        (Ok(a), Ok(b)) => {
            let (mut ja, mut jb) = (Vec::new(), Vec::new());
            write(a, &mut ja);
            write(b, &mut jb);
            assert_eq!(rounded(&ja), rounded(&jb), "parsers disagree on {}", doc());
        }
        (Err(_), Err(_)) => {}
        _ => panic!("parsers disagree on {}: {simd:?} vs {serde:?}", doc()),
    }
}

fn rounded(json: &[u8]) -> serde_json::Value {
    fn walk(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Number(n) if n.is_f64() => {
                *v = serde_json::Value::String(format!("{:.11e}", n.as_f64().unwrap()));
            }
            serde_json::Value::Array(xs) => xs.iter_mut().for_each(walk),
            serde_json::Value::Object(m) => m.values_mut().for_each(walk),
            _ => {}
        }
    }
    let mut v = serde_json::from_slice(json).unwrap();
    walk(&mut v);
    v
}

fn traces(json: &[u8]) -> Result<TracesData, JsonError> {
    let simd = parse_traces(&mut json.to_vec());
    agree(json, &simd, &parse_traces_serde(json), write_traces);
    simd
}

fn metrics(json: &[u8]) -> Result<MetricsData, JsonError> {
    let simd = parse_metrics(&mut json.to_vec());
    agree(json, &simd, &parse_metrics_serde(json), write_metrics);
    simd
}

fn logs(json: &[u8]) -> Result<LogsData, JsonError> {
    let simd = parse_logs(&mut json.to_vec());
    agree(json, &simd, &parse_logs_serde(json), write_logs);
    simd
}

fn err_traces(json: &str) -> JsonError {
    match traces(json.as_bytes()) {
        Ok(d) => panic!("accepted {json}: {d:?}"),
        Err(e) => e,
    }
}

/// A one-span document with `span` spliced in as the only span.
fn one_span(span: &str) -> String {
    format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{span}]}}]}}]}}"#)
}

const TID: &str = "5b8efff798038103d269b633813fc60c";
const SID: &str = "eee19b7ec3c1b174";

fn minimal_span(extra: &str) -> String {
    one_span(&format!(r#"{{"traceId":"{TID}","spanId":"{SID}"{extra}}}"#))
}

fn the_span(d: &TracesData) -> &Span {
    &d.resource_spans[0].scope_spans[0].spans[0]
}

// ---------------------------------------------------------------- golden files

#[test]
fn golden_files() {
    golden("traces_8.json", &traces_json(&fixtures::traces(8)));
    golden("metrics_10.json", &metrics_json(&fixtures::metrics(10)));
    golden("logs_8.json", &logs_json(&fixtures::logs(8)));
}

#[test]
fn output_follows_otlp_json_conventions() {
    let d = fixtures::traces(8);
    let s = String::from_utf8(traces_json(&d)).unwrap();
    let sp = &d.resource_spans[0].scope_spans[0].spans[1];
    assert!(s.starts_with(
        r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}"#
    ));
    assert!(s.contains(&format!(r#""traceId":"{}","spanId":"{}","#, sp.trace_id, sp.span_id)));
    assert!(
        s.contains(r#""kind":2,"startTimeUnixNano":"1700000000001000000","endTimeUnixNano":"1700000000002250000""#)
    );
    assert!(s.contains(r#"{"key":"http.response.status_code","value":{"intValue":"200"}}"#));
    assert!(s.contains(r#"{"key":"cache.hit","value":{"boolValue":true}}"#));
    assert!(s.contains(r#"{"key":"duration_ms","value":{"doubleValue":1.25}}"#));
    assert!(s.contains(r#""status":{"code":1}}"#));
    assert!(s.contains(r#""flags":769,"#));
    assert!(!s.contains("trace_id") && !s.contains("droppedAttributesCount") && !s.contains("schemaUrl"));
    // Valid JSON by an independent parser.
    serde_json::from_str::<serde_json::Value>(&s).unwrap();

    let m = String::from_utf8(metrics_json(&fixtures::metrics(10))).unwrap();
    assert!(m.contains(r#""aggregationTemporality":2,"isMonotonic":true"#));
    assert!(m.contains(
        r#""explicitBounds":[0.0,5.0,10.0,25.0,50.0,75.0,100.0,250.0,500.0,750.0,1000.0,2500.0,5000.0,7500.0,10000.0]"#
    ));
    assert!(m.contains(r#""bucketCounts":[""#) && m.contains(r#""asInt":""#) && m.contains(r#""asDouble":0."#));
    let l = String::from_utf8(logs_json(&fixtures::logs(8))).unwrap();
    assert!(l.contains(r#""severityNumber":9,"severityText":"INFO","body":{"stringValue":"Order "#));
    assert!(l.contains(r#""flags":1,"traceId":""#));
}

// ---------------------------------------------------------------- round trips

#[test]
fn fixtures_round_trip_through_both_parsers() {
    for n in [0, 1, 8, 64] {
        let d = fixtures::traces(n);
        let json = traces_json(&d);
        assert_eq!(traces(&json).unwrap(), d);
        assert_eq!(parse_traces_serde(&json).unwrap(), d, "the serde_json reference agrees exactly");
        assert_eq!(traces_json(&traces(&json).unwrap()), json, "JSON → model → JSON");
    }
    for n in [0, 10, 100] {
        let d = fixtures::metrics(n);
        let json = metrics_json(&d);
        assert_eq!(metrics(&json).unwrap(), d);
        assert_eq!(metrics_json(&metrics(&json).unwrap()), json);
    }
    for n in [0, 1, 8, 64] {
        let d = fixtures::logs(n);
        let json = logs_json(&d);
        assert_eq!(logs(&json).unwrap(), d);
        assert_eq!(logs_json(&logs(&json).unwrap()), json);
    }
}

#[test]
fn json_and_protobuf_agree() {
    let t = fixtures::traces(64);
    let mut pb = Vec::new();
    reference::encode_traces(&t, &mut pb);
    assert_eq!(reference::decode_traces(&pb).unwrap(), parse_traces(&mut traces_json(&t)).unwrap());
    let m = fixtures::metrics(100);
    pb.clear();
    reference::encode_metrics(&m, &mut pb);
    assert_eq!(reference::decode_metrics(&pb).unwrap(), parse_metrics(&mut metrics_json(&m)).unwrap());
    let l = fixtures::logs(64);
    pb.clear();
    reference::encode_logs(&l, &mut pb);
    assert_eq!(reference::decode_logs(&pb).unwrap(), parse_logs(&mut logs_json(&l)).unwrap());
    for t in [edge_traces(), TracesData::default()] {
        pb.clear();
        reference::encode_traces(&t, &mut pb);
        assert_eq!(reference::decode_traces(&pb).unwrap(), parse_traces(&mut traces_json(&t)).unwrap());
    }
    let m = edge_metrics();
    pb.clear();
    reference::encode_metrics(&m, &mut pb);
    assert_eq!(reference::decode_metrics(&pb).unwrap(), parse_metrics(&mut metrics_json(&m)).unwrap());
    let l = edge_logs();
    pb.clear();
    reference::encode_logs(&l, &mut pb);
    assert_eq!(reference::decode_logs(&pb).unwrap(), parse_logs(&mut logs_json(&l)).unwrap());
}

const TRICKY: &str = "héllo \"wörld\" \\ ✓ 🚀 \u{0}\u{1}\u{8}\t\n\u{c}\r\u{1f}\u{7f} \u{2028} end";

fn nested() -> AnyValue {
    AnyValue::Array(vec![
        AnyValue::Int(i64::MIN),
        AnyValue::Int(0),
        AnyValue::Double(0.0),
        AnyValue::Double(-1.5e-300),
        AnyValue::Double(f64::MAX),
        AnyValue::Double(f64::INFINITY),
        AnyValue::Double(f64::NEG_INFINITY),
        AnyValue::String(Str::EMPTY),
        AnyValue::Bool(false),
        AnyValue::Empty,
        AnyValue::Bytes(bytes::Bytes::new()),
        AnyValue::Bytes(bytes::Bytes::from_static(b"\x00\xff\xfe")),
        AnyValue::Bytes(bytes::Bytes::from_static(b"\xfb\xef")),
        AnyValue::Array(vec![]),
        AnyValue::KvList(vec![]),
        AnyValue::Array(vec![AnyValue::Array(vec![AnyValue::String(TRICKY.into())])]),
        AnyValue::KvList(vec![
            KeyValue::new("", "empty key"),
            KeyValue::new(TRICKY, AnyValue::KvList(vec![KeyValue::new("deep", AnyValue::Empty)])),
        ]),
    ])
}

fn edge_traces() -> TracesData {
    let full = Span {
        trace_id: TraceId([0xab; 16]),
        span_id: SpanId([0x01; 8]),
        trace_state: "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE".into(),
        parent_span_id: Some(SpanId::INVALID),
        flags: u32::MAX,
        name: TRICKY.into(),
        kind: SpanKind::Consumer,
        start_time_unix_nano: u64::MAX,
        end_time_unix_nano: 1,
        attributes: vec![KeyValue::new("nested", nested()), KeyValue::new("k", AnyValue::Empty)],
        dropped_attributes_count: 3,
        events: vec![Event::default(), Event::new("e", 5).attr("x", 1)],
        dropped_events_count: 4,
        links: vec![
            Link {
                trace_id: TraceId::INVALID,
                span_id: SpanId::INVALID,
                trace_state: Str::EMPTY,
                attributes: vec![],
                dropped_attributes_count: 0,
                flags: 0,
            },
            Link {
                trace_id: TraceId([7; 16]),
                span_id: SpanId([9; 8]),
                trace_state: "a=b".into(),
                attributes: vec![KeyValue::new("l", true)],
                dropped_attributes_count: 1,
                flags: FLAG_SAMPLED | FLAG_HAS_IS_REMOTE,
            },
        ],
        dropped_links_count: 5,
        status: Status::error("boom \"quoted\"\n"),
    };
    let bare = Span::default();
    let message_only = Span { status: Status { code: StatusCode::Unset, message: "m".into() }, ..Span::default() };
    TracesData {
        resource_spans: vec![
            ResourceSpans {
                resource: Resource {
                    attributes: vec![KeyValue::new("service.name", TRICKY)],
                    dropped_attributes_count: 2,
                },
                scope_spans: vec![
                    ScopeSpans {
                        scope: InstrumentationScope {
                            name: "s".into(),
                            version: Str::EMPTY,
                            attributes: vec![KeyValue::new("a", 1.0)],
                            dropped_attributes_count: 1,
                        },
                        spans: vec![full, bare, message_only],
                        schema_url: "https://opentelemetry.io/schemas/1.26.0".into(),
                    },
                    ScopeSpans::default(),
                ],
                schema_url: "https://x/é".into(),
            },
            ResourceSpans::default(),
        ],
    }
}

fn edge_metrics() -> MetricsData {
    let attrs = vec![KeyValue::new("a", "b")];
    let metrics = vec![
        Metric { name: "no data".into(), description: TRICKY.into(), unit: Str::EMPTY, data: None, metadata: vec![] },
        Metric::new("empty gauge", "", "", MetricData::Gauge(vec![])),
        Metric::new(
            "gauge",
            "",
            "1",
            MetricData::Gauge(vec![
                NumberDataPoint {
                    attributes: attrs.clone(),
                    start_time_unix_nano: 0,
                    time_unix_nano: 1,
                    value: None,
                    flags: 1,
                },
                NumberDataPoint {
                    attributes: vec![],
                    start_time_unix_nano: 1,
                    time_unix_nano: 2,
                    value: Some(NumberValue::Double(0.0)),
                    flags: 0,
                },
                NumberDataPoint {
                    attributes: vec![],
                    start_time_unix_nano: 0,
                    time_unix_nano: 0,
                    value: Some(NumberValue::Double(f64::NEG_INFINITY)),
                    flags: 0,
                },
            ]),
        ),
        Metric::new(
            "sum",
            "",
            "",
            MetricData::Sum {
                points: vec![NumberDataPoint {
                    attributes: vec![],
                    start_time_unix_nano: 0,
                    time_unix_nano: 0,
                    value: Some(NumberValue::Int(i64::MIN)),
                    flags: 0,
                }],
                temporality: Temporality::Delta,
                is_monotonic: false,
            },
        ),
        Metric::new(
            "sum, no points",
            "",
            "",
            MetricData::Sum { points: vec![], temporality: Temporality::Unspecified, is_monotonic: true },
        ),
        Metric::new(
            "histogram",
            "",
            "ms",
            MetricData::Histogram {
                points: vec![
                    HistogramDataPoint::default(),
                    HistogramDataPoint {
                        attributes: attrs.clone(),
                        start_time_unix_nano: 1,
                        time_unix_nano: 2,
                        count: u64::MAX,
                        sum: Some(0.0),
                        bucket_counts: vec![0, u64::MAX, 3],
                        explicit_bounds: vec![f64::NEG_INFINITY, 0.1],
                        flags: 1,
                        min: Some(-0.5),
                        max: Some(f64::INFINITY),
                    },
                ],
                temporality: Temporality::Cumulative,
            },
        ),
        Metric {
            name: "exponential".into(),
            description: Str::EMPTY,
            unit: "s".into(),
            data: Some(MetricData::ExponentialHistogram {
                points: vec![
                    ExponentialHistogramDataPoint::default(),
                    ExponentialHistogramDataPoint {
                        attributes: attrs,
                        start_time_unix_nano: 10,
                        time_unix_nano: 20,
                        count: 12,
                        sum: Some(99.5),
                        scale: -3,
                        zero_count: 2,
                        positive: Some(ExpBuckets { offset: -2, bucket_counts: vec![1, 0, 4] }),
                        negative: Some(ExpBuckets::default()),
                        flags: 0,
                        min: Some(0.0),
                        max: Some(1e300),
                        zero_threshold: 1e-9,
                    },
                ],
                temporality: Temporality::Delta,
            }),
            metadata: vec![KeyValue::new("meta", nested())],
        },
    ];
    MetricsData {
        resource_metrics: vec![
            ResourceMetrics {
                resource: Resource::default(),
                scope_metrics: vec![ScopeMetrics {
                    scope: InstrumentationScope::default(),
                    metrics,
                    schema_url: Str::EMPTY,
                }],
                schema_url: Str::EMPTY,
            },
            ResourceMetrics::default(),
        ],
    }
}

fn edge_logs() -> LogsData {
    let records = vec![
        LogRecord::default(),
        LogRecord {
            time_unix_nano: 1,
            observed_time_unix_nano: 2,
            severity_number: Severity(-7),
            severity_text: TRICKY.into(),
            body: Some(nested()),
            attributes: vec![KeyValue::new("x", AnyValue::Bytes(bytes::Bytes::from_static(b"hi")))],
            dropped_attributes_count: 9,
            flags: 1,
            trace_id: Some(TraceId::INVALID),
            span_id: None,
            event_name: "ev".into(),
        },
        LogRecord { body: Some(AnyValue::Empty), span_id: Some(SpanId([1; 8])), ..LogRecord::default() },
        LogRecord { severity_number: Severity(99), ..LogRecord::default() },
    ];
    LogsData::single(Resource::default(), InstrumentationScope::new("", "v"), records)
}

#[test]
fn edge_cases_round_trip() {
    let t = edge_traces();
    let json = traces_json(&t);
    serde_json::from_slice::<serde_json::Value>(&json).expect("valid JSON");
    assert_eq!(traces(&json).unwrap(), t);
    assert_eq!(traces_json(&traces(&json).unwrap()), json);

    let m = edge_metrics();
    let json = metrics_json(&m);
    serde_json::from_slice::<serde_json::Value>(&json).expect("valid JSON");
    assert_eq!(metrics(&json).unwrap(), m);
    assert_eq!(metrics_json(&metrics(&json).unwrap()), json);

    let l = edge_logs();
    let json = logs_json(&l);
    serde_json::from_slice::<serde_json::Value>(&json).expect("valid JSON");
    assert_eq!(logs(&json).unwrap(), l);
    assert_eq!(logs_json(&logs(&json).unwrap()), json);

    let empty = traces_json(&TracesData::default());
    assert_eq!(empty, b"{}");
    assert_eq!(traces(&empty).unwrap(), TracesData::default());
    assert_eq!(metrics_json(&MetricsData::default()), b"{}");
    assert_eq!(logs_json(&LogsData::default()), b"{}");
}

#[test]
fn strings_are_escaped_per_rfc_8259() {
    let d = TracesData::single(
        Resource::default(),
        InstrumentationScope::default(),
        vec![Span { name: TRICKY.into(), ..Span::default() }],
    );
    let json = String::from_utf8(traces_json(&d)).unwrap();
    let want = serde_json::to_string(TRICKY).unwrap();
    assert!(json.contains(&format!("\"name\":{want}")), "{json}");
    assert!(json.contains(r#"\"wörld\" \\ ✓ 🚀 \u0000\u0001\b\t\n\f\r\u001f"#), "{json}");
}

#[test]
fn nan_survives_the_round_trip() {
    let d = TracesData::single(
        Resource::default(),
        InstrumentationScope::default(),
        vec![Span { attributes: vec![KeyValue::new("nan", f64::NAN)], ..Span::default() }],
    );
    let json = traces_json(&d);
    assert!(String::from_utf8_lossy(&json).contains(r#"{"doubleValue":"NaN"}"#));
    for parsed in [parse_traces(&mut json.clone()).unwrap(), parse_traces_serde(&json).unwrap()] {
        assert!(matches!(the_span(&parsed).attributes[0].value, AnyValue::Double(v) if v.is_nan()));
    }
}

// ---------------------------------------------------------------- leniency

#[test]
fn accepts_what_the_protobuf_json_mapping_allows() {
    // 64-bit integers as numbers, enums by name, snake_case names, unknown
    // fields of every shape, nulls, members in any order.
    let json = one_span(&format!(
        r#"{{"unknown":{{"a":[1,{{"b":null}}],"c":"d"}},"kind":"SPAN_KIND_CLIENT","end_time_unix_nano":1700000000000000001,
            "startTimeUnixNano":1.7e18,"attributes":[{{"value":{{"intValue":-5,"extra":[]}},"key":"n"}},
            {{"key":"big","value":{{"intValue":"9223372036854775807"}}}},{{"key":"d","value":{{"doubleValue":"2.5"}}}},
            {{"key":"i","value":{{"doubleValue":3}}}},{{"key":"nul","value":{{"stringValue":null}}}},
            {{"key":"nv","value":null}}],
            "parentSpanId":"","status":{{"code":"STATUS_CODE_ERROR","future":true}},"flags":"257","spanId":"{}",
            "trace_id":"{}","name":null,"events":[{{"time_unix_nano":"5","droppedAttributesCount":"2"}}],
            "links":[],"traceState":null,"droppedLinksCount":0}}"#,
        SID.to_uppercase(),
        TID
    ));
    let d = traces(json.as_bytes()).unwrap();
    let s = the_span(&d);
    assert_eq!(s.trace_id.to_string(), TID);
    assert_eq!(s.span_id.to_string(), SID);
    assert_eq!(s.parent_span_id, None);
    assert_eq!(s.kind, SpanKind::Client);
    assert_eq!(s.start_time_unix_nano, 1_700_000_000_000_000_000);
    assert_eq!(s.end_time_unix_nano, 1_700_000_000_000_000_001);
    assert_eq!(s.flags, 257);
    assert_eq!(s.name, "");
    assert_eq!(s.status.code, StatusCode::Error);
    let values: Vec<_> = s.attributes.iter().map(|kv| (kv.key.as_str(), kv.value.clone())).collect();
    assert_eq!(
        values,
        [
            ("n", AnyValue::Int(-5)),
            ("big", AnyValue::Int(i64::MAX)),
            ("d", AnyValue::Double(2.5)),
            ("i", AnyValue::Double(3.0)),
            ("nul", AnyValue::Empty),
            ("nv", AnyValue::Empty),
        ]
    );
    assert_eq!(s.events, [Event { time_unix_nano: 5, dropped_attributes_count: 2, ..Event::default() }]);

    // The top level may carry unknown members too, and be null-valued.
    assert_eq!(traces(br#"{"resourceSpans":null,"x":1}"#).unwrap(), TracesData::default());
    assert_eq!(traces(b" {} ").unwrap(), TracesData::default());

    let m = metrics(
        br#"{"resource_metrics":[{"scopeMetrics":[{"metrics":[{"name":"m","sum":{"aggregationTemporality":"AGGREGATION_TEMPORALITY_DELTA",
        "is_monotonic":true,"dataPoints":[{"asInt":7,"exemplars":[{"asInt":"1","traceId":"zz"}],"timeUnixNano":"1"}]}}]}]}]}"#,
    )
    .unwrap();
    let data = m.resource_metrics[0].scope_metrics[0].metrics[0].data.clone();
    assert_eq!(
        data,
        Some(MetricData::Sum {
            points: vec![NumberDataPoint {
                attributes: vec![],
                start_time_unix_nano: 0,
                time_unix_nano: 1,
                value: Some(NumberValue::Int(7)),
                flags: 0
            }],
            temporality: Temporality::Delta,
            is_monotonic: true,
        })
    );

    let l = logs(
        br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber":"SEVERITY_NUMBER_WARN2","traceId":"","spanId":null,
        "body":{"bytesValue":"_-8"}}]}]}]}"#,
    )
    .unwrap();
    let r = &l.resource_logs[0].scope_logs[0].log_records[0];
    assert_eq!(r.severity_number, Severity(14));
    assert_eq!((r.trace_id, r.span_id), (None, None));
    assert_eq!(r.body, Some(AnyValue::Bytes(bytes::Bytes::from_static(b"\xff\xef"))));
}

/// A key given twice in one object is refused by both parsers, wherever the
/// object is (a message, an unknown member's value) and whatever the values
/// (null included); so is a snake_case key beside its lowerCamelCase form,
/// which names the same field. protobuf's JSON parsers refuse a field set
/// twice; before, the tape kept the first or the last depending on the
/// message, and the serde_json tree kept the last in key order, so the two
/// parsers read different spans from the same document.
/// JSON allows integers of any size: one beyond 64 bits reads as a double in
/// both parsers, so it is skipped in an unknown member and rejected where an
/// integer field needs a 64-bit value. simd-json used to fail the document
/// while serde_json read a double.
#[test]
fn integers_beyond_64_bits_are_doubles() {
    for big in ["18446744073709551616", "-18446744073709551617", "1111111111111111111111111111"] {
        let d = traces(minimal_span(&format!(r#","future":{big},"more":[{big}]"#)).as_bytes()).unwrap();
        assert_eq!(the_span(&d).trace_id.0.len(), 16);
        let e = err_traces(&minimal_span(&format!(r#","startTimeUnixNano":{big}"#)));
        assert!(e.path().ends_with("startTimeUnixNano"), "{e}");
        let e = err_traces(&minimal_span(&format!(r#","attributes":[{{"key":"k","value":{{"intValue":{big}}}}}]"#)));
        assert!(e.path().ends_with("intValue"), "{e}");
    }
}

/// `"k0":0,"k1":0,…`: `n` distinct members.
fn many_keys(n: usize) -> String {
    (0..n).map(|i| format!(r#""k{i}":0"#)).collect::<Vec<_>>().join(",")
}

#[test]
fn duplicate_keys_are_refused() {
    let ids = format!(r#""traceId":"{TID}","spanId":"{SID}""#);
    let attr = |value: &str| minimal_span(&format!(r#","attributes":[{{"key":"k","value":{value}}}]"#));
    let refused = [
        (one_span(&format!(r#"{{{ids},"name":"a","name":"b"}}"#)), "spans[0].name"),
        (one_span(&format!(r#"{{{ids},"name":null,"name":"b"}}"#)), "spans[0].name"),
        (one_span(&format!(r#"{{{ids},"trace_id":"{TID}"}}"#)), "spans[0].trace_id"),
        (one_span(&format!(r#"{{{ids},"kind":1,"kind":2}}"#)), "spans[0].kind"),
        (attr(r#"{"stringValue":"a","stringValue":"b"}"#), "spans[0].attributes[0].value.stringValue"),
        (attr(r#"{"intValue":"1","int_value":"2"}"#), "spans[0].attributes[0].value.int_value"),
        (minimal_span(r#","future":{"a":[{"b":1,"b":2}]}"#), "spans[0].future.a[0].b"),
        (minimal_span(r#","future":1,"future":2"#), "spans[0].future"),
        (r#"{"resourceSpans":[],"resourceSpans":[]}"#.to_string(), "resourceSpans"),
        // Objects of many members check their keys another way.
        (minimal_span(&format!(r#","future":{{{},"k_7":0}}"#, many_keys(40))), "spans[0].future.k_7"),
    ];
    for (json, path) in &refused {
        let e = err_traces(json);
        assert!(e.expected().starts_with("each key once per object"), "{json}: {e}");
        assert!(e.path().ends_with(path), "{json}: {e}");
    }
    // Distinct keys that only look alike stay accepted.
    for json in [
        minimal_span(&format!(r#","future":{{{}}}"#, many_keys(40))),
        minimal_span(r#","future":{"a":1},"other":{"a":1}"#),
        minimal_span(r#","attributes":[{"key":"k","value":{"intValue":"1"}},{"key":"k","value":{"intValue":"2"}}]"#),
    ] {
        traces(json.as_bytes()).unwrap();
    }
    let e = metrics(br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","gauge":{},"gauge":{}}]}]}]}"#)
        .unwrap_err();
    assert!(e.path().ends_with("metrics[0].gauge"), "{e}");
    let e = logs(br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"a"},"body":null}]}]}]}"#)
        .unwrap_err();
    assert!(e.path().ends_with("logRecords[0].body"), "{e}");
}

// ---------------------------------------------------------------- errors

#[test]
fn errors_name_the_field() {
    let spans: Vec<String> = (0..4)
        .map(|i| {
            let tid = if i == 3 { "zz".repeat(16) } else { TID.into() };
            format!(r#"{{"traceId":"{tid}","spanId":"{SID}"}}"#)
        })
        .collect();
    let e = err_traces(&one_span(&spans.join(",")));
    assert_eq!(e.path(), "resourceSpans[0].scopeSpans[0].spans[3].traceId");
    assert_eq!(e.expected(), "a trace id of 32 hex digits");
    let msg = e.to_string();
    assert!(msg.contains("resourceSpans[0].scopeSpans[0].spans[3].traceId") && msg.contains("zzzz"), "{msg}");

    let cases: &[(&str, &str, &str)] = &[
        (&one_span(&format!(r#"{{"traceId":"{TID}0","spanId":"{SID}"}}"#)), "spans[0].traceId", "32 hex"),
        (
            &one_span(&format!(r#"{{"traceId":"{TID}","spanId":"{SID}","parentSpanId":"abc"}}"#)),
            "spans[0].parentSpanId",
            "16 hex",
        ),
        (&one_span(&format!(r#"{{"traceId":"{TID}"}}"#)), "spans[0].spanId", "16 hex"),
        (&one_span(&format!(r#"{{"spanId":"{SID}"}}"#)), "spans[0].traceId", "32 hex"),
        (&one_span(&format!(r#"{{"trace_id":7,"spanId":"{SID}"}}"#)), "spans[0].trace_id", "32 hex"),
        (&minimal_span(r#","name":5"#), "spans[0].name", "a string"),
        (&minimal_span(r#","kind":"SERVER""#), "spans[0].kind", "span kind"),
        (&minimal_span(r#","kind":4294967296"#), "spans[0].kind", "span kind"),
        (&minimal_span(r#","flags":4294967296"#), "spans[0].flags", "32-bit"),
        (&minimal_span(r#","flags":-1"#), "spans[0].flags", "32-bit"),
        (&minimal_span(r#","flags":1.5"#), "spans[0].flags", "32-bit"),
        (&minimal_span(r#","startTimeUnixNano":"-1""#), "spans[0].startTimeUnixNano", "unsigned 64-bit"),
        (
            &minimal_span(r#","startTimeUnixNano":"18446744073709551616""#),
            "spans[0].startTimeUnixNano",
            "unsigned 64-bit",
        ),
        (&minimal_span(r#","startTimeUnixNano":"12ab""#), "spans[0].startTimeUnixNano", "unsigned 64-bit"),
        (&minimal_span(r#","startTimeUnixNano":true"#), "spans[0].startTimeUnixNano", "unsigned 64-bit"),
        (&minimal_span(r#","attributes":{}"#), "spans[0].attributes", "an array"),
        (&minimal_span(r#","attributes":[null]"#), "spans[0].attributes[0]", "an object"),
        (
            &minimal_span(r#","attributes":[{"key":"k","value":{"intValue":"9223372036854775808"}}]"#),
            "spans[0].attributes[0].value.intValue",
            "signed 64-bit",
        ),
        (
            &minimal_span(r#","attributes":[{"key":"k","value":{"intValue":"1","stringValue":"x"}}]"#),
            "spans[0].attributes[0].value.stringValue",
            "one value",
        ),
        (
            &minimal_span(r#","attributes":[{"key":"k","value":{"bytesValue":"a$=="}}]"#),
            "spans[0].attributes[0].value.bytesValue",
            "base64",
        ),
        (
            &minimal_span(r#","attributes":[{"key":"k","value":{"doubleValue":"nan"}}]"#),
            "spans[0].attributes[0].value.doubleValue",
            "double",
        ),
        (
            &minimal_span(r#","attributes":[{"key":"k","value":{"doubleValue":"1.5x"}}]"#),
            "spans[0].attributes[0].value.doubleValue",
            "double",
        ),
        (
            &minimal_span(r#","attributes":[{"key":"k","value":{"boolValue":"true"}}]"#),
            "spans[0].attributes[0].value.boolValue",
            "true or false",
        ),
        (
            &minimal_span(
                r#","attributes":[{"key":"k","value":{"arrayValue":{"values":[{"kvlistValue":{"values":[{"key":1}]}}]}}}]"#,
            ),
            "spans[0].attributes[0].value.arrayValue.values[0].kvlistValue.values[0].key",
            "a string",
        ),
        (
            &minimal_span(r#","attributes":[{"key":"k","value":{"stringValueStrindex":3}}]"#),
            "spans[0].attributes[0].value.stringValueStrindex",
            "string table",
        ),
        (&minimal_span(r#","status":{"code":[]}"#), "spans[0].status.code", "status code"),
        (
            &minimal_span(r#","events":[{"name":"e","timeUnixNano":{}}]"#),
            "spans[0].events[0].timeUnixNano",
            "unsigned 64-bit",
        ),
        (&minimal_span(r#","links":[{"traceId":"00"}]"#), "spans[0].links[0].traceId", "32 hex"),
        (&minimal_span(r#","links":[{}]"#), "spans[0].links[0].traceId", "32 hex"),
        (
            r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"a","value":{"intValue":1.5}}]}}]}"#,
            "resourceSpans[0].resource.attributes[0].value.intValue",
            "signed 64-bit",
        ),
        (r#"{"resourceSpans":[{"resource":[]}]}"#, "resourceSpans[0].resource", "an object"),
        (
            r#"{"resourceSpans":[{"scopeSpans":[{"scope":{"droppedAttributesCount":"x"}}]}]}"#,
            "resourceSpans[0].scopeSpans[0].scope.droppedAttributesCount",
            "32-bit",
        ),
        (r#"{"resourceSpans":{}}"#, "resourceSpans", "an array"),
        (r#"[]"#, "", "an object"),
        (r#"null"#, "", "an object"),
        (r#"{"resourceSpans":[]"#, "", "valid JSON"),
        (r#"{"resourceSpans":[]} x"#, "", "valid JSON"),
        ("{\"resourceSpans\":[{\"schemaUrl\":\"\u{1}\"}]}", "", "valid JSON"),
        (r#""#, "", "valid JSON"),
    ];
    for (json, path, expected) in cases {
        let serde = parse_traces_serde(json.as_bytes()).unwrap_err();
        for e in [err_traces(json), serde] {
            assert!(e.path().ends_with(path), "{json}: path {:?}, wanted …{path}", e.path());
            assert!(e.expected().contains(expected), "{json}: {e}");
        }
    }

    let e =
        metrics(br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"s","summary":{"dataPoints":[]}}]}]}]}"#)
            .unwrap_err();
    assert_eq!(e.path(), "resourceMetrics[0].scopeMetrics[0].metrics[0].summary");
    let e = metrics(br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"gauge":{},"sum":{}}]}]}]}"#).unwrap_err();
    assert_eq!(e.path(), "resourceMetrics[0].scopeMetrics[0].metrics[0].sum");
    let e = metrics(br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"histogram":{"dataPoints":[{"bucketCounts":["1",-1]}]}}]}]}]}"#).unwrap_err();
    assert_eq!(e.path(), "resourceMetrics[0].scopeMetrics[0].metrics[0].histogram.dataPoints[0].bucketCounts[1]");
    let e = metrics(br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"gauge":{"dataPoints":[{"asInt":"1","asDouble":1}]}}]}]}]}"#).unwrap_err();
    assert!(e.path().ends_with("dataPoints[0].asDouble") && e.expected().contains("one of asDouble and asInt"), "{e}");
    let e = metrics(br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"exponentialHistogram":{"dataPoints":[{"scale":2147483648}]}}]}]}]}"#).unwrap_err();
    assert!(e.path().ends_with("dataPoints[0].scale"), "{e}");
    let e = logs(br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{},{"spanId":"0123"}]}]}]}"#).unwrap_err();
    assert_eq!(e.path(), "resourceLogs[0].scopeLogs[0].logRecords[1].spanId");
    let e = logs(br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber":"SEVERITY_NUMBER_LOUD"}]}]}]}"#)
        .unwrap_err();
    assert!(e.path().ends_with("severityNumber"), "{e}");
}

/// Corrupted documents must give an error or a model, never a panic, and the
/// two parsers must agree on them.
#[test]
fn mutated_documents_never_panic() {
    let base = traces_json(&edge_traces());
    let mut state = 0x5EED_0002_u64;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    const BYTES: &[u8] = b"{}[]\":,0123456789-+.eEtfnul\\ azAZ_\x00\xff";
    let (mut ok, mut err) = (0, 0);
    for _ in 0..3000 {
        let mut doc = base.clone();
        for _ in 0..1 + next() % 3 {
            let at = (next() % doc.len() as u64) as usize;
            match next() % 3 {
                0 => doc[at] = BYTES[(next() % BYTES.len() as u64) as usize],
                1 => {
                    doc.remove(at);
                }
                _ => doc.insert(at, BYTES[(next() % BYTES.len() as u64) as usize]),
            }
        }
        let simd = parse_traces(&mut doc.clone());
        agree(&doc, &simd, &parse_traces_serde(&doc), write_traces);
        if simd.is_ok() {
            ok += 1;
        } else {
            err += 1;
        }
    }
    assert!(ok > 100 && err > 100, "ok {ok}, err {err}");
    let _ = json::parse_metrics(&mut b"{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[7]}]}]}".to_vec());
}

#[test]
fn deep_nesting_is_bounded_not_fatal() {
    fn nested(levels: usize) -> String {
        let mut v = String::from(r#"{"intValue":"1"}"#);
        for _ in 0..levels {
            v = format!(r#"{{"arrayValue":{{"values":[{v}]}}}}"#);
        }
        minimal_span(&format!(r#","attributes":[{{"key":"deep","value":{v}}}]"#))
    }
    let d = traces(nested(35).as_bytes()).unwrap();
    let mut depth = 0;
    let mut v = &the_span(&d).attributes[0].value;
    while let AnyValue::Array(xs) = v {
        depth += 1;
        v = &xs[0];
    }
    assert_eq!((depth, v), (35, &AnyValue::Int(1)));
    for levels in [60, 1000, 20_000] {
        let e = err_traces(&nested(levels));
        assert_eq!(e.expected(), "valid JSON", "{e}");
    }
}
