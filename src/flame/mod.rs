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

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pprof::protos::Message;

use crate::Job;
use crate::scenarios::{ScenarioError, ScenarioParams};

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

/// How many functions the summary and the JSON's `top` list.
const TOP: usize = 15;

/// How often the run reports its progress on stderr.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// The crates whose functions are ours, as a demangled name starts: the
/// pipeline (the data path) and the lab (its harness and scenarios).
const OURS: &[&str] = &[DATA_PATH, "otlp_lab::"];

/// The library's data path: every function of the pipeline crate.
const DATA_PATH: &str = "otlp_pipeline::";

/// The flame runner's own frames, under every sample: left out of the
/// by-total ranking, where they would fill the top at 100%.
const HARNESS: &[&str] = &[
    "otlp_lab::main",
    "otlp_lab::run",
    "otlp_lab::flame::",
    "otlp_lab::PreparedJob::run",
    "otlp_lab::scenarios::PreparedScenario::run",
];

/// Outermost functions of a complete stack: the process's entry point or a
/// thread's start routine.
const ROOTS: &[&str] = &["_start", "clone", "clone3", "__clone", "__clone3", "start_thread"];

/// Leaf or caller names that mean "in the allocator": the C allocator's
/// entry points and Rust's global-allocator shims (glibc's internal
/// `_int_malloc` has no exported symbol here and shows below `malloc`).
const ALLOCATOR: &[&str] = &[
    "malloc",
    "free",
    "realloc",
    "calloc",
    "cfree",
    "posix_memalign",
    "aligned_alloc",
    "memalign",
    "__libc_malloc",
    "__libc_free",
    "__libc_realloc",
    "__libc_calloc",
    "_int_malloc",
    "_int_free",
    "_int_realloc",
    "malloc_consolidate",
    "__rust_alloc",
    "__rust_dealloc",
    "__rust_realloc",
    "__rust_alloc_zeroed",
    "__rdl_alloc",
    "__rdl_dealloc",
    "__rdl_realloc",
    "__rdl_alloc_zeroed",
];

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

/// One sampled stack, as pprof resolved it, with its sample count.
#[derive(Clone, Debug, PartialEq)]
pub struct Stack {
    /// Thread name (or id when the thread has no name).
    pub thread: String,
    /// Frames, innermost first; each frame's functions innermost first
    /// (more than one when functions were inlined into it).
    pub frames: Vec<Vec<String>>,
    /// Whether the sample landed in a [`BLOCKLIST`] object (libc, libgcc,
    /// the vDSO), where the blocklist drops samples.
    pub leaf_in_blocklist: bool,
    /// Samples of this stack.
    pub count: u64,
}

impl Stack {
    /// Functions from innermost to outermost (inlined ones included).
    fn functions(&self) -> impl Iterator<Item = &str> {
        self.frames.iter().flatten().map(String::as_str)
    }

    /// The folded form, without the count: `thread;outermost;...;innermost`.
    fn folded(&self) -> String {
        let mut line = sanitize(&self.thread);
        for f in self.frames.iter().rev().flat_map(|frame| frame.iter().rev()) {
            line.push(';');
            line.push_str(&sanitize(f));
        }
        line
    }
}

/// Folded stacks (`thread;outermost;...;innermost` → samples), sorted, as
/// inferno reads them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Folded(BTreeMap<String, u64>);

impl Folded {
    /// Folds resolved stacks (equal stacks of threads with the same name merge).
    pub fn from_stacks(stacks: &[Stack]) -> Folded {
        let mut map = BTreeMap::new();
        for s in stacks {
            *map.entry(s.folded()).or_insert(0) += s.count;
        }
        Folded(map)
    }

    /// Parses folded-stack text (blank lines are skipped).
    pub fn parse(text: &str) -> Result<Folded, (usize, String)> {
        let mut map = BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end();
            if line.is_empty() {
                continue;
            }
            let bad = || (i + 1, line.chars().take(200).collect::<String>());
            let (stack, count) = line.rsplit_once(' ').ok_or_else(bad)?;
            let count: u64 = count.parse().map_err(|_| bad())?;
            if stack.is_empty() {
                return Err(bad());
            }
            *map.entry(stack.to_owned()).or_insert(0) += count;
        }
        Ok(Folded(map))
    }

    /// Total samples.
    pub fn samples(&self) -> u64 {
        self.0.values().sum()
    }

    /// Whether it holds no stack.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Its lines, `stack count`, sorted.
    pub fn lines(&self) -> Vec<String> {
        self.0.iter().map(|(stack, n)| format!("{stack} {n}")).collect()
    }
}

