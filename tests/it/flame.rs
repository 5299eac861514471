//! `otlp-lab flame` end to end: a short run of a micro-workload writes an
//! interactive inferno SVG, folded stacks that name our functions, a pprof
//! protobuf that decodes with samples, the summary JSON of the contract and
//! (with `--diff`) a differential SVG; bad input fails with a clear error.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pprof::protos::Message;

fn flame(args: &[&str], out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_otlp-lab"))
        .arg("flame")
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .expect("run otlp-lab flame")
}

fn temp(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("otlp-lab-flame-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn is_inferno_svg(svg: &str) -> bool {
    svg.starts_with("<?xml")
        && svg.contains("<svg")
        && svg.contains("xmlns:fg=\"http://github.com/jonhoo/inferno\"")
        && svg.contains("<script type=\"text/ecmascript\">")
        && svg.contains("function init(evt)")
        && svg.trim_end().ends_with("</svg>")
}

#[test]
fn a_short_run_writes_the_svg_the_folded_stacks_the_pprof_profile_and_the_summary() {
    let dir = temp("run");
    std::fs::create_dir_all(&dir).expect("temp dir");
    // A saved run to diff against: one of our frames, one that this run lacks.
    let saved = dir.join("saved.folded");
    std::fs::write(&saved, "otlp-lab;main;otlp_pipeline::encode::direct::Encoder::traces 40\notlp-lab;main;gone 10\n")
        .expect("write saved stacks");
    let out = dir.join("out");
    let name = "encode_zstd1_traces_512";
    let run = flame(&[name, "--duration", "2", "--diff", saved.to_str().expect("utf-8 path")], &out);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(stderr.contains("sampling encode_zstd1_traces_512") && stderr.contains("Hz"), "{stderr}");
    assert!(String::from_utf8_lossy(&run.stdout).contains("our functions by self share"), "summary on stdout");

    let svg = std::fs::read_to_string(out.join(format!("{name}.svg"))).expect("svg");
    assert!(is_inferno_svg(&svg), "not an interactive inferno SVG");
    assert!(svg.contains("otlp_pipeline::"), "the SVG names the pipeline's functions");

    let folded = std::fs::read_to_string(out.join(format!("{name}.folded"))).expect("folded");
    let mut ours = 0;
    for line in folded.lines() {
        let (stack, count) = line.rsplit_once(' ').expect("`stack count`");
        assert!(count.parse::<u64>().expect("a count") > 0, "{line}");
        assert!(stack.split(';').count() >= 2, "a thread and at least one frame: {line}");
        ours += usize::from(stack.contains("otlp_pipeline::encode::") || stack.contains("otlp_pipeline::compress::"));
    }
    assert!(ours > 0, "no stack with an encode or compress frame of ours:\n{folded}");

    let pb = std::fs::read(out.join(format!("{name}.pb"))).expect("pb");
    let profile = pprof::protos::Profile::decode(pb.as_slice()).expect("a pprof Profile");
    assert!(!profile.sample.is_empty() && profile.sample.iter().all(|s| s.value.first().is_some_and(|&v| v > 0)));
    assert!(
        profile.string_table.iter().any(|s| s.starts_with("otlp_pipeline::")),
        "the profile names the pipeline's functions"
    );

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join(format!("{name}.json"))).expect("json"))
            .expect("the summary is JSON");
    assert_eq!(json["name"], name);
    let samples = json["samples"].as_u64().expect("samples");
    assert!(samples > 0);
    let folded_total: u64 =
        folded.lines().map(|l| l.rsplit_once(' ').expect("count").1.parse::<u64>().expect("n")).sum();
    assert_eq!(folded_total, samples, "the folded stacks hold every sample");
    assert_eq!(json["frequency_hz"], 250);
    assert_eq!(json["blocklist"], false);
    assert!(json["duration_s"].as_f64().is_some_and(|d| d > 0.0));
    assert!(json["iterations"].as_u64().is_some_and(|n| n > 0));
    assert!(json["threads"].as_array().is_some_and(|t| !t.is_empty() && t.iter().all(|n| n.is_string())));
    // By total share our encoder is under most samples; by self share the
    // leaf is often zstd's C code, so on a busy machine a short run can leave
    // `top` (self) empty: only its entries are checked.
    let top_total = json["top_total"].as_array().expect("top_total");
    assert!(!top_total.is_empty(), "our functions by total share");
    let top = json["top"].as_array().expect("top");
    for f in top.iter().chain(top_total) {
        assert!(
            f["function"].as_str().is_some_and(|n| n.contains("otlp_lab::") || n.contains("otlp_pipeline::")),
            "{f}"
        );
        let (s, t) = (f["self_pct"].as_f64().expect("self_pct"), f["total_pct"].as_f64().expect("total_pct"));
        assert!((0.0..=100.0).contains(&s) && s <= t && t <= 100.0, "{f}");
    }

    let diff = std::fs::read_to_string(out.join(format!("{name}-diff.svg"))).expect("diff svg");
    assert!(is_inferno_svg(&diff), "the differential flamegraph is an inferno SVG");
    assert!(diff.contains("saved.folded"), "its title names the saved run");
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn bad_names_and_bad_diff_files_fail_clearly_before_sampling() {
    let dir = temp("bad");
    let out = dir.join("out");
    let run = flame(&["no_such_job"], &out);
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("no_such_job") && stderr.contains("otlp-lab list"), "{stderr}");

    let missing = dir.join("missing.folded");
    let run = flame(&["encode_direct_traces_512", "--diff", missing.to_str().expect("utf-8")], &out);
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("missing.folded"), "{stderr}");

    std::fs::create_dir_all(&dir).expect("temp dir");
    let garbage = dir.join("garbage.folded");
    std::fs::write(&garbage, "a;b 3\nthis is no folded stack\n").expect("write");
    let run = flame(&["encode_direct_traces_512", "--diff", garbage.to_str().expect("utf-8")], &out);
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("garbage.folded") && stderr.contains("line 2"), "{stderr}");
    // The --diff file is checked before the run: nothing was sampled or written.
    assert!(!out.exists(), "no output for a refused run");
    std::fs::remove_dir_all(&dir).expect("clean up");
}
