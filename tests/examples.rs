//! Every example runs against the router fixture, configured through `IZABER_YAML` (or an
//! izaber.yaml file) exactly as a user would, so none can rot.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::time::{Duration, Instant};

use izaber_wamp::protocol::Serializer;
use izaber_wamp::{Client, PublishOptions};
use support::{Router, User, example};

const WAIT: Duration = Duration::from_secs(30);

fn izaber_yaml(router: &Router, user: &User) -> String {
    format!(
        "default:\n  wamp:\n    connection:\n      url: '{}'\n      username: '{}'\n      password: '{}'\n      timeout: 20\n",
        router.ws_url, user.username, user.password
    )
}

fn command(name: &str, router: &Router, user: &User) -> Command {
    let mut command = Command::new(example(name));
    command
        .env("IZABER_YAML", izaber_yaml(router, user))
        .env_remove("IZABER_ENVIRONMENT")
        .stdin(Stdio::null());
    command
}

/// Runs an example to completion and returns its stdout, failing on a non-zero exit.
fn run(mut command: Command) -> String {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("example runs");
    let stdout = String::from_utf8_lossy(&stdout).into_owned();
    assert!(
        status.success(),
        "example failed ({status}):\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&stderr)
    );
    stdout
}

/// A long-running example (a service), killed when dropped.
struct Service {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Service {
    fn start(mut command: Command) -> Service {
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .expect("example starts");
        let stdout: ChildStdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Service { child, lines }
    }

    /// The next output line containing `text`.
    fn expect_line(&self, text: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(text) => return line,
                Ok(_) => {}
                Err(_) => panic!("the example never printed a line containing {text:?}"),
            }
        }
    }
}

