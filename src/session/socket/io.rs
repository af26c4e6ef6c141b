//! The socket thread's I/O: watching the socket, reading batches, writing what the core
//! sends, and the last GOODBYE.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mio::{Events, Interest};

use crate::Error;
use crate::memory;
use crate::protocol::{Dict, LogSafe, Message, Value};
use crate::transport::{FRAME_HEADROOM, Incoming, Payload, Transport};

use super::super::{READ_BATCH, SOCKET, hurry_acknowledgements_of_events};
use super::SocketLoop;

impl SocketLoop {
    pub(super) fn register_socket(&mut self) -> Result<(), Error> {
        let mut wire = self.shared.lock_wire();
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
    /// [`super::super::leader`]).
    pub(super) fn take_transport(&mut self) -> Option<Transport> {
        let mut wire = self.shared.lock_wire();
        if wire.led {
            self.shared.lead.ring(&wire);
            // Back in this thread's poll, where closing waits for the router's GOODBYE.
            if let Err(e) = self.shared.lead.give_back_socket(&mut wire) {
                log::debug!("{e:#}");
            }
        }
        wire.unhandled.clear();
        wire.broken = None;
        wire.transport.take()
    }

    /// Watches the socket for room to write while something waits to go out, and stops
    /// once it is out. Asking again reports a socket already writable at once (epoll
    /// re-checks readiness on a change of interest), so no wake-up is lost in between.
    pub(super) fn watch_writable(&mut self, wanted: bool) -> Result<(), Error> {
        if wanted == self.watching_writable {
            return Ok(());
        }
        let interest = if wanted {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        let mut wire = self.shared.lock_wire();
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
    pub(super) fn flush(&self) -> Result<bool, Error> {
        self.shared.lock_wire().connected()?.flush()
    }

    /// Waits for socket readiness, a command, or `timeout`. Commands wake the thread only
    /// while it sleeps here (see `Shared::command`).
    pub(super) fn sleep(
        &mut self,
        events: &mut Events,
        timeout: Option<Duration>,
    ) -> std::io::Result<()> {
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
            && let Some(transport) = self.shared.lock_wire().transport.as_mut()
        {
            transport.mark_readable();
        }
        polled
    }

    /// Sends a message the socket thread writes itself (CANCEL, UNREGISTER, error replies).
    pub(super) fn send_own(&mut self, message: &Message) {
        let mut frame = vec![0u8; FRAME_HEADROOM];
        let result = self
            .serializer
            .encode_into(message, &mut frame)
            .map_err(Error::from)
            .and_then(|()| self.shared.lock_wire().connected()?.queue_message(frame));
        if let Err(e) = result {
            log::warn!("could not send {}: {e:#}", message.name());
        } else {
            self.unflushed = true;
            self.shared
                .counters
                .messages_sent
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(super) fn say_goodbye(&mut self) {
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
        let deadline = Instant::now() + super::super::GOODBYE_WAIT;
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
    pub(super) fn read_all(&mut self) -> Result<(), String> {
        let mut batch = std::mem::take(&mut self.batch);
        let outcome = loop {
            let mut failure;
            let mut drained = false;
            {
                let mut wire = self.shared.lock_wire();
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
                    Err(e) => break Err(format!("{e:#}")),
                };
                if !drained {
                    let read = transport.read_batch(&mut batch, READ_BATCH);
                    hurry_acknowledgements_of_events(transport, &batch);
                    drained = read.drained;
                    failure = read.failure;
                    if read.ponged || read.pinged {
                        self.last_received = Instant::now();
                    }
                    // The transport queued its answer to a ping.
                    self.unflushed |= read.pinged;
                }
                if !batch.is_empty() {
                    self.shared.lead.dispatching.store(true, Ordering::SeqCst);
                }
            }
            // What arrived before a failure is still handled: it may answer requests.
            let handled = self.handle_batch(&mut batch);
            // Everything read is handed out: a leader may take events again.
            self.shared.lead.dispatching.store(false, Ordering::SeqCst);
            if let Err(e) = handled {
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

    pub(super) fn handle_batch(&mut self, batch: &mut Vec<Payload>) -> Result<(), String> {
        if batch.is_empty() {
            return Ok(());
        }
        let now = Instant::now();
        self.last_received = now;
        let mut failure = None;
        for payload in batch.drain(..) {
            // Before each message: it may answer a request a caller wrote meanwhile, and the
            // core must know of a testament flush on its way before it adds one again. A
            // caller's failed write ends the connection once the batch is handled: what
            // arrived before the failure may still answer requests.
            if let Some(reason) = self.take_notes() {
                failure.get_or_insert(reason);
            }
            self.shared
                .counters
                .messages_received
                .fetch_add(1, Ordering::Relaxed);
            let message = self.serializer.decode(&payload).map_err(|e| {
                // A peer that breaks the protocol cannot be trusted with the rest of the
                // stream either.
                format!("undecodable message from the router: {e:#}")
            })?;
            if log::log_enabled!(log::Level::Debug) {
                log::debug!("received {:?}", LogSafe(&message));
            }
            if matches!(message, Message::Invocation { .. }) {
                self.shared.handed_out_through_socket_thread();
            }
            let size = payload.len();
            drop(payload);
            let handled = self.core.received(message, size, now);
            self.carry_out();
            if let Err(reason) = handled {
                // Whatever the core answered (GOODBYE to the router's GOODBYE) goes out.
                let _ = self.flush();
                return Err(reason);
            }
            memory::large_message_done(size);
        }
        failure.map_or(Ok(()), Err)
    }
}
