//! Loading `izaber.yaml` the way Python `izaber` does.
//!
//! Zaber's Python tools read their settings from one YAML file, `izaber.yaml`, through
//! `izaber.initialize()`. This module reads the same file, from the same places, with the
//! same environment rules, so a file that works for a Python script works here unchanged.
//!
//! # Where the configuration comes from
//!
//! [`Config::load`] takes the first of:
//!
//! 1. the first `izaber.yaml` that is a file in, in this order:
//!    1. the current directory,
//!    2. the home directory,
//!    3. the per-user data directory of the application `ZaberConfig` by `Zaber`, as Python's
//!       `appdirs.user_data_dir` names it:
//!       - Linux and other Unix: `$XDG_DATA_HOME/ZaberConfig`, or `~/.local/share/ZaberConfig`
//!         when `XDG_DATA_HOME` is unset or empty,
//!       - macOS: `~/Library/Application Support/ZaberConfig`,
//!       - Windows: `%LOCALAPPDATA%\Zaber\ZaberConfig`;
//! 2. the text of the `IZABER_YAML` environment variable (a whole `izaber.yaml`), when it is
//!    set and not empty.
//!
//! A file wins over `IZABER_YAML`: Python `izaber` (3.2.20231029 and later) uses the variable
//! only "if the file doesn't exist", which suits Docker images that ship no file.
//!
//! # Environments
//!
//! The top level of `izaber.yaml` maps environment names to settings:
//!
//! ```yaml
//! default:
//!   wamp:
//!     connection:
//!       url: 'wss://nexus.izaber.com/ws'
//!       username: 'me'
//!       password: 'secret'
//! dev:
//!   wamp:
//!     connection:
//!       url: 'ws://localhost:8282/ws'
//! ```
//!
//! The settings in use are the `default` section deep-merged with the chosen environment's
//! section: mappings merge key by key, at any depth; any other value (string, number, list)
//! in the environment replaces the one in `default`; a `null` (`~` or nothing) in the
//! environment keeps the value from `default`. The environment is, in this order, the
//! `environment` argument, the `IZABER_ENVIRONMENT` environment variable when set and not
//! empty, or `default`.
//!
//! The chosen environment must be a top-level key, as in Python, which fails with "Could not
//! find environment". So a file without a `default:` section loads only with another
//! environment named explicitly, and then that environment's settings are used alone. A file
//! whose settings sit at the top level (`wamp:` with no environment around it) fails with
//! [`ConfigError::UnknownEnvironment`], whose message says to nest them under `default:`.
//!
//! # Reading values
//!
//! [`Config::get`], [`Config::get_str`] and [`Config::get_as`] take a dotted key such as
//! `"wamp.connection.username"`. As in Python's `config.get`, a top-level key spelled with the
//! dots in it is tried first. [`Config::wamp`] gives the `wamp:` section as a typed
//! [`WampConfig`] with the Python library's defaults filled in.
//!
//! ```
//! use izaber_wamp::config::Config;
//!
//! let yaml = "
//! default:
//!   wamp:
//!     connection:
//!       username: 'me'
//!       password: 'secret'
//! dev:
//!   wamp:
//!     connection:
//!       url: 'ws://localhost:8282/ws'
//! ";
//! let config = Config::from_yaml_str(yaml, Some("dev"))?;
//! assert_eq!(config.get_str("wamp.connection.username")?, Some("me"));
//! let wamp = config.wamp()?;
//! assert_eq!(wamp.urls, ["ws://localhost:8282/ws"]);
//! assert_eq!(wamp.realm, "izaber"); // the Python library's default
//! assert!(!format!("{config:?} {wamp:?}").contains("secret"));
//! # Ok::<(), izaber_wamp::config::ConfigError>(())
//! ```
//!
//! # YAML dialect
//!
//! Python reads the file with PyYAML (YAML 1.1); this module uses `serde_yaml` (YAML 1.2).
//! Two PyYAML habits are kept: a key given twice in one mapping keeps its last value (with a
//! warning in the log), and `<<: *anchor` merge keys are applied. One is not kept in general:
//! `yes`, `no`, `on` and `off` are strings in YAML 1.2, so [`Config::get_as`] will not read
//! them as booleans; [`Config::wamp`] accepts them for its boolean keys.
//!
//! # Secrets
//!
//! The `Debug` output of [`Config`] shows the merged settings with the value of every key
//! whose name contains `password`, `passwd`, `secret`, `ticket`, `token`, `apikey` or
//! `api_key` replaced by `<redacted>`; [`WampConfig`] keeps its password in a
//! [`Secret`]. Error messages never quote the value of such a key (only
//! [`Config::get_as`] quotes values at all, as `serde` reports them, and not for secrets).

use std::cell::RefCell;
use std::env;
use std::error::Error as StdError;
use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_yaml::value::{Tag, TaggedValue};
use serde_yaml::{Mapping, Value};

use crate::Secret;

/// The file name searched for: `izaber.yaml`.
pub const CONFIG_FILE_NAME: &str = "izaber.yaml";

/// The environment variable holding a whole `izaber.yaml`, used when no file is found.
pub const IZABER_YAML_VAR: &str = "IZABER_YAML";

/// The environment variable naming the environment when none is passed explicitly.
pub const IZABER_ENVIRONMENT_VAR: &str = "IZABER_ENVIRONMENT";

/// The environment used when none is named: `default`.
pub const DEFAULT_ENVIRONMENT: &str = "default";

/// Application name of the per-user data directory (Python: `appdirs.user_data_dir(name, author)`).
const APP_NAME: &str = "ZaberConfig";

/// Application author of the per-user data directory; only Windows puts it in the path.
#[cfg_attr(not(windows), allow(dead_code))]
const APP_AUTHOR: &str = "Zaber";

