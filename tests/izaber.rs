//! The izaber layer: initialize(), the global `wamp`, hooks, change_user, spawn_connection,
//! and the Nexus helpers, against the router fixture.
//!
//! `wamp` is one per process, so the tests that use it take turns (`GLOBAL`).

mod support;

use std::time::{Duration, Instant};

use izaber_wamp::protocol::{Serializer, Value};
use izaber_wamp::{Client, Error, InitOptions, Match, initialize_with, set_autorun, wamp};
use parking_lot::Mutex;
use support::{Router, User};

static GLOBAL: Mutex<()> = Mutex::new(());
const WAIT: Duration = Duration::from_secs(15);

fn yaml(url: &str, user: &User) -> String {
    format!(
        "default:\n  wamp:\n    connection:\n      url: '{url}'\n      username: '{}'\n      password: '{}'\n      timeout: 15\n      auto_reconnect: 0.2\n",
        user.username, user.password
    )
}

fn init(url: &str, user: &User) -> Result<(), Error> {
    initialize_with(InitOptions::new().yaml(yaml(url, user)).force(true))
}

fn client(router: &Router, user: &User) -> Client {
    router
        .client(&router.ws_url, user)
        .serializer(Serializer::Json)
        .timeout(WAIT)
        .connect()
        .unwrap_or_else(|e| panic!("{} could not log in: {e}", user.username))
}

#[test]
fn initialize_connects_wamp_with_the_configured_user() {
    let _turn = GLOBAL.lock();
    let router = Router::shared();
    let _log = router.log_on_failure();
    init(&router.ws_url, router.backend(1)).unwrap();
    assert!(wamp.is_connected());
    assert_eq!(wamp.whoami().unwrap()["authid"], "backend-1");
    assert_eq!(wamp.call("auth.whoami", ()).unwrap()["role"], "backend");
    assert_eq!(
        izaber_wamp::config()
            .unwrap()
            .get_str("wamp.connection.username")
            .unwrap(),
        Some("backend-1")
    );
    // CBOR is the configured default, as in the Python library.
    assert_eq!(wamp.client().unwrap().serializer(), Serializer::Cbor);
    wamp.disconnect();
}

#[test]
fn with_autorun_off_wamp_waits_for_change_user() {
    let _turn = GLOBAL.lock();
    let router = Router::shared();
    set_autorun(false);
    let result = init(&router.ws_url, router.backend(1));
    set_autorun(true);
    result.unwrap();
    assert!(!wamp.is_connected());
    assert!(matches!(wamp.whoami(), Err(Error::NotInitialized)));
    let frontend = router.frontend();
    wamp.change_user(&frontend.username, &frontend.password)
        .unwrap();
    assert_eq!(wamp.whoami().unwrap()["authid"], "frontend-1");
    wamp.disconnect();
}

#[test]
fn run_false_in_the_configuration_also_defers_the_login() {
    let _turn = GLOBAL.lock();
    let router = Router::shared();
    let text =
        yaml(&router.ws_url, router.backend(1)).replace("  wamp:\n", "  wamp:\n    run: false\n");
    initialize_with(InitOptions::new().yaml(text).force(true)).unwrap();
    assert!(!wamp.is_connected());
}

#[test]
fn a_failed_change_user_keeps_the_old_session() {
    let _turn = GLOBAL.lock();
    let router = Router::shared();
    init(&router.ws_url, router.backend(1)).unwrap();
    let error = wamp
        .change_user("frontend-1", "wrong password")
        .unwrap_err();
    assert!(
        matches!(&error, Error::Aborted { reason, .. } if reason == "com.izaber.wamp.error.permissiondenied"),
        "{error}"
    );
    assert_eq!(wamp.whoami().unwrap()["authid"], "backend-1");
    let frontend = router.frontend();
    wamp.change_user(&frontend.username, &frontend.password)
        .unwrap();
    assert_eq!(wamp.whoami().unwrap()["authid"], "frontend-1");
    wamp.disconnect();
}

#[test]
fn spawn_connection_is_independent_of_wamp() {
    let _turn = GLOBAL.lock();
    let router = Router::shared();
    init(&router.ws_url, router.backend(1)).unwrap();
    let frontend = router.frontend();
    let other = wamp
        .spawn_connection(&frontend.username, &frontend.password)
        .unwrap();
    assert_eq!(other.whoami().unwrap()["authid"], "frontend-1");
    other.close();
    assert_eq!(wamp.whoami().unwrap()["authid"], "backend-1");
    let third = wamp
        .spawn_connection(&router.backend(2).username, &router.backend(2).password)
        .unwrap();
    wamp.disconnect();
    assert_eq!(third.whoami().unwrap()["authid"], "backend-2");
}

