//! The simd-json path: parse to simd-json's flat tape, then walk the tape
//! directly into the model ([`super::parse`]), with no value tree in between.
//! Strings are copied out of the tape through a [`StrCache`], so recurring
//! ones share one allocation.

use std::cell::Cell;

use simd_json::{Buffers, Node, StaticNode, Tape};

use super::JsonError;
use super::parse::{self, FIELDS, Field, Reader, Scalar, StrCache, camel_case, expected, parse_i64};
use crate::model::{AnyValue, KeyValue, LogsData, MetricsData, Str, TracesData};

/// Parses an OTLP/JSON trace batch (`ExportTraceServiceRequest` or
/// `TracesData`) with simd-json. The input is modified in place (simd-json
/// unescapes strings where they stand).
pub fn parse_traces(input: &mut [u8]) -> Result<TracesData, JsonError> {
    with_tape(input, |nodes, len| parse::traces(&mut TapeReader::new(nodes, len)))
}

/// Parses an OTLP/JSON metrics batch with simd-json (see [`parse_traces`]).
pub fn parse_metrics(input: &mut [u8]) -> Result<MetricsData, JsonError> {
    with_tape(input, |nodes, len| parse::metrics(&mut TapeReader::new(nodes, len)))
}

/// Parses an OTLP/JSON logs batch with simd-json (see [`parse_traces`]).
pub fn parse_logs(input: &mut [u8]) -> Result<LogsData, JsonError> {
    with_tape(input, |nodes, len| parse::logs(&mut TapeReader::new(nodes, len)))
}

/// Deepest nesting simd-json accepts (its default is 1024): serde_json's limit,
/// so that both parsers accept the same documents. It allows about 40 levels
/// of nested `arrayValue`s (three JSON levels each, prost stops near 50) and
/// bounds the walk's recursion, so a hostile document cannot exhaust the stack.
const MAX_DEPTH: usize = 128;

/// Elements reserved ahead of reading an array: arrays of trivially small
/// elements (`[{},{},…]`) must not make the parser reserve memory for
/// hundreds of bytes per input byte before the first element is checked.
const MAX_PREALLOC: usize = 4096;

/// Inputs up to this size leave their parser buffers to the next parse on the
/// same thread (about 6× the input in all); larger ones free them, so that a
/// rare huge request does not pin its memory. 1 MiB holds a 512-span batch.
const MAX_REUSED_INPUT: usize = 1 << 20;

thread_local! {
    /// simd-json's scratch buffers and tape from the previous parse on this
    /// thread: reusing them saves their allocation and regrowth.
    static SCRATCH: Cell<Option<(Buffers, Tape<'static>)>> = const { Cell::new(None) };
}

/// Parses `input` to a tape and hands its nodes, and the input length, to `walk`.
fn with_tape<T>(
    input: &mut [u8],
    walk: impl FnOnce(&[Node<'_>], usize) -> Result<T, JsonError>,
) -> Result<T, JsonError> {
    let len = input.len();
    let (mut buffers, tape) = SCRATCH.take().unwrap_or_else(|| {
        // Documents of this shape make about one node per 8 bytes.
        (Buffers::with_max_depth(len, MAX_DEPTH), Tape(Vec::with_capacity(len / 6 + 1)))
    });
    let mut tape = tape.reset();
    let parsed = simd_json::fill_tape(input, &mut buffers, &mut tape).map_err(JsonError::syntax);
    let result = parsed.and_then(|()| walk(&tape.0, len));
    if len <= MAX_REUSED_INPUT {
        SCRATCH.set(Some((buffers, tape.reset())));
    }
    result
}

/// A cursor over the tape. The tape is well formed by construction, but every
/// read is bounds-checked anyway: a node past the end reads as `null`, which
/// no caller accepts where a value is required, so nothing can panic.
struct TapeReader<'t, 'i> {
    nodes: &'t [Node<'i>],
    pos: usize,
    strs: StrCache,
    /// [`StrCache::get_hinted`]'s hints for the keys and the string values of
    /// canonical attributes, by the length of their list and their index in it.
    key_hints: [u16; HINTS],
    value_hints: [u16; HINTS],
    /// The same for the string fields of messages.
    field_hints: [u16; FIELDS],
}

/// Hints per kind of string; lists of the same length share a row.
const HINTS: usize = 256;

/// The hint for the `i`th attribute of a list of `len`.
#[inline]
fn hint_index(len: usize, i: usize) -> usize {
    (len.wrapping_mul(16).wrapping_add(i)) % HINTS
}

const NULL: Node<'static> = Node::Static(StaticNode::Null);

impl<'t, 'i> TapeReader<'t, 'i> {
    fn new(nodes: &'t [Node<'i>], input_len: usize) -> Self {
        TapeReader {
            nodes,
            pos: 0,
            strs: StrCache::new(input_len),
            key_hints: [0; HINTS],
            value_hints: [0; HINTS],
            field_hints: [0; FIELDS],
        }
    }

    #[inline]
    fn peek(&self) -> Node<'i> {
        self.nodes.get(self.pos).copied().unwrap_or(NULL)
    }

    /// Skips the value at the cursor, containers with all they contain.
    #[inline]
    fn skip(&mut self) {
        self.pos += match self.peek() {
            Node::Object { count, .. } | Node::Array { count, .. } => count + 1,
            _ => 1,
        };
    }
}

