//! `Display` for [`Value`]: compact JSON-like text, for logs and error messages.

use std::fmt;

use super::Value;
use crate::protocol::json_binary::Base64Display;

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
///
/// The alternate form, `{:#}`, is Python's `str()` instead, for scripts ported from Python
/// whose output must read the same: a string is its text, `null` is `None`, booleans are
/// `True` and `False`, and lists and dicts are written as Python writes them
/// (`['a', 1, None]`, `{'id': 7, 'name': 'x'}`; a dict's keys in its order, which is sorted).
///
/// ```
/// # use izaber_wamp::protocol::Value;
/// use serde_json::json;
/// // Python: print(f"{product['name']} ({product['qty']})")
/// let product = Value::from(json!({"name": "X-LSQ150B", "qty": 12, "tags": ["new", null, true]}));
/// assert_eq!(format!("{:#} ({:#})", product["name"], product["qty"]), "X-LSQ150B (12)");
/// assert_eq!(format!("{:#}", product["tags"]), "['new', None, True]");
/// assert_eq!(format!("{}", product["name"]), r#""X-LSQ150B""#); // without `#`: JSON
/// ```
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            return match self {
                Value::String(text) => f.write_str(text),
                other => write_python_repr(f, other),
            };
        }
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

/// Writes `value` as Python's `repr()` writes the value it becomes in Python.
fn write_python_repr(f: &mut fmt::Formatter<'_>, value: &Value) -> fmt::Result {
    match value {
        Value::Null => f.write_str("None"),
        Value::Bool(true) => f.write_str("True"),
        Value::Bool(false) => f.write_str("False"),
        Value::Integer(i) => write!(f, "{i}"),
        Value::Float(x) => write_python_float(f, *x),
        Value::String(text) => write_python_string(f, text),
        Value::Bytes(bytes) => write_python_bytes(f, bytes),
        Value::List(list) => {
            f.write_str("[")?;
            for (i, item) in list.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write_python_repr(f, item)?;
            }
            f.write_str("]")
        }
        Value::Dict(dict) => {
            f.write_str("{")?;
            for (i, (key, item)) in dict.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write_python_string(f, key)?;
                f.write_str(": ")?;
                write_python_repr(f, item)?;
            }
            f.write_str("}")
        }
    }
}

/// Python's `repr(float)`: the shortest text that reads back the same (as Rust's `Debug`),
/// with Python's spelling of exponents (`1e+16`, `1e-05`) and of the non-finite values.
fn write_python_float(f: &mut fmt::Formatter<'_>, x: f64) -> fmt::Result {
    if x.is_nan() {
        return f.write_str("nan");
    }
    if x.is_infinite() {
        return f.write_str(if x > 0.0 { "inf" } else { "-inf" });
    }
    let shortest = format!("{x:?}");
    match shortest.split_once('e') {
        Some((mantissa, exponent)) => {
            let (sign, digits) = match exponent.strip_prefix('-') {
                Some(digits) => ('-', digits),
                None => ('+', exponent),
            };
            write!(f, "{mantissa}e{sign}{digits:0>2}")
        }
        None => f.write_str(&shortest),
    }
}

/// Python's `repr(str)`: single quotes unless the text holds one and no double quote, and
/// escapes for the quote, backslashes and control characters.
fn write_python_string(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    write!(f, "{quote}")?;
    for c in text.chars() {
        match c {
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if c == quote => write!(f, "\\{c}")?,
            c if (c as u32) < 0x20 || c as u32 == 0x7f => write!(f, "\\x{:02x}", c as u32)?,
            c => write!(f, "{c}")?,
        }
    }
    write!(f, "{quote}")
}

/// Python's `repr(bytes)`: `b'...'`, printable ASCII as it is, the rest as escapes.
fn write_python_bytes(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    let quote = if bytes.contains(&b'\'') && !bytes.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    write!(f, "b{}", quote as char)?;
    for &byte in bytes {
        match byte {
            b'\\' => f.write_str("\\\\")?,
            b'\n' => f.write_str("\\n")?,
            b'\r' => f.write_str("\\r")?,
            b'\t' => f.write_str("\\t")?,
            byte if byte == quote => write!(f, "\\{}", byte as char)?,
            0x20..=0x7e => write!(f, "{}", byte as char)?,
            other => write!(f, "\\x{other:02x}")?,
        }
    }
    write!(f, "{}", quote as char)
}
