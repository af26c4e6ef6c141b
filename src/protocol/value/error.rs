//! The error type: [`ValueError`].

use std::fmt;

use serde::de::{self, Expected, Unexpected};
use serde::ser;

use super::Value;

/// What went wrong converting to or from a [`Value`].
///
/// Its message says what was expected and what was found, e.g. `expected a
/// string, found an integer`. It never quotes strings from the data, which
/// may be secrets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueError {
    message: String,
}

impl ValueError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        ValueError {
            message: message.into(),
        }
    }

    /// The message, also given by `Display`.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// `found` is not of the type that `expected` wants.
    pub(super) fn wrong_type(found: &Value, expected: &dyn Expected) -> Self {
        ValueError::new(format!("expected {expected}, found {}", found.described()))
    }

    pub(super) fn integer_too_large(i: u128) -> Self {
        ValueError::new(format!("integer {i} is too large (the limit is i128::MAX)"))
    }

    pub(super) fn out_of_range(i: i128, ty: &str) -> Self {
        ValueError::new(format!("integer {i} is out of range for {ty}"))
    }
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ValueError {}

impl ser::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ValueError::new(msg.to_string())
    }
}

impl de::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ValueError::new(msg.to_string())
    }

    /// Worded like the deserializer's own errors: "expected …, found …",
    /// naming the type found but not quoting its content.
    fn invalid_type(unexpected: Unexpected<'_>, expected: &dyn Expected) -> Self {
        ValueError::new(format!(
            "expected {expected}, found {}",
            unexpected_type(&unexpected)
        ))
    }

    /// Like `serde`'s message, but without quoting strings or bytes.
    fn invalid_value(unexpected: Unexpected<'_>, expected: &dyn Expected) -> Self {
        let found = match unexpected {
            Unexpected::Bool(_)
            | Unexpected::Unsigned(_)
            | Unexpected::Signed(_)
            | Unexpected::Float(_) => unexpected.to_string(),
            other => unexpected_type(&other).to_owned(),
        };
        ValueError::new(format!("invalid value: {found}, expected {expected}"))
    }
}

/// Names the type of what a visitor did not expect, with an article.
fn unexpected_type<'a>(unexpected: &Unexpected<'a>) -> &'a str {
    match *unexpected {
        Unexpected::Bool(_) => "a bool",
        Unexpected::Unsigned(_) | Unexpected::Signed(_) => "an integer",
        Unexpected::Float(_) => "a float",
        Unexpected::Char(_) => "a character",
        Unexpected::Str(_) => "a string",
        Unexpected::Bytes(_) => "bytes",
        Unexpected::Unit => "null",
        Unexpected::Option => "an optional value",
        Unexpected::NewtypeStruct => "a newtype struct",
        Unexpected::Seq => "a list",
        Unexpected::Map => "a dict",
        Unexpected::Enum => "an enum",
        Unexpected::UnitVariant => "a unit variant",
        Unexpected::NewtypeVariant => "a newtype variant",
        Unexpected::TupleVariant => "a tuple variant",
        Unexpected::StructVariant => "a struct variant",
        Unexpected::Other(other) => other,
    }
}
