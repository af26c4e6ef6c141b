//! docs/usage_in_scripts.md of Python's izaber-wamp-zerp, `model.search(values)` (on
//! res.partner). Python original: `examples/porting/zerp/zerp_search.py`.

use izaber_wamp::{InitOptions, domain, initialize_with, zerp};

fn main() -> anyhow::Result<()> {
    initialize_with(InitOptions::app("izaber-wamp"))?;
    let my_model = zerp.get_model("res.partner")?;

    let ids = my_model.search(domain![("name", "like", "Acme"), ("color", ">=", 10)])?;
    println!("{ids:?}");
    Ok(())
}
