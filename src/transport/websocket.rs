//! WAMP over WebSocket (`ws://`, `wss://`): one WAMP message per WebSocket message, the
//! serializer chosen through the subprotocol (`wamp.2.cbor`, ...).
//!
//! tungstenite runs the HTTP upgrade and its frame header codec reads and writes every
//! header; the frames themselves go through the buffers RawSocket uses (`frames`): each
//! message is masked in its own encoded buffer and leaves in one write, and each arriving
//! payload is read into a buffer of its size. tungstenite's `WebSocket` would copy each frame
//! into buffers it keeps as large as the largest message for the connection's life.

use std::io::{self, Cursor};

use tungstenite::client::IntoClientRequest;
use tungstenite::http::HeaderValue;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::protocol::frame::FrameHeader;
use tungstenite::protocol::frame::coding::{CloseCode, Control, Data, OpCode};

use crate::Error;
use crate::protocol::Serializer;

use super::frames::{FrameReader, Header, Outgoing};
use super::stream::Stream;
use super::{FRAME_HEADROOM, Incoming};

/// The stream during the upgrade, keeping a copy of every byte it reads.
struct Recording {
    stream: Stream,
    read: Vec<u8>,
}

impl io::Read for Recording {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.stream.read(buf)?;
        self.read.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

impl io::Write for Recording {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

/// A control frame's payload is at most this long (RFC 6455, 5.5).
const MAX_CONTROL_PAYLOAD: usize = 125;

pub(crate) struct WebSocketTransport {
    stream: Stream,
    serializer: Serializer,
    /// The largest message (all its fragments) we accept.
    max_incoming: usize,
    outgoing: Outgoing,
    reader: FrameReader<FrameHeader>,
    /// A fragmented message being put together: whether it is text, and its bytes so far.
    fragments: Option<(bool, Vec<u8>)>,
    masks: MaskSource,
    close_sent: bool,
}

impl WebSocketTransport {
    /// Runs the HTTP upgrade on a blocking stream, offering `serializers` in preference order.
    pub fn handshake(
        stream: Stream,
        url: &str,
        serializers: &[Serializer],
        max_incoming: usize,
    ) -> Result<WebSocketTransport, Error> {
        let mut request = url.into_client_request().map_err(|e| Error::InvalidUrl {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
        let offered = serializers
            .iter()
            .map(|s| s.websocket_subprotocol())
            .collect::<Vec<_>>()
            .join(", ");
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_str(&offered).expect("subprotocol names are ASCII"),
        );
        // Only the handshake runs through tungstenite's WebSocket: its buffers are dropped
        // with it, and the one it reads the response into is no larger than this.
        let config = WebSocketConfig::default().read_buffer_size(4 * 1024);
        let recording = Recording {
            stream,
            read: Vec::new(),
        };
        let (socket, response) = tungstenite::client::client_with_config(
            request,
            recording,
            Some(config),
        )
        .map_err(|e| match e {
            tungstenite::HandshakeError::Failure(e) => {
                Error::websocket(format!("WebSocket handshake with {url}"), e)
            }
            tungstenite::HandshakeError::Interrupted(_) => Error::io(
                format!("WebSocket handshake with {url}"),
                io::Error::new(io::ErrorKind::TimedOut, "the router did not answer in time"),
            ),
        })?;
        let chosen = response
            .headers()
            .get("Sec-WebSocket-Protocol")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let serializer =
            Serializer::from_websocket_subprotocol(chosen).ok_or_else(|| Error::WebSocket {
                context: format!("WebSocket handshake with {url}"),
                status: None,
                source: format!(
                    "the router chose subprotocol {chosen:?}, none of those offered ({offered})"
                )
                .into(),
            })?;
        // tungstenite hands what it read past the response to its WebSocket, which we drop:
        // those bytes are taken from the copy. (A WAMP router says nothing before our HELLO,
        // but a peer that does must not have its first frame cut.)
        let Recording { stream, read } = socket.into_inner();
        let past_response = read
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(&[][..], |end| &read[end + 4..]);
        let mut transport = WebSocketTransport::over(stream, serializer, max_incoming);
        transport.reader = FrameReader::starting_with(past_response);
        Ok(transport)
    }

    /// Frames on a stream whose handshake is done.
    fn over(stream: Stream, serializer: Serializer, max_incoming: usize) -> WebSocketTransport {
        WebSocketTransport {
            stream,
            serializer,
            max_incoming,
            outgoing: Outgoing::default(),
            reader: FrameReader::new(),
            fragments: None,
            masks: MaskSource::default(),
            close_sent: false,
        }
    }

    pub fn serializer(&self) -> Serializer {
        self.serializer
    }

    pub fn stream_mut(&mut self) -> &mut Stream {
        &mut self.stream
    }

    /// Queues a message. `frame` holds [`FRAME_HEADROOM`] spare bytes, then the payload,
    /// which is masked where it lies.
    pub fn queue_message(&mut self, frame: Vec<u8>) -> Result<(), Error> {
        let opcode = if self.serializer.is_binary() {
            Data::Binary
        } else {
            Data::Text
        };
        self.queue(OpCode::Data(opcode), frame);
        Ok(())
    }

    pub fn queue_ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.queue_control(Control::Ping, payload);
        Ok(())
    }

