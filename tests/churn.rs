//! Reconnecting a hundred times leaves no threads or memory behind. In a test binary of its
//! own: thread counts and memory are per process, and other tests running alongside would
//! blur them.

mod support;

use std::time::{Duration, Instant};

use izaber_wamp::Client;
use support::Router;

const WAIT: Duration = Duration::from_secs(20);

fn builder(router: &Router, url: &str, user: usize) -> izaber_wamp::ClientBuilder {
    router
        .reconnecting_client(url, user, Duration::from_millis(50))
        .timeout(WAIT)
}

#[test]
fn a_hundred_reconnects_leave_no_threads_or_memory_behind() {
    let router = Router::private();
    let client = builder(&router, &router.ws_url, 1).connect().unwrap();
    client.register("test.alive", |_| Ok(true)).unwrap();
    client.subscribe("test.churn", |_| {}).unwrap();
    let trust = router.trust();
    let killer = Client::builder(&router.tcp_url)
        .realm(&router.realm)
        .ticket(&trust.username, trust.password.as_str())
        .connect()
        .unwrap();
    let kill_and_wait = |round: usize| {
        let session = client.session_id().expect("joined");
        // The router's meta API ends our session; the client must notice and come back.
        killer.call("wamp.session.kill", (session,)).unwrap();
        let deadline = Instant::now() + WAIT;
        while client.session_id() == Some(session) || !client.is_connected() {
            assert!(Instant::now() < deadline, "round {round}: no reconnect");
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    // Warm up: the first reconnects start the worker threads that stay.
    for round in 0..5 {
        kill_and_wait(round);
    }
    let threads_before = thread_count();
    let rss_before = rss_kib();
    for round in 0..100 {
        kill_and_wait(round);
    }
    let deadline = Instant::now() + WAIT;
    while client.call("test.alive", ()).is_err() {
        assert!(Instant::now() < deadline, "registration not restored");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(client.stats().reconnections, 105);
    assert_eq!(client.stats().restore_failures, 0);
    let threads_after = thread_count();
    let rss_after = rss_kib();
    assert!(
        threads_after <= threads_before + 2,
        "threads grew from {threads_before} to {threads_after}"
    );
    assert!(
        rss_after < rss_before + 8 * 1024,
        "memory grew from {rss_before} KiB to {rss_after} KiB"
    );
}

fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}
