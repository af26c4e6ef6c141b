//! The socket thread: it connects, reads everything the router sends, keeps the request table
//! and the registrations, reconnects, and closes. Callers write to the connection only
//! through [`Shared::send_full`], which borrows it when it is free.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use mio::{Events, Interest, Poll, Token, Waker};
use parking_lot::{Condvar, Mutex};

use crate::Error;
use crate::memory;
use crate::protocol::{Dict, Id, LogSafe, Message, Serializer, Value, code};
use crate::transport::{FRAME_HEADROOM, Incoming, Payload, Traffic, Transport};

use super::dispatch::{Bound, Job, QueueFull, Submitted, WorkerPool};
use super::handler::{CallError, Event, Invocation, InvocationState};
use super::reconnect::connect_and_join;
use super::reply::{ReplyTo, Responder};
use super::table::LiveTable;
use super::{
    Answer, Command, Counters, Hooks, IN_JOIN_HOOK, Link, LinkState, Note, Pending, Registration,
    Reply, SessionConfig, Shared, Subscription, Testament, Wire, Yielded, describe,
};

const WAKER: Token = Token(0);
/// How long the connection must have shown no sign of life before the heartbeat asks the
/// kernel whether the router is still taking our bytes (see `note_progress`).
const QUIET: Duration = Duration::from_millis(100);
/// The most messages read under one hold of the connection before handling them (by this
/// thread, or by a caller reading its own answer).
pub(super) const READ_BATCH: usize = 64;
pub(super) const SOCKET: Token = Token(1);
/// Called as a heartbeat on transports without ping frames. Only routers provide `wamp.`
/// procedures and none has this one, so the answer is an immediate ERROR.
const HEARTBEAT_PROCEDURE: &str = "wamp.izaber.heartbeat";

/// Connects, joins, and starts the socket thread. Connection and authentication errors are
/// returned here, to the caller of `connect`.
pub(crate) fn spawn(config: SessionConfig, hooks: Hooks) -> Result<Arc<Shared>, Error> {
    let poll = Poll::new().map_err(|e| Error::io("creating the event loop", e))?;
    let waker =
        Waker::new(poll.registry(), WAKER).map_err(|e| Error::io("creating the event loop", e))?;
    let joined = connect_and_join(&config, 0)?;
    let (mut transport, welcome) = (joined.transport, joined.welcome);
    let traffic = transport.traffic();
    let (commands_tx, commands) = crossbeam_channel::unbounded();
    let (notes_tx, notes) = crossbeam_channel::unbounded();
    let serializer = transport.serializer();
    let max_outgoing = transport.max_outgoing.unwrap_or(usize::MAX);
    let shared = Arc::new(Shared {
        commands: commands_tx,
        notes: notes_tx,
        wire: Mutex::new(Wire::new(Some(transport), 1)),
        lead: super::leader::Lead::new(
            poll.registry()
                .try_clone()
                .map_err(|e| Error::io("creating the event loop", e))?,
        )
        .map_err(|e| Error::io("creating the event loop", e))?,
        waker,
        next_request: AtomicU64::new(1),
        next_local_id: AtomicU64::new(1),
        link: Mutex::new(Link {
            state: LinkState::Connected,
            epoch: 1,
            serializer,
            max_outgoing,
            session_id: Some(welcome.session),
            welcome: welcome.details.clone(),
        }),
        link_changed: Condvar::new(),
        socket_idle: std::sync::atomic::AtomicBool::new(false),
        draining: std::sync::atomic::AtomicBool::new(false),
        answered_while_draining: std::sync::atomic::AtomicBool::new(false),
        counters: Counters::default(),
        pool: WorkerPool::new("wamp-handler", config.handler_limits),
        registered: super::table::Published::default(),
        running: Mutex::new(HashMap::new()),
        hooks: Mutex::new(hooks),
        thread: Mutex::new(None),
        leave_hooks: Mutex::new(None),
        config,
    });
    let mut socket = SocketLoop {
        shared: shared.clone(),
        poll,
        commands,
        notes,
        serializer,
        epoch: 1,
        endpoint: joined.endpoint,
        pending: HashMap::new(),
        registrations: LiveTable::published(shared.registered.clone()),
        subscriptions: LiveTable::new(),
        testaments: Vec::new(),
        retries: Vec::new(),
        closing: None,
        connecting: None,
        awaiting_flush: Vec::new(),
        unflushed: false,
        watching_writable: false,
        batch: Vec::new(),
        last_received: Instant::now(),
        last_ping: Instant::now(),
        traffic,
        seen_traffic: (0, 0, None),
    };
    socket.register_socket()?;
    shared
        .pool
        .set_idle_reader(Box::new(super::leader::IdleLeader(Arc::downgrade(&shared))));
    let (ended_tx, ended) = crossbeam_channel::bounded::<()>(0);
    let thread = std::thread::Builder::new()
        .name("wamp-session".into())
        .spawn(move || {
            let _ended = ended_tx;
            socket.run()
        })
        .map_err(|e| Error::io("starting the session thread", e))?;
    *shared.thread.lock() = Some(super::SocketThread {
        handle: thread,
        ended,
    });
    Ok(shared)
}

/// A close under way (see [`Command::Close`]).
struct Closing {
    started: Instant,
    deadline: Instant,
    /// The invocation of the handler that called `close`, not waited for.
    own_invocation: Option<Id>,
    /// `invocations_answered` when the close began.
    answered_before: u64,
    /// What happened, filled in as the close goes (the rest when it ends).
    report: crate::ShutdownReport,
    /// Who waits for the report.
    reply: Option<super::reply::Responder<crate::ShutdownReport>>,
}

/// Why `serve` returned.
enum Exit {
    /// `close` was called.
    Closed,
    /// The connection broke.
    Lost(String),
}

/// The socket thread's state. Its reconnect and restore half lives in
/// [`super::reconnect`].
pub(super) struct SocketLoop {
    pub(super) shared: Arc<Shared>,
    poll: Poll,
    pub(super) commands: Receiver<Command>,
    notes: Receiver<Note>,
    /// The serializer of the current connection, to decode without taking `wire`.
    pub(super) serializer: Serializer,
    /// The current connection's number (see [`super::Link::epoch`]).
    pub(super) epoch: u64,
    /// The index of the router URL in use (or last used) in `SessionConfig::endpoints`.
    pub(super) endpoint: usize,
    pub(super) pending: HashMap<Id, Pending>,
    pub(super) registrations: LiveTable<Registration>,
    pub(super) subscriptions: LiveTable<Subscription>,
    /// Testaments the router accepted, to add again after a reconnect.
    pub(super) testaments: Vec<Arc<Testament>>,
    /// Registrations to try again (the router still held the URI for our dead session).
    pub(super) retries: Vec<(Instant, Arc<Registration>, u32)>,
    /// Set once `close` is called while handlers run: the session ends when they have all
    /// answered, or at the deadline.
    closing: Option<Closing>,
    /// A reconnect attempt that outran its backstop and still runs (see
    /// [`SocketLoop::attempt`]).
    pub(super) connecting: Option<super::reconnect::ConnectAttempt>,
    /// Senders waiting for their fire-and-forget message to reach the socket.
    awaiting_flush: Vec<Responder<()>>,
    /// Something is queued on the transport and not yet written. Callers flush what they
    /// write themselves, so most loop turns need not take `wire` to flush.
    unflushed: bool,
    /// Whether the poll reports the socket becoming writable. Only while a backlog waits:
    /// otherwise every request a caller writes itself would wake this thread for nothing.
    watching_writable: bool,
    /// Messages read in one turn of the loop, kept to reuse the allocation.
    batch: Vec<Payload>,
    /// When the connection last showed life (see [`SocketLoop::note_progress`]).
    last_received: Instant,
    last_ping: Instant,
    /// The current connection's byte counts, and their values when last looked at.
    pub(super) traffic: Arc<Traffic>,
    seen_traffic: (u64, u64, Option<u64>),
}