    fn queue_control(&mut self, control: Control, payload: &[u8]) {
        let mut frame = Vec::with_capacity(FRAME_HEADROOM + payload.len());
        frame.resize(FRAME_HEADROOM, 0);
        frame.extend_from_slice(payload);
        self.queue(OpCode::Control(control), frame);
    }

    /// Writes the header at the end of the headroom and masks the payload: a client masks
    /// every frame (RFC 6455, 5.3).
    fn queue(&mut self, opcode: OpCode, mut frame: Vec<u8>) {
        let mask = self.masks.next();
        let header = FrameHeader {
            is_final: true,
            rsv1: false,
            rsv2: false,
            rsv3: false,
            opcode,
            mask: Some(mask),
        };
        let len = (frame.len() - FRAME_HEADROOM) as u64;
        let start = FRAME_HEADROOM - header.len(len);
        header
            .format(len, &mut &mut frame[start..FRAME_HEADROOM])
            .expect("the headroom holds the longest header");
        apply_mask(&mut frame[FRAME_HEADROOM..], mask);
        if opcode == OpCode::Control(Control::Pong) {
            self.outgoing.push_pong(frame, start);
        } else {
            self.outgoing.push(frame, start);
        }
    }

    pub fn flush(&mut self) -> Result<bool, Error> {
        self.outgoing.flush(&mut self.stream)
    }

    /// True while a frame's payload is arriving.
    pub fn in_large_frame(&self) -> bool {
        self.reader.in_large_frame()
    }

    pub fn read(&mut self) -> Result<Option<Incoming>, Error> {
        let max_incoming = self.max_incoming;
        loop {
            let Some((header, payload)) = self.reader.next(&mut self.stream, |available| {
                parse_header(available, max_incoming)
            })?
            else {
                return Ok(None);
            };
            if let Some(incoming) = self.frame(header, payload)? {
                return Ok(Some(incoming));
            }
        }
    }

    /// What a frame makes; `None` for a fragment of a message still incomplete.
    fn frame(&mut self, header: FrameHeader, payload: Vec<u8>) -> Result<Option<Incoming>, Error> {
        match header.opcode {
            OpCode::Data(data) => self.data_frame(data, header.is_final, payload),
            OpCode::Control(Control::Ping) => {
                self.queue_control(Control::Pong, &payload);
                Ok(Some(Incoming::Control))
            }
            OpCode::Control(Control::Pong) => Ok(Some(Incoming::Pong)),
            OpCode::Control(Control::Close) => {
                let reason = close_reason(&payload);
                // Answer with the code the router sent (RFC 6455, 5.5.1); the session drops
                // the connection on the error, and close() flushes what it can.
                if !self.close_sent {
                    self.queue_control(Control::Close, &close_answer(&payload));
                    self.close_sent = true;
                }
                Err(Error::lost(match reason {
                    Some(reason) => format!("the router closed the WebSocket: {reason}"),
                    None => "the router closed the WebSocket".to_owned(),
                }))
            }
            OpCode::Control(Control::Reserved(_)) => unreachable!("parse_header refuses it"),
        }
    }

