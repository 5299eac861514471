//! The direct encoder: model → OTLP protobuf wire bytes, with no intermediate
//! structs and no allocation once the output buffer has grown to size.
//!
//! It writes **backwards**, from the end of the buffer towards its start, the
//! way upb does: a length-delimited field is written after its contents, when
//! the length is known, so there is a single pass, no size pre-computation and
//! no back-patching, and every length prefix is the minimal varint. Fields go
//! in reverse tag order (repeated ones in reverse element order), so the
//! output is byte-identical to prost's, which writes fields sorted by tag, a
//! oneof at the position of its smallest tag. The bytes are moved to the
//! front of the buffer once at the end.
//!
//! It follows the same conventions as [`super::reference`]: resource and scope
//! always written, `AnyValue` always written as a message, unset status and
//! absent ids omitted, implicit-presence scalars omitted when zero.

use prost::encoding::encoded_len_varint;

use crate::model::*;

/// Protobuf wire types.
const VARINT: u32 = 0;
const I64: u32 = 1;
const LEN: u32 = 2;
const I32: u32 = 5;

/// A field key (tag number and wire type), as a compile-time constant.
const fn key(field: u32, wire_type: u32) -> u32 {
    (field << 3) | wire_type
}

/// Keys and string values shorter than this take the one-check attribute path:
/// the AnyValue (at most 2 + 118 bytes) and every other inner length then fit
/// in one varint byte.
const SHORT: usize = 119;

/// Writes `v` as a varint at the start of `out`; returns its length.
#[inline(always)]
fn put_varint(out: &mut [u8], mut v: u64) -> usize {
    let mut i = 0;
    while v >= 0x80 {
        out[i] = (v as u8) | 0x80;
        v >>= 7;
        i += 1;
    }
    out[i] = v as u8;
    i + 1
}

/// Copies a short slice (`dst.len() == src.len()`) without a `memcpy` call:
/// for the keys and values of attributes, which are mostly 4 to 40 bytes, the
/// call and its size dispatch cost more than the copy.
#[inline(always)]
fn copy_short(dst: &mut [u8], src: &[u8]) {
    // Two overlapping fixed-size copies cover every length in a size class.
    match src.len() {
        n @ 8..=16 => {
            dst[..8].copy_from_slice(&src[..8]);
            dst[n - 8..n].copy_from_slice(&src[n - 8..]);
        }
        n @ 17..=32 => {
            dst[..16].copy_from_slice(&src[..16]);
            dst[n - 16..n].copy_from_slice(&src[n - 16..]);
        }
        n @ 4..=7 => {
            dst[..4].copy_from_slice(&src[..4]);
            dst[n - 4..n].copy_from_slice(&src[n - 4..]);
        }
        n => dst[..n].copy_from_slice(src),
    }
}

/// Smallest scratch region the writer starts with, so tiny batches do not
/// regrow several times.
const MIN_SCRATCH: usize = 1024;

/// A writer that fills `buf[floor..end]` from `end` towards `floor`.
/// Invariant: `floor <= pos <= end == buf.len()`; the output so far is
/// `buf[pos..end]`. `end` is cached so that the hot path does not reload the
/// vector's length after every copy.
struct RevWriter<'a> {
    buf: &'a mut Vec<u8>,
    floor: usize,
    pos: usize,
    end: usize,
}

impl<'a> RevWriter<'a> {
    /// Uses `buf[floor..]` as scratch; `buf` must already be that long.
    fn over(buf: &'a mut Vec<u8>, floor: usize) -> Self {
        let end = buf.len();
        RevWriter { buf, floor, pos: end, end }
    }

    /// Uses all of `buf` as scratch (at least [`MIN_SCRATCH`] of it).
    fn tail_of(buf: &'a mut Vec<u8>) -> Self {
        if buf.len() < MIN_SCRATCH {
            buf.resize(MIN_SCRATCH, 0);
        }
        Self::over(buf, 0)
    }

    /// Uses the spare capacity of `buf` (after its current contents) as scratch.
    fn append_to(buf: &'a mut Vec<u8>) -> Self {
        let floor = buf.len();
        let scratch = (buf.capacity() - floor).max(MIN_SCRATCH);
        // Zero-filling keeps this safe code; [`Encoder`] avoids even that by
        // keeping its scratch initialized between batches.
        buf.resize(floor + scratch, 0);
        Self::over(buf, floor)
    }

