//! Moving WAMP messages as bytes: WebSocket (`ws://`, `wss://`) and RawSocket (`tcpip://`,
//! `tcpips://`, `unix://`), chosen by URL scheme like swampyer does.
//!
//! A transport knows frames, not WAMP: it takes encoded messages and hands back payloads.
//! Connecting (TCP, TLS, the WebSocket or RawSocket handshake) is blocking with a timeout;
//! after that the session thread drives the transport without blocking.

mod frames;
mod rawsocket;
mod stream;
mod websocket;

use std::path::PathBuf;
use std::time::Duration;

use crate::Error;
use crate::protocol::Serializer;

use rawsocket::{Handshake, RawSocket};
use stream::{Control, Stream};
use websocket::WebSocketTransport;

/// A received payload (cheap to slice and to pass between threads). Defined in `memory`, the
/// layer below, with the buffers it is made of; the session knows it from here.
pub(crate) use crate::memory::Payload;

/// Bytes reserved in front of every encoded outgoing message, so that the frame header can be
/// written in place and the frame leaves in one write without a copy: the longest header is
/// a client's WebSocket one (2 bytes, an 8-byte length and a 4-byte mask); RawSocket's takes 4.
pub(crate) const FRAME_HEADROOM: usize = 14;

/// The largest message a RawSocket can carry (2^24 bytes, the protocol's limit).
pub const RAWSOCKET_MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// The largest message accepted from the router unless told otherwise: 4 GiB, what Python's
/// swampyer accepts. A WebSocket message over the limit cannot be skipped, only refused by
/// closing the connection, so the default leaves the bound to the router and the senders.
pub const DEFAULT_MAX_INCOMING_MESSAGE: usize = u32::MAX as usize;

/// Where to connect, parsed from the URL. More transports may be added, so a `match` on it
/// needs a `_` arm.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Endpoint {
    /// `ws://host:port/path` or, with `tls`, `wss://host:port/path`.
    WebSocket {
        /// The URL as given (it is the WebSocket request URL).
        url: String,
        /// Host name or address.
        host: String,
        /// Port (80/443 when not given).
        port: u16,
        /// `wss://`.
        tls: bool,
    },
    /// `tcpip://host:port` or, with `tls`, `tcpips://host:port`.
    RawSocketTcp {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
        /// `tcpips://`.
        tls: bool,
    },
    /// `unix:///path/to/socket`.
    RawSocketUnix {
        /// The socket's path.
        path: PathBuf,
    },
}

