//! Allocation budgets: heap blocks a workload may allocate per run once warm.
//! One table, asserted by `tests/alloc_budget.rs` under dhat and reported by
//! the lab. A budget of zero is the design target for every steady-state hot
//! path: buffers, encoders and codec contexts are reused, never rebuilt.

use crate::workloads::Workload;

/// A workload's allowance of heap blocks per run after its warm-up run.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// The workload.
    pub workload: Workload,
    /// Heap blocks allowed per run in steady state.
    pub blocks_per_run: u64,
    /// Where the number comes from.
    pub why: &'static str,
}

/// Blocks the pipeline workloads' producer allocates to clone the 512
/// fixture spans: each clone copies three vectors (attributes, events, the
/// event's attributes); strings are shared, not copied.
const PIPELINE_CLONE_BLOCKS: u64 = 3 * 512;

/// The same for the 2048-span twins.
const PIPELINE_CLONE_BLOCKS_2048: u64 = 3 * 2048;

/// The pipeline's own blocks per batch in steady state, whatever the batch
/// size (measured at 512 and 2048 spans, `otlp-lab pool`; sites from `otlp-lab
/// heap pipeline_batch_zstd1_discard_2048`): the export task's cell and its
/// JoinSet entry, the batch's span Vec (the batcher swaps in a fresh one of the
/// batch's capacity), the TracesData's resource and scope vectors, the
/// Resource clone, the caller's `flush` oneshot, and the owner that lets the
/// pooled body travel as a `Bytes` (which saves copying the body for the
/// transport). Nothing per item: the queue is a ring allocated at start
/// (tokio's mpsc, which it replaced, allocated a block of 32 slots as the
/// queue moved on); the body pool, encoder scratch and zstd context are warm.
const PIPELINE_OWN_BLOCKS: u64 = 8;

/// Blocks the receiver's decode of one 512-span protobuf request allocates
/// today (see its budget's `why`).
const RECEIVER_DECODE_BLOCKS: u64 = 18_566;

/// Blocks the direct decoder allocates for one 512-span request (measured
/// with this test): per span its attribute vector, its event vector and the
/// event's attributes, each allocated once at the size a pre-count of the
/// message's fields gives; plus the resource's attributes and the scope's
/// and the request's vectors. Nothing is copied: strings and bytes share the
/// request body.
const DIRECT_DECODE_BLOCKS: u64 = 1_540;

