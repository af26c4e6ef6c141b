//! A real operations script ported line for line: `examples/porting/nexus_audit.py` (run with
//! Python izaber-wamp from PyPI) and its Rust twin `examples/nexus_audit.rs` audit the same
//! router, from the same izaber.yaml, and must print the same lines and exit the same way.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use izaber_wamp::protocol::Serializer;
use izaber_wamp::{Client, RegisterOptions};
use support::{Router, User, example, run_in_home};

fn service(router: &Router, user: &User) -> Client {
    router
        .client(&router.tcp_url, user)
        .serializer(Serializer::Cbor)
        .timeout(Duration::from_secs(20))
        .connect()
        .unwrap()
}

/// The directory both scripts run in (it is their HOME too): an izaber.yaml logging in as
/// the trusted user, with the audit's own section.
fn audit_dir(router: &Router) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("izaber-porting-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let trust = router.trust();
    let yaml = format!(
        "default:
  wamp:
    connection:
      url: '{url}'
      username: '{user}'
      password: '{password}'
      realm: izaber
      serializer: cbor
      timeout: 20
  nexus_audit:
    required:
      - com.izaber.wamp.my.service.ping
      - com.izaber.wamp.my.service.shared
      - com.izaber.wamp.my.service.gone
    show_peers: true
",
        url = router.ws_url,
        user = trust.username,
        password = trust.password,
    );
    std::fs::write(dir.join("izaber.yaml"), yaml).unwrap();
    dir
}

/// A script's exit code and output: 0 when every required procedure is served, 1 when not.
fn run_in(dir: &Path, command: Command) -> (Option<i32>, String) {
    run_in_home(dir, command, &[0, 1])
}

#[test]
fn the_audit_script_prints_the_same_in_python_and_in_rust() {
    // A router of its own: the audit counts every registration on it.
    let router = Router::private();
    let _log = router.log_on_failure();
    let ping = service(&router, router.backend(1));
    ping.register("my.service.ping", |_| Ok("pong")).unwrap();
    let shared = RegisterOptions::new().invoke(izaber_wamp::Invoke::RoundRobin);
    let instances = [
        service(&router, router.backend(2)),
        service(&router, router.backend(3)),
    ];
    for instance in &instances {
        instance
            .register_with("my.service.shared", &shared, |_| Ok("shared"))
            .unwrap();
    }

    let dir = audit_dir(&router);
    let python = {
        let mut command = Command::new(router.python());
        command.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/porting/nexus_audit.py"));
        run_in(&dir, command)
    };
    let rust = run_in(&dir, Command::new(example("nexus_audit")));
    std::fs::remove_dir_all(&dir).ok();

    assert_eq!(rust, python, "the Rust twin differs from the Python script");
    // And what they agree on is the audit's answer, not two empty outputs.
    let (code, out) = rust;
    assert_eq!(code, Some(1), "a required procedure is missing:\n{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with(
            "OK       com.izaber.wamp.my.service.ping  backend-1 (backend) from tcp4:127.0.0.1:"
        ),
        "{out}"
    );
    // The shared procedure's two callees, in the order of their session ids.
    let shared_lines = [lines[1], lines[2]].join("\n");
    for callee in ["backend-2", "backend-3"] {
        let line = format!("OK       com.izaber.wamp.my.service.shared  {callee} (backend) from ");
        assert!(shared_lines.contains(&line), "{out}");
    }
    assert_eq!(
        lines[3], "         shared: 2 callees, invoke roundrobin",
        "{out}"
    );
    assert_eq!(
        lines[4], "MISSING  com.izaber.wamp.my.service.gone",
        "{out}"
    );
    assert!(
        lines[5].starts_with("2 of 3 required procedures served; registrations: exact "),
        "{out}"
    );
    assert_eq!(lines.len(), 6, "{out}");
    drop(instances);
}
