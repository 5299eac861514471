//! The direct decoder against the reference decoder: the fixtures, every
//! truncation and single-byte mutation of small encodings, and random
//! inputs. [`hand_made`] has one input per rule in the module doc. The
//! zero-copy views (`crate::encode::view`) run on every one of these inputs
//! too, against the direct decoder ([`views`]).

mod budget;
mod hand_made;
mod views;

use std::fmt;

use bytes::Bytes;
use proptest::prelude::*;
use prost::Message as _;

use super::reader::{END_GROUP, FIXED32, FIXED64, LEN, START_GROUP, VARINT};
use super::*;
use crate::encode::{direct, reference};
use crate::fixtures;
use crate::model::*;

/// Ok with equal values (NaN-safe: Debug text when `==` says no), or both Err.
fn agree<T: PartialEq + fmt::Debug>(what: &str, ours: R<T>, theirs: R<T>, input: &[u8]) -> Result<(), String> {
    let shown = || if input.len() <= 256 { format!("{input:02x?}") } else { format!("{} bytes", input.len()) };
    match (&ours, &theirs) {
        (Ok(a), Ok(b)) if a == b || format!("{a:?}") == format!("{b:?}") => Ok(()),
        (Err(_), Err(_)) => Ok(()),
        _ => {
            // Only the neighbourhood of the first difference: models are long.
            let (a, b) = (format!("{ours:?}"), format!("{theirs:?}"));
            let at = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
            let window = |s: &str| s.get(at.saturating_sub(200)..).unwrap_or(s).chars().take(400).collect::<String>();
            Err(format!("{what} disagrees on {}:\n ours      {}\n reference {}", shown(), window(&a), window(&b)))
        }
    }
}

/// The three decoders against the reference on the same bytes, and the
/// three views against the decoders.
fn check_all(input: &[u8]) -> Result<(), String> {
    let body = Bytes::copy_from_slice(input);
    let (t, m, l) = (decode_traces(&body), decode_metrics(&body), decode_logs(&body));
    views::check_views(input, &t, &m, &l)?;
    agree("traces", t, reference::decode_traces(input), input)?;
    agree("metrics", m, reference::decode_metrics(input), input)?;
    agree("logs", l, reference::decode_logs(input), input)
}

fn assert_all(input: &[u8]) {
    if let Err(e) = check_all(input) {
        panic!("{e}");
    }
}

// A minimal protobuf writer for hand-made inputs.
fn varint(v: u64, out: &mut Vec<u8>) {
    prost::encoding::encode_varint(v, out);
}
fn key(tag: u32, wt: u8) -> Vec<u8> {
    let mut out = Vec::new();
    varint(u64::from(tag << 3 | u32::from(wt)), &mut out);
    out
}
fn ld(tag: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = key(tag, LEN);
    varint(payload.len() as u64, &mut out);
    out.extend_from_slice(payload);
    out
}
fn vi(tag: u32, v: u64) -> Vec<u8> {
    let mut out = key(tag, VARINT);
    varint(v, &mut out);
    out
}
fn f64f(tag: u32, v: u64) -> Vec<u8> {
    let mut out = key(tag, FIXED64);
    out.extend_from_slice(&v.to_le_bytes());
    out
}
fn f32f(tag: u32, v: u32) -> Vec<u8> {
    let mut out = key(tag, FIXED32);
    out.extend_from_slice(&v.to_le_bytes());
    out
}
fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// A valid span's ids, for hand-made spans.
fn span_ids() -> Vec<u8> {
    cat(&[&ld(1, &[7; 16]), &ld(2, &[9; 8])])
}

/// A trace request with one span whose fields are `span`.
fn request_with_span(span: &[u8]) -> Vec<u8> {
    ld(1, &ld(2, &ld(2, span)))
}

/// A trace request with one span carrying one attribute made of `kv`.
fn request_with_attribute(kv: &[u8]) -> Vec<u8> {
    request_with_span(&cat(&[&span_ids(), &ld(9, kv)]))
}

/// A metrics request with one metric whose fields are `metric`.
fn request_with_metric(metric: &[u8]) -> Vec<u8> {
    ld(1, &ld(2, &ld(2, metric)))
}

/// A logs request with one record whose fields are `record`.
fn request_with_record(record: &[u8]) -> Vec<u8> {
    ld(1, &ld(2, &ld(2, record)))
}

