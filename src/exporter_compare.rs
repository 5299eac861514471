//! `otlp-lab exporter-compare`: runs the whole-exporter process of
//! [`crate::exporter_run`] under callgrind and DHAT at two span counts, for
//! each stack and case, against one loopback receiver, and reports the
//! marginal instructions, heap blocks and wire bytes per span (start-up and
//! shutdown cancel in the difference); writes and reads
//! `profiles/exporter.json` ([`ExporterFile`]).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::exporter_run::{Case, Implementation, NotOnlySpans, RunPlan, TARGETS, check_only_spans};
use crate::harness::SdkNotBuilt;
use crate::result_file::{self, ResultFileError};
use otlp_pipeline::compress::Compression;
use otlp_pipeline::exporter::Protocol;
use otlp_pipeline::receiver::{Receiver, ReceiverConfig};

/// What `exporter-compare` runs.
#[derive(Clone, Debug)]
pub struct CompareConfig {
    /// Runs per implementation, case and span count.
    pub repeats: u32,
    /// The smaller span count.
    pub low: u64,
    /// The larger span count.
    pub high: u64,
    /// Whose exporters.
    pub implementations: Vec<Implementation>,
    /// Protocols and codecs.
    pub cases: Vec<Case>,
    /// Also run each implementation, case and span count once under DHAT
    /// for the heap blocks per span.
    pub heap: bool,
    /// Where the JSON goes.
    pub out: PathBuf,
    /// The `otlp-lab` binary to run under valgrind (normally this one).
    pub exe: PathBuf,
}

/// One row of the results: an implementation and a case.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Whose exporter.
    pub implementation: Implementation,
    /// Protocol and codec.
    pub case: Case,
    /// Total instructions of each repeat at the low count.
    pub low: Vec<u64>,
    /// Total instructions of each repeat at the high count.
    pub high: Vec<u64>,
    /// Body bytes the receiver got in each callgrind run at the low count.
    pub wire_low: Vec<u64>,
    /// The same at the high count.
    pub wire_high: Vec<u64>,
    /// Heap blocks the whole process allocated under DHAT at the low and
    /// the high count (when the comparison ran DHAT).
    pub blocks: Option<(u64, u64)>,
}

/// Median, min and max of a sample.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// The median (the mean of the middle two for an even count).
    pub median: f64,
    /// The smallest.
    pub min: f64,
    /// The largest.
    pub max: f64,
}

impl Spread {
    /// Of a non-empty sample.
    pub fn of(values: &[f64]) -> Option<Spread> {
        if values.is_empty() {
            return None;
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
        Some(Spread { median, min: v[0], max: v[n - 1] })
    }
}

impl Row {
    /// The marginal instructions per span of each repeat: (I_high − I_low) / (high − low).
    pub fn marginals(&self, low: u64, high: u64) -> Vec<f64> {
        marginals(&self.low, &self.high, low, high)
    }

    /// The marginal body bytes per span on the wire, median over the repeats.
    pub fn wire_per_span(&self, low: u64, high: u64) -> Option<f64> {
        Spread::of(&marginals(&self.wire_low, &self.wire_high, low, high)).map(|s| s.median)
    }

    /// The marginal heap blocks per span, when DHAT ran.
    pub fn blocks_per_span(&self, low: u64, high: u64) -> Option<f64> {
        self.blocks.map(|(l, h)| (h as f64 - l as f64) / (high - low) as f64)
    }
}

/// (high − low) / (spans_high − spans_low), repeat by repeat.
fn marginals(low: &[u64], high: &[u64], spans_low: u64, spans_high: u64) -> Vec<f64> {
    let d = (spans_high - spans_low) as f64;
    low.iter().zip(high).map(|(l, h)| (*h as f64 - *l as f64) / d).collect()
}

/// The target of a case, if it has one.
pub fn target(case: &Case) -> Option<f64> {
    let key = case.to_string();
    TARGETS.iter().find(|(k, _)| *k == key).map(|(_, v)| *v as f64)
}

/// A callgrind output file without the total instruction count.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallgrindError {
    /// No line naming the events.
    #[error("no `events:` line")]
    NoEvents,
    /// The events do not include instructions.
    #[error("no Ir event")]
    NoIr,
    /// No line of totals.
    #[error("no `totals:` or `summary:` line")]
    NoTotals,
    /// The totals line is shorter than the events line.
    #[error("the totals line has too few columns")]
    Columns,
    /// The total is not a number.
    #[error("totals `{value}`: {source}")]
    Number {
        /// What the column holds.
        value: String,
        /// Why it does not parse.
        source: std::num::ParseIntError,
    },
}

