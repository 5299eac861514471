//! The result files the report reads, as typed values. Field names follow
//! the contracts between the lab's producers (`/work/contracts.md` in the
//! session that built them; the guide lists them). A missing file is `None`
//! (its part is "not run"); a file that is there but malformed is an error
//! naming the file and the field, never a guess.

use std::path::{Path, PathBuf};

use serde_json::Value;

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

    fn opt_f64(&self, key: &str) -> Result<Option<f64>, InputError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.as_f64().map(Some).ok_or_else(|| self.err(key, "a number or null")),
        }
    }

    fn bool(&self, key: &str) -> Result<bool, InputError> {
        self.get(key).and_then(Value::as_bool).ok_or_else(|| self.err(key, "true or false"))
    }

    fn obj<T>(&self, key: &str, f: impl FnOnce(Obj<'_>) -> Result<T, InputError>) -> Result<T, InputError> {
        let v = self.get(key).filter(|v| v.is_object()).ok_or_else(|| self.err(key, "an object"))?;
        let at = self.path(key);
        f(Obj { file: self.file, at: &at, v })
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

    /// Every member of the object at `key` as a number (an absent key: none).
    fn numbers(&self, key: &str) -> Result<Vec<(String, f64)>, InputError> {
        let Some(v) = self.get(key) else { return Ok(Vec::new()) };
        let map = v.as_object().ok_or_else(|| self.err(key, "an object of numbers"))?;
        map.iter()
            .map(|(k, x)| x.as_f64().map(|x| (k.clone(), x)).ok_or_else(|| self.err(&format!("{key}.{k}"), "a number")))
            .collect()
    }

    /// The numeric entries of an object, skipping the rest: `ratios` of a
    /// load run also names its step and basis in words, and a ratio over zero
    /// is null (JSON has no infinity).
    fn numeric_entries(&self, key: &str) -> Result<Vec<(String, f64)>, InputError> {
        let Some(v) = self.get(key) else { return Ok(Vec::new()) };
        let map = v.as_object().ok_or_else(|| self.err(key, "an object"))?;
        Ok(map.iter().filter_map(|(k, x)| x.as_f64().map(|x| (k.clone(), x))).collect())
    }

    fn u64s(&self, key: &str) -> Result<Vec<u64>, InputError> {
        let items =
            self.get(key).and_then(Value::as_array).ok_or_else(|| self.err(key, "an array of whole numbers"))?;
        items.iter().map(|x| x.as_u64().ok_or_else(|| self.err(key, "an array of whole numbers"))).collect()
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

/// One row of `profiles/pool.json`.
#[derive(Clone, Debug, PartialEq)]
pub struct PoolRow {
    /// Which path (encode + zstd, pipeline ...).
    pub path: String,
    /// The workload measured.
    pub workload: String,
    /// `on` or `off`.
    pub pool: String,
    /// Items in one batch.
    pub items_per_batch: u64,
    /// Heap blocks per batch.
    pub blocks_per_batch: f64,
    /// Heap bytes per batch.
    pub bytes_per_batch: f64,
    /// Heap blocks per item.
    pub blocks_per_item: f64,
    /// The process's peak heap.
    pub peak_bytes: u64,
}

/// `profiles/pool.json`, written by `otlp-lab pool`.
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
    /// Parses the file's JSON.
    pub fn from_json(file: &Path, v: &Value) -> Result<Self, InputError> {
        let o = Obj::root(file, v)?;
        Ok(Pool {
            batches: o.u64("batches")?,
            rows: o.arr("rows", |r| {
                let (path, workload, pool) = (r.str("path")?, r.str("workload")?, r.str("pool")?);
                if pool != "on" && pool != "off" {
                    return Err(r.err("pool", "\"on\" or \"off\""));
                }
                Ok(PoolRow {
                    path,
                    workload,
                    pool,
                    items_per_batch: r.u64("items_per_batch")?,
                    blocks_per_batch: r.f64("blocks_per_batch")?,
                    bytes_per_batch: r.f64("bytes_per_batch")?,
                    blocks_per_item: r.f64("blocks_per_item")?,
                    peak_bytes: r.u64("peak_bytes")?,
                })
            })?,
            pipeline_own: if o.get("pipeline_own_blocks_per_batch").is_some() {
                o.arr("pipeline_own_blocks_per_batch", |r| Ok((r.u64("batch_items")?, r.f64("blocks")?)))?
            } else {
                Vec::new()
            },
        })
    }
}

/// One check of the leak audit.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditCheck {
    /// `lifecycle`, `sustained` or `memcheck`.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// What it found.
    pub detail: String,
}

/// `profiles/audit.json`, written by `otlp-lab audit`.
#[derive(Clone, Debug, PartialEq)]
pub struct Audit {
    /// Whether every check passed.
    pub passed: bool,
    /// The checks.
    pub checks: Vec<AuditCheck>,
}

impl Audit {
    /// Parses the file's JSON.
    pub fn from_json(file: &Path, v: &Value) -> Result<Self, InputError> {
        let o = Obj::root(file, v)?;
        Ok(Audit {
            passed: o.bool("passed")?,
            checks: o.arr("checks", |c| {
                Ok(AuditCheck { name: c.str("name")?, passed: c.bool("passed")?, detail: c.str("detail")? })
            })?,
        })
    }
}

/// Export latency percentiles of a load run, in microseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest.
    pub max: f64,
    /// Exports measured.
    pub count: u64,
}

