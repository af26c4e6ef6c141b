//! Where to connect and as whom: izaber.yaml as the library reads it, then the command
//! line's and the environment's overrides. A password is never a command-line argument
//! (`ps` would show it): it comes from the configuration, `IZABER_WAMP_PASSWORD`, or a
//! prompt on the terminal.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use clap::Args;
use izaber_wamp::config::{Config, ConfigError, WampConfig};
use izaber_wamp::{Client, ClientBuilder, Error, ReconnectPolicy, Secret};

use crate::failure::Failure;

/// The password's environment variable.
const PASSWORD_VARIABLE: &str = "IZABER_WAMP_PASSWORD";

#[derive(Args, Debug)]
pub struct ConnectionArgs {
    /// izaber.yaml to read (a file, or a directory holding one) instead of searching the
    /// current, home and ZaberConfig directories.
    #[arg(long, global = true, env = "IZABER_WAMP_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// The section of izaber.yaml merged over `default`.
    #[arg(long, global = true, env = "IZABER_ENVIRONMENT", value_name = "NAME")]
    environment: Option<String>,
    /// Router URL (ws://, wss://, tcpip://, tcpips://, unix:///path); repeat it, or separate
    /// with commas, for several routers tried in turn.
    #[arg(long, global = true, env = "IZABER_WAMP_URL", value_delimiter = ',')]
    url: Vec<String>,
    /// Realm to join.
    #[arg(long, global = true, env = "IZABER_WAMP_REALM")]
    realm: Option<String>,
    /// User to log in as (ticket login unless --authmethod says otherwise). Its password
    /// comes from IZABER_WAMP_PASSWORD, from izaber.yaml when it names the same user, or from
    /// a prompt.
    #[arg(long, global = true, env = "IZABER_WAMP_USER")]
    user: Option<String>,
    /// How to log in: ticket, wampcra, scram (all with the password) or cryptosign (with
    /// --private-key-file).
    #[arg(
        long,
        global = true,
        env = "IZABER_WAMP_AUTHMETHOD",
        value_parser = ["ticket", "wampcra", "scram", "cryptosign", "anonymous"]
    )]
    authmethod: Option<String>,
    /// Ed25519 key for WAMP-Cryptosign (OpenSSH, Crossbar's key.priv, or the seed in hex);
    /// implies --authmethod cryptosign.
    #[arg(
        long,
        global = true,
        env = "IZABER_WAMP_PRIVATE_KEY_FILE",
        value_name = "FILE"
    )]
    private_key_file: Option<PathBuf>,
    /// json, msgpack or cbor.
    #[arg(long, global = true, env = "IZABER_WAMP_SERIALIZER")]
    serializer: Option<String>,
    /// Seconds to wait for an answer (connecting included).
    #[arg(
        long,
        global = true,
        env = "IZABER_WAMP_TIMEOUT",
        value_name = "SECONDS"
    )]
    timeout: Option<f64>,
    /// Extra CA certificate (PEM) to trust for wss:// and tcpips://.
    #[arg(long, global = true, env = "IZABER_WAMP_CA_FILE", value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// Do not verify the router's TLS certificate (test routers only).
    #[arg(long, global = true, env = "IZABER_WAMP_INSECURE")]
    insecure: bool,
    /// The ZERP database of `call model:method(..)` and `call model..shorthand(..)`
    /// (else wamp.zerp.database of izaber.yaml).
    #[arg(long, global = true, env = "IZABER_ZERP_DATABASE", value_name = "NAME")]
    zerp_database: Option<String>,
    /// The settings once worked out: a prompted password is asked for once, however many
    /// sessions are opened (load mode's --parallel).
    #[arg(skip)]
    resolved: OnceLock<WampConfig>,
}

/// How long the connection should try to survive.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// One request and out: a lost connection is an error at once.
    OneShot,
    /// Serving or listening until stopped: reconnect as izaber.yaml says.
    Service,
}

impl ConnectionArgs {
    /// The library's settings with every override applied.
    pub fn settings(&self) -> Result<WampConfig, Failure> {
        if let Some(settings) = self.resolved.get() {
            return Ok(settings.clone());
        }
        let settings = self.resolve()?;
        Ok(self.resolved.get_or_init(|| settings).clone())
    }

