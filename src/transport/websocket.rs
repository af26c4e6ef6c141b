//! WAMP over WebSocket (`ws://`, `wss://`): one WAMP message per WebSocket message, the
//! serializer chosen through the subprotocol (`wamp.2.cbor`, ...).

use std::io;

use tungstenite::client::IntoClientRequest;
use tungstenite::http::HeaderValue;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message as WsMessage, Utf8Bytes, WebSocket};

use crate::Error;
use crate::protocol::Serializer;

use super::stream::Stream;
use super::{FRAME_HEADROOM, Incoming, Payload};

pub(crate) struct WebSocketTransport {
    socket: WebSocket<Stream>,
    serializer: Serializer,
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
        let config = WebSocketConfig::default()
            // tungstenite zero-fills this much before every read: at its 128 KiB default
            // that was most of the CPU a small call cost. Large messages just take more reads.
            .read_buffer_size(16 * 1024)
            .max_message_size(Some(max_incoming))
            .max_frame_size(Some(max_incoming))
            // Frames are flushed explicitly after each batch; buffering more would only
            // delay them.
            .write_buffer_size(0);
        let (socket, response) = tungstenite::client::client_with_config(
            request,
            stream,
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
        Ok(WebSocketTransport { socket, serializer })
    }

    pub fn serializer(&self) -> Serializer {
        self.serializer
    }

    pub fn stream_mut(&mut self) -> &mut Stream {
        self.socket.get_mut()
    }

    /// Queues a message. `frame` holds [`FRAME_HEADROOM`] spare bytes, then the payload.
    pub fn queue_message(&mut self, frame: Vec<u8>) -> Result<(), Error> {
        // tungstenite copies the frame into its own buffer: ours is done with at once, and
        // given back (which also says a large message is done) as the payload drops.
        let payload = crate::memory::payload(frame).slice(FRAME_HEADROOM..);
        let message = if self.serializer.is_binary() {
            WsMessage::Binary(payload)
        } else {
            let text = Utf8Bytes::try_from(payload).map_err(|_| {
                Error::InvalidArgument("the JSON serializer produced invalid UTF-8".into())
            })?;
            WsMessage::Text(text)
        };
        self.write(message)
    }

    pub fn queue_ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.write(WsMessage::Ping(Payload::copy_from_slice(payload)))
    }

    fn write(&mut self, message: WsMessage) -> Result<(), Error> {
        match self.socket.write(message) {
            Ok(()) => Ok(()),
            // The frame stays in tungstenite's buffer and goes out with the next flush.
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(Error::websocket("writing to the router", e)),
        }
    }

    pub fn flush(&mut self) -> Result<bool, Error> {
        match self.socket.flush() {
            Ok(()) => Ok(true),
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(Error::websocket("writing to the router", e)),
        }
    }

    pub fn read(&mut self) -> Result<Option<Incoming>, Error> {
        match self.socket.read() {
            Ok(WsMessage::Binary(payload)) => Ok(Some(Incoming::Message(payload))),
            Ok(WsMessage::Text(text)) => Ok(Some(Incoming::Message(Payload::from(text)))),
            // tungstenite queues the pong itself; it leaves with the next flush.
            Ok(WsMessage::Ping(_)) => Ok(Some(Incoming::Control)),
            Ok(WsMessage::Pong(_)) => Ok(Some(Incoming::Pong)),
            Ok(WsMessage::Close(frame)) => Err(Error::lost(match frame {
                Some(frame) => format!("the router closed the WebSocket: {}", frame.reason),
                None => "the router closed the WebSocket".to_owned(),
            })),
            Ok(WsMessage::Frame(_)) => Ok(Some(Incoming::Control)),
            Err(tungstenite::Error::Io(e))
                if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut =>
            {
                Ok(None)
            }
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                Err(Error::lost("the WebSocket is closed"))
            }
            Err(e) => Err(Error::websocket("reading from the router", e)),
        }
    }

    pub fn close(&mut self) {
        let _ = self.socket.close(None);
        let _ = self.socket.flush();
    }
}
