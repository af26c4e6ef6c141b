//! [`ConfigError`] and the helpers that describe a value's YAML type in its messages.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::path::PathBuf;

use serde_yaml::Value;

use super::{CONFIG_FILE_NAME, DEFAULT_ENVIRONMENT, IZABER_YAML_VAR};

/// Why a configuration could not be loaded or a value could not be read.
///
/// Every message names the file, key or environment at fault. A variant that wraps an
/// underlying error ([`ConfigError::Io`]) returns it from
/// [`source()`](std::error::Error::source) and leaves its text out of the message: print the
/// whole chain (as `anyhow`'s `{:#}` does) to see the cause. No message quotes a password or
/// other secret (see [`Config`]).
///
/// [`Config`]: super::Config
#[derive(Debug)]
#[non_exhaustive]
pub enum ConfigError {
    /// [`Config::load`] found no `izaber.yaml` in any searched directory, and `IZABER_YAML`
    /// is unset or empty.
    ///
    /// [`Config::load`]: super::Config::load
    NotFound {
        /// The files looked for, in search order.
        searched: Vec<PathBuf>,
    },
    /// A configuration file exists (or was named) but could not be read.
    ///
    /// The message names the file; what the operating system said is the error's
    /// [`source()`](std::error::Error::source), not part of the message.
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
    /// [`Config::get_as`] could not deserialize it, or [`Config::overlay`] was given bytes).
    ///
    /// [`Config::get_as`]: super::Config::get_as
    /// [`Config::overlay`]: super::Config::overlay
    InvalidValue {
        /// Dotted key of the value.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// [`Config::value`] found nothing at a key (Python's `AttributeError` or `KeyError`
    /// for `config.a.b`).
    ///
    /// [`Config::value`]: super::Config::value
    MissingKey {
        /// The dotted key asked for, e.g. `nexus_monitor.requried`.
        key: String,
        /// Where the path stops, e.g. `nexus_monitor has no key 'requried' (keys: required)`:
        /// key names only, never values.
        detail: String,
        /// The environment in use.
        environment: String,
    },
    /// An environment's value cannot be merged over the `default` one: one is a mapping and
    /// the other is not. (Python's merge rejects this too.)
    MergeConflict {
        /// Dotted key inside the environment sections, e.g. `wamp.connection`.
        key: String,
        /// The environment merged over `default` (or `overlay` for [`Config::overlay`] and
        /// [`Config::overlay_yaml`]).
        ///
        /// [`Config::overlay`]: super::Config::overlay
        /// [`Config::overlay_yaml`]: super::Config::overlay_yaml
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
            // The io error is the `source()`: a report that walks the chain adds its text.
            ConfigError::Io { path, .. } => write!(f, "cannot read {}", path.display()),
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
            ConfigError::MissingKey {
                key,
                detail,
                environment,
            } => write!(
                f,
                "{key} is not in the configuration (environment '{environment}'): {detail}"
            ),
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

/// The message never repeats the text of the error `source()` returns, so that a report
/// walking the chain (`anyhow`'s `{:#}`, "Caused by:") tells the cause once.
impl StdError for ConfigError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            ConfigError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

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
pub(super) fn describe(value: &Value) -> String {
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

pub(super) fn wrong_type(key: &str, expected: &'static str, found: &Value) -> ConfigError {
    ConfigError::WrongType {
        key: key.to_owned(),
        expected,
        found: describe(found),
    }
}
