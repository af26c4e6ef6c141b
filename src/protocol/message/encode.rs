//! Encoding: [`WireMessage`] writes a message as its array form through any serializer.

use serde::ser::{Serialize, SerializeSeq, Serializer};

use super::{Message, is_passthru};
use crate::protocol::JsonCompat;
use crate::protocol::value::{Dict, Value};

/// [`Message::payload_len_hint`] of one value.
fn len_hint(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len() + 5,
        Value::Bytes(b) => b.len() + 5,
        Value::List(items) => items.iter().map(len_hint).sum::<usize>() + 5,
        Value::Dict(dict) => dict_len_hint(dict) + 5,
        _ => 9,
    }
}

fn dict_len_hint(dict: &Dict) -> usize {
    dict.iter().map(|(k, v)| k.len() + 5 + len_hint(v)).sum()
}

impl Message {
    /// Roughly how many bytes the message's arguments take once encoded: the lengths of
    /// their strings and binaries, and a few bytes for anything else. What a message's
    /// buffer should hold, asked before encoding it.
    pub(crate) fn payload_len_hint(&self) -> usize {
        match self {
            Message::Error { args, kwargs, .. }
            | Message::Publish { args, kwargs, .. }
            | Message::Event { args, kwargs, .. }
            | Message::Call { args, kwargs, .. }
            | Message::Result { args, kwargs, .. }
            | Message::Invocation { args, kwargs, .. }
            | Message::Yield { args, kwargs, .. } => {
                args.iter().map(len_hint).sum::<usize>() + dict_len_hint(kwargs)
            }
            _ => 0,
        }
    }
}

/// Serializes a message as its array form without first building a `Value` for it, so a
/// large argument is written straight from where it lies.
///
/// `json_binary` selects WAMP's JSON convention for binary values (a string of `\0` followed by
/// base64); the binary serializers write bytes natively.
pub(crate) struct WireMessage<'a> {
    pub message: &'a Message,
    pub json_binary: bool,
}

