//! The typed `wamp:` settings: [`WampConfig`], its defaults, and the reading and checking of
//! each `wamp.*` key.

use std::path::PathBuf;
use std::time::Duration;

use serde_yaml::Value;

use super::error::{describe, wrong_type};
use super::{Config, ConfigError};
use crate::Secret;

/// The settings a WAMP client needs, read from the `wamp:` section by [`Config::wamp`].
///
/// Keys and defaults are those of Python `izaber-wamp` (which passes every key under
/// `wamp.connection` to its client library, `swampyer`). A key that is missing or `null`
/// takes its default. [`WampConfig::default()`] holds all the defaults.
///
/// `Debug` shows the password as `<redacted>`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct WampConfig {
    /// `wamp.run`: connect at start-up. Default `true`. Also reads `yes`/`no`/`on`/`off` and
    /// integers (zero is false).
    pub run: bool,
    /// `wamp.connection.url`: the router's URL, or a list of them (tried in turn on connect and
    /// on every reconnect, see [`RouterUrls`](crate::RouterUrls)). Default
    /// `wss://nexus.izaber.com/ws`.
    pub urls: Vec<String>,
    /// `wamp.connection.realm`. Default `izaber`.
    pub realm: String,
    /// `wamp.connection.username`: the ticket-authentication user. Default `anonymous` (the
    /// value Python `izaber-wamp` fills in), so [`Config::wamp`] always gives `Some`.
    pub username: Option<String>,
    /// `wamp.connection.password`: the ticket. Default `changeme` (the value Python
    /// `izaber-wamp` fills in), so [`Config::wamp`] always gives `Some`.
    pub password: Option<Secret>,
    /// `wamp.connection.authid`: the `authid` sent in HELLO. Default: the username (Python
    /// `swampyer` copies the username there).
    pub authid: Option<String>,
    /// `wamp.connection.authmethods`: a list, or one string. Default `["ticket"]`. An empty
    /// list becomes `["anonymous"]`, which is what Python `swampyer` then sends.
    pub authmethods: Vec<String>,
    /// `wamp.connection.private_key`: the Ed25519 key seed, 64 hex digits, for
    /// `authmethods: [cryptosign]`. `Debug` shows `<redacted>`. Default none.
    pub private_key: Option<Secret>,
    /// `wamp.connection.private_key_file`: a file holding the WAMP-Cryptosign key (OpenSSH,
    /// Crossbar's `key.priv`, or the seed in hex or raw; see
    /// [`CryptosignKey::from_file`](crate::CryptosignKey::from_file)), relative to the current
    /// directory or absolute. Used when `private_key` is not set. Default none.
    pub private_key_file: Option<PathBuf>,
    /// `wamp.connection.serializers` (a list, or one string), else
    /// `wamp.connection.serializer` (one string, or a list). Default `["cbor"]`. Each is one
    /// of `json`, `msgpack`, `cbor`, in order of preference.
    pub serializers: Vec<String>,
    /// `wamp.connection.uri_base`: the prefix, joined with a `.`, of every URI the client
    /// calls, registers, publishes or subscribes to; empty for none. Default `com.izaber.wamp`.
    pub uri_base: String,
    /// `wamp.connection.timeout`: seconds (integer or float, above zero) to wait for the
    /// router's answer to a request, WELCOME included. Default 300.
    pub timeout: Duration,
    /// `wamp.connection.auto_reconnect`: the longest wait, in seconds, between two attempts to
    /// reconnect after the connection is lost, as in Python (see
    /// [`ReconnectPolicy`](crate::ReconnectPolicy): no backoff, waits drawn from the second
    /// half of this). `false` or `0` for no reconnection, `true` for the default, 0.5 s.
    pub auto_reconnect: Option<Duration>,
    /// `wamp.connection.reconnect_wait`: seconds a request made while the client reconnects
    /// waits for the connection before failing (see
    /// [`ClientBuilder::reconnect_wait`](crate::ClientBuilder::reconnect_wait)). Default 0:
    /// fail at once.
    pub reconnect_wait: Duration,
    /// `wamp.connection.ping_interval`: how long (s) a joined connection may stay quiet before
    /// it is probed: a WebSocket ping, or on RawSocket a WAMP round trip (Crossbar's RawSocket
    /// cannot parse PING frames); `false` or `0` for none. Default 3 s.
    pub ping_interval: Option<Duration>,
    /// `wamp.connection.heartbeat_timeout`: seconds without any sign of the router (a
    /// message, a pong, bytes moving) after which the connection counts as lost (above zero).
    /// Default 10 s.
    pub heartbeat_timeout: Duration,
    /// `wamp.connection.max_payload_size`: largest message, in bytes, the client sends
    /// (above zero). Default 50 000 000.
    pub max_payload_size: usize,
    /// `wamp.connection.handler_threads`: handlers (invocations, events, hooks) run at once
    /// at most, each on a thread of its own (above zero; see
    /// [`ClientBuilder::handler_threads`](crate::ClientBuilder::handler_threads)). Default
    /// [`DEFAULT_HANDLER_THREADS`](crate::DEFAULT_HANDLER_THREADS).
    pub handler_threads: usize,
    /// `wamp.connection.handler_queue`: invocations and events that may wait for a busy
    /// handler thread; beyond it invocations are refused at once with
    /// `wamp.error.concurrency_limit` and events dropped (see
    /// [`ClientBuilder::handler_queue`](crate::ClientBuilder::handler_queue)). Default
    /// [`DEFAULT_HANDLER_QUEUE`](crate::DEFAULT_HANDLER_QUEUE).
    pub handler_queue: usize,
    /// `wamp.shutdown_grace`: seconds [`Wamp::run_until_stopped`](crate::Wamp::run_until_stopped)
    /// lets a stopping service finish what it is doing (see
    /// [`Client::shutdown`](crate::Client::shutdown)). Default 5.
    pub shutdown_grace: Duration,
    /// `wamp.allocator_tuning`: `false` leaves glibc's allocator alone (see
    /// [`ClientBuilder::allocator_tuning`](crate::ClientBuilder::allocator_tuning)). Default
    /// unset: tuned, unless the environment says otherwise.
    pub allocator_tuning: Option<bool>,
    /// `wamp.connection.handler_queue_bytes`: encoded bytes of what may wait for a busy
    /// handler thread. Default [`DEFAULT_HANDLER_QUEUE_BYTES`](crate::DEFAULT_HANDLER_QUEUE_BYTES).
    pub handler_queue_bytes: usize,
    /// `wamp.connection.sslopt.ca_certs`: a PEM file of extra CA certificates to trust for
    /// `wss://`, as a path relative to the current directory or absolute. Default none. The
    /// key is the one Python `swampyer` hands to its WebSocket library (though swampyer 3.1
    /// fails on it when the `websockets` package is installed).
    pub ca_file: Option<PathBuf>,
    /// `wamp.connection.sslopt.cert_reqs`: whether to verify the router's certificate. `0`,
    /// `CERT_NONE`, `none` or `false` turn verification off; `1`/`2`, `CERT_OPTIONAL`,
    /// `CERT_REQUIRED`, `optional`, `required` or `true` keep it on. Default `true`.
    ///
    /// Python `swampyer` does not verify certificates unless `sslopt` is set; this crate
    /// verifies by default.
    pub tls_verify: bool,
    /// `wamp.connection.sslopt.check_hostname`: whether the certificate must name the host.
    /// Default: the value of `tls_verify`.
    pub tls_verify_hostname: bool,
    /// `wamp.zerp.database`: the ZERP database that [`zerp`](crate::zerp::zerp) calls, as
    /// Python's `izaber-wamp-zerp` reads it. Default none (Python's placeholder
    /// `databasename` names no database, so an unset key is told as such).
    pub zerp_database: Option<String>,
}

