//! WAMP-Cryptosign and WAMP-SCRAM logins against the test router's static principals.
//! (Challenges no real router sends, malformed or hostile ones, are unit-tested beside the
//! signing code: `src/session/cryptosign.rs` and `src/session/scram.rs`.)

mod support;

use std::time::Duration;

use izaber_wamp::protocol::Serializer;
use izaber_wamp::{Auth, Client, CryptosignKey, Error};
use support::Router;

fn whoami(client: &Client) -> (String, String) {
    let me = client.whoami().unwrap();
    (
        me["authid"].as_str().unwrap().to_owned(),
        me["role"].as_str().unwrap().to_owned(),
    )
}

fn cryptosign_user(router: &Router) -> &support::User {
    router.user("cs-backend")
}

fn info_text(router: &Router, field: &str) -> String {
    let users = router.info["users"].as_array().unwrap();
    let user = users
        .iter()
        .find(|u| u["username"] == "cs-backend")
        .unwrap();
    user[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} for cs-backend"))
        .to_owned()
}

#[test]
fn cryptosign_logs_in_on_every_transport_and_serializer() {
    let router = Router::shared();
    let _log = router.log_on_failure();
    let user = cryptosign_user(router);
    for (url, serializer) in [
        (&router.ws_url, Serializer::Cbor),
        (&router.wss_url, Serializer::Json),
        (&router.tcp_url, Serializer::MsgPack),
        (&router.unix_url, Serializer::Cbor),
    ] {
        let client = router
            .client(url, user)
            .serializer(serializer)
            .connect()
            .unwrap_or_else(|e| panic!("{url} {serializer}: {e}"));
        assert_eq!(whoami(&client), ("cs-backend".into(), "backend".into()));
        assert_eq!(client.welcome_details()["authmethod"], "cryptosign");
        client.close();
    }
}

#[test]
fn cryptosign_keys_load_from_the_files_autobahn_and_crossbar_write() {
    let router = Router::shared();
    let _log = router.log_on_failure();
    let expected = info_text(router, "public_key_hex");
    for field in ["ssh_key_file", "crossbar_key_file"] {
        let key = CryptosignKey::from_file(info_text(router, field)).unwrap();
        assert_eq!(key.public_key_hex(), expected, "{field}");
        let client = Client::builder(&router.ws_url)
            .realm(&router.realm)
            .uri_base("com.izaber.wamp")
            .cryptosign("cs-backend", key)
            .connect()
            .unwrap_or_else(|e| panic!("{field}: {e}"));
        assert_eq!(whoami(&client).0, "cs-backend");
        client.close();
    }
}

#[test]
fn without_an_authid_the_router_finds_the_user_by_key() {
    let router = Router::shared();
    let _log = router.log_on_failure();
    let key = CryptosignKey::from_hex_seed(&cryptosign_user(router).password).unwrap();
    let client = Client::builder(&router.tcp_url)
        .realm(&router.realm)
        .uri_base("com.izaber.wamp")
        .auth(Auth::Cryptosign { authid: None, key })
        .connect()
        .unwrap();
    assert_eq!(whoami(&client), ("cs-backend".into(), "backend".into()));
    client.close();
}

#[test]
fn a_key_the_router_does_not_list_is_refused() {
    let router = Router::shared();
    let _log = router.log_on_failure();
    let stranger =
        CryptosignKey::from_hex_seed(&info_text(router, "unauthorized_seed_hex")).unwrap();
    for authid in [Some("cs-backend".to_owned()), None] {
        let err = Client::builder(&router.ws_url)
            .realm(&router.realm)
            .auth(Auth::Cryptosign {
                authid: authid.clone(),
                key: stranger.clone(),
            })
            .reconnect(izaber_wamp::ReconnectPolicy::never())
            .connect()
            .unwrap_err();
        assert!(
            matches!(err, Error::Aborted { .. }),
            "authid {authid:?}: {err}"
        );
    }
}

#[test]
fn scram_logs_in_with_argon2id_and_pbkdf2_and_checks_the_router() {
    let router = Router::shared();
    let _log = router.log_on_failure();
    for (name, role) in [("scram-argon2", "backend"), ("scram-pbkdf2", "frontend")] {
        for url in [&router.ws_url, &router.tcp_url] {
            let client = router
                .client(url, router.user(name))
                .connect()
                .unwrap_or_else(|e| panic!("{name} on {url}: {e}"));
            assert_eq!(whoami(&client), (name.to_owned(), role.to_owned()));
            // The router proved it knows the user's keys: the signature we checked is there.
            let authextra = &client.welcome_details()["authextra"];
            assert!(authextra["scram_server_signature"].as_str().is_some());
            client.close();
        }
    }
}

#[test]
fn scram_with_a_wrong_password_is_refused_quickly() {
    let router = Router::shared();
    let _log = router.log_on_failure();
    for name in ["scram-argon2", "scram-pbkdf2", "nobody-at-all"] {
        let started = std::time::Instant::now();
        let err = Client::builder(&router.ws_url)
            .realm(&router.realm)
            .scram(name, "not-the-password")
            .reconnect(izaber_wamp::ReconnectPolicy::never())
            .connect()
            .unwrap_err();
        assert!(matches!(err, Error::Aborted { .. }), "{name}: {err}");
        assert!(started.elapsed() < Duration::from_secs(10), "{name}");
    }
}

#[test]
fn izaber_yaml_selects_cryptosign_and_scram() {
    let router = Router::shared();
    let _log = router.log_on_failure();
    let seed = &cryptosign_user(router).password;
    let key_file = info_text(router, "ssh_key_file");
    let scram = router.user("scram-pbkdf2");
    for (auth, expected) in [
        (
            format!("authmethods: [cryptosign]\n      private_key: '{seed}'"),
            "cs-backend",
        ),
        (
            format!(
                "authmethods: [cryptosign]\n      username: cs-backend\n      private_key_file: '{key_file}'"
            ),
            "cs-backend",
        ),
        (
            format!(
                "authmethods: [scram]\n      username: {}\n      password: '{}'",
                scram.username, scram.password
            ),
            "scram-pbkdf2",
        ),
    ] {
        let yaml = format!(
            "default:\n  wamp:\n    connection:\n      url: '{}'\n      {auth}\n",
            router.ws_url
        );
        let config = izaber_wamp::config::Config::from_yaml_str(&yaml, None).unwrap();
        let client = izaber_wamp::ClientBuilder::from_config(&config.wamp().unwrap())
            .unwrap()
            .connect()
            .unwrap_or_else(|e| panic!("{auth}: {e}"));
        assert_eq!(whoami(&client).0, expected);
        client.close();
    }
}
