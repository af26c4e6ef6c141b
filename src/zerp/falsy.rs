//! OpenERP's `false` for "no value", read as `None` by serde.

use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, Error as _};

use crate::protocol::{Value, from_value};

/// Reads a field that OpenERP answers with `false` when it is empty (a char, a number, a
/// many2one, a date...): `false` and `null` become `None`, anything else `Some`. For a
/// struct of your own, or the ones `izaber-wamp generate-types` writes:
///
/// ```
/// use serde::Deserialize;
/// use izaber_wamp::protocol::{Value, from_value};
/// use serde_json::json;
///
/// #[derive(Deserialize)]
/// struct Product {
///     id: u64,
///     #[serde(default, deserialize_with = "izaber_wamp::zerp::falsy")]
///     default_code: Option<String>,
///     #[serde(default, deserialize_with = "izaber_wamp::zerp::falsy")]
///     categ_id: Option<(u64, String)>,
/// }
///
/// let record = Value::from(json!({"id": 7, "default_code": false, "categ_id": [3, "Stages"]}));
/// let product: Product = from_value(record)?;
/// assert_eq!(product.default_code, None);
/// assert_eq!(product.categ_id, Some((3, "Stages".to_owned())));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// The deserializer's error when the value is neither `false`, `null` nor a `T`.
pub fn falsy<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    match Value::deserialize(deserializer)? {
        Value::Null | Value::Bool(false) => Ok(None),
        value => from_value(value).map(Some).map_err(D::Error::custom),
    }
}
