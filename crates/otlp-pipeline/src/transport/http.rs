//! OTLP/HTTP export attempts on a keep-alive hyper client (HTTP/1.1).

use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use prost::Message;

use super::{Accepted, Attempt, TransportError};
use crate::encode::Signal;
use crate::pipeline::{BodyFormat, ExportRequest};

/// Largest response body read: a `Status` or partial-success message is tiny.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// `google.rpc.Status`, the body of an OTLP/HTTP error response.
#[derive(Clone, PartialEq, Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// The `partial_success` of any `Export*ServiceResponse`: field 1 holds the
/// rejected count (field 1) and a message (field 2) for every signal.
#[derive(Clone, PartialEq, Message)]
pub(super) struct ExportResponse {
    #[prost(message, optional, tag = "1")]
    pub(super) partial_success: Option<PartialSuccessProto>,
}

#[derive(Clone, PartialEq, Message)]
pub(super) struct PartialSuccessProto {
    #[prost(int64, tag = "1")]
    pub(super) rejected: i64,
    #[prost(string, tag = "2")]
    pub(super) error_message: String,
}

/// An endpoint that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpConfigError {
    /// Not a URL.
    #[error("invalid endpoint `{endpoint}`: {source}")]
    Uri {
        /// What was given.
        endpoint: String,
        /// Why it does not parse.
        #[source]
        source: http::uri::InvalidUri,
    },
    /// A scheme other than http or https, or no host.
    #[error("endpoint `{0}`: expected http:// or https://host[:port][/path]")]
    Scheme(String),
    /// The TLS settings cannot be used.
    #[error(transparent)]
    Tls(#[from] super::tls::TlsError),
    /// A header name or value that HTTP does not allow.
    #[error("invalid header `{0}`")]
    Header(String),
}

/// An OTLP/HTTP client for one endpoint (`/v1/traces`, `/v1/metrics`,
/// `/v1/logs` below its base URL). Connections are kept alive and reused.
#[derive(Clone, Debug)]
pub struct HttpClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    uris: [Uri; 3],
    labels: [Box<str>; 3],
    headers: HeaderMap,
}

impl HttpClient {
    /// A client for `base` (e.g. `http://127.0.0.1:4318`) with extra headers
    /// (API keys) sent on every request.
    pub fn new(base: &str, headers: &[(String, String)]) -> Result<Self, HttpConfigError> {
        let base = base.trim_end_matches('/');
        Self::with_urls(
            [&format!("{base}/v1/traces"), &format!("{base}/v1/metrics"), &format!("{base}/v1/logs")],
            headers,
            None,
        )
    }

    /// A client with a full URL per signal (traces, metrics, logs). https
    /// URLs trust the system's roots and the PEM certificates of `ca_file`.
    pub fn with_urls(
        urls: [&str; 3],
        headers: &[(String, String)],
        ca_file: Option<&std::path::Path>,
    ) -> Result<Self, HttpConfigError> {
        let parse = |url: &str| -> Result<(Uri, Box<str>), HttpConfigError> {
            let uri: Uri = url.parse().map_err(|source| HttpConfigError::Uri { endpoint: url.to_owned(), source })?;
            if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
                return Err(HttpConfigError::Scheme(url.to_owned()));
            }
            Ok((uri, url.into()))
        };
        let (t, tl) = parse(urls[0])?;
        let (m, ml) = parse(urls[1])?;
        let (l, ll) = parse(urls[2])?;
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            let name = HeaderName::try_from(k.as_str()).map_err(|_| HttpConfigError::Header(k.clone()))?;
            let value = HeaderValue::try_from(v.as_str()).map_err(|_| HttpConfigError::Header(k.clone()))?;
            map.append(name, value);
        }
        let tls = super::tls::client_config(ca_file)?;
        let connector = HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http().enable_http1().build();
        let client = Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(90)).build(connector);
        Ok(HttpClient { client, uris: [t, m, l], labels: [tl, ml, ll], headers: map })
    }

    fn index(signal: Signal) -> usize {
        match signal {
            Signal::Traces => 0,
            Signal::Metrics => 1,
            Signal::Logs => 2,
        }
    }

    /// One POST of the request's body. The body is shared, not copied: its
    /// pooled buffer goes back to the pipeline's pool once hyper is done.
    pub async fn send(&self, request: &ExportRequest) -> Result<Accepted, TransportError> {
        let i = Self::index(request.signal);
        let endpoint = &self.labels[i];
        let content_type = match request.format {
            BodyFormat::Protobuf => "application/x-protobuf",
            BodyFormat::Json => "application/json",
        };
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(self.uris[i].clone())
            .header(header::CONTENT_TYPE, content_type);
        if let Some(encoding) = request.compression.content_encoding() {
            builder = builder.header(header::CONTENT_ENCODING, encoding);
        }
        let mut req = builder.body(Full::new(request.body.clone())).expect("method, URI and static headers are valid");
        req.headers_mut().extend(self.headers.clone());
        let response = self
            .client
            .request(req)
            .await
            .map_err(|e| TransportError::Connect { endpoint: endpoint.clone(), source: std::io::Error::other(e) })?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let is_json = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES).collect().await.map(|c| c.to_bytes());
        if status.is_success() {
            // A 2xx means the receiver took the batch, whatever its body
            // says: an unreadable body only loses a partial success it might
            // have reported, so the batch counts as delivered, and the body
            // is reported apart.
            let accepted = match body {
                Ok(body) => partial_success(&body, is_json)
                    .unwrap_or_else(|| unreadable(endpoint, "2xx body is not an Export*ServiceResponse")),
                Err(_) => unreadable(endpoint, "2xx body unreadable or over 64 KiB"),
            };
            return Ok(accepted);
        }
        let message = body.ok().and_then(|b| status_message(&b, is_json));
        Err(TransportError::Status { status: status.as_u16(), endpoint: endpoint.clone(), retry_after, message })
    }
}

