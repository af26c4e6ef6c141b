//! [`LogSafe`]: a message's `Debug` for log lines, with secret-looking values redacted.

use std::fmt;

use super::Message;
use crate::protocol::value::{Dict, Value};

/// Key names whose values are secrets wherever they appear in a message: Nexus returns
/// one-time passwords and API keys as `plaintext_key`, applications pass passwords and
/// tokens under such names, and a session's details (`wamp.session.get`) carry the HTTP
/// credentials of its WebSocket handshake (`cookie`, `set-cookie`, `authorization`;
/// `http_cbtid`, Crossbar's cookie-authentication id). Compared as substrings of the
/// lowercased key.
const SECRET_KEYS: [&str; 11] = [
    "password",
    "passwd",
    "secret",
    "ticket",
    "token",
    "plaintext_key",
    "apikey",
    "api_key",
    "cookie",
    "authorization",
    "cbtid",
];

/// Whether values under `key` are secrets (see `SECRET_KEYS`).
pub(crate) fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_KEYS.iter().any(|secret| key.contains(secret))
}

/// A copy of `value` with every value under a secret-looking key, at any depth, replaced
/// by `<redacted>`: for `Debug` output of what the router sends.
pub(crate) fn redacted(value: &Value) -> Value {
    let mut copy = value.clone();
    redact(&mut copy);
    copy
}

/// [`redacted`] for a dict.
pub(crate) fn redacted_dict(dict: &Dict) -> Dict {
    let mut copy = dict.clone();
    redact_dict(&mut copy);
    copy
}

fn redact(value: &mut Value) {
    match value {
        Value::Dict(dict) => redact_dict(dict),
        Value::List(list) => list.iter_mut().for_each(redact),
        _ => {}
    }
}

fn redact_dict(dict: &mut Dict) {
    for (key, value) in dict.iter_mut() {
        if is_secret_key(key) && !value.is_null() {
            *value = Value::String("<redacted>".into());
        } else {
            redact(value);
        }
    }
}

/// Formats a message for a log line with every value under a secret-looking key (see
/// `SECRET_KEYS`) replaced by `<redacted>`. The AUTHENTICATE signature is a [`Secret`]
/// already.
pub(crate) struct LogSafe<'a>(pub &'a Message);

impl fmt::Debug for LogSafe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut message = self.0.clone();
        match &mut message {
            Message::Hello { details: d, .. }
            | Message::Welcome { details: d, .. }
            | Message::Abort { details: d, .. }
            | Message::Challenge { extra: d, .. }
            | Message::Authenticate { extra: d, .. }
            | Message::Goodbye { details: d, .. }
            | Message::Subscribe { options: d, .. }
            | Message::Register { options: d, .. }
            | Message::Cancel { options: d, .. }
            | Message::Interrupt { options: d, .. } => redact_dict(d),
            Message::Error {
                details,
                args,
                kwargs,
                ..
            }
            | Message::Event {
                details,
                args,
                kwargs,
                ..
            }
            | Message::Result {
                details,
                args,
                kwargs,
                ..
            }
            | Message::Invocation {
                details,
                args,
                kwargs,
                ..
            } => {
                redact_dict(details);
                args.iter_mut().for_each(redact);
                redact_dict(kwargs);
            }
            Message::Publish {
                options,
                args,
                kwargs,
                ..
            }
            | Message::Call {
                options,
                args,
                kwargs,
                ..
            }
            | Message::Yield {
                options,
                args,
                kwargs,
                ..
            } => {
                redact_dict(options);
                args.iter_mut().for_each(redact);
                redact_dict(kwargs);
            }
            Message::Unsubscribed {
                details: Some(d), ..
            }
            | Message::Unregistered {
                details: Some(d), ..
            } => redact_dict(d),
            Message::Published { .. }
            | Message::Subscribed { .. }
            | Message::Unsubscribe { .. }
            | Message::Unsubscribed { .. }
            | Message::Registered { .. }
            | Message::Unregister { .. }
            | Message::Unregistered { .. } => {}
        }
        message.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_hide_values_under_secret_keys_at_any_depth() {
        let mut record = Dict::new();
        record.insert("plaintext_key".into(), Value::from("otp-plaintext"));
        record.insert("login".into(), Value::from("zaber"));
        let mut kwargs = Dict::new();
        kwargs.insert("Password".into(), Value::from("hunter2"));
        let message = Message::Result {
            request: 1,
            details: Dict::new(),
            args: vec![Value::List(vec![Value::Dict(record)])],
            kwargs,
        };
        let line = format!("{:?}", LogSafe(&message));
        assert!(!line.contains("otp-plaintext"), "{line}");
        assert!(!line.contains("hunter2"), "{line}");
        assert!(line.contains("zaber"), "{line}");
        assert!(line.contains("<redacted>"), "{line}");
    }
}
