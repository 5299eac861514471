//! The OpenTelemetry SDK adapters (feature `opentelemetry`): spans, log
//! records and metrics made through the official API, through the SDK's
//! providers, our processors and exporter and the pipeline, over OTLP/HTTP
//! into the loopback receiver; each field compared with what the SDK's own
//! in-memory exporters saw for the same calls. The comparisons read the
//! SDK's types directly (ids as bytes, times as `SystemTime`, values by
//! their variants), not through the adapters' conversion.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::util::loopback::{Arrived, capturing_receiver, exporter_to};
use opentelemetry::logs::{
    AnyValue as LogValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity as LogSeverity,
};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{
    Link as OtelLink, Span as _, SpanContext as OtelSpanContext, SpanId as OtelSpanId, SpanKind as OtelKind,
    Status as OtelStatus, TraceContextExt as _, TraceFlags, TraceId as OtelTraceId, TraceState, Tracer as _,
    TracerProvider as _,
};
use opentelemetry::{Array, Context, InstrumentationScope as OtelScope, KeyValue as OtelKv, Value};
use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLoggerProvider};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData as OtelData};
use opentelemetry_sdk::metrics::exporter::PushMetricExporter as _;
use opentelemetry_sdk::metrics::{
    InMemoryMetricExporter, InMemoryMetricExporterBuilder, PeriodicReader, SdkMeterProvider, Temporality as OtelTemp,
};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use otlp_pipeline::compress::Decompressor;
use otlp_pipeline::encode::{Signal, decode};
use otlp_pipeline::model::{LogRecord, Metric, MetricData, NumberValue, Span, StatusCode, Temporality};
use otlp_pipeline::otel::{self, OtlpLogProcessor, OtlpMetricExporter, OtlpSpanProcessor, SCOPE_NAME, SCOPE_VERSION};
use otlp_pipeline::pipeline::{DropReason, ExportRequest, ExportResult, ExportSink, Pipeline, PipelineConfig};
use otlp_pipeline::receiver::Receiver;
use otlp_pipeline::{AnyValue, Exporter, KeyValue, Protocol, Resource};

fn sdk_resource() -> opentelemetry_sdk::Resource {
    opentelemetry_sdk::Resource::builder_empty()
        .with_service_name("checkout")
        .with_attribute(OtelKv::new("deployment.environment.name", "test"))
        .build()
}

fn sdk_scope() -> OtelScope {
    OtelScope::builder("checkout.http").with_version("1.2.3").build()
}

/// A remote caller's context, with a tracestate.
fn remote() -> OtelSpanContext {
    let state = TraceState::from_key_value([("vendor", "abc")]).expect("valid tracestate");
    OtelSpanContext::new(
        OtelTraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").expect("hex"),
        OtelSpanId::from_hex("00f067aa0ba902b7").expect("hex"),
        TraceFlags::SAMPLED,
        true,
        state,
    )
}

/// An attribute of every type the API has.
fn typed_attributes() -> Vec<OtelKv> {
    vec![
        OtelKv::new("s", "text"),
        OtelKv::new("owned", String::from("owned text")),
        OtelKv::new("b", true),
        OtelKv::new("i", -42i64),
        OtelKv::new("f", 2.5f64),
        OtelKv::new("as", Value::Array(Array::String(vec!["x".into(), "y".into()]))),
        OtelKv::new("ab", Value::Array(Array::Bool(vec![true, false]))),
        OtelKv::new("ai", Value::Array(Array::I64(vec![1, -2, 3]))),
        OtelKv::new("af", Value::Array(Array::F64(vec![0.5, -1.25]))),
    ]
}

/// A model time as the SDK's.
fn time(nanos: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(nanos)
}

