//! OTLP/JSON → model, written once over the [`Reader`] trait so that the
//! simd-json tape ([`super::tape`]) and the serde_json tree ([`super::value`])
//! share every rule and can only differ in how they read JSON.
//!
//! Each message is an [`Reader::object`] call whose closure matches the
//! lowerCamelCase key, reads the value and returns `true`, or returns `false`
//! for an unknown key (then the reader retries the key converted from
//! snake_case and otherwise skips the value). `null` members never reach the
//! closures.

use super::{JsonError, base64};
use crate::model::{
    AnyValue, Event, ExpBuckets, ExponentialHistogramDataPoint, HistogramDataPoint, InstrumentationScope, KeyValue,
    Link, LogRecord, LogsData, Metric, MetricData, MetricsData, NumberDataPoint, NumberValue, Resource, ResourceLogs,
    ResourceMetrics, ResourceSpans, ScopeLogs, ScopeMetrics, ScopeSpans, Severity, Span, SpanId, SpanKind, Status,
    StatusCode, Str, Temporality, TraceId, TracesData,
};

/// A JSON value as the walk sees it: scalars with their contents, containers
/// by kind only (for error messages; [`Reader::scalar`] skips them).
#[derive(Clone, Copy, Debug)]
pub(super) enum Scalar<'s> {
    Str(&'s str),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
    Null,
    Object,
    Array,
}

/// Reads a JSON document front to back; each call consumes one value.
pub(super) trait Reader<'s> {
    /// Consumes the next value.
    fn scalar(&mut self) -> Scalar<'s>;

    /// Consumes an object, calling `f` with each non-null member's key; `f`
    /// consumes the value and returns `true`, or returns `false` untouched for
    /// a key it does not know. Errors get the key prefixed to their path.
    fn object<F>(&mut self, f: F) -> Result<(), JsonError>
    where
        F: FnMut(&mut Self, &str) -> Result<bool, JsonError>;

    /// Consumes an array, calling `f` once per element to consume it.
    fn array<T, F>(&mut self, f: F) -> Result<Vec<T>, JsonError>
    where
        F: FnMut(&mut Self) -> Result<T, JsonError>;

    /// Consumes the next value if it is a string and returns it; `None`,
    /// with nothing consumed, for any other value.
    fn next_str(&mut self) -> Option<&'s str>;

    /// The model string for a string the reader returned.
    fn to_str(&mut self, s: &'s str) -> Str;

    /// [`Reader::to_str`] for the value of `field`, which readers may look up
    /// where they found the field's previous value.
    #[inline]
    fn field_str(&mut self, s: &'s str, field: Field) -> Str {
        let _ = field;
        self.to_str(s)
    }

    /// Reads a `KeyValue` straight away if it has the canonical shape
    /// (`{"key":…,"value":{"<type>Value":<scalar>}}`, which is what exporters
    /// write); `None`, with nothing consumed, sends it down the general walk.
    #[inline]
    fn key_value_fast(&mut self) -> Option<KeyValue> {
        None
    }

    /// Reads a list of attributes (`KeyValue`s); readers may override it with
    /// a tighter loop than [`Reader::array`] over [`key_value`].
    #[inline]
    fn attributes(&mut self) -> Result<Vec<KeyValue>, JsonError>
    where
        Self: Sized,
    {
        self.array(key_value)
    }
}

/// String fields whose values tend to repeat from one message to the next
/// (see [`Reader::field_str`]).
#[derive(Clone, Copy)]
pub(super) enum Field {
    SpanName,
    EventName,
    StatusMessage,
    MetricName,
    MetricDescription,
    MetricUnit,
    SeverityText,
    LogEventName,
}

/// How many [`Field`]s there are.
pub(super) const FIELDS: usize = 8;

/// Bounds of [`StrCache`]'s slot count, which grows with the input (one slot
/// per 512 bytes): small requests set up a small table, and a 512-span batch
/// gets 1024 slots, sparse enough that its few dozen recurring strings seldom
/// collide.
const MIN_SLOTS: usize = 64;
const MAX_SLOTS: usize = 1024;

/// Strings up to this length that are not cached are packed into shared
/// chunks of [`CHUNK`] bytes instead of an allocation each.
const ARENA_MAX_STR: usize = 256;
/// 8 KiB: a dozen log bodies or a hundred URLs per allocation, and little
/// memory held if one string outlives the rest of its chunk.
const CHUNK: usize = 8 << 10;

/// Turns the strings of one document into model strings, sharing repeats.
///
/// OTLP batches repeat most of their strings (attribute keys, span names,
/// enum-like values), so a direct-mapped cache hands out a reference-counted
/// clone of an earlier copy instead of a new allocation. A string is cached
/// only the second time its slot sees it, so that one-off strings (URLs, log
/// bodies) do not evict the recurring ones; those are copied into shared
/// chunks (reference-counted slices), not allocated one by one.
pub(super) struct StrCache {
    slots: Box<[Slot]>,
    /// `64 - log2(slots)`: the shift that turns a hash into a slot.
    shift: u32,
    chunk: bytes::BytesMut,
}

/// One entry of [`StrCache`]: the cached string, and the hash of the last
/// string that missed here (cached if it comes again).
struct Slot {
    str: Str,
    seen: u64,
}

impl StrCache {
    /// A cache sized for an input of `input_len` bytes.
    pub(super) fn new(input_len: usize) -> Self {
        let slots = (input_len / 512).clamp(MIN_SLOTS, MAX_SLOTS).next_power_of_two();
        StrCache {
            // Built rather than cloned from one slot: no `Bytes` clone calls.
            slots: (0..slots).map(|_| Slot { str: Str::EMPTY, seen: 0 }).collect(),
            shift: 64 - slots.trailing_zeros(),
            chunk: bytes::BytesMut::new(),
        }
    }

    /// The model string for `s`.
    #[inline]
    pub(super) fn get(&mut self, s: &str) -> Str {
        let b = s.as_bytes();
        if b.is_empty() {
            return Str::EMPTY;
        }
        let h = str_hash(b);
        // The top bits of the multiplicative hash are the well-mixed ones.
        let i = (h >> self.shift) as usize;
        if let Some(slot) = self.slots.get(i)
            && same_bytes(slot.str.as_bytes(), b)
        {
            return slot.str.clone();
        }
        self.miss(s, h, i)
    }

