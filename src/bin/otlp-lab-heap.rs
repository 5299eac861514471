//! `otlp-lab-heap`: the lab's heap profiler. A binary of its own because it
//! installs dhat's global allocator, which takes a lock on every allocation:
//! too slow for the main CLI's load runs. One job per process (dhat allows one
//! profiler per process and its counts are process-wide); `pool` and `audit`
//! run this binary again for each measurement. `otlp-lab heap|pool|audit`
//! forward here.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use otlp_lab::Job;
use otlp_lab::heap::fold::{AllocFlameError, DhatProfile, write_flamegraphs};
use otlp_lab::heap::{AuditCheck, AuditFile, PipelineOwn, PoolFile, PoolRow, PoolSetting};
use otlp_lab::scenarios::ScenarioParams;
use otlp_lab::workloads::Workload;

mod heap_alloc {
    //! dhat's allocator, wrapped to count allocation sizes (power-of-two
    //! classes) and block lifetimes while a measurement is recording. The
    //! counters are plain atomics: nothing here allocates.

    use std::alloc::{GlobalAlloc, Layout};
    use std::cell::Cell;
    use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};

    thread_local! {
        /// Calls into dhat in progress on this thread: dhat allocates for its
        /// own bookkeeping (backtraces) through this allocator, and those
        /// nested calls, which dhat itself ignores, must not be counted.
        static DEPTH: Cell<u32> = const { Cell::new(0) };
    }

    /// Runs `f` (a call into dhat) and says whether this call is the job's
    /// own (not nested inside dhat's bookkeeping).
    fn outer<R>(f: impl FnOnce() -> R) -> (R, bool) {
        let depth = DEPTH.with(|d| {
            let v = d.get();
            d.set(v + 1);
            v
        });
        let r = f();
        DEPTH.with(|d| d.set(depth));
        (r, depth == 0)
    }

    /// Size classes: `[0, 16)`, `[16, 32)`, ... `[2^30, ∞)`.
    pub const CLASSES: usize = 28;
    /// Slots of the live-block table used for lifetimes; more live blocks
    /// than this (within one measurement) are counted as untracked.
    const SLOTS: usize = 1 << 16;
    /// How far an insert or lookup probes before giving up.
    const PROBE: usize = 64;

    /// Set while the measured runs go on: only their blocks are counted.
    pub static RECORDING: AtomicBool = AtomicBool::new(false);
    /// The run a block was born in is compared with this: freed in the same
    /// run is short-lived, still live when its run ends is long-lived.
    pub static RUN: AtomicU64 = AtomicU64::new(1);
    /// Blocks allocated per size class.
    pub static SIZES: [AtomicU64; CLASSES] = [const { AtomicU64::new(0) }; CLASSES];
    /// Blocks freed in the run that allocated them.
    pub static SHORT_LIVED: AtomicU64 = AtomicU64::new(0);
    /// Blocks still live when the run that allocated them ended.
    pub static LONG_LIVED: AtomicU64 = AtomicU64::new(0);
    /// Blocks the table had no room for (their lifetime is not known).
    pub static UNTRACKED: AtomicU64 = AtomicU64::new(0);
    static PTRS: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];
    static BIRTH: [AtomicU64; SLOTS] = [const { AtomicU64::new(0) }; SLOTS];

    fn class(size: usize) -> usize {
        (usize::BITS - size.leading_zeros()).saturating_sub(4).min(CLASSES as u32 - 1) as usize
    }

    /// Fibonacci hashing: the product's high bits mix every address bit
    /// (its low bits would be the address's own low bits).
    fn slot(ptr: usize, i: usize) -> usize {
        let h = ((ptr as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - SLOTS.trailing_zeros())) as usize;
        h.wrapping_add(i) % SLOTS
    }

    fn born(ptr: *mut u8, size: usize) {
        if ptr.is_null() || !RECORDING.load(Relaxed) {
            return;
        }
        SIZES[class(size)].fetch_add(1, Relaxed);
        let p = ptr as usize;
        for i in 0..PROBE {
            let s = slot(p, i);
            if PTRS[s].compare_exchange(0, p, Relaxed, Relaxed).is_ok() {
                BIRTH[s].store(RUN.load(Relaxed), Relaxed);
                return;
            }
        }
        UNTRACKED.fetch_add(1, Relaxed);
    }

    fn died(ptr: *mut u8) {
        let p = ptr as usize;
        for i in 0..PROBE {
            let s = slot(p, i);
            if PTRS[s].load(Relaxed) == p {
                if BIRTH[s].load(Relaxed) == RUN.load(Relaxed) {
                    SHORT_LIVED.fetch_add(1, Relaxed);
                }
                PTRS[s].store(0, Relaxed);
                return;
            }
        }
    }

    /// Ends a run: every tracked block born in it and still live is
    /// long-lived; it leaves the table so that the next run starts clean.
    pub fn end_run() {
        let run = RUN.fetch_add(1, Relaxed);
        for s in 0..SLOTS {
            if PTRS[s].load(Relaxed) != 0 && BIRTH[s].load(Relaxed) == run {
                LONG_LIVED.fetch_add(1, Relaxed);
                PTRS[s].store(0, Relaxed);
            }
        }
    }

    /// The global allocator of this binary.
    pub struct Counting;

    // SAFETY: every call is forwarded unchanged to dhat's allocator, which
    // forwards to the system allocator; the bookkeeping only reads pointer
    // values and sizes and never allocates.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: the caller upholds `alloc`'s contract; passed through.
            let (p, own) = outer(|| unsafe { dhat::Alloc.alloc(layout) });
            if own {
                born(p, layout.size());
            }
            p
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: as `alloc`.
            let (p, own) = outer(|| unsafe { dhat::Alloc.alloc_zeroed(layout) });
            if own {
                born(p, layout.size());
            }
            p
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // Forgotten before the memory is freed: once freed, another thread
            // may get the same address and record it first.
            if DEPTH.with(Cell::get) == 0 {
                died(ptr);
            }
            // SAFETY: `ptr` came from this allocator with `layout`.
            outer(|| unsafe { dhat::Alloc.dealloc(ptr, layout) });
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // dhat counts a realloc as a new block, and so does this: the old
            // block ends (short-lived when born in the same run: realloc churn).
            let own = DEPTH.with(Cell::get) == 0;
            if own {
                died(ptr);
            }
            // SAFETY: as `dealloc` and `alloc`.
            let (q, _) = outer(|| unsafe { dhat::Alloc.realloc(ptr, layout, new_size) });
            if own {
                // On failure the old block lives on.
                born(if q.is_null() { ptr } else { q }, if q.is_null() { layout.size() } else { new_size });
            }
            q
        }
    }
}

