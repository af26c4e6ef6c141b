//! Advanced Profile features against the test router: testaments, the router meta API and
//! payload passthru (between two of our clients, and with Autobahn|Python).

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, unbounded};
use izaber_wamp::protocol::{Serializer, from_value, to_value};
use izaber_wamp::{
    CallOptions, Client, EncodedPayload, Error, Event, IdsByMatch, Match, PublishOptions,
    ReconnectPolicy, RegisterOptions, SubscribeOptions,
};
use serde_json::json;
use support::{Router, User};

const WAIT: Duration = Duration::from_secs(10);

/// A URI no other test uses.
fn unique(name: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "advanced.{name}.{}.{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn events(client: &Client, topic: &str) -> Receiver<Event> {
    let (tx, rx) = unbounded();
    client
        .subscribe(topic, move |event| {
            let _ = tx.send(event);
        })
        .unwrap();
    rx
}

// --- testaments -----------------------------------------------------------------------

/// Environment of the child process that leaves a testament and waits to be killed.
const CHILD_URL: &str = "IZABER_TEST_TESTAMENT_URL";
const CHILD_TOPIC: &str = "IZABER_TEST_TESTAMENT_TOPIC";
const CHILD_LOGIN: &str = "IZABER_TEST_TESTAMENT_LOGIN";

