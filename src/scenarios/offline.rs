//! The scenarios without network, whose runs read no clock: data_size_variations,
//! memory_patterns, cpu_intensive.

use crate::workloads::{Outcome, fingerprint};
use otlp_pipeline::compress::{Compression, Compressor, Decompressor};
use otlp_pipeline::encode::direct;
use otlp_pipeline::fixtures;
use otlp_pipeline::model::{AnyValue, KeyValue, Span, TracesData};
use otlp_pipeline::pool::{BatchArena, BufferPool};

use super::harness::{fold, mix};
use super::sizes::{ARENA_INITIAL, ARENA_RETAINED, ATTRIBUTE_COUNTS, CPU_CODECS, SMALL_BATCH, large_batch};
use super::telemetry::spans;
use super::{ScenarioError, ScenarioRow, unexpected};

#[derive(Debug)]
pub(super) struct DataSize {
    steps: Vec<(usize, TracesData)>,
    encoder: direct::Encoder,
    compressor: Compressor,
    out: Vec<u8>,
}

/// Decompresses `compressed` and checks that it gives `raw` back (and no
/// more). Run once in prepare, unmeasured, so that what the measured runs
/// produce is known to be valid.
fn check_round_trip(step: &str, codec: Compression, raw: &[u8], compressed: &[u8]) -> Result<(), ScenarioError> {
    let mut out = Vec::with_capacity(raw.len());
    Decompressor::new()
        .decompress(codec, compressed, &mut out, raw.len())
        .map_err(|source| ScenarioError::Decompress { step: step.into(), source })?;
    if out != raw {
        return Err(ScenarioError::RoundTrip { step: step.into(), input: raw.len(), output: out.len() });
    }
    Ok(())
}

/// Spans shaped like the fixture's, with `attrs` attributes of mixed types.
fn spans_with_attributes(n: u64, attrs: usize) -> Vec<Span> {
    spans(n)
        .into_iter()
        .enumerate()
        .map(|(i, mut s)| {
            s.attributes = (0..attrs)
                .map(|a| {
                    let key = format!("app.attribute_{a:02}");
                    match a % 4 {
                        0 => KeyValue::new(key, format!("value-{i}-{a}")),
                        1 => KeyValue::new(key, (i * 31 + a) as i64),
                        2 => KeyValue::new(key, (i + a) % 2 == 0),
                        _ => KeyValue::new(key, (i + a) as f64 * 0.25),
                    }
                })
                .collect();
            s
        })
        .collect()
}

impl DataSize {
    pub(super) fn new(spans: u64) -> Result<Self, ScenarioError> {
        let steps = ATTRIBUTE_COUNTS
            .iter()
            .map(|&k| (k, TracesData::single(fixtures::resource(), fixtures::scope(), spans_with_attributes(spans, k))))
            .collect();
        let mut s = DataSize { steps, encoder: direct::Encoder::new(), compressor: Compressor::new(), out: Vec::new() };
        // Warm up: the encoder's scratch, the zstd context and the output buffer reach steady state.
        s.run(&mut Vec::new())?;
        for (attrs, data) in &s.steps {
            let step = format!("attributes={attrs}");
            let raw = s.encoder.traces(data);
            s.out.clear();
            s.compressor
                .compress(Compression::ZSTD_DEFAULT, raw, &mut s.out)
                .map_err(|source| ScenarioError::Compress { step: step.as_str().into(), source })?;
            check_round_trip(&step, Compression::ZSTD_DEFAULT, raw, &s.out)?;
        }
        Ok(s)
    }

    pub(super) fn run(&mut self, rows: &mut Vec<ScenarioRow>) -> Result<Outcome, ScenarioError> {
        let mut outcome = Outcome { items: 0, bytes: 0, checksum: fold([]) };
        for (attrs, data) in &self.steps {
            let raw = self.encoder.traces(data);
            self.out.clear();
            self.compressor
                .compress(Compression::ZSTD_DEFAULT, raw, &mut self.out)
                .map_err(|source| ScenarioError::Compress { step: "data_size_variations".into(), source })?;
            let spans = data.span_count() as u64;
            outcome.items += spans;
            outcome.bytes += (raw.len() + self.out.len()) as u64;
            outcome.checksum = mix(mix(outcome.checksum, fingerprint(raw)), fingerprint(&self.out));
            let per_span = |bytes: usize| format!("{:.1}", bytes as f64 / spans as f64);
            let mut row = ScenarioRow::untimed(format!("attributes={attrs}"), spans, raw.len() as u64);
            row.extra.extend([
                ("bytes_per_span", per_span(raw.len())),
                ("zstd_bytes", self.out.len().to_string()),
                ("zstd_bytes_per_span", per_span(self.out.len())),
                ("zstd_ratio", format!("{:.2}", raw.len() as f64 / self.out.len() as f64)),
            ]);
            rows.push(row);
        }
        Ok(outcome)
    }
}

