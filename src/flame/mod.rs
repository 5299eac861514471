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
//! - `<name>.json`: the summary (samples, iterations, threads, our top functions by self and total
//!   share) plus the stack-quality figures of [`Analysis`]; `flamegraphs/README.md` lists its fields;
//! - `<name>-diff.svg` with `--diff SAVED.folded`: a differential flamegraph of this run against
//!   the saved one (widths from this run, red where it has more samples, blue where fewer; the
//!   saved run is scaled to this run's total first).
//!
//! # Defaults, and why
//!
//! Each default rests on a figure of the `<name>.json` of a few flame runs of
//! `cpu_intensive` and `production_workload`; `flamegraphs/README.md` gives
//! the figures, the commands that reproduce them and when they were measured.
//!
//! - **Frequency 250 Hz.** The kernel tick caps SIGPROF at about one sample per tick of a busy CPU
//!   (`samples_per_cpu_s` stays at the tick rate however much more is asked). Asking for more
//!   gains nothing and makes the `.pb`'s CPU time wrong, since pprof converts samples with the
//!   asked frequency.
//! - **Duration 20 s.** At the capped rate that gives some thousands of samples per busy CPU,
//!   enough to rank functions of a few percent; on a machine shared with other work, about half.
//! - **Blocklist off.** A workload that allocates and copies, such as production_workload, lands
//!   a large share of its samples in libc (`libc_leaf_pct`): the allocator (`allocator_pct`),
//!   `mem*` routines (`memory_pct`) and the socket calls. The blocklist drops those samples
//!   (`samples_per_cpu_s` falls by that share) and its flamegraph then shows no allocator at all,
//!   while a job that barely touches libc, such as cpu_intensive, loses next to nothing. Hiding
//!   that much of the production workload's cost is worse than the risk the blocklist guards
//!   against (unwinding from inside libc in a signal handler): glibc from 2.35 with libgcc from 12
//!   find unwind tables with `_dl_find_object`, which takes no lock, and no run without the
//!   blocklist hung. `--blocklist` turns it on.
//! - **No frame pointers.** pprof unwinds with libgcc's DWARF unwinder (`.eh_frame`), and the
//!   release profile carries debug info: stacks reach `_start` or a thread's start (`rooted_pct`),
//!   inlined functions resolve as their own frames (`inlined_pct`), unresolved frames
//!   (`unknown_pct`) and stacks cut at pprof's depth limit (`truncated_pct`) are all but absent,
//!   and data-path frames such as `otlp_pipeline::encode::direct::RevWriter::span` show under
//!   nearly every sample of a data-path job (`data_path_pct`). Frame pointers would add nothing
//!   to that, so the build does not force them.

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
pub(crate) use fold::sanitize;
pub use fold::{Folded, Stack, read_folded};
pub use sample::{FlameRun, sample};
pub use write::FlameSummary;
pub(crate) use write::{Labels, differential_svg, flamegraph_svg};

/// The blocklist pprof-rs's documentation recommends: a sample whose program
/// counter lies in one of these objects is dropped before it is unwound.
pub const BLOCKLIST: [&str; 4] = ["libc", "libgcc", "pthread", "vdso"];

/// Asked sampling frequency: the kernel tick (`CONFIG_HZ`, 250 on the lab's
/// kernels) caps what SIGPROF delivers per CPU, and pprof converts samples to
/// CPU time with the asked frequency, so asking for more than the tick only
/// makes the `.pb`'s CPU seconds wrong.
pub const DEFAULT_FREQUENCY_HZ: u32 = 250;

/// Sampling time: at the capped rate, one busy CPU gives 250 × 20 = 5,000
/// samples in this long, a machine shared with other work fewer (see the
/// module doc).
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
