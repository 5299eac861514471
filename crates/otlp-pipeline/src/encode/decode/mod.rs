//! The direct protobuf decoder: OTLP wire bytes straight into the model.
//!
//! It walks the wire format once, without prost's intermediate structs:
//! strings and `bytes` values are slices of the request body (one reference
//! count each, no copy; strings are UTF-8 checked with the SIMD validator).
//!
//! Its contract is the [`super::reference`] decoder's: for every input both
//! return the same model, or both fail. So it follows prost's rules, not
//! only the protobuf spec's: unknown fields of every wire type are skipped
//! (groups included), the last occurrence of a scalar wins, a singular
//! message given twice is merged (and so is a oneof's message variant given
//! twice in a row), repeated scalars are accepted packed and unpacked, a
//! varint has at most 10 bytes, a known field with the wrong wire type is an
//! error, and prost's recursion limit applies, counted as prost counts it
//! (each nested message, each group, and any unknown field at the limit).
//! Messages the model drops (exemplars, entity refs, summaries) are still
//! checked on the wire, as prost decodes them before the conversion drops
//! them. The checks the reference applies after decoding (id lengths,
//! profile-only fields, summaries) are applied to the final, merged value of
//! each message, when it ends.

use std::fmt;
use std::ops::Range;

use bytes::Bytes;

use super::{EncodeError, Field};
use crate::model::*;

/// prost's `RECURSION_LIMIT`: message nesting below the top-level request.
const RECURSION_LIMIT: u32 = 100;

/// Most elements reserved ahead of decoding them (see `count_fields`): far
/// above a span's attributes or a request's spans per scope (512 in the
/// fixtures), and about 300 KiB at most for the largest element, a span.
const MAX_RESERVE: usize = 1024;

/// The message being decoded when a wire error occurred.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message {
    /// `ExportTraceServiceRequest` / `TracesData`.
    TracesData,
    /// `ExportMetricsServiceRequest` / `MetricsData`.
    MetricsData,
    /// `ExportLogsServiceRequest` / `LogsData`.
    LogsData,
    /// `ResourceSpans`.
    ResourceSpans,
    /// `ScopeSpans`.
    ScopeSpans,
    /// `Span`.
    Span,
    /// `Span.Event`.
    Event,
    /// `Span.Link`.
    Link,
    /// `Status`.
    Status,
    /// `ResourceMetrics`.
    ResourceMetrics,
    /// `ScopeMetrics`.
    ScopeMetrics,
    /// `Metric`.
    Metric,
    /// `Gauge`.
    Gauge,
    /// `Sum`.
    Sum,
    /// `Histogram`.
    Histogram,
    /// `ExponentialHistogram`.
    ExponentialHistogram,
    /// `Summary`.
    Summary,
    /// `NumberDataPoint`.
    NumberDataPoint,
    /// `HistogramDataPoint`.
    HistogramDataPoint,
    /// `ExponentialHistogramDataPoint`.
    ExponentialHistogramDataPoint,
    /// `ExponentialHistogramDataPoint.Buckets`.
    Buckets,
    /// `SummaryDataPoint`.
    SummaryDataPoint,
    /// `SummaryDataPoint.ValueAtQuantile`.
    ValueAtQuantile,
    /// `Exemplar`.
    Exemplar,
    /// `ResourceLogs`.
    ResourceLogs,
    /// `ScopeLogs`.
    ScopeLogs,
    /// `LogRecord`.
    LogRecord,
    /// `Resource`.
    Resource,
    /// `EntityRef`.
    EntityRef,
    /// `InstrumentationScope`.
    InstrumentationScope,
    /// `KeyValue`.
    KeyValue,
    /// `AnyValue`.
    AnyValue,
    /// `ArrayValue`.
    ArrayValue,
    /// `KeyValueList`.
    KeyValueList,
}

impl Message {
    /// The field's name in the OTLP `.proto`, or `None` for a field number
    /// the message does not define.
    pub fn field_name(self, tag: u32) -> Option<&'static str> {
        use Message as M;
        let names: &[&str] = match self {
            M::TracesData => &["resource_spans"],
            M::MetricsData => &["resource_metrics"],
            M::LogsData => &["resource_logs"],
            M::ResourceSpans => &["resource", "scope_spans", "schema_url"],
            M::ScopeSpans => &["scope", "spans", "schema_url"],
            M::Span => &[
                "trace_id",
                "span_id",
                "trace_state",
                "parent_span_id",
                "name",
                "kind",
                "start_time_unix_nano",
                "end_time_unix_nano",
                "attributes",
                "dropped_attributes_count",
                "events",
                "dropped_events_count",
                "links",
                "dropped_links_count",
                "status",
                "flags",
            ],
            M::Event => &["time_unix_nano", "name", "attributes", "dropped_attributes_count"],
            M::Link => &["trace_id", "span_id", "trace_state", "attributes", "dropped_attributes_count", "flags"],
            M::Status => &["", "message", "code"],
            M::ResourceMetrics => &["resource", "scope_metrics", "schema_url"],
            M::ScopeMetrics => &["scope", "metrics", "schema_url"],
            M::Metric => &[
                "name",
                "description",
                "unit",
                "",
                "gauge",
                "",
                "sum",
                "",
                "histogram",
                "exponential_histogram",
                "summary",
                "metadata",
            ],
            M::Gauge | M::Summary => &["data_points"],
            M::Sum => &["data_points", "aggregation_temporality", "is_monotonic"],
            M::Histogram | M::ExponentialHistogram => &["data_points", "aggregation_temporality"],
            M::NumberDataPoint => &[
                "",
                "start_time_unix_nano",
                "time_unix_nano",
                "as_double",
                "exemplars",
                "as_int",
                "attributes",
                "flags",
            ],
            M::HistogramDataPoint => &[
                "",
                "start_time_unix_nano",
                "time_unix_nano",
                "count",
                "sum",
                "bucket_counts",
                "explicit_bounds",
                "exemplars",
                "attributes",
                "flags",
                "min",
                "max",
            ],
            M::ExponentialHistogramDataPoint => &[
                "attributes",
                "start_time_unix_nano",
                "time_unix_nano",
                "count",
                "sum",
                "scale",
                "zero_count",
                "positive",
                "negative",
                "flags",
                "exemplars",
                "min",
                "max",
                "zero_threshold",
            ],
            M::Buckets => &["offset", "bucket_counts"],
            M::SummaryDataPoint => &[
                "",
                "start_time_unix_nano",
                "time_unix_nano",
                "count",
                "sum",
                "quantile_values",
                "attributes",
                "flags",
            ],
            M::ValueAtQuantile => &["quantile", "value"],
            M::Exemplar => &["", "time_unix_nano", "as_double", "span_id", "trace_id", "as_int", "filtered_attributes"],
            M::ResourceLogs => &["resource", "scope_logs", "schema_url"],
            M::ScopeLogs => &["scope", "log_records", "schema_url"],
            M::LogRecord => &[
                "time_unix_nano",
                "severity_number",
                "severity_text",
                "",
                "body",
                "attributes",
                "dropped_attributes_count",
                "flags",
                "trace_id",
                "span_id",
                "observed_time_unix_nano",
                "event_name",
            ],
            M::Resource => &["attributes", "dropped_attributes_count", "entity_refs"],
            M::EntityRef => &["schema_url", "type", "id_keys", "description_keys"],
            M::InstrumentationScope => &["name", "version", "attributes", "dropped_attributes_count"],
            M::KeyValue => &["key", "value", "key_strindex"],
            M::AnyValue => &[
                "string_value",
                "bool_value",
                "int_value",
                "double_value",
                "array_value",
                "kvlist_value",
                "bytes_value",
                "string_value_strindex",
            ],
            M::ArrayValue | M::KeyValueList => &["values"],
        };
        let i = usize::try_from(tag).ok()?.checked_sub(1)?;
        names.get(i).copied().filter(|n| !n.is_empty())
    }
}

/// What is wrong with the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireErrorKind {
    /// The input ends inside a varint, or a varint is longer than 10 bytes or
    /// overflows 64 bits.
    InvalidVarint,
    /// A field key above `u32::MAX`.
    InvalidKey,
    /// Field number 0.
    InvalidTag,
    /// Wire type 6 or 7.
    InvalidWireType,
    /// A known field with a wire type its type does not have.
    UnexpectedWireType,
    /// A length or a fixed-width value runs past the end of its message.
    Truncated,
    /// A string field that is not UTF-8.
    InvalidString,
    /// An end-group key without its start, or with another field number.
    UnexpectedEndGroup,
    /// More than 100 nested messages (or groups).
    RecursionLimit,
}

impl WireErrorKind {
    fn describe(self) -> &'static str {
        match self {
            WireErrorKind::InvalidVarint => "invalid varint",
            WireErrorKind::InvalidKey => "invalid field key",
            WireErrorKind::InvalidTag => "invalid field number 0",
            WireErrorKind::InvalidWireType => "invalid wire type",
            WireErrorKind::UnexpectedWireType => "unexpected wire type",
            WireErrorKind::Truncated => "length past the end of the message",
            WireErrorKind::InvalidString => "string is not UTF-8",
            WireErrorKind::UnexpectedEndGroup => "unexpected end-group tag",
            WireErrorKind::RecursionLimit => "recursion limit reached",
        }
    }
}

/// A wire-format error of the direct decoder: what, and the innermost
/// message and field number it was found in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WireError {
    /// What is wrong.
    pub kind: WireErrorKind,
    /// The innermost message being decoded, and the field number (0 when the
    /// error is in a field key).
    pub at: Option<(Message, u32)>,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.describe())?;
        match self.at {
            None => Ok(()),
            Some((m, 0)) => write!(f, " in a field key of {m:?}"),
            Some((m, tag)) => match m.field_name(tag) {
                Some(name) => write!(f, " in {m:?}.{name} (field {tag})"),
                None => write!(f, " in {m:?} field {tag} (unknown)"),
            },
        }
    }
}

impl std::error::Error for WireError {}

type R<T> = Result<T, EncodeError>;

fn wire(kind: WireErrorKind) -> EncodeError {
    EncodeError::Wire(WireError { kind, at: None })
}

fn invalid(field: Field, reason: &'static str) -> EncodeError {
    EncodeError::Invalid { field, reason }
}

/// Adds the innermost message and field to a wire error that has none yet.
fn within(e: EncodeError, msg: Message, tag: u32) -> EncodeError {
    match e {
        EncodeError::Wire(WireError { kind, at: None }) => EncodeError::Wire(WireError { kind, at: Some((msg, tag)) }),
        e => e,
    }
}

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const START_GROUP: u8 = 3;
const END_GROUP: u8 = 4;
const FIXED32: u8 = 5;