    /// Bytes written so far.
    #[inline(always)]
    fn written(&self) -> usize {
        self.end - self.pos
    }

    #[inline(always)]
    fn reserve(&mut self, n: usize) {
        if self.pos - self.floor < n {
            self.grow(n);
        }
    }

    /// Doubles the scratch region and slides what was written to its new end.
    #[cold]
    #[inline(never)]
    fn grow(&mut self, n: usize) {
        let written = self.written();
        let new_len = self.end + (self.end - self.floor).max(n).max(MIN_SCRATCH);
        self.buf.resize(new_len, 0);
        self.buf.copy_within(self.pos..self.end, new_len - written);
        self.end = new_len;
        self.pos = new_len - written;
    }

    #[inline(always)]
    fn bytes(&mut self, b: &[u8]) {
        self.reserve(b.len());
        let start = self.pos - b.len();
        self.buf[start..self.pos].copy_from_slice(b);
        self.pos = start;
    }

    #[inline(always)]
    fn varint(&mut self, v: u64) {
        if v < 0x80 {
            self.reserve(1);
            self.pos -= 1;
            self.buf[self.pos] = v as u8;
            return;
        }
        self.varint_slow(v);
    }

    #[inline(never)]
    fn varint_slow(&mut self, mut v: u64) {
        let n = encoded_len_varint(v);
        self.reserve(n);
        self.pos -= n;
        let out = &mut self.buf[self.pos..self.pos + n];
        let (last, head) = out.split_last_mut().expect("a varint has at least one byte");
        for b in head {
            *b = (v as u8) | 0x80;
            v >>= 7;
        }
        *last = v as u8;
    }

    #[inline(always)]
    fn key(&mut self, k: u32) {
        self.varint(u64::from(k));
    }

