//! One run's figures ([`RunResult`]) and the result file
//! `profiles/load/<scenario>.json` ([`LoadFile`], one [`RunRecord`] per run):
//! the runner writes it, the parent reads a child's run back as a
//! [`RunRecord`], and the report reads the file (`crate::html`).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::specs::{LoadScenario, StepSpec, codec_name};
use crate::harness::{Implementation, LatencySummary, Signals, Usage};
use crate::result_file::{self, ResultFileError};
use otlp_pipeline::compress::Compression;
use otlp_pipeline::exporter::Protocol;
use otlp_pipeline::pipeline::PipelineConfig;

/// One implementation's run of one step: a row of `runs` in the result file.
#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    /// Which exporter.
    pub implementation: Implementation,
    /// The step.
    pub spec: StepSpec,
    /// Wall time from the first offer to the end of the exporter's shutdown.
    pub duration_s: f64,
    /// Items offered, per signal.
    pub offered: Signals,
    /// Items delivered, per signal: confirmed by the loopback receiver, or
    /// the exporter's own exported count for another endpoint.
    pub delivered: Signals,
    /// What the exporter says it exported (before the receiver's confirmation).
    pub exported: u64,
    /// Dropped items by reason; they add up to `offered − delivered`.
    pub dropped: BTreeMap<String, u64>,
    /// Export latency per request.
    pub latency: LatencySummary,
    /// The exporter process's CPU and peak RSS.
    pub usage: Usage,
    /// The loopback receiver's CPU seconds (user, system) during the run,
    /// measured in the parent; `None` for another endpoint.
    pub receiver_cpu_s: Option<(f64, f64)>,
    /// Offers actually made per second (open loop: below the rate when the
    /// generator could not keep up and ticks were skipped).
    pub offered_per_s: f64,
    /// Export requests made.
    pub requests: u64,
    /// What the numbers mean where it is not obvious.
    pub notes: Vec<String>,
}

impl RunResult {
    /// Delivered items per second.
    pub fn items_per_s(&self) -> f64 {
        self.delivered.total() as f64 / self.duration_s.max(1e-9)
    }

    /// Delivered spans per second.
    pub fn spans_per_s(&self) -> f64 {
        self.delivered.spans as f64 / self.duration_s.max(1e-9)
    }

    /// Delivered spans and log records per second: the items both
    /// implementations export one by one (the SDK folds metric
    /// measurements into a few aggregated points, ours sends every point),
    /// hence the basis of the comparison with the SDK.
    pub fn spans_logs_per_s(&self) -> f64 {
        (self.delivered.spans + self.delivered.logs) as f64 / self.duration_s.max(1e-9)
    }

    /// All dropped items.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }

    /// CPU seconds (user + system) of the exporter per million delivered items.
    pub fn cpu_s_per_million(&self) -> f64 {
        (self.usage.user_s + self.usage.system_s) * 1e6 / self.delivered.total().max(1) as f64
    }

    /// The run as a row of the result file (and a child's output line).
    pub fn record(&self) -> RunRecord {
        let s = &self.spec;
        RunRecord {
            implementation: self.implementation,
            step: s.step.clone(),
            protocol: s.protocol,
            compression: s.compression,
            workers: s.workers,
            offered_rate: s.rate,
            duration_s: self.duration_s,
            offered: self.offered.total(),
            delivered: self.delivered.total(),
            items_per_s: self.items_per_s(),
            dropped: self.dropped.clone(),
            dropped_total: self.dropped_total(),
            latency_us: self.latency,
            cpu_user_s: self.usage.user_s,
            cpu_system_s: self.usage.system_s,
            peak_rss_bytes: self.usage.peak_rss_bytes,
            batch: s.batch,
            max_concurrent_exports: s.exports,
            queue_capacity: s.queue,
            step_duration_s: s.duration.as_secs_f64(),
            offered_per_signal: self.offered,
            delivered_per_signal: self.delivered,
            exported: self.exported,
            spans_per_s: self.spans_per_s(),
            offered_per_s: self.offered_per_s,
            requests: self.requests,
            cpu_s_per_million_items: self.cpu_s_per_million(),
            notes: self.notes.clone(),
            receiver_cpu_user_s: self.receiver_cpu_s.map(|(user, _)| user),
            receiver_cpu_system_s: self.receiver_cpu_s.map(|(_, system)| system),
        }
    }
}

