//! OpenTelemetry SDK adapters (feature `opentelemetry`): an app written
//! against the official OpenTelemetry API keeps its tracers, loggers and
//! meters, and its SDK providers hand what they produce to an exporter's
//! [`Handle`] instead of to `BatchSpanProcessor` / `BatchLogProcessor` and
//! `opentelemetry-otlp`.
//!
//! ```no_run
//! use opentelemetry::trace::{Tracer, TracerProvider};
//! use opentelemetry_sdk::trace::SdkTracerProvider;
//! use otlp_pipeline::Exporter;
//! use otlp_pipeline::otel::{self, OtlpSpanProcessor};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let resource = opentelemetry_sdk::Resource::builder().with_service_name("checkout").build();
//! let exporter = Exporter::builder().from_env()?.resource(otel::resource(&resource)).build()?;
//! let provider = SdkTracerProvider::builder()
//!     .with_resource(resource)
//!     .with_span_processor(OtlpSpanProcessor::new(exporter.handle()))
//!     .build();
//! provider.tracer("checkout").in_span("GET /users", |_cx| {});
//! provider.shutdown()?;
//! exporter.shutdown(std::time::Duration::from_secs(5)).await?;
//! # Ok(())
//! # }
//! ```
//!
//! - [`OtlpSpanProcessor`] (`SpanProcessor`): each ended span is converted
//!   in `on_end`, on the thread that ends it, and offered with
//!   [`Handle::try_span`]: no processor-side queue, no export thread, never
//!   blocks; a full queue refuses the span and the pipeline counts it
//!   ([`crate::DropReason::QueueFull`]), so `accepted == exported + dropped`
//!   holds for the app's spans too.
//! - [`OtlpLogProcessor`] (`LogProcessor`): each emitted record, likewise.
//! - [`OtlpMetricExporter`] (`PushMetricExporter`, under the SDK's
//!   `PeriodicReader`): each collected metric is offered with
//!   [`Handle::try_metric`]; the pipeline counts it as its number of points.
//!
//! What is converted, field for field as `opentelemetry-otlp` maps it
//! (`opentelemetry-proto`'s `transform` module): span ids, parent, trace
//! state, flags (trace flags and the parent's remote bits), name, kind,
//! start and end, typed attributes (bool, i64, f64, string and their
//! arrays), events, links (their flags with the linked context's remote
//! bits), status and the three dropped counts; a log record's timestamps,
//! severity number and text, body (every `AnyValue`, maps as key-value
//! lists), attributes, trace context and event name; sums, gauges,
//! histograms and exponential histograms of `u64`, `i64` and `f64` with
//! their temporality, monotonicity, start and end times.
//!
//! What is not, and why:
//!
//! - The resource and scope: the pipeline batches under one resource and
//!   one scope, the exporter's ([`crate::ExporterBuilder::resource`],
//!   [`crate::ExporterBuilder::scope`]). [`resource`] converts the SDK's
//!   resource so that the same one is given to both (the README shows it);
//!   `set_resource` is not used. Each item's own scope (a log record's
//!   target first, as `opentelemetry-otlp` does) is kept as the attributes
//!   `otel.scope.name` and `otel.scope.version`, the OpenTelemetry
//!   convention for formats without scopes, unless
//!   [`OtlpSpanProcessor::scope_attributes`] (and its twins) turn that off.
//!   The scope's own attributes and the resource's and the scope's schema
//!   URLs are not kept.
//! - Metric exemplars: the model has none; each one is counted in
//!   [`OtlpMetricExporter::exemplars_dropped`].
//! - A `u64` sum or gauge value above `i64::MAX` (OTLP's integer points are
//!   signed) becomes `i64::MAX`; `opentelemetry-otlp` sends 0.
//! - A value of a kind added to the SDK after 0.33 (its enums are
//!   non-exhaustive) becomes its string form.
//!
//! Flush and shutdown: nothing is held here (every item is in the
//! pipeline's queue once the SDK's call returns), so `force_flush` and
//! `shutdown` return `Ok` at once. The pipeline is the exporter's: the app
//! flushes and shuts it down with [`crate::Exporter::flush`] and
//! [`crate::Exporter::shutdown`], after the SDK provider's `shutdown`.
//! Those are async and need the runtime the batcher runs on, which the
//! SDK's synchronous calls (made from any thread, runtime or not) cannot
//! wait on safely.
//!
//! Owns: the conversion and the hand-over. Does not own: sampling, span
//! limits and views (the SDK's), batching, encoding and export (the
//! pipeline behind the handle).
//!
//! [`Handle`]: crate::Handle
//! [`Handle::try_span`]: crate::Handle::try_span
//! [`Handle::try_metric`]: crate::Handle::try_metric

