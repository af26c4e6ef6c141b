//! The router's own procedures: testaments (events the router publishes when our session
//! dies) and the meta API operators script most (sessions, registrations, subscriptions), with
//! typed answers. Crossbar.io provides them all; on Nexus, roles other than `trust` may be
//! refused them.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::protocol::{Dict, Id, Message, Value, redacted, redacted_dict};
use crate::session::reply::{ReplyTo, oneshot};
use crate::session::{FLUSH_TESTAMENTS, Pending, Testament, testament_priming};
use crate::{Client, Error, Match, PublishOptions, Secret};

use super::{into_error, to_args, to_kwargs};

/// A session as `wamp.session.get` describes it: every key the router sends.
///
/// The keys Crossbar.io 26 sends (Autobahn's `SessionDetails.marshal()`) are fields of their
/// own, with the router's names; any other key a router adds is kept in
/// [`extra`](SessionInfo::extra). Serializing gives the router's dict back, so
/// `to_value(&info)` equals what Python's `wamp.call('wamp.session.get', session_id)`
/// returns, and `info` can be printed, stored or extended as a dict:
///
/// ```
/// use izaber_wamp::SessionInfo;
/// use izaber_wamp::protocol::{Value, from_value, to_value};
///
/// // What Crossbar answers (shortened), and a key only some other router sends.
/// let raw = Value::from(serde_json::json!({
///     "session": 5142886595509912_u64, "realm": "izaber", "authid": "backend-2",
///     "authrole": "backend", "authmethod": "ticket", "authprovider": "dynamic",
///     "authextra": {"x_cb_peer": "tcp4:127.0.0.1:57906"}, "serializer": 3,
///     "transport": {"channel_framing": "rawsocket", "peer": "tcp4:127.0.0.1:57906"},
///     "resumed": false, "resumable": false, "resume_token": null,
///     "x_nexus_site": "lab",
/// }));
/// let info: SessionInfo = from_value(raw.clone()).unwrap();
/// assert_eq!(info.authid.as_deref(), Some("backend-2"));
/// assert_eq!(info.transport["peer"], "tcp4:127.0.0.1:57906");
/// assert_eq!(info.extra["x_nexus_site"], "lab");
///
/// // Python: session_data = wamp.call('wamp.session.get', session_id)
/// let mut session_data = to_value(&info).unwrap();
/// assert_eq!(session_data, raw);
/// // Python: session_data['note'] = 'checked'
/// session_data.as_dict_mut().unwrap().insert("note".into(), "checked".into());
/// ```
///
/// `Debug` hides secrets: [`resume_token`](SessionInfo::resume_token) is a [`Secret`], and in
/// `authextra`, `transport` and `extra` the values under secret-looking keys (`password`,
/// `ticket`, `token`, `secret`, API keys, HTTP `cookie` and `authorization` headers,
/// Crossbar's `http_cbtid` cookie) print as `<redacted>`. Serializing keeps them all, as
/// Python's dict does: print the serialized dict only where those may be seen.
///
/// `#[non_exhaustive]`: a router may add keys, and this may get fields for them. Build one
/// from a dict with [`from_value`](crate::protocol::from_value).
///
/// One limit of `extra` (serde's `flatten` buffers its values): an integer there beyond the
/// 64-bit range fails the whole answer. Crossbar sends none; where a router does, call the
/// procedure with [`call`](Client::call) for the raw [`Value`].
#[derive(Clone, Deserialize, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SessionInfo {
    /// The session's id.
    pub session: Id,
    /// The realm it joined.
    #[serde(default)]
    pub realm: Option<String>,
    /// Who it logged in as.
    #[serde(default)]
    pub authid: Option<String>,
    /// Its role.
    #[serde(default)]
    pub authrole: Option<String>,
    /// How it logged in (`ticket`, `cryptosign`...; null for a component inside the router).
    #[serde(default)]
    pub authmethod: Option<String>,
    /// What authenticated it (`static`, `dynamic`...).
    #[serde(default)]
    pub authprovider: Option<String>,
    /// What the authenticator added (Crossbar adds `x_cb_node`, `x_cb_peer`, `x_cb_pid`...):
    /// a dict, or null. `info.authextra["x_cb_peer"]` reads a key, null when missing.
    #[serde(default)]
    pub authextra: Value,
    /// The serializer as Crossbar 26 reports it: Autobahn's number for it (1 JSON,
    /// 2 MessagePack, 3 CBOR) on RawSocket, null on WebSocket. Its name is in
    /// `transport["channel_serializer"]` and the WebSocket subprotocol in
    /// `transport["websocket_protocol"]`.
    #[serde(default)]
    pub serializer: Value,
    /// The router's description of its connection (`peer`, `channel_framing`,
    /// `channel_serializer`, `websocket_protocol`, `http_headers_received`...): a dict, or
    /// null. `info.transport["peer"]` reads a key, null when missing.
    #[serde(default)]
    pub transport: Value,
    /// Whether the session resumed an earlier one (Crossbar: always false).
    #[serde(default)]
    pub resumed: Option<bool>,
    /// Whether it may be resumed (Crossbar: always false).
    #[serde(default)]
    pub resumable: Option<bool>,
    /// What resumes it, a credential (Crossbar: always null). `Debug` shows `<redacted>`.
    #[serde(default, with = "optional_secret")]
    pub resume_token: Option<Secret>,
    /// Every other key the router sent, as it sent it.
    #[serde(flatten)]
    pub extra: Dict,
}