#[global_allocator]
static ALLOC: heap_alloc::Counting = heap_alloc::Counting;

/// Live-heap growth the audit allows between the second and the last quarter
/// of the sampled sustained run, comparing each quarter's lowest sample: live
/// heap swings by a body or two (256 KiB each) with every batch in flight, and the
/// low points are the floor a leak would raise. The bound is a quarter of
/// what the pipeline may hold by design (a 2048-item queue of ~1 KiB spans
/// plus two 256 KiB bodies). Half the run's items pass between the two
/// quarters, so the smallest leak it catches is the bound over that count;
/// the audit prints it for the run it made (a longer run catches a smaller one).
const AUDIT_GROWTH_KIB: u64 = 640;

/// How often the sustained run's live heap is sampled.
const AUDIT_SAMPLE_MS: u64 = 100;

/// Scenarios of the lifecycle audit, with the scale (item-count divisor) each
/// runs at: the HTTP exporter and receiver at full size (e2e_web_application,
/// 2,000 requests), and both transports with every codec (network_io, a
/// quarter of its 60,000 spans, to keep dhat's run short).
const AUDIT_LIFECYCLE: &[(&str, &str)] = &[("e2e_web_application", "1"), ("network_io", "4")];

/// The scenario and scale memcheck runs: small, as memcheck is far slower
/// than a native run.
const AUDIT_MEMCHECK: (&str, &str) = ("e2e_web_application", "20");

