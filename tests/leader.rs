//! A call that is the only one waiting in its client reads its answer from the socket
//! itself, and so does a service's handler worker waiting for its next invocation. These
//! tests make sure that everything else still gets through while they do: what they read for
//! others, writes that must wait for room, the heartbeat, INTERRUPT, reconnects, and the news
//! that the connection is gone.

mod support;

use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use izaber_wamp::protocol::Serializer;
use izaber_wamp::{Client, ReconnectPolicy, Stats, SubscribeOptions};
use support::{Router, unique};

const WAIT: Duration = Duration::from_secs(10);

fn quiet_client(router: &Router, url: &str, user: usize) -> Client {
    router
        .client(url, router.backend(user))
        .serializer(Serializer::Cbor)
        .timeout(WAIT)
        .ping_interval(None)
        .connect()
        .unwrap()
}

/// A procedure on `callee` that answers its argument after `delay`, and the arguments of its
/// invocations, each sent as its handler starts (for [`call_in_background`]).
fn register_slow_echo(callee: &Client, delay: Duration) -> (String, Receiver<u64>) {
    let procedure = unique("slow_echo");
    let (started_tx, started) = crossbeam_channel::unbounded();
    callee
        .register(&procedure, move |invocation| {
            let n = invocation.arg::<u64>(0)?;
            // Fails only when the test does not watch the starts.
            let _ = started_tx.send(n);
            std::thread::sleep(delay);
            Ok(n)
        })
        .unwrap();
    (procedure, started)
}

/// Subscribes `service` to a new topic whose events carry a number, and returns the topic
/// and the numbers as they come.
fn subscribe_numbers(service: &Client, name: &str) -> (String, crossbeam_channel::Receiver<u64>) {
    let topic = unique(name);
    let (numbers_tx, numbers) = crossbeam_channel::unbounded();
    // These tests check that every event arrives, in order, through whichever thread reads
    // it: not the bounds, which drop the oldest waiting events once 1,024 wait (a loaded
    // machine can starve the handler that long during a flood).
    let whole = SubscribeOptions::new().queue_limit(100_000);
    service
        .subscribe_with(&topic, &whole, move |event| {
            numbers_tx.send(event.arg::<u64>(0).unwrap()).unwrap()
        })
        .unwrap();
    (topic, numbers)
}

/// Takes `count` numbers from `numbers` and checks that they are 0, 1, 2, ... in that order.
fn assert_numbers_in_order(numbers: &crossbeam_channel::Receiver<u64>, count: u64, url: &str) {
    let received: Vec<u64> = (0..count)
        .map(|_| numbers.recv_timeout(WAIT).expect("every event"))
        .collect();
    assert_eq!(
        received,
        (0..count).collect::<Vec<_>>(),
        "{url}: events in order"
    );
}

/// Calls `procedure`, a [`register_slow_echo`] whose starts come on `started`, with `n` on
/// another thread, which returns the outcome and when it came. Returns once the handler has
/// started on `n`: the CALL has reached the router, and the caller is still waiting for its
/// answer. Fails the test if the handler does not start within [`WAIT`].
fn call_in_background(
    service: &Client,
    procedure: &str,
    n: u64,
    started: &Receiver<u64>,
) -> std::thread::JoinHandle<(
    Result<izaber_wamp::protocol::Value, izaber_wamp::Error>,
    Instant,
)> {
    let call = {
        let (service, procedure) = (service.clone(), procedure.to_owned());
        std::thread::spawn(move || (service.call(&procedure, (n,)), Instant::now()))
    };
    let deadline = Instant::now() + WAIT;
    loop {
        match started.recv_timeout(Duration::from_millis(50)) {
            Ok(started) => {
                assert_eq!(started, n, "{procedure}: another call's handler started");
                break;
            }
            Err(RecvTimeoutError::Timeout) if call.is_finished() => {
                let (outcome, _) = call.join().unwrap();
                panic!("{procedure}: the call ended before its handler started: {outcome:?}");
            }
            Err(RecvTimeoutError::Timeout) => assert!(
                Instant::now() < deadline,
                "{procedure}: the handler did not start within {WAIT:?} of the call"
            ),
            Err(RecvTimeoutError::Disconnected) => panic!("{procedure}: the handler is gone"),
        }
    }
    assert!(
        !call.is_finished(),
        "{procedure}: the call ended while its handler ran"
    );
    call
}

