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
// * `index.rs`: `value["key"]` and `value[i]`, to read (`Index`) and to assign (`IndexMut`);
// * `python.rs`: Python's truthiness, `a or b` and `d.get(k, default)`, on `Value` and (through
//   the `DictExt` trait) on `Dict`;
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
mod python;
mod serialize;
mod serializer;
#[cfg(test)]
mod tests;

pub use deserializer::from_value;
pub use error::ValueError;
pub use python::DictExt;
pub(crate) use serialize::serialize_integer;
pub use serializer::to_value;

/// A WAMP dictionary: string keys, sorted, each mapped to a [`Value`]
/// (`details`, `kwargs`).
///
/// It is a std [`BTreeMap`], with its methods, and so its indexing is
/// `BTreeMap`'s, not [`Value`]'s:
///
/// * `dict["key"]` **panics** when the key is missing (as Python's
///   `d['key']` raises `KeyError`), where `value["key"]` gives
///   [`Value::Null`];
/// * `dict["key"] = x` does not compile (`BTreeMap` has no `IndexMut`):
///   write `dict.insert("key".into(), x)`.
///
/// To read without panicking, use the [`DictExt`] trait:
/// `dict.get_or_null("key")` is Python's `d.get('key')` (a `&Value`, `Null`
/// when missing, as `value["key"]` gives) and `dict.get_or("key", default)`
/// is `d.get('key', default)`; std's `dict.get("key")` gives an `Option`.
///
/// ```
/// use izaber_wamp::protocol::{Dict, value::DictExt};
///
/// let details: Dict = serde_json::from_str(r#"{"caller_authid": "zaber"}"#).unwrap();
/// // Python: details.get('caller_authrole')
/// assert!(details.get_or_null("caller_authrole").is_null());
/// // Python: details.get('caller_authrole', 'public')
/// assert_eq!(details.get_or("caller_authrole", "public"), "public");
/// ```
///
/// ```should_panic
/// # use izaber_wamp::protocol::Dict;
/// let details: Dict = serde_json::from_str(r#"{"caller_authid": "zaber"}"#).unwrap();
/// // Python: details['caller_authrole'] raises KeyError; a Dict panics
/// let _role = &details["caller_authrole"];
/// ```
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
///
/// # Python idioms
///
/// A Python script's dict, list and truth idioms have a one-line twin:
///
/// | Python | Rust |
/// |---|---|
/// | `d.get('k')`, or `d['k']` when it is there | `v["k"]` (`Null` when missing or not a dict; never panics) |
/// | `l[i]` | `v[i]` (`Null` when out of range or not a list) |
/// | `d.get('k', default)` | [`v.get_or("k", default)`](Value::get_or) |
/// | `'k' in d` | `v.get("k").is_some()` |
/// | `d['k'] = x` | `v["k"] = x.into()` (inserts `k`; a `Null` `v` becomes a dict) |
/// | `l[i] = x` | `v[i] = x.into()` (panics out of range, like `IndexError`) |
/// | `l.append(x)` | `v.as_list_mut().unwrap().push(x.into())` |
/// | `if x:` | [`if x.is_truthy()`](Value::is_truthy) |
/// | `a or b` | [`a.or(b)`](Value::or), or [`a.or_else(\|\| b)`](Value::or_else) to compute `b` only when needed |
/// | `x is None` | `x.is_null()` |
/// | `len(x)` | [`x.len()`](Value::len) (0 for a missing value) |
/// | `for k, v in d.items():` | [`for (k, v) in d.items()`](Value::items) (none when not a dict) |
/// | `for x in l:` | [`for x in l.iter()`](Value::iter) (none when not a list) |
/// | `{sid: ...}` | `HashMap<Id, _>` keyed by `sid.as_u64()` (see *As a map key*) |
///
/// A [`Dict`] (`details`, `kwargs`) is a std `BTreeMap`: `dict["k"]`
/// panics when `k` is missing. [`DictExt`] gives it `get_or_null` and
/// `get_or`.
///
/// ```
/// # use izaber_wamp::protocol::Value;
/// let transport: Value = serde_json::from_str(r#"{"peer": "tcp4:10.0.0.1", "http_headers_received": {}}"#).unwrap();
/// // Python: headers = transport.get('http_headers_received', {})
/// let headers = &transport["http_headers_received"];
/// // Python: peer = headers.get('x-forwarded-for') or transport.get('peer', 'INTERNAL')
/// let peer = headers["x-forwarded-for"].or(transport.get_or("peer", "INTERNAL"));
/// assert_eq!(peer, "tcp4:10.0.0.1");
///
/// let mut reg_data: Value = serde_json::from_str(r#"{"uri": "com.example.add"}"#).unwrap();
/// // Python: reg_data['callees'] = []
/// reg_data["callees"] = Value::from(vec![]);
/// // Python: reg_data['callees'].append(4021)
/// reg_data["callees"].as_list_mut().unwrap().push(4021.into());
/// assert_eq!(reg_data.to_string(), r#"{"callees":[4021],"uri":"com.example.add"}"#);
/// ```
///
/// # As a map key
///
/// `Value` is neither `Eq` nor `Hash`, so it cannot key a `HashMap` or a
/// `BTreeMap`. Its `==` is Python's: a NaN float is not equal to itself
/// (and `0.0 == -0.0`). `Eq` promises that every value equals itself, so
/// making `Value` a key would have meant changing `==` on NaN away from
/// Python's, silently, for every comparison a port makes. Key a map by the
/// plain type the key is instead:
///
/// * session, registration, subscription and request ids are
///   [`Id`](crate::protocol::Id) (`u64`), the type
///   [`Client::session_id`](crate::Client::session_id) returns: read one
///   with [`as_u64`](Value::as_u64);
/// * names, authids and URIs are `String`: read one with
///   [`as_str`](Value::as_str).
///
/// Both give `None` for a value of another type, which the script skips or
/// turns into an error.
///
/// ```
/// use std::collections::HashMap;
/// use izaber_wamp::protocol::{Id, Value};
///
/// // What wamp.session.get answered for each id of wamp.session.list:
/// let answers: Value = serde_json::from_str(
///     r#"[{"session": 4021, "authid": "zaber"}, {"session": 8117, "authid": "backend-1"}]"#,
/// ).unwrap();
/// let mut sessions: HashMap<Id, Value> = HashMap::new();
/// for details in answers.as_list().unwrap_or_default() {
///     // Python: sessions[details['session']] = details
///     if let Some(id) = details["session"].as_u64() {
///         sessions.insert(id, details.clone());
///     }
/// }
/// // Python: sessions[wamp.session_id]['authid'], where wamp.session_id() is an Id too
/// let me: Id = 8117;
/// assert_eq!(sessions[&me]["authid"], "backend-1");
/// // Python: sessions.pop(left_id, None), with the id from a wamp.session.on_leave event
/// let left_id = Value::from(4021);
/// if let Some(id) = left_id.as_u64() {
///     sessions.remove(&id);
/// }
/// assert_eq!(sessions.len(), 1);
/// ```
///
/// ```compile_fail,E0277
/// use std::collections::HashSet;
/// use izaber_wamp::protocol::Value;
///
/// let mut seen = HashSet::new();
/// seen.insert(Value::from(4021)); // error: Value is not `Eq + Hash`
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
