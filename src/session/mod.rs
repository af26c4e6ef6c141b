//! The session: one OS thread per client that owns the connection, the table matching request
//! ids to waiting callers, and the live registrations and subscriptions.
//!
//! The socket thread connects, reads the messages, reconnects and closes; it alone keeps the
//! request table and changes the registrations. Callers encode their message on their own
//! thread.
//! Then, when the connection is free (nobody else writing, nothing queued before them), they
//! write the frame themselves ([`Wire`]), so a call costs one thread hand-off (the answer)
//! instead of two; otherwise they hand the bytes to the socket thread through a channel and
//! wake it with a `mio::Waker`. The reply comes back through the socket thread, except when a
//! call is the only one waiting: its caller then reads the answer itself ([`leader`]).
//! The socket thread wakes on socket readiness and on those wake-ups alike, so nothing polls
//! on a timer. Invocations and events run on handler workers ([`dispatch`]), never on the
//! socket thread; a worker waiting for work reads its next invocations itself ([`leader`]).
//!
//! When the connection drops, every pending request fails at once with
//! [`Error::ConnectionLost`]; the thread then reconnects (when configured to), joins again and
//! restores every registration and subscription, then runs the join hooks.
//!
//! # Where things are
//!
//! - [`core`]: what the session knows about WAMP, without I/O, threads or clocks: the request
//!   table, registrations and subscriptions, restores, testaments, invocations, closing. Its
//!   `sim` checks it against random schedules.
//! - [`socket`]: the socket thread, the core's driver: the poll loop, reading and writing,
//!   heartbeats, reconnecting.
//! - [`leader`]: callers and idle workers reading the socket themselves.
//! - [`jobs`]: handler and hook runs on workers, and the answers they send; [`dispatch`]:
//!   the worker pool and the per-handler limits; [`handler`]: what handlers receive.
//! - [`join`] and [`reconnect`]: opening a session (HELLO to WELCOME, with [`cra`],
//!   [`scram`], [`cryptosign`]) and the reconnect policy; [`table`]: the live registrations
//!   and subscriptions; [`reply`]: how answers reach waiting threads; [`locks`]: the lock
//!   order.
//!
//! # Glossary
//!
//! - **socket thread**: the one thread per client that owns the connection between uses,
//!   drives the core, reconnects and closes.
//! - **wire** ([`Wire`]): the connection as callers may write to it, behind a mutex callers
//!   only try-lock, so no caller waits for another's I/O.
//! - **link** ([`Link`]): what callers read to encode a request: the connection's state,
//!   epoch, serializer and size limit, the session id.
//! - **epoch**: a connection's number, 1 for the first and one more for each reconnect.
//!   Whatever belongs to a connection carries it (a caller's encoded frame, a note, an
//!   invocation's answer) and is refused once that connection is gone: on the next session
//!   the same request id may be another's.
//! - **command** ([`Command`]): work a caller hands the socket thread, waking it: a frame to
//!   write while the wire is busy, a cancel, an unregister, a close.
//! - **note** ([`Note`]): what a caller that wrote its own frame tells the socket thread (a
//!   request to route, a partly written frame, a broken connection), booked before the next
//!   message is handled; notes do not wake it.
//! - **pending** ([`Pending`]): an entry of the request table, what a request waits for.
//! - **lead**, **leader**: a waiting caller, or a handler worker with nothing to do, that
//!   reads the socket itself; it keeps its own answer (or invocations) and leaves the rest in
//!   the wire for the socket thread.
//! - **entry**, **local id**, **router id**: a registration or subscription the user holds
//!   ([`Registration`], [`Subscription`]) keeps our local id for its life and gets a router id
//!   on each connection; entries may share a router subscription.
//! - **restore**: making everything the user holds again on a new connection.
//! - **withdraw**: an UNREGISTER the session sends by itself, for a close or for a
//!   registration given up while it was being restored.
//! - **testament**: an event the router publishes when the session dies, added again after
//!   every reconnect.
//! - **draining**: a close waiting for handlers, withdrawals and acknowledgements before it
//!   says GOODBYE.
//!
//! # Locks
//!
//! Taken in this order only, checked in debug builds ([`locks`]): the leader's poll, then
//! `wire`, then the invocation table, then `link`. Every other lock is a leaf. Nothing
//! blocking (a poll, a condition variable) is waited on while `wire` is held.

mod core;
mod cra;
pub(crate) mod cryptosign;
pub(crate) mod dispatch;
pub(crate) mod handler;
mod jobs;
mod join;
mod leader;
mod locks;
mod reconnect;
pub(crate) mod reply;
mod scram;
mod socket;
mod table;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crossbeam_channel::Sender;
use parking_lot::{Condvar, Mutex};

use crate::Error;
use crate::Secret;
use crate::memory;
use crate::protocol::{Dict, Id, LogSafe, Message, Serializer, Value, code};
use crate::transport::{Endpoint, FRAME_HEADROOM, Payload, Transport, TransportOptions};

