//! Model → OTLP/JSON, appended straight to a `Vec<u8>`.
//!
//! Every member is written as `"key":value,` and the trailing comma is turned
//! into the closing bracket ([`close`]), so that omitting default fields needs
//! no "first member" bookkeeping.

use super::base64;
use crate::model::{
    AnyValue, Event, ExpBuckets, ExponentialHistogramDataPoint, HistogramDataPoint, InstrumentationScope, KeyValue,
    Link, LogRecord, LogsData, Metric, MetricData, MetricsData, NumberDataPoint, NumberValue, Resource, Span, SpanKind,
    Str, Temporality, TracesData,
};

/// Appends the OTLP/JSON of a trace batch (an `ExportTraceServiceRequest`).
pub fn write_traces(d: &TracesData, out: &mut Vec<u8>) {
    out.push(b'{');
    if !d.resource_spans.is_empty() {
        out.extend_from_slice(b"\"resourceSpans\":[");
        for rs in &d.resource_spans {
            out.extend_from_slice(b"{\"resource\":");
            resource(out, &rs.resource);
            if !rs.scope_spans.is_empty() {
                out.extend_from_slice(b"\"scopeSpans\":[");
                for ss in &rs.scope_spans {
                    out.extend_from_slice(b"{\"scope\":");
                    scope(out, &ss.scope);
                    if !ss.spans.is_empty() {
                        out.extend_from_slice(b"\"spans\":[");
                        for s in &ss.spans {
                            span(out, s);
                        }
                        close(out, b']');
                        out.push(b',');
                    }
                    str_field(out, b"\"schemaUrl\":\"", &ss.schema_url);
                    close_member(out);
                }
                close(out, b']');
                out.push(b',');
            }
            str_field(out, b"\"schemaUrl\":\"", &rs.schema_url);
            close_member(out);
        }
        close(out, b']');
    }
    close(out, b'}');
}

/// Appends the OTLP/JSON of a metrics batch (an `ExportMetricsServiceRequest`).
pub fn write_metrics(d: &MetricsData, out: &mut Vec<u8>) {
    out.push(b'{');
    if !d.resource_metrics.is_empty() {
        out.extend_from_slice(b"\"resourceMetrics\":[");
        for rm in &d.resource_metrics {
            out.extend_from_slice(b"{\"resource\":");
            resource(out, &rm.resource);
            if !rm.scope_metrics.is_empty() {
                out.extend_from_slice(b"\"scopeMetrics\":[");
                for sm in &rm.scope_metrics {
                    out.extend_from_slice(b"{\"scope\":");
                    scope(out, &sm.scope);
                    if !sm.metrics.is_empty() {
                        out.extend_from_slice(b"\"metrics\":[");
                        for m in &sm.metrics {
                            metric(out, m);
                        }
                        close(out, b']');
                        out.push(b',');
                    }
                    str_field(out, b"\"schemaUrl\":\"", &sm.schema_url);
                    close_member(out);
                }
                close(out, b']');
                out.push(b',');
            }
            str_field(out, b"\"schemaUrl\":\"", &rm.schema_url);
            close_member(out);
        }
        close(out, b']');
    }
    close(out, b'}');
}

/// Appends the OTLP/JSON of a logs batch (an `ExportLogsServiceRequest`).
pub fn write_logs(d: &LogsData, out: &mut Vec<u8>) {
    out.push(b'{');
    if !d.resource_logs.is_empty() {
        out.extend_from_slice(b"\"resourceLogs\":[");
        for rl in &d.resource_logs {
            out.extend_from_slice(b"{\"resource\":");
            resource(out, &rl.resource);
            if !rl.scope_logs.is_empty() {
                out.extend_from_slice(b"\"scopeLogs\":[");
                for sl in &rl.scope_logs {
                    out.extend_from_slice(b"{\"scope\":");
                    scope(out, &sl.scope);
                    if !sl.log_records.is_empty() {
                        out.extend_from_slice(b"\"logRecords\":[");
                        for r in &sl.log_records {
                            log_record(out, r);
                        }
                        close(out, b']');
                        out.push(b',');
                    }
                    str_field(out, b"\"schemaUrl\":\"", &sl.schema_url);
                    close_member(out);
                }
                close(out, b']');
                out.push(b',');
            }
            str_field(out, b"\"schemaUrl\":\"", &rl.schema_url);
            close_member(out);
        }
        close(out, b']');
    }
    close(out, b'}');
}