    fn data_frame(
        &mut self,
        data: Data,
        is_final: bool,
        payload: Vec<u8>,
    ) -> Result<Option<Incoming>, Error> {
        let (is_text, message) = match (data, self.fragments.take()) {
            (Data::Text | Data::Binary, None) if is_final => (data == Data::Text, payload),
            (Data::Text | Data::Binary, None) => {
                self.fragments = Some((data == Data::Text, payload));
                return Ok(None);
            }
            (Data::Continue, Some((is_text, mut message))) => {
                if message.len() + payload.len() > self.max_incoming {
                    return Err(protocol_error(format!(
                        "the router sent a message of more than {} bytes, the most we accept",
                        self.max_incoming
                    )));
                }
                message.extend_from_slice(&payload);
                crate::memory::give_back(payload);
                if !is_final {
                    self.fragments = Some((is_text, message));
                    return Ok(None);
                }
                (is_text, message)
            }
            (Data::Continue, None) => {
                return Err(protocol_error(
                    "the router sent a continuation frame with no message to continue",
                ));
            }
            (Data::Text | Data::Binary, Some(_)) => {
                return Err(protocol_error(
                    "the router began a message before finishing the one it was sending",
                ));
            }
            (Data::Reserved(_), _) => unreachable!("parse_header refuses it"),
        };
        if is_text && std::str::from_utf8(&message).is_err() {
            return Err(protocol_error(
                "the router sent a text message that is not UTF-8",
            ));
        }
        Ok(Some(Incoming::Message(crate::memory::payload(message))))
    }

    /// Sends a close frame (unless one went already) and writes what the socket takes now.
    pub fn close(&mut self) {
        if !self.close_sent {
            self.queue_control(Control::Close, &u16::from(CloseCode::Normal).to_be_bytes());
            self.close_sent = true;
        }
        let _ = self.flush();
    }
}

fn protocol_error(reason: impl Into<String>) -> Error {
    Error::WebSocket {
        context: "reading from the router".into(),
        status: None,
        source: reason.into().into(),
    }
}

/// The header `available` starts with, checked against what a server may send a client.
fn parse_header(
    available: &[u8],
    max_incoming: usize,
) -> Result<Option<Header<FrameHeader>>, Error> {
    let mut cursor = Cursor::new(available);
    let (header, len) = match FrameHeader::parse(&mut cursor) {
        Ok(Some(parsed)) => parsed,
        Ok(None) => return Ok(None),
        Err(e) => return Err(protocol_error(e.to_string())),
    };
    if header.rsv1 || header.rsv2 || header.rsv3 {
        // No extension was negotiated, so none may be used.
        return Err(protocol_error(
            "the router set a reserved bit of a frame header",
        ));
    }
    if header.mask.is_some() {
        return Err(protocol_error(
            "the router masked a frame (servers must not)",
        ));
    }
    if let OpCode::Control(_) = header.opcode
        && (!header.is_final || len > MAX_CONTROL_PAYLOAD as u64)
    {
        return Err(protocol_error(
            "the router sent a fragmented or oversized control frame",
        ));
    }
    if len > max_incoming as u64 {
        return Err(protocol_error(format!(
            "the router sent a {len}-byte frame, over the {max_incoming}-byte maximum we accept"
        )));
    }
    Ok(Some(Header {
        info: header,
        header_len: cursor.position() as usize,
        payload_len: len as usize,
    }))
}

/// The payload of our answer to a close frame: its code when it is one a close frame may
/// carry, none when it had none, else 1002 (protocol error), as RFC 6455 (7.4) asks.
fn close_answer(payload: &[u8]) -> Vec<u8> {
    let code = match payload {
        [] => return Vec::new(),
        [high, low, ..] if CloseCode::from(u16::from_be_bytes([*high, *low])).is_allowed() => {
            u16::from_be_bytes([*high, *low])
        }
        _ => u16::from(CloseCode::Protocol),
    };
    code.to_be_bytes().to_vec()
}

/// "the reason (code)" from a close frame's payload, if it has a code.
fn close_reason(payload: &[u8]) -> Option<String> {
    let code = u16::from_be_bytes([*payload.first()?, *payload.get(1)?]);
    let reason = String::from_utf8_lossy(&payload[2..]);
    Some(if reason.is_empty() {
        format!("code {code}")
    } else {
        format!("{reason} (code {code})")
    })
}

/// XORs `payload` with the mask, eight bytes at a time.
fn apply_mask(payload: &mut [u8], mask: [u8; 4]) {
    let mask8 = u64::from_ne_bytes([
        mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3],
    ]);
    let mut chunks = payload.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let word = u64::from_ne_bytes(chunk.try_into().expect("eight bytes")) ^ mask8;
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= mask[i % 4];
    }
}

