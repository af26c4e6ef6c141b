//! The session's WAMP state machine, without I/O, threads or clocks.
//!
//! [`Core`] keeps everything the session knows about WAMP: the request table ([`Pending`]),
//! the live registrations and subscriptions (shared ones included), the restore plan after a
//! reconnect, the connection epochs, each invocation's life, testaments, and the accounting
//! of a close. It is driven by inputs, each a method:
//!
//! - a message arrived ([`Core::received`]);
//! - a caller's request went out ([`Core::request_sent`]), or a caller's command came
//!   ([`Core::cancel`], [`Core::unregister`], [`Core::unsubscribe`], [`Core::close`], ...);
//! - the connection came up ([`Core::connected`]) or went down ([`Core::connection_lost`]);
//! - it is now `T` ([`Core::handle_timeout`]).
//!
//! Its outputs are taken with [`Core::poll_output`]: messages to send, handler jobs to start,
//! hooks to run. Answers for callers are delivered through their [`ReplyTo`], which only
//! fills a slot or a channel and never blocks. [`Core::next_deadline`] says when it next
//! needs the time.
//!
//! The socket thread ([`super::socket`]) is its only owner and driver: it reads, decodes,
//! feeds the core and carries out what comes out. Callers and handler workers write their own
//! frames and tell the core through notes ([`super::Note`]); the one table they touch
//! directly is [`Invocations`] (see there why). `sim.rs` drives the core through random
//! schedules and checks its invariants after every step.

mod answers;
mod closing;
mod invocations;
mod restore;
#[cfg(test)]
mod sim;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::Error;
use crate::protocol::{Dict, Id, Message, Value};

use super::handler::Event;
use super::reply::{ReplyTo, Responder};
use super::table::{LiveTable, Published};
use super::{Counters, Registration, Reply, Subscription, Testament};

pub(crate) use answers::{cannot_end_call, ends_call};
pub(crate) use invocations::{
    Arrived, CONCURRENCY_LIMIT, Invocations, cannot_be_invocation, cannot_be_own_event,
    invocation_error, take_event, take_invocation,
};

use closing::Closing;
pub use closing::ShutdownReport;

/// What a request waits for, and what to do when it comes.
pub(crate) enum Pending {
    /// CALL: RESULT (progressive ones too) or ERROR.
    Call(ReplyTo),
    /// PUBLISH with acknowledge: PUBLISHED or ERROR.
    Publish(ReplyTo),
    /// REGISTER: on REGISTERED the handler is installed before any INVOCATION can arrive.
    Register(ReplyTo, Arc<Registration>),
    /// SUBSCRIBE: on SUBSCRIBED the handler is installed before any EVENT can arrive.
    Subscribe(ReplyTo, Arc<Subscription>),
    /// UNREGISTER of the registration with this local id.
    Unregister(ReplyTo, u64),
    /// UNSUBSCRIBE of the subscription with this local id, known to the router by this id.
    Unsubscribe(ReplyTo, u64, Id),
    /// UNSUBSCRIBE the session sent by itself for a router subscription none of ours wants.
    Release(Id),
    /// A fire-and-forget message whose sender waits until it has been written to the socket
    /// (so that a script that publishes and exits does not lose the event). Kept by the
    /// socket thread, never by the core: nothing answers it.
    Written(Responder<()>),
    /// REGISTER sent by the session itself after a reconnect (and how many times it was
    /// refused because the router still held the URI).
    Restore(Arc<Registration>, u32),
    /// SUBSCRIBE sent by the session itself after a reconnect.
    Resubscribe(Arc<Subscription>),
    /// A heartbeat CALL on a transport without pings; any answer will do.
    Heartbeat,
    /// `wamp.session.add_testament`: on RESULT the testament is kept, to be added again after
    /// reconnects (only then, so that one the caller saw fail is never made again).
    AddTestament(ReplyTo, Arc<Testament>),
    /// The acknowledged [`super::testament_priming`] publish sent by the session itself after
    /// a reconnect: once the router has answered it, the testament is added again.
    PrimeTestament(Arc<Testament>),
    /// `wamp.session.add_testament` sent by the session itself after a reconnect.
    RestoreTestament(Arc<Testament>),
    /// `wamp.session.flush_testaments`: on RESULT the kept testaments are dropped too.
    FlushTestaments(ReplyTo),
    /// UNREGISTER the session sent by itself: a closing session's, so that the router sends
    /// new calls elsewhere, or for a registration restored after the user gave it up. A close
    /// says GOODBYE only once every one is answered (or at the deadline).
    Withdraw,
}

impl Pending {
    /// Delivers a reply to whoever waits for it (nobody, for the session's own requests).
    pub(crate) fn respond(self, reply: Reply) {
        match self {
            Pending::Written(responder) => responder.send(reply.map(|_| ())),
            Pending::Call(to)
            | Pending::Publish(to)
            | Pending::Register(to, _)
            | Pending::Subscribe(to, _)
            | Pending::Unregister(to, _)
            | Pending::Unsubscribe(to, _, _)
            | Pending::AddTestament(to, _)
            | Pending::FlushTestaments(to) => to.send(reply),
            Pending::Restore(..)
            | Pending::Resubscribe(_)
            | Pending::Release(_)
            | Pending::Heartbeat
            | Pending::PrimeTestament(_)
            | Pending::RestoreTestament(_)
            | Pending::Withdraw => {}
        }
    }
}

