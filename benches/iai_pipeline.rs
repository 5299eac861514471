//! Instruction counts of one batch through the export pipeline (queue,
//! batcher, direct encode, optional zstd, pooled body) into a discarding sink.
//! The pipeline and its current-thread runtime are started outside the
//! measured region and warmed by one batch.

use std::hint::black_box;

use iai_callgrind::{library_benchmark, library_benchmark_group, main};
use otlp_lab::workloads::{Prepared, Workload};

mod common;

#[library_benchmark]
#[bench::pipeline_batch_discard_512(Workload::PipelineBatch.prepare())]
#[bench::pipeline_batch_zstd1_discard_512(Workload::PipelineBatchZstd.prepare())]
fn pipeline(mut p: Prepared) -> Prepared {
    black_box(p.run());
    p
}

library_benchmark_group!(name = batches; benchmarks = pipeline);
main!(config = common::config(); library_benchmark_groups = batches);
