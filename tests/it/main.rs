//! Integration tests, one binary with a module per concern.

mod proto;
mod workloads;
mod util;
