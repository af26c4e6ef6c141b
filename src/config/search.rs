//! Finding `izaber.yaml`: the current directory, the home directory, the per-user data
//! directory, then the `IZABER_YAML` variable; and reading a named file.

use std::env;
use std::path::{Path, PathBuf};

use super::environment::resolve_environment;
use super::{Config, ConfigError, ConfigSource, IZABER_ENVIRONMENT_VAR};

/// The file name searched for: `izaber.yaml`.
pub const CONFIG_FILE_NAME: &str = "izaber.yaml";

/// The environment variable holding a whole `izaber.yaml`, used when no file is found.
pub const IZABER_YAML_VAR: &str = "IZABER_YAML";

/// Application name of the per-user data directory (Python: `appdirs.user_data_dir(name, author)`).
const APP_NAME: &str = "ZaberConfig";

/// Application author of the per-user data directory; only Windows puts it in the path.
#[cfg_attr(not(windows), allow(dead_code))]
const APP_AUTHOR: &str = "Zaber";

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
    /// the [module documentation](super)). A directory that cannot be determined is left out.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::fixtures;
    use std::error::Error as _;
    use std::fs;
    use std::sync::atomic::{AtomicUsize, Ordering};

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
        // The io error is the source, and only there, so a report that walks the chain
        // tells it once.
        let source = err.source().expect("the io error is the source");
        let io = source
            .downcast_ref::<std::io::Error>()
            .expect("the source is the io error");
        assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
        assert_eq!(
            err.to_string(),
            format!("cannot read {}", missing.display())
        );
        assert!(!err.to_string().contains(&io.to_string()), "{err}");
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
}
