//! Bench results in the Bencher Metric Format, saved baselines, and the
//! regression gate that compares a run with a baseline.
//!
//! A results file is BMF JSON: `{"<bench>": {"instructions": {"value": N},
//! "estimated_cycles": {"value": C}, "allocations": {"value": M}, ...}}`, one
//! entry per bench: the cache simulation's measures (`estimated_cycles`,
//! `l1_hits`, `ll_hits`, `ram_hits`) where callgrind simulated the caches,
//! `allocations` and `allocated_bytes` (one measured run) where DHAT ran
//! beside callgrind. Files written before those measures existed still read.
//! Beside it, [`RunRecord`] says which suites the run covered, so that a
//! partial run is known as one.
//!
//! The gate flags, against a baseline: an instruction count that rose by more
//! than a floor (or than the bench's fence learned from `crate::history`,
//! where that is smaller); any allocation increase, whatever the bench's budget; a
//! bench of the baseline the run lacks (in a partial run, only for the suites
//! that ran; the others are "not run"). [`compare_with_previous`] judges the
//! run against the previous commit's baseline as well, so that a regression
//! saved into the baseline in the same commit is caught unless the
//! [`JustificationFile`] beside the baseline records it with the exact counts.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::icount::{CacheSim, IcountRow};
use crate::result_file::{self, ResultFileError};
use crate::workloads::{Category, Workload};

/// BMF measure of the instruction count.
pub const INSTRUCTIONS: &str = "instructions";
/// BMF measure of the heap blocks DHAT counted in one measured run.
pub const ALLOCATIONS: &str = "allocations";
/// BMF measure of the bytes those blocks held.
pub const ALLOCATED_BYTES: &str = "allocated_bytes";
/// BMF measure of the cache simulation's estimated cycles.
pub const ESTIMATED_CYCLES: &str = "estimated_cycles";
/// BMF measures of the cache simulation's hits, by level.
pub const CACHE_HITS: [&str; 3] = ["l1_hits", "ll_hits", "ram_hits"];

/// Default floor of the gate, in percent of the baseline's count.
///
/// The same binary gives the same count on every run (the determinism check
/// compares with a floor of 0). A rebuild of the same source may move a count
/// a little (code layout, symbol names); the floor sits above that drift and
/// below the 1% step the gate must catch. README, "The regression gate", says
/// how the drift was measured.
pub const DEFAULT_FLOOR_PCT: f64 = 0.5;

/// One bench's figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Metrics {
    /// Instructions in the measured region (callgrind).
    pub instructions: u64,
    /// The cache simulation's estimated cycles and hits in the measured
    /// region, when callgrind simulated the caches. Shown beside the
    /// instructions, never gated (see [`compare`]).
    pub cache: Option<CacheSim>,
    /// Heap blocks allocated in one measured run (DHAT under the frames of
    /// `crate::bench_config`), when it ran. Results saved before DHAT counted
    /// per run hold the whole bench process's blocks here.
    pub allocations: Option<u64>,
    /// Bytes those blocks held, when DHAT ran.
    pub allocated_bytes: Option<u64>,
}

/// The results of a run: bench id to figures, sorted by id.
pub type Results = BTreeMap<String, Metrics>;

/// Why a results file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// Not JSON.
    #[error("not JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// JSON, but not an object of benches.
    #[error("not Bencher Metric Format: the top level is not an object")]
    NotAnObject,
    /// A bench without a whole instruction count.
    #[error("not Bencher Metric Format: `{0}` has no whole `{INSTRUCTIONS}.value`")]
    NoInstructions(String),
    /// A bench whose allocation count is not whole.
    #[error("not Bencher Metric Format: `{0}` has a `{ALLOCATIONS}.value` that is not a whole count")]
    Allocations(String),
    /// A bench with another measure of ours that is not a whole count, or
    /// with some of the cache simulation's measures and not the others.
    #[error("not Bencher Metric Format: `{bench}` has no whole `{measure}.value` ({why})")]
    Measure {
        /// The bench.
        bench: String,
        /// The measure.
        measure: &'static str,
        /// Not whole, or missing beside the other cache measures.
        why: &'static str,
    },
}

/// Results from the rows read off iai-callgrind's JSON output. A bench seen
/// twice keeps its last figures.
pub fn from_rows(rows: &[IcountRow]) -> Results {
    rows.iter()
        .map(|r| {
            let m = Metrics {
                instructions: r.instructions,
                cache: r.cache,
                allocations: r.allocations,
                allocated_bytes: r.allocated_bytes,
            };
            (r.id.clone(), m)
        })
        .collect()
}

/// Writes results as BMF JSON (pretty, stable order).
pub fn to_bmf(results: &Results) -> String {
    let mut root = serde_json::Map::new();
    for (id, m) in results {
        let mut measures = serde_json::Map::new();
        for (name, value) in measures_of(m) {
            measures.insert(name.into(), serde_json::json!({ "value": value }));
        }
        root.insert(id.clone(), serde_json::Value::Object(measures));
    }
    let mut text = serde_json::to_string_pretty(&serde_json::Value::Object(root)).expect("a JSON map serializes");
    text.push('\n');
    text
}

/// Every measure a bench's figures hold, by BMF name, in the order files
/// list them: what [`to_bmf`] writes and the report's exports export.
pub fn measures_of(m: &Metrics) -> Vec<(&'static str, u64)> {
    let mut out = vec![(INSTRUCTIONS, m.instructions)];
    if let Some(c) = m.cache {
        out.push((ESTIMATED_CYCLES, c.estimated_cycles));
        out.extend(CACHE_HITS.into_iter().zip([c.l1_hits, c.ll_hits, c.ram_hits]));
    }
    out.extend(m.allocations.map(|a| (ALLOCATIONS, a)));
    out.extend(m.allocated_bytes.map(|b| (ALLOCATED_BYTES, b)));
    out
}

