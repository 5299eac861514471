//! The direct protobuf decoder: OTLP wire bytes straight into the model.
//!
//! It walks the wire format once, without prost's intermediate structs:
//! strings and `bytes` values are slices of the request body (one reference
//! count each, no copy; strings are UTF-8 checked with the SIMD validator).
//!
//! Its contract is the [`super::reference`] decoder's: for every input both
//! return the same model, or both fail. So it follows prost's rules, not
//! only the protobuf spec's: unknown fields of every wire type are skipped
//! (groups included), the last occurrence of a scalar wins, a singular
//! message given twice is merged (and so is a oneof's message variant given
//! twice in a row), repeated scalars are accepted packed and unpacked, a
//! varint has at most 10 bytes, a known field with the wrong wire type is an
//! error, and prost's recursion limit applies, counted as prost counts it
//! (each nested message, each group, and any unknown field at the limit).
//! Messages the model drops (exemplars, entity refs, summaries) are still
//! checked on the wire, as prost decodes them before the conversion drops
//! them. The checks the reference applies after decoding (id lengths,
//! profile-only fields, summaries) are applied to the final, merged value of
//! each message, when it ends; inside a oneof variant that a later field may
//! replace (an `AnyValue`'s array or kvlist, a `Metric`'s data), they wait
//! until the variant is final, as prost drops a replaced variant unchecked.
//!
//! The `_within` decoders take a [`DecodeBudget`]: every vector the model
//! grows is charged to it before it is allocated (see `reader`), so that a
//! small body describing a huge model is refused with
//! [`EncodeError::OverBudget`] before it takes the memory.
//!
//! Does not own: decompression and body-size limits (the receiver applies
//! them before a body reaches the decoder).
//!
//! The files: `reader` is the cursor over the body and the field loop every
//! message is decoded with; `common`, `traces`, `metrics` and `logs` hold one
//! decoding function per message; `dropped` checks the messages the model
//! drops; `error` is what a malformed body reports.

pub(crate) mod common;
pub(crate) mod dropped;
mod error;
mod logs;
mod metrics;
pub(crate) mod reader;
#[cfg(test)]
mod tests;
mod traces;

pub use error::{Message, WireError, WireErrorKind};
pub use logs::{decode_logs, decode_logs_within};
pub use metrics::{decode_metrics, decode_metrics_within};
pub use traces::{decode_traces, decode_traces_within};

use super::{DecodeBudget, EncodeError, Field};

/// prost's `RECURSION_LIMIT`: message nesting below the top-level request.
pub(crate) const RECURSION_LIMIT: u32 = 100;

pub(crate) type R<T> = Result<T, EncodeError>;

pub(crate) fn wire(kind: WireErrorKind) -> EncodeError {
    EncodeError::Wire(WireError { kind, at: None })
}

pub(crate) fn invalid(field: Field, reason: &'static str) -> EncodeError {
    EncodeError::Invalid { field, reason }
}

/// Adds the innermost message and field to a wire error that has none yet.
pub(crate) fn within(e: EncodeError, msg: Message, tag: u32) -> EncodeError {
    match e {
        EncodeError::Wire(WireError { kind, at: None }) => EncodeError::Wire(WireError { kind, at: Some((msg, tag)) }),
        e => e,
    }
}
