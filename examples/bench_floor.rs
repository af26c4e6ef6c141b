//! The floor: the cheapest WAMP caller, callee, publisher and subscriber there can be. A
//! measuring instrument, not a client.
//!
//! ```text
//! cargo run --release --example bench_floor -- --role caller|callee|publisher|subscriber \
//!     --url URL --realm REALM --user U --password P --serializer json|msgpack|cbor \
//!     [--calls N] [--observe LABEL:PID[+PID..]].. [--big-calls M] [--threads T] \
//!     [--duration S] [--phase NAME:KIND[:RATE]].. [--quit] [--ping-interval S] \
//!     [--latencies FILE]
//! ```
//!
//! `--role publisher` and `--role subscriber` follow `benches/peers/EVENTS.md` (the events
//! benchmark, run by `benches/peers/events.sh`) the cheapest way: the publisher encodes each
//! PUBLISH into a reused message and buffer and writes it in one write on its one blocking
//! socket (an acknowledged one then reads until its PUBLISHED), so that its `publish_*`
//! figures are the cost of a write into the socket, and a full socket buffer blocks it: the
//! stall any publisher's `publish()` is measured against. The subscriber takes each EVENT
//! with a blocking read, decodes it and tallies it on the same thread: no handler dispatch,
//! no queue, no heartbeat. Both measure with `bench_support`, as `bench.rs` does.
//!
//! `--role callee` registers `com.izaber.wamp.bench.echo` like `bench.rs --role callee`,
//! prints `READY`, and answers each INVOCATION with a YIELD of its first argument, one at a
//! time on its one thread (after `--handler-delay-ms D`, if given), until the router closes
//! the connection or it is killed: what an invocation costs a service that has no handler
//! threads, no table and no heartbeat.
//!
//! Most of what a sequential call costs the caller's CPU is the kernel's: the send that wakes
//! the router, the receive, going to sleep and being woken. No client that talks to the router
//! through the kernel's sockets can avoid that, so a client's CPU per call is only meaningful
//! next to it. This program pays that and as little else as it can: one thread, one blocking
//! socket with `TCP_NODELAY`, each CALL encoded into a reused buffer and sent in one write,
//! each RESULT taken with a blocking read and decoded (on a unix socket, after a poll for
//! readability: see `PolledUnixStream`). Nothing a real client needs is here: no
//! thread to read while the caller waits, no table to match results to concurrent callers, no
//! heartbeat, no timeouts beyond the socket's, no reconnection. `benches/peers/run.py` runs it
//! as a third caller next to `bench.rs` and `swampyer_bench.py`, so that BENCHMARKS.md can say
//! how far each client is from the cost no client can avoid.
//!
//! Same command line and JSON line as `bench.rs --role caller`, for the phases it has: 200
//! warm-up calls, then N sequential calls with a 64-byte string, each timed, measured with
//! the same code (`bench_support`). `--big-calls`, `--threads`, `--duration`,
//! `--ping-interval` and `--latencies` are accepted and ignored, so that the runner can pass
//! every caller the same arguments; `big_mean_ms` and `threaded_calls_per_s` are null.
//!
//! URLs: `ws://` (WebSocket), `tcpip://host:port` (RawSocket over TCP), `unix:///path`
//! (RawSocket over a unix socket). TLS is refused: it would add its own cost to the floor.

#[path = "bench_support/mod.rs"]
mod bench_support;

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
#[cfg(unix)]
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use bench_support::{
    Control, EVENTS_PAD, EVENTS_TOPIC, EventPhase, EventPublisher, Flags, Marker, Meter,
    SubscriberTally, Target, TargetFlags, number, seconds,
};
use izaber_wamp::Secret;
use izaber_wamp::protocol::{Dict, Id, Message, Serializer, Value};
use izaber_wamp::transport::Endpoint;
use serde_json::json;
use tungstenite::client::IntoClientRequest;
use tungstenite::http::HeaderValue;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Bytes, Message as WsMessage, Utf8Bytes, WebSocket};

const PROCEDURE: &str = "com.izaber.wamp.bench.echo";
const WARMUP_CALLS: usize = 200;
const SMALL_BYTES: usize = 64;
const IMPL: &str = "floor";

/// A reply that has not come after this long means the router or the callee is stuck; the
/// timeout is set on the socket once, so it costs nothing per call.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

