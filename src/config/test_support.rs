//! Helpers the unit tests of every file share.

use std::path::{Path, PathBuf};

use super::Config;

pub(super) fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config")
}

pub(super) fn yaml(text: &str, env: Option<&str>) -> Config {
    Config::from_yaml_str(text, env).unwrap()
}
