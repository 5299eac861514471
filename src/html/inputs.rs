//! The result files the report reads, as typed values. The load, exporter,
//! pool and audit files are read with the serde types of the modules that
//! write them (`crate::load::LoadFile`, `crate::exporter_run::ExporterFile`,
//! `crate::heap::PoolFile` and `crate::heap::AuditFile`), then shaped into
//! what the report's sections use; `environment.json` and the flamegraph
//! summaries are read here. A missing file is `None` (its part is "not
//! run"); a file that is there but malformed is an error naming the file
//! and the field, never a guess.

use std::path::{Path, PathBuf};

use serde_json::Value;

pub use crate::exporter_run::Spread;
pub use crate::harness::LatencySummary as Latency;
pub use crate::heap::{AuditCheck, AuditFile as Audit, PoolRow};
use crate::result_file::{self, ResultFileError};

/// Why a result file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file exists but could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Not JSON.
    #[error("{}: not JSON: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        source: serde_json::Error,
    },
    /// A result file with a serde type that could not be read.
    #[error(transparent)]
    File(#[from] ResultFileError),
    /// JSON, but a field is missing or of the wrong type.
    #[error("{}: `{field}`: expected {want}", path.display())]
    Field {
        /// The file.
        path: PathBuf,
        /// Where in the file, e.g. `runs[2].latency_us.p99`.
        field: String,
        /// What was expected there.
        want: &'static str,
    },
}

/// Reads and parses a JSON file; `None` when it does not exist.
pub(crate) fn read_json(path: &Path) -> Result<Option<Value>, InputError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(InputError::Io { path: path.to_owned(), source }),
    };
    serde_json::from_str(&text).map(Some).map_err(|source| InputError::Json { path: path.to_owned(), source })
}

/// A JSON object being read, with where it sits for error messages.
#[derive(Clone, Copy)]
struct Obj<'a> {
    file: &'a Path,
    at: &'a str,
    v: &'a Value,
}

impl<'a> Obj<'a> {
    fn root(file: &'a Path, v: &'a Value) -> Result<Self, InputError> {
        if !v.is_object() {
            return Err(InputError::Field { path: file.to_owned(), field: "(top level)".into(), want: "an object" });
        }
        Ok(Obj { file, at: "", v })
    }

    fn path(&self, key: &str) -> String {
        if self.at.is_empty() { key.to_owned() } else { format!("{}.{key}", self.at) }
    }

    fn err(&self, key: &str, want: &'static str) -> InputError {
        InputError::Field { path: self.file.to_owned(), field: self.path(key), want }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.v.get(key).filter(|v| !v.is_null())
    }

    fn str(&self, key: &str) -> Result<String, InputError> {
        self.get(key).and_then(Value::as_str).map(str::to_owned).ok_or_else(|| self.err(key, "a string"))
    }

    fn opt_str(&self, key: &str) -> Result<Option<String>, InputError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.as_str().map(|s| Some(s.to_owned())).ok_or_else(|| self.err(key, "a string or null")),
        }
    }

    fn u64(&self, key: &str) -> Result<u64, InputError> {
        self.get(key).and_then(Value::as_u64).ok_or_else(|| self.err(key, "a whole number of zero or more"))
    }

    fn f64(&self, key: &str) -> Result<f64, InputError> {
        self.get(key).and_then(Value::as_f64).ok_or_else(|| self.err(key, "a number"))
    }

    fn bool(&self, key: &str) -> Result<bool, InputError> {
        self.get(key).and_then(Value::as_bool).ok_or_else(|| self.err(key, "true or false"))
    }

    fn arr<T>(&self, key: &str, mut f: impl FnMut(Obj<'_>) -> Result<T, InputError>) -> Result<Vec<T>, InputError> {
        let items = self.get(key).and_then(Value::as_array).ok_or_else(|| self.err(key, "an array"))?;
        items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let at = format!("{}[{i}]", self.path(key));
                if !v.is_object() {
                    return Err(InputError::Field { path: self.file.to_owned(), field: at, want: "an object" });
                }
                f(Obj { file: self.file, at: &at, v })
            })
            .collect()
    }

    fn strs(&self, key: &str) -> Result<Vec<String>, InputError> {
        let items = self.get(key).and_then(Value::as_array).ok_or_else(|| self.err(key, "an array of strings"))?;
        items
            .iter()
            .map(|x| x.as_str().map(str::to_owned).ok_or_else(|| self.err(key, "an array of strings")))
            .collect()
    }
}

