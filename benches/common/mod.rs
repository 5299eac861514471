//! The configuration all five bench files share (`mod common;`): callgrind
//! with its cache simulation on the pinned geometry, so every bench has
//! estimated cycles beside its instructions, and DHAT beside callgrind,
//! counting only the blocks of the measured run (setup and drop excluded;
//! `src/bench_config.rs` says which frame and why). The values live in
//! `src/bench_config.rs`, which the environment record reads too.

use iai_callgrind::{Callgrind, Dhat, EntryPoint, LibraryBenchmarkConfig};
use otlp_lab::bench_config::{CALLGRIND_CACHE_ARGS, DHAT_ARGS, DHAT_ENTRY_POINT};

/// The benches' configuration: pass it to `main!(config = ...)`.
pub fn config() -> LibraryBenchmarkConfig {
    let mut config = LibraryBenchmarkConfig::default();
    config
        .tool(Callgrind::with_args(CALLGRIND_CACHE_ARGS))
        .tool(Dhat::with_args(DHAT_ARGS).entry_point(EntryPoint::Custom(DHAT_ENTRY_POINT.to_owned())));
    config
}
