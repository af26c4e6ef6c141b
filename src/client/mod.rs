//! The blocking API: [`Client`], cheap to clone and usable from any thread.

mod meta;
mod options;
mod passthru;

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::protocol::{Dict, Id, Message, Serializer, Value, from_value, to_value};
pub use crate::session::ShutdownReport;
use crate::session::dispatch::{ConcurrencyLimit, Overflow, PoolLimits};
use crate::session::handler::{CallError, Event, Invocation};
use crate::session::reply::{ReplyTo, Waiter, oneshot};
use crate::session::{
    Auth, Command, Hooks, LinkState, Pending, ReconnectPolicy, Registration, SessionConfig, Shared,
    Subscription, spawn,
};
use crate::transport::{Endpoint, TransportOptions};
use crate::{Error, EventOutcome, Secret, WampError};

pub use meta::{IdsByMatch, RegistrationInfo, SessionInfo, SubscriptionInfo};
pub use options::{
    CallOptions, CancelMode, CancelToken, DEFAULT_EVENT_QUEUE, DEFAULT_EVENT_QUEUE_BYTES, Match,
    PublishOptions, RegisterOptions, SubscribeOptions,
};

/// How long requests wait for their answer unless told otherwise (as in the Python library).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
/// The largest message sent unless told otherwise (as swampyer's `max_payload_size`).
pub const DEFAULT_MAX_PAYLOAD: usize = 50_000_000;
/// The longest a [`Client::close`] takes, whatever the router, the handlers and the leave
/// hooks do: up to 5 s for running handlers to answer, up to 2 s for the router's GOODBYE,
/// and the rest for the [`on_leave`](ClientBuilder::on_leave) hooks.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);
/// The grace of [`Client::close`]: how long it lets handlers still running answer.
pub const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// How long a close waits for the leave hooks, after the grace and the GOODBYE.
const LEAVE_HOOKS_WAIT: Duration = Duration::from_secs(3);

/// Handler threads a client runs at most unless told otherwise
/// ([`ClientBuilder::handler_threads`]).
pub const DEFAULT_HANDLER_THREADS: usize = 128;
/// Invocations and events that may wait for a handler thread unless told otherwise
/// ([`ClientBuilder::handler_queue`]).
pub const DEFAULT_HANDLER_QUEUE: usize = 1024;
/// Encoded bytes of the invocations and events that may wait for a handler thread unless
/// told otherwise ([`ClientBuilder::handler_queue_bytes`]): 64 MiB.
pub const DEFAULT_HANDLER_QUEUE_BYTES: usize = 64 * 1024 * 1024;

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

/// Our id of a registration. It stays valid across reconnects (the router's id changes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RegistrationId(pub u64);

/// Our id of a subscription. It stays valid across reconnects (the router's id changes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SubscriptionId(pub u64);

impl fmt::Display for RegistrationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "registration {}", self.0)
    }
}

impl fmt::Display for SubscriptionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "subscription {}", self.0)
    }
}

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

    /// The first positional result converted to `T`.
    ///
    /// # Errors
    ///
    /// [`Error::Value`] when the result does not fit `T`.
    pub fn into<T: DeserializeOwned>(self) -> Result<T, Error> {
        Ok(from_value(self.value())?)
    }
}

