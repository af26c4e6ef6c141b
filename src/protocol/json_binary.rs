//! The WAMP convention for binary data in JSON, and the base64 it needs.
//!
//! JSON has no binary type, so the WAMP specification ("Binary conversion of
//! JSON Strings") sends a byte array as a JSON string made of a `\0` (U+0000)
//! character followed by the standard base64 (RFC 4648 §4, alphabet `A-Z a-z
//! 0-9 + /`, with `=` padding) of the bytes. The spec's example: the bytes
//! `10e3ff9053075c526f5fc06d4fe37cdb` travel as `"\u0000EOP/kFMHXFJvX8BtT+N82w=="`.
//! On receipt, every string starting with `\0` is decoded back into bytes.
//!
//! * [`JsonCompat`] serializes a [`Value`] with its [`Value::Bytes`] written
//!   that way (use it only with `serde_json`).
//! * [`restore_json_binary`] turns such strings in a decoded [`Value`] back
//!   into [`Value::Bytes`].

use std::fmt;

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use super::value::{Value, serialize_integer};

/// The standard base64 alphabet (RFC 4648 §4).
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Marks a byte that is not in [`ALPHABET`] in [`DECODE`].
const INVALID: u8 = 0xff;

/// Maps an ASCII byte to its 6-bit value, or [`INVALID`].
const DECODE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// Encodes `bytes` as padded standard base64.
pub(crate) fn encode_base64(bytes: &[u8]) -> String {
    Base64Display(bytes).to_string()
}

/// Decodes standard base64.
///
/// Accepts the padded form (what the WAMP spec and Python's `base64.b64encode`
/// produce) and, leniently, the same text with its `=` padding left off.
/// Returns `None` for anything else: characters outside the alphabet
/// (including whitespace and the URL-safe `-` and `_`), padding that is not at
/// the end or does not complete a 4-character group, or a length that cannot
/// be base64. Unused low bits of the last character are ignored, as Python
/// does.
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let text = text.as_bytes();
    let unpadded = match text {
        [rest @ .., b'=', b'='] | [rest @ .., b'='] => {
            if !text.len().is_multiple_of(4) {
                return None;
            }
            rest
        }
        _ => text,
    };
    if unpadded.len() % 4 == 1 {
        return None;
    }

    let mut out = Vec::with_capacity(unpadded.len() / 4 * 3 + 2);
    let mut chunks = unpadded.chunks_exact(4);
    for chunk in &mut chunks {
        let mut group = 0u32;
        for &c in chunk {
            group = (group << 6) | sextet(c)?;
        }
        out.extend_from_slice(&group.to_be_bytes()[1..]);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut group = 0u32;
        for &c in rest {
            group = (group << 6) | sextet(c)?;
        }
        // 2 characters carry 12 bits (1 byte), 3 carry 18 bits (2 bytes).
        group <<= 6 * (4 - rest.len());
        out.extend_from_slice(&group.to_be_bytes()[1..rest.len()]);
    }
    Some(out)
}

/// The 6-bit value of one base64 character.
fn sextet(c: u8) -> Option<u32> {
    match DECODE[usize::from(c)] {
        INVALID => None,
        v => Some(u32::from(v)),
    }
}

/// Writes bytes as padded standard base64 straight into a formatter, without
/// building the whole string first.
pub(crate) struct Base64Display<'a>(pub &'a [u8]);

impl fmt::Display for Base64Display<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // 96 input bytes make 128 output characters.
        let mut buf = [0u8; 128];
        for block in self.0.chunks(96) {
            let mut n = 0;
            for group in block.chunks(3) {
                let b = [
                    group[0],
                    group.get(1).copied().unwrap_or(0),
                    group.get(2).copied().unwrap_or(0),
                ];
                let bits = u32::from_be_bytes([0, b[0], b[1], b[2]]);
                for (i, slot) in buf[n..n + 4].iter_mut().enumerate() {
                    *slot = if i <= group.len() {
                        ALPHABET[((bits >> (18 - 6 * i)) & 0x3f) as usize]
                    } else {
                        b'='
                    };
                }
                n += 4;
            }
            f.write_str(std::str::from_utf8(&buf[..n]).map_err(|_| fmt::Error)?)?;
        }
        Ok(())
    }
}

