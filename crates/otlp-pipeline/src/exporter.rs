//! The exporter a service embeds: the pipeline plus a resilient transport,
//! configured by a builder or by the standard `OTEL_EXPORTER_OTLP_*`
//! environment variables.
//!
//! ```no_run
//! # async fn f() -> otlp_pipeline::Result<()> {
//! use otlp_pipeline::exporter::{Exporter, Protocol};
//! use otlp_pipeline::model::{Span, SpanKind};
//! let exporter = Exporter::builder().endpoint("http://127.0.0.1:4318").protocol(Protocol::HttpProtobuf).build()?;
//! exporter.handle().span(Span::builder("GET /users").kind(SpanKind::Server).build());
//! let stats = exporter.shutdown(std::time::Duration::from_secs(5)).await?;
//! assert!(stats.pipeline.is_balanced());
//! # Ok(()) }
//! ```

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::compress::{CompressError, Compression};
use crate::model::{InstrumentationScope, Resource};
use crate::pipeline::{BodyFormat, FlushError, Handle, Pipeline, PipelineConfig, ShutdownError, StatsSnapshot};
use crate::pipeline::{ExportRequest, ExportResult, ExportSink};
use crate::transport::grpc::GrpcClient;
use crate::transport::http::{HttpClient, HttpConfigError};
use crate::transport::{Accepted, Attempt, BreakerConfig, Resilient, ResilientStats, RetryConfig, TransportError};

/// The client behind an exporter.
#[derive(Debug)]
enum Client {
    // One per exporter: the size difference does not matter.
    Http(Box<HttpClient>),
    Grpc(GrpcClient),
}

impl Attempt for Client {
    async fn attempt(&self, request: &ExportRequest) -> Result<Accepted, TransportError> {
        match self {
            Client::Http(c) => c.send(request).await,
            Client::Grpc(c) => c.send(request).await,
        }
    }
}

/// The OTLP protocol, named as `OTEL_EXPORTER_OTLP_PROTOCOL` names it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// `http/protobuf`
    #[default]
    HttpProtobuf,
    /// `http/json`
    HttpJson,
    /// `grpc`
    Grpc,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::HttpJson => "http/json",
            Protocol::Grpc => "grpc",
        })
    }
}

impl FromStr for Protocol {
    type Err = ExporterError;
    fn from_str(s: &str) -> Result<Self, ExporterError> {
        match s.trim() {
            "http/protobuf" => Ok(Protocol::HttpProtobuf),
            "http/json" => Ok(Protocol::HttpJson),
            "grpc" => Ok(Protocol::Grpc),
            other => Err(ExporterError::Invalid {
                setting: "protocol",
                value: other.into(),
                expected: "http/protobuf, http/json or grpc",
            }),
        }
    }
}