impl<'i> Reader<'i> for TapeReader<'_, 'i> {
    #[inline]
    fn scalar(&mut self) -> Scalar<'i> {
        let node = self.peek();
        self.skip();
        match node {
            Node::String(s) => Scalar::Str(s),
            Node::Object { .. } => Scalar::Object,
            Node::Array { .. } => Scalar::Array,
            Node::Static(v) => match v {
                StaticNode::I64(n) => Scalar::I64(n),
                StaticNode::U64(n) => Scalar::U64(n),
                StaticNode::F64(f) => Scalar::F64(f),
                StaticNode::Bool(b) => Scalar::Bool(b),
                StaticNode::Null => Scalar::Null,
                // 128-bit integers, if a dependency turns on value-trait's
                // `128bit` feature: out of range for every OTLP field.
                #[allow(unreachable_patterns)]
                _ => Scalar::F64(f64::INFINITY),
            },
        }
    }

    #[inline]
    fn object<F>(&mut self, mut f: F) -> Result<(), JsonError>
    where
        F: FnMut(&mut Self, &str) -> Result<bool, JsonError>,
    {
        let Node::Object { len, .. } = self.peek() else {
            return Err(expected("an object", self.scalar()));
        };
        self.pos += 1;
        // Holds the camelCase form of an unknown snake_case key.
        let mut camel = String::new();
        for _ in 0..len {
            let Node::String(key) = self.peek() else {
                return Err(expected("an object key", self.scalar()));
            };
            self.pos += 1;
            if let Node::Static(StaticNode::Null) = self.peek() {
                self.pos += 1;
                continue;
            }
            // One call site for `f`, so that it inlines: an unknown key comes
            // round once more as its camelCase form, if it has one.
            let mut name = key;
            let mut retried = false;
            loop {
                if f(self, name).map_err(|e| e.at_key(key))? {
                    break;
                }
                if retried || !camel_case(key, &mut camel) {
                    self.skip();
                    break;
                }
                retried = true;
                name = &camel;
            }
        }
        Ok(())
    }

    #[inline]
    fn array<T, F>(&mut self, mut f: F) -> Result<Vec<T>, JsonError>
    where
        F: FnMut(&mut Self) -> Result<T, JsonError>,
    {
        let Node::Array { len, .. } = self.peek() else {
            return Err(expected("an array", self.scalar()));
        };
        self.pos += 1;
        let mut out = Vec::with_capacity(len.min(MAX_PREALLOC));
        for i in 0..len {
            out.push(f(self).map_err(|e| e.at_index(i))?);
        }
        Ok(out)
    }

    #[inline]
    fn next_str(&mut self) -> Option<&'i str> {
        let Some(&Node::String(s)) = self.nodes.get(self.pos) else {
            return None;
        };
        self.pos += 1;
        Some(s)
    }

    #[inline]
    fn to_str(&mut self, s: &'i str) -> Str {
        self.strs.get(s)
    }

    #[inline]
    fn field_str(&mut self, s: &'i str, field: Field) -> Str {
        self.strs.get_hinted(s, &mut self.field_hints[field as usize % FIELDS])
    }

    #[inline]
    fn key_value_fast(&mut self) -> Option<KeyValue> {
        self.canonical_key_value()
    }

    /// [`Reader::array`] of [`parse::key_value`], with canonical `KeyValue`s
    /// built straight into the vector.
    fn attributes(&mut self) -> Result<Vec<KeyValue>, JsonError> {
        let Node::Array { len, .. } = self.peek() else {
            return Err(expected("an array", self.scalar()));
        };
        self.pos += 1;
        let mut out = Vec::with_capacity(len.min(MAX_PREALLOC));
        for i in 0..len {
            if !self.push_canonical(&mut out, hint_index(len, i)) {
                general_into(self, &mut out, i)?;
            }
        }
        Ok(out)
    }
}

