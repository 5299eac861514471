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

mod justification;

pub use justification::{Justification, JustificationError, JustificationFile};

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
            out.push_str("cycles: callgrind's estimate (src/bench_config.rs), shown and not gated (src/baseline/mod.rs, `compare`)\n");
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
mod tests;