use dispatch::{ConcurrencyLimit, WorkerPool};
use handler::{CallError, Event, Invocation};
use reply::{ReplyTo, Responder};

use self::core::Invocations;
pub(crate) use self::core::Pending;
pub use self::core::ShutdownReport;
pub(crate) use jobs::run_join_hooks;
pub use reconnect::{DEFAULT_RECONNECT_INTERVAL, ReconnectPolicy};
pub(crate) use socket::spawn;

/// The socket thread's poll token for the connection's socket (a leader puts the socket
/// back under it).
const SOCKET: mio::Token = mio::Token(1);
/// The most messages read under one hold of the connection before handling them (by the
/// socket thread, or by a caller reading its own answer).
const READ_BATCH: usize = 64;

/// Asks for the router's next segments to be acknowledged at once when a read brought an
/// EVENT over a connection that acknowledges late ([`Transport::hurry_acknowledgements`]):
/// a stream of events otherwise reaches a RawSocket subscriber in bursts up to 40 ms apart.
/// Answers to calls do not ask: the next request carries the acknowledgement.
fn hurry_acknowledgements_of_events(transport: &Transport, batch: &[Payload]) {
    if !transport.acknowledges_late() {
        return;
    }
    let serializer = transport.serializer();
    let is_event = |payload: &Payload| {
        serializer.peek(payload).and_then(|peek| peek.get(0)) == Some(code::EVENT)
    };
    if batch.iter().any(is_event) {
        transport.hurry_acknowledgements();
    }
}

/// How the client proves who it is. More methods may come, so a `match` on it needs a `_`
/// arm.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Auth {
    /// No credentials: Nexus gives such sessions the `public` role.
    Anonymous,
    /// WAMP-Ticket: the router's CHALLENGE is answered with the ticket (on Nexus: a password,
    /// a one-time password or an API key).
    Ticket {
        /// The login.
        authid: String,
        /// The secret; never logged.
        ticket: Secret,
    },
    /// WAMP-CRA: the challenge is signed with HMAC-SHA256 keyed by the secret (salted with
    /// PBKDF2 when the router says so).
    WampCra {
        /// The login.
        authid: String,
        /// The shared secret; never logged.
        secret: Secret,
    },
    /// WAMP-Cryptosign: the router's random challenge is signed with an Ed25519 key whose
    /// public half the router lists for the user. No channel binding (see
    /// [`CryptosignKey`](crate::CryptosignKey)).
    Cryptosign {
        /// The login; `None` lets the router find the user by the public key (Crossbar does).
        authid: Option<String>,
        /// The private key; `Debug` shows only its public half.
        key: crate::CryptosignKey,
    },
    /// WAMP-SCRAM (SHA-256, with Argon2id or PBKDF2 as the router's user record says): the
    /// password never crosses the wire, and the router must prove in WELCOME that it knows
    /// the user's keys, or the login fails. Both Crossbar's `scram` and the specification's
    /// `wamp-scram` are spoken.
    Scram {
        /// The login.
        authid: String,
        /// The password; never logged.
        password: Secret,
    },
}

/// Everything the socket thread needs to connect and run.
#[derive(Clone, Debug)]
pub(crate) struct SessionConfig {
    /// The router URLs, tried in turn (never empty).
    pub endpoints: Vec<Endpoint>,
    pub transport: TransportOptions,
    pub realm: String,
    pub auth: Auth,
    pub agent: String,
    /// The prefix of relative URIs at connect time (see [`Shared::uri_base`]).
    pub uri_base: Option<String>,
    pub ping_interval: Option<Duration>,
    pub heartbeat_timeout: Duration,
    pub max_payload: usize,
    pub reconnect: ReconnectPolicy,
    /// How long a request made while reconnecting waits for the connection (zero: fail at
    /// once).
    pub reconnect_wait: Duration,
    /// The bounds of the handler pool.
    pub handler_limits: dispatch::PoolLimits,
}

/// The answer to a request: the router's message, or why there is none.
pub(crate) type Reply = Result<Message, Error>;

/// A procedure's handler, after the client wrapped the user's closure.
pub(crate) type ProcedureFn =
    dyn Fn(Invocation) -> Result<Yielded, CallError> + Send + Sync + 'static;

/// What a procedure's handler answers with: YIELD's arguments and options.
pub(crate) struct Yielded {
    pub args: Vec<Value>,
    pub kwargs: Dict,
    /// Empty, but for a payload passthru answer's `enc_*` fields.
    pub options: Dict,
}

impl Yielded {
    /// A plain answer: one positional result.
    pub fn value(value: Value) -> Yielded {
        Yielded {
            args: vec![value],
            kwargs: Dict::new(),
            options: Dict::new(),
        }
    }
}
/// An event handler.
pub(crate) type EventFn = dyn Fn(Event) + Send + Sync + 'static;