/// True when `ours` is the SDK's attribute value `theirs`, type included.
fn same_value(ours: &AnyValue, theirs: &Value) -> bool {
    match (ours, theirs) {
        (AnyValue::Bool(a), Value::Bool(b)) => a == b,
        (AnyValue::Int(a), Value::I64(b)) => a == b,
        (AnyValue::Double(a), Value::F64(b)) => a.to_bits() == b.to_bits(),
        (AnyValue::String(a), Value::String(b)) => a.as_str() == b.as_str(),
        (AnyValue::Array(a), Value::Array(Array::Bool(b))) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| *x == AnyValue::Bool(*y))
        }
        (AnyValue::Array(a), Value::Array(Array::I64(b))) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| *x == AnyValue::Int(*y))
        }
        (AnyValue::Array(a), Value::Array(Array::F64(b))) => {
            a.len() == b.len()
                && a.iter().zip(b).all(|(x, y)| matches!(x, AnyValue::Double(d) if d.to_bits() == y.to_bits()))
        }
        (AnyValue::Array(a), Value::Array(Array::String(b))) => {
            a.len() == b.len()
                && a.iter().zip(b).all(|(x, y)| matches!(x, AnyValue::String(s) if s.as_str() == y.as_str()))
        }
        _ => false,
    }
}

/// Ours, without the scope attributes, are the SDK's, in order.
fn assert_same_attributes(ours: &[KeyValue], theirs: &[OtelKv], what: &str) {
    let ours: Vec<&KeyValue> = ours.iter().filter(|kv| kv.key != SCOPE_NAME && kv.key != SCOPE_VERSION).collect();
    assert_eq!(ours.len(), theirs.len(), "{what}: {ours:?} vs {theirs:?}");
    for (o, t) in ours.iter().zip(theirs) {
        assert_eq!(o.key.as_str(), t.key.as_str(), "{what}");
        assert!(same_value(&o.value, &t.value), "{what}: {} = {:?} vs {:?}", t.key, o.value, t.value);
    }
}

fn attr<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attributes.iter().find(|kv| kv.key == key).map(|kv| &kv.value)
}

fn string_attr<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a str> {
    match attr(attributes, key) {
        Some(AnyValue::String(s)) => Some(s.as_str()),
        _ => None,
    }
}

/// The resource the receiver got is the SDK's (its order is a hash map's).
fn assert_same_resource(ours: &Resource, theirs: &opentelemetry_sdk::Resource) {
    assert_eq!(ours.attributes.len(), theirs.len(), "{ours:?}");
    for (k, v) in theirs.iter() {
        let got = attr(&ours.attributes, k.as_str()).unwrap_or_else(|| panic!("resource lacks {k:?}"));
        assert!(same_value(got, v), "resource {k:?}");
    }
}

/// `Span.flags` from the SDK's span: the W3C flags, bit 8 (remote known),
/// bit 9 (remote), as the OTLP spec defines them.
fn otlp_flags(flags: TraceFlags, remote: bool) -> u32 {
    u32::from(flags.to_u8()) | 0x100 | if remote { 0x200 } else { 0 }
}