/// Python `izaber-wamp`'s default router URL.
const DEFAULT_URL: &str = "wss://nexus.izaber.com/ws";

impl Default for WampConfig {
    /// The Python `izaber-wamp` defaults (with certificate verification on).
    fn default() -> Self {
        WampConfig {
            run: true,
            urls: vec![DEFAULT_URL.to_owned()],
            realm: "izaber".to_owned(),
            username: Some("anonymous".to_owned()),
            password: Some(Secret::new("changeme")),
            authid: Some("anonymous".to_owned()),
            authmethods: vec!["ticket".to_owned()],
            private_key: None,
            private_key_file: None,
            serializers: vec!["cbor".to_owned()],
            uri_base: "com.izaber.wamp".to_owned(),
            timeout: Duration::from_secs(300),
            auto_reconnect: Some(crate::DEFAULT_RECONNECT_INTERVAL),
            reconnect_wait: Duration::ZERO,
            ping_interval: Some(Duration::from_secs(3)),
            heartbeat_timeout: Duration::from_secs(10),
            max_payload_size: 50_000_000,
            handler_threads: crate::DEFAULT_HANDLER_THREADS,
            handler_queue: crate::DEFAULT_HANDLER_QUEUE,
            handler_queue_bytes: crate::DEFAULT_HANDLER_QUEUE_BYTES,
            allocator_tuning: None,
            shutdown_grace: crate::CLOSE_GRACE,
            ca_file: None,
            tls_verify: true,
            tls_verify_hostname: true,
            zerp_database: None,
        }
    }
}

