//! Losing the router: pending requests fail at once, the client reconnects and restores
//! what it had. Each test crashes, restarts or freezes a router of its own.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use izaber_wamp::{CallOptions, Client, Error, PublishOptions, ReconnectPolicy};
use support::Router;

const WAIT: Duration = Duration::from_secs(20);

fn builder(router: &Router, url: &str, user: usize) -> izaber_wamp::ClientBuilder {
    router
        .reconnecting_client(url, user, Duration::from_millis(200))
        .timeout(WAIT)
}

#[test]
fn pending_calls_fail_at_once_when_the_router_dies() {
    let router = Router::private();
    let callee = builder(&router, &router.ws_url, 1).connect().unwrap();
    let caller = builder(&router, &router.tcp_url, 2).connect().unwrap();
    let (started_tx, started) = crossbeam_channel::unbounded();
    callee
        .register("test.sleepy", move |_| {
            started_tx.send(()).unwrap();
            std::thread::sleep(Duration::from_secs(30));
            Ok(())
        })
        .unwrap();
    let pending = {
        let caller = caller.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            (caller.call("test.sleepy", ()), started.elapsed())
        })
    };
    // The handler has started: the CALL is at the router, which waits for its answer, and so
    // does the caller.
    if started.recv_timeout(WAIT).is_err() {
        let outcome = pending.is_finished().then(|| pending.join().unwrap().0);
        panic!("the handler did not start within {WAIT:?} of the call; the call: {outcome:?}");
    }
    assert!(
        !pending.is_finished(),
        "the call ended while its handler ran"
    );
    let killed_at = Instant::now();
    router.kill_hard();
    let (result, _) = pending.join().unwrap();
    let error = result.unwrap_err();
    assert!(error.is_connection_error(), "{error}");
    assert!(
        killed_at.elapsed() < Duration::from_secs(3),
        "the call failed {:?} after the router died",
        killed_at.elapsed()
    );
    // While the router is down, new calls fail fast too.
    let started = Instant::now();
    assert!(
        caller
            .call("auth.whoami", ())
            .unwrap_err()
            .is_connection_error()
    );
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn registrations_and_subscriptions_come_back_after_a_restart() {
    let router = Router::private();
    let callee = builder(&router, &router.ws_url, 1).connect().unwrap();
    let caller = builder(&router, &router.unix_url, 2).connect().unwrap();
    callee
        .register("test.double", |i| Ok(i.arg::<i64>(0)? * 2))
        .unwrap();
    let events = Arc::new(AtomicUsize::new(0));
    let counter = events.clone();
    callee
        .subscribe("test.ticks", move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    let (joins_tx, joins_rx) = crossbeam_channel::unbounded();
    let observer = builder(&router, &router.tcp_url, 3)
        .on_join(move |details| {
            joins_tx
                .send(
                    details
                        .get("authid")
                        .and_then(|v| v.as_str())
                        .map(str::to_owned),
                )
                .unwrap();
        })
        .connect()
        .unwrap();
    assert_eq!(
        joins_rx.recv_timeout(WAIT).unwrap().as_deref(),
        Some("backend-3")
    );

    router.restart();

    for client in [&callee, &caller, &observer] {
        client.wait_connected(WAIT).unwrap();
    }
    assert_eq!(
        joins_rx.recv_timeout(WAIT).unwrap().as_deref(),
        Some("backend-3")
    );
    assert!(
        joins_rx.try_recv().is_err(),
        "the join hook runs once per join"
    );
    // The registration is restored by the callee's session thread right after it rejoins;
    // give it the time of a round trip.
    let deadline = Instant::now() + WAIT;
    let doubled = loop {
        match caller.call("test.double", (21,)) {
            Ok(value) => break value,
            Err(e) if Instant::now() < deadline => {
                assert!(
                    e.is_connection_error() || e.wamp_uri() == Some("wamp.error.no_such_procedure"),
                    "{e}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("registration not restored: {e}"),
        }
    };
    assert_eq!(doubled, 42i64);
    caller
        .publish_with(
            "test.ticks",
            (),
            (),
            &PublishOptions::new().acknowledge(true),
        )
        .unwrap();
    let deadline = Instant::now() + WAIT;
    while events.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(events.load(Ordering::SeqCst), 1, "subscription restored");
    assert_eq!(callee.stats().reconnections, 1);
    assert_eq!(callee.stats().restore_failures, 0);
}

#[test]
fn a_frozen_router_is_noticed_by_the_heartbeat() {
    // WebSocket probes with ping frames, RawSocket with a WAMP round trip.
    let router = Router::private();
    let urls = [router.ws_url.clone(), router.tcp_url.clone()];
    let mut watchers = Vec::new();
    for url in &urls {
        let (lost_tx, lost_rx) = crossbeam_channel::unbounded();
        let client = builder(&router, url, 1)
            .ping_interval(Some(Duration::from_millis(200)))
            .heartbeat_timeout(Duration::from_secs(1))
            .on_disconnect(move |reason| lost_tx.send(reason.to_owned()).unwrap())
            .connect()
            .unwrap();
        watchers.push((url, client, lost_rx));
    }
    // Quiet but healthy connections are not mistaken for dead ones.
    std::thread::sleep(Duration::from_secs(2));
    for (url, client, lost_rx) in &watchers {
        assert!(
            lost_rx.try_recv().is_err(),
            "{url}: dropped a healthy connection"
        );
        assert!(client.is_connected());
    }
    router.freeze();
    let frozen_at = Instant::now();
    for (url, client, lost_rx) in &watchers {
        let reason = lost_rx.recv_timeout(WAIT).expect("disconnect noticed");
        assert!(reason.contains("heartbeat"), "{url}: {reason}");
        assert!(
            frozen_at.elapsed() < Duration::from_secs(3),
            "{url}: noticed after {:?}",
            frozen_at.elapsed()
        );
        assert!(!client.is_connected());
    }
    router.thaw();
    for (url, client, _) in &watchers {
        client.wait_connected(WAIT).unwrap();
        assert_eq!(
            client.call("auth.whoami", ()).unwrap()["authid"],
            "backend-1",
            "{url}"
        );
    }
}

#[test]
fn a_client_that_may_not_reconnect_closes_for_good() {
    let router = Router::private();
    let client = builder(&router, &router.ws_url, 1)
        .reconnect(ReconnectPolicy::never())
        .connect()
        .unwrap();
    router.kill_hard();
    let deadline = Instant::now() + WAIT;
    loop {
        match client.call("auth.whoami", ()) {
            Err(e @ Error::GaveUp { .. }) => {
                assert!(!e.is_connection_error(), "{e}");
                assert!(e.to_string().contains("reconnecting is off"), "{e}");
                break;
            }
            Err(e) if e.is_connection_error() && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => panic!("expected the client to close for good, got {other:?}"),
        }
    }
}

#[test]
fn a_registration_still_held_after_a_reconnect_is_retried_until_free() {
    let router = Router::private();
    let original = builder(&router, &router.ws_url, 1)
        .reconnect(ReconnectPolicy::every(Duration::from_secs(3)))
        .connect()
        .unwrap();
    original
        .register("test.contested", |_| Ok("original"))
        .unwrap();
    // Another session takes the URI before the original client is back, as a router that
    // has not yet noticed our dead session would still hold it. On a loaded machine the
    // router can take as long to restart as the original's reconnect delay, and the original
    // may then win the URI back first: that run tests nothing, so it is set up again.
    let mut attempts = 0;
    let squatter = loop {
        attempts += 1;
        router.restart();
        let squatter = builder(&router, &router.tcp_url, 2).connect().unwrap();
        match squatter.register("test.contested", |_| Ok("squatter")) {
            Ok(_) => break squatter,
            Err(e) if e.wamp_uri() == Some("wamp.error.procedure_already_exists") => {
                assert!(
                    attempts < 5,
                    "the original won the URI back {attempts} times"
                );
                squatter.close();
                original.wait_connected(WAIT).unwrap();
            }
            Err(e) => panic!("the squatter could not register: {e}"),
        }
    };
    original.wait_connected(WAIT).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    squatter.close();
    let caller = builder(&router, &router.unix_url, 3).connect().unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        match caller.call("test.contested", ()) {
            Ok(value) if value == "original" => break,
            other => {
                assert!(Instant::now() < deadline, "never restored: {other:?}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
    assert_eq!(original.stats().restore_failures, 0);
}

#[test]
fn ten_router_crashes_lose_nothing_and_hang_nothing() {
    let router = Router::private();
    let _log = router.log_on_failure();
    let service = builder(&router, &router.ws_url, 1).connect().unwrap();
    let served = Arc::new(AtomicUsize::new(0));
    let counter = served.clone();
    service
        .register("test.work", move |i| {
            counter.fetch_add(1, Ordering::SeqCst);
            i.arg::<i64>(0)
        })
        .unwrap();
    let events = Arc::new(AtomicUsize::new(0));
    let event_counter = events.clone();
    service
        .subscribe("test.beat", move |_| {
            event_counter.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    let caller = builder(&router, &router.tcp_url, 2)
        .timeout(Duration::from_secs(5))
        .connect()
        .unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Several threads share the caller, so that requests meet both ways to the socket: written
    // by the calling thread when the connection is free, queued for the socket thread when not.
    let workers: Vec<_> = (0..4i64)
        .map(|worker| {
            let caller = caller.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let (mut ok, mut lost) = (0u32, 0u32);
                let mut i = worker * 1_000_000;
                while !stop.load(Ordering::SeqCst) {
                    i += 1;
                    let started = Instant::now();
                    match caller.call("test.work", (i,)) {
                        Ok(value) => {
                            assert_eq!(value, i);
                            ok += 1;
                        }
                        Err(e) => {
                            assert!(
                                e.is_connection_error()
                                    || e.wamp_uri() == Some("wamp.error.no_such_procedure"),
                                "call {i} failed with {e}"
                            );
                            lost += 1;
                            std::thread::sleep(Duration::from_millis(20));
                        }
                    }
                    assert!(
                        started.elapsed() < Duration::from_secs(6),
                        "call {i} hung for {:?}",
                        started.elapsed()
                    );
                    let _ = caller.publish("test.beat", (i,));
                }
                (ok, lost)
            })
        })
        .collect();
    for crash in 0..10 {
        std::thread::sleep(Duration::from_millis(400));
        router.kill_hard();
        router.restart();
        service.wait_connected(WAIT).unwrap();
        caller.wait_connected(WAIT).unwrap();
        // Calls and events flow again after every restart.
        let (served_then, events_then) =
            (served.load(Ordering::SeqCst), events.load(Ordering::SeqCst));
        let deadline = Instant::now() + WAIT;
        while served.load(Ordering::SeqCst) == served_then
            || events.load(Ordering::SeqCst) == events_then
        {
            assert!(
                Instant::now() < deadline,
                "nothing flows after crash {crash}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    stop.store(true, Ordering::SeqCst);
    let (mut ok, mut lost) = (0, 0);
    for worker in workers {
        let (worker_ok, worker_lost) = worker.join().unwrap();
        ok += worker_ok;
        lost += worker_lost;
    }
    assert!(ok > 0 && lost > 0, "ok {ok}, lost {lost}");
    assert_eq!(service.stats().reconnections, 10);
    assert_eq!(service.stats().restore_failures, 0);
}

#[test]
fn a_roster_entry_made_in_a_join_hook_is_back_after_a_reconnect() {
    let router = Router::private();
    let member = {
        let registrar: Arc<parking_lot::Mutex<Option<Client>>> = Arc::default();
        let slot = registrar.clone();
        let client = builder(&router, &router.ws_url, 1)
            .on_join(move |_| {
                if let Some(client) = slot.lock().as_ref() {
                    client
                        .roster_register("roster.test.members", "backend-1 is here")
                        .unwrap();
                }
            })
            .connect()
            .unwrap();
        *registrar.lock() = Some(client.clone());
        client
            .roster_register("roster.test.members", "backend-1 is here")
            .unwrap();
        client
    };
    let reader = builder(&router, &router.tcp_url, 2).connect().unwrap();
    assert_eq!(
        reader.roster_query("roster.test.members").unwrap(),
        izaber_wamp::protocol::Value::List(vec!["backend-1 is here".into()])
    );
    router.restart();
    member.wait_connected(WAIT).unwrap();
    reader.wait_connected(WAIT).unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        let entries = reader.roster_query("roster.test.members").unwrap();
        if entries == izaber_wamp::protocol::Value::List(vec!["backend-1 is here".into()]) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "roster entry not back: {entries}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn with_reconnect_wait_a_call_made_during_an_outage_waits_for_the_router() {
    let router = Router::private();
    let callee = builder(&router, &router.ws_url, 1).connect().unwrap();
    callee.register("test.patient", |_| Ok("served")).unwrap();
    let caller = builder(&router, &router.tcp_url, 2)
        .reconnect_wait(WAIT)
        .connect()
        .unwrap();
    router.kill_hard();
    let deadline = Instant::now() + WAIT;
    while caller.is_connected() {
        assert!(Instant::now() < deadline, "the outage went unnoticed");
        std::thread::sleep(Duration::from_millis(10));
    }
    let restarter = {
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(500));
            router.restart();
            router
        })
    };
    // Made while the router is down: waits for the reconnect (and for the callee's
    // registration to be restored) instead of failing.
    let deadline = Instant::now() + WAIT;
    let result = loop {
        match caller.call("test.patient", ()) {
            Err(e) if e.wamp_uri() == Some("wamp.error.no_such_procedure") => {
                assert!(Instant::now() < deadline);
                std::thread::sleep(Duration::from_millis(20));
            }
            other => break other,
        }
    };
    assert_eq!(result.unwrap(), "served");
    let _router = restarter.join().unwrap();
}

#[test]
fn what_a_join_hook_registers_through_another_client_comes_back_with_that_client() {
    let router = Router::private();
    let worker = builder(&router, &router.tcp_url, 2).connect().unwrap();
    let hook_worker = worker.clone();
    let (joined_tx, joined_rx) = crossbeam_channel::unbounded();
    // The control client's join hook registers on the worker; only the worker reconnects
    // below, so only the worker's own restore can bring the registration back.
    let _control = builder(&router, &router.ws_url, 1)
        .on_join(move |_| {
            let registered = hook_worker.register("test.cross_hook", |_| Ok("worked"));
            let _ = joined_tx.send(registered.map(|_| ()).map_err(|e| e.to_string()));
        })
        .connect()
        .unwrap();
    assert_eq!(joined_rx.recv_timeout(WAIT).unwrap(), Ok(()));
    let caller = builder(&router, &router.unix_url, 3).connect().unwrap();
    assert_eq!(caller.call("test.cross_hook", ()).unwrap(), "worked");

    let trust = router.trust();
    let killer = router.client(&router.tcp_url, trust).connect().unwrap();
    let session = worker.session_id().expect("joined");
    killer.call("wamp.session.kill", (session,)).unwrap();
    let deadline = Instant::now() + WAIT;
    while worker.session_id() == Some(session) || !worker.is_connected() {
        assert!(Instant::now() < deadline, "the worker did not come back");
        std::thread::sleep(Duration::from_millis(5));
    }
    let deadline = Instant::now() + WAIT;
    loop {
        match caller.call("test.cross_hook", ()) {
            Ok(value) => break assert_eq!(value, "worked"),
            Err(e) => {
                assert!(Instant::now() < deadline, "never restored: {e}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    assert!(
        joined_rx.try_recv().is_err(),
        "the control client's hook ran again"
    );
}

#[test]
fn unregistering_while_the_router_is_down_succeeds_and_sticks() {
    let router = Router::private();
    let service = builder(&router, &router.ws_url, 1).connect().unwrap();
    let dropped = service.register("test.dropped", |_| Ok("back")).unwrap();
    let kept = service.register("test.kept", |_| Ok("kept")).unwrap();
    let (tx, rx) = crossbeam_channel::unbounded();
    let dropped_tx = tx.clone();
    let unsubscribed = service
        .subscribe("test.dropped_topic", move |_| {
            dropped_tx.send("dropped").unwrap()
        })
        .unwrap();
    service
        .subscribe("test.kept_topic", move |_| tx.send("kept").unwrap())
        .unwrap();
    router.kill_hard();
    let deadline = Instant::now() + WAIT;
    while service.is_connected() {
        assert!(Instant::now() < deadline, "the outage went unnoticed");
        std::thread::sleep(Duration::from_millis(10));
    }
    // The router let go of everything with the session: nothing to wait for.
    service.unregister(dropped).unwrap();
    service.unsubscribe(unsubscribed).unwrap();
    assert!(service.unregister(dropped).is_err(), "unregistered twice");

    router.restart();
    service.wait_connected(WAIT).unwrap();
    let caller = builder(&router, &router.tcp_url, 2).connect().unwrap();
    let deadline = Instant::now() + WAIT;
    while caller.call("test.kept", ()).is_err() {
        assert!(Instant::now() < deadline, "test.kept never came back");
        std::thread::sleep(Duration::from_millis(20));
    }
    let error = caller.call("test.dropped", ()).unwrap_err();
    assert_eq!(
        error.wamp_uri(),
        Some("wamp.error.no_such_procedure"),
        "{error}"
    );
    // Once the kept subscription is back, so would be the dropped one, had it been restored.
    let deadline = Instant::now() + WAIT;
    loop {
        caller.publish("test.kept_topic", ()).unwrap();
        if rx.recv_timeout(Duration::from_millis(50)) == Ok("kept") {
            break;
        }
        assert!(Instant::now() < deadline, "test.kept_topic never came back");
    }
    caller.publish("test.dropped_topic", ()).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let seen: Vec<_> = rx.try_iter().collect();
    assert!(
        !seen.contains(&"dropped"),
        "the dropped subscription came back"
    );
    let _ = kept;
}

#[test]
fn a_running_handler_hears_that_its_connection_is_gone() {
    let router = Router::private();
    let callee = builder(&router, &router.ws_url, 1).connect().unwrap();
    let (started_tx, started_rx) = crossbeam_channel::unbounded();
    let (seen_tx, seen_rx) = crossbeam_channel::unbounded();
    callee
        .register("test.long", move |invocation| {
            started_tx.send(()).unwrap();
            let started = Instant::now();
            while !invocation.is_cancelled() && started.elapsed() < WAIT {
                std::thread::sleep(Duration::from_millis(10));
            }
            // Nor can a progressive result reach anyone now.
            let progress = invocation
                .progress(&1)
                .map_err(|e| e.wamp_uri().map(str::to_owned));
            seen_tx.send((invocation.is_cancelled(), progress)).unwrap();
            Ok(())
        })
        .unwrap();
    let caller = builder(&router, &router.tcp_url, 2).connect().unwrap();
    let pending = std::thread::spawn(move || {
        caller.call_progressive("test.long", (), (), &CallOptions::new(), |_| {})
    });
    started_rx.recv_timeout(WAIT).expect("the handler started");
    router.kill_hard();
    // Its answer can no longer reach anyone: the handler is told instead of running on.
    let (cancelled, progress) = seen_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(cancelled);
    assert_eq!(progress, Err(Some("wamp.error.canceled".to_owned())));
    assert!(pending.join().unwrap().unwrap_err().is_connection_error());
}

#[test]
fn a_join_hook_given_the_client_registers_through_it_after_every_join() {
    let router = Router::private();
    let (joined_tx, joined_rx) = crossbeam_channel::unbounded();
    let service = builder(&router, &router.ws_url, 1)
        .on_join_client(move |client, _details| {
            let registered = client.register("test.hooked_service", |_| Ok("up"));
            let _ = joined_tx.send(registered.map(|_| ()).map_err(|e| e.to_string()));
        })
        .connect()
        .unwrap();
    assert_eq!(joined_rx.recv_timeout(WAIT).unwrap(), Ok(()));
    let caller = builder(&router, &router.tcp_url, 2).connect().unwrap();
    assert_eq!(caller.call("test.hooked_service", ()).unwrap(), "up");

    router.restart();
    service.wait_connected(WAIT).unwrap();
    // Registered again by the hook, and only by it (a restore as well would collide).
    assert_eq!(joined_rx.recv_timeout(WAIT).unwrap(), Ok(()));
    caller.wait_connected(WAIT).unwrap();
    let deadline = Instant::now() + WAIT;
    while caller.call("test.hooked_service", ()).is_err() {
        assert!(
            Instant::now() < deadline,
            "the hook's registration never came back"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(service.stats().restore_failures, 0);

    // The hook does not keep the client alive.
    drop(service);
    let deadline = Instant::now() + WAIT;
    while caller.call("test.hooked_service", ()).is_ok() {
        assert!(
            Instant::now() < deadline,
            "dropping the service did not close it"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
