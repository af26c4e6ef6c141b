//! The izaber layer: `initialize()`, the global [`wamp`], and `AUTORUN`, as in Python's
//! `izaber` and `izaber_wamp`.
//!
//! ```no_run
//! use izaber_wamp::{initialize, wamp};
//!
//! fn main() -> Result<(), izaber_wamp::Error> {
//!     initialize()?;
//!     let me = wamp.call("auth.whoami", ())?;
//!     println!("{me}");
//!     Ok(())
//! }
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use serde::Serialize;

use crate::config::{Config, WampConfig};
use crate::protocol::{Dict, Id, Serializer, Value};
use crate::{
    Auth, CallError, CallOptions, CallResult, Client, ClientBuilder, EncodedPayload, Error, Event,
    EventOutcome, IdsByMatch, Invocation, Match, PublishOptions, ReconnectPolicy, RegisterOptions,
    RegistrationId, RegistrationInfo, Secret, SessionInfo, Stats, SubscribeOptions, SubscriptionId,
    SubscriptionInfo,
};

/// Whether `initialize()` connects `wamp` (Python's `izaber_wamp.AUTORUN`). Turn it off with
/// [`set_autorun`] to log in later with [`Wamp::change_user`].
static AUTORUN: AtomicBool = AtomicBool::new(true);

/// `izaber_wamp.AUTORUN = False` in Python: `initialize()` then loads the configuration but
/// does not connect.
pub fn set_autorun(autorun: bool) {
    AUTORUN.store(autorun, Ordering::SeqCst);
}

static CONFIG: RwLock<Option<Arc<Config>>> = RwLock::new(None);

/// The configuration `initialize` loaded, for scripts that read their own keys: Python's
/// `config.nexus_monitor.required` is `config()?.value("nexus_monitor.required")?`, a
/// [`Value`] (see [`Config::value`]); `config()?.get_str("wamp.connection.username")?` reads
/// a string. `config()?.app_name()` is the name given to [`InitOptions::app`], Python's
/// `config.name`.
///
/// # Errors
///
/// [`Error::NotInitialized`] before a successful [`initialize`].
pub fn config() -> Result<Arc<Config>, Error> {
    CONFIG.read().clone().ok_or(Error::NotInitialized)
}

/// Where `initialize_with` takes its configuration from, and the application's name: built
/// like Python's keyword arguments, one method each.
///
/// Python's `initialize('nexus_monitor', environment='dev')` is
///
/// ```no_run
/// use izaber_wamp::{InitOptions, initialize_with};
/// # fn main() -> Result<(), izaber_wamp::Error> {
/// initialize_with(InitOptions::app("nexus_monitor").environment("dev"))?;
/// # Ok(()) }
/// ```
///
/// and `initialize(force=True)` is `initialize_with(InitOptions::new().force(true))?`.
#[derive(Clone, Debug, Default)]
pub struct InitOptions {
    app_name: Option<String>,
    environment: Option<String>,
    config_path: Option<PathBuf>,
    yaml: Option<String>,
    force: bool,
}

impl InitOptions {
    /// Everything by default: what [`initialize`] uses.
    pub fn new() -> InitOptions {
        InitOptions::default()
    }

    /// Options naming the application: Python's first argument to `initialize`, so
    /// `initialize('nexus_monitor')` is `initialize_with(InitOptions::app("nexus_monitor"))?`.
    ///
    /// As in Python, the top-level section of izaber.yaml with this name, if any, is merged
    /// over the settings (after the environment, before `wamp` reads its own), and the name
    /// is kept: `config()?.app_name()` reads it back, as Python's `config.name` does. See
    /// [`Config::set_app_name`], which does this, for the details.
    ///
    /// The name does nothing else, in Python or here: it is not sent to the router. Without
    /// it no application is named; Python then uses `sys.argv[0]`, whose section it looks up
    /// too but in practice never finds (`monitor.py` or a path).
    pub fn app(name: impl Into<String>) -> InitOptions {
        InitOptions::new().app_name(name)
    }

    /// Names the application, as [`InitOptions::app`] does, on options built otherwise.
    pub fn app_name(mut self, name: impl Into<String>) -> Self {
        self.app_name = Some(name.into());
        self
    }

    /// The environment section to merge over `default` (else `IZABER_ENVIRONMENT`, else
    /// `default`): Python's `environment='dev'`.
    pub fn environment(mut self, environment: impl Into<String>) -> Self {
        self.environment = Some(environment.into());
        self
    }

