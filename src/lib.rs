//! A blocking WAMP client for Rust, ported from Zaber's Python `izaber-wamp`.

#![warn(missing_docs)]

mod client;
pub mod config;
mod error;
mod izaber;
mod nexus;
pub mod protocol;
mod secret;
pub(crate) mod session;
pub mod transport;

pub use client::*;
pub use error::{Error, WampError};
pub use izaber::{InitOptions, Wamp, config, initialize, initialize_with, set_autorun, wamp};
pub use secret::Secret;
pub use session::handler::{CallError, Event, Invocation};
pub use session::{Auth, ReconnectPolicy};
