//! Workloads: each defined once (name, unmeasured `prepare`, measured `run`
//! returning a checksum) and used by the iai-callgrind benches, heap runs,
//! flamegraph runs and tests alike. The name is the key everywhere: bench id,
//! `profiles/dhat-<name>.json`, `flamegraphs/<name>.svg`.

use std::fmt;
use std::hint::black_box;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use otlp_pipeline::compress::{Compression, Compressor, Decompressor};
use otlp_pipeline::encode::{decode, direct, json, reference};
use otlp_pipeline::fixtures;
use otlp_pipeline::model::{LogsData, MetricsData, Span, TracesData};
use otlp_pipeline::pipeline::{ExportRequest, ExportResult, ExportSink, Pipeline, PipelineConfig};
use otlp_pipeline::pool::{BatchArena, BufferPool};
use otlp_pipeline::simd;

mod verify;
mod walk;
pub use verify::{Output, Provenance, Verified, VerifyError, full_digest, verify_output};

/// What a measured run produced. `checksum` depends on every run's output so
/// the optimizer cannot drop the work, and tests pin it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Telemetry items (spans, points, records, ids, ...) processed.
    pub items: u64,
    /// Bytes produced (or consumed, for decoders).
    pub bytes: u64,
    /// A cheap fingerprint of the output.
    pub checksum: u64,
}

/// Which suite of benches a workload belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    /// Protobuf and JSON encode and decode.
    Serialization,
    /// SIMD routines beside their scalar references.
    Simd,
    /// gzip and zstd, compress and decompress.
    Compression,
    /// The buffer pool and batch arenas beside fresh heap memory.
    Pool,
    /// One batch through the pipeline (batcher, encode, compress) into a sink
    /// that discards it.
    Pipeline,
}

impl Category {
    /// The suite's name: the bench file is `benches/iai_<name>.rs`.
    pub const fn name(self) -> &'static str {
        match self {
            Category::Serialization => "serialization",
            Category::Simd => "simd",
            Category::Compression => "compression",
            Category::Pool => "pool",
            Category::Pipeline => "pipeline",
        }
    }
}

macro_rules! workloads {
    ($($variant:ident => $name:literal, $cat:ident, $doc:literal;)*) => {
        /// Every micro-workload of the lab.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Workload {
            $(#[doc = $doc] $variant,)*
        }

        impl Workload {
            /// All workloads, in listing order.
            pub const ALL: &'static [Workload] = &[$(Workload::$variant,)*];

            /// The one name used everywhere.
            pub const fn name(self) -> &'static str {
                match self { $(Workload::$variant => $name,)* }
            }

            /// Its suite.
            pub const fn category(self) -> Category {
                match self { $(Workload::$variant => Category::$cat,)* }
            }

            /// One line saying what it measures.
            pub const fn description(self) -> &'static str {
                match self { $(Workload::$variant => $doc,)* }
            }
        }
    };
}

