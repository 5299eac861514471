//! The reference path: model ↔ official `opentelemetry-proto` prost structs ↔
//! bytes. It is what the direct encoder and the direct decoder
//! ([`super::decode`]) are checked against, in tests and benches.
//!
//! Conventions shared with [`super::direct`] so both produce the same bytes:
//! resource and scope are always written (possibly empty), an `AnyValue` is
//! always written as a message (`Empty` as an empty one), an unset status is
//! omitted, absent ids are empty byte strings.
//!
//! Not modelled, and dropped on decode: exemplars, resource entity refs.
//! Rejected on decode: summary metrics, profile string-table indexes.

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1 as pc;
use opentelemetry_proto::tonic::logs::v1 as pl;
use opentelemetry_proto::tonic::metrics::v1 as pm;
use opentelemetry_proto::tonic::resource::v1 as pr;
use opentelemetry_proto::tonic::trace::v1 as pt;
use prost::Message;

use super::{EncodeError, Field};
use crate::model::*;

// ---------------------------------------------------------------- model → prost

fn s(v: &Str) -> String {
    v.as_str().to_owned()
}

/// Converts an attribute value.
pub fn any_value(v: &AnyValue) -> pc::AnyValue {
    use pc::any_value::Value as V;
    let value = match v {
        AnyValue::Empty => None,
        AnyValue::String(x) => Some(V::StringValue(s(x))),
        AnyValue::Bool(x) => Some(V::BoolValue(*x)),
        AnyValue::Int(x) => Some(V::IntValue(*x)),
        AnyValue::Double(x) => Some(V::DoubleValue(*x)),
        AnyValue::Bytes(x) => Some(V::BytesValue(x.to_vec())),
        AnyValue::Array(xs) => Some(V::ArrayValue(pc::ArrayValue { values: xs.iter().map(any_value).collect() })),
        AnyValue::KvList(xs) => Some(V::KvlistValue(pc::KeyValueList { values: key_values(xs) })),
    };
    pc::AnyValue { value }
}

fn key_values(kvs: &[KeyValue]) -> Vec<pc::KeyValue> {
    kvs.iter().map(|kv| pc::KeyValue { key: s(&kv.key), value: Some(any_value(&kv.value)), key_strindex: 0 }).collect()
}

fn resource(r: &Resource) -> Option<pr::Resource> {
    Some(pr::Resource {
        attributes: key_values(&r.attributes),
        dropped_attributes_count: r.dropped_attributes_count,
        entity_refs: Vec::new(),
    })
}

fn scope(sc: &InstrumentationScope) -> Option<pc::InstrumentationScope> {
    Some(pc::InstrumentationScope {
        name: s(&sc.name),
        version: s(&sc.version),
        attributes: key_values(&sc.attributes),
        dropped_attributes_count: sc.dropped_attributes_count,
    })
}

fn span(sp: &Span) -> pt::Span {
    pt::Span {
        trace_id: sp.trace_id.0.to_vec(),
        span_id: sp.span_id.0.to_vec(),
        trace_state: s(&sp.trace_state),
        parent_span_id: sp.parent_span_id.map_or_else(Vec::new, |p| p.0.to_vec()),
        flags: sp.flags,
        name: s(&sp.name),
        kind: sp.kind as i32,
        start_time_unix_nano: sp.start_time_unix_nano,
        end_time_unix_nano: sp.end_time_unix_nano,
        attributes: key_values(&sp.attributes),
        dropped_attributes_count: sp.dropped_attributes_count,
        events: sp
            .events
            .iter()
            .map(|e| pt::span::Event {
                time_unix_nano: e.time_unix_nano,
                name: s(&e.name),
                attributes: key_values(&e.attributes),
                dropped_attributes_count: e.dropped_attributes_count,
            })
            .collect(),
        dropped_events_count: sp.dropped_events_count,
        links: sp
            .links
            .iter()
            .map(|l| pt::span::Link {
                trace_id: l.trace_id.0.to_vec(),
                span_id: l.span_id.0.to_vec(),
                trace_state: s(&l.trace_state),
                attributes: key_values(&l.attributes),
                dropped_attributes_count: l.dropped_attributes_count,
                flags: l.flags,
            })
            .collect(),
        dropped_links_count: sp.dropped_links_count,
        status: (!sp.status.is_unset())
            .then(|| pt::Status { message: s(&sp.status.message), code: sp.status.code as i32 }),
    }
}

