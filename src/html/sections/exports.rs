//! Links to the exports written beside the report (BMF, github-action-benchmark).

use super::Builder;
use crate::html::doc::{Block, Section};

impl Builder<'_> {
    pub(super) fn exports(&self) -> Section {
        let n = self.inputs.results.as_ref().map_or(0, |r| r.len());
        let blocks = vec![
            Block::Para(format!(
                "Written beside this report from the same files: every count in Bencher Metric Format ({n} benches, \
                 plus the whole exporter and the load runs where present; `bencher run --file bmf.json`), and \
                 github-action-benchmark's customSmallerIsBetter list (everything where smaller is better; \
                 throughput is in the BMF file only)."
            )),
            Block::Links(vec![
                ("bmf.json".into(), "bmf.json".into()),
                ("github-action-benchmark.json".into(), "github-action-benchmark.json".into()),
                ("report.md (the Markdown twin of this page)".into(), "report.md".into()),
            ]),
        ];
        Section { id: "exports", title: "Exports", blocks }
    }
}
