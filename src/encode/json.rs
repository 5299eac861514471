//! OTLP/JSON (placeholder: being written).

use thiserror::Error;

/// Why OTLP/JSON input was rejected.
#[derive(Debug, Error)]
#[error("invalid OTLP/JSON")]
pub struct JsonError;