impl Endpoint {
    /// Parses a router URL.
    ///
    /// ```
    /// use izaber_wamp::transport::Endpoint;
    /// let e = Endpoint::parse("tcpip://127.0.0.1:8283").unwrap();
    /// assert_eq!(e, Endpoint::RawSocketTcp { host: "127.0.0.1".into(), port: 8283, tls: false });
    /// assert!(Endpoint::parse("http://example.com").is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUrl`] for an unknown scheme, a missing host or port, or a port that is
    /// not a number.
    pub fn parse(url: &str) -> Result<Endpoint, Error> {
        let invalid = |reason: &str| Error::InvalidUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| invalid("expected scheme://..., e.g. ws://127.0.0.1:8282/ws"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme == "unix" {
            if rest.is_empty() {
                return Err(invalid(
                    "unix:// needs a socket path, e.g. unix:///run/nexus.sock",
                ));
            }
            return Ok(Endpoint::RawSocketUnix {
                path: PathBuf::from(rest),
            });
        }
        let default_port = match scheme.as_str() {
            "ws" => Some(80),
            "wss" => Some(443),
            "tcpip" | "tcpips" => None,
            _ => {
                return Err(invalid(
                    "unknown scheme: use ws, wss, tcpip, tcpips or unix",
                ));
            }
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        let (host, port) = split_host_port(authority).map_err(|reason| invalid(&reason))?;
        let port = match (port, default_port) {
            (Some(port), _) => port,
            (None, Some(port)) => port,
            (None, None) => return Err(invalid("a RawSocket URL needs a port")),
        };
        if host.is_empty() {
            return Err(invalid("missing host"));
        }
        Ok(match scheme.as_str() {
            "ws" | "wss" => Endpoint::WebSocket {
                url: url.to_owned(),
                host,
                port,
                tls: scheme == "wss",
            },
            _ => Endpoint::RawSocketTcp {
                host,
                port,
                tls: scheme == "tcpips",
            },
        })
    }
}

fn split_host_port(authority: &str) -> Result<(String, Option<u16>), String> {
    let parse_port = |p: &str| {
        p.parse::<u16>()
            .map_err(|_| format!("'{p}' is not a port number"))
    };
    if let Some(rest) = authority.strip_prefix('[') {
        // [::1]:8282
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| "unclosed '[' in IPv6 address".to_owned())?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(parse_port(p)?),
            None if after.is_empty() => None,
            None => return Err(format!("unexpected '{after}' after the IPv6 address")),
        };
        return Ok((host.to_owned(), port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Ok((host.to_owned(), Some(parse_port(port)?))),
        None => Ok((authority.to_owned(), None)),
    }
}

/// How to open a transport: what the builder's connection settings become.
#[derive(Clone, Debug)]
pub(crate) struct TransportOptions {
    /// Serializers to offer, most wanted first.
    pub serializers: Vec<Serializer>,
    /// Limit for connecting and for each handshake step.
    pub connect_timeout: Duration,
    /// An extra CA certificate (PEM) trusted for `wss://` and `tcpips://`.
    pub ca_file: Option<PathBuf>,
    /// Turns certificate verification off. Anyone on the network can then impersonate the
    /// router; use only against a test router.
    pub danger_accept_invalid_certs: bool,
    /// Accepts a valid certificate that names another host. Use only against a test router.
    pub danger_accept_invalid_hostnames: bool,
    /// The largest message accepted from the router (RawSocket: at most
    /// [`RAWSOCKET_MAX_MESSAGE`]).
    pub max_incoming_message: usize,
}

impl Default for TransportOptions {
    fn default() -> Self {
        TransportOptions {
            serializers: Serializer::DEFAULT_PREFERENCE.to_vec(),
            connect_timeout: Duration::from_secs(10),
            ca_file: None,
            danger_accept_invalid_certs: false,
            danger_accept_invalid_hostnames: false,
            max_incoming_message: DEFAULT_MAX_INCOMING_MESSAGE,
        }
    }
}

/// Bytes that crossed a connection's socket, counted as they go (below TLS and framing).
#[derive(Debug)]
pub(crate) struct Traffic {
    /// Read from the socket.
    pub read: std::sync::atomic::AtomicU64,
    /// When bytes were last read, in nanoseconds after `opened`: whichever thread read them,
    /// the session thread learns when the router was last heard from, not only that it was.
    last_read: std::sync::atomic::AtomicU64,
    opened: std::time::Instant,
    /// Written to the socket.
    pub written: std::sync::atomic::AtomicU64,
    /// The socket's descriptor, to ask the kernel about its send queue. Only the session
    /// thread asks, and only while the connection is open: it alone closes connections.
    #[cfg(target_os = "linux")]
    pub socket: Option<std::os::fd::RawFd>,
}

impl Default for Traffic {
    fn default() -> Self {
        Traffic {
            read: Default::default(),
            last_read: Default::default(),
            opened: std::time::Instant::now(),
            written: Default::default(),
            #[cfg(target_os = "linux")]
            socket: None,
        }
    }
}

impl Traffic {
    /// Counts `bytes` just read.
    pub fn count_read(&self, bytes: usize) {
        use std::sync::atomic::Ordering;
        self.read.fetch_add(bytes as u64, Ordering::Relaxed);
        let since_opened = u64::try_from(self.opened.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.last_read.fetch_max(since_opened, Ordering::Relaxed);
    }

    /// When bytes were last read (when the connection was opened, before any was).
    pub fn last_read_at(&self) -> std::time::Instant {
        let since_opened = self.last_read.load(std::sync::atomic::Ordering::Relaxed);
        self.opened + Duration::from_nanos(since_opened)
    }

    /// How many bytes written to the socket the peer has not acknowledged yet (for a unix
    /// socket: not read yet). Linux only (`TIOCOUTQ`); `None` elsewhere.
    ///
    /// Elsewhere the heartbeat cannot see a large message leave the socket's send buffer:
    /// once the last of it has been handed to the kernel, the router may show no life until it
    /// has read all of it (its answer to our ping waits behind the message). So on a link slow
    /// enough that what sits in the send buffer takes longer than the heartbeat timeout to
    /// drain, the connection is taken for dead there, and a longer `heartbeat_timeout` is the
    /// remedy. macOS (`SO_NWRITE`) and FreeBSD and NetBSD (`FIONWRITE`) have an equivalent,
    /// not used because it could not be tested; Windows has none that is cheap to ask.
    pub fn unacknowledged(&self) -> Option<u64> {
        #[cfg(target_os = "linux")]
        if let Some(fd) = self.socket {
            let mut queued: libc::c_int = 0;
            // SAFETY: TIOCOUTQ (SIOCOUTQ for sockets) writes one int through the pointer,
            // which points at a live c_int. `fd` is the connection's socket, still open: the
            // session thread, the only caller, closes connections itself and asks only while
            // one is open. A failure is reported by the return value, and then ignored.
            let done = unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut queued) };
            return (done == 0).then_some(queued.max(0) as u64);
        }
        None
    }
}

/// What a read produced.
pub(crate) enum Incoming {
    /// A WAMP message's bytes.
    Message(Payload),
    /// An answer to our ping.
    Pong,
    /// A control frame the transport handled itself (e.g. a ping it answered).
    Control,
}

/// What [`Transport::read_batch`] found besides messages.
#[derive(Default)]
pub(crate) struct BatchRead {
    /// Nothing more can be read now.
    pub drained: bool,
    /// Reading failed; what was read before stays in the batch.
    pub failure: Option<String>,
    /// An answer to our ping came.
    pub ponged: bool,
    /// The router pinged, and the answer is queued: it needs a flush.
    pub pinged: bool,
}

enum Framing {
    WebSocket(WebSocketTransport),
    RawSocket(RawSocket),
}

/// An open connection to the router.
pub(crate) struct Transport {
    framing: Framing,
    control: Control,
    serializer: Serializer,
    /// The most the router accepts in one message, when the transport says (RawSocket).
    pub max_outgoing: Option<usize>,
}

impl Transport {
    /// Connects and runs the transport handshake, negotiating the serializer.
    pub fn connect(endpoint: &Endpoint, options: &TransportOptions) -> Result<Transport, Error> {
        if options.serializers.is_empty() {
            return Err(Error::InvalidArgument("no serializer configured".into()));
        }
        let timeout = options.connect_timeout;
        match endpoint {
            Endpoint::WebSocket {
                url,
                host,
                port,
                tls,
            } => {
                let (mut stream, control) = Stream::connect_tcp(host, *port, timeout)?;
                if *tls {
                    stream = stream.start_tls(host, options)?;
                }
                let ws = WebSocketTransport::handshake(
                    stream,
                    url,
                    &options.serializers,
                    options.max_incoming_message,
                )?;
                Ok(Transport {
                    serializer: ws.serializer(),
                    framing: Framing::WebSocket(ws),
                    control,
                    max_outgoing: None,
                })
            }
            Endpoint::RawSocketTcp { .. } | Endpoint::RawSocketUnix { .. } => {
                // A RawSocket router refuses a serializer it lacks; the connection is then
                // spent, so each further preference gets a fresh one.
                for serializer in &options.serializers {
                    let (stream, control) = match endpoint {
                        Endpoint::RawSocketTcp { host, port, tls } => {
                            let (stream, control) = Stream::connect_tcp(host, *port, timeout)?;
                            let stream = if *tls {
                                stream.start_tls(host, options)?
                            } else {
                                stream
                            };
                            (stream, control)
                        }
                        Endpoint::RawSocketUnix { path } => Stream::connect_unix(path, timeout)?,
                        Endpoint::WebSocket { .. } => unreachable!(),
                    };
                    let max_incoming = options.max_incoming_message.min(RAWSOCKET_MAX_MESSAGE);
                    match RawSocket::handshake(stream, *serializer, max_incoming)? {
                        Handshake::Accepted(raw) => {
                            return Ok(Transport {
                                serializer: *serializer,
                                max_outgoing: Some(raw.max_outgoing),
                                framing: Framing::RawSocket(raw),
                                control,
                            });
                        }
                        Handshake::SerializerUnsupported => {
                            log::debug!("RawSocket router does not support {serializer}");
                            control.shutdown();
                        }
                    }
                }
                Err(Error::RawSocket(format!(
                    "the router supports none of the serializers offered ({})",
                    options
                        .serializers
                        .iter()
                        .map(|s| s.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                )))
            }
        }
    }

    pub fn serializer(&self) -> Serializer {
        self.serializer
    }

    /// Switches between the blocking handshake phase (with `timeout` on each read and write)
    /// and the non-blocking phase driven by the session thread's poll.
    pub fn set_blocking(&mut self, timeout: Option<Duration>) -> Result<(), Error> {
        self.stream_mut().track_short_reads(timeout.is_none());
        let result = match timeout {
            Some(t) => self
                .control
                .set_nonblocking(false)
                .and_then(|_| self.control.set_timeouts(Some(t))),
            None => self
                .control
                .set_timeouts(None)
                .and_then(|_| self.control.set_nonblocking(true)),
        };
        result.map_err(|e| Error::io("configuring the socket", e))
    }

    fn stream_mut(&mut self) -> &mut Stream {
        match &mut self.framing {
            Framing::WebSocket(ws) => ws.stream_mut(),
            Framing::RawSocket(raw) => raw.stream_mut(),
        }
    }

    pub fn source(&mut self) -> &mut dyn mio::event::Source {
        self.stream_mut().source()
    }

    /// A second descriptor of the socket (it lives as long as the transport), for a poll
    /// other than the session thread's to watch.
    #[cfg(unix)]
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        self.control.raw_fd()
    }

