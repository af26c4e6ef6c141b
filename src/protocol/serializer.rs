//! The three WAMP serializers: JSON, MessagePack and CBOR.

use std::fmt;
use std::str::FromStr;

use crate::memory;

use super::message::{Message, ProtocolError, WireMessage};
use super::restore_json_binary;
use super::value::Value;

/// A WAMP serializer.
///
/// The default preference order, as in the Python library, is CBOR, then MessagePack, then
/// JSON.
///
/// ```
/// use izaber_wamp::protocol::Serializer;
/// let s: Serializer = "msgpack".parse().unwrap();
/// assert_eq!(s.websocket_subprotocol(), "wamp.2.msgpack");
/// ```
///
/// `#[non_exhaustive]`: the specification's drafts name more serializers (UBJSON, FlatBuffers)
/// that may be added.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Serializer {
    /// `wamp.2.json`; text frames; binary values as `"\0" + base64`.
    Json,
    /// `wamp.2.msgpack`.
    MsgPack,
    /// `wamp.2.cbor`.
    Cbor,
}

impl Serializer {
    /// CBOR, MessagePack, JSON: the order tried when nothing else is configured.
    pub const DEFAULT_PREFERENCE: [Serializer; 3] =
        [Serializer::Cbor, Serializer::MsgPack, Serializer::Json];

    /// The serializer's short name: `json`, `msgpack` or `cbor`.
    pub fn name(self) -> &'static str {
        match self {
            Serializer::Json => "json",
            Serializer::MsgPack => "msgpack",
            Serializer::Cbor => "cbor",
        }
    }

    /// The WebSocket subprotocol that announces this serializer.
    pub fn websocket_subprotocol(self) -> &'static str {
        match self {
            Serializer::Json => "wamp.2.json",
            Serializer::MsgPack => "wamp.2.msgpack",
            Serializer::Cbor => "wamp.2.cbor",
        }
    }

    /// The serializer for a WebSocket subprotocol, if it is one of ours.
    pub fn from_websocket_subprotocol(protocol: &str) -> Option<Serializer> {
        match protocol {
            "wamp.2.json" => Some(Serializer::Json),
            "wamp.2.msgpack" => Some(Serializer::MsgPack),
            "wamp.2.cbor" => Some(Serializer::Cbor),
            _ => None,
        }
    }

    /// The RawSocket handshake's serializer number.
    pub fn rawsocket_id(self) -> u8 {
        match self {
            Serializer::Json => 1,
            Serializer::MsgPack => 2,
            Serializer::Cbor => 3,
        }
    }

    /// The serializer for a RawSocket handshake number.
    pub fn from_rawsocket_id(id: u8) -> Option<Serializer> {
        match id {
            1 => Some(Serializer::Json),
            2 => Some(Serializer::MsgPack),
            3 => Some(Serializer::Cbor),
            _ => None,
        }
    }

    /// True for serializers whose frames are binary (WebSocket binary frames).
    pub fn is_binary(self) -> bool {
        !matches!(self, Serializer::Json)
    }

    /// Encodes `message`, appending the bytes to `out`.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::Serialization`] when the serializer cannot represent a value (for
    /// example a map key that is not a string, for JSON).
    pub fn encode_into(self, message: &Message, out: &mut Vec<u8>) -> Result<(), ProtocolError> {
        let wire = WireMessage {
            message,
            json_binary: self == Serializer::Json,
        };
        let failed = |message: String| ProtocolError::Serialization {
            serializer: self.name(),
            message,
        };
        match self {
            Serializer::Json => {
                serde_json::to_writer(out, &wire).map_err(|e| failed(e.to_string()))
            }
            Serializer::MsgPack => {
                // Structs as arrays and no extension types: what Python's msgpack expects.
                let mut ser = rmp_serde::Serializer::new(out);
                serde::Serialize::serialize(&wire, &mut ser).map_err(|e| failed(e.to_string()))
            }
            Serializer::Cbor => {
                ciborium::into_writer(&wire, out).map_err(|e| failed(e.to_string()))
            }
        }
    }

    /// Encodes `message` into a new buffer.
    ///
    /// # Errors
    ///
    /// As [`encode_into`](Serializer::encode_into).
    pub fn encode(self, message: &Message) -> Result<Vec<u8>, ProtocolError> {
        let mut out = Vec::with_capacity(128);
        self.encode_into(message, &mut out)?;
        Ok(out)
    }

    /// Decodes one message.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::Serialization`] for bytes the serializer cannot read, and the other
    /// [`ProtocolError`]s for a value that is not a well-formed WAMP message.
    pub fn decode(self, bytes: &[u8]) -> Result<Message, ProtocolError> {
        Message::from_value(self.decode_value(bytes)?)
    }

    /// Decodes one serialized value, applying the JSON binary convention for JSON.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::Serialization`] for bytes the serializer cannot read.
    pub fn decode_value(self, bytes: &[u8]) -> Result<Value, ProtocolError> {
        let failed = |message: String| ProtocolError::Serialization {
            serializer: self.name(),
            message,
        };
        match self {
            Serializer::Json => {
                let mut value: Value =
                    serde_json::from_slice(bytes).map_err(|e| failed(e.to_string()))?;
                restore_json_binary(&mut value);
                Ok(value)
            }
            Serializer::MsgPack => rmp_serde::from_slice(bytes).map_err(|e| failed(e.to_string())),
            Serializer::Cbor => decode_cbor(bytes).map_err(|e| failed(e.to_string())),
        }
    }
}

