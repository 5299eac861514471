//! OTLP/HTTP: one connection, and the request handler.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::watch;

use super::conn::{Activity, Conn};
use super::{DecodeRefusal, Format, Reason, Shared};
use crate::compress::Compression;
use crate::encode::Signal;

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Format::Protobuf => "application/x-protobuf",
            Format::Json => "application/json",
        }
    }
}

/// A refusal: the HTTP status, the reason it is counted under, and why.
struct Refusal {
    status: StatusCode,
    reason: Reason,
    message: String,
}

impl Refusal {
    fn new(status: StatusCode, reason: Reason, message: impl Into<String>) -> Self {
        Refusal { status, reason, message: message.into() }
    }

    /// The `google.rpc.Code` for the body: INVALID_ARGUMENT,
    /// RESOURCE_EXHAUSTED, UNIMPLEMENTED, DEADLINE_EXCEEDED.
    fn code(&self) -> i32 {
        match self.status {
            StatusCode::PAYLOAD_TOO_LARGE => 8,
            StatusCode::UNSUPPORTED_MEDIA_TYPE | StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => 12,
            StatusCode::REQUEST_TIMEOUT => 4,
            _ => 3,
        }
    }
}

impl From<DecodeRefusal> for Refusal {
    fn from(r: DecodeRefusal) -> Self {
        let status = match r {
            DecodeRefusal::TooLarge { .. } | DecodeRefusal::OverBudget { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            DecodeRefusal::Malformed(_) => StatusCode::BAD_REQUEST,
            DecodeRefusal::Timeout => StatusCode::REQUEST_TIMEOUT,
        };
        Refusal { status, reason: r.reason(), message: r.message() }
    }
}

pub(super) async fn serve_connection(
    stream: Conn,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
    activity: Arc<Activity>,
) {
    let header_read_timeout = shared.config.header_read_timeout;
    let tracker = activity.clone();
    let service = hyper::service::service_fn(move |req| {
        let shared = shared.clone();
        let in_flight = tracker.begin();
        async move {
            let _in_flight = in_flight;
            match inject_fault(&shared).await {
                Some(Fault::Reset) => Err(ResetConnection),
                Some(Fault::Answer(r)) => Ok(r),
                None => Ok(handle(req, &shared).await),
            }
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        _served = conn.as_mut() => {}
        _ = stopped.changed() => {
            conn.as_mut().graceful_shutdown();
            let _finished = conn.await;
        }
        () = activity.idle() => {
            // Nothing in flight: the connection closes at once.
            conn.as_mut().graceful_shutdown();
            let _closed_or_late = tokio::time::timeout(header_read_timeout, conn).await;
        }
    }
}

/// Returned by the service to make hyper drop the connection unanswered.
#[derive(Debug)]
struct ResetConnection;

impl std::fmt::Display for ResetConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("injected connection reset")
    }
}

impl std::error::Error for ResetConnection {}

enum Fault {
    Reset,
    Answer(Response<Full<Bytes>>),
}

/// An injected fault, independent of the protocol.
pub(super) enum FaultKind {
    /// Drop the connection (HTTP) or answer UNAVAILABLE (gRPC).
    Reset,
    /// Fail with this HTTP status (503, 429) and `Retry-After`.
    Fail { status: u16, retry_after: Option<std::time::Duration> },
}

/// Applies the configured faults to the next request, in arrival order.
pub(super) async fn fault_decision(shared: &Shared) -> Option<FaultKind> {
    let f = &shared.config.faults;
    if let Some(delay) = f.delay {
        tokio::time::sleep(delay).await;
    }
    let n = shared.sequence.fetch_add(1, Relaxed);
    let roll = |salt: u64| {
        let x = crate::model::ids::splitmix64_mix(f.seed ^ salt ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    let since_start = shared.started.elapsed();
    let down = f.down.is_some_and(|(from, to)| since_start >= from && since_start < to);
    let fault = if down {
        Some(FaultKind::Fail { status: 503, retry_after: None })
    } else if roll(1) < f.reset_fraction {
        Some(FaultKind::Reset)
    } else if roll(2) < f.fail_fraction {
        Some(FaultKind::Fail { status: f.fail_status, retry_after: f.retry_after })
    } else {
        None
    };
    if fault.is_some() {
        shared.counters.faulted_requests.fetch_add(1, Relaxed);
    }
    fault
}

async fn inject_fault(shared: &Shared) -> Option<Fault> {
    Some(match fault_decision(shared).await? {
        FaultKind::Reset => Fault::Reset,
        FaultKind::Fail { status, retry_after } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            Fault::Answer(failure(status, retry_after))
        }
    })
}

fn failure(status: StatusCode, retry_after: Option<std::time::Duration>) -> Response<Full<Bytes>> {
    let mut r = response(status, Format::Protobuf, status_body(Format::Protobuf, 14, "injected failure"));
    if let Some(after) = retry_after {
        r.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(after.as_secs()));
    }
    r
}

async fn handle(req: Request<Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    let format = content_format(&req);
    let result = accept(req, shared).await;
    let counters = &shared.counters;
    match result {
        Ok(()) => {
            counters.accepted_requests.fetch_add(1, Relaxed);
            let format = format.unwrap_or(Format::Protobuf);
            // An empty Export*ServiceResponse: no partial success to report.
            let body = match format {
                Format::Protobuf => Bytes::new(),
                Format::Json => Bytes::from_static(b"{}"),
            };
            response(StatusCode::OK, format, body)
        }
        Err(refusal) => {
            counters.refuse(refusal.reason);
            let format = format.unwrap_or(Format::Protobuf);
            response(refusal.status, format, status_body(format, refusal.code(), &refusal.message))
        }
    }
}

fn response(status: StatusCode, format: Format, body: Bytes) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static(format.content_type()));
    r
}

