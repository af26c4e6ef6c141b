//! Registration with options: take the URI over (`force_reregister`) and answer every URI
//! under it (`match: prefix`), printing the URI actually called.
use std::time::Duration;

use izaber_wamp::{CallError, Invocation, Match, RegisterOptions, initialize, wamp};

fn example_hello_fn(event: Invocation) -> Result<String, CallError> {
    // Details will almost always contain a hash such as:
    // {"caller": 8185620139956162, "caller_authid": "zaber", "caller_authrole": "frontend",
    //  "procedure": "com.izaber.wamp.example.hello.test"}
    let details = &event.details;
    let authid = details
        .get("caller_authid")
        .and_then(|v| v.as_str())
        .unwrap_or("<unknown>");
    let authrole = details
        .get("caller_authrole")
        .and_then(|v| v.as_str())
        .unwrap_or("<unknown>");
    let uri = details
        .get("procedure")
        .and_then(|v| v.as_str())
        .unwrap_or("<unknown>");
    Ok(format!(
        "Hello {authid} (role: {authrole})! Called from: <{uri}>"
    ))
}

fn main() -> anyhow::Result<()> {
    initialize()?;

    // Register on 'com.izaber.wamp.example.hello'. However, due to the 'match': 'prefix',
    // this registration will match all of the following and more:
    // com.izaber.wamp.example.hello.toot
    // com.izaber.wamp.example.hello.this.will.also.work
    let registration_id = wamp.register_with(
        "example.hello",
        &RegisterOptions::new()
            .force_reregister(true)
            .match_policy(Match::Prefix),
        example_hello_fn,
    )?;
    println!("{registration_id}");

    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}
