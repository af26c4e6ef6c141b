//! The socket thread while disconnected: waiting between attempts (answering commands
//! meanwhile), one connect attempt at a time on a thread of its own, and putting a new
//! connection in place of the lost one. The policy and the connecting itself are in
//! [`super::super::reconnect`].

use std::sync::atomic::Ordering;
use std::time::Instant;

use crossbeam_channel::select;

use crate::Error;

use super::super::jobs::run_join_hooks;
use super::super::reconnect::{ConnectAttempt, Joined};
use super::super::{Command, LinkState};
use super::SocketLoop;

/// How a wait while disconnected ended.
enum Woken<T> {
    /// The wait is over (the deadline passed, or what was waited for came).
    Done(Option<T>),
    /// `close` was called.
    Closed,
}

impl SocketLoop {
    /// Tries until joined again (true) or closed / out of attempts (false).
    pub(super) fn reconnect(&mut self, reason: &str) -> bool {
        let policy = self.shared.config.reconnect.clone();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            if policy.max_attempts.is_some_and(|max| attempt > max) {
                let why = match attempt - 1 {
                    0 => format!("{reason} (reconnecting is off)"),
                    1 => format!("{reason} (1 reconnect attempt failed)"),
                    tried => format!("{reason} ({tried} reconnect attempts failed)"),
                };
                log::error!("gave up reconnecting: {why}");
                self.shutdown(
                    &why,
                    Error::GaveUp {
                        reason: why.clone(),
                    },
                );
                return false;
            }
            let delay = policy.delay(attempt);
            log::info!("reconnecting in {delay:?} (attempt {attempt})");
            let deadline = crate::deadline::after(delay);
            if let Woken::Closed = self.wait_while_disconnected::<()>(deadline, None) {
                self.shutdown("", Error::Closed);
                return false;
            }
            let joined = match self.attempt() {
                Woken::Done(Some(Ok(joined))) => joined,
                Woken::Done(Some(Err(e))) => {
                    log::warn!("reconnect attempt {attempt} failed: {e:#}");
                    continue;
                }
                Woken::Done(None) => {
                    log::warn!("reconnect attempt {attempt} ended without an answer");
                    continue;
                }
                Woken::Closed => {
                    self.shutdown("", Error::Closed);
                    return false;
                }
            };
            if self.resume(joined) {
                return true;
            }
        }
    }

    /// One attempt over every router URL, starting after the one that was lost, on a thread
    /// of its own. An attempt overtaken by `close` is left to finish by itself; what it
    /// joins is closed again.
    ///
    /// At most one such thread runs: an attempt still running at its backstop (a step that
    /// overran the connect timeout) is waited for by the next one instead of being joined by
    /// another thread, so that a router that never answers cannot pile threads up.
    fn attempt(&mut self) -> Woken<Result<Joined, Error>> {
        let in_flight = self.connecting.take().filter(ConnectAttempt::is_pending);
        let attempt = match in_flight {
            Some(attempt) => {
                log::debug!("the last connect attempt is still running; waiting for it");
                attempt
            }
            None => match ConnectAttempt::start(
                &self.shared.config,
                (self.endpoint + 1) % self.shared.config.endpoints.len(),
            ) {
                Ok(attempt) => attempt,
                Err(e) => return Woken::Done(Some(Err(e))),
            },
        };
        // The attempt is bounded by the connect timeout at each step; this is only a backstop.
        let steps = 4 * self.shared.config.endpoints.len() as u32 + 4;
        let deadline = crate::deadline::after(crate::deadline::times(
            self.shared.config.transport.connect_timeout,
            steps,
        ));
        let woken = self.wait_while_disconnected(deadline, Some(attempt.result()));
        if let Woken::Done(None) = woken {
            self.connecting = Some(attempt);
        }
        woken
    }

    /// Puts a new connection in place of the lost one: restores what was registered and
    /// subscribed, tells callers, and runs the join hooks. False when it could not be used.
    fn resume(&mut self, joined: Joined) -> bool {
        let Joined {
            mut transport,
            welcome,
            endpoint,
        } = joined;
        self.traffic = transport.traffic();
        let epoch = self.core.epoch() + 1;
        self.endpoint = endpoint;
        self.serializer = transport.serializer();
        let max_outgoing = transport.max_outgoing.unwrap_or(usize::MAX);
        let local_ip = transport.local_ip();
        {
            let mut wire = self.shared.lock_wire();
            wire.transport = Some(transport);
            wire.epoch = epoch;
        }
        if let Err(e) = self.register_socket() {
            log::warn!("reconnected but could not watch the socket: {e:#}");
            self.disconnect();
            return false;
        }
        self.shared
            .counters
            .reconnections
            .fetch_add(1, Ordering::Relaxed);
        // Everything the user holds is made again before any caller can write on the new
        // connection (the link says connected only below).
        self.core.connected(epoch);
        self.carry_out();
        let serializer = self.serializer;
        self.shared.set_link(|link| {
            link.state = LinkState::Connected;
            link.epoch = epoch;
            link.serializer = serializer;
            link.max_outgoing = max_outgoing;
            link.session_id = Some(welcome.session);
            link.welcome = welcome.details.clone();
            link.local_ip = local_ip;
        });
        if self.shared.config.endpoints.len() > 1 {
            log::info!(
                "reconnected to router {} as session {}",
                endpoint + 1,
                welcome.session
            );
        } else {
            log::info!("reconnected as session {}", welcome.session);
        }
        let hooks = self.shared.hooks.lock().join.clone();
        if !hooks.is_empty() {
            let details = welcome.details;
            let owner = self.shared.clone();
            self.shared.pool.run(Box::new(move || {
                run_join_hooks(&owner, &hooks, &details);
            }));
        }
        true
    }

    /// Answers commands until `deadline`, or until `until` delivers: requests fail (there is
    /// no connection), while unregistering and unsubscribing succeed, since the router let go
    /// of everything with the session.
    fn wait_while_disconnected<T>(
        &mut self,
        deadline: Instant,
        until: Option<&crossbeam_channel::Receiver<T>>,
    ) -> Woken<T> {
        let never = crossbeam_channel::never();
        let until = until.unwrap_or(&never);
        loop {
            let command = select! {
                recv(self.commands) -> command => command,
                recv(until) -> value => return Woken::Done(value.ok()),
                default(deadline.saturating_duration_since(Instant::now())) => {
                    return Woken::Done(None);
                }
            };
            match command {
                Ok(Command::Close { .. }) => return Woken::Closed,
                Ok(Command::Unregister { local_id, reply }) => {
                    self.core.unregister(local_id, reply)
                }
                Ok(Command::Unsubscribe { local_id, reply }) => {
                    self.core.unsubscribe(local_id, reply)
                }
                Ok(other) => self.refuse(other, || Error::lost("reconnecting")),
                // Every client handle is gone, and with them whoever could close: close.
                Err(_) => return Woken::Closed,
            }
        }
    }
}
