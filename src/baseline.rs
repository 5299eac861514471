//! Bench results in the Bencher Metric Format, saved baselines, and the
//! regression gate that compares a run with a baseline.
//!
//! A results file is BMF JSON: `{"<bench>": {"instructions": {"value": N},
//! "allocations": {"value": M}}}`, one entry per bench, `allocations` only
//! where DHAT ran beside callgrind. The gate flags an instruction count that
//! rose by more than a floor, and any allocation increase on a workload whose
//! budget (in [`crate::budgets`]) is zero.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::budgets::BUDGETS;
use crate::report::IcountRow;

/// BMF measure of the instruction count.
pub const INSTRUCTIONS: &str = "instructions";
/// BMF measure of the heap blocks DHAT counted over the bench process.
pub const ALLOCATIONS: &str = "allocations";

/// Default floor of the gate, in percent of the baseline's count.
///
/// The same binary gives the same count on every run (the determinism check
/// compares with a floor of 0). A rebuild of the same source may move a count
/// a little (code layout, symbol names); the floor sits above that drift and
/// below the 1% step the gate must catch. README, "The regression gate", says
/// how the drift was measured.
pub const DEFAULT_FLOOR_PCT: f64 = 0.5;

/// One bench's figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metrics {
    /// Instructions in the measured region (callgrind).
    pub instructions: u64,
    /// Heap blocks over the bench process (DHAT), when it ran.
    pub allocations: Option<u64>,
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
}

/// Results from the rows read off iai-callgrind's JSON output. A bench seen
/// twice keeps its last figures.
pub fn from_rows(rows: &[IcountRow]) -> Results {
    rows.iter().map(|r| (r.id.clone(), Metrics { instructions: r.instructions, allocations: r.allocations })).collect()
}

/// Writes results as BMF JSON (pretty, stable order).
pub fn to_bmf(results: &Results) -> String {
    let mut root = serde_json::Map::new();
    for (id, m) in results {
        let mut measures = serde_json::Map::new();
        measures.insert(INSTRUCTIONS.into(), serde_json::json!({ "value": m.instructions }));
        if let Some(a) = m.allocations {
            measures.insert(ALLOCATIONS.into(), serde_json::json!({ "value": a }));
        }
        root.insert(id.clone(), serde_json::Value::Object(measures));
    }
    let mut text = serde_json::to_string_pretty(&serde_json::Value::Object(root)).expect("a JSON map serializes");
    text.push('\n');
    text
}

/// Reads BMF JSON as written by [`to_bmf`] (other measures are ignored).
pub fn from_bmf(text: &str) -> Result<Results, BaselineError> {
    let v: serde_json::Value = serde_json::from_str(text)?;
    let obj = v.as_object().ok_or(BaselineError::NotAnObject)?;
    let mut out = Results::new();
    for (id, measures) in obj {
        let value = |m: &str| measures.get(m).and_then(|x| x.get("value")).and_then(serde_json::Value::as_f64);
        let instructions = value(INSTRUCTIONS)
            .filter(|x| *x >= 0.0 && x.fract() == 0.0)
            .ok_or_else(|| BaselineError::NoInstructions(id.clone()))?;
        let allocations = match value(ALLOCATIONS) {
            None => None,
            Some(a) if a >= 0.0 && a.fract() == 0.0 => Some(a as u64),
            Some(_) => {
                return Err(BaselineError::Allocations(id.clone()));
            }
        };
        out.insert(id.clone(), Metrics { instructions: instructions as u64, allocations });
    }
    Ok(out)
}

/// Settings of the gate.
#[derive(Clone, Debug)]
pub struct Gate {
    /// An instruction count may rise by this many percent before it is flagged.
    pub floor_pct: f64,
    /// Benches whose allocations may not rise at all.
    pub zero_budget: Vec<String>,
}