/// A registration the client keeps alive across reconnects.
pub(crate) struct Registration {
    pub local_id: u64,
    pub procedure: String,
    pub options: Dict,
    pub handler: Arc<ProcedureFn>,
    pub limit: Arc<ConcurrencyLimit>,
    /// Registrations made by a join hook are made again by that hook after a reconnect, so
    /// the session does not restore them itself.
    pub restore: bool,
}

/// A subscription the client keeps alive across reconnects.
pub(crate) struct Subscription {
    pub local_id: u64,
    pub topic: String,
    pub options: Dict,
    pub handler: Arc<EventFn>,
    pub limit: Arc<ConcurrencyLimit>,
    pub restore: bool,
}

/// An event the router publishes when the session dies (`wamp.session.add_testament`): the
/// CALL's arguments, kept to add it again to every new session after a reconnect.
pub(crate) struct Testament {
    pub topic: String,
    /// `[topic, args, kwargs]` and `{publish_options, scope}`, as Crossbar takes them.
    args: Vec<Value>,
    kwargs: Dict,
}

impl Testament {
    /// The event to publish to `topic` (a full URI) when the session is destroyed.
    /// Acknowledgement and `exclude_me` do not apply to it and are left out.
    pub fn new(topic: String, args: Vec<Value>, kwargs: Dict, mut publish_options: Dict) -> Self {
        publish_options.remove("acknowledge");
        publish_options.remove("exclude_me");
        let mut call_kwargs = Dict::new();
        call_kwargs.insert("publish_options".into(), Value::Dict(publish_options));
        call_kwargs.insert("scope".into(), Value::from("destroyed"));
        Testament {
            args: vec![
                Value::String(topic.clone()),
                Value::List(args),
                Value::Dict(kwargs),
            ],
            topic,
            kwargs: call_kwargs,
        }
    }

    /// The CALL that adds it to the current session.
    pub fn call(&self, request: Id) -> Message {
        Message::Call {
            request,
            options: Dict::new(),
            procedure: ADD_TESTAMENT.to_owned(),
            args: self.args.clone(),
            kwargs: self.kwargs.clone(),
        }
    }
}

/// A PUBLISH to `topic` that no session is eligible to receive (session ids start at 1).
///
/// It works around a Crossbar bug (26.10): a testament's event is authorized only when the
/// session dies, and with a dynamic authorizer (as on Nexus) that authorization fails once
/// the transport is gone, so the event is lost, unless the router has the decision cached
/// for the session's role. This publish makes the router authorize, and cache, it now.
/// It is acknowledged: the testament is added once the router has answered it.
pub(crate) fn testament_priming(request: Id, topic: &str) -> Message {
    let mut options = Dict::new();
    options.insert("eligible".into(), Value::List(vec![Value::from(0)]));
    options.insert("acknowledge".into(), Value::Bool(true));
    Message::Publish {
        request,
        options,
        topic: topic.to_owned(),
        args: Vec::new(),
        kwargs: Dict::new(),
    }
}

/// The meta procedures behind testaments (Crossbar's router service).
pub(crate) const ADD_TESTAMENT: &str = "wamp.session.add_testament";
pub(crate) const FLUSH_TESTAMENTS: &str = "wamp.session.flush_testaments";

/// Work for the socket thread.
pub(crate) enum Command {
    /// Send an encoded message (encoded for connection `epoch`) and, for a request, route its
    /// replies to `pending`.
    Send {
        frame: Vec<u8>,
        epoch: u64,
        request: Option<(Id, Pending)>,
        /// The INVOCATION this frame answers, if it is a final YIELD or ERROR.
        finishes_invocation: Option<Id>,
    },
    /// Send CANCEL for `request` with `mode`. With `forget`, stop routing its answer too (the
    /// caller gave up); without, the caller waits for the router's ERROR.
    Cancel {
        request: Id,
        mode: Option<String>,
        forget: bool,
    },
    Unregister {
        local_id: u64,
        reply: ReplyTo,
    },
    Unsubscribe {
        local_id: u64,
        reply: ReplyTo,
    },
    /// A handler finished an invocation (of connection `epoch`) whose answer the router no
    /// longer wants.
    ForgetInvocation {
        request: Id,
        epoch: u64,
    },
    /// Withdraw every registration, let the handlers of invocations that arrived before
    /// the router took the withdrawal answer, wait for acknowledged publications, then say
    /// GOODBYE, close the socket and end the thread; waiting no longer than `grace`.
    Close {
        /// The invocation whose handler is closing the client, if one is: it cannot answer
        /// before the close returns, so it is not waited for.
        own_invocation: Option<Id>,
        grace: Duration,
        /// Gets what became of the invocations and publications in hand, once the session
        /// has ended.
        report: Option<reply::Responder<ShutdownReport>>,
    },
}

