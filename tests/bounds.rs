//! Limits a service can rely on whatever its configuration, the router or its peers do:
//! timeouts of any size, handler threads and queues with a ceiling, a close that returns.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use izaber_wamp::protocol::Serializer;
use izaber_wamp::{CallOptions, Client, ReconnectPolicy};
use support::{Router, unique};

/// A timeout too large for `Instant::now() + timeout`.
const HUGE: Duration = Duration::MAX;

fn echo_callee(router: &Router) -> (Client, String) {
    let callee = router
        .client(&router.ws_url, router.backend(1))
        .serializer(Serializer::Cbor)
        .connect()
        .unwrap();
    let procedure = unique("bounds.echo");
    callee
        .register(&procedure, |invocation| Ok(invocation.args))
        .unwrap();
    (callee, procedure)
}

#[test]
fn huge_timeouts_mean_no_limit_at_every_entry_point() {
    let _alone = ONE_AT_A_TIME.lock();
    let router = Router::shared();
    let _log = router.log_on_failure();
    let (_callee, procedure) = echo_callee(router);
    for url in [&router.ws_url, &router.tcp_url, &router.unix_url] {
        let caller = router
            .client(url, router.backend(2))
            .timeout(HUGE)
            .connect_timeout(HUGE)
            .heartbeat_timeout(HUGE)
            .ping_interval(Some(HUGE))
            .reconnect_wait(HUGE)
            .reconnect(ReconnectPolicy::every(HUGE))
            .connect()
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        caller.wait_connected(HUGE).unwrap();
        assert_eq!(
            caller.call_as::<(i64,)>(&procedure, (1,)).unwrap(),
            (1,),
            "{url}"
        );
        let answer = caller
            .call_with(&procedure, (2,), (), &CallOptions::new().timeout(HUGE))
            .unwrap();
        assert_eq!(answer.args.len(), 1, "{url}");
        caller.publish(&unique("bounds.topic"), (3,)).unwrap();
        let started = Instant::now();
        caller.close();
        assert!(started.elapsed() < Duration::from_secs(10), "{url}");
    }
}

#[test]
fn huge_reconnect_waits_neither_panic_nor_stop_the_reconnect() {
    let _alone = ONE_AT_A_TIME.lock();
    let router = Router::private();
    let _log = router.log_on_failure();
    // Each attempt is bounded by a multiple of the connect timeout, computed on the socket
    // thread: with Duration::MAX that product overflowed, and the thread died reconnecting.
    let client = router
        .client(&router.ws_url, router.backend(1))
        .connect_timeout(HUGE)
        .reconnect(ReconnectPolicy::every(Duration::from_millis(50)))
        .connect()
        .unwrap();
    let idle = router
        .client(&router.ws_url, router.backend(2))
        .reconnect(ReconnectPolicy::every(HUGE))
        .connect()
        .unwrap();
    // A panic on the session's own thread would not reach this test: count them.
    let panics = Arc::new(AtomicUsize::new(0));
    {
        let panics = panics.clone();
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name() == Some("wamp-session") {
                panics.fetch_add(1, Ordering::SeqCst);
            }
            previous(info);
        }));
    }
    router.kill_hard();
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.is_connected() {
        assert!(Instant::now() < deadline, "the drop went unnoticed");
        std::thread::sleep(Duration::from_millis(20));
    }
    // A few failed attempts against the dead router, then it is back.
    std::thread::sleep(Duration::from_millis(300));
    router.restart();
    client
        .wait_connected(Duration::from_secs(20))
        .expect("reconnected with a connect timeout of Duration::MAX");
    client.call("auth.whoami", ()).unwrap();
    let started = Instant::now();
    idle.close();
    client.close();
    assert!(started.elapsed() < Duration::from_secs(5));
    let _ = std::panic::take_hook();
    assert_eq!(
        panics.load(Ordering::SeqCst),
        0,
        "the session thread panicked"
    );
}

