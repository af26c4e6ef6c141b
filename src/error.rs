//! The one error type of the library.

use std::fmt;
use std::time::Duration;

use crate::protocol::{Dict, ProtocolError, Value, ValueError};

/// An error answered by the router or by a callee: a WAMP `ERROR` message.
///
/// `uri` is what programs match on (`wamp.error.no_such_procedure`,
/// `com.izaber.wamp.error.permissiondenied`, ...); `args` usually start with a readable message.
#[derive(Clone, Debug, PartialEq)]
pub struct WampError {
    /// The error URI.
    pub uri: String,
    /// Positional arguments of the error, often a message first.
    pub args: Vec<Value>,
    /// Keyword arguments of the error.
    pub kwargs: Dict,
    /// The ERROR message's details.
    pub details: Dict,
}

impl WampError {
    /// The first positional argument when it is a string: usually the human-readable message.
    pub fn message(&self) -> Option<&str> {
        self.args.first().and_then(Value::as_str)
    }

    /// The error's opaque payload, when the callee answered in payload passthru mode.
    pub fn payload(&self) -> Option<crate::EncodedPayload> {
        crate::EncodedPayload::from_message(&self.details, &self.args)
    }
}

impl fmt::Display for WampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.uri)?;
        if !self.args.is_empty() {
            f.write_str(":")?;
            for arg in &self.args {
                match arg {
                    Value::String(s) => write!(f, " {s}")?,
                    other => write!(f, " {other}")?,
                }
            }
        }
        if !self.kwargs.is_empty() {
            write!(f, " {}", Value::Dict(self.kwargs.clone()))?;
        }
        Ok(())
    }
}

