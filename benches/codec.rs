//! Micro-benchmarks of message encoding and decoding, for every serializer.
//!
//! ```sh
//! cargo bench --bench codec               # full run, about 2 minutes
//! cargo bench --bench codec -- --quick    # smoke test for CI, seconds
//! cargo bench --bench codec -- call_1mib  # one message kind
//! ```
//!
//! Each benchmark is named `encode/MESSAGE/SERIALIZER` or `decode/MESSAGE/SERIALIZER`;
//! throughput is in bytes of the encoded message. Encoding appends to one reused buffer (as
//! the socket thread does), so its figures leave out the buffer's allocation; decoding builds
//! the whole `Message` and drops it, as receiving does.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use izaber_wamp::protocol::{Dict, Message, Serializer, Value};

fn dict(pairs: impl IntoIterator<Item = (String, Value)>) -> Dict {
    pairs.into_iter().collect()
}

/// A CALL with three small arguments and a small kwargs dict.
fn call_small() -> Message {
    Message::Call {
        request: 1234,
        options: Dict::new(),
        procedure: "com.izaber.wamp.example.move".into(),
        args: vec![Value::Integer(42), Value::from("mm"), Value::Float(12.5)],
        kwargs: dict([
            ("axis".to_owned(), Value::Integer(1)),
            ("wait".to_owned(), Value::Bool(true)),
        ]),
    }
}

/// A RESULT carrying one 64-byte string.
fn result_64b() -> Message {
    Message::Result {
        request: 1234,
        details: Dict::new(),
        args: vec![Value::String("x".repeat(64))],
        kwargs: Dict::new(),
    }
}

/// An EVENT whose argument is a dict of 20 entries, a few of them nested dicts and lists: a
/// device's status as a service might publish it.
fn event_dict20() -> Message {
    let mut status = Dict::new();
    for i in 0..14 {
        let value = match i % 4 {
            0 => Value::Integer(i * 1000),
            1 => Value::Float(i as f64 / 3.0),
            2 => Value::from(format!("value-{i}")),
            _ => Value::Bool(i % 2 == 0),
        };
        status.insert(format!("field_{i:02}"), value);
    }
    for axis in 0..4 {
        status.insert(
            format!("axis_{axis}"),
            Value::Dict(dict([
                ("position".to_owned(), Value::Integer(123_456 + axis)),
                ("unit".to_owned(), Value::from("mm")),
                ("busy".to_owned(), Value::Bool(false)),
            ])),
        );
    }
    status.insert(
        "warnings".into(),
        Value::List(vec![Value::from("FF"), Value::from("WR")]),
    );
    status.insert("serial".into(), Value::from("00012345"));
    assert_eq!(status.len(), 20);
    Message::Event {
        subscription: 5_551_234,
        publication: 9_876_543_210,
        details: dict([(
            "topic".to_owned(),
            Value::from("com.izaber.wamp.device.status"),
        )]),
        args: vec![Value::Dict(status)],
        kwargs: Dict::new(),
    }
}

/// A CALL whose one argument is a 1 MiB string.
fn call_1mib() -> Message {
    Message::Call {
        request: 1234,
        options: Dict::new(),
        procedure: "com.izaber.wamp.example.upload".into(),
        args: vec![Value::String("a".repeat(1 << 20))],
        kwargs: Dict::new(),
    }
}

fn codec(c: &mut Criterion) {
    let messages = [
        ("call_small", call_small()),
        ("result_64b", result_64b()),
        ("event_dict20", event_dict20()),
        ("call_1mib", call_1mib()),
    ];
    for (name, message) in &messages {
        for serializer in Serializer::DEFAULT_PREFERENCE {
            let bytes = serializer.encode(message).expect("the message encodes");
            assert_eq!(
                &serializer.decode(&bytes).expect("the message decodes"),
                message,
                "{serializer} changed {name}"
            );

            let mut group = c.benchmark_group(format!("encode/{name}"));
            group.throughput(Throughput::Bytes(bytes.len() as u64));
            let mut buffer = Vec::with_capacity(bytes.len());
            group.bench_function(serializer.name(), |b| {
                b.iter(|| {
                    buffer.clear();
                    serializer
                        .encode_into(black_box(message), &mut buffer)
                        .unwrap();
                    black_box(&buffer);
                })
            });
            group.finish();

            let mut group = c.benchmark_group(format!("decode/{name}"));
            group.throughput(Throughput::Bytes(bytes.len() as u64));
            group.bench_function(serializer.name(), |b| {
                b.iter(|| serializer.decode(black_box(&bytes)).unwrap())
            });
            group.finish();
        }
    }
}

criterion_group! {
    name = benches;
    // Shorter than criterion's defaults (3 s warm-up, 5 s measurement), so the full run of 24
    // benchmarks stays near two minutes; these loops are short and steady.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = codec
}
criterion_main!(benches);
