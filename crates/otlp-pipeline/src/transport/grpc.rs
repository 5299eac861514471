//! OTLP/gRPC export attempts on a tonic channel. The body the direct encoder
//! wrote is sent as is (a pass-through codec), so no prost structs are built;
//! tonic applies `grpc-encoding` gzip or zstd itself.

use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use http::uri::PathAndQuery;
use prost::Message;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::{MetadataKey, MetadataValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic::{Code, Request, Status};

use super::http::{ExportResponse, HttpConfigError, unreadable};
use super::{Accepted, Attempt, TransportError};
use crate::compress::Compression;
use crate::encode::Signal;
use crate::pipeline::ExportRequest;

/// A codec that moves already-encoded message bytes in and out unchanged.
#[derive(Clone, Copy, Debug, Default)]
struct PassThrough;

impl Codec for PassThrough {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = PassThrough;
    type Decoder = PassThrough;
    fn encoder(&mut self) -> PassThrough {
        PassThrough
    }
    fn decoder(&mut self) -> PassThrough {
        PassThrough
    }
}

impl Encoder for PassThrough {
    type Item = Bytes;
    type Error = Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for PassThrough {
    type Item = Bytes;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// `google.rpc.RetryInfo`, carried in the status details.
#[derive(Clone, PartialEq, Message)]
struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    retry_delay: Option<prost_types_duration::Duration>,
}

/// `google.protobuf.Duration` and the `google.rpc.Status` with `Any` details,
/// declared here rather than pulling in a crate for three messages.
mod prost_types_duration {
    /// `google.protobuf.Duration`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Duration {
        #[prost(int64, tag = "1")]
        pub(super) seconds: i64,
        #[prost(int32, tag = "2")]
        pub(super) nanos: i32,
    }

    /// `google.protobuf.Any`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Any {
        #[prost(string, tag = "1")]
        pub(super) type_url: String,
        #[prost(bytes = "vec", tag = "2")]
        pub(super) value: Vec<u8>,
    }

    /// `google.rpc.Status` with its details.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct RpcStatus {
        #[prost(int32, tag = "1")]
        pub(super) code: i32,
        #[prost(string, tag = "2")]
        pub(super) message: String,
        #[prost(message, repeated, tag = "3")]
        pub(super) details: Vec<Any>,
    }
}

/// The server's `RetryInfo` delay, if the status carries one.
fn retry_delay(status: &Status) -> Option<Duration> {
    let details = prost_types_duration::RpcStatus::decode(status.details()).ok()?;
    let info = details.details.iter().find(|a| a.type_url.ends_with("google.rpc.RetryInfo"))?;
    let d = RetryInfo::decode(info.value.as_slice()).ok()?.retry_delay?;
    Some(Duration::new(u64::try_from(d.seconds).ok()?, u32::try_from(d.nanos).ok()?))
}

const PATHS: [&str; 3] = [
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
];

/// An OTLP/gRPC client for one endpoint; the channel connects lazily and
/// reconnects by itself.
#[derive(Clone, Debug)]
pub struct GrpcClient {
    channel: Channel,
    endpoint: Box<str>,
    compression: Option<CompressionEncoding>,
    headers: Vec<(MetadataKey<tonic::metadata::Ascii>, MetadataValue<tonic::metadata::Ascii>)>,
}

