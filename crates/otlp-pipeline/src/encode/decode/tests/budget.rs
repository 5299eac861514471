//! The decode budget: amplifying bodies are refused before they allocate
//! over it, and the fixtures decode alike under any budget they fit in.

use super::*;
use crate::encode::DecodeBudget;

/// 1 MiB: the small budget the amplifying bodies must be refused under.
const SMALL: usize = 1 << 20;

/// What decoding `body` as `signal` charges with no limit.
fn charged(body: &Bytes, signal: crate::encode::Signal) -> usize {
    let mut d = crate::encode::decode::reader::Decoder::new(body, DecodeBudget::UNLIMITED);
    let ok = match signal {
        crate::encode::Signal::Traces => d.traces().is_ok(),
        crate::encode::Signal::Metrics => d.metrics().is_ok(),
        crate::encode::Signal::Logs => d.logs().is_ok(),
    };
    assert!(ok, "decodes without a limit");
    d.meter.charged()
}

/// Decodes under `budget` and returns the error kind and what was charged.
fn refused(body: &Bytes, signal: crate::encode::Signal, budget: usize) -> (R<()>, usize) {
    let mut d = crate::encode::decode::reader::Decoder::new(body, DecodeBudget::bytes(budget));
    let r = match signal {
        crate::encode::Signal::Traces => d.traces().map(drop),
        crate::encode::Signal::Metrics => d.metrics().map(drop),
        crate::encode::Signal::Logs => d.logs().map(drop),
    };
    (r, d.meter.charged())
}

fn repeat(part: &[u8], n: usize) -> Vec<u8> {
    part.repeat(n)
}

/// Bodies whose model is far larger than the wire: `n` empty (or minimal)
/// elements at every repeated level, each under its signal.
fn amplifying(n: usize) -> Vec<(&'static str, crate::encode::Signal, Vec<u8>)> {
    use crate::encode::Signal::{Logs, Metrics, Traces};
    let span = |fields: &[u8]| request_with_span(&cat(&[&span_ids(), fields]));
    let link = ld(13, &cat(&[&ld(1, &[7; 16]), &ld(2, &[9; 8])]));
    let metric = |data_tag: u32, point: &[u8]| request_with_metric(&ld(data_tag, &repeat(&ld(1, point), n)));
    vec![
        ("resource spans", Traces, repeat(&ld(1, &[]), n)),
        ("scope spans", Traces, ld(1, &repeat(&ld(2, &[]), n))),
        ("spans", Traces, ld(1, &ld(2, &repeat(&ld(2, &span_ids()), n)))),
        ("span attributes", Traces, span(&repeat(&ld(9, &[]), n))),
        ("events", Traces, span(&repeat(&ld(11, &[]), n))),
        ("event attributes", Traces, span(&ld(11, &repeat(&ld(3, &[]), n)))),
        ("links", Traces, span(&repeat(&link, n / 8))),
        ("resource attributes", Traces, ld(1, &ld(1, &repeat(&ld(1, &[]), n)))),
        ("scope attributes", Traces, ld(1, &ld(2, &ld(1, &repeat(&ld(3, &[]), n))))),
        ("nested arrays", Traces, request_with_attribute(&ld(2, &ld(5, &repeat(&ld(1, &[]), n))))),
        ("nested kvlists", Traces, request_with_attribute(&ld(2, &ld(6, &repeat(&ld(1, &[]), n))))),
        ("resource metrics", Metrics, repeat(&ld(1, &[]), n)),
        ("metrics", Metrics, ld(1, &ld(2, &repeat(&ld(2, &[]), n)))),
        ("gauge points", Metrics, metric(5, &[])),
        ("sum points", Metrics, metric(7, &[])),
        ("histogram points", Metrics, metric(9, &[])),
        ("exponential points", Metrics, metric(10, &[])),
        ("point attributes", Metrics, request_with_metric(&ld(5, &ld(1, &repeat(&ld(7, &[]), n))))),
        ("exemplars", Metrics, request_with_metric(&ld(5, &repeat(&ld(1, &ld(5, &[])), n)))),
        ("packed bucket counts", Metrics, request_with_metric(&ld(10, &ld(1, &ld(8, &ld(2, &vec![0; 4 * n])))))),
        ("unpacked bounds", Metrics, request_with_metric(&ld(9, &ld(1, &repeat(&f64f(7, 0), 2 * n))))),
        ("resource logs", Logs, repeat(&ld(1, &[]), n)),
        ("log records", Logs, ld(1, &ld(2, &repeat(&ld(2, &[]), n)))),
        ("record attributes", Logs, request_with_record(&repeat(&ld(6, &[]), n))),
        ("body arrays", Logs, request_with_record(&ld(5, &ld(5, &repeat(&ld(1, &[]), n))))),
    ]
}

#[test]
fn amplifying_bodies_are_refused_within_the_budget() {
    for (what, signal, body) in amplifying(100_000) {
        let body = Bytes::from(body);
        let (r, spent) = refused(&body, signal, SMALL);
        match r {
            // Exemplars are checked and dropped: they cost nothing.
            Ok(()) if what == "exemplars" => assert_eq!(spent, charged(&body, signal)),
            Err(EncodeError::OverBudget { limit }) => {
                assert_eq!(limit, SMALL, "{what}");
                assert!(spent <= SMALL, "{what}: {spent} charged");
                assert!(charged(&body, signal) > SMALL, "{what}: the body does amplify");
                assert!(
                    EncodeError::OverBudget { limit }.to_string().contains("1048576 bytes"),
                    "the message names the budget"
                );
            }
            other => panic!("{what}: {other:?}"),
        }
    }
}

#[test]
fn fixtures_decode_alike_under_any_budget_they_fit() {
    use crate::encode::Signal;
    let (mut t, mut m, mut l) = (Vec::new(), Vec::new(), Vec::new());
    direct::encode_traces(&fixtures::traces(fixtures::DEFAULT_SPANS), &mut t);
    direct::encode_metrics(&fixtures::metrics(fixtures::DEFAULT_POINTS), &mut m);
    direct::encode_logs(&fixtures::logs(fixtures::DEFAULT_LOGS), &mut l);
    let (t, m, l) = (Bytes::from(t), Bytes::from(m), Bytes::from(l));
    let need = charged(&t, Signal::Traces);
    let want = decode_traces(&t).expect("decodes");
    assert_eq!(decode_traces_within(&t, DecodeBudget::bytes(need)).expect("fits exactly"), want);
    assert!(matches!(decode_traces_within(&t, DecodeBudget::bytes(need - 1)), Err(EncodeError::OverBudget { .. })));
    let need = charged(&m, Signal::Metrics);
    let want = decode_metrics(&m).expect("decodes");
    assert_eq!(decode_metrics_within(&m, DecodeBudget::bytes(need)).expect("fits exactly"), want);
    assert!(matches!(decode_metrics_within(&m, DecodeBudget::bytes(need - 1)), Err(EncodeError::OverBudget { .. })));
    let need = charged(&l, Signal::Logs);
    let want = decode_logs(&l).expect("decodes");
    assert_eq!(decode_logs_within(&l, DecodeBudget::bytes(need)).expect("fits exactly"), want);
    assert!(matches!(decode_logs_within(&l, DecodeBudget::bytes(need - 1)), Err(EncodeError::OverBudget { .. })));
    assert_eq!(decode_logs_within(&l, DecodeBudget::UNLIMITED).expect("decodes"), decode_logs(&l).expect("decodes"));
}
