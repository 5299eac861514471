//! Zero-copy views over OTLP protobuf request bodies.
//!
//! [`TracesView::new`], [`MetricsView::new`] and [`LogsView::new`] validate a
//! whole `Export*ServiceRequest` body in one pass, with exactly the
//! acceptance rules of the [`decode`](super::decode) module (and so of prost
//! plus the reference conversion): they accept an input if and only if the
//! direct decoder does, and fail with the same error. Validation allocates
//! nothing; it also counts the items (spans, data points, log records) the
//! model would hold, and the bytes its vectors would take (`model_bytes`),
//! so that `new_within` can refuse, under the same [`DecodeBudget`] a
//! decoder takes, a body that is small on the wire but huge once decoded,
//! without building anything.
//!
//! Iteration then hands out views of resources, scopes, spans, data points
//! and log records, with `&str` and `&[u8]` borrowed from the body, again
//! without allocating. What it yields is what the direct decoder would put
//! in the model, including for merged messages: a singular message given
//! more than once reads as the concatenation of its occurrences (which is
//! what protobuf's merge means), and a oneof's message variant as the last
//! run of that variant.
//!
//! The invariant iteration rests on: every view is built from a body that
//! validation accepted, so every read it repeats succeeds. Iteration
//! re-reads fields rather than trusting that blindly: a read that fails
//! anyway ends the iteration (and a string that is not UTF-8 reads as
//! empty), so a broken invariant shows as missing items, never as a panic.
//!
//! Does not own: building the model (the [`decode`](super::decode) module
//! does), decompression and body-size limits.
//!
//! The files: this one holds the field iterators every view reads with;
//! `common` the messages every signal shares; `traces`, `metrics` and `logs`
//! one validator and one view per message.

mod common;
mod logs;
mod metrics;
mod traces;

pub use common::{AnyValueView, KeyValueView, ResourceView, ScopeView};
pub use logs::{LogRecordView, LogsView, ResourceLogsView, ScopeLogsView};
pub use metrics::{
    BucketsView, ExponentialHistogramPointView, HistogramPointView, MetricDataView, MetricView, MetricsView,
    NumberPointView, ResourceMetricsView, ScopeMetricsView,
};
pub use traces::{EventView, LinkView, ResourceSpansView, ScopeSpansView, SpanView, TracesView};

use super::decode::reader::{Cursor, Deferral, FIXED32, FIXED64, LEN, START_GROUP, VARINT};
use super::decode::{R, RECURSION_LIMIT, WireErrorKind, wire};
use super::{DecodeBudget, EncodeError};

/// What validation walks a body with: the decoder's cursor, and the
/// decoder's [`Deferral`] of the checks that wait inside a oneof variant a
/// later field may replace, so that both accept the same bodies.
pub(super) struct Checker<'a> {
    cur: Cursor<'a>,
    defer: Deferral,
    /// The bytes the model's vectors would hold (see [`Checker::holds`]).
    model: usize,
}

impl<'a> std::ops::Deref for Checker<'a> {
    type Target = Cursor<'a>;
    #[inline(always)]
    fn deref(&self) -> &Cursor<'a> {
        &self.cur
    }
}

impl std::ops::DerefMut for Checker<'_> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.cur
    }
}

impl<'a> Checker<'a> {
    fn new(body: &'a [u8]) -> Self {
        Checker { cur: Cursor::new(body), defer: Deferral::default(), model: 0 }
    }

    /// Counts `n` elements of model type `T` that a decode of the body would
    /// put in a vector: the model's size as the views report it
    /// (`model_bytes`), each element of every repeated field at the size of
    /// what it becomes. Strings and bytes are slices of the body and cost
    /// nothing, as in the decoder's meter (`encode/budget.rs`).
    #[inline(always)]
    fn holds<T>(&mut self, n: usize) {
        self.model = self.model.saturating_add(n.saturating_mul(std::mem::size_of::<T>()));
    }

    /// The end of validation: refuses a body whose model would take more
    /// than `budget`.
    fn finish(&self, budget: DecodeBudget) -> R<usize> {
        if self.model > budget.max_bytes() {
            return Err(EncodeError::OverBudget { limit: budget.max_bytes() });
        }
        Ok(self.model)
    }

    /// Validates a oneof variant that a later field may replace with `f`,
    /// and returns the first check of the reference that failed inside it
    /// (as the decoder's `Decoder::variant`).
    #[inline]
    fn variant<T>(&mut self, f: impl FnOnce(&mut Self) -> R<T>) -> R<(T, Option<EncodeError>)> {
        let outer = self.defer.enter();
        let r = f(self);
        let inner = self.defer.leave(outer);
        r.map(|x| (x, inner))
    }
}

