//! The messages the model drops (exemplars, entity refs, summaries): their
//! schemas, checked on the wire as prost's decode of them would.

use super::reader::Cursor;
use super::{Message, R, WireErrorKind, wire, within};

impl Cursor<'_> {
    /// Checks a message the model drops against its schema, as prost's
    /// decode of it would.
    pub(crate) fn validate(&mut self, schema: &'static Schema, end: usize, depth: u32) -> R<()> {
        while self.pos < end {
            let (tag, wt) = self.key(end).map_err(|e| within(e, schema.message, 0))?;
            let kind = schema.fields.iter().find(|(t, _)| *t == tag).map(|(_, k)| *k);
            let r = match kind {
                None => self.skip(wt, tag, end, depth),
                Some(Kind::Varint) => self.uint64(wt, end).map(drop),
                Some(Kind::Fixed64) => self.fixed64(wt, end).map(drop),
                Some(Kind::Bytes) => self.len_delimited(wt, end).map(drop),
                Some(Kind::Str) => self.len_delimited(wt, end).and_then(|r| {
                    if crate::simd::validate_utf8(&self.buf[r]) {
                        Ok(())
                    } else {
                        Err(wire(WireErrorKind::InvalidString))
                    }
                }),
                Some(Kind::Msg(inner)) => self.message(wt, end, depth).and_then(|(e, d)| self.validate(inner, e, d)),
            };
            r.map_err(|e| within(e, schema.message, tag))?;
        }
        Ok(())
    }
}

/// A field type, as far as checking it on the wire needs.
#[derive(Clone, Copy)]
enum Kind {
    Varint,
    Fixed64,
    Bytes,
    Str,
    Msg(&'static Schema),
}

/// The fields of a message the model drops.
pub(crate) struct Schema {
    message: Message,
    fields: &'static [(u32, Kind)],
}

static KEY_VALUE: Schema =
    Schema { message: Message::KeyValue, fields: &[(1, Kind::Str), (2, Kind::Msg(&ANY_VALUE)), (3, Kind::Varint)] };
static ANY_VALUE: Schema = Schema {
    message: Message::AnyValue,
    fields: &[
        (1, Kind::Str),
        (2, Kind::Varint),
        (3, Kind::Varint),
        (4, Kind::Fixed64),
        (5, Kind::Msg(&ARRAY_VALUE)),
        (6, Kind::Msg(&KEY_VALUE_LIST)),
        (7, Kind::Bytes),
        (8, Kind::Varint),
    ],
};
static ARRAY_VALUE: Schema = Schema { message: Message::ArrayValue, fields: &[(1, Kind::Msg(&ANY_VALUE))] };
static KEY_VALUE_LIST: Schema = Schema { message: Message::KeyValueList, fields: &[(1, Kind::Msg(&KEY_VALUE))] };
pub(crate) static EXEMPLAR: Schema = Schema {
    message: Message::Exemplar,
    fields: &[
        (7, Kind::Msg(&KEY_VALUE)),
        (2, Kind::Fixed64),
        (4, Kind::Bytes),
        (5, Kind::Bytes),
        (3, Kind::Fixed64),
        (6, Kind::Fixed64),
    ],
};
pub(crate) static ENTITY_REF: Schema =
    Schema { message: Message::EntityRef, fields: &[(1, Kind::Str), (2, Kind::Str), (3, Kind::Str), (4, Kind::Str)] };
static VALUE_AT_QUANTILE: Schema =
    Schema { message: Message::ValueAtQuantile, fields: &[(1, Kind::Fixed64), (2, Kind::Fixed64)] };
static SUMMARY_DATA_POINT: Schema = Schema {
    message: Message::SummaryDataPoint,
    fields: &[
        (7, Kind::Msg(&KEY_VALUE)),
        (2, Kind::Fixed64),
        (3, Kind::Fixed64),
        (4, Kind::Fixed64),
        (5, Kind::Fixed64),
        (6, Kind::Msg(&VALUE_AT_QUANTILE)),
        (8, Kind::Varint),
    ],
};
pub(crate) static SUMMARY: Schema =
    Schema { message: Message::Summary, fields: &[(1, Kind::Msg(&SUMMARY_DATA_POINT))] };