workloads! {
    EncodeDirectTraces => "encode_direct_traces_512", Serialization, "Direct protobuf encode of the 512-span trace batch into a warm buffer.";
    EncodeDirectTracesPooled => "encode_direct_traces_pooled_512", Pool, "Direct encode of 512 spans appended to a buffer taken from the BufferPool and returned.";
    EncodeDirectTracesFresh => "encode_direct_traces_fresh_512", Pool, "Direct encode of 512 spans appended to a fresh Vec (grown by doubling, then freed): the no-pool twin.";
    ScratchArenaTraces => "scratch_arena_traces_512", Pool, "Per-batch scratch (span index sorted by trace id) in the BatchArena, reset after the batch.";
    ScratchHeapTraces => "scratch_heap_traces_512", Pool, "The same per-batch scratch in a fresh heap Vec: the no-arena twin.";
    EncodeZstdPooled => "encode_zstd1_pooled_traces_512", Pool, "Direct encode + zstd 1 of 512 spans with a reused Encoder, the body taken from the BufferPool and returned: the exporter's path, pool on.";
    EncodeZstdFresh => "encode_zstd1_fresh_traces_512", Pool, "The same with a fresh Encoder and a fresh body Vec per batch: pool off.";
    CloneSpans => "clone_spans_512", Pipeline, "Clone the 512 fixture spans and drop the clones: the producer's share of the pipeline workloads, measured alone.";
    PipelineBatch => "pipeline_batch_discard_512", Pipeline, "512 spans (cloned from the fixture) through the queue, batcher and direct encoder into a discarding sink, then a flush.";
    PipelineBatchZstd => "pipeline_batch_zstd1_discard_512", Pipeline, "As pipeline_batch_discard_512 with zstd level 1 bodies from the pool.";
    PipelineBatchZstdNoPool => "pipeline_batch_zstd1_nopool_discard_512", Pipeline, "As pipeline_batch_zstd1_discard_512 with the body pool off (a fresh body per batch).";
    CloneSpans2048 => "clone_spans_2048", Pipeline, "As clone_spans_512 with 2048 spans (heap runs: the pipeline's own allocations at a second batch size).";
    PipelineBatchZstd2048 => "pipeline_batch_zstd1_discard_2048", Pipeline, "As pipeline_batch_zstd1_discard_512 with 2048-span batches: what the pipeline allocates must not grow with the batch.";
    EncodeReferenceTraces => "encode_reference_traces_512", Serialization, "Reference encode of 512 spans: build the prost structs, encode, drop.";
    EncodeDirectMetrics => "encode_direct_metrics_100", Serialization, "Direct protobuf encode of the 100-point metrics batch.";
    EncodeReferenceMetrics => "encode_reference_metrics_100", Serialization, "Reference (prost) encode of the 100-point metrics batch.";
    EncodeDirectLogs => "encode_direct_logs_512", Serialization, "Direct protobuf encode of the 512-record logs batch.";
    EncodeReferenceLogs => "encode_reference_logs_512", Serialization, "Reference (prost) encode of the 512-record logs batch.";
    JsonWriteTraces => "json_write_traces_512", Serialization, "OTLP/JSON write of the 512-span batch into a warm buffer.";
    JsonWriteMetrics => "json_write_metrics_100", Serialization, "OTLP/JSON write of the 100-point metrics batch.";
    JsonWriteLogs => "json_write_logs_512", Serialization, "OTLP/JSON write of the 512-record logs batch.";
    JsonParseTraces => "json_parse_traces_512", Serialization, "OTLP/JSON parse of 512 spans with simd-json into the model (the model is kept: its drop is not measured).";
    JsonParseDropTraces => "json_parse_drop_traces_512", Serialization, "As json_parse_traces_512, plus dropping the parsed model.";
    JsonParseSerdeTraces => "json_parse_serde_traces_512", Serialization, "OTLP/JSON parse of 512 spans with serde_json (the scalar reference), model kept.";
    JsonParseMetrics => "json_parse_metrics_100", Serialization, "OTLP/JSON parse of the 100-point metrics batch with simd-json, model kept.";
    JsonParseLogs => "json_parse_logs_512", Serialization, "OTLP/JSON parse of the 512-record logs batch with simd-json, model kept.";
    DecodeReferenceTraces => "decode_reference_traces_512", Serialization, "Protobuf decode of 512 spans with prost, then conversion to the model.";
    DecodeDirectTraces => "decode_direct_traces_512", Serialization, "Direct protobuf decode of the same 512 spans into the model, strings sliced from the shared body.";
    DecodeViewTraces => "decode_view_traces_512", Serialization, "Zero-copy view of the same 512-span request: one validating pass, then a walk of every span, event, link and attribute with borrowed strings; no model.";
    DecodeViewMetrics => "decode_view_metrics_100", Serialization, "Zero-copy view of the 100-point metrics request: validate, then walk every metric, point, bucket and attribute.";
    DecodeViewLogs => "decode_view_logs_512", Serialization, "Zero-copy view of the 512-record logs request: validate, then walk every record, body and attribute.";
    CompressZstd1 => "compress_zstd1_traces_512", Compression, "zstd level 1 over the 512-span protobuf batch, reused context.";
    CompressZstd3 => "compress_zstd3_traces_512", Compression, "zstd level 3 over the 512-span protobuf batch, reused context.";
    CompressZstd9 => "compress_zstd9_traces_512", Compression, "zstd level 9 over the 512-span protobuf batch, reused context.";
    CompressGzip1 => "compress_gzip1_traces_512", Compression, "gzip level 1 over the 512-span protobuf batch, reused context.";
    CompressGzip6 => "compress_gzip6_traces_512", Compression, "gzip level 6 over the 512-span protobuf batch, reused context.";
    DecompressZstd => "decompress_zstd1_traces_512", Compression, "zstd decompression of the level-1 batch, bounded output.";
    DecompressGzip => "decompress_gzip6_traces_512", Compression, "gzip decompression of the level-6 batch, bounded output.";
    EncodeZstd1Traces => "encode_zstd1_traces_512", Compression, "Direct encode of 512 spans, then zstd level 1: the exporter's CPU path.";
    HexEncodeSimd => "hex_encode_ids_simd_4k", Simd, "Hex-encode 4096 trace ids with faster-hex.";
    HexEncodeScalar => "hex_encode_ids_scalar_4k", Simd, "Hex-encode 4096 trace ids with the scalar loop.";
    HexDecodeSimd => "hex_decode_ids_simd_4k", Simd, "Hex-decode 4096 trace ids with faster-hex.";
    HexDecodeScalar => "hex_decode_ids_scalar_4k", Simd, "Hex-decode 4096 trace ids with the scalar loop.";
    Utf8Simd => "utf8_validate_simd_256k", Simd, "Validate 256 KiB of mixed UTF-8 with simdutf8.";
    Utf8Scalar => "utf8_validate_scalar_256k", Simd, "Validate 256 KiB of mixed UTF-8 with std.";
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Workload {
    type Err = UnknownWorkload;
    fn from_str(s: &str) -> Result<Self, UnknownWorkload> {
        Workload::ALL.iter().copied().find(|w| w.name() == s).ok_or_else(|| UnknownWorkload(s.to_owned()))
    }
}

/// A name that is not a workload.
#[derive(Debug, thiserror::Error)]
#[error("unknown workload `{0}` (see `otlp-lab list`)")]
pub struct UnknownWorkload(pub String);

/// Ids in the hex workloads: 4096 ids ≈ one second of spans at a moderate rate.
const HEX_IDS: usize = 4096;
/// Size of the UTF-8 validation input: about one large request body.
const UTF8_BYTES: usize = 256 * 1024;

/// A workload's state, built outside the measured region.
#[derive(Debug)]
enum State {
    Traces {
        data: TracesData,
        out: Vec<u8>,
        encoder: direct::Encoder,
    },
    TracesPooled {
        data: TracesData,
        pool: BufferPool,
    },
    Metrics {
        data: MetricsData,
        out: Vec<u8>,
        encoder: direct::Encoder,
    },
    Logs {
        data: LogsData,
        out: Vec<u8>,
        encoder: direct::Encoder,
    },
    Bytes {
        input: Vec<u8>,
    },
    /// A request body as the receiver holds it: shared bytes the decoded
    /// strings point into.
    Body {
        input: bytes::Bytes,
    },
    /// A request body the view workloads validate and walk in place.
    View {
        input: Vec<u8>,
    },
    JsonWrite {
        batch: Batch,
        out: Vec<u8>,
    },
    /// `work` is parsed in place (simd-json rewrites strings in it) and
    /// restored from `pristine` before the next run.
    JsonParse {
        pristine: Vec<u8>,
        work: Vec<u8>,
        dirty: bool,
        parsed: Option<Batch>,
    },
    HexEncode {
        ids: Vec<[u8; 16]>,
        out: Vec<u8>,
    },
    Compress {
        codec: Compression,
        input: Vec<u8>,
        out: Vec<u8>,
        compressor: Compressor,
    },
    Decompress {
        codec: Compression,
        input: Vec<u8>,
        out: Vec<u8>,
        decompressor: Decompressor,
    },
    EncodeCompress {
        data: TracesData,
        encoder: direct::Encoder,
        out: Vec<u8>,
        compressor: Compressor,
    },
    /// Pool on (`Some` pool and a kept encoder) or off (both fresh per run).
    EncodeCompressPool {
        data: TracesData,
        pool: Option<(BufferPool, direct::Encoder)>,
        compressor: Compressor,
    },
    HexDecode {
        hex: Vec<u8>,
    },
    TracesFresh {
        data: TracesData,
    },
    Spans {
        spans: Vec<Span>,
    },
    /// `arena` is `None` for the heap twin.
    Scratch {
        data: TracesData,
        arena: Option<BatchArena>,
    },
    /// A running pipeline on its own current-thread runtime (built outside
    /// the measured region), fed clones of `spans`.
    Pipeline {
        runtime: tokio::runtime::Runtime,
        pipeline: Pipeline,
        spans: Vec<Span>,
        sink: Arc<DigestSink>,
    },
}

/// A sink that keeps a digest of every body and discards it: the pipeline
/// workloads measure the pipeline, not a transport, yet their checksum
/// covers the bytes the sink was handed.
#[derive(Debug, Default)]
struct DigestSink {
    digest: AtomicU64,
    bytes: AtomicU64,
}

impl ExportSink for DigestSink {
    async fn export(&self, request: &ExportRequest) -> ExportResult {
        self.digest.fetch_xor(fingerprint(&request.body), Ordering::Relaxed);
        self.bytes.fetch_add(request.body.len() as u64, Ordering::Relaxed);
        ExportResult::Delivered { rejected: 0 }
    }
}

/// The pipeline workloads never wait on their timer: a batch fills at 512
/// items and the flush sends it. A delay far above any run (also under
/// valgrind, which runs it many times slower) keeps a timer tick out of the
/// instruction count.
const PIPELINE_MAX_DELAY: Duration = Duration::from_secs(3600);

/// Longest a pipeline workload's flush may take before the run fails.
const PIPELINE_FLUSH_TIMEOUT: Duration = Duration::from_secs(600);

/// One batch of any signal.
#[derive(Debug)]
enum Batch {
    Traces(TracesData),
    Metrics(MetricsData),
    Logs(LogsData),
}

impl Batch {
    fn items(&self) -> usize {
        match self {
            Batch::Traces(d) => d.span_count(),
            Batch::Metrics(d) => d.point_count(),
            Batch::Logs(d) => d.record_count(),
        }
    }

    fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Batch::Traces(d) => json::write_traces(d, out),
            Batch::Metrics(d) => json::write_metrics(d, out),
            Batch::Logs(d) => json::write_logs(d, out),
        }
    }

    /// A fingerprint of a parsed batch: walks every item, a few instructions each.
    fn checksum(&self) -> u64 {
        let mut h = self.items() as u64;
        if let Batch::Traces(d) = self {
            for s in d.spans() {
                h = h.rotate_left(5) ^ u64::from_le_bytes(s.span_id.0) ^ s.attributes.len() as u64;
            }
        }
        h
    }
}

