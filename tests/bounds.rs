//! Limits a service can rely on whatever its configuration, the router or its peers do:
//! timeouts of any size, handler threads and queues with a ceiling, a close that returns.

mod support;

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
fn a_huge_reconnect_interval_after_a_drop_neither_panics_nor_holds_close() {
    let router = Router::private();
    let _log = router.log_on_failure();
    let client = router
        .client(&router.ws_url, router.backend(1))
        .reconnect(ReconnectPolicy::every(HUGE))
        .connect()
        .unwrap();
    router.kill_hard();
    // The socket thread computes its next attempt's time (a panic there used to leave the
    // client reconnecting for good); requests meanwhile fail as connection errors.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match client.call("auth.whoami", ()) {
            Err(e) if e.is_connection_error() => break,
            Ok(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            other => panic!("expected a connection error, got {other:?}"),
        }
    }
    let started = Instant::now();
    client.close();
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_huge_timeout_in_izaber_yaml_is_no_limit() {
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
