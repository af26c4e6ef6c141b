//! The dynamic [`Value`] type that WAMP arguments, keyword arguments and
//! details are made of, and its `serde` support.
//!
//! `Value` mirrors what Python peers send: `None`, `bool`, `int`, `float`,
//! `str`, `bytes`, `list` and `dict`. It serializes to and deserializes from
//! any self-describing `serde` format; the three WAMP uses are JSON
//! (`serde_json`), MessagePack (`rmp-serde`) and CBOR (`ciborium`).
//!
//! [`to_value`] and [`from_value`] convert between `Value` and any type that
//! implements `Serialize` / `Deserialize`, directly (no detour through JSON).
//!
//! ```
//! use izaber_wamp::protocol::{Value, from_value, to_value};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, Debug, PartialEq)]
//! struct Greeting {
//!     name: String,
//!     times: u32,
//! }
//!
//! let value = to_value(&Greeting { name: "Ada".into(), times: 3 }).unwrap();
//! assert_eq!(value["name"], "Ada");
//! assert_eq!(value["times"], 3);
//! assert_eq!(value.to_string(), r#"{"name":"Ada","times":3}"#);
//!
//! let back: Greeting = from_value(value).unwrap();
//! assert_eq!(back, Greeting { name: "Ada".into(), times: 3 });
//! ```
//
// The module is split by concept, as `serde_json` splits its own `value`:
//
// * `mod.rs`: the `Value` and `Dict` types and `Value`'s accessors;
// * `index.rs`: `value["key"]` and `value[i]` (`Index`);
// * `from.rs`: conversions into `Value`, and between `Value` and `serde_json::Value`;
// * `partial_eq.rs`: comparisons with plain Rust values (`value == "x"`, `value == 5`);
// * `display.rs`: `Display`, the compact JSON-like text for logs;
// * `error.rs`: `ValueError`, the error of every conversion here;
// * `serialize.rs`: `Serialize for Value` (writing a `Value` in any format), and
//   `serialize_integer`, shared with the JSON binary convention;
// * `deserialize.rs`: `Deserialize for Value` (reading a `Value` from any format);
// * `serializer.rs`: `to_value` and the `Serializer` that builds a `Value`;
// * `deserializer.rs`: `from_value`, with `Value` as a `Deserializer`;
// * `tests.rs`: the unit tests of all of the above.

use std::collections::BTreeMap;

mod deserialize;
mod deserializer;
mod display;
mod error;
mod from;
mod index;
mod partial_eq;
mod serialize;
mod serializer;
#[cfg(test)]
mod tests;

pub use deserializer::from_value;
pub use error::ValueError;
pub(crate) use serialize::serialize_integer;
pub use serializer::to_value;

/// A WAMP dictionary: string keys, sorted, each mapped to a [`Value`].
pub type Dict = BTreeMap<String, Value>;

/// A WAMP value: what args, kwargs and details are made of.
///
/// The variants match Python's types: `None`, `bool`, `int` (here up to the
/// range of `i128`), `float`, `str`, `bytes`, `list` and `dict`.
///
/// # Serialization
///
/// * Integers use the narrowest `serde` method that holds them: `i64` when
///   they fit, else `u64`, else `i128` (which CBOR writes as a bignum; JSON as
///   a plain number; MessagePack has no bigger integer, and `rmp-serde` writes
///   a 16-byte binary instead).
/// * [`Value::Bytes`] uses `serialize_bytes`: native binary in MessagePack and
///   CBOR. `serde_json` writes that as an array of numbers; WAMP JSON
///   transports must serialize through `JsonCompat` instead, which writes the
///   WAMP binary string (`"\u0000"` + base64).
///
/// # Deserialization
///
/// Any self-describing format works. Integers of every width are accepted
/// (`u128` above `i128::MAX` is an error), `unit` and `none` become
/// [`Value::Null`], binary becomes [`Value::Bytes`].
///
/// Dict keys that are integers or bools (Python may send `{1: "a"}` over
/// MessagePack or CBOR) become their text: `1` → `"1"`, `-7` → `"-7"`,
/// `true` → `"true"` (as Python's `json` module writes them). If that makes
/// two keys equal, the later one wins. Keys of any other type (floats, bytes,
/// lists, …) are an error. [`from_value`] parses such keys back when the
/// target map has integer or bool keys.
///
/// CBOR tags other than bignums (e.g. a date) are dropped and their content
/// kept. A MessagePack extension becomes `[type, bytes]`.
///
/// # Examples
///
/// ```
/// use izaber_wamp::protocol::{Dict, Value};
///
/// let details: Value = serde_json::from_str(r#"{"authid": "backend-1", "roles": ["a", "b"]}"#).unwrap();
/// assert_eq!(details["authid"], "backend-1");
/// assert_eq!(details["roles"][1], "b");
/// assert!(details["missing"].is_null());
///
/// let mut dict = Dict::new();
/// dict.insert("x".to_owned(), Value::from(1.5));
/// assert_eq!(Value::Dict(dict).to_string(), r#"{"x":1.5}"#);
/// ```
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    /// Python's `None`; JSON's `null`.
    #[default]
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer. Python integers are unbounded; WAMP peers send at most 64
    /// bits over JSON and MessagePack, CBOR can carry more.
    Integer(i128),
    /// A floating point number.
    Float(f64),
    /// A UTF-8 string.
    String(String),
    /// Binary data (Python's `bytes`).
    Bytes(Vec<u8>),
    /// A list (Python's `list` or `tuple`).
    List(Vec<Value>),
    /// A dictionary with string keys.
    Dict(Dict),
}

