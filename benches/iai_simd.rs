//! Instruction counts of the SIMD paths beside their scalar references.

use std::hint::black_box;

use iai_callgrind::{Dhat, LibraryBenchmarkConfig, library_benchmark, library_benchmark_group, main};
use otlp_lab::workloads::{Prepared, Workload};

// DHAT runs beside callgrind on the paths budgeted at zero allocations
// (src/budgets.rs), so that the gate sees an allocation added there.
#[library_benchmark]
#[bench::hex_encode_ids_simd_4k(args = (Workload::HexEncodeSimd.prepare(),), config = LibraryBenchmarkConfig::default().tool(Dhat::default()))]
#[bench::hex_encode_ids_scalar_4k(Workload::HexEncodeScalar.prepare())]
#[bench::hex_decode_ids_simd_4k(args = (Workload::HexDecodeSimd.prepare(),), config = LibraryBenchmarkConfig::default().tool(Dhat::default()))]
#[bench::hex_decode_ids_scalar_4k(Workload::HexDecodeScalar.prepare())]
#[bench::utf8_validate_simd_256k(Workload::Utf8Simd.prepare())]
#[bench::utf8_validate_scalar_256k(Workload::Utf8Scalar.prepare())]
fn simd(mut p: Prepared) -> Prepared {
    black_box(p.run());
    p
}

library_benchmark_group!(name = paths; benchmarks = simd);
main!(library_benchmark_groups = paths);
