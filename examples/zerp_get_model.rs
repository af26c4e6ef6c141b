//! docs/usage_in_scripts.md of Python's izaber-wamp-zerp, "Getting a model" (on
//! res.partner). Python original: `examples/porting/zerp/zerp_get_model.py`.

use izaber_wamp::{InitOptions, initialize_with, zerp};

fn main() -> anyhow::Result<()> {
    initialize_with(InitOptions::app("izaber-wamp"))?;

    let my_model = zerp.get_model("res.partner")?;
    let name = &my_model.fields()["name"];
    println!("{:#} {:#}", name["type"], name["string"]);
    Ok(())
}
