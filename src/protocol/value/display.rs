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
