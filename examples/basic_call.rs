//! Basic calling example: call `com.izaber.wamp.auth.whoami`.
//!
//! Reads its connection from izaber.yaml (or the `IZABER_YAML` environment variable).
use izaber_wamp::{initialize, wamp};

fn main() -> anyhow::Result<()> {
    initialize()?;

    // Note that wamp.whoami() does the same thing
    let me = wamp.call("auth.whoami", ())?;
    println!("{me}");
    Ok(())
}
