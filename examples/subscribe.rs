//! A simple subscription to receive push notifications from the server, until the process is
//! asked to stop (Ctrl-C, SIGTERM).
use izaber_wamp::{Event, initialize, wamp};

fn subscribe_event(event: Event) {
    println!("subscription event: {:?}", event.details);
    println!("subscription event received args: {:?}", event.args);
    println!(
        "subscription event received keyword args: {:?}",
        event.kwargs
    );
}

fn main() -> anyhow::Result<()> {
    initialize()?;

    let sub_id = wamp.subscribe("test.sub", subscribe_event)?;
    println!("{sub_id}");

    // Python: time.sleep(10000)
    wamp.run_until_stopped()?;
    Ok(())
}
