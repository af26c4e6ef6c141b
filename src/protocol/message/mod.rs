//! WAMP messages as the client sends and receives them, and their conversion to and from the
//! array form every serializer carries (`[CODE, field, field, ...]`).
//!
//! Everything here is pure: no sockets, no threads. A message that does not follow the WAMP
//! specification becomes a [`ProtocolError`] naming the broken rule, never a panic.
//
// The module is split by concept:
//
// * `mod.rs`: the `Message` enum, `Id`, the type codes (`code`, `code_name`, `Message::code`
//   and `Message::name`), and `is_passthru`, the payload passthru rule both directions follow;
// * `error.rs`: `ProtocolError`, the error of every conversion here;
// * `decode.rs`: `Message::from_value`, from the decoded array form to a `Message`;
// * `encode.rs`: `WireMessage`, a `Message` written as its array form by any serializer, and
//   `Message::payload_len_hint`, the buffer size asked before encoding;
// * `log_safe.rs`: `LogSafe`, the `Debug` for log lines that redacts secret-looking keys.
//
// Each file holds the unit tests of what it defines.

use super::value::{Dict, Value};
use crate::Secret;

mod decode;
mod encode;
mod error;
mod log_safe;

pub(crate) use encode::WireMessage;
pub use error::ProtocolError;
pub(crate) use log_safe::{LogSafe, redacted, redacted_dict};

/// A WAMP id: session, request, registration, subscription or publication id.
pub type Id = u64;

/// Message type codes from the WAMP specification.
#[allow(missing_docs)]
pub mod code {
    pub const HELLO: u64 = 1;
    pub const WELCOME: u64 = 2;
    pub const ABORT: u64 = 3;
    pub const CHALLENGE: u64 = 4;
    pub const AUTHENTICATE: u64 = 5;
    pub const GOODBYE: u64 = 6;
    pub const ERROR: u64 = 8;
    pub const PUBLISH: u64 = 16;
    pub const PUBLISHED: u64 = 17;
    pub const SUBSCRIBE: u64 = 32;
    pub const SUBSCRIBED: u64 = 33;
    pub const UNSUBSCRIBE: u64 = 34;
    pub const UNSUBSCRIBED: u64 = 35;
    pub const EVENT: u64 = 36;
    pub const CALL: u64 = 48;
    pub const CANCEL: u64 = 49;
    pub const RESULT: u64 = 50;
    pub const REGISTER: u64 = 64;
    pub const REGISTERED: u64 = 65;
    pub const UNREGISTER: u64 = 66;
    pub const UNREGISTERED: u64 = 67;
    pub const INVOCATION: u64 = 68;
    pub const INTERRUPT: u64 = 69;
    pub const YIELD: u64 = 70;
}

/// One WAMP message.
///
/// `args` and `kwargs` are empty when the message carried none; the encoder leaves them out
/// exactly as the specification asks (kwargs present forces args to be written, even empty).
///
/// In payload passthru mode (`enc_algo` in the options or details; see
/// [`EncodedPayload`](super::EncodedPayload)) the opaque payload is the only element of
/// `args`, and `kwargs` is empty: it is written in the arguments' place, as it is.
///
/// `#[non_exhaustive]`: the WAMP specification may add message types, so a `match` needs a
/// `_` arm.
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)]
#[non_exhaustive]
pub enum Message {
    Hello {
        realm: String,
        details: Dict,
    },
    Welcome {
        session: Id,
        details: Dict,
    },
    Abort {
        details: Dict,
        reason: String,
    },
    Challenge {
        authmethod: String,
        extra: Dict,
    },
    /// The signature is a ticket or a password-derived value: it is a [`Secret`], so a logged
    /// `Debug` of this message never shows it.
    Authenticate {
        signature: Secret,
        extra: Dict,
    },
    Goodbye {
        details: Dict,
        reason: String,
    },
    Error {
        request_type: u64,
        request: Id,
        details: Dict,
        error: String,
        args: Vec<Value>,
        kwargs: Dict,
    },
    Publish {
        request: Id,
        options: Dict,
        topic: String,
        args: Vec<Value>,
        kwargs: Dict,
    },
    Published {
        request: Id,
        publication: Id,
    },
    Subscribe {
        request: Id,
        options: Dict,
        topic: String,
    },
    Subscribed {
        request: Id,
        subscription: Id,
    },
    Unsubscribe {
        request: Id,
        subscription: Id,
    },
    /// `request` is 0 and `details` carries the reason when the router revoked the subscription.
    Unsubscribed {
        request: Id,
        details: Option<Dict>,
    },
    Event {
        subscription: Id,
        publication: Id,
        details: Dict,
        args: Vec<Value>,
        kwargs: Dict,
    },
    Call {
        request: Id,
        options: Dict,
        procedure: String,
        args: Vec<Value>,
        kwargs: Dict,
    },
    Cancel {
        request: Id,
        options: Dict,
    },
    Result {
        request: Id,
        details: Dict,
        args: Vec<Value>,
        kwargs: Dict,
    },
    Register {
        request: Id,
        options: Dict,
        procedure: String,
    },
    Registered {
        request: Id,
        registration: Id,
    },
    Unregister {
        request: Id,
        registration: Id,
    },
    /// `request` is 0 and `details` carries `registration` and `reason` when the router revoked
    /// the registration (for example another session registered the URI with
    /// `force_reregister`).
    Unregistered {
        request: Id,
        details: Option<Dict>,
    },
    Invocation {
        request: Id,
        registration: Id,
        details: Dict,
        args: Vec<Value>,
        kwargs: Dict,
    },
    Interrupt {
        request: Id,
        options: Dict,
    },
    Yield {
        request: Id,
        options: Dict,
        args: Vec<Value>,
        kwargs: Dict,
    },
}

