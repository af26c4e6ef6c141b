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
//! [`Config::get_str`], [`Config::get_as`] and [`Config::value`] take a dotted key such as
//! `"wamp.connection.username"`. As in Python's `config.get`, a top-level key spelled with
//! the dots in it is tried first. [`Config::value`] reads any key or section as the crate's
//! [`Value`](crate::protocol::Value), and fails on a missing key as Python's `config.a.b`
//! does; `get_str` and `get_as` give `None` for a missing or `null` key, as
//! `config.get('a.b')` does. [`Config::wamp`] gives the `wamp:` section as a typed
//! [`WampConfig`] with the Python library's defaults filled in.
//!
//! | Python | Rust |
//! |---|---|
//! | `config.nexus_monitor.required` | `config.value("nexus_monitor.required")?` |
//! | `config.get('nexus_monitor.required')` | `config.get_as::<protocol::Value>("nexus_monitor.required")?` (`None` when missing) |
//! | `config.get('nexus_monitor.interval', 60)` | `config.get_as::<u64>("nexus_monitor.interval")?.unwrap_or(60)` |
//! | `config.wamp.connection.username` | `config.get_str("wamp.connection.username")?` |
//! | `initialize(wamp={'connection': {'realm': 'b'}})` | `config.overlay_yaml("wamp: {connection: {realm: b}}")?`, or [`Config::overlay`] with a `Value::Dict` |
//!
//! No method hands out the YAML library's own types, so that the parser can change without
//! changing this API.
//!
//! # The application name
//!
//! Python's `initialize('name')` merges the top-level section named after the application
//! over the settings, and `config.name` reads the name back; [`Config::set_app_name`] and
//! [`Config::app_name`] do the same (see [`InitOptions::app_name`](crate::InitOptions::app_name)
//! for `initialize`).
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
//! [`Secret`](crate::Secret). Error messages never quote the value of such a key (only
//! [`Config::get_as`] quotes values at all, as `serde` reports them, and not for secrets).

// Where each part lives:
// - `search.rs`: finding `izaber.yaml` (current directory, home, per-user data directory,
//   `IZABER_YAML`), `Config::load`, `Config::from_path`;
// - `yaml.rs`: `Config` and `ConfigSource`, parsing YAML as PyYAML would, deep merging, the
//   generic accessors (`get_str`, `get_as`, `value`, and `node` for the module's own use),
//   `overlay` and `overlay_yaml`, and the redacted `Debug`;
// - `environment.rs`: `default` with the chosen environment merged over it,
//   `IZABER_ENVIRONMENT`;
// - `app.rs`: the application name, Python's `initialize(name)` (`Config::set_app_name`);
// - `wamp.rs`: `WampConfig`, its defaults and the reading and checking of every `wamp.*` key;
// - `error.rs`: `ConfigError`.

mod app;
mod environment;
mod error;
mod search;
#[cfg(test)]
mod test_support;
mod wamp;
mod yaml;

pub use environment::{DEFAULT_ENVIRONMENT, IZABER_ENVIRONMENT_VAR};
pub use error::ConfigError;
pub use search::{CONFIG_FILE_NAME, IZABER_YAML_VAR};
pub use wamp::WampConfig;
pub use yaml::{Config, ConfigSource};
