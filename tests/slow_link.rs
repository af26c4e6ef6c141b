//! A large message through a slow link: it takes longer to cross than the heartbeat
//! timeout, and must still get through, since bytes keep moving the whole time.
//!
//! The link is a throttling TCP proxy in this test, between the caller and the router; the
//! callee talks to the router directly.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use izaber_wamp::ReconnectPolicy;
use support::Router;

/// The link's speed in each direction.
const BYTES_PER_SECOND: usize = 1024 * 1024;
/// Three times the heartbeat timeout on the wire, each way.
const MESSAGE_SIZE: usize = 3 * 1024 * 1024;
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(1);

/// A TCP proxy to `upstream` that moves at most [`BYTES_PER_SECOND`] each way. Stops
/// accepting when dropped; open connections end when either side closes.
struct SlowLink {
    port: u16,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl SlowLink {
    fn to(upstream: u16) -> SlowLink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let acceptor = std::thread::spawn(move || {
            while !stopping.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let router = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
                        for stream in [&client, &router] {
                            stream.set_nodelay(true).unwrap();
                        }
                        pump(client.try_clone().unwrap(), router.try_clone().unwrap());
                        pump(router, client);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(e) => panic!("slow link: {e}"),
                }
            }
        });
        SlowLink {
            port,
            stop,
            acceptor: Some(acceptor),
        }
    }
}

impl Drop for SlowLink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Copies `from` to `to` in small slices, sleeping after each to keep to the link's speed.
fn pump(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let slice = BYTES_PER_SECOND / 100;
        let mut buf = vec![0u8; slice];
        // When the link is free again; idle time earns no credit for later bursts.
        let mut free_at = Instant::now();
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
            free_at = free_at.max(Instant::now())
                + Duration::from_secs_f64(n as f64 / BYTES_PER_SECOND as f64);
            std::thread::sleep(free_at.saturating_duration_since(Instant::now()));
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}

fn port_of(url: &str) -> u16 {
    let authority = url.split("://").nth(1).unwrap().split('/').next().unwrap();
    authority.rsplit(':').next().unwrap().parse().unwrap()
}

#[test]
fn a_message_slower_than_the_heartbeat_timeout_gets_through_both_ways() {
    let router = Router::private();
    let _log = router.log_on_failure();
    let callee = router
        .client(&router.ws_url, router.backend(1))
        .connect()
        .unwrap();
    callee
        .register("test.size", |i| Ok(i.arg::<String>(0)?.len()))
        .unwrap();
    callee
        .register("test.blob", |_| Ok("x".repeat(MESSAGE_SIZE)))
        .unwrap();

    for url in [&router.ws_url, &router.tcp_url] {
        let link = SlowLink::to(port_of(url));
        let slow_url = url.replace(&format!(":{}", port_of(url)), &format!(":{}", link.port));
        let caller = router
            .client(&slow_url, router.backend(2))
            .ping_interval(Some(Duration::from_millis(250)))
            .heartbeat_timeout(HEARTBEAT_TIMEOUT)
            .reconnect(ReconnectPolicy::never())
            .timeout(Duration::from_secs(60))
            .connect()
            .unwrap();

        let started = Instant::now();
        let size = caller
            .call("test.size", ("y".repeat(MESSAGE_SIZE),))
            .unwrap_or_else(|e| panic!("{url}: sending a large message: {e}"));
        assert_eq!(size, MESSAGE_SIZE as i64);
        let up = started.elapsed();

        let started = Instant::now();
        let blob = caller
            .call("test.blob", ())
            .unwrap_or_else(|e| panic!("{url}: receiving a large message: {e}"));
        assert_eq!(blob.as_str().map(str::len), Some(MESSAGE_SIZE));
        let down = started.elapsed();

        // The link really was slower than the heartbeat timeout, each way.
        for took in [up, down] {
            assert!(took > HEARTBEAT_TIMEOUT * 2, "{url}: took only {took:?}");
        }
        assert!(caller.is_connected());
        caller.close();
    }
}