impl fmt::Debug for SessionInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionInfo")
            .field("session", &self.session)
            .field("realm", &self.realm)
            .field("authid", &self.authid)
            .field("authrole", &self.authrole)
            .field("authmethod", &self.authmethod)
            .field("authprovider", &self.authprovider)
            .field("authextra", &redacted(&self.authextra))
            .field("serializer", &self.serializer)
            .field("transport", &redacted(&self.transport))
            .field("resumed", &self.resumed)
            .field("resumable", &self.resumable)
            .field("resume_token", &self.resume_token)
            .field("extra", &redacted_dict(&self.extra))
            .finish()
    }
}

/// `Option<Secret>` as the router's string or null.
mod optional_secret {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::Secret;

    pub(super) fn serialize<S: Serializer>(
        secret: &Option<Secret>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        secret.as_ref().map(Secret::expose).serialize(serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Secret>, D::Error> {
        Ok(Option::<String>::deserialize(deserializer)?.map(Secret::new))
    }
}

/// A registration as `wamp.registration.get` describes it: every key the router sends.
///
/// Serializing gives the router's dict back, with its key names: the match policy is the
/// field [`match_policy`](RegistrationInfo::match_policy) (as in
/// [`registration_lookup`](Client::registration_lookup) and
/// [`RegisterOptions::match_policy`](crate::RegisterOptions::match_policy); `match` is a
/// Rust keyword) and the key `match` in the dict, as Python's `reg_data['match']`:
///
/// ```
/// use izaber_wamp::RegistrationInfo;
/// use izaber_wamp::protocol::{Value, from_value, to_value};
///
/// let raw = Value::from(serde_json::json!({
///     "id": 3489312213846469_u64, "created": "2026-12-06T20:30:29.786Z",
///     "uri": "com.izaber.wamp.my.proc", "match": "exact", "invoke": "single",
/// }));
/// let info: RegistrationInfo = from_value(raw.clone()).unwrap();
/// assert_eq!(info.match_policy, "exact");
///
/// // Python: reg_data = wamp.call('wamp.registration.get', reg_id)
/// //         reg_data['callees'] = wamp.call('wamp.registration.list_callees', reg_id)
/// let mut reg_data = to_value(&info).unwrap();
/// assert_eq!(reg_data, raw);
/// assert_eq!(reg_data["match"], "exact");
/// let callees: Vec<u64> = vec![5142886595509912]; // client.registration_callees(info.id)?
/// let callees = to_value(&callees).unwrap();
/// reg_data.as_dict_mut().unwrap().insert("callees".into(), callees);
/// ```
///
/// `#[non_exhaustive]`, as [`SessionInfo`].
#[derive(Clone, Debug, Deserialize, PartialEq, Serialize)]
#[non_exhaustive]
pub struct RegistrationInfo {
    /// The router's id of the registration.
    pub id: Id,
    /// When it was made (ISO 8601, UTC).
    pub created: String,
    /// The procedure URI, or its pattern.
    pub uri: String,
    /// The router's `match`: `exact`, `prefix` or `wildcard`. Named `match_policy` here
    /// because `match` is a Rust keyword; serialized as `match`.
    #[doc(alias = "match")]
    #[serde(rename = "match")]
    pub match_policy: String,
    /// Which callee gets each call (`single`, `roundrobin`...).
    #[serde(default)]
    pub invoke: Option<String>,
    /// Every other key the router sent, as it sent it.
    #[serde(flatten)]
    pub extra: Dict,
}

/// A subscription as `wamp.subscription.get` describes it: every key the router sends.
/// Serializing gives the router's dict back; the match policy is the key `match`, as in
/// [`RegistrationInfo`].
///
/// `#[non_exhaustive]`, as [`SessionInfo`].
#[derive(Clone, Debug, Deserialize, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SubscriptionInfo {
    /// The router's id of the subscription.
    pub id: Id,
    /// When it was made (ISO 8601, UTC).
    pub created: String,
    /// The topic URI, or its pattern.
    pub uri: String,
    /// The router's `match`: `exact`, `prefix` or `wildcard`. Named `match_policy` here
    /// because `match` is a Rust keyword; serialized as `match`.
    #[doc(alias = "match")]
    #[serde(rename = "match")]
    pub match_policy: String,
    /// Every other key the router sent, as it sent it.
    #[serde(flatten)]
    pub extra: Dict,
}

/// The router's registration or subscription ids, by match policy
/// (`wamp.registration.list`, `wamp.subscription.list`).
///
/// Iterating gives `(match policy, ids)` pairs, as Python's `.items()` does on the router's
/// dict: `exact`, `prefix` and `wildcard`, in that order, each even when it has no ids.
///
/// ```
/// use izaber_wamp::IdsByMatch;
/// use izaber_wamp::protocol::{Value, from_value, to_value};
///
/// let raw = Value::from(serde_json::json!({"exact": [11, 12], "prefix": [21], "wildcard": []}));
/// let result: IdsByMatch = from_value(raw.clone()).unwrap();
///
/// // Python: for match_type, ids in result.items():
/// for (match_type, ids) in &result {
///     println!("{match_type}: {} registrations", ids.len());
/// }
/// let pairs: Vec<(&str, &[u64])> = result.iter().collect();
/// assert_eq!(pairs, [("exact", &[11, 12][..]), ("prefix", &[21][..]), ("wildcard", &[][..])]);
/// assert_eq!(to_value(&result).unwrap(), raw);
/// ```
///
/// `#[non_exhaustive]`, as [`SessionInfo`]; [`IdsByMatch::default`] is empty.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
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
    /// Every other key the router sent, as it sent it (Crossbar sends none). Iteration
    /// leaves these out.
    #[serde(flatten)]
    pub extra: Dict,
}