impl Serialize for WireMessage<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let json = self.json_binary;
        let m = self.message;
        let payload_len = |options: &Dict, args: &[Value], kwargs: &Dict| {
            if passthru_payload(options, args, kwargs).is_some() {
                1
            } else if !kwargs.is_empty() {
                2
            } else if !args.is_empty() {
                1
            } else {
                0
            }
        };
        let len = match m {
            Message::Hello { .. }
            | Message::Welcome { .. }
            | Message::Abort { .. }
            | Message::Challenge { .. }
            | Message::Authenticate { .. }
            | Message::Goodbye { .. }
            | Message::Published { .. }
            | Message::Subscribed { .. }
            | Message::Unsubscribe { .. }
            | Message::Cancel { .. }
            | Message::Registered { .. }
            | Message::Unregister { .. }
            | Message::Interrupt { .. } => 3,
            Message::Subscribe { .. } | Message::Register { .. } => 4,
            Message::Unsubscribed { details, .. } | Message::Unregistered { details, .. } => {
                2 + usize::from(details.is_some())
            }
            Message::Error {
                details,
                args,
                kwargs,
                ..
            } => 5 + payload_len(details, args, kwargs),
            Message::Publish {
                options: dict,
                args,
                kwargs,
                ..
            }
            | Message::Event {
                details: dict,
                args,
                kwargs,
                ..
            }
            | Message::Call {
                options: dict,
                args,
                kwargs,
                ..
            }
            | Message::Invocation {
                details: dict,
                args,
                kwargs,
                ..
            } => 4 + payload_len(dict, args, kwargs),
            Message::Result {
                details: dict,
                args,
                kwargs,
                ..
            }
            | Message::Yield {
                options: dict,
                args,
                kwargs,
                ..
            } => 3 + payload_len(dict, args, kwargs),
        };
        let mut seq = serializer.serialize_seq(Some(len))?;
        seq.serialize_element(&m.code())?;
        let dict = |seq: &mut S::SerializeSeq, d: &Dict| -> Result<(), S::Error> {
            seq.serialize_element(&DictOut { dict: d, json })
        };
        let payload = |seq: &mut S::SerializeSeq,
                       options: &Dict,
                       args: &[Value],
                       kwargs: &Dict|
         -> Result<(), S::Error> {
            if let Some(opaque) = passthru_payload(options, args, kwargs) {
                return if json {
                    seq.serialize_element(&JsonCompat(opaque))
                } else {
                    seq.serialize_element(opaque)
                };
            }
            if !args.is_empty() || !kwargs.is_empty() {
                seq.serialize_element(&ListOut { list: args, json })?;
            }
            if !kwargs.is_empty() {
                seq.serialize_element(&DictOut { dict: kwargs, json })?;
            }
            Ok(())
        };
        match m {
            Message::Hello { realm, details } => {
                seq.serialize_element(realm)?;
                dict(&mut seq, details)?;
            }
            Message::Welcome { session, details } => {
                seq.serialize_element(session)?;
                dict(&mut seq, details)?;
            }
            Message::Abort { details, reason } | Message::Goodbye { details, reason } => {
                dict(&mut seq, details)?;
                seq.serialize_element(reason)?;
            }
            Message::Challenge { authmethod, extra } => {
                seq.serialize_element(authmethod)?;
                dict(&mut seq, extra)?;
            }
            Message::Authenticate { signature, extra } => {
                seq.serialize_element(signature.expose())?;
                dict(&mut seq, extra)?;
            }
            Message::Error {
                request_type,
                request,
                details,
                error,
                args,
                kwargs,
            } => {
                seq.serialize_element(request_type)?;
                seq.serialize_element(request)?;
                dict(&mut seq, details)?;
                seq.serialize_element(error)?;
                payload(&mut seq, details, args, kwargs)?;
            }
            Message::Publish {
                request,
                options,
                topic: uri,
                args,
                kwargs,
            }
            | Message::Call {
                request,
                options,
                procedure: uri,
                args,
                kwargs,
            } => {
                seq.serialize_element(request)?;
                dict(&mut seq, options)?;
                seq.serialize_element(uri)?;
                payload(&mut seq, options, args, kwargs)?;
            }
            Message::Published {
                request,
                publication: id,
            }
            | Message::Subscribed {
                request,
                subscription: id,
            }
            | Message::Unsubscribe {
                request,
                subscription: id,
            }
            | Message::Registered {
                request,
                registration: id,
            }
            | Message::Unregister {
                request,
                registration: id,
            } => {
                seq.serialize_element(request)?;
                seq.serialize_element(id)?;
            }
            Message::Subscribe {
                request,
                options,
                topic: uri,
            }
            | Message::Register {
                request,
                options,
                procedure: uri,
            } => {
                seq.serialize_element(request)?;
                dict(&mut seq, options)?;
                seq.serialize_element(uri)?;
            }
            Message::Unsubscribed { request, details }
            | Message::Unregistered { request, details } => {
                seq.serialize_element(request)?;
                if let Some(details) = details {
                    dict(&mut seq, details)?;
                }
            }
            Message::Event {
                subscription: first,
                publication: second,
                details,
                args,
                kwargs,
            }
            | Message::Invocation {
                request: first,
                registration: second,
                details,
                args,
                kwargs,
            } => {
                seq.serialize_element(first)?;
                seq.serialize_element(second)?;
                dict(&mut seq, details)?;
                payload(&mut seq, details, args, kwargs)?;
            }
            Message::Cancel {
                request,
                options: dict_field,
            }
            | Message::Interrupt {
                request,
                options: dict_field,
            } => {
                seq.serialize_element(request)?;
                dict(&mut seq, dict_field)?;
            }
            Message::Result {
                request,
                details: dict_field,
                args,
                kwargs,
            }
            | Message::Yield {
                request,
                options: dict_field,
                args,
                kwargs,
            } => {
                seq.serialize_element(request)?;
                dict(&mut seq, dict_field)?;
                payload(&mut seq, dict_field, args, kwargs)?;
            }
        }
        seq.end()
    }
}

/// The opaque payload to write in place of the arguments, when the message is in payload
/// passthru mode.
fn passthru_payload<'a>(options: &Dict, args: &'a [Value], kwargs: &Dict) -> Option<&'a Value> {
    match args {
        [payload] if kwargs.is_empty() && is_passthru(options) => Some(payload),
        _ => None,
    }
}

struct DictOut<'a> {
    dict: &'a Dict,
    json: bool,
}

impl Serialize for DictOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.dict.len()))?;
        for (key, value) in self.dict {
            if self.json {
                map.serialize_entry(key, &JsonCompat(value))?;
            } else {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

struct ListOut<'a> {
    list: &'a [Value],
    json: bool,
}

impl Serialize for ListOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.list.len()))?;
        for value in self.list {
            if self.json {
                seq.serialize_element(&JsonCompat(value))?;
            } else {
                seq.serialize_element(value)?;
            }
        }
        seq.end()
    }
}
