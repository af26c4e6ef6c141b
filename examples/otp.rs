//! One time password (OTP) creation.
use izaber_wamp::{initialize, wamp};

fn main() -> anyhow::Result<()> {
    initialize()?;

    let otp = wamp.otp_create()?;
    println!("{otp}");
    Ok(())
}
