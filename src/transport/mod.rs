//! Transports: how an encoded batch reaches a receiver, and the resilience
//! around each attempt (retry with backoff, circuit breaker, timeout).
//!
//! Owns: the retry decision ([`TransportError::retry`], a pure function),
//! backoff, the breaker, and the OTLP/HTTP client ([`http::HttpClient`]).
//! Builds on [`crate::pipeline`]: a transport is an
//! [`crate::pipeline::ExportSink`]. Not built yet: OTLP/gRPC, TLS, the
//! `OTEL_EXPORTER_OTLP_*` environment (the pipeline issue).

mod breaker;
mod error;
pub mod http;
mod resilient;
mod retry;

pub use breaker::{Breaker, BreakerConfig, BreakerState};
pub use error::{Retry, TransportError};
pub use resilient::{Accepted, Attempt, PartialMessage, Resilient, ResilientStats};
pub use retry::{Backoff, ConfigError, RetryConfig};
