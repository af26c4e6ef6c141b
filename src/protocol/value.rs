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

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Index;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, Expected, IntoDeserializer, MapAccess,
    SeqAccess, Unexpected, VariantAccess, Visitor,
};
use serde::forward_to_deserialize_any;
use serde::ser::{self, Impossible, Serialize, Serializer};
use serde::{Deserialize, de::DeserializeOwned};

use super::json_binary::{Base64Display, encode_base64};

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

/// Returned by [`Index`] when a key or position is missing.
static NULL: Value = Value::Null;

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

/// `value["key"]` looks a key up in a [`Value::Dict`]; like `serde_json`, it
/// gives [`Value::Null`] when the key is missing or the value is not a dict.
impl Index<&str> for Value {
    type Output = Value;

    fn index(&self, key: &str) -> &Value {
        self.get(key).unwrap_or(&NULL)
    }
}

/// `value[i]` gets an item of a [`Value::List`]; like `serde_json`, it gives
/// [`Value::Null`] when out of range or when the value is not a list.
impl Index<usize> for Value {
    type Output = Value;

    fn index(&self, index: usize) -> &Value {
        self.as_list()
            .and_then(|list| list.get(index))
            .unwrap_or(&NULL)
    }
}

// ---------------------------------------------------------------------------
// Conversions into Value

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

// ---------------------------------------------------------------------------
// Comparisons with plain Rust values, so tests can write
// `assert_eq!(v["authid"], "backend-1")`.

impl PartialEq<str> for Value {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}

impl PartialEq<&str> for Value {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl PartialEq<String> for Value {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == Some(other.as_str())
    }
}

/// True when this is a [`Value::Integer`] equal to `other`. (Only `i64` is
/// implemented so that integer literals in `value == 5` infer their type.)
impl PartialEq<i64> for Value {
    fn eq(&self, other: &i64) -> bool {
        self.as_i128() == Some(i128::from(*other))
    }
}

impl PartialEq<bool> for Value {
    fn eq(&self, other: &bool) -> bool {
        self.as_bool() == Some(*other)
    }
}

/// True when [`Value::as_f64`] equals `other`, so an integer `2` equals
/// `2.0`, as in `serde_json`.
impl PartialEq<f64> for Value {
    fn eq(&self, other: &f64) -> bool {
        self.as_f64() == Some(*other)
    }
}

impl PartialEq<Value> for str {
    fn eq(&self, other: &Value) -> bool {
        other == self
    }
}

impl PartialEq<Value> for &str {
    fn eq(&self, other: &Value) -> bool {
        other == self
    }
}

impl PartialEq<Value> for String {
    fn eq(&self, other: &Value) -> bool {
        other == self
    }
}

impl PartialEq<Value> for i64 {
    fn eq(&self, other: &Value) -> bool {
        other == self
    }
}

impl PartialEq<Value> for bool {
    fn eq(&self, other: &Value) -> bool {
        other == self
    }
}

impl PartialEq<Value> for f64 {
    fn eq(&self, other: &Value) -> bool {
        other == self
    }
}

// ---------------------------------------------------------------------------
// Display

/// Compact JSON-like text, for logs and error messages.
///
/// It is JSON except for what JSON cannot express:
///
/// * [`Value::Bytes`] is written `b64"…"`, with the standard base64 of the
///   bytes inside the quotes (e.g. `b64"Zm9v"` for `b"foo"`);
/// * non-finite floats are written `NaN`, `Infinity` and `-Infinity` (as
///   Python's `json` module does);
/// * floats always show a fraction or exponent (`1.0`, `1e300`), so they
///   cannot be mistaken for integers.
///
/// ```
/// # use izaber_wamp::protocol::Value;
/// let v = Value::List(vec![
///     Value::Null,
///     Value::from(true),
///     Value::from(-1),
///     Value::from(2.0),
///     Value::from("a\"b"),
///     Value::Bytes(b"foo".to_vec()),
/// ]);
/// assert_eq!(v.to_string(), r#"[null,true,-1,2.0,"a\"b",b64"Zm9v"]"#);
/// ```
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Integer(i) => write!(f, "{i}"),
            Value::Float(x) if x.is_nan() => f.write_str("NaN"),
            Value::Float(x) if x.is_infinite() => {
                f.write_str(if *x > 0.0 { "Infinity" } else { "-Infinity" })
            }
            // `Debug` keeps the `.0` of integral floats and is exact.
            Value::Float(x) => write!(f, "{x:?}"),
            Value::String(s) => write_json_string(f, s),
            Value::Bytes(b) => write!(f, "b64\"{}\"", Base64Display(b)),
            Value::List(list) => {
                f.write_str("[")?;
                for (i, item) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    item.fmt(f)?;
                }
                f.write_str("]")
            }
            Value::Dict(dict) => {
                f.write_str("{")?;
                for (i, (key, item)) in dict.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write_json_string(f, key)?;
                    f.write_str(":")?;
                    item.fmt(f)?;
                }
                f.write_str("}")
            }
        }
    }
}

/// Writes `s` as a JSON string literal.
fn write_json_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let escape = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            c if u32::from(c) < 0x20 => "",
            _ => continue,
        };
        f.write_str(&s[start..i])?;
        if escape.is_empty() {
            write!(f, "\\u{:04x}", u32::from(c))?;
        } else {
            f.write_str(escape)?;
        }
        start = i + c.len_utf8();
    }
    f.write_str(&s[start..])?;
    f.write_str("\"")
}

// ---------------------------------------------------------------------------
// The error type

/// What went wrong converting to or from a [`Value`].
///
/// Its message says what was expected and what was found, e.g. `expected a
/// string, found an integer`. It never quotes strings from the data, which
/// may be secrets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueError {
    message: String,
}

impl ValueError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        ValueError {
            message: message.into(),
        }
    }

    /// The message, also given by `Display`.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// `found` is not of the type that `expected` wants.
    fn wrong_type(found: &Value, expected: &dyn Expected) -> Self {
        ValueError::new(format!("expected {expected}, found {}", found.described()))
    }

    fn integer_too_large(i: u128) -> Self {
        ValueError::new(format!("integer {i} is too large (the limit is i128::MAX)"))
    }

    fn out_of_range(i: i128, ty: &str) -> Self {
        ValueError::new(format!("integer {i} is out of range for {ty}"))
    }
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ValueError {}

impl ser::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ValueError::new(msg.to_string())
    }
}

impl de::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ValueError::new(msg.to_string())
    }

    /// Worded like the deserializer's own errors: "expected …, found …",
    /// naming the type found but not quoting its content.
    fn invalid_type(unexpected: Unexpected<'_>, expected: &dyn Expected) -> Self {
        ValueError::new(format!(
            "expected {expected}, found {}",
            unexpected_type(&unexpected)
        ))
    }

    /// Like `serde`'s message, but without quoting strings or bytes.
    fn invalid_value(unexpected: Unexpected<'_>, expected: &dyn Expected) -> Self {
        let found = match unexpected {
            Unexpected::Bool(_)
            | Unexpected::Unsigned(_)
            | Unexpected::Signed(_)
            | Unexpected::Float(_) => unexpected.to_string(),
            other => unexpected_type(&other).to_owned(),
        };
        ValueError::new(format!("invalid value: {found}, expected {expected}"))
    }
}

/// Names the type of what a visitor did not expect, with an article.
fn unexpected_type<'a>(unexpected: &Unexpected<'a>) -> &'a str {
    match *unexpected {
        Unexpected::Bool(_) => "a bool",
        Unexpected::Unsigned(_) | Unexpected::Signed(_) => "an integer",
        Unexpected::Float(_) => "a float",
        Unexpected::Char(_) => "a character",
        Unexpected::Str(_) => "a string",
        Unexpected::Bytes(_) => "bytes",
        Unexpected::Unit => "null",
        Unexpected::Option => "an optional value",
        Unexpected::NewtypeStruct => "a newtype struct",
        Unexpected::Seq => "a list",
        Unexpected::Map => "a dict",
        Unexpected::Enum => "an enum",
        Unexpected::UnitVariant => "a unit variant",
        Unexpected::NewtypeVariant => "a newtype variant",
        Unexpected::TupleVariant => "a tuple variant",
        Unexpected::StructVariant => "a struct variant",
        Unexpected::Other(other) => other,
    }
}

// ---------------------------------------------------------------------------
// Serialize for Value

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

// ---------------------------------------------------------------------------
// Deserialize for Value

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

/// Builds a [`Value`] from whatever the format has.
struct ValueVisitor;

/// Caps preallocation on a length announced by the (untrusted) input.
const MAX_PREALLOCATE: usize = 4096;

