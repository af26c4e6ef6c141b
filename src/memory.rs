//! The bytes of messages: the [`Payload`] type that frames are read into and handed up in, and
//! giving the memory of large messages back to the operating system.
//!
//! This is the crate's lowest layer: it knows neither WAMP nor I/O, and uses nothing of the
//! crate, so that [`protocol`](crate::protocol) (which decodes large CBOR with its spare
//! buffers) and the [`transport`](crate::transport) (which reads frames into them) both build
//! on it without knowing each other. A test in `src/architecture.rs` keeps it so.
//!
//! glibc's allocator keeps freed memory for reuse, and after a few large messages it keeps a
//! lot. A block of 128 KiB or more starts out mapped on its own and goes back to the kernel
//! when freed, but freeing one raises the threshold for that to the block's size (up to
//! 32 MiB), and the threshold for giving back the top of a heap to twice that. From then on
//! large blocks come from the allocator's arenas (one per thread that allocates, up to eight
//! per core), and freed ones stay there: a service that handled a burst of 1–8 MiB calls
//! sat at 300–460 MB for good while holding almost none of it (`BENCHMARKS.md`).
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
//! four of them and 16 MiB in all, and only within a burst: each trim frees them first.
//!
//! What it saves: that service went from 300–460 MB resident (under 0.1 MB of it in use)
//! back to about 6 MB (`BENCHMARKS.md`, *Memory after large messages*). What it costs:
//! every value of 1 MiB or more handed to or from the program is a fresh mapping whose pages the kernel faults in and clears: about 3 ms more per 1 MiB
//! call with caller and callee in one process when the thresholds were first fixed, of which
//! the spare buffers then won back 1.2 ms over WebSocket and 0.1 ms over TCP (same section).
//! Programs that never see a large message pay nothing.
//!
//! # Turning it off
//!
//! The allocator is the process's, so the switch is too. `IZABER_WAMP_ALLOCATOR_TUNING` set
//! to `0`, `off`, `false` or `no` (read once, when first needed) turns all of it off for the
//! process, whatever the program says: the operator's word, as with glibc's own variables.
//! Otherwise [`set_allocator_tuning`] (the client builder and izaber.yaml) turns it off, or
//! on again; the last call wins. Off means no `mallopt`, no `malloc_trim`, no trimming
//! thread, and no spare buffers either: they only make up for the fresh mappings that the
//! fixed threshold costs, and glibc left alone reuses freed blocks by itself. Thresholds
//! already fixed stay fixed: once `mallopt` has set them, glibc stops moving them for good
//! and offers no way back.
//!
//! Elsewhere (another C library, musl included) there is nothing to do, and the switch does
//! nothing; a program with its own global allocator barely uses glibc's, so none of this
//! matters to it.

/// A message's bytes, cheap to slice and to pass between threads: a frame as read from the
/// socket, until it is decoded. It is `bytes::Bytes` (which can own a buffer of ours and give
/// it back when dropped), named through tungstenite's re-export, as the crate has no other
/// reason to depend on `bytes` itself.
pub(crate) type Payload = tungstenite::Bytes;

/// Messages at least this large (encoded) are large.
pub(crate) const LARGE_MESSAGE: usize = 1024 * 1024;

/// Says that a message of `size` encoded bytes has been read, written or handled, and its
/// buffers dropped.
pub(crate) fn large_message_done(size: usize) {
    if size >= LARGE_MESSAGE {
        glibc::large_message_done();
    }
}

/// Turns the allocator tuning (see the module's documentation) off or on again for the
/// whole process; the last call wins, unless `IZABER_WAMP_ALLOCATOR_TUNING` turned it off.
/// Thresholds already fixed by an earlier large message stay fixed.
pub(crate) fn set_allocator_tuning(enabled: bool) {
    glibc::set_tuning(enabled);
}

