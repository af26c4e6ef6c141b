//! Decoding: [`Message::from_value`] reads a message from the array form every serializer
//! decodes to.

use super::{Id, Message, ProtocolError, code, code_name, is_passthru};
use crate::Secret;
use crate::protocol::value::{Dict, Value};

impl Message {
    /// Decodes the array form `[CODE, ...]` that every serializer produces.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::NotAMessage`], [`ProtocolError::UnknownCode`],
    /// [`ProtocolError::TooShort`] or [`ProtocolError::WrongField`], naming what is wrong.
    pub fn from_value(value: Value) -> Result<Message, ProtocolError> {
        let mut items = match value {
            Value::List(items) => items,
            other => {
                return Err(ProtocolError::NotAMessage {
                    found: other.type_name(),
                });
            }
        };
        let code = match items.first() {
            Some(Value::Integer(code)) if *code >= 0 => *code as u64,
            Some(other) => {
                return Err(ProtocolError::NotAMessage {
                    found: other.type_name(),
                });
            }
            None => {
                return Err(ProtocolError::NotAMessage {
                    found: "an empty list",
                });
            }
        };
        // Drain the fields front to back, moving each value out instead of cloning it.
        items.remove(0);
        let name = code_name(code);
        let mut fields = Fields {
            message: name,
            len: items.len() + 1,
            iter: items.into_iter(),
        };
        let message = match code {
            code::WELCOME => Message::Welcome {
                session: fields.id("Session|id", 3)?,
                details: fields.dict("Details|dict", 3)?,
            },
            code::ABORT => Message::Abort {
                details: fields.dict("Details|dict", 3)?,
                reason: fields.uri("Reason|uri", 3)?,
            },
            code::CHALLENGE => Message::Challenge {
                authmethod: fields.string("AuthMethod|string", 3)?,
                extra: fields.dict("Extra|dict", 3)?,
            },
            code::GOODBYE => Message::Goodbye {
                details: fields.dict("Details|dict", 3)?,
                reason: fields.uri("Reason|uri", 3)?,
            },
            code::ERROR => {
                let request_type = fields.id("REQUEST.Type|int", 5)?;
                let request = fields.id("REQUEST.Request|id", 5)?;
                let details = fields.dict("Details|dict", 5)?;
                let error = fields.uri("Error|uri", 5)?;
                let (args, kwargs) = fields.payload(&details)?;
                Message::Error {
                    request_type,
                    request,
                    details,
                    error,
                    args,
                    kwargs,
                }
            }
            code::PUBLISHED => Message::Published {
                request: fields.id("PUBLISH.Request|id", 3)?,
                publication: fields.id("Publication|id", 3)?,
            },
            code::SUBSCRIBED => Message::Subscribed {
                request: fields.id("SUBSCRIBE.Request|id", 3)?,
                subscription: fields.id("Subscription|id", 3)?,
            },
            code::UNSUBSCRIBED => Message::Unsubscribed {
                request: fields.id("UNSUBSCRIBE.Request|id", 2)?,
                details: fields.optional_dict("Details|dict")?,
            },
            code::EVENT => {
                let subscription = fields.id("SUBSCRIBED.Subscription|id", 4)?;
                let publication = fields.id("PUBLISHED.Publication|id", 4)?;
                let details = fields.dict("Details|dict", 4)?;
                let (args, kwargs) = fields.payload(&details)?;
                Message::Event {
                    subscription,
                    publication,
                    details,
                    args,
                    kwargs,
                }
            }
            code::RESULT => {
                let request = fields.id("CALL.Request|id", 3)?;
                let details = fields.dict("Details|dict", 3)?;
                let (args, kwargs) = fields.payload(&details)?;
                Message::Result {
                    request,
                    details,
                    args,
                    kwargs,
                }
            }
            code::REGISTERED => Message::Registered {
                request: fields.id("REGISTER.Request|id", 3)?,
                registration: fields.id("Registration|id", 3)?,
            },
            code::UNREGISTERED => Message::Unregistered {
                request: fields.id("UNREGISTER.Request|id", 2)?,
                details: fields.optional_dict("Details|dict")?,
            },
            code::INVOCATION => {
                let request = fields.id("Request|id", 4)?;
                let registration = fields.id("REGISTERED.Registration|id", 4)?;
                let details = fields.dict("Details|dict", 4)?;
                let (args, kwargs) = fields.payload(&details)?;
                Message::Invocation {
                    request,
                    registration,
                    details,
                    args,
                    kwargs,
                }
            }
            code::INTERRUPT => Message::Interrupt {
                request: fields.id("INVOCATION.Request|id", 3)?,
                options: fields.dict("Options|dict", 3)?,
            },
            // Messages a router would send only to a router or that a client sends: decode them
            // too, so that tests and tools can read their own output back.
            code::HELLO => Message::Hello {
                realm: fields.uri("Realm|uri", 3)?,
                details: fields.dict("Details|dict", 3)?,
            },
            code::AUTHENTICATE => Message::Authenticate {
                signature: Secret::new(fields.string("Signature|string", 3)?),
                extra: fields.dict("Extra|dict", 3)?,
            },
            code::PUBLISH => {
                let request = fields.id("Request|id", 4)?;
                let options = fields.dict("Options|dict", 4)?;
                let topic = fields.uri("Topic|uri", 4)?;
                let (args, kwargs) = fields.payload(&options)?;
                Message::Publish {
                    request,
                    options,
                    topic,
                    args,
                    kwargs,
                }
            }
            code::SUBSCRIBE => Message::Subscribe {
                request: fields.id("Request|id", 4)?,
                options: fields.dict("Options|dict", 4)?,
                topic: fields.uri("Topic|uri", 4)?,
            },
            code::UNSUBSCRIBE => Message::Unsubscribe {
                request: fields.id("Request|id", 3)?,
                subscription: fields.id("SUBSCRIBED.Subscription|id", 3)?,
            },
            code::CALL => {
                let request = fields.id("Request|id", 4)?;
                let options = fields.dict("Options|dict", 4)?;
                let procedure = fields.uri("Procedure|uri", 4)?;
                let (args, kwargs) = fields.payload(&options)?;
                Message::Call {
                    request,
                    options,
                    procedure,
                    args,
                    kwargs,
                }
            }
            code::CANCEL => Message::Cancel {
                request: fields.id("CALL.Request|id", 3)?,
                options: fields.dict("Options|dict", 3)?,
            },
            code::REGISTER => Message::Register {
                request: fields.id("Request|id", 4)?,
                options: fields.dict("Options|dict", 4)?,
                procedure: fields.uri("Procedure|uri", 4)?,
            },
            code::UNREGISTER => Message::Unregister {
                request: fields.id("Request|id", 3)?,
                registration: fields.id("REGISTERED.Registration|id", 3)?,
            },
            code::YIELD => {
                let request = fields.id("INVOCATION.Request|id", 3)?;
                let options = fields.dict("Options|dict", 3)?;
                let (args, kwargs) = fields.payload(&options)?;
                Message::Yield {
                    request,
                    options,
                    args,
                    kwargs,
                }
            }
            other => return Err(ProtocolError::UnknownCode(other)),
        };
        Ok(message)
    }
}