impl fmt::Display for Folded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (stack, n) in &self.0 {
            writeln!(f, "{stack} {n}")?;
        }
        Ok(())
    }
}

/// `;` separates frames and a line's last space its count: keep both out of
/// names (Rust names hold `;` in array types such as `[u8; 16]`).
fn sanitize(name: &str) -> String {
    name.replace(';', ":").replace(['\n', '\r'], " ")
}

/// One function's share of the samples.
#[derive(Clone, Debug, PartialEq)]
pub struct FunctionShare {
    /// Demangled name, without the hash.
    pub function: String,
    /// Percent of samples in which it is the innermost function.
    pub self_pct: f64,
    /// Percent of samples in which it is on the stack.
    pub total_pct: f64,
}

/// What the samples say, beside the flamegraph itself.
#[derive(Clone, Debug, PartialEq)]
pub struct Analysis {
    /// Samples in all.
    pub samples: u64,
    /// Thread names that were sampled, sorted.
    pub threads: Vec<String>,
    /// This crate's functions, most self samples first.
    pub ours_by_self: Vec<FunctionShare>,
    /// This crate's functions, most total samples first.
    pub ours_by_total: Vec<FunctionShare>,
    /// Any function, most self samples first.
    pub any_by_self: Vec<FunctionShare>,
    /// Percent of samples with a function of this crate on the stack
    /// (the CLI's `otlp_lab::main` included, so about 100% whenever stacks reach the root).
    pub crate_pct: f64,
    /// Percent of samples with a data-path function (encode, compress,
    /// transport, ...) on the stack: see [`is_data_path`].
    pub data_path_pct: f64,
    /// Percent of samples whose outermost frame is the entry point or a
    /// thread start (the stack was unwound completely).
    pub rooted_pct: f64,
    /// Percent of samples in the allocator (an [`ALLOCATOR`] function on the stack).
    pub allocator_pct: f64,
    /// Percent of samples whose innermost function is a `mem*` routine (copy, move, set, compare).
    pub memory_pct: f64,
    /// Percent of samples whose innermost frame lies in a [`BLOCKLIST`]
    /// object: what the blocklist drops (zero when it was on).
    pub libc_leaf_pct: f64,
    /// Percent of samples with at least one frame that resolved to several (inlined) functions.
    pub inlined_pct: f64,
    /// Percent of samples with an unresolved frame (`Unknown`).
    pub unknown_pct: f64,
    /// Percent of samples whose stack filled pprof's depth limit (outer frames lost).
    pub truncated_pct: f64,
}

/// Whether a demangled name is a function of this crate: its path, or the
/// type or trait of an `<T as Trait>::f` impl, is ours. Generic std code
/// instantiated with our types (`Vec<otlp_lab::..>::push`, drop glue) is not.
pub fn is_ours(name: &str) -> bool {
    our_path(name).is_some()
}

/// A function of the library's data path (encode, compress, transport, ...), not of the lab or the CLI.
pub fn is_data_path(name: &str) -> bool {
    our_path(name).is_some_and(|p| p.starts_with(DATA_PATH))
}

fn is_harness(name: &str) -> bool {
    our_path(name).is_some_and(|p| HARNESS.iter().any(|h| if h.ends_with("::") { p.starts_with(h) } else { p == *h }))
}

/// The path of a function of ours, crate first (of its type or trait for an impl).
fn our_path(name: &str) -> Option<&str> {
    if OURS.iter().any(|c| name.starts_with(c)) {
        return Some(name);
    }
    let rest = name.strip_prefix('<')?;
    // The qualified self `<T as Trait>`: up to its matching `>`.
    let mut depth = 1usize;
    let mut end = rest.len();
    for (i, c) in rest.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => {
                depth -= 1;
                if depth == 0 {
                    end = i;
                    break;
                }
            }
            _ => {}
        }
    }
    let inner = &rest[..end];
    fn ours(s: &str) -> Option<&str> {
        let s = s.trim_start_matches('&').trim_start_matches("mut ");
        OURS.iter().any(|c| s.starts_with(c)).then_some(s)
    }
    ours(inner).or_else(|| inner.rsplit_once(" as ").and_then(|(_, tr)| ours(tr)))
}

