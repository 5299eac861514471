//! The library's integration tests, one binary with a module per concern.

mod faults;
mod fidelity;
mod grpc;
mod http;
mod json;
mod layer;
mod otel;
mod pipeline;
mod proto;
mod service;
mod tls;
mod util;