#[test]
fn a_huge_timeout_in_izaber_yaml_is_no_limit() {
    let _alone = ONE_AT_A_TIME.lock();
    let router = Router::shared();
    let (_callee, procedure) = echo_callee(router);
    for timeout in ["1e19", "1e300", ".inf"] {
        let yaml = format!(
            "default:\n  wamp:\n    connection:\n      url: {}\n      realm: {}\n      \
             username: {}\n      password: {}\n      timeout: {timeout}\n      \
             sslopt:\n        ca_certs: {}\n",
            router.ws_url,
            router.realm,
            router.backend(2).username,
            router.backend(2).password,
            router.ca_file.display(),
        );
        let config = izaber_wamp::config::Config::from_yaml_str(&yaml, None).unwrap();
        let settings = config.wamp().unwrap();
        let client = izaber_wamp::ClientBuilder::from_config(&settings)
            .unwrap()
            .connect()
            .unwrap();
        let answer: (String,) = client.call_as(&procedure, (timeout,)).unwrap();
        assert_eq!(answer.0, timeout);
        client.close();
    }
}

/// Taken by the tests of this file that count handler threads, and by every test that
/// starts a client's handlers, so that the count is of one test's client alone.
static ONE_AT_A_TIME: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

/// Handler threads of this process now (Linux names them; elsewhere there is no count).
#[cfg(target_os = "linux")]
fn handler_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim() == "wamp-handler")
        .count()
}

#[test]
fn a_burst_of_calls_past_the_handler_limits_is_answered_in_full_on_that_many_threads() {
    const THREADS: usize = 4;
    const QUEUE: usize = 8;
    const CALLS: usize = 40;
    let _alone = ONE_AT_A_TIME.lock();
    // The handler threads of earlier tests' clients end once their sessions have (closing
    // retires them); wait for that, so that only this test's are counted.
    #[cfg(target_os = "linux")]
    let earlier = {
        let deadline = Instant::now() + Duration::from_secs(10);
        while handler_threads() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        handler_threads()
    };
    let router = Router::shared();
    let _log = router.log_on_failure();
    let callee = router
        .client(&router.ws_url, router.backend(1))
        .handler_threads(THREADS)
        .handler_queue(QUEUE)
        .connect()
        .unwrap();
    let procedure = unique("bounds.slow");
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    {
        let (running, most) = (running.clone(), most.clone());
        callee
            .register(&procedure, move |_| {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(600));
                running.fetch_sub(1, Ordering::SeqCst);
                Ok("done")
            })
            .unwrap();
    }
    let caller = router
        .client(&router.ws_url, router.backend(2))
        .connect()
        .unwrap();
    let barrier = Arc::new(std::sync::Barrier::new(CALLS));
    let calls: Vec<_> = (0..CALLS)
        .map(|_| {
            let (caller, procedure, barrier) = (caller.clone(), procedure.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                caller.call_as::<String>(&procedure, ())
            })
        })
        .collect();
    #[cfg(target_os = "linux")]
    let mut most_threads = 0;
    #[cfg(target_os = "linux")]
    while calls.iter().any(|call| !call.is_finished()) {
        most_threads = most_threads.max(handler_threads());
        std::thread::sleep(Duration::from_millis(5));
    }
    let (mut answered, mut refused) = (0, 0);
    for call in calls {
        match call.join().unwrap() {
            Ok(done) => {
                assert_eq!(done, "done");
                answered += 1;
            }
            Err(e) if e.wamp_uri() == Some("wamp.error.concurrency_limit") => {
                assert!(e.to_string().contains("handler_threads"), "{e}");
                refused += 1;
            }
            Err(e) => panic!("every call gets its result or a busy error, not {e}"),
        }
    }
    assert_eq!(answered + refused, CALLS);
    // The first THREADS run, QUEUE wait; the rest arrive within the 600 ms the first take.
    assert!(
        answered >= THREADS + QUEUE,
        "{answered} answered, {refused} refused"
    );
    assert!(refused > 0, "{answered} answered, {refused} refused");
    assert!(most.load(Ordering::SeqCst) <= THREADS);
    #[cfg(target_os = "linux")]
    assert!(
        most_threads <= THREADS + earlier,
        "{most_threads} handler threads ({earlier} of earlier clients)"
    );
    let stats = callee.stats();
    assert_eq!(stats.invocations_refused, refused as u64);
    assert_eq!(stats.rejected_by_queue_limit, refused as u64);
    assert_eq!(stats.invocations_answered, answered as u64);
}

