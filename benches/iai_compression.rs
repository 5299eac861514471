//! Instruction counts of compression and decompression (reused contexts, warm
//! output buffers), and of the exporter's encode + compress path.

use std::hint::black_box;

use iai_callgrind::{library_benchmark, library_benchmark_group, main};
use otlp_lab::workloads::{Prepared, Workload};

mod common;

#[library_benchmark]
#[bench::compress_zstd1_traces_512(Workload::CompressZstd1.prepare())]
#[bench::compress_zstd3_traces_512(Workload::CompressZstd3.prepare())]
#[bench::compress_zstd9_traces_512(Workload::CompressZstd9.prepare())]
#[bench::compress_gzip1_traces_512(Workload::CompressGzip1.prepare())]
#[bench::compress_gzip6_traces_512(Workload::CompressGzip6.prepare())]
#[bench::decompress_zstd1_traces_512(Workload::DecompressZstd.prepare())]
#[bench::decompress_gzip6_traces_512(Workload::DecompressGzip.prepare())]
#[bench::encode_zstd1_traces_512(Workload::EncodeZstd1Traces.prepare())]
fn compression(mut p: Prepared) -> Prepared {
    black_box(p.run());
    p
}

library_benchmark_group!(name = codecs; benchmarks = compression);
main!(config = common::config(); library_benchmark_groups = codecs);
