//! OTLP/gRPC: the three official services on tonic, with the same decoding,
//! counting, capture and fault injection as OTLP/HTTP.

use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use bytes::{Buf as _, Bytes};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{Context, Poll, StdError};
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};

use super::{Received, Shared};
use crate::encode::{Signal, decode};

/// The three services share the receiver's state.
#[derive(Clone, Debug)]
struct Services(Arc<Shared>);

impl Services {
    /// Fault injection and accounting common to the three services.
    async fn admit(&self) -> Result<(), Status> {
        match super::http::fault_decision(&self.0).await {
            None => Ok(()),
            Some(super::http::FaultKind::Reset) => Err(Status::unavailable("injected connection reset")),
            Some(super::http::FaultKind::Fail { status: 429, .. }) => {
                Err(Status::resource_exhausted("injected failure"))
            }
            Some(super::http::FaultKind::Fail { .. }) => Err(Status::unavailable("injected failure")),
        }
    }

    /// Writes an accepted request's body to the capture folder.
    fn capture(&self, signal: Signal, body: &[u8]) {
        if self.0.config.capture_dir.is_some() {
            super::capture_to_file(&self.0, signal, "pb", body);
        }
    }

    /// One Export call: the message arrives undecoded (see [`RawCodec`]) and
    /// is decoded as an OTLP/HTTP body is, by the direct decoder.
    async fn export(&self, signal: Signal, message: Bytes) -> Result<(), Status> {
        self.admit().await?;
        let received = match signal {
            Signal::Traces => decode::decode_traces(&message).map(Received::Traces),
            Signal::Metrics => decode::decode_metrics(&message).map(Received::Metrics),
            Signal::Logs => decode::decode_logs(&message).map(Received::Logs),
        };
        self.accept(received)?;
        self.capture(signal, &message);
        Ok(())
    }

    fn accept(&self, received: Result<Received, crate::encode::EncodeError>) -> Result<(), Status> {
        let c = &self.0.counters;
        let received = received.map_err(|e| {
            c.refused_requests.fetch_add(1, Relaxed);
            Status::invalid_argument(format!("cannot decode the request: {e}"))
        })?;
        match &received {
            Received::Traces(d) => c.spans.fetch_add(d.span_count() as u64, Relaxed),
            Received::Metrics(d) => c.points.fetch_add(d.point_count() as u64, Relaxed),
            Received::Logs(d) => c.logs.fetch_add(d.record_count() as u64, Relaxed),
        };
        c.accepted_requests.fetch_add(1, Relaxed);
        if self.0.config.capture {
            self.0.captured.lock().expect("capture lock poisoned").push(received);
        }
        Ok(())
    }
}

/// Hands each gRPC message on as the bytes it arrived in (tonic has
/// already taken off the frame and any compression), so that the service
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

/// One of the three OTLP collector services.
trait Service: Send + Sync + 'static {
    /// The gRPC service name.
    const NAME: &'static str;
    /// Its one method, Export.
    const PATH: &'static str;
    const SIGNAL: Signal;
}

/// The Export response of all three services: `ExportTraceServiceResponse`
/// and its metrics and logs twins hold one optional field, `partial_success`,
/// and the receiver has no partial success to report, so each answer is the
/// empty message, the same bytes for every service.
#[derive(Clone, PartialEq, prost::Message)]
struct ExportResponse {}

struct TraceService;
impl Service for TraceService {
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
    const PATH: &'static str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
    const SIGNAL: Signal = Signal::Traces;
}

struct MetricsService;
impl Service for MetricsService {
    const NAME: &'static str = "opentelemetry.proto.collector.metrics.v1.MetricsService";
    const PATH: &'static str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
    const SIGNAL: Signal = Signal::Metrics;
}

struct LogsService;
impl Service for LogsService {
    const NAME: &'static str = "opentelemetry.proto.collector.logs.v1.LogsService";
    const PATH: &'static str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
    const SIGNAL: Signal = Signal::Logs;
}

/// A service's route, written by hand: the generated `*ServiceServer`s are
/// tied to prost's codec. Same behaviour otherwise: gzip and zstd accepted,
/// the decoded size bounded, UNIMPLEMENTED for any other method.
struct Route<S> {
    services: Services,
    max_decoded: usize,
    service: PhantomData<fn() -> S>,
}

