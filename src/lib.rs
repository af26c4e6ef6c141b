//! A blocking WAMP client for Rust, ported from Zaber's Python `izaber-wamp`.

#![warn(missing_docs)]

mod secret;

pub use secret::Secret;