// ---------------------------------------------------------------- messages

fn resource(out: &mut Vec<u8>, r: &Resource) {
    out.push(b'{');
    attributes(out, b"\"attributes\":[", &r.attributes);
    u32_field(out, b"\"droppedAttributesCount\":", r.dropped_attributes_count);
    close_member(out);
}

fn scope(out: &mut Vec<u8>, s: &InstrumentationScope) {
    out.push(b'{');
    str_field(out, b"\"name\":\"", &s.name);
    str_field(out, b"\"version\":\"", &s.version);
    attributes(out, b"\"attributes\":[", &s.attributes);
    u32_field(out, b"\"droppedAttributesCount\":", s.dropped_attributes_count);
    close_member(out);
}

/// Members in the declaration order of `trace.proto`, as protobuf's own JSON
/// printers emit them.
fn span(out: &mut Vec<u8>, s: &Span) {
    out.extend_from_slice(b"{\"traceId\":\"");
    hex(out, &s.trace_id.0);
    out.extend_from_slice(b"\",\"spanId\":\"");
    hex(out, &s.span_id.0);
    out.extend_from_slice(b"\",");
    str_field(out, b"\"traceState\":\"", &s.trace_state);
    if let Some(p) = &s.parent_span_id {
        out.extend_from_slice(b"\"parentSpanId\":\"");
        hex(out, &p.0);
        out.extend_from_slice(b"\",");
    }
    u32_field(out, b"\"flags\":", s.flags);
    str_field(out, b"\"name\":\"", &s.name);
    if s.kind != SpanKind::Unspecified {
        // Kinds are 1..=5: one digit.
        out.extend_from_slice(&[b'"', b'k', b'i', b'n', b'd', b'"', b':', b'0' + s.kind as u8, b',']);
    }
    u64_field(out, b"\"startTimeUnixNano\":\"", s.start_time_unix_nano);
    u64_field(out, b"\"endTimeUnixNano\":\"", s.end_time_unix_nano);
    attributes(out, b"\"attributes\":[", &s.attributes);
    u32_field(out, b"\"droppedAttributesCount\":", s.dropped_attributes_count);
    if !s.events.is_empty() {
        out.extend_from_slice(b"\"events\":[");
        for e in &s.events {
            event(out, e);
        }
        close(out, b']');
        out.push(b',');
    }
    u32_field(out, b"\"droppedEventsCount\":", s.dropped_events_count);
    if !s.links.is_empty() {
        out.extend_from_slice(b"\"links\":[");
        for l in &s.links {
            link(out, l);
        }
        close(out, b']');
        out.push(b',');
    }
    u32_field(out, b"\"droppedLinksCount\":", s.dropped_links_count);
    if !s.status.is_unset() {
        out.extend_from_slice(b"\"status\":{");
        str_field(out, b"\"message\":\"", &s.status.message);
        i32_field(out, b"\"code\":", s.status.code as i32);
        close_member(out);
    }
    close_member(out);
}

fn event(out: &mut Vec<u8>, e: &Event) {
    out.push(b'{');
    u64_field(out, b"\"timeUnixNano\":\"", e.time_unix_nano);
    str_field(out, b"\"name\":\"", &e.name);
    attributes(out, b"\"attributes\":[", &e.attributes);
    u32_field(out, b"\"droppedAttributesCount\":", e.dropped_attributes_count);
    close_member(out);
}

