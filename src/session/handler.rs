//! What a registered procedure or a subscription handler receives, and what a procedure
//! returns when it fails.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;
use crate::protocol::{Dict, Id, Message, Value, ValueError, from_value, to_value};

use super::Shared;

/// A call of one of our registered procedures.
///
/// Mirrors swampyer's INVOCATION: `details` holds `caller`, `caller_authid`,
/// `caller_authrole` and, for a pattern registration, `procedure`.
pub struct Invocation {
    /// Positional arguments.
    pub args: Vec<Value>,
    /// Keyword arguments.
    pub kwargs: Dict,
    /// Details from the router.
    pub details: Dict,
    /// The URI that was called (for pattern registrations, the full URI the caller used).
    pub procedure: String,
    pub(crate) request: Id,
    /// The connection the invocation came on: answers go out on it or not at all.
    pub(crate) epoch: u64,
    pub(crate) state: Arc<InvocationState>,
    pub(crate) shared: Arc<Shared>,
}

/// Set by the socket thread when the router interrupts a running invocation.
pub(crate) struct InvocationState {
    interrupt: AtomicU8,
    /// Whether the handler was started, or skipped before it could start.
    phase: AtomicU8,
}

/// Waiting for a worker (perhaps behind the procedure's concurrency limit).
const QUEUED: u8 = 0;
const STARTED: u8 = 1;
/// Cancelled before it started: it never will, and the session has answered for it.
const SKIPPED: u8 = 2;

/// No INTERRUPT received.
const NOT_INTERRUPTED: u8 = 0;
/// INTERRUPT with mode `kill`: the router waits for our ERROR.
const KILL: u8 = 1;
/// INTERRUPT with mode `killnowait`: the router has already answered the caller.
const KILL_NO_WAIT: u8 = 2;

impl InvocationState {
    pub fn new() -> Arc<InvocationState> {
        Arc::new(InvocationState {
            interrupt: AtomicU8::new(NOT_INTERRUPTED),
            phase: AtomicU8::new(QUEUED),
        })
    }

    pub fn interrupt(&self, mode: &str) {
        let mode = if mode == "killnowait" {
            KILL_NO_WAIT
        } else {
            KILL
        };
        self.interrupt.store(mode, Ordering::Release);
    }

