//! The regression gate end to end, through `otlp-lab compare` as the scripts
//! call it: a saved run passes against itself; one bench 1% slower, one
//! allocation more on any bench, or a bench missing from a full run fails and
//! is named; a partial run says so; a regression saved into the baseline fails
//! against the previous baseline unless its justification matches. Before
//! any count, the environment records beside the two files must name the
//! same toolchain: another rustc refuses (exit 4), another CPU model name
//! alone is a warning, and a baseline without a record is refused unless
//! `--allow-unknown-environment` is given.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use otlp_lab::baseline::{self, Metrics, Results};
use otlp_lab::html::env::Environment;

fn lab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_otlp-lab"))
}

/// A run as the quick suite writes it (two benches of each kind).
fn saved_run() -> Results {
    let mut r = Results::new();
    r.insert(
        "encode_direct_traces_512".into(),
        Metrics { instructions: 971_512, allocations: Some(3_590), ..Metrics::default() },
    );
    r.insert(
        "json_parse_traces_512".into(),
        Metrics { instructions: 9_859_309, allocations: None, ..Metrics::default() },
    );
    r.insert(
        "pipeline_batch_discard_512".into(),
        Metrics { instructions: 3_006_851, allocations: Some(7_298), ..Metrics::default() },
    );
    r
}

/// Exit code of a refusal to compare (environment records).
const REFUSED: i32 = 4;

/// The environment record of the report's fixture: one machine, one toolchain.
fn environment() -> Environment {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/report/profiles/environment.json");
    Environment::read(&path).expect("the fixture reads").expect("the fixture exists")
}

/// Writes the results and, beside them, the fixture's environment record.
fn write(dir: &Path, name: &str, r: &Results) -> PathBuf {
    write_with(dir, name, r, Some(&environment()))
}

/// Writes the results and, when given, an environment record beside them.
fn write_with(dir: &Path, name: &str, r: &Results, env: Option<&Environment>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, baseline::to_bmf(r)).expect("write BMF");
    let record = Environment::path_for(&p);
    match env {
        Some(e) => e.write(&record).expect("write the record"),
        None => {
            let _absent = std::fs::remove_file(&record);
        }
    }
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

