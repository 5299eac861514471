//! Every workload runs, is deterministic, and produces the pinned outcome
//! (regenerate with `UPDATE_GOLDEN=1 cargo test --release --test it workloads`
//! after a deliberate change to a fixture or an encoder).

//!
//! Each line also pins the full digest of the whole output (`Prepared::verify`),
//! and every workload's output is checked against its independent oracle (the
//! list is in `src/workloads/verify.rs`).

use std::fmt::Write as _;

use otlp_lab::workloads::{Output, Provenance, VerifyError, Workload, fingerprint, verify_output};

use crate::golden::golden;

#[test]
fn every_workload_is_deterministic_and_matches_its_golden_outcome() {
    let mut table = String::new();
    for w in Workload::ALL {
        let mut p = w.prepare();
        let a = p.run();
        let b = p.run();
        assert_eq!(a, b, "{w}: two runs differ");
        assert_eq!(a, w.prepare().run(), "{w}: a fresh prepare differs");
        assert!(a.items > 0 && a.bytes > 0, "{w}: {a:?}");
        let verified = p.verify().unwrap_or_else(|e| panic!("{e}"));
        writeln!(
            table,
            "{} items={} bytes={} checksum={:#018x} digest={:#018x}",
            w.name(),
            a.items,
            a.bytes,
            a.checksum,
            verified.digest
        )
        .expect("String");
    }
    golden("workload_outcomes.txt", table.as_bytes());
}

/// Every workload's whole output passes its oracle, and where the output is
/// bytes the run's cheap checksum is the fingerprint of exactly those bytes:
/// so an output produced again by `verify` (its run drops it) is the one the
/// run produced.
#[test]
fn every_workload_output_passes_its_independent_oracle() {
    use Workload::*;
    for w in Workload::ALL {
        let mut p = w.prepare();
        let a = p.run();
        let (output, provenance) = p.output().unwrap_or_else(|e| panic!("{e}"));
        let digest = verify_output(*w, &output).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(digest, output.digest(), "{w}");
        let expect_rerun = !matches!(
            w,
            EncodeReferenceTraces
                | EncodeReferenceMetrics
                | EncodeReferenceLogs
                | JsonWriteTraces
                | JsonWriteMetrics
                | JsonWriteLogs
                | JsonParseTraces
                | JsonParseSerdeTraces
                | JsonParseMetrics
                | JsonParseLogs
                | CompressZstd1
                | CompressZstd3
                | CompressZstd9
                | CompressGzip1
                | CompressGzip6
                | DecompressZstd
                | DecompressGzip
                | EncodeZstd1Traces
                | HexEncodeSimd
                | HexEncodeScalar
        );
        assert_eq!(provenance == Provenance::Rerun, expect_rerun, "{w}: {provenance:?}");
        match (&output, w) {
            (Output::Bytes(b), PipelineBatch | PipelineBatchZstd | PipelineBatchZstdNoPool | PipelineBatchZstd2048) => {
                assert_eq!(a.checksum, fingerprint(b) ^ a.items, "{w}: the sink saw other bytes");
                assert_eq!(a.bytes, b.len() as u64, "{w}");
            }
            (Output::Bytes(b), _) => {
                assert_eq!(a.checksum, fingerprint(b), "{w}: the run produced other bytes");
                assert_eq!(a.bytes, b.len() as u64, "{w}");
            }
            (Output::Utf8 { valid, .. }, _) => assert_eq!(a.checksum, u64::from(*valid), "{w}"),
            (Output::Scratch(d) | Output::Walk(d), _) => assert_eq!(a.checksum, *d, "{w}"),
            _ => {}
        }
    }
}

fn tampered_bytes(w: Workload, at: impl Fn(&[u8]) -> usize) -> Result<u64, VerifyError> {
    let mut p = w.prepare();
    p.run();
    let (Output::Bytes(mut b), _) = p.output().expect("output") else { panic!("{w}: bytes expected") };
    let i = at(&b);
    b[i] ^= 0x01;
    verify_output(w, &Output::Bytes(b))
}

#[test]
fn the_protobuf_oracle_reports_one_flipped_byte() {
    // The last byte of a span's end: inside a fixed64 time, so prost still
    // decodes it and the comparison with the fixture has to catch it.
    for w in [Workload::EncodeDirectTraces, Workload::EncodeReferenceMetrics, Workload::EncodeDirectLogs] {
        let err = tampered_bytes(w, |b| b.len() - 1).expect_err("a flipped byte must fail");
        assert!(matches!(err, VerifyError::Mismatch { .. } | VerifyError::Unreadable { .. }), "{w}: {err}");
        let err = tampered_bytes(w, |b| b.len() / 2).expect_err("a flipped byte must fail");
        assert!(matches!(err, VerifyError::Mismatch { .. } | VerifyError::Unreadable { .. }), "{w}: {err}");
    }
}

