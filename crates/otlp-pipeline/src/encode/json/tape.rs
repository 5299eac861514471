//! The simd-json path: parse to simd-json's flat tape, then walk the tape
//! directly into the model ([`super::parse`]), with no value tree in between.
//! Strings are copied out of the tape through a [`StrCache`], so recurring
//! ones share one allocation.
//!
//! With a [`DecodeBudget`], the memory a parse takes is charged before it is
//! allocated: simd-json's buffers and tape, and the copies of the document's
//! strings, from a bound computed in one pass over the input
//! ([`parse_memory_bound`]); the model's vectors as they grow.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashSet;

use simd_json::{Buffers, Node, StaticNode, Tape};

use super::JsonError;
use super::parse::{
    self, FIELDS, Field, Reader, Scalar, StrCache, camel_case, duplicate_key, expected, member_name, parse_i64,
};
use crate::encode::{DecodeBudget, Meter};
use crate::model::{AnyValue, KeyValue, LogsData, MetricsData, Str, TracesData};

/// Parses an OTLP/JSON trace batch (`ExportTraceServiceRequest` or
/// `TracesData`) with simd-json, without a memory budget
/// ([`parse_traces_within`] with [`DecodeBudget::UNLIMITED`]). The input is
/// modified in place (simd-json unescapes strings where they stand).
pub fn parse_traces(input: &mut [u8]) -> Result<TracesData, JsonError> {
    parse_traces_within(input, DecodeBudget::UNLIMITED)
}

/// Parses an OTLP/JSON metrics batch with simd-json (see [`parse_traces`]).
pub fn parse_metrics(input: &mut [u8]) -> Result<MetricsData, JsonError> {
    parse_metrics_within(input, DecodeBudget::UNLIMITED)
}

/// Parses an OTLP/JSON logs batch with simd-json (see [`parse_traces`]).
pub fn parse_logs(input: &mut [u8]) -> Result<LogsData, JsonError> {
    parse_logs_within(input, DecodeBudget::UNLIMITED)
}

/// Parses an OTLP/JSON trace batch allocating at most `budget` bytes for the
/// parse and the model: simd-json's buffers and tape, the strings and the
/// model's vectors. Over budget, it fails before allocating what would take
/// it over, with a [`JsonError`] whose [`JsonError::over_budget`] is the
/// limit (and which converts to
/// [`EncodeError::OverBudget`](crate::encode::EncodeError::OverBudget)).
///
/// JSON takes more memory to parse than protobuf to decode: besides the
/// model, simd-json keeps a copy of the input, a string buffer as large as
/// it and a 24-byte tape node per value, and the model's strings are copies
/// rather than slices of the body. The charge for these is an upper bound
/// computed from the input before parsing, about 15 times the size of
/// typical OTLP/JSON (38 times for a document of nothing but `{},` or
/// one-digit numbers), so a budget admits JSON bodies several times smaller
/// than protobuf ones.
pub fn parse_traces_within(input: &mut [u8], budget: DecodeBudget) -> Result<TracesData, JsonError> {
    with_tape(input, budget, |r| parse::traces(r))
}

/// Parses an OTLP/JSON metrics batch within `budget` (see [`parse_traces_within`]).
pub fn parse_metrics_within(input: &mut [u8], budget: DecodeBudget) -> Result<MetricsData, JsonError> {
    with_tape(input, budget, |r| parse::metrics(r))
}

