//! A waiting caller reads its own answer.
//!
//! Normally the socket thread reads every message and wakes the thread that waits for it:
//! per call, the socket thread is woken by the socket, then wakes the caller, two context
//! switches and two futex calls that a program on one blocking socket does not pay. When a
//! plain call is the only one its client is waiting for, its caller instead *leads*: it takes
//! the socket out of the socket thread's poll, writes its CALL, and waits for the socket in a
//! poll of its own. It keeps its answer and leaves everything else it reads (events,
//! invocations, other answers) in [`Wire::unhandled`], in order, for the socket thread, which
//! handles those before reading anything more. When it has its answer it puts the socket
//! back in the socket thread's poll.
//!
//! The socket thread stays in charge: it can ring the leader's bell to have it hand its
//! request over (when it needs to watch the socket for room to write) or to tell it the
//! connection is gone. A leader whose deadline passes hands its request over too, so the
//! ordinary timeout and CANCEL apply. Only one thread leads at a time; with several calls
//! waiting, the hand-off through the socket thread is cheaper than a leader reading answers
//! for others, so nobody starts leading then, and a leader that sees other calls start
//! hands its own over.
//!
//! A service's handler worker leads the same way while it waits for work
//! ([`Shared::lead_while_idle`]), where the socket thread would have read each INVOCATION
//! or EVENT and woken a worker for it. The INVOCATIONs it reads first, up to anything else,
//! of registrations without a concurrency limit, are its own: it notes them as running (for
//! INTERRUPT and closing), gives the socket back, runs the first handler itself and hands
//! the others to the pool. So is an EVENT read first, of a subscription alone under its
//! router id whose handler has a place to run now: it takes the place, as the socket thread's
//! hand-out would, gives the socket back and runs the handler, then whatever events of that
//! subscription were queued behind it meanwhile, in order. The events that came in the same
//! read after it, of such subscriptions, it hands out itself as the socket thread would (one
//! of the same subscription queues behind its own) rather than waking the socket thread for
//! them. It takes no event
//! while the socket thread still holds messages it read but has not handed out
//! ([`Lead::dispatching`]): one of them could be an earlier event of the same subscription.
//! Everything else goes to the socket thread as above, and the worker stops leading; so does
//! it when a call starts in the client. After something it could not take, workers wait for
//! work without reading until the socket thread has handed out an invocation, or an event
//! to an idle handler, again, so that a stream of work they cannot take does not cost a
//! wake-up more per message.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use mio::{Events, Interest, Poll, Registry, Token, Waker};
use parking_lot::Mutex;

use crate::Error;
use crate::memory;
use crate::protocol::{Id, LogSafe, Message, Serializer};
use crate::transport::{Payload, Transport};

use super::core::{
    CONCURRENCY_LIMIT, cannot_be_invocation, cannot_be_own_event, cannot_end_call, ends_call,
    invocation_error, take_event, take_invocation,
};
use super::dispatch::{IdleReader, Job};
use super::handler::InvocationState;
use super::jobs::{deliver_event, event_job, invocation_job, refused_invocation};
use super::locks::Level;
use super::reply::{ReplyTo, Responder};
use super::{
    LinkState, Locked, Note, Pending, READ_BATCH, Shared, Wire, hurry_acknowledgements_of_events,
};

/// The bell, in the leader's poll.
const BELL: Token = Token(0);
/// The connection's socket, in the leader's poll (it stays registered for the connection's
/// life: a stale readiness event only costs a leader one empty read).
const SOCKET: Token = Token(1);

