//! Writing a finished run: the flamegraph and differential SVGs, the summary
//! as JSON and for a terminal, and the files of the output folder.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{FlameError, FlameRun, Folded, FunctionShare};
use crate::result_file::{self, ResultFileError};

/// `flamegraphs/<name>.json`: written by `otlp-lab flame`, read by the report
/// (fields: `flamegraphs/README.md`). Percents and rates are rounded to two
/// places.
///
/// The report shows the fields up to `top`, so only those must be in a file;
/// the rest are optional on reading so that a summary holding just what the
/// report shows (the hand-made ones in `tests/data/report/`) still reads,
/// and a figure that is not there stays absent instead of reading as zero.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlameSummary {
    /// The job: a workload or scenario name.
    pub name: String,
    /// Samples in all.
    pub samples: u64,
    /// Sampling frequency asked for.
    pub frequency_hz: u32,
    /// Wall-clock seconds sampled.
    pub duration_s: f64,
    /// Runs of the job while sampling.
    pub iterations: u64,
    /// Whether samples in the [`BLOCKLIST`](super::BLOCKLIST) objects were dropped.
    pub blocklist: bool,
    /// Thread names that were sampled, sorted.
    pub threads: Vec<String>,
    /// Our functions, most self samples first.
    pub top: Vec<FunctionShare>,
    /// Our functions, most total samples first (without the flame runner's own frames).
    #[serde(default)]
    pub top_total: Vec<FunctionShare>,
    /// Any function, most self samples first.
    #[serde(default)]
    pub top_any_self: Vec<FunctionShare>,
    /// Samples per wall-clock second.
    pub effective_hz: Option<f64>,
    /// CPU seconds of the process while sampling; null when procfs did not tell.
    pub cpu_s: Option<f64>,
    /// Samples per CPU second; null without `cpu_s`.
    pub samples_per_cpu_s: Option<f64>,
    /// Scenarios: the divisor of their item counts.
    pub scale: Option<u32>,
    /// [`Analysis::crate_pct`](super::Analysis::crate_pct).
    pub crate_pct: Option<f64>,
    /// [`Analysis::data_path_pct`](super::Analysis::data_path_pct).
    pub data_path_pct: Option<f64>,
    /// [`Analysis::rooted_pct`](super::Analysis::rooted_pct).
    pub rooted_pct: Option<f64>,
    /// [`Analysis::allocator_pct`](super::Analysis::allocator_pct).
    pub allocator_pct: Option<f64>,
    /// [`Analysis::memory_pct`](super::Analysis::memory_pct).
    pub memory_pct: Option<f64>,
    /// [`Analysis::libc_leaf_pct`](super::Analysis::libc_leaf_pct).
    pub libc_leaf_pct: Option<f64>,
    /// [`Analysis::inlined_pct`](super::Analysis::inlined_pct).
    pub inlined_pct: Option<f64>,
    /// [`Analysis::unknown_pct`](super::Analysis::unknown_pct).
    pub unknown_pct: Option<f64>,
    /// [`Analysis::truncated_pct`](super::Analysis::truncated_pct).
    pub truncated_pct: Option<f64>,
}

impl FlameSummary {
    /// Where the summary of the job `name` goes in `dir`.
    pub fn path(dir: &Path, name: &str) -> PathBuf {
        dir.join(format!("{name}.json"))
    }

    /// Reads `path`; `None` when it does not exist.
    pub fn read(path: &Path) -> Result<Option<FlameSummary>, ResultFileError> {
        result_file::read(path)
    }
}

impl FlameRun {
    /// The flamegraph's title.
    fn title(&self) -> String {
        format!(
            "{}: {} samples at {} Hz asked, libc blocklist {}",
            self.job,
            self.analysis.samples,
            self.config.frequency_hz,
            if self.config.blocklist { "on" } else { "off" }
        )
    }

    fn subtitle(&self) -> String {
        format!(
            "{} iterations in {:.1} s ({:.0} samples/s); threads: {}",
            self.iterations,
            self.elapsed.as_secs_f64(),
            self.effective_hz(),
            self.analysis.threads.join(", ")
        )
    }

    /// The interactive SVG.
    pub fn svg(&self, path: &Path) -> Result<Vec<u8>, FlameError> {
        let labels =
            Labels { title: self.title(), subtitle: Some(self.subtitle()), count_name: "samples", palette: None };
        flamegraph_svg(&self.folded, &labels, path)
    }

