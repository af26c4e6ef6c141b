//! The buffers both framings share: a queue of outgoing frames, each written from our own
//! encoded buffer, and a reader that parses headers out of one small buffer and reads each
//! frame's payload into a buffer of exactly its size.
//!
//! Nothing here outlives a message: after a burst of large messages a connection holds the
//! 64 KiB read buffer and nothing else, whichever framing it speaks. (tungstenite's own
//! codec keeps read and write buffers as large as the largest frame for the connection's
//! life; see BENCHMARKS.md.)

use std::collections::VecDeque;
use std::io::{self, Read, Write};

use crate::Error;

use super::stream::Stream;

/// The read buffer: headers and small frames are parsed out of it.
const READ_CHUNK: usize = 64 * 1024;

/// Frames waiting for the socket, each sent from its own buffer.
#[derive(Default)]
pub(super) struct Outgoing {
    /// Each frame with the offset its bytes start at (the header is placed at the end of the
    /// headroom, so shorter headers start later).
    queue: VecDeque<Queued>,
    /// How much of the front frame has been written, counted from its start.
    written: usize,
    /// How many queued frames answer a ping.
    pongs: usize,
}

struct Queued {
    frame: Vec<u8>,
    start: usize,
    is_pong: bool,
}

impl Outgoing {
    pub fn push(&mut self, frame: Vec<u8>, start: usize) {
        self.queue.push_back(Queued {
            frame,
            start,
            is_pong: false,
        });
    }

    /// Queues the answer to a ping, in place of an earlier answer that has not begun to go
    /// out: a router that pings while it does not read gets one answer waiting, not a queue
    /// that grows with every ping. (RFC 6455, 5.5.3, lets a pong answer the latest ping only.)
    pub fn push_pong(&mut self, frame: Vec<u8>, start: usize) {
        if self.pongs > 0 {
            let untouched = usize::from(self.written > 0);
            let waiting = self
                .queue
                .iter_mut()
                .skip(untouched)
                .rev()
                .find(|queued| queued.is_pong);
            if let Some(waiting) = waiting {
                waiting.frame = frame;
                waiting.start = start;
                return;
            }
        }
        self.pongs += 1;
        self.queue.push_back(Queued {
            frame,
            start,
            is_pong: true,
        });
    }

    /// Frames waiting.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Writes queued frames. `Ok(true)` when all are out, `Ok(false)` when the socket is full.
    pub fn flush(&mut self, stream: &mut Stream) -> Result<bool, Error> {
        while let Some(front) = self.queue.front() {
            match stream.write(&front.frame[front.start + self.written..]) {
                Ok(0) => return Err(Error::lost("the router closed the connection")),
                Ok(n) => {
                    self.written += n;
                    if front.start + self.written == front.frame.len() {
                        let done = self.queue.pop_front().expect("the front one");
                        self.written = 0;
                        self.pongs -= usize::from(done.is_pong);
                        // Also what says a large message is done.
                        crate::memory::give_back(done.frame);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io("writing to the router", e)),
            }
        }
        Ok(true)
    }
}

/// A frame header as a framing parsed it: what the framing needs to know of the frame, and
/// the sizes of the header and the payload.
pub(super) struct Header<H> {
    pub info: H,
    pub header_len: usize,
    pub payload_len: usize,
}

/// Reads frames: headers from a small buffer, each payload into a buffer of its own.
pub(super) struct FrameReader<H> {
    /// Allocated once; `inbuf[inpos..inend]` is received but not yet parsed.
    inbuf: Box<[u8]>,
    inpos: usize,
    inend: usize,
    /// A frame whose payload had not all arrived: read straight into its buffer.
    partial: Option<(H, Vec<u8>, usize)>,
}

impl<H> FrameReader<H> {
    pub fn new() -> FrameReader<H> {
        FrameReader::starting_with(&[])
    }

    /// A reader whose first bytes were read already (past the end of a handshake).
    pub fn starting_with(received: &[u8]) -> FrameReader<H> {
        let mut inbuf = vec![0u8; READ_CHUNK.max(received.len())].into_boxed_slice();
        inbuf[..received.len()].copy_from_slice(received);
        FrameReader {
            inbuf,
            inpos: 0,
            inend: received.len(),
            partial: None,
        }
    }

    /// True while a frame's payload is arriving.
    pub fn in_large_frame(&self) -> bool {
        self.partial.is_some()
    }

    /// The next whole frame; `Ok(None)` when none is available yet (non-blocking, or a
    /// blocking read that timed out). `parse` looks at the bytes received and not yet used
    /// and returns the header they start with, or `None` if they do not hold a whole one.
    pub fn next(
        &mut self,
        stream: &mut Stream,
        mut parse: impl FnMut(&[u8]) -> Result<Option<Header<H>>, Error>,
    ) -> Result<Option<(H, Vec<u8>)>, Error> {
        loop {
            if let Some((_, payload, filled)) = &self.partial {
                if *filled == payload.len() {
                    let (info, payload, _) = self.partial.take().expect("checked above");
                    return Ok(Some((info, payload)));
                }
            } else if let Some(header) = parse(&self.inbuf[self.inpos..self.inend])? {
                let body_start = self.inpos + header.header_len;
                let arrived = self.inend - body_start;
                if arrived >= header.payload_len {
                    let payload = self.inbuf[body_start..body_start + header.payload_len].to_vec();
                    self.inpos = body_start + header.payload_len;
                    return Ok(Some((header.info, payload)));
                }
                // The rest of the payload goes straight into its own buffer, so a megabyte
                // is not shuffled through the small one.
                let mut payload = crate::memory::reading_buffer(header.payload_len);
                payload[..arrived].copy_from_slice(&self.inbuf[body_start..self.inend]);
                self.inpos = 0;
                self.inend = 0;
                self.partial = Some((header.info, payload, arrived));
            }
            if !self.fill(stream)? {
                return Ok(None);
            }
        }
    }

    /// Reads more bytes into the buffer or into the arriving frame's payload. `Ok(false)`
    /// when nothing could be read now.
    fn fill(&mut self, stream: &mut Stream) -> Result<bool, Error> {
        let result = if let Some((_, payload, filled)) = &mut self.partial {
            stream
                .read(&mut payload[*filled..])
                .inspect(|n| *filled += n)
        } else {
            if self.inpos > 0 {
                // Move the unparsed tail (less than one header and payload) to the front.
                self.inbuf.copy_within(self.inpos..self.inend, 0);
                self.inend -= self.inpos;
                self.inpos = 0;
            }
            stream
                .read(&mut self.inbuf[self.inend..])
                .inspect(|n| self.inend += n)
        };
        match result {
            Ok(0) => Err(Error::lost("the router closed the connection")),
            Ok(_) => Ok(true),
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut =>
            {
                Ok(false)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(true),
            Err(e) => Err(Error::io("reading from the router", e)),
        }
    }
}
