//! Options for calls, registrations, subscriptions and publications: typed helpers for what
//! our users set, and `option(key, value)` to pass anything else to the router as it is.

use std::time::Duration;

use serde::Serialize;

use crate::protocol::{Dict, Value, to_value};

fn insert(dict: &mut Dict, key: &str, value: impl Serialize) {
    // Options are small plain values; one that cannot be represented is a programming error
    // that the router would reject anyway, so it is dropped with a log line.
    match to_value(&value) {
        Ok(value) => {
            dict.insert(key.to_owned(), value);
        }
        Err(e) => log::error!("option '{key}' dropped: {e}"),
    }
}

/// How a call is cancelled when its caller gives up (WAMP `CANCEL` mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelMode {
    /// The router stops waiting; the callee is not told.
    Skip,
    /// The callee is interrupted and the router waits for it to stop.
    Kill,
    /// The callee is interrupted; the router answers the caller at once.
    KillNoWait,
}

impl CancelMode {
    fn as_str(self) -> &'static str {
        match self {
            CancelMode::Skip => "skip",
            CancelMode::Kill => "kill",
            CancelMode::KillNoWait => "killnowait",
        }
    }
}

/// Cancels a call from another thread: pass it with [`CallOptions::cancel_token`], then call
/// [`cancel`](CancelToken::cancel). The call then ends with the router's answer to the CANCEL
/// (usually the error `wamp.error.canceled`).
///
/// ```
/// use izaber_wamp::{CallOptions, CancelMode, CancelToken};
/// let token = CancelToken::new();
/// let options = CallOptions::new().cancel_token(&token).cancel_mode(CancelMode::KillNoWait);
/// // ... on another thread, while the call runs:
/// token.cancel();
/// ```
#[derive(Clone, Debug)]
pub struct CancelToken {
    tx: crossbeam_channel::Sender<()>,
    rx: crossbeam_channel::Receiver<()>,
}

impl CancelToken {
    /// A token that has not been used.
    pub fn new() -> CancelToken {
        let (tx, rx) = crossbeam_channel::bounded(1);
        CancelToken { tx, rx }
    }

    /// Cancels the call using this token (once; later calls do nothing).
    pub fn cancel(&self) {
        let _ = self.tx.try_send(());
    }

    pub(crate) fn receiver(&self) -> crossbeam_channel::Receiver<()> {
        self.rx.clone()
    }
}

impl Default for CancelToken {
    fn default() -> Self {
        CancelToken::new()
    }
}

/// Options of one call.
///
/// ```
/// use std::time::Duration;
/// use izaber_wamp::CallOptions;
/// let options = CallOptions::new()
///     .timeout(Duration::from_secs(5))
///     .option("x_custom", "passed as is");
/// ```
#[derive(Clone, Debug)]
pub struct CallOptions {
    pub(crate) timeout: Option<Duration>,
    pub(crate) cancel_mode: CancelMode,
    pub(crate) cancel_token: Option<CancelToken>,
    pub(crate) options: Dict,
}

impl Default for CallOptions {
    fn default() -> Self {
        let mut options = Dict::new();
        // As swampyer does, so that callees see who calls.
        options.insert("disclose_me".into(), Value::Bool(true));
        CallOptions {
            timeout: None,
            cancel_mode: CancelMode::Kill,
            cancel_token: None,
            options,
        }
    }
}

impl CallOptions {
    /// Default options: the client's timeout, `disclose_me: true`.
    pub fn new() -> CallOptions {
        CallOptions::default()
    }

    /// How long to wait for the result before cancelling the call and failing with
    /// [`Error::Timeout`](crate::Error::Timeout). Defaults to the client's timeout. For a
    /// progressive call it bounds the whole call, up to the final result, not the wait
    /// between progressive results.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Lets another thread cancel the call with [`CancelToken::cancel`].
    pub fn cancel_token(mut self, token: &CancelToken) -> Self {
        self.cancel_token = Some(token.clone());
        self
    }

    /// How the call is cancelled, on timeout or by a [`CancelToken`] (default
    /// [`CancelMode::Kill`]).
    pub fn cancel_mode(mut self, mode: CancelMode) -> Self {
        self.cancel_mode = mode;
        self
    }

    /// Asks the router to cancel the call itself after `timeout` (the WAMP `timeout` option),
    /// sent in milliseconds as the WAMP specification says.
    ///
    /// Crossbar.io, and so Nexus, reads that number as seconds (seen in Crossbar 26.10's
    /// dealer): there `router_timeout(Duration::from_millis(300))` cancels after 300 s. On
    /// Crossbar, prefer [`timeout`](Self::timeout), which the client enforces (and cancels the
    /// call at the router when it expires), or send seconds yourself with
    /// `.option("timeout", 5)`.
    pub fn router_timeout(self, timeout: Duration) -> Self {
        let millis = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self.option("timeout", millis)
    }

