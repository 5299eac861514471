//! Tables the lab prints: encoded sizes per encoder and codec, and
//! instruction counts per item from iai-callgrind's JSON output.

use std::fmt::Write as _;

use crate::workloads::Workload;
use otlp_pipeline::compress::{Compression, Compressor};
use otlp_pipeline::encode::{direct, json, reference};
use otlp_pipeline::fixtures;
use otlp_pipeline::model::{LogsData, MetricsData, TracesData};

pub use crate::icount::{CacheSim, IcountRow};

/// Why a results file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A line is not JSON.
    #[error("line {line}: not JSON: {source}")]
    Json {
        /// 1-based line number.
        line: usize,
        /// The parser's error.
        source: serde_json::Error,
    },
    /// A line lacks a field the runner always writes.
    #[error("line {line}: missing `{field}` (is this iai-callgrind 0.16 --output-format=json output?)")]
    Missing {
        /// 1-based line number.
        line: usize,
        /// The JSON path that was missing.
        field: &'static str,
    },
    /// A line has some of the cache simulation's metrics and lacks another.
    #[error("line {line}: the cache simulation's `{field}` is missing while other cache metrics are there")]
    PartialCache {
        /// 1-based line number.
        line: usize,
        /// The metric that was missing.
        field: &'static str,
    },
}

/// Parses iai-callgrind 0.16 `--output-format=json` output: one object per
/// line, other lines (cargo's, the runner's) ignored.
pub fn parse_icount_lines(text: &str) -> Result<Vec<IcountRow>, ReportError> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if !line.trim_start().starts_with('{') {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|source| ReportError::Json { line: line_no, source })?;
        let id = v["id"].as_str().ok_or(ReportError::Missing { line: line_no, field: "id" })?.to_owned();
        let total = |tool: &str, metric: &str| -> Option<u64> {
            // "Left" holds the new run alone; "Both" is [new, previous] when the
            // runner compared with an earlier run of the same bench.
            v["profiles"].as_array()?.iter().find_map(|p| {
                let m = &p["summaries"]["total"]["summary"][tool][metric]["metrics"];
                m["Left"]["Int"].as_u64().or_else(|| m["Both"][0]["Int"].as_u64())
            })
        };
        let instructions = total("Callgrind", "Ir")
            .ok_or(ReportError::Missing { line: line_no, field: "profiles[].summaries.total.summary.Callgrind.Ir" })?;
        let cache_fields = ["EstimatedCycles", "L1hits", "LLhits", "RamHits"].map(|f| (f, total("Callgrind", f)));
        let cache = if cache_fields.iter().all(|(_, x)| x.is_none()) {
            None
        } else {
            let mut got = [0; 4];
            for (slot, (field, x)) in got.iter_mut().zip(cache_fields) {
                *slot = x.ok_or(ReportError::PartialCache { line: line_no, field })?;
            }
            let [estimated_cycles, l1_hits, ll_hits, ram_hits] = got;
            Some(CacheSim { estimated_cycles, l1_hits, ll_hits, ram_hits })
        };
        // iai-callgrind 0.16 names the DHAT summary "Dhat".
        let dhat = |metric: &str| total("Dhat", metric).or_else(|| total("DHAT", metric));
        let (allocations, allocated_bytes) = (dhat("TotalBlocks"), dhat("TotalBytes"));
        rows.push(IcountRow { id, instructions, cache, allocations, allocated_bytes });
    }
    Ok(rows)
}

/// Items a workload processes per run (spans, points, records, ids, bytes),
/// found by running it once; `None` for a name that is not a workload.
pub fn items_of(id: &str) -> Option<u64> {
    let w: Workload = id.parse().ok()?;
    Some(w.prepare().run().items)
}

/// The steady-state block budget of the workload `id` (`crate::budgets`),
/// when it has one.
pub fn budget_of(id: &str) -> Option<u64> {
    let w: Workload = id.parse().ok()?;
    crate::budgets::BUDGETS.iter().find(|b| b.workload == w).map(|b| b.blocks_per_run)
}