    #[inline(always)]
    fn fixed64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }

    #[inline(always)]
    fn fixed32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }

    /// Closes a length-delimited field whose contents were written since `mark`.
    #[inline(always)]
    fn close(&mut self, field: u32, mark: usize) {
        let len = self.written() - mark;
        self.varint(len as u64);
        self.key(key(field, LEN));
    }

    // ---- fields with implicit presence: omitted when zero or empty (proto3)

    #[inline(always)]
    fn str_field(&mut self, field: u32, s: &str) {
        if !s.is_empty() {
            self.bytes_field_always(field, s.as_bytes());
        }
    }

    #[inline(always)]
    fn bytes_field_always(&mut self, field: u32, b: &[u8]) {
        self.bytes(b);
        self.varint(b.len() as u64);
        self.key(key(field, LEN));
    }

    #[inline(always)]
    fn uint_field(&mut self, field: u32, v: u64) {
        if v != 0 {
            self.varint(v);
            self.key(key(field, VARINT));
        }
    }

    /// int32 and enums: negative values are sign-extended to ten bytes.
    #[inline(always)]
    fn int32_field(&mut self, field: u32, v: i32) {
        self.uint_field(field, i64::from(v) as u64);
    }

    #[inline(always)]
    fn sint32_field(&mut self, field: u32, v: i32) {
        self.uint_field(field, u64::from(((v << 1) ^ (v >> 31)) as u32));
    }

    #[inline(always)]
    fn fixed64_field(&mut self, field: u32, v: u64) {
        if v != 0 {
            self.fixed64(v);
            self.key(key(field, I64));
        }
    }

    #[inline(always)]
    fn fixed32_field(&mut self, field: u32, v: u32) {
        if v != 0 {
            self.fixed32(v);
            self.key(key(field, I32));
        }
    }

    #[inline(always)]
    fn double_field(&mut self, field: u32, v: f64) {
        // prost compares with `!=`: NaN is written, -0.0 is not.
        if v != 0.0 {
            self.double_always(field, v);
        }
    }

    // ---- fields with explicit presence

    #[inline(always)]
    fn double_always(&mut self, field: u32, v: f64) {
        self.fixed64(v.to_bits());
        self.key(key(field, I64));
    }

    #[inline(always)]
    fn opt_double(&mut self, field: u32, v: Option<f64>) {
        if let Some(v) = v {
            self.double_always(field, v);
        }
    }

    // ---- messages

    fn any_value(&mut self, v: &AnyValue) {
        match v {
            AnyValue::Empty => {}
            AnyValue::String(s) => self.bytes_field_always(1, s.as_bytes()),
            AnyValue::Bool(b) => {
                self.varint(u64::from(*b));
                self.key(key(2, VARINT));
            }
            AnyValue::Int(i) => {
                self.varint(*i as u64);
                self.key(key(3, VARINT));
            }
            AnyValue::Double(d) => self.double_always(4, *d),
            AnyValue::Array(values) => {
                let mark = self.written();
                for v in values.iter().rev() {
                    let m = self.written();
                    self.any_value(v);
                    self.close(1, m);
                }
                self.close(5, mark);
            }
            AnyValue::KvList(kvs) => {
                let mark = self.written();
                self.key_values(1, kvs);
                self.close(6, mark);
            }
            AnyValue::Bytes(b) => self.bytes_field_always(7, b),
        }
    }

    /// A repeated `KeyValue` field.
    #[inline]
    fn key_values(&mut self, field: u32, kvs: &[KeyValue]) {
        for kv in kvs.iter().rev() {
            if !self.key_value_short(field, kv) {
                let mark = self.written();
                self.any_value(&kv.value);
                self.close(2, mark);
                self.str_field(1, &kv.key);
                self.close(field, mark);
            }
        }
    }

    /// Claims the next `n` bytes (growing if needed) for the caller to fill
    /// front to back: one capacity check and one bounds check for a whole
    /// group of small fields.
    #[inline(always)]
    fn region(&mut self, n: usize) -> &mut [u8] {
        self.reserve(n);
        let end = self.pos;
        self.pos -= n;
        &mut self.buf[self.pos..end]
    }

    /// The common attribute (key and string shorter than [`SHORT`]; or an int,
    /// bool or double value) written as one region: every inner length then
    /// fits in one varint byte and the outer one in two, so the layout is
    /// known up front. Returns false for anything else.
    #[inline(always)]
    fn key_value_short(&mut self, field: u32, kv: &KeyValue) -> bool {
        let k = kv.key.as_bytes();
        if k.is_empty() || k.len() >= SHORT {
            return false;
        }
        match &kv.value {
            AnyValue::String(v) if v.len() < SHORT => {
                let (dst, i) = self.kv_region(field, k, 2 + v.len());
                dst[i] = key(1, LEN) as u8;
                dst[i + 1] = v.len() as u8;
                copy_short(&mut dst[i + 2..], v.as_bytes());
            }
            AnyValue::Int(x) => {
                let (dst, i) = self.kv_region(field, k, 1 + encoded_len_varint(*x as u64));
                dst[i] = key(3, VARINT) as u8;
                put_varint(&mut dst[i + 1..], *x as u64);
            }
            AnyValue::Bool(b) => {
                let (dst, i) = self.kv_region(field, k, 2);
                dst[i] = key(2, VARINT) as u8;
                dst[i + 1] = u8::from(*b);
            }
            AnyValue::Double(d) => {
                let (dst, i) = self.kv_region(field, k, 9);
                dst[i] = key(4, I64) as u8;
                dst[i + 1..i + 9].copy_from_slice(&d.to_bits().to_le_bytes());
            }
            _ => return false,
        }
        true
    }

    /// Claims the region of a short `KeyValue` and writes everything up to its
    /// `AnyValue`, which the caller writes at the returned offset.
    #[inline(always)]
    fn kv_region(&mut self, field: u32, k: &[u8], any_len: usize) -> (&mut [u8], usize) {
        // KeyValue: key tag, key len, key, value tag, value len, AnyValue.
        let inner = 2 + k.len() + 2 + any_len;
        let inner_len_bytes = if inner < 0x80 { 1 } else { 2 };
        let dst = self.region(1 + inner_len_bytes + inner);
        dst[0] = key(field, LEN) as u8;
        let i = 1 + put_varint(&mut dst[1..], inner as u64);
        dst[i] = key(1, LEN) as u8;
        dst[i + 1] = k.len() as u8;
        copy_short(&mut dst[i + 2..i + 2 + k.len()], k);
        let i = i + 2 + k.len();
        dst[i] = key(2, LEN) as u8;
        dst[i + 1] = any_len as u8;
        (dst, i + 2)
    }

    fn resource(&mut self, field: u32, r: &Resource) {
        let mark = self.written();
        self.uint_field(2, u64::from(r.dropped_attributes_count));
        self.key_values(1, &r.attributes);
        self.close(field, mark);
    }

    fn scope(&mut self, field: u32, s: &InstrumentationScope) {
        let mark = self.written();
        self.uint_field(4, u64::from(s.dropped_attributes_count));
        self.key_values(3, &s.attributes);
        self.str_field(2, &s.version);
        self.str_field(1, &s.name);
        self.close(field, mark);
    }

    fn span(&mut self, field: u32, s: &Span) {
        let mark = self.written();
        self.fixed32_field(16, s.flags);
        if !s.status.is_unset() {
            let m = self.written();
            self.int32_field(3, s.status.code as i32);
            self.str_field(2, &s.status.message);
            self.close(15, m);
        }
        self.uint_field(14, u64::from(s.dropped_links_count));
        for l in s.links.iter().rev() {
            let m = self.written();
            self.fixed32_field(6, l.flags);
            self.uint_field(5, u64::from(l.dropped_attributes_count));
            self.key_values(4, &l.attributes);
            self.str_field(3, &l.trace_state);
            self.bytes_field_always(2, &l.span_id.0);
            self.bytes_field_always(1, &l.trace_id.0);
            self.close(13, m);
        }
        self.uint_field(12, u64::from(s.dropped_events_count));
        for e in s.events.iter().rev() {
            let m = self.written();
            self.uint_field(4, u64::from(e.dropped_attributes_count));
            self.key_values(3, &e.attributes);
            self.str_field(2, &e.name);
            self.fixed64_field(1, e.time_unix_nano);
            self.close(11, m);
        }
        self.uint_field(10, u64::from(s.dropped_attributes_count));
        self.key_values(9, &s.attributes);
        self.fixed64_field(8, s.end_time_unix_nano);
        self.fixed64_field(7, s.start_time_unix_nano);
        self.int32_field(6, s.kind as i32);
        self.str_field(5, &s.name);
        if let Some(p) = &s.parent_span_id {
            let dst = self.region(10);
            dst[0] = key(4, LEN) as u8;
            dst[1] = 8;
            dst[2..].copy_from_slice(&p.0);
        }
        self.str_field(3, &s.trace_state);
        let dst = self.region(28);
        dst[0] = key(1, LEN) as u8;
        dst[1] = 16;
        dst[2..18].copy_from_slice(&s.trace_id.0);
        dst[18] = key(2, LEN) as u8;
        dst[19] = 8;
        dst[20..].copy_from_slice(&s.span_id.0);
        self.close(field, mark);
    }

    fn traces(&mut self, d: &TracesData) {
        for rs in d.resource_spans.iter().rev() {
            let mark = self.written();
            self.str_field(3, &rs.schema_url);
            for ss in rs.scope_spans.iter().rev() {
                let m = self.written();
                self.str_field(3, &ss.schema_url);
                for s in ss.spans.iter().rev() {
                    self.span(2, s);
                }
                self.scope(1, &ss.scope);
                self.close(2, m);
            }
            self.resource(1, &rs.resource);
            self.close(1, mark);
        }
    }

    fn number_point(&mut self, field: u32, p: &NumberDataPoint) {
        let mark = self.written();
        self.uint_field(8, u64::from(p.flags));
        self.key_values(7, &p.attributes);
        // The value oneof sits at the position of its smallest tag (4).
        match p.value {
            Some(NumberValue::Double(d)) => self.double_always(4, d),
            Some(NumberValue::Int(i)) => {
                self.fixed64(i as u64);
                self.key(key(6, I64));
            }
            None => {}
        }
        self.fixed64_field(3, p.time_unix_nano);
        self.fixed64_field(2, p.start_time_unix_nano);
        self.close(field, mark);
    }

    fn packed_fixed64(&mut self, field: u32, values: impl DoubleEndedIterator<Item = u64> + ExactSizeIterator) {
        if values.len() == 0 {
            return;
        }
        let mark = self.written();
        for v in values.rev() {
            self.fixed64(v);
        }
        self.close(field, mark);
    }

    fn histogram_point(&mut self, field: u32, p: &HistogramDataPoint) {
        let mark = self.written();
        self.opt_double(12, p.max);
        self.opt_double(11, p.min);
        self.uint_field(10, u64::from(p.flags));
        self.key_values(9, &p.attributes);
        self.packed_fixed64(7, p.explicit_bounds.iter().map(|b| b.to_bits()));
        self.packed_fixed64(6, p.bucket_counts.iter().copied());
        self.opt_double(5, p.sum);
        self.fixed64_field(4, p.count);
        self.fixed64_field(3, p.time_unix_nano);
        self.fixed64_field(2, p.start_time_unix_nano);
        self.close(field, mark);
    }

    fn exp_buckets(&mut self, field: u32, b: &ExpBuckets) {
        let mark = self.written();
        if !b.bucket_counts.is_empty() {
            let m = self.written();
            for &c in b.bucket_counts.iter().rev() {
                self.varint(c);
            }
            self.close(2, m);
        }
        self.sint32_field(1, b.offset);
        self.close(field, mark);
    }

    fn exp_histogram_point(&mut self, field: u32, p: &ExponentialHistogramDataPoint) {
        let mark = self.written();
        self.double_field(14, p.zero_threshold);
        self.opt_double(13, p.max);
        self.opt_double(12, p.min);
        self.uint_field(10, u64::from(p.flags));
        if let Some(b) = &p.negative {
            self.exp_buckets(9, b);
        }
        if let Some(b) = &p.positive {
            self.exp_buckets(8, b);
        }
        self.fixed64_field(7, p.zero_count);
        self.sint32_field(6, p.scale);
        self.opt_double(5, p.sum);
        self.fixed64_field(4, p.count);
        self.fixed64_field(3, p.time_unix_nano);
        self.fixed64_field(2, p.start_time_unix_nano);
        self.key_values(1, &p.attributes);
        self.close(field, mark);
    }

    fn metric(&mut self, field: u32, m: &Metric) {
        let mark = self.written();
        self.key_values(12, &m.metadata);
        if let Some(data) = &m.data {
            let dm = self.written();
            let data_field = match data {
                MetricData::Gauge(points) => {
                    for p in points.iter().rev() {
                        self.number_point(1, p);
                    }
                    5
                }
                MetricData::Sum { points, temporality, is_monotonic } => {
                    self.uint_field(3, u64::from(*is_monotonic));
                    self.int32_field(2, *temporality as i32);
                    for p in points.iter().rev() {
                        self.number_point(1, p);
                    }
                    7
                }
                MetricData::Histogram { points, temporality } => {
                    self.int32_field(2, *temporality as i32);
                    for p in points.iter().rev() {
                        self.histogram_point(1, p);
                    }
                    9
                }
                MetricData::ExponentialHistogram { points, temporality } => {
                    self.int32_field(2, *temporality as i32);
                    for p in points.iter().rev() {
                        self.exp_histogram_point(1, p);
                    }
                    10
                }
            };
            self.close(data_field, dm);
        }
        self.str_field(3, &m.unit);
        self.str_field(2, &m.description);
        self.str_field(1, &m.name);
        self.close(field, mark);
    }

    fn metrics(&mut self, d: &MetricsData) {
        for rm in d.resource_metrics.iter().rev() {
            let mark = self.written();
            self.str_field(3, &rm.schema_url);
            for sm in rm.scope_metrics.iter().rev() {
                let m = self.written();
                self.str_field(3, &sm.schema_url);
                for metric in sm.metrics.iter().rev() {
                    self.metric(2, metric);
                }
                self.scope(1, &sm.scope);
                self.close(2, m);
            }
            self.resource(1, &rm.resource);
            self.close(1, mark);
        }
    }

    fn log_record(&mut self, field: u32, r: &LogRecord) {
        let mark = self.written();
        self.str_field(12, &r.event_name);
        self.fixed64_field(11, r.observed_time_unix_nano);
        if let Some(id) = &r.span_id {
            self.bytes_field_always(10, &id.0);
        }
        if let Some(id) = &r.trace_id {
            self.bytes_field_always(9, &id.0);
        }
        self.fixed32_field(8, r.flags);
        self.uint_field(7, u64::from(r.dropped_attributes_count));
        self.key_values(6, &r.attributes);
        if let Some(body) = &r.body {
            let m = self.written();
            self.any_value(body);
            self.close(5, m);
        }
        self.str_field(3, &r.severity_text);
        self.int32_field(2, r.severity_number.0);
        self.fixed64_field(1, r.time_unix_nano);
        self.close(field, mark);
    }

    fn logs(&mut self, d: &LogsData) {
        for rl in d.resource_logs.iter().rev() {
            let mark = self.written();
            self.str_field(3, &rl.schema_url);
            for sl in rl.scope_logs.iter().rev() {
                let m = self.written();
                self.str_field(3, &sl.schema_url);
                for r in sl.log_records.iter().rev() {
                    self.log_record(2, r);
                }
                self.scope(1, &sl.scope);
                self.close(2, m);
            }
            self.resource(1, &rl.resource);
            self.close(1, mark);
        }
    }

    /// Moves the output to `buf[floor..]` and trims the scratch.
    fn finish_append(self) -> usize {
        let written = self.written();
        self.buf.copy_within(self.pos..self.end, self.floor);
        self.buf.truncate(self.floor + written);
        written
    }
}