    /// The differential SVG against a saved run's folded stacks.
    pub fn diff_svg(&self, saved: &Folded, saved_name: &str, path: &Path) -> Result<Vec<u8>, FlameError> {
        let labels = Labels {
            title: format!("{} vs {saved_name}", self.title()),
            subtitle: Some(format!(
                "widths: this run; red: more samples than in {saved_name} ({} samples, scaled to this run's total), blue: fewer",
                saved.samples()
            )),
            count_name: "samples",
            palette: None,
        };
        Ok(differential_svg(saved, &self.folded, &labels, path)?.1)
    }

    /// The `<name>.json` summary, with the stack-quality figures.
    pub fn summary(&self) -> FlameSummary {
        let a = &self.analysis;
        let list = |v: &[FunctionShare]| {
            v.iter()
                .map(|f| FunctionShare {
                    function: f.function.clone(),
                    self_pct: round2(f.self_pct),
                    total_pct: round2(f.total_pct),
                })
                .collect()
        };
        FlameSummary {
            name: self.job.name().to_owned(),
            samples: a.samples,
            frequency_hz: self.config.frequency_hz,
            duration_s: round2(self.elapsed.as_secs_f64()),
            iterations: self.iterations,
            blocklist: self.config.blocklist,
            threads: a.threads.clone(),
            top: list(&a.ours_by_self),
            top_total: list(&a.ours_by_total),
            top_any_self: list(&a.any_by_self),
            effective_hz: Some(round2(self.effective_hz())),
            cpu_s: self.cpu.map(|c| round2(c.as_secs_f64())),
            samples_per_cpu_s: self.samples_per_cpu_s().map(round2),
            scale: Some(self.config.scale),
            crate_pct: Some(round2(a.crate_pct)),
            data_path_pct: Some(round2(a.data_path_pct)),
            rooted_pct: Some(round2(a.rooted_pct)),
            allocator_pct: Some(round2(a.allocator_pct)),
            memory_pct: Some(round2(a.memory_pct)),
            libc_leaf_pct: Some(round2(a.libc_leaf_pct)),
            inlined_pct: Some(round2(a.inlined_pct)),
            unknown_pct: Some(round2(a.unknown_pct)),
            truncated_pct: Some(round2(a.truncated_pct)),
        }
    }

    /// The summary for a terminal.
    pub fn summary_text(&self) -> String {
        use std::fmt::Write;
        let a = &self.analysis;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{}: {} samples in {:.1} s ({:.0}/s, {} Hz asked), {} iterations, libc blocklist {}; threads: {}",
            self.job,
            a.samples,
            self.elapsed.as_secs_f64(),
            self.effective_hz(),
            self.config.frequency_hz,
            self.iterations,
            if self.config.blocklist { "on" } else { "off" },
            a.threads.join(", ")
        );
        let _ = writeln!(
            s,
            "stacks: {:.1}% unwound to the root, {:.1}% with an otlp_lab frame, {:.1}% with a data-path frame (encode, \
             compress, transport, ...), {:.1}% with inlined frames resolved, {:.1}% with an unresolved frame, {:.1}% cut at \
             depth {}",
            a.rooted_pct,
            a.crate_pct,
            a.data_path_pct,
            a.inlined_pct,
            a.unknown_pct,
            a.truncated_pct,
            pprof::MAX_DEPTH
        );
        if let (Some(cpu), Some(rate)) = (self.cpu, self.samples_per_cpu_s()) {
            let _ = writeln!(
                s,
                "process CPU {:.1} s while sampling: {rate:.0} samples per CPU second (the tick rate when no sample is dropped)",
                cpu.as_secs_f64()
            );
        }
        let _ = writeln!(
            s,
            "allocator {:.1}%, mem* leaf {:.1}%, leaf in libc/libgcc/pthread/vdso {:.1}% (what the blocklist drops)",
            a.allocator_pct, a.memory_pct, a.libc_leaf_pct
        );
        let table = |s: &mut String, title: &str, v: &[FunctionShare]| {
            let _ = writeln!(s, "{title}\n  {:>6} {:>6}  function", "self%", "total%");
            for f in v.iter().take(10) {
                let _ = writeln!(s, "  {:>6.1} {:>6.1}  {}", f.self_pct, f.total_pct, f.function);
            }
        };
        table(&mut s, "our functions by self share:", &a.ours_by_self);
        table(&mut s, "our functions by total share:", &a.ours_by_total);
        table(&mut s, "any function by self share:", &a.any_by_self);
        s
    }

    /// Writes `<name>.svg`, `.pb`, `.folded`, `.json` (and `<name>-diff.svg`
    /// given a saved run) into `dir`; returns the paths written.
    pub fn write(&self, dir: &Path, diff: Option<(&Folded, &Path)>) -> Result<Vec<PathBuf>, FlameError> {
        let io_err = |path: &Path| {
            let path = path.to_owned();
            move |source| FlameError::Io { path, source }
        };
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let name = self.job.name();
        let file = |ext: &str| dir.join(format!("{name}{ext}"));
        let mut written = Vec::new();
        let mut put = |path: PathBuf, bytes: &[u8]| -> Result<(), FlameError> {
            fs::write(&path, bytes).map_err(io_err(&path))?;
            written.push(path);
            Ok(())
        };
        let svg = file(".svg");
        put(svg.clone(), &self.svg(&svg)?)?;
        put(file(".pb"), &self.pprof)?;
        put(file(".folded"), self.folded.to_string().as_bytes())?;
        put(FlameSummary::path(dir, name), result_file::to_text(&self.summary()).as_bytes())?;
        if let Some((saved, saved_path)) = diff {
            let path = file("-diff.svg");
            let saved_name = saved_path
                .file_name()
                .map_or_else(|| saved_path.display().to_string(), |n| n.to_string_lossy().into_owned());
            put(path.clone(), &self.diff_svg(saved, &saved_name, &path)?)?;
        }
        Ok(written)
    }
}