/// The benches whose blocks in one measured run exceed their workload's
/// budget, each with its blocks and budget. Every bench's measured run
/// follows a warm-up in `Workload::prepare` for the workloads that have
/// something to warm, so its run is the steady state the budgets describe.
pub fn over_budget(rows: &[IcountRow]) -> Vec<(&str, u64, u64)> {
    rows.iter()
        .filter_map(|r| {
            let (blocks, budget) = (r.allocations?, budget_of(&r.id)?);
            (blocks > budget).then_some((r.id.as_str(), blocks, budget))
        })
        .collect()
}

/// A bench whose rank by estimated cycles per item differs from its rank by
/// instructions per item (1 = the cheapest), with what moved it.
#[derive(Clone, Debug, PartialEq)]
pub struct RankShift {
    /// Bench id.
    pub id: String,
    /// Rank by instructions per item.
    pub by_instructions: usize,
    /// Rank by estimated cycles per item.
    pub by_cycles: usize,
    /// Estimated cycles per instruction: 1 plus what the misses add.
    pub cycles_per_instruction: f64,
    /// LL hits (L1 misses) per 1,000 instructions: comparable across
    /// benches whatever their items are.
    pub ll_hits_per_kinstr: f64,
    /// RAM hits (LL misses) per 1,000 instructions.
    pub ram_hits_per_kinstr: f64,
}

/// Ranks the benches with a cache simulation and a known item count by
/// instructions per item and by estimated cycles per item, and returns those
/// whose two ranks differ, sorted by their cycle rank. `items` gives a bench's
/// items per run ([`items_of`] for the real benches).
pub fn rank_shifts(rows: &[IcountRow], items: impl Fn(&str) -> Option<u64>) -> Vec<RankShift> {
    let per: Vec<(&IcountRow, CacheSim, f64)> =
        rows.iter().filter_map(|r| Some((r, r.cache?, items(&r.id)?.max(1) as f64))).collect();
    let rank = |key: &dyn Fn(&(&IcountRow, CacheSim, f64)) -> f64| -> Vec<usize> {
        let mut order: Vec<usize> = (0..per.len()).collect();
        order.sort_by(|&a, &b| key(&per[a]).total_cmp(&key(&per[b])).then_with(|| per[a].0.id.cmp(&per[b].0.id)));
        let mut ranks = vec![0; per.len()];
        for (pos, i) in order.into_iter().enumerate() {
            ranks[i] = pos + 1;
        }
        ranks
    };
    let by_instr = rank(&|(r, _, n)| r.instructions as f64 / n);
    let by_cycles = rank(&|(_, c, n)| c.estimated_cycles as f64 / n);
    let mut out: Vec<RankShift> = per
        .iter()
        .enumerate()
        .filter(|(i, _)| by_instr[*i] != by_cycles[*i])
        .map(|(i, (r, c, _))| {
            let kinstr = r.instructions.max(1) as f64 / 1000.0;
            RankShift {
                id: r.id.clone(),
                by_instructions: by_instr[i],
                by_cycles: by_cycles[i],
                cycles_per_instruction: c.estimated_cycles as f64 / r.instructions.max(1) as f64,
                ll_hits_per_kinstr: c.ll_hits as f64 / kinstr,
                ram_hits_per_kinstr: c.ram_hits as f64 / kinstr,
            }
        })
        .collect();
    out.sort_by_key(|s| s.by_cycles);
    out
}

