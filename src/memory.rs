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
//! The price of mapping blocks on their own is paid again by every large message: each of
//! its buffers is a fresh mapping whose pages the kernel must fault in and clear one by one,
//! and unmap afterwards (over half of a caller's CPU for a 1 MiB call over a unix socket).
//! So the buffers that are the client's own, not values handed to the program (a frame read,
//! a frame encoded, a CBOR decoder's scratch space), are kept for the next large message
//! instead of being freed ([`give_back`], [`reading_buffer`], [`writing_buffer`]): at most
//! [`SPARE_BUFFERS`] of them and [`SPARE_BYTES`] in all, and only within a burst: each trim
//! frees them first.
//!
//! Elsewhere (another C library) there is nothing to do; a program with its own global
//! allocator barely uses glibc's, so none of this matters to it.

use crate::transport::Payload;

/// Messages at least this large (encoded) are large.
pub(crate) const LARGE_MESSAGE: usize = 1024 * 1024;

/// Says that a message of `size` encoded bytes has been read, written or handled, and its
/// buffers dropped.
pub(crate) fn large_message_done(size: usize) {
    if size >= LARGE_MESSAGE {
        glibc::large_message_done();
    }
}

/// Buffers at least this large are worth a spare one: the smaller ones the allocator hands
/// out from memory it keeps anyway.
pub(crate) const WORTH_A_SPARE: usize = LARGE_MESSAGE / 2;
/// The most spare buffers kept: two for each of two clients in one process (a caller and a
/// callee) making sequential calls (an encoded frame, given back once written, then a frame
/// read and the scratch space to decode it).
const SPARE_BUFFERS: usize = 4;
/// The most bytes the spare buffers may hold together.
const SPARE_BYTES: usize = 16 * 1024 * 1024;

/// Keeps `buffer` for the next large message when it is large and there is room, and counts
/// as a large message done (so a trim frees it once the burst is over). Anything else is
/// dropped.
pub(crate) fn give_back(buffer: Vec<u8>) {
    if buffer.capacity() >= LARGE_MESSAGE {
        glibc::give_back(buffer);
    }
}

/// A buffer of `len` bytes to read a frame into (or use as scratch space), whose content is
/// whatever an earlier message left: a spare one when `len` is at least [`WORTH_A_SPARE`] and
/// one is kept, else a new zeroed one.
pub(crate) fn reading_buffer(len: usize) -> Vec<u8> {
    if len >= WORTH_A_SPARE
        && let Some(mut buffer) = glibc::take_spare(len)
    {
        // Shrinking keeps the pages; growing zeroes only what the buffer never held.
        buffer.resize(len, 0);
        return buffer;
    }
    vec![0u8; len]
}

/// An empty spare buffer for encoding a message of about `expected_len` bytes into, when that
/// is at least [`WORTH_A_SPARE`] and one is kept. `expected_len` is asked for only then.
pub(crate) fn writing_buffer(expected_len: impl FnOnce() -> usize) -> Option<Vec<u8>> {
    if !glibc::has_spare() {
        return None;
    }
    let len = expected_len();
    if len < WORTH_A_SPARE {
        return None;
    }
    let mut buffer = glibc::take_spare(len)?;
    buffer.clear();
    Some(buffer)
}

/// `buffer` as a payload that gives the buffer back ([`give_back`]) when the last copy of it
/// is dropped, if it is large.
pub(crate) fn payload(buffer: Vec<u8>) -> Payload {
    if buffer.capacity() >= LARGE_MESSAGE {
        Payload::from_owner(Returned(buffer))
    } else {
        Payload::from(buffer)
    }
}

/// A payload's buffer, given back when the payload is dropped.
struct Returned(Vec<u8>);