/// Drops a legacy-mangling hash (`::h0123456789abcdef`) from a demangled name.
fn strip_hash(name: &str) -> &str {
    match name.rsplit_once("::h") {
        Some((head, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => head,
        _ => name,
    }
}

fn is_memory_routine(name: &str) -> bool {
    let n = name.trim_start_matches('_');
    ["memcpy", "memmove", "memset", "memcmp", "bcmp"].iter().any(|m| n.starts_with(m))
}

/// Percent, 0 when there is nothing to divide.
fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { 100.0 * part as f64 / whole as f64 }
}

/// Shares, tallies and stack-quality figures of resolved stacks.
pub fn analyze(stacks: &[Stack]) -> Analysis {
    let samples: u64 = stacks.iter().map(|s| s.count).sum();
    let mut self_n: HashMap<&str, u64> = HashMap::new();
    let mut total_n: HashMap<&str, u64> = HashMap::new();
    let mut threads = BTreeSet::new();
    let (mut ours, mut data_path, mut rooted) = (0, 0, 0);
    let (mut alloc, mut memory, mut libc, mut inlined, mut unknown, mut truncated) = (0, 0, 0, 0, 0, 0);
    for s in stacks {
        threads.insert(s.thread.clone());
        let names: Vec<&str> = s.functions().map(strip_hash).collect();
        if let Some(leaf) = names.first() {
            *self_n.entry(leaf).or_insert(0) += s.count;
            if is_memory_routine(leaf) {
                memory += s.count;
            }
        }
        let distinct: BTreeSet<&str> = names.iter().copied().collect();
        for f in &distinct {
            *total_n.entry(f).or_insert(0) += s.count;
        }
        let tally = |cond: bool, n: &mut u64| {
            if cond {
                *n += s.count
            }
        };
        tally(distinct.iter().any(|f| is_ours(f)), &mut ours);
        tally(distinct.iter().any(|f| is_data_path(f)), &mut data_path);
        tally(names.last().is_some_and(|f| ROOTS.contains(f)), &mut rooted);
        tally(distinct.iter().any(|f| ALLOCATOR.contains(f)), &mut alloc);
        tally(s.leaf_in_blocklist, &mut libc);
        tally(s.frames.iter().any(|f| f.len() > 1), &mut inlined);
        tally(distinct.contains("Unknown"), &mut unknown);
        tally(s.frames.len() >= pprof::MAX_DEPTH, &mut truncated);
    }
    let share = |f: &str| FunctionShare {
        function: f.to_owned(),
        self_pct: pct(self_n.get(f).copied().unwrap_or(0), samples),
        total_pct: pct(total_n.get(f).copied().unwrap_or(0), samples),
    };
    let ranked = |by: &HashMap<&str, u64>, keep: &dyn Fn(&str) -> bool| {
        let mut v: Vec<(&str, u64)> = by.iter().filter(|(f, _)| keep(f)).map(|(f, n)| (*f, *n)).collect();
        // Most samples first; names break ties so that output is stable.
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v.into_iter().take(TOP).map(|(f, _)| share(f)).collect::<Vec<_>>()
    };
    Analysis {
        samples,
        threads: threads.into_iter().collect(),
        ours_by_self: ranked(&self_n, &is_ours),
        ours_by_total: ranked(&total_n, &|f| is_ours(f) && !is_harness(f)),
        any_by_self: ranked(&self_n, &|_| true),
        crate_pct: pct(ours, samples),
        data_path_pct: pct(data_path, samples),
        rooted_pct: pct(rooted, samples),
        allocator_pct: pct(alloc, samples),
        memory_pct: pct(memory, samples),
        libc_leaf_pct: pct(libc, samples),
        inlined_pct: pct(inlined, samples),
        unknown_pct: pct(unknown, samples),
        truncated_pct: pct(truncated, samples),
    }
}

/// Address ranges of the loaded objects whose file name holds a
/// [`BLOCKLIST`] entry, from `/proc/self/maps`: the test pprof applies to its
/// list of shared libraries.
fn blocklisted_ranges() -> Vec<(usize, usize)> {
    let Ok(maps) = fs::read_to_string("/proc/self/maps") else { return Vec::new() };
    maps.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let range = fields.next()?;
            let path = fields.nth(4)?;
            let file = path.rsplit('/').next().unwrap_or(path);
            if !BLOCKLIST.iter().any(|b| file.contains(b)) {
                return None;
            }
            let (a, b) = range.split_once('-')?;
            Some((usize::from_str_radix(a, 16).ok()?, usize::from_str_radix(b, 16).ok()?))
        })
        .collect()
}