/// Reads the total instruction count (`Ir`) from a callgrind output file:
/// the `events:` line names the columns, `totals:` (or `summary:`) holds them.
pub fn callgrind_total(text: &str) -> Result<u64, CallgrindError> {
    let events: Vec<&str> = text
        .lines()
        .find_map(|l| l.strip_prefix("events:"))
        .ok_or(CallgrindError::NoEvents)?
        .split_whitespace()
        .collect();
    let column = events.iter().position(|e| *e == "Ir").ok_or(CallgrindError::NoIr)?;
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("totals:"))
        .or_else(|| text.lines().find_map(|l| l.strip_prefix("summary:")))
        .ok_or(CallgrindError::NoTotals)?;
    let value = line.split_whitespace().nth(column).ok_or(CallgrindError::Columns)?;
    value.parse().map_err(|source| CallgrindError::Number { value: value.to_owned(), source })
}

/// One row of `profiles/exporter.json`: an implementation and a case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExporterRecord {
    /// Whose exporter.
    pub implementation: Implementation,
    /// The protocol.
    #[serde(with = "result_file::display")]
    pub protocol: Protocol,
    /// The codec, without a level (each side uses its default).
    #[serde(with = "result_file::display")]
    pub compression: Compression,
    /// (instructions at the high count − at the low count) / (high − low spans), over the repeats.
    pub marginal_per_span: Spread,
    /// Whole-process instructions of each repeat at the low span count.
    pub instructions_low: Vec<u64>,
    /// The same at the high span count.
    pub instructions_high: Vec<u64>,
    /// Marginal heap blocks per span of the whole process under DHAT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocks_per_span: Option<f64>,
    /// Whole-process heap blocks at the low and the high span count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocks: Option<(u64, u64)>,
    /// Marginal body bytes per span that the receiver got (as sent:
    /// compressed, gRPC frames included), median over the repeats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wire_bytes_per_span: Option<f64>,
}

impl ExporterRecord {
    /// `protocol+compression`, the key of the targets.
    pub fn case(&self) -> Case {
        Case { protocol: self.protocol, compression: self.compression }
    }
}

/// `profiles/exporter.json`, written by `otlp-lab exporter-compare`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExporterFile {
    /// Spans of the short run.
    pub spans_low: u64,
    /// Spans of the long run.
    pub spans_high: u64,
    /// Runs of each.
    pub repeats: u32,
    /// One row per implementation and case.
    pub rows: Vec<ExporterRecord>,
    /// Instructions per span at most, by `protocol+compression`.
    pub targets: std::collections::BTreeMap<String, u64>,
    /// What was counted.
    pub measure: String,
    /// `valgrind --version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valgrind: Option<String>,
    /// Seconds the comparison took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
}