/// A plain-text table: bench, instructions, items, instructions per item,
/// estimated cycles and cycles per item, and the heap blocks and bytes of one
/// measured run beside the workload's budget (`OVER` when above it); then
/// the benches whose cycle rank differs from their instruction rank.
pub fn icount_table(rows: &[IcountRow]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<34} {:>12} {:>6} {:>10} {:>12} {:>10} {:>11} {:>11} {:>8}",
        "bench", "instructions", "items", "instr/item", "est. cycles", "cyc/item", "blocks/run", "bytes/run", "budget"
    );
    let mut items_by_id = std::collections::BTreeMap::new();
    for r in rows {
        let items = items_of(&r.id);
        items_by_id.insert(r.id.clone(), items);
        let dash = || "-".to_owned();
        let per = |x: u64| items.map_or_else(dash, |n| format!("{:.0}", x as f64 / n.max(1) as f64));
        let budget = budget_of(&r.id);
        let over = matches!((r.allocations, budget), (Some(a), Some(b)) if a > b);
        let _ = writeln!(
            out,
            "{:<34} {:>12} {:>6} {:>10} {:>12} {:>10} {:>11} {:>11} {:>8}{}",
            r.id,
            r.instructions,
            items.map_or_else(dash, |n| n.to_string()),
            per(r.instructions),
            r.cache.map_or_else(dash, |c| c.estimated_cycles.to_string()),
            r.cache.map_or_else(dash, |c| per(c.estimated_cycles)),
            r.allocations.map_or_else(dash, |a| a.to_string()),
            r.allocated_bytes.map_or_else(dash, |a| a.to_string()),
            budget.map_or_else(dash, |b| b.to_string()),
            if over { "  OVER" } else { "" }
        );
    }
    if rows.iter().any(|r| r.cache.is_some()) {
        out.push_str(
            "est. cycles: callgrind's cache simulation (src/bench_config.rs geometry): L1 hits + 5 x LL hits + 35 x RAM hits\n",
        );
    }
    if rows.iter().any(|r| r.allocations.is_some()) {
        out.push_str("blocks/run, bytes/run: DHAT, one measured run (setup and drop excluded; src/bench_config.rs); budget: src/budgets.rs\n");
    }
    for (id, blocks, budget) in over_budget(rows) {
        let _ = writeln!(out, "OVER BUDGET: {id} allocates {blocks} blocks per run, its budget is {budget}");
    }
    let shifts = rank_shifts(rows, |id| items_by_id.get(id).copied().flatten());
    if !shifts.is_empty() {
        let _ = writeln!(out, "ranked differently by estimated cycles per item than by instructions per item:");
        for s in &shifts {
            let _ = writeln!(
                out,
                "  {:<34} instr rank {:>2}, cycles rank {:>2}: {:.3} cycles/instr, {:.2} LL hits and {:.3} RAM hits per 1000 instr",
                s.id,
                s.by_instructions,
                s.by_cycles,
                s.cycles_per_instruction,
                s.ll_hits_per_kinstr,
                s.ram_hits_per_kinstr
            );
        }
    }
    out
}