/// `profiles/environment.json`, written by `otlp-lab env`.
#[derive(Clone, Debug, PartialEq)]
pub struct Environment {
    /// The CPU's model name.
    pub cpu_model: String,
    /// Cores available to the process.
    pub cores: u64,
    /// Kernel release.
    pub kernel: String,
    /// `rustc --version`.
    pub rustc: String,
    /// `valgrind --version`, when installed.
    pub valgrind: Option<String>,
    /// iai-callgrind-runner's version, when installed.
    pub runner: Option<String>,
    /// The commit checked out.
    pub git_commit: Option<String>,
    /// Whether the tree had uncommitted changes.
    pub git_dirty: bool,
    /// When the file was written (RFC 3339, UTC).
    pub written_at: String,
}

impl Environment {
    /// Parses the file's JSON.
    pub fn from_json(file: &Path, v: &Value) -> Result<Self, InputError> {
        let o = Obj::root(file, v)?;
        Ok(Environment {
            cpu_model: o.str("cpu_model")?,
            cores: o.u64("cores")?,
            kernel: o.str("kernel")?,
            rustc: o.str("rustc")?,
            valgrind: o.opt_str("valgrind")?,
            runner: o.opt_str("runner")?,
            git_commit: o.opt_str("git_commit")?,
            git_dirty: o.bool("git_dirty")?,
            written_at: o.str("written_at")?,
        })
    }

    /// The file's JSON (what [`Environment::from_json`] reads back).
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "cpu_model": self.cpu_model, "cores": self.cores, "kernel": self.kernel, "rustc": self.rustc,
            "valgrind": self.valgrind, "runner": self.runner, "git_commit": self.git_commit,
            "git_dirty": self.git_dirty, "written_at": self.written_at,
        })
    }
}

/// `profiles/pool.json` as the report shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Pool {
    /// Batches per row.
    pub batches: u64,
    /// One row per path and pool setting.
    pub rows: Vec<PoolRow>,
    /// The pipeline's own blocks per batch (the producer's clones taken out), per batch size.
    pub pipeline_own: Vec<(u64, f64)>,
}

impl Pool {
    /// Reads the file's JSON ([`crate::heap::PoolFile`]).
    pub fn from_json(file: &Path, v: &Value) -> Result<Self, InputError> {
        let f: crate::heap::PoolFile = result_file::from_value(file, v)?;
        if let Some(i) = f.rows.iter().position(|r| r.pool != "on" && r.pool != "off") {
            return Err(InputError::Field {
                path: file.to_owned(),
                field: format!("rows[{i}].pool"),
                want: "\"on\" or \"off\"",
            });
        }
        Ok(Pool {
            batches: f.batches,
            rows: f.rows,
            pipeline_own: f.pipeline_own_blocks_per_batch.iter().map(|o| (o.batch_items, o.blocks)).collect(),
        })
    }
}

impl Audit {
    /// Reads the file's JSON.
    pub fn from_json(file: &Path, v: &Value) -> Result<Self, InputError> {
        Ok(result_file::from_value(file, v)?)
    }
}

