//! CPU flamegraphs (`otlp-lab flame <name>`): any lab job, run over and over
//! under pprof's SIGPROF sampler, drawn by inferno.
//!
//! The job is prepared unmeasured ([`Job::prepare`]), then the sampler starts
//! and [`PreparedJob::run`](crate::PreparedJob::run) repeats until the
//! duration has passed or the iteration bound is reached, whichever comes
//! first. SIGPROF follows process CPU time, so every thread that burns CPU is
//! sampled where it stands: the scenario's own tokio runtime, its loopback
//! receiver, tokio worker threads, zstd's C code. One run writes, into the
//! output folder (`flamegraphs/` by default):
//!
//! - `<name>.svg`: the interactive inferno flamegraph (click to zoom, Ctrl-F to search);
//! - `<name>.pb`: the pprof protobuf profile (`go tool pprof -http=:0`, speedscope, Perfetto);
//! - `<name>.folded`: folded stacks, `thread;outermost;...;innermost count` per line, the input of
//!   `--diff` and of any inferno tool;
//! - `<name>.json`: the summary of `/work/contracts.md` (samples, iterations, threads, our top
//!   functions by self and total share) plus the stack-quality figures below;
//! - `<name>-diff.svg` with `--diff SAVED.folded`: a differential flamegraph of this run against
//!   the saved one (widths from this run, red where it has more samples, blue where fewer; the
//!   saved run is scaled to this run's total first).
//!
//! # Defaults, and why
//!
//! Measured on the 2-core VM of TOOLCHAIN.md (glibc 2.36, libgcc 12), machine
//! otherwise quiet, with `otlp-lab flame cpu_intensive --duration 20` and
//! `otlp-lab flame production_workload --duration 20`, each once with
//! `--no-blocklist` and once with `--blocklist`. Every figure is a field of the
//! `<name>.json` such a run writes, so rerunning those commands reproduces
//! them (to within the noise of sampling).
//!
//! - **Frequency 250 Hz.** Samples per CPU second (`samples_per_cpu_s`): 99 at 99 Hz asked, 250 at
//!   250 Hz, 249 at 1000 Hz: the kernel tick caps SIGPROF at 250 per busy CPU. Asking for more
//!   gains nothing and makes the `.pb`'s CPU time wrong, since pprof converts samples with the
//!   asked frequency.
//! - **Duration 20 s.** One busy CPU gives about 5,000 samples in 20 s (cpu_intensive: 4,995;
//!   production_workload: 5,020); on a machine shared with other work, about half that.
//! - **Blocklist off.** production_workload lands 48.5% of its samples in libc (`libc_leaf_pct`):
//!   the allocator (27.2% of samples have a malloc/free frame, `allocator_pct`), memcpy (11.1%
//!   `memory_pct`) and the socket calls. With the blocklist on it kept 129 samples per CPU second
//!   instead of 250, i.e. it dropped 48% of them, and its flamegraph shows no allocator at all
//!   (`allocator_pct` 0). cpu_intensive barely touches libc (1.0%; 247 against 250 samples per CPU
//!   second). Hiding half of the production workload's cost is worse than the risk the blocklist
//!   guards against (unwinding from inside libc in a signal handler): this glibc and libgcc find
//!   unwind tables with `_dl_find_object`, which takes no lock, and none of the runs above hung.
//!   `--blocklist` turns it on.
//! - **No frame pointers.** pprof unwinds with libgcc's DWARF unwinder (`.eh_frame`), and the
//!   release profile carries debug info: 100% of the samples of both jobs unwound to `_start`
//!   (`rooted_pct`), 100% have an `otlp_lab::` frame (`crate_pct`; the CLI's own `otlp_lab::main`
//!   counts), 99.7% (cpu_intensive) and 93.4% (production_workload) a data-path frame such as
//!   `otlp_pipeline::encode::direct::RevWriter::span` or `otlp_pipeline::compress::zstd::Encoder::compress`
//!   (`data_path_pct`; the rest is the runtime and the scenario's own producers), 100% have
//!   inlined functions resolved as their own frames (`inlined_pct`), at most 0.4% an unresolved
//!   frame (`unknown_pct`) and none reached pprof's depth limit (`truncated_pct`). Frame pointers
//!   would add nothing to that, so the build does not force them.

mod analysis;
mod fold;
mod sample;
#[cfg(test)]
mod tests;
mod write;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::Job;
use crate::scenarios::ScenarioError;

