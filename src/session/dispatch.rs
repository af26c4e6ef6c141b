//! Where handlers run: a pool of worker threads, at most [`PoolLimits::threads`] of them,
//! that grows when every worker is busy; a bounded queue for what waits for a worker; and
//! per-registration or per-subscription limits on how many handlers run at once.
//!
//! Handlers never run on the socket thread. A handler may block (for example on a nested call
//! through the same client); the pool then starts another worker for the next job instead of
//! waiting, up to its thread limit. Past the limit jobs wait in the pool's queue, and past the
//! queue's bounds (a count and a size in bytes) an invocation is refused at once and an event
//! dropped, so that no router, burst of callers or stream of events can make a service start
//! threads or hold memory without end.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex as StdMutex, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// A unit of work: one invocation or one event.
pub(crate) type Job = Box<dyn FnOnce() + Send + 'static>;

/// What an idle worker may do instead of sleeping until a job comes: look for work of its
/// own (see [`WorkerPool::set_idle_reader`]).
pub(crate) trait IdleReader: Send + Sync + 'static {
    /// Waits for work of its own finding until `until`, and returns it to be run on the
    /// worker. Returns early, with what it has, once `wanted` is set: a job waits in the
    /// queue and every other worker is busy.
    fn read(&self, until: Instant, wanted: &AtomicBool) -> Option<Job>;

    /// Makes a [`read`](Self::read) under way look at `wanted` now.
    fn interrupt(&self);
}

/// How long an idle worker waits for work before its thread ends.
const IDLE_LIFETIME: Duration = Duration::from_secs(30);

/// How often, at most, the log says that work was refused or dropped (with how much since).
const WARN_EVERY: Duration = Duration::from_secs(10);

/// The bounds of a client's handler pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PoolLimits {
    /// Worker threads at most (at least one).
    pub threads: usize,
    /// Jobs waiting for a worker at most, beyond those an idle or startable worker is
    /// already coming for.
    pub queue: usize,
    /// Encoded bytes of the messages waiting at most; one message may always wait, so that
    /// a message larger than this is not refused only for its size.
    pub queue_bytes: usize,
}

/// Why a job was not accepted.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct QueueFull {
    /// Whose bounds: a registration's or subscription's own, or the client's pool.
    pub whose: Bound,
    /// Jobs running under that bound.
    pub running: usize,
    /// Jobs waiting under that bound.
    pub queued: usize,
}

/// Which bound refused a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bound {
    /// The registration's or subscription's `concurrency` and `queue_limit`.
    Own,
    /// The client's `handler_threads` and `handler_queue`.
    Pool,
}

/// A pool of worker threads that grows on demand up to its limit and shrinks when idle.
///
/// Workers wait on a condition variable, so an idle worker sleeps in the kernel at once
/// instead of spinning and yielding first as a channel would: on two cores those yields took
/// CPU from the very threads that had work to do.
///
/// A burst of jobs wakes one worker, not one per job: the woken worker wakes the next before
/// it runs its job, and only while jobs are left, so quick jobs are mostly taken by workers
/// already awake while a slow one still never holds up the rest (the chain goes on).
pub(crate) struct WorkerPool {
    shared: Arc<PoolShared>,
    name: String,
}

struct PoolShared {
    state: StdMutex<PoolState>,
    work: Condvar,
    idle_reader: OnceLock<Box<dyn IdleReader>>,
    limits: PoolLimits,
    /// Set while a job waits and every worker is busy, for a worker that only reads the
    /// connection for work to stop reading and take it.
    wanted: AtomicBool,
    /// Jobs refused since the last warning in the log.
    refused: Throttled,
}

struct PoolState {
    jobs: JobQueue,
    /// Worker threads alive (or being started).
    workers: usize,
    /// Workers waiting for work.
    idle: usize,
    /// Workers started that have not yet looked at `jobs`: each takes one.
    fresh: usize,
    /// Workers in the idle reader, busy but ready to stop for a queued job.
    reading: usize,
    /// A worker has been woken or started and has not yet looked at `jobs`: it takes the
    /// next job, so nobody else needs waking for it.
    on_the_way: bool,
    /// The client is done with the pool (its session ended): a worker with nothing to do ends
    /// at once instead of after [`IDLE_LIFETIME`].
    retiring: bool,
}

struct Queued {
    job: Job,
    /// The encoded size of the message the job handles; zero for the client's own jobs.
    size: usize,
}

/// Jobs waiting in order, with the encoded bytes of their messages.
#[derive(Default)]
struct JobQueue {
    jobs: VecDeque<Queued>,
    bytes: usize,
}