/// A cursor over the body. Every read is bounded by the `end` of the message
/// it is in: prost reads on into the parent and fails on the length check
/// afterwards, so failing at once gives the same answer.
struct Decoder<'a> {
    body: &'a Bytes,
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    fn new(body: &'a Bytes) -> Self {
        Decoder { body, buf: body, pos: 0 }
    }

    #[inline]
    fn varint(&mut self, end: usize) -> R<u64> {
        let bytes = &self.buf[self.pos..end];
        if let Some(&b) = bytes.first()
            && b < 0x80
        {
            self.pos += 1;
            return Ok(u64::from(b));
        }
        let mut value = 0u64;
        // 10 bytes hold 64 bits; the 10th may only carry the top bit.
        for (i, &b) in bytes.iter().take(10).enumerate() {
            value |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                if i == 9 && b >= 2 {
                    break;
                }
                self.pos += i + 1;
                return Ok(value);
            }
        }
        Err(wire(WireErrorKind::InvalidVarint))
    }

    /// A field key: (field number, wire type).
    #[inline]
    fn key(&mut self, end: usize) -> R<(u32, u8)> {
        let key = self.varint(end)?;
        let key = u32::try_from(key).map_err(|_| wire(WireErrorKind::InvalidKey))?;
        let wire_type = (key & 7) as u8;
        if wire_type > FIXED32 {
            return Err(wire(WireErrorKind::InvalidWireType));
        }
        if key >> 3 == 0 {
            return Err(wire(WireErrorKind::InvalidTag));
        }
        Ok((key >> 3, wire_type))
    }

    #[inline]
    fn expect(wire_type: u8, expected: u8) -> R<()> {
        if wire_type == expected { Ok(()) } else { Err(wire(WireErrorKind::UnexpectedWireType)) }
    }

    /// The range of a length-delimited value.
    #[inline]
    fn len_delimited(&mut self, wire_type: u8, end: usize) -> R<Range<usize>> {
        Self::expect(wire_type, LEN)?;
        let len = self.varint(end)?;
        let start = self.pos;
        if len > (end - start) as u64 {
            return Err(wire(WireErrorKind::Truncated));
        }
        self.pos = start + len as usize;
        Ok(start..self.pos)
    }

    /// Enters a nested message: its end, and the recursion budget inside it.
    #[inline]
    fn message(&mut self, wire_type: u8, end: usize, depth: u32) -> R<(usize, u32)> {
        Self::expect(wire_type, LEN)?;
        if depth == 0 {
            return Err(wire(WireErrorKind::RecursionLimit));
        }
        let range = self.len_delimited(LEN, end)?;
        // The caller decodes the fields: back to the first one.
        self.pos = range.start;
        Ok((range.end, depth - 1))
    }

    #[inline]
    fn fixed64(&mut self, wire_type: u8, end: usize) -> R<u64> {
        Self::expect(wire_type, FIXED64)?;
        self.fixed64_raw(end)
    }

    #[inline]
    fn fixed64_raw(&mut self, end: usize) -> R<u64> {
        let b = self.buf[self.pos..end].first_chunk::<8>().ok_or(wire(WireErrorKind::Truncated))?;
        self.pos += 8;
        Ok(u64::from_le_bytes(*b))
    }

    #[inline]
    fn double(&mut self, wire_type: u8, end: usize) -> R<f64> {
        self.fixed64(wire_type, end).map(f64::from_bits)
    }

    #[inline]
    fn fixed32(&mut self, wire_type: u8, end: usize) -> R<u32> {
        Self::expect(wire_type, FIXED32)?;
        let b = self.buf[self.pos..end].first_chunk::<4>().ok_or(wire(WireErrorKind::Truncated))?;
        self.pos += 4;
        Ok(u32::from_le_bytes(*b))
    }

    #[inline]
    fn uint64(&mut self, wire_type: u8, end: usize) -> R<u64> {
        Self::expect(wire_type, VARINT)?;
        self.varint(end)
    }

    /// `uint32`: prost keeps the low 32 bits of the varint.
    #[inline]
    fn uint32(&mut self, wire_type: u8, end: usize) -> R<u32> {
        self.uint64(wire_type, end).map(|v| v as u32)
    }

    /// `int32` and enums: the low 32 bits, as prost reads them.
    #[inline]
    fn int32(&mut self, wire_type: u8, end: usize) -> R<i32> {
        self.uint64(wire_type, end).map(|v| v as i32)
    }

    #[inline]
    fn sint32(&mut self, wire_type: u8, end: usize) -> R<i32> {
        let v = self.uint64(wire_type, end)? as u32;
        Ok(((v >> 1) as i32) ^ -((v & 1) as i32))
    }

    #[inline]
    fn bool(&mut self, wire_type: u8, end: usize) -> R<bool> {
        self.uint64(wire_type, end).map(|v| v != 0)
    }

    #[inline]
    fn string(&mut self, wire_type: u8, end: usize) -> R<Str> {
        let range = self.len_delimited(wire_type, end)?;
        if range.is_empty() {
            return Ok(Str::EMPTY);
        }
        Str::from_utf8(self.body.slice(range)).map_err(|_| wire(WireErrorKind::InvalidString))
    }

    #[inline]
    fn bytes(&mut self, wire_type: u8, end: usize) -> R<&'a [u8]> {
        let range = self.len_delimited(wire_type, end)?;
        Ok(&self.buf[range])
    }

    /// A repeated `fixed64` or `double`, packed or not.
    fn repeated_fixed64<T>(&mut self, wire_type: u8, end: usize, out: &mut Vec<T>, f: fn(u64) -> T) -> R<()> {
        if wire_type == LEN {
            let range = self.len_delimited(LEN, end)?;
            self.pos = range.start;
            out.reserve(range.len() / 8);
            while self.pos < range.end {
                out.push(f(self.fixed64_raw(range.end)?));
            }
        } else {
            out.push(f(self.fixed64(wire_type, end)?));
        }
        Ok(())
    }

    /// A repeated `uint64`, packed or not.
    fn repeated_uint64(&mut self, wire_type: u8, end: usize, out: &mut Vec<u64>) -> R<()> {
        if wire_type == LEN {
            let range = self.len_delimited(LEN, end)?;
            self.pos = range.start;
            while self.pos < range.end {
                out.push(self.varint(range.end)?);
            }
        } else {
            out.push(self.uint64(wire_type, end)?);
        }
        Ok(())
    }

    /// Counts the fields numbered `tags` from the cursor to `end`: a
    /// capacity hint for the repeated fields of the message about to be
    /// decoded, so that its vectors are allocated once instead of grown by
    /// doubling. It stops at the first malformed field or group (the decode
    /// proper reports it), and is capped so that a body of many empty,
    /// invalid elements cannot make it allocate far ahead of the decode.
    fn count_fields<const N: usize>(&self, end: usize, tags: [u32; N]) -> [usize; N] {
        let mut counts = [0; N];
        let mut probe = Decoder { body: self.body, buf: self.buf, pos: self.pos };
        while probe.pos < end {
            let Ok((tag, wt)) = probe.key(end) else { break };
            if let Some(i) = tags.iter().position(|&t| t == tag) {
                counts[i] += 1;
            }
            let skipped = match wt {
                VARINT => probe.varint(end).map(drop),
                FIXED64 => probe.fixed64_raw(end).map(drop),
                FIXED32 => probe.fixed32(FIXED32, end).map(drop),
                LEN => probe.len_delimited(LEN, end).map(drop),
                _ => break,
            };
            if skipped.is_err() {
                break;
            }
        }
        counts.map(|n| n.min(MAX_RESERVE))
    }

    /// Skips a field this decoder does not model, as prost's `skip_field`
    /// does: even a varint counts against the recursion limit, and a group's
    /// fields are one level down.
    fn skip(&mut self, wire_type: u8, tag: u32, end: usize, depth: u32) -> R<()> {
        if depth == 0 {
            return Err(wire(WireErrorKind::RecursionLimit));
        }
        match wire_type {
            VARINT => {
                self.varint(end)?;
            }
            FIXED64 => {
                self.fixed64_raw(end)?;
            }
            FIXED32 => {
                self.fixed32(FIXED32, end)?;
            }
            LEN => {
                self.len_delimited(LEN, end)?;
            }
            START_GROUP => loop {
                let (inner, inner_type) = self.key(end)?;
                if inner_type == END_GROUP {
                    if inner != tag {
                        return Err(wire(WireErrorKind::UnexpectedEndGroup));
                    }
                    break;
                }
                self.skip(inner_type, inner, end, depth - 1)?;
            },
            _ => return Err(wire(WireErrorKind::UnexpectedEndGroup)),
        }
        Ok(())
    }

    /// Checks a message the model drops against its schema, as prost's
    /// decode of it would.
    fn validate(&mut self, schema: &'static Schema, end: usize, depth: u32) -> R<()> {
        while self.pos < end {
            let (tag, wt) = self.key(end).map_err(|e| within(e, schema.message, 0))?;
            let kind = schema.fields.iter().find(|(t, _)| *t == tag).map(|(_, k)| *k);
            let r = match kind {
                None => self.skip(wt, tag, end, depth),
                Some(Kind::Varint) => self.uint64(wt, end).map(drop),
                Some(Kind::Fixed64) => self.fixed64(wt, end).map(drop),
                Some(Kind::Bytes) => self.len_delimited(wt, end).map(drop),
                Some(Kind::Str) => self.len_delimited(wt, end).and_then(|r| {
                    if crate::simd::validate_utf8(&self.buf[r]) {
                        Ok(())
                    } else {
                        Err(wire(WireErrorKind::InvalidString))
                    }
                }),
                Some(Kind::Msg(inner)) => self.message(wt, end, depth).and_then(|(e, d)| self.validate(inner, e, d)),
            };
            r.map_err(|e| within(e, schema.message, tag))?;
        }
        Ok(())
    }
}

