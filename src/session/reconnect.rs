//! Getting the session back after the connection drops: the reconnect policy, the attempt
//! loop over the router URLs, and the restore of every registration and subscription.
//!
//! The policy is Python swampyer's `auto_reconnect`: try again every `interval`, forever
//! unless limited, with no backoff, so that a client is back as soon as the router is,
//! however long the router was down. Each wait is drawn at random from the second half of
//! the interval, so that many clients that lost one router do not knock again in step, and
//! none waits longer than the interval.
//!
//! Each attempt connects and joins on a thread of its own while the socket thread keeps
//! answering commands, so that `close` is never held up by a connect in progress.

use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::select;

use crate::Error;
use crate::protocol::{Message, Value};
use crate::transport::Transport;

use super::join::{Welcome, join};
use super::socket::{SocketLoop, run_join_hooks};
use super::{
    Command, LinkState, Pending, Registration, SessionConfig, Subscription, Testament,
    testament_priming,
};

/// How often a registration refused with `procedure_already_exists` is tried again after a
/// reconnect, and the waits between tries (doubling, capped): about 48 s in all.
const RESTORE_ATTEMPTS: u32 = 10;
const RESTORE_RETRY_BASE: Duration = Duration::from_millis(250);
const RESTORE_RETRY_MAX: Duration = Duration::from_secs(8);

/// When to reconnect after the connection drops: every `interval`, as Python's
/// `auto_reconnect`.
///
/// The first attempt comes at once (within a quarter of the interval), in case the router is
/// still there and only the connection broke. After a failed attempt the next one comes after
/// a random wait between half the interval and the whole of it: clients that lost the same
/// router spread their attempts over that window instead of all arriving at once, and none
/// waits longer than the interval. There is no backoff: a client is joined again at most one
/// interval (plus the time to connect and log in) after the router accepts connections,
/// however long it was down.
///
/// ```
/// use std::time::Duration;
/// use izaber_wamp::ReconnectPolicy;
/// let policy = ReconnectPolicy::every(Duration::from_millis(500)).max_attempts(Some(20));
/// assert_eq!(policy.interval, Duration::from_millis(500));
/// assert!(!ReconnectPolicy::never().reconnects());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReconnectPolicy {
    /// Give up after this many failed attempts in a row (an attempt tries every router URL
    /// once); `None` keeps trying forever.
    pub max_attempts: Option<u32>,
    /// The longest wait between two attempts (Python's `auto_reconnect`, in seconds there).
    pub interval: Duration,
}

/// The default interval: short enough that a service is back within a second of its router.
pub const DEFAULT_RECONNECT_INTERVAL: Duration = Duration::from_millis(500);

impl ReconnectPolicy {
    /// Reconnect forever, trying every `interval` (zero is taken as one millisecond).
    pub fn every(interval: Duration) -> ReconnectPolicy {
        ReconnectPolicy {
            max_attempts: None,
            interval: interval.max(Duration::from_millis(1)),
        }
    }

    /// Never reconnect: a dropped connection ends the client.
    pub fn never() -> ReconnectPolicy {
        ReconnectPolicy {
            max_attempts: Some(0),
            ..ReconnectPolicy::default()
        }
    }

    /// Gives up after `max` failed attempts in a row (`None`: never gives up). From then on
    /// requests fail with [`Error::GaveUp`](crate::Error::GaveUp).
    pub fn max_attempts(mut self, max: Option<u32>) -> ReconnectPolicy {
        self.max_attempts = max;
        self
    }

    /// Whether the client reconnects at all.
    pub fn reconnects(&self) -> bool {
        self.max_attempts != Some(0)
    }

    /// The wait before attempt `attempt` (1-based), see the type's documentation.
    pub(crate) fn delay(&self, attempt: u32) -> Duration {
        let (low, high) = if attempt <= 1 {
            (0.0, 0.25)
        } else {
            (0.5, 1.0)
        };
        crate::deadline::scaled(self.interval, low + (high - low) * random_unit())
    }
}

impl Default for ReconnectPolicy {
    /// Forever, every [`DEFAULT_RECONNECT_INTERVAL`].
    fn default() -> Self {
        ReconnectPolicy::every(DEFAULT_RECONNECT_INTERVAL)
    }
}

/// A number in `[0, 1)`, different at every call and in every process: jitter only needs to
/// tell clients apart, not to be unpredictable. `RandomState` is seeded from the operating
/// system once per thread and given new keys at every `new`.
fn random_unit() -> f64 {
    let bits = RandomState::new().hash_one(Instant::now()) >> 11;
    bits as f64 / (1u64 << 53) as f64
}

/// A connect attempt running on a thread of its own (see [`SocketLoop::attempt`]).
pub(super) struct ConnectAttempt {
    result: crossbeam_channel::Receiver<Result<Joined, Error>>,
    thread: std::thread::JoinHandle<()>,
}

