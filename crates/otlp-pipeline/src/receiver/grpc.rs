//! OTLP/gRPC: the three official services, with the same limits, decoding,
//! counting, capture and fault injection as OTLP/HTTP.
//!
//! Connections are hyper's HTTP/2, accepted by the receiver's own loop (the
//! same connection cap, handshake and idle watchdog as OTLP/HTTP). Each
//! request is read whole under the same size and time limits as an HTTP
//! body, then takes a decode turn, and only then goes to tonic's request
//! handling, which takes off the frame and decompresses (bounded by
//! `max_decompressed_bytes`) before the handler decodes and counts with the
//! code OTLP/HTTP uses.

use std::convert::Infallible;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use bytes::{Buf as _, Bytes};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::sync::watch;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::{Code, Request, Response, Status};

use super::conn::{Activity, Conn};
use super::http::FaultKind;
use super::{DecodeRefusal, Format, Reason, Shared};
use crate::compress::Compression;
use crate::encode::Signal;

/// The gRPC message frame's header: a compressed flag and a 4-byte length.
const FRAME_HEADER: usize = 5;

/// The three services' one method each, and the signal it carries.
fn signal_of(path: &str) -> Option<Signal> {
    match path {
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export" => Some(Signal::Traces),
        "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export" => Some(Signal::Metrics),
        "/opentelemetry.proto.collector.logs.v1.LogsService/Export" => Some(Signal::Logs),
        _ => None,
    }
}

/// Serves one HTTP/2 connection until it ends, the receiver stops, or the
/// watchdog finds it idle.
pub(super) async fn serve_connection(
    stream: Conn,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
    activity: Arc<Activity>,
) {
    let header_read_timeout = shared.config.header_read_timeout;
    let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    builder.timer(TokioTimer::new()).max_concurrent_streams(shared.config.max_concurrent_streams);
    let tracker = activity.clone();
    let service = hyper::service::service_fn(move |req: http::Request<Incoming>| {
        let shared = shared.clone();
        let in_flight = tracker.begin();
        async move {
            let _in_flight = in_flight;
            Ok::<_, Infallible>(route(&shared, req).await)
        }
    });
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        _served = conn.as_mut() => {}
        _ = stopped.changed() => {
            conn.as_mut().graceful_shutdown();
            let _finished = conn.await;
        }
        () = activity.idle() => {
            // A GOAWAY, then the close: nothing is in flight. A client that
            // never sent its preface is closed at once.
            conn.as_mut().graceful_shutdown();
            let _closed_or_late = tokio::time::timeout(header_read_timeout, conn).await;
        }
    }
}

/// One request: the route, faults, the body under the limits, a decode
/// turn, then tonic's unary handling with the shared decoder.
async fn route(shared: &Shared, req: http::Request<Incoming>) -> http::Response<tonic::body::Body> {
    let Some(signal) = signal_of(req.uri().path()) else {
        shared.counters.refuse(Reason::Unsupported);
        return Status::unimplemented(format!("no OTLP service method at {}", req.uri().path())).into_http();
    };
    if let Some(status) = inject_fault(shared).await {
        return status.into_http();
    }
    let config = &shared.config;
    let (parts, body) = req.into_parts();
    // The same limit as an OTLP/HTTP body, on the message as sent: tonic's
    // one limit (`max_decoding_message_size`) applies to the frame's length
    // and the decompressed size alike, so it is set to the decompressed
    // limit below and the compressed one is applied here.
    let limit = config.max_body_bytes.saturating_add(FRAME_HEADER);
    let body = match super::read_body(body, limit, config.body_read_timeout).await {
        Ok(body) => body,
        Err(refusal) => {
            shared.counters.refuse(refusal.reason());
            return refusal_status(&refusal).into_http();
        }
    };
    shared.counters.body_bytes.fetch_add(body.len() as u64, Relaxed);
    // tonic decompresses inside `unary`, before the handler runs, so the
    // turn is taken here: it bounds decompression and decoding together,
    // receiver-wide and shared with OTLP/HTTP (a tower concurrency layer
    // would bound gRPC alone, and would hold its slot while bodies are
    // still arriving).
    let _turn = shared.decode_permit().await;
    let handled = AtomicBool::new(false);
    let export = tower::service_fn(|request: Request<Bytes>| {
        handled.store(true, Relaxed);
        let outcome =
            super::decode_and_count(shared, signal, Format::Protobuf, Compression::None, request.into_inner());
        std::future::ready(match outcome {
            Ok(()) => {
                shared.counters.accepted_requests.fetch_add(1, Relaxed);
                Ok(Response::new(ExportResponse::default()))
            }
            Err(refusal) => {
                shared.counters.refuse(refusal.reason());
                Err(refusal_status(&refusal))
            }
        })
    });
    let mut grpc = tonic::server::Grpc::new(RawCodec::<ExportResponse>::default())
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .max_decoding_message_size(config.max_decompressed_bytes);
    let mut response = grpc.unary(export, http::Request::from_parts(parts, Full::new(body))).await;
    if !handled.load(Relaxed) {
        refused_before_the_handler(shared, &mut response);
    }
    response
}