const USAGE: &str = "usage: bench_floor --role caller|callee|publisher|subscriber \
--url ws://...|tcpip://HOST:PORT|unix:///PATH --realm REALM --user U --password P \
--serializer json|msgpack|cbor [--calls N] [--observe LABEL:PID[+PID...]]... \
[--handler-delay-ms D] [--duration S] [--phase NAME:flood|NAME:acked|NAME:paced:RATE]... [--quit] \
(accepted and ignored: --big-calls M --threads T --ping-interval S --latencies FILE)";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Caller,
    Callee,
    Publisher,
    Subscriber,
}

/// The publisher's phases: each lasts `duration`; `quit` tells the subscriber to quit after.
struct Phases {
    phases: Vec<EventPhase>,
    duration: Duration,
    quit: bool,
}

fn parse_args() -> Result<(Target, Role, Phases)> {
    let mut target = TargetFlags::default();
    let mut role = Role::Caller;
    let mut phases = Phases {
        phases: Vec::new(),
        duration: Duration::from_secs(5),
        quit: false,
    };
    let mut flags = Flags::new(USAGE);
    while let Some((flag, inline)) = flags.next_flag() {
        let mut value = || flags.value(&flag, inline.clone());
        if target.take(&flag, &mut value)? {
            continue;
        }
        match flag.as_str() {
            "--role" => match value()?.as_str() {
                "caller" => role = Role::Caller,
                "callee" => role = Role::Callee,
                "publisher" => role = Role::Publisher,
                "subscriber" => role = Role::Subscriber,
                other => bail!("--role: caller, callee, publisher or subscriber, not {other:?}"),
            },
            // the publisher's
            "--duration" => phases.duration = seconds(value()?, &flag)?,
            "--phase" => phases.phases.push(EventPhase::parse(&value()?)?),
            "--quit" => phases.quit = true,
            // phases and features the floor does not have: taken (and checked as bench checks
            // them) so that the runner can pass every caller the same arguments
            "--big-calls" | "--threads" => _ = number(value()?, &flag)?,
            "--ping-interval" => _ = seconds(value()?, &flag)?,
            "--latencies" => _ = value()?,
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    Ok((target.finish(USAGE)?, role, phases))
}

// --- the wire ------------------------------------------------------------------------------

/// Bytes left free in front of each encoded message, so that a RawSocket header can be written
/// in place and the frame leaves in one write, without a copy.
const HEADROOM: usize = 4;

/// One WAMP connection with nothing on top.
trait Wire {
    /// Sends one message: `frame` is [`HEADROOM`] spare bytes, then the encoded message.
    fn send(&mut self, frame: &mut [u8]) -> Result<()>;
    /// Blocks until the next WAMP message arrives; returns its encoded bytes.
    fn recv(&mut self) -> Result<&[u8]>;
}

struct WebSocketWire {
    socket: WebSocket<TcpStream>,
    binary: bool,
    last: Bytes,
}

impl WebSocketWire {
    fn connect(
        url: &str,
        host: &str,
        port: u16,
        serializer: Serializer,
        timeout: Option<Duration>,
    ) -> Result<Self> {
        let stream = tcp(host, port, timeout)?;
        let mut request = url
            .into_client_request()
            .with_context(|| format!("not a WebSocket URL: {url}"))?;
        let subprotocol = serializer.websocket_subprotocol();
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static(subprotocol),
        );
        let config = WebSocketConfig::default()
            // tungstenite zero-fills this much before every read: its 128 KiB default would be
            // a cost of tungstenite's, not of the floor. Replies are a few dozen bytes.
            .read_buffer_size(4096)
            // every frame goes out at once, in one write
            .write_buffer_size(0);
        let (socket, response) =
            tungstenite::client::client_with_config(request, stream, Some(config))
                .map_err(|e| anyhow::anyhow!("WebSocket handshake with {url}: {e}"))?;
        let chosen = response
            .headers()
            .get("Sec-WebSocket-Protocol")
            .and_then(|v| v.to_str().ok());
        ensure!(
            chosen == Some(subprotocol),
            "asked for WebSocket subprotocol {subprotocol}, the router chose {chosen:?}"
        );
        Ok(WebSocketWire {
            socket,
            binary: serializer.is_binary(),
            last: Bytes::new(),
        })
    }
}

/// The floor picks its wire at run time; an indirect call per message costs nanoseconds.
impl Wire for Box<dyn Wire> {
    fn send(&mut self, frame: &mut [u8]) -> Result<()> {
        (**self).send(frame)
    }

    fn recv(&mut self) -> Result<&[u8]> {
        (**self).recv()
    }
}

impl Wire for WebSocketWire {
    fn send(&mut self, frame: &mut [u8]) -> Result<()> {
        let payload = Bytes::copy_from_slice(&frame[HEADROOM..]);
        let message = if self.binary {
            WsMessage::Binary(payload)
        } else {
            WsMessage::Text(Utf8Bytes::try_from(payload).context("JSON that is not UTF-8")?)
        };
        self.socket.send(message).context("sending")
    }

    fn recv(&mut self) -> Result<&[u8]> {
        loop {
            match self.socket.read().context("receiving")? {
                WsMessage::Binary(payload) => self.last = payload,
                WsMessage::Text(text) => self.last = Bytes::from(text),
                WsMessage::Close(frame) => bail!("the router closed the WebSocket: {frame:?}"),
                // tungstenite answers pings itself
                WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_) => continue,
            }
            return Ok(&self.last);
        }
    }
}