#[test]
fn identical_environments_compare_and_a_differing_rustc_refuses_naming_it() {
    let dir = std::env::temp_dir().join(format!("otlp-lab-gate-env-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let base = write(&dir, "base.json", &saved_run());
    let same = write(&dir, "same.json", &saved_run());
    let (out, text) = compare(&base, &same, &[]);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("gate: passed (3 benches") && !text.contains("warning") && !text.contains("refused"),
        "{text}"
    );

    // Another rustc (release and commit): refused before any count, each key with both values.
    let mut env = environment();
    env.rustc.release = "1.96.0".into();
    env.rustc.commit_hash = Some("1111111111111111111111111111111111111111".into());
    env.rustc.llvm_version = Some("22.1.8".into());
    let other = write_with(&dir, "other.json", &saved_run(), Some(&env));
    let (out, text) = compare(&base, &other, &[]);
    assert_eq!(out.status.code(), Some(REFUSED), "{text}");
    assert!(text.contains("were measured on different toolchains"), "{text}");
    assert!(text.contains("rustc.release: baseline 1.95.0, run 1.96.0"), "{text}");
    assert!(
        text.contains("rustc.commit-hash: baseline 59807616e1fa2540724bfbac14d7976d7e4a3860, run 1111111111111111111111111111111111111111"),
        "{text}"
    );
    assert!(text.contains("rustc.llvm-version: baseline 22.1.2, run 22.1.8"), "{text}");
    assert!(!text.contains("gate: "), "no count is judged: {text}");
    // The determinism check and the flag for unknown records do not get round it.
    let (out, _) = compare(&base, &other, &["--exact"]);
    assert_eq!(out.status.code(), Some(REFUSED));
    let (out, _) = compare(&base, &other, &["--allow-unknown-environment"]);
    assert_eq!(out.status.code(), Some(REFUSED));

    // Other keys of the fingerprint refuse alike.
    let mut env = environment();
    env.cpu_features.retain(|f| f != "avx2");
    env.profiles.insert("profile.bench.lto".into(), "thin".into());
    env.valgrind = Some("valgrind-3.22.0".into());
    env.cache_geometry = Some("--I1=32768,8,64 --D1=49152,12,64 --LL=8388608,16,64".into());
    let other = write_with(&dir, "other.json", &saved_run(), Some(&env));
    let (out, text) = compare(&base, &other, &[]);
    assert_eq!(out.status.code(), Some(REFUSED), "{text}");
    for key in [
        "valgrind: baseline valgrind-3.19.0, run valgrind-3.22.0",
        "cpu-features: baseline avx avx2 bmi1",
        "profile.bench.lto: baseline fat, run thin",
        // The fixture's record predates the geometry: runner 0.16.1's, the pinned one.
        "callgrind.cache-geometry: baseline --I1=32768,8,64 --D1=32768,8,64 --LL=8388608,16,64, run --I1=32768,8,64 --D1=49152,12,64",
    ] {
        assert!(text.contains(key), "{key}: {text}");
    }
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn a_differing_cpu_model_alone_warns_and_compares() {
    let dir = std::env::temp_dir().join(format!("otlp-lab-gate-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let base = write(&dir, "base.json", &saved_run());
    let env = Environment { cpu_model: "AMD EPYC 9B14 96-Core Processor".into(), ..environment() };
    let run = write_with(&dir, "run.json", &saved_run(), Some(&env));
    let (out, text) = compare(&base, &run, &[]);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("warning: the environments differ in cpu-model: baseline Fixture CPU @ 2.10GHz, run AMD EPYC 9B14 96-Core Processor"),
        "{text}"
    );
    assert!(text.contains("gate: passed (3 benches"), "{text}");
    // Compared means judged: a regression on the other machine still fails.
    let mut slower = saved_run();
    slower.get_mut("json_parse_traces_512").expect("present").instructions += 200_000;
    let slower = write_with(&dir, "slower.json", &slower, Some(&env));
    let (out, text) = compare(&base, &slower, &[]);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("warning: the environments differ in cpu-model"), "{text}");
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn a_baseline_without_an_environment_record_is_refused_without_the_flag() {
    let dir = std::env::temp_dir().join(format!("otlp-lab-gate-unknown-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let base = write_with(&dir, "base.json", &saved_run(), None);
    let run = write(&dir, "run.json", &saved_run());
    let (out, text) = compare(&base, &run, &[]);
    assert_eq!(out.status.code(), Some(REFUSED), "{text}");
    assert!(text.contains("base.json has no environment record") && text.contains("base.env.json"), "{text}");
    assert!(text.contains("--allow-unknown-environment"), "{text}");
    let (out, text) = compare(&base, &run, &["--allow-unknown-environment"]);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("note: ") && text.contains("compared without knowing its toolchain"), "{text}");
    assert!(text.contains("gate: passed (3 benches"), "{text}");
    // A run without one is refused the same way.
    let (out, text) = compare(&run, &base, &[]);
    assert_eq!(out.status.code(), Some(REFUSED), "{text}");
    // A record that is not one is a bad file (exit 1), not a refusal.
    std::fs::write(Environment::path_for(&base), "{\"cpu_model\": 1}").expect("write");
    let (out, text) = compare(&base, &run, &[]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("base.env.json"), "{text}");
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn a_previous_baseline_without_a_record_or_on_another_toolchain_is_still_compared() {
    let dir = std::env::temp_dir().join(format!("otlp-lab-gate-prev-env-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut older = saved_run();
    older.get_mut("encode_direct_traces_512").expect("present").instructions -= 100_000;
    let current = write(&dir, "main.json", &saved_run());
    let run = write(&dir, "run.json", &saved_run());

    // HEAD~1's baseline predates the records: counts compared, and said so.
    let previous = write_with(&dir, "previous.json", &older, None);
    let prev_arg = previous.to_str().expect("utf-8 path");
    let (out, text) = compare(&current, &run, &["--previous", prev_arg]);
    assert_eq!(out.status.code(), Some(3), "the regression against it still counts: {text}");
    assert!(text.contains("note: the previous baseline has no environment record"), "{text}");
    assert!(text.contains("REGRESSED") && text.contains(": encode_direct_traces_512"), "{text}");
    let unchanged = write_with(&dir, "previous.json", &saved_run(), None);
    let (out, text) = compare(&current, &run, &["--previous", unchanged.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{text}");

    // Measured on the toolchain this commit replaced: compared, the change named.
    let env = Environment { runner: Some("0.16.0".into()), ..environment() };
    let previous = write_with(&dir, "previous.json", &older, Some(&env));
    let (out, text) = compare(&current, &run, &["--previous", previous.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("measured on another toolchain"), "{text}");
    assert!(text.contains("iai-callgrind-runner: previous 0.16.0, current 0.16.1"), "{text}");
    std::fs::remove_dir_all(&dir).expect("clean up");
}

/// README's headline table is generated from the saved baseline: a baseline
/// saved without `otlp-lab readme --write` fails here (and so in CI), so the
/// table never shows counts the baseline no longer holds.
#[test]
fn readme_headline_table_matches_the_saved_baseline() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let baseline = std::fs::read_to_string(root.join("profiles/baselines/main.json")).unwrap();
    let results = otlp_lab::baseline::from_bmf(&baseline).unwrap();
    let table = otlp_lab::readme::headline_table(&results, |w| w.prepare().run().items).unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let expected = otlp_lab::readme::splice(&readme, &table).unwrap();
    assert!(
        readme == expected,
        "README.md's headline table disagrees with profiles/baselines/main.json; \
         run `target/release/otlp-lab readme --write` and commit. Expected:\n{table}"
    );
}

/// A history file of nine commits in which `json_parse_traces_512` moved by
/// code placement (+9%, back, -9%, back, ...) and the other benches never moved.
fn noisy_history(dir: &Path) -> PathBuf {
    use otlp_lab::history::{CommitInfo, Entry, History};
    let mut h = History::default();
    let factors = [1.0, 1.09, 1.0, 0.91, 1.0, 1.09, 1.0, 0.91, 1.0];
    for (i, f) in factors.into_iter().enumerate() {
        let mut r = saved_run();
        let m = r.get_mut("json_parse_traces_512").expect("present");
        m.instructions = (m.instructions as f64 * f).round() as u64;
        let info = CommitInfo {
            commit: format!("{i:040}"),
            short: format!("{i:07}"),
            date: format!("2026-12-0{}T00:00:00Z", i + 1),
            subject: format!("commit {i}"),
        };
        h.upsert(Entry::new(info, false, &r)).expect("BMF");
    }
    let p = dir.join("history.jsonl");
    h.write(&p).expect("write the history");
    p
}

#[test]
fn the_history_fence_tightens_a_quiet_bench_and_never_loosens_a_noisy_one() {
    let dir = std::env::temp_dir().join(format!("otlp-lab-gate-history-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let base = write(&dir, "base.json", &saved_run());
    let history = noisy_history(&dir);
    let history_arg = history.to_str().expect("UTF-8 path");

    // +5% on the bench whose history moved ±9%: the floor flags it, and its
    // wide fence (about 11.9%) does not excuse it.
    let mut noisy = saved_run();
    let m = noisy.get_mut("json_parse_traces_512").expect("present");
    m.instructions += m.instructions / 20;
    let noisy = write(&dir, "noisy.json", &noisy);
    let (out, text) = compare(&base, &noisy, &["--history", history_arg]);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("history: ") && text.contains("9 entries; 3 benches have at least 8 past changes"), "{text}");
    assert!(text.contains("fence: json_parse_traces_512 11.8"), "{text}");
    assert!(text.contains("(the floor is smaller)"), "{text}");

    // +0.2% (within the floor) on a bench whose history never moved: the
    // floor passes it, its fence fails it, named.
    let mut quiet = saved_run();
    let m = quiet.get_mut("encode_direct_traces_512").expect("present");
    m.instructions += m.instructions / 500;
    let quiet = write(&dir, "quiet.json", &quiet);
    let (out, text) = compare(&base, &quiet, &[]);
    assert!(out.status.success(), "{text}");
    let (out, text) = compare(&base, &quiet, &["--history", history_arg]);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("gate: FAILED, 1 flagged") && text.contains("encode_direct_traces_512"), "{text}");
    assert!(
        text.contains(
            "fence: encode_direct_traces_512 0.000% from its history (judged against 0.050%, tighter than the floor)"
        ),
        "{text}"
    );

    // An empty history changes nothing; a missing one is an error, named.
    let empty = dir.join("empty.jsonl");
    std::fs::write(&empty, "").expect("write");
    let (out, text) = compare(&base, &noisy, &["--history", empty.to_str().expect("UTF-8")]);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("0 entries; 0 benches"), "{text}");
    let (out, text) = compare(&base, &noisy, &["--history", "/nonexistent/history.jsonl"]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("/nonexistent/history.jsonl: no such history file"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn history_backfill_reads_the_baselines_git_history_and_append_replaces_heads_line() {
    let dir = std::env::temp_dir().join(format!("otlp-lab-history-git-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("profiles/baselines")).expect("temp repo");
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(["-c", "user.name=lab", "-c", "user.email=lab@example.invalid", "-c", "commit.gpgsign=false"])
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let history = |args: &[&str]| {
        let out = lab().arg("history").args(args).current_dir(&dir).output().expect("run otlp-lab");
        (
            out.status.success(),
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        )
    };
    let main = dir.join("profiles/baselines/main.json");
    git(&["init", "-q"]);
    // Three versions of the baseline, the second not BMF, and a commit that does not touch it.
    std::fs::write(&main, baseline::to_bmf(&saved_run())).expect("write");
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "Baseline 'main': first"]);
    std::fs::write(&main, "bench,instructions\nx,1\n").expect("write");
    git(&["commit", "-q", "-am", "Baseline as CSV for a while"]);
    let mut faster = saved_run();
    faster.get_mut("json_parse_traces_512").expect("present").instructions = 9_000_000;
    std::fs::write(&main, baseline::to_bmf(&faster)).expect("write");
    git(&["commit", "-q", "-am", "Baseline saved again: the JSON parser, faster"]);
    std::fs::write(dir.join("notes.txt"), "x").expect("write");
    git(&["add", "notes.txt"]);
    git(&["commit", "-q", "-m", "Notes"]);

    let (ok, text) = history(&["backfill"]);
    assert!(ok, "{text}");
    assert!(text.contains("note: skipped ") && text.contains("Baseline as CSV for a while: not BMF"), "{text}");
    assert!(text.contains("history.jsonl: 2 lines (2 commits that changed"), "{text}");
    let file = dir.join("profiles/baselines/history.jsonl");
    let h = otlp_lab::history::History::read(&file).expect("reads").expect("written");
    let subjects: Vec<&str> = h.entries().map(|(e, _)| e.subject.as_str()).collect();
    assert_eq!(subjects, ["Baseline 'main': first", "Baseline saved again: the JSON parser, faster"]);
    assert_eq!(h.entries().nth(1).expect("second").1, &faster);

    // Append the run as HEAD ("Notes"): a clean tree, then again with a change: one line, replaced, dirty.
    let run = write(&dir, "results.json", &saved_run());
    let run_arg = run.to_str().expect("UTF-8");
    let (ok, text) = history(&["append", run_arg]);
    assert!(ok && text.contains("appended"), "{text}");
    assert!(text.contains("Notes (3 benches; 3 lines)"), "{text}");
    std::fs::write(dir.join("notes.txt"), "changed").expect("write");
    let (ok, text) = history(&["append", run_arg]);
    assert!(
        ok && text.contains("replaced the line of") && text.contains("(dirty: the working tree has changes)"),
        "{text}"
    );
    let h = otlp_lab::history::History::read(&file).expect("reads").expect("written");
    assert_eq!(h.len(), 3);
    let (last, counts) = h.entries().last().expect("last");
    assert!(last.dirty && last.subject == "Notes" && *counts == saved_run(), "{last:?}");

    // Show: one bench over commits, and the fences; an unknown bench is an error.
    let (ok, text) = history(&["show", "json_parse_traces_512"]);
    assert!(ok && text.contains("9000000") && text.contains("-8.716%") && text.contains("(dirty)"), "{text}");
    assert!(text.contains("too few changes: the floor alone"), "{text}");
    let (ok, text) = history(&["show", "no_such_bench"]);
    assert!(!ok && text.contains("no line has the bench `no_such_bench`"), "{text}");
    // A malformed line is named.
    std::fs::write(&file, "{\"commit\": \"x\"}\n").expect("write");
    let (ok, text) = history(&["show"]);
    assert!(!ok && text.contains("history.jsonl:1: not a history entry"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
