//! Calls: plain, with keyword arguments and options, typed, progressive and cancellable.

use std::sync::atomic::Ordering;
use std::time::Instant;

use crossbeam_channel::RecvTimeoutError;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::protocol::{Dict, Message, Value, from_value};
use crate::session::Command;
use crate::session::reply::{ReplyTo, oneshot};
use crate::{CallOptions, CancelMode, CancelToken, Client, Error, WampError};

use super::{into_error, to_args, to_kwargs};

/// A call's complete result.
#[derive(Clone, Debug, PartialEq, Default)]
#[non_exhaustive]
pub struct CallResult {
    /// Positional results.
    pub args: Vec<Value>,
    /// Keyword results.
    pub kwargs: Dict,
    /// RESULT details (e.g. `callee_authid` when disclosed).
    pub details: Dict,
}

impl CallResult {
    /// The opaque payload of a result in payload passthru mode (see
    /// [`Client::call_payload`]); `None` for a result with arguments.
    pub fn payload(&self) -> Option<crate::EncodedPayload> {
        crate::EncodedPayload::from_message(&self.details, &self.args)
    }

    /// The first positional result, or `null`: what Python's `wamp.call` returns.
    pub fn value(self) -> Value {
        self.args.into_iter().next().unwrap_or(Value::Null)
    }

    /// The first positional result converted to `T`, as [`Client::call_as`] gives it.
    ///
    /// # Errors
    ///
    /// [`Error::Value`] when the result does not fit `T`.
    pub fn value_as<T: DeserializeOwned>(self) -> Result<T, Error> {
        Ok(from_value(self.value())?)
    }
}

impl Client {
    /// Calls `procedure` with positional `args` (a tuple, array or `Vec`; `()` for none) and
    /// returns its first result, like Python's `wamp.call`.
    ///
    /// # Errors
    ///
    /// The [request errors](Client#errors): [`Error::Wamp`] when the callee or the router
    /// answers with an error, [`Error::Timeout`] (after sending CANCEL) when no answer comes
    /// in time, [`Error::InvalidArgument`] when `args` is not a sequence.
    pub fn call(&self, procedure: &str, args: impl Serialize) -> Result<Value, Error> {
        Ok(self
            .call_with(procedure, args, (), &CallOptions::default())?
            .value())
    }

    /// Calls like [`Client::call`] and reads the first result into `T` through serde: a
    /// struct, a tuple, a number...
    ///
    /// Fails as [`Client::call`] does, and with [`Error::Value`] when the result does not fit
    /// `T`.
    ///
    /// ```no_run
    /// # use izaber_wamp::Client;
    /// #[derive(serde::Deserialize)]
    /// struct WhoAmI {
    ///     authid: String,
    ///     role: String,
    /// }
    /// # fn main() -> Result<(), izaber_wamp::Error> {
    /// # let client = Client::builder("ws://127.0.0.1:8282/ws").connect()?;
    /// let me: WhoAmI = client.call_as("auth.whoami", ())?;
    /// println!("{} ({})", me.authid, me.role);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`call`](Client::call), and [`Error::Value`] when the result does not fit `T`.
    pub fn call_as<T: DeserializeOwned>(
        &self,
        procedure: &str,
        args: impl Serialize,
    ) -> Result<T, Error> {
        self.call_with(procedure, args, (), &CallOptions::default())?
            .value_as()
    }

    /// Calls with positional and keyword arguments (`kwargs`: a struct or map; `()` for none)
    /// and returns the first result.
    ///
    /// # Errors
    ///
    /// As [`call`](Client::call), and [`Error::InvalidArgument`] when `kwargs` is not a map.
    pub fn call_kw(
        &self,
        procedure: &str,
        args: impl Serialize,
        kwargs: impl Serialize,
    ) -> Result<Value, Error> {
        Ok(self
            .call_with(procedure, args, kwargs, &CallOptions::default())?
            .value())
    }

    /// Calls with options and returns the complete result.
    ///
    /// # Errors
    ///
    /// As [`call_kw`](Client::call_kw); with a [`cancel_token`](CallOptions::cancel_token),
    /// the router's answer to the CANCEL, usually [`Error::Wamp`] `wamp.error.canceled`.
    pub fn call_with(
        &self,
        procedure: &str,
        args: impl Serialize,
        kwargs: impl Serialize,
        options: &CallOptions,
    ) -> Result<CallResult, Error> {
        let args = to_args(&args)?;
        let kwargs = to_kwargs(&kwargs)?;
        self.call_values(procedure, args, kwargs, options, None)
    }

