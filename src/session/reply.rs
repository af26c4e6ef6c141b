//! How an answer travels from the socket thread back to the thread that made the request.
//!
//! Most requests get exactly one answer: for them a one-shot slot guarded by a mutex and a
//! condition variable, so the waiting thread sleeps in the kernel until the answer is there,
//! without the spin-then-yield of a general channel (which cost a handful of `sched_yield`
//! calls per request). Progressive calls and calls that can be cancelled from another thread
//! use a channel, which `select!` can wait on.

use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::Sender;
use parking_lot::{Condvar, Mutex};

use crate::Error;
use crate::protocol::Message;

struct Slot<T> {
    value: Mutex<Option<Result<T, Error>>>,
    ready: Condvar,
}

/// The sending half of a one-shot answer. Dropped without an answer (the session ended
/// without reaching it), it answers [`Error::Closed`], so no waiter is left hanging.
pub(crate) struct Responder<T> {
    slot: Arc<Slot<T>>,
    answered: bool,
}

/// The receiving half of a one-shot answer.
pub(crate) struct Waiter<T> {
    slot: Arc<Slot<T>>,
}

pub(crate) fn oneshot<T>() -> (Responder<T>, Waiter<T>) {
    let slot = Arc::new(Slot {
        value: Mutex::new(None),
        ready: Condvar::new(),
    });
    (
        Responder {
            slot: slot.clone(),
            answered: false,
        },
        Waiter { slot },
    )
}

impl<T> Responder<T> {
    pub fn send(mut self, answer: Result<T, Error>) {
        self.deliver(answer);
    }

    fn deliver(&mut self, answer: Result<T, Error>) {
        self.answered = true;
        *self.slot.value.lock() = Some(answer);
        // A system call only when the waiter already sleeps (std's condition variable makes
        // one every time): not when the answer is there before anybody waits for it.
        self.slot.ready.notify_one();
    }
}

impl<T> Drop for Responder<T> {
    fn drop(&mut self) {
        if !self.answered {
            self.deliver(Err(Error::Closed));
        }
    }
}

impl<T> Waiter<T> {
    /// The answer, or `None` when `deadline` passes first.
    pub fn wait_until(&self, deadline: Instant) -> Option<Result<T, Error>> {
        let mut value = self.slot.value.lock();
        loop {
            if let Some(answer) = value.take() {
                return Some(answer);
            }
            if self.slot.ready.wait_until(&mut value, deadline).timed_out() {
                return value.take();
            }
        }
    }
}

/// Where the answers to a request go.
pub(crate) enum ReplyTo {
    /// Exactly one answer.
    Once(Responder<Message>),
    /// Several (progressive results), or one that a `select!` waits for.
    Stream(Sender<Result<Message, Error>>),
}

impl ReplyTo {
    /// Delivers a final answer.
    pub fn send(self, answer: Result<Message, Error>) {
        match self {
            ReplyTo::Once(responder) => responder.send(answer),
            ReplyTo::Stream(tx) => {
                let _ = tx.send(answer);
            }
        }
    }

    /// Delivers an intermediate answer (a progressive result); only a stream takes those.
    pub fn send_progress(&self, answer: Message) {
        if let ReplyTo::Stream(tx) = self {
            let _ = tx.send(Ok(answer));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn an_answer_sent_before_or_after_waiting_arrives() {
        let (responder, waiter) = oneshot::<u32>();
        responder.send(Ok(7));
        assert!(matches!(waiter.wait_until(Instant::now()), Some(Ok(7))));

        let (responder, waiter) = oneshot::<u32>();
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            responder.send(Ok(8));
        });
        let answer = waiter.wait_until(Instant::now() + Duration::from_secs(5));
        assert!(matches!(answer, Some(Ok(8))));
        sender.join().unwrap();
    }

    #[test]
    fn a_dropped_responder_answers_closed_and_a_deadline_answers_nothing() {
        let (responder, waiter) = oneshot::<u32>();
        drop(responder);
        assert!(matches!(
            waiter.wait_until(Instant::now() + Duration::from_secs(5)),
            Some(Err(Error::Closed))
        ));
        let (_responder, waiter) = oneshot::<u32>();
        assert!(
            waiter
                .wait_until(Instant::now() + Duration::from_millis(20))
                .is_none()
        );
    }
}
