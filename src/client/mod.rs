//! The blocking API: [`Client`], cheap to clone and usable from any thread.

mod builder;
mod call;
mod close;
mod meta;
mod options;
mod passthru;
mod publish;
mod register;
mod status;
mod subscribe;

// Where things are:
// - here: `Client`, what every request shares (`full_uri`, waiting for an answer, turning
//   arguments and replies into values and errors), and the re-exports;
// - builder.rs: `ClientBuilder`, its defaults, the router URLs, `connect`;
// - call.rs: calls (plain, typed, with options, progressive, cancellable), `CallResult`;
// - register.rs, subscribe.rs: registering and subscribing (the wrapping of the user's
//   handler), unregistering and unsubscribing, and their ids;
// - publish.rs: publishing;
// - close.rs: `close`, `shutdown`, `run_until_stopped` and their bounds (`CLOSE_TIMEOUT`...);
// - status.rs: `is_connected`, `session_id`, `authid`, `stats`...;
// - options.rs: the options of each request; meta.rs: testaments and the router's meta API;
//   passthru.rs: payload passthru.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::protocol::{Dict, Message, Value, to_value};
pub use crate::session::ShutdownReport;
use crate::session::reply::Waiter;
use crate::session::{Command, Shared};
use crate::{Error, WampError};

pub use builder::{
    ClientBuilder, DEFAULT_HANDLER_QUEUE, DEFAULT_HANDLER_QUEUE_BYTES, DEFAULT_HANDLER_THREADS,
    DEFAULT_MAX_PAYLOAD, DEFAULT_TIMEOUT, RouterUrls,
};
pub use call::CallResult;
pub use close::{CLOSE_GRACE, CLOSE_TIMEOUT};
pub use meta::{IdsByMatch, RegistrationInfo, SessionInfo, SubscriptionInfo};
pub use options::{
    CallOptions, CancelMode, CancelToken, DEFAULT_EVENT_QUEUE, DEFAULT_EVENT_QUEUE_BYTES, Invoke,
    Match, PublishOptions, RegisterOptions, SubscribeOptions,
};
pub use register::RegistrationId;
pub use status::Stats;
pub use subscribe::SubscriptionId;

/// A connection to a WAMP router.
///
/// Cheap to clone (clones share the connection) and safe to use from many threads at once.
/// The connection closes with [`close`](Client::close) or when the last clone is dropped. A
/// handler or hook that holds a clone (for nested calls, say) keeps the client alive: a
/// service that owns such handlers ends with `close()`.
///
/// # Errors
///
/// Every request (call, register, subscribe, acknowledged publish...) can fail with:
/// - [`Error::Wamp`]: the router or a callee answered with an ERROR (not authorized, no such
///   procedure, the callee's own error...);
/// - [`Error::Timeout`]: no answer within the timeout (for a call, a CANCEL has been sent);
/// - [`Error::ConnectionLost`]: the connection was down when the request was made, or
///   dropped before the answer came (the request may or may not have reached the router);
/// - [`Error::Closed`]: the client was closed;
/// - [`Error::Value`]: arguments or the answer could not be converted;
/// - [`Error::PayloadTooLarge`]: the message is larger than
///   [`max_payload_size`](ClientBuilder::max_payload_size); it was not sent.
///
/// Each method's `# Errors` names what it adds to these.
///
/// ```no_run
/// use izaber_wamp::Client;
/// # fn main() -> Result<(), izaber_wamp::Error> {
/// let client = Client::builder("ws://127.0.0.1:8282/ws")
///     .realm("izaber")
///     .ticket("backend-1", "backend-1-password")
///     .uri_base("com.izaber.wamp")
///     .connect()?;
/// let me = client.call("auth.whoami", ())?;
/// println!("{}", me["authid"]);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    shared: Arc<Shared>,
    timeout: Duration,
}

impl Drop for ClientInner {
    fn drop(&mut self) {
        // Nobody is left to wait: the session drains and ends on its own thread.
        let _ = self.shared.command(Command::Close {
            own_invocation: self.shared.own_invocation(),
            grace: CLOSE_GRACE,
            report: None,
        });
    }
}