/// A reusable direct encoder. It owns its scratch buffer and keeps it
/// initialized between batches, so after the first batch of a given size an
/// encode neither allocates nor touches memory it does not write. The output is
/// a slice at the end of the scratch: hand it to the compressor or copy it into
/// a request body. Pool encoders (one per exporter worker), not their output.
#[derive(Debug, Default)]
pub struct Encoder {
    scratch: Vec<u8>,
}

impl Encoder {
    /// An encoder whose scratch starts empty and grows to the largest batch seen.
    pub fn new() -> Self {
        Self::default()
    }

    /// An encoder with `bytes` of scratch ready.
    pub fn with_capacity(bytes: usize) -> Self {
        Encoder { scratch: vec![0; bytes] }
    }

    /// Bytes of scratch held.
    pub fn capacity(&self) -> usize {
        self.scratch.len()
    }

    fn writer(&mut self) -> RevWriter<'_> {
        if self.scratch.len() < MIN_SCRATCH {
            self.scratch.resize(MIN_SCRATCH, 0);
        }
        RevWriter::over(&mut self.scratch, 0)
    }

    /// Encodes an `ExportTraceServiceRequest`; the bytes live until the next call.
    pub fn traces(&mut self, d: &TracesData) -> &[u8] {
        let mut w = self.writer();
        w.traces(d);
        let pos = w.pos;
        &self.scratch[pos..]
    }

    /// Encodes an `ExportMetricsServiceRequest`.
    pub fn metrics(&mut self, d: &MetricsData) -> &[u8] {
        let mut w = self.writer();
        w.metrics(d);
        let pos = w.pos;
        &self.scratch[pos..]
    }

    /// Encodes an `ExportLogsServiceRequest`.
    pub fn logs(&mut self, d: &LogsData) -> &[u8] {
        let mut w = self.writer();
        w.logs(d);
        let pos = w.pos;
        &self.scratch[pos..]
    }
}

