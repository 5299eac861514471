//! The messages every signal shares: `AnyValue`, `KeyValue`, `Resource`,
//! `InstrumentationScope`. Each validator accepts what the decoder's
//! function of the same message accepts (`decode/common.rs`), in the same
//! order of checks.

use super::{Checker, List, Merged, Value};
use crate::encode::Field;
use crate::encode::decode::common::{PendingValue, UsualValue, usual_key_value};
use crate::encode::decode::dropped::ENTITY_REF;
use crate::encode::decode::reader::fields;
use crate::encode::decode::{Message, R, invalid, within};
use crate::model::{AnyValue, KeyValue};

impl Checker<'_> {
    /// An `AnyValue`'s fields, merged into what `p` and `held` (the tag of
    /// the oneof's variant so far, 0 for none) say of the value: as the
    /// decoder's `any_value`, a list variant given again merges into the one
    /// held, any other replaces it.
    pub(super) fn check_any_value(&mut self, end: usize, depth: u32, p: &mut PendingValue, held: &mut u32) -> R<()> {
        fields!(self, end, depth, Message::AnyValue, |tag, wt| {
            1 => self.check_string(wt, end).map(|()| replaced(p, held, 1)),
            2 => self.bool(wt, end).map(|_| replaced(p, held, 2)),
            3 => self.uint64(wt, end).map(|_| replaced(p, held, 3)),
            4 => self.double(wt, end).map(|_| replaced(p, held, 4)),
            5 => self.message(wt, end, depth).and_then(|(e, d)| {
                let ((), inner) = self.variant(|s| s.check_array_value(e, d))?;
                if *held != 5 {
                    replaced(p, held, 5);
                }
                p.merged(inner);
                Ok(())
            }),
            6 => self.message(wt, end, depth).and_then(|(e, d)| {
                let ((), inner) = self.variant(|s| s.check_key_value_list(e, d))?;
                if *held != 6 {
                    replaced(p, held, 6);
                }
                p.merged(inner);
                Ok(())
            }),
            7 => self.len_delimited(wt, end).map(|_| replaced(p, held, 7)),
            8 => self.int32(wt, end).map(|_| {
                replaced(p, held, 8);
                p.strindex = true;
            }),
        });
        Ok(())
    }

    /// A whole `AnyValue`, with its checks applied: an array's element.
    fn check_any_value_element(&mut self, end: usize, depth: u32) -> R<()> {
        self.holds::<AnyValue>(1);
        let (mut p, mut held) = (PendingValue::default(), 0);
        self.check_any_value(end, depth, &mut p, &mut held)?;
        p.finish(&mut self.defer)
    }

    fn check_array_value(&mut self, end: usize, depth: u32) -> R<()> {
        fields!(self, end, depth, Message::ArrayValue, |tag, wt| {
            1 => self.message(wt, end, depth).and_then(|(e, d)| self.check_any_value_element(e, d)),
        });
        Ok(())
    }

    fn check_key_value_list(&mut self, end: usize, depth: u32) -> R<()> {
        fields!(self, end, depth, Message::KeyValueList, |tag, wt| {
            1 => self.check_key_value(wt, end, depth),
        });
        Ok(())
    }

    /// One element of a repeated `KeyValue` field. Inlined into every
    /// message's field loop: most attributes take the straight path, and a
    /// call per attribute would cost about as much as checking it.
    #[inline(always)]
    pub(super) fn check_key_value(&mut self, wt: u8, end: usize, depth: u32) -> R<()> {
        let (end, depth) = self.message(wt, end, depth)?;
        self.holds::<KeyValue>(1);
        if self.quick_key_value(end, depth) {
            return Ok(());
        }
        self.check_key_value_fields(end, depth)
    }

    /// A `KeyValue`'s fields, read by the general loop.
    #[inline(never)]
    fn check_key_value_fields(&mut self, end: usize, depth: u32) -> R<()> {
        let (mut p, mut held) = (PendingValue::default(), 0);
        let mut key_strindex = 0;
        fields!(self, end, depth, Message::KeyValue, |tag, wt| {
            1 => self.check_string(wt, end),
            2 => self.message(wt, end, depth).and_then(|(e, d)| self.check_any_value(e, d, &mut p, &mut held)),
            3 => self.int32(wt, end).map(|x| key_strindex = x),
        });
        if key_strindex != 0 {
            self.defer.invalid_when_final(invalid(Field::Key, "key_strindex is only valid in profiles"))?;
        }
        p.finish(&mut self.defer)
    }

    /// A key-value of the usual shape (`usual_key_value`), checked on a
    /// straight path: true, with the cursor at `end`, when the body is that
    /// and its strings are UTF-8; false, with the cursor unmoved, for the
    /// general loop to read and judge.
    #[inline(always)]
    fn quick_key_value(&mut self, end: usize, depth: u32) -> bool {
        use crate::simd::{is_ascii_short, validate_utf8};
        let Some((key, value)) = usual_key_value(self.buf, self.pos, end, depth) else { return false };
        let ok = match value {
            // In this shape every byte but the strings' is ASCII (the keys,
            // and lengths under 128): an ASCII body settles both strings at
            // once, and only another body needs them checked one by one.
            UsualValue::String(r) => {
                is_ascii_short(&self.buf[self.pos..end]) || validate_utf8(&self.buf[key]) && validate_utf8(&self.buf[r])
            }
            _ => validate_utf8(&self.buf[key]),
        };
        if ok {
            self.pos = end;
        }
        ok
    }

    /// One occurrence of a `Resource` field.
    pub(super) fn check_resource(&mut self, wt: u8, end: usize, depth: u32) -> R<()> {
        let (end, depth) = self.message(wt, end, depth)?;
        fields!(self, end, depth, Message::Resource, |tag, wt| {
            1 => self.check_key_value(wt, end, depth),
            2 => self.uint32(wt, end).map(drop),
            3 => self.message(wt, end, depth).and_then(|(e, d)| self.validate(&ENTITY_REF, e, d)),
        });
        Ok(())
    }

    /// One occurrence of an `InstrumentationScope` field.
    pub(super) fn check_scope(&mut self, wt: u8, end: usize, depth: u32) -> R<()> {
        let (end, depth) = self.message(wt, end, depth)?;
        fields!(self, end, depth, Message::InstrumentationScope, |tag, wt| {
            1 => self.check_string(wt, end),
            2 => self.check_string(wt, end),
            3 => self.check_key_value(wt, end, depth),
            4 => self.uint32(wt, end).map(drop),
        });
        Ok(())
    }
}