#[test]
fn the_join_hook_runs_once_per_join_and_its_registrations_come_back() {
    let _turn = GLOBAL.lock();
    let router = Router::private();
    let (joins_tx, joins_rx) = crossbeam_channel::unbounded();
    wamp.hook("join", move |_details| {
        let registered = wamp.register("hooked.ping", |_| Ok("pong"));
        // Hooks stay for the rest of this process; later joins find no one listening.
        let _ = joins_tx.send(registered.map(|_| ()).map_err(|e| e.to_string()));
    })
    .unwrap();
    init(&router.ws_url, router.backend(1)).unwrap();
    assert_eq!(joins_rx.recv_timeout(WAIT).unwrap(), Ok(()));
    let caller = client(&router, router.backend(2));
    assert_eq!(caller.call("hooked.ping", ()).unwrap(), "pong");

    router.restart();
    wamp.wait_connected(WAIT).unwrap();
    // The hook registers again; the session does not also restore it (which would make
    // the hook's registration fail with procedure_already_exists).
    assert_eq!(joins_rx.recv_timeout(WAIT).unwrap(), Ok(()));
    assert!(joins_rx.recv_timeout(Duration::from_millis(300)).is_err());
    caller.wait_connected(WAIT).unwrap();
    assert_eq!(caller.call("hooked.ping", ()).unwrap(), "pong");
    wamp.disconnect();
}