    fn resolve(&self) -> Result<WampConfig, Failure> {
        let environment = self.environment.as_deref().filter(|e| !e.is_empty());
        let loaded = match &self.config {
            Some(path) => Config::from_path(path, environment).map(Some),
            None => match Config::load(environment) {
                Err(ConfigError::NotFound { .. }) => Ok(None),
                other => other.map(Some),
            },
        };
        let config_error = |e: ConfigError| Failure::Wamp(Error::Config(e));
        let mut settings = match loaded.map_err(config_error)? {
            Some(config) => config.wamp().map_err(config_error)?,
            None => {
                log::info!("no izaber.yaml found: the library's defaults and the options apply");
                WampConfig::default()
            }
        };
        if !self.url.is_empty() {
            settings.urls = self.url.clone();
        }
        if let Some(realm) = &self.realm {
            settings.realm = realm.clone();
        }
        if let Some(user) = &self.user {
            let same_user = settings.username.as_deref() == Some(user.as_str());
            if !same_user {
                settings.password = None;
            }
            settings.username = Some(user.clone());
            settings.authid = Some(user.clone());
            settings.authmethods = vec!["ticket".to_owned()];
        }
        if let Some(file) = &self.private_key_file {
            settings.private_key = None;
            settings.private_key_file = Some(file.clone());
            settings.authmethods = vec!["cryptosign".to_owned()];
        }
        if let Some(method) = &self.authmethod {
            settings.authmethods = vec![method.clone()];
        }
        let needs_password = !settings
            .authmethods
            .iter()
            .all(|m| m == "cryptosign" || m == "anonymous");
        if let Some(password) = std::env::var_os(PASSWORD_VARIABLE) {
            let password = password
                .into_string()
                .map_err(|_| Failure::usage(format!("{PASSWORD_VARIABLE} is not valid UTF-8")))?;
            settings.password = Some(Secret::new(password));
        }
        if settings.password.is_none() && needs_password {
            settings.password = Some(prompt_password(settings.username.as_deref())?);
        }
        if let Some(serializer) = &self.serializer {
            settings.serializers = vec![serializer.clone()];
        }
        if let Some(seconds) = self.timeout {
            if seconds.is_nan() || seconds <= 0.0 {
                return Err(Failure::usage(format!(
                    "--timeout must be a number of seconds above zero, not {seconds}"
                )));
            }
            // Too large for a Duration (1e20, inf): no limit, which the library caps safely.
            settings.timeout = Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX);
        }
        if let Some(ca_file) = &self.ca_file {
            settings.ca_file = Some(ca_file.clone());
        }
        if let Some(database) = &self.zerp_database {
            settings.zerp_database = Some(database.clone());
        }
        if self.insecure {
            log::warn!("not verifying the router's TLS certificate (--insecure)");
            settings.tls_verify = false;
            settings.tls_verify_hostname = false;
        }
        Ok(settings)
    }

    /// Connects and joins.
    pub fn connect(&self, lifetime: Lifetime) -> Result<Client, Failure> {
        let settings = self.settings()?;
        let mut builder = ClientBuilder::from_config(&settings)?
            .agent(concat!("izaber-wamp-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(settings.timeout.min(Duration::from_secs(30)));
        if lifetime == Lifetime::OneShot {
            builder = builder.reconnect(ReconnectPolicy::never());
        }
        log::info!(
            "connecting to {} as {}",
            settings.urls.join(", "),
            settings.username.as_deref().unwrap_or("anonymous")
        );
        Ok(builder.connect()?)
    }
}

/// Asks for the password on the terminal, without echo; refuses when there is no terminal
/// to ask on (a script must set the variable).
fn prompt_password(user: Option<&str>) -> Result<Secret, Failure> {
    let user = user.unwrap_or("anonymous");
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(Failure::usage(format!(
            "no password for {user}: set {PASSWORD_VARIABLE}, or put it in izaber.yaml"
        )));
    }
    rpassword::prompt_password(format!("password for {user}: "))
        .map(Secret::new)
        .map_err(|e| Failure::usage(format!("cannot read the password: {e}")))
}
