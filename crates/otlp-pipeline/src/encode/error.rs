use thiserror::Error;

/// The model field an encoder or decoder was at when it failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Field {
    /// A trace id.
    TraceId,
    /// A span id.
    SpanId,
    /// A parent span id.
    ParentSpanId,
    /// A key-value key.
    Key,
    /// An `AnyValue`.
    Value,
    /// A metric's data.
    MetricData,
}

/// Why encoding or decoding failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The protobuf bytes are malformed (prost's message names the field path).
    #[error("malformed protobuf: {0}")]
    Protobuf(#[from] prost::DecodeError),
    /// The protobuf bytes are malformed, as the direct decoder found (the
    /// message names the innermost message and field).
    #[error("malformed protobuf: {0}")]
    Wire(#[from] super::decode::WireError),
    /// A field has a value OTLP does not allow.
    #[error("invalid {field:?}: {reason}")]
    Invalid {
        /// Where.
        field: Field,
        /// What is wrong.
        reason: &'static str,
    },
    /// The OTLP/JSON input is malformed. (A [`JsonError`](super::json::JsonError)
    /// that went over its decode budget converts to [`EncodeError::OverBudget`].)
    #[error(transparent)]
    Json(super::json::JsonError),
    /// Decoding would allocate more than the [`DecodeBudget`](super::DecodeBudget) allows.
    #[error("decoding the request would take more than {limit} bytes of memory (the decode budget)")]
    OverBudget {
        /// The budget, in bytes.
        limit: usize,
    },
}

impl From<super::json::JsonError> for EncodeError {
    fn from(e: super::json::JsonError) -> Self {
        match e.over_budget() {
            Some(limit) => EncodeError::OverBudget { limit },
            None => EncodeError::Json(e),
        }
    }
}
