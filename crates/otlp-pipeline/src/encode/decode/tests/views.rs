//! The zero-copy views against the direct decoder: each view is copied into
//! the model field by field, so that `check_all` can compare what the view
//! iterates with what the decoder (itself checked against prost) builds, on
//! every input the differential tests feed both.

use super::*;
use crate::encode::view::*;

fn s(x: &str) -> Str {
    Str::from(x.to_owned())
}

fn any_value(v: AnyValueView<'_>) -> AnyValue {
    match v {
        AnyValueView::String(x) => AnyValue::String(s(x)),
        AnyValueView::Bool(x) => AnyValue::Bool(x),
        AnyValueView::Int(x) => AnyValue::Int(x),
        AnyValueView::Double(x) => AnyValue::Double(x),
        AnyValueView::Bytes(x) => AnyValue::Bytes(Bytes::copy_from_slice(x)),
        AnyValueView::Array(xs) => AnyValue::Array(xs.iter().map(any_value).collect()),
        AnyValueView::KvList(kvs) => AnyValue::KvList(key_values(kvs)),
        _ => AnyValue::Empty,
    }
}

fn key_values(kvs: List<'_, KeyValueView<'_>>) -> Vec<KeyValue> {
    kvs.iter().map(|kv| KeyValue { key: s(kv.key), value: any_value(kv.value) }).collect()
}

fn resource(r: ResourceView<'_>) -> Resource {
    Resource { attributes: key_values(r.attributes()), dropped_attributes_count: r.dropped_attributes_count() }
}

fn scope(x: ScopeView<'_>) -> InstrumentationScope {
    InstrumentationScope {
        name: s(x.name()),
        version: s(x.version()),
        attributes: key_values(x.attributes()),
        dropped_attributes_count: x.dropped_attributes_count(),
    }
}

pub(super) fn traces(v: &TracesView<'_>) -> TracesData {
    let resource_spans = v
        .resource_spans()
        .iter()
        .map(|r| ResourceSpans {
            resource: resource(r.resource()),
            schema_url: s(r.schema_url()),
            scope_spans: r
                .scope_spans()
                .iter()
                .map(|x| ScopeSpans {
                    scope: scope(x.scope()),
                    schema_url: s(x.schema_url()),
                    spans: x.spans().iter().map(span).collect(),
                })
                .collect(),
        })
        .collect();
    TracesData { resource_spans }
}

fn span(x: SpanView<'_>) -> Span {
    Span {
        trace_id: x.trace_id,
        span_id: x.span_id,
        trace_state: s(x.trace_state),
        parent_span_id: x.parent_span_id,
        flags: x.flags,
        name: s(x.name),
        kind: x.kind,
        start_time_unix_nano: x.start_time_unix_nano,
        end_time_unix_nano: x.end_time_unix_nano,
        attributes: key_values(x.attributes()),
        dropped_attributes_count: x.dropped_attributes_count,
        events: x
            .events()
            .iter()
            .map(|e| Event {
                time_unix_nano: e.time_unix_nano,
                name: s(e.name),
                attributes: key_values(e.attributes()),
                dropped_attributes_count: e.dropped_attributes_count,
            })
            .collect(),
        dropped_events_count: x.dropped_events_count,
        links: x
            .links()
            .iter()
            .map(|l| Link {
                trace_id: l.trace_id,
                span_id: l.span_id,
                trace_state: s(l.trace_state),
                attributes: key_values(l.attributes()),
                dropped_attributes_count: l.dropped_attributes_count,
                flags: l.flags,
            })
            .collect(),
        dropped_links_count: x.dropped_links_count,
        status: Status { code: x.status_code, message: s(x.status_message) },
    }
}