impl Message {
    /// The WAMP type code of this message.
    pub fn code(&self) -> u64 {
        match self {
            Message::Hello { .. } => code::HELLO,
            Message::Welcome { .. } => code::WELCOME,
            Message::Abort { .. } => code::ABORT,
            Message::Challenge { .. } => code::CHALLENGE,
            Message::Authenticate { .. } => code::AUTHENTICATE,
            Message::Goodbye { .. } => code::GOODBYE,
            Message::Error { .. } => code::ERROR,
            Message::Publish { .. } => code::PUBLISH,
            Message::Published { .. } => code::PUBLISHED,
            Message::Subscribe { .. } => code::SUBSCRIBE,
            Message::Subscribed { .. } => code::SUBSCRIBED,
            Message::Unsubscribe { .. } => code::UNSUBSCRIBE,
            Message::Unsubscribed { .. } => code::UNSUBSCRIBED,
            Message::Event { .. } => code::EVENT,
            Message::Call { .. } => code::CALL,
            Message::Cancel { .. } => code::CANCEL,
            Message::Result { .. } => code::RESULT,
            Message::Register { .. } => code::REGISTER,
            Message::Registered { .. } => code::REGISTERED,
            Message::Unregister { .. } => code::UNREGISTER,
            Message::Unregistered { .. } => code::UNREGISTERED,
            Message::Invocation { .. } => code::INVOCATION,
            Message::Interrupt { .. } => code::INTERRUPT,
            Message::Yield { .. } => code::YIELD,
        }
    }

    /// The message's name as the specification spells it, e.g. `"CALL"`.
    pub fn name(&self) -> &'static str {
        code_name(self.code())
    }
}

/// The specification's name for a message code, or `"UNKNOWN"`.
pub fn code_name(code: u64) -> &'static str {
    match code {
        code::HELLO => "HELLO",
        code::WELCOME => "WELCOME",
        code::ABORT => "ABORT",
        code::CHALLENGE => "CHALLENGE",
        code::AUTHENTICATE => "AUTHENTICATE",
        code::GOODBYE => "GOODBYE",
        code::ERROR => "ERROR",
        code::PUBLISH => "PUBLISH",
        code::PUBLISHED => "PUBLISHED",
        code::SUBSCRIBE => "SUBSCRIBE",
        code::SUBSCRIBED => "SUBSCRIBED",
        code::UNSUBSCRIBE => "UNSUBSCRIBE",
        code::UNSUBSCRIBED => "UNSUBSCRIBED",
        code::EVENT => "EVENT",
        code::CALL => "CALL",
        code::CANCEL => "CANCEL",
        code::RESULT => "RESULT",
        code::REGISTER => "REGISTER",
        code::REGISTERED => "REGISTERED",
        code::UNREGISTER => "UNREGISTER",
        code::UNREGISTERED => "UNREGISTERED",
        code::INVOCATION => "INVOCATION",
        code::INTERRUPT => "INTERRUPT",
        code::YIELD => "YIELD",
        _ => "UNKNOWN",
    }
}

/// True when a message with these options or details is in payload passthru mode: its
/// arguments are one opaque payload, described by `enc_algo` and friends.
pub(crate) fn is_passthru(options: &Dict) -> bool {
    options.contains_key("enc_algo")
}