/// What the core asks its driver to do, in order.
pub(crate) enum Output {
    /// Write this message on the current connection.
    Send(Message),
    /// Run `entry`'s handler for an invocation that came on connection `epoch`; it is noted
    /// as queued (`state`) in [`Invocations`]. When the handler's queue refuses it, the
    /// driver says so with [`Core::invocation_refused`].
    Invoke {
        entry: Arc<Registration>,
        arrived: Arrived,
        state: Arc<super::handler::InvocationState>,
        epoch: u64,
    },
    /// Run each of these subscriptions' handlers with the event (the last one takes it, the
    /// others copies).
    Deliver {
        entries: Vec<Arc<Subscription>>,
        event: Event,
        size: usize,
    },
    /// Run the revoked hooks: the router took something away, or it could not be restored.
    Revoked(String),
}

/// A registration to make again later: the router still held its URI for our previous
/// session.
struct Retry {
    due: Instant,
    entry: Arc<Registration>,
    attempt: u32,
}

/// The session's state machine; see the module's documentation.
pub(crate) struct Core {
    /// The connection the tables refer to (see "epoch" in [`super`]'s glossary).
    epoch: u64,
    /// Whether that connection is up: otherwise nothing is sent, and what needs the router
    /// is done locally or refused.
    connected: bool,
    /// Request ids, shared with the callers (sequential in the session's scope).
    ids: Arc<AtomicU64>,
    counters: Arc<Counters>,
    /// The request table: what each request in flight waits for.
    pending: HashMap<Id, Pending>,
    registrations: LiveTable<Registration>,
    subscriptions: LiveTable<Subscription>,
    /// Testaments the router accepted, to add again after a reconnect.
    testaments: Vec<Arc<Testament>>,
    retries: Vec<Retry>,
    invocations: Invocations,
    closing: Option<Closing>,
    out: VecDeque<Output>,
}

impl Core {
    /// A core for a session whose first connection is `epoch`, not yet up.
    /// `registered` is kept equal to the registrations in place (see [`LiveTable::published`]).
    pub fn new(
        ids: Arc<AtomicU64>,
        counters: Arc<Counters>,
        registered: Published<Registration>,
        subscribed: Published<Subscription>,
        invocations: Invocations,
    ) -> Core {
        Core {
            epoch: 0,
            connected: false,
            ids,
            counters,
            pending: HashMap::new(),
            registrations: LiveTable::published(registered),
            subscriptions: LiveTable::published_sole(subscribed),
            testaments: Vec::new(),
            retries: Vec::new(),
            invocations,
            closing: None,
            out: VecDeque::new(),
        }
    }

    /// The next thing to do, in the order the core decided them.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// The connection the core is on (or was last on).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// When the core next needs [`Core::handle_timeout`]: a registration to try again, or
    /// the end of a close's grace.
    pub fn next_deadline(&self) -> Option<Instant> {
        let retry = self.retries.iter().map(|retry| retry.due).min();
        let closing = self.closing.as_ref().map(Closing::deadline);
        retry.into_iter().chain(closing).min()
    }

    /// It is now `now`: registrations due to be tried again are.
    pub fn handle_timeout(&mut self, now: Instant) {
        if !self.retries.is_empty() {
            self.retry_restores(now);
        }
    }

    /// Connection `epoch` is joined: everything the user holds is made again on it (nothing,
    /// on the first one), with fresh ids.
    pub fn connected(&mut self, epoch: u64) {
        debug_assert!(epoch > self.epoch, "connection epochs only move forward");
        self.epoch = epoch;
        self.connected = true;
        self.restore();
    }

    /// The connection is gone: every request in flight fails with `error` (unregistering and
    /// unsubscribing succeed instead: the router let go of everything with the session), and
    /// handlers still running are told nobody wants their answers.
    pub fn connection_lost(&mut self, error: impl Fn() -> Error) {
        self.connected = false;
        // Restoring starts afresh on the next connection.
        self.retries.clear();
        for (_, pending) in std::mem::take(&mut self.pending) {
            match pending {
                Pending::Unregister(reply, local_id) => self.unregister_locally(local_id, reply),
                Pending::Unsubscribe(reply, local_id, _) => {
                    self.unsubscribe_locally(local_id, reply)
                }
                other => other.respond(Err(error())),
            }
        }
        self.invocations.abandon_all();
    }

    /// A caller wrote request `id` on connection `epoch`: its replies go to `pending`. One
    /// written on a connection since replaced fails at once: nothing there will answer it.
    pub fn request_sent(&mut self, epoch: u64, id: Id, pending: Pending) {
        if epoch != self.epoch || !self.connected {
            pending.respond(Err(Error::lost(
                "the connection was replaced before sending",
            )));
            return;
        }
        self.pending.insert(id, pending);
    }