impl JobQueue {
    fn push(&mut self, job: Job, size: usize) {
        self.bytes += size;
        self.jobs.push_back(Queued { job, size });
    }

    fn pop(&mut self) -> Option<Queued> {
        let queued = self.jobs.pop_front()?;
        self.bytes -= queued.size;
        Some(queued)
    }

    fn len(&self) -> usize {
        self.jobs.len()
    }

    fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }
}

/// Whether one more job of `size` bytes may wait behind `waiting` jobs of `bytes` in all,
/// under bounds of `max_jobs` and `max_bytes`: one job may always wait (if any may), so that
/// a message larger than the byte bound is not refused for its size alone.
fn fits(waiting: usize, bytes: usize, size: usize, max_jobs: usize, max_bytes: usize) -> bool {
    waiting < max_jobs && (waiting == 0 || bytes.saturating_add(size) <= max_bytes)
}

impl WorkerPool {
    pub fn new(name: &str, limits: PoolLimits) -> Arc<WorkerPool> {
        Arc::new(WorkerPool {
            shared: Arc::new(PoolShared {
                state: StdMutex::new(PoolState {
                    jobs: JobQueue::default(),
                    workers: 0,
                    idle: 0,
                    fresh: 0,
                    reading: 0,
                    on_the_way: false,
                    retiring: false,
                }),
                work: Condvar::new(),
                idle_reader: OnceLock::new(),
                limits: PoolLimits {
                    threads: limits.threads.max(1),
                    ..limits
                },
                wanted: AtomicBool::new(false),
                refused: Throttled::default(),
            }),
            name: name.to_owned(),
        })
    }

    /// Runs one of the client's own jobs (hooks, and the runs of a registration's or
    /// subscription's limited queue), which are never refused: there are at most a few per
    /// registration, subscription or connection event.
    pub fn run(&self, job: Job) {
        let mut state = self.shared.lock();
        state.jobs.push(job, 0);
        self.start_another(state);
    }

    /// Runs `job`, which handles a message of `size` encoded bytes, on a worker: at once when
    /// one is idle or may be started, or after the jobs already waiting. Refused when every
    /// worker is busy and the queue is at one of its bounds.
    pub fn try_run(&self, job: Job, size: usize) -> Result<(), QueueFull> {
        let mut state = self.shared.lock();
        let limits = &self.shared.limits;
        // Jobs beyond those that idle, starting or startable workers will take at once wait.
        let free = state.idle + state.fresh + limits.threads.saturating_sub(state.workers);
        let would_wait = state.jobs.len() >= free;
        let waiting = state.jobs.len().saturating_sub(free);
        if would_wait
            && !fits(
                waiting,
                state.jobs.bytes,
                size,
                limits.queue,
                limits.queue_bytes,
            )
        {
            return Err(QueueFull {
                whose: Bound::Pool,
                running: state.workers - state.idle - state.fresh,
                queued: waiting,
            });
        }
        state.jobs.push(job, size);
        self.start_another(state);
        Ok(())
    }

    fn start_another(&self, mut state: std::sync::MutexGuard<'_, PoolState>) {
        let spawn = self.shared.call_another(&mut state);
        drop(state);
        if spawn {
            spawn_worker(&self.shared, &self.name);
        }
    }

    /// Lets a worker that runs out of jobs call `reader` before it sleeps. The worker does
    /// not count as idle meanwhile, so jobs that come in the meantime go to other workers, or
    /// interrupt the reader when there is no other.
    pub fn set_idle_reader(&self, reader: Box<dyn IdleReader>) {
        // Set once, when the session starts.
        let _ = self.shared.idle_reader.set(reader);
    }

    /// Notes a refused or dropped job for the log: a warning at most every few seconds,
    /// saying how many since the last one.
    pub fn warn_refused(&self, what: impl FnOnce(u64) -> String) {
        self.shared.refused.note(what);
    }

    /// The pool's bounds.
    pub fn limits(&self) -> PoolLimits {
        self.shared.limits
    }

    /// The client is done with the pool: workers end as soon as nothing is queued, so that a
    /// closed client leaves no thread behind. Jobs queued before or after (the leave hooks)
    /// still run.
    pub fn retire_idle(&self) {
        self.shared.lock().retiring = true;
        self.shared.work.notify_all();
        if let Some(reader) = self.shared.idle_reader.get() {
            reader.interrupt();
        }
    }