fn assert_same_span(ours: &Span, theirs: &SpanData) {
    let cx = &theirs.span_context;
    let what = theirs.name.as_ref();
    assert_eq!(ours.trace_id.0, cx.trace_id().to_bytes(), "{what}");
    assert_eq!(ours.span_id.0, cx.span_id().to_bytes(), "{what}");
    assert_eq!(ours.trace_state.as_str(), cx.trace_state().header(), "{what}");
    let parent = (theirs.parent_span_id != OtelSpanId::INVALID).then(|| theirs.parent_span_id.to_bytes());
    assert_eq!(ours.parent_span_id.map(|p| p.0), parent, "{what}");
    assert_eq!(ours.flags, otlp_flags(cx.trace_flags(), theirs.parent_span_is_remote), "{what}");
    assert_eq!(ours.name.as_str(), theirs.name.as_ref());
    // The two enums name their variants alike.
    assert_eq!(format!("{:?}", ours.kind), format!("{:?}", theirs.span_kind), "{what}");
    assert_eq!(time(ours.start_time_unix_nano), theirs.start_time, "{what}");
    assert_eq!(time(ours.end_time_unix_nano), theirs.end_time, "{what}");
    assert_same_attributes(&ours.attributes, &theirs.attributes, what);
    assert_eq!(ours.dropped_attributes_count, theirs.dropped_attributes_count, "{what}");
    assert_eq!(ours.events.len(), theirs.events.events.len(), "{what}");
    for (o, t) in ours.events.iter().zip(&theirs.events.events) {
        assert_eq!(o.name.as_str(), t.name.as_ref(), "{what}");
        assert_eq!(time(o.time_unix_nano), t.timestamp, "{what}");
        assert_same_attributes(&o.attributes, &t.attributes, what);
        assert_eq!(o.dropped_attributes_count, t.dropped_attributes_count, "{what}");
    }
    assert_eq!(ours.dropped_events_count, theirs.events.dropped_count, "{what}");
    assert_eq!(ours.links.len(), theirs.links.links.len(), "{what}");
    for (o, t) in ours.links.iter().zip(&theirs.links.links) {
        let lc = &t.span_context;
        assert_eq!((o.trace_id.0, o.span_id.0), (lc.trace_id().to_bytes(), lc.span_id().to_bytes()), "{what}");
        assert_eq!(o.trace_state.as_str(), lc.trace_state().header(), "{what}");
        assert_eq!(o.flags, otlp_flags(lc.trace_flags(), lc.is_remote()), "{what}");
        assert_same_attributes(&o.attributes, &t.attributes, what);
        assert_eq!(o.dropped_attributes_count, t.dropped_attributes_count, "{what}");
    }
    assert_eq!(ours.dropped_links_count, theirs.links.dropped_count, "{what}");
    match &theirs.status {
        OtelStatus::Unset => assert!(ours.status.is_unset(), "{what}"),
        OtelStatus::Ok => assert_eq!((ours.status.code, ours.status.message.as_str()), (StatusCode::Ok, ""), "{what}"),
        OtelStatus::Error { description } => {
            assert_eq!((ours.status.code, ours.status.message.as_str()), (StatusCode::Error, description.as_ref()))
        }
    }
    // The scope travels as attributes.
    let scope = &theirs.instrumentation_scope;
    assert_eq!(string_attr(&ours.attributes, SCOPE_NAME), Some(scope.name()), "{what}");
    assert_eq!(string_attr(&ours.attributes, SCOPE_VERSION), scope.version(), "{what}");
}

/// An exporter to `receiver` with the SDK resource.
fn sdk_exporter_to(receiver: &Receiver) -> Exporter {
    exporter_to(receiver, Protocol::HttpProtobuf, otel::resource(&sdk_resource()))
}

const HANG_GUARD: Duration = Duration::from_secs(30);

#[tokio::test]
async fn spans_arrive_over_http_as_the_sdk_saw_them() {
    let receiver = capturing_receiver().await;
    let exporter = sdk_exporter_to(&receiver);
    let memory = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_resource(sdk_resource())
        .with_simple_exporter(memory.clone())
        .with_span_processor(OtlpSpanProcessor::new(exporter.handle()))
        .build();
    let tracer = provider.tracer_with_scope(sdk_scope());
    let other = provider.tracer("checkout.db");

    // A server span continuing a remote caller, with every attribute type
    // and a link; a child in another scope with an event and an error;
    // a root span with status ok.
    let server = tracer
        .span_builder("GET /users")
        .with_kind(OtelKind::Server)
        .with_attributes(typed_attributes())
        .with_links(vec![OtelLink::new(remote(), vec![OtelKv::new("link.kind", "caller")], 0)])
        .start_with_context(&tracer, &Context::new().with_remote_span_context(remote()));
    let cx = Context::new().with_span(server);
    let mut db = other.span_builder("SELECT users").with_kind(OtelKind::Client).start_with_context(&other, &cx);
    db.add_event("fetched", vec![OtelKv::new("rows", 2i64), OtelKv::new("cached", false)]);
    db.set_status(OtelStatus::error("timeout"));
    db.end();
    cx.span().set_attribute(OtelKv::new("http.response.status_code", 200i64));
    cx.span().end();
    let mut root = tracer.span_builder("tick").with_kind(OtelKind::Producer).start(&tracer);
    root.set_status(OtelStatus::Ok);
    root.end();

    // Read before the shutdown, which empties the SDK's exporter.
    let sdk = memory.get_finished_spans().expect("the SDK's spans");
    provider.shutdown().expect("provider shutdown");
    let stats = tokio::time::timeout(HANG_GUARD, exporter.shutdown(Duration::from_secs(10)))
        .await
        .expect("shutdown hung")
        .expect("the batcher is alive");
    assert_eq!((stats.pipeline.exported, stats.pipeline.dropped_total()), (3, 0), "{}", stats.pipeline);

    let Arrived { spans, logs, metrics, resources } = Arrived::take(&receiver);
    assert_eq!((logs.len(), metrics.len()), (0, 0), "only traces were sent");
    for r in &resources {
        assert_same_resource(r, &sdk_resource());
    }
    assert_eq!((spans.len(), sdk.len()), (3, 3));
    for theirs in &sdk {
        let id = theirs.span_context.span_id().to_bytes();
        let ours = spans.iter().find(|s| s.span_id.0 == id).expect("every SDK span arrived");
        assert_same_span(ours, theirs);
    }
    // What the comparison covered is what the calls made.
    let server = spans.iter().find(|s| s.name == "GET /users").expect("server span");
    assert_eq!(server.flags, 0x301, "sampled, remote parent");
    assert_eq!(server.trace_state.as_str(), "vendor=abc");
    assert_eq!(server.links[0].flags, 0x301);
    assert_eq!(server.attributes.len(), typed_attributes().len() + 1 + 2);
    let db = spans.iter().find(|s| s.name == "SELECT users").expect("child span");
    assert_eq!((db.parent_span_id, db.trace_id, db.flags), (Some(server.span_id), server.trace_id, 0x101));
    assert_eq!((db.events.len(), db.status.code), (1, StatusCode::Error));
    assert_eq!(string_attr(&db.attributes, SCOPE_NAME), Some("checkout.db"));
    assert_eq!(receiver.shutdown().await.spans, 3);
}

