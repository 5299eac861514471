//! Integration tests, one binary with a module per concern.

mod exporter_run;
mod faults;
mod gate;
mod grpc;
mod heap;
mod http;
mod json;
mod pipeline;
mod proto;
mod scenarios;
mod tls;
mod util;
mod workloads;
