//! Publish a hello world message to `com.izaber.wamp.test.sub`.
use izaber_wamp::{initialize, wamp};
use serde_json::json;

fn main() -> anyhow::Result<()> {
    initialize()?;

    let hello_message = json!({
        "Hello": "World!"
    });
    // The message is the event's first positional argument.
    wamp.publish("test.sub", (hello_message,))?;
    Ok(())
}
