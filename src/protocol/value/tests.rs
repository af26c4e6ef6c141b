use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::de::{Deserializer, IntoDeserializer, Visitor};
use serde::ser::{self, Serializer};
use serde::{Deserialize, Serialize};

use super::*;
use crate::protocol::json_binary::{JsonCompat, restore_json_binary};

fn dict<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Dict(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

fn list<const N: usize>(items: [Value; N]) -> Value {
    Value::List(items.into())
}

/// One of every variant, nested.
fn sample() -> Value {
    dict([
        ("null", Value::Null),
        ("true", Value::Bool(true)),
        ("false", Value::Bool(false)),
        ("int", Value::Integer(42)),
        ("negative", Value::Integer(-17)),
        ("min", Value::Integer(i64::MIN.into())),
        ("max_u64", Value::Integer(u64::MAX.into())),
        ("float", Value::Float(-2.5e-3)),
        ("string", Value::from("héllo \"wörld\"\n")),
        ("empty", Value::from("")),
        ("bytes", Value::Bytes(vec![0, 1, 2, 0x7f, 0x80, 0xff])),
        (
            "list",
            list([
                Value::Integer(1),
                list([Value::from("nested"), Value::Null]),
                dict([("deep", dict([("deeper", Value::Bytes(b"x".to_vec()))]))]),
            ]),
        ),
        ("empty_list", list([])),
        ("empty_dict", dict([])),
    ])
}

/// The sample without bytes, which plain JSON cannot carry.
fn sample_without_bytes() -> Value {
    let mut value = sample();
    let dict = value.as_dict_mut().unwrap();
    dict.remove("bytes");
    dict.insert("list".into(), list([Value::Integer(1), Value::from("x")]));
    value
}

fn msgpack_round_trip(value: &Value) -> Value {
    let bytes = rmp_serde::to_vec(value).unwrap();
    rmp_serde::from_slice(&bytes).unwrap()
}

fn cbor_encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut bytes = Vec::new();
    ciborium::into_writer(value, &mut bytes).unwrap();
    bytes
}

fn cbor_round_trip(value: &Value) -> Value {
    ciborium::from_reader(&cbor_encode(value)[..]).unwrap()
}

fn json_round_trip(value: &Value) -> Value {
    let text = serde_json::to_string(&JsonCompat(value)).unwrap();
    let mut back: Value = serde_json::from_str(&text).unwrap();
    restore_json_binary(&mut back);
    back
}

// --- round trips through the three formats -----------------------------

#[test]
fn round_trips_through_msgpack() {
    assert_eq!(msgpack_round_trip(&sample()), sample());
}

#[test]
fn round_trips_through_cbor() {
    assert_eq!(cbor_round_trip(&sample()), sample());
}

#[test]
fn round_trips_through_json_with_binary_convention() {
    assert_eq!(json_round_trip(&sample()), sample());
}

#[test]
fn round_trips_through_plain_json_without_bytes() {
    let value = sample_without_bytes();
    let text = serde_json::to_string(&value).unwrap();
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), value);
}

#[test]
fn every_variant_alone_round_trips() {
    let values = [
        Value::Null,
        Value::Bool(false),
        Value::Integer(0),
        Value::Integer(-1),
        Value::Float(0.1),
        Value::Float(f64::MAX),
        Value::from("s"),
        Value::Bytes(vec![]),
        Value::Bytes(vec![9; 300]),
        list([Value::Null]),
        dict([("k", Value::Null)]),
    ];
    for value in values {
        assert_eq!(msgpack_round_trip(&value), value, "msgpack");
        assert_eq!(cbor_round_trip(&value), value, "cbor");
        assert_eq!(json_round_trip(&value), value, "json");
    }
}

#[test]
fn integer_extremes_round_trip() {
    for i in [i64::MIN.into(), i64::MAX.into(), u64::MAX.into(), -1, 0i128] {
        let value = Value::Integer(i);
        assert_eq!(msgpack_round_trip(&value), value, "msgpack {i}");
        assert_eq!(cbor_round_trip(&value), value, "cbor {i}");
        assert_eq!(json_round_trip(&value), value, "json {i}");
    }
}

