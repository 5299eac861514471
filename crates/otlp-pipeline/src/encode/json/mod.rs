//! OTLP/JSON for traces, metrics and logs.
//!
//! Owns: the writer ([`write_traces`], [`write_metrics`], [`write_logs`]),
//! which appends JSON straight to a `Vec<u8>` from the model; the simd-json
//! parser ([`parse_traces`], [`parse_metrics`], [`parse_logs`]), which walks
//! simd-json's tape without building a value tree; and the same walk over a
//! `serde_json::Value` ([`parse_traces_serde`] and its twins), the scalar
//! reference that tests and benches compare the SIMD path with.
//!
//! The format is the OTLP/JSON mapping of protobuf: lowerCamelCase keys, trace
//! and span ids as lowercase hex, 64-bit integers as decimal strings, enums as
//! integers, doubles as numbers (`"NaN"`, `"Infinity"`, `"-Infinity"` as
//! strings), bytes as base64. The writer follows the conventions of
//! [`super::reference`] so that JSON and protobuf describe the same message:
//! resource, scope and every `KeyValue.value` are always written (possibly
//! `{}`), an unset status and absent ids are omitted, other fields are omitted
//! when they hold their default value.
//!
//! The parser accepts everything the protobuf JSON mapping allows: 64-bit
//! integers as strings or numbers, enums as integers or names, original
//! (snake_case) field names, fields in any order, unknown fields (skipped) and
//! `null` (taken as absent). Anything else is a [`JsonError`] naming the JSON
//! path of the offending value; so is an object holding a key twice (or a
//! snake_case key beside its lowerCamelCase form), which protobuf's JSON
//! parsers refuse as a field set twice.
//!
//! Does not own: compression, the HTTP content type (the exporter's protocol
//! picks JSON or protobuf), or the buffers it writes into.

use std::fmt;

mod base64;
mod parse;
mod tape;
mod value;
mod write;

pub use tape::{parse_logs, parse_logs_within, parse_metrics, parse_metrics_within, parse_traces, parse_traces_within};
pub use value::{parse_logs_serde, parse_metrics_serde, parse_traces_serde};
pub use write::{write_logs, write_metrics, write_traces};

/// Why OTLP/JSON input was rejected (or, from the `_within` parsers, went
/// over its decode budget: [`JsonError::over_budget`]): where (a JSON path such as
/// `resourceSpans[0].scopeSpans[0].spans[3].traceId`), what would have fit
/// there, and what was found instead.
///
/// Boxed so that the parser's `Result`s stay one pointer wide on the hot path.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JsonError(Box<ErrorInner>);

#[derive(Clone, PartialEq, Eq)]
struct ErrorInner {
    path: String,
    expected: &'static str,
    found: String,
    /// Set when the parse stopped because it would have gone over a decode
    /// budget of this many bytes, rather than at bad input.
    over_budget: Option<usize>,
}

impl fmt::Display for ErrorInner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(limit) = self.over_budget {
            f.write_str("OTLP/JSON over the decode budget")?;
            if !self.path.is_empty() {
                write!(f, " at {}", self.path)?;
            }
            return write!(f, ": parsing it would take more than {limit} bytes of memory");
        }
        f.write_str("invalid OTLP/JSON")?;
        if !self.path.is_empty() {
            write!(f, " at {}", self.path)?;
        }
        write!(f, ": expected {}, found {}", self.expected, self.found)
    }
}

impl fmt::Debug for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JsonError({})", self.0)
    }
}

impl JsonError {
    /// The JSON path of the rejected value (`resourceSpans[0].resource`), or
    /// `""` when the document itself is not JSON.
    pub fn path(&self) -> &str {
        &self.0.path
    }

    /// What the parser expected there ("a trace id of 32 hex digits").
    pub fn expected(&self) -> &'static str {
        self.0.expected
    }

    /// What it found instead (a short description, strings truncated).
    pub fn found(&self) -> &str {
        &self.0.found
    }

    /// The decode budget in bytes when the parse was refused for going over
    /// it (the document may be valid), `None` for bad input.
    pub fn over_budget(&self) -> Option<usize> {
        self.0.over_budget
    }

    #[cold]
    fn new(expected: &'static str, found: String) -> Self {
        JsonError(Box::new(ErrorInner { path: String::new(), expected, found, over_budget: None }))
    }

    #[cold]
    fn syntax(e: impl fmt::Display) -> Self {
        Self::new("valid JSON", e.to_string())
    }

    /// Prefixes the path with an object key; called on the way out of the walk,
    /// so a valid document never pays for path bookkeeping.
    #[cold]
    fn at_key(mut self, key: &str) -> Self {
        let path = &mut self.0.path;
        if !path.is_empty() && !path.starts_with('[') {
            path.insert(0, '.');
        }
        path.insert_str(0, key);
        self
    }

    /// Prefixes the path with an array index.
    #[cold]
    fn at_index(mut self, index: usize) -> Self {
        let path = &mut self.0.path;
        if !path.is_empty() && !path.starts_with('[') {
            path.insert(0, '.');
        }
        path.insert_str(0, &format!("[{index}]"));
        self
    }
}

impl From<crate::encode::budget::OverBudget> for JsonError {
    #[cold]
    fn from(e: crate::encode::budget::OverBudget) -> Self {
        JsonError(Box::new(ErrorInner {
            path: String::new(),
            expected: "a document within the decode budget",
            found: format!("one that would take more than {} bytes", e.limit),
            over_budget: Some(e.limit),
        }))
    }
}