/// Heap profiles of the lab's workloads and scenarios, the pool on vs off,
/// and the leak audit.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Profile one workload or scenario: writes profiles/dhat-<name>.json
    /// (the DHAT viewer opens it) and prints total, peak and at-exit heap,
    /// allocations per run and per item, sizes and lifetimes. Then draws its
    /// allocation flamegraphs beside it: dhat-<name>.blocks.svg (blocks
    /// allocated), .bytes.svg (bytes allocated), .live.svg (bytes still live
    /// at exit), each with its .folded stacks.
    Run {
        /// Workload or scenario name (see `otlp-lab list`).
        name: Job,
        /// Measured runs after one warm-up run.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        iterations: u32,
        /// Scenarios: divide every item count by this.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        scale: u32,
        /// Scenarios: sustained_load's length in seconds.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        duration: u64,
        /// Folder of the profile.
        #[arg(long, default_value = "profiles")]
        dir: PathBuf,
        /// Print one JSON line instead of the text summary.
        #[arg(long)]
        json: bool,
        /// Sample live heap bytes this often (ms) during the runs; the JSON
        /// line then carries the samples (the audit's growth check).
        #[arg(long, value_parser = clap::value_parser!(u64).range(10..=60_000))]
        sample_ms: Option<u64>,
        /// An older DHAT profile (JSON: a dhat-<name>.json of this command,
        /// or of iai-callgrind's DHAT or `valgrind --tool=dhat`) to draw
        /// differential flamegraphs against: dhat-<name>-diff.blocks.svg,
        /// .bytes.svg, .live.svg (widths from this run, red where it allocates
        /// more, blue where less, the old profile scaled to this one's total
        /// first, as `otlp-lab flame --diff`). Read before the run: a bad file
        /// fails first.
        #[arg(long, value_name = "OLD_DHAT_JSON", conflicts_with = "no_flame")]
        diff: Option<PathBuf>,
        /// Write the profile only, no flamegraphs (`pool` and `audit` run
        /// many profiles and read only their figures).
        #[arg(long)]
        no_flame: bool,
    },
    /// The leak audit: exporter and receiver through start, load and
    /// shutdown leave nothing live that grows with the runs (what stays is
    /// listed by allocation site); sustained_load's live heap stays flat
    /// after warm-up; a short scenario under valgrind memcheck has no
    /// definite leak. Exits 1 when any check fails.
    Audit {
        /// Seconds of sustained_load (run twice: warm-up, then sampled).
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3_600))]
        sustain: u64,
        /// Growth of live heap allowed over the sampled run, in KiB.
        #[arg(long, default_value_t = AUDIT_GROWTH_KIB)]
        bound_kib: u64,
        /// Skip the memcheck part (valgrind missing, or in a hurry).
        #[arg(long)]
        no_memcheck: bool,
        /// Folder of the profiles.
        #[arg(long, default_value = "profiles")]
        dir: PathBuf,
    },
    /// The memory pool on vs off: encode + compress, and the pipeline's
    /// steady state; allocations per batch and per item, bytes and peak heap.
    Pool {
        /// Batches per measurement.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        batches: u32,
        /// Folder of the profiles.
        #[arg(long, default_value = "profiles")]
        dir: PathBuf,
    },
}

/// What one measurement saw. Heap figures are dhat's, over the blocks
/// allocated since the profiler started (before the job was prepared).
#[derive(Debug, Clone, Copy, Default)]
struct Summary {
    items_per_run: u64,
    runs: u32,
    /// Allocated by prepare and the warm-up run.
    setup_blocks: u64,
    setup_bytes: u64,
    /// Live when the measured runs began: what the warm job holds.
    warm_live_bytes: usize,
    /// Blocks allocated by the measured runs.
    blocks: u64,
    /// Bytes allocated by the measured runs.
    bytes: u64,
    /// Most live bytes at any moment of the process.
    peak_bytes: usize,
    /// Live blocks at that moment.
    peak_blocks: usize,
    /// Bytes live after the job was dropped: a leak, or a one-time static.
    exit_bytes: usize,
    /// Blocks live after the job was dropped.
    exit_blocks: usize,
    /// Measured blocks freed within their run.
    short_lived: u64,
    /// Measured blocks that outlived their run.
    long_lived: u64,
    /// Measured blocks whose lifetime the table could not follow.
    untracked: u64,
}

