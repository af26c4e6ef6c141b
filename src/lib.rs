//! A blocking WAMP client for Rust, ported from Zaber's Python `izaber-wamp`.

#![warn(missing_docs)]

pub mod config;
pub mod protocol;
mod secret;

pub use secret::Secret;