impl Attempt for HttpClient {
    fn attempt(
        &self,
        request: &ExportRequest,
    ) -> impl std::future::Future<Output = Result<Accepted, TransportError>> + Send {
        self.send(request)
    }
}

/// A success whose answer could not be read: delivered in full, with what
/// was wrong for [`super::Resilient`] to count (the slow path: the text is
/// only built here).
pub(super) fn unreadable(endpoint: &str, reason: &str) -> Accepted {
    Accepted { rejected: 0, message: None, unreadable_body: Some(format!("{reason} from {endpoint}").into()) }
}

fn partial_success(body: &[u8], is_json: bool) -> Option<Accepted> {
    if body.is_empty() {
        return Some(Accepted::default());
    }
    if is_json {
        let v: serde_json::Value = serde_json::from_slice(body).ok()?;
        let ps = &v["partialSuccess"];
        // rejectedSpans / rejectedDataPoints / rejectedLogRecords, as a string or a number.
        let rejected = ps
            .as_object()
            .and_then(|o| o.iter().find(|(k, _)| k.starts_with("rejected")).map(|(_, v)| v))
            .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
            .unwrap_or(0);
        let message = ps["errorMessage"].as_str().filter(|m| !m.is_empty()).map(Into::into);
        return Some(Accepted { rejected, message, unreadable_body: None });
    }
    let r = ExportResponse::decode(body).ok()?;
    let ps = r.partial_success.unwrap_or_default();
    Some(Accepted {
        rejected: u64::try_from(ps.rejected).unwrap_or(0),
        message: (!ps.error_message.is_empty()).then(|| ps.error_message.into_boxed_str()),
        unreadable_body: None,
    })
}