/// Masking keys from the operating system's random source, fetched 64 at a time: one
/// system call per frame cost more than the rest of sending a small one.
struct MaskSource {
    pool: Box<[u8; 256]>,
    used: usize,
}

impl Default for MaskSource {
    fn default() -> Self {
        MaskSource {
            pool: Box::new([0; 256]),
            used: 256,
        }
    }
}

impl MaskSource {
    fn next(&mut self) -> [u8; 4] {
        if self.used == self.pool.len() {
            // Without the OS's randomness (it does not fail on the systems we run on), a
            // predictable key weakens only what masking guards against: a browser's script
            // steering a proxy's cache. The pool keeps its last keys then.
            if let Err(e) = getrandom::fill(&mut self.pool[..]) {
                log::warn!("no random WebSocket masking keys ({e}); reusing earlier ones");
            }
            self.used = 0;
        }
        let key = self.pool[self.used..self.used + 4]
            .try_into()
            .expect("four bytes");
        self.used += 4;
        key
    }
}

#[cfg(test)]
mod tests {
    //! tungstenite's server side is the other end: it checks our frames as a router would, and
    //! writes frames (fragmented, interleaved, closing) as routers do.

    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;

    use tungstenite::protocol::frame::Frame;
    use tungstenite::protocol::{Role, WebSocket};
    use tungstenite::{Bytes, Message};

    use super::*;

    fn pair(serializer: Serializer, max_incoming: usize) -> (WebSocketTransport, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (stream, _control) =
            Stream::connect_tcp("127.0.0.1", port, Duration::from_millis(200)).unwrap();
        let (server, _) = listener.accept().unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        (
            WebSocketTransport::over(stream, serializer, max_incoming),
            server,
        )
    }

    fn server(socket: TcpStream) -> WebSocket<TcpStream> {
        WebSocket::from_raw_socket(socket, Role::Server, None)
    }

    /// Reads until something comes (the stream's reads time out after 200 ms).
    fn next(client: &mut WebSocketTransport) -> Result<Incoming, Error> {
        for _ in 0..50 {
            if let Some(incoming) = client.read()? {
                return Ok(incoming);
            }
        }
        panic!("nothing arrived");
    }

    fn message(client: &mut WebSocketTransport) -> Vec<u8> {
        match next(client).unwrap() {
            Incoming::Message(payload) => payload.to_vec(),
            Incoming::Pong => panic!("a pong, not a message"),
            Incoming::Control => panic!("a control frame, not a message"),
        }
    }

    fn encoded(payload: &[u8]) -> Vec<u8> {
        let mut frame = vec![0u8; FRAME_HEADROOM];
        frame.extend_from_slice(payload);
        frame
    }

    #[test]
    fn what_we_write_a_server_reads_unmasked() {
        let (mut client, socket) = pair(Serializer::Cbor, 1 << 20);
        let mut server = server(socket);
        // Lengths around each header size: 7-bit, 16-bit and 64-bit, odd ones for the mask's
        // last bytes.
        let sizes = [0, 1, 7, 125, 126, 127, 65_535, 65_536, 300_001];
        for (i, size) in sizes.into_iter().enumerate() {
            let payload: Vec<u8> = (0..size).map(|b| (b * 7 + i) as u8).collect();
            client.queue_message(encoded(&payload)).unwrap();
            client.queue_ping(b"are you there").unwrap();
            while !client.flush().unwrap() {}
            assert_eq!(server.read().unwrap(), Message::Binary(payload.into()));
            assert_eq!(
                server.read().unwrap(),
                Message::Ping(Bytes::from_static(b"are you there"))
            );
        }
    }

