//! The messages every signal shares: `AnyValue`, `KeyValue`, `Resource`,
//! `InstrumentationScope`, and the id checks.

use std::ops::Range;

use bytes::Bytes;

use super::dropped::ENTITY_REF;
use super::reader::{Decoder, Deferral, fields};
use super::{EncodeError, Field, Message, R, invalid, within};
use crate::model::*;

impl Decoder<'_> {
    /// Merges an `AnyValue` into `v`; `p` gathers what the reference checks
    /// once the value is final (see [`PendingValue`]).
    pub(super) fn any_value(&mut self, end: usize, depth: u32, v: &mut AnyValue, p: &mut PendingValue) -> R<()> {
        fields!(self, end, depth, Message::AnyValue, |tag, wt| {
            1 => self.string(wt, end).map(|s| {
                *v = AnyValue::String(s);
                p.replaced();
            }),
            2 => self.bool(wt, end).map(|b| {
                *v = AnyValue::Bool(b);
                p.replaced();
            }),
            3 => self.uint64(wt, end).map(|x| {
                *v = AnyValue::Int(x as i64);
                p.replaced();
            }),
            4 => self.double(wt, end).map(|x| {
                *v = AnyValue::Double(x);
                p.replaced();
            }),
            5 => self.message(wt, end, depth).and_then(|(e, d)| {
                // prost merges into the variant it holds, else starts afresh.
                if let AnyValue::Array(xs) = v {
                    let inner = self.variant(|s| s.array_value(e, d, xs))?;
                    p.merged(inner);
                } else {
                    let mut xs = Vec::new();
                    let inner = self.variant(|s| s.array_value(e, d, &mut xs))?;
                    *v = AnyValue::Array(xs);
                    p.replaced();
                    p.merged(inner);
                }
                Ok(())
            }),
            6 => self.message(wt, end, depth).and_then(|(e, d)| {
                if let AnyValue::KvList(kvs) = v {
                    let inner = self.variant(|s| s.key_value_list(e, d, kvs))?;
                    p.merged(inner);
                } else {
                    let mut kvs = Vec::new();
                    let inner = self.variant(|s| s.key_value_list(e, d, &mut kvs))?;
                    *v = AnyValue::KvList(kvs);
                    p.replaced();
                    p.merged(inner);
                }
                Ok(())
            }),
            7 => self.len_delimited(wt, end).map(|r| {
                *v = AnyValue::Bytes(if r.is_empty() { Bytes::new() } else { self.body.slice(r) });
                p.replaced();
            }),
            8 => self.int32(wt, end).map(|_| {
                *v = AnyValue::Empty;
                p.replaced();
                p.strindex = true;
            }),
        });
        Ok(())
    }

    /// Applies the checks `p` gathered for a final `AnyValue`.
    #[inline]
    pub(super) fn finish_value(&mut self, p: PendingValue) -> R<()> {
        p.finish(&mut self.defer)
    }

    /// One `AnyValue` element of an array or a log body's value.
    pub(super) fn any_value_element(&mut self, end: usize, depth: u32) -> R<AnyValue> {
        let mut v = AnyValue::Empty;
        let mut p = PendingValue::default();
        self.any_value(end, depth, &mut v, &mut p)?;
        self.finish_value(p)?;
        Ok(v)
    }

    pub(super) fn array_value(&mut self, end: usize, depth: u32, out: &mut Vec<AnyValue>) -> R<()> {
        fields!(self, end, depth, Message::ArrayValue, |tag, wt| {
            1 => self.message(wt, end, depth).and_then(|(e, d)| {
                let x = self.any_value_element(e, d)?;
                self.push(out, x)
            }),
        });
        Ok(())
    }

    pub(super) fn key_value_list(&mut self, end: usize, depth: u32, out: &mut Vec<KeyValue>) -> R<()> {
        fields!(self, end, depth, Message::KeyValueList, |tag, wt| {
            1 => self.key_value(wt, end, depth, out),
        });
        Ok(())
    }

    /// A repeated `KeyValue` field: decodes one and appends it.
    pub(super) fn key_value(&mut self, wt: u8, end: usize, depth: u32, out: &mut Vec<KeyValue>) -> R<()> {
        let (end, depth) = self.message(wt, end, depth)?;
        if let Some(kv) = self.usual_key_value(end, depth) {
            self.pos = end;
            return self.push(out, kv);
        }
        let mut key = Str::EMPTY;
        let mut value = AnyValue::Empty;
        let mut p = PendingValue::default();
        let mut key_strindex = 0;
        fields!(self, end, depth, Message::KeyValue, |tag, wt| {
            1 => self.string(wt, end).map(|s| key = s),
            2 => self.message(wt, end, depth).and_then(|(e, d)| self.any_value(e, d, &mut value, &mut p)),
            3 => self.int32(wt, end).map(|x| key_strindex = x),
        });
        if key_strindex != 0 {
            self.invalid_when_final(invalid(Field::Key, "key_strindex is only valid in profiles"))?;
        }
        self.finish_value(p)?;
        self.push(out, KeyValue { key, value })
    }

    /// The key-value of [`usual_key_value`] shape up to `end`, built, or
    /// `None` (for the general loop to read and judge) when the body has
    /// another shape or a string in it is not UTF-8.
    #[inline]
    fn usual_key_value(&mut self, end: usize, depth: u32) -> Option<KeyValue> {
        let (key, value) = usual_key_value(self.buf, self.pos, end, depth)?;
        let value = match value {
            UsualValue::Absent | UsualValue::Empty => AnyValue::Empty,
            UsualValue::String(r) => AnyValue::String(self.str_at(r)?),
            UsualValue::Bool(b) => AnyValue::Bool(b),
            UsualValue::Int(x) => AnyValue::Int(x as i64),
            UsualValue::Double(x) => AnyValue::Double(f64::from_bits(x)),
            UsualValue::Bytes(r) => AnyValue::Bytes(if r.is_empty() { Bytes::new() } else { self.body.slice(r) }),
        };
        Some(KeyValue { key: self.str_at(key)?, value })
    }

    /// The string at `r` of the body, as `string` reads it; `None` when it
    /// is not UTF-8.
    #[inline]
    fn str_at(&self, r: Range<usize>) -> Option<Str> {
        if r.is_empty() {
            return Some(Str::EMPTY);
        }
        Str::from_utf8(self.body.slice(r)).ok()
    }

    /// Merges a `Resource` into `r`.
    pub(super) fn resource(&mut self, wt: u8, end: usize, depth: u32, r: &mut Resource) -> R<()> {
        let (end, depth) = self.message(wt, end, depth)?;
        let [attributes] = self.count_fields(end, [1]);
        self.reserve(&mut r.attributes, attributes)?;
        fields!(self, end, depth, Message::Resource, |tag, wt| {
            1 => self.key_value(wt, end, depth, &mut r.attributes),
            2 => self.uint32(wt, end).map(|x| r.dropped_attributes_count = x),
            3 => self.message(wt, end, depth).and_then(|(e, d)| self.validate(&ENTITY_REF, e, d)),
        });
        Ok(())
    }

    /// Merges an `InstrumentationScope` into `s`.
    pub(super) fn scope(&mut self, wt: u8, end: usize, depth: u32, s: &mut InstrumentationScope) -> R<()> {
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

/// The value of a key-value of [`usual_key_value`] shape.
pub(crate) enum UsualValue {
    /// No value field.
    Absent,
    /// A value message with no field.
    Empty,
    /// `string_value`, at this range of the body (not yet checked as UTF-8).
    String(Range<usize>),
    /// `bool_value`.
    Bool(bool),
    /// `int_value`'s bits.
    Int(u64),
    /// `double_value`'s bits.
    Double(u64),
    /// `bytes_value`, at this range of the body.
    Bytes(Range<usize>),
}

/// The usual `KeyValue` body, at `start..end` of `buf`: the key field, then
/// at most one value field holding at most one string, bool, int, double
/// or bytes variant, every length under 128, and nothing else. Returns the
/// key's range and the value, or `None` for any other shape. The decoder
/// and the views' validation take such a body on a straight path and leave
/// every other to the general field loop, which alone reports errors, so
/// the straight path must accept only what the loop accepts: the caller
/// still checks that the strings are UTF-8; the varint is checked here; a
/// value present needs one more level of the recursion budget (`depth`,
/// inside the key-value), as the loop's entry into it does; and a single
/// scalar variant sets none of the checks the loop defers. Always inlined:
/// a call, and its result returned through memory, cost as much as the
/// matching.
#[inline(always)]
pub(crate) fn usual_key_value(buf: &[u8], start: usize, end: usize, depth: u32) -> Option<(Range<usize>, UsualValue)> {
    let Some([0x0a, klen, rest @ ..]) = buf.get(start..end) else { return None };
    let klen = usize::from(*klen);
    if klen >= 0x80 || rest.len() < klen {
        return None;
    }
    let key = start + 2..start + 2 + klen;
    // The value message's fields start 2 bytes after the key.
    let at = key.end + 2;
    let value = match &rest[klen..] {
        [] => return Some((key, UsualValue::Absent)),
        [0x12, vlen, v @ ..] if usize::from(*vlen) == v.len() && v.len() < 0x80 && depth > 0 => v,
        _ => return None,
    };
    let value = match value {
        [] => UsualValue::Empty,
        [0x0a, n, _s @ ..] if usize::from(*n) == value.len() - 2 && *n < 0x80 => {
            UsualValue::String(at + 2..at + value.len())
        }
        [0x3a, n, _b @ ..] if usize::from(*n) == value.len() - 2 && *n < 0x80 => {
            UsualValue::Bytes(at + 2..at + value.len())
        }
        [t @ (0x10 | 0x18), x @ ..] => {
            // One or two bytes inline (most ints and every canonical bool);
            // longer varints through the cursor.
            let v = match *x {
                [a] if a < 0x80 => u64::from(a),
                [a, b] if a >= 0x80 && b < 0x80 => u64::from(a & 0x7f) | u64::from(b) << 7,
                _ => {
                    let mut c = super::reader::Cursor::new(x);
                    let v = c.varint(x.len()).ok()?;
                    if c.pos != x.len() {
                        return None;
                    }
                    v
                }
            };
            if *t == 0x10 { UsualValue::Bool(v != 0) } else { UsualValue::Int(v) }
        }
        [0x21, d @ ..] => UsualValue::Double(u64::from_le_bytes(*<&[u8; 8]>::try_from(d).ok()?)),
        _ => return None,
    };
    Some((key, value))
}

/// What the reference checks on an `AnyValue` once its oneof is final,
/// gathered while the occurrences of the value are merged.
#[derive(Default)]
pub(crate) struct PendingValue {
    /// The oneof holds `string_value_strindex`, which the model cannot hold.
    pub(crate) strindex: bool,
    /// The first check that failed inside the array or kvlist the oneof
    /// holds; a later variant discards it with the list, as prost does.
    inner: Option<EncodeError>,
}

impl PendingValue {
    /// Another variant replaced the one held.
    pub(crate) fn replaced(&mut self) {
        self.strindex = false;
        self.inner = None;
    }

    /// A list variant was decoded into the one held.
    pub(crate) fn merged(&mut self, inner: Option<EncodeError>) {
        if self.inner.is_none() {
            self.inner = inner;
        }
    }

    /// Applies the gathered checks to the final value: they fail now, or
    /// wait with the variant the value is inside ([`Deferral`]).
    pub(crate) fn finish(self, defer: &mut Deferral) -> R<()> {
        if self.strindex {
            defer.invalid_when_final(invalid(Field::Value, "string_value_strindex is only valid in profiles"))?;
        }
        match self.inner {
            Some(e) => defer.invalid_when_final(e),
            None => Ok(()),
        }
    }
}

pub(crate) fn trace_id(b: &[u8]) -> R<TraceId> {
    TraceId::from_slice(b).ok_or(invalid(Field::TraceId, "must be 16 bytes"))
}

pub(crate) fn span_id(b: &[u8], field: Field) -> R<SpanId> {
    SpanId::from_slice(b).ok_or(invalid(field, "must be 8 bytes"))
}

pub(crate) fn opt_trace_id(b: &[u8]) -> R<Option<TraceId>> {
    if b.is_empty() { Ok(None) } else { trace_id(b).map(Some) }
}

pub(crate) fn opt_span_id(b: &[u8], field: Field) -> R<Option<SpanId>> {
    if b.is_empty() { Ok(None) } else { span_id(b, field).map(Some) }
}
