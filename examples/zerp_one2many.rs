//! docs/advanced_script_usage.md of Python's izaber-wamp-zerp, the one2many example:
//! `[(0, 0, {'field_name': field_value_record1, ...}), (0, 0, {...})]` creates linked records
//! (here lines of a sale order). Python original: `examples/porting/zerp/zerp_one2many.py`.

use izaber_wamp::zerp::command;
use izaber_wamp::{InitOptions, initialize_with, zerp};
use serde_json::json;

fn main() -> anyhow::Result<()> {
    initialize_with(InitOptions::app("izaber-wamp"))?;
    let orders = zerp.get("sale.order")?;
    let lines = zerp.get("sale.order.line")?;

    orders.write([1], json!({"order_line": [
        command::create(json!({"name": "Cable", "product_id": 6, "product_uom_qty": 3, "price_unit": 35.5})),
        command::create(json!({"name": "Calibration", "product_id": 5, "price_unit": 250.0})),
    ]}))?;
    let order = orders.fetch_one(1, &["name", "order_line", "amount_total"])?;
    println!("{:#} {:#}", order["name"], order["amount_total"]);
    for line in lines.read(
        &order["order_line"],
        &["name", "product_uom_qty", "price_subtotal"],
    )? {
        println!(
            "{:#} {:#} {:#}",
            line["name"], line["product_uom_qty"], line["price_subtotal"]
        );
    }
    Ok(())
}
