//! The bench history (profiles/baselines/history.jsonl): every bench's
//! instructions per item over commits as a step plot, each step's commit
//! subject on its marker, and the fences the gate learns from the history.

use super::{Builder, table};
use crate::baseline::FENCE_MIN_PCT;
use crate::history::{History, MIN_CHANGES};
use crate::html::ReportBuildError;
use crate::html::doc::{Block, Section, num};
use crate::html::plots::{self, StepPoint};
use crate::report::items_of;

/// How many of a bench's steps get their subject written beside them (the
/// largest; every step has it as a tooltip).
const LABELLED_STEPS: usize = 3;

/// A subject cut to `max` characters for a label.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max { s.to_owned() } else { format!("{}…", s.chars().take(max - 1).collect::<String>()) }
}

impl Builder<'_> {
    pub(super) fn history(&mut self) -> Result<Section, ReportBuildError> {
        const ID: &str = "history";
        const TITLE: &str = "History";
        let file = self.cfg.history.display().to_string();
        let how = "otlp-lab history backfill (from git: every commit that changed profiles/baselines/main.json); \
                   scripts/run_benchmarks.sh save main and ci append to it";
        let Some(h) = &self.inputs.history else {
            let blocks = vec![self.missing(&file, how)];
            return Ok(Section { id: ID, title: TITLE, blocks });
        };
        if h.is_empty() {
            self.not_run.push(file.clone());
            let blocks = vec![Block::NotRun { what: format!("{file} has no lines"), how: how.to_owned() }];
            return Ok(Section { id: ID, title: TITLE, blocks });
        }
        let mut blocks = vec![Block::Para(format!(
            "{} commits from {file}, oldest first: each plot is a bench's instructions per item (instructions \
             where the bench is no workload any more) from one commit to the next. Hover a marker for its commit \
             and subject; the {LABELLED_STEPS} largest steps of each bench carry theirs. The fence is the gate's \
             significance threshold from the bench's own past changes (rustc-perf's Q3 + 3 × IQR of their \
             magnitudes); it applies from {MIN_CHANGES} past changes on, and only tightens: a bench is held to the smaller of the floor and its fence (at least {FENCE_MIN_PCT}%).",
            h.len()
        ))];
        blocks.push(table(
            &["#", "commit", "date", "subject"],
            h.entries()
                .enumerate()
                .map(|(i, (e, _))| {
                    let dirty = if e.dirty { " (dirty: uncommitted changes on top)" } else { "" };
                    vec![i.to_string(), e.short.clone(), e.date.clone(), format!("{}{dirty}", e.subject)]
                })
                .collect(),
        ));
        let fences = h.fences();
        let pct = |x: f64| format!("{}%", num(x, 3));
        blocks.push(table(
            &["bench", "past changes", "Q1", "Q3", "fence", "gate"],
            h.benches()
                .into_iter()
                .map(|b| match fences.get(b) {
                    Some(f) => vec![
                        b.to_owned(),
                        f.changes.to_string(),
                        pct(f.q1_pct),
                        pct(f.q3_pct),
                        pct(f.upper_pct),
                        if f.applies() {
                            pct(f.upper_pct.max(FENCE_MIN_PCT).min(self.cfg.floor_pct))
                        } else {
                            "floor alone (too few changes)".to_owned()
                        },
                    ],
                    None => vec![
                        b.to_owned(),
                        h.changes(b).len().to_string(),
                        "-".into(),
                        "-".into(),
                        "-".into(),
                        "floor alone (too few changes)".into(),
                    ],
                })
                .collect(),
        ));
        let x_labels: Vec<String> = h.entries().map(|(e, _)| e.short.clone()).collect();
        for bench in h.benches() {
            blocks.push(plot(h, bench, &x_labels)?);
        }
        Ok(Section { id: ID, title: TITLE, blocks })
    }
}

/// One bench's step plot.
fn plot(h: &History, bench: &str, x_labels: &[String]) -> Result<Block, ReportBuildError> {
    let items = items_of(bench);
    let (per, unit) = match items {
        Some(n) => (n.max(1) as f64, "instructions per item"),
        None => (1.0, "instructions"),
    };
    let series: Vec<_> = h.series(bench).collect();
    let changes: Vec<Option<f64>> = series
        .iter()
        .enumerate()
        .map(|(k, (_, _, n))| {
            let prev = k.checked_sub(1).map(|j| series[j].2).filter(|p| *p > 0)?;
            Some((*n as f64 - prev as f64) / prev as f64 * 100.0)
        })
        .collect();
    let mut largest: Vec<usize> = (0..series.len()).filter(|k| changes[*k].is_some_and(|c| c != 0.0)).collect();
    largest.sort_by(|a, b| {
        let mag = |k: &usize| changes[*k].map_or(0.0, f64::abs);
        mag(b).total_cmp(&mag(a))
    });
    largest.truncate(LABELLED_STEPS);
    let points: Vec<StepPoint> = series
        .iter()
        .enumerate()
        .map(|(k, (x, e, n))| {
            let y = *n as f64 / per;
            let change = changes[k].map_or_else(|| "first".to_owned(), |c| format!("{c:+.2}%"));
            let dirty = if e.dirty { " (dirty)" } else { "" };
            StepPoint {
                x: *x,
                y,
                tooltip: format!("{} {}{dirty}: {} ({}, {change})", e.short, e.date, e.subject, num(y, 1)),
                label: largest.contains(&k).then(|| format!("{} {change}: {}", e.short, cut(&e.subject, 48))),
            }
        })
        .collect();
    let svg = plots::steps(bench, unit, x_labels, &points)?;
    Ok(Block::Plot {
        file: format!("history_{bench}.svg"),
        title: format!("{bench}: {unit} over commits (history.jsonl)"),
        svg,
    })
}
