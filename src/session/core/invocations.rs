//! An INVOCATION arrives, lives and ends; an EVENT arrives.
//!
//! An INVOCATION is read by the socket thread, which hands it to [`Core::received`], or by a
//! handler worker reading the socket itself, which takes it with [`take_invocation`]; either
//! way it is noted in [`Invocations`] and becomes a handler job
//! ([`super::super::jobs::invocation_job`]), which answers it.
//!
//! An invocation is *queued* once the core (or a handler worker that read it itself) has
//! handed it to a handler, *running* once the worker started the handler
//! ([`InvocationState::start`]), *skipped* when cancelled before it started (it then never
//! runs, and the session answers for it), and *answered* once its final YIELD or ERROR is on
//! the wire, when it leaves [`Invocations`]. An INTERRUPT marks it cancelled; a lost
//! connection marks every one abandoned (`killnowait`: nobody wants the answer).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::protocol::{Dict, Id, LogSafe, Message, Peek, Value, code};

use super::super::handler::{Event, InvocationState};
use super::super::locks::Level;
use super::super::table::Published;
use super::super::{Counters, Locked, Registration, Subscription};
use super::{Core, Output};

/// The error URI of an invocation refused because its handler's queue is full.
pub(crate) const CONCURRENCY_LIMIT: &str = "wamp.error.concurrency_limit";

/// The invocations of the current connection whose handler is queued or running, by request.
///
/// The one table that threads other than the socket thread change directly: a handler
/// worker that reads an INVOCATION itself adds it before anything read after it reaches the
/// core, and whoever writes a final answer removes it, under `wire`. Telling the core through
/// a note instead would cost nothing per answer but a queue that grows while the socket
/// thread sleeps, which it may do for as long as workers read their own invocations. Lock
/// order: `wire`, then this (see [`super::super`]).
#[derive(Clone, Default)]
pub(crate) struct Invocations(Arc<Mutex<HashMap<Id, Arc<InvocationState>>>>);

impl Invocations {
    fn table(&self) -> Locked<'_, HashMap<Id, Arc<InvocationState>>> {
        Locked::lock(&self.0, Level::Invocations)
    }

    /// `request` waits for its handler, or runs.
    pub fn queued(&self, request: Id, state: Arc<InvocationState>) {
        self.table().insert(request, state);
    }

    /// `request`'s final answer is on the wire, or nobody wants it any more.
    pub fn answered(&self, request: Id) {
        self.table().remove(&request);
    }

    pub(super) fn get(&self, request: Id) -> Option<Arc<InvocationState>> {
        self.table().get(&request).cloned()
    }

    /// How many invocations other than `own` are queued or running.
    pub fn count(&self, own: Option<Id>) -> usize {
        self.table()
            .keys()
            .filter(|request| Some(**request) != own)
            .count()
    }

    /// Tells every handler still running that nobody can receive its answer any more (the
    /// session that invoked it is gone), so that a long one may stop early; empties the table.
    pub fn abandon_all(&self) {
        for (_, state) in self.table().drain() {
            state.interrupt("killnowait");
        }
    }

    /// Every invocation but `own`, for a close that cuts them off.
    fn all_but(&self, own: Option<Id>) -> Vec<(Id, Arc<InvocationState>)> {
        let mut all: Vec<_> = self
            .table()
            .iter()
            .filter(|(request, _)| Some(**request) != own)
            .map(|(request, state)| (*request, state.clone()))
            .collect();
        // In the order they came, and the same in every run.
        all.sort_unstable_by_key(|(request, _)| *request);
        all
    }
}

/// An INVOCATION as it arrived, for a handler job.
pub(crate) struct Arrived {
    pub request: Id,
    pub details: Dict,
    pub args: Vec<Value>,
    pub kwargs: Dict,
    /// Its encoded size.
    pub size: usize,
}

