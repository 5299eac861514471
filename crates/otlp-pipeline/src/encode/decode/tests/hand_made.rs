//! Hand-made inputs, one or more per rule the decoder shares with prost.

use super::*;

#[test]
fn packed_and_unpacked_repeated_scalars_agree() {
    // Histogram bucket_counts (fixed64) and explicit_bounds (double), and
    // exponential buckets (uint64 varints), each packed, unpacked and mixed.
    let counts = [1u64, 2, 3];
    let packed64: Vec<u8> = counts.iter().flat_map(|c| c.to_le_bytes()).collect();
    let unpacked64: Vec<u8> = counts.iter().flat_map(|&c| f64f(6, c)).collect();
    let bounds: Vec<u8> = [0.5f64, 1.5].iter().flat_map(|b| b.to_bits().to_le_bytes()).collect();
    for point in [
        cat(&[&ld(6, &packed64), &ld(7, &bounds)]),
        cat(&[&unpacked64, &f64f(7, 0.5f64.to_bits()), &f64f(7, 1.5f64.to_bits())]),
        cat(&[&ld(6, &packed64[..8]), &unpacked64[9..18], &ld(6, &packed64[16..]), &ld(7, &bounds)]),
        ld(6, &[]),
    ] {
        let input = request_with_metric(&cat(&[&ld(1, b"h"), &ld(9, &ld(1, &point))]));
        let d = decode_metrics(&Bytes::from(input.clone())).expect("decodes");
        assert_all(&input);
        let Some(MetricData::Histogram { points, .. }) = &d.resource_metrics[0].scope_metrics[0].metrics[0].data else {
            panic!("a histogram: {d:?}")
        };
        assert!(points[0].bucket_counts.is_empty() || points[0].bucket_counts == counts, "{points:?}");
    }
    let mut packed = Vec::new();
    for c in [1u64, 300, u64::MAX] {
        varint(c, &mut packed);
    }
    let unpacked: Vec<u8> = [1u64, 300, u64::MAX].iter().flat_map(|&c| vi(2, c)).collect();
    for buckets in [ld(2, &packed), unpacked] {
        let point = ld(8, &buckets);
        let input = request_with_metric(&cat(&[&ld(1, b"e"), &ld(10, &ld(1, &point))]));
        assert_all(&input);
        let d = decode_metrics(&Bytes::from(input)).expect("decodes");
        let Some(MetricData::ExponentialHistogram { points, .. }) =
            &d.resource_metrics[0].scope_metrics[0].metrics[0].data
        else {
            panic!("an exponential histogram: {d:?}")
        };
        assert_eq!(points[0].positive.as_ref().expect("present").bucket_counts, [1, 300, u64::MAX]);
    }
    // A packed run that is not a whole number of fixed64s.
    let input = request_with_metric(&ld(9, &ld(1, &ld(6, &packed64[..7]))));
    assert!(decode_metrics(&Bytes::from(input.clone())).is_err());
    assert_all(&input);
}