    /// The IP address of our end of the connection, asked of the connection's own socket;
    /// `None` for a unix socket.
    pub fn local_ip(&self) -> Option<std::net::IpAddr> {
        self.control.local_ip()
    }

    /// Live counts of the bytes this connection has moved: progress on a large message shows
    /// there long before the message is whole.
    pub fn traffic(&mut self) -> std::sync::Arc<Traffic> {
        self.stream_mut().traffic()
    }

    /// The poll reported the socket readable (see [`stream::Tracked`]).
    pub fn mark_readable(&mut self) {
        self.stream_mut().mark_readable();
    }

    /// Queues an encoded message (with [`FRAME_HEADROOM`] spare bytes in front).
    pub fn queue_message(&mut self, frame: Vec<u8>) -> Result<(), Error> {
        match &mut self.framing {
            Framing::WebSocket(ws) => ws.queue_message(frame),
            Framing::RawSocket(raw) => raw.queue_message(frame),
        }
    }

    /// Queues a transport-level ping; `Ok(false)` when the transport has none to offer.
    ///
    /// RawSocket defines PING frames, but Crossbar's RawSocket (Autobahn on Twisted) reads
    /// every header as a plain 32-bit length, so a PING frame looks like a 16 MiB message and
    /// the router drops the connection. RawSocket answers PINGs it receives, but never sends
    /// one; the session checks liveness with a WAMP round trip instead.
    pub fn queue_ping(&mut self, payload: &[u8]) -> Result<bool, Error> {
        match &mut self.framing {
            Framing::WebSocket(ws) => ws.queue_ping(payload).map(|()| true),
            Framing::RawSocket(_) => Ok(false),
        }
    }

