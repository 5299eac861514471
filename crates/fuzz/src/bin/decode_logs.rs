//! Fuzz target `decode_logs` (crates/fuzz/README.md): AFL++'s persistent loop when
//! built by `cargo afl build`, else one run over standard input (to replay
//! a crash file).

use otlp_pipeline_fuzz::Target;

#[cfg(fuzzing)]
fn main() {
    afl::fuzz!(|data: &[u8]| Target::DecodeLogs.run(data));
}

#[cfg(not(fuzzing))]
fn main() -> std::io::Result<()> {
    Target::DecodeLogs.run_stdin()
}
