//! `tracing` field values to typed attributes, and the `otel.*` conventions
//! read from span fields.
//!
//! Keys are the fields' `&'static str` names, kept static in [`Str`]. Values
//! keep their type (i64, f64, bool, string, bytes); an integer outside i64
//! becomes its decimal string, as tracing-opentelemetry does. Strings and
//! `Debug`/`Display` values are copied ([`Str::copy_shared`]) or formatted
//! ([`Str::format`]) into a chunk shared with the strings before them: no
//! allocation per value.

use std::fmt::{self, Write as _};

use crate::model::{AnyValue, KeyValue, Span, SpanKind, StatusCode, Str};
use tracing::field::{Field, Visit};

/// A field's string value as a [`Str`].
#[inline]
fn text(value: &str) -> Str {
    Str::copy_shared(value)
}

/// A `Debug` value (which for `%x` fields is its `Display`) as a [`Str`].
#[inline]
fn debug_text(value: &dyn fmt::Debug) -> Str {
    Str::format(format_args!("{value:?}"))
}

/// An attribute list with a length limit: past it, attributes are counted as
/// dropped instead of kept.
pub(super) struct Attributes<'a> {
    pub(super) list: &'a mut Vec<KeyValue>,
    pub(super) dropped: &'a mut u32,
    pub(super) max: usize,
    /// Replace an attribute of the same key rather than add a second one
    /// (`Span::record` of a field recorded before); creation needs no search,
    /// a callsite's field names being distinct.
    pub(super) replace: bool,
}

impl Attributes<'_> {
    fn push(&mut self, key: &'static str, value: AnyValue) {
        if self.replace
            && let Some(kv) = self.list.iter_mut().find(|kv| kv.key.as_str() == key)
        {
            kv.value = value;
            return;
        }
        if self.list.len() >= self.max {
            *self.dropped = self.dropped.saturating_add(1);
            return;
        }
        self.list.push(KeyValue { key: Str::from_static(key), value });
    }

    fn int<T: TryInto<i64> + fmt::Display + Copy>(&mut self, key: &'static str, value: T) {
        match value.try_into() {
            Ok(v) => self.push(key, AnyValue::Int(v)),
            Err(_) => self.push(key, AnyValue::String(Str::format(format_args!("{value}")))),
        }
    }
}

/// The span fields that set a part of the span instead of an attribute
/// (the names tracing-opentelemetry reads, and `error`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Convention {
    /// `otel.name`: the span's name.
    Name,
    /// `otel.kind`: `server`, `client`, `producer`, `consumer` or `internal`.
    Kind,
    /// `otel.status_code`: `ok`, `error` or `unset`.
    StatusCode,
    /// `otel.status_description` (or `otel.status_message`, its older name
    /// in tracing-opentelemetry): the status is an error with this
    /// description.
    StatusDescription,
    /// `error`: `true`, or a message (which becomes the status description),
    /// sets the status to error; `false` leaves it. Ours: tracing-opentelemetry
    /// keeps a span's `error` field as an attribute (the OpenTracing `error`
    /// tag is what this follows).
    Error,
}

impl Convention {
    #[inline]
    fn of(name: &str) -> Option<Convention> {
        // Most names are neither: one length-and-prefix test for them.
        if !(name.starts_with("otel.") || name == "error") {
            return None;
        }
        match name {
            "otel.name" => Some(Convention::Name),
            "otel.kind" => Some(Convention::Kind),
            "otel.status_code" => Some(Convention::StatusCode),
            "otel.status_description" | "otel.status_message" => Some(Convention::StatusDescription),
            "error" => Some(Convention::Error),
            _ => None,
        }
    }
}

/// A span kind as `otel.kind` names it (any case; quotes from a `?` field
/// are ignored).
pub(super) fn parse_kind(s: &str) -> Option<SpanKind> {
    let s = s.trim_matches('"');
    [
        ("server", SpanKind::Server),
        ("client", SpanKind::Client),
        ("producer", SpanKind::Producer),
        ("consumer", SpanKind::Consumer),
        ("internal", SpanKind::Internal),
    ]
    .into_iter()
    .find_map(|(name, kind)| s.eq_ignore_ascii_case(name).then_some(kind))
}

/// A status code as `otel.status_code` names it (any case).
pub(super) fn parse_status_code(s: &str) -> Option<StatusCode> {
    let s = s.trim_matches('"');
    [("ok", StatusCode::Ok), ("error", StatusCode::Error), ("unset", StatusCode::Unset)]
        .into_iter()
        .find_map(|(name, code)| s.eq_ignore_ascii_case(name).then_some(code))
}

