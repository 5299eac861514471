//! `otlp-lab report`: one generated page of the last run, from its result
//! files only. It reads `profiles/` (results.json, environment.json,
//! pool.json, audit.json, dhat-*.json, load/*.json, exporter.json), a
//! baseline, and `flamegraphs/`, and writes `report.html` (self-contained:
//! inline CSS and SVG, no script, no network), its Markdown twin `report.md`
//! (same figures, plots as `plots/*.svg`), and the exports `bmf.json` and
//! `github-action-benchmark.json`. A part whose file is missing says "not
//! run"; nothing is filled in.

mod doc;
pub mod env;
mod exports;
pub mod inputs;
pub mod plots;

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use doc::{Block, Section, int, num};
use inputs::{Audit, Environment, Exporter, Flame, InputError, Load, LoadRun, Pool};

use crate::baseline::{self, Comparison, Gate, Results};
use crate::budgets::BUDGETS;
use crate::report::items_of;

/// Where the report reads from and writes to.
#[derive(Clone, Debug)]
pub struct Config {
    /// The result files (`profiles/`).
    pub profiles: PathBuf,
    /// The flamegraphs (`flamegraphs/`).
    pub flamegraphs: PathBuf,
    /// The baseline to judge the bench results against (BMF).
    pub baseline: PathBuf,
    /// Where the report and exports go (usually the same as `profiles`).
    pub out: PathBuf,
    /// The gate's floor in percent.
    pub floor_pct: f64,
}

/// Why the report could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ReportBuildError {
    /// A result file is malformed.
    #[error(transparent)]
    Input(#[from] InputError),
    /// A BMF file (results or baseline) is malformed.
    #[error("{}: {source}", path.display())]
    Bmf {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        source: baseline::BaselineError,
    },
    /// A plot could not be drawn.
    #[error(transparent)]
    Plot(#[from] plots::PlotError),
    /// An output could not be written.
    #[error("{}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// What the report wrote, and which parts were not run.
#[derive(Clone, Debug)]
pub struct Written {
    /// The page.
    pub html: PathBuf,
    /// Its Markdown twin.
    pub markdown: PathBuf,
    /// Bencher Metric Format export.
    pub bmf: PathBuf,
    /// github-action-benchmark export.
    pub github_action_benchmark: PathBuf,
    /// The plots, as SVG files beside the Markdown.
    pub plots: Vec<PathBuf>,
    /// The result files that were missing.
    pub not_run: Vec<String>,
    /// Whether the gate flagged a bench (false without a baseline).
    pub gate_failed: bool,
}

/// A flamegraph found on disk: its SVG and its summary, either may be missing.
#[derive(Clone, Debug)]
pub(crate) struct FlameEntry {
    name: String,
    svg: Option<PathBuf>,
    summary: Option<Flame>,
    others: Vec<PathBuf>,
}

/// Everything read from the result files.
pub(crate) struct Inputs {
    env: Option<Environment>,
    results: Option<Results>,
    baseline: Option<Results>,
    pool: Option<Pool>,
    audit: Option<Audit>,
    loads: Vec<Load>,
    exporter: Option<Exporter>,
    flames: Vec<FlameEntry>,
    dhat: Vec<PathBuf>,
}

fn read_bmf(path: &Path) -> Result<Option<Results>, ReportBuildError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(InputError::Io { path: path.to_owned(), source }.into()),
    };
    baseline::from_bmf(&text).map(Some).map_err(|source| ReportBuildError::Bmf { path: path.to_owned(), source })
}

fn read_inputs(cfg: &Config) -> Result<Inputs, ReportBuildError> {
    let p = |name: &str| cfg.profiles.join(name);
    let mut loads = Vec::new();
    for f in inputs::files_with_suffix(&cfg.profiles.join("load"), "", ".json")? {
        loads.extend(inputs::load(&f, Load::from_json)?);
    }
    let mut names = BTreeSet::new();
    let fdir = &cfg.flamegraphs;
    for f in
        inputs::files_with_suffix(fdir, "", ".svg")?.into_iter().chain(inputs::files_with_suffix(fdir, "", ".json")?)
    {
        if let Some(stem) = f.file_stem() {
            names.insert(stem.to_string_lossy().into_owned());
        }
    }
    let mut flames = Vec::new();
    for name in names {
        let svg = Some(fdir.join(format!("{name}.svg"))).filter(|p| p.is_file());
        let summary = inputs::load(&fdir.join(format!("{name}.json")), Flame::from_json)?;
        let others =
            ["pb", "folded"].iter().map(|ext| fdir.join(format!("{name}.{ext}"))).filter(|p| p.is_file()).collect();
        flames.push(FlameEntry { name, svg, summary, others });
    }
    Ok(Inputs {
        env: inputs::load(&p("environment.json"), Environment::from_json)?,
        results: read_bmf(&p("results.json"))?,
        baseline: read_bmf(&cfg.baseline)?,
        pool: inputs::load(&p("pool.json"), Pool::from_json)?,
        audit: inputs::load(&p("audit.json"), Audit::from_json)?,
        loads,
        exporter: inputs::load(&p("exporter.json"), Exporter::from_json)?,
        flames,
        dhat: inputs::files_with_suffix(&cfg.profiles, "dhat-", ".json")?,
    })
}