/// The variant name `ciborium` gives a CBOR tag it does not interpret.
const CBOR_TAGGED: &str = "@@TAGGED@@";
const CBOR_UNTAGGED: &str = "@@UNTAGGED@@";

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any WAMP value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Integer(i.into()))
    }

    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(Value::Integer(u.into()))
    }

    fn visit_i128<E>(self, i: i128) -> Result<Value, E> {
        Ok(Value::Integer(i))
    }

    fn visit_u128<E: de::Error>(self, u: u128) -> Result<Value, E> {
        i128::try_from(u)
            .map(Value::Integer)
            .map_err(|_| E::custom(ValueError::integer_too_large(u)))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        Ok(Value::Float(f))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_bytes<E>(self, b: &[u8]) -> Result<Value, E> {
        Ok(Value::Bytes(b.to_vec()))
    }

    fn visit_byte_buf<E>(self, b: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Bytes(b))
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Value::deserialize(deserializer)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Value, D::Error> {
        Value::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut list = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX_PREALLOCATE));
        while let Some(item) = seq.next_element()? {
            list.push(item);
        }
        Ok(Value::List(list))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut dict = Dict::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let item = map.next_value()?;
            dict.insert(key, item);
        }
        Ok(Value::Dict(dict))
    }

    /// Formats call this for data they consider an enum. `ciborium` does so
    /// for CBOR tags other than bignums: the tag is dropped and its content
    /// kept. Any other enum becomes `{variant: content}`.
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        let (variant, access) = data.variant_seed(KeySeed)?;
        let content: Value = access.newtype_variant()?;
        if variant == CBOR_TAGGED || variant == CBOR_UNTAGGED {
            Ok(content)
        } else {
            Ok(Value::Dict(Dict::from([(variant, content)])))
        }
    }
}

/// Deserializes a dict key: strings as they are, integers and bools as text.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a dict key (a string, an integer or a bool)")
    }

    fn visit_str<E>(self, s: &str) -> Result<String, E> {
        Ok(s.to_owned())
    }

    fn visit_string<E>(self, s: String) -> Result<String, E> {
        Ok(s)
    }

    fn visit_i64<E>(self, i: i64) -> Result<String, E> {
        Ok(i.to_string())
    }

    fn visit_u64<E>(self, u: u64) -> Result<String, E> {
        Ok(u.to_string())
    }

    fn visit_i128<E>(self, i: i128) -> Result<String, E> {
        Ok(i.to_string())
    }

    fn visit_u128<E>(self, u: u128) -> Result<String, E> {
        Ok(u.to_string())
    }

    fn visit_bool<E>(self, b: bool) -> Result<String, E> {
        Ok(b.to_string())
    }
}

// ---------------------------------------------------------------------------
// to_value: a Serializer that builds a Value

/// Converts any `Serialize` type into a [`Value`], directly.
///
/// The shapes are those `serde_json` would produce, plus binary:
///
/// * structs and maps become [`Value::Dict`]; map keys that are integers,
///   bools or chars become their text (`1` → `"1"`), other keys are an error;
/// * sequences, tuples and tuple structs become [`Value::List`];
/// * `()`, unit structs and `None` become [`Value::Null`]; `Some(x)` is `x`;
///   newtype structs are their content;
/// * enums are externally tagged: a unit variant is its name as a string,
///   other variants a one-entry dict `{name: content}`;
/// * `serialize_bytes` (e.g. `serde_bytes`) gives [`Value::Bytes`] — but note
///   that a plain `Vec<u8>` serializes as a sequence, hence a list of integers;
/// * `char` becomes a string, `f32` a float; `u128` above `i128::MAX` is an
///   error.
///
/// ```
/// use izaber_wamp::protocol::{Value, to_value};
///
/// #[derive(serde::Serialize)]
/// enum Shape {
///     Empty,
///     Circle { radius: f64 },
/// }
///
/// assert_eq!(to_value(&Shape::Empty).unwrap(), "Empty");
/// let circle = to_value(&Shape::Circle { radius: 2.0 }).unwrap();
/// assert_eq!(circle["Circle"]["radius"], 2.0);
/// assert_eq!(to_value(&(1, "two", None::<u8>)).unwrap().to_string(), r#"[1,"two",null]"#);
/// ```
///
/// # Errors
///
/// A [`ValueError`] for what WAMP values cannot hold: map keys other than strings,
/// integers, bools and chars, integers above `i128::MAX`, or a `Serialize` implementation that
/// fails.
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, ValueError> {
    value.serialize(ValueSerializer)
}

/// The `Serializer` behind [`to_value`].
struct ValueSerializer;

impl Serializer for ValueSerializer {
    type Ok = Value;
    type Error = ValueError;
    type SerializeSeq = SerializeList;
    type SerializeTuple = SerializeList;
    type SerializeTupleStruct = SerializeList;
    type SerializeTupleVariant = SerializeTupleVariant;
    type SerializeMap = SerializeDict;
    type SerializeStruct = SerializeDict;
    type SerializeStructVariant = SerializeStructVariant;

    fn serialize_bool(self, v: bool) -> Result<Value, ValueError> {
        Ok(Value::Bool(v))
    }

    fn serialize_i8(self, v: i8) -> Result<Value, ValueError> {
        Ok(v.into())
    }

    fn serialize_i16(self, v: i16) -> Result<Value, ValueError> {
        Ok(v.into())
    }

    fn serialize_i32(self, v: i32) -> Result<Value, ValueError> {
        Ok(v.into())
    }

    fn serialize_i64(self, v: i64) -> Result<Value, ValueError> {
        Ok(v.into())
    }

    fn serialize_i128(self, v: i128) -> Result<Value, ValueError> {
        Ok(v.into())
    }

    fn serialize_u8(self, v: u8) -> Result<Value, ValueError> {
        Ok(v.into())
    }

    fn serialize_u16(self, v: u16) -> Result<Value, ValueError> {
        Ok(v.into())
    }

    fn serialize_u32(self, v: u32) -> Result<Value, ValueError> {
        Ok(v.into())
    }

    fn serialize_u64(self, v: u64) -> Result<Value, ValueError> {
        Ok(v.into())
    }

    fn serialize_u128(self, v: u128) -> Result<Value, ValueError> {
        Value::try_from(v)
    }

    fn serialize_f32(self, v: f32) -> Result<Value, ValueError> {
        Ok(v.into())
    }

    fn serialize_f64(self, v: f64) -> Result<Value, ValueError> {
        Ok(v.into())
    }

    fn serialize_char(self, v: char) -> Result<Value, ValueError> {
        Ok(Value::String(v.to_string()))
    }

    fn serialize_str(self, v: &str) -> Result<Value, ValueError> {
        Ok(v.into())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<Value, ValueError> {
        Ok(Value::Bytes(v.to_vec()))
    }

    fn serialize_none(self) -> Result<Value, ValueError> {
        Ok(Value::Null)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, ValueError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<Value, ValueError> {
        Ok(Value::Null)
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, ValueError> {
        Ok(Value::Null)
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, ValueError> {
        Ok(variant.into())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Value, ValueError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, ValueError> {
        Ok(tagged(variant, to_value(value)?))
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<SerializeList, ValueError> {
        Ok(SerializeList(Vec::with_capacity(len.unwrap_or(0))))
    }

    fn serialize_tuple(self, len: usize) -> Result<SerializeList, ValueError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SerializeList, ValueError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SerializeTupleVariant, ValueError> {
        Ok(SerializeTupleVariant {
            variant,
            list: Vec::with_capacity(len),
        })
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<SerializeDict, ValueError> {
        Ok(SerializeDict {
            dict: Dict::new(),
            key: None,
        })
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SerializeDict, ValueError> {
        self.serialize_map(Some(len))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<SerializeStructVariant, ValueError> {
        Ok(SerializeStructVariant {
            variant,
            dict: Dict::new(),
        })
    }
}

/// `{variant: content}`, the externally tagged form of an enum variant.
fn tagged(variant: &str, content: Value) -> Value {
    Value::Dict(Dict::from([(variant.to_owned(), content)]))
}

/// Collects a sequence, tuple or tuple struct for [`to_value`].
struct SerializeList(Vec<Value>);

impl ser::SerializeSeq for SerializeList {
    type Ok = Value;
    type Error = ValueError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        self.0.push(to_value(value)?);
        Ok(())
    }

    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::List(self.0))
    }
}

impl ser::SerializeTuple for SerializeList {
    type Ok = Value;
    type Error = ValueError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<Value, ValueError> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for SerializeList {
    type Ok = Value;
    type Error = ValueError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<Value, ValueError> {
        ser::SerializeSeq::end(self)
    }
}

/// Collects a tuple variant for [`to_value`].
struct SerializeTupleVariant {
    variant: &'static str,
    list: Vec<Value>,
}

impl ser::SerializeTupleVariant for SerializeTupleVariant {
    type Ok = Value;
    type Error = ValueError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        self.list.push(to_value(value)?);
        Ok(())
    }

    fn end(self) -> Result<Value, ValueError> {
        Ok(tagged(self.variant, Value::List(self.list)))
    }
}

/// Collects a map or struct for [`to_value`].
struct SerializeDict {
    dict: Dict,
    /// The key given to `serialize_key`, waiting for its value.
    key: Option<String>,
}

impl ser::SerializeMap for SerializeDict {
    type Ok = Value;
    type Error = ValueError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), ValueError> {
        self.key = Some(key.serialize(KeySerializer)?);
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        let key = self
            .key
            .take()
            .ok_or_else(|| ValueError::new("serialize_value called before serialize_key"))?;
        self.dict.insert(key, to_value(value)?);
        Ok(())
    }

    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::Dict(self.dict))
    }
}

impl ser::SerializeStruct for SerializeDict {
    type Ok = Value;
    type Error = ValueError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), ValueError> {
        self.dict.insert(key.to_owned(), to_value(value)?);
        Ok(())
    }

    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::Dict(self.dict))
    }
}

