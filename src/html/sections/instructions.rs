//! Instruction counts per bench (results.json) against the baseline, and the gate's verdict.

use super::{Builder, table};
use crate::baseline::{self, Comparison, Gate};
use crate::html::ReportBuildError;
use crate::html::doc::{Block, Section, int, num};
use crate::html::plots;
use crate::report::items_of;

impl Builder<'_> {
    pub(super) fn instructions(&mut self) -> Result<Section, ReportBuildError> {
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
            let fences_pct = self.inputs.history.as_ref().map(|h| h.gate_fences()).unwrap_or_default();
            let gate = Gate { floor_pct: self.cfg.floor_pct, scope: self.inputs.scope.clone(), fences_pct };
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
                    "The gate flags an instruction count more than the floor above the baseline, any \
                     allocation increase whatever the bench's budget, and a bench of the baseline the run \
                     lacks (\"not run\" when its suite did not run in a partial run; README, \"Baselines and the regression gate\")."
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
}
