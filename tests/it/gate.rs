//! The regression gate end to end, through `otlp-lab compare` as the scripts
//! call it: a saved run passes against itself; one bench 1% slower, one
//! allocation more on any bench, or a bench missing from a full run fails and
//! is named; a partial run says so; a regression saved into the baseline fails
//! against the previous baseline unless its justification matches.

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

    // One allocation more on a bench whose budget is thousands of blocks.
    let mut allocates = saved_run();
    *allocates.get_mut("pipeline_batch_discard_512").expect("present").allocations.as_mut().expect("dhat ran") += 1;
    let allocates = write(&dir, "allocates-pipeline.json", &allocates);
    let (out, text) = compare(&base, &allocates, &[]);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains(": pipeline_batch_discard_512"), "{text}");

    // Bad input is a clear error, not a panic.
    std::fs::write(dir.join("bad.json"), "{\"x\": 1}").expect("write");
    let (out, text) = compare(&base, &dir.join("bad.json"), &[]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("not Bencher Metric Format"), "{text}");
    let (out, text) = compare(&base, &base, &["--floor=-1"]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn a_missing_bench_fails_a_full_run_and_a_partial_run_must_say_so() {
    let dir = std::env::temp_dir().join(format!("otlp-lab-gate-missing-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let base = write(&dir, "base.json", &saved_run());
    let mut lost = saved_run();
    lost.remove("pipeline_batch_discard_512");
    let lost_path = write(&dir, "lost.json", &lost);

    // No record: a full run, and the missing bench fails it.
    let (out, text) = compare(&base, &lost_path, &[]);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("MISSING") && text.contains(": pipeline_batch_discard_512"), "{text}");
    // --partial needs a record saying the run was partial.
    let (out, text) = compare(&base, &lost_path, &["--partial"]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("lost.suites.json"), "{text}");

    // Recorded as serialization alone: with --partial the pipeline bench is "not run".
    let record = otlp_lab::baseline::RunRecord { suites: vec!["serialization".into()] };
    record.write_beside(&lost_path).expect("record");
    let suites = lab().arg("suites").arg(&lost_path).output().expect("run otlp-lab");
    assert_eq!(String::from_utf8_lossy(&suites.stdout).trim(), "partial serialization");
    let (out, text) = compare(&base, &lost_path, &["--partial"]);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("not run") && text.contains("partial run of serialization"), "{text}");
    // Without --partial it is still judged as a full run.
    let (out, text) = compare(&base, &lost_path, &[]);
    assert_eq!(out.status.code(), Some(3), "{text}");

    // Recorded as full: --partial is refused.
    let full = otlp_lab::baseline::RunRecord {
        suites: otlp_lab::baseline::QUICK_SUITES.iter().map(|c| c.name().to_owned()).collect(),
    };
    full.write_beside(&lost_path).expect("record");
    let (out, text) = compare(&base, &lost_path, &["--partial"]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("every quick suite ran"), "{text}");
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn a_regression_saved_into_the_baseline_needs_its_exact_justification() {
    use otlp_lab::baseline::{Justification, JustificationFile, Measure};
    let dir = std::env::temp_dir().join(format!("otlp-lab-gate-previous-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let previous = write(&dir, "previous.json", &saved_run());
    let mut saved = saved_run();
    saved.get_mut("json_parse_traces_512").expect("present").instructions = 10_056_495; // +2%
    let current = write(&dir, "main.json", &saved);
    let justified = dir.join("main.justified.json");
    let with = |old: u64| {
        let file = JustificationFile {
            justified: vec![Justification {
                bench: "json_parse_traces_512".into(),
                measure: Measure::Instructions,
                old,
                new: 10_056_495,
                why: "reviewed: the parser checks UTF-8 once more".into(),
            }],
        };
        std::fs::write(&justified, file.to_text()).expect("write");
    };
    let prev_arg = previous.to_str().expect("utf-8 path");
    let just_arg = justified.to_str().expect("utf-8 path");

    // Against the current baseline alone the run passes; against HEAD~1's it fails.
    let (out, text) = compare(&current, &current, &[]);
    assert!(out.status.success(), "{text}");
    let (out, text) = compare(&current, &current, &["--previous", prev_arg]);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("REGRESSED") && text.contains("\"old\": 9859309"), "{text}");

    with(9_859_309);
    let (out, text) = compare(&current, &current, &["--previous", prev_arg, "--justified", just_arg]);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("justified: json_parse_traces_512 instructions 9859309 -> 10056495: reviewed"), "{text}");

    // Stale: written for another previous count.
    with(9_700_000);
    let (out, text) = compare(&current, &current, &["--previous", prev_arg, "--justified", just_arg]);
    assert_eq!(out.status.code(), Some(3), "{text}");

    // The same file as previous: said to be identical.
    let (out, text) = compare(&current, &current, &["--previous", current.to_str().expect("utf-8")]);
    assert!(out.status.success() && text.contains("identical to the current baseline"), "{text}");

    // A justification without a reason is refused.
    std::fs::write(
        &justified,
        r#"{"justified": [{"bench": "a", "measure": "instructions", "old": 1, "new": 2, "why": ""}]}"#,
    )
    .expect("write");
    let (out, text) = compare(&current, &current, &["--previous", prev_arg, "--justified", just_arg]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("has no `why`"), "{text}");
    std::fs::remove_dir_all(&dir).expect("clean up");
}
