//! [`to_value`]: a `Serializer` that builds a [`Value`].

use serde::ser::{self, Impossible, Serialize, Serializer};

use super::{Dict, Value, ValueError};

/// Converts any `Serialize` type into a [`Value`], directly.
///
/// The shapes are those `serde_json` would produce, plus binary:
///
/// * structs and maps become [`Value::Dict`]; map keys that are integers,
///   bools or chars become their text (`1` → `"1"`), other keys are an error;
/// * sequences, tuples and tuple structs become [`Value::List`];
/// * `()`, unit structs and `None` become [`Value::Null`]; `Some(x)` is `x`;
///   newtype structs are their content;
/// * enums are externally tagged: a unit variant is its name as a string,
///   other variants a one-entry dict `{name: content}`;
/// * `serialize_bytes` (e.g. `serde_bytes`) gives [`Value::Bytes`] — but note
///   that a plain `Vec<u8>` serializes as a sequence, hence a list of integers;
/// * `char` becomes a string, `f32` a float; `u128` above `i128::MAX` is an
///   error.
///
/// ```
/// use izaber_wamp::protocol::{Value, to_value};
///
/// #[derive(serde::Serialize)]
/// enum Shape {
///     Empty,
///     Circle { radius: f64 },
/// }
///
/// assert_eq!(to_value(&Shape::Empty).unwrap(), "Empty");
/// let circle = to_value(&Shape::Circle { radius: 2.0 }).unwrap();
/// assert_eq!(circle["Circle"]["radius"], 2.0);
/// assert_eq!(to_value(&(1, "two", None::<u8>)).unwrap().to_string(), r#"[1,"two",null]"#);
/// ```
///
/// # Errors
///
/// A [`ValueError`] for what WAMP values cannot hold: map keys other than strings,
/// integers, bools and chars, integers above `i128::MAX`, or a `Serialize` implementation that
/// fails.
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, ValueError> {
    value.serialize(ValueSerializer)
}

/// The `Serializer` behind [`to_value`].
struct ValueSerializer;

impl Serializer for ValueSerializer {
    type Ok = Value;
    type Error = ValueError;
    type SerializeSeq = SerializeList;
    type SerializeTuple = SerializeList;
    type SerializeTupleStruct = SerializeList;
    type SerializeTupleVariant = SerializeTupleVariant;
    type SerializeMap = SerializeDict;
    type SerializeStruct = SerializeDict;
    type SerializeStructVariant = SerializeStructVariant;

    fn serialize_bool(self, v: bool) -> Result<Value, ValueError> {
        Ok(Value::Bool(v))
    }

    fn serialize_i8(self, v: i8) -> Result<Value, ValueError> {
        Ok(v.into())
    }

    fn serialize_i16(self, v: i16) -> Result<Value, ValueError> {
        Ok(v.into())
    }

    fn serialize_i32(self, v: i32) -> Result<Value, ValueError> {
        Ok(v.into())
    }

    fn serialize_i64(self, v: i64) -> Result<Value, ValueError> {
        Ok(v.into())
    }

    fn serialize_i128(self, v: i128) -> Result<Value, ValueError> {
        Ok(v.into())
    }

    fn serialize_u8(self, v: u8) -> Result<Value, ValueError> {
        Ok(v.into())
    }

    fn serialize_u16(self, v: u16) -> Result<Value, ValueError> {
        Ok(v.into())
    }

    fn serialize_u32(self, v: u32) -> Result<Value, ValueError> {
        Ok(v.into())
    }

    fn serialize_u64(self, v: u64) -> Result<Value, ValueError> {
        Ok(v.into())
    }

    fn serialize_u128(self, v: u128) -> Result<Value, ValueError> {
        Value::try_from(v)
    }

    fn serialize_f32(self, v: f32) -> Result<Value, ValueError> {
        Ok(v.into())
    }

