//! WAMP protocol building blocks.
//!
//! [`Value`] is the dynamic type that WAMP arguments, keyword arguments and
//! details are made of; [`to_value`] and [`from_value`] convert between it and
//! any `serde` type.

// Until the JSON transport uses it, only the tests do.
#[allow(dead_code)]
pub(crate) mod json_binary;
pub mod value;

pub use value::{Dict, Value, ValueError, from_value, to_value};
