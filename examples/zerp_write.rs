//! docs/usage_in_scripts.md of Python's izaber-wamp-zerp, `model.write(ids, values)` (on
//! res.partner; field_6 is child_ids, a one2many to res.partner). Python original:
//! `examples/porting/zerp/zerp_write.py`.

use izaber_wamp::zerp::command;
use izaber_wamp::{InitOptions, initialize_with, zerp};
use serde_json::json;

fn main() -> anyhow::Result<()> {
    initialize_with(InitOptions::app("izaber-wamp"))?;
    let my_model = zerp.get_model("res.partner")?;

    let result = my_model.write(
        [2],
        json!({
            "name": "some_new_string",
            "color": 42,
            "credit_limit": 12.03,
            "child_ids": [
                // Also update a linked item in some other model
                command::update(3, json!({
                    "color": 0,
                    "ref": "A"
                })),
                command::update(4, json!({
                    "color": 1,
                    "ref": "B"
                }))
            ]
        }),
    )?;
    println!("{result:#}");
    for value in my_model.read([2, 3, 4], &["name", "color", "ref", "credit_limit"])? {
        let (id, name, color) = (&value["id"], &value["name"], &value["color"]);
        let (reference, credit_limit) = (&value["ref"], &value["credit_limit"]);
        println!("{id:#} {name:#} {color:#} {reference:#} {credit_limit:#}");
    }
    Ok(())
}