const RAWSOCKET_MAGIC: u8 = 0x7F;
/// The longest message we accept, as the handshake's exponent: 2^(9 + 15) = 16 MiB.
const RAWSOCKET_MAX_EXPONENT: u8 = 15;

struct RawSocketWire<S> {
    /// Buffered for reading only: a frame's header and payload usually come in one read.
    stream: BufReader<S>,
    /// The longest message the router accepts.
    max_outgoing: usize,
    incoming: Vec<u8>,
}

impl<S: Read + Write> RawSocketWire<S> {
    fn handshake(mut stream: S, serializer: Serializer) -> Result<Self> {
        let id = serializer.rawsocket_id();
        stream
            .write_all(&[RAWSOCKET_MAGIC, (RAWSOCKET_MAX_EXPONENT << 4) | id, 0, 0])
            .context("sending the RawSocket handshake")?;
        let mut reply = [0u8; 4];
        stream
            .read_exact(&mut reply)
            .context("reading the RawSocket handshake reply")?;
        ensure!(
            reply[0] == RAWSOCKET_MAGIC,
            "not a WAMP RawSocket router (first handshake byte 0x{:02x})",
            reply[0]
        );
        ensure!(
            reply[1] & 0x0F == id,
            "the router refused RawSocket with {serializer} (reply 0x{:02x}: error code {})",
            reply[1],
            reply[1] >> 4
        );
        Ok(RawSocketWire {
            stream: BufReader::with_capacity(64 * 1024, stream),
            max_outgoing: 1 << (9 + (reply[1] >> 4)),
            incoming: Vec::new(),
        })
    }

    /// Writes a frame of `frame_type` whose payload follows [`HEADROOM`] bytes of `frame`.
    fn write_frame(&mut self, frame_type: u8, frame: &mut [u8]) -> Result<()> {
        let len = frame.len() - HEADROOM;
        ensure!(
            len <= self.max_outgoing,
            "a {len}-byte message is more than the router accepts"
        );
        frame[0] = frame_type;
        frame[1..HEADROOM].copy_from_slice(&(len as u32).to_be_bytes()[1..]);
        self.stream.get_mut().write_all(frame).context("sending")
    }
}

impl<S: Read + Write> Wire for RawSocketWire<S> {
    fn send(&mut self, frame: &mut [u8]) -> Result<()> {
        self.write_frame(0, frame)
    }

    fn recv(&mut self) -> Result<&[u8]> {
        loop {
            let mut header = [0u8; HEADROOM];
            self.stream
                .read_exact(&mut header)
                .context("receiving a RawSocket frame header")?;
            let len = u32::from_be_bytes([0, header[1], header[2], header[3]]) as usize;
            self.incoming.resize(HEADROOM + len, 0);
            self.stream
                .read_exact(&mut self.incoming[HEADROOM..])
                .context("receiving a RawSocket frame")?;
            match header[0] & 0x07 {
                0 => return Ok(&self.incoming[HEADROOM..]),
                // PING: the PONG carries its payload back
                1 => {
                    let mut pong = std::mem::take(&mut self.incoming);
                    self.write_frame(2, &mut pong)?;
                    self.incoming = pong;
                }
                2 => {}
                other => bail!("RawSocket frame of unknown type {other}"),
            }
        }
    }
}