/// The interrupted program counter of a raw stack, given which addresses lie
/// in blocklisted objects: pprof's unwind starts in its signal handler (our
/// binary), then passes the signal trampoline (libc's `__restore_rt`); the
/// frame after that is where the signal landed.
fn interrupted_ip(ips: &[usize], blocklisted: impl Fn(usize) -> bool) -> Option<usize> {
    let trampoline = ips.iter().position(|&ip| blocklisted(ip)).filter(|&i| i > 0)?;
    ips.get(trampoline + 1).copied()
}

/// Symbolizes pprof's raw stacks: the report for the `.pb` and our [`Stack`]s
/// (resolved once; the raw addresses tell where each sample landed, which
/// the resolved names of a stripped-and-debug-linked libc do not).
fn resolve(unresolved: &pprof::UnresolvedReport) -> (pprof::Report, Vec<Stack>) {
    let ranges = blocklisted_ranges();
    let blocklisted = |ip: usize| ranges.iter().any(|&(a, b)| ip >= a && ip < b);
    let mut data: HashMap<pprof::Frames, isize> = HashMap::new();
    let mut stacks = Vec::with_capacity(unresolved.data.len());
    for (raw, &n) in unresolved.data.iter().filter(|(_, n)| **n > 0) {
        let ips: Vec<usize> = raw.frames.iter().map(|f| f.ip() as usize).collect();
        let frames = pprof::Frames::from(raw.clone());
        stacks.push(Stack {
            thread: frames.thread_name_or_id(),
            frames: frames.frames.iter().map(|f| f.iter().map(|s| s.name()).collect()).collect(),
            leaf_in_blocklist: interrupted_ip(&ips, blocklisted).is_some_and(blocklisted),
            count: n as u64,
        });
        *data.entry(frames).or_insert(0) += n;
    }
    (pprof::Report { data, timing: unresolved.timing.clone() }, stacks)
}

/// CPU time of this process so far (user + system, every thread), from
/// `/proc/self/stat` (fields 14 and 15, in USER_HZ ticks: 100 per second on
/// Linux whatever the kernel tick); `None` where there is no procfs.
fn process_cpu_time() -> Option<Duration> {
    let stat = fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces: count fields after its `)`.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// A finished flame run.
pub struct FlameRun {
    /// The job sampled.
    pub job: Job,
    /// How it was sampled.
    pub config: FlameConfig,
    /// Wall time sampled.
    pub elapsed: Duration,
    /// Iterations of the job run while sampling.
    pub iterations: u64,
    /// CPU time the process used while sampling (every thread), when procfs tells.
    pub cpu: Option<Duration>,
    /// The resolved stacks.
    pub stacks: Vec<Stack>,
    /// The same, folded.
    pub folded: Folded,
    /// What they say.
    pub analysis: Analysis,
    /// The pprof protobuf, encoded.
    pub pprof: Vec<u8>,
}

impl fmt::Debug for FlameRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlameRun")
            .field("job", &self.job)
            .field("elapsed", &self.elapsed)
            .field("iterations", &self.iterations)
            .field("samples", &self.analysis.samples)
            .finish_non_exhaustive()
    }
}

