//! The built `izaber-wamp` binary against the test router: every command's success path, the
//! failures with their exit codes and messages, and commands talking to each other across
//! processes.

mod common;
#[path = "../../tests/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{cli, cli_as, run, run_with_input, wait_bounded};
use izaber_wamp::{CallError, Client, Invocation};
use serde_json::{Value, json};
use support::Router;

const WAIT: Duration = Duration::from_secs(20);

/// A service in this test process: procedures the CLI calls.
fn service(router: &Router) -> Client {
    let client = router
        .client(&router.ws_url, router.backend(2))
        .connect()
        .unwrap();
    client
        .register("cli.args", |i: Invocation| {
            Ok(json!({"args": i.args, "kwargs": i.kwargs}))
        })
        .unwrap();
    client
        .register("cli.slow", |_| {
            std::thread::sleep(Duration::from_secs(3));
            Ok("late")
        })
        .unwrap();
    client
        .register("cli.count", |i: Invocation| {
            for n in 1..=3 {
                i.progress(&n).map_err(CallError::failure)?;
            }
            Ok("done")
        })
        .unwrap();
    client
}

fn shared() -> (&'static Router, &'static Client) {
    static SERVICE: OnceLock<Client> = OnceLock::new();
    let router = Router::shared();
    (router, SERVICE.get_or_init(|| service(router)))
}

#[test]
fn join_prints_the_session() {
    let (router, _) = shared();
    let shown = run(&mut cli(router), &["join"]).ok().json();
    assert!(shown["session"].as_u64().unwrap() > 0, "{shown}");
    assert_eq!(shown["authid"], "backend-1");
    assert_eq!(shown["authrole"], "backend");
    assert_eq!(shown["authmethod"], "ticket");
    assert!(
        shown["router_roles"]
            .as_array()
            .unwrap()
            .contains(&json!("dealer"))
    );
}

#[test]
fn whoami_prints_the_logged_in_user() {
    let (router, _) = shared();
    let me = run(&mut cli(router), &["whoami"]).ok().json();
    assert!(me.to_string().contains("backend-1"), "{me}");
}

#[test]
fn cryptosign_and_scram_logins_from_the_command_line() {
    let (router, _) = shared();
    let key_file = router.info["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "cs-backend")
        .and_then(|u| u["ssh_key_file"].as_str())
        .unwrap()
        .to_owned();
    let mut command = cli_as(router, &router.tcp_url, router.user("cs-backend"));
    // The key alone logs in: no password is asked for (stdin is closed).
    command.env_remove("IZABER_WAMP_PASSWORD");
    let me = run(&mut command, &["--private-key-file", &key_file, "whoami"])
        .ok()
        .json();
    assert_eq!(me["authid"], "cs-backend", "{me}");

    let scram = router.user("scram-pbkdf2");
    let mut command = cli_as(router, &router.ws_url, scram);
    let me = run(&mut command, &["--authmethod", "scram", "whoami"])
        .ok()
        .json();
    assert_eq!(me["authid"], "scram-pbkdf2", "{me}");

    let mut command = cli_as(router, &router.ws_url, scram);
    command.env("IZABER_WAMP_PASSWORD", "wrong");
    let refused = run(&mut command, &["--authmethod", "scram", "whoami"]);
    // A refused login is a connection failure (exit 3), and says what the router said.
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("SCRAM authentication failed"),
        "{}",
        refused.stderr
    );
}

#[test]
fn call_takes_json_or_strings_keywords_and_python_style() {
    let (router, _) = shared();
    let answer = run(
        &mut cli(router),
        &[
            "call", "cli.args", "1", "\"1\"", "abc", "-k", "unit=mm", "-k", "n=2.5",
        ],
    )
    .ok()
    .json();
    assert_eq!(
        answer,
        json!({"args": [1, "1", "abc"], "kwargs": {"unit": "mm", "n": 2.5}})
    );

    let answer = run(
        &mut cli(router),
        &[
            "call",
            "cli.args('pos1', 2, [True, None], keyword1='value1')",
        ],
    )
    .ok()
    .json();
    assert_eq!(
        answer,
        json!({"args": ["pos1", 2, [true, null]], "kwargs": {"keyword1": "value1"}})
    );
}

