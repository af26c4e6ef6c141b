//! Writes the seed corpus in `fuzz/seeds/<target>/`: one valid message of every kind in every
//! serializer, and a few RawSocket and WebSocket sessions. The files are committed; run this again after a
//! change to the message format:
//!
//! ```sh
//! cargo run --manifest-path fuzz/Cargo.toml --example seeds
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use izaber_wamp::Secret;
use izaber_wamp::protocol::{Dict, Message, Serializer, Value, code};

/// Every message a router sends a joined client, in a session's order: the "joined" seed of
/// each stream target.
const JOINED_SESSION: &[&str] = &[
    "welcome",
    "event",
    "result",
    "result_progress",
    "error",
    "invocation",
    "interrupt",
    "published",
    "subscribed",
    "unsubscribed_revoked",
    "registered",
    "unregistered_revoked",
    "goodbye",
];

fn dict(pairs: &[(&str, Value)]) -> Dict {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

/// Arguments with one value of every type, and a nested dict.
fn payload() -> (Vec<Value>, Dict) {
    (
        vec![
            Value::from("text"),
            Value::Integer(-(1 << 40)),
            Value::Integer(u64::MAX.into()),
            Value::Float(1.5),
            Value::Bytes(vec![0, 1, 254, 255]),
            Value::Null,
            Value::Bool(true),
            Value::List(vec![Value::Integer(1), Value::from("two")]),
        ],
        dict(&[
            ("n", Value::Integer(7)),
            ("nested", Value::Dict(dict(&[("k", Value::from("v"))]))),
        ]),
    )
}

/// One message of every kind, named for the file it goes in.
fn every_message() -> Vec<(&'static str, Message)> {
    let (args, kwargs) = payload();
    let details = dict(&[
        ("authid", Value::from("backend-1")),
        ("authrole", Value::from("backend")),
    ]);
    let empty = Dict::new;
    vec![
        (
            "hello",
            Message::Hello {
                realm: "izaber".into(),
                details: dict(&[
                    ("authmethods", Value::List(vec![Value::from("ticket")])),
                    ("authid", Value::from("backend-1")),
                ]),
            },
        ),
        (
            "welcome",
            Message::Welcome {
                session: 42,
                details: details.clone(),
            },
        ),
        (
            "abort",
            Message::Abort {
                details: dict(&[("message", Value::from("no such realm"))]),
                reason: "wamp.error.no_such_realm".into(),
            },
        ),
        (
            "challenge_ticket",
            Message::Challenge {
                authmethod: "ticket".into(),
                extra: empty(),
            },
        ),
        (
            "challenge_wampcra",
            Message::Challenge {
                authmethod: "wampcra".into(),
                extra: dict(&[
                    ("challenge", Value::from("{\"nonce\":\"abc\"}")),
                    ("salt", Value::from("salt123")),
                    ("iterations", Value::Integer(10)),
                    ("keylen", Value::Integer(32)),
                ]),
            },
        ),
        (
            "authenticate",
            Message::Authenticate {
                signature: Secret::new("ticket"),
                extra: empty(),
            },
        ),
        (
            "goodbye",
            Message::Goodbye {
                details: empty(),
                reason: "wamp.close.normal".into(),
            },
        ),
        (
            "error",
            Message::Error {
                request_type: code::CALL,
                request: 7,
                details: empty(),
                error: "wamp.error.no_such_procedure".into(),
                args: args.clone(),
                kwargs: kwargs.clone(),
            },
        ),
        (
            "publish",
            Message::Publish {
                request: 1,
                options: dict(&[("acknowledge", Value::Bool(true))]),
                topic: "com.example.topic".into(),
                args: args.clone(),
                kwargs: empty(),
            },
        ),
        (
            "published",
            Message::Published {
                request: 1,
                publication: 2,
            },
        ),
        (
            "subscribe",
            Message::Subscribe {
                request: 1,
                options: dict(&[("match", Value::from("prefix"))]),
                topic: "com.example".into(),
            },
        ),
        (
            "subscribed",
            Message::Subscribed {
                request: 1,
                subscription: 3,
            },
        ),
        (
            "unsubscribe",
            Message::Unsubscribe {
                request: 1,
                subscription: 3,
            },
        ),
        (
            "unsubscribed",
            Message::Unsubscribed {
                request: 1,
                details: None,
            },
        ),
        (
            "unsubscribed_revoked",
            Message::Unsubscribed {
                request: 0,
                details: Some(dict(&[
                    ("subscription", Value::Integer(3)),
                    ("reason", Value::from("wamp.error.revoked")),
                ])),
            },
        ),
        (
            "event",
            Message::Event {
                subscription: 3,
                publication: 4,
                details: dict(&[("topic", Value::from("com.example.topic"))]),
                args: args.clone(),
                kwargs: kwargs.clone(),
            },
        ),
        (
            "call",
            Message::Call {
                request: 9,
                options: dict(&[("timeout", Value::Integer(1000))]),
                procedure: "com.example.add".into(),
                args: vec![Value::Integer(2), Value::Integer(3)],
                kwargs: empty(),
            },
        ),
        (
            "cancel",
            Message::Cancel {
                request: 9,
                options: dict(&[("mode", Value::from("kill"))]),
            },
        ),
        (
            "result",
            Message::Result {
                request: 9,
                details: empty(),
                args: args.clone(),
                kwargs: kwargs.clone(),
            },
        ),
        (
            "result_progress",
            Message::Result {
                request: 9,
                details: dict(&[("progress", Value::Bool(true))]),
                args: vec![Value::Integer(1)],
                kwargs: empty(),
            },
        ),
        (
            "register",
            Message::Register {
                request: 1,
                options: dict(&[("force_reregister", Value::Bool(true))]),
                procedure: "com.example.add".into(),
            },
        ),
        (
            "registered",
            Message::Registered {
                request: 1,
                registration: 5,
            },
        ),
        (
            "unregister",
            Message::Unregister {
                request: 1,
                registration: 5,
            },
        ),
        (
            "unregistered_revoked",
            Message::Unregistered {
                request: 0,
                details: Some(dict(&[
                    ("registration", Value::Integer(5)),
                    ("reason", Value::from("wamp.error.revoked")),
                ])),
            },
        ),
        (
            "invocation",
            Message::Invocation {
                request: 1,
                registration: 5,
                details: details.clone(),
                args: args.clone(),
                kwargs: kwargs.clone(),
            },
        ),
        (
            "interrupt",
            Message::Interrupt {
                request: 1,
                options: dict(&[("mode", Value::from("killnowait"))]),
            },
        ),
        (
            "yield",
            Message::Yield {
                request: 1,
                options: empty(),
                args,
                kwargs,
            },
        ),
    ]
}

/// The first input byte that picks `serializer` in the rawsocket and websocket targets
/// (`serializer_for`, `websocket_subprotocol_for`: the byte modulo 3).
fn choice_byte(serializer: Serializer) -> u8 {
    match serializer {
        Serializer::Json => 0,
        Serializer::MsgPack => 1,
        Serializer::Cbor => 2,
        // `Serializer` is `#[non_exhaustive]`: a new one needs its own choice in the targets.
        other => panic!("the fuzz targets cannot choose {other}"),
    }
}

/// A RawSocket frame: type (0 message, 1 ping, 2 pong), 3-byte big-endian length, payload.
fn frame(frame_type: u8, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).expect("seed frames are small");
    let mut out = vec![frame_type];
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.extend_from_slice(payload);
    out
}