/// What leading needs, kept in [`Shared`].
pub(crate) struct Lead {
    /// Held for as long as a caller leads; would-be leaders only `try_lock` it.
    poll: Mutex<LeaderPoll>,
    /// Wakes the leader from its poll (see [`Lead::ring`]).
    bell: Waker,
    /// The leader's poll, for the socket thread to add each new connection's socket.
    registry: Registry,
    /// The socket thread's poll, which the leader takes the socket out of and puts it back.
    socket_registry: Registry,
    /// Calls whose callers are waiting for the answer, in the whole client.
    calls_waiting: AtomicUsize,
    /// The leader is a handler worker waiting for work, which steps aside when a call starts.
    idle_leading: AtomicBool,
    /// Workers do not read while waiting for work: the last one that did read something other
    /// than an invocation, and no invocation has come through the socket thread since. A
    /// client that gets events and serves invocations would otherwise pay a wake-up more for
    /// each event: the reading worker's, on top of the socket thread's and the handler's.
    idle_reading_paused: AtomicBool,
    /// The leader left messages in [`Wire::unhandled`], or stopped without reading all there
    /// was: the socket thread must read.
    pub(super) must_read: AtomicBool,
    /// The socket thread has read messages it has not yet handed out. Set under `wire` as it
    /// reads: while it is, a leader takes no event, which could overtake an earlier one of
    /// the same subscription.
    pub(super) dispatching: AtomicBool,
}

struct LeaderPoll {
    poll: Poll,
    events: Events,
    /// What one turn read, kept to reuse the allocation.
    batch: Vec<Payload>,
}

/// What woke a leader.
struct Woken {
    socket: bool,
    bell: bool,
}