/// Reads BMF JSON as written by [`to_bmf`] (other measures are ignored).
/// Files without the cache or byte measures (saved before they existed)
/// read with those as `None`.
pub fn from_bmf(text: &str) -> Result<Results, BaselineError> {
    let v: serde_json::Value = serde_json::from_str(text)?;
    let obj = v.as_object().ok_or(BaselineError::NotAnObject)?;
    let mut out = Results::new();
    for (id, measures) in obj {
        let value = |m: &str| measures.get(m).and_then(|x| x.get("value")).and_then(serde_json::Value::as_f64);
        let whole = |x: f64| (x >= 0.0 && x.fract() == 0.0).then_some(x as u64);
        let instructions =
            value(INSTRUCTIONS).and_then(whole).ok_or_else(|| BaselineError::NoInstructions(id.clone()))?;
        let allocations = match value(ALLOCATIONS) {
            None => None,
            Some(a) => Some(whole(a).ok_or_else(|| BaselineError::Allocations(id.clone()))?),
        };
        let measure = |measure: &'static str| -> Result<Option<u64>, BaselineError> {
            value(measure)
                .map(|x| whole(x).ok_or(BaselineError::Measure { bench: id.clone(), measure, why: "not whole" }))
                .transpose()
        };
        let allocated_bytes = measure(ALLOCATED_BYTES)?;
        let cycles = measure(ESTIMATED_CYCLES)?;
        let hits = [measure(CACHE_HITS[0])?, measure(CACHE_HITS[1])?, measure(CACHE_HITS[2])?];
        let cache = match (cycles, hits) {
            (None, [None, None, None]) => None,
            (Some(estimated_cycles), [Some(l1_hits), Some(ll_hits), Some(ram_hits)]) => {
                Some(CacheSim { estimated_cycles, l1_hits, ll_hits, ram_hits })
            }
            _ => {
                let names = [ESTIMATED_CYCLES, CACHE_HITS[0], CACHE_HITS[1], CACHE_HITS[2]];
                let present = [cycles, hits[0], hits[1], hits[2]];
                let measure =
                    names.into_iter().zip(present).find(|(_, p)| p.is_none()).map_or(ESTIMATED_CYCLES, |(n, _)| n);
                return Err(BaselineError::Measure {
                    bench: id.clone(),
                    measure,
                    why: "the other cache measures are there",
                });
            }
        };
        out.insert(id.clone(), Metrics { instructions, cache, allocations, allocated_bytes });
    }
    Ok(out)
}

/// The quick suites, each a `benches/iai_<name>.rs` file: a run of all of
/// them is a full run. `SUITES_QUICK` in `scripts/run_benchmarks.sh` lists the
/// same names (a unit test checks both).
pub const QUICK_SUITES: [Category; 5] =
    [Category::Serialization, Category::Simd, Category::Compression, Category::Pool, Category::Pipeline];

/// The side record of a results file: which suites the run behind it ran.
/// `otlp-lab bmf --out` writes it beside the results (see [`RunRecord::path_for`]);
/// `otlp-lab compare`, `otlp-lab suites` and the report read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRecord {
    /// The suites that ran (their bench files' names without `iai_`).
    pub suites: Vec<String>,
}

impl RunRecord {
    /// Where the record of the results file `results` lives:
    /// `profiles/results.json` has `profiles/results.suites.json`.
    pub fn path_for(results: &Path) -> PathBuf {
        results.with_extension("suites.json")
    }

    /// The record of a run made of the given runner output files, each named
    /// after its suite (`profiles/icount/<suite>.jsonl`).
    pub fn from_files(files: &[PathBuf]) -> RunRecord {
        let mut suites: Vec<String> =
            files.iter().filter_map(|f| f.file_stem()).map(|s| s.to_string_lossy().into_owned()).collect();
        suites.sort_unstable();
        suites.dedup();
        RunRecord { suites }
    }

    /// Writes the record beside `results`.
    pub fn write_beside(&self, results: &Path) -> Result<(), ResultFileError> {
        result_file::write(&Self::path_for(results), self)
    }

    /// Reads the record beside `results`; `None` when there is none.
    pub fn read_beside(results: &Path) -> Result<Option<RunRecord>, ResultFileError> {
        result_file::read(&Self::path_for(results))
    }

    /// The quick suites this run did not run.
    pub fn suites_not_run(&self) -> Vec<&'static str> {
        QUICK_SUITES.iter().map(|c| c.name()).filter(|q| !self.suites.iter().any(|s| s == q)).collect()
    }

    /// Whether every quick suite ran.
    pub fn is_full(&self) -> bool {
        self.suites_not_run().is_empty()
    }

    /// The gate's scope for this run.
    pub fn scope(&self) -> Scope {
        if self.is_full() { Scope::Full } else { Scope::Partial { suites: self.suites.clone() } }
    }
}

/// What a run was meant to cover, which decides what a bench missing from it means.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Scope {
    /// Every quick suite: a bench of the baseline the run lacks is flagged.
    #[default]
    Full,
    /// Only these suites: a missing bench of one of them is flagged, the
    /// benches of the other suites are "not run".
    Partial {
        /// The suites that ran.
        suites: Vec<String>,
    },
}

impl Scope {
    /// Whether a bench the run lacks is expected to be missing: its suite did
    /// not run. A bench that is no workload any more belongs to no suite, so
    /// its absence is never expected.
    fn expects_absent(&self, id: &str) -> bool {
        match self {
            Scope::Full => false,
            Scope::Partial { suites } => {
                id.parse::<Workload>().is_ok_and(|w| !suites.iter().any(|s| s == w.category().name()))
            }
        }
    }
}

/// A count a justification may excuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Measure {
    /// The instruction count.
    Instructions,
    /// The heap block count.
    Allocations,
}

impl Measure {
    /// Its BMF name.
    pub fn name(self) -> &'static str {
        match self {
            Measure::Instructions => INSTRUCTIONS,
            Measure::Allocations => ALLOCATIONS,
        }
    }

    fn of(self, m: Metrics) -> Option<u64> {
        match self {
            Measure::Instructions => Some(m.instructions),
            Measure::Allocations => m.allocations,
        }
    }
}

/// The reviewed record of one count a saved baseline made worse: the bench,
/// the measure, the previous baseline's count, the new baseline's, and why
/// that is accepted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Justification {
    /// Bench id.
    pub bench: String,
    /// Which count.
    pub measure: Measure,
    /// The count in the previous commit's baseline.
    pub old: u64,
    /// The count in the baseline this commit saved.
    pub new: u64,
    /// Why the change is accepted (not empty).
    pub why: String,
}

/// The justification file beside a baseline (`profiles/baselines/main.json`
/// has `main.justified.json`): the regressions the commit that saved the
/// baseline accepted. An entry excuses a flagged row of the comparison with
/// the previous baseline only when its counts are exactly the previous and
/// the current baseline's, so an entry written for one change excuses no other.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JustificationFile {
    /// The entries.
    pub justified: Vec<Justification>,
}

