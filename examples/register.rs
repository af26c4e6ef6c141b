//! Basic registration example: serve `com.izaber.wamp.example.hello` (needs a backend user)
//! until the process is asked to stop (Ctrl-C, SIGTERM), then stop without losing a call.
use izaber_wamp::{CallError, Invocation, initialize, wamp};

/// Demonstrates creating a registered callable that does not require arguments. The
/// invocation holds metadata on the call itself.
fn example_hello_fn(event: Invocation) -> Result<String, CallError> {
    // Details will almost always contain a hash such as:
    // {"caller": 8185620139956162, "caller_authid": "zaber", "caller_authrole": "frontend"}
    let details = &event.details;
    let authid = details
        .get("caller_authid")
        .and_then(|v| v.as_str())
        .unwrap_or("<unknown>");
    let authrole = details
        .get("caller_authrole")
        .and_then(|v| v.as_str())
        .unwrap_or("<unknown>");
    Ok(format!("Hello {authid} (role: {authrole})!"))
}

fn main() -> anyhow::Result<()> {
    initialize()?;

    let registration_id = wamp.register("example.hello", example_hello_fn)?;
    println!("{registration_id}");

    // Python: while True: time.sleep(1)
    let report = wamp.run_until_stopped()?;
    println!("{report}");
    Ok(())
}