/// The size of the scratch ciborium's `from_reader` uses for a message of its own.
const CBOR_SCRATCH: usize = 4096;

/// ciborium reads a string or binary longer than its scratch buffer (4 KiB unless given one)
/// in pieces of the scratch's size, into a value grown by doubling: copy after copy, and a
/// fresh mapping each time it passes the allocator's mmap threshold. With a scratch as large
/// as the message, each is read into the scratch and copied once into a value of its size.
///
/// A smaller message is read with a scratch of 4 KiB kept by each thread: `from_reader` would
/// zero a fresh one on the stack for every message: a third of the instructions decoding a
/// 64-byte event took (12,350 down to 8,300 under callgrind).
fn decode_cbor(bytes: &[u8]) -> Result<Value, ciborium::de::Error<std::io::Error>> {
    thread_local! {
        // Allocated on a thread's first message: threads that never decode pay nothing.
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    if bytes.len() < memory::WORTH_A_SPARE {
        let with_kept = SCRATCH.try_with(|scratch| {
            // Borrowed already only if decoding re-entered itself, which it does not.
            let mut scratch = scratch.try_borrow_mut().ok()?;
            if scratch.is_empty() {
                scratch.resize(CBOR_SCRATCH, 0);
            }
            Some(ciborium::from_reader_with_buffer(bytes, &mut scratch[..]))
        });
        // None while the thread's locals are being torn down.
        return with_kept
            .ok()
            .flatten()
            .unwrap_or_else(|| ciborium::from_reader(bytes));
    }
    let mut scratch = memory::reading_buffer(bytes.len());
    let value = ciborium::from_reader_with_buffer(bytes, &mut scratch);
    memory::give_back(scratch);
    value
}

impl fmt::Display for Serializer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error for a serializer name that is not `json`, `msgpack` or `cbor`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownSerializer(pub String);

impl fmt::Display for UnknownSerializer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown serializer '{}': expected json, msgpack or cbor",
            self.0
        )
    }
}

impl std::error::Error for UnknownSerializer {}