    /// Writes what is queued. `Ok(false)` when the socket cannot take more right now.
    pub fn flush(&mut self) -> Result<bool, Error> {
        match &mut self.framing {
            Framing::WebSocket(ws) => ws.flush(),
            Framing::RawSocket(raw) => raw.flush(),
        }
    }

    /// Reads the next frame; `Ok(None)` when nothing more is available now (or, in blocking
    /// mode, when the read timed out).
    pub fn read(&mut self) -> Result<Option<Incoming>, Error> {
        let (incoming, in_large_frame) = match &mut self.framing {
            Framing::WebSocket(ws) => (ws.read()?, ws.in_large_frame()),
            Framing::RawSocket(raw) => (raw.read()?, raw.in_large_frame()),
        };
        if incoming.is_none() && in_large_frame {
            self.control.quick_ack();
        }
        Ok(incoming)
    }

    /// On RawSocket over TCP, asks the kernel to acknowledge what arrives next at once (see
    /// [`stream::Control::quick_ack`]), for a stream of small messages the router sends
    /// unasked: Crossbar leaves Nagle's algorithm on there, so it holds each back until the
    /// one before is acknowledged, and Linux delays the acknowledgement of a connection that
    /// only receives by up to 40 ms. WebSocket connections need none of it (the router sets
    /// `TCP_NODELAY` on them), nor do answers (the next request carries the acknowledgement).
    pub fn hurry_acknowledgements(&self) {
        if self.acknowledges_late() {
            self.control.quick_ack();
        }
    }