/// A field type, as far as checking it on the wire needs.
#[derive(Clone, Copy)]
enum Kind {
    Varint,
    Fixed64,
    Bytes,
    Str,
    Msg(&'static Schema),
}

/// The fields of a message the model drops.
struct Schema {
    message: Message,
    fields: &'static [(u32, Kind)],
}

static KEY_VALUE: Schema =
    Schema { message: Message::KeyValue, fields: &[(1, Kind::Str), (2, Kind::Msg(&ANY_VALUE)), (3, Kind::Varint)] };
static ANY_VALUE: Schema = Schema {
    message: Message::AnyValue,
    fields: &[
        (1, Kind::Str),
        (2, Kind::Varint),
        (3, Kind::Varint),
        (4, Kind::Fixed64),
        (5, Kind::Msg(&ARRAY_VALUE)),
        (6, Kind::Msg(&KEY_VALUE_LIST)),
        (7, Kind::Bytes),
        (8, Kind::Varint),
    ],
};
static ARRAY_VALUE: Schema = Schema { message: Message::ArrayValue, fields: &[(1, Kind::Msg(&ANY_VALUE))] };
static KEY_VALUE_LIST: Schema = Schema { message: Message::KeyValueList, fields: &[(1, Kind::Msg(&KEY_VALUE))] };
static EXEMPLAR: Schema = Schema {
    message: Message::Exemplar,
    fields: &[
        (7, Kind::Msg(&KEY_VALUE)),
        (2, Kind::Fixed64),
        (4, Kind::Bytes),
        (5, Kind::Bytes),
        (3, Kind::Fixed64),
        (6, Kind::Fixed64),
    ],
};
static ENTITY_REF: Schema =
    Schema { message: Message::EntityRef, fields: &[(1, Kind::Str), (2, Kind::Str), (3, Kind::Str), (4, Kind::Str)] };
static VALUE_AT_QUANTILE: Schema =
    Schema { message: Message::ValueAtQuantile, fields: &[(1, Kind::Fixed64), (2, Kind::Fixed64)] };
static SUMMARY_DATA_POINT: Schema = Schema {
    message: Message::SummaryDataPoint,
    fields: &[
        (7, Kind::Msg(&KEY_VALUE)),
        (2, Kind::Fixed64),
        (3, Kind::Fixed64),
        (4, Kind::Fixed64),
        (5, Kind::Fixed64),
        (6, Kind::Msg(&VALUE_AT_QUANTILE)),
        (8, Kind::Varint),
    ],
};
static SUMMARY: Schema = Schema { message: Message::Summary, fields: &[(1, Kind::Msg(&SUMMARY_DATA_POINT))] };

/// The field loop of one message: `$body` maps (tag, wire type) to a result
/// and falls back to `skip`; errors get the message and field attached.
macro_rules! fields {
    ($d:ident, $end:ident, $depth:ident, $msg:expr, |$tag:ident, $wt:ident| { $($arm:pat => $e:expr,)* }) => {
        while $d.pos < $end {
            let ($tag, $wt) = $d.key($end).map_err(|e| within(e, $msg, 0))?;
            let r: R<()> = match $tag {
                $($arm => $e,)*
                _ => $d.skip($wt, $tag, $end, $depth),
            };
            r.map_err(|e| within(e, $msg, $tag))?;
        }
    };
}

// ---------------------------------------------------------------- common

impl Decoder<'_> {
    /// Merges an `AnyValue` into `v`. `strindex` is true while the oneof
    /// holds `string_value_strindex` (which the model cannot hold: the caller
    /// rejects it once the value is final).
    fn any_value(&mut self, end: usize, depth: u32, v: &mut AnyValue, strindex: &mut bool) -> R<()> {
        fields!(self, end, depth, Message::AnyValue, |tag, wt| {
            1 => self.string(wt, end).map(|s| {
                *v = AnyValue::String(s);
                *strindex = false;
            }),
            2 => self.bool(wt, end).map(|b| {
                *v = AnyValue::Bool(b);
                *strindex = false;
            }),
            3 => self.uint64(wt, end).map(|x| {
                *v = AnyValue::Int(x as i64);
                *strindex = false;
            }),
            4 => self.double(wt, end).map(|x| {
                *v = AnyValue::Double(x);
                *strindex = false;
            }),
            5 => self.message(wt, end, depth).and_then(|(e, d)| {
                // prost merges into the variant it holds, else starts afresh.
                if let AnyValue::Array(xs) = v {
                    self.array_value(e, d, xs)
                } else {
                    let mut xs = Vec::new();
                    self.array_value(e, d, &mut xs)?;
                    *v = AnyValue::Array(xs);
                    *strindex = false;
                    Ok(())
                }
            }),
            6 => self.message(wt, end, depth).and_then(|(e, d)| {
                if let AnyValue::KvList(kvs) = v {
                    self.key_value_list(e, d, kvs)
                } else {
                    let mut kvs = Vec::new();
                    self.key_value_list(e, d, &mut kvs)?;
                    *v = AnyValue::KvList(kvs);
                    *strindex = false;
                    Ok(())
                }
            }),
            7 => self.len_delimited(wt, end).map(|r| {
                *v = AnyValue::Bytes(if r.is_empty() { Bytes::new() } else { self.body.slice(r) });
                *strindex = false;
            }),
            8 => self.int32(wt, end).map(|_| {
                *v = AnyValue::Empty;
                *strindex = true;
            }),
        });
        Ok(())
    }

    /// One `AnyValue` element of an array or a log body's value.
    fn any_value_element(&mut self, end: usize, depth: u32) -> R<AnyValue> {
        let mut v = AnyValue::Empty;
        let mut strindex = false;
        self.any_value(end, depth, &mut v, &mut strindex)?;
        if strindex {
            return Err(invalid(Field::Value, "string_value_strindex is only valid in profiles"));
        }
        Ok(v)
    }

    fn array_value(&mut self, end: usize, depth: u32, out: &mut Vec<AnyValue>) -> R<()> {
        fields!(self, end, depth, Message::ArrayValue, |tag, wt| {
            1 => self.message(wt, end, depth).and_then(|(e, d)| {
                out.push(self.any_value_element(e, d)?);
                Ok(())
            }),
        });
        Ok(())
    }

    fn key_value_list(&mut self, end: usize, depth: u32, out: &mut Vec<KeyValue>) -> R<()> {
        fields!(self, end, depth, Message::KeyValueList, |tag, wt| {
            1 => self.key_value(wt, end, depth, out),
        });
        Ok(())
    }

    /// A repeated `KeyValue` field: decodes one and appends it.
    fn key_value(&mut self, wt: u8, end: usize, depth: u32, out: &mut Vec<KeyValue>) -> R<()> {
        let (end, depth) = self.message(wt, end, depth)?;
        let mut key = Str::EMPTY;
        let mut value = AnyValue::Empty;
        let mut strindex = false;
        let mut key_strindex = 0;
        fields!(self, end, depth, Message::KeyValue, |tag, wt| {
            1 => self.string(wt, end).map(|s| key = s),
            2 => self.message(wt, end, depth).and_then(|(e, d)| self.any_value(e, d, &mut value, &mut strindex)),
            3 => self.int32(wt, end).map(|x| key_strindex = x),
        });
        if key_strindex != 0 {
            return Err(invalid(Field::Key, "key_strindex is only valid in profiles"));
        }
        if strindex {
            return Err(invalid(Field::Value, "string_value_strindex is only valid in profiles"));
        }
        out.push(KeyValue { key, value });
        Ok(())
    }

    /// Merges a `Resource` into `r`.
    fn resource(&mut self, wt: u8, end: usize, depth: u32, r: &mut Resource) -> R<()> {
        let (end, depth) = self.message(wt, end, depth)?;
        let [attributes] = self.count_fields(end, [1]);
        r.attributes.reserve(attributes);
        fields!(self, end, depth, Message::Resource, |tag, wt| {
            1 => self.key_value(wt, end, depth, &mut r.attributes),
            2 => self.uint32(wt, end).map(|x| r.dropped_attributes_count = x),
            3 => self.message(wt, end, depth).and_then(|(e, d)| self.validate(&ENTITY_REF, e, d)),
        });
        Ok(())
    }

    /// Merges an `InstrumentationScope` into `s`.
    fn scope(&mut self, wt: u8, end: usize, depth: u32, s: &mut InstrumentationScope) -> R<()> {
        let (end, depth) = self.message(wt, end, depth)?;
        fields!(self, end, depth, Message::InstrumentationScope, |tag, wt| {
            1 => self.string(wt, end).map(|x| s.name = x),
            2 => self.string(wt, end).map(|x| s.version = x),
            3 => self.key_value(wt, end, depth, &mut s.attributes),
            4 => self.uint32(wt, end).map(|x| s.dropped_attributes_count = x),
        });
        Ok(())
    }
}

fn trace_id(b: &[u8]) -> R<TraceId> {
    TraceId::from_slice(b).ok_or(invalid(Field::TraceId, "must be 16 bytes"))
}

fn span_id(b: &[u8], field: Field) -> R<SpanId> {
    SpanId::from_slice(b).ok_or(invalid(field, "must be 8 bytes"))
}

fn opt_trace_id(b: &[u8]) -> R<Option<TraceId>> {
    if b.is_empty() { Ok(None) } else { trace_id(b).map(Some) }
}

fn opt_span_id(b: &[u8], field: Field) -> R<Option<SpanId>> {
    if b.is_empty() { Ok(None) } else { span_id(b, field).map(Some) }
}

// ---------------------------------------------------------------- traces

/// Decodes an `ExportTraceServiceRequest` (or `TracesData`: same wire shape)
/// from a request body; strings and bytes in the result share `body`.
pub fn decode_traces(body: &Bytes) -> Result<TracesData, EncodeError> {
    let mut d = Decoder::new(body);
    let (end, depth) = (body.len(), RECURSION_LIMIT);
    let mut out = TracesData::default();
    fields!(d, end, depth, Message::TracesData, |tag, wt| {
        1 => d.resource_spans(wt, end, depth).map(|x| out.resource_spans.push(x)),
    });
    Ok(out)
}

