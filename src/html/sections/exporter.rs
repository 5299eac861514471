//! The whole exporter process of each stack under callgrind and DHAT
//! (exporter.json): ours, the official SDK, and the stacks services run
//! (`tracing` with our layer or with tracing-opentelemetry, the SDK's API
//! with our processor, and `tracing` with no layer as the floor).

use super::{Builder, table};
use crate::exporter_compare::{ExporterFile, ExporterRecord, TRACING_OURS_TARGET};
use crate::exporter_run::{Case, Implementation};
use crate::html::doc::{Block, Section, int, num};
use crate::html::plots::{self, PlotError};

impl Builder<'_> {
    pub(super) fn exporter(&mut self) -> Result<Section, PlotError> {
        let mut blocks = Vec::new();
        match &self.inputs.exporter {
            None => blocks.push(self.missing("exporter.json", "otlp-lab exporter-compare")),
            Some(e) => {
                blocks.push(Block::Para(format!(
                    "Whole exporter process (creating the spans through the stack's API, batching, encoding, \
                     sending) under callgrind: instructions at {} spans minus at {}, per span, {} repeats each; \
                     heap blocks per span the same way under DHAT (one run per count); body bytes per span as the \
                     receiver got them. `/ ours`: the stack's median over ours in the same case.",
                    int(e.spans_high),
                    int(e.spans_low),
                    int(u64::from(e.repeats))
                )));
                let rows = e.rows.iter().map(|r| row(e, r)).collect();
                blocks.push(table(
                    &[
                        "implementation",
                        "stack",
                        "case",
                        "median/span",
                        "min",
                        "max",
                        "/ ours",
                        "heap blocks/span",
                        "wire bytes/span",
                        "target",
                        "verdict",
                    ],
                    rows,
                ));
                let cases: Vec<Case> = e.rows.iter().map(ExporterRecord::case).fold(Vec::new(), |mut v, c| {
                    if !v.contains(&c) {
                        v.push(c);
                    }
                    v
                });
                let series: Vec<Implementation> =
                    Implementation::ALL.into_iter().filter(|i| e.rows.iter().any(|r| r.implementation == *i)).collect();
                let values: Vec<Vec<f64>> = cases
                    .iter()
                    .map(|c| {
                        series
                            .iter()
                            .map(|i| {
                                e.rows
                                    .iter()
                                    .find(|r| r.implementation == *i && r.case() == *c)
                                    .map_or(f64::NAN, |r| r.marginal_per_span.median)
                            })
                            .collect()
                    })
                    .collect();
                let names: Vec<&str> = series.iter().map(|i| i.flag()).collect();
                let groups: Vec<String> = cases.iter().map(Case::to_string).collect();
                let svg = plots::hbars(
                    "Whole exporter: instructions per span, by stack",
                    "per span",
                    &groups,
                    &names,
                    &values,
                )?;
                blocks.push(Block::Plot {
                    file: "exporter_stacks.svg".into(),
                    title: "Instructions per span of the whole exporter process, each stack (exporter.json)".into(),
                    svg,
                });
            }
        }
        Ok(Section {
            id: "exporter",
            title: "Whole exporter: ours, the official SDK and the stacks services run",
            blocks,
        })
    }
}

/// One table row: the stack, its figures, and its target when it has one.
fn row(e: &ExporterFile, r: &ExporterRecord) -> Vec<String> {
    let case = r.case();
    let m = r.marginal_per_span;
    let target = match r.implementation {
        Implementation::Ours => e.target(case).map(|t| t as f64),
        Implementation::TracingOurs if case == Case::HTTP_NONE => Some(TRACING_OURS_TARGET),
        _ => None,
    };
    let (goal, verdict) = target.map_or_else(
        || ("-".to_owned(), "-".to_owned()),
        |t| (format!("≤ {}", num(t, 0)), if m.median <= t { "met" } else { "MISSED" }.to_owned()),
    );
    let vs_ours = e
        .rows
        .iter()
        .find(|o| o.implementation == Implementation::Ours && o.case() == case)
        .filter(|o| o.marginal_per_span.median > 0.0)
        .map_or_else(|| "-".to_owned(), |o| format!("{}x", num(m.median / o.marginal_per_span.median, 2)));
    let opt = |v: Option<f64>, digits| v.map_or_else(|| "-".to_owned(), |v| num(v, digits));
    vec![
        r.implementation.flag().to_owned(),
        r.implementation.describe().to_owned(),
        case.to_string(),
        num(m.median, 0),
        num(m.min, 0),
        num(m.max, 0),
        vs_ours,
        opt(r.blocks_per_span, 2),
        opt(r.wire_bytes_per_span, 0),
        goal,
        verdict,
    ]
}
