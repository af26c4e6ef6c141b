//! Where the client stands: whether it is joined, who the router says we are, and its
//! counters ([`Stats`]).

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::protocol::{Dict, Id, Serializer, Value};
use crate::session::LinkState;
use crate::{Client, Error};

/// Counters of what the client has done, as swampyer's `stats()`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// WAMP messages sent.
    pub messages_sent: u64,
    /// WAMP messages received.
    pub messages_received: u64,
    /// Calls made.
    pub calls: u64,
    /// Invocations of our procedures received.
    pub invocations: u64,
    /// Invocations answered by their handler (result or error; those refused at once are
    /// [`invocations_refused`](Self::invocations_refused)): the answer was written to the
    /// connection, or
    /// queued ahead of anything asked for afterwards, so a [`Client::close`] that follows
    /// cannot overtake it.
    pub invocations_answered: u64,
    /// Events received.
    pub events: u64,
    /// Publications sent.
    pub publications: u64,
    /// ERROR messages received.
    pub errors: u64,
    /// Successful reconnections.
    pub reconnections: u64,
    /// Registrations the router took away (e.g. another session's `force_reregister`).
    pub revoked_registrations: u64,
    /// Registrations, subscriptions or testaments that could not be restored after a
    /// reconnect.
    pub restore_failures: u64,
    /// Registrations, subscriptions and testaments made again on a new session after a
    /// reconnect.
    pub restored: u64,
    /// Invocations refused or events dropped because a handler queue was full: the sum of
    /// [`invocations_refused`](Self::invocations_refused) and
    /// [`events_dropped`](Self::events_dropped).
    pub rejected_by_queue_limit: u64,
    /// Invocations answered at once with `wamp.error.concurrency_limit`: every handler thread
    /// was busy and the queue full
    /// ([`ClientBuilder::handler_threads`](crate::ClientBuilder::handler_threads)), or the
    /// procedure's own queue was
    /// ([`RegisterOptions::queue_limit`](crate::RegisterOptions::queue_limit)).
    pub invocations_refused: u64,
    /// Events not handed to their handler: the oldest waiting events of a subscription whose
    /// queue was full ([`SubscribeOptions::queue_limit`](crate::SubscribeOptions::queue_limit)),
    /// or new events that found every handler thread busy and the client's queue full.
    pub events_dropped: u64,
    /// Calls whose caller read the answer from the connection itself, the only call waiting
    /// at the time (a thread hand-off saved; see "Performance" in the README). The rest were
    /// answered through the session's thread.
    pub calls_read_by_caller: u64,
    /// Invocations a handler thread with nothing to do read from the connection itself and
    /// ran (a hand-off saved); the rest were read by the session's thread.
    pub invocations_read_by_worker: u64,
    /// Events a handler thread with nothing to do read from the connection itself and ran
    /// (a hand-off saved); the rest were read by the session's thread.
    pub events_read_by_worker: u64,
}

impl Client {
    /// True while the session is joined.
    pub fn is_connected(&self) -> bool {
        self.shared().link().state == LinkState::Connected
    }

    /// Waits up to `timeout` for the session to be joined (e.g. after a reconnect).
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] when the session is not joined within `timeout`, [`Error::Closed`]
    /// when the client was closed, and [`Error::ConnectionLost`] with the reason when the
    /// session ended for good (the router closed it, or reconnecting gave up).
    pub fn wait_connected(&self, timeout: Duration) -> Result<(), Error> {
        self.shared().wait_connected(timeout)
    }

    /// The router's id for our session, while joined.
    pub fn session_id(&self) -> Option<Id> {
        self.shared().link().session_id
    }

    /// The IP address of this end of the connection to the router, as the connection's own
    /// socket reports it (Python's `sock.getsockname()[0]`): the address the router sees us
    /// by, unless a proxy is between. `None` on a unix socket. Asking opens nothing.
    pub fn local_ip(&self) -> Option<std::net::IpAddr> {
        self.shared().link().local_ip
    }

    /// The WELCOME details of the current session (`authid`, `authrole`, `authmethod`...).
    pub fn welcome_details(&self) -> Dict {
        self.shared().link().welcome
    }

    /// The authid the router gave us.
    pub fn authid(&self) -> Option<String> {
        self.welcome_details()
            .get("authid")
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    /// The role the router gave us.
    pub fn authrole(&self) -> Option<String> {
        self.welcome_details()
            .get("authrole")
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    /// The serializer in use on the current connection.
    pub fn serializer(&self) -> Serializer {
        self.shared().link().serializer
    }

    /// What the client has done so far.
    pub fn stats(&self) -> Stats {
        let c = &self.shared().counters;
        let get = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
        Stats {
            messages_sent: get(&c.messages_sent),
            messages_received: get(&c.messages_received),
            calls: get(&c.calls),
            invocations: get(&c.invocations),
            events: get(&c.events),
            publications: get(&c.publications),
            errors: get(&c.errors),
            reconnections: get(&c.reconnections),
            revoked_registrations: get(&c.revoked_registrations),
            restore_failures: get(&c.restore_failures),
            restored: get(&c.restored),
            rejected_by_queue_limit: get(&c.invocations_refused) + get(&c.events_dropped),
            invocations_refused: get(&c.invocations_refused),
            events_dropped: get(&c.events_dropped),
            invocations_answered: get(&c.invocations_answered),
            calls_read_by_caller: get(&c.calls_read_by_caller),
            invocations_read_by_worker: get(&c.invocations_read_by_worker),
            events_read_by_worker: get(&c.events_read_by_worker),
        }
    }
}
