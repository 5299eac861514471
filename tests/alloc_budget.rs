//! Allocation budgets under dhat's testing mode. A binary of its own because it
//! installs dhat's global allocator, and one `#[test]` because dhat allows one
//! profiler per process and its counts are process-wide.

use otlp_lab::budgets::{BUDGETS, Budget};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// Runs measured after the warm-up run: enough to catch a per-run allocation
/// that only happens every few runs (a buffer regrowing, a context rebuilt).
const RUNS: u64 = 5;

/// Heap blocks allocated by `RUNS` steady-state runs of the budget's workload.
fn blocks_in_steady_state(b: &Budget) -> u64 {
    let mut p = b.workload.prepare();
    let first = p.run();
    let before = dhat::HeapStats::get().total_blocks;
    for _ in 0..RUNS {
        let o = p.run();
        assert_eq!(o, first, "{}: outcome changed between runs", b.workload);
    }
    dhat::HeapStats::get().total_blocks - before
}

#[test]
fn steady_state_allocations_stay_within_budget() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let mut failures = Vec::new();
    for b in BUDGETS {
        let blocks = blocks_in_steady_state(b);
        let allowed = b.blocks_per_run * RUNS;
        println!("{:<34} {blocks:>6} blocks in {RUNS} runs (budget {allowed})", b.workload.name());
        if blocks > allowed {
            failures.push(format!("{}: {blocks} blocks in {RUNS} runs, budget {allowed} ({})", b.workload, b.why));
        }
    }
    // The checker must catch a real allocation: the reference encoder builds
    // prost structs on every run, so the same measurement sees its blocks.
    let reference =
        Budget { workload: otlp_lab::workloads::Workload::EncodeReferenceTraces, blocks_per_run: 0, why: "" };
    let blocks = blocks_in_steady_state(&reference);
    assert!(blocks >= 20 * 512 * RUNS, "the measurement missed the reference encoder's allocations: {blocks}");
    assert!(failures.is_empty(), "over budget:\n{}", failures.join("\n"));
}
