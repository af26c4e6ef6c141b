//! Passwords, tickets, one-time passwords and API keys never reach a log line or a `Debug`
//! output. A binary of its own: it installs a logger that records everything at debug level.
//!
//! (At trace level, tungstenite logs every WebSocket frame's raw bytes, a login's ticket
//! included; the README warns about it.)

mod support;

use std::sync::OnceLock;

use izaber_wamp::protocol::Serializer;
use izaber_wamp::{Client, Error, InitOptions, initialize_with, wamp};
use parking_lot::Mutex;
use support::Router;

struct Recorder(Mutex<String>);

impl log::Log for Recorder {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        let mut all = self.0.lock();
        all.push_str(&format!(
            "{} {}: {}\n",
            record.level(),
            record.target(),
            record.args()
        ));
    }
    fn flush(&self) {}
}

fn recorder() -> &'static Recorder {
    static RECORDER: OnceLock<&'static Recorder> = OnceLock::new();
    RECORDER.get_or_init(|| {
        let recorder: &'static Recorder = Box::leak(Box::new(Recorder(Mutex::new(String::new()))));
        log::set_logger(recorder).unwrap();
        log::set_max_level(log::LevelFilter::Debug);
        recorder
    })
}

#[test]
fn a_full_debug_level_run_logs_no_secret() {
    let log = recorder();
    let router = Router::shared();
    let _guard = router.log_on_failure();
    let mut secrets: Vec<String> = router.users().iter().map(|u| u.password.clone()).collect();

    let backend = router.backend(1);
    let yaml = format!(
        "default:\n  wamp:\n    connection:\n      url: '{}'\n      username: '{}'\n      password: '{}'\n",
        router.tcp_url, backend.username, backend.password
    );
    initialize_with(InitOptions::new().yaml(yaml)).unwrap();
    let config_debug = format!("{:?}", izaber_wamp::config().unwrap());
    wamp.whoami().unwrap();
    wamp.metadata_set(
        "secrets.test",
        serde_json::json!({"password": "metadata-password-1"}),
    )
    .unwrap();
    secrets.push("metadata-password-1".into());
    wamp.metadata_get("secrets.test").unwrap();

    let otp = wamp.otp_create().unwrap();
    let otp_key = otp["plaintext_key"].as_str().unwrap().to_owned();
    let otp_session = wamp.spawn_connection(&backend.username, &otp_key).unwrap();
    otp_session.whoami().unwrap();
    assert!(otp_session.otp_list().is_err());
    secrets.push(otp_key);

    let key = wamp
        .apikeys_create(serde_json::json!({"description": "secret test"}))
        .unwrap();
    let api_key = key["plaintext_key"].as_str().unwrap().to_owned();
    let key_session = wamp.spawn_connection(&backend.username, &api_key).unwrap();
    key_session.whoami().unwrap();
    wamp.apikeys_list().unwrap();
    secrets.push(api_key);

    let cra = router.cra_salted();
    let cra_client = Client::builder(&router.ws_url)
        .realm(&router.realm)
        .wampcra(&cra.username, cra.password.as_str())
        .serializer(Serializer::Json)
        .connect()
        .unwrap();
    let cryptosign_client = router
        .client(&router.ws_url, router.user("cs-backend"))
        .connect()
        .unwrap();
    let scram_client = router
        .client(&router.tcp_url, router.user("scram-argon2"))
        .connect()
        .unwrap();
    let refused = Client::builder(&router.ws_url)
        .realm(&router.realm)
        .ticket("backend-2", "wrong-password-zz9")
        .connect()
        .unwrap_err();
    assert!(matches!(refused, Error::Aborted { .. }));
    secrets.push("wrong-password-zz9".into());
    let frontend = router.frontend();
    wamp.change_user(&frontend.username, &frontend.password)
        .unwrap();
    assert!(
        wamp.change_user("frontend-1", "another-wrong-pw-zz8")
            .is_err()
    );
    secrets.push("another-wrong-pw-zz8".into());

    let builder_debug = format!(
        "{:?}",
        Client::builder(&router.ws_url).ticket("x", "builder-secret-zz7")
    );
    secrets.push("builder-secret-zz7".into());
    let client_debug = format!(
        "{otp_session:?} {key_session:?} {cra_client:?} {cryptosign_client:?} {scram_client:?}"
    );
    wamp.disconnect();

    let logged = log.0.lock().clone();
    // The run did log its traffic, so finding no secret means something.
    assert!(logged.contains("sending"), "nothing was logged");
    assert!(logged.contains("AUTHENTICATE") || logged.contains("Authenticate"));
    assert!(
        logged.contains("plaintext_key"),
        "the OTP and key records were logged"
    );
    if std::env::var_os("SECRETS_TEST_DUMP").is_some() {
        eprintln!("{logged}");
    }
    for secret in &secrets {
        for (what, text) in [
            ("the log", &logged),
            ("Config's Debug", &config_debug),
            ("ClientBuilder's Debug", &builder_debug),
            ("Client's Debug", &client_debug),
        ] {
            assert!(
                !text.contains(secret.as_str()),
                "{what} contains a secret ({} characters)",
                secret.len()
            );
        }
    }
}