    /// Calls asking for progressive results: `on_progress` runs (on this thread) for each
    /// progressive result before the final result is returned.
    ///
    /// # Errors
    ///
    /// As [`call_with`](Client::call_with). Progressive results that came before an error
    /// have been given to `on_progress`.
    pub fn call_progressive(
        &self,
        procedure: &str,
        args: impl Serialize,
        kwargs: impl Serialize,
        options: &CallOptions,
        mut on_progress: impl FnMut(CallResult),
    ) -> Result<CallResult, Error> {
        let args = to_args(&args)?;
        let kwargs = to_kwargs(&kwargs)?;
        let options = options.clone().option("receive_progress", true);
        self.call_values(procedure, args, kwargs, &options, Some(&mut on_progress))
    }

    pub(super) fn call_values(
        &self,
        procedure: &str,
        args: Vec<Value>,
        kwargs: Dict,
        options: &CallOptions,
        mut on_progress: Option<&mut dyn FnMut(CallResult)>,
    ) -> Result<CallResult, Error> {
        let shared = self.shared();
        shared.counters.calls.fetch_add(1, Ordering::Relaxed);
        let _waiting = shared.call_waiting();
        let request = shared.next_request_id();
        // A plain call waits on a one-shot slot; progressive and cancellable calls on a
        // channel (several answers, and `select!` with the cancel token).
        let (reply_to, once, stream) = if on_progress.is_some() || options.cancel_token.is_some() {
            let (tx, rx) = crossbeam_channel::unbounded();
            (ReplyTo::Stream(tx), None, Some(rx))
        } else {
            let (responder, waiter) = oneshot();
            (ReplyTo::Once(responder), Some(waiter), None)
        };
        let procedure = self.full_uri(procedure);
        let timeout = options.timeout.unwrap_or(self.inner.timeout);
        let message = Message::Call {
            request,
            options: options.options.checked()?.clone(),
            procedure,
            args,
            kwargs,
        };
        let deadline = crate::deadline::after(timeout);
        shared.send_call(&message, request, reply_to, deadline)?;
        let mut cancel = options.cancel_token.as_ref().map(CancelToken::receiver);
        loop {
            let next = match (&once, &stream, &cancel) {
                (Some(waiter), _, _) => {
                    waiter.wait_until(deadline).ok_or(RecvTimeoutError::Timeout)
                }
                (None, Some(rx), Some(cancelled)) => crossbeam_channel::select! {
                    recv(rx) -> reply => reply.map_err(|_| RecvTimeoutError::Disconnected),
                    recv(cancelled) -> _ => {
                        // Ask the router to cancel, then wait for its answer (the ERROR
                        // `wamp.error.canceled`, or the result if it came first). For `skip`
                        // the specification has the router answer at once, but Crossbar sends
                        // nothing at all, so the client answers the call itself.
                        let skip = options.cancel_mode == CancelMode::Skip;
                        let _ = shared.command(Command::Cancel {
                            request,
                            mode: Some(options.cancel_mode_str().to_owned()),
                            forget: skip,
                        });
                        if skip {
                            return Err(Error::Wamp(WampError {
                                uri: "wamp.error.canceled".into(),
                                args: vec![Value::from("the caller cancelled the call (skip)")],
                                kwargs: Dict::new(),
                                details: Dict::new(),
                            }));
                        }
                        cancel = None;
                        continue;
                    },
                    default(deadline.saturating_duration_since(Instant::now())) => {
                        Err(RecvTimeoutError::Timeout)
                    },
                },
                (None, Some(rx), None) => rx.recv_deadline(deadline),
                (None, None, _) => unreachable!("a call waits on a slot or a channel"),
            };
            match next {
                Ok(Ok(Message::Result {
                    details,
                    args,
                    kwargs,
                    ..
                })) => {
                    let progress = details
                        .get("progress")
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                    let result = CallResult {
                        args,
                        kwargs,
                        details,
                    };
                    match (&mut on_progress, progress) {
                        (Some(callback), true) => callback(result),
                        _ => return Ok(result),
                    }
                }
                Ok(reply) => return Err(into_error(reply, &message)),
                Err(RecvTimeoutError::Timeout) => {
                    let _ = shared.command(Command::Cancel {
                        request,
                        mode: Some(options.cancel_mode_str().to_owned()),
                        forget: true,
                    });
                    return Err(Error::Timeout {
                        operation: describe_call(&message),
                        after: timeout,
                    });
                }
                Err(RecvTimeoutError::Disconnected) => return Err(Error::Closed),
            }
        }
    }
}

fn describe_call(message: &Message) -> String {
    crate::session::describe(message)
}
