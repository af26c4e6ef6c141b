//! Python's truth and dict idioms, so that a script ports without helpers of
//! its own: `bool(x)` ([`Value::is_truthy`]), `a or b` ([`Value::or`],
//! [`Value::or_else`]) and `d.get(k, default)` ([`Value::get_or`], and
//! [`DictExt`] for a [`Dict`], which is a std `BTreeMap`).

use super::index::NULL;
use super::{Dict, Value};

impl Value {
    /// Python's `for x in l:`: the items of a list, none for anything else (so a missing
    /// list is an empty loop).
    ///
    /// ```
    /// # use izaber_wamp::protocol::Value;
    /// let answer: Value = serde_json::from_str(r#"{"callees": [7, 3]}"#).unwrap();
    /// let total: u64 = answer["callees"].iter().filter_map(Value::as_u64).sum();
    /// assert_eq!(total, 10);
    /// assert_eq!(answer["missing"].iter().count(), 0);
    /// ```
    pub fn iter(&self) -> std::slice::Iter<'_, Value> {
        match self {
            Value::List(list) => list.iter(),
            _ => [].iter(),
        }
    }

    /// Python's `for k, v in d.items():`: the entries of a dict, in key order; none for
    /// anything else.
    ///
    /// ```
    /// # use izaber_wamp::protocol::Value;
    /// let answer: Value = serde_json::from_str(r#"{"exact": [1, 2], "prefix": [3]}"#).unwrap();
    /// let counts: Vec<String> = answer.items().map(|(k, ids)| format!("{k} {}", ids.len())).collect();
    /// assert_eq!(counts, ["exact 2", "prefix 1"]);
    /// ```
    pub fn items(&self) -> std::collections::btree_map::Iter<'_, String, Value> {
        static EMPTY: Dict = Dict::new();
        match self {
            Value::Dict(dict) => dict.iter(),
            _ => EMPTY.iter(),
        }
    }

    /// Python's `len(x)`: the items of a list, the keys of a dict, the bytes of a string or
    /// bytes; 0 for anything else (where Python raises `TypeError`), so that a missing list
    /// (`v["ids"]` when there is none) counts as empty.
    ///
    /// ```
    /// # use izaber_wamp::protocol::Value;
    /// let answer: Value = serde_json::from_str(r#"{"exact": [1, 2], "prefix": []}"#).unwrap();
    /// // Python: len(answer['exact'])
    /// assert_eq!(answer["exact"].len(), 2);
    /// assert_eq!(answer.len(), 2);
    /// assert!(answer["wildcard"].is_empty());
    /// ```
    pub fn len(&self) -> usize {
        match self {
            Value::List(list) => list.len(),
            Value::Dict(dict) => dict.len(),
            Value::String(text) => text.len(),
            Value::Bytes(bytes) => bytes.len(),
            _ => 0,
        }
    }

    /// Whether [`len`](Value::len) is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Python's `bool(x)`: whether `if x:` would take the branch.
    ///
    /// False for `None`, `False`, `0`, `0.0` (and `-0.0`), `""`, `b""`, `[]`
    /// and `{}`; true for everything else, NaN included (as in Python).
    ///
    /// ```
    /// # use izaber_wamp::protocol::Value;
    /// let headers: Value = serde_json::from_str(r#"{"x-forwarded-for": ""}"#).unwrap();
    /// // Python: if headers.get('x-forwarded-for'):
    /// assert!(!headers["x-forwarded-for"].is_truthy());
    /// // Python: if headers:
    /// assert!(headers.is_truthy());
    /// assert!(!Value::Null.is_truthy());
    /// assert!(Value::from(-1).is_truthy());
    /// ```
    pub fn is_truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Integer(i) => *i != 0,
            // NaN != 0.0, so NaN is true; -0.0 == 0.0, so -0.0 is false.
            Value::Float(f) => *f != 0.0,
            Value::String(s) => !s.is_empty(),
            Value::Bytes(b) => !b.is_empty(),
            Value::List(list) => !list.is_empty(),
            Value::Dict(dict) => !dict.is_empty(),
        }
    }

    /// Python's `self or other`: this value when it is truthy (see
    /// [`is_truthy`](Value::is_truthy)), else `other`, whatever `other` is.
    ///
    /// Both are taken as Python takes them (`0 or ""` is `""`); the result is
    /// a new `Value` (`self` is cloned when chosen), so it can be used on
    /// `value["key"]` and kept after `value` is gone. `other` is evaluated
    /// before the call, as any Rust argument; when it is costly or has
    /// effects (a call), use [`or_else`](Value::or_else), which evaluates it
    /// only when needed, as Python's `or` does. A `&Value` is accepted and
    /// cloned.
    ///
    /// ```
    /// # use izaber_wamp::protocol::Value;
    /// let transport: Value = serde_json::from_str(r#"{"peer": "tcp4:10.0.0.1"}"#).unwrap();
    /// let headers: Value = serde_json::from_str(r#"{"x-forwarded-for": ""}"#).unwrap();
    /// // Python: peer = headers.get('x-forwarded-for') or transport.get('peer', 'INTERNAL')
    /// let peer = headers["x-forwarded-for"].or(transport.get_or("peer", "INTERNAL"));
    /// assert_eq!(peer, "tcp4:10.0.0.1");
    ///
    /// // Python: name = kwargs.get('name') or 'anonymous'
    /// let kwargs = Value::Null;
    /// assert_eq!(kwargs["name"].or("anonymous"), "anonymous");
    /// // Python: a or b, with two values at hand
    /// assert_eq!(Value::from(0).or(&Value::from(2)), 2);
    /// ```
    pub fn or(&self, other: impl Into<Value>) -> Value {
        if self.is_truthy() {
            self.clone()
        } else {
            other.into()
        }
    }

    /// Python's `self or other()`, with `other` computed only when this
    /// value is falsy (see [`is_truthy`](Value::is_truthy)): the
    /// short-circuit of Python's `or`.
    ///
    /// ```
    /// # use izaber_wamp::protocol::Value;
    /// fn ask_the_router() -> Value {
    ///     unreachable!("not called: the cache is truthy")
    /// }
    /// let cache = Value::from("cached");
    /// // Python: result = cache or ask_the_router()
    /// let result = cache.or_else(ask_the_router);
    /// assert_eq!(result, "cached");
    /// assert_eq!(Value::Null.or_else(|| 42), 42);
    /// ```
    pub fn or_else<T: Into<Value>>(&self, other: impl FnOnce() -> T) -> Value {
        if self.is_truthy() {
            self.clone()
        } else {
            other().into()
        }
    }

    /// Python's `d.get(key, default)`: the value under `key` (cloned) when
    /// this is a [`Value::Dict`] holding `key`, else `default`.
    ///
    /// As in Python, a key that is present with the value `None` gives
    /// `Null`, not `default` (use [`or`](Value::or) for "missing or empty").
    /// A value that is not a dict gives `default` (where Python would raise
    /// `AttributeError`), as `value["key"]` gives `Null` for it.
    ///
    /// Python's `d.get(key)` without a default is `value["key"]`, which
    /// gives `Null` and borrows instead of cloning.
    ///
    /// ```
    /// # use izaber_wamp::protocol::{Dict, Value};
    /// let transport: Value = serde_json::from_str(r#"{"type": "websocket", "peer": null}"#).unwrap();
    /// // Python: transport.get('peer', 'INTERNAL')
    /// assert!(transport.get_or("peer", "INTERNAL").is_null());
    /// // Python: transport.get('cbtid', 'none')
    /// assert_eq!(transport.get_or("cbtid", "none"), "none");
    /// // Python: transport.get('http_headers_received', {})
    /// let headers = transport.get_or("http_headers_received", Dict::new());
    /// assert_eq!(headers.to_string(), "{}");
    /// ```
    pub fn get_or(&self, key: &str, default: impl Into<Value>) -> Value {
        match self.get(key) {
            Some(value) => value.clone(),
            None => default.into(),
        }
    }
}