    #[test]
    fn json_goes_as_text() {
        let (mut client, socket) = pair(Serializer::Json, 1 << 20);
        let mut server = server(socket);
        client.queue_message(encoded(b"[1,\"x\"]")).unwrap();
        while !client.flush().unwrap() {}
        assert_eq!(server.read().unwrap(), Message::text("[1,\"x\"]"));
    }

    #[test]
    fn fragments_become_one_message_and_pings_between_them_are_answered() {
        let (mut client, socket) = pair(Serializer::Cbor, 1 << 20);
        let mut server = server(socket);
        let frames = [
            Frame::message(
                Bytes::from_static(b"one "),
                OpCode::Data(Data::Binary),
                false,
            ),
            Frame::ping(Bytes::from_static(b"p")),
            Frame::message(
                Bytes::from_static(b"two "),
                OpCode::Data(Data::Continue),
                false,
            ),
            Frame::message(
                Bytes::from_static(b"three"),
                OpCode::Data(Data::Continue),
                true,
            ),
        ];
        for frame in frames {
            server.write(Message::Frame(frame)).unwrap();
        }
        server
            .send(Message::binary(Bytes::from_static(b"next")))
            .unwrap();
        assert!(matches!(next(&mut client).unwrap(), Incoming::Control));
        assert_eq!(message(&mut client), b"one two three");
        assert_eq!(message(&mut client), b"next");
        while !client.flush().unwrap() {}
        assert_eq!(
            server.read().unwrap(),
            Message::Pong(Bytes::from_static(b"p"))
        );
    }

    #[test]
    fn a_large_message_arrives_whole_through_a_buffer_of_its_own() {
        let (mut client, socket) = pair(Serializer::Cbor, 8 << 20);
        let mut server = server(socket);
        let big: Vec<u8> = (0..3_000_017u32).map(|i| (i % 251) as u8).collect();
        let sending = {
            let big = big.clone();
            std::thread::spawn(move || {
                server.send(Message::binary(big)).unwrap();
                server
                    .send(Message::Pong(Bytes::from_static(b"x")))
                    .unwrap();
                server
            })
        };
        assert_eq!(message(&mut client), big);
        assert!(matches!(next(&mut client).unwrap(), Incoming::Pong));
        assert!(!client.in_large_frame());
        drop(sending.join().unwrap());
    }

    #[test]
    fn a_close_frame_is_answered_and_reported_with_its_reason() {
        use tungstenite::protocol::CloseFrame;
        let (mut client, socket) = pair(Serializer::Cbor, 1 << 20);
        let mut server = server(socket);
        server
            .close(Some(CloseFrame {
                code: CloseCode::Away,
                reason: "router shutting down".into(),
            }))
            .unwrap();
        server.flush().unwrap();
        let error = next(&mut client).err().expect("the close is an error");
        assert!(matches!(error, Error::ConnectionLost { .. }), "{error:?}");
        assert_eq!(
            error.to_string(),
            "connection lost: the router closed the WebSocket: router shutting down (code 1001)"
        );
        client.close();
        // Our answer carries the router's code back (RFC 6455, 5.5.1).
        match server.read() {
            Ok(Message::Close(Some(frame))) => assert_eq!(frame.code, CloseCode::Away),
            other => panic!("expected the close answered, got {other:?}"),
        }
    }

    /// Frames no server may send end the connection with a reason naming the fault.
    #[test]
    fn frames_a_server_must_not_send_are_refused() {
        let cases: [(&[u8], Serializer, &str); 7] = [
            (
                &[0x82, 0x81, 1, 2, 3, 4, 0],
                Serializer::Cbor,
                "masked a frame",
            ),
            (&[0xC2, 0x01, 0], Serializer::Cbor, "reserved bit"),
            (&[0x83, 0x01, 0], Serializer::Cbor, "invalid opcode"),
            (&[0x80, 0x01, 0], Serializer::Cbor, "no message to continue"),
            (
                &[0x09, 0x01, 0],
                Serializer::Cbor,
                "fragmented or oversized control",
            ),
            (&[0x81, 0x02, 0xC3, 0x28], Serializer::Json, "not UTF-8"),
            (
                &[0x82, 0x7E, 0x10, 0x00],
                Serializer::Cbor,
                "over the 1024-byte maximum",
            ),
        ];
        for (bytes, serializer, expected) in cases {
            let (mut client, mut socket) = pair(serializer, 1024);
            std::io::Write::write_all(&mut socket, bytes).unwrap();
            let error = next(&mut client).err().expect("refused");
            let text = format!("{error:#}");
            assert!(
                text.to_lowercase().contains(&expected.to_lowercase()),
                "{bytes:x?}: {text}"
            );
        }
    }

