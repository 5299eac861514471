//! The lab's integration tests, one binary with a module per concern. The
//! library's own are in `crates/otlp-pipeline/tests/`.

mod attack;
mod exporter_run;
mod flame;
mod gate;
mod golden;
mod heap;
mod icount;
mod load;
mod report;
mod scenarios;
mod workloads;