impl ExporterFile {
    /// The file of a comparison's rows.
    pub fn new(cfg: &CompareConfig, rows: &[Row]) -> ExporterFile {
        let rows = rows
            .iter()
            .map(|r| ExporterRecord {
                implementation: r.implementation,
                protocol: r.case.protocol,
                compression: r.case.compression,
                marginal_per_span: Spread::of(&r.marginals(cfg.low, cfg.high)).unwrap_or(Spread {
                    median: 0.0,
                    min: 0.0,
                    max: 0.0,
                }),
                instructions_low: r.low.clone(),
                instructions_high: r.high.clone(),
                blocks_per_span: r.blocks_per_span(cfg.low, cfg.high),
                blocks: r.blocks,
                wire_bytes_per_span: r.wire_per_span(cfg.low, cfg.high).filter(|_| r.implementation.exports()),
            })
            .collect();
        ExporterFile {
            spans_low: cfg.low,
            spans_high: cfg.high,
            repeats: cfg.repeats,
            rows,
            targets: TARGETS.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
            measure: "callgrind Ir (and, with heap, DHAT blocks) of the whole `otlp-lab exporter-run` process, every thread; body bytes at the receiver".to_owned(),
            valgrind: None,
            seconds: None,
        }
    }

    /// The target of `case` in instructions per span, when it has one.
    pub fn target(&self, case: Case) -> Option<u64> {
        self.targets.get(&case.to_string()).copied()
    }

    /// Writes it to `path`.
    pub fn write(&self, path: &Path) -> Result<(), ResultFileError> {
        result_file::write(path, self)
    }

    /// Reads `path`; `None` when it does not exist.
    pub fn read(path: &Path) -> Result<Option<ExporterFile>, ResultFileError> {
        result_file::read(path)
    }
}

/// Instructions per span at most for `tracing` + our layer over
/// HTTP/protobuf, whole process.
pub const TRACING_OURS_TARGET: f64 = 6500.0;

/// The table `exporter-compare` prints: per case, one line per
/// implementation with its median (min–max) instructions per span, the
/// ratio to ours, heap blocks and wire bytes per span, and ours' target;
/// then the ratios between the stacks that answer the same question
/// (tracing-otel / tracing-ours, sdk / sdk-ours, blocks over the floor).
pub fn table(cfg: &CompareConfig, rows: &[Row]) -> String {
    use std::fmt::Write as _;
    let (low, high) = (cfg.low, cfg.high);
    let find = |imp: Implementation, case: &Case| rows.iter().find(|r| r.implementation == imp && r.case == *case);
    let median = |imp: Implementation, case: &Case| {
        find(imp, case).and_then(|r| Spread::of(&r.marginals(low, high))).map(|s| s.median)
    };
    let opt = |v: Option<f64>, digits: usize| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.digits$}"));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "per span, ({high} − {low} spans) / {}: instructions, median (min–max) of {} callgrind runs; heap blocks (DHAT, one run per count){}; body bytes at the receiver",
        high - low,
        cfg.repeats,
        if cfg.heap { "" } else { ": not run (--no-heap)" }
    );
    let _ = writeln!(
        out,
        "{:<20} {:<14} {:>26} {:>8} {:>8} {:>8} {:>12}",
        "case", "implementation", "instructions", "/ ours", "blocks", "bytes", "target"
    );
    for case in &cfg.cases {
        let ours = median(Implementation::Ours, case);
        for imp in &cfg.implementations {
            let Some(row) = find(*imp, case) else { continue };
            let Some(s) = Spread::of(&row.marginals(low, high)) else { continue };
            let ratio = match ours {
                Some(o) if o > 0.0 => format!("{:.2}×", s.median / o),
                _ => "-".to_owned(),
            };
            let goal = match imp {
                Implementation::Ours => target(case),
                Implementation::TracingOurs if *case == Case::HTTP_NONE => Some(TRACING_OURS_TARGET),
                _ => None,
            };
            let goal = goal
                .map_or_else(|| "-".to_owned(), |t| format!("{t:.0} {}", if s.median <= t { "PASS" } else { "MISS" }));
            let _ = writeln!(
                out,
                "{:<20} {:<14} {:>26} {:>8} {:>8} {:>8} {:>12}",
                case.to_string(),
                imp.flag(),
                format!("{:.0} ({:.0}–{:.0})", s.median, s.min, s.max),
                ratio,
                opt(row.blocks_per_span(low, high), 2),
                if imp.exports() { opt(row.wire_per_span(low, high), 0) } else { "-".to_owned() },
                goal
            );
        }
        let pair = |a: Implementation, b: Implementation| match (median(a, case), median(b, case)) {
            (Some(a), Some(b)) if b > 0.0 => Some(a / b),
            _ => None,
        };
        if let Some(r) = pair(Implementation::TracingOtel, Implementation::TracingOurs) {
            let _ = writeln!(out, "{:<20} tracing-otel / tracing-ours = {r:.1}× (goal: at least 10×)", "");
        }
        if let Some(r) = pair(Implementation::SdkOurs, Implementation::Sdk) {
            let _ = writeln!(out, "{:<20} sdk-ours / sdk = {r:.2} (goal: at most 0.5)", "");
        }
        let blocks = |imp| find(imp, case).and_then(|r| r.blocks_per_span(low, high));
        if let (Some(o), Some(b)) = (blocks(Implementation::TracingOurs), blocks(Implementation::TracingBare)) {
            let _ = writeln!(
                out,
                "{:<20} tracing-ours − tracing-bare = {:+.2} heap blocks per span (goal: at most +1)",
                "",
                o - b
            );
        }
    }
    out
}