#[test]
fn integers_use_the_narrowest_encoding() {
    // MessagePack: u64::MAX is 0xcf + 8 bytes, i64::MIN is 0xd3 + 8 bytes,
    // small numbers are fixints.
    let max = rmp_serde::to_vec(&Value::Integer(u64::MAX.into())).unwrap();
    assert_eq!(max, [0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    let min = rmp_serde::to_vec(&Value::Integer(i64::MIN.into())).unwrap();
    assert_eq!(min, [0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(rmp_serde::to_vec(&Value::Integer(5)).unwrap(), [0x05]);
    assert_eq!(rmp_serde::to_vec(&Value::Integer(-5)).unwrap(), [0xfb]);
    // JSON writes the plain numbers.
    assert_eq!(
        serde_json::to_string(&list([
            Value::Integer(u64::MAX.into()),
            Value::Integer(i64::MIN.into())
        ]))
        .unwrap(),
        "[18446744073709551615,-9223372036854775808]"
    );
}

#[test]
fn big_integers_travel_as_cbor_bignums() {
    let big = i128::from(u64::MAX) + 1; // 2**64
    let encoded = cbor_encode(&Value::Integer(big));
    // What Python's cbor2.dumps(2**64) produces: tag 2, 9 bytes.
    assert_eq!(encoded, [0xc2, 0x49, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(
        ciborium::from_reader::<Value, _>(&encoded[..]).unwrap(),
        Value::Integer(big)
    );

    let negative = -i128::from(u64::MAX) - 2; // -(2**64) - 1
    let encoded = cbor_encode(&Value::Integer(negative));
    assert_eq!(encoded, [0xc3, 0x49, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(
        cbor_round_trip(&Value::Integer(negative)),
        Value::Integer(negative)
    );

    for i in [i128::MAX, i128::MIN] {
        assert_eq!(cbor_round_trip(&Value::Integer(i)), Value::Integer(i));
    }
    // JSON can write them too (reading them back gives a float).
    assert_eq!(
        serde_json::to_string(&Value::Integer(big)).unwrap(),
        "18446744073709551616"
    );
}

#[test]
fn u128_beyond_i128_is_an_error() {
    let encoded = cbor_encode(&u128::MAX);
    let err = ciborium::from_reader::<Value, _>(&encoded[..]).unwrap_err();
    assert!(err.to_string().contains("too large"), "{err}");
    assert_eq!(
        Value::try_from(u128::MAX).unwrap_err().message(),
        "integer 340282366920938463463374607431768211455 is too large (the limit is i128::MAX)"
    );
    assert!(to_value(&u128::MAX).is_err());
    assert_eq!(
        to_value(&(u128::MAX >> 1)).unwrap(),
        Value::Integer(i128::MAX)
    );
}

#[test]
fn bytes_are_native_binary_in_msgpack_and_cbor() {
    let value = Value::Bytes(vec![1, 2, 3]);
    assert_eq!(rmp_serde::to_vec(&value).unwrap(), [0xc4, 3, 1, 2, 3]);
    assert_eq!(cbor_encode(&value), [0x43, 1, 2, 3]);
    // Plain serde_json has no binary: an array of numbers.
    assert_eq!(serde_json::to_string(&value).unwrap(), "[1,2,3]");
    assert_eq!(
        serde_json::to_string(&JsonCompat(&value)).unwrap(),
        r#""\u0000AQID""#
    );
}

#[test]
fn reads_msgpack_as_python_writes_it() {
    // msgpack.packb({1: "a", "k": b"\x00\x01", -2: [None, True, 1.5]})
    let encoded = [
        0x83, 0x01, 0xa1, b'a', 0xa1, b'k', 0xc4, 0x02, 0x00, 0x01, 0xfe, 0x93, 0xc0, 0xc3, 0xcb,
        0x3f, 0xf8, 0, 0, 0, 0, 0, 0,
    ];
    let value: Value = rmp_serde::from_slice(&encoded).unwrap();
    assert_eq!(
        value,
        dict([
            ("1", Value::from("a")),
            ("k", Value::Bytes(vec![0, 1])),
            (
                "-2",
                list([Value::Null, Value::Bool(true), Value::Float(1.5)])
            ),
        ])
    );
}

#[test]
fn reads_cbor_as_python_writes_it() {
    // cbor2.dumps({1: "a", True: b"\x07", "s": 18446744073709551615})
    let mut encoded = vec![0xa3, 0x01, 0x61, b'a', 0xf5, 0x41, 0x07, 0x61, b's', 0x1b];
    encoded.extend([0xff; 8]);
    let value: Value = ciborium::from_reader(&encoded[..]).unwrap();
    assert_eq!(
        value,
        dict([
            ("1", Value::from("a")),
            ("true", Value::Bytes(vec![7])),
            ("s", Value::Integer(u64::MAX.into())),
        ])
    );
}

#[test]
fn integer_and_bool_keys_become_strings() {
    let ints: BTreeMap<i64, &str> = [(-3, "minus"), (7, "seven")].into();
    let expected = dict([("-3", Value::from("minus")), ("7", Value::from("seven"))]);
    let msgpack = rmp_serde::to_vec(&ints).unwrap();
    assert_eq!(rmp_serde::from_slice::<Value>(&msgpack).unwrap(), expected);
    assert_eq!(
        ciborium::from_reader::<Value, _>(&cbor_encode(&ints)[..]).unwrap(),
        expected
    );

    let bools: BTreeMap<bool, u8> = [(false, 0), (true, 1)].into();
    let expected = dict([("false", Value::Integer(0)), ("true", Value::Integer(1))]);
    assert_eq!(
        ciborium::from_reader::<Value, _>(&cbor_encode(&bools)[..]).unwrap(),
        expected
    );

    // And from_value parses them back.
    let back: BTreeMap<i64, String> =
        from_value(ciborium::from_reader::<Value, _>(&cbor_encode(&ints)[..]).unwrap()).unwrap();
    assert_eq!(
        back,
        BTreeMap::from([(-3, "minus".into()), (7, "seven".into())])
    );
}

#[test]
fn other_key_types_are_an_error() {
    // {b"k": 1} in CBOR: a byte-string key.
    let encoded = [0xa1, 0x41, b'k', 0x01];
    let err = ciborium::from_reader::<Value, _>(&encoded[..]).unwrap_err();
    assert!(err.to_string().contains("dict key"), "{err}");
    // {1.5: 1} in MessagePack: a float key.
    let encoded = [0x81, 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0x01];
    let err = rmp_serde::from_slice::<Value>(&encoded).unwrap_err();
    assert!(err.to_string().contains("dict key"), "{err}");
}

#[test]
fn cbor_tags_are_dropped() {
    // Tag 1 (epoch date-time) around an integer, as cbor2 writes datetimes.
    let encoded = [0xc1, 0x1a, 0x65, 0x53, 0xf1, 0x00];
    let value: Value = ciborium::from_reader(&encoded[..]).unwrap();
    assert_eq!(value, Value::Integer(0x6553_f100));
}

#[test]
fn msgpack_cannot_hold_integers_beyond_64_bits() {
    // rmp-serde writes an i128 as 16 bytes of binary; this documents it.
    let big = i128::from(u64::MAX) + 1;
    assert_eq!(
        msgpack_round_trip(&Value::Integer(big)),
        Value::Bytes(big.to_be_bytes().to_vec())
    );
}

#[test]
fn reads_json_numbers() {
    let value: Value = serde_json::from_str("[1, -1, 1.0, 1e2, 18446744073709551615]").unwrap();
    assert_eq!(
        value,
        list([
            Value::Integer(1),
            Value::Integer(-1),
            Value::Float(1.0),
            Value::Float(100.0),
            Value::Integer(u64::MAX.into()),
        ])
    );
}

// --- to_value / from_value --------------------------------------------

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Record {
    id: u64,
    name: String,
    score: f32,
    tags: Vec<String>,
    raw: Vec<u8>,
    maybe: Option<i32>,
    missing: Option<i32>,
    pair: (u8, String),
    inner: Inner,
    kind: Kind,
    counts: BTreeMap<u16, bool>,
    letter: char,
    unit: (),
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Inner {
    flag: bool,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
enum Kind {
    Unit,
    Newtype(i32),
    Tuple(u8, String),
    Struct { x: i16, y: Option<String> },
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Meters(f64);

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Marker;

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Point(i32, i32);

fn record() -> Record {
    Record {
        id: u64::MAX,
        name: "sensor".into(),
        score: 0.5,
        tags: vec!["a".into(), "b".into()],
        raw: vec![0, 255],
        maybe: Some(-4),
        missing: None,
        pair: (7, "seven".into()),
        inner: Inner { flag: true },
        kind: Kind::Struct {
            x: -1,
            y: Some("why".into()),
        },
        counts: [(1, true), (65535, false)].into(),
        letter: 'λ',
        unit: (),
    }
}

#[test]
fn to_value_builds_the_expected_shape() {
    let value = to_value(&record()).unwrap();
    let expected = dict([
        ("id", Value::Integer(u64::MAX.into())),
        ("name", Value::from("sensor")),
        ("score", Value::Float(0.5)),
        ("tags", list([Value::from("a"), Value::from("b")])),
        ("raw", list([Value::Integer(0), Value::Integer(255)])),
        ("maybe", Value::Integer(-4)),
        ("missing", Value::Null),
        ("pair", list([Value::Integer(7), Value::from("seven")])),
        ("inner", dict([("flag", Value::Bool(true))])),
        (
            "kind",
            dict([(
                "Struct",
                dict([("x", Value::Integer(-1)), ("y", Value::from("why"))]),
            )]),
        ),
        (
            "counts",
            dict([("1", Value::Bool(true)), ("65535", Value::Bool(false))]),
        ),
        ("letter", Value::from("λ")),
        ("unit", Value::Null),
    ]);
    assert_eq!(value, expected);
}

#[test]
fn to_value_matches_serde_json() {
    // Same shapes as serde_json, apart from integers beyond i64 which
    // both represent exactly.
    let record = record();
    let via_json = Value::from(serde_json::to_value(&record).unwrap());
    assert_eq!(to_value(&record).unwrap(), via_json);
    for kind in [
        Kind::Unit,
        Kind::Newtype(3),
        Kind::Tuple(1, "x".into()),
        Kind::Struct { x: 2, y: None },
    ] {
        let via_json = Value::from(serde_json::to_value(&kind).unwrap());
        assert_eq!(to_value(&kind).unwrap(), via_json, "{kind:?}");
    }
}

#[test]
fn from_value_reverses_to_value() {
    let record = record();
    assert_eq!(
        from_value::<Record>(to_value(&record).unwrap()).unwrap(),
        record
    );
}

#[test]
fn records_survive_every_format() {
    let value = to_value(&record()).unwrap();
    for back in [
        msgpack_round_trip(&value),
        cbor_round_trip(&value),
        json_round_trip(&value),
    ] {
        assert_eq!(from_value::<Record>(back).unwrap(), record());
    }
}

#[test]
fn structs_also_read_from_lists() {
    // rmp_serde::to_vec writes structs as arrays (compact form), as many
    // MessagePack peers do.
    let inner = Inner { flag: true };
    let value: Value = rmp_serde::from_slice(&rmp_serde::to_vec(&inner).unwrap()).unwrap();
    assert_eq!(value, list([Value::Bool(true)]));
    assert_eq!(from_value::<Inner>(value).unwrap(), inner);
}

#[test]
fn enums_of_every_kind() {
    let cases = [
        (Kind::Unit, Value::from("Unit")),
        (Kind::Newtype(-9), dict([("Newtype", Value::Integer(-9))])),
        (
            Kind::Tuple(3, "t".into()),
            dict([("Tuple", list([Value::Integer(3), Value::from("t")]))]),
        ),
        (
            Kind::Struct { x: 5, y: None },
            dict([(
                "Struct",
                dict([("x", Value::Integer(5)), ("y", Value::Null)]),
            )]),
        ),
    ];
    for (kind, expected) in cases {
        assert_eq!(to_value(&kind).unwrap(), expected, "{kind:?}");
        assert_eq!(from_value::<Kind>(expected).unwrap(), kind);
    }
    // serde_json also accepts {"Unit": null}.
    assert_eq!(
        from_value::<Kind>(dict([("Unit", Value::Null)])).unwrap(),
        Kind::Unit
    );
}

#[test]
fn enum_errors() {
    let err = from_value::<Kind>(Value::from("Nope")).unwrap_err();
    assert_eq!(
        err.message(),
        "unknown variant `Nope`, expected one of `Unit`, `Newtype`, `Tuple`, `Struct`"
    );
    let err = from_value::<Kind>(dict([
        ("Unit", Value::Null),
        ("Newtype", Value::Integer(1)),
    ]))
    .unwrap_err();
    assert_eq!(
        err.message(),
        "expected enum Kind, found a dict without exactly one entry"
    );
    let err = from_value::<Kind>(Value::from("Newtype")).unwrap_err();
    assert!(err.message().contains("newtype variant"), "{err}");
    let err = from_value::<Kind>(Value::Integer(1)).unwrap_err();
    assert_eq!(err.message(), "expected enum Kind, found an integer");
    let err = from_value::<Kind>(dict([("Unit", Value::Integer(1))])).unwrap_err();
    assert_eq!(
        err.message(),
        "expected null (a unit variant), found an integer"
    );
}

#[test]
fn options() {
    assert_eq!(to_value(&None::<u8>).unwrap(), Value::Null);
    assert_eq!(to_value(&Some(3u8)).unwrap(), Value::Integer(3));
    assert_eq!(from_value::<Option<u8>>(Value::Null).unwrap(), None);
    assert_eq!(
        from_value::<Option<u8>>(Value::Integer(3)).unwrap(),
        Some(3)
    );
    assert_eq!(
        from_value::<Option<Option<String>>>(Value::from("x")).unwrap(),
        Some(Some("x".into()))
    );
    assert_eq!(
        from_value::<Vec<Option<bool>>>(list([Value::Null, Value::Bool(false)])).unwrap(),
        vec![None, Some(false)]
    );
}

#[test]
fn tuples_newtypes_and_units() {
    let value = to_value(&(1u8, -2i64, "three", 4.5f64)).unwrap();
    assert_eq!(
        value,
        list([
            Value::Integer(1),
            Value::Integer(-2),
            Value::from("three"),
            Value::Float(4.5)
        ])
    );
    assert_eq!(
        from_value::<(u8, i64, String, f64)>(value).unwrap(),
        (1, -2, "three".into(), 4.5)
    );

    assert_eq!(to_value(&Meters(2.5)).unwrap(), Value::Float(2.5));
    assert_eq!(
        from_value::<Meters>(Value::Float(2.5)).unwrap(),
        Meters(2.5)
    );
    assert_eq!(to_value(&Marker).unwrap(), Value::Null);
    assert_eq!(from_value::<Marker>(Value::Null).unwrap(), Marker);
    assert_eq!(
        to_value(&Point(1, -1)).unwrap(),
        list([Value::Integer(1), Value::Integer(-1)])
    );
    assert_eq!(
        from_value::<Point>(list([Value::Integer(1), Value::Integer(-1)])).unwrap(),
        Point(1, -1)
    );
    assert_eq!(from_value::<()>(Value::Null).unwrap(), ());
}

#[test]
fn list_length_is_checked() {
    let err = from_value::<(u8, u8)>(list([Value::Integer(1)])).unwrap_err();
    assert_eq!(
        err.message(),
        "invalid length 1, expected a tuple of size 2"
    );
    let err = from_value::<(u8, u8)>(list([
        Value::Integer(1),
        Value::Integer(2),
        Value::Integer(3),
    ]))
    .unwrap_err();
    assert_eq!(
        err.message(),
        "invalid length 3, expected fewer items in the list"
    );
}

/// Asks for `deserialize_byte_buf`, like `serde_bytes::ByteBuf`.
#[derive(Debug, PartialEq)]
struct ByteBuf(Vec<u8>);

impl<'de> Deserialize<'de> for ByteBuf {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BufVisitor;
        impl Visitor<'_> for BufVisitor {
            type Value = ByteBuf;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E>(self, b: &[u8]) -> Result<ByteBuf, E> {
                Ok(ByteBuf(b.to_vec()))
            }
            fn visit_byte_buf<E>(self, b: Vec<u8>) -> Result<ByteBuf, E> {
                Ok(ByteBuf(b))
            }
        }
        deserializer.deserialize_byte_buf(BufVisitor)
    }
}

impl Serialize for ByteBuf {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

#[test]
fn bytes_to_and_from_value() {
    // serialize_bytes gives Bytes; a Vec<u8> serializes as a list.
    assert_eq!(
        to_value(&ByteBuf(vec![1, 2])).unwrap(),
        Value::Bytes(vec![1, 2])
    );
    assert_eq!(
        to_value(&vec![1u8, 2]).unwrap(),
        list([Value::Integer(1), Value::Integer(2)])
    );

    // deserialize_byte_buf takes Bytes or a list of small integers.
    assert_eq!(
        from_value::<ByteBuf>(Value::Bytes(vec![3, 4])).unwrap(),
        ByteBuf(vec![3, 4])
    );
    assert_eq!(
        from_value::<ByteBuf>(list([Value::Integer(0), Value::Integer(255)])).unwrap(),
        ByteBuf(vec![0, 255])
    );
    let err = from_value::<ByteBuf>(list([Value::Integer(256)])).unwrap_err();
    assert_eq!(err.message(), "integer 256 is out of range for a byte");
    let err = from_value::<ByteBuf>(list([Value::from("x")])).unwrap_err();
    assert_eq!(
        err.message(),
        "expected a byte (an integer 0-255), found a string"
    );
    let err = from_value::<ByteBuf>(Value::Integer(1)).unwrap_err();
    assert_eq!(err.message(), "expected bytes, found an integer");

    // A Vec<u8> (which asks for a sequence) takes Bytes or a list.
    assert_eq!(
        from_value::<Vec<u8>>(Value::Bytes(vec![5, 6])).unwrap(),
        vec![5, 6]
    );
    assert_eq!(
        from_value::<[u8; 2]>(Value::Bytes(vec![5, 6])).unwrap(),
        [5, 6]
    );
    assert_eq!(
        from_value::<Vec<u8>>(list([Value::Integer(7)])).unwrap(),
        vec![7]
    );
    // And a Value keeps them as bytes.
    assert_eq!(
        from_value::<Value>(Value::Bytes(vec![5])).unwrap(),
        Value::Bytes(vec![5])
    );
}

#[test]
fn integers_are_range_checked() {
    assert_eq!(from_value::<u8>(Value::Integer(255)).unwrap(), 255);
    assert_eq!(from_value::<i8>(Value::Integer(-128)).unwrap(), -128);
    assert_eq!(
        from_value::<i128>(Value::Integer(i128::MIN)).unwrap(),
        i128::MIN
    );
    assert_eq!(
        from_value::<u128>(Value::Integer(i128::MAX)).unwrap(),
        i128::MAX as u128
    );
    assert_eq!(
        from_value::<u64>(Value::Integer(u64::MAX.into())).unwrap(),
        u64::MAX
    );
    let cases: [(Result<(), ValueError>, &str); 5] = [
        (
            from_value::<u8>(Value::Integer(256)).map(drop),
            "integer 256 is out of range for u8",
        ),
        (
            from_value::<u32>(Value::Integer(-1)).map(drop),
            "integer -1 is out of range for u32",
        ),
        (
            from_value::<i64>(Value::Integer(u64::MAX.into())).map(drop),
            "integer 18446744073709551615 is out of range for i64",
        ),
        (
            from_value::<u128>(Value::Integer(-1)).map(drop),
            "integer -1 is out of range for u128",
        ),
        (
            from_value::<u16>(Value::Float(1.0)).map(drop),
            "expected an integer (u16), found a float",
        ),
    ];
    for (result, message) in cases {
        assert_eq!(result.unwrap_err().message(), message);
    }
}

#[test]
fn floats_accept_integers() {
    assert_eq!(from_value::<f64>(Value::Integer(-3)).unwrap(), -3.0);
    assert_eq!(from_value::<f32>(Value::Float(0.25)).unwrap(), 0.25);
    assert_eq!(
        from_value::<f64>(Value::from("1")).unwrap_err().message(),
        "expected f64, found a string"
    );
}

#[test]
fn wrong_type_messages() {
    let cases: [(Result<(), ValueError>, &str); 9] = [
        (
            from_value::<String>(Value::Integer(5)).map(drop),
            "expected a string, found an integer",
        ),
        (
            from_value::<bool>(Value::Null).map(drop),
            "expected a boolean, found null",
        ),
        (
            from_value::<Vec<i32>>(Value::from("no")).map(drop),
            "expected a sequence, found a string",
        ),
        (
            from_value::<HashMap<String, i32>>(list([])).map(drop),
            "expected a map, found a list",
        ),
        (
            from_value::<Inner>(Value::Bool(true)).map(drop),
            "expected struct Inner, found a bool",
        ),
        (
            from_value::<Inner>(dict([])).map(drop),
            "missing field `flag`",
        ),
        (
            from_value::<Inner>(dict([("flag", Value::from("yes"))])).map(drop),
            "expected a boolean, found a string",
        ),
        (
            from_value::<char>(Value::from("ab")).map(drop),
            "invalid value: a string, expected a character",
        ),
        (
            from_value::<()>(Value::Integer(0)).map(drop),
            "expected unit, found an integer",
        ),
    ];
    for (result, message) in cases {
        assert_eq!(result.unwrap_err().message(), message);
    }
}

#[test]
fn error_messages_do_not_quote_strings() {
    // Details can carry secrets; a visitor's own invalid_type must not
    // echo them either.
    let err = from_value::<i32>(Value::from("hunter2")).unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
    let err = from_value::<Vec<u8>>(Value::from("hunter2")).unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
    let err = from_value::<char>(Value::from("hunter2")).unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
    // Numbers are quoted: they help and are rarely secret.
    let err = from_value::<std::num::NonZeroU8>(Value::Integer(0)).unwrap_err();
    assert_eq!(
        err.message(),
        "invalid value: integer `0`, expected a nonzero u8"
    );
}

#[test]
fn map_keys_in_to_value() {
    let map: HashMap<(u8, u8), u8> = [((1, 2), 3)].into();
    assert_eq!(
        to_value(&map).unwrap_err().message(),
        "expected a dict key (a string, an integer, a bool or a char), found a list"
    );
    let keyed: BTreeMap<Kind, u8> = BTreeMap::new();
    assert_eq!(to_value(&keyed).unwrap(), dict([]));
    let by_bool: BTreeMap<bool, u8> = [(true, 1)].into();
    assert_eq!(
        to_value(&by_bool).unwrap(),
        dict([("true", Value::Integer(1))])
    );
    assert_eq!(
        from_value::<BTreeMap<bool, u8>>(dict([("true", Value::Integer(1))])).unwrap(),
        by_bool
    );
    let err = from_value::<BTreeMap<u8, u8>>(dict([("x", Value::Integer(1))])).unwrap_err();
    assert_eq!(
        err.message(),
        "expected a dict key that reads as u8, found another string"
    );
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Color {
    Red,
    Blue,
}

#[test]
fn unit_enum_map_keys() {
    let map: BTreeMap<Color, u8> = [(Color::Red, 1), (Color::Blue, 2)].into();
    let value = to_value(&map).unwrap();
    assert_eq!(
        value,
        dict([("Blue", Value::Integer(2)), ("Red", Value::Integer(1))])
    );
    assert_eq!(from_value::<BTreeMap<Color, u8>>(value).unwrap(), map);
}

#[test]
fn value_through_to_value_and_from_value_is_unchanged() {
    assert_eq!(to_value(&sample()).unwrap(), sample());
    assert_eq!(from_value::<Value>(sample()).unwrap(), sample());
}

#[test]
fn into_deserializer() {
    let de = Value::Integer(3).into_deserializer();
    assert_eq!(u8::deserialize(de).unwrap(), 3);
}

// --- accessors, conversions, comparisons, display ----------------------

#[test]
fn accessors() {
    let v = sample();
    assert!(v["null"].is_null());
    assert!(v["nope"].is_null());
    assert_eq!(v["true"].as_bool(), Some(true));
    assert_eq!(v["int"].as_i64(), Some(42));
    assert_eq!(v["negative"].as_u64(), None);
    assert_eq!(v["max_u64"].as_u64(), Some(u64::MAX));
    assert_eq!(v["max_u64"].as_i64(), None);
    assert_eq!(v["int"].as_f64(), Some(42.0));
    assert_eq!(v["float"].as_f64(), Some(-2.5e-3));
    assert_eq!(v["string"].as_str(), Some("héllo \"wörld\"\n"));
    assert_eq!(
        v["bytes"].as_bytes(),
        Some(&[0, 1, 2, 0x7f, 0x80, 0xff][..])
    );
    assert_eq!(v["list"].as_list().map(<[Value]>::len), Some(3));
    assert_eq!(v["list"][1][0], "nested");
    assert!(v["list"][99].is_null());
    assert!(v["int"][0].is_null());
    assert!(v["int"]["x"].is_null());
    assert_eq!(v["list"][2]["deep"]["deeper"].as_bytes(), Some(&b"x"[..]));
    assert_eq!(v.as_dict().map(Dict::len), Some(14));
    assert_eq!(v.get("int"), Some(&Value::Integer(42)));
    assert_eq!(v.get("nope"), None);
    assert_eq!(v["int"].as_str(), None);
    assert_eq!(v["string"].as_i64(), None);

    let mut v = v;
    *v.get_mut("int").unwrap() = Value::from("changed");
    assert_eq!(v["int"], "changed");
    assert_eq!(
        v.get_mut("string").map(Value::take),
        Some(Value::from("héllo \"wörld\"\n"))
    );
    assert!(v["string"].is_null());
    assert!(v.as_list_mut().is_none());
    let mut l = list([]);
    l.as_list_mut().unwrap().push(Value::Null);
    assert_eq!(l, list([Value::Null]));
}

#[test]
fn type_names() {
    let names: Vec<_> = [
        Value::Null,
        Value::Bool(true),
        Value::Integer(1),
        Value::Float(1.0),
        Value::from(""),
        Value::Bytes(vec![]),
        list([]),
        dict([]),
    ]
    .iter()
    .map(Value::type_name)
    .collect();
    assert_eq!(
        names,
        [
            "null", "bool", "integer", "float", "string", "bytes", "list", "dict"
        ]
    );
}

#[test]
fn from_impls() {
    assert_eq!(Value::from(true), Value::Bool(true));
    assert_eq!(Value::from(-1i8), Value::Integer(-1));
    assert_eq!(Value::from(u16::MAX), Value::Integer(65535));
    assert_eq!(Value::from(u64::MAX), Value::Integer(u64::MAX.into()));
    assert_eq!(Value::from(i128::MIN), Value::Integer(i128::MIN));
    assert_eq!(Value::from(7usize), Value::Integer(7));
    assert_eq!(Value::from(-7isize), Value::Integer(-7));
    assert_eq!(Value::try_from(7u128), Ok(Value::Integer(7)));
    assert_eq!(Value::from(0.5f32), Value::Float(0.5));
    assert_eq!(Value::from("s"), Value::String("s".into()));
    assert_eq!(Value::from(String::from("s")), Value::String("s".into()));
    assert_eq!(Value::from(vec![Value::Null]), list([Value::Null]));
    assert_eq!(Value::from(Dict::new()), dict([]));
    assert_eq!(Value::from(Some("x")), Value::from("x"));
    assert_eq!(Value::from(None::<i32>), Value::Null);
    assert_eq!(
        [1, 2].into_iter().map(Value::from).collect::<Value>(),
        list([Value::Integer(1), Value::Integer(2)])
    );
    assert_eq!(
        [("a".to_owned(), Value::Null)]
            .into_iter()
            .collect::<Value>(),
        dict([("a", Value::Null)])
    );
}

#[test]
fn serde_json_conversions() {
    let json = serde_json::json!({
        "a": [1, -2, 2.5, u64::MAX, null, true, "s"],
        "b": {"c": {}}
    });
    let value = Value::from(json.clone());
    assert_eq!(
        value,
        dict([
            (
                "a",
                list([
                    Value::Integer(1),
                    Value::Integer(-2),
                    Value::Float(2.5),
                    Value::Integer(u64::MAX.into()),
                    Value::Null,
                    Value::Bool(true),
                    Value::from("s"),
                ])
            ),
            ("b", dict([("c", dict([]))])),
        ])
    );
    assert_eq!(serde_json::Value::from(value), json);

    // What JSON cannot hold.
    assert_eq!(
        serde_json::Value::from(Value::Bytes(vec![0xff, 0])),
        serde_json::json!("\u{0}/wA=")
    );
    assert_eq!(
        serde_json::Value::from(Value::Integer(1 << 70)),
        serde_json::json!(1180591620717411303424.0)
    );
    assert_eq!(
        serde_json::Value::from(Value::Float(f64::NAN)),
        serde_json::Value::Null
    );
    // The bytes come back with restore_json_binary.
    let mut back = Value::from(serde_json::Value::from(Value::Bytes(vec![1])));
    restore_json_binary(&mut back);
    assert_eq!(back, Value::Bytes(vec![1]));
}

#[test]
fn comparisons_with_plain_values() {
    let v = dict([
        ("authid", Value::from("backend-1")),
        ("n", Value::Integer(5)),
        ("big", Value::Integer(1 << 40)),
        ("f", Value::Float(2.0)),
        ("ok", Value::Bool(true)),
    ]);
    assert_eq!(v["authid"], "backend-1");
    assert_eq!(v["authid"], *"backend-1");
    assert_eq!(v["authid"], String::from("backend-1"));
    assert_eq!(v["n"], 5);
    assert_eq!(v["big"], 1_099_511_627_776);
    assert_eq!(v["f"], 2.0);
    assert_eq!(v["n"], 5.0);
    assert_eq!(v["ok"], true);
    assert_ne!(v["authid"], "backend-2");
    assert_ne!(v["n"], 6);
    assert_ne!(v["f"], 2);
    assert_ne!(v["missing"], false);
    assert_ne!(v["n"], "5");
    assert_eq!("backend-1", v["authid"]);
    assert_eq!(5, v["n"]);
    assert_eq!(true, v["ok"]);
    assert_eq!(2.0, v["f"]);
    // Integers and floats are different values.
    assert_ne!(Value::Integer(2), Value::Float(2.0));
}

#[test]
fn display() {
    let v = dict([
        ("b", Value::Bytes(vec![0xff, 0])),
        (
            "f",
            list([Value::Float(1.0), Value::Float(-0.5), Value::Float(1e300)]),
        ),
        ("i", Value::Integer(i128::MIN)),
        ("s", Value::from("q\"b\\n\n\t\u{1}é")),
        (
            "special",
            list([
                Value::Float(f64::NAN),
                Value::Float(f64::INFINITY),
                Value::Float(f64::NEG_INFINITY),
            ]),
        ),
        ("z", list([Value::Null, Value::Bool(false), dict([])])),
    ]);
    assert_eq!(
        v.to_string(),
        r#"{"b":b64"/wA=","f":[1.0,-0.5,1e300],"i":-170141183460469231731687303715884105728,"s":"q\"b\\n\n\t\u0001é","special":[NaN,Infinity,-Infinity],"z":[null,false,{}]}"#
    );
    // Apart from bytes and non-finite floats, Display is JSON.
    let plain = sample_without_bytes();
    assert_eq!(
        serde_json::from_str::<Value>(&plain.to_string()).unwrap(),
        plain
    );
}

#[test]
fn error_type_is_an_std_error() {
    fn takes_error(_: &dyn std::error::Error) {}
    let err = from_value::<u8>(Value::Null).unwrap_err();
    takes_error(&err);
    assert_eq!(err.to_string(), err.message());
    let custom = <ValueError as ser::Error>::custom("boom");
    assert_eq!(custom.to_string(), "boom");
}

// --- Python idioms: assignment, truthiness, `or`, `get`, map keys ------

#[test]
fn assigning_a_missing_key_inserts_it() {
    let mut reg_data = dict([("uri", Value::from("com.example.add"))]);
    reg_data["callees"] = Value::from(vec![]);
    assert_eq!(
        reg_data,
        dict([
            ("callees", list([])),
            ("uri", Value::from("com.example.add"))
        ])
    );
}

#[test]
fn assigning_a_present_key_replaces_its_value() {
    let mut v = dict([("uri", Value::from("a")), ("n", Value::Integer(1))]);
    v["uri"] = "b".into();
    assert_eq!(
        v,
        dict([("n", Value::Integer(1)), ("uri", Value::from("b"))])
    );
}

#[test]
fn assigning_into_null_makes_it_a_dict_even_nested() {
    let mut v = Value::Null;
    v["unit"] = "mm".into();
    assert_eq!(v, dict([("unit", Value::from("mm"))]));
    v["limits"]["max"] = 5.into();
    assert_eq!(
        v,
        dict([
            ("limits", dict([("max", Value::Integer(5))])),
            ("unit", Value::from("mm")),
        ])
    );
}

#[test]
fn reading_a_missing_key_gives_null_and_leaves_the_dict_alone() {
    let mut v = dict([("a", Value::Integer(1))]);
    assert!(v["missing"].is_null());
    let read: &Value = &v["missing"];
    assert!(read.is_null());
    assert_eq!(v["missing"]["deeper"][3], Value::Null);
    // A mutable borrow next to the reads, so that the reads are not in a mutable context by
    // accident of how the test is written.
    v["a"] = 2.into();
    assert_eq!(v, dict([("a", Value::Integer(2))]));
}

#[test]
fn a_mutable_use_of_a_missing_key_inserts_null() {
    let mut v = dict([]);
    assert!(v["k"].as_list_mut().is_none());
    assert_eq!(v, dict([("k", Value::Null)]));
    assert!(v["other"].take().is_null());
    assert_eq!(v.as_dict().map(Dict::len), Some(2));
}

#[test]
#[should_panic(expected = r#"cannot set value["k"]: the value is a list, not a dict"#)]
fn assigning_a_key_of_a_list_panics_naming_the_type() {
    let mut v = list([]);
    v["k"] = Value::Null;
}

#[test]
#[should_panic(expected = r#"cannot set value["k"]: the value is a string, not a dict"#)]
fn assigning_a_key_of_a_string_panics_naming_the_type() {
    let mut v = Value::from("text");
    v["k"] = Value::Null;
}

#[test]
fn assigning_an_item_of_a_list_in_range_replaces_it() {
    let mut args = list([Value::from("pos1"), Value::from("pos2")]);
    args[1] = 2.into();
    args[0] = dict([]);
    args[0]["k"] = true.into();
    assert_eq!(
        args,
        list([dict([("k", Value::Bool(true))]), Value::Integer(2)])
    );
}

#[test]
#[should_panic(
    expected = "cannot set value[2]: list assignment index out of range (the list has 2 items)"
)]
fn assigning_past_the_end_of_a_list_panics_like_index_error() {
    let mut args = list([Value::from("pos1"), Value::from("pos2")]);
    args[2] = 3.into();
}

#[test]
#[should_panic(expected = "cannot set value[0]: the value is null, not a list")]
fn assigning_an_item_of_null_panics() {
    let mut v = Value::Null;
    v[0] = 3.into();
}

#[test]
#[should_panic(expected = "cannot set value[0]: the value is a dict, not a list")]
fn assigning_an_item_of_a_dict_panics() {
    let mut v = dict([("0", Value::Null)]);
    v[0] = 3.into();
}

#[test]
fn truthiness_follows_python() {
    let falsy = [
        Value::Null,
        Value::Bool(false),
        Value::Integer(0),
        Value::Float(0.0),
        Value::Float(-0.0),
        Value::from(""),
        Value::Bytes(vec![]),
        list([]),
        dict([]),
    ];
    for v in &falsy {
        assert!(!v.is_truthy(), "{v} should be falsy");
    }
    let truthy = [
        Value::Bool(true),
        Value::Integer(1),
        Value::Integer(-1),
        Value::Integer(i128::MIN),
        Value::Float(0.1),
        Value::Float(-1e-300),
        Value::Float(f64::NAN),
        Value::Float(f64::INFINITY),
        Value::from(" "),
        Value::from("0"),
        Value::from("False"),
        Value::Bytes(vec![0]),
        list([Value::Null]),
        list([Value::Bool(false)]),
        dict([("", Value::Null)]),
    ];
    for v in &truthy {
        assert!(v.is_truthy(), "{v} should be truthy");
    }
}

#[test]
fn or_gives_the_first_value_when_truthy_else_the_second() {
    let transport = dict([("peer", Value::from("tcp4:10.0.0.1"))]);
    let forwarded = dict([("x-forwarded-for", Value::from("192.0.2.7"))]);
    let empty = dict([("x-forwarded-for", Value::from(""))]);
    let peer =
        |headers: &Value| headers["x-forwarded-for"].or(transport.get_or("peer", "INTERNAL"));
    assert_eq!(peer(&forwarded), "192.0.2.7");
    assert_eq!(peer(&empty), "tcp4:10.0.0.1");
    assert_eq!(peer(&Value::Null), "tcp4:10.0.0.1");
    assert_eq!(
        empty["x-forwarded-for"].or(Value::Null.get_or("peer", "INTERNAL")),
        "INTERNAL"
    );
}

#[test]
fn or_gives_the_second_value_even_when_it_is_falsy_too() {
    // Python: 0 or "" is "", and [] or None is None.
    assert_eq!(Value::Integer(0).or(""), Value::from(""));
    assert_eq!(list([]).or(Value::Null), Value::Null);
    assert_eq!(
        Value::Float(f64::NAN).or(1).as_f64().map(f64::is_nan),
        Some(true)
    );
    let b = Value::Integer(2);
    assert_eq!(Value::Bool(false).or(&b), b);
}

#[test]
fn or_else_computes_the_second_value_only_when_needed() {
    let calls = std::cell::Cell::new(0);
    let fallback = || {
        calls.set(calls.get() + 1);
        "computed"
    };
    assert_eq!(Value::from("cached").or_else(fallback), "cached");
    assert_eq!(calls.get(), 0);
    assert_eq!(Value::from("").or_else(fallback), "computed");
    assert_eq!(calls.get(), 1);
}

#[test]
fn get_or_gives_the_default_only_for_a_missing_key() {
    let v = dict([("peer", Value::Null), ("type", Value::from("websocket"))]);
    assert_eq!(v.get_or("type", "rawsocket"), "websocket");
    // Python: {'peer': None}.get('peer', 'INTERNAL') is None.
    assert_eq!(v.get_or("peer", "INTERNAL"), Value::Null);
    assert_eq!(v.get_or("cbtid", "none"), "none");
    assert_eq!(v.get_or("headers", Dict::new()), dict([]));
    // Not a dict: the default, as v["k"] gives Null.
    assert_eq!(list([]).get_or("k", 1), 1);
    assert_eq!(Value::Null.get_or("k", 1), 1);
}

#[test]
fn dict_get_or_and_get_or_null_never_panic() {
    let details = match dict([
        ("caller_authid", Value::from("zaber")),
        ("caller_authrole", Value::Null),
        ("transport", dict([("peer", Value::from("tcp4:10.0.0.1"))])),
    ]) {
        Value::Dict(d) => d,
        _ => unreachable!(),
    };
    assert_eq!(details.get_or("caller_authid", "<unknown>"), "zaber");
    assert_eq!(details.get_or("caller_authrole", "public"), Value::Null);
    assert_eq!(details.get_or("procedure", "<unknown>"), "<unknown>");
    assert_eq!(details.get_or_null("transport")["peer"], "tcp4:10.0.0.1");
    assert!(details.get_or_null("missing").is_null());
    assert!(details.get_or_null("missing")["deeper"].is_null());
    assert_eq!(details.get_or_null("caller_authid"), "zaber");
}

#[test]
#[should_panic]
fn indexing_a_dict_by_a_missing_key_panics_unlike_a_value() {
    let details = Dict::new();
    assert!(Value::Dict(details.clone())["caller"].is_null());
    let _ = &details["caller"];
}

#[test]
fn a_borrowed_value_converts_by_cloning() {
    let v = dict([("a", list([Value::Integer(1)]))]);
    assert_eq!(Value::from(&v), v);
    assert_eq!(Value::from(v.get("a")), list([Value::Integer(1)]));
    assert_eq!(Value::from(v.get("b")), Value::Null);
}

#[test]
fn session_ids_from_a_meta_api_result_key_a_map_of_ids() {
    // wamp.session.list, then wamp.session.get for each id.
    let list_result = list([Value::Integer(4021), Value::Integer(8117)]);
    let get_results = list([
        dict([
            ("session", Value::Integer(4021)),
            ("authid", Value::from("zaber")),
        ]),
        dict([
            ("session", Value::Integer(8117)),
            ("authid", Value::from("backend-1")),
        ]),
    ]);
    let mut sessions: HashMap<crate::protocol::Id, Value> = HashMap::new();
    for details in get_results.as_list().unwrap() {
        sessions.insert(details["session"].as_u64().unwrap(), details.clone());
    }
    // Every id of the list finds its details, as would the client's own session_id().
    for id in list_result.as_list().unwrap() {
        assert_eq!(sessions[&id.as_u64().unwrap()]["session"], *id);
    }
    let me: crate::protocol::Id = 8117;
    assert_eq!(sessions[&me]["authid"], "backend-1");
    // What is not a session id is not mistaken for one.
    assert_eq!(Value::from("4021").as_u64(), None);
    assert_eq!(Value::Integer(-1).as_u64(), None);
    assert_eq!(Value::Float(4021.0).as_u64(), None);
}

#[test]
fn value_equality_stays_pythons_which_is_why_value_is_not_a_map_key() {
    // Python: float('nan') != float('nan'), and 0.0 == -0.0. An `Eq` for Value would have to
    // break the first; this test fails if someone changes `==` to make Value hashable.
    let nan = Value::Float(f64::NAN);
    assert_ne!(nan, nan.clone());
    assert_ne!(list([nan.clone()]), list([nan]));
    assert_eq!(Value::Float(0.0), Value::Float(-0.0));
}

#[test]
fn the_alternate_display_is_pythons_str() {
    // Each expectation is what CPython 3.11 prints for the same value.
    let cases: Vec<(Value, &str)> = vec![
        (Value::Null, "None"),
        (Value::Bool(true), "True"),
        (Value::Bool(false), "False"),
        (Value::from(-7), "-7"),
        (Value::from(1835.0), "1835.0"),
        (Value::from(0.1), "0.1"),
        (Value::from(1e16), "1e+16"),
        (Value::from(1e15), "1000000000000000.0"),
        (Value::from(1e-05), "1e-05"),
        (Value::from(0.0001), "0.0001"),
        (Value::from(-2.5e-10), "-2.5e-10"),
        (Value::from(1e300), "1e+300"),
        (Value::from(f64::NAN), "nan"),
        (Value::from(f64::NEG_INFINITY), "-inf"),
        (Value::from("plain"), "plain"),
        (Value::Bytes(b"ab'\x00\xff".to_vec()), r#"b"ab'\x00\xff""#),
        (
            Value::List(vec![Value::from(1), Value::from("a"), Value::Null]),
            "[1, 'a', None]",
        ),
        (
            Value::from(serde_json::json!({"b": [true], "a": {"x": 1.5}})),
            "{'a': {'x': 1.5}, 'b': [True]}",
        ),
    ];
    for (value, python) in cases {
        assert_eq!(format!("{value:#}"), python, "{value}");
    }
    // Strings inside containers are written as repr() writes them.
    let quoted = |text: &str| format!("{:#}", Value::List(vec![Value::from(text)]));
    assert_eq!(quoted("it's"), r#"["it's"]"#);
    assert_eq!(quoted(r#"say "hi""#), r#"['say "hi"']"#);
    assert_eq!(quoted(r#"both ' and ""#), r#"['both \' and "']"#);
    assert_eq!(quoted("tab\there\nnew\\back"), r"['tab\there\nnew\\back']");
    assert_eq!(quoted("\x01\x7f"), r"['\x01\x7f']");
    assert_eq!(quoted("é ✓"), "['é ✓']");
}