/// `to` relative to the folder `from`, with forward slashes (both made
/// absolute first); the absolute path when they share no root.
fn relative(from: &Path, to: &Path) -> String {
    let abs = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| std::path::absolute(p).unwrap_or(p.to_owned()));
    let (from, to) = (abs(from), abs(to));
    let a: Vec<Component<'_>> = from.components().collect();
    let b: Vec<Component<'_>> = to.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    // Sharing only the root, a relative link would climb out of everything: absolute is clearer.
    if common <= 1 {
        return to.display().to_string();
    }
    let mut parts: Vec<String> = vec!["..".to_owned(); a.len() - common];
    parts.extend(b[common..].iter().map(|c| c.as_os_str().to_string_lossy().into_owned()));
    parts.join("/")
}

/// Builds the report from `cfg`'s files and writes it.
pub fn build(cfg: &Config) -> Result<Written, ReportBuildError> {
    let inputs = read_inputs(cfg)?;
    let mkdir =
        |d: &Path| std::fs::create_dir_all(d).map_err(|source| ReportBuildError::Write { path: d.to_owned(), source });
    let plots_dir = cfg.out.join("plots");
    mkdir(&cfg.out)?;
    mkdir(&plots_dir)?;
    let mut b = Builder { cfg, inputs: &inputs, not_run: Vec::new(), gate_failed: false };
    let sections = b.sections()?;

    let write = |path: PathBuf, text: &str| -> Result<PathBuf, ReportBuildError> {
        std::fs::write(&path, text).map_err(|source| ReportBuildError::Write { path: path.clone(), source })?;
        Ok(path)
    };
    // Plots of an earlier run that this one did not draw must not linger beside the Markdown.
    for old in inputs::files_with_suffix(&plots_dir, "", ".svg")? {
        std::fs::remove_file(&old).map_err(|source| ReportBuildError::Write { path: old.clone(), source })?;
    }
    let mut plots = Vec::new();
    for s in &sections {
        for blk in &s.blocks {
            if let Block::Plot { file, svg, .. } = blk {
                plots.push(write(plots_dir.join(file), svg)?);
            }
        }
    }
    let title = "otlp-lab report";
    let intro = b.intro();
    let pretty = |v: &serde_json::Value| {
        let mut t = serde_json::to_string_pretty(v).expect("JSON values serialize");
        t.push('\n');
        t
    };
    Ok(Written {
        html: write(cfg.out.join("report.html"), &doc::html(title, &intro, &sections))?,
        markdown: write(cfg.out.join("report.md"), &doc::markdown(title, &intro, &sections))?,
        bmf: write(cfg.out.join("bmf.json"), &pretty(&exports::bmf(&inputs)))?,
        github_action_benchmark: write(
            cfg.out.join("github-action-benchmark.json"),
            &pretty(&exports::github_action_benchmark(&inputs)),
        )?,
        plots,
        not_run: b.not_run,
        gate_failed: b.gate_failed,
    })
}

/// The ids of the page's sections, in order: what `scripts/check_report.sh` looks for.
pub const SECTION_IDS: &[&str] =
    &["summary", "environment", "instructions", "heap", "load", "exporter", "flamegraphs", "exports"];

struct Builder<'a> {
    cfg: &'a Config,
    inputs: &'a Inputs,
    not_run: Vec<String>,
    gate_failed: bool,
}

fn table(head: &[&str], rows: Vec<Vec<String>>) -> Block {
    Block::Table { head: head.iter().map(|h| (*h).to_owned()).collect(), rows }
}

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_else(|| "not installed".to_owned())
}

fn mib(bytes: f64) -> String {
    format!("{} MiB", num(bytes / 1_048_576.0, 1))
}

/// A sweep step's number (`producers=50` gives 50), else the run's workers.
fn concurrency(r: &LoadRun) -> f64 {
    r.step.split_once('=').and_then(|(_, v)| v.trim().parse::<f64>().ok()).unwrap_or(r.workers as f64)
}