/// Collects a struct variant for [`to_value`].
struct SerializeStructVariant {
    variant: &'static str,
    dict: Dict,
}

impl ser::SerializeStructVariant for SerializeStructVariant {
    type Ok = Value;
    type Error = ValueError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), ValueError> {
        self.dict.insert(key.to_owned(), to_value(value)?);
        Ok(())
    }

    fn end(self) -> Result<Value, ValueError> {
        Ok(tagged(self.variant, Value::Dict(self.dict)))
    }
}

/// Turns a map key into the `String` a [`Dict`] needs.
struct KeySerializer;

impl KeySerializer {
    fn unsupported(found: &str) -> ValueError {
        ValueError::new(format!(
            "expected a dict key (a string, an integer, a bool or a char), found {found}"
        ))
    }
}

impl Serializer for KeySerializer {
    type Ok = String;
    type Error = ValueError;
    type SerializeSeq = Impossible<String, ValueError>;
    type SerializeTuple = Impossible<String, ValueError>;
    type SerializeTupleStruct = Impossible<String, ValueError>;
    type SerializeTupleVariant = Impossible<String, ValueError>;
    type SerializeMap = Impossible<String, ValueError>;
    type SerializeStruct = Impossible<String, ValueError>;
    type SerializeStructVariant = Impossible<String, ValueError>;

    fn serialize_bool(self, v: bool) -> Result<String, ValueError> {
        Ok(v.to_string())
    }

    fn serialize_i8(self, v: i8) -> Result<String, ValueError> {
        Ok(v.to_string())
    }

    fn serialize_i16(self, v: i16) -> Result<String, ValueError> {
        Ok(v.to_string())
    }

    fn serialize_i32(self, v: i32) -> Result<String, ValueError> {
        Ok(v.to_string())
    }

    fn serialize_i64(self, v: i64) -> Result<String, ValueError> {
        Ok(v.to_string())
    }

    fn serialize_i128(self, v: i128) -> Result<String, ValueError> {
        Ok(v.to_string())
    }

    fn serialize_u8(self, v: u8) -> Result<String, ValueError> {
        Ok(v.to_string())
    }

    fn serialize_u16(self, v: u16) -> Result<String, ValueError> {
        Ok(v.to_string())
    }

    fn serialize_u32(self, v: u32) -> Result<String, ValueError> {
        Ok(v.to_string())
    }

    fn serialize_u64(self, v: u64) -> Result<String, ValueError> {
        Ok(v.to_string())
    }

    fn serialize_u128(self, v: u128) -> Result<String, ValueError> {
        Ok(v.to_string())
    }

    fn serialize_f32(self, _v: f32) -> Result<String, ValueError> {
        Err(Self::unsupported("a float"))
    }

    fn serialize_f64(self, _v: f64) -> Result<String, ValueError> {
        Err(Self::unsupported("a float"))
    }

    fn serialize_char(self, v: char) -> Result<String, ValueError> {
        Ok(v.to_string())
    }

    fn serialize_str(self, v: &str) -> Result<String, ValueError> {
        Ok(v.to_owned())
    }

    fn serialize_bytes(self, _v: &[u8]) -> Result<String, ValueError> {
        Err(Self::unsupported("bytes"))
    }

