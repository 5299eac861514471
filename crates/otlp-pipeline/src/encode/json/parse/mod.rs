//! OTLP/JSON → model, written once over the [`Reader`] trait so that the
//! simd-json tape ([`super::tape`]) and the serde_json tree ([`super::value`])
//! share every rule and can only differ in how they read JSON.
//!
//! Each message is an [`Reader::object`] call whose closure matches the
//! lowerCamelCase key, reads the value and returns `true`, or returns `false`
//! for an unknown key (then the reader retries the key converted from
//! snake_case and otherwise skips the value). `null` members never reach the
//! closures.
//!
//! Does not own: tokenizing JSON (the readers do) or building error paths
//! beyond the failing value (the readers add their position).
//!
//! The files: `str_cache` shares the strings of one document; `scalars`
//! reads every scalar type in the forms the JSON mapping allows; `common`,
//! `traces`, `metrics` and `logs` hold one function per message.

mod common;
mod logs;
mod metrics;
mod scalars;
mod str_cache;
#[cfg(test)]
mod tests;
mod traces;

pub(super) use common::key_value_general;
pub(super) use logs::logs;
pub(super) use metrics::metrics;
pub(super) use scalars::parse_i64;
pub(super) use str_cache::StrCache;
pub(super) use traces::traces;

use common::key_value;

use std::borrow::Cow;

use super::JsonError;
use crate::model::{KeyValue, Str};

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
    /// a key it does not know. Errors get the key prefixed to their path. An
    /// object holding a key twice ([`member_name`]), here or anywhere in an
    /// unknown member's value, is an error ([`duplicate_key`]).
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

/// The name a member's key counts as when an object is checked for a key
/// given twice: the key itself, or the lowerCamelCase form of a snake_case
/// key (which names the same field). Allocates only for keys with a `_`.
#[inline]
pub(super) fn member_name(key: &str) -> Cow<'_, str> {
    if !key.as_bytes().contains(&b'_') {
        return Cow::Borrowed(key);
    }
    camel_owned(key)
}

#[cold]
#[inline(never)]
fn camel_owned(key: &str) -> Cow<'_, str> {
    let mut retry = RetryKey::new();
    retry.next(key);
    Cow::Owned(retry.name(key).to_owned())
}

/// The error for an object holding a key twice (or a snake_case key beside
/// its lowerCamelCase form): protobuf's JSON parsers refuse a field set
/// twice, and which value would win differs between readers (the serde_json
/// tree keeps the last and iterates keys sorted, the tape is read in order).
#[cold]
pub(super) fn duplicate_key(key: &str) -> JsonError {
    JsonError::new(
        "each key once per object (a snake_case key counts as its lowerCamelCase form)",
        format!("{key:?} again"),
    )
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