/// The standard batch of a JSON workload's signal.
fn json_batch(w: Workload) -> Batch {
    use Workload::*;
    match w {
        JsonWriteMetrics | JsonParseMetrics => Batch::Metrics(fixtures::metrics(fixtures::DEFAULT_POINTS)),
        JsonWriteLogs | JsonParseLogs => Batch::Logs(fixtures::logs(fixtures::DEFAULT_LOGS)),
        _ => Batch::Traces(fixtures::traces(fixtures::DEFAULT_SPANS)),
    }
}

/// A prepared workload: [`Prepared::run`] is the measured part.
#[derive(Debug)]
pub struct Prepared {
    workload: Workload,
    state: State,
}

/// A cheap fingerprint: FNV-1a over a strided sample of `bytes` and its length.
/// The stride keeps its cost to a few instructions per span.
pub fn fingerprint(bytes: &[u8]) -> u64 {
    const STRIDE: usize = 61;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ bytes.len() as u64;
    for b in bytes.iter().step_by(STRIDE) {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Largest decompressed body the decompression workloads accept: the receiver's
/// default limit (16 MiB), far above the fixture's size.
const MAX_DECOMPRESSED: usize = 16 << 20;

/// The codec a compression workload uses.
fn codec_of(w: Workload) -> Compression {
    use Workload::*;
    match w {
        CompressZstd3 => Compression::Zstd { level: 3 },
        CompressZstd9 => Compression::Zstd { level: 9 },
        CompressGzip1 => Compression::Gzip { level: 1 },
        CompressGzip6 | DecompressGzip => Compression::Gzip { level: 6 },
        _ => Compression::Zstd { level: 1 },
    }
}

/// The 512-span batch as protobuf: the input of the compression workloads.
fn trace_batch_bytes() -> Vec<u8> {
    let mut out = Vec::new();
    direct::encode_traces(&fixtures::traces(fixtures::DEFAULT_SPANS), &mut out);
    out
}

/// The ids of the hex workloads, drawn from the fixtures' seed.
fn hex_ids() -> Vec<[u8; 16]> {
    let mut rng = fixtures::SplitMix64::new(fixtures::SEED);
    (0..HEX_IDS)
        .map(|_| {
            let mut b = [0u8; 16];
            b[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
            b[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
            b
        })
        .collect()
}

/// A buffer already grown to hold `n` bytes, as a pooled buffer is in steady state.
fn warm_buffer(n: usize) -> Vec<u8> {
    Vec::with_capacity(n)
}

impl Workload {
    /// Spans per batch of the clone and pipeline workloads.
    fn batch_spans(self) -> usize {
        match self {
            Workload::CloneSpans2048 | Workload::PipelineBatchZstd2048 => 4 * fixtures::DEFAULT_SPANS,
            _ => fixtures::DEFAULT_SPANS,
        }
    }

    /// The settings of a pipeline workload's pipeline.
    fn pipeline_config(self) -> PipelineConfig {
        PipelineConfig {
            max_batch_items: self.batch_spans(),
            // Room for a whole batch offered before the batcher runs.
            queue_capacity: PipelineConfig::default().queue_capacity.max(self.batch_spans()),
            max_delay: PIPELINE_MAX_DELAY,
            compression: if self == Workload::PipelineBatch { Compression::None } else { Compression::ZSTD_DEFAULT },
            pool_bodies: self != Workload::PipelineBatchZstdNoPool,
            ..PipelineConfig::default()
        }
    }

    /// Unmeasured setup: seeded fixtures and warm buffers.
    pub fn prepare(self) -> Prepared {
        use Workload::*;
        let state = match self {
            EncodeDirectTraces | EncodeReferenceTraces => {
                let data = fixtures::traces(fixtures::DEFAULT_SPANS);
                let mut encoder = direct::Encoder::new();
                let len = encoder.traces(&data).len();
                State::Traces { data, out: warm_buffer(len), encoder }
            }
            EncodeDirectTracesPooled => {
                let data = fixtures::traces(fixtures::DEFAULT_SPANS);
                let pool = BufferPool::default();
                direct::encode_traces(&data, &mut pool.get());
                State::TracesPooled { data, pool }
            }
            CloneSpans | CloneSpans2048 => State::Spans { spans: fixtures::spans(self.batch_spans()) },
            EncodeDirectTracesFresh => State::TracesFresh { data: fixtures::traces(fixtures::DEFAULT_SPANS) },
            ScratchArenaTraces | ScratchHeapTraces => {
                let data = fixtures::traces(fixtures::DEFAULT_SPANS);
                let arena = (self == ScratchArenaTraces).then(|| {
                    let mut arena = BatchArena::new(SCRATCH_ARENA_RETAINED);
                    // Warm-up: the arena grows its chunk to the batch once.
                    scratch_index_arena(&data, &mut arena);
                    arena
                });
                State::Scratch { data, arena }
            }
            EncodeZstdPooled | EncodeZstdFresh => {
                let data = fixtures::traces(fixtures::DEFAULT_SPANS);
                let pool = (self == EncodeZstdPooled).then(|| (BufferPool::default(), direct::Encoder::new()));
                let mut state = State::EncodeCompressPool { data, pool, compressor: Compressor::new() };
                // Warm-up: the encoder's scratch, the pooled body and the zstd context grow once.
                run_encode_compress_pool(&mut state);
                state
            }
            PipelineBatch | PipelineBatchZstd | PipelineBatchZstdNoPool | PipelineBatchZstd2048 => {
                // A paused clock: the batcher's timestamps and timers read tokio's
                // frozen clock, never the OS's, so every run counts the same
                // instructions. Nothing here waits on a timer (see PIPELINE_MAX_DELAY).
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .start_paused(true)
                    .build()
                    .expect("a current-thread runtime builds");
                let config = self.pipeline_config();
                let sink = Arc::new(DigestSink::default());
                let pipeline = {
                    let _entered = runtime.enter();
                    Pipeline::start(config, fixtures::resource(), fixtures::scope(), sink.clone())
                        .expect("the lab's pipeline settings are valid")
                };
                let mut state = State::Pipeline { runtime, pipeline, spans: fixtures::spans(self.batch_spans()), sink };
                // Warm-up: the pool, the encoder's scratch and the codec context grow once.
                run_pipeline_batch(&mut state);
                state
            }
            EncodeDirectMetrics | EncodeReferenceMetrics => {
                let data = fixtures::metrics(fixtures::DEFAULT_POINTS);
                let mut encoder = direct::Encoder::new();
                let len = encoder.metrics(&data).len();
                State::Metrics { data, out: warm_buffer(len), encoder }
            }
            EncodeDirectLogs | EncodeReferenceLogs => {
                let data = fixtures::logs(fixtures::DEFAULT_LOGS);
                let mut encoder = direct::Encoder::new();
                let len = encoder.logs(&data).len();
                State::Logs { data, out: warm_buffer(len), encoder }
            }
            JsonWriteTraces | JsonWriteMetrics | JsonWriteLogs => {
                let batch = json_batch(self);
                let mut out = Vec::new();
                batch.write_json(&mut out);
                State::JsonWrite { batch, out }
            }
            JsonParseTraces | JsonParseDropTraces | JsonParseSerdeTraces | JsonParseMetrics | JsonParseLogs => {
                let mut pristine = Vec::new();
                json_batch(self).write_json(&mut pristine);
                State::JsonParse { work: pristine.clone(), pristine, dirty: false, parsed: None }
            }
            DecodeReferenceTraces => {
                let mut input = Vec::new();
                direct::encode_traces(&fixtures::traces(fixtures::DEFAULT_SPANS), &mut input);
                State::Bytes { input }
            }
            DecodeDirectTraces => {
                let mut input = Vec::new();
                direct::encode_traces(&fixtures::traces(fixtures::DEFAULT_SPANS), &mut input);
                let input = bytes::Bytes::from(input);
                // The first clone of a Bytes made from a Vec allocates its
                // shared header: done here, so that every run allocates alike
                // and the conversion stays out of the measured part.
                drop(input.clone());
                State::Body { input }
            }
            DecodeViewTraces | DecodeViewMetrics | DecodeViewLogs => {
                let mut input = Vec::new();
                // The encoders return the length they wrote: not needed here.
                let _ = match self {
                    DecodeViewMetrics => {
                        direct::encode_metrics(&fixtures::metrics(fixtures::DEFAULT_POINTS), &mut input)
                    }
                    DecodeViewLogs => direct::encode_logs(&fixtures::logs(fixtures::DEFAULT_LOGS), &mut input),
                    _ => direct::encode_traces(&fixtures::traces(fixtures::DEFAULT_SPANS), &mut input),
                };
                State::View { input }
            }
            CompressZstd1 | CompressZstd3 | CompressZstd9 | CompressGzip1 | CompressGzip6 => {
                let (codec, input) = (codec_of(self), trace_batch_bytes());
                let mut compressor = Compressor::new();
                let mut out = warm_buffer(codec.max_compressed_len(input.len()));
                compressor.compress(codec, &input, &mut out).expect("fixture compresses");
                State::Compress { codec, input, out, compressor }
            }
            DecompressZstd | DecompressGzip => {
                let codec = codec_of(self);
                let raw = trace_batch_bytes();
                let mut input = Vec::new();
                Compressor::new().compress(codec, &raw, &mut input).expect("fixture compresses");
                let mut decompressor = Decompressor::new();
                let mut out = warm_buffer(raw.len() + 1);
                decompressor.decompress(codec, &input, &mut out, MAX_DECOMPRESSED).expect("fixture decompresses");
                State::Decompress { codec, input, out, decompressor }
            }
            EncodeZstd1Traces => {
                let data = fixtures::traces(fixtures::DEFAULT_SPANS);
                let mut encoder = direct::Encoder::new();
                let mut compressor = Compressor::new();
                let mut out = Vec::new();
                compressor.compress(codec_of(self), encoder.traces(&data), &mut out).expect("fixture compresses");
                State::EncodeCompress { data, encoder, out, compressor }
            }
            HexEncodeSimd | HexEncodeScalar => State::HexEncode { ids: hex_ids(), out: vec![0; HEX_IDS * 32] },
            HexDecodeSimd | HexDecodeScalar => {
                let Prepared { state: State::HexEncode { ids, mut out }, .. } = HexEncodeScalar.prepare() else {
                    unreachable!("HexEncodeScalar prepares HexEncode")
                };
                for (id, dst) in ids.iter().zip(out.chunks_exact_mut(32)) {
                    simd::hex_encode_scalar(id, dst);
                }
                State::HexDecode { hex: out }
            }
            Utf8Simd | Utf8Scalar => {
                // Realistic mix: mostly ASCII with some 2-, 3- and 4-byte sequences.
                let unit = "GET /api/users/42 ok; Grüße aus Köln; 東京の天気; 🚀 shipped\n";
                let input = unit.repeat(UTF8_BYTES / unit.len() + 1).into_bytes()[..UTF8_BYTES].to_vec();
                // Cut on a char boundary so the input is valid UTF-8.
                let end = (0..=input.len()).rev().find(|&i| std::str::from_utf8(&input[..i]).is_ok()).unwrap_or(0);
                State::Bytes { input: input[..end].to_vec() }
            }
        };
        Prepared { workload: self, state }
    }
}

impl Prepared {
    /// The workload this was prepared for.
    pub fn workload(&self) -> Workload {
        self.workload
    }

    /// The measured part. Leaves the state ready for another run.
    ///
    /// Never inlined: the benches' DHAT counts the blocks allocated under this
    /// frame (`crate::bench_config::DHAT_ENTRY_POINT`), and under fat LTO an
    /// inlined call would leave no frame to match. The `black_box` keeps the
    /// last call of an arm out of tail position: a tail call replaces this
    /// frame with the callee's, and the pipeline arms' blocks were counted
    /// under no `run` at all.
    #[inline(never)]
    pub fn run(&mut self) -> Outcome {
        std::hint::black_box(self.run_arms())
    }

    /// The body of [`Prepared::run`], one arm per kind of state.
    #[inline(always)]
    fn run_arms(&mut self) -> Outcome {
        use Workload::*;
        match (&mut self.state, self.workload) {
            (State::Traces { data, out, encoder }, w) => {
                if w == EncodeDirectTraces {
                    encoded(data.span_count(), encoder.traces(data))
                } else {
                    out.clear();
                    reference::encode_traces(data, out);
                    encoded(data.span_count(), out)
                }
            }
            (State::TracesPooled { data, pool }, _) => {
                let mut buf = pool.get();
                direct::encode_traces(data, &mut buf);
                encoded(data.span_count(), &buf)
            }
            (State::Metrics { data, out, encoder }, w) => {
                if w == EncodeDirectMetrics {
                    encoded(data.point_count(), encoder.metrics(data))
                } else {
                    out.clear();
                    reference::encode_metrics(data, out);
                    encoded(data.point_count(), out)
                }
            }
            (State::Logs { data, out, encoder }, w) => {
                if w == EncodeDirectLogs {
                    encoded(data.record_count(), encoder.logs(data))
                } else {
                    out.clear();
                    reference::encode_logs(data, out);
                    encoded(data.record_count(), out)
                }
            }
            (State::JsonWrite { batch, out }, _) => {
                out.clear();
                batch.write_json(out);
                encoded(batch.items(), out)
            }
            (State::JsonParse { pristine, work, dirty, parsed }, w) => {
                if *dirty {
                    work.copy_from_slice(pristine);
                }
                *dirty = true;
                let batch = match w {
                    JsonParseMetrics => Batch::Metrics(json::parse_metrics(work).expect("fixture parses")),
                    JsonParseLogs => Batch::Logs(json::parse_logs(work).expect("fixture parses")),
                    JsonParseSerdeTraces => Batch::Traces(json::parse_traces_serde(work).expect("fixture parses")),
                    _ => Batch::Traces(json::parse_traces(work).expect("fixture parses")),
                };
                let outcome =
                    Outcome { items: batch.items() as u64, bytes: work.len() as u64, checksum: batch.checksum() };
                if w == JsonParseDropTraces {
                    drop(batch);
                } else {
                    // Kept until the next run, so that the measured region excludes the drop.
                    *parsed = Some(batch);
                }
                outcome
            }
            (State::Bytes { input }, DecodeReferenceTraces) => {
                decoded(&reference::decode_traces(input).expect("the fixture decodes"), input.len())
            }
            (State::Body { input }, _) => {
                decoded(&decode::decode_traces(input).expect("the fixture decodes"), input.len())
            }
            (State::View { input }, w) => {
                let (items, checksum) = match w {
                    DecodeViewMetrics => walk::view_metrics(input),
                    DecodeViewLogs => walk::view_logs(input),
                    _ => walk::view_traces(input),
                };
                Outcome { items: items as u64, bytes: input.len() as u64, checksum }
            }
            (State::Bytes { input }, w) => {
                let ok = if w == Utf8Simd { simd::validate_utf8(input) } else { simd::validate_utf8_scalar(input) };
                Outcome { items: input.len() as u64, bytes: input.len() as u64, checksum: u64::from(ok) }
            }
            (State::Compress { codec, input, out, compressor }, _) => {
                out.clear();
                compressor.compress(*codec, input, out).expect("fixture compresses");
                encoded(input.len(), out)
            }
            (State::Decompress { codec, input, out, decompressor }, _) => {
                out.clear();
                decompressor.decompress(*codec, input, out, MAX_DECOMPRESSED).expect("fixture decompresses");
                encoded(out.len(), out)
            }
            (State::EncodeCompress { data, encoder, out, compressor }, w) => {
                out.clear();
                compressor.compress(codec_of(w), encoder.traces(data), out).expect("fixture compresses");
                encoded(data.span_count(), out)
            }
            (State::HexEncode { ids, out }, w) => {
                for (id, dst) in ids.iter().zip(out.chunks_exact_mut(32)) {
                    if w == HexEncodeSimd {
                        simd::hex_encode(id, dst);
                    } else {
                        simd::hex_encode_scalar(id, dst);
                    }
                }
                encoded(ids.len(), out)
            }
            (State::Spans { spans }, _) => {
                let clones: Vec<Span> = spans.clone();
                let checksum = clones.iter().fold(0u64, |h, s| h.rotate_left(5) ^ u64::from_le_bytes(s.span_id.0));
                // Bytes: the clones' inline size (their heap parts are not summed).
                let bytes = (clones.len() * std::mem::size_of::<Span>()) as u64;
                Outcome { items: clones.len() as u64, bytes, checksum }
            }
            (State::TracesFresh { data }, _) => {
                let mut out = Vec::new();
                direct::encode_traces(data, &mut out);
                encoded(data.span_count(), &out)
            }
            (State::Scratch { data, arena }, _) => {
                let checksum = match arena {
                    Some(arena) => scratch_index_arena(data, arena),
                    None => scratch_index_heap(data),
                };
                let items = data.span_count() as u64;
                Outcome { items, bytes: items * std::mem::size_of::<(u128, u32)>() as u64, checksum }
            }
            (state @ State::Pipeline { .. }, _) => run_pipeline_batch(state),
            (state @ State::EncodeCompressPool { .. }, _) => run_encode_compress_pool(state),
            (State::HexDecode { hex }, w) => {
                let mut checksum = 0u64;
                for chunk in hex.chunks_exact(32) {
                    let id = if w == HexDecodeSimd {
                        simd::hex_decode::<16>(chunk)
                    } else {
                        simd::hex_decode_scalar::<16>(chunk)
                    };
                    let id = black_box(id).expect("fixture hex is valid");
                    checksum = checksum.rotate_left(3) ^ u64::from_le_bytes(id[..8].try_into().expect("8 bytes"));
                }
                Outcome { items: (hex.len() / 32) as u64, bytes: hex.len() as u64, checksum }
            }
        }
    }
}

/// Chunk bytes the scratch arena keeps across batches: far above the 512-span
/// index (16 bytes a span), so the warm arena never regrows.
const SCRATCH_ARENA_RETAINED: usize = 1 << 20;

/// A batch's scratch: (trace id, span index) sorted by trace id, as an
/// exporter grouping spans per trace would build it. Returns a digest of the order.
fn scratch_digest(index: &mut [(u128, u32)]) -> u64 {
    index.sort_unstable();
    index.iter().fold(index.len() as u64, |h, &(t, i)| h.rotate_left(7) ^ (t as u64) ^ u64::from(i))
}

/// The scratch's entries, whatever memory holds them.
fn scratch_entries(data: &TracesData) -> impl Iterator<Item = (u128, u32)> + '_ {
    data.spans().enumerate().map(|(i, s)| (u128::from_le_bytes(s.trace_id.0), i as u32))
}

fn scratch_index_arena(data: &TracesData, arena: &mut BatchArena) -> u64 {
    arena.with(|bump| {
        let mut index = bumpalo::collections::Vec::with_capacity_in(data.span_count(), bump);
        index.extend(scratch_entries(data));
        scratch_digest(&mut index)
    })
}

fn scratch_index_heap(data: &TracesData) -> u64 {
    let mut index: Vec<(u128, u32)> = Vec::with_capacity(data.span_count());
    index.extend(scratch_entries(data));
    scratch_digest(&mut index)
}

/// Encode + zstd 1 with the pool on (reused encoder, pooled body) or off.
fn run_encode_compress_pool(state: &mut State) -> Outcome {
    let State::EncodeCompressPool { data, pool, compressor } = state else {
        unreachable!("run_encode_compress_pool takes an encode-compress-pool state")
    };
    let codec = Compression::ZSTD_DEFAULT;
    match pool {
        Some((pool, encoder)) => {
            let mut body = pool.get();
            compressor.compress(codec, encoder.traces(data), &mut body).expect("fixture compresses");
            encoded(data.span_count(), &body)
        }
        None => {
            let mut encoder = direct::Encoder::new();
            let mut body = Vec::new();
            compressor.compress(codec, encoder.traces(data), &mut body).expect("fixture compresses");
            encoded(data.span_count(), &body)
        }
    }
}

/// One batch through the pipeline: offer clones of the fixture spans, flush,
/// and read what the sink saw.
fn run_pipeline_batch(state: &mut State) -> Outcome {
    let State::Pipeline { runtime, pipeline, spans, sink } = state else {
        unreachable!("run_pipeline_batch takes a pipeline state")
    };
    let before = pipeline.stats();
    let handle = pipeline.handle();
    runtime.block_on(async {
        for span in spans.iter() {
            // The queue holds 2048 items, four times the batch: never full here.
            handle.try_span(span.clone()).expect("the queue has room for one batch");
        }
        pipeline.flush(PIPELINE_FLUSH_TIMEOUT).await.expect("the discarding sink never stalls");
    });
    let after = pipeline.stats();
    let exported = after.exported - before.exported;
    assert_eq!(after.dropped_total(), before.dropped_total(), "the pipeline workload dropped items");
    Outcome {
        items: exported,
        bytes: sink.bytes.swap(0, Ordering::Relaxed),
        checksum: sink.digest.swap(0, Ordering::Relaxed) ^ exported,
    }
}

/// Touches every decoded span, so that the decode cannot be optimised away;
/// one definition, so that both decoders' checksums can be compared.
fn decoded(d: &TracesData, bytes: usize) -> Outcome {
    let mut checksum = 0u64;
    for s in d.spans() {
        checksum = checksum.rotate_left(5) ^ u64::from_le_bytes(s.span_id.0) ^ s.attributes.len() as u64;
    }
    Outcome { items: d.span_count() as u64, bytes: bytes as u64, checksum }
}

fn encoded(items: usize, out: &[u8]) -> Outcome {
    Outcome { items: items as u64, bytes: out.len() as u64, checksum: fingerprint(out) }
}