fn link(out: &mut Vec<u8>, l: &Link) {
    out.extend_from_slice(b"{\"traceId\":\"");
    hex(out, &l.trace_id.0);
    out.extend_from_slice(b"\",\"spanId\":\"");
    hex(out, &l.span_id.0);
    out.extend_from_slice(b"\",");
    str_field(out, b"\"traceState\":\"", &l.trace_state);
    attributes(out, b"\"attributes\":[", &l.attributes);
    u32_field(out, b"\"droppedAttributesCount\":", l.dropped_attributes_count);
    u32_field(out, b"\"flags\":", l.flags);
    close_member(out);
}

fn metric(out: &mut Vec<u8>, m: &Metric) {
    out.push(b'{');
    str_field(out, b"\"name\":\"", &m.name);
    str_field(out, b"\"description\":\"", &m.description);
    str_field(out, b"\"unit\":\"", &m.unit);
    match &m.data {
        None => {}
        Some(MetricData::Gauge(points)) => {
            out.extend_from_slice(b"\"gauge\":{");
            number_points(out, points);
            close_member(out);
        }
        Some(MetricData::Sum { points, temporality, is_monotonic }) => {
            out.extend_from_slice(b"\"sum\":{");
            number_points(out, points);
            temporality_field(out, *temporality);
            if *is_monotonic {
                out.extend_from_slice(b"\"isMonotonic\":true,");
            }
            close_member(out);
        }
        Some(MetricData::Histogram { points, temporality }) => {
            out.extend_from_slice(b"\"histogram\":{");
            if !points.is_empty() {
                out.extend_from_slice(b"\"dataPoints\":[");
                for p in points {
                    histogram_point(out, p);
                }
                close(out, b']');
                out.push(b',');
            }
            temporality_field(out, *temporality);
            close_member(out);
        }
        Some(MetricData::ExponentialHistogram { points, temporality }) => {
            out.extend_from_slice(b"\"exponentialHistogram\":{");
            if !points.is_empty() {
                out.extend_from_slice(b"\"dataPoints\":[");
                for p in points {
                    exp_histogram_point(out, p);
                }
                close(out, b']');
                out.push(b',');
            }
            temporality_field(out, *temporality);
            close_member(out);
        }
    }
    attributes(out, b"\"metadata\":[", &m.metadata);
    close_member(out);
}

fn temporality_field(out: &mut Vec<u8>, t: Temporality) {
    i32_field(out, b"\"aggregationTemporality\":", t as i32);
}

fn number_points(out: &mut Vec<u8>, points: &[NumberDataPoint]) {
    if points.is_empty() {
        return;
    }
    out.extend_from_slice(b"\"dataPoints\":[");
    for p in points {
        out.push(b'{');
        attributes(out, b"\"attributes\":[", &p.attributes);
        u64_field(out, b"\"startTimeUnixNano\":\"", p.start_time_unix_nano);
        u64_field(out, b"\"timeUnixNano\":\"", p.time_unix_nano);
        match p.value {
            None => {}
            Some(NumberValue::Double(v)) => {
                out.extend_from_slice(b"\"asDouble\":");
                double(out, v);
                out.push(b',');
            }
            Some(NumberValue::Int(v)) => {
                out.extend_from_slice(b"\"asInt\":\"");
                out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
                out.extend_from_slice(b"\",");
            }
        }
        u32_field(out, b"\"flags\":", p.flags);
        close_member(out);
    }
    close(out, b']');
    out.push(b',');
}