    /// Worker threads alive right now.
    #[cfg(test)]
    pub fn workers(&self) -> usize {
        self.shared.lock().workers
    }
}

fn spawn_worker(shared: &Arc<PoolShared>, name: &str) {
    let (worker_shared, worker_name) = (shared.clone(), name.to_owned());
    let spawned = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || worker_loop(&worker_shared, &worker_name));
    if let Err(e) = spawned {
        // Without a new thread the job still runs once a busy worker frees up.
        let mut state = shared.lock();
        state.on_the_way = false;
        state.workers -= 1;
        state.fresh -= 1;
        drop(state);
        log::error!("could not start a handler thread: {e:#}");
    }
}

impl PoolShared {
    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
        // Jobs run outside the lock, so a poisoned lock can only come from a bug here; the
        // state itself is still consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes sure a worker comes for the queued jobs: none is called while one is on its way;
    /// otherwise an idle one is woken, or, when none is idle, true asks for a new one if the
    /// limit allows. At the limit the first worker to finish takes the job, and a worker that
    /// only reads the connection for work is told to stop reading for it.
    fn call_another(&self, state: &mut PoolState) -> bool {
        if state.on_the_way || state.jobs.is_empty() {
            return false;
        }
        if state.idle > 0 {
            state.on_the_way = true;
            self.work.notify_one();
            false
        } else if state.workers < self.limits.threads {
            state.on_the_way = true;
            state.workers += 1;
            state.fresh += 1;
            true
        } else {
            if state.reading > 0 {
                self.wanted.store(true, Ordering::SeqCst);
                if let Some(reader) = self.idle_reader.get() {
                    reader.interrupt();
                }
            }
            false
        }
    }

    fn take_job(&self, state: &mut PoolState) -> Option<Job> {
        let queued = state.jobs.pop()?;
        if state.jobs.is_empty() {
            self.wanted.store(false, Ordering::SeqCst);
        }
        Some(queued.job)
    }
}

/// `idle` counts the workers waiting in `work`. Whenever jobs are queued and a worker may be
/// had, one is on its way for them (`on_the_way`): one woken or started by `run`, or by the
/// worker before it, which calls the next one before it runs its own job while more are
/// queued. At the thread limit, every worker takes the next job when it finishes its own. So
/// every queued job is taken, however long the jobs before it run.
fn worker_loop(shared: &Arc<PoolShared>, name: &str) {
    let mut state = shared.lock();
    // This worker was started to be the one on its way.
    state.on_the_way = false;
    state.fresh -= 1;
    loop {
        if let Some(job) = shared.take_job(&mut state) {
            let spawn = shared.call_another(&mut state);
            drop(state);
            if spawn {
                spawn_worker(shared, name);
            }
            job();
            state = shared.lock();
            continue;
        }
        if let Some(reader) = shared.idle_reader.get().filter(|_| !state.retiring) {
            state.reading += 1;
            drop(state);
            let found = reader.read(crate::deadline::after(IDLE_LIFETIME), &shared.wanted);
            state = shared.lock();
            state.reading -= 1;
            if let Some(job) = found {
                drop(state);
                job();
                state = shared.lock();
                continue;
            }
            if !state.jobs.is_empty() {
                // Queued while this worker was reading.
                continue;
            }
        }
        state.idle += 1;
        let lifetime = if state.retiring {
            Duration::ZERO
        } else {
            IDLE_LIFETIME
        };
        let (guard, waited) = shared
            .work
            .wait_timeout(state, lifetime)
            .unwrap_or_else(|e| e.into_inner());
        state = guard;
        state.idle -= 1;
        // Woken (or timed out, which serves as well): this worker looks at the jobs now.
        state.on_the_way = false;
        if (waited.timed_out() || state.retiring) && state.jobs.is_empty() {
            state.workers -= 1;
            return;
        }
    }
}

/// Counts what was refused or dropped, and says so in the log at most every [`WARN_EVERY`].
#[derive(Default)]
pub(crate) struct Throttled {
    last_warning: Mutex<Option<Instant>>,
    since: AtomicU64,
}

impl Throttled {
    /// Counts one, and logs `what(count since the last warning)` if none was logged lately.
    pub fn note(&self, what: impl FnOnce(u64) -> String) {
        self.since.fetch_add(1, Ordering::Relaxed);
        let mut last = self.last_warning.lock();
        if last.is_some_and(|at| at.elapsed() < WARN_EVERY) {
            return;
        }
        *last = Some(Instant::now());
        let count = self.since.swap(0, Ordering::Relaxed).max(1);
        drop(last);
        log::warn!("{}", what(count));
    }
}