/// Parts of key names whose values [`Config`]'s `Debug` output hides (compared in lowercase).
const SENSITIVE_KEY_PARTS: &[&str] = &[
    "password", "passwd", "secret", "ticket", "token", "apikey", "api_key",
];

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Why a configuration could not be loaded or a value could not be read.
///
/// Every message stands on its own: it names the file, key or environment at fault. No
/// message quotes a password or other secret (see [`Config`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum ConfigError {
    /// [`Config::load`] found no `izaber.yaml` in any searched directory, and `IZABER_YAML`
    /// is unset or empty.
    NotFound {
        /// The files looked for, in search order.
        searched: Vec<PathBuf>,
    },
    /// A configuration file exists (or was named) but could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The YAML text is not valid YAML, or its top level is not a mapping of environments.
    Yaml {
        /// Where the text came from: the file path, `IZABER_YAML`, or `YAML string`.
        origin: String,
        /// 1-based line of the error, when known.
        line: Option<usize>,
        /// 1-based column of the error, when known.
        column: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// The environment asked for is not a top-level key of the configuration.
    UnknownEnvironment {
        /// The environment asked for.
        name: String,
        /// The top-level keys, in file order.
        available: Vec<String>,
        /// Where the configuration came from (as in [`ConfigError::Yaml`]).
        origin: String,
    },
    /// A value has the wrong YAML type.
    WrongType {
        /// Dotted key of the value, e.g. `wamp.connection.url`.
        key: String,
        /// What it must be, e.g. `a string`.
        expected: &'static str,
        /// What it is, e.g. `a list`.
        found: String,
    },
    /// A value has the right type but cannot be used (negative timeout, unknown serializer,
    /// or [`Config::get_as`] could not deserialize it).
    InvalidValue {
        /// Dotted key of the value.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// An environment's value cannot be merged over the `default` one: one is a mapping and
    /// the other is not. (Python's merge rejects this too.)
    MergeConflict {
        /// Dotted key inside the environment sections, e.g. `wamp.connection`.
        key: String,
        /// The environment merged over `default` (or `overlay` for [`Config::overlay`]).
        environment: String,
        /// What the `default` side holds there, e.g. `a mapping`.
        base: String,
        /// What the environment holds there, e.g. `a string`.
        overlay: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::NotFound { searched } => {
                write!(
                    f,
                    "no {CONFIG_FILE_NAME} found and {IZABER_YAML_VAR} is not set; looked in: "
                )?;
                if searched.is_empty() {
                    f.write_str("(no directories)")
                } else {
                    write_list(f, searched.iter().map(|p| p.display()))
                }
            }
            ConfigError::Io { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            ConfigError::Yaml {
                origin,
                line,
                column,
                message,
            } => match (line, column) {
                (Some(line), Some(column)) => {
                    write!(f, "{origin} line {line} column {column}: {message}")
                }
                (Some(line), None) => write!(f, "{origin} line {line}: {message}"),
                _ => write!(f, "{origin}: {message}"),
            },
            ConfigError::UnknownEnvironment {
                name,
                available,
                origin,
            } => {
                write!(f, "unknown environment '{name}'; {origin} ")?;
                if available.is_empty() {
                    f.write_str("defines no environments")?;
                } else {
                    f.write_str("defines: ")?;
                    write_list(f, available.iter())?;
                }
                if name == DEFAULT_ENVIRONMENT {
                    f.write_str(
                        " (settings must be nested under an environment name, \
                         such as `default:`)",
                    )?;
                }
                Ok(())
            }
            ConfigError::WrongType {
                key,
                expected,
                found,
            } => write!(f, "{key} must be {expected}, found {found}"),
            ConfigError::InvalidValue { key, message } => write!(f, "{key}: {message}"),
            ConfigError::MergeConflict {
                key,
                environment,
                base,
                overlay,
            } => write!(
                f,
                "cannot merge environment '{environment}' over 'default' at {key}: \
                 'default' has {base} there, '{environment}' has {overlay}"
            ),
        }
    }
}

/// No `source()`: like [`crate::Error`], the message already includes the cause's text.
impl StdError for ConfigError {}

fn write_list<T: fmt::Display>(
    f: &mut fmt::Formatter<'_>,
    items: impl Iterator<Item = T>,
) -> fmt::Result {
    for (i, item) in items.enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

/// A short English description of a value's YAML type, for error messages. Never the value.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(_) => "a boolean".into(),
        Value::Number(_) => "a number".into(),
        Value::String(_) => "a string".into(),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a mapping".into(),
        Value::Tagged(tagged) => format!("a value tagged {}", tagged.tag),
    }
}

// ---------------------------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------------------------

/// Where a [`Config`] was read from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigSource {
    /// A file.
    File(PathBuf),
    /// The `IZABER_YAML` environment variable.
    EnvVar,
    /// A string given to [`Config::from_yaml_str`].
    String,
}

impl ConfigSource {
    /// How error messages name this source: the file path, `IZABER_YAML`, or `YAML string`.
    fn origin(&self) -> String {
        match self {
            ConfigSource::File(path) => path.display().to_string(),
            ConfigSource::EnvVar => IZABER_YAML_VAR.to_owned(),
            ConfigSource::String => "YAML string".to_owned(),
        }
    }
}

impl fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigSource::File(path) => write!(f, "{}", path.display()),
            ConfigSource::EnvVar => write!(f, "the {IZABER_YAML_VAR} environment variable"),
            ConfigSource::String => f.write_str("a YAML string"),
        }
    }
}

/// A loaded `izaber.yaml`: the `default` section merged with one environment's section.
///
/// `Debug` shows the merged settings with passwords and other secrets redacted (see the
/// [module documentation](self#secrets)).
#[derive(Clone)]
pub struct Config {
    /// The merged settings; always a mapping.
    tree: Value,
    environment: String,
    environments: Vec<String>,
    source: ConfigSource,
}

impl Config {
    /// Finds and loads `izaber.yaml` as Python `izaber.initialize()` does.
    ///
    /// Looks for the file in the current directory, the home directory and the per-user data
    /// directory ([`Config::search_dirs`]); when there is none, reads the YAML text in the
    /// `IZABER_YAML` environment variable. The environment is `environment`, else the
    /// `IZABER_ENVIRONMENT` environment variable, else `default`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::NotFound`] when there is no file and `IZABER_YAML` is unset or empty; any
    /// error of [`Config::from_path`] or [`Config::from_yaml_str`].
    pub fn load(environment: Option<&str>) -> Result<Config, ConfigError> {
        let environment = resolve_environment(environment, env::var_os(IZABER_ENVIRONMENT_VAR))?;
        let dirs = Config::search_dirs();
        if let Some(path) = find_file(&dirs) {
            return Config::from_path(path, Some(&environment));
        }
        let yaml = match env::var_os(IZABER_YAML_VAR) {
            Some(text) if !text.is_empty() => {
                Some(text.into_string().map_err(|_| ConfigError::Yaml {
                    origin: IZABER_YAML_VAR.to_owned(),
                    line: None,
                    column: None,
                    message: "is not valid UTF-8".to_owned(),
                })?)
            }
            _ => None,
        };
        Config::load_from_dirs(&dirs, yaml.as_deref(), Some(&environment))
    }