fn histogram_point(out: &mut Vec<u8>, p: &HistogramDataPoint) {
    out.push(b'{');
    attributes(out, b"\"attributes\":[", &p.attributes);
    u64_field(out, b"\"startTimeUnixNano\":\"", p.start_time_unix_nano);
    u64_field(out, b"\"timeUnixNano\":\"", p.time_unix_nano);
    u64_field(out, b"\"count\":\"", p.count);
    opt_double_field(out, b"\"sum\":", p.sum);
    u64_array(out, b"\"bucketCounts\":[", &p.bucket_counts);
    if !p.explicit_bounds.is_empty() {
        out.extend_from_slice(b"\"explicitBounds\":[");
        for &b in &p.explicit_bounds {
            double(out, b);
            out.push(b',');
        }
        close(out, b']');
        out.push(b',');
    }
    u32_field(out, b"\"flags\":", p.flags);
    opt_double_field(out, b"\"min\":", p.min);
    opt_double_field(out, b"\"max\":", p.max);
    close_member(out);
}

fn exp_histogram_point(out: &mut Vec<u8>, p: &ExponentialHistogramDataPoint) {
    out.push(b'{');
    attributes(out, b"\"attributes\":[", &p.attributes);
    u64_field(out, b"\"startTimeUnixNano\":\"", p.start_time_unix_nano);
    u64_field(out, b"\"timeUnixNano\":\"", p.time_unix_nano);
    u64_field(out, b"\"count\":\"", p.count);
    opt_double_field(out, b"\"sum\":", p.sum);
    i32_field(out, b"\"scale\":", p.scale);
    u64_field(out, b"\"zeroCount\":\"", p.zero_count);
    exp_buckets(out, b"\"positive\":{", &p.positive);
    exp_buckets(out, b"\"negative\":{", &p.negative);
    u32_field(out, b"\"flags\":", p.flags);
    opt_double_field(out, b"\"min\":", p.min);
    opt_double_field(out, b"\"max\":", p.max);
    if p.zero_threshold != 0.0 {
        opt_double_field(out, b"\"zeroThreshold\":", Some(p.zero_threshold));
    }
    close_member(out);
}

fn exp_buckets(out: &mut Vec<u8>, key: &[u8], b: &Option<ExpBuckets>) {
    if let Some(b) = b {
        out.extend_from_slice(key);
        i32_field(out, b"\"offset\":", b.offset);
        u64_array(out, b"\"bucketCounts\":[", &b.bucket_counts);
        close_member(out);
    }
}

fn log_record(out: &mut Vec<u8>, r: &LogRecord) {
    out.push(b'{');
    u64_field(out, b"\"timeUnixNano\":\"", r.time_unix_nano);
    u64_field(out, b"\"observedTimeUnixNano\":\"", r.observed_time_unix_nano);
    i32_field(out, b"\"severityNumber\":", r.severity_number.0);
    str_field(out, b"\"severityText\":\"", &r.severity_text);
    if let Some(body) = &r.body {
        out.extend_from_slice(b"\"body\":");
        any_value(out, body);
        out.push(b',');
    }
    attributes(out, b"\"attributes\":[", &r.attributes);
    u32_field(out, b"\"droppedAttributesCount\":", r.dropped_attributes_count);
    u32_field(out, b"\"flags\":", r.flags);
    if let Some(t) = &r.trace_id {
        out.extend_from_slice(b"\"traceId\":\"");
        hex(out, &t.0);
        out.extend_from_slice(b"\",");
    }
    if let Some(s) = &r.span_id {
        out.extend_from_slice(b"\"spanId\":\"");
        hex(out, &s.0);
        out.extend_from_slice(b"\",");
    }
    str_field(out, b"\"eventName\":\"", &r.event_name);
    close_member(out);
}

// ---------------------------------------------------------------- values

/// `key` is the member name with its opening `[`, so that it is one copy.
fn attributes(out: &mut Vec<u8>, key: &[u8], kvs: &[KeyValue]) {
    if kvs.is_empty() {
        return;
    }
    out.extend_from_slice(key);
    for kv in kvs {
        key_value(out, kv);
    }
    close(out, b']');
    out.push(b',');
}

fn key_value(out: &mut Vec<u8>, kv: &KeyValue) {
    if kv.key.is_empty() {
        out.extend_from_slice(b"{\"value\":");
    } else {
        out.extend_from_slice(b"{\"key\":\"");
        escape(out, kv.key.as_bytes());
        out.extend_from_slice(b"\",\"value\":");
    }
    any_value(out, &kv.value);
    out.extend_from_slice(b"},");
}