/// Every budget the lab holds the pipeline to.
pub const BUDGETS: &[Budget] = &[
    Budget {
        workload: Workload::EncodeDirectTraces,
        blocks_per_run: 0,
        why: "the Encoder's scratch has grown to the batch during warm-up; writes are in place",
    },
    Budget {
        workload: Workload::EncodeDirectTracesPooled,
        blocks_per_run: 0,
        why: "the pooled buffer comes back with its capacity; the pool's free list never regrows",
    },
    Budget {
        workload: Workload::EncodeDirectMetrics,
        blocks_per_run: 0,
        why: "same writer as traces; histogram buckets are written from the model's slices",
    },
    Budget { workload: Workload::EncodeDirectLogs, blocks_per_run: 0, why: "same writer as traces" },
    Budget {
        workload: Workload::CompressZstd1,
        blocks_per_run: 0,
        why: "the zstd context is kept per level and reset, the output buffer has the bound's capacity",
    },
    Budget { workload: Workload::CompressZstd3, blocks_per_run: 0, why: "as zstd level 1" },
    Budget { workload: Workload::CompressGzip6, blocks_per_run: 0, why: "the deflate context is reset, not rebuilt" },
    Budget {
        workload: Workload::DecompressZstd,
        blocks_per_run: 0,
        why: "the decompression context is reset; the output buffer kept its capacity",
    },
    Budget { workload: Workload::DecompressGzip, blocks_per_run: 0, why: "as zstd" },
    Budget {
        workload: Workload::EncodeZstd1Traces,
        blocks_per_run: 0,
        why: "the exporter's CPU path: reused Encoder plus reused zstd context",
    },
    Budget {
        workload: Workload::ScratchArenaTraces,
        blocks_per_run: 0,
        why: "the arena keeps its chunk across resets (the index is 8 KiB, the cap 1 MiB)",
    },
    Budget {
        workload: Workload::ScratchHeapTraces,
        blocks_per_run: 1,
        why: "the no-arena twin: one fresh Vec for the batch's index, the cost the arena removes",
    },
    Budget {
        workload: Workload::CloneSpans,
        blocks_per_run: PIPELINE_CLONE_BLOCKS + 1,
        why: "the producer's share, alone: three vectors a span plus the Vec holding the clones",
    },
    Budget {
        workload: Workload::PipelineBatch,
        blocks_per_run: PIPELINE_CLONE_BLOCKS + PIPELINE_OWN_BLOCKS,
        why: "the producer's clones (3 blocks a span: attributes, events, the event's attributes) \
              plus the pipeline's own per batch (PIPELINE_OWN_BLOCKS), none per span",
    },
    Budget {
        workload: Workload::PipelineBatchZstd,
        blocks_per_run: PIPELINE_CLONE_BLOCKS + PIPELINE_OWN_BLOCKS,
        why: "as pipeline_batch_discard_512: the zstd context and the pooled body are reused",
    },
    Budget {
        workload: Workload::CloneSpans2048,
        blocks_per_run: PIPELINE_CLONE_BLOCKS_2048 + 1,
        why: "as clone_spans_512, for 2048 spans",
    },
    Budget {
        workload: Workload::PipelineBatchZstd2048,
        blocks_per_run: PIPELINE_CLONE_BLOCKS_2048 + PIPELINE_OWN_BLOCKS,
        why: "four times the spans, the same pipeline blocks per batch: nothing grows per span",
    },
    Budget {
        workload: Workload::EncodeZstdPooled,
        blocks_per_run: 0,
        why: "pool on: the Encoder's scratch, the pooled body and the zstd context are all warm",
    },
    Budget {
        workload: Workload::EncodeZstdFresh,
        blocks_per_run: 10,
        why: "pool off: a fresh Encoder's scratch and a fresh body, each grown by doubling to the \
              batch (measured with this test); the cost the pool removes",
    },
    Budget {
        workload: Workload::PipelineBatchZstdNoPool,
        blocks_per_run: PIPELINE_CLONE_BLOCKS + PIPELINE_OWN_BLOCKS + 1,
        why: "as pipeline_batch_zstd1_discard_512 plus the one fresh body a batch gets with the pool off",
    },
    Budget {
        workload: Workload::DecodeReferenceTraces,
        blocks_per_run: RECEIVER_DECODE_BLOCKS,
        why: "the prost path's decode of one 512-span request: prost's structs plus the \
              conversion to the model, about 36 blocks a span (measured with this test); the \
              receiver now uses decode_direct_traces_512",
    },
    Budget {
        workload: Workload::DecodeDirectTraces,
        blocks_per_run: DIRECT_DECODE_BLOCKS,
        why: "the receiver's direct decode of one 512-span request: the model's own vectors \
              (see DIRECT_DECODE_BLOCKS); strings are slices of the body, no copies",
    },
    Budget {
        workload: Workload::DecodeViewTraces,
        blocks_per_run: 0,
        why: "the zero-copy view validates and walks the 512-span request in place: no model, \
              strings borrowed from the body",
    },
    Budget {
        workload: Workload::DecodeViewMetrics,
        blocks_per_run: 0,
        why: "the zero-copy view of the 100-point metrics request, validated and walked in place",
    },
    Budget {
        workload: Workload::DecodeViewLogs,
        blocks_per_run: 0,
        why: "the zero-copy view of the 512-record logs request, validated and walked in place",
    },
    Budget { workload: Workload::HexEncodeSimd, blocks_per_run: 0, why: "writes into a caller's buffer" },
    Budget { workload: Workload::HexDecodeSimd, blocks_per_run: 0, why: "decodes into arrays on the stack" },
];

/// Benches of `results` whose workload's budget is above zero but whose
/// per-run block count is zero. DHAT counts only under the frame
/// `crate::bench_config::DHAT_ENTRY_POINT`; when that frame goes missing
/// from the stacks (renamed, inlined, left by a tail call) every count falls
/// to zero, which the gate, flagging only increases, would take for an
/// improvement. A workload known to allocate and counted at zero says so.
pub fn blind_allocation_counts(results: &crate::baseline::Results) -> Vec<&'static str> {
    BUDGETS
        .iter()
        .filter(|b| b.blocks_per_run > 0)
        .filter(|b| results.get(b.workload.name()).and_then(|m| m.allocations) == Some(0))
        .map(|b| b.workload.name())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::{Metrics, Results};

    fn with_blocks(bench: &str, blocks: u64) -> Results {
        let m = Metrics { instructions: 1, cache: None, allocations: Some(blocks), allocated_bytes: None };
        [(bench.to_owned(), m)].into_iter().collect()
    }

    #[test]
    fn a_budgeted_workload_counted_at_zero_is_named() {
        assert_eq!(
            blind_allocation_counts(&with_blocks("pipeline_batch_discard_512", 0)),
            ["pipeline_batch_discard_512"]
        );
        assert!(blind_allocation_counts(&with_blocks("pipeline_batch_discard_512", 1544)).is_empty());
        // A zero budget counted at zero is the design target, not blindness.
        assert!(blind_allocation_counts(&with_blocks("encode_direct_traces_512", 0)).is_empty());
    }
}