/// A `google.rpc.Status { code = 1; message = 2 }` in the request's format.
fn status_body(format: Format, code: i32, message: &str) -> Bytes {
    match format {
        Format::Json => {
            let message = serde_json::to_string(message).expect("a string serializes");
            Bytes::from(format!("{{\"code\":{code},\"message\":{message}}}"))
        }
        Format::Protobuf => {
            let mut out = Vec::with_capacity(message.len() + 8);
            prost::encoding::int32::encode(1, &code, &mut out);
            prost::encoding::string::encode(2, &message.to_owned(), &mut out);
            Bytes::from(out)
        }
    }
}

fn content_format<B>(req: &Request<B>) -> Option<Format> {
    let ct = req.headers().get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = ct.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/x-protobuf") {
        Some(Format::Protobuf)
    } else if essence.eq_ignore_ascii_case("application/json") {
        Some(Format::Json)
    } else {
        None
    }
}

async fn accept(req: Request<Incoming>, shared: &Shared) -> Result<(), Refusal> {
    let config = &shared.config;
    let unsupported = |status, message: &str| Refusal::new(status, Reason::Unsupported, message);
    let signal = match req.uri().path() {
        "/v1/traces" => Signal::Traces,
        "/v1/metrics" => Signal::Metrics,
        "/v1/logs" => Signal::Logs,
        other => return Err(unsupported(StatusCode::NOT_FOUND, &format!("no OTLP service at {other}"))),
    };
    if req.method() != Method::POST {
        return Err(unsupported(StatusCode::METHOD_NOT_ALLOWED, "OTLP/HTTP takes POST"));
    }
    let format = content_format(&req).ok_or_else(|| {
        unsupported(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/x-protobuf or application/json",
        )
    })?;
    let codec = match req.headers().get(header::CONTENT_ENCODING) {
        None => Compression::None,
        Some(v) => v.to_str().ok().and_then(|v| Compression::from_content_encoding(v).ok()).ok_or_else(|| {
            unsupported(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Encoding must be gzip, zstd or none")
        })?,
    };
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > config.max_body_bytes as u64) {
        return Err(DecodeRefusal::TooLarge { limit: config.max_body_bytes }.into());
    }
    let body = super::read_body(req.into_body(), config.max_body_bytes, config.body_read_timeout).await?;
    shared.counters.body_bytes.fetch_add(body.len() as u64, Relaxed);
    // The turn is taken only once the body is in, so that slow senders
    // hold a connection, never a turn to decode.
    let _turn = shared.decode_permit().await;
    super::decode_and_count(shared, signal, format, codec, body).map_err(Refusal::from)
}
