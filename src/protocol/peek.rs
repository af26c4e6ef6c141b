//! The first integers of a serialized message, read without decoding it: its type code and
//! the ids after it (`[50, request, ...]` for a RESULT, `[8, 48, request, ...]` for an ERROR
//! of a CALL, `[68, request, registration, ...]` for an INVOCATION).
//!
//! A thread that reads the connection for one message of its own (a caller waiting for its
//! RESULT, an idle handler worker for INVOCATIONs) passes the others on to the socket
//! thread, which decodes them; peeking lets it pass them on without decoding them first.
//! A peek is a hint: `None` (bytes it does not follow) sends the message the long way, and
//! whatever a peek selects is decoded and checked in full before it is used.

use super::Serializer;

/// How many leading integers a peek reads.
const PEEKED: usize = 3;

/// The leading unsigned integers of a message's array, up to three: fewer when the array
/// is shorter or an element is not an unsigned integer (the peek stops there).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Peek {
    integers: [u64; PEEKED],
    len: usize,
}

impl Peek {
    /// The `index`th leading integer, when the peek reached it.
    pub fn get(&self, index: usize) -> Option<u64> {
        (index < self.len).then(|| self.integers[index])
    }

    fn push(&mut self, integer: u64) -> bool {
        self.integers[self.len] = integer;
        self.len += 1;
        self.len < PEEKED
    }
}

impl Serializer {
    /// The leading integers of the message in `bytes`, or `None` when the bytes do not start
    /// as a WAMP message (an array whose first element is an unsigned integer) does.
    pub(crate) fn peek(self, bytes: &[u8]) -> Option<Peek> {
        let peek = match self {
            Serializer::Json => peek_json(bytes),
            Serializer::MsgPack => peek_binary(bytes, msgpack_array, msgpack_uint),
            Serializer::Cbor => peek_binary(bytes, cbor_array, cbor_uint),
        };
        peek.filter(|peek| peek.len > 0)
    }
}

fn peek_json(bytes: &[u8]) -> Option<Peek> {
    let mut at = skip_json_space(bytes, 0);
    if bytes.get(at) != Some(&b'[') {
        return None;
    }
    let mut peek = Peek::default();
    loop {
        at = skip_json_space(bytes, at + 1);
        let start = at;
        let mut integer: u64 = 0;
        while let Some(digit) = bytes.get(at).filter(|b| b.is_ascii_digit()) {
            integer = integer
                .checked_mul(10)?
                .checked_add(u64::from(digit - b'0'))?;
            at += 1;
        }
        // Not an integer (or one that goes on as a float, `1.5`, `1e3`): stop here.
        let ends_integer = at > start
            && !matches!(bytes.get(at), Some(b'.' | b'e' | b'E'))
            && (bytes[start] != b'0' || at == start + 1);
        if !ends_integer || !peek.push(integer) {
            return Some(peek);
        }
        at = skip_json_space(bytes, at);
        if bytes.get(at) != Some(&b',') {
            return Some(peek);
        }
    }
}