/// Serializer names a client of this crate can speak.
const SERIALIZERS: &[&str] = &["json", "msgpack", "cbor"];

impl WampConfig {
    pub(super) fn from_config(config: &Config) -> Result<WampConfig, ConfigError> {
        const CONN: &str = "wamp.connection";
        let key = |name: &str| format!("{CONN}.{name}");
        let defaults = WampConfig::default();

        config.expect_mapping("wamp")?;
        config.expect_mapping(CONN)?;
        config.expect_mapping(&key("sslopt"))?;

        let username = config.get_string(&key("username"))?.or(defaults.username);
        let password = config
            .get_string(&key("password"))?
            .map(Secret::from)
            .or(defaults.password);
        let authid = config
            .get_string(&key("authid"))?
            .or_else(|| username.clone());

        let mut authmethods = config
            .get_string_list(&key("authmethods"))?
            .unwrap_or(defaults.authmethods);
        if authmethods.is_empty() {
            authmethods.push("anonymous".to_owned());
        }

        let private_key = config.get_string(&key("private_key"))?.map(Secret::from);
        let private_key_file = config
            .get_string(&key("private_key_file"))?
            .map(PathBuf::from);
        if authmethods.iter().any(|m| m == "cryptosign")
            && private_key.is_none()
            && private_key_file.is_none()
        {
            return Err(ConfigError::InvalidValue {
                key: key("authmethods"),
                message: "cryptosign needs wamp.connection.private_key or private_key_file"
                    .to_owned(),
            });
        }

        let urls = config
            .get_string_list(&key("url"))?
            .unwrap_or(defaults.urls);
        if urls.is_empty() {
            return Err(ConfigError::InvalidValue {
                key: key("url"),
                message: "must name at least one router URL".to_owned(),
            });
        }

        let serializers = match config.get_string_list(&key("serializers"))? {
            Some(list) => (key("serializers"), list),
            None => match config.get_string_list(&key("serializer"))? {
                Some(list) => (key("serializer"), list),
                None => (key("serializer"), defaults.serializers),
            },
        };
        let serializers = check_serializers(serializers.0, serializers.1)?;

        let max_payload_size = config
            .get_count(&key("max_payload_size"), 1, "bytes")?
            .unwrap_or(defaults.max_payload_size);
        let handler_threads = config
            .get_count(&key("handler_threads"), 1, "threads")?
            .unwrap_or(defaults.handler_threads);
        let handler_queue = config
            .get_count(&key("handler_queue"), 0, "invocations and events")?
            .unwrap_or(defaults.handler_queue);
        let handler_queue_bytes = config
            .get_count(&key("handler_queue_bytes"), 0, "bytes")?
            .unwrap_or(defaults.handler_queue_bytes);

        let tls_verify = match config.node(&key("sslopt.cert_reqs")) {
            None | Some(Value::Null) => defaults.tls_verify,
            Some(value) => cert_reqs_to_verify(value).ok_or_else(|| ConfigError::InvalidValue {
                key: key("sslopt.cert_reqs"),
                message: "must be 0, 1, 2, CERT_NONE, CERT_OPTIONAL, CERT_REQUIRED or a boolean"
                    .to_owned(),
            })?,
        };
        let tls_verify_hostname = config
            .get_bool(&key("sslopt.check_hostname"))?
            .unwrap_or(tls_verify);

        Ok(WampConfig {
            run: config.get_bool("wamp.run")?.unwrap_or(defaults.run),
            urls,
            realm: config.get_string(&key("realm"))?.unwrap_or(defaults.realm),
            username,
            password,
            authid,
            authmethods,
            private_key,
            private_key_file,
            serializers,
            uri_base: config
                .get_string(&key("uri_base"))?
                .unwrap_or(defaults.uri_base),
            timeout: config
                .get_positive_seconds(&key("timeout"))?
                .unwrap_or(defaults.timeout),
            auto_reconnect: config
                .get_optional_seconds(&key("auto_reconnect"), crate::DEFAULT_RECONNECT_INTERVAL)?
                .unwrap_or(defaults.auto_reconnect),
            reconnect_wait: config
                .get_seconds(&key("reconnect_wait"))?
                .unwrap_or(defaults.reconnect_wait),
            ping_interval: config
                .get_optional_seconds(&key("ping_interval"), Duration::from_secs(3))?
                .unwrap_or(defaults.ping_interval),
            heartbeat_timeout: config
                .get_positive_seconds(&key("heartbeat_timeout"))?
                .unwrap_or(defaults.heartbeat_timeout),
            max_payload_size,
            handler_threads,
            handler_queue,
            handler_queue_bytes,
            allocator_tuning: config.get_bool("wamp.allocator_tuning")?,
            shutdown_grace: config
                .get_seconds("wamp.shutdown_grace")?
                .unwrap_or(defaults.shutdown_grace),
            ca_file: config
                .get_string(&key("sslopt.ca_certs"))?
                .map(PathBuf::from),
            tls_verify,
            tls_verify_hostname,
            zerp_database: config
                .get_string("wamp.zerp.database")?
                .filter(|database| !database.is_empty()),
        })
    }
}

