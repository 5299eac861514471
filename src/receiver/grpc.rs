//! OTLP/gRPC: the three official services on tonic, with the same decoding,
//! counting, capture and fault injection as OTLP/HTTP.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{LogsService, LogsServiceServer};
use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsServiceRequest, ExportLogsServiceResponse};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::codec::CompressionEncoding;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};

use super::{Received, Shared};
use crate::encode::{Signal, reference};

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

    /// The request as protobuf for the capture folder, when there is one
    /// (re-encoded: tonic has already decoded it).
    fn captured_body(&self, request: &impl prost::Message) -> Option<Vec<u8>> {
        self.0.config.capture_dir.is_some().then(|| request.encode_to_vec())
    }

    /// Writes an accepted request's body to the capture folder.
    fn capture(&self, signal: Signal, body: Option<Vec<u8>>) {
        if let Some(body) = body {
            super::capture_to_file(&self.0, signal, "pb", &body);
        }
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

#[tonic::async_trait]
impl TraceService for Services {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.admit().await?;
        let request = request.into_inner();
        let body = self.captured_body(&request);
        self.accept(reference::traces_from_proto(request).map(Received::Traces))?;
        self.capture(Signal::Traces, body);
        Ok(Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

#[tonic::async_trait]
impl MetricsService for Services {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        self.admit().await?;
        let request = request.into_inner();
        let body = self.captured_body(&request);
        self.accept(reference::metrics_from_proto(request).map(Received::Metrics))?;
        self.capture(Signal::Metrics, body);
        Ok(Response::new(ExportMetricsServiceResponse { partial_success: None }))
    }
}

#[tonic::async_trait]
impl LogsService for Services {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        self.admit().await?;
        let request = request.into_inner();
        let body = self.captured_body(&request);
        self.accept(reference::logs_from_proto(request).map(Received::Logs))?;
        self.capture(Signal::Logs, body);
        Ok(Response::new(ExportLogsServiceResponse { partial_success: None }))
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
    let svc = Services(shared.clone());
    // Decoded size is bounded by max_decoding_message_size: a bomb stops there.
    macro_rules! server {
        ($server:ident) => {
            $server::new(svc.clone())
                .accept_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Zstd)
                .max_decoding_message_size(limit)
        };
    }
    let router = builder
        .concurrency_limit_per_connection(shared.config.max_connections)
        .layer(DecodeErrorIsInvalidArgument)
        .add_service(server!(TraceServiceServer))
        .add_service(server!(MetricsServiceServer))
        .add_service(server!(LogsServiceServer));
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