/// Converts a trace batch to the official request type.
pub fn traces_to_proto(d: &TracesData) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: d
            .resource_spans
            .iter()
            .map(|rs| pt::ResourceSpans {
                resource: resource(&rs.resource),
                scope_spans: rs
                    .scope_spans
                    .iter()
                    .map(|ss| pt::ScopeSpans {
                        scope: scope(&ss.scope),
                        spans: ss.spans.iter().map(span).collect(),
                        schema_url: s(&ss.schema_url),
                    })
                    .collect(),
                schema_url: s(&rs.schema_url),
            })
            .collect(),
    }
}

fn number_point(p: &NumberDataPoint) -> pm::NumberDataPoint {
    use pm::number_data_point::Value as V;
    pm::NumberDataPoint {
        attributes: key_values(&p.attributes),
        start_time_unix_nano: p.start_time_unix_nano,
        time_unix_nano: p.time_unix_nano,
        exemplars: Vec::new(),
        flags: p.flags,
        value: p.value.map(|v| match v {
            NumberValue::Double(x) => V::AsDouble(x),
            NumberValue::Int(x) => V::AsInt(x),
        }),
    }
}

fn exp_buckets(b: &Option<ExpBuckets>) -> Option<pm::exponential_histogram_data_point::Buckets> {
    b.as_ref().map(|b| pm::exponential_histogram_data_point::Buckets {
        offset: b.offset,
        bucket_counts: b.bucket_counts.clone(),
    })
}

fn metric(m: &Metric) -> pm::Metric {
    use pm::metric::Data as D;
    let data = m.data.as_ref().map(|d| match d {
        MetricData::Gauge(points) => D::Gauge(pm::Gauge { data_points: points.iter().map(number_point).collect() }),
        MetricData::Sum { points, temporality, is_monotonic } => D::Sum(pm::Sum {
            data_points: points.iter().map(number_point).collect(),
            aggregation_temporality: *temporality as i32,
            is_monotonic: *is_monotonic,
        }),
        MetricData::Histogram { points, temporality } => D::Histogram(pm::Histogram {
            data_points: points
                .iter()
                .map(|p| pm::HistogramDataPoint {
                    attributes: key_values(&p.attributes),
                    start_time_unix_nano: p.start_time_unix_nano,
                    time_unix_nano: p.time_unix_nano,
                    count: p.count,
                    sum: p.sum,
                    bucket_counts: p.bucket_counts.clone(),
                    explicit_bounds: p.explicit_bounds.clone(),
                    exemplars: Vec::new(),
                    flags: p.flags,
                    min: p.min,
                    max: p.max,
                })
                .collect(),
            aggregation_temporality: *temporality as i32,
        }),
        MetricData::ExponentialHistogram { points, temporality } => D::ExponentialHistogram(pm::ExponentialHistogram {
            data_points: points
                .iter()
                .map(|p| pm::ExponentialHistogramDataPoint {
                    attributes: key_values(&p.attributes),
                    start_time_unix_nano: p.start_time_unix_nano,
                    time_unix_nano: p.time_unix_nano,
                    count: p.count,
                    sum: p.sum,
                    scale: p.scale,
                    zero_count: p.zero_count,
                    positive: exp_buckets(&p.positive),
                    negative: exp_buckets(&p.negative),
                    flags: p.flags,
                    exemplars: Vec::new(),
                    min: p.min,
                    max: p.max,
                    zero_threshold: p.zero_threshold,
                })
                .collect(),
            aggregation_temporality: *temporality as i32,
        }),
    });
    pm::Metric {
        name: s(&m.name),
        description: s(&m.description),
        unit: s(&m.unit),
        metadata: key_values(&m.metadata),
        data,
    }
}

/// Converts a metrics batch to the official request type.
pub fn metrics_to_proto(d: &MetricsData) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: d
            .resource_metrics
            .iter()
            .map(|rm| pm::ResourceMetrics {
                resource: resource(&rm.resource),
                scope_metrics: rm
                    .scope_metrics
                    .iter()
                    .map(|sm| pm::ScopeMetrics {
                        scope: scope(&sm.scope),
                        metrics: sm.metrics.iter().map(metric).collect(),
                        schema_url: s(&sm.schema_url),
                    })
                    .collect(),
                schema_url: s(&rm.schema_url),
            })
            .collect(),
    }
}

fn log_record(r: &LogRecord) -> pl::LogRecord {
    pl::LogRecord {
        time_unix_nano: r.time_unix_nano,
        observed_time_unix_nano: r.observed_time_unix_nano,
        severity_number: r.severity_number.0,
        severity_text: s(&r.severity_text),
        body: r.body.as_ref().map(any_value),
        attributes: key_values(&r.attributes),
        dropped_attributes_count: r.dropped_attributes_count,
        flags: r.flags,
        trace_id: r.trace_id.map_or_else(Vec::new, |t| t.0.to_vec()),
        span_id: r.span_id.map_or_else(Vec::new, |t| t.0.to_vec()),
        event_name: s(&r.event_name),
    }
}

