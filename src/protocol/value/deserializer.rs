//! [`from_value`]: [`Value`] as a `Deserializer`.

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, Expected, IntoDeserializer,
    MapAccess, SeqAccess, VariantAccess, Visitor,
};
use serde::forward_to_deserialize_any;

use super::{Dict, Value, ValueError};

/// Converts a [`Value`] into any `Deserialize` type, consuming it (strings,
/// bytes and lists are moved out, not copied).
///
/// What it accepts, beyond the obvious:
///
/// * `Option<T>`: [`Value::Null`] is `None`, anything else `Some`;
/// * structs: a dict, or a list of the fields in order (how MessagePack peers
///   often send structs);
/// * enums: a string for a unit variant, or a one-entry dict
///   `{variant: content}`;
/// * bytes (`deserialize_bytes`, e.g. `serde_bytes`): [`Value::Bytes`], or a
///   list of integers 0–255; and a `Vec<u8>` (which asks for a sequence) also
///   accepts [`Value::Bytes`];
/// * floats accept integers; integers are range-checked for the target type;
/// * maps with integer or bool keys parse them from the dict's string keys.
///
/// A list with more items than a tuple or struct takes is an error, as is a
/// dict with more entries than a visitor consumes.
///
/// ```
/// use izaber_wamp::protocol::{Value, from_value};
///
/// let v: Value = serde_json::from_str(r#"[1, "two", null]"#).unwrap();
/// let (a, b, c): (u8, String, Option<bool>) = from_value(v).unwrap();
/// assert_eq!((a, b.as_str(), c), (1, "two", None));
///
/// let err = from_value::<String>(Value::from(5)).unwrap_err();
/// assert_eq!(err.to_string(), "expected a string, found an integer");
///
/// let err = from_value::<u8>(Value::from(300)).unwrap_err();
/// assert_eq!(err.to_string(), "integer 300 is out of range for u8");
/// ```
///
/// # Errors
///
/// A [`ValueError`] naming the expected and found types, or the out-of-range number.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, ValueError> {
    T::deserialize(value)
}

impl IntoDeserializer<'_, ValueError> for Value {
    type Deserializer = Value;

    fn into_deserializer(self) -> Value {
        self
    }
}

/// Visits an integer as `u64`, `i64` or, beyond those, `i128`.
fn visit_integer<'de, V: Visitor<'de>>(i: i128, visitor: V) -> Result<V::Value, ValueError> {
    if let Ok(u) = u64::try_from(i) {
        visitor.visit_u64(u)
    } else if let Ok(i) = i64::try_from(i) {
        visitor.visit_i64(i)
    } else {
        visitor.visit_i128(i)
    }
}

/// Hands a list to a visitor, checking that it consumed every item.
fn visit_list<'de, V: Visitor<'de>>(list: Vec<Value>, visitor: V) -> Result<V::Value, ValueError> {
    let len = list.len();
    let mut seq = ListAccess(list.into_iter());
    let result = visitor.visit_seq(&mut seq)?;
    match seq.0.len() {
        0 => Ok(result),
        _ => Err(de::Error::invalid_length(len, &"fewer items in the list")),
    }
}

/// Hands bytes to a visitor as a sequence of `u8`, for `Vec<u8>` and arrays.
fn visit_bytes_as_seq<'de, V: Visitor<'de>>(
    bytes: Vec<u8>,
    visitor: V,
) -> Result<V::Value, ValueError> {
    let len = bytes.len();
    let mut seq = BytesAccess(bytes.into_iter());
    let result = visitor.visit_seq(&mut seq)?;
    match seq.0.len() {
        0 => Ok(result),
        _ => Err(de::Error::invalid_length(len, &"fewer bytes")),
    }
}

/// Hands a dict to a visitor, checking that it consumed every entry.
fn visit_dict<'de, V: Visitor<'de>>(dict: Dict, visitor: V) -> Result<V::Value, ValueError> {
    let len = dict.len();
    let mut map = DictAccess {
        iter: dict.into_iter(),
        value: None,
    };
    let result = visitor.visit_map(&mut map)?;
    match map.iter.len() {
        0 => Ok(result),
        _ => Err(de::Error::invalid_length(len, &"fewer entries in the dict")),
    }
}