#[test]
fn roster_entries_live_as_long_as_their_session() {
    let router = Router::shared();
    let owner = client(router, router.backend(1));
    let reader = client(router, router.frontend());
    let name = format!("roster.test.{}", std::process::id());
    let record = owner
        .roster_register(&name, serde_json::json!({"db": "zerp"}))
        .unwrap();
    assert_eq!(record["name"], name.as_str());
    assert_eq!(
        reader.roster_query(&name).unwrap(),
        Value::List(vec![Value::Dict(
            [("db".to_owned(), Value::from("zerp"))]
                .into_iter()
                .collect()
        )])
    );
    owner.close();
    let deadline = Instant::now() + WAIT;
    while reader.roster_query(&name).unwrap() != Value::List(Vec::new()) {
        assert!(Instant::now() < deadline, "the entry outlived its session");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn metadata_is_stored_per_user() {
    let router = Router::shared();
    let client = client(router, router.backend(3));
    let key = format!("test.pref.{}", std::process::id());
    assert_eq!(
        client.metadata_set(&key, vec![1, 2]).unwrap(),
        Value::List(vec![1i64.into(), 2i64.into()])
    );
    assert_eq!(
        client.metadata_get(&key).unwrap(),
        Value::List(vec![1i64.into(), 2i64.into()])
    );
    assert!(client.metadata_list().unwrap().get(&key).is_some());
    assert_eq!(client.metadata_delete(&key).unwrap(), Value::Null);
    assert_eq!(client.metadata_get(&key).unwrap(), Value::Null);
}

#[test]
fn a_one_time_password_logs_in_once_and_its_session_is_restricted() {
    let router = Router::shared();
    let owner = client(router, router.backend(2));
    let otp = owner.otp_create().unwrap();
    let login = otp["login"].as_str().unwrap().to_owned();
    let key = otp["plaintext_key"].as_str().unwrap().to_owned();
    assert_eq!(key.len(), 32);
    let otp_user = User {
        username: login.clone(),
        password: key.clone(),
        ..router.backend(2).clone()
    };
    let session = client(router, &otp_user);
    assert_eq!(session.whoami().unwrap()["authid"], "backend-2");
    for error in [
        session.otp_create().unwrap_err(),
        session.apikeys_create(()).unwrap_err(),
    ] {
        assert_eq!(error.wamp_uri(), Some("wamp.error.not_authorized"));
        assert!(error.to_string().contains("is not authorized"), "{error}");
    }
    // Metadata still works for such sessions.
    session.metadata_get("anything").unwrap();
    let error = Client::builder(&router.ws_url)
        .realm(&router.realm)
        .ticket(&login, key.as_str())
        .connect()
        .unwrap_err();
    assert!(
        matches!(error, Error::Aborted { .. }),
        "second use: {error}"
    );
    assert!(owner.otp_list().unwrap().as_list().is_some());
}

#[test]
fn an_api_key_logs_in_until_deleted() {
    let router = Router::shared();
    let owner = client(router, router.backend(3));
    let key = owner
        .apikeys_create(serde_json::json!({"description": "test key"}))
        .unwrap();
    assert_eq!(key["description"], "test key");
    let key_user = User {
        password: key["plaintext_key"].as_str().unwrap().to_owned(),
        ..router.backend(3).clone()
    };
    for _ in 0..2 {
        let session = client(router, &key_user);
        assert_eq!(session.whoami().unwrap()["authid"], "backend-3");
        assert_eq!(
            session.apikeys_list().unwrap_err().wamp_uri(),
            Some("wamp.error.not_authorized")
        );
        session.close();
    }
    let uuid = key["uuid"].as_str().unwrap();
    assert!(
        owner
            .apikeys_list()
            .unwrap()
            .as_list()
            .unwrap()
            .iter()
            .any(|k| k["uuid"] == uuid)
    );
    assert_eq!(owner.apikeys_delete(uuid).unwrap(), true);
    let error = Client::builder(&router.ws_url)
        .realm(&router.realm)
        .ticket(&key_user.username, key_user.password.as_str())
        .connect()
        .unwrap_err();
    assert!(matches!(error, Error::Aborted { .. }), "{error}");
}

#[test]
fn ad_users_and_groups_answer_for_backend_users() {
    let router = Router::shared();
    let client = client(router, router.backend(1));
    assert!(client.ad_users().unwrap().as_list().is_some());
    assert!(client.ad_groups().unwrap().as_list().is_some());
}

#[test]
fn otp_helpers_fall_back_to_the_old_procedure_names() {
    // A server that predates the rename has my.otp.* but no my.otps.*: imitate one under a
    // private URI base, served by a backend session.
    let router = Router::shared();
    let server = client(router, router.backend(1));
    let base = format!("com.izaber.wamp.test.oldnexus{}", std::process::id());
    server
        .register(&format!("{base}.my.otp.create"), |_| {
            Ok(serde_json::json!({"old": true}))
        })
        .unwrap();
    let user = router.backend(2);
    let old_style = Client::builder(&router.ws_url)
        .realm(&router.realm)
        .ticket(&user.username, user.password.as_str())
        .uri_base(&base)
        .connect()
        .unwrap();
    assert_eq!(old_style.otp_create().unwrap()["old"], true);
    // Other errors are not hidden by the fallback.
    assert_eq!(
        old_style.otp_list().unwrap_err().wamp_uri(),
        Some("wamp.error.no_such_procedure")
    );
}

#[test]
fn the_revoked_hook_hears_of_a_registration_taken_over() {
    let _turn = GLOBAL.lock();
    let router = Router::private();
    let (revoked_tx, revoked_rx) = crossbeam_channel::unbounded();
    wamp.hook("revoked", move |details| {
        // Hooks stay for the rest of this process; later revocations find no one listening.
        let _ = revoked_tx.send(details["reason"].as_str().unwrap_or_default().to_owned());
    })
    .unwrap();
    let (typed_tx, typed_rx) = crossbeam_channel::unbounded();
    wamp.on_revoked(move |reason| {
        let _ = typed_tx.send(reason.to_owned());
    });
    init(&router.ws_url, router.backend(1)).unwrap();
    wamp.register("contested.service", |_| Ok("displaced"))
        .unwrap();
    let usurper = client(&router, router.backend(2));
    usurper
        .register_with(
            "contested.service",
            &izaber_wamp::RegisterOptions::new().force_reregister(true),
            |_| Ok("usurper"),
        )
        .unwrap();
    let reason = revoked_rx.recv_timeout(WAIT).expect("revocation reported");
    assert!(reason.contains("contested.service"), "{reason}");
    let typed = typed_rx
        .recv_timeout(WAIT)
        .expect("the typed hook heard it too");
    assert_eq!(typed, reason);
    wamp.disconnect();
}

#[test]
fn an_unknown_hook_name_is_refused() {
    let error = wamp.hook("joined", |_| {}).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("join, leave, disconnect or revoked"),
        "{error}"
    );
}

#[test]
fn the_global_has_visible_roster_entries_and_progressive_calls_too() {
    let _turn = GLOBAL.lock();
    let router = Router::private();
    init(&router.ws_url, router.backend(1)).unwrap();
    let name = "roster.visible.test";
    wamp.roster_register_visible(name, serde_json::json!({"db": "zerp"}), &["frontend"])
        .unwrap();
    let frontend = client(&router, router.frontend());
    let backend = client(&router, router.backend(2));
    assert_eq!(
        frontend
            .roster_query(name)
            .unwrap()
            .as_list()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(backend.roster_query(name).unwrap(), Value::List(Vec::new()));

    backend
        .register("progress.count", |invocation| {
            for i in 1..=3 {
                invocation.progress(&i)?;
            }
            Ok("done")
        })
        .unwrap();
    let mut progress = Vec::new();
    let last = wamp
        .call_progressive(
            "progress.count",
            (),
            (),
            &izaber_wamp::CallOptions::new(),
            |partial| progress.push(partial.value()),
        )
        .unwrap();
    assert_eq!(progress, [Value::from(1), Value::from(2), Value::from(3)]);
    assert_eq!(last.value(), "done");
    wamp.disconnect();
}

/// `wamp` does whatever a `Client` does (a unit test checks that no method is missing): here
/// the typed meta API and the session's details, which it long lacked.
#[test]
fn the_global_has_the_meta_api_and_the_session_details_too() {
    let _turn = GLOBAL.lock();
    let router = Router::shared();
    let _log = router.log_on_failure();
    // The meta API is for the trust role on the test router.
    init(&router.ws_url, router.trust()).unwrap();
    let session = wamp.session_id().unwrap().expect("joined");
    assert_eq!(wamp.authid().unwrap().as_deref(), Some("trust-1"));
    assert_eq!(wamp.authrole().unwrap().as_deref(), Some("trust"));
    assert_eq!(wamp.welcome_details().unwrap()["authid"], "trust-1");
    assert_eq!(wamp.serializer().unwrap(), Serializer::Cbor);
    let info = wamp.session_get(session).unwrap();
    assert_eq!(info.authid.as_deref(), Some("trust-1"));
    assert!(wamp.session_list().unwrap().contains(&session));
    assert!(wamp.session_count().unwrap() >= 1);

    let procedure = format!("meta.from.wamp.{session}");
    assert_eq!(
        wamp.full_uri(&procedure).unwrap(),
        format!("com.izaber.wamp.{procedure}")
    );
    wamp.register(&procedure, |_| Ok(())).unwrap();
    let id = wamp
        .registration_lookup(&procedure, Match::Exact)
        .unwrap()
        .expect("registered");
    assert!(wamp.registration_list().unwrap().exact.contains(&id));
    assert_eq!(wamp.registration_callees(id).unwrap(), [session]);
    assert_eq!(wamp.registration_get(id).unwrap().match_policy, "exact");
    wamp.disconnect();

    // Unconnected, even the methods that cannot fail on a Client say why they cannot answer.
    assert!(matches!(wamp.session_id(), Err(Error::NotInitialized)));
    assert!(matches!(
        wamp.registration_list(),
        Err(Error::NotInitialized)
    ));
}

#[test]
fn with_reconnect_wait_configured_a_call_rides_out_a_router_restart() {
    let _turn = GLOBAL.lock();
    let router = Router::private();
    let yaml = yaml(&router.ws_url, router.backend(1)) + "      reconnect_wait: 15\n";
    initialize_with(InitOptions::new().yaml(yaml).force(true)).unwrap();
    router.kill_hard();
    let deadline = Instant::now() + WAIT;
    while wamp.is_connected() {
        assert!(Instant::now() < deadline, "the outage went unnoticed");
        std::thread::sleep(Duration::from_millis(10));
    }
    let restarter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        router.restart();
        router
    });
    // Made while the router is down: waits for the reconnect instead of failing.
    let whoami = wamp.call("auth.whoami", ()).unwrap();
    assert_eq!(whoami["authid"], "backend-1");
    let _router = restarter.join().unwrap();
    wamp.disconnect();
}