fn tcp(host: &str, port: u16, timeout: Option<Duration>) -> Result<TcpStream> {
    let stream =
        TcpStream::connect((host, port)).with_context(|| format!("connecting to {host}:{port}"))?;
    // without it, each small CALL could wait for the ACK of the one before
    stream.set_nodelay(true)?;
    stream.set_read_timeout(timeout)?;
    Ok(stream)
}

// --- the caller ----------------------------------------------------------------------------

/// Encodes `message` into `frame` (after its headroom) and sends it.
fn send(
    wire: &mut impl Wire,
    serializer: Serializer,
    message: &Message,
    frame: &mut Vec<u8>,
) -> Result<()> {
    frame.clear();
    frame.resize(HEADROOM, 0);
    serializer.encode_into(message, frame)?;
    wire.send(frame)
}

fn recv(wire: &mut impl Wire, serializer: Serializer) -> Result<Message> {
    Ok(serializer.decode(wire.recv()?)?)
}

/// HELLO, ticket authentication, WELCOME.
fn join(wire: &mut impl Wire, args: &Target, role: &str, frame: &mut Vec<u8>) -> Result<()> {
    let mut roles = Dict::new();
    roles.insert(role.into(), Value::Dict(Dict::new()));
    let mut details = Dict::new();
    details.insert("roles".into(), Value::Dict(roles));
    details.insert(
        "authmethods".into(),
        Value::List(vec![Value::String("ticket".into())]),
    );
    details.insert("authid".into(), Value::String(args.user.clone()));
    let hello = Message::Hello {
        realm: args.realm.clone(),
        details,
    };
    send(wire, args.serializer, &hello, frame)?;
    loop {
        match recv(wire, args.serializer)? {
            Message::Welcome { .. } => return Ok(()),
            Message::Challenge { authmethod, .. } if authmethod == "ticket" => {
                let authenticate = Message::Authenticate {
                    signature: Secret::new(args.password.as_str()),
                    extra: Dict::new(),
                };
                send(wire, args.serializer, &authenticate, frame)?;
            }
            Message::Abort { reason, details } => bail!(
                "the router refused the session: {reason} {}",
                details.get("message").and_then(Value::as_str).unwrap_or("")
            ),
            other => bail!("{} while joining", other.name()),
        }
    }
}

/// One echo call: `call` is a CALL whose request id is set here, so that no call allocates a
/// message of its own.
fn echo(
    wire: &mut impl Wire,
    serializer: Serializer,
    call: &mut Message,
    request: Id,
    frame: &mut Vec<u8>,
) -> Result<()> {
    if let Message::Call { request: id, .. } = call {
        *id = request;
    }
    send(wire, serializer, call, frame)?;
    let Message::Call { args: sent, .. } = &*call else {
        unreachable!("echo is given a CALL")
    };
    match recv(wire, serializer)? {
        Message::Result {
            request: answered,
            args,
            ..
        } if answered == request => {
            ensure!(args.first() == sent.first(), "the echo came back different");
            Ok(())
        }
        Message::Error { error, .. } => bail!("the call failed: {error}"),
        other => bail!("{} instead of the RESULT of call {request}", other.name()),
    }
}

