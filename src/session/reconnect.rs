//! Getting a connection: the reconnect policy, and connecting and joining over the router
//! URLs, on the caller's thread for the first connection and on a thread of its own for each
//! reconnect attempt. The socket thread's waiting between attempts is in
//! [`super::socket`]; what is made again on a new connection, in [`super::core`].
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
use std::time::{Duration, Instant};

use crate::Error;
use crate::transport::Transport;

use super::SessionConfig;
use super::join::{Welcome, join};

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
    /// requests fail with [`Error::GaveUp`].
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

/// A connect attempt running on a thread of its own, so that the socket thread keeps
/// answering commands (and `close`) meanwhile.
pub(super) struct ConnectAttempt {
    result: crossbeam_channel::Receiver<Result<Joined, Error>>,
    thread: std::thread::JoinHandle<()>,
}

impl ConnectAttempt {
    /// Starts connecting and joining, trying each router URL once from `first`. An attempt
    /// nobody waits for any more closes what it joins.
    pub fn start(config: &SessionConfig, first: usize) -> Result<ConnectAttempt, Error> {
        let config = config.clone();
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

    /// Still running, or finished with a result nobody has taken yet.
    pub fn is_pending(&self) -> bool {
        !self.thread.is_finished() || !self.result.is_empty()
    }

    /// Delivers the attempt's outcome once.
    pub fn result(&self) -> &crossbeam_channel::Receiver<Result<Joined, Error>> {
        &self.result
    }
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
                log::warn!("router {} of {count}: {e:#}", index + 1);
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