impl Default for Gate {
    /// The default floor, and every workload budgeted at zero blocks.
    fn default() -> Self {
        Gate {
            floor_pct: DEFAULT_FLOOR_PCT,
            zero_budget: BUDGETS
                .iter()
                .filter(|b| b.blocks_per_run == 0)
                .map(|b| b.workload.name().to_owned())
                .collect(),
        }
    }
}

/// What the gate says of one bench.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Verdict {
    /// Within the floor.
    Same,
    /// Fewer instructions than the baseline by more than the floor.
    Improved,
    /// More instructions than the baseline by more than the floor: flagged.
    Regressed,
    /// More allocations on a zero-budget path, or no allocation count where
    /// the baseline had one: flagged.
    AllocationsUp,
    /// Not in the baseline.
    New,
    /// In the baseline, not in this run (not flagged: a partial run).
    Missing,
}

impl Verdict {
    /// Whether the gate fails on it.
    pub fn flagged(self) -> bool {
        matches!(self, Verdict::Regressed | Verdict::AllocationsUp)
    }

    /// How tables print it (`ok`, `improved`, `REGRESSED` ...).
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Same => "ok",
            Verdict::Improved => "improved",
            Verdict::Regressed => "REGRESSED",
            Verdict::AllocationsUp => "ALLOCATIONS UP",
            Verdict::New => "new",
            Verdict::Missing => "missing",
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

    /// A plain-text table of every bench, then the verdict.
    pub fn table(&self) -> String {
        let fmt_n = |m: Option<Metrics>, f: fn(Metrics) -> Option<u64>| {
            m.and_then(f).map_or_else(|| "-".to_owned(), |n| n.to_string())
        };
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<36} {:>14} {:>14} {:>9} {:>9} {:>9}  verdict",
            "bench", "old instr", "new instr", "delta", "old alloc", "new alloc"
        );
        for r in &self.rows {
            let delta = r.delta_pct.map_or_else(|| "-".to_owned(), |d| format!("{d:+.3}%"));
            let _ = writeln!(
                out,
                "{:<36} {:>14} {:>14} {:>9} {:>9} {:>9}  {}",
                r.id,
                fmt_n(r.old, |m| Some(m.instructions)),
                fmt_n(r.new, |m| Some(m.instructions)),
                delta,
                fmt_n(r.old, |m| m.allocations),
                fmt_n(r.new, |m| m.allocations),
                r.verdict.label()
            );
        }
        let flagged: Vec<&str> = self.flagged().map(|r| r.id.as_str()).collect();
        if flagged.is_empty() {
            let _ = writeln!(out, "gate: passed ({} benches, floor {}%)", self.rows.len(), self.floor_pct);
        } else {
            let _ = writeln!(
                out,
                "gate: FAILED, {} flagged (floor {}%): {}",
                flagged.len(),
                self.floor_pct,
                flagged.join(", ")
            );
        }
        out
    }
}

