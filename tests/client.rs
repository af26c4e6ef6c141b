//! The core client against a real Crossbar router with Nexus's behaviour.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use izaber_wamp::protocol::{Serializer, Value};
use izaber_wamp::{
    CallError, CallOptions, CancelMode, Client, Error, Match, PublishOptions, RegisterOptions,
    SubscribeOptions,
};
use support::{Router, User, unique};

const WAIT: Duration = Duration::from_secs(10);

fn connect(router: &Router, url: &str, user: &User, serializer: Serializer) -> Client {
    router
        .client(url, user)
        .serializer(serializer)
        .timeout(WAIT)
        .connect()
        .unwrap_or_else(|e| panic!("connecting to {url} with {serializer}: {e}"))
}

fn backend(router: &Router) -> Client {
    connect(router, &router.ws_url, router.backend(1), Serializer::Cbor)
}

#[test]
fn every_transport_and_serializer_calls_registers_and_publishes() {
    let router = Router::shared();
    let _log = router.log_on_failure();
    let urls = [
        &router.ws_url,
        &router.wss_url,
        &router.tcp_url,
        &router.tcps_url,
        &router.unix_url,
    ];
    for url in urls {
        for serializer in [Serializer::Json, Serializer::MsgPack, Serializer::Cbor] {
            let callee = connect(router, url, router.backend(1), serializer);
            let caller = connect(router, url, router.backend(2), serializer);
            assert_eq!(caller.serializer(), serializer);
            let procedure = unique("echo");
            callee
                .register(&procedure, |invocation| Ok(invocation.args))
                .unwrap();
            let payload = (
                "text",
                -5_000_000_000i64,
                2.5,
                Value::Bytes(vec![0, 1, 255]),
                (),
            );
            let echoed = caller.call(&procedure, payload).unwrap();
            assert_eq!(
                echoed,
                Value::List(vec![
                    Value::from("text"),
                    Value::from(-5_000_000_000i64),
                    Value::Float(2.5),
                    Value::Bytes(vec![0, 1, 255]),
                    Value::Null,
                ]),
                "{url} {serializer}"
            );

            let topic = unique("topic");
            let (tx, rx) = crossbeam_channel::unbounded();
            callee
                .subscribe(&topic, move |event| tx.send(event).unwrap())
                .unwrap();
            caller
                .publish_with(
                    &topic,
                    ("hello",),
                    serde_json::json!({"n": 1}),
                    &PublishOptions::new().acknowledge(true),
                )
                .unwrap();
            let event = rx.recv_timeout(WAIT).expect("event delivered");
            assert_eq!(event.args, vec![Value::from("hello")]);
            assert_eq!(event.kwargs["n"], 1i64);
            assert_eq!(event.topic, format!("com.izaber.wamp.{topic}"));
            callee.close();
            caller.close();
        }
    }
}

#[test]
fn whoami_answers_with_the_logged_in_user() {
    let router = Router::shared();
    let client = backend(router);
    let me = client.call("auth.whoami", ()).unwrap();
    assert_eq!(me["authid"], "backend-1");
    assert_eq!(me["role"], "backend");
    assert_eq!(client.authrole().as_deref(), Some("backend"));
    // A full URI is used as it is, not prefixed twice.
    assert_eq!(client.call("com.izaber.wamp.auth.whoami", ()).unwrap(), me);
}

#[test]
fn a_prefix_registration_sees_the_procedure_actually_called() {
    let router = Router::shared();
    let callee = backend(router);
    let caller = connect(router, &router.ws_url, router.backend(2), Serializer::Json);
    let base = unique("prefix");
    callee
        .register_with(
            &base,
            &RegisterOptions::new().match_policy(Match::Prefix),
            |invocation| Ok(invocation.procedure),
        )
        .unwrap();
    let called = caller.call(&format!("{base}.deeper.still"), ()).unwrap();
    assert_eq!(
        called,
        format!("com.izaber.wamp.{base}.deeper.still").as_str()
    );
}

#[test]
fn a_wildcard_subscription_sees_the_topic_actually_published() {
    let router = Router::shared();
    let subscriber = backend(router);
    let publisher = connect(
        router,
        &router.tcp_url,
        router.backend(2),
        Serializer::MsgPack,
    );
    let base = unique("wild");
    let (tx, rx) = crossbeam_channel::unbounded();
    subscriber
        .subscribe_with(
            &format!("{base}..status"),
            &SubscribeOptions::new().match_policy(Match::Wildcard),
            move |event| tx.send(event.topic).unwrap(),
        )
        .unwrap();
    publisher
        .publish_with(
            &format!("{base}.motor7.status"),
            ((),),
            (),
            &PublishOptions::new().acknowledge(true),
        )
        .unwrap();
    assert_eq!(
        rx.recv_timeout(WAIT).unwrap(),
        format!("com.izaber.wamp.{base}.motor7.status")
    );
}

