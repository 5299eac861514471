//! Oracle tests of the direct protobuf encoder against the official prost
//! types: for generated models, the bytes are identical to prost's and the
//! reference decoder reads them back to the same model.

use bytes::Bytes;
use otlp_pipeline::encode::view::{
    AnyValueView, KeyValueView, List, LogsView, MetricDataView, MetricsView, TracesView,
};
use otlp_pipeline::encode::{decode, direct, reference};
use otlp_pipeline::fixtures;
use otlp_pipeline::model::{AnyValue, KeyValue, MetricData};
use proptest::prelude::*;

use crate::util::strategies::{logs_data, metrics_data, traces_data};

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn traces_direct_equals_prost_and_round_trips(d in traces_data()) {
        let (mut direct_bytes, mut prost_bytes) = (Vec::new(), Vec::new());
        direct::encode_traces(&d, &mut direct_bytes);
        reference::encode_traces(&d, &mut prost_bytes);
        prop_assert_eq!(&direct_bytes, &prost_bytes);
        let back = reference::decode_traces(&direct_bytes).expect("decodes");
        // Debug text compares NaN payload-free and keeps the test readable.
        prop_assert_eq!(format!("{back:?}"), format!("{d:?}"));
        let mut enc = direct::Encoder::new();
        prop_assert_eq!(enc.traces(&d), &prost_bytes[..]);
    }

    #[test]
    fn metrics_direct_equals_prost_and_round_trips(d in metrics_data()) {
        let (mut direct_bytes, mut prost_bytes) = (Vec::new(), Vec::new());
        direct::encode_metrics(&d, &mut direct_bytes);
        reference::encode_metrics(&d, &mut prost_bytes);
        prop_assert_eq!(&direct_bytes, &prost_bytes);
        let back = reference::decode_metrics(&direct_bytes).expect("decodes");
        prop_assert_eq!(format!("{back:?}"), format!("{d:?}"));
    }

    #[test]
    fn logs_direct_equals_prost_and_round_trips(d in logs_data()) {
        let (mut direct_bytes, mut prost_bytes) = (Vec::new(), Vec::new());
        direct::encode_logs(&d, &mut direct_bytes);
        reference::encode_logs(&d, &mut prost_bytes);
        prop_assert_eq!(&direct_bytes, &prost_bytes);
        let back = reference::decode_logs(&direct_bytes).expect("decodes");
        prop_assert_eq!(format!("{back:?}"), format!("{d:?}"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// The receiver's direct decoder reads generated models (edge-case
    /// strings, ids, every value and metric kind) as the prost path does.
    #[test]
    fn direct_decoder_equals_the_reference_on_generated_models(t in traces_data(), m in metrics_data(), l in logs_data()) {
        let mut v = Vec::new();
        direct::encode_traces(&t, &mut v);
        let ours = decode::decode_traces(&Bytes::from(v.clone())).expect("decodes");
        prop_assert_eq!(format!("{ours:?}"), format!("{:?}", reference::decode_traces(&v).expect("decodes")));
        let mut v = Vec::new();
        direct::encode_metrics(&m, &mut v);
        let ours = decode::decode_metrics(&Bytes::from(v.clone())).expect("decodes");
        prop_assert_eq!(format!("{ours:?}"), format!("{:?}", reference::decode_metrics(&v).expect("decodes")));
        let mut v = Vec::new();
        direct::encode_logs(&l, &mut v);
        let ours = decode::decode_logs(&Bytes::from(v.clone())).expect("decodes");
        prop_assert_eq!(format!("{ours:?}"), format!("{:?}", reference::decode_logs(&v).expect("decodes")));
    }
}

/// A view's value as the model holds it (the oracle side is the model).
fn view_value(v: AnyValueView<'_>) -> AnyValue {
    match v {
        AnyValueView::String(s) => AnyValue::String(s.to_owned().into()),
        AnyValueView::Bool(b) => AnyValue::Bool(b),
        AnyValueView::Int(i) => AnyValue::Int(i),
        AnyValueView::Double(d) => AnyValue::Double(d),
        AnyValueView::Bytes(b) => AnyValue::Bytes(Bytes::copy_from_slice(b)),
        AnyValueView::Array(xs) => AnyValue::Array(xs.iter().map(view_value).collect()),
        AnyValueView::KvList(kvs) => AnyValue::KvList(view_attributes(kvs)),
        _ => AnyValue::Empty,
    }
}

fn view_attributes(kvs: List<'_, KeyValueView<'_>>) -> Vec<KeyValue> {
    kvs.iter().map(|kv| KeyValue { key: kv.key.to_owned().into(), value: view_value(kv.value) }).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// The zero-copy views accept generated models and hand out, item by
    /// item, what the reference decoder reads from the same bytes (Debug
    /// text: values may be NaN).
    #[test]
    fn views_read_generated_models_as_the_reference_does(t in traces_data(), m in metrics_data(), l in logs_data()) {
        let mut v = Vec::new();
        direct::encode_traces(&t, &mut v);
        let oracle = reference::decode_traces(&v).expect("decodes");
        let view = TracesView::new(&v).expect("valid");
        prop_assert_eq!(view.span_count(), oracle.span_count());
        prop_assert_eq!(view.spans().count(), oracle.span_count());
        for (a, b) in view.spans().zip(oracle.spans()) {
            prop_assert_eq!((a.trace_id, a.span_id, a.parent_span_id), (b.trace_id, b.span_id, b.parent_span_id));
            prop_assert_eq!((a.name, a.kind, a.flags), (&*b.name, b.kind, b.flags));
            prop_assert_eq!((a.start_time_unix_nano, a.end_time_unix_nano), (b.start_time_unix_nano, b.end_time_unix_nano));
            prop_assert_eq!((a.status_code, a.status_message), (b.status.code, &*b.status.message));
            prop_assert_eq!(format!("{:?}", view_attributes(a.attributes())), format!("{:?}", b.attributes));
            prop_assert_eq!(a.events().iter().count(), b.events.len());
            for (x, y) in a.events().iter().zip(&b.events) {
                prop_assert_eq!((x.time_unix_nano, x.name), (y.time_unix_nano, &*y.name));
                prop_assert_eq!(format!("{:?}", view_attributes(x.attributes())), format!("{:?}", y.attributes));
            }
            prop_assert_eq!(a.links().iter().count(), b.links.len());
            for (x, y) in a.links().iter().zip(&b.links) {
                prop_assert_eq!((x.trace_id, x.span_id, x.trace_state), (y.trace_id, y.span_id, &*y.trace_state));
                prop_assert_eq!(format!("{:?}", view_attributes(x.attributes())), format!("{:?}", y.attributes));
            }
        }

        let mut v = Vec::new();
        direct::encode_metrics(&m, &mut v);
        let oracle = reference::decode_metrics(&v).expect("decodes");
        let view = MetricsView::new(&v).expect("valid");
        prop_assert_eq!(view.data_point_count(), oracle.point_count());
        let metrics: Vec<_> = oracle.resource_metrics.iter().flat_map(|r| &r.scope_metrics).flat_map(|s| &s.metrics).collect();
        prop_assert_eq!(view.metrics().count(), metrics.len());
        for (a, b) in view.metrics().zip(metrics) {
            prop_assert_eq!((a.name, a.description, a.unit), (&*b.name, &*b.description, &*b.unit));
            let points = match a.data {
                None => 0,
                Some(MetricDataView::Gauge(p) | MetricDataView::Sum { points: p, .. }) => p.iter().count(),
                Some(MetricDataView::Histogram { points, .. }) => points.iter().count(),
                Some(MetricDataView::ExponentialHistogram { points, .. }) => points.iter().count(),
            };
            prop_assert_eq!(points, b.data.as_ref().map_or(0, MetricData::point_count));
        }

        let mut v = Vec::new();
        direct::encode_logs(&l, &mut v);
        let oracle = reference::decode_logs(&v).expect("decodes");
        let view = LogsView::new(&v).expect("valid");
        prop_assert_eq!(view.log_record_count(), oracle.record_count());
        let records: Vec<_> = oracle.resource_logs.iter().flat_map(|r| &r.scope_logs).flat_map(|s| &s.log_records).collect();
        prop_assert_eq!(view.log_records().count(), records.len());
        for (a, b) in view.log_records().zip(records) {
            prop_assert_eq!((a.time_unix_nano, a.severity_number, a.severity_text), (b.time_unix_nano, b.severity_number, &*b.severity_text));
            prop_assert_eq!((a.trace_id, a.span_id, a.event_name), (b.trace_id, b.span_id, &*b.event_name));
            prop_assert_eq!(format!("{:?}", a.body.map(view_value)), format!("{:?}", b.body));
            prop_assert_eq!(format!("{:?}", view_attributes(a.attributes())), format!("{:?}", b.attributes));
        }
    }
}

#[test]
fn fixtures_are_byte_identical_and_sized_as_designed() {
    let d = fixtures::traces(fixtures::DEFAULT_SPANS);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    direct::encode_traces(&d, &mut a);
    reference::encode_traces(&d, &mut b);
    assert_eq!(a, b);
    // The fixture is built for about 457 bytes per encoded span.
    let per_span = a.len() / fixtures::DEFAULT_SPANS;
    assert!((440..=475).contains(&per_span), "{per_span} bytes per span");
    assert_eq!(reference::decode_traces(&a).expect("decodes"), d);
}

#[test]
fn decoder_rejects_bad_ids_and_profile_fields() {
    use opentelemetry_proto::tonic::common::v1 as pc;
    use prost::Message;
    let mut req = reference::traces_to_proto(&fixtures::traces(2));
    req.resource_spans[0].scope_spans[0].spans[1].span_id = vec![1, 2, 3];
    let err = reference::decode_traces(&req.encode_to_vec()).expect_err("short span id");
    assert!(err.to_string().contains("SpanId"), "{err}");

    let mut req = reference::traces_to_proto(&fixtures::traces(1));
    req.resource_spans[0].scope_spans[0].spans[0].attributes[0].key_strindex = 3;
    assert!(reference::decode_traces(&req.encode_to_vec()).is_err());

    let mut req = reference::traces_to_proto(&fixtures::traces(1));
    req.resource_spans[0].scope_spans[0].spans[0].attributes[0].value =
        Some(pc::AnyValue { value: Some(pc::any_value::Value::StringValueStrindex(1)) });
    assert!(reference::decode_traces(&req.encode_to_vec()).is_err());

    let mut bytes = Vec::new();
    direct::encode_traces(&fixtures::traces(4), &mut bytes);
    for cut in [1, bytes.len() / 2, bytes.len() - 1] {
        assert!(reference::decode_traces(&bytes[..cut]).is_err(), "truncated at {cut}");
    }
}
