//! otlp-lab: a fast OTLP telemetry pipeline and the profiling lab around it.
//!
//! ```text
//! producer API ──► model ──► encode ──► compress ──► (transport)
//!  (builders)     (spans,    (direct +    (zstd,
//!                  metrics,   reference    gzip,
//!                  logs)      protobuf;    none)
//!                             OTLP/JSON)
//!                                ▲            ▲
//!                                └── pool: reusable buffers, bumpalo arenas
//! ```
//!
//! Dependencies point one way: model ← encode ← compress. [`lab`] uses
//! everything; nothing in the data path uses the lab.
#![warn(missing_docs, unreachable_pub)]
#![deny(unsafe_code)]

pub mod compress;
pub mod encode;
pub mod error;
pub mod exporter;
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
pub mod model;
pub mod pipeline;
pub mod pool;
#[cfg(feature = "receiver")]
pub mod receiver;
pub mod simd;
pub mod transport;

pub use error::{Error, Result};