/// Prepares `job`, samples it for `config.duration` (or up to
/// `config.max_iterations` runs) and resolves the stacks; `progress` gets
/// one line at the start and every few seconds.
pub fn sample(job: Job, config: &FlameConfig, progress: &mut dyn FnMut(&str)) -> Result<FlameRun, FlameError> {
    // sustained_load is paced by the clock: one run fills the sampling window.
    let params = ScenarioParams { duration: config.duration, scale: config.scale };
    let mut prepared = job.prepare(&params).map_err(|source| FlameError::Job { job, source })?;
    let frequency = i32::try_from(config.frequency_hz).unwrap_or(i32::MAX).max(1);
    progress(&format!(
        "sampling {job} ({}) for {:.1} s or {} iterations at {frequency} Hz asked (the kernel tick caps it near 250 Hz \
         per busy CPU), every thread, libc blocklist {}",
        job.kind(),
        config.duration.as_secs_f64(),
        config.max_iterations,
        if config.blocklist { "on" } else { "off" }
    ));
    let mut builder = pprof::ProfilerGuardBuilder::default().frequency(frequency);
    if config.blocklist {
        builder = builder.blocklist(&BLOCKLIST);
    }
    let guard = builder.build()?;
    let cpu_start = process_cpu_time();
    let start = Instant::now();
    let mut iterations = 0u64;
    let mut next_report = PROGRESS_EVERY;
    while iterations < config.max_iterations && start.elapsed() < config.duration {
        prepared.run().map_err(|source| FlameError::Job { job, source })?;
        iterations += 1;
        let t = start.elapsed();
        if t >= next_report && t < config.duration {
            progress(&format!("  {:.0} s: {iterations} iterations", t.as_secs_f64()));
            next_report += PROGRESS_EVERY;
        }
    }
    let elapsed = start.elapsed();
    let cpu = process_cpu_time().zip(cpu_start).map(|(end, start)| end.saturating_sub(start));
    let unresolved = guard.report().build_unresolved()?;
    drop(guard);
    let (report, stacks) = resolve(&unresolved);
    let analysis = analyze(&stacks);
    if analysis.samples == 0 {
        return Err(FlameError::NoSamples { job, secs: elapsed.as_secs_f64(), iterations });
    }
    let pprof = report.pprof()?.encode_to_vec();
    let folded = Folded::from_stacks(&stacks);
    Ok(FlameRun { job, config: config.clone(), elapsed, iterations, cpu, stacks, folded, analysis, pprof })
}

/// Reads and checks a saved `.folded` file (for `--diff`).
pub fn read_folded(path: &Path) -> Result<Folded, FlameError> {
    let text = fs::read_to_string(path).map_err(|source| FlameError::Io { path: path.to_owned(), source })?;
    let folded =
        Folded::parse(&text).map_err(|(line, text)| FlameError::NotFolded { path: path.to_owned(), line, text })?;
    if folded.is_empty() {
        return Err(FlameError::EmptyFolded { path: path.to_owned() });
    }
    Ok(folded)
}