/// Why a justification file is refused.
#[derive(Debug, thiserror::Error)]
pub enum JustificationError {
    /// Not readable, not JSON, or not the file's shape.
    #[error(transparent)]
    File(#[from] ResultFileError),
    /// An entry without a reason.
    #[error("{}: the entry for `{bench}` ({}) has no `why`", path.display(), measure.name())]
    NoWhy {
        /// The file.
        path: PathBuf,
        /// The entry's bench.
        bench: String,
        /// The entry's measure.
        measure: Measure,
    },
    /// An entry whose count did not rise: nothing to justify.
    #[error("{}: the entry for `{bench}` ({}) goes from {old} to {new}, which is no increase", path.display(), measure.name())]
    NotAnIncrease {
        /// The file.
        path: PathBuf,
        /// The entry's bench.
        bench: String,
        /// The entry's measure.
        measure: Measure,
        /// The entry's previous count.
        old: u64,
        /// The entry's new count.
        new: u64,
    },
    /// The same bench, measure and counts twice.
    #[error("{}: `{bench}` ({}) is justified twice", path.display(), measure.name())]
    Duplicate {
        /// The file.
        path: PathBuf,
        /// The bench.
        bench: String,
        /// The measure.
        measure: Measure,
    },
}

impl JustificationFile {
    /// Where the justifications of the baseline `baseline` live.
    pub fn path_for(baseline: &Path) -> PathBuf {
        baseline.with_extension("justified.json")
    }

    /// Reads and checks the file at `path` (it must exist).
    pub fn read(path: &Path) -> Result<JustificationFile, JustificationError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ResultFileError::Read { path: path.to_owned(), source })?;
        Self::parse(path, &text)
    }

    /// Parses and checks the text of the file at `path`: every entry has a
    /// reason, is an increase, and appears once.
    pub fn parse(path: &Path, text: &str) -> Result<JustificationFile, JustificationError> {
        let file: JustificationFile = result_file::from_str(path, text)?;
        let mut seen = std::collections::BTreeSet::new();
        for j in &file.justified {
            let (bench, measure) = (j.bench.clone(), j.measure);
            if j.why.trim().is_empty() {
                return Err(JustificationError::NoWhy { path: path.to_owned(), bench, measure });
            }
            if j.new <= j.old {
                let (old, new) = (j.old, j.new);
                return Err(JustificationError::NotAnIncrease { path: path.to_owned(), bench, measure, old, new });
            }
            if !seen.insert((j.bench.as_str(), j.measure, j.old, j.new)) {
                return Err(JustificationError::Duplicate { path: path.to_owned(), bench, measure });
            }
        }
        Ok(file)
    }

    /// The file's text (what [`JustificationFile::parse`] reads).
    pub fn to_text(&self) -> String {
        result_file::to_text(self)
    }

    /// The entry for exactly this change, if any.
    pub fn find(&self, bench: &str, measure: Measure, old: u64, new: u64) -> Option<&Justification> {
        self.justified.iter().find(|j| j.bench == bench && j.measure == measure && j.old == old && j.new == new)
    }
}

/// Settings of the gate.
#[derive(Clone, Debug)]
pub struct Gate {
    /// An instruction count may rise by this many percent before it is flagged.
    pub floor_pct: f64,
    /// What the run covered.
    pub scope: Scope,
    /// Per bench, the upper fence in percent learned from the bench history
    /// (`crate::history::History::gate_fences`: rustc-perf's Q3 + 3 × IQR of
    /// its past changes, for benches with enough of them). The fence only
    /// tightens the gate: a bench listed here is judged against the smaller
    /// of the floor and its fence (never below [`FENCE_MIN_PCT`]), both ways;
    /// the others against the floor alone. Allocations are never fenced.
    ///
    /// Why not the larger, as rustc-perf does with its noisy timings: a
    /// count here is deterministic, and the history's lines are baseline
    /// saves, each made because a count moved, so its fences are wide (the
    /// history, when backfilled (10 lines), gave 21 of 36 benches one above the floor, up to
    /// 119%); taking the larger would let a 1% step through on those.
    pub fences_pct: BTreeMap<String, f64>,
}

/// The least a history fence can set a bench's threshold to, in percent:
/// above the drift a rebuild of the same source at another path shows (a
/// few instructions on the benches that carry source paths, 0.0004% when
/// measured before the workspace split), so that a
/// bench whose history never moved is not failed by a rebuild.
pub const FENCE_MIN_PCT: f64 = 0.05;

impl Gate {
    /// The percent an instruction count of `id` may move before it counts:
    /// the floor, or the bench's fence when that is smaller (but at least
    /// [`FENCE_MIN_PCT`]).
    pub fn threshold_pct(&self, id: &str) -> f64 {
        self.fences_pct.get(id).map_or(self.floor_pct, |f| f.max(FENCE_MIN_PCT).min(self.floor_pct))
    }
}

impl Default for Gate {
    /// The default floor, a full run, and no fences.
    fn default() -> Self {
        Gate { floor_pct: DEFAULT_FLOOR_PCT, scope: Scope::Full, fences_pct: BTreeMap::new() }
    }
}

/// What the gate says of one bench.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Verdict {
    /// Within the floor (or the bench's tighter history fence, [`Gate::fences_pct`]).
    Same,
    /// Fewer instructions than the baseline by more than the floor (or fence).
    Improved,
    /// More instructions than the baseline by more than the floor (or fence): flagged.
    Regressed,
    /// More allocations than the baseline, or no allocation count where the
    /// baseline had one: flagged, whatever the bench's budget.
    AllocationsUp,
    /// Worse than the previous baseline, and every worse count has its entry
    /// in the justification file: not flagged.
    Justified,
    /// Not in the baseline.
    New,
    /// In the baseline, not in this run although its suite ran: flagged.
    Missing,
    /// In the baseline, not in this partial run because its suite did not run.
    NotRun,
    /// In the previous baseline only: the current baseline and the run both
    /// dropped it (a removed or renamed bench). Listed, not flagged.
    Dropped,
}

impl Verdict {
    /// Whether the gate fails on it.
    pub fn flagged(self) -> bool {
        matches!(self, Verdict::Regressed | Verdict::AllocationsUp | Verdict::Missing)
    }