/// Compares `new` with the baseline `old`.
pub fn compare(old: &Results, new: &Results, gate: &Gate) -> Comparison {
    let mut ids: Vec<&String> = old.keys().chain(new.keys()).collect();
    ids.sort_unstable();
    ids.dedup();
    let rows = ids
        .into_iter()
        .map(|id| {
            let (o, n) = (old.get(id).copied(), new.get(id).copied());
            let (delta_pct, verdict) = match (o, n) {
                (Some(o), Some(n)) => {
                    let delta =
                        (n.instructions as f64 - o.instructions as f64) / (o.instructions.max(1) as f64) * 100.0;
                    // Up, or no longer measured: either way the zero budget is unguarded.
                    let allocs_up = matches!((o.allocations, n.allocations), (Some(a), Some(b)) if b > a)
                        || matches!((o.allocations, n.allocations), (Some(_), None));
                    let verdict = if allocs_up && gate.zero_budget.iter().any(|z| z == id) {
                        Verdict::AllocationsUp
                    } else if delta > gate.floor_pct {
                        Verdict::Regressed
                    } else if delta < -gate.floor_pct {
                        Verdict::Improved
                    } else {
                        Verdict::Same
                    };
                    (Some(delta), verdict)
                }
                (None, Some(_)) => (None, Verdict::New),
                (_, None) => (None, Verdict::Missing),
            };
            Row { id: id.clone(), old: o, new: n, delta_pct, verdict }
        })
        .collect();
    Comparison { rows, floor_pct: gate.floor_pct }
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
        r.insert("encode_direct_traces_512".into(), Metrics { instructions: 971_000, allocations: Some(4_200) });
        r.insert("json_parse_traces_512".into(), Metrics { instructions: 9_860_000, allocations: Some(15_000) });
        r.insert("hex_encode_ids_scalar_4k".into(), Metrics { instructions: 557_000, allocations: None });
        r
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

    #[test]
    fn a_run_compared_with_itself_passes() {
        let c = compare(&run(), &run(), &Gate::default());
        assert!(c.passed(), "{}", c.table());
        assert!(c.rows.iter().all(|r| r.verdict == Verdict::Same && r.delta_pct == Some(0.0)));
        assert!(c.table().contains("gate: passed (3 benches"));
    }

    #[test]
    fn one_percent_more_instructions_fails_and_names_the_bench() {
        let mut new = run();
        let m = new.get_mut("json_parse_traces_512").expect("present");
        m.instructions += m.instructions / 100;
        let c = compare(&run(), &new, &Gate::default());
        assert!(!c.passed());
        let flagged: Vec<_> = c.flagged().map(|r| (r.id.as_str(), r.verdict)).collect();
        assert_eq!(flagged, [("json_parse_traces_512", Verdict::Regressed)]);
        assert!(c.table().contains("gate: FAILED, 1 flagged") && c.table().contains("+1.000%"), "{}", c.table());
    }

    #[test]
    fn one_more_allocation_on_a_zero_budget_path_fails() {
        let gate = Gate::default();
        assert!(gate.zero_budget.iter().any(|z| z == "encode_direct_traces_512"), "budgets changed?");
        let mut new = run();
        *new.get_mut("encode_direct_traces_512").expect("present").allocations.as_mut().expect("has allocs") += 1;
        let c = compare(&run(), &new, &gate);
        let flagged: Vec<_> = c.flagged().map(|r| (r.id.as_str(), r.verdict)).collect();
        assert_eq!(flagged, [("encode_direct_traces_512", Verdict::AllocationsUp)]);
        // A zero-budget path that lost its allocation count is flagged too.
        let mut new = run();
        new.get_mut("encode_direct_traces_512").expect("present").allocations = None;
        assert!(!compare(&run(), &new, &gate).passed());
        // The same increase on a path without a zero budget is not flagged.
        let mut new = run();
        *new.get_mut("json_parse_traces_512").expect("present").allocations.as_mut().expect("has allocs") += 1;
        assert!(compare(&run(), &new, &gate).passed());
    }

    #[test]
    fn changes_within_the_floor_pass_and_partial_runs_are_not_flagged() {
        let mut new = run();
        new.get_mut("json_parse_traces_512").expect("present").instructions += 9_860; // +0.1%
        new.remove("hex_encode_ids_scalar_4k");
        new.insert("a_new_bench".into(), Metrics { instructions: 1, allocations: None });
        let c = compare(&run(), &new, &Gate::default());
        assert!(c.passed(), "{}", c.table());
        let verdict = |id: &str| c.rows.iter().find(|r| r.id == id).expect("row").verdict;
        assert_eq!(verdict("hex_encode_ids_scalar_4k"), Verdict::Missing);
        assert_eq!(verdict("a_new_bench"), Verdict::New);
        // With a floor of zero (the determinism check) the same change fails.
        let strict = Gate { floor_pct: 0.0, ..Gate::default() };
        assert!(!compare(&run(), &new, &strict).passed());
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
        assert_eq!(c.rows.iter().find(|r| r.id == "encode_direct_traces_512").expect("row").verdict, Verdict::Improved);
    }
}