#[test]
fn events_invocations_and_answers_for_others_arriving_during_a_call_all_get_through() {
    let router = Router::shared();
    let _log = router.log_on_failure();
    for url in [&router.ws_url, &router.tcp_url, &router.unix_url] {
        let service = quiet_client(router, url, 1);
        let other = quiet_client(router, url, 2);
        let (slow, _) = register_slow_echo(&other, Duration::from_millis(15));

        // What arrives at `service` while it waits for its own answers: events, invocations
        // of its procedure, and (on another thread, once the events are out) answers to its
        // other calls.
        let (topic, events) = subscribe_numbers(&service, "seq");
        let double = unique("double");
        service
            .register(&double, |invocation| Ok(invocation.arg::<u64>(0)? * 2))
            .unwrap();

        const EVENTS: u64 = 300;
        // One after every third event.
        const INVOCATIONS: u64 = EVENTS / 3;
        let traffic = {
            let other = other.clone();
            let (topic, double) = (topic.clone(), double.clone());
            std::thread::spawn(move || {
                for i in 0..EVENTS {
                    other.publish(&topic, (i,)).unwrap();
                    if i % 3 == 0 {
                        let doubled = other.call(&double, (i,)).unwrap();
                        assert_eq!(doubled.as_u64(), Some(i * 2));
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
            })
        };
        let mut answers = 0;
        let started = Instant::now();
        while !traffic.is_finished() && started.elapsed() < WAIT {
            assert_eq!(
                service.call(&slow, (answers,)).unwrap().as_u64(),
                Some(answers)
            );
            answers += 1;
        }
        traffic.join().unwrap();
        assert!(
            answers > 10,
            "{url}: only {answers} calls while the traffic ran"
        );

        assert_numbers_in_order(&events, EVENTS, url);
        let stats = service.stats();
        assert_eq!(
            stats.invocations, INVOCATIONS,
            "{url}: every invocation served"
        );
        // The path under test was taken: callers read their own answers among the traffic.
        assert!(stats.calls_read_by_caller > 0, "{url}: {stats:?}");

        // Several calls at once from threads of the same client: only one may read, and the
        // others' answers go through the socket thread.
        let threads: Vec<_> = (0..4u64)
            .map(|t| {
                let service = service.clone();
                let slow = slow.clone();
                std::thread::spawn(move || {
                    for i in 0..20 {
                        let n = t * 100 + i;
                        assert_eq!(service.call(&slow, (n,)).unwrap().as_u64(), Some(n));
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
    }
}

#[test]
fn a_write_waiting_for_room_is_not_held_up_by_a_call_waiting_for_its_answer() {
    // 10 MiB is more than the socket takes at once, so the socket thread must see the socket
    // become writable to finish the event; the caller waiting for its answer must give the
    // socket back for that instead of keeping it until its answer comes.
    let router = Router::shared();
    let _log = router.log_on_failure();
    let big = "y".repeat(10 << 20);
    for url in [&router.ws_url, &router.tcp_url] {
        let service = quiet_client(router, url, 1);
        let other = quiet_client(router, url, 2);
        let (slow, started) = register_slow_echo(&other, Duration::from_secs(4));
        let topic = unique("big_event");
        let (tx, rx) = crossbeam_channel::unbounded();
        other
            .subscribe(&topic, move |event| {
                tx.send(event.args[0].as_str().map(str::len)).unwrap()
            })
            .unwrap();

        let call = call_in_background(&service, &slow, 7, &started);
        let publishing = Instant::now();
        // Returns once the whole event is written.
        service.publish(&topic, (&big,)).unwrap();
        let published = Instant::now();
        assert_eq!(rx.recv_timeout(WAIT).unwrap(), Some(big.len()), "{url}");
        let (answer, answered) = call.join().unwrap();
        assert_eq!(answer.unwrap().as_u64(), Some(7), "{url}");
        assert!(
            published < answered,
            "{url}: the event took {:?}, held up until the call was answered",
            published - publishing
        );
    }
}

#[test]
fn a_call_longer_than_the_heartbeat_timeout_keeps_its_connection() {
    // While the caller reads, the router's pongs (WebSocket) and the answers to the
    // heartbeat's probing calls (RawSocket) reach the socket thread as signs of life.
    let router = Router::shared();
    let _log = router.log_on_failure();
    for url in [&router.ws_url, &router.tcp_url] {
        let other = quiet_client(router, url, 2);
        // Twice the heartbeat timeout; which is 2 s, not less, so that a router slowed down
        // by a loaded machine is not taken for a dead one.
        let (slow, _) = register_slow_echo(&other, Duration::from_millis(4000));
        let (lost_tx, lost) = crossbeam_channel::unbounded();
        let service = router
            .client(url, router.backend(1))
            .timeout(WAIT)
            .ping_interval(Some(Duration::from_millis(200)))
            .heartbeat_timeout(Duration::from_secs(2))
            .on_disconnect(move |reason| lost_tx.send(reason.to_owned()).unwrap())
            .connect()
            .unwrap();
        assert_eq!(
            service.call(&slow, (3,)).unwrap().as_u64(),
            Some(3),
            "{url}"
        );
        assert!(
            lost.try_recv().is_err(),
            "{url}: dropped a healthy connection"
        );
    }
}

#[test]
fn a_call_waiting_on_a_frozen_router_fails_once_the_heartbeat_gives_up() {
    // The socket thread decides the connection is dead and must tell the caller reading it,
    // which would otherwise wait for its answer until its own timeout.
    let router = Router::private();
    let _log = router.log_on_failure();
    for url in [&router.ws_url, &router.tcp_url] {
        let other = quiet_client(&router, url, 2);
        let (slow, started) = register_slow_echo(&other, Duration::from_secs(30));
        let service = router
            .client(url, router.backend(1))
            .timeout(Duration::from_secs(20))
            .ping_interval(Some(Duration::from_millis(200)))
            .heartbeat_timeout(Duration::from_secs(1))
            .reconnect(ReconnectPolicy::every(Duration::from_millis(200)))
            .connect()
            .unwrap();
        let call = call_in_background(&service, &slow, 1, &started);
        router.freeze();
        let frozen_at = Instant::now();
        let error = call.join().unwrap().0.unwrap_err();
        let failed_after = frozen_at.elapsed();
        router.thaw();
        assert!(error.is_connection_error(), "{url}: {error}");
        assert!(
            error.to_string().contains("heartbeat"),
            "{url}: the error says why: {error}"
        );
        assert!(
            failed_after < Duration::from_secs(4),
            "{url}: the call failed {failed_after:?} after the router froze"
        );
        service.wait_connected(WAIT).unwrap();
        drop(other);
    }
}

#[test]
fn closing_the_client_fails_a_call_waiting_for_its_answer_at_once() {
    let router = Router::shared();
    let _log = router.log_on_failure();
    for url in [&router.ws_url, &router.unix_url] {
        let other = quiet_client(router, url, 2);
        let (slow, started) = register_slow_echo(&other, Duration::from_secs(30));
        let service = quiet_client(router, url, 1);
        let call = call_in_background(&service, &slow, 1, &started);
        let closing = Instant::now();
        service.close();
        let error = call.join().unwrap().0.unwrap_err();
        assert!(
            matches!(error, izaber_wamp::Error::Closed),
            "{url}: {error}"
        );
        // Well under the 2 s that close waits at most for the router's GOODBYE, which it
        // must still see although the caller had taken the socket.
        assert!(
            closing.elapsed() < Duration::from_millis(1500),
            "{url}: close and the call's failure took {:?}",
            closing.elapsed()
        );
    }
}

#[test]
fn a_flood_of_events_during_calls_arrives_whole_and_in_order() {
    // Events come faster than one at a time: the caller reading the socket leaves them to
    // the socket thread in batches, and steps aside when the socket thread falls behind.
    // With a registration, an idle handler worker also reads between the calls: it once
    // waited for bytes that had come already (the socket thread's poll had been told, and
    // taking the socket out of it forgot that), and the last events of a flood stayed
    // unread (2 runs in 6 here).
    let router = Router::shared();
    let _log = router.log_on_failure();
    let transports = [&router.tcp_url, &router.unix_url];
    for (url, idle_reader) in transports
        .iter()
        .flat_map(|url| [(url, false), (url, true)])
    {
        let service = quiet_client(router, url, 1);
        let other = quiet_client(router, url, 2);
        let (slow, _) = register_slow_echo(&other, Duration::from_millis(1));
        if idle_reader {
            service
                .register(&unique("idle_reader"), |_| Ok(()))
                .unwrap();
        }
        let (topic, events) = subscribe_numbers(&service, "flood");
        const EVENTS: u64 = 20_000;
        let flood = {
            let other = other.clone();
            let topic = topic.clone();
            std::thread::spawn(move || {
                for i in 0..EVENTS {
                    other.publish(&topic, (i,)).unwrap();
                }
            })
        };
        let mut calls = 0;
        while !flood.is_finished() {
            assert_eq!(service.call(&slow, (calls,)).unwrap().as_u64(), Some(calls));
            calls += 1;
        }
        flood.join().unwrap();
        assert_numbers_in_order(&events, EVENTS, url);
        assert!(calls > 0, "{url}");
    }
}

/// Waits until `service` has answered every invocation it received, and returns its stats
/// then. An answer is counted just after it is written, so perhaps after the caller has it,
/// and just before the handler worker that wrote it is free for the next invocation.
fn wait_until_all_answered(service: &Client, url: &str) -> Stats {
    let deadline = Instant::now() + WAIT;
    loop {
        let stats = service.stats();
        if stats.invocations_answered == stats.invocations {
            return stats;
        }
        assert!(
            Instant::now() < deadline,
            "{url}: {} of {} invocations answered after {WAIT:?}",
            stats.invocations_answered,
            stats.invocations
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Registers a procedure on `service` that doubles its argument, and makes a first call, so
/// that a handler worker exists; returns once that worker has answered it and is free. Idle,
/// it then reads the connection for the next invocation; that it does is not visible in
/// [`Stats`], so what this waits for is only that the worker is free.
fn register_double_and_warm_up(service: &Client, caller: &Client, url: &str) -> String {
    let double = unique("double");
    service
        .register(&double, |invocation| Ok(invocation.arg::<u64>(0)? * 2))
        .unwrap();
    let before = service.stats().invocations;
    assert_eq!(caller.call(&double, (1,)).unwrap().as_u64(), Some(2));
    let stats = wait_until_all_answered(service, url);
    assert_eq!(
        stats.invocations,
        before + 1,
        "{url}: the warm-up was the only invocation"
    );
    double
}

#[test]
fn a_service_whose_idle_worker_reads_gets_every_invocation_and_event_in_order() {
    let router = Router::shared();
    let _log = router.log_on_failure();
    for url in [&router.ws_url, &router.tcp_url, &router.unix_url] {
        let service = quiet_client(router, url, 1);
        let other = quiet_client(router, url, 2);
        let (topic, events) = subscribe_numbers(&service, "service_seq");
        let double = register_double_and_warm_up(&service, &other, url);
        // A handler that calls back through its own client: the worker must not be reading
        // the connection then, or its answer would never come.
        let nested = unique("nested");
        {
            let (service_for_handler, double) = (service.clone(), double.clone());
            service
                .register(&nested, move |invocation| {
                    let n = invocation.arg::<u64>(0)?;
                    let doubled = service_for_handler
                        .call(&double, (n,))
                        .map_err(|e| izaber_wamp::CallError::failure(&e))?;
                    Ok(doubled.as_u64().unwrap_or(0) + 1)
                })
                .unwrap();
        }

        const EVENTS: u64 = 300;
        for i in 0..EVENTS {
            // Runs of invocations alone (read by the idle worker) between events (which
            // make it hand the connection back).
            if i % 3 == 0 {
                other.publish(&topic, (i,)).unwrap();
            } else {
                other.publish(&topic, (i,)).unwrap();
                assert_eq!(other.call(&double, (i,)).unwrap().as_u64(), Some(2 * i));
                assert_eq!(
                    other.call(&double, (i + 1,)).unwrap().as_u64(),
                    Some(2 * i + 2)
                );
            }
            if i % 50 == 0 {
                assert_eq!(other.call(&nested, (i,)).unwrap().as_u64(), Some(2 * i + 1));
            }
        }
        assert_numbers_in_order(&events, EVENTS, url);
        let stats = wait_until_all_answered(&service, url);
        assert_eq!(stats.invocations, 1 + 2 * 200 + 6 * 2, "{url}");
        // The path under test was taken: idle workers read invocations themselves.
        assert!(stats.invocations_read_by_worker > 0, "{url}: {stats:?}");
    }
}

/// A subscriber whose handler thread is idle reads the next event itself and runs it: every
/// event arrives, in order, whether its worker or the socket thread read it, through paced
/// events (read by the worker), bursts (the handler busy: the socket thread queues them
/// behind it), and a handler that calls back through its own client.
#[test]
fn a_subscriber_whose_idle_worker_reads_gets_every_event_in_order() {
    let router = Router::shared();
    let _log = router.log_on_failure();
    for url in [&router.ws_url, &router.tcp_url, &router.unix_url] {
        let subscriber = quiet_client(router, url, 1);
        let publisher = quiet_client(router, url, 2);
        let echo = unique("echo");
        publisher
            .register(&echo, |invocation| invocation.arg::<u64>(0))
            .unwrap();
        let topic = unique("paced");
        let (numbers_tx, numbers) = crossbeam_channel::unbounded();
        let whole = SubscribeOptions::new().queue_limit(100_000);
        {
            let (subscriber_in_handler, echo) = (subscriber.clone(), echo.clone());
            subscriber
                .subscribe_with(&topic, &whole, move |event| {
                    let n = event.arg::<u64>(0).unwrap();
                    if n % 40 == 0 {
                        // A nested call from the handler: the worker is not reading now.
                        let echoed = subscriber_in_handler.call(&echo, (n,)).unwrap();
                        assert_eq!(echoed.as_u64(), Some(n));
                    }
                    if n % 250 == 1 {
                        // A slow one: what comes meanwhile waits behind it.
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    numbers_tx.send(n).unwrap();
                })
                .unwrap();
        }
        const EVENTS: u64 = 1_000;
        for i in 0..EVENTS {
            publisher.publish(&topic, (i,)).unwrap();
            if i % 100 < 60 {
                // Paced, slower than the handler: its worker goes back to reading. The
                // rest in bursts.
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        assert_numbers_in_order(&numbers, EVENTS, url);
        let stats = subscriber.stats();
        assert_eq!(stats.events, EVENTS, "{url}: {stats:?}");
        assert_eq!(stats.events_dropped, 0, "{url}: {stats:?}");
        // The path under test was taken, and not only it. Over TCP, Crossbar leaves Nagle's
        // algorithm on, and events come in batches whose timing decides who reads them.
        if url != &router.tcp_url {
            assert!(stats.events_read_by_worker > 0, "{url}: {stats:?}");
        }
        assert!(stats.events_read_by_worker < EVENTS, "{url}: {stats:?}");
    }
}

/// Events of two subscriptions in bursts: the worker that runs the first event of a read
/// hands out those that came with it, each subscription's in order.
#[test]
fn two_subscriptions_whose_events_an_idle_worker_reads_each_get_theirs_in_order() {
    let router = Router::shared();
    let _log = router.log_on_failure();
    for url in [&router.ws_url, &router.tcp_url, &router.unix_url] {
        let subscriber = quiet_client(router, url, 1);
        let publisher = quiet_client(router, url, 2);
        let (first, first_numbers) = subscribe_numbers(&subscriber, "first");
        let (second, second_numbers) = subscribe_numbers(&subscriber, "second");
        const EVENTS: u64 = 1_000;
        for i in 0..EVENTS {
            publisher.publish(&first, (i,)).unwrap();
            publisher.publish(&second, (i,)).unwrap();
            if i % 50 == 49 {
                // Each burst ends with both handlers idle, so the next starts on a worker
                // that reads.
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        assert_numbers_in_order(&first_numbers, EVENTS, url);
        assert_numbers_in_order(&second_numbers, EVENTS, url);
        let stats = subscriber.stats();
        assert_eq!(stats.events, 2 * EVENTS, "{url}: {stats:?}");
        assert_eq!(stats.events_dropped, 0, "{url}: {stats:?}");
        if url != &router.tcp_url {
            // Over TCP, Crossbar's Nagle decides how events come, and so who reads them.
            assert!(stats.events_read_by_worker > 0, "{url}: {stats:?}");
        }
    }
}

#[test]
fn an_invocation_read_by_an_idle_worker_can_be_interrupted() {
    let router = Router::shared();
    let _log = router.log_on_failure();
    for url in [&router.ws_url, &router.tcp_url, &router.unix_url] {
        let service = quiet_client(router, url, 1);
        let other = quiet_client(router, url, 2);
        let slow = unique("interruptible");
        let (cancelled_tx, cancelled) = crossbeam_channel::unbounded();
        service
            .register(&slow, move |invocation| {
                let started = Instant::now();
                while !invocation.is_cancelled() && started.elapsed() < WAIT {
                    std::thread::sleep(Duration::from_millis(5));
                }
                cancelled_tx.send(invocation.is_cancelled()).unwrap();
                Ok(())
            })
            .unwrap();
        register_double_and_warm_up(&service, &other, url);
        for _ in 0..3 {
            let error = other
                .call_with(
                    &slow,
                    (),
                    (),
                    &izaber_wamp::CallOptions::new()
                        .timeout(Duration::from_millis(200))
                        .cancel_mode(izaber_wamp::CancelMode::Kill),
                )
                .unwrap_err();
            assert!(
                matches!(error, izaber_wamp::Error::Timeout { .. }),
                "{url}: {error}"
            );
            assert!(
                cancelled.recv_timeout(WAIT).unwrap(),
                "{url}: the handler saw the INTERRUPT"
            );
            // Its answer, the ERROR the INTERRUPT asks for, written: the worker is free to
            // read for the next invocation.
            wait_until_all_answered(&service, url);
        }
        assert_eq!(service.stats().invocations, 1 + 3, "{url}");
    }
}

#[test]
fn closing_a_service_whose_idle_worker_reads_is_quick() {
    let router = Router::shared();
    let _log = router.log_on_failure();
    for url in [&router.ws_url, &router.tcp_url, &router.unix_url] {
        let service = quiet_client(router, url, 1);
        let other = quiet_client(router, url, 2);
        let double = register_double_and_warm_up(&service, &other, url);
        let closing = Instant::now();
        service.close();
        // The worker reading the connection must let go of it at once: well under the 2 s
        // close waits at most for the router's GOODBYE.
        assert!(
            closing.elapsed() < Duration::from_millis(1500),
            "{url}: close took {:?}",
            closing.elapsed()
        );
        let error = other.call(&double, (1,)).unwrap_err();
        assert_eq!(
            error.wamp_uri(),
            Some("wamp.error.no_such_procedure"),
            "{url}"
        );
    }
}

#[test]
fn a_service_whose_idle_worker_reads_serves_again_after_the_router_restarts() {
    let router = Router::private();
    let _log = router.log_on_failure();
    let reconnecting = |url: &str, user| {
        router
            .reconnecting_client(url, user, Duration::from_millis(200))
            .timeout(WAIT)
            .ping_interval(None)
            .connect()
            .unwrap()
    };
    let service = reconnecting(&router.unix_url, 1);
    let caller = reconnecting(&router.tcp_url, 2);
    let double = register_double_and_warm_up(&service, &caller, &router.unix_url);

    router.restart();
    service.wait_connected(WAIT).unwrap();
    caller.wait_connected(WAIT).unwrap();
    let deadline = Instant::now() + WAIT;
    let mut served = 0;
    while served < 20 {
        match caller.call(&double, (served,)) {
            Ok(value) => {
                assert_eq!(value.as_u64(), Some(2 * served));
                served += 1;
            }
            Err(e) if Instant::now() < deadline => {
                assert!(
                    e.is_connection_error() || e.wamp_uri() == Some("wamp.error.no_such_procedure"),
                    "{e}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("not served after the restart: {e}"),
        }
    }
    let stats = service.stats();
    assert_eq!(stats.reconnections, 1);
    // Served after the restart by workers reading the new connection too, not only before.
    assert!(stats.invocations_read_by_worker > 1, "{stats:?}");
}
