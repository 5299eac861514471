//! The whole exporter against the official SDK under callgrind (exporter.json).

use super::{Builder, table};
use crate::exporter_run::Implementation;
use crate::html::doc::{Block, Section, int, num};

impl Builder<'_> {
    pub(super) fn exporter(&mut self) -> Section {
        let mut blocks = Vec::new();
        match &self.inputs.exporter {
            None => blocks.push(self.missing("exporter.json", "otlp-lab exporter-compare")),
            Some(e) => {
                blocks.push(Block::Para(format!(
                    "Whole exporter process under callgrind (creation, batching, encode, send): instructions at {} \
                     spans minus at {}, per span, {} repeats each.",
                    int(e.spans_high),
                    int(e.spans_low),
                    int(u64::from(e.repeats))
                )));
                let rows = e
                    .rows
                    .iter()
                    .map(|r| {
                        let case = r.case();
                        let m = r.marginal_per_span;
                        let (goal, verdict) = match (r.implementation, e.target(case)) {
                            (Implementation::Ours, Some(t)) => (
                                format!("≤ {}", int(t)),
                                if m.median <= t as f64 { "met" } else { "MISSED" }.to_owned(),
                            ),
                            _ => ("-".to_owned(), "-".to_owned()),
                        };
                        let vs_sdk = if r.implementation == Implementation::Ours {
                            e.rows
                                .iter()
                                .find(|s| s.implementation == Implementation::Sdk && s.case() == case)
                                .map_or_else(
                                    || "-".to_owned(),
                                    |s| {
                                        format!(
                                            "{}x",
                                            num(s.marginal_per_span.median / m.median.max(f64::MIN_POSITIVE), 2)
                                        )
                                    },
                                )
                        } else {
                            "-".to_owned()
                        };
                        vec![
                            r.implementation.name().to_owned(),
                            case.to_string(),
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
}