impl AsRef<[u8]> for Returned {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Returned {
    fn drop(&mut self) {
        give_back(std::mem::take(&mut self.0));
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod glibc {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    use parking_lot::{Condvar, Mutex, MutexGuard};

    use super::{LARGE_MESSAGE, SPARE_BUFFERS, SPARE_BYTES};

    /// Large buffers kept for the next large message, until the next trim.
    static SPARE: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
    /// Whether `SPARE` holds any, read without its lock on every encode.
    static HAS_SPARE: AtomicBool = AtomicBool::new(false);

    pub(super) fn has_spare() -> bool {
        HAS_SPARE.load(Ordering::Relaxed)
    }

    /// The smallest spare buffer of at least `len` bytes' capacity, else the largest (growing a
    /// mapped block moves its mapping and keeps its pages).
    pub(super) fn take_spare(len: usize) -> Option<Vec<u8>> {
        let mut spare = SPARE.lock();
        let by_capacity = spare.iter().map(Vec::capacity).enumerate();
        let (index, _) = by_capacity
            .clone()
            .filter(|&(_, capacity)| capacity >= len)
            .min_by_key(|&(_, capacity)| capacity)
            .or_else(|| by_capacity.max_by_key(|&(_, capacity)| capacity))?;
        let buffer = spare.swap_remove(index);
        HAS_SPARE.store(!spare.is_empty(), Ordering::Relaxed);
        Some(buffer)
    }

    pub(super) fn give_back(buffer: Vec<u8>) {
        {
            let mut spare = SPARE.lock();
            let held: usize = spare.iter().map(Vec::capacity).sum();
            if spare.len() < SPARE_BUFFERS && held + buffer.capacity() <= SPARE_BYTES {
                spare.push(buffer);
                HAS_SPARE.store(true, Ordering::Relaxed);
            }
        }
        // Arms the trim that frees it once the burst is over.
        large_message_done();
    }

    fn free_spare() {
        let freed = std::mem::take(&mut *SPARE.lock());
        HAS_SPARE.store(false, Ordering::Relaxed);
        drop(freed);
    }

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
        free_spare();
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

    pub(super) fn has_spare() -> bool {
        false
    }

    pub(super) fn take_spare(_len: usize) -> Option<Vec<u8>> {
        None
    }

    pub(super) fn give_back(_buffer: Vec<u8>) {}
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    // One test, as the spare buffers are the process's: tests running beside each other
    // would take each other's.
    #[test]
    fn large_buffers_are_kept_for_the_next_message_until_a_trim() {
        let given = vec![7u8; 3 * LARGE_MESSAGE];
        let at = given.as_ptr();
        give_back(given);

        // Reading: the same memory, at exactly the length asked for.
        let reading = reading_buffer(LARGE_MESSAGE + 5);
        assert_eq!((reading.as_ptr(), reading.len()), (at, LARGE_MESSAGE + 5));

        // A payload gives its buffer back once the last copy of it is dropped.
        let payload = payload(reading);
        let part = payload.slice(10..20);
        drop(payload);
        assert!(writing_buffer(|| LARGE_MESSAGE).is_none(), "still in use");
        drop(part);

        // Writing: empty, and only for a message expected to be large.
        assert!(writing_buffer(|| LARGE_MESSAGE / 4).is_none());
        let writing = writing_buffer(|| LARGE_MESSAGE).expect("the spare buffer");
        assert_eq!((writing.as_ptr(), writing.len()), (at, 0));
        give_back(writing);

        // Small buffers are not kept.
        give_back(vec![1u8; 1000]);
        let reading = reading_buffer(LARGE_MESSAGE / 2);
        assert_eq!(reading.as_ptr(), at);
        assert!(
            reading_buffer(LARGE_MESSAGE).iter().all(|&b| b == 0),
            "a new one"
        );
        give_back(reading);

        // Nothing is kept for long once large messages stop.
        let deadline = Instant::now() + Duration::from_secs(10);
        while glibc::has_spare() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!glibc::has_spare(), "the trim frees the spare buffers");
    }
}
