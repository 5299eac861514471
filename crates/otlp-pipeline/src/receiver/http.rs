//! OTLP/HTTP: one connection, and the request handler.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::watch;

use super::{Received, Shared};
use crate::compress::{CompressError, Compression, Decompressor};
use crate::encode::{Signal, decode, json};

/// The two OTLP/HTTP body formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Protobuf,
    Json,
}

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Format::Protobuf => "application/x-protobuf",
            Format::Json => "application/json",
        }
    }
}

/// A refusal: the HTTP status, the `google.rpc.Status` code, and why.
struct Refusal {
    status: StatusCode,
    code: i32,
    message: String,
}

impl Refusal {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        // google.rpc.Code for the body: INVALID_ARGUMENT, RESOURCE_EXHAUSTED,
        // UNIMPLEMENTED, DEADLINE_EXCEEDED.
        let code = match status {
            StatusCode::PAYLOAD_TOO_LARGE => 8,
            StatusCode::UNSUPPORTED_MEDIA_TYPE | StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => 12,
            StatusCode::REQUEST_TIMEOUT => 4,
            _ => 3,
        };
        Refusal { status, code, message: message.into() }
    }
}

/// A TLS acceptor for the receiver's certificate and key.
pub(super) fn tls_acceptor(identity: &super::TlsIdentity) -> std::io::Result<tokio_rustls::TlsAcceptor> {
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let invalid = |what: &std::path::Path, e: &dyn std::fmt::Display| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{}: {e}", what.display()))
    };
    let certs = CertificateDer::pem_file_iter(&identity.cert_chain)
        .map_err(|e| invalid(&identity.cert_chain, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(&identity.cert_chain, &e))?;
    let key = PrivateKeyDer::from_pem_file(&identity.key).map_err(|e| invalid(&identity.key, &e))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key))
        .map_err(|e| invalid(&identity.cert_chain, &e))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

pub(super) async fn serve_connection<S>(stream: S, shared: Arc<Shared>, mut stopped: watch::Receiver<bool>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let header_read_timeout = shared.config.header_read_timeout;
    let service = hyper::service::service_fn(move |req| {
        let shared = shared.clone();
        async move {
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
            counters.refused_requests.fetch_add(1, Relaxed);
            let format = format.unwrap_or(Format::Protobuf);
            response(refusal.status, format, status_body(format, refusal.code, &refusal.message))
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
    let signal = match req.uri().path() {
        "/v1/traces" => Signal::Traces,
        "/v1/metrics" => Signal::Metrics,
        "/v1/logs" => Signal::Logs,
        other => return Err(Refusal::new(StatusCode::NOT_FOUND, format!("no OTLP service at {other}"))),
    };
    if req.method() != Method::POST {
        return Err(Refusal::new(StatusCode::METHOD_NOT_ALLOWED, "OTLP/HTTP takes POST"));
    }
    let format = content_format(&req).ok_or_else(|| {
        Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/x-protobuf or application/json",
        )
    })?;
    let codec = match req.headers().get(header::CONTENT_ENCODING) {
        None => Compression::None,
        Some(v) => v.to_str().ok().and_then(|v| Compression::from_content_encoding(v).ok()).ok_or_else(|| {
            Refusal::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Encoding must be gzip, zstd or none")
        })?,
    };
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > config.max_body_bytes as u64) {
        return Err(too_large(config.max_body_bytes));
    }
    let limited = Limited::new(req.into_body(), config.max_body_bytes);
    let body = match tokio::time::timeout(config.body_read_timeout, limited.collect()).await {
        Err(_) => return Err(Refusal::new(StatusCode::REQUEST_TIMEOUT, "request body not received in time")),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => return Err(too_large(config.max_body_bytes)),
        Ok(Err(e)) => return Err(Refusal::new(StatusCode::BAD_REQUEST, format!("reading the body failed: {e}"))),
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    shared.counters.body_bytes.fetch_add(body.len() as u64, Relaxed);
    // Protobuf decodes from shared bytes: its strings are slices of `body`.
    let body = match codec {
        Compression::None => body,
        codec => {
            let mut out = Vec::new();
            Decompressor::new().decompress(codec, &body, &mut out, config.max_decompressed_bytes).map_err(
                |e| match e {
                    CompressError::TooLarge { limit } => too_large(limit),
                    e => Refusal::new(StatusCode::BAD_REQUEST, format!("cannot decompress the body: {e}")),
                },
            )?;
            Bytes::from(out)
        }
    };
    let capture = shared.config.capture_dir.is_some();
    let bad =
        |e: &dyn std::fmt::Display| Refusal::new(StatusCode::BAD_REQUEST, format!("cannot decode the request: {e}"));
    let (received, captured) = match format {
        Format::Protobuf => {
            let received = match signal {
                Signal::Traces => Received::Traces(decode::decode_traces(&body).map_err(|e| bad(&e))?),
                Signal::Metrics => Received::Metrics(decode::decode_metrics(&body).map_err(|e| bad(&e))?),
                Signal::Logs => Received::Logs(decode::decode_logs(&body).map_err(|e| bad(&e))?),
            };
            (received, body)
        }
        Format::Json => {
            // simd-json parses in place: keep the body as sent for the
            // capture. Without one, a body this task owns alone becomes the
            // Vec without a copy.
            let pristine = if capture { body.clone() } else { Bytes::new() };
            let mut raw = Vec::from(body);
            let received = match signal {
                Signal::Traces => Received::Traces(json::parse_traces(&mut raw).map_err(|e| bad(&e))?),
                Signal::Metrics => Received::Metrics(json::parse_metrics(&mut raw).map_err(|e| bad(&e))?),
                Signal::Logs => Received::Logs(json::parse_logs(&mut raw).map_err(|e| bad(&e))?),
            };
            (received, pristine)
        }
    };
    if capture {
        super::capture_to_file(shared, signal, if format == Format::Json { "json" } else { "pb" }, &captured);
    }
    let c = &shared.counters;
    match &received {
        Received::Traces(d) => c.spans.fetch_add(d.span_count() as u64, Relaxed),
        Received::Metrics(d) => c.points.fetch_add(d.point_count() as u64, Relaxed),
        Received::Logs(d) => c.logs.fetch_add(d.record_count() as u64, Relaxed),
    };
    if config.capture {
        shared.captured.lock().expect("capture lock poisoned").push(received);
    }
    Ok(())
}

fn too_large(limit: usize) -> Refusal {
    Refusal::new(StatusCode::PAYLOAD_TOO_LARGE, format!("body exceeds the limit of {limit} bytes"))
}
