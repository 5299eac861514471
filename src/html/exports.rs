//! Machine-readable exports of the report's counts: Bencher Metric Format
//! (`{"<name>": {"<measure>": {"value": x}}}`, <https://bencher.dev>) and
//! github-action-benchmark's `customSmallerIsBetter` list
//! (`[{"name", "unit", "value"}]`).

use serde_json::{Map, Value, json};

use super::Inputs;
use crate::load::{LoadScenario, RunRecord};

/// The BMF name of a load run: unique per scenario, implementation, step and configuration.
fn load_name(scenario: LoadScenario, r: &RunRecord) -> String {
    format!("load/{scenario}/{}/{}/{}", r.implementation.flag(), r.step, r.config())
}

/// Every count: the benches' instructions, estimated cycles and cache hits,
/// allocations and allocated bytes per run (`baseline::measures_of`), the whole
/// exporter's marginal instructions per span (median, with min and max as
/// BMF's bounds), and each load run's throughput, latency, drops, CPU and RSS.
pub(crate) fn bmf(inputs: &Inputs) -> Value {
    let mut root = Map::new();
    if let Some(results) = &inputs.results {
        for (id, m) in results {
            let mut measures = Map::new();
            for (name, value) in crate::baseline::measures_of(m) {
                measures.insert(name.into(), json!({ "value": value }));
            }
            root.insert(id.clone(), Value::Object(measures));
        }
    }
    if let Some(e) = &inputs.exporter {
        for r in &e.rows {
            let s = r.marginal_per_span;
            root.insert(
                format!("exporter/{}/{}", r.implementation.flag(), r.case()),
                json!({ "instructions_per_span": { "value": s.median, "lower_value": s.min, "upper_value": s.max } }),
            );
        }
    }
    for l in &inputs.loads {
        for r in &l.runs {
            root.insert(
                load_name(l.scenario, r),
                json!({
                    "items_per_s": { "value": r.items_per_s },
                    "latency_p50_us": { "value": r.latency_us.p50 },
                    "latency_p99_us": { "value": r.latency_us.p99 },
                    "dropped_total": { "value": r.dropped_total },
                    "cpu_s": { "value": r.cpu_s() },
                    "peak_rss_bytes": { "value": r.peak_rss_bytes },
                }),
            );
        }
    }
    Value::Object(root)
}

/// The same counts for github-action-benchmark's `customSmallerIsBetter`
/// tool: only measures where smaller is better, so throughput is left out
/// (it is in the BMF file).
pub(crate) fn github_action_benchmark(inputs: &Inputs) -> Value {
    let mut out = Vec::new();
    let mut push = |name: String, unit: &str, value: f64| {
        // Counts stay integers in the JSON (exact up to 2^53, far above any count here).
        let value = if value.fract() == 0.0 && value.abs() < 9e15 { json!(value as i64) } else { json!(value) };
        out.push(json!({ "name": name, "unit": unit, "value": value }));
    };
    if let Some(results) = &inputs.results {
        for (id, m) in results {
            push(format!("{id} instructions"), "instructions", m.instructions as f64);
            if let Some(c) = m.cache {
                push(format!("{id} estimated cycles"), "cycles", c.estimated_cycles as f64);
            }
            if let Some(a) = m.allocations {
                push(format!("{id} allocations"), "blocks", a as f64);
            }
            if let Some(b) = m.allocated_bytes {
                push(format!("{id} allocated bytes"), "bytes", b as f64);
            }
        }
    }
    if let Some(e) = &inputs.exporter {
        for r in &e.rows {
            push(
                format!("exporter/{}/{} instructions per span", r.implementation.flag(), r.case()),
                "instructions/span",
                r.marginal_per_span.median,
            );
        }
    }
    for l in &inputs.loads {
        for r in &l.runs {
            let name = load_name(l.scenario, r);
            push(format!("{name} latency p99"), "us", r.latency_us.p99);
            push(format!("{name} dropped"), "items", r.dropped_total as f64);
            push(format!("{name} peak RSS"), "bytes", r.peak_rss_bytes as f64);
        }
    }
    Value::Array(out)
}