fn check_serializers(key: String, list: Vec<String>) -> Result<Vec<String>, ConfigError> {
    if list.is_empty() {
        return Err(ConfigError::InvalidValue {
            key,
            message: "must name at least one serializer (json, msgpack or cbor)".to_owned(),
        });
    }
    if let Some(bad) = list.iter().find(|s| !SERIALIZERS.contains(&s.as_str())) {
        return Err(ConfigError::InvalidValue {
            key,
            message: format!("unknown serializer '{bad}'; use json, msgpack or cbor"),
        });
    }
    Ok(list)
}

/// Python `ssl.CERT_*` as `sslopt.cert_reqs`: `CERT_NONE` (0) turns verification off.
fn cert_reqs_to_verify(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_u64()? {
            0 => Some(false),
            1 | 2 => Some(true),
            _ => None,
        },
        Value::String(s) => {
            let lower = s.to_ascii_lowercase();
            match lower.strip_prefix("ssl.").unwrap_or(&lower) {
                "cert_none" | "none" => Some(false),
                "cert_optional" | "cert_required" | "optional" | "required" => Some(true),
                other => value_to_bool(&Value::String(other.to_owned())),
            }
        }
        _ => None,
    }
}

impl Config {
    fn expect_mapping(&self, key: &str) -> Result<(), ConfigError> {
        match self.node(key) {
            None | Some(Value::Null) | Some(Value::Mapping(_)) => Ok(()),
            Some(other) => Err(wrong_type(key, "a mapping", other)),
        }
    }

    fn get_string(&self, key: &str) -> Result<Option<String>, ConfigError> {
        Ok(self.get_str(key)?.map(str::to_owned))
    }

    /// A boolean, also read from PyYAML 1.1 words (`yes`, `no`, `on`, `off`) and integers
    /// (zero is false), as Python's truthiness would read them.
    fn get_bool(&self, key: &str) -> Result<Option<bool>, ConfigError> {
        match self.node(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => value_to_bool(value)
                .map(Some)
                .ok_or_else(|| wrong_type(key, "a boolean", value)),
        }
    }

