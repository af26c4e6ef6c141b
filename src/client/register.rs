//! Registering procedures: the wrapping of the user's handler, and unregistering.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use crate::protocol::{Message, to_value};
use crate::session::dispatch::{ConcurrencyLimit, Overflow};
use crate::session::handler::{CallError, Invocation};
use crate::session::reply::{ReplyTo, oneshot};
use crate::session::{Command, Pending, Registration};
use crate::{Client, Error, RegisterOptions};

use super::into_error;

/// Our id of a registration, to undo it with. It stays valid across reconnects, where the
/// router's id changes; so it is not the router's id, and its number is not shown except by
/// `Display` and `Debug`, for log lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RegistrationId(u64);

impl fmt::Display for RegistrationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "registration {}", self.0)
    }
}

impl Client {
    /// Registers `procedure`. `handler` runs on a worker thread for each call, may itself use
    /// this client, and returns the call's result (sent as the single positional result) or a
    /// [`CallError`]. A panic in the handler is sent to the caller as an error.
    ///
    /// ```no_run
    /// # fn demo(client: izaber_wamp::Client) -> Result<(), izaber_wamp::Error> {
    /// client.register("example.hello", |invocation| {
    ///     let who = invocation.caller_authid().unwrap_or("<unknown>").to_owned();
    ///     Ok(format!("Hello {who}!"))
    /// })?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// The [request errors](Client#errors), notably [`Error::Wamp`]
    /// `wamp.error.procedure_already_exists` when another session holds the procedure, and
    /// `wamp.error.not_authorized`.
    pub fn register<F, R>(&self, procedure: &str, handler: F) -> Result<RegistrationId, Error>
    where
        F: Fn(Invocation) -> Result<R, CallError> + Send + Sync + 'static,
        R: Serialize,
    {
        self.register_with(procedure, &RegisterOptions::default(), handler)
    }

    /// Registers `procedure` with options (match policy, `force_reregister`, concurrency...).
    ///
    /// # Errors
    ///
    /// As [`register`](Client::register).
    pub fn register_with<F, R>(
        &self,
        procedure: &str,
        options: &RegisterOptions,
        handler: F,
    ) -> Result<RegistrationId, Error>
    where
        F: Fn(Invocation) -> Result<R, CallError> + Send + Sync + 'static,
        R: Serialize,
    {
        let handler = move |invocation: Invocation| {
            let result = handler(invocation)?;
            let value = to_value(&result).map_err(|e| {
                CallError::failure(format!("the handler's result cannot be sent: {e}"))
            })?;
            Ok(crate::session::Yielded::value(value))
        };
        self.register_raw(procedure, options, Arc::new(handler))
    }

    pub(super) fn register_raw(
        &self,
        procedure: &str,
        options: &RegisterOptions,
        handler: Arc<crate::session::ProcedureFn>,
    ) -> Result<RegistrationId, Error> {
        let shared = self.shared();
        let entry = Arc::new(Registration {
            local_id: shared.next_local_id(),
            procedure: self.full_uri(procedure),
            options: options.options.checked()?.clone(),
            handler,
            limit: {
                // A procedure's own queue is bounded as the client's is, unless it says more.
                let pool = shared.pool.limits();
                ConcurrencyLimit::new(
                    options.concurrency,
                    options.queue_limit.unwrap_or(pool.queue),
                    options.queue_bytes.unwrap_or(pool.queue_bytes),
                    Overflow::RefuseNewest,
                )
            },
            restore: !shared.in_own_join_hook(),
        });
        let request = shared.next_request_id();
        let message = Message::Register {
            request,
            options: entry.options.clone(),
            procedure: entry.procedure.clone(),
        };
        let local_id = entry.local_id;
        let (responder, waiter) = oneshot();
        shared.send(
            &message,
            Some((request, Pending::Register(ReplyTo::Once(responder), entry))),
        )?;
        match self.wait(&waiter, &message)? {
            Message::Registered { .. } => Ok(RegistrationId(local_id)),
            other => Err(into_error(Ok(other), &message)),
        }
    }

    /// Removes a registration. While the connection is down this succeeds at once (the
    /// router let go of it with the session) and the registration is not made again after
    /// the reconnect. An id already removed is an [`Error::InvalidArgument`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for an id already removed, or the
    /// [request errors](Client#errors).
    pub fn unregister(&self, id: RegistrationId) -> Result<(), Error> {
        let (responder, waiter) = oneshot();
        self.shared().command(Command::Unregister {
            local_id: id.0,
            reply: ReplyTo::Once(responder),
        })?;
        let what = Message::Unregister {
            request: 0,
            registration: id.0,
        };
        match self.wait(&waiter, &what)? {
            Message::Unregistered { .. } => Ok(()),
            other => Err(into_error(Ok(other), &what)),
        }
    }
}
