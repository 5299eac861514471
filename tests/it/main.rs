//! Integration tests, one binary with a module per concern.

mod exporter_run;
mod faults;
mod flame;
mod gate;
mod golden;
mod grpc;
mod heap;
mod http;
mod json;
mod load;
mod pipeline;
mod proto;
mod report;
mod scenarios;
mod tls;
mod util;
mod workloads;