#[derive(Debug)]
pub(super) struct Memory {
    small: Vec<TracesData>,
    large: Vec<TracesData>,
    pool: BufferPool,
    arena: BatchArena,
}

fn batches(spans: &[Span], size: usize) -> Vec<TracesData> {
    spans.chunks(size).map(|c| TracesData::single(fixtures::resource(), fixtures::scope(), c.to_vec())).collect()
}

/// Per-batch scratch, as an exporter computes it: a word per attribute
/// (key length, value kind), sorted, then folded.
fn scratch_words(batch: &TracesData, mut push: impl FnMut(u32)) {
    for span in batch.spans() {
        for kv in &span.attributes {
            let kind = match kv.value {
                AnyValue::String(_) => 1,
                AnyValue::Int(_) => 2,
                AnyValue::Bool(_) => 3,
                AnyValue::Double(_) => 4,
                _ => 0,
            };
            push((kv.key.len() as u32) << 8 | kind);
        }
    }
}

fn fold_sorted(words: &mut [u32]) -> u64 {
    words.sort_unstable();
    words.iter().fold(words.len() as u64, |h, w| mix(h, u64::from(*w)))
}

impl Memory {
    pub(super) fn new(n: u64) -> Self {
        let all = spans(n);
        let (small, large) = (batches(&all, SMALL_BATCH), batches(&all, large_batch()));
        let pool = BufferPool::default();
        // Warm up: one pooled buffer grown to the largest batch, as in steady state.
        if let Some(first) = large.first() {
            direct::encode_traces(first, &mut pool.get());
        }
        Memory { small, large, pool, arena: BatchArena::with_capacity(ARENA_INITIAL, ARENA_RETAINED) }
    }

    /// Fails when a buffer or scratch strategy changes a result: the pooled
    /// encodings must equal the fresh ones, the arena's fold the heap's.
    pub(super) fn run(&mut self, rows: &mut Vec<ScenarioRow>) -> Result<Outcome, ScenarioError> {
        let mut outcome = Outcome { items: 0, bytes: 0, checksum: fold([]) };
        let mut record = |outcome: &mut Outcome, mut row: ScenarioRow, batches: usize, checksum: u64| {
            outcome.items += row.items;
            outcome.bytes += row.bytes;
            outcome.checksum = mix(outcome.checksum, checksum);
            row.extra.insert(0, ("batches", batches.to_string()));
            rows.push(row);
        };
        for (label, batches) in [("small", &self.small), ("large", &self.large)] {
            let (items, bytes, fresh) = encode_all(batches, None);
            record(
                &mut outcome,
                ScenarioRow::untimed(format!("{label}_batches+fresh_vec"), items, bytes),
                batches.len(),
                fresh,
            );

            let step = format!("{label}_batches+buffer_pool");
            let before = self.pool.stats();
            let (items, bytes, h) = encode_all(batches, Some(&self.pool));
            let after = self.pool.stats();
            if h != fresh {
                return Err(unexpected(
                    &step,
                    format!("the fresh Vecs' fingerprint {fresh:#018x}"),
                    format!("{h:#018x}"),
                ));
            }
            let mut row = ScenarioRow::untimed(step, items, bytes);
            row.extra.extend([
                ("pool_hits", (after.hits - before.hits).to_string()),
                ("pool_misses", (after.misses - before.misses).to_string()),
            ]);
            record(&mut outcome, row, batches.len(), h);
        }

        let (mut items, mut heap) = (0, fold([]));
        for batch in &self.small {
            let mut words = Vec::new();
            scratch_words(batch, |w| words.push(w));
            heap = mix(heap, fold_sorted(&mut words));
            items += batch.span_count() as u64;
        }
        record(&mut outcome, ScenarioRow::untimed("scratch+heap_vec", items, 0), self.small.len(), heap);

        let before = self.arena.stats();
        let (mut items, mut h) = (0, fold([]));
        for batch in &self.small {
            let folded = self.arena.with(|bump| {
                let mut words = bumpalo::collections::Vec::new_in(bump);
                scratch_words(batch, |w| words.push(w));
                // Kept until the reset, as batch scratch is: dropping the Vec
                // would hand its bytes straight back and hide them from the stats.
                fold_sorted(words.into_bump_slice_mut())
            });
            h = mix(h, folded);
            items += batch.span_count() as u64;
        }
        let after = self.arena.stats();
        let step = "scratch+batch_arena";
        if h != heap {
            return Err(unexpected(step, format!("the heap Vecs' fold {heap:#018x}"), format!("{h:#018x}")));
        }
        let mut row = ScenarioRow::untimed(step, items, 0);
        row.extra.extend([
            ("arena_bytes", (after.bytes_allocated - before.bytes_allocated).to_string()),
            ("arena_peak_batch_bytes", after.peak_batch_bytes.to_string()),
            ("arena_retained_bytes", after.retained_bytes.to_string()),
        ]);
        record(&mut outcome, row, self.small.len(), h);
        Ok(outcome)
    }
}