#[test]
fn a_message_field_given_twice_is_merged() {
    // Resource twice: attributes appended, the count from the last.
    let kv = |k: &[u8]| ld(1, &ld(1, k));
    let resource = cat(&[&ld(1, &cat(&[&kv(b"a"), &vi(2, 3)])), &ld(1, &cat(&[&kv(b"b"), &vi(2, 4)]))]);
    let input = ld(1, &resource);
    assert_all(&input);
    let d = decode_traces(&Bytes::from(input)).expect("decodes");
    let r = &d.resource_spans[0].resource;
    assert_eq!((r.attributes.len(), r.dropped_attributes_count), (2, 4));
    // Status twice: the message of the first, the code of the second.
    let input = request_with_span(&cat(&[&span_ids(), &ld(15, &ld(2, b"why")), &ld(15, &vi(3, 2))]));
    assert_all(&input);
    let d = decode_traces(&Bytes::from(input)).expect("decodes");
    assert_eq!(d.spans().next().expect("span").status, Status::error("why"));
    // A value given twice: arrays concatenate, a scalar in between restarts.
    let arr = |x: u64| ld(5, &ld(1, &vi(3, x)));
    for (value, want) in [
        (cat(&[&ld(2, &arr(1)), &ld(2, &arr(2))]), vec![AnyValue::Int(1), AnyValue::Int(2)]),
        (cat(&[&ld(2, &cat(&[&arr(1), &vi(3, 9), &arr(2)]))]), vec![AnyValue::Int(2)]),
        (cat(&[&ld(2, &cat(&[&arr(1), &arr(2)]))]), vec![AnyValue::Int(1), AnyValue::Int(2)]),
    ] {
        let input = request_with_attribute(&cat(&[&ld(1, b"k"), &value]));
        assert_all(&input);
        let d = decode_traces(&Bytes::from(input)).expect("decodes");
        assert_eq!(d.spans().next().expect("span").attributes[0].value, AnyValue::Array(want));
    }
    // Sums twice merge; a gauge in between starts afresh.
    let point = |x: u64| ld(1, &f64f(6, x));
    for (metric, points) in [
        (cat(&[&ld(7, &cat(&[&point(1), &vi(2, 1)])), &ld(7, &cat(&[&point(2), &vi(3, 1)]))]), 2),
        (cat(&[&ld(7, &point(1)), &ld(5, &point(2)), &ld(7, &point(3))]), 1),
    ] {
        let input = request_with_metric(&metric);
        assert_all(&input);
        let d = decode_metrics(&Bytes::from(input)).expect("decodes");
        let data = d.resource_metrics[0].scope_metrics[0].metrics[0].data.as_ref().expect("data");
        assert_eq!(data.point_count(), points, "{data:?}");
    }
    // Exponential buckets twice: counts appended, the offset from the last.
    let input = request_with_metric(&ld(
        10,
        &ld(1, &cat(&[&ld(8, &cat(&[&vi(1, 3), &vi(2, 5)])), &ld(8, &cat(&[&vi(1, 4), &vi(2, 6)]))])),
    ));
    assert_all(&input);
    // A log body twice.
    let input = request_with_record(&cat(&[&ld(5, &ld(5, &ld(1, &vi(2, 1)))), &ld(5, &ld(5, &ld(1, &[])))]));
    assert_all(&input);
    let d = decode_logs(&Bytes::from(input)).expect("decodes");
    let body = d.resource_logs[0].scope_logs[0].log_records[0].body.clone();
    assert_eq!(body, Some(AnyValue::Array(vec![AnyValue::Bool(true), AnyValue::Empty])));
}

#[test]
fn the_last_scalar_wins_and_ids_are_checked_when_the_message_ends() {
    // A short trace id, then a good one: accepted.
    let span = cat(&[&ld(1, &[1; 3]), &span_ids(), &ld(5, b"a"), &ld(5, b"b"), &vi(6, 2), &vi(6, 3)]);
    let input = request_with_span(&span);
    assert_all(&input);
    let d = decode_traces(&Bytes::from(input)).expect("decodes");
    let s = d.spans().next().expect("span");
    assert_eq!((s.name.as_str(), s.kind), ("b", SpanKind::Client));
    // A good id, then a short one: rejected, by both.
    for bad in [
        cat(&[&span_ids(), &ld(1, &[1; 15])]),
        cat(&[&span_ids(), &ld(2, &[1; 9])]),
        cat(&[&span_ids(), &ld(4, &[1; 7])]),
        ld(2, &[9; 8]),
    ] {
        let input = request_with_span(&bad);
        assert!(matches!(decode_traces(&Bytes::from(input.clone())), Err(EncodeError::Invalid { .. })));
        assert_all(&input);
    }
    // An empty parent id is no parent; log ids may be absent.
    let input = request_with_span(&cat(&[&span_ids(), &ld(4, &[])]));
    assert_all(&input);
    assert_eq!(decode_traces(&Bytes::from(input)).expect("decodes").spans().next().expect("span").parent_span_id, None);
    for record in [ld(9, &[]), ld(9, &[1; 16]), ld(9, &[1; 8]), ld(10, &[1; 8]), ld(10, &[1; 16])] {
        assert_all(&request_with_record(&record));
    }
    // Enum numbers the model does not name.
    assert_all(&request_with_span(&cat(&[&span_ids(), &vi(6, 77), &ld(15, &vi(3, u64::MAX))])));
    assert_all(&request_with_record(&vi(2, u64::MAX)));
    assert_all(&request_with_metric(&ld(7, &vi(2, 1 << 40))));
    // uint32 and sint32 keep the low 32 bits, as prost does.
    assert_all(&request_with_span(&cat(&[&span_ids(), &vi(10, u64::MAX), &vi(12, 1 << 33)])));
    assert_all(&request_with_metric(&ld(10, &ld(1, &cat(&[&vi(6, u64::MAX), &ld(8, &vi(1, 1 << 35))])))));
}