impl Builder<'_> {
    fn missing(&mut self, file: &str, how: &str) -> Block {
        self.not_run.push(file.to_owned());
        Block::NotRun { what: format!("{file} is missing"), how: how.to_owned() }
    }

    fn link(&self, to: &Path) -> String {
        relative(&self.cfg.out, to)
    }

    fn intro(&self) -> String {
        let at = self.inputs.env.as_ref().map_or_else(
            || "an unknown commit (no environment.json)".to_owned(),
            |e| format!("commit {}", e.git_commit.as_deref().unwrap_or("unknown")),
        );
        format!(
            "Generated by `otlp-lab report` from the result files of the last run, for {at}. \
             Every figure comes from those files; a part whose file is missing says \"not run\"."
        )
    }

    fn sections(&mut self) -> Result<Vec<Section>, ReportBuildError> {
        // The summary is built last (it lists what the others found) and shown first.
        let environment = self.environment();
        let instructions = self.instructions()?;
        let heap = self.heap()?;
        let load = self.load()?;
        let exporter = self.exporter();
        let flamegraphs = self.flamegraphs()?;
        let exports = self.exports();
        let summary = self.summary();
        Ok(vec![summary, environment, instructions, heap, load, exporter, flamegraphs, exports])
    }

    fn summary(&self) -> Section {
        let i = self.inputs;
        let ran = |b: bool| if b { "ran" } else { "not run" }.to_owned();
        let gate = match (&i.results, &i.baseline) {
            (Some(_), Some(_)) => {
                if self.gate_failed {
                    "FAILED".to_owned()
                } else {
                    "passed".to_owned()
                }
            }
            (Some(_), None) => "not run (no baseline)".to_owned(),
            _ => "not run".to_owned(),
        };
        let audit = i
            .audit
            .as_ref()
            .map_or_else(|| "not run".to_owned(), |a| if a.passed { "passed" } else { "FAILED" }.to_owned());
        let rows = vec![
            vec!["environment".into(), "environment.json".into(), ran(i.env.is_some())],
            vec!["instruction counts".into(), "results.json".into(), ran(i.results.is_some())],
            vec!["regression gate".into(), self.cfg.baseline.display().to_string(), gate],
            vec!["pool on vs off".into(), "pool.json".into(), ran(i.pool.is_some())],
            vec!["leak audit".into(), "audit.json".into(), audit],
            vec!["DHAT profiles".into(), "dhat-*.json".into(), ran(!i.dhat.is_empty())],
            vec!["load runs".into(), "load/*.json".into(), ran(!i.loads.is_empty())],
            vec!["whole-exporter comparison".into(), "exporter.json".into(), ran(i.exporter.is_some())],
            vec!["flamegraphs".into(), "flamegraphs/*.svg".into(), ran(!i.flames.is_empty())],
        ];
        Section { id: "summary", title: "Summary", blocks: vec![table(&["part", "file", "status"], rows)] }
    }

    fn environment(&mut self) -> Section {
        let blocks = match &self.inputs.env {
            None => vec![self.missing("environment.json", "otlp-lab env")],
            Some(e) => {
                let commit = match &e.git_commit {
                    Some(c) if e.git_dirty => format!("{c} (with uncommitted changes)"),
                    Some(c) => c.clone(),
                    None => "not a git checkout".to_owned(),
                };
                vec![table(
                    &["what", "value"],
                    vec![
                        vec!["CPU".into(), e.cpu_model.clone()],
                        vec!["cores".into(), e.cores.to_string()],
                        vec!["kernel".into(), e.kernel.clone()],
                        vec!["rustc".into(), e.rustc.clone()],
                        vec!["valgrind".into(), opt(&e.valgrind)],
                        vec!["iai-callgrind-runner".into(), opt(&e.runner)],
                        vec!["git commit".into(), commit],
                        vec!["written at".into(), e.written_at.clone()],
                    ],
                )]
            }
        };
        Section { id: "environment", title: "Environment", blocks }
    }

    fn instructions(&mut self) -> Result<Section, ReportBuildError> {
        let mut blocks = Vec::new();
        let Some(results) = &self.inputs.results else {
            blocks.push(self.missing("results.json", "scripts/run_benchmarks.sh quick"));
            return Ok(Section { id: "instructions", title: "Instruction counts", blocks });
        };
        blocks.push(Block::Para(
            "Instructions callgrind counted in each bench's measured region (the same binary repeats \
             them exactly), per item of the workload, and DHAT's heap blocks over the whole bench process \
             where it ran beside callgrind."
                .into(),
        ));
        let comparison: Option<Comparison> = self.inputs.baseline.as_ref().map(|old| {
            let gate = Gate { floor_pct: self.cfg.floor_pct, ..Gate::default() };
            baseline::compare(old, results, &gate)
        });
        let mut per_span = Vec::new();
        let mut rows = Vec::new();
        let mut row = |id: &str,
                       new: Option<baseline::Metrics>,
                       old: Option<baseline::Metrics>,
                       delta: Option<f64>,
                       verdict: &str| {
            let items = items_of(id);
            let per = match (new, items) {
                (Some(m), Some(n)) => {
                    let per = m.instructions as f64 / n.max(1) as f64;
                    // Spans are the items of the trace and pipeline paths.
                    if id.contains("traces") || id.contains("spans") || id.starts_with("pipeline") {
                        per_span.push((id.to_owned(), per));
                    }
                    num(per, 0)
                }
                _ => "-".into(),
            };
            let dash = || "-".to_owned();
            rows.push(vec![
                id.to_owned(),
                new.map_or_else(dash, |m| int(m.instructions)),
                items.map_or_else(dash, int),
                per,
                new.and_then(|m| m.allocations).map_or_else(dash, int),
                old.map_or_else(dash, |m| int(m.instructions)),
                delta.map_or_else(dash, |d| format!("{d:+.3}%")),
                verdict.to_owned(),
            ]);
        };
        match &comparison {
            Some(c) => {
                for r in &c.rows {
                    row(&r.id, r.new, r.old, r.delta_pct, r.verdict.label());
                }
            }
            None => {
                for (id, m) in results {
                    row(id, Some(*m), None, None, "-");
                }
            }
        }
        blocks.push(table(
            &["bench", "instructions", "items", "instr/item", "allocations", "baseline", "delta", "verdict"],
            rows,
        ));
        match &comparison {
            Some(c) => {
                let flagged: Vec<&str> = c.flagged().map(|r| r.id.as_str()).collect();
                self.gate_failed = !flagged.is_empty();
                let text = if flagged.is_empty() {
                    format!(
                        "gate: passed ({} benches, floor {}%) against {}",
                        c.rows.len(),
                        c.floor_pct,
                        self.cfg.baseline.display()
                    )
                } else {
                    format!(
                        "gate: FAILED, {} flagged (floor {}%) against {}: {}",
                        flagged.len(),
                        c.floor_pct,
                        self.cfg.baseline.display(),
                        flagged.join(", ")
                    )
                };
                blocks.push(Block::Verdict { ok: flagged.is_empty(), text });
                blocks.push(Block::Para(
                    "The gate flags an instruction count more than the floor above the baseline, and any \
                     allocation increase on a bench whose budget is zero (README, \"Baselines and the regression gate\")."
                        .into(),
                ));
            }
            None => {
                let file = self.cfg.baseline.display().to_string();
                blocks
                    .push(self.missing(&format!("{file} (baseline; the gate)"), "scripts/run_benchmarks.sh save main"));
            }
        }
        if !per_span.is_empty() {
            let (groups, values): (Vec<String>, Vec<Vec<f64>>) =
                per_span.into_iter().map(|(id, v)| (id, vec![v])).unzip();
            let svg = plots::hbars(
                "Instructions per span, per path",
                "instructions per span",
                &groups,
                &["instructions"],
                &values,
            )?;
            blocks.push(Block::Plot {
                file: "instructions_per_span.svg".into(),
                title: "Instructions per span, per path (results.json)".into(),
                svg,
            });
        }
        Ok(Section { id: "instructions", title: "Instruction counts", blocks })
    }

    fn heap(&mut self) -> Result<Section, ReportBuildError> {
        let mut blocks = vec![Block::Sub("The memory pool on vs off".into())];
        match &self.inputs.pool {
            None => blocks.push(self.missing("pool.json", "otlp-lab pool")),
            Some(p) => {
                blocks.push(Block::Para(format!(
                    "Heap blocks and bytes per batch under dhat, one process per row, {} batches each.",
                    int(p.batches)
                )));
                let rows = p
                    .rows
                    .iter()
                    .map(|r| {
                        vec![
                            r.path.clone(),
                            r.workload.clone(),
                            r.pool.clone(),
                            int(r.items_per_batch),
                            num(r.blocks_per_batch, 1),
                            num(r.bytes_per_batch, 0),
                            num(r.blocks_per_item, 3),
                            int(r.peak_bytes),
                        ]
                    })
                    .collect();
                blocks.push(table(
                    &[
                        "path",
                        "workload",
                        "pool",
                        "items/batch",
                        "blocks/batch",
                        "bytes/batch",
                        "blocks/item",
                        "peak bytes",
                    ],
                    rows,
                ));
                if !p.pipeline_own.is_empty() {
                    blocks.push(Block::Para(
                        "The pipeline's own blocks per batch (the producer's span clones taken out):".into(),
                    ));
                    blocks.push(table(
                        &["batch items", "blocks"],
                        p.pipeline_own.iter().map(|(n, b)| vec![int(*n), num(*b, 1)]).collect(),
                    ));
                }
                let mut paths: Vec<String> = Vec::new();
                for r in &p.rows {
                    if !paths.contains(&r.path) {
                        paths.push(r.path.clone());
                    }
                }
                let values: Vec<Vec<f64>> = paths
                    .iter()
                    .map(|path| {
                        ["on", "off"]
                            .iter()
                            .map(|on| {
                                p.rows
                                    .iter()
                                    .find(|r| &r.path == path && r.pool == *on)
                                    .map_or(f64::NAN, |r| r.blocks_per_batch)
                            })
                            .collect()
                    })
                    .collect();
                if !paths.is_empty() {
                    let svg = plots::hbars(
                        "Heap blocks per batch, pool on vs off",
                        "blocks per batch",
                        &paths,
                        &["pool on", "pool off"],
                        &values,
                    )?;
                    blocks.push(Block::Plot {
                        file: "pool_blocks_per_batch.svg".into(),
                        title: "Allocations per batch, pool on vs off (pool.json)".into(),
                        svg,
                    });
                }
            }
        }
        blocks.push(Block::Sub("Allocation budgets".into()));
        blocks.push(Block::Para(
            "Heap blocks each workload may allocate per run once warm (src/lab/budgets.rs), asserted under dhat by \
             `cargo test --release --test alloc_budget`."
                .into(),
        ));
        blocks.push(table(
            &["workload", "blocks per run", "why"],
            BUDGETS
                .iter()
                .map(|b| vec![b.workload.name().to_owned(), int(b.blocks_per_run), b.why.to_owned()])
                .collect(),
        ));
        blocks.push(Block::Sub("Leak audit".into()));
        match &self.inputs.audit {
            None => blocks.push(self.missing("audit.json", "otlp-lab audit")),
            Some(a) => {
                let failed: Vec<&str> = a.checks.iter().filter(|c| !c.passed).map(|c| c.name.as_str()).collect();
                let text = if a.passed {
                    format!("leak audit: passed ({} checks)", a.checks.len())
                } else {
                    format!("leak audit: FAILED ({})", failed.join(", "))
                };
                blocks.push(Block::Verdict { ok: a.passed, text });
                blocks.push(table(
                    &["check", "verdict", "detail"],
                    a.checks
                        .iter()
                        .map(|c| {
                            vec![c.name.clone(), if c.passed { "passed" } else { "FAILED" }.into(), c.detail.clone()]
                        })
                        .collect(),
                ));
            }
        }
        blocks.push(Block::Sub("DHAT profiles".into()));
        if self.inputs.dhat.is_empty() {
            blocks.push(self.missing("dhat-*.json", "scripts/run_benchmarks.sh heap"));
        } else {
            blocks.push(Block::Para(
                "Open one in the DHAT viewer: /usr/libexec/valgrind/dh_view.html in a browser, then Load.".into(),
            ));
            let links = self
                .inputs
                .dhat
                .iter()
                .map(|p| {
                    let name = p.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
                    let size = std::fs::metadata(p).map_or(0, |m| m.len());
                    (format!("{name} ({})", mib(size as f64)), self.link(p))
                })
                .collect();
            blocks.push(Block::Links(links));
        }
        Ok(Section { id: "heap", title: "Heap", blocks })
    }

    fn load(&mut self) -> Result<Section, ReportBuildError> {
        let mut blocks = Vec::new();
        if self.inputs.loads.is_empty() {
            blocks.push(self.missing("load/*.json", "otlp-lab load <scenario>"));
        } else {
            blocks.push(Block::Para(
                "Wall-clock figures: indicative only, they drift between runs on a shared machine; ratios \
                 are measured in the same run."
                    .into(),
            ));
        }
        for l in &self.inputs.loads {
            blocks.push(Block::Sub(format!("{} ({}, {} loop)", l.scenario, l.target, l.mode)));
            let rows = l
                .runs
                .iter()
                .map(|r| {
                    vec![
                        r.implementation.clone(),
                        r.step.clone(),
                        format!("{}+{}", r.protocol, r.compression),
                        int(r.workers),
                        r.offered_rate.map_or_else(|| "closed".to_owned(), |x| num(x, 0)),
                        int(r.offered),
                        int(r.delivered),
                        num(r.items_per_s, 0),
                        int(r.dropped_total),
                        num(r.latency.p50, 0),
                        num(r.latency.p99, 0),
                        num(r.latency.p999, 0),
                        num(r.cpu_user_s + r.cpu_system_s, 2),
                        mib(r.peak_rss_bytes as f64),
                    ]
                })
                .collect();
            blocks.push(table(
                &[
                    "implementation",
                    "step",
                    "protocol",
                    "workers",
                    "offered/s",
                    "offered",
                    "delivered",
                    "items/s",
                    "dropped",
                    "p50 µs",
                    "p99 µs",
                    "p99.9 µs",
                    "CPU s",
                    "peak RSS",
                ],
                rows,
            ));
            let drops: Vec<Vec<String>> = l
                .runs
                .iter()
                .filter(|r| r.dropped_total > 0)
                .map(|r| {
                    let why =
                        r.dropped.iter().map(|(k, v)| format!("{k}: {}", num(*v, 0))).collect::<Vec<_>>().join(", ");
                    vec![r.implementation.clone(), r.step.clone(), int(r.dropped_total), why]
                })
                .collect();
            if !drops.is_empty() {
                blocks.push(table(&["implementation", "step", "dropped", "by reason"], drops));
            }
            let ours: Vec<&LoadRun> = l.runs.iter().filter(|r| r.implementation == "otlp-lab").collect();
            let sdk_pairs: Vec<(&LoadRun, &LoadRun)> = ours
                .iter()
                .filter_map(|o| {
                    l.runs
                        .iter()
                        .find(|s| {
                            s.implementation == "official-sdk"
                                && s.step == o.step
                                && s.protocol == o.protocol
                                && s.compression == o.compression
                        })
                        .map(|s| (*o, s))
                })
                .collect();
            if !sdk_pairs.is_empty() {
                blocks.push(Block::Para("Against the official SDK, same step and configuration:".into()));
                blocks.push(table(
                    &[
                        "step",
                        "protocol",
                        "items/s ours",
                        "items/s SDK",
                        "ratio",
                        "p99 µs ours",
                        "p99 µs SDK",
                        "dropped ours",
                        "dropped SDK",
                    ],
                    sdk_pairs
                        .iter()
                        .map(|(o, s)| {
                            vec![
                                o.step.clone(),
                                format!("{}+{}", o.protocol, o.compression),
                                num(o.items_per_s, 0),
                                num(s.items_per_s, 0),
                                format!("{}x", num(o.items_per_s / s.items_per_s.max(f64::MIN_POSITIVE), 2)),
                                num(o.latency.p99, 0),
                                num(s.latency.p99, 0),
                                int(o.dropped_total),
                                int(s.dropped_total),
                            ]
                        })
                        .collect(),
                ));
            }
            if !l.ratios.is_empty() {
                blocks.push(table(
                    &["ratio (from the file)", "value"],
                    l.ratios.iter().map(|(k, v)| vec![k.clone(), num(*v, 2)]).collect(),
                ));
            }
            if let Some(t) = &l.targets {
                blocks.push(self.load_targets(l, t, &ours, &sdk_pairs));
            }
        }
        self.load_plots(&mut blocks)?;
        Ok(Section { id: "load", title: "Load runs", blocks })
    }

    /// Each target against the worst otlp-lab run of the file.
    fn load_targets(
        &self,
        l: &Load,
        t: &inputs::LoadTargets,
        ours: &[&LoadRun],
        pairs: &[(&LoadRun, &LoadRun)],
    ) -> Block {
        let mut rows = Vec::new();
        let verdict = |ok: bool| if ok { "met" } else { "MISSED" }.to_owned();
        let worst = |f: fn(&LoadRun) -> f64, low: bool| {
            let it = ours.iter().map(|r| f(r));
            if low {
                it.fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.min(x))))
            } else {
                it.fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))))
            }
        };
        // An open loop offered less than the goal shows whether that rate is
        // sustained (drops, latency), not the goal: the closed loop does.
        let below_goal = |g: f64| ours.iter().filter_map(|r| r.offered_rate).filter(|&x| x < g).reduce(f64::max);
        let open_loop = t.items_per_s.and_then(|g| below_goal(g).map(|offered| (g, offered)));
        if let Some((g, offered)) = open_loop {
            rows.push(vec![
                "items/s delivered".to_owned(),
                format!("≥ {}", num(g, 0)),
                format!("open loop, offered {}", num(offered, 0)),
                "n/a (the closed-loop run judges it)".to_owned(),
            ]);
        }
        let mut add =
            |what: &str, goal: String, got: Option<f64>, show: &dyn Fn(f64) -> String, ok: &dyn Fn(f64) -> bool| {
                let (measured, v) = match got {
                    Some(x) => (show(x), verdict(ok(x))),
                    None => ("not run".to_owned(), "not run".to_owned()),
                };
                rows.push(vec![what.to_owned(), goal, measured, v]);
            };
        if let (Some(g), None) = (t.items_per_s, open_loop) {
            add(
                "items/s delivered",
                format!("≥ {}", num(g, 0)),
                worst(|r| r.items_per_s, true),
                &|x| num(x, 0),
                &|x| x >= g,
            );
        }
        if let Some(g) = t.p99_us {
            add(
                "export p99 µs",
                format!("≤ {}", num(g, 0)),
                worst(|r| r.latency.p99, false),
                &|x| num(x, 0),
                &|x| x <= g,
            );
        }
        if let Some(g) = t.peak_rss_bytes {
            add("peak RSS", format!("≤ {}", mib(g)), worst(|r| r.peak_rss_bytes as f64, false), &|x| mib(x), &|x| {
                x <= g
            });
        }
        if let Some(g) = t.sdk_ratio {
            let from_file = l.ratios.iter().find(|(k, _)| k == "items_per_s_vs_sdk").map(|(_, v)| *v);
            let measured = from_file.or_else(|| {
                pairs.iter().map(|(o, s)| o.items_per_s / s.items_per_s.max(f64::MIN_POSITIVE)).reduce(f64::min)
            });
            add(
                "items/s over the official SDK's",
                format!("≥ {}x", num(g, 1)),
                measured,
                &|x| format!("{}x", num(x, 2)),
                &|x| x >= g,
            );
        }
        table(&["target (worst otlp-lab run)", "goal", "measured", "verdict"], rows)
    }

    fn load_plots(&mut self, blocks: &mut Vec<Block>) -> Result<(), ReportBuildError> {
        let find = |name: &str| self.inputs.loads.iter().find(|l| l.scenario == name);
        blocks.push(Block::Sub("Throughput vs concurrency (high_concurrency)".into()));
        match find("high_concurrency") {
            None => blocks.push(self.missing("load/high_concurrency.json", "otlp-lab load high_concurrency")),
            Some(l) => {
                let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
                for r in &l.runs {
                    let name = format!("{} {}+{}", r.implementation, r.protocol, r.compression);
                    let pos = series.iter().position(|(n, _)| *n == name).unwrap_or_else(|| {
                        series.push((name, Vec::new()));
                        series.len() - 1
                    });
                    series[pos].1.push((concurrency(r), r.items_per_s));
                }
                for (_, pts) in &mut series {
                    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                }
                let svg = plots::lines("Delivered items/s vs producers", "producers", "items/s", &series)?;
                blocks.push(Block::Plot {
                    file: "throughput_vs_concurrency.svg".into(),
                    title: "Throughput vs concurrency (load/high_concurrency.json)".into(),
                    svg,
                });
            }
        }
        blocks.push(Block::Sub("Latency percentiles per protocol (network_io)".into()));
        match find("network_io") {
            None => blocks.push(self.missing("load/network_io.json", "otlp-lab load network_io")),
            Some(l) => {
                let groups: Vec<String> =
                    l.runs.iter().map(|r| format!("{} {}+{}", r.implementation, r.protocol, r.compression)).collect();
                let values: Vec<Vec<f64>> =
                    l.runs.iter().map(|r| vec![r.latency.p50, r.latency.p90, r.latency.p99, r.latency.p999]).collect();
                let svg = plots::hbars(
                    "Export latency per protocol",
                    "µs",
                    &groups,
                    &["p50", "p90", "p99", "p99.9"],
                    &values,
                )?;
                blocks.push(Block::Plot {
                    file: "latency_per_protocol.svg".into(),
                    title: "Latency percentiles per protocol (load/network_io.json)".into(),
                    svg,
                });
            }
        }
        Ok(())
    }

    fn exporter(&mut self) -> Section {
        let mut blocks = Vec::new();
        match &self.inputs.exporter {
            None => blocks.push(self.missing("exporter.json", "otlp-lab exporter-compare")),
            Some(e) => {
                blocks.push(Block::Para(format!(
                    "Whole exporter process under callgrind (creation, batching, encode, send): instructions at {} \
                     spans minus at {}, per span, {} repeats each.",
                    int(e.spans_high),
                    int(e.spans_low),
                    int(e.repeats)
                )));
                let rows = e
                    .rows
                    .iter()
                    .map(|r| {
                        let cfg = r.config();
                        let target = e.targets.iter().find(|(k, _)| *k == cfg).map(|(_, v)| *v);
                        let m = r.marginal_per_span;
                        let (goal, verdict) = match (r.implementation.as_str(), target) {
                            ("otlp-lab", Some(t)) => {
                                (format!("≤ {}", num(t, 0)), if m.median <= t { "met" } else { "MISSED" }.to_owned())
                            }
                            _ => ("-".to_owned(), "-".to_owned()),
                        };
                        let vs_sdk = if r.implementation == "otlp-lab" {
                            e.rows.iter().find(|s| s.implementation == "official-sdk" && s.config() == cfg).map_or_else(
                                || "-".to_owned(),
                                |s| {
                                    format!("{}x", num(s.marginal_per_span.median / m.median.max(f64::MIN_POSITIVE), 2))
                                },
                            )
                        } else {
                            "-".to_owned()
                        };
                        vec![
                            r.implementation.clone(),
                            cfg,
                            num(m.median, 0),
                            num(m.min, 0),
                            num(m.max, 0),
                            goal,
                            verdict,
                            vs_sdk,
                        ]
                    })
                    .collect();
                blocks.push(table(
                    &["implementation", "protocol", "median/span", "min", "max", "target", "verdict", "SDK / ours"],
                    rows,
                ));
            }
        }
        Section { id: "exporter", title: "Whole exporter vs the official SDK", blocks }
    }

    fn flamegraphs(&mut self) -> Result<Section, ReportBuildError> {
        let mut blocks = Vec::new();
        if self.inputs.flames.is_empty() {
            blocks.push(self.missing("flamegraphs/*.svg", "otlp-lab flame <name>"));
        } else {
            blocks.push(Block::Para(
                "CPU flamegraphs (pprof sampling): click one to open the interactive SVG (zoom, Ctrl-F); the .pb \
                 opens in go tool pprof, speedscope or Perfetto."
                    .into(),
            ));
        }
        for f in &self.inputs.flames {
            blocks.push(Block::Sub(f.name.clone()));
            let mut links: Vec<(String, String)> = Vec::new();
            match &f.svg {
                Some(svg) => {
                    let text = std::fs::read(svg).map_err(|source| InputError::Io { path: svg.clone(), source })?;
                    links.push((format!("{}.svg", f.name), self.link(svg)));
                    blocks.push(Block::Image {
                        alt: format!("flamegraph of {}", f.name),
                        href: self.link(svg),
                        data_uri: svg_data_uri(&text),
                    });
                }
                None => blocks
                    .push(self.missing(&format!("flamegraphs/{}.svg", f.name), &format!("otlp-lab flame {}", f.name))),
            }
            for p in &f.others {
                let name = p.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
                links.push((name, self.link(p)));
            }
            match &f.summary {
                Some(s) => {
                    links.push((
                        format!("{}.json", f.name),
                        self.link(&self.cfg.flamegraphs.join(format!("{}.json", f.name))),
                    ));
                    blocks.push(Block::Para(format!(
                        "{} samples at {} Hz over {} s, {} iterations, libc and the like {}; threads: {}.",
                        int(s.samples),
                        int(s.frequency_hz),
                        num(s.duration_s, 2),
                        int(s.iterations),
                        if s.blocklist { "left out (blocklist)" } else { "included" },
                        if s.threads.is_empty() { "-".to_owned() } else { s.threads.join(", ") }
                    )));
                    blocks.push(table(
                        &["function", "self %", "total %"],
                        s.top
                            .iter()
                            .take(15)
                            .map(|t| vec![t.function.clone(), num(t.self_pct, 1), num(t.total_pct, 1)])
                            .collect(),
                    ));
                }
                None => blocks
                    .push(self.missing(&format!("flamegraphs/{}.json", f.name), &format!("otlp-lab flame {}", f.name))),
            }
            blocks.push(Block::Links(links));
        }
        Ok(Section { id: "flamegraphs", title: "Flamegraphs", blocks })
    }

    fn exports(&self) -> Section {
        let n = self.inputs.results.as_ref().map_or(0, |r| r.len());
        let blocks = vec![
            Block::Para(format!(
                "Written beside this report from the same files: every count in Bencher Metric Format ({n} benches, \
                 plus the whole exporter and the load runs where present; `bencher run --file bmf.json`), and \
                 github-action-benchmark's customSmallerIsBetter list (everything where smaller is better; \
                 throughput is in the BMF file only)."
            )),
            Block::Links(vec![
                ("bmf.json".into(), "bmf.json".into()),
                ("github-action-benchmark.json".into(), "github-action-benchmark.json".into()),
                ("report.md (the Markdown twin of this page)".into(), "report.md".into()),
            ]),
        ];
        Section { id: "exports", title: "Exports", blocks }
    }
}

