//! Smoke tests of the test router fixture (tests/support, tests/router):
//! WAMP-Ticket logins over WebSocket done by hand with tungstenite, the
//! RawSocket endpoints, and the private-router controls (crash, restart,
//! freeze).

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
#[cfg(unix)]
use std::os::unix::net::UnixStream;
use std::time::Duration;

use serde_json::{Value, json};
use support::Router;
use tungstenite::client::IntoClientRequest;
use tungstenite::http::HeaderValue;
use tungstenite::{Message, WebSocket};

/// No read in these tests may block longer than this.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

fn hello(realm: &str, authid: &str) -> Value {
    json!([1, realm, {
        "authid": authid,
        "authmethods": ["ticket"],
        "roles": {"caller": {}, "callee": {}, "publisher": {}, "subscriber": {}},
    }])
}

fn ws_connect(router: &Router, port: u16) -> WebSocket<TcpStream> {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the router");
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut request = router.ws_url.as_str().into_client_request().unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("wamp.2.json"),
    );
    let (socket, response) = tungstenite::client(request, stream).expect("WebSocket handshake");
    assert_eq!(
        response
            .headers()
            .get("Sec-WebSocket-Protocol")
            .map(|v| v.as_bytes()),
        Some(&b"wamp.2.json"[..])
    );
    socket
}

fn ws_send(socket: &mut WebSocket<TcpStream>, msg: &Value) {
    socket.send(Message::text(msg.to_string())).expect("send");
}

fn ws_recv(socket: &mut WebSocket<TcpStream>) -> Value {
    loop {
        match socket.read().expect("read a WAMP message (timed out?)") {
            Message::Text(text) => return serde_json::from_str(text.as_str()).expect("json"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected WebSocket message {other:?}"),
        }
    }
}

/// HELLO with ticket auth, answer the CHALLENGE; returns WELCOME or ABORT.
fn ticket_login(router: &Router, port: u16, authid: &str, ticket: &str) -> Value {
    let mut socket = ws_connect(router, port);
    ws_send(&mut socket, &hello(&router.realm, authid));
    let challenge = ws_recv(&mut socket);
    assert_eq!(challenge[0], 4, "expected CHALLENGE, got {challenge}");
    assert_eq!(challenge[1], "ticket");
    ws_send(&mut socket, &json!([5, ticket, {}]));
    let reply = ws_recv(&mut socket);
    let _ = socket.close(None);
    reply
}

#[test]
fn ticket_login_over_websocket() {
    let router = Router::shared();
    let _g = router.log_on_failure();
    let user = router.backend(1);
    let welcome = ticket_login(router, router.ports.ws, &user.username, &user.password);
    assert_eq!(welcome[0], 2, "expected WELCOME, got {welcome}");
    let details = &welcome[2];
    assert_eq!(details["authid"], "backend-1");
    assert_eq!(details["authrole"], "backend");
    assert_eq!(details["authmethod"], "ticket");
    assert_eq!(details["authprovider"], "dynamic");
    assert_eq!(details["authextra"]["has_restrictions"], false);
}

#[test]
fn every_ticket_user_gets_its_role() {
    let router = Router::shared();
    let _g = router.log_on_failure();
    for user in router.users().iter().filter(|u| u.authmethod == "ticket") {
        let welcome = ticket_login(router, router.ports.ws, &user.username, &user.password);
        assert_eq!(
            welcome[0], 2,
            "{}: expected WELCOME, got {welcome}",
            user.username
        );
        assert_eq!(welcome[2]["authrole"], user.role.as_str());
    }
    assert_eq!(router.trust().role, "trust");
    assert_eq!(router.frontend().role, "frontend");
    assert_eq!(router.public().role, "public");
    assert_eq!(router.cra_plain().authmethod, "wampcra");
    assert!(router.cra_salted().salt.is_some());
    assert_eq!(router.age_otp_procedure(), "nexus.testing.otp.age");
}

#[test]
fn wrong_password_is_aborted() {
    let router = Router::shared();
    let _g = router.log_on_failure();
    let abort = ticket_login(
        router,
        router.ports.ws,
        &router.backend(2).username,
        "not the password",
    );
    assert_eq!(
        abort,
        json!([3, {"message": "Permission Denied"}, "com.izaber.wamp.error.permissiondenied"])
    );
}

fn rs_send<S: Write>(stream: &mut S, msg: &Value) {
    let payload = msg.to_string().into_bytes();
    let len = u32::try_from(payload.len()).unwrap();
    assert!(len < 1 << 24);
    // 4-byte header: message type 0, then a 24-bit big-endian length
    stream.write_all(&len.to_be_bytes()).unwrap();
    stream.write_all(&payload).unwrap();
}

fn rs_recv<S: Read>(stream: &mut S) -> Value {
    let mut header = [0u8; 4];
    stream
        .read_exact(&mut header)
        .expect("frame header (timed out?)");
    assert_eq!(header[0], 0, "not a WAMP message frame: {header:?}");
    let len = u32::from_be_bytes([0, header[1], header[2], header[3]]) as usize;
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).unwrap();
    serde_json::from_slice(&payload).unwrap()
}

