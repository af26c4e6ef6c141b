//! Interoperability with the Python client our users run today (swampyer), both ways.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use izaber_wamp::protocol::{Serializer, Value};
use izaber_wamp::{CallError, Client, Error};
use serde_json::json;
use support::Router;

fn peer_script() -> String {
    format!(
        "{}/tests/interop/swampyer_peer.py",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn rust_client(router: &Router, user: usize) -> Client {
    router
        .client(&router.ws_url, router.backend(user))
        .serializer(Serializer::Cbor)
        .timeout(Duration::from_secs(15))
        .connect()
        .unwrap()
}

/// Runs the Python caller and returns its JSON report.
fn python_call(
    router: &Router,
    procedure: &str,
    args: serde_json::Value,
    kwargs: serde_json::Value,
) -> serde_json::Value {
    let user = router.backend(2);
    let output = Command::new(router.python())
        .args([
            peer_script().as_str(),
            "caller",
            &router.ws_url,
            &user.username,
            &user.password,
            procedure,
            &args.to_string(),
            &kwargs.to_string(),
        ])
        .stdin(Stdio::null())
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().unwrap_or_else(|| {
        panic!(
            "the Python caller printed nothing; stderr:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    serde_json::from_str(line).unwrap()
}

#[test]
fn a_python_caller_calls_a_rust_callee() {
    let router = Router::shared();
    let _log = router.log_on_failure();
    let callee = rust_client(router, 1);
    callee
        .register("interop.rust.echo", |invocation| {
            Ok(json!({
                "args": invocation.args,
                "kwargs": invocation.kwargs,
                "caller": invocation.caller_authid(),
            }))
        })
        .unwrap();
    let report = python_call(
        router,
        "interop.rust.echo",
        json!([1, "two", [3.5]]),
        json!({"k": "v"}),
    );
    assert_eq!(
        report["result"],
        json!({"args": [1, "two", [3.5]], "kwargs": {"k": "v"}, "caller": "backend-2"})
    );
}

#[test]
fn a_python_caller_sees_our_handler_failure_like_a_python_one() {
    let router = Router::shared();
    let callee = rust_client(router, 1);
    callee
        .register("interop.rust.fails", |_| -> Result<(), CallError> {
            Err("42x".parse::<u8>().unwrap_err().into())
        })
        .unwrap();
    let report = python_call(router, "interop.rust.fails", json!([]), json!({}));
    // swampyer raises ExInvocationError with the ERROR's arguments, which for a Python
    // callee's Exception("<message>") are "Call failed: <message>" and then "<message>".
    assert_eq!(report["error"], "ExInvocationError");
    assert_eq!(
        report["args"],
        json!([
            "Call failed: invalid digit found in string",
            "invalid digit found in string"
        ])
    );
}

#[test]
fn a_rust_caller_calls_a_python_callee() {
    let router = Router::shared();
    let user = router.backend(3);
    let mut python = Command::new(router.python())
        .args([
            peer_script().as_str(),
            "callee",
            &router.ws_url,
            &user.username,
            &user.password,
            "interop.python.echo",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python runs");
    let mut ready = String::new();
    BufReader::new(python.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(ready.trim(), "READY");

    let caller = rust_client(router, 1);
    let result = caller
        .call_kw(
            "interop.python.echo",
            (1, "two", Value::Bytes(vec![1, 2])),
            json!({"k": [true, null]}),
        )
        .unwrap();
    assert_eq!(result["args"][0], 1i64);
    assert_eq!(result["args"][1], "two");
    assert_eq!(result["args"][2], Value::Bytes(vec![1, 2]));
    assert_eq!(
        result["kwargs"]["k"],
        Value::List(vec![Value::Bool(true), Value::Null])
    );
    assert_eq!(result["caller"], "backend-1");

    let error = caller.call("interop.python.echo.fail", ()).unwrap_err();
    let Error::Wamp(error) = error else {
        panic!("expected a WAMP error")
    };
    assert_eq!(error.uri, "com.izaber.wamp.error.invoke.failure");
    assert_eq!(error.args[0], "Call failed: ('python says no', 42)");
    assert_eq!(error.args[1], "python says no");
    assert_eq!(error.args[2], 42i64);

    drop(python.stdin.take());
    let _ = python.wait();
}