impl FlameRun {
    /// Samples per wall-clock second (per busy CPU, at most about the kernel tick).
    pub fn effective_hz(&self) -> f64 {
        self.analysis.samples as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Samples per CPU second: the sampler's real rate (about the kernel
    /// tick when nothing is dropped; lower by the share the blocklist drops).
    pub fn samples_per_cpu_s(&self) -> Option<f64> {
        self.cpu.filter(|c| !c.is_zero()).map(|c| self.analysis.samples as f64 / c.as_secs_f64())
    }

    /// The flamegraph's title.
    fn title(&self) -> String {
        format!(
            "{}: {} samples at {} Hz asked, libc blocklist {}",
            self.job,
            self.analysis.samples,
            self.config.frequency_hz,
            if self.config.blocklist { "on" } else { "off" }
        )
    }

    fn subtitle(&self) -> String {
        format!(
            "{} iterations in {:.1} s ({:.0} samples/s); threads: {}",
            self.iterations,
            self.elapsed.as_secs_f64(),
            self.effective_hz(),
            self.analysis.threads.join(", ")
        )
    }

    /// The interactive SVG.
    pub fn svg(&self, path: &Path) -> Result<Vec<u8>, FlameError> {
        let mut opt = inferno::flamegraph::Options::default();
        opt.title = self.title();
        opt.subtitle = Some(self.subtitle());
        opt.count_name = "samples".into();
        let lines = self.folded.lines();
        let mut svg = Vec::new();
        inferno::flamegraph::from_lines(&mut opt, lines.iter().map(String::as_str), &mut svg)
            .map_err(|source| FlameError::Draw { path: path.to_owned(), source })?;
        Ok(svg)
    }

    /// The differential SVG against a saved run's folded stacks.
    pub fn diff_svg(&self, saved: &Folded, saved_name: &str, path: &Path) -> Result<Vec<u8>, FlameError> {
        let draw = |source| FlameError::Draw { path: path.to_owned(), source };
        let mut diff = Vec::new();
        // Normalized: a saved run of another length or machine load would
        // otherwise turn everything red or blue.
        let opt = inferno::differential::Options { normalize: true, strip_hex: false };
        inferno::differential::from_readers(
            opt,
            saved.to_string().as_bytes(),
            self.folded.to_string().as_bytes(),
            &mut diff,
        )
        .map_err(draw)?;
        let text = String::from_utf8_lossy(&diff);
        let mut lines: Vec<&str> = text.lines().collect();
        lines.sort_unstable();
        let mut opt = inferno::flamegraph::Options::default();
        opt.title = format!("{} vs {saved_name}", self.title());
        opt.subtitle = Some(format!(
            "widths: this run; red: more samples than in {saved_name} ({} samples, scaled to this run's total), blue: fewer",
            saved.samples()
        ));
        opt.count_name = "samples".into();
        let mut svg = Vec::new();
        inferno::flamegraph::from_lines(&mut opt, lines, &mut svg).map_err(draw)?;
        Ok(svg)
    }

    /// The summary of `/work/contracts.md`, with the stack-quality figures.
    pub fn summary_json(&self) -> serde_json::Value {
        let a = &self.analysis;
        let list = |v: &[FunctionShare]| {
            v.iter()
                .map(|f| {
                    serde_json::json!({
                        "function": f.function,
                        "self_pct": round2(f.self_pct),
                        "total_pct": round2(f.total_pct),
                    })
                })
                .collect::<Vec<_>>()
        };
        serde_json::json!({
            "name": self.job.name(),
            "samples": a.samples,
            "frequency_hz": self.config.frequency_hz,
            "duration_s": round2(self.elapsed.as_secs_f64()),
            "iterations": self.iterations,
            "blocklist": self.config.blocklist,
            "threads": a.threads,
            "top": list(&a.ours_by_self),
            "top_total": list(&a.ours_by_total),
            "top_any_self": list(&a.any_by_self),
            "effective_hz": round2(self.effective_hz()),
            "cpu_s": self.cpu.map(|c| round2(c.as_secs_f64())),
            "samples_per_cpu_s": self.samples_per_cpu_s().map(round2),
            "scale": self.config.scale,
            "crate_pct": round2(a.crate_pct),
            "data_path_pct": round2(a.data_path_pct),
            "rooted_pct": round2(a.rooted_pct),
            "allocator_pct": round2(a.allocator_pct),
            "memory_pct": round2(a.memory_pct),
            "libc_leaf_pct": round2(a.libc_leaf_pct),
            "inlined_pct": round2(a.inlined_pct),
            "unknown_pct": round2(a.unknown_pct),
            "truncated_pct": round2(a.truncated_pct),
        })
    }

    /// The summary for a terminal.
    pub fn summary_text(&self) -> String {
        use std::fmt::Write;
        let a = &self.analysis;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{}: {} samples in {:.1} s ({:.0}/s, {} Hz asked), {} iterations, libc blocklist {}; threads: {}",
            self.job,
            a.samples,
            self.elapsed.as_secs_f64(),
            self.effective_hz(),
            self.config.frequency_hz,
            self.iterations,
            if self.config.blocklist { "on" } else { "off" },
            a.threads.join(", ")
        );
        let _ = writeln!(
            s,
            "stacks: {:.1}% unwound to the root, {:.1}% with an otlp_lab frame, {:.1}% with a data-path frame (encode, \
             compress, transport, ...), {:.1}% with inlined frames resolved, {:.1}% with an unresolved frame, {:.1}% cut at \
             depth {}",
            a.rooted_pct,
            a.crate_pct,
            a.data_path_pct,
            a.inlined_pct,
            a.unknown_pct,
            a.truncated_pct,
            pprof::MAX_DEPTH
        );
        if let (Some(cpu), Some(rate)) = (self.cpu, self.samples_per_cpu_s()) {
            let _ = writeln!(
                s,
                "process CPU {:.1} s while sampling: {rate:.0} samples per CPU second (the tick rate when no sample is dropped)",
                cpu.as_secs_f64()
            );
        }
        let _ = writeln!(
            s,
            "allocator {:.1}%, mem* leaf {:.1}%, leaf in libc/libgcc/pthread/vdso {:.1}% (what the blocklist drops)",
            a.allocator_pct, a.memory_pct, a.libc_leaf_pct
        );
        let table = |s: &mut String, title: &str, v: &[FunctionShare]| {
            let _ = writeln!(s, "{title}\n  {:>6} {:>6}  function", "self%", "total%");
            for f in v.iter().take(10) {
                let _ = writeln!(s, "  {:>6.1} {:>6.1}  {}", f.self_pct, f.total_pct, f.function);
            }
        };
        table(&mut s, "our functions by self share:", &a.ours_by_self);
        table(&mut s, "our functions by total share:", &a.ours_by_total);
        table(&mut s, "any function by self share:", &a.any_by_self);
        s
    }

