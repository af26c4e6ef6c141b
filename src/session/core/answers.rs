//! A message arrived: answers to requests, revocations, and the router ending the session.
//! Invocations and events are in [`super::invocations`].

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::protocol::{Dict, Id, LogSafe, Message, Peek, Value, code};

use super::{Core, Output, Pending};

/// Whether a message's leading integers (see [`Peek`]) prove it cannot end the CALL
/// `request`, so that a caller reading for its answer hands it on without decoding it. An
/// inconclusive peek (none, or one that stops before the id) proves nothing: the message is
/// then decoded and asked [`ends_call`], as a caller's own answer must never be handed on.
pub(crate) fn cannot_end_call(peek: Option<Peek>, request: Id) -> bool {
    let Some(peek) = peek else {
        return false;
    };
    match peek.get(0) {
        Some(code::RESULT) => peek.get(1).is_some_and(|answered| answered != request),
        Some(code::ERROR) => match (peek.get(1), peek.get(2)) {
            (Some(request_type), _) if request_type != code::CALL => true,
            (Some(_), Some(answered)) => answered != request,
            _ => false,
        },
        Some(_) => true,
        None => false,
    }
}

/// Whether `message` ends the CALL `request`: its final RESULT (not a progressive one) or its
/// ERROR. What a caller reading its own answer keeps (see [`super::super::leader`]); it hands
/// everything else to the core.
pub(crate) fn ends_call(message: &Message, request: Id) -> bool {
    match message {
        Message::Result {
            request: answered,
            details,
            ..
        } => *answered == request && details.get("progress").and_then(Value::as_bool) != Some(true),
        Message::Error {
            request_type: code::CALL,
            request: answered,
            ..
        } => *answered == request,
        _ => false,
    }
}

