//! Waiting until the process is asked to stop, for services: the Rust twin of Python's
//! `while True: time.sleep(1)`, which a service then follows with a graceful shutdown
//! ([`Client::run_until_stopped`](crate::Client::run_until_stopped)).
//!
//! What asks a process to stop: on Unix SIGINT (Ctrl-C), SIGTERM (what systemd, Docker and
//! Kubernetes send) and SIGHUP (its terminal went away); on Windows Ctrl-C, Ctrl-Break and
//! closing its console window. A second request while the first is being handled ends the
//! process at once (exit code 130), for the operator whose service does not stop in time.
//!
//! The handler is the process's: it is installed at the first use and stays. A program that
//! installed a Ctrl-C handler of its own (through the `ctrlc` crate or the operating system)
//! gets an error here instead of losing its own.

use std::sync::OnceLock;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::Error;

/// The process's stop requests (see the module's documentation).
///
/// ```no_run
/// # fn main() -> Result<(), izaber_wamp::Error> {
/// let stop = izaber_wamp::StopSignal::install()?;
/// // ... start the service, then:
/// stop.wait();
/// // ... shut down
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug)]
pub struct StopSignal {
    state: &'static StopState,
}

#[derive(Debug)]
struct StopState {
    requested: Mutex<bool>,
    changed: Condvar,
}

/// What to do with a request: note the first; end the process at the second, unless the
/// first was [cleared](StopSignal::clear) meanwhile.
fn on_request(state: &StopState) {
    let mut requested = state.requested.lock();
    if *requested {
        // Written straight to stderr: the operator pressed twice because nothing seemed to
        // happen, and the log may be anywhere.
        eprintln!("stop requested again: exiting now");
        std::process::exit(130);
    }
    *requested = true;
    state.changed.notify_all();
}

static STATE: OnceLock<Result<StopState, String>> = OnceLock::new();

impl StopSignal {
    /// Catches the process's stop requests from now on (the first call installs the
    /// handler; later calls share it).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when the process already has a Ctrl-C handler of its own,
    /// or the operating system refused one.
    pub fn install() -> Result<StopSignal, Error> {
        let installed = STATE.get_or_init(|| {
            ctrlc::try_set_handler(|| {
                if let Some(Ok(state)) = STATE.get() {
                    on_request(state);
                }
            })
            .map(|()| StopState {
                requested: Mutex::new(false),
                changed: Condvar::new(),
            })
            .map_err(|e| format!("cannot catch the signals that ask the process to stop: {e}"))
        });
        match installed {
            Ok(state) => Ok(StopSignal { state }),
            Err(why) => Err(Error::InvalidArgument(why.clone())),
        }
    }

    /// Blocks until the process is asked to stop (at once if it was already, and not
    /// [cleared](Self::clear) since).
    pub fn wait(&self) {
        let mut requested = self.state.requested.lock();
        while !*requested {
            self.state.changed.wait(&mut requested);
        }
    }

    /// [`wait`](Self::wait) for at most `timeout`: true when the process was asked to stop.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let deadline = crate::deadline::after(timeout);
        let mut requested = self.state.requested.lock();
        while !*requested {
            if self
                .state
                .changed
                .wait_until(&mut requested, deadline)
                .timed_out()
            {
                break;
            }
        }
        *requested
    }

    /// Whether the process has been asked to stop (and the request not cleared).
    pub fn is_requested(&self) -> bool {
        *self.state.requested.lock()
    }

    /// Takes the request as handled without the process ending, as an interactive program
    /// does when Ctrl-C stops only the command at hand: the next request is a first one
    /// again instead of ending the process.
    pub fn clear(&self) {
        *self.state.requested.lock() = false;
    }

    /// As if a stop request had come: wakes [`wait`](Self::wait). For a program that stops
    /// its service for reasons of its own, and for tests.
    pub fn request(&self) {
        let mut requested = self.state.requested.lock();
        *requested = true;
        self.state.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_wakes_waiters_and_clear_makes_the_next_one_a_first() {
        let stop = StopSignal::install().unwrap();
        stop.clear();
        assert!(!stop.wait_timeout(Duration::from_millis(10)));
        let waiter = std::thread::spawn(move || {
            stop.wait();
            stop.is_requested()
        });
        std::thread::sleep(Duration::from_millis(20));
        stop.request();
        assert!(waiter.join().unwrap());
        assert!(stop.wait_timeout(Duration::ZERO));
        assert!(stop.wait_timeout(Duration::MAX));
        stop.clear();
        assert!(!stop.is_requested());
        // A second installation shares the first.
        let again = StopSignal::install().unwrap();
        again.request();
        assert!(stop.is_requested());
        stop.clear();
    }
}
