//! Publishing events: fire and forget, or acknowledged by the router.

use std::sync::atomic::Ordering;

use serde::Serialize;

use crate::protocol::{Dict, Id, Message, Value};
use crate::session::Pending;
use crate::session::reply::{ReplyTo, oneshot};
use crate::{Client, Error, PublishOptions};

use super::{into_error, to_args, to_kwargs};

impl Client {
    /// Publishes an event with positional `args`, fire and forget: the router does not say
    /// whether anyone received it, or whether we were allowed to publish. Returns once the
    /// event has been written to the connection.
    ///
    /// # Errors
    ///
    /// Only what the client itself sees: [`Error::ConnectionLost`] or [`Error::Closed`] when
    /// the event cannot be written, [`Error::Value`] or [`Error::InvalidArgument`] for
    /// arguments, [`Error::PayloadTooLarge`]. A refusal by the router is not reported; use
    /// [`publish_with`](Client::publish_with) with acknowledgement to see it.
    pub fn publish(&self, topic: &str, args: impl Serialize) -> Result<(), Error> {
        self.publish_with(topic, args, (), &PublishOptions::default())
            .map(|_| ())
    }

    /// Publishes with keyword arguments and options. With
    /// [`acknowledge`](PublishOptions::acknowledge), waits for the router and returns the
    /// publication id (or the router's refusal as an error).
    ///
    /// # Errors
    ///
    /// As [`publish`](Client::publish), and [`Error::InvalidArgument`] when `kwargs` is not a
    /// map. With acknowledgement, also the [request errors](Client#errors), such as
    /// [`Error::Wamp`] `wamp.error.not_authorized`.
    pub fn publish_with(
        &self,
        topic: &str,
        args: impl Serialize,
        kwargs: impl Serialize,
        options: &PublishOptions,
    ) -> Result<Option<Id>, Error> {
        self.publish_values(topic, to_args(&args)?, to_kwargs(&kwargs)?, options)
    }

    pub(super) fn publish_values(
        &self,
        topic: &str,
        args: Vec<Value>,
        kwargs: Dict,
        options: &PublishOptions,
    ) -> Result<Option<Id>, Error> {
        let shared = self.shared();
        shared.counters.publications.fetch_add(1, Ordering::Relaxed);
        let request = shared.next_request_id();
        let message = Message::Publish {
            request,
            options: options.options.checked()?.clone(),
            topic: self.full_uri(topic),
            args,
            kwargs,
        };
        if !options.acknowledged() {
            // Wait until the event is on the socket, so that a script that publishes and
            // exits right away does not lose it.
            let (responder, waiter) = oneshot();
            shared.send(&message, Some((request, Pending::Written(responder))))?;
            return match waiter.wait_until(crate::deadline::after(self.inner.timeout)) {
                Some(result) => result.map(|()| None),
                None => Err(Error::Timeout {
                    operation: crate::session::describe(&message),
                    after: self.inner.timeout,
                }),
            };
        }
        let (responder, waiter) = oneshot();
        shared.send(
            &message,
            Some((request, Pending::Publish(ReplyTo::Once(responder)))),
        )?;
        match self.wait(&waiter, &message)? {
            Message::Published { publication, .. } => Ok(Some(publication)),
            other => Err(into_error(Ok(other), &message)),
        }
    }
}
