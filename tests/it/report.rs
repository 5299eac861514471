//! `otlp-lab report` from the fixed result files in tests/data/report/ (the
//! leak audit, the DHAT profiles and the network_io load run deliberately
//! missing): the figures of the files appear in the page and in its Markdown
//! twin, the gate's deltas and verdict are right, the missing parts say "not
//! run", and the exports carry the counts.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use otlp_lab::html::SECTION_IDS;

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/report")
}

fn out_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("otlp-lab-report-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn report(profiles: &Path, baseline: &Path, out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_otlp-lab"))
        .arg("report")
        .arg("--profiles")
        .arg(profiles)
        .arg("--flamegraphs")
        .arg(data().join("flamegraphs"))
        .arg("--baseline")
        .arg(baseline)
        .arg("--out")
        .arg(out)
        .output()
        .expect("run otlp-lab report")
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn the_report_carries_the_files_figures_and_marks_what_did_not_run() {
    let out = out_dir("fixtures");
    let run = report(&data().join("profiles"), &data().join("baseline.json"), &out);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}{}", String::from_utf8_lossy(&run.stderr));
    assert!(stdout.contains("not run (missing): audit.json, dhat-*.json, load/network_io.json"), "{stdout}");
    let html = read(&out.join("report.html"));
    let md = read(&out.join("report.md"));

    // The same figures in both, exactly as the fixtures give them (formatted with thousands separators).
    let figures = [
        // environment.json
        "Fixture CPU @ 2.10GHz",
        "0123456789abcdef0123456789abcdef01234567",
        "valgrind-3.19.0",
        "22.1.2",
        "Cargo.toml profile.bench.lto",
        "avx avx2 bmi1 bmi2 pclmulqdq sse2 sse4_1 sse4_2 ssse3",
        // results.json against baseline.json: counts, per item, deltas, verdicts
        "9,882,112",
        "9,689,000",
        "+1.993%",
        "REGRESSED",
        "-2.571%",
        "improved",
        "ALLOCATIONS UP",
        "19,301",
        "10,240,000",
        "gate: FAILED, 3 flagged (floor 0.5%)",
        "encode_zstd1_traces_512, json_parse_traces_512",
        // pool.json
        "261,632",
        "1,557.0",
        "2,162,688",
        // load/*.json: runs, the SDK comparison, the targets
        "612,345",
        "87,654",
        "777,777",
        "6.99x",
        "16.23x",
        "≥ 500,000",
        "34.0 MiB",
        // sustained_load.json: an open loop below the goal is not judged on it
        "open loop, offered 100,000",
        "n/a (the closed-loop run judges it)",
        // exporter.json
        "26,900",
        "8,123",
        "8.38x",
        "MISSED",
        // flamegraphs/*.json
        "2,468 samples at 997 Hz",
        "otlp_pipeline::encode::direct::write_span",
        "41.5",
    ];
    for f in figures {
        assert!(html.contains(f), "the page lacks {f:?}");
        assert!(md.contains(f), "the Markdown lacks {f:?}");
    }
    // Each bench's row with its delta and verdict, in the Markdown table.
    for row in [
        "| encode_direct_traces_512 | 955,904 | 512 | 1,867 | 1,313,500 | 2,565 | 3,590 | 0 | 955,904 | +0.000% | - | ok |",
        "| json_parse_traces_512 | 9,882,112 | 512 | 19,301 | 13,320,000 | 26,016 | - | - | 9,689,000 | +1.993% | - | REGRESSED |",
        "| hex_encode_ids_simd_4k | 123,456 | 4,096 | 30 | 160,850 | 39 | - | - | - | - | - | new |",
        "| decode_reference_traces_512 | - | 512 | - | - | - | - | - | 10,240,000 | - | - | MISSING |",
    ] {
        assert!(md.contains(row), "missing row {row}\n{md}");
    }
    // The closing note names the two benches whose cycle rank differs from
    // their instruction rank (zstd's RAM hits put it behind the pipeline), and why.
    for note in [
        "2 of the benches with a cache simulation rank differently",
        "pipeline_batch_discard_512 is 4 by instructions per item and 3 by estimated cycles per item",
        "encode_zstd1_traces_512 is 3 by instructions per item and 4 by estimated cycles per item (1.672 cycles per instruction, 21.80 LL hits and 7.267 RAM hits per 1,000 instructions: more misses per instruction",
    ] {
        assert!(html.contains(note), "the page lacks {note:?}");
        assert!(md.contains(note), "the Markdown lacks {note:?}");
    }

    // Exactly the missing files are "not run", in both.
    let not_run = ["audit.json", "dhat-*.json", "load/network_io.json"];
    for what in not_run {
        assert!(html.contains(&format!("<strong>not run</strong>: {what} is missing")), "page: {what}");
        assert!(md.contains(&format!("**not run**: {} is missing", what.replace('*', "\\*"))), "Markdown: {what}");
    }
    assert_eq!(html.matches("<strong>not run</strong>").count(), not_run.len());
    assert_eq!(md.matches("**not run**").count(), not_run.len());

    // Every section, the plots inline, nothing fetched, no script.
    for id in SECTION_IDS {
        assert!(html.contains(&format!("<section id=\"{id}\">\n<h2>")), "section {id}");
    }
    let script = read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/check_report.sh"));
    assert!(
        script.contains(&format!("SECTIONS=\"{}\"", SECTION_IDS.join(" "))),
        "check_report.sh lists other sections"
    );
    for plot in ["instructions_per_span", "pool_blocks_per_batch", "throughput_vs_concurrency"] {
        assert!(html.contains(&format!("<figure id=\"plot-{plot}\">\n<svg")), "{plot} inline");
        assert!(md.contains(&format!("](plots/{plot}.svg)")), "{plot} in the Markdown");
        assert!(read(&out.join(format!("plots/{plot}.svg"))).starts_with("<svg"), "{plot}.svg written");
    }
    assert!(!out.join("plots/latency_per_protocol.svg").exists(), "no plot for a run that did not happen");
    assert!(html.contains("data:image/svg+xml,"), "the flamegraph is embedded");
    assert!(!html.contains("<script") && !html.contains("src=\"http") && !html.contains("href=\"http"));

    // Exports.
    let bmf: serde_json::Value = serde_json::from_str(&read(&out.join("bmf.json"))).expect("BMF is JSON");
    assert_eq!(bmf["json_parse_traces_512"]["instructions"]["value"], 9_882_112);
    assert_eq!(bmf["encode_zstd1_traces_512"]["allocations"]["value"], 3_605);
    assert_eq!(bmf["encode_zstd1_traces_512"]["allocated_bytes"]["value"], 4_096);
    assert_eq!(bmf["encode_zstd1_traces_512"]["estimated_cycles"]["value"], 4_600_000);
    assert_eq!(bmf["encode_zstd1_traces_512"]["ram_hits"]["value"], 20_000);
    assert_eq!(bmf["exporter/ours/http/protobuf+none"]["instructions_per_span"]["value"], 3210.5);
    assert_eq!(bmf["exporter/ours/http/protobuf+none"]["instructions_per_span"]["lower_value"], 3205.25);
    assert_eq!(bmf["load/production_workload/ours/workers=50/grpc+zstd"]["items_per_s"]["value"], 612_345.0);
    let gab: serde_json::Value = serde_json::from_str(&read(&out.join("github-action-benchmark.json")))
        .expect("github-action-benchmark is JSON");
    let entries = gab.as_array().expect("a list");
    let find = |name: &str| entries.iter().find(|e| e["name"] == name).unwrap_or_else(|| panic!("no {name}"));
    assert_eq!(find("json_parse_traces_512 instructions")["value"], 9_882_112);
    assert_eq!(find("json_parse_traces_512 instructions")["unit"], "instructions");
    assert_eq!(find("encode_zstd1_traces_512 estimated cycles")["value"], 4_600_000);
    assert_eq!(find("encode_zstd1_traces_512 allocated bytes")["unit"], "bytes");
    assert_eq!(find("load/production_workload/ours/workers=50/grpc+zstd latency p99")["value"], 3456);
    // Smaller is better for every entry: no throughput.
    assert!(entries.iter().all(|e| e["unit"] != "items/s" && e["name"].as_str().is_some() && e["value"].is_number()));
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn without_a_baseline_the_gate_is_not_run_and_a_bad_file_is_named() {
    let out = out_dir("nobase");
    let run = report(&data().join("profiles"), &data().join("no-such-baseline.json"), &out);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let md = read(&out.join("report.md"));
    assert!(
        md.contains("**not run**: ") && md.contains("no-such-baseline.json (baseline; the gate) is missing"),
        "{md}"
    );
    assert!(!md.contains("REGRESSED") && !md.contains("gate: FAILED"), "{md}");
    assert!(
        md.contains(
            "| json_parse_traces_512 | 9,882,112 | 512 | 19,301 | 13,320,000 | 26,016 | - | - | - | - | - | - |"
        ),
        "{md}"
    );

    // A producer's file with a field of the wrong type: a clear error naming file and field.
    let profiles = out.join("profiles");
    std::fs::create_dir_all(&profiles).expect("temp dir");
    std::fs::write(profiles.join("pool.json"), r#"{"batches": 1, "rows": [{"path": 1}]}"#).expect("write");
    let run = report(&profiles, &data().join("baseline.json"), &out);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(stderr.contains("pool.json: invalid type: integer `1`, expected a string"), "{stderr}");
    std::fs::write(profiles.join("pool.json"), "{").expect("write");
    let stderr = String::from_utf8_lossy(&report(&profiles, &data().join("baseline.json"), &out).stderr).into_owned();
    assert!(stderr.contains("pool.json: not JSON"), "{stderr}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn the_history_section_plots_every_bench_over_commits_with_its_subjects() {
    let out = out_dir("history");
    // tests/data/report/history.jsonl, beside baseline.json: four commits, five benches.
    let run = report(&data().join("profiles"), &data().join("baseline.json"), &out);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let html = read(&out.join("report.html"));
    let md = read(&out.join("report.md"));
    let section = html.split("<section id=\"history\">").nth(1).expect("a history section");
    let section = section.split("</section>").next().expect("its end");
    let benches = [
        "decode_reference_traces_512",
        "encode_direct_traces_512",
        "encode_zstd1_traces_512",
        "json_parse_traces_512",
        "pipeline_batch_discard_512",
    ];
    assert_eq!(section.matches("<figure id=\"plot-history_").count(), benches.len(), "one plot per bench");
    for b in benches {
        assert!(section.contains(&format!("<figure id=\"plot-history_{b}\">\n<svg")), "{b} inline");
        assert!(md.contains(&format!("](plots/history_{b}.svg)")), "{b} in the Markdown");
        // A marker per commit, each with its subject as a tooltip.
        let svg = read(&out.join(format!("plots/history_{b}.svg")));
        assert_eq!(svg.matches("<title>").count(), 4, "{b}: a marker per commit");
        assert!(svg.contains("Baseline saved again (code placement moved the zstd path)"), "{b}");
    }
    // The largest step written beside its marker: encode_direct_traces_512's
    // 1,051,494 -> 955,904 at the second commit (per item: 2,053.7 -> 1,867.0).
    let direct = read(&out.join("plots/history_encode_direct_traces_512.svg"));
    assert!(direct.contains(">2222222 -9.09%: Encoder: fields written in one pass</text>"), "{direct}");
    assert!(direct.contains(
        "<title>2222222 2026-11-02T12:00:00+00:00: Encoder: fields written in one pass (1,867.0, -9.09%)</title>"
    ));
    // A bench that never moved has no label, only tooltips.
    let flat = read(&out.join("plots/history_pipeline_batch_discard_512.svg"));
    assert_eq!(direct.matches("fill=\"#333\"").count(), 1, "one step, one label");
    assert_eq!(flat.matches("fill=\"#333\"").count(), 0, "no step, no label");
    // The commits and the fences, in both.
    for text in [&html, &md] {
        assert!(text.contains("JSON parser: the tape reserved up front"));
        assert!(text.contains("floor alone (too few changes)"));
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn without_a_history_the_section_says_how_to_make_it_and_a_bad_line_is_named() {
    let out = out_dir("nohistory");
    let none = out.join("none.jsonl");
    let run = |history: &Path| {
        Command::new(env!("CARGO_BIN_EXE_otlp-lab"))
            .args(["report", "--profiles"])
            .arg(data().join("profiles"))
            .arg("--flamegraphs")
            .arg(data().join("flamegraphs"))
            .arg("--baseline")
            .arg(data().join("baseline.json"))
            .arg("--history")
            .arg(history)
            .arg("--out")
            .arg(&out)
            .output()
            .expect("run otlp-lab report")
    };
    let r = run(&none);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let md = read(&out.join("report.md"));
    assert!(md.contains("none.jsonl is missing") && md.contains("otlp-lab history backfill"), "{md}");
    assert!(!out.join("plots/history_json_parse_traces_512.svg").exists());

    let bad = out.join("bad.jsonl");
    let first = read(&data().join("history.jsonl")).lines().next().expect("a line").to_owned();
    std::fs::write(&bad, format!("{first}\nnot json\n")).expect("write");
    let r = run(&bad);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success());
    assert!(stderr.contains("bad.jsonl:2: not a history entry"), "{stderr}");
    let _ = std::fs::remove_dir_all(&out);
}
