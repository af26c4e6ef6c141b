//! List existing API keys.
use izaber_wamp::{initialize, wamp};

fn main() -> anyhow::Result<()> {
    initialize()?;

    for apikey in wamp.apikeys_list()?.as_list().unwrap_or_default() {
        println!("{apikey:#}");
    }
    Ok(())
}