impl LeaderPoll {
    /// Waits for the socket or the bell until `until`; `None` once the time is up, or when
    /// there is no poll to wait in.
    fn wait(&mut self, until: Instant) -> Option<Woken> {
        loop {
            let left = until.checked_duration_since(Instant::now())?;
            match self.poll.poll(&mut self.events, Some(left)) {
                Ok(()) => {
                    let woken_by = |token| self.events.iter().any(|e| e.token() == token);
                    return Some(Woken {
                        socket: woken_by(SOCKET),
                        bell: woken_by(BELL),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
    }
}

/// Under `wire`: a leader was told the socket is readable and leaves without reading. The
/// transport then no longer answers its next read from the memory of a short one, so the next
/// reader reads the socket although this news is gone from the leader's poll (see
/// [`Shared::lead_while_idle`]).
fn readiness_unread(wire: &mut Wire, readable: bool) {
    if readable && let Some(transport) = wire.transport.as_mut() {
        transport.mark_readable();
    }
}

/// An INVOCATION a worker read and took as its own to run (see the module's doc).
struct Taken {
    job: Job,
    request: Id,
    state: Arc<InvocationState>,
    /// Its encoded size.
    size: usize,
    entry: Arc<super::Registration>,
}

/// A handler worker's way to read the connection for work while it has none
/// ([`Shared::lead_while_idle`]).
pub(crate) struct IdleLeader(pub std::sync::Weak<Shared>);

impl IdleReader for IdleLeader {
    fn read(&self, until: Instant, wanted: &AtomicBool) -> Option<Job> {
        self.0.upgrade()?.lead_while_idle(until, wanted)
    }

    fn interrupt(&self) {
        if let Some(shared) = self.0.upgrade() {
            // Rung while nobody leads, the bell only makes the next leader look around once.
            let _ = shared.lead.bell.wake();
        }
    }
}

/// Counts a call as waiting for its answer while it lives.
pub(crate) struct WaitingCall<'a>(&'a Lead);

impl Drop for WaitingCall<'_> {
    fn drop(&mut self) {
        self.0.calls_waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Lead {
    /// `socket_registry` is the socket thread's poll's.
    pub(super) fn new(socket_registry: Registry) -> std::io::Result<Lead> {
        let poll = Poll::new()?;
        let bell = Waker::new(poll.registry(), BELL)?;
        let registry = poll.registry().try_clone()?;
        Ok(Lead {
            poll: Mutex::new(LeaderPoll {
                poll,
                events: Events::with_capacity(4),
                batch: Vec::new(),
            }),
            bell,
            registry,
            socket_registry,
            calls_waiting: AtomicUsize::new(0),
            idle_leading: AtomicBool::new(false),
            idle_reading_paused: AtomicBool::new(false),
            must_read: AtomicBool::new(false),
            dispatching: AtomicBool::new(false),
        })
    }

    /// Adds a new connection's socket to the leader's poll. Called by the socket thread with
    /// `wire` held, before any caller can lead on that connection.
    pub(super) fn add_socket(&self, transport: &Transport) -> std::io::Result<()> {
        #[cfg(unix)]
        {
            let fd = transport.raw_fd();
            self.registry
                .register(&mut mio::unix::SourceFd(&fd), SOCKET, Interest::READABLE)
        }
        #[cfg(not(unix))]
        {
            let _ = transport;
            Ok(())
        }
    }

    /// Wakes the leader, if one is waiting, to look at `wire` again. Called with `wire` held
    /// by the socket thread after it changed something a leader must see.
    pub(super) fn ring(&self, wire: &Wire) {
        if wire.led {
            // Fails only if the poll is gone, and the leader with it.
            let _ = self.bell.wake();
        }
    }

    /// Under `wire`, on the way to writing a CALL: takes the socket out of the socket
    /// thread's poll for the calling thread to read, when nothing stands in the way.
    pub(super) fn take_socket(&self, wire: &mut Wire) -> bool {
        if !cfg!(unix) || wire.led || wire.interest != Interest::READABLE {
            return false;
        }
        if !wire.unhandled.is_empty() || self.must_read.load(Ordering::SeqCst) {
            return false;
        }
        let Some(transport) = wire.transport.as_mut() else {
            return false;
        };
        if self.socket_registry.deregister(transport.source()).is_err() {
            return false;
        }
        wire.led = true;
        true
    }

    /// Puts the socket back in the socket thread's poll, with the interest the socket thread
    /// last asked for. Epoll reports a socket that is already readable at once.
    pub(super) fn give_back_socket(&self, wire: &mut Wire) -> Result<(), String> {
        wire.led = false;
        let interest = wire.interest;
        match wire.transport.as_mut() {
            Some(transport) => self
                .socket_registry
                .register(transport.source(), super::SOCKET, interest)
                .map_err(|e| format!("watching the socket again: {e:#}")),
            None => Ok(()),
        }
    }
}

/// The call a leader waits for.
struct LedCall {
    /// The connection it went out on.
    epoch: u64,
    serializer: Serializer,
    request: Id,
    deadline: Instant,
}

/// How a leader's turn at the socket ended.
enum Turn {
    /// It took what it waited for: a caller's answer, or a handler worker's invocations.
    Kept,
    /// Nothing yet: wait for the socket again, or (`more`) read on at once.
    Nothing { more: bool },
}

impl Shared {
    /// Counts a call as waiting for its answer until the returned guard is dropped.
    pub(crate) fn call_waiting(&self) -> WaitingCall<'_> {
        self.lead.calls_waiting.fetch_add(1, Ordering::SeqCst);
        if self.lead.idle_leading.load(Ordering::SeqCst) {
            // A handler worker reads the connection while it waits: it makes way for the
            // calls, which read their own answers more cheaply.
            let _ = self.lead.bell.wake();
        }
        WaitingCall(&self.lead)
    }

    /// Sends a CALL whose answer goes to `reply`, and when the caller can read the answer
    /// itself, waits for it until `deadline` (see the module's doc). Either way the answer,
    /// or the error that ends the call, is in `reply` or on its way there on return.
    pub(crate) fn send_call(
        &self,
        message: &Message,
        request: Id,
        reply: ReplyTo,
        deadline: Instant,
    ) -> Result<(), Error> {
        let leader = match &reply {
            ReplyTo::Once(_) if self.lead.calls_waiting.load(Ordering::SeqCst) == 1 => {
                Locked::try_lock(&self.lead.poll, Level::LeaderPoll)
            }
            _ => None,
        };
        let Some(mut leader) = leader else {
            return self.send(message, Some((request, Pending::Call(reply))));
        };
        let (frame, epoch, serializer) = self.encode(message, None)?;
        let call = Some((request, Pending::Call(reply)));
        let led = match self.write_directly(frame, epoch, call, None, true) {
            Ok(led) => led,
            Err(command) => return self.command(command),
        };
        if let Some(responder) = led {
            let call = LedCall {
                epoch,
                serializer,
                request,
                deadline,
            };
            self.lead_until_answered(&mut leader, &call, responder);
        }
        Ok(())
    }

    /// The socket thread read an invocation, or an event whose handler was idle: workers
    /// may read for the next ones again.
    pub(super) fn handed_out_through_socket_thread(&self) {
        if self.lead.idle_reading_paused.load(Ordering::Relaxed) {
            self.lead
                .idle_reading_paused
                .store(false, Ordering::Relaxed);
        }
    }

    /// Under `wire`: the leader hands its socket back.
    pub(super) fn give_up_the_lead(&self, wire: &mut Wire) {
        if let Err(reason) = self.lead.give_back_socket(wire) {
            // The socket thread would never hear from the socket again.
            self.leave_broken(wire, reason);
        }
    }

    /// Under `wire`: tells the socket thread that the connection is broken, for it to end
    /// once it has handled what was read before.
    fn leave_broken(&self, wire: &mut Wire, reason: String) {
        wire.broken.get_or_insert(reason);
        self.lead.must_read.store(true, Ordering::SeqCst);
        self.wake_socket_thread();
    }

    /// Waits for the socket and reads until the answer to the call is there, and gives it to
    /// `responder`. Hands the call over to the socket thread instead when the deadline
    /// passes (the ordinary timeout then applies) or when the socket thread needs the socket.
    fn lead_until_answered(
        &self,
        leader: &mut LeaderPoll,
        call: &LedCall,
        responder: Responder<Message>,
    ) {
        let mut more = false;
        let answer = loop {
            let mut readable = more;
            if !more {
                match leader.wait(call.deadline) {
                    Some(woken) => readable = woken.socket,
                    // Out of time, or no poll to wait in: the ordinary wait takes over.
                    None => return self.step_aside(call, responder),
                }
            }
            let mut wire = self.lock_wire();
            if !wire.led || wire.epoch != call.epoch || wire.transport.is_none() {
                // The socket thread took the connection away: it is lost or being closed.
                readiness_unread(&mut wire, readable);
                drop(wire);
                break Err(self.why_gone(call));
            }
            if wire.interest != Interest::READABLE {
                // The socket thread waits to write, and must watch the socket itself.
                readiness_unread(&mut wire, readable);
                drop(wire);
                return self.step_aside(call, responder);
            }
            let mut answer = None;
            let keep = |payload: &Payload, _| {
                if answer.is_some() {
                    return false;
                }
                answer = self.own_answer(call, payload);
                answer.is_some()
            };
            match self.read_turn(&mut wire, readable, &mut leader.batch, keep) {
                Ok(Turn::Kept) => {
                    self.give_up_the_lead(&mut wire);
                    self.counters
                        .calls_read_by_caller
                        .fetch_add(1, Ordering::Relaxed);
                    break Ok(answer.expect("kept"));
                }
                Ok(Turn::Nothing { .. })
                    if self.lead.calls_waiting.load(Ordering::SeqCst) > 1
                        || wire.unhandled.len() >= READ_BATCH =>
                {
                    // Other calls now wait too, and their answers should not take a detour
                    // through this thread; or the socket thread has not kept up with what
                    // this thread left it, and reading on would only pile it up here instead
                    // of leaving it to the router's flow control.
                    drop(wire);
                    return self.step_aside(call, responder);
                }
                Ok(Turn::Nothing { more: read_on }) => more = read_on,
                Err(reason) => {
                    // Left broken to the socket thread by `read_turn`.
                    wire.led = false;
                    break Err(Error::lost(reason));
                }
            }
        };
        responder.send(answer);
    }

    /// Stops leading without the answer: the call goes to the socket thread, or fails if
    /// the connection is gone.
    fn step_aside(&self, call: &LedCall, responder: Responder<Message>) {
        if let Err(responder) = self.hand_over(call, responder) {
            responder.send(Err(self.why_gone(call)));
        }
    }

    /// Gives the call to the socket thread, which answers it from now on, and the socket
    /// back to its poll. The responder comes back when the connection is gone.
    fn hand_over(
        &self,
        call: &LedCall,
        responder: Responder<Message>,
    ) -> Result<(), Responder<Message>> {
        let mut wire = self.lock_wire();
        if !wire.led || wire.epoch != call.epoch || wire.transport.is_none() {
            return Err(responder);
        }
        // Noted before the socket goes back, so the socket thread knows the call before it
        // can read its answer.
        let pending = Pending::Call(ReplyTo::Once(responder));
        self.note(Note::Request {
            epoch: call.epoch,
            id: call.request,
            pending,
        });
        self.give_up_the_lead(&mut wire);
        Ok(())
    }

    /// Reads what the connection has, up to a batch: what `keep` takes (returning true) is
    /// its, the rest is left for the socket thread (woken for it), and so is a failure.
    /// `keep` is also told whether the message is in order: nothing read before it is left
    /// for the socket thread to handle.
    fn read_turn(
        &self,
        wire: &mut Wire,
        readable: bool,
        batch: &mut Vec<Payload>,
        mut keep: impl FnMut(&Payload, bool) -> bool,
    ) -> Result<Turn, String> {
        let Wire {
            transport,
            unhandled,
            ..
        } = wire;
        let transport = transport.as_mut().expect("checked by the caller");
        if readable {
            transport.mark_readable();
        }
        let left_before = unhandled.len();
        let read = transport.read_batch(batch, READ_BATCH);
        hurry_acknowledgements_of_events(transport, batch);
        let mut kept = false;
        for payload in batch.drain(..) {
            let in_order = unhandled.is_empty();
            if keep(&payload, in_order) {
                kept = true;
            } else {
                unhandled.push(payload);
            }
        }
        let (drained, mut failure) = (read.drained, read.failure);
        if read.pinged {
            // The transport queued its answer to the router's ping.
            match transport.flush() {
                Ok(true) => {}
                Ok(false) => {
                    self.note(Note::Unflushed(None));
                    self.wake_socket_thread();
                }
                Err(e) => {
                    failure.get_or_insert(format!("{e:#}"));
                }
            }
        }
        let handed_over = unhandled.len() > left_before;
        if let Some(reason) = &failure {
            self.leave_broken(wire, reason.clone());
        } else if handed_over || (kept && !drained) {
            self.lead.must_read.store(true, Ordering::SeqCst);
            self.wake_socket_thread();
        }
        match (kept, failure) {
            (true, _) => Ok(Turn::Kept),
            (false, Some(reason)) => Err(reason),
            (false, None) => Ok(Turn::Nothing { more: !drained }),
        }
    }

    /// The RESULT or ERROR that ends the call, if `payload` is one. Anything else, a
    /// progressive RESULT of the call included, goes to the socket thread, which drops such a
    /// result for a call it does not know, as it drops it for any one-shot call.
    fn own_answer(&self, call: &LedCall, payload: &[u8]) -> Option<Message> {
        // Others' messages go on undecoded: the socket thread decodes them anyway.
        if cannot_end_call(call.serializer.peek(payload), call.request) {
            return None;
        }
        // Anything undecodable is the socket thread's to fail the connection over.
        let message = call.serializer.decode(payload).ok()?;
        if !ends_call(&message, call.request) {
            return None;
        }
        if let Message::Error { .. } = message {
            self.counters.errors.fetch_add(1, Ordering::Relaxed);
        }
        self.counters
            .messages_received
            .fetch_add(1, Ordering::Relaxed);
        if log::log_enabled!(log::Level::Debug) {
            log::debug!("received {:?}", LogSafe(&message));
        }
        memory::large_message_done(payload.len());
        Some(message)
    }

    /// Called by a handler worker that has run out of jobs (see the module's doc): when this
    /// client has registrations and nobody calls or leads, reads the connection until
    /// `until` or until the first INVOCATIONs it can take come, and returns the run of the
    /// first of them for the worker to run itself. `None` once it stopped for anything else.
    pub(crate) fn lead_while_idle(
        self: &Arc<Self>,
        until: Instant,
        wanted: &AtomicBool,
    ) -> Option<Job> {
        if self.lead.idle_reading_paused.load(Ordering::Relaxed)
            || (self.registered.read().is_empty() && self.subscribed.read().is_empty())
            || self.lead.calls_waiting.load(Ordering::SeqCst) > 0
        {
            return None;
        }
        let mut leader = Locked::try_lock(&self.lead.poll, Level::LeaderPoll)?;
        let (epoch, serializer) = {
            let mut wire = self.lock_wire();
            let serializer = wire.transport.as_ref()?.serializer();
            if !self.lead.take_socket(&mut wire) {
                return None;
            }
            self.lead.idle_leading.store(true, Ordering::SeqCst);
            (wire.epoch, serializer)
        };
        let job = self.lead_until_invoked(&mut leader, epoch, serializer, until, wanted);
        self.lead.idle_leading.store(false, Ordering::SeqCst);
        job
    }

    fn lead_until_invoked(
        self: &Arc<Self>,
        leader: &mut LeaderPoll,
        epoch: u64,
        serializer: Serializer,
        until: Instant,
        wanted: &AtomicBool,
    ) -> Option<Job> {
        // Read before the first wait: the socket thread's poll may have been told the socket
        // was readable, and taking the socket out of that poll forgot it, while this poll's
        // news of the same bytes may have gone to an earlier leader. Waiting first could then
        // wait for bytes that came already, until more come. The read costs no system call
        // when the transport knows its last read emptied the socket: whoever is told the
        // socket is readable and does not read marks the transport (`readiness_unread`).
        let mut more = true;
        loop {
            // Set when a call started before this thread said it leads: it did not ring. Or a
            // job waits for this worker, every other one being busy (the pool rings then).
            let mut step_aside =
                self.lead.calls_waiting.load(Ordering::SeqCst) > 0 || wanted.load(Ordering::SeqCst);
            let mut readable = false;
            if !more && !step_aside {
                match leader.wait(until) {
                    Some(woken) => (readable, step_aside) = (woken.socket, woken.bell),
                    None => step_aside = true,
                }
            }
            let mut wire = self.lock_wire();
            if !wire.led || wire.epoch != epoch || wire.transport.is_none() {
                // The socket thread took the connection away.
                readiness_unread(&mut wire, readable);
                return None;
            }
            if step_aside || wire.interest != Interest::READABLE {
                readiness_unread(&mut wire, readable);
                self.give_up_the_lead(&mut wire);
                return None;
            }
            // Invocations in a row from the start are this thread's: the first to run here,
            // the others on workers it wakes, as the socket thread would have. An event
            // first is this thread's alone, when its handler is free to run it now.
            let mut jobs = Vec::new();
            let mut event = None;
            let keep = |payload: &Payload, in_order: bool| {
                if !in_order {
                    return false;
                }
                if event.is_some() {
                    // Events that came with it are handed out here, as the socket thread
                    // would have, rather than waking it for them.
                    return self.hand_out_event(payload, serializer);
                }
                if jobs.is_empty() {
                    event = self.event_to_run(payload, serializer);
                    if event.is_some() {
                        return true;
                    }
                }
                let taken = self.invocation_to_run(payload, epoch, serializer);
                let kept = taken.is_some();
                jobs.extend(taken);
                kept
            };
            match self.read_turn(&mut wire, readable, &mut leader.batch, keep) {
                Ok(Turn::Kept) if event.is_some() => {
                    self.give_up_the_lead(&mut wire);
                    return event;
                }
                Ok(Turn::Kept) => {
                    self.give_up_the_lead(&mut wire);
                    drop(wire);
                    let mut jobs = jobs.into_iter();
                    let own = jobs.next().map(|taken| taken.job);
                    for taken in jobs {
                        self.hand_to_pool(taken, epoch);
                    }
                    return own;
                }
                Ok(Turn::Nothing { .. }) if !wire.unhandled.is_empty() => {
                    // Something other than an invocation came: the socket thread's work, and
                    // perhaps the first of many.
                    self.lead.idle_reading_paused.store(true, Ordering::Relaxed);
                    self.give_up_the_lead(&mut wire);
                    return None;
                }
                Ok(Turn::Nothing { more: read_on }) => more = read_on,
                Err(_) => {
                    // Left broken to the socket thread by `read_turn`.
                    wire.led = false;
                    return None;
                }
            }
        }
    }

    /// Runs an invocation this worker read on another worker, or answers it at once with
    /// [`CONCURRENCY_LIMIT`] when the pool is full, as the socket thread would.
    fn hand_to_pool(self: &Arc<Self>, taken: Taken, epoch: u64) {
        let Taken {
            job,
            request,
            state,
            size,
            entry,
        } = taken;
        if let Err(full) = self.pool.try_run(job, size) {
            // The dropped job never runs; its state, noted as running, says whether the
            // router still wants an answer (an INTERRUPT may have come meanwhile).
            let why = refused_invocation(self, &entry, &full);
            if state.start() {
                let answer = super::Answer {
                    invocation: request,
                    epoch,
                    last: true,
                };
                let refusal = invocation_error(request, CONCURRENCY_LIMIT, why);
                if self.send_full(&refusal, None, Some(answer)).is_ok() {
                    self.invocation_finished();
                } else {
                    // Gone with its connection: a close must not wait for it.
                    let _ = self.command(super::Command::ForgetInvocation { request, epoch });
                }
            }
        }
    }

    /// The run of the INVOCATION in `payload`, when it is one whose handler this thread may
    /// run itself, noted as running before anything read after it reaches the socket thread.
    fn invocation_to_run(
        self: &Arc<Self>,
        payload: &Payload,
        epoch: u64,
        serializer: Serializer,
    ) -> Option<Taken> {
        if cannot_be_invocation(serializer.peek(payload)) {
            return None;
        }
        // Anything undecodable is the socket thread's to fail the connection over.
        let message = serializer.decode(payload).ok()?;
        let (entry, arrived, state) = take_invocation(
            message,
            payload.len(),
            &self.registered,
            &self.invocations,
            &self.counters,
        )?;
        let (request, size) = (arrived.request, arrived.size);
        Some(Taken {
            job: invocation_job(self, epoch, &entry, arrived, state.clone()),
            request,
            state,
            size,
            entry,
        })
    }

    /// The run of the EVENT in `payload`, when it is one whose handler this thread may run
    /// itself now (see [`take_event`]), its place taken before anything read after it
    /// reaches the socket thread.
    fn event_to_run(&self, payload: &Payload, serializer: Serializer) -> Option<Job> {
        if self.lead.dispatching.load(Ordering::SeqCst)
            || cannot_be_own_event(serializer.peek(payload), &self.subscribed)
        {
            return None;
        }
        // Anything undecodable is the socket thread's to fail the connection over.
        let message = serializer.decode(payload).ok()?;
        let (entry, event) = take_event(message, &self.subscribed, &self.counters, |entry| {
            entry.limit.try_claim()
        })?;
        let job = event_job(&entry, event, payload.len());
        Some(entry.limit.clone().claimed(job))
    }

    /// Hands out the EVENT in `payload` as the socket thread would, when it is one of a
    /// subscription alone under its router id, read after an event this thread runs itself:
    /// one of the same subscription queues behind that one. False, leaving it to the socket
    /// thread, for anything else.
    fn hand_out_event(&self, payload: &Payload, serializer: Serializer) -> bool {
        if cannot_be_own_event(serializer.peek(payload), &self.subscribed) {
            return false;
        }
        let Ok(message) = serializer.decode(payload) else {
            return false;
        };
        match take_event(message, &self.subscribed, &self.counters, |_| true) {
            Some((entry, event)) => {
                deliver_event(self, vec![entry], event, payload.len());
                true
            }
            None => false,
        }
    }

    /// Why the connection a leader read is gone, once the socket thread has said so (it takes
    /// the connection away first, then fails what is pending and says why).
    fn why_gone(&self, call: &LedCall) -> Error {
        let link = self.wait_link_change(call.epoch, call.deadline);
        match link {
            Some(LinkState::Closed { reason }) => super::closed_error(&reason),
            Some(LinkState::Reconnecting { reason }) => Error::lost(reason),
            _ => Error::lost("the connection was lost while waiting for the answer"),
        }
    }
}
