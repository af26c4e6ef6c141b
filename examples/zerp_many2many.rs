//! docs/advanced_script_usage.md of Python's izaber-wamp-zerp, the many2many example:
//! `[(6, 0, [8, 5, 6, 4])]` sets the many2many to those ids (here res.partner's
//! category_id). Python original: `examples/porting/zerp/zerp_many2many.py`.

use izaber_wamp::zerp::command;
use izaber_wamp::{InitOptions, initialize_with, zerp};
use serde_json::json;

fn main() -> anyhow::Result<()> {
    initialize_with(InitOptions::app("izaber-wamp"))?;
    let partners = zerp.get("res.partner")?;

    partners.write([2], json!({"category_id": [command::set(&[4, 2, 3])]}))?;
    println!(
        "{:#}",
        partners.fetch_one(2, &["category_id"])?["category_id"]
    );
    partners.write(
        [2],
        json!({"category_id": [command::unlink(2), command::link(1)]}),
    )?;
    println!(
        "{:#}",
        partners.fetch_one(2, &["category_id"])?["category_id"]
    );
    Ok(())
}
