//! WAMP RawSocket: a 4-byte handshake, then frames of a 4-byte header and a payload.
//!
//! Header byte 0 holds the frame type (0 message, 1 ping, 2 pong) in its low three bits; bytes
//! 1-3 are the payload length, big-endian. Each frame is written with one `write` call (the
//! header is placed in front of the encoded message when it is encoded, see
//! [`super::FRAME_HEADROOM`]), and TCP_NODELAY is on, so no frame waits for Nagle's algorithm.

use std::io::{Read, Write};

use crate::Error;
use crate::protocol::Serializer;

use super::frames::{FrameReader, Header, Outgoing};
use super::stream::Stream;
use super::{FRAME_HEADROOM, Incoming};

const MAGIC: u8 = 0x7F;
const FRAME_MESSAGE: u8 = 0;
const FRAME_PING: u8 = 1;
const FRAME_PONG: u8 = 2;
/// The largest length a RawSocket peer can announce: 2^(9+15) = 16 MiB.
pub(crate) const MAX_LENGTH_EXPONENT: u8 = 15;
const HEADER_LEN: usize = 4;

pub(crate) struct RawSocket {
    stream: Stream,
    /// The most the router accepts from us, from its handshake reply.
    pub max_outgoing: usize,
    /// The most we accept, as announced in our handshake.
    max_incoming: usize,
    outgoing: Outgoing,
    /// Each frame with its type.
    reader: FrameReader<u8>,
}

/// The length an exponent announces: 2^(9+exp) bytes.
fn length_for_exponent(exp: u8) -> usize {
    1usize << (9 + exp as u32)
}

/// The smallest exponent whose length covers `max`, capped at the protocol's 16 MiB.
pub(crate) fn exponent_for_length(max: usize) -> u8 {
    (0..=MAX_LENGTH_EXPONENT)
        .find(|exp| length_for_exponent(*exp) >= max)
        .unwrap_or(MAX_LENGTH_EXPONENT)
}

/// What the router answered to our handshake.
pub(crate) enum Handshake {
    Accepted(RawSocket),
    /// The router does not speak this serializer: try the next one on a new connection.
    SerializerUnsupported,
}

impl RawSocket {
    /// Runs the client handshake on a blocking stream.
    pub fn handshake(
        mut stream: Stream,
        serializer: Serializer,
        max_incoming: usize,
    ) -> Result<Handshake, Error> {
        let exp = exponent_for_length(max_incoming);
        let hello = [MAGIC, (exp << 4) | serializer.rawsocket_id(), 0, 0];
        stream
            .write_all(&hello)
            .map_err(|e| Error::io("sending the RawSocket handshake", e))?;
        let mut reply = [0u8; 4];
        stream
            .read_exact(&mut reply)
            .map_err(|e| Error::io("reading the RawSocket handshake reply", e))?;
        if reply[0] != MAGIC {
            return Err(Error::RawSocket(format!(
                "the peer is not a WAMP RawSocket router (first handshake byte 0x{:02x}, expected 0x7f)",
                reply[0]
            )));
        }
        if reply[1] & 0x0F == 0 {
            return match reply[1] >> 4 {
                1 => Ok(Handshake::SerializerUnsupported),
                2 => Err(Error::RawSocket(
                    "the router refused our maximum message length".into(),
                )),
                3 => Err(Error::RawSocket(
                    "the router says we used reserved handshake bits".into(),
                )),
                4 => Err(Error::RawSocket(
                    "the router has reached its maximum connection count".into(),
                )),
                other => Err(Error::RawSocket(format!(
                    "the router refused the handshake with error code {other}"
                ))),
            };
        }
        if reply[1] & 0x0F != serializer.rawsocket_id() {
            return Err(Error::RawSocket(format!(
                "asked for serializer {} but the router answered with serializer number {}",
                serializer,
                reply[1] & 0x0F
            )));
        }
        let max_outgoing = length_for_exponent(reply[1] >> 4);
        Ok(Handshake::Accepted(RawSocket {
            stream,
            max_outgoing,
            max_incoming: length_for_exponent(exp),
            outgoing: Outgoing::default(),
            reader: FrameReader::new(),
        }))
    }

