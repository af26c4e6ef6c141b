//! Ending a client: [`Client::close`], [`Client::shutdown`] and
//! [`Client::run_until_stopped`], and the bounds they keep.

use std::time::{Duration, Instant};

use crate::session::Command;
use crate::session::reply::oneshot;
use crate::{Client, Error, ShutdownReport};

/// The longest a [`Client::close`] takes, whatever the router, the handlers and the leave
/// hooks do: up to 5 s for running handlers to answer, up to 2 s for the router's GOODBYE,
/// and the rest for the [`on_leave`](crate::ClientBuilder::on_leave) hooks.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);
/// The grace of [`Client::close`]: how long it lets handlers still running answer.
pub const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// How long a close waits for the leave hooks, after the grace and the GOODBYE.
const LEAVE_HOOKS_WAIT: Duration = Duration::from_secs(3);

impl Client {
    /// Says GOODBYE and closes the connection; every clone of this client is closed. Pending
    /// requests fail with [`Error::Closed`]. Waits until the session has ended and its
    /// [`on_leave`](crate::ClientBuilder::on_leave) hooks have returned, so that a script can close
    /// and exit without losing its cleanup, but never longer than [`CLOSE_TIMEOUT`] in all:
    /// what has not finished by then (a hook, a router that does not answer GOODBYE) is left
    /// to finish by itself, with a warning in the log.
    ///
    /// Handlers still running are not cut off: this is [`shutdown`](Client::shutdown) with a
    /// grace of [`CLOSE_GRACE`] (5 s), which says what it does in order.
    pub fn close(&self) {
        let _ = self.shutdown(CLOSE_GRACE);
    }

    /// Serves until the process is asked to stop (Ctrl-C, SIGTERM; see
    /// [`StopSignal`](crate::StopSignal)), then [shuts down](Client::shutdown) within `grace`:
    /// the end of a service's `main`. A second request while it shuts down ends the process
    /// at once.
    ///
    /// # Errors
    ///
    /// The errors of [`StopSignal::install`](crate::StopSignal::install).
    pub fn run_until_stopped(&self, grace: Duration) -> Result<ShutdownReport, Error> {
        crate::StopSignal::install()?.wait();
        log::info!("asked to stop: shutting down within {grace:?}");
        Ok(self.shutdown(grace))
    }

    /// Stops a service without losing what it was doing, waiting no longer than `grace` for
    /// it, and says what became of it. In order:
    ///
    /// 1. Every registration is withdrawn (UNREGISTER), so that the router sends new calls
    ///    to the other callees of a shared registration (or fails them at once), and the
    ///    client waits for the router to confirm each withdrawal: an invocation the router
    ///    sent before that arrives before the confirmation, so none is missed.
    /// 2. Invocations already received are served, those waiting for a handler thread
    ///    included: a queued invocation was routed to this service and its caller is waiting,
    ///    so it runs if the grace allows; answering it with an error at once would turn a
    ///    call that could succeed into a failure. At the end of the grace, those still
    ///    waiting are answered `wamp.error.canceled` and do not run
    ///    ([`ShutdownReport::cancelled`]).
    /// 3. Running handlers finish and their answers are sent (they may still make calls
    ///    meanwhile). Those still running at the end of the grace are cut off: their answers
    ///    are dropped and they see [`Invocation::is_cancelled`](crate::Invocation::is_cancelled)
    ///    ([`ShutdownReport::cut_off`]).
    /// 4. Acknowledged publications still waiting for the router's answer get it.
    /// 5. GOODBYE, waiting up to 2 s for the router's.
    /// 6. The session thread ends, and the [`on_leave`](crate::ClientBuilder::on_leave) hooks run;
    ///    they are waited for up to 3 s.
    ///
    /// So it returns within `grace` + 5 s. Every clone of this client is closed; pending
    /// requests fail with [`Error::Closed`]. A handler that shuts its own client down is not
    /// waited for. Called again, or after [`close`](Client::close), it returns an empty
    /// report at once.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), izaber_wamp::Error> {
    /// use std::time::Duration;
    /// let client = izaber_wamp::Client::builder("ws://127.0.0.1:8080/ws").connect()?;
    /// client.register("com.example.work", |_| Ok("done"))?;
    /// // ... until the service is asked to stop, then:
    /// let report = client.shutdown(Duration::from_secs(20));
    /// assert!(report.lost_nothing(), "{report}");
    /// # Ok(()) }
    /// ```
    pub fn shutdown(&self, grace: Duration) -> ShutdownReport {
        // The grace, the router's GOODBYE, the leave hooks.
        let bound = grace
            .saturating_add(crate::session::GOODBYE_WAIT)
            .saturating_add(LEAVE_HOOKS_WAIT);
        let deadline = crate::deadline::after(bound);
        let left = || deadline.saturating_duration_since(Instant::now());
        let (responder, waiter) = oneshot();
        let close = Command::Close {
            own_invocation: self.shared().own_invocation(),
            grace,
            report: Some(responder),
        };
        let mut report = ShutdownReport::default();
        if self.shared().command(close).is_ok() {
            if let Some(Ok(done)) = waiter.wait_until(deadline) {
                report = done;
            }
            let _ = self.shared().wait_closed(left());
        }
        let thread = self.shared().thread.lock().take();
        if let Some(thread) = thread
            && thread.handle.thread().id() != std::thread::current().id()
        {
            match thread.ended.recv_deadline(deadline) {
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                    let _ = thread.handle.join();
                }
                _ => log::warn!(
                    "close: the session thread has not ended within {bound:?}; it is left to \
                     end by itself"
                ),
            }
        }
        let leave_hooks = self.shared().leave_hooks.lock().take();
        if let Some(finished) = leave_hooks
            && !crate::session::IN_SESSION_HOOK.get()
        {
            // Disconnected, never sent to: the hooks have returned.
            if let Err(crossbeam_channel::RecvTimeoutError::Timeout) =
                finished.recv_deadline(deadline)
            {
                log::warn!(
                    "close: the leave hooks have not returned in time; they are left to finish by themselves"
                );
            }
        }
        report
    }
}
