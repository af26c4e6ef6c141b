//! The application name: what Python's `initialize(name)` does to the configuration.
//!
//! Python `izaber.initialize(name=None, **kwargs)` (in `izaber/startup.py` and
//! `izaber/zconfig.py`) does two things with the name, and only these (neither
//! `izaber_wamp` nor the WAMP session use it):
//!
//! 1. it deep-merges the settings' top-level section of that name (looked up like
//!    `config.get(name)`, dots included) over the settings, after the environment: a
//!    "subconfig", which Python now calls deprecated on stderr when the section is not empty;
//! 2. it merges its keyword arguments, the name among them, over the settings, so that
//!    `config.name` reads it back.
//!
//! [`Config::set_app_name`] does the first and keeps the name for [`Config::app_name`], the
//! counterpart of the second (the name is not written into the settings, so a `name:` key of
//! izaber.yaml stays readable). Without a name Python uses `sys.argv[0]`, whose section
//! lookup (`monitor.py`, a path) in practice never finds one; Rust uses no name then, so that
//! a binary called `monitor` does not pick up a `monitor:` section its Python twin never read.

use serde_yaml::Value;

use super::error::describe;
use super::{Config, ConfigError};

impl Config {
    /// Names the application, as Python's `initialize('name')` does: the name is kept for
    /// [`Config::app_name`], and the top-level section of that name, when there is one, is
    /// deep-merged over the settings (after the environment, with the same rules), so that
    /// one izaber.yaml can give one application settings of its own:
    ///
    /// ```
    /// # use izaber_wamp::config::Config;
    /// let mut config = Config::from_yaml_str(
    ///     "
    /// default:
    ///   wamp: {connection: {username: me}}
    ///   nexus_monitor:
    ///     wamp: {connection: {username: monitor}}
    ///     required: [db]
    /// ",
    ///     None,
    /// )?;
    /// config.set_app_name("nexus_monitor")?;
    /// assert_eq!(config.app_name(), Some("nexus_monitor"));
    /// assert_eq!(config.wamp()?.username.as_deref(), Some("monitor"));
    /// // The section itself stays where it was too.
    /// assert_eq!(config.value("nexus_monitor.required")?[0], "db");
    /// # Ok::<(), izaber_wamp::config::ConfigError>(())
    /// ```
    ///
    /// The section is looked up as [`Config::value`] looks up a key, so a dotted name such as
    /// `tools.monitor` finds the section `monitor` inside `tools`. Python deprecates such
    /// per-application sections ("Use of subconfigs is deprecated"); a non-empty one is
    /// merged all the same, with a warning in the log. An empty name names nothing and merges
    /// nothing, as in Python. [`crate::initialize_with`] calls this for
    /// [`InitOptions::app_name`](crate::InitOptions::app_name).
    ///
    /// # Errors
    ///
    /// [`ConfigError::WrongType`] when the section is neither a mapping nor `null`, and
    /// [`ConfigError::InvalidValue`] when one of its values is a mapping where the settings
    /// have something else, or the other way round (Python fails on both). On error the
    /// name is not kept and the settings are unchanged.
    pub fn set_app_name(&mut self, name: &str) -> Result<(), ConfigError> {
        if !name.is_empty() {
            let section = match self.node(name) {
                None | Some(Value::Null) => None,
                Some(Value::Mapping(m)) if m.is_empty() => None,
                Some(section @ Value::Mapping(_)) => Some(section.clone()),
                Some(other) => {
                    return Err(ConfigError::WrongType {
                        key: name.to_owned(),
                        expected: "a mapping (the section of the application name)",
                        found: describe(other),
                    });
                }
            };
            if let Some(section) = section {
                self.merge_over(section, name).map_err(|err| match err {
                    ConfigError::MergeConflict {
                        key, base, overlay, ..
                    } => ConfigError::InvalidValue {
                        key: name.to_owned(),
                        message: format!(
                            "cannot merge the application's section over the settings: \
                             at {key} the settings have {base}, the section has {overlay}"
                        ),
                    },
                    other => other,
                })?;
                log::warn!(
                    "{}: the section '{name}' is merged over the settings because the \
                     application is named '{name}', as Python izaber does (which deprecates \
                     such sections: \"Use of subconfigs is deprecated\")",
                    self.source()
                );
            }
        }
        self.app_name = Some(name.to_owned());
        Ok(())
    }

