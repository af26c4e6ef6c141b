//! A second, independent connection as another user (Python's `wamp.spawn_connection`).
//! Credentials come from ANOTHER_USERNAME / ANOTHER_PASSWORD.
use izaber_wamp::{initialize, wamp};

fn main() -> anyhow::Result<()> {
    initialize()?;

    let another_username = std::env::var("ANOTHER_USERNAME").unwrap_or_else(|_| "username".into());
    let another_password = std::env::var("ANOTHER_PASSWORD").unwrap_or_else(|_| "password".into());

    let other = wamp.spawn_connection(&another_username, &another_password)?;
    println!(
        "wamp is {}",
        wamp.whoami()?["authid"].as_str().unwrap_or("<unknown>")
    );
    println!(
        "the spawned connection is {}",
        other.whoami()?["authid"].as_str().unwrap_or("<unknown>")
    );
    other.close();
    Ok(())
}