    /// The search behind [`Config::load`], with its inputs given instead of read from the
    /// process: the first `izaber.yaml` in `dirs`, else `izaber_yaml` (the text `IZABER_YAML`
    /// would hold; ignored when empty), in `environment` (`None` means `default`; the
    /// `IZABER_ENVIRONMENT` variable is not read).
    ///
    /// Like Python's `config_dirs` option, this also searches other directories.
    ///
    /// # Errors
    ///
    /// As [`Config::load`].
    pub fn load_from_dirs(
        dirs: &[PathBuf],
        izaber_yaml: Option<&str>,
        environment: Option<&str>,
    ) -> Result<Config, ConfigError> {
        if let Some(path) = find_file(dirs) {
            return Config::from_path(path, environment);
        }
        match izaber_yaml {
            Some(text) if !text.is_empty() => {
                Config::from_text(text, ConfigSource::EnvVar, environment)
            }
            _ => Err(ConfigError::NotFound {
                searched: dirs.iter().map(|d| d.join(CONFIG_FILE_NAME)).collect(),
            }),
        }
    }

    /// The directories [`Config::load`] searches for `izaber.yaml`, in order: the current
    /// directory, the home directory, and the per-user data directory of `ZaberConfig` (see
    /// the [module documentation](self)). A directory that cannot be determined is left out.
    pub fn search_dirs() -> Vec<PathBuf> {
        let mut dirs = Vec::with_capacity(3);
        dirs.push(env::current_dir().unwrap_or_else(|_| PathBuf::from(".")));
        let home = env::home_dir();
        if let Some(home) = &home {
            dirs.push(home.clone());
        }
        if let Some(data) = user_data_dir(home.as_deref()) {
            dirs.push(data);
        }
        // Run from the home directory, the first two are one: search it, and name it, once.
        let mut seen = Vec::with_capacity(dirs.len());
        dirs.retain(|dir| {
            let new = !seen.contains(dir);
            seen.push(dir.clone());
            new
        });
        dirs
    }

    /// The environment named by the `IZABER_ENVIRONMENT` variable, when it is set, valid
    /// UTF-8 and not empty. Pass it to [`Config::from_path`] or [`Config::from_yaml_str`] to honour the
    /// variable there as [`Config::load`] does:
    ///
    /// ```no_run
    /// # use izaber_wamp::config::Config;
    /// let config = Config::from_path("/etc/myapp", Config::environment_from_env().as_deref())?;
    /// # Ok::<(), izaber_wamp::config::ConfigError>(())
    /// ```
    pub fn environment_from_env() -> Option<String> {
        env::var(IZABER_ENVIRONMENT_VAR)
            .ok()
            .filter(|name| !name.is_empty())
    }