/// Counters of what the client has done, as swampyer's `stats()`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// WAMP messages sent.
    pub messages_sent: u64,
    /// WAMP messages received.
    pub messages_received: u64,
    /// Calls made.
    pub calls: u64,
    /// Invocations of our procedures received.
    pub invocations: u64,
    /// Invocations answered by their handler (result or error; those refused at once are
    /// [`invocations_refused`](Self::invocations_refused)): the answer was written to the
    /// connection, or
    /// queued ahead of anything asked for afterwards, so a [`Client::close`] that follows
    /// cannot overtake it.
    pub invocations_answered: u64,
    /// Events received.
    pub events: u64,
    /// Publications sent.
    pub publications: u64,
    /// ERROR messages received.
    pub errors: u64,
    /// Successful reconnections.
    pub reconnections: u64,
    /// Registrations the router took away (e.g. another session's `force_reregister`).
    pub revoked_registrations: u64,
    /// Registrations, subscriptions or testaments that could not be restored after a
    /// reconnect.
    pub restore_failures: u64,
    /// Registrations, subscriptions and testaments made again on a new session after a
    /// reconnect.
    pub restored: u64,
    /// Invocations refused or events dropped because a handler queue was full: the sum of
    /// [`invocations_refused`](Self::invocations_refused) and
    /// [`events_dropped`](Self::events_dropped).
    pub rejected_by_queue_limit: u64,
    /// Invocations answered at once with `wamp.error.concurrency_limit`: every handler thread
    /// was busy and the queue full ([`ClientBuilder::handler_threads`]), or the procedure's
    /// own queue was ([`RegisterOptions::queue_limit`](crate::RegisterOptions::queue_limit)).
    pub invocations_refused: u64,
    /// Events not handed to their handler: the oldest waiting events of a subscription whose
    /// queue was full ([`SubscribeOptions::queue_limit`](crate::SubscribeOptions::queue_limit)),
    /// or new events that found every handler thread busy and the client's queue full.
    pub events_dropped: u64,
}

/// Builds a [`Client`]. Nothing needs setting for an anonymous connection.
#[derive(Clone)]
pub struct ClientBuilder {
    urls: RouterUrls,
    realm: String,
    auth: Auth,
    transport: TransportOptions,
    uri_base: Option<String>,
    timeout: Duration,
    ping_interval: Option<Duration>,
    heartbeat_timeout: Duration,
    max_payload: usize,
    reconnect: ReconnectPolicy,
    reconnect_wait: Duration,
    handler_limits: PoolLimits,
    allocator_tuning: Option<bool>,
    agent: String,
    join_hooks: Vec<JoinHookWanted>,
    leave_hooks: Vec<crate::session::LeaveHook>,
    disconnect_hooks: Vec<crate::session::LeaveHook>,
    revoked_hooks: Vec<crate::session::LeaveHook>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("urls", &self.urls.0)
            .field("realm", &self.realm)
            .field("auth", &self.auth)
            .field("transport", &self.transport)
            .field("uri_base", &self.uri_base)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// A builder for the router at `url` (`ws://`, `wss://`, `tcpip://`, `tcpips://` or
    /// `unix://`), realm `realm1`, anonymous. `url` may also be a list of URLs (an array or a
    /// `Vec`), tried in turn: see [`RouterUrls`].
    pub fn new(url: impl Into<RouterUrls>) -> ClientBuilder {
        ClientBuilder {
            urls: url.into(),
            realm: "realm1".into(),
            auth: Auth::Anonymous,
            transport: TransportOptions::default(),
            uri_base: None,
            timeout: DEFAULT_TIMEOUT,
            ping_interval: Some(Duration::from_secs(3)),
            heartbeat_timeout: Duration::from_secs(10),
            max_payload: DEFAULT_MAX_PAYLOAD,
            reconnect: ReconnectPolicy::default(),
            reconnect_wait: Duration::ZERO,
            handler_limits: PoolLimits {
                threads: DEFAULT_HANDLER_THREADS,
                queue: DEFAULT_HANDLER_QUEUE,
                queue_bytes: DEFAULT_HANDLER_QUEUE_BYTES,
            },
            allocator_tuning: None,
            agent: format!("izaber-wamp-rust/{}", env!("CARGO_PKG_VERSION")),
            join_hooks: Vec::new(),
            leave_hooks: Vec::new(),
            disconnect_hooks: Vec::new(),
            revoked_hooks: Vec::new(),
        }
    }