impl Value {
    /// The name of this value's type, for error messages: `"null"`, `"bool"`,
    /// `"integer"`, `"float"`, `"string"`, `"bytes"`, `"list"` or `"dict"`.
    ///
    /// ```
    /// # use izaber_wamp::protocol::Value;
    /// assert_eq!(Value::from("x").type_name(), "string");
    /// assert_eq!(Value::Null.type_name(), "null");
    /// ```
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Integer(_) => "integer",
            Value::Float(_) => "float",
            Value::String(_) => "string",
            Value::Bytes(_) => "bytes",
            Value::List(_) => "list",
            Value::Dict(_) => "dict",
        }
    }

    /// The type name with an article, for "found …" in error messages.
    fn described(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a bool",
            Value::Integer(_) => "an integer",
            Value::Float(_) => "a float",
            Value::String(_) => "a string",
            Value::Bytes(_) => "bytes",
            Value::List(_) => "a list",
            Value::Dict(_) => "a dict",
        }
    }

    /// Whether this is [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The boolean, if this is a [`Value::Bool`].
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The integer, if this is a [`Value::Integer`] that fits in an `i64`.
    ///
    /// ```
    /// # use izaber_wamp::protocol::Value;
    /// assert_eq!(Value::from(-3).as_i64(), Some(-3));
    /// assert_eq!(Value::from(u64::MAX).as_i64(), None);
    /// assert_eq!(Value::from(3.0).as_i64(), None);
    /// ```
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Integer(i) => i64::try_from(*i).ok(),
            _ => None,
        }
    }

    /// The integer, if this is a [`Value::Integer`] that fits in a `u64`.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Integer(i) => u64::try_from(*i).ok(),
            _ => None,
        }
    }

    /// The integer, if this is a [`Value::Integer`].
    pub fn as_i128(&self) -> Option<i128> {
        match self {
            Value::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// The number as an `f64`, if this is a [`Value::Float`] or a
    /// [`Value::Integer`] (converted, possibly rounding).
    ///
    /// ```
    /// # use izaber_wamp::protocol::Value;
    /// assert_eq!(Value::from(2).as_f64(), Some(2.0));
    /// assert_eq!(Value::from(0.5).as_f64(), Some(0.5));
    /// assert_eq!(Value::from("2").as_f64(), None);
    /// ```
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            Value::Integer(i) => Some(*i as f64),
            _ => None,
        }
    }

    /// The text, if this is a [`Value::String`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The bytes, if this is a [`Value::Bytes`].
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The items, if this is a [`Value::List`].
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(list) => Some(list),
            _ => None,
        }
    }

    /// The items, mutably, if this is a [`Value::List`].
    pub fn as_list_mut(&mut self) -> Option<&mut Vec<Value>> {
        match self {
            Value::List(list) => Some(list),
            _ => None,
        }
    }

    /// The dictionary, if this is a [`Value::Dict`].
    pub fn as_dict(&self) -> Option<&Dict> {
        match self {
            Value::Dict(dict) => Some(dict),
            _ => None,
        }
    }

    /// The dictionary, mutably, if this is a [`Value::Dict`].
    pub fn as_dict_mut(&mut self) -> Option<&mut Dict> {
        match self {
            Value::Dict(dict) => Some(dict),
            _ => None,
        }
    }

    /// Looks `key` up, if this is a [`Value::Dict`].
    ///
    /// ```
    /// # use izaber_wamp::protocol::Value;
    /// let v: Value = serde_json::from_str(r#"{"a": 1}"#).unwrap();
    /// assert_eq!(v.get("a"), Some(&Value::Integer(1)));
    /// assert_eq!(v.get("b"), None);
    /// assert_eq!(Value::from(1).get("a"), None);
    /// ```
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_dict()?.get(key)
    }

    /// Looks `key` up mutably, if this is a [`Value::Dict`].
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.as_dict_mut()?.get_mut(key)
    }

    /// Takes the value out, leaving [`Value::Null`] in its place.
    pub fn take(&mut self) -> Value {
        std::mem::take(self)
    }
}
