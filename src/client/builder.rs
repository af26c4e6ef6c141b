//! Building a [`Client`]: [`ClientBuilder`], what it configures and its defaults, the router
//! URLs, and connecting.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use crate::protocol::{Dict, Serializer};
use crate::session::dispatch::PoolLimits;
use crate::session::{Auth, Hooks, ReconnectPolicy, SessionConfig, spawn};
use crate::transport::{Endpoint, TransportOptions};
use crate::{Error, Secret};

use super::{Client, ClientInner};

/// How long requests wait for their answer unless told otherwise (as in the Python library).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
/// The largest message sent unless told otherwise (as swampyer's `max_payload_size`).
pub const DEFAULT_MAX_PAYLOAD: usize = 50_000_000;

/// Handler threads a client runs at most unless told otherwise
/// ([`ClientBuilder::handler_threads`]).
pub const DEFAULT_HANDLER_THREADS: usize = 128;
/// Invocations and events that may wait for a handler thread unless told otherwise
/// ([`ClientBuilder::handler_queue`]).
pub const DEFAULT_HANDLER_QUEUE: usize = 1024;
/// Encoded bytes of the invocations and events that may wait for a handler thread unless
/// told otherwise ([`ClientBuilder::handler_queue_bytes`]): 64 MiB.
pub const DEFAULT_HANDLER_QUEUE_BYTES: usize = 64 * 1024 * 1024;

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
    /// is busy, and an event is dropped; both are counted in [`Stats`](crate::Stats) and
    /// logged (a warning at most every 10 s). Zero: nothing waits. izaber.yaml:
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
}
