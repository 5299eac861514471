//! Tables the lab prints: encoded sizes per encoder and codec, and
//! instruction counts per item from iai-callgrind's JSON output.

use std::fmt::Write as _;

use crate::workloads::Workload;
use otlp_pipeline::compress::{Compression, Compressor};
use otlp_pipeline::encode::{direct, json, reference};
use otlp_pipeline::fixtures;
use otlp_pipeline::model::{LogsData, MetricsData, TracesData};

/// One benchmark's instruction count, as read from the runner's output.
#[derive(Clone, Debug, PartialEq)]
pub struct IcountRow {
    /// Bench id: the workload name.
    pub id: String,
    /// Instructions executed in the measured region.
    pub instructions: u64,
    /// Heap blocks allocated, when the DHAT tool ran beside callgrind.
    pub allocations: Option<u64>,
}

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
        // iai-callgrind 0.16 names the DHAT summary "Dhat".
        let allocations = total("Dhat", "TotalBlocks").or_else(|| total("DHAT", "TotalBlocks"));
        rows.push(IcountRow { id, instructions, allocations });
    }
    Ok(rows)
}

/// Items a workload processes per run (spans, points, records, ids, bytes),
/// found by running it once; `None` for a name that is not a workload.
pub fn items_of(id: &str) -> Option<u64> {
    let w: Workload = id.parse().ok()?;
    Some(w.prepare().run().items)
}

/// A plain-text table: bench, instructions, items, instructions per item.
pub fn icount_table(rows: &[IcountRow]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<34} {:>14} {:>7} {:>12} {:>12}",
        "bench", "instructions", "items", "instr/item", "dhat blocks"
    );
    for r in rows {
        let items = items_of(&r.id);
        let per = items.map_or_else(|| "-".to_owned(), |n| format!("{:.0}", r.instructions as f64 / n.max(1) as f64));
        let allocs = r.allocations.map_or_else(|| "-".to_owned(), |a| a.to_string());
        let items = items.map_or_else(|| "-".to_owned(), |n| n.to_string());
        let _ = writeln!(out, "{:<34} {:>14} {:>7} {:>12} {:>12}", r.id, r.instructions, items, per, allocs);
    }
    if rows.iter().any(|r| r.allocations.is_some()) {
        // DHAT in iai-callgrind 0.16 sees the whole bench process, setup included:
        // the figure moves when the measured part allocates, but is not a count per run.
        out.push_str("dhat blocks: heap blocks over the whole bench process (setup included); per-run counts: tests/alloc_budget.rs\n");
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
            vec![IcountRow { id: "hex_encode_ids_simd_4k".into(), instructions: 123456, allocations: None }]
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
}
