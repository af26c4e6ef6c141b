//! Where handlers run: a pool of worker threads that grows when every worker is busy, and
//! per-registration or per-subscription limits on how many handlers run at once.
//!
//! Handlers never run on the socket thread. A handler may block (for example on a nested call
//! through the same client); the pool then starts another worker for the next job instead of
//! waiting, so nested calls cannot deadlock the client.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex as StdMutex, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// A unit of work: one invocation or one event.
pub(crate) type Job = Box<dyn FnOnce() + Send + 'static>;

/// What an idle worker may do instead of sleeping until a job comes: wait for work of its own
/// finding until the given time, and return it to be run on the worker (see
/// [`WorkerPool::set_idle_reader`]).
pub(crate) type IdleReader = Box<dyn Fn(Instant) -> Option<Job> + Send + Sync + 'static>;

/// How long an idle worker waits for work before its thread ends.
const IDLE_LIFETIME: Duration = Duration::from_secs(30);

/// A pool of worker threads that grows on demand and shrinks when idle.
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
    idle_reader: OnceLock<IdleReader>,
}

struct PoolState {
    jobs: VecDeque<Job>,
    /// Workers waiting for work.
    idle: usize,
    /// A worker has been woken or started and has not yet looked at `jobs`: it takes the
    /// next job, so nobody else needs waking for it.
    on_the_way: bool,
}

impl WorkerPool {
    pub fn new(name: &str) -> Arc<WorkerPool> {
        Arc::new(WorkerPool {
            shared: Arc::new(PoolShared {
                state: StdMutex::new(PoolState {
                    jobs: VecDeque::new(),
                    idle: 0,
                    on_the_way: false,
                }),
                work: Condvar::new(),
                idle_reader: OnceLock::new(),
            }),
            name: name.to_owned(),
        })
    }

    /// Runs `job` on a worker, waking or starting one unless one is on its way already, so
    /// that a job never waits behind a blocked handler.
    pub fn run(&self, job: Job) {
        let mut state = self.shared.lock();
        state.jobs.push_back(job);
        let spawn = self.shared.call_another(&mut state);
        drop(state);
        if spawn {
            spawn_worker(&self.shared, &self.name);
        }
    }

    /// Lets a worker that runs out of jobs call `reader` before it sleeps. The worker does
    /// not count as idle meanwhile, so jobs that come in the meantime go to other workers.
    pub fn set_idle_reader(&self, reader: IdleReader) {
        // Set once, when the session starts.
        let _ = self.shared.idle_reader.set(reader);
    }
}

fn spawn_worker(shared: &Arc<PoolShared>, name: &str) {
    let (worker_shared, worker_name) = (shared.clone(), name.to_owned());
    let spawned = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || worker_loop(&worker_shared, &worker_name));
    if let Err(e) = spawned {
        // Without a new thread the job still runs once a busy worker frees up.
        shared.lock().on_the_way = false;
        log::error!("could not start a handler thread: {e}");
    }
}

impl PoolShared {
    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
        // Jobs run outside the lock, so a poisoned lock can only come from a bug here; the
        // state itself is still consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes sure a worker comes for the queued jobs: none is called while one is on its way;
    /// otherwise an idle one is woken, or, when none is idle, true asks for a new one.
    fn call_another(&self, state: &mut PoolState) -> bool {
        if state.on_the_way || state.jobs.is_empty() {
            return false;
        }
        state.on_the_way = true;
        if state.idle > 0 {
            self.work.notify_one();
            false
        } else {
            true
        }
    }
}

