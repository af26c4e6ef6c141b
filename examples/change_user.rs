//! Switching to another user. Never store passwords in code: this example reads them from
//! the ANOTHER_USERNAME and ANOTHER_PASSWORD environment variables.
use izaber_wamp::{initialize, wamp};

fn print_current_user() -> Result<(), izaber_wamp::Error> {
    let current_user = wamp.whoami()?;
    println!("{}", current_user["authid"].as_str().unwrap_or("<unknown>"));
    Ok(())
}

fn main() -> anyhow::Result<()> {
    initialize()?;

    // At this point, the `wamp` user is the one configured in izaber.yaml. Assuming we have
    // credentials to another user we wish to switch to we can do:
    let another_username = std::env::var("ANOTHER_USERNAME").unwrap_or_else(|_| "username".into());
    let another_password = std::env::var("ANOTHER_PASSWORD").unwrap_or_else(|_| "password".into());

    let attempt = || -> Result<(), izaber_wamp::Error> {
        print_current_user()?;
        wamp.change_user(&another_username, &another_password)?;
        print_current_user()
    };
    if let Err(ex) = attempt() {
        println!("Oops, that didn't work ex={ex}");
    }
    Ok(())
}
