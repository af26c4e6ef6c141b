//! What the public API promises about threads: the types a program shares between threads
//! or moves into handlers are `Send + Sync` (or `Send` where only moving makes sense). A
//! change that breaks this fails to compile here, before it reaches users.

use izaber_wamp::config::{Config, ConfigError, WampConfig};
use izaber_wamp::protocol::{Message, Value};
use izaber_wamp::{
    Auth, CallError, CallOptions, CallResult, CancelToken, Client, ClientBuilder, Error, Event,
    Invocation, PublishOptions, ReconnectPolicy, RegisterOptions, Secret, Stats, SubscribeOptions,
    Wamp, WampError,
};

fn send_and_sync<T: Send + Sync>() {}
fn send<T: Send>() {}

#[test]
fn shared_types_are_send_and_sync() {
    // shared between threads: one client for many callers, the global `wamp`
    send_and_sync::<Client>();
    send_and_sync::<Wamp>();
    send_and_sync::<CancelToken>();
    // errors cross threads (anyhow, channels, joined threads)
    send_and_sync::<Error>();
    send_and_sync::<WampError>();
    send_and_sync::<CallError>();
    send_and_sync::<ConfigError>();
    // values, options and settings are plain data
    send_and_sync::<Value>();
    send_and_sync::<Message>();
    send_and_sync::<CallResult>();
    send_and_sync::<CallOptions>();
    send_and_sync::<RegisterOptions>();
    send_and_sync::<SubscribeOptions>();
    send_and_sync::<PublishOptions>();
    send_and_sync::<ReconnectPolicy>();
    send_and_sync::<Auth>();
    send_and_sync::<Secret>();
    send_and_sync::<Stats>();
    send_and_sync::<Config>();
    send_and_sync::<WampConfig>();
    // what handlers receive may be handed to another thread
    send_and_sync::<Invocation>();
    send_and_sync::<Event>();
    // a builder is made on one thread and may be moved to another to connect
    send::<ClientBuilder>();
}
