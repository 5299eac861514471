//! `otlp-lab`: the lab's command line.

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use otlp_lab::Job;
use otlp_lab::scenarios::ScenarioParams;
use otlp_pipeline::receiver::ReceiverConfig;

/// The allocation- and CPU-profiling lab for an OTLP telemetry pipeline.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List every micro-workload and scenario with what it measures.
    List,
    /// Run one workload or scenario natively; print its outcome, wall times
    /// and (scenarios) a row per step.
    Run {
        /// Workload or scenario name (see `list`).
        name: Job,
        /// Measured iterations after one warm-up run (default: 20 for a
        /// workload, 1 for a scenario).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        iterations: Option<u32>,
        /// Scenarios: divide every item count by this (1 = the full size).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        scale: u32,
        /// Scenarios: how long sustained_load offers load, in seconds.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        duration: u64,
    },
    /// Encode the standard fixtures with every encoder and print sizes.
    Sizes {
        /// Spans (and log records) per batch; metrics use a tenth as many points... at least 10.
        #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        items: u32,
    },
    /// Run the OTLP receiver (HTTP, and gRPC with --grpc); print its counts as JSON when it stops.
    Receive {
        /// OTLP/HTTP address (loopback by default; port 0 picks a free one).
        #[arg(long, default_value = "127.0.0.1:4318")]
        http: std::net::SocketAddr,
        /// OTLP/gRPC address, e.g. 127.0.0.1:4317 (off unless given).
        #[arg(long)]
        grpc: Option<std::net::SocketAddr>,
        /// Stop with success once this many spans have arrived.
        #[arg(long)]
        expect_spans: Option<u64>,
        /// Stop with success once this many metric points have arrived.
        #[arg(long)]
        expect_points: Option<u64>,
        /// Stop with success once this many log records have arrived.
        #[arg(long)]
        expect_logs: Option<u64>,
        /// Give up after this many seconds (exit 1 if expectations are unmet).
        #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        timeout: u64,
        #[command(flatten)]
        limits: ReceiveLimits,
    },
    /// Amplification requests (small bodies of many empty elements) against
    /// `otlp-lab receive` in a child process, each kind and transport against
    /// a fresh one: prints the answers and the receiver's peak RSS.
    Attack(otlp_lab::attack::AttackArgs),
    /// Export the standard fixtures to an OTLP endpoint (or to an in-process
    /// receiver with `--loopback`); print the exporter's counts as JSON.
    Send {
        /// Base URL of the endpoint (default: 127.0.0.1 on the protocol's OTLP port).
        #[arg(long, conflicts_with = "loopback")]
        endpoint: Option<String>,
        /// Start a receiver in this process and send to it.
        #[arg(long)]
        loopback: bool,
        /// http/protobuf, http/json or grpc.
        #[arg(long, default_value = "http/protobuf")]
        protocol: otlp_pipeline::exporter::Protocol,
        /// none, gzip, zstd (optionally with a level: zstd:3).
        #[arg(long, default_value = "none")]
        compression: otlp_pipeline::compress::Compression,
        /// Spans to send.
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(0..=10_000_000))]
        spans: u64,
        /// Metric points to send (rounded down to a multiple of 10).
        #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(0..=10_000_000))]
        points: u64,
        /// Log records to send.
        #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(0..=10_000_000))]
        logs: u64,
        /// Seconds the final shutdown may take before what is left counts as dropped.
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
        deadline: u64,
    },
    /// Write the standard fixtures as OTLP request bodies (for other tools to
    /// decode): traces.pb, metrics.pb, logs.pb, their .json twins, and
    /// expected.json, the values they hold read from the model.
    Encode {
        /// Output folder (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Spans and log records (metrics: a tenth as many points, at least 10).
        #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        items: u32,
    },
    /// Heap profile of a workload or scenario under dhat: writes
    /// profiles/dhat-<name>.json, prints its summary and draws its allocation
    /// flamegraphs (dhat-<name>.blocks.svg, .bytes.svg, .live.svg; with
    /// `--diff OLD_DHAT_JSON` the differential ones) (runs `otlp-lab-heap
    /// run`; `otlp-lab-heap run --help` lists the options).
    #[command(disable_help_flag = true)]
    Heap {
        /// The name and options, passed on.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        args: Vec<String>,
    },
    /// Allocation flamegraphs of an existing DHAT profile (dhat-rs's, as
    /// `heap` writes, or the JSON of iai-callgrind's DHAT or `valgrind
    /// --tool=dhat`), written beside it: <stem>.blocks.svg (blocks
    /// allocated), .bytes.svg (bytes allocated), .live.svg (bytes still live
    /// at exit) and their .folded stacks, allocator frames trimmed so that the
    /// leaf is the allocating call.
    HeapFlame {
        /// The DHAT profile (JSON).
        profile: PathBuf,
        /// An older DHAT profile (JSON) to draw <stem>-diff.<weight>.svg
        /// against: widths from PROFILE, red where it allocates more, blue
        /// where less (the old one scaled to its total first, as `flame --diff`).
        #[arg(long, value_name = "OLD_DHAT_JSON")]
        diff: Option<PathBuf>,
    },
    /// The memory pool on vs off (runs `otlp-lab-heap pool`).
    #[command(disable_help_flag = true)]
    Pool {
        /// Options, passed on.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// The leak audit (runs `otlp-lab-heap audit`).
    #[command(disable_help_flag = true)]
    Audit {
        /// Options, passed on.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// CPU flamegraph of a workload or scenario under pprof (every thread):
    /// writes <out>/<name>.svg, .pb (pprof protobuf), .folded and .json.
    Flame {
        /// Workload or scenario name (see `list`).
        name: Job,
        /// Seconds to sample (the run also stops after --max-iterations).
        #[arg(long, default_value_t = otlp_lab::flame::DEFAULT_DURATION.as_secs_f64())]
        duration: f64,
        /// Sampling frequency asked of SIGPROF (the kernel tick caps it near 250 Hz).
        #[arg(long, default_value_t = otlp_lab::flame::DEFAULT_FREQUENCY_HZ, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        frequency: u32,
        /// Drop samples that land in libc, libgcc, pthread or the vDSO (this hides
        /// allocator, memcpy and syscall cost; off by default).
        #[arg(long, overrides_with = "no_blocklist")]
        blocklist: bool,
        /// Keep the samples in libc and friends (the default).
        #[arg(long, overrides_with = "blocklist")]
        no_blocklist: bool,
        /// Scenarios: divide every item count by this (1 = the full size).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        scale: u32,
        /// Stop after this many iterations even before --duration.
        #[arg(long, default_value_t = otlp_lab::flame::DEFAULT_MAX_ITERATIONS, value_parser = clap::value_parser!(u64).range(1..))]
        max_iterations: u64,
        /// Also write <name>-diff.svg: this run against a saved run's folded stacks.
        #[arg(long, value_name = "SAVED.folded")]
        diff: Option<PathBuf>,
        /// Output folder.
        #[arg(long, default_value = "flamegraphs")]
        out: PathBuf,
    },
    /// Build the report of the last run from its result files: report.html
    /// (self-contained), report.md, plots/*.svg, bmf.json and
    /// github-action-benchmark.json; a part whose file is missing says "not run".
    Report {
        /// Folder of the result files.
        #[arg(long, default_value = "profiles")]
        profiles: PathBuf,
        /// Folder of the flamegraphs.
        #[arg(long, default_value = "flamegraphs")]
        flamegraphs: PathBuf,
        /// Baseline to judge the benches against (default: <profiles>/baselines/main.json).
        #[arg(long)]
        baseline: Option<PathBuf>,
        /// Where to write the report (default: the profiles folder).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Percent an instruction count may rise before the gate flags it.
        #[arg(long, default_value_t = otlp_lab::baseline::DEFAULT_FLOOR_PCT)]
        floor: f64,
        /// The bench history, plotted per bench and giving the gate its
        /// per-bench fences (default: history.jsonl beside the baseline).
        #[arg(long)]
        history: Option<PathBuf>,
    },
    /// Write what this run happens on (CPU and its dispatch features, cores,
    /// kernel, rustc -vV, the pinned channel, the Cargo profile settings,
    /// valgrind, runner, commit) as JSON, for the report.
    Env {
        /// The file to write.
        #[arg(long, default_value = "profiles/environment.json")]
        out: PathBuf,
    },
    /// Timed load run (closed loop, or open loop with --rate) against the
    /// loopback receiver or an OTLP endpoint, with --sdk the official SDK
    /// beside ours: delivered items/s, drops by reason, export latency, CPU
    /// and peak RSS; writes profiles/load/<scenario>.json.
    Load(otlp_lab::load::LoadArgs),
    /// One whole exporter process: create N fixture spans one by one through
    /// an implementation's API, export them, shut down; exits non-zero unless
    /// every span was exported (what `exporter-compare` runs under callgrind and DHAT, and `exporter-load` natively).
    ExporterRun {
        /// ours, sdk, tracing-ours, tracing-otel, sdk-ours or tracing-bare
        /// (sdk, tracing-otel and sdk-ours need `--features official-sdk`).
        #[arg(long)]
        implementation: otlp_lab::exporter_run::Implementation,
        /// Spans to create.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
        spans: u64,
        /// Base URL of the receiver.
        #[arg(long)]
        endpoint: String,
        /// http/protobuf or grpc.
        #[arg(long, default_value = "http/protobuf")]
        protocol: otlp_pipeline::exporter::Protocol,
        /// none, gzip or zstd (each implementation's default level).
        #[arg(long, default_value = "none")]
        compression: otlp_pipeline::compress::Compression,
        /// Print the run's wall time, CPU time and peak RSS as one JSON line
        /// on stdout (what `exporter-load` reads).
        #[arg(long)]
        usage: bool,
    },
    /// The whole exporter of each stack at full speed, natively: spans per
    /// second and CPU microseconds per span of the exporting process
    /// (`exporter-run --usage` against a loopback receiver), medians over
    /// the repeats.
    ExporterLoad {
        /// Comma-separated: ours, sdk, tracing-ours, tracing-otel, sdk-ours,
        /// tracing-bare (sdk, tracing-otel and sdk-ours need `--features official-sdk`).
        #[arg(long, value_delimiter = ',', default_value = "tracing-ours,tracing-otel,ours,sdk,sdk-ours,tracing-bare")]
        implementations: Vec<otlp_lab::exporter_run::Implementation>,
        /// PROTOCOL+COMPRESSION.
        #[arg(long, default_value = "http/protobuf+none")]
        case: otlp_lab::exporter_run::Case,
        /// Spans per run.
        #[arg(long, default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
        spans: u64,
        /// Runs per stack.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
        repeats: u32,
    },
    /// Marginal instructions, heap blocks and wire bytes per span of the
    /// whole exporter process under callgrind and DHAT (high minus low span
    /// count), for each stack: ours, sdk (the official SDK), tracing-ours,
    /// tracing-otel, sdk-ours and tracing-bare, per protocol and codec;
    /// writes profiles/exporter.json.
    ExporterCompare {
        /// Runs per implementation, case and span count.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
        repeats: u32,
        /// The smaller span count.
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
        low: u64,
        /// The larger span count.
        #[arg(long, default_value_t = 50_000, value_parser = clap::value_parser!(u64).range(2..=10_000_000))]
        high: u64,
        /// Comma-separated: ours, sdk, tracing-ours, tracing-otel, sdk-ours,
        /// tracing-bare (sdk, tracing-otel and sdk-ours need `--features official-sdk`).
        #[arg(long, value_delimiter = ',', default_value = "ours,sdk,tracing-ours,tracing-otel,sdk-ours,tracing-bare")]
        implementations: Vec<otlp_lab::exporter_run::Implementation>,
        /// Comma-separated PROTOCOL+COMPRESSION cases: http/protobuf+none,
        /// http/protobuf+zstd, http/protobuf+gzip, grpc+none, grpc+zstd.
        #[arg(long, value_delimiter = ',', default_value = "http/protobuf+none,http/protobuf+zstd")]
        cases: Vec<otlp_lab::exporter_run::Case>,
        /// Skip the DHAT runs (heap blocks per span).
        #[arg(long)]
        no_heap: bool,
        /// Where to write the results.
        #[arg(long, default_value = "profiles/exporter.json")]
        out: PathBuf,
    },
    /// Print instructions and estimated cycles per item, and heap blocks and
    /// bytes per measured run against the budgets (`OVER` above one), from
    /// iai-callgrind `--output-format=json` files; then the benches that rank
    /// differently by estimated cycles than by instructions.
    Icount {
        /// Files with one JSON object per line, as the runner prints them.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Convert iai-callgrind `--output-format=json` files into one Bencher
    /// Metric Format file (instructions; estimated cycles and cache hits
    /// where callgrind simulated the caches; allocations and allocated bytes
    /// per measured run where DHAT ran);
    /// with --out, also write beside it which suites ran (<out>.suites.json,
    /// from the files' names: profiles/icount/<suite>.jsonl) and what the run
    /// happened on (<out>.env.json, as `env` writes it).
    Bmf {
        /// Files with one JSON object per line, as the runner prints them.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Where to write the BMF JSON (standard output if not given).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print whether the run behind a BMF results file was full (every quick
    /// suite) or partial, from the record `bmf --out` wrote beside it:
    /// `full`, `partial <suites>` or `unknown` (no record).
    Suites {
        /// The results file (BMF JSON).
        results: PathBuf,
    },
    /// Compare a run's BMF results with a baseline's: print every bench with
    /// old, new and delta; exit 3 when the gate flags a bench (1 on a bad
    /// file). Flagged: instructions above the floor, any allocation increase,
    /// a bench of the baseline the run lacks. With --previous, the run is also
    /// judged against the previous baseline (the one the last save replaced), where a worse count
    /// passes only with an entry of --justified holding the previous and the
    /// current baseline's counts. Before any count, the environment records
    /// beside both files (<file>.env.json) are compared: a different
    /// toolchain (rustc, LLVM, valgrind, runner, CPU features, profile
    /// settings) or a missing record refuses the comparison (exit 4).
    Compare {
        /// The baseline (BMF JSON).
        baseline: PathBuf,
        /// The run to judge (BMF JSON).
        results: PathBuf,
        /// Percent an instruction count may rise before it is flagged.
        #[arg(long, default_value_t = otlp_lab::baseline::DEFAULT_FLOOR_PCT)]
        floor: f64,
        /// Determinism check: any difference at all fails (both files from the same binary).
        #[arg(long, conflicts_with_all = ["partial", "previous"])]
        exact: bool,
        /// The run ran only some suites (its record beside RESULTS must say
        /// so): benches of the other suites are "not run", not flagged.
        #[arg(long)]
        partial: bool,
        /// The baseline the current one replaced (BMF JSON), e.g. from
        /// `git show C~1:profiles/baselines/main.json`, C the last commit that
        /// changed it (scripts/run_benchmarks.sh ci finds it).
        #[arg(long)]
        previous: Option<PathBuf>,
        /// The justification file of the baseline (e.g. profiles/baselines/main.justified.json).
        #[arg(long, requires = "previous")]
        justified: Option<PathBuf>,
        /// Compare even when BASELINE or RESULTS has no environment record
        /// beside it (its toolchain is then unknown; said so in the output).
        #[arg(long)]
        allow_unknown_environment: bool,
        /// The bench history (e.g. profiles/baselines/history.jsonl): a bench
        /// with at least 8 past changes is judged against the smaller of the
        /// floor and its fence, Q3 + 3 x IQR of those changes, never below
        /// 0.05% (`history show`).
        #[arg(long, conflicts_with = "exact")]
        history: Option<PathBuf>,
    },
    /// The bench history, one line per commit in
    /// profiles/baselines/history.jsonl: build it from git, append a run,
    /// show a bench over commits and the fences the gate learns from it.
    History {
        #[command(subcommand)]
        command: HistoryCommand,
    },
    /// README's generated headline table (instructions per item) from the
    /// saved baseline: print it, rewrite it in README (--write), or fail when
    /// README disagrees with the baseline (--check, run by CI).
    Readme {
        /// Fail (exit 1, with the expected table) unless README's section equals the generated one.
        #[arg(long, conflicts_with = "write")]
        check: bool,
        /// Rewrite the section in README in place.
        #[arg(long)]
        write: bool,
        /// The baseline the figures come from.
        #[arg(long, default_value = "profiles/baselines/main.json")]
        baseline: PathBuf,
        /// The README holding the section.
        #[arg(long, default_value = "README.md")]
        readme: PathBuf,
    },
}

#[derive(Subcommand)]
enum HistoryCommand {
    /// Build the history from git: one line for every commit that changed
    /// the baseline, oldest first, with that commit's subject and counts;
    /// versions that are not BMF are skipped with a note. Lines already in
    /// the file for other commits stay (in date order), except dirty ones
    /// whose counts a backfilled commit holds exactly.
    Backfill {
        /// The history file.
        #[arg(long, default_value = otlp_lab::history::HISTORY_FILE)]
        file: PathBuf,
        /// The baseline whose git history is read (a path from the repository's root).
        #[arg(long, default_value = otlp_lab::history::MAIN_BASELINE)]
        baseline: String,
    },
    /// Append a run's counts (BMF) as HEAD's line, replacing a line HEAD
    /// already has; a working tree with changes to tracked files (the
    /// history file aside) marks the line `"dirty": true`.
    Append {
        /// The run's results (BMF JSON), e.g. profiles/results.json.
        results: PathBuf,
        /// The history file (created when missing).
        #[arg(long, default_value = otlp_lab::history::HISTORY_FILE)]
        file: PathBuf,
    },
    /// Print every bench's fence (past changes, Q1, Q3, fence, whether the
    /// gate applies it), or with BENCH its instruction count over commits.
    Show {
        /// One bench, to list its counts commit by commit.
        bench: Option<String>,
        /// The history file.
        #[arg(long, default_value = otlp_lab::history::HISTORY_FILE)]
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("otlp-lab: {e}");
            // A refusal to compare is neither a bad file (1) nor a flagged run (3).
            if e.downcast_ref::<otlp_lab::toolchain::Refusal>().is_some() {
                ExitCode::from(ENVIRONMENT_REFUSED)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Box<dyn Error>> {
    Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?)
}

fn run(cli: Cli) -> Result<(), Box<dyn Error>> {
    match cli.command {
        Command::List => {
            for j in Job::all() {
                println!("{:<34} {:<14} {}", j.name(), j.kind(), j.description());
            }
        }
        Command::Run { name, iterations, scale, duration } => {
            let params = ScenarioParams { duration: Duration::from_secs(duration), scale };
            run_job(name, iterations, &params)?;
        }
        Command::Receive { http, grpc, expect_spans, expect_points, expect_logs, timeout, limits } => {
            let expect = [expect_spans, expect_points, expect_logs];
            let config = limits.config(http, grpc);
            return Ok(runtime()?.block_on(otlp_lab::net::receive(config, expect, Duration::from_secs(timeout)))?);
        }
        Command::Send { endpoint, loopback, protocol, compression, spans, points, logs, deadline } => {
            let plan = otlp_lab::net::SendPlan {
                protocol,
                compression,
                spans,
                points,
                logs,
                deadline: Duration::from_secs(deadline),
            };
            let endpoint = (!loopback).then(|| {
                endpoint.unwrap_or_else(|| {
                    let port = if protocol == otlp_pipeline::exporter::Protocol::Grpc { 4317 } else { 4318 };
                    format!("http://127.0.0.1:{port}")
                })
            });
            return Ok(runtime()?.block_on(otlp_lab::net::send(endpoint, plan))?);
        }
        Command::Attack(args) => {
            let file = otlp_lab::attack::cli(&args)?;
            if file.rows.iter().any(|r| !r.valid_after) {
                return Err("the receiver did not accept a valid request after an attack".into());
            }
        }
        Command::Encode { out, items } => {
            let written = otlp_lab::report::write_fixture_bodies(&out, items as usize)
                .map_err(|e| format!("{}: {e}", out.display()))?;
            for (name, bytes) in written {
                println!("{} {bytes}", out.join(name).display());
            }
        }
        Command::Load(args) => otlp_lab::load::cli(args)?,
        Command::ExporterRun { implementation, spans, endpoint, protocol, compression, usage } => {
            use otlp_lab::exporter_run::{Case, RunPlan, run};
            let plan = RunPlan { implementation, spans, endpoint, case: Case { protocol, compression } };
            let started = std::time::Instant::now();
            let report = run(&plan)?;
            let wall = started.elapsed();
            eprintln!(
                "otlp-lab: {implementation} exported {} of {} spans ({})",
                report.exported, report.created, plan.case
            );
            if usage {
                let u = otlp_lab::exporter_load::RunUsage::now(implementation, spans, report.exported, wall);
                println!("{}", serde_json::to_string(&u)?);
            }
        }
        Command::ExporterLoad { implementations, case, spans, repeats } => {
            use otlp_lab::exporter_load::{LoadConfig, run, table};
            let cfg = LoadConfig { implementations, case, spans, repeats, exe: std::env::current_exe()? };
            let rows = run(&cfg)?;
            print!("{}", table(&cfg, &rows));
        }
        Command::ExporterCompare { repeats, low, high, implementations, cases, no_heap, out } => {
            use otlp_lab::exporter_compare::{CompareConfig, compare, table};
            let exe = std::env::current_exe()?;
            let cfg = CompareConfig { repeats, low, high, implementations, cases, heap: !no_heap, out, exe };
            let rows = compare(&cfg)?;
            print!("{}", table(&cfg, &rows));
        }
        Command::Sizes { items } => otlp_lab::report::print_sizes(items as usize),
        Command::Icount { files } => {
            print!("{}", otlp_lab::report::icount_table(&read_icount(&files)?));
        }
        Command::Flame { name, duration, frequency, blocklist, no_blocklist, scale, max_iterations, diff, out } => {
            if !(duration.is_finite() && duration > 0.0 && duration <= 86_400.0) {
                return Err(format!("--duration must be between 0 and 86400 seconds, got {duration}").into());
            }
            let config = otlp_lab::flame::FlameConfig {
                duration: Duration::from_secs_f64(duration),
                frequency_hz: frequency,
                blocklist: if blocklist || no_blocklist { blocklist } else { otlp_lab::flame::DEFAULT_BLOCKLIST },
                scale,
                max_iterations,
            };
            otlp_lab::flame::flame(name, &config, diff.as_deref(), &out)?;
        }
        Command::Report { profiles, flamegraphs, baseline, out, floor, history } => {
            if !(floor.is_finite() && floor >= 0.0) {
                return Err(format!("--floor must be a percentage of zero or more, got {floor}").into());
            }
            let baseline = baseline.unwrap_or_else(|| profiles.join("baselines/main.json"));
            let cfg = otlp_lab::html::Config {
                history: history.unwrap_or_else(|| baseline.with_file_name("history.jsonl")),
                baseline,
                out: out.unwrap_or_else(|| profiles.clone()),
                profiles,
                flamegraphs,
                floor_pct: floor,
            };
            let w = otlp_lab::html::build(&cfg)?;
            println!("report: {} and {}", w.html.display(), w.markdown.display());
            println!("exports: {} and {}", w.bmf.display(), w.github_action_benchmark.display());
            if !w.not_run.is_empty() {
                println!("not run (missing): {}", w.not_run.join(", "));
            }
            if w.gate_failed {
                println!("the regression gate flagged benches (see the report's instruction counts)");
            }
        }
        Command::Env { out } => {
            let env = otlp_lab::html::env::write(&out)?;
            println!(
                "{}: {} ({} cores), {}, {} (LLVM {})",
                out.display(),
                env.cpu_model,
                env.cores,
                env.kernel,
                env.rustc.version,
                env.rustc.llvm_version.as_deref().unwrap_or("none")
            );
        }
        Command::Heap { args } => return heap_tool("run", &args),
        Command::HeapFlame { profile, diff } => {
            use otlp_lab::heap::fold::{DhatProfile, write_flamegraphs};
            let old = diff.map(|p| DhatProfile::read(&p).map(|d| (p, d))).transpose()?;
            let dhat = DhatProfile::read(&profile)?;
            let old = old.as_ref().map(|(p, d)| (p.as_path(), d));
            for p in write_flamegraphs(&profile, &dhat, old, &mut |note| eprintln!("otlp-lab heap-flame: {note}"))? {
                println!("{}", p.display());
            }
        }
        Command::Pool { args } => return heap_tool("pool", &args),
        Command::Audit { args } => return heap_tool("audit", &args),
        Command::Bmf { files, out } => {
            let results = otlp_lab::baseline::from_rows(&read_icount(&files)?);
            if results.is_empty() {
                return Err("no bench results in the given files".into());
            }
            let blind = otlp_lab::budgets::blind_allocation_counts(&results);
            if !blind.is_empty() {
                return Err(format!(
                    "DHAT counted 0 blocks per run on {}, whose budgets are above zero: the frame it counts under \
                     ({}) is missing from their stacks (renamed, inlined, or left by a tail call; src/bench_config.rs)",
                    blind.join(", "),
                    otlp_lab::bench_config::DHAT_ENTRY_POINT
                )
                .into());
            }
            let text = otlp_lab::baseline::to_bmf(&results);
            match out {
                Some(path) => {
                    fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
                    otlp_lab::baseline::RunRecord::from_files(&files).write_beside(&path)?;
                    let env = otlp_lab::html::env::collect_in(Path::new("."))?;
                    env.write(&otlp_lab::html::env::Environment::path_for(&path))?;
                }
                None => print!("{text}"),
            }
        }
        Command::Suites { results } => match otlp_lab::baseline::RunRecord::read_beside(&results)? {
            Some(r) if r.is_full() => println!("full {}", r.suites.join(" ")),
            Some(r) => println!("partial {}", r.suites.join(" ")),
            None => println!("unknown"),
        },
        Command::Readme { check, write, baseline, readme } => {
            let text = fs::read_to_string(&baseline).map_err(|e| format!("{}: {e}", baseline.display()))?;
            let results = otlp_lab::baseline::from_bmf(&text).map_err(|e| format!("{}: {e}", baseline.display()))?;
            let table = otlp_lab::readme::headline_table(&results, |w| w.prepare().run().items)?;
            if !(check || write) {
                print!("{table}");
                return Ok(());
            }
            let old = fs::read_to_string(&readme).map_err(|e| format!("{}: {e}", readme.display()))?;
            let new = otlp_lab::readme::splice(&old, &table).map_err(|e| format!("{}: {e}", readme.display()))?;
            if write {
                if new != old {
                    fs::write(&readme, &new).map_err(|e| format!("{}: {e}", readme.display()))?;
                    println!("{}: headline table rewritten from {}", readme.display(), baseline.display());
                } else {
                    println!("{}: headline table already matches {}", readme.display(), baseline.display());
                }
            } else if new != old {
                return Err(format!(
                    "{}: the headline table disagrees with {}; expected:\n{table}run `target/release/otlp-lab readme --write` and commit",
                    readme.display(),
                    baseline.display()
                )
                .into());
            } else {
                println!("{}: headline table matches {}", readme.display(), baseline.display());
            }
        }
        Command::History { command } => history(command)?,
        Command::Compare {
            baseline,
            results,
            floor,
            exact,
            partial,
            previous,
            justified,
            allow_unknown_environment,
            history,
        } => {
            let files = CompareFiles {
                baseline: &baseline,
                results: &results,
                previous: previous.as_deref(),
                justified: justified.as_deref(),
                history: history.as_deref(),
            };
            return compare(&files, floor, exact, partial, allow_unknown_environment);
        }
    }
    Ok(())
}

/// The `history` commands.
fn history(command: HistoryCommand) -> Result<(), Box<dyn Error>> {
    use otlp_lab::history::{self, Entry, History, MIN_CHANGES};
    let root = Path::new(".");
    match command {
        HistoryCommand::Backfill { file, baseline } => {
            let old = History::read(&file)?;
            let b = history::backfill(root, &baseline, old.as_ref())?;
            for note in &b.skipped {
                println!("note: skipped {note}");
            }
            if b.history.is_empty() {
                return Err(format!("no commit with a BMF {baseline}: nothing to write to {}", file.display()).into());
            }
            b.history.write(&file)?;
            println!(
                "{}: {} lines ({} commits that changed {baseline}, {} lines of other commits kept, {} dirty lines superseded, {} versions skipped)",
                file.display(),
                b.history.len(),
                b.history.len() - b.kept,
                b.kept,
                b.superseded,
                b.skipped.len()
            );
        }
        HistoryCommand::Append { results, file } => {
            let text = fs::read_to_string(&results).map_err(|e| format!("{}: {e}", results.display()))?;
            let run = otlp_lab::baseline::from_bmf(&text).map_err(|e| format!("{}: {e}", results.display()))?;
            if run.is_empty() {
                return Err(format!("{}: no benches to append", results.display()).into());
            }
            let info = history::commit_info(root, "HEAD")?;
            let dirty = history::tree_dirty(root)?;
            let mut h = History::read(&file)?.unwrap_or_default();
            let replaced = h.entries().any(|(e, _)| e.commit == info.commit);
            let (short, subject) = (info.short.clone(), info.subject.clone());
            h.upsert(Entry::new(info, dirty, &run))?;
            h.write(&file)?;
            println!(
                "{}: {} {short} {subject}{} ({} benches; {} lines)",
                file.display(),
                if replaced { "replaced the line of" } else { "appended" },
                if dirty { " (dirty: the working tree has changes)" } else { "" },
                run.len(),
                h.len()
            );
        }
        HistoryCommand::Show { bench, file } => {
            let h = History::read(&file)?
                .ok_or_else(|| format!("{}: no such file (`otlp-lab history backfill` builds it)", file.display()))?;
            match bench {
                Some(b) => {
                    let rows: Vec<_> = h.series(&b).collect();
                    if rows.is_empty() {
                        return Err(format!("{}: no line has the bench `{b}`", file.display()).into());
                    }
                    println!("{:<9} {:<20} {:>14} {:>9}  subject", "commit", "date", "instructions", "change");
                    let mut prev: Option<u64> = None;
                    for (_, e, n) in rows {
                        let change = prev.filter(|p| *p > 0).map_or_else(
                            || "-".to_owned(),
                            |p| format!("{:+.3}%", (n as f64 - p as f64) / p as f64 * 100.0),
                        );
                        let dirty = if e.dirty { " (dirty)" } else { "" };
                        println!("{:<9} {:<20} {n:>14} {change:>9}  {}{dirty}", e.short, e.date, e.subject);
                        prev = Some(n);
                    }
                    print_fences(&h, Some(&b));
                }
                None => print_fences(&h, None),
            }
            println!(
                "the gate applies a fence once a bench has {MIN_CHANGES} past changes: a change beyond the smaller of the floor and the fence (at least {}%) is flagged (README, \"Baselines and the regression gate\")",
                otlp_lab::baseline::FENCE_MIN_PCT
            );
        }
    }
    Ok(())
}

/// The fence table of `history show`: every bench, or one.
fn print_fences(h: &otlp_lab::history::History, only: Option<&str>) {
    println!("{:<40} {:>7} {:>9} {:>9} {:>9}  gate", "bench", "changes", "Q1", "Q3", "fence");
    let fences = h.fences();
    for b in h.benches() {
        if only.is_some_and(|o| o != b) {
            continue;
        }
        match fences.get(b) {
            Some(f) => println!(
                "{b:<40} {:>7} {:>8.3}% {:>8.3}% {:>8.3}%  {}",
                f.changes,
                f.q1_pct,
                f.q3_pct,
                f.upper_pct,
                if f.applies() { "applied" } else { "too few changes: the floor alone" }
            ),
            None => println!(
                "{b:<40} {:>7} {:>9} {:>9} {:>9}  too few changes: the floor alone",
                h.changes(b).len(),
                "-",
                "-",
                "-"
            ),
        }
    }
}

/// The files `compare` reads.
struct CompareFiles<'a> {
    baseline: &'a Path,
    results: &'a Path,
    previous: Option<&'a Path>,
    justified: Option<&'a Path>,
    history: Option<&'a Path>,
}

/// The `compare` command: the environment records first (a different
/// toolchain or a missing record refuses), then the determinism check with
/// `exact`, else the gate against the current baseline and, with `previous`,
/// the previous one.
fn compare(
    files: &CompareFiles<'_>,
    floor: f64,
    exact: bool,
    partial: bool,
    allow_unknown_environment: bool,
) -> Result<(), Box<dyn Error>> {
    use otlp_lab::baseline::{self, Gate, JustificationFile, RunRecord, Scope};
    let CompareFiles { baseline, results, previous, justified, history } = *files;
    if !(floor.is_finite() && floor >= 0.0) {
        return Err(format!("--floor must be a percentage of zero or more, got {floor}").into());
    }
    let read = |p: &Path| -> Result<baseline::Results, Box<dyn Error>> {
        let text = fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
        Ok(baseline::from_bmf(&text).map_err(|e| format!("{}: {e}", p.display()))?)
    };
    let (old, new) = (read(baseline)?, read(results)?);
    if new.is_empty() {
        return Err(format!("{}: no benches to judge", results.display()).into());
    }
    let current_env = check_environments(baseline, results, allow_unknown_environment)?;
    if exact {
        let diffs = baseline::differences(&old, &new);
        for (id, a, b) in &diffs {
            println!("{id}: {a:?} vs {b:?}");
        }
        if !diffs.is_empty() {
            return Err(format!("{} benches differ between the two runs (determinism check)", diffs.len()).into());
        }
        println!("determinism: {} benches, identical instruction and allocation counts", new.len());
        return Ok(());
    }
    let record = RunRecord::read_beside(results)?;
    let record_path = RunRecord::path_for(results);
    let scope = match (&record, partial) {
        (Some(r), true) if !r.is_full() => r.scope(),
        // A partial judgement only for a run recorded as partial: a full run
        // that lost a bench cannot be passed off as a partial one.
        (Some(r), true) => {
            return Err(format!(
                "--partial, but {} says every quick suite ran ({}): judge it as a full run",
                record_path.display(),
                r.suites.join(", ")
            )
            .into());
        }
        (None, true) => {
            return Err(format!(
                "--partial needs the run's record of its suites, {}, which is missing (`otlp-lab bmf --out` writes it)",
                record_path.display()
            )
            .into());
        }
        (Some(r), false) if !r.is_full() => {
            println!(
                "note: {} says this run is partial (suites: {}); without --partial it is judged as a full run",
                record_path.display(),
                r.suites.join(", ")
            );
            Scope::Full
        }
        _ => Scope::Full,
    };
    let fences_pct = match history {
        None => Default::default(),
        Some(p) => {
            let h = otlp_lab::history::History::read(p)?.ok_or_else(|| {
                format!("{}: no such history file (`otlp-lab history backfill` builds it)", p.display())
            })?;
            let fences = h.gate_fences();
            println!(
                "history: {}, {} entries; {} benches have at least {} past changes, each judged against the smaller of the floor and its fence",
                p.display(),
                h.len(),
                fences.len(),
                otlp_lab::history::MIN_CHANGES
            );
            fences
        }
    };
    let gate = Gate { floor_pct: floor, scope, fences_pct };
    println!("against the current baseline, {}:", baseline.display());
    let current = baseline::compare(&old, &new, &gate);
    print!("{}", current.table());
    let mut passed = current.passed();
    if let Some(prev_path) = previous {
        let prev = read(prev_path)?;
        let file = match justified {
            Some(p) => JustificationFile::read(p)?,
            None => JustificationFile::default(),
        };
        if prev == old {
            println!(
                "against the previous baseline, {}: identical to the current baseline, so the comparison above covers it",
                prev_path.display()
            );
        } else {
            println!("against the previous baseline, {}:", prev_path.display());
            note_previous_environment(prev_path, current_env.as_ref())?;
            let c = baseline::compare_with_previous(&prev, &old, &new, &file, &gate);
            print!("{}", c.table());
            if !c.needed.is_empty() {
                let where_ = justified.map_or_else(
                    || JustificationFile::path_for(baseline).display().to_string(),
                    |p| p.display().to_string(),
                );
                println!(
                    "the current baseline made these counts worse; each needs an entry in {where_} with a reviewed `why`:"
                );
                print!("{}", JustificationFile { justified: c.needed.clone() }.to_text());
            }
            passed &= c.passed();
        }
    }
    if !passed {
        // Its own exit code, so that scripts can tell a flagged run
        // from a file that could not be read (exit 1).
        eprintln!("otlp-lab: regression gate failed against {}", baseline.display());
        std::process::exit(GATE_FAILED);
    }
    Ok(())
}

/// The environment gate of `compare`: reads the records beside the baseline
/// and the run and refuses ([`Refusal`](otlp_lab::toolchain::Refusal)) when
/// their toolchains differ, or when one is missing without
/// `allow_unknown`; prints the differences that are only warnings. Returns
/// the record of the current toolchain (the baseline's, else the run's) for
/// the comparison with the previous baseline.
fn check_environments(
    baseline: &Path,
    results: &Path,
    allow_unknown: bool,
) -> Result<Option<otlp_lab::html::env::Environment>, Box<dyn Error>> {
    use otlp_lab::html::env::Environment;
    use otlp_lab::toolchain::Refusal;
    let base = Environment::read_beside(baseline)?;
    let run = Environment::read_beside(results)?;
    match (&base, &run) {
        (Some(b), Some(r)) => {
            let check = b.check(r);
            if !check.comparable() {
                let (baseline, run) = (baseline.to_owned(), results.to_owned());
                return Err(Refusal::Toolchain { baseline, run, differences: check.refused }.into());
            }
            for w in &check.warned {
                println!("warning: the environments differ in {w} (the toolchain and CPU features match: compared)");
            }
        }
        _ => {
            for (path, env) in [(baseline, &base), (results, &run)] {
                if env.is_some() {
                    continue;
                }
                let record = Environment::path_for(path);
                if !allow_unknown {
                    return Err(Refusal::Unknown { results: path.to_owned(), record }.into());
                }
                println!(
                    "note: {} has no environment record ({}): compared without knowing its toolchain (--allow-unknown-environment)",
                    path.display(),
                    record.display()
                );
            }
        }
    }
    Ok(base.or(run))
}

/// Says what is known of the previous baseline's toolchain. Its counts are
/// compared whatever it was: the previous baseline is the one this commit
/// replaced, so a toolchain change in this commit shows as changed counts,
/// each worse one needing its justification like any other.
fn note_previous_environment(
    previous: &Path,
    current: Option<&otlp_lab::html::env::Environment>,
) -> Result<(), Box<dyn Error>> {
    use otlp_lab::html::env::Environment;
    match (Environment::read_beside(previous)?, current) {
        (None, _) => println!(
            "note: the previous baseline has no environment record ({}): its counts are compared as they are, its toolchain unknown",
            Environment::path_for(previous).display()
        ),
        (Some(p), Some(c)) => {
            let check = p.check(c);
            if !check.comparable() {
                println!(
                    "note: the previous baseline was measured on another toolchain than the current one, which this commit changed; its counts are compared, and each worse count needs its justification:"
                );
                for d in &check.refused {
                    println!("  {}: previous {}, current {}", d.key, d.baseline, d.run);
                }
            }
        }
        (Some(_), None) => {}
    }
    Ok(())
}

/// Runs a job once as a warm-up and then `iterations` times, checking that
/// every run gives the same outcome (sustained_load excepted: it is paced by
/// the clock), and prints the outcome and the median wall time.
fn run_job(job: Job, iterations: Option<u32>, params: &ScenarioParams) -> Result<(), Box<dyn Error>> {
    let mut p = job.prepare(params).map_err(|e| format!("{job}: {e}"))?;
    // A micro-workload takes microseconds, a scenario up to seconds.
    let iterations = iterations.unwrap_or(if matches!(job, Job::Workload(_)) { 20 } else { 1 });
    let first = p.run().map_err(|e| format!("{job}: {e}"))?;
    let mut times = Vec::with_capacity(iterations as usize);
    for _ in 0..iterations {
        let t = Instant::now();
        let o = p.run().map_err(|e| format!("{job}: {e}"))?;
        times.push(t.elapsed());
        if job.repeatable() && o != first {
            return Err(format!("{job}: outcome changed between runs: {first:?} then {o:?}").into());
        }
    }
    times.sort();
    let median = times[times.len() / 2];
    println!("{job}: items={} bytes={} checksum={:#018x}", first.items, first.bytes, first.checksum);
    println!(
        "median {median:?} over {iterations} runs after a warm-up ({:.0} ns/item); wall time is indicative only, instruction counts come from `cargo bench`",
        median.as_nanos() as f64 / first.items.max(1) as f64
    );
    for row in p.rows() {
        println!("  {row}");
    }
    Ok(())
}

/// Exit code of `compare` when the gate flags a regression (iai-callgrind's
/// runner uses the same for its own limits).
const GATE_FAILED: i32 = 3;

/// Exit code of `compare` when it refuses to compare (different toolchains,
/// or an environment record missing).
const ENVIRONMENT_REFUSED: u8 = 4;

/// Runs the heap profiler binary, which sits beside this one (it has dhat's
/// global allocator, this one keeps the system's).
fn heap_tool(command: &str, args: &[String]) -> Result<(), Box<dyn Error>> {
    let exe = std::env::current_exe()?.with_file_name("otlp-lab-heap");
    let status =
        std::process::Command::new(&exe).arg(command).args(args).status().map_err(|e| {
            format!("{}: {e} (build it with `cargo build --release --bin otlp-lab-heap`)", exe.display())
        })?;
    if status.success() { Ok(()) } else { Err(format!("otlp-lab-heap {command} failed ({status})").into()) }
}

/// Reads bench rows from iai-callgrind JSON-lines files.
fn read_icount(files: &[PathBuf]) -> Result<Vec<otlp_lab::report::IcountRow>, Box<dyn Error>> {
    let mut rows = Vec::new();
    for f in files {
        let text = fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
        rows.extend(otlp_lab::report::parse_icount_lines(&text).map_err(|e| format!("{}: {e}", f.display()))?);
    }
    Ok(rows)
}

/// The receiver's limits as `receive` flags; each default is the library's
/// (`otlp_pipeline::receiver::ReceiverConfig`, whose docs say why).
#[derive(clap::Args, Debug)]
struct ReceiveLimits {
    /// Largest request as sent (compressed), in bytes: the HTTP body or the gRPC message.
    #[arg(long, default_value_t = 4 << 20, value_parser = clap::value_parser!(u64).range(1..=(1 << 32)))]
    max_body_bytes: u64,
    /// Largest request once decompressed, in bytes: bounds a decompression bomb.
    #[arg(long, default_value_t = 16 << 20, value_parser = clap::value_parser!(u64).range(1..=(1 << 34)))]
    max_decompressed_bytes: u64,
    /// The most memory one request's decode may allocate, in bytes (OTLP/protobuf: the model; OTLP/JSON: also the parser's buffers and copied strings).
    #[arg(long, default_value_t = 64 << 20, value_parser = clap::value_parser!(u64).range(1..=(1 << 36)))]
    max_decode_bytes: u64,
    /// Requests decompressed and decoded at once, receiver-wide [default: available parallelism, 1 to 4].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    max_concurrent_decodes: Option<u64>,
    /// Connections served at once on each listener; more wait to be accepted.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=65_536))]
    max_connections: u64,
    /// Requests (HTTP/2 streams) open at once on one gRPC connection.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    max_concurrent_streams: u32,
    /// Seconds a client has from connecting to finish TLS and send its first request's headers.
    #[arg(long, default_value = "10", value_parser = positive_seconds)]
    header_read_timeout: Duration,
    /// Seconds a client has to send a request's body once its headers are in.
    #[arg(long, default_value = "30", value_parser = positive_seconds)]
    body_read_timeout: Duration,
    /// Seconds a connection with no request in flight stays open.
    #[arg(long, default_value = "120", value_parser = positive_seconds)]
    idle_timeout: Duration,
}

impl ReceiveLimits {
    /// The receiver's settings for these limits and addresses.
    fn config(&self, http: std::net::SocketAddr, grpc: Option<std::net::SocketAddr>) -> ReceiverConfig {
        // The ranges above keep each size within usize on 64-bit targets;
        // elsewhere a size that does not fit becomes the largest that does.
        let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        let defaults = ReceiverConfig::default();
        ReceiverConfig {
            http_addr: http,
            grpc_addr: grpc,
            max_body_bytes: size(self.max_body_bytes),
            max_decompressed_bytes: size(self.max_decompressed_bytes),
            max_decode_bytes: size(self.max_decode_bytes),
            max_concurrent_decodes: self.max_concurrent_decodes.map_or(defaults.max_concurrent_decodes, size),
            max_connections: size(self.max_connections),
            max_concurrent_streams: self.max_concurrent_streams,
            header_read_timeout: self.header_read_timeout,
            body_read_timeout: self.body_read_timeout,
            idle_timeout: self.idle_timeout,
            ..defaults
        }
    }
}

/// A `--*-timeout` flag: seconds, more than 0 and at most a day.
fn positive_seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s.parse().map_err(|e| format!("{s:?} is not a number of seconds: {e}"))?;
    if secs.is_finite() && secs > 0.0 && secs <= 86_400.0 {
        Ok(Duration::from_secs_f64(secs))
    } else {
        Err(format!("{s} must be more than 0 and at most 86400 seconds"))
    }
}