#[test]
fn fifty_threads_share_one_client() {
    let router = Router::shared();
    let callee = backend(router);
    let procedure = unique("add");
    callee
        .register(&procedure, |invocation| {
            Ok(invocation.arg::<i64>(0)? + invocation.arg::<i64>(1)?)
        })
        .unwrap();
    let caller = connect(router, &router.tcp_url, router.backend(2), Serializer::Cbor);
    let threads: Vec<_> = (0..50i64)
        .map(|t| {
            let caller = caller.clone();
            let procedure = procedure.clone();
            std::thread::spawn(move || {
                for i in 0..200i64 {
                    let sum = caller.call(&procedure, (t, i)).unwrap();
                    assert_eq!(sum, t + i, "thread {t} call {i}");
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert!(caller.stats().calls >= 10_000);
}

#[test]
fn a_handler_can_call_through_the_same_client() {
    let router = Router::shared();
    let client = backend(router);
    let inner = unique("inner");
    let outer = unique("outer");
    client
        .register(&inner, |invocation| Ok(invocation.arg::<i64>(0)? * 2))
        .unwrap();
    let nested = client.clone();
    let inner_uri = inner.clone();
    client
        .register(&outer, move |invocation| {
            let x: i64 = invocation.arg(0)?;
            Ok(nested.call(&inner_uri, (x,))?.as_i64().unwrap_or(0) + 1)
        })
        .unwrap();
    assert_eq!(client.call(&outer, (20,)).unwrap(), 41i64);
}

#[test]
fn a_panicking_handler_fails_its_call_and_the_client_keeps_working() {
    let router = Router::shared();
    let callee = backend(router);
    let caller = connect(router, &router.ws_url, router.backend(2), Serializer::Json);
    let procedure = unique("panics");
    callee
        .register(&procedure, |invocation| {
            if invocation.arg::<bool>(0)? {
                panic!("boom");
            }
            Ok("fine")
        })
        .unwrap();
    let error = caller.call(&procedure, (true,)).unwrap_err();
    let Error::Wamp(error) = error else {
        panic!("expected a WAMP error, got {error}")
    };
    assert_eq!(error.uri, "com.izaber.wamp.error.invoke.failure");
    assert!(error.message().unwrap().contains("boom"), "{error}");
    assert_eq!(caller.call(&procedure, (false,)).unwrap(), "fine");
}

#[test]
fn handler_errors_reach_the_caller_with_uri_and_arguments() {
    let router = Router::shared();
    let callee = backend(router);
    let caller = connect(
        router,
        &router.ws_url,
        router.backend(2),
        Serializer::MsgPack,
    );
    let procedure = unique("fails");
    callee
        .register(&procedure, |invocation| -> Result<(), CallError> {
            match invocation.arg::<String>(0)?.as_str() {
                "custom" => Err(CallError::new("com.example.error.widget", "no such widget")),
                _ => Err("x".parse::<i32>().unwrap_err().into()),
            }
        })
        .unwrap();
    let error = caller.call(&procedure, ("custom",)).unwrap_err();
    assert_eq!(error.wamp_uri(), Some("com.example.error.widget"));
    assert!(error.to_string().contains("no such widget"));
    let error = caller.call(&procedure, ("other",)).unwrap_err();
    let Error::Wamp(error) = error else {
        panic!("expected a WAMP error")
    };
    assert_eq!(error.uri, "com.izaber.wamp.error.invoke.failure");
    assert_eq!(
        error.message(),
        Some("Call failed: invalid digit found in string")
    );
    // Bad arguments are the caller's fault and say which argument.
    let error = caller.call(&procedure, (5,)).unwrap_err();
    assert_eq!(error.wamp_uri(), Some("wamp.error.invalid_argument"));
}

#[test]
fn calling_nobody_is_no_such_procedure() {
    let router = Router::shared();
    let client = backend(router);
    let error = client.call(&unique("nobody"), ()).unwrap_err();
    assert_eq!(error.wamp_uri(), Some("wamp.error.no_such_procedure"));
}

#[test]
fn a_call_that_times_out_is_cancelled_and_the_callee_told() {
    let router = Router::shared();
    let callee = backend(router);
    let caller = connect(router, &router.ws_url, router.backend(2), Serializer::Cbor);
    let procedure = unique("slow");
    let (tx, rx) = crossbeam_channel::unbounded();
    callee
        .register(&procedure, move |invocation| {
            let started = Instant::now();
            while !invocation.is_cancelled() && started.elapsed() < WAIT {
                std::thread::sleep(Duration::from_millis(10));
            }
            tx.send(invocation.is_cancelled()).unwrap();
            Ok(())
        })
        .unwrap();
    let started = Instant::now();
    let error = caller
        .call_with(
            &procedure,
            (),
            (),
            &CallOptions::new()
                .timeout(Duration::from_millis(300))
                .cancel_mode(CancelMode::Kill),
        )
        .unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(
        rx.recv_timeout(WAIT).unwrap(),
        "the callee saw the INTERRUPT"
    );
    // The client is still usable.
    assert_eq!(
        caller.call("auth.whoami", ()).unwrap()["authid"],
        "backend-2"
    );
}

#[test]
fn progressive_results_flow_from_handler_to_caller() {
    let router = Router::shared();
    let callee = backend(router);
    let caller = connect(router, &router.tcp_url, router.backend(2), Serializer::Json);
    let procedure = unique("countdown");
    callee
        .register(&procedure, |invocation| {
            let from: i64 = invocation.arg(0)?;
            for n in (1..=from).rev() {
                invocation.progress(&n)?;
            }
            Ok("liftoff")
        })
        .unwrap();
    let mut seen = Vec::new();
    let result = caller
        .call_progressive(&procedure, (3,), (), &CallOptions::new(), |progress| {
            seen.push(progress.value())
        })
        .unwrap();
    assert_eq!(
        seen,
        vec![Value::from(3i64), Value::from(2i64), Value::from(1i64)]
    );
    assert_eq!(result.value(), "liftoff");
    // Without receive_progress, progress() refuses and the final result still arrives.
    let procedure2 = unique("noprogress");
    callee
        .register(&procedure2, |invocation| {
            Ok(invocation.progress(&1).is_err())
        })
        .unwrap();
    assert_eq!(caller.call(&procedure2, ()).unwrap(), Value::Bool(true));
}

#[test]
fn progressive_results_keep_their_order_while_handlers_write_at_once() {
    // Handlers of one client answering at the same time contend for the connection: their
    // frames go out sometimes on their own thread, sometimes through the socket thread. Each
    // handler's progressive results must still arrive in order and before its final result.
    const STEPS: i64 = 200;
    let router = Router::shared();
    let callee = backend(router);
    let caller = connect(router, &router.ws_url, router.backend(2), Serializer::Cbor);
    let procedure = unique("ordered_progress");
    callee
        .register(&procedure, |invocation| {
            for n in 0..STEPS {
                invocation.progress(&n)?;
            }
            Ok("done")
        })
        .unwrap();
    let expected: Vec<Value> = (0..STEPS).map(Value::from).collect();
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let (caller, procedure, expected) =
                (caller.clone(), procedure.clone(), expected.clone());
            std::thread::spawn(move || {
                for _ in 0..5 {
                    let mut seen = Vec::new();
                    let options = CallOptions::new().timeout(WAIT);
                    let result = caller
                        .call_progressive(&procedure, (), (), &options, |progress| {
                            seen.push(progress.value())
                        })
                        .unwrap();
                    assert_eq!(result.value(), "done");
                    assert_eq!(seen, expected);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

#[test]
fn a_wrong_password_is_refused_with_nexus_reason_and_message() {
    let router = Router::shared();
    let error = Client::builder(&router.ws_url)
        .realm(&router.realm)
        .ticket("backend-1", "not the password")
        .connect()
        .unwrap_err();
    match error {
        Error::Aborted { reason, message } => {
            assert_eq!(reason, "com.izaber.wamp.error.permissiondenied");
            assert_eq!(message.as_deref(), Some("Permission Denied"));
        }
        other => panic!("expected ABORT, got {other}"),
    }
}

#[test]
fn an_unknown_realm_is_refused() {
    let router = Router::shared();
    let error = Client::builder(&router.tcp_url)
        .realm("no.such.realm")
        .connect()
        .unwrap_err();
    assert!(
        matches!(&error, Error::Aborted { reason, .. } if reason == "wamp.error.no_such_realm"),
        "{error}"
    );
}

#[test]
fn anonymous_sessions_get_the_public_role() {
    let router = Router::shared();
    let client = Client::builder(&router.unix_url)
        .realm(&router.realm)
        .uri_base("com.izaber.wamp")
        .connect()
        .unwrap();
    assert_eq!(client.authrole().as_deref(), Some("public"));
}

#[test]
fn wamp_cra_logs_in_with_plain_and_salted_secrets() {
    let router = Router::shared();
    for user in [router.cra_plain(), router.cra_salted()] {
        let client = Client::builder(&router.ws_url)
            .realm(&router.realm)
            .wampcra(&user.username, user.password.as_str())
            .connect()
            .unwrap_or_else(|e| panic!("{}: {e}", user.username));
        assert_eq!(client.authid().as_deref(), Some(user.username.as_str()));
        assert_eq!(client.authrole().as_deref(), Some(user.role.as_str()));
    }
    let error = Client::builder(&router.ws_url)
        .realm(&router.realm)
        .wampcra("cra-backend", "wrong secret")
        .connect()
        .unwrap_err();
    assert!(matches!(error, Error::Aborted { .. }), "{error}");
}

#[test]
fn tls_needs_a_trusted_certificate() {
    let router = Router::shared();
    for url in [&router.wss_url, &router.tcps_url] {
        let error = Client::builder(url.as_str())
            .realm(&router.realm)
            .connect()
            .unwrap_err();
        assert!(matches!(error, Error::Tls { .. }), "{url}: {error}");
        let client = Client::builder(url.as_str())
            .realm(&router.realm)
            .ca_file(&router.ca_file)
            .connect()
            .unwrap();
        assert!(client.is_connected());
        let client = Client::builder(url.as_str())
            .realm(&router.realm)
            .danger_accept_invalid_certs(true)
            .connect()
            .unwrap();
        assert!(client.is_connected());
        // TLS settings are reused across clients, never mixed up: still refused without a CA.
        let error = Client::builder(url.as_str())
            .realm(&router.realm)
            .connect()
            .unwrap_err();
        assert!(matches!(error, Error::Tls { .. }), "{url}: {error}");
    }
}

#[test]
fn a_wrong_websocket_path_is_told_in_a_line_with_its_url_and_status() {
    // What `fn main() -> Result<(), Error>` prints is the Debug form: it must be short and name
    // the status, not the router's 404 page as a list of bytes. `{:#}` is what a log line or
    // anyhow's report shows: the context, then the cause.
    let router = Router::shared();
    let url = router.ws_url.replace("/ws", "/nope");
    let error = Client::builder(url.as_str())
        .realm(&router.realm)
        .connect()
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::WebSocket {
                status: Some(404),
                ..
            }
        ),
        "{error}"
    );
    for shown in [format!("{error:#}"), format!("{error:?}")] {
        assert!(shown.contains(&url), "{shown}");
        assert!(shown.contains("404"), "{shown}");
        assert!(shown.len() < 300 && !shown.contains('\n'), "{shown}");
    }
}

#[test]
fn a_frontend_user_may_not_register_or_publish_with_acknowledgement() {
    let router = Router::shared();
    let client = connect(router, &router.ws_url, router.frontend(), Serializer::Cbor);
    let error = client.register(&unique("denied"), |_| Ok(())).unwrap_err();
    assert_eq!(error.wamp_uri(), Some("wamp.error.not_authorized"));
    let error = client
        .publish_with(
            &unique("denied"),
            (),
            (),
            &PublishOptions::new().acknowledge(true),
        )
        .unwrap_err();
    assert_eq!(error.wamp_uri(), Some("wamp.error.not_authorized"));
}

#[test]
fn a_megabyte_round_trips_on_every_transport() {
    let router = Router::shared();
    let big = "x".repeat(1 << 20);
    for url in [&router.ws_url, &router.tcp_url, &router.unix_url] {
        let client = connect(router, url, router.backend(1), Serializer::MsgPack);
        let procedure = unique("big");
        client
            .register(&procedure, |invocation| invocation.arg::<String>(0))
            .unwrap();
        let echoed = client.call(&procedure, (&big,)).unwrap();
        assert_eq!(echoed.as_str().map(str::len), Some(big.len()), "{url}");
    }
}

/// `len` printable characters that differ from those of any other `seed`.
fn distinct_text(seed: u64, len: usize) -> String {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            char::from(b' ' + (state >> 58) as u8 + (state >> 33) as u8 % 32)
        })
        .collect()
}

#[test]
fn large_messages_in_a_row_arrive_exactly() {
    // Buffers of large messages are kept for the next ones (src/memory.rs), so each message
    // here differs from the one before in content and size, larger and smaller, and every
    // byte is compared: a buffer read into only in part, or handed out too long, shows.
    let router = Router::shared();
    let _log = router.log_on_failure();
    let sizes = [(1 << 20) + 3, 3 << 20, 600 << 10, (2 << 20) + 1001, 1 << 20];
    for url in [&router.ws_url, &router.tcp_url, &router.unix_url] {
        for serializer in [Serializer::Json, Serializer::MsgPack, Serializer::Cbor] {
            let callee = connect(router, url, router.backend(1), serializer);
            let caller = connect(router, url, router.backend(2), serializer);
            let procedure = unique("exact");
            callee
                .register(&procedure, |invocation| Ok(invocation.args))
                .unwrap();
            let topic = unique("exact_event");
            let (tx, rx) = crossbeam_channel::unbounded();
            callee
                .subscribe(&topic, move |event| tx.send(event.args).unwrap())
                .unwrap();
            for (seed, size) in sizes.into_iter().enumerate() {
                let text = distinct_text(seed as u64, size);
                let binary = distinct_text(seed as u64 + 100, size / 2).into_bytes();
                let sent = vec![Value::from(text.as_str()), Value::Bytes(binary)];
                // The handler's result is its arguments, as one list.
                let echoed = caller.call(&procedure, &sent).unwrap();
                assert!(
                    echoed == Value::List(sent.clone()),
                    "{url} {serializer}: the {size}-byte call came back different"
                );
                caller
                    .publish_with(&topic, &sent, (), &PublishOptions::new().acknowledge(true))
                    .unwrap();
                let event = rx.recv_timeout(WAIT).unwrap();
                assert!(
                    event == sent,
                    "{url} {serializer}: the {size}-byte event arrived different"
                );
            }
        }
    }
}

#[test]
fn large_messages_from_several_threads_arrive_exactly() {
    // The spare buffers of large messages are the process's: here threads calling at once
    // and the callee's handlers take and give them back side by side, each message its own.
    let router = Router::shared();
    let _log = router.log_on_failure();
    for url in [&router.ws_url, &router.tcp_url, &router.unix_url] {
        let callee = connect(router, url, router.backend(1), Serializer::Cbor);
        let caller = connect(router, url, router.backend(2), Serializer::Cbor);
        let procedure = unique("exact_threads");
        callee
            .register(&procedure, |invocation| invocation.arg::<String>(0))
            .unwrap();
        std::thread::scope(|scope| {
            for thread in 0..4u64 {
                let (caller, procedure) = (&caller, &procedure);
                scope.spawn(move || {
                    for call in 0..3u64 {
                        let size = (1 << 20) + ((thread * 3 + call) as usize % 5) * (300 << 10);
                        let text = distinct_text(1000 + thread * 10 + call, size);
                        let echoed = caller.call(procedure, (&text,)).unwrap();
                        assert!(
                            echoed.as_str() == Some(text.as_str()),
                            "{url}: thread {thread}'s {size}-byte call came back different"
                        );
                    }
                });
            }
        });
    }
}

#[test]
fn messages_larger_than_the_socket_buffer_go_out_whole() {
    // 10 MiB is more than Linux's largest TCP send buffer (4 MiB by default), so the thread
    // that writes such a message leaves the rest for the socket thread to write as the socket
    // drains: the caller's CALL, the handler's YIELD and a fire-and-forget EVENT alike.
    // No heartbeat: its pings would also get a stalled frame moving, and hide a socket thread
    // that forgot to finish it.
    let router = Router::shared();
    let big = "y".repeat(10 << 20);
    let quiet = |url: &str, user| {
        router
            .client(url, user)
            .serializer(Serializer::MsgPack)
            .timeout(WAIT)
            .ping_interval(None)
            .connect()
            .unwrap()
    };
    for url in [&router.ws_url, &router.tcp_url] {
        let callee = quiet(url, router.backend(1));
        let caller = quiet(url, router.backend(2));
        let procedure = unique("huge");
        callee
            .register(&procedure, |invocation| invocation.arg::<String>(0))
            .unwrap();
        let echoed = caller.call(&procedure, (&big,)).unwrap();
        assert_eq!(echoed.as_str().map(str::len), Some(big.len()), "{url}");

        let topic = unique("huge_event");
        let (tx, rx) = crossbeam_channel::unbounded();
        callee
            .subscribe(&topic, move |event| {
                tx.send(event.args[0].as_str().map(str::len)).unwrap()
            })
            .unwrap();
        // Returns once the whole event is written, not when the first 4 MiB are.
        caller.publish(&topic, (&big,)).unwrap();
        assert_eq!(rx.recv_timeout(WAIT).unwrap(), Some(big.len()), "{url}");
    }
}

#[test]
fn websocket_messages_over_16_mib_arrive() {
    // RawSocket's protocol stops at 16 MiB; WebSocket has no such limit, the test router
    // takes 64 MiB, and a receiving client that refused more would lose its connection.
    let router = Router::shared();
    let big = "z".repeat(20 << 20);
    let callee = connect(
        router,
        &router.ws_url,
        router.backend(1),
        Serializer::MsgPack,
    );
    let caller = connect(
        router,
        &router.ws_url,
        router.backend(2),
        Serializer::MsgPack,
    );
    let procedure = unique("bigger");
    callee
        .register(&procedure, |invocation| invocation.arg::<String>(0))
        .unwrap();
    let echoed = caller.call(&procedure, (&big,)).unwrap();
    assert_eq!(echoed.as_str().map(str::len), Some(big.len()));
    assert_eq!(callee.stats().reconnections, 0);
    assert_eq!(caller.stats().reconnections, 0);
}

#[test]
fn a_message_over_the_payload_limit_is_refused_before_sending() {
    let router = Router::shared();
    let client = Client::builder(&router.ws_url)
        .realm(&router.realm)
        .max_payload_size(1000)
        .connect()
        .unwrap();
    let error = client.call("anything", ("y".repeat(2000),)).unwrap_err();
    match error {
        Error::PayloadTooLarge { message, limit, .. } => {
            assert_eq!(message, "CALL anything");
            assert_eq!(limit, 1000);
        }
        other => panic!("expected PayloadTooLarge, got {other}"),
    }
    assert!(client.is_connected());
}

#[test]
fn unregistering_and_unsubscribing_stop_delivery() {
    let router = Router::shared();
    let client = backend(router);
    let other = connect(router, &router.ws_url, router.backend(2), Serializer::Cbor);
    let procedure = unique("temporary");
    let id = client.register(&procedure, |_| Ok(1)).unwrap();
    assert_eq!(other.call(&procedure, ()).unwrap(), 1i64);
    client.unregister(id).unwrap();
    assert_eq!(
        other.call(&procedure, ()).unwrap_err().wamp_uri(),
        Some("wamp.error.no_such_procedure")
    );
    assert!(matches!(
        client.unregister(id),
        Err(Error::InvalidArgument(_))
    ));

    let topic = unique("quiet");
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    let sub = client
        .subscribe(&topic, move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    client.unsubscribe(sub).unwrap();
    other
        .publish_with(&topic, (), (), &PublishOptions::new().acknowledge(true))
        .unwrap();
    // A round trip through the router after the publication: had the event been
    // delivered, it would have arrived before this answer.
    client.call("auth.whoami", ()).unwrap();
    assert_eq!(received.load(Ordering::SeqCst), 0);
}

#[test]
fn closing_fails_later_requests_and_is_idempotent() {
    let router = Router::shared();
    let client = backend(router);
    let clone = client.clone();
    client.close();
    assert!(!clone.is_connected());
    assert!(matches!(clone.call("auth.whoami", ()), Err(Error::Closed)));
    clone.close();
}

#[test]
fn positional_arguments_must_be_a_list() {
    let router = Router::shared();
    let client = backend(router);
    let error = client.call("auth.whoami", "not a tuple").unwrap_err();
    assert!(matches!(error, Error::InvalidArgument(_)), "{error}");
}

#[test]
fn a_full_handler_queue_refuses_extra_invocations() {
    let router = Router::shared();
    let callee = backend(router);
    let caller = connect(router, &router.ws_url, router.backend(2), Serializer::Cbor);
    let procedure = unique("narrow");
    let (release_tx, release_rx) = crossbeam_channel::unbounded::<()>();
    callee
        .register_with(
            &procedure,
            &RegisterOptions::new().concurrency(1).queue_limit(1),
            move |_| {
                let _ = release_rx.recv_timeout(WAIT);
                Ok("done")
            },
        )
        .unwrap();
    let calls: Vec<_> = (0..2)
        .map(|_| {
            let caller = caller.clone();
            let procedure = procedure.clone();
            std::thread::spawn(move || caller.call(&procedure, ()))
        })
        .collect();
    // Wait until one runs and one is queued, then the third is refused.
    let deadline = Instant::now() + WAIT;
    while callee.stats().invocations < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let error = caller.call(&procedure, ()).unwrap_err();
    assert_eq!(error.wamp_uri(), Some("wamp.error.concurrency_limit"));
    release_tx.send(()).unwrap();
    release_tx.send(()).unwrap();
    for call in calls {
        assert_eq!(call.join().unwrap().unwrap(), "done");
    }
    assert_eq!(callee.stats().rejected_by_queue_limit, 1);
}

#[test]
fn a_cancel_token_cancels_a_running_call_in_every_mode() {
    let router = Router::shared();
    let callee = backend(router);
    let caller = connect(router, &router.ws_url, router.backend(2), Serializer::Cbor);
    let procedure = unique("cancellable");
    let (interrupted_tx, interrupted_rx) = crossbeam_channel::unbounded();
    callee
        .register(&procedure, move |invocation| {
            let started = Instant::now();
            while !invocation.is_cancelled() && started.elapsed() < Duration::from_secs(3) {
                std::thread::sleep(Duration::from_millis(10));
            }
            interrupted_tx.send(invocation.is_cancelled()).unwrap();
            Ok("finished anyway")
        })
        .unwrap();
    for (mode, callee_told) in [
        (CancelMode::Skip, false),
        (CancelMode::Kill, true),
        (CancelMode::KillNoWait, true),
    ] {
        let token = izaber_wamp::CancelToken::new();
        let canceller = {
            let token = token.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(200));
                token.cancel();
            })
        };
        let started = Instant::now();
        let error = caller
            .call_with(
                &procedure,
                (),
                (),
                &CallOptions::new().cancel_token(&token).cancel_mode(mode),
            )
            .unwrap_err();
        canceller.join().unwrap();
        assert_eq!(
            error.wamp_uri(),
            Some("wamp.error.canceled"),
            "{mode:?}: {error}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{mode:?} took {:?}",
            started.elapsed()
        );
        assert_eq!(
            interrupted_rx.recv_timeout(WAIT).unwrap(),
            callee_told,
            "{mode:?}"
        );
    }
}

#[test]
fn a_registration_taken_over_with_force_reregister_is_reported() {
    let router = Router::shared();
    let (revoked_tx, revoked_rx) = crossbeam_channel::unbounded();
    let user = router.backend(1);
    let displaced = Client::builder(&router.ws_url)
        .realm(&router.realm)
        .ticket(&user.username, user.password.as_str())
        .uri_base("com.izaber.wamp")
        .on_revoked(move |what| revoked_tx.send(what.to_owned()).unwrap())
        .connect()
        .unwrap();
    let procedure = unique("contested");
    displaced.register(&procedure, |_| Ok("old")).unwrap();
    let usurper = connect(router, &router.tcp_url, router.backend(2), Serializer::Json);
    usurper
        .register_with(
            &procedure,
            &RegisterOptions::new().force_reregister(true),
            |_| Ok("new"),
        )
        .unwrap();
    let what = revoked_rx.recv_timeout(WAIT).expect("revocation reported");
    assert!(what.contains(&procedure), "{what}");
    assert_eq!(displaced.stats().revoked_registrations, 1);
    assert_eq!(displaced.call(&procedure, ()).unwrap(), "new");
}

#[test]
fn a_result_that_cannot_be_serialized_becomes_an_error_for_the_caller() {
    let router = Router::shared();
    let callee = backend(router);
    let procedure = unique("unsendable");
    callee
        .register(&procedure, |_| {
            // Map keys must be strings (or numbers) in WAMP; a tuple key cannot be sent.
            let mut map = std::collections::BTreeMap::new();
            map.insert((1, 2), "x");
            Ok(map)
        })
        .unwrap();
    let error = callee.call(&procedure, ()).unwrap_err();
    let Error::Wamp(error) = error else {
        panic!("expected a WAMP error")
    };
    assert_eq!(error.uri, "com.izaber.wamp.error.invoke.failure");
    assert!(
        error.message().unwrap().contains("cannot be sent"),
        "{error}"
    );
    assert!(callee.is_connected());
}

#[test]
fn close_returns_after_the_leave_hooks_have_run() {
    let router = Router::shared();
    let cleaned_up = Arc::new(AtomicUsize::new(0));
    let counter = cleaned_up.clone();
    let client = router
        .client(&router.ws_url, router.backend(1))
        .on_leave(move |reason| {
            assert_eq!(reason, "closed");
            // A cleanup that takes a while, as writing a file or telling another service does.
            std::thread::sleep(Duration::from_millis(300));
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .connect()
        .unwrap();
    client.close();
    assert_eq!(cleaned_up.load(Ordering::SeqCst), 1);

    // A leave hook that closes its own client again does not wait for itself.
    let slot: Arc<parking_lot::Mutex<Option<Client>>> = Arc::default();
    let inner = slot.clone();
    let client = router
        .client(&router.ws_url, router.backend(1))
        .on_leave(move |_| {
            // Waiting for itself would hold this hook, and so the outer close, for 5 s.
            if let Some(client) = inner.lock().take() {
                client.close();
            }
        })
        .connect()
        .unwrap();
    *slot.lock() = Some(client.clone());
    let started = Instant::now();
    client.close();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn the_call_macro_sends_positional_then_keyword_arguments() {
    let router = Router::shared();
    let client = backend(router);
    let procedure = unique("echo_all");
    client
        .register(&procedure, |invocation| {
            Ok((invocation.args.clone(), invocation.kwargs.clone()))
        })
        .unwrap();
    let echoed =
        izaber_wamp::call!(client, &procedure, 1, "two", r#type = "motor", speed = 2.5).unwrap();
    let expected: Value =
        serde_json::from_str(r#"[[1, "two"], {"type": "motor", "speed": 2.5}]"#).unwrap();
    assert_eq!(echoed, expected);
}

#[test]
fn the_publish_macro_sends_positional_then_keyword_arguments() {
    let router = Router::shared();
    let subscriber = backend(router);
    let publisher = connect(router, &router.tcp_url, router.backend(2), Serializer::Json);
    let topic = unique("announce");
    let (tx, rx) = crossbeam_channel::unbounded();
    subscriber
        .subscribe(&topic, move |event| {
            tx.send((event.args.clone(), event.kwargs.clone())).unwrap();
        })
        .unwrap();
    izaber_wamp::publish!(publisher, &topic, "hello", 2, r#type = "greeting").unwrap();
    let (args, kwargs) = rx.recv_timeout(WAIT).expect("event delivered");
    assert_eq!(args, [Value::from("hello"), Value::from(2)]);
    assert_eq!(kwargs["type"], "greeting");
    assert_eq!(kwargs.len(), 1);
}

#[test]
fn an_event_handler_may_fail_with_question_mark_and_keeps_receiving() {
    let router = Router::shared();
    let subscriber = backend(router);
    let publisher = connect(router, &router.tcp_url, router.backend(2), Serializer::Json);
    let topic = unique("positions");
    let (tx, rx) = crossbeam_channel::unbounded();
    subscriber
        .subscribe(&topic, move |event| -> Result<(), Error> {
            let position: f64 = event.arg(0)?;
            tx.send(position).unwrap();
            Ok(())
        })
        .unwrap();
    publisher.publish(&topic, ("not a number",)).unwrap();
    publisher.publish(&topic, (2.5,)).unwrap();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), 2.5);
    assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
}

#[test]
fn typed_calls_and_typed_handler_arguments() {
    #[derive(serde::Deserialize)]
    struct Scale {
        factor: f64,
        unit: Option<String>,
    }
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Scaled {
        values: Vec<f64>,
        unit: String,
    }
    let router = Router::shared();
    let client = connect(router, &router.ws_url, router.backend(1), Serializer::Cbor);
    let procedure = unique("typed.scale");
    client
        .register(&procedure, |invocation| {
            let (a, b): (f64, f64) = invocation.args_as()?;
            let scale: Scale = invocation.kwargs_as()?;
            Ok(serde_json::json!({
                "values": [a * scale.factor, b * scale.factor],
                "unit": scale.unit.unwrap_or_else(|| "mm".into()),
            }))
        })
        .unwrap();
    let scaled: Scaled = client
        .call_with(
            &procedure,
            (1.0, 2.5),
            serde_json::json!({"factor": 2.0}),
            &CallOptions::new(),
        )
        .unwrap()
        .value_as()
        .unwrap();
    assert_eq!(
        scaled,
        Scaled {
            values: vec![2.0, 5.0],
            unit: "mm".into()
        }
    );
    let whoami: std::collections::BTreeMap<String, String> =
        client.call_as("auth.whoami", ()).unwrap();
    assert_eq!(whoami["authid"], "backend-1");
    // Arguments that do not fit: the caller is told which and why.
    let error = client
        .call_with(&procedure, ("one",), (), &CallOptions::new())
        .unwrap_err();
    assert_eq!(
        error.wamp_uri(),
        Some("wamp.error.invalid_argument"),
        "{error}"
    );
    assert!(error.to_string().contains("arguments"), "{error}");
    let error = client.call_as::<u8>("auth.whoami", ()).unwrap_err();
    assert!(matches!(error, Error::Value(_)), "{error}");
}

#[test]
fn the_uri_base_changes_at_run_time_for_every_clone() {
    let router = Router::shared();
    let _log = router.log_on_failure();
    let callee = backend(router);
    let caller = connect(router, &router.tcp_url, router.backend(2), Serializer::Cbor);
    let procedure = unique("base");
    callee
        .register(&procedure, |_| Err::<(), _>(CallError::failure("no")))
        .unwrap();
    let full = format!("com.izaber.wamp.{procedure}");
    assert_eq!(caller.full_uri(&procedure), full);
    assert_eq!(caller.uri_base().as_deref(), Some("com.izaber.wamp"));

    // Python's `wamp.wamp.uri_base = ''`: no prefix from now on, on every clone.
    let clone = caller.clone();
    caller.set_uri_base("");
    assert_eq!(clone.uri_base(), None);
    assert_eq!(clone.full_uri(&procedure), procedure);
    assert_eq!(clone.full_uri("wamp.session.count"), "wamp.session.count");
    let unprefixed = clone.call(&procedure, ()).unwrap_err();
    assert!(
        matches!(&unprefixed, Error::Wamp(e) if e.uri == "wamp.error.no_such_procedure"
            || e.uri.ends_with("not_authorized")),
        "{unprefixed}"
    );

    // A longer base reaches the same procedure by a shorter name.
    let (head, tail) = procedure.split_once('.').unwrap();
    caller.set_uri_base(&format!("com.izaber.wamp.{head}."));
    assert_eq!(clone.full_uri(tail), full);
    // The callee's handler failed: its error is named after the callee's base, which changes
    // too.
    callee.set_uri_base("com.izaber.wamp.renamed");
    let failed = clone.call(tail, ()).unwrap_err();
    assert!(
        matches!(&failed, Error::Wamp(e) if e.uri == "com.izaber.wamp.renamed.error.invoke.failure"),
        "{failed}"
    );
}