/// One run (one step of a sweep) of a load file, as the report shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadRun {
    /// `otlp-lab` or `official-sdk`.
    pub implementation: String,
    /// The sweep's step, e.g. `producers=50`.
    pub step: String,
    /// `http/protobuf`, `http/json` or `grpc`.
    pub protocol: String,
    /// `none`, `gzip` or `zstd`.
    pub compression: String,
    /// Producer tasks.
    pub workers: u64,
    /// Offered items per second (open loop), none for a closed loop.
    pub offered_rate: Option<f64>,
    /// Seconds the run lasted.
    pub duration_s: f64,
    /// Items offered.
    pub offered: u64,
    /// Items the receiver counted.
    pub delivered: u64,
    /// Delivered items per second.
    pub items_per_s: f64,
    /// Dropped items by reason.
    pub dropped: Vec<(String, f64)>,
    /// Dropped items in all.
    pub dropped_total: u64,
    /// Export latency.
    pub latency: Latency,
    /// CPU seconds in user mode.
    pub cpu_user_s: f64,
    /// CPU seconds in the kernel.
    pub cpu_system_s: f64,
    /// Peak resident set.
    pub peak_rss_bytes: u64,
}

impl From<crate::load::RunRecord> for LoadRun {
    fn from(r: crate::load::RunRecord) -> Self {
        LoadRun {
            implementation: r.implementation.name().to_owned(),
            protocol: r.protocol.to_string(),
            compression: crate::load::codec_name(r.compression).to_owned(),
            step: r.step,
            workers: r.workers,
            offered_rate: r.offered_rate,
            duration_s: r.duration_s,
            offered: r.offered,
            delivered: r.delivered,
            items_per_s: r.items_per_s,
            dropped: r.dropped.into_iter().map(|(k, n)| (k, n as f64)).collect(),
            dropped_total: r.dropped_total,
            latency: r.latency_us,
            cpu_user_s: r.cpu_user_s,
            cpu_system_s: r.cpu_system_s,
            peak_rss_bytes: r.peak_rss_bytes,
        }
    }
}

/// The goals a load file was judged against.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct LoadTargets {
    /// Delivered items per second, at least.
    pub items_per_s: Option<f64>,
    /// Export p99 in microseconds, at most.
    pub p99_us: Option<f64>,
    /// Peak RSS, at most.
    pub peak_rss_bytes: Option<f64>,
    /// Items per second over the official SDK's, at least.
    pub sdk_ratio: Option<f64>,
}

/// `profiles/load/<scenario>.json` as the report shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Load {
    /// The scenario.
    pub scenario: String,
    /// `loopback` or the endpoint's URL.
    pub target: String,
    /// `closed` or `open`.
    pub mode: String,
    /// One run per step and implementation.
    pub runs: Vec<LoadRun>,
    /// The goals, when the file names them.
    pub targets: Option<LoadTargets>,
    /// Ratios the producer computed (e.g. `items_per_s_vs_sdk`).
    pub ratios: Vec<(String, f64)>,
}

impl Load {
    /// Reads the file's JSON ([`crate::load::LoadFile`]).
    pub fn from_json(file: &Path, v: &Value) -> Result<Self, InputError> {
        let f: crate::load::LoadFile = result_file::from_value(file, v)?;
        Ok(Load {
            scenario: f.scenario.name().to_owned(),
            target: f.target,
            mode: f.mode,
            runs: f.runs.into_iter().map(LoadRun::from).collect(),
            targets: f.targets.map(|t| LoadTargets {
                items_per_s: Some(t.items_per_s),
                p99_us: Some(t.p99_us),
                peak_rss_bytes: Some(t.peak_rss_bytes as f64),
                sdk_ratio: Some(t.sdk_ratio),
            }),
            ratios: f
                .ratios
                .map(|r| r.numbers().into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
                .unwrap_or_default(),
        })
    }
}

/// One row of `profiles/exporter.json`, as the report shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct ExporterRow {
    /// `otlp-lab` or `official-sdk`.
    pub implementation: String,
    /// The protocol.
    pub protocol: String,
    /// The codec.
    pub compression: String,
    /// (instructions at the high count - at the low count) / (high - low spans).
    pub marginal_per_span: Spread,
    /// Whole-process instructions of each repeat at the low span count.
    pub instructions_low: Vec<u64>,
    /// The same at the high span count.
    pub instructions_high: Vec<u64>,
}

impl ExporterRow {
    /// `protocol+compression`, the key of the targets.
    pub fn config(&self) -> String {
        format!("{}+{}", self.protocol, self.compression)
    }
}