    /// How tables print it (`ok`, `improved`, `REGRESSED` ...).
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Same => "ok",
            Verdict::Improved => "improved",
            Verdict::Regressed => "REGRESSED",
            Verdict::AllocationsUp => "ALLOCATIONS UP",
            Verdict::Justified => "justified",
            Verdict::New => "new",
            Verdict::Missing => "MISSING",
            Verdict::NotRun => "not run",
            Verdict::Dropped => "dropped",
        }
    }
}

/// One row of a comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Bench id.
    pub id: String,
    /// The baseline's figures.
    pub old: Option<Metrics>,
    /// This run's figures.
    pub new: Option<Metrics>,
    /// Instruction change in percent of the baseline.
    pub delta_pct: Option<f64>,
    /// Estimated cycles' change in percent of the baseline, when both sides
    /// have a cache simulation: shown, not gated.
    pub cycles_delta_pct: Option<f64>,
    /// The gate's verdict.
    pub verdict: Verdict,
}

/// A run compared with a baseline.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// Every bench of either side, sorted by id.
    pub rows: Vec<Row>,
    /// The floor used.
    pub floor_pct: f64,
    /// What the run covered.
    pub scope: Scope,
    /// The justification entries that excused a row (against the previous baseline).
    pub used: Vec<Justification>,
    /// The entries that would excuse the flagged rows, with an empty `why`
    /// (against the previous baseline, for rows the current baseline has).
    pub needed: Vec<Justification>,
    /// The history fences the gate had ([`Gate::fences_pct`]).
    pub fences_pct: BTreeMap<String, f64>,
}

impl Comparison {
    /// The flagged rows.
    pub fn flagged(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| r.verdict.flagged())
    }

    /// Whether the gate passes.
    pub fn passed(&self) -> bool {
        self.flagged().next().is_none()
    }

    /// A plain-text table of every bench, then the justifications used, then the verdict.
    pub fn table(&self) -> String {
        let fmt_n = |m: Option<Metrics>, f: fn(Metrics) -> Option<u64>| {
            m.and_then(f).map_or_else(|| "-".to_owned(), |n| n.to_string())
        };
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<40} {:>14} {:>14} {:>9} {:>14} {:>14} {:>9} {:>9} {:>9}  verdict",
            "bench",
            "old instr",
            "new instr",
            "delta",
            "old cycles",
            "new cycles",
            "cyc delta",
            "old alloc",
            "new alloc"
        );
        let pct = |d: Option<f64>| d.map_or_else(|| "-".to_owned(), |d| format!("{d:+.3}%"));
        for r in &self.rows {
            let _ = writeln!(
                out,
                "{:<40} {:>14} {:>14} {:>9} {:>14} {:>14} {:>9} {:>9} {:>9}  {}",
                r.id,
                fmt_n(r.old, |m| Some(m.instructions)),
                fmt_n(r.new, |m| Some(m.instructions)),
                pct(r.delta_pct),
                fmt_n(r.old, |m| m.cache.map(|c| c.estimated_cycles)),
                fmt_n(r.new, |m| m.cache.map(|c| c.estimated_cycles)),
                pct(r.cycles_delta_pct),
                fmt_n(r.old, |m| m.allocations),
                fmt_n(r.new, |m| m.allocations),
                r.verdict.label()
            );
        }
        for r in &self.rows {
            if let Some(f) = self.fences_pct.get(&r.id) {
                let t = f.max(FENCE_MIN_PCT).min(self.floor_pct);
                let judged = if t < self.floor_pct {
                    format!("judged against {t:.3}%, tighter than the floor")
                } else {
                    "the floor is smaller".to_owned()
                };
                let _ = writeln!(out, "fence: {} {f:.3}% from its history ({judged})", r.id);
            }
        }
        if self.rows.iter().any(|r| r.cycles_delta_pct.is_some()) {
            out.push_str("cycles: callgrind's estimate (src/bench_config.rs), shown and not gated (src/baseline.rs, `compare`)\n");
        }
        for j in &self.used {
            let _ = writeln!(out, "justified: {} {} {} -> {}: {}", j.bench, j.measure.name(), j.old, j.new, j.why);
        }
        let not_run = self.rows.iter().filter(|r| r.verdict == Verdict::NotRun).count();
        let scope = match &self.scope {
            Scope::Full => String::new(),
            Scope::Partial { suites } => {
                format!("; partial run of {}, {not_run} benches of other suites not run", suites.join(", "))
            }
        };
        let flagged: Vec<&str> = self.flagged().map(|r| r.id.as_str()).collect();
        if flagged.is_empty() {
            let _ = writeln!(out, "gate: passed ({} benches, floor {}%{scope})", self.rows.len(), self.floor_pct);
        } else {
            let _ = writeln!(
                out,
                "gate: FAILED, {} flagged (floor {}%{scope}): {}",
                flagged.len(),
                self.floor_pct,
                flagged.join(", ")
            );
        }
        out
    }
}

/// Compares the run `new` with the baseline `old`. Nothing is excused: the
/// run must hold every count of the baseline it is judged against.
///
/// Instructions and allocations are gated; the estimated cycles are shown
/// beside them (old, new, change) and never flag a bench. The cache
/// simulation counts misses of caches indexed by address, so the same
/// instructions moved to other addresses (a function placed elsewhere by a
/// change in another crate, a buffer at another offset) hit other sets and
/// miss differently: the estimate moves with code and data placement far more
/// than the instruction count does, and a floor that let that drift through
/// would let a real regression through too. A change that saves
/// instructions but misses cache is visible in the cycles column and in the
/// report's note on benches that rank differently by cycles.
pub fn compare(old: &Results, new: &Results, gate: &Gate) -> Comparison {
    let rows = union(old, new)
        .map(|id| {
            let (o, n) = (old.get(id).copied(), new.get(id).copied());
            let (delta_pct, verdict) = judge(id, o, n, gate, |_, _| None);
            Row { id: id.clone(), old: o, new: n, delta_pct, cycles_delta_pct: cycles_delta(o, n), verdict }
        })
        .collect();
    Comparison {
        rows,
        floor_pct: gate.floor_pct,
        scope: gate.scope.clone(),
        used: Vec::new(),
        needed: Vec::new(),
        fences_pct: gate.fences_pct.clone(),
    }
}

