//! Payload passthru mode on the client: publishing, calling and answering with an opaque
//! [`EncodedPayload`] instead of arguments. Receiving one is
//! [`Event::payload`](crate::Event::payload), [`Invocation::payload`](crate::Invocation::payload)
//! and [`CallResult::payload`](crate::CallResult::payload).

use std::sync::Arc;

use crate::protocol::{Dict, EncodedPayload, Id};
use crate::session::Yielded;
use crate::{
    CallError, CallOptions, CallResult, Client, Error, Invocation, PublishOptions, RegisterOptions,
    RegistrationId,
};

fn checked(payload: &EncodedPayload) -> Result<(), Error> {
    payload.validate().map_err(Error::InvalidArgument)
}

impl Client {
    /// Publishes an opaque payload in payload passthru mode: the router delivers the bytes
    /// untouched, with their `enc_algo` and friends, to subscribers, who read them with
    /// [`Event::payload`](crate::Event::payload).
    ///
    /// ```no_run
    /// use izaber_wamp::{EncodedPayload, PublishOptions};
    /// # fn demo(client: izaber_wamp::Client, sealed: Vec<u8>) -> Result<(), izaber_wamp::Error> {
    /// let payload = EncodedPayload::new("cryptobox", sealed).enc_serializer("cbor");
    /// client.publish_payload("example.secret", payload, &PublishOptions::new())?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when the payload's `enc_algo` or `enc_serializer` is not a
    /// name the specification allows (the router would end the session for it); otherwise as
    /// [`publish_with`](Client::publish_with).
    pub fn publish_payload(
        &self,
        topic: &str,
        payload: EncodedPayload,
        options: &PublishOptions,
    ) -> Result<Option<Id>, Error> {
        checked(&payload)?;
        let mut options = options.clone();
        let args = payload.into_message_parts(options.options.checked_mut()?);
        self.publish_values(topic, args, Dict::new(), &options)
    }

    /// Calls with an opaque payload in payload passthru mode. The callee receives it with
    /// [`Invocation::payload`](crate::Invocation::payload); its answer, when it answers in
    /// passthru mode too, is [`CallResult::payload`](crate::CallResult::payload).
    ///
    /// # Errors
    ///
    /// As [`publish_payload`](Client::publish_payload) for the payload, then as
    /// [`call_with`](Client::call_with).
    pub fn call_payload(
        &self,
        procedure: &str,
        payload: EncodedPayload,
        options: &CallOptions,
    ) -> Result<CallResult, Error> {
        checked(&payload)?;
        let mut options = options.clone();
        let args = payload.into_message_parts(options.options.checked_mut()?);
        self.call_values(procedure, args, Dict::new(), &options, None)
    }

    /// Registers a procedure that answers in payload passthru mode: `handler` returns the
    /// payload to send back. It reads the caller's payload with
    /// [`Invocation::payload`](crate::Invocation::payload) (or its arguments, for callers in
    /// the usual mode).
    ///
    /// # Errors
    ///
    /// As [`register`](Client::register). A handler whose payload has a name the
    /// specification does not allow answers its caller with an error instead.
    pub fn register_payload<F>(
        &self,
        procedure: &str,
        options: &RegisterOptions,
        handler: F,
    ) -> Result<RegistrationId, Error>
    where
        F: Fn(Invocation) -> Result<EncodedPayload, CallError> + Send + Sync + 'static,
    {
        let handler = move |invocation: Invocation| {
            let payload = handler(invocation)?;
            payload.validate().map_err(CallError::failure)?;
            let mut options = Dict::new();
            let args = payload.into_message_parts(&mut options);
            Ok(Yielded {
                args,
                kwargs: Dict::new(),
                options,
            })
        };
        self.register_raw(procedure, options, Arc::new(handler))
    }
}