fn skip_json_space(bytes: &[u8], mut at: usize) -> usize {
    while matches!(bytes.get(at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        at += 1;
    }
    at
}

/// Reads an array head: the array's length (`None`: indefinite) and the bytes the head took.
type ArrayHead = fn(&[u8]) -> Option<(Option<u64>, usize)>;
/// Reads an unsigned integer: its value and the bytes it took.
type Unsigned = fn(&[u8]) -> Option<(u64, usize)>;

/// Reads the array's length and the unsigned integers at its start, with the format's two
/// readers.
fn peek_binary(bytes: &[u8], array: ArrayHead, uint: Unsigned) -> Option<Peek> {
    let (length, mut at) = array(bytes)?;
    let mut peek = Peek::default();
    let mut index = 0;
    while length.is_none_or(|length| index < length) {
        let Some((integer, taken)) = bytes.get(at..).and_then(uint) else {
            break;
        };
        at += taken;
        index += 1;
        if !peek.push(integer) {
            break;
        }
    }
    Some(peek)
}

fn be(bytes: &[u8], from: usize, width: usize) -> Option<u64> {
    let slice = bytes.get(from..from + width)?;
    Some(slice.iter().fold(0, |n, &b| (n << 8) | u64::from(b)))
}

/// A MessagePack array header: its length.
fn msgpack_array(bytes: &[u8]) -> Option<(Option<u64>, usize)> {
    match *bytes.first()? {
        b @ 0x90..=0x9f => Some((Some(u64::from(b & 0x0f)), 1)),
        0xdc => Some((Some(be(bytes, 1, 2)?), 3)),
        0xdd => Some((Some(be(bytes, 1, 4)?), 5)),
        _ => None,
    }
}

/// A MessagePack non-negative integer, in any of its encodings.
fn msgpack_uint(bytes: &[u8]) -> Option<(u64, usize)> {
    let (width, signed) = match *bytes.first()? {
        b @ 0x00..=0x7f => return Some((u64::from(b), 1)),
        0xcc => (1, false),
        0xcd => (2, false),
        0xce => (4, false),
        0xcf => (8, false),
        0xd0 => (1, true),
        0xd1 => (2, true),
        0xd2 => (4, true),
        0xd3 => (8, true),
        _ => return None,
    };
    let value = be(bytes, 1, width)?;
    let negative = signed && value >> (width * 8 - 1) & 1 == 1;
    (!negative).then_some((value, 1 + width))
}

/// A CBOR array header (major type 4): its length, `None` when indefinite.
fn cbor_array(bytes: &[u8]) -> Option<(Option<u64>, usize)> {
    let first = *bytes.first()?;
    if first >> 5 != 4 {
        return None;
    }
    if first == 0x9f {
        return Some((None, 1));
    }
    cbor_argument(bytes).map(|(length, taken)| (Some(length), taken))
}

/// A CBOR unsigned integer (major type 0).
fn cbor_uint(bytes: &[u8]) -> Option<(u64, usize)> {
    if *bytes.first()? >> 5 != 0 {
        return None;
    }
    cbor_argument(bytes)
}

/// The argument of a CBOR head (the value, or a length), and the bytes the head takes.
fn cbor_argument(bytes: &[u8]) -> Option<(u64, usize)> {
    match bytes.first()? & 0x1f {
        small @ 0..=23 => Some((u64::from(small), 1)),
        24 => Some((be(bytes, 1, 1)?, 2)),
        25 => Some((be(bytes, 1, 2)?, 3)),
        26 => Some((be(bytes, 1, 4)?, 5)),
        27 => Some((be(bytes, 1, 8)?, 9)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Dict, Message, Value};

    fn messages() -> Vec<Message> {
        let big = u64::MAX >> 11; // the largest WAMP id, 2^53
        vec![
            Message::Result {
                request: 7,
                details: Dict::new(),
                args: vec![Value::from("x")],
                kwargs: Dict::new(),
            },
            Message::Result {
                request: big,
                details: Dict::new(),
                args: vec![],
                kwargs: Dict::new(),
            },
            Message::Error {
                request_type: 48,
                request: 300,
                details: Dict::new(),
                error: "wamp.error.canceled".into(),
                args: vec![],
                kwargs: Dict::new(),
            },
            Message::Invocation {
                request: 70_000,
                registration: 5_000_000_000,
                details: Dict::new(),
                args: vec![Value::from(1.5)],
                kwargs: Dict::new(),
            },
            Message::Event {
                subscription: 1,
                publication: 2,
                details: Dict::new(),
                args: vec![],
                kwargs: Dict::new(),
            },
            Message::Goodbye {
                details: Dict::new(),
                reason: "wamp.close.normal".into(),
            },
        ]
    }

    /// The integers a message starts with, read from its fully decoded array form.
    fn leading_integers(serializer: Serializer, bytes: &[u8]) -> Vec<u64> {
        let Value::List(items) = serializer.decode_value(bytes).unwrap() else {
            panic!("a message is an array")
        };
        items
            .iter()
            .map_while(|item| item.as_u64())
            .take(PEEKED)
            .collect()
    }

    #[test]
    fn a_peek_reads_what_a_full_decode_reads() {
        for serializer in [Serializer::Json, Serializer::MsgPack, Serializer::Cbor] {
            for message in messages() {
                let bytes = serializer.encode(&message).unwrap();
                let peek = serializer.peek(&bytes).expect("a message peeks");
                let peeked: Vec<u64> = (0..PEEKED).map_while(|i| peek.get(i)).collect();
                assert_eq!(
                    peeked,
                    leading_integers(serializer, &bytes),
                    "{serializer} {message:?}"
                );
                assert_eq!(peek.get(0), Some(message.code()));
            }
        }
    }

    #[test]
    fn other_bytes_peek_as_nothing_or_stop_early() {
        for bytes in [
            &b""[..],
            b"{}",
            b"[]",
            b"[\"x\", 1]",
            b"[-1, 2]",
            b"[1.5, 2]",
            b"[01, 2]",
        ] {
            assert_eq!(Serializer::Json.peek(bytes), None, "{bytes:?}");
        }
        let stops = Serializer::Json.peek(b" [ 50 , 7 , {} ]").unwrap();
        assert_eq!(
            (stops.get(0), stops.get(1), stops.get(2)),
            (Some(50), Some(7), None)
        );
        assert_eq!(Serializer::Json.peek(b"[99999999999999999999999, 1]"), None);
        // Truncated binary heads peek as far as they go, never past the end.
        for serializer in [Serializer::MsgPack, Serializer::Cbor] {
            let bytes = serializer.encode(&messages()[3]).unwrap();
            for end in 0..bytes.len() {
                let _ = serializer.peek(&bytes[..end]);
            }
        }
        // A negative MessagePack integer is not an id.
        assert_eq!(Serializer::MsgPack.peek(&[0x92, 0xd0, 0xff, 0x01]), None);
    }

    /// Mutated encodings: a peek never panics, and never reads an integer the full decode
    /// reads otherwise (it may stop earlier).
    #[test]
    fn a_peek_never_contradicts_the_decoder() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut compared = 0;
        for serializer in [Serializer::Json, Serializer::MsgPack, Serializer::Cbor] {
            for message in messages() {
                let original = serializer.encode(&message).unwrap();
                for _ in 0..3000 {
                    let mut bytes = original.clone();
                    for _ in 0..=next() % 3 {
                        let at = (next() % bytes.len() as u64) as usize;
                        bytes[at] = next() as u8;
                    }
                    let peek = serializer.peek(&bytes);
                    let Ok(Value::List(items)) = serializer.decode_value(&bytes) else {
                        continue;
                    };
                    compared += 1;
                    for index in 0..PEEKED {
                        if let Some(peeked) = peek.and_then(|peek| peek.get(index)) {
                            assert_eq!(
                                items.get(index).and_then(Value::as_u64),
                                Some(peeked),
                                "{serializer} {bytes:?}"
                            );
                        }
                    }
                }
            }
        }
        assert!(compared > 10_000, "only {compared} mutations decoded");
    }
}