#[test]
fn profile_only_fields_and_summaries_are_rejected_when_final() {
    // string_value_strindex, final or overridden.
    let strindex = ld(2, &vi(8, 0));
    assert!(decode_traces(&Bytes::from(request_with_attribute(&cat(&[&ld(1, b"k"), &strindex])))).is_err());
    for kv in [
        cat(&[&ld(1, b"k"), &strindex]),
        cat(&[&ld(1, b"k"), &strindex, &ld(2, &ld(1, b"s"))]),
        cat(&[&ld(1, b"k"), &ld(2, &cat(&[&vi(8, 1), &vi(2, 1)]))]),
        cat(&[&ld(1, b"k"), &ld(2, &cat(&[&vi(2, 1), &vi(8, 1)]))]),
        cat(&[&ld(1, b"k"), &ld(2, &ld(5, &ld(1, &vi(8, 1))))]),
        cat(&[&ld(1, b"k"), &vi(3, 1)]),
        cat(&[&ld(1, b"k"), &vi(3, 1), &vi(3, 0)]),
    ] {
        assert_all(&request_with_attribute(&kv));
    }
    assert_all(&request_with_record(&ld(5, &vi(8, 1))));
    assert_all(&request_with_record(&cat(&[&ld(5, &vi(8, 1)), &ld(5, &vi(3, 1))])));
    // A summary, final or replaced; its points are still checked on the wire.
    let summary = ld(11, &ld(1, &cat(&[&f64f(5, 1), &ld(6, &f64f(1, 2))])));
    assert!(decode_metrics(&Bytes::from(request_with_metric(&summary))).is_err());
    assert!(decode_metrics(&Bytes::from(request_with_metric(&cat(&[&summary, &ld(5, &[])])))).is_ok());
    for metric in [
        summary.clone(),
        cat(&[&summary, &ld(5, &[])]),
        cat(&[&ld(5, &[]), &summary]),
        cat(&[&ld(11, &ld(1, &vi(5, 1))), &ld(5, &[])]),
        cat(&[&ld(11, &ld(1, &ld(7, &ld(1, &[0xff])))), &ld(5, &[])]),
    ] {
        assert_all(&request_with_metric(&metric));
    }
    // What a oneof variant held is checked only if the variant is final:
    // prost's decode drops a replaced variant with its contents, so a
    // profile-only field inside a replaced array, kvlist or metric data
    // is no error, and one inside a variant merged again still is.
    let bad_element = ld(5, &ld(1, &vi(8, 1)));
    let bad_entry = ld(6, &ld(1, &cat(&[&ld(1, b"x"), &vi(3, 1)])));
    for kv in [
        cat(&[&ld(1, b"k"), &ld(2, &cat(&[&bad_element, &ld(1, b"s")]))]),
        cat(&[&ld(1, b"k"), &ld(2, &bad_element), &ld(2, &vi(2, 1))]),
        cat(&[&ld(1, b"k"), &ld(2, &cat(&[&bad_entry, &vi(3, 7)]))]),
        cat(&[&ld(1, b"k"), &ld(2, &cat(&[&bad_entry, &bad_element]))]),
        cat(&[&ld(1, b"k"), &ld(2, &ld(5, &ld(1, &cat(&[&bad_element, &vi(2, 0)]))))]),
        cat(&[&ld(1, b"k"), &ld(2, &cat(&[&bad_element, &ld(5, &[])]))]),
        cat(&[&ld(1, b"k"), &ld(2, &cat(&[&bad_entry, &ld(6, &[])]))]),
    ] {
        assert_all(&request_with_attribute(&kv));
    }
    assert!(decode_traces(&Bytes::from(request_with_attribute(&cat(&[&ld(1, b"k"), &ld(2, &bad_element)])))).is_err());
    assert!(
        decode_traces(&Bytes::from(request_with_attribute(&cat(&[
            &ld(1, b"k"),
            &ld(2, &cat(&[&bad_element, &ld(1, b"s")]))
        ]))))
        .is_ok()
    );
    assert_all(&request_with_record(&cat(&[&ld(5, &bad_entry), &ld(5, &vi(3, 1))])));
    assert_all(&request_with_record(&cat(&[&ld(5, &bad_entry), &ld(5, &ld(6, &[]))])));
    let bad_point = ld(1, &ld(7, &cat(&[&ld(1, b"k"), &vi(3, 1)])));
    for metric in [
        cat(&[&ld(5, &bad_point), &ld(7, &[])]),
        cat(&[&ld(7, &bad_point), &ld(9, &[])]),
        cat(&[&ld(9, &ld(1, &ld(9, &cat(&[&ld(1, b"k"), &vi(3, 1)])))), &ld(10, &[])]),
        cat(&[&ld(10, &ld(1, &ld(1, &cat(&[&ld(1, b"k"), &vi(3, 1)])))), &ld(5, &[])]),
        cat(&[&ld(5, &bad_point), &ld(11, &[]), &ld(5, &[])]),
        cat(&[&ld(5, &bad_point), &ld(5, &[])]),
        cat(&[&ld(7, &bad_point), &ld(7, &vi(2, 1))]),
        ld(5, &bad_point),
    ] {
        assert_all(&request_with_metric(&metric));
    }
    assert!(decode_metrics(&Bytes::from(request_with_metric(&cat(&[&ld(5, &bad_point), &ld(7, &[])])))).is_ok());
    assert!(decode_metrics(&Bytes::from(request_with_metric(&cat(&[&ld(5, &bad_point), &ld(5, &[])])))).is_err());
    // Exemplars are dropped, yet checked on the wire; their attributes'
    // profile-only fields are not the reference's concern.
    for exemplar in [
        cat(&[&f64f(2, 1), &ld(4, &[1; 3]), &ld(7, &cat(&[&ld(1, b"k"), &vi(3, 5)]))]),
        ld(7, &ld(1, &[0xc0])),
        vi(2, 1),
    ] {
        assert_all(&request_with_metric(&ld(5, &ld(1, &ld(5, &exemplar)))));
    }
}