/// Appends the protobuf encoding of `d` (an `ExportTraceServiceRequest`, which
/// is also a valid `TracesData`) to `out`; returns the number of bytes written.
///
/// Uses `out`'s spare capacity as scratch: pass a pooled buffer that has held
/// a batch before and the call allocates nothing.
pub fn encode_traces(d: &TracesData, out: &mut Vec<u8>) -> usize {
    let mut w = RevWriter::append_to(out);
    w.traces(d);
    w.finish_append()
}

/// Appends the protobuf encoding of `d` (an `ExportMetricsServiceRequest`).
pub fn encode_metrics(d: &MetricsData, out: &mut Vec<u8>) -> usize {
    let mut w = RevWriter::append_to(out);
    w.metrics(d);
    w.finish_append()
}

/// Appends the protobuf encoding of `d` (an `ExportLogsServiceRequest`).
pub fn encode_logs(d: &LogsData, out: &mut Vec<u8>) -> usize {
    let mut w = RevWriter::append_to(out);
    w.logs(d);
    w.finish_append()
}

/// Encodes `d` (an `ExportTraceServiceRequest`) at the end of `buf`, using
/// all of `buf` as scratch and growing it when it is too short; returns where
/// the encoding starts: the output is `buf[start..]`. Nothing is copied or
/// zeroed when `buf` already holds as many bytes as the encoding needs, such
/// as a buffer from [`crate::pool::BufferPool::get_initialized`] that held a
/// batch before, so the pipeline can send the buffer itself as the body.
pub fn encode_traces_tail(d: &TracesData, buf: &mut Vec<u8>) -> usize {
    let mut w = RevWriter::tail_of(buf);
    w.traces(d);
    w.pos
}