impl FromStr for Serializer {
    type Err = UnknownSerializer;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(Serializer::Json),
            "msgpack" => Ok(Serializer::MsgPack),
            "cbor" => Ok(Serializer::Cbor),
            _ => Err(UnknownSerializer(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;
    use crate::protocol::{Dict, code};

    fn dict(pairs: &[(&str, Value)]) -> Dict {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    fn payload() -> (Vec<Value>, Dict) {
        (
            vec![
                Value::from("text"),
                Value::Integer(-(1 << 40)),
                Value::Float(1.5),
                Value::Bytes(vec![0, 1, 254, 255]),
                Value::Null,
                Value::List(vec![Value::Bool(true)]),
            ],
            dict(&[("nested", Value::Dict(dict(&[("k", Value::from("v"))])))]),
        )
    }

    fn every_message() -> Vec<Message> {
        let (args, kwargs) = payload();
        let details = dict(&[("authid", Value::from("backend-1"))]);
        vec![
            Message::Hello {
                realm: "izaber".into(),
                details: details.clone(),
            },
            Message::Welcome {
                session: 42,
                details: details.clone(),
            },
            Message::Abort {
                details: details.clone(),
                reason: "wamp.error.no_such_realm".into(),
            },
            Message::Challenge {
                authmethod: "ticket".into(),
                extra: Dict::new(),
            },
            Message::Authenticate {
                signature: Secret::new("pw"),
                extra: Dict::new(),
            },
            Message::Goodbye {
                details: Dict::new(),
                reason: "wamp.close.normal".into(),
            },
            Message::Error {
                request_type: code::CALL,
                request: 7,
                details: Dict::new(),
                error: "wamp.error.no_such_procedure".into(),
                args: args.clone(),
                kwargs: kwargs.clone(),
            },
            Message::Publish {
                request: 1,
                options: Dict::new(),
                topic: "t".into(),
                args: args.clone(),
                kwargs: Dict::new(),
            },
            Message::Published {
                request: 1,
                publication: 2,
            },
            Message::Subscribe {
                request: 1,
                options: Dict::new(),
                topic: "t".into(),
            },
            Message::Subscribed {
                request: 1,
                subscription: 3,
            },
            Message::Unsubscribe {
                request: 1,
                subscription: 3,
            },
            Message::Unsubscribed {
                request: 1,
                details: None,
            },
            Message::Unsubscribed {
                request: 0,
                details: Some(details.clone()),
            },
            Message::Event {
                subscription: 3,
                publication: 4,
                details: Dict::new(),
                args: Vec::new(),
                kwargs: kwargs.clone(),
            },
            Message::Call {
                request: 9,
                options: Dict::new(),
                procedure: "p".into(),
                args: Vec::new(),
                kwargs: Dict::new(),
            },
            Message::Cancel {
                request: 9,
                options: dict(&[("mode", Value::from("kill"))]),
            },
            Message::Result {
                request: 9,
                details: Dict::new(),
                args: args.clone(),
                kwargs: kwargs.clone(),
            },
            Message::Register {
                request: 1,
                options: Dict::new(),
                procedure: "p".into(),
            },
            Message::Registered {
                request: 1,
                registration: 5,
            },
            Message::Unregister {
                request: 1,
                registration: 5,
            },
            Message::Unregistered {
                request: 0,
                details: Some(details),
            },
            Message::Invocation {
                request: 1,
                registration: 5,
                details: Dict::new(),
                args,
                kwargs: kwargs.clone(),
            },
            Message::Interrupt {
                request: 1,
                options: Dict::new(),
            },
            Message::Yield {
                request: 1,
                options: Dict::new(),
                args: vec![Value::Integer(u64::MAX as i128)],
                kwargs,
            },
        ]
    }

    #[test]
    fn every_message_round_trips_through_every_serializer() {
        for serializer in Serializer::DEFAULT_PREFERENCE {
            for message in every_message() {
                let bytes = serializer.encode(&message).unwrap();
                let decoded = serializer.decode(&bytes).unwrap_or_else(|e| {
                    panic!("{serializer} failed to decode {}: {e}", message.name())
                });
                assert_eq!(decoded, message, "{serializer} changed {}", message.name());
            }
        }
    }

    /// CBOR messages below the spare-buffer size share one scratch per thread: strings and
    /// binaries longer than it, shorter ones after them, and a long one after a failed
    /// decode all come back whole.
    #[test]
    fn cbor_messages_in_a_row_on_one_thread_decode_whole() {
        let long = "é".repeat(CBOR_SCRATCH * 3);
        let bytes_long: Vec<u8> = (0..CBOR_SCRATCH * 2 + 7).map(|i| i as u8).collect();
        let event = |args: Vec<Value>| Message::Event {
            subscription: 1,
            publication: 2,
            details: Dict::new(),
            args,
            kwargs: Dict::new(),
        };
        let messages = [
            event(vec![
                Value::from(long.as_str()),
                Value::Bytes(bytes_long.clone()),
            ]),
            event(vec![Value::from("short")]),
            event(vec![Value::Bytes(bytes_long), Value::from(long.as_str())]),
        ];
        let mut truncated = Serializer::Cbor.encode(&messages[0]).unwrap();
        truncated.truncate(truncated.len() / 2);
        assert!(truncated.len() < memory::WORTH_A_SPARE);
        for message in &messages {
            assert!(Serializer::Cbor.decode(&truncated).is_err());
            let bytes = Serializer::Cbor.encode(message).unwrap();
            assert!(
                bytes.len() < memory::WORTH_A_SPARE,
                "takes the kept scratch"
            );
            assert_eq!(&Serializer::Cbor.decode(&bytes).unwrap(), message);
        }
    }

    #[test]
    fn empty_payloads_are_left_out_and_kwargs_force_args() {
        let call = Message::Call {
            request: 1,
            options: Dict::new(),
            procedure: "p".into(),
            args: Vec::new(),
            kwargs: Dict::new(),
        };
        assert_eq!(Serializer::Json.encode(&call).unwrap(), br#"[48,1,{},"p"]"#);
        let call = Message::Call {
            request: 1,
            options: Dict::new(),
            procedure: "p".into(),
            args: Vec::new(),
            kwargs: dict(&[("a", Value::Integer(1))]),
        };
        assert_eq!(
            Serializer::Json.encode(&call).unwrap(),
            br#"[48,1,{},"p",[],{"a":1}]"#
        );
    }

    #[test]
    fn json_carries_bytes_with_the_wamp_convention() {
        let event = Message::Event {
            subscription: 1,
            publication: 2,
            details: Dict::new(),
            args: vec![Value::Bytes(vec![16, 227, 255])],
            kwargs: Dict::new(),
        };
        let bytes = Serializer::Json.encode(&event).unwrap();
        assert_eq!(bytes, br#"[36,1,2,{},["\u0000EOP/"]]"#);
        assert_eq!(Serializer::Json.decode(&bytes).unwrap(), event);
    }

    #[test]
    fn malformed_messages_are_errors_not_panics() {
        let cases: &[&[u8]] = &[
            b"",
            b"{}",
            b"[]",
            b"[\"x\"]",
            b"[999]",
            b"[50]",
            b"[50, \"not an id\", {}]",
            b"[50, 1, []]",
            b"[50, 1, {}, {}]",
            b"[36, 1, 2, {}, [], []]",
            b"[2, -1, {}]",
            b"[1e400]",
            b"[65, 1",
        ];
        for case in cases {
            assert!(
                Serializer::Json.decode(case).is_err(),
                "{:?} should not decode",
                String::from_utf8_lossy(case)
            );
        }
        for serializer in [Serializer::MsgPack, Serializer::Cbor] {
            for garbage in [&[0xc1u8][..], &[0xff, 0xff], &[0x93, 0x01], &[]] {
                assert!(serializer.decode(garbage).is_err());
            }
        }
    }

    #[test]
    fn json_floats_read_back_exactly() {
        for text in [
            "1.8446744307370954e20",
            "1.7976931348623157e308",
            "5e-324",
            "0.1",
        ] {
            let bytes = format!("[50,1,{{}},[{text}]]");
            let message = Serializer::Json.decode(bytes.as_bytes()).unwrap();
            let Message::Result { args, .. } = message else {
                panic!("not a RESULT")
            };
            assert_eq!(args[0], Value::Float(text.parse().unwrap()), "{text}");
        }
    }

    #[test]
    fn authenticate_never_shows_its_signature_in_debug() {
        let message = Message::Authenticate {
            signature: Secret::new("hunter2"),
            extra: Dict::new(),
        };
        assert!(!format!("{message:?}").contains("hunter2"));
    }
}