/// Encodes every batch into a buffer of its own, from `pool` or a fresh
/// `Vec` (dropped after each batch); returns spans, bytes and a fingerprint
/// of the outputs.
fn encode_all(batches: &[TracesData], pool: Option<&BufferPool>) -> (u64, u64, u64) {
    let (mut items, mut bytes, mut h) = (0, 0, fold([]));
    for batch in batches {
        let (len, fp) = match pool {
            Some(pool) => {
                let mut out = pool.get();
                direct::encode_traces(batch, &mut out);
                (out.len(), fingerprint(&out))
            }
            None => {
                let mut out = Vec::new();
                direct::encode_traces(batch, &mut out);
                (out.len(), fingerprint(&out))
            }
        };
        items += batch.span_count() as u64;
        bytes += len as u64;
        h = mix(h, fp);
    }
    (items, bytes, h)
}

#[derive(Debug)]
pub(super) struct Cpu {
    data: TracesData,
    batches: u64,
    encoder: direct::Encoder,
    compressor: Compressor,
    out: Vec<u8>,
}

impl Cpu {
    pub(super) fn new(batches: u64) -> Result<Self, ScenarioError> {
        let data = fixtures::traces(fixtures::DEFAULT_SPANS);
        let mut cpu =
            Cpu { data, batches: 1, encoder: direct::Encoder::new(), compressor: Compressor::new(), out: Vec::new() };
        // Warm up every context and buffer with one batch, then set the real count.
        cpu.run(&mut Vec::new())?;
        cpu.batches = batches;
        let raw = cpu.encoder.traces(&cpu.data);
        for codec in CPU_CODECS {
            let step = format!("encode+{codec}");
            cpu.out.clear();
            cpu.compressor
                .compress(codec, raw, &mut cpu.out)
                .map_err(|source| ScenarioError::Compress { step: step.as_str().into(), source })?;
            check_round_trip(&step, codec, raw, &cpu.out)?;
        }
        Ok(cpu)
    }

    pub(super) fn run(&mut self, rows: &mut Vec<ScenarioRow>) -> Result<Outcome, ScenarioError> {
        let (mut raw_bytes, mut compressed, mut h) = (0u64, [0u64; CPU_CODECS.len()], fold([]));
        for _ in 0..self.batches {
            let raw = self.encoder.traces(&self.data);
            raw_bytes += raw.len() as u64;
            h = mix(h, fingerprint(raw));
            for (codec, total) in CPU_CODECS.iter().zip(&mut compressed) {
                self.out.clear();
                self.compressor
                    .compress(*codec, raw, &mut self.out)
                    .map_err(|source| ScenarioError::Compress { step: codec.to_string().into(), source })?;
                *total += self.out.len() as u64;
                h = mix(h, fingerprint(&self.out));
            }
        }
        let spans = self.batches * self.data.span_count() as u64;
        rows.push(ScenarioRow::untimed("encode_direct", spans, raw_bytes));
        for (codec, bytes) in CPU_CODECS.iter().zip(compressed) {
            let mut row = ScenarioRow::untimed(format!("encode+{codec}"), spans, bytes);
            row.extra.push(("ratio", format!("{:.2}", raw_bytes as f64 / bytes as f64)));
            rows.push(row);
        }
        Ok(Outcome { items: spans, bytes: raw_bytes + compressed.iter().sum::<u64>(), checksum: h })
    }
}

#[cfg(test)]
mod tests {
    use otlp_pipeline::compress::CompressError;

    use super::*;

    #[test]
    fn check_round_trip_refuses_bad_or_different_output() {
        let mut raw = Vec::new();
        direct::encode_traces(&fixtures::traces(8), &mut raw);
        let codec = Compression::ZSTD_DEFAULT;
        let mut compressed = Vec::new();
        Compressor::new().compress(codec, &raw, &mut compressed).expect("compresses");
        check_round_trip("s", codec, &raw, &compressed).expect("round trip");

        let e = check_round_trip("s", codec, &raw, b"not zstd").expect_err("corrupt");
        assert!(matches!(e, ScenarioError::Decompress { .. }), "{e}");
        // Valid data, but not what was encoded.
        let mut other = raw.clone();
        other[0] ^= 1;
        let e = check_round_trip("s", codec, &other, &compressed).expect_err("different");
        assert!(matches!(e, ScenarioError::RoundTrip { .. }), "{e}");
        // More than was encoded: stopped at the input's length.
        let e = check_round_trip("s", codec, &raw[..raw.len() - 1], &compressed).expect_err("longer");
        assert!(matches!(e, ScenarioError::Decompress { source: CompressError::TooLarge { .. }, .. }), "{e}");
    }
}
