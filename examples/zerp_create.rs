//! docs/usage_in_scripts.md of Python's izaber-wamp-zerp, `model.create(values)` (on
//! res.partner; field_6 is child_ids, a one2many to res.partner). Python original:
//! `examples/porting/zerp/zerp_create.py`.

use izaber_wamp::zerp::command;
use izaber_wamp::{InitOptions, initialize_with, zerp};
use serde_json::json;

fn main() -> anyhow::Result<()> {
    initialize_with(InitOptions::app("izaber-wamp"))?;
    let my_model = zerp.get_model("res.partner")?;

    let new_id = my_model.create(json!({
        "name": "some_new_string",
        "color": 42,
        "child_ids": [
            // Create an item in some other model that will automatically be linked to this object
            command::create(json!({
                "color": 0,
                "name": "A"
            })),
            command::create(json!({
                "color": 1,
                "name": "B"
            })),
        ]
    }))?;
    println!("{new_id}");
    let created = my_model.fetch_one(new_id, &["name", "child_ids"])?;
    println!("{:#} {:#}", created["name"], created["child_ids"]);
    for child in my_model.read(&created["child_ids"], &["name", "color", "parent_id"])? {
        println!(
            "{:#} {:#} {:#}",
            child["name"], child["color"], child["parent_id"]
        );
    }
    Ok(())
}
