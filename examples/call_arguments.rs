//! Calling with positional and keyword arguments.
use izaber_wamp::{call, initialize, wamp};

fn main() -> anyhow::Result<()> {
    initialize()?;

    // Prefix is added to become: com.izaber.wamp.example.call
    let results = call!(
        wamp,
        "example.call",
        "pos1",
        "pos2",
        keyword1 = "value1",
        keyword2 = "value2"
    )?;
    println!("{results}");
    Ok(())
}
