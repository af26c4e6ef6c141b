//! The error type: [`ProtocolError`].

use std::fmt;

/// A message that breaks the WAMP protocol or cannot be encoded or decoded.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The serializer could not turn the bytes into a value (or a value into bytes).
    Serialization {
        /// Which serializer failed.
        serializer: &'static str,
        /// What it said.
        message: String,
    },
    /// A WAMP message must be a non-empty list whose first element is an integer code.
    NotAMessage {
        /// What was found instead.
        found: &'static str,
    },
    /// The message code is not one a client may receive (or not a WAMP code at all).
    UnknownCode(u64),
    /// A message arrived where the protocol does not allow it.
    Unexpected {
        /// The message that arrived, e.g. `"WELCOME"`.
        message: &'static str,
        /// What it was taken to answer, e.g. `"CALL"`, or the phase, e.g. `"HELLO"`.
        answering: &'static str,
    },
    /// The message has fewer elements than its type requires.
    TooShort {
        /// The message type, e.g. `"RESULT"`.
        message: &'static str,
        /// How many elements it had.
        len: usize,
        /// The minimum.
        min: usize,
    },
    /// An element has the wrong type.
    WrongField {
        /// The message type, e.g. `"RESULT"`.
        message: &'static str,
        /// The field, e.g. `"Arguments|list"`.
        field: &'static str,
        /// The type the specification asks for.
        expected: &'static str,
        /// The type that was found.
        found: &'static str,
    },
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::Serialization {
                serializer,
                message,
            } => write!(f, "{serializer} serializer: {message}"),
            ProtocolError::NotAMessage { found } => write!(
                f,
                "a WAMP message must be a non-empty list starting with an integer code, found {found}"
            ),
            ProtocolError::UnknownCode(code) => {
                write!(f, "message code {code} is not one a WAMP client handles")
            }
            ProtocolError::Unexpected { message, answering } => {
                write!(f, "unexpected {message} message in answer to {answering}")
            }
            ProtocolError::TooShort { message, len, min } => write!(
                f,
                "{message} message has {len} elements, the specification requires at least {min}"
            ),
            ProtocolError::WrongField {
                message,
                field,
                expected,
                found,
            } => write!(
                f,
                "{message} message field {field} must be {expected}, found {found}"
            ),
        }
    }
}

impl std::error::Error for ProtocolError {}
