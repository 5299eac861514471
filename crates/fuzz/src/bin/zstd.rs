//! Fuzz target `zstd` (crates/fuzz/README.md): AFL++'s persistent loop when
//! built by `cargo afl build`, else one run over standard input (to replay
//! a crash file).

use otlp_pipeline_fuzz::Target;

#[cfg(fuzzing)]
fn main() {
    afl::fuzz!(|data: &[u8]| Target::Zstd.run(data));
}

#[cfg(not(fuzzing))]
fn main() -> std::io::Result<()> {
    Target::Zstd.run_stdin()
}
