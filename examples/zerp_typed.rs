//! ZERP records as your own types: `zerp_types/mod.rs` is what
//! `izaber-wamp generate-types product.product res.partner sale.order` wrote from the models'
//! live schema (the test suite checks it still is), and `search_fetch_as` fills it.
//! Python's `generate-types` gives type hints; here the compiler checks every field used.

#[path = "zerp_types/mod.rs"]
mod zerp_types;

use izaber_wamp::{InitOptions, domain, initialize_with, zerp};
use zerp_types::{ProductProduct, SaleOrder};

fn main() -> anyhow::Result<()> {
    initialize_with(InitOptions::app("izaber-wamp"))?;

    let products = zerp.get("product.product")?;
    let stages: Vec<ProductProduct> = products.search_fetch_as(
        domain![("categ_id.name", "=", "Motion"), ("qty_available", ">", 0)],
        &["default_code", "list_price", "qty_available", "categ_id"],
    )?;
    for product in &stages {
        let code = product.default_code.as_deref().unwrap_or("(no code)");
        let category = product
            .categ_id
            .as_ref()
            .map_or("", |(_, name)| name.as_str());
        let price = product.list_price.unwrap_or_default();
        let stock = product.qty_available.unwrap_or_default();
        println!("{code}: {price:.2} ({stock} in stock, {category})");
    }

    // A whole record: every field, those ZERP leaves empty as None.
    let orders = zerp.get("sale.order")?;
    let order: SaleOrder = orders.fetch_one_as(2, &[])?;
    println!(
        "{} for {}: {} lines, note {:?}, customer reference {:?}",
        order.name.as_deref().unwrap_or_default(),
        order.partner_id.map(|(_, name)| name).unwrap_or_default(),
        order.order_line.len(),
        order.note,
        order.client_order_ref,
    );
    Ok(())
}