    /// Called by the worker before it runs the handler: false when the invocation was
    /// skipped meanwhile, and must then be neither run nor answered.
    pub fn start(&self) -> bool {
        self.phase
            .compare_exchange(QUEUED, STARTED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Called by the session on INTERRUPT: true when the handler had not started and now
    /// never will, so that the session answers the router itself at once.
    pub fn skip(&self) -> bool {
        self.phase
            .compare_exchange(QUEUED, SKIPPED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    pub fn is_interrupted(&self) -> bool {
        self.interrupt.load(Ordering::Acquire) != NOT_INTERRUPTED
    }

    /// True when the router no longer wants any answer at all.
    pub fn answer_unwanted(&self) -> bool {
        self.interrupt.load(Ordering::Acquire) == KILL_NO_WAIT
    }
}

impl Invocation {
    /// Positional argument `index` converted to `T`.
    ///
    /// A missing argument converts like `null`, so `Option<T>` reads optional arguments.
    ///
    /// # Errors
    ///
    /// A `wamp.error.invalid_argument` [`CallError`] saying what did not fit; with `?` in a
    /// handler, that is the caller's answer.
    pub fn arg<T: DeserializeOwned>(&self, index: usize) -> Result<T, CallError> {
        positional(&self.args, index)
            .map_err(|message| CallError::new("wamp.error.invalid_argument", message))
    }

    /// Keyword argument `name` converted to `T` (missing converts like `null`).
    ///
    /// # Errors
    ///
    /// A `wamp.error.invalid_argument` [`CallError`] saying what did not fit; with `?` in a
    /// handler, that is the caller's answer.
    pub fn kwarg<T: DeserializeOwned>(&self, name: &str) -> Result<T, CallError> {
        keyword(&self.kwargs, name)
            .map_err(|message| CallError::new("wamp.error.invalid_argument", message))
    }

    /// All positional arguments at once, as a tuple (`(i64, String)`), a `Vec`, or a struct
    /// whose fields come in order. A mismatch answers the caller with
    /// `wamp.error.invalid_argument`, saying what did not fit.
    ///
    /// ```no_run
    /// # use izaber_wamp::{Invocation, CallError};
    /// fn add(invocation: Invocation) -> Result<i64, CallError> {
    ///     let (a, b): (i64, i64) = invocation.args_as()?;
    ///     Ok(a + b)
    /// }
    /// ```
    ///
    /// # Errors
    ///
    /// A `wamp.error.invalid_argument` [`CallError`] saying what did not fit; with `?` in a
    /// handler, that is the caller's answer.
    pub fn args_as<T: DeserializeOwned>(&self) -> Result<T, CallError> {
        all_positional(&self.args)
            .map_err(|message| CallError::new("wamp.error.invalid_argument", message))
    }

    /// All keyword arguments at once, as a struct (missing `Option` fields are `None`) or a
    /// map. A mismatch answers the caller with `wamp.error.invalid_argument`.
    ///
    /// # Errors
    ///
    /// A `wamp.error.invalid_argument` [`CallError`] saying what did not fit; with `?` in a
    /// handler, that is the caller's answer.
    pub fn kwargs_as<T: DeserializeOwned>(&self) -> Result<T, CallError> {
        all_keywords(&self.kwargs)
            .map_err(|message| CallError::new("wamp.error.invalid_argument", message))
    }

    /// The caller's opaque payload, when it called in payload passthru mode (see
    /// [`Client::call_payload`](crate::Client::call_payload)); `None` for a call with
    /// arguments.
    pub fn payload(&self) -> Option<crate::EncodedPayload> {
        crate::EncodedPayload::from_message(&self.details, &self.args)
    }

    /// The caller's authid, when the router disclosed it.
    pub fn caller_authid(&self) -> Option<&str> {
        self.details.get("caller_authid").and_then(Value::as_str)
    }

    /// The caller's role, when the router disclosed it.
    pub fn caller_authrole(&self) -> Option<&str> {
        self.details.get("caller_authrole").and_then(Value::as_str)
    }

    /// True when the caller asked for progressive results.
    pub fn wants_progress(&self) -> bool {
        self.details
            .get("receive_progress")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// True once the caller cancelled the call (the router sent INTERRUPT), or once the
    /// connection this invocation came on is gone, or the client closed. A long-running handler
    /// should check this and stop; what it returns afterwards is not delivered.
    pub fn is_cancelled(&self) -> bool {
        self.state.is_interrupted()
    }

    /// Sends one progressive result to the caller before the final one.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when the caller did not ask for progressive
    /// results, and with a `wamp.error.canceled` [`Error::Wamp`] once
    /// [`is_cancelled`](Self::is_cancelled): nothing would receive it (after a reconnect, the
    /// new session does not know this invocation).
    pub fn progress<T: Serialize + ?Sized>(&self, value: &T) -> Result<(), Error> {
        if !self.wants_progress() {
            return Err(Error::InvalidArgument(
                "the caller did not ask for progressive results (receive_progress)".into(),
            ));
        }
        if self.is_cancelled() {
            return Err(Error::Wamp(crate::WampError {
                uri: "wamp.error.canceled".into(),
                args: vec![Value::from(
                    "the call was cancelled, or the connection it came on is gone",
                )],
                kwargs: Dict::new(),
                details: Dict::new(),
            }));
        }
        let mut options = Dict::new();
        options.insert("progress".into(), Value::Bool(true));
        let message = Message::Yield {
            request: self.request,
            options,
            args: vec![to_value(value)?],
            kwargs: Dict::new(),
        };
        self.shared.send_full(
            &message,
            None,
            Some(super::Answer {
                invocation: self.request,
                epoch: self.epoch,
                last: false,
            }),
        )
    }
}

impl fmt::Debug for Invocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Invocation")
            .field("procedure", &self.procedure)
            .field("args", &self.args)
            .field("kwargs", &self.kwargs)
            .field("details", &self.details)
            .finish()
    }
}

/// An event received on one of our subscriptions.
///
/// `details` holds `publisher`, `publisher_authid`, `publisher_authrole` when disclosed and,
/// for a pattern subscription, `topic`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Event {
    /// Positional arguments.
    pub args: Vec<Value>,
    /// Keyword arguments.
    pub kwargs: Dict,
    /// Details from the router.
    pub details: Dict,
    /// The topic the event was published to (for pattern subscriptions, the full topic).
    pub topic: String,
    /// The publication id.
    pub publication: Id,
}

impl Event {
    /// An EVENT's content for a subscription to `subscribed_topic`: the topic is the one
    /// the router names in `details` (a pattern subscription's), else the subscribed one.
    pub(crate) fn arrived(
        publication: Id,
        details: Dict,
        args: Vec<Value>,
        kwargs: Dict,
        subscribed_topic: &str,
    ) -> Event {
        let topic = details
            .get("topic")
            .and_then(Value::as_str)
            .map_or_else(|| subscribed_topic.to_owned(), str::to_owned);
        Event {
            args,
            kwargs,
            details,
            topic,
            publication,
        }
    }

    /// The publisher's opaque payload, when it published in payload passthru mode (see
    /// [`Client::publish_payload`](crate::Client::publish_payload)); `None` for an event with
    /// arguments.
    pub fn payload(&self) -> Option<crate::EncodedPayload> {
        crate::EncodedPayload::from_message(&self.details, &self.args)
    }

    /// Positional argument `index` converted to `T` (missing converts like `null`).
    ///
    /// # Errors
    ///
    /// [`Error::Value`] saying what did not fit.
    pub fn arg<T: DeserializeOwned>(&self, index: usize) -> Result<T, Error> {
        positional(&self.args, index).map_err(|m| Error::Value(ValueError::new(m)))
    }

    /// Keyword argument `name` converted to `T` (missing converts like `null`).
    ///
    /// # Errors
    ///
    /// [`Error::Value`] saying what did not fit.
    pub fn kwarg<T: DeserializeOwned>(&self, name: &str) -> Result<T, Error> {
        keyword(&self.kwargs, name).map_err(|m| Error::Value(ValueError::new(m)))
    }

    /// All positional arguments at once, as a tuple, a `Vec` or a struct (see
    /// [`Invocation::args_as`]).
    ///
    /// # Errors
    ///
    /// [`Error::Value`] saying what did not fit.
    pub fn args_as<T: DeserializeOwned>(&self) -> Result<T, Error> {
        all_positional(&self.args).map_err(|m| Error::Value(ValueError::new(m)))
    }

    /// All keyword arguments at once, as a struct or a map.
    ///
    /// # Errors
    ///
    /// [`Error::Value`] saying what did not fit.
    pub fn kwargs_as<T: DeserializeOwned>(&self) -> Result<T, Error> {
        all_keywords(&self.kwargs).map_err(|m| Error::Value(ValueError::new(m)))
    }
}

/// What an event handler returns: nothing, or a `Result` whose error is logged, since an event
/// has no caller to answer (Python's swampyer logs a subscriber's exception the same way).
///
/// A closure that uses `?` needs its return type spelled out:
///
/// ```no_run
/// use izaber_wamp::{Event, initialize, wamp};
/// # fn main() -> Result<(), izaber_wamp::Error> {
/// initialize()?;
/// wamp.subscribe("motor.moved", |event: Event| -> Result<(), izaber_wamp::Error> {
///     let position: f64 = event.arg(0)?;
///     println!("now at {position}");
///     Ok(())
/// })?;
/// # Ok(()) }
/// ```
pub trait EventOutcome {
    /// Logs a failure of the handler of the subscription to `topic` (the topic or pattern
    /// subscribed to).
    fn report(self, topic: &str);
}

impl EventOutcome for () {
    fn report(self, _topic: &str) {}
}

impl<E: fmt::Display> EventOutcome for Result<(), E> {
    fn report(self, topic: &str) {
        if let Err(e) = self {
            log::error!("the event handler of the subscription to {topic} failed: {e:#}");
        }
    }
}

/// Positional argument `index` as `T`, or why not. A missing argument converts like `null`
/// (so that `Option<T>` reads it), and is called missing when that fails.
fn positional<T: DeserializeOwned>(args: &[Value], index: usize) -> Result<T, String> {
    match args.get(index) {
        Some(value) => from_value(value.clone()).map_err(|e| format!("argument {index}: {e}")),
        None => from_value(Value::Null).map_err(|e| {
            let given = args.len();
            format!("argument {index} is missing ({given} given): {e}")
        }),
    }
}

/// Every positional argument as one `T` (a tuple, a sequence, or a struct read in order).
fn all_positional<T: DeserializeOwned>(args: &[Value]) -> Result<T, String> {
    from_value(Value::List(args.to_vec())).map_err(|e| format!("arguments: {e}"))
}

/// Every keyword argument as one `T` (a struct or a map).
fn all_keywords<T: DeserializeOwned>(kwargs: &Dict) -> Result<T, String> {
    from_value(Value::Dict(kwargs.clone())).map_err(|e| format!("keyword arguments: {e}"))
}

/// Keyword argument `name` as `T`, or why not; missing converts like `null`, as above.
fn keyword<T: DeserializeOwned>(kwargs: &Dict, name: &str) -> Result<T, String> {
    match kwargs.get(name) {
        Some(value) => {
            from_value(value.clone()).map_err(|e| format!("keyword argument '{name}': {e}"))
        }
        None => from_value(Value::Null)
            .map_err(|e| format!("keyword argument '{name}' is missing: {e}")),
    }
}

/// The error a registered procedure returns to its caller: a WAMP error URI with arguments.
///
/// Any `std::error::Error` converts into one with `?`, becoming
/// `<uri_base>.error.invoke.failure` with the arguments `["Call failed: <message>",
/// "<message>"]`, the shape Python swampyer callees produce and Python callers already match
/// on.
///
/// ```
/// use izaber_wamp::CallError;
/// let e = CallError::new("com.example.error.not_found", "no such widget");
/// assert_eq!(e.uri(), "com.example.error.not_found");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CallError {
    uri: Option<String>,
    /// Positional arguments of the error (usually a message first).
    pub args: Vec<Value>,
    /// Keyword arguments of the error.
    pub kwargs: Dict,
}

/// The URI suffix for failures that carry no URI of their own, after swampyer.
pub(crate) const INVOKE_FAILURE: &str = "error.invoke.failure";

impl CallError {
    /// An error with `uri` and a message as its only argument. The URI is sent as it is,
    /// without the client's URI base, since callers match on it exactly.
    pub fn new(uri: impl Into<String>, message: impl Into<String>) -> CallError {
        CallError {
            uri: Some(uri.into()),
            args: vec![Value::String(message.into())],
            kwargs: Dict::new(),
        }
    }

