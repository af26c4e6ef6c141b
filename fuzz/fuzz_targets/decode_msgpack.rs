//! Arbitrary bytes decoded as one msgpack WAMP message: never a panic, and whatever decodes
//! encodes again, stably.
#![no_main]

use izaber_wamp::protocol::Serializer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| izaber_wamp_fuzz::decode_and_reencode(Serializer::MsgPack, data));