    /// The application name given to [`Config::set_app_name`] (by
    /// [`crate::initialize_with`] for [`InitOptions::app_name`](crate::InitOptions::app_name)):
    /// Python's `config.name` after `initialize('name')`. `None` when no name was given.
    pub fn app_name(&self) -> Option<&str> {
        self.app_name.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use crate::config::test_support::yaml;

    const APPS: &str = r#"
default:
  log: {level: 50}
  wamp:
    connection:
      url: 'wss://nexus.izaber.com/ws'
      username: me
      password: 'hunter2'
  nexus_monitor:
    required: [db, auth]
    log: {level: 10}
    wamp:
      connection:
        username: monitor
        password: 'm0nitor-pass'
  tools:
    exporter:
      batch: 100
  "dotted.app":
    batch: 5
  empty_app: {}
  null_app: ~
  scalar_app: 5
  clash_app:
    log: 7
dev:
  nexus_monitor:
    required: [db]
"#;

    #[test]
    fn the_named_section_is_merged_over_the_settings() {
        let mut config = yaml(APPS, None);
        assert_eq!(config.app_name(), None);
        config.set_app_name("nexus_monitor").unwrap();
        assert_eq!(config.app_name(), Some("nexus_monitor"));
        assert_eq!(config.get_as::<u8>("log.level").unwrap(), Some(10));
        let wamp = config.wamp().unwrap();
        assert_eq!(wamp.username.as_deref(), Some("monitor"));
        assert_eq!(wamp.password.unwrap().expose(), "m0nitor-pass");
        // Untouched keys stay; the section's own keys come up to the top.
        assert_eq!(wamp.urls, ["wss://nexus.izaber.com/ws"]);
        assert_eq!(config.value("required").unwrap()[1], "auth");
        assert_eq!(config.value("nexus_monitor.required").unwrap()[0], "db");
        // The name is not written into the settings (Python's config.name is app_name()).
        assert!(config.node("name").is_none());
    }

    #[test]
    fn the_section_is_taken_after_the_environment_merge() {
        let mut config = yaml(APPS, Some("dev"));
        config.set_app_name("nexus_monitor").unwrap();
        let required = config.value("required").unwrap();
        assert_eq!(required.as_list().map(<[_]>::len), Some(1));
        assert_eq!(required[0], "db");
        assert_eq!(config.environment(), "dev");
    }

    #[test]
    fn section_names_are_looked_up_like_get() {
        let mut config = yaml(APPS, None);
        config.set_app_name("tools.exporter").unwrap();
        assert_eq!(config.value("batch").unwrap(), 100);
        // A top-level key spelled with the dot wins, as in Python's config.get.
        let mut config = yaml(APPS, None);
        config.set_app_name("dotted.app").unwrap();
        assert_eq!(config.value("batch").unwrap(), 5);
    }

    #[test]
    fn a_name_without_a_section_is_only_kept() {
        let plain = yaml(APPS, None);
        for name in ["no_such_app", "empty_app", "null_app", "", "tools.nothing"] {
            let mut config = plain.clone();
            config.set_app_name(name).unwrap();
            assert_eq!(config.app_name(), Some(name));
            assert_eq!(
                config.value("wamp").unwrap(),
                plain.value("wamp").unwrap(),
                "{name}"
            );
            assert!(config.node("batch").is_none());
        }
    }

    #[test]
    fn a_section_that_cannot_be_merged_is_an_error_and_changes_nothing() {
        let mut config = yaml(APPS, None);
        let err = config.set_app_name("scalar_app").unwrap_err();
        assert_eq!(
            err.to_string(),
            "scalar_app must be a mapping (the section of the application name), found a number"
        );
        let err = config.set_app_name("clash_app").unwrap_err();
        assert_eq!(
            err.to_string(),
            "clash_app: cannot merge the application's section over the settings: at log \
             the settings have a mapping, the section has a number"
        );
        assert_eq!(config.app_name(), None);
        assert_eq!(config.get_as::<u8>("log.level").unwrap(), Some(50));
    }

    #[test]
    fn debug_shows_the_name_and_no_secret_of_the_section() {
        let mut config = yaml(APPS, None);
        config.set_app_name("nexus_monitor").unwrap();
        let debug = format!("{config:?}");
        assert!(
            debug.contains("app_name: Some(\"nexus_monitor\")"),
            "{debug}"
        );
        for secret in ["hunter2", "m0nitor-pass"] {
            assert!(!debug.contains(secret), "{secret} leaked: {debug}");
        }
        let wamp = config.wamp().unwrap();
        assert!(!format!("{wamp:?}").contains("m0nitor-pass"));
    }
}