    /// [`StrCache::get`] that first tries slot `*hint`, where the caller
    /// found the string at the same place of the previous message, which
    /// saves the hashing: batches repeat their attribute lists key for key.
    /// A miss takes the usual way and leaves the string's slot in `*hint`.
    #[inline]
    pub(super) fn get_hinted(&mut self, s: &str, hint: &mut u16) -> Str {
        if let Some(slot) = self.slots.get(usize::from(*hint))
            && same_bytes(slot.str.as_bytes(), s.as_bytes())
        {
            return slot.str.clone();
        }
        self.get_and_hint(s, hint)
    }

    #[inline(never)]
    fn get_and_hint(&mut self, s: &str, hint: &mut u16) -> Str {
        let b = s.as_bytes();
        if b.is_empty() {
            return Str::EMPTY;
        }
        let h = str_hash(b);
        let i = (h >> self.shift) as usize;
        // Slots number at most `MAX_SLOTS`, which fits.
        *hint = i as u16;
        if let Some(slot) = self.slots.get(i)
            && same_bytes(slot.str.as_bytes(), b)
        {
            return slot.str.clone();
        }
        self.miss(s, h, i)
    }

    /// A string not in its slot: cached if its slot saw it last time, else
    /// handed out as a one-off.
    #[inline(never)]
    fn miss(&mut self, s: &str, h: u64, i: usize) -> Str {
        let Some(slot) = self.slots.get_mut(i) else {
            return Str::copy_from(s);
        };
        if slot.seen == h {
            let copy = self.copy(s);
            if let Some(slot) = self.slots.get_mut(i) {
                slot.str = copy.clone();
            }
            return copy;
        }
        slot.seen = h;
        self.copy(s)
    }

    /// A copy of `s`: a slice of the current chunk, unless it is long. Cached
    /// strings are slices too, which also makes their clones a little
    /// cheaper (`Bytes`' shared representation).
    #[inline]
    fn copy(&mut self, s: &str) -> Str {
        if s.len() > ARENA_MAX_STR {
            return Str::copy_from(s);
        }
        if self.chunk.capacity() - self.chunk.len() < s.len() {
            self.chunk = bytes::BytesMut::with_capacity(CHUNK);
        }
        Str::copy_into(&mut self.chunk, s)
    }
}

/// A cheap hash of the length and the first and last (up to) 8 bytes: enough
/// to tell apart the strings of one batch, which mostly differ at an end.
#[inline]
fn str_hash(b: &[u8]) -> u64 {
    let n = b.len();
    let (head, tail) = if n >= 8 {
        (le64(&b[..8]), le64(&b[n - 8..]))
    } else if n >= 4 {
        (u64::from(le32(&b[..4])), u64::from(le32(&b[n - 4..])))
    } else {
        (u64::from(b[0]) | u64::from(b[n / 2]) << 8 | u64::from(b[n - 1]) << 16, 0)
    };
    (head ^ tail.rotate_left(29) ^ n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1
}

/// `a == b`, without a `memcmp` call: 8-byte words, the last one
/// overlapping, or for shorter strings two 4-byte words or single bytes.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n >= 8 {
        // The ends first: they settle strings of up to 16 bytes.
        if le64(&a[..8]) != le64(&b[..8]) || le64(&a[n - 8..]) != le64(&b[n - 8..]) {
            return false;
        }
        let mut i = 8;
        while i + 8 < n {
            if le64(&a[i..i + 8]) != le64(&b[i..i + 8]) {
                return false;
            }
            i += 8;
        }
        return true;
    }
    if n >= 4 {
        return le32(&a[..4]) == le32(&b[..4]) && le32(&a[n - 4..]) == le32(&b[n - 4..]);
    }
    // 1 to 3 bytes: the first, middle and last cover them all.
    n == 0 || (a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1])
}

#[inline]
fn le64(b: &[u8]) -> u64 {
    u64::from_le_bytes(b.try_into().expect("8 bytes"))
}

#[inline]
fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes(b.try_into().expect("4 bytes"))
}

/// The name under which the readers offer a key to a message's closure: the
/// key itself, then, if the closure did not know it, its lowerCamelCase form
/// when it is snake_case (`trace_id` → `traceId`, as protobuf's JSON parsers
/// accept). Owned rather than borrowed so that the closure has a single call
/// site in a loop and inlines; allocates only on that rare retry.
pub(super) struct RetryKey {
    camel: Option<Box<str>>,
}

impl RetryKey {
    #[inline]
    pub(super) fn new() -> Self {
        RetryKey { camel: None }
    }

    #[inline]
    pub(super) fn name<'a>(&'a self, key: &'a str) -> &'a str {
        self.camel.as_deref().unwrap_or(key)
    }

    /// Switches to the camelCase form; false when there is none to try.
    #[cold]
    pub(super) fn next(&mut self, key: &str) -> bool {
        if self.camel.is_some() || !key.contains('_') {
            return false;
        }
        let mut camel = String::with_capacity(key.len());
        let mut upper = false;
        for c in key.chars() {
            if c == '_' {
                upper = true;
            } else {
                camel.push(if upper { c.to_ascii_uppercase() } else { c });
                upper = false;
            }
        }
        self.camel = Some(camel.into());
        true
    }
}

/// Writes the lowerCamelCase form of a snake_case `key` into `out` (see
/// [`RetryKey`]); false, with `out` untouched, when `key` has no `_`.
#[cold]
#[inline(never)]
pub(super) fn camel_case(key: &str, out: &mut String) -> bool {
    let mut retry = RetryKey::new();
    if !retry.next(key) {
        return false;
    }
    out.clear();
    out.push_str(retry.name(key));
    true
}

/// A short description of a value for error messages.
#[cold]
pub(super) fn describe(v: Scalar<'_>) -> String {
    match v {
        Scalar::Str(s) => match s.char_indices().nth(40) {
            Some((cut, _)) => format!("the string {:?}…", &s[..cut]),
            None => format!("the string {s:?}"),
        },
        Scalar::I64(n) => format!("the number {n}"),
        Scalar::U64(n) => format!("the number {n}"),
        Scalar::F64(n) => format!("the number {n}"),
        Scalar::Bool(b) => format!("{b}"),
        Scalar::Null => "null".into(),
        Scalar::Object => "an object".into(),
        Scalar::Array => "an array".into(),
    }
}

#[cold]
pub(super) fn expected(what: &'static str, found: Scalar<'_>) -> JsonError {
    JsonError::new(what, describe(found))
}

// ---------------------------------------------------------------- scalars

#[inline]
fn string<'s, R: Reader<'s>>(r: &mut R) -> Result<Str, JsonError> {
    match r.scalar() {
        Scalar::Str(s) => Ok(r.to_str(s)),
        v => Err(expected("a string", v)),
    }
}

