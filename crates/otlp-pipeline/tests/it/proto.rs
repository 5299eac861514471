//! Oracle tests of the direct protobuf encoder against the official prost
//! types: for generated models, the bytes are identical to prost's and the
//! reference decoder reads them back to the same model.

use bytes::Bytes;
use otlp_pipeline::encode::{decode, direct, reference};
use otlp_pipeline::fixtures;
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