/// A joined connection, and which router URL it came from.
pub(crate) struct Joined {
    pub transport: Transport,
    pub welcome: Welcome,
    /// The index of the URL in [`SessionConfig::endpoints`].
    pub endpoint: usize,
}

/// Connects and joins, trying each router URL once in turn from `first`. When every one
/// fails, the error is the first URL's (the others are logged).
pub(crate) fn connect_and_join(config: &SessionConfig, first: usize) -> Result<Joined, Error> {
    let count = config.endpoints.len();
    let mut first_error = None;
    for step in 0..count {
        let index = (first + step) % count;
        match connect_one(config, index) {
            Ok((transport, welcome)) => {
                return Ok(Joined {
                    transport,
                    welcome,
                    endpoint: index,
                });
            }
            Err(e) if count > 1 => {
                log::warn!("router {} of {count}: {e}", index + 1);
                first_error.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(first_error.unwrap_or_else(|| Error::InvalidArgument("no router URL given".into())))
}

fn connect_one(config: &SessionConfig, index: usize) -> Result<(Transport, Welcome), Error> {
    let mut transport = Transport::connect(&config.endpoints[index], &config.transport)?;
    transport.set_blocking(Some(config.transport.connect_timeout))?;
    let welcome = match join(&mut transport, config) {
        Ok(welcome) => welcome,
        Err(e) => {
            transport.close();
            return Err(e);
        }
    };
    transport.set_blocking(None)?;
    log::debug!(
        "joined realm '{}' as session {} ({} serializer)",
        config.realm,
        welcome.session,
        transport.serializer()
    );
    Ok((transport, welcome))
}

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
                    log::warn!("reconnect attempt {attempt} failed: {e}");
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
        let in_flight = self
            .connecting
            .take()
            .filter(|attempt| !attempt.thread.is_finished() || !attempt.result.is_empty());
        let attempt = match in_flight {
            Some(attempt) => {
                log::debug!("the last connect attempt is still running; waiting for it");
                attempt
            }
            None => match self.start_attempt() {
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
        let woken = self.wait_while_disconnected(deadline, Some(&attempt.result));
        if let Woken::Done(None) = woken {
            self.connecting = Some(attempt);
        }
        woken
    }

    fn start_attempt(&self) -> Result<ConnectAttempt, Error> {
        let count = self.shared.config.endpoints.len();
        let first = (self.endpoint + 1) % count;
        let config = self.shared.config.clone();
        let (done, result) = crossbeam_channel::bounded(1);
        let thread = std::thread::Builder::new()
            .name("wamp-connect".into())
            .spawn(move || {
                let joined = connect_and_join(&config, first);
                if let Err(unwanted) = done.send(joined)
                    && let Ok(mut joined) = unwanted.into_inner()
                {
                    joined.transport.close();
                }
            })
            .map_err(|e| Error::io("starting a connect thread", e))?;
        Ok(ConnectAttempt { result, thread })
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
        self.epoch += 1;
        self.endpoint = endpoint;
        self.serializer = transport.serializer();
        let max_outgoing = transport.max_outgoing.unwrap_or(usize::MAX);
        {
            let mut wire = self.shared.wire.lock();
            wire.transport = Some(transport);
            wire.epoch = self.epoch;
        }
        if let Err(e) = self.register_socket() {
            log::warn!("reconnected but could not watch the socket: {e}");
            self.disconnect();
            return false;
        }
        self.shared
            .counters
            .reconnections
            .fetch_add(1, Ordering::Relaxed);
        self.restore();
        let epoch = self.epoch;
        let serializer = self.serializer;
        self.shared.set_link(|link| {
            link.state = LinkState::Connected;
            link.epoch = epoch;
            link.serializer = serializer;
            link.max_outgoing = max_outgoing;
            link.session_id = Some(welcome.session);
            link.welcome = welcome.details.clone();
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
                    self.unregister_locally(local_id, reply)
                }
                Ok(Command::Unsubscribe { local_id, reply }) => {
                    self.unsubscribe_locally(local_id, reply)
                }
                Ok(other) => self.refuse(other, || Error::lost("reconnecting")),
                // Every client handle is gone, and with them whoever could close: close.
                Err(_) => return Woken::Closed,
            }
        }
    }

    /// Sends REGISTER and SUBSCRIBE again for everything that was live, with fresh ids.
    fn restore(&mut self) {
        self.retries.clear();
        for entry in self.registrations.reset_connection() {
            self.send_restore(entry, 0);
        }
        for entry in self.subscriptions.reset_connection() {
            self.resubscribe(entry);
        }
        for testament in self.testaments.clone() {
            let request = self.shared.next_request_id();
            let priming = testament_priming(request, &testament.topic);
            self.pending
                .insert(request, Pending::PrimeTestament(testament));
            self.send_own(&priming);
        }
    }

    /// Adds a testament again to the new session, now that the router has answered its
    /// priming publish (see [`testament_priming`]), unless the user has flushed it meanwhile.
    pub(super) fn restore_testament(&mut self, testament: Arc<Testament>) -> Result<(), String> {
        // A flush is noted before it is written: if one is on its way, the testament must
        // not be added again behind it.
        if let Some(reason) = self.take_notes() {
            return Err(reason);
        }
        let flushing = self
            .pending
            .values()
            .any(|p| matches!(p, Pending::FlushTestaments(_)));
        let kept = self.testaments.iter().any(|t| Arc::ptr_eq(t, &testament));
        if kept && !flushing {
            self.send_testament(testament);
        }
        Ok(())
    }

    fn send_testament(&mut self, testament: Arc<Testament>) {
        let request = self.shared.next_request_id();
        let message = testament.call(request);
        self.pending
            .insert(request, Pending::RestoreTestament(testament));
        self.send_own(&message);
    }

    /// Sends SUBSCRIBE for a subscription the user still has, but the router does not.
    pub(super) fn resubscribe(&mut self, entry: Arc<Subscription>) {
        let request = self.shared.next_request_id();
        let message = Message::Subscribe {
            request,
            options: entry.options.clone(),
            topic: entry.topic.clone(),
        };
        self.pending.insert(request, Pending::Resubscribe(entry));
        self.send_own(&message);
    }

    /// A registration could not be restored. When the router still holds the URI for our
    /// previous, dead session, it lets go once it notices: try again with backoff. Otherwise,
    /// or after too many tries, give up and report it.
    pub(super) fn restore_refused(
        &mut self,
        entry: Arc<Registration>,
        attempt: u32,
        error: &Message,
    ) {
        let held = matches!(error, Message::Error { error, .. } if error == "wamp.error.procedure_already_exists");
        if self.is_closing() {
            // Nothing is registered again once a close has withdrawn the rest.
            return;
        }
        if held && attempt < RESTORE_ATTEMPTS {
            let delay = RESTORE_RETRY_BASE
                .saturating_mul(1 << attempt.min(5))
                .min(RESTORE_RETRY_MAX);
            log::info!(
                "{} is still registered by our previous session; retrying in {delay:?}",
                entry.procedure
            );
            self.retries
                .push((crate::deadline::after(delay), entry, attempt + 1));
            return;
        }
        self.registrations.forget(entry.local_id);
        self.restore_failed(&entry.procedure, error);
    }

    /// Sends REGISTER again for the retries that are due.
    pub(super) fn retry_restores(&mut self) {
        let now = Instant::now();
        let (due, later): (Vec<_>, Vec<_>) =
            self.retries.drain(..).partition(|(at, _, _)| *at <= now);
        self.retries = later;
        for (_, entry, attempt) in due {
            if self.registrations.is_wanted(entry.local_id) {
                self.send_restore(entry, attempt);
            }
        }
    }

    fn send_restore(&mut self, entry: Arc<Registration>, attempt: u32) {
        let request = self.shared.next_request_id();
        let message = Message::Register {
            request,
            options: entry.options.clone(),
            procedure: entry.procedure.clone(),
        };
        self.pending
            .insert(request, Pending::Restore(entry, attempt));
        self.send_own(&message);
    }

    /// Reports what could not be made again after a reconnect.
    pub(super) fn restore_failed(&mut self, uri: &str, error: &Message) {
        self.shared
            .counters
            .restore_failures
            .fetch_add(1, Ordering::Relaxed);
        let why = match error {
            Message::Error { error, args, .. } => match args.first().and_then(Value::as_str) {
                Some(text) => format!("{error}: {text}"),
                None => error.clone(),
            },
            _ => "unknown error".into(),
        };
        let what = format!("could not restore {uri} after reconnecting: {why}");
        log::error!("{what}");
        self.run_hooks(|hooks| hooks.revoked.clone(), &what);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_stay_within_the_interval_and_spread_out() {
        let policy = ReconnectPolicy::every(Duration::from_millis(1000));
        let first: Vec<_> = (0..200).map(|_| policy.delay(1)).collect();
        assert!(first.iter().all(|d| *d <= Duration::from_millis(250)));
        let later: Vec<_> = (0..200).map(|_| policy.delay(7)).collect();
        assert!(
            later
                .iter()
                .all(|d| *d >= Duration::from_millis(500) && *d <= Duration::from_millis(1000))
        );
        // Not one value over and over: the waits cover most of their window.
        let lowest = later.iter().min().unwrap();
        let highest = later.iter().max().unwrap();
        assert!(
            *highest - *lowest > Duration::from_millis(300),
            "{lowest:?}..{highest:?}"
        );
        // And no growth with the attempt count: the thousandth wait is as short as the second.
        assert!(policy.delay(1000) <= Duration::from_millis(1000));
    }

    #[test]
    fn never_means_no_attempt() {
        assert_eq!(ReconnectPolicy::never().max_attempts, Some(0));
        assert!(ReconnectPolicy::default().reconnects());
        assert_eq!(
            ReconnectPolicy::every(Duration::ZERO).interval,
            Duration::from_millis(1)
        );
    }
}
