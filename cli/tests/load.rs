//! Load mode (`call`/`publish` with `--repeat`) of the built `izaber-wamp` binary against the
//! test router: the summary's counts, latencies and errors by URI, sessions in parallel, the
//! rate limit, and the exit codes.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use izaber_wamp::protocol::Value as WampValue;
use izaber_wamp::{CallError, Client, Event, Invocation};
use serde_json::{Value, json};
use support::{Router, User};

const WAIT: Duration = Duration::from_secs(30);

/// Calls of `load.count` with the right arguments.
static COUNTED: AtomicU64 = AtomicU64::new(0);
/// The caller session of each call of `load.sessions`.
static CALLERS: Mutex<BTreeSet<u64>> = Mutex::new(BTreeSet::new());
/// Events received on `load.topic`.
static EVENTS: AtomicU64 = AtomicU64::new(0);

/// An empty directory for HOME and the working directory, so that no izaber.yaml of the
/// machine's is found: every setting comes from the environment the test gives.
fn empty_home() -> &'static PathBuf {
    static HOME: OnceLock<PathBuf> = OnceLock::new();
    HOME.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("izaber-cli-load-home-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    })
}

fn cli_as(router: &Router, url: &str, user: &User) -> Command {
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

fn cli(router: &Router) -> Command {
    cli_as(router, &router.ws_url, router.backend(1))
}

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Outcome {
    fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {:?}", self.stdout))
    }

    fn ok(self) -> Outcome {
        assert_eq!(self.code, 0, "stderr: {}", self.stderr);
        self
    }
}