/// One field's value, as iteration reads it.
#[derive(Clone, Copy, Debug)]
enum Value<'a> {
    Varint(u64),
    I64(u64),
    I32(u32),
    Len(&'a [u8]),
    /// A group (only ever an unknown field): skipped.
    Group,
}

impl<'a> Value<'a> {
    /// A varint or fixed64 field's bits (0 for other wire types, which
    /// validation has ruled out where this is read).
    #[inline]
    fn u64(self) -> u64 {
        match self {
            Value::Varint(x) | Value::I64(x) => x,
            Value::I32(x) => u64::from(x),
            _ => 0,
        }
    }

    /// `uint32`, `fixed32`: the low 32 bits, as prost keeps them.
    #[inline]
    fn u32(self) -> u32 {
        self.u64() as u32
    }

    /// `int32` and enums: the low 32 bits, as prost reads them.
    #[inline]
    fn i32(self) -> i32 {
        self.u64() as i32
    }

    #[inline]
    fn sint32(self) -> i32 {
        let v = self.u32();
        ((v >> 1) as i32) ^ -((v & 1) as i32)
    }

    #[inline]
    fn f64(self) -> f64 {
        f64::from_bits(self.u64())
    }

    #[inline]
    fn bytes(self) -> &'a [u8] {
        match self {
            Value::Len(b) => b,
            _ => &[],
        }
    }

    /// A string field. Validation checked it is UTF-8; checking again costs
    /// little with the SIMD validator and keeps the crate free of `unsafe`
    /// here. Should the invariant ever break, the string reads as empty.
    #[inline]
    fn str(self) -> &'a str {
        simdutf8::basic::from_utf8(self.bytes()).unwrap_or_default()
    }
}

/// The fields of one message body, in wire order.
#[derive(Clone, Copy)]
struct Fields<'a>(Cursor<'a>);

impl<'a> Fields<'a> {
    #[inline]
    fn new(body: &'a [u8]) -> Self {
        Fields(Cursor::new(body))
    }

    /// The next field, or `None` at the end or on a malformed field (which
    /// validation rules out). Iteration reads every field of every message
    /// it visits, so this is its inner loop: the usual one-byte key and
    /// length are read inline, and a failure is an `Option`, not an error
    /// to build.
    #[inline(always)]
    fn read(&mut self) -> Option<(u32, Value<'a>)> {
        let buf = self.0.buf;
        let key = self.varint()?;
        let tag = u32::try_from(key >> 3).ok()?;
        let v = match (key & 7) as u8 {
            VARINT => Value::Varint(self.varint()?),
            FIXED64 => {
                let b = buf.get(self.0.pos..)?.first_chunk::<8>()?;
                self.0.pos += 8;
                Value::I64(u64::from_le_bytes(*b))
            }
            FIXED32 => {
                let b = buf.get(self.0.pos..)?.first_chunk::<4>()?;
                self.0.pos += 4;
                Value::I32(u32::from_le_bytes(*b))
            }
            LEN => {
                let len = usize::try_from(self.varint()?).ok()?;
                let start = self.0.pos;
                let b = buf.get(start..start.checked_add(len)?)?;
                self.0.pos = start + len;
                Value::Len(b)
            }
            START_GROUP => {
                let end = buf.len();
                self.0.skip(START_GROUP, tag, end, RECURSION_LIMIT).ok()?;
                Value::Group
            }
            _ => return None,
        };
        Some((tag, v))
    }

    /// A varint, the one-byte case inline.
    #[inline(always)]
    fn varint(&mut self) -> Option<u64> {
        let b = *self.0.buf.get(self.0.pos)?;
        if b < 0x80 {
            self.0.pos += 1;
            return Some(u64::from(b));
        }
        self.0.varint(self.0.buf.len()).ok()
    }

    /// As `next`, with the offset the field starts at (its end is then
    /// [`Fields::pos`]).
    #[inline]
    fn next_at(&mut self) -> Option<(usize, u32, Value<'a>)> {
        let at = self.0.pos;
        self.next().map(|(tag, v)| (at, tag, v))
    }

    /// The offset of the next field.
    #[inline]
    fn pos(&self) -> usize {
        self.0.pos
    }
}