impl<S> Clone for Route<S> {
    fn clone(&self) -> Self {
        Route { services: self.services.clone(), max_decoded: self.max_decoded, service: PhantomData }
    }
}

impl<S: Service> tonic::server::NamedService for Route<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B> tower::Service<http::Request<B>> for Route<S>
where
    S: Service,
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if req.uri().path() != S::PATH {
            return Box::pin(async move {
                let mut response = http::Response::new(tonic::body::Body::default());
                let headers = response.headers_mut();
                headers.insert(Status::GRPC_STATUS, (tonic::Code::Unimplemented as i32).into());
                headers.insert(http::header::CONTENT_TYPE, tonic::metadata::GRPC_CONTENT_TYPE);
                Ok(response)
            });
        }
        let services = self.services.clone();
        let mut grpc = tonic::server::Grpc::new(RawCodec::<ExportResponse>::default())
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd)
            .max_decoding_message_size(self.max_decoded);
        Box::pin(async move {
            let export = tower::service_fn(move |request: Request<Bytes>| {
                let services = services.clone();
                async move {
                    services.export(S::SIGNAL, request.into_inner()).await?;
                    Ok::<_, Status>(Response::new(ExportResponse::default()))
                }
            });
            Ok(grpc.unary(export, req).await)
        })
    }
}

/// Rewrites tonic's answer to an undecodable request: its prost codec says
/// INTERNAL, the OTLP spec says INVALID_ARGUMENT (the client must not retry,
/// and the fault is the client's). Such answers are trailers-only, so the
/// status is in the response headers.
#[derive(Clone, Copy, Debug)]
struct DecodeErrorIsInvalidArgument;

impl<S> tower::Layer<S> for DecodeErrorIsInvalidArgument {
    type Service = FixDecodeStatus<S>;
    fn layer(&self, inner: S) -> FixDecodeStatus<S> {
        FixDecodeStatus { inner }
    }
}

#[derive(Clone, Debug)]
struct FixDecodeStatus<S> {
    inner: S,
}

type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

impl<S, ReqBody, ResBody> tower::Service<http::Request<ReqBody>> for FixDecodeStatus<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ReqBody>) -> Self::Future {
        // The clone that was made ready serves this call (tower's usual swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let mut response = inner.call(req).await?;
            let headers = response.headers_mut();
            let internal = headers.get("grpc-status").is_some_and(|v| v.as_bytes() == b"13");
            let decode = headers.get("grpc-message").is_some_and(|v| {
                v.as_bytes().starts_with(b"failed%20to%20decode") || v.as_bytes().starts_with(b"failed to decode")
            });
            if internal && decode {
                headers.insert("grpc-status", http::HeaderValue::from_static("3"));
            }
            Ok(response)
        })
    }
}

/// Prepares the server for `listener` (with TLS when configured); the
/// returned future serves until `stopped` turns true.
pub(super) fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) -> std::io::Result<impl std::future::Future<Output = ()> + Send> {
    let limit = shared.config.max_decompressed_bytes;
    let mut builder = tonic::transport::Server::builder();
    if let Some(identity) = &shared.config.tls {
        let cert = std::fs::read(&identity.cert_chain)?;
        let key = std::fs::read(&identity.key)?;
        builder = builder
            .tls_config(
                tonic::transport::ServerTlsConfig::new().identity(tonic::transport::Identity::from_pem(cert, key)),
            )
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    }
    let services = Services(shared.clone());
    // Decoded size is bounded by max_decoding_message_size: a bomb stops there.
    macro_rules! route {
        ($service:ident) => {
            Route::<$service> { services: services.clone(), max_decoded: limit, service: PhantomData }
        };
    }
    let router = builder
        .concurrency_limit_per_connection(shared.config.max_connections)
        .layer(DecodeErrorIsInvalidArgument)
        .add_service(route!(TraceService))
        .add_service(route!(MetricsService))
        .add_service(route!(LogsService));
    Ok(async move {
        let served = router
            .serve_with_incoming_shutdown(TcpIncoming::from(listener), async move {
                let _changed_or_gone = stopped.changed().await;
            })
            .await;
        // The server task has no caller to return to; when it fails the
        // receiver's counts stop growing, which its user sees.
        drop(served);
    })
}
