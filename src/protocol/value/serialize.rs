//! `Serialize` for [`Value`]: writing a value in any `serde` format.

use serde::ser::{Serialize, Serializer};

use super::Value;

/// Serializes an integer with the narrowest `serde` method that holds it.
pub(crate) fn serialize_integer<S: Serializer>(i: i128, serializer: S) -> Result<S::Ok, S::Error> {
    if let Ok(i) = i64::try_from(i) {
        serializer.serialize_i64(i)
    } else if let Ok(u) = u64::try_from(i) {
        serializer.serialize_u64(u)
    } else {
        serializer.serialize_i128(i)
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Integer(i) => serialize_integer(*i, serializer),
            Value::Float(f) => serializer.serialize_f64(*f),
            Value::String(s) => serializer.serialize_str(s),
            Value::Bytes(b) => serializer.serialize_bytes(b),
            Value::List(list) => list.serialize(serializer),
            Value::Dict(dict) => dict.serialize(serializer),
        }
    }
}
