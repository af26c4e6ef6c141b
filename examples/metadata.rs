//! User metadata (preferences) stored on Nexus.
use izaber_wamp::{initialize, wamp};
use serde_json::json;

fn main() -> anyhow::Result<()> {
    initialize()?;

    let preference_key = "some.preference.key";

    // This data is arbitrary primitive data: a list, a dict, a string, a number.
    let eg_data = json!({
        "random": "data"
    });

    let result = wamp.metadata_set(preference_key, eg_data)?;
    println!("result={result}");

    // Now we can retrieve the data
    let result2 = wamp.metadata_get(preference_key)?;
    println!("result2={result2}");

    // Get all the metadata keys associated with the user
    let result3 = wamp.metadata_list()?;
    println!("result3={result3}");

    // We can then delete our metadata entry explicitly
    wamp.metadata_delete(preference_key)?;
    Ok(())
}