    /// An error with `uri` and the given arguments.
    pub fn with_args(uri: impl Into<String>, args: Vec<Value>, kwargs: Dict) -> CallError {
        CallError {
            uri: Some(uri.into()),
            args,
            kwargs,
        }
    }

    /// A failure without a URI of its own: sent as `<uri_base>.error.invoke.failure` with
    /// the arguments `["Call failed: <message>", "<message>"]`, as swampyer sends a Python
    /// callee's `Exception("<message>")` (the text, then the exception's own arguments).
    pub fn failure(message: impl fmt::Display) -> CallError {
        let message = message.to_string();
        CallError {
            uri: None,
            args: vec![
                Value::String(format!("Call failed: {message}")),
                Value::String(message),
            ],
            kwargs: Dict::new(),
        }
    }

    /// The error URI (`error.invoke.failure` under the client's URI base when none was set).
    pub fn uri(&self) -> &str {
        self.uri.as_deref().unwrap_or(INVOKE_FAILURE)
    }

    pub(crate) fn into_parts(self, uri_base: Option<&str>) -> (String, Vec<Value>, Dict) {
        let uri = match (self.uri, uri_base) {
            (Some(uri), _) => uri,
            (None, Some(base)) => format!("{base}.{INVOKE_FAILURE}"),
            (None, None) => INVOKE_FAILURE.to_owned(),
        };
        (uri, self.args, self.kwargs)
    }
}

/// The error's message followed by each of its causes (`: cause`), so that a handler's `?`
/// on an I/O error tells its caller the OS's reason too.
impl<E: std::error::Error> From<E> for CallError {
    fn from(e: E) -> Self {
        CallError::failure(crate::error::with_causes(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handlers_question_mark_sends_the_causes_too() {
        let refused = crate::Error::io(
            "connecting to 127.0.0.1:1",
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused"),
        );
        let sent = CallError::from(refused);
        assert_eq!(
            sent.args[1], "connecting to 127.0.0.1:1: Connection refused",
            "{:?}",
            sent.args
        );
    }

    #[test]
    fn a_missing_argument_is_called_missing_unless_optional() {
        let args = vec![Value::from(1.5)];
        assert_eq!(positional::<f64>(&args, 0), Ok(1.5));
        assert_eq!(positional::<Option<f64>>(&args, 1), Ok(None));
        let missing = positional::<f64>(&args, 1).unwrap_err();
        assert!(
            missing.starts_with("argument 1 is missing (1 given): "),
            "{missing}"
        );
        let wrong = positional::<String>(&args, 0).unwrap_err();
        assert!(wrong.starts_with("argument 0: "), "{wrong}");

        let mut kwargs = Dict::new();
        kwargs.insert("speed".into(), Value::from(2));
        assert_eq!(keyword::<i64>(&kwargs, "speed"), Ok(2));
        assert_eq!(keyword::<Option<i64>>(&kwargs, "accel"), Ok(None));
        let missing = keyword::<i64>(&kwargs, "accel").unwrap_err();
        assert!(
            missing.starts_with("keyword argument 'accel' is missing: "),
            "{missing}"
        );
    }
}
