//! Transports: how an encoded batch reaches a receiver, and the resilience
//! around each attempt (retry with backoff, circuit breaker, timeout).
//!
//! Owns: the retry decision ([`TransportError::retry`], a pure function),
//! backoff, the breaker, the OTLP/HTTP client ([`http::HttpClient`]) and the
//! OTLP/gRPC client ([`grpc::GrpcClient`]). Builds on [`crate::pipeline`]: a
//! transport is an [`crate::pipeline::ExportSink`]. https and gRPC over TLS
//! use rustls with the system's roots plus an optional CA file.
//!
//! Does not own: batching, encoding or compression (the pipeline hands it
//! finished request bodies), the queue's drop accounting, or the receiving
//! side.

mod breaker;
mod error;
pub mod grpc;
pub mod http;
mod resilient;
mod retry;
mod tls;

pub use breaker::{Breaker, BreakerConfig, BreakerState};
pub use error::{Retry, TransportError};
pub use resilient::{Accepted, Attempt, PartialMessage, Resilient, ResilientStats};
pub use retry::{Backoff, ConfigError, RetryConfig};
pub use tls::TlsError;