/// Variant `tag` replaced the one `held`, and what `p` gathered of it.
#[inline]
fn replaced(p: &mut PendingValue, held: &mut u32, tag: u32) {
    p.replaced();
    *held = tag;
}

/// An `AnyValue`, borrowed from the body (the model's `AnyValue`).
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum AnyValueView<'a> {
    /// No value set.
    Empty,
    /// `string_value`.
    String(&'a str),
    /// `bool_value`.
    Bool(bool),
    /// `int_value`.
    Int(i64),
    /// `double_value`.
    Double(f64),
    /// `bytes_value`.
    Bytes(&'a [u8]),
    /// `array_value`: its elements.
    Array(List<'a, AnyValueView<'a>>),
    /// `kvlist_value`: its entries.
    KvList(List<'a, KeyValueView<'a>>),
}

impl<'a> AnyValueView<'a> {
    /// A plain `AnyValue` body (an array element).
    pub(super) fn element(body: &'a [u8]) -> Self {
        // A plain body's merged fields are its fields: read them directly.
        Self::read(Merged::plain(body), super::Fields::new(body))
    }

    /// The value a (possibly merged) `AnyValue` holds: the oneof's last
    /// variant; for a message variant, its last run of occurrences (prost
    /// merges a variant given twice in a row, and starts afresh after
    /// another variant).
    pub(super) fn merged(m: Merged<'a>) -> Self {
        Self::read(m, m.fields())
    }

    /// [`AnyValueView::merged`] of `m`, whose fields are `fields`.
    #[inline]
    fn read(m: Merged<'a>, fields: impl Iterator<Item = (u32, Value<'a>)>) -> Self {
        let mut v = AnyValueView::Empty;
        let mut last = 0;
        // Occurrences of the array (5) and list (6) variants so far, and of
        // the last variant before its current run.
        let mut seen = [0u32; 2];
        let mut skip = 0;
        for (tag, x) in fields {
            match tag {
                1 => v = AnyValueView::String(x.str()),
                2 => v = AnyValueView::Bool(x.u64() != 0),
                3 => v = AnyValueView::Int(x.u64() as i64),
                4 => v = AnyValueView::Double(x.f64()),
                7 => v = AnyValueView::Bytes(x.bytes()),
                // `string_value_strindex`: rejected by validation if final.
                8 => v = AnyValueView::Empty,
                5 | 6 => {
                    let i = (tag - 5) as usize;
                    if last != tag {
                        skip = seen[i];
                    }
                    seen[i] += 1;
                }
                _ => continue,
            }
            last = tag;
        }
        match last {
            5 => AnyValueView::Array(List::new(m.sub(5, skip), 1, AnyValueView::element)),
            6 => AnyValueView::KvList(List::new(m.sub(6, skip), 1, KeyValueView::new)),
            _ => v,
        }
    }
}

