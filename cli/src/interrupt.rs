//! Ctrl-C, SIGTERM and SIGHUP: one process-wide handler, installed when first needed, whose
//! presses reach whichever command is waiting. A command stops with a clean GOODBYE instead
//! of the process dying mid-session (a service first lets what it is running finish); in the
//! shell, Ctrl-C ends the running command and returns to the prompt. A press while a command
//! is already [stopping] ends the process at once, for the operator who will not wait.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::{Receiver, Sender};

use crate::failure::{Failure, INTERRUPTED};

static PRESSES: OnceLock<(Sender<()>, Receiver<()>)> = OnceLock::new();
/// Set while a command stops after a press.
static STOPPING: AtomicBool = AtomicBool::new(false);

/// Presses of Ctrl-C from now on (earlier ones are forgotten).
pub fn presses() -> Result<Receiver<()>, Failure> {
    let mut installed = Ok(());
    let (_, presses) = PRESSES.get_or_init(|| {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let on_press = tx.clone();
        installed = ctrlc::set_handler(move || {
            if STOPPING.load(Ordering::SeqCst) {
                eprintln!("izaber-wamp: interrupted again: exiting now");
                std::process::exit(INTERRUPTED.into());
            }
            let _ = on_press.try_send(());
        });
        (tx, rx)
    });
    installed.map_err(|e| Failure::usage(format!("cannot catch Ctrl-C: {e}")))?;
    while presses.try_recv().is_ok() {}
    STOPPING.store(false, Ordering::SeqCst);
    Ok(presses.clone())
}

/// Says that the command is stopping after a press: the next press ends the process.
pub fn stopping() {
    STOPPING.store(true, Ordering::SeqCst);
}
