//! The cursor over the body: field keys, scalars, length-delimited values,
//! skipping unknown fields, and the field loop every message decodes with.

use std::ops::Range;

use bytes::Bytes;

use super::{EncodeError, R, WireErrorKind, wire};
use crate::encode::{DecodeBudget, Meter};
use crate::model::Str;

/// Most elements reserved ahead of decoding them (see `count_fields`): far
/// above a span's attributes or a request's spans per scope (512 in the
/// fixtures), and about 300 KiB at most for the largest element, a span.
const MAX_RESERVE: usize = 1024;

pub(crate) const VARINT: u8 = 0;
pub(crate) const FIXED64: u8 = 1;
pub(crate) const LEN: u8 = 2;
pub(crate) const START_GROUP: u8 = 3;
pub(crate) const END_GROUP: u8 = 4;
pub(crate) const FIXED32: u8 = 5;

/// A cursor over the body. Every read is bounded by the `end` of the message
/// it is in: prost reads on into the parent and fails on the length check
/// afterwards, so failing at once gives the same answer. It allocates
/// nothing: the [`Decoder`] builds the model on it, and the zero-copy views
/// (`crate::encode::view`) validate and iterate with it.
#[derive(Clone, Copy)]
pub(crate) struct Cursor<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) pos: usize,
}

/// The model's decoder: a [`Cursor`] over the body, the body itself (for the
/// slices strings and `bytes` values share), and the budget meter.
///
/// The only heap memory a decode allocates is the model's vectors: strings
/// and `bytes` values are slices of the body (a reference count each, no
/// copy), and no value is boxed. Every vector grows through [`Decoder::push`]
/// or [`Decoder::reserve`], which charge the `meter` first.
pub(super) struct Decoder<'a> {
    pub(super) cur: Cursor<'a>,
    pub(super) body: &'a Bytes,
    pub(super) meter: Meter,
    /// The checks of the reference waiting inside oneof variants.
    pub(super) defer: Deferral,
}

/// Where a check the reference applies after decoding (a profile-only
/// field, say) waits while the cursor is inside a oneof variant that a later
/// field may still replace (an `AnyValue`'s array or kvlist, a `Metric`'s
/// data): prost's decode drops a replaced variant with what it holds,
/// unchecked. The decoder and the views' validation share it, so both
/// accept the same bodies.
#[derive(Default)]
pub(crate) struct Deferral {
    /// How many such variants hold the cursor.
    oneof_depth: u32,
    /// The first check that failed inside the innermost of them: it counts
    /// only if the variant is final.
    deferred: Option<EncodeError>,
}

impl Deferral {
    /// Fails with `e` unless the cursor is inside a replaceable variant;
    /// there, `e` waits with the variant (the first one only).
    #[cold]
    pub(crate) fn invalid_when_final(&mut self, e: EncodeError) -> R<()> {
        if self.oneof_depth == 0 {
            return Err(e);
        }
        if self.deferred.is_none() {
            self.deferred = Some(e);
        }
        Ok(())
    }

    /// Enters a replaceable variant; returns what the enclosing one holds,
    /// for [`Self::leave`].
    #[inline]
    pub(crate) fn enter(&mut self) -> Option<EncodeError> {
        self.oneof_depth += 1;
        self.deferred.take()
    }

    /// Leaves the variant entered with [`Self::enter`] (given what that
    /// returned) and returns the first check that failed inside it: the
    /// caller keeps it with the variant, drops it if the variant is
    /// replaced, and raises it once it is final.
    #[inline]
    pub(crate) fn leave(&mut self, outer: Option<EncodeError>) -> Option<EncodeError> {
        self.oneof_depth -= 1;
        std::mem::replace(&mut self.deferred, outer)
    }
}

impl<'a> std::ops::Deref for Decoder<'a> {
    type Target = Cursor<'a>;
    #[inline(always)]
    fn deref(&self) -> &Cursor<'a> {
        &self.cur
    }
}

impl std::ops::DerefMut for Decoder<'_> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.cur
    }
}

impl<'a> Decoder<'a> {
    pub(super) fn new(body: &'a Bytes, budget: DecodeBudget) -> Self {
        Decoder { cur: Cursor::new(body), body, meter: Meter::new(budget), defer: Deferral::default() }
    }

    /// Fails with `e`, a check the reference applies after decoding,
    /// unless it must wait for its variant ([`Deferral`]).
    #[inline]
    pub(super) fn invalid_when_final(&mut self, e: EncodeError) -> R<()> {
        self.defer.invalid_when_final(e)
    }

    /// Decodes a oneof variant that a later field may replace with `f`, and
    /// returns the first check of the reference that failed inside it
    /// ([`Deferral::leave`]).
    #[inline]
    pub(super) fn variant(&mut self, f: impl FnOnce(&mut Self) -> R<()>) -> R<Option<EncodeError>> {
        let outer = self.defer.enter();
        let r = f(self);
        let inner = self.defer.leave(outer);
        r.map(|()| inner)
    }

    /// Appends `x` to `v`, charging any growth to the budget first.
    #[inline(always)]
    pub(super) fn push<T>(&mut self, v: &mut Vec<T>, x: T) -> R<()> {
        Ok(self.meter.push(v, x)?)
    }

    /// Reserves room for exactly `additional` more elements of `v`, charged
    /// to the budget first.
    #[inline]
    pub(super) fn reserve<T>(&mut self, v: &mut Vec<T>, additional: usize) -> R<()> {
        Ok(self.meter.reserve(v, additional)?)
    }

