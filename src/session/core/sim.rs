//! Deterministic simulation of the session core.
//!
//! A seeded schedule drives one [`Core`] the way the socket thread, callers and handler
//! workers do, against a model of a WAMP router (Crossbar's behaviour where it matters: one
//! subscription per topic, registrations held for a while by a dead session, ids restarting
//! from 1 on a new session). Each step is one random event: a caller's request or command,
//! the router handling a message or sending one of its own (invocations, interrupts, events,
//! revocations, late and duplicate answers), a handler starting or answering, time passing,
//! the connection dropping at any point, a reconnect, a close. After every step the
//! invariants are checked:
//!
//! - every request completes exactly once (an answer `Closed` before the session ended counts
//!   as a request the core lost);
//! - no answer crosses a connection (the router gets a YIELD or ERROR only for an invocation
//!   it sent on the same session and has not had answered);
//! - once a restore has settled, the router holds exactly what the user holds;
//! - no handler starts for an invocation the core answered as cancelled while it was queued;
//! - when a close says it is drained before its deadline, nothing is in hand;
//! - when all is done, the core's tables are empty;
//! - deadlines only move forward: after `handle_timeout(now)` nothing is due at `now`.
//!
//! `cargo test --release --lib session::core::sim` runs [`SCHEDULES`] schedules (or
//! `SIM_SCHEDULES`, from `SIM_FIRST_SEED`); a failure prints the seed and the one-line
//! command that replays it with a trace of every step.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::Error;
use crate::protocol::{Dict, Id, Message, Value, code};

use super::super::dispatch::{ConcurrencyLimit, Overflow};
use super::super::handler::InvocationState;
use super::super::reply::{ReplyTo, Waiter, oneshot};
use super::super::table::Published;
use super::super::{ADD_TESTAMENT, Counters, FLUSH_TESTAMENTS, Registration, Subscription};
use super::super::{Testament, Yielded};
use super::{Core, Invocations, Output, Pending, ShutdownReport};

/// Schedules run by [`schedules`] unless `SIM_SCHEDULES` says otherwise: 100,000 in an
/// optimized build (CI runs it so, in about half a minute), a few thousand in a debug one.
const SCHEDULES: u64 = if cfg!(debug_assertions) {
    5_000
} else {
    100_000
};
/// Steps in one schedule (the last ones close the session).
const STEPS: usize = 120;

const PROCEDURES: [&str; 4] = ["p.a", "p.b", "p.c", "p.d"];
const TOPICS: [&str; 2] = ["t.a", "t.b"];

/// splitmix64: small, fast, and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// What a caller waits on.
enum Waiting {
    Once(Waiter<Message>),
    Stream(crossbeam_channel::Receiver<Result<Message, Error>>),
}

/// What a caller asked for, and what became of it.
struct Request {
    what: &'static str,
    waiting: Waiting,
    /// The caller gave up waiting (a timeout): nothing is owed to it any more.
    forgotten: bool,
    /// Final answers seen: exactly one is owed, unless forgotten.
    finals: u32,
    /// For a registration or subscription: the entry, held once the answer is a success.
    entry: Option<Held>,
}

#[derive(Clone)]
enum Held {
    Registration(Arc<Registration>),
    Subscription(Arc<Subscription>),
    /// An unregister or unsubscribe of this local id.
    Release(u64, bool),
    /// `wamp.session.add_testament` / `flush_testaments`.
    Testament(bool),
}

/// A handler job the core handed out.
struct Job {
    request: Id,
    epoch: u64,
    state: Arc<InvocationState>,
    started: bool,
}

/// The router's view of our session on one connection.
#[derive(Default)]
struct RouterSession {
    epoch: u64,
    /// Ids it hands out (registrations, subscriptions, publications).
    next_id: Id,
    /// INVOCATION request ids: sequential from 1 in each session, as the specification has
    /// the router's requests, so the same id comes again after every reconnect.
    next_invocation: Id,
    registrations: BTreeMap<Id, String>,
    subscriptions: BTreeMap<Id, String>,
    testaments: usize,
    /// Calls it has not answered yet, with whether the caller wants progress.
    calls: BTreeMap<Id, bool>,
    /// Invocations it sent and waits to have answered.
    invocations: BTreeSet<Id>,
    /// Invocations interrupted with `killnowait`: their callers have their answer, and one
    /// late answer from us is ignored.
    abandoned: BTreeSet<Id>,
    /// Messages from the client it has not handled yet, in order.
    inbox: VecDeque<Message>,
    /// Messages for the client not yet delivered, in order.
    outbox: VecDeque<Message>,
    /// Procedures our previous session still holds here: REGISTER is refused this many more
    /// times.
    ghosts: BTreeMap<String, u32>,
    /// A URI this session may not use: REGISTER and SUBSCRIBE to it fail.
    forbidden: String,
    /// Answers sent, to send again late or twice.
    sent_answers: Vec<Message>,
    /// The requests it got, by id.
    seen: BTreeSet<Id>,
}

impl RouterSession {
    fn id(&mut self) -> Id {
        self.next_id += 1;
        self.next_id
    }
}