fn status_message(body: &[u8], is_json: bool) -> Option<Box<str>> {
    let message = if is_json {
        serde_json::from_slice::<serde_json::Value>(body).ok()?["message"].as_str()?.to_owned()
    } else {
        RpcStatus::decode(body).ok()?.message
    };
    (!message.is_empty()).then(|| message.into_boxed_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_checked() {
        assert!(HttpClient::new("http://127.0.0.1:4318/", &[]).is_ok());
        assert!(HttpClient::new("https://collector:4318", &[]).is_ok());
        assert!(matches!(HttpClient::new("ftp://collector:4318", &[]), Err(HttpConfigError::Scheme(_))));
        let missing = Some(std::path::Path::new("/nonexistent/ca.pem"));
        let urls = ["https://h:1/a", "https://h:1/b", "https://h:1/c"];
        assert!(matches!(HttpClient::with_urls(urls, &[], missing), Err(HttpConfigError::Tls(_))));
        assert!(matches!(
            HttpClient::new("not a url", &[]),
            Err(HttpConfigError::Uri { .. } | HttpConfigError::Scheme(_))
        ));
        let bad = [("bad header".to_owned(), "x".to_owned())];
        assert!(matches!(HttpClient::new("http://h:1", &bad), Err(HttpConfigError::Header(_))));
    }

    #[test]
    fn partial_success_reads_both_formats() {
        let proto = ExportResponse {
            partial_success: Some(PartialSuccessProto { rejected: 3, error_message: "bad ids".into() }),
        }
        .encode_to_vec();
        assert_eq!(
            partial_success(&proto, false),
            Some(Accepted { rejected: 3, message: Some("bad ids".into()), unreadable_body: None })
        );
        let json = br#"{"partialSuccess":{"rejectedSpans":"2","errorMessage":"x"}}"#;
        assert_eq!(
            partial_success(json, true),
            Some(Accepted { rejected: 2, message: Some("x".into()), unreadable_body: None })
        );
        assert_eq!(partial_success(b"", false), Some(Accepted::default()));
        assert_eq!(partial_success(b"{}", true), Some(Accepted::default()));
        let status = RpcStatus { code: 3, message: "no".into() }.encode_to_vec();
        assert_eq!(status_message(&status, false).as_deref(), Some("no"));
        assert_eq!(status_message(br#"{"code":3,"message":"no"}"#, true).as_deref(), Some("no"));
    }
}

/// A loopback OTLP/HTTP "receiver" that answers every request 200 with a
/// fixed body, and the exporter against it.
#[cfg(test)]
mod loopback {
    use std::convert::Infallible;
    use std::time::Duration;

    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use hyper::body::Incoming;
    use hyper_util::rt::TokioIo;
    use tokio::net::TcpListener;

    use crate::exporter::{Exporter, Protocol};
    use crate::fixtures;
    use crate::pipeline::PipelineConfig;

    /// Bounds the whole exchange: a hang guard, not a timing check.
    const HANG_GUARD: Duration = Duration::from_secs(60);

    /// Serves `200` with `body` (as `content_type`) on a loopback port until
    /// the runtime ends; returns the base URL.
    async fn answering_200(content_type: &'static str, body: Bytes) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let body = body.clone();
                let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                    let body = body.clone();
                    async move {
                        let _request_body = request.into_body().collect().await;
                        let response = hyper::Response::builder()
                            .status(200)
                            .header(http::header::CONTENT_TYPE, content_type)
                            .body(Full::new(body))
                            .expect("valid response");
                        Ok::<_, Infallible>(response)
                    }
                });
                tokio::spawn(async move {
                    let _served_or_reset = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        format!("http://{addr}")
    }

    /// Exports 12 spans in batches of 5 against a receiver that answers 200
    /// with `body`: every span counts as exported, nothing as dropped, and
    /// each answer as one unreadable response body.
    async fn exported_with_unreadable_bodies(protocol: Protocol, content_type: &'static str, body: Bytes, why: &str) {
        let base = answering_200(content_type, body).await;
        let exporter = Exporter::builder()
            .endpoint(base)
            .batch(PipelineConfig { max_batch_items: 5, ..PipelineConfig::default() })
            .protocol(protocol)
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
        assert_eq!((p.accepted, p.exported, p.dropped_total()), (12, 12, 0), "{protocol}: {p}");
        assert!(p.is_balanced());
        assert_eq!((p.requests, p.failed_requests), (3, 0), "{protocol}: {p}");
        assert_eq!(t.unreadable_response_bodies, 3, "{protocol}: {t:?}");
        assert_eq!((t.attempts, t.retries, t.partial_successes), (3, 0, 0), "{protocol}: {t:?}");
        assert_eq!(t.last_error, None, "{protocol}");
        let last = t.last_unreadable_response.expect("the latest unreadable answer");
        assert!(last.contains(why) && last.contains("/v1/traces"), "{protocol}: {last}");
    }

    #[tokio::test]
    async fn a_2xx_with_a_garbage_body_counts_as_exported() {
        // Field 1 with wire type 7, which protobuf does not have.
        let garbage = Bytes::from_static(b"\x0fnot an ExportTraceServiceResponse");
        let why = "is not an Export*ServiceResponse";
        exported_with_unreadable_bodies(Protocol::HttpProtobuf, "application/x-protobuf", garbage, why).await;
        let not_json = Bytes::from_static(b"{\"partialSuccess\": oops");
        exported_with_unreadable_bodies(Protocol::HttpJson, "application/json", not_json, why).await;
    }

    #[tokio::test]
    async fn a_2xx_with_a_body_over_64_kib_counts_as_exported() {
        let huge = Bytes::from(vec![0u8; super::MAX_RESPONSE_BYTES + 1024]);
        let why = "unreadable or over 64 KiB";
        exported_with_unreadable_bodies(Protocol::HttpProtobuf, "application/x-protobuf", huge, why).await;
    }

    #[test]
    fn unreadable_answers_are_full_deliveries() {
        assert_eq!(super::partial_success(b"\x0fgarbage", false), None);
        assert_eq!(super::partial_success(b"not json", true), None);
        let a = super::unreadable("http://h/v1/logs", "2xx body is not an Export*ServiceResponse");
        assert_eq!((a.rejected, a.message), (0, None));
        assert_eq!(
            a.unreadable_body.as_deref(),
            Some("2xx body is not an Export*ServiceResponse from http://h/v1/logs")
        );
    }
}