/// RawSocket inputs (see `rawsocket_session`): a serializer choice, the router's handshake
/// reply, then frames. Sessions that join and then receive every kind of message a router
/// sends, one that logs in with a ticket, one that is aborted, and a ping.
fn rawsocket_sessions(
    serializer: Serializer,
    messages: &BTreeMap<&str, Message>,
) -> Vec<(String, Vec<u8>)> {
    let choice = choice_byte(serializer);
    let start = [choice, 0xF0 | serializer.rawsocket_id()];
    let message = |name: &str| frame(0, &serializer.encode(&messages[name]).unwrap());
    let session = |name: &str, names: &[&str]| {
        let mut bytes = start.to_vec();
        for n in names {
            bytes.extend(message(n));
        }
        (format!("{name}_{serializer}"), bytes)
    };
    let mut ping = start.to_vec();
    ping.extend(frame(1, b"ping"));
    ping.extend(message("welcome"));
    ping.extend(frame(2, b"pong"));
    vec![
        session("joined", JOINED_SESSION),
        session("ticket", &["challenge_ticket", "welcome"]),
        session("abort", &["abort"]),
        (format!("ping_{serializer}"), ping),
    ]
}

/// A WebSocket frame as a server sends it (RFC 6455, 5.2): FIN and the opcode, the length in
/// 7, 16 or 64 bits, no mask, the payload.
fn ws_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
    match payload.len() {
        len @ 0..=125 => out.push(len as u8),
        len @ 126..=0xFFFF => {
            out.push(126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
    out
}

const WS_CONTINUATION: u8 = 0x0;
const WS_TEXT: u8 = 0x1;
const WS_BINARY: u8 = 0x2;
const WS_CLOSE: u8 = 0x8;
const WS_PING: u8 = 0x9;
const WS_PONG: u8 = 0xA;

/// WebSocket inputs (see `websocket_session`): a subprotocol choice, then server frames. The
/// sessions of `rawsocket_sessions` (joined, ticket, abort), then what only WebSocket has: a
/// WELCOME in three fragments with a ping between two of them, a close frame with a code and
/// a reason after WELCOME, a close frame without a code, a frame header announcing more
/// than the client's 1 MiB maximum, and, under the 1 KiB one, fragments adding up past it.
fn websocket_sessions(
    serializer: Serializer,
    messages: &BTreeMap<&str, Message>,
) -> Vec<(String, Vec<u8>)> {
    let choice = choice_byte(serializer);
    let data = if serializer.is_binary() {
        WS_BINARY
    } else {
        WS_TEXT
    };
    let encoded = |name: &str| serializer.encode(&messages[name]).unwrap();
    let message = |name: &str| ws_frame(true, data, &encoded(name));
    let session = |name: &str, names: &[&str]| {
        let mut bytes = vec![choice];
        for n in names {
            bytes.extend(message(n));
        }
        (format!("{name}_{serializer}"), bytes)
    };
    let with = |name: &str, parts: &[Vec<u8>]| {
        let mut bytes = vec![choice];
        for part in parts {
            bytes.extend_from_slice(part);
        }
        (format!("{name}_{serializer}"), bytes)
    };
    let welcome = encoded("welcome");
    let third = welcome.len() / 3;
    let mut close = 1001u16.to_be_bytes().to_vec();
    close.extend_from_slice(b"router shutting down");
    // 2 MiB announced with the 64-bit length (the 16-bit one tops out at 64 KiB); the client
    // refuses it from the header, so no payload follows.
    let mut oversized = vec![0x80 | data, 127];
    oversized.extend_from_slice(&(2u64 << 20).to_be_bytes());
    vec![
        session("joined", JOINED_SESSION),
        session("ticket", &["challenge_ticket", "welcome"]),
        session("abort", &["abort"]),
        with(
            "fragmented",
            &[
                ws_frame(false, data, &welcome[..third]),
                ws_frame(true, WS_PING, b"ping"),
                ws_frame(false, WS_CONTINUATION, &welcome[third..2 * third]),
                ws_frame(true, WS_CONTINUATION, &welcome[2 * third..]),
                ws_frame(true, WS_PONG, b"pong"),
                message("event"),
            ],
        ),
        with(
            "close",
            &[message("welcome"), ws_frame(true, WS_CLOSE, &close)],
        ),
        with(
            "close_bare",
            &[message("welcome"), ws_frame(true, WS_CLOSE, b"")],
        ),
        with("oversized", &[message("welcome"), oversized]),
        // The 1 KiB limit (choice + 3): three 500-byte fragments, each accepted, together
        // over it.
        (format!("fragments_over_limit_{serializer}"), {
            let mut bytes = vec![choice + 3];
            bytes.extend(message("welcome"));
            let filler = if serializer.is_binary() { 0xAB } else { b'x' };
            bytes.extend(ws_frame(false, data, &[filler; 500]));
            bytes.extend(ws_frame(false, WS_CONTINUATION, &[filler; 500]));
            bytes.extend(ws_frame(true, WS_CONTINUATION, &[filler; 500]));
            bytes
        }),
    ]
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn main() {
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let messages: BTreeMap<&str, Message> = every_message().into_iter().collect();
    for serializer in Serializer::DEFAULT_PREFERENCE {
        let dir = seeds.join(format!("decode_{serializer}"));
        for (name, message) in &messages {
            write(&dir, name, &serializer.encode(message).unwrap());
        }
        for (name, bytes) in rawsocket_sessions(serializer, &messages) {
            write(&seeds.join("rawsocket"), &name, &bytes);
        }
        for (name, bytes) in websocket_sessions(serializer, &messages) {
            write(&seeds.join("websocket"), &name, &bytes);
        }
    }
    println!("wrote the seeds in {}", seeds.display());
}