/// Runs only as a child of the testament tests (`--ignored --exact`): connects as `trust-1`
/// (Nexus lets only `trust` use the router's meta procedures), leaves a testament, says
/// READY, reports each reconnection once its restores are done, and waits to be killed.
#[test]
#[ignore = "run by the testament tests in a child process"]
fn testament_child() {
    let (Ok(url), Ok(topic), Ok(login)) = (
        std::env::var(CHILD_URL),
        std::env::var(CHILD_TOPIC),
        std::env::var(CHILD_LOGIN),
    ) else {
        return;
    };
    let (user, password) = login.split_once(':').unwrap();
    let client = Client::builder(url)
        .realm("izaber")
        .uri_base("com.izaber.wamp")
        .ticket(user, password)
        .reconnect(ReconnectPolicy::every(Duration::from_millis(200)))
        .connect()
        .unwrap();
    client
        .add_testament(
            &topic,
            ("gone", std::process::id()),
            json!({"why": "killed"}),
        )
        .unwrap();
    println!("READY");
    let mut reported = 0;
    loop {
        let stats = client.stats();
        // The testament is the only thing to restore.
        if stats.reconnections > reported && stats.restored >= stats.reconnections {
            reported = stats.reconnections;
            println!("RESTORED {reported}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

struct ChildService {
    child: Child,
    lines: Receiver<String>,
}

impl ChildService {
    fn start(router: &Router, url: &str, topic: &str) -> ChildService {
        let trust = router.trust();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--ignored", "--exact", "testament_child", "--nocapture"])
            .env(CHILD_URL, url)
            .env(CHILD_TOPIC, topic)
            .env(
                CHILD_LOGIN,
                format!("{}:{}", trust.username, trust.password),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (tx, lines) = unbounded();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let service = ChildService { child, lines };
        service.expect("READY");
        service
    }

    fn expect(&self, wanted: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let line = self
                .lines
                .recv_deadline(deadline)
                .unwrap_or_else(|_| panic!("the child never said {wanted}"));
            if line.trim() == wanted {
                return;
            }
        }
    }

    /// SIGKILL: no GOODBYE, no clean close; the kernel closes the socket.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

fn assert_testament(event: &Event) {
    assert_eq!(event.args[0], "gone");
    assert!(event.args[1].as_u64().is_some());
    assert_eq!(event.kwargs["why"], "killed");
}

#[test]
fn a_testament_is_published_when_the_process_is_killed() {
    let router = Router::shared();
    let _log = router.log_on_failure();
    let topic = format!("com.izaber.wamp.{}", unique("testament"));
    let listener = router
        .client(&router.ws_url, router.trust())
        .connect()
        .unwrap();
    let received = events(&listener, &topic);

    let service = ChildService::start(router, &router.tcp_url, &topic);
    assert!(received.recv_timeout(Duration::from_millis(300)).is_err());
    service.kill();
    let event = received.recv_timeout(WAIT).expect("the testament's event");
    assert_testament(&event);
}

#[test]
fn a_testament_is_added_again_after_a_reconnect() {
    let router = Router::private();
    let _log = router.log_on_failure();
    let topic = format!("com.izaber.wamp.{}", unique("testament.restored"));
    let listener = router
        .client(&router.ws_url, router.trust())
        .reconnect(ReconnectPolicy::every(Duration::from_millis(200)))
        .connect()
        .unwrap();
    let received = events(&listener, &topic);

    let service = ChildService::start(&router, &router.ws_url, &topic);
    router.restart();
    service.expect("RESTORED 1");
    listener.wait_connected(WAIT).unwrap();
    let deadline = Instant::now() + WAIT;
    while listener.stats().restored < 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    service.kill();
    let event = received
        .recv_timeout(WAIT)
        .expect("the restored testament's event");
    assert_testament(&event);
}

#[test]
fn flushed_testaments_are_not_published() {
    let router = Router::shared();
    let _log = router.log_on_failure();
    let topic = format!("com.izaber.wamp.{}", unique("testament.flushed"));
    let listener = router
        .client(&router.ws_url, router.trust())
        .connect()
        .unwrap();
    let received = events(&listener, &topic);

    let service = router
        .client(&router.tcp_url, router.trust())
        .connect()
        .unwrap();
    service.add_testament(&topic, ("first",), ()).unwrap();
    service.add_testament(&topic, ("second",), ()).unwrap();
    assert_eq!(service.flush_testaments().unwrap(), 2);
    service.close();
    assert!(received.recv_timeout(Duration::from_secs(1)).is_err());

    // Unflushed, a clean close publishes them too: the session is gone either way.
    let service = router
        .client(&router.tcp_url, router.trust())
        .connect()
        .unwrap();
    service.add_testament(&topic, ("third",), ()).unwrap();
    service.close();
    let event = received.recv_timeout(WAIT).unwrap();
    assert_eq!(event.args[0], "third");
}

#[test]
fn a_role_without_the_meta_api_gets_a_clear_refusal() {
    let router = Router::shared();
    let _log = router.log_on_failure();
    let backend = router
        .client(&router.ws_url, router.backend(1))
        .connect()
        .unwrap();
    let err = backend
        .add_testament(&unique("testament.refused"), (), ())
        .unwrap_err();
    assert_eq!(err.wamp_uri(), Some("wamp.error.not_authorized"), "{err}");
    let err = backend.session_count().unwrap_err();
    assert_eq!(err.wamp_uri(), Some("wamp.error.not_authorized"), "{err}");
}

// --- the meta API ----------------------------------------------------------------------

#[test]
fn the_meta_api_answers_with_typed_values() {
    let router = Router::shared();
    let _log = router.log_on_failure();
    let trust = router
        .client(&router.ws_url, router.trust())
        .connect()
        .unwrap();
    let service = router
        .client(&router.tcp_url, router.backend(2))
        .connect()
        .unwrap();
    let service_session = service.session_id().unwrap();

    assert!(trust.session_count().unwrap() >= 2);
    let sessions = trust.session_list().unwrap();
    assert!(sessions.contains(&service_session));
    let info = trust.session_get(service_session).unwrap();
    assert_eq!(info.session, service_session);
    assert_eq!(info.authid.as_deref(), Some("backend-2"));
    assert_eq!(info.authrole.as_deref(), Some("backend"));
    assert_eq!(info.authmethod.as_deref(), Some("ticket"));
    assert_eq!(info.transport["channel_framing"], "rawsocket");
    let missing = trust.session_get(1).unwrap_err();
    assert_eq!(missing.wamp_uri(), Some("wamp.error.no_such_session"));

    let procedure = unique("meta.proc");
    service.register(&procedure, |_| Ok(())).unwrap();
    let id = trust
        .registration_lookup(&procedure, Match::Exact)
        .unwrap()
        .expect("registered");
    let registration = trust.registration_get(id).unwrap();
    assert_eq!(registration.uri, format!("com.izaber.wamp.{procedure}"));
    assert_eq!(registration.match_policy, "exact");
    assert_eq!(registration.invoke.as_deref(), Some("single"));
    assert!(trust.registration_list().unwrap().exact.contains(&id));
    assert_eq!(trust.registration_callees(id).unwrap(), [service_session]);
    assert_eq!(
        trust
            .registration_lookup(&unique("meta.none"), Match::Exact)
            .unwrap(),
        None
    );

    let prefix = unique("meta.topics");
    service.subscribe(&prefix, |_| {}).unwrap();
    service
        .subscribe_with(
            &prefix,
            &izaber_wamp::SubscribeOptions::new().match_policy(Match::Prefix),
            |_| {},
        )
        .unwrap();
    let exact = trust
        .subscription_lookup(&prefix, Match::Exact)
        .unwrap()
        .expect("subscribed");
    let by_prefix = trust
        .subscription_lookup(&prefix, Match::Prefix)
        .unwrap()
        .expect("subscribed by prefix");
    assert_ne!(exact, by_prefix);
    let subscription = trust.subscription_get(by_prefix).unwrap();
    assert_eq!(subscription.match_policy, "prefix");
    assert_eq!(subscription.uri, format!("com.izaber.wamp.{prefix}"));
    assert_eq!(
        trust.subscription_subscribers(exact).unwrap(),
        [service_session]
    );
    let all = trust.subscription_list().unwrap();
    assert!(all.exact.contains(&exact) && all.prefix.contains(&by_prefix));
}

/// The typed answers are the router's dicts, every key kept: serialized back they equal what
/// Python's `wamp.call('wamp.session.get', id)` returns, the match policy is the key `match`,
/// and the ids by match policy iterate as Python's `.items()`.
#[test]
fn the_meta_api_answers_serialize_back_to_the_routers_dicts() {
    let router = Router::shared();
    let _log = router.log_on_failure();
    let trust = router
        .client(&router.ws_url, router.trust())
        .connect()
        .unwrap();
    // RawSocket with CBOR, where Crossbar reports a `serializer`; the trust session is on
    // WebSocket, where it reports null.
    let service = router
        .client(&router.tcp_url, router.backend(3))
        .serializer(Serializer::Cbor)
        .connect()
        .unwrap();

    for session in [service.session_id().unwrap(), trust.session_id().unwrap()] {
        let info = trust.session_get(session).unwrap();
        let raw = trust.call("wamp.session.get", (session,)).unwrap();
        assert_eq!(to_value(&info).unwrap(), raw, "{info:?}");
        assert_eq!(info.realm.as_deref(), Some("izaber"));
        assert_eq!(info.resumed, Some(false));
        assert!(info.resume_token.is_none());
        // Crossbar 26 sends no key without a field: a new one shows up here.
        assert!(info.extra.is_empty(), "{:?}", info.extra);
    }
    let info = trust.session_get(service.session_id().unwrap()).unwrap();
    assert_eq!(info.serializer, 3, "Autobahn's number for CBOR");
    assert_eq!(info.transport["channel_serializer"], "cbor");
    assert_eq!(info.authextra["x_cb_peer"], info.transport["peer"]);

    let base = unique("meta.dicts");
    service.register(&base, |_| Ok(())).unwrap();
    let prefix_uri = format!("{base}.by_prefix");
    service
        .register_with(
            &prefix_uri,
            &RegisterOptions::new().match_policy(Match::Prefix),
            |_| Ok(()),
        )
        .unwrap();
    let wildcard_uri = format!("{base}..by_wildcard");
    service
        .register_with(
            &wildcard_uri,
            &RegisterOptions::new().match_policy(Match::Wildcard),
            |_| Ok(()),
        )
        .unwrap();
    let mut ours = Vec::new();
    for (uri, policy, name) in [
        (&base, Match::Exact, "exact"),
        (&prefix_uri, Match::Prefix, "prefix"),
        (&wildcard_uri, Match::Wildcard, "wildcard"),
    ] {
        let id = trust.registration_lookup(uri, policy).unwrap().unwrap();
        let registration = trust.registration_get(id).unwrap();
        let raw = trust.call("wamp.registration.get", (id,)).unwrap();
        let dict = to_value(&registration).unwrap();
        assert_eq!(dict, raw);
        assert_eq!(dict["match"], name);
        assert_eq!(registration.match_policy, name);
        assert!(dict.get("match_policy").is_none());
        ours.push((name, id));
    }

    // Python: for match_type, ids in wamp.call('wamp.registration.list').items():
    let list = trust.registration_list().unwrap();
    let names: Vec<&str> = list.iter().map(|(name, _)| name).collect();
    assert_eq!(names, ["exact", "prefix", "wildcard"]);
    let mut found = Vec::new();
    for (match_type, ids) in &list {
        for &id in ids {
            if ours.iter().any(|&(_, ours)| ours == id) {
                found.push((match_type, id));
            }
        }
    }
    assert_eq!(found, ours);
    // By value too, straight off the call.
    let total: usize = trust
        .registration_list()
        .unwrap()
        .into_iter()
        .map(|(_, ids)| ids.len())
        .sum();
    assert!(total >= 3);
    // Other tests register meanwhile, so compare one answer with itself read typed.
    let raw = trust.call("wamp.registration.list", ()).unwrap();
    let typed: IdsByMatch = from_value(raw.clone()).unwrap();
    assert_eq!(to_value(&typed).unwrap(), raw);
    assert!(typed.extra.is_empty(), "{:?}", typed.extra);

    let topic = unique("meta.dicts.topic");
    service
        .subscribe_with(
            &topic,
            &SubscribeOptions::new().match_policy(Match::Prefix),
            |_| {},
        )
        .unwrap();
    let id = trust
        .subscription_lookup(&topic, Match::Prefix)
        .unwrap()
        .unwrap();
    let subscription = trust.subscription_get(id).unwrap();
    let raw = trust.call("wamp.subscription.get", (id,)).unwrap();
    assert_eq!(to_value(&subscription).unwrap(), raw);
    assert_eq!(raw["match"], "prefix");
    let subscriptions = trust.subscription_list().unwrap();
    assert!(
        subscriptions
            .iter()
            .any(|(name, ids)| name == "prefix" && ids.contains(&id))
    );
}

// --- payload passthru ------------------------------------------------------------------

fn passthru_client(router: &Router, url: &str, user: &User, serializer: Serializer) -> Client {
    router
        .client(url, user)
        .serializer(serializer)
        .timeout(WAIT)
        .connect()
        .unwrap()
}

#[test]
fn passthru_payloads_cross_the_router_between_our_clients() {
    let router = Router::shared();
    let _log = router.log_on_failure();
    for (url, serializer) in [
        (&router.ws_url, Serializer::Json),
        (&router.tcp_url, Serializer::MsgPack),
        (&router.unix_url, Serializer::Cbor),
    ] {
        let callee = passthru_client(router, url, router.backend(1), serializer);
        let caller = passthru_client(router, &router.ws_url, router.backend(2), Serializer::Cbor);
        let topic = unique("passthru.topic");
        let received = events(&callee, &topic);
        let sealed: Vec<u8> = (0..=255).collect();
        let payload = EncodedPayload::new("cryptobox", sealed.clone())
            .enc_serializer("cbor")
            .enc_key("key-7");
        caller
            .publish_payload(
                &topic,
                payload.clone(),
                &PublishOptions::new().acknowledge(true),
            )
            .unwrap();
        let event = received.recv_timeout(WAIT).unwrap();
        assert_eq!(event.payload(), Some(payload.clone()), "{serializer}");

        let procedure = unique("passthru.proc");
        callee
            .register_payload(&procedure, &RegisterOptions::new(), |invocation| {
                let mut payload = invocation.payload().ok_or_else(|| {
                    izaber_wamp::CallError::new("app.error.not_passthru", "send a payload")
                })?;
                payload.payload.reverse();
                Ok(payload)
            })
            .unwrap();
        let result = caller
            .call_payload(&procedure, payload.clone(), &CallOptions::new())
            .unwrap();
        let mut expected = payload.clone();
        expected.payload.reverse();
        assert_eq!(result.payload(), Some(expected), "{serializer}");

        // An ordinary call to it is refused by the handler, as it chose.
        let err = caller.call(&procedure, (1,)).unwrap_err();
        assert_eq!(err.wamp_uri(), Some("app.error.not_passthru"));
        callee.close();
        caller.close();
    }
}

#[test]
fn a_payload_with_a_name_routers_reject_is_not_sent() {
    let router = Router::shared();
    let client = passthru_client(router, &router.ws_url, router.backend(1), Serializer::Cbor);
    let err = client
        .publish_payload(
            &unique("passthru.bad"),
            EncodedPayload::new("rot13", vec![1]),
            &PublishOptions::new(),
        )
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    // The session is still fine.
    client.whoami().unwrap();
}

fn autobahn_peer(router: &Router, args: &[&str]) -> Command {
    let user = router.backend(3);
    let mut command = Command::new(router.python());
    command
        .arg(format!(
            "{}/tests/interop/autobahn_passthru_peer.py",
            env!("CARGO_MANIFEST_DIR")
        ))
        .arg(args[0])
        .arg(&router.ws_url)
        .arg(&user.username)
        .arg(&user.password)
        .args(&args[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    command
}

fn read_json_line(reader: &mut impl BufRead) -> serde_json::Value {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"))
}

#[test]
fn passthru_interoperates_with_autobahn_python() {
    let router = Router::shared();
    let _log = router.log_on_failure();
    let ours = passthru_client(
        router,
        &router.ws_url,
        router.backend(1),
        Serializer::MsgPack,
    );

    // Ours publishes, Autobahn receives.
    let topic = unique("passthru.to_autobahn");
    let mut subscriber = autobahn_peer(router, &["subscribe", &topic])
        .spawn()
        .unwrap();
    let mut out = BufReader::new(subscriber.stdout.take().unwrap());
    let mut ready = String::new();
    out.read_line(&mut ready).unwrap();
    assert_eq!(ready.trim(), "READY");
    let payload = EncodedPayload::new("x_test", vec![0, 255, 16]).enc_serializer("cbor");
    ours.publish_payload(&topic, payload, &PublishOptions::new().acknowledge(true))
        .unwrap();
    let seen = read_json_line(&mut out);
    assert_eq!(seen["passthru"], true, "{seen}");
    assert_eq!(seen["payload"], "00ff10");
    assert_eq!(seen["enc_algo"], "x_test");
    assert_eq!(seen["enc_serializer"], "cbor");
    drop(subscriber.stdin.take());
    let _ = subscriber.wait();

    // Autobahn publishes, ours receives.
    let topic = unique("passthru.from_autobahn");
    let received = events(&ours, &topic);
    let output = autobahn_peer(
        router,
        &["publish", &topic, "cafe01", "cryptobox", "msgpack"],
    )
    .output()
    .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(report["published"].as_u64().is_some(), "{report}");
    let event = received.recv_timeout(WAIT).unwrap();
    assert_eq!(
        event.payload(),
        Some(EncodedPayload::new("cryptobox", vec![0xca, 0xfe, 0x01]).enc_serializer("msgpack"))
    );

    // Ours calls an Autobahn callee, which echoes.
    let procedure = unique("passthru.autobahn_echo");
    let mut callee = autobahn_peer(router, &["register", &procedure])
        .spawn()
        .unwrap();
    let mut callee_out = BufReader::new(callee.stdout.take().unwrap());
    let mut ready = String::new();
    callee_out.read_line(&mut ready).unwrap();
    assert_eq!(ready.trim(), "READY");
    let payload = EncodedPayload::new("x_test", b"ping".to_vec()).enc_key("k1");
    let result = ours
        .call_payload(&procedure, payload.clone(), &CallOptions::new())
        .unwrap();
    assert_eq!(result.payload(), Some(payload));
    drop(callee.stdin.take());
    let _ = callee.wait();

    // Autobahn calls our callee.
    let procedure = unique("passthru.ours");
    ours.register_payload(&procedure, &RegisterOptions::new(), |invocation| {
        let mut payload = invocation.payload().expect("a passthru call");
        payload.payload.push(0x42);
        Ok(payload)
    })
    .unwrap();
    let output = autobahn_peer(router, &["call", &procedure, "0a0b", "x_test"])
        .output()
        .unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(answer["passthru"], true, "{answer}");
    assert_eq!(answer["payload"], "0a0b42");
    assert_eq!(answer["enc_algo"], "x_test");
}
