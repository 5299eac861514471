//! The simd-json path: parse to simd-json's flat tape, then walk the tape
//! directly into the model ([`super::parse`]), with no value tree in between.
//! Strings are copied out of the tape through a [`StrCache`], so recurring
//! ones share one allocation.

use std::cell::Cell;

use simd_json::{Buffers, Node, StaticNode, Tape};

use super::JsonError;
use super::parse::{self, Reader, RetryKey, Scalar, StrCache, expected, parse_i64};
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
}

const NULL: Node<'static> = Node::Static(StaticNode::Null);

impl<'t, 'i> TapeReader<'t, 'i> {
    fn new(nodes: &'t [Node<'i>], input_len: usize) -> Self {
        TapeReader { nodes, pos: 0, strs: StrCache::new(input_len) }
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
            let mut retry = RetryKey::new();
            loop {
                if f(self, retry.name(key)).map_err(|e| e.at_key(key))? {
                    break;
                }
                if !retry.next(key) {
                    self.skip();
                    break;
                }
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
    fn to_str(&mut self, s: &'i str) -> Str {
        self.strs.get(s)
    }

    #[inline]
    fn key_value_fast(&mut self) -> Option<KeyValue> {
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
            ("stringValue", Node::String(s)) => AnyValue::String(self.strs.get(s)),
            ("intValue", Node::String(s)) => AnyValue::Int(parse_i64(s)?),
            ("intValue", Node::Static(StaticNode::I64(n))) => AnyValue::Int(n),
            ("boolValue", Node::Static(StaticNode::Bool(b))) => AnyValue::Bool(b),
            ("doubleValue", Node::Static(StaticNode::F64(f))) => AnyValue::Double(f),
            _ => return None,
        };
        self.pos += nodes.len();
        Some(KeyValue { key: self.strs.get(key), value })
    }
}