    /// Whether [`Transport::hurry_acknowledgements`] does anything here: RawSocket over TCP,
    /// on Linux (the only system with `TCP_QUICKACK`).
    pub fn acknowledges_late(&self) -> bool {
        cfg!(target_os = "linux")
            && matches!(self.framing, Framing::RawSocket(_))
            && matches!(self.control, Control::Tcp(_))
    }

    /// Reads messages into `batch` until it holds `limit`, nothing more is available now, or
    /// reading fails.
    pub fn read_batch(&mut self, batch: &mut Vec<Payload>, limit: usize) -> BatchRead {
        let mut outcome = BatchRead::default();
        while batch.len() < limit {
            match self.read() {
                Ok(Some(Incoming::Message(payload))) => batch.push(payload),
                Ok(Some(Incoming::Pong)) => outcome.ponged = true,
                Ok(Some(Incoming::Control)) => outcome.pinged = true,
                Ok(None) => {
                    outcome.drained = true;
                    break;
                }
                Err(e) => {
                    outcome.failure = Some(format!("{e:#}"));
                    break;
                }
            }
        }
        outcome
    }

    /// Closes the connection (WebSocket close frame where there is one) and shuts the socket.
    pub fn close(&mut self) {
        if let Framing::WebSocket(ws) = &mut self.framing {
            ws.close();
        }
        self.control.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection reset by the router ends the read with a reason that names the OS's
    /// error, not only what the client was doing: the reason is what `on_disconnect` hooks,
    /// log lines and `ConnectionLost` errors tell.
    #[cfg(unix)]
    #[test]
    fn a_reset_connection_is_reported_with_its_cause() {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("tcpip://{}", listener.local_addr().unwrap());
        let router = std::thread::spawn(move || {
            let (mut peer, _) = listener.accept().unwrap();
            let mut hello = [0u8; 4];
            peer.read_exact(&mut hello).unwrap();
            // Accept the serializer asked for, with the largest length.
            peer.write_all(&[0x7f, 0xf0 | (hello[1] & 0x0f), 0, 0])
                .unwrap();
            let linger = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            // SAFETY: setsockopt reads `size_of::<linger>()` bytes from a live `linger`; the
            // descriptor is the accepted socket, open until `peer` drops below. A linger of
            // zero makes that drop send RST instead of FIN.
            let done = unsafe {
                libc::setsockopt(
                    std::os::fd::AsRawFd::as_raw_fd(&peer),
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    (&raw const linger).cast(),
                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                )
            };
            assert_eq!(done, 0, "{}", std::io::Error::last_os_error());
        });
        let options = TransportOptions {
            serializers: vec![Serializer::Json],
            ..TransportOptions::default()
        };
        let mut transport = Transport::connect(&Endpoint::parse(&url).unwrap(), &options).unwrap();
        router.join().unwrap();
        transport
            .set_blocking(Some(Duration::from_secs(5)))
            .unwrap();
        let mut batch = Vec::new();
        let read = transport.read_batch(&mut batch, 8);
        let failure = read.failure.expect("the reset ends the read");
        assert!(
            failure.starts_with("reading from the router: "),
            "{failure}"
        );
        assert!(failure.contains("reset"), "{failure}");
    }

    /// Quick acknowledgements are asked only where the router's Nagle and our delayed ACK
    /// meet: RawSocket over TCP. A WebSocket router sets `TCP_NODELAY`; over a unix socket
    /// there is no ACK to hurry.
    #[cfg(unix)]
    #[test]
    // tungstenite's handshake callback returns its own, large, error type.
    #[allow(clippy::result_large_err)]
    fn only_rawsocket_over_tcp_acknowledges_late() {
        use std::io::{Read, Write};
        fn accept_rawsocket(mut peer: impl Read + Write) {
            let mut hello = [0u8; 4];
            peer.read_exact(&mut hello).unwrap();
            peer.write_all(&[0x7f, 0xf0 | (hello[1] & 0x0f), 0, 0])
                .unwrap();
        }
        let options = TransportOptions {
            serializers: vec![Serializer::Json],
            ..TransportOptions::default()
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("tcpip://{}", listener.local_addr().unwrap());
        let router = std::thread::spawn(move || accept_rawsocket(listener.accept().unwrap().0));
        let tcp = Transport::connect(&Endpoint::parse(&url).unwrap(), &options).unwrap();
        router.join().unwrap();
        assert_eq!(tcp.acknowledges_late(), cfg!(target_os = "linux"));

        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("ws://{}/ws", listener.local_addr().unwrap());
        let router = std::thread::spawn(move || {
            let answer_wamp =
                |_: &tungstenite::handshake::server::Request,
                 mut response: tungstenite::handshake::server::Response| {
                    response.headers_mut().insert(
                        "Sec-WebSocket-Protocol",
                        tungstenite::http::HeaderValue::from_static("wamp.2.json"),
                    );
                    Ok(response)
                };
            let socket = listener.accept().unwrap().0;
            // Kept open until the client has checked the upgrade.
            tungstenite::accept_hdr(socket, answer_wamp).unwrap()
        });
        let websocket = Transport::connect(&Endpoint::parse(&url).unwrap(), &options).unwrap();
        let _server_side = router.join().unwrap();
        assert!(!websocket.acknowledges_late());

        let dir = std::env::temp_dir().join(format!("izw-ack-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("router.sock");
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let url = format!("unix://{}", path.display());
        let router = std::thread::spawn(move || accept_rawsocket(listener.accept().unwrap().0));
        let unix = Transport::connect(&Endpoint::parse(&url).unwrap(), &options).unwrap();
        router.join().unwrap();
        assert!(!unix.acknowledges_late());
        drop(unix);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn traffic_remembers_when_bytes_were_last_read() {
        use std::sync::atomic::Ordering;
        use std::time::Instant;
        let traffic = Traffic::default();
        let opened = traffic.last_read_at();
        std::thread::sleep(Duration::from_millis(5));
        let before = Instant::now();
        traffic.count_read(10);
        let read_at = traffic.last_read_at();
        assert!(
            read_at > opened + Duration::from_millis(4),
            "{read_at:?} {opened:?}"
        );
        assert!(read_at + Duration::from_micros(1) >= before && read_at <= Instant::now());
        assert_eq!(traffic.read.load(Ordering::Relaxed), 10);
    }

    #[test]
    fn parses_every_scheme() {
        assert_eq!(
            Endpoint::parse("ws://127.0.0.1:8282/ws").unwrap(),
            Endpoint::WebSocket {
                url: "ws://127.0.0.1:8282/ws".into(),
                host: "127.0.0.1".into(),
                port: 8282,
                tls: false
            }
        );
        assert!(matches!(
            Endpoint::parse("wss://nexus.izaber.com/ws").unwrap(),
            Endpoint::WebSocket {
                port: 443,
                tls: true,
                ..
            }
        ));
        assert_eq!(
            Endpoint::parse("tcpips://localhost:9000").unwrap(),
            Endpoint::RawSocketTcp {
                host: "localhost".into(),
                port: 9000,
                tls: true
            }
        );
        assert_eq!(
            Endpoint::parse("unix:///tmp/nexus.sock").unwrap(),
            Endpoint::RawSocketUnix {
                path: "/tmp/nexus.sock".into()
            }
        );
        assert!(matches!(
            Endpoint::parse("ws://[::1]:8282/ws").unwrap(),
            Endpoint::WebSocket { ref host, port: 8282, .. } if host == "::1"
        ));
    }

    #[test]
    fn rejects_unusable_urls() {
        for url in [
            "nexus.izaber.com",
            "http://x:1",
            "tcpip://127.0.0.1",
            "ws://:80/ws",
            "ws://h:notaport/ws",
            "unix://",
        ] {
            assert!(
                matches!(Endpoint::parse(url), Err(Error::InvalidUrl { .. })),
                "{url} should be rejected"
            );
        }
    }
}