impl Service {
    /// Asks the service to stop as systemd or Docker would (SIGTERM) and waits for it to end;
    /// `None` if it was still running after `WAIT`.
    #[cfg(unix)]
    fn stop(&mut self) -> Option<std::process::ExitStatus> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Some(status);
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// The rest of what the service printed, once it has ended.
    fn remaining_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(1)) {
            lines.push(line);
        }
        lines
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        #[cfg(unix)]
        if self.stop().is_some() {
            return;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client(router: &Router, user: &User) -> Client {
    router
        .client(&router.ws_url, user)
        .serializer(Serializer::Cbor)
        .timeout(WAIT)
        .connect()
        .unwrap()
}

#[test]
fn basic_call_and_whoami_print_the_logged_in_user() {
    let router = Router::shared();
    let _log = router.log_on_failure();
    for name in ["basic_call", "whoami"] {
        let out = run(command(name, router, router.backend(1)));
        assert_eq!(
            out.trim(),
            r#"{"authid":"backend-1","role":"backend"}"#,
            "{name}"
        );
    }
}

#[test]
fn basic_call_reads_izaber_yaml_from_the_current_directory() {
    let router = Router::shared();
    let dir = std::env::temp_dir().join(format!("izaber-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("izaber.yaml"),
        izaber_yaml(router, router.backend(2)),
    )
    .unwrap();
    let mut command = command("basic_call", router, router.backend(1));
    command.env_remove("IZABER_YAML").current_dir(&dir);
    let out = run(command);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(out.contains("backend-2"), "{out}");
}

#[test]
fn call_arguments_passes_positional_and_keyword_arguments() {
    let router = Router::shared();
    let callee = client(router, router.backend(2));
    callee
        .register("example.call", |invocation| {
            Ok(serde_json::json!({"args": invocation.args, "kwargs": invocation.kwargs}))
        })
        .unwrap();
    let out = run(command("call_arguments", router, router.backend(1)));
    assert_eq!(
        out.trim(),
        r#"{"args":["pos1","pos2"],"kwargs":{"keyword1":"value1","keyword2":"value2"}}"#
    );
}

#[test]
fn register_serves_example_hello() {
    let router = Router::shared();
    let mut service = Service::start(command("register", router, router.backend(1)));
    service.expect_line("registration");
    let caller = client(router, router.backend(3));
    assert_eq!(
        caller.call("example.hello", ()).unwrap(),
        "Hello backend-3 (role: backend)!"
    );
    // Stopped as a service manager stops it: it withdraws, says goodbye and says so.
    #[cfg(unix)]
    {
        let status = service.stop().expect("the service stops on SIGTERM");
        assert!(status.success(), "{status}");
        let lines = service.remaining_lines();
        assert!(
            lines
                .iter()
                .any(|l| l.contains("shut down in") && l.contains("1 registration(s) withdrawn")),
            "{lines:?}"
        );
        let error = caller.call("example.hello", ()).unwrap_err();
        assert_eq!(
            error.wamp_uri(),
            Some("wamp.error.no_such_procedure"),
            "{error}"
        );
    }
}

#[test]
fn register_options_answers_every_uri_under_the_prefix() {
    let router = Router::shared();
    let service = Service::start(command("register_options", router, router.backend(1)));
    service.expect_line("registration");
    let caller = client(router, router.backend(2));
    assert_eq!(
        caller.call("example.hello.toot", ()).unwrap(),
        "Hello backend-2 (role: backend)! Called from: <com.izaber.wamp.example.hello.toot>"
    );
}

#[test]
fn unregister_registers_then_unregisters() {
    let router = Router::shared();
    let out = run(command("unregister", router, router.backend(3)));
    assert!(out.contains("registered: registration"), "{out}");
    assert!(out.contains("unregistered: registration"), "{out}");
}

#[test]
fn publish_and_subscribe_exchange_the_hello_message() {
    let router = Router::shared();
    let subscriber = Service::start(command("subscribe", router, router.backend(1)));
    subscriber.expect_line("subscription");
    run(command("publish", router, router.backend(2)));
    let line = subscriber.expect_line("received args");
    assert!(
        line.contains(r#"String("Hello")"#) || line.contains("Hello"),
        "{line}"
    );
    assert!(line.contains("World!"), "{line}");
}

#[test]
fn join_hook_registers_and_subscribes_on_join() {
    let router = Router::shared();
    let mut service = Service::start(command("join_hook", router, router.backend(1)));
    service.expect_line("Registered test.call with registration");
    service.expect_line("Subscribed test.sub with subscription");
    let other = client(router, router.backend(2));
    other.call("test.call", ("from the test",)).unwrap();
    service.expect_line(r#"Test call called! [String("from the test")]"#);
    other
        .publish_with(
            "test.sub",
            (7,),
            (),
            &PublishOptions::new().acknowledge(true),
        )
        .unwrap();
    service.expect_line("Test event called! [Integer(7)]");
    // "Hit Ctrl-C to stop service"
    #[cfg(unix)]
    {
        let status = service.stop().expect("the service stops on SIGTERM");
        assert!(status.success(), "{status}");
    }
}

#[test]
fn roster_register_and_roster_query_share_an_entry_while_it_lives() {
    let router = Router::shared();
    let owner = Service::start(command("roster_register", router, router.backend(1)));
    owner.expect_line("result=");
    let out = run(command("roster_query", router, router.backend(1)));
    assert_eq!(out.trim(), r#"result2=[{"random":"data"}]"#);
    drop(owner);
    let deadline = Instant::now() + WAIT;
    loop {
        let out = run(command("roster_query", router, router.backend(1)));
        if out.trim() == "result2=[]" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the entry outlived its session: {out}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn metadata_sets_gets_lists_and_deletes() {
    let router = Router::shared();
    let out = run(command("metadata", router, router.frontend()));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], r#"result={"random":"data"}"#);
    assert_eq!(lines[1], r#"result2={"random":"data"}"#);
    assert!(
        lines[2].starts_with(r#"result3={"some.preference.key":{"#),
        "{out}"
    );
}

#[test]
fn change_user_switches_and_reports_a_bad_password() {
    let router = Router::shared();
    let frontend = router.frontend();
    let mut good = command("change_user", router, router.backend(1));
    good.env("ANOTHER_USERNAME", &frontend.username)
        .env("ANOTHER_PASSWORD", &frontend.password);
    assert_eq!(run(good), "backend-1\nfrontend-1\n");
    let mut bad = command("change_user", router, router.backend(1));
    bad.env("ANOTHER_USERNAME", &frontend.username)
        .env("ANOTHER_PASSWORD", "wrong");
    let out = run(bad);
    assert!(
        out.starts_with("backend-1\nOops, that didn't work ex="),
        "{out}"
    );
    assert!(out.contains("Permission Denied"), "{out}");
}

#[test]
fn delayed_login_logs_in_with_change_user() {
    let router = Router::shared();
    let frontend = router.frontend();
    // The configured user does not exist: with autorun off it is never used.
    let nobody = User {
        username: "nobody".into(),
        password: "nothing".into(),
        ..frontend.clone()
    };
    let mut command = command("delayed_login", router, &nobody);
    command
        .env("ANOTHER_USERNAME", &frontend.username)
        .env("ANOTHER_PASSWORD", &frontend.password);
    assert_eq!(run(command), "frontend-1\n");
}

#[test]
fn otp_prints_a_one_time_password_that_logs_in_once() {
    let router = Router::shared();
    let out = run(command("otp", router, router.backend(3)));
    let otp: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let user = User {
        username: otp["login"].as_str().unwrap().into(),
        password: otp["plaintext_key"].as_str().unwrap().into(),
        ..router.backend(3).clone()
    };
    assert_eq!(
        client(router, &user).whoami().unwrap()["authid"],
        "backend-3"
    );
}

#[test]
fn apikey_create_and_list_show_the_key() {
    let router = Router::shared();
    let out = run(command("apikey_create", router, router.backend(2)));
    let key: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(key["description"], "Purpose of key");
    let user = User {
        password: key["plaintext_key"].as_str().unwrap().into(),
        ..router.backend(2).clone()
    };
    assert_eq!(
        client(router, &user).whoami().unwrap()["authid"],
        "backend-2"
    );
    let listed = run(command("apikey_list", router, router.backend(2)));
    assert!(listed.contains(key["uuid"].as_str().unwrap()), "{listed}");
}

#[test]
fn spawn_connection_opens_a_second_session() {
    let router = Router::shared();
    let frontend = router.frontend();
    let mut command = command("spawn_connection", router, router.backend(1));
    command
        .env("ANOTHER_USERNAME", &frontend.username)
        .env("ANOTHER_PASSWORD", &frontend.password);
    assert_eq!(
        run(command),
        "wamp is backend-1\nthe spawned connection is frontend-1\n"
    );
}

#[test]
fn the_tour_runs_against_its_own_router() {
    let out = run(Command::new(example("tour")));
    for step in [
        "initialize(): connected as backend-1",
        "registered tour.greet and called it: Hello Zaber! (from a handler, called by backend-1)",
        r#"roster_query -> [{"service":"tour","version":1}]"#,
        "that session may not make another: wamp.error.not_authorized",
        "search_fetch(..) on sandbox: X-LSQ150B (12.0 in stock), X-LSQ300B (4.0 in stock)",
        "logged in with the key as backend-1",
        "still backend-1",
        "now {\"authid\":\"frontend-1\",\"role\":\"frontend\"}",
        "a frontend user may not register: wamp.error.not_authorized",
        "done; stopping the router",
    ] {
        assert!(out.contains(step), "missing {step:?} in:\n{out}");
    }
}

#[cfg(unix)]
#[test]
fn a_second_sigterm_ends_a_stopping_service_at_once() {
    let router = Router::shared();
    let procedure = format!("com.izaber.wamp.examples.slow.{}", std::process::id());
    let user = router.backend(1);
    let mut command = Command::new(example("bench_service"));
    command.args([
        "--procedure",
        &procedure,
        "--work-ms",
        "20000",
        "--grace-s",
        "60",
        "--url",
        &router.ws_url,
        "--realm",
        &router.realm,
        "--user",
        &user.username,
        "--password",
        &user.password,
        "--serializer",
        "cbor",
    ]);
    let mut service = Service::start(command);
    service.expect_line("ready");
    let caller = client(router, router.backend(2));
    let call = {
        let procedure = procedure.clone();
        std::thread::spawn(move || caller.call(&procedure, ()))
    };
    let deadline = Instant::now() + WAIT;
    // Time for the call to reach the service.
    std::thread::sleep(Duration::from_millis(300));
    let signal = |child: &Child| {
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
    };
    signal(&service.child);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        service.child.try_wait().unwrap().is_none(),
        "the first SIGTERM lets the 20 s call run within its 60 s grace"
    );
    let second = Instant::now();
    signal(&service.child);
    let status = loop {
        if let Some(status) = service.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the second SIGTERM did not end it"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(130), "{status}");
    assert!(second.elapsed() < Duration::from_secs(3));
    assert!(call.join().unwrap().is_err());
}
