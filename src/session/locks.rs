//! The order in which the session's locks may be taken, checked in debug builds.
//!
//! A thread may take a lock only while it holds none of a later [`Level`]: the leader's poll,
//! then `wire`, then [`Invocations`](super::core::Invocations), then `link`. Try-locks may be
//! taken in any order (they never wait), but what is taken under them follows the rule.
//! Every other lock in the session (reply slots, the published registrations, hooks, the
//! worker pool's) is a leaf: held only for a few instructions, with nothing taken under it.
//!
//! In release builds [`enter`] compiles to nothing.

#[cfg(debug_assertions)]
use std::cell::Cell;

/// The session's locks, in the order they may be taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    /// [`Lead::poll`](super::leader::Lead), held for as long as a thread leads.
    LeaderPoll = 0,
    /// [`Shared::wire`](super::Shared::wire), the connection as callers write to it.
    Wire = 1,
    /// The table of running invocations.
    Invocations = 2,
    /// [`Shared::link`](super::Shared), the facts about the current connection.
    Link = 3,
}

#[cfg(debug_assertions)]
thread_local! {
    /// The levels this thread holds, one bit each.
    static HELD: Cell<u8> = const { Cell::new(0) };
}

/// Proof that the current thread holds a lock of some [`Level`]; the level is let go when it
/// is dropped.
pub(crate) struct Held {
    #[cfg(debug_assertions)]
    bit: u8,
    #[cfg(debug_assertions)]
    was_held: bool,
}

/// Notes that the current thread is about to take a lock of `level`. With `waits` (a
/// blocking lock, not a try-lock), asserts in debug builds that it holds none of a later
/// level: taking one while holding a later one could deadlock with a thread that takes them
/// in order.
#[inline]
pub(crate) fn enter(level: Level, waits: bool) -> Held {
    #[cfg(debug_assertions)]
    {
        let bit = 1u8 << level as u8;
        let held = HELD.get();
        if waits {
            let later = held & !((bit << 1) - 1);
            debug_assert!(
                later == 0,
                "lock order: taking {level:?} while holding a later lock (held: {held:#06b})"
            );
        }
        HELD.set(held | bit);
        Held {
            bit,
            was_held: held & bit != 0,
        }
    }
    #[cfg(not(debug_assertions))]
    {
        let _ = (level, waits);
        Held {}
    }
}

impl Drop for Held {
    #[inline]
    fn drop(&mut self) {
        #[cfg(debug_assertions)]
        if !self.was_held {
            HELD.set(HELD.get() & !self.bit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_in_order_pass_and_out_of_order_fail() {
        {
            let _poll = enter(Level::LeaderPoll, true);
            let _wire = enter(Level::Wire, true);
            let _invocations = enter(Level::Invocations, true);
        }
        // A try-lock may come after a later lock.
        {
            let _wire = enter(Level::Wire, true);
            let _poll = enter(Level::LeaderPoll, false);
        }
        let out_of_order = std::panic::catch_unwind(|| {
            let _invocations = enter(Level::Invocations, true);
            let _wire = enter(Level::Wire, true);
        });
        assert_eq!(out_of_order.is_err(), cfg!(debug_assertions));
        // What a failed check held is let go again.
        let _wire = enter(Level::Wire, true);
    }
}