impl Decoder<'_> {
    fn resource_spans(&mut self, wt: u8, end: usize, depth: u32) -> R<ResourceSpans> {
        let (end, depth) = self.message(wt, end, depth)?;
        let mut out = ResourceSpans::default();
        fields!(self, end, depth, Message::ResourceSpans, |tag, wt| {
            1 => self.resource(wt, end, depth, &mut out.resource),
            2 => self.scope_spans(wt, end, depth).map(|x| out.scope_spans.push(x)),
            3 => self.string(wt, end).map(|x| out.schema_url = x),
        });
        Ok(out)
    }

    fn scope_spans(&mut self, wt: u8, end: usize, depth: u32) -> R<ScopeSpans> {
        let (end, depth) = self.message(wt, end, depth)?;
        let mut out = ScopeSpans::default();
        let [spans] = self.count_fields(end, [2]);
        out.spans.reserve_exact(spans);
        fields!(self, end, depth, Message::ScopeSpans, |tag, wt| {
            1 => self.scope(wt, end, depth, &mut out.scope),
            2 => self.span(wt, end, depth).map(|x| out.spans.push(x)),
            3 => self.string(wt, end).map(|x| out.schema_url = x),
        });
        Ok(out)
    }

    fn span(&mut self, wt: u8, end: usize, depth: u32) -> R<Span> {
        let (end, depth) = self.message(wt, end, depth)?;
        let mut s = Span::default();
        let [attributes, events, links] = self.count_fields(end, [9, 11, 13]);
        s.attributes.reserve_exact(attributes);
        s.events.reserve_exact(events);
        s.links.reserve_exact(links);
        let (mut tid, mut sid, mut pid): (&[u8], &[u8], &[u8]) = (&[], &[], &[]);
        let mut kind = 0;
        let (mut code, mut message) = (0, Str::EMPTY);
        fields!(self, end, depth, Message::Span, |tag, wt| {
            1 => self.bytes(wt, end).map(|b| tid = b),
            2 => self.bytes(wt, end).map(|b| sid = b),
            3 => self.string(wt, end).map(|x| s.trace_state = x),
            4 => self.bytes(wt, end).map(|b| pid = b),
            5 => self.string(wt, end).map(|x| s.name = x),
            6 => self.int32(wt, end).map(|x| kind = x),
            7 => self.fixed64(wt, end).map(|x| s.start_time_unix_nano = x),
            8 => self.fixed64(wt, end).map(|x| s.end_time_unix_nano = x),
            9 => self.key_value(wt, end, depth, &mut s.attributes),
            10 => self.uint32(wt, end).map(|x| s.dropped_attributes_count = x),
            11 => self.event(wt, end, depth).map(|x| s.events.push(x)),
            12 => self.uint32(wt, end).map(|x| s.dropped_events_count = x),
            13 => self.link(wt, end, depth).map(|x| s.links.push(x)),
            14 => self.uint32(wt, end).map(|x| s.dropped_links_count = x),
            15 => self.status(wt, end, depth, &mut code, &mut message),
            16 => self.fixed32(wt, end).map(|x| s.flags = x),
        });
        s.trace_id = trace_id(tid)?;
        s.span_id = span_id(sid, Field::SpanId)?;
        s.parent_span_id = opt_span_id(pid, Field::ParentSpanId)?;
        s.kind = SpanKind::from_i32(kind);
        s.status = Status { code: StatusCode::from_i32(code), message };
        Ok(s)
    }

    /// Merges a `Status` into its code and message.
    fn status(&mut self, wt: u8, end: usize, depth: u32, code: &mut i32, message: &mut Str) -> R<()> {
        let (end, depth) = self.message(wt, end, depth)?;
        fields!(self, end, depth, Message::Status, |tag, wt| {
            2 => self.string(wt, end).map(|x| *message = x),
            3 => self.int32(wt, end).map(|x| *code = x),
        });
        Ok(())
    }

    fn event(&mut self, wt: u8, end: usize, depth: u32) -> R<Event> {
        let (end, depth) = self.message(wt, end, depth)?;
        let mut e = Event::default();
        let [attributes] = self.count_fields(end, [3]);
        e.attributes.reserve_exact(attributes);
        fields!(self, end, depth, Message::Event, |tag, wt| {
            1 => self.fixed64(wt, end).map(|x| e.time_unix_nano = x),
            2 => self.string(wt, end).map(|x| e.name = x),
            3 => self.key_value(wt, end, depth, &mut e.attributes),
            4 => self.uint32(wt, end).map(|x| e.dropped_attributes_count = x),
        });
        Ok(e)
    }

    fn link(&mut self, wt: u8, end: usize, depth: u32) -> R<Link> {
        let (end, depth) = self.message(wt, end, depth)?;
        let mut l = Link::default();
        let [attributes] = self.count_fields(end, [4]);
        l.attributes.reserve_exact(attributes);
        let (mut tid, mut sid): (&[u8], &[u8]) = (&[], &[]);
        fields!(self, end, depth, Message::Link, |tag, wt| {
            1 => self.bytes(wt, end).map(|b| tid = b),
            2 => self.bytes(wt, end).map(|b| sid = b),
            3 => self.string(wt, end).map(|x| l.trace_state = x),
            4 => self.key_value(wt, end, depth, &mut l.attributes),
            5 => self.uint32(wt, end).map(|x| l.dropped_attributes_count = x),
            6 => self.fixed32(wt, end).map(|x| l.flags = x),
        });
        l.trace_id = trace_id(tid)?;
        l.span_id = span_id(sid, Field::SpanId)?;
        Ok(l)
    }
}

// ---------------------------------------------------------------- logs

/// Decodes an `ExportLogsServiceRequest` (or `LogsData`) from a request
/// body; strings and bytes in the result share `body`.
pub fn decode_logs(body: &Bytes) -> Result<LogsData, EncodeError> {
    let mut d = Decoder::new(body);
    let (end, depth) = (body.len(), RECURSION_LIMIT);
    let mut out = LogsData::default();
    fields!(d, end, depth, Message::LogsData, |tag, wt| {
        1 => d.resource_logs(wt, end, depth).map(|x| out.resource_logs.push(x)),
    });
    Ok(out)
}

impl Decoder<'_> {
    fn resource_logs(&mut self, wt: u8, end: usize, depth: u32) -> R<ResourceLogs> {
        let (end, depth) = self.message(wt, end, depth)?;
        let mut out = ResourceLogs::default();
        fields!(self, end, depth, Message::ResourceLogs, |tag, wt| {
            1 => self.resource(wt, end, depth, &mut out.resource),
            2 => self.scope_logs(wt, end, depth).map(|x| out.scope_logs.push(x)),
            3 => self.string(wt, end).map(|x| out.schema_url = x),
        });
        Ok(out)
    }

    fn scope_logs(&mut self, wt: u8, end: usize, depth: u32) -> R<ScopeLogs> {
        let (end, depth) = self.message(wt, end, depth)?;
        let mut out = ScopeLogs::default();
        let [records] = self.count_fields(end, [2]);
        out.log_records.reserve_exact(records);
        fields!(self, end, depth, Message::ScopeLogs, |tag, wt| {
            1 => self.scope(wt, end, depth, &mut out.scope),
            2 => self.log_record(wt, end, depth).map(|x| out.log_records.push(x)),
            3 => self.string(wt, end).map(|x| out.schema_url = x),
        });
        Ok(out)
    }

    fn log_record(&mut self, wt: u8, end: usize, depth: u32) -> R<LogRecord> {
        let (end, depth) = self.message(wt, end, depth)?;
        let mut r = LogRecord::default();
        let [attributes] = self.count_fields(end, [6]);
        r.attributes.reserve_exact(attributes);
        let (mut tid, mut sid): (&[u8], &[u8]) = (&[], &[]);
        let mut body_strindex = false;
        fields!(self, end, depth, Message::LogRecord, |tag, wt| {
            1 => self.fixed64(wt, end).map(|x| r.time_unix_nano = x),
            2 => self.int32(wt, end).map(|x| r.severity_number = Severity(x)),
            3 => self.string(wt, end).map(|x| r.severity_text = x),
            5 => self.message(wt, end, depth).and_then(|(e, d)| {
                let body = r.body.get_or_insert(AnyValue::Empty);
                self.any_value(e, d, body, &mut body_strindex)
            }),
            6 => self.key_value(wt, end, depth, &mut r.attributes),
            7 => self.uint32(wt, end).map(|x| r.dropped_attributes_count = x),
            8 => self.fixed32(wt, end).map(|x| r.flags = x),
            9 => self.bytes(wt, end).map(|b| tid = b),
            10 => self.bytes(wt, end).map(|b| sid = b),
            11 => self.fixed64(wt, end).map(|x| r.observed_time_unix_nano = x),
            12 => self.string(wt, end).map(|x| r.event_name = x),
        });
        if body_strindex {
            return Err(invalid(Field::Value, "string_value_strindex is only valid in profiles"));
        }
        r.trace_id = opt_trace_id(tid)?;
        r.span_id = opt_span_id(sid, Field::SpanId)?;
        Ok(r)
    }
}

// ---------------------------------------------------------------- metrics

/// Decodes an `ExportMetricsServiceRequest` (or `MetricsData`) from a
/// request body; strings and bytes in the result share `body`.
pub fn decode_metrics(body: &Bytes) -> Result<MetricsData, EncodeError> {
    let mut d = Decoder::new(body);
    let (end, depth) = (body.len(), RECURSION_LIMIT);
    let mut out = MetricsData::default();
    fields!(d, end, depth, Message::MetricsData, |tag, wt| {
        1 => d.resource_metrics(wt, end, depth).map(|x| out.resource_metrics.push(x)),
    });
    Ok(out)
}