    /// Reads this izaber.yaml file, or the one in this directory, instead of searching.
    pub fn config_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.config_path = Some(path.into());
        self
    }

    /// Reads the configuration from this YAML text instead of a file (it wins over
    /// [`config_path`](Self::config_path)).
    pub fn yaml(mut self, text: impl Into<String>) -> Self {
        self.yaml = Some(text.into());
        self
    }

    /// Starts again even when `initialize` already succeeded (Python's
    /// `initialize(force=True)`): reloads the configuration and reconnects. Unlike Python,
    /// which leaves the old session running, the old session is closed.
    pub fn force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }
}

/// Set once an `initialize` has succeeded: later calls do nothing unless forced, as Python's
/// initializers run once per process.
static INITIALIZED: AtomicBool = AtomicBool::new(false);

/// Loads izaber.yaml (the current directory, then home, then the user data directory, or the
/// `IZABER_YAML` environment variable) and connects [`wamp`], unless autorun was turned off
/// or the configuration says `wamp.run: false`.
///
/// The first connection is made before this returns: when the router cannot be reached or
/// refuses the login, the error is returned (`auto_reconnect` covers connections lost
/// later; Python instead keeps retrying the first connection). Once it has succeeded,
/// calling it again does nothing, as in Python; [`InitOptions::force`] starts afresh.
///
/// # Errors
///
/// [`Error::Config`] when izaber.yaml cannot be found, read or parsed, or its `wamp`
/// section is invalid; when connecting, the errors of [`ClientBuilder::connect`].
pub fn initialize() -> Result<(), Error> {
    initialize_with(InitOptions::default())
}

/// [`initialize`] with an application name, an explicit environment, file or YAML text
/// (see [`InitOptions`]).
///
/// # Errors
///
/// As [`initialize`]; [`Error::Config`] also when the section named by
/// [`InitOptions::app`] cannot be merged (see [`Config::set_app_name`]).
pub fn initialize_with(options: InitOptions) -> Result<(), Error> {
    if INITIALIZED.load(Ordering::SeqCst) && !options.force {
        log::debug!("initialize: already done; InitOptions::force(true) starts again");
        return Ok(());
    }
    let environment = options
        .environment
        .clone()
        .or_else(Config::environment_from_env);
    let environment = environment.as_deref();
    let mut config = match (&options.yaml, &options.config_path) {
        (Some(yaml), _) => Config::from_yaml_str(yaml, environment)?,
        (None, Some(path)) => Config::from_path(path, environment)?,
        (None, None) => Config::load(environment)?,
    };
    if let Some(name) = &options.app_name {
        config.set_app_name(name)?;
    }
    let settings = config.wamp()?;
    // Forced (or after a failed first try): start from scratch.
    wamp.disconnect();
    *CONFIG.write() = Some(Arc::new(config));
    wamp.configure(settings);
    if AUTORUN.load(Ordering::SeqCst) && wamp.settings()?.run {
        wamp.run()?;
    }
    INITIALIZED.store(true, Ordering::SeqCst);
    Ok(())
}

type JoinFn = Arc<dyn Fn(&Dict) + Send + Sync + 'static>;
type ReasonFn = Arc<dyn Fn(&str) + Send + Sync + 'static>;

#[derive(Default)]
struct HookSet {
    join: Vec<JoinFn>,
    leave: Vec<ReasonFn>,
    disconnect: Vec<ReasonFn>,
    revoked: Vec<ReasonFn>,
}

/// The global connection, Python's `from izaber_wamp import wamp`.
///
/// Usable from any thread. Until [`initialize`] (or [`Wamp::change_user`]) connects it, calls
/// fail with [`Error::NotInitialized`].
///
/// Whatever a [`Client`] can do, `wamp` can: each public `Client` method has a twin here, of
/// the same name and arguments, that calls it on the connected client (a method that cannot
/// fail on a `Client` returns a `Result` here, for the time before `wamp` is connected).
/// [`close`](Wamp::close) also lets go of the client (and has Python's name,
/// [`disconnect`](Wamp::disconnect), too), and
/// [`run_until_stopped`](Wamp::run_until_stopped) takes its grace from izaber.yaml.
/// [`Wamp::client`] hands out the client itself, for code written for any `Client`.
pub struct Wamp {
    client: RwLock<Option<Client>>,
    settings: Mutex<Option<WampConfig>>,
    hooks: Mutex<HookSet>,
}

