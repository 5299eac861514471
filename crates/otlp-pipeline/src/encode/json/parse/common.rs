//! The messages every signal shares: `AnyValue`, `KeyValue`, `Resource`,
//! `InstrumentationScope`.

use super::scalars::{boolean, bytes, double, int32, int64, string, uint32};
use super::{JsonError, Reader};
use crate::model::{AnyValue, InstrumentationScope, KeyValue, Resource};

/// Members are collected in `Option`s and assembled at the end: assigning
/// over a default model value would call its drop glue for every field.
pub(super) fn any_value<'s, R: Reader<'s>>(r: &mut R) -> Result<AnyValue, JsonError> {
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

pub(super) fn key_value<'s, R: Reader<'s>>(r: &mut R) -> Result<KeyValue, JsonError> {
    if let Some(kv) = r.key_value_fast() {
        return Ok(kv);
    }
    key_value_general(r)
}

/// A `KeyValue` of any shape: members in any order, values of any type.
pub(in crate::encode::json) fn key_value_general<'s, R: Reader<'s>>(r: &mut R) -> Result<KeyValue, JsonError> {
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

pub(super) fn attributes<'s, R: Reader<'s>>(r: &mut R) -> Result<Vec<KeyValue>, JsonError> {
    r.attributes()
}

pub(super) fn resource<'s, R: Reader<'s>>(r: &mut R) -> Result<Resource, JsonError> {
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

pub(super) fn scope<'s, R: Reader<'s>>(r: &mut R) -> Result<InstrumentationScope, JsonError> {
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