/// The ERROR that answers INVOCATION `request` with `uri` and a message, for answers the
/// session gives itself (no handler, refused, cancelled before it ran).
pub(crate) fn invocation_error(request: Id, uri: &str, message: String) -> Message {
    Message::Error {
        request_type: code::INVOCATION,
        request,
        details: Dict::new(),
        error: uri.to_owned(),
        args: vec![Value::String(message)],
        kwargs: Dict::new(),
    }
}

/// Whether a message's leading integers prove it is not an INVOCATION, so that a handler
/// worker reading for invocations hands it on without decoding it (an inconclusive peek
/// proves nothing).
pub(crate) fn cannot_be_invocation(peek: Option<Peek>) -> bool {
    peek.and_then(|peek| peek.get(0))
        .is_some_and(|message_type| message_type != code::INVOCATION)
}

/// Whether a message's leading integers prove it is not an EVENT of a subscription that
/// `subscribed` holds, so that a handler worker reading for work hands it on undecoded.
pub(crate) fn cannot_be_own_event(
    peek: Option<Peek>,
    subscribed: &Published<Subscription>,
) -> bool {
    let Some(peek) = peek else {
        return false;
    };
    match peek.get(0) {
        Some(code::EVENT) => peek
            .get(1)
            .is_some_and(|subscription| !subscribed.read().contains_key(&subscription)),
        Some(_) => true,
        None => false,
    }
}

/// Counts `message`, which a handler worker read and took, as received, as one of its `kind`
/// and as read by the worker (`by_worker`), and logs it as the socket thread would.
fn taken_by_worker(
    message: &Message,
    counters: &Counters,
    kind: &AtomicU64,
    by_worker: &AtomicU64,
) {
    counters.messages_received.fetch_add(1, Ordering::Relaxed);
    kind.fetch_add(1, Ordering::Relaxed);
    by_worker.fetch_add(1, Ordering::Relaxed);
    if log::log_enabled!(log::Level::Debug) {
        log::debug!("received {:?}", LogSafe(message));
    }
}

/// The EVENT in `message` with its subscription, when a handler worker that read it itself
/// may hand it out: the subscription is the only one under its router id (`subscribed`), and
/// `claim` agrees (the first event a worker runs itself needs a place to run now: see
/// [`ConcurrencyLimit::try_claim`](super::super::dispatch::ConcurrencyLimit::try_claim)).
/// Anything else is left to the core.
pub(crate) fn take_event(
    message: Message,
    subscribed: &Published<Subscription>,
    counters: &Counters,
    claim: impl FnOnce(&Subscription) -> bool,
) -> Option<(Arc<Subscription>, Event)> {
    let Message::Event { subscription, .. } = &message else {
        return None;
    };
    let entry = subscribed.read().get(subscription).cloned()?;
    if !claim(&entry) {
        return None;
    }
    taken_by_worker(
        &message,
        counters,
        &counters.events,
        &counters.events_read_by_worker,
    );
    let Message::Event {
        publication,
        details,
        args,
        kwargs,
        ..
    } = message
    else {
        unreachable!("matched above");
    };
    let event = Event::arrived(publication, details, args, kwargs, &entry.topic);
    Some((entry, event))
}

/// The INVOCATION in `message` (`size` bytes encoded), when a handler worker that read it
/// itself may run it (see [`super::super::leader`]): one for a registration in place
/// (`registered`) without a concurrency limit. It is counted and noted as queued before
/// anything read after it reaches the core, so that an INTERRUPT finds it. Anything else
/// (unknown here, perhaps not yet REGISTERED as far as the core has told; or behind a limit
/// the core keeps) is left to the core.
pub(crate) fn take_invocation(
    message: Message,
    size: usize,
    registered: &Published<Registration>,
    invocations: &Invocations,
    counters: &Counters,
) -> Option<(Arc<Registration>, Arrived, Arc<InvocationState>)> {
    let Message::Invocation { registration, .. } = &message else {
        return None;
    };
    let entry = registered.read().get(registration).cloned()?;
    if !entry.limit.is_unlimited() {
        return None;
    }
    taken_by_worker(
        &message,
        counters,
        &counters.invocations,
        &counters.invocations_read_by_worker,
    );
    let Message::Invocation {
        request,
        details,
        args,
        kwargs,
        ..
    } = message
    else {
        unreachable!("matched above");
    };
    let state = InvocationState::new();
    invocations.queued(request, state.clone());
    let arrived = Arrived {
        request,
        details,
        args,
        kwargs,
        size,
    };
    Some((entry, arrived, state))
}

