//! [`Config`] itself: parsing YAML as PyYAML would, deep-merging settings, the generic
//! dotted-key accessors, and the redacted `Debug` output.

use std::cell::RefCell;
use std::fmt;
use std::path::PathBuf;

use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_yaml::value::{Tag, TaggedValue};
use serde_yaml::{Mapping, Value};

use super::environment::select_environment;
use super::error::{describe, wrong_type};
use super::{ConfigError, DEFAULT_ENVIRONMENT, IZABER_YAML_VAR, WampConfig};

/// Parts of key names whose values [`Config`]'s `Debug` output hides (compared in lowercase).
const SENSITIVE_KEY_PARTS: &[&str] = &[
    "password", "passwd", "secret", "ticket", "token", "apikey", "api_key",
];

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
/// [module documentation](super#secrets)).
#[derive(Clone)]
pub struct Config {
    /// The merged settings; always a mapping.
    tree: Value,
    environment: String,
    environments: Vec<String>,
    source: ConfigSource,
    /// The name given to [`Config::set_app_name`] (Python's `initialize(name)`).
    pub(super) app_name: Option<String>,
}

impl Config {
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

    pub(super) fn from_text(
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
            app_name: None,
        })
    }

    /// The node at a dotted key such as `"wamp.connection.username"`, or `None` when any
    /// part of the path is missing or is not a mapping. A key present with a `null` value
    /// gives `Some(&Value::Null)`.
    ///
    /// As in Python's `config.get`, a top-level key that is the whole dotted string is tried
    /// first. Not public so that the YAML library's types stay out of the API: callers use
    /// [`Config::get_as`] or [`Config::value`].
    pub(super) fn node(&self, dotted_key: &str) -> Option<&Value> {
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
        match self.node(dotted_key) {
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
        match self.node(dotted_key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => deserialize(dotted_key, value).map(Some),
        }
    }

    /// The value at a dotted key as the crate's dynamic [`protocol::Value`], the type WAMP
    /// calls take and return: one call to read a section of your own, as Python's
    /// `config.nexus_monitor.required` does.
    ///
    /// ```
    /// # use izaber_wamp::config::{Config, ConfigError};
    /// let config = Config::from_yaml_str(
    ///     "default: {nexus_monitor: {required: [db, auth], interval: ~}}",
    ///     None,
    /// )?;
    /// // Python: config.nexus_monitor.required
    /// let required = config.value("nexus_monitor.required")?;
    /// assert_eq!(required[1], "auth");
    /// let section = config.value("nexus_monitor")?; // a whole section: a Value::Dict
    /// assert_eq!(section["required"][0], "db");
    /// assert!(config.value("nexus_monitor.interval")?.is_null()); // present, null
    /// // A typo is an error that names the key, as Python's AttributeError/KeyError is.
    /// let typo = config.value("nexus_monitor.requried").unwrap_err();
    /// assert!(matches!(typo, ConfigError::MissingKey { .. }));
    /// // Python's config.get('a.b', default): an optional key.
    /// let interval = config.get_as::<u64>("nexus_monitor.interval")?.unwrap_or(60);
    /// # assert_eq!(interval, 60);
    /// # Ok::<(), ConfigError>(())
    /// ```
    ///
    /// A key present with a `null` value (`~` or nothing) gives [`Value::Null`]; a missing
    /// key is an error, so that a misspelt key does not pass for an empty setting. For a key
    /// that may be missing, use [`Config::get_as`]`::<Value>`, which gives `Ok(None)` for a
    /// missing or `null` key and otherwise the same value as this.
    ///
    /// The YAML maps to a `Value` as follows: strings, booleans, lists and `null` as they
    /// are; integers to [`Value::Integer`], other numbers (`1.5`, `.inf`) to
    /// [`Value::Float`]; mappings to [`Value::Dict`], with integer and boolean keys turned
    /// into their text (`1` to `"1"`, `true` to `"true"`, as Python's `json` writes them). A
    /// value with a local tag, `!name content` (which Python's loader refuses), becomes
    /// `{"name": content}`, as any enum does in a `Value`. The settings are the merged ones:
    /// `default`, the environment, and the application's section (see
    /// [`Config::set_app_name`]).
    ///
    /// The value is plain data: a password inside it is there in clear, and the `Debug` and
    /// `Display` of a `Value` print it. `Config`'s own `Debug` redacts secrets (see
    /// [`Config`]); print a section that holds one with care.
    ///
    /// [`protocol::Value`]: crate::protocol::Value
    /// [`Value::Null`]: crate::protocol::Value::Null
    /// [`Value::Integer`]: crate::protocol::Value::Integer
    /// [`Value::Float`]: crate::protocol::Value::Float
    /// [`Value::Dict`]: crate::protocol::Value::Dict
    ///
    /// # Errors
    ///
    /// [`ConfigError::MissingKey`] when the key is not in the configuration, naming the key,
    /// the part of it that is present and that part's keys. [`ConfigError::InvalidValue`],
    /// naming the key, when a mapping inside the value has a key a `Value` cannot hold
    /// (`null`, a float, a list or a mapping); the message does not quote secrets.
    pub fn value(&self, dotted_key: &str) -> Result<crate::protocol::Value, ConfigError> {
        match self.node(dotted_key) {
            Some(value) => deserialize(dotted_key, value),
            None => Err(self.missing_key(dotted_key)),
        }
    }

    /// The error for a key [`Config::node`] did not find: says where the dotted path stops and
    /// which keys are there instead (key names only, never values).
    fn missing_key(&self, dotted_key: &str) -> ConfigError {
        /// How many of a mapping's keys the message lists at most.
        const LISTED: usize = 12;
        let parts: Vec<&str> = dotted_key.split('.').collect();
        let mut current = &self.tree;
        let mut detail = format!("'{dotted_key}' is not there");
        for (depth, part) in parts.iter().enumerate() {
            let (place, verb) = if depth == 0 {
                ("the settings".to_owned(), "have")
            } else {
                (parts[..depth].join("."), "has")
            };
            let Value::Mapping(mapping) = current else {
                detail = format!("{place} is {}, not a mapping", describe(current));
                break;
            };
            if let Some(next) = mapping.get(*part) {
                current = next;
                continue;
            }
            detail = format!("{place} {verb} no key '{part}'");
            // A mapping under a secret's name may be keyed by secrets: list none of its keys.
            if parts[..depth].iter().any(|p| is_sensitive_key(p)) {
                break;
            }
            let keys: Vec<String> = mapping.keys().map(key_name).collect();
            if keys.is_empty() {
                detail.push_str(" (no keys at all)");
            } else if keys.len() <= LISTED {
                detail.push_str(&format!(" (keys: {})", keys.join(", ")));
            } else {
                detail.push_str(&format!(
                    " (keys: {} and {} more)",
                    keys[..LISTED].join(", "),
                    keys.len() - LISTED
                ));
            }
            break;
        }
        ConfigError::MissingKey {
            key: dotted_key.to_owned(),
            detail,
            environment: self.environment.clone(),
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

    /// Deep-merges `overlay`, a [`Value::Dict`] of settings shaped like an environment
    /// section, over the merged settings, with the environment merge rules: dicts merge key
    /// by key, `null` keeps what is there, anything else replaces it.
    ///
    /// This is what Python `initialize(**options)` does with its keyword options; use it for
    /// settings given by the program or the command line. For settings written as YAML text,
    /// [`Config::overlay_yaml`] is shorter.
    ///
    /// ```
    /// use izaber_wamp::config::Config;
    /// use izaber_wamp::protocol::{Dict, Value};
    ///
    /// let mut config = Config::from_yaml_str("default: {wamp: {connection: {realm: a}}}", None)?;
    /// // Python: initialize(wamp={'connection': {'realm': 'b'}})
    /// let connection = Dict::from([("realm".to_owned(), Value::from("b"))]);
    /// let wamp = Dict::from([("connection".to_owned(), Value::Dict(connection))]);
    /// let overlay = Dict::from([("wamp".to_owned(), Value::Dict(wamp))]);
    /// config.overlay(Value::Dict(overlay))?;
    /// assert_eq!(config.wamp()?.realm, "b");
    /// # Ok::<(), izaber_wamp::config::ConfigError>(())
    /// ```
    ///
    /// A value read with [`Config::value`] can be given back: strings, integers, floats,
    /// booleans, `null`, lists and dicts become the YAML they came from. [`Value::Bytes`] has
    /// no counterpart in a configuration and is refused. Secrets given here are redacted from
    /// `Config`'s `Debug` as those of the file are (see [`Config`]).
    ///
    /// [`Value::Dict`]: crate::protocol::Value::Dict
    /// [`Value::Bytes`]: crate::protocol::Value::Bytes
    ///
    /// # Errors
    ///
    /// [`ConfigError::WrongType`] when `overlay` is neither a dict nor `null`;
    /// [`ConfigError::InvalidValue`], naming the key, when it holds bytes or an integer
    /// outside the 64-bit range; [`ConfigError::MergeConflict`] when it has a dict where the
    /// settings have something else, or the other way round. On error the configuration is
    /// unchanged.
    pub fn overlay(&mut self, overlay: crate::protocol::Value) -> Result<(), ConfigError> {
        use crate::protocol::Value as PValue;
        if !matches!(overlay, PValue::Dict(_) | PValue::Null) {
            return Err(ConfigError::WrongType {
                key: OVERLAY.to_owned(),
                expected: "a mapping",
                found: describe_protocol_value(&overlay).to_owned(),
            });
        }
        // Converted whole before anything is merged, so that a refused value changes nothing.
        let tree = protocol_to_yaml(overlay, &mut String::new())?;
        self.merge_over(tree, OVERLAY)
    }

    /// Parses `yaml`, a mapping of settings shaped like an environment section, and
    /// deep-merges it over the merged settings as [`Config::overlay`] does.
    ///
    /// ```
    /// # use izaber_wamp::config::Config;
    /// let mut config = Config::from_yaml_str("default: {wamp: {connection: {realm: a}}}", None)?;
    /// config.overlay_yaml("wamp: {connection: {realm: b}}")?;
    /// assert_eq!(config.wamp()?.realm, "b");
    /// # Ok::<(), izaber_wamp::config::ConfigError>(())
    /// ```
    ///
    /// The text is read as the file is (see the [module documentation](super#yaml-dialect)).
    /// An empty text changes nothing.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Yaml`], with origin `overlay`, for invalid YAML;
    /// [`ConfigError::WrongType`] when the text is neither a mapping nor `null`;
    /// [`ConfigError::MergeConflict`]. On error the configuration is unchanged.
    pub fn overlay_yaml(&mut self, yaml: &str) -> Result<(), ConfigError> {
        let tree = parse_yaml(yaml, OVERLAY)?;
        if !matches!(tree, Value::Mapping(_) | Value::Null) {
            return Err(wrong_type(OVERLAY, "a mapping", &tree));
        }
        self.merge_over(tree, OVERLAY)
    }

    /// Deep-merges a YAML tree over the settings, all or nothing; `name` is what a
    /// [`ConfigError::MergeConflict`] calls the tree. The public overlays and
    /// [`Config::set_app_name`] share it, the latter without converting its section twice.
    pub(super) fn merge_over(&mut self, overlay: Value, name: &str) -> Result<(), ConfigError> {
        // Merged into a copy: a conflict found halfway must not leave half the overlay in.
        let mut tree = self.tree.clone();
        deep_merge(&mut tree, overlay, &mut Vec::new(), name)?;
        self.tree = tree;
        Ok(())
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
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("environment", &self.environment)
            .field("app_name", &self.app_name)
            .field("source", &self.source)
            .field("settings", &Redacted(&self.tree))
            .finish()
    }
}

/// `value` deserialized as `T`, for [`Config::get_as`] and [`Config::value`]; the error names
/// the key and does not quote a secret.
fn deserialize<T: DeserializeOwned>(dotted_key: &str, value: &Value) -> Result<T, ConfigError> {
    serde_yaml::from_value(value.clone()).map_err(|err| {
        let message = if is_sensitive_path(dotted_key) || holds_secret(value) {
            format!("cannot be read as {}", std::any::type_name::<T>())
        } else {
            err.to_string()
        };
        ConfigError::InvalidValue {
            key: dotted_key.to_owned(),
            message,
        }
    })
}

/// What [`Config::overlay`] and [`Config::overlay_yaml`] call their settings in errors.
const OVERLAY: &str = "overlay";

/// A [`crate::protocol::Value`]'s type in the words [`describe`] uses for YAML, so that
/// both overlays word their errors alike. Never the value.
fn describe_protocol_value(value: &crate::protocol::Value) -> &'static str {
    use crate::protocol::Value as PValue;
    match value {
        PValue::Null => "null",
        PValue::Bool(_) => "a boolean",
        PValue::Integer(_) | PValue::Float(_) => "a number",
        PValue::String(_) => "a string",
        PValue::Bytes(_) => "bytes",
        PValue::List(_) => "a list",
        PValue::Dict(_) => "a mapping",
    }
}

/// The YAML tree for a [`Config::overlay`] value. `path` is the dotted key of `value` (list
/// items as `key[i]`), kept for the error, which names the key and never quotes the value.
fn protocol_to_yaml(
    value: crate::protocol::Value,
    path: &mut String,
) -> Result<Value, ConfigError> {
    use crate::protocol::Value as PValue;
    let refuse = |path: &str, message: &str| {
        // A mapping under a secret's name may be keyed by secrets (as for `missing_key`):
        // the key named stops at the secret's name.
        let parts: Vec<&str> = path.split('.').collect();
        match parts.iter().position(|part| is_sensitive_key(part)) {
            Some(at) if at + 1 < parts.len() => ConfigError::InvalidValue {
                key: parts[..=at].join("."),
                message: format!("a value inside {message}"),
            },
            _ => ConfigError::InvalidValue {
                key: path.to_owned(),
                message: message.to_owned(),
            },
        }
    };
    Ok(match value {
        PValue::Null => Value::Null,
        PValue::Bool(b) => Value::Bool(b),
        PValue::Integer(i) => {
            // serde_yaml's numbers stop at 64 bits; a rounded float would change the setting.
            if let Ok(i) = i64::try_from(i) {
                Value::Number(i.into())
            } else if let Ok(u) = u64::try_from(i) {
                Value::Number(u.into())
            } else {
                return Err(refuse(path, "must be an integer within the 64-bit range"));
            }
        }
        PValue::Float(f) => Value::Number(f.into()),
        PValue::String(s) => Value::String(s),
        PValue::Bytes(_) => {
            return Err(refuse(
                path,
                "must not be bytes: a configuration holds strings, numbers, booleans, \
                 null, lists and mappings",
            ));
        }
        PValue::List(items) => {
            let mut sequence = Vec::with_capacity(items.len());
            for (index, item) in items.into_iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{index}]"));
                sequence.push(protocol_to_yaml(item, path)?);
                path.truncate(len);
            }
            Value::Sequence(sequence)
        }
        PValue::Dict(dict) => {
            let mut mapping = Mapping::with_capacity(dict.len());
            for (key, item) in dict {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&key);
                let item = protocol_to_yaml(item, path)?;
                path.truncate(len);
                mapping.insert(Value::String(key), item);
            }
            Value::Mapping(mapping)
        }
    })
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

