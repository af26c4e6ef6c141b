//! The restore plan: after a reconnect, everything the user holds is made again on the new
//! session (registrations, subscriptions, testaments), with fresh ids; what the router
//! refuses is retried or reported.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::protocol::{Id, Message};

use super::super::{Registration, Subscription, Testament, testament_priming};
use super::{Core, Pending, RESTORE_ATTEMPTS, RESTORE_RETRY_BASE, RESTORE_RETRY_MAX, Retry};

impl Core {
    /// Sends REGISTER and SUBSCRIBE again for everything that was live, and primes every
    /// testament to be added again.
    pub(super) fn restore(&mut self) {
        self.retries.clear();
        for entry in self.registrations.reset_connection() {
            self.send_restore(entry, 0);
        }
        for entry in self.subscriptions.reset_connection() {
            self.resubscribe(entry);
        }
        for testament in self.testaments.clone() {
            let request = self.next_request_id();
            let priming = testament_priming(request, &testament.topic);
            self.pending
                .insert(request, Pending::PrimeTestament(testament));
            self.send(priming);
        }
    }

    /// REGISTERED for a registration being restored.
    pub(super) fn restored(&mut self, registration: Id, entry: Arc<Registration>) {
        if self.closing.is_some() {
            // Restored while closing: withdrawn at once, as the rest were.
            self.registrations.install(registration, entry);
            self.withdraw(registration);
        } else if self.registrations.is_wanted(entry.local_id) {
            log::info!("registration of {} restored", entry.procedure);
            self.registrations.install(registration, entry);
            self.counters.restored.fetch_add(1, Ordering::Relaxed);
        } else {
            // Unregistered by the user while it was being restored. Answered like a close's
            // withdrawal, which waits for it.
            let request = self.next_request_id();
            self.pending.insert(request, Pending::Withdraw);
            self.send(Message::Unregister {
                request,
                registration,
            });
        }
    }

    /// SUBSCRIBED for a subscription being restored.
    pub(super) fn resubscribed(&mut self, subscription: Id, entry: Arc<Subscription>) {
        if self.subscriptions.is_wanted(entry.local_id) {
            log::debug!("subscription to {} restored", entry.topic);
            self.subscriptions.install(subscription, entry);
            self.counters.restored.fetch_add(1, Ordering::Relaxed);
        } else if self.subscriptions.sharing(subscription) == 0 {
            // Unsubscribed by the user while it was being restored, and no other handler of
            // ours shares it.
            let request = self.next_request_id();
            self.pending.insert(request, Pending::Release(subscription));
            self.send(Message::Unsubscribe {
                request,
                subscription,
            });
        }
    }

    /// Adds a testament again to the new session, now that the router has answered its
    /// priming publish (see [`testament_priming`]), unless the user has flushed it meanwhile
    /// or a flush is on its way (the driver books what callers wrote before each message).
    pub(super) fn restore_testament(&mut self, testament: Arc<Testament>) {
        let flushing = self
            .pending
            .values()
            .any(|p| matches!(p, Pending::FlushTestaments(_)));
        let kept = self.testaments.iter().any(|t| Arc::ptr_eq(t, &testament));
        if kept && !flushing {
            let request = self.next_request_id();
            let message = testament.call(request);
            self.pending
                .insert(request, Pending::RestoreTestament(testament));
            self.send(message);
        }
    }

    /// Sends SUBSCRIBE for a subscription the user still has, but the router does not.
    pub(super) fn resubscribe(&mut self, entry: Arc<Subscription>) {
        let request = self.next_request_id();
        let message = Message::Subscribe {
            request,
            options: entry.options.clone(),
            topic: entry.topic.clone(),
        };
        self.pending.insert(request, Pending::Resubscribe(entry));
        self.send(message);
    }

    /// A registration could not be restored. When the router still holds the URI for our
    /// previous, dead session, it lets go once it notices: try again with backoff. Otherwise,
    /// or after too many tries, give up and report it.
    pub(super) fn restore_refused(
        &mut self,
        entry: Arc<Registration>,
        attempt: u32,
        error: &Message,
        now: Instant,
    ) {
        if self.closing.is_some() {
            // Nothing is registered again once a close has withdrawn the rest.
            return;
        }
        let held = matches!(error, Message::Error { error, .. } if error == "wamp.error.procedure_already_exists");
        if held && attempt < RESTORE_ATTEMPTS {
            let delay = RESTORE_RETRY_BASE
                .saturating_mul(1 << attempt.min(5))
                .min(RESTORE_RETRY_MAX);
            log::info!(
                "{} is still registered by our previous session; retrying in {delay:?}",
                entry.procedure
            );
            self.retries.push(Retry {
                due: crate::deadline::from(now, delay),
                entry,
                attempt: attempt + 1,
            });
            return;
        }
        self.registrations.forget(entry.local_id);
        self.restore_failed(&entry.procedure, error);
    }

    /// Sends REGISTER again for the retries that are due.
    pub(super) fn retry_restores(&mut self, now: Instant) {
        let (due, later): (Vec<_>, Vec<_>) =
            self.retries.drain(..).partition(|retry| retry.due <= now);
        self.retries = later;
        for retry in due {
            if self.connected && self.registrations.is_wanted(retry.entry.local_id) {
                self.send_restore(retry.entry, retry.attempt);
            }
        }
    }

    fn send_restore(&mut self, entry: Arc<Registration>, attempt: u32) {
        let request = self.next_request_id();
        let message = Message::Register {
            request,
            options: entry.options.clone(),
            procedure: entry.procedure.clone(),
        };
        self.pending
            .insert(request, Pending::Restore(entry, attempt));
        self.send(message);
    }
}
