//! The socket thread: the driver of the session's [`Core`]. It connects, reads everything the
//! router sends and feeds it to the core, carries out what the core decides (sends, handler
//! jobs, hooks), reconnects ([`reconnect`]), and closes. Callers write to the connection
//! only through [`Shared::send_full`], which borrows it when it is free, and tell the core
//! what they wrote through notes, which this thread books.

mod heartbeat;
mod io;
mod reconnect;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crossbeam_channel::Receiver;
use mio::{Events, Poll, Token, Waker};
use parking_lot::{Condvar, Mutex};

use crate::Error;
use crate::protocol::Serializer;
use crate::transport::{Payload, Traffic};

use super::core::{Core, Invocations, Output};
use super::dispatch::WorkerPool;
use super::jobs::{deliver_event, run_hooks, start_invocation};
use super::reconnect::{ConnectAttempt, connect_and_join};
use super::reply::Responder;
use super::{Command, Counters, Hooks, Link, LinkState, Note, SessionConfig, Shared, Wire};

const WAKER: Token = Token(0);

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
    let local_ip = transport.local_ip();
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
        next_request: Arc::new(AtomicU64::new(1)),
        next_local_id: AtomicU64::new(1),
        link: Mutex::new(Link {
            state: LinkState::Connected,
            epoch: 1,
            serializer,
            max_outgoing,
            session_id: Some(welcome.session),
            welcome: welcome.details.clone(),
            local_ip,
        }),
        link_changed: Condvar::new(),
        socket_idle: std::sync::atomic::AtomicBool::new(false),
        draining: std::sync::atomic::AtomicBool::new(false),
        answered_while_draining: std::sync::atomic::AtomicBool::new(false),
        counters: Arc::new(Counters::default()),
        uri_base: parking_lot::RwLock::new(config.uri_base.clone()),
        pool: WorkerPool::new("wamp-handler", config.handler_limits),
        registered: super::table::Published::default(),
        subscribed: super::table::Published::default(),
        invocations: Invocations::default(),
        hooks: Mutex::new(hooks),
        thread: Mutex::new(None),
        leave_hooks: Mutex::new(None),
        config,
    });
    let mut core = Core::new(
        shared.next_request.clone(),
        shared.counters.clone(),
        shared.registered.clone(),
        shared.subscribed.clone(),
        shared.invocations.clone(),
    );
    core.connected(1);
    let mut socket = SocketLoop {
        shared: shared.clone(),
        core,
        poll,
        commands,
        notes,
        serializer,
        endpoint: joined.endpoint,
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

/// Why `serve` returned.
enum Exit {
    /// `close` was called.
    Closed,
    /// The connection broke.
    Lost(String),
}

/// The socket thread's state: the core it drives, and the connection's I/O.
struct SocketLoop {
    shared: Arc<Shared>,
    core: Core,
    poll: Poll,
    commands: Receiver<Command>,
    notes: Receiver<Note>,
    /// The serializer of the current connection, to decode without taking `wire`.
    serializer: Serializer,
    /// The index of the router URL in use (or last used) in `SessionConfig::endpoints`.
    endpoint: usize,
    /// A reconnect attempt that outran its backstop and still runs (see
    /// [`SocketLoop::attempt`]).
    connecting: Option<ConnectAttempt>,
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
    traffic: Arc<Traffic>,
    seen_traffic: (u64, u64, Option<u64>),
}

impl SocketLoop {
    fn run(mut self) {
        self.serve_until_ended();
        // Nothing comes for the handler workers any more but the leave hooks, already
        // queued: they end once idle, so a closed client leaves no thread behind.
        self.shared.pool.retire_idle();
    }

    fn serve_until_ended(&mut self) {
        loop {
            let reason = match self.serve() {
                Exit::Closed => {
                    self.shutdown("", Error::Closed);
                    self.core.finish_close(Instant::now());
                    return;
                }
                Exit::Lost(reason) => reason,
            };
            if self.core.is_closing() {
                // The user asked to close: the handlers' answers cannot go out any more, and
                // there is nothing to reconnect for.
                log::info!("connection lost while closing: {reason}");
                self.core.cut_off(Instant::now());
                self.disconnect();
                self.shutdown("", Error::Closed);
                self.core.finish_close(Instant::now());
                return;
            }
            log::warn!("connection to the router lost: {reason}");
            self.disconnect();
            self.fail_pending(|| Error::lost(reason.clone()));
            self.shared.set_link(|link| {
                link.state = LinkState::Reconnecting {
                    reason: reason.clone(),
                };
                link.session_id = None;
            });
            run_hooks(&self.shared, |hooks| hooks.disconnect.clone(), &reason);
            if !self.reconnect(&reason) {
                return;
            }
        }
    }

    /// Fails every pending request and ends the session for good.
    fn shutdown(&mut self, reason: &str, error: Error) {
        let message = format!("{error:#}");
        self.fail_pending(|| match &error {
            Error::Closed => Error::Closed,
            Error::GaveUp { reason } => Error::GaveUp {
                reason: reason.clone(),
            },
            _ => Error::lost(message.clone()),
        });
        self.shared.set_link(|link| {
            link.state = LinkState::Closed {
                reason: reason.to_owned(),
            };
            link.session_id = None;
        });
        *self.shared.leave_hooks.lock() = run_hooks(
            &self.shared,
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
    fn disconnect(&mut self) {
        if let Some(mut transport) = self.take_transport() {
            transport.close();
        }
    }

    /// Books what callers wrote themselves. Returns why the connection broke, if a caller's
    /// write found it broken.
    fn take_notes(&mut self) -> Option<String> {
        let mut failure = None;
        while let Ok(note) = self.notes.try_recv() {
            match note {
                Note::Request { epoch, id, pending } => self.core.request_sent(epoch, id, pending),
                Note::Unflushed(written) => {
                    self.unflushed = true;
                    self.awaiting_flush.extend(written);
                }
                Note::Failed(reason) => failure = Some(reason),
            }
        }
        failure
    }

    /// The connection is gone: everything in flight fails with `error`.
    fn fail_pending(&mut self, error: impl Fn() -> Error) {
        // Callers cannot write any more (the connection is gone from `wire`), so every
        // request they wrote has been noted by now.
        self.take_notes();
        for written in self.awaiting_flush.drain(..) {
            written.send(Err(error()));
        }
        // Nothing to carry out: without a connection the core sends nothing.
        self.core.connection_lost(error);
    }

    /// Answers a command that cannot be carried out.
    fn refuse(&mut self, command: Command, error: impl Fn() -> Error) {
        match command {
            Command::Send {
                request: Some((_, pending)),
                ..
            } => pending.respond(Err(error())),
            Command::Unregister { reply, .. } | Command::Unsubscribe { reply, .. } => {
                reply.send(Err(error()));
            }
            _ => {}
        }
    }

    /// Carries out what the core decided, in order.
    fn carry_out(&mut self) {
        while let Some(output) = self.core.poll_output() {
            match output {
                Output::Send(message) => self.send_own(&message),
                Output::Invoke {
                    entry,
                    arrived,
                    state,
                    epoch,
                } => {
                    let request = arrived.request;
                    if let Err(why) = start_invocation(&self.shared, &entry, arrived, state, epoch)
                    {
                        self.core.invocation_refused(request, why);
                    }
                }
                Output::Deliver {
                    entries,
                    event,
                    size,
                } => deliver_event(&self.shared, entries, event, size),
                Output::Revoked(what) => {
                    run_hooks(&self.shared, |hooks| hooks.revoked.clone(), &what);
                }
            }
        }
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
                return Exit::Lost(format!("{e:#}"));
            }
            let timeout = self.next_wake_up();
            if let Err(e) = self.sleep(&mut events, timeout) {
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Exit::Lost(format!("event loop failed: {e:#}"));
            }
            let mut readable = false;
            for event in events.iter() {
                if event.token() == super::SOCKET && (event.is_readable() || event.is_read_closed())
                {
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
            self.core.handle_timeout(Instant::now());
            self.carry_out();
            if self.unflushed || !self.awaiting_flush.is_empty() {
                match self.flush() {
                    Ok(true) => {
                        self.unflushed = false;
                        for written in self.awaiting_flush.drain(..) {
                            written.send(Ok(()));
                        }
                    }
                    Ok(false) => {}
                    Err(e) => return Exit::Lost(format!("{e:#}")),
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

    /// Whether a close may say GOODBYE now (see [`Core::drained`]); what a cut-off at the
    /// deadline answers goes out first.
    fn drained(&mut self) -> bool {
        let drained = self.core.drained(Instant::now());
        self.carry_out();
        drained
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
            let mut wire = self.shared.lock_wire();
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
                if epoch != self.core.epoch() {
                    // Encoded for a connection that has since been replaced.
                    if let Some((_, pending)) = request {
                        pending.respond(Err(Error::lost(
                            "the connection was replaced before sending",
                        )));
                    }
                    continue;
                }
                if let Some(invocation) = finishes_invocation {
                    self.shared.invocations.answered(invocation);
                }
                let transport = match wire.connected() {
                    Ok(transport) => transport,
                    Err(e) => return Some(Exit::Lost(format!("{e:#}"))),
                };
                match request {
                    Some((_, super::Pending::Written(tx))) => self.awaiting_flush.push(tx),
                    Some((id, pending)) => self.core.request_sent(epoch, id, pending),
                    None => {}
                }
                self.shared
                    .counters
                    .messages_sent
                    .fetch_add(1, Ordering::Relaxed);
                self.unflushed = true;
                if let Err(e) = transport.queue_message(frame) {
                    return Some(Exit::Lost(format!("{e:#}")));
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
                } => self.core.cancel(request, mode, forget),
                Command::Unregister { local_id, reply } => self.core.unregister(local_id, reply),
                Command::Unsubscribe { local_id, reply } => self.core.unsubscribe(local_id, reply),
                Command::ForgetInvocation { request, epoch } => {
                    self.core.invocation_forgotten(request, epoch)
                }
                Command::Close {
                    own_invocation,
                    grace,
                    report,
                } => {
                    self.shared.draining.store(true, Ordering::SeqCst);
                    self.core
                        .close(own_invocation, grace, report, Instant::now());
                    self.carry_out();
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
            self.carry_out();
        }
        None
    }
}
