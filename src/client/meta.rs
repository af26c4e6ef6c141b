//! The router's own procedures: testaments (events the router publishes when our session
//! dies) and the meta API operators script most (sessions, registrations, subscriptions), with
//! typed answers. Crossbar.io provides them all; on Nexus, roles other than `trust` may be
//! refused them.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::protocol::{Dict, Id, Message, Value};
use crate::session::reply::{ReplyTo, oneshot};
use crate::session::{FLUSH_TESTAMENTS, Pending, Testament, testament_priming};
use crate::{Client, Error, Match, PublishOptions};

use super::{into_error, to_args, to_kwargs};

/// A session as `wamp.session.get` describes it.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[non_exhaustive]
pub struct SessionInfo {
    /// The session's id.
    pub session: Id,
    /// Who it logged in as.
    pub authid: Option<String>,
    /// Its role.
    pub authrole: Option<String>,
    /// How it logged in (`ticket`, `cryptosign`...).
    pub authmethod: Option<String>,
    /// What authenticated it (`static`, `dynamic`...).
    pub authprovider: Option<String>,
    /// What the authenticator added.
    #[serde(default)]
    pub authextra: Dict,
    /// The router's description of its connection (peer address, serializer...).
    #[serde(default)]
    pub transport: Dict,
}

/// A registration as `wamp.registration.get` describes it.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[non_exhaustive]
pub struct RegistrationInfo {
    /// The router's id of the registration.
    pub id: Id,
    /// When it was made (ISO 8601, UTC).
    pub created: String,
    /// The procedure URI, or its pattern.
    pub uri: String,
    /// `exact`, `prefix` or `wildcard`.
    #[serde(rename = "match")]
    pub match_policy: String,
    /// Which callee gets each call (`single`, `roundrobin`...).
    pub invoke: Option<String>,
}

/// A subscription as `wamp.subscription.get` describes it.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[non_exhaustive]
pub struct SubscriptionInfo {
    /// The router's id of the subscription.
    pub id: Id,
    /// When it was made (ISO 8601, UTC).
    pub created: String,
    /// The topic URI, or its pattern.
    pub uri: String,
    /// `exact`, `prefix` or `wildcard`.
    #[serde(rename = "match")]
    pub match_policy: String,
}

/// The router's registration or subscription ids, by match policy
/// (`wamp.registration.list`, `wamp.subscription.list`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[non_exhaustive]
pub struct IdsByMatch {
    /// Exact URIs.
    #[serde(default)]
    pub exact: Vec<Id>,
    /// Prefix patterns.
    #[serde(default)]
    pub prefix: Vec<Id>,
    /// Wildcard patterns.
    #[serde(default)]
    pub wildcard: Vec<Id>,
}

impl Client {
    /// Leaves an event for the router to publish to `topic` when this session dies: a crash,
    /// a lost connection, or a close. This is how a service tells others "I am gone" even
    /// when it cannot say so itself. The testament is added again to every new session
    /// after a reconnect, as registrations are; [`flush_testaments`](Client::flush_testaments)
    /// removes them (before a clean shutdown that others should not hear of, say).
    ///
    /// First the client publishes to `topic` an event that no session is eligible to
    /// receive, and waits for the router to accept it. Crossbar 26 authorizes a testament's
    /// event only when the session dies, and with a dynamic authorizer, as on Nexus, that
    /// fails once the connection is gone, so a crashed service's testament would be lost
    /// unless the router has already cached its decision to let this role publish there.
    /// The role therefore needs permission to publish to `topic`, which the testament's
    /// event needs anyway.
    ///
    /// ```no_run
    /// # fn demo(client: izaber_wamp::Client) -> Result<(), izaber_wamp::Error> {
    /// client.add_testament("myservice.gone", ("myservice", "worker-3"), ())?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// The [request errors](Client#errors), notably [`Error::Wamp`]
    /// `wamp.error.not_authorized` when the router does not let this role call
    /// `wamp.session.add_testament`, and `wamp.error.no_such_procedure` on routers without
    /// testaments. [`Error::InvalidArgument`] when `args` is not a sequence or `kwargs` not a
    /// map.
    pub fn add_testament(
        &self,
        topic: &str,
        args: impl Serialize,
        kwargs: impl Serialize,
    ) -> Result<(), Error> {
        self.add_testament_with(topic, args, kwargs, &PublishOptions::default())
    }

    /// [`add_testament`](Client::add_testament) with publication options for the event
    /// (`exclude`, `eligible`...; acknowledgement and `exclude_me` do not apply).
    ///
    /// # Errors
    ///
    /// As [`add_testament`](Client::add_testament).
    pub fn add_testament_with(
        &self,
        topic: &str,
        args: impl Serialize,
        kwargs: impl Serialize,
        options: &PublishOptions,
    ) -> Result<(), Error> {
        let testament = Arc::new(Testament::new(
            self.full_uri(topic),
            to_args(&args)?,
            to_kwargs(&kwargs)?,
            options.options.clone(),
        ));
        let shared = self.shared();
        // Have the router authorize the event now, while it can (see `testament_priming`).
        let request = shared.next_request_id();
        let priming = testament_priming(request, &testament.topic);
        let (responder, waiter) = oneshot();
        shared.send(
            &priming,
            Some((request, Pending::Publish(ReplyTo::Once(responder)))),
        )?;
        match self.wait(&waiter, &priming)? {
            Message::Published { .. } => {}
            other => return Err(into_error(Ok(other), &priming)),
        }
        let request = shared.next_request_id();
        let message = testament.call(request);
        let (responder, waiter) = oneshot();
        shared.send(
            &message,
            Some((
                request,
                Pending::AddTestament(ReplyTo::Once(responder), testament),
            )),
        )?;
        match self.wait(&waiter, &message)? {
            Message::Result { .. } => Ok(()),
            other => Err(into_error(Ok(other), &message)),
        }
    }