/// Reads a run back from its row; the totals and rates of the row are
/// derived from the rest, so they are not read.
impl From<RunRecord> for RunResult {
    fn from(r: RunRecord) -> Self {
        RunResult {
            implementation: r.implementation,
            spec: StepSpec {
                step: r.step,
                protocol: r.protocol,
                compression: r.compression,
                workers: r.workers,
                batch: r.batch,
                exports: r.max_concurrent_exports,
                queue: r.queue_capacity,
                rate: r.offered_rate,
                duration: Duration::from_secs_f64(r.step_duration_s.max(0.0)),
            },
            duration_s: r.duration_s,
            offered: r.offered_per_signal,
            delivered: r.delivered_per_signal,
            exported: r.exported,
            dropped: r.dropped,
            latency: r.latency_us,
            usage: Usage { user_s: r.cpu_user_s, system_s: r.cpu_system_s, peak_rss_bytes: r.peak_rss_bytes },
            receiver_cpu_s: r.receiver_cpu_user_s.zip(r.receiver_cpu_system_s),
            offered_per_s: r.offered_per_s,
            requests: r.requests,
            notes: r.notes,
        }
    }
}

/// One run in `profiles/load/<scenario>.json`, and the line a child prints.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Which exporter.
    pub implementation: Implementation,
    /// The step's name (`workers=50`, `batch=1000`, `grpc+zstd`, ...).
    pub step: String,
    /// `http/protobuf`, `http/json` or `grpc`.
    #[serde(with = "result_file::display")]
    pub protocol: Protocol,
    /// `none`, `gzip` or `zstd`: the codec without its level.
    #[serde(with = "codec")]
    pub compression: Compression,
    /// Producers.
    pub workers: u64,
    /// Offered items per second (open loop), null for the closed loop.
    pub offered_rate: Option<f64>,
    /// Wall time from the first offer to the end of the exporter's shutdown.
    pub duration_s: f64,
    /// Items offered.
    pub offered: u64,
    /// Items delivered.
    pub delivered: u64,
    /// Delivered items per second.
    pub items_per_s: f64,
    /// Dropped items by reason.
    pub dropped: BTreeMap<String, u64>,
    /// All dropped items.
    pub dropped_total: u64,
    /// Export latency per request, microseconds.
    pub latency_us: LatencySummary,
    /// The exporter process's user CPU seconds.
    pub cpu_user_s: f64,
    /// The exporter process's system CPU seconds.
    pub cpu_system_s: f64,
    /// The exporter process's peak RSS.
    pub peak_rss_bytes: u64,
    /// Items per batch.
    pub batch: usize,
    /// Our export requests in flight at once.
    pub max_concurrent_exports: usize,
    /// Items the queue holds; a result written before `--queue` existed ran
    /// with the pipeline's default.
    #[serde(default = "default_queue")]
    pub queue_capacity: usize,
    /// How long load was offered.
    pub step_duration_s: f64,
    /// Items offered, per signal.
    pub offered_per_signal: Signals,
    /// Items delivered, per signal.
    pub delivered_per_signal: Signals,
    /// What the exporter says it exported.
    pub exported: u64,
    /// Delivered spans per second.
    pub spans_per_s: f64,
    /// Offers made per second.
    pub offered_per_s: f64,
    /// Export requests made.
    pub requests: u64,
    /// CPU seconds of the exporter per million delivered items.
    pub cpu_s_per_million_items: f64,
    /// What the numbers mean where it is not obvious.
    pub notes: Vec<String>,
    /// The loopback receiver's user CPU seconds during the run (measured in the parent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver_cpu_user_s: Option<f64>,
    /// The loopback receiver's system CPU seconds during the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver_cpu_system_s: Option<f64>,
}

impl RunRecord {
    /// `protocol+compression` as the file spells them (`grpc+zstd`).
    pub fn config(&self) -> String {
        format!("{}+{}", self.protocol, codec_name(self.compression))
    }

    /// CPU seconds of the exporter process, user and system.
    pub fn cpu_s(&self) -> f64 {
        self.cpu_user_s + self.cpu_system_s
    }
}

