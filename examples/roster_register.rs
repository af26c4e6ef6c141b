//! Registering a roster entry (needs a backend user); it lives as long as this session.
use izaber_wamp::{StopSignal, config, initialize, wamp};
use serde_json::json;

fn main() -> anyhow::Result<()> {
    initialize()?;

    let username = config()?
        .get_str("wamp.connection.username")?
        .unwrap_or_default()
        .to_owned();
    let roster_key = format!("roster.example.{username}.test");

    // This data is arbitrary primitive data: a list, a dict, a string, a number.
    let eg_data = json!({
        "random": "data"
    });

    let result = wamp.roster_register(&roster_key, eg_data)?;
    println!("result={result}");

    // Wait for the sake of example (Python: time.sleep(1000)), here until the process is
    // asked to stop (Ctrl-C, SIGTERM). Usually your code may be doing something like waiting
    // for requests.
    StopSignal::install()?.wait();

    // We can then delete our roster entry explicitly like the following or have the system
    // delete it for us when this code eventually disconnects
    wamp.roster_unregister(&roster_key)?;
    wamp.disconnect();
    Ok(())
}