impl SocketLoop {
    fn run(mut self) {
        loop {
            let reason = match self.serve() {
                Exit::Closed => {
                    self.shutdown("", Error::Closed);
                    self.send_report();
                    return;
                }
                Exit::Lost(reason) => reason,
            };
            if self.closing.is_some() {
                // The user asked to close: the handlers' answers cannot go out any more, and
                // there is nothing to reconnect for.
                log::info!("connection lost while closing: {reason}");
                self.cut_off_at_deadline();
                self.disconnect();
                self.shutdown("", Error::Closed);
                self.send_report();
                return;
            }
            log::warn!("connection to the router lost: {reason}");
            self.disconnect();
            self.fail_pending(|| Error::lost(reason.clone()));
            self.abandon_invocations();
            self.shared.set_link(|link| {
                link.state = LinkState::Reconnecting {
                    reason: reason.clone(),
                };
                link.session_id = None;
            });
            self.run_hooks(|hooks| hooks.disconnect.clone(), &reason);
            if !self.reconnect(&reason) {
                return;
            }
        }
    }

    /// Tells the handlers still running that nobody can receive their answer any more (the
    /// session that invoked them is gone), so that a long one may stop early.
    fn abandon_invocations(&mut self) {
        for (_, state) in self.shared.running.lock().drain() {
            state.interrupt("killnowait");
        }
    }

    /// Fails every pending request and ends the session for good.
    pub(super) fn shutdown(&mut self, reason: &str, error: Error) {
        let message = error.to_string();
        self.fail_pending(|| match &error {
            Error::Closed => Error::Closed,
            Error::GaveUp { reason } => Error::GaveUp {
                reason: reason.clone(),
            },
            _ => Error::lost(message.clone()),
        });
        self.abandon_invocations();
        self.shared.set_link(|link| {
            link.state = LinkState::Closed {
                reason: reason.to_owned(),
            };
            link.session_id = None;
        });
        *self.shared.leave_hooks.lock() = self.run_hooks(
            |hooks| hooks.leave.clone(),
            if reason.is_empty() { "closed" } else { reason },
        );
        // Answer commands that raced with the shutdown instead of leaving their callers to
        // time out.
        while let Ok(command) = self.commands.try_recv() {
            self.refuse(command, || Error::Closed);
        }
    }

    /// Takes the connection away from callers and closes it.
    pub(super) fn disconnect(&mut self) {
        if let Some(mut transport) = self.take_transport() {
            transport.close();
        }
    }

    /// Books what callers wrote themselves. Returns why the connection broke, if a caller's
    /// write found it broken.
    pub(super) fn take_notes(&mut self) -> Option<String> {
        let mut failure = None;
        while let Ok(note) = self.notes.try_recv() {
            match note {
                Note::Request(id, pending) => {
                    self.pending.insert(id, pending);
                }
                Note::Unflushed(written) => {
                    self.unflushed = true;
                    self.awaiting_flush.extend(written);
                }
                Note::Failed(reason) => failure = Some(reason),
            }
        }
        failure
    }

    fn fail_pending(&mut self, error: impl Fn() -> Error) {
        // Callers cannot write any more (the connection is gone from `wire`), so every
        // request they wrote has been noted by now.
        self.take_notes();
        for written in self.awaiting_flush.drain(..) {
            written.send(Err(error()));
        }
        for (_, pending) in std::mem::take(&mut self.pending) {
            match pending {
                // The router let go of it with the session: done, and not to be restored.
                Pending::Unregister(reply, local_id) => self.unregister_locally(local_id, reply),
                Pending::Unsubscribe(reply, local_id, _) => {
                    self.unsubscribe_locally(local_id, reply)
                }
                other => respond(other, Err(error())),
            }
        }
    }

    /// Ends a registration that has no counterpart at the router (the connection is down, or
    /// it is still being restored), so that it is not made again after a reconnect.
    pub(super) fn unregister_locally(&mut self, local_id: u64, reply: ReplyTo) {
        if self.registrations.is_wanted(local_id) {
            self.registrations.forget(local_id);
            reply.send(Ok(Message::Unregistered {
                request: 0,
                details: None,
            }));
        } else {
            reply.send(Err(Error::InvalidArgument(format!(
                "no live registration with id {local_id}"
            ))));
        }
    }

    /// The same as [`Self::unregister_locally`] for a subscription.
    pub(super) fn unsubscribe_locally(&mut self, local_id: u64, reply: ReplyTo) {
        if self.subscriptions.is_wanted(local_id) {
            self.subscriptions.forget(local_id);
            reply.send(Ok(Message::Unsubscribed {
                request: 0,
                details: None,
            }));
        } else {
            reply.send(Err(Error::InvalidArgument(format!(
                "no live subscription with id {local_id}"
            ))));
        }
    }

    /// Answers a command that cannot be carried out.
    pub(super) fn refuse(&mut self, command: Command, error: impl Fn() -> Error) {
        match command {
            Command::Send {
                request: Some((_, pending)),
                ..
            } => respond(pending, Err(error())),
            Command::Unregister { reply, .. } | Command::Unsubscribe { reply, .. } => {
                reply.send(Err(error()));
            }
            _ => {}
        }
    }

    pub(super) fn register_socket(&mut self) -> Result<(), Error> {
        let mut wire = self.shared.wire.lock();
        wire.interest = Interest::READABLE;
        wire.led = false;
        let transport = wire.connected()?;
        self.watching_writable = false;
        self.poll
            .registry()
            .register(transport.source(), SOCKET, Interest::READABLE)
            .and_then(|()| self.shared.lead.add_socket(transport))
            .map_err(|e| Error::io("registering the socket", e))
    }

    /// Takes the connection away from callers, and from a caller reading it (see
    /// [`super::leader`]).
    fn take_transport(&mut self) -> Option<Transport> {
        let mut wire = self.shared.wire.lock();
        if wire.led {
            self.shared.lead.ring(&wire);
            // Back in this thread's poll, where closing waits for the router's GOODBYE.
            if let Err(e) = self.shared.lead.give_back_socket(&mut wire) {
                log::debug!("{e}");
            }
        }
        wire.unhandled.clear();
        wire.broken = None;
        wire.transport.take()
    }