fn run(mut wire: impl Wire, args: &Target) -> Result<()> {
    let meter = Meter::new(&args.observe);
    let serializer = args.serializer;
    let mut frame = Vec::with_capacity(256);
    join(&mut wire, args, "caller", &mut frame)?;

    let small: String = "0123456789abcdef".repeat(SMALL_BYTES / 16);
    let mut call = Message::Call {
        request: 0,
        options: Dict::new(),
        procedure: PROCEDURE.to_owned(),
        args: vec![Value::String(small)],
        kwargs: Dict::new(),
    };
    let mut request: Id = 0;

    let start = meter.read();
    for _ in 0..WARMUP_CALLS {
        request += 1;
        echo(&mut wire, serializer, &mut call, request, &mut frame).context("warm-up call")?;
    }
    let warmup = meter.phase("warmup", &start, WARMUP_CALLS as u64);
    eprintln!("{warmup}");

    let mut latencies = Vec::with_capacity(args.calls);
    let start = meter.read();
    for _ in 0..args.calls {
        request += 1;
        let t = Instant::now();
        echo(&mut wire, serializer, &mut call, request, &mut frame).context("sequential call")?;
        latencies.push(t.elapsed().as_nanos() as u64);
    }
    let seq = meter.phase("sequential", &start, args.calls as u64);
    eprintln!("{seq}");
    latencies.sort_unstable();

    // a polite end, so that the router's log does not show a lost connection
    let goodbye = Message::Goodbye {
        details: Dict::new(),
        reason: "wamp.close.normal".into(),
    };
    send(&mut wire, serializer, &goodbye, &mut frame)?;
    match recv(&mut wire, serializer)? {
        Message::Goodbye { .. } => {}
        other => bail!("{} instead of GOODBYE", other.name()),
    }

    let mut report = json!({
        "impl": IMPL,
        "serializer": serializer.name(),
        "transport": bench_support::transport_name(&args.url),
        "big_mean_ms": null,
        "threaded_calls_per_s": null,
        "calls": args.calls,
        "phases": bench_support::phases_json([&warmup, &seq]),
    });
    bench_support::add_sequential_figures(&mut report, &latencies, &seq);
    println!("{report}");
    Ok(())
}

// --- the callee ----------------------------------------------------------------------------

/// Registers the echo procedure and answers invocations until the connection ends.
fn serve(mut wire: impl Wire, args: &Target) -> Result<()> {
    let serializer = args.serializer;
    let delay = args.handler_delay;
    let mut frame = Vec::with_capacity(256);
    join(&mut wire, args, "callee", &mut frame)?;
    let register = Message::Register {
        request: 1,
        options: Dict::new(),
        procedure: PROCEDURE.to_owned(),
    };
    send(&mut wire, serializer, &register, &mut frame)?;
    match recv(&mut wire, serializer)? {
        Message::Registered { .. } => {}
        Message::Error { error, .. } => bail!("registering {PROCEDURE}: {error}"),
        other => bail!("{} instead of REGISTERED", other.name()),
    }
    println!("READY");
    std::io::stdout().flush()?;
    let mut answer = Message::Yield {
        request: 0,
        options: Dict::new(),
        args: Vec::new(),
        kwargs: Dict::new(),
    };
    loop {
        let message = match recv(&mut wire, serializer) {
            Ok(message) => message,
            // the router went away: the runner stops callees by stopping the router, or kills them
            Err(_) => return Ok(()),
        };
        match message {
            Message::Invocation {
                request, mut args, ..
            } => {
                if let Message::Yield {
                    request: id,
                    args: out,
                    ..
                } = &mut answer
                {
                    *id = request;
                    out.clear();
                    out.extend(args.drain(..1.min(args.len())));
                }
                if !delay.is_zero() {
                    std::thread::sleep(delay);
                }
                send(&mut wire, serializer, &answer, &mut frame)?;
            }
            Message::Goodbye { .. } => return Ok(()),
            _ => {}
        }
    }
}

// --- the publisher and the subscriber --------------------------------------------------------

/// GOODBYE, and its answer: a polite end, so that the router's log does not show a lost
/// connection. Whatever else is still on its way in (events, for a subscriber) is skipped.
fn leave(wire: &mut impl Wire, serializer: Serializer, frame: &mut Vec<u8>) -> Result<()> {
    let goodbye = Message::Goodbye {
        details: Dict::new(),
        reason: "wamp.close.normal".into(),
    };
    send(wire, serializer, &goodbye, frame)?;
    loop {
        if let Message::Goodbye { .. } = recv(wire, serializer)? {
            return Ok(());
        }
    }
}

/// One PUBLISH message, reused for every publication: its request id and arguments are set
/// in place, so that an event allocates nothing but its phase name's copy.
struct FloorPublisher<W> {
    wire: W,
    serializer: Serializer,
    frame: Vec<u8>,
    message: Message,
    /// The same with `acknowledge: true`.
    acknowledged: Message,
    request: Id,
}

