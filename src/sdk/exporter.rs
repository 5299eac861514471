//! The SDK's OTLP exporters: built from one [`Transport`] for every signal,
//! and wrapped ([`Instrumented`]) so that each export call is polled in the
//! I/O runtime, counted when it succeeds and, when a recorder is given, timed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use opentelemetry::logs::Severity;
use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _, WithTonicConfig as _};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogExporter};
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use super::runtime::in_runtime;
use super::{SdkError, compression};
use crate::harness::LatencyRecorder;
use otlp_pipeline::compress::Compression;
use otlp_pipeline::exporter::Protocol;

/// Where and how the SDK's exporters send.
#[derive(Clone, Debug)]
pub struct Transport {
    /// Base URL (`/v1/traces` and so on are appended for OTLP/HTTP).
    pub endpoint: String,
    /// http/protobuf or grpc (the SDK's http/json feature is not built).
    pub protocol: Protocol,
    /// none, gzip or zstd (the SDK picks the level itself).
    pub compression: Compression,
}

/// One OTLP exporter of the SDK for `$path` (OTLP/HTTP) with the
/// transport's protocol and codec; `$extra` are further builder calls.
macro_rules! build_exporter {
    ($t:ty, $transport:expr, $path:literal $(, $extra:ident($arg:expr))*) => {{
        let transport: &Transport = $transport;
        let base = transport.endpoint.trim_end_matches('/');
        let codec = compression(transport.compression);
        match transport.protocol {
            Protocol::HttpProtobuf => {
                let mut b = <$t>::builder()
                    .with_http()
                    .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                    .with_endpoint(format!("{base}{}", $path))
                    $(.$extra($arg))*;
                if let Some(c) = codec {
                    b = b.with_compression(c);
                }
                Ok(b.build()?)
            }
            Protocol::Grpc => {
                let mut b = <$t>::builder().with_tonic().with_endpoint(base) $(.$extra($arg))*;
                if let Some(c) = codec {
                    b = b.with_compression(c);
                }
                Ok(b.build()?)
            }
            other => Err(SdkError::Protocol(other)),
        }
    }};
}

impl Transport {
    /// The span exporter. Call it inside the I/O runtime: tonic's channel
    /// spawns its worker when it is built.
    pub(crate) fn span_exporter(&self) -> Result<opentelemetry_otlp::SpanExporter, SdkError> {
        build_exporter!(opentelemetry_otlp::SpanExporter, self, "/v1/traces")
    }

    /// The metric exporter (cumulative temporality, as ours sends).
    pub(crate) fn metric_exporter(&self) -> Result<opentelemetry_otlp::MetricExporter, SdkError> {
        build_exporter!(
            opentelemetry_otlp::MetricExporter,
            self,
            "/v1/metrics",
            with_temporality(Temporality::Cumulative)
        )
    }

    /// The log exporter.
    pub(crate) fn log_exporter(&self) -> Result<opentelemetry_otlp::LogExporter, SdkError> {
        build_exporter!(opentelemetry_otlp::LogExporter, self, "/v1/logs")
    }
}

/// What the wrapped exporters delivered: the processors drop silently, so
/// this is how a run knows what arrived.
#[derive(Debug, Default)]
pub struct SdkCounters {
    /// Spans in export calls that succeeded.
    pub spans: AtomicU64,
    /// Log records in export calls that succeeded.
    pub logs: AtomicU64,
    /// Metric export calls that succeeded.
    pub metric_exports: AtomicU64,
}

/// An SDK exporter polled in the I/O runtime, counted, and timed per call
/// when `latency` is given.
#[derive(Debug)]
pub(crate) struct Instrumented<E> {
    inner: E,
    io: tokio::runtime::Handle,
    latency: Option<Arc<LatencyRecorder>>,
    counters: Arc<SdkCounters>,
}

impl<E> Instrumented<E> {
    /// Wraps `inner`.
    pub(crate) fn new(
        inner: E,
        io: &tokio::runtime::Handle,
        latency: Option<&Arc<LatencyRecorder>>,
        counters: &Arc<SdkCounters>,
    ) -> Self {
        Instrumented { inner, io: io.clone(), latency: latency.cloned(), counters: counters.clone() }
    }

    /// Records the call's latency and counts `n` items of a call that succeeded.
    fn done(&self, start: Instant, result: &OTelSdkResult, n: u64, what: &'static str, counter: &AtomicU64) {
        if let Some(l) = &self.latency {
            l.record(start.elapsed());
        }
        match result {
            Ok(()) => {
                counter.fetch_add(n, Relaxed);
            }
            // The processors only log a failed export, and the SDK's internal logs are off here.
            Err(e) => eprintln!("otlp-lab: official SDK export of {n} {what} failed: {e}"),
        }
    }
}

impl<E: SpanExporter> SpanExporter for Instrumented<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let n = batch.len() as u64;
        let start = Instant::now();
        let result = in_runtime(&self.io, self.inner.export(batch)).await;
        self.done(start, &result, n, "spans", &self.counters.spans);
        result
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let _entered = self.io.enter();
        self.inner.shutdown_with_timeout(timeout)
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }
    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.inner.set_resource(resource);
    }
}

impl<E: LogExporter> LogExporter for Instrumented<E> {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        let n = batch.iter().count() as u64;
        let start = Instant::now();
        let result = in_runtime(&self.io, self.inner.export(batch)).await;
        self.done(start, &result, n, "log records", &self.counters.logs);
        result
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let _entered = self.io.enter();
        self.inner.shutdown_with_timeout(timeout)
    }
    fn event_enabled(&self, level: Severity, target: &str, name: Option<&str>) -> bool {
        self.inner.event_enabled(level, target, name)
    }
    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.inner.set_resource(resource);
    }
}

impl<E: PushMetricExporter> PushMetricExporter for Instrumented<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let start = Instant::now();
        let result = in_runtime(&self.io, self.inner.export(metrics)).await;
        self.done(start, &result, 1, "metric batches", &self.counters.metric_exports);
        result
    }
    fn force_flush(&self) -> OTelSdkResult {
        let _entered = self.io.enter();
        self.inner.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let _entered = self.io.enter();
        self.inner.shutdown_with_timeout(timeout)
    }
    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}
