//! README's generated section: the headline table of instructions per item,
//! computed from the saved baseline (`profiles/baselines/main.json`) and the
//! items each workload processes. `otlp-lab readme --write` rewrites the
//! section in place; `otlp-lab readme --check` (CI) fails when README and the
//! baseline disagree, so that the table cannot outlive the counts it came from.

use crate::baseline::Results;
use crate::html::doc::int;
use crate::workloads::Workload;

/// The line that opens the generated section in README.md.
pub const BEGIN: &str =
    "<!-- BEGIN GENERATED headline: `otlp-lab readme --write` from profiles/baselines/main.json; do not edit -->";
/// The line that closes it.
pub const END: &str = "<!-- END GENERATED headline -->";

/// The table's rows: what a reader looks for, and the benches that measure it
/// (two benches share a row when they are one path in two settings).
const HEADLINE: &[(&str, &[Workload])] = &[
    ("direct protobuf encode, 512 spans", &[Workload::EncodeDirectTraces]),
    ("reference: build prost structs + encode + drop", &[Workload::EncodeReferenceTraces]),
    ("direct encode + zstd level 1", &[Workload::EncodeZstd1Traces]),
    ("OTLP/JSON write", &[Workload::JsonWriteTraces]),
    ("OTLP/JSON parse, simd-json (model kept)", &[Workload::JsonParseTraces]),
    ("OTLP/JSON parse, serde_json reference", &[Workload::JsonParseSerdeTraces]),
    (
        "protobuf decode to the model, direct (`encode::decode`, strings share the body)",
        &[Workload::DecodeDirectTraces],
    ),
    ("protobuf decode with prost, then conversion to the model", &[Workload::DecodeReferenceTraces]),
    (
        "zero-copy views (`encode::view`): validate, then read every field, no model; spans / metric points / log records",
        &[Workload::DecodeViewTraces, Workload::DecodeViewMetrics, Workload::DecodeViewLogs],
    ),
    (
        "direct encode into a pooled buffer / a fresh `Vec`",
        &[Workload::EncodeDirectTracesPooled, Workload::EncodeDirectTracesFresh],
    ),
    (
        "one batch through queue, batcher, encode into a discarding sink (cloning the spans included)",
        &[Workload::PipelineBatch],
    ),
    ("the same with zstd level 1 bodies", &[Workload::PipelineBatchZstd]),
];

/// Why the section could not be generated or placed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadmeError {
    /// A bench of the table is not in the baseline.
    #[error("the baseline has no `{0}`: save a full quick run (scripts/run_benchmarks.sh save main)")]
    NotInBaseline(&'static str),
    /// README lacks the markers, or has them out of order or twice.
    #[error("README.md must hold exactly one `{BEGIN}` line followed by one `{END}` line")]
    Markers,
}

/// The generated table (the lines between the markers), from `baseline`;
/// `items` gives the items a workload processes per run
/// ([`crate::report::items_of`] outside tests).
pub fn headline_table(baseline: &Results, items: impl Fn(Workload) -> u64) -> Result<String, ReadmeError> {
    let mut out = String::from("| path | bench | instructions per item |\n|---|---|---|\n");
    for (what, benches) in HEADLINE {
        let mut names = Vec::new();
        let mut figures = Vec::new();
        for &w in *benches {
            let m = baseline.get(w.name()).ok_or(ReadmeError::NotInBaseline(w.name()))?;
            let n = items(w).max(1);
            names.push(format!("`{}`", w.name()));
            figures.push(int((m.instructions as f64 / n as f64).round() as u64));
        }
        out.push_str(&format!("| {what} | {} | {} |\n", names.join(" / "), figures.join(" / ")));
    }
    Ok(out)
}

/// `readme` with the section between the markers replaced by `table`.
pub fn splice(readme: &str, table: &str) -> Result<String, ReadmeError> {
    let lines: Vec<&str> = readme.lines().collect();
    let begin: Vec<usize> = (0..lines.len()).filter(|&i| lines[i] == BEGIN).collect();
    let end: Vec<usize> = (0..lines.len()).filter(|&i| lines[i] == END).collect();
    let (&[b], &[e]) = (begin.as_slice(), end.as_slice()) else { return Err(ReadmeError::Markers) };
    if e < b {
        return Err(ReadmeError::Markers);
    }
    let mut out = String::with_capacity(readme.len() + table.len());
    for l in &lines[..=b] {
        out.push_str(l);
        out.push('\n');
    }
    out.push_str(table);
    for l in &lines[e..] {
        out.push_str(l);
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::Metrics;

    fn baseline() -> Results {
        HEADLINE
            .iter()
            .flat_map(|(_, ws)| ws.iter())
            .map(|w| {
                (
                    w.name().to_owned(),
                    Metrics { instructions: 1_234_567, cache: None, allocations: None, allocated_bytes: None },
                )
            })
            .collect()
    }

    #[test]
    fn figures_are_the_baseline_divided_by_the_items() {
        let table = headline_table(&baseline(), |_| 512).unwrap();
        // 1,234,567 / 512 = 2,411.26...
        assert!(table.contains("| `encode_direct_traces_512` | 2,411 |"), "{table}");
        assert!(
            table.contains("| `encode_direct_traces_pooled_512` / `encode_direct_traces_fresh_512` | 2,411 / 2,411 |")
        );
        assert_eq!(table.lines().count(), 2 + HEADLINE.len());
    }

    #[test]
    fn a_bench_missing_from_the_baseline_is_an_error() {
        let mut b = baseline();
        b.remove("decode_direct_traces_512");
        assert!(matches!(headline_table(&b, |_| 1), Err(ReadmeError::NotInBaseline("decode_direct_traces_512"))));
    }

    #[test]
    fn splice_replaces_only_the_section_and_needs_both_markers() {
        let readme = format!("# t\nbefore\n{BEGIN}\nold 1\nold 2\n{END}\nafter\n");
        assert_eq!(splice(&readme, "new\n").unwrap(), format!("# t\nbefore\n{BEGIN}\nnew\n{END}\nafter\n"));
        assert!(matches!(splice("no markers\n", "x\n"), Err(ReadmeError::Markers)));
        assert!(matches!(splice(&format!("{END}\n{BEGIN}\n"), "x\n"), Err(ReadmeError::Markers)));
        assert!(matches!(splice(&format!("{BEGIN}\n{BEGIN}\n{END}\n"), "x\n"), Err(ReadmeError::Markers)));
    }
}