/// The WAMP JSON form of binary data: `\0` followed by the base64.
struct JsonBinary<'a>(&'a [u8]);

impl fmt::Display for JsonBinary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\0")?;
        Base64Display(self.0).fmt(f)
    }
}

/// Serializes a [`Value`] for a JSON transport: exactly like `Value`'s own
/// `Serialize`, except that [`Value::Bytes`] is written as the WAMP binary
/// string (`"\u0000"` + base64) instead of an array of numbers.
///
/// The base64 is streamed into the serializer through
/// [`Serializer::collect_str`]; no intermediate `Value` or string is built.
pub(crate) struct JsonCompat<'a>(pub &'a Value);

impl Serialize for JsonCompat<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Bytes(bytes) => serializer.collect_str(&JsonBinary(bytes)),
            Value::List(list) => {
                let mut seq = serializer.serialize_seq(Some(list.len()))?;
                for item in list {
                    seq.serialize_element(&JsonCompat(item))?;
                }
                seq.end()
            }
            Value::Dict(dict) => {
                let mut map = serializer.serialize_map(Some(dict.len()))?;
                for (key, item) in dict {
                    map.serialize_entry(key, &JsonCompat(item))?;
                }
                map.end()
            }
            Value::Integer(i) => serialize_integer(*i, serializer),
            other => other.serialize(serializer),
        }
    }
}

