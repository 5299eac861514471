//! The load runs (load/*.json): per-run table, drops, the SDK comparison, targets and plots.

use super::{Builder, mib, table};
use crate::harness::Implementation;
use crate::html::ReportBuildError;
use crate::html::doc::{Block, Section, int, num};
use crate::html::plots;
use crate::load::{LoadFile, LoadScenario, LoadTargets, RunRecord};

impl Builder<'_> {
    pub(super) fn load(&mut self) -> Result<Section, ReportBuildError> {
        let mut blocks = Vec::new();
        if self.inputs.loads.is_empty() {
            blocks.push(self.missing("load/*.json", "otlp-lab load <scenario>"));
        } else {
            blocks.push(Block::Para(
                "Wall-clock figures: indicative only, they drift between runs on a shared machine; ratios \
                 are measured in the same run."
                    .into(),
            ));
        }
        for l in &self.inputs.loads {
            blocks.push(Block::Sub(format!("{} ({}, {} loop)", l.scenario, l.target, l.mode)));
            let rows = l
                .runs
                .iter()
                .map(|r| {
                    vec![
                        r.implementation.flag().to_owned(),
                        r.step.clone(),
                        r.config(),
                        int(r.workers),
                        r.offered_rate.map_or_else(|| "closed".to_owned(), |x| num(x, 0)),
                        int(r.offered),
                        int(r.delivered),
                        num(r.items_per_s, 0),
                        int(r.dropped_total),
                        num(r.latency_us.p50, 0),
                        num(r.latency_us.p99, 0),
                        num(r.latency_us.p999, 0),
                        num(r.cpu_s(), 2),
                        mib(r.peak_rss_bytes as f64),
                    ]
                })
                .collect();
            blocks.push(table(
                &[
                    "implementation",
                    "step",
                    "protocol",
                    "workers",
                    "offered/s",
                    "offered",
                    "delivered",
                    "items/s",
                    "dropped",
                    "p50 µs",
                    "p99 µs",
                    "p99.9 µs",
                    "CPU s",
                    "peak RSS",
                ],
                rows,
            ));
            let drops: Vec<Vec<String>> = l
                .runs
                .iter()
                .filter(|r| r.dropped_total > 0)
                .map(|r| {
                    let why = r.dropped.iter().map(|(k, v)| format!("{k}: {}", int(*v))).collect::<Vec<_>>().join(", ");
                    vec![r.implementation.flag().to_owned(), r.step.clone(), int(r.dropped_total), why]
                })
                .collect();
            if !drops.is_empty() {
                blocks.push(table(&["implementation", "step", "dropped", "by reason"], drops));
            }
            let ours: Vec<&RunRecord> = l.runs.iter().filter(|r| r.implementation == Implementation::Ours).collect();
            let sdk_pairs: Vec<(&RunRecord, &RunRecord)> = ours
                .iter()
                .filter_map(|o| {
                    l.runs
                        .iter()
                        .find(|s| {
                            s.implementation == Implementation::Sdk
                                && s.step == o.step
                                && s.protocol == o.protocol
                                && s.compression == o.compression
                        })
                        .map(|s| (*o, s))
                })
                .collect();
            if !sdk_pairs.is_empty() {
                blocks.push(Block::Para("Against the official SDK, same step and configuration:".into()));
                blocks.push(table(
                    &[
                        "step",
                        "protocol",
                        "items/s ours",
                        "items/s SDK",
                        "ratio",
                        "p99 µs ours",
                        "p99 µs SDK",
                        "dropped ours",
                        "dropped SDK",
                    ],
                    sdk_pairs
                        .iter()
                        .map(|(o, s)| {
                            vec![
                                o.step.clone(),
                                o.config(),
                                num(o.items_per_s, 0),
                                num(s.items_per_s, 0),
                                format!("{}x", num(o.items_per_s / s.items_per_s.max(f64::MIN_POSITIVE), 2)),
                                num(o.latency_us.p99, 0),
                                num(s.latency_us.p99, 0),
                                int(o.dropped_total),
                                int(s.dropped_total),
                            ]
                        })
                        .collect(),
                ));
            }
            let ratios = l.ratios.as_ref().map(|r| r.numbers()).unwrap_or_default();
            if !ratios.is_empty() {
                blocks.push(table(
                    &["ratio (from the file)", "value"],
                    ratios.iter().map(|(k, v)| vec![(*k).to_owned(), num(*v, 2)]).collect(),
                ));
            }
            for (title, ratios) in [
                ("tracing-ours over tracing-otel (from the file)", &l.tracing_ratios),
                ("sdk-ours over sdk (from the file)", &l.sdk_ours_ratios),
            ] {
                let numbers = ratios.as_ref().map(|r| r.numbers()).unwrap_or_default();
                if !numbers.is_empty() {
                    blocks.push(table(
                        &[title, "value"],
                        numbers.iter().map(|(k, v)| vec![(*k).to_owned(), num(*v, 2)]).collect(),
                    ));
                }
            }
            if let Some(t) = &l.targets {
                blocks.push(self.load_targets(l, t, &ours, &sdk_pairs));
            }
        }
        self.load_plots(&mut blocks)?;
        Ok(Section { id: "load", title: "Load runs", blocks })
    }

    /// Each target against the worst otlp-lab run of the file.
    fn load_targets(
        &self,
        l: &LoadFile,
        t: &LoadTargets,
        ours: &[&RunRecord],
        pairs: &[(&RunRecord, &RunRecord)],
    ) -> Block {
        let mut rows = Vec::new();
        let verdict = |ok: bool| if ok { "met" } else { "MISSED" }.to_owned();
        let worst = |f: fn(&RunRecord) -> f64, low: bool| {
            let it = ours.iter().map(|r| f(r));
            if low {
                it.fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.min(x))))
            } else {
                it.fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))))
            }
        };
        // An open loop offered less than the goal shows whether that rate is
        // sustained (drops, latency), not the goal: the closed loop does.
        let open_loop = ours.iter().filter_map(|r| r.offered_rate).filter(|&x| x < t.items_per_s).reduce(f64::max);
        if let Some(offered) = open_loop {
            rows.push(vec![
                "items/s delivered".to_owned(),
                format!("≥ {}", num(t.items_per_s, 0)),
                format!("open loop, offered {}", num(offered, 0)),
                "n/a (the closed-loop run judges it)".to_owned(),
            ]);
        }
        let mut add =
            |what: &str, goal: String, got: Option<f64>, show: &dyn Fn(f64) -> String, ok: &dyn Fn(f64) -> bool| {
                let (measured, v) = match got {
                    Some(x) => (show(x), verdict(ok(x))),
                    None => ("not run".to_owned(), "not run".to_owned()),
                };
                rows.push(vec![what.to_owned(), goal, measured, v]);
            };
        if open_loop.is_none() {
            let g = t.items_per_s;
            add(
                "items/s delivered",
                format!("≥ {}", num(g, 0)),
                worst(|r| r.items_per_s, true),
                &|x| num(x, 0),
                &|x| x >= g,
            );
        }
        let g = t.p99_us;
        add("export p99 µs", format!("≤ {}", num(g, 0)), worst(|r| r.latency_us.p99, false), &|x| num(x, 0), &|x| {
            x <= g
        });
        let g = t.peak_rss_bytes as f64;
        add("peak RSS", format!("≤ {}", mib(g)), worst(|r| r.peak_rss_bytes as f64, false), &|x| mib(x), &|x| x <= g);
        let g = t.sdk_ratio;
        let from_file = l.ratios.as_ref().and_then(|r| r.items_per_s_vs_sdk);
        let measured = from_file.or_else(|| {
            pairs.iter().map(|(o, s)| o.items_per_s / s.items_per_s.max(f64::MIN_POSITIVE)).reduce(f64::min)
        });
        add(
            "items/s over the official SDK's",
            format!("≥ {}x", num(g, 1)),
            measured,
            &|x| format!("{}x", num(x, 2)),
            &|x| x >= g,
        );
        table(&["target (worst otlp-lab run)", "goal", "measured", "verdict"], rows)
    }

    fn load_plots(&mut self, blocks: &mut Vec<Block>) -> Result<(), ReportBuildError> {
        let find = |scenario: LoadScenario| self.inputs.loads.iter().find(|l| l.scenario == scenario);
        blocks.push(Block::Sub("Throughput vs concurrency (high_concurrency)".into()));
        match find(LoadScenario::HighConcurrency) {
            None => blocks.push(self.missing("load/high_concurrency.json", "otlp-lab load high_concurrency")),
            Some(l) => {
                let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
                for r in &l.runs {
                    let name = format!("{} {}", r.implementation.flag(), r.config());
                    let pos = series.iter().position(|(n, _)| *n == name).unwrap_or_else(|| {
                        series.push((name, Vec::new()));
                        series.len() - 1
                    });
                    series[pos].1.push((concurrency(&r.step, r.workers), r.items_per_s));
                }
                for (_, pts) in &mut series {
                    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                }
                let svg = plots::lines("Delivered items/s vs producers", "producers", "items/s", &series)?;
                blocks.push(Block::Plot {
                    file: "throughput_vs_concurrency.svg".into(),
                    title: "Throughput vs concurrency (load/high_concurrency.json)".into(),
                    svg,
                });
            }
        }
        blocks.push(Block::Sub("Latency percentiles per protocol (network_io)".into()));
        match find(LoadScenario::NetworkIo) {
            None => blocks.push(self.missing("load/network_io.json", "otlp-lab load network_io")),
            Some(l) => {
                let groups: Vec<String> =
                    l.runs.iter().map(|r| format!("{} {}", r.implementation.flag(), r.config())).collect();
                let values: Vec<Vec<f64>> = l
                    .runs
                    .iter()
                    .map(|r| {
                        let l = &r.latency_us;
                        vec![l.p50, l.p90, l.p99, l.p999]
                    })
                    .collect();
                let svg = plots::hbars(
                    "Export latency per protocol",
                    "µs",
                    &groups,
                    &["p50", "p90", "p99", "p99.9"],
                    &values,
                )?;
                blocks.push(Block::Plot {
                    file: "latency_per_protocol.svg".into(),
                    title: "Latency percentiles per protocol (load/network_io.json)".into(),
                    svg,
                });
            }
        }
        Ok(())
    }
}

/// A sweep step's number (`producers=50` gives 50), else the run's workers.
fn concurrency(step: &str, workers: u64) -> f64 {
    step.split_once('=').and_then(|(_, v)| v.trim().parse::<f64>().ok()).unwrap_or(workers as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweep_step_gives_its_concurrency() {
        assert_eq!(concurrency("producers=50", 4), 50.0);
        assert_eq!(concurrency("grpc+zstd", 4), 4.0);
    }
}
