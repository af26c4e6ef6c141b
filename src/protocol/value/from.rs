//! Conversions into [`Value`], and between [`Value`] and `serde_json::Value`.
//!
//! `serde_json::Value` is the one type of a dependency that the public API names, on
//! purpose: it is what `json!` builds and what most Rust code holds JSON in, and serde_json
//! has been at 1.x since 2017, so it ties our version to nothing that moves (as `serde`'s
//! traits do not). Any other dependency's types stay behind our own.

use super::{Dict, Value, ValueError};
use crate::protocol::json_binary::encode_base64;

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

macro_rules! from_integer {
    ($($t:ty)*) => {$(
        impl From<$t> for Value {
            fn from(i: $t) -> Self {
                // Lossless: every one of these types fits in an i128.
                Value::Integer(i as i128)
            }
        }
    )*};
}

from_integer!(i8 i16 i32 i64 i128 isize u8 u16 u32 u64 usize);

/// A `u128` becomes a [`Value::Integer`] when it fits in an `i128`.
impl TryFrom<u128> for Value {
    type Error = ValueError;

    fn try_from(i: u128) -> Result<Self, ValueError> {
        i128::try_from(i)
            .map(Value::Integer)
            .map_err(|_| ValueError::integer_too_large(i))
    }
}

impl From<f32> for Value {
    fn from(f: f32) -> Self {
        Value::Float(f64::from(f))
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<Vec<Value>> for Value {
    fn from(list: Vec<Value>) -> Self {
        Value::List(list)
    }
}

/// Clones the value, so that methods taking `impl Into<Value>` (such as
/// [`Value::or`] and [`Value::get_or`]) accept a borrowed one.
impl From<&Value> for Value {
    fn from(value: &Value) -> Self {
        value.clone()
    }
}

impl From<Dict> for Value {
    fn from(dict: Dict) -> Self {
        Value::Dict(dict)
    }
}

/// `None` becomes [`Value::Null`].
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(option: Option<T>) -> Self {
        option.map_or(Value::Null, Into::into)
    }
}

/// Collects into a [`Value::List`].
impl FromIterator<Value> for Value {
    fn from_iter<I: IntoIterator<Item = Value>>(iter: I) -> Self {
        Value::List(iter.into_iter().collect())
    }
}

/// Collects into a [`Value::Dict`].
impl FromIterator<(String, Value)> for Value {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Self {
        Value::Dict(iter.into_iter().collect())
    }
}

/// Numbers become [`Value::Integer`] when they are integers, else
/// [`Value::Float`]. Strings are kept as they are, even those following the
/// WAMP JSON binary convention (`"\u0000"` + base64).
impl From<serde_json::Value> for Value {
    fn from(json: serde_json::Value) -> Self {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Value::Integer(i.into())
                } else if let Some(u) = n.as_u64() {
                    Value::Integer(u.into())
                } else {
                    Value::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            serde_json::Value::String(s) => Value::String(s),
            serde_json::Value::Array(list) => list.into_iter().map(Value::from).collect(),
            serde_json::Value::Object(map) => map
                .into_iter()
                .map(|(key, value)| (key, Value::from(value)))
                .collect(),
        }
    }
}

/// Converts to JSON's value type, losing what JSON cannot hold:
///
/// * [`Value::Bytes`] becomes a string in the WAMP JSON binary convention: a
///   `\0` character followed by the standard base64 of the bytes (what a WAMP
///   JSON transport would carry).
/// * An integer beyond the `i64`/`u64` range becomes the nearest float.
/// * A NaN or infinite float becomes `null`.
///
/// ```
/// # use izaber_wamp::protocol::Value;
/// let json = serde_json::Value::from(Value::Bytes(b"foo".to_vec()));
/// assert_eq!(json, serde_json::json!("\u{0}Zm9v"));
/// ```
impl From<Value> for serde_json::Value {
    fn from(value: Value) -> Self {
        match value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(b),
            Value::Integer(i) => {
                if let Ok(i) = i64::try_from(i) {
                    i.into()
                } else if let Ok(u) = u64::try_from(i) {
                    u.into()
                } else {
                    (i as f64).into()
                }
            }
            Value::Float(f) => f.into(),
            Value::String(s) => serde_json::Value::String(s),
            Value::Bytes(b) => {
                let mut s = String::with_capacity(1 + b.len().div_ceil(3) * 4);
                s.push('\0');
                s.push_str(&encode_base64(&b));
                serde_json::Value::String(s)
            }
            Value::List(list) => list.into_iter().map(serde_json::Value::from).collect(),
            Value::Dict(dict) => serde_json::Value::Object(
                dict.into_iter()
                    .map(|(key, value)| (key, serde_json::Value::from(value)))
                    .collect(),
            ),
        }
    }
}