/// Parses an OTLP/JSON logs batch within `budget` (see [`parse_traces_within`]).
pub fn parse_logs_within(input: &mut [u8], budget: DecodeBudget) -> Result<LogsData, JsonError> {
    with_tape(input, budget, |r| parse::logs(r))
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

/// Parses `input` to a tape and walks it with a [`TapeReader`] charging
/// `budget`. A limited budget is first charged [`parse_memory_bound`], and
/// the tape is then reserved to the bound, so that simd-json does not grow it.
fn with_tape<T>(
    input: &mut [u8],
    budget: DecodeBudget,
    walk: impl FnOnce(&mut TapeReader<'_, '_>) -> Result<T, JsonError>,
) -> Result<T, JsonError> {
    let len = input.len();
    let mut meter = Meter::new(budget);
    let nodes = if budget == DecodeBudget::UNLIMITED {
        None
    } else {
        let bound = ParseBound::of(input);
        meter.charge(bound.bytes())?;
        Some(bound.nodes)
    };
    let (mut buffers, tape) = SCRATCH.take().unwrap_or_else(|| {
        // Documents of this shape make about one node per 8 bytes; with a
        // bound, the tape is reserved to it below.
        let capacity = if nodes.is_some() { 0 } else { len / 6 + 1 };
        (Buffers::with_max_depth(len, MAX_DEPTH), Tape(Vec::with_capacity(capacity)))
    });
    let mut tape = tape.reset();
    if let Some(nodes) = nodes {
        tape.0.reserve_exact(nodes);
    }
    let parsed = simd_json::fill_tape(input, &mut buffers, &mut tape).map_err(JsonError::syntax);
    let result = parsed.and_then(|()| walk(&mut TapeReader::new(&tape.0, len, meter)));
    if len <= MAX_REUSED_INPUT {
        SCRATCH.set(Some((buffers, tape.reset())));
    }
    result
}

/// An upper bound on the memory a parse of a document takes besides the
/// model's vectors, from one pass over its bytes.
///
/// simd-json's first stage marks every structural character (`{}[]:,`
/// outside strings), every opening quote, and every first byte of a scalar
/// (a non-space byte outside strings after a space, a structural character
/// or a quote); the second stage reserves one tape node per mark. A
/// document has at most as many marks as it has structural characters, half
/// its quotes (rounded up), and runs of other bytes, which this counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ParseBound {
    len: usize,
    /// The most tape nodes (structural marks) the parse can make.
    nodes: usize,
}

impl ParseBound {
    fn of(input: &[u8]) -> ParseBound {
        // Counted pairwise (each byte with the one before it) over chunks in
        // u32 lanes, so that the loop vectorizes.
        const CHUNK: usize = 1 << 16;
        let first = input.first().map_or(SPACE, |&b| byte_class(b));
        let (mut structural, mut quotes, mut runs) =
            (usize::from(first == STRUCTURAL), usize::from(first == QUOTE), usize::from(first == OTHER));
        let rest = input.get(1..).unwrap_or_default();
        for (cur, prev) in rest.chunks(CHUNK).zip(input.chunks(CHUNK)) {
            let (mut s, mut q, mut r) = (0u32, 0u32, 0u32);
            for (&b, &a) in cur.iter().zip(prev) {
                let class = byte_class(b);
                s += u32::from(class == STRUCTURAL);
                q += u32::from(class == QUOTE);
                r += u32::from((class == OTHER) & (byte_class(a) != OTHER));
            }
            structural += s as usize;
            quotes += q as usize;
            runs += r as usize;
        }
        ParseBound { len: input.len(), nodes: structural + quotes.div_ceil(2) + runs }
    }

    /// The bytes to charge: every buffer simd-json may allocate or grow for
    /// this input (sizes from simd-json 0.19's `Buffers::with_max_depth`,
    /// `fill_tape` and its two stages: each term allows for a buffer reused
    /// from an earlier parse that must double to fit), the tape, and the
    /// strings and bytes the walk copies out.
    fn bytes(self) -> usize {
        // Saturating throughout: on a 32-bit target a large input must not
        // wrap round to a small charge.
        let (len, nodes) = (self.len, self.nodes);
        let times = usize::saturating_mul;
        let node = size_of::<Node<'static>>();
        // The string buffer and the aligned copy of the input.
        let buffers = times(2, len.saturating_add(32)).saturating_add(len).saturating_add(128);
        // The structural indexes (u32), first reserved to len/8, then
        // doubled as marks are pushed (64 at a time).
        let indexes = times(4, (len / 4).max(times(2, nodes).saturating_add(128)));
        // The second stage's stack of 24-byte states, at most the nesting
        // depth deep but first reserved to len/128.
        let stack = times(24 * 2, len / 128 + 256);
        // Model strings: one copy per occurrence at most (unescaped, so no
        // longer than the raw string), packed in 8 KiB chunks that waste at
        // most 256 bytes each, or a bare copy for long strings; decoded
        // base64 takes 3/4 of its text. The string cache's slots on top.
        let strings = times(2, len).saturating_add(64 << 10);
        times(node, nodes).saturating_add(buffers).saturating_add(indexes).saturating_add(stack).saturating_add(strings)
    }
}

