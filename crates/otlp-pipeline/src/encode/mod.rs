//! Encoding and decoding of the model.
//!
//! Owns: OTLP/protobuf (the [`direct`] encoder that writes wire bytes straight
//! from the model, the [`decode`]r that reads them straight into it, and the
//! [`reference`](mod@reference) path through the official `opentelemetry-proto` prost types,
//! which both are checked against, and the zero-copy [`view`]s that validate
//! a body as the decoder would and iterate it without building the model), and OTLP/JSON ([`json`]); the protobuf
//! decoder takes a [`DecodeBudget`], the memory one decode may allocate.
//! Does not own:
//! compression, buffers' lifetimes (callers pass in pooled buffers),
//! transport.

mod budget;
pub mod decode;
pub mod direct;
mod error;
pub mod json;
#[cfg(feature = "reference")]
pub mod reference;
pub mod view;

pub use budget::DecodeBudget;
pub(crate) use budget::Meter;
pub use error::{EncodeError, Field};

/// The three OTLP signals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Signal {
    /// Spans.
    Traces,
    /// Metric points.
    Metrics,
    /// Log records.
    Logs,
}