/// The general path of [`TapeReader::attributes`], out of line.
#[inline(never)]
fn general_into(r: &mut TapeReader<'_, '_>, out: &mut Vec<KeyValue>, i: usize) -> Result<(), JsonError> {
    out.push(parse::key_value_general(r).map_err(|e| e.at_index(i))?);
    Ok(())
}

/// The value of a canonical `KeyValue`, not yet a model value.
#[derive(Clone, Copy)]
enum Canonical<'i> {
    Str(&'i str),
    Int(i64),
    Bool(bool),
    Double(f64),
}

impl<'i> TapeReader<'_, 'i> {
    /// The key and value of the canonical `KeyValue` at the cursor
    /// (`{"key":…,"value":{"<type>Value":<scalar>}}`, which is what exporters
    /// write), which it then skips; `None`, with nothing consumed, for any
    /// other shape.
    #[inline(always)]
    fn canonical(&mut self) -> Option<(&'i str, Canonical<'i>)> {
        let nodes = self.nodes.get(self.pos..self.pos + 7)?;
        let [
            Node::Object { len: 2, .. },
            Node::String("key"),
            Node::String(key),
            Node::String("value"),
            Node::Object { len: 1, .. },
            Node::String(kind),
            v,
        ] = *nodes
        else {
            return None;
        };
        let value = match (kind, v) {
            ("stringValue", Node::String(s)) => Canonical::Str(s),
            ("intValue", Node::String(s)) => Canonical::Int(parse_i64(s)?),
            ("intValue", Node::Static(StaticNode::I64(n))) => Canonical::Int(n),
            // simd-json reads non-negative integers as `U64`.
            ("intValue", Node::Static(StaticNode::U64(n))) => Canonical::Int(i64::try_from(n).ok()?),
            ("boolValue", Node::Static(StaticNode::Bool(b))) => Canonical::Bool(b),
            ("doubleValue", Node::Static(StaticNode::F64(f))) => Canonical::Double(f),
            _ => return None,
        };
        self.pos += nodes.len();
        Some((key, value))
    }

    /// A canonical `KeyValue` pushed straight onto `out`, its strings looked
    /// up with the hints of the `hint`th attribute; false, with nothing
    /// consumed or pushed, for any other shape.
    #[inline(always)]
    fn push_canonical(&mut self, out: &mut Vec<KeyValue>, hint: usize) -> bool {
        let Some((key, value)) = self.canonical() else {
            return false;
        };
        let value = match value {
            Canonical::Str(s) => AnyValue::String(self.strs.get_hinted(s, &mut self.value_hints[hint % HINTS])),
            Canonical::Int(n) => AnyValue::Int(n),
            Canonical::Bool(b) => AnyValue::Bool(b),
            Canonical::Double(f) => AnyValue::Double(f),
        };
        out.push(KeyValue { key: self.strs.get_hinted(key, &mut self.key_hints[hint % HINTS]), value });
        true
    }

    /// See [`Reader::key_value_fast`].
    #[inline(always)]
    fn canonical_key_value(&mut self) -> Option<KeyValue> {
        let (key, value) = self.canonical()?;
        let value = match value {
            Canonical::Str(s) => AnyValue::String(self.strs.get(s)),
            Canonical::Int(n) => AnyValue::Int(n),
            Canonical::Bool(b) => AnyValue::Bool(b),
            Canonical::Double(f) => AnyValue::Double(f),
        };
        Some(KeyValue { key: self.strs.get(key), value })
    }
}
