//! Handler jobs: the run of a procedure's handler on a worker and the answer it sends, the
//! run of an event handler, and join hooks. The socket thread and handler workers that read
//! their own invocations ([`super::leader`]) both make them here.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::Error;
use crate::memory;
use crate::protocol::{Dict, Id, Message, Value, code};

use super::core::Arrived;
use super::dispatch::{Bound, Job, QueueFull, Submitted};
use super::handler::{CallError, Event, Invocation, InvocationState};
use super::{
    Answer, Command, Hooks, IN_JOIN_HOOK, LeaveHook, Registration, Shared, Subscription, Yielded,
    describe,
};

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

/// The run of `entry`'s handler for an INVOCATION that came on connection `epoch`, for a
/// worker. `state` is the invocation's, noted as queued in the core's
/// [`Invocations`](super::core::Invocations) by whoever read the INVOCATION: the socket
/// thread's core, or a handler worker that read it itself (see [`super::leader`]).
pub(super) fn invocation_job(
    shared: &Arc<Shared>,
    epoch: u64,
    entry: &Registration,
    arrived: Arrived,
    state: Arc<InvocationState>,
) -> Job {
    let Arrived {
        request,
        details,
        args,
        kwargs,
        size,
    } = arrived;
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
            log::info!("dropped the answer to {}: {e:#}", describe(&message));
            false
        }
        Err(e) => {
            log::warn!("could not answer {}: {e:#}", describe(&message));
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
    let (error, args, kwargs) = error.into_parts(shared.uri_base.read().as_deref());
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

/// Starts the handler of an invocation the core handed out (see
/// [`Output::Invoke`](super::core::Output::Invoke)); when its queue is full, says why for
/// the caller, and the core answers the invocation with that.
pub(super) fn start_invocation(
    shared: &Arc<Shared>,
    entry: &Arc<Registration>,
    arrived: Arrived,
    state: Arc<InvocationState>,
    epoch: u64,
) -> Result<(), String> {
    let size = arrived.size;
    let job = invocation_job(shared, epoch, entry, arrived, state);
    entry
        .limit
        .submit(&shared.pool, job, size)
        .map(|_| ())
        .map_err(|full| refused_invocation(shared, entry, &full))
}

/// The run of `entry`'s handler for an event of `size` encoded bytes.
pub(super) fn event_job(entry: &Subscription, event: Event, size: usize) -> Job {
    let handler = entry.handler.clone();
    Box::new(move || {
        let topic = event.topic.clone();
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| handler(event))) {
            log::error!(
                "event handler for {topic} panicked: {}",
                panic_message(&panic)
            );
        }
        memory::large_message_done(size);
    })
}

/// Runs every handler of `entries` for an event, on workers: copies for all but the last,
/// which takes the original. A handler whose queue is full loses its oldest waiting event
/// (or this one), counted and logged.
pub(super) fn deliver_event(
    shared: &Shared,
    entries: Vec<Arc<Subscription>>,
    event: Event,
    size: usize,
) {
    let Some((last, others)) = entries.split_last() else {
        return;
    };
    // A worker reads events of a subscription alone under its router id (see `leader`).
    let sole = others.is_empty();
    let mut deliveries: Vec<_> = others
        .iter()
        .map(|entry| (entry.clone(), event.clone()))
        .collect();
    deliveries.push((last.clone(), event));
    for (entry, event) in deliveries {
        let job = event_job(&entry, event, size);
        match entry.limit.submit(&shared.pool, job, size) {
            Ok(Submitted::Started) => {
                if sole {
                    // Its handler was idle: a worker that waits may read the next one itself.
                    shared.handed_out_through_socket_thread();
                }
            }
            Ok(Submitted::Queued) => {}
            Ok(Submitted::DroppedOldest(dropped)) => {
                shared
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
                shared
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
                    let threads = shared.pool.limits().threads;
                    shared.pool.warn_refused(|count| {
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
    shared: &Shared,
    pick: impl Fn(&Hooks) -> Vec<LeaveHook>,
    reason: &str,
) -> Option<crossbeam_channel::Receiver<()>> {
    let hooks = pick(&shared.hooks.lock());
    if hooks.is_empty() {
        return None;
    }
    let reason = reason.to_owned();
    let (done, finished) = crossbeam_channel::bounded::<()>(0);
    shared.pool.run(Box::new(move || {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::testing::offline;

    fn sent_frames(commands: &crossbeam_channel::Receiver<Command>) -> Vec<(u64, Option<Id>)> {
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