/// Compares the run `run` with the previous commit's baseline `previous`,
/// where `current` is the baseline this commit carries: a count worse than
/// `previous` is excused only by an entry of `justified` whose `old` is the
/// previous baseline's count and whose `new` is the current baseline's. A
/// bench only the previous baseline has is `dropped` (listed, not flagged).
pub fn compare_with_previous(
    previous: &Results,
    current: &Results,
    run: &Results,
    justified: &JustificationFile,
    gate: &Gate,
) -> Comparison {
    let mut used = Vec::new();
    let mut needed = Vec::new();
    let rows = union(previous, run)
        .map(|id| {
            let (o, n) = (previous.get(id).copied(), run.get(id).copied());
            let cur = current.get(id).copied();
            let (delta_pct, verdict) = if o.is_some() && n.is_none() && cur.is_none() {
                (None, Verdict::Dropped)
            } else {
                judge(id, o, n, gate, |measure, old_count| {
                    let new_count = cur.and_then(|c| measure.of(c))?;
                    let found = justified.find(id, measure, old_count, new_count);
                    match found {
                        Some(j) => used.push(j.clone()),
                        None => needed.push(Justification {
                            bench: id.clone(),
                            measure,
                            old: old_count,
                            new: new_count,
                            why: String::new(),
                        }),
                    }
                    found.map(|_| ())
                })
            };
            Row { id: id.clone(), old: o, new: n, delta_pct, cycles_delta_pct: cycles_delta(o, n), verdict }
        })
        .collect();
    // A count that is no worse in the current baseline cannot be justified by it.
    needed.retain(|j: &Justification| j.new > j.old);
    Comparison {
        rows,
        floor_pct: gate.floor_pct,
        scope: gate.scope.clone(),
        used,
        needed,
        fences_pct: gate.fences_pct.clone(),
    }
}

/// The estimated cycles' change from `old` to `new` in percent, when both
/// were simulated.
fn cycles_delta(old: Option<Metrics>, new: Option<Metrics>) -> Option<f64> {
    let (o, n) = (old?.cache?.estimated_cycles, new?.cache?.estimated_cycles);
    Some((n as f64 - o as f64) / (o.max(1) as f64) * 100.0)
}

/// Every bench id of either side, sorted, once.
fn union<'a>(a: &'a Results, b: &'a Results) -> impl Iterator<Item = &'a String> {
    let mut ids: Vec<&String> = a.keys().chain(b.keys()).collect();
    ids.sort_unstable();
    ids.dedup();
    ids.into_iter()
}

/// The delta and verdict of one bench. `excuse` is asked about each worse
/// measure with the baseline's count; `Some` excuses it.
fn judge(
    id: &str,
    old: Option<Metrics>,
    new: Option<Metrics>,
    gate: &Gate,
    mut excuse: impl FnMut(Measure, u64) -> Option<()>,
) -> (Option<f64>, Verdict) {
    match (old, new) {
        (Some(o), Some(n)) => {
            let delta = (n.instructions as f64 - o.instructions as f64) / (o.instructions.max(1) as f64) * 100.0;
            // Up, or no longer measured: either way the count is unguarded.
            let allocs_up = match (o.allocations, n.allocations) {
                (Some(a), Some(b)) => b > a,
                (Some(_), None) => true,
                (None, _) => false,
            };
            let threshold = gate.threshold_pct(id);
            let instr_up = delta > threshold;
            let allocs_excused = allocs_up && o.allocations.is_some_and(|a| excuse(Measure::Allocations, a).is_some());
            let instr_excused = instr_up && excuse(Measure::Instructions, o.instructions).is_some();
            let verdict = if allocs_up && !allocs_excused {
                Verdict::AllocationsUp
            } else if instr_up && !instr_excused {
                Verdict::Regressed
            } else if allocs_up || instr_up {
                Verdict::Justified
            } else if delta < -threshold {
                Verdict::Improved
            } else {
                Verdict::Same
            };
            (Some(delta), verdict)
        }
        (None, Some(_)) => (None, Verdict::New),
        (Some(_), None) if gate.scope.expects_absent(id) => (None, Verdict::NotRun),
        (_, None) => (None, Verdict::Missing),
    }
}