    /// Asks the router to cancel call `request`, if it is still in flight. With `forget`,
    /// its answer is not waited for any more (the caller gave up).
    pub fn cancel(&mut self, request: Id, mode: Option<String>, forget: bool) {
        let in_flight = if forget {
            self.pending.remove(&request).is_some()
        } else {
            self.pending.contains_key(&request)
        };
        if in_flight && self.connected {
            let mut options = Dict::new();
            if let Some(mode) = mode {
                options.insert("mode".into(), Value::String(mode));
            }
            self.send(Message::Cancel { request, options });
        }
    }

    /// The user unregisters `local_id`.
    pub fn unregister(&mut self, local_id: u64, reply: ReplyTo) {
        match self.registrations.router_id(local_id) {
            Some(registration) if self.connected => {
                let request = self.next_request_id();
                self.pending
                    .insert(request, Pending::Unregister(reply, local_id));
                self.send(Message::Unregister {
                    request,
                    registration,
                });
            }
            // Not in place on this connection (being restored, or the connection is down):
            // forgetting it is all there is to do.
            _ => self.unregister_locally(local_id, reply),
        }
    }

    /// The user unsubscribes `local_id`.
    pub fn unsubscribe(&mut self, local_id: u64, reply: ReplyTo) {
        match self.subscriptions.router_id(local_id) {
            // The router subscription also serves other handlers of ours: only this one goes.
            Some(shared) if self.subscriptions.sharing(shared) > 1 => {
                self.unsubscribe_locally(local_id, reply)
            }
            Some(subscription) if self.connected => {
                let request = self.next_request_id();
                self.pending
                    .insert(request, Pending::Unsubscribe(reply, local_id, subscription));
                self.send(Message::Unsubscribe {
                    request,
                    subscription,
                });
            }
            _ => self.unsubscribe_locally(local_id, reply),
        }
    }

    /// A heartbeat for transports without pings: a CALL the router answers at once (with an
    /// error, as nobody may register under `wamp.`); any answer proves the link alive.
    pub fn probe(&mut self) {
        let request = self.next_request_id();
        self.pending.insert(request, Pending::Heartbeat);
        self.send(Message::Call {
            request,
            options: Dict::new(),
            procedure: HEARTBEAT_PROCEDURE.into(),
            args: Vec::new(),
            kwargs: Dict::new(),
        });
    }

    /// Ends a registration that has no counterpart at the router (the connection is down, or
    /// it is still being restored), so that it is not made again after a reconnect.
    fn unregister_locally(&mut self, local_id: u64, reply: ReplyTo) {
        let done = Message::Unregistered {
            request: 0,
            details: None,
        };
        let forgotten = self.registrations.forget(local_id);
        reply.send(
            forgotten
                .map(|_| done)
                .ok_or_else(|| not_live("registration", local_id)),
        );
    }

    /// The same as [`Self::unregister_locally`] for a subscription.
    fn unsubscribe_locally(&mut self, local_id: u64, reply: ReplyTo) {
        let done = Message::Unsubscribed {
            request: 0,
            details: None,
        };
        let forgotten = self.subscriptions.forget(local_id);
        reply.send(
            forgotten
                .map(|_| done)
                .ok_or_else(|| not_live("subscription", local_id)),
        );
    }

    fn next_request_id(&self) -> Id {
        self.ids.fetch_add(1, Ordering::Relaxed)
    }

    fn send(&mut self, message: Message) {
        self.out.push_back(Output::Send(message));
    }

    /// Counts what could not be made again after a reconnect, and has the revoked hooks told.
    fn restore_failed(&mut self, uri: &str, error: &Message) {
        self.counters
            .restore_failures
            .fetch_add(1, Ordering::Relaxed);
        let why = match error {
            Message::Error { error, args, .. } => match args.first().and_then(Value::as_str) {
                Some(text) => format!("{error}: {text}"),
                None => error.clone(),
            },
            _ => "unknown error".into(),
        };
        let what = format!("could not restore {uri} after reconnecting: {why}");
        log::error!("{what}");
        self.out.push_back(Output::Revoked(what));
    }

    /// Whether every table is empty: nothing in flight, nothing running, nothing to retry.
    #[cfg(test)]
    fn is_idle(&self) -> bool {
        self.pending.is_empty() && self.retries.is_empty() && self.invocations.count(None) == 0
    }
}

/// The answer to releasing an id the user does not hold.
fn not_live(what: &str, local_id: u64) -> Error {
    Error::InvalidArgument(format!("no live {what} with id {local_id}"))
}

/// Called as a heartbeat on transports without ping frames. Only routers provide `wamp.`
/// procedures and none has this one, so the answer is an immediate ERROR.
const HEARTBEAT_PROCEDURE: &str = "wamp.izaber.heartbeat";

/// How often a registration refused with `procedure_already_exists` is tried again after a
/// reconnect, and the waits between tries (doubling, capped): about 48 s in all.
const RESTORE_ATTEMPTS: u32 = 10;
const RESTORE_RETRY_BASE: Duration = Duration::from_millis(250);
const RESTORE_RETRY_MAX: Duration = Duration::from_secs(8);