mod logs;
mod metrics;
mod trace;

use std::borrow::Cow;

use opentelemetry::{Array, Value};

pub use logs::OtlpLogProcessor;
pub use metrics::OtlpMetricExporter;
pub use trace::OtlpSpanProcessor;

use crate::model::{AnyValue, InstrumentationScope, KeyValue, Resource, Str, lists};

/// The attribute that carries an item's instrumentation scope name.
pub const SCOPE_NAME: &str = "otel.scope.name";
/// The attribute that carries an item's instrumentation scope version.
pub const SCOPE_VERSION: &str = "otel.scope.version";

/// The SDK's resource as this crate's, for
/// [`crate::ExporterBuilder::resource`]: the same attributes (in the SDK's
/// order, which is a hash map's).
pub fn resource(resource: &opentelemetry_sdk::Resource) -> Resource {
    Resource {
        attributes: resource.iter().map(|(k, v)| KeyValue { key: key(k), value: value(v) }).collect(),
        dropped_attributes_count: 0,
    }
}

/// An SDK instrumentation scope as this crate's, for
/// [`crate::ExporterBuilder::scope`].
pub fn scope(scope: &opentelemetry::InstrumentationScope) -> InstrumentationScope {
    InstrumentationScope {
        name: Str::copy_from(scope.name()),
        version: scope.version().map_or(Str::EMPTY, Str::copy_from),
        attributes: scope.attributes().map(key_value).collect(),
        dropped_attributes_count: 0,
    }
}

/// A key, copied into the shared chunk ([`Str::copy_shared`]): `Key` does
/// not say whether it holds a static string, so every key is copied, a
/// memcpy without an allocation while the chunk has room.
fn key(k: &opentelemetry::Key) -> Str {
    Str::copy_shared(k.as_str())
}

/// A `Cow` the SDK hands over by value: a literal stays borrowed, an owned
/// string is taken over.
fn cow(s: Cow<'static, str>) -> Str {
    match s {
        Cow::Borrowed(s) => Str::from_static(s),
        Cow::Owned(s) => Str::from(s),
    }
}

/// An attribute value, with its type: arrays become arrays of typed values,
/// as `opentelemetry-proto` maps them.
fn value(v: &Value) -> AnyValue {
    match v {
        Value::Bool(b) => AnyValue::Bool(*b),
        Value::I64(i) => AnyValue::Int(*i),
        Value::F64(f) => AnyValue::Double(*f),
        Value::String(s) => AnyValue::String(Str::copy_shared(s.as_str())),
        Value::Array(Array::Bool(a)) => AnyValue::Array(a.iter().map(|b| AnyValue::Bool(*b)).collect()),
        Value::Array(Array::I64(a)) => AnyValue::Array(a.iter().map(|i| AnyValue::Int(*i)).collect()),
        Value::Array(Array::F64(a)) => AnyValue::Array(a.iter().map(|f| AnyValue::Double(*f)).collect()),
        Value::Array(Array::String(a)) => {
            AnyValue::Array(a.iter().map(|s| AnyValue::String(Str::copy_shared(s.as_str()))).collect())
        }
        // Kinds added after 0.33 (both enums are non-exhaustive).
        other => AnyValue::String(Str::from(other.to_string())),
    }
}

fn key_value(kv: &opentelemetry::KeyValue) -> KeyValue {
    KeyValue { key: key(&kv.key), value: value(&kv.value) }
}

/// An attribute list, its first block recycled ([`lists`]).
fn attributes<'a>(kvs: impl IntoIterator<Item = &'a opentelemetry::KeyValue>) -> Vec<KeyValue> {
    let mut list = lists::key_values();
    list.extend(kvs.into_iter().map(key_value));
    list
}

/// Appends `otel.scope.name` and `otel.scope.version` (when set).
fn push_scope(list: &mut Vec<KeyValue>, name: &str, version: Option<&str>) {
    list.push(KeyValue { key: Str::from_static(SCOPE_NAME), value: AnyValue::String(Str::copy_shared(name)) });
    if let Some(v) = version {
        list.push(KeyValue { key: Str::from_static(SCOPE_VERSION), value: AnyValue::String(Str::copy_shared(v)) });
    }
}