    pub fn stream_mut(&mut self) -> &mut Stream {
        &mut self.stream
    }

    /// Queues a message frame. `frame` holds [`FRAME_HEADROOM`] spare bytes, then the payload.
    pub fn queue_message(&mut self, frame: Vec<u8>) -> Result<(), Error> {
        self.queue(FRAME_MESSAGE, frame)
    }

    fn queue(&mut self, frame_type: u8, mut frame: Vec<u8>) -> Result<(), Error> {
        let len = frame.len() - FRAME_HEADROOM;
        if len > self.max_outgoing.min(0xFF_FFFF) {
            return Err(Error::PayloadTooLarge {
                message: "RawSocket frame".into(),
                size: len,
                limit: self.max_outgoing.min(0xFF_FFFF),
            });
        }
        let start = FRAME_HEADROOM - HEADER_LEN;
        frame[start] = frame_type;
        frame[start + 1..FRAME_HEADROOM].copy_from_slice(&(len as u32).to_be_bytes()[1..]);
        if frame_type == FRAME_PONG {
            self.outgoing.push_pong(frame, start);
        } else {
            self.outgoing.push(frame, start);
        }
        Ok(())
    }

    /// Writes queued frames. `Ok(true)` when all are out, `Ok(false)` when the socket is full.
    pub fn flush(&mut self) -> Result<bool, Error> {
        self.outgoing.flush(&mut self.stream)
    }

    /// Reads the next frame. `Ok(None)` when no whole frame is available yet (non-blocking).
    pub fn read(&mut self) -> Result<Option<Incoming>, Error> {
        let max_incoming = self.max_incoming;
        match self.reader.next(&mut self.stream, |available| {
            parse_header(available, max_incoming)
        })? {
            Some((frame_type, payload)) => self.frame(frame_type, payload),
            None => Ok(None),
        }
    }

    /// True while a frame's payload is arriving.
    pub fn in_large_frame(&self) -> bool {
        self.reader.in_large_frame()
    }

    fn frame(&mut self, frame_type: u8, payload: Vec<u8>) -> Result<Option<Incoming>, Error> {
        match frame_type {
            FRAME_MESSAGE => Ok(Some(Incoming::Message(crate::memory::payload(payload)))),
            FRAME_PING => {
                let mut pong = vec![0u8; FRAME_HEADROOM];
                pong.extend_from_slice(&payload);
                self.queue(FRAME_PONG, pong)?;
                Ok(Some(Incoming::Control))
            }
            FRAME_PONG => Ok(Some(Incoming::Pong)),
            other => Err(Error::RawSocket(format!("unknown frame type {other}"))),
        }
    }
}

fn parse_header(available: &[u8], max_incoming: usize) -> Result<Option<Header<u8>>, Error> {
    if available.len() < HEADER_LEN {
        return Ok(None);
    }
    if available[0] & 0xF8 != 0 {
        return Err(Error::RawSocket(format!(
            "frame header uses reserved bits (first byte 0x{:02x})",
            available[0]
        )));
    }
    let len = u32::from_be_bytes([0, available[1], available[2], available[3]]) as usize;
    if len > max_incoming {
        return Err(Error::RawSocket(format!(
            "the router sent a {len}-byte frame, over the {max_incoming}-byte maximum we announced"
        )));
    }
    Ok(Some(Header {
        info: available[0] & 0x07,
        header_len: HEADER_LEN,
        payload_len: len,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponents_cover_the_requested_length() {
        assert_eq!(exponent_for_length(512), 0);
        assert_eq!(exponent_for_length(513), 1);
        assert_eq!(exponent_for_length(16 * 1024 * 1024), 15);
        assert_eq!(exponent_for_length(usize::MAX), 15);
        assert_eq!(length_for_exponent(15), 16 * 1024 * 1024);
    }
}