/// Every model feature at least once: all `AnyValue` variants (nested),
/// links, events, status, parent ids, dropped counts, schema URLs.
fn rich_traces() -> TracesData {
    let nested = AnyValue::Array(vec![
        AnyValue::Int(-3),
        AnyValue::Empty,
        AnyValue::KvList(vec![KeyValue::new("inner", vec![1u8, 2, 3]), KeyValue::new("d", f64::NAN)]),
    ]);
    let mut resource = fixtures::resource().with("nested", nested.clone());
    resource.dropped_attributes_count = 2;
    let mut scope = InstrumentationScope::new("scope", "9.9");
    scope.attributes.push(KeyValue::new("b", false));
    scope.dropped_attributes_count = 1;
    let mut span = Span::builder("rich")
        .trace_id(TraceId([1; 16]))
        .span_id(SpanId([2; 8]))
        .trace_state("a=b")
        .flags(0x301)
        .kind(SpanKind::Consumer)
        .times(5, 6)
        .attr("s", "x")
        .attr("n", nested)
        .attr("e", AnyValue::Empty)
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
    let root = Span::builder("root").trace_id(TraceId([1; 16])).span_id(SpanId([5; 8])).times(1, 2).build();
    let mut child = root.clone();
    child.parent_span_id = Some(SpanId([5; 8]));
    child.span_id = SpanId([6; 8]);
    let mut d = TracesData::single(resource, scope, vec![span, root, child]);
    d.resource_spans[0].schema_url = "https://schema/r".into();
    d.resource_spans[0].scope_spans[0].schema_url = "https://schema/s".into();
    d.resource_spans.push(ResourceSpans::default());
    d
}

/// Every metric kind and optional field.
fn rich_metrics() -> MetricsData {
    let mut d = fixtures::metrics(10);
    let point = ExponentialHistogramDataPoint {
        attributes: vec![KeyValue::new("k", "v")],
        start_time_unix_nano: 1,
        time_unix_nano: 2,
        count: 9,
        sum: Some(-1.5),
        scale: -3,
        zero_count: 1,
        positive: Some(ExpBuckets { offset: -2, bucket_counts: vec![1, 300, 0, u64::MAX] }),
        negative: Some(ExpBuckets::default()),
        flags: 1,
        min: None,
        max: Some(4.0),
        zero_threshold: 1e-9,
    };
    let metrics = &mut d.resource_metrics[0].scope_metrics[0].metrics;
    metrics.push(Metric::new(
        "exp",
        "an exponential histogram",
        "s",
        MetricData::ExponentialHistogram { points: vec![point], temporality: Temporality::Delta },
    ));
    metrics.push(Metric {
        name: "empty".into(),
        description: "".into(),
        unit: "".into(),
        data: None,
        metadata: vec![KeyValue::new("m", 1)],
    });
    metrics.push(Metric::new(
        "sum",
        "",
        "",
        MetricData::Sum {
            points: vec![NumberDataPoint {
                attributes: Vec::new(),
                start_time_unix_nano: 0,
                time_unix_nano: 0,
                value: None,
                flags: 1,
            }],
            temporality: Temporality::Unspecified,
            is_monotonic: false,
        },
    ));
    metrics.push(Metric::new(
        "h",
        "",
        "",
        MetricData::Histogram { points: vec![HistogramDataPoint::default()], temporality: Temporality::Delta },
    ));
    d
}

/// Bodies of every kind, records with and without ids.
fn rich_logs() -> LogsData {
    let mut d = fixtures::logs(2);
    let records = &mut d.resource_logs[0].scope_logs[0].log_records;
    records.push(LogRecord::builder().times(1, 2).body(AnyValue::Empty).event_name("ev").build());
    records
        .push(LogRecord::builder().times(3, 4).body(vec![AnyValue::Bool(true), AnyValue::Bytes(Bytes::new())]).build());
    records.push(LogRecord { severity_number: Severity(99), flags: 3, ..LogRecord::default() });
    d
}

/// The encodings the differential tests start from (direct and prost
/// write the same bytes; both are used so that this stays true here).
fn small_encodings() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let t = [rich_traces(), fixtures::traces(3)];
    for d in &t {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        direct::encode_traces(d, &mut a);
        reference::encode_traces(d, &mut b);
        out.extend([a, b]);
    }
    for d in [rich_metrics(), fixtures::metrics(10)] {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        direct::encode_metrics(&d, &mut a);
        reference::encode_metrics(&d, &mut b);
        out.extend([a, b]);
    }
    for d in [rich_logs(), fixtures::logs(3)] {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        direct::encode_logs(&d, &mut a);
        reference::encode_logs(&d, &mut b);
        out.extend([a, b]);
    }
    out
}

