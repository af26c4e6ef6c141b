//! The WAMP protocol without I/O: messages, values and serializers.
//!
//! [`Value`] is the dynamic type that WAMP arguments, keyword arguments and details are made
//! of; [`to_value`] and [`from_value`] convert between it and any `serde` type. Nothing here
//! touches a socket: the [`transport`](crate::transport) moves the bytes and the session thread
//! decides what a message means for pending requests.

pub(crate) mod json_binary;
mod message;
mod passthru;
mod peek;
mod serializer;
pub mod value;

pub(crate) use json_binary::{JsonCompat, decode_base64, encode_base64, restore_json_binary};
pub use message::{Id, Message, ProtocolError, code, code_name};
pub(crate) use message::{LogSafe, redacted, redacted_dict};
pub use passthru::EncodedPayload;
pub(crate) use peek::Peek;
pub use serializer::{Serializer, UnknownSerializer};
pub use value::{Dict, DictExt, Value, ValueError, from_value, to_value};
