//! A close: withdraw every registration, let the invocations that arrived before the router
//! took the withdrawal be answered, wait for acknowledged publications, then GOODBYE, all
//! within a grace; and the report of what became of everything in hand.

use std::fmt;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::protocol::{Id, Message};

use super::super::reply::Responder;
use super::{Core, Pending};

/// What became of a service's work when it shut down
/// ([`Client::shutdown`](crate::Client::shutdown)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Registrations withdrawn from the router before GOODBYE.
    pub withdrawn: u64,
    /// Invocations answered by their handler during the shutdown.
    pub answered: u64,
    /// Invocations still waiting for a handler thread when the grace ran out: answered
    /// `wamp.error.canceled` at once, never run.
    pub cancelled: u64,
    /// Handlers still running when the grace ran out: their answers were dropped (the
    /// router fails those calls when the session leaves).
    pub cut_off: u64,
    /// Acknowledged publications the router had not acknowledged when the grace ran out.
    pub unacknowledged_publications: u64,
    /// How long the shutdown took, up to the router's GOODBYE.
    pub elapsed: Duration,
}

impl ShutdownReport {
    /// True when nothing in hand was cancelled, cut off or left unacknowledged.
    pub fn lost_nothing(&self) -> bool {
        self.cancelled == 0 && self.cut_off == 0 && self.unacknowledged_publications == 0
    }
}

impl fmt::Display for ShutdownReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "shut down in {:.1?}: {} registration(s) withdrawn, {} invocation(s) answered, {} \
             cancelled, {} cut off, {} publication(s) unacknowledged",
            self.elapsed,
            self.withdrawn,
            self.answered,
            self.cancelled,
            self.cut_off,
            self.unacknowledged_publications
        )
    }
}

/// A close under way.
pub(super) struct Closing {
    started: Instant,
    deadline: Instant,
    /// The invocation of the handler that called `close`, not waited for (it cannot answer
    /// before the close returns).
    own_invocation: Option<Id>,
    /// `invocations_answered` when the close began.
    answered_before: u64,
    /// What happened, filled in as the close goes (the rest when it ends).
    report: ShutdownReport,
    /// Who waits for the report.
    reply: Option<Responder<ShutdownReport>>,
}

impl Closing {
    pub(super) fn deadline(&self) -> Instant {
        self.deadline
    }
}

impl Core {
    /// Starts closing at `now` (see the module's documentation): the router is asked to stop
    /// invoking each registration, so that it sends new calls to other callees (or fails them
    /// at once), while the invocations it sent before it took the withdrawal are still
    /// served; they all arrive before its UNREGISTERED, on the same connection. A second
    /// close only gets an empty report.
    pub fn close(
        &mut self,
        own_invocation: Option<Id>,
        grace: Duration,
        reply: Option<Responder<ShutdownReport>>,
        now: Instant,
    ) {
        if self.closing.is_some() {
            if let Some(reply) = reply {
                reply.send(Ok(ShutdownReport::default()));
            }
            return;
        }
        self.closing = Some(Closing {
            started: now,
            deadline: crate::deadline::from(now, grace),
            own_invocation,
            answered_before: self.counters.invocations_answered.load(Ordering::Relaxed),
            report: ShutdownReport::default(),
            reply,
        });
        // Nothing is registered again from here on.
        self.retries.clear();
        if self.connected {
            // In a stable order, as everything the core sends: a schedule replays exactly.
            let mut registrations = self.registrations.router_ids();
            registrations.sort_unstable();
            for registration in registrations {
                self.withdraw(registration);
            }
        }
        let running = self.invocations.count(own_invocation);
        if running > 0 {
            log::info!("closing: waiting for {running} running handler(s) to answer");
        }
    }

    /// Whether a close is under way.
    pub fn is_closing(&self) -> bool {
        self.closing.is_some()
    }

    /// Asks the router to stop invoking `registration`, for a close. The local entry stays,
    /// so that invocations already on their way still find their handler.
    pub(super) fn withdraw(&mut self, registration: Id) {
        let request = self.next_request_id();
        self.pending.insert(request, Pending::Withdraw);
        self.send(Message::Unregister {
            request,
            registration,
        });
        if let Some(closing) = &mut self.closing {
            closing.report.withdrawn += 1;
        }
    }

    /// Whether a close may now say GOODBYE: the router has answered every registration and
    /// taken every withdrawal, every handler has answered and every acknowledged publication
    /// is acknowledged; or the
    /// deadline has come at `now`, and what is still in hand is cut off.
    pub fn drained(&mut self, now: Instant) -> bool {
        let Some(closing) = &self.closing else {
            return false;
        };
        // A registration in flight is in hand too: once the router has it, calls may come
        // to it until it is withdrawn like the rest.
        let in_hand = self.invocations.count(closing.own_invocation) > 0
            || self.pending.values().any(|pending| {
                matches!(
                    pending,
                    Pending::Withdraw
                        | Pending::Publish(_)
                        | Pending::Register(..)
                        | Pending::Restore(..)
                )
            });
        if !in_hand {
            return true;
        }
        if now < closing.deadline {
            return false;
        }
        self.cut_off(now);
        true
    }

    /// At the end of the grace (or when the connection is lost while closing): what is
    /// still in hand is cut off (see [`Core::cut_off_invocations`]), and counted in the
    /// report with the publications still unacknowledged.
    pub fn cut_off(&mut self, now: Instant) {
        let Some(own) = self.closing.as_ref().map(|c| c.own_invocation) else {
            return;
        };
        let (cancelled, cut_off) = self.cut_off_invocations(own);
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
                    now.saturating_duration_since(closing.started)
                );
            }
        }
    }

    /// The session has ended at `now`: the close's report goes to whoever waits for it.
    pub fn finish_close(&mut self, now: Instant) {
        if let Some(mut closing) = self.closing.take() {
            let answered = self.counters.invocations_answered.load(Ordering::Relaxed);
            closing.report.answered = answered.saturating_sub(closing.answered_before);
            closing.report.elapsed = now.saturating_duration_since(closing.started);
            if let Some(reply) = closing.reply.take() {
                reply.send(Ok(closing.report));
            }
        }
    }
}
