//! Replays every input the fuzzers have kept through the same target
//! functions the AFL++ binaries run: the generated seeds, the committed
//! corpus (`corpus/<target>/`) and the crash regressions
//! (`regressions/<target>/`), one test per target so that a failure names it.

use std::path::Path;

use otlp_pipeline_fuzz::{Target, seeds};

/// The files of `crates/fuzz/<folder>/<target>/`, sorted (none if the folder
/// does not exist).
fn files(folder: &str, target: Target) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(folder).join(target.name());
    let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
    let mut out: Vec<_> = entries
        .map(|e| e.expect("a readable directory entry").path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| !n.to_string_lossy().starts_with('.')))
        .map(|p| (p.display().to_string(), std::fs::read(&p).expect("a readable corpus file")))
        .collect();
    out.sort();
    out
}

fn replay(target: Target) {
    let corpus = files("corpus", target);
    assert!(!corpus.is_empty(), "{}: the committed corpus is empty", target.name());
    let inputs = seeds(target).into_iter().chain(corpus).chain(files("regressions", target));
    let mut n = 0;
    for (name, bytes) in inputs {
        // The target's own panic message says what disagreed; this says on what.
        let run = std::panic::catch_unwind(|| target.run(&bytes));
        assert!(run.is_ok(), "{}: fails on {name}", target.name());
        n += 1;
    }
    assert!(n > 0);
}

#[test]
fn decode_traces() {
    replay(Target::DecodeTraces);
}

#[test]
fn decode_metrics() {
    replay(Target::DecodeMetrics);
}

#[test]
fn decode_logs() {
    replay(Target::DecodeLogs);
}

#[test]
fn json_traces() {
    replay(Target::JsonTraces);
}

#[test]
fn json_metrics() {
    replay(Target::JsonMetrics);
}

#[test]
fn json_logs() {
    replay(Target::JsonLogs);
}

#[test]
fn gzip() {
    replay(Target::Gzip);
}

#[test]
fn zstd() {
    replay(Target::Zstd);
}

#[test]
fn every_target_has_a_binary() {
    for target in Target::ALL {
        let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bin").join(format!("{}.rs", target.name()));
        assert!(bin.is_file(), "{} has no {}", target.name(), bin.display());
        assert_eq!(Target::from_name(target.name()), Some(*target));
    }
}