impl IdsByMatch {
    /// `(match policy, ids)` for `exact`, `prefix` and `wildcard`, in that order, as Python's
    /// `.items()` gives the router's dict.
    pub fn iter(&self) -> std::array::IntoIter<(&'static str, &[Id]), 3> {
        [
            ("exact", self.exact.as_slice()),
            ("prefix", self.prefix.as_slice()),
            ("wildcard", self.wildcard.as_slice()),
        ]
        .into_iter()
    }
}

impl<'a> IntoIterator for &'a IdsByMatch {
    type Item = (&'static str, &'a [Id]);
    type IntoIter = std::array::IntoIter<(&'static str, &'a [Id]), 3>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// `for (match_type, ids) in client.registration_list()? { .. }`: the ids by value.
impl IntoIterator for IdsByMatch {
    type Item = (&'static str, Vec<Id>);
    type IntoIter = std::array::IntoIter<(&'static str, Vec<Id>), 3>;

    fn into_iter(self) -> Self::IntoIter {
        [
            ("exact", self.exact),
            ("prefix", self.prefix),
            ("wildcard", self.wildcard),
        ]
        .into_iter()
    }
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
            options.options.checked()?.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{from_value, to_value};
    use serde_json::json;

    /// What Crossbar 26 answers for a component running inside the router with a role of its
    /// own: no authmethod, no authextra, a `function` transport.
    fn embedded_session() -> Value {
        Value::from(json!({
            "realm": "izaber", "session": 123, "authid": "service", "authrole": "backend",
            "authmethod": null, "authprovider": null, "authextra": null, "serializer": null,
            "transport": {"channel_type": "function", "channel_framing": "native",
                          "channel_serializer": null, "peer": null},
            "resumed": false, "resumable": false, "resume_token": null,
        }))
    }

    #[test]
    fn a_session_without_authextra_reads_and_serializes_back_as_the_router_sent_it() {
        let raw = embedded_session();
        let info: SessionInfo = from_value(raw.clone()).unwrap();
        assert!(info.authextra.is_null());
        assert_eq!(info.authmethod, None);
        assert_eq!(info.transport["channel_type"], "function");
        assert_eq!(info.realm.as_deref(), Some("izaber"));
        assert_eq!(info.resumed, Some(false));
        assert!(info.extra.is_empty());
        assert_eq!(to_value(&info).unwrap(), raw);
    }

    #[test]
    fn keys_without_a_field_are_kept_in_extra_whatever_their_type() {
        let mut raw = embedded_session();
        let dict = raw.as_dict_mut().unwrap();
        dict.insert("x_float".into(), Value::from(1.5));
        dict.insert("x_bytes".into(), Value::Bytes(vec![0, 1, 255]));
        dict.insert(
            "x_nested".into(),
            Value::from(json!({"a": [1, -2, null, true]})),
        );
        dict.insert("x_big".into(), Value::from(u64::MAX));
        let info: SessionInfo = from_value(raw.clone()).unwrap();
        assert_eq!(info.extra.len(), 4);
        assert_eq!(info.extra["x_bytes"], Value::Bytes(vec![0, 1, 255]));
        assert_eq!(to_value(&info).unwrap(), raw);
        // And through a wire format, as a user who stores it would.
        let json = serde_json::to_string(&info).unwrap();
        assert!(json.contains(r#""x_big":18446744073709551615"#), "{json}");
    }

    /// The limit `SessionInfo`'s rustdoc names: serde's `flatten` buffers `extra` in a type
    /// without 128-bit integers. Should serde lift it, drop the paragraph.
    #[test]
    fn an_integer_beyond_64_bits_in_extra_fails_the_answer_as_documented() {
        let mut raw = embedded_session();
        let dict = raw.as_dict_mut().unwrap();
        dict.insert("x_huge".into(), Value::Integer(1 << 70));
        assert!(from_value::<SessionInfo>(raw).is_err());
    }

    #[test]
    fn debug_hides_the_resume_token_and_credentials_in_the_dicts() {
        let mut raw = embedded_session();
        let dict = raw.as_dict_mut().unwrap();
        dict.insert("resume_token".into(), "resume-me".into());
        dict.insert(
            "authextra".into(),
            Value::from(json!({"ticket": "tkt", "x_cb_pid": 7})),
        );
        dict.insert(
            "transport".into(),
            Value::from(
                json!({"http_cbtid": "cbtid-value", "http_headers_received": {
                "Cookie": "cbtid=cookie-value", "authorization": "Basic c2VjcmV0",
                "host": "127.0.0.1"}}),
            ),
        );
        dict.insert("x_api_key".into(), "key-value".into());
        let info: SessionInfo = from_value(raw).unwrap();
        let debug = format!("{info:?}");
        for secret in [
            "resume-me",
            "tkt",
            "cbtid-value",
            "cookie-value",
            "c2VjcmV0",
            "key-value",
        ] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
        assert!(
            debug.contains("127.0.0.1") && debug.contains("x_cb_pid"),
            "{debug}"
        );
        assert_eq!(
            info.resume_token.as_ref().map(Secret::expose),
            Some("resume-me")
        );
        // Serializing keeps them: it is the router's dict.
        assert_eq!(to_value(&info).unwrap()["resume_token"], "resume-me");
    }

    #[test]
    fn registrations_and_subscriptions_keep_the_key_match() {
        let raw = Value::from(json!({
            "id": 7, "created": "2026-01-01T00:00:00.000Z", "uri": "a.b",
            "match": "prefix", "invoke": "roundrobin", "x_extra": 1,
        }));
        let info: RegistrationInfo = from_value(raw.clone()).unwrap();
        assert_eq!(info.match_policy, "prefix");
        assert_eq!(info.extra["x_extra"], 1);
        let back = to_value(&info).unwrap();
        assert_eq!(back, raw);
        assert!(back.get("match_policy").is_none());

        let raw = Value::from(json!({
            "id": 8, "created": "2026-01-01T00:00:00.000Z", "uri": "a..c", "match": "wildcard",
        }));
        let info: SubscriptionInfo = from_value(raw.clone()).unwrap();
        assert_eq!(info.match_policy, "wildcard");
        assert_eq!(to_value(&info).unwrap(), raw);
    }

    #[test]
    fn ids_by_match_iterate_as_pythons_items() {
        let raw = Value::from(json!({"exact": [1, 2], "prefix": [], "wildcard": [3]}));
        let ids: IdsByMatch = from_value(raw.clone()).unwrap();
        let by_ref: Vec<(&str, &[Id])> = (&ids).into_iter().collect();
        assert_eq!(
            by_ref,
            [
                ("exact", &[1, 2][..]),
                ("prefix", &[][..]),
                ("wildcard", &[3][..])
            ]
        );
        assert_eq!(ids.iter().len(), 3);
        assert_eq!(to_value(&ids).unwrap(), raw);
        let owned: Vec<(&str, Vec<Id>)> = ids.into_iter().collect();
        assert_eq!(owned[2], ("wildcard", vec![3]));
        assert!(IdsByMatch::default().iter().all(|(_, ids)| ids.is_empty()));
    }
}