impl Core {
    /// Handles one message from the router, `size` bytes encoded, at `now`. An error says
    /// why the connection must end (after what the core queued is sent).
    pub fn received(&mut self, message: Message, size: usize, now: Instant) -> Result<(), String> {
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
                    self.result(pending, message);
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
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
                if let Some(pending) = self.pending.remove(&request) {
                    self.error(pending, message, now);
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
                Some(Pending::Restore(entry, _)) => self.restored(registration, entry),
                Some(other) => other.respond(Ok(message)),
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
                Some(Pending::Resubscribe(entry)) => self.resubscribed(subscription, entry),
                Some(other) => other.respond(Ok(message)),
                None => {}
            },
            Message::Unregistered {
                request,
                ref details,
            } => {
                if request == 0 {
                    self.registration_revoked(details.as_ref());
                } else if let Some(pending) = self.pending.remove(&request) {
                    if let Pending::Unregister(_, local_id) = &pending {
                        self.registrations.forget(*local_id);
                    }
                    pending.respond(Ok(message));
                }
            }
            Message::Unsubscribed {
                request,
                ref details,
            } => {
                if request == 0 {
                    self.subscription_revoked(details.as_ref());
                } else if let Some(pending) = self.pending.remove(&request) {
                    self.unsubscribed(&pending);
                    pending.respond(Ok(message));
                }
            }
            Message::Published { request, .. } => match self.pending.remove(&request) {
                Some(Pending::PrimeTestament(testament)) => self.restore_testament(testament),
                Some(pending) => pending.respond(Ok(message)),
                None => {}
            },
            Message::Invocation {
                request,
                registration,
                details,
                args,
                kwargs,
            } => self.invocation(request, registration, details, args, kwargs, size),
            Message::Interrupt { request, options } => self.interrupt(request, &options),
            Message::Event {
                subscription,
                publication,
                details,
                args,
                kwargs,
            } => self.event(subscription, publication, details, args, kwargs, size),
            Message::Goodbye { reason, .. } => {
                self.send(Message::Goodbye {
                    details: Dict::new(),
                    reason: "wamp.close.goodbye_and_out".into(),
                });
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

    /// The final RESULT of `pending`.
    fn result(&mut self, pending: Pending, message: Message) {
        match pending {
            Pending::AddTestament(reply, testament) => {
                self.testaments.push(testament);
                reply.send(Ok(message));
            }
            Pending::RestoreTestament(testament) => {
                log::debug!("testament on {} restored", testament.topic);
                self.counters.restored.fetch_add(1, Ordering::Relaxed);
            }
            Pending::FlushTestaments(reply) => {
                self.testaments.clear();
                reply.send(Ok(message));
            }
            other => other.respond(Ok(message)),
        }
    }

    /// The ERROR that answers `pending`.
    fn error(&mut self, pending: Pending, message: Message, now: Instant) {
        match pending {
            Pending::Restore(registration, attempt) => {
                self.restore_refused(registration, attempt, &message, now);
            }
            Pending::Resubscribe(subscription) => {
                self.subscriptions.forget(subscription.local_id);
                self.restore_failed(&subscription.topic, &message);
            }
            Pending::PrimeTestament(testament) => {
                // Not allowed to publish there: the testament's event would be refused too,
                // but that is for the router to say.
                log::warn!(
                    "publishing to {} before restoring its testament: {:?}",
                    testament.topic,
                    LogSafe(&message)
                );
                self.restore_testament(testament);
            }
            Pending::RestoreTestament(testament) => {
                self.testaments.retain(|t| !Arc::ptr_eq(t, &testament));
                let what = format!("the testament on {}", testament.topic);
                self.restore_failed(&what, &message);
            }
            other => other.respond(Ok(message)),
        }
    }

    /// Our UNSUBSCRIBE of `pending` was answered.
    fn unsubscribed(&mut self, pending: &Pending) {
        let released = match pending {
            Pending::Unsubscribe(_, local_id, subscription) => {
                self.subscriptions.forget(*local_id);
                Some(*subscription)
            }
            Pending::Release(subscription) => Some(*subscription),
            _ => None,
        };
        if let Some(subscription) = released {
            // A SUBSCRIBE to the same topic that the router handled before this UNSUBSCRIBE
            // was given the same subscription, which is now gone: make it again.
            for entry in self.subscriptions.uninstall(subscription) {
                self.resubscribe(entry);
            }
        }
    }

    /// UNREGISTERED with request 0: the router took a registration away (from every entry
    /// of ours that shared it).
    fn registration_revoked(&mut self, details: Option<&Dict>) {
        let registration = details
            .and_then(|d| d.get("registration"))
            .and_then(Value::as_u64);
        let reason = details
            .and_then(|d| d.get("reason"))
            .and_then(Value::as_str)
            .unwrap_or("no reason given")
            .to_owned();
        let revoked = registration.map_or_else(Vec::new, |id| self.registrations.revoke(id));
        for entry in revoked {
            self.counters
                .revoked_registrations
                .fetch_add(1, Ordering::Relaxed);
            let what = format!(
                "the router revoked our registration of {}: {reason}",
                entry.procedure
            );
            log::warn!("{what}");
            self.out.push_back(Output::Revoked(what));
        }
    }

    /// UNSUBSCRIBED with request 0: the router took a subscription away.
    fn subscription_revoked(&mut self, details: Option<&Dict>) {
        let subscription: Option<Id> = details
            .and_then(|d| d.get("subscription"))
            .and_then(Value::as_u64);
        let revoked = subscription.map_or_else(Vec::new, |id| self.subscriptions.revoke(id));
        for entry in revoked {
            let what = format!("the router revoked our subscription to {}", entry.topic);
            log::warn!("{what}");
            self.out.push_back(Output::Revoked(what));
        }
    }
}

#[cfg(test)]
mod peek_tests {
    use super::*;
    use crate::protocol::{Dict, Serializer};

    #[test]
    fn only_a_conclusive_peek_passes_a_message_by() {
        let result = |request| Message::Result {
            request,
            details: Dict::new(),
            args: vec![],
            kwargs: Dict::new(),
        };
        let error = |request_type, request| Message::Error {
            request_type,
            request,
            details: Dict::new(),
            error: "x.y".into(),
            args: vec![],
            kwargs: Dict::new(),
        };
        let event = Message::Event {
            subscription: 7,
            publication: 7,
            details: Dict::new(),
            args: vec![],
            kwargs: Dict::new(),
        };
        for serializer in [Serializer::Json, Serializer::MsgPack, Serializer::Cbor] {
            let peek = |message: &Message| serializer.peek(&serializer.encode(message).unwrap());
            // Never passed by: what ends call 7, whatever the peek says.
            assert!(!cannot_end_call(peek(&result(7)), 7));
            assert!(!cannot_end_call(peek(&error(code::CALL, 7)), 7));
            // Passed by: other requests' answers, other errors, other messages.
            assert!(cannot_end_call(peek(&result(8)), 7));
            assert!(cannot_end_call(peek(&error(code::CALL, 8)), 7));
            assert!(cannot_end_call(peek(&error(code::SUBSCRIBE, 7)), 7));
            assert!(cannot_end_call(peek(&event), 7));
        }
        // Inconclusive: decoded and asked.
        assert!(!cannot_end_call(None, 7));
        assert!(!cannot_end_call(Serializer::Json.peek(b"[50, 7.0, {}]"), 8));
        assert!(!cannot_end_call(Serializer::Json.peek(b"[8, 48]"), 8));
    }
}
