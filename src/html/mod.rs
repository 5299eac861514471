//! `otlp-lab report`: one generated page of the last run, from its result
//! files only. It reads `profiles/` (results.json, environment.json,
//! pool.json, audit.json, dhat-*.json, load/*.json, exporter.json), a
//! baseline, the bench history beside it, and `flamegraphs/`, and writes `report.html` (self-contained:
//! inline CSS and SVG, no script, no network), its Markdown twin `report.md`
//! (same figures, plots as `plots/*.svg`), and the exports `bmf.json` and
//! `github-action-benchmark.json`. A part whose file is missing says "not
//! run"; nothing is filled in.
//!
//! Each result file is read with the serde type of the module that writes it
//! (`crate::result_file` lists them), and the sections use those types as
//! they are: a file that is there but malformed is an error naming the file
//! and, through serde, the field, never a guess.

pub(crate) mod doc;
pub mod env;
mod exports;
pub mod plots;
mod sections;

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use doc::Block;
use env::Environment;
use sections::Builder;

use crate::baseline::{self, Results};
use crate::exporter_compare::ExporterFile;
use crate::flame::FlameSummary;
use crate::heap::{AuditFile, PoolFile};
use crate::load::LoadFile;
use crate::result_file::ResultFileError;

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
    /// The bench history (`profiles/baselines/history.jsonl`): the History
    /// section's plots, and the gate's per-bench fences.
    pub history: PathBuf,
}

/// Why the report could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ReportBuildError {
    /// A result file could not be read or is malformed.
    #[error(transparent)]
    File(#[from] ResultFileError),
    /// A folder, a BMF file or a flamegraph SVG could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The folder or file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
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
    /// The history file is malformed.
    #[error(transparent)]
    History(#[from] crate::history::HistoryError),
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
    summary: Option<FlameSummary>,
    others: Vec<PathBuf>,
}

/// Everything read from the result files.
pub(crate) struct Inputs {
    env: Option<Environment>,
    results: Option<Results>,
    /// The gate's scope from the record beside results.json (full without one).
    scope: baseline::Scope,
    baseline: Option<Results>,
    history: Option<crate::history::History>,
    pool: Option<PoolFile>,
    audit: Option<AuditFile>,
    loads: Vec<LoadFile>,
    exporter: Option<ExporterFile>,
    flames: Vec<FlameEntry>,
    dhat: Vec<PathBuf>,
}

fn read_bmf(path: &Path) -> Result<Option<Results>, ReportBuildError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(ReportBuildError::Read { path: path.to_owned(), source }),
    };
    baseline::from_bmf(&text).map(Some).map_err(|source| ReportBuildError::Bmf { path: path.to_owned(), source })
}

fn read_inputs(cfg: &Config) -> Result<Inputs, ReportBuildError> {
    let p = |name: &str| cfg.profiles.join(name);
    let mut loads = Vec::new();
    for f in files_with_suffix(&cfg.profiles.join("load"), "", ".json")? {
        loads.extend(LoadFile::read(&f)?);
    }
    let mut names = BTreeSet::new();
    let fdir = &cfg.flamegraphs;
    for f in files_with_suffix(fdir, "", ".svg")?.into_iter().chain(files_with_suffix(fdir, "", ".json")?) {
        if let Some(stem) = f.file_stem() {
            names.insert(stem.to_string_lossy().into_owned());
        }
    }
    let mut flames = Vec::new();
    for name in names {
        let svg = Some(fdir.join(format!("{name}.svg"))).filter(|p| p.is_file());
        let summary = FlameSummary::read(&FlameSummary::path(fdir, &name))?;
        let others =
            ["pb", "folded"].iter().map(|ext| fdir.join(format!("{name}.{ext}"))).filter(|p| p.is_file()).collect();
        flames.push(FlameEntry { name, svg, summary, others });
    }
    Ok(Inputs {
        env: Environment::read(&p("environment.json"))?,
        results: read_bmf(&p("results.json"))?,
        scope: baseline::RunRecord::read_beside(&p("results.json"))?.map_or(baseline::Scope::Full, |r| r.scope()),
        baseline: read_bmf(&cfg.baseline)?,
        history: crate::history::History::read(&cfg.history)?,
        pool: PoolFile::read(&p("pool.json"))?,
        audit: AuditFile::read(&p("audit.json"))?,
        loads,
        exporter: ExporterFile::read(&p("exporter.json"))?,
        flames,
        dhat: files_with_suffix(&cfg.profiles, "dhat-", ".json")?,
    })
}

/// Files in `dir` whose names start with `prefix` and end with `suffix`,
/// sorted by name (none when the folder does not exist).
fn files_with_suffix(dir: &Path, prefix: &str, suffix: &str) -> Result<Vec<PathBuf>, ReportBuildError> {
    let unreadable = |source| ReportBuildError::Read { path: dir.to_owned(), source };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(unreadable(source)),
    };
    let mut out = Vec::new();
    for e in entries {
        let e = e.map_err(unreadable)?;
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(prefix) && name.ends_with(suffix) && e.path().is_file() {
            out.push(e.path());
        }
    }
    out.sort();
    Ok(out)
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
    for old in files_with_suffix(&plots_dir, "", ".svg")? {
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
    &["summary", "environment", "instructions", "history", "heap", "load", "exporter", "flamegraphs", "exports"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_links() {
        let tmp = std::env::temp_dir();
        assert_eq!(relative(&tmp.join("a/b"), &tmp.join("a/c/d.svg")), "../c/d.svg");
        assert_eq!(relative(&tmp.join("a"), &tmp.join("a/x.json")), "x.json");
    }
}