/// Benches whose figures differ at all between two runs of the same binary
/// (the determinism check), each with both sides; benches in only one run count too.
pub fn differences(a: &Results, b: &Results) -> Vec<(String, Option<Metrics>, Option<Metrics>)> {
    let mut ids: Vec<&String> = a.keys().chain(b.keys()).collect();
    ids.sort_unstable();
    ids.dedup();
    ids.into_iter()
        .filter_map(|id| {
            let (x, y) = (a.get(id).copied(), b.get(id).copied());
            (x != y).then(|| (id.clone(), x, y))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> Results {
        let mut r = Results::new();
        r.insert(
            "encode_direct_traces_512".into(),
            Metrics { instructions: 971_000, allocations: Some(4_200), ..Metrics::default() },
        );
        r.insert(
            "json_parse_traces_512".into(),
            Metrics { instructions: 9_860_000, allocations: Some(15_000), ..Metrics::default() },
        );
        r.insert(
            "hex_encode_ids_scalar_4k".into(),
            Metrics { instructions: 557_000, allocations: None, ..Metrics::default() },
        );
        r.insert(
            "pipeline_batch_discard_512".into(),
            Metrics { instructions: 2_266_729, allocations: Some(4_751), ..Metrics::default() },
        );
        r
    }

    fn verdict(c: &Comparison, id: &str) -> Verdict {
        c.rows.iter().find(|r| r.id == id).expect("row").verdict
    }

    fn flagged(c: &Comparison) -> Vec<(&str, Verdict)> {
        c.flagged().map(|r| (r.id.as_str(), r.verdict)).collect()
    }

    fn partial(suites: &[&str]) -> Gate {
        Gate { scope: Scope::Partial { suites: suites.iter().map(|s| (*s).to_owned()).collect() }, ..Gate::default() }
    }

    fn entry(bench: &str, measure: Measure, old: u64, new: u64) -> Justification {
        Justification { bench: bench.into(), measure, old, new, why: "accepted: a reviewed reason".into() }
    }

    #[test]
    fn bmf_round_trips_and_rejects_other_shapes() {
        let r = run();
        let text = to_bmf(&r);
        assert!(text.contains(r#""instructions": {"#) && text.contains(r#""value": 971000"#), "{text}");
        assert_eq!(from_bmf(&text).expect("reads back"), r);
        assert!(matches!(from_bmf("[1]"), Err(BaselineError::NotAnObject)));
        assert!(
            matches!(from_bmf(r#"{"a": {"latency": {"value": 1}}}"#), Err(BaselineError::NoInstructions(id)) if id == "a")
        );
        assert!(matches!(from_bmf("{"), Err(BaselineError::Json(_))));
        let half = r#"{"a": {"instructions": {"value": 1}, "allocations": {"value": 1.5}}}"#;
        assert!(matches!(from_bmf(half), Err(BaselineError::Allocations(_))));
    }

    /// [`run`] with the cache simulation and bytes on every bench, as a run now has them.
    fn run_with_cycles() -> Results {
        let mut r = run();
        for (i, m) in r.values_mut().enumerate() {
            let (ll, ram) = (100 * i as u64, 10 * i as u64);
            let l1 = m.instructions + m.instructions / 2;
            m.cache =
                Some(CacheSim { estimated_cycles: l1 + 5 * ll + 35 * ram, l1_hits: l1, ll_hits: ll, ram_hits: ram });
            m.allocated_bytes = m.allocations.map(|a| a * 48);
        }
        r
    }

    #[test]
    fn bmf_round_trips_the_cache_simulation_and_bytes_and_reads_old_files() {
        let r = run_with_cycles();
        let text = to_bmf(&r);
        assert!(text.contains(r#""estimated_cycles": {"#) && text.contains(r#""ram_hits": {"#), "{text}");
        assert!(text.contains(r#""allocated_bytes": {"#), "{text}");
        assert_eq!(from_bmf(&text).expect("reads back"), r);
        // A file saved before the measures existed reads with them absent.
        let old = from_bmf(&to_bmf(&run())).expect("reads");
        assert!(old.values().all(|m| m.cache.is_none() && m.allocated_bytes.is_none()));
        // Half a cache simulation, or a fraction, is refused by name.
        let half = r#"{"a": {"instructions": {"value": 1}, "estimated_cycles": {"value": 2}, "l1_hits": {"value": 1}, "ll_hits": {"value": 0}}}"#;
        let e = from_bmf(half).expect_err("refused");
        assert!(matches!(e, BaselineError::Measure { measure: "ram_hits", .. }), "{e}");
        let frac = r#"{"a": {"instructions": {"value": 1}, "allocated_bytes": {"value": 1.5}}}"#;
        assert!(matches!(from_bmf(frac), Err(BaselineError::Measure { measure: ALLOCATED_BYTES, .. })));
    }

    #[test]
    fn cycles_are_shown_beside_instructions_and_never_flag() {
        // An old baseline without cycles against a run with them: compared, passes.
        let c = compare(&run(), &run_with_cycles(), &Gate::default());
        assert!(c.passed(), "{}", c.table());
        assert!(c.rows.iter().all(|r| r.cycles_delta_pct.is_none()));
        // Cycles 20% up with the same instructions: shown, not flagged.
        let mut worse = run_with_cycles();
        let m = worse.get_mut("json_parse_traces_512").expect("present");
        m.cache.as_mut().expect("cache").estimated_cycles += m.cache.expect("cache").estimated_cycles / 5;
        let c = compare(&run_with_cycles(), &worse, &Gate::default());
        assert!(c.passed(), "{}", c.table());
        let row = c.rows.iter().find(|r| r.id == "json_parse_traces_512").expect("row");
        assert!((row.cycles_delta_pct.expect("both simulated") - 20.0).abs() < 0.01, "{row:?}");
        assert_eq!(row.verdict, Verdict::Same);
        assert!(c.table().contains("+20.000%") && c.table().contains("not gated"), "{}", c.table());
        // The determinism check sees a cycle difference.
        assert_eq!(differences(&run_with_cycles(), &worse).len(), 1);
    }

    #[test]
    fn a_run_compared_with_itself_passes() {
        let c = compare(&run(), &run(), &Gate::default());
        assert!(c.passed(), "{}", c.table());
        assert!(c.rows.iter().all(|r| r.verdict == Verdict::Same && r.delta_pct == Some(0.0)));
        assert!(c.table().contains("gate: passed (4 benches"));
        // The previous baseline equal to the current one changes nothing.
        let c = compare_with_previous(&run(), &run(), &run(), &JustificationFile::default(), &Gate::default());
        assert!(c.passed() && c.used.is_empty() && c.needed.is_empty(), "{}", c.table());
    }

    #[test]
    fn one_percent_more_instructions_fails_and_names_the_bench() {
        let mut new = run();
        let m = new.get_mut("json_parse_traces_512").expect("present");
        m.instructions += m.instructions / 100;
        let c = compare(&run(), &new, &Gate::default());
        assert!(!c.passed());
        assert_eq!(flagged(&c), [("json_parse_traces_512", Verdict::Regressed)]);
        assert!(c.table().contains("gate: FAILED, 1 flagged") && c.table().contains("+1.000%"), "{}", c.table());
    }

    #[test]
    fn one_more_allocation_fails_on_every_bench_whatever_its_budget() {
        // pipeline_batch_discard_512 has a budget of thousands of blocks; the
        // others here have zero or none: each fails alike.
        for id in ["pipeline_batch_discard_512", "encode_direct_traces_512", "json_parse_traces_512"] {
            let mut new = run();
            *new.get_mut(id).expect("present").allocations.as_mut().expect("has allocs") += 1;
            let c = compare(&run(), &new, &Gate::default());
            assert_eq!(flagged(&c), [(id, Verdict::AllocationsUp)], "{}", c.table());
            assert!(c.table().contains("ALLOCATIONS UP"));
        }
        // A bench that lost its allocation count is flagged too.
        let mut new = run();
        new.get_mut("pipeline_batch_discard_512").expect("present").allocations = None;
        assert_eq!(
            flagged(&compare(&run(), &new, &Gate::default())),
            [("pipeline_batch_discard_512", Verdict::AllocationsUp)]
        );
        // One allocation fewer is no regression.
        let mut new = run();
        *new.get_mut("pipeline_batch_discard_512").expect("present").allocations.as_mut().expect("allocs") -= 1;
        assert!(compare(&run(), &new, &Gate::default()).passed());
    }

    #[test]
    fn changes_within_the_floor_pass_and_new_benches_are_listed() {
        let mut new = run();
        new.get_mut("json_parse_traces_512").expect("present").instructions += 9_860; // +0.1%
        new.insert("a_new_bench".into(), Metrics { instructions: 1, allocations: None, ..Metrics::default() });
        let c = compare(&run(), &new, &Gate::default());
        assert!(c.passed(), "{}", c.table());
        assert_eq!(verdict(&c, "a_new_bench"), Verdict::New);
        // With a floor of zero (the determinism check) the same change fails.
        let strict = Gate { floor_pct: 0.0, ..Gate::default() };
        assert!(!compare(&run(), &new, &strict).passed());
    }

    #[test]
    fn a_missing_bench_fails_a_full_run_and_is_not_run_in_a_partial_one() {
        let mut new = run();
        new.remove("hex_encode_ids_scalar_4k"); // suite simd
        let c = compare(&run(), &new, &Gate::default());
        assert_eq!(flagged(&c), [("hex_encode_ids_scalar_4k", Verdict::Missing)], "{}", c.table());
        assert!(c.table().contains("MISSING") && c.table().contains("gate: FAILED, 1 flagged"));

        // A partial run without simd: not run, not flagged, and said so.
        let c = compare(&run(), &new, &partial(&["serialization", "pipeline"]));
        assert!(c.passed(), "{}", c.table());
        assert_eq!(verdict(&c, "hex_encode_ids_scalar_4k"), Verdict::NotRun);
        assert!(c.table().contains("partial run of serialization, pipeline, 1 benches of other suites not run"));

        // A partial run that ran simd and still lacks the bench fails.
        let c = compare(&run(), &new, &partial(&["simd"]));
        assert_eq!(flagged(&c), [("hex_encode_ids_scalar_4k", Verdict::Missing)], "{}", c.table());

        // A baseline bench that is no workload belongs to no suite: missing, even in a partial run.
        let mut old = run();
        old.insert("a_renamed_bench".into(), Metrics { instructions: 5, allocations: None, ..Metrics::default() });
        let c = compare(&old, &run(), &partial(&["serialization"]));
        assert_eq!(flagged(&c), [("a_renamed_bench", Verdict::Missing)], "{}", c.table());
    }

    #[test]
    fn determinism_sees_any_difference() {
        assert!(differences(&run(), &run()).is_empty());
        let mut other = run();
        other.get_mut("hex_encode_ids_scalar_4k").expect("present").instructions -= 1;
        let d = differences(&run(), &other);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].0, "hex_encode_ids_scalar_4k");
        other.remove("json_parse_traces_512");
        assert_eq!(differences(&run(), &other).len(), 2);
    }

    #[test]
    fn large_improvements_are_reported_not_flagged() {
        let mut new = run();
        new.get_mut("encode_direct_traces_512").expect("present").instructions /= 2;
        let c = compare(&run(), &new, &Gate::default());
        assert!(c.passed());
        assert_eq!(verdict(&c, "encode_direct_traces_512"), Verdict::Improved);
    }

    /// The previous commit's baseline, the current one with json_parse_traces_512
    /// 2% slower and pipeline_batch_discard_512 one allocation up saved into it,
    /// and a run equal to the current baseline.
    fn saved_regression() -> (Results, Results) {
        let previous = run();
        let mut current = run();
        current.get_mut("json_parse_traces_512").expect("present").instructions = 10_057_200;
        *current.get_mut("pipeline_batch_discard_512").expect("present").allocations.as_mut().expect("allocs") += 1;
        (previous, current)
    }

    #[test]
    fn a_regression_saved_into_the_baseline_fails_without_a_justification() {
        let (previous, current) = saved_regression();
        // Against the current baseline alone, the run looks unchanged.
        assert!(compare(&current, &current, &Gate::default()).passed());
        let c = compare_with_previous(&previous, &current, &current, &JustificationFile::default(), &Gate::default());
        assert_eq!(
            flagged(&c),
            [("json_parse_traces_512", Verdict::Regressed), ("pipeline_batch_discard_512", Verdict::AllocationsUp)],
            "{}",
            c.table()
        );
        // What would excuse them: the two baselines' counts, a reason to fill in.
        assert_eq!(
            c.needed,
            [
                Justification {
                    why: String::new(),
                    ..entry("json_parse_traces_512", Measure::Instructions, 9_860_000, 10_057_200)
                },
                Justification {
                    why: String::new(),
                    ..entry("pipeline_batch_discard_512", Measure::Allocations, 4_751, 4_752)
                },
            ]
        );
    }

    #[test]
    fn a_matching_justification_excuses_the_saved_regression_and_is_printed() {
        let (previous, current) = saved_regression();
        let justified = JustificationFile {
            justified: vec![
                entry("json_parse_traces_512", Measure::Instructions, 9_860_000, 10_057_200),
                entry("pipeline_batch_discard_512", Measure::Allocations, 4_751, 4_752),
            ],
        };
        let c = compare_with_previous(&previous, &current, &current, &justified, &Gate::default());
        assert!(c.passed(), "{}", c.table());
        assert_eq!(verdict(&c, "json_parse_traces_512"), Verdict::Justified);
        assert_eq!(verdict(&c, "pipeline_batch_discard_512"), Verdict::Justified);
        assert_eq!(c.used, justified.justified);
        assert!(c.table().contains("justified: json_parse_traces_512 instructions 9860000 -> 10057200: accepted"));
        // Only one of the two measures justified: the other still fails.
        let half = JustificationFile { justified: justified.justified[..1].to_vec() };
        let c = compare_with_previous(&previous, &current, &current, &half, &Gate::default());
        assert_eq!(flagged(&c), [("pipeline_batch_discard_512", Verdict::AllocationsUp)], "{}", c.table());
    }

    #[test]
    fn a_stale_justification_does_not_excuse_a_new_regression() {
        let (previous, current) = saved_regression();
        let allocs = entry("pipeline_batch_discard_512", Measure::Allocations, 4_751, 4_752);
        for stale in [
            // Written for an earlier change: another previous count.
            entry("json_parse_traces_512", Measure::Instructions, 9_700_000, 10_057_200),
            // The regression grew after it was justified: another new count.
            entry("json_parse_traces_512", Measure::Instructions, 9_860_000, 10_000_000),
            // Another measure, or another bench.
            entry("json_parse_traces_512", Measure::Allocations, 9_860_000, 10_057_200),
            entry("json_parse_logs_512", Measure::Instructions, 9_860_000, 10_057_200),
        ] {
            let file = JustificationFile { justified: vec![stale.clone(), allocs.clone()] };
            let c = compare_with_previous(&previous, &current, &current, &file, &Gate::default());
            assert_eq!(flagged(&c), [("json_parse_traces_512", Verdict::Regressed)], "{stale:?}\n{}", c.table());
        }
        // A run that regressed beyond the justified count fails against the current baseline.
        let justified = JustificationFile {
            justified: vec![entry("json_parse_traces_512", Measure::Instructions, 9_860_000, 10_057_200), allocs],
        };
        let mut worse = current.clone();
        worse.get_mut("json_parse_traces_512").expect("present").instructions = 10_200_000;
        assert_eq!(
            flagged(&compare(&current, &worse, &Gate::default())),
            [("json_parse_traces_512", Verdict::Regressed)]
        );
        // ... while within the floor of the current baseline the justification holds.
        let mut close = current.clone();
        close.get_mut("json_parse_traces_512").expect("present").instructions = 10_060_000;
        assert!(compare(&current, &close, &Gate::default()).passed());
        assert!(compare_with_previous(&previous, &current, &close, &justified, &Gate::default()).passed());
    }

    #[test]
    fn a_bench_dropped_from_both_the_baseline_and_the_run_is_listed() {
        let previous = run();
        let mut current = run();
        current.remove("hex_encode_ids_scalar_4k");
        let c = compare_with_previous(&previous, &current, &current, &JustificationFile::default(), &Gate::default());
        assert!(c.passed(), "{}", c.table());
        assert_eq!(verdict(&c, "hex_encode_ids_scalar_4k"), Verdict::Dropped);
        // Dropped from the run only: missing, in both comparisons.
        let c = compare_with_previous(&previous, &previous, &current, &JustificationFile::default(), &Gate::default());
        assert_eq!(flagged(&c), [("hex_encode_ids_scalar_4k", Verdict::Missing)]);
    }

    #[test]
    fn justification_files_round_trip_and_refuse_entries_without_a_reason() {
        let path = Path::new("main.justified.json");
        let file = JustificationFile { justified: vec![entry("json_parse_traces_512", Measure::Instructions, 1, 2)] };
        let text = file.to_text();
        assert!(text.contains(r#""measure": "instructions""#), "{text}");
        assert_eq!(JustificationFile::parse(path, &text).expect("reads back"), file);
        assert_eq!(
            JustificationFile::path_for(Path::new("profiles/baselines/main.json")),
            Path::new("profiles/baselines/main.justified.json")
        );

        let one = |bench: &str, measure: &str, old: u64, new: u64, why: &str| {
            format!(
                r#"{{"justified": [{{"bench": "{bench}", "measure": "{measure}", "old": {old}, "new": {new}, "why": "{why}"}}]}}"#
            )
        };
        let err = |text: &str| JustificationFile::parse(path, text).expect_err("refused");
        assert!(
            matches!(err(&one("a", "instructions", 1, 2, "  ")), JustificationError::NoWhy { bench, .. } if bench == "a")
        );
        assert!(matches!(err(&one("a", "allocations", 2, 2, "why")), JustificationError::NotAnIncrease { .. }));
        assert!(matches!(
            err(&one("a", "cycles", 1, 2, "why")),
            JustificationError::File(ResultFileError::Shape { .. })
        ));
        assert!(matches!(err("{"), JustificationError::File(ResultFileError::Syntax { .. })));
        assert!(matches!(
            err(r#"{"justified": [], "extra": 1}"#),
            JustificationError::File(ResultFileError::Shape { .. })
        ));
        let twice = JustificationFile {
            justified: vec![entry("a", Measure::Instructions, 1, 2), entry("a", Measure::Instructions, 1, 2)],
        };
        let e = err(&twice.to_text());
        assert!(matches!(e, JustificationError::Duplicate { .. }));
        assert!(e.to_string().contains("`a` (instructions) is justified twice"), "{e}");
    }

    #[test]
    fn the_committed_justifications_are_well_formed() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/baselines/main.justified.json");
        let file = JustificationFile::read(&path).expect("profiles/baselines/main.justified.json reads");
        let baseline = std::fs::read_to_string(path.with_file_name("main.json")).expect("main.json");
        let baseline = from_bmf(&baseline).expect("main.json is BMF");
        // An entry's new count is what some baseline holds; the latest ones are the current baseline's.
        assert!(!file.justified.is_empty());
        for j in &file.justified {
            assert!(baseline.contains_key(&j.bench), "{} is no bench of main.json", j.bench);
        }
    }

    #[test]
    fn run_records_say_which_suites_ran() {
        let files: Vec<PathBuf> =
            QUICK_SUITES.iter().map(|c| PathBuf::from(format!("profiles/icount/{}.jsonl", c.name()))).collect();
        let full = RunRecord::from_files(&files);
        assert!(full.is_full() && full.scope() == Scope::Full, "{full:?}");
        let part = RunRecord::from_files(&files[..1]);
        assert_eq!(part.suites, ["serialization"]);
        assert_eq!(part.suites_not_run(), ["simd", "compression", "pool", "pipeline"]);
        assert_eq!(part.scope(), Scope::Partial { suites: vec!["serialization".into()] });
        assert_eq!(RunRecord::path_for(Path::new("profiles/results.json")), Path::new("profiles/results.suites.json"));

        let dir = std::env::temp_dir().join(format!("otlp-lab-run-record-{}", std::process::id()));
        let results = dir.join("results.json");
        assert_eq!(RunRecord::read_beside(&results).expect("no record is no error"), None);
        part.write_beside(&results).expect("write");
        assert_eq!(RunRecord::read_beside(&results).expect("read"), Some(part));
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn the_quick_suites_are_the_scripts_and_the_bench_files() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let script = std::fs::read_to_string(root.join("scripts/run_benchmarks.sh")).expect("script");
        let line = script.lines().find_map(|l| l.strip_prefix("SUITES_QUICK=\"")).expect("SUITES_QUICK line");
        let names: Vec<&str> = QUICK_SUITES.iter().map(|c| c.name()).collect();
        assert_eq!(line.split('"').next().expect("quoted").split_whitespace().collect::<Vec<_>>(), names);
        for n in &names {
            assert!(root.join(format!("benches/iai_{n}.rs")).is_file(), "benches/iai_{n}.rs");
        }
        for w in Workload::ALL {
            assert!(names.contains(&w.category().name()), "{} is in no quick suite", w.name());
        }
    }
}