/// True when `ours` is the SDK's log value `theirs`; maps as sets of pairs.
fn same_log_value(ours: &AnyValue, theirs: &LogValue) -> bool {
    match (ours, theirs) {
        (AnyValue::Int(a), LogValue::Int(b)) => a == b,
        (AnyValue::Double(a), LogValue::Double(b)) => a.to_bits() == b.to_bits(),
        (AnyValue::String(a), LogValue::String(b)) => a.as_str() == b.as_str(),
        (AnyValue::Bool(a), LogValue::Boolean(b)) => a == b,
        (AnyValue::Bytes(a), LogValue::Bytes(b)) => a[..] == b[..],
        (AnyValue::Array(a), LogValue::ListAny(b)) => {
            a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| same_log_value(x, y))
        }
        (AnyValue::KvList(a), LogValue::Map(b)) => {
            a.len() == b.len()
                && b.iter().all(|(k, v)| a.iter().any(|kv| kv.key == k.as_str() && same_log_value(&kv.value, v)))
        }
        _ => false,
    }
}

fn nested_body() -> LogValue {
    let mut map = HashMap::new();
    map.insert("user".into(), LogValue::Int(7));
    map.insert("tags".into(), LogValue::ListAny(Box::new(vec!["a".into(), LogValue::Boolean(true), 1.5.into()])));
    map.insert("raw".into(), LogValue::Bytes(Box::new(vec![0, 1, 255])));
    LogValue::Map(Box::new(map))
}