#[test]
fn unknown_fields_of_every_wire_type_are_skipped() {
    let group = cat(&[
        &key(99, START_GROUP),
        &vi(1, 5),
        &ld(2, b"x"),
        &key(3, START_GROUP),
        &key(3, END_GROUP),
        &key(99, END_GROUP),
    ]);
    let unknown = cat(&[&vi(100, 1), &f64f(101, 2), &ld(102, b"\xff\xfe"), &f32f(103, 3), &group]);
    let span = cat(&[&unknown, &span_ids(), &unknown]);
    let input = cat(&[&unknown, &request_with_span(&span), &unknown]);
    assert_all(&input);
    let d = decode_traces(&Bytes::from(input)).expect("unknown fields are skipped");
    assert_eq!(d.span_count(), 1);
    // Broken groups.
    for bad in [
        key(99, END_GROUP),
        cat(&[&key(99, START_GROUP), &key(98, END_GROUP)]),
        key(99, START_GROUP),
        cat(&[&key(99, START_GROUP), &vi(1, 1)]),
    ] {
        assert!(decode_traces(&Bytes::from(bad.clone())).is_err());
        assert_all(&bad);
        assert_all(&request_with_span(&cat(&[&span_ids(), &bad])));
    }
    // Wire types 6 and 7, field number 0, a key above u32::MAX.
    for bad in [vec![0x0e, 0], vec![0x0f, 0], vec![0x00, 0], vec![0x80, 0x80, 0x80, 0x80, 0x10]] {
        assert!(decode_logs(&Bytes::from(bad.clone())).is_err(), "{bad:02x?}");
        assert_all(&bad);
    }
    // A known field with the wrong wire type.
    for bad in [
        vi(1, 1),
        f32f(1, 1),
        request_with_span(&cat(&[&span_ids(), &vi(5, 1)])),
        request_with_span(&cat(&[&span_ids(), &ld(16, &[0; 4])])),
    ] {
        assert!(decode_traces(&Bytes::from(bad.clone())).is_err());
        assert_all(&bad);
    }
}