impl Summary {
    fn per_run(&self) -> f64 {
        self.blocks as f64 / f64::from(self.runs.max(1))
    }
    fn per_item(&self) -> f64 {
        self.per_run() / self.items_per_run.max(1) as f64
    }
    fn json(&self, name: &str) -> String {
        serde_json::json!({
            "name": name, "items_per_run": self.items_per_run, "runs": self.runs,
            "setup_blocks": self.setup_blocks, "setup_bytes": self.setup_bytes,
            "warm_live_bytes": self.warm_live_bytes, "blocks": self.blocks, "bytes": self.bytes,
            "blocks_per_run": self.per_run(), "blocks_per_item": self.per_item(),
            "bytes_per_run": self.bytes as f64 / f64::from(self.runs.max(1)),
            "peak_bytes": self.peak_bytes, "peak_blocks": self.peak_blocks,
            "exit_bytes": self.exit_bytes, "exit_blocks": self.exit_blocks,
            "short_lived": self.short_lived, "long_lived": self.long_lived, "untracked": self.untracked,
        })
        .to_string()
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("otlp-lab-heap: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), Box<dyn Error>> {
    match cli.command {
        Cmd::Run { name, iterations, scale, duration, dir, json, sample_ms, diff, no_flame } => {
            // Read before the profiler starts: its allocations stay out of the profile.
            let old = diff.map(|p| DhatProfile::read(&p).map(|profile| (p, profile))).transpose()?;
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let path = dir.join(format!("dhat-{name}.json"));
            let params = ScenarioParams { duration: Duration::from_secs(duration), scale };
            let (s, samples) = profile(name, iterations, &params, &path, sample_ms.map(Duration::from_millis))?;
            if json {
                let mut v: serde_json::Value = serde_json::from_str(&s.json(name.name()))?;
                v["samples"] = serde_json::json!(samples);
                println!("{v}");
            } else {
                print_summary(name, &s, &path);
            }
            if !no_flame {
                // After the profiler ended: dhat's allocator counts nothing now.
                let profile = DhatProfile::read(&path)?;
                let old = old.as_ref().map(|(p, profile)| (p.as_path(), profile));
                let written = write_flamegraphs(&path, &profile, old, &mut |note| eprintln!("otlp-lab-heap: {note}"))?;
                for p in written.iter().filter(|p| p.extension().is_some_and(|e| e == "svg")) {
                    eprintln!("otlp-lab-heap: wrote {}", p.display());
                }
            }
        }
        Cmd::Pool { batches, dir } => pool(batches, &dir)?,
        Cmd::Audit { sustain, bound_kib, no_memcheck, dir } => audit(sustain, bound_kib, !no_memcheck, &dir)?,
    }
    Ok(())
}

/// Prepares and runs `job` under a dhat profiler that writes `path`.
fn profile(
    job: Job,
    iterations: u32,
    params: &ScenarioParams,
    path: &Path,
    sample_every: Option<Duration>,
) -> Result<(Summary, Vec<usize>), Box<dyn Error>> {
    use heap_alloc::*;
    use std::sync::atomic::Ordering::Relaxed;
    let profiler = dhat::Profiler::builder().file_name(path).build();
    // Started under the profiler (its heap counts as setup), stopped before
    // the profiler ends: it may only read dhat's stats while one runs.
    // Room for every sample of the warm-up and the measured runs of a
    // sustained_load (the only paced job), plus slack for the others.
    let capacity = sample_every.map_or(0, |every| {
        let runs = u64::from(iterations) + 1;
        (params.duration.as_millis() as u64 * runs / every.as_millis().max(1) as u64 + 1_000) as usize
    });
    let sampler = sample_every.map(|every| Sampler::start(every, capacity));
    let mut prepared = job.prepare(params).map_err(|e| format!("{job}: {e}"))?;
    let mut runner = || prepared.run().map_err(|e| format!("{job}: {e}"));
    let first = runner()?;
    let warm = dhat::HeapStats::get();
    if let Some(s) = &sampler {
        s.measuring.store(true, Relaxed);
    }
    RECORDING.store(true, Relaxed);
    for _ in 0..iterations {
        runner()?;
        end_run();
    }
    RECORDING.store(false, Relaxed);
    let done = dhat::HeapStats::get();
    let samples = sampler.map(Sampler::stop).unwrap_or_default();
    drop(prepared);
    // The span builder's per-thread formatting chunk and the recycled span
    // lists are released as the thread would at exit: caches (bounded), not
    // something the job left behind.
    otlp_pipeline::model::Str::release_format_chunk();
    otlp_pipeline::model::lists::release();
    let exit = dhat::HeapStats::get();
    drop(profiler);
    // dhat reports a failed write on stderr only: check that this process wrote the file.
    let written = std::fs::read_to_string(path).ok().and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
    if written.as_ref().and_then(|v| v["pid"].as_u64()) != Some(u64::from(std::process::id())) {
        return Err(format!("dhat did not write the profile {}", path.display()).into());
    }
    let summary = Summary {
        items_per_run: first.items,
        runs: iterations,
        setup_blocks: warm.total_blocks,
        setup_bytes: warm.total_bytes,
        warm_live_bytes: warm.curr_bytes,
        blocks: done.total_blocks - warm.total_blocks,
        bytes: done.total_bytes - warm.total_bytes,
        peak_bytes: exit.max_bytes,
        peak_blocks: exit.max_blocks,
        exit_bytes: exit.curr_bytes,
        exit_blocks: exit.curr_blocks,
        short_lived: SHORT_LIVED.load(Relaxed),
        long_lived: LONG_LIVED.load(Relaxed),
        untracked: UNTRACKED.load(Relaxed),
    };
    Ok((summary, samples))
}

fn print_summary(job: Job, s: &Summary, path: &Path) {
    use heap_alloc::{CLASSES, SIZES};
    use std::sync::atomic::Ordering::Relaxed;
    println!("{job}: heap profile {} (open it in the DHAT viewer, dh_view.html)", path.display());
    println!(
        "  setup (prepare + warm-up): {} blocks, {} bytes; live when measuring began: {} bytes",
        s.setup_blocks, s.setup_bytes, s.warm_live_bytes
    );
    println!(
        "  measured: {} runs of {} items: {} blocks, {} bytes ({:.1} blocks a run, {:.3} an item)",
        s.runs,
        s.items_per_run,
        s.blocks,
        s.bytes,
        s.per_run(),
        s.per_item()
    );
    println!("  peak (whole process): {} bytes in {} blocks", s.peak_bytes, s.peak_blocks);
    println!("  at exit (after dropping the job): {} bytes in {} blocks", s.exit_bytes, s.exit_blocks);
    println!(
        "  lifetimes: {} short-lived (freed within their run), {} long-lived (still live when their run ended){}",
        s.short_lived,
        s.long_lived,
        if s.untracked > 0 { format!(", {} untracked (table full)", s.untracked) } else { String::new() }
    );
    let counts: Vec<u64> = SIZES.iter().map(|c| c.load(Relaxed)).collect();
    if counts.iter().any(|&c| c > 0) {
        println!("  allocation sizes in the measured runs (bytes: blocks):");
        for (i, &c) in counts.iter().enumerate().filter(|(_, c)| **c > 0) {
            let lo = if i == 0 { 0 } else { 1u64 << (i + 3) };
            let hi = if i + 1 == CLASSES { "up".to_owned() } else { ((1u64 << (i + 4)) - 1).to_string() };
            println!("    {lo:>10}-{hi:<10} {c}");
        }
    }
}

/// Live heap bytes sampled by a thread while the measured runs go on.
struct Sampler {
    measuring: std::sync::Arc<std::sync::atomic::AtomicBool>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// `None` once joined.
    thread: Option<std::thread::JoinHandle<Vec<usize>>>,
}

impl Drop for Sampler {
    /// On an error path too, the thread stops before the profiler ends (it
    /// may read dhat's stats only while a profiler runs).
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _samples_unused_on_error = t.join();
        }
    }
}

