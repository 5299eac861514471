//! The scalar reference: serde_json parses into a `serde_json::Value`, and the
//! same walk as the simd-json path ([`super::parse`]) reads the model out of
//! it. Benches compare the two JSON engines on identical rules (and the same
//! string handling); tests check that both accept and reject the same
//! documents. serde_json stops at 128 levels of nesting, which also bounds
//! the walk's recursion.

use serde_json::Value;

use super::JsonError;
use super::parse::{self, Reader, RetryKey, Scalar, StrCache, expected};
use crate::model::{LogsData, MetricsData, Str, TracesData};

/// Parses an OTLP/JSON trace batch with serde_json (the reference for
/// [`super::parse_traces`]).
pub fn parse_traces_serde(input: &[u8]) -> Result<TracesData, JsonError> {
    let root: Value = serde_json::from_slice(input).map_err(JsonError::syntax)?;
    parse::traces(&mut ValueReader { cur: &root, strs: StrCache::new(input.len()) })
}

/// Parses an OTLP/JSON metrics batch with serde_json.
pub fn parse_metrics_serde(input: &[u8]) -> Result<MetricsData, JsonError> {
    let root: Value = serde_json::from_slice(input).map_err(JsonError::syntax)?;
    parse::metrics(&mut ValueReader { cur: &root, strs: StrCache::new(input.len()) })
}

/// Parses an OTLP/JSON logs batch with serde_json.
pub fn parse_logs_serde(input: &[u8]) -> Result<LogsData, JsonError> {
    let root: Value = serde_json::from_slice(input).map_err(JsonError::syntax)?;
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
