//! What the fuzz targets check, kept here so that each target is one line and the checks can
//! be read in one place.
//!
//! The property under test is the project's "bad input never panics": bytes from the network
//! become a message or an error, and whatever decoded is a message the library can send again.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use izaber_wamp::protocol::{Serializer, Value};
use izaber_wamp::{Client, ClientBuilder, ReconnectPolicy};

/// Decodes `bytes` as one message. Whatever decodes must encode again with the same
/// serializer, decode from that encoding, and encode to the same bytes a second time: one trip
/// through the library is stable.
///
/// JSON floats must come back exactly too: the crate builds serde_json with
/// `float_roundtrip`, whose absence this target found (`1.8446744307370954e20` used to read
/// back as `1.844674430737095e20`).
pub fn decode_and_reencode(serializer: Serializer, bytes: &[u8]) {
    let Ok(message) = serializer.decode(bytes) else {
        return;
    };
    let first = serializer.encode(&message).unwrap_or_else(|e| {
        panic!("{serializer}: decoded {message:?} but cannot encode it again: {e}")
    });
    let again = serializer.decode(&first).unwrap_or_else(|e| {
        panic!("{serializer}: cannot decode its own encoding of {message:?}: {e}")
    });
    let second = serializer
        .encode(&again)
        .unwrap_or_else(|e| panic!("{serializer}: cannot encode {again:?} a second time: {e}"));
    if first == second {
        return;
    }
    // Compare as values, not bytes, so that the allowed float drift can be told apart.
    let tolerance = match serializer {
        Serializer::Json => JSON_FLOAT_TOLERANCE,
        _ => 0.0,
    };
    let (a, b) = (
        serializer.decode_value(&first).expect("decoded above"),
        serializer.decode_value(&second).expect("decoded above"),
    );
    assert!(
        same(&a, &b, tolerance),
        "{serializer}: encoding is not stable\n  decoded: {message:?}\n  then:    {again:?}"
    );
}

/// How far, relative to its size, a JSON float may move in one trip: not at all (see
/// [`decode_and_reencode`]).
pub const JSON_FLOAT_TOLERANCE: f64 = 0.0;

/// Equal values, where floats may differ by `tolerance` relative to their size (and any two
/// floats below 1e-300 in size count as equal when `tolerance` is not 0), and NaN equals NaN.
fn same(a: &Value, b: &Value, tolerance: f64) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => {
            let size = x.abs().max(y.abs());
            (x.is_nan() && y.is_nan())
                || x.to_bits() == y.to_bits()
                || (tolerance > 0.0 && ((x - y).abs() <= size * tolerance || size < 1e-300))
        }
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y, tolerance))
        }
        (Value::Dict(x), Value::Dict(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((kx, x), (ky, y))| kx == ky && same(x, y, tolerance))
        }
        _ => a == b,
    }
}

/// The serializer a RawSocket input asks for in its first byte.
pub fn serializer_for(byte: u8) -> Serializer {
    match byte % 3 {
        0 => Serializer::Json,
        1 => Serializer::MsgPack,
        _ => Serializer::Cbor,
    }
}

/// A RawSocket "router" on a unix socket that answers the client's handshake with a byte of
/// the input and then sends the rest of the input as the byte stream, so the client's own
/// RawSocket frame parser, join and session loop read it.
///
/// Input layout: `[serializer choice, handshake reply byte 1, stream bytes...]`. A valid
/// handshake reply byte is `0xF0 | serializer id` (16 MiB, and JSON 1, MessagePack 2, CBOR 3).
///
/// The parser is `pub(crate)`, so it is reached through the public [`Client`]: slower than
/// calling it directly (one connection per input), but it needs nothing from `src/`.
pub fn rawsocket_session(data: &[u8]) {
    let [choice, reply, stream @ ..] = data else {
        return;
    };
    let serializer = serializer_for(*choice);
    let router = router();
    let stream = stream.to_vec();
    let reply = *reply;
    let accepted = Arc::new(AtomicBool::new(false));
    let served = {
        let accepted = accepted.clone();
        std::thread::spawn(move || serve_one(router, reply, &stream, &accepted))
    };
    run_client(Client::builder(format!("unix://{}", router.path.display())).serializer(serializer));
    if !accepted.load(Ordering::SeqCst) {
        // The client gave up before connecting: wake the router's accept so it can return.
        let _ = UnixStream::connect(&router.path);
    }
    let _ = served.join();
}