    /// Writes `<name>.svg`, `.pb`, `.folded`, `.json` (and `<name>-diff.svg`
    /// given a saved run) into `dir`; returns the paths written.
    pub fn write(&self, dir: &Path, diff: Option<(&Folded, &Path)>) -> Result<Vec<PathBuf>, FlameError> {
        let io_err = |path: &Path| {
            let path = path.to_owned();
            move |source| FlameError::Io { path, source }
        };
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let name = self.job.name();
        let file = |ext: &str| dir.join(format!("{name}{ext}"));
        let mut written = Vec::new();
        let mut put = |path: PathBuf, bytes: &[u8]| -> Result<(), FlameError> {
            fs::write(&path, bytes).map_err(io_err(&path))?;
            written.push(path);
            Ok(())
        };
        let svg = file(".svg");
        put(svg.clone(), &self.svg(&svg)?)?;
        put(file(".pb"), &self.pprof)?;
        put(file(".folded"), self.folded.to_string().as_bytes())?;
        let json = serde_json::to_string_pretty(&self.summary_json()).expect("a JSON value serializes");
        put(file(".json"), format!("{json}\n").as_bytes())?;
        if let Some((saved, saved_path)) = diff {
            let path = file("-diff.svg");
            let saved_name = saved_path
                .file_name()
                .map_or_else(|| saved_path.display().to_string(), |n| n.to_string_lossy().into_owned());
            put(path.clone(), &self.diff_svg(saved, &saved_name, &path)?)?;
        }
        Ok(written)
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
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

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(thread: &str, frames: &[&[&str]], libc: bool, count: u64) -> Stack {
        Stack {
            thread: thread.into(),
            frames: frames.iter().map(|f| f.iter().map(|s| s.to_string()).collect()).collect(),
            leaf_in_blocklist: libc,
            count,
        }
    }

    #[test]
    fn ours_means_our_path_or_our_impl() {
        assert!(is_ours("otlp_pipeline::encode::direct::encode_traces"));
        assert!(is_ours("<otlp_pipeline::compress::Compressor as core::fmt::Debug>::fmt"));
        assert!(is_ours("<alloc::vec::Vec<u8> as otlp_pipeline::encode::direct::Sink>::put"));
        assert!(is_ours("<&mut otlp_pipeline::model::Span as core::clone::Clone>::clone"));
        assert!(!is_ours("core::ptr::drop_in_place<otlp_pipeline::model::Span>"));
        assert!(!is_ours("<alloc::vec::Vec<otlp_pipeline::model::Span> as core::clone::Clone>::clone"));
        assert!(!is_ours("malloc"));
        assert!(is_data_path("<otlp_pipeline::transport::http::Client as core::ops::Drop>::drop"));
        assert!(!is_data_path("otlp_lab::scenarios::Cpu::run"));
        assert!(is_harness("otlp_lab::main") && is_harness("otlp_lab::flame::sample"));
        assert!(!is_harness("otlp_lab::scenarios::Cpu::run"));
    }

    #[test]
    fn folds_outermost_first_and_counts_self_and_total() {
        // Innermost first, as pprof gives them; `b` inlined into `a`'s frame.
        let stacks = vec![
            stack("main", &[&["malloc"], &["__rust_alloc"], &["otlp_lab::b", "otlp_lab::a"], &["_start"]], true, 3),
            stack("main", &[&["otlp_pipeline::encode::b", "otlp_lab::a"], &["otlp_lab::main"]], false, 5),
            stack("tokio-runtime-w", &[&["memcpy"], &["Unknown"]], true, 2),
        ];
        let folded = Folded::from_stacks(&stacks);
        assert_eq!(
            folded.to_string(),
            "main;_start;otlp_lab::a;otlp_lab::b;__rust_alloc;malloc 3\nmain;otlp_lab::main;otlp_lab::a;otlp_pipeline::encode::b 5\n\
             tokio-runtime-w;Unknown;memcpy 2\n"
        );
        assert_eq!(Folded::parse(&folded.to_string()), Ok(folded.clone()));
        let a = analyze(&stacks);
        assert_eq!(a.samples, 10);
        assert_eq!(a.threads, ["main", "tokio-runtime-w"]);
        assert_eq!(a.crate_pct, 80.0);
        assert_eq!(a.data_path_pct, 50.0);
        assert_eq!(a.rooted_pct, 30.0);
        assert_eq!(a.allocator_pct, 30.0);
        assert_eq!(a.memory_pct, 20.0);
        assert_eq!(a.libc_leaf_pct, 50.0);
        assert_eq!(a.inlined_pct, 80.0);
        assert_eq!(a.unknown_pct, 20.0);
        assert_eq!(
            a.ours_by_self,
            [FunctionShare { function: "otlp_pipeline::encode::b".into(), self_pct: 50.0, total_pct: 50.0 }]
        );
        // The CLI's own frame (otlp_lab::main) is left out of the by-total ranking.
        let by_total: Vec<(&str, f64)> = a.ours_by_total.iter().map(|f| (f.function.as_str(), f.total_pct)).collect();
        assert_eq!(by_total, [("otlp_lab::a", 80.0), ("otlp_pipeline::encode::b", 50.0), ("otlp_lab::b", 30.0)]);
        assert_eq!(a.any_by_self[0].function, "otlp_pipeline::encode::b");
    }

    #[test]
    fn names_lose_hashes_and_separators() {
        assert_eq!(strip_hash("otlp_pipeline::encode::f::h0123456789abcdef"), "otlp_pipeline::encode::f");
        assert_eq!(strip_hash("otlp_pipeline::encode::hash"), "otlp_pipeline::encode::hash");
        let s = stack("t", &[&["f<[u8; 16]>"]], false, 1);
        assert_eq!(Folded::from_stacks(&[s]).lines(), ["t;f<[u8: 16]> 1"]);
    }

    #[test]
    fn the_interrupted_frame_follows_the_signal_trampoline() {
        let libc = |ip: usize| (0x7000..0x8000).contains(&ip);
        // handler (ours), trampoline (libc), then malloc (libc) or our code.
        assert_eq!(interrupted_ip(&[0x100, 0x7050, 0x7300, 0x200], libc), Some(0x7300));
        assert_eq!(interrupted_ip(&[0x100, 0x7050, 0x300, 0x200], libc), Some(0x300));
        // No trampoline, or nothing after it: unknown.
        assert_eq!(interrupted_ip(&[0x100, 0x300], libc), None);
        assert_eq!(interrupted_ip(&[0x7050, 0x300], libc), None);
        assert_eq!(interrupted_ip(&[0x100, 0x7050], libc), None);
    }

    #[test]
    fn bad_folded_lines_are_named() {
        assert_eq!(Folded::parse("a;b 3\n\nc 1\n").map(|f| f.samples()), Ok(4));
        assert_eq!(Folded::parse("a;b 3\nno count here\n"), Err((2, "no count here".into())));
        assert_eq!(Folded::parse(" 3\n"), Err((1, " 3".into())));
    }
}