/// How long a closing session waits for the router's GOODBYE, after the grace.
pub(crate) const GOODBYE_WAIT: Duration = Duration::from_secs(2);

/// The socket thread, for `close` to join.
pub(crate) struct SocketThread {
    pub handle: std::thread::JoinHandle<()>,
    /// Disconnects when the thread ends (its sender is dropped with the thread's stack),
    /// so that `close` can wait for that with a deadline, which `join` has not.
    pub ended: crossbeam_channel::Receiver<()>,
}

/// What answers an INVOCATION, and the connection it came on.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Answer {
    pub invocation: Id,
    /// The connection (see [`Link::epoch`]) the INVOCATION came on.
    pub epoch: u64,
    /// The final YIELD or ERROR, rather than a progressive result.
    pub last: bool,
}

/// What a caller that wrote its own frame tells the socket thread, which keeps the books.
pub(crate) enum Note {
    /// A request is on the wire of connection `epoch`: route its replies to `pending`. Sent
    /// before the frame is written, so it is there before any reply can be read.
    Request {
        epoch: u64,
        id: Id,
        pending: Pending,
    },
    /// A frame is only partly written: the socket thread writes the rest (when the socket
    /// takes more) and then answers this, if the sender waits for it.
    Unflushed(Option<Responder<()>>),
    /// Writing failed: the connection is broken, for this reason.
    Failed(String),
}

/// The connection as callers may write to it, behind [`Shared::wire`].
///
/// Callers only ever `try_lock` it to write and go through the socket thread when it is taken,
/// so no caller waits for another's I/O; a leader ([`leader`]) locks it for each read. Every
/// read and write under it is non-blocking, and nobody holds it while sleeping.
pub(crate) struct Wire {
    /// `None` while disconnected, and while closing.
    pub transport: Option<Transport>,
    /// The connection `transport` belongs to (see [`Link::epoch`]).
    pub epoch: u64,
    /// What the socket thread's poll watches the socket for, or will once a leader gives the
    /// socket back.
    pub interest: mio::Interest,
    /// A waiting caller reads the connection ([`leader`]): the socket is out of the socket
    /// thread's poll, and the socket thread does not read.
    pub led: bool,
    /// Messages a leader read that are not its answer, in the order they came, for the socket
    /// thread to handle before it reads anything more.
    pub unhandled: Vec<crate::transport::Payload>,
    /// Why a leader found the connection broken, for the socket thread to end it after
    /// handling `unhandled`.
    pub broken: Option<String>,
}

impl Wire {
    pub fn new(transport: Option<Transport>, epoch: u64) -> Wire {
        Wire {
            transport,
            epoch,
            interest: mio::Interest::READABLE,
            led: false,
            unhandled: Vec::new(),
            broken: None,
        }
    }

    /// The open connection, or the error for having none.
    pub fn connected(&mut self) -> Result<&mut Transport, Error> {
        self.transport
            .as_mut()
            .ok_or_else(|| Error::lost("not connected"))
    }
}

/// A lock held with its place in the lock order noted (see [`locks`]): `wire` and the
/// leader's poll are taken through it.
pub(crate) struct Locked<'a, T> {
    // Dropped first: the lock is let go before its level is.
    guard: parking_lot::MutexGuard<'a, T>,
    _held: locks::Held,
}

