//! The scalar reference: serde_json parses into a `serde_json::Value`, and the
//! same walk as the simd-json path ([`super::parse`]) reads the model out of
//! it. Benches compare the two JSON engines on identical rules (and the same
//! string handling); tests check that both accept and reject the same
//! documents. serde_json stops at 128 levels of nesting, which also bounds
//! the walk's recursion. The tree is built by [`Strict`], which refuses an
//! object holding a key twice as the tape reader does (serde_json's own
//! `Value` keeps the last one).

use std::fmt;

use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Number, Value};

use super::JsonError;
use super::parse::{self, Reader, RetryKey, Scalar, StrCache, expected, member_name};
use crate::model::{LogsData, MetricsData, Str, TracesData};

/// Parses an OTLP/JSON trace batch with serde_json (the reference for
/// [`super::parse_traces`]).
pub fn parse_traces_serde(input: &[u8]) -> Result<TracesData, JsonError> {
    let Strict(root) = serde_json::from_slice(input).map_err(JsonError::syntax)?;
    parse::traces(&mut ValueReader { cur: &root, strs: StrCache::new(input.len()) })
}

/// Parses an OTLP/JSON metrics batch with serde_json.
pub fn parse_metrics_serde(input: &[u8]) -> Result<MetricsData, JsonError> {
    let Strict(root) = serde_json::from_slice(input).map_err(JsonError::syntax)?;
    parse::metrics(&mut ValueReader { cur: &root, strs: StrCache::new(input.len()) })
}

/// Parses an OTLP/JSON logs batch with serde_json.
pub fn parse_logs_serde(input: &[u8]) -> Result<LogsData, JsonError> {
    let Strict(root) = serde_json::from_slice(input).map_err(JsonError::syntax)?;
    parse::logs(&mut ValueReader { cur: &root, strs: StrCache::new(input.len()) })
}

/// Points at the value the walk reads next; containers move it to each child
/// in turn.
struct ValueReader<'v> {
    cur: &'v Value,
    strs: StrCache,
}

impl<'v> Reader<'v> for ValueReader<'v> {
    fn scalar(&mut self) -> Scalar<'v> {
        match self.cur {
            Value::String(s) => Scalar::Str(s),
            Value::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => Scalar::I64(i),
                (None, Some(u)) => Scalar::U64(u),
                _ => Scalar::F64(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::Bool(b) => Scalar::Bool(*b),
            Value::Null => Scalar::Null,
            Value::Object(_) => Scalar::Object,
            Value::Array(_) => Scalar::Array,
        }
    }

    fn object<F>(&mut self, mut f: F) -> Result<(), JsonError>
    where
        F: FnMut(&mut Self, &str) -> Result<bool, JsonError>,
    {
        let Value::Object(members) = self.cur else {
            return Err(expected("an object", self.scalar()));
        };
        for (key, value) in members {
            if value.is_null() {
                continue;
            }
            let mut retry = RetryKey::new();
            loop {
                self.cur = value;
                if f(self, retry.name(key)).map_err(|e| e.at_key(key))? || !retry.next(key) {
                    break;
                }
            }
        }
        Ok(())
    }

    fn array<T, F>(&mut self, mut f: F) -> Result<Vec<T>, JsonError>
    where
        F: FnMut(&mut Self) -> Result<T, JsonError>,
    {
        let Value::Array(items) = self.cur else {
            return Err(expected("an array", self.scalar()));
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            self.cur = item;
            out.push(f(self).map_err(|e| e.at_index(i))?);
        }
        Ok(out)
    }

    fn next_str(&mut self) -> Option<&'v str> {
        match self.cur {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    fn to_str(&mut self, s: &'v str) -> Str {
        self.strs.get(s)
    }
}

/// A `serde_json::Value` built like serde_json's own, except that an object
/// holding a key twice, or a snake_case key beside its lowerCamelCase form
/// (`parse::member_name`), is an error wherever it is.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_f64<E>(self, x: f64) -> Result<Value, E> {
        Ok(Number::from_f64(x).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        // Whether a key so far has a `_`: only then are names compared in
        // their lowerCamelCase form (otherwise the map's own insert finds
        // a repeat, at no extra cost).
        let mut snake = false;
        while let Some(key) = map.next_key::<String>()? {
            let has_snake = key.contains('_');
            if has_snake || snake {
                let name = member_name(&key);
                if members.keys().any(|k| member_name(k) == name) {
                    return Err(A::Error::custom(parse::duplicate_key(&key)));
                }
            }
            snake |= has_snake;
            let Strict(value) = map.next_value()?;
            match members.entry(key) {
                Entry::Vacant(slot) => {
                    slot.insert(value);
                }
                Entry::Occupied(slot) => return Err(A::Error::custom(parse::duplicate_key(slot.key()))),
            }
        }
        Ok(Value::Object(members))
    }
}