    /// The realm to join.
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = realm.into();
        self
    }

    /// Log in with WAMP-Ticket (on Nexus: a password, one-time password or API key).
    pub fn ticket(mut self, authid: impl Into<String>, ticket: impl Into<Secret>) -> Self {
        self.auth = Auth::Ticket {
            authid: authid.into(),
            ticket: ticket.into(),
        };
        self
    }

    /// Log in with WAMP-CRA.
    pub fn wampcra(mut self, authid: impl Into<String>, secret: impl Into<Secret>) -> Self {
        self.auth = Auth::WampCra {
            authid: authid.into(),
            secret: secret.into(),
        };
        self
    }

    /// Log in with WAMP-Cryptosign: the router must list `key`'s public half
    /// ([`CryptosignKey::public_key_hex`](crate::CryptosignKey::public_key_hex)) for `authid`.
    ///
    /// ```no_run
    /// use izaber_wamp::{Client, CryptosignKey};
    /// # fn main() -> Result<(), izaber_wamp::Error> {
    /// let key = CryptosignKey::from_file("/etc/myservice/id_ed25519")?;
    /// let client = Client::builder("ws://127.0.0.1:8080/ws")
    ///     .realm("realm1")
    ///     .cryptosign("myservice", key)
    ///     .connect()?;
    /// # Ok(()) }
    /// ```
    pub fn cryptosign(mut self, authid: impl Into<String>, key: crate::CryptosignKey) -> Self {
        self.auth = Auth::Cryptosign {
            authid: Some(authid.into()),
            key,
        };
        self
    }

    /// Log in with WAMP-SCRAM: the password never crosses the wire, and the router must
    /// prove that it knows the user's keys.
    pub fn scram(mut self, authid: impl Into<String>, password: impl Into<Secret>) -> Self {
        self.auth = Auth::Scram {
            authid: authid.into(),
            password: password.into(),
        };
        self
    }

    /// Log in with any [`Auth`].
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    /// Runs at most `threads` handlers (invocations, events and hooks) at once, on that many
    /// threads at most (default [`DEFAULT_HANDLER_THREADS`]; zero is taken as one). Threads
    /// start when every one is busy and end after 30 s idle. When all are busy, invocations
    /// and events wait in a queue ([`handler_queue`](Self::handler_queue)).
    ///
    /// A handler that waits for the answer of another procedure registered on this same
    /// client holds its thread meanwhile; with every thread so held, the inner invocations
    /// wait until the calls time out. Keep the limit above the number of such nested calls a
    /// service can have running at once. izaber.yaml: `wamp.connection.handler_threads`.
    pub fn handler_threads(mut self, threads: usize) -> Self {
        self.handler_limits.threads = threads.max(1);
        self
    }

    /// At most `jobs` invocations and events wait for a handler thread when every thread
    /// is busy (default [`DEFAULT_HANDLER_QUEUE`]). Beyond it an invocation is answered at
    /// once with the error `wamp.error.concurrency_limit`, which tells the caller the service
    /// is busy, and an event is dropped; both are counted in [`Stats`] and logged (a warning
    /// at most every 10 s). Zero: nothing waits. izaber.yaml:
    /// `wamp.connection.handler_queue`.
    pub fn handler_queue(mut self, jobs: usize) -> Self {
        self.handler_limits.queue = jobs;
        self
    }

    /// At most `bytes` of encoded messages wait for a handler thread (default
    /// [`DEFAULT_HANDLER_QUEUE_BYTES`]), as [`handler_queue`](Self::handler_queue) bounds
    /// their number. One message may always wait, however large. izaber.yaml:
    /// `wamp.connection.handler_queue_bytes`.
    pub fn handler_queue_bytes(mut self, bytes: usize) -> Self {
        self.handler_limits.queue_bytes = bytes;
        self
    }

    /// Whether the library may tune glibc's allocator for the whole process after large
    /// messages (default yes): fix its mmap and trim thresholds and call `malloc_trim`, so
    /// that a service goes back to a few MB after a burst of large calls instead of keeping
    /// hundreds (see the README's *Memory after large messages*). `false` leaves the
    /// allocator alone, for a program that tunes it itself or cannot afford `malloc_trim`
    /// locking every arena now and then; large messages then cost glibc's own behaviour.
    ///
    /// The allocator is the process's, so this is too: it takes effect when the client is
    /// built, for every client of the process, and the last one built with it set wins.
    /// `IZABER_WAMP_ALLOCATOR_TUNING=0` in the environment turns it off whatever the program
    /// says. Thresholds already fixed by an earlier large message stay fixed. On systems
    /// other than Linux with glibc there is nothing to tune and this does nothing.
    /// izaber.yaml: `wamp.allocator_tuning`.
    pub fn allocator_tuning(mut self, allow: bool) -> Self {
        self.allocator_tuning = Some(allow);
        self
    }

    /// Offer only this serializer.
    pub fn serializer(mut self, serializer: Serializer) -> Self {
        self.transport.serializers = vec![serializer];
        self
    }

    /// Offer these serializers, most wanted first (default: cbor, msgpack, json).
    pub fn serializers(mut self, serializers: &[Serializer]) -> Self {
        self.transport.serializers = serializers.to_vec();
        self
    }

    /// Limit for connecting and joining (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.transport.connect_timeout = timeout;
        self
    }

    /// Trust this CA certificate (PEM file) too for `wss://` and `tcpips://`.
    ///
    /// The file is read when TLS is first set up with it and again whenever its modification
    /// time changes, so a renewed CA is picked up at the next reconnect.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.transport.ca_file = Some(path.into());
        self
    }

    /// Accept any certificate. Anyone on the network can then impersonate the router: use
    /// only against a test router.
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.transport.danger_accept_invalid_certs = accept;
        self
    }

    /// Accept a certificate that names another host (the chain is still verified). Use only
    /// against a test router.
    pub fn danger_accept_invalid_hostnames(mut self, accept: bool) -> Self {
        self.transport.danger_accept_invalid_hostnames = accept;
        self
    }

    /// Prefix for URIs that do not already carry it, e.g. `com.izaber.wamp` turns
    /// `auth.whoami` into `com.izaber.wamp.auth.whoami`. URIs starting with the prefix or
    /// with `wamp.` (the router's own) are used as they are.
    pub fn uri_base(mut self, base: impl Into<String>) -> Self {
        let base = base.into();
        self.uri_base = (!base.is_empty()).then(|| base.trim_end_matches('.').to_owned());
        self
    }

    /// How long requests wait for an answer (default 300 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Heartbeat: probe a quiet connection this often (default 3 s): a WebSocket ping, or on
    /// RawSocket a WAMP round trip (Crossbar's RawSocket does not understand PING frames).
    /// `None` turns the heartbeat off, and with it the detection of a dead router: a
    /// connection that stays silent is then never declared dead.
    pub fn ping_interval(mut self, interval: Option<Duration>) -> Self {
        self.ping_interval = interval;
        self
    }

    /// Heartbeat: treat the connection as dead after this long without any data from the
    /// router (default 10 s).
    pub fn heartbeat_timeout(mut self, timeout: Duration) -> Self {
        self.heartbeat_timeout = timeout;
        self
    }

    /// The largest message we send (default 50 MB); larger ones fail with
    /// [`Error::PayloadTooLarge`] before anything is sent.
    pub fn max_payload_size(mut self, bytes: usize) -> Self {
        self.max_payload = bytes;
        self
    }

    /// The largest message accepted from the router (default 4 GiB, as swampyer; RawSocket
    /// carries at most 16 MiB whatever this says). A larger message ends the connection,
    /// since a WebSocket message cannot be skipped, and the client then reconnects: keep this
    /// above what your peers may send.
    pub fn max_incoming_size(mut self, bytes: usize) -> Self {
        self.transport.max_incoming_message = bytes;
        self
    }

    /// When and how to reconnect after the connection drops (default: forever, every
    /// 0.5 s or less; see [`ReconnectPolicy`]).
    pub fn reconnect(mut self, policy: ReconnectPolicy) -> Self {
        self.reconnect = policy;
        self
    }

    /// How long a request made while the client is reconnecting waits for the connection
    /// before failing with [`Error::ConnectionLost`]. Default zero: fail at once, so a script
    /// learns of the outage immediately; a service may prefer to ride out a router restart.
    /// Requests already sent when the connection drops always fail at once: the router
    /// cannot answer them any more.
    pub fn reconnect_wait(mut self, wait: Duration) -> Self {
        self.reconnect_wait = wait;
        self
    }

    /// The `agent` string announced in HELLO.
    pub fn agent(mut self, agent: impl Into<String>) -> Self {
        self.agent = agent.into();
        self
    }

    /// Runs `hook` after every join: first during [`connect`](Self::connect), then after each
    /// reconnect. The place to register and subscribe in a service; what it registers is
    /// registered again by the hook itself after a reconnect, not by the session.
    pub fn on_join(mut self, hook: impl Fn(&Dict) + Send + Sync + 'static) -> Self {
        self.join_hooks
            .push(JoinHookWanted::Details(Arc::new(hook)));
        self
    }

    /// [`on_join`](Self::on_join) with the client itself, to register and subscribe through:
    ///
    /// ```no_run
    /// use izaber_wamp::Client;
    /// # fn main() -> Result<(), izaber_wamp::Error> {
    /// let service = Client::builder("ws://127.0.0.1:8282/ws")
    ///     .realm("izaber")
    ///     .ticket("backend-1", "backend-1-password")
    ///     .on_join_client(|client, _details| {
    ///         if let Err(e) = client.register("com.example.ping", |_| Ok("pong")) {
    ///             eprintln!("could not register: {e}");
    ///         }
    ///     })
    ///     .connect()?;
    /// # Ok(()) }
    /// ```
    ///
    /// The hook borrows the client for its run only, so it does not keep it alive.
    pub fn on_join_client(mut self, hook: impl Fn(&Client, &Dict) + Send + Sync + 'static) -> Self {
        self.join_hooks.push(JoinHookWanted::Client(Arc::new(hook)));
        self
    }

    /// Runs `hook` when the session ends for good (closed, or reconnecting gave up).
    pub fn on_leave(mut self, hook: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.leave_hooks.push(Arc::new(hook));
        self
    }

    /// Runs `hook` each time the connection drops, with the reason.
    pub fn on_disconnect(mut self, hook: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.disconnect_hooks.push(Arc::new(hook));
        self
    }

    /// Runs `hook` when a registration or subscription is lost: revoked by the router, or not
    /// restorable after a reconnect.
    pub fn on_revoked(mut self, hook: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.revoked_hooks.push(Arc::new(hook));
        self
    }

    /// Connects, joins, runs the join hooks, and returns the client.
    ///
    /// # Errors
    ///
    /// When no router URL works; the error is the first URL's:
    /// - [`Error::InvalidUrl`]: a URL cannot be parsed or has an unknown scheme;
    /// - [`Error::Io`]: the router cannot be reached (refused, unreachable, or no answer
    ///   within the [`connect_timeout`](ClientBuilder::connect_timeout));
    /// - [`Error::Tls`], [`Error::WebSocket`], [`Error::RawSocket`]: the transport's handshake
    ///   failed (certificate, HTTP status, serializer refused);
    /// - [`Error::Aborted`]: the router refused the login (wrong password, unknown realm);
    /// - [`Error::Authentication`]: the router asked for a method with no secret configured;
    /// - [`Error::Timeout`]: the router did not answer HELLO in time.
    ///
    /// Join hooks run once the session is up; a hook that panics is logged, not returned.
    pub fn connect(self) -> Result<Client, Error> {
        let client = self.connect_deferring_hooks()?;
        client.run_join_hooks();
        Ok(client)
    }

    /// Connects and joins but leaves the first run of the join hooks to the caller
    /// ([`Client::run_join_hooks`]), so that the client can be published (e.g. as the global
    /// `wamp`) before hooks that use it run.
    pub(crate) fn connect_deferring_hooks(self) -> Result<Client, Error> {
        let endpoints = self
            .urls
            .0
            .iter()
            .map(|url| Endpoint::parse(url))
            .collect::<Result<Vec<_>, _>>()?;
        if endpoints.is_empty() {
            return Err(Error::InvalidUrl {
                url: String::new(),
                reason: "no router URL given".into(),
            });
        }
        if let Some(allow) = self.allocator_tuning {
            crate::memory::set_allocator_tuning(allow);
        }
        let config = SessionConfig {
            endpoints,
            transport: self.transport,
            realm: self.realm,
            auth: self.auth,
            agent: self.agent,
            uri_base: self.uri_base,
            ping_interval: self.ping_interval,
            heartbeat_timeout: self.heartbeat_timeout,
            max_payload: self.max_payload,
            reconnect: self.reconnect,
            reconnect_wait: self.reconnect_wait,
            handler_limits: self.handler_limits,
        };
        // Hooks that want the client find it here once it exists, which is before any of them
        // runs (the first run is left to the caller).
        let this: Arc<OnceLock<Weak<ClientInner>>> = Arc::default();
        let join = self
            .join_hooks
            .into_iter()
            .map(|hook| match hook {
                JoinHookWanted::Details(hook) => hook,
                JoinHookWanted::Client(hook) => {
                    let this = this.clone();
                    Arc::new(move |details: &Dict| {
                        let client = this
                            .get()
                            .and_then(Weak::upgrade)
                            .map(|inner| Client { inner });
                        if let Some(client) = client {
                            hook(&client, details);
                        }
                    }) as crate::session::JoinHook
                }
            })
            .collect();
        let hooks = Hooks {
            join,
            leave: self.leave_hooks,
            disconnect: self.disconnect_hooks,
            revoked: self.revoked_hooks,
        };
        let shared = spawn(config, hooks)?;
        let inner = Arc::new(ClientInner {
            shared,
            timeout: self.timeout,
        });
        let _ = this.set(Arc::downgrade(&inner));
        Ok(Client { inner })
    }
}