/// [`encode_traces_tail`] for an `ExportMetricsServiceRequest`.
pub fn encode_metrics_tail(d: &MetricsData, buf: &mut Vec<u8>) -> usize {
    let mut w = RevWriter::tail_of(buf);
    w.metrics(d);
    w.pos
}

/// [`encode_traces_tail`] for an `ExportLogsServiceRequest`.
pub fn encode_logs_tail(d: &LogsData, buf: &mut Vec<u8>) -> usize {
    let mut w = RevWriter::tail_of(buf);
    w.logs(d);
    w.pos
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::reference;
    use crate::fixtures;

    #[test]
    fn byte_identical_to_prost_on_fixtures() {
        for n in [0, 1, 8, 512] {
            let d = fixtures::traces(n);
            let (mut a, mut b) = (Vec::new(), Vec::new());
            encode_traces(&d, &mut a);
            reference::encode_traces(&d, &mut b);
            assert_eq!(a, b, "traces({n})");
            let d = fixtures::metrics(n.max(10));
            let (mut a, mut b) = (Vec::new(), Vec::new());
            encode_metrics(&d, &mut a);
            reference::encode_metrics(&d, &mut b);
            assert_eq!(a, b, "metrics({n})");
            let d = fixtures::logs(n);
            let (mut a, mut b) = (Vec::new(), Vec::new());
            encode_logs(&d, &mut a);
            reference::encode_logs(&d, &mut b);
            assert_eq!(a, b, "logs({n})");
        }
    }

    #[test]
    fn tail_encoding_over_stale_bytes_matches() {
        // A buffer left dirty by an earlier, larger batch, then a smaller
        // one, then one that has to grow it: the tail is always the encoding.
        let mut buf = vec![0xAB; 3000];
        for n in [8, 1, 512, 0] {
            let d = fixtures::traces(n);
            let mut expect = Vec::new();
            encode_traces(&d, &mut expect);
            let start = encode_traces_tail(&d, &mut buf);
            assert_eq!(&buf[start..], &expect[..], "traces({n})");
            let d = fixtures::logs(n);
            let mut expect = Vec::new();
            encode_logs(&d, &mut expect);
            let start = encode_logs_tail(&d, &mut buf);
            assert_eq!(&buf[start..], &expect[..], "logs({n})");
        }
        let d = fixtures::metrics(10);
        let mut expect = Vec::new();
        encode_metrics(&d, &mut expect);
        let start = encode_metrics_tail(&d, &mut buf);
        assert_eq!(&buf[start..], &expect[..], "metrics");
    }

    #[test]
    fn encoder_reuses_scratch_and_matches() {
        let mut enc = Encoder::new();
        for n in [512, 3, 0, 64] {
            let d = fixtures::traces(n);
            let mut expect = Vec::new();
            reference::encode_traces(&d, &mut expect);
            assert_eq!(enc.traces(&d), &expect[..], "traces({n})");
            let d = fixtures::logs(n);
            expect.clear();
            reference::encode_logs(&d, &mut expect);
            assert_eq!(enc.logs(&d), &expect[..], "logs({n})");
        }
        let cap = enc.capacity();
        enc.traces(&fixtures::traces(512));
        assert_eq!(enc.capacity(), cap, "a batch seen before needs no growth");
    }

    #[test]
    fn appends_after_existing_bytes_and_grows_from_empty() {
        let d = fixtures::traces(64);
        let mut expect = b"prefix".to_vec();
        reference::encode_traces(&d, &mut expect);
        let mut out = b"prefix".to_vec();
        out.shrink_to_fit();
        let n = encode_traces(&d, &mut out);
        assert_eq!(out, expect);
        assert_eq!(n, expect.len() - 6);
    }
}
