//! Instruction counts of the serialization paths (direct vs reference protobuf,
//! decode). Bench ids are the workload names; each bench's argument is built by
//! `Workload::prepare` outside the measured region, and the state is returned so
//! that dropping it is not measured either.

use std::hint::black_box;

use iai_callgrind::{library_benchmark, library_benchmark_group, main};
use otlp_lab::workloads::{Prepared, Workload};

mod common;

#[library_benchmark]
#[bench::encode_direct_traces_512(Workload::EncodeDirectTraces.prepare())]
#[bench::encode_reference_traces_512(Workload::EncodeReferenceTraces.prepare())]
#[bench::encode_direct_metrics_100(Workload::EncodeDirectMetrics.prepare())]
#[bench::encode_reference_metrics_100(Workload::EncodeReferenceMetrics.prepare())]
#[bench::encode_direct_logs_512(Workload::EncodeDirectLogs.prepare())]
#[bench::encode_reference_logs_512(Workload::EncodeReferenceLogs.prepare())]
#[bench::json_write_traces_512(Workload::JsonWriteTraces.prepare())]
#[bench::json_write_metrics_100(Workload::JsonWriteMetrics.prepare())]
#[bench::json_write_logs_512(Workload::JsonWriteLogs.prepare())]
#[bench::json_parse_traces_512(Workload::JsonParseTraces.prepare())]
#[bench::json_parse_drop_traces_512(Workload::JsonParseDropTraces.prepare())]
#[bench::json_parse_serde_traces_512(Workload::JsonParseSerdeTraces.prepare())]
#[bench::json_parse_metrics_100(Workload::JsonParseMetrics.prepare())]
#[bench::json_parse_logs_512(Workload::JsonParseLogs.prepare())]
#[bench::decode_reference_traces_512(Workload::DecodeReferenceTraces.prepare())]
#[bench::decode_direct_traces_512(Workload::DecodeDirectTraces.prepare())]
#[bench::decode_view_traces_512(Workload::DecodeViewTraces.prepare())]
#[bench::decode_view_metrics_100(Workload::DecodeViewMetrics.prepare())]
#[bench::decode_view_logs_512(Workload::DecodeViewLogs.prepare())]
fn serialization(mut p: Prepared) -> Prepared {
    black_box(p.run());
    p
}

library_benchmark_group!(name = protobuf; benchmarks = serialization);
main!(config = common::config(); library_benchmark_groups = protobuf);