/// Opens a RawSocket (json, 16 MiB) and logs in as backend-3.
fn rawsocket_login<S: Read + Write>(router: &Router, mut stream: S) {
    stream.write_all(&[0x7F, 0xF1, 0, 0]).unwrap();
    let mut reply = [0u8; 4];
    stream
        .read_exact(&mut reply)
        .expect("RawSocket handshake reply");
    assert_eq!(reply[0], 0x7F);
    assert_eq!(reply[1] & 0x0F, 1, "router refused json: {reply:?}");
    assert_eq!(
        reply[1] >> 4,
        0xF,
        "router accepts less than 16 MiB: {reply:?}"
    );

    let user = router.backend(3);
    rs_send(&mut stream, &hello(&router.realm, &user.username));
    let challenge = rs_recv(&mut stream);
    assert_eq!(challenge[0], 4, "expected CHALLENGE, got {challenge}");
    rs_send(&mut stream, &json!([5, user.password, {}]));
    let welcome = rs_recv(&mut stream);
    assert_eq!(welcome[0], 2, "expected WELCOME, got {welcome}");
    assert_eq!(welcome[2]["authrole"], "backend");
}

#[test]
fn rawsocket_over_tcp() {
    let router = Router::shared();
    let _g = router.log_on_failure();
    assert_eq!(
        router.tcp_url,
        format!("tcpip://127.0.0.1:{}", router.ports.tcp)
    );
    let stream = TcpStream::connect(("127.0.0.1", router.ports.tcp)).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    rawsocket_login(router, stream);
}

#[cfg(unix)]
#[test]
fn rawsocket_over_unix_socket() {
    let router = Router::shared();
    let _g = router.log_on_failure();
    assert_eq!(
        router.unix_url,
        format!("unix://{}", router.unix_socket.display())
    );
    let stream = UnixStream::connect(&router.unix_socket).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    rawsocket_login(router, stream);
}

#[test]
fn tls_endpoints_and_ca_exist() {
    let router = Router::shared();
    assert!(router.wss_url.starts_with("wss://localhost:"));
    assert!(router.tcps_url.starts_with("tcpips://localhost:"));
    let pem = std::fs::read_to_string(&router.ca_file).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    for port in [router.ports.wss, router.ports.tcps] {
        TcpStream::connect(("127.0.0.1", port)).expect("TLS endpoint accepts");
    }
}

#[test]
fn private_router_crash_restart_freeze() {
    let router = Router::private();
    let user = router.backend(1).clone();
    let login = |r: &Router| ticket_login(r, r.ports.ws, &user.username, &user.password);
    assert_eq!(login(&router)[0], 2);

    router.kill_hard();
    assert!(!router.is_running());
    assert!(TcpStream::connect(("127.0.0.1", router.ports.ws)).is_err());

    let ports = router.ports;
    router.restart();
    assert_eq!(router.ports, ports);
    assert_eq!(login(&router)[0], 2);

    // frozen: the kernel still accepts the connection, nobody answers
    router.freeze();
    let stream = TcpStream::connect(("127.0.0.1", router.ports.ws)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut request = router.ws_url.as_str().into_client_request().unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("wamp.2.json"),
    );
    assert!(
        tungstenite::client(request, stream).is_err(),
        "a frozen router answered"
    );
    router.thaw();
    assert_eq!(login(&router)[0], 2);
    assert!(router.log().contains("NODE_BOOT_COMPLETE"));
}
