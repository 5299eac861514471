//! The baseline's and the gate's tests.

use super::*;

fn run() -> Results {
    let mut r = Results::new();
    r.insert(
        "encode_direct_traces_512".into(),
        Metrics { instructions: 971_000, allocations: Some(4_200), ..Metrics::default() },
    );
    r.insert(
        "json_parse_traces_512".into(),
        Metrics { instructions: 9_860_000, allocations: Some(15_000), ..Metrics::default() },
    );
    r.insert(
        "hex_encode_ids_scalar_4k".into(),
        Metrics { instructions: 557_000, allocations: None, ..Metrics::default() },
    );
    r.insert(
        "pipeline_batch_discard_512".into(),
        Metrics { instructions: 2_266_729, allocations: Some(4_751), ..Metrics::default() },
    );
    r
}

fn verdict(c: &Comparison, id: &str) -> Verdict {
    c.rows.iter().find(|r| r.id == id).expect("row").verdict
}

fn flagged(c: &Comparison) -> Vec<(&str, Verdict)> {
    c.flagged().map(|r| (r.id.as_str(), r.verdict)).collect()
}

fn partial(suites: &[&str]) -> Gate {
    Gate { scope: Scope::Partial { suites: suites.iter().map(|s| (*s).to_owned()).collect() }, ..Gate::default() }
}

fn entry(bench: &str, measure: Measure, old: u64, new: u64) -> Justification {
    Justification { bench: bench.into(), measure, old, new, why: "accepted: a reviewed reason".into() }
}

