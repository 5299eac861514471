//! The heap: pool on vs off (pool.json), the allocation budgets, the leak audit (audit.json) and
//! the DHAT profiles.

use super::{Builder, mib, table};
use crate::budgets::BUDGETS;
use crate::heap::PoolSetting;
use crate::html::ReportBuildError;
use crate::html::doc::{Block, Section, int, num};
use crate::html::plots;

impl Builder<'_> {
    pub(super) fn heap(&mut self) -> Result<Section, ReportBuildError> {
        let mut blocks = vec![Block::Sub("The memory pool on vs off".into())];
        match &self.inputs.pool {
            None => blocks.push(self.missing("pool.json", "otlp-lab pool")),
            Some(p) => {
                blocks.push(Block::Para(format!(
                    "Heap blocks and bytes per batch under dhat, one process per row, {} batches each.",
                    int(p.batches)
                )));
                let rows = p
                    .rows
                    .iter()
                    .map(|r| {
                        vec![
                            r.path.clone(),
                            r.workload.clone(),
                            r.pool.to_string(),
                            int(r.items_per_batch),
                            num(r.blocks_per_batch, 1),
                            num(r.bytes_per_batch, 0),
                            num(r.blocks_per_item, 3),
                            int(r.peak_bytes),
                        ]
                    })
                    .collect();
                blocks.push(table(
                    &[
                        "path",
                        "workload",
                        "pool",
                        "items/batch",
                        "blocks/batch",
                        "bytes/batch",
                        "blocks/item",
                        "peak bytes",
                    ],
                    rows,
                ));
                if !p.pipeline_own_blocks_per_batch.is_empty() {
                    blocks.push(Block::Para(
                        "The pipeline's own blocks per batch (the producer's span clones taken out):".into(),
                    ));
                    blocks.push(table(
                        &["batch items", "blocks"],
                        p.pipeline_own_blocks_per_batch
                            .iter()
                            .map(|o| vec![int(o.batch_items), num(o.blocks, 1)])
                            .collect(),
                    ));
                }
                let mut paths: Vec<String> = Vec::new();
                for r in &p.rows {
                    if !paths.contains(&r.path) {
                        paths.push(r.path.clone());
                    }
                }
                let values: Vec<Vec<f64>> = paths
                    .iter()
                    .map(|path| {
                        [PoolSetting::On, PoolSetting::Off]
                            .iter()
                            .map(|on| {
                                p.rows
                                    .iter()
                                    .find(|r| &r.path == path && r.pool == *on)
                                    .map_or(f64::NAN, |r| r.blocks_per_batch)
                            })
                            .collect()
                    })
                    .collect();
                if !paths.is_empty() {
                    let svg = plots::hbars(
                        "Heap blocks per batch, pool on vs off",
                        "blocks per batch",
                        &paths,
                        &["pool on", "pool off"],
                        &values,
                    )?;
                    blocks.push(Block::Plot {
                        file: "pool_blocks_per_batch.svg".into(),
                        title: "Allocations per batch, pool on vs off (pool.json)".into(),
                        svg,
                    });
                }
            }
        }
        blocks.push(Block::Sub("Allocation budgets".into()));
        blocks.push(Block::Para(
            "Heap blocks each workload may allocate per run once warm (src/budgets.rs), asserted under dhat by \
             `cargo test --release --test alloc_budget`."
                .into(),
        ));
        blocks.push(table(
            &["workload", "blocks per run", "why"],
            BUDGETS
                .iter()
                .map(|b| vec![b.workload.name().to_owned(), int(b.blocks_per_run), b.why.to_owned()])
                .collect(),
        ));
        blocks.push(Block::Sub("Leak audit".into()));
        match &self.inputs.audit {
            None => blocks.push(self.missing("audit.json", "otlp-lab audit")),
            Some(a) => {
                let failed: Vec<&str> = a.checks.iter().filter(|c| !c.passed).map(|c| c.name.as_str()).collect();
                let text = if a.passed {
                    format!("leak audit: passed ({} checks)", a.checks.len())
                } else {
                    format!("leak audit: FAILED ({})", failed.join(", "))
                };
                blocks.push(Block::Verdict { ok: a.passed, text });
                blocks.push(table(
                    &["check", "verdict", "detail"],
                    a.checks
                        .iter()
                        .map(|c| {
                            vec![c.name.clone(), if c.passed { "passed" } else { "FAILED" }.into(), c.detail.clone()]
                        })
                        .collect(),
                ));
            }
        }
        blocks.push(Block::Sub("DHAT profiles".into()));
        if self.inputs.dhat.is_empty() {
            blocks.push(self.missing("dhat-*.json", "scripts/run_benchmarks.sh heap"));
        } else {
            blocks.push(Block::Para(
                "Open one in the DHAT viewer: /usr/libexec/valgrind/dh_view.html in a browser, then Load.".into(),
            ));
            let links = self
                .inputs
                .dhat
                .iter()
                .map(|p| {
                    let name = p.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
                    let size = std::fs::metadata(p).map_or(0, |m| m.len());
                    (format!("{name} ({})", mib(size as f64)), self.link(p))
                })
                .collect();
            blocks.push(Block::Links(links));
        }
        Ok(Section { id: "heap", title: "Heap", blocks })
    }
}