    fn serialize_f64(self, v: f64) -> Result<Value, ValueError> {
        Ok(v.into())
    }

    fn serialize_char(self, v: char) -> Result<Value, ValueError> {
        Ok(Value::String(v.to_string()))
    }

    fn serialize_str(self, v: &str) -> Result<Value, ValueError> {
        Ok(v.into())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<Value, ValueError> {
        Ok(Value::Bytes(v.to_vec()))
    }

    fn serialize_none(self) -> Result<Value, ValueError> {
        Ok(Value::Null)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, ValueError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<Value, ValueError> {
        Ok(Value::Null)
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, ValueError> {
        Ok(Value::Null)
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, ValueError> {
        Ok(variant.into())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Value, ValueError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, ValueError> {
        Ok(tagged(variant, to_value(value)?))
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<SerializeList, ValueError> {
        Ok(SerializeList(Vec::with_capacity(len.unwrap_or(0))))
    }

    fn serialize_tuple(self, len: usize) -> Result<SerializeList, ValueError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SerializeList, ValueError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SerializeTupleVariant, ValueError> {
        Ok(SerializeTupleVariant {
            variant,
            list: Vec::with_capacity(len),
        })
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<SerializeDict, ValueError> {
        Ok(SerializeDict {
            dict: Dict::new(),
            key: None,
        })
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SerializeDict, ValueError> {
        self.serialize_map(Some(len))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<SerializeStructVariant, ValueError> {
        Ok(SerializeStructVariant {
            variant,
            dict: Dict::new(),
        })
    }
}

/// `{variant: content}`, the externally tagged form of an enum variant.
fn tagged(variant: &str, content: Value) -> Value {
    Value::Dict(Dict::from([(variant.to_owned(), content)]))
}

/// Collects a sequence, tuple or tuple struct for [`to_value`].
struct SerializeList(Vec<Value>);

impl ser::SerializeSeq for SerializeList {
    type Ok = Value;
    type Error = ValueError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        self.0.push(to_value(value)?);
        Ok(())
    }

    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::List(self.0))
    }
}

impl ser::SerializeTuple for SerializeList {
    type Ok = Value;
    type Error = ValueError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<Value, ValueError> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for SerializeList {
    type Ok = Value;
    type Error = ValueError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<Value, ValueError> {
        ser::SerializeSeq::end(self)
    }
}

/// Collects a tuple variant for [`to_value`].
struct SerializeTupleVariant {
    variant: &'static str,
    list: Vec<Value>,
}

impl ser::SerializeTupleVariant for SerializeTupleVariant {
    type Ok = Value;
    type Error = ValueError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        self.list.push(to_value(value)?);
        Ok(())
    }

    fn end(self) -> Result<Value, ValueError> {
        Ok(tagged(self.variant, Value::List(self.list)))
    }
}

/// Collects a map or struct for [`to_value`].
struct SerializeDict {
    dict: Dict,
    /// The key given to `serialize_key`, waiting for its value.
    key: Option<String>,
}

impl ser::SerializeMap for SerializeDict {
    type Ok = Value;
    type Error = ValueError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), ValueError> {
        self.key = Some(key.serialize(KeySerializer)?);
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        let key = self
            .key
            .take()
            .ok_or_else(|| ValueError::new("serialize_value called before serialize_key"))?;
        self.dict.insert(key, to_value(value)?);
        Ok(())
    }

    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::Dict(self.dict))
    }
}

impl ser::SerializeStruct for SerializeDict {
    type Ok = Value;
    type Error = ValueError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), ValueError> {
        self.dict.insert(key.to_owned(), to_value(value)?);
        Ok(())
    }

    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::Dict(self.dict))
    }
}

/// Collects a struct variant for [`to_value`].
struct SerializeStructVariant {
    variant: &'static str,
    dict: Dict,
}