struct Sim {
    rng: Rng,
    trace: Vec<String>,
    tracing: bool,
    now: Instant,
    core: Core,
    ids: Arc<AtomicU64>,
    local_ids: u64,
    counters: Arc<Counters>,
    invocations: Invocations,
    /// Our connection number; the router session on it, while connected.
    epoch: u64,
    router: Option<RouterSession>,
    /// Procedures the last session had registered, which the router holds a while longer.
    last_registered: Vec<String>,
    requests: BTreeMap<Id, Request>,
    /// What the user holds, by local id.
    held_registrations: BTreeMap<u64, Arc<Registration>>,
    held_subscriptions: BTreeMap<u64, Arc<Subscription>>,
    /// Testaments the user added and has not flushed.
    held_testaments: usize,
    jobs: Vec<Job>,
    /// Invocations (by epoch and request) the core answered as cancelled before they started.
    skipped: BTreeSet<(u64, Id)>,
    closing: Option<(Instant, Waiter<ShutdownReport>)>,
    ended: bool,
    report: Option<ShutdownReport>,
}

fn dummy_limit() -> Arc<ConcurrencyLimit> {
    ConcurrencyLimit::new(None, usize::MAX, usize::MAX, Overflow::RefuseNewest)
}

fn details(pairs: &[(&str, Value)]) -> Dict {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

impl Sim {
    fn new(seed: u64, tracing: bool) -> Sim {
        let ids = Arc::new(AtomicU64::new(1));
        let counters = Arc::new(Counters::default());
        let invocations = Invocations::default();
        let core = Core::new(
            ids.clone(),
            counters.clone(),
            Published::default(),
            Published::default(),
            invocations.clone(),
        );
        let mut sim = Sim {
            rng: Rng(seed),
            trace: Vec::new(),
            tracing,
            now: Instant::now(),
            core,
            ids,
            local_ids: 0,
            counters,
            invocations,
            epoch: 0,
            router: None,
            last_registered: Vec::new(),
            requests: BTreeMap::new(),
            held_registrations: BTreeMap::new(),
            held_subscriptions: BTreeMap::new(),
            held_testaments: 0,
            jobs: Vec::new(),
            skipped: BTreeSet::new(),
            closing: None,
            ended: false,
            report: None,
        };
        sim.connect();
        sim
    }

    fn log(&mut self, what: impl FnOnce() -> String) {
        if self.tracing {
            let line = what();
            println!("{:>4} {line}", self.trace.len());
            self.trace.push(line);
        } else {
            self.trace.push(String::new());
        }
    }

    // ---- the driver's side -------------------------------------------------------------

    /// Carries out the core's outputs as the socket thread does.
    fn carry_out(&mut self) -> Result<(), String> {
        while let Some(output) = self.core.poll_output() {
            match output {
                Output::Send(message) => self.send_to_router(message)?,
                Output::Invoke {
                    arrived,
                    state,
                    epoch,
                    ..
                } => {
                    if self.rng.chance(5) {
                        // The handler's queue is full.
                        self.log(|| format!("refuse invocation {}", arrived.request));
                        self.core
                            .invocation_refused(arrived.request, "queue full".into());
                    } else {
                        self.jobs.push(Job {
                            request: arrived.request,
                            epoch,
                            state,
                            started: false,
                        });
                    }
                }
                Output::Deliver { entries, .. } => {
                    for entry in &entries {
                        if !self.core.subscriptions.is_wanted(entry.local_id) {
                            return Err(format!(
                                "an event went to subscription {} that is no longer wanted",
                                entry.local_id
                            ));
                        }
                    }
                }
                Output::Revoked(_) => {}
            }
        }
        Ok(())
    }

    /// A message the client writes reaches the router (if there is one to reach).
    fn send_to_router(&mut self, message: Message) -> Result<(), String> {
        if let Message::Unsubscribe {
            request,
            subscription,
        } = &message
        {
            // A router subscription is given up only when no other entry of ours is under it.
            let under: Vec<u64> = self
                .core
                .subscriptions
                .get(*subscription)
                .iter()
                .map(|entry| entry.local_id)
                .collect();
            let alone = match self.core.pending.get(request) {
                Some(Pending::Unsubscribe(_, local_id, _)) => under == [*local_id],
                Some(Pending::Release(_)) => under.is_empty(),
                _ => false,
            };
            if !alone {
                return Err(format!(
                    "UNSUBSCRIBE {subscription} sent while entries {under:?} are under it"
                ));
            }
        }
        let epoch = self.epoch;
        let Some(router) = self.router.as_mut() else {
            return Err(format!(
                "{} sent with no connection",
                super::super::describe(&message)
            ));
        };
        if router.epoch != epoch {
            return Err("sent on a connection that is gone".into());
        }
        router.inbox.push_back(message);
        Ok(())
    }

    fn connect(&mut self) {
        self.epoch += 1;
        let mut router = RouterSession {
            epoch: self.epoch,
            // A router that restarted counts from 1 again; one that did not, on and on.
            next_id: if self.rng.chance(50) {
                0
            } else {
                self.rng.below(1000) as Id * 10
            },
            forbidden: if self.rng.chance(20) {
                (*self.rng.pick(&PROCEDURES)).to_owned()
            } else if self.rng.chance(20) {
                (*self.rng.pick(&TOPICS)).to_owned()
            } else {
                String::new()
            },
            ..RouterSession::default()
        };
        for procedure in std::mem::take(&mut self.last_registered) {
            if self.rng.chance(30) {
                router
                    .ghosts
                    .insert(procedure, 1 + self.rng.below(3) as u32);
            }
        }
        self.router = Some(router);
        // Join-hook entries are not restored: the hook makes them again.
        self.held_registrations.retain(|_, entry| entry.restore);
        self.held_subscriptions.retain(|_, entry| entry.restore);
        let epoch = self.epoch;
        self.log(|| format!("connected: epoch {epoch}"));
        self.core.connected(epoch);
    }

    fn connection_lost(&mut self, error: Error) {
        let router = self.router.take();
        if let Some(router) = router {
            self.last_registered = router.registrations.into_values().collect();
        }
        let text = error.to_string();
        self.log(|| format!("connection lost: {text}"));
        let kind = move || match &error {
            Error::Closed => Error::Closed,
            _ => Error::lost(text.clone()),
        };
        self.core.connection_lost(kind);
    }

    // ---- callers -----------------------------------------------------------------------

    fn next_request_id(&self) -> Id {
        self.ids.fetch_add(1, Ordering::Relaxed)
    }

    /// A caller writes `message` as request `id` and notes it for the core. Callers encode for
    /// the connection they see; sometimes that one was replaced meanwhile (a stale note).
    fn caller_sends(&mut self, id: Id, message: Message, pending: Pending, request: Request) {
        let stale = self.rng.chance(3);
        let epoch = if stale { self.epoch - 1 } else { self.epoch };
        self.log(|| {
            format!(
                "caller: {} as {id}{}",
                super::super::describe(&message),
                if stale { " (stale epoch)" } else { "" }
            )
        });
        if !stale && let Some(router) = self.router.as_mut() {
            router.seen.insert(id);
            router.inbox.push_back(message);
        }
        self.requests.insert(id, request);
        self.core.request_sent(epoch, id, pending);
    }

    fn request(what: &'static str, waiting: Waiting, entry: Option<Held>) -> Request {
        Request {
            what,
            waiting,
            forgotten: false,
            finals: 0,
            entry,
        }
    }

    fn caller_step(&mut self) {
        let id = self.next_request_id();
        match self.rng.below(9) {
            0..=2 => {
                let progress = self.rng.chance(30);
                let (reply, waiting) = if progress {
                    let (tx, rx) = crossbeam_channel::unbounded();
                    (ReplyTo::Stream(tx), Waiting::Stream(rx))
                } else {
                    let (responder, waiter) = oneshot();
                    (ReplyTo::Once(responder), Waiting::Once(waiter))
                };
                let mut options = Dict::new();
                if progress {
                    options.insert("receive_progress".into(), Value::Bool(true));
                }
                let message = Message::Call {
                    request: id,
                    options,
                    procedure: "remote.proc".into(),
                    args: Vec::new(),
                    kwargs: Dict::new(),
                };
                let request = Sim::request("call", waiting, None);
                self.caller_sends(id, message, Pending::Call(reply), request);
            }
            3 => {
                self.local_ids += 1;
                let procedure = (*self.rng.pick(&PROCEDURES)).to_owned();
                let entry = Arc::new(Registration {
                    local_id: self.local_ids,
                    procedure: procedure.clone(),
                    options: Dict::new(),
                    handler: Arc::new(|_| Ok(Yielded::value(Value::Null))),
                    limit: dummy_limit(),
                    restore: !self.rng.chance(10),
                });
                let (responder, waiter) = oneshot();
                let message = Message::Register {
                    request: id,
                    options: Dict::new(),
                    procedure,
                };
                let pending = Pending::Register(ReplyTo::Once(responder), entry.clone());
                let held = Some(Held::Registration(entry));
                let request = Sim::request("register", Waiting::Once(waiter), held);
                self.caller_sends(id, message, pending, request);
            }
            4 => {
                self.local_ids += 1;
                let topic = (*self.rng.pick(&TOPICS)).to_owned();
                let entry = Arc::new(Subscription {
                    local_id: self.local_ids,
                    topic: topic.clone(),
                    options: Dict::new(),
                    handler: Arc::new(|_| {}),
                    limit: dummy_limit(),
                    restore: !self.rng.chance(10),
                });
                let (responder, waiter) = oneshot();
                let message = Message::Subscribe {
                    request: id,
                    options: Dict::new(),
                    topic,
                };
                let pending = Pending::Subscribe(ReplyTo::Once(responder), entry.clone());
                let held = Some(Held::Subscription(entry));
                let request = Sim::request("subscribe", Waiting::Once(waiter), held);
                self.caller_sends(id, message, pending, request);
            }
            5 => {
                // Unregister or unsubscribe something held (or long gone).
                let registration = self.rng.chance(50);
                let held: Vec<u64> = if registration {
                    self.held_registrations.keys().copied().collect()
                } else {
                    self.held_subscriptions.keys().copied().collect()
                };
                let local_id = if !held.is_empty() && self.rng.chance(80) {
                    *self.rng.pick(&held)
                } else {
                    1 + self.rng.below(self.local_ids.max(1) as usize) as u64
                };
                let (responder, waiter) = oneshot();
                self.log(|| format!("caller: release local {local_id} as {id}"));
                self.requests.insert(
                    id,
                    Sim::request(
                        "release",
                        Waiting::Once(waiter),
                        Some(Held::Release(local_id, registration)),
                    ),
                );
                if registration {
                    self.core.unregister(local_id, ReplyTo::Once(responder));
                } else {
                    self.core.unsubscribe(local_id, ReplyTo::Once(responder));
                }
            }
            6 => {
                let (responder, waiter) = oneshot();
                let message = Message::Publish {
                    request: id,
                    options: details(&[("acknowledge", Value::Bool(true))]),
                    topic: (*self.rng.pick(&TOPICS)).to_owned(),
                    args: Vec::new(),
                    kwargs: Dict::new(),
                };
                let pending = Pending::Publish(ReplyTo::Once(responder));
                let request = Sim::request("publish", Waiting::Once(waiter), None);
                self.caller_sends(id, message, pending, request);
            }
            7 => {
                let (responder, waiter) = oneshot();
                if self.rng.chance(70) {
                    let testament = Arc::new(Testament::new(
                        "t.gone".into(),
                        Vec::new(),
                        Dict::new(),
                        Dict::new(),
                    ));
                    let message = testament.call(id);
                    let pending = Pending::AddTestament(ReplyTo::Once(responder), testament);
                    let held = Some(Held::Testament(true));
                    let request = Sim::request("add testament", Waiting::Once(waiter), held);
                    self.caller_sends(id, message, pending, request);
                } else {
                    let message = Message::Call {
                        request: id,
                        options: Dict::new(),
                        procedure: FLUSH_TESTAMENTS.into(),
                        args: Vec::new(),
                        kwargs: Dict::new(),
                    };
                    let pending = Pending::FlushTestaments(ReplyTo::Once(responder));
                    let held = Some(Held::Testament(false));
                    let request = Sim::request("flush testaments", Waiting::Once(waiter), held);
                    self.caller_sends(id, message, pending, request);
                }
            }
            _ => {
                // Cancel a call in flight, in any mode; or give up on it (a timeout).
                let calls: Vec<Id> = self
                    .requests
                    .iter()
                    .filter(|(_, r)| r.what == "call" && r.finals == 0 && !r.forgotten)
                    .map(|(id, _)| *id)
                    .collect();
                if calls.is_empty() {
                    return;
                }
                let call = *self.rng.pick(&calls);
                let mode = *self.rng.pick(&["kill", "killnowait", "skip"]);
                let forget = mode == "skip" || self.rng.chance(30);
                self.log(|| format!("caller: cancel {call} ({mode}, forget {forget})"));
                if forget {
                    self.requests.get_mut(&call).expect("listed").forgotten = true;
                }
                self.core.cancel(call, Some(mode.to_owned()), forget);
            }
        }
    }

    /// Takes the answers that reached callers, and checks none got more than one.
    fn collect_answers(&mut self) -> Result<(), String> {
        let ended = self.ended;
        for (id, request) in self.requests.iter_mut() {
            let mut answers = Vec::new();
            match &request.waiting {
                Waiting::Once(waiter) => {
                    if let Some(answer) = waiter.wait_until(Instant::now()) {
                        answers.push(answer);
                    }
                }
                Waiting::Stream(rx) => {
                    while let Ok(answer) = rx.try_recv() {
                        let progress = matches!(&answer, Ok(Message::Result { details, .. })
                            if details.get("progress").and_then(Value::as_bool) == Some(true));
                        if !progress {
                            answers.push(answer);
                        }
                    }
                }
            }
            for answer in answers {
                request.finals += 1;
                if request.finals > 1 {
                    return Err(format!("request {id} ({}) answered twice", request.what));
                }
                if !request.forgotten && !ended && matches!(answer, Err(Error::Closed)) {
                    return Err(format!(
                        "request {id} ({}) was dropped by the core without an answer",
                        request.what
                    ));
                }
                let ok = match &answer {
                    Ok(Message::Error { .. }) | Err(_) => false,
                    Ok(_) => true,
                };
                match (&request.entry, ok) {
                    (Some(Held::Registration(entry)), true) => {
                        self.held_registrations
                            .insert(entry.local_id, entry.clone());
                    }
                    (Some(Held::Subscription(entry)), true) => {
                        self.held_subscriptions
                            .insert(entry.local_id, entry.clone());
                    }
                    (Some(Held::Release(local_id, true)), true) => {
                        self.held_registrations.remove(local_id);
                    }
                    (Some(Held::Release(local_id, false)), true) => {
                        self.held_subscriptions.remove(local_id);
                    }
                    (Some(Held::Testament(true)), true) => self.held_testaments += 1,
                    (Some(Held::Testament(false)), true) => self.held_testaments = 0,
                    _ => {}
                }
            }
        }
        Ok(())
    }

    // ---- handler workers ---------------------------------------------------------------

    fn worker_step(&mut self) -> Result<(), String> {
        if self.jobs.is_empty() {
            return Ok(());
        }
        let index = self.rng.below(self.jobs.len());
        if !self.jobs[index].started {
            let job = &mut self.jobs[index];
            if job.state.start() {
                if self.skipped.contains(&(job.epoch, job.request)) {
                    return Err(format!(
                        "the handler of invocation {} started after the core answered it \
                         as cancelled",
                        job.request
                    ));
                }
                job.started = true;
                let request = job.request;
                self.log(|| format!("worker: start invocation {request}"));
            } else {
                let job = self.jobs.swap_remove(index);
                self.log(|| format!("worker: invocation {} skipped", job.request));
            }
            return Ok(());
        }
        // The handler returns; its answer goes out as the job's `answer_invocation` does.
        let job = self.jobs.swap_remove(index);
        let (request, epoch) = (job.request, job.epoch);
        if job.state.answer_unwanted() {
            self.log(|| format!("worker: answer to {request} unwanted"));
            self.core.invocation_forgotten(request, epoch);
            return Ok(());
        }
        let connected = self.router.is_some() && epoch == self.epoch;
        if !connected {
            // Refused by the epoch check: its connection is gone.
            self.log(|| format!("worker: answer to {request} (epoch {epoch}) dropped"));
            self.core.invocation_forgotten(request, epoch);
            return Ok(());
        }
        let message = if job.state.is_interrupted() {
            super::invocation_error(request, "wamp.error.canceled", "cancelled".into())
        } else {
            Message::Yield {
                request,
                options: Dict::new(),
                args: Vec::new(),
                kwargs: Dict::new(),
            }
        };
        self.log(|| format!("worker: answers {request}"));
        // Written under `wire`, which removes it from the table.
        self.invocations.answered(request);
        self.counters
            .invocations_answered
            .fetch_add(1, Ordering::Relaxed);
        self.send_to_router(message)
    }

    // ---- the router --------------------------------------------------------------------

    /// The router handles the next message the client sent.
    fn router_handles(&mut self) -> Result<(), String> {
        let Some(router) = self.router.as_mut() else {
            return Ok(());
        };
        let Some(message) = router.inbox.pop_front() else {
            return Ok(());
        };
        let rng = &mut self.rng;
        let mut reply = Vec::new();
        let error = |request_type, request, uri: &str| Message::Error {
            request_type,
            request,
            details: Dict::new(),
            error: uri.to_owned(),
            args: Vec::new(),
            kwargs: Dict::new(),
        };
        match message {
            Message::Call {
                request,
                procedure,
                options,
                ..
            } => {
                if procedure == ADD_TESTAMENT {
                    router.testaments += 1;
                    reply.push(result(request, false));
                } else if procedure == FLUSH_TESTAMENTS {
                    router.testaments = 0;
                    reply.push(result(request, false));
                } else if procedure.starts_with("wamp.") {
                    reply.push(error(code::CALL, request, "wamp.error.no_such_procedure"));
                } else {
                    let progress = options.contains_key("receive_progress");
                    router.calls.insert(request, progress);
                }
            }
            Message::Cancel { request, options } => {
                let mode = options
                    .get("mode")
                    .and_then(Value::as_str)
                    .unwrap_or("kill");
                if mode != "skip" && router.calls.remove(&request).is_some() {
                    reply.push(error(code::CALL, request, "wamp.error.canceled"));
                }
            }
            Message::Register {
                request, procedure, ..
            } => {
                let taken = router.registrations.values().any(|p| *p == procedure);
                let ghost = router.ghosts.get_mut(&procedure).filter(|left| **left > 0);
                if taken || ghost.is_some() {
                    if let Some(left) = ghost {
                        *left -= 1;
                    }
                    reply.push(error(
                        code::REGISTER,
                        request,
                        "wamp.error.procedure_already_exists",
                    ));
                } else if procedure == router.forbidden {
                    reply.push(error(code::REGISTER, request, "wamp.error.not_authorized"));
                } else {
                    let registration = router.id();
                    router.registrations.insert(registration, procedure);
                    reply.push(Message::Registered {
                        request,
                        registration,
                    });
                }
            }
            Message::Unregister {
                request,
                registration,
            } => {
                if router.registrations.remove(&registration).is_some() {
                    reply.push(Message::Unregistered {
                        request,
                        details: None,
                    });
                } else {
                    reply.push(error(
                        code::UNREGISTER,
                        request,
                        "wamp.error.no_such_registration",
                    ));
                }
            }
            Message::Subscribe { request, topic, .. } => {
                if topic == router.forbidden {
                    reply.push(error(code::SUBSCRIBE, request, "wamp.error.not_authorized"));
                } else {
                    // One subscription per topic and session, as Crossbar does.
                    let existing = router
                        .subscriptions
                        .iter()
                        .find(|(_, t)| **t == topic)
                        .map(|(id, _)| *id);
                    let subscription = match existing {
                        Some(id) => id,
                        None => {
                            let id = router.id();
                            router.subscriptions.insert(id, topic);
                            id
                        }
                    };
                    reply.push(Message::Subscribed {
                        request,
                        subscription,
                    });
                }
            }
            Message::Unsubscribe {
                request,
                subscription,
            } => {
                if router.subscriptions.remove(&subscription).is_some() {
                    reply.push(Message::Unsubscribed {
                        request,
                        details: None,
                    });
                } else {
                    reply.push(error(
                        code::UNSUBSCRIBE,
                        request,
                        "wamp.error.no_such_subscription",
                    ));
                }
            }
            Message::Publish { request, .. } => {
                if rng.chance(10) {
                    reply.push(error(code::PUBLISH, request, "wamp.error.not_authorized"));
                } else {
                    let publication = router.id();
                    reply.push(Message::Published {
                        request,
                        publication,
                    });
                }
            }
            Message::Yield { request, .. }
            | Message::Error {
                request_type: code::INVOCATION,
                request,
                ..
            } => {
                if !router.invocations.remove(&request) && !router.abandoned.remove(&request) {
                    return Err(format!(
                        "the router got an answer to invocation {request}, which it did not \
                         send on this session (epoch {}) or had answered already",
                        router.epoch
                    ));
                }
            }
            Message::Goodbye { .. } => {}
            other => return Err(format!("the router got an unexpected {}", other.name())),
        }
        router.sent_answers.extend(reply.iter().cloned());
        router.outbox.extend(reply);
        Ok(())
    }

    /// The router sends something of its own.
    fn router_acts(&mut self) {
        let Some(router) = self.router.as_mut() else {
            return;
        };
        let rng = &mut self.rng;
        let message = match rng.below(8) {
            0 | 1 => {
                // Answer a call: a progressive result first, sometimes.
                let Some((&request, &progress)) = router.calls.iter().nth(rng.below(8)) else {
                    return;
                };
                if progress && rng.chance(40) {
                    result(request, true)
                } else {
                    router.calls.remove(&request);
                    if rng.chance(20) {
                        Message::Error {
                            request_type: code::CALL,
                            request,
                            details: Dict::new(),
                            error: "app.error".into(),
                            args: Vec::new(),
                            kwargs: Dict::new(),
                        }
                    } else {
                        result(request, false)
                    }
                }
            }
            2 | 3 => {
                let Some((&registration, _)) = router.registrations.iter().nth(rng.below(4)) else {
                    return;
                };
                router.next_invocation += 1;
                let request = router.next_invocation;
                router.invocations.insert(request);
                Message::Invocation {
                    request,
                    registration,
                    details: Dict::new(),
                    args: Vec::new(),
                    kwargs: Dict::new(),
                }
            }
            4 => {
                let Some(&request) = router.invocations.iter().nth(rng.below(4)) else {
                    return;
                };
                let mode = *rng.pick(&["kill", "killnowait"]);
                if mode == "killnowait" {
                    // The router has answered the caller: it waits for nothing more.
                    router.invocations.remove(&request);
                    router.abandoned.insert(request);
                }
                Message::Interrupt {
                    request,
                    options: details(&[("mode", Value::from(mode))]),
                }
            }
            5 => {
                let Some((&subscription, _)) = router.subscriptions.iter().nth(rng.below(3)) else {
                    return;
                };
                let publication = router.id();
                Message::Event {
                    subscription,
                    publication,
                    details: Dict::new(),
                    args: Vec::new(),
                    kwargs: Dict::new(),
                }
            }
            6 => {
                // A late or duplicate answer, or one for a request nobody made.
                if router.sent_answers.is_empty() || rng.chance(30) {
                    result(1_000_000 + rng.below(100) as Id, false)
                } else {
                    let index = rng.below(router.sent_answers.len());
                    router.sent_answers[index].clone()
                }
            }
            _ => {
                // The router revokes a registration or a subscription.
                if rng.chance(50) {
                    let Some((&registration, _)) = router.registrations.iter().nth(rng.below(4))
                    else {
                        return;
                    };
                    router.registrations.remove(&registration);
                    Message::Unregistered {
                        request: 0,
                        details: Some(details(&[
                            ("registration", Value::from(registration)),
                            ("reason", Value::from("wamp.close.killed")),
                        ])),
                    }
                } else {
                    let Some((&subscription, _)) = router.subscriptions.iter().nth(rng.below(3))
                    else {
                        return;
                    };
                    router.subscriptions.remove(&subscription);
                    Message::Unsubscribed {
                        request: 0,
                        details: Some(details(&[("subscription", Value::from(subscription))])),
                    }
                }
            }
        };
        router.outbox.push_back(message);
    }

    /// The next message from the router reaches the core, as the socket thread hands it.
    fn deliver(&mut self) -> Result<(), String> {
        let Some(message) = self.router.as_mut().and_then(|r| r.outbox.pop_front()) else {
            return Ok(());
        };
        let revoked = match &message {
            Message::Unregistered {
                request: 0,
                details,
            } => details
                .as_ref()
                .and_then(|d| d.get("registration"))
                .and_then(Value::as_u64)
                .map(|id| (true, id)),
            Message::Unsubscribed {
                request: 0,
                details,
            } => details
                .as_ref()
                .and_then(|d| d.get("subscription"))
                .and_then(Value::as_u64)
                .map(|id| (false, id)),
            _ => None,
        };
        if let Some((registration, id)) = revoked {
            // Whatever of the user's was under that id is gone.
            if registration {
                let gone = self.core.registrations.get(id).to_vec();
                for entry in gone {
                    self.held_registrations.remove(&entry.local_id);
                }
            } else {
                let gone = self.core.subscriptions.get(id).to_vec();
                for entry in gone {
                    self.held_subscriptions.remove(&entry.local_id);
                }
            }
        }
        // A restore the router refused for good: the user no longer holds it.
        let refused_restore = match &message {
            Message::Error { request, error, .. }
                if error != "wamp.error.procedure_already_exists" =>
            {
                match self.core.pending.get(request) {
                    Some(Pending::Restore(entry, _)) => Some((true, entry.local_id)),
                    Some(Pending::Resubscribe(entry)) => Some((false, entry.local_id)),
                    _ => None,
                }
            }
            Message::Error { request, .. } => match self.core.pending.get(request) {
                Some(Pending::Restore(entry, attempt))
                    if *attempt + 1 >= super::RESTORE_ATTEMPTS =>
                {
                    Some((true, entry.local_id))
                }
                _ => None,
            },
            _ => None,
        };
        match refused_restore {
            Some((true, local_id)) => {
                self.held_registrations.remove(&local_id);
            }
            Some((false, local_id)) => {
                self.held_subscriptions.remove(&local_id);
            }
            None => {}
        }
        if let Message::Error { request, .. } = &message
            && let Some(Pending::RestoreTestament(_)) = self.core.pending.get(request)
        {
            self.held_testaments = self.held_testaments.saturating_sub(1);
        }
        let interrupted = match &message {
            Message::Interrupt { request, .. } => Some(*request),
            _ => None,
        };
        self.log(|| format!("router -> client: {message:?}"));
        let outcome = self.core.received(message, 10, self.now);
        if let Some(request) = interrupted
            && self.invocations.get(request).is_none()
        {
            // Answered by the core as cancelled (or unknown): no handler may start for it.
            self.skipped.insert((self.epoch, request));
        }
        self.carry_out()?;
        if let Err(reason) = outcome {
            self.connection_lost(Error::lost(reason));
            self.reconnect_or_end();
        }
        Ok(())
    }

    fn reconnect_or_end(&mut self) {
        if self.closing.is_some() || self.rng.chance(10) {
            self.end(Error::GaveUp {
                reason: "gave up".into(),
            });
        }
        // Otherwise reconnect later (a step of its own).
    }

    fn end(&mut self, error: Error) {
        if self.ended {
            return;
        }
        if self.closing.is_some() {
            self.core.cut_off(self.now);
        }
        if self.router.is_some() {
            self.connection_lost(error);
        }
        // `shutdown`: anything still pending fails (already done by the loss), and the
        // close's report goes out.
        self.core.finish_close(self.now);
        self.ended = true;
        self.log(|| "ended".into());
    }

    // ---- invariants --------------------------------------------------------------------

    fn check(&mut self) -> Result<(), String> {
        self.collect_answers()?;
        if let Some(due) = self.core.next_deadline()
            && due <= self.now
            && self.closing.is_none()
        {
            return Err("a deadline at or before now was left after handle_timeout".into());
        }
        self.check_settled()?;
        self.check_requests_are_on_this_connection()?;
        self.check_invocation_table()?;
        if self.ended {
            if !self.core.is_idle() {
                return Err(format!(
                    "tables not empty at the end: {} pending, {} retries, {} invocations",
                    self.core.pending.len(),
                    self.core.retries.len(),
                    self.invocations.count(None)
                ));
            }
            for (id, request) in &self.requests {
                if !request.forgotten && request.finals != 1 {
                    return Err(format!(
                        "request {id} ({}) ended with {} answers",
                        request.what, request.finals
                    ));
                }
            }
        }
        Ok(())
    }

    /// Once nothing about registrations, subscriptions or testaments is in flight, the
    /// router holds exactly what the user holds.
    fn check_settled(&self) -> Result<(), String> {
        let Some(router) = &self.router else {
            return Ok(());
        };
        let in_flight = !router.inbox.is_empty()
            || !router.outbox.is_empty()
            || !self.core.retries.is_empty()
            || self.closing.is_some()
            || self
                .requests
                .values()
                .any(|r| r.entry.is_some() && r.finals == 0)
            || self.core.pending.values().any(|p| {
                !matches!(
                    p,
                    Pending::Call(_) | Pending::Publish(_) | Pending::Heartbeat
                )
            });
        if in_flight {
            return Ok(());
        }
        let router_procedures: BTreeSet<&String> = router.registrations.values().collect();
        let user_procedures: BTreeSet<&String> = self
            .held_registrations
            .values()
            .map(|entry| &entry.procedure)
            .collect();
        if router_procedures != user_procedures {
            return Err(format!(
                "settled, the router has registrations {router_procedures:?} but the user \
                 holds {user_procedures:?}"
            ));
        }
        let router_topics: BTreeSet<&String> = router.subscriptions.values().collect();
        let user_topics: BTreeSet<&String> = self
            .held_subscriptions
            .values()
            .map(|entry| &entry.topic)
            .collect();
        if router_topics != user_topics {
            return Err(format!(
                "settled, the router has subscriptions {router_topics:?} but the user holds \
                 {user_topics:?}"
            ));
        }
        for entry in self.held_subscriptions.values() {
            let id = self.core.subscriptions.router_id(entry.local_id);
            let topic = id.and_then(|id| router.subscriptions.get(&id));
            if topic != Some(&entry.topic) {
                return Err(format!(
                    "settled, subscription {} to {} is under router id {id:?}, which is {topic:?}",
                    entry.local_id, entry.topic
                ));
            }
        }
        if router.testaments != self.held_testaments {
            return Err(format!(
                "settled, the router has {} testaments, the user {}",
                router.testaments, self.held_testaments
            ));
        }
        Ok(())
    }

    // ---- the schedule ------------------------------------------------------------------

    fn step(&mut self, index: usize) -> Result<(), String> {
        let closing_time = index >= STEPS - 20;
        if closing_time && self.closing.is_none() && !self.ended {
            let (responder, waiter) = oneshot();
            let grace = Duration::from_millis(self.rng.below(3000) as u64);
            self.log(|| format!("close, grace {grace:?}"));
            if self.router.is_some() {
                self.core.close(None, grace, Some(responder), self.now);
                self.closing = Some((crate::deadline::from(self.now, grace), waiter));
                self.carry_out()?;
            } else {
                // Closed while disconnected: the socket thread ends at once.
                self.closing = Some((self.now, waiter));
                self.end(Error::Closed);
                return Ok(());
            }
        }
        if self.ended {
            return Ok(());
        }
        match self.rng.below(100) {
            0..=17 if !closing_time => self.caller_step(),
            0..=29 => self.router_handles()?,
            30..=49 => self.deliver()?,
            50..=61 => self.router_acts(),
            62..=79 => self.worker_step()?,
            80..=89 => {
                let by = Duration::from_millis(self.rng.below(2000) as u64);
                self.now += by;
                self.log(|| format!("time passes: {by:?}"));
            }
            90..=93 => {
                if self.router.is_some() {
                    self.connection_lost(Error::lost("dropped"));
                    self.reconnect_or_end();
                } else {
                    self.connect();
                    self.carry_out()?;
                }
            }
            94 if self.router.is_some() => {
                self.log(|| "heartbeat probe".into());
                self.core.probe();
                self.carry_out()?;
            }
            _ => {
                if self.router.is_none() && !self.ended {
                    self.connect();
                    self.carry_out()?;
                }
            }
        }
        if self.ended {
            return Ok(());
        }
        self.core.handle_timeout(self.now);
        self.carry_out()?;
        if self.closing.is_some() && self.router.is_some() {
            let before_deadline = self.closing.as_ref().is_some_and(|(at, _)| self.now < *at);
            if self.core.drained(self.now) {
                self.carry_out()?;
                if before_deadline {
                    self.collect_answers()?;
                    self.check_nothing_in_hand()?;
                }
                self.log(|| "drained: GOODBYE".into());
                self.end(Error::Closed);
            }
        }
        Ok(())
    }

    /// The table of invocations holds exactly those of the current connection whose handler
    /// is queued or running, and nothing that ended.
    fn check_invocation_table(&self) -> Result<(), String> {
        if self.router.is_none() {
            return Ok(());
        }
        let mut live = 0;
        for job in &self.jobs {
            // A handler told nobody wants its answer still runs until it returns.
            let ended = job.epoch != self.epoch || self.skipped.contains(&(job.epoch, job.request));
            if ended {
                continue;
            }
            live += 1;
            match self.invocations.get(job.request) {
                Some(state) if Arc::ptr_eq(&state, &job.state) => {}
                _ => {
                    return Err(format!(
                        "invocation {} (epoch {}) is queued or running, but not in the table",
                        job.request, job.epoch
                    ));
                }
            }
        }
        let in_table = self.invocations.count(None);
        if in_table != live {
            return Err(format!(
                "{in_table} invocations in the table, {live} queued or running"
            ));
        }
        Ok(())
    }

    /// Every caller's request the core waits an answer for was written on the current
    /// connection: one written on a connection since replaced has failed at once.
    fn check_requests_are_on_this_connection(&self) -> Result<(), String> {
        let Some(router) = &self.router else {
            return Ok(());
        };
        for (id, pending) in &self.core.pending {
            let callers = matches!(
                pending,
                Pending::Call(_)
                    | Pending::Publish(_)
                    | Pending::Register(..)
                    | Pending::Subscribe(..)
                    | Pending::AddTestament(..)
                    | Pending::FlushTestaments(_)
            );
            if callers && !router.seen.contains(id) {
                return Err(format!(
                    "request {id} waits for an answer on a connection it was not written on"
                ));
            }
        }
        Ok(())
    }

    /// A close drained before its deadline: no handler of ours is queued or running on this
    /// connection, no acknowledged publication waits, and the router has taken every
    /// withdrawal.
    fn check_nothing_in_hand(&self) -> Result<(), String> {
        if let Some((id, _)) = self
            .requests
            .iter()
            .find(|(_, r)| r.what == "publish" && r.finals == 0 && !r.forgotten)
        {
            return Err(format!(
                "drained before the deadline with publication {id} unacknowledged"
            ));
        }
        if let Some(router) = &self.router
            && let Some(procedure) = router.registrations.values().next()
        {
            return Err(format!(
                "drained before the deadline with {procedure} still registered at the router"
            ));
        }
        let epoch = self.epoch;
        if let Some(job) = self
            .jobs
            .iter()
            .find(|job| job.epoch == epoch && !self.skipped.contains(&(job.epoch, job.request)))
        {
            return Err(format!(
                "drained before the deadline with invocation {} still in hand",
                job.request
            ));
        }
        Ok(())
    }

    /// Runs to the end: every remaining step, then whatever it takes to finish the close.
    fn run(&mut self) -> Result<(), String> {
        for index in 0..STEPS {
            self.step(index)?;
            self.check()?;
        }
        // Let the close finish: the router and the handlers do their part, time passes.
        let mut rounds = 0;
        while !self.ended {
            rounds += 1;
            if rounds > 1000 {
                return Err("the close never finished".into());
            }
            self.router_handles()?;
            self.deliver()?;
            self.worker_step()?;
            if rounds % 50 == 0 {
                self.now += Duration::from_secs(1);
            }
            self.step(STEPS)?;
            self.check()?;
        }
        self.check()?;
        if let Some((_, waiter)) = &self.closing {
            match waiter.wait_until(Instant::now()) {
                Some(Ok(report)) => self.report_matches(report)?,
                Some(Err(Error::Closed)) if self.report.is_none() => {}
                other => return Err(format!("the close's report: {other:?}")),
            }
        }
        Ok(())
    }

    fn report_matches(&self, report: ShutdownReport) -> Result<(), String> {
        if report.answered > self.counters.invocations_answered.load(Ordering::Relaxed) {
            return Err(format!(
                "the report counts more answers than there were: {report}"
            ));
        }
        Ok(())
    }
}

fn result(request: Id, progress: bool) -> Message {
    Message::Result {
        request,
        details: if progress {
            details(&[("progress", Value::Bool(true))])
        } else {
            Dict::new()
        },
        args: Vec::new(),
        kwargs: Dict::new(),
    }
}

fn run_seed(seed: u64, tracing: bool) -> Result<(), String> {
    let mut sim = Sim::new(seed, tracing);
    sim.carry_out()?;
    sim.run()
}

#[test]
fn schedules() {
    let count = std::env::var("SIM_SCHEDULES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(SCHEDULES);
    let first = std::env::var("SIM_FIRST_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    for seed in first..first + count {
        if let Err(why) = run_seed(seed, false) {
            panic!(
                "schedule {seed} broke an invariant: {why}\n  replay with a trace: \
                 SIM_SEED={seed} cargo test --lib session::core::sim::replay -- --ignored \
                 --nocapture"
            );
        }
    }
}

#[test]
#[ignore = "replays the schedule SIM_SEED with a trace; see `schedules`"]
fn replay() {
    let seed = std::env::var("SIM_SEED")
        .expect("SIM_SEED=<seed>")
        .parse()
        .expect("a number");
    if let Err(why) = run_seed(seed, true) {
        panic!("schedule {seed} broke an invariant: {why}");
    }
}