/// A join hook as the builder was given it.
#[derive(Clone)]
enum JoinHookWanted {
    Details(crate::session::JoinHook),
    Client(ClientJoinHook),
}

type ClientJoinHook = Arc<dyn Fn(&Client, &Dict) + Send + Sync + 'static>;

/// The router URL, or several: what [`Client::builder`] takes.
///
/// With several, the client connects to the first that answers, trying them in the order
/// given. After losing a connection it tries them all again in turn, starting with the one
/// after the URL it lost, so that a service moves to another node of a cluster at once when
/// its node goes away. Each URL may use any scheme.
///
/// ```no_run
/// use izaber_wamp::Client;
/// # fn main() -> Result<(), izaber_wamp::Error> {
/// let client = Client::builder(["ws://10.0.0.1:8282/ws", "ws://10.0.0.2:8282/ws"])
///     .realm("izaber")
///     .connect()?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouterUrls(pub Vec<String>);

impl From<&str> for RouterUrls {
    fn from(url: &str) -> Self {
        RouterUrls(vec![url.to_owned()])
    }
}

impl From<String> for RouterUrls {
    fn from(url: String) -> Self {
        RouterUrls(vec![url])
    }
}

impl From<&String> for RouterUrls {
    fn from(url: &String) -> Self {
        RouterUrls(vec![url.clone()])
    }
}

