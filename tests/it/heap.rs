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

fn lab(args: &[&str], dir: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_otlp-lab")).args(args).current_dir(dir).output().expect("run otlp-lab")
}

/// Sum of one field over the profile's program points, read with
/// serde_json rather than the folding's own type.
fn pps_sum(profile: &serde_json::Value, field: &str) -> u64 {
    profile["pps"].as_array().expect("pps").iter().map(|pp| pp[field].as_u64().unwrap_or(0)).sum()
}

fn folded_sum(path: &std::path::Path) -> u64 {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().map(|l| l.rsplit_once(' ').expect("`stack count`").1.parse::<u64>().expect("a count")).sum()
}

/// `stack old new` lines of a differential: whether any stack weighs differently.
fn diff_differs(path: &std::path::Path) -> bool {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(!text.trim().is_empty(), "{} is empty", path.display());
    text.lines().any(|l| {
        let mut f = l.rsplitn(3, ' ');
        f.next() != f.next()
    })
}

#[test]
fn heap_writes_allocation_flamegraphs_that_name_our_sites_and_sum_to_the_profile() {
    let dir = std::env::temp_dir().join(format!("otlp-lab-heap-flame-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let name = "encode_zstd1_traces_512";
    let out = lab(&["heap", name, "--iterations", "1", "--dir", "."], &dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let profile: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(format!("dhat-{name}.json"))).expect("profile"))
            .expect("JSON");
    for (weight, field) in [("blocks", "tbk"), ("bytes", "tb"), ("live", "eb")] {
        let total = pps_sum(&profile, field);
        assert_eq!(folded_sum(&dir.join(format!("dhat-{name}.{weight}.folded"))), total, "{weight} vs `{field}`");
        let svg = dir.join(format!("dhat-{name}.{weight}.svg"));
        // An SVG exactly when there is something to draw.
        assert_eq!(svg.exists(), total > 0, "{weight}: {stderr}");
        if total > 0 {
            assert!(stderr.contains(&format!("wrote ./dhat-{name}.{weight}.svg")), "{stderr}");
        }
    }
    assert!(pps_sum(&profile, "tbk") > 0 && pps_sum(&profile, "tb") > 0);
    let blocks = std::fs::read_to_string(dir.join(format!("dhat-{name}.blocks.svg"))).expect("svg");
    assert!(blocks.starts_with("<?xml") && blocks.contains("xmlns:fg=\"http://github.com/jonhoo/inferno\""));
    assert!(blocks.contains("heap blocks allocated"), "titled with its weight");
    // The leaves are allocating calls: an allocation site of the pipeline,
    // and no allocator shim left at the top of a stack.
    let folded = std::fs::read_to_string(dir.join(format!("dhat-{name}.blocks.folded"))).expect("folded");
    assert!(blocks.contains("otlp_pipeline::") && folded.contains("otlp_pipeline::"), "{folded}");
    for line in folded.lines() {
        let leaf = line.rsplit_once(' ').expect("count").0.rsplit(';').next().expect("a leaf");
        assert!(!otlp_lab::heap::fold::is_allocator_frame(leaf) || !line.contains(';'), "{line}");
        assert!(!leaf.starts_with("0x") && !leaf.ends_with(')'), "cleaned: {line}");
    }

    // The profile against itself: every stack weighs the same on both sides;
    // against another workload's: some stack does not.
    let other = "encode_direct_traces_512";
    let out = lab(&["heap", other, "--iterations", "1", "--dir", ".", "--no-flame"], &dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!dir.join(format!("dhat-{other}.blocks.svg")).exists(), "--no-flame draws nothing");
    let this = format!("dhat-{name}.json");
    let out = lab(&["heap-flame", &this, "--diff", &this], &dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!diff_differs(&dir.join(format!("dhat-{name}-diff.blocks.folded"))));
    assert!(!diff_differs(&dir.join(format!("dhat-{name}-diff.bytes.folded"))));
    assert!(dir.join(format!("dhat-{name}-diff.blocks.svg")).exists());
    let out = lab(&["heap-flame", &this, "--diff", &format!("dhat-{other}.json")], &dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(diff_differs(&dir.join(format!("dhat-{name}-diff.blocks.folded"))));
    let svg = std::fs::read_to_string(dir.join(format!("dhat-{name}-diff.blocks.svg"))).expect("diff svg");
    assert!(svg.contains(&format!("vs dhat-{other}")), "titled with both");

    // Not a DHAT profile: an error naming the file, no panic, nothing run.
    std::fs::write(dir.join("not-dhat.json"), "{\"traceEvents\": []}").expect("write");
    let cases: [&[&str]; 3] = [
        &["heap-flame", "not-dhat.json"],
        &["heap-flame", this.as_str(), "--diff", "not-dhat.json"],
        &["heap", name, "--iterations", "1", "--dir", ".", "--diff", "not-dhat.json"],
    ];
    for args in cases {
        let out = lab(args, &dir);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && !stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(stderr.contains("not-dhat.json: not a DHAT profile"), "{args:?}: {stderr}");
        assert!(!stderr.contains("dhat: Total"), "the bad --diff fails before the run: {stderr}");
    }
    std::fs::remove_dir_all(&dir).expect("clean up");
}