/// Reads a message's fields in order, with errors that name the message and the field.
struct Fields {
    message: &'static str,
    len: usize,
    iter: std::vec::IntoIter<Value>,
}

impl Fields {
    fn required(&mut self, min: usize) -> Result<Value, ProtocolError> {
        self.iter.next().ok_or(ProtocolError::TooShort {
            message: self.message,
            len: self.len,
            min,
        })
    }

    fn wrong(&self, field: &'static str, expected: &'static str, found: &Value) -> ProtocolError {
        ProtocolError::WrongField {
            message: self.message,
            field,
            expected,
            found: found.type_name(),
        }
    }

    fn id(&mut self, field: &'static str, min: usize) -> Result<Id, ProtocolError> {
        match self.required(min)? {
            Value::Integer(id) if (0..=u64::MAX as i128).contains(&id) => Ok(id as u64),
            other => Err(self.wrong(field, "a non-negative integer", &other)),
        }
    }

    fn string(&mut self, field: &'static str, min: usize) -> Result<String, ProtocolError> {
        match self.required(min)? {
            Value::String(s) => Ok(s),
            other => Err(self.wrong(field, "a string", &other)),
        }
    }

    fn uri(&mut self, field: &'static str, min: usize) -> Result<String, ProtocolError> {
        self.string(field, min)
    }

