//! Losing the router: pending requests fail at once, the client reconnects and restores
//! what it had. Each test crashes, restarts or freezes a router of its own.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use izaber_wamp::protocol::Serializer;
use izaber_wamp::{Client, Error, PublishOptions, ReconnectPolicy};
use support::Router;

const WAIT: Duration = Duration::from_secs(20);

fn builder(router: &Router, url: &str, user: usize) -> izaber_wamp::ClientBuilder {
    let user = router.backend(user);
    Client::builder(url)
        .realm(&router.realm)
        .ticket(&user.username, user.password.as_str())
        .uri_base("com.izaber.wamp")
        .serializer(Serializer::Cbor)
        .timeout(WAIT)
        .reconnect(ReconnectPolicy {
            max_attempts: None,
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(500),
        })
}

#[test]
fn pending_calls_fail_at_once_when_the_router_dies() {
    let router = Router::private();
    let callee = builder(&router, &router.ws_url, 1).connect().unwrap();
    let caller = builder(&router, &router.tcp_url, 2).connect().unwrap();
    callee
        .register("test.sleepy", |_| {
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
    std::thread::sleep(Duration::from_millis(300));
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
    let router = Router::private();
    let (lost_tx, lost_rx) = crossbeam_channel::unbounded();
    let client = builder(&router, &router.ws_url, 1)
        .ping_interval(Some(Duration::from_millis(200)))
        .heartbeat_timeout(Duration::from_secs(1))
        .on_disconnect(move |reason| lost_tx.send(reason.to_owned()).unwrap())
        .connect()
        .unwrap();
    router.freeze();
    let frozen_at = Instant::now();
    let reason = lost_rx.recv_timeout(WAIT).expect("disconnect noticed");
    assert!(reason.contains("heartbeat"), "{reason}");
    assert!(
        frozen_at.elapsed() < Duration::from_secs(3),
        "noticed after {:?}",
        frozen_at.elapsed()
    );
    assert!(!client.is_connected());
    router.thaw();
    client.wait_connected(WAIT).unwrap();
    assert_eq!(
        client.call("auth.whoami", ()).unwrap()["authid"],
        "backend-1"
    );
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
            Err(Error::ConnectionLost { reason }) if reason.starts_with("closed") => break,
            Err(e) if e.is_connection_error() && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => panic!("expected the client to close for good, got {other:?}"),
        }
    }
}