pub use analysis::{Analysis, FunctionShare, analyze, is_data_path, is_ours};
pub use fold::{Folded, Stack, read_folded};
pub use sample::{FlameRun, sample};

/// pprof's recommended blocklist (TOOLCHAIN.md): a sample whose program
/// counter lies in one of these objects is dropped before it is unwound.
pub const BLOCKLIST: [&str; 4] = ["libc", "libgcc", "pthread", "vdso"];

/// Asked sampling frequency. The kernel tick (250 Hz here) caps what SIGPROF
/// delivers per CPU, and pprof converts samples to CPU time with the asked
/// frequency, so asking for more than the tick only makes the `.pb`'s CPU
/// seconds wrong.
pub const DEFAULT_FREQUENCY_HZ: u32 = 250;

/// Sampling time: at the capped rate, one busy CPU gives about 5,000
/// samples in this long, a busy machine about half (see the module doc).
pub const DEFAULT_DURATION: Duration = Duration::from_secs(20);

/// The bound on iterations besides the duration: a micro-workload of a few
/// microseconds reaches it in seconds; a scenario never does.
pub const DEFAULT_MAX_ITERATIONS: u64 = 1_000_000;

/// Whether the blocklist is on unless asked otherwise (see the module doc).
pub const DEFAULT_BLOCKLIST: bool = false;

/// How a flame run samples.
#[derive(Clone, Debug)]
pub struct FlameConfig {
    /// How long to sample (the last iteration finishes after it).
    pub duration: Duration,
    /// Asked SIGPROF frequency (capped near the kernel tick).
    pub frequency_hz: u32,
    /// Drop samples that land in [`BLOCKLIST`] objects.
    pub blocklist: bool,
    /// Scenarios: divisor of their item counts (1 = full size).
    pub scale: u32,
    /// Stop after this many iterations even before `duration`.
    pub max_iterations: u64,
}

impl Default for FlameConfig {
    fn default() -> Self {
        FlameConfig {
            duration: DEFAULT_DURATION,
            frequency_hz: DEFAULT_FREQUENCY_HZ,
            blocklist: DEFAULT_BLOCKLIST,
            scale: 1,
            max_iterations: DEFAULT_MAX_ITERATIONS,
        }
    }
}

/// Why a flame run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FlameError {
    /// The job could not be prepared or one of its runs failed.
    #[error("{job}: {source}")]
    Job {
        /// The job.
        job: Job,
        /// What went wrong.
        #[source]
        source: ScenarioError,
    },
    /// pprof could not start, stop or report.
    #[error("the pprof sampler failed: {0}")]
    Profiler(#[from] pprof::Error),
    /// Not one sample landed (the job sleeps, or the run was too short).
    #[error(
        "{job}: no samples in {secs:.2} s ({iterations} iterations): sample longer (--duration) or profile a job that keeps a CPU busy"
    )]
    NoSamples {
        /// The job.
        job: Job,
        /// Seconds sampled.
        secs: f64,
        /// Iterations run.
        iterations: u64,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The `--diff` file is not folded stacks.
    #[error("{}: line {line} is not a folded stack (`frame;frame;... count`): {text:?}", path.display())]
    NotFolded {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The line (cut to 200 characters).
        text: String,
    },
    /// The `--diff` file holds no stacks.
    #[error("{}: no folded stacks in it", path.display())]
    EmptyFolded {
        /// The file.
        path: PathBuf,
    },
    /// inferno could not draw a flamegraph.
    #[error("drawing {}: {source}", path.display())]
    Draw {
        /// The SVG being drawn.
        path: PathBuf,
        /// inferno's error.
        #[source]
        source: io::Error,
    },
}

/// `otlp-lab flame`: reads the `--diff` file first (a bad one fails before
/// the run), samples, writes the files, prints progress on stderr and the
/// summary on stdout.
pub fn flame(job: Job, config: &FlameConfig, diff: Option<&Path>, out: &Path) -> Result<FlameRun, FlameError> {
    let saved = diff.map(read_folded).transpose()?;
    fs::create_dir_all(out).map_err(|source| FlameError::Io { path: out.to_owned(), source })?;
    let run = sample(job, config, &mut |line| eprintln!("otlp-lab flame: {line}"))?;
    let written = run.write(out, saved.as_ref().zip(diff))?;
    print!("{}", run.summary_text());
    for p in written {
        eprintln!("otlp-lab flame: wrote {}", p.display());
    }
    Ok(run)
}