#[test]
fn fixtures_decode_as_the_reference_does() {
    let t = fixtures::traces(fixtures::DEFAULT_SPANS);
    let m = fixtures::metrics(fixtures::DEFAULT_POINTS);
    let l = fixtures::logs(fixtures::DEFAULT_LOGS);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    direct::encode_traces(&t, &mut a);
    reference::encode_traces(&t, &mut b);
    for v in [&a, &b] {
        assert_eq!(decode_traces(&Bytes::from(v.clone())).expect("decodes"), t);
        assert_eq!(reference::decode_traces(v).expect("decodes"), t);
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    direct::encode_metrics(&m, &mut a);
    reference::encode_metrics(&m, &mut b);
    for v in [&a, &b] {
        assert_eq!(decode_metrics(&Bytes::from(v.clone())).expect("decodes"), m);
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    direct::encode_logs(&l, &mut a);
    reference::encode_logs(&l, &mut b);
    for v in [&a, &b] {
        assert_eq!(decode_logs(&Bytes::from(v.clone())).expect("decodes"), l);
    }
    // The rich models round-trip (Debug: they hold a NaN).
    let mut v = Vec::new();
    direct::encode_traces(&rich_traces(), &mut v);
    assert_eq!(format!("{:?}", decode_traces(&Bytes::from(v)).expect("decodes")), format!("{:?}", rich_traces()));
    let mut v = Vec::new();
    direct::encode_metrics(&rich_metrics(), &mut v);
    assert_eq!(decode_metrics(&Bytes::from(v)).expect("decodes"), rich_metrics());
    let mut v = Vec::new();
    direct::encode_logs(&rich_logs(), &mut v);
    assert_eq!(decode_logs(&Bytes::from(v)).expect("decodes"), rich_logs());
}

#[test]
fn strings_share_the_body() {
    let mut v = Vec::new();
    direct::encode_traces(&fixtures::traces(1), &mut v);
    let body = Bytes::from(v);
    let d = decode_traces(&body).expect("decodes");
    let name = d.spans().next().expect("one span").name.as_bytes().as_ptr_range();
    assert!(body.as_ptr_range().contains(&name.start), "the span name is a slice of the body");
}

#[test]
fn every_truncation_agrees() {
    for v in small_encodings() {
        for cut in 0..=v.len() {
            assert_all(&v[..cut]);
        }
        assert!(decode_traces(&Bytes::copy_from_slice(&v[..v.len() - 1])).is_err());
    }
}

#[test]
fn every_single_byte_mutation_agrees() {
    for v in small_encodings() {
        let mut m = v.clone();
        for i in 0..v.len() {
            let b = v[i];
            for x in [0x00, 0xff, 0x80, 0x7f, b ^ 0x01, b ^ 0x08, b.wrapping_add(1), b.wrapping_sub(1)] {
                m[i] = x;
                assert_all(&m);
            }
            m[i] = b;
        }
    }
}

/// Plausible protobuf: fields with small tags of every wire type,
/// nested messages and groups, so that known fields are hit with right
/// and wrong types alike.
fn arb_message() -> impl Strategy<Value = Vec<u8>> {
    let leaf = prop_oneof![
        (1u32..18, any::<u64>()).prop_map(|(t, v)| vi(t, v)),
        (1u32..18, 0u64..300).prop_map(|(t, v)| vi(t, v)),
        (1u32..18, any::<u64>()).prop_map(|(t, v)| f64f(t, v)),
        (1u32..18, any::<u32>()).prop_map(|(t, v)| f32f(t, v)),
        (1u32..18, prop::collection::vec(any::<u8>(), 0..20)).prop_map(|(t, v)| ld(t, &v)),
        (1u32..18, "[a-z]{0,8}").prop_map(|(t, s)| ld(t, s.as_bytes())),
        (1u32..3, prop::sample::select(vec![8usize, 16])).prop_map(|(t, n)| ld(t, &vec![1; n])),
    ];
    let fields = leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            4 => (1u32..18, prop::collection::vec(inner.clone(), 0..6)).prop_map(|(t, fs)| ld(t, &fs.concat())),
            1 => (1u32..18, prop::collection::vec(inner.clone(), 0..3)).prop_map(|(t, fs)| {
                cat(&[&key(t, START_GROUP), &fs.concat(), &key(t, END_GROUP)])
            }),
            1 => inner,
        ]
    });
    prop::collection::vec(fields, 0..6).prop_map(|fs| fs.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_agree(v in prop::collection::vec(any::<u8>(), 0..200)) {
        check_all(&v).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn random_messages_agree(v in arb_message()) {
        check_all(&v).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn random_mutations_of_fixtures_agree(
        which in 0usize..12,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..6),
    ) {
        let encodings = small_encodings();
        let mut v = encodings[which % encodings.len()].clone();
        for (at, byte, op) in edits {
            if v.is_empty() {
                break;
            }
            let i = at.index(v.len());
            match op {
                0 | 1 => v[i] = byte,
                2 => v.insert(i, byte),
                _ => {
                    v.remove(i);
                }
            }
        }
        check_all(&v).map_err(TestCaseError::fail)?;
    }
}
