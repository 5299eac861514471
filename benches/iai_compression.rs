//! Instruction counts of compression and decompression (reused contexts, warm
//! output buffers), and of the exporter's encode + compress path.

use std::hint::black_box;

use iai_callgrind::{Dhat, LibraryBenchmarkConfig, library_benchmark, library_benchmark_group, main};
use otlp_lab::workloads::{Prepared, Workload};

// DHAT runs beside callgrind on the paths budgeted at zero allocations
// (src/budgets.rs), so that the gate sees an allocation added there.
#[library_benchmark]
#[bench::compress_zstd1_traces_512(args = (Workload::CompressZstd1.prepare(),), config = LibraryBenchmarkConfig::default().tool(Dhat::default()))]
#[bench::compress_zstd3_traces_512(args = (Workload::CompressZstd3.prepare(),), config = LibraryBenchmarkConfig::default().tool(Dhat::default()))]
#[bench::compress_zstd9_traces_512(Workload::CompressZstd9.prepare())]
#[bench::compress_gzip1_traces_512(Workload::CompressGzip1.prepare())]
#[bench::compress_gzip6_traces_512(args = (Workload::CompressGzip6.prepare(),), config = LibraryBenchmarkConfig::default().tool(Dhat::default()))]
#[bench::decompress_zstd1_traces_512(args = (Workload::DecompressZstd.prepare(),), config = LibraryBenchmarkConfig::default().tool(Dhat::default()))]
#[bench::decompress_gzip6_traces_512(args = (Workload::DecompressGzip.prepare(),), config = LibraryBenchmarkConfig::default().tool(Dhat::default()))]
#[bench::encode_zstd1_traces_512(args = (Workload::EncodeZstd1Traces.prepare(),), config = LibraryBenchmarkConfig::default().tool(Dhat::default()))]
fn compression(mut p: Prepared) -> Prepared {
    black_box(p.run());
    p
}

library_benchmark_group!(name = codecs; benchmarks = compression);
main!(library_benchmark_groups = codecs);