#[test]
fn stdin_feeds_a_placeholder_and_args_json() {
    let (router, _) = shared();
    let answer = run_with_input(
        &mut cli(router),
        &["call", "cli.args({stdin}, ['code'])"],
        Some("{\"id\": 7}\n"),
    )
    .ok()
    .json();
    assert_eq!(answer, json!({"args": [{"id": 7}, ["code"]], "kwargs": {}}));

    let answer = run_with_input(
        &mut cli(router),
        &["call", "cli.args", "--args-json", "-"],
        Some(r#"{"args": [1], "kwargs": {"k": [true]}}"#),
    )
    .ok()
    .json();
    assert_eq!(answer, json!({"args": [1], "kwargs": {"k": [true]}}));
}

#[test]
fn piped_output_is_one_line_per_value() {
    let (router, _) = shared();
    let out = run(&mut cli(router), &["call", "cli.args", "[1, 2]"]).ok();
    assert_eq!(out.stdout.lines().count(), 1, "{:?}", out.stdout);
}

#[test]
fn progressive_results_come_one_per_line_before_the_result() {
    let (router, _) = shared();
    let out = run(&mut cli(router), &["call", "cli.count", "--progress"]).ok();
    assert_eq!(out.stdout, "1\n2\n3\n\"done\"\n");
}

#[test]
fn a_router_error_exits_1_with_its_uri() {
    let (router, _) = shared();
    let out = run(&mut cli(router), &["call", "cli.nothing.here"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("wamp.error.no_such_procedure"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stdout, "");
}

#[test]
fn a_frontend_user_may_not_register() {
    let (router, _) = shared();
    let out = run(
        &mut cli_as(router, &router.ws_url, router.frontend()),
        &["register", "cli.forbidden", "--echo"],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("not_authorized"), "{}", out.stderr);
}

#[test]
fn invalid_json_where_json_is_required_exits_2() {
    let (router, _) = shared();
    let out = run_with_input(
        &mut cli(router),
        &["call", "cli.args", "--args-json", "-"],
        Some("{not json"),
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("--args-json (stdin): not JSON"),
        "{}",
        out.stderr
    );
    let out = run(&mut cli(router), &["call", "cli.args('a' 2)"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("expected ',' or ')'"), "{}", out.stderr);
    let out = run(&mut cli(router), &["call"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
}

#[test]
fn a_bad_password_exits_3() {
    let (router, _) = shared();
    let out = run(
        cli(router).env("IZABER_WAMP_PASSWORD", "not-the-password"),
        &["whoami"],
    );
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(!out.stderr.contains("not-the-password"), "{}", out.stderr);
    assert!(out.stderr.contains("izaber-wamp: "), "{}", out.stderr);
}

#[test]
fn no_password_and_no_terminal_is_a_usage_error() {
    let (router, _) = shared();
    let out = run(cli(router).env_remove("IZABER_WAMP_PASSWORD"), &["whoami"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("IZABER_WAMP_PASSWORD"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_router_that_is_down_exits_3() {
    let (router, _) = shared();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!("ws://{}/ws", listener.local_addr().unwrap());
    drop(listener);
    let out = run(&mut cli_as(router, &closed, router.backend(1)), &["whoami"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("127.0.0.1"), "{}", out.stderr);
}

#[test]
fn a_timeout_exits_4() {
    let (router, _) = shared();
    let started = Instant::now();
    let out = run(&mut cli(router), &["--timeout", "1", "call", "cli.slow"]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_huge_timeout_is_no_limit_and_a_bad_one_a_usage_error() {
    let (router, _) = shared();
    for huge in ["1e20", "inf"] {
        let out = run(
            &mut cli(router),
            &["--timeout", huge, "call", "cli.args", "1"],
        );
        assert_eq!(out.code, 0, "--timeout {huge}: {}", out.stderr);
    }
    for bad in ["-1", "0", "nan"] {
        let flag = format!("--timeout={bad}");
        let out = run(&mut cli(router), &[&flag, "call", "cli.args", "1"]);
        assert_eq!(out.code, 2, "--timeout {bad}: {}", out.stderr);
        assert!(out.stderr.contains("--timeout"), "{}", out.stderr);
    }
}

#[test]
fn publish_reaches_a_subscriber_in_another_process() {
    let (router, _) = shared();
    let topic = format!("cli.topic.{}", std::process::id());
    let mut subscriber = cli(router)
        .args(["subscribe", &topic, "--count", "3", "--details"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The subscriber is ready when an acknowledged publication reaches it.
    let mut lines = BufReader::new(subscriber.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + WAIT;
    let (probe_tx, probe_rx) = crossbeam_channel::unbounded();
    std::thread::spawn(move || {
        for line in lines.by_ref() {
            if probe_tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let first = loop {
        assert!(
            Instant::now() < deadline,
            "the subscriber never got an event"
        );
        run(&mut cli(router), &["publish", &topic, "0", "--ack"]).ok();
        if let Ok(line) = probe_rx.recv_timeout(Duration::from_millis(300)) {
            break line;
        }
    };
    let first: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(first["args"], json!([0]));
    assert_eq!(first["topic"], json!(format!("com.izaber.wamp.{topic}")));
    let acknowledged = run(
        &mut cli(router),
        &[
            "pub",
            &format!("{topic}(args=[1, 2], kwargs={{'k': 42}})"),
            "--ack",
        ],
    )
    .ok()
    .json();
    assert!(
        acknowledged.as_u64().is_some(),
        "a publication id: {acknowledged}"
    );
    run(&mut cli(router), &["publish", &topic, "last", "-k", "k=1"]).ok();
    let mut rest = Vec::new();
    while rest.len() < 2 {
        let line = probe_rx.recv_timeout(WAIT).expect("two more events");
        let line: Value = serde_json::from_str(&line).unwrap();
        if line["args"] != json!([0]) {
            rest.push(line);
        }
    }
    assert_eq!(rest[0]["args"], json!([1, 2]));
    assert_eq!(rest[0]["kwargs"], json!({"k": 42}));
    assert_eq!(rest[1]["args"], json!(["last"]));
    // --count 3 counts the probe too: the subscriber has left by itself.
    let status = wait_bounded(subscriber).status;
    assert!(status.success(), "{status:?}");
}

#[test]
fn register_exec_serves_another_process() {
    let (router, _) = shared();
    let procedure = format!("cli.exec.{}", std::process::id());
    let script = r#"read input; case "$input" in *fail*) echo "no thanks" >&2; exit 3;; esac; echo "$input""#;
    let server = cli(router)
        .args([
            "register", &procedure, "--count", "2", "--exec", "sh", "-c", script,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + WAIT;
    let answer = loop {
        let out = run(
            &mut cli(router),
            &["call", &procedure, "hello", "-k", "n=1"],
        );
        if out.code == 0 {
            break out.json();
        }
        assert!(out.stderr.contains("no_such_procedure"), "{}", out.stderr);
        assert!(Instant::now() < deadline, "never registered");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(answer["args"], json!(["hello"]));
    assert_eq!(answer["kwargs"], json!({"n": 1}));
    assert!(answer["details"].is_object(), "{answer}");

    let out = run(&mut cli(router), &["call", &procedure, "fail"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("com.izaber.wamp.error.command_failed"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("no thanks"), "{}", out.stderr);
    let status = wait_bounded(server).status;
    assert!(status.success(), "--count 2 ends the server: {status:?}");
}

#[test]
fn register_echo_answers_with_the_arguments() {
    let (router, _) = shared();
    let procedure = format!("cli.echo.{}", std::process::id());
    let server = cli(router)
        .args(["register", &procedure, "--echo", "--count", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let caller = router
        .client(&router.ws_url, router.backend(3))
        .connect()
        .unwrap();
    let deadline = Instant::now() + WAIT;
    let answer = loop {
        match caller.call_kw(&procedure, (1, "a"), json!({"k": true})) {
            Ok(answer) => break answer,
            Err(e) => {
                assert!(Instant::now() < deadline, "never registered: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    };
    assert_eq!(
        serde_json::to_value(&answer).unwrap(),
        json!({"args": [1, "a"], "kwargs": {"k": true}})
    );
    assert!(wait_bounded(server).status.success());
}

#[test]
fn nexus_metadata_round_trip() {
    let (router, _) = shared();
    let key = format!("cli-test-{}", std::process::id());
    run(
        &mut cli(router),
        &["metadata", "set", &key, r#"{"a": [1, 2]}"#],
    )
    .ok();
    let value = run(&mut cli(router), &["metadata", "get", &key])
        .ok()
        .json();
    assert!(value.to_string().contains("[1,2]"), "{value}");
    run(&mut cli(router), &["metadata", "delete", &key]).ok();
}

#[test]
fn completions_and_help_need_no_router() {
    let out = Command::new(env!("CARGO_BIN_EXE_izaber-wamp"))
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("izaber-wamp"));
    let out = Command::new(env!("CARGO_BIN_EXE_izaber-wamp"))
        .args(["call", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("Examples:") && help.contains("--args-json"),
        "{help}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_izaber-wamp"))
        .args(["no-such-command"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn shell_runs_a_script_from_a_pipe_on_one_session() {
    let (router, _) = shared();
    let script = "# a comment\njoin\ncall cli.args 1 -k a=2\n\ncall \"cli.args('x', k=True)\"\ncall cli.nothing.here\njoin\nexit\nwhoami\n";
    let out = run_with_input(&mut cli(router), &["shell"], Some(script));
    assert_eq!(out.code, 1, "the first failing line's code: {}", out.stderr);
    let lines: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{}", out.stdout);
    assert_eq!(lines[1], json!({"args": [1], "kwargs": {"a": 2}}));
    assert_eq!(lines[2], json!({"args": ["x"], "kwargs": {"k": true}}));
    assert_eq!(lines[0]["session"], lines[3]["session"], "one session");
    assert!(out.stderr.contains("line 6: "), "{}", out.stderr);
    assert!(out.stderr.contains("no_such_procedure"), "{}", out.stderr);
}

#[test]
fn the_shell_refuses_what_it_cannot_do() {
    let (router, _) = shared();
    let out = run_with_input(
        &mut cli(router),
        &["shell"],
        Some("call \"x({stdin})\"\nshell\ncall 'unterminated\nnot-a-command\n"),
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    for line in 1..=4 {
        assert!(
            out.stderr.contains(&format!("line {line}: ")),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn nexus_rosters_otps_api_keys_and_the_directory() {
    let (router, _) = shared();
    let user = router.backend(3);
    let as_user = || cli_as(router, &router.ws_url, user);

    let roster = format!("roster.cli-{}", std::process::id());
    // The entry lives as long as its session: --hold keeps it while another process looks.
    let mut holder = as_user()
        .args([
            "roster",
            "register",
            &roster,
            r#"{"name": "holder"}"#,
            "--hold",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut printed = String::new();
    BufReader::new(holder.stdout.as_mut().unwrap())
        .read_line(&mut printed)
        .unwrap();
    let entries = run(&mut as_user(), &["roster", "query", &roster])
        .ok()
        .json();
    assert_eq!(entries, json!([{"name": "holder"}]));
    let _ = Command::new("kill")
        .arg("-INT")
        .arg(holder.id().to_string())
        .status();
    assert_eq!(wait_bounded(holder).status.code(), Some(130));
    let entries = run(&mut as_user(), &["roster", "query", &roster])
        .ok()
        .json();
    assert_eq!(entries, json!([]), "gone with its session");

    let otp = run(&mut as_user(), &["otp", "create"]).ok().json();
    let uuid = otp["uuid"].as_str().expect("a uuid").to_owned();
    assert!(otp["plaintext_key"].is_string(), "{otp}");
    let listed = run(&mut as_user(), &["otp", "list"]).ok().json();
    assert!(listed.to_string().contains(&uuid), "{listed}");
    run(&mut as_user(), &["otp", "delete", &uuid]).ok();
    let listed = run(&mut as_user(), &["otp", "list"]).ok().json();
    assert!(!listed.to_string().contains(&uuid), "{listed}");

    let key = run(
        &mut as_user(),
        &["apikeys", "create", r#"{"description": "cli test"}"#],
    )
    .ok()
    .json();
    let uuid = key["uuid"].as_str().expect("a uuid").to_owned();
    let listed = run(&mut as_user(), &["apikeys", "list"]).ok().json();
    assert!(listed.to_string().contains("cli test"), "{listed}");
    // The key logs in in place of the password.
    let me = run(
        as_user().env(
            "IZABER_WAMP_PASSWORD",
            key["plaintext_key"].as_str().unwrap(),
        ),
        &["whoami"],
    )
    .ok()
    .json();
    assert!(me.to_string().contains(&user.username), "{me}");
    run(&mut as_user(), &["apikeys", "delete", &uuid]).ok();

    let users = run(&mut as_user(), &["ad", "users"]).ok().json();
    assert!(users.to_string().contains("sAMAccountName"), "{users}");
    let groups = run(&mut as_user(), &["ad", "groups"]).ok().json();
    assert!(groups.as_array().is_some_and(|g| !g.is_empty()), "{groups}");
}

/// Calls `procedure` until it answers.
fn until_answered(caller: &Client, procedure: &str) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        match caller.call(procedure, ("ping",)) {
            Ok(answer) => return serde_json::to_value(&answer).unwrap(),
            Err(e) => {
                assert!(Instant::now() < deadline, "{procedure} never answered: {e}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

fn interrupt(child: &Child) {
    let _ = Command::new("kill")
        .arg("-INT")
        .arg(child.id().to_string())
        .status();
}

#[test]
fn a_registration_comes_back_after_the_router_restarts_and_ctrl_c_ends_it() {
    let router = Router::private();
    let _log = router.log_on_failure();
    let procedure = "cli.survivor";
    let server = cli(&router)
        .args(["register", procedure, "--echo"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let caller = router
        .reconnecting_client(&router.ws_url, 3, Duration::from_millis(100))
        .timeout(WAIT)
        .connect()
        .unwrap();
    assert_eq!(until_answered(&caller, procedure)["args"], json!(["ping"]));
    router.restart();
    caller.wait_connected(WAIT).unwrap();
    assert_eq!(until_answered(&caller, procedure)["args"], json!(["ping"]));
    interrupt(&server);
    let output = wait_bounded(server);
    assert_eq!(output.status.code(), Some(130), "{output:?}");
    assert_eq!(output.stdout, b"", "register prints no data");
}

#[test]
fn subscribe_ends_on_ctrl_c() {
    let (router, _) = shared();
    let topic = format!("cli.interrupted.{}", std::process::id());
    let mut subscriber = cli(router)
        .args(["subscribe", &topic])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(subscriber.stdout.take().unwrap()).lines();
    let (line_tx, line_rx) = crossbeam_channel::unbounded();
    std::thread::spawn(move || {
        for line in lines.by_ref() {
            let _ = line_tx.send(line.unwrap());
        }
    });
    let deadline = Instant::now() + WAIT;
    loop {
        run(&mut cli(router), &["publish", &topic, "probe", "--ack"]).ok();
        if line_rx.recv_timeout(Duration::from_millis(300)).is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the subscriber never got an event"
        );
    }
    interrupt(&subscriber);
    let status = wait_bounded(subscriber).status;
    assert_eq!(status.code(), Some(130));
}

#[test]
fn metadata_list_and_a_roster_entry_unregistered_in_the_shell() {
    let (router, _) = shared();
    let user = router.backend(2);
    let key = format!("cli-list-{}", std::process::id());
    run(
        &mut cli_as(router, &router.ws_url, user),
        &["metadata", "set", &key, "1"],
    )
    .ok();
    let all = run(
        &mut cli_as(router, &router.ws_url, user),
        &["metadata", "list"],
    )
    .ok()
    .json();
    assert!(all.to_string().contains(&key), "{all}");
    run(
        &mut cli_as(router, &router.ws_url, user),
        &["metadata", "delete", &key],
    )
    .ok();

    let roster = format!("roster.shell-{}", std::process::id());
    let script = format!(
        "roster register {roster} '\"here\"'\nroster query {roster}\nroster unregister {roster}\nroster query {roster}\n"
    );
    let out = run_with_input(
        &mut cli_as(router, &router.ws_url, user),
        &["shell"],
        Some(&script),
    )
    .ok();
    let lines: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{}", out.stdout);
    assert_eq!(lines[1], json!(["here"]));
    assert_eq!(lines[3], json!([]));
}

fn signal(child: &Child, name: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status();
}

/// A `register --exec` server whose command takes `seconds`, and a call to it made on
/// another thread; returns once the server's command runs for that call, with what the
/// server writes on stderr (all of it once it has ended).
fn slow_server(
    router: &Router,
    procedure: &str,
    seconds: &str,
    grace: &str,
) -> (
    Child,
    std::thread::JoinHandle<Result<izaber_wamp::protocol::Value, izaber_wamp::Error>>,
    std::thread::JoinHandle<String>,
) {
    let marker = std::env::temp_dir().join(format!("{procedure}.started"));
    let _ = std::fs::remove_file(&marker);
    let script = format!("touch {}; sleep {seconds}; echo done", marker.display());
    let mut server = cli(router)
        .env("RUST_LOG", "info")
        .args([
            "register", procedure, "--grace", grace, "--exec", "sh", "-c", &script,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (serving_tx, serving) = crossbeam_channel::bounded(1);
    let stderr = BufReader::new(server.stderr.take().unwrap());
    let log = std::thread::spawn(move || {
        let mut text = String::new();
        for line in stderr.lines().map_while(Result::ok) {
            if line.contains("serving") {
                let _ = serving_tx.try_send(());
            }
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    serving
        .recv_timeout(WAIT)
        .expect("the server never said it serves");
    let caller = router
        .client(&router.ws_url, router.backend(3))
        .timeout(WAIT)
        .connect()
        .unwrap();
    let call = {
        let procedure = procedure.to_owned();
        std::thread::spawn(move || caller.call(&procedure, ()))
    };
    let deadline = Instant::now() + WAIT;
    while !marker.exists() {
        assert!(Instant::now() < deadline, "the command never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    (server, call, log)
}

#[test]
fn register_drains_on_sigterm_and_the_running_command_answers() {
    let (router, _) = shared();
    let procedure = format!("com.izaber.wamp.cli.drain.{}", std::process::id());
    let (server, call, log) = slow_server(router, &procedure, "1", "10");
    let stopped = Instant::now();
    signal(&server, "TERM");
    assert_eq!(call.join().unwrap().unwrap(), "done");
    let output = wait_bounded(server);
    assert_eq!(output.status.code(), Some(130), "{output:?}");
    assert!(stopped.elapsed() < Duration::from_secs(5));
    let log = log.join().unwrap();
    assert!(log.contains("1 invocation(s) answered"), "{log}");
}

#[test]
fn a_second_sigterm_ends_a_draining_register_at_once() {
    let (router, _) = shared();
    let procedure = format!("com.izaber.wamp.cli.impatient.{}", std::process::id());
    let (server, call, log) = slow_server(router, &procedure, "20", "30");
    signal(&server, "TERM");
    std::thread::sleep(Duration::from_millis(500));
    let stopped = Instant::now();
    signal(&server, "TERM");
    let output = wait_bounded(server);
    assert_eq!(output.status.code(), Some(130), "{output:?}");
    assert!(
        stopped.elapsed() < Duration::from_secs(3),
        "{:?}",
        stopped.elapsed()
    );
    let log = log.join().unwrap();
    assert!(log.contains("exiting now"), "{log}");
    // The router fails the call whose callee went away.
    assert!(call.join().unwrap().is_err());
}

// ---- ZERP (the test router's ZERP-like backend) -----------------------------------------

#[test]
fn call_takes_wampclis_zerp_forms() {
    let (router, _) = shared();
    let found = run(
        &mut cli(router),
        &[
            "--zerp-database",
            "sandbox",
            "call",
            "product.product..search([('default_code', 'like', 'X-LSQ')])",
        ],
    )
    .ok()
    .json();
    assert_eq!(found, json!([1, 2]));
    let read = run(
        &mut cli(router),
        &[
            "--zerp-database",
            "testing",
            "call",
            "product.product:object.execute.read([7], ['default_code'])",
        ],
    )
    .ok()
    .json();
    assert_eq!(read, json!([{"id": 7, "default_code": "TEST-ONLY"}]));
    // The full URI needs no database.
    let full = run(
        &mut cli(router),
        &[
            "call",
            "com.izaber.wamp.zerp:sandbox:product.product:object.execute.search_count([])",
        ],
    )
    .ok()
    .json();
    assert_eq!(full, json!(5), "active products of the sandbox");
    let missing = run(&mut cli(router), &["call", "product.product..search([])"]);
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    assert!(
        missing.stderr.contains("--zerp-database"),
        "{}",
        missing.stderr
    );
}

/// The committed output of generate-types for the test backend's models, which
/// `examples/zerp_typed.rs` compiles against.
const GENERATED: &str = "examples/zerp_types/mod.rs";

#[test]
fn generate_types_writes_the_committed_structs() {
    let (router, _) = shared();
    let generated = run(
        &mut cli(router),
        &[
            "--zerp-database",
            "sandbox",
            "generate-types",
            "product.product",
            "res.partner",
            "sale.order",
        ],
    )
    .ok()
    .stdout;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(GENERATED);
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if generated != committed && std::env::var_os("IZABER_REGENERATE").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    assert!(
        generated == committed,
        "{GENERATED} is not what generate-types writes now; rerun this test with \
         IZABER_REGENERATE=1 to rewrite it, and review the diff.\n{generated}"
    );
}
