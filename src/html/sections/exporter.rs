//! The whole exporter against the official SDK under callgrind (exporter.json).

use super::{Builder, table};
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
                    int(e.repeats)
                )));
                let rows = e
                    .rows
                    .iter()
                    .map(|r| {
                        let cfg = r.config();
                        let target = e.targets.iter().find(|(k, _)| *k == cfg).map(|(_, v)| *v);
                        let m = r.marginal_per_span;
                        let (goal, verdict) = match (r.implementation.as_str(), target) {
                            ("otlp-lab", Some(t)) => {
                                (format!("≤ {}", num(t, 0)), if m.median <= t { "met" } else { "MISSED" }.to_owned())
                            }
                            _ => ("-".to_owned(), "-".to_owned()),
                        };
                        let vs_sdk = if r.implementation == "otlp-lab" {
                            e.rows.iter().find(|s| s.implementation == "official-sdk" && s.config() == cfg).map_or_else(
                                || "-".to_owned(),
                                |s| {
                                    format!("{}x", num(s.marginal_per_span.median / m.median.max(f64::MIN_POSITIVE), 2))
                                },
                            )
                        } else {
                            "-".to_owned()
                        };
                        vec![
                            r.implementation.clone(),
                            cfg,
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