impl GrpcClient {
    /// A client for `endpoint` (e.g. `http://127.0.0.1:4317`); `compression`
    /// is applied by tonic as `grpc-encoding` (the pipeline sends raw bodies).
    pub fn new(
        endpoint: &str,
        compression: Compression,
        headers: &[(String, String)],
        ca_file: Option<&std::path::Path>,
    ) -> Result<Self, HttpConfigError> {
        let uri: http::Uri =
            endpoint.parse().map_err(|source| HttpConfigError::Uri { endpoint: endpoint.to_owned(), source })?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(HttpConfigError::Scheme(endpoint.to_owned())),
        };
        if uri.host().is_none() {
            return Err(HttpConfigError::Scheme(endpoint.to_owned()));
        }
        let mut ep = Endpoint::from(uri).connect_timeout(Duration::from_secs(5));
        if https {
            let mut tls = ClientTlsConfig::new().with_native_roots();
            if let Some(path) = ca_file {
                // Parsed once here for a clear error; tonic takes the PEM as is.
                super::tls::read_pem_certs(path)?;
                let pem = std::fs::read(path).map_err(|e| super::TlsError::CaFile {
                    path: path.display().to_string().into(),
                    reason: e.to_string(),
                })?;
                tls = tls.ca_certificate(Certificate::from_pem(pem));
            }
            ep = ep.tls_config(tls).map_err(|e| {
                HttpConfigError::Tls(super::TlsError::CaFile { path: "(tonic)".into(), reason: e.to_string() })
            })?;
        }
        let channel = ep.connect_lazy();
        let compression = match compression {
            Compression::None => None,
            Compression::Gzip { .. } => Some(CompressionEncoding::Gzip),
            Compression::Zstd { .. } => Some(CompressionEncoding::Zstd),
        };
        let headers = headers
            .iter()
            .map(|(k, v)| {
                let key = MetadataKey::from_bytes(k.to_ascii_lowercase().as_bytes())
                    .map_err(|_| HttpConfigError::Header(k.clone()))?;
                let value = MetadataValue::try_from(v.as_str()).map_err(|_| HttpConfigError::Header(k.clone()))?;
                Ok((key, value))
            })
            .collect::<Result<_, HttpConfigError>>()?;
        Ok(GrpcClient { channel, endpoint: endpoint.into(), compression, headers })
    }

    /// One unary `Export` call with the request's (uncompressed) body.
    pub async fn send(&self, request: &ExportRequest) -> Result<Accepted, TransportError> {
        let i = match request.signal {
            Signal::Traces => 0,
            Signal::Metrics => 1,
            Signal::Logs => 2,
        };
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        if let Some(enc) = self.compression {
            grpc = grpc.send_compressed(enc);
        }
        grpc.ready().await.map_err(|e| TransportError::Connect {
            endpoint: self.endpoint.clone(),
            source: std::io::Error::other(e),
        })?;
        let mut req = Request::new(request.body.clone());
        for (k, v) in &self.headers {
            req.metadata_mut().insert(k.clone(), v.clone());
        }
        match grpc.unary(req, PathAndQuery::from_static(PATHS[i]), PassThrough).await {
            Ok(resp) => {
                // Status OK: the receiver took the batch. An answer that does
                // not decode only loses a partial success it might have
                // reported, so the batch counts as delivered, and the answer
                // is reported apart (as OTLP/HTTP does with a 2xx body).
                let Ok(r) = ExportResponse::decode(resp.into_inner()) else {
                    return Ok(unreadable(&self.endpoint, "OK answer is not an Export*ServiceResponse"));
                };
                let ps = r.partial_success.unwrap_or_default();
                Ok(Accepted {
                    rejected: u64::try_from(ps.rejected).unwrap_or(0),
                    message: (!ps.error_message.is_empty()).then(|| ps.error_message.into_boxed_str()),
                    unreadable_body: None,
                })
            }
            // Transport-level failures surface as UNKNOWN/UNAVAILABLE with a source.
            Err(status) if status.code() == Code::Unavailable && status.message().contains("connect") => {
                Err(TransportError::Connect {
                    endpoint: self.endpoint.clone(),
                    source: std::io::Error::other(status.message().to_owned()),
                })
            }
            Err(status) => Err(TransportError::Grpc {
                code: status.code() as i32,
                endpoint: self.endpoint.clone(),
                retry_after: retry_delay(&status),
                message: (!status.message().is_empty()).then(|| status.message().into()),
            }),
        }
    }
}

