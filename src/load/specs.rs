//! What a load run is asked to do: the scenarios, their steps, the options
//! and the command line.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::harness::{Implementation, Pace};
use crate::scenarios;
use otlp_pipeline::compress::Compression;
use otlp_pipeline::exporter::Protocol;
use otlp_pipeline::pipeline::PipelineConfig;

/// Offered rate of `sustained_load` when no `--rate` is given, in items/s:
/// the scenario's own rate, so that the name means one rate in every runner.
pub const SUSTAINED_DEFAULT_RATE: f64 = scenarios::SUSTAINED_RATE as f64;
/// The largest `--queue`: the ring is allocated whole at start, so this
/// bounds the memory a mistyped setting can take.
pub const MAX_QUEUE: usize = 1 << 20;

/// The load scenarios.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LoadScenario {
    /// The 70/20/10 mix from 50 workers.
    #[serde(rename = "production_workload")]
    Production,
    /// The mix from 10, 50, 100, 200 and 500 producers.
    #[serde(rename = "high_concurrency")]
    HighConcurrency,
    /// The mix with batches of 100, 500, 1,000 and 5,000 items.
    #[serde(rename = "batch_processing")]
    BatchProcessing,
    /// The mix over http/protobuf, http/json and grpc, each with none, gzip and zstd.
    #[serde(rename = "network_io")]
    NetworkIo,
    /// The mix offered at a steady rate (open loop).
    #[serde(rename = "sustained_load")]
    Sustained,
}

impl LoadScenario {
    /// Every load scenario.
    pub const ALL: [LoadScenario; 5] = [
        LoadScenario::Production,
        LoadScenario::HighConcurrency,
        LoadScenario::BatchProcessing,
        LoadScenario::NetworkIo,
        LoadScenario::Sustained,
    ];

    /// Its name, as the CLI takes it and the result file is called.
    pub const fn name(self) -> &'static str {
        match self {
            LoadScenario::Production => "production_workload",
            LoadScenario::HighConcurrency => "high_concurrency",
            LoadScenario::BatchProcessing => "batch_processing",
            LoadScenario::NetworkIo => "network_io",
            LoadScenario::Sustained => "sustained_load",
        }
    }

    /// Whether the production workload's targets (`TARGET_*` in
    /// `src/load/summary.rs`) apply: the production mix from 50 workers,
    /// closed or open loop.
    pub const fn has_targets(self) -> bool {
        matches!(self, LoadScenario::Production | LoadScenario::Sustained)
    }

    /// The steps of a run with these options.
    pub fn steps(self, o: &LoadOptions) -> Vec<StepSpec> {
        let step = |name: String, protocol, compression, workers, batch, rate| StepSpec {
            step: name,
            protocol,
            compression,
            workers,
            batch,
            exports: o.exports.unwrap_or(PipelineConfig::default().max_concurrent_exports),
            queue: o.queue.unwrap_or(PipelineConfig::default().queue_capacity),
            rate,
            duration: o.duration,
        };
        let workers = o.workers.unwrap_or(scenarios::WORKERS);
        let batch = o.batch.unwrap_or(PipelineConfig::default().max_batch_items);
        match self {
            LoadScenario::Production => {
                vec![step(format!("workers={workers}"), o.protocol, o.compression, workers, batch, o.rate)]
            }
            LoadScenario::Sustained => {
                let rate = o.rate.unwrap_or(SUSTAINED_DEFAULT_RATE);
                vec![step(format!("rate={rate}"), o.protocol, o.compression, workers, batch, Some(rate))]
            }
            LoadScenario::HighConcurrency => scenarios::PRODUCERS
                .iter()
                .map(|&p| step(format!("producers={p}"), o.protocol, o.compression, p, batch, o.rate))
                .collect(),
            LoadScenario::BatchProcessing => scenarios::BATCH_SIZES
                .iter()
                .map(|&b| step(format!("batch={b}"), o.protocol, o.compression, workers, b, o.rate))
                .collect(),
            LoadScenario::NetworkIo => {
                let mut steps = Vec::new();
                for protocol in [Protocol::HttpProtobuf, Protocol::HttpJson, Protocol::Grpc] {
                    for compression in [Compression::None, Compression::GZIP_DEFAULT, Compression::ZSTD_DEFAULT] {
                        let name = format!("{protocol}+{}", codec_name(compression));
                        steps.push(step(name, protocol, compression, workers, batch, o.rate));
                    }
                }
                steps
            }
        }
    }
}

impl fmt::Display for LoadScenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A scenario name `otlp-lab load` does not know.
#[derive(Debug, thiserror::Error)]
#[error(
    "unknown load scenario `{0}`: expected one of production_workload, high_concurrency, batch_processing, network_io, sustained_load"
)]
pub struct UnknownLoadScenario(pub String);

impl FromStr for LoadScenario {
    type Err = UnknownLoadScenario;
    fn from_str(s: &str) -> Result<Self, UnknownLoadScenario> {
        LoadScenario::ALL.into_iter().find(|l| l.name() == s).ok_or_else(|| UnknownLoadScenario(s.to_owned()))
    }
}