#[test]
fn invalid_utf8_is_rejected_even_when_overwritten() {
    for span in [
        cat(&[&span_ids(), &ld(5, b"\xc3\x28")]),
        cat(&[&span_ids(), &ld(5, b"\xc3\x28"), &ld(5, b"ok")]),
        cat(&[&span_ids(), &ld(3, b"\xed\xa0\x80")]),
        cat(&[&span_ids(), &ld(9, &ld(1, b"\xff"))]),
        cat(&[&span_ids(), &ld(9, &ld(2, &ld(1, b"\x80")))]),
    ] {
        let input = request_with_span(&span);
        let err = decode_traces(&Bytes::from(input.clone())).expect_err("not UTF-8");
        assert!(err.to_string().contains("UTF-8"), "{err}");
        assert_all(&input);
    }
    // Bytes values need not be UTF-8.
    let input = request_with_attribute(&cat(&[&ld(1, b"k"), &ld(2, &ld(7, b"\xff"))]));
    assert_all(&input);
    assert!(decode_traces(&Bytes::from(input)).is_ok());
}

#[test]
fn recursion_limit_matches_prost() {
    // Arrays in arrays in a span attribute: prost's limit falls inside the range.
    let mut saw = (false, false);
    let mut value = Vec::new();
    for n in 0..60 {
        let input = request_with_attribute(&cat(&[&ld(1, b"k"), &ld(2, &value)]));
        assert_all(&input);
        let ok = reference::decode_traces(&input).is_ok();
        saw = (saw.0 || ok, saw.1 || !ok);
        assert_eq!(decode_traces(&Bytes::from(input)).is_ok(), ok, "{n} arrays deep");
        value = ld(5, &ld(1, &value));
    }
    assert_eq!(saw, (true, true), "the range must cross the limit");
    // Key-value lists in a log body, with an unknown varint at the bottom
    // (prost counts a skipped field against the limit too).
    let mut value = vi(50, 1);
    for _ in 0..60 {
        assert_all(&request_with_record(&ld(5, &value)));
        value = ld(6, &ld(1, &ld(2, &value)));
    }
    // Key-value lists whose innermost pair has the usual shape (a key, then
    // a string value), which the views check on a straight path of their
    // own: the limit must fall the same way there too, including on that
    // pair's value (a list adds three levels, so the chain is also wrapped
    // in zero to two arrays of two levels each, to put every level of the
    // cycle at the limit).
    let mut saw = (false, false);
    let mut value = ld(1, b"v");
    for _ in 0..40 {
        let mut wrapped = value.clone();
        for _ in 0..3 {
            let input = request_with_record(&ld(5, &wrapped));
            assert_all(&input);
            let ok = reference::decode_logs(&input).is_ok();
            saw = (saw.0 || ok, saw.1 || !ok);
            wrapped = ld(5, &ld(1, &wrapped));
        }
        value = ld(6, &ld(1, &cat(&[&ld(1, b"k"), &ld(2, &value)])));
    }
    assert_eq!(saw, (true, true), "the range must cross the limit");
    // Nested unknown groups at the top level.
    for n in 95..105 {
        let mut g = Vec::new();
        for _ in 0..n {
            g.extend(key(7, START_GROUP));
        }
        for _ in 0..n {
            g.extend(key(7, END_GROUP));
        }
        assert_all(&g);
    }
    // Deep nesting in a dropped exemplar.
    let mut value = Vec::new();
    for _ in 0..60 {
        let kv = cat(&[&ld(1, b"k"), &ld(2, &value)]);
        assert_all(&request_with_metric(&ld(5, &ld(1, &ld(5, &ld(7, &kv))))));
        value = ld(5, &ld(1, &value));
    }
}

