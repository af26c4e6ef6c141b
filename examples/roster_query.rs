//! Fetching roster entries.
use izaber_wamp::{config, initialize, wamp};

fn main() -> anyhow::Result<()> {
    initialize()?;

    let username = config()?
        .get_str("wamp.connection.username")?
        .unwrap_or_default()
        .to_owned();
    let roster_key = format!("roster.example.{username}.test");

    // Now we can retrieve the data
    let result2 = wamp.roster_query(&roster_key)?;
    println!("result2={result2}");
    Ok(())
}
