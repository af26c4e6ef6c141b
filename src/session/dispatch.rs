//! Where handlers run: a pool of worker threads that grows when every worker is busy, and
//! per-registration or per-subscription limits on how many handlers run at once.
//!
//! Handlers never run on the socket thread. A handler may block (for example on a nested call
//! through the same client); the pool then starts another worker for the next job instead of
//! waiting, so nested calls cannot deadlock the client.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex as StdMutex};
use std::time::Duration;

use parking_lot::Mutex;

/// A unit of work: one invocation or one event.
pub(crate) type Job = Box<dyn FnOnce() + Send + 'static>;

/// How long an idle worker waits for work before its thread ends.
const IDLE_LIFETIME: Duration = Duration::from_secs(30);

/// A pool of worker threads that grows on demand and shrinks when idle.
///
/// Workers wait on a condition variable, so an idle worker sleeps in the kernel at once
/// instead of spinning and yielding first as a channel would: on two cores those yields took
/// CPU from the very threads that had work to do.
pub(crate) struct WorkerPool {
    shared: Arc<PoolShared>,
    name: String,
}

struct PoolShared {
    state: StdMutex<PoolState>,
    work: Condvar,
}

struct PoolState {
    jobs: VecDeque<Job>,
    /// Workers waiting for work.
    idle: usize,
}

impl WorkerPool {
    pub fn new(name: &str) -> Arc<WorkerPool> {
        Arc::new(WorkerPool {
            shared: Arc::new(PoolShared {
                state: StdMutex::new(PoolState {
                    jobs: VecDeque::new(),
                    idle: 0,
                }),
                work: Condvar::new(),
            }),
            name: name.to_owned(),
        })
    }

    /// Runs `job` on a worker, starting a new worker when the idle ones are too few for the
    /// jobs waiting, so that a job never waits behind a blocked handler.
    pub fn run(&self, job: Job) {
        let mut state = self.shared.lock();
        state.jobs.push_back(job);
        let needs_worker = state.jobs.len() > state.idle;
        drop(state);
        if needs_worker {
            self.spawn_worker();
        } else {
            self.shared.work.notify_one();
        }
    }

    fn spawn_worker(&self) {
        let shared = self.shared.clone();
        let spawned = std::thread::Builder::new()
            .name(self.name.clone())
            .spawn(move || worker_loop(&shared));
        if let Err(e) = spawned {
            // Without a new thread the job still runs once a busy worker frees up.
            log::error!("could not start a handler thread: {e}");
        }
    }
}

impl PoolShared {
    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
        // Jobs run outside the lock, so a poisoned lock can only come from a bug here; the
        // state itself is still consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `idle` counts the workers waiting in `work`; `run` starts a worker whenever the queued jobs
/// outnumber them, so every queued job has a worker that will take it.
fn worker_loop(shared: &PoolShared) {
    let mut state = shared.lock();
    loop {
        if let Some(job) = state.jobs.pop_front() {
            drop(state);
            job();
            state = shared.lock();
            continue;
        }
        state.idle += 1;
        let (guard, waited) = shared
            .work
            .wait_timeout(state, IDLE_LIFETIME)
            .unwrap_or_else(|e| e.into_inner());
        state = guard;
        state.idle -= 1;
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
