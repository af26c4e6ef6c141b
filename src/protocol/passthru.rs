//! Payload passthru mode (WAMP Advanced Profile): a message carries one opaque payload in
//! place of its arguments, described by `enc_algo` (and optionally `enc_serializer` and
//! `enc_key`) in its options or details. Routers route it without looking inside, which is
//! what end-to-end encryption and MQTT bridging build on.

use std::fmt;

use super::{Dict, Value};

/// An opaque payload and how it is encoded, as payload passthru mode carries it.
///
/// ```
/// use izaber_wamp::protocol::EncodedPayload;
/// let payload = EncodedPayload::new("x_myapp", b"\x01\x02\x03".to_vec()).enc_serializer("cbor");
/// assert_eq!(payload.enc_algo, "x_myapp");
/// assert!(payload.validate().is_ok());
/// assert!(EncodedPayload::new("rot13", Vec::new()).validate().is_err());
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EncodedPayload {
    /// The bytes, passed on untouched.
    pub payload: Vec<u8>,
    /// How they are encoded or encrypted: `cryptobox`, `mqtt`, `xbr`, or an application's
    /// own `x_...` name.
    pub enc_algo: String,
    /// How the data inside was serialized (`json`, `msgpack`, `cbor`, `ubjson`,
    /// `flatbuffers` or `x_...`), when said.
    pub enc_serializer: Option<String>,
    /// Which key encrypted it, when said.
    pub enc_key: Option<String>,
}

impl EncodedPayload {
    /// A payload encoded with `enc_algo`.
    pub fn new(enc_algo: impl Into<String>, payload: impl Into<Vec<u8>>) -> EncodedPayload {
        EncodedPayload {
            payload: payload.into(),
            enc_algo: enc_algo.into(),
            enc_serializer: None,
            enc_key: None,
        }
    }

    /// Says how the data inside was serialized.
    pub fn enc_serializer(mut self, serializer: impl Into<String>) -> EncodedPayload {
        self.enc_serializer = Some(serializer.into());
        self
    }

    /// Says which key encrypted it.
    pub fn enc_key(mut self, key: impl Into<String>) -> EncodedPayload {
        self.enc_key = Some(key.into());
        self
    }

    /// Checks the names against the specification, as routers do: a message with an unknown
    /// `enc_algo` or `enc_serializer` is a protocol violation, which ends the session.
    ///
    /// # Errors
    ///
    /// A message naming the field that is not a standard name and not an `x_` custom one
    /// (`x_` followed by a lowercase letter, then lowercase letters, digits or `_`).
    pub fn validate(&self) -> Result<(), String> {
        if !(["cryptobox", "mqtt", "xbr"].contains(&self.enc_algo.as_str())
            || is_custom_name(&self.enc_algo))
        {
            return Err(format!(
                "enc_algo '{}' is not cryptobox, mqtt, xbr or an x_ name",
                self.enc_algo
            ));
        }
        if let Some(serializer) = &self.enc_serializer
            && !(["json", "msgpack", "cbor", "ubjson", "flatbuffers"]
                .contains(&serializer.as_str())
                || is_custom_name(serializer))
        {
            return Err(format!(
                "enc_serializer '{serializer}' is not json, msgpack, cbor, ubjson, flatbuffers \
                 or an x_ name"
            ));
        }
        Ok(())
    }

    /// The payload of a message in passthru mode, from its options or details and its
    /// arguments; `None` for a message in the usual mode. A payload that a peer sent as text
    /// rather than as binary is taken as the text's UTF-8 bytes.
    pub fn from_message(options: &Dict, args: &[Value]) -> Option<EncodedPayload> {
        let enc_algo = options.get("enc_algo")?.as_str()?.to_owned();
        let text = |key: &str| options.get(key).and_then(Value::as_str).map(str::to_owned);
        let payload = match args {
            [Value::Bytes(bytes)] => bytes.clone(),
            [Value::String(text)] => text.clone().into_bytes(),
            [] => Vec::new(),
            _ => return None,
        };
        Some(EncodedPayload {
            payload,
            enc_algo,
            enc_serializer: text("enc_serializer"),
            enc_key: text("enc_key"),
        })
    }

    /// Writes the `enc_*` fields into a message's options and returns its arguments: the
    /// payload, alone.
    pub(crate) fn into_message_parts(self, options: &mut Dict) -> Vec<Value> {
        options.insert("enc_algo".into(), Value::String(self.enc_algo));
        for (key, value) in [
            ("enc_serializer", self.enc_serializer),
            ("enc_key", self.enc_key),
        ] {
            match value {
                Some(value) => options.insert(key.into(), Value::String(value)),
                None => options.remove(key),
            };
        }
        vec![Value::Bytes(self.payload)]
    }
}