    /// A non-negative number of seconds (integer or float). One too large for a `Duration`
    /// (`1e20`, `.inf`) is `Duration::MAX`, which every wait reads as "no limit".
    fn get_seconds(&self, key: &str) -> Result<Option<Duration>, ConfigError> {
        match self.node(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => {
                let secs = n.as_f64().unwrap_or(f64::NAN);
                crate::deadline::seconds(secs)
                    .map(Some)
                    .ok_or_else(|| ConfigError::InvalidValue {
                        key: key.to_owned(),
                        message: "must be a number of seconds, zero or more".to_owned(),
                    })
            }
            Some(other) => Err(wrong_type(key, "a number of seconds", other)),
        }
    }

    /// A whole number of `what`, at least `least`. One too large for a `usize` is
    /// `usize::MAX`: every such number is a bound, and no bound can be reached past that.
    fn get_count(&self, key: &str, least: u64, what: &str) -> Result<Option<usize>, ConfigError> {
        match self.node(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .filter(|&n| n >= least)
                .map(|n| Some(usize::try_from(n).unwrap_or(usize::MAX)))
                .ok_or_else(|| ConfigError::InvalidValue {
                    key: key.to_owned(),
                    message: match least {
                        0 => format!("must be a whole number of {what}, zero or more"),
                        1 => format!("must be a whole number of {what} above zero"),
                        _ => format!("must be a whole number of {what}, {least} or more"),
                    },
                }),
            Some(other) => Err(wrong_type(key, "a number", other)),
        }
    }

    /// A strictly positive number of seconds.
    fn get_positive_seconds(&self, key: &str) -> Result<Option<Duration>, ConfigError> {
        match self.get_seconds(key)? {
            Some(d) if d.is_zero() => Err(ConfigError::InvalidValue {
                key: key.to_owned(),
                message: "must be greater than zero seconds".to_owned(),
            }),
            other => Ok(other),
        }
    }

    /// A number of seconds that `false` or `0` turns off and `true` sets to `if_true`.
    fn get_optional_seconds(
        &self,
        key: &str,
        if_true: Duration,
    ) -> Result<Option<Option<Duration>>, ConfigError> {
        match self.node(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(_)) => {
                let d = self.get_seconds(key)?.unwrap_or_default();
                Ok(Some((!d.is_zero()).then_some(d)))
            }
            Some(value) => match value_to_bool(value) {
                Some(on) => Ok(Some(on.then_some(if_true))),
                None => Err(wrong_type(key, "a number of seconds or a boolean", value)),
            },
        }
    }

    /// A string or a list of strings, as a list.
    fn get_string_list(&self, key: &str) -> Result<Option<Vec<String>>, ConfigError> {
        const EXPECTED: &str = "a string or a list of strings";
        match self.node(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(vec![s.clone()])),
            Some(Value::Sequence(items)) => items
                .iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(ConfigError::WrongType {
                        key: key.to_owned(),
                        expected: EXPECTED,
                        found: format!("a list holding {}", describe(other)),
                    }),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(wrong_type(key, EXPECTED, other)),
        }
    }
}