/// Turns a list of small integers into bytes.
fn list_to_bytes(list: Vec<Value>) -> Result<Vec<u8>, ValueError> {
    list.into_iter()
        .map(|item| match item {
            Value::Integer(i) => u8::try_from(i).map_err(|_| ValueError::out_of_range(i, "a byte")),
            other => Err(ValueError::wrong_type(&other, &"a byte (an integer 0-255)")),
        })
        .collect()
}

/// Deserializes one of the integer types with a range check.
macro_rules! deserialize_integer {
    ($($method:ident => $visit:ident : $t:ty),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
            match self {
                Value::Integer(i) => {
                    let v = <$t>::try_from(i)
                        .map_err(|_| ValueError::out_of_range(i, stringify!($t)))?;
                    visitor.$visit(v)
                }
                other => Err(ValueError::wrong_type(
                    &other,
                    &concat!("an integer (", stringify!($t), ")"),
                )),
            }
        }
    )*};
}

impl<'de> Deserializer<'de> for Value {
    type Error = ValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Integer(i) => visit_integer(i, visitor),
            Value::Float(f) => visitor.visit_f64(f),
            Value::String(s) => visitor.visit_string(s),
            Value::Bytes(b) => visitor.visit_byte_buf(b),
            Value::List(list) => visit_list(list, visitor),
            Value::Dict(dict) => visit_dict(dict, visitor),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Bool(b) => visitor.visit_bool(b),
            other => Err(ValueError::wrong_type(&other, &visitor)),
        }
    }

    deserialize_integer! {
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
        deserialize_i128 => visit_i128: i128,
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
        deserialize_u128 => visit_u128: u128,
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Float(f) => visitor.visit_f64(f),
            Value::Integer(i) => visitor.visit_f64(i as f64),
            other => Err(ValueError::wrong_type(&other, &visitor)),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::String(s) => visitor.visit_string(s),
            other => Err(ValueError::wrong_type(&other, &visitor)),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_byte_buf(visitor)
    }

    /// Accepts bytes, a list of integers 0–255, and (as `serde_json` does) a
    /// string, leaving it to the visitor whether it takes text.
    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Bytes(b) => visitor.visit_byte_buf(b),
            Value::List(list) => visitor.visit_byte_buf(list_to_bytes(list)?),
            Value::String(s) => visitor.visit_string(s),
            other => Err(ValueError::wrong_type(&other, &visitor)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Null => visitor.visit_none(),
            other => visitor.visit_some(other),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Null => visitor.visit_unit(),
            other => Err(ValueError::wrong_type(&other, &visitor)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::List(list) => visit_list(list, visitor),
            Value::Bytes(bytes) => visit_bytes_as_seq(bytes, visitor),
            other => Err(ValueError::wrong_type(&other, &visitor)),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Dict(dict) => visit_dict(dict, visitor),
            other => Err(ValueError::wrong_type(&other, &visitor)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self {
            Value::Dict(dict) => visit_dict(dict, visitor),
            Value::List(list) => visit_list(list, visitor),
            other => Err(ValueError::wrong_type(&other, &visitor)),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self {
            Value::String(variant) => visitor.visit_enum(EnumDeserializer {
                variant,
                content: None,
            }),
            Value::Dict(dict) => {
                let mut entries = dict.into_iter();
                match (entries.next(), entries.next()) {
                    (Some((variant, content)), None) => visitor.visit_enum(EnumDeserializer {
                        variant,
                        content: Some(content),
                    }),
                    _ => Err(ValueError::new(format!(
                        "expected {}, found a dict without exactly one entry",
                        &visitor as &dyn Expected
                    ))),
                }
            }
            other => Err(ValueError::wrong_type(&other, &visitor)),
        }
    }

    /// A string, or an integer (serde's derived code accepts a field's or a
    /// variant's index).
    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::String(s) => visitor.visit_string(s),
            Value::Integer(i) => visit_integer(i, visitor),
            other => Err(ValueError::wrong_type(&other, &visitor)),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        drop(self);
        visitor.visit_unit()
    }
}

/// The items of a list, for `visit_seq`.
struct ListAccess(std::vec::IntoIter<Value>);

impl<'de> SeqAccess<'de> for ListAccess {
    type Error = ValueError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ValueError> {
        self.0.next().map(|item| seed.deserialize(item)).transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

/// The bytes of a [`Value::Bytes`], for `visit_seq`.
struct BytesAccess(std::vec::IntoIter<u8>);

impl<'de> SeqAccess<'de> for BytesAccess {
    type Error = ValueError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ValueError> {
        self.0
            .next()
            .map(|byte| seed.deserialize(byte.into_deserializer()))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

/// The entries of a dict, for `visit_map`.
struct DictAccess {
    iter: std::collections::btree_map::IntoIter<String, Value>,
    /// The value of the key last returned, until it is asked for.
    value: Option<Value>,
}

impl<'de> MapAccess<'de> for DictAccess {
    type Error = ValueError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ValueError> {
        match self.iter.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(KeyDeserializer(key)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ValueError> {
        let value = self
            .value
            .take()
            .ok_or_else(|| ValueError::new("a dict value was asked for before its key"))?;
        seed.deserialize(value)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// A dict key, for `visit_map`: a string that can also be read as an integer
/// or a bool (undoing what happens to such keys on the way in), an enum unit
/// variant, or an identifier.
struct KeyDeserializer(String);

macro_rules! deserialize_parsed_key {
    ($($method:ident => $visit:ident : $t:ty),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
            match self.0.parse::<$t>() {
                Ok(v) => visitor.$visit(v),
                Err(_) => Err(ValueError::new(concat!(
                    "expected a dict key that reads as ",
                    stringify!($t),
                    ", found another string"
                ))),
            }
        }
    )*};
}

impl<'de> Deserializer<'de> for KeyDeserializer {
    type Error = ValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        visitor.visit_string(self.0)
    }

    deserialize_parsed_key! {
        deserialize_bool => visit_bool: bool,
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
        deserialize_i128 => visit_i128: i128,
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
        deserialize_u128 => visit_u128: u128,
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        visitor.visit_enum(EnumDeserializer {
            variant: self.0,
            content: None,
        })
    }

    forward_to_deserialize_any! {
        f32 f64 char str string bytes byte_buf unit unit_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

/// An externally tagged enum variant: its name, and its content unless it is
/// a unit variant given as a plain string.
struct EnumDeserializer {
    variant: String,
    content: Option<Value>,
}

impl<'de> EnumAccess<'de> for EnumDeserializer {
    type Error = ValueError;
    type Variant = VariantDeserializer;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, VariantDeserializer), ValueError> {
        let variant = seed.deserialize(KeyDeserializer(self.variant))?;
        Ok((variant, VariantDeserializer(self.content)))
    }
}

/// The content of an enum variant.
struct VariantDeserializer(Option<Value>);

impl<'de> VariantAccess<'de> for VariantDeserializer {
    type Error = ValueError;

    /// A plain string, or (as `serde_json` accepts) `{variant: null}`.
    fn unit_variant(self) -> Result<(), ValueError> {
        match self.0 {
            None | Some(Value::Null) => Ok(()),
            Some(other) => Err(ValueError::wrong_type(&other, &"null (a unit variant)")),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, ValueError> {
        match self.0 {
            Some(content) => seed.deserialize(content),
            None => Err(ValueError::new(
                "expected a dict {variant: content} for a newtype variant, found a string",
            )),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self.0 {
            Some(Value::List(list)) => visit_list(list, visitor),
            Some(other) => Err(ValueError::wrong_type(&other, &visitor)),
            None => Err(ValueError::new(
                "expected a dict {variant: [items]} for a tuple variant, found a string",
            )),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self.0 {
            Some(Value::Dict(dict)) => visit_dict(dict, visitor),
            Some(Value::List(list)) => visit_list(list, visitor),
            Some(other) => Err(ValueError::wrong_type(&other, &visitor)),
            None => Err(ValueError::new(
                "expected a dict {variant: {fields}} for a struct variant, found a string",
            )),
        }
    }
}