fn default_queue() -> usize {
    PipelineConfig::default().queue_capacity
}

/// The codec as the result file spells it: its name without the level.
mod codec {
    use otlp_pipeline::compress::Compression;
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(c: &Compression, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(super::codec_name(*c))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Compression, D::Error> {
        crate::result_file::display::deserialize(d)
    }
}

/// `profiles/load/<scenario>.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadFile {
    /// The scenario.
    pub scenario: LoadScenario,
    /// `loopback` or the endpoint URL.
    pub target: String,
    /// `closed` or `open`.
    pub mode: String,
    /// Every run, step by step (per step, in the order of `--implementations`).
    pub runs: Vec<RunRecord>,
    /// The machine's load average (1, 5, 15 minutes) before the runs.
    #[serde(default)]
    pub load_average_before: Option<[f64; 3]>,
    /// The same after the runs.
    #[serde(default)]
    pub load_average_after: Option<[f64; 3]>,
    /// The goals, for the scenarios that have them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<LoadTargets>,
    /// Ours over the SDK's, when both ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratios: Option<Ratios>,
    /// `tracing-ours` over `tracing-otel`, when both ran (the same
    /// [`Ratios`], its `_vs_sdk` fields over tracing-otel's run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing_ratios: Option<Ratios>,
    /// `sdk-ours` over `sdk`, when both ran (the same [`Ratios`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdk_ours_ratios: Option<Ratios>,
}

impl LoadFile {
    /// Where the file of `scenario` goes in `dir`.
    pub fn path(dir: &Path, scenario: LoadScenario) -> std::path::PathBuf {
        dir.join(format!("{}.json", scenario.name()))
    }

    /// Writes it to `path`.
    pub fn write(&self, path: &Path) -> Result<(), ResultFileError> {
        result_file::write(path, self)
    }

    /// Reads `path`; `None` when it does not exist.
    pub fn read(path: &Path) -> Result<Option<LoadFile>, ResultFileError> {
        result_file::read(path)
    }
}

/// The goals a load file is judged against.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadTargets {
    /// Delivered items per second, at least.
    pub items_per_s: f64,
    /// Export p99 in microseconds, at most.
    pub p99_us: f64,
    /// Peak RSS of the exporter process, at most.
    pub peak_rss_bytes: u64,
    /// Our spans and log records per second over the SDK's, at least.
    pub sdk_ratio: f64,
}

/// A stack ending in our pipeline over its twin ending in the SDK, through
/// the same API, in one step (`ours` over `sdk`, `tracing-ours` over
/// `tracing-otel`); a ratio over zero is null (JSON has no infinity).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ratios {
    /// The step both ran.
    pub step: String,
    /// Which items the main ratio counts, in words.
    pub basis: String,
    /// Delivered spans + log records per second.
    #[serde(default)]
    pub items_per_s_vs_sdk: Option<f64>,
    /// Delivered items per second, the SDK's aggregated measurements counted as items.
    #[serde(default)]
    pub all_items_per_s_vs_sdk: Option<f64>,
    /// Delivered spans per second.
    #[serde(default)]
    pub spans_per_s_vs_sdk: Option<f64>,
    /// Export p99.
    #[serde(default)]
    pub p99_us_vs_sdk: Option<f64>,
    /// CPU seconds per million delivered items.
    #[serde(default)]
    pub cpu_s_per_million_vs_sdk: Option<f64>,
    /// Peak RSS.
    #[serde(default)]
    pub peak_rss_vs_sdk: Option<f64>,
}

impl Ratios {
    /// The ratios that are numbers, by their names in the file.
    pub fn numbers(&self) -> Vec<(&'static str, f64)> {
        [
            ("all_items_per_s_vs_sdk", self.all_items_per_s_vs_sdk),
            ("cpu_s_per_million_vs_sdk", self.cpu_s_per_million_vs_sdk),
            ("items_per_s_vs_sdk", self.items_per_s_vs_sdk),
            ("p99_us_vs_sdk", self.p99_us_vs_sdk),
            ("peak_rss_vs_sdk", self.peak_rss_vs_sdk),
            ("spans_per_s_vs_sdk", self.spans_per_s_vs_sdk),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect()
    }
}