/// `idle` counts the workers waiting in `work`. Whenever jobs are queued, a worker is on its
/// way for them (`on_the_way`): one woken or started by `run`, or by the worker before it,
/// which calls the next one before it runs its own job while more are queued. So every
/// queued job is taken, however long the jobs before it run.
fn worker_loop(shared: &Arc<PoolShared>, name: &str) {
    let mut state = shared.lock();
    // This worker was started to be the one on its way.
    state.on_the_way = false;
    loop {
        if let Some(job) = state.jobs.pop_front() {
            let spawn = shared.call_another(&mut state);
            drop(state);
            if spawn {
                spawn_worker(shared, name);
            }
            job();
            state = shared.lock();
            continue;
        }
        if let Some(reader) = shared.idle_reader.get() {
            drop(state);
            if let Some(job) = reader(Instant::now() + IDLE_LIFETIME) {
                job();
                state = shared.lock();
                continue;
            }
            state = shared.lock();
            if !state.jobs.is_empty() {
                // Queued while this worker was reading.
                continue;
            }
        }
        state.idle += 1;
        let (guard, waited) = shared
            .work
            .wait_timeout(state, IDLE_LIFETIME)
            .unwrap_or_else(|e| e.into_inner());
        state = guard;
        state.idle -= 1;
        // Woken (or timed out, which serves as well): this worker looks at the jobs now.
        state.on_the_way = false;
        if waited.timed_out() && state.jobs.is_empty() {
            return;
        }
    }
}

/// Limits how many jobs of one registration or subscription run at once, queueing the rest.
pub(crate) struct ConcurrencyLimit {
    /// At most this many at once; `None` for no limit.
    max_running: Option<usize>,
    /// At most this many waiting; `None` for no limit.
    max_queued: Option<usize>,
    state: Mutex<LimitState>,
}

#[derive(Default)]
struct LimitState {
    running: usize,
    queued: VecDeque<Job>,
}

/// Why a job was not accepted.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct QueueFull {
    pub running: usize,
    pub queued: usize,
}

impl ConcurrencyLimit {
    pub fn new(max_running: Option<usize>, max_queued: Option<usize>) -> Arc<ConcurrencyLimit> {
        Arc::new(ConcurrencyLimit {
            max_running: max_running.map(|m| m.max(1)),
            max_queued,
            state: Mutex::new(LimitState::default()),
        })
    }

    /// True when any number may run at once.
    pub fn is_unlimited(&self) -> bool {
        self.max_running.is_none()
    }

    /// Runs `job` on `pool` now if the limit allows, queues it otherwise, or refuses it when
    /// the queue is full.
    pub fn submit(self: &Arc<Self>, pool: &Arc<WorkerPool>, job: Job) -> Result<(), QueueFull> {
        let Some(max_running) = self.max_running else {
            pool.run(job);
            return Ok(());
        };
        let mut state = self.state.lock();
        if state.running < max_running {
            state.running += 1;
            drop(state);
            self.start(pool.clone(), job);
            Ok(())
        } else if self.max_queued.is_none_or(|max| state.queued.len() < max) {
            state.queued.push_back(job);
            Ok(())
        } else {
            Err(QueueFull {
                running: state.running,
                queued: state.queued.len(),
            })
        }
    }

    /// Runs `job`, then whatever queued up behind it, on one worker.
    fn start(self: &Arc<Self>, pool: Arc<WorkerPool>, job: Job) {
        let limit = self.clone();
        pool.run(Box::new(move || {
            let mut next = Some(job);
            while let Some(job) = next.take() {
                job();
                let mut state = limit.state.lock();
                match state.queued.pop_front() {
                    Some(queued) => next = Some(queued),
                    None => state.running -= 1,
                }
            }
        }));
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
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn a_blocked_worker_does_not_stop_the_next_job() {
        let pool = WorkerPool::new("test");
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
        let pool = WorkerPool::new("test");
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
    fn idle_workers_take_later_bursts() {
        let pool = WorkerPool::new("test");
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
        let pool = WorkerPool::new("test");
        // The reader waits for a job from `found` (as a worker reading the connection waits
        // for an invocation), and says which thread it ran on.
        let (found_tx, found) = crossbeam_channel::unbounded::<Job>();
        let (reading_tx, reading) = crossbeam_channel::unbounded();
        pool.set_idle_reader(Box::new(move |until| {
            reading_tx.send(std::thread::current().id()).unwrap();
            found
                .recv_deadline(until.min(Instant::now() + Duration::from_secs(10)))
                .ok()
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
        let pool = WorkerPool::new("test");
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
        let pool = WorkerPool::new("test");
        let limit = ConcurrencyLimit::new(Some(1), Some(2));
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
                )
                .unwrap();
        }
        assert_eq!(
            limit.submit(&pool, Box::new(|| {})),
            Err(QueueFull {
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
}
