//! Load mode (`call`/`publish` with `--repeat`) of the built `izaber-wamp` binary against the
//! test router: the summary's counts, latencies and errors by URI, sessions in parallel, the
//! rate limit, and the exit codes.

mod common;
#[path = "../../tests/support/mod.rs"]
mod support;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::{cli, run};
use izaber_wamp::protocol::Value as WampValue;
use izaber_wamp::{CallError, Client, Event, Invocation};
use serde_json::{Value, json};
use support::Router;

const WAIT: Duration = Duration::from_secs(30);

/// Calls of `load.count` with the right arguments.
static COUNTED: AtomicU64 = AtomicU64::new(0);
/// The caller session of each call of `load.sessions`.
static CALLERS: Mutex<BTreeSet<u64>> = Mutex::new(BTreeSet::new());
/// Events received on `load.topic`.
static EVENTS: AtomicU64 = AtomicU64::new(0);

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