/// A `KeyValue`, borrowed from the body.
#[derive(Clone, Copy, Debug)]
pub struct KeyValueView<'a> {
    /// The key.
    pub key: &'a str,
    /// The value (empty when none was given).
    pub value: AnyValueView<'a>,
}

impl<'a> KeyValueView<'a> {
    pub(super) fn new(body: &'a [u8]) -> Self {
        // The usual shape first, as the decoder reads it. Validation has
        // passed, so the recursion budget no longer matters: 1 lets a value in.
        if let Some((key, value)) = usual_key_value(body, 0, body.len(), 1) {
            let value = match value {
                UsualValue::Absent | UsualValue::Empty => AnyValueView::Empty,
                UsualValue::String(r) => AnyValueView::String(Value::Len(&body[r]).str()),
                UsualValue::Bool(b) => AnyValueView::Bool(b),
                UsualValue::Int(x) => AnyValueView::Int(x as i64),
                UsualValue::Double(x) => AnyValueView::Double(f64::from_bits(x)),
                UsualValue::Bytes(r) => AnyValueView::Bytes(&body[r]),
            };
            return KeyValueView { key: Value::Len(&body[key]).str(), value };
        }
        let mut key = "";
        let mut values = 0;
        let mut first: &[u8] = &[];
        for (tag, x) in super::Fields::new(body) {
            match tag {
                1 => key = x.str(),
                2 => {
                    values += 1;
                    first = x.bytes();
                }
                _ => {}
            }
        }
        let value = match values {
            0 => AnyValueView::Empty,
            // The usual case: one value, read as a plain message.
            1 => AnyValueView::element(first),
            _ => AnyValueView::merged(Merged::plain(body).sub(2, 0)),
        };
        KeyValueView { key, value }
    }
}

/// The attributes of a message: field `tag` of `parent`.
pub(super) fn attributes(parent: Merged<'_>, tag: u32) -> List<'_, KeyValueView<'_>> {
    List::new(parent, tag, KeyValueView::new)
}

/// A `Resource` (every occurrence of the field, merged).
#[derive(Clone, Copy, Debug)]
pub struct ResourceView<'a>(Merged<'a>);

impl<'a> ResourceView<'a> {
    /// The resource that field `tag` of `parent` holds.
    pub(super) fn new(parent: &'a [u8], tag: u32) -> Self {
        ResourceView(Merged::plain(parent).sub(tag, 0))
    }

    /// The resource's attributes.
    pub fn attributes(&self) -> List<'a, KeyValueView<'a>> {
        attributes(self.0, 1)
    }

    /// `dropped_attributes_count`.
    pub fn dropped_attributes_count(&self) -> u32 {
        self.0.last(2).map_or(0, Value::u32)
    }
}

/// An `InstrumentationScope` (every occurrence of the field, merged).
#[derive(Clone, Copy, Debug)]
pub struct ScopeView<'a>(Merged<'a>);

impl<'a> ScopeView<'a> {
    /// The scope that field `tag` of `parent` holds.
    pub(super) fn new(parent: &'a [u8], tag: u32) -> Self {
        ScopeView(Merged::plain(parent).sub(tag, 0))
    }

    /// The scope's name.
    pub fn name(&self) -> &'a str {
        self.0.last(1).map_or("", Value::str)
    }

    /// The scope's version.
    pub fn version(&self) -> &'a str {
        self.0.last(2).map_or("", Value::str)
    }

    /// The scope's attributes.
    pub fn attributes(&self) -> List<'a, KeyValueView<'a>> {
        attributes(self.0, 3)
    }

    /// `dropped_attributes_count`.
    pub fn dropped_attributes_count(&self) -> u32 {
        self.0.last(4).map_or(0, Value::u32)
    }
}

/// A `schema_url`-like string field `tag` of a plain message: the last one.
pub(super) fn last_str(body: &[u8], tag: u32) -> &str {
    Merged::plain(body).last(tag).map_or("", Value::str)
}