/// Converts a logs batch to the official request type.
pub fn logs_to_proto(d: &LogsData) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: d
            .resource_logs
            .iter()
            .map(|rl| pl::ResourceLogs {
                resource: resource(&rl.resource),
                scope_logs: rl
                    .scope_logs
                    .iter()
                    .map(|sl| pl::ScopeLogs {
                        scope: scope(&sl.scope),
                        log_records: sl.log_records.iter().map(log_record).collect(),
                        schema_url: s(&sl.schema_url),
                    })
                    .collect(),
                schema_url: s(&rl.schema_url),
            })
            .collect(),
    }
}

/// Reference encode of a trace batch: build the prost structs, encode, drop.
pub fn encode_traces(d: &TracesData, out: &mut Vec<u8>) {
    traces_to_proto(d).encode(out).expect("Vec<u8> grows as needed");
}

/// Reference encode of a metrics batch.
pub fn encode_metrics(d: &MetricsData, out: &mut Vec<u8>) {
    metrics_to_proto(d).encode(out).expect("Vec<u8> grows as needed");
}

/// Reference encode of a logs batch.
pub fn encode_logs(d: &LogsData, out: &mut Vec<u8>) {
    logs_to_proto(d).encode(out).expect("Vec<u8> grows as needed");
}

// ---------------------------------------------------------------- prost → model

fn invalid(field: Field, reason: &'static str) -> EncodeError {
    EncodeError::Invalid { field, reason }
}

fn st(v: String) -> Str {
    Str::from(v)
}

fn from_any_value(v: pc::AnyValue) -> Result<AnyValue, EncodeError> {
    use pc::any_value::Value as V;
    Ok(match v.value {
        None => AnyValue::Empty,
        Some(V::StringValue(x)) => AnyValue::String(st(x)),
        Some(V::BoolValue(x)) => AnyValue::Bool(x),
        Some(V::IntValue(x)) => AnyValue::Int(x),
        Some(V::DoubleValue(x)) => AnyValue::Double(x),
        Some(V::BytesValue(x)) => AnyValue::Bytes(Bytes::from(x)),
        Some(V::ArrayValue(a)) => AnyValue::Array(a.values.into_iter().map(from_any_value).collect::<Result<_, _>>()?),
        Some(V::KvlistValue(l)) => AnyValue::KvList(from_key_values(l.values)?),
        Some(V::StringValueStrindex(_)) => {
            return Err(invalid(Field::Value, "string_value_strindex is only valid in profiles"));
        }
    })
}

fn from_key_values(kvs: Vec<pc::KeyValue>) -> Result<Vec<KeyValue>, EncodeError> {
    kvs.into_iter()
        .map(|kv| {
            if kv.key_strindex != 0 {
                return Err(invalid(Field::Key, "key_strindex is only valid in profiles"));
            }
            Ok(KeyValue { key: st(kv.key), value: kv.value.map(from_any_value).transpose()?.unwrap_or_default() })
        })
        .collect()
}

fn from_resource(r: Option<pr::Resource>) -> Result<Resource, EncodeError> {
    let r = r.unwrap_or_default();
    Ok(Resource { attributes: from_key_values(r.attributes)?, dropped_attributes_count: r.dropped_attributes_count })
}

fn from_scope(sc: Option<pc::InstrumentationScope>) -> Result<InstrumentationScope, EncodeError> {
    let sc = sc.unwrap_or_default();
    Ok(InstrumentationScope {
        name: st(sc.name),
        version: st(sc.version),
        attributes: from_key_values(sc.attributes)?,
        dropped_attributes_count: sc.dropped_attributes_count,
    })
}

fn trace_id(b: &[u8]) -> Result<TraceId, EncodeError> {
    TraceId::from_slice(b).ok_or(invalid(Field::TraceId, "must be 16 bytes"))
}

fn span_id(b: &[u8], field: Field) -> Result<SpanId, EncodeError> {
    SpanId::from_slice(b).ok_or(invalid(field, "must be 8 bytes"))
}

fn opt_trace_id(b: &[u8]) -> Result<Option<TraceId>, EncodeError> {
    if b.is_empty() { Ok(None) } else { trace_id(b).map(Some) }
}

fn opt_span_id(b: &[u8], field: Field) -> Result<Option<SpanId>, EncodeError> {
    if b.is_empty() { Ok(None) } else { span_id(b, field).map(Some) }
}

