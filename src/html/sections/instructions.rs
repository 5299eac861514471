//! Instruction counts and estimated cycles per bench (results.json) against
//! the baseline, the gate's verdict, and which benches rank differently by
//! cycles than by instructions.

use super::{Builder, table};
use crate::baseline::{self, Comparison, Gate};
use crate::html::ReportBuildError;
use crate::html::doc::{Block, Section, int, num};
use crate::html::plots;
use crate::report::{IcountRow, items_of, rank_shifts};

impl Builder<'_> {
    pub(super) fn instructions(&mut self) -> Result<Section, ReportBuildError> {
        let mut blocks = Vec::new();
        let Some(results) = &self.inputs.results else {
            blocks.push(self.missing("results.json", "scripts/run_benchmarks.sh quick"));
            return Ok(Section { id: "instructions", title: "Instruction counts", blocks });
        };
        blocks.push(Block::Para(
            "Instructions callgrind counted in each bench's measured region (the same binary repeats \
             them exactly), per item of the workload; the estimated cycles of its cache simulation on the \
             pinned geometry of src/bench_config.rs (L1 hits + 5 × LL hits + 35 × RAM hits), so that a change \
             that saves instructions but misses cache shows as what it is; and DHAT's heap blocks and bytes \
             of one measured run (setup and drop excluded), where it ran beside callgrind."
                .into(),
        ));
        let comparison: Option<Comparison> = self.inputs.baseline.as_ref().map(|old| {
            let fences_pct = self.inputs.history.as_ref().map(|h| h.gate_fences()).unwrap_or_default();
            let gate = Gate { floor_pct: self.cfg.floor_pct, scope: self.inputs.scope.clone(), fences_pct };
            baseline::compare(old, results, &gate)
        });
        let mut per_span: Vec<(String, f64, Option<f64>)> = Vec::new();
        let mut rows = Vec::new();
        let mut row = |id: &str,
                       new: Option<baseline::Metrics>,
                       old: Option<baseline::Metrics>,
                       delta: Option<f64>,
                       cycles_delta: Option<f64>,
                       verdict: &str| {
            let items = items_of(id);
            let cycles = new.and_then(|m| m.cache).map(|c| c.estimated_cycles);
            let dash = || "-".to_owned();
            let (per, cycles_per) = match (new, items) {
                (Some(m), Some(n)) => {
                    let per = m.instructions as f64 / n.max(1) as f64;
                    let cycles_per = cycles.map(|c| c as f64 / n.max(1) as f64);
                    // Spans are the items of the trace and pipeline paths.
                    if id.contains("traces") || id.contains("spans") || id.starts_with("pipeline") {
                        per_span.push((id.to_owned(), per, cycles_per));
                    }
                    (num(per, 0), cycles_per.map_or_else(dash, |c| num(c, 0)))
                }
                _ => (dash(), dash()),
            };
            let pct = |d: Option<f64>| d.map_or_else(dash, |d| format!("{d:+.3}%"));
            rows.push(vec![
                id.to_owned(),
                new.map_or_else(dash, |m| int(m.instructions)),
                items.map_or_else(dash, int),
                per,
                cycles.map_or_else(dash, int),
                cycles_per,
                new.and_then(|m| m.allocations).map_or_else(dash, int),
                new.and_then(|m| m.allocated_bytes).map_or_else(dash, int),
                old.map_or_else(dash, |m| int(m.instructions)),
                pct(delta),
                pct(cycles_delta),
                verdict.to_owned(),
            ]);
        };
        match &comparison {
            Some(c) => {
                for r in &c.rows {
                    row(&r.id, r.new, r.old, r.delta_pct, r.cycles_delta_pct, r.verdict.label());
                }
            }
            None => {
                for (id, m) in results {
                    row(id, Some(*m), None, None, None, "-");
                }
            }
        }
        blocks.push(table(
            &[
                "bench",
                "instructions",
                "items",
                "instr/item",
                "est. cycles",
                "cycles/item",
                "blocks/run",
                "bytes/run",
                "baseline",
                "delta",
                "cycles delta",
                "verdict",
            ],
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
                    "The gate flags an instruction count more than the floor above the baseline, any \
                     allocation increase (blocks per run) whatever the bench's budget, and a bench of the baseline the run \
                     lacks (\"not run\" when its suite did not run in a partial run; README, \"Baselines and the regression gate\"). \
                     Estimated cycles are shown, not gated: the cache simulation's misses move with code and data \
                     placement far more than instructions do (src/baseline/mod.rs, `compare`)."
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
            // Cycles beside instructions when every path has them; one series otherwise.
            let with_cycles = per_span.iter().all(|(_, _, c)| c.is_some());
            let (groups, values): (Vec<String>, Vec<Vec<f64>>) = per_span
                .into_iter()
                .map(|(id, v, c)| (id, if with_cycles { vec![v, c.unwrap_or(0.0)] } else { vec![v] }))
                .unzip();
            let series: &[&str] = if with_cycles { &["instructions", "estimated cycles"] } else { &["instructions"] };
            let svg = plots::hbars("Instructions per span, per path", "per span", &groups, series, &values)?;
            blocks.push(Block::Plot {
                file: "instructions_per_span.svg".into(),
                title: "Instructions (and estimated cycles) per span, per path (results.json)".into(),
                svg,
            });
        }
        blocks.push(Block::Para(cycle_rank_note(results)));
        Ok(Section { id: "instructions", title: "Instruction counts", blocks })
    }
}

/// The closing note: the benches whose rank by estimated cycles per item
/// differs from their rank by instructions per item, and what moved them
/// (their misses per instruction against the benches they passed).
fn cycle_rank_note(results: &baseline::Results) -> String {
    let rows: Vec<IcountRow> = results
        .iter()
        .map(|(id, m)| IcountRow {
            id: id.clone(),
            instructions: m.instructions,
            cache: m.cache,
            ..IcountRow::default()
        })
        .collect();
    if rows.iter().all(|r| r.cache.is_none()) {
        return "No bench of this run has a cache simulation: estimated cycles not run.".into();
    }
    let shifts = rank_shifts(&rows, items_of);
    if shifts.is_empty() {
        return "Every bench ranks the same by estimated cycles per item as by instructions per item: no path's \
                cache misses outweigh an instruction difference."
            .into();
    }
    let parts: Vec<String> = shifts
        .iter()
        .map(|s| {
            let way = if s.by_cycles > s.by_instructions {
                "more misses per instruction than the benches it falls behind"
            } else {
                "fewer misses per instruction than the benches it overtakes"
            };
            format!(
                "{} is {} by instructions per item and {} by estimated cycles per item ({} cycles per instruction, \
                 {} LL hits and {} RAM hits per 1,000 instructions: {way})",
                s.id,
                s.by_instructions,
                s.by_cycles,
                num(s.cycles_per_instruction, 3),
                num(s.ll_hits_per_kinstr, 2),
                num(s.ram_hits_per_kinstr, 3)
            )
        })
        .collect();
    format!(
        "Ranked by estimated cycles per item (1 = cheapest), {} of the benches with a cache simulation rank \
         differently than by instructions per item, because a miss weighs 5 (LL) or 35 (RAM) cycles against an \
         instruction's 1: {}.",
        shifts.len(),
        parts.join("; ")
    )
}
