//! Integration tests, one binary with a module per concern.

mod exporter_run;
mod flame;
mod gate;
mod golden;
mod heap;
mod load;
mod report;
mod scenarios;
mod workloads;