    /// Watches the socket for room to write while something waits to go out, and stops
    /// once it is out. Asking again reports a socket already writable at once (epoll
    /// re-checks readiness on a change of interest), so no wake-up is lost in between.
    fn watch_writable(&mut self, wanted: bool) -> Result<(), Error> {
        if wanted == self.watching_writable {
            return Ok(());
        }
        let interest = if wanted {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        let mut wire = self.shared.wire.lock();
        wire.interest = interest;
        if wire.led {
            // The socket is out of this poll while a caller reads it: the caller puts it back
            // with this interest, and is told to do so now when writing must wait for room.
            if wanted {
                self.shared.lead.ring(&wire);
            }
            self.watching_writable = wanted;
            return Ok(());
        }
        let transport = wire.connected()?;
        self.poll
            .registry()
            .reregister(transport.source(), SOCKET, interest)
            .map_err(|e| Error::io("watching the socket", e))?;
        self.watching_writable = wanted;
        Ok(())
    }

    /// Writes what is queued; `Ok(true)` when all is out.
    fn flush(&self) -> Result<bool, Error> {
        self.shared.wire.lock().connected()?.flush()
    }

    /// Moves messages until the connection breaks or `close` is called.
    fn serve(&mut self) -> Exit {
        let mut events = Events::with_capacity(16);
        self.last_received = Instant::now();
        self.last_ping = Instant::now();
        self.seen_traffic = (
            self.traffic.read.load(Ordering::Relaxed),
            self.traffic.written.load(Ordering::Relaxed),
            self.traffic.unacknowledged(),
        );
        loop {
            let backlog = self.unflushed || !self.awaiting_flush.is_empty();
            if let Err(e) = self.watch_writable(backlog) {
                return Exit::Lost(e.to_string());
            }
            let timeout = self.next_heartbeat();
            if let Err(e) = self.sleep(&mut events, timeout) {
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Exit::Lost(format!("event loop failed: {e}"));
            }
            let mut readable = false;
            for event in events.iter() {
                if event.token() == SOCKET && (event.is_readable() || event.is_read_closed()) {
                    readable = true;
                }
            }
            if let Some(exit) = self.drain_commands() {
                return exit;
            }
            // A caller that read the connection left messages, or more to read, to us.
            let readable = readable || self.shared.lead.must_read.swap(false, Ordering::SeqCst);
            if readable && let Err(e) = self.read_all() {
                return Exit::Lost(e);
            }
            if !self.retries.is_empty() {
                self.retry_restores();
            }
            if self.unflushed || !self.awaiting_flush.is_empty() {
                match self.flush() {
                    Ok(true) => {
                        self.unflushed = false;
                        for written in self.awaiting_flush.drain(..) {
                            written.send(Ok(()));
                        }
                    }
                    Ok(false) => {}
                    Err(e) => return Exit::Lost(e.to_string()),
                }
            }
            if let Some(reason) = self.heartbeat() {
                return Exit::Lost(reason);
            }
            if self.drained() {
                self.say_goodbye();
                return Exit::Closed;
            }
        }
    }

    /// Starts closing: every registration is withdrawn, so that the router sends new calls
    /// to other callees (or fails them at once), while the invocations it sent before it
    /// took the withdrawal are still served; they all arrive before its UNREGISTERED, on
    /// the same connection. The session then goes on until every UNREGISTERED has come,
    /// every handler has answered and every acknowledged publication is acknowledged, or
    /// until `grace` is over; see [`SocketLoop::drained`].
    fn start_closing(
        &mut self,
        own_invocation: Option<Id>,
        grace: Duration,
        reply: Option<super::reply::Responder<crate::ShutdownReport>>,
    ) {
        let started = Instant::now();
        self.closing = Some(Closing {
            started,
            deadline: crate::deadline::from(started, grace),
            own_invocation,
            answered_before: self
                .shared
                .counters
                .invocations_answered
                .load(Ordering::Relaxed),
            report: crate::ShutdownReport::default(),
            reply,
        });
        self.shared.draining.store(true, Ordering::SeqCst);
        // Nothing is registered again from here on.
        self.retries.clear();
        for registration in self.registrations.router_ids() {
            self.withdraw(registration);
        }
        let running = self.running_handlers(own_invocation);
        if running > 0 {
            log::info!("closing: waiting for {running} running handler(s) to answer");
        }
    }

    /// Whether a close is under way.
    pub(super) fn is_closing(&self) -> bool {
        self.closing.is_some()
    }

    /// Asks the router to stop invoking `registration`, for a close. The local entry stays,
    /// so that invocations already on their way still find their handler.
    fn withdraw(&mut self, registration: Id) {
        let request = self.shared.next_request_id();
        self.pending.insert(request, Pending::Withdraw);
        self.send_own(&Message::Unregister {
            request,
            registration,
        });
        if let Some(closing) = &mut self.closing {
            closing.report.withdrawn += 1;
        }
    }

    /// Sends the close's report to whoever waits for it, once the session has ended.
    fn send_report(&mut self) {
        if let Some(mut closing) = self.closing.take() {
            let answered = self
                .shared
                .counters
                .invocations_answered
                .load(Ordering::Relaxed);
            closing.report.answered = answered.saturating_sub(closing.answered_before);
            closing.report.elapsed = closing.started.elapsed();
            if let Some(reply) = closing.reply.take() {
                reply.send(Ok(closing.report));
            }
        }
    }

    /// At the end of the grace (or when the connection is lost while closing): invocations
    /// still waiting for a handler thread are answered `wamp.error.canceled` and will not
    /// run; handlers still running are told they are cancelled, and their answers will be
    /// dropped. Counts both, and the publications still unacknowledged, in the report.
    fn cut_off_at_deadline(&mut self) {
        let Some(own) = self.closing.as_ref().map(|c| c.own_invocation) else {
            return;
        };
        let waiting: Vec<(Id, Arc<super::handler::InvocationState>)> = self
            .shared
            .running
            .lock()
            .iter()
            .filter(|(request, _)| Some(**request) != own)
            .map(|(request, state)| (*request, state.clone()))
            .collect();
        // Those waiting first: a running handler told to stop would free its thread for the
        // next waiting one, which would then start instead of being cancelled.
        let (mut running, mut cancelled) = (Vec::new(), 0);
        for (request, state) in waiting {
            if state.skip() {
                self.shared.running.lock().remove(&request);
                self.send_invocation_error(
                    request,
                    "wamp.error.canceled",
                    "the callee is shutting down: the call was not started within its grace".into(),
                );
                cancelled += 1;
            } else {
                running.push(state);
            }
        }
        let cut_off = running.len() as u64;
        for state in running {
            state.interrupt("killnowait");
        }
        let unacknowledged = self
            .pending
            .values()
            .filter(|pending| matches!(pending, Pending::Publish(_)))
            .count() as u64;
        if let Some(closing) = &mut self.closing {
            closing.report.cancelled = cancelled;
            closing.report.cut_off = cut_off;
            closing.report.unacknowledged_publications = unacknowledged;
            if cancelled + cut_off + unacknowledged > 0 {
                log::warn!(
                    "closing after {:?}: {cancelled} waiting invocation(s) cancelled, {cut_off} \
                     running handler(s) cut off (their answers dropped), {unacknowledged} \
                     publication(s) unacknowledged",
                    closing.started.elapsed()
                );
            }
        }
    }

    /// How many invocations other than `own_invocation` have a handler running or queued.
    fn running_handlers(&self, own_invocation: Option<Id>) -> usize {
        self.shared
            .running
            .lock()
            .keys()
            .filter(|request| Some(**request) != own_invocation)
            .count()
    }

    /// Whether a close may now say GOODBYE: the router has taken every withdrawal, every
    /// handler has answered and every acknowledged publication is acknowledged; or the
    /// deadline has come, and what is still in hand is cut off.
    fn drained(&mut self) -> bool {
        let Some(closing) = &self.closing else {
            return false;
        };
        let in_hand = self.running_handlers(closing.own_invocation) > 0
            || self
                .pending
                .values()
                .any(|pending| matches!(pending, Pending::Withdraw | Pending::Publish(_)));
        if !in_hand {
            return true;
        }
        if Instant::now() < closing.deadline {
            return false;
        }
        self.cut_off_at_deadline();
        true
    }

    /// Waits for socket readiness, a command, or `timeout`. Commands wake the thread only
    /// while it sleeps here (see `Shared::command`).
    fn sleep(&mut self, events: &mut Events, timeout: Option<Duration>) -> std::io::Result<()> {
        self.shared.socket_idle.store(true, Ordering::SeqCst);
        let polled = if self.commands.is_empty()
            && self.notes.is_empty()
            && !self.shared.lead.must_read.load(Ordering::SeqCst)
            && !self
                .shared
                .answered_while_draining
                .swap(false, Ordering::SeqCst)
        {
            self.poll.poll(events, timeout)
        } else {
            // Something arrived before the flag was up: no wake-up is coming for it.
            events.clear();
            Ok(())
        };
        self.shared.socket_idle.store(false, Ordering::SeqCst);
        if events
            .iter()
            .any(|e| e.token() == SOCKET && (e.is_readable() || e.is_read_closed()))
            && let Some(transport) = self.shared.wire.lock().transport.as_mut()
        {
            transport.mark_readable();
        }
        polled
    }

    fn next_heartbeat(&self) -> Option<Duration> {
        let config = &self.shared.config;
        // Without pings nothing is declared dead (see `heartbeat`), so there is nothing to wake
        // for: waking at a death time already past would poll with a 1 ms timeout on every turn.
        let heartbeat = config.ping_interval.map(|interval| {
            let dead_at = crate::deadline::from(self.last_received, config.heartbeat_timeout);
            // A ping is due once both the last sign of life and the last ping are an interval
            // old (see `heartbeat`). Waking at the last ping's due time alone would, on a busy
            // connection read by other threads, find that time past on every turn.
            dead_at.min(crate::deadline::from(
                self.last_received.max(self.last_ping),
                interval,
            ))
        });
        let retry = self.retries.iter().map(|(at, _, _)| *at).min();
        let closing = self.closing.as_ref().map(|closing| closing.deadline);
        let next = [heartbeat, retry, closing].into_iter().flatten().min()?;
        Some(next.saturating_duration_since(Instant::now()) + Duration::from_millis(1))
    }

    /// Counts bytes moving on the socket as life, so that a message that takes longer than
    /// the heartbeat timeout to cross a slow link is not mistaken for silence: any byte read,
    /// any byte written while a backlog waits to go out, and (on Linux) the kernel's queue of
    /// bytes the router has yet to acknowledge getting shorter, since a large message can sit
    /// whole in the socket buffer. Our own heartbeat ping, written at once into an idle
    /// socket, is no sign of the router.
    fn note_progress(&mut self) {
        let read = self.traffic.read.load(Ordering::Relaxed);
        let written = self.traffic.written.load(Ordering::Relaxed);
        let (seen_read, seen_written, seen_unacknowledged) = self.seen_traffic;
        // Asking the kernel costs a system call; it is worth one only when nothing else has
        // shown life for a while (a large message sitting in the socket buffer).
        let unacknowledged = if read == seen_read && self.last_received.elapsed() >= QUIET {
            self.traffic.unacknowledged()
        } else {
            seen_unacknowledged
        };
        let draining = matches!(
            (unacknowledged, seen_unacknowledged),
            (Some(now), Some(before)) if now < before
        );
        if read != seen_read {
            // Perhaps read by a caller or handler worker a while ago: when matters, or a
            // router that froze just after would be given up on later than it should.
            self.last_received = self.last_received.max(self.traffic.last_read_at());
        }
        if (written != seen_written && self.unflushed) || draining {
            self.last_received = Instant::now();
        }
        self.seen_traffic = (read, written, unacknowledged);
    }

    fn heartbeat(&mut self) -> Option<String> {
        self.note_progress();
        let config = &self.shared.config;
        let interval = config.ping_interval?;
        let silent = self.last_received.elapsed();
        if silent > config.heartbeat_timeout {
            return Some(format!(
                "nothing received from the router for {silent:?} (heartbeat timeout {:?})",
                config.heartbeat_timeout
            ));
        }
        // Only a quiet connection needs probing: any message received proves it alive.
        if silent >= interval && self.last_ping.elapsed() >= interval {
            self.last_ping = Instant::now();
            let pinged = self
                .shared
                .wire
                .lock()
                .connected()
                .and_then(|transport| transport.queue_ping(b"izaber"));
            self.unflushed = true;
            match pinged {
                Ok(true) => {}
                Ok(false) => self.probe_with_a_call(),
                Err(e) => return Some(format!("sending a heartbeat ping failed: {e}")),
            }
            if let Err(e) = self.flush() {
                return Some(format!("sending a heartbeat ping failed: {e}"));
            }
        }
        None
    }

    /// A heartbeat for transports without pings: a CALL the router answers at once (with an
    /// error, as nobody may register under `wamp.`); any answer proves the link alive.
    fn probe_with_a_call(&mut self) {
        let request = self.shared.next_request_id();
        self.pending.insert(request, Pending::Heartbeat);
        self.send_own(&Message::Call {
            request,
            options: Dict::new(),
            procedure: HEARTBEAT_PROCEDURE.into(),
            args: Vec::new(),
            kwargs: Dict::new(),
        });
    }

    fn drain_commands(&mut self) -> Option<Exit> {
        if let Some(reason) = self.take_notes() {
            return Some(Exit::Lost(reason));
        }
        if self.commands.is_empty() {
            // Nothing to take `wire` for: a caller may be writing with it right now.
            return None;
        }
        let mut others = Vec::new();
        {
            // Commands leave the queue only while `wire` is held: see `Shared::write_directly`.
            let mut wire = self.shared.wire.lock();
            while let Ok(command) = self.commands.try_recv() {
                let Command::Send {
                    frame,
                    epoch,
                    request,
                    finishes_invocation,
                } = command
                else {
                    others.push(command);
                    continue;
                };
                if epoch != self.epoch {
                    // Encoded for a connection that has since been replaced.
                    if let Some((_, pending)) = request {
                        respond(
                            pending,
                            Err(Error::lost("the connection was replaced before sending")),
                        );
                    }
                    continue;
                }
                if let Some(invocation) = finishes_invocation {
                    self.shared.running.lock().remove(&invocation);
                }
                let transport = match wire.connected() {
                    Ok(transport) => transport,
                    Err(e) => return Some(Exit::Lost(e.to_string())),
                };
                match request {
                    Some((_, Pending::Written(tx))) => self.awaiting_flush.push(tx),
                    Some((id, pending)) => {
                        self.pending.insert(id, pending);
                    }
                    None => {}
                }
                self.shared
                    .counters
                    .messages_sent
                    .fetch_add(1, Ordering::Relaxed);
                self.unflushed = true;
                if let Err(e) = transport.queue_message(frame) {
                    return Some(Exit::Lost(e.to_string()));
                }
            }
        }
        let mut others = others.into_iter();
        while let Some(command) = others.next() {
            match command {
                Command::Send { .. } => unreachable!("sends are queued above"),
                Command::Cancel {
                    request,
                    mode,
                    forget,
                } => {
                    let pending = if forget {
                        self.pending.remove(&request).is_some()
                    } else {
                        self.pending.contains_key(&request)
                    };
                    if pending {
                        let mut options = Dict::new();
                        if let Some(mode) = mode {
                            options.insert("mode".into(), Value::String(mode));
                        }
                        self.send_own(&Message::Cancel { request, options });
                    }
                }
                Command::Unregister { local_id, reply } => {
                    match self.registrations.router_id(local_id) {
                        Some(registration) => {
                            let request = self.shared.next_request_id();
                            self.pending
                                .insert(request, Pending::Unregister(reply, local_id));
                            self.send_own(&Message::Unregister {
                                request,
                                registration,
                            });
                        }
                        // Not in place on this connection (being restored): forgetting it is
                        // all there is to do.
                        None => self.unregister_locally(local_id, reply),
                    }
                }
                Command::Unsubscribe { local_id, reply } => {
                    match self.subscriptions.router_id(local_id) {
                        // The router subscription also serves other handlers of ours: only
                        // this one goes.
                        Some(shared) if self.subscriptions.sharing(shared) > 1 => {
                            self.unsubscribe_locally(local_id, reply)
                        }
                        Some(subscription) => {
                            let request = self.shared.next_request_id();
                            self.pending.insert(
                                request,
                                Pending::Unsubscribe(reply, local_id, subscription),
                            );
                            self.send_own(&Message::Unsubscribe {
                                request,
                                subscription,
                            });
                        }
                        None => self.unsubscribe_locally(local_id, reply),
                    }
                }
                Command::ForgetInvocation { request, epoch } => {
                    if epoch == self.epoch {
                        self.shared.running.lock().remove(&request);
                    }
                }
                Command::Close {
                    own_invocation,
                    grace,
                    report,
                } => {
                    if self.closing.is_some() {
                        // Closing already: this one learns what the first one did.
                        if let Some(report) = report {
                            report.send(Ok(crate::ShutdownReport::default()));
                        }
                        continue;
                    }
                    self.start_closing(own_invocation, grace, report);
                    if !self.drained() {
                        // Serving on until the router and the handlers are done; commands
                        // keep being served, as those handlers may make calls of their own.
                        continue;
                    }
                    self.say_goodbye();
                    for late in others {
                        self.refuse(late, || Error::Closed);
                    }
                    return Some(Exit::Closed);
                }
            }
        }
        None
    }

    /// Sends a message the socket thread writes itself (CANCEL, UNREGISTER, error replies).
    pub(super) fn send_own(&mut self, message: &Message) {
        let mut frame = vec![0u8; FRAME_HEADROOM];
        let result = self
            .serializer
            .encode_into(message, &mut frame)
            .map_err(Error::from)
            .and_then(|()| self.shared.wire.lock().connected()?.queue_message(frame));
        if let Err(e) = result {
            log::warn!("could not send {}: {e}", message.name());
        } else {
            self.unflushed = true;
            self.shared
                .counters
                .messages_sent
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    fn say_goodbye(&mut self) {
        // Taken from `wire` first: callers now go through the queue, which `shutdown` answers.
        let Some(mut transport) = self.take_transport() else {
            return;
        };
        let mut details = Dict::new();
        details.insert("message".into(), Value::String("client closing".into()));
        let goodbye = Message::Goodbye {
            details,
            reason: "wamp.close.normal".into(),
        };
        let mut frame = vec![0u8; FRAME_HEADROOM];
        let queued = self
            .serializer
            .encode_into(&goodbye, &mut frame)
            .map_err(Error::from)
            .and_then(|()| transport.queue_message(frame));
        let deadline = Instant::now() + super::GOODBYE_WAIT;
        let mut events = Events::with_capacity(4);
        // Wait for the router's GOODBYE so that it has let go of our registrations before
        // we return; give up quietly at the deadline.
        while queued.is_ok() && Instant::now() < deadline {
            if transport.flush().is_err() {
                break;
            }
            match transport.read() {
                Ok(Some(Incoming::Message(payload))) => {
                    if let Ok(Message::Goodbye { .. }) = self.serializer.decode(&payload) {
                        break;
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if self.poll.poll(&mut events, Some(left)).is_ok()
                        && events.iter().any(|e| e.token() == SOCKET)
                    {
                        transport.mark_readable();
                    }
                }
                Err(_) => break,
            }
        }
        transport.close();
    }

    /// Reads and handles everything the router has sent so far.
    ///
    /// Messages are read in batches under one hold of `wire` and handled after letting go of
    /// it: handling wakes the callers waiting for answers, and they should find the
    /// connection free for their next request.
    fn read_all(&mut self) -> Result<(), String> {
        let mut batch = std::mem::take(&mut self.batch);
        let outcome = loop {
            let mut failure;
            let mut drained = false;
            {
                let mut wire = self.shared.wire.lock();
                // What a caller read before us comes first (see `super::leader`).
                batch.append(&mut wire.unhandled);
                failure = wire.broken.take();
                if wire.led || failure.is_some() {
                    // A caller reads the connection now (it leaves us what is not its own), or
                    // found it broken.
                    drained = true;
                }
                let transport = match wire.connected() {
                    Ok(transport) => transport,
                    Err(e) => break Err(e.to_string()),
                };
                if !drained {
                    let read = transport.read_batch(&mut batch, READ_BATCH);
                    drained = read.drained;
                    failure = read.failure;
                    if read.ponged || read.pinged {
                        self.last_received = Instant::now();
                    }
                    // The transport queued its answer to a ping.
                    self.unflushed |= read.pinged;
                }
            }
            // What arrived before a failure is still handled: it may answer requests.
            if let Err(e) = self.handle_batch(&mut batch) {
                break Err(e);
            }
            if let Some(failure) = failure {
                break Err(failure);
            }
            if drained {
                break Ok(());
            }
        };
        batch.clear();
        self.batch = batch;
        outcome
    }

    fn handle_batch(&mut self, batch: &mut Vec<Payload>) -> Result<(), String> {
        if batch.is_empty() {
            return Ok(());
        }
        self.last_received = Instant::now();
        // These may answer requests callers wrote themselves.
        if let Some(reason) = self.take_notes() {
            return Err(reason);
        }
        for payload in batch.drain(..) {
            self.shared
                .counters
                .messages_received
                .fetch_add(1, Ordering::Relaxed);
            let message = self.serializer.decode(&payload).map_err(|e| {
                // A peer that breaks the protocol cannot be trusted with the rest of the
                // stream either.
                format!("undecodable message from the router: {e}")
            })?;
            if log::log_enabled!(log::Level::Debug) {
                log::debug!("received {:?}", LogSafe(&message));
            }
            let size = payload.len();
            drop(payload);
            self.handle(message, size)?;
            memory::large_message_done(size);
        }
        Ok(())
    }

    /// Handles one message from the router; `size` is its encoded size.
    fn handle(&mut self, message: Message, size: usize) -> Result<(), String> {
        match message {
            Message::Result {
                request,
                ref details,
                ..
            } => {
                let progress = details
                    .get("progress")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                if progress {
                    if let Some(Pending::Call(reply)) = self.pending.get(&request) {
                        reply.send_progress(message);
                    }
                } else if let Some(pending) = self.pending.remove(&request) {
                    match pending {
                        Pending::AddTestament(reply, testament) => {
                            self.testaments.push(testament);
                            reply.send(Ok(message));
                        }
                        Pending::RestoreTestament(testament) => {
                            log::debug!("testament on {} restored", testament.topic);
                            self.shared
                                .counters
                                .restored
                                .fetch_add(1, Ordering::Relaxed);
                        }
                        Pending::FlushTestaments(reply) => {
                            self.testaments.clear();
                            reply.send(Ok(message));
                        }
                        other => respond(other, Ok(message)),
                    }
                }
            }
            Message::Error {
                request_type,
                request,
                ..
            } => {
                if let Some(Pending::Heartbeat) = self.pending.get(&request) {
                    self.pending.remove(&request);
                    return Ok(());
                }
                self.shared.counters.errors.fetch_add(1, Ordering::Relaxed);
                if let Some(pending) = self.pending.remove(&request) {
                    match pending {
                        Pending::Restore(registration, attempt) => {
                            self.restore_refused(registration, attempt, &message);
                        }
                        Pending::Resubscribe(subscription) => {
                            self.subscriptions.forget(subscription.local_id);
                            self.restore_failed(&subscription.topic, &message);
                        }
                        Pending::PrimeTestament(testament) => {
                            // Not allowed to publish there: the testament's event would be
                            // refused too, but that is for the router to say.
                            log::warn!(
                                "publishing to {} before restoring its testament: {:?}",
                                testament.topic,
                                LogSafe(&message)
                            );
                            self.restore_testament(testament)?;
                        }
                        Pending::RestoreTestament(testament) => {
                            self.testaments.retain(|t| !Arc::ptr_eq(t, &testament));
                            let what = format!("the testament on {}", testament.topic);
                            self.restore_failed(&what, &message);
                        }
                        other => respond(other, Ok(message)),
                    }
                } else if request_type != code::INVOCATION {
                    log::debug!(
                        "ERROR for unknown request {request}: {:?}",
                        LogSafe(&message)
                    );
                }
            }
            Message::Registered {
                request,
                registration,
            } => match self.pending.remove(&request) {
                Some(Pending::Register(reply, entry)) => {
                    self.registrations.install(registration, entry);
                    reply.send(Ok(message));
                    if self.closing.is_some() {
                        self.withdraw(registration);
                    }
                }
                Some(Pending::Restore(entry, _)) => {
                    if self.closing.is_some() {
                        // Restored while closing: withdrawn at once, as the rest were.
                        self.registrations.install(registration, entry);
                        self.withdraw(registration);
                    } else if self.registrations.is_wanted(entry.local_id) {
                        log::info!("registration of {} restored", entry.procedure);
                        self.registrations.install(registration, entry);
                        self.shared
                            .counters
                            .restored
                            .fetch_add(1, Ordering::Relaxed);
                    } else {
                        // Unregistered by the user while it was being restored.
                        let request = self.shared.next_request_id();
                        self.send_own(&Message::Unregister {
                            request,
                            registration,
                        });
                    }
                }
                Some(other) => respond(other, Ok(message)),
                None => {}
            },
            Message::Subscribed {
                request,
                subscription,
            } => match self.pending.remove(&request) {
                Some(Pending::Subscribe(reply, entry)) => {
                    self.subscriptions.install(subscription, entry);
                    reply.send(Ok(message));
                }
                Some(Pending::Resubscribe(entry)) => {
                    if self.subscriptions.is_wanted(entry.local_id) {
                        log::debug!("subscription to {} restored", entry.topic);
                        self.subscriptions.install(subscription, entry);
                        self.shared
                            .counters
                            .restored
                            .fetch_add(1, Ordering::Relaxed);
                    } else if self.subscriptions.sharing(subscription) == 0 {
                        // Unsubscribed by the user while it was being restored, and no other
                        // handler of ours shares it.
                        let request = self.shared.next_request_id();
                        self.pending.insert(request, Pending::Release(subscription));
                        self.send_own(&Message::Unsubscribe {
                            request,
                            subscription,
                        });
                    }
                }
                Some(other) => respond(other, Ok(message)),
                None => {}
            },
            Message::Unregistered {
                request,
                ref details,
            } => {
                if request == 0 {
                    let registration = details
                        .as_ref()
                        .and_then(|d| d.get("registration"))
                        .and_then(Value::as_u64);
                    let reason = details
                        .as_ref()
                        .and_then(|d| d.get("reason"))
                        .and_then(Value::as_str)
                        .unwrap_or("no reason given")
                        .to_owned();
                    let revoked =
                        registration.map_or_else(Vec::new, |id| self.registrations.revoke(id));
                    for entry in revoked {
                        self.shared
                            .counters
                            .revoked_registrations
                            .fetch_add(1, Ordering::Relaxed);
                        let what = format!(
                            "the router revoked our registration of {}: {reason}",
                            entry.procedure
                        );
                        log::warn!("{what}");
                        self.run_hooks(|hooks| hooks.revoked.clone(), &what);
                    }
                } else if let Some(pending) = self.pending.remove(&request) {
                    if let Pending::Unregister(_, local_id) = &pending {
                        self.registrations.forget(*local_id);
                    }
                    respond(pending, Ok(message));
                }
            }
            Message::Unsubscribed {
                request,
                ref details,
            } => {
                if request == 0 {
                    let subscription = details
                        .as_ref()
                        .and_then(|d| d.get("subscription"))
                        .and_then(Value::as_u64);
                    let revoked =
                        subscription.map_or_else(Vec::new, |id| self.subscriptions.revoke(id));
                    for entry in revoked {
                        let what =
                            format!("the router revoked our subscription to {}", entry.topic);
                        log::warn!("{what}");
                        self.run_hooks(|hooks| hooks.revoked.clone(), &what);
                    }
                } else if let Some(pending) = self.pending.remove(&request) {
                    let released = match &pending {
                        Pending::Unsubscribe(_, local_id, subscription) => {
                            self.subscriptions.forget(*local_id);
                            Some(*subscription)
                        }
                        Pending::Release(subscription) => Some(*subscription),
                        _ => None,
                    };
                    if let Some(subscription) = released {
                        // A SUBSCRIBE to the same topic that the router handled before this
                        // UNSUBSCRIBE was given the same subscription, which is now gone:
                        // make it again.
                        for entry in self.subscriptions.uninstall(subscription) {
                            self.resubscribe(entry);
                        }
                    }
                    respond(pending, Ok(message));
                }
            }
            Message::Published { request, .. } => match self.pending.remove(&request) {
                Some(Pending::PrimeTestament(testament)) => self.restore_testament(testament)?,
                Some(pending) => respond(pending, Ok(message)),
                None => {}
            },
            Message::Invocation {
                request,
                registration,
                details,
                args,
                kwargs,
            } => self.invoke(request, registration, details, args, kwargs, size),
            Message::Interrupt { request, options } => {
                let running = self.shared.running.lock().get(&request).cloned();
                if let Some(state) = running {
                    let mode = options
                        .get("mode")
                        .and_then(Value::as_str)
                        .unwrap_or("kill");
                    state.interrupt(mode);
                    // Not started yet (queued behind its concurrency limit): it will not run,
                    // and with `kill` the router waits for our word, so it gets it now.
                    if state.skip() {
                        self.shared.running.lock().remove(&request);
                        if mode != "killnowait" {
                            self.send_invocation_error(
                                request,
                                "wamp.error.canceled",
                                "the call was cancelled before its handler started".into(),
                            );
                        }
                    }
                }
            }
            Message::Event {
                subscription,
                publication,
                details,
                args,
                kwargs,
            } => self.deliver(subscription, publication, details, args, kwargs, size),
            Message::Goodbye { reason, .. } => {
                self.send_own(&Message::Goodbye {
                    details: Dict::new(),
                    reason: "wamp.close.goodbye_and_out".into(),
                });
                let _ = self.flush();
                return Err(format!("the router ended the session: {reason}"));
            }
            Message::Abort { reason, details } => {
                let text = details.get("message").and_then(Value::as_str).unwrap_or("");
                return Err(format!("the router aborted the session: {reason} {text}"));
            }
            other => {
                return Err(format!(
                    "unexpected {} message from the router during the session",
                    other.name()
                ));
            }
        }
        Ok(())
    }

    fn invoke(
        &mut self,
        request: Id,
        registration: Id,
        details: Dict,
        args: Vec<Value>,
        kwargs: Dict,
        size: usize,
    ) {
        self.shared
            .counters
            .invocations
            .fetch_add(1, Ordering::Relaxed);
        self.shared.invocation_through_socket_thread();
        let Some(entry) = self.registrations.get(registration).first().cloned() else {
            self.send_invocation_error(
                request,
                "wamp.error.no_such_registration",
                format!("no handler for registration {registration}"),
            );
            return;
        };
        let arrived = Arrived {
            request,
            details,
            args,
            kwargs,
            size,
        };
        let job = invocation_job(&self.shared, self.epoch, &entry, arrived);
        if let Err(full) = entry.limit.submit(&self.shared.pool, job, size) {
            self.shared.running.lock().remove(&request);
            let message = refused_invocation(&self.shared, &entry, &full);
            self.send_invocation_error(request, CONCURRENCY_LIMIT, message);
        }
    }

    fn send_invocation_error(&mut self, request: Id, uri: &str, message: String) {
        self.send_own(&invocation_error(request, uri, message));
    }

    fn deliver(
        &mut self,
        subscription: Id,
        publication: Id,
        details: Dict,
        args: Vec<Value>,
        kwargs: Dict,
        size: usize,
    ) {
        self.shared.counters.events.fetch_add(1, Ordering::Relaxed);
        let entries = self.subscriptions.get(subscription);
        let Some((last, others)) = entries.split_last() else {
            log::debug!("event for unknown subscription {subscription} dropped");
            return;
        };
        let topic = details
            .get("topic")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| last.topic.clone());
        let event = Event {
            args,
            kwargs,
            details,
            topic,
            publication,
        };
        // Every handler sharing the router subscription gets the event: copies for all but
        // the last, which takes the original.
        let mut deliveries: Vec<_> = others
            .iter()
            .map(|entry| (entry.clone(), event.clone()))
            .collect();
        deliveries.push((last.clone(), event));
        for (entry, event) in deliveries {
            let handler = entry.handler.clone();
            let job = Box::new(move || {
                let topic = event.topic.clone();
                if let Err(panic) = catch_unwind(AssertUnwindSafe(|| handler(event))) {
                    log::error!(
                        "event handler for {topic} panicked: {}",
                        panic_message(&panic)
                    );
                }
                memory::large_message_done(size);
            });
            match entry.limit.submit(&self.shared.pool, job, size) {
                Ok(Submitted::Accepted) => {}
                Ok(Submitted::DroppedOldest(dropped)) => {
                    self.shared
                        .counters
                        .events_dropped
                        .fetch_add(dropped as u64, Ordering::Relaxed);
                    entry.limit.dropped.note(|count| {
                        format!(
                            "{count} event(s) on {} dropped: its handler is behind and its \
                             queue full (the oldest waiting events go first)",
                            entry.topic
                        )
                    });
                }
                Err(full) => {
                    self.shared
                        .counters
                        .events_dropped
                        .fetch_add(1, Ordering::Relaxed);
                    if full.whose == Bound::Own {
                        // A queue_limit of zero: nothing may wait for a busy handler.
                        entry.limit.dropped.note(|count| {
                            format!(
                                "{count} event(s) on {} dropped: its handler is busy and its \
                                 queue_limit is 0",
                                entry.topic
                            )
                        });
                    } else {
                        let threads = self.shared.pool.limits().threads;
                        self.shared.pool.warn_refused(|count| {
                            format!(
                                "{count} invocation(s) refused or event(s) dropped: all \
                                 {threads} handler threads are busy and the handler queue is \
                                 full (the last an event on {})",
                                entry.topic
                            )
                        });
                    }
                }
            }
        }
    }

    /// Runs the picked hooks on a worker, never on the socket thread. The returned receiver
    /// reports (by disconnecting) when they have all returned; only `close` waits for that.
    pub(super) fn run_hooks(
        &self,
        pick: impl Fn(&Hooks) -> Vec<super::LeaveHook>,
        reason: &str,
    ) -> Option<crossbeam_channel::Receiver<()>> {
        let hooks = pick(&self.shared.hooks.lock());
        if hooks.is_empty() {
            return None;
        }
        let reason = reason.to_owned();
        let (done, finished) = crossbeam_channel::bounded::<()>(0);
        self.shared.pool.run(Box::new(move || {
            let _done = done;
            super::IN_SESSION_HOOK.set(true);
            for hook in hooks {
                if let Err(panic) = catch_unwind(AssertUnwindSafe(|| hook(&reason))) {
                    log::error!("hook panicked: {}", panic_message(&panic));
                }
            }
            super::IN_SESSION_HOOK.set(false);
        }));
        Some(finished)
    }
}

/// The ERROR that answers INVOCATION `request` with `uri` and a message, for answers the
/// session gives itself (no handler, refused, cancelled before it ran).
pub(super) fn invocation_error(request: Id, uri: &str, message: String) -> Message {
    Message::Error {
        request_type: code::INVOCATION,
        request,
        details: Dict::new(),
        error: uri.to_owned(),
        args: vec![Value::String(message)],
        kwargs: Dict::new(),
    }
}

/// The error URI of an invocation refused because its handler's queue is full.
pub(super) const CONCURRENCY_LIMIT: &str = "wamp.error.concurrency_limit";

/// Counts an invocation refused by a full queue, logs it (throttled), and says why for the
/// caller.
pub(super) fn refused_invocation(
    shared: &Shared,
    entry: &Registration,
    full: &QueueFull,
) -> String {
    shared
        .counters
        .invocations_refused
        .fetch_add(1, Ordering::Relaxed);
    let why = match full.whose {
        Bound::Own => format!(
            "{} is busy: {} running and {} waiting, its concurrency and queue_limit",
            entry.procedure, full.running, full.queued
        ),
        Bound::Pool => format!(
            "{} is busy: all {} handler threads of the callee are running and {} \
             invocations or events wait, its handler_threads and handler_queue",
            entry.procedure, full.running, full.queued
        ),
    };
    let log = || why.clone();
    match full.whose {
        Bound::Own => entry
            .limit
            .dropped
            .note(|count| format!("{count} invocation(s) refused, the last: {}", log())),
        Bound::Pool => shared.pool.warn_refused(|count| {
            format!(
                "{count} invocation(s) refused or event(s) dropped, the last: {}",
                log()
            )
        }),
    }
    why
}

/// Delivers a reply to whoever waits for it.
fn respond(pending: Pending, reply: Reply) {
    match pending {
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

/// Runs join hooks one after the other, marking the thread so that what they register is
/// left to them to restore.
pub(crate) fn run_join_hooks(owner: &Shared, hooks: &[super::JoinHook], details: &Dict) {
    let outer = IN_JOIN_HOOK.replace(owner.identity());
    for hook in hooks {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| hook(details))) {
            log::error!("join hook panicked: {}", panic_message(&panic));
        }
    }
    IN_JOIN_HOOK.set(outer);
}

/// An INVOCATION as it arrived, for [`invocation_job`].
pub(super) struct Arrived {
    pub request: Id,
    pub details: Dict,
    pub args: Vec<Value>,
    pub kwargs: Dict,
    /// Its encoded size.
    pub size: usize,
}

/// The run of `entry`'s handler for an INVOCATION that came on connection `epoch`, for a
/// worker; the invocation is noted as running (for INTERRUPT and closing) from now on. Made
/// by the socket thread, or by a handler worker that read the INVOCATION itself (see
/// [`super::leader`]), in either case before anything read after the INVOCATION is handled.
pub(super) fn invocation_job(
    shared: &Arc<Shared>,
    epoch: u64,
    entry: &Registration,
    arrived: Arrived,
) -> Job {
    let Arrived {
        request,
        details,
        args,
        kwargs,
        size,
    } = arrived;
    let state = InvocationState::new();
    shared.running.lock().insert(request, state.clone());
    let procedure = details
        .get("procedure")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| entry.procedure.clone());
    let shared = shared.clone();
    let invocation = Invocation {
        args,
        kwargs,
        details,
        procedure,
        request,
        epoch,
        state: state.clone(),
        shared: shared.clone(),
    };
    let answer = Answer {
        invocation: request,
        epoch,
        last: true,
    };
    let handler = entry.handler.clone();
    Box::new(move || {
        // Cancelled while it waited behind the procedure's concurrency limit: the session
        // has answered for it already. Abandoned (the connection went away meanwhile):
        // nobody wants the answer, so it does not start either.
        if !state.start() {
            return;
        }
        if state.is_interrupted() {
            answer_invocation(&shared, answer, &state, Err(canceled()));
            return;
        }
        let before = super::RUNNING_INVOCATION.replace(Some((shared.identity(), request)));
        let outcome = catch_unwind(AssertUnwindSafe(|| handler(invocation)))
            .unwrap_or_else(|panic| Err(CallError::failure(panic_message(&panic))));
        super::RUNNING_INVOCATION.set(before);
        answer_invocation(&shared, answer, &state, outcome);
        memory::large_message_done(size);
    })
}

/// Sends the handler's outcome as YIELD or ERROR, on the connection the invocation came on,
/// unless the router no longer wants it.
fn answer_invocation(
    shared: &Arc<Shared>,
    answer: Answer,
    state: &InvocationState,
    outcome: Result<Yielded, CallError>,
) {
    let request = answer.invocation;
    if state.answer_unwanted() {
        let _ = shared.command(Command::ForgetInvocation {
            request,
            epoch: answer.epoch,
        });
        return;
    }
    let outcome = if state.is_interrupted() {
        Err(canceled())
    } else {
        outcome
    };
    let message = match outcome {
        Ok(Yielded {
            args,
            kwargs,
            options,
        }) => Message::Yield {
            request,
            options,
            args,
            kwargs,
        },
        Err(error) => error_message(shared, request, error),
    };
    let sent = match shared.send_full(&message, None, Some(answer)) {
        Ok(()) => true,
        Err(e @ (Error::PayloadTooLarge { .. } | Error::Protocol(_))) => {
            // The result cannot be sent as it is: tell the caller why instead of leaving it
            // waiting.
            let error = CallError::failure(&e);
            shared
                .send_full(&error_message(shared, request, error), None, Some(answer))
                .is_ok()
        }
        Err(e @ Error::ConnectionLost { .. }) => {
            log::info!("dropped the answer to {}: {e}", describe(&message));
            false
        }
        Err(e) => {
            log::warn!("could not answer {}: {e}", describe(&message));
            false
        }
    };
    if sent {
        shared
            .counters
            .invocations_answered
            .fetch_add(1, Ordering::Relaxed);
        shared.invocation_finished();
    } else {
        // Not running any more, answered or not: a close must not wait for it.
        let _ = shared.command(Command::ForgetInvocation {
            request,
            epoch: answer.epoch,
        });
    }
}

fn canceled() -> CallError {
    CallError::new("wamp.error.canceled", "the call was cancelled")
}

fn error_message(shared: &Shared, request: Id, error: CallError) -> Message {
    let (error, args, kwargs) = error.into_parts(shared.config.uri_base.as_deref());
    Message::Error {
        request_type: code::INVOCATION,
        request,
        details: Dict::new(),
        error,
        args,
        kwargs,
    }
}

pub(crate) fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        format!("handler panicked: {s}")
    } else if let Some(s) = panic.downcast_ref::<String>() {
        format!("handler panicked: {s}")
    } else {
        "handler panicked".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::testing::offline;

    fn sent_frames(commands: &Receiver<Command>) -> Vec<(u64, Option<Id>)> {
        commands
            .try_iter()
            .filter_map(|command| match command {
                Command::Send {
                    epoch,
                    finishes_invocation,
                    ..
                } => Some((epoch, finishes_invocation)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn an_answer_goes_out_only_on_the_connection_its_invocation_came_on() {
        // Invocation 5 came on connection 1; its handler answers after the client has
        // reconnected (connection 2), where request 5 may be somebody else's call.
        let (shared, commands, _poll) = offline(2);
        let old = Answer {
            invocation: 5,
            epoch: 1,
            last: true,
        };
        let state = InvocationState::new();
        answer_invocation(&shared, old, &state, Ok(Yielded::value(Value::from(1))));
        answer_invocation(&shared, old, &state, Err(CallError::failure("late")));
        assert_eq!(sent_frames(&commands), []);

        let invocation = Invocation {
            args: Vec::new(),
            kwargs: Dict::new(),
            details: [("receive_progress".to_owned(), Value::Bool(true))]
                .into_iter()
                .collect(),
            procedure: "test.slow".into(),
            request: 5,
            epoch: 1,
            state: state.clone(),
            shared: shared.clone(),
        };
        assert!(matches!(
            invocation.progress(&1),
            Err(Error::ConnectionLost { .. })
        ));
        assert_eq!(sent_frames(&commands), []);

        // On its own connection the answer goes out (here to the socket thread's queue, as
        // there is no socket to write to).
        let current = Answer { epoch: 2, ..old };
        answer_invocation(&shared, current, &state, Ok(Yielded::value(Value::Null)));
        assert_eq!(sent_frames(&commands), [(2, Some(5))]);
    }

    #[test]
    fn a_cancelled_invocation_answers_canceled_and_an_abandoned_one_nothing() {
        let (shared, commands, _poll) = offline(1);
        let answer = Answer {
            invocation: 9,
            epoch: 1,
            last: true,
        };
        let state = InvocationState::new();
        state.interrupt("kill");
        answer_invocation(&shared, answer, &state, Ok(Yielded::value(Value::Null)));
        assert_eq!(sent_frames(&commands), [(1, Some(9))]);

        let state = InvocationState::new();
        state.interrupt("killnowait");
        answer_invocation(&shared, answer, &state, Ok(Yielded::value(Value::Null)));
        assert!(matches!(
            commands.try_recv(),
            Ok(Command::ForgetInvocation {
                request: 9,
                epoch: 1
            })
        ));
    }
}
