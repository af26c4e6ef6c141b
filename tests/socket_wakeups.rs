//! While callers and handler workers read the connection themselves, or while nothing
//! happens, the socket thread has nothing to do but the heartbeat, and must sleep until it is
//! due. This file holds a single test so that its process has no other clients whose socket
//! threads would be counted. Linux only: the counts come from /proc.
#![cfg(target_os = "linux")]

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use izaber_wamp::protocol::Serializer;
use support::{Router, unique};

const PING: Duration = Duration::from_millis(200);

/// How often each live socket thread of this process has been put on a CPU, by thread id:
/// the third field of the kernel's schedstat.
fn socket_thread_runs() -> HashMap<String, u64> {
    let mut runs = HashMap::new();
    for task in std::fs::read_dir("/proc/self/task").expect("/proc/self/task") {
        let path = task.expect("a task").path();
        let Ok(name) = std::fs::read_to_string(path.join("comm")) else {
            continue; // the thread has just ended
        };
        if name.trim() != "wamp-session" {
            continue;
        }
        let Ok(schedstat) = std::fs::read_to_string(path.join("schedstat")) else {
            continue;
        };
        let count = schedstat
            .split_whitespace()
            .nth(2)
            .and_then(|field| field.parse().ok())
            .expect("schedstat: run time, wait time, run count");
        runs.insert(path.display().to_string(), count);
    }
    runs
}

/// How often the socket threads alive now have run since `before` was taken.
fn runs_since(before: &HashMap<String, u64>) -> u64 {
    socket_thread_runs()
        .iter()
        .map(|(thread, after)| after - before.get(thread).copied().unwrap_or(0))
        .sum()
}

#[test]
fn the_socket_thread_sleeps_while_others_read_and_while_all_is_quiet() {
    let router = Router::shared();
    let _log = router.log_on_failure();
    for url in [&router.ws_url, &router.tcp_url, &router.unix_url] {
        let connect = |user| {
            router
                .client(url, router.backend(user))
                .serializer(Serializer::Cbor)
                .ping_interval(Some(PING))
                .heartbeat_timeout(Duration::from_secs(10))
                .connect()
                .unwrap()
        };
        let (service, caller) = (connect(1), connect(2));
        let echo = unique("echo");
        service
            .register(&echo, |invocation| invocation.arg::<u64>(0))
            .unwrap();
        assert_eq!(caller.call(&echo, (0,)).unwrap().as_u64(), Some(0));
        // Past the first pings' due time, which is when a socket thread that woke for the
        // last ping's due time alone would poll with a timeout of a millisecond on every turn.
        std::thread::sleep(PING * 2);

        let before = socket_thread_runs();
        assert_eq!(before.len(), 2, "{url}: two clients, two socket threads");
        let (started, mut calls) = (Instant::now(), 0u64);
        while started.elapsed() < Duration::from_secs(1) {
            assert_eq!(caller.call(&echo, (calls,)).unwrap().as_u64(), Some(calls));
            calls += 1;
        }
        let runs = runs_since(&before);
        // Each answer is read by its caller and each invocation by an idle handler worker;
        // the socket threads wake for the heartbeat every 200 ms, and now and then when a
        // reader gives the socket back just as the next message arrives. Polling every
        // millisecond instead would be about 1,000 runs per thread.
        assert!(
            runs < 200,
            "{url}: the two socket threads ran {runs} times during {calls} calls in 1 s"
        );
        // Their socket threads end here, before the next transport's clients are counted.
        service.close();
        caller.close();

        // With the heartbeat off, a connection that stays quiet past the heartbeat timeout
        // gives the socket thread nothing to wake for (it used to poll every millisecond).
        let quiet = router
            .client(url, router.backend(1))
            .ping_interval(None)
            .heartbeat_timeout(PING)
            .connect()
            .unwrap();
        std::thread::sleep(PING * 2);
        let before = socket_thread_runs();
        std::thread::sleep(Duration::from_secs(1));
        let runs = runs_since(&before);
        assert!(
            runs < 20,
            "{url}: a quiet connection's socket thread ran {runs} times in 1 s"
        );
        quiet.close();
    }
}