#[test]
fn a_slow_subscriber_keeps_the_newest_events_and_counts_the_dropped() {
    use parking_lot::Mutex;
    const EVENTS: u64 = 300;
    let _alone = ONE_AT_A_TIME.lock();
    let router = Router::shared();
    let _log = router.log_on_failure();
    let subscriber = router
        .client(&router.ws_url, router.backend(1))
        .connect()
        .unwrap();
    let topic = unique("bounds.telemetry");
    let seen = Arc::new(Mutex::new(Vec::new()));
    {
        let seen = seen.clone();
        subscriber
            .subscribe_with(
                &topic,
                &izaber_wamp::SubscribeOptions::new().queue_limit(10),
                move |event: izaber_wamp::Event| {
                    std::thread::sleep(Duration::from_millis(10));
                    seen.lock().push(event.arg::<u64>(0).unwrap());
                },
            )
            .unwrap();
    }
    let publisher = router
        .client(&router.ws_url, router.backend(2))
        .connect()
        .unwrap();
    for n in 0..EVENTS {
        publisher.publish(&topic, (n,)).unwrap();
    }
    // An acknowledged publish after the rest: once the router has taken it, every event
    // is on its way to the subscriber.
    publisher
        .publish_with(
            &topic,
            (EVENTS,),
            (),
            &izaber_wamp::PublishOptions::new().acknowledge(true),
        )
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let stats = subscriber.stats();
        if stats.events == EVENTS + 1
            && seen.lock().len() as u64 + stats.events_dropped == EVENTS + 1
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{stats:?}, {} handled",
            seen.lock().len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let seen = seen.lock().clone();
    let dropped = subscriber.stats().events_dropped;
    assert!(
        dropped > 0,
        "a handler 10 ms slow kept up with {EVENTS} events"
    );
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "in order: {seen:?}");
    // Drop-oldest: the last events published are the ones handled.
    assert_eq!(seen.last(), Some(&EVENTS), "{seen:?}");
    assert!(seen.contains(&(EVENTS - 5)), "{seen:?}");
    assert_eq!(subscriber.stats().rejected_by_queue_limit, dropped);
}

#[test]
fn close_returns_within_its_bound_whatever_the_router_handlers_and_hooks_do() {
    let _alone = ONE_AT_A_TIME.lock();
    let router = Router::private();
    let _log = router.log_on_failure();
    let callee = router
        .client(&router.ws_url, router.backend(1))
        // A leave hook that never returns in time.
        .on_leave(|_| std::thread::sleep(Duration::from_secs(30)))
        .connect()
        .unwrap();
    let procedure = unique("bounds.endless");
    let (started_tx, started) = crossbeam_channel::bounded(1);
    callee
        .register(&procedure, move |_| {
            let _ = started_tx.send(());
            // A handler that runs past the close's wait for running handlers.
            std::thread::sleep(Duration::from_secs(30));
            Ok(())
        })
        .unwrap();
    let caller = router
        .client(&router.ws_url, router.backend(2))
        .connect()
        .unwrap();
    let call = {
        let (caller, procedure) = (caller.clone(), procedure.clone());
        std::thread::spawn(move || caller.call(&procedure, ()))
    };
    started.recv_timeout(Duration::from_secs(10)).unwrap();
    // A router that no longer answers: GOODBYE is never acknowledged.
    router.freeze();
    let started = Instant::now();
    callee.close();
    let took = started.elapsed();
    router.thaw();
    assert!(
        took <= izaber_wamp::CLOSE_TIMEOUT + Duration::from_millis(500),
        "close took {took:?}"
    );
    assert!(call.join().unwrap().is_err());
}

#[cfg(target_os = "linux")]
#[test]
fn a_closed_client_leaves_no_handler_thread_behind() {
    let _alone = ONE_AT_A_TIME.lock();
    let router = Router::shared();
    let _log = router.log_on_failure();
    let settled = |most: usize| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while handler_threads() > most && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        handler_threads()
    };
    let before = settled(0);
    let (callee, procedure) = echo_callee(router);
    let caller = router
        .client(&router.ws_url, router.backend(2))
        .connect()
        .unwrap();
    for i in 0..20 {
        caller.call(&procedure, (i,)).unwrap();
    }
    assert!(
        handler_threads() > before,
        "the callee's handlers ran on threads"
    );
    callee.close();
    caller.close();
    // An idle worker would otherwise wait 30 s for work that cannot come.
    let started = Instant::now();
    assert_eq!(settled(before), before, "handler threads left after close");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}