    #[inline]
    pub(super) fn string(&mut self, wire_type: u8, end: usize) -> R<Str> {
        let range = self.len_delimited(wire_type, end)?;
        if range.is_empty() {
            return Ok(Str::EMPTY);
        }
        Str::from_utf8(self.body.slice(range)).map_err(|_| wire(WireErrorKind::InvalidString))
    }

    /// A repeated `fixed64` or `double`, packed or not.
    pub(super) fn repeated_fixed64<T>(
        &mut self,
        wire_type: u8,
        end: usize,
        out: &mut Vec<T>,
        f: fn(u64) -> T,
    ) -> R<()> {
        if wire_type == LEN {
            let range = self.len_delimited(LEN, end)?;
            self.pos = range.start;
            self.reserve(out, range.len() / 8)?;
            while self.pos < range.end {
                let x = f(self.fixed64_raw(range.end)?);
                self.push(out, x)?;
            }
        } else {
            let x = f(self.fixed64(wire_type, end)?);
            self.push(out, x)?;
        }
        Ok(())
    }

    /// A repeated `uint64`, packed or not.
    pub(super) fn repeated_uint64(&mut self, wire_type: u8, end: usize, out: &mut Vec<u64>) -> R<()> {
        if wire_type == LEN {
            let range = self.len_delimited(LEN, end)?;
            self.pos = range.start;
            while self.pos < range.end {
                let x = self.varint(range.end)?;
                self.push(out, x)?;
            }
        } else {
            let x = self.uint64(wire_type, end)?;
            self.push(out, x)?;
        }
        Ok(())
    }
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `buf`.
    #[inline]
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    #[inline]
    pub(crate) fn varint(&mut self, end: usize) -> R<u64> {
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
    pub(crate) fn key(&mut self, end: usize) -> R<(u32, u8)> {
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
    pub(crate) fn expect(wire_type: u8, expected: u8) -> R<()> {
        if wire_type == expected { Ok(()) } else { Err(wire(WireErrorKind::UnexpectedWireType)) }
    }

    /// The range of a length-delimited value.
    #[inline]
    pub(crate) fn len_delimited(&mut self, wire_type: u8, end: usize) -> R<Range<usize>> {
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
    pub(crate) fn message(&mut self, wire_type: u8, end: usize, depth: u32) -> R<(usize, u32)> {
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
    pub(crate) fn fixed64(&mut self, wire_type: u8, end: usize) -> R<u64> {
        Self::expect(wire_type, FIXED64)?;
        self.fixed64_raw(end)
    }

    #[inline]
    pub(crate) fn fixed64_raw(&mut self, end: usize) -> R<u64> {
        let b = self.buf[self.pos..end].first_chunk::<8>().ok_or(wire(WireErrorKind::Truncated))?;
        self.pos += 8;
        Ok(u64::from_le_bytes(*b))
    }

    #[inline]
    pub(crate) fn double(&mut self, wire_type: u8, end: usize) -> R<f64> {
        self.fixed64(wire_type, end).map(f64::from_bits)
    }

    #[inline]
    pub(crate) fn fixed32(&mut self, wire_type: u8, end: usize) -> R<u32> {
        Self::expect(wire_type, FIXED32)?;
        let b = self.buf[self.pos..end].first_chunk::<4>().ok_or(wire(WireErrorKind::Truncated))?;
        self.pos += 4;
        Ok(u32::from_le_bytes(*b))
    }

    #[inline]
    pub(crate) fn uint64(&mut self, wire_type: u8, end: usize) -> R<u64> {
        Self::expect(wire_type, VARINT)?;
        self.varint(end)
    }

    /// `uint32`: prost keeps the low 32 bits of the varint.
    #[inline]
    pub(crate) fn uint32(&mut self, wire_type: u8, end: usize) -> R<u32> {
        self.uint64(wire_type, end).map(|v| v as u32)
    }

    /// `int32` and enums: the low 32 bits, as prost reads them.
    #[inline]
    pub(crate) fn int32(&mut self, wire_type: u8, end: usize) -> R<i32> {
        self.uint64(wire_type, end).map(|v| v as i32)
    }

    #[inline]
    pub(crate) fn sint32(&mut self, wire_type: u8, end: usize) -> R<i32> {
        let v = self.uint64(wire_type, end)? as u32;
        Ok(((v >> 1) as i32) ^ -((v & 1) as i32))
    }

    #[inline]
    pub(crate) fn bool(&mut self, wire_type: u8, end: usize) -> R<bool> {
        self.uint64(wire_type, end).map(|v| v != 0)
    }

    #[inline]
    pub(crate) fn bytes(&mut self, wire_type: u8, end: usize) -> R<&'a [u8]> {
        let range = self.len_delimited(wire_type, end)?;
        Ok(&self.buf[range])
    }

    /// Counts the fields numbered `tags` from the cursor to `end`: a
    /// capacity hint for the repeated fields of the message about to be
    /// decoded, so that its vectors are allocated once instead of grown by
    /// doubling. It stops at the first malformed field or group (the decode
    /// proper reports it), and is capped so that a body of many empty,
    /// invalid elements cannot make it allocate far ahead of the decode.
    pub(crate) fn count_fields<const N: usize>(&self, end: usize, tags: [u32; N]) -> [usize; N] {
        let mut counts = [0; N];
        let mut probe = *self;
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
    pub(crate) fn skip(&mut self, wire_type: u8, tag: u32, end: usize, depth: u32) -> R<()> {
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
}

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
pub(crate) use fields;