/// Why an exporter could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExporterError {
    /// A setting (or environment variable) has a value it cannot take.
    #[error("invalid {setting} `{value}`: expected {expected}")]
    Invalid {
        /// The setting or variable.
        setting: &'static str,
        /// What it was.
        value: Box<str>,
        /// What it may be.
        expected: &'static str,
    },
    /// The endpoint or a header is unusable.
    #[error(transparent)]
    Http(#[from] HttpConfigError),
    /// The compression setting is invalid.
    #[error(transparent)]
    Compression(#[from] CompressError),
    /// The pipeline's settings are invalid.
    #[error(transparent)]
    Pipeline(#[from] crate::pipeline::ConfigError),
    /// The retry, breaker or timeout settings are invalid.
    #[error(transparent)]
    Transport(#[from] crate::transport::ConfigError),
    /// A setting that does not apply to the protocol.
    #[error("{0}")]
    Unsupported(&'static str),
}

/// Default OTLP/HTTP endpoint (the spec's).
pub const DEFAULT_HTTP_ENDPOINT: &str = "http://localhost:4318";
/// Default OTLP/gRPC endpoint (the spec's).
pub const DEFAULT_GRPC_ENDPOINT: &str = "http://localhost:4317";

/// Builds an [`Exporter`].
#[derive(Clone, Debug)]
#[must_use]
pub struct ExporterBuilder {
    endpoint: String,
    /// False until an endpoint is given: the default then follows the protocol.
    endpoint_set: bool,
    signal_endpoints: [Option<String>; 3],
    protocol: Protocol,
    headers: Vec<(String, String)>,
    ca_file: Option<std::path::PathBuf>,
    timeout: Duration,
    batch: PipelineConfig,
    retry: RetryConfig,
    breaker: BreakerConfig,
    resource: Resource,
    scope: InstrumentationScope,
    observer: Option<Arc<dyn ExportObserver>>,
}

impl Default for ExporterBuilder {
    fn default() -> Self {
        ExporterBuilder {
            endpoint: DEFAULT_HTTP_ENDPOINT.to_owned(),
            signal_endpoints: [None, None, None],
            protocol: Protocol::HttpProtobuf,
            headers: Vec::new(),
            ca_file: None,
            timeout: Resilient::<HttpClient>::DEFAULT_TIMEOUT,
            endpoint_set: false,
            batch: PipelineConfig::default(),
            retry: RetryConfig::default(),
            breaker: BreakerConfig::default(),
            resource: Resource::default(),
            scope: InstrumentationScope::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION")),
            observer: None,
        }
    }
}

impl ExporterBuilder {
    /// The base URL; `/v1/traces`, `/v1/metrics` and `/v1/logs` are appended.
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = url.into();
        self.endpoint_set = true;
        self
    }
    /// A full URL for one signal's requests (used as is).
    pub fn signal_endpoint(mut self, signal: crate::encode::Signal, url: impl Into<String>) -> Self {
        self.signal_endpoints[signal_index(signal)] = Some(url.into());
        self
    }
    /// The protocol.
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }
    /// The body codec.
    pub fn compression(mut self, compression: Compression) -> Self {
        self.batch.compression = compression;
        self
    }
    /// Headers sent with every request (API keys).
    pub fn headers(mut self, headers: impl IntoIterator<Item = (String, String)>) -> Self {
        self.headers.extend(headers);
        self
    }
    /// A PEM file of CA certificates trusted for https endpoints, besides
    /// the system's roots.
    pub fn ca_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }
    /// Timeout of one export attempt.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
    /// Batching and queueing (its `compression` and `format` are overridden by
    /// [`Self::compression`] and [`Self::protocol`] when those are set after it).
    pub fn batch(mut self, batch: PipelineConfig) -> Self {
        self.batch = batch;
        self
    }
    /// Retries and backoff.
    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }
    /// The circuit breaker.
    pub fn breaker(mut self, breaker: BreakerConfig) -> Self {
        self.breaker = breaker;
        self
    }
    /// The resource every batch carries.
    pub fn resource(mut self, resource: Resource) -> Self {
        self.resource = resource;
        self
    }
    /// The instrumentation scope every batch carries (default: this crate,
    /// `otlp-pipeline` and its version).
    pub fn scope(mut self, scope: InstrumentationScope) -> Self {
        self.scope = scope;
        self
    }

    /// Told once per export request how long it took (retries and backoff
    /// included) and how it ended: the lab's latency histograms.
    pub fn observer(mut self, observer: Arc<dyn ExportObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Applies the `OTEL_EXPORTER_OTLP_*` variables of the process
    /// environment (see [`Self::from_env_with`]).
    pub fn from_env(self) -> Result<Self, ExporterError> {
        self.from_env_with(|k| std::env::var(k).ok())
    }

    /// Applies the standard variables, read through `get`:
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_ENDPOINT`,
    /// `OTEL_EXPORTER_OTLP_HEADERS` (`k=v,k2=v2`, values percent-decoded),
    /// `OTEL_EXPORTER_OTLP_COMPRESSION` (`none`, `gzip`, `zstd`),
    /// `OTEL_EXPORTER_OTLP_TIMEOUT` (milliseconds), `OTEL_EXPORTER_OTLP_PROTOCOL`
    /// and `OTEL_EXPORTER_OTLP_CERTIFICATE` (a PEM CA file).
    /// The per-signal variants of headers, compression, timeout and protocol
    /// are not read (one pipeline carries all signals).
    pub fn from_env_with(mut self, get: impl Fn(&str) -> Option<String>) -> Result<Self, ExporterError> {
        if let Some(v) = get("OTEL_EXPORTER_OTLP_ENDPOINT") {
            self = self.endpoint(v);
        }
        for (i, signal) in ["TRACES", "METRICS", "LOGS"].iter().enumerate() {
            if let Some(v) = get(&format!("OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")) {
                self.signal_endpoints[i] = Some(v);
            }
        }
        if let Some(v) = get("OTEL_EXPORTER_OTLP_CERTIFICATE") {
            self.ca_file = Some(v.into());
        }
        if let Some(v) = get("OTEL_EXPORTER_OTLP_HEADERS") {
            self.headers.extend(parse_headers(&v)?);
        }
        if let Some(v) = get("OTEL_EXPORTER_OTLP_COMPRESSION") {
            self.batch.compression = v.parse()?;
        }
        if let Some(v) = get("OTEL_EXPORTER_OTLP_TIMEOUT") {
            let ms = v.trim().parse::<u64>().map_err(|_| ExporterError::Invalid {
                setting: "OTEL_EXPORTER_OTLP_TIMEOUT",
                value: v.as_str().into(),
                expected: "milliseconds as a whole number",
            })?;
            self.timeout = Duration::from_millis(ms);
        }
        if let Some(v) = get("OTEL_EXPORTER_OTLP_PROTOCOL") {
            self.protocol = v.parse()?;
        }
        Ok(self)
    }

    /// Starts the exporter's pipeline on the current tokio runtime.
    pub fn build(mut self) -> Result<Exporter, ExporterError> {
        let client = match self.protocol {
            Protocol::HttpProtobuf | Protocol::HttpJson => {
                self.batch.format =
                    if self.protocol == Protocol::HttpJson { BodyFormat::Json } else { BodyFormat::Protobuf };
                let base = self.endpoint.trim_end_matches('/');
                let url =
                    |i: usize, path: &str| self.signal_endpoints[i].clone().unwrap_or_else(|| format!("{base}{path}"));
                Client::Http(Box::new(HttpClient::with_urls(
                    [&url(0, "/v1/traces"), &url(1, "/v1/metrics"), &url(2, "/v1/logs")],
                    &self.headers,
                    self.ca_file.as_deref(),
                )?))
            }
            Protocol::Grpc => {
                if self.signal_endpoints.iter().any(Option::is_some) {
                    return Err(ExporterError::Unsupported("per-signal endpoints are an OTLP/HTTP setting"));
                }
                let endpoint = if self.endpoint_set { self.endpoint.as_str() } else { DEFAULT_GRPC_ENDPOINT };
                self.batch.format = BodyFormat::Protobuf;
                // tonic applies grpc-encoding itself: the pipeline hands it raw bodies.
                let codec = std::mem::replace(&mut self.batch.compression, Compression::None);
                Client::Grpc(GrpcClient::new(endpoint, codec, &self.headers, self.ca_file.as_deref())?)
            }
        };
        let sink = Arc::new(Resilient::new(client, self.retry, self.breaker, self.timeout)?);
        let observed = Observed { sink: sink.clone(), observer: self.observer };
        let pipeline = Pipeline::start(self.batch, self.resource, self.scope, observed)?;
        Ok(Exporter { pipeline, sink })
    }
}

/// Sees every export request once it has ended (delivered or dropped),
/// with its duration from the first attempt to the final result. Called on
/// the export task: keep it short and free of allocation.
pub trait ExportObserver: Send + Sync + fmt::Debug + 'static {
    /// One export request ended after `elapsed`.
    fn exported(&self, request: &ExportRequest, result: &ExportResult, elapsed: Duration);
}

/// The exporter's sink: the resilient transport, timed for the observer.
#[derive(Debug)]
struct Observed {
    sink: Arc<Resilient<Client>>,
    observer: Option<Arc<dyn ExportObserver>>,
}

impl ExportSink for Observed {
    async fn export(&self, request: &ExportRequest) -> ExportResult {
        let Some(observer) = &self.observer else { return self.sink.export(request).await };
        let start = std::time::Instant::now();
        let result = self.sink.export(request).await;
        observer.exported(request, &result, start.elapsed());
        result
    }
}

fn signal_index(signal: crate::encode::Signal) -> usize {
    match signal {
        crate::encode::Signal::Traces => 0,
        crate::encode::Signal::Metrics => 1,
        crate::encode::Signal::Logs => 2,
    }
}

/// `k=v,k2=v2` with percent-encoded values (W3C Baggage style, as the spec says).
fn parse_headers(v: &str) -> Result<Vec<(String, String)>, ExporterError> {
    let invalid = || ExporterError::Invalid {
        setting: "OTEL_EXPORTER_OTLP_HEADERS",
        value: v.into(),
        expected: "comma-separated key=value pairs",
    };
    v.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|pair| {
            let (k, val) = pair.split_once('=').ok_or_else(invalid)?;
            let k = k.trim();
            if k.is_empty() {
                return Err(invalid());
            }
            Ok((k.to_owned(), percent_decode(val.trim()).ok_or_else(invalid)?))
        })
        .collect()
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            out.push(crate::simd::hex_decode_scalar::<1>(hex)?[0]);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Counters of the pipeline and of the transport.
#[derive(Clone, Debug)]
pub struct ExporterStats {
    /// Items accepted, exported and dropped by reason.
    pub pipeline: StatsSnapshot,
    /// Attempts, retries, timeouts, breaker refusals, partial successes,
    /// unreadable success answers.
    pub transport: ResilientStats,
}

/// A running exporter.
#[derive(Debug)]
pub struct Exporter {
    pipeline: Pipeline,
    sink: Arc<Resilient<Client>>,
}

impl Exporter {
    /// Starts building an exporter (defaults: http/protobuf to `http://localhost:4318`
    /// or grpc to `http://localhost:4317`, no compression).
    pub fn builder() -> ExporterBuilder {
        ExporterBuilder::default()
    }

    /// A handle that records spans, metrics and logs without blocking.
    pub fn handle(&self) -> Handle {
        self.pipeline.handle()
    }

    /// The counters now.
    pub fn stats(&self) -> ExporterStats {
        ExporterStats { pipeline: self.pipeline.stats(), transport: self.sink.stats() }
    }

    /// True once the pipeline's batcher task has panicked (see
    /// [`Handle::batcher_panicked`]).
    pub fn batcher_panicked(&self) -> bool {
        self.pipeline.batcher_panicked()
    }

    /// Delivers everything queued, waiting at most `timeout`.
    pub async fn flush(&self, timeout: Duration) -> Result<(), FlushError> {
        self.pipeline.flush(timeout).await
    }

    /// Delivers everything queued until `deadline`; the rest is counted as dropped.
    ///
    /// # Errors
    /// [`ShutdownError::BatcherPanicked`] if the pipeline's batcher task
    /// panicked; the error carries the final counters (see
    /// [`Pipeline::shutdown`]).
    pub async fn shutdown(self, deadline: Duration) -> Result<ExporterStats, ShutdownError<ExporterStats>> {
        let sink = self.sink;
        match self.pipeline.shutdown(deadline).await {
            Ok(pipeline) => Ok(ExporterStats { pipeline, transport: sink.stats() }),
            Err(e) => Err(e.map_stats(|pipeline| ExporterStats { pipeline, transport: sink.stats() })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn environment_variables_configure_the_exporter() {
        let env: HashMap<&str, &str> = HashMap::from([
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9999/"),
            ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://127.0.0.1:7777/custom/logs"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=s%20ecret, x-team = lab"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ]);
        let b = Exporter::builder().from_env_with(|k| env.get(k).map(|v| (*v).to_owned())).expect("valid");
        assert_eq!(b.endpoint, "http://127.0.0.1:9999/");
        assert_eq!(b.signal_endpoints[2].as_deref(), Some("http://127.0.0.1:7777/custom/logs"));
        assert_eq!(b.headers, vec![("api-key".into(), "s ecret".into()), ("x-team".into(), "lab".into())]);
        assert_eq!(b.batch.compression, Compression::ZSTD_DEFAULT);
        assert_eq!(b.timeout, Duration::from_millis(2500));
        assert_eq!(b.protocol, Protocol::HttpJson);
    }

    #[test]
    fn bad_settings_are_named() {
        let bad = |k: &'static str, v: &'static str| {
            Exporter::builder().from_env_with(|q| (q == k).then(|| v.to_owned())).expect_err(k).to_string()
        };
        assert!(bad("OTEL_EXPORTER_OTLP_PROTOCOL", "thrift").contains("protocol"));
        assert!(bad("OTEL_EXPORTER_OTLP_TIMEOUT", "10s").contains("OTEL_EXPORTER_OTLP_TIMEOUT"));
        assert!(bad("OTEL_EXPORTER_OTLP_HEADERS", "novalue").contains("OTEL_EXPORTER_OTLP_HEADERS"));
        assert!(bad("OTEL_EXPORTER_OTLP_COMPRESSION", "lz4").contains("lz4"));
        for p in ["http/protobuf", "http/json", "grpc"] {
            assert_eq!(p.parse::<Protocol>().expect("valid").to_string(), p);
        }
    }
}