    fn serialize_none(self) -> Result<String, ValueError> {
        Err(Self::unsupported("null"))
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<String, ValueError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<String, ValueError> {
        Err(Self::unsupported("null"))
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<String, ValueError> {
        Err(Self::unsupported("null"))
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<String, ValueError> {
        Ok(variant.to_owned())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<String, ValueError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<String, ValueError> {
        Err(Self::unsupported("an enum variant with content"))
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, ValueError> {
        Err(Self::unsupported("a list"))
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, ValueError> {
        Err(Self::unsupported("a list"))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, ValueError> {
        Err(Self::unsupported("a list"))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, ValueError> {
        Err(Self::unsupported("an enum variant with content"))
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, ValueError> {
        Err(Self::unsupported("a dict"))
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, ValueError> {
        Err(Self::unsupported("a dict"))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, ValueError> {
        Err(Self::unsupported("an enum variant with content"))
    }
}

// ---------------------------------------------------------------------------
// from_value: Value as a Deserializer

/// Converts a [`Value`] into any `Deserialize` type, consuming it (strings,
/// bytes and lists are moved out, not copied).
///
/// What it accepts, beyond the obvious:
///
/// * `Option<T>`: [`Value::Null`] is `None`, anything else `Some`;
/// * structs: a dict, or a list of the fields in order (how MessagePack peers
///   often send structs);
/// * enums: a string for a unit variant, or a one-entry dict
///   `{variant: content}`;
/// * bytes (`deserialize_bytes`, e.g. `serde_bytes`): [`Value::Bytes`], or a
///   list of integers 0–255; and a `Vec<u8>` (which asks for a sequence) also
///   accepts [`Value::Bytes`];
/// * floats accept integers; integers are range-checked for the target type;
/// * maps with integer or bool keys parse them from the dict's string keys.
///
/// A list with more items than a tuple or struct takes is an error, as is a
/// dict with more entries than a visitor consumes.
///
/// ```
/// use izaber_wamp::protocol::{Value, from_value};
///
/// let v: Value = serde_json::from_str(r#"[1, "two", null]"#).unwrap();
/// let (a, b, c): (u8, String, Option<bool>) = from_value(v).unwrap();
/// assert_eq!((a, b.as_str(), c), (1, "two", None));
///
/// let err = from_value::<String>(Value::from(5)).unwrap_err();
/// assert_eq!(err.to_string(), "expected a string, found an integer");
///
/// let err = from_value::<u8>(Value::from(300)).unwrap_err();
/// assert_eq!(err.to_string(), "integer 300 is out of range for u8");
/// ```
///
/// # Errors
///
/// A [`ValueError`] naming the expected and found types, or the out-of-range number.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, ValueError> {
    T::deserialize(value)
}

impl IntoDeserializer<'_, ValueError> for Value {
    type Deserializer = Value;

    fn into_deserializer(self) -> Value {
        self
    }
}

/// Visits an integer as `u64`, `i64` or, beyond those, `i128`.
fn visit_integer<'de, V: Visitor<'de>>(i: i128, visitor: V) -> Result<V::Value, ValueError> {
    if let Ok(u) = u64::try_from(i) {
        visitor.visit_u64(u)
    } else if let Ok(i) = i64::try_from(i) {
        visitor.visit_i64(i)
    } else {
        visitor.visit_i128(i)
    }
}

/// Hands a list to a visitor, checking that it consumed every item.
fn visit_list<'de, V: Visitor<'de>>(list: Vec<Value>, visitor: V) -> Result<V::Value, ValueError> {
    let len = list.len();
    let mut seq = ListAccess(list.into_iter());
    let result = visitor.visit_seq(&mut seq)?;
    match seq.0.len() {
        0 => Ok(result),
        _ => Err(de::Error::invalid_length(len, &"fewer items in the list")),
    }
}

/// Hands bytes to a visitor as a sequence of `u8`, for `Vec<u8>` and arrays.
fn visit_bytes_as_seq<'de, V: Visitor<'de>>(
    bytes: Vec<u8>,
    visitor: V,
) -> Result<V::Value, ValueError> {
    let len = bytes.len();
    let mut seq = BytesAccess(bytes.into_iter());
    let result = visitor.visit_seq(&mut seq)?;
    match seq.0.len() {
        0 => Ok(result),
        _ => Err(de::Error::invalid_length(len, &"fewer bytes")),
    }
}

/// Hands a dict to a visitor, checking that it consumed every entry.
fn visit_dict<'de, V: Visitor<'de>>(dict: Dict, visitor: V) -> Result<V::Value, ValueError> {
    let len = dict.len();
    let mut map = DictAccess {
        iter: dict.into_iter(),
        value: None,
    };
    let result = visitor.visit_map(&mut map)?;
    match map.iter.len() {
        0 => Ok(result),
        _ => Err(de::Error::invalid_length(len, &"fewer entries in the dict")),
    }
}

/// Turns a list of small integers into bytes.
fn list_to_bytes(list: Vec<Value>) -> Result<Vec<u8>, ValueError> {
    list.into_iter()
        .map(|item| match item {
            Value::Integer(i) => u8::try_from(i).map_err(|_| ValueError::out_of_range(i, "a byte")),
            other => Err(ValueError::wrong_type(&other, &"a byte (an integer 0-255)")),
        })
        .collect()
}

/// Deserializes one of the integer types with a range check.
macro_rules! deserialize_integer {
    ($($method:ident => $visit:ident : $t:ty),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
            match self {
                Value::Integer(i) => {
                    let v = <$t>::try_from(i)
                        .map_err(|_| ValueError::out_of_range(i, stringify!($t)))?;
                    visitor.$visit(v)
                }
                other => Err(ValueError::wrong_type(
                    &other,
                    &concat!("an integer (", stringify!($t), ")"),
                )),
            }
        }
    )*};
}

impl<'de> Deserializer<'de> for Value {
    type Error = ValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Integer(i) => visit_integer(i, visitor),
            Value::Float(f) => visitor.visit_f64(f),
            Value::String(s) => visitor.visit_string(s),
            Value::Bytes(b) => visitor.visit_byte_buf(b),
            Value::List(list) => visit_list(list, visitor),
            Value::Dict(dict) => visit_dict(dict, visitor),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Bool(b) => visitor.visit_bool(b),
            other => Err(ValueError::wrong_type(&other, &visitor)),
        }
    }

    deserialize_integer! {
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
        deserialize_i128 => visit_i128: i128,
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
        deserialize_u128 => visit_u128: u128,
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Float(f) => visitor.visit_f64(f),
            Value::Integer(i) => visitor.visit_f64(i as f64),
            other => Err(ValueError::wrong_type(&other, &visitor)),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::String(s) => visitor.visit_string(s),
            other => Err(ValueError::wrong_type(&other, &visitor)),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_byte_buf(visitor)
    }

    /// Accepts bytes, a list of integers 0–255, and (as `serde_json` does) a
    /// string, leaving it to the visitor whether it takes text.
    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Bytes(b) => visitor.visit_byte_buf(b),
            Value::List(list) => visitor.visit_byte_buf(list_to_bytes(list)?),
            Value::String(s) => visitor.visit_string(s),
            other => Err(ValueError::wrong_type(&other, &visitor)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Null => visitor.visit_none(),
            other => visitor.visit_some(other),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Null => visitor.visit_unit(),
            other => Err(ValueError::wrong_type(&other, &visitor)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::List(list) => visit_list(list, visitor),
            Value::Bytes(bytes) => visit_bytes_as_seq(bytes, visitor),
            other => Err(ValueError::wrong_type(&other, &visitor)),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Dict(dict) => visit_dict(dict, visitor),
            other => Err(ValueError::wrong_type(&other, &visitor)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self {
            Value::Dict(dict) => visit_dict(dict, visitor),
            Value::List(list) => visit_list(list, visitor),
            other => Err(ValueError::wrong_type(&other, &visitor)),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self {
            Value::String(variant) => visitor.visit_enum(EnumDeserializer {
                variant,
                content: None,
            }),
            Value::Dict(dict) => {
                let mut entries = dict.into_iter();
                match (entries.next(), entries.next()) {
                    (Some((variant, content)), None) => visitor.visit_enum(EnumDeserializer {
                        variant,
                        content: Some(content),
                    }),
                    _ => Err(ValueError::new(format!(
                        "expected {}, found a dict without exactly one entry",
                        &visitor as &dyn Expected
                    ))),
                }
            }
            other => Err(ValueError::wrong_type(&other, &visitor)),
        }
    }

    /// A string, or an integer (serde's derived code accepts a field's or a
    /// variant's index).
    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::String(s) => visitor.visit_string(s),
            Value::Integer(i) => visit_integer(i, visitor),
            other => Err(ValueError::wrong_type(&other, &visitor)),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        drop(self);
        visitor.visit_unit()
    }
}

/// The items of a list, for `visit_seq`.
struct ListAccess(std::vec::IntoIter<Value>);

impl<'de> SeqAccess<'de> for ListAccess {
    type Error = ValueError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ValueError> {
        self.0.next().map(|item| seed.deserialize(item)).transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

/// The bytes of a [`Value::Bytes`], for `visit_seq`.
struct BytesAccess(std::vec::IntoIter<u8>);

impl<'de> SeqAccess<'de> for BytesAccess {
    type Error = ValueError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ValueError> {
        self.0
            .next()
            .map(|byte| seed.deserialize(byte.into_deserializer()))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

/// The entries of a dict, for `visit_map`.
struct DictAccess {
    iter: std::collections::btree_map::IntoIter<String, Value>,
    /// The value of the key last returned, until it is asked for.
    value: Option<Value>,
}

impl<'de> MapAccess<'de> for DictAccess {
    type Error = ValueError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ValueError> {
        match self.iter.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(KeyDeserializer(key)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ValueError> {
        let value = self
            .value
            .take()
            .ok_or_else(|| ValueError::new("a dict value was asked for before its key"))?;
        seed.deserialize(value)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// A dict key, for `visit_map`: a string that can also be read as an integer
/// or a bool (undoing what happens to such keys on the way in), an enum unit
/// variant, or an identifier.
struct KeyDeserializer(String);

macro_rules! deserialize_parsed_key {
    ($($method:ident => $visit:ident : $t:ty),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
            match self.0.parse::<$t>() {
                Ok(v) => visitor.$visit(v),
                Err(_) => Err(ValueError::new(concat!(
                    "expected a dict key that reads as ",
                    stringify!($t),
                    ", found another string"
                ))),
            }
        }
    )*};
}

impl<'de> Deserializer<'de> for KeyDeserializer {
    type Error = ValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        visitor.visit_string(self.0)
    }

    deserialize_parsed_key! {
        deserialize_bool => visit_bool: bool,
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
        deserialize_i128 => visit_i128: i128,
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
        deserialize_u128 => visit_u128: u128,
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        visitor.visit_enum(EnumDeserializer {
            variant: self.0,
            content: None,
        })
    }

    forward_to_deserialize_any! {
        f32 f64 char str string bytes byte_buf unit unit_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

/// An externally tagged enum variant: its name, and its content unless it is
/// a unit variant given as a plain string.
struct EnumDeserializer {
    variant: String,
    content: Option<Value>,
}

impl<'de> EnumAccess<'de> for EnumDeserializer {
    type Error = ValueError;
    type Variant = VariantDeserializer;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, VariantDeserializer), ValueError> {
        let variant = seed.deserialize(KeyDeserializer(self.variant))?;
        Ok((variant, VariantDeserializer(self.content)))
    }
}

/// The content of an enum variant.
struct VariantDeserializer(Option<Value>);

impl<'de> VariantAccess<'de> for VariantDeserializer {
    type Error = ValueError;

    /// A plain string, or (as `serde_json` accepts) `{variant: null}`.
    fn unit_variant(self) -> Result<(), ValueError> {
        match self.0 {
            None | Some(Value::Null) => Ok(()),
            Some(other) => Err(ValueError::wrong_type(&other, &"null (a unit variant)")),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, ValueError> {
        match self.0 {
            Some(content) => seed.deserialize(content),
            None => Err(ValueError::new(
                "expected a dict {variant: content} for a newtype variant, found a string",
            )),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self.0 {
            Some(Value::List(list)) => visit_list(list, visitor),
            Some(other) => Err(ValueError::wrong_type(&other, &visitor)),
            None => Err(ValueError::new(
                "expected a dict {variant: [items]} for a tuple variant, found a string",
            )),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self.0 {
            Some(Value::Dict(dict)) => visit_dict(dict, visitor),
            Some(Value::List(list)) => visit_list(list, visitor),
            Some(other) => Err(ValueError::wrong_type(&other, &visitor)),
            None => Err(ValueError::new(
                "expected a dict {variant: {fields}} for a struct variant, found a string",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::protocol::json_binary::{JsonCompat, restore_json_binary};

    fn dict<const N: usize>(entries: [(&str, Value); N]) -> Value {
        Value::Dict(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        )
    }

    fn list<const N: usize>(items: [Value; N]) -> Value {
        Value::List(items.into())
    }

    /// One of every variant, nested.
    fn sample() -> Value {
        dict([
            ("null", Value::Null),
            ("true", Value::Bool(true)),
            ("false", Value::Bool(false)),
            ("int", Value::Integer(42)),
            ("negative", Value::Integer(-17)),
            ("min", Value::Integer(i64::MIN.into())),
            ("max_u64", Value::Integer(u64::MAX.into())),
            ("float", Value::Float(-2.5e-3)),
            ("string", Value::from("héllo \"wörld\"\n")),
            ("empty", Value::from("")),
            ("bytes", Value::Bytes(vec![0, 1, 2, 0x7f, 0x80, 0xff])),
            (
                "list",
                list([
                    Value::Integer(1),
                    list([Value::from("nested"), Value::Null]),
                    dict([("deep", dict([("deeper", Value::Bytes(b"x".to_vec()))]))]),
                ]),
            ),
            ("empty_list", list([])),
            ("empty_dict", dict([])),
        ])
    }

    /// The sample without bytes, which plain JSON cannot carry.
    fn sample_without_bytes() -> Value {
        let mut value = sample();
        let dict = value.as_dict_mut().unwrap();
        dict.remove("bytes");
        dict.insert("list".into(), list([Value::Integer(1), Value::from("x")]));
        value
    }

    fn msgpack_round_trip(value: &Value) -> Value {
        let bytes = rmp_serde::to_vec(value).unwrap();
        rmp_serde::from_slice(&bytes).unwrap()
    }

    fn cbor_encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
        let mut bytes = Vec::new();
        ciborium::into_writer(value, &mut bytes).unwrap();
        bytes
    }

    fn cbor_round_trip(value: &Value) -> Value {
        ciborium::from_reader(&cbor_encode(value)[..]).unwrap()
    }

    fn json_round_trip(value: &Value) -> Value {
        let text = serde_json::to_string(&JsonCompat(value)).unwrap();
        let mut back: Value = serde_json::from_str(&text).unwrap();
        restore_json_binary(&mut back);
        back
    }

    // --- round trips through the three formats -----------------------------

    #[test]
    fn round_trips_through_msgpack() {
        assert_eq!(msgpack_round_trip(&sample()), sample());
    }

    #[test]
    fn round_trips_through_cbor() {
        assert_eq!(cbor_round_trip(&sample()), sample());
    }

    #[test]
    fn round_trips_through_json_with_binary_convention() {
        assert_eq!(json_round_trip(&sample()), sample());
    }

    #[test]
    fn round_trips_through_plain_json_without_bytes() {
        let value = sample_without_bytes();
        let text = serde_json::to_string(&value).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), value);
    }

    #[test]
    fn every_variant_alone_round_trips() {
        let values = [
            Value::Null,
            Value::Bool(false),
            Value::Integer(0),
            Value::Integer(-1),
            Value::Float(0.1),
            Value::Float(f64::MAX),
            Value::from("s"),
            Value::Bytes(vec![]),
            Value::Bytes(vec![9; 300]),
            list([Value::Null]),
            dict([("k", Value::Null)]),
        ];
        for value in values {
            assert_eq!(msgpack_round_trip(&value), value, "msgpack");
            assert_eq!(cbor_round_trip(&value), value, "cbor");
            assert_eq!(json_round_trip(&value), value, "json");
        }
    }

    #[test]
    fn integer_extremes_round_trip() {
        for i in [i64::MIN.into(), i64::MAX.into(), u64::MAX.into(), -1, 0i128] {
            let value = Value::Integer(i);
            assert_eq!(msgpack_round_trip(&value), value, "msgpack {i}");
            assert_eq!(cbor_round_trip(&value), value, "cbor {i}");
            assert_eq!(json_round_trip(&value), value, "json {i}");
        }
    }

    #[test]
    fn integers_use_the_narrowest_encoding() {
        // MessagePack: u64::MAX is 0xcf + 8 bytes, i64::MIN is 0xd3 + 8 bytes,
        // small numbers are fixints.
        let max = rmp_serde::to_vec(&Value::Integer(u64::MAX.into())).unwrap();
        assert_eq!(max, [0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        let min = rmp_serde::to_vec(&Value::Integer(i64::MIN.into())).unwrap();
        assert_eq!(min, [0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(rmp_serde::to_vec(&Value::Integer(5)).unwrap(), [0x05]);
        assert_eq!(rmp_serde::to_vec(&Value::Integer(-5)).unwrap(), [0xfb]);
        // JSON writes the plain numbers.
        assert_eq!(
            serde_json::to_string(&list([
                Value::Integer(u64::MAX.into()),
                Value::Integer(i64::MIN.into())
            ]))
            .unwrap(),
            "[18446744073709551615,-9223372036854775808]"
        );
    }

    #[test]
    fn big_integers_travel_as_cbor_bignums() {
        let big = i128::from(u64::MAX) + 1; // 2**64
        let encoded = cbor_encode(&Value::Integer(big));
        // What Python's cbor2.dumps(2**64) produces: tag 2, 9 bytes.
        assert_eq!(encoded, [0xc2, 0x49, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            ciborium::from_reader::<Value, _>(&encoded[..]).unwrap(),
            Value::Integer(big)
        );

        let negative = -i128::from(u64::MAX) - 2; // -(2**64) - 1
        let encoded = cbor_encode(&Value::Integer(negative));
        assert_eq!(encoded, [0xc3, 0x49, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            cbor_round_trip(&Value::Integer(negative)),
            Value::Integer(negative)
        );

        for i in [i128::MAX, i128::MIN] {
            assert_eq!(cbor_round_trip(&Value::Integer(i)), Value::Integer(i));
        }
        // JSON can write them too (reading them back gives a float).
        assert_eq!(
            serde_json::to_string(&Value::Integer(big)).unwrap(),
            "18446744073709551616"
        );
    }

    #[test]
    fn u128_beyond_i128_is_an_error() {
        let encoded = cbor_encode(&u128::MAX);
        let err = ciborium::from_reader::<Value, _>(&encoded[..]).unwrap_err();
        assert!(err.to_string().contains("too large"), "{err}");
        assert_eq!(
            Value::try_from(u128::MAX).unwrap_err().message(),
            "integer 340282366920938463463374607431768211455 is too large (the limit is i128::MAX)"
        );
        assert!(to_value(&u128::MAX).is_err());
        assert_eq!(
            to_value(&(u128::MAX >> 1)).unwrap(),
            Value::Integer(i128::MAX)
        );
    }

    #[test]
    fn bytes_are_native_binary_in_msgpack_and_cbor() {
        let value = Value::Bytes(vec![1, 2, 3]);
        assert_eq!(rmp_serde::to_vec(&value).unwrap(), [0xc4, 3, 1, 2, 3]);
        assert_eq!(cbor_encode(&value), [0x43, 1, 2, 3]);
        // Plain serde_json has no binary: an array of numbers.
        assert_eq!(serde_json::to_string(&value).unwrap(), "[1,2,3]");
        assert_eq!(
            serde_json::to_string(&JsonCompat(&value)).unwrap(),
            r#""\u0000AQID""#
        );
    }

    #[test]
    fn reads_msgpack_as_python_writes_it() {
        // msgpack.packb({1: "a", "k": b"\x00\x01", -2: [None, True, 1.5]})
        let encoded = [
            0x83, 0x01, 0xa1, b'a', 0xa1, b'k', 0xc4, 0x02, 0x00, 0x01, 0xfe, 0x93, 0xc0, 0xc3,
            0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0,
        ];
        let value: Value = rmp_serde::from_slice(&encoded).unwrap();
        assert_eq!(
            value,
            dict([
                ("1", Value::from("a")),
                ("k", Value::Bytes(vec![0, 1])),
                (
                    "-2",
                    list([Value::Null, Value::Bool(true), Value::Float(1.5)])
                ),
            ])
        );
    }

    #[test]
    fn reads_cbor_as_python_writes_it() {
        // cbor2.dumps({1: "a", True: b"\x07", "s": 18446744073709551615})
        let mut encoded = vec![0xa3, 0x01, 0x61, b'a', 0xf5, 0x41, 0x07, 0x61, b's', 0x1b];
        encoded.extend([0xff; 8]);
        let value: Value = ciborium::from_reader(&encoded[..]).unwrap();
        assert_eq!(
            value,
            dict([
                ("1", Value::from("a")),
                ("true", Value::Bytes(vec![7])),
                ("s", Value::Integer(u64::MAX.into())),
            ])
        );
    }

    #[test]
    fn integer_and_bool_keys_become_strings() {
        let ints: BTreeMap<i64, &str> = [(-3, "minus"), (7, "seven")].into();
        let expected = dict([("-3", Value::from("minus")), ("7", Value::from("seven"))]);
        let msgpack = rmp_serde::to_vec(&ints).unwrap();
        assert_eq!(rmp_serde::from_slice::<Value>(&msgpack).unwrap(), expected);
        assert_eq!(
            ciborium::from_reader::<Value, _>(&cbor_encode(&ints)[..]).unwrap(),
            expected
        );

        let bools: BTreeMap<bool, u8> = [(false, 0), (true, 1)].into();
        let expected = dict([("false", Value::Integer(0)), ("true", Value::Integer(1))]);
        assert_eq!(
            ciborium::from_reader::<Value, _>(&cbor_encode(&bools)[..]).unwrap(),
            expected
        );

        // And from_value parses them back.
        let back: BTreeMap<i64, String> =
            from_value(ciborium::from_reader::<Value, _>(&cbor_encode(&ints)[..]).unwrap())
                .unwrap();
        assert_eq!(
            back,
            BTreeMap::from([(-3, "minus".into()), (7, "seven".into())])
        );
    }

    #[test]
    fn other_key_types_are_an_error() {
        // {b"k": 1} in CBOR: a byte-string key.
        let encoded = [0xa1, 0x41, b'k', 0x01];
        let err = ciborium::from_reader::<Value, _>(&encoded[..]).unwrap_err();
        assert!(err.to_string().contains("dict key"), "{err}");
        // {1.5: 1} in MessagePack: a float key.
        let encoded = [0x81, 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0x01];
        let err = rmp_serde::from_slice::<Value>(&encoded).unwrap_err();
        assert!(err.to_string().contains("dict key"), "{err}");
    }

    #[test]
    fn cbor_tags_are_dropped() {
        // Tag 1 (epoch date-time) around an integer, as cbor2 writes datetimes.
        let encoded = [0xc1, 0x1a, 0x65, 0x53, 0xf1, 0x00];
        let value: Value = ciborium::from_reader(&encoded[..]).unwrap();
        assert_eq!(value, Value::Integer(0x6553_f100));
    }

    #[test]
    fn msgpack_cannot_hold_integers_beyond_64_bits() {
        // rmp-serde writes an i128 as 16 bytes of binary; this documents it.
        let big = i128::from(u64::MAX) + 1;
        assert_eq!(
            msgpack_round_trip(&Value::Integer(big)),
            Value::Bytes(big.to_be_bytes().to_vec())
        );
    }

    #[test]
    fn reads_json_numbers() {
        let value: Value = serde_json::from_str("[1, -1, 1.0, 1e2, 18446744073709551615]").unwrap();
        assert_eq!(
            value,
            list([
                Value::Integer(1),
                Value::Integer(-1),
                Value::Float(1.0),
                Value::Float(100.0),
                Value::Integer(u64::MAX.into()),
            ])
        );
    }

    // --- to_value / from_value --------------------------------------------

    #[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
    struct Record {
        id: u64,
        name: String,
        score: f32,
        tags: Vec<String>,
        raw: Vec<u8>,
        maybe: Option<i32>,
        missing: Option<i32>,
        pair: (u8, String),
        inner: Inner,
        kind: Kind,
        counts: BTreeMap<u16, bool>,
        letter: char,
        unit: (),
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
    struct Inner {
        flag: bool,
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
    enum Kind {
        Unit,
        Newtype(i32),
        Tuple(u8, String),
        Struct { x: i16, y: Option<String> },
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Meters(f64);

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Marker;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Point(i32, i32);

    fn record() -> Record {
        Record {
            id: u64::MAX,
            name: "sensor".into(),
            score: 0.5,
            tags: vec!["a".into(), "b".into()],
            raw: vec![0, 255],
            maybe: Some(-4),
            missing: None,
            pair: (7, "seven".into()),
            inner: Inner { flag: true },
            kind: Kind::Struct {
                x: -1,
                y: Some("why".into()),
            },
            counts: [(1, true), (65535, false)].into(),
            letter: 'λ',
            unit: (),
        }
    }

    #[test]
    fn to_value_builds_the_expected_shape() {
        let value = to_value(&record()).unwrap();
        let expected = dict([
            ("id", Value::Integer(u64::MAX.into())),
            ("name", Value::from("sensor")),
            ("score", Value::Float(0.5)),
            ("tags", list([Value::from("a"), Value::from("b")])),
            ("raw", list([Value::Integer(0), Value::Integer(255)])),
            ("maybe", Value::Integer(-4)),
            ("missing", Value::Null),
            ("pair", list([Value::Integer(7), Value::from("seven")])),
            ("inner", dict([("flag", Value::Bool(true))])),
            (
                "kind",
                dict([(
                    "Struct",
                    dict([("x", Value::Integer(-1)), ("y", Value::from("why"))]),
                )]),
            ),
            (
                "counts",
                dict([("1", Value::Bool(true)), ("65535", Value::Bool(false))]),
            ),
            ("letter", Value::from("λ")),
            ("unit", Value::Null),
        ]);
        assert_eq!(value, expected);
    }

    #[test]
    fn to_value_matches_serde_json() {
        // Same shapes as serde_json, apart from integers beyond i64 which
        // both represent exactly.
        let record = record();
        let via_json = Value::from(serde_json::to_value(&record).unwrap());
        assert_eq!(to_value(&record).unwrap(), via_json);
        for kind in [
            Kind::Unit,
            Kind::Newtype(3),
            Kind::Tuple(1, "x".into()),
            Kind::Struct { x: 2, y: None },
        ] {
            let via_json = Value::from(serde_json::to_value(&kind).unwrap());
            assert_eq!(to_value(&kind).unwrap(), via_json, "{kind:?}");
        }
    }

    #[test]
    fn from_value_reverses_to_value() {
        let record = record();
        assert_eq!(
            from_value::<Record>(to_value(&record).unwrap()).unwrap(),
            record
        );
    }

    #[test]
    fn records_survive_every_format() {
        let value = to_value(&record()).unwrap();
        for back in [
            msgpack_round_trip(&value),
            cbor_round_trip(&value),
            json_round_trip(&value),
        ] {
            assert_eq!(from_value::<Record>(back).unwrap(), record());
        }
    }

    #[test]
    fn structs_also_read_from_lists() {
        // rmp_serde::to_vec writes structs as arrays (compact form), as many
        // MessagePack peers do.
        let inner = Inner { flag: true };
        let value: Value = rmp_serde::from_slice(&rmp_serde::to_vec(&inner).unwrap()).unwrap();
        assert_eq!(value, list([Value::Bool(true)]));
        assert_eq!(from_value::<Inner>(value).unwrap(), inner);
    }

    #[test]
    fn enums_of_every_kind() {
        let cases = [
            (Kind::Unit, Value::from("Unit")),
            (Kind::Newtype(-9), dict([("Newtype", Value::Integer(-9))])),
            (
                Kind::Tuple(3, "t".into()),
                dict([("Tuple", list([Value::Integer(3), Value::from("t")]))]),
            ),
            (
                Kind::Struct { x: 5, y: None },
                dict([(
                    "Struct",
                    dict([("x", Value::Integer(5)), ("y", Value::Null)]),
                )]),
            ),
        ];
        for (kind, expected) in cases {
            assert_eq!(to_value(&kind).unwrap(), expected, "{kind:?}");
            assert_eq!(from_value::<Kind>(expected).unwrap(), kind);
        }
        // serde_json also accepts {"Unit": null}.
        assert_eq!(
            from_value::<Kind>(dict([("Unit", Value::Null)])).unwrap(),
            Kind::Unit
        );
    }

    #[test]
    fn enum_errors() {
        let err = from_value::<Kind>(Value::from("Nope")).unwrap_err();
        assert_eq!(
            err.message(),
            "unknown variant `Nope`, expected one of `Unit`, `Newtype`, `Tuple`, `Struct`"
        );
        let err = from_value::<Kind>(dict([
            ("Unit", Value::Null),
            ("Newtype", Value::Integer(1)),
        ]))
        .unwrap_err();
        assert_eq!(
            err.message(),
            "expected enum Kind, found a dict without exactly one entry"
        );
        let err = from_value::<Kind>(Value::from("Newtype")).unwrap_err();
        assert!(err.message().contains("newtype variant"), "{err}");
        let err = from_value::<Kind>(Value::Integer(1)).unwrap_err();
        assert_eq!(err.message(), "expected enum Kind, found an integer");
        let err = from_value::<Kind>(dict([("Unit", Value::Integer(1))])).unwrap_err();
        assert_eq!(
            err.message(),
            "expected null (a unit variant), found an integer"
        );
    }

    #[test]
    fn options() {
        assert_eq!(to_value(&None::<u8>).unwrap(), Value::Null);
        assert_eq!(to_value(&Some(3u8)).unwrap(), Value::Integer(3));
        assert_eq!(from_value::<Option<u8>>(Value::Null).unwrap(), None);
        assert_eq!(
            from_value::<Option<u8>>(Value::Integer(3)).unwrap(),
            Some(3)
        );
        assert_eq!(
            from_value::<Option<Option<String>>>(Value::from("x")).unwrap(),
            Some(Some("x".into()))
        );
        assert_eq!(
            from_value::<Vec<Option<bool>>>(list([Value::Null, Value::Bool(false)])).unwrap(),
            vec![None, Some(false)]
        );
    }

    #[test]
    fn tuples_newtypes_and_units() {
        let value = to_value(&(1u8, -2i64, "three", 4.5f64)).unwrap();
        assert_eq!(
            value,
            list([
                Value::Integer(1),
                Value::Integer(-2),
                Value::from("three"),
                Value::Float(4.5)
            ])
        );
        assert_eq!(
            from_value::<(u8, i64, String, f64)>(value).unwrap(),
            (1, -2, "three".into(), 4.5)
        );

        assert_eq!(to_value(&Meters(2.5)).unwrap(), Value::Float(2.5));
        assert_eq!(
            from_value::<Meters>(Value::Float(2.5)).unwrap(),
            Meters(2.5)
        );
        assert_eq!(to_value(&Marker).unwrap(), Value::Null);
        assert_eq!(from_value::<Marker>(Value::Null).unwrap(), Marker);
        assert_eq!(
            to_value(&Point(1, -1)).unwrap(),
            list([Value::Integer(1), Value::Integer(-1)])
        );
        assert_eq!(
            from_value::<Point>(list([Value::Integer(1), Value::Integer(-1)])).unwrap(),
            Point(1, -1)
        );
        assert_eq!(from_value::<()>(Value::Null).unwrap(), ());
    }

    #[test]
    fn list_length_is_checked() {
        let err = from_value::<(u8, u8)>(list([Value::Integer(1)])).unwrap_err();
        assert_eq!(
            err.message(),
            "invalid length 1, expected a tuple of size 2"
        );
        let err = from_value::<(u8, u8)>(list([
            Value::Integer(1),
            Value::Integer(2),
            Value::Integer(3),
        ]))
        .unwrap_err();
        assert_eq!(
            err.message(),
            "invalid length 3, expected fewer items in the list"
        );
    }

    /// Asks for `deserialize_byte_buf`, like `serde_bytes::ByteBuf`.
    #[derive(Debug, PartialEq)]
    struct ByteBuf(Vec<u8>);

    impl<'de> Deserialize<'de> for ByteBuf {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct BufVisitor;
            impl Visitor<'_> for BufVisitor {
                type Value = ByteBuf;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E>(self, b: &[u8]) -> Result<ByteBuf, E> {
                    Ok(ByteBuf(b.to_vec()))
                }
                fn visit_byte_buf<E>(self, b: Vec<u8>) -> Result<ByteBuf, E> {
                    Ok(ByteBuf(b))
                }
            }
            deserializer.deserialize_byte_buf(BufVisitor)
        }
    }

    impl Serialize for ByteBuf {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.serialize_bytes(&self.0)
        }
    }

    #[test]
    fn bytes_to_and_from_value() {
        // serialize_bytes gives Bytes; a Vec<u8> serializes as a list.
        assert_eq!(
            to_value(&ByteBuf(vec![1, 2])).unwrap(),
            Value::Bytes(vec![1, 2])
        );
        assert_eq!(
            to_value(&vec![1u8, 2]).unwrap(),
            list([Value::Integer(1), Value::Integer(2)])
        );

        // deserialize_byte_buf takes Bytes or a list of small integers.
        assert_eq!(
            from_value::<ByteBuf>(Value::Bytes(vec![3, 4])).unwrap(),
            ByteBuf(vec![3, 4])
        );
        assert_eq!(
            from_value::<ByteBuf>(list([Value::Integer(0), Value::Integer(255)])).unwrap(),
            ByteBuf(vec![0, 255])
        );
        let err = from_value::<ByteBuf>(list([Value::Integer(256)])).unwrap_err();
        assert_eq!(err.message(), "integer 256 is out of range for a byte");
        let err = from_value::<ByteBuf>(list([Value::from("x")])).unwrap_err();
        assert_eq!(
            err.message(),
            "expected a byte (an integer 0-255), found a string"
        );
        let err = from_value::<ByteBuf>(Value::Integer(1)).unwrap_err();
        assert_eq!(err.message(), "expected bytes, found an integer");

        // A Vec<u8> (which asks for a sequence) takes Bytes or a list.
        assert_eq!(
            from_value::<Vec<u8>>(Value::Bytes(vec![5, 6])).unwrap(),
            vec![5, 6]
        );
        assert_eq!(
            from_value::<[u8; 2]>(Value::Bytes(vec![5, 6])).unwrap(),
            [5, 6]
        );
        assert_eq!(
            from_value::<Vec<u8>>(list([Value::Integer(7)])).unwrap(),
            vec![7]
        );
        // And a Value keeps them as bytes.
        assert_eq!(
            from_value::<Value>(Value::Bytes(vec![5])).unwrap(),
            Value::Bytes(vec![5])
        );
    }

    #[test]
    fn integers_are_range_checked() {
        assert_eq!(from_value::<u8>(Value::Integer(255)).unwrap(), 255);
        assert_eq!(from_value::<i8>(Value::Integer(-128)).unwrap(), -128);
        assert_eq!(
            from_value::<i128>(Value::Integer(i128::MIN)).unwrap(),
            i128::MIN
        );
        assert_eq!(
            from_value::<u128>(Value::Integer(i128::MAX)).unwrap(),
            i128::MAX as u128
        );
        assert_eq!(
            from_value::<u64>(Value::Integer(u64::MAX.into())).unwrap(),
            u64::MAX
        );
        let cases: [(Result<(), ValueError>, &str); 5] = [
            (
                from_value::<u8>(Value::Integer(256)).map(drop),
                "integer 256 is out of range for u8",
            ),
            (
                from_value::<u32>(Value::Integer(-1)).map(drop),
                "integer -1 is out of range for u32",
            ),
            (
                from_value::<i64>(Value::Integer(u64::MAX.into())).map(drop),
                "integer 18446744073709551615 is out of range for i64",
            ),
            (
                from_value::<u128>(Value::Integer(-1)).map(drop),
                "integer -1 is out of range for u128",
            ),
            (
                from_value::<u16>(Value::Float(1.0)).map(drop),
                "expected an integer (u16), found a float",
            ),
        ];
        for (result, message) in cases {
            assert_eq!(result.unwrap_err().message(), message);
        }
    }

    #[test]
    fn floats_accept_integers() {
        assert_eq!(from_value::<f64>(Value::Integer(-3)).unwrap(), -3.0);
        assert_eq!(from_value::<f32>(Value::Float(0.25)).unwrap(), 0.25);
        assert_eq!(
            from_value::<f64>(Value::from("1")).unwrap_err().message(),
            "expected f64, found a string"
        );
    }

    #[test]
    fn wrong_type_messages() {
        let cases: [(Result<(), ValueError>, &str); 9] = [
            (
                from_value::<String>(Value::Integer(5)).map(drop),
                "expected a string, found an integer",
            ),
            (
                from_value::<bool>(Value::Null).map(drop),
                "expected a boolean, found null",
            ),
            (
                from_value::<Vec<i32>>(Value::from("no")).map(drop),
                "expected a sequence, found a string",
            ),
            (
                from_value::<HashMap<String, i32>>(list([])).map(drop),
                "expected a map, found a list",
            ),
            (
                from_value::<Inner>(Value::Bool(true)).map(drop),
                "expected struct Inner, found a bool",
            ),
            (
                from_value::<Inner>(dict([])).map(drop),
                "missing field `flag`",
            ),
            (
                from_value::<Inner>(dict([("flag", Value::from("yes"))])).map(drop),
                "expected a boolean, found a string",
            ),
            (
                from_value::<char>(Value::from("ab")).map(drop),
                "invalid value: a string, expected a character",
            ),
            (
                from_value::<()>(Value::Integer(0)).map(drop),
                "expected unit, found an integer",
            ),
        ];
        for (result, message) in cases {
            assert_eq!(result.unwrap_err().message(), message);
        }
    }

    #[test]
    fn error_messages_do_not_quote_strings() {
        // Details can carry secrets; a visitor's own invalid_type must not
        // echo them either.
        let err = from_value::<i32>(Value::from("hunter2")).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let err = from_value::<Vec<u8>>(Value::from("hunter2")).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let err = from_value::<char>(Value::from("hunter2")).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        // Numbers are quoted: they help and are rarely secret.
        let err = from_value::<std::num::NonZeroU8>(Value::Integer(0)).unwrap_err();
        assert_eq!(
            err.message(),
            "invalid value: integer `0`, expected a nonzero u8"
        );
    }

    #[test]
    fn map_keys_in_to_value() {
        let map: HashMap<(u8, u8), u8> = [((1, 2), 3)].into();
        assert_eq!(
            to_value(&map).unwrap_err().message(),
            "expected a dict key (a string, an integer, a bool or a char), found a list"
        );
        let keyed: BTreeMap<Kind, u8> = BTreeMap::new();
        assert_eq!(to_value(&keyed).unwrap(), dict([]));
        let by_bool: BTreeMap<bool, u8> = [(true, 1)].into();
        assert_eq!(
            to_value(&by_bool).unwrap(),
            dict([("true", Value::Integer(1))])
        );
        assert_eq!(
            from_value::<BTreeMap<bool, u8>>(dict([("true", Value::Integer(1))])).unwrap(),
            by_bool
        );
        let err = from_value::<BTreeMap<u8, u8>>(dict([("x", Value::Integer(1))])).unwrap_err();
        assert_eq!(
            err.message(),
            "expected a dict key that reads as u8, found another string"
        );
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq, Eq, PartialOrd, Ord)]
    enum Color {
        Red,
        Blue,
    }

    #[test]
    fn unit_enum_map_keys() {
        let map: BTreeMap<Color, u8> = [(Color::Red, 1), (Color::Blue, 2)].into();
        let value = to_value(&map).unwrap();
        assert_eq!(
            value,
            dict([("Blue", Value::Integer(2)), ("Red", Value::Integer(1))])
        );
        assert_eq!(from_value::<BTreeMap<Color, u8>>(value).unwrap(), map);
    }

    #[test]
    fn value_through_to_value_and_from_value_is_unchanged() {
        assert_eq!(to_value(&sample()).unwrap(), sample());
        assert_eq!(from_value::<Value>(sample()).unwrap(), sample());
    }

    #[test]
    fn into_deserializer() {
        let de = Value::Integer(3).into_deserializer();
        assert_eq!(u8::deserialize(de).unwrap(), 3);
    }

    // --- accessors, conversions, comparisons, display ----------------------

    #[test]
    fn accessors() {
        let v = sample();
        assert!(v["null"].is_null());
        assert!(v["nope"].is_null());
        assert_eq!(v["true"].as_bool(), Some(true));
        assert_eq!(v["int"].as_i64(), Some(42));
        assert_eq!(v["negative"].as_u64(), None);
        assert_eq!(v["max_u64"].as_u64(), Some(u64::MAX));
        assert_eq!(v["max_u64"].as_i64(), None);
        assert_eq!(v["int"].as_f64(), Some(42.0));
        assert_eq!(v["float"].as_f64(), Some(-2.5e-3));
        assert_eq!(v["string"].as_str(), Some("héllo \"wörld\"\n"));
        assert_eq!(
            v["bytes"].as_bytes(),
            Some(&[0, 1, 2, 0x7f, 0x80, 0xff][..])
        );
        assert_eq!(v["list"].as_list().map(<[Value]>::len), Some(3));
        assert_eq!(v["list"][1][0], "nested");
        assert!(v["list"][99].is_null());
        assert!(v["int"][0].is_null());
        assert!(v["int"]["x"].is_null());
        assert_eq!(v["list"][2]["deep"]["deeper"].as_bytes(), Some(&b"x"[..]));
        assert_eq!(v.as_dict().map(Dict::len), Some(14));
        assert_eq!(v.get("int"), Some(&Value::Integer(42)));
        assert_eq!(v.get("nope"), None);
        assert_eq!(v["int"].as_str(), None);
        assert_eq!(v["string"].as_i64(), None);

        let mut v = v;
        *v.get_mut("int").unwrap() = Value::from("changed");
        assert_eq!(v["int"], "changed");
        assert_eq!(
            v.get_mut("string").map(Value::take),
            Some(Value::from("héllo \"wörld\"\n"))
        );
        assert!(v["string"].is_null());
        assert!(v.as_list_mut().is_none());
        let mut l = list([]);
        l.as_list_mut().unwrap().push(Value::Null);
        assert_eq!(l, list([Value::Null]));
    }

    #[test]
    fn type_names() {
        let names: Vec<_> = [
            Value::Null,
            Value::Bool(true),
            Value::Integer(1),
            Value::Float(1.0),
            Value::from(""),
            Value::Bytes(vec![]),
            list([]),
            dict([]),
        ]
        .iter()
        .map(Value::type_name)
        .collect();
        assert_eq!(
            names,
            [
                "null", "bool", "integer", "float", "string", "bytes", "list", "dict"
            ]
        );
    }

    #[test]
    fn from_impls() {
        assert_eq!(Value::from(true), Value::Bool(true));
        assert_eq!(Value::from(-1i8), Value::Integer(-1));
        assert_eq!(Value::from(u16::MAX), Value::Integer(65535));
        assert_eq!(Value::from(u64::MAX), Value::Integer(u64::MAX.into()));
        assert_eq!(Value::from(i128::MIN), Value::Integer(i128::MIN));
        assert_eq!(Value::from(7usize), Value::Integer(7));
        assert_eq!(Value::from(-7isize), Value::Integer(-7));
        assert_eq!(Value::try_from(7u128), Ok(Value::Integer(7)));
        assert_eq!(Value::from(0.5f32), Value::Float(0.5));
        assert_eq!(Value::from("s"), Value::String("s".into()));
        assert_eq!(Value::from(String::from("s")), Value::String("s".into()));
        assert_eq!(Value::from(vec![Value::Null]), list([Value::Null]));
        assert_eq!(Value::from(Dict::new()), dict([]));
        assert_eq!(Value::from(Some("x")), Value::from("x"));
        assert_eq!(Value::from(None::<i32>), Value::Null);
        assert_eq!(
            [1, 2].into_iter().map(Value::from).collect::<Value>(),
            list([Value::Integer(1), Value::Integer(2)])
        );
        assert_eq!(
            [("a".to_owned(), Value::Null)]
                .into_iter()
                .collect::<Value>(),
            dict([("a", Value::Null)])
        );
    }

    #[test]
    fn serde_json_conversions() {
        let json = serde_json::json!({
            "a": [1, -2, 2.5, u64::MAX, null, true, "s"],
            "b": {"c": {}}
        });
        let value = Value::from(json.clone());
        assert_eq!(
            value,
            dict([
                (
                    "a",
                    list([
                        Value::Integer(1),
                        Value::Integer(-2),
                        Value::Float(2.5),
                        Value::Integer(u64::MAX.into()),
                        Value::Null,
                        Value::Bool(true),
                        Value::from("s"),
                    ])
                ),
                ("b", dict([("c", dict([]))])),
            ])
        );
        assert_eq!(serde_json::Value::from(value), json);

        // What JSON cannot hold.
        assert_eq!(
            serde_json::Value::from(Value::Bytes(vec![0xff, 0])),
            serde_json::json!("\u{0}/wA=")
        );
        assert_eq!(
            serde_json::Value::from(Value::Integer(1 << 70)),
            serde_json::json!(1180591620717411303424.0)
        );
        assert_eq!(
            serde_json::Value::from(Value::Float(f64::NAN)),
            serde_json::Value::Null
        );
        // The bytes come back with restore_json_binary.
        let mut back = Value::from(serde_json::Value::from(Value::Bytes(vec![1])));
        restore_json_binary(&mut back);
        assert_eq!(back, Value::Bytes(vec![1]));
    }

    #[test]
    fn comparisons_with_plain_values() {
        let v = dict([
            ("authid", Value::from("backend-1")),
            ("n", Value::Integer(5)),
            ("big", Value::Integer(1 << 40)),
            ("f", Value::Float(2.0)),
            ("ok", Value::Bool(true)),
        ]);
        assert_eq!(v["authid"], "backend-1");
        assert_eq!(v["authid"], *"backend-1");
        assert_eq!(v["authid"], String::from("backend-1"));
        assert_eq!(v["n"], 5);
        assert_eq!(v["big"], 1_099_511_627_776);
        assert_eq!(v["f"], 2.0);
        assert_eq!(v["n"], 5.0);
        assert_eq!(v["ok"], true);
        assert_ne!(v["authid"], "backend-2");
        assert_ne!(v["n"], 6);
        assert_ne!(v["f"], 2);
        assert_ne!(v["missing"], false);
        assert_ne!(v["n"], "5");
        assert_eq!("backend-1", v["authid"]);
        assert_eq!(5, v["n"]);
        assert_eq!(true, v["ok"]);
        assert_eq!(2.0, v["f"]);
        // Integers and floats are different values.
        assert_ne!(Value::Integer(2), Value::Float(2.0));
    }

    #[test]
    fn display() {
        let v = dict([
            ("b", Value::Bytes(vec![0xff, 0])),
            (
                "f",
                list([Value::Float(1.0), Value::Float(-0.5), Value::Float(1e300)]),
            ),
            ("i", Value::Integer(i128::MIN)),
            ("s", Value::from("q\"b\\n\n\t\u{1}é")),
            (
                "special",
                list([
                    Value::Float(f64::NAN),
                    Value::Float(f64::INFINITY),
                    Value::Float(f64::NEG_INFINITY),
                ]),
            ),
            ("z", list([Value::Null, Value::Bool(false), dict([])])),
        ]);
        assert_eq!(
            v.to_string(),
            r#"{"b":b64"/wA=","f":[1.0,-0.5,1e300],"i":-170141183460469231731687303715884105728,"s":"q\"b\\n\n\t\u0001é","special":[NaN,Infinity,-Infinity],"z":[null,false,{}]}"#
        );
        // Apart from bytes and non-finite floats, Display is JSON.
        let plain = sample_without_bytes();
        assert_eq!(
            serde_json::from_str::<Value>(&plain.to_string()).unwrap(),
            plain
        );
    }

    #[test]
    fn error_type_is_an_std_error() {
        fn takes_error(_: &dyn std::error::Error) {}
        let err = from_value::<u8>(Value::Null).unwrap_err();
        takes_error(&err);
        assert_eq!(err.to_string(), err.message());
        let custom = <ValueError as ser::Error>::custom("boom");
        assert_eq!(custom.to_string(), "boom");
    }
}
