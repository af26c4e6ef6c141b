//! docs/usage_in_scripts.md of Python's izaber-wamp-zerp, "Initialization": connect, then
//! introduce the script to ZERP. Python original: `examples/porting/zerp/zerp_init.py`.

use izaber_wamp::{InitOptions, initialize_with, zerp};
use serde_json::json;

fn main() -> anyhow::Result<()> {
    // Connect to Zerp over the WAMP bus
    initialize_with(InitOptions::app("izaber-wamp"))?;

    // Identify yourself to Zerp to help IT troubleshoot issues
    let result = zerp.hello(
        file!(),
        json!({"author": "My Name", "description": "This script is just an example"}),
    )?;
    println!("{result:#}");
    Ok(())
}