#[test]
fn the_compression_oracles_report_one_flipped_byte() {
    for w in [Workload::CompressZstd1, Workload::CompressGzip6, Workload::EncodeZstd1Traces] {
        let err = tampered_bytes(w, |b| b.len() / 2).expect_err("a flipped byte must fail");
        assert!(matches!(err, VerifyError::Mismatch { .. } | VerifyError::Unreadable { .. }), "{w}: {err}");
    }
    let err = tampered_bytes(Workload::DecompressGzip, |b| b.len() / 3).expect_err("a flipped byte must fail");
    assert!(matches!(err, VerifyError::Mismatch { .. }), "{err}");
}

#[test]
fn the_json_oracle_reports_one_changed_character() {
    for w in [Workload::JsonWriteTraces, Workload::JsonWriteMetrics, Workload::JsonWriteLogs] {
        // One character of a value in the middle of the document, changed
        // to another letter so that the JSON stays well-formed.
        let err = tampered_bytes(w, |b| {
            let mid = b.len() / 2;
            mid + b[mid..].iter().position(|c| c.is_ascii_lowercase()).expect("a letter after the middle")
        })
        .expect_err("a changed character must fail");
        assert!(matches!(err, VerifyError::Mismatch { .. }), "{w}: {err}");
        // A broken document is unreadable.
        let err = tampered_bytes(w, |_| 0).expect_err("a broken document must fail");
        assert!(matches!(err, VerifyError::Unreadable { .. }), "{w}: {err}");
    }
}

/// A parser that drops one field of one item: each signal's parse workload
/// fails its oracle.
#[test]
fn the_parse_oracles_report_one_dropped_field() {
    let output = |w: Workload| {
        let mut p = w.prepare();
        p.run();
        p.output().expect("output").0
    };
    let Output::Metrics(mut m) = output(Workload::JsonParseMetrics) else { panic!("metrics expected") };
    let metric = &mut m.resource_metrics[0].scope_metrics[0].metrics[3];
    metric.unit = Default::default();
    let err = verify_output(Workload::JsonParseMetrics, &Output::Metrics(m)).expect_err("a dropped field must fail");
    assert!(matches!(err, VerifyError::Mismatch { .. }), "{err}");

    let Output::Logs(mut l) = output(Workload::JsonParseLogs) else { panic!("logs expected") };
    l.resource_logs[0].scope_logs[0].log_records[100].severity_text = Default::default();
    let err = verify_output(Workload::JsonParseLogs, &Output::Logs(l)).expect_err("a dropped field must fail");
    assert!(matches!(err, VerifyError::Mismatch { .. }), "{err}");

    let Output::Traces(mut t) = output(Workload::JsonParseTraces) else { panic!("traces expected") };
    t.resource_spans[0].scope_spans[0].spans[511].attributes.pop();
    let err = verify_output(Workload::JsonParseTraces, &Output::Traces(t)).expect_err("a dropped field must fail");
    assert!(matches!(err, VerifyError::Mismatch { .. }), "{err}");
}

#[test]
fn an_output_of_the_wrong_kind_is_a_typed_error() {
    let err = verify_output(Workload::Utf8Simd, &Output::Bytes(vec![1, 2, 3])).expect_err("no oracle for bytes");
    assert!(matches!(err, VerifyError::WrongKind { workload: Workload::Utf8Simd, kind: "bytes" }), "{err}");
    let err = verify_output(Workload::Utf8Scalar, &Output::Utf8 { input: vec![0xff], valid: true })
        .expect_err("invalid input said valid");
    assert!(matches!(err, VerifyError::Mismatch { .. }), "{err}");
    let err = verify_output(Workload::HexDecodeSimd, &Output::Ids(vec![[0; 16]; 4096])).expect_err("wrong ids");
    assert!(matches!(err, VerifyError::Mismatch { .. }), "{err}");
}

#[test]
fn names_are_unique_and_parse_back() {
    let mut names: Vec<_> = Workload::ALL.iter().map(|w| w.name()).collect();
    for n in &names {
        assert_eq!(n.parse::<Workload>().expect("parses").name(), *n);
    }
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), Workload::ALL.len());
    assert!("no_such_workload".parse::<Workload>().is_err());
}

#[test]
fn both_decoders_give_the_same_spans_of_the_same_bytes() {
    let reference = Workload::DecodeReferenceTraces.prepare().run();
    let direct = Workload::DecodeDirectTraces.prepare().run();
    assert_eq!(reference, direct);
}
