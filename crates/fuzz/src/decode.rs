//! The direct protobuf decoder against prost (`encode::reference`), and the
//! zero-copy views against the direct decoder.

use std::fmt::Debug;

use bytes::Bytes;
use otlp_pipeline::encode::view::{LogsView, MetricsView, TracesView};
use otlp_pipeline::encode::{DecodeBudget, EncodeError, decode, direct, reference};
use otlp_pipeline::fixtures::walk;
use otlp_pipeline::model::{LogsData, MetricsData, TracesData};

use crate::{first_difference, same, shown};

/// One signal's codecs, so that the three targets share one check.
struct Codecs<T> {
    what: &'static str,
    ours: fn(&Bytes) -> Result<T, EncodeError>,
    within: fn(&Bytes, DecodeBudget) -> Result<T, EncodeError>,
    reference: fn(&[u8]) -> Result<T, EncodeError>,
    encode: fn(&T, &mut Vec<u8>) -> usize,
    encode_reference: fn(&T, &mut Vec<u8>),
    /// Validates with the view, then walks it: (items counted, fingerprint),
    /// and the view's `model_bytes`.
    view: fn(&[u8]) -> Viewed,
    /// The same over the model: (items, fingerprint).
    walk: fn(&T) -> Walked,
}

/// What a walk counted and its fingerprint.
type Walked = (usize, u64);

/// A view's walk and its `model_bytes`, or why validation failed.
type Viewed = Result<(Walked, usize), EncodeError>;

pub(crate) fn traces(data: &[u8]) {
    check(
        data,
        &Codecs::<TracesData> {
            what: "traces",
            ours: decode::decode_traces,
            within: decode::decode_traces_within,
            reference: reference::decode_traces,
            encode: direct::encode_traces,
            encode_reference: reference::encode_traces,
            view: |b| TracesView::new(b).map(|v| ((v.span_count(), walk::traces_view(&v)), v.model_bytes())),
            walk: |d| (d.span_count(), walk::traces(d)),
        },
    );
}

pub(crate) fn metrics(data: &[u8]) {
    check(
        data,
        &Codecs::<MetricsData> {
            what: "metrics",
            ours: decode::decode_metrics,
            within: decode::decode_metrics_within,
            reference: reference::decode_metrics,
            encode: direct::encode_metrics,
            encode_reference: reference::encode_metrics,
            view: |b| MetricsView::new(b).map(|v| ((v.data_point_count(), walk::metrics_view(&v)), v.model_bytes())),
            walk: |d| (d.point_count(), walk::metrics(d)),
        },
    );
}

pub(crate) fn logs(data: &[u8]) {
    check(
        data,
        &Codecs::<LogsData> {
            what: "logs",
            ours: decode::decode_logs,
            within: decode::decode_logs_within,
            reference: reference::decode_logs,
            encode: direct::encode_logs,
            encode_reference: reference::encode_logs,
            view: |b| LogsView::new(b).map(|v| ((v.log_record_count(), walk::logs_view(&v)), v.model_bytes())),
            walk: |d| (d.record_count(), walk::logs(d)),
        },
    );
}

/// The budget the `_within` decoder gets: the input's length times a power
/// of two picked by its last byte (1 to 2048), so that the fuzzer reaches
/// both sides of the limit on amplifying inputs and ordinary ones alike.
fn budget_for(data: &[u8]) -> DecodeBudget {
    let shift = data.last().map_or(0, |b| b % 12);
    DecodeBudget::bytes(data.len().saturating_mul(1 << shift))
}

fn check<T: PartialEq + Debug>(data: &[u8], c: &Codecs<T>) {
    let what = c.what;
    let body = Bytes::copy_from_slice(data);
    let ours = (c.ours)(&body);
    let theirs = (c.reference)(data);
    match (&ours, &theirs) {
        (Ok(a), Ok(b)) if same(a, b) => {}
        (Err(_), Err(_)) => {}
        _ => panic!(
            "{what}: the direct decoder and the reference disagree on {}:{}",
            shown(data),
            first_difference(&format!("{ours:?}"), &format!("{theirs:?}"))
        ),
    }

    // The view accepts exactly what the decoder accepts, with the same
    // error, and hands out what the model holds.
    match ((c.view)(data), &ours) {
        (Ok((v, model_bytes)), Ok(model)) => {
            assert_eq!(v, (c.walk)(model), "{what}: the view's walk differs from the model's on {}", shown(data));
            // The decoder allocates at least the view's model_bytes: it
            // refuses any smaller budget.
            if model_bytes > 0 {
                let under = (c.within)(&body, DecodeBudget::bytes(model_bytes - 1));
                assert!(
                    matches!(under, Err(EncodeError::OverBudget { .. })),
                    "{what}: decoded under a budget below the view's model_bytes ({model_bytes}): {under:?}, on {}",
                    shown(data)
                );
            }
        }
        (Err(a), Err(b)) => {
            assert_eq!(
                format!("{a:?}"),
                format!("{b:?}"),
                "{what}: the view and the decoder fail differently on {}",
                shown(data)
            )
        }
        (v, _) => panic!("{what}: the view gives {v:?}, the decoder {ours:?}, on {}", shown(data)),
    }

    // Under a budget: the same model, a refusal for the budget, or the same
    // rejection as without one.
    match ((c.within)(&body, budget_for(data)), &ours) {
        (Ok(a), Ok(b)) => assert!(same(&a, b), "{what}: the budgeted decode differs on {}", shown(data)),
        (Err(EncodeError::OverBudget { .. }), _) | (Err(_), Err(_)) => {}
        (within, _) => panic!("{what}: under a budget {within:?}, without one {ours:?}, on {}", shown(data)),
    }

    // What was accepted goes back to prost's exact bytes, and to the same model.
    let Ok(model) = ours else { return };
    let mut wire = Vec::new();
    (c.encode)(&model, &mut wire);
    let mut expected = Vec::new();
    (c.encode_reference)(&model, &mut expected);
    assert!(wire == expected, "{what}: the direct encoder differs from prost on the model of {}", shown(data));
    match (c.ours)(&Bytes::from(wire)) {
        Ok(back) => assert!(
            same(&back, &model),
            "{what}: re-encoding changes the model of {}:{}",
            shown(data),
            first_difference(&format!("{back:?}"), &format!("{model:?}"))
        ),
        Err(e) => panic!("{what}: the re-encoded model of {} does not decode: {e}", shown(data)),
    }
}
