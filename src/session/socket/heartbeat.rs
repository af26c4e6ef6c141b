//! Knowing the router is still there: pings (or a probing CALL on RawSocket) on a quiet
//! connection, and the heartbeat timeout; and when the socket thread must next wake.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::SocketLoop;

/// How long the connection must have shown no sign of life before the heartbeat asks the
/// kernel whether the router is still taking our bytes (see `note_progress`).
const QUIET: Duration = Duration::from_millis(100);

impl SocketLoop {
    /// How long the thread may sleep: until the next heartbeat step, or the core's next
    /// deadline.
    pub(super) fn next_wake_up(&self) -> Option<Duration> {
        let config = &self.shared.config;
        // Without pings nothing is declared dead (see `heartbeat`), so there is nothing to wake
        // for: waking at a death time already past would poll with a 1 ms timeout on every turn.
        let heartbeat = config.ping_interval.map(|interval| {
            let dead_at = crate::deadline::from(self.last_received, config.heartbeat_timeout);
            // A ping is due once both the last sign of life and the last ping are an interval
            // old (see `heartbeat`). Waking at the last ping's due time alone would, on a busy
            // connection read by other threads, find that time past on every turn.
            dead_at.min(crate::deadline::from(
                self.last_received.max(self.last_ping),
                interval,
            ))
        });
        let next = heartbeat
            .into_iter()
            .chain(self.core.next_deadline())
            .min()?;
        Some(next.saturating_duration_since(Instant::now()) + Duration::from_millis(1))
    }

    /// Counts bytes moving on the socket as life, so that a message that takes longer than
    /// the heartbeat timeout to cross a slow link is not mistaken for silence: any byte read,
    /// any byte written while a backlog waits to go out, and (on Linux) the kernel's queue of
    /// bytes the router has yet to acknowledge getting shorter, since a large message can sit
    /// whole in the socket buffer. Our own heartbeat ping, written at once into an idle
    /// socket, is no sign of the router.
    fn note_progress(&mut self) {
        let read = self.traffic.read.load(Ordering::Relaxed);
        let written = self.traffic.written.load(Ordering::Relaxed);
        let (seen_read, seen_written, seen_unacknowledged) = self.seen_traffic;
        // Asking the kernel costs a system call; it is worth one only when nothing else has
        // shown life for a while (a large message sitting in the socket buffer).
        let unacknowledged = if read == seen_read && self.last_received.elapsed() >= QUIET {
            self.traffic.unacknowledged()
        } else {
            seen_unacknowledged
        };
        let draining = matches!(
            (unacknowledged, seen_unacknowledged),
            (Some(now), Some(before)) if now < before
        );
        if read != seen_read {
            // Perhaps read by a caller or handler worker a while ago: when matters, or a
            // router that froze just after would be given up on later than it should.
            self.last_received = self.last_received.max(self.traffic.last_read_at());
        }
        if (written != seen_written && self.unflushed) || draining {
            self.last_received = Instant::now();
        }
        self.seen_traffic = (read, written, unacknowledged);
    }

    pub(super) fn heartbeat(&mut self) -> Option<String> {
        self.note_progress();
        let config = &self.shared.config;
        let interval = config.ping_interval?;
        let silent = self.last_received.elapsed();
        if silent > config.heartbeat_timeout {
            return Some(format!(
                "nothing received from the router for {silent:?} (heartbeat timeout {:?})",
                config.heartbeat_timeout
            ));
        }
        // Only a quiet connection needs probing: any message received proves it alive.
        if silent >= interval && self.last_ping.elapsed() >= interval {
            self.last_ping = Instant::now();
            let pinged = self
                .shared
                .lock_wire()
                .connected()
                .and_then(|transport| transport.queue_ping(b"izaber"));
            self.unflushed = true;
            match pinged {
                Ok(true) => {}
                Ok(false) => {
                    self.core.probe();
                    self.carry_out();
                }
                Err(e) => return Some(format!("sending a heartbeat ping failed: {e:#}")),
            }
            if let Err(e) = self.flush() {
                return Some(format!("sending a heartbeat ping failed: {e:#}"));
            }
        }
        None
    }
}