impl Sampler {
    fn start(every: Duration, capacity: usize) -> Sampler {
        use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
        let measuring = std::sync::Arc::new(AtomicBool::new(false));
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let (m, st) = (measuring.clone(), stop.clone());
        let ready = std::sync::Arc::new(std::sync::Barrier::new(2));
        let go = ready.clone();
        let thread = std::thread::spawn(move || {
            // Sized up front, before the measured runs begin, so that sampling
            // allocates nothing while measuring.
            let mut samples = Vec::with_capacity(capacity);
            go.wait();
            while !st.load(Relaxed) {
                if m.load(Relaxed) && samples.len() < samples.capacity() {
                    samples.push(dhat::HeapStats::get().curr_bytes);
                }
                std::thread::sleep(every);
            }
            samples
        });
        ready.wait();
        Sampler { measuring, stop, thread: Some(thread) }
    }

    fn stop(mut self) -> Vec<usize> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.take().and_then(|t| t.join().ok()).unwrap_or_default()
    }
}

/// Why the pool comparison or the leak audit failed.
#[derive(Debug, thiserror::Error)]
enum HeapError {
    #[error("{}: {source}", path.display())]
    Dir { path: PathBuf, source: std::io::Error },
    #[error("finding this executable: {0}")]
    Exe(std::io::Error),
    #[error("{name}: cannot run it: {source}")]
    Spawn { name: String, source: std::io::Error },
    #[error("{name}: {stderr}")]
    Failed { name: String, stderr: String },
    #[error("{name}: no summary")]
    NoSummary { name: String },
    #[error("{name}: the summary is not JSON: {source}")]
    Summary { name: String, source: serde_json::Error },
    #[error("the heap summary has no `{0}`")]
    Field(&'static str),
    #[error(transparent)]
    Profile(#[from] AllocFlameError),
    #[error("cannot run valgrind (install it, or pass --no-memcheck): {0}")]
    Valgrind(std::io::Error),
    #[error(transparent)]
    File(#[from] otlp_lab::result_file::ResultFileError),
    #[error("audit failed:\n  {}", .0.join("\n  "))]
    AuditFailed(Vec<String>),
}

fn create_dir(dir: &Path) -> Result<(), HeapError> {
    std::fs::create_dir_all(dir).map_err(|source| HeapError::Dir { path: dir.to_owned(), source })
}

/// Runs this binary again on `name` and reads its JSON summary.
fn measure(name: &str, iterations: u32, dir: &Path) -> Result<serde_json::Value, HeapError> {
    measure_with(name, &["--iterations", &iterations.to_string()], dir)
}

fn measure_with(name: &str, extra: &[&str], dir: &Path) -> Result<serde_json::Value, HeapError> {
    let exe = std::env::current_exe().map_err(HeapError::Exe)?;
    let out = Command::new(exe)
        .args(["run", name, "--json", "--no-flame"])
        .args(extra)
        .arg("--dir")
        .arg(dir)
        .output()
        .map_err(|source| HeapError::Spawn { name: name.to_owned(), source })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        return Err(HeapError::Failed { name: name.to_owned(), stderr });
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .ok_or_else(|| HeapError::NoSummary { name: name.to_owned() })?;
    serde_json::from_str(line).map_err(|source| HeapError::Summary { name: name.to_owned(), source })
}

/// The pool on vs off, for encode + compress and for the pipeline, and the
/// pipeline's own blocks per batch at two batch sizes. Prints a table and
/// writes `<dir>/pool.json`.
fn pool(batches: u32, dir: &Path) -> Result<(), HeapError> {
    create_dir(dir)?;
    let pairs = [
        ("encode + zstd 1", Workload::EncodeZstdPooled, Workload::EncodeZstdFresh),
        ("pipeline batch (zstd 1)", Workload::PipelineBatchZstd, Workload::PipelineBatchZstdNoPool),
    ];
    println!(
        "{:<24} {:<5} {:>12} {:>12} {:>14} {:>12} {:>12}",
        "path", "pool", "blocks/batch", "blocks/item", "bytes/batch", "warm live", "peak bytes"
    );
    let started = Instant::now();
    let num = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    let mut rows = Vec::new();
    for (label, on, off) in pairs {
        let a = measure(on.name(), batches, dir)?;
        let b = measure(off.name(), batches, dir)?;
        for (tag, w, v) in [(PoolSetting::On, on, &a), (PoolSetting::Off, off, &b)] {
            println!(
                "{:<24} {:<5} {:>12.1} {:>12.3} {:>14.0} {:>12} {:>12}",
                label,
                tag,
                num(v, "blocks_per_run"),
                num(v, "blocks_per_item"),
                num(v, "bytes_per_run"),
                v["warm_live_bytes"],
                v["peak_bytes"]
            );
            rows.push(PoolRow {
                path: label.to_owned(),
                workload: w.name().to_owned(),
                pool: tag,
                items_per_batch: v["items_per_run"].as_u64().unwrap_or(0),
                blocks_per_batch: num(v, "blocks_per_run"),
                bytes_per_batch: num(v, "bytes_per_run"),
                blocks_per_item: num(v, "blocks_per_item"),
                peak_bytes: v["peak_bytes"].as_u64().unwrap_or(0),
            });
        }
        let (on_bytes, off_bytes) = (num(&a, "bytes_per_run"), num(&b, "bytes_per_run"));
        let (on_blocks, off_blocks) = (num(&a, "blocks_per_run"), num(&b, "blocks_per_run"));
        if on_bytes > 0.0 {
            println!(
                "{:<24} off/on: {:.1}x the blocks, {:.1}x the bytes per batch",
                "",
                off_blocks / on_blocks.max(1.0),
                off_bytes / on_bytes
            );
        } else {
            println!(
                "{:<24} pool on allocates nothing per batch; off: {off_blocks:.1} blocks, {off_bytes:.0} bytes",
                ""
            );
        }
    }
    // The pipeline rows include the producer cloning the batch's spans;
    // measured alone, the clones give the pipeline's own share. Two batch
    // sizes: a per-span cost would show as a difference between them.
    let mut own_rows = Vec::new();
    for (pipeline, clones) in [
        (Workload::PipelineBatchZstd, Workload::CloneSpans),
        (Workload::PipelineBatchZstd2048, Workload::CloneSpans2048),
    ] {
        let p = measure(pipeline.name(), batches, dir)?;
        let c = measure(clones.name(), batches, dir)?;
        // The clone workload also allocates the Vec holding the clones, which
        // the pipeline workload does not have.
        let own = num(&p, "blocks_per_run") - (num(&c, "blocks_per_run") - 1.0);
        let spans = num(&p, "items_per_run").max(1.0);
        println!(
            "pipeline's own, pool on, {spans:.0}-span batches: {own:.2} blocks a batch, {:.4} a span \
             ({} {:.2} minus {} {:.2} less the Vec of clones)",
            own / spans,
            pipeline.name(),
            num(&p, "blocks_per_run"),
            clones.name(),
            num(&c, "blocks_per_run"),
        );
        own_rows.push(PipelineOwn { batch_items: spans as u64, blocks: own });
    }
    let point = |i: usize| (own_rows[i].batch_items as f64, own_rows[i].blocks);
    let ((n1, b1), (n2, b2)) = (point(0), point(1));
    let marginal = (b2 - b1) / (n2 - n1);
    println!("pipeline's own blocks per extra span (between the two batch sizes): {marginal:.4}");
    let path = dir.join("pool.json");
    let file = PoolFile {
        batches: u64::from(batches),
        rows,
        pipeline_own_blocks_per_batch: own_rows,
        pipeline_own_blocks_per_extra_span: Some(marginal),
    };
    file.write(&path)?;
    println!(
        "{batches} measured batches each after a warm-up, one process per row ({:.1} s); profiles: {}/dhat-<workload>.json; results: {}",
        started.elapsed().as_secs_f64(),
        dir.display(),
        path.display()
    );
    Ok(())
}

/// One check of the audit, as profiles/audit.json holds it.
fn check(name: &str, passed: bool, detail: String) -> AuditCheck {
    AuditCheck { name: name.to_owned(), passed, detail }
}

/// Blocks and bytes still live at the end, and the site that allocated them.
type LiveSite = (u64, u64, String);

/// Allocation sites of the blocks still live at the end of a dhat profile,
/// named by their first frame outside the allocator and the standard library.
fn live_sites(profile: &Path) -> Result<Vec<LiveSite>, HeapError> {
    let dhat = DhatProfile::read(profile)?;
    let generic = ["alloc::", "<alloc::", "core::", "<core::", "std::", "<std::", "<T as ", "hashbrown::"];
    let mut sites = Vec::new();
    for pp in &dhat.pps {
        // dhat's file: `eb` is bytes live at the end, `ebk` their blocks.
        if pp.ebk == 0 {
            continue;
        }
        // Without the address, with the file and line (what the audit prints).
        let named = dhat
            .frames(pp)
            .map(|f| f.split_once(": ").map_or(f, |(_, rest)| rest))
            .find(|f| !generic.iter().any(|g| f.starts_with(g)))
            .unwrap_or("?");
        sites.push((pp.ebk, pp.eb, named.to_owned()));
    }
    sites.sort_by_key(|site| std::cmp::Reverse(site.1));
    Ok(sites)
}

/// The leak audit (see `Cmd::Audit`).
fn audit(sustain: u64, bound_kib: u64, memcheck: bool, dir: &Path) -> Result<(), HeapError> {
    create_dir(dir)?;
    let mut failures = Vec::new();
    // One entry a check, for profiles/audit.json (the report reads it).
    let mut checks = Vec::new();
    let mut lifecycle = Vec::new();

    println!("1. lifecycle: start, load, shutdown; what is live at exit must not grow with the runs");
    let field = |v: &serde_json::Value, k: &'static str| v[k].as_u64().ok_or(HeapError::Field(k));
    for (name, scale) in AUDIT_LIFECYCLE {
        let one = measure_with(name, &["--iterations", "1", "--scale", scale], dir)?;
        let three = measure_with(name, &["--iterations", "3", "--scale", scale], dir)?;
        let (b1, b3) = (field(&one, "exit_blocks")?, field(&three, "exit_blocks")?);
        let (y1, y3) = (field(&one, "exit_bytes")?, field(&three, "exit_bytes")?);
        let grows = b3 > b1 || y3 > y1;
        println!(
            "   {name}: at exit after 1 run {b1} blocks / {y1} bytes, after 3 runs {b3} blocks / {y3} bytes: {}",
            if grows { "GROWS" } else { "no growth; what stays (one-time statics), by allocation site:" }
        );
        for (blocks, bytes, site) in live_sites(&dir.join(format!("dhat-{name}.json")))? {
            println!("     {blocks:>5} blocks {bytes:>7} bytes  {site}");
        }
        lifecycle.push(format!("{name}: {y1} -> {y3} bytes live at exit after 1 and 3 runs"));
        if grows {
            failures.push(format!("{name}: live heap at exit grows with the runs ({y1} -> {y3} bytes)"));
        }
    }
    checks.push(check("lifecycle", failures.is_empty(), lifecycle.join("; ")));

    println!(
        "2. sustained_load: {sustain} s warm-up, then {sustain} s sampled every {AUDIT_SAMPLE_MS} ms; \
         growth bound {bound_kib} KiB between the second and the last quarter"
    );
    let v = measure_with(
        "sustained_load",
        &["--iterations", "1", "--duration", &sustain.to_string(), "--sample-ms", &AUDIT_SAMPLE_MS.to_string()],
        dir,
    )?;
    let samples: Vec<u64> =
        v["samples"].as_array().map(|a| a.iter().filter_map(serde_json::Value::as_u64).collect()).unwrap_or_default();
    let items = field(&v, "items_per_run")?;
    let before = failures.len();
    let mut sustained = format!("{sustain} s, {} samples", samples.len());
    if samples.len() < 8 {
        failures.push(format!("sustained_load: only {} samples (at least 8 are needed)", samples.len()));
    } else {
        let floor = |part: &[u64]| part.iter().copied().min().unwrap_or(0);
        let quarter = samples.len() / 4;
        // The second quarter, not the first: each run builds a fresh exporter,
        // whose pool and buffers fill during the run's first moments.
        let (first, last) = (floor(&samples[quarter..2 * quarter]), floor(&samples[samples.len() - quarter..]));
        let growth = last.saturating_sub(first);
        let ok = growth <= bound_kib * 1024;
        // Items that passed between the two quarters' starts: half of the run's.
        let detectable = (bound_kib * 1024) as f64 / (items.max(2) / 2) as f64;
        println!(
            "   {} samples over {items} items; lowest live heap {first} bytes in the second quarter, {last} in the last: \
             growth {growth} bytes: {} (a leak of {detectable:.1} bytes an item or more would trip it)",
            samples.len(),
            if ok { "flat" } else { "GROWS" }
        );
        sustained = format!(
            "{sustain} s, {items} items: growth {growth} bytes between the second and the last quarter \
             (bound {bound_kib} KiB, about {detectable:.1} bytes an item)"
        );
        if !ok {
            failures.push(format!("sustained_load: live heap grew {growth} bytes (bound {bound_kib} KiB)"));
        }
    }
    checks.push(check("sustained", failures.len() == before, sustained));

    if memcheck {
        let (name, scale) = AUDIT_MEMCHECK;
        let log = dir.join("memcheck.txt");
        println!(
            "3. valgrind memcheck --leak-check=full on `otlp-lab run {name} --scale {scale}` (log: {})",
            log.display()
        );
        let lab = std::env::current_exe().map_err(HeapError::Exe)?.with_file_name("otlp-lab");
        // An exit code of its own marks "memcheck found an error or a definite leak".
        let out = Command::new("valgrind")
            .args(["--tool=memcheck", "--leak-check=full", "--errors-for-leak-kinds=definite", "--error-exitcode=97"])
            .arg(format!("--log-file={}", log.display()))
            .arg(&lab)
            .args(["run", name, "--scale", scale, "--iterations", "1"])
            .output()
            .map_err(HeapError::Valgrind)?;
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        for line in text.lines().filter(|l| l.contains("definitely lost") || l.contains("ERROR SUMMARY")) {
            println!("   {}", line.trim_start_matches(|c: char| c == '=' || c.is_ascii_digit()).trim());
        }
        let before = failures.len();
        match out.status.code() {
            Some(0) if text.contains("ERROR SUMMARY: 0 errors") => println!("   no definite leak, no memory error"),
            Some(0) => failures.push(format!("memcheck: no ERROR SUMMARY in {}", log.display())),
            Some(97) => failures.push(format!("memcheck: a definite leak or a memory error (see {})", log.display())),
            _ => failures.push(format!(
                "memcheck: the run failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("")
            )),
        }
        let summary: Vec<&str> =
            text.lines().filter(|l| l.contains("definitely lost") || l.contains("ERROR SUMMARY")).collect();
        let detail = summary
            .iter()
            .map(|l| l.trim_start_matches(|c: char| c == '=' || c.is_ascii_digit()).trim())
            .collect::<Vec<_>>()
            .join("; ");
        checks.push(check(
            "memcheck",
            failures.len() == before,
            format!("otlp-lab run {name} --scale {scale}: {detail}"),
        ));
    }

    let path = dir.join("audit.json");
    AuditFile { passed: failures.is_empty(), checks }.write(&path)?;
    println!("results: {}", path.display());
    if failures.is_empty() {
        println!("audit: passed");
        Ok(())
    } else {
        Err(HeapError::AuditFailed(failures))
    }
}