    /// Whether the callee may see our identity (default true).
    pub fn disclose_me(self, disclose: bool) -> Self {
        self.option("disclose_me", disclose)
    }

    /// Any other option, passed to the router as it is.
    pub fn option(mut self, key: &str, value: impl Serialize) -> Self {
        insert(&mut self.options, key, value);
        self
    }

    pub(crate) fn cancel_mode_str(&self) -> &'static str {
        self.cancel_mode.as_str()
    }
}

/// How a registration or subscription URI is matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Match {
    /// The URI exactly (the default).
    Exact,
    /// Every URI starting with it.
    Prefix,
    /// Empty URI components match anything, e.g. `com.example..update`.
    Wildcard,
}

impl Match {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Match::Exact => "exact",
            Match::Prefix => "prefix",
            Match::Wildcard => "wildcard",
        }
    }
}

/// Options of a registration.
///
/// ```
/// use izaber_wamp::{Match, RegisterOptions};
/// let options = RegisterOptions::new().force_reregister(true).match_policy(Match::Prefix);
/// ```
#[derive(Clone, Debug, Default)]
pub struct RegisterOptions {
    pub(crate) options: Dict,
    pub(crate) concurrency: Option<usize>,
    pub(crate) queue_limit: Option<usize>,
    pub(crate) queue_bytes: Option<usize>,
}

impl RegisterOptions {
    /// No options: exact match, single callee, as many at once as the client's handler
    /// threads allow ([`ClientBuilder::handler_threads`](crate::ClientBuilder::handler_threads)).
    pub fn new() -> RegisterOptions {
        RegisterOptions::default()
    }

    /// The `match` policy.
    pub fn match_policy(self, policy: Match) -> Self {
        self.option("match", policy.as_str())
    }

    /// Take the URI over from another session holding it (Crossbar's `force_reregister`).
    /// The displaced session receives an UNREGISTERED.
    pub fn force_reregister(self, force: bool) -> Self {
        self.option("force_reregister", force)
    }

    /// The `invoke` policy for shared registrations: `single`, `roundrobin`, `random`,
    /// `first` or `last`.
    pub fn invoke(self, policy: &str) -> Self {
        self.option("invoke", policy)
    }

    /// Run at most `max` invocations of this procedure at once; the rest wait in a queue.
    pub fn concurrency(mut self, max: usize) -> Self {
        self.concurrency = Some(max);
        self
    }

    /// With [`concurrency`](Self::concurrency), at most `max` invocations wait; more are
    /// refused with `wamp.error.concurrency_limit` and counted in
    /// [`Stats::invocations_refused`](crate::Stats::invocations_refused). Default: the
    /// client's [`handler_queue`](crate::ClientBuilder::handler_queue).
    pub fn queue_limit(mut self, max: usize) -> Self {
        self.queue_limit = Some(max);
        self
    }

    /// With [`concurrency`](Self::concurrency), at most `bytes` of encoded invocations wait
    /// (one may always wait); more are refused as past [`queue_limit`](Self::queue_limit).
    /// Default: the client's
    /// [`handler_queue_bytes`](crate::ClientBuilder::handler_queue_bytes).
    pub fn queue_bytes(mut self, bytes: usize) -> Self {
        self.queue_bytes = Some(bytes);
        self
    }

    /// Any other option, passed to the router as it is.
    pub fn option(mut self, key: &str, value: impl Serialize) -> Self {
        insert(&mut self.options, key, value);
        self
    }
}

/// Events that may wait for a subscription's handler unless told otherwise
/// ([`SubscribeOptions::queue_limit`]).
pub const DEFAULT_EVENT_QUEUE: usize = 1024;
/// Encoded bytes of the events that may wait for a subscription's handler unless told
/// otherwise ([`SubscribeOptions::queue_bytes`]): 16 MiB.
pub const DEFAULT_EVENT_QUEUE_BYTES: usize = 16 * 1024 * 1024;