/// Everything that can go wrong, one variant per cause.
///
/// # Causes
///
/// An error that has an underlying cause (an I/O error, what the TLS library said, why a
/// configuration file could not be read) returns it from
/// [`source()`](std::error::Error::source), and its `Display` says only what the client was
/// doing, as Rust's error reporters expect: `anyhow`'s `{:#}` and `Caused by:` list show
/// each cause once. To print the whole chain on one line without a reporter, use the
/// alternate form `{:#}` of the error itself, or [`Error::message`] (Python's `str(ex)`):
///
/// ```
/// use std::io;
/// use izaber_wamp::Error;
/// let refused = Error::Io {
///     context: "connecting to 127.0.0.1:8282".into(),
///     source: io::Error::new(io::ErrorKind::ConnectionRefused, "Connection refused"),
/// };
/// assert_eq!(refused.to_string(), "connecting to 127.0.0.1:8282");
/// assert_eq!(format!("{refused:#}"), "connecting to 127.0.0.1:8282: Connection refused");
/// assert_eq!(refused.message(), "connecting to 127.0.0.1:8282: Connection refused");
/// ```
///
/// # Debug
///
/// `Debug` names the variant and its fields, as a derived one would, with one difference:
/// a cause is shown by its message (the whole chain, quoted), not by its own `Debug`. So a
/// program whose `main` returns `Result<(), Error>` ends with one readable line such as
/// `Error: Io { context: "connecting to 127.0.0.1:8282", source: "Connection refused" }`,
/// not a TLS library's nested structures; and no variant holds what the router sent in bulk
/// (an HTTP error page is reduced to its status), so none prints a byte list.
#[non_exhaustive]
pub enum Error {
    /// The URL cannot be used: unknown scheme, missing host or port, bad path.
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An I/O error while connecting or talking to the router (refused, reset, unreachable).
    Io {
        /// What the client was doing, e.g. `"connecting to 127.0.0.1:8282"`.
        context: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// TLS could not be set up, or the router's certificate was rejected.
    Tls {
        /// What the client was doing, e.g. `"connecting to router.example:443"`.
        context: String,
        /// What the TLS library said (or why a CA file holds no usable certificate).
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The WebSocket handshake or framing failed: for example the URL's path is not the
    /// router's WebSocket (HTTP 404), or the router chose none of the WAMP subprotocols offered.
    WebSocket {
        /// What the client was doing, e.g. `"WebSocket handshake with ws://host:8080/ws"`.
        context: String,
        /// The HTTP status the router answered the handshake with, when it refused it.
        status: Option<u16>,
        /// What went wrong.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The RawSocket handshake was refused or the stream broke the RawSocket framing.
    RawSocket(String),
    /// The router broke the WAMP protocol or sent something that cannot be decoded.
    Protocol(ProtocolError),
    /// The router refused or ended the session with ABORT (for example a wrong password:
    /// reason `com.izaber.wamp.error.permissiondenied` on Nexus).
    Aborted {
        /// The ABORT reason URI.
        reason: String,
        /// The `message` from the ABORT details, when there is one.
        message: Option<String>,
    },
    /// The router could not authenticate us: no secret configured for the method it chose, or
    /// it asked for a method we do not support.
    Authentication(String),
    /// The router or a callee answered with an ERROR.
    Wamp(WampError),
    /// No answer within the timeout. For a call, a CANCEL has been sent. (Connecting that
    /// takes too long is an [`Error::Io`] of kind `TimedOut`, naming the step.)
    Timeout {
        /// What was waited for, e.g. `"CALL com.izaber.wamp.auth.whoami"`.
        operation: String,
        /// How long.
        after: Duration,
    },
    /// The connection is down: it dropped while the request was pending, or it was not up when
    /// the request was made.
    ConnectionLost {
        /// Why, as far as the client knows.
        reason: String,
    },
    /// The client was closed with [`Client::close`](crate::Client::close).
    Closed,
    /// The connection dropped and the client will not connect again: its
    /// [`ReconnectPolicy`](crate::ReconnectPolicy) gave up (it allows no reconnect, or
    /// `max_attempts` ran out). Unlike [`Error::ConnectionLost`] this is not a
    /// [connection error](Error::is_connection_error): retrying on this client cannot
    /// succeed, only a new client can.
    GaveUp {
        /// Why the connection dropped, and how many reconnects were tried.
        reason: String,
    },
    /// Arguments or a result could not be converted to or from WAMP values.
    Value(ValueError),
    /// A message is larger than the configured maximum payload size; it was not sent.
    PayloadTooLarge {
        /// The message type and URI, e.g. `"CALL com.example.upload"`.
        message: String,
        /// Its encoded size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// An argument passed to the library cannot be used (for example positional arguments
    /// that do not serialize to a list).
    InvalidArgument(String),
    /// The configuration (izaber.yaml) could not be loaded or is invalid.
    Config(crate::config::ConfigError),
    /// The global `wamp` is not connected: `initialize()` was not called, autorun was off, or
    /// the configuration says `wamp.run: false` (log in with `wamp.change_user`).
    NotInitialized,
}

impl Error {
    /// The error in words, as Python's `str(ex)` gives it: for a WAMP error its message (the
    /// first argument; the arguments joined when there are several, its URI when there are
    /// none), for any other the whole chain of causes, as `{:#}` prints it. `Display` puts a
    /// WAMP error's URI in front, which log lines want.
    ///
    /// ```
    /// use izaber_wamp::{Error, WampError};
    /// # use izaber_wamp::protocol::{Dict, Value};
    /// let error = Error::Wamp(WampError {
    ///     uri: "wamp.error.no_such_session".into(),
    ///     args: vec![Value::from("no session with ID 7")],
    ///     kwargs: Dict::new(),
    ///     details: Dict::new(),
    /// });
    /// assert_eq!(error.message(), "no session with ID 7");
    /// assert_eq!(error.to_string(), "wamp.error.no_such_session: no session with ID 7");
    /// ```
    pub fn message(&self) -> String {
        match self {
            Error::Wamp(e) => match e.args.as_slice() {
                [] => e.uri.clone(),
                [Value::String(text)] => text.clone(),
                args => args
                    .iter()
                    .map(|arg| match arg {
                        Value::String(text) => text.clone(),
                        other => other.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            },
            other => format!("{other:#}"),
        }
    }

    /// The WAMP error URI when this is a [`Error::Wamp`] error.
    pub fn wamp_uri(&self) -> Option<&str> {
        match self {
            Error::Wamp(e) => Some(&e.uri),
            _ => None,
        }
    }

    /// True when the error means the connection is (or went) down and the client is
    /// reconnecting, so retrying may succeed. False after [`Client::close`](crate::Client::close)
    /// ([`Error::Closed`]) and once the client gave up reconnecting ([`Error::GaveUp`]): no
    /// reconnect will come then, so a script that retries on connection errors stops.
    pub fn is_connection_error(&self) -> bool {
        matches!(
            self,
            Error::Io { .. }
                | Error::Tls { .. }
                | Error::WebSocket { .. }
                | Error::RawSocket(_)
                | Error::ConnectionLost { .. }
        )
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn lost(reason: impl Into<String>) -> Error {
        Error::ConnectionLost {
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Error {
    /// What failed; with `{:#}`, followed by each cause (`: cause: its cause`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidUrl { url, reason } => write!(f, "invalid URL '{url}': {reason}")?,
            Error::Io { context, .. } | Error::WebSocket { context, .. } => f.write_str(context)?,
            Error::Tls { context, .. } => write!(f, "TLS error {context}")?,
            Error::RawSocket(e) => write!(f, "RawSocket error: {e}")?,
            Error::Protocol(e) => write!(f, "WAMP protocol error: {e}")?,
            Error::Aborted { reason, message } => match message {
                Some(message) => write!(f, "session refused by the router: {reason}: {message}")?,
                None => write!(f, "session refused by the router: {reason}")?,
            },
            Error::Authentication(e) => write!(f, "authentication failed: {e}")?,
            Error::Wamp(e) => e.fmt(f)?,
            Error::Timeout { operation, after } => {
                write!(f, "{operation}: no answer within {after:?}")?;
            }
            Error::ConnectionLost { reason } => write!(f, "connection lost: {reason}")?,
            Error::Closed => f.write_str("the client has been closed")?,
            Error::GaveUp { reason } => {
                write!(f, "connection lost for good (no more reconnects): {reason}")?;
            }
            Error::Value(e) => write!(f, "value conversion failed: {e}")?,
            Error::PayloadTooLarge {
                message,
                size,
                limit,
            } => write!(
                f,
                "{message} not sent: its payload is {size} bytes, over the {limit}-byte limit"
            )?,
            Error::InvalidArgument(e) => write!(f, "invalid argument: {e}")?,
            Error::Config(e) => write!(f, "configuration error: {e}")?,
            Error::NotInitialized => f.write_str(
                "wamp is not connected: call initialize() first, or wamp.change_user() when autorun is off",
            )?,
        }
        if f.alternate()
            && let Some(cause) = std::error::Error::source(self)
        {
            write!(f, ": {}", with_causes(cause))?;
        }
        Ok(())
    }
}

/// `error`'s message followed by each of its causes (`message: cause: its cause`).
pub(crate) fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        text.push_str(": ");
        text.push_str(&error.to_string());
        cause = error.source();
    }
    text
}

/// A cause shown in `Debug` by its messages, the chain joined and quoted.
struct Causes<'a>(&'a (dyn std::error::Error + 'static));

impl fmt::Debug for Causes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&with_causes(self.0), f)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidUrl { url, reason } => f
                .debug_struct("InvalidUrl")
                .field("url", url)
                .field("reason", reason)
                .finish(),
            Error::Io { context, source } => f
                .debug_struct("Io")
                .field("context", context)
                .field("source", &Causes(source))
                .finish(),
            Error::Tls { context, source } => f
                .debug_struct("Tls")
                .field("context", context)
                .field("source", &Causes(source.as_ref()))
                .finish(),
            Error::WebSocket {
                context,
                status,
                source,
            } => f
                .debug_struct("WebSocket")
                .field("context", context)
                .field("status", status)
                .field("source", &Causes(source.as_ref()))
                .finish(),
            Error::RawSocket(e) => f.debug_tuple("RawSocket").field(e).finish(),
            Error::Protocol(e) => f.debug_tuple("Protocol").field(e).finish(),
            Error::Aborted { reason, message } => f
                .debug_struct("Aborted")
                .field("reason", reason)
                .field("message", message)
                .finish(),
            Error::Authentication(e) => f.debug_tuple("Authentication").field(e).finish(),
            Error::Wamp(e) => f.debug_tuple("Wamp").field(e).finish(),
            Error::Timeout { operation, after } => f
                .debug_struct("Timeout")
                .field("operation", operation)
                .field("after", after)
                .finish(),
            Error::ConnectionLost { reason } => f
                .debug_struct("ConnectionLost")
                .field("reason", reason)
                .finish(),
            Error::Closed => f.write_str("Closed"),
            Error::GaveUp { reason } => f.debug_struct("GaveUp").field("reason", reason).finish(),
            Error::Value(e) => f.debug_tuple("Value").field(e).finish(),
            Error::PayloadTooLarge {
                message,
                size,
                limit,
            } => f
                .debug_struct("PayloadTooLarge")
                .field("message", message)
                .field("size", size)
                .field("limit", limit)
                .finish(),
            Error::InvalidArgument(e) => f.debug_tuple("InvalidArgument").field(e).finish(),
            Error::Config(e) => f.debug_tuple("Config").field(&Causes(e)).finish(),
            Error::NotInitialized => f.write_str("NotInitialized"),
        }
    }
}

/// The cause of an I/O, TLS or WebSocket error is that error; a wrapped error of the crate's
/// own (configuration, value, protocol) is shown in full by `Display`, so the chain goes on
/// from that error's own cause.
impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Tls { source, .. } | Error::WebSocket { source, .. } => Some(source.as_ref()),
            Error::Protocol(e) => e.source(),
            Error::Value(e) => e.source(),
            Error::Config(e) => e.source(),
            _ => None,
        }
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Self {
        Error::Protocol(e)
    }
}

impl From<ValueError> for Error {
    fn from(e: ValueError) -> Self {
        Error::Value(e)
    }
}

impl From<WampError> for Error {
    fn from(e: WampError) -> Self {
        Error::Wamp(e)
    }
}

impl From<crate::config::ConfigError> for Error {
    fn from(e: crate::config::ConfigError) -> Self {
        Error::Config(e)
    }
}

impl Error {
    /// A TLS error, with what the client was doing.
    pub(crate) fn tls(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Error {
        Error::Tls {
            context: context.into(),
            source: source.into(),
        }
    }

    /// A tungstenite error, with what the client was doing. An HTTP answer to the handshake
    /// keeps its status and drops its body (a router's 404 page is of no use here).
    pub(crate) fn websocket(context: impl Into<String>, error: tungstenite::Error) -> Error {
        let context = context.into();
        match error {
            tungstenite::Error::Io(source) => Error::io(context, source),
            tungstenite::Error::Tls(e) => Error::tls(context, e),
            tungstenite::Error::Http(response) => {
                let status = response.status();
                Error::WebSocket {
                    context,
                    status: Some(status.as_u16()),
                    source: format!(
                        "the server answered HTTP {} {} instead of accepting the WebSocket \
                         (is the path the router's WebSocket endpoint?)",
                        status.as_u16(),
                        status.canonical_reason().unwrap_or_default()
                    )
                    .into(),
                }
            }
            other => Error::WebSocket {
                context,
                status: None,
                source: Box::new(other),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn each_cause_is_told_once() {
        let refused = Error::io(
            "connecting to 127.0.0.1:1",
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused"),
        );
        assert_eq!(refused.to_string(), "connecting to 127.0.0.1:1");
        let cause = refused.source().expect("the io error is the cause");
        assert_eq!(cause.to_string(), "Connection refused");
        assert!(cause.source().is_none());
        assert_eq!(
            format!("{refused:#}"),
            "connecting to 127.0.0.1:1: Connection refused"
        );
        assert_eq!(refused.message(), format!("{refused:#}"));
        assert_eq!(
            format!("{refused:?}"),
            r#"Io { context: "connecting to 127.0.0.1:1", source: "Connection refused" }"#
        );

        let tls = Error::tls("reading CA file /ca.pem", "no certificate in it");
        assert_eq!(tls.to_string(), "TLS error reading CA file /ca.pem");
        assert_eq!(tls.source().unwrap().to_string(), "no certificate in it");
    }

    #[test]
    fn a_wrapped_error_of_the_crate_is_shown_whole_and_its_cause_follows() {
        let config = Error::Config(crate::config::ConfigError::Io {
            path: "/nowhere/izaber.yaml".into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "not found"),
        });
        let shown = config.to_string();
        assert!(shown.starts_with("configuration error: "), "{shown}");
        assert!(shown.contains("/nowhere/izaber.yaml"), "{shown}");
        // Whatever ConfigError's Display tells, the chain tells "not found" exactly once.
        let whole = format!("{config:#}");
        assert_eq!(whole.matches("not found").count(), 1, "{whole}");
        assert!(whole.ends_with("not found"), "{whole}");
    }

    #[test]
    fn a_refused_handshake_keeps_its_status_and_not_the_page() {
        let page = "<html>".to_owned() + &"x".repeat(10_000) + "</html>";
        let response = tungstenite::http::Response::builder()
            .status(404)
            .body(Some(page.into_bytes()))
            .unwrap();
        let error = Error::websocket(
            "WebSocket handshake with ws://127.0.0.1:1/x",
            tungstenite::Error::Http(Box::new(response)),
        );
        assert!(matches!(
            error,
            Error::WebSocket {
                status: Some(404),
                ..
            }
        ));
        let debug = format!("{error:?}");
        assert!(debug.len() < 300, "{debug}");
        assert!(debug.contains("HTTP 404 Not Found"), "{debug}");
        assert!(!debug.contains("xxx"), "{debug}");
    }
}
