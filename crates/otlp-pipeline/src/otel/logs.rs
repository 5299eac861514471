//! `OtlpLogProcessor`: emitted SDK log records into the pipeline.

use std::time::Duration;

use opentelemetry::InstrumentationScope as OtelScope;
use opentelemetry::logs::AnyValue as LogValue;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogProcessor, SdkLogRecord};

use super::{key, push_scope};
use crate::model::{AnyValue, KeyValue, LogRecord, Severity, SpanId, Str, TraceId, lists, unix_nanos};
use crate::pipeline::Handle;

/// A `LogProcessor` that hands each emitted record to a pipeline's
/// [`Handle`]; see the [module docs](super).
#[derive(Clone, Debug)]
pub struct OtlpLogProcessor {
    handle: Handle,
    scope_attributes: bool,
}

impl OtlpLogProcessor {
    /// A processor that offers records to `handle` (an exporter's,
    /// [`crate::Exporter::handle`]), each with its scope as attributes.
    pub fn new(handle: Handle) -> Self {
        OtlpLogProcessor { handle, scope_attributes: true }
    }

    /// Whether each record gets its scope as the attributes `otel.scope.name`
    /// (the record's target when it has one, as `opentelemetry-otlp` names
    /// the scope) and `otel.scope.version`; default on (see
    /// [`super::OtlpSpanProcessor::scope_attributes`]).
    #[must_use]
    pub fn scope_attributes(mut self, on: bool) -> Self {
        self.scope_attributes = on;
        self
    }

    /// The record as this crate's. The SDK lends it (other processors may
    /// follow), so its strings are copied.
    pub fn convert(&self, record: &SdkLogRecord, scope: &OtelScope) -> LogRecord {
        let mut attributes = lists::key_values();
        attributes.extend(record.attributes_iter().map(|(k, v)| KeyValue { key: key(k), value: value(v) }));
        if self.scope_attributes {
            let name = record.target().map_or(scope.name(), |t| t.as_ref());
            push_scope(&mut attributes, name, scope.version());
        }
        let cx = record.trace_context();
        LogRecord {
            time_unix_nano: record.timestamp().map_or(0, unix_nanos),
            observed_time_unix_nano: record.observed_timestamp().map_or(0, unix_nanos),
            // The SDK's severities carry their OTLP numbers.
            severity_number: Severity(record.severity_number().map_or(0, |s| s as i32)),
            severity_text: record.severity_text().map_or(Str::EMPTY, Str::from_static),
            body: record.body().map(value),
            attributes,
            // The SDK keeps no count of attributes it refused.
            dropped_attributes_count: 0,
            flags: cx.and_then(|c| c.trace_flags).map_or(0, |f| u32::from(f.to_u8())),
            trace_id: cx.map(|c| TraceId(c.trace_id.to_bytes())),
            span_id: cx.map(|c| SpanId(c.span_id.to_bytes())),
            event_name: record.event_name().map_or(Str::EMPTY, Str::from_static),
        }
    }
}

/// A log value, nested ones included: maps become key-value lists (in the
/// map's order, as `opentelemetry-proto` does).
fn value(v: &LogValue) -> AnyValue {
    match v {
        LogValue::Int(i) => AnyValue::Int(*i),
        LogValue::Double(f) => AnyValue::Double(*f),
        LogValue::String(s) => AnyValue::String(Str::copy_shared(s.as_str())),
        LogValue::Boolean(b) => AnyValue::Bool(*b),
        LogValue::Bytes(b) => AnyValue::Bytes(bytes::Bytes::copy_from_slice(b)),
        LogValue::ListAny(list) => AnyValue::Array(list.iter().map(value).collect()),
        LogValue::Map(map) => {
            AnyValue::KvList(map.iter().map(|(k, v)| KeyValue { key: key(k), value: value(v) }).collect())
        }
        // Kinds added after 0.33 (the enum is non-exhaustive).
        other => AnyValue::String(Str::from(format!("{other:?}"))),
    }
}

impl LogProcessor for OtlpLogProcessor {
    fn emit(&self, record: &mut SdkLogRecord, scope: &OtelScope) {
        // Never blocks: a full queue refuses the record, and the pipeline
        // counts it as dropped (`DropReason::QueueFull`).
        self.handle.log(self.convert(record, scope));
    }

    /// Nothing is held here; the exporter flushes the pipeline (module docs).
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    /// Nothing is held here; the exporter shuts the pipeline down (module docs).
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}
