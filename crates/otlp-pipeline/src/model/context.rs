//! W3C Trace Context: the `traceparent` and `tracestate` headers that carry a
//! span's context from one service to the next.

use std::fmt;

use super::{SpanId, Str, TraceId};

/// A span's context as it crosses a process boundary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpanContext {
    /// The trace.
    pub trace_id: TraceId,
    /// The span that made the outgoing call (the callee's parent).
    pub span_id: SpanId,
    /// W3C trace flags (bit 0: sampled).
    pub trace_flags: u8,
    /// The vendor `tracestate`, passed through as is.
    pub trace_state: Str,
}

/// Why a `traceparent` header was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TraceparentError {
    /// Not `version-traceid-parentid-flags` with the right lengths.
    #[error("traceparent must be 2-32-16-2 lowercase hex digits separated by dashes")]
    Format,
    /// Version ff is forbidden.
    #[error("traceparent version ff is invalid")]
    Version,
    /// An all-zero trace or parent id.
    #[error("traceparent carries an all-zero id")]
    ZeroId,
}

/// Length of a version-00 `traceparent`.
const TRACEPARENT_LEN: usize = 55;

impl SpanContext {
    /// True when the sampled flag is set.
    pub fn is_sampled(&self) -> bool {
        self.trace_flags & 1 == 1
    }

    /// The `traceparent` header value (version 00).
    pub fn traceparent(&self) -> String {
        format!("00-{}-{}-{:02x}", self.trace_id, self.span_id, self.trace_flags)
    }

    /// Reads a `traceparent` (and an optional `tracestate`), per W3C Trace
    /// Context level 1: lowercase hex only; a future version may append
    /// fields after the flags, which are ignored.
    pub fn from_headers(traceparent: &str, tracestate: Option<&str>) -> Result<Self, TraceparentError> {
        let b = traceparent.trim().as_bytes();
        if b.len() < TRACEPARENT_LEN || b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
            return Err(TraceparentError::Format);
        }
        let lower_hex = |s: &[u8]| s.iter().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c));
        if !lower_hex(&b[..2]) || !lower_hex(&b[3..35]) || !lower_hex(&b[36..52]) || !lower_hex(&b[53..55]) {
            return Err(TraceparentError::Format);
        }
        let version = &b[..2];
        if version == b"ff" {
            return Err(TraceparentError::Version);
        }
        // Version 00 is exactly 55 bytes; later versions may add "-..." fields.
        if (version == b"00" && b.len() != TRACEPARENT_LEN) || (b.len() > TRACEPARENT_LEN && b[55] != b'-') {
            return Err(TraceparentError::Format);
        }
        let trace_id = TraceId(crate::simd::hex_decode::<16>(&b[3..35]).ok_or(TraceparentError::Format)?);
        let span_id = SpanId(crate::simd::hex_decode::<8>(&b[36..52]).ok_or(TraceparentError::Format)?);
        if !trace_id.is_valid() || !span_id.is_valid() {
            return Err(TraceparentError::ZeroId);
        }
        let flags = crate::simd::hex_decode::<1>(&b[53..55]).ok_or(TraceparentError::Format)?[0];
        Ok(SpanContext {
            trace_id,
            span_id,
            trace_flags: flags,
            trace_state: tracestate.map_or(Str::EMPTY, |s| Str::copy_from(s.trim())),
        })
    }
}

impl fmt::Display for SpanContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.traceparent())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn round_trips_the_spec_example() {
        let c = SpanContext::from_headers(EXAMPLE, Some("congo=t61rcWkgMzE")).expect("valid");
        assert_eq!(c.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(c.span_id.to_string(), "00f067aa0ba902b7");
        assert!(c.is_sampled());
        assert_eq!(c.trace_state, "congo=t61rcWkgMzE");
        assert_eq!(c.traceparent(), EXAMPLE);
    }

    #[test]
    fn rejects_what_the_spec_rejects() {
        let bad = [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ];
        for b in bad {
            assert_eq!(SpanContext::from_headers(b, None), Err(TraceparentError::Format), "{b}");
        }
        assert_eq!(
            SpanContext::from_headers("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", None),
            Err(TraceparentError::Version)
        );
        assert_eq!(
            SpanContext::from_headers("00-00000000000000000000000000000000-00f067aa0ba902b7-01", None),
            Err(TraceparentError::ZeroId)
        );
        assert_eq!(
            SpanContext::from_headers("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", None),
            Err(TraceparentError::ZeroId)
        );
        // A future version may carry more fields.
        let future = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-whatever";
        assert!(!SpanContext::from_headers(future, None).expect("accepted").is_sampled());
    }

    #[test]
    fn a_call_chain_keeps_one_trace() {
        use crate::model::{FLAG_IS_REMOTE, Span};
        let a = Span::builder("A").build();
        let header = a.context().traceparent();
        let remote = SpanContext::from_headers(&header, None).expect("valid");
        let b = Span::builder("B").child_of_remote(&remote).build();
        assert_eq!(b.trace_id, a.trace_id);
        assert_eq!(b.parent_span_id, Some(a.span_id));
        assert!(b.flags & FLAG_IS_REMOTE != 0 && b.context().is_sampled());
    }
}