/// Room for the longest word a convention compares against, on the stack:
/// a `Debug` value of `otel.kind` is read without allocating.
#[derive(Default)]
struct Word {
    buf: [u8; Word::CAP],
    len: usize,
}

impl Word {
    /// Longer than any kind or status code, quoted.
    const CAP: usize = 16;

    fn of(value: &dyn fmt::Debug) -> Word {
        let mut w = Word::default();
        // Too long to be a known word: then it matches none.
        if write!(w, "{value:?}").is_err() {
            w.len = 0;
        }
        w
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

impl fmt::Write for Word {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Visits a span's fields: conventions set the span's parts, every other
/// field becomes an attribute.
pub(super) struct SpanFields<'a> {
    pub(super) name: &'a mut Str,
    pub(super) kind: &'a mut SpanKind,
    pub(super) status: &'a mut crate::model::Status,
    pub(super) attributes: Attributes<'a>,
}

impl<'a> SpanFields<'a> {
    /// The visitor for `span`'s fields, at most `max` attributes; `replace`
    /// for fields recorded after creation.
    pub(super) fn new(span: &'a mut Span, max: usize, replace: bool) -> Self {
        SpanFields {
            name: &mut span.name,
            kind: &mut span.kind,
            status: &mut span.status,
            attributes: Attributes {
                list: &mut span.attributes,
                dropped: &mut span.dropped_attributes_count,
                max,
                replace,
            },
        }
    }

    /// A convention's value given as text.
    fn convention(&mut self, c: Convention, value: &str, owned: impl FnOnce() -> Str) {
        match c {
            Convention::Name => *self.name = owned(),
            Convention::Kind => {
                if let Some(kind) = parse_kind(value) {
                    *self.kind = kind;
                }
            }
            Convention::StatusCode => {
                if let Some(code) = parse_status_code(value) {
                    self.status.code = code;
                    // OTLP gives a description to an error only, and
                    // tracing-opentelemetry's `ok` and `unset` carry none.
                    if code != StatusCode::Error {
                        self.status.message = Str::EMPTY;
                    }
                }
            }
            // A description is an error's (OTLP; tracing-opentelemetry sets
            // the code to error with it).
            Convention::StatusDescription => {
                self.status.code = StatusCode::Error;
                self.status.message = owned();
            }
            Convention::Error => {
                self.status.code = StatusCode::Error;
                if self.status.message.is_empty() {
                    self.status.message = owned();
                }
            }
        }
    }

    /// A convention's value given as a `Debug` value: formatted on the stack
    /// when only compared, into a [`Str`] when kept.
    fn convention_debug(&mut self, c: Convention, value: &dyn fmt::Debug) {
        match c {
            Convention::Kind | Convention::StatusCode => {
                let word = Word::of(value);
                self.convention(c, word.as_str(), || Str::EMPTY);
            }
            Convention::Name | Convention::StatusDescription | Convention::Error => {
                let s = debug_text(value);
                self.convention(c, &s.clone(), || s);
            }
        }
    }
}

impl Visit for SpanFields<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        match Convention::of(field.name()) {
            Some(c) => self.convention_debug(c, &value),
            None => self.attributes.push(field.name(), AnyValue::Double(value)),
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        match Convention::of(field.name()) {
            Some(c) => self.convention_debug(c, &value),
            None => self.attributes.push(field.name(), AnyValue::Int(value)),
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match Convention::of(field.name()) {
            Some(c) => self.convention_debug(c, &value),
            None => self.attributes.int(field.name(), value),
        }
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        match Convention::of(field.name()) {
            Some(c) => self.convention_debug(c, &value),
            None => self.attributes.int(field.name(), value),
        }
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        match Convention::of(field.name()) {
            Some(c) => self.convention_debug(c, &value),
            None => self.attributes.int(field.name(), value),
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        match Convention::of(field.name()) {
            // `error = false`: nothing failed.
            Some(Convention::Error) => {
                if value {
                    self.status.code = StatusCode::Error;
                }
            }
            Some(c) => self.convention_debug(c, &value),
            None => self.attributes.push(field.name(), AnyValue::Bool(value)),
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match Convention::of(field.name()) {
            Some(c) => self.convention(c, value, || text(value)),
            None => self.attributes.push(field.name(), AnyValue::String(text(value))),
        }
    }

    fn record_bytes(&mut self, field: &Field, value: &[u8]) {
        match Convention::of(field.name()) {
            Some(c) => self.convention_debug(c, &value),
            None => self.attributes.push(field.name(), AnyValue::Bytes(bytes::Bytes::copy_from_slice(value))),
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let s = Str::format(format_args!("{value}"));
        match Convention::of(field.name()) {
            Some(c) => self.convention(c, &s.clone(), || s),
            None => self.attributes.push(field.name(), AnyValue::String(s)),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match Convention::of(field.name()) {
            Some(c) => self.convention_debug(c, value),
            None => self.attributes.push(field.name(), AnyValue::String(debug_text(value))),
        }
    }
}

/// The field `tracing` puts an event's format string in.
const MESSAGE: &str = "message";

/// The field `#[instrument(err)]` records a failed call's error in.
const ERROR: &str = "error";

/// Visits an event's fields: `message` is kept apart (the span event's name,
/// or the log record's body); every other field becomes an attribute.
///
/// In a span event, an `error` field before any message (the event
/// `#[instrument(err)]` emits) is an exception, as tracing-opentelemetry
/// maps it: the event is named `exception`, the value is its
/// `exception.message` and the span's status description.
pub(super) struct EventFields<'a> {
    pub(super) message: Option<Str>,
    /// The `exception.message` of an exception event; only read when
    /// `exceptions` is set.
    pub(super) exception: Option<Str>,
    /// A span event (exceptions are read), not a log record.
    pub(super) exceptions: bool,
    pub(super) attributes: Attributes<'a>,
}

impl<'a> EventFields<'a> {
    /// The visitor for an event's fields into `attributes`; `exceptions` for a span event.
    pub(super) fn new(attributes: Attributes<'a>, exceptions: bool) -> Self {
        EventFields { message: None, exception: None, exceptions, attributes }
    }

    /// A string field: the message, an exception's message, or an attribute.
    fn text_field(&mut self, field: &Field, value: Str) {
        match field.name() {
            MESSAGE => self.message = Some(value),
            ERROR if self.exceptions && self.message.is_none() && self.exception.is_none() => {
                self.exception = Some(value.clone());
                self.attributes.push("exception.message", AnyValue::String(value));
            }
            name => self.attributes.push(name, AnyValue::String(value)),
        }
    }
}

impl Visit for EventFields<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.attributes.push(field.name(), AnyValue::Double(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.attributes.push(field.name(), AnyValue::Int(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.attributes.int(field.name(), value);
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.attributes.int(field.name(), value);
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.attributes.int(field.name(), value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.attributes.push(field.name(), AnyValue::Bool(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.text_field(field, text(value));
    }

    fn record_bytes(&mut self, field: &Field, value: &[u8]) {
        self.attributes.push(field.name(), AnyValue::Bytes(bytes::Bytes::copy_from_slice(value)));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.attributes.push(field.name(), AnyValue::String(Str::format(format_args!("{value}"))));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.text_field(field, debug_text(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_codes_are_read_in_any_case_and_unknown_words_are_ignored() {
        assert_eq!(parse_kind("server"), Some(SpanKind::Server));
        assert_eq!(parse_kind("Client"), Some(SpanKind::Client));
        assert_eq!(parse_kind("\"PRODUCER\""), Some(SpanKind::Producer));
        assert_eq!(parse_kind("consumer"), Some(SpanKind::Consumer));
        assert_eq!(parse_kind("internal"), Some(SpanKind::Internal));
        assert_eq!(parse_kind("serverless"), None);
        assert_eq!(parse_status_code("OK"), Some(StatusCode::Ok));
        assert_eq!(parse_status_code("error"), Some(StatusCode::Error));
        assert_eq!(parse_status_code("unset"), Some(StatusCode::Unset));
        assert_eq!(parse_status_code("failed"), None);
    }

    #[test]
    fn a_word_too_long_for_the_stack_matches_nothing() {
        assert_eq!(Word::of(&SpanKind::Server).as_str(), "Server");
        assert_eq!(Word::of(&"a much longer value than any kind").as_str(), "");
    }

    #[test]
    fn conventions_are_recognised_by_exact_name() {
        assert_eq!(Convention::of("otel.name"), Some(Convention::Name));
        assert_eq!(Convention::of("otel.status_message"), Some(Convention::StatusDescription));
        assert_eq!(Convention::of("error"), Some(Convention::Error));
        assert_eq!(Convention::of("otel.other"), None);
        assert_eq!(Convention::of("errors"), None);
        assert_eq!(Convention::of("http.method"), None);
    }
}
