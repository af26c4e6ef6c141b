//! `value["key"]` and `value[i]`: reading gives [`Value::Null`] for what is
//! missing; assigning (`value["key"] = ..`) inserts the key, as Python does.
//!
//! Reading and writing differ on purpose, as in `serde_json`: a script reads
//! nested details without checking each level (`details["transport"]["peer"]`
//! is `Null` when any level is missing), but an assignment that cannot happen
//! (into a string, or past the end of a list) panics instead of being lost.
//!
//! A [`Dict`](super::Dict) is a std `BTreeMap`, whose own `dict["key"]`
//! panics on a missing key; see [`Dict`](super::Dict) for the non-panicking
//! ways.

use std::ops::{Index, IndexMut};

use super::{Dict, Value};

/// Returned by [`Index`] (and [`DictExt::get_or_null`](super::DictExt::get_or_null)) when a
/// key or position is missing.
pub(super) static NULL: Value = Value::Null;

/// `value["key"]` looks a key up in a [`Value::Dict`]; like `serde_json`, it
/// gives [`Value::Null`] when the key is missing or the value is not a dict
/// (Python's `d.get('key')`, not `d['key']`: it never panics).
///
/// Indexing a [`Dict`] itself panics on a missing key instead (it is a std
/// `BTreeMap`); use [`DictExt::get_or_null`](super::DictExt::get_or_null)
/// there.
///
/// ```
/// # use izaber_wamp::protocol::Value;
/// let details: Value = serde_json::from_str(r#"{"transport": {"peer": "tcp4:10.0.0.1"}}"#).unwrap();
/// // Python: details.get('transport', {}).get('peer')
/// assert_eq!(details["transport"]["peer"], "tcp4:10.0.0.1");
/// // Python: details.get('transport', {}).get('http_headers_received', {}).get('x-forwarded-for')
/// assert!(details["transport"]["http_headers_received"]["x-forwarded-for"].is_null());
/// ```
impl Index<&str> for Value {
    type Output = Value;

    fn index(&self, key: &str) -> &Value {
        self.get(key).unwrap_or(&NULL)
    }
}

/// `value[i]` gets an item of a [`Value::List`]; like `serde_json`, it gives
/// [`Value::Null`] when out of range or when the value is not a list (where
/// Python would raise `IndexError`).
impl Index<usize> for Value {
    type Output = Value;

    fn index(&self, index: usize) -> &Value {
        self.as_list()
            .and_then(|list| list.get(index))
            .unwrap_or(&NULL)
    }
}

/// `value["key"] = x` assigns into a [`Value::Dict`], inserting the key when
/// it is missing, as Python's `d['key'] = x` does.
///
/// * A [`Value::Null`] first becomes an empty dict (as in `serde_json`), so
///   `let mut kwargs = Value::Null; kwargs["unit"] = "mm".into();` builds a
///   dict, and `v["a"]["b"] = x` creates `v["a"]` when it is missing (where
///   Python would raise `KeyError`).
/// * Any other type panics, naming it, as Python's `TypeError` would:
///   ``cannot set value["key"]: the value is a list, not a dict``.
///
/// Every *mutable* use goes through here, not only `=`: `v["k"].take()` or
/// `v["k"].as_list_mut()` on a missing key inserts it as `Null` (like Python's
/// `d.setdefault('k')`). Reading (`&v["k"]`, `v["k"] == 1`, `v["k"].as_str()`)
/// never changes the value.
///
/// ```
/// # use izaber_wamp::protocol::Value;
/// let mut reg_data: Value = serde_json::from_str(r#"{"uri": "com.example.add"}"#).unwrap();
/// // Python: reg_data['callees'] = []
/// reg_data["callees"] = Value::from(vec![]);
/// // Python: reg_data['uri'] = 'com.example.sum'
/// reg_data["uri"] = "com.example.sum".into();
/// assert_eq!(reg_data.to_string(), r#"{"callees":[],"uri":"com.example.sum"}"#);
/// ```
impl IndexMut<&str> for Value {
    fn index_mut(&mut self, key: &str) -> &mut Value {
        if self.is_null() {
            *self = Value::Dict(Dict::new());
        }
        match self {
            Value::Dict(dict) => dict.entry(key.to_owned()).or_default(),
            other => panic!(
                "cannot set value[{key:?}]: the value is {}, not a dict",
                other.described()
            ),
        }
    }
}

/// `value[i] = x` replaces an item of a [`Value::List`], as Python's
/// `l[i] = x` does.
///
/// It panics when `i` is out of range (Python's `IndexError: list assignment
/// index out of range`; use [`Value::as_list_mut`] and `push` to append) and
/// when the value is not a list, `Null` included (Python's `TypeError`).
/// Reading `value[i]` out of range gives `Null` instead.
///
/// ```
/// # use izaber_wamp::protocol::Value;
/// let mut args: Value = serde_json::from_str(r#"["pos1", "pos2"]"#).unwrap();
/// // Python: args[1] = 2
/// args[1] = 2.into();
/// assert_eq!(args.to_string(), r#"["pos1",2]"#);
/// ```
///
/// ```should_panic
/// # use izaber_wamp::protocol::Value;
/// let mut args: Value = serde_json::from_str(r#"["pos1", "pos2"]"#).unwrap();
/// // Python: args[2] = 3 raises IndexError
/// args[2] = 3.into();
/// ```
impl IndexMut<usize> for Value {
    fn index_mut(&mut self, index: usize) -> &mut Value {
        match self {
            Value::List(list) => {
                let len = list.len();
                list.get_mut(index).unwrap_or_else(|| {
                    panic!(
                        "cannot set value[{index}]: list assignment index out of range \
                         (the list has {len} items)"
                    )
                })
            }
            other => panic!(
                "cannot set value[{index}]: the value is {}, not a list",
                other.described()
            ),
        }
    }
}