#[test]
fn a_leave_hook_may_use_wamp_while_it_disconnects() {
    let _turn = GLOBAL.lock();
    let router = Router::private();
    let (left_tx, left_rx) = crossbeam_channel::unbounded();
    wamp.hook("leave", move |_details| {
        // Hooks stay for the rest of this process; later leaves find no one listening.
        let _ = left_tx.send(wamp.is_connected());
    })
    .unwrap();
    let (typed_tx, typed_rx) = crossbeam_channel::unbounded();
    wamp.on_leave(move |reason| {
        let _ = typed_tx.send((reason.to_owned(), wamp.is_connected()));
    });
    init(&router.ws_url, router.backend(1)).unwrap();
    let started = Instant::now();
    wamp.close();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "close took {:?}",
        started.elapsed()
    );
    assert_eq!(
        left_rx.try_recv(),
        Ok(false),
        "the hook ran before close returned"
    );
    let (reason, connected) = typed_rx.try_recv().expect("the typed hook ran too");
    assert!(!connected);
    assert!(!reason.is_empty());
}

#[test]
fn a_second_initialize_does_nothing_unless_forced() {
    let _turn = GLOBAL.lock();
    let router = Router::shared();
    init(&router.ws_url, router.backend(1)).unwrap();
    let procedure = format!("init.twice.{}", std::process::id());
    wamp.register(&procedure, |_| Ok("still here")).unwrap();
    let session = wamp.client().unwrap().session_id();

    // As in Python, where each initializer runs once per process.
    izaber_wamp::initialize_with(InitOptions::new().yaml(yaml(&router.ws_url, router.backend(2))))
        .unwrap();
    assert_eq!(wamp.client().unwrap().session_id(), session);
    assert_eq!(wamp.whoami().unwrap()["authid"], "backend-1");
    let caller = client(router, router.backend(3));
    assert_eq!(caller.call(&procedure, ()).unwrap(), "still here");

    // Forced: a new session, as the new configuration says.
    init(&router.ws_url, router.backend(2)).unwrap();
    assert_ne!(wamp.client().unwrap().session_id(), session);
    assert_eq!(wamp.whoami().unwrap()["authid"], "backend-2");
    wamp.disconnect();
}

