//! The summary: which parts of the run have result files, and the verdicts of the gate and the audit.

use super::{Builder, table};
use crate::html::doc::Section;

impl Builder<'_> {
    pub(super) fn summary(&self) -> Section {
        let i = self.inputs;
        let ran = |b: bool| if b { "ran" } else { "not run" }.to_owned();
        let gate = match (&i.results, &i.baseline) {
            (Some(_), Some(_)) => {
                if self.gate_failed {
                    "FAILED".to_owned()
                } else {
                    "passed".to_owned()
                }
            }
            (Some(_), None) => "not run (no baseline)".to_owned(),
            _ => "not run".to_owned(),
        };
        let audit = i
            .audit
            .as_ref()
            .map_or_else(|| "not run".to_owned(), |a| if a.passed { "passed" } else { "FAILED" }.to_owned());
        let rows = vec![
            vec!["environment".into(), "environment.json".into(), ran(i.env.is_some())],
            vec!["instruction counts".into(), "results.json".into(), ran(i.results.is_some())],
            vec!["regression gate".into(), self.cfg.baseline.display().to_string(), gate],
            vec![
                "bench history".into(),
                self.cfg.history.display().to_string(),
                ran(i.history.as_ref().is_some_and(|h| !h.is_empty())),
            ],
            vec!["pool on vs off".into(), "pool.json".into(), ran(i.pool.is_some())],
            vec!["leak audit".into(), "audit.json".into(), audit],
            vec!["DHAT profiles".into(), "dhat-*.json".into(), ran(!i.dhat.is_empty())],
            vec!["load runs".into(), "load/*.json".into(), ran(!i.loads.is_empty())],
            vec!["whole-exporter comparison".into(), "exporter.json".into(), ran(i.exporter.is_some())],
            vec!["flamegraphs".into(), "flamegraphs/*.svg".into(), ran(!i.flames.is_empty())],
        ];
        Section { id: "summary", title: "Summary", blocks: vec![table(&["part", "file", "status"], rows)] }
    }
}
