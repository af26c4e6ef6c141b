//! Hooking join for services: register and subscribe on every join and re-join, until the
//! process is asked to stop (Ctrl-C, SIGTERM).
use izaber_wamp::{CallError, Event, Invocation, initialize, protocol::Dict, wamp};

fn test_call(event: Invocation) -> Result<(), CallError> {
    println!("Test call called! {:?} {:?}", event.args, event.kwargs);
    Ok(())
}

fn test_sub(event: Event) {
    println!("Test event called! {:?} {:?}", event.args, event.kwargs);
}

fn join_hook(_details: &Dict) {
    match wamp.register("test.call", test_call) {
        Ok(res) => println!("Registered test.call with {res}"),
        Err(e) => println!("Could not register test.call: {e}"),
    }
    match wamp.subscribe("test.sub", test_sub) {
        Ok(res) => println!("Subscribed test.sub with {res}"),
        Err(e) => println!("Could not subscribe test.sub: {e}"),
    }
}

fn main() -> anyhow::Result<()> {
    // Must be called before the initialize!
    wamp.hook("join", join_hook)?;

    initialize()?;

    // Python: input("Hit enter to stop service\n")
    println!("Hit Ctrl-C to stop service");
    wamp.run_until_stopped()?;
    Ok(())
}
