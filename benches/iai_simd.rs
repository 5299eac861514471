//! Instruction counts of the SIMD paths beside their scalar references.

use std::hint::black_box;

use iai_callgrind::{library_benchmark, library_benchmark_group, main};
use otlp_lab::workloads::{Prepared, Workload};

mod common;

#[library_benchmark]
#[bench::hex_encode_ids_simd_4k(Workload::HexEncodeSimd.prepare())]
#[bench::hex_encode_ids_scalar_4k(Workload::HexEncodeScalar.prepare())]
#[bench::hex_decode_ids_simd_4k(Workload::HexDecodeSimd.prepare())]
#[bench::hex_decode_ids_scalar_4k(Workload::HexDecodeScalar.prepare())]
#[bench::utf8_validate_simd_256k(Workload::Utf8Simd.prepare())]
#[bench::utf8_validate_scalar_256k(Workload::Utf8Scalar.prepare())]
fn simd(mut p: Prepared) -> Prepared {
    black_box(p.run());
    p
}

library_benchmark_group!(name = paths; benchmarks = simd);
main!(config = common::config(); library_benchmark_groups = paths);
