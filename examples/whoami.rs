//! Current user identity.
use izaber_wamp::{initialize, wamp};

fn main() -> anyhow::Result<()> {
    initialize()?;

    println!("{}", wamp.whoami()?);
    Ok(())
}
