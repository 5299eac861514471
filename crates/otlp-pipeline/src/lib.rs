//! otlp-pipeline: a lean OTLP telemetry pipeline for services to embed.
//!
//! The data flow, from a service's code to a collector (or, in tests and
//! load runs, to this crate's own receiver):
//!
//! ```text
//!  service code: Span::builder(..).build(), LogRecord::builder(), Metric::new
//!      │
//!      ▼
//!  model ────────── spans, metrics and logs shaped like OTLP's messages;
//!      │             recycled attribute and event lists
//!      │  Handle::span / log / metric: never blocks
//!      ▼
//!  pipeline ─────── bounded queue → batcher (by size or delay) → bounded
//!      │             concurrent exports; drop stats by reason
//!      │  one batch
//!      ▼
//!  encode ───────── direct protobuf, or OTLP/JSON      ┐ pool: reused
//!      │                                               │ byte buffers,
//!      ▼                                               │ per-batch
//!  compress ─────── zstd or gzip (or none)             ┘ arenas
//!      │  one request body
//!      ▼
//!  transport ────── OTLP/HTTP on hyper, OTLP/gRPC on tonic; timeout,
//!      │             retry with backoff, circuit breaker
//!      ▼
//!   network
//!      │
//!      ▼
//!  receiver ─────── OTLP/HTTP and OTLP/gRPC; size, connection and time
//!                    limits; bounded decompression; the direct decoder
//! ```
//!
//! What each module owns (each module's own docs say what it does not):
//!
//! - [`model`]: the telemetry types and their builders, and the recycled
//!   lists the builders take and the pipeline hands back. No encoding, no I/O.
//! - [`pipeline`]: the bounded queue, the batcher, flush and shutdown, and
//!   the accounting in which every item is exported or dropped with a
//!   [`DropReason`] exactly once.
//! - [`encode`]: OTLP/protobuf (the direct encoder and decoder, and, with the
//!   `reference` feature, the reference path through the official prost types
//!   that both are checked against) and OTLP/JSON.
//! - [`compress`]: gzip and zstd with reusable contexts, and the limits that
//!   make decompressing untrusted input safe.
//! - [`pool`]: the byte buffers and per-batch arenas that encode, compress and
//!   transport reuse, so that the steady state does not allocate per batch.
//! - [`transport`]: the OTLP/HTTP and OTLP/gRPC clients and the resilience
//!   around each attempt.
//! - [`exporter`]: what a service embeds: the pipeline plus a resilient
//!   transport, configured by a builder or the `OTEL_EXPORTER_OTLP_*`
//!   environment variables.
//! - `receiver` (feature `receiver`): an OTLP receiver as strict as a
//!   collector, for tests, load runs and relays. An app that only exports
//!   does not compile it.
//! - `fixtures` (feature `fixtures`): the seeded standard batches that the
//!   lab and the tests share.
//! - `layer` (feature `tracing`): a `tracing-subscriber` layer that turns an
//!   app's `tracing` spans and events into spans and log records and hands
//!   them to an exporter's handle.
//! - `otel` (feature `opentelemetry`): a `SpanProcessor`, a `LogProcessor`
//!   and a `PushMetricExporter` that hand what an app's OpenTelemetry SDK
//!   providers produce to an exporter's handle.
//! - [`simd`]: the SIMD hex and UTF-8 routines beside their scalar references.
//! - [`error`]: the crate's [`Error`], one variant per layer.
//!
//! Dependencies point one way: the model (and `simd`) at the bottom; encode
//! and compress on the model and the pool; the pipeline on those; the
//! transport on the pipeline; the exporter on all of them. The receiver
//! uses only the model and the codecs, and nothing uses the receiver. The
//! `tracing` layer uses the model and the pipeline's handle, and nothing
//! uses it; the same holds for `otel`.
//!
//! # Usage
//!
//! Everything a service needs is re-exported at the crate root:
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use otlp_pipeline::{Compression, Exporter, Protocol, Resource, Span, SpanKind, Status};
//!
//! # async fn run() -> otlp_pipeline::Result<()> {
//! // Needs a tokio runtime: the exporter's batcher runs on it.
//! let exporter = Exporter::builder()
//!     .endpoint("http://127.0.0.1:4318")
//!     .protocol(Protocol::HttpProtobuf)
//!     .compression(Compression::ZSTD_DEFAULT)
//!     .resource(Resource::default().with("service.name", "checkout"))
//!     .build()?;
//!
//! // A handle is cheap to clone; sending never blocks (a full queue drops
//! // the span and counts it).
//! let handle = exporter.handle();
//! handle.span(Span::builder("GET /users").kind(SpanKind::Server).attr("http.response.status_code", 200).build());
//! handle.span(Span::builder("SELECT users").kind(SpanKind::Client).status(Status::error("timeout")).build());
//!
//! // Exports what is queued, then stops; every span is exported or dropped.
//! let stats = exporter.shutdown(Duration::from_secs(5)).await?;
//! assert!(stats.pipeline.is_balanced());
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs, unreachable_pub)]
#![deny(unsafe_code)]

pub mod compress;
pub mod encode;
pub mod error;
pub mod exporter;
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
#[cfg(feature = "tracing")]
pub mod layer;
pub mod model;
#[cfg(feature = "opentelemetry")]
pub mod otel;
pub mod pipeline;
pub mod pool;
#[cfg(feature = "receiver")]
pub mod receiver;
pub mod simd;
pub mod transport;

// The README's Rust snippets (the `tracing` and OpenTelemetry sections')
// compile as doctests, so that the lines it tells an app to add cannot rot.
#[cfg(all(doctest, feature = "tracing", feature = "opentelemetry"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

// What an embedding service needs, in one place: the exporter and its
// settings, the model, the stats and the errors.
pub use crate::{
    compress::Compression,
    encode::Signal,
    error::{Error, Result},
    exporter::{ExportObserver, Exporter, ExporterBuilder, ExporterError, ExporterStats, Protocol},
    model::{
        AnyValue, Event, ExpBuckets, ExponentialHistogramDataPoint, HistogramDataPoint, InstrumentationScope, KeyValue,
        Link, LogRecord, LogRecordBuilder, Metric, MetricData, NumberDataPoint, NumberValue, Resource, Severity, Span,
        SpanBuilder, SpanContext, SpanId, SpanKind, Status, StatusCode, Str, Temporality, TraceId,
    },
    pipeline::{BodyFormat, DropReason, FlushError, Handle, PipelineConfig, Refused, ShutdownError, StatsSnapshot},
    transport::{BreakerConfig, ResilientStats, RetryConfig},
};