fn value_to_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n
            .as_i64()
            .map(|i| i != 0)
            .or_else(|| n.as_u64().map(|u| u != 0)),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "yes" | "on" | "true" => Some(true),
            "no" | "off" | "false" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::yaml;

    // --- WAMP defaults and keys ---------------------------------------------------------

    #[test]
    fn wamp_defaults_when_section_missing() {
        let config = yaml("default:\n  log: {level: 10}\n", None);
        let wamp = config.wamp().unwrap();
        assert_eq!(wamp, WampConfig::default());
        assert!(wamp.run);
        assert_eq!(wamp.urls, ["wss://nexus.izaber.com/ws"]);
        assert_eq!(wamp.realm, "izaber");
        assert_eq!(wamp.username.as_deref(), Some("anonymous"));
        assert_eq!(wamp.password.as_ref().map(Secret::expose), Some("changeme"));
        assert_eq!(wamp.authid.as_deref(), Some("anonymous"));
        assert_eq!(wamp.authmethods, ["ticket"]);
        assert_eq!(wamp.serializers, ["cbor"]);
        assert_eq!(wamp.uri_base, "com.izaber.wamp");
        assert_eq!(wamp.timeout, Duration::from_secs(300));
        assert_eq!(wamp.auto_reconnect, Some(Duration::from_millis(500)));
        assert_eq!(wamp.reconnect_wait, Duration::ZERO);
        assert_eq!(wamp.ping_interval, Some(Duration::from_secs(3)));
        assert_eq!(wamp.heartbeat_timeout, Duration::from_secs(10));
        assert_eq!(wamp.max_payload_size, 50_000_000);
        assert_eq!(wamp.ca_file, None);
        assert!(wamp.tls_verify && wamp.tls_verify_hostname);
    }

    #[test]
    fn wamp_defaults_when_sections_are_null() {
        let wamp = yaml("default:\n  wamp:\n", None).wamp().unwrap();
        assert_eq!(wamp, WampConfig::default());
        let wamp = yaml("default:\n  wamp:\n    connection:\n", None)
            .wamp()
            .unwrap();
        assert_eq!(wamp, WampConfig::default());
        let wamp = yaml("default:\n  wamp:\n    connection:\n      url: ~\n", None)
            .wamp()
            .unwrap();
        assert_eq!(wamp.urls, [DEFAULT_URL]);
        // An empty file is no environment at all, as in Python.
        assert!(matches!(
            Config::from_yaml_str("", None),
            Err(ConfigError::UnknownEnvironment { .. })
        ));
        // `default:` with nothing under it is an empty environment.
        assert_eq!(
            yaml("default:\n", None).wamp().unwrap(),
            WampConfig::default()
        );
    }

    #[test]
    fn wamp_reads_every_key() {
        let config = yaml(
            r#"
default:
  wamp:
    run: no
    allocator_tuning: off
    shutdown_grace: 20
    connection:
      url: 'ws://localhost:8282/ws'
      realm: realm1
      username: backend-2
      password: '8OAuS3ye7qPHcwC3'
      authid: someone-else
      authmethods: [ticket, anonymous]
      uri_base: ''
      timeout: 2.5
      auto_reconnect: false
      reconnect_wait: 20
      ping_interval: 0
      heartbeat_timeout: 30
      max_payload_size: 1024
      handler_threads: 16
      handler_queue: 0
      handler_queue_bytes: 1048576
      sslopt:
        ca_certs: /etc/ssl/zaber-ca.pem
        cert_reqs: 2
        check_hostname: false
"#,
            None,
        );
        let wamp = config.wamp().unwrap();
        assert!(!wamp.run);
        assert_eq!(wamp.allocator_tuning, Some(false));
        assert_eq!(wamp.shutdown_grace, Duration::from_secs(20));
        assert_eq!(wamp.urls, ["ws://localhost:8282/ws"]);
        assert_eq!(wamp.realm, "realm1");
        assert_eq!(wamp.username.as_deref(), Some("backend-2"));
        assert_eq!(
            wamp.password.as_ref().map(Secret::expose),
            Some("8OAuS3ye7qPHcwC3")
        );
        assert_eq!(wamp.authid.as_deref(), Some("someone-else"));
        assert_eq!(wamp.authmethods, ["ticket", "anonymous"]);
        assert_eq!(wamp.uri_base, "");
        assert_eq!(wamp.timeout, Duration::from_millis(2500));
        assert_eq!(wamp.auto_reconnect, None);
        assert_eq!(wamp.reconnect_wait, Duration::from_secs(20));
        assert_eq!(wamp.ping_interval, None);
        assert_eq!(wamp.heartbeat_timeout, Duration::from_secs(30));
        assert_eq!(wamp.max_payload_size, 1024);
        assert_eq!(wamp.handler_threads, 16);
        assert_eq!(wamp.handler_queue, 0);
        assert_eq!(wamp.handler_queue_bytes, 1 << 20);
        assert_eq!(wamp.ca_file, Some(PathBuf::from("/etc/ssl/zaber-ca.pem")));
        assert!(wamp.tls_verify);
        assert!(!wamp.tls_verify_hostname);
    }

    #[test]
    fn handler_bounds_must_be_whole_numbers_and_threads_at_least_one() {
        let read = |key: &str, value: &str| {
            yaml(
                &format!("default: {{wamp: {{connection: {{{key}: {value}}}}}}}"),
                None,
            )
            .wamp()
        };
        assert_eq!(
            read("handler_threads", "0").unwrap_err().to_string(),
            "wamp.connection.handler_threads: must be a whole number of threads above zero"
        );
        assert_eq!(
            read("handler_queue", "-1").unwrap_err().to_string(),
            "wamp.connection.handler_queue: must be a whole number of invocations and events, \
             zero or more"
        );
        assert_eq!(
            read("handler_queue_bytes", "1.5").unwrap_err().to_string(),
            "wamp.connection.handler_queue_bytes: must be a whole number of bytes, zero or more"
        );
        assert!(read("handler_threads", "'many'").is_err());
        let defaults = read("handler_queue", "~").unwrap();
        assert_eq!(defaults.handler_threads, crate::DEFAULT_HANDLER_THREADS);
        assert_eq!(defaults.handler_queue, crate::DEFAULT_HANDLER_QUEUE);
        assert_eq!(
            defaults.handler_queue_bytes,
            crate::DEFAULT_HANDLER_QUEUE_BYTES
        );
    }

    #[test]
    fn cryptosign_keys_come_from_the_connection_section_and_stay_redacted() {
        let seed = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";
        let wamp = yaml(
            &format!(
                "default: {{wamp: {{connection: {{authmethods: [cryptosign], \
                 private_key: '{seed}', private_key_file: keys/id_ed25519}}}}}}"
            ),
            None,
        )
        .wamp()
        .unwrap();
        assert_eq!(wamp.private_key.as_ref().map(Secret::expose), Some(seed));
        assert_eq!(
            wamp.private_key_file,
            Some(PathBuf::from("keys/id_ed25519"))
        );
        assert!(!format!("{wamp:?}").contains(seed));

        let err = yaml(
            "default: {wamp: {connection: {authmethods: [cryptosign]}}}",
            None,
        )
        .wamp()
        .unwrap_err();
        assert!(err.to_string().contains("private_key"), "{err}");
    }

    #[test]
    fn authid_follows_username_and_empty_authmethods_mean_anonymous() {
        let wamp = yaml(
            "default: {wamp: {connection: {username: bob, authmethods: []}}}",
            None,
        )
        .wamp()
        .unwrap();
        assert_eq!(wamp.authid.as_deref(), Some("bob"));
        assert_eq!(wamp.authmethods, ["anonymous"]);
        let wamp = yaml("default: {wamp: {connection: {authmethods: ticket}}}", None)
            .wamp()
            .unwrap();
        assert_eq!(wamp.authmethods, ["ticket"]);
    }

    #[test]
    fn serializer_single_string_or_list() {
        let one = |body: &str| {
            yaml(&format!("default: {{wamp: {{connection: {body}}}}}"), None)
                .wamp()
                .map(|w| w.serializers)
        };
        assert_eq!(one("{serializer: json}").unwrap(), ["json"]);
        assert_eq!(
            one("{serializer: [msgpack, json]}").unwrap(),
            ["msgpack", "json"]
        );
        assert_eq!(
            one("{serializers: [json, cbor]}").unwrap(),
            ["json", "cbor"]
        );
        assert_eq!(one("{serializers: msgpack}").unwrap(), ["msgpack"]);
        // Python: an explicit `serializers` list wins over `serializer`.
        assert_eq!(
            one("{serializer: cbor, serializers: [json]}").unwrap(),
            ["json"]
        );
        let err = one("{serializer: jsn}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "wamp.connection.serializer: unknown serializer 'jsn'; use json, msgpack or cbor"
        );
        let err = one("{serializers: []}").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("wamp.connection.serializers: must name")
        );
        let err = one("{serializers: [json, 5]}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "wamp.connection.serializers must be a string or a list of strings, \
             found a list holding a number"
        );
    }

    #[test]
    fn timeout_accepts_int_and_float_and_rejects_bad_values() {
        let timeout = |v: &str| {
            yaml(
                &format!("default: {{wamp: {{connection: {{timeout: {v}}}}}}}"),
                None,
            )
            .wamp()
            .map(|w| w.timeout)
        };
        assert_eq!(timeout("10").unwrap(), Duration::from_secs(10));
        assert_eq!(timeout("0.25").unwrap(), Duration::from_millis(250));
        assert_eq!(
            timeout("-1").unwrap_err().to_string(),
            "wamp.connection.timeout: must be a number of seconds, zero or more"
        );
        assert_eq!(
            timeout("-.inf").unwrap_err().to_string(),
            "wamp.connection.timeout: must be a number of seconds, zero or more"
        );
        assert_eq!(
            timeout(".nan").unwrap_err().to_string(),
            "wamp.connection.timeout: must be a number of seconds, zero or more"
        );
        assert_eq!(
            timeout("0").unwrap_err().to_string(),
            "wamp.connection.timeout: must be greater than zero seconds"
        );
        // Too large for a Duration: no limit (every deadline caps it; see deadline.rs).
        assert_eq!(timeout(".inf").unwrap(), Duration::MAX);
        assert_eq!(timeout("1e20").unwrap(), Duration::MAX);
        assert_eq!(timeout("1e19").unwrap(), Duration::from_secs_f64(1e19));
        assert_eq!(
            timeout("'ten'").unwrap_err().to_string(),
            "wamp.connection.timeout must be a number of seconds, found a string"
        );
    }

    #[test]
    fn run_and_reconnect_read_python_booleans() {
        let wamp = |body: &str| yaml(&format!("default: {{wamp: {body}}}"), None).wamp();
        assert!(!wamp("{run: off}").unwrap().run);
        assert!(!wamp("{run: 0}").unwrap().run);
        assert!(wamp("{run: Yes}").unwrap().run);
        assert!(wamp("{run: true}").unwrap().run);
        assert_eq!(
            wamp("{run: maybe}").unwrap_err().to_string(),
            "wamp.run must be a boolean, found a string"
        );
        let reconnect = |v: &str| {
            wamp(&format!("{{connection: {{auto_reconnect: {v}}}}}"))
                .unwrap()
                .auto_reconnect
        };
        assert_eq!(reconnect("true"), Some(Duration::from_millis(500)));
        assert_eq!(reconnect("5"), Some(Duration::from_secs(5)));
        assert_eq!(reconnect("no"), None);
        assert_eq!(reconnect("0"), None);
    }

    #[test]
    fn sslopt_cert_reqs_none_turns_verification_off() {
        let tls = |v: &str| {
            let w = yaml(
                &format!("default: {{wamp: {{connection: {{sslopt: {{cert_reqs: {v}}}}}}}}}"),
                None,
            )
            .wamp()?;
            Ok::<_, ConfigError>((w.tls_verify, w.tls_verify_hostname))
        };
        assert_eq!(tls("0").unwrap(), (false, false));
        assert_eq!(tls("CERT_NONE").unwrap(), (false, false));
        assert_eq!(tls("ssl.CERT_REQUIRED").unwrap(), (true, true));
        assert_eq!(tls("1").unwrap(), (true, true));
        assert!(tls("7").is_err());
        let err = yaml("default: {wamp: {connection: {sslopt: yes}}}", None)
            .wamp()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "wamp.connection.sslopt must be a mapping, found a string"
        );
    }

    #[test]
    fn wamp_wrong_types_name_the_key() {
        let err = yaml("default: {wamp: {connection: {url: {a: b}}}}", None)
            .wamp()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "wamp.connection.url must be a string or a list of strings, found a mapping"
        );
        let err = yaml("default: {wamp: {connection: {url: []}}}", None)
            .wamp()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "wamp.connection.url: must name at least one router URL"
        );
        let wamp = yaml(
            "default: {wamp: {connection: {url: [ws://a/ws, tcpip://b:1]}}}",
            None,
        )
        .wamp()
        .unwrap();
        assert_eq!(wamp.urls, ["ws://a/ws", "tcpip://b:1"]);
        let err = yaml("default: {wamp: {connection: nope}}", None)
            .wamp()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "wamp.connection must be a mapping, found a string"
        );
        let err = yaml("default: {wamp: 5}", None).wamp().unwrap_err();
        assert_eq!(err.to_string(), "wamp must be a mapping, found a number");
        // A bare number is not a password: Python's client refuses non-string tickets too.
        let err = yaml("default: {wamp: {connection: {password: 123456}}}", None)
            .wamp()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "wamp.connection.password must be a string, found a number"
        );
    }
}
