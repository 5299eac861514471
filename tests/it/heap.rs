//! The heap profiler binary: its summary agrees with the allocation budgets,
//! its lifetime split covers every block, and the profile it writes is the
//! DHAT viewer's format.

use std::process::Command;

use otlp_lab::budgets::BUDGETS;
use otlp_lab::workloads::Workload;

fn heap_run(name: &str, dir: &std::path::Path) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_otlp-lab-heap"))
        .args(["run", name, "--json", "--iterations", "3", "--dir"])
        .arg(dir)
        .output()
        .expect("run otlp-lab-heap");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().expect("a summary line")).expect("JSON summary")
}

#[test]
fn heap_profiles_match_the_budgets_and_open_in_the_viewer_format() {
    let dir = std::env::temp_dir().join(format!("otlp-lab-heap-{}", std::process::id()));
    let pooled = heap_run("encode_zstd1_pooled_traces_512", &dir);
    assert_eq!(pooled["blocks"], 0, "{pooled}");
    assert_eq!(pooled["exit_blocks"], 0, "nothing may outlive the job: {pooled}");
    let fresh = heap_run("encode_zstd1_fresh_traces_512", &dir);
    // Three runs of the pool-off twin: exactly its budget (it is met, not just bounded).
    let budget = BUDGETS.iter().find(|b| b.workload == Workload::EncodeZstdFresh).expect("budgeted").blocks_per_run;
    assert!(budget > 0);
    assert_eq!(fresh["blocks"], 3 * budget, "{fresh}");
    assert!(fresh["bytes"].as_u64().expect("bytes") > 3 * 200_000, "{fresh}");
    let lived = fresh["short_lived"].as_u64().expect("n") + fresh["long_lived"].as_u64().expect("n");
    assert_eq!(lived, 3 * budget, "every measured block is short- or long-lived: {fresh}");

    let profile = std::fs::read_to_string(dir.join("dhat-encode_zstd1_fresh_traces_512.json")).expect("profile");
    let v: serde_json::Value = serde_json::from_str(&profile).expect("the profile is JSON");
    // What the DHAT viewer (valgrind 3.19's dh_view.js, buildTree) checks
    // before it builds its tree: these fields, version 2, and with block
    // lifetimes (`bklt`) also `tg` and `tuth`.
    for field in ["dhatFileVersion", "mode", "verb", "bklt", "bkacc", "tu", "Mtu", "cmd", "pid", "te", "pps", "ftbl"] {
        assert!(v.get(field).is_some(), "the profile lacks `{field}`");
    }
    assert_eq!(v["dhatFileVersion"], 2);
    assert_eq!(v["mode"], "rust-heap");
    if v["bklt"] == true {
        assert!(v.get("tg").is_some() && v.get("tuth").is_some());
    }
    assert!(v["pps"].as_array().is_some_and(|p| !p.is_empty()) && v["ftbl"][0] == "[root]");
    std::fs::remove_dir_all(&dir).expect("clean up");
}