/// [`string`] for the value of a [`Field`].
#[inline]
fn field_string<'s, R: Reader<'s>>(r: &mut R, field: Field) -> Result<Str, JsonError> {
    match r.scalar() {
        Scalar::Str(s) => Ok(r.field_str(s, field)),
        v => Err(expected("a string", v)),
    }
}

#[inline]
fn boolean<'s, R: Reader<'s>>(r: &mut R) -> Result<bool, JsonError> {
    match r.scalar() {
        Scalar::Bool(b) => Ok(b),
        v => Err(expected("true or false", v)),
    }
}

/// An integer in any form protobuf's JSON mapping allows: a number (also
/// `1e3` or `5.0` when integral) or a string holding one. Widened to i128 so
/// that one range check serves every integer type.
#[inline]
fn integer<'s, R: Reader<'s>>(r: &mut R, what: &'static str) -> Result<i128, JsonError> {
    integer_of(r.scalar(), what)
}

/// [`integer`] for a value already read.
#[inline]
fn integer_of(v: Scalar<'_>, what: &'static str) -> Result<i128, JsonError> {
    let n = match v {
        Scalar::I64(n) => Some(i128::from(n)),
        Scalar::U64(n) => Some(i128::from(n)),
        Scalar::F64(f) => integral(f),
        Scalar::Str(s) => parse_integer(s),
        _ => None,
    };
    n.ok_or_else(|| expected(what, v))
}

/// A decimal string as an `i64`, for the readers' fast paths.
#[inline]
pub(super) fn parse_i64(s: &str) -> Option<i64> {
    match signed_digits(s) {
        Some(n) => Some(n),
        None => parse_integer_slow(s).and_then(|n| i64::try_from(n).ok()),
    }
}

/// Up to 19 decimal digits (which cannot overflow a u64) and nothing else,
/// the form every exporter writes; `None` for anything else, which the
/// callers then send down the general path. Eight digits at a time from the
/// eighth on.
#[inline(always)]
fn digits(b: &[u8]) -> Option<u64> {
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    let n = b.len();
    if n < 8 {
        if n == 0 {
            return None;
        }
        let mut v = 0u64;
        for &c in b {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            v = v * 10 + u64::from(d);
        }
        return Some(v);
    }
    // The leading `k` digits, moved to the top of a word whose low bytes are
    // then `'0'`s, make the first group of eight (`k` is 1 to 8, whatever
    // the whole groups of eight that follow leave). No loop: 8 to 19 digits
    // are one, two or three groups.
    let head = |k: usize| {
        let shift = 8 * (8 - k) as u32;
        eight_digits(le64(&b[..8]) << shift | ZEROS & ((1 << shift) - 1))
    };
    match n {
        8 => eight_digits(le64(b)),
        9..=16 => {
            let hi = head(n - 8)?;
            Some(hi * 100_000_000 + eight_digits(le64(&b[n - 8..]))?)
        }
        17..=19 => {
            let hi = head(n - 16)?;
            let mid = eight_digits(le64(&b[n - 16..n - 8]))?;
            let lo = eight_digits(le64(&b[n - 8..]))?;
            Some((hi * 100_000_000 + mid) * 100_000_000 + lo)
        }
        _ => None,
    }
}

/// [`digits`] with an optional `-`, within the range of an `i64`.
#[inline]
fn signed_digits(s: &str) -> Option<i64> {
    match s.as_bytes() {
        [b'-', rest @ ..] => digits(rest).and_then(|n| i64::try_from(n).ok()).map(|n| -n),
        b => digits(b).and_then(|n| i64::try_from(n).ok()),
    }
}

/// Decimal digits with an optional `-` the fast way; longer or other forms
/// (exponents, fractions of zero, 20 digits and more) take the slow path.
#[inline]
fn parse_integer(s: &str) -> Option<i128> {
    let (neg, rest) = match s.as_bytes() {
        [b'-', rest @ ..] => (true, rest),
        rest => (false, rest),
    };
    match digits(rest) {
        Some(n) => {
            let n = i128::from(n);
            Some(if neg { -n } else { n })
        }
        None => parse_integer_slow(s),
    }
}

/// The value of eight ASCII digits loaded little-endian, or `None` if one is
/// not a digit (the SWAR method of simdjson's `parse_eight_digits_unrolled`).
#[inline]
fn eight_digits(v: u64) -> Option<u64> {
    const HIGH_NIBBLES: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    let all_digits = (v & HIGH_NIBBLES) | ((v.wrapping_add(0x0606_0606_0606_0606) & HIGH_NIBBLES) >> 4);
    if all_digits != 0x3333_3333_3333_3333 {
        return None;
    }
    let v = ((v & 0x0F0F_0F0F_0F0F_0F0F).wrapping_mul(2561)) >> 8;
    let v = ((v & 0x00FF_00FF_00FF_00FF).wrapping_mul(6_553_601)) >> 16;
    Some(((v & 0x0000_FFFF_0000_FFFF).wrapping_mul(42_949_672_960_001)) >> 32)
}

#[cold]
fn parse_integer_slow(s: &str) -> Option<i128> {
    if let Ok(n) = s.parse::<i128>() {
        return Some(n);
    }
    if !looks_numeric(s) {
        return None;
    }
    integral(s.parse::<f64>().ok()?)
}

/// Only what a JSON number may contain, so that Rust's float parser does not
/// accept "inf", "nan" or "infinity" on the way.
fn looks_numeric(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
}

/// An integral double below 2^64 in magnitude (then the cast is exact).
fn integral(f: f64) -> Option<i128> {
    const LIMIT: f64 = 18_446_744_073_709_551_616.0; // 2^64
    (f.fract() == 0.0 && f.abs() < LIMIT).then_some(f as i128)
}

/// 64-bit integers are decimal strings in OTLP/JSON: those, and small
/// numbers, skip the general (i128) path.
#[inline]
fn fixed64<'s, R: Reader<'s>>(r: &mut R) -> Result<u64, JsonError> {
    if let Some(s) = r.next_str() {
        return match digits(s.as_bytes()) {
            Some(n) => Ok(n),
            None => fixed64_of(Scalar::Str(s)),
        };
    }
    let v = r.scalar();
    match v {
        Scalar::U64(n) => return Ok(n),
        Scalar::I64(n) if n >= 0 => return Ok(n as u64),
        _ => {}
    }
    fixed64_of(v)
}

#[cold]
#[inline(never)]
fn fixed64_of(v: Scalar<'_>) -> Result<u64, JsonError> {
    const WHAT: &str = "an unsigned 64-bit integer (a decimal string or a number)";
    let n = integer_of(v, WHAT)?;
    u64::try_from(n).map_err(|_| JsonError::new(WHAT, format!("{n}, out of range")))
}

