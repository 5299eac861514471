//! The regression gate end to end, through `otlp-lab compare` as the scripts
//! call it: a saved run passes against itself; one bench 1% slower, or one
//! allocation more on a zero-budget path, fails and is named.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use otlp_lab::baseline::{self, Metrics, Results};

fn lab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_otlp-lab"))
}

/// A run as the quick suite writes it (two benches of each kind).
fn saved_run() -> Results {
    let mut r = Results::new();
    r.insert("encode_direct_traces_512".into(), Metrics { instructions: 971_512, allocations: Some(3_590) });
    r.insert("json_parse_traces_512".into(), Metrics { instructions: 9_859_309, allocations: None });
    r.insert("pipeline_batch_discard_512".into(), Metrics { instructions: 3_006_851, allocations: Some(7_298) });
    r
}

fn write(dir: &Path, name: &str, r: &Results) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, baseline::to_bmf(r)).expect("write BMF");
    p
}

fn compare(base: &Path, new: &Path, extra: &[&str]) -> (Output, String) {
    let out = lab().arg("compare").arg(base).arg(new).args(extra).output().expect("run otlp-lab");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out, text)
}

#[test]
fn the_gate_passes_a_run_against_itself_and_fails_named_regressions() {
    let dir = std::env::temp_dir().join(format!("otlp-lab-gate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let base = write(&dir, "base.json", &saved_run());

    let (out, text) = compare(&base, &base, &[]);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("gate: passed (3 benches"), "{text}");
    let (out, text) = compare(&base, &base, &["--exact"]);
    assert!(out.status.success() && text.contains("identical"), "{text}");

    let mut slower = saved_run();
    let m = slower.get_mut("json_parse_traces_512").expect("present");
    m.instructions += m.instructions / 100;
    let slower = write(&dir, "slower.json", &slower);
    let (out, text) = compare(&base, &slower, &[]);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("gate: FAILED, 1 flagged") && text.contains(": json_parse_traces_512"), "{text}");
    // The determinism check fails on it too.
    let (out, _) = compare(&base, &slower, &["--exact"]);
    assert_eq!(out.status.code(), Some(1));

    let mut allocates = saved_run();
    *allocates.get_mut("encode_direct_traces_512").expect("present").allocations.as_mut().expect("dhat ran") += 1;
    let allocates = write(&dir, "allocates.json", &allocates);
    let (out, text) = compare(&base, &allocates, &[]);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("ALLOCATIONS UP") && text.contains(": encode_direct_traces_512"), "{text}");

    // Bad input is a clear error, not a panic.
    std::fs::write(dir.join("bad.json"), "{\"x\": 1}").expect("write");
    let (out, text) = compare(&base, &dir.join("bad.json"), &[]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("not Bencher Metric Format"), "{text}");
    let (out, text) = compare(&base, &base, &["--floor=-1"]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    std::fs::remove_dir_all(&dir).expect("clean up");
}