impl<'a, T> Locked<'a, T> {
    pub(crate) fn lock(mutex: &'a Mutex<T>, level: locks::Level) -> Locked<'a, T> {
        let held = locks::enter(level, true);
        Locked {
            guard: mutex.lock(),
            _held: held,
        }
    }

    pub(crate) fn try_lock(mutex: &'a Mutex<T>, level: locks::Level) -> Option<Locked<'a, T>> {
        let held = locks::enter(level, false);
        Some(Locked {
            guard: mutex.try_lock()?,
            _held: held,
        })
    }
}

impl<T> std::ops::Deref for Locked<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> std::ops::DerefMut for Locked<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

/// Where the connection stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LinkState {
    Connected,
    /// Down; the thread is waiting to reconnect.
    Reconnecting {
        reason: String,
    },
    /// Closed for good (by `close`, or after giving up reconnecting).
    Closed {
        reason: String,
    },
}

/// Facts about the current connection, read by callers to encode and check their requests.
#[derive(Clone, Debug)]
pub(crate) struct Link {
    pub state: LinkState,
    pub epoch: u64,
    pub serializer: Serializer,
    pub max_outgoing: usize,
    pub session_id: Option<Id>,
    pub welcome: Dict,
    /// Our end's IP address on the current connection (`None` on a unix socket).
    pub local_ip: Option<std::net::IpAddr>,
}

/// Counters, as swampyer's `stats()`.
#[derive(Default)]
pub(crate) struct Counters {
    pub messages_sent: AtomicU64,
    pub messages_received: AtomicU64,
    pub calls: AtomicU64,
    pub invocations: AtomicU64,
    pub invocations_answered: AtomicU64,
    pub events: AtomicU64,
    pub publications: AtomicU64,
    pub errors: AtomicU64,
    pub reconnections: AtomicU64,
    pub revoked_registrations: AtomicU64,
    pub restore_failures: AtomicU64,
    pub restored: AtomicU64,
    pub invocations_refused: AtomicU64,
    pub events_dropped: AtomicU64,
    /// Calls answered to a caller that led (see [`leader`]).
    pub calls_read_by_caller: AtomicU64,
    /// Invocations a handler worker read while it led, and ran.
    pub invocations_read_by_worker: AtomicU64,
    /// Events a handler worker read while it led, and ran.
    pub events_read_by_worker: AtomicU64,
}

/// A join hook, run on a worker after every join.
pub(crate) type JoinHook = Arc<dyn Fn(&Dict) + Send + Sync + 'static>;
/// A hook run when the session ends or the connection drops; it gets the reason.
pub(crate) type LeaveHook = Arc<dyn Fn(&str) + Send + Sync + 'static>;

#[derive(Default)]
pub(crate) struct Hooks {
    pub join: Vec<JoinHook>,
    pub leave: Vec<LeaveHook>,
    pub disconnect: Vec<LeaveHook>,
    pub revoked: Vec<LeaveHook>,
}

/// State shared by every client handle and the socket thread.
pub(crate) struct Shared {
    pub config: SessionConfig,
    commands: Sender<Command>,
    /// Written by callers, read only by the socket thread (it keeps the receiving end).
    notes: Sender<Note>,
    /// Taken with [`Shared::lock_wire`] (see [`locks`]).
    wire: Mutex<Wire>,
    waker: mio::Waker,
    /// True while the socket thread sleeps in its poll (or is about to): only then does a
    /// command need a wake-up, which costs a system call and a context switch.
    pub(crate) socket_idle: std::sync::atomic::AtomicBool,
    /// Set while a close waits for running handlers: each answer then wakes the socket
    /// thread, which otherwise learns of answers written without it only when it next wakes.
    pub(crate) draining: std::sync::atomic::AtomicBool,
    /// Set by each answer while a close waits for them, and taken by the socket thread
    /// before it sleeps: an answer that came after it last looked, but before it said it
    /// sleeps, rings no bell, and would otherwise wait for its next wake-up (up to a
    /// heartbeat interval).
    pub(crate) answered_while_draining: std::sync::atomic::AtomicBool,
    next_request: Arc<AtomicU64>,
    next_local_id: AtomicU64,
    link: Mutex<Link>,
    link_changed: Condvar,
    pub counters: Arc<Counters>,
    /// The prefix of relative URIs, changed at run time by `Client::set_uri_base` (it starts
    /// as [`SessionConfig::uri_base`]).
    pub uri_base: parking_lot::RwLock<Option<String>>,
    pub pool: Arc<WorkerPool>,
    pub hooks: Mutex<Hooks>,
    /// Lets a waiting caller read its own answer ([`leader`]).
    pub(crate) lead: leader::Lead,
    /// The registrations in place, by the router's id, kept by the socket thread for a
    /// handler worker that reads an INVOCATION itself ([`leader`]).
    pub(crate) registered: table::Published<Registration>,
    /// The subscriptions in place that are the only one under their router id, kept by the
    /// socket thread for a handler worker that reads an EVENT itself ([`leader`]).
    pub(crate) subscribed: table::Published<Subscription>,
    /// Invocations of the current connection whose handler is queued or running (see
    /// [`Invocations`]): whoever reads an INVOCATION adds it; it leaves when its final answer
    /// is on the wire.
    pub(crate) invocations: Invocations,
    /// The socket thread, joined by `close`.
    pub thread: Mutex<Option<SocketThread>>,
    /// Set when the session ends for good: disconnects once its leave hooks have returned,
    /// which `close` waits for.
    pub leave_hooks: Mutex<Option<crossbeam_channel::Receiver<()>>>,
}

thread_local! {
    /// Set while leave, disconnect or revoked hooks run on this thread: a `close` made from
    /// such a hook must not wait for the hooks to return.
    pub(crate) static IN_SESSION_HOOK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// While a join hook runs on this thread: the client whose hook it is (see
    /// [`Shared::identity`]). What the hook registers or subscribes through that client is not
    /// restored by the session, because the hook does it again after a reconnect; through any
    /// other client it is restored as usual, since that client's reconnects do not run the hook.
    pub(crate) static IN_JOIN_HOOK: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// While a handler runs on this thread: its client (see [`Shared::identity`]) and its
    /// invocation, which a `close` made from the handler must not wait for.
    pub(crate) static RUNNING_INVOCATION: std::cell::Cell<Option<(usize, Id)>> =
        const { std::cell::Cell::new(None) };
}

impl Shared {
    /// Tells clients apart (never 0): the address of this shared state.
    pub(crate) fn identity(&self) -> usize {
        self as *const Shared as usize
    }

