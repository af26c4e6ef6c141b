//! docs/usage_in_scripts.md of Python's izaber-wamp-zerp, `model.read(ids, fields=None)` (on
//! res.partner). Python original: `examples/porting/zerp/zerp_read.py`.

use izaber_wamp::{InitOptions, initialize_with, zerp};

fn main() -> anyhow::Result<()> {
    initialize_with(InitOptions::app("izaber-wamp"))?;
    let my_model = zerp.get_model("res.partner")?;

    let values = my_model.read([2], &["name", "color", "email"])?;
    for value in values {
        let (id, name, color, email) = (
            &value["id"],
            &value["name"],
            &value["color"],
            &value["email"],
        );
        println!("{id:#} {name:#} {color:#} {email:#}");
    }
    Ok(())
}