/// Connects the client a target reads its input with: ticket login, so that a CHALLENGE in
/// the input is answered rather than refused; no reconnecting, no heartbeat. The peer shuts
/// its side after the input, so the session ends by itself once the client has read every
/// frame; this waits for that, so what follows WELCOME is read too.
fn run_client(builder: ClientBuilder) {
    let client = builder
        .ticket("fuzz", "secret")
        .reconnect(ReconnectPolicy::never())
        .ping_interval(None)
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(5))
        .connect();
    if let Ok(client) = client {
        let deadline = Instant::now() + Duration::from_secs(5);
        while client.is_connected() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(50));
        }
        client.close();
    }
}

struct Router {
    path: PathBuf,
    listener: UnixListener,
}

static ROUTER: OnceLock<Router> = OnceLock::new();

fn router() -> &'static Router {
    ROUTER.get_or_init(|| {
        ignore_sigpipe();
        let path = std::env::temp_dir().join(format!(
            "izaber-wamp-fuzz-rawsocket-{}.sock",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).expect("binding the fuzz router's unix socket");
        // libFuzzer ends the process with exit(), which runs no Rust destructors.
        // SAFETY: registers a plain function; it only removes a file.
        unsafe {
            libc::atexit(remove_socket);
        }
        Router { path, listener }
    })
}