    fn dict(&mut self, field: &'static str, min: usize) -> Result<Dict, ProtocolError> {
        match self.required(min)? {
            Value::Dict(d) => Ok(d),
            other => Err(self.wrong(field, "a dict", &other)),
        }
    }

    fn optional_dict(&mut self, field: &'static str) -> Result<Option<Dict>, ProtocolError> {
        match self.iter.next() {
            None => Ok(None),
            Some(Value::Dict(d)) => Ok(Some(d)),
            Some(other) => Err(self.wrong(field, "a dict", &other)),
        }
    }

    /// The positional and keyword arguments; in payload passthru mode (`enc_algo` in the
    /// message's options or details) the payload, whatever its type, as the only positional
    /// one.
    fn payload(&mut self, options: &Dict) -> Result<(Vec<Value>, Dict), ProtocolError> {
        let args = match self.iter.next() {
            None | Some(Value::Null) => Vec::new(),
            Some(payload) if is_passthru(options) => {
                // The payload stands in for the arguments and the keyword arguments alike: a
                // message that also carries keyword arguments is not in the specification's
                // form (and could not be written back as it came).
                let kwargs = self.kwargs()?;
                if !kwargs.is_empty() {
                    return Err(ProtocolError::WrongField {
                        message: self.message,
                        field: "ArgumentsKw",
                        expected: "nothing after a passthru payload",
                        found: "dict",
                    });
                }
                return Ok((vec![payload], kwargs));
            }
            Some(Value::List(l)) => l,
            Some(other) => return Err(self.wrong("Arguments|list", "a list", &other)),
        };
        Ok((args, self.kwargs()?))
    }

    fn kwargs(&mut self) -> Result<Dict, ProtocolError> {
        match self.iter.next() {
            None | Some(Value::Null) => Ok(Dict::new()),
            Some(Value::Dict(d)) => Ok(d),
            Some(other) => Err(self.wrong("ArgumentsKw|dict", "a dict", &other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_passthru_payload_comes_alone() {
        // Found by fuzzing: with keyword arguments after the payload, the message decoded
        // into one it could not be written back as.
        let json = crate::protocol::Serializer::Json;
        let with_kwargs = br#"[68,1,5,{"enc_algo":"x_app"},["opaque"],{"n":7}]"#;
        let error = json.decode(with_kwargs).unwrap_err().to_string();
        assert!(error.contains("ArgumentsKw"), "{error}");
        // Empty keyword arguments say nothing, and are dropped.
        for alone in [
            &br#"[68,1,5,{"enc_algo":"x_app"},["opaque"],{}]"#[..],
            &br#"[68,1,5,{"enc_algo":"x_app"},["opaque"]]"#[..],
        ] {
            let message = json.decode(alone).unwrap();
            let again = json.decode(&json.encode(&message).unwrap()).unwrap();
            assert_eq!(again, message);
            let Message::Invocation { args, kwargs, .. } = message else {
                panic!("not an INVOCATION");
            };
            assert_eq!(args, vec![Value::List(vec![Value::from("opaque")])]);
            assert!(kwargs.is_empty());
        }
    }
}