    /// Whether the current thread runs one of this client's join hooks.
    pub(crate) fn in_own_join_hook(&self) -> bool {
        IN_JOIN_HOOK.get() == self.identity()
    }

    /// Takes `wire`, waiting for whoever holds it.
    pub(crate) fn lock_wire(&self) -> Locked<'_, Wire> {
        Locked::lock(&self.wire, locks::Level::Wire)
    }

    /// Takes `wire` if nobody holds it.
    fn try_lock_wire(&self) -> Option<Locked<'_, Wire>> {
        Locked::try_lock(&self.wire, locks::Level::Wire)
    }

    /// A new request id: sequential from 1, as the WAMP specification asks of session scope.
    pub fn next_request_id(&self) -> Id {
        self.next_request.fetch_add(1, Ordering::Relaxed)
    }

    pub fn next_local_id(&self) -> u64 {
        self.next_local_id.fetch_add(1, Ordering::Relaxed)
    }

    pub fn link(&self) -> Link {
        let _order = locks::enter(locks::Level::Link, true);
        self.link.lock().clone()
    }

    pub(crate) fn set_link(&self, update: impl FnOnce(&mut Link)) {
        let _order = locks::enter(locks::Level::Link, true);
        let mut link = self.link.lock();
        update(&mut link);
        self.link_changed.notify_all();
    }

    /// Waits until connected, closed for good, or `timeout`.
    pub fn wait_connected(&self, timeout: Duration) -> Result<(), Error> {
        let deadline = crate::deadline::after(timeout);
        let _order = locks::enter(locks::Level::Link, true);
        let mut link = self.link.lock();
        loop {
            match &link.state {
                LinkState::Connected => return Ok(()),
                LinkState::Closed { reason } => return Err(closed_error(reason)),
                LinkState::Reconnecting { .. } => {}
            }
            if self
                .link_changed
                .wait_until(&mut link, deadline)
                .timed_out()
            {
                return Err(Error::Timeout {
                    operation: "waiting for the connection".into(),
                    after: timeout,
                });
            }
        }
    }

    /// Waits until the session has ended for good, or `timeout`.
    pub fn wait_closed(&self, timeout: Duration) -> bool {
        let deadline = crate::deadline::after(timeout);
        let _order = locks::enter(locks::Level::Link, true);
        let mut link = self.link.lock();
        while !matches!(link.state, LinkState::Closed { .. }) {
            if self
                .link_changed
                .wait_until(&mut link, deadline)
                .timed_out()
            {
                return false;
            }
        }
        true
    }

    /// Waits until the connection `epoch` is no longer the connected one, or `deadline`;
    /// `None` at the deadline.
    fn wait_link_change(&self, epoch: u64, deadline: std::time::Instant) -> Option<LinkState> {
        let _order = locks::enter(locks::Level::Link, true);
        let mut link = self.link.lock();
        while link.epoch == epoch && link.state == LinkState::Connected {
            if self
                .link_changed
                .wait_until(&mut link, deadline)
                .timed_out()
            {
                return None;
            }
        }
        Some(link.state.clone())
    }

    /// Encodes `message` for the current connection and writes it, or hands it to the socket
    /// thread (see [`Shared::write_directly`]).
    pub fn send(&self, message: &Message, request: Option<(Id, Pending)>) -> Result<(), Error> {
        self.send_full(message, request, None)
    }

    /// [`Shared::send`] for requests, or for an answer to an invocation, which goes out only
    /// on the connection the invocation came on: once that is gone, nobody there waits for
    /// it, and on a new session its request id may be another call's.
    pub fn send_full(
        &self,
        message: &Message,
        request: Option<(Id, Pending)>,
        answer: Option<Answer>,
    ) -> Result<(), Error> {
        let finishes_invocation = answer.filter(|a| a.last).map(|a| a.invocation);
        let (frame, epoch, _) = self.encode(message, answer)?;
        match self.write_directly(frame, epoch, request, finishes_invocation, false) {
            Ok(_) => Ok(()),
            Err(command) => self.command(command),
        }
    }

    /// Encodes `message` for the current connection (waiting for a reconnect as configured),
    /// with [`FRAME_HEADROOM`] in front; returns the frame, the connection's epoch and
    /// serializer. An answer is refused once its invocation's connection is gone.
    fn encode(
        &self,
        message: &Message,
        answer: Option<Answer>,
    ) -> Result<(Vec<u8>, u64, Serializer), Error> {
        let (epoch, serializer, max_outgoing) = {
            let _order = locks::enter(locks::Level::Link, true);
            let mut link = self.link.lock();
            if let Some(answer) = answer
                && (link.epoch != answer.epoch || link.state != LinkState::Connected)
            {
                return Err(Error::lost(
                    "the connection the invocation came on is gone, and its answer with it",
                ));
            }
            if matches!(link.state, LinkState::Reconnecting { .. })
                && !self.config.reconnect_wait.is_zero()
            {
                let deadline = crate::deadline::after(self.config.reconnect_wait);
                while matches!(link.state, LinkState::Reconnecting { .. })
                    && !self
                        .link_changed
                        .wait_until(&mut link, deadline)
                        .timed_out()
                {}
            }
            match &link.state {
                LinkState::Connected => {}
                LinkState::Closed { reason } => return Err(closed_error(reason)),
                LinkState::Reconnecting { reason } => {
                    return Err(Error::lost(format!("reconnecting after: {reason}")));
                }
            }
            (link.epoch, link.serializer, link.max_outgoing)
        };
        if log::log_enabled!(log::Level::Debug) {
            // Secrets are redacted: the AUTHENTICATE signature and values under secret keys.
            log::debug!("sending {:?}", LogSafe(message));
        }
        let mut frame = memory::writing_buffer(|| message.payload_len_hint())
            .unwrap_or_else(|| Vec::with_capacity(256));
        frame.resize(FRAME_HEADROOM, 0);
        serializer.encode_into(message, &mut frame)?;
        let size = frame.len() - FRAME_HEADROOM;
        let limit = self.config.max_payload.min(max_outgoing);
        if size > limit {
            return Err(Error::PayloadTooLarge {
                message: describe(message),
                size,
                limit,
            });
        }
        Ok((frame, epoch, serializer))
    }

    /// Writes the frame on the calling thread when the connection is free, saving the socket
    /// thread a wake-up and the caller a context switch. Gives the frame back as a command
    /// for the socket thread when another thread holds the connection, when commands are
    /// queued (writing past them would reorder one thread's messages), or when the
    /// connection is not the one the frame was encoded for.
    ///
    /// With `lead`, a plain call's caller takes the socket to read its answer itself when it
    /// can ([`leader`]): the call is then not noted for the socket thread, and its responder
    /// comes back for the caller to answer.
    fn write_directly(
        &self,
        frame: Vec<u8>,
        epoch: u64,
        request: Option<(Id, Pending)>,
        finishes_invocation: Option<Id>,
        lead: bool,
    ) -> Result<Option<Responder<Message>>, Command> {
        let give_back = |frame, request| Command::Send {
            frame,
            epoch,
            request,
            finishes_invocation,
        };
        let Some(mut wire) = self.try_lock_wire() else {
            return Err(give_back(frame, request));
        };
        // The socket thread takes commands off the queue only while it holds `wire`, so a
        // queue seen empty here stays free of anything that should go out before this frame.
        if wire.epoch != epoch || !self.commands.is_empty() || wire.transport.is_none() {
            return Err(give_back(frame, request));
        }
        let mut led = None;
        let written = match request {
            Some((_, Pending::Written(responder))) => Some(responder),
            Some((id, Pending::Call(ReplyTo::Once(responder))))
                if lead && self.lead.take_socket(&mut wire) =>
            {
                led = Some((id, responder));
                None
            }
            Some((id, pending)) => {
                self.note(Note::Request { epoch, id, pending });
                None
            }
            None => None,
        };
        if let Some(invocation) = finishes_invocation {
            self.invocations.answered(invocation);
        }
        self.counters.messages_sent.fetch_add(1, Ordering::Relaxed);
        let transport = wire.transport.as_mut().expect("checked above");
        let outcome = transport
            .queue_message(frame)
            .and_then(|()| transport.flush());
        if !matches!(outcome, Ok(true))
            && let Some((id, responder)) = led.take()
        {
            // Only a request wholly on the wire is worth waiting at the socket for: the
            // socket thread writes the rest, and answers it.
            self.note(Note::Request {
                epoch,
                id,
                pending: Pending::Call(ReplyTo::Once(responder)),
            });
            self.give_up_the_lead(&mut wire);
        }
        let must_wake = !matches!(outcome, Ok(true));
        // Noted before `wire` is let go: once the socket thread can take the connection away,
        // everything it must know about this frame is in its queue.
        let answer = match outcome {
            Ok(true) => written.map(|responder| (responder, Ok(()))),
            Ok(false) => {
                self.note(Note::Unflushed(written));
                None
            }
            Err(e) => {
                let reason = format!("{e:#}");
                // The request noted above fails with everything else pending when the socket
                // thread ends the connection.
                self.note(Note::Failed(reason.clone()));
                written.map(|responder| (responder, Err(Error::lost(reason))))
            }
        };
        drop(wire);
        if must_wake {
            self.wake_socket_thread();
        }
        if let Some((responder, result)) = answer {
            responder.send(result);
        }
        Ok(led.map(|(_, responder)| responder))
    }

    fn note(&self, note: Note) {
        // Fails only when the socket thread has ended, and then the session is over anyway:
        // a noted request's waiter gets `Closed` when its dropped responder says so.
        let _ = self.notes.send(note);
    }

    pub fn command(&self, command: Command) -> Result<(), Error> {
        self.commands.send(command).map_err(|_| Error::Closed)?;
        if self.wake_socket_thread() {
            Ok(())
        } else {
            Err(Error::Closed)
        }
    }

    /// A handler has answered its invocation. While a close waits for handlers, the socket
    /// thread is woken to see it.
    pub(crate) fn invocation_finished(&self) {
        if self.draining.load(Ordering::SeqCst) {
            self.answered_while_draining.store(true, Ordering::SeqCst);
            self.wake_socket_thread();
        }
    }

    /// The invocation the current thread's handler is answering, if it is one of ours.
    pub(crate) fn own_invocation(&self) -> Option<Id> {
        RUNNING_INVOCATION
            .get()
            .filter(|(client, _)| *client == self.identity())
            .map(|(_, request)| request)
    }

    /// Wakes the socket thread if it sleeps; false when it has ended.
    ///
    /// The socket thread sets `socket_idle` before it checks its queues one last time and
    /// sleeps, so either it sees what was just queued or this sees the flag. Only the first
    /// sender after it fell asleep pays for the wake-up.
    fn wake_socket_thread(&self) -> bool {
        // A failed wake means the poll is gone, i.e. the socket thread has ended.
        !self.socket_idle.swap(false, Ordering::SeqCst) || self.waker.wake().is_ok()
    }
}