/// Python `izaber.structs.deep_merge`: mappings merge recursively, `null` keeps the base,
/// anything else replaces it. Python also refuses to replace a value by one of another type;
/// this refuses only a mapping against a non-mapping (a likely mistake) and lets scalars and
/// lists replace each other.
pub(super) fn deep_merge(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::{fixtures, yaml};
    use crate::protocol::{Dict, Value as PValue};

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
        assert_eq!(config.node("test.this.thing"), Some(&Value::from("hi!")));
        assert_eq!(config.get_str("test.this.thing").unwrap(), Some("hi!"));
        // Missing keys at any depth.
        assert_eq!(config.node("not.this.thing"), None);
        assert_eq!(config.node("test.this.other"), None);
        assert_eq!(config.get_str("test.nope").unwrap(), None);
        assert_eq!(config.get_as::<u8>("test.nope").unwrap(), None);
        // Walking through a non-mapping finds nothing.
        assert_eq!(config.node("test.this.thing.deeper"), None);
        assert_eq!(config.node("test.list.0"), None);
        // Null is present but reads as absent.
        assert_eq!(config.node("test.nothing"), Some(&Value::Null));
        assert_eq!(config.get_str("test.nothing").unwrap(), None);
        // A whole top-level key with dots is tried first, as in Python.
        assert_eq!(config.get_str("dotted.key").unwrap(), Some("direct"));
        // Sub-trees.
        assert!(config.node("test").unwrap().is_mapping());
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

    // --- Reading as a protocol Value -------------------------------------------------------

    const MONITOR: &str = r#"
default:
  nexus_monitor:
    required: [db, auth]
    interval: 2.5
    retries: 3
    enabled: true
    note: ~
    ports: {80: http, 443: https}
    flags: {true: on, false: off}
  "dotted.key": direct
dev:
  nexus_monitor:
    required: [db]
"#;

    #[test]
    fn value_reads_any_key_or_section_as_a_protocol_value() {
        let config = yaml(MONITOR, None);
        let section = config.value("nexus_monitor").unwrap();
        assert_eq!(section["required"][1], "auth");
        assert_eq!(section["interval"], 2.5);
        assert_eq!(section["retries"], 3);
        assert_eq!(section["enabled"], true);
        assert!(section["note"].is_null());
        assert_eq!(
            config.value("nexus_monitor.required").unwrap(),
            PValue::List(vec!["db".into(), "auth".into()])
        );
        // Present with null: Null, not an error.
        assert_eq!(config.value("nexus_monitor.note").unwrap(), PValue::Null);
        // Integer and boolean keys become their text, as Python's json writes them.
        let ports = config.value("nexus_monitor.ports").unwrap();
        assert_eq!(ports["80"], "http");
        assert_eq!(config.value("nexus_monitor.flags").unwrap()["false"], "off");
        // A top-level key with dots in it is tried first, as for get.
        assert_eq!(config.value("dotted.key").unwrap(), "direct");
        // The environment is merged in.
        let dev = yaml(MONITOR, Some("dev"));
        assert_eq!(
            dev.value("nexus_monitor.required").unwrap(),
            PValue::List(vec!["db".into()])
        );
        // The same value get_as::<Value> gives, whenever that gives one.
        for key in [
            "nexus_monitor",
            "nexus_monitor.ports",
            "nexus_monitor.retries",
        ] {
            assert_eq!(
                Some(config.value(key).unwrap()),
                config.get_as::<PValue>(key).unwrap(),
                "{key}"
            );
        }
        assert_eq!(config.get_as::<PValue>("nexus_monitor.note").unwrap(), None);
        assert_eq!(config.get_as::<PValue>("nexus_monitor.nope").unwrap(), None);
    }

    #[test]
    fn value_of_a_missing_key_is_an_error_that_says_where_the_path_stops() {
        let config = yaml(MONITOR, None);
        let err = config.value("nexus_monitor.requried").unwrap_err();
        assert!(
            matches!(&err, ConfigError::MissingKey { key, environment, .. }
                if key == "nexus_monitor.requried" && environment == "default"),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "nexus_monitor.requried is not in the configuration (environment 'default'): \
             nexus_monitor has no key 'requried' (keys: required, interval, retries, enabled, \
             note, ports, flags)"
        );
        assert_eq!(
            config.value("nexus_montor").unwrap_err().to_string(),
            "nexus_montor is not in the configuration (environment 'default'): the settings \
             have no key 'nexus_montor' (keys: nexus_monitor, dotted.key)"
        );
        assert_eq!(
            config
                .value("nexus_monitor.required.0")
                .unwrap_err()
                .to_string(),
            "nexus_monitor.required.0 is not in the configuration (environment 'default'): \
             nexus_monitor.required is a list, not a mapping"
        );
        let empty = yaml("default: {a: {}}", Some("default"));
        assert_eq!(
            empty.value("a.b").unwrap_err().to_string(),
            "a.b is not in the configuration (environment 'default'): a has no key 'b' \
             (no keys at all)"
        );
        let many: String = (0..20).map(|i| format!("k{i}: {i}, ")).collect();
        let many = yaml(&format!("default: {{a: {{{many}}}}}"), None);
        assert!(many.value("a.x").unwrap_err().to_string().ends_with(
            "a has no key 'x' (keys: k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, k10, k11 and 8 more)"
        ));
    }

    #[test]
    fn value_maps_tags_and_refuses_keys_a_dict_cannot_hold() {
        let config = yaml(
            "default:\n  tagged: !point {x: 1}\n  plain: !!str 12\n  nulls: {~: x}\n  floats: {1.5: y}\n  big: .inf\n",
            None,
        );
        let point = Dict::from([("x".to_owned(), PValue::from(1))]);
        assert_eq!(
            config.value("tagged").unwrap(),
            PValue::Dict(Dict::from([("point".to_owned(), PValue::Dict(point))]))
        );
        assert_eq!(config.value("plain").unwrap(), "12");
        assert_eq!(config.value("big").unwrap(), f64::INFINITY);
        for key in ["nulls", "floats"] {
            let err = config.value(key).unwrap_err();
            assert!(
                matches!(&err, ConfigError::InvalidValue { key: k, message }
                    if k == key && message.contains("expected a dict key")),
                "{err:?}"
            );
        }
    }

    #[test]
    fn value_errors_never_quote_secrets() {
        let config = yaml(
            "default:\n  db:\n    password: 'hunter2'\n    odd: {1.5: x}\n  tokens:\n    s3cr3t-token-as-key: me\n",
            None,
        );
        // The value itself is plain data: a script that reads a password gets it.
        assert_eq!(config.value("db.password").unwrap(), "hunter2");
        let err = config.value("db").unwrap_err();
        assert!(!format!("{err} {err:?}").contains("hunter2"), "{err}");
        // Keys listed in a MissingKey message: never those of a mapping under a secret's name.
        let err = config.value("tokens.other").unwrap_err();
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
        assert!(
            err.to_string().ends_with("tokens has no key 'other'"),
            "{err}"
        );
        let err = config.value("db.user").unwrap_err();
        assert!(err.to_string().ends_with("(keys: password, odd)"), "{err}");
    }

    // --- Overlays --------------------------------------------------------------------------

    /// A `Value::Dict` from pairs, as a script would build one.
    fn dict<const N: usize>(pairs: [(&str, PValue); N]) -> PValue {
        PValue::Dict(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    const BASE: &str =
        "default:\n  log: {level: 50}\n  wamp:\n    connection: {realm: a, username: me}\n";

    #[test]
    fn overlay_takes_every_value_a_setting_can_be() {
        let mut config = yaml(BASE, None);
        config
            .overlay(dict([
                (
                    "wamp",
                    dict([(
                        "connection",
                        dict([("realm", "b".into()), ("username", PValue::Null)]),
                    )]),
                ),
                (
                    "app",
                    dict([
                        ("flag", true.into()),
                        ("negative", (-3).into()),
                        ("big", u64::MAX.into()),
                        ("ratio", 2.5.into()),
                        (
                            "servers",
                            PValue::List(vec!["x".into(), dict([("y", 1.into())])]),
                        ),
                        ("nothing", PValue::Null),
                    ]),
                ),
            ]))
            .unwrap();
        let wamp = config.wamp().unwrap();
        assert_eq!(wamp.realm, "b");
        // null keeps what is there, as in an environment.
        assert_eq!(wamp.username.as_deref(), Some("me"));
        assert_eq!(config.get_as::<u32>("log.level").unwrap(), Some(50));
        let app = config.value("app").unwrap();
        assert_eq!(app["flag"], true);
        assert_eq!(app["negative"], -3);
        assert_eq!(app["big"].as_u64(), Some(u64::MAX));
        assert_eq!(app["ratio"], 2.5);
        assert_eq!(app["servers"][1]["y"], 1);
        assert!(app["nothing"].is_null());
        // Null overlays nothing.
        let before = config.tree.clone();
        config.overlay(PValue::Null).unwrap();
        assert_eq!(config.tree, before);
        // What value() reads, overlay() takes back unchanged.
        let mut other = yaml("default: {}", None);
        other.overlay(dict([("app", app.clone())])).unwrap();
        assert_eq!(other.value("app").unwrap(), app);
    }

    #[test]
    fn overlay_refuses_bytes_naming_the_key_and_changes_nothing() {
        let mut config = yaml(BASE, None);
        let before = config.tree.clone();
        // A dict's keys come in order, log before wamp and realm before ticket: merging while
        // converting would have changed the level and the realm before the ticket was refused.
        let err = config
            .overlay(dict([
                ("log", dict([("level", 10.into())])),
                (
                    "wamp",
                    dict([(
                        "connection",
                        dict([
                            ("realm", "b".into()),
                            ("ticket", PValue::Bytes(b"hunter2".to_vec())),
                        ]),
                    )]),
                ),
            ]))
            .unwrap_err();
        assert!(
            matches!(&err, ConfigError::InvalidValue { key, .. } if key == "wamp.connection.ticket"),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .starts_with("wamp.connection.ticket: must not be bytes: "),
            "{err}"
        );
        assert!(!format!("{err} {err:?}").contains("hunter2"));
        assert_eq!(config.tree, before);
        assert_eq!(config.wamp().unwrap().realm, "a");

        // Inside a list, the item's index is named.
        let err = config
            .overlay(dict([(
                "servers",
                PValue::List(vec!["x".into(), PValue::Bytes(vec![1])]),
            )]))
            .unwrap_err();
        assert!(
            matches!(&err, ConfigError::InvalidValue { key, .. } if key == "servers[1]"),
            "{err:?}"
        );
        // Under a secret's name, the keys (which may be secrets) are not named.
        let err = config
            .overlay(dict([(
                "tokens",
                dict([("s3cr3t-as-key", PValue::Bytes(vec![1]))]),
            )]))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "tokens: a value inside must not be bytes: a configuration holds strings, \
             numbers, booleans, null, lists and mappings"
        );
        // YAML numbers stop at 64 bits.
        let err = config
            .overlay(dict([("n", PValue::Integer(i128::MAX))]))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "n: must be an integer within the 64-bit range"
        );
        // The top level must be a dict.
        let err = config.overlay(PValue::Bytes(vec![1])).unwrap_err();
        assert_eq!(err.to_string(), "overlay must be a mapping, found bytes");
        let err = config.overlay(PValue::List(vec![])).unwrap_err();
        assert_eq!(err.to_string(), "overlay must be a mapping, found a list");
        assert_eq!(config.tree, before);
    }

    #[test]
    fn an_overlay_that_conflicts_halfway_changes_nothing() {
        let mut config = yaml(BASE, None);
        let before = config.tree.clone();
        // wamp merges first (file order), then log clashes with the mapping there.
        let err = config
            .overlay_yaml("wamp: {connection: {realm: b}}\nlog: 5\n")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot merge environment 'overlay' over 'default' at log: \
             'default' has a mapping there, 'overlay' has a number"
        );
        assert_eq!(config.tree, before);
        let err = config
            .overlay(dict([("log", 5.into()), ("wamp", dict([]))]))
            .unwrap_err();
        assert!(matches!(err, ConfigError::MergeConflict { .. }), "{err:?}");
        assert_eq!(config.tree, before);
    }

    #[test]
    fn overlay_yaml_errors_name_the_overlay() {
        let mut config = yaml(BASE, None);
        let before = config.tree.clone();
        let err = config.overlay_yaml("wamp: [unclosed\n").unwrap_err();
        assert!(
            matches!(&err, ConfigError::Yaml { origin, line: Some(_), .. } if origin == "overlay"),
            "{err:?}"
        );
        assert!(err.to_string().starts_with("overlay line "), "{err}");
        let err = config.overlay_yaml("5").unwrap_err();
        assert_eq!(err.to_string(), "overlay must be a mapping, found a number");
        config.overlay_yaml("").unwrap();
        config.overlay_yaml("~").unwrap();
        assert_eq!(config.tree, before);
        // PyYAML's habits hold here too: the last of a repeated key wins.
        config
            .overlay_yaml("wamp: {connection: {realm: x, realm: y}}")
            .unwrap();
        assert_eq!(config.wamp().unwrap().realm, "y");
    }

    #[test]
    fn secrets_given_by_overlay_are_redacted() {
        let mut config = yaml(BASE, None);
        config
            .overlay(dict([(
                "wamp",
                dict([("connection", dict([("password", "s3cr3t-ov".into())]))]),
            )]))
            .unwrap();
        config.overlay_yaml("db: {api_key: 'k3y-ov'}").unwrap();
        let debug = format!("{config:?}");
        for secret in ["s3cr3t-ov", "k3y-ov"] {
            assert!(!debug.contains(secret), "{secret} leaked: {debug}");
        }
        assert_eq!(
            config.wamp().unwrap().password.unwrap().expose(),
            "s3cr3t-ov"
        );
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