impl Core {
    pub(super) fn invocation(
        &mut self,
        request: Id,
        registration: Id,
        details: Dict,
        args: Vec<Value>,
        kwargs: Dict,
        size: usize,
    ) {
        self.counters.invocations.fetch_add(1, Ordering::Relaxed);
        let Some(entry) = self.registrations.get(registration).first().cloned() else {
            self.send(invocation_error(
                request,
                "wamp.error.no_such_registration",
                format!("no handler for registration {registration}"),
            ));
            return;
        };
        let state = InvocationState::new();
        // Noted before anything read after it (an INTERRUPT) is handled.
        self.invocations.queued(request, state.clone());
        self.out.push_back(Output::Invoke {
            entry,
            arrived: Arrived {
                request,
                details,
                args,
                kwargs,
                size,
            },
            state,
            epoch: self.epoch,
        });
    }

    /// The handler's queue refused invocation `request`: the caller is told why at once.
    pub fn invocation_refused(&mut self, request: Id, why: String) {
        self.invocations.answered(request);
        self.send(invocation_error(request, CONCURRENCY_LIMIT, why));
    }

    /// A handler finished invocation `request` of connection `epoch` without an answer
    /// going out (nobody wanted it, or its connection is gone).
    pub fn invocation_forgotten(&mut self, request: Id, epoch: u64) {
        // On a later connection, the same request id may be another invocation's.
        if epoch == self.epoch {
            self.invocations.answered(request);
        }
    }

    pub(super) fn interrupt(&mut self, request: Id, options: &Dict) {
        let Some(state) = self.invocations.get(request) else {
            return;
        };
        let mode = options
            .get("mode")
            .and_then(Value::as_str)
            .unwrap_or("kill");
        state.interrupt(mode);
        // Not started yet (queued behind its concurrency limit): it will not run, and with
        // `kill` the router waits for our word, so it gets it now.
        if state.skip() {
            self.invocations.answered(request);
            if mode != "killnowait" {
                self.send(invocation_error(
                    request,
                    "wamp.error.canceled",
                    "the call was cancelled before its handler started".into(),
                ));
            }
        }
    }

    /// At the end of a close's grace: invocations still waiting for a handler thread are
    /// answered `wamp.error.canceled` and will not run; handlers still running are told they
    /// are cancelled, and their answers will be dropped. Returns how many of each.
    pub(super) fn cut_off_invocations(&mut self, own: Option<Id>) -> (u64, u64) {
        // Those waiting first: a running handler told to stop would free its thread for the
        // next waiting one, which would then start instead of being cancelled.
        let (mut running, mut cancelled) = (Vec::new(), 0);
        for (request, state) in self.invocations.all_but(own) {
            if state.skip() {
                self.invocations.answered(request);
                self.send(invocation_error(
                    request,
                    "wamp.error.canceled",
                    "the callee is shutting down: the call was not started within its grace".into(),
                ));
                cancelled += 1;
            } else {
                running.push(state);
            }
        }
        let cut_off = running.len() as u64;
        for state in running {
            state.interrupt("killnowait");
        }
        (cancelled, cut_off)
    }

    pub(super) fn event(
        &mut self,
        subscription: Id,
        publication: Id,
        details: Dict,
        args: Vec<Value>,
        kwargs: Dict,
        size: usize,
    ) {
        self.counters.events.fetch_add(1, Ordering::Relaxed);
        let entries = self.subscriptions.get(subscription);
        let Some(last) = entries.last() else {
            log::debug!("event for unknown subscription {subscription} dropped");
            return;
        };
        let event = Event::arrived(publication, details, args, kwargs, &last.topic);
        self.out.push_back(Output::Deliver {
            entries: entries.to_vec(),
            event,
            size,
        });
    }
}
