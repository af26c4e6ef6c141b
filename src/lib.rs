//! A blocking WAMP client for Rust, ported from Zaber's Python `izaber-wamp`.
//!
//! Porting a Python script? The [`guide`] has every example of the Python README beside its
//! Rust twin, the configuration reference and the command-line tool.
//!
//! # Quick start
//!
//! The simplest use reads `izaber.yaml` like the Python library and calls through the global
//! [`wamp`]:
//!
//! ```no_run
//! use izaber_wamp::{initialize, wamp};
//!
//! fn main() -> Result<(), izaber_wamp::Error> {
//!     initialize()?;
//!     let me = wamp.call("auth.whoami", ())?;
//!     println!("{}", me["authid"]);
//!     Ok(())
//! }
//! ```
//!
//! Registering a procedure and subscribing to a topic: handlers run on worker threads and may
//! use `wamp` themselves.
//!
//! ```no_run
//! use izaber_wamp::{call, initialize, wamp};
//!
//! fn main() -> Result<(), izaber_wamp::Error> {
//!     initialize()?;
//!     wamp.register("example.add", |invocation| {
//!         Ok(invocation.arg::<i64>(0)? + invocation.arg::<i64>(1)?)
//!     })?;
//!     wamp.subscribe("example.news", |event| println!("news: {:?}", event.args))?;
//!     let sum = call!(wamp, "example.add", 2, 3)?;
//!     wamp.publish("example.news", (format!("2 + 3 = {sum}"),))?;
//!     Ok(())
//! }
//! ```
//!
//! Without izaber.yaml, build a [`Client`] yourself:
//!
//! ```no_run
//! use izaber_wamp::Client;
//!
//! # fn main() -> Result<(), izaber_wamp::Error> {
//! let client = Client::builder("ws://127.0.0.1:8282/ws")
//!     .realm("izaber")
//!     .ticket("backend-1", "secret")
//!     .uri_base("com.izaber.wamp")
//!     .connect()?;
//! println!("{}", client.whoami()?);
//! # Ok(()) }
//! ```
//!
//! # Errors
//!
//! Every fallible function returns the one [`Error`] enum and its doc names the variants it
//! can return; [`Client`]'s doc lists those every request shares.
//!
//! # Architecture
//!
//! Layers, each knowing only the ones below it: message buffers (the bytes frames are read
//! into, and giving large ones' memory back; no WAMP, no I/O), [`protocol`] (messages and
//! serializers, no I/O), [`transport`] (bytes over WebSocket or RawSocket), the session thread
//! (owns the socket, matches answers to requests, dispatches to handlers, reconnects),
//! [`Client`] (the blocking API), and the izaber layer ([`config`](mod@config),
//! [`initialize`], [`wamp`], Nexus helpers). A unit test reads the source and fails when a
//! layer uses one above it.

#![warn(missing_docs)]
#![warn(clippy::missing_errors_doc, clippy::missing_panics_doc)]

#[doc = include_str!("../README.md")]
pub mod guide {}

#[cfg(test)]
mod architecture;
mod client;
pub mod config;
mod deadline;
mod error;
mod izaber;
mod memory;
mod nexus;
pub mod protocol;
mod secret;
pub(crate) mod session;
mod stop;
pub mod transport;
pub mod zerp;

pub use client::*;
pub use error::{Error, WampError};
pub use izaber::{InitOptions, Wamp, config, initialize, initialize_with, set_autorun, wamp};
pub use protocol::EncodedPayload;
pub use secret::Secret;
pub use session::cryptosign::CryptosignKey;
pub use session::handler::{CallError, Event, EventOutcome, Invocation};
pub use session::{Auth, DEFAULT_RECONNECT_INTERVAL, ReconnectPolicy};
pub use stop::StopSignal;
pub use zerp::{Zerp, zerp};
