//! Subscribing to topics: the wrapping of the user's handler, and unsubscribing.

use std::fmt;
use std::sync::Arc;

use crate::protocol::Message;
use crate::session::dispatch::{ConcurrencyLimit, Overflow};
use crate::session::handler::Event;
use crate::session::reply::{ReplyTo, oneshot};
use crate::session::{Command, Pending, Subscription};
use crate::{Client, Error, EventOutcome, SubscribeOptions};

use super::into_error;

/// Our id of a subscription, to undo it with. It stays valid across reconnects, where the
/// router's id changes; so it is not the router's id, and its number is not shown except by
/// `Display` and `Debug`, for log lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SubscriptionId(u64);

impl fmt::Display for SubscriptionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "subscription {}", self.0)
    }
}

impl Client {
    /// Subscribes to `topic`. `handler` runs on a worker thread for each event; events of one
    /// subscription are handled one at a time, in order (see [`SubscribeOptions`]).
    ///
    /// # Errors
    ///
    /// The [request errors](Client#errors), notably [`Error::Wamp`] `wamp.error.not_authorized`.
    pub fn subscribe<F, R>(&self, topic: &str, handler: F) -> Result<SubscriptionId, Error>
    where
        F: Fn(Event) -> R + Send + Sync + 'static,
        R: EventOutcome,
    {
        self.subscribe_with(topic, &SubscribeOptions::default(), handler)
    }

    /// Subscribes with options (match policy, concurrency...).
    ///
    /// # Errors
    ///
    /// As [`subscribe`](Client::subscribe).
    pub fn subscribe_with<F, R>(
        &self,
        topic: &str,
        options: &SubscribeOptions,
        handler: F,
    ) -> Result<SubscriptionId, Error>
    where
        F: Fn(Event) -> R + Send + Sync + 'static,
        R: EventOutcome,
    {
        let shared = self.shared();
        let topic = self.full_uri(topic);
        let subscribed = topic.clone();
        let entry = Arc::new(Subscription {
            local_id: shared.next_local_id(),
            topic,
            options: options.options.checked()?.clone(),
            handler: Arc::new(move |event: Event| handler(event).report(&subscribed)),
            limit: ConcurrencyLimit::new(
                options.concurrency,
                options.queue_limit,
                options.queue_bytes,
                Overflow::DropOldest,
            ),
            restore: !shared.in_own_join_hook(),
        });
        let request = shared.next_request_id();
        let message = Message::Subscribe {
            request,
            options: entry.options.clone(),
            topic: entry.topic.clone(),
        };
        let local_id = entry.local_id;
        let (responder, waiter) = oneshot();
        shared.send(
            &message,
            Some((request, Pending::Subscribe(ReplyTo::Once(responder), entry))),
        )?;
        match self.wait(&waiter, &message)? {
            Message::Subscribed { .. } => Ok(SubscriptionId(local_id)),
            other => Err(into_error(Ok(other), &message)),
        }
    }

    /// Removes a subscription; while the connection is down, as [`Client::unregister`] does.
    ///
    /// # Errors
    ///
    /// As [`unregister`](Client::unregister).
    pub fn unsubscribe(&self, id: SubscriptionId) -> Result<(), Error> {
        let (responder, waiter) = oneshot();
        self.shared().command(Command::Unsubscribe {
            local_id: id.0,
            reply: ReplyTo::Once(responder),
        })?;
        let what = Message::Unsubscribe {
            request: 0,
            subscription: id.0,
        };
        match self.wait(&waiter, &what)? {
            Message::Unsubscribed { .. } => Ok(()),
            other => Err(into_error(Ok(other), &what)),
        }
    }
}