#[tokio::test]
async fn log_records_arrive_over_http_as_the_sdk_saw_them() {
    let receiver = capturing_receiver().await;
    let exporter = sdk_exporter_to(&receiver);
    let memory = InMemoryLogExporter::default();
    let loggers = SdkLoggerProvider::builder()
        .with_resource(sdk_resource())
        .with_simple_exporter(memory.clone())
        .with_log_processor(OtlpLogProcessor::new(exporter.handle()))
        .build();
    let tracers = SdkTracerProvider::builder().build();
    let logger = loggers.logger_with_scope(sdk_scope());

    // One record inside a span (its trace context), with a nested body,
    // typed attributes, an event name and a target; one plain record with
    // a timestamp and a string body.
    tracers.tracer("t").in_span("work", |_cx| {
        let mut r = logger.create_log_record();
        r.set_severity_number(LogSeverity::Warn2);
        r.set_severity_text("WARN2");
        r.set_body(nested_body());
        r.set_event_name("cache.miss");
        r.set_target("checkout::cache");
        r.add_attribute("i", 5i64);
        r.add_attribute("f", 0.25f64);
        r.add_attribute("b", true);
        r.add_attribute("s", "v");
        logger.emit(r);
    });
    let mut r = logger.create_log_record();
    r.set_severity_number(LogSeverity::Info);
    r.set_timestamp(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    r.set_body("plain".into());
    logger.emit(r);

    // Read before the shutdown, which empties the SDK's exporter.
    let sdk = memory.get_emitted_logs().expect("the SDK's records");
    loggers.shutdown().expect("logger provider shutdown");
    let stats = tokio::time::timeout(HANG_GUARD, exporter.shutdown(Duration::from_secs(10)))
        .await
        .expect("shutdown hung")
        .expect("the batcher is alive");
    assert_eq!((stats.pipeline.exported, stats.pipeline.dropped_total()), (2, 0), "{}", stats.pipeline);

    let Arrived { spans, logs: records, metrics, resources } = Arrived::take(&receiver);
    assert_eq!((spans.len(), metrics.len()), (0, 0), "only logs were sent");
    for r in &resources {
        assert_same_resource(r, &sdk_resource());
    }
    assert_eq!((records.len(), sdk.len()), (2, 2));
    for (ours, theirs) in records.iter().zip(&sdk) {
        let t = &theirs.record;
        assert_eq!(ours.time_unix_nano != 0, t.timestamp().is_some());
        if let Some(ts) = t.timestamp() {
            assert_eq!(time(ours.time_unix_nano), ts);
        }
        assert_eq!(time(ours.observed_time_unix_nano), t.observed_timestamp().expect("the SDK sets it"));
        assert_eq!(ours.severity_number.0, t.severity_number().map_or(0, |s| s as i32));
        assert_eq!(ours.severity_text.as_str(), t.severity_text().unwrap_or(""));
        match (&ours.body, t.body()) {
            (Some(o), Some(b)) => assert!(same_log_value(o, b), "{o:?} vs {b:?}"),
            (o, b) => panic!("body {o:?} vs {b:?}"),
        }
        let mine: Vec<&KeyValue> =
            ours.attributes.iter().filter(|kv| kv.key != SCOPE_NAME && kv.key != SCOPE_VERSION).collect();
        let theirs_attrs: Vec<_> = t.attributes_iter().collect();
        assert_eq!(mine.len(), theirs_attrs.len());
        for (o, (k, v)) in mine.iter().zip(&theirs_attrs) {
            assert_eq!(o.key.as_str(), k.as_str());
            assert!(same_log_value(&o.value, v), "{k:?}");
        }
        let cx = t.trace_context();
        assert_eq!(ours.trace_id.map(|i| i.0), cx.map(|c| c.trace_id.to_bytes()));
        assert_eq!(ours.span_id.map(|i| i.0), cx.map(|c| c.span_id.to_bytes()));
        assert_eq!(ours.flags, cx.and_then(|c| c.trace_flags).map_or(0, |f| u32::from(f.to_u8())));
        assert_eq!(ours.event_name.as_str(), t.event_name().unwrap_or(""));
        let scope_name = t.target().map_or(theirs.instrumentation.name(), |t| t.as_ref());
        assert_eq!(string_attr(&ours.attributes, SCOPE_NAME), Some(scope_name));
        assert_eq!(string_attr(&ours.attributes, SCOPE_VERSION), theirs.instrumentation.version());
    }
    // What the comparison covered is what the calls made.
    let first = &records[0];
    assert!(first.trace_id.is_some() && first.flags == 1, "inside a sampled span");
    assert_eq!((first.severity_number.0, first.event_name.as_str()), (14, "cache.miss"));
    assert_eq!(string_attr(&first.attributes, SCOPE_NAME), Some("checkout::cache"));
    assert!(matches!(&first.body, Some(AnyValue::KvList(kvs)) if kvs.len() == 3));
    assert_eq!((records[1].trace_id, records[1].severity_number.0), (None, 9));
    assert_eq!(receiver.shutdown().await.logs, 2);
}

/// The number a point holds, for the comparison.
fn number<T: Copy + Into<f64>>(v: T) -> f64 {
    v.into()
}

/// Compares one of our metrics with the SDK's, point by point (points in the
/// SDK's order; their attributes are compared without the scope's).
fn assert_same_metric(ours: &Metric, theirs: &opentelemetry_sdk::metrics::data::Metric, scope: &OtelScope) {
    let what = theirs.name();
    assert_eq!(
        (ours.name.as_str(), ours.description.as_str(), ours.unit.as_str()),
        (theirs.name(), theirs.description(), theirs.unit())
    );
    let scope_ok = |attrs: &[KeyValue]| {
        string_attr(attrs, SCOPE_NAME) == Some(scope.name()) && string_attr(attrs, SCOPE_VERSION) == scope.version()
    };
    let temp = |t: OtelTemp| match t {
        OtelTemp::Delta => Temporality::Delta,
        _ => Temporality::Cumulative,
    };
    match (ours.data.as_ref().expect("data"), theirs.data()) {
        (MetricData::Sum { points, temporality, is_monotonic }, AggregatedMetrics::U64(OtelData::Sum(s))) => {
            assert_eq!((*temporality, *is_monotonic), (temp(s.temporality()), s.is_monotonic()), "{what}");
            let sdk: Vec<_> = s.data_points().collect();
            assert_eq!(points.len(), sdk.len(), "{what}");
            for (o, t) in points.iter().zip(sdk) {
                let attrs: Vec<OtelKv> = t.attributes().cloned().collect();
                assert_same_attributes(&o.attributes, &attrs, what);
                assert!(scope_ok(&o.attributes), "{what}");
                assert_eq!(o.value, Some(NumberValue::Int(i64::try_from(t.value()).expect("small"))), "{what}");
                assert_eq!((time(o.start_time_unix_nano), time(o.time_unix_nano)), (s.start_time(), s.time()));
            }
        }
        (MetricData::Gauge(points), AggregatedMetrics::F64(OtelData::Gauge(g))) => {
            let sdk: Vec<_> = g.data_points().collect();
            assert_eq!(points.len(), sdk.len(), "{what}");
            for (o, t) in points.iter().zip(sdk) {
                let attrs: Vec<OtelKv> = t.attributes().cloned().collect();
                assert_same_attributes(&o.attributes, &attrs, what);
                assert!(scope_ok(&o.attributes), "{what}");
                assert_eq!(o.value, Some(NumberValue::Double(t.value())), "{what}");
                assert_eq!(time(o.time_unix_nano), g.time(), "{what}");
                assert_eq!(o.start_time_unix_nano != 0, g.start_time().is_some(), "{what}");
                if let Some(start) = g.start_time() {
                    assert_eq!(time(o.start_time_unix_nano), start, "{what}");
                }
            }
        }
        (MetricData::Histogram { points, temporality }, AggregatedMetrics::F64(OtelData::Histogram(h))) => {
            assert_eq!(*temporality, temp(h.temporality()), "{what}");
            let sdk: Vec<_> = h.data_points().collect();
            assert_eq!(points.len(), sdk.len(), "{what}");
            for (o, t) in points.iter().zip(sdk) {
                let attrs: Vec<OtelKv> = t.attributes().cloned().collect();
                assert_same_attributes(&o.attributes, &attrs, what);
                assert!(scope_ok(&o.attributes), "{what}");
                assert_eq!(o.count, t.count(), "{what}");
                assert_eq!(o.sum, Some(number(t.sum())), "{what}");
                assert_eq!((o.min, o.max), (t.min(), t.max()), "{what}");
                assert_eq!(o.bucket_counts, t.bucket_counts().collect::<Vec<_>>(), "{what}");
                assert_eq!(o.explicit_bounds, t.bounds().collect::<Vec<_>>(), "{what}");
                assert_eq!((time(o.start_time_unix_nano), time(o.time_unix_nano)), (h.start_time(), h.time()));
            }
        }
        (o, t) => panic!("{what}: {o:?} vs {t:?}"),
    }
}

/// Records a counter, a histogram and a gauge through the API, in two
/// attribute sets each.
fn record_metrics(meters: &SdkMeterProvider) {
    let meter = meters.meter_with_scope(sdk_scope());
    let requests = meter.u64_counter("requests").with_description("served").with_unit("{request}").build();
    let latency = meter.f64_histogram("latency").with_unit("s").build();
    let temperature = meter.f64_gauge("temperature").with_unit("Cel").build();
    for (i, route) in ["/users", "/orders"].into_iter().enumerate() {
        let attrs = [OtelKv::new("http.route", route), OtelKv::new("ok", i == 0)];
        requests.add(3 + i as u64, &attrs);
        for v in [0.004, 0.2, 3.0 + i as f64] {
            latency.record(v, &attrs);
        }
        temperature.record(20.5 + i as f64, &attrs);
    }
}

/// Decodes every batch it gets.
#[derive(Default)]
struct Capture {
    spans: Mutex<Vec<Span>>,
    logs: Mutex<Vec<LogRecord>>,
    metrics: Mutex<Vec<Metric>>,
}

impl ExportSink for Capture {
    async fn export(&self, request: &ExportRequest) -> ExportResult {
        let mut raw = Vec::new();
        Decompressor::new().decompress(request.compression, &request.body, &mut raw, 64 << 20).expect("valid body");
        let raw = bytes::Bytes::from(raw);
        match request.signal {
            Signal::Traces => {
                self.spans.lock().expect("lock").extend(decode::decode_traces(&raw).expect("decodes").spans().cloned())
            }
            Signal::Logs => {
                let data = decode::decode_logs(&raw).expect("decodes");
                let records = data.resource_logs.into_iter().flat_map(|r| r.scope_logs).flat_map(|s| s.log_records);
                self.logs.lock().expect("lock").extend(records);
            }
            Signal::Metrics => {
                let data = decode::decode_metrics(&raw).expect("decodes");
                let metrics = data.resource_metrics.into_iter().flat_map(|r| r.scope_metrics).flat_map(|s| s.metrics);
                self.metrics.lock().expect("lock").extend(metrics);
            }
        }
        ExportResult::Delivered { rejected: 0 }
    }
}

#[tokio::test]
async fn metrics_arrive_over_http_as_the_sdk_saw_them() {
    for temporality in [OtelTemp::Cumulative, OtelTemp::Delta] {
        let receiver = capturing_receiver().await;
        let exporter = sdk_exporter_to(&receiver);
        // The SDK's exporter under the SDK's reader defines what was
        // collected; ours is handed exactly that collection, as the
        // reader would hand it.
        let memory = InMemoryMetricExporterBuilder::new().with_temporality(temporality).build();
        let meters = SdkMeterProvider::builder()
            .with_resource(sdk_resource())
            .with_reader(PeriodicReader::builder(memory.clone()).build())
            .build();
        record_metrics(&meters);
        meters.force_flush().expect("collect");
        let ours = OtlpMetricExporter::new(exporter.handle()).with_temporality(temporality);
        assert_eq!(ours.temporality(), temporality);
        let collected = memory.get_finished_metrics().expect("the SDK's metrics");
        assert_eq!(collected.len(), 1, "one collection");
        for rm in &collected {
            ours.export(rm).await.expect("the pipeline takes every point");
        }
        assert_eq!(ours.exemplars_dropped(), 0, "no exemplars without a sampled span");
        meters.shutdown().expect("meter provider shutdown");
        let stats = tokio::time::timeout(HANG_GUARD, exporter.shutdown(Duration::from_secs(10)))
            .await
            .expect("shutdown hung")
            .expect("the batcher is alive");
        // Two series in each of three metrics: six points.
        assert_eq!((stats.pipeline.exported, stats.pipeline.dropped_total()), (6, 0), "{}", stats.pipeline);

        let Arrived { spans, logs, metrics, resources } = Arrived::take(&receiver);
        assert_eq!((spans.len(), logs.len()), (0, 0), "only metrics were sent");
        for r in &resources {
            assert_same_resource(r, &sdk_resource());
        }
        let sdk: Vec<_> = collected[0].scope_metrics().flat_map(|s| s.metrics().map(move |m| (s.scope(), m))).collect();
        assert_eq!((metrics.len(), sdk.len()), (3, 3));
        for (scope, theirs) in sdk {
            let mine = metrics.iter().find(|m| m.name == theirs.name()).expect("every metric arrived");
            assert_same_metric(mine, theirs, scope);
        }
        let requests = metrics.iter().find(|m| m.name == "requests").expect("counter");
        let Some(MetricData::Sum { points, temporality: t, is_monotonic: true }) = &requests.data else {
            panic!("a monotonic sum: {requests:?}")
        };
        assert_eq!(*t, if temporality == OtelTemp::Delta { Temporality::Delta } else { Temporality::Cumulative });
        let mut values: Vec<_> = points.iter().map(|p| p.value).collect();
        values.sort_by_key(|v| format!("{v:?}"));
        assert_eq!(values, [Some(NumberValue::Int(3)), Some(NumberValue::Int(4))]);
        assert_eq!(receiver.shutdown().await.points, 6);
    }
}

/// The SDK's periodic reader drives our exporter: what the app recorded
/// arrives, collected by the SDK on its reader's thread.
#[tokio::test]
async fn the_periodic_reader_drives_the_exporter() {
    let config = PipelineConfig { max_delay: Duration::from_secs(3600), ..PipelineConfig::default() };
    let sink = Arc::new(Capture::default());
    let pipeline = Pipeline::start(config, Resource::default(), Default::default(), sink.clone()).expect("valid");
    let meters = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(OtlpMetricExporter::new(pipeline.handle())).build())
        .build();
    record_metrics(&meters);
    // The reader's last collection, on its own thread.
    meters.shutdown().expect("meter provider shutdown");
    let stats = pipeline.shutdown(Duration::from_secs(10)).await.expect("the batcher is alive");
    assert_eq!((stats.accepted, stats.exported), (6, 6), "{stats}");
    let metrics = sink.metrics.lock().expect("lock");
    let names: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    for name in ["requests", "latency", "temperature"] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    let latency = metrics.iter().find(|m| m.name == "latency").expect("histogram");
    let Some(MetricData::Histogram { points, .. }) = &latency.data else { panic!("a histogram") };
    let mut counts: Vec<u64> = points.iter().map(|p| p.count).collect();
    counts.sort_unstable();
    assert_eq!(counts, [3, 3]);
}

