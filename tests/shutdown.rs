//! Stopping a service loses nothing: `Client::shutdown` withdraws the registrations, serves
//! what the router routed before, and says what became of everything in hand.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use izaber_wamp::{Client, RegisterOptions};
use support::{Router, unique};

fn service(router: &Router, backend: usize, procedure: &str, served: Arc<AtomicUsize>) -> Client {
    let client = router
        .client(&router.ws_url, router.backend(backend))
        .connect()
        .unwrap();
    client
        .register_with(
            procedure,
            &RegisterOptions::new().invoke(izaber_wamp::Invoke::RoundRobin),
            move |_| {
                std::thread::sleep(Duration::from_millis(200));
                served.fetch_add(1, Ordering::SeqCst);
                Ok(backend)
            },
        )
        .unwrap();
    client
}

#[test]
fn a_callee_that_shuts_down_under_load_loses_no_call() {
    let router = Router::shared();
    let _log = router.log_on_failure();
    let procedure = unique("shutdown.shared");
    let (served_a, served_b) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let a = service(router, 1, &procedure, served_a.clone());
    let b = service(router, 2, &procedure, served_b.clone());
    let caller = router
        .client(&router.ws_url, router.backend(3))
        .connect()
        .unwrap();
    // Calls keep coming, four at a time, while A shuts down.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let callers: Vec<_> = (0..4)
        .map(|_| {
            let (caller, procedure, stop) = (caller.clone(), procedure.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut results = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    results.push(caller.call_as::<usize>(&procedure, ()));
                }
                results
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while served_a.load(Ordering::SeqCst) < 3 || served_b.load(Ordering::SeqCst) < 3 {
        assert!(Instant::now() < deadline, "both callees serve");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Mid-way through the 200 ms handlers, so that A has calls in hand (the four callers
    // call in step, so just after one finishes A may have none).
    std::thread::sleep(Duration::from_millis(100));
    let report = a.shutdown(Duration::from_secs(5));
    let served_by_a = served_a.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::SeqCst);
    let results: Vec<_> = callers
        .into_iter()
        .flat_map(|caller| caller.join().unwrap())
        .collect();
    let failed: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(
        failed.is_empty(),
        "{} calls failed: {failed:?}",
        failed.len()
    );
    assert!(report.lost_nothing(), "{report}");
    assert_eq!(report.withdrawn, 1, "{report}");
    assert!(
        report.answered >= 1,
        "A was serving when it shut down: {report}"
    );
    assert!(report.elapsed < Duration::from_secs(2), "{report}");
    // Nothing reached A after it shut down; B took the rest.
    assert_eq!(served_a.load(Ordering::SeqCst), served_by_a);
    assert!(results.iter().flatten().any(|&backend| backend == 2));
    b.close();
}

#[test]
fn at_the_end_of_the_grace_waiting_calls_are_cancelled_and_running_ones_cut_off() {
    let router = Router::shared();
    let _log = router.log_on_failure();
    let procedure = unique("shutdown.slow");
    let callee = router
        .client(&router.ws_url, router.backend(1))
        .handler_threads(1)
        .connect()
        .unwrap();
    let (started_tx, started) = crossbeam_channel::unbounded();
    callee
        .register(&procedure, move |invocation| {
            let _ = started_tx.send(());
            let until = Instant::now() + Duration::from_secs(3);
            while Instant::now() < until && !invocation.is_cancelled() {
                std::thread::sleep(Duration::from_millis(10));
            }
            Ok("late")
        })
        .unwrap();
    let caller = router
        .client(&router.ws_url, router.backend(2))
        .connect()
        .unwrap();
    let calls: Vec<_> = (0..3)
        .map(|_| {
            let (caller, procedure) = (caller.clone(), procedure.clone());
            std::thread::spawn(move || caller.call(&procedure, ()))
        })
        .collect();
    started.recv_timeout(Duration::from_secs(10)).unwrap();
    // The other two wait for the one handler thread.
    let deadline = Instant::now() + Duration::from_secs(10);
    while callee.stats().invocations < 3 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    }
    let report = callee.shutdown(Duration::from_millis(300));
    assert_eq!(report.cancelled, 2, "{report}");
    assert_eq!(report.cut_off, 1, "{report}");
    assert_eq!(report.answered, 0, "{report}");
    assert!(!report.lost_nothing());
    assert!(
        report.elapsed >= Duration::from_millis(300) && report.elapsed < Duration::from_secs(2),
        "{report}"
    );
    let errors: Vec<_> = calls
        .into_iter()
        .map(|call| call.join().unwrap().unwrap_err())
        .collect();
    let cancelled = errors
        .iter()
        .filter(|e| e.to_string().contains("shutting down"))
        .count();
    assert_eq!(cancelled, 2, "{errors:?}");
    assert!(
        errors.iter().all(|e| e
            .wamp_uri()
            .is_some_and(|uri| uri.starts_with("wamp.error."))),
        "{errors:?}"
    );
}

#[test]
fn shutdown_after_close_returns_an_empty_report_at_once() {
    let router = Router::shared();
    let client = router
        .client(&router.ws_url, router.backend(1))
        .connect()
        .unwrap();
    client.close();
    let started = Instant::now();
    let report = client.shutdown(Duration::from_secs(30));
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(report, izaber_wamp::ShutdownReport::default());
}

/// A client of `first`, with `second` as the next URL of its list, and the reasons its
/// disconnect hooks were given.
fn on_two_routers(
    first: &Router,
    second: &Router,
) -> (Client, Arc<parking_lot::Mutex<Vec<String>>>) {
    let user = first.backend(1);
    let reasons = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let heard = reasons.clone();
    let client = Client::builder(vec![first.ws_url.clone(), second.ws_url.clone()])
        .realm(&first.realm)
        .uri_base("com.izaber.wamp")
        .ticket(&user.username, user.password.as_str())
        .on_disconnect(move |reason| heard.lock().push(reason.to_owned()))
        .connect()
        .unwrap();
    (client, reasons)
}

#[test]
fn a_router_that_shuts_down_cleanly_sends_its_clients_to_the_next_one_at_once() {
    let (first, second) = (Router::private(), Router::private());
    let _logs = (first.log_on_failure(), second.log_on_failure());
    let (client, reasons) = on_two_routers(&first, &second);
    let procedure = unique("shutdown.moves");
    client.register(&procedure, |_| Ok("here")).unwrap();
    // The router's own clean stop (SIGTERM), not a kill.
    let stopped = Instant::now();
    first.stop();
    let caller = second
        .client(&second.ws_url, second.backend(2))
        .connect()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match caller.call(&procedure, ()) {
            Ok(answer) => {
                assert_eq!(answer, "here");
                break;
            }
            Err(e) => {
                assert!(
                    Instant::now() < deadline,
                    "never served on the second router: {e}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    // Crossbar stopped by SIGTERM closes its connections without a GOODBYE; the client
    // takes that as the connection lost, and goes on to the next router at once.
    assert_eq!(reasons.lock().len(), 1, "{:?}", reasons.lock());
    assert!(stopped.elapsed() < Duration::from_secs(10));
    client.close();
}

#[test]
fn a_router_goodbye_for_a_shutdown_moves_the_client_to_the_next_router_at_once() {
    let (first, second) = (Router::private(), Router::private());
    let _logs = (first.log_on_failure(), second.log_on_failure());
    let (client, reasons) = on_two_routers(&first, &second);
    let procedure = unique("shutdown.goodbye");
    client.register(&procedure, |_| Ok("here")).unwrap();
    let session = client.session_id().unwrap();
    let caller = second
        .client(&second.ws_url, second.backend(2))
        .connect()
        .unwrap();
    // What a router going down on purpose says to its sessions.
    let admin = first
        .client(&first.ws_url, first.trust())
        .connect()
        .unwrap();
    let said = Instant::now();
    admin
        .call_kw(
            "wamp.session.kill",
            (session,),
            serde_json::json!({
                "reason": "wamp.close.system_shutdown",
                "message": "the router is going down",
            }),
        )
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while caller.call(&procedure, ()).is_err() {
        assert!(
            Instant::now() < deadline,
            "never served on the second router"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let moved = said.elapsed();
    let reasons = reasons.lock().clone();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("wamp.close.system_shutdown")),
        "{reasons:?}"
    );
    // At once: the first attempt comes within a quarter of the reconnect interval (0.5 s),
    // where a router that went silent would be given up only after the heartbeat timeout
    // (10 s).
    assert!(moved < Duration::from_secs(5), "{moved:?}");
    client.close();
}

#[test]
fn shutdown_waits_for_acknowledged_publications_and_reports_those_left() {
    let router = Router::private();
    let _log = router.log_on_failure();
    let publisher = router
        .client(&router.ws_url, router.backend(1))
        .timeout(Duration::from_secs(30))
        .connect()
        .unwrap();
    // A router that takes the publication and never answers: it stays unacknowledged.
    router.freeze();
    let publishing = {
        let publisher = publisher.clone();
        std::thread::spawn(move || {
            publisher.publish_with(
                &unique("shutdown.topic"),
                (1,),
                (),
                &izaber_wamp::PublishOptions::new().acknowledge(true),
            )
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while publisher.stats().publications < 1 {
        assert!(Instant::now() < deadline, "never published");
        std::thread::sleep(Duration::from_millis(5));
    }
    let report = publisher.shutdown(Duration::from_millis(300));
    router.thaw();
    assert_eq!(report.unacknowledged_publications, 1, "{report}");
    assert!(!report.lost_nothing());
    assert!(
        report.elapsed >= Duration::from_millis(300),
        "it waited for the acknowledgement: {report}"
    );
    assert!(publishing.join().unwrap().is_err());
}