impl ser::SerializeStructVariant for SerializeStructVariant {
    type Ok = Value;
    type Error = ValueError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), ValueError> {
        self.dict.insert(key.to_owned(), to_value(value)?);
        Ok(())
    }

    fn end(self) -> Result<Value, ValueError> {
        Ok(tagged(self.variant, Value::Dict(self.dict)))
    }
}

/// Turns a map key into the `String` a [`Dict`] needs.
struct KeySerializer;

impl KeySerializer {
    fn unsupported(found: &str) -> ValueError {
        ValueError::new(format!(
            "expected a dict key (a string, an integer, a bool or a char), found {found}"
        ))
    }
}

impl Serializer for KeySerializer {
    type Ok = String;
    type Error = ValueError;
    type SerializeSeq = Impossible<String, ValueError>;
    type SerializeTuple = Impossible<String, ValueError>;
    type SerializeTupleStruct = Impossible<String, ValueError>;
    type SerializeTupleVariant = Impossible<String, ValueError>;
    type SerializeMap = Impossible<String, ValueError>;
    type SerializeStruct = Impossible<String, ValueError>;
    type SerializeStructVariant = Impossible<String, ValueError>;

    fn serialize_bool(self, v: bool) -> Result<String, ValueError> {
        Ok(v.to_string())
    }

    fn serialize_i8(self, v: i8) -> Result<String, ValueError> {
        Ok(v.to_string())
    }

    fn serialize_i16(self, v: i16) -> Result<String, ValueError> {
        Ok(v.to_string())
    }

    fn serialize_i32(self, v: i32) -> Result<String, ValueError> {
        Ok(v.to_string())
    }

    fn serialize_i64(self, v: i64) -> Result<String, ValueError> {
        Ok(v.to_string())
    }

    fn serialize_i128(self, v: i128) -> Result<String, ValueError> {
        Ok(v.to_string())
    }

    fn serialize_u8(self, v: u8) -> Result<String, ValueError> {
        Ok(v.to_string())
    }

    fn serialize_u16(self, v: u16) -> Result<String, ValueError> {
        Ok(v.to_string())
    }

    fn serialize_u32(self, v: u32) -> Result<String, ValueError> {
        Ok(v.to_string())
    }

    fn serialize_u64(self, v: u64) -> Result<String, ValueError> {
        Ok(v.to_string())
    }

    fn serialize_u128(self, v: u128) -> Result<String, ValueError> {
        Ok(v.to_string())
    }

    fn serialize_f32(self, _v: f32) -> Result<String, ValueError> {
        Err(Self::unsupported("a float"))
    }

    fn serialize_f64(self, _v: f64) -> Result<String, ValueError> {
        Err(Self::unsupported("a float"))
    }

    fn serialize_char(self, v: char) -> Result<String, ValueError> {
        Ok(v.to_string())
    }

    fn serialize_str(self, v: &str) -> Result<String, ValueError> {
        Ok(v.to_owned())
    }

    fn serialize_bytes(self, _v: &[u8]) -> Result<String, ValueError> {
        Err(Self::unsupported("bytes"))
    }

    fn serialize_none(self) -> Result<String, ValueError> {
        Err(Self::unsupported("null"))
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<String, ValueError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<String, ValueError> {
        Err(Self::unsupported("null"))
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<String, ValueError> {
        Err(Self::unsupported("null"))
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<String, ValueError> {
        Ok(variant.to_owned())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<String, ValueError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<String, ValueError> {
        Err(Self::unsupported("an enum variant with content"))
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, ValueError> {
        Err(Self::unsupported("a list"))
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, ValueError> {
        Err(Self::unsupported("a list"))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, ValueError> {
        Err(Self::unsupported("a list"))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, ValueError> {
        Err(Self::unsupported("an enum variant with content"))
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, ValueError> {
        Err(Self::unsupported("a dict"))
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, ValueError> {
        Err(Self::unsupported("a dict"))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, ValueError> {
        Err(Self::unsupported("an enum variant with content"))
    }
}
