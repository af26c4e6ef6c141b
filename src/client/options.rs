//! Options for calls, registrations, subscriptions and publications: typed helpers for what
//! our users set, and `option(key, value)` to pass anything else to the router as it is.

use std::time::Duration;

use serde::Serialize;

use crate::Error;
use crate::protocol::{Dict, Value, to_value};

/// The options sent to the router, and the first one that could not be represented.
///
/// `option(key, value)` takes any `Serialize` and keeps the chain of builder calls readable,
/// so it cannot return a `Result`; a value that does not serialize (a map with non-string
/// keys, say) is kept here instead, and the call, registration, subscription or publication
/// made with the options fails with [`Error::InvalidArgument`] naming the option, before
/// anything is sent. Nothing is dropped silently.
#[derive(Clone, Debug, Default)]
pub(crate) struct RouterOptions {
    dict: Dict,
    invalid: Option<String>,
}

impl RouterOptions {
    fn set(&mut self, key: &str, value: impl Serialize) {
        match to_value(&value) {
            Ok(value) => {
                self.dict.insert(key.to_owned(), value);
            }
            Err(e) => {
                self.invalid
                    .get_or_insert_with(|| format!("option '{key}' cannot be sent: {e}"));
            }
        }
    }

    fn get(&self, key: &str) -> Option<&Value> {
        self.dict.get(key)
    }

    /// The options to send.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] naming the first option whose value did not serialize.
    pub(crate) fn checked(&self) -> Result<&Dict, Error> {
        match &self.invalid {
            Some(why) => Err(Error::InvalidArgument(why.clone())),
            None => Ok(&self.dict),
        }
    }

    /// As [`checked`](Self::checked), to add what the library itself sends.
    pub(crate) fn checked_mut(&mut self) -> Result<&mut Dict, Error> {
        match &self.invalid {
            Some(why) => Err(Error::InvalidArgument(why.clone())),
            None => Ok(&mut self.dict),
        }
    }
}

/// How a call is cancelled when its caller gives up (WAMP `CANCEL` mode).
///
/// `#[non_exhaustive]`: the specification's advanced profile may name more modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
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
    pub(crate) options: RouterOptions,
}

impl Default for CallOptions {
    fn default() -> Self {
        let mut options = RouterOptions::default();
        // As swampyer does, so that callees see who calls.
        options.set("disclose_me", true);
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
    ///
    /// A value that does not serialize to a WAMP value is not dropped: what is done with
    /// these options fails with [`Error::InvalidArgument`](crate::Error::InvalidArgument)
    /// naming the option, before anything is sent.
    pub fn option(mut self, key: &str, value: impl Serialize) -> Self {
        self.options.set(key, value);
        self
    }

    pub(crate) fn cancel_mode_str(&self) -> &'static str {
        self.cancel_mode.as_str()
    }
}

/// How a registration or subscription URI is matched.
///
/// `#[non_exhaustive]`: routers offer other policies (pass one with `option("match", ..)`),
/// and a typed one may be added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
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

/// Which callee of a shared registration the router invokes (WAMP's `invoke` option).
///
/// `#[non_exhaustive]`: routers offer more (a router's own goes as `.option("invoke", ..)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Invoke {
    /// Only one callee may register (the default).
    Single,
    /// Each callee in turn.
    RoundRobin,
    /// A callee chosen at random.
    Random,
    /// The callee that registered first.
    First,
    /// The callee that registered last.
    Last,
}

impl Invoke {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Invoke::Single => "single",
            Invoke::RoundRobin => "roundrobin",
            Invoke::Random => "random",
            Invoke::First => "first",
            Invoke::Last => "last",
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
    pub(crate) options: RouterOptions,
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

    /// Which callee the router picks when several sessions register the procedure (the
    /// `invoke` option; all of them must register with the same policy). A policy this
    /// enum does not name (a router's own) goes as `.option("invoke", "name")`.
    pub fn invoke(self, policy: Invoke) -> Self {
        self.option("invoke", policy.as_str())
    }

    /// Run at most `max` invocations of this procedure at once; the rest wait in a queue.
    pub fn concurrency(mut self, max: usize) -> Self {
        self.concurrency = Some(max);
        self
    }