impl<S: AsRef<str>> From<Vec<S>> for RouterUrls {
    fn from(urls: Vec<S>) -> Self {
        RouterUrls(urls.iter().map(|url| url.as_ref().to_owned()).collect())
    }
}

impl<S: AsRef<str>> From<&[S]> for RouterUrls {
    fn from(urls: &[S]) -> Self {
        RouterUrls(urls.iter().map(|url| url.as_ref().to_owned()).collect())
    }
}

impl<S: AsRef<str>, const N: usize> From<[S; N]> for RouterUrls {
    fn from(urls: [S; N]) -> Self {
        RouterUrls(urls.iter().map(|url| url.as_ref().to_owned()).collect())
    }
}

impl Client {
    /// A builder for the router at `url` (or for several, see [`RouterUrls`]).
    pub fn builder(url: impl Into<RouterUrls>) -> ClientBuilder {
        ClientBuilder::new(url)
    }

    /// Runs the join hooks for the current session on this thread (after reconnects the
    /// session runs them itself, on a worker).
    pub(crate) fn run_join_hooks(&self) {
        let hooks = self.shared().hooks.lock().join.clone();
        if !hooks.is_empty() {
            crate::session::run_join_hooks(self.shared(), &hooks, &self.shared().link().welcome);
        }
    }

    fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    /// The full URI for `uri`: the URI base is put in front unless `uri` already starts with
    /// it or with `wamp.`.
    pub fn full_uri(&self, uri: &str) -> String {
        let Some(base) = &self.shared().config.uri_base else {
            return uri.to_owned();
        };
        let already_full = uri.starts_with("wamp.")
            || (uri.starts_with(base.as_str()) && uri.as_bytes().get(base.len()) == Some(&b'.'));
        if already_full {
            uri.to_owned()
        } else {
            format!("{base}.{uri}")
        }
    }

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
            .into()
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

    fn call_values(
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
            options: options.options.clone(),
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

    fn register_raw(
        &self,
        procedure: &str,
        options: &RegisterOptions,
        handler: Arc<crate::session::ProcedureFn>,
    ) -> Result<RegistrationId, Error> {
        let shared = self.shared();
        let entry = Arc::new(Registration {
            local_id: shared.next_local_id(),
            procedure: self.full_uri(procedure),
            options: options.options.clone(),
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
            options: options.options.clone(),
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

    fn publish_values(
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
            options: options.options.clone(),
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

    /// True while the session is joined.
    pub fn is_connected(&self) -> bool {
        self.shared().link().state == LinkState::Connected
    }

    /// Waits up to `timeout` for the session to be joined (e.g. after a reconnect).
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] when the session is not joined within `timeout`, [`Error::Closed`]
    /// when the client was closed, and [`Error::ConnectionLost`] with the reason when the
    /// session ended for good (the router closed it, or reconnecting gave up).
    pub fn wait_connected(&self, timeout: Duration) -> Result<(), Error> {
        self.shared().wait_connected(timeout)
    }

    /// The router's id for our session, while joined.
    pub fn session_id(&self) -> Option<Id> {
        self.shared().link().session_id
    }

    /// The WELCOME details of the current session (`authid`, `authrole`, `authmethod`...).
    pub fn welcome_details(&self) -> Dict {
        self.shared().link().welcome
    }

    /// The authid the router gave us.
    pub fn authid(&self) -> Option<String> {
        self.welcome_details()
            .get("authid")
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    /// The role the router gave us.
    pub fn authrole(&self) -> Option<String> {
        self.welcome_details()
            .get("authrole")
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    /// The serializer in use on the current connection.
    pub fn serializer(&self) -> Serializer {
        self.shared().link().serializer
    }

    /// What the client has done so far.
    pub fn stats(&self) -> Stats {
        let c = &self.shared().counters;
        let get = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
        Stats {
            messages_sent: get(&c.messages_sent),
            messages_received: get(&c.messages_received),
            calls: get(&c.calls),
            invocations: get(&c.invocations),
            events: get(&c.events),
            publications: get(&c.publications),
            errors: get(&c.errors),
            reconnections: get(&c.reconnections),
            revoked_registrations: get(&c.revoked_registrations),
            restore_failures: get(&c.restore_failures),
            restored: get(&c.restored),
            rejected_by_queue_limit: get(&c.invocations_refused) + get(&c.events_dropped),
            invocations_refused: get(&c.invocations_refused),
            events_dropped: get(&c.events_dropped),
            invocations_answered: get(&c.invocations_answered),
        }
    }

    /// Says GOODBYE and closes the connection; every clone of this client is closed. Pending
    /// requests fail with [`Error::Closed`]. Waits until the session has ended and its
    /// [`on_leave`](ClientBuilder::on_leave) hooks have returned, so that a script can close
    /// and exit without losing its cleanup, but never longer than [`CLOSE_TIMEOUT`] in all:
    /// what has not finished by then (a hook, a router that does not answer GOODBYE) is left
    /// to finish by itself, with a warning in the log.
    ///
    /// Handlers still running are not cut off: this is [`shutdown`](Client::shutdown) with a
    /// grace of [`CLOSE_GRACE`] (5 s), which says what it does in order.
    pub fn close(&self) {
        let _ = self.shutdown(CLOSE_GRACE);
    }

    /// Serves until the process is asked to stop (Ctrl-C, SIGTERM; see
    /// [`StopSignal`](crate::StopSignal)), then [shuts down](Client::shutdown) within `grace`:
    /// the end of a service's `main`. A second request while it shuts down ends the process
    /// at once.
    ///
    /// # Errors
    ///
    /// The errors of [`StopSignal::install`](crate::StopSignal::install).
    pub fn run_until_stopped(&self, grace: Duration) -> Result<ShutdownReport, Error> {
        crate::StopSignal::install()?.wait();
        log::info!("asked to stop: shutting down within {grace:?}");
        Ok(self.shutdown(grace))
    }

    /// Stops a service without losing what it was doing, waiting no longer than `grace` for
    /// it, and says what became of it. In order:
    ///
    /// 1. Every registration is withdrawn (UNREGISTER), so that the router sends new calls
    ///    to the other callees of a shared registration (or fails them at once), and the
    ///    client waits for the router to confirm each withdrawal: an invocation the router
    ///    sent before that arrives before the confirmation, so none is missed.
    /// 2. Invocations already received are served, those waiting for a handler thread
    ///    included: a queued invocation was routed to this service and its caller is waiting,
    ///    so it runs if the grace allows; answering it with an error at once would turn a
    ///    call that could succeed into a failure. At the end of the grace, those still
    ///    waiting are answered `wamp.error.canceled` and do not run
    ///    ([`ShutdownReport::cancelled`]).
    /// 3. Running handlers finish and their answers are sent (they may still make calls
    ///    meanwhile). Those still running at the end of the grace are cut off: their answers
    ///    are dropped and they see [`Invocation::is_cancelled`](crate::Invocation::is_cancelled)
    ///    ([`ShutdownReport::cut_off`]).
    /// 4. Acknowledged publications still waiting for the router's answer get it.
    /// 5. GOODBYE, waiting up to 2 s for the router's.
    /// 6. The session thread ends, and the [`on_leave`](ClientBuilder::on_leave) hooks run;
    ///    they are waited for up to 3 s.
    ///
    /// So it returns within `grace` + 5 s. Every clone of this client is closed; pending
    /// requests fail with [`Error::Closed`]. A handler that shuts its own client down is not
    /// waited for. Called again, or after [`close`](Client::close), it returns an empty
    /// report at once.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), izaber_wamp::Error> {
    /// use std::time::Duration;
    /// let client = izaber_wamp::Client::builder("ws://127.0.0.1:8080/ws").connect()?;
    /// client.register("com.example.work", |_| Ok("done"))?;
    /// // ... until the service is asked to stop, then:
    /// let report = client.shutdown(Duration::from_secs(20));
    /// assert!(report.lost_nothing(), "{report}");
    /// # Ok(()) }
    /// ```
    pub fn shutdown(&self, grace: Duration) -> ShutdownReport {
        // The grace, the router's GOODBYE, the leave hooks.
        let bound = grace
            .saturating_add(crate::session::GOODBYE_WAIT)
            .saturating_add(LEAVE_HOOKS_WAIT);
        let deadline = crate::deadline::after(bound);
        let left = || deadline.saturating_duration_since(Instant::now());
        let (responder, waiter) = oneshot();
        let close = Command::Close {
            own_invocation: self.shared().own_invocation(),
            grace,
            report: Some(responder),
        };
        let mut report = ShutdownReport::default();
        if self.shared().command(close).is_ok() {
            if let Some(Ok(done)) = waiter.wait_until(deadline) {
                report = done;
            }
            let _ = self.shared().wait_closed(left());
        }
        let thread = self.shared().thread.lock().take();
        if let Some(thread) = thread
            && thread.handle.thread().id() != std::thread::current().id()
        {
            match thread.ended.recv_deadline(deadline) {
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                    let _ = thread.handle.join();
                }
                _ => log::warn!(
                    "close: the session thread has not ended within {bound:?}; it is left to \
                     end by itself"
                ),
            }
        }
        let leave_hooks = self.shared().leave_hooks.lock().take();
        if let Some(finished) = leave_hooks
            && !crate::session::IN_SESSION_HOOK.get()
        {
            // Disconnected, never sent to: the hooks have returned.
            if let Err(crossbeam_channel::RecvTimeoutError::Timeout) =
                finished.recv_deadline(deadline)
            {
                log::warn!(
                    "close: the leave hooks have not returned in time; they are left to finish by themselves"
                );
            }
        }
        report
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

fn describe_call(message: &Message) -> String {
    crate::session::describe(message)
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
