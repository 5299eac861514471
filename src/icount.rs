//! One benchmark's figures as the runner reports them: the plain data that
//! the runner's output parser (`crate::report`) produces and the results
//! (`crate::baseline`) are built from. It imports nothing of the lab, so
//! that both can import it.

/// One benchmark's figures, as read from the runner's output.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IcountRow {
    /// Bench id: the workload name.
    pub id: String,
    /// Instructions executed in the measured region.
    pub instructions: u64,
    /// Callgrind's cache simulation on the pinned geometry
    /// (`crate::bench_config`), when it ran.
    pub cache: Option<CacheSim>,
    /// Heap blocks allocated in one measured run (DHAT, counting under the
    /// frames of `crate::bench_config`), when DHAT ran beside callgrind.
    pub allocations: Option<u64>,
    /// Bytes those blocks held in total (DHAT's TotalBytes).
    pub allocated_bytes: Option<u64>,
}

/// The runner's cache summary of one bench (iai-callgrind-runner 0.16.1,
/// `src/runner/callgrind/mod.rs`, `CacheSummary::calculate`): every
/// instruction fetch and data access is an L1 hit, an LL hit or a RAM hit,
/// and the estimate weighs them 1, 5 and 35.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheSim {
    /// `EstimatedCycles`: `l1_hits + 5 * ll_hits + 35 * ram_hits`.
    pub estimated_cycles: u64,
    /// `L1hits`: accesses served by the L1 caches.
    pub l1_hits: u64,
    /// `LLhits`: L1 misses served by the last-level cache.
    pub ll_hits: u64,
    /// `RamHits`: last-level misses.
    pub ram_hits: u64,
}