mod sealed {
    /// Keeps [`DictExt`](super::DictExt) implemented by [`Dict`](super::Dict)
    /// alone, so that methods can be added to it later.
    pub trait Sealed {}
    impl Sealed for super::Dict {}
}

/// Python's `d.get(key)` and `d.get(key, default)` on a [`Dict`]: WAMP
/// details and keyword arguments (`event.details`, `invocation.kwargs`).
///
/// A `Dict` is a std `BTreeMap`, so `dict["key"]` **panics** on a missing
/// key (like Python's `d['key']`, which raises `KeyError`), while
/// `value["key"]` on a [`Value`] gives `Null`. These methods read a `Dict`
/// without panicking:
///
/// | Python | `Dict` (this trait, or std) | `Value` |
/// |---|---|---|
/// | `d['k']` (`KeyError` when missing) | `dict["k"]` (panics when missing) | `value.get("k").unwrap()` |
/// | `d.get('k')` | `dict.get_or_null("k")`, or std's `dict.get("k")` (an `Option`) | `value["k"]` |
/// | `d.get('k', default)` | `dict.get_or("k", default)` | `value.get_or("k", default)` |
/// | `d['k'] = x` | `dict.insert("k".into(), x)` | `value["k"] = x` |
///
/// ```
/// use izaber_wamp::protocol::{Dict, Value, value::DictExt};
///
/// let details: Dict = serde_json::from_str(r#"{"caller_authid": "zaber", "transport": {"peer": "tcp4:10.0.0.1"}}"#).unwrap();
/// // Python: details.get('caller_authid', '<unknown>')
/// assert_eq!(details.get_or("caller_authid", "<unknown>"), "zaber");
/// assert_eq!(details.get_or("caller_authrole", "<unknown>"), "<unknown>");
/// // Python: details.get('transport', {}).get('peer')
/// assert_eq!(details.get_or_null("transport")["peer"], "tcp4:10.0.0.1");
/// assert!(details.get_or_null("caller").is_null());
/// ```
pub trait DictExt: sealed::Sealed {
    /// Python's `d.get(key, default)`: the value under `key` (cloned), or
    /// `default` when `key` is missing. A key present with the value `None`
    /// gives `Null`, as in Python.
    fn get_or(&self, key: &str, default: impl Into<Value>) -> Value;

    /// Python's `d.get(key)`: the value under `key`, or [`Value::Null`] when
    /// `key` is missing. Unlike `dict["key"]` it never panics, so it reads
    /// like `value["key"]` on a [`Value`] (and nested lookups chain:
    /// `dict.get_or_null("transport")["peer"]`).
    fn get_or_null(&self, key: &str) -> &Value;
}

impl DictExt for Dict {
    fn get_or(&self, key: &str, default: impl Into<Value>) -> Value {
        match self.get(key) {
            Some(value) => value.clone(),
            None => default.into(),
        }
    }

    fn get_or_null(&self, key: &str) -> &Value {
        self.get(key).unwrap_or(&NULL)
    }
}