/// Writes the standard fixtures as request bodies into `dir`: protobuf from
/// the direct encoder and OTLP/JSON, and `expected.json` ([`expected_values`]).
/// Returns each file name and its size.
pub fn write_fixture_bodies(dir: &std::path::Path, items: usize) -> std::io::Result<Vec<(&'static str, usize)>> {
    std::fs::create_dir_all(dir)?;
    let traces = fixtures::traces(items);
    let metrics = fixtures::metrics((items / 10 * 10).max(10));
    let logs = fixtures::logs(items);
    let mut files: Vec<(&'static str, Vec<u8>)> = Vec::new();
    let mut b = Vec::new();
    direct::encode_traces(&traces, &mut b);
    files.push(("traces.pb", std::mem::take(&mut b)));
    direct::encode_metrics(&metrics, &mut b);
    files.push(("metrics.pb", std::mem::take(&mut b)));
    direct::encode_logs(&logs, &mut b);
    files.push(("logs.pb", std::mem::take(&mut b)));
    json::write_traces(&traces, &mut b);
    files.push(("traces.json", std::mem::take(&mut b)));
    json::write_metrics(&metrics, &mut b);
    files.push(("metrics.json", std::mem::take(&mut b)));
    json::write_logs(&logs, &mut b);
    files.push(("logs.json", std::mem::take(&mut b)));
    let sidecar = expected_values(&traces, &metrics, &logs);
    files.push(("expected.json", serde_json::to_vec_pretty(&sidecar).map_err(std::io::Error::other)?));
    files
        .into_iter()
        .map(|(name, bytes)| std::fs::write(dir.join(name), &bytes).map(|()| (name, bytes.len())))
        .collect()
}

/// What the fixture bodies hold, field by field, read from the model and
/// written by serde_json (never by the encoders under test): the sidecar
/// `expected.json` that `scripts/interop/decode_check.py` compares the
/// official protobuf classes' decode of the `.pb` files with.
pub fn expected_values(traces: &TracesData, metrics: &MetricsData, logs: &LogsData) -> serde_json::Value {
    use otlp_pipeline::model::{AnyValue, MetricData, NumberValue};
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let spans: Vec<_> = traces
        .spans()
        .map(|s| {
            serde_json::json!({
                "trace_id": hex(&s.trace_id.0),
                "span_id": hex(&s.span_id.0),
                "parent_span_id": s.parent_span_id.map(|p| hex(&p.0)).unwrap_or_default(),
                "name": s.name.to_string(),
                "kind": s.kind as i32,
                "start_time_unix_nano": s.start_time_unix_nano,
                "end_time_unix_nano": s.end_time_unix_nano,
                "attributes": s.attributes.iter().map(|a| a.key.to_string()).collect::<Vec<_>>(),
                "events": s.events.len(),
            })
        })
        .collect();
    let number = |v: &Option<NumberValue>| match v {
        Some(NumberValue::Double(d)) => serde_json::json!({ "as_double": d }),
        Some(NumberValue::Int(i)) => serde_json::json!({ "as_int": i }),
        None => serde_json::Value::Null,
    };
    let metric_list: Vec<_> = metrics
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .map(|m| {
            let (kind, values) = match &m.data {
                Some(MetricData::Gauge(p)) => ("gauge", p.iter().map(|p| number(&p.value)).collect()),
                Some(MetricData::Sum { points, .. }) => ("sum", points.iter().map(|p| number(&p.value)).collect()),
                Some(MetricData::Histogram { points, .. }) => {
                    ("histogram", points.iter().map(|p| serde_json::json!({ "count": p.count })).collect())
                }
                Some(MetricData::ExponentialHistogram { points, .. }) => (
                    "exponential_histogram",
                    points.iter().map(|p| serde_json::json!({ "count": p.count })).collect(),
                ),
                None => ("", Vec::new()),
            };
            serde_json::json!({ "name": m.name.to_string(), "unit": m.unit.to_string(), "kind": kind, "points": values })
        })
        .collect();
    let records: Vec<_> = logs
        .resource_logs
        .iter()
        .flat_map(|r| &r.scope_logs)
        .flat_map(|s| &s.log_records)
        .map(|r| {
            serde_json::json!({
                "time_unix_nano": r.time_unix_nano,
                "severity_number": r.severity_number.0,
                "severity_text": r.severity_text.to_string(),
                "body": match &r.body { Some(AnyValue::String(s)) => s.to_string(), _ => String::new() },
                "trace_id": r.trace_id.map(|t| hex(&t.0)).unwrap_or_default(),
                "attributes": r.attributes.len(),
            })
        })
        .collect();
    serde_json::json!({
        "spans": spans,
        "metrics": metric_list,
        "points": metrics.point_count(),
        "log_records": records,
    })
}

/// Prints encoded sizes of the standard batches for every encoder and codec.
pub fn print_sizes(items: usize) {
    let traces = fixtures::traces(items);
    let metrics = fixtures::metrics((items / 10 * 10).max(10));
    let logs = fixtures::logs(items);
    let mut proto = Vec::new();
    let mut rows: Vec<(&str, usize, Vec<u8>)> = Vec::new();
    direct::encode_traces(&traces, &mut proto);
    let mut check = Vec::new();
    reference::encode_traces(&traces, &mut check);
    assert_eq!(proto, check, "direct and reference encoders disagree");
    rows.push(("traces protobuf", traces.span_count(), proto));
    let mut j = Vec::new();
    json::write_traces(&traces, &mut j);
    rows.push(("traces OTLP/JSON", traces.span_count(), j));
    let mut p = Vec::new();
    direct::encode_metrics(&metrics, &mut p);
    rows.push(("metrics protobuf", metrics.point_count(), p));
    let mut j = Vec::new();
    json::write_metrics(&metrics, &mut j);
    rows.push(("metrics OTLP/JSON", metrics.point_count(), j));
    let mut p = Vec::new();
    direct::encode_logs(&logs, &mut p);
    rows.push(("logs protobuf", logs.record_count(), p));
    let mut j = Vec::new();
    json::write_logs(&logs, &mut j);
    rows.push(("logs OTLP/JSON", logs.record_count(), j));

    let codecs = [
        Compression::None,
        Compression::Gzip { level: 1 },
        Compression::GZIP_DEFAULT,
        Compression::ZSTD_DEFAULT,
        Compression::Zstd { level: 3 },
        Compression::Zstd { level: 9 },
    ];
    let mut c = Compressor::new();
    let mut out = Vec::new();
    println!(
        "Standard fixtures ({items} spans, {} points, {items} log records); ratio = original / compressed",
        metrics.point_count()
    );
    println!("{:<20} {:<8} {:>10} {:>10} {:>8}", "batch", "codec", "bytes", "per item", "ratio");
    for (label, n, bytes) in &rows {
        for codec in codecs {
            out.clear();
            c.compress(codec, bytes, &mut out).expect("in-memory compression of a fixture cannot fail");
            println!(
                "{:<20} {:<8} {:>10} {:>10.1} {:>8.2}",
                label,
                codec.to_string(),
                out.len(),
                out.len() as f64 / (*n).max(1) as f64,
                bytes.len() as f64 / out.len().max(1) as f64
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_runner_json_and_ignores_other_lines() {
        let line = r#"{"id":"hex_encode_ids_simd_4k","profiles":[{"summaries":{"total":{"summary":{"Callgrind":{"Ir":{"metrics":{"Left":{"Int":123456}}}}}}}}]}"#;
        let rows = parse_icount_lines(&format!("Compiling...\n{line}\n")).expect("parses");
        assert_eq!(
            rows,
            vec![IcountRow { id: "hex_encode_ids_simd_4k".into(), instructions: 123456, ..IcountRow::default() }]
        );
        let table = icount_table(&rows);
        assert!(table.contains("hex_encode_ids_simd_4k") && table.contains(" 30 "), "{table}");
        let both = line.replace(r#"{"Left":{"Int":123456}}"#, r#"{"Both":[{"Int":7},{"Int":9}]}"#);
        assert_eq!(parse_icount_lines(&both).expect("parses")[0].instructions, 7);
        assert!(matches!(parse_icount_lines("{\"id\":1}"), Err(ReportError::Missing { field: "id", .. })));
        // DHAT beside callgrind: the runner's second profile.
        let dhat = line.replace(
            "]}",
            r#",{"summaries":{"total":{"summary":{"Dhat":{"TotalBlocks":{"metrics":{"Left":{"Int":3592}}}}}}}}]}"#,
        );
        assert_eq!(parse_icount_lines(&dhat).expect("parses")[0].allocations, Some(3592), "{dhat}");
        assert!(matches!(parse_icount_lines("{nope"), Err(ReportError::Json { line: 1, .. })));
    }

    /// A runner line with the given callgrind metrics and, when given, DHAT's blocks and bytes.
    fn line(id: &str, callgrind: &[(&str, u64)], dhat: Option<(u64, u64)>) -> String {
        let metric = |(k, v): &(&str, u64)| format!(r#""{k}":{{"metrics":{{"Left":{{"Int":{v}}}}}}}"#);
        let cg: Vec<String> = callgrind.iter().map(metric).collect();
        let mut profiles =
            vec![format!(r#"{{"summaries":{{"total":{{"summary":{{"Callgrind":{{{}}}}}}}}}}}"#, cg.join(","))];
        if let Some((blocks, bytes)) = dhat {
            let d = [metric(&("TotalBlocks", blocks)), metric(&("TotalBytes", bytes))].join(",");
            profiles.push(format!(r#"{{"summaries":{{"total":{{"summary":{{"Dhat":{{{d}}}}}}}}}}}"#));
        }
        format!(r#"{{"id":"{id}","profiles":[{}]}}"#, profiles.join(","))
    }

    #[test]
    fn reads_the_cache_simulation_and_dhat_bytes_and_refuses_half_a_cache() {
        let cache = [("Ir", 1000), ("EstimatedCycles", 1290), ("L1hits", 1200), ("LLhits", 11), ("RamHits", 1)];
        let rows = parse_icount_lines(&line("encode_direct_traces_512", &cache, Some((0, 0)))).expect("parses");
        let want = CacheSim { estimated_cycles: 1290, l1_hits: 1200, ll_hits: 11, ram_hits: 1 };
        assert_eq!(rows[0].cache, Some(want));
        assert_eq!((rows[0].allocations, rows[0].allocated_bytes), (Some(0), Some(0)));
        // Without the cache simulation (callgrind's default): none, not an error.
        let rows = parse_icount_lines(&line("a", &[("Ir", 5)], None)).expect("parses");
        assert_eq!(rows[0], IcountRow { id: "a".into(), instructions: 5, ..IcountRow::default() });
        // Some cache metrics but not all: refused, naming the missing one.
        let half = line("a", &[("Ir", 5), ("EstimatedCycles", 7), ("L1hits", 5), ("RamHits", 0)], None);
        let e = parse_icount_lines(&half).expect_err("refused");
        assert!(matches!(e, ReportError::PartialCache { line: 1, field: "LLhits" }), "{e}");
    }

    #[test]
    fn the_table_flags_blocks_over_budget_and_names_rank_shifts() {
        // encode_direct_traces_512 has a budget of 0 blocks per run, decode_direct_traces_512 of 1540.
        let row = |id: &str, instructions, cycles, ram, blocks| IcountRow {
            id: id.into(),
            instructions,
            cache: Some(CacheSim { estimated_cycles: cycles, l1_hits: cycles - 35 * ram, ll_hits: 0, ram_hits: ram }),
            allocations: Some(blocks),
            allocated_bytes: Some(blocks * 64),
        };
        let rows = [
            row("encode_direct_traces_512", 1_000, 1_000, 0, 1),
            row("decode_direct_traces_512", 2_000, 9_000, 200, 1_540),
            row("json_parse_traces_512", 3_000, 3_500, 10, 40),
        ];
        assert_eq!(over_budget(&rows), [("encode_direct_traces_512", 1, 0)]);
        assert_eq!(budget_of("json_parse_traces_512"), None);
        let table = icount_table(&rows);
        assert!(
            table.contains("OVER BUDGET: encode_direct_traces_512 allocates 1 blocks per run, its budget is 0"),
            "{table}"
        );
        assert_eq!(table.matches("  OVER\n").count(), 1, "{table}");
        // Per item (512 each): decode is 2nd by instructions, 3rd by cycles (its RAM hits).
        let shifts = rank_shifts(&rows, |_| Some(512));
        let ids: Vec<(&str, usize, usize)> =
            shifts.iter().map(|s| (s.id.as_str(), s.by_instructions, s.by_cycles)).collect();
        assert_eq!(ids, [("json_parse_traces_512", 3, 2), ("decode_direct_traces_512", 2, 3)]);
        assert!((shifts[1].ram_hits_per_kinstr - 200.0 / 2.0).abs() < 1e-9);
        assert!(table.contains("decode_direct_traces_512           instr rank  2, cycles rank  3"), "{table}");
        // Without a cache simulation there is nothing to rank.
        let plain: Vec<IcountRow> = rows.iter().map(|r| IcountRow { cache: None, ..r.clone() }).collect();
        assert!(rank_shifts(&plain, |_| Some(512)).is_empty());
    }
}