#[inline]
fn int64<'s, R: Reader<'s>>(r: &mut R) -> Result<i64, JsonError> {
    let v = r.scalar();
    match v {
        Scalar::Str(s) => {
            if let Some(n) = signed_digits(s) {
                return Ok(n);
            }
        }
        Scalar::I64(n) => return Ok(n),
        Scalar::U64(n) => {
            if let Ok(n) = i64::try_from(n) {
                return Ok(n);
            }
        }
        _ => {}
    }
    int64_of(v)
}

#[cold]
#[inline(never)]
fn int64_of(v: Scalar<'_>) -> Result<i64, JsonError> {
    const WHAT: &str = "a signed 64-bit integer (a decimal string or a number)";
    let n = integer_of(v, WHAT)?;
    i64::try_from(n).map_err(|_| JsonError::new(WHAT, format!("{n}, out of range")))
}

#[inline]
fn uint32<'s, R: Reader<'s>>(r: &mut R) -> Result<u32, JsonError> {
    let v = r.scalar();
    // simd-json reads non-negative integers as `U64`.
    if let Scalar::U64(n) = v
        && let Ok(n) = u32::try_from(n)
    {
        return Ok(n);
    }
    uint32_of(v)
}

#[cold]
#[inline(never)]
fn uint32_of(v: Scalar<'_>) -> Result<u32, JsonError> {
    const WHAT: &str = "an unsigned 32-bit integer";
    let n = integer_of(v, WHAT)?;
    u32::try_from(n).map_err(|_| JsonError::new(WHAT, format!("{n}, out of range")))
}

#[inline]
fn int32<'s, R: Reader<'s>>(r: &mut R) -> Result<i32, JsonError> {
    const WHAT: &str = "a signed 32-bit integer";
    let n = integer(r, WHAT)?;
    i32::try_from(n).map_err(|_| JsonError::new(WHAT, format!("{n}, out of range")))
}

/// A number, or one of the strings `"NaN"`, `"Infinity"`, `"-Infinity"`, or a
/// string holding a number.
fn double<'s, R: Reader<'s>>(r: &mut R) -> Result<f64, JsonError> {
    let v = r.scalar();
    match v {
        Scalar::F64(f) => Ok(f),
        Scalar::I64(n) => Ok(n as f64),
        Scalar::U64(n) => Ok(n as f64),
        Scalar::Str("NaN") => Ok(f64::NAN),
        Scalar::Str("Infinity") => Ok(f64::INFINITY),
        Scalar::Str("-Infinity") => Ok(f64::NEG_INFINITY),
        Scalar::Str(s) if looks_numeric(s) => s.parse().map_err(|_| expected("a double", v)),
        _ => Err(expected("a double (a number, \"NaN\", \"Infinity\" or \"-Infinity\")", v)),
    }
}

/// An enum: its number, or its name looked up with `by_name`.
fn enumeration<'s, R: Reader<'s>>(
    r: &mut R,
    what: &'static str,
    by_name: fn(&str) -> Option<i32>,
) -> Result<i32, JsonError> {
    let v = r.scalar();
    if let Scalar::U64(n) = v
        && let Ok(n) = i32::try_from(n)
    {
        return Ok(n);
    }
    enumeration_of(v, what, by_name)
}

#[cold]
#[inline(never)]
fn enumeration_of(v: Scalar<'_>, what: &'static str, by_name: fn(&str) -> Option<i32>) -> Result<i32, JsonError> {
    let n = match v {
        Scalar::Str(s) => by_name(s).map(i128::from),
        Scalar::I64(n) => Some(i128::from(n)),
        Scalar::U64(n) => Some(i128::from(n)),
        Scalar::F64(f) => integral(f),
        _ => None,
    };
    n.and_then(|n| i32::try_from(n).ok()).ok_or_else(|| expected(what, v))
}

fn trace_id<'s, R: Reader<'s>>(r: &mut R) -> Result<TraceId, JsonError> {
    const WHAT: &str = "a trace id of 32 hex digits";
    match r.next_str() {
        Some(s) => crate::simd::hex_decode::<16>(s.as_bytes()).map(TraceId).ok_or_else(|| invalid_id(WHAT, s)),
        None => Err(expected(WHAT, r.scalar())),
    }
}

fn span_id<'s, R: Reader<'s>>(r: &mut R) -> Result<SpanId, JsonError> {
    const WHAT: &str = "a span id of 16 hex digits";
    match r.next_str() {
        Some(s) => crate::simd::hex_decode::<8>(s.as_bytes()).map(SpanId).ok_or_else(|| invalid_id(WHAT, s)),
        None => Err(expected(WHAT, r.scalar())),
    }
}

/// An optional id: `""` (empty bytes) is absent, as in protobuf.
fn opt_trace_id<'s, R: Reader<'s>>(r: &mut R) -> Result<Option<TraceId>, JsonError> {
    const WHAT: &str = "a trace id of 32 hex digits or \"\"";
    match r.next_str() {
        Some("") => Ok(None),
        Some(s) => {
            crate::simd::hex_decode::<16>(s.as_bytes()).map(|b| Some(TraceId(b))).ok_or_else(|| invalid_id(WHAT, s))
        }
        None => Err(expected(WHAT, r.scalar())),
    }
}

fn opt_span_id<'s, R: Reader<'s>>(r: &mut R) -> Result<Option<SpanId>, JsonError> {
    const WHAT: &str = "a span id of 16 hex digits or \"\"";
    match r.next_str() {
        Some("") => Ok(None),
        Some(s) => {
            crate::simd::hex_decode::<8>(s.as_bytes()).map(|b| Some(SpanId(b))).ok_or_else(|| invalid_id(WHAT, s))
        }
        None => Err(expected(WHAT, r.scalar())),
    }
}

#[cold]
fn invalid_id(what: &'static str, s: &str) -> JsonError {
    expected(what, Scalar::Str(s))
}

#[cold]
fn missing(key: &str, what: &'static str) -> JsonError {
    JsonError::new(what, "nothing (the field is required)".into()).at_key(key)
}

fn bytes<'s, R: Reader<'s>>(r: &mut R) -> Result<bytes::Bytes, JsonError> {
    const WHAT: &str = "base64 bytes";
    match r.scalar() {
        Scalar::Str(s) => {
            base64::decode(s.as_bytes()).map(bytes::Bytes::from).ok_or_else(|| expected(WHAT, Scalar::Str(s)))
        }
        v => Err(expected(WHAT, v)),
    }
}