    /// Loads a configuration file: `path` itself, or `path/izaber.yaml` when `path` is a
    /// directory. `environment` `None` means `default` (the `IZABER_ENVIRONMENT` variable is
    /// not read; see [`Config::environment_from_env`]).
    ///
    /// # Errors
    ///
    /// [`ConfigError::Io`] when the file cannot be read (including when it does not exist);
    /// any error of [`Config::from_yaml_str`], naming the file.
    pub fn from_path(
        path: impl AsRef<Path>,
        environment: Option<&str>,
    ) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let file = if path.is_dir() {
            path.join(CONFIG_FILE_NAME)
        } else {
            path.to_path_buf()
        };
        let text = std::fs::read_to_string(&file).map_err(|source| ConfigError::Io {
            path: file.clone(),
            source,
        })?;
        Config::from_text(&text, ConfigSource::File(file), environment)
    }

    /// Loads a configuration from YAML text. `environment` `None` means `default`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Yaml`] for invalid YAML or a top level that is not a mapping;
    /// [`ConfigError::UnknownEnvironment`]; [`ConfigError::WrongType`] when `default` or the
    /// environment's section is not a mapping; [`ConfigError::MergeConflict`].
    pub fn from_yaml_str(yaml: &str, environment: Option<&str>) -> Result<Config, ConfigError> {
        Config::from_text(yaml, ConfigSource::String, environment)
    }

    fn from_text(
        text: &str,
        source: ConfigSource,
        environment: Option<&str>,
    ) -> Result<Config, ConfigError> {
        let origin = source.origin();
        let root = parse_yaml(text, &origin)?;
        let environment = environment.unwrap_or(DEFAULT_ENVIRONMENT).to_owned();
        let (tree, environments) = select_environment(root, &environment, &origin)?;
        Ok(Config {
            tree,
            environment,
            environments,
            source,
        })
    }

    /// The value at a dotted key such as `"wamp.connection.username"`, or `None` when any
    /// part of the path is missing or is not a mapping.
    ///
    /// As in Python's `config.get`, a top-level key that is the whole dotted string is tried
    /// first. A key present with a `null` value gives `Some(&Value::Null)`.
    pub fn get(&self, dotted_key: &str) -> Option<&Value> {
        let top = self.tree.as_mapping()?;
        if let Some(value) = top.get(dotted_key) {
            return Some(value);
        }
        let mut current = &self.tree;
        for part in dotted_key.split('.') {
            current = current.as_mapping()?.get(part)?;
        }
        Some(current)
    }

    /// The string at a dotted key; `Ok(None)` when the key is missing or `null`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::WrongType`], naming the key, when the value is not a string.
    pub fn get_str(&self, dotted_key: &str) -> Result<Option<&str>, ConfigError> {
        match self.get(dotted_key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(wrong_type(dotted_key, "a string", other)),
        }
    }

    /// The value at a dotted key deserialized as `T`; `Ok(None)` when the key is missing or
    /// `null`. Booleans follow YAML 1.2 (`true`/`false` only).
    ///
    /// ```
    /// # use izaber_wamp::config::Config;
    /// let config = Config::from_yaml_str("default: {app: {ports: [80, 443]}}", None)?;
    /// assert_eq!(config.get_as::<Vec<u16>>("app.ports")?, Some(vec![80, 443]));
    /// assert_eq!(config.get_as::<u16>("app.missing")?, None);
    /// assert!(config.get_as::<String>("app.ports").is_err());
    /// # Ok::<(), izaber_wamp::config::ConfigError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidValue`], naming the key, when the value does not deserialize.
    /// When the value is or holds a secret (see [`Config`]), the message does not quote it.
    pub fn get_as<T: DeserializeOwned>(&self, dotted_key: &str) -> Result<Option<T>, ConfigError> {
        match self.get(dotted_key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => serde_yaml::from_value(value.clone())
                .map(Some)
                .map_err(|err| {
                    let message = if is_sensitive_path(dotted_key) || holds_secret(value) {
                        format!("cannot be read as {}", std::any::type_name::<T>())
                    } else {
                        err.to_string()
                    };
                    ConfigError::InvalidValue {
                        key: dotted_key.to_owned(),
                        message,
                    }
                }),
        }
    }

    /// The environment in use, e.g. `default` or `dev`.
    pub fn environment(&self) -> &str {
        &self.environment
    }

    /// The environments the configuration defines (its top-level keys), in file order.
    pub fn environments(&self) -> &[String] {
        &self.environments
    }

    /// Where the configuration was read from.
    pub fn source(&self) -> &ConfigSource {
        &self.source
    }

    /// Deep-merges `overlay` (a mapping of settings, like an environment section) over the
    /// merged settings, with the environment merge rules.
    ///
    /// This is what Python `initialize(**options)` does with its keyword options; use it for
    /// settings given by the program or the command line.
    ///
    /// ```
    /// # use izaber_wamp::config::Config;
    /// let mut config = Config::from_yaml_str("default: {wamp: {connection: {realm: a}}}", None)?;
    /// config.overlay(serde_yaml::from_str("wamp: {connection: {realm: b}}").unwrap())?;
    /// assert_eq!(config.wamp()?.realm, "b");
    /// # Ok::<(), izaber_wamp::config::ConfigError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ConfigError::WrongType`] when `overlay` is neither a mapping nor `null`;
    /// [`ConfigError::MergeConflict`]. On error the configuration may be partly changed.
    pub fn overlay(&mut self, overlay: Value) -> Result<(), ConfigError> {
        if !matches!(overlay, Value::Mapping(_) | Value::Null) {
            return Err(wrong_type("overlay", "a mapping", &overlay));
        }
        deep_merge(&mut self.tree, overlay, &mut Vec::new(), "overlay")
    }

    /// The `wamp:` section as typed settings, with the Python `izaber-wamp` defaults for
    /// whatever is missing or `null` (see [`WampConfig`] for each key).
    ///
    /// # Errors
    ///
    /// [`ConfigError::WrongType`] or [`ConfigError::InvalidValue`], naming the key, for a
    /// value that cannot be used.
    pub fn wamp(&self) -> Result<WampConfig, ConfigError> {
        WampConfig::from_config(self)
    }

    fn expect_mapping(&self, key: &str) -> Result<(), ConfigError> {
        match self.get(key) {
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
        match self.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => value_to_bool(value)
                .map(Some)
                .ok_or_else(|| wrong_type(key, "a boolean", value)),
        }
    }

    /// A non-negative number of seconds (integer or float). One too large for a `Duration`
    /// (`1e20`, `.inf`) is `Duration::MAX`, which every wait reads as "no limit".
    fn get_seconds(&self, key: &str) -> Result<Option<Duration>, ConfigError> {
        match self.get(key) {
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
        match self.get(key) {
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
        match self.get(key) {
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
        match self.get(key) {
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

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("environment", &self.environment)
            .field("source", &self.source)
            .field("settings", &Redacted(&self.tree))
            .finish()
    }
}

fn wrong_type(key: &str, expected: &'static str, found: &Value) -> ConfigError {
    ConfigError::WrongType {
        key: key.to_owned(),
        expected,
        found: describe(found),
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

/// The environment to use: the argument, else the `IZABER_ENVIRONMENT` value when set and
/// not empty, else `default`. Kept apart from `env::var` so it can be tested.
fn resolve_environment(
    argument: Option<&str>,
    env_value: Option<OsString>,
) -> Result<String, ConfigError> {
    if let Some(name) = argument {
        return Ok(name.to_owned());
    }
    match env_value {
        Some(value) if !value.is_empty() => {
            value.into_string().map_err(|_| ConfigError::InvalidValue {
                key: IZABER_ENVIRONMENT_VAR.to_owned(),
                message: "is not valid UTF-8".to_owned(),
            })
        }
        _ => Ok(DEFAULT_ENVIRONMENT.to_owned()),
    }
}

/// The first `dir/izaber.yaml` that is a file (following symlinks, like `os.path.isfile`).
fn find_file(dirs: &[PathBuf]) -> Option<PathBuf> {
    dirs.iter()
        .map(|dir| dir.join(CONFIG_FILE_NAME))
        .find(|path| path.is_file())
}

/// Python `appdirs.user_data_dir("ZaberConfig", "Zaber")` (roaming off).
fn user_data_dir(home: Option<&Path>) -> Option<PathBuf> {
    #[cfg(windows)]
    {
        let base = env::var_os("LOCALAPPDATA")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| home.map(|h| h.join("AppData").join("Local")))?;
        Some(base.join(APP_AUTHOR).join(APP_NAME))
    }
    #[cfg(target_os = "macos")]
    {
        Some(
            home?
                .join("Library")
                .join("Application Support")
                .join(APP_NAME),
        )
    }
    #[cfg(not(any(windows, target_os = "macos")))]
    {
        let base = env::var_os("XDG_DATA_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| home.map(|h| h.join(".local").join("share")))?;
        Some(base.join(APP_NAME))
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing and merging
// ---------------------------------------------------------------------------------------------

/// Parses YAML the way PyYAML would accept it: duplicate keys keep the last value (logged),
/// `<<` merge keys are applied, an empty document is an empty mapping.
fn parse_yaml(text: &str, origin: &str) -> Result<Value, ConfigError> {
    let duplicates = RefCell::new(Vec::new());
    let deserializer = serde_yaml::Deserializer::from_str(text);
    let mut value = LenientValue {
        duplicates: &duplicates,
    }
    .deserialize(deserializer)
    .map_err(|err| yaml_error(origin, &err))?;
    for key in duplicates.into_inner() {
        log::warn!("{origin}: key '{key}' appears more than once in a mapping; the last one wins");
    }
    value
        .apply_merge()
        .map_err(|err| yaml_error(origin, &err))?;
    Ok(value)
}

fn yaml_error(origin: &str, err: &serde_yaml::Error) -> ConfigError {
    let location = err.location();
    let mut message = err.to_string();
    if let Some(loc) = &location {
        // serde_yaml puts the location in its message; it is kept in its own fields. (Any
        // other location, such as where an unclosed list started, stays in the message.)
        let location_text = format!(" at line {} column {}", loc.line(), loc.column());
        message = message.replacen(&location_text, "", 1);
    }
    ConfigError::Yaml {
        origin: origin.to_owned(),
        line: location.as_ref().map(|l| l.line()),
        column: location.as_ref().map(|l| l.column()),
        message,
    }
}

/// Deserializes a [`Value`] like serde_yaml's own impl, except that a repeated mapping key
/// replaces the earlier entry (PyYAML's behaviour) instead of failing; repeated keys are
/// collected for a warning.
#[derive(Clone, Copy)]
struct LenientValue<'a> {
    duplicates: &'a RefCell<Vec<String>>,
}

impl<'de> DeserializeSeed<'de> for LenientValue<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for LenientValue<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Sequence(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut mapping = Mapping::new();
        while let Some(key) = map.next_key_seed(self)? {
            let value = map.next_value_seed(self)?;
            if let Some(_previous) = mapping.insert(key.clone(), value) {
                let name = match &key {
                    Value::String(s) => s.clone(),
                    other => describe(other),
                };
                self.duplicates.borrow_mut().push(name);
            }
        }
        Ok(Value::Mapping(mapping))
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        use de::VariantAccess;
        let (tag, contents): (String, _) = data.variant()?;
        if tag.is_empty() {
            return Err(de::Error::custom("empty YAML tag is not allowed"));
        }
        let value = contents.newtype_variant_seed(self)?;
        Ok(Value::Tagged(Box::new(TaggedValue {
            tag: Tag::new(tag),
            value,
        })))
    }
}

/// Checks the top level and merges `default` with `environment`. Returns the merged settings
/// and the names of all environments.
fn select_environment(
    root: Value,
    environment: &str,
    origin: &str,
) -> Result<(Value, Vec<String>), ConfigError> {
    let mut root = match root {
        Value::Null => Mapping::new(),
        Value::Mapping(m) => m,
        other => {
            return Err(ConfigError::Yaml {
                origin: origin.to_owned(),
                line: None,
                column: None,
                message: format!(
                    "the top level must map environment names (such as `default`) \
                     to settings, found {}",
                    describe(&other)
                ),
            });
        }
    };
    let environments: Vec<String> = root
        .keys()
        .filter_map(|k| k.as_str().map(str::to_owned))
        .collect();
    if !root.contains_key(environment) {
        return Err(ConfigError::UnknownEnvironment {
            name: environment.to_owned(),
            available: environments,
            origin: origin.to_owned(),
        });
    }
    let section = |root: &mut Mapping, name: &str| -> Result<Value, ConfigError> {
        match root.remove(name) {
            None | Some(Value::Null) => Ok(Value::Mapping(Mapping::new())),
            Some(v @ Value::Mapping(_)) => Ok(v),
            Some(other) => Err(wrong_type(name, "a mapping of settings", &other)),
        }
    };
    let mut merged = section(&mut root, DEFAULT_ENVIRONMENT)?;
    if environment != DEFAULT_ENVIRONMENT {
        let overlay = section(&mut root, environment)?;
        deep_merge(&mut merged, overlay, &mut Vec::new(), environment)?;
    }
    Ok((merged, environments))
}

/// Python `izaber.structs.deep_merge`: mappings merge recursively, `null` keeps the base,
/// anything else replaces it. Python also refuses to replace a value by one of another type;
/// this refuses only a mapping against a non-mapping (a likely mistake) and lets scalars and
/// lists replace each other.
fn deep_merge(
    base: &mut Value,
    overlay: Value,
    path: &mut Vec<String>,
    environment: &str,
) -> Result<(), ConfigError> {
    match (base, overlay) {
        (_, Value::Null) => Ok(()),
        (Value::Mapping(base_map), Value::Mapping(overlay_map)) => {
            for (key, value) in overlay_map {
                match base_map.get_mut(&key) {
                    Some(existing) => {
                        path.push(key_name(&key));
                        deep_merge(existing, value, path, environment)?;
                        path.pop();
                    }
                    None => {
                        base_map.insert(key, value);
                    }
                }
            }
            Ok(())
        }
        (base @ Value::Null, overlay) => {
            *base = overlay;
            Ok(())
        }
        (base, overlay)
            if matches!(base, Value::Mapping(_)) || matches!(overlay, Value::Mapping(_)) =>
        {
            Err(ConfigError::MergeConflict {
                key: path.join("."),
                environment: environment.to_owned(),
                base: describe(base),
                overlay: describe(&overlay),
            })
        }
        (base, overlay) => {
            *base = overlay;
            Ok(())
        }
    }
}

fn key_name(key: &Value) -> String {
    match key {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => describe(other),
    }
}

// ---------------------------------------------------------------------------------------------
// Redaction
// ---------------------------------------------------------------------------------------------

fn is_sensitive_key(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SENSITIVE_KEY_PARTS.iter().any(|part| lower.contains(part))
}

fn is_sensitive_path(dotted_key: &str) -> bool {
    dotted_key.split('.').any(is_sensitive_key)
}

/// True when a sensitive key appears anywhere inside `value`.
fn holds_secret(value: &Value) -> bool {
    match value {
        Value::Mapping(m) => m
            .iter()
            .any(|(k, v)| k.as_str().is_some_and(is_sensitive_key) || holds_secret(v)),
        Value::Sequence(items) => items.iter().any(holds_secret),
        Value::Tagged(tagged) => holds_secret(&tagged.value),
        _ => false,
    }
}

/// Debug view of a settings tree that hides the values of sensitive keys.
struct Redacted<'a>(&'a Value);

struct RedactedMarker;

impl fmt::Debug for RedactedMarker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => write!(f, "{n}"),
            Value::String(s) => write!(f, "{s:?}"),
            Value::Sequence(items) => f.debug_list().entries(items.iter().map(Redacted)).finish(),
            Value::Mapping(map) => {
                let mut out = f.debug_map();
                for (key, value) in map {
                    if key.as_str().is_some_and(is_sensitive_key) {
                        out.entry(&Redacted(key), &RedactedMarker);
                    } else {
                        out.entry(&Redacted(key), &Redacted(value));
                    }
                }
                out.finish()
            }
            Value::Tagged(tagged) => write!(f, "{} {:?}", tagged.tag, Redacted(&tagged.value)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// WampConfig
// ---------------------------------------------------------------------------------------------

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
    /// `wamp.connection.ping_interval`: seconds between WebSocket pings once joined; `false`
    /// or `0` for none. Default 3 s.
    pub ping_interval: Option<Duration>,
    /// `wamp.connection.heartbeat_timeout`: seconds without a pong after which the
    /// connection counts as lost (above zero). Default 10 s.
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
        }
    }
}

/// Serializer names a client of this crate can speak.
const SERIALIZERS: &[&str] = &["json", "msgpack", "cbor"];

impl WampConfig {
    fn from_config(config: &Config) -> Result<WampConfig, ConfigError> {
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

        let tls_verify = match config.get(&key("sslopt.cert_reqs")) {
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

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config")
    }

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> TempDir {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let n = COUNTER.fetch_add(1, Ordering::SeqCst);
            let path =
                env::temp_dir().join(format!("izaber-config-test-{}-{n}", std::process::id()));
            let _ = fs::remove_dir_all(&path);
            fs::create_dir_all(&path).unwrap();
            TempDir(path)
        }

        fn dir(&self, name: &str) -> PathBuf {
            let path = self.0.join(name);
            fs::create_dir_all(&path).unwrap();
            path
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn yaml(text: &str, env: Option<&str>) -> Config {
        Config::from_yaml_str(text, env).unwrap()
    }

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

    // --- Environments ---------------------------------------------------------------------

    const ENVIRONMENTS: &str = r#"
default:
  log:
    level: 50
  wamp:
    connection:
      url: 'wss://nexus.izaber.com/ws'
      username: 'me'
      password: 'hunter2'
      authmethods: [ticket]
  paths:
    path: './data'
dev:
  log:
    level: 10
  wamp:
    connection:
      url: 'ws://localhost:8282/ws'
      password: ~
      authmethods: [anonymous, ticket]
  extra: 1
empty:
"#;

    #[test]
    fn environment_merges_over_default() {
        let config = yaml(ENVIRONMENTS, Some("dev"));
        assert_eq!(config.environment(), "dev");
        assert_eq!(config.environments(), ["default", "dev", "empty"]);
        assert_eq!(config.get_as::<u32>("log.level").unwrap(), Some(10));
        // Mappings merge key by key.
        assert_eq!(
            config.get_str("wamp.connection.url").unwrap(),
            Some("ws://localhost:8282/ws")
        );
        assert_eq!(
            config.get_str("wamp.connection.username").unwrap(),
            Some("me")
        );
        // `null` in the environment keeps the default's value (Python deep_merge).
        let wamp = config.wamp().unwrap();
        assert_eq!(wamp.password.as_ref().map(Secret::expose), Some("hunter2"));
        // Lists are replaced, not concatenated.
        assert_eq!(wamp.authmethods, ["anonymous", "ticket"]);
        // Keys only in one side are kept.
        assert_eq!(config.get_str("paths.path").unwrap(), Some("./data"));
        assert_eq!(config.get_as::<u8>("extra").unwrap(), Some(1));

        let default = yaml(ENVIRONMENTS, None);
        assert_eq!(default.environment(), "default");
        assert_eq!(default.get_as::<u32>("log.level").unwrap(), Some(50));
        assert_eq!(default.get("extra"), None);

        // An environment with nothing under it is the default settings.
        let empty = yaml(ENVIRONMENTS, Some("empty"));
        assert_eq!(empty.get_as::<u32>("log.level").unwrap(), Some(50));
    }

    #[test]
    fn python_izaber_environment_fixture() {
        // The configuration of Python izaber's test 054_config_env_environment.py.
        let path = fixtures().join("environments.yaml");
        let level = |env| {
            Config::from_path(&path, env)
                .unwrap()
                .get_as::<u32>("log.level")
                .unwrap()
        };
        assert_eq!(level(None), Some(50));
        assert_eq!(level(Some("alternate")), Some(10));
        assert_eq!(level(Some("alternate2")), Some(100));
    }

    #[test]
    fn environment_resolution_order() {
        let var = |s: &str| Some(OsString::from(s));
        assert_eq!(resolve_environment(None, None).unwrap(), "default");
        assert_eq!(resolve_environment(None, var("")).unwrap(), "default");
        assert_eq!(
            resolve_environment(None, var("alternate")).unwrap(),
            "alternate"
        );
        assert_eq!(
            resolve_environment(Some("alternate2"), var("alternate")).unwrap(),
            "alternate2"
        );
    }

    #[test]
    fn unknown_environment() {
        let err = Config::from_yaml_str(ENVIRONMENTS, Some("prod")).unwrap_err();
        match &err {
            ConfigError::UnknownEnvironment {
                name, available, ..
            } => {
                assert_eq!(name, "prod");
                assert_eq!(available, &["default", "dev", "empty"]);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(
            err.to_string(),
            "unknown environment 'prod'; YAML string defines: default, dev, empty"
        );

        let path = fixtures().join("izaber.yaml");
        let err = Config::from_path(&path, Some("prod")).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "unknown environment 'prod'; {} defines: default, dev",
                path.display()
            )
        );
    }

    #[test]
    fn file_without_default_section() {
        // Python: "Could not find environment 'default'" unless another one is named.
        let text = "wamp:\n  connection:\n    username: me\n";
        let err = Config::from_yaml_str(text, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown environment 'default'; YAML string defines: wamp (settings must be \
             nested under an environment name, such as `default:`)"
        );
        let err = Config::from_yaml_str("", None).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("unknown environment 'default'; YAML string defines no environments")
        );

        // A named environment without `default` is used alone.
        let config = yaml("prod:\n  wamp: {connection: {realm: r}}\n", Some("prod"));
        assert_eq!(config.wamp().unwrap().realm, "r");
    }

    #[test]
    fn sections_must_be_mappings() {
        let err = Config::from_yaml_str("default: 5\n", None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "default must be a mapping of settings, found a number"
        );
        let err = Config::from_yaml_str("default: {}\ndev: [1]\n", Some("dev")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "dev must be a mapping of settings, found a list"
        );
        let err = Config::from_yaml_str("- default\n", None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "YAML string: the top level must map environment names (such as `default`) \
             to settings, found a list"
        );
    }

    #[test]
    fn merge_conflict_names_the_key() {
        let text =
            "default:\n  wamp:\n    connection: {url: x}\ndev:\n  wamp:\n    connection: off\n";
        let err = Config::from_yaml_str(text, Some("dev")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot merge environment 'dev' over 'default' at wamp.connection: \
             'default' has a mapping there, 'dev' has a string"
        );
        // Scalars of different types simply replace each other.
        let config = yaml(
            "default: {timeout: 10}\ndev: {timeout: '10'}\n",
            Some("dev"),
        );
        assert_eq!(config.get_str("timeout").unwrap(), Some("10"));
    }

    #[test]
    fn overlay_merges_like_an_environment() {
        let mut config = yaml(ENVIRONMENTS, None);
        config
            .overlay(serde_yaml::from_str("wamp: {connection: {realm: other}}\nlog: ~").unwrap())
            .unwrap();
        assert_eq!(config.wamp().unwrap().realm, "other");
        assert_eq!(
            config.get_str("wamp.connection.username").unwrap(),
            Some("me")
        );
        assert_eq!(config.get_as::<u32>("log.level").unwrap(), Some(50));
        let err = config.overlay(Value::from("x")).unwrap_err();
        assert_eq!(err.to_string(), "overlay must be a mapping, found a string");
    }

    // --- Dotted access ----------------------------------------------------------------

    #[test]
    fn dotted_access() {
        let config = yaml(
            r#"
default:
  test:
    this:
      thing: 'hi!'
    list: [1, 2]
    nothing: ~
  "dotted.key": direct
  dotted:
    key: nested
"#,
            None,
        );
        assert_eq!(config.get("test.this.thing"), Some(&Value::from("hi!")));
        assert_eq!(config.get_str("test.this.thing").unwrap(), Some("hi!"));
        // Missing keys at any depth.
        assert_eq!(config.get("not.this.thing"), None);
        assert_eq!(config.get("test.this.other"), None);
        assert_eq!(config.get_str("test.nope").unwrap(), None);
        assert_eq!(config.get_as::<u8>("test.nope").unwrap(), None);
        // Walking through a non-mapping finds nothing.
        assert_eq!(config.get("test.this.thing.deeper"), None);
        assert_eq!(config.get("test.list.0"), None);
        // Null is present but reads as absent.
        assert_eq!(config.get("test.nothing"), Some(&Value::Null));
        assert_eq!(config.get_str("test.nothing").unwrap(), None);
        // A whole top-level key with dots is tried first, as in Python.
        assert_eq!(config.get_str("dotted.key").unwrap(), Some("direct"));
        // Sub-trees.
        assert!(config.get("test").unwrap().is_mapping());
        assert_eq!(
            config.get_as::<Vec<u8>>("test.list").unwrap(),
            Some(vec![1, 2])
        );
    }

    #[test]
    fn wrong_types_are_errors_naming_the_key() {
        let config = yaml("default: {test: {list: [1, 2], n: 3, flag: yes}}", None);
        let err = config.get_str("test.list").unwrap_err();
        assert!(matches!(
            &err,
            ConfigError::WrongType { key, expected: "a string", found } if key == "test.list" && found == "a list"
        ));
        assert_eq!(err.to_string(), "test.list must be a string, found a list");
        assert_eq!(
            config.get_str("test.n").unwrap_err().to_string(),
            "test.n must be a string, found a number"
        );
        assert_eq!(
            config.get_str("test").unwrap_err().to_string(),
            "test must be a string, found a mapping"
        );
        let err = config.get_as::<u8>("test.list").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("test.list: invalid type: sequence")
        );
        // YAML 1.2: `yes` is a string for get_as.
        assert!(config.get_as::<bool>("test.flag").is_err());
    }

    // --- Parsing ------------------------------------------------------------------------

    #[test]
    fn yaml_syntax_error_reports_line_and_column() {
        let text = "default:\n  wamp:\n    url: [unclosed\n  other: 1\n";
        let err = Config::from_yaml_str(text, None).unwrap_err();
        match &err {
            ConfigError::Yaml {
                origin,
                line,
                column,
                message,
            } => {
                assert_eq!(origin, "YAML string");
                assert_eq!((*line, *column), (Some(4), Some(8)));
                assert_eq!(
                    message,
                    "did not find expected ',' or ']', while parsing a flow sequence \
                     at line 3 column 10"
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        let text = "default:\n  a: 1\n b: 2\n";
        let err = Config::from_yaml_str(text, None).unwrap_err();
        let ConfigError::Yaml { line, column, .. } = &err else {
            panic!("unexpected {err:?}");
        };
        assert_eq!((*line, *column), (Some(3), Some(2)));
        assert!(
            err.to_string().starts_with("YAML string line 3 column 2: "),
            "{err}"
        );

        let path = fixtures().join("broken").join("izaber.yaml");
        let err = Config::from_path(&path, None).unwrap_err();
        assert!(
            err.to_string().starts_with(&format!(
                "{} line 5 column 7: did not find expected key",
                path.display()
            )),
            "{err}"
        );
    }

    #[test]
    fn duplicate_keys_keep_the_last_value_like_pyyaml() {
        let config = yaml(
            "default:\n  wamp:\n    connection: {realm: first}\n  wamp:\n    connection: {realm: second}\n",
            None,
        );
        assert_eq!(config.wamp().unwrap().realm, "second");
    }

    #[test]
    fn merge_keys_and_anchors_are_applied() {
        let config = yaml(
            r#"
default: &base
  wamp:
    connection:
      realm: izaber
      username: me
dev:
  <<: *base
  log: {level: 10}
"#,
            Some("dev"),
        );
        assert_eq!(
            config.get_str("wamp.connection.username").unwrap(),
            Some("me")
        );
        assert_eq!(config.get_as::<u8>("log.level").unwrap(), Some(10));
    }

    // --- Files and search ---------------------------------------------------------------

    #[test]
    fn from_path_takes_a_file_or_a_directory() {
        let dir = fixtures();
        let file = dir.join("izaber.yaml");
        let by_file = Config::from_path(&file, None).unwrap();
        let by_dir = Config::from_path(&dir, None).unwrap();
        assert_eq!(by_file.source(), &ConfigSource::File(file.clone()));
        assert_eq!(by_dir.source(), &ConfigSource::File(file.clone()));
        assert_eq!(
            by_dir.get_str("wamp.connection.username").unwrap(),
            Some("backend-2")
        );
        assert_eq!(by_file.source().to_string(), file.display().to_string());

        let missing = dir.join("no-such-dir").join("izaber.yaml");
        let err = Config::from_path(&missing, None).unwrap_err();
        assert!(matches!(&err, ConfigError::Io { path, .. } if path == &missing));
        // The cause is in the message once, not again as a source that reports would repeat.
        assert!(err.source().is_none());
        assert!(
            err.to_string()
                .starts_with(&format!("cannot read {}: ", missing.display()))
        );
    }

    #[test]
    fn search_order() {
        let tmp = TempDir::new();
        let (first, second, third) = (tmp.dir("cwd"), tmp.dir("home"), tmp.dir("data"));
        let dirs = vec![first.clone(), second.clone(), third.clone()];
        let write = |dir: &Path, realm: &str| {
            fs::write(
                dir.join(CONFIG_FILE_NAME),
                format!("default: {{wamp: {{connection: {{realm: {realm}}}}}}}\n"),
            )
            .unwrap();
        };
        let realm = |c: Config| c.wamp().unwrap().realm;

        // Nothing anywhere.
        let err = Config::load_from_dirs(&dirs, None, None).unwrap_err();
        match &err {
            ConfigError::NotFound { searched } => {
                assert_eq!(
                    searched,
                    &dirs
                        .iter()
                        .map(|d| d.join("izaber.yaml"))
                        .collect::<Vec<_>>()
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(
            err.to_string(),
            format!(
                "no izaber.yaml found and IZABER_YAML is not set; looked in: {}, {}, {}",
                first.join("izaber.yaml").display(),
                second.join("izaber.yaml").display(),
                third.join("izaber.yaml").display()
            )
        );
        // An empty IZABER_YAML counts as unset (Python: `if not config_buffer`).
        assert!(matches!(
            Config::load_from_dirs(&dirs, Some(""), None),
            Err(ConfigError::NotFound { .. })
        ));

        // Only IZABER_YAML.
        let env_yaml = "default: {wamp: {connection: {realm: from-env}}}";
        let config = Config::load_from_dirs(&dirs, Some(env_yaml), None).unwrap();
        assert_eq!(config.source(), &ConfigSource::EnvVar);
        assert_eq!(realm(config), "from-env");
        let err = Config::load_from_dirs(&dirs, Some("default: ["), None).unwrap_err();
        assert!(err.to_string().starts_with("IZABER_YAML line "), "{err}");

        // A file anywhere wins over IZABER_YAML; the earliest directory wins.
        write(&third, "third");
        let config = Config::load_from_dirs(&dirs, Some(env_yaml), None).unwrap();
        assert_eq!(
            config.source(),
            &ConfigSource::File(third.join("izaber.yaml"))
        );
        assert_eq!(realm(config), "third");
        write(&second, "second");
        assert_eq!(
            realm(Config::load_from_dirs(&dirs, None, None).unwrap()),
            "second"
        );
        write(&first, "first");
        assert_eq!(
            realm(Config::load_from_dirs(&dirs, None, None).unwrap()),
            "first"
        );

        // A directory named izaber.yaml is not a file and is skipped.
        let odd = tmp.dir("odd");
        fs::create_dir_all(odd.join("izaber.yaml")).unwrap();
        let config = Config::load_from_dirs(&[odd, second.clone()], None, None).unwrap();
        assert_eq!(realm(config), "second");
    }

    #[test]
    fn search_dirs_follow_python_order() {
        let dirs = Config::search_dirs();
        let cwd = env::current_dir().unwrap();
        assert_eq!(dirs[0], cwd);
        if let Some(home) = env::home_dir() {
            // Run from the home directory, it is searched (and named) once.
            let expected_len = if home == cwd { 2 } else { 3 };
            assert_eq!(dirs.len(), expected_len, "{dirs:?}");
            assert_eq!(dirs[expected_len - 2], home);
            let data = dirs.last().unwrap();
            assert!(data.ends_with("ZaberConfig"), "{}", data.display());
        }
    }

    // --- Secrets ------------------------------------------------------------------------

    #[test]
    fn types_can_cross_threads() {
        fn send_sync<T: Send + Sync + 'static>() {}
        send_sync::<Config>();
        send_sync::<WampConfig>();
        send_sync::<ConfigError>();
    }

    #[test]
    fn debug_never_shows_secrets() {
        let config = yaml(
            r#"
default:
  wamp:
    connection:
      username: me
      password: 'hunter2'
  services:
    - name: db
      db_password: 'pa55word'
    - api_key: 'k3y-material'
  apikeys:
    ticket: 'tick3t'
    nested:
      secret: {deep: 'hidden-value'}
  tokens: 'sometoken'
"#,
            None,
        );
        let debug = format!("{config:?}");
        for secret in [
            "hunter2",
            "pa55word",
            "k3y-material",
            "tick3t",
            "hidden-value",
            "sometoken",
        ] {
            assert!(!debug.contains(secret), "{secret} leaked: {debug}");
        }
        assert!(debug.contains("<redacted>"));
        assert!(debug.contains("\"username\": \"me\""), "{debug}");
        assert!(debug.contains("environment: \"default\""), "{debug}");

        let wamp = config.wamp().unwrap();
        let debug = format!("{wamp:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("<redacted>"));
        assert!(!format!("{:?}", WampConfig::default()).contains("changeme"));

        // Errors do not quote secret values either.
        let err = config
            .get_as::<u32>("wamp.connection.password")
            .unwrap_err();
        assert!(!format!("{err} {err:?}").contains("hunter2"), "{err}");
        let err = config.get_as::<Vec<String>>("wamp.connection").unwrap_err();
        assert!(!format!("{err} {err:?}").contains("hunter2"), "{err}");
    }
}