/// A oneof member is written even when it holds its type's default value:
/// `{"intValue":"0"}` is an integer, `{}` is no value at all.
fn any_value(out: &mut Vec<u8>, v: &AnyValue) {
    match v {
        AnyValue::Empty => out.extend_from_slice(b"{}"),
        AnyValue::String(s) => {
            out.extend_from_slice(b"{\"stringValue\":\"");
            escape(out, s.as_bytes());
            out.extend_from_slice(b"\"}");
        }
        AnyValue::Bool(true) => out.extend_from_slice(b"{\"boolValue\":true}"),
        AnyValue::Bool(false) => out.extend_from_slice(b"{\"boolValue\":false}"),
        AnyValue::Int(i) => {
            out.extend_from_slice(b"{\"intValue\":\"");
            out.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes());
            out.extend_from_slice(b"\"}");
        }
        AnyValue::Double(d) => {
            out.extend_from_slice(b"{\"doubleValue\":");
            double(out, *d);
            out.push(b'}');
        }
        AnyValue::Bytes(b) => {
            out.extend_from_slice(b"{\"bytesValue\":\"");
            base64::encode(b, out);
            out.extend_from_slice(b"\"}");
        }
        AnyValue::Array(xs) => {
            out.extend_from_slice(b"{\"arrayValue\":{");
            if !xs.is_empty() {
                out.extend_from_slice(b"\"values\":[");
                for x in xs {
                    any_value(out, x);
                    out.push(b',');
                }
                close(out, b']');
            }
            out.extend_from_slice(b"}}");
        }
        AnyValue::KvList(kvs) => {
            out.extend_from_slice(b"{\"kvlistValue\":{");
            if !kvs.is_empty() {
                out.extend_from_slice(b"\"values\":[");
                for kv in kvs {
                    key_value(out, kv);
                }
                close(out, b']');
            }
            out.extend_from_slice(b"}}");
        }
    }
}

// ---------------------------------------------------------------- scalars

/// Ends an object or array: the trailing `,` of the last member becomes the
/// closing bracket; an empty one just gets its bracket.
#[inline]
fn close(out: &mut Vec<u8>, bracket: u8) {
    match out.last_mut() {
        Some(last) if *last == b',' => *last = bracket,
        _ => out.push(bracket),
    }
}

/// Closes an object that is itself a member or an array element.
#[inline]
fn close_member(out: &mut Vec<u8>) {
    close(out, b'}');
    out.push(b',');
}

/// A string member; `key` includes the opening quote of the value.
#[inline]
fn str_field(out: &mut Vec<u8>, key: &[u8], v: &Str) {
    if !v.is_empty() {
        out.extend_from_slice(key);
        escape(out, v.as_bytes());
        out.extend_from_slice(b"\",");
    }
}

/// A (u)int32 member, a JSON number.
#[inline]
fn u32_field(out: &mut Vec<u8>, key: &[u8], v: u32) {
    if v != 0 {
        out.extend_from_slice(key);
        out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
        out.push(b',');
    }
}

#[inline]
fn i32_field(out: &mut Vec<u8>, key: &[u8], v: i32) {
    if v != 0 {
        out.extend_from_slice(key);
        out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
        out.push(b',');
    }
}

/// A 64-bit member, a decimal string; `key` includes the opening quote.
#[inline]
fn u64_field(out: &mut Vec<u8>, key: &[u8], v: u64) {
    if v != 0 {
        out.extend_from_slice(key);
        out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
        out.extend_from_slice(b"\",");
    }
}

fn u64_array(out: &mut Vec<u8>, key: &[u8], vs: &[u64]) {
    if vs.is_empty() {
        return;
    }
    out.extend_from_slice(key);
    let mut buf = itoa::Buffer::new();
    for &v in vs {
        out.push(b'"');
        out.extend_from_slice(buf.format(v).as_bytes());
        out.extend_from_slice(b"\",");
    }
    close(out, b']');
    out.push(b',');
}

