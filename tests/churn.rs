//! Reconnecting, connecting and failing to connect a hundred times each leave no threads,
//! file descriptors or memory behind. In a test binary of its own: thread, descriptor and
//! memory counts are per process, and other tests running alongside would blur them; the
//! tests of this file run one at a time for the same reason.
//!
//! Linux only: the counts come from /proc.
#![cfg(target_os = "linux")]

mod support;

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use izaber_wamp::{Client, ReconnectPolicy};
use support::Router;

const WAIT: Duration = Duration::from_secs(20);
/// How long the counts may take to come back down once the churn stops: a connection closed
/// a moment ago may still be ending on its threads.
const SETTLE: Duration = Duration::from_secs(5);

fn builder(router: &Router, url: &str, user: usize) -> izaber_wamp::ClientBuilder {
    router
        .reconnecting_client(url, user, Duration::from_millis(50))
        .timeout(WAIT)
}

fn one_at_a_time() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(PoisonError::into_inner)
}

#[test]
fn a_hundred_reconnects_leave_no_threads_descriptors_or_memory_behind() {
    let _turn = one_at_a_time();
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
    let before = Counts::now();
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
    before.assert_flat("after 100 reconnects");
}

#[test]
fn a_hundred_clients_connected_and_closed_leave_no_threads_descriptors_or_memory_behind() {
    let _turn = one_at_a_time();
    let router = Router::private();
    let service = builder(&router, &router.tcp_url, 1).connect().unwrap();
    service.register("test.alive", |_| Ok(true)).unwrap();
    let connect_call_close = |round: usize| {
        let client = builder(&router, &router.ws_url, 2)
            .connect()
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        client
            .call("test.alive", ())
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        client.close();
    };
    // Warm up, as above.
    for round in 0..5 {
        connect_call_close(round);
    }
    let before = Counts::now();
    for round in 0..100 {
        connect_call_close(round);
    }
    before.assert_flat("after 100 clients connected and closed");
    assert!(service.is_connected());
}

#[test]
fn a_hundred_failed_connection_attempts_leave_no_threads_or_descriptors_behind() {
    let _turn = one_at_a_time();
    let router = Router::private();
    let silent = SilentListener::start();
    // The router first, so that the client connects; then only the silent listener (which
    // takes the connection and never answers the handshake) and the dead router's refused
    // port are left to reconnect to.
    let user = router.backend(1);
    let client = Client::builder(vec![router.ws_url.clone(), silent.url.clone()])
        .realm(&router.realm)
        .ticket(&user.username, user.password.as_str())
        .connect_timeout(Duration::from_millis(50))
        .reconnect(ReconnectPolicy::every(Duration::from_millis(10)))
        .connect()
        .unwrap();
    router.kill_hard();
    let attempts_reach = |count: usize| {
        let deadline = Instant::now() + 6 * WAIT;
        while silent.accepted() < count {
            assert!(
                Instant::now() < deadline,
                "only {} attempts reached the silent listener",
                silent.accepted()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    // Warm up, as above.
    attempts_reach(5);
    let before = Counts::now();
    attempts_reach(105);
    assert!(!client.is_connected());
    before.assert_flat("after 100 failed connection attempts");
    client.close();
}

/// A loopback TCP port that accepts connections and never writes a byte, keeping only the
/// latest connection open.
struct SilentListener {
    url: String,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    address: std::net::SocketAddr,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SilentListener {
    fn start() -> SilentListener {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::spawn({
            let (accepted, stop) = (accepted.clone(), stop.clone());
            move || {
                let mut _held = None;
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    // The client gave up on the one before: drop it, so that descriptors
                    // held here do not grow with the attempts.
                    _held = stream.ok();
                    accepted.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        SilentListener {
            url: format!("ws://{address}/ws"),
            accepted,
            stop,
            address,
            thread: Some(thread),
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for SilentListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accepting thread, which then sees `stop`.
        let _ = std::net::TcpStream::connect(self.address);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What the process holds: threads, open file descriptors and resident memory.
#[derive(Clone, Copy, Debug)]
struct Counts {
    threads: usize,
    descriptors: usize,
    rss_kib: u64,
}

impl Counts {
    fn now() -> Counts {
        Counts {
            threads: std::fs::read_dir("/proc/self/task").unwrap().count(),
            descriptors: std::fs::read_dir("/proc/self/fd").unwrap().count(),
            rss_kib: rss_kib(),
        }
    }

    /// Panics unless the counts come back to these within [`SETTLE`]: two threads and two
    /// descriptors more at most (a connection being opened or closed at that moment), and
    /// 8 MiB more memory.
    fn assert_flat(self, when: &str) {
        let deadline = Instant::now() + SETTLE;
        loop {
            let now = Counts::now();
            let flat = now.threads <= self.threads + 2
                && now.descriptors <= self.descriptors + 2
                && now.rss_kib < self.rss_kib + 8 * 1024;
            if flat {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{when}: grew from {self:?} to {now:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}