fn run(command: &mut Command, args: &[&str]) -> Outcome {
    command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = command.spawn().expect("the binary runs");
    let output = wait_bounded(child);
    Outcome {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Waits for the child, killing it after [`WAIT`]: a hung command fails the test instead of
/// hanging it.
fn wait_bounded(child: Child) -> std::process::Output {
    let id = child.id();
    let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(1);
    std::thread::spawn(move || {
        if done_rx.recv_timeout(WAIT).is_err() {
            let _ = Command::new("kill").arg("-9").arg(id.to_string()).status();
        }
    });
    let output = child.wait_with_output().unwrap();
    let _ = done_tx.send(());
    output
}

/// A service in this test process: the procedures and the topic the loads use.
fn service(router: &Router) -> Client {
    let client = router
        .client(&router.ws_url, router.backend(2))
        .connect()
        .unwrap();
    client
        .register("load.count", |i: Invocation| {
            if i.args != [WampValue::from(1)] || i.kwargs.get("a") != Some(&WampValue::from(2)) {
                return Err(CallError::failure("unexpected arguments"));
            }
            COUNTED.fetch_add(1, Ordering::SeqCst);
            Ok(true)
        })
        .unwrap();
    client
        .register("load.sessions", |i: Invocation| {
            let caller = i.details.get("caller").and_then(WampValue::as_u64);
            let caller = caller.ok_or_else(|| CallError::failure("the caller is not disclosed"))?;
            CALLERS.lock().unwrap().insert(caller);
            Ok(())
        })
        .unwrap();
    client.register("load.fast", |_| Ok(())).unwrap();
    client
        .subscribe("load.topic", |_: Event| {
            EVENTS.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    client
}

fn shared() -> &'static Router {
    static SERVICE: OnceLock<Client> = OnceLock::new();
    let router = Router::shared();
    SERVICE.get_or_init(|| service(router));
    router
}

/// The latencies are there and in order.
fn assert_latencies(summary: &Value) {
    let latency = &summary["ok_latency_ms"];
    let ms = |key: &str| {
        latency[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} in {summary}"))
    };
    let ordered = [ms("min"), ms("p50"), ms("p90"), ms("p99"), ms("max")];
    assert!(ordered.is_sorted(), "{summary}");
    assert!(ordered[0] > 0.0, "{summary}");
    assert!(
        ms("min") <= ms("mean") && ms("mean") <= ms("max"),
        "{summary}"
    );
}

#[test]
fn a_load_of_200_calls_8_at_once_reports_200_calls_and_no_errors() {
    let router = shared();
    let before = COUNTED.load(Ordering::SeqCst);
    let summary = run(
        &mut cli(router),
        &[
            "call",
            "load.count",
            "1",
            "-k",
            "a=2",
            "--repeat",
            "200",
            "--concurrency",
            "8",
            "--json-summary",
        ],
    )
    .ok()
    .json();
    assert_eq!(summary["what"], "call com.izaber.wamp.load.count");
    assert_eq!(summary["requests"], 200, "{summary}");
    assert_eq!(summary["ok"], 200, "{summary}");
    assert_eq!(summary["failed"], 0, "{summary}");
    assert_eq!(summary["errors"], json!({}), "{summary}");
    assert_eq!(summary["interrupted"], false, "{summary}");
    assert_eq!(
        summary["settings"],
        json!({"repeat": 200, "concurrency": 8, "parallel": 1, "rate_per_s": null})
    );
    assert!(summary["wall_s"].as_f64().unwrap() > 0.0, "{summary}");
    assert!(summary["ok_per_s"].as_f64().unwrap() > 0.0, "{summary}");
    assert_latencies(&summary);
    assert_eq!(
        COUNTED.load(Ordering::SeqCst) - before,
        200,
        "the callee's count"
    );
}

#[test]
fn parallel_sessions_share_the_callers() {
    let router = shared();
    let summary = run(
        &mut cli(router),
        &[
            "call",
            "load.sessions",
            "--repeat",
            "60",
            "--concurrency",
            "6",
            "--parallel",
            "3",
            "--json-summary",
        ],
    )
    .ok()
    .json();
    assert_eq!(
        (summary["ok"].clone(), summary["failed"].clone()),
        (json!(60), json!(0))
    );
    assert_eq!(summary["settings"]["parallel"], 3);
    let callers = CALLERS.lock().unwrap().len();
    assert_eq!(callers, 3, "calls came from three sessions");
}

#[test]
fn a_publish_load_with_ack_reaches_the_subscriber() {
    let router = shared();
    let before = EVENTS.load(Ordering::SeqCst);
    let summary = run(
        &mut cli(router),
        &[
            "publish",
            "load.topic",
            "7",
            "--ack",
            "--repeat",
            "50",
            "--concurrency",
            "4",
            "--json-summary",
        ],
    )
    .ok()
    .json();
    assert_eq!(
        summary["what"],
        "publish com.izaber.wamp.load.topic (acknowledged)"
    );
    assert_eq!(summary["ok"], 50, "{summary}");
    assert_eq!(summary["failed"], 0, "{summary}");
    assert_latencies(&summary);
    let deadline = Instant::now() + WAIT;
    while EVENTS.load(Ordering::SeqCst) - before < 50 {
        assert!(Instant::now() < deadline, "the 50 events never all arrived");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn failures_are_counted_by_uri_and_exit_1() {
    let router = shared();
    let out = run(
        &mut cli(router),
        &[
            "call",
            "load.nothing.here",
            "--repeat",
            "20",
            "--concurrency",
            "4",
            "--json-summary",
        ],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let summary = out.json();
    assert_eq!(summary["requests"], 20, "{summary}");
    assert_eq!(summary["ok"], 0, "{summary}");
    assert_eq!(summary["failed"], 20, "{summary}");
    assert_eq!(
        summary["errors"],
        json!({"wamp.error.no_such_procedure": 20})
    );
    assert!(
        summary["error_examples"]["wamp.error.no_such_procedure"]
            .as_str()
            .unwrap()
            .contains("load.nothing.here"),
        "{summary}"
    );
    assert_eq!(summary["ok_latency_ms"], Value::Null);
    assert!(
        out.stderr
            .contains("20 of 20 requests failed: 20 wamp.error.no_such_procedure"),
        "{}",
        out.stderr
    );
}

#[test]
fn without_json_summary_the_summary_is_a_table() {
    let router = shared();
    let out = run(
        &mut cli(router),
        &["call", "load.fast", "--repeat", "10", "--concurrency", "2"],
    )
    .ok();
    assert!(
        out.stdout.starts_with("call com.izaber.wamp.load.fast\n"),
        "{}",
        out.stdout
    );
    for expected in [
        "requests    10\n",
        "ok          10\n",
        "failed      0\n",
        "p99",
    ] {
        assert!(
            out.stdout.contains(expected),
            "{expected:?}: {}",
            out.stdout
        );
    }
    assert!(!out.stdout.contains("errors"), "{}", out.stdout);
}

#[test]
fn the_rate_limits_the_pace() {
    let router = shared();
    let summary = run(
        &mut cli(router),
        &[
            "call",
            "load.fast",
            "--repeat",
            "6",
            "--concurrency",
            "3",
            "--rate",
            "20/s",
            "--json-summary",
        ],
    )
    .ok()
    .json();
    assert_eq!(summary["ok"], 6, "{summary}");
    assert_eq!(summary["settings"]["rate_per_s"], 20.0);
    // The 6th call starts 5/20 s after the first.
    let wall = summary["wall_s"].as_f64().unwrap();
    assert!((0.25..5.0).contains(&wall), "{summary}");
}

#[test]
fn bad_load_flags_exit_2() {
    let router = shared();
    for args in [
        &["call", "load.fast", "--repeat", "5", "--concurrency", "0"][..],
        &["call", "load.fast", "--repeat", "0"],
        &["call", "load.fast", "--repeat", "5", "--parallel", "3"],
        &["call", "load.fast", "--repeat", "5", "--rate", "fast"],
        &["call", "load.fast", "--concurrency", "4"],
        &["call", "load.fast", "--json-summary"],
        &["call", "load.fast", "--repeat", "5", "--progress"],
        &["publish", "load.topic", "--rate", "5/s"],
    ] {
        let out = run(&mut cli(router), args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert_eq!(out.stdout, "", "{args:?}");
    }
}