/// Without Rust's runtime start-up (libFuzzer owns `main`), SIGPIPE still kills the process;
/// a client that writes after the router hung up must get EPIPE instead.
fn ignore_sigpipe() {
    // SAFETY: setting a signal's disposition to "ignore" has no other effect.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

extern "C" fn remove_socket() {
    if let Some(router) = ROUTER.get() {
        let _ = std::fs::remove_file(&router.path);
    }
}

fn serve_one(router: &Router, reply: u8, stream: &[u8], accepted: &AtomicBool) {
    let accept = router.listener.accept();
    accepted.store(true, Ordering::SeqCst);
    let Ok((mut conn, _)) = accept else {
        return;
    };
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = conn.set_write_timeout(Some(Duration::from_secs(5)));
    let mut hello = [0u8; 4];
    if conn.read_exact(&mut hello).is_err() {
        return;
    }
    let _ = conn.write_all(&[0x7F, reply, 0, 0]);
    let _ = conn.write_all(stream);
    let _ = conn.shutdown(Shutdown::Write);
    drain(&mut conn);
}

/// Takes whatever the client says (HELLO, AUTHENTICATE, PONG, GOODBYE, a close frame...)
/// until it hangs up or goes quiet for the connection's read timeout.
fn drain(conn: &mut impl Read) {
    let mut sink = [0u8; 4096];
    loop {
        match conn.read(&mut sink) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// The subprotocol a WebSocket input's router chooses, from its first byte.
pub fn websocket_subprotocol_for(byte: u8) -> &'static str {
    match byte % 3 {
        0 => "wamp.2.json",
        1 => "wamp.2.msgpack",
        _ => "wamp.2.cbor",
    }
}

/// The largest message the WebSocket target's client accepts, from the choice byte: 1 MiB
/// (the library's large-message size, so a frame announcing the most we accept takes the
/// large-buffer path) when `byte / 3` is even, 1 KiB when it is odd. libFuzzer's inputs stay
/// within a few KiB, so only the small limit lets fragments that are each accepted add up to
/// a refused message; the large one exercises refusal from the header alone. Either keeps
/// allocations far from the default 4 GiB.
pub fn websocket_max_incoming_for(byte: u8) -> usize {
    if (byte / 3) & 1 == 0 {
        1 << 20
    } else {
        1 << 10
    }
}

/// A WebSocket "router" on 127.0.0.1 that runs a real HTTP upgrade with the client, choosing
/// the subprotocol the input's first byte names, then sends the rest of the input as the byte
/// stream: our frame reader (headers through tungstenite's codec, fragments, control frames,
/// close, the size limit), join and the session loop read it.
///
/// Input layout: `[choice, stream bytes...]`; the choice byte modulo 3 picks the subprotocol:
/// JSON, MessagePack, CBOR ([`websocket_subprotocol_for`]), and its next bit the client's
/// message size limit ([`websocket_max_incoming_for`]). A valid stream is server frames:
/// unmasked, FIN and opcode in the first byte (0x81 text, 0x82 binary, 0x89 ping, 0x8A pong,
/// 0x88 close; 0x01/0x02/0x00 for fragments).
///
/// The stream is sent once the client's first frame (its HELLO) arrives, as a router answers:
/// bytes that came with the `101` response would be read by tungstenite's handshake and
/// dropped with it (`WebSocketTransport::handshake` relies on a router saying nothing before
/// HELLO), so the input would reach our frame reader only when the two happened to arrive in
/// separate reads.
pub fn websocket_session(data: &[u8]) {
    let [choice, stream @ ..] = data else {
        return;
    };
    let subprotocol = websocket_subprotocol_for(*choice);
    let router = ws_router();
    let stream = stream.to_vec();
    let accepted = Arc::new(AtomicBool::new(false));
    let served = {
        let accepted = accepted.clone();
        std::thread::spawn(move || ws_serve_one(&router.listener, subprotocol, &stream, &accepted))
    };
    // Every serializer is offered (the default), so the router's choice is what picks one.
    run_client(
        Client::builder(format!("ws://127.0.0.1:{}/", router.port))
            .max_incoming_size(websocket_max_incoming_for(*choice)),
    );
    if !accepted.load(Ordering::SeqCst) {
        // The client gave up before connecting: wake the router's accept so it can return.
        let _ = TcpStream::connect(("127.0.0.1", router.port));
    }
    let _ = served.join();
}

struct WsRouter {
    port: u16,
    listener: TcpListener,
}

static WS_ROUTER: OnceLock<WsRouter> = OnceLock::new();

fn ws_router() -> &'static WsRouter {
    WS_ROUTER.get_or_init(|| {
        ignore_sigpipe();
        let listener =
            TcpListener::bind("127.0.0.1:0").expect("binding the fuzz router's TCP port");
        let port = listener.local_addr().expect("a bound port").port();
        WsRouter { port, listener }
    })
}

fn ws_serve_one(listener: &TcpListener, subprotocol: &str, stream: &[u8], accepted: &AtomicBool) {
    let accept = listener.accept();
    accepted.store(true, Ordering::SeqCst);
    let Ok((mut conn, _)) = accept else {
        return;
    };
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = conn.set_write_timeout(Some(Duration::from_secs(5)));
    let _ = conn.set_nodelay(true);
    let Some(request) = read_request(&mut conn) else {
        return;
    };
    let Some(key) = header(&request, "sec-websocket-key") else {
        return;
    };
    let accept_key = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept_key}\r\n\
         Sec-WebSocket-Protocol: {subprotocol}\r\n\
         \r\n"
    );
    if conn.write_all(response.as_bytes()).is_err() {
        return;
    }
    // Wait for the client's HELLO (its first bytes after the upgrade): see websocket_session.
    let mut first = [0u8; 1];
    if !matches!(conn.read(&mut first), Ok(1)) {
        return;
    }
    let _ = conn.write_all(stream);
    let _ = conn.shutdown(Shutdown::Write);
    drain(&mut conn);
}

/// The client's upgrade request up to its blank line, read a byte at a time so that nothing
/// after it is taken (the client sends nothing more before the response anyway).
fn read_request(conn: &mut TcpStream) -> Option<String> {
    let mut request = Vec::with_capacity(512);
    let mut byte = [0u8; 1];
    while !request.ends_with(b"\r\n\r\n") {
        if request.len() > 16 * 1024 {
            return None;
        }
        match conn.read(&mut byte) {
            Ok(1) => request.push(byte[0]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            _ => return None,
        }
    }
    String::from_utf8(request).ok()
}

/// A header's value in an HTTP request head, its name matched without regard to case.
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").find_map(|line| {
        let (n, value) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}