impl Client {
    fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    /// The full URI for `uri`: the URI base is put in front unless `uri` already starts with
    /// it or with `wamp.` (the router's own procedures and topics are never prefixed).
    pub fn full_uri(&self, uri: &str) -> String {
        let base = self.shared().uri_base.read();
        let Some(base) = base.as_deref() else {
            return uri.to_owned();
        };
        let already_full = uri.starts_with("wamp.")
            || (uri.starts_with(base) && uri.as_bytes().get(base.len()) == Some(&b'.'));
        if already_full {
            uri.to_owned()
        } else {
            format!("{base}.{uri}")
        }
    }

    /// Changes the prefix of relative URIs from now on, for this client and all its clones:
    /// Python's `wamp.wamp.uri_base = '...'`. An empty `base` means no prefix, which reaches
    /// procedures outside the base (Nexus's `system.db.query`, say) without a second
    /// connection; set the old base back afterwards (see [`Client::uri_base`]). It also names
    /// the errors of failing handlers (`<base>.error.invoke.failure`).
    ///
    /// ```no_run
    /// # fn main() -> Result<(), izaber_wamp::Error> {
    /// let client = izaber_wamp::Client::builder("ws://127.0.0.1:8080/ws")
    ///     .uri_base("com.izaber.wamp")
    ///     .connect()?;
    /// let base = client.uri_base();
    /// client.set_uri_base("");
    /// let rows = client.call("system.db.query", ("SELECT 1",))?;
    /// client.set_uri_base(base.as_deref().unwrap_or(""));
    /// # let _ = rows;
    /// # Ok(()) }
    /// ```
    pub fn set_uri_base(&self, base: &str) {
        let base = base.trim_end_matches('.');
        *self.shared().uri_base.write() = (!base.is_empty()).then(|| base.to_owned());
    }

    /// The prefix of relative URIs (`None`: none), as the builder or
    /// [`set_uri_base`](Client::set_uri_base) last set it.
    pub fn uri_base(&self) -> Option<String> {
        self.shared().uri_base.read().clone()
    }

    fn wait(&self, waiter: &Waiter<Message>, message: &Message) -> Result<Message, Error> {
        match waiter.wait_until(crate::deadline::after(self.inner.timeout)) {
            Some(Ok(Message::Error {
                error,
                args,
                kwargs,
                details,
                ..
            })) => Err(Error::Wamp(WampError {
                uri: error,
                args,
                kwargs,
                details,
            })),
            Some(reply) => reply,
            None => Err(Error::Timeout {
                operation: crate::session::describe(message),
                after: self.inner.timeout,
            }),
        }
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let link = self.shared().link();
        f.debug_struct("Client")
            .field("state", &link.state)
            .field("session_id", &link.session_id)
            .field("serializer", &link.serializer)
            .finish()
    }
}

/// Turns a reply that is not the expected answer into an error.
fn into_error(reply: crate::session::Reply, request: &Message) -> Error {
    match reply {
        Ok(Message::Error {
            error,
            args,
            kwargs,
            details,
            ..
        }) => Error::Wamp(WampError {
            uri: error,
            args,
            kwargs,
            details,
        }),
        Ok(other) => Error::Protocol(crate::protocol::ProtocolError::Unexpected {
            message: other.name(),
            answering: request.name(),
        }),
        Err(e) => e,
    }
}

/// Positional arguments from anything that serializes to a list (or to nothing).
pub(crate) fn to_args(args: &impl Serialize) -> Result<Vec<Value>, Error> {
    match to_value(args)? {
        Value::List(list) => Ok(list),
        Value::Null => Ok(Vec::new()),
        other => Err(Error::InvalidArgument(format!(
            "positional arguments must be a tuple, array or Vec, found {}; wrap a single value as (value,)",
            other.type_name()
        ))),
    }
}

/// Keyword arguments from anything that serializes to a map (or to nothing).
pub(crate) fn to_kwargs(kwargs: &impl Serialize) -> Result<Dict, Error> {
    match to_value(kwargs)? {
        Value::Dict(dict) => Ok(dict),
        Value::Null => Ok(Dict::new()),
        other => Err(Error::InvalidArgument(format!(
            "keyword arguments must be a struct or map, found {}",
            other.type_name()
        ))),
    }
}