impl<W: Wire> FloorPublisher<W> {
    fn new(wire: W, serializer: Serializer) -> Self {
        let publish = |options: Dict| Message::Publish {
            request: 0,
            options,
            topic: EVENTS_TOPIC.to_owned(),
            args: Vec::new(),
            kwargs: Dict::new(),
        };
        let mut ack = Dict::new();
        ack.insert("acknowledge".into(), Value::Bool(true));
        FloorPublisher {
            wire,
            serializer,
            frame: Vec::with_capacity(256),
            message: publish(Dict::new()),
            acknowledged: publish(ack),
            request: 0,
        }
    }

    /// Publishes the message (`acknowledged` or not) whose arguments `fill` sets; an
    /// acknowledged one returns with its PUBLISHED.
    fn publish(&mut self, acknowledged: bool, fill: impl FnOnce(&mut Vec<Value>)) -> Result<()> {
        self.request += 1;
        let message = if acknowledged {
            &mut self.acknowledged
        } else {
            &mut self.message
        };
        if let Message::Publish { request, args, .. } = message {
            *request = self.request;
            fill(args);
        }
        send(&mut self.wire, self.serializer, message, &mut self.frame)?;
        if !acknowledged {
            return Ok(());
        }
        match recv(&mut self.wire, self.serializer)? {
            Message::Published { request, .. } if request == self.request => Ok(()),
            Message::Error { error, .. } => bail!("the router refused the publication: {error}"),
            other => bail!(
                "{} instead of the PUBLISHED of publication {}",
                other.name(),
                self.request
            ),
        }
    }
}

impl<W: Wire> EventPublisher for FloorPublisher<W> {
    fn marker(&mut self, marker: Marker<'_>) -> Result<()> {
        let text = |s: &str| Value::String(s.to_owned());
        let args = match marker {
            Marker::Start(phase) => vec![text("start"), text(phase)],
            Marker::End(phase, sent) => vec![text("end"), text(phase), Value::Integer(sent.into())],
            Marker::Quit => vec![text("quit")],
        };
        self.publish(true, |out| *out = args)
    }

    fn event(&mut self, phase: &str, seq: u64, sent_ns: u64, acknowledged: bool) -> Result<()> {
        self.publish(acknowledged, |args| {
            let fresh = !matches!(args.first(), Some(Value::String(kind)) if kind == "event")
                || !matches!(args.get(1), Some(Value::String(name)) if name == phase);
            if fresh {
                *args = vec![
                    Value::String("event".into()),
                    Value::String(phase.to_owned()),
                    Value::Integer(0),
                    Value::Integer(0),
                    Value::String(EVENTS_PAD.to_owned()),
                ];
            }
            args[2] = Value::Integer(seq.into());
            args[3] = Value::Integer(sent_ns.into());
        })
    }
}

fn publish(mut wire: impl Wire, args: &Target, phases: &Phases) -> Result<()> {
    ensure!(!phases.phases.is_empty(), "a publisher needs a --phase");
    let meter = Meter::new(&args.observe);
    let mut frame = Vec::with_capacity(256);
    join(&mut wire, args, "publisher", &mut frame)?;
    let mut publisher = FloorPublisher::new(wire, args.serializer);
    let report = bench_support::publish_phases(
        &mut publisher,
        &meter,
        &phases.phases,
        phases.duration,
        phases.quit,
    )?;
    leave(&mut publisher.wire, args.serializer, &mut frame)?;
    let report = json!({
        "impl": IMPL,
        "role": "publisher",
        "serializer": args.serializer.name(),
        "transport": bench_support::transport_name(&args.url),
        "phases": report,
    });
    println!("{report}");
    Ok(())
}

fn subscribe(mut wire: impl Wire, args: &Target) -> Result<()> {
    let serializer = args.serializer;
    let mut frame = Vec::with_capacity(256);
    join(&mut wire, args, "subscriber", &mut frame)?;
    let subscribe = Message::Subscribe {
        request: 1,
        options: Dict::new(),
        topic: EVENTS_TOPIC.to_owned(),
    };
    send(&mut wire, serializer, &subscribe, &mut frame)?;
    match recv(&mut wire, serializer)? {
        Message::Subscribed { .. } => {}
        Message::Error { error, .. } => bail!("subscribing to {EVENTS_TOPIC}: {error}"),
        other => bail!("{} instead of SUBSCRIBED", other.name()),
    }
    println!("READY");
    std::io::stdout().flush()?;
    let mut tally = SubscriberTally::new(IMPL, args);
    loop {
        let Message::Event { args: event, .. } = recv(&mut wire, serializer)? else {
            continue;
        };
        match tally.handle(&event)? {
            Control::Continue => {}
            Control::Phase(line) => {
                let mut out = std::io::stdout().lock();
                writeln!(out, "{}", serde_json::Value::Object(line))?;
                out.flush()?;
            }
            Control::Quit => return leave(&mut wire, serializer, &mut frame),
        }
    }
}