/// An SVG as a `data:` URI: shown by `<img>`, which runs none of its scripts
/// (a flamegraph's own JavaScript stays in the linked file).
fn svg_data_uri(svg: &[u8]) -> String {
    let mut out = String::from("data:image/svg+xml,");
    for &b in svg {
        if b.is_ascii_alphanumeric() || b" -_.~/:=;,'()!*".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_links_and_data_uris() {
        let tmp = std::env::temp_dir();
        assert_eq!(relative(&tmp.join("a/b"), &tmp.join("a/c/d.svg")), "../c/d.svg");
        assert_eq!(relative(&tmp.join("a"), &tmp.join("a/x.json")), "x.json");
        assert_eq!(svg_data_uri(b"<svg a=\"1\">#</svg>"), "data:image/svg+xml,%3Csvg a=%221%22%3E%23%3C/svg%3E");
        assert_eq!(concurrency(&LoadRun { step: "producers=50".into(), ..sample_run() }), 50.0);
        assert_eq!(concurrency(&LoadRun { step: "grpc+zstd".into(), ..sample_run() }), 4.0);
    }

    fn sample_run() -> LoadRun {
        LoadRun {
            implementation: "otlp-lab".into(),
            step: String::new(),
            protocol: "grpc".into(),
            compression: "zstd".into(),
            workers: 4,
            offered_rate: None,
            duration_s: 1.0,
            offered: 1,
            delivered: 1,
            items_per_s: 1.0,
            dropped: Vec::new(),
            dropped_total: 0,
            latency: inputs::Latency { p50: 1.0, p90: 1.0, p99: 1.0, p999: 1.0, max: 1.0, count: 1 },
            cpu_user_s: 0.0,
            cpu_system_s: 0.0,
            peak_rss_bytes: 0,
        }
    }
}
