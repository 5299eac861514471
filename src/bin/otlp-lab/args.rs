//! The command line's arguments: every subcommand and its flags (clap).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use otlp_lab::Job;
use otlp_pipeline::receiver::ReceiverConfig;

/// The allocation- and CPU-profiling lab for an OTLP telemetry pipeline.
#[derive(Parser)]
#[command(version, about, long_about = None)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
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
pub(crate) enum HistoryCommand {
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

/// The receiver's limits as `receive` flags; each default is the library's
/// (`otlp_pipeline::receiver::ReceiverConfig`, whose docs say why).
#[derive(clap::Args, Debug)]
pub(crate) struct ReceiveLimits {
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
    pub(crate) fn config(&self, http: std::net::SocketAddr, grpc: Option<std::net::SocketAddr>) -> ReceiverConfig {
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
