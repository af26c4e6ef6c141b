//! Running the built `izaber-wamp` binary in tests: an environment that names the router and
//! user and hides the machine's own izaber.yaml, and a bounded wait for the process.
// Each test file uses a part of it.
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

use crate::support::{Router, User};

/// The longest a command may run before it is killed and its test fails.
pub const PROCESS_WAIT: Duration = Duration::from_secs(30);

/// An empty directory for HOME and the working directory, so that no izaber.yaml of the
/// machine's is found: every setting comes from the environment the test gives.
fn empty_home() -> &'static PathBuf {
    static HOME: OnceLock<PathBuf> = OnceLock::new();
    HOME.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("izaber-cli-home-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    })
}

/// The binary, logging in to `url` as `user`.
pub fn cli_as(router: &Router, url: &str, user: &User) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_izaber-wamp"));
    let home = empty_home();
    for variable in [
        "IZABER_YAML",
        "IZABER_ENVIRONMENT",
        "IZABER_WAMP_CONFIG",
        "IZABER_WAMP_SERIALIZER",
        "IZABER_WAMP_TIMEOUT",
        "RUST_LOG",
    ] {
        command.env_remove(variable);
    }
    command
        .current_dir(home)
        .env("HOME", home)
        .env("XDG_DATA_HOME", home)
        .env("IZABER_WAMP_URL", url)
        .env("IZABER_WAMP_REALM", &router.realm)
        .env("IZABER_WAMP_USER", &user.username)
        .env("IZABER_WAMP_PASSWORD", &user.password)
        .stdin(Stdio::null());
    command
}

/// The binary as backend-1 over WebSocket.
pub fn cli(router: &Router) -> Command {
    cli_as(router, &router.ws_url, router.backend(1))
}

pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {:?}", self.stdout))
    }

    pub fn ok(self) -> Outcome {
        assert_eq!(self.code, 0, "stderr: {}", self.stderr);
        self
    }
}

pub fn run(command: &mut Command, args: &[&str]) -> Outcome {
    run_with_input(command, args, None)
}

pub fn run_with_input(command: &mut Command, args: &[&str], input: Option<&str>) -> Outcome {
    command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if input.is_some() {
        command.stdin(Stdio::piped());
    }
    let mut child = command.spawn().expect("the binary runs");
    if let Some(input) = input {
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).unwrap();
    }
    let output = wait_bounded(child);
    Outcome {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Waits for the child, killing it after [`PROCESS_WAIT`]: a hung command fails the test
/// instead of hanging it.
pub fn wait_bounded(child: Child) -> std::process::Output {
    let id = child.id();
    let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(1);
    std::thread::spawn(move || {
        if done_rx.recv_timeout(PROCESS_WAIT).is_err() {
            let _ = Command::new("kill").arg("-9").arg(id.to_string()).status();
        }
    });
    let output = child.wait_with_output().unwrap();
    let _ = done_tx.send(());
    output
}