#[test]
fn varints_longer_than_ten_bytes_are_rejected() {
    let field = |bytes: &[u8]| request_with_span(&cat(&[&span_ids(), &key(10, VARINT), bytes]));
    let ten_ok = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    let ten_overflow = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
    let eleven = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00];
    assert!(decode_traces(&Bytes::from(field(&ten_ok))).is_ok());
    assert!(decode_traces(&Bytes::from(field(&ten_overflow))).is_err());
    let err = decode_traces(&Bytes::from(field(&eleven))).expect_err("11 bytes");
    assert!(err.to_string().contains("varint"), "{err}");
    for v in [&ten_ok[..], &ten_overflow, &eleven, &[0x80], &[0x80, 0x00]] {
        assert_all(&field(v));
        assert_all(&cat(&[&key(100, VARINT), v]));
        assert_all(&cat(&[&[0x0a], v]));
    }
}

#[test]
fn lengths_past_the_end_fail_without_allocating_for_them() {
    // A length of 2^63: an error, not an allocation.
    let mut input = key(1, LEN);
    varint(1 << 63, &mut input);
    assert!(matches!(
        decode_traces(&Bytes::from(input.clone())),
        Err(EncodeError::Wire(WireError { kind: WireErrorKind::Truncated, .. }))
    ));
    assert_all(&input);
    // A length inside the body but past its message.
    let input = cat(&[&ld(1, &cat(&[&key(3, LEN), &[5]])), b"abcde"]);
    assert_all(&input);
}

#[test]
fn errors_name_the_message_and_field() {
    let input = request_with_span(&cat(&[&span_ids(), &vi(5, 1)]));
    let err = decode_traces(&Bytes::from(input)).expect_err("name as a varint");
    assert_eq!(err.to_string(), "malformed protobuf: unexpected wire type in Span.name (field 5)");
    let err = decode_traces(&Bytes::from(vec![0x0a, 0x05])).expect_err("truncated");
    assert_eq!(
        err.to_string(),
        "malformed protobuf: length past the end of the message in TracesData.resource_spans (field 1)"
    );
    let err = decode_traces(&Bytes::from(request_with_span(&ld(1, &[1; 3])))).expect_err("short id");
    assert_eq!(err.to_string(), "invalid TraceId: must be 16 bytes");
}

#[test]
fn request_types_decode_too() {
    // The collector request types share the data types' wire shape.
    let t = fixtures::traces(2);
    let v = reference::traces_to_proto(&t).encode_to_vec();
    assert_eq!(decode_traces(&Bytes::from(v)).expect("decodes"), t);
}
