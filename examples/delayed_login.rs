//! Prevent connection initialization (delay login): load the configuration, then log in
//! with `change_user`. Credentials come from ANOTHER_USERNAME / ANOTHER_PASSWORD.
use izaber_wamp::{initialize, set_autorun, wamp};

fn print_current_user() -> Result<(), izaber_wamp::Error> {
    let current_user = wamp.whoami()?;
    println!("{}", current_user["authid"].as_str().unwrap_or("<unknown>"));
    Ok(())
}

fn main() -> anyhow::Result<()> {
    set_autorun(false);

    initialize()?;

    let another_username = std::env::var("ANOTHER_USERNAME").unwrap_or_else(|_| "zaber".into());
    let another_password = std::env::var("ANOTHER_PASSWORD").unwrap_or_else(|_| "password".into());

    let attempt = || -> Result<(), izaber_wamp::Error> {
        wamp.change_user(&another_username, &another_password)?;
        print_current_user()
    };
    if let Err(ex) = attempt() {
        println!("Oops, that didn't work ex={ex}");
    }
    Ok(())
}
