//! Environments: `default` with the named environment deep-merged over it, and the
//! `IZABER_ENVIRONMENT` variable.

use std::env;
use std::ffi::OsString;

use serde_yaml::{Mapping, Value};

use super::error::{describe, wrong_type};
use super::yaml::deep_merge;
use super::{Config, ConfigError};

/// The environment variable naming the environment when none is passed explicitly.
pub const IZABER_ENVIRONMENT_VAR: &str = "IZABER_ENVIRONMENT";

/// The environment used when none is named: `default`.
pub const DEFAULT_ENVIRONMENT: &str = "default";

impl Config {
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
}

/// The environment to use: the argument, else the `IZABER_ENVIRONMENT` value when set and
/// not empty, else `default`. Kept apart from `env::var` so it can be tested.
pub(super) fn resolve_environment(
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

/// Checks the top level and merges `default` with `environment`. Returns the merged settings
/// and the names of all environments.
pub(super) fn select_environment(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;
    use crate::config::test_support::{fixtures, yaml};

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
        assert_eq!(default.node("extra"), None);

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
            .overlay_yaml("wamp: {connection: {realm: other}}\nlog: ~")
            .unwrap();
        assert_eq!(config.wamp().unwrap().realm, "other");
        assert_eq!(
            config.get_str("wamp.connection.username").unwrap(),
            Some("me")
        );
        assert_eq!(config.get_as::<u32>("log.level").unwrap(), Some(50));
        let err = config.overlay_yaml("[x]").unwrap_err();
        assert_eq!(err.to_string(), "overlay must be a mapping, found a list");
        let err = config
            .overlay(crate::protocol::Value::from("x"))
            .unwrap_err();
        assert_eq!(err.to_string(), "overlay must be a mapping, found a string");
    }
}