/// Walks a `Value` decoded from JSON and, in place, turns every string that
/// starts with `\0` into [`Value::Bytes`] (the WAMP JSON binary convention).
///
/// A string starting with `\0` whose remainder is not valid base64 (see
/// [`decode_base64`]) is left as it is: it was not produced by the convention,
/// and dropping or mangling a peer's text would be worse than passing it on.
/// Dict keys are never converted: they are always strings.
pub(crate) fn restore_json_binary(value: &mut Value) {
    match value {
        Value::String(text) => {
            if let Some(bytes) = text.strip_prefix('\0').and_then(decode_base64) {
                *value = Value::Bytes(bytes);
            }
        }
        Value::List(list) => list.iter_mut().for_each(restore_json_binary),
        Value::Dict(dict) => dict.values_mut().for_each(restore_json_binary),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::value::Dict;

    /// RFC 4648 §10 test vectors.
    const VECTORS: &[(&str, &str)] = &[
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ];

    /// The example from the WAMP spec, "Binary conversion of JSON Strings".
    const SPEC_BYTES: [u8; 16] = [
        0x10, 0xe3, 0xff, 0x90, 0x53, 0x07, 0x5c, 0x52, 0x6f, 0x5f, 0xc0, 0x6d, 0x4f, 0xe3, 0x7c,
        0xdb,
    ];
    const SPEC_BASE64: &str = "EOP/kFMHXFJvX8BtT+N82w==";

    #[test]
    fn encodes_rfc4648_vectors() {
        for (plain, encoded) in VECTORS {
            assert_eq!(
                encode_base64(plain.as_bytes()),
                *encoded,
                "encoding {plain:?}"
            );
        }
        assert_eq!(encode_base64(&SPEC_BYTES), SPEC_BASE64);
    }

    #[test]
    fn decodes_rfc4648_vectors() {
        for (plain, encoded) in VECTORS {
            assert_eq!(
                decode_base64(encoded).as_deref(),
                Some(plain.as_bytes()),
                "decoding {encoded:?}"
            );
        }
        assert_eq!(decode_base64(SPEC_BASE64).as_deref(), Some(&SPEC_BYTES[..]));
    }

    #[test]
    fn decodes_without_padding() {
        assert_eq!(decode_base64("Zg").as_deref(), Some(&b"f"[..]));
        assert_eq!(decode_base64("Zm8").as_deref(), Some(&b"fo"[..]));
        assert_eq!(decode_base64("Zm9vYg").as_deref(), Some(&b"foob"[..]));
    }

    #[test]
    fn rejects_invalid_base64() {
        for bad in [
            "Z", "Zm9vY", "Zg=", "Zm8==", "Z===", "====", "=", "Zg==Zg==", "Z=g=", "Zm9v!",
            "Zm 9v", "Zm9v\n", "Zm-_", "Zé==",
        ] {
            assert_eq!(decode_base64(bad), None, "{bad:?} should be rejected");
        }
    }

    #[test]
    fn round_trips_every_length_and_byte() {
        let data: Vec<u8> = (0..=255u8).rev().chain(0..=255u8).collect();
        for len in 0..data.len() {
            let encoded = encode_base64(&data[..len]);
            assert_eq!(encoded.len(), len.div_ceil(3) * 4);
            assert_eq!(decode_base64(&encoded).as_deref(), Some(&data[..len]));
        }
    }

    #[test]
    fn json_compat_writes_the_spec_example() {
        let value = Value::List(vec![Value::Bytes(SPEC_BYTES.to_vec()), Value::from("text")]);
        let json = serde_json::to_string(&JsonCompat(&value)).unwrap();
        assert_eq!(json, r#"["\u0000EOP/kFMHXFJvX8BtT+N82w==","text"]"#);
    }

    #[test]
    fn json_compat_streams_long_bytes() {
        // Longer than one 96-byte block of the encoder.
        let bytes: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 256) as u8).collect();
        let json = serde_json::to_string(&JsonCompat(&Value::Bytes(bytes.clone()))).unwrap();
        assert_eq!(json, format!("\"\\u0000{}\"", encode_base64(&bytes)));
        let mut back: Value = serde_json::from_str(&json).unwrap();
        restore_json_binary(&mut back);
        assert_eq!(back, Value::Bytes(bytes));
    }

    #[test]
    fn bytes_round_trip_through_json_nested() {
        let mut inner = Dict::new();
        inner.insert("blob".into(), Value::Bytes(vec![0, 1, 2, 254, 255]));
        inner.insert("empty".into(), Value::Bytes(Vec::new()));
        inner.insert("text".into(), Value::from("plain"));
        inner.insert("n".into(), Value::Integer(u64::MAX.into()));
        let value = Value::List(vec![
            Value::Dict(inner),
            Value::List(vec![Value::Bytes(b"deep".to_vec()), Value::Null]),
            Value::Float(1.5),
            Value::Bool(true),
        ]);
        let json = serde_json::to_vec(&JsonCompat(&value)).unwrap();
        let mut back: Value = serde_json::from_slice(&json).unwrap();
        assert_ne!(back, value, "before restoring, bytes are still strings");
        restore_json_binary(&mut back);
        assert_eq!(back, value);
    }

    #[test]
    fn restore_reads_what_python_sends() {
        // json.dumps(['\0' + base64.b64encode(b'\x00\xffhi').decode()]) in Python.
        let mut value: Value = serde_json::from_str(r#"["\u0000AP9oaQ=="]"#).unwrap();
        restore_json_binary(&mut value);
        assert_eq!(
            value,
            Value::List(vec![Value::Bytes(vec![0, 0xff, b'h', b'i'])])
        );
    }

    #[test]
    fn restore_leaves_other_strings_alone() {
        let mut value = Value::List(vec![
            Value::from("\0not base64!"),
            Value::from("no marker: Zm9v"),
            Value::from("x\0Zm9v"),
            Value::from("\0"),
        ]);
        let expected = Value::List(vec![
            Value::from("\0not base64!"),
            Value::from("no marker: Zm9v"),
            Value::from("x\0Zm9v"),
            // An empty payload is valid base64 for zero bytes.
            Value::Bytes(Vec::new()),
        ]);
        restore_json_binary(&mut value);
        assert_eq!(value, expected);
    }

    #[test]
    fn restore_does_not_touch_keys() {
        let mut dict = Dict::new();
        dict.insert("\0Zm9v".into(), Value::from("\0Zm9v"));
        let mut value = Value::Dict(dict);
        restore_json_binary(&mut value);
        assert_eq!(value.get("\0Zm9v"), Some(&Value::Bytes(b"foo".to_vec())));
    }
}