fn from_span(p: pt::Span) -> Result<Span, EncodeError> {
    let status = p.status.unwrap_or_default();
    Ok(Span {
        trace_id: trace_id(&p.trace_id)?,
        span_id: span_id(&p.span_id, Field::SpanId)?,
        trace_state: st(p.trace_state),
        parent_span_id: opt_span_id(&p.parent_span_id, Field::ParentSpanId)?,
        flags: p.flags,
        name: st(p.name),
        kind: SpanKind::from_i32(p.kind),
        start_time_unix_nano: p.start_time_unix_nano,
        end_time_unix_nano: p.end_time_unix_nano,
        attributes: from_key_values(p.attributes)?,
        dropped_attributes_count: p.dropped_attributes_count,
        events: p
            .events
            .into_iter()
            .map(|e| {
                Ok(Event {
                    time_unix_nano: e.time_unix_nano,
                    name: st(e.name),
                    attributes: from_key_values(e.attributes)?,
                    dropped_attributes_count: e.dropped_attributes_count,
                })
            })
            .collect::<Result<_, EncodeError>>()?,
        dropped_events_count: p.dropped_events_count,
        links: p
            .links
            .into_iter()
            .map(|l| {
                Ok(Link {
                    trace_id: trace_id(&l.trace_id)?,
                    span_id: span_id(&l.span_id, Field::SpanId)?,
                    trace_state: st(l.trace_state),
                    attributes: from_key_values(l.attributes)?,
                    dropped_attributes_count: l.dropped_attributes_count,
                    flags: l.flags,
                })
            })
            .collect::<Result<_, EncodeError>>()?,
        dropped_links_count: p.dropped_links_count,
        status: Status { code: StatusCode::from_i32(status.code), message: st(status.message) },
    })
}

/// Converts the official request type to the model.
pub fn traces_from_proto(req: ExportTraceServiceRequest) -> Result<TracesData, EncodeError> {
    let mut out = TracesData { resource_spans: Vec::with_capacity(req.resource_spans.len()) };
    for rs in req.resource_spans {
        let mut scope_spans = Vec::with_capacity(rs.scope_spans.len());
        for ss in rs.scope_spans {
            scope_spans.push(ScopeSpans {
                scope: from_scope(ss.scope)?,
                spans: ss.spans.into_iter().map(from_span).collect::<Result<_, _>>()?,
                schema_url: st(ss.schema_url),
            });
        }
        out.resource_spans.push(ResourceSpans {
            resource: from_resource(rs.resource)?,
            scope_spans,
            schema_url: st(rs.schema_url),
        });
    }
    Ok(out)
}

fn from_number_points(points: Vec<pm::NumberDataPoint>) -> Result<Vec<NumberDataPoint>, EncodeError> {
    use pm::number_data_point::Value as V;
    points
        .into_iter()
        .map(|p| {
            Ok(NumberDataPoint {
                attributes: from_key_values(p.attributes)?,
                start_time_unix_nano: p.start_time_unix_nano,
                time_unix_nano: p.time_unix_nano,
                value: p.value.map(|v| match v {
                    V::AsDouble(x) => NumberValue::Double(x),
                    V::AsInt(x) => NumberValue::Int(x),
                }),
                flags: p.flags,
            })
        })
        .collect()
}

fn from_exp_buckets(b: Option<pm::exponential_histogram_data_point::Buckets>) -> Option<ExpBuckets> {
    b.map(|b| ExpBuckets { offset: b.offset, bucket_counts: b.bucket_counts })
}