/// A shared refusal in gRPC's terms. RESOURCE_EXHAUSTED for a request over
/// a limit: the OTLP spec has clients retry it only when the status
/// carries `RetryInfo`, which these do not, so the client does not resend
/// what will never fit.
fn refusal_status(refusal: &DecodeRefusal) -> Status {
    let message = refusal.message();
    match refusal {
        DecodeRefusal::TooLarge { .. } | DecodeRefusal::OverBudget { .. } => Status::resource_exhausted(message),
        DecodeRefusal::Malformed(_) => Status::invalid_argument(message),
        DecodeRefusal::Timeout => Status::deadline_exceeded(message),
    }
}

/// Counts, and answers in the OTLP spec's terms, what tonic refused before
/// the handler ran: a frame longer than its limit (OUT_OF_RANGE, which an
/// OTLP client would retry) or a message that decompresses past it
/// (RESOURCE_EXHAUSTED) become RESOURCE_EXHAUSTED; an unsupported
/// `grpc-encoding` stays UNIMPLEMENTED; a cut frame, a compressed flag with
/// no encoding or a corrupt compressed stream (INTERNAL in tonic) are the
/// client's fault, INVALID_ARGUMENT. Such answers are trailers-only, so the
/// status is in the response headers.
fn refused_before_the_handler(shared: &Shared, response: &mut http::Response<tonic::body::Body>) {
    let headers = response.headers_mut();
    let code = headers.get(Status::GRPC_STATUS).and_then(|v| v.to_str().ok()?.parse::<i32>().ok());
    let Some(code) = code.map(Code::from_i32) else { return };
    let (reason, answer) = match code {
        Code::Ok => return,
        Code::OutOfRange | Code::ResourceExhausted => (Reason::TooLarge, Code::ResourceExhausted),
        Code::Unimplemented => (Reason::Unsupported, Code::Unimplemented),
        _ => (Reason::Malformed, Code::InvalidArgument),
    };
    shared.counters.refuse(reason);
    headers.insert(Status::GRPC_STATUS, (answer as i32).into());
}

/// Applies the configured faults, as OTLP/HTTP does, in gRPC's terms: a
/// reset is UNAVAILABLE, 429 RESOURCE_EXHAUSTED, any other failure
/// UNAVAILABLE.
async fn inject_fault(shared: &Shared) -> Option<Status> {
    Some(match super::http::fault_decision(shared).await? {
        FaultKind::Reset => Status::unavailable("injected connection reset"),
        FaultKind::Fail { status: 429, .. } => Status::resource_exhausted("injected failure"),
        FaultKind::Fail { .. } => Status::unavailable("injected failure"),
    })
}

/// Hands each gRPC message on as the bytes it arrived in (tonic has
/// already taken off the frame and any compression), so that the handler
/// decodes it with the direct decoder, strings sliced from the message,
/// instead of prost's types and a conversion (compare the benches
/// `decode_reference_traces_512` and `decode_direct_traces_512`). Encodes
/// the (empty) response.
struct RawCodec<R>(PhantomData<fn() -> R>);

impl<R> Default for RawCodec<R> {
    fn default() -> Self {
        RawCodec(PhantomData)
    }
}

impl<R: prost::Message + Send + 'static> Codec for RawCodec<R> {
    type Encode = R;
    type Decode = Bytes;
    type Encoder = RawCodec<R>;
    type Decoder = RawCodec<R>;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec::default()
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec::default()
    }
}

impl<R: prost::Message> Encoder for RawCodec<R> {
    type Item = R;
    type Error = Status;

    fn encode(&mut self, item: R, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst).map_err(|e| Status::internal(format!("cannot encode the response: {e}")))
    }
}

impl<R> Decoder for RawCodec<R> {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        // Split off the frame's buffer, not copied.
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// The Export response of all three services: `ExportTraceServiceResponse`
/// and its metrics and logs twins hold one optional field, `partial_success`,
/// and the receiver has no partial success to report, so each answer is the
/// empty message, the same bytes for every service.
#[derive(Clone, PartialEq, prost::Message)]
struct ExportResponse {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shared_refusal_has_the_specs_grpc_code() {
        let cases = [
            (DecodeRefusal::TooLarge { limit: 4 }, Code::ResourceExhausted),
            (DecodeRefusal::OverBudget { limit: 64 }, Code::ResourceExhausted),
            (DecodeRefusal::Malformed("bad".into()), Code::InvalidArgument),
            (DecodeRefusal::Timeout, Code::DeadlineExceeded),
        ];
        for (refusal, code) in cases {
            let status = refusal_status(&refusal);
            assert_eq!(status.code(), code, "{refusal:?}");
            assert_eq!(status.message(), refusal.message());
        }
        assert!(refusal_status(&DecodeRefusal::OverBudget { limit: 64 }).message().contains("64"));
    }
}
