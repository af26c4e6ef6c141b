//! Arbitrary bytes from a RawSocket router, read by a real client: the handshake reply, the
//! frame parser, join and the session loop. See `izaber_wamp_fuzz::rawsocket_session` for the
//! input layout.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| izaber_wamp_fuzz::rawsocket_session(data));