/// `profiles/exporter.json`, as the report shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Exporter {
    /// Spans of the short run.
    pub spans_low: u64,
    /// Spans of the long run.
    pub spans_high: u64,
    /// Repeats of each.
    pub repeats: u64,
    /// One row per implementation and configuration.
    pub rows: Vec<ExporterRow>,
    /// Instructions per span at most, keyed by `protocol+compression`.
    pub targets: Vec<(String, f64)>,
}

impl Exporter {
    /// Reads the file's JSON ([`crate::exporter_run::ExporterFile`]).
    pub fn from_json(file: &Path, v: &Value) -> Result<Self, InputError> {
        let f: crate::exporter_run::ExporterFile = result_file::from_value(file, v)?;
        Ok(Exporter {
            spans_low: f.spans_low,
            spans_high: f.spans_high,
            repeats: u64::from(f.repeats),
            rows: f
                .rows
                .into_iter()
                .map(|r| ExporterRow {
                    implementation: r.implementation.name().to_owned(),
                    protocol: r.protocol.to_string(),
                    compression: r.compression.to_string(),
                    marginal_per_span: r.marginal_per_span,
                    instructions_low: r.instructions_low,
                    instructions_high: r.instructions_high,
                })
                .collect(),
            targets: f.targets.into_iter().map(|(k, v)| (k, v as f64)).collect(),
        })
    }
}

/// A function's share of a flamegraph's samples.
#[derive(Clone, Debug, PartialEq)]
pub struct TopFunction {
    /// Its (demangled) name.
    pub function: String,
    /// Samples in it, in percent.
    pub self_pct: f64,
    /// Samples in it or below it, in percent.
    pub total_pct: f64,
}

/// `flamegraphs/<name>.json`, written by `otlp-lab flame`.
#[derive(Clone, Debug, PartialEq)]
pub struct Flame {
    /// The workload or scenario.
    pub name: String,
    /// Samples taken.
    pub samples: u64,
    /// Sampling frequency asked for.
    pub frequency_hz: u64,
    /// Seconds sampled.
    pub duration_s: f64,
    /// Runs of the job.
    pub iterations: u64,
    /// Whether samples in libc and the like were dropped.
    pub blocklist: bool,
    /// Threads seen.
    pub threads: Vec<String>,
    /// The functions with the most samples.
    pub top: Vec<TopFunction>,
}

impl Flame {
    /// Parses the file's JSON.
    pub fn from_json(file: &Path, v: &Value) -> Result<Self, InputError> {
        let o = Obj::root(file, v)?;
        Ok(Flame {
            name: o.str("name")?,
            samples: o.u64("samples")?,
            frequency_hz: o.u64("frequency_hz")?,
            duration_s: o.f64("duration_s")?,
            iterations: o.u64("iterations")?,
            blocklist: o.bool("blocklist")?,
            threads: o.strs("threads")?,
            top: o.arr("top", |t| {
                Ok(TopFunction {
                    function: t.str("function")?,
                    self_pct: t.f64("self_pct")?,
                    total_pct: t.f64("total_pct")?,
                })
            })?,
        })
    }
}

/// Reads `path` with `parse` when it exists.
pub(crate) fn load<T>(
    path: &Path,
    parse: impl FnOnce(&Path, &Value) -> Result<T, InputError>,
) -> Result<Option<T>, InputError> {
    match read_json(path)? {
        None => Ok(None),
        Some(v) => parse(path, &v).map(Some),
    }
}

/// Files in `dir` whose names end with `suffix`, sorted by name (none when
/// the folder does not exist).
pub(crate) fn files_with_suffix(dir: &Path, prefix: &str, suffix: &str) -> Result<Vec<PathBuf>, InputError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(InputError::Io { path: dir.to_owned(), source }),
    };
    let mut out = Vec::new();
    for e in entries {
        let e = e.map_err(|source| InputError::Io { path: dir.to_owned(), source })?;
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(prefix) && name.ends_with(suffix) && e.path().is_file() {
            out.push(e.path());
        }
    }
    out.sort();
    Ok(out)
}