/// Why `exporter-compare` failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompareError {
    /// `--repeats 0`.
    #[error("--repeats must be at least 1")]
    Repeats,
    /// The span counts are not `0 < low < high`.
    #[error("need 0 < --low < --high, got {low} and {high}")]
    Counts {
        /// The smaller count.
        low: u64,
        /// The larger count.
        high: u64,
    },
    /// No implementation or no case.
    #[error("nothing to run: give at least one implementation and one case")]
    Nothing,
    /// The official SDK in a build without it.
    #[error(transparent)]
    NotBuilt(#[from] SdkNotBuilt),
    /// valgrind could not be run.
    #[error(
        "valgrind is needed for exporter-compare and could not be run ({0}): install it (apt-get install valgrind, or scripts/run_benchmarks.sh exporter installs it)"
    )]
    NoValgrind(std::io::Error),
    /// `valgrind --version` failed.
    #[error("`valgrind --version` failed ({0})")]
    ValgrindVersion(ExitStatus),
    /// valgrind could not be started for a run.
    #[error("cannot run valgrind: {0}")]
    Spawn(std::io::Error),
    /// A run failed under valgrind (callgrind or DHAT).
    #[error("exporter-run {implementation} {case} with {spans} spans failed under valgrind ({status}): {stderr}")]
    RunFailed {
        /// Whose exporter.
        implementation: Implementation,
        /// Protocol and codec.
        case: Case,
        /// Spans of the run.
        spans: u64,
        /// Its exit status.
        status: ExitStatus,
        /// Its standard error, valgrind's own lines left out.
        stderr: String,
    },
    /// The callgrind output could not be read.
    #[error("{}: {source}", path.display())]
    ReadOutput {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The DHAT output could not be read.
    #[error("{}: {reason}", path.display())]
    Dhat {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The callgrind output has no total.
    #[error("{}: {source}", path.display())]
    Callgrind {
        /// The file.
        path: PathBuf,
        /// What is missing.
        source: CallgrindError,
    },
    /// The tokio runtime could not start.
    #[error("starting a tokio runtime: {0}")]
    Runtime(std::io::Error),
    /// The loopback receiver could not start.
    #[error("cannot start the loopback receiver: {0}")]
    Receiver(std::io::Error),
    /// The loopback receiver has no gRPC endpoint.
    #[error("the receiver has no gRPC endpoint")]
    NoGrpc,
    /// The folder for callgrind's output could not be created.
    #[error("{}: {source}", path.display())]
    TempDir {
        /// The folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The thread of a run failed.
    #[error("the run's thread failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    /// The receiver did not get every span of a run.
    #[error("{implementation} {case} {spans} spans: the receiver got {got} spans")]
    Missing {
        /// Whose exporter.
        implementation: Implementation,
        /// Protocol and codec.
        case: Case,
        /// Spans of the run.
        spans: u64,
        /// Spans the receiver counted.
        got: u64,
    },
    /// A run sent something else than spans, or had requests refused.
    #[error(transparent)]
    NotOnlySpans(#[from] NotOnlySpans),
    /// The results file could not be written.
    #[error(transparent)]
    ResultFile(#[from] ResultFileError),
}

/// Checks that valgrind runs, and says how to get it when it does not.
fn valgrind_version() -> Result<String, CompareError> {
    let out = Command::new("valgrind").arg("--version").output().map_err(CompareError::NoValgrind)?;
    if !out.status.success() {
        return Err(CompareError::ValgrindVersion(out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The valgrind tool of one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tool {
    /// Total instructions (`Ir`).
    Callgrind,
    /// Total heap blocks allocated.
    Dhat,
}

/// One run of `exporter-run` under `tool`; returns its total (instructions
/// or heap blocks).
fn valgrind_run(cfg: &CompareConfig, plan: &RunPlan, tool: Tool, out_file: &Path) -> Result<u64, CompareError> {
    let _stale = std::fs::remove_file(out_file);
    let mut cmd = Command::new("valgrind");
    match tool {
        Tool::Callgrind => cmd.arg("--tool=callgrind").arg(format!("--callgrind-out-file={}", out_file.display())),
        Tool::Dhat => cmd.arg("--tool=dhat").arg(format!("--dhat-out-file={}", out_file.display())),
    };
    let output = cmd
        .arg(&cfg.exe)
        .args(["exporter-run", "--implementation", plan.implementation.flag()])
        .args(["--spans", &plan.spans.to_string(), "--endpoint", &plan.endpoint])
        .args(["--protocol", &plan.case.protocol.to_string(), "--compression", &plan.case.compression.to_string()])
        .output()
        .map_err(CompareError::Spawn)?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        // Valgrind's own lines start with ==pid==; the run's error is among the others.
        let tail: Vec<&str> = stderr.lines().filter(|l| !l.starts_with("==")).collect();
        return Err(CompareError::RunFailed {
            implementation: plan.implementation,
            case: plan.case,
            spans: plan.spans,
            status: output.status,
            stderr: tail.join("\n"),
        });
    }
    if tool == Tool::Dhat {
        let profile = crate::heap::fold::DhatProfile::read(out_file)
            .map_err(|e| CompareError::Dhat { path: out_file.to_owned(), reason: e.to_string() })?;
        return Ok(profile.total(crate::heap::fold::Weight::Blocks));
    }
    let text = std::fs::read_to_string(out_file)
        .map_err(|source| CompareError::ReadOutput { path: out_file.to_owned(), source })?;
    callgrind_total(&text).map_err(|source| CompareError::Callgrind { path: out_file.to_owned(), source })
}

/// Runs the comparison: a receiver here (not under valgrind), every
/// implementation × case × span count × repeat under callgrind in a child
/// process, and once more under DHAT (`cfg.heap`), the receiver's count
/// checked after each (every span received; none for `tracing-bare`) and
/// its body bytes kept; writes `cfg.out` and returns the rows. Progress
/// goes to stderr.
pub fn compare(cfg: &CompareConfig) -> Result<Vec<Row>, CompareError> {
    if cfg.repeats == 0 {
        return Err(CompareError::Repeats);
    }
    if cfg.low == 0 || cfg.high <= cfg.low {
        return Err(CompareError::Counts { low: cfg.low, high: cfg.high });
    }
    if cfg.implementations.is_empty() || cfg.cases.is_empty() {
        return Err(CompareError::Nothing);
    }
    for imp in &cfg.implementations {
        imp.check_available()?;
    }
    let version = valgrind_version()?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(CompareError::Runtime)?;
    rt.block_on(async {
        let receiver = Receiver::start(ReceiverConfig {
            grpc_addr: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
            ..ReceiverConfig::default()
        })
        .await
        .map_err(CompareError::Receiver)?;
        let http = receiver.http_endpoint();
        let grpc = receiver.grpc_endpoint().ok_or(CompareError::NoGrpc)?;
        let dir = std::env::temp_dir().join(format!("otlp-lab-exporter-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|source| CompareError::TempDir { path: dir.clone(), source })?;
        let per_row = 2 * (cfg.repeats as usize + usize::from(cfg.heap));
        let total = cfg.implementations.len() * cfg.cases.len() * per_row;
        eprintln!("otlp-lab: {version}; receiver {http} (HTTP), {grpc} (gRPC); {total} valgrind runs");
        let started = Instant::now();
        let mut rows = Vec::new();
        let mut done = 0;
        for &implementation in &cfg.implementations {
            for &case in &cfg.cases {
                let mut row = Row {
                    implementation,
                    case,
                    low: Vec::new(),
                    high: Vec::new(),
                    wire_low: Vec::new(),
                    wire_high: Vec::new(),
                    blocks: None,
                };
                let mut blocks = [0; 2];
                let tools = std::iter::repeat_n(Tool::Callgrind, cfg.repeats as usize)
                    .chain(cfg.heap.then_some(Tool::Dhat));
                for (repeat, tool) in tools.enumerate() {
                    for (k, spans) in [cfg.low, cfg.high].into_iter().enumerate() {
                        done += 1;
                        let endpoint = if case.protocol == Protocol::Grpc { grpc.clone() } else { http.clone() };
                        let plan = RunPlan { implementation, spans, endpoint, case };
                        let before = receiver.counts();
                        let t = Instant::now();
                        let (cfg2, plan2, file) = (cfg.clone(), plan.clone(), dir.join("valgrind.out"));
                        let value =
                            tokio::task::spawn_blocking(move || valgrind_run(&cfg2, &plan2, tool, &file)).await??;
                        let want = if implementation.exports() { spans } else { 0 };
                        let got = wait_for_spans(&receiver, before.spans + want).await - before.spans;
                        if got != want {
                            return Err(CompareError::Missing { implementation, case, spans, got });
                        }
                        let since = receiver.counts().since(before);
                        // Only spans: anything else would count in the bytes per span.
                        check_only_spans(implementation, since)?;
                        let wire = since.body_bytes;
                        let (what, unit) = match tool {
                            Tool::Callgrind => (format!("run {}", repeat + 1), "Ir"),
                            Tool::Dhat => ("dhat".to_owned(), "blocks"),
                        };
                        eprintln!(
                            "otlp-lab: [{done}/{total}] {:<12} {:<20} {spans:>7} spans, {what}: {value} {unit} ({:.1} s; {:.0} s so far)",
                            implementation.flag(),
                            case.to_string(),
                            t.elapsed().as_secs_f64(),
                            started.elapsed().as_secs_f64()
                        );
                        match tool {
                            Tool::Callgrind if k == 0 => {
                                row.low.push(value);
                                row.wire_low.push(wire);
                            }
                            Tool::Callgrind => {
                                row.high.push(value);
                                row.wire_high.push(wire);
                            }
                            Tool::Dhat => blocks[k] = value,
                        }
                    }
                }
                if cfg.heap {
                    row.blocks = Some((blocks[0], blocks[1]));
                }
                rows.push(row);
            }
        }
        let _cleaned = std::fs::remove_dir_all(&dir);
        receiver.shutdown().await;
        let file = ExporterFile {
            valgrind: Some(version),
            seconds: Some(started.elapsed().as_secs_f64().round()),
            ..ExporterFile::new(cfg, &rows)
        };
        file.write(&cfg.out)?;
        eprintln!("otlp-lab: {total} runs in {:.0} s; wrote {}", started.elapsed().as_secs_f64(), cfg.out.display());
        Ok(rows)
    })
}

/// The receiver's span count once it reaches `want`, or after 5 s what it
/// has (the run has exited, so its requests were answered already).
async fn wait_for_spans(receiver: &Receiver, want: u64) -> u64 {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let got = receiver.counts().spans;
        if got >= want || Instant::now() >= until {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_callgrind_totals_and_names_bad_input() {
        let text = "version: 1\ncreator: callgrind-3.22\nevents: Ir\nfn=main\n1 5\nsummary: 123456\ntotals: 123456\n";
        assert_eq!(callgrind_total(text), Ok(123_456));
        assert_eq!(callgrind_total("events: Dr Ir\ntotals: 7 42\n"), Ok(42));
        assert_eq!(callgrind_total("events: Ir\n"), Err(CallgrindError::NoTotals));
        assert_eq!(callgrind_total("totals: 5\n"), Err(CallgrindError::NoEvents));
    }

    #[test]
    fn marginals_and_spread() {
        assert_eq!(target(&"http/protobuf+zstd".parse().expect("valid")), Some(8000.0));
        let row = Row {
            implementation: Implementation::Ours,
            case: "grpc+zstd".parse().expect("valid"),
            low: vec![1_000_000, 1_000_100],
            high: vec![5_000_000, 5_200_100],
            wire_low: vec![46_000, 46_000],
            wire_high: vec![503_000, 503_002],
            blocks: Some((1_000, 1_500)),
        };
        assert_eq!(row.marginals(100, 1100), vec![4000.0, 4200.0]);
        assert_eq!(row.wire_per_span(100, 1100), Some(457.001));
        assert_eq!(row.blocks_per_span(100, 1100), Some(0.5));
        let s = Spread::of(&[3.0, 1.0, 2.0]).expect("non-empty");
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        assert_eq!(Spread::of(&[1.0, 2.0]).map(|s| s.median), Some(1.5));
    }

    #[test]
    fn the_results_file_survives_its_file() {
        let cfg = CompareConfig {
            repeats: 2,
            low: 100,
            high: 1100,
            implementations: vec![Implementation::Ours, Implementation::Sdk],
            cases: vec!["grpc+zstd".parse().expect("valid")],
            heap: true,
            out: PathBuf::new(),
            exe: PathBuf::new(),
        };
        let rows = [Row {
            implementation: Implementation::Sdk,
            case: cfg.cases[0],
            low: vec![1_000_000, 1_000_100],
            high: vec![5_000_000, 5_200_100],
            wire_low: vec![0, 0],
            wire_high: vec![500_000, 500_000],
            blocks: Some((2_000, 72_000)),
        }];
        let file = ExporterFile { valgrind: Some("valgrind-3.22.0".to_owned()), ..ExporterFile::new(&cfg, &rows) };
        let v = serde_json::to_value(&file).expect("serializes");
        assert_eq!(v["rows"][0]["implementation"], "sdk");
        assert_eq!(v["rows"][0]["compression"], "zstd");
        assert_eq!(v["targets"]["http/protobuf+none"], 4000);
        assert_eq!(v["rows"][0]["marginal_per_span"]["median"], 4100.0);
        assert_eq!(v["rows"][0]["blocks_per_span"], 70.0);
        assert_eq!(v["rows"][0]["wire_bytes_per_span"], 500.0);
        let dir = std::env::temp_dir().join(format!("otlp-lab-exporter-file-{}", std::process::id()));
        let path = dir.join("exporter.json");
        file.write(&path).expect("writes");
        let back = ExporterFile::read(&path).expect("reads").expect("exists");
        let _cleaned = std::fs::remove_dir_all(&dir);
        assert_eq!(back, file);
        assert_eq!(back.rows[0].case(), cfg.cases[0]);
    }
}
