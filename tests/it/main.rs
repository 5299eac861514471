//! Integration tests, one binary with a module per concern.

mod proto;
mod util;