fn from_metric(m: pm::Metric) -> Result<Metric, EncodeError> {
    use pm::metric::Data as D;
    let data = match m.data {
        None => None,
        Some(D::Gauge(g)) => Some(MetricData::Gauge(from_number_points(g.data_points)?)),
        Some(D::Sum(x)) => Some(MetricData::Sum {
            points: from_number_points(x.data_points)?,
            temporality: Temporality::from_i32(x.aggregation_temporality),
            is_monotonic: x.is_monotonic,
        }),
        Some(D::Histogram(h)) => Some(MetricData::Histogram {
            points: h
                .data_points
                .into_iter()
                .map(|p| {
                    Ok(HistogramDataPoint {
                        attributes: from_key_values(p.attributes)?,
                        start_time_unix_nano: p.start_time_unix_nano,
                        time_unix_nano: p.time_unix_nano,
                        count: p.count,
                        sum: p.sum,
                        bucket_counts: p.bucket_counts,
                        explicit_bounds: p.explicit_bounds,
                        flags: p.flags,
                        min: p.min,
                        max: p.max,
                    })
                })
                .collect::<Result<_, EncodeError>>()?,
            temporality: Temporality::from_i32(h.aggregation_temporality),
        }),
        Some(D::ExponentialHistogram(h)) => Some(MetricData::ExponentialHistogram {
            points: h
                .data_points
                .into_iter()
                .map(|p| {
                    Ok(ExponentialHistogramDataPoint {
                        attributes: from_key_values(p.attributes)?,
                        start_time_unix_nano: p.start_time_unix_nano,
                        time_unix_nano: p.time_unix_nano,
                        count: p.count,
                        sum: p.sum,
                        scale: p.scale,
                        zero_count: p.zero_count,
                        positive: from_exp_buckets(p.positive),
                        negative: from_exp_buckets(p.negative),
                        flags: p.flags,
                        min: p.min,
                        max: p.max,
                        zero_threshold: p.zero_threshold,
                    })
                })
                .collect::<Result<_, EncodeError>>()?,
            temporality: Temporality::from_i32(h.aggregation_temporality),
        }),
        Some(D::Summary(_)) => return Err(invalid(Field::MetricData, "summary metrics are not supported")),
    };
    Ok(Metric {
        name: st(m.name),
        description: st(m.description),
        unit: st(m.unit),
        data,
        metadata: from_key_values(m.metadata)?,
    })
}

/// Converts the official request type to the model.
pub fn metrics_from_proto(req: ExportMetricsServiceRequest) -> Result<MetricsData, EncodeError> {
    let mut out = MetricsData { resource_metrics: Vec::with_capacity(req.resource_metrics.len()) };
    for rm in req.resource_metrics {
        let mut scope_metrics = Vec::with_capacity(rm.scope_metrics.len());
        for sm in rm.scope_metrics {
            scope_metrics.push(ScopeMetrics {
                scope: from_scope(sm.scope)?,
                metrics: sm.metrics.into_iter().map(from_metric).collect::<Result<_, _>>()?,
                schema_url: st(sm.schema_url),
            });
        }
        out.resource_metrics.push(ResourceMetrics {
            resource: from_resource(rm.resource)?,
            scope_metrics,
            schema_url: st(rm.schema_url),
        });
    }
    Ok(out)
}

fn from_log_record(r: pl::LogRecord) -> Result<LogRecord, EncodeError> {
    Ok(LogRecord {
        time_unix_nano: r.time_unix_nano,
        observed_time_unix_nano: r.observed_time_unix_nano,
        severity_number: Severity(r.severity_number),
        severity_text: st(r.severity_text),
        body: r.body.map(from_any_value).transpose()?,
        attributes: from_key_values(r.attributes)?,
        dropped_attributes_count: r.dropped_attributes_count,
        flags: r.flags,
        trace_id: opt_trace_id(&r.trace_id)?,
        span_id: opt_span_id(&r.span_id, Field::SpanId)?,
        event_name: st(r.event_name),
    })
}

/// Converts the official request type to the model.
pub fn logs_from_proto(req: ExportLogsServiceRequest) -> Result<LogsData, EncodeError> {
    let mut out = LogsData { resource_logs: Vec::with_capacity(req.resource_logs.len()) };
    for rl in req.resource_logs {
        let mut scope_logs = Vec::with_capacity(rl.scope_logs.len());
        for sl in rl.scope_logs {
            scope_logs.push(ScopeLogs {
                scope: from_scope(sl.scope)?,
                log_records: sl.log_records.into_iter().map(from_log_record).collect::<Result<_, _>>()?,
                schema_url: st(sl.schema_url),
            });
        }
        out.resource_logs.push(ResourceLogs {
            resource: from_resource(rl.resource)?,
            scope_logs,
            schema_url: st(rl.schema_url),
        });
    }
    Ok(out)
}

/// Decodes an `ExportTraceServiceRequest` (or `TracesData`: same wire shape).
pub fn decode_traces(buf: &[u8]) -> Result<TracesData, EncodeError> {
    traces_from_proto(ExportTraceServiceRequest::decode(buf)?)
}

/// Decodes an `ExportMetricsServiceRequest` (or `MetricsData`).
pub fn decode_metrics(buf: &[u8]) -> Result<MetricsData, EncodeError> {
    metrics_from_proto(ExportMetricsServiceRequest::decode(buf)?)
}

/// Decodes an `ExportLogsServiceRequest` (or `LogsData`).
pub fn decode_logs(buf: &[u8]) -> Result<LogsData, EncodeError> {
    logs_from_proto(ExportLogsServiceRequest::decode(buf)?)
}