    /// Removes this session's testaments, so that the router publishes nothing when it ends,
    /// and they are not added again after a reconnect. Returns how many the router dropped.
    ///
    /// # Errors
    ///
    /// As [`add_testament`](Client::add_testament).
    pub fn flush_testaments(&self) -> Result<u64, Error> {
        let shared = self.shared();
        let request = shared.next_request_id();
        let message = Message::Call {
            request,
            options: Dict::new(),
            procedure: FLUSH_TESTAMENTS.to_owned(),
            args: Vec::new(),
            kwargs: Dict::new(),
        };
        let (responder, waiter) = oneshot();
        shared.send(
            &message,
            Some((request, Pending::FlushTestaments(ReplyTo::Once(responder)))),
        )?;
        match self.wait(&waiter, &message)? {
            Message::Result { args, .. } => Ok(args.first().and_then(Value::as_u64).unwrap_or(0)),
            other => Err(into_error(Ok(other), &message)),
        }
    }

    /// `wamp.session.count`: how many sessions are joined to the realm.
    ///
    /// # Errors
    ///
    /// The [request errors](Client#errors); [`Error::Wamp`] `wamp.error.not_authorized` for
    /// roles the router keeps from its meta API.
    pub fn session_count(&self) -> Result<u64, Error> {
        self.call_as("wamp.session.count", ())
    }

    /// `wamp.session.list`: the ids of the sessions joined to the realm.
    ///
    /// # Errors
    ///
    /// As [`session_count`](Client::session_count).
    pub fn session_list(&self) -> Result<Vec<Id>, Error> {
        self.call_as("wamp.session.list", ())
    }

    /// `wamp.session.get`: who a session is and how it is connected.
    ///
    /// # Errors
    ///
    /// As [`session_count`](Client::session_count); [`Error::Wamp`]
    /// `wamp.error.no_such_session` for an id that is not joined.
    pub fn session_get(&self, session: Id) -> Result<SessionInfo, Error> {
        self.call_as("wamp.session.get", (session,))
    }

    /// `wamp.registration.lookup`: the router's id of the registration of `procedure` (with
    /// that match policy), or `None` when nobody registered it. `procedure` gets the URI base
    /// like any other URI.
    ///
    /// # Errors
    ///
    /// As [`session_count`](Client::session_count).
    pub fn registration_lookup(
        &self,
        procedure: &str,
        match_policy: Match,
    ) -> Result<Option<Id>, Error> {
        self.call_as(
            "wamp.registration.lookup",
            (self.full_uri(procedure), match_options(match_policy)),
        )
    }

    /// `wamp.registration.get`: what a registration is.
    ///
    /// # Errors
    ///
    /// As [`session_count`](Client::session_count); [`Error::Wamp`]
    /// `wamp.error.no_such_registration` for an unknown id.
    pub fn registration_get(&self, registration: Id) -> Result<RegistrationInfo, Error> {
        self.call_as("wamp.registration.get", (registration,))
    }

    /// `wamp.registration.list`: every registration's id, by match policy.
    ///
    /// # Errors
    ///
    /// As [`session_count`](Client::session_count).
    pub fn registration_list(&self) -> Result<IdsByMatch, Error> {
        self.call_as("wamp.registration.list", ())
    }

    /// `wamp.registration.list_callees`: the sessions serving a registration.
    ///
    /// # Errors
    ///
    /// As [`registration_get`](Client::registration_get).
    pub fn registration_callees(&self, registration: Id) -> Result<Vec<Id>, Error> {
        self.call_as("wamp.registration.list_callees", (registration,))
    }

    /// `wamp.subscription.lookup`: the router's id of the subscription to `topic` (with that
    /// match policy), or `None` when nobody subscribed. `topic` gets the URI base like any
    /// other URI.
    ///
    /// # Errors
    ///
    /// As [`session_count`](Client::session_count).
    pub fn subscription_lookup(
        &self,
        topic: &str,
        match_policy: Match,
    ) -> Result<Option<Id>, Error> {
        self.call_as(
            "wamp.subscription.lookup",
            (self.full_uri(topic), match_options(match_policy)),
        )
    }

    /// `wamp.subscription.get`: what a subscription is.
    ///
    /// # Errors
    ///
    /// As [`session_count`](Client::session_count); [`Error::Wamp`]
    /// `wamp.error.no_such_subscription` for an unknown id.
    pub fn subscription_get(&self, subscription: Id) -> Result<SubscriptionInfo, Error> {
        self.call_as("wamp.subscription.get", (subscription,))
    }

    /// `wamp.subscription.list`: every subscription's id, by match policy.
    ///
    /// # Errors
    ///
    /// As [`session_count`](Client::session_count).
    pub fn subscription_list(&self) -> Result<IdsByMatch, Error> {
        self.call_as("wamp.subscription.list", ())
    }

    /// `wamp.subscription.list_subscribers`: the sessions subscribed.
    ///
    /// # Errors
    ///
    /// As [`subscription_get`](Client::subscription_get).
    pub fn subscription_subscribers(&self, subscription: Id) -> Result<Vec<Id>, Error> {
        self.call_as("wamp.subscription.list_subscribers", (subscription,))
    }
}

fn match_options(match_policy: Match) -> Dict {
    let mut options = Dict::new();
    options.insert("match".into(), Value::from(match_policy.as_str()));
    options
}