#[test]
fn bmf_round_trips_and_rejects_other_shapes() {
    let r = run();
    let text = to_bmf(&r);
    assert!(text.contains(r#""instructions": {"#) && text.contains(r#""value": 971000"#), "{text}");
    assert_eq!(from_bmf(&text).expect("reads back"), r);
    assert!(matches!(from_bmf("[1]"), Err(BaselineError::NotAnObject)));
    assert!(
        matches!(from_bmf(r#"{"a": {"latency": {"value": 1}}}"#), Err(BaselineError::NoInstructions(id)) if id == "a")
    );
    assert!(matches!(from_bmf("{"), Err(BaselineError::Json(_))));
    let half = r#"{"a": {"instructions": {"value": 1}, "allocations": {"value": 1.5}}}"#;
    assert!(matches!(from_bmf(half), Err(BaselineError::Allocations(_))));
}

/// [`run`] with the cache simulation and bytes on every bench, as a run now has them.
fn run_with_cycles() -> Results {
    let mut r = run();
    for (i, m) in r.values_mut().enumerate() {
        let (ll, ram) = (100 * i as u64, 10 * i as u64);
        let l1 = m.instructions + m.instructions / 2;
        m.cache = Some(CacheSim { estimated_cycles: l1 + 5 * ll + 35 * ram, l1_hits: l1, ll_hits: ll, ram_hits: ram });
        m.allocated_bytes = m.allocations.map(|a| a * 48);
    }
    r
}

#[test]
fn bmf_round_trips_the_cache_simulation_and_bytes_and_reads_old_files() {
    let r = run_with_cycles();
    let text = to_bmf(&r);
    assert!(text.contains(r#""estimated_cycles": {"#) && text.contains(r#""ram_hits": {"#), "{text}");
    assert!(text.contains(r#""allocated_bytes": {"#), "{text}");
    assert_eq!(from_bmf(&text).expect("reads back"), r);
    // A file saved before the measures existed reads with them absent.
    let old = from_bmf(&to_bmf(&run())).expect("reads");
    assert!(old.values().all(|m| m.cache.is_none() && m.allocated_bytes.is_none()));
    // Half a cache simulation, or a fraction, is refused by name.
    let half = r#"{"a": {"instructions": {"value": 1}, "estimated_cycles": {"value": 2}, "l1_hits": {"value": 1}, "ll_hits": {"value": 0}}}"#;
    let e = from_bmf(half).expect_err("refused");
    assert!(matches!(e, BaselineError::Measure { measure: "ram_hits", .. }), "{e}");
    let frac = r#"{"a": {"instructions": {"value": 1}, "allocated_bytes": {"value": 1.5}}}"#;
    assert!(matches!(from_bmf(frac), Err(BaselineError::Measure { measure: ALLOCATED_BYTES, .. })));
}

#[test]
fn cycles_are_shown_beside_instructions_and_never_flag() {
    // An old baseline without cycles against a run with them: compared, passes.
    let c = compare(&run(), &run_with_cycles(), &Gate::default());
    assert!(c.passed(), "{}", c.table());
    assert!(c.rows.iter().all(|r| r.cycles_delta_pct.is_none()));
    // Cycles 20% up with the same instructions: shown, not flagged.
    let mut worse = run_with_cycles();
    let m = worse.get_mut("json_parse_traces_512").expect("present");
    m.cache.as_mut().expect("cache").estimated_cycles += m.cache.expect("cache").estimated_cycles / 5;
    let c = compare(&run_with_cycles(), &worse, &Gate::default());
    assert!(c.passed(), "{}", c.table());
    let row = c.rows.iter().find(|r| r.id == "json_parse_traces_512").expect("row");
    assert!((row.cycles_delta_pct.expect("both simulated") - 20.0).abs() < 0.01, "{row:?}");
    assert_eq!(row.verdict, Verdict::Same);
    assert!(c.table().contains("+20.000%") && c.table().contains("not gated"), "{}", c.table());
    // The determinism check sees a cycle difference.
    assert_eq!(differences(&run_with_cycles(), &worse).len(), 1);
}

#[test]
fn a_run_compared_with_itself_passes() {
    let c = compare(&run(), &run(), &Gate::default());
    assert!(c.passed(), "{}", c.table());
    assert!(c.rows.iter().all(|r| r.verdict == Verdict::Same && r.delta_pct == Some(0.0)));
    assert!(c.table().contains("gate: passed (4 benches"));
    // The previous baseline equal to the current one changes nothing.
    let c = compare_with_previous(&run(), &run(), &run(), &JustificationFile::default(), &Gate::default());
    assert!(c.passed() && c.used.is_empty() && c.needed.is_empty(), "{}", c.table());
}

#[test]
fn one_percent_more_instructions_fails_and_names_the_bench() {
    let mut new = run();
    let m = new.get_mut("json_parse_traces_512").expect("present");
    m.instructions += m.instructions / 100;
    let c = compare(&run(), &new, &Gate::default());
    assert!(!c.passed());
    assert_eq!(flagged(&c), [("json_parse_traces_512", Verdict::Regressed)]);
    assert!(c.table().contains("gate: FAILED, 1 flagged") && c.table().contains("+1.000%"), "{}", c.table());
}

#[test]
fn one_more_allocation_fails_on_every_bench_whatever_its_budget() {
    // pipeline_batch_discard_512 has a budget of thousands of blocks; the
    // others here have zero or none: each fails alike.
    for id in ["pipeline_batch_discard_512", "encode_direct_traces_512", "json_parse_traces_512"] {
        let mut new = run();
        *new.get_mut(id).expect("present").allocations.as_mut().expect("has allocs") += 1;
        let c = compare(&run(), &new, &Gate::default());
        assert_eq!(flagged(&c), [(id, Verdict::AllocationsUp)], "{}", c.table());
        assert!(c.table().contains("ALLOCATIONS UP"));
    }
    // A bench that lost its allocation count is flagged too.
    let mut new = run();
    new.get_mut("pipeline_batch_discard_512").expect("present").allocations = None;
    assert_eq!(
        flagged(&compare(&run(), &new, &Gate::default())),
        [("pipeline_batch_discard_512", Verdict::AllocationsUp)]
    );
    // One allocation fewer is no regression.
    let mut new = run();
    *new.get_mut("pipeline_batch_discard_512").expect("present").allocations.as_mut().expect("allocs") -= 1;
    assert!(compare(&run(), &new, &Gate::default()).passed());
}

#[test]
fn changes_within_the_floor_pass_and_new_benches_are_listed() {
    let mut new = run();
    new.get_mut("json_parse_traces_512").expect("present").instructions += 9_860; // +0.1%
    new.insert("a_new_bench".into(), Metrics { instructions: 1, allocations: None, ..Metrics::default() });
    let c = compare(&run(), &new, &Gate::default());
    assert!(c.passed(), "{}", c.table());
    assert_eq!(verdict(&c, "a_new_bench"), Verdict::New);
    // With a floor of zero (the determinism check) the same change fails.
    let strict = Gate { floor_pct: 0.0, ..Gate::default() };
    assert!(!compare(&run(), &new, &strict).passed());
}

#[test]
fn a_missing_bench_fails_a_full_run_and_is_not_run_in_a_partial_one() {
    let mut new = run();
    new.remove("hex_encode_ids_scalar_4k"); // suite simd
    let c = compare(&run(), &new, &Gate::default());
    assert_eq!(flagged(&c), [("hex_encode_ids_scalar_4k", Verdict::Missing)], "{}", c.table());
    assert!(c.table().contains("MISSING") && c.table().contains("gate: FAILED, 1 flagged"));

    // A partial run without simd: not run, not flagged, and said so.
    let c = compare(&run(), &new, &partial(&["serialization", "pipeline"]));
    assert!(c.passed(), "{}", c.table());
    assert_eq!(verdict(&c, "hex_encode_ids_scalar_4k"), Verdict::NotRun);
    assert!(c.table().contains("partial run of serialization, pipeline, 1 benches of other suites not run"));

    // A partial run that ran simd and still lacks the bench fails.
    let c = compare(&run(), &new, &partial(&["simd"]));
    assert_eq!(flagged(&c), [("hex_encode_ids_scalar_4k", Verdict::Missing)], "{}", c.table());

    // A baseline bench that is no workload belongs to no suite: missing, even in a partial run.
    let mut old = run();
    old.insert("a_renamed_bench".into(), Metrics { instructions: 5, allocations: None, ..Metrics::default() });
    let c = compare(&old, &run(), &partial(&["serialization"]));
    assert_eq!(flagged(&c), [("a_renamed_bench", Verdict::Missing)], "{}", c.table());
}

#[test]
fn determinism_sees_any_difference() {
    assert!(differences(&run(), &run()).is_empty());
    let mut other = run();
    other.get_mut("hex_encode_ids_scalar_4k").expect("present").instructions -= 1;
    let d = differences(&run(), &other);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].0, "hex_encode_ids_scalar_4k");
    other.remove("json_parse_traces_512");
    assert_eq!(differences(&run(), &other).len(), 2);
}

#[test]
fn large_improvements_are_reported_not_flagged() {
    let mut new = run();
    new.get_mut("encode_direct_traces_512").expect("present").instructions /= 2;
    let c = compare(&run(), &new, &Gate::default());
    assert!(c.passed());
    assert_eq!(verdict(&c, "encode_direct_traces_512"), Verdict::Improved);
}

/// The previous commit's baseline, the current one with json_parse_traces_512
/// 2% slower and pipeline_batch_discard_512 one allocation up saved into it,
/// and a run equal to the current baseline.
fn saved_regression() -> (Results, Results) {
    let previous = run();
    let mut current = run();
    current.get_mut("json_parse_traces_512").expect("present").instructions = 10_057_200;
    *current.get_mut("pipeline_batch_discard_512").expect("present").allocations.as_mut().expect("allocs") += 1;
    (previous, current)
}

#[test]
fn a_regression_saved_into_the_baseline_fails_without_a_justification() {
    let (previous, current) = saved_regression();
    // Against the current baseline alone, the run looks unchanged.
    assert!(compare(&current, &current, &Gate::default()).passed());
    let c = compare_with_previous(&previous, &current, &current, &JustificationFile::default(), &Gate::default());
    assert_eq!(
        flagged(&c),
        [("json_parse_traces_512", Verdict::Regressed), ("pipeline_batch_discard_512", Verdict::AllocationsUp)],
        "{}",
        c.table()
    );
    // What would excuse them: the two baselines' counts, a reason to fill in.
    assert_eq!(
        c.needed,
        [
            Justification {
                why: String::new(),
                ..entry("json_parse_traces_512", Measure::Instructions, 9_860_000, 10_057_200)
            },
            Justification {
                why: String::new(),
                ..entry("pipeline_batch_discard_512", Measure::Allocations, 4_751, 4_752)
            },
        ]
    );
}

#[test]
fn a_matching_justification_excuses_the_saved_regression_and_is_printed() {
    let (previous, current) = saved_regression();
    let justified = JustificationFile {
        justified: vec![
            entry("json_parse_traces_512", Measure::Instructions, 9_860_000, 10_057_200),
            entry("pipeline_batch_discard_512", Measure::Allocations, 4_751, 4_752),
        ],
    };
    let c = compare_with_previous(&previous, &current, &current, &justified, &Gate::default());
    assert!(c.passed(), "{}", c.table());
    assert_eq!(verdict(&c, "json_parse_traces_512"), Verdict::Justified);
    assert_eq!(verdict(&c, "pipeline_batch_discard_512"), Verdict::Justified);
    assert_eq!(c.used, justified.justified);
    assert!(c.table().contains("justified: json_parse_traces_512 instructions 9860000 -> 10057200: accepted"));
    // Only one of the two measures justified: the other still fails.
    let half = JustificationFile { justified: justified.justified[..1].to_vec() };
    let c = compare_with_previous(&previous, &current, &current, &half, &Gate::default());
    assert_eq!(flagged(&c), [("pipeline_batch_discard_512", Verdict::AllocationsUp)], "{}", c.table());
}

#[test]
fn a_stale_justification_does_not_excuse_a_new_regression() {
    let (previous, current) = saved_regression();
    let allocs = entry("pipeline_batch_discard_512", Measure::Allocations, 4_751, 4_752);
    for stale in [
        // Written for an earlier change: another previous count.
        entry("json_parse_traces_512", Measure::Instructions, 9_700_000, 10_057_200),
        // The regression grew after it was justified: another new count.
        entry("json_parse_traces_512", Measure::Instructions, 9_860_000, 10_000_000),
        // Another measure, or another bench.
        entry("json_parse_traces_512", Measure::Allocations, 9_860_000, 10_057_200),
        entry("json_parse_logs_512", Measure::Instructions, 9_860_000, 10_057_200),
    ] {
        let file = JustificationFile { justified: vec![stale.clone(), allocs.clone()] };
        let c = compare_with_previous(&previous, &current, &current, &file, &Gate::default());
        assert_eq!(flagged(&c), [("json_parse_traces_512", Verdict::Regressed)], "{stale:?}\n{}", c.table());
    }
    // A run that regressed beyond the justified count fails against the current baseline.
    let justified = JustificationFile {
        justified: vec![entry("json_parse_traces_512", Measure::Instructions, 9_860_000, 10_057_200), allocs],
    };
    let mut worse = current.clone();
    worse.get_mut("json_parse_traces_512").expect("present").instructions = 10_200_000;
    assert_eq!(flagged(&compare(&current, &worse, &Gate::default())), [("json_parse_traces_512", Verdict::Regressed)]);
    // ... while within the floor of the current baseline the justification holds.
    let mut close = current.clone();
    close.get_mut("json_parse_traces_512").expect("present").instructions = 10_060_000;
    assert!(compare(&current, &close, &Gate::default()).passed());
    assert!(compare_with_previous(&previous, &current, &close, &justified, &Gate::default()).passed());
}

#[test]
fn a_bench_dropped_from_both_the_baseline_and_the_run_is_listed() {
    let previous = run();
    let mut current = run();
    current.remove("hex_encode_ids_scalar_4k");
    let c = compare_with_previous(&previous, &current, &current, &JustificationFile::default(), &Gate::default());
    assert!(c.passed(), "{}", c.table());
    assert_eq!(verdict(&c, "hex_encode_ids_scalar_4k"), Verdict::Dropped);
    // Dropped from the run only: missing, in both comparisons.
    let c = compare_with_previous(&previous, &previous, &current, &JustificationFile::default(), &Gate::default());
    assert_eq!(flagged(&c), [("hex_encode_ids_scalar_4k", Verdict::Missing)]);
}

#[test]
fn justification_files_round_trip_and_refuse_entries_without_a_reason() {
    let path = Path::new("main.justified.json");
    let file = JustificationFile { justified: vec![entry("json_parse_traces_512", Measure::Instructions, 1, 2)] };
    let text = file.to_text();
    assert!(text.contains(r#""measure": "instructions""#), "{text}");
    assert_eq!(JustificationFile::parse(path, &text).expect("reads back"), file);
    assert_eq!(
        JustificationFile::path_for(Path::new("profiles/baselines/main.json")),
        Path::new("profiles/baselines/main.justified.json")
    );

    let one = |bench: &str, measure: &str, old: u64, new: u64, why: &str| {
        format!(
            r#"{{"justified": [{{"bench": "{bench}", "measure": "{measure}", "old": {old}, "new": {new}, "why": "{why}"}}]}}"#
        )
    };
    let err = |text: &str| JustificationFile::parse(path, text).expect_err("refused");
    assert!(
        matches!(err(&one("a", "instructions", 1, 2, "  ")), JustificationError::NoWhy { bench, .. } if bench == "a")
    );
    assert!(matches!(err(&one("a", "allocations", 2, 2, "why")), JustificationError::NotAnIncrease { .. }));
    assert!(matches!(err(&one("a", "cycles", 1, 2, "why")), JustificationError::File(ResultFileError::Shape { .. })));
    assert!(matches!(err("{"), JustificationError::File(ResultFileError::Syntax { .. })));
    assert!(matches!(err(r#"{"justified": [], "extra": 1}"#), JustificationError::File(ResultFileError::Shape { .. })));
    let twice = JustificationFile {
        justified: vec![entry("a", Measure::Instructions, 1, 2), entry("a", Measure::Instructions, 1, 2)],
    };
    let e = err(&twice.to_text());
    assert!(matches!(e, JustificationError::Duplicate { .. }));
    assert!(e.to_string().contains("`a` (instructions) is justified twice"), "{e}");
}

#[test]
fn the_committed_justifications_are_well_formed() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/baselines/main.justified.json");
    let file = JustificationFile::read(&path).expect("profiles/baselines/main.justified.json reads");
    let baseline = std::fs::read_to_string(path.with_file_name("main.json")).expect("main.json");
    let baseline = from_bmf(&baseline).expect("main.json is BMF");
    // An entry's new count is what some baseline holds; the latest ones are the current baseline's.
    assert!(!file.justified.is_empty());
    for j in &file.justified {
        assert!(baseline.contains_key(&j.bench), "{} is no bench of main.json", j.bench);
    }
}

#[test]
fn run_records_say_which_suites_ran() {
    let files: Vec<PathBuf> =
        QUICK_SUITES.iter().map(|c| PathBuf::from(format!("profiles/icount/{}.jsonl", c.name()))).collect();
    let full = RunRecord::from_files(&files);
    assert!(full.is_full() && full.scope() == Scope::Full, "{full:?}");
    let part = RunRecord::from_files(&files[..1]);
    assert_eq!(part.suites, ["serialization"]);
    assert_eq!(part.suites_not_run(), ["simd", "compression", "pool", "pipeline"]);
    assert_eq!(part.scope(), Scope::Partial { suites: vec!["serialization".into()] });
    assert_eq!(RunRecord::path_for(Path::new("profiles/results.json")), Path::new("profiles/results.suites.json"));

    let dir = std::env::temp_dir().join(format!("otlp-lab-run-record-{}", std::process::id()));
    let results = dir.join("results.json");
    assert_eq!(RunRecord::read_beside(&results).expect("no record is no error"), None);
    part.write_beside(&results).expect("write");
    assert_eq!(RunRecord::read_beside(&results).expect("read"), Some(part));
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn the_quick_suites_are_the_scripts_and_the_bench_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = std::fs::read_to_string(root.join("scripts/run_benchmarks.sh")).expect("script");
    let line = script.lines().find_map(|l| l.strip_prefix("SUITES_QUICK=\"")).expect("SUITES_QUICK line");
    let names: Vec<&str> = QUICK_SUITES.iter().map(|c| c.name()).collect();
    assert_eq!(line.split('"').next().expect("quoted").split_whitespace().collect::<Vec<_>>(), names);
    for n in &names {
        assert!(root.join(format!("benches/iai_{n}.rs")).is_file(), "benches/iai_{n}.rs");
    }
    for w in Workload::ALL {
        assert!(names.contains(&w.category().name()), "{} is in no quick suite", w.name());
    }
}