/// One run (one step of a sweep) of a load file.
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

/// `profiles/load/<scenario>.json`, written by `otlp-lab load`.
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
    /// Parses the file's JSON.
    pub fn from_json(file: &Path, v: &Value) -> Result<Self, InputError> {
        let o = Obj::root(file, v)?;
        let targets = if o.get("targets").is_some() {
            Some(o.obj("targets", |t| {
                Ok(LoadTargets {
                    items_per_s: t.opt_f64("items_per_s")?,
                    p99_us: t.opt_f64("p99_us")?,
                    peak_rss_bytes: t.opt_f64("peak_rss_bytes")?,
                    sdk_ratio: t.opt_f64("sdk_ratio")?,
                })
            })?)
        } else {
            None
        };
        Ok(Load {
            scenario: o.str("scenario")?,
            target: o.str("target")?,
            mode: o.str("mode")?,
            runs: o.arr("runs", |r| {
                Ok(LoadRun {
                    implementation: r.str("implementation")?,
                    step: r.str("step")?,
                    protocol: r.str("protocol")?,
                    compression: r.str("compression")?,
                    workers: r.u64("workers")?,
                    offered_rate: r.opt_f64("offered_rate")?,
                    duration_s: r.f64("duration_s")?,
                    offered: r.u64("offered")?,
                    delivered: r.u64("delivered")?,
                    items_per_s: r.f64("items_per_s")?,
                    dropped: r.numbers("dropped")?,
                    dropped_total: r.u64("dropped_total")?,
                    latency: r.obj("latency_us", |l| {
                        Ok(Latency {
                            p50: l.f64("p50")?,
                            p90: l.f64("p90")?,
                            p99: l.f64("p99")?,
                            p999: l.f64("p999")?,
                            max: l.f64("max")?,
                            count: l.u64("count")?,
                        })
                    })?,
                    cpu_user_s: r.f64("cpu_user_s")?,
                    cpu_system_s: r.f64("cpu_system_s")?,
                    peak_rss_bytes: r.u64("peak_rss_bytes")?,
                })
            })?,
            targets,
            ratios: o.numeric_entries("ratios")?,
        })
    }
}

/// Marginal instructions per span of one exporter configuration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    /// Median over the repeats.
    pub median: f64,
    /// Lowest.
    pub min: f64,
    /// Highest.
    pub max: f64,
}

/// One row of `profiles/exporter.json`.
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

/// `profiles/exporter.json`, written by `otlp-lab exporter-compare`.
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
    /// Parses the file's JSON.
    pub fn from_json(file: &Path, v: &Value) -> Result<Self, InputError> {
        let o = Obj::root(file, v)?;
        Ok(Exporter {
            spans_low: o.u64("spans_low")?,
            spans_high: o.u64("spans_high")?,
            repeats: o.u64("repeats")?,
            rows: o.arr("rows", |r| {
                Ok(ExporterRow {
                    implementation: r.str("implementation")?,
                    protocol: r.str("protocol")?,
                    compression: r.str("compression")?,
                    marginal_per_span: r.obj("marginal_per_span", |m| {
                        Ok(Spread { median: m.f64("median")?, min: m.f64("min")?, max: m.f64("max")? })
                    })?,
                    instructions_low: r.u64s("instructions_low")?,
                    instructions_high: r.u64s("instructions_high")?,
                })
            })?,
            targets: o.numbers("targets")?,
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