fn is_custom_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("x_") else {
        return false;
    };
    let mut chars = rest.chars();
    match chars.next() {
        None => true,
        Some(first) => {
            first.is_ascii_lowercase()
                && chars.clone().next().is_some()
                && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        }
    }
}

impl fmt::Debug for EncodedPayload {
    // The payload may be large (and is opaque anyway): its length says enough.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncodedPayload")
            .field("enc_algo", &self.enc_algo)
            .field("enc_serializer", &self.enc_serializer)
            .field("enc_key", &self.enc_key)
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_names_follow_autobahns_rule() {
        // `^x_([a-z][\da-z_]+)?$`: "x_" alone, or a lowercase letter and at least one more.
        for good in ["x_", "x_ab", "x_my_app2", "x_a_"] {
            assert!(is_custom_name(good), "{good}");
        }
        for bad in ["x_a", "x_A1", "x_1a", "y_ab", "xab", "x_a-b", ""] {
            assert!(!is_custom_name(bad), "{bad}");
        }
    }

    #[test]
    fn parts_round_trip() {
        let payload = EncodedPayload::new("cryptobox", vec![1, 2, 3])
            .enc_serializer("msgpack")
            .enc_key("key-1");
        let mut options = Dict::new();
        let args = payload.clone().into_message_parts(&mut options);
        assert_eq!(EncodedPayload::from_message(&options, &args), Some(payload));
        assert_eq!(EncodedPayload::from_message(&Dict::new(), &args), None);
    }

    /// Every payload passthru sample of the official WAMP test suite (see the data file's
    /// header for where each comes from): decoded, the payload and its `enc_*` fields are
    /// what the suite expects; encoded again and decoded, the message is the same, and the
    /// binary serializers reproduce the suite's bytes.
    #[test]
    fn passes_the_wamp_test_suite_passthru_samples() {
        use crate::protocol::{Message, Serializer};
        let data = include_str!("passthru_vectors.txt");
        let mut checked = 0;
        for line in data
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let fields: Vec<&str> = line.split(' ').collect();
            let [
                kind,
                serializer,
                enc_algo,
                enc_serializer,
                enc_key,
                payload_hex,
                bytes_hex,
            ] = fields[..]
            else {
                panic!("malformed vector line: {line}");
            };
            let absent = |field: &str| (field != "-").then(|| field.to_owned());
            let serializer: Serializer = serializer.parse().unwrap();
            let bytes = decode_hex(bytes_hex).unwrap();
            let message = serializer.decode(&bytes).unwrap();
            let (name, options, args, kwargs) = match &message {
                Message::Publish {
                    options,
                    args,
                    kwargs,
                    ..
                } => ("PUBLISH", options, args, kwargs),
                Message::Event {
                    details,
                    args,
                    kwargs,
                    ..
                } => ("EVENT", details, args, kwargs),
                other => panic!("unexpected {}", other.name()),
            };
            assert_eq!(name, kind);
            assert!(kwargs.is_empty());
            let payload = EncodedPayload::from_message(options, args).unwrap();
            assert_eq!(
                payload,
                EncodedPayload {
                    payload: decode_hex(payload_hex).unwrap(),
                    enc_algo: enc_algo.to_owned(),
                    enc_serializer: absent(enc_serializer),
                    enc_key: absent(enc_key),
                },
                "{line}"
            );
            assert!(payload.validate().is_ok());
            let encoded = serializer.encode(&message).unwrap();
            assert_eq!(serializer.decode(&encoded).unwrap(), message, "{line}");
            if serializer != Serializer::Json {
                // The payload goes in the arguments' place as one native binary (a 2-byte
                // header at these sizes)...
                let tail = &bytes[bytes.len() - payload.payload.len() - 2..];
                assert!(encoded.ends_with(tail), "{line}");
                // ... and, but for the order of keys inside nested dicts (ours are sorted),
                // the whole message is the suite's bytes.
                if !options.contains_key("forward_for") {
                    assert_eq!(encode_hex(&encoded), bytes_hex, "{line}");
                }
            }
            checked += 1;
        }
        assert_eq!(checked, 12);
    }

    // The protocol's tests use nothing of the layers above it: these are not the session's
    // hex helpers (for Cryptosign keys), but their own.
    fn decode_hex(text: &str) -> Option<Vec<u8>> {
        (0..text.len())
            .step_by(2)
            .map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok())
            .collect()
    }

    fn encode_hex(bytes: &[u8]) -> String {
        bytes.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    #[test]
    fn debug_shows_the_length_not_the_bytes() {
        let debug = format!("{:?}", EncodedPayload::new("x_ab", vec![0xAB; 1000]));
        assert!(debug.contains("payload_len: 1000"), "{debug}");
        assert!(!debug.contains("171"), "{debug}");
    }
}
