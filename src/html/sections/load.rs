//! The load runs (load/*.json): per-run table, drops, the SDK comparison, targets and plots.

use super::{Builder, mib, table};
use crate::html::ReportBuildError;
use crate::html::doc::{Block, Section, int, num};
use crate::html::inputs::{self, Load, LoadRun};
use crate::html::plots;

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
                        r.implementation.clone(),
                        r.step.clone(),
                        format!("{}+{}", r.protocol, r.compression),
                        int(r.workers),
                        r.offered_rate.map_or_else(|| "closed".to_owned(), |x| num(x, 0)),
                        int(r.offered),
                        int(r.delivered),
                        num(r.items_per_s, 0),
                        int(r.dropped_total),
                        num(r.latency.p50, 0),
                        num(r.latency.p99, 0),
                        num(r.latency.p999, 0),
                        num(r.cpu_user_s + r.cpu_system_s, 2),
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
                    let why =
                        r.dropped.iter().map(|(k, v)| format!("{k}: {}", num(*v, 0))).collect::<Vec<_>>().join(", ");
                    vec![r.implementation.clone(), r.step.clone(), int(r.dropped_total), why]
                })
                .collect();
            if !drops.is_empty() {
                blocks.push(table(&["implementation", "step", "dropped", "by reason"], drops));
            }
            let ours: Vec<&LoadRun> = l.runs.iter().filter(|r| r.implementation == "otlp-lab").collect();
            let sdk_pairs: Vec<(&LoadRun, &LoadRun)> = ours
                .iter()
                .filter_map(|o| {
                    l.runs
                        .iter()
                        .find(|s| {
                            s.implementation == "official-sdk"
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
                                format!("{}+{}", o.protocol, o.compression),
                                num(o.items_per_s, 0),
                                num(s.items_per_s, 0),
                                format!("{}x", num(o.items_per_s / s.items_per_s.max(f64::MIN_POSITIVE), 2)),
                                num(o.latency.p99, 0),
                                num(s.latency.p99, 0),
                                int(o.dropped_total),
                                int(s.dropped_total),
                            ]
                        })
                        .collect(),
                ));
            }
            if !l.ratios.is_empty() {
                blocks.push(table(
                    &["ratio (from the file)", "value"],
                    l.ratios.iter().map(|(k, v)| vec![k.clone(), num(*v, 2)]).collect(),
                ));
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
        l: &Load,
        t: &inputs::LoadTargets,
        ours: &[&LoadRun],
        pairs: &[(&LoadRun, &LoadRun)],
    ) -> Block {
        let mut rows = Vec::new();
        let verdict = |ok: bool| if ok { "met" } else { "MISSED" }.to_owned();
        let worst = |f: fn(&LoadRun) -> f64, low: bool| {
            let it = ours.iter().map(|r| f(r));
            if low {
                it.fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.min(x))))
            } else {
                it.fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))))
            }
        };
        // An open loop offered less than the goal shows whether that rate is
        // sustained (drops, latency), not the goal: the closed loop does.
        let below_goal = |g: f64| ours.iter().filter_map(|r| r.offered_rate).filter(|&x| x < g).reduce(f64::max);
        let open_loop = t.items_per_s.and_then(|g| below_goal(g).map(|offered| (g, offered)));
        if let Some((g, offered)) = open_loop {
            rows.push(vec![
                "items/s delivered".to_owned(),
                format!("≥ {}", num(g, 0)),
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
        if let (Some(g), None) = (t.items_per_s, open_loop) {
            add(
                "items/s delivered",
                format!("≥ {}", num(g, 0)),
                worst(|r| r.items_per_s, true),
                &|x| num(x, 0),
                &|x| x >= g,
            );
        }
        if let Some(g) = t.p99_us {
            add(
                "export p99 µs",
                format!("≤ {}", num(g, 0)),
                worst(|r| r.latency.p99, false),
                &|x| num(x, 0),
                &|x| x <= g,
            );
        }
        if let Some(g) = t.peak_rss_bytes {
            add("peak RSS", format!("≤ {}", mib(g)), worst(|r| r.peak_rss_bytes as f64, false), &|x| mib(x), &|x| {
                x <= g
            });
        }
        if let Some(g) = t.sdk_ratio {
            let from_file = l.ratios.iter().find(|(k, _)| k == "items_per_s_vs_sdk").map(|(_, v)| *v);
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
        }
        table(&["target (worst otlp-lab run)", "goal", "measured", "verdict"], rows)
    }

    fn load_plots(&mut self, blocks: &mut Vec<Block>) -> Result<(), ReportBuildError> {
        let find = |name: &str| self.inputs.loads.iter().find(|l| l.scenario == name);
        blocks.push(Block::Sub("Throughput vs concurrency (high_concurrency)".into()));
        match find("high_concurrency") {
            None => blocks.push(self.missing("load/high_concurrency.json", "otlp-lab load high_concurrency")),
            Some(l) => {
                let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
                for r in &l.runs {
                    let name = format!("{} {}+{}", r.implementation, r.protocol, r.compression);
                    let pos = series.iter().position(|(n, _)| *n == name).unwrap_or_else(|| {
                        series.push((name, Vec::new()));
                        series.len() - 1
                    });
                    series[pos].1.push((concurrency(r), r.items_per_s));
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
        match find("network_io") {
            None => blocks.push(self.missing("load/network_io.json", "otlp-lab load network_io")),
            Some(l) => {
                let groups: Vec<String> =
                    l.runs.iter().map(|r| format!("{} {}+{}", r.implementation, r.protocol, r.compression)).collect();
                let values: Vec<Vec<f64>> =
                    l.runs.iter().map(|r| vec![r.latency.p50, r.latency.p90, r.latency.p99, r.latency.p999]).collect();
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
fn concurrency(r: &LoadRun) -> f64 {
    r.step.split_once('=').and_then(|(_, v)| v.trim().parse::<f64>().ok()).unwrap_or(r.workers as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweep_step_gives_its_concurrency() {
        assert_eq!(concurrency(&LoadRun { step: "producers=50".into(), ..sample_run() }), 50.0);
        assert_eq!(concurrency(&LoadRun { step: "grpc+zstd".into(), ..sample_run() }), 4.0);
    }

    fn sample_run() -> LoadRun {
        LoadRun {
            implementation: "otlp-lab".into(),
            step: String::new(),
            protocol: "grpc".into(),
            compression: "zstd".into(),
            workers: 4,
            offered_rate: None,
            duration_s: 1.0,
            offered: 1,
            delivered: 1,
            items_per_s: 1.0,
            dropped: Vec::new(),
            dropped_total: 0,
            latency: inputs::Latency { p50: 1.0, p90: 1.0, p99: 1.0, p999: 1.0, max: 1.0, count: 1 },
            cpu_user_s: 0.0,
            cpu_system_s: 0.0,
            peak_rss_bytes: 0,
        }
    }
}