/// Where the occurrences of one repeated field lie in a message body: from
/// the first one's key to the end of the last one. A view notes it while it
/// reads the message's scalars, so that iterating the field later reads
/// that stretch only (any other field inside it is skipped, as in the whole
/// body), not every field of the message again.
#[derive(Clone, Copy, Default)]
struct Stretch {
    start: usize,
    end: usize,
}

impl Stretch {
    /// One more occurrence, at `start..end` of the body.
    #[inline]
    fn add(&mut self, start: usize, end: usize) {
        // No field ends at 0: `end == 0` means none was added yet.
        if self.end == 0 {
            self.start = start;
        }
        self.end = end;
    }

    /// The stretch of `body` (empty when the field never occurs).
    #[inline]
    fn of(self, body: &[u8]) -> &[u8] {
        body.get(self.start..self.end).unwrap_or_default()
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = (u32, Value<'a>);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.0.pos >= self.0.buf.len() {
            return None;
        }
        let f = self.read();
        if f.is_none() {
            // Validation rules this out (see the module doc): stop.
            self.0.pos = self.0.buf.len();
        }
        f
    }
}

/// A message as protobuf merges it: a plain body (`depth` 0), or the
/// occurrences of field `tags[0]` of `base` concatenated (depth 1), or the
/// occurrences of field `tags[1]` in those concatenated (depth 2), where the
/// first `skip[i]` occurrences of `tags[i]` are left out.
///
/// Depth 1 is a singular message given more than once (a resource, a
/// scope, a status, a key-value's value, a log body, buckets) or a oneof's
/// message variant, whose last run of occurrences is what the model holds
/// (the skipped ones were replaced by another variant). Depth 2 is a oneof
/// variant inside a merged message: an array or key-value list in a
/// key-value's value or a log body given more than once. No OTLP message
/// goes deeper: the elements of arrays and lists are plain again.
#[derive(Clone, Copy, Debug)]
struct Merged<'a> {
    base: &'a [u8],
    tags: [u32; 2],
    skip: [u32; 2],
    depth: u8,
}

impl<'a> Merged<'a> {
    #[inline]
    fn plain(body: &'a [u8]) -> Self {
        Merged { base: body, tags: [0; 2], skip: [0; 2], depth: 0 }
    }

    /// The occurrences of field `tag` of this message after the first
    /// `skip`, concatenated.
    #[inline]
    fn sub(self, tag: u32, skip: u32) -> Self {
        match self.depth {
            0 => Merged { base: self.base, tags: [tag, 0], skip: [skip, 0], depth: 1 },
            1 => Merged { base: self.base, tags: [self.tags[0], tag], skip: [self.skip[0], skip], depth: 2 },
            // Never built (see the type's doc): an empty message.
            _ => Merged::plain(&[]),
        }
    }

    #[inline]
    fn fields(self) -> MergedFields<'a> {
        MergedFields { levels: [Fields::new(self.base), Fields::new(&[]), Fields::new(&[])], m: self }
    }

    /// The plain bodies of repeated message field `tag`, in order.
    #[inline]
    fn messages(self, tag: u32) -> impl Iterator<Item = &'a [u8]> {
        self.fields().filter_map(move |(t, v)| if t == tag { Some(v.bytes()) } else { None })
    }

    /// The last value of scalar field `tag`, if any.
    fn last(self, tag: u32) -> Option<Value<'a>> {
        self.fields().filter(|(t, _)| *t == tag).last().map(|(_, v)| v)
    }
}

/// The fields of a [`Merged`] message, in wire order.
#[derive(Clone)]
struct MergedFields<'a> {
    /// The body, the current occurrence of `tags[0]`, and of `tags[1]`.
    levels: [Fields<'a>; 3],
    /// Its `skip` counts down as occurrences are left out.
    m: Merged<'a>,
}

impl MergedFields<'_> {
    /// Moves `levels[k]` (k ≥ 1) to the next occurrence it reads; false at
    /// the end.
    fn refill(&mut self, k: usize) -> bool {
        loop {
            match self.levels[k - 1].next() {
                Some((t, Value::Len(b))) if t == self.m.tags[k - 1] => {
                    if self.m.skip[k - 1] > 0 {
                        self.m.skip[k - 1] -= 1;
                        continue;
                    }
                    self.levels[k] = Fields::new(b);
                    return true;
                }
                Some(_) => {}
                None => {
                    if k == 1 || !self.refill(k - 1) {
                        return false;
                    }
                }
            }
        }
    }
}

impl<'a> Iterator for MergedFields<'a> {
    type Item = (u32, Value<'a>);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let d = usize::from(self.m.depth).min(2);
        loop {
            if let Some(f) = self.levels[d].next() {
                return Some(f);
            }
            if d == 0 || !self.refill(d) {
                return None;
            }
        }
    }
}