/// What a full queue does with one more job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Overflow {
    /// The new job is refused (an invocation, answered with an error at once).
    RefuseNewest,
    /// The oldest waiting job is dropped to make room (an event: the newest ones matter
    /// most to a subscriber that is behind).
    DropOldest,
}

/// Limits how many jobs of one registration or subscription run at once, queueing the rest
/// up to a count and a size in bytes.
pub(crate) struct ConcurrencyLimit {
    /// At most this many at once; `None` for no limit of its own (the pool's still holds).
    max_running: Option<usize>,
    /// At most this many waiting.
    max_queued: usize,
    /// At most this many encoded bytes waiting; one job may always wait.
    max_queued_bytes: usize,
    overflow: Overflow,
    state: Mutex<LimitState>,
    /// Jobs refused or dropped since the last warning in the log.
    pub dropped: Throttled,
}

#[derive(Default)]
struct LimitState {
    running: usize,
    queued: JobQueue,
}

/// What became of a submitted job.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Submitted {
    /// Running, or about to on a worker.
    Started,
    /// Waiting behind the running ones.
    Queued,
    /// Waiting, after this many older jobs were dropped to make room.
    DroppedOldest(usize),
}

impl ConcurrencyLimit {
    pub fn new(
        max_running: Option<usize>,
        max_queued: usize,
        max_queued_bytes: usize,
        overflow: Overflow,
    ) -> Arc<ConcurrencyLimit> {
        Arc::new(ConcurrencyLimit {
            max_running: max_running.map(|m| m.max(1)),
            max_queued,
            max_queued_bytes,
            overflow,
            state: Mutex::new(LimitState::default()),
            dropped: Throttled::default(),
        })
    }

    /// True when any number may run at once (within the pool's limits).
    pub fn is_unlimited(&self) -> bool {
        self.max_running.is_none()
    }

    /// Runs `job`, which handles a message of `size` encoded bytes, on `pool` now if the
    /// limit allows, queues it otherwise; when the queue is full, refuses it or drops the
    /// oldest waiting jobs for it, as the limit's [`Overflow`] says.
    pub fn submit(
        self: &Arc<Self>,
        pool: &Arc<WorkerPool>,
        job: Job,
        size: usize,
    ) -> Result<Submitted, QueueFull> {
        let Some(max_running) = self.max_running else {
            return pool.try_run(job, size).map(|()| Submitted::Started);
        };
        let mut state = self.state.lock();
        if state.running < max_running {
            state.running += 1;
            drop(state);
            self.start(pool.clone(), job);
            return Ok(Submitted::Started);
        }
        let room_for = |queued: &JobQueue| {
            fits(
                queued.len(),
                queued.bytes,
                size,
                self.max_queued,
                self.max_queued_bytes,
            )
        };
        let mut dropped = 0;
        if !room_for(&state.queued) {
            if self.overflow == Overflow::RefuseNewest || self.max_queued == 0 {
                return Err(QueueFull {
                    whose: Bound::Own,
                    running: state.running,
                    queued: state.queued.len(),
                });
            }
            while !room_for(&state.queued) {
                let Some(oldest) = state.queued.pop() else {
                    break;
                };
                drop(oldest.job);
                crate::memory::large_message_done(oldest.size);
                dropped += 1;
            }
        }
        state.queued.push(job, size);
        Ok(if dropped == 0 {
            Submitted::Queued
        } else {
            Submitted::DroppedOldest(dropped)
        })
    }

    /// Runs `job`, then whatever queued up behind it, on one worker.
    fn start(self: &Arc<Self>, pool: Arc<WorkerPool>, job: Job) {
        pool.run(self.clone().claimed(job));
    }

    /// Takes a place to run now, as [`submit`](Self::submit) would for a job it starts at
    /// once, when one is free (and so nothing waits); the caller then runs
    /// [`claimed`](Self::claimed)`(job)` itself, and the jobs submitted meanwhile queue
    /// behind it in order.
    pub fn try_claim(&self) -> bool {
        let Some(max_running) = self.max_running else {
            return true;
        };
        let mut state = self.state.lock();
        if state.running < max_running {
            state.running += 1;
            true
        } else {
            false
        }
    }

    /// The run of `job` in a place already taken, then of whatever queued up behind it.
    pub fn claimed(self: Arc<Self>, job: Job) -> Job {
        if self.max_running.is_none() {
            return job;
        }
        Box::new(move || {
            let mut next = Some(job);
            while let Some(job) = next.take() {
                job();
                let mut state = self.state.lock();
                match state.queued.pop() {
                    Some(queued) => next = Some(queued.job),
                    None => state.running -= 1,
                }
            }
        })
    }