/// A full queue: the SDK's calls return at once, and every span, record
/// and point is either delivered or counted as dropped. (The test's runtime
/// has one thread and nothing awaits while the app records, so the batcher
/// takes nothing off the queue until then.)
#[tokio::test]
async fn a_full_queue_drops_and_counts() {
    let config =
        PipelineConfig { queue_capacity: 4, max_delay: Duration::from_secs(3600), ..PipelineConfig::default() };
    let sink = Arc::new(Capture::default());
    let pipeline = Pipeline::start(config, Resource::default(), Default::default(), sink.clone()).expect("valid");
    let tracers = SdkTracerProvider::builder().with_span_processor(OtlpSpanProcessor::new(pipeline.handle())).build();
    let loggers = SdkLoggerProvider::builder().with_log_processor(OtlpLogProcessor::new(pipeline.handle())).build();
    let tracer = tracers.tracer("load");
    let logger = loggers.logger("load");
    const SPANS: u64 = 50;
    const LOGS: u64 = 30;
    for i in 0..SPANS {
        tracer.in_span(format!("op {i}"), |_cx| {});
    }
    for _ in 0..LOGS {
        let mut r = logger.create_log_record();
        r.set_body("x".into());
        logger.emit(r);
    }
    // Metrics, into the full queue: the export reports the refusal.
    let memory = InMemoryMetricExporter::default();
    let meters = SdkMeterProvider::builder().with_reader(PeriodicReader::builder(memory.clone()).build()).build();
    record_metrics(&meters);
    meters.force_flush().expect("collect");
    let collected = memory.get_finished_metrics().expect("the SDK's metrics");
    let refused = OtlpMetricExporter::new(pipeline.handle()).export(&collected[0]).await;
    assert!(refused.is_err(), "a refused point is reported to the SDK");

    let created = SPANS + LOGS + 6;
    let stats = pipeline.shutdown(Duration::from_secs(10)).await.expect("the batcher is alive");
    assert_eq!(stats.accepted, created, "{stats}");
    assert_eq!(stats.exported, 4, "the queue's four slots: {stats}");
    assert_eq!(stats.dropped(DropReason::QueueFull), created - 4, "{stats}");
    assert_eq!(stats.exported + stats.dropped_total(), created, "{stats}");
    let delivered = sink.spans.lock().expect("lock").len() + sink.logs.lock().expect("lock").len();
    assert_eq!(delivered as u64, stats.exported);
    // The metric's points did not fit at all (two points each; the queue
    // was full): none was delivered.
    assert!(sink.metrics.lock().expect("lock").is_empty());
    let _ = (tracers.shutdown(), loggers.shutdown(), meters.shutdown());
}
