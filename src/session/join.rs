//! Opening a WAMP session on a fresh transport: HELLO, the authentication challenge, WELCOME
//! or ABORT. Blocking, with a deadline; runs before the socket thread goes non-blocking.

use std::time::{Duration, Instant};

use crate::Error;
use crate::protocol::{Dict, Id, LogSafe, Message, Value};
use crate::transport::{FRAME_HEADROOM, Incoming, Transport};

use super::scram::ScramLogin;
use super::{Auth, SessionConfig};

/// What WELCOME told us.
#[derive(Clone, Debug)]
pub(crate) struct Welcome {
    pub session: Id,
    pub details: Dict,
}

/// The features we announce: what the router may use with us.
fn roles() -> Dict {
    fn features(names: &[&str]) -> Value {
        let mut features = Dict::new();
        for name in names {
            features.insert((*name).to_owned(), Value::Bool(true));
        }
        let mut role = Dict::new();
        role.insert("features".into(), Value::Dict(features));
        Value::Dict(role)
    }
    let mut roles = Dict::new();
    roles.insert(
        "caller".into(),
        features(&[
            "progressive_call_results",
            "call_canceling",
            "call_timeout",
            "caller_identification",
        ]),
    );
    roles.insert(
        "callee".into(),
        features(&[
            "progressive_call_results",
            "call_canceling",
            "call_timeout",
            "caller_identification",
            "pattern_based_registration",
            "shared_registration",
        ]),
    );
    roles.insert(
        "publisher".into(),
        features(&[
            "publisher_exclusion",
            "subscriber_blackwhite_listing",
            "publisher_identification",
        ]),
    );
    roles.insert(
        "subscriber".into(),
        features(&["pattern_based_subscription", "publisher_identification"]),
    );
    roles
}

pub(crate) fn send_blocking(transport: &mut Transport, message: &Message) -> Result<(), Error> {
    log::debug!("sending {:?}", LogSafe(message));
    let mut frame = vec![0u8; FRAME_HEADROOM];
    transport.serializer().encode_into(message, &mut frame)?;
    transport.queue_message(frame)?;
    while !transport.flush()? {}
    Ok(())
}

/// Reads the next WAMP message, skipping control frames, until `deadline`.
pub(crate) fn recv_blocking(
    transport: &mut Transport,
    deadline: Instant,
    waiting_for: &str,
) -> Result<Message, Error> {
    loop {
        if Instant::now() >= deadline {
            return Err(Error::Timeout {
                operation: waiting_for.to_owned(),
                after: Duration::ZERO,
            });
        }
        match transport.read()? {
            Some(Incoming::Message(payload)) => {
                let message = transport.serializer().decode(&payload)?;
                log::debug!("received {:?}", LogSafe(&message));
                return Ok(message);
            }
            Some(Incoming::Pong | Incoming::Control) | None => {}
        }
    }
}

/// Says HELLO and authenticates. Returns the WELCOME, or the router's ABORT as an error.
pub(crate) fn join(transport: &mut Transport, config: &SessionConfig) -> Result<Welcome, Error> {
    let deadline = crate::deadline::after(config.transport.connect_timeout);
    let mut details = Dict::new();
    details.insert("agent".into(), Value::String(config.agent.clone()));
    details.insert("roles".into(), Value::Dict(roles()));
    let methods: Vec<Value> = config
        .auth
        .methods()
        .iter()
        .map(|m| Value::String((*m).to_owned()))
        .collect();
    details.insert("authmethods".into(), Value::List(methods));
    if let Some(authid) = config.auth.authid() {
        details.insert("authid".into(), Value::String(authid.to_owned()));
    }
    // SCRAM's state lives from HELLO (our nonce) to WELCOME (the router's proof).
    let mut scram = match &config.auth {
        Auth::Scram { authid, password } => Some(ScramLogin::new(authid, password)?),
        _ => None,
    };
    let authextra = match (&config.auth, &scram) {
        (Auth::Cryptosign { key, .. }, _) => Some(super::cryptosign::hello_extra(key)),
        (_, Some(scram)) => Some(scram.hello_extra()),
        _ => None,
    };
    if let Some(authextra) = authextra {
        details.insert("authextra".into(), Value::Dict(authextra));
    }
    send_blocking(
        transport,
        &Message::Hello {
            realm: config.realm.clone(),
            details,
        },
    )?;
    let waiting = format!("joining realm '{}'", config.realm);
    loop {
        match recv_blocking(transport, deadline, &waiting).map_err(|e| with_timeout(e, config))? {
            Message::Welcome { session, details } => {
                if let Some(scram) = &scram {
                    scram.verify_welcome(&details)?;
                }
                return Ok(Welcome { session, details });
            }
            Message::Abort { details, reason } => {
                return Err(Error::Aborted {
                    reason,
                    message: details
                        .get("message")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                });
            }
            Message::Challenge { authmethod, extra } => {
                let (signature, extra) = match (scram.as_mut(), authmethod.as_str()) {
                    (Some(scram), "scram" | "wamp-scram") => scram.answer(&authmethod, &extra)?,
                    _ => (config.auth.answer(&authmethod, &extra)?, Dict::new()),
                };
                send_blocking(transport, &Message::Authenticate { signature, extra })?;
            }
            other => {
                return Err(Error::Protocol(
                    crate::protocol::ProtocolError::Unexpected {
                        message: other.name(),
                        answering: "HELLO",
                    },
                ));
            }
        }
    }
}

fn with_timeout(e: Error, config: &SessionConfig) -> Error {
    match e {
        Error::Timeout { operation, .. } => Error::Timeout {
            operation,
            after: config.transport.connect_timeout,
        },
        other => other,
    }
}

impl Auth {
    /// The `authmethods` offered in HELLO.
    pub(crate) fn methods(&self) -> Vec<&'static str> {
        match self {
            Auth::Anonymous => vec!["anonymous"],
            Auth::Ticket { .. } => vec!["ticket"],
            Auth::WampCra { .. } => vec!["wampcra"],
            Auth::Cryptosign { .. } => vec!["cryptosign"],
            // Crossbar's name first: it is what our users' routers speak.
            Auth::Scram { .. } => vec!["scram", "wamp-scram"],
        }
    }

    pub(crate) fn authid(&self) -> Option<&str> {
        match self {
            Auth::Anonymous => None,
            Auth::Cryptosign { authid, .. } => authid.as_deref(),
            Auth::Ticket { authid, .. }
            | Auth::WampCra { authid, .. }
            | Auth::Scram { authid, .. } => Some(authid),
        }
    }

    /// Answers a CHALLENGE of a method without state (SCRAM is answered by its
    /// [`ScramLogin`]).
    fn answer(&self, method: &str, extra: &Dict) -> Result<crate::Secret, Error> {
        match (self, method) {
            (Auth::Ticket { ticket, .. }, "ticket") => Ok(ticket.clone()),
            (Auth::WampCra { secret, .. }, "wampcra") => super::cra::sign(secret, extra),
            (Auth::Cryptosign { key, .. }, "cryptosign") => {
                super::cryptosign::sign(key, extra).map(crate::Secret::new)
            }
            (_, other) => Err(Error::Authentication(format!(
                "the router asked for '{other}' authentication, but this client is configured for {}",
                self.methods().join(", ")
            ))),
        }
    }
}
