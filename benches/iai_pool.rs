//! Instruction counts (and, with DHAT beside callgrind, heap blocks) of the
//! buffer pool and the batch arena, each beside its fresh-heap twin.

use std::hint::black_box;

use iai_callgrind::{library_benchmark, library_benchmark_group, main};
use otlp_lab::workloads::{Prepared, Workload};

mod common;

#[library_benchmark]
#[bench::encode_direct_traces_pooled_512(Workload::EncodeDirectTracesPooled.prepare())]
#[bench::encode_direct_traces_fresh_512(Workload::EncodeDirectTracesFresh.prepare())]
#[bench::scratch_arena_traces_512(Workload::ScratchArenaTraces.prepare())]
#[bench::scratch_heap_traces_512(Workload::ScratchHeapTraces.prepare())]
fn pool(mut p: Prepared) -> Prepared {
    black_box(p.run());
    p
}

library_benchmark_group!(name = buffers; benchmarks = pool);
main!(config = common::config(); library_benchmark_groups = buffers);