    /// A router that pings without reading what we send gets one answer waiting, the
    /// latest, not one per ping (found by fuzzing: 16 MB of pings grew a client by 460 MB).
    #[test]
    fn pings_a_router_does_not_read_the_answers_to_are_answered_once() {
        let (mut client, socket) = pair(Serializer::Cbor, 1 << 20);
        let mut server = server(socket);
        for i in 0..10_000u32 {
            server
                .write(Message::Ping(Bytes::from(i.to_be_bytes().to_vec())))
                .unwrap();
        }
        server.flush().unwrap();
        for _ in 0..10_000 {
            assert!(matches!(next(&mut client).unwrap(), Incoming::Control));
        }
        assert_eq!(client.outgoing.len(), 1);
        while !client.flush().unwrap() {}
        assert_eq!(
            server.read().unwrap(),
            Message::Pong(Bytes::from(9_999u32.to_be_bytes().to_vec()))
        );
    }

    /// Bytes that come with the upgrade's answer, in the same segment, are the first frame's.
    #[test]
    fn a_frame_sent_with_the_upgrade_answer_is_not_lost() {
        use std::io::{Read, Write};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let router = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut byte = [0u8];
            while !request.ends_with(b"\r\n\r\n") {
                socket.read_exact(&mut byte).unwrap();
                request.push(byte[0]);
            }
            let request = String::from_utf8(request).unwrap();
            let key = request
                .lines()
                .find_map(|line| line.strip_prefix("Sec-WebSocket-Key: "))
                .unwrap();
            let mut answer = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\
                 Sec-WebSocket-Protocol: wamp.2.cbor\r\n\r\n",
                tungstenite::handshake::derive_accept_key(key.as_bytes())
            )
            .into_bytes();
            answer.extend_from_slice(&[0x82, 0x03, 1, 2, 3]);
            socket.write_all(&answer).unwrap();
            socket
        });
        let (stream, _control) =
            Stream::connect_tcp("127.0.0.1", port, Duration::from_millis(200)).unwrap();
        let url = format!("ws://127.0.0.1:{port}/ws");
        let mut client =
            WebSocketTransport::handshake(stream, &url, &[Serializer::Cbor], 1 << 20).unwrap();
        let _router = router.join().unwrap();
        assert_eq!(message(&mut client), [1, 2, 3]);
    }

    #[test]
    fn a_close_is_answered_with_a_code_a_close_may_carry() {
        assert_eq!(close_answer(&[]), Vec::<u8>::new());
        assert_eq!(close_answer(&[0x03, 0xE9, b'x']), [0x03, 0xE9]); // 1001, going away
        assert_eq!(close_answer(&[0x0F, 0xA0]), [0x0F, 0xA0]); // 4000, the application's
        assert_eq!(close_answer(&[0x03, 0xED]), [0x03, 0xEA]); // 1005 may not be sent: 1002
        assert_eq!(close_answer(&[0x03, 0xEE]), [0x03, 0xEA]); // 1006 neither
        assert_eq!(close_answer(&[0x00, 0x10]), [0x03, 0xEA]); // below 1000
        assert_eq!(close_answer(&[0x03]), [0x03, 0xEA]); // one byte: malformed
    }

    #[test]
    fn masks_every_byte_of_any_length() {
        let mask = [0x12, 0x34, 0x56, 0x78];
        for len in 0..40 {
            let plain: Vec<u8> = (0..len as u8).collect();
            let mut masked = plain.clone();
            apply_mask(&mut masked, mask);
            for (i, (m, p)) in masked.iter().zip(&plain).enumerate() {
                assert_eq!(*m, p ^ mask[i % 4], "length {len}, byte {i}");
            }
        }
    }
}