/// An optional double (proto3 `optional`): written whenever present.
fn opt_double_field(out: &mut Vec<u8>, key: &[u8], v: Option<f64>) {
    if let Some(v) = v {
        out.extend_from_slice(key);
        double(out, v);
        out.push(b',');
    }
}

/// Shortest round-trip form, byte for byte what `ryu` writes; the
/// non-finite values as the strings protobuf's JSON mapping uses.
fn double(out: &mut Vec<u8>, v: f64) {
    if let Some((m, places)) = short_decimal(v) {
        // Exactly `m / 10^places`: the decimal expansion is the shortest form.
        if v < 0.0 {
            out.push(b'-');
        }
        let unit = POW10[places as usize];
        out.extend_from_slice(itoa::Buffer::new().format(m / unit).as_bytes());
        out.push(b'.');
        if places == 0 {
            out.push(b'0');
        } else {
            let frac = (m % unit) + unit; // a leading 1 keeps the zero padding
            out.extend_from_slice(&itoa::Buffer::new().format(frac).as_bytes()[1..]);
        }
    } else if v.is_finite() {
        out.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
    } else if v.is_nan() {
        out.extend_from_slice(b"\"NaN\"");
    } else if v > 0.0 {
        out.extend_from_slice(b"\"Infinity\"");
    } else {
        out.extend_from_slice(b"\"-Infinity\"");
    }
}

/// Powers of ten up to the largest `places` [`short_decimal`] returns.
const POW10: [u64; 16] = {
    let mut t = [1u64; 16];
    let mut i = 1;
    while i < 16 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// `|v|` as `m / 10^places` when that is exact with `m` below 10^15 and `v`
/// is in ryu's plain-decimal range (1e-5 ≤ |v| < 1e16). Such a value's exact
/// expansion is its shortest round-trip form: every other decimal with as
/// few digits is at least 10^-places away, more than half an ulp. Saves the
/// general shortest-digits search for values like 1.25 or 250.0.
#[inline]
fn short_decimal(v: f64) -> Option<(u64, u32)> {
    const LIMIT: u64 = 1_000_000_000_000_000;
    let a = v.abs();
    if !(1e-5..1e15).contains(&a) {
        return None;
    }
    let bits = a.to_bits();
    // Normal, as the range check implies: value = mant · 2^exp.
    let mant = (bits & ((1 << 52) - 1)) | (1 << 52);
    let exp = ((bits >> 52) & 0x7ff) as i32 - 1075;
    let zeros = mant.trailing_zeros();
    let (mant, exp) = (mant >> zeros, exp + zeros as i32);
    if exp >= 0 {
        // An integer below 1e15.
        return Some((mant << exp, 0));
    }
    // mant · 2^exp = mant · 5^places / 10^places, and mant is odd, so
    // `places` is minimal.
    let places = exp.unsigned_abs();
    if places as usize >= POW10.len() {
        return None;
    }
    let m = mant.checked_mul(5u64.checked_pow(places)?)?;
    (m < LIMIT).then_some((m, places))
}

/// Lowercase hex of an id (16 bytes at most).
#[inline]
fn hex(out: &mut Vec<u8>, id: &[u8]) {
    let mut buf = [0u8; 32];
    let dst = &mut buf[..2 * id.len()];
    crate::simd::hex_encode(id, dst);
    out.extend_from_slice(dst);
}

/// Appends `s` escaped for the inside of a JSON string (RFC 8259): `"`, `\`
/// and the control characters; everything else, UTF-8 included, as is.
#[inline]
fn escape(out: &mut Vec<u8>, s: &[u8]) {
    let clean = clean_prefix(s);
    out.extend_from_slice(&s[..clean]);
    if clean < s.len() {
        escape_rest(out, &s[clean..]);
    }
}

/// The rest of a string from its first byte that needs escaping.
#[cold]
#[inline(never)]
fn escape_rest(out: &mut Vec<u8>, mut rest: &[u8]) {
    while let Some((&b, tail)) = rest.split_first() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
            }
        }
        let clean = clean_prefix(tail);
        out.extend_from_slice(&tail[..clean]);
        rest = &tail[clean..];
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// High bit set in each byte of `x` that must be escaped: below 0x20, `"` or
/// `\`. Borrows can also flag a byte above a flagged one, never below, so the
/// lowest flag is exact.
#[inline]
fn escape_mask(x: u64) -> u64 {
    let control = x.wrapping_sub(ONES * 0x20) & !x;
    let q = x ^ (ONES * u64::from(b'"'));
    let quote = q.wrapping_sub(ONES) & !q;
    let bs = x ^ (ONES * u64::from(b'\\'));
    let backslash = bs.wrapping_sub(ONES) & !bs;
    (control | quote | backslash) & HIGHS
}

