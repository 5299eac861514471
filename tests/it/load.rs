//! `otlp-lab load` end to end through the CLI: short closed- and open-loop
//! runs of production_workload against the loopback receiver write the
//! result file of the contract, whose counts add up; bad input is refused
//! with a clear error. No timing is asserted: the figures depend on the machine.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn lab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_otlp-lab"))
}

fn out_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("otlp-lab-load-{name}-{}", std::process::id()));
    let _fresh = std::fs::remove_dir_all(&dir);
    dir
}

fn load(out: &Path, extra: &[&str]) -> Output {
    lab()
        .args(["load", "production_workload", "--duration", "1", "--workers", "8", "--no-progress", "--out"])
        .arg(out)
        .args(extra)
        .output()
        .expect("run otlp-lab load")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Checks the contract's fields and the accounting of every run; returns the file.
fn check_result_file(out: &Path, mode: &str) -> Value {
    let path = out.join("production_workload.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("result file")).expect("JSON");
    assert_eq!(v["scenario"], "production_workload");
    assert_eq!(v["target"], "loopback");
    assert_eq!(v["mode"], mode);
    assert_eq!(v["targets"]["items_per_s"], 500_000.0);
    let runs = v["runs"].as_array().expect("runs");
    assert!(!runs.is_empty());
    for r in runs {
        for k in ["implementation", "step", "protocol", "compression"] {
            assert!(r[k].is_string(), "{k} in {r}");
        }
        for k in ["duration_s", "items_per_s", "cpu_user_s", "cpu_system_s"] {
            assert!(r[k].is_f64(), "{k} in {r}");
        }
        for k in ["workers", "offered", "delivered", "dropped_total", "peak_rss_bytes"] {
            assert!(r[k].is_u64(), "{k} in {r}");
        }
        for k in ["p50", "p90", "p99", "p999", "max"] {
            assert!(r["latency_us"][k].is_f64(), "latency {k} in {r}");
        }
        let n = |k: &str| r[k].as_u64().expect("count");
        assert!(n("offered") > 0, "{r}");
        assert_eq!(n("offered"), n("delivered") + n("dropped_total"), "{r}");
        let by_reason: u64 = r["dropped"].as_object().expect("dropped").values().map(|d| d.as_u64().expect("n")).sum();
        assert_eq!(by_reason, n("dropped_total"), "{r}");
        assert!(r["latency_us"]["count"].as_u64().expect("count") > 0, "{r}");
        assert!(r["peak_rss_bytes"].as_u64().expect("rss") > 0, "{r}");
    }
    v
}

#[test]
fn a_closed_loop_run_writes_the_contract_and_delivers_everything() {
    let dir = out_dir("closed");
    let out = load(&dir, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let v = check_result_file(&dir, "closed");
    let ours = &v["runs"][0];
    // The printed verdict is the file's figure against the target.
    let rate = ours["items_per_s"].as_f64().expect("a rate");
    let verdict = if rate >= 500_000.0 { "PASS" } else { "MISS" };
    let line = format!("delivered >= 500000 items/s   {verdict}  ({rate:.0})");
    assert!(text(&out).contains(&line), "no `{line}` in {}", text(&out));
    assert_eq!(ours["implementation"], "ours");
    assert_eq!(ours["offered_rate"], Value::Null);
    // The closed loop waits for queue room: nothing is dropped.
    assert_eq!(ours["dropped_total"], 0, "{ours}");
    assert!(ours["receiver_cpu_user_s"].is_f64(), "{ours}");
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn an_open_loop_run_accounts_for_every_offer() {
    let dir = out_dir("open");
    let out = load(&dir, &["--rate", "20000", "--queue", "4096"]);
    assert!(out.status.success(), "{}", text(&out));
    let v = check_result_file(&dir, "open");
    assert_eq!(v["runs"][0]["offered_rate"], 20_000.0);
    // The child ran with the queue it was given.
    assert_eq!(v["runs"][0]["queue_capacity"], 4096);
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn bad_input_is_refused_clearly() {
    let out = lab().args(["load", "nope"]).output().expect("run otlp-lab load");
    assert!(!out.status.success());
    let t = text(&out);
    assert!(t.contains("unknown load scenario `nope`"), "{t}");
    for name in ["production_workload", "high_concurrency", "batch_processing", "network_io", "sustained_load"] {
        assert!(t.contains(name), "{name} missing from: {t}");
    }
    let dir = out_dir("bad");
    for (args, expect) in [
        (&["--duration", "0"][..], "--duration must be"),
        (&["--rate=-5"][..], "--rate must be"),
        (&["--workers", "0"][..], "--workers, --batch, --exports and --queue must be"),
        (&["--queue", "0"][..], "--workers, --batch, --exports and --queue must be"),
        (&["--queue", "2000000"][..], "--queue must be at most 1048576 items"),
    ] {
        let out = lab().args(["load", "production_workload", "--out"]).arg(&dir).args(args).output().expect("run");
        assert!(!out.status.success(), "{args:?}");
        assert!(text(&out).contains(expect), "{args:?}: {}", text(&out));
    }
    for (args, expect) in [
        (&["--implementations", "tracing-bare"][..], "tracing-bare exports nothing"),
        (&["--implementations", "ours,tracing-ours,ours"][..], "--implementations must name each stack at most once"),
        (&["--implementations", "nope"][..], "nope"),
        (&["--sdk", "--implementations", "ours"][..], "cannot be used with"),
    ] {
        let out = lab().args(["load", "production_workload", "--out"]).arg(&dir).args(args).output().expect("run");
        assert!(!out.status.success(), "{args:?}");
        assert!(text(&out).contains(expect), "{args:?}: {}", text(&out));
    }
    #[cfg(not(feature = "official-sdk"))]
    for args in
        [&["--sdk"][..], &["--implementations", "ours,tracing-otel"][..], &["--implementations", "sdk-ours"][..]]
    {
        let out = lab().args(["load", "production_workload", "--out"]).arg(&dir).args(args).output().expect("run");
        assert!(!out.status.success());
        assert!(
            text(&out).contains("needs the official SDK: build with `cargo build --release --features official-sdk`"),
            "{}",
            text(&out)
        );
    }
    assert!(!dir.exists(), "a refused run must not write results");
}

/// A closed-loop run of `implementations` (comma-separated) into a fresh
/// folder named `name`: the run's output and its checked result file.
fn run_stacks(name: &str, implementations: &str) -> (Output, Value) {
    let dir = out_dir(name);
    let out = load(&dir, &["--implementations", implementations]);
    assert!(out.status.success(), "{}", text(&out));
    let v = check_result_file(&dir, "closed");
    std::fs::remove_dir_all(&dir).expect("clean up");
    (out, v)
}

/// Checks that run `index` of `v` is `implementation` and that the receiver
/// got every signal of it; with `counted`, that its only drops are those
/// its full queue refused and counted (a stack ending in our pipeline).
fn check_stack(v: &Value, index: usize, implementation: &str, counted: bool) {
    let run = &v["runs"][index];
    assert_eq!(run["implementation"], implementation);
    let got = ["spans", "points", "logs"].map(|k| {
        run["delivered_per_signal"][k].as_u64().unwrap_or_else(|| panic!("delivered_per_signal.{k} in {run}"))
    });
    assert!(got.iter().all(|&n| n > 0), "{run}");
    if counted {
        for reason in run["dropped"].as_object().expect("dropped").keys() {
            assert_eq!(reason, "queue_full", "{run}");
        }
    }
}

#[test]
fn tracing_with_our_layer_delivers_spans_and_log_records_and_counts_its_drops() {
    // The spans and the record through the layer, the metric through our
    // handle; the layer never waits, so what the queue refused is counted.
    let (_, v) = run_stacks("tracing-ours", "ours,tracing-ours");
    check_stack(&v, 1, "tracing-ours", true);
}

#[cfg(feature = "official-sdk")]
#[test]
fn tracing_with_tracing_opentelemetry_runs_beside_our_layer() {
    // Spans through tracing-opentelemetry, records through
    // opentelemetry-appender-tracing, the metric through the SDK's meter.
    let (out, v) = run_stacks("tracing-otel", "tracing-ours,tracing-otel");
    check_stack(&v, 1, "tracing-otel", false);
    assert!(v["tracing_ratios"]["items_per_s_vs_sdk"].is_f64(), "{v}");
    assert!(v.get("ratios").is_none(), "ours and sdk did not run: {v}");
    assert!(text(&out).contains("tracing-ours / tracing-otel (workers=8): spans+logs/s"), "{}", text(&out));
}

#[cfg(feature = "official-sdk")]
#[test]
fn the_sdk_api_into_our_pipeline_delivers_every_signal_and_counts_its_drops() {
    // Spans and records through our processors, the meter's aggregated
    // points through our metric exporter.
    let (_, v) = run_stacks("sdk-ours", "sdk-ours,sdk");
    check_stack(&v, 0, "sdk-ours", true);
    assert!(v["sdk_ours_ratios"]["items_per_s_vs_sdk"].is_f64(), "{v}");
}

#[cfg(feature = "official-sdk")]
#[test]
fn the_sdk_runs_beside_ours_and_its_silent_drops_are_accounted() {
    let dir = out_dir("sdk");
    let out = load(&dir, &["--sdk"]);
    assert!(out.status.success(), "{}", text(&out));
    let v = check_result_file(&dir, "closed");
    assert_eq!(v["runs"][1]["implementation"], "sdk");
    assert!(v["ratios"]["items_per_s_vs_sdk"].is_f64(), "{v}");
    std::fs::remove_dir_all(&dir).expect("clean up");
}