// ---------------------------------------------------------------- enums by name

fn span_kind_name(s: &str) -> Option<i32> {
    Some(match s.strip_prefix("SPAN_KIND_")? {
        "UNSPECIFIED" => 0,
        "INTERNAL" => 1,
        "SERVER" => 2,
        "CLIENT" => 3,
        "PRODUCER" => 4,
        "CONSUMER" => 5,
        _ => return None,
    })
}

fn status_code_name(s: &str) -> Option<i32> {
    Some(match s.strip_prefix("STATUS_CODE_")? {
        "UNSET" => 0,
        "OK" => 1,
        "ERROR" => 2,
        _ => return None,
    })
}

fn temporality_name(s: &str) -> Option<i32> {
    Some(match s.strip_prefix("AGGREGATION_TEMPORALITY_")? {
        "UNSPECIFIED" => 0,
        "DELTA" => 1,
        "CUMULATIVE" => 2,
        _ => return None,
    })
}

/// `SEVERITY_NUMBER_INFO` is 9, `SEVERITY_NUMBER_INFO2`..`4` are 10..12.
fn severity_name(s: &str) -> Option<i32> {
    let s = s.strip_prefix("SEVERITY_NUMBER_")?;
    if s == "UNSPECIFIED" {
        return Some(0);
    }
    let (base, step) = match s.as_bytes() {
        [.., d @ b'2'..=b'4'] => (&s[..s.len() - 1], i32::from(d - b'1')),
        _ => (s, 0),
    };
    let first = match base {
        "TRACE" => 1,
        "DEBUG" => 5,
        "INFO" => 9,
        "WARN" => 13,
        "ERROR" => 17,
        "FATAL" => 21,
        _ => return None,
    };
    Some(first + step)
}

// ---------------------------------------------------------------- common messages

/// Members are collected in `Option`s and assembled at the end: assigning
/// over a default model value would call its drop glue for every field.
fn any_value<'s, R: Reader<'s>>(r: &mut R) -> Result<AnyValue, JsonError> {
    let mut value = None;
    r.object(|r, key| {
        let v = match key {
            "stringValue" => AnyValue::String(string(r)?),
            "intValue" => AnyValue::Int(int64(r)?),
            "boolValue" => AnyValue::Bool(boolean(r)?),
            "doubleValue" => AnyValue::Double(double(r)?),
            "bytesValue" => AnyValue::Bytes(bytes(r)?),
            "arrayValue" => AnyValue::Array(values(r, any_value)?),
            "kvlistValue" => AnyValue::KvList(values(r, key_value)?),
            "stringValueStrindex" => {
                return Err(JsonError::new("a value (string table indexes are only valid in profiles)", "one".into()));
            }
            _ => return Ok(false),
        };
        if value.is_some() {
            return Err(JsonError::new("one value per AnyValue", "a second one".into()));
        }
        value = Some(v);
        Ok(true)
    })?;
    Ok(value.unwrap_or_default())
}