/// A repeated message field of a message view: a view of each element, in
/// order. `Copy`, and iterated as often as wanted; each iteration re-reads
/// the parent's fields.
pub struct List<'a, T> {
    parent: Merged<'a>,
    tag: u32,
    make: fn(&'a [u8]) -> T,
}

impl<'a, T> List<'a, T> {
    #[inline]
    fn new(parent: Merged<'a>, tag: u32, make: fn(&'a [u8]) -> T) -> Self {
        List { parent, tag, make }
    }

    /// The elements' views.
    #[inline]
    pub fn iter(&self) -> Items<'a, T> {
        Items { fields: self.parent.fields(), tag: self.tag, make: self.make }
    }

    /// True when the field has no element.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

// By hand: derived, they would ask `T: Copy`, and the list is `Copy`
// whatever its elements are.
impl<T> Clone for List<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for List<'_, T> {}

impl<T> std::fmt::Debug for List<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("List").field("tag", &self.tag).finish_non_exhaustive()
    }
}

impl<'a, T> IntoIterator for List<'a, T> {
    type Item = T;
    type IntoIter = Items<'a, T>;
    fn into_iter(self) -> Items<'a, T> {
        self.iter()
    }
}

/// The iterator over a [`List`].
#[derive(Clone)]
pub struct Items<'a, T> {
    fields: MergedFields<'a>,
    tag: u32,
    make: fn(&'a [u8]) -> T,
}

impl<T> Iterator for Items<'_, T> {
    type Item = T;

    #[inline]
    fn next(&mut self) -> Option<T> {
        loop {
            let (t, v) = self.fields.next()?;
            if t == self.tag {
                return Some((self.make)(v.bytes()));
            }
        }
    }
}

/// A repeated `fixed64`/`double` or `uint64` field, packed or not, as its
/// values' bits.
#[derive(Clone)]
pub struct Scalars<'a> {
    fields: MergedFields<'a>,
    tag: u32,
    /// The rest of the packed run being read.
    packed: &'a [u8],
    fixed: bool,
}

impl<'a> Scalars<'a> {
    fn new(parent: Merged<'a>, tag: u32, fixed: bool) -> Self {
        Scalars { fields: parent.fields(), tag, packed: &[], fixed }
    }
}

impl Iterator for Scalars<'_> {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        loop {
            if !self.packed.is_empty() {
                let mut c = Cursor::new(self.packed);
                let end = self.packed.len();
                let x = if self.fixed { c.fixed64_raw(end) } else { c.varint(end) };
                // Validation checked the packed run: a failure ends it.
                self.packed = if x.is_ok() { &self.packed[c.pos..] } else { &[] };
                if let Ok(x) = x {
                    return Some(x);
                }
                continue;
            }
            let (t, v) = self.fields.next()?;
            if t != self.tag {
                continue;
            }
            match v {
                Value::Len(b) => self.packed = b,
                v => return Some(v.u64()),
            }
        }
    }
}

impl Cursor<'_> {
    /// A string field: its bytes must be UTF-8, as the decoder's `Str` is.
    #[inline]
    fn check_string(&mut self, wire_type: u8, end: usize) -> R<()> {
        let range = self.len_delimited(wire_type, end)?;
        if crate::simd::validate_utf8(&self.buf[range]) { Ok(()) } else { Err(wire(WireErrorKind::InvalidString)) }
    }

    /// A repeated `fixed64` or `double`, packed or not: the number of
    /// values.
    fn check_repeated_fixed64(&mut self, wire_type: u8, end: usize) -> R<usize> {
        if wire_type == LEN {
            let range = self.len_delimited(LEN, end)?;
            self.pos = range.start;
            let mut n = 0;
            while self.pos < range.end {
                self.fixed64_raw(range.end)?;
                n += 1;
            }
            Ok(n)
        } else {
            self.fixed64(wire_type, end)?;
            Ok(1)
        }
    }

    /// A repeated `uint64`, packed or not: the number of values.
    fn check_repeated_uint64(&mut self, wire_type: u8, end: usize) -> R<usize> {
        if wire_type == LEN {
            let range = self.len_delimited(LEN, end)?;
            self.pos = range.start;
            let mut n = 0;
            while self.pos < range.end {
                self.varint(range.end)?;
                n += 1;
            }
            Ok(n)
        } else {
            self.uint64(wire_type, end)?;
            Ok(1)
        }
    }
}
