//! Register, then remove the registration with its id.
use izaber_wamp::{initialize, wamp};

fn main() -> anyhow::Result<()> {
    initialize()?;

    let registration_id = wamp.register("example.temporary", |_event| Ok("here for now"))?;
    println!("registered: {registration_id}");

    wamp.unregister(registration_id)?;
    println!("unregistered: {registration_id}");
    Ok(())
}