const OTHER: u8 = 0;
const STRUCTURAL: u8 = 1;
const QUOTE: u8 = 2;
const SPACE: u8 = 3;

/// What simd-json's first stage sees in a byte.
#[inline(always)]
fn byte_class(b: u8) -> u8 {
    match b {
        b'{' | b'}' | b'[' | b']' | b':' | b',' => STRUCTURAL,
        b'"' => QUOTE,
        b' ' | b'\t' | b'\n' | b'\r' => SPACE,
        _ => OTHER,
    }
}

/// A cursor over the tape. The tape is well formed by construction, but every
/// read is bounds-checked anyway: a node past the end reads as `null`, which
/// no caller accepts where a value is required, so nothing can panic.
struct TapeReader<'t, 'i> {
    nodes: &'t [Node<'i>],
    pos: usize,
    /// Charged for the model's vectors.
    meter: Meter,
    strs: StrCache,
    /// [`StrCache::get_hinted`]'s hints for the keys and the string values of
    /// canonical attributes, by the length of their list and their index in it.
    key_hints: [u16; HINTS],
    value_hints: [u16; HINTS],
    /// The same for the string fields of messages.
    field_hints: [u16; FIELDS],
}

/// Objects of up to this many members check each key against the earlier
/// ones, whose tape positions they keep on the stack (no allocation: an OTLP
/// message has at most 16 fields); larger ones use a hash set, so that a
/// hostile object of many keys costs linear time.
const LINEAR_KEYS: usize = 16;

/// What the hash set of a large object's keys is charged per member: a
/// `Cow<str>` (24 bytes) and a control byte in a table at most 7/8 full and
/// rounded up to a power of two, so under 64 bytes; a snake_case key's
/// lowerCamelCase copy is charged its length besides.
const KEY_SET_BYTES: usize = 64;

/// Hints per kind of string; lists of the same length share a row.
const HINTS: usize = 256;

/// The hint for the `i`th attribute of a list of `len`.
#[inline]
fn hint_index(len: usize, i: usize) -> usize {
    (len.wrapping_mul(16).wrapping_add(i)) % HINTS
}

const NULL: Node<'static> = Node::Static(StaticNode::Null);