/// What a flamegraph says about itself: shared by the CPU flamegraphs and
/// the allocation flamegraphs of `src/heap/fold.rs`, so both draw alike.
pub(crate) struct Labels<'a> {
    /// The line at the top.
    pub title: String,
    /// The line under it.
    pub subtitle: Option<String>,
    /// What the weights count (`samples`, `blocks`, `bytes`), in the tooltips.
    pub count_name: &'a str,
    /// inferno's palette; `None` for its default (hot).
    pub palette: Option<inferno::flamegraph::color::Palette>,
}

/// An interactive inferno SVG of `folded`.
pub(crate) fn flamegraph_svg(folded: &Folded, labels: &Labels<'_>, path: &Path) -> Result<Vec<u8>, FlameError> {
    let mut opt = options(labels);
    let lines = folded.lines();
    let mut svg = Vec::new();
    inferno::flamegraph::from_lines(&mut opt, lines.iter().map(String::as_str), &mut svg)
        .map_err(|source| FlameError::Draw { path: path.to_owned(), source })?;
    Ok(svg)
}

/// inferno's differential of `saved` against `current` (`stack saved current`
/// lines, sorted, the saved counts scaled to the current total) and the SVG
/// drawn from it: widths from `current`, red where it has more, blue where less.
pub(crate) fn differential_svg(
    saved: &Folded,
    current: &Folded,
    labels: &Labels<'_>,
    path: &Path,
) -> Result<(String, Vec<u8>), FlameError> {
    let draw = |source| FlameError::Draw { path: path.to_owned(), source };
    let mut diff = Vec::new();
    // Normalized: a saved run of another length or machine load would
    // otherwise turn everything red or blue.
    let opt = inferno::differential::Options { normalize: true, strip_hex: false };
    inferno::differential::from_readers(opt, saved.to_string().as_bytes(), current.to_string().as_bytes(), &mut diff)
        .map_err(draw)?;
    let text = String::from_utf8_lossy(&diff);
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    let mut opt = options(labels);
    let mut svg = Vec::new();
    inferno::flamegraph::from_lines(&mut opt, lines.iter().copied(), &mut svg).map_err(draw)?;
    let mut sorted = lines.join("\n");
    sorted.push('\n');
    Ok((sorted, svg))
}

fn options(labels: &Labels<'_>) -> inferno::flamegraph::Options<'static> {
    let mut opt = inferno::flamegraph::Options::default();
    opt.title.clone_from(&labels.title);
    opt.subtitle.clone_from(&labels.subtitle);
    opt.count_name = labels.count_name.to_owned();
    if let Some(palette) = labels.palette {
        opt.colors = palette;
    }
    opt
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
