//! What every bench file measures with, in one place: the callgrind cache
//! geometry its estimated cycles come from, and the frame DHAT counts the
//! heap blocks of one measured run under. `benches/common/mod.rs` builds the
//! benches' configuration from these constants, and the environment record
//! (`crate::html::env`) records the geometry, so that two runs simulated with
//! different caches are refused like two toolchains.
//!
//! The geometry is pinned rather than left to valgrind, which would read the
//! host's CPUID: a count of cache misses measured on a 32 KiB L1 says nothing
//! about one measured on a 48 KiB L1. The values are iai-callgrind-runner
//! 0.16.1's own defaults (its `src/runner/tool/args.rs`), written out here so
//! that a runner upgrade cannot change them silently and so that a record
//! from before the geometry was recorded is known to have used them
//! ([`geometry_of_unrecorded`]): a 32 KiB, 8-way L1 for instructions and for
//! data, as on most x86-64 cores of the last decade, and an 8 MiB, 16-way last
//! level, the order of one such core's share. Valgrind requires each cache's
//! size / (associativity × line) to be a power of two: 32768 / (8 × 64) = 64
//! sets, 8388608 / (16 × 64) = 8192 sets.

/// Callgrind's cache simulation, on, with the pinned geometry (`--I1`,
/// `--D1`, `--LL`: size in bytes, associativity, line size in bytes).
pub const CALLGRIND_CACHE_ARGS: [&str; 4] =
    ["--cache-sim=yes", "--I1=32768,8,64", "--D1=32768,8,64", "--LL=8388608,16,64"];

/// The geometry as the environment record keeps it: the three cache
/// arguments of [`CALLGRIND_CACHE_ARGS`], space-separated.
pub fn cache_geometry() -> String {
    CALLGRIND_CACHE_ARGS.iter().filter(|a| !a.starts_with("--cache-sim")).copied().collect::<Vec<_>>().join(" ")
}

/// The geometry a run used whose environment record predates the geometry
/// field, given that record's runner version: iai-callgrind-runner 0.16.1
/// always passed its defaults, which are [`CALLGRIND_CACHE_ARGS`]'s values,
/// so such a record is known; for another runner (or none) it is not.
pub fn geometry_of_unrecorded(runner: Option<&str>) -> Option<String> {
    (runner == Some("0.16.1")).then(cache_geometry)
}

/// The one frame DHAT counts allocations under: a program point counts when
/// its stack holds `Prepared::run` (`#[inline(never)]`, and its last call
/// kept out of tail position, so that the frame exists under fat LTO and
/// stays on the stack of every call it makes), given to the runner as a
/// custom entry point. Not iai-callgrind's default entry point beside it as
/// a frame: runner 0.16.1 then also counts under globs of the bench file's
/// wrapper functions (its `src/runner/tool/config.rs`), which hold the
/// setup, and a quick run counted `compress_zstd1_traces_512` at 1,578 blocks
/// (the fixture's; its budget is 0) and the pipeline benches at the whole
/// process's 4,751 and 4,761. Nor `EntryPoint::None` with this frame: the
/// runner keeps a DHAT frame only beside the default entry point and falls
/// back to the whole process's count.
pub const DHAT_ENTRY_POINT: &str = "otlp_lab::workloads::Prepared::run";

/// DHAT's own arguments: stacks deep enough to reach `Prepared::run` from
/// any allocation under it (valgrind keeps 12 callers by default, and
/// serde_json's recursive parse is deeper than that, so its blocks would
/// lose the frame and go uncounted).
pub const DHAT_ARGS: [&str; 1] = ["--num-callers=64"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pinned_cache_has_a_power_of_two_set_count() {
        let caches: Vec<&str> = CALLGRIND_CACHE_ARGS.iter().filter_map(|a| a.split_once('=')).map(|(_, v)| v).collect();
        assert_eq!(caches.len(), 4);
        for spec in &caches[1..] {
            let n: Vec<u64> = spec.split(',').map(|x| x.parse().expect("a number")).collect();
            let sets = n[0] / (n[1] * n[2]);
            assert!(sets.is_power_of_two() && sets * n[1] * n[2] == n[0], "{spec}: {sets} sets");
        }
        assert_eq!(cache_geometry(), "--I1=32768,8,64 --D1=32768,8,64 --LL=8388608,16,64");
        assert_eq!(geometry_of_unrecorded(Some("0.16.1")), Some(cache_geometry()));
        assert_eq!(geometry_of_unrecorded(Some("0.17.0")), None);
    }
}