fn closed_error(reason: &str) -> Error {
    if reason.is_empty() {
        Error::Closed
    } else {
        Error::GaveUp {
            reason: reason.to_owned(),
        }
    }
}

/// "CALL com.example.proc": how errors name a message.
pub(crate) fn describe(message: &Message) -> String {
    match message {
        Message::Call { procedure, .. } | Message::Register { procedure, .. } => {
            format!("{} {procedure}", message.name())
        }
        Message::Publish { topic, .. } | Message::Subscribe { topic, .. } => {
            format!("{} {topic}", message.name())
        }
        other => other.name().to_owned(),
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! A session without a router, for unit tests of what callers and handlers hand to the
    //! socket thread.

    use super::*;

    const LIMITS: dispatch::PoolLimits = dispatch::PoolLimits {
        threads: 16,
        queue: 1024,
        queue_bytes: usize::MAX,
    };

    /// A session whose connection `epoch` is joined but has no socket: everything sent ends up
    /// as a command in the returned queue. The poll must outlive the session's waker.
    pub(crate) fn offline(
        epoch: u64,
    ) -> (Arc<Shared>, crossbeam_channel::Receiver<Command>, mio::Poll) {
        let poll = mio::Poll::new().unwrap();
        let waker = mio::Waker::new(poll.registry(), mio::Token(0)).unwrap();
        let (commands_tx, commands) = crossbeam_channel::unbounded();
        let (notes_tx, _notes) = crossbeam_channel::unbounded();
        let shared = Arc::new(Shared {
            config: SessionConfig {
                endpoints: vec![Endpoint::parse("ws://127.0.0.1:9/ws").unwrap()],
                transport: TransportOptions::default(),
                realm: "realm1".into(),
                auth: Auth::Anonymous,
                agent: "test".into(),
                uri_base: None,
                ping_interval: None,
                heartbeat_timeout: Duration::from_secs(10),
                max_payload: usize::MAX,
                reconnect: ReconnectPolicy::never(),
                reconnect_wait: Duration::ZERO,
                handler_limits: LIMITS,
            },
            commands: commands_tx,
            notes: notes_tx,
            wire: Mutex::new(Wire::new(None, epoch)),
            lead: leader::Lead::new(poll.registry().try_clone().unwrap()).unwrap(),
            waker,
            socket_idle: std::sync::atomic::AtomicBool::new(false),
            draining: std::sync::atomic::AtomicBool::new(false),
            answered_while_draining: std::sync::atomic::AtomicBool::new(false),
            next_request: Arc::new(AtomicU64::new(1)),
            next_local_id: AtomicU64::new(1),
            link: Mutex::new(Link {
                state: LinkState::Connected,
                epoch,
                serializer: Serializer::Json,
                max_outgoing: usize::MAX,
                session_id: Some(1),
                welcome: Dict::new(),
                local_ip: None,
            }),
            link_changed: Condvar::new(),
            counters: Arc::new(Counters::default()),
            uri_base: parking_lot::RwLock::new(None),
            pool: WorkerPool::new("test-handler", LIMITS),
            registered: table::Published::default(),
            subscribed: table::Published::default(),
            invocations: Invocations::default(),
            hooks: Mutex::new(Hooks::default()),
            thread: Mutex::new(None),
            leave_hooks: Mutex::new(None),
        });
        (shared, commands, poll)
    }
}
