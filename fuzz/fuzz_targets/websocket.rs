//! Arbitrary bytes from a WebSocket router, read by a real client after a real HTTP upgrade:
//! our frame reader (headers, fragments, control frames, close, the size limit), join and the
//! session loop. See `izaber_wamp_fuzz::websocket_session` for the input layout.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| izaber_wamp_fuzz::websocket_session(data));
