//! Ctrl-C (and SIGTERM): one process-wide handler, installed when first needed, whose
//! presses reach whichever command is waiting. A command stops with a clean GOODBYE instead
//! of the process dying mid-session; in the shell, Ctrl-C ends the running command and
//! returns to the prompt.

use std::sync::OnceLock;

use crossbeam_channel::{Receiver, Sender};

use crate::failure::Failure;

static PRESSES: OnceLock<(Sender<()>, Receiver<()>)> = OnceLock::new();

/// Presses of Ctrl-C from now on (earlier ones are forgotten).
pub fn presses() -> Result<Receiver<()>, Failure> {
    let mut installed = Ok(());
    let (_, presses) = PRESSES.get_or_init(|| {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let on_press = tx.clone();
        installed = ctrlc::set_handler(move || {
            let _ = on_press.try_send(());
        });
        (tx, rx)
    });
    installed.map_err(|e| Failure::usage(format!("cannot catch Ctrl-C: {e}")))?;
    while presses.try_recv().is_ok() {}
    Ok(presses.clone())
}