/// `ArrayValue` and `KeyValueList`: an object whose `values` holds the list.
fn values<'s, R: Reader<'s>, T>(
    r: &mut R,
    mut element: impl FnMut(&mut R) -> Result<T, JsonError>,
) -> Result<Vec<T>, JsonError> {
    let mut out = Vec::new();
    r.object(|r, key| {
        match key {
            "values" => out = r.array(&mut element)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(out)
}

fn key_value<'s, R: Reader<'s>>(r: &mut R) -> Result<KeyValue, JsonError> {
    if let Some(kv) = r.key_value_fast() {
        return Ok(kv);
    }
    key_value_general(r)
}

/// A `KeyValue` of any shape: members in any order, values of any type.
pub(super) fn key_value_general<'s, R: Reader<'s>>(r: &mut R) -> Result<KeyValue, JsonError> {
    let (mut k, mut v) = (None, None);
    r.object(|r, key| {
        match key {
            "key" => k = Some(string(r)?),
            "value" => v = Some(any_value(r)?),
            "keyStrindex" => {
                if int32(r)? != 0 {
                    return Err(JsonError::new(
                        "a key (string table indexes are only valid in profiles)",
                        "one".into(),
                    ));
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(KeyValue { key: k.unwrap_or_default(), value: v.unwrap_or_default() })
}

fn attributes<'s, R: Reader<'s>>(r: &mut R) -> Result<Vec<KeyValue>, JsonError> {
    r.attributes()
}

fn resource<'s, R: Reader<'s>>(r: &mut R) -> Result<Resource, JsonError> {
    let mut res = Resource::default();
    r.object(|r, key| {
        match key {
            "attributes" => res.attributes = attributes(r)?,
            "droppedAttributesCount" => res.dropped_attributes_count = uint32(r)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(res)
}

fn scope<'s, R: Reader<'s>>(r: &mut R) -> Result<InstrumentationScope, JsonError> {
    let mut sc = InstrumentationScope::default();
    r.object(|r, key| {
        match key {
            "name" => sc.name = string(r)?,
            "version" => sc.version = string(r)?,
            "attributes" => sc.attributes = attributes(r)?,
            "droppedAttributesCount" => sc.dropped_attributes_count = uint32(r)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(sc)
}

// ---------------------------------------------------------------- traces

pub(super) fn traces<'s, R: Reader<'s>>(r: &mut R) -> Result<TracesData, JsonError> {
    let mut d = TracesData::default();
    r.object(|r, key| {
        match key {
            "resourceSpans" => d.resource_spans = r.array(resource_spans)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(d)
}

fn resource_spans<'s, R: Reader<'s>>(r: &mut R) -> Result<ResourceSpans, JsonError> {
    let mut rs = ResourceSpans::default();
    r.object(|r, key| {
        match key {
            "resource" => rs.resource = resource(r)?,
            "scopeSpans" => rs.scope_spans = r.array(scope_spans)?,
            "schemaUrl" => rs.schema_url = string(r)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(rs)
}

fn scope_spans<'s, R: Reader<'s>>(r: &mut R) -> Result<ScopeSpans, JsonError> {
    let mut ss = ScopeSpans::default();
    r.object(|r, key| {
        match key {
            "scope" => ss.scope = scope(r)?,
            "spans" => ss.spans = r.array(span)?,
            "schemaUrl" => ss.schema_url = string(r)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(ss)
}

const HAVE_TRACE_ID: u8 = 1;
const HAVE_SPAN_ID: u8 = 2;

/// Members with drop glue are collected in `Option`s and moved into the
/// span at the end: assigning over a default span's members would drop each
/// of the defaults first.
fn span<'s, R: Reader<'s>>(r: &mut R) -> Result<Span, JsonError> {
    let (mut trace, mut span, mut parent_span_id) = (None, None, None);
    let (mut flags, mut kind, mut start_time_unix_nano, mut end_time_unix_nano) = (0, SpanKind::default(), 0, 0);
    let (mut name, mut trace_state, mut attrs, mut events, mut links, mut st) = (None, None, None, None, None, None);
    let (mut dropped_attributes_count, mut dropped_events_count, mut dropped_links_count) = (0, 0, 0);
    r.object(|r, key| {
        match key {
            "traceId" => trace = Some(trace_id(r)?),
            "spanId" => span = Some(span_id(r)?),
            "parentSpanId" => parent_span_id = opt_span_id(r)?,
            "flags" => flags = uint32(r)?,
            "name" => name = Some(field_string(r, Field::SpanName)?),
            "kind" => kind = SpanKind::from_i32(enumeration(r, "a span kind", span_kind_name)?),
            "startTimeUnixNano" => start_time_unix_nano = fixed64(r)?,
            "endTimeUnixNano" => end_time_unix_nano = fixed64(r)?,
            "attributes" => attrs = Some(attributes(r)?),
            "events" => events = Some(r.array(event)?),
            "status" => st = Some(status(r)?),
            "traceState" => trace_state = Some(string(r)?),
            "droppedAttributesCount" => dropped_attributes_count = uint32(r)?,
            "droppedEventsCount" => dropped_events_count = uint32(r)?,
            "links" => links = Some(r.array(link)?),
            "droppedLinksCount" => dropped_links_count = uint32(r)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    // Required, as in `required_ids`.
    let Some(trace_id) = trace else {
        return Err(missing("traceId", "a trace id of 32 hex digits"));
    };
    let Some(span_id) = span else {
        return Err(missing("spanId", "a span id of 16 hex digits"));
    };
    Ok(Span {
        trace_id,
        span_id,
        trace_state: trace_state.unwrap_or_default(),
        parent_span_id,
        flags,
        name: name.unwrap_or_default(),
        kind,
        start_time_unix_nano,
        end_time_unix_nano,
        attributes: attrs.unwrap_or_default(),
        dropped_attributes_count,
        events: events.unwrap_or_default(),
        dropped_events_count,
        links: links.unwrap_or_default(),
        dropped_links_count,
        status: st.unwrap_or_default(),
    })
}

/// Trace and span ids are required (empty bytes are invalid), as in the
/// protobuf decoder.
fn required_ids(have: u8) -> Result<(), JsonError> {
    if have & HAVE_TRACE_ID == 0 {
        return Err(missing("traceId", "a trace id of 32 hex digits"));
    }
    if have & HAVE_SPAN_ID == 0 {
        return Err(missing("spanId", "a span id of 16 hex digits"));
    }
    Ok(())
}

/// Built like [`span`].
fn event<'s, R: Reader<'s>>(r: &mut R) -> Result<Event, JsonError> {
    let (mut time_unix_nano, mut name, mut attrs, mut dropped_attributes_count) = (0, None, None, 0);
    r.object(|r, key| {
        match key {
            "timeUnixNano" => time_unix_nano = fixed64(r)?,
            "name" => name = Some(field_string(r, Field::EventName)?),
            "attributes" => attrs = Some(attributes(r)?),
            "droppedAttributesCount" => dropped_attributes_count = uint32(r)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(Event {
        time_unix_nano,
        name: name.unwrap_or_default(),
        attributes: attrs.unwrap_or_default(),
        dropped_attributes_count,
    })
}

fn link<'s, R: Reader<'s>>(r: &mut R) -> Result<Link, JsonError> {
    let mut l = Link::default();
    let mut have = 0u8;
    r.object(|r, key| {
        match key {
            "traceId" => {
                l.trace_id = trace_id(r)?;
                have |= HAVE_TRACE_ID;
            }
            "spanId" => {
                l.span_id = span_id(r)?;
                have |= HAVE_SPAN_ID;
            }
            "traceState" => l.trace_state = string(r)?,
            "attributes" => l.attributes = attributes(r)?,
            "droppedAttributesCount" => l.dropped_attributes_count = uint32(r)?,
            "flags" => l.flags = uint32(r)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    required_ids(have)?;
    Ok(l)
}

fn status<'s, R: Reader<'s>>(r: &mut R) -> Result<Status, JsonError> {
    let mut st = Status::default();
    r.object(|r, key| {
        match key {
            "code" => st.code = StatusCode::from_i32(enumeration(r, "a status code", status_code_name)?),
            "message" => st.message = field_string(r, Field::StatusMessage)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(st)
}

// ---------------------------------------------------------------- metrics

pub(super) fn metrics<'s, R: Reader<'s>>(r: &mut R) -> Result<MetricsData, JsonError> {
    let mut d = MetricsData::default();
    r.object(|r, key| {
        match key {
            "resourceMetrics" => d.resource_metrics = r.array(resource_metrics)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(d)
}

fn resource_metrics<'s, R: Reader<'s>>(r: &mut R) -> Result<ResourceMetrics, JsonError> {
    let mut rm = ResourceMetrics::default();
    r.object(|r, key| {
        match key {
            "resource" => rm.resource = resource(r)?,
            "scopeMetrics" => rm.scope_metrics = r.array(scope_metrics)?,
            "schemaUrl" => rm.schema_url = string(r)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(rm)
}

fn scope_metrics<'s, R: Reader<'s>>(r: &mut R) -> Result<ScopeMetrics, JsonError> {
    let mut sm = ScopeMetrics::default();
    r.object(|r, key| {
        match key {
            "scope" => sm.scope = scope(r)?,
            "metrics" => sm.metrics = r.array(metric)?,
            "schemaUrl" => sm.schema_url = string(r)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(sm)
}

fn metric<'s, R: Reader<'s>>(r: &mut R) -> Result<Metric, JsonError> {
    let mut m =
        Metric { name: Str::EMPTY, description: Str::EMPTY, unit: Str::EMPTY, data: None, metadata: Vec::new() };
    r.object(|r, key| {
        let data = match key {
            "name" => {
                m.name = field_string(r, Field::MetricName)?;
                return Ok(true);
            }
            "description" => {
                m.description = field_string(r, Field::MetricDescription)?;
                return Ok(true);
            }
            "unit" => {
                m.unit = field_string(r, Field::MetricUnit)?;
                return Ok(true);
            }
            "metadata" => {
                m.metadata = attributes(r)?;
                return Ok(true);
            }
            "gauge" => gauge(r)?,
            "sum" => sum(r)?,
            "histogram" => histogram(r)?,
            "exponentialHistogram" => exp_histogram(r)?,
            "summary" => {
                return Err(JsonError::new(
                    "gauge, sum, histogram or exponentialHistogram data",
                    "summary data, which is not supported".into(),
                ));
            }
            _ => return Ok(false),
        };
        if m.data.is_some() {
            return Err(JsonError::new("one kind of data per metric", "a second one".into()));
        }
        m.data = Some(data);
        Ok(true)
    })?;
    Ok(m)
}

fn gauge<'s, R: Reader<'s>>(r: &mut R) -> Result<MetricData, JsonError> {
    let mut points = Vec::new();
    r.object(|r, key| {
        match key {
            "dataPoints" => points = r.array(number_point)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(MetricData::Gauge(points))
}

fn sum<'s, R: Reader<'s>>(r: &mut R) -> Result<MetricData, JsonError> {
    let (mut points, mut temporality, mut is_monotonic) = (Vec::new(), Temporality::Unspecified, false);
    r.object(|r, key| {
        match key {
            "dataPoints" => points = r.array(number_point)?,
            "aggregationTemporality" => temporality = aggregation_temporality(r)?,
            "isMonotonic" => is_monotonic = boolean(r)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(MetricData::Sum { points, temporality, is_monotonic })
}

fn histogram<'s, R: Reader<'s>>(r: &mut R) -> Result<MetricData, JsonError> {
    let (mut points, mut temporality) = (Vec::new(), Temporality::Unspecified);
    r.object(|r, key| {
        match key {
            "dataPoints" => points = r.array(histogram_point)?,
            "aggregationTemporality" => temporality = aggregation_temporality(r)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(MetricData::Histogram { points, temporality })
}

fn exp_histogram<'s, R: Reader<'s>>(r: &mut R) -> Result<MetricData, JsonError> {
    let (mut points, mut temporality) = (Vec::new(), Temporality::Unspecified);
    r.object(|r, key| {
        match key {
            "dataPoints" => points = r.array(exp_histogram_point)?,
            "aggregationTemporality" => temporality = aggregation_temporality(r)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(MetricData::ExponentialHistogram { points, temporality })
}

fn aggregation_temporality<'s, R: Reader<'s>>(r: &mut R) -> Result<Temporality, JsonError> {
    Ok(Temporality::from_i32(enumeration(r, "an aggregation temporality", temporality_name)?))
}

fn number_point<'s, R: Reader<'s>>(r: &mut R) -> Result<NumberDataPoint, JsonError> {
    let mut p =
        NumberDataPoint { attributes: Vec::new(), start_time_unix_nano: 0, time_unix_nano: 0, value: None, flags: 0 };
    r.object(|r, key| {
        let v = match key {
            "attributes" => {
                p.attributes = attributes(r)?;
                return Ok(true);
            }
            "startTimeUnixNano" => {
                p.start_time_unix_nano = fixed64(r)?;
                return Ok(true);
            }
            "timeUnixNano" => {
                p.time_unix_nano = fixed64(r)?;
                return Ok(true);
            }
            "flags" => {
                p.flags = uint32(r)?;
                return Ok(true);
            }
            "asDouble" => NumberValue::Double(double(r)?),
            "asInt" => NumberValue::Int(int64(r)?),
            _ => return Ok(false),
        };
        if p.value.is_some() {
            return Err(JsonError::new("one of asDouble and asInt", "both".into()));
        }
        p.value = Some(v);
        Ok(true)
    })?;
    Ok(p)
}

fn histogram_point<'s, R: Reader<'s>>(r: &mut R) -> Result<HistogramDataPoint, JsonError> {
    let mut p = HistogramDataPoint::default();
    r.object(|r, key| {
        match key {
            "attributes" => p.attributes = attributes(r)?,
            "startTimeUnixNano" => p.start_time_unix_nano = fixed64(r)?,
            "timeUnixNano" => p.time_unix_nano = fixed64(r)?,
            "count" => p.count = fixed64(r)?,
            "sum" => p.sum = Some(double(r)?),
            "bucketCounts" => p.bucket_counts = r.array(fixed64)?,
            "explicitBounds" => p.explicit_bounds = r.array(double)?,
            "flags" => p.flags = uint32(r)?,
            "min" => p.min = Some(double(r)?),
            "max" => p.max = Some(double(r)?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(p)
}

fn exp_histogram_point<'s, R: Reader<'s>>(r: &mut R) -> Result<ExponentialHistogramDataPoint, JsonError> {
    let mut p = ExponentialHistogramDataPoint::default();
    r.object(|r, key| {
        match key {
            "attributes" => p.attributes = attributes(r)?,
            "startTimeUnixNano" => p.start_time_unix_nano = fixed64(r)?,
            "timeUnixNano" => p.time_unix_nano = fixed64(r)?,
            "count" => p.count = fixed64(r)?,
            "sum" => p.sum = Some(double(r)?),
            "scale" => p.scale = int32(r)?,
            "zeroCount" => p.zero_count = fixed64(r)?,
            "positive" => p.positive = Some(exp_buckets(r)?),
            "negative" => p.negative = Some(exp_buckets(r)?),
            "flags" => p.flags = uint32(r)?,
            "min" => p.min = Some(double(r)?),
            "max" => p.max = Some(double(r)?),
            "zeroThreshold" => p.zero_threshold = double(r)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(p)
}

fn exp_buckets<'s, R: Reader<'s>>(r: &mut R) -> Result<ExpBuckets, JsonError> {
    let mut b = ExpBuckets::default();
    r.object(|r, key| {
        match key {
            "offset" => b.offset = int32(r)?,
            "bucketCounts" => b.bucket_counts = r.array(fixed64)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(b)
}

// ---------------------------------------------------------------- logs

pub(super) fn logs<'s, R: Reader<'s>>(r: &mut R) -> Result<LogsData, JsonError> {
    let mut d = LogsData::default();
    r.object(|r, key| {
        match key {
            "resourceLogs" => d.resource_logs = r.array(resource_logs)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(d)
}

fn resource_logs<'s, R: Reader<'s>>(r: &mut R) -> Result<ResourceLogs, JsonError> {
    let mut rl = ResourceLogs::default();
    r.object(|r, key| {
        match key {
            "resource" => rl.resource = resource(r)?,
            "scopeLogs" => rl.scope_logs = r.array(scope_logs)?,
            "schemaUrl" => rl.schema_url = string(r)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(rl)
}

fn scope_logs<'s, R: Reader<'s>>(r: &mut R) -> Result<ScopeLogs, JsonError> {
    let mut sl = ScopeLogs::default();
    r.object(|r, key| {
        match key {
            "scope" => sl.scope = scope(r)?,
            "logRecords" => sl.log_records = r.array(log_record)?,
            "schemaUrl" => sl.schema_url = string(r)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(sl)
}

fn log_record<'s, R: Reader<'s>>(r: &mut R) -> Result<LogRecord, JsonError> {
    let mut lr = LogRecord::default();
    r.object(|r, key| {
        match key {
            "timeUnixNano" => lr.time_unix_nano = fixed64(r)?,
            "observedTimeUnixNano" => lr.observed_time_unix_nano = fixed64(r)?,
            "severityNumber" => lr.severity_number = Severity(enumeration(r, "a severity number", severity_name)?),
            "severityText" => lr.severity_text = field_string(r, Field::SeverityText)?,
            "body" => lr.body = Some(any_value(r)?),
            "attributes" => lr.attributes = attributes(r)?,
            "droppedAttributesCount" => lr.dropped_attributes_count = uint32(r)?,
            "flags" => lr.flags = uint32(r)?,
            "traceId" => lr.trace_id = opt_trace_id(r)?,
            "spanId" => lr.span_id = opt_span_id(r)?,
            "eventName" => lr.event_name = field_string(r, Field::LogEventName)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(lr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_and_names() {
        assert_eq!(parse_integer("0"), Some(0));
        for n in [1u64, 12345678, 123456789, 1_700_000_000_001_250_000, 9_999_999_999_999_999_999, u64::MAX] {
            assert_eq!(parse_integer(&n.to_string()), Some(n.into()), "{n}");
        }
        for bad in ["12345678/", "1234567:", "1700000000001250x00", "17000000/0001250000", "1234567 "] {
            assert_eq!(parse_integer(bad), None, "{bad:?}");
        }
        assert_eq!(parse_integer("-12"), Some(-12));
        assert_eq!(parse_integer("18446744073709551615"), Some(u64::MAX.into()));
        assert_eq!(parse_integer("99999999999999999999"), Some(99_999_999_999_999_999_999));
        assert_eq!(parse_integer("1e3"), Some(1000));
        assert_eq!(parse_integer("123456789012345678901234"), Some(123_456_789_012_345_678_901_234));
        assert_eq!(parse_integer("5.0"), Some(5));
        for bad in ["", "-", "1.5", "0x10", "inf", "NaN", "1e30", " 1", "1 ", "--1", "1e40"] {
            assert_eq!(parse_integer(bad), None, "{bad:?}");
        }
        assert_eq!(severity_name("SEVERITY_NUMBER_INFO"), Some(9));
        assert_eq!(severity_name("SEVERITY_NUMBER_WARN3"), Some(15));
        assert_eq!(severity_name("SEVERITY_NUMBER_FATAL4"), Some(24));
        assert_eq!(severity_name("SEVERITY_NUMBER_INFO5"), None);
        assert_eq!(severity_name("INFO"), None);
        assert_eq!(span_kind_name("SPAN_KIND_CLIENT"), Some(3));
        let mut k = RetryKey::new();
        assert_eq!(k.name("observed_time_unix_nano"), "observed_time_unix_nano");
        assert!(k.next("observed_time_unix_nano"));
        assert_eq!(k.name("observed_time_unix_nano"), "observedTimeUnixNano");
        assert!(!k.next("observed_time_unix_nano"), "one retry only");
        assert!(!RetryKey::new().next("traceId"));
    }

    #[test]
    fn digits_of_every_length() {
        for len in 1..=21 {
            let all: String = (0..len).map(|i| char::from(b'1' + (i % 9) as u8)).collect();
            let want = all.parse::<u64>().ok().filter(|_| len <= 19);
            assert_eq!(digits(all.as_bytes()), want, "{all}");
            assert_eq!(parse_integer(&all), all.parse::<i128>().ok(), "{all}");
            assert_eq!(parse_i64(&format!("-{all}")), format!("-{all}").parse::<i64>().ok(), "-{all}");
            assert_eq!(parse_i64(&all), all.parse::<i64>().ok(), "{all}");
            for bad in 0..len {
                for c in [b'/', b':', b' ', b'a', b'.', 0x80] {
                    let mut b = all.clone().into_bytes();
                    b[bad] = c;
                    assert_eq!(digits(&b), None, "{b:?}");
                }
            }
        }
        assert_eq!(digits(b""), None);
        assert_eq!(digits(b"0000000000000000000"), Some(0));
        assert_eq!(digits(b"9999999999999999999"), Some(9_999_999_999_999_999_999));
        assert_eq!(parse_i64("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64("9223372036854775808"), None);
        assert_eq!(parse_i64("+7"), Some(7));
    }

    #[test]
    fn hinted_lookups_never_return_another_string() {
        let mut c = StrCache::new(0);
        let words = ["http.method", "GET", "POST", "a", "", "https://x/1", "https://x/2", "user:1", "user:12"];
        let mut hints = [0u16; 3];
        for round in 0..4 {
            for (i, w) in words.iter().cycle().skip(round).take(20).enumerate() {
                let s = c.get_hinted(w, &mut hints[i % hints.len()]);
                assert_eq!(s, *w);
            }
        }
        // A hint that is out of range, or names a slot holding another
        // string, only costs the usual lookup.
        let mut hint = u16::MAX;
        assert_eq!(c.get_hinted("GET", &mut hint), "GET");
        assert_eq!(c.get_hinted("GE", &mut hint), "GE");
        assert_eq!(c.get_hinted("", &mut hint), "");
    }

    #[test]
    fn cache_shares_recurring_strings_only() {
        let mut c = StrCache::new(0);
        let words =
            ["", "a", "ab", "abc", "abcd", "abcdefg", "abcdefgh", "user:1", "user:2", "https://x/1", "https://x/2"];
        for round in 0..3 {
            for w in words {
                let s = c.get(w);
                assert_eq!(s, w);
                let again = c.get(w);
                if round > 0 && !w.is_empty() {
                    assert_eq!(again.as_ptr(), s.as_ptr(), "{w:?} is shared from the second sighting on");
                }
            }
        }
        let one_off = c.get("seen once");
        let other = c.get("seen twice");
        assert_eq!(other.as_ptr(), one_off[one_off.len()..].as_ptr(), "one-off strings share a chunk");
        let long = "x".repeat(ARENA_MAX_STR + 1);
        assert_eq!(c.get(&long), long.as_str());
    }
}