/// Length of the prefix of `s` that needs no escaping, 8 bytes at a time.
#[inline]
fn clean_prefix(s: &[u8]) -> usize {
    let n = s.len();
    if n < 8 {
        return s.iter().position(|&b| b < 0x20 || b == b'"' || b == b'\\').unwrap_or(n);
    }
    let word = |i: usize| u64::from_le_bytes(s[i..i + 8].try_into().expect("8-byte window"));
    let mut i = 0;
    while i + 8 <= n {
        let m = escape_mask(word(i));
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    if i < n {
        // The last, overlapping word: its bytes before `i` are clean, so they
        // neither flag nor borrow.
        let m = escape_mask(word(n - 8));
        if m != 0 {
            return n - 8 + (m.trailing_zeros() / 8) as usize;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(s: &str) -> String {
        let mut out = Vec::new();
        escape(&mut out, s.as_bytes());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_like_serde_json() {
        let mut cases: Vec<String> = vec![
            String::new(),
            "plain".into(),
            "exactly8".into(),
            "a \"quoted\" \\ back\\slash".into(),
            "tab\tnew\nline\r\u{8}\u{c}\u{1}\u{1f}\u{7f}".into(),
            "héllo wörld ✓ 🚀 \u{2028}".into(),
            "0123456789abcdef\"".into(),
            "0123456789abcde\n".into(),
        ];
        for b in 0u8..0x80 {
            for pos in 0..20 {
                let mut s = "x".repeat(pos);
                s.push(char::from(b));
                s.push_str("yz");
                cases.push(s);
            }
        }
        for c in &cases {
            let want = serde_json::to_string(c).unwrap();
            assert_eq!(format!("\"{}\"", escaped(c)), want, "{c:?}");
        }
    }

    #[test]
    fn doubles_match_ryu() {
        let mut values = vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            1.25,
            -1.25,
            0.5,
            0.1,
            0.3,
            1e-5,
            1.5e-5,
            7.62939453125e-6,
            1e15,
            999999999999999.0,
            1e16,
            123456.789,
            0.001,
            1024.0,
            3.0517578125e-5,
            2.5e-4,
            1e300,
            5e-324,
            f64::MAX,
            f64::MIN_POSITIVE,
        ];
        let mut x = 0x1234_5678_9abc_def0_u64;
        for i in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push(f64::from_bits(x));
            values.push((x % 100_000) as f64 / [1.0, 2.0, 4.0, 8.0, 16.0, 1024.0, 3.0, 10.0][i % 8]);
            values.push((x >> 11) as f64 / (1u64 << (i % 64)) as f64);
        }
        for v in values.into_iter().filter(|v| v.is_finite()) {
            let mut out = Vec::new();
            double(&mut out, v);
            let want = ryu::Buffer::new().format_finite(v).to_owned();
            assert_eq!(String::from_utf8(out).unwrap(), want, "{v:e}");
        }
    }
}