impl<'t, 'i> TapeReader<'t, 'i> {
    fn new(nodes: &'t [Node<'i>], input_len: usize, meter: Meter) -> Self {
        TapeReader {
            nodes,
            pos: 0,
            meter,
            strs: StrCache::new(input_len),
            key_hints: [0; HINTS],
            value_hints: [0; HINTS],
            field_hints: [0; FIELDS],
        }
    }

    /// The members of the object whose first key is at the cursor (see
    /// [`Reader::object`]).
    #[inline]
    fn members<F>(&mut self, len: usize, f: &mut F) -> Result<(), JsonError>
    where
        F: FnMut(&mut Self, &str) -> Result<bool, JsonError>,
    {
        // The tape positions of the earlier keys, or a set of their names.
        let mut earlier = [0usize; LINEAR_KEYS];
        let mut many = None;
        if len > LINEAR_KEYS {
            self.meter.charge(len.saturating_mul(KEY_SET_BYTES))?;
            many = Some(HashSet::with_capacity(len));
        }
        // Whether an earlier key has a `_` (then names are compared in
        // their lowerCamelCase form).
        let mut snake = false;
        // Holds the camelCase form of an unknown snake_case key.
        let mut camel = String::new();
        for i in 0..len {
            let at = self.pos;
            let Node::String(key) = self.peek() else {
                return Err(expected("an object key", self.scalar()));
            };
            self.pos += 1;
            let repeated = match &mut many {
                Some(set) => {
                    let name = member_name(key);
                    if let Cow::Owned(copy) = &name {
                        self.meter.charge(copy.len())?;
                    }
                    !set.insert(name)
                }
                None => {
                    let has_snake = key.as_bytes().contains(&b'_');
                    let nodes = self.nodes;
                    let mut before = earlier[..i].iter().filter_map(|&p| match nodes.get(p) {
                        Some(Node::String(k)) => Some(*k),
                        _ => None,
                    });
                    let repeated = if has_snake || snake {
                        let name = member_name(key);
                        before.any(|k| member_name(k) == name)
                    } else {
                        before.any(|k| k == key)
                    };
                    snake |= has_snake;
                    earlier[i] = at;
                    repeated
                }
            };
            if repeated {
                return Err(duplicate_key(key).at_key(key));
            }
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
                    self.skip_unknown().map_err(|e| e.at_key(key))?;
                    break;
                }
                retried = true;
                name = &camel;
            }
        }
        Ok(())
    }

    /// Skips an unknown member's value, checking the keys of the objects in
    /// it as [`Reader::object`] does (the serde_json reader, which builds
    /// the whole tree first, refuses a key given twice wherever it is).
    fn skip_unknown(&mut self) -> Result<(), JsonError> {
        match self.peek() {
            Node::Object { .. } => self.object(|_, _| Ok(false)),
            Node::Array { len, .. } => {
                self.pos += 1;
                for i in 0..len {
                    self.skip_unknown().map_err(|e| e.at_index(i))?;
                }
                Ok(())
            }
            _ => {
                self.pos += 1;
                Ok(())
            }
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
        self.members(len, &mut f)
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
        let mut out = self.meter.with_capacity(len.min(MAX_PREALLOC))?;
        for i in 0..len {
            let x = f(self).map_err(|e| e.at_index(i))?;
            // Only arrays longer than `MAX_PREALLOC` grow.
            self.meter.push(&mut out, x).map_err(|e| JsonError::from(e).at_index(i))?;
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
        let mut out = self.meter.with_capacity(len.min(MAX_PREALLOC))?;
        for i in 0..len {
            self.meter.room(&mut out).map_err(|e| JsonError::from(e).at_index(i))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::json::{write_logs, write_metrics, write_traces};
    use crate::fixtures::{self, hostile};
    use crate::pipeline::BodyFormat;
    use proptest::prelude::*;

    /// The tape capacity simd-json reserves for `doc`: one node per mark of
    /// its first stage, reserved exactly on an empty tape.
    fn marks(doc: &[u8]) -> usize {
        let mut input = doc.to_vec();
        let mut buffers = Buffers::new(input.len());
        let mut tape = Tape(Vec::new());
        // Documents the second stage rejects fail after the reservation; ones
        // the first stage rejects (bad UTF-8, an unpaired quote) reserve
        // nothing.
        let _ = simd_json::fill_tape(&mut input, &mut buffers, &mut tape);
        tape.0.capacity()
    }

    fn documents() -> Vec<(String, Vec<u8>)> {
        let mut docs = Vec::new();
        let (mut t, mut m, mut l) = (Vec::new(), Vec::new(), Vec::new());
        write_traces(&fixtures::traces(fixtures::DEFAULT_SPANS), &mut t);
        write_metrics(&fixtures::metrics(fixtures::DEFAULT_POINTS), &mut m);
        write_logs(&fixtures::logs(fixtures::DEFAULT_LOGS), &mut l);
        docs.extend([("traces".into(), t), ("metrics".into(), m), ("logs".into(), l)]);
        for &kind in hostile::Kind::ALL {
            let a = kind.body(BodyFormat::Json, 64 << 10).expect("64 KiB holds every kind");
            docs.push((kind.name().into(), a.body));
        }
        let digits = format!("[{}0]", "1,".repeat(10_000));
        let spaced = format!("[ {} 0 ]", "1 , ".repeat(10_000));
        let garbage = "}1}1\"a\\\"b\" x y\tz".repeat(1000);
        for (name, doc) in [("digits", digits), ("spaced", spaced), ("garbage", garbage)] {
            docs.push((name.into(), doc.into_bytes()));
        }
        docs
    }

    #[test]
    fn the_bound_holds_every_mark_simd_json_makes() {
        for (name, doc) in documents() {
            let (marks, bound) = (marks(&doc), ParseBound::of(&doc).nodes);
            assert!(marks <= bound.max(4), "{name}: {marks} marks, bound {bound}");
            // Not so loose that an honest request pays several times over.
            if ["traces", "metrics", "logs"].contains(&name.as_str()) {
                assert!(bound <= marks * 2, "{name}: {marks} marks, bound {bound}");
            }
        }
    }

    proptest! {
        /// Documents of JSON's tokens in any order, strings whole (so that
        /// the first stage accepts them: valid UTF-8, quotes paired) and
        /// the second stage reserves the tape, whether or not it then
        /// rejects the document.
        #[test]
        fn the_bound_holds_for_any_sequence_of_tokens(tokens in proptest::collection::vec(
            prop_oneof![Just("{"), Just("}"), Just("["), Just("]"), Just(":"), Just(","), Just("\"a\""),
                Just("\"\""), Just("\"\\\"x\""), Just("\"é,{\""), Just(" "), Just("\n"), Just("1"), Just("-2.5e3"),
                Just("true"), Just("null"), Just("x")],
            1..200,
        )) {
            let doc = tokens.concat();
            prop_assume!(!doc.trim().is_empty());
            let (marks, bound) = (marks(doc.as_bytes()), ParseBound::of(doc.as_bytes()).nodes);
            prop_assert!(marks > 0, "the tape was reserved for {:?}", doc);
            prop_assert!(marks <= bound.max(4), "{} marks, bound {}", marks, bound);
        }
    }

    #[test]
    fn a_budget_leaves_the_result_as_it_was_or_refuses_it() {
        for (name, doc) in documents().into_iter().take(3) {
            let parse = |budget| {
                let mut input = doc.clone();
                match name.as_str() {
                    "traces" => parse_traces_within(&mut input, budget).map(|d| format!("{d:?}")),
                    "metrics" => parse_metrics_within(&mut input, budget).map(|d| format!("{d:?}")),
                    _ => parse_logs_within(&mut input, budget).map(|d| format!("{d:?}")),
                }
            };
            let whole = parse(DecodeBudget::UNLIMITED).expect("the fixture parses");
            let bound = ParseBound::of(&doc).bytes();
            assert_eq!(parse(DecodeBudget::bytes(64 << 20)).as_ref(), Ok(&whole), "{name} within 64 MiB");
            let refused = parse(DecodeBudget::bytes(bound - 1)).expect_err("the parse's own bound is charged first");
            assert_eq!(refused.over_budget(), Some(bound - 1), "{name}: {refused}");
            assert!(refused.to_string().contains("decode budget"), "{refused}");
            // Over the bound, what the model's vectors need decides.
            let mut budget = bound;
            let mut outcomes = (0, 0);
            while budget < (64 << 20) {
                match parse(DecodeBudget::bytes(budget)) {
                    Ok(d) => {
                        assert_eq!(d, whole, "{name} within {budget}");
                        outcomes.0 += 1;
                    }
                    Err(e) => {
                        assert_eq!(e.over_budget(), Some(budget), "{name} within {budget}: {e}");
                        outcomes.1 += 1;
                    }
                }
                budget += budget / 8;
            }
            assert!(outcomes.0 > 0 && outcomes.1 > 0, "{name}: {outcomes:?}: both sides of the model's size tried");
        }
    }
}