pub(super) fn logs(v: &LogsView<'_>) -> LogsData {
    let resource_logs = v
        .resource_logs()
        .iter()
        .map(|r| ResourceLogs {
            resource: resource(r.resource()),
            schema_url: s(r.schema_url()),
            scope_logs: r
                .scope_logs()
                .iter()
                .map(|x| ScopeLogs {
                    scope: scope(x.scope()),
                    schema_url: s(x.schema_url()),
                    log_records: x
                        .log_records()
                        .iter()
                        .map(|l| LogRecord {
                            time_unix_nano: l.time_unix_nano,
                            observed_time_unix_nano: l.observed_time_unix_nano,
                            severity_number: l.severity_number,
                            severity_text: s(l.severity_text),
                            body: l.body.map(any_value),
                            attributes: key_values(l.attributes()),
                            dropped_attributes_count: l.dropped_attributes_count,
                            flags: l.flags,
                            trace_id: l.trace_id,
                            span_id: l.span_id,
                            event_name: s(l.event_name),
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect();
    LogsData { resource_logs }
}

pub(super) fn metrics(v: &MetricsView<'_>) -> MetricsData {
    let resource_metrics = v
        .resource_metrics()
        .iter()
        .map(|r| ResourceMetrics {
            resource: resource(r.resource()),
            schema_url: s(r.schema_url()),
            scope_metrics: r
                .scope_metrics()
                .iter()
                .map(|x| ScopeMetrics {
                    scope: scope(x.scope()),
                    schema_url: s(x.schema_url()),
                    metrics: x.metrics().iter().map(metric).collect(),
                })
                .collect(),
        })
        .collect();
    MetricsData { resource_metrics }
}

fn metric(m: MetricView<'_>) -> Metric {
    let number = |p: NumberPointView<'_>| NumberDataPoint {
        attributes: key_values(p.attributes()),
        start_time_unix_nano: p.start_time_unix_nano,
        time_unix_nano: p.time_unix_nano,
        value: p.value,
        flags: p.flags,
    };
    let buckets = |b: Option<BucketsView<'_>>| {
        b.map(|b| ExpBuckets { offset: b.offset(), bucket_counts: b.bucket_counts().collect() })
    };
    let data = m.data.map(|d| match d {
        MetricDataView::Gauge(points) => MetricData::Gauge(points.iter().map(number).collect()),
        MetricDataView::Sum { points, temporality, is_monotonic } => {
            MetricData::Sum { points: points.iter().map(number).collect(), temporality, is_monotonic }
        }
        MetricDataView::Histogram { points, temporality } => MetricData::Histogram {
            points: points
                .iter()
                .map(|p| HistogramDataPoint {
                    attributes: key_values(p.attributes()),
                    start_time_unix_nano: p.start_time_unix_nano,
                    time_unix_nano: p.time_unix_nano,
                    count: p.count,
                    sum: p.sum,
                    bucket_counts: p.bucket_counts().collect(),
                    explicit_bounds: p.explicit_bounds().collect(),
                    flags: p.flags,
                    min: p.min,
                    max: p.max,
                })
                .collect(),
            temporality,
        },
        MetricDataView::ExponentialHistogram { points, temporality } => MetricData::ExponentialHistogram {
            points: points
                .iter()
                .map(|p| ExponentialHistogramDataPoint {
                    attributes: key_values(p.attributes()),
                    start_time_unix_nano: p.start_time_unix_nano,
                    time_unix_nano: p.time_unix_nano,
                    count: p.count,
                    sum: p.sum,
                    scale: p.scale,
                    zero_count: p.zero_count,
                    positive: buckets(p.positive()),
                    negative: buckets(p.negative()),
                    flags: p.flags,
                    min: p.min,
                    max: p.max,
                    zero_threshold: p.zero_threshold,
                })
                .collect(),
            temporality,
        },
    });
    Metric { name: s(m.name), description: s(m.description), unit: s(m.unit), data, metadata: key_values(m.metadata()) }
}

/// The view of `input` agrees with the direct decoder's `decoded`: both
/// fail with the same error, or the view's count is the model's and its
/// copy into the model equals the model (Debug text when `==` says no: NaN).
fn agree_view<T: PartialEq + fmt::Debug>(
    what: &str,
    view: Result<(usize, T), EncodeError>,
    decoded: &R<T>,
    count: impl Fn(&T) -> usize,
    input: &[u8],
) -> Result<(), String> {
    let shown = || if input.len() <= 256 { format!("{input:02x?}") } else { format!("{} bytes", input.len()) };
    match (view, decoded) {
        (Err(a), Err(b)) if format!("{a:?}") == format!("{b:?}") => Ok(()),
        (Ok((n, a)), Ok(b)) if n == count(b) && (a == *b || format!("{a:?}") == format!("{b:?}")) => Ok(()),
        (Ok((n, a)), Ok(b)) => Err(format!(
            "{what} view disagrees with the decoder on {}: count {n} vs {}\n view    {a:?}\n decoder {b:?}",
            shown(),
            count(b)
        )),
        (a, b) => Err(format!(
            "{what} view disagrees with the decoder on {}:\n view    {:?}\n decoder {:?}",
            shown(),
            a.map(|(n, _)| n),
            b.as_ref().map(|_| "Ok")
        )),
    }
}

/// The three views against the direct decoder's results on `input`.
pub(super) fn check_views(input: &[u8], t: &R<TracesData>, m: &R<MetricsData>, l: &R<LogsData>) -> Result<(), String> {
    let tv = TracesView::new(input).map(|v| (v.span_count(), traces(&v)));
    agree_view("traces", tv, t, TracesData::span_count, input)?;
    let mv = MetricsView::new(input).map(|v| (v.data_point_count(), metrics(&v)));
    agree_view("metrics", mv, m, MetricsData::point_count, input)?;
    let lv = LogsView::new(input).map(|v| (v.log_record_count(), logs(&v)));
    agree_view("logs", lv, l, LogsData::record_count, input)?;
    let body = Bytes::copy_from_slice(input);
    if let Ok(v) = TracesView::new(input) {
        budget_agrees(
            "traces",
            v.model_bytes(),
            |b| TracesView::new_within(input, b).map(drop),
            |b| decode_traces_within(&body, b).map(drop),
        )?;
    }
    if let Ok(v) = MetricsView::new(input) {
        budget_agrees(
            "metrics",
            v.model_bytes(),
            |b| MetricsView::new_within(input, b).map(drop),
            |b| decode_metrics_within(&body, b).map(drop),
        )?;
    }
    if let Ok(v) = LogsView::new(input) {
        budget_agrees(
            "logs",
            v.model_bytes(),
            |b| LogsView::new_within(input, b).map(drop),
            |b| decode_logs_within(&body, b).map(drop),
        )?;
    }
    Ok(())
}

/// A view's `model_bytes` is exactly where its budget starts refusing, and
/// the decoder, which allocates at least that much, refuses every budget
/// below it ("never the reverse" in the views' docs).
fn budget_agrees(
    what: &str,
    model: usize,
    view: impl Fn(DecodeBudget) -> R<()>,
    decoder: impl Fn(DecodeBudget) -> R<()>,
) -> Result<(), String> {
    if view(DecodeBudget::bytes(model)).is_err() {
        return Err(format!("{what}: the view refuses a budget of its own model_bytes ({model})"));
    }
    if model == 0 {
        return Ok(());
    }
    let under = DecodeBudget::bytes(model - 1);
    match (view(under), decoder(under)) {
        (Err(EncodeError::OverBudget { .. }), Err(EncodeError::OverBudget { .. })) => Ok(()),
        (a, b) => Err(format!("{what}: with a budget one byte under model_bytes ({model}): view {a:?}, decoder {b:?}")),
    }
}

#[test]
fn merged_runs_read_as_the_decoder_builds_them() {
    // A key-value's value given more than once: the array the model holds is
    // the last run of array occurrences, wherever it starts.
    let arr = |x: u64| ld(5, &ld(1, &vi(3, x)));
    let list = |k: &[u8]| ld(6, &ld(1, &ld(1, k)));
    let int = vi(3, 9);
    for (value, want) in [
        (cat(&[&ld(2, &cat(&[&arr(1), &int])), &ld(2, &cat(&[&arr(2), &arr(3)]))]), "[Int(2), Int(3)]"),
        (cat(&[&ld(2, &arr(1)), &ld(2, &int), &ld(2, &arr(2))]), "[Int(2)]"),
        (cat(&[&ld(2, &cat(&[&arr(1), &list(b"a")])), &ld(2, &cat(&[&list(b"b"), &arr(4)]))]), "[Int(4)]"),
        (cat(&[&ld(2, &cat(&[&arr(1), &arr(2)])), &ld(2, &arr(3))]), "[Int(1), Int(2), Int(3)]"),
    ] {
        let input = request_with_attribute(&cat(&[&ld(1, b"k"), &value]));
        assert_all(&input);
        let v = TracesView::new(&input).expect("valid");
        let span = v.spans().next().expect("one span");
        let kv = span.attributes().iter().next().expect("one attribute");
        let AnyValueView::Array(xs) = kv.value else { panic!("an array: {kv:?}") };
        assert_eq!(format!("{:?}", xs.iter().map(any_value).collect::<Vec<_>>()), want);
    }
    // The same for key-value lists in a log body given twice.
    let input =
        request_with_record(&cat(&[&ld(5, &cat(&[&list(b"a"), &int])), &ld(5, &cat(&[&list(b"b"), &list(b"c")]))]));
    assert_all(&input);
    let v = LogsView::new(&input).expect("valid");
    let Some(AnyValueView::KvList(kvs)) = v.log_records().next().expect("one record").body else { panic!("a list") };
    assert_eq!(kvs.iter().map(|kv| kv.key).collect::<Vec<_>>(), ["b", "c"]);
}

#[test]
fn usual_key_values_read_as_the_decoder_and_prost_read_them() {
    // The straight path (`usual_key_value`) and its edges: strings ASCII or
    // not, valid UTF-8 or not, in the key or the value; ints of one, two and
    // more varint bytes, overlong ones, trailing bytes; the other scalars;
    // no value, an empty value. Each is checked against the decoder and
    // prost (`assert_all`), and the views read back what was written.
    let long_key = "k".repeat(127);
    let keys: [&[u8]; 5] = [b"k", "ключ".as_bytes(), b"\xff\xfe", long_key.as_bytes(), b""];
    let values: Vec<Vec<u8>> = vec![
        ld(1, b"plain"),
        ld(1, "é and ü".as_bytes()),
        ld(1, b"bad \xc3"),
        ld(1, &[b'x'; 125]),
        vi(2, 1),
        vi(2, 0),
        vi(3, 5),
        vi(3, 200),
        vi(3, 1 << 20),
        vi(3, u64::MAX),
        cat(&[&key(3, VARINT), &[0x80, 0x00]]),
        cat(&[&key(3, VARINT), &[0x05, 0x01]]),
        cat(&[&key(3, VARINT), &[0x80]]),
        f64f(4, 1.5f64.to_bits()),
        ld(7, b"\x00\xff"),
        Vec::new(),
    ];
    for k in keys {
        for v in &values {
            let with_value = cat(&[&ld(1, k), &ld(2, v)]);
            for kv in [with_value, ld(1, k)] {
                let input = request_with_attribute(&kv);
                assert_all(&input);
                let Ok(view) = TracesView::new(&input) else { continue };
                let span = view.spans().next().expect("one span");
                let got = span.attributes().iter().next().expect("one attribute");
                assert_eq!(got.key.as_bytes(), k);
            }
        }
    }
}

#[test]
fn span_heads_read_as_the_decoder_and_prost_read_them() {
    // The span's head (`span_head` in encode/view/traces.rs) takes fields 1
    // to 8 in order with one-byte keys and lengths and leaves the rest to
    // the field loop: every other shape of those fields must end the same
    // way as in the decoder and prost, and the ids read must be the last
    // ones given.
    let (tid, sid) = (ld(1, &[7; 16]), ld(2, &[9; 8]));
    let name = ld(5, b"GET /");
    let times = cat(&[&f64f(7, 1), &f64f(8, 2)]);
    let long_name = ld(5, &[b'n'; 200]);
    let attr = ld(9, &cat(&[&ld(1, b"k"), &ld(2, &ld(1, b"v"))]));
    let bad_attr = ld(9, &cat(&[&ld(1, b"k"), &ld(2, &ld(1, b"\xff"))]));
    let heads: Vec<Vec<u8>> = vec![
        cat(&[&tid, &sid, &ld(3, b"k=v"), &ld(4, &[3; 8]), &name, &vi(6, 2), &times, &attr, &attr]),
        cat(&[&tid, &sid, &name, &times]),
        cat(&[&sid, &tid, &name]),
        cat(&[&tid, &sid, &ld(1, &[8; 16]), &name]),
        cat(&[&tid, &sid, &ld(5, b"\xc3"), &times]),
        cat(&[&tid, &sid, &ld(3, b"\xff"), &name]),
        cat(&[&tid, &sid, &long_name, &times, &attr]),
        cat(&[&tid, &sid, &name, &vi(6, 300), &times]),
        cat(&[&tid, &ld(2, &[9; 7]), &name]),
        cat(&[&ld(1, &[7; 15]), &sid]),
        cat(&[&tid, &sid, &name, &f64f(7, 1)[..5]]),
        cat(&[&tid, &sid, &name, &times, &attr, &bad_attr, &attr]),
        cat(&[&tid, &sid, &name, &times, &ld(9, &[0x0a, 0x05, b'k'])]),
        cat(&[&tid, &sid, &name, &times, &[0x4a]]),
        cat(&[&tid, &sid, &name, &times, &attr, &tid]),
        cat(&[&tid, &sid, &name, &times, &key(9, VARINT), &[1]]),
    ];
    for (i, span) in heads.iter().enumerate() {
        let input = request_with_span(span);
        assert_all(&input);
        if let Ok(v) = TracesView::new(&input) {
            let got = v.spans().next().expect("one span");
            assert_eq!(got.span_id.to_bytes(), [9; 8], "head {i}");
        }
    }
}
