//! The runner's real output: lines copied from `scripts/run_benchmarks.sh
//! quick` (tests/data/icount/, its README says from which run) parse into the
//! figures the lines hold. The cache figures are checked against callgrind's
//! own events in the same line, with the runner's formula written out here
//! (iai-callgrind-runner 0.16.1, `src/runner/callgrind/mod.rs`), so the check
//! does not lean on the parser's arithmetic; the DHAT figures against the
//! workloads' budgets.

use std::path::Path;

use otlp_lab::report::{self, CacheSim};

fn lines() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/icount/runner_lines.jsonl");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One callgrind event of a line's total summary (the new run's value).
fn event(v: &serde_json::Value, tool: &str, name: &str) -> u64 {
    v["profiles"]
        .as_array()
        .expect("profiles")
        .iter()
        .find_map(|p| {
            // "Both" is [new, previous] when the runner had an earlier run to compare with.
            let m = &p["summaries"]["total"]["summary"][tool][name]["metrics"];
            m["Left"]["Int"].as_u64().or_else(|| m["Both"][0]["Int"].as_u64())
        })
        .unwrap_or_else(|| panic!("{}: no {tool}.{name}", v["id"]))
}

#[test]
fn real_runner_lines_give_the_cache_simulation_and_the_blocks_of_one_run() {
    let text = lines();
    let rows = report::parse_icount_lines(&text).expect("the runner's lines parse");
    let values: Vec<serde_json::Value> =
        text.lines().filter(|l| l.starts_with('{')).map(|l| serde_json::from_str(l).expect("JSON")).collect();
    assert_eq!(rows.len(), values.len());
    assert!(rows.len() >= 3, "the fixture holds a zero-budget bench, the reference encoder and more");
    for (row, v) in rows.iter().zip(&values) {
        let e = |name: &str| event(v, "Callgrind", name);
        // The runner's CacheSummary::calculate, from the raw events.
        let ram = e("ILmr") + e("DLmr") + e("DLmw");
        let l1_misses = e("I1mr") + e("D1mr") + e("D1mw");
        let ll = l1_misses - ram;
        let l1 = e("Ir") + e("Dr") + e("Dw") - l1_misses;
        let cycles = l1 + 5 * ll + 35 * ram;
        assert_eq!(e("EstimatedCycles"), cycles, "{}: the runner's own figure", row.id);
        assert_eq!(
            row.cache,
            Some(CacheSim { estimated_cycles: cycles, l1_hits: l1, ll_hits: ll, ram_hits: ram }),
            "{}",
            row.id
        );
        assert_eq!(row.instructions, e("Ir"), "{}", row.id);
        assert!(cycles > row.instructions, "{}: every instruction is at least one L1 access", row.id);
        assert_eq!(row.allocations, Some(event(v, "Dhat", "TotalBlocks")), "{}", row.id);
        assert_eq!(row.allocated_bytes, Some(event(v, "Dhat", "TotalBytes")), "{}", row.id);
    }
    // DHAT counted one measured run: the zero-budget paths show none, and no
    // bench of the fixture is over its budget.
    let blocks = |id: &str| rows.iter().find(|r| r.id == id).and_then(|r| r.allocations).expect(id);
    assert_eq!(blocks("encode_direct_traces_512"), 0);
    assert!(report::over_budget(&rows).is_empty(), "{:?}", report::over_budget(&rows));
    // ... while the frame matched: the reference encoder builds prost
    // structs in every run, about 20 blocks a span (tests/alloc_budget.rs).
    let reference = blocks("encode_reference_traces_512");
    assert!((20 * 512..40 * 512).contains(&reference), "encode_reference_traces_512: {reference} blocks");
}
