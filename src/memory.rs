//! Giving the memory of large messages back to the operating system.
//!
//! glibc's allocator keeps freed memory for reuse, and after a few large messages it keeps a
//! lot. A block of 128 KiB or more starts out mapped on its own and goes back to the kernel
//! when freed, but freeing one raises the threshold for that to the block's size (up to
//! 32 MiB), and the threshold for giving back the top of a heap to twice that. From then on
//! large blocks come from the allocator's arenas (one per thread that allocates, up to eight
//! per core), and freed ones stay there: a service that handled a burst of 1–8 MiB calls
//! sat at 300–450 MB for good while holding almost none of it (`BENCHMARKS.md`).
//!
//! So, on Linux with glibc, the first time a large message (at least [`LARGE_MESSAGE`]
//! bytes) is done with, [`large_message_done`] fixes those thresholds where they started
//! for blocks of its size: blocks of 1 MiB or more are always mapped on their own, and heap
//! tops above 128 KiB are given back. Unless the program's environment sets them itself
//! (`MALLOC_MMAP_THRESHOLD_`, `MALLOC_TRIM_THRESHOLD_`, or `glibc.malloc` tunables in
//! `GLIBC_TUNABLES`): then they are left alone. A program that never sends or receives a large
//! message is not touched.
//!
//! Smaller blocks freed in the middle of an arena are not given back by either threshold, so
//! after each large message a single thread also waits until none has ended for 100 ms,
//! then calls `malloc_trim(0)` (every whole free page of every arena back to the kernel), and
//! once more 2 s later, for values the program held a little longer. Waiting for a quiet
//! moment keeps a burst of large calls from paying for a trim after each one.
//!
//! Elsewhere (another C library) there is nothing to do; a program with its own global
//! allocator barely uses glibc's, so none of this matters to it.

/// Messages at least this large (encoded) are large.
pub(crate) const LARGE_MESSAGE: usize = 1024 * 1024;

/// Says that a message of `size` encoded bytes has been read, written or handled, and its
/// buffers dropped.
pub(crate) fn large_message_done(size: usize) {
    if size >= LARGE_MESSAGE {
        glibc::large_message_done();
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod glibc {
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    use parking_lot::{Condvar, Mutex, MutexGuard};

    use super::LARGE_MESSAGE;

    /// How long no large message must have ended before the first trim.
    const QUIET: Duration = Duration::from_millis(100);
    /// The second trim, after the first.
    const LATER: Duration = Duration::from_secs(2);
    /// glibc's own starting value of the trim threshold.
    const TRIM_THRESHOLD: usize = 128 * 1024;

    struct Trimmer {
        /// When to trim next, and whether that is the second trim of a round.
        due: Mutex<Option<(Instant, bool)>>,
        wake: Condvar,
    }

    /// Set up at the first large message; `None` when no thread could be started.
    static TRIMMER: OnceLock<Option<Trimmer>> = OnceLock::new();

    pub(super) fn large_message_done() {
        let trimmer = TRIMMER.get_or_init(|| {
            fix_thresholds();
            std::thread::Builder::new()
                .name("wamp-memory-trim".into())
                .spawn(|| run(TRIMMER.wait().as_ref().expect("set before it runs")))
                .map_err(|e| log::warn!("no thread to return freed memory to the system: {e}"))
                .ok()
                .map(|_| Trimmer {
                    due: Mutex::new(None),
                    wake: Condvar::new(),
                })
        });
        match trimmer {
            Some(trimmer) => {
                *trimmer.due.lock() = Some((Instant::now() + QUIET, false));
                trimmer.wake.notify_one();
            }
            None => release_free_pages(),
        }
    }

    /// True when the environment tunes the thresholds already: the program's choice wins.
    fn tuned_by_environment() -> bool {
        let set = |name| std::env::var_os(name).is_some();
        set("MALLOC_MMAP_THRESHOLD_")
            || set("MALLOC_TRIM_THRESHOLD_")
            || std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("glibc.malloc."))
    }

    fn fix_thresholds() {
        if tuned_by_environment() {
            log::debug!("malloc thresholds are set by the environment; leaving them");
            return;
        }
        // SAFETY: mallopt takes no pointers and may be called at any time from any thread;
        // it only changes the allocator's parameters under its own lock.
        let fixed = unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, LARGE_MESSAGE as libc::c_int) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD as libc::c_int) == 1
        };
        if fixed {
            log::debug!("blocks of 1 MiB or more are now mapped on their own, as glibc starts");
        } else {
            log::warn!("could not set malloc's mmap and trim thresholds");
        }
    }

    fn run(trimmer: &Trimmer) {
        let mut due = trimmer.due.lock();
        loop {
            match *due {
                None => trimmer.wake.wait(&mut due),
                Some((at, _)) if Instant::now() < at => {
                    trimmer.wake.wait_until(&mut due, at);
                }
                Some((_, second)) => {
                    *due = (!second).then(|| (Instant::now() + LATER, true));
                    MutexGuard::unlocked(&mut due, release_free_pages);
                }
            }
        }
    }

    fn release_free_pages() {
        let started = Instant::now();
        // SAFETY: malloc_trim takes no pointers and may be called from any thread at any
        // time; it locks each arena while it walks it.
        let released = unsafe { libc::malloc_trim(0) };
        log::debug!(
            "returned freed memory to the system (anything released: {}) in {:?}",
            released != 0,
            started.elapsed()
        );
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod glibc {
    pub(super) fn large_message_done() {}
}
