//! API key generation.
use izaber_wamp::{initialize, wamp};
use serde_json::json;

fn main() -> anyhow::Result<()> {
    initialize()?;

    let apikey = wamp.apikeys_create(json!({
        "description": "Purpose of key",
    }))?;
    println!("{apikey}");
    Ok(())
}
