//! The official Rust SDK (`opentelemetry_sdk` + `opentelemetry-otlp` 0.33),
//! set up once for the two places the lab runs it beside ours (feature
//! `official-sdk`): the load runner's production mix (`crate::load`,
//! through [`run_production`]) and the whole-exporter runner's fixture spans
//! (`crate::exporter_run`, through [`run_fixture_spans`]).
//!
//! How the SDK runs, from its 0.33 sources: `BatchSpanProcessor` and
//! `BatchLogProcessor` each own a dedicated thread that drains a bounded
//! channel (`try_send` from the caller: a full queue drops the item and only
//! counts it, without telling the caller) and calls the exporter with
//! `futures_executor::block_on`. `PeriodicReader` has its own thread too.
//! The hyper client (`opentelemetry-http`) spawns its connection tasks with
//! `TokioExecutor` and times requests with `tokio::time`, and tonic's channel
//! spawns its worker on tokio: both need a tokio runtime that is being
//! driven, which a `block_on` on the processor thread is not. So one
//! current-thread tokio runtime runs on a thread of its own
//! (`runtime::IoRuntime`, what an application's `#[tokio::main]` runtime
//! gives the SDK), and every exporter call is polled inside its context
//! (`exporter::Instrumented`, which also counts what each call delivered
//! and, for the load runs, times it).
//!
//! This module imports `crate::harness` (the shared measurements and
//! pacing) and never `crate::load` or `crate::exporter_run`, which import it.

mod exporter;
mod fixture;
mod production;
mod providers;
mod runtime;

pub use exporter::{SdkCounters, Transport};
pub use fixture::{run_fixture_spans, run_sdk_ours, run_tracing_spans};
pub(crate) use production::run_production_ours;
pub use production::{ProductionPlan, ProductionRun, run_production, run_tracing_production};
pub use providers::{SdkConfig, SdkProviders};

use opentelemetry::KeyValue;
use otlp_pipeline::compress::Compression;
use otlp_pipeline::exporter::Protocol;

/// Why the SDK could not be set up or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SdkError {
    /// A protocol this build of the SDK has no exporter for.
    #[error("the official SDK is built without {0} here (http/protobuf and grpc only)")]
    Protocol(Protocol),
    /// The exporter refused its settings.
    #[error("building the SDK's OTLP exporter: {0}")]
    Build(#[from] opentelemetry_otlp::ExporterBuildError),
    /// The tokio runtime of the exporters or of the producers could not start.
    #[error("starting the SDK's tokio runtime: {0}")]
    Runtime(#[from] std::io::Error),
    /// A producer task panicked or was cancelled.
    #[error("an SDK producer failed: {0}")]
    Producer(#[from] tokio::task::JoinError),
    /// The thread driving the exporters' runtime panicked.
    #[error("the SDK's I/O runtime thread panicked")]
    RuntimeThread,
    /// The provider's shutdown failed.
    #[error("SDK shutdown: {0}")]
    Shutdown(#[from] opentelemetry_sdk::error::OTelSdkError),
    /// More spans than this machine can count.
    #[error("span count: {0}")]
    Count(#[from] std::num::TryFromIntError),
    /// tracing-opentelemetry refused a span's remote parent.
    #[error("tracing-opentelemetry could not set a span's parent: {0}")]
    Parent(String),
    /// The process already has a global `tracing` subscriber.
    #[error(transparent)]
    Subscriber(#[from] crate::stacks::AlreadyInstalled),
}

/// Our codec as the SDK's: it has no levels, so ours at its default level
/// is the fair comparison.
pub(crate) fn compression(c: Compression) -> Option<opentelemetry_otlp::Compression> {
    match c {
        Compression::None => None,
        Compression::Gzip { .. } => Some(opentelemetry_otlp::Compression::Gzip),
        Compression::Zstd { .. } => Some(opentelemetry_otlp::Compression::Zstd),
    }
}

/// The standard resource (`fixtures::resource`) as SDK attributes; its values
/// are all strings.
pub(crate) fn resource() -> opentelemetry_sdk::Resource {
    use otlp_pipeline::model::AnyValue;
    let fixture = otlp_pipeline::fixtures::resource();
    let attrs = fixture.attributes.iter().map(|kv| {
        let value = match &kv.value {
            AnyValue::String(s) => s.to_string(),
            other => format!("{other:?}"),
        };
        KeyValue::new(kv.key.to_string(), value)
    });
    opentelemetry_sdk::Resource::builder_empty().with_attributes(attrs.collect::<Vec<_>>()).build()
}