/// The global connection (see [`Wamp`]).
#[allow(non_upper_case_globals)]
pub static wamp: Wamp = Wamp {
    client: RwLock::new(None),
    settings: Mutex::new(None),
    hooks: Mutex::new(HookSet {
        join: Vec::new(),
        leave: Vec::new(),
        disconnect: Vec::new(),
        revoked: Vec::new(),
    }),
};

/// Methods of [`Wamp`] that call the [`Client`] method of the same name on the connected
/// client, one line each: `fn`, then the client's signature without `&self` (generic bounds go
/// in `where [...]`). A method whose `Client` twin returns `Result<T, Error>` returns it as it
/// is; one whose twin cannot fail returns `Result<T, Error>`, since `wamp` may not be
/// connected. Either way, before `wamp` is connected the answer is [`Error::NotInitialized`].
/// The docs say so, below a link to the `Client` method and what the entry's docs add.
///
/// Used inside `impl Wamp`, so that the methods share one impl block in the docs.
macro_rules! forward_to_client {
    () => {};
    (
        $(#[$doc:meta])*
        fn $name:ident $(<$($generic:ident),+>)? ($($arg:ident: $ty:ty),* $(,)?)
            -> Result<$ok:ty, Error> $(where [$($bound:tt)*])?;
        $($rest:tt)*
    ) => {
        #[doc = concat!("See [`Client::", stringify!($name), "`].")]
        $(#[$doc])*
        ///
        /// # Errors
        ///
        #[doc = concat!(
            "[`Error::NotInitialized`] until `wamp` is connected, then as [`Client::",
            stringify!($name),
            "`]."
        )]
        pub fn $name $(<$($generic),+>)? (&self $(, $arg: $ty)*) -> Result<$ok, Error>
        $(where $($bound)*)?
        {
            self.client()?.$name($($arg),*)
        }
        forward_to_client! { $($rest)* }
    };
    // Not the rule above only because the error type is spelled otherwise: without this rule,
    // the one below would wrap the `Result` in another.
    (
        $(#[$doc:meta])*
        fn $name:ident $(<$($generic:ident),+>)? ($($arg:ident: $ty:ty),* $(,)?)
            -> Result<$ok:ty, $error:ty> $(where [$($bound:tt)*])?;
        $($rest:tt)*
    ) => {
        compile_error!(concat!(
            "forward_to_client: write the error type of `",
            stringify!($name),
            "` as `Error`"
        ));
    };
    (
        $(#[$doc:meta])*
        fn $name:ident ($($arg:ident: $ty:ty),* $(,)?) -> $ok:ty;
        $($rest:tt)*
    ) => {
        #[doc = concat!("See [`Client::", stringify!($name), "`].")]
        $(#[$doc])*
        ///
        /// # Errors
        ///
        /// [`Error::NotInitialized`] until `wamp` is connected.
        pub fn $name(&self $(, $arg: $ty)*) -> Result<$ok, Error> {
            Ok(self.client()?.$name($($arg),*))
        }
        forward_to_client! { $($rest)* }
    };
}

impl Wamp {
    fn configure(&self, settings: WampConfig) {
        *self.settings.lock() = Some(settings);
    }

    fn settings(&self) -> Result<WampConfig, Error> {
        self.settings.lock().clone().ok_or(Error::NotInitialized)
    }

    /// The connected client, to use the whole [`Client`] API.
    ///
    /// # Errors
    ///
    /// [`Error::NotInitialized`] until `wamp` is connected.
    pub fn client(&self) -> Result<Client, Error> {
        self.client.read().clone().ok_or(Error::NotInitialized)
    }

    /// Connects with the configured user (closing any previous connection).
    fn run(&self) -> Result<(), Error> {
        let settings = self.settings()?;
        let client = self.builder(&settings, true)?.connect_deferring_hooks()?;
        self.install(client);
        Ok(())
    }

    /// Makes `client` the global connection, closes the previous one, then runs the join
    /// hooks, which may use `wamp` and must find the new connection there.
    fn install(&self, client: Client) {
        let previous = self.client.write().replace(client.clone());
        if let Some(previous) = previous {
            previous.close();
        }
        client.run_join_hooks();
    }

    fn builder(&self, settings: &WampConfig, with_hooks: bool) -> Result<ClientBuilder, Error> {
        let mut builder = ClientBuilder::from_config(settings)?;
        if with_hooks {
            let hooks = self.hooks.lock();
            for hook in &hooks.join {
                let hook = hook.clone();
                builder = builder.on_join(move |details| hook(details));
            }
            for hook in &hooks.leave {
                let hook = hook.clone();
                builder = builder.on_leave(move |reason| hook(reason));
            }
            for hook in &hooks.disconnect {
                let hook = hook.clone();
                builder = builder.on_disconnect(move |reason| hook(reason));
            }
            for hook in &hooks.revoked {
                let hook = hook.clone();
                builder = builder.on_revoked(move |reason| hook(reason));
            }
        }
        Ok(builder)
    }

    /// Adds a hook by event name, as Python's `wamp.hook('join', fn)`, before [`initialize`]:
    /// `"join"` runs after every join and re-join with the WELCOME details (the place to
    /// register and subscribe in a service); `"leave"`, `"disconnect"` and `"revoked"` get a
    /// details dict with a `reason`. `"revoked"` runs when a registration or subscription is
    /// lost for good: revoked by the router (another session's `force_reregister`, say) or
    /// not restorable after a reconnect.
    ///
    /// The typed twins, [`on_join`](Self::on_join), [`on_leave`](Self::on_leave),
    /// [`on_disconnect`](Self::on_disconnect) and [`on_revoked`](Self::on_revoked), cannot
    /// misspell the event and hand the reason as a `&str`, as
    /// [`ClientBuilder`]'s hooks of the same names do.
    ///
    /// Hooks apply to connections made after they were added: one added while `wamp` is
    /// connected only takes effect at the next [`initialize`] or [`Wamp::change_user`] (a
    /// warning is logged), as Python's must be added before `initialize()`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for an event other than `join`, `leave`, `disconnect` and
    /// `revoked`.
    pub fn hook(
        &self,
        event: &str,
        hook: impl Fn(&Dict) + Send + Sync + 'static,
    ) -> Result<(), Error> {
        let hook = Arc::new(hook);
        let with_reason = |hook: Arc<dyn Fn(&Dict) + Send + Sync>| -> ReasonFn {
            Arc::new(move |reason: &str| {
                let mut details = Dict::new();
                details.insert("reason".into(), Value::from(reason));
                hook(&details);
            })
        };
        match event {
            "join" => self.add_hook(event, |hooks| hooks.join.push(hook)),
            "leave" => self.add_hook(event, |hooks| hooks.leave.push(with_reason(hook))),
            "disconnect" => self.add_hook(event, |hooks| hooks.disconnect.push(with_reason(hook))),
            "revoked" => self.add_hook(event, |hooks| hooks.revoked.push(with_reason(hook))),
            other => {
                return Err(Error::InvalidArgument(format!(
                    "unknown hook '{other}': use join, leave, disconnect or revoked"
                )));
            }
        }
        Ok(())
    }

    /// Runs `hook` after every join and re-join, with the WELCOME details: Python's
    /// `wamp.hook('join', fn)`, typed. See [`hook`](Self::hook) for when hooks take effect.
    pub fn on_join(&self, hook: impl Fn(&Dict) + Send + Sync + 'static) {
        self.add_hook("join", |hooks| hooks.join.push(Arc::new(hook)));
    }

    /// Runs `hook` with the reason when the session ends (a GOODBYE, ours or the router's).
    pub fn on_leave(&self, hook: impl Fn(&str) + Send + Sync + 'static) {
        self.add_hook("leave", |hooks| hooks.leave.push(Arc::new(hook)));
    }

    /// Runs `hook` with the reason when the connection drops.
    pub fn on_disconnect(&self, hook: impl Fn(&str) + Send + Sync + 'static) {
        self.add_hook("disconnect", |hooks| hooks.disconnect.push(Arc::new(hook)));
    }

    /// Runs `hook` with the reason when a registration or subscription is lost for good (see
    /// [`hook`](Self::hook)).
    pub fn on_revoked(&self, hook: impl Fn(&str) + Send + Sync + 'static) {
        self.add_hook("revoked", |hooks| hooks.revoked.push(Arc::new(hook)));
    }

    fn add_hook(&self, event: &str, add: impl FnOnce(&mut HookSet)) {
        add(&mut self.hooks.lock());
        if self.client.read().is_some() {
            log::warn!(
                "'{event}' hook added while wamp is connected: it applies from the next \
                 initialize() or change_user(); add hooks before initialize()"
            );
        }
    }

    /// Reconnects as another user. On success the old session is closed; on failure (a wrong
    /// password, say) the old session, if any, stays connected and usable, and the error says
    /// why the new login failed.
    ///
    /// # Errors
    ///
    /// [`Error::NotInitialized`] before [`initialize`] has loaded a configuration; the errors of
    /// [`ClientBuilder::connect`], e.g. [`Error::Aborted`] for a wrong password.
    pub fn change_user(&self, username: &str, password: &str) -> Result<(), Error> {
        let mut settings = self.settings()?;
        settings.username = Some(username.to_owned());
        settings.authid = Some(username.to_owned());
        settings.password = Some(Secret::new(password));
        let client = self.builder(&settings, true)?.connect_deferring_hooks()?;
        *self.settings.lock() = Some(settings);
        self.install(client);
        Ok(())
    }

    /// A separate connection with the same settings as another user, without the join hooks:
    /// Python's `wamp.spawn_connection`. It lives until closed or dropped.
    ///
    /// # Errors
    ///
    /// As [`change_user`](Wamp::change_user).
    pub fn spawn_connection(&self, username: &str, password: &str) -> Result<Client, Error> {
        let mut settings = self.settings()?;
        settings.authid = Some(username.to_owned());
        settings.username = Some(username.to_owned());
        settings.password = Some(Secret::new(password));
        self.builder(&settings, false)?.connect()
    }

    /// True while `wamp` is connected and joined.
    pub fn is_connected(&self) -> bool {
        self.client
            .read()
            .as_ref()
            .is_some_and(Client::is_connected)
    }

    /// Closes the connection; `wamp` is then unconnected until [`Wamp::change_user`] or
    /// another [`initialize`]. Like [`Client::close`], first lets running handlers answer, and
    /// returns once the `"leave"` hooks have run (a few seconds at most).
    pub fn close(&self) {
        let _ = self.shutdown(crate::client::CLOSE_GRACE);
    }

    /// Python's name for [`close`](Self::close), which it is.
    pub fn disconnect(&self) {
        self.close();
    }

    /// Stops the service without losing what it was doing: see [`Client::shutdown`], which
    /// says what it does in order and how long it takes. `wamp` is then unconnected, as after
    /// [`disconnect`](Self::disconnect). An empty report when `wamp` was not connected.
    pub fn shutdown(&self, grace: Duration) -> crate::ShutdownReport {
        // Let go of `wamp` before closing: the close waits for the leave hooks, which may use
        // it.
        let client = self.client.write().take();
        client.map_or_else(crate::ShutdownReport::default, |client| {
            client.shutdown(grace)
        })
    }

    /// Serves until the process is asked to stop (Ctrl-C, SIGTERM; see [`StopSignal`]), then
    /// shuts down gracefully ([`shutdown`](Self::shutdown)) within `wamp.shutdown_grace` of
    /// izaber.yaml (5 s unless set). The Rust twin of Python's `while True: time.sleep(1)`
    /// at the end of a service:
    ///
    /// ```no_run
    /// # fn main() -> Result<(), izaber_wamp::Error> {
    /// use izaber_wamp::{initialize, wamp};
    /// initialize()?;
    /// wamp.register("example.hello", |_| Ok("hello"))?;
    /// let report = wamp.run_until_stopped()?;
    /// println!("{report}");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// The errors of [`StopSignal::install`]; the configuration's, for a
    /// `wamp.shutdown_grace` that is not a number of seconds.
    ///
    /// [`StopSignal`]: crate::StopSignal
    /// [`StopSignal::install`]: crate::StopSignal::install
    pub fn run_until_stopped(&self) -> Result<crate::ShutdownReport, Error> {
        let stop = crate::StopSignal::install()?;
        stop.wait();
        let config = CONFIG.read().clone();
        let grace = match config {
            Some(config) => config.wamp()?.shutdown_grace,
            None => crate::client::CLOSE_GRACE,
        };
        log::info!("asked to stop: shutting down within {grace:?}");
        Ok(self.shutdown(grace))
    }

    // Everything else `wamp` does is what the `Client` method of the same name does, on the
    // connected client. `src/architecture.rs` tests that no public `Client` method is missing.
    forward_to_client! {
        // Calls.

        /// `uri` is relative to `com.izaber.wamp` unless it already starts with it (or with
        /// `wamp.`).
        fn call(uri: &str, args: impl Serialize) -> Result<Value, Error>;
        /// The first result read into `T` through serde.
        fn call_as<T>(uri: &str, args: impl Serialize) -> Result<T, Error>
            where [T: serde::de::DeserializeOwned];
        fn call_kw(uri: &str, args: impl Serialize, kwargs: impl Serialize) -> Result<Value, Error>;
        fn call_with(uri: &str, args: impl Serialize, kwargs: impl Serialize, options: &CallOptions)
            -> Result<CallResult, Error>;
        fn call_progressive(
            uri: &str,
            args: impl Serialize,
            kwargs: impl Serialize,
            options: &CallOptions,
            on_progress: impl FnMut(CallResult),
        ) -> Result<CallResult, Error>;
        fn call_payload(uri: &str, payload: EncodedPayload, options: &CallOptions)
            -> Result<CallResult, Error>;

        // Procedures.

        fn register<F, R>(uri: &str, handler: F) -> Result<RegistrationId, Error>
            where [F: Fn(Invocation) -> Result<R, CallError> + Send + Sync + 'static, R: Serialize];
        fn register_with<F, R>(uri: &str, options: &RegisterOptions, handler: F)
            -> Result<RegistrationId, Error>
            where [F: Fn(Invocation) -> Result<R, CallError> + Send + Sync + 'static, R: Serialize];
        fn register_payload<F>(uri: &str, options: &RegisterOptions, handler: F)
            -> Result<RegistrationId, Error>
            where [F: Fn(Invocation) -> Result<EncodedPayload, CallError> + Send + Sync + 'static];
        fn unregister(id: RegistrationId) -> Result<(), Error>;

        // Topics.

        fn subscribe<F, R>(topic: &str, handler: F) -> Result<SubscriptionId, Error>
            where [F: Fn(Event) -> R + Send + Sync + 'static, R: EventOutcome];
        fn subscribe_with<F, R>(topic: &str, options: &SubscribeOptions, handler: F)
            -> Result<SubscriptionId, Error>
            where [F: Fn(Event) -> R + Send + Sync + 'static, R: EventOutcome];
        fn unsubscribe(id: SubscriptionId) -> Result<(), Error>;
        fn publish(topic: &str, args: impl Serialize) -> Result<(), Error>;
        fn publish_with(
            topic: &str,
            args: impl Serialize,
            kwargs: impl Serialize,
            options: &PublishOptions,
        ) -> Result<Option<Id>, Error>;
        fn publish_payload(topic: &str, payload: EncodedPayload, options: &PublishOptions)
            -> Result<Option<Id>, Error>;

        // The session.

        /// Waits up to `timeout` for the connection to be joined (e.g. after a reconnect).
        fn wait_connected(timeout: Duration) -> Result<(), Error>;
        fn session_id() -> Option<Id>;
        fn local_ip() -> Option<std::net::IpAddr>;
        fn welcome_details() -> Dict;
        fn authid() -> Option<String>;
        fn authrole() -> Option<String>;
        fn serializer() -> Serializer;
        fn full_uri(uri: &str) -> String;
        fn set_uri_base(base: &str) -> ();
        fn uri_base() -> Option<String>;
        fn stats() -> Stats;

        // Testaments.

        /// The router publishes this event when `wamp`'s session dies. It is added again after
        /// every reconnect; a [`Wamp::change_user`] starts a new client without it.
        fn add_testament(topic: &str, args: impl Serialize, kwargs: impl Serialize)
            -> Result<(), Error>;
        fn add_testament_with(
            topic: &str,
            args: impl Serialize,
            kwargs: impl Serialize,
            options: &PublishOptions,
        ) -> Result<(), Error>;
        fn flush_testaments() -> Result<u64, Error>;

        // The router's meta API.

        fn session_count() -> Result<u64, Error>;
        fn session_list() -> Result<Vec<Id>, Error>;
        fn session_get(session: Id) -> Result<SessionInfo, Error>;
        fn registration_lookup(procedure: &str, match_policy: Match) -> Result<Option<Id>, Error>;
        fn registration_get(registration: Id) -> Result<RegistrationInfo, Error>;
        fn registration_list() -> Result<IdsByMatch, Error>;
        fn registration_callees(registration: Id) -> Result<Vec<Id>, Error>;
        fn subscription_lookup(topic: &str, match_policy: Match) -> Result<Option<Id>, Error>;
        fn subscription_get(subscription: Id) -> Result<SubscriptionInfo, Error>;
        fn subscription_list() -> Result<IdsByMatch, Error>;
        fn subscription_subscribers(subscription: Id) -> Result<Vec<Id>, Error>;

        // Nexus helpers, with the Python names.

        fn whoami() -> Result<Value, Error>;
        fn ad_users() -> Result<Value, Error>;
        fn ad_groups() -> Result<Value, Error>;
        fn roster_register(name: &str, data: impl Serialize) -> Result<Value, Error>;
        fn roster_register_visible(name: &str, data: impl Serialize, visibility: &[&str])
            -> Result<Value, Error>;
        fn roster_query(name: &str) -> Result<Value, Error>;
        fn roster_unregister(name: &str) -> Result<Value, Error>;
        fn metadata_set(key: &str, value: impl Serialize) -> Result<Value, Error>;
        fn metadata_get(key: &str) -> Result<Value, Error>;
        fn metadata_list() -> Result<Value, Error>;
        fn metadata_delete(key: &str) -> Result<Value, Error>;
        fn otp_create() -> Result<Value, Error>;
        fn otp_list() -> Result<Value, Error>;
        fn otp_delete(uuid: &str) -> Result<Value, Error>;
        fn apikeys_create(data: impl Serialize) -> Result<Value, Error>;
        fn apikeys_list() -> Result<Value, Error>;
        fn apikeys_delete(uuid: &str) -> Result<Value, Error>;
    }
}

/// Calls a procedure the way Python does: positional arguments, then `name = value` keyword
/// arguments, all in one list. Works with [`wamp`] and with any [`Client`].
///
/// ```no_run
/// use izaber_wamp::{call, initialize, wamp};
/// # fn main() -> Result<(), izaber_wamp::Error> {
/// initialize()?;
/// // Python: wamp.call('example.call', 'pos1', 'pos2', keyword1='value1', keyword2='value2')
/// let results = call!(wamp, "example.call", "pos1", "pos2", keyword1 = "value1", keyword2 = "value2")?;
/// // A keyword that Rust reserves is written raw: Python's type='motor'
/// let motors = call!(wamp, "devices.find", r#type = "motor")?;
/// # Ok(()) }
/// ```
#[macro_export]
macro_rules! call {
    ($client:expr, $uri:expr $(, $($rest:tt)*)?) => {
        $crate::__call_munch!(call, $client, $uri, [], [], $($($rest)*)?)
    };
}

/// Publishes the way Python does: positional arguments, then `name = value` keyword
/// arguments, like [`call!`]. Works with [`wamp`] and with any [`Client`]; returns what
/// [`Client::publish_with`] returns.
///
/// ```no_run
/// use izaber_wamp::{initialize, publish, wamp};
/// # fn main() -> Result<(), izaber_wamp::Error> {
/// initialize()?;
/// // Python: wamp.publish('test.sub', 'hello', sender='me')
/// publish!(wamp, "test.sub", "hello", sender = "me")?;
/// # Ok(()) }
/// ```
#[macro_export]
macro_rules! publish {
    ($client:expr, $uri:expr $(, $($rest:tt)*)?) => {
        $crate::__call_munch!(publish, $client, $uri, [], [], $($($rest)*)?)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __call_munch {
    (@send call, $client:expr, $uri:expr, $args:ident, $kwargs:ident) => {
        $client.call_kw($uri, $args, $kwargs)
    };
    (@send publish, $client:expr, $uri:expr, $args:ident, $kwargs:ident) => {
        $client.publish_with($uri, $args, $kwargs, &$crate::PublishOptions::new())
    };
    ($send:ident, $client:expr, $uri:expr, [$($arg:expr,)*], [$($key:ident = $val:expr,)*], $(,)?) => {
        (|| -> ::std::result::Result<_, $crate::Error> {
            let args: ::std::vec::Vec<$crate::protocol::Value> =
                ::std::vec![$($crate::protocol::to_value(&$arg)?,)*];
            #[allow(unused_mut)]
            let mut kwargs = $crate::protocol::Dict::new();
            $({
                // `r#type = ...` names the keyword argument `type`, as Python's `type=...` does.
                let key = ::std::stringify!($key);
                let key = key.strip_prefix("r#").unwrap_or(key);
                kwargs.insert(key.to_owned(), $crate::protocol::to_value(&$val)?);
            })*
            $crate::__call_munch!(@send $send, $client, $uri, args, kwargs)
        })()
    };
    ($send:ident, $client:expr, $uri:expr, [$($arg:expr,)*], [$($kw:tt)*], $key:ident = $val:expr $(, $($rest:tt)*)?) => {
        $crate::__call_munch!($send, $client, $uri, [$($arg,)*], [$($kw)* $key = $val,], $($($rest)*)?)
    };
    ($send:ident, $client:expr, $uri:expr, [$($arg:expr,)*], [$($kw:tt)*], $next:expr $(, $($rest:tt)*)?) => {
        $crate::__call_munch!($send, $client, $uri, [$($arg,)* $next,], [$($kw)*], $($($rest)*)?)
    };
}

impl ClientBuilder {
    /// A builder with everything `wamp.connection` in izaber.yaml says: URLs, realm, login,
    /// serializers, URI base, timeouts, reconnection, heartbeat and TLS. It is how
    /// [`initialize`] makes the global `wamp`'s client; a program or tool that wants its own
    /// [`Client`] from the same file starts here and overrides what it needs.
    ///
    /// The login is a ticket when `authmethods` has `ticket`, else WAMP-CRA when it has
    /// `wampcra` (the password is the secret), else WAMP-SCRAM when it has `scram` (with the
    /// password), else WAMP-Cryptosign when it has `cryptosign` (with `private_key` or
    /// `private_key_file`, and the `authid` or `username` when one is set; otherwise the
    /// router finds the user by the key), else anonymous.
    ///
    /// ```
    /// use izaber_wamp::ClientBuilder;
    /// use izaber_wamp::config::Config;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let config = Config::from_yaml_str(
    ///     "default: {wamp: {connection: {url: 'ws://127.0.0.1:8282/ws', username: me}}}",
    ///     None,
    /// )?;
    /// let builder = ClientBuilder::from_config(&config.wamp()?)?.realm("other");
    /// # drop(builder);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a serializer name other than `json`, `msgpack` and
    /// `cbor`, or an unusable `private_key`; for `private_key_file`, the errors of
    /// [`CryptosignKey::from_file`](crate::CryptosignKey::from_file). The URL is checked later,
    /// by [`connect`](ClientBuilder::connect).
    pub fn from_config(settings: &WampConfig) -> Result<ClientBuilder, Error> {
        let serializers = settings
            .serializers
            .iter()
            .map(|s| s.parse::<Serializer>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        let username = settings.username.clone().unwrap_or_default();
        let authid = settings.authid.clone().unwrap_or_else(|| username.clone());
        let password = settings.password.clone().unwrap_or_default();
        let auth = if settings.authmethods.iter().any(|m| m == "ticket") {
            Auth::Ticket {
                authid,
                ticket: password,
            }
        } else if settings.authmethods.iter().any(|m| m == "wampcra") {
            Auth::WampCra {
                authid,
                secret: password,
            }
        } else if settings.authmethods.iter().any(|m| m == "scram") {
            Auth::Scram { authid, password }
        } else if settings.authmethods.iter().any(|m| m == "cryptosign") {
            let key = match (&settings.private_key, &settings.private_key_file) {
                (Some(seed), _) => crate::CryptosignKey::from_hex_seed(seed.expose())?,
                (None, Some(file)) => crate::CryptosignKey::from_file(file)?,
                (None, None) => {
                    return Err(Error::InvalidArgument(
                        "cryptosign needs wamp.connection.private_key or private_key_file".into(),
                    ));
                }
            };
            // "anonymous" is the username Python fills in when none is configured.
            let authid = Some(authid).filter(|a| !a.is_empty() && a != "anonymous");
            Auth::Cryptosign { authid, key }
        } else {
            Auth::Anonymous
        };
        let reconnect = match settings.auto_reconnect {
            Some(interval) => ReconnectPolicy::every(interval),
            None => ReconnectPolicy::never(),
        };
        let mut builder = Client::builder(settings.urls.clone())
            .realm(settings.realm.clone())
            .auth(auth)
            .serializers(&serializers)
            .uri_base(settings.uri_base.clone())
            .timeout(settings.timeout)
            .ping_interval(settings.ping_interval)
            .heartbeat_timeout(settings.heartbeat_timeout)
            .max_payload_size(settings.max_payload_size)
            .handler_threads(settings.handler_threads)
            .handler_queue(settings.handler_queue)
            .handler_queue_bytes(settings.handler_queue_bytes)
            .reconnect(reconnect)
            .reconnect_wait(settings.reconnect_wait)
            .danger_accept_invalid_certs(!settings.tls_verify)
            .danger_accept_invalid_hostnames(!settings.tls_verify_hostname);
        if let Some(ca_file) = &settings.ca_file {
            builder = builder.ca_file(ca_file.clone());
        }
        if let Some(allow) = settings.allocator_tuning {
            builder = builder.allocator_tuning(allow);
        }
        Ok(builder)
    }
}