    /// (running, queued) right now.
    #[cfg(test)]
    pub fn load(&self) -> (usize, usize) {
        let state = self.state.lock();
        (state.running, state.queued.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Bounds no test below reaches unless it means to.
    const ROOMY: PoolLimits = PoolLimits {
        threads: 1000,
        queue: 100_000,
        queue_bytes: usize::MAX,
    };

    fn pool() -> Arc<WorkerPool> {
        WorkerPool::new("test", ROOMY)
    }

    /// An idle reader made of a closure, which `interrupt` wakes through `bell`.
    struct Reader<F> {
        read: F,
        bell: crossbeam_channel::Sender<()>,
    }

    impl<F> IdleReader for Reader<F>
    where
        F: Fn(Instant, &AtomicBool) -> Option<Job> + Send + Sync + 'static,
    {
        fn read(&self, until: Instant, wanted: &AtomicBool) -> Option<Job> {
            (self.read)(until, wanted)
        }

        fn interrupt(&self) {
            let _ = self.bell.try_send(());
        }
    }

    #[test]
    fn a_blocked_worker_does_not_stop_the_next_job() {
        let pool = pool();
        let (release, blocked) = crossbeam_channel::bounded::<()>(0);
        pool.run(Box::new(move || {
            let _ = blocked.recv_timeout(Duration::from_secs(10));
        }));
        let (done_tx, done_rx) = crossbeam_channel::bounded(1);
        pool.run(Box::new(move || done_tx.send(()).unwrap()));
        done_rx
            .recv_timeout(Duration::from_secs(5))
            .expect("second job ran while the first was blocked");
        release.send(()).unwrap();
    }

    #[test]
    fn a_burst_of_blocking_jobs_all_run_at_once() {
        // Each job waits until all of them run: only a pool that gives every job of the
        // burst its own worker, though it wakes just one at first, gets through.
        const JOBS: usize = 12;
        let pool = pool();
        let barrier = Arc::new(std::sync::Barrier::new(JOBS + 1));
        let (done_tx, done_rx) = crossbeam_channel::unbounded();
        for _ in 0..JOBS {
            let barrier = barrier.clone();
            let done = done_tx.clone();
            pool.run(Box::new(move || {
                barrier.wait();
                done.send(()).unwrap();
            }));
        }
        let (all_tx, all_rx) = crossbeam_channel::bounded(1);
        let waiter = barrier.clone();
        std::thread::spawn(move || {
            waiter.wait();
            let _ = all_tx.send(());
        });
        all_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("every job of the burst was running at the same time");
        for _ in 0..JOBS {
            done_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        }
    }

    #[test]
    fn a_retired_pool_ends_its_idle_workers_at_once_and_still_runs_late_jobs() {
        let pool = pool();
        let (done_tx, done_rx) = crossbeam_channel::unbounded();
        for _ in 0..4 {
            let done = done_tx.clone();
            pool.run(Box::new(move || done.send(()).unwrap()));
        }
        for _ in 0..4 {
            done_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        }
        assert!(pool.workers() > 0);
        pool.retire_idle();
        let deadline = Instant::now() + Duration::from_secs(5);
        while pool.workers() > 0 {
            assert!(
                Instant::now() < deadline,
                "{} idle workers still there",
                pool.workers()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        // A leave hook queued once the session has ended still runs, and its worker ends.
        pool.run(Box::new(move || done_tx.send(()).unwrap()));
        done_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        while pool.workers() > 0 {
            assert!(Instant::now() < deadline + Duration::from_secs(5));
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn idle_workers_take_later_bursts() {
        let pool = pool();
        let (done_tx, done_rx) = crossbeam_channel::unbounded();
        for _ in 0..50 {
            for _ in 0..8 {
                let done = done_tx.clone();
                pool.run(Box::new(move || done.send(()).unwrap()));
            }
            for _ in 0..8 {
                done_rx
                    .recv_timeout(Duration::from_secs(5))
                    .expect("every job of every burst ran");
            }
        }
    }

    #[test]
    fn a_worker_in_the_idle_reader_runs_what_it_finds_and_others_take_the_queue() {
        let pool = pool();
        // The reader waits for a job from `found` (as a worker reading the connection waits
        // for an invocation), and says which thread it ran on.
        let (found_tx, found) = crossbeam_channel::unbounded::<Job>();
        let (reading_tx, reading) = crossbeam_channel::unbounded();
        let (bell, _rung) = crossbeam_channel::bounded(1);
        pool.set_idle_reader(Box::new(Reader {
            read: move |until: Instant, _: &AtomicBool| {
                reading_tx.send(std::thread::current().id()).unwrap();
                found
                    .recv_deadline(until.min(Instant::now() + Duration::from_secs(10)))
                    .ok()
            },
            bell,
        }));
        let (done_tx, done) = crossbeam_channel::unbounded();
        let first = done_tx.clone();
        pool.run(Box::new(move || {
            first.send(std::thread::current().id()).unwrap()
        }));
        let worker = done.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(
            reading.recv_timeout(Duration::from_secs(5)).unwrap(),
            worker
        );

        // While that worker reads, a queued job goes to another one.
        let second = done_tx.clone();
        pool.run(Box::new(move || {
            second.send(std::thread::current().id()).unwrap()
        }));
        let other = done.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_ne!(other, worker, "a worker busy reading took a queued job");

        // What the reader finds runs on its own thread.
        let third = done_tx.clone();
        found_tx
            .send(Box::new(move || {
                third.send(std::thread::current().id()).unwrap()
            }))
            .unwrap();
        let ran_on = done.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(ran_on == worker || ran_on == other, "{ran_on:?}");
    }

    /// Figures, not a check: `cargo test --release --lib burst_dispatch_figures -- --ignored
    /// --nocapture`. 100 bursts of 64 quick jobs (as a batch of 64 events read at once gives)
    /// on a pool with 8 idle workers: how long they take and how many threads it starts.
    #[test]
    #[ignore]
    fn burst_dispatch_figures() {
        fn threads() -> usize {
            std::fs::read_dir("/proc/self/task").map_or(0, |dir| dir.count())
        }
        let pool = pool();
        let warm = Arc::new(std::sync::Barrier::new(9));
        for _ in 0..8 {
            let warm = warm.clone();
            pool.run(Box::new(move || {
                warm.wait();
            }));
        }
        warm.wait();
        std::thread::sleep(Duration::from_millis(50));
        let (done_tx, done_rx) = crossbeam_channel::unbounded();
        let before = threads();
        let started = std::time::Instant::now();
        for _ in 0..100 {
            for job in 0..64_u64 {
                let done = done_tx.clone();
                pool.run(Box::new(move || {
                    let spin = (0..2000).fold(job, |x, _| x.wrapping_mul(31).wrapping_add(7));
                    done.send(spin).unwrap();
                }));
            }
            for _ in 0..64 {
                done_rx.recv_timeout(Duration::from_secs(5)).unwrap();
            }
        }
        eprintln!(
            "6,400 jobs in bursts of 64: {:?}, threads started: {}",
            started.elapsed(),
            threads() - before
        );
    }

    #[test]
    fn a_limit_of_one_runs_jobs_in_order_and_refuses_past_the_queue() {
        let pool = pool();
        let limit = ConcurrencyLimit::new(Some(1), 2, usize::MAX, Overflow::RefuseNewest);
        let (gate_tx, gate_rx) = crossbeam_channel::bounded::<()>(0);
        let order = Arc::new(Mutex::new(Vec::new()));
        let running_max = Arc::new(AtomicUsize::new(0));
        let running = Arc::new(AtomicUsize::new(0));
        let (done_tx, done_rx) = crossbeam_channel::unbounded();
        for i in 0..3 {
            let order = order.clone();
            let gate = gate_rx.clone();
            let done = done_tx.clone();
            let running = running.clone();
            let running_max = running_max.clone();
            limit
                .submit(
                    &pool,
                    Box::new(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        running_max.fetch_max(now, Ordering::SeqCst);
                        if i == 0 {
                            let _ = gate.recv_timeout(Duration::from_secs(10));
                        }
                        order.lock().push(i);
                        running.fetch_sub(1, Ordering::SeqCst);
                        done.send(()).unwrap();
                    }),
                    0,
                )
                .unwrap();
        }
        assert_eq!(
            limit.submit(&pool, Box::new(|| {}), 0),
            Err(QueueFull {
                whose: Bound::Own,
                running: 1,
                queued: 2
            })
        );
        gate_tx.send(()).unwrap();
        for _ in 0..3 {
            done_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        }
        assert_eq!(*order.lock(), vec![0, 1, 2]);
        assert_eq!(running_max.load(Ordering::SeqCst), 1);
        assert_eq!(limit.load(), (0, 0));
    }

    /// A job that blocks until the returned sender sends or is dropped, and says it started.
    fn gated(
        started: &crossbeam_channel::Sender<usize>,
        n: usize,
    ) -> (Job, crossbeam_channel::Sender<()>) {
        let (release, gate) = crossbeam_channel::bounded::<()>(1);
        let started = started.clone();
        let job: Job = Box::new(move || {
            started.send(n).unwrap();
            let _ = gate.recv_timeout(Duration::from_secs(20));
        });
        (job, release)
    }

    #[test]
    fn the_pool_starts_no_more_threads_than_its_limit_and_refuses_past_its_queue() {
        let pool = WorkerPool::new(
            "test",
            PoolLimits {
                threads: 2,
                queue: 3,
                queue_bytes: usize::MAX,
            },
        );
        let (started_tx, started) = crossbeam_channel::unbounded();
        let mut gates = Vec::new();
        for n in 0..5 {
            let (job, gate) = gated(&started_tx, n);
            gates.push(gate);
            pool.try_run(job, 10).unwrap();
        }
        let mut first: Vec<usize> = (0..2)
            .map(|_| started.recv_timeout(Duration::from_secs(5)).unwrap())
            .collect();
        first.sort();
        assert_eq!(first, vec![0, 1]);
        assert!(started.recv_timeout(Duration::from_millis(100)).is_err());
        assert_eq!(pool.workers(), 2);
        let (job, _gate) = gated(&started_tx, 5);
        assert_eq!(
            pool.try_run(job, 10),
            Err(QueueFull {
                whose: Bound::Pool,
                running: 2,
                queued: 3
            })
        );
        // The client's own jobs are never refused: they wait like the rest.
        let (own_tx, own) = crossbeam_channel::bounded(1);
        pool.run(Box::new(move || own_tx.send(()).unwrap()));
        drop(gates);
        let mut rest: Vec<usize> = (0..3)
            .map(|_| started.recv_timeout(Duration::from_secs(5)).unwrap())
            .collect();
        rest.sort();
        assert_eq!(rest, vec![2, 3, 4]);
        own.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(pool.workers() <= 2);
    }

    #[test]
    fn the_pool_queue_is_bounded_in_bytes_but_always_holds_one_message() {
        let pool = WorkerPool::new(
            "test",
            PoolLimits {
                threads: 1,
                queue: 100,
                queue_bytes: 100,
            },
        );
        let (started_tx, started) = crossbeam_channel::unbounded();
        let (busy, release) = gated(&started_tx, 0);
        pool.try_run(busy, 0).unwrap();
        started.recv_timeout(Duration::from_secs(5)).unwrap();
        // One message larger than the bound may wait alone...
        pool.try_run(Box::new(|| {}), 500).unwrap();
        // ...but nothing more while it does.
        let refused = pool.try_run(Box::new(|| {}), 1).unwrap_err();
        assert_eq!(refused.whose, Bound::Pool);
        drop(release);
        let deadline = Instant::now() + Duration::from_secs(5);
        while pool.try_run(Box::new(|| {}), 80).is_err() {
            assert!(Instant::now() < deadline, "the queue never emptied");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn a_burst_far_past_the_limit_runs_every_job_on_that_many_threads() {
        const THREADS: usize = 8;
        let pool = WorkerPool::new(
            "test",
            PoolLimits {
                threads: THREADS,
                queue: 10_000,
                queue_bytes: usize::MAX,
            },
        );
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (done_tx, done) = crossbeam_channel::unbounded();
        for _ in 0..2_000 {
            let (running, most, done) = (running.clone(), most.clone(), done_tx.clone());
            pool.try_run(
                Box::new(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::yield_now();
                    running.fetch_sub(1, Ordering::SeqCst);
                    done.send(()).unwrap();
                }),
                0,
            )
            .unwrap();
            assert!(pool.workers() <= THREADS);
        }
        for _ in 0..2_000 {
            done.recv_timeout(Duration::from_secs(10)).unwrap();
        }
        assert!(most.load(Ordering::SeqCst) <= THREADS);
        assert!(pool.workers() <= THREADS);
    }

    #[test]
    fn at_the_limit_a_worker_reading_for_work_stops_for_a_queued_job() {
        // The only worker reads the connection for work (as a service's idle worker does);
        // a job queued meanwhile must not wait for the reader's 30 s to end.
        let pool = WorkerPool::new(
            "test",
            PoolLimits {
                threads: 1,
                queue: 10,
                queue_bytes: usize::MAX,
            },
        );
        let (bell, rung) = crossbeam_channel::bounded(1);
        let (reading_tx, reading) = crossbeam_channel::unbounded();
        pool.set_idle_reader(Box::new(Reader {
            read: move |until: Instant, wanted: &AtomicBool| {
                let _ = reading_tx.send(());
                while !wanted.load(Ordering::SeqCst) && Instant::now() < until {
                    let _ = rung.recv_timeout(Duration::from_secs(1));
                }
                None
            },
            bell,
        }));
        let (done_tx, done) = crossbeam_channel::unbounded();
        let first = done_tx.clone();
        pool.try_run(Box::new(move || first.send(()).unwrap()), 0)
            .unwrap();
        done.recv_timeout(Duration::from_secs(5)).unwrap();
        reading.recv_timeout(Duration::from_secs(5)).unwrap();
        let started = Instant::now();
        pool.try_run(Box::new(move || done_tx.send(()).unwrap()), 0)
            .unwrap();
        done.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(pool.workers(), 1);
    }

    #[test]
    fn a_full_event_queue_drops_its_oldest_events() {
        let pool = pool();
        let limit = ConcurrencyLimit::new(Some(1), 2, usize::MAX, Overflow::DropOldest);
        let (started_tx, started) = crossbeam_channel::unbounded();
        let (first, release) = gated(&started_tx, 0);
        assert_eq!(limit.submit(&pool, first, 0), Ok(Submitted::Started));
        started.recv_timeout(Duration::from_secs(5)).unwrap();
        let (ran_tx, ran) = crossbeam_channel::unbounded();
        let event = |n: usize| -> Job {
            let ran = ran_tx.clone();
            Box::new(move || ran.send(n).unwrap())
        };
        assert_eq!(limit.submit(&pool, event(1), 0), Ok(Submitted::Queued));
        assert_eq!(limit.submit(&pool, event(2), 0), Ok(Submitted::Queued));
        assert_eq!(
            limit.submit(&pool, event(3), 0),
            Ok(Submitted::DroppedOldest(1))
        );
        assert_eq!(
            limit.submit(&pool, event(4), 0),
            Ok(Submitted::DroppedOldest(1))
        );
        assert_eq!(limit.load(), (1, 2));
        drop(release);
        let order: Vec<usize> = (0..2)
            .map(|_| ran.recv_timeout(Duration::from_secs(5)).unwrap())
            .collect();
        assert_eq!(order, vec![3, 4]);
        assert!(ran.recv_timeout(Duration::from_millis(50)).is_err());
    }

    /// A place claimed by a thread that runs the job itself: what is submitted meanwhile
    /// waits, and runs after it, in order, on the same thread.
    #[test]
    fn a_claimed_place_runs_its_job_then_those_queued_behind_it() {
        let pool = pool();
        let limit = ConcurrencyLimit::new(Some(1), 100, usize::MAX, Overflow::DropOldest);
        let order = Arc::new(Mutex::new(Vec::new()));
        let job = |n: usize| -> Job {
            let order = order.clone();
            Box::new(move || order.lock().push((n, std::thread::current().id())))
        };
        assert!(limit.try_claim());
        assert!(!limit.try_claim(), "one place only");
        assert_eq!(limit.submit(&pool, job(2), 0), Ok(Submitted::Queued));
        assert_eq!(limit.submit(&pool, job(3), 0), Ok(Submitted::Queued));
        limit.clone().claimed(job(1))();
        let here = std::thread::current().id();
        assert_eq!(*order.lock(), [(1, here), (2, here), (3, here)]);
        assert_eq!(limit.load(), (0, 0));
        assert!(limit.try_claim(), "the place is free again");
    }

    #[test]
    fn an_event_queue_bounded_in_bytes_drops_as_many_as_it_takes() {
        let pool = pool();
        let limit = ConcurrencyLimit::new(Some(1), 100, 100, Overflow::DropOldest);
        let (started_tx, started) = crossbeam_channel::unbounded();
        let (first, release) = gated(&started_tx, 0);
        limit.submit(&pool, first, 0).unwrap();
        started.recv_timeout(Duration::from_secs(5)).unwrap();
        for _ in 0..4 {
            assert_eq!(
                limit.submit(&pool, Box::new(|| {}), 25),
                Ok(Submitted::Queued)
            );
        }
        assert_eq!(
            limit.submit(&pool, Box::new(|| {}), 60),
            Ok(Submitted::DroppedOldest(3))
        );
        assert_eq!(limit.load(), (1, 2));
        drop(release);
    }
}