/// Buffers at least this large are worth a spare one: the smaller ones the allocator hands
/// out from memory it keeps anyway.
pub(crate) const WORTH_A_SPARE: usize = LARGE_MESSAGE / 2;

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

    use super::LARGE_MESSAGE;

    /// The most spare buffers kept: two for each of two clients in one process (a caller and
    /// a callee) making sequential calls (an encoded frame, given back once written, then a
    /// frame read and the scratch space to decode it).
    const SPARE_BUFFERS: usize = 4;
    /// The most bytes the spare buffers may hold together.
    const SPARE_BYTES: usize = 16 * 1024 * 1024;

    /// The environment's switch; see the module's documentation.
    const SWITCH: &str = "IZABER_WAMP_ALLOCATOR_TUNING";
    /// Whether the environment allows the tuning, read once.
    static ALLOWED_BY_ENVIRONMENT: OnceLock<bool> = OnceLock::new();
    /// Whether the program allows it ([`super::set_allocator_tuning`]).
    static ALLOWED_BY_PROGRAM: AtomicBool = AtomicBool::new(true);

    fn allowed_by_environment() -> bool {
        *ALLOWED_BY_ENVIRONMENT.get_or_init(|| {
            let Some(value) = std::env::var_os(SWITCH) else {
                return true;
            };
            let value = value.to_string_lossy();
            match switch_value(&value) {
                Some(true) => true,
                Some(false) => {
                    log::debug!("{SWITCH}={value}: the allocator is left alone");
                    false
                }
                None => {
                    log::warn!("{SWITCH}={value:?} is not 0/off/false/no or 1/on/true/yes; on");
                    true
                }
            }
        })
    }

    /// What a value of the environment's switch says; `None` when it says neither.
    pub(super) fn switch_value(value: &str) -> Option<bool> {
        match value.trim().to_ascii_lowercase().as_str() {
            "0" | "off" | "false" | "no" => Some(false),
            "" | "1" | "on" | "true" | "yes" => Some(true),
            _ => None,
        }
    }

    pub(super) fn tuning_on() -> bool {
        ALLOWED_BY_PROGRAM.load(Ordering::Relaxed) && allowed_by_environment()
    }

    pub(super) fn set_tuning(enabled: bool) {
        ALLOWED_BY_PROGRAM.store(enabled, Ordering::Relaxed);
        if enabled {
            if !allowed_by_environment() {
                log::debug!("allocator tuning stays off: {SWITCH} turned it off");
            }
            return;
        }
        free_spare();
        if TRIMMER.get().is_some() {
            log::debug!(
                "allocator tuning off: no more trims; malloc's thresholds, fixed at the first \
                 large message, stay as they are"
            );
        } else {
            log::debug!("allocator tuning off");
        }
    }

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
            // Asked under the lock: a buffer kept after `set_tuning(false)` emptied the pool
            // would stay there, as no trim comes any more to free it.
            if !tuning_on() {
                return;
            }
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
        if !tuning_on() {
            return;
        }
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
        if !tuning_on() {
            return;
        }
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
    pub(super) fn set_tuning(_enabled: bool) {}

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

    /// The spare buffers and the switch are the process's: tests running beside each other
    /// would take each other's buffers or turn the tuning off under each other.
    static ONE_AT_A_TIME: parking_lot::Mutex<()> = parking_lot::const_mutex(());

    #[test]
    fn large_buffers_are_kept_for_the_next_message_until_a_trim() {
        let _alone = ONE_AT_A_TIME.lock();
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

    #[test]
    fn with_the_tuning_off_no_buffer_is_kept_and_spare_ones_are_freed() {
        let _alone = ONE_AT_A_TIME.lock();
        give_back(vec![7u8; 2 * LARGE_MESSAGE]);
        assert!(glibc::has_spare());

        set_allocator_tuning(false);
        assert!(!glibc::has_spare(), "freed when turned off");
        give_back(vec![7u8; 2 * LARGE_MESSAGE]);
        assert!(!glibc::has_spare(), "not kept while off");
        assert!(writing_buffer(|| LARGE_MESSAGE).is_none());

        set_allocator_tuning(true);
        give_back(vec![7u8; 2 * LARGE_MESSAGE]);
        assert!(glibc::has_spare(), "kept again once back on");
        drop(reading_buffer(LARGE_MESSAGE));
    }

    #[test]
    fn the_environment_switch_reads_as_people_write_it() {
        for off in ["0", "off", "OFF", "false", "No", " no\n"] {
            assert_eq!(glibc::switch_value(off), Some(false), "{off:?}");
        }
        for on in ["", "1", "on", "True", "yes"] {
            assert_eq!(glibc::switch_value(on), Some(true), "{on:?}");
        }
        assert_eq!(glibc::switch_value("sometimes"), None);
    }
}