impl Decoder<'_> {
    fn resource_metrics(&mut self, wt: u8, end: usize, depth: u32) -> R<ResourceMetrics> {
        let (end, depth) = self.message(wt, end, depth)?;
        let mut out = ResourceMetrics::default();
        fields!(self, end, depth, Message::ResourceMetrics, |tag, wt| {
            1 => self.resource(wt, end, depth, &mut out.resource),
            2 => self.scope_metrics(wt, end, depth).map(|x| out.scope_metrics.push(x)),
            3 => self.string(wt, end).map(|x| out.schema_url = x),
        });
        Ok(out)
    }

    fn scope_metrics(&mut self, wt: u8, end: usize, depth: u32) -> R<ScopeMetrics> {
        let (end, depth) = self.message(wt, end, depth)?;
        let mut out = ScopeMetrics::default();
        let [metrics] = self.count_fields(end, [2]);
        out.metrics.reserve_exact(metrics);
        fields!(self, end, depth, Message::ScopeMetrics, |tag, wt| {
            1 => self.scope(wt, end, depth, &mut out.scope),
            2 => self.metric(wt, end, depth).map(|x| out.metrics.push(x)),
            3 => self.string(wt, end).map(|x| out.schema_url = x),
        });
        Ok(out)
    }

    fn metric(&mut self, wt: u8, end: usize, depth: u32) -> R<Metric> {
        let (end, depth) = self.message(wt, end, depth)?;
        let mut m =
            Metric { name: Str::EMPTY, description: Str::EMPTY, unit: Str::EMPTY, data: None, metadata: Vec::new() };
        // The `data` oneof holds a summary: the model has none, so the
        // reference rejects the metric if that is the final variant.
        let mut summary = false;
        fields!(self, end, depth, Message::Metric, |tag, wt| {
            1 => self.string(wt, end).map(|x| m.name = x),
            2 => self.string(wt, end).map(|x| m.description = x),
            3 => self.string(wt, end).map(|x| m.unit = x),
            5 => self.message(wt, end, depth).and_then(|(e, d)| {
                summary = false;
                // Like prost's oneof merge: into the variant held, else afresh.
                if let Some(MetricData::Gauge(points)) = &mut m.data {
                    return self.gauge(e, d, points);
                }
                let mut points = Vec::new();
                self.gauge(e, d, &mut points)?;
                m.data = Some(MetricData::Gauge(points));
                Ok(())
            }),
            7 => self.message(wt, end, depth).and_then(|(e, d)| {
                summary = false;
                if !matches!(m.data, Some(MetricData::Sum { .. })) {
                    m.data = Some(MetricData::Sum {
                        points: Vec::new(),
                        temporality: Temporality::Unspecified,
                        is_monotonic: false,
                    });
                }
                let Some(MetricData::Sum { points, temporality, is_monotonic }) = &mut m.data else {
                    unreachable!("set just above")
                };
                self.sum(e, d, points, temporality, is_monotonic)
            }),
            9 => self.message(wt, end, depth).and_then(|(e, d)| {
                summary = false;
                if !matches!(m.data, Some(MetricData::Histogram { .. })) {
                    m.data = Some(MetricData::Histogram { points: Vec::new(), temporality: Temporality::Unspecified });
                }
                let Some(MetricData::Histogram { points, temporality }) = &mut m.data else {
                    unreachable!("set just above")
                };
                self.histogram(e, d, points, temporality)
            }),
            10 => self.message(wt, end, depth).and_then(|(e, d)| {
                summary = false;
                if !matches!(m.data, Some(MetricData::ExponentialHistogram { .. })) {
                    m.data = Some(MetricData::ExponentialHistogram {
                        points: Vec::new(),
                        temporality: Temporality::Unspecified,
                    });
                }
                let Some(MetricData::ExponentialHistogram { points, temporality }) = &mut m.data else {
                    unreachable!("set just above")
                };
                self.exponential_histogram(e, d, points, temporality)
            }),
            11 => self.message(wt, end, depth).and_then(|(e, d)| {
                m.data = None;
                summary = true;
                self.validate(&SUMMARY, e, d)
            }),
            12 => self.key_value(wt, end, depth, &mut m.metadata),
        });
        if summary {
            return Err(invalid(Field::MetricData, "summary metrics are not supported"));
        }
        Ok(m)
    }

    fn gauge(&mut self, end: usize, depth: u32, points: &mut Vec<NumberDataPoint>) -> R<()> {
        fields!(self, end, depth, Message::Gauge, |tag, wt| {
            1 => self.number_point(wt, end, depth).map(|p| points.push(p)),
        });
        Ok(())
    }

    fn sum(
        &mut self,
        end: usize,
        depth: u32,
        points: &mut Vec<NumberDataPoint>,
        temporality: &mut Temporality,
        is_monotonic: &mut bool,
    ) -> R<()> {
        fields!(self, end, depth, Message::Sum, |tag, wt| {
            1 => self.number_point(wt, end, depth).map(|p| points.push(p)),
            2 => self.int32(wt, end).map(|x| *temporality = Temporality::from_i32(x)),
            3 => self.bool(wt, end).map(|x| *is_monotonic = x),
        });
        Ok(())
    }

    fn histogram(
        &mut self,
        end: usize,
        depth: u32,
        points: &mut Vec<HistogramDataPoint>,
        temporality: &mut Temporality,
    ) -> R<()> {
        fields!(self, end, depth, Message::Histogram, |tag, wt| {
            1 => self.histogram_point(wt, end, depth).map(|p| points.push(p)),
            2 => self.int32(wt, end).map(|x| *temporality = Temporality::from_i32(x)),
        });
        Ok(())
    }

    fn exponential_histogram(
        &mut self,
        end: usize,
        depth: u32,
        points: &mut Vec<ExponentialHistogramDataPoint>,
        temporality: &mut Temporality,
    ) -> R<()> {
        fields!(self, end, depth, Message::ExponentialHistogram, |tag, wt| {
            1 => self.exponential_point(wt, end, depth).map(|p| points.push(p)),
            2 => self.int32(wt, end).map(|x| *temporality = Temporality::from_i32(x)),
        });
        Ok(())
    }

    fn number_point(&mut self, wt: u8, end: usize, depth: u32) -> R<NumberDataPoint> {
        let (end, depth) = self.message(wt, end, depth)?;
        let [attributes] = self.count_fields(end, [7]);
        let mut p = NumberDataPoint {
            attributes: Vec::with_capacity(attributes),
            start_time_unix_nano: 0,
            time_unix_nano: 0,
            value: None,
            flags: 0,
        };
        fields!(self, end, depth, Message::NumberDataPoint, |tag, wt| {
            2 => self.fixed64(wt, end).map(|x| p.start_time_unix_nano = x),
            3 => self.fixed64(wt, end).map(|x| p.time_unix_nano = x),
            4 => self.double(wt, end).map(|x| p.value = Some(NumberValue::Double(x))),
            5 => self.message(wt, end, depth).and_then(|(e, d)| self.validate(&EXEMPLAR, e, d)),
            6 => self.fixed64(wt, end).map(|x| p.value = Some(NumberValue::Int(x as i64))),
            7 => self.key_value(wt, end, depth, &mut p.attributes),
            8 => self.uint32(wt, end).map(|x| p.flags = x),
        });
        Ok(p)
    }

    fn histogram_point(&mut self, wt: u8, end: usize, depth: u32) -> R<HistogramDataPoint> {
        let (end, depth) = self.message(wt, end, depth)?;
        let mut p = HistogramDataPoint::default();
        let [attributes] = self.count_fields(end, [9]);
        p.attributes.reserve_exact(attributes);
        fields!(self, end, depth, Message::HistogramDataPoint, |tag, wt| {
            2 => self.fixed64(wt, end).map(|x| p.start_time_unix_nano = x),
            3 => self.fixed64(wt, end).map(|x| p.time_unix_nano = x),
            4 => self.fixed64(wt, end).map(|x| p.count = x),
            5 => self.double(wt, end).map(|x| p.sum = Some(x)),
            6 => self.repeated_fixed64(wt, end, &mut p.bucket_counts, |x| x),
            7 => self.repeated_fixed64(wt, end, &mut p.explicit_bounds, f64::from_bits),
            8 => self.message(wt, end, depth).and_then(|(e, d)| self.validate(&EXEMPLAR, e, d)),
            9 => self.key_value(wt, end, depth, &mut p.attributes),
            10 => self.uint32(wt, end).map(|x| p.flags = x),
            11 => self.double(wt, end).map(|x| p.min = Some(x)),
            12 => self.double(wt, end).map(|x| p.max = Some(x)),
        });
        Ok(p)
    }

    fn exponential_point(&mut self, wt: u8, end: usize, depth: u32) -> R<ExponentialHistogramDataPoint> {
        let (end, depth) = self.message(wt, end, depth)?;
        let mut p = ExponentialHistogramDataPoint::default();
        fields!(self, end, depth, Message::ExponentialHistogramDataPoint, |tag, wt| {
            1 => self.key_value(wt, end, depth, &mut p.attributes),
            2 => self.fixed64(wt, end).map(|x| p.start_time_unix_nano = x),
            3 => self.fixed64(wt, end).map(|x| p.time_unix_nano = x),
            4 => self.fixed64(wt, end).map(|x| p.count = x),
            5 => self.double(wt, end).map(|x| p.sum = Some(x)),
            6 => self.sint32(wt, end).map(|x| p.scale = x),
            7 => self.fixed64(wt, end).map(|x| p.zero_count = x),
            8 => self.buckets(wt, end, depth, &mut p.positive),
            9 => self.buckets(wt, end, depth, &mut p.negative),
            10 => self.uint32(wt, end).map(|x| p.flags = x),
            11 => self.message(wt, end, depth).and_then(|(e, d)| self.validate(&EXEMPLAR, e, d)),
            12 => self.double(wt, end).map(|x| p.min = Some(x)),
            13 => self.double(wt, end).map(|x| p.max = Some(x)),
            14 => self.double(wt, end).map(|x| p.zero_threshold = x),
        });
        Ok(p)
    }

    /// Merges `Buckets` into `b` (present from its first occurrence on).
    fn buckets(&mut self, wt: u8, end: usize, depth: u32, b: &mut Option<ExpBuckets>) -> R<()> {
        let (end, depth) = self.message(wt, end, depth)?;
        let b = b.get_or_insert_with(ExpBuckets::default);
        fields!(self, end, depth, Message::Buckets, |tag, wt| {
            1 => self.sint32(wt, end).map(|x| b.offset = x),
            2 => self.repeated_uint64(wt, end, &mut b.bucket_counts),
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use prost::Message as _;

    use super::*;
    use crate::encode::{direct, reference};
    use crate::fixtures;

    /// Ok with equal values (NaN-safe: Debug text when `==` says no), or both Err.
    fn agree<T: PartialEq + fmt::Debug>(what: &str, ours: R<T>, theirs: R<T>, input: &[u8]) -> Result<(), String> {
        let shown = || if input.len() <= 256 { format!("{input:02x?}") } else { format!("{} bytes", input.len()) };
        match (&ours, &theirs) {
            (Ok(a), Ok(b)) if a == b || format!("{a:?}") == format!("{b:?}") => Ok(()),
            (Err(_), Err(_)) => Ok(()),
            _ => {
                // Only the neighbourhood of the first difference: models are long.
                let (a, b) = (format!("{ours:?}"), format!("{theirs:?}"));
                let at = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
                let window =
                    |s: &str| s.get(at.saturating_sub(200)..).unwrap_or(s).chars().take(400).collect::<String>();
                Err(format!("{what} disagrees on {}:\n ours      {}\n reference {}", shown(), window(&a), window(&b)))
            }
        }
    }

    /// The three decoders against the reference on the same bytes.
    fn check_all(input: &[u8]) -> Result<(), String> {
        let body = Bytes::copy_from_slice(input);
        agree("traces", decode_traces(&body), reference::decode_traces(input), input)?;
        agree("metrics", decode_metrics(&body), reference::decode_metrics(input), input)?;
        agree("logs", decode_logs(&body), reference::decode_logs(input), input)
    }

    fn assert_all(input: &[u8]) {
        if let Err(e) = check_all(input) {
            panic!("{e}");
        }
    }

    // A minimal protobuf writer for hand-made inputs.
    fn varint(v: u64, out: &mut Vec<u8>) {
        prost::encoding::encode_varint(v, out);
    }
    fn key(tag: u32, wt: u8) -> Vec<u8> {
        let mut out = Vec::new();
        varint(u64::from(tag << 3 | u32::from(wt)), &mut out);
        out
    }
    fn ld(tag: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = key(tag, LEN);
        varint(payload.len() as u64, &mut out);
        out.extend_from_slice(payload);
        out
    }
    fn vi(tag: u32, v: u64) -> Vec<u8> {
        let mut out = key(tag, VARINT);
        varint(v, &mut out);
        out
    }
    fn f64f(tag: u32, v: u64) -> Vec<u8> {
        let mut out = key(tag, FIXED64);
        out.extend_from_slice(&v.to_le_bytes());
        out
    }
    fn f32f(tag: u32, v: u32) -> Vec<u8> {
        let mut out = key(tag, FIXED32);
        out.extend_from_slice(&v.to_le_bytes());
        out
    }
    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    /// A valid span's ids, for hand-made spans.
    fn span_ids() -> Vec<u8> {
        cat(&[&ld(1, &[7; 16]), &ld(2, &[9; 8])])
    }

    /// A trace request with one span whose fields are `span`.
    fn request_with_span(span: &[u8]) -> Vec<u8> {
        ld(1, &ld(2, &ld(2, span)))
    }

    /// A trace request with one span carrying one attribute made of `kv`.
    fn request_with_attribute(kv: &[u8]) -> Vec<u8> {
        request_with_span(&cat(&[&span_ids(), &ld(9, kv)]))
    }

    /// A metrics request with one metric whose fields are `metric`.
    fn request_with_metric(metric: &[u8]) -> Vec<u8> {
        ld(1, &ld(2, &ld(2, metric)))
    }

    /// A logs request with one record whose fields are `record`.
    fn request_with_record(record: &[u8]) -> Vec<u8> {
        ld(1, &ld(2, &ld(2, record)))
    }

    /// Every model feature at least once: all `AnyValue` variants (nested),
    /// links, events, status, parent ids, dropped counts, schema URLs.
    fn rich_traces() -> TracesData {
        let nested = AnyValue::Array(vec![
            AnyValue::Int(-3),
            AnyValue::Empty,
            AnyValue::KvList(vec![KeyValue::new("inner", vec![1u8, 2, 3]), KeyValue::new("d", f64::NAN)]),
        ]);
        let mut resource = fixtures::resource().with("nested", nested.clone());
        resource.dropped_attributes_count = 2;
        let mut scope = InstrumentationScope::new("scope", "9.9");
        scope.attributes.push(KeyValue::new("b", false));
        scope.dropped_attributes_count = 1;
        let mut span = Span::builder("rich")
            .trace_id(TraceId([1; 16]))
            .span_id(SpanId([2; 8]))
            .trace_state("a=b")
            .flags(0x301)
            .kind(SpanKind::Consumer)
            .times(5, 6)
            .attr("s", "x")
            .attr("n", nested)
            .attr("e", AnyValue::Empty)
            .event(Event::new("ev", 7).attr("k", 1.5))
            .link(Link {
                trace_id: TraceId([3; 16]),
                span_id: SpanId([4; 8]),
                trace_state: "t".into(),
                attributes: vec![KeyValue::new("l", 1)],
                dropped_attributes_count: 3,
                flags: 0x100,
            })
            .status(Status::error("boom"))
            .build();
        span.dropped_attributes_count = 4;
        span.dropped_events_count = 5;
        span.dropped_links_count = 6;
        let root = Span::builder("root").trace_id(TraceId([1; 16])).span_id(SpanId([5; 8])).times(1, 2).build();
        let mut child = root.clone();
        child.parent_span_id = Some(SpanId([5; 8]));
        child.span_id = SpanId([6; 8]);
        let mut d = TracesData::single(resource, scope, vec![span, root, child]);
        d.resource_spans[0].schema_url = "https://schema/r".into();
        d.resource_spans[0].scope_spans[0].schema_url = "https://schema/s".into();
        d.resource_spans.push(ResourceSpans::default());
        d
    }

    /// Every metric kind and optional field.
    fn rich_metrics() -> MetricsData {
        let mut d = fixtures::metrics(10);
        let point = ExponentialHistogramDataPoint {
            attributes: vec![KeyValue::new("k", "v")],
            start_time_unix_nano: 1,
            time_unix_nano: 2,
            count: 9,
            sum: Some(-1.5),
            scale: -3,
            zero_count: 1,
            positive: Some(ExpBuckets { offset: -2, bucket_counts: vec![1, 300, 0, u64::MAX] }),
            negative: Some(ExpBuckets::default()),
            flags: 1,
            min: None,
            max: Some(4.0),
            zero_threshold: 1e-9,
        };
        let metrics = &mut d.resource_metrics[0].scope_metrics[0].metrics;
        metrics.push(Metric::new(
            "exp",
            "an exponential histogram",
            "s",
            MetricData::ExponentialHistogram { points: vec![point], temporality: Temporality::Delta },
        ));
        metrics.push(Metric {
            name: "empty".into(),
            description: "".into(),
            unit: "".into(),
            data: None,
            metadata: vec![KeyValue::new("m", 1)],
        });
        metrics.push(Metric::new(
            "sum",
            "",
            "",
            MetricData::Sum {
                points: vec![NumberDataPoint {
                    attributes: Vec::new(),
                    start_time_unix_nano: 0,
                    time_unix_nano: 0,
                    value: None,
                    flags: 1,
                }],
                temporality: Temporality::Unspecified,
                is_monotonic: false,
            },
        ));
        metrics.push(Metric::new(
            "h",
            "",
            "",
            MetricData::Histogram { points: vec![HistogramDataPoint::default()], temporality: Temporality::Delta },
        ));
        d
    }

    /// Bodies of every kind, records with and without ids.
    fn rich_logs() -> LogsData {
        let mut d = fixtures::logs(2);
        let records = &mut d.resource_logs[0].scope_logs[0].log_records;
        records.push(LogRecord::builder().times(1, 2).body(AnyValue::Empty).event_name("ev").build());
        records.push(
            LogRecord::builder().times(3, 4).body(vec![AnyValue::Bool(true), AnyValue::Bytes(Bytes::new())]).build(),
        );
        records.push(LogRecord { severity_number: Severity(99), flags: 3, ..LogRecord::default() });
        d
    }

    /// The encodings the differential tests start from (direct and prost
    /// write the same bytes; both are used so that this stays true here).
    fn small_encodings() -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let t = [rich_traces(), fixtures::traces(3)];
        for d in &t {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            direct::encode_traces(d, &mut a);
            reference::encode_traces(d, &mut b);
            out.extend([a, b]);
        }
        for d in [rich_metrics(), fixtures::metrics(10)] {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            direct::encode_metrics(&d, &mut a);
            reference::encode_metrics(&d, &mut b);
            out.extend([a, b]);
        }
        for d in [rich_logs(), fixtures::logs(3)] {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            direct::encode_logs(&d, &mut a);
            reference::encode_logs(&d, &mut b);
            out.extend([a, b]);
        }
        out
    }

    #[test]
    fn fixtures_decode_as_the_reference_does() {
        let t = fixtures::traces(fixtures::DEFAULT_SPANS);
        let m = fixtures::metrics(fixtures::DEFAULT_POINTS);
        let l = fixtures::logs(fixtures::DEFAULT_LOGS);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        direct::encode_traces(&t, &mut a);
        reference::encode_traces(&t, &mut b);
        for v in [&a, &b] {
            assert_eq!(decode_traces(&Bytes::from(v.clone())).expect("decodes"), t);
            assert_eq!(reference::decode_traces(v).expect("decodes"), t);
        }
        let (mut a, mut b) = (Vec::new(), Vec::new());
        direct::encode_metrics(&m, &mut a);
        reference::encode_metrics(&m, &mut b);
        for v in [&a, &b] {
            assert_eq!(decode_metrics(&Bytes::from(v.clone())).expect("decodes"), m);
        }
        let (mut a, mut b) = (Vec::new(), Vec::new());
        direct::encode_logs(&l, &mut a);
        reference::encode_logs(&l, &mut b);
        for v in [&a, &b] {
            assert_eq!(decode_logs(&Bytes::from(v.clone())).expect("decodes"), l);
        }
        // The rich models round-trip (Debug: they hold a NaN).
        let mut v = Vec::new();
        direct::encode_traces(&rich_traces(), &mut v);
        assert_eq!(format!("{:?}", decode_traces(&Bytes::from(v)).expect("decodes")), format!("{:?}", rich_traces()));
        let mut v = Vec::new();
        direct::encode_metrics(&rich_metrics(), &mut v);
        assert_eq!(decode_metrics(&Bytes::from(v)).expect("decodes"), rich_metrics());
        let mut v = Vec::new();
        direct::encode_logs(&rich_logs(), &mut v);
        assert_eq!(decode_logs(&Bytes::from(v)).expect("decodes"), rich_logs());
    }

    #[test]
    fn strings_share_the_body() {
        let mut v = Vec::new();
        direct::encode_traces(&fixtures::traces(1), &mut v);
        let body = Bytes::from(v);
        let d = decode_traces(&body).expect("decodes");
        let name = d.spans().next().expect("one span").name.as_bytes().as_ptr_range();
        assert!(body.as_ptr_range().contains(&name.start), "the span name is a slice of the body");
    }

    #[test]
    fn every_truncation_agrees() {
        for v in small_encodings() {
            for cut in 0..=v.len() {
                assert_all(&v[..cut]);
            }
            assert!(decode_traces(&Bytes::copy_from_slice(&v[..v.len() - 1])).is_err());
        }
    }

    #[test]
    fn every_single_byte_mutation_agrees() {
        for v in small_encodings() {
            let mut m = v.clone();
            for i in 0..v.len() {
                let b = v[i];
                for x in [0x00, 0xff, 0x80, 0x7f, b ^ 0x01, b ^ 0x08, b.wrapping_add(1), b.wrapping_sub(1)] {
                    m[i] = x;
                    assert_all(&m);
                }
                m[i] = b;
            }
        }
    }

    #[test]
    fn packed_and_unpacked_repeated_scalars_agree() {
        // Histogram bucket_counts (fixed64) and explicit_bounds (double), and
        // exponential buckets (uint64 varints), each packed, unpacked and mixed.
        let counts = [1u64, 2, 3];
        let packed64: Vec<u8> = counts.iter().flat_map(|c| c.to_le_bytes()).collect();
        let unpacked64: Vec<u8> = counts.iter().flat_map(|&c| f64f(6, c)).collect();
        let bounds: Vec<u8> = [0.5f64, 1.5].iter().flat_map(|b| b.to_bits().to_le_bytes()).collect();
        for point in [
            cat(&[&ld(6, &packed64), &ld(7, &bounds)]),
            cat(&[&unpacked64, &f64f(7, 0.5f64.to_bits()), &f64f(7, 1.5f64.to_bits())]),
            cat(&[&ld(6, &packed64[..8]), &unpacked64[9..18], &ld(6, &packed64[16..]), &ld(7, &bounds)]),
            ld(6, &[]),
        ] {
            let input = request_with_metric(&cat(&[&ld(1, b"h"), &ld(9, &ld(1, &point))]));
            let d = decode_metrics(&Bytes::from(input.clone())).expect("decodes");
            assert_all(&input);
            let Some(MetricData::Histogram { points, .. }) = &d.resource_metrics[0].scope_metrics[0].metrics[0].data
            else {
                panic!("a histogram: {d:?}")
            };
            assert!(points[0].bucket_counts.is_empty() || points[0].bucket_counts == counts, "{points:?}");
        }
        let mut packed = Vec::new();
        for c in [1u64, 300, u64::MAX] {
            varint(c, &mut packed);
        }
        let unpacked: Vec<u8> = [1u64, 300, u64::MAX].iter().flat_map(|&c| vi(2, c)).collect();
        for buckets in [ld(2, &packed), unpacked] {
            let point = ld(8, &buckets);
            let input = request_with_metric(&cat(&[&ld(1, b"e"), &ld(10, &ld(1, &point))]));
            assert_all(&input);
            let d = decode_metrics(&Bytes::from(input)).expect("decodes");
            let Some(MetricData::ExponentialHistogram { points, .. }) =
                &d.resource_metrics[0].scope_metrics[0].metrics[0].data
            else {
                panic!("an exponential histogram: {d:?}")
            };
            assert_eq!(points[0].positive.as_ref().expect("present").bucket_counts, [1, 300, u64::MAX]);
        }
        // A packed run that is not a whole number of fixed64s.
        let input = request_with_metric(&ld(9, &ld(1, &ld(6, &packed64[..7]))));
        assert!(decode_metrics(&Bytes::from(input.clone())).is_err());
        assert_all(&input);
    }

    #[test]
    fn a_message_field_given_twice_is_merged() {
        // Resource twice: attributes appended, the count from the last.
        let kv = |k: &[u8]| ld(1, &ld(1, k));
        let resource = cat(&[&ld(1, &cat(&[&kv(b"a"), &vi(2, 3)])), &ld(1, &cat(&[&kv(b"b"), &vi(2, 4)]))]);
        let input = ld(1, &resource);
        assert_all(&input);
        let d = decode_traces(&Bytes::from(input)).expect("decodes");
        let r = &d.resource_spans[0].resource;
        assert_eq!((r.attributes.len(), r.dropped_attributes_count), (2, 4));
        // Status twice: the message of the first, the code of the second.
        let input = request_with_span(&cat(&[&span_ids(), &ld(15, &ld(2, b"why")), &ld(15, &vi(3, 2))]));
        assert_all(&input);
        let d = decode_traces(&Bytes::from(input)).expect("decodes");
        assert_eq!(d.spans().next().expect("span").status, Status::error("why"));
        // A value given twice: arrays concatenate, a scalar in between restarts.
        let arr = |x: u64| ld(5, &ld(1, &vi(3, x)));
        for (value, want) in [
            (cat(&[&ld(2, &arr(1)), &ld(2, &arr(2))]), vec![AnyValue::Int(1), AnyValue::Int(2)]),
            (cat(&[&ld(2, &cat(&[&arr(1), &vi(3, 9), &arr(2)]))]), vec![AnyValue::Int(2)]),
            (cat(&[&ld(2, &cat(&[&arr(1), &arr(2)]))]), vec![AnyValue::Int(1), AnyValue::Int(2)]),
        ] {
            let input = request_with_attribute(&cat(&[&ld(1, b"k"), &value]));
            assert_all(&input);
            let d = decode_traces(&Bytes::from(input)).expect("decodes");
            assert_eq!(d.spans().next().expect("span").attributes[0].value, AnyValue::Array(want));
        }
        // Sums twice merge; a gauge in between starts afresh.
        let point = |x: u64| ld(1, &f64f(6, x));
        for (metric, points) in [
            (cat(&[&ld(7, &cat(&[&point(1), &vi(2, 1)])), &ld(7, &cat(&[&point(2), &vi(3, 1)]))]), 2),
            (cat(&[&ld(7, &point(1)), &ld(5, &point(2)), &ld(7, &point(3))]), 1),
        ] {
            let input = request_with_metric(&metric);
            assert_all(&input);
            let d = decode_metrics(&Bytes::from(input)).expect("decodes");
            let data = d.resource_metrics[0].scope_metrics[0].metrics[0].data.as_ref().expect("data");
            assert_eq!(data.point_count(), points, "{data:?}");
        }
        // Exponential buckets twice: counts appended, the offset from the last.
        let input = request_with_metric(&ld(
            10,
            &ld(1, &cat(&[&ld(8, &cat(&[&vi(1, 3), &vi(2, 5)])), &ld(8, &cat(&[&vi(1, 4), &vi(2, 6)]))])),
        ));
        assert_all(&input);
        // A log body twice.
        let input = request_with_record(&cat(&[&ld(5, &ld(5, &ld(1, &vi(2, 1)))), &ld(5, &ld(5, &ld(1, &[])))]));
        assert_all(&input);
        let d = decode_logs(&Bytes::from(input)).expect("decodes");
        let body = d.resource_logs[0].scope_logs[0].log_records[0].body.clone();
        assert_eq!(body, Some(AnyValue::Array(vec![AnyValue::Bool(true), AnyValue::Empty])));
    }

    #[test]
    fn the_last_scalar_wins_and_ids_are_checked_when_the_message_ends() {
        // A short trace id, then a good one: accepted.
        let span = cat(&[&ld(1, &[1; 3]), &span_ids(), &ld(5, b"a"), &ld(5, b"b"), &vi(6, 2), &vi(6, 3)]);
        let input = request_with_span(&span);
        assert_all(&input);
        let d = decode_traces(&Bytes::from(input)).expect("decodes");
        let s = d.spans().next().expect("span");
        assert_eq!((s.name.as_str(), s.kind), ("b", SpanKind::Client));
        // A good id, then a short one: rejected, by both.
        for bad in [
            cat(&[&span_ids(), &ld(1, &[1; 15])]),
            cat(&[&span_ids(), &ld(2, &[1; 9])]),
            cat(&[&span_ids(), &ld(4, &[1; 7])]),
            ld(2, &[9; 8]),
        ] {
            let input = request_with_span(&bad);
            assert!(matches!(decode_traces(&Bytes::from(input.clone())), Err(EncodeError::Invalid { .. })));
            assert_all(&input);
        }
        // An empty parent id is no parent; log ids may be absent.
        let input = request_with_span(&cat(&[&span_ids(), &ld(4, &[])]));
        assert_all(&input);
        assert_eq!(
            decode_traces(&Bytes::from(input)).expect("decodes").spans().next().expect("span").parent_span_id,
            None
        );
        for record in [ld(9, &[]), ld(9, &[1; 16]), ld(9, &[1; 8]), ld(10, &[1; 8]), ld(10, &[1; 16])] {
            assert_all(&request_with_record(&record));
        }
        // Enum numbers the model does not name.
        assert_all(&request_with_span(&cat(&[&span_ids(), &vi(6, 77), &ld(15, &vi(3, u64::MAX))])));
        assert_all(&request_with_record(&vi(2, u64::MAX)));
        assert_all(&request_with_metric(&ld(7, &vi(2, 1 << 40))));
        // uint32 and sint32 keep the low 32 bits, as prost does.
        assert_all(&request_with_span(&cat(&[&span_ids(), &vi(10, u64::MAX), &vi(12, 1 << 33)])));
        assert_all(&request_with_metric(&ld(10, &ld(1, &cat(&[&vi(6, u64::MAX), &ld(8, &vi(1, 1 << 35))])))));
    }

    #[test]
    fn profile_only_fields_and_summaries_are_rejected_when_final() {
        // string_value_strindex, final or overridden.
        let strindex = ld(2, &vi(8, 0));
        assert!(decode_traces(&Bytes::from(request_with_attribute(&cat(&[&ld(1, b"k"), &strindex])))).is_err());
        for kv in [
            cat(&[&ld(1, b"k"), &strindex]),
            cat(&[&ld(1, b"k"), &strindex, &ld(2, &ld(1, b"s"))]),
            cat(&[&ld(1, b"k"), &ld(2, &cat(&[&vi(8, 1), &vi(2, 1)]))]),
            cat(&[&ld(1, b"k"), &ld(2, &cat(&[&vi(2, 1), &vi(8, 1)]))]),
            cat(&[&ld(1, b"k"), &ld(2, &ld(5, &ld(1, &vi(8, 1))))]),
            cat(&[&ld(1, b"k"), &vi(3, 1)]),
            cat(&[&ld(1, b"k"), &vi(3, 1), &vi(3, 0)]),
        ] {
            assert_all(&request_with_attribute(&kv));
        }
        assert_all(&request_with_record(&ld(5, &vi(8, 1))));
        assert_all(&request_with_record(&cat(&[&ld(5, &vi(8, 1)), &ld(5, &vi(3, 1))])));
        // A summary, final or replaced; its points are still checked on the wire.
        let summary = ld(11, &ld(1, &cat(&[&f64f(5, 1), &ld(6, &f64f(1, 2))])));
        assert!(decode_metrics(&Bytes::from(request_with_metric(&summary))).is_err());
        assert!(decode_metrics(&Bytes::from(request_with_metric(&cat(&[&summary, &ld(5, &[])])))).is_ok());
        for metric in [
            summary.clone(),
            cat(&[&summary, &ld(5, &[])]),
            cat(&[&ld(5, &[]), &summary]),
            cat(&[&ld(11, &ld(1, &vi(5, 1))), &ld(5, &[])]),
            cat(&[&ld(11, &ld(1, &ld(7, &ld(1, &[0xff])))), &ld(5, &[])]),
        ] {
            assert_all(&request_with_metric(&metric));
        }
        // Exemplars are dropped, yet checked on the wire; their attributes'
        // profile-only fields are not the reference's concern.
        for exemplar in [
            cat(&[&f64f(2, 1), &ld(4, &[1; 3]), &ld(7, &cat(&[&ld(1, b"k"), &vi(3, 5)]))]),
            ld(7, &ld(1, &[0xc0])),
            vi(2, 1),
        ] {
            assert_all(&request_with_metric(&ld(5, &ld(1, &ld(5, &exemplar)))));
        }
    }

    #[test]
    fn unknown_fields_of_every_wire_type_are_skipped() {
        let group = cat(&[
            &key(99, START_GROUP),
            &vi(1, 5),
            &ld(2, b"x"),
            &key(3, START_GROUP),
            &key(3, END_GROUP),
            &key(99, END_GROUP),
        ]);
        let unknown = cat(&[&vi(100, 1), &f64f(101, 2), &ld(102, b"\xff\xfe"), &f32f(103, 3), &group]);
        let span = cat(&[&unknown, &span_ids(), &unknown]);
        let input = cat(&[&unknown, &request_with_span(&span), &unknown]);
        assert_all(&input);
        let d = decode_traces(&Bytes::from(input)).expect("unknown fields are skipped");
        assert_eq!(d.span_count(), 1);
        // Broken groups.
        for bad in [
            key(99, END_GROUP),
            cat(&[&key(99, START_GROUP), &key(98, END_GROUP)]),
            key(99, START_GROUP),
            cat(&[&key(99, START_GROUP), &vi(1, 1)]),
        ] {
            assert!(decode_traces(&Bytes::from(bad.clone())).is_err());
            assert_all(&bad);
            assert_all(&request_with_span(&cat(&[&span_ids(), &bad])));
        }
        // Wire types 6 and 7, field number 0, a key above u32::MAX.
        for bad in [vec![0x0e, 0], vec![0x0f, 0], vec![0x00, 0], vec![0x80, 0x80, 0x80, 0x80, 0x10]] {
            assert!(decode_logs(&Bytes::from(bad.clone())).is_err(), "{bad:02x?}");
            assert_all(&bad);
        }
        // A known field with the wrong wire type.
        for bad in [
            vi(1, 1),
            f32f(1, 1),
            request_with_span(&cat(&[&span_ids(), &vi(5, 1)])),
            request_with_span(&cat(&[&span_ids(), &ld(16, &[0; 4])])),
        ] {
            assert!(decode_traces(&Bytes::from(bad.clone())).is_err());
            assert_all(&bad);
        }
    }

    #[test]
    fn invalid_utf8_is_rejected_even_when_overwritten() {
        for span in [
            cat(&[&span_ids(), &ld(5, b"\xc3\x28")]),
            cat(&[&span_ids(), &ld(5, b"\xc3\x28"), &ld(5, b"ok")]),
            cat(&[&span_ids(), &ld(3, b"\xed\xa0\x80")]),
            cat(&[&span_ids(), &ld(9, &ld(1, b"\xff"))]),
            cat(&[&span_ids(), &ld(9, &ld(2, &ld(1, b"\x80")))]),
        ] {
            let input = request_with_span(&span);
            let err = decode_traces(&Bytes::from(input.clone())).expect_err("not UTF-8");
            assert!(err.to_string().contains("UTF-8"), "{err}");
            assert_all(&input);
        }
        // Bytes values need not be UTF-8.
        let input = request_with_attribute(&cat(&[&ld(1, b"k"), &ld(2, &ld(7, b"\xff"))]));
        assert_all(&input);
        assert!(decode_traces(&Bytes::from(input)).is_ok());
    }

    #[test]
    fn recursion_limit_matches_prost() {
        // Arrays in arrays in a span attribute: prost's limit falls inside the range.
        let mut saw = (false, false);
        let mut value = Vec::new();
        for n in 0..60 {
            let input = request_with_attribute(&cat(&[&ld(1, b"k"), &ld(2, &value)]));
            assert_all(&input);
            let ok = reference::decode_traces(&input).is_ok();
            saw = (saw.0 || ok, saw.1 || !ok);
            assert_eq!(decode_traces(&Bytes::from(input)).is_ok(), ok, "{n} arrays deep");
            value = ld(5, &ld(1, &value));
        }
        assert_eq!(saw, (true, true), "the range must cross the limit");
        // Key-value lists in a log body, with an unknown varint at the bottom
        // (prost counts a skipped field against the limit too).
        let mut value = vi(50, 1);
        for _ in 0..60 {
            assert_all(&request_with_record(&ld(5, &value)));
            value = ld(6, &ld(1, &ld(2, &value)));
        }
        // Nested unknown groups at the top level.
        for n in 95..105 {
            let mut g = Vec::new();
            for _ in 0..n {
                g.extend(key(7, START_GROUP));
            }
            for _ in 0..n {
                g.extend(key(7, END_GROUP));
            }
            assert_all(&g);
        }
        // Deep nesting in a dropped exemplar.
        let mut value = Vec::new();
        for _ in 0..60 {
            let kv = cat(&[&ld(1, b"k"), &ld(2, &value)]);
            assert_all(&request_with_metric(&ld(5, &ld(1, &ld(5, &ld(7, &kv))))));
            value = ld(5, &ld(1, &value));
        }
    }

    #[test]
    fn varints_longer_than_ten_bytes_are_rejected() {
        let field = |bytes: &[u8]| request_with_span(&cat(&[&span_ids(), &key(10, VARINT), bytes]));
        let ten_ok = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        let ten_overflow = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        let eleven = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00];
        assert!(decode_traces(&Bytes::from(field(&ten_ok))).is_ok());
        assert!(decode_traces(&Bytes::from(field(&ten_overflow))).is_err());
        let err = decode_traces(&Bytes::from(field(&eleven))).expect_err("11 bytes");
        assert!(err.to_string().contains("varint"), "{err}");
        for v in [&ten_ok[..], &ten_overflow, &eleven, &[0x80], &[0x80, 0x00]] {
            assert_all(&field(v));
            assert_all(&cat(&[&key(100, VARINT), v]));
            assert_all(&cat(&[&[0x0a], v]));
        }
    }

    #[test]
    fn lengths_past_the_end_fail_without_allocating_for_them() {
        // A length of 2^63: an error, not an allocation.
        let mut input = key(1, LEN);
        varint(1 << 63, &mut input);
        assert!(matches!(
            decode_traces(&Bytes::from(input.clone())),
            Err(EncodeError::Wire(WireError { kind: WireErrorKind::Truncated, .. }))
        ));
        assert_all(&input);
        // A length inside the body but past its message.
        let input = cat(&[&ld(1, &cat(&[&key(3, LEN), &[5]])), b"abcde"]);
        assert_all(&input);
    }

    #[test]
    fn errors_name_the_message_and_field() {
        let input = request_with_span(&cat(&[&span_ids(), &vi(5, 1)]));
        let err = decode_traces(&Bytes::from(input)).expect_err("name as a varint");
        assert_eq!(err.to_string(), "malformed protobuf: unexpected wire type in Span.name (field 5)");
        let err = decode_traces(&Bytes::from(vec![0x0a, 0x05])).expect_err("truncated");
        assert_eq!(
            err.to_string(),
            "malformed protobuf: length past the end of the message in TracesData.resource_spans (field 1)"
        );
        let err = decode_traces(&Bytes::from(request_with_span(&ld(1, &[1; 3])))).expect_err("short id");
        assert_eq!(err.to_string(), "invalid TraceId: must be 16 bytes");
    }

    #[test]
    fn request_types_decode_too() {
        // The collector request types share the data types' wire shape.
        let t = fixtures::traces(2);
        let v = reference::traces_to_proto(&t).encode_to_vec();
        assert_eq!(decode_traces(&Bytes::from(v)).expect("decodes"), t);
    }

    /// Plausible protobuf: fields with small tags of every wire type,
    /// nested messages and groups, so that known fields are hit with right
    /// and wrong types alike.
    fn arb_message() -> impl Strategy<Value = Vec<u8>> {
        let leaf = prop_oneof![
            (1u32..18, any::<u64>()).prop_map(|(t, v)| vi(t, v)),
            (1u32..18, 0u64..300).prop_map(|(t, v)| vi(t, v)),
            (1u32..18, any::<u64>()).prop_map(|(t, v)| f64f(t, v)),
            (1u32..18, any::<u32>()).prop_map(|(t, v)| f32f(t, v)),
            (1u32..18, prop::collection::vec(any::<u8>(), 0..20)).prop_map(|(t, v)| ld(t, &v)),
            (1u32..18, "[a-z]{0,8}").prop_map(|(t, s)| ld(t, s.as_bytes())),
            (1u32..3, prop::sample::select(vec![8usize, 16])).prop_map(|(t, n)| ld(t, &vec![1; n])),
        ];
        let fields = leaf.prop_recursive(6, 64, 8, |inner| {
            prop_oneof![
                4 => (1u32..18, prop::collection::vec(inner.clone(), 0..6)).prop_map(|(t, fs)| ld(t, &fs.concat())),
                1 => (1u32..18, prop::collection::vec(inner.clone(), 0..3)).prop_map(|(t, fs)| {
                    cat(&[&key(t, START_GROUP), &fs.concat(), &key(t, END_GROUP)])
                }),
                1 => inner,
            ]
        });
        prop::collection::vec(fields, 0..6).prop_map(|fs| fs.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

        #[test]
        fn random_bytes_agree(v in prop::collection::vec(any::<u8>(), 0..200)) {
            check_all(&v).map_err(TestCaseError::fail)?;
        }

        #[test]
        fn random_messages_agree(v in arb_message()) {
            check_all(&v).map_err(TestCaseError::fail)?;
        }

        #[test]
        fn random_mutations_of_fixtures_agree(
            which in 0usize..12,
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..6),
        ) {
            let encodings = small_encodings();
            let mut v = encodings[which % encodings.len()].clone();
            for (at, byte, op) in edits {
                if v.is_empty() {
                    break;
                }
                let i = at.index(v.len());
                match op {
                    0 | 1 => v[i] = byte,
                    2 => v.insert(i, byte),
                    _ => {
                        v.remove(i);
                    }
                }
            }
            check_all(&v).map_err(TestCaseError::fail)?;
        }
    }
}