/// Options of a subscription.
///
/// Events of one subscription are delivered one at a time, in order, unless
/// [`concurrency`](Self::concurrency) allows more.
///
/// A handler slower than its events falls behind: the events wait in the subscription's
/// queue, of at most [`DEFAULT_EVENT_QUEUE`] events and [`DEFAULT_EVENT_QUEUE_BYTES`] unless
/// set. When it is full the *oldest* waiting events are dropped for the new ones, counted
/// in [`Stats::events_dropped`](crate::Stats::events_dropped), and a warning is logged at
/// most every 10 s. Dropping rather than slowing the connection down (backpressure) is on
/// purpose: the connection also carries the service's invocations and answers, which one
/// slow subscriber must not hold up, and the router would queue what it cannot send us
/// anyway. The oldest events go first because a subscriber that is behind is best served
/// by the latest state.
#[derive(Clone, Debug)]
pub struct SubscribeOptions {
    pub(crate) options: Dict,
    pub(crate) concurrency: Option<usize>,
    pub(crate) queue_limit: usize,
    pub(crate) queue_bytes: usize,
}

impl Default for SubscribeOptions {
    fn default() -> Self {
        SubscribeOptions {
            options: Dict::new(),
            concurrency: Some(1),
            queue_limit: DEFAULT_EVENT_QUEUE,
            queue_bytes: DEFAULT_EVENT_QUEUE_BYTES,
        }
    }
}

impl SubscribeOptions {
    /// In-order delivery, exact match.
    pub fn new() -> SubscribeOptions {
        SubscribeOptions::default()
    }

    /// The `match` policy.
    pub fn match_policy(self, policy: Match) -> Self {
        self.option("match", policy.as_str())
    }

    /// Run up to `max` event handlers of this subscription at once (order is then not kept);
    /// `None` for no limit.
    pub fn concurrency(mut self, max: Option<usize>) -> Self {
        self.concurrency = max;
        self
    }

    /// At most `max` events wait for a busy handler (default [`DEFAULT_EVENT_QUEUE`]); past
    /// that the oldest are dropped and counted in
    /// [`Stats::events_dropped`](crate::Stats::events_dropped).
    ///
    /// With [`concurrency`](Self::concurrency) `None` events have no queue of their own and
    /// wait in the client's ([`ClientBuilder::handler_queue`](crate::ClientBuilder::handler_queue)),
    /// which drops the newest when full.
    pub fn queue_limit(mut self, max: usize) -> Self {
        self.queue_limit = max;
        self
    }

    /// At most `bytes` of encoded events wait for a busy handler (default
    /// [`DEFAULT_EVENT_QUEUE_BYTES`]; one event may always wait, however large); past that
    /// the oldest are dropped as past [`queue_limit`](Self::queue_limit).
    pub fn queue_bytes(mut self, bytes: usize) -> Self {
        self.queue_bytes = bytes;
        self
    }

    /// Any other option, passed to the router as it is.
    pub fn option(mut self, key: &str, value: impl Serialize) -> Self {
        insert(&mut self.options, key, value);
        self
    }
}

/// Options of a publication.
///
/// ```
/// use izaber_wamp::PublishOptions;
/// let options = PublishOptions::new().acknowledge(true).exclude_me(false);
/// ```
#[derive(Clone, Debug, Default)]
pub struct PublishOptions {
    pub(crate) options: Dict,
}

impl PublishOptions {
    /// Fire and forget, not delivered back to ourselves.
    pub fn new() -> PublishOptions {
        PublishOptions::default()
    }

    /// Wait for the router to confirm (PUBLISHED) or refuse (ERROR) the publication.
    pub fn acknowledge(self, acknowledge: bool) -> Self {
        self.option("acknowledge", acknowledge)
    }

    /// Whether our own session's subscriptions receive the event too (default: excluded).
    pub fn exclude_me(self, exclude: bool) -> Self {
        self.option("exclude_me", exclude)
    }

    /// Deliver only to these session ids.
    pub fn eligible(self, sessions: &[u64]) -> Self {
        self.option("eligible", sessions)
    }

    /// Do not deliver to these session ids.
    pub fn exclude(self, sessions: &[u64]) -> Self {
        self.option("exclude", sessions)
    }

    /// Deliver only to sessions with these authids.
    pub fn eligible_authid(self, authids: &[&str]) -> Self {
        self.option("eligible_authid", authids)
    }

    /// Do not deliver to sessions with these authids.
    pub fn exclude_authid(self, authids: &[&str]) -> Self {
        self.option("exclude_authid", authids)
    }

    /// Whether subscribers may see our identity.
    pub fn disclose_me(self, disclose: bool) -> Self {
        self.option("disclose_me", disclose)
    }

    /// Any other option, passed to the router as it is.
    pub fn option(mut self, key: &str, value: impl Serialize) -> Self {
        insert(&mut self.options, key, value);
        self
    }

    pub(crate) fn acknowledged(&self) -> bool {
        self.options
            .get("acknowledge")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
}
