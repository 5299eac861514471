//! Attribute values, key-value pairs and the instrumentation scope.

use super::Str;

/// An attribute or log-body value: OTLP `AnyValue`.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum AnyValue {
    /// No value (an `AnyValue` with its oneof unset).
    #[default]
    Empty,
    /// A UTF-8 string.
    String(Str),
    /// A boolean.
    Bool(bool),
    /// A signed 64-bit integer.
    Int(i64),
    /// A double (NaN and infinities allowed).
    Double(f64),
    /// Raw bytes.
    Bytes(bytes::Bytes),
    /// A homogeneous or mixed array of values.
    Array(Vec<AnyValue>),
    /// A nested list of key-value pairs.
    KvList(Vec<KeyValue>),
}

/// A key and its value: OTLP `KeyValue`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeyValue {
    /// The attribute key.
    pub key: Str,
    /// The attribute value.
    pub value: AnyValue,
}

impl KeyValue {
    /// A key-value pair from anything that converts.
    pub fn new(key: impl Into<Str>, value: impl Into<AnyValue>) -> Self {
        KeyValue { key: key.into(), value: value.into() }
    }
}

impl From<&'static str> for AnyValue {
    fn from(v: &'static str) -> Self {
        AnyValue::String(Str::from_static(v))
    }
}
impl From<String> for AnyValue {
    fn from(v: String) -> Self {
        AnyValue::String(v.into())
    }
}
impl From<Str> for AnyValue {
    fn from(v: Str) -> Self {
        AnyValue::String(v)
    }
}
impl From<bool> for AnyValue {
    fn from(v: bool) -> Self {
        AnyValue::Bool(v)
    }
}
impl From<i64> for AnyValue {
    fn from(v: i64) -> Self {
        AnyValue::Int(v)
    }
}
impl From<i32> for AnyValue {
    fn from(v: i32) -> Self {
        AnyValue::Int(v.into())
    }
}
impl From<u32> for AnyValue {
    fn from(v: u32) -> Self {
        AnyValue::Int(v.into())
    }
}
impl From<f64> for AnyValue {
    fn from(v: f64) -> Self {
        AnyValue::Double(v)
    }
}
impl From<Vec<u8>> for AnyValue {
    fn from(v: Vec<u8>) -> Self {
        AnyValue::Bytes(v.into())
    }
}
impl From<Vec<AnyValue>> for AnyValue {
    fn from(v: Vec<AnyValue>) -> Self {
        AnyValue::Array(v)
    }
}
impl From<Vec<KeyValue>> for AnyValue {
    fn from(v: Vec<KeyValue>) -> Self {
        AnyValue::KvList(v)
    }
}

/// The library that produced the telemetry: OTLP `InstrumentationScope`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InstrumentationScope {
    /// Scope name, e.g. the crate name.
    pub name: Str,
    /// Scope version.
    pub version: Str,
    /// Scope attributes.
    pub attributes: Vec<KeyValue>,
    /// Attributes the producer discarded.
    pub dropped_attributes_count: u32,
}

impl InstrumentationScope {
    /// A scope with a name and version and no attributes.
    pub fn new(name: impl Into<Str>, version: impl Into<Str>) -> Self {
        InstrumentationScope { name: name.into(), version: version.into(), ..Default::default() }
    }
}

/// The entity that produced the telemetry: OTLP `Resource`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resource {
    /// Resource attributes (`service.name`, `host.name`, ...).
    pub attributes: Vec<KeyValue>,
    /// Attributes the producer discarded.
    pub dropped_attributes_count: u32,
}

impl Resource {
    /// A resource with the given attributes.
    pub fn new(attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        Resource { attributes: attributes.into_iter().collect(), dropped_attributes_count: 0 }
    }

    /// Adds one attribute.
    pub fn with(mut self, key: impl Into<Str>, value: impl Into<AnyValue>) -> Self {
        self.attributes.push(KeyValue::new(key, value));
        self
    }
}