#[test]
fn the_application_name_picks_its_section_and_reads_back() {
    let _turn = GLOBAL.lock();
    let router = Router::shared();
    let _log = router.log_on_failure();
    let frontend = router.frontend();
    // backend-1 for every script, frontend-1 for the one named nexus_monitor.
    let text = format!(
        "{}  nexus_monitor:\n    required: [db, auth]\n    wamp:\n      connection:\n        username: '{}'\n        password: '{}'\n",
        yaml(&router.ws_url, router.backend(1)),
        frontend.username,
        frontend.password
    );

    // Python: initialize('nexus_monitor')
    initialize_with(
        InitOptions::app("nexus_monitor")
            .yaml(text.clone())
            .force(true),
    )
    .unwrap();
    assert_eq!(wamp.whoami().unwrap()["authid"], "frontend-1");
    let config = izaber_wamp::config().unwrap();
    // Python: config.name
    assert_eq!(config.app_name(), Some("nexus_monitor"));
    // Python: config.nexus_monitor.required
    let required = config.value("nexus_monitor.required").unwrap();
    assert_eq!(required, Value::List(vec!["db".into(), "auth".into()]));
    assert!(matches!(
        config.value("nexus_monitor.requried"),
        Err(izaber_wamp::config::ConfigError::MissingKey { .. })
    ));

    // Without a name, the section is only data: the default user logs in.
    initialize_with(InitOptions::new().yaml(text).force(true)).unwrap();
    assert_eq!(wamp.whoami().unwrap()["authid"], "backend-1");
    let config = izaber_wamp::config().unwrap();
    assert_eq!(config.app_name(), None);
    assert_eq!(config.value("nexus_monitor.required").unwrap()[1], "auth");
    wamp.disconnect();
}

#[test]
fn an_application_section_that_cannot_be_merged_fails_initialize() {
    let _turn = GLOBAL.lock();
    let router = Router::shared();
    let text = format!("{}  monitor: 5\n", yaml(&router.ws_url, router.backend(1)));
    let error = initialize_with(InitOptions::app("monitor").yaml(text).force(true)).unwrap_err();
    assert!(
        matches!(
            &error,
            Error::Config(izaber_wamp::config::ConfigError::WrongType { key, .. }) if key == "monitor"
        ),
        "{error}"
    );
}