/// A blocking unix socket whose reads wait in a poll for readability first.
///
/// A blocking read on a unix socket sleeps on the socket's only wait queue, which the router
/// also rings when it takes our last message off the socket (there is room to write again).
/// That woke this reader once per call for nothing: two runs per call where a client that
/// waits in epoll for readability alone (as ours does) has one. A TCP socket rings that
/// queue for room to write only when a writer waits for it.
#[cfg(unix)]
struct PolledUnixStream {
    stream: UnixStream,
    poll: mio::Poll,
    events: mio::Events,
    timeout: Option<Duration>,
    /// The last read found the socket empty (or this is the first): wait before reading.
    /// A poll after a read that left bytes behind would wait for the next message in vain.
    drained: bool,
}

#[cfg(unix)]
impl PolledUnixStream {
    fn new(stream: UnixStream, timeout: Option<Duration>) -> Result<Self> {
        use std::os::fd::AsRawFd;
        let poll = mio::Poll::new().context("creating a poll")?;
        poll.registry()
            .register(
                &mut mio::unix::SourceFd(&stream.as_raw_fd()),
                mio::Token(0),
                mio::Interest::READABLE,
            )
            .context("watching the socket")?;
        Ok(PolledUnixStream {
            stream,
            poll,
            events: mio::Events::with_capacity(1),
            timeout,
            drained: true,
        })
    }
}

#[cfg(unix)]
impl Read for PolledUnixStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.drained {
            loop {
                match self.poll.poll(&mut self.events, self.timeout) {
                    Ok(()) if self.events.is_empty() => {
                        return Err(std::io::ErrorKind::TimedOut.into());
                    }
                    Ok(()) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        // Still a blocking read: should readiness have been stale, it waits, and is right.
        let read = self.stream.read(buf)?;
        self.drained = read < buf.len();
        Ok(read)
    }
}

#[cfg(unix)]
impl Write for PolledUnixStream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.stream.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.stream.flush()
    }
}

fn main() -> Result<()> {
    let (args, role, phases) = parse_args()?;
    // a callee or subscriber waits for messages as long as it lives; a reply must come
    let timeout = matches!(role, Role::Caller | Role::Publisher).then_some(READ_TIMEOUT);
    let endpoint = Endpoint::parse(&args.url).with_context(|| format!("--url {}", args.url))?;
    let go = |wire: Box<dyn Wire>| match role {
        Role::Caller => run(wire, &args),
        Role::Callee => serve(wire, &args),
        Role::Publisher => publish(wire, &args, &phases),
        Role::Subscriber => subscribe(wire, &args),
    };
    match endpoint {
        Endpoint::WebSocket {
            url,
            host,
            port,
            tls: false,
        } => go(Box::new(WebSocketWire::connect(
            &url,
            &host,
            port,
            args.serializer,
            timeout,
        )?)),
        Endpoint::RawSocketTcp {
            host,
            port,
            tls: false,
        } => go(Box::new(RawSocketWire::handshake(
            tcp(&host, port, timeout)?,
            args.serializer,
        )?)),
        #[cfg(unix)]
        Endpoint::RawSocketUnix { path } => {
            let stream = UnixStream::connect(&path)
                .with_context(|| format!("connecting to {}", path.display()))?;
            let stream = PolledUnixStream::new(stream, timeout)?;
            go(Box::new(RawSocketWire::handshake(stream, args.serializer)?))
        }
        #[cfg(not(unix))]
        Endpoint::RawSocketUnix { .. } => {
            bail!("--url {}: unix sockets need a unix system", args.url)
        }
        _ => bail!(
            "--url {}: the floor speaks ws://, tcpip:// and unix:// only (TLS would add its own \
             cost to the floor)",
            args.url
        ),
    }
}