impl Attempt for GrpcClient {
    fn attempt(
        &self,
        request: &ExportRequest,
    ) -> impl std::future::Future<Output = Result<Accepted, TransportError>> + Send {
        self.send(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_info_is_read_from_status_details() {
        let info = RetryInfo { retry_delay: Some(prost_types_duration::Duration { seconds: 2, nanos: 500_000_000 }) };
        let status = prost_types_duration::RpcStatus {
            code: Code::ResourceExhausted as i32,
            message: "slow down".into(),
            details: vec![prost_types_duration::Any {
                type_url: "type.googleapis.com/google.rpc.RetryInfo".into(),
                value: info.encode_to_vec(),
            }],
        };
        let s = Status::with_details(Code::ResourceExhausted, "slow down", Bytes::from(status.encode_to_vec()));
        assert_eq!(retry_delay(&s), Some(Duration::from_millis(2500)));
        assert_eq!(retry_delay(&Status::unavailable("x")), None);
    }

    #[tokio::test]
    async fn endpoints_are_checked() {
        assert!(GrpcClient::new("ftp://collector:4317", Compression::None, &[], None).is_err());
        assert!(GrpcClient::new("https://collector:4317", Compression::None, &[], None).is_ok());
        assert!(GrpcClient::new("http://127.0.0.1:4317", Compression::ZSTD_DEFAULT, &[], None).is_ok());
        let bad = [("bad key".to_owned(), "v".to_owned())];
        assert!(GrpcClient::new("http://127.0.0.1:4317", Compression::None, &bad, None).is_err());
    }
}

/// A loopback gRPC trace service that answers every Export with status OK
/// and a message that is not an `ExportTraceServiceResponse`.
#[cfg(test)]
mod loopback {
    use std::time::Duration;

    use bytes::Bytes;
    use tonic::codegen::{Context, Poll, StdError};
    use tonic::{Request, Response, Status};

    use super::{PATHS, PassThrough};
    use crate::exporter::{Exporter, Protocol};
    use crate::fixtures;
    use crate::pipeline::PipelineConfig;

    /// Bounds the whole exchange: a hang guard, not a timing check.
    const HANG_GUARD: Duration = Duration::from_secs(60);

    type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

    #[derive(Clone)]
    struct GarbageTraces;

    impl tonic::server::NamedService for GarbageTraces {
        const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
    }

    impl<B> tower::Service<http::Request<B>> for GarbageTraces
    where
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
            assert_eq!(req.uri().path(), PATHS[0]);
            let mut grpc = tonic::server::Grpc::new(PassThrough);
            Box::pin(async move {
                let export = tower::service_fn(|_request: Request<Bytes>| async {
                    // Field 1 with wire type 7, which protobuf does not have.
                    Ok::<_, Status>(Response::new(Bytes::from_static(b"\x0fnot a response")))
                });
                Ok(grpc.unary(export, req).await)
            })
        }
    }

    #[tokio::test]
    async fn an_ok_answer_that_does_not_decode_counts_as_exported() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        let server = tonic::transport::Server::builder().add_service(GarbageTraces).serve_with_incoming(incoming);
        tokio::spawn(server);

        let exporter = Exporter::builder()
            .endpoint(format!("http://{addr}"))
            .protocol(Protocol::Grpc)
            .batch(PipelineConfig { max_batch_items: 5, ..PipelineConfig::default() })
            .build()
            .expect("valid settings");
        for s in fixtures::spans(12) {
            exporter.handle().try_span(s).expect("room");
        }
        let stats = tokio::time::timeout(HANG_GUARD, exporter.shutdown(Duration::from_secs(30)))
            .await
            .expect("shutdown hung")
            .expect("the batcher is alive");
        let (p, t) = (stats.pipeline, stats.transport);
        assert_eq!((p.accepted, p.exported, p.dropped_total()), (12, 12, 0), "{p}");
        assert!(p.is_balanced());
        assert_eq!(t.unreadable_response_bodies, 3, "{t:?}");
        assert_eq!((t.attempts, t.retries, t.last_error.as_deref()), (3, 0, None), "{t:?}");
        let last = t.last_unreadable_response.expect("the latest unreadable answer");
        assert!(last.contains("OK answer is not an Export*ServiceResponse"), "{last}");
    }
}
