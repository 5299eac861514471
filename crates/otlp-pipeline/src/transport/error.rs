//! Transport errors and the one pure function that decides whether to retry.

use std::time::Duration;

use thiserror::Error;

/// Why one export attempt failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The receiver answered with an HTTP status other than 2xx.
    #[error("HTTP {status} from {endpoint}{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Status {
        /// The status code.
        status: u16,
        /// Where the request went.
        endpoint: Box<str>,
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
        /// The server's `Status.message`, when the body carried one.
        message: Option<Box<str>>,
    },
    /// The receiver answered with a gRPC status other than OK.
    #[error("gRPC status {code} from {endpoint}{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Grpc {
        /// The gRPC status code (0-16).
        code: i32,
        /// Where the request went.
        endpoint: Box<str>,
        /// The server's `RetryInfo` delay, when it sent one.
        retry_after: Option<Duration>,
        /// The status message.
        message: Option<Box<str>>,
    },
    /// The connection could not be made or broke before an answer.
    #[error("connection to {endpoint} failed")]
    Connect {
        /// Where the request went.
        endpoint: Box<str>,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// No answer within the per-request timeout.
    #[error("no answer from {endpoint} within {after:?}")]
    Timeout {
        /// Where the request went.
        endpoint: Box<str>,
        /// The timeout.
        after: Duration,
    },
    /// The circuit breaker is open: no request was made.
    #[error("circuit open for another {remaining:?}")]
    CircuitOpen {
        /// Until the breaker lets a probe through.
        remaining: Duration,
    },
    /// The answer could not be read (a malformed response body). Not for a
    /// success answer: the receiver took the batch, so the crate's clients
    /// report an unreadable 2xx or OK body as delivered, with
    /// [`Accepted::unreadable_body`](super::Accepted::unreadable_body) set.
    /// Kept for other [`Attempt`](super::Attempt)s; it is permanent.
    #[error("malformed response from {endpoint}: {reason}")]
    BadResponse {
        /// Where the request went.
        endpoint: Box<str>,
        /// What was wrong.
        reason: &'static str,
    },
}

/// What to do after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// The failure is permanent: the batch is dropped as rejected.
    Never,
    /// Retry after the backoff policy's next delay.
    Backoff,
    /// Retry after at least this long (the server said so).
    After(Duration),
}

/// gRPC codes the OTLP spec lists as retryable: CANCELLED, DEADLINE_EXCEEDED,
/// ABORTED, OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS; RESOURCE_EXHAUSTED only
/// with RetryInfo (the server promises recovery).
const GRPC_RETRYABLE: [i32; 6] = [1, 4, 10, 11, 14, 15];
const GRPC_RESOURCE_EXHAUSTED: i32 = 8;

impl TransportError {
    /// The retry decision, a pure function of the error (OTLP spec,
    /// "Failures"): HTTP 429, 502, 503, 504 and connection failures and
    /// timeouts are retryable, honouring `Retry-After`; other statuses are
    /// permanent; gRPC follows the spec's code table.
    pub fn retry(&self) -> Retry {
        match self {
            TransportError::Status { status, retry_after, .. } => match status {
                429 | 502 | 503 | 504 => retry_after.map_or(Retry::Backoff, Retry::After),
                _ => Retry::Never,
            },
            TransportError::Grpc { code, retry_after, .. } => {
                if GRPC_RETRYABLE.contains(code) {
                    retry_after.map_or(Retry::Backoff, Retry::After)
                } else if *code == GRPC_RESOURCE_EXHAUSTED {
                    retry_after.map_or(Retry::Never, Retry::After)
                } else {
                    Retry::Never
                }
            }
            TransportError::Connect { .. } | TransportError::Timeout { .. } => Retry::Backoff,
            TransportError::CircuitOpen { remaining } => Retry::After(*remaining),
            TransportError::BadResponse { .. } => Retry::Never,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16, retry_after: Option<Duration>) -> TransportError {
        TransportError::Status {
            status,
            endpoint: "http://127.0.0.1:4318/v1/traces".into(),
            retry_after,
            message: None,
        }
    }

    fn grpc(code: i32, retry_after: Option<Duration>) -> TransportError {
        TransportError::Grpc { code, endpoint: "http://127.0.0.1:4317".into(), retry_after, message: None }
    }

    #[test]
    fn http_statuses_classify_per_the_spec() {
        for s in [429, 502, 503, 504] {
            assert_eq!(status(s, None).retry(), Retry::Backoff, "{s}");
            assert_eq!(status(s, Some(Duration::from_secs(3))).retry(), Retry::After(Duration::from_secs(3)), "{s}");
        }
        for s in [400, 401, 403, 404, 405, 413, 415, 500, 501] {
            assert_eq!(status(s, Some(Duration::from_secs(3))).retry(), Retry::Never, "{s}");
        }
    }

    #[test]
    fn grpc_codes_classify_per_the_spec() {
        for c in GRPC_RETRYABLE {
            assert_eq!(grpc(c, None).retry(), Retry::Backoff, "{c}");
        }
        assert_eq!(grpc(GRPC_RESOURCE_EXHAUSTED, None).retry(), Retry::Never);
        assert_eq!(
            grpc(GRPC_RESOURCE_EXHAUSTED, Some(Duration::from_secs(1))).retry(),
            Retry::After(Duration::from_secs(1))
        );
        for c in [2, 3, 5, 6, 7, 9, 12, 13, 16] {
            assert_eq!(grpc(c, None).retry(), Retry::Never, "{c}");
        }
    }

    #[test]
    fn connection_trouble_is_retryable_and_messages_read_well() {
        let e = TransportError::Connect {
            endpoint: "http://127.0.0.1:1".into(),
            source: std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        };
        assert_eq!(e.retry(), Retry::Backoff);
        let t = TransportError::Timeout { endpoint: "x".into(), after: Duration::from_secs(10) };
        assert_eq!(t.retry(), Retry::Backoff);
        let with_message = TransportError::Status {
            status: 400,
            endpoint: "http://h/v1/logs".into(),
            retry_after: None,
            message: Some("bad span id".into()),
        };
        assert_eq!(with_message.to_string(), "HTTP 400 from http://h/v1/logs: bad span id");
    }
}