    /// No limit of this procedure's own (the default): as many invocations run at once as
    /// the client's handler threads allow.
    pub fn unlimited_concurrency(mut self) -> Self {
        self.concurrency = None;
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
    ///
    /// A value that does not serialize to a WAMP value is not dropped: what is done with
    /// these options fails with [`Error::InvalidArgument`](crate::Error::InvalidArgument)
    /// naming the option, before anything is sent.
    pub fn option(mut self, key: &str, value: impl Serialize) -> Self {
        self.options.set(key, value);
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
    pub(crate) options: RouterOptions,
    pub(crate) concurrency: Option<usize>,
    pub(crate) queue_limit: usize,
    pub(crate) queue_bytes: usize,
}

impl Default for SubscribeOptions {
    fn default() -> Self {
        SubscribeOptions {
            options: RouterOptions::default(),
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

    /// Run up to `max` event handlers of this subscription at once (order is then not kept
    /// when `max` is over 1). The default is 1: in order, one at a time.
    pub fn concurrency(mut self, max: usize) -> Self {
        self.concurrency = Some(max);
        self
    }

    /// No limit of this subscription's own: as many event handlers run at once as the
    /// client's handler threads allow, in no particular order.
    pub fn unlimited_concurrency(mut self) -> Self {
        self.concurrency = None;
        self
    }

    /// At most `max` events wait for a busy handler (default [`DEFAULT_EVENT_QUEUE`]); past
    /// that the oldest are dropped and counted in
    /// [`Stats::events_dropped`](crate::Stats::events_dropped).
    ///
    /// With [`unlimited_concurrency`](Self::unlimited_concurrency) events have no queue of
    /// their own and
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
    ///
    /// A value that does not serialize to a WAMP value is not dropped: what is done with
    /// these options fails with [`Error::InvalidArgument`](crate::Error::InvalidArgument)
    /// naming the option, before anything is sent.
    pub fn option(mut self, key: &str, value: impl Serialize) -> Self {
        self.options.set(key, value);
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
    pub(crate) options: RouterOptions,
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
    ///
    /// A value that does not serialize to a WAMP value is not dropped: what is done with
    /// these options fails with [`Error::InvalidArgument`](crate::Error::InvalidArgument)
    /// naming the option, before anything is sent.
    pub fn option(mut self, key: &str, value: impl Serialize) -> Self {
        self.options.set(key, value);
        self
    }

    pub(crate) fn acknowledged(&self) -> bool {
        self.options
            .get("acknowledge")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn an_option_that_does_not_serialize_fails_the_request_naming_it() {
        let unrepresentable: BTreeMap<Vec<u8>, u8> = BTreeMap::from([(vec![1], 1)]);
        let options = CallOptions::new()
            .option("x_bad", &unrepresentable)
            .option("x_good", 1)
            .option("x_also_bad", &unrepresentable);
        match options.options.checked() {
            Err(Error::InvalidArgument(why)) => {
                assert!(why.starts_with("option 'x_bad' cannot be sent: "), "{why}");
            }
            other => panic!("{other:?}"),
        }
        let mut publish = PublishOptions::new().option("x_bad", &unrepresentable);
        assert!(publish.options.checked_mut().is_err());
        let fine = SubscribeOptions::new().option("x_good", [1, 2]);
        assert_eq!(
            fine.options.checked().unwrap()["x_good"],
            to_value(&[1, 2]).unwrap()
        );
    }

    #[test]
    fn typed_policies_send_the_names_routers_know() {
        let options = RegisterOptions::new()
            .invoke(Invoke::RoundRobin)
            .match_policy(Match::Prefix);
        let sent = options.options.checked().unwrap();
        assert_eq!(sent["invoke"], "roundrobin");
        assert_eq!(sent["match"], "prefix");
        let options = RegisterOptions::new()
            .concurrency(2)
            .unlimited_concurrency();
        assert_eq!(options.concurrency, None);
        assert_eq!(SubscribeOptions::new().concurrency, Some(1));
        assert_eq!(SubscribeOptions::new().concurrency(3).concurrency, Some(3));
    }
}