/// Options of `otlp-lab load`.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// An OTLP endpoint to load instead of the loopback receiver.
    pub endpoint: Option<String>,
    /// The protocol (the network_io sweep sets its own).
    pub protocol: Protocol,
    /// The body codec (the network_io sweep sets its own).
    pub compression: Compression,
    /// How long each step offers load.
    pub duration: Duration,
    /// Items per second to offer (open loop); `None` is the closed loop.
    pub rate: Option<f64>,
    /// Producers (default 50; the high_concurrency sweep sets its own).
    pub workers: Option<u64>,
    /// Items per batch (default the pipeline's; the batch_processing sweep sets its own).
    pub batch: Option<usize>,
    /// Our export requests in flight at once (default the pipeline's).
    pub exports: Option<usize>,
    /// Items the queue holds (ours and the SDK's; default the pipeline's 2,048).
    pub queue: Option<usize>,
    /// The stacks each step runs, in this order (`ours`, `sdk`,
    /// `tracing-ours`, `tracing-otel`, `sdk-ours`; those that use the SDK
    /// need the `official-sdk` feature).
    pub implementations: Vec<Implementation>,
    /// Where the result file goes.
    pub out: PathBuf,
    /// Draw a progress bar (only ever on a terminal).
    pub progress: bool,
    /// The `otlp-lab` binary that runs the children (default: this process's executable).
    pub exe: Option<PathBuf>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            endpoint: None,
            protocol: Protocol::HttpProtobuf,
            compression: Compression::None,
            duration: Duration::from_secs(10),
            rate: None,
            workers: None,
            batch: None,
            exports: None,
            queue: None,
            implementations: vec![Implementation::Ours],
            out: PathBuf::from("profiles/load"),
            progress: true,
            exe: None,
        }
    }
}

/// One step of a scenario, as a child runs it.
#[derive(Clone, Debug, PartialEq)]
pub struct StepSpec {
    /// Its name in the results (`workers=50`, `batch=1000`, `grpc+zstd`, ...).
    pub step: String,
    /// The protocol.
    pub protocol: Protocol,
    /// The body codec.
    pub compression: Compression,
    /// Producers.
    pub workers: u64,
    /// Items per batch.
    pub batch: usize,
    /// Our export requests in flight at once (the SDK exports one at a time).
    pub exports: usize,
    /// Items the queue holds, ours and the SDK's span and log queues alike
    /// (the SDK's is never below one batch).
    pub queue: usize,
    /// Offered items per second (open loop), or `None` (closed loop).
    pub rate: Option<f64>,
    /// How long load is offered.
    pub duration: Duration,
}

impl StepSpec {
    /// How each producer paces its blocks when the step starts at `start`.
    pub(crate) fn pace(&self, start: Instant) -> Pace {
        Pace::new(start, self.duration, self.rate, self.workers)
    }
}

/// The codec's name without its level, as the result file spells it.
pub(crate) fn codec_name(c: Compression) -> &'static str {
    match c {
        Compression::None => "none",
        Compression::Gzip { .. } => "gzip",
        Compression::Zstd { .. } => "zstd",
    }
}

/// The options of `otlp-lab load`.
#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// production_workload, high_concurrency, batch_processing, network_io or sustained_load.
    pub scenario: LoadScenario,
    /// Base URL of an OTLP endpoint to load (default: the loopback receiver in this process).
    #[arg(long)]
    pub endpoint: Option<String>,
    /// http/protobuf, http/json or grpc (network_io sweeps all three).
    #[arg(long, default_value = "http/protobuf")]
    pub protocol: Protocol,
    /// none, gzip or zstd (network_io sweeps all three).
    #[arg(long, default_value = "none")]
    pub compression: Compression,
    /// Seconds of load per step.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Offered items per second (open loop); without it, the closed loop.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Producers (default 50; high_concurrency sweeps its own).
    #[arg(long)]
    pub workers: Option<u64>,
    /// Items per batch (default 512; batch_processing sweeps its own).
    #[arg(long)]
    pub batch: Option<usize>,
    /// Our export requests in flight at once (default 2).
    #[arg(long)]
    pub exports: Option<usize>,
    /// Items the queue holds, ours and the SDK's alike (default 2,048; at
    /// most 1,048,576). An open loop at a high rate needs room for the
    /// items offered while an export is in flight.
    #[arg(long)]
    pub queue: Option<usize>,
    /// Run the official SDK beside ours: the same as `--implementations ours,sdk`
    /// (needs a build with `--features official-sdk`).
    #[arg(long, conflicts_with = "implementations")]
    pub sdk: bool,
    /// Comma-separated stacks to run in each step, in this order: ours, sdk
    /// (the SDK's API + opentelemetry-otlp), tracing-ours (`tracing` + our
    /// layer), tracing-otel (`tracing` + tracing-opentelemetry + the SDK),
    /// sdk-ours (the SDK's API + our processors); sdk, tracing-otel and
    /// sdk-ours need `--features official-sdk`.
    #[arg(long, value_delimiter = ',', default_value = "ours")]
    pub implementations: Vec<Implementation>,
    /// Folder of the result file `<scenario>.json`.
    #[arg(long, default_value = "profiles/load")]
    pub out: PathBuf,
    /// No progress bar (there is none unless standard error is a terminal).
    #[arg(long)]
    pub no_progress: bool,
    /// Internal: run one implementation for one step and print its run as JSON.
    #[arg(long, hide = true, requires = "endpoint")]
    pub child: Option<Implementation>,
    /// Internal: the step's name, for --child.
    #[arg(long, hide = true)]
    pub step: Option<String>,
}
