//! Scalars in every form protobuf's JSON mapping allows: integers as numbers
//! or strings, 64-bit integers' fast paths, doubles with their special
//! values, enums by number or name, ids in hex, bytes in base64.

use super::super::base64;
use super::str_cache::le64;
use super::{Field, JsonError, Reader, Scalar, expected};
use crate::model::{SpanId, Str, TraceId};

#[inline]
pub(super) fn string<'s, R: Reader<'s>>(r: &mut R) -> Result<Str, JsonError> {
    match r.scalar() {
        Scalar::Str(s) => Ok(r.to_str(s)),
        v => Err(expected("a string", v)),
    }
}

/// [`string`] for the value of a [`Field`].
#[inline]
pub(super) fn field_string<'s, R: Reader<'s>>(r: &mut R, field: Field) -> Result<Str, JsonError> {
    match r.scalar() {
        Scalar::Str(s) => Ok(r.field_str(s, field)),
        v => Err(expected("a string", v)),
    }
}

#[inline]
pub(super) fn boolean<'s, R: Reader<'s>>(r: &mut R) -> Result<bool, JsonError> {
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
pub(in crate::encode::json) fn parse_i64(s: &str) -> Option<i64> {
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
pub(super) fn digits(b: &[u8]) -> Option<u64> {
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
pub(super) fn parse_integer(s: &str) -> Option<i128> {
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
pub(super) fn fixed64<'s, R: Reader<'s>>(r: &mut R) -> Result<u64, JsonError> {
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
pub(super) fn int64<'s, R: Reader<'s>>(r: &mut R) -> Result<i64, JsonError> {
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
pub(super) fn uint32<'s, R: Reader<'s>>(r: &mut R) -> Result<u32, JsonError> {
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
pub(super) fn int32<'s, R: Reader<'s>>(r: &mut R) -> Result<i32, JsonError> {
    const WHAT: &str = "a signed 32-bit integer";
    let n = integer(r, WHAT)?;
    i32::try_from(n).map_err(|_| JsonError::new(WHAT, format!("{n}, out of range")))
}

/// A number, or one of the strings `"NaN"`, `"Infinity"`, `"-Infinity"`, or a
/// string holding a number.
pub(super) fn double<'s, R: Reader<'s>>(r: &mut R) -> Result<f64, JsonError> {
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
pub(super) fn enumeration<'s, R: Reader<'s>>(
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

pub(super) fn trace_id<'s, R: Reader<'s>>(r: &mut R) -> Result<TraceId, JsonError> {
    const WHAT: &str = "a trace id of 32 hex digits";
    match r.next_str() {
        Some(s) => crate::simd::hex_decode::<16>(s.as_bytes()).map(TraceId).ok_or_else(|| invalid_id(WHAT, s)),
        None => Err(expected(WHAT, r.scalar())),
    }
}

pub(super) fn span_id<'s, R: Reader<'s>>(r: &mut R) -> Result<SpanId, JsonError> {
    const WHAT: &str = "a span id of 16 hex digits";
    match r.next_str() {
        Some(s) => crate::simd::hex_decode::<8>(s.as_bytes()).map(SpanId).ok_or_else(|| invalid_id(WHAT, s)),
        None => Err(expected(WHAT, r.scalar())),
    }
}

/// An optional id: `""` (empty bytes) is absent, as in protobuf.
pub(super) fn opt_trace_id<'s, R: Reader<'s>>(r: &mut R) -> Result<Option<TraceId>, JsonError> {
    const WHAT: &str = "a trace id of 32 hex digits or \"\"";
    match r.next_str() {
        Some("") => Ok(None),
        Some(s) => {
            crate::simd::hex_decode::<16>(s.as_bytes()).map(|b| Some(TraceId(b))).ok_or_else(|| invalid_id(WHAT, s))
        }
        None => Err(expected(WHAT, r.scalar())),
    }
}

pub(super) fn opt_span_id<'s, R: Reader<'s>>(r: &mut R) -> Result<Option<SpanId>, JsonError> {
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
pub(super) fn missing(key: &str, what: &'static str) -> JsonError {
    JsonError::new(what, "nothing (the field is required)".into()).at_key(key)
}

pub(super) fn bytes<'s, R: Reader<'s>>(r: &mut R) -> Result<bytes::Bytes, JsonError> {
    const WHAT: &str = "base64 bytes";
    match r.scalar() {
        Scalar::Str(s) => {
            base64::decode(s.as_bytes()).map(bytes::Bytes::from).ok_or_else(|| expected(WHAT, Scalar::Str(s)))
        }
        v => Err(expected(WHAT, v)),
    }
}

// ---------------------------------------------------------------- enums by name

pub(super) fn span_kind_name(s: &str) -> Option<i32> {
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

pub(super) fn status_code_name(s: &str) -> Option<i32> {
    Some(match s.strip_prefix("STATUS_CODE_")? {
        "UNSET" => 0,
        "OK" => 1,
        "ERROR" => 2,
        _ => return None,
    })
}

pub(super) fn temporality_name(s: &str) -> Option<i32> {
    Some(match s.strip_prefix("AGGREGATION_TEMPORALITY_")? {
        "UNSPECIFIED" => 0,
        "DELTA" => 1,
        "CUMULATIVE" => 2,
        _ => return None,
    })
}

/// `SEVERITY_NUMBER_INFO` is 9, `SEVERITY_NUMBER_INFO2`..`4` are 10..12.
pub(super) fn severity_name(s: &str) -> Option<i32> {
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
