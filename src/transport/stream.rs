//! The byte stream under a transport: TCP, TLS over TCP, or a unix socket.
//!
//! Connecting and the handshakes are blocking with timeouts; afterwards the session thread
//! switches the socket to non-blocking and registers it with its `mio` poll.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream as StdTcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant, SystemTime};

use crate::Error;

use super::{Traffic, TransportOptions};

/// A connected byte stream.
pub(crate) enum Stream {
    Tcp(Tracked<mio::net::TcpStream>),
    Tls(Box<native_tls::TlsStream<Tracked<mio::net::TcpStream>>>),
    #[cfg(unix)]
    Unix(Tracked<mio::net::UnixStream>),
}

/// A non-blocking socket that remembers when a read came back short.
///
/// A stream socket's read that returns fewer bytes than asked for has emptied the kernel's
/// queue, so the next read would only say `WouldBlock`. Where [`SHORT_READ_MEANS_EMPTY`]
/// allows it, such a read is answered `WouldBlock` without the system call until the poll
/// reports the socket readable again: one `recvfrom` saved per message received.
///
/// It also counts the bytes that cross the socket either way, so that the session can tell a
/// connection that is busy moving one large message from one that has gone silent.
pub(crate) struct Tracked<S> {
    inner: S,
    traffic: Arc<Traffic>,
    /// Only once the socket is non-blocking: a blocking read may come back short and still
    /// be followed by more data without any event.
    tracking: bool,
    drained: bool,
}

impl<S> Tracked<S> {
    #[cfg(target_os = "linux")]
    fn new(inner: S) -> Tracked<S>
    where
        S: std::os::fd::AsRawFd,
    {
        let traffic = Traffic {
            socket: Some(inner.as_raw_fd()),
            ..Traffic::default()
        };
        Tracked::with_traffic(inner, traffic)
    }

    #[cfg(not(target_os = "linux"))]
    fn new(inner: S) -> Tracked<S> {
        Tracked::with_traffic(inner, Traffic::default())
    }

    fn with_traffic(inner: S, traffic: Traffic) -> Tracked<S> {
        Tracked {
            inner,
            traffic: Arc::new(traffic),
            tracking: false,
            drained: false,
        }
    }

    fn track(&mut self, on: bool) {
        self.tracking = on;
        self.drained = false;
    }
}

/// Whether a short read may stand for the `WouldBlock` the next read would return.
///
/// mio's epoll and kqueue backends (chosen by mio 1.x for exactly these targets) keep no
/// state of their own: the kernel raises a new edge whenever data arrives after a short
/// read, whether or not the socket was read to `WouldBlock`. Its other backends (IOCP on
/// Windows, event ports on Solaris, `poll(2)` on the rest, or everywhere when built with
/// `--cfg mio_unsupported_force_poll_poll`) arm the next readable event only when a read of
/// the socket itself returns `WouldBlock`: answering for the socket there would leave it
/// unarmed, and the connection silent for good after its first short read.
#[allow(unexpected_cfgs)] // mio's own flag, which our manifest does not declare.
const SHORT_READ_MEANS_EMPTY: bool = cfg!(all(
    not(mio_unsupported_force_poll_poll),
    any(
        // epoll
        target_os = "android",
        target_os = "emscripten",
        target_os = "illumos",
        target_os = "linux",
        target_os = "redox",
        // kqueue
        target_os = "dragonfly",
        target_os = "freebsd",
        target_os = "ios",
        target_os = "macos",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "tvos",
        target_os = "visionos",
        target_os = "watchos",
    )
));

impl<S: Read> Read for Tracked<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.drained && !buf.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = self.inner.read(buf)?;
        if SHORT_READ_MEANS_EMPTY && self.tracking && n > 0 && n < buf.len() {
            self.drained = true;
        }
        if n > 0 {
            self.traffic.count_read(n);
        }
        Ok(n)
    }
}

impl<S: Write> Write for Tracked<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.traffic.written.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A second handle on the same socket, kept to change blocking mode and timeouts after the
/// stream has been wrapped by TLS and WebSocket layers, and to shut it down from outside.
pub(crate) enum Control {
    Tcp(StdTcpStream),
    #[cfg(unix)]
    Unix(std::os::unix::net::UnixStream),
}

impl Control {
    /// The IP address of our end of the connection; `None` for a unix socket.
    pub fn local_ip(&self) -> Option<std::net::IpAddr> {
        match self {
            Control::Tcp(s) => s.local_addr().ok().map(|address| address.ip()),
            #[cfg(unix)]
            Control::Unix(_) => None,
        }
    }

    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        match self {
            Control::Tcp(s) => s.set_nonblocking(nonblocking),
            #[cfg(unix)]
            Control::Unix(s) => s.set_nonblocking(nonblocking),
        }
    }

    pub fn set_timeouts(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Control::Tcp(s) => {
                s.set_read_timeout(timeout)?;
                s.set_write_timeout(timeout)
            }
            #[cfg(unix)]
            Control::Unix(s) => {
                s.set_read_timeout(timeout)?;
                s.set_write_timeout(timeout)
            }
        }
    }

    /// Asks the kernel to acknowledge what arrives next at once instead of delaying the ACK.
    ///
    /// A router that leaves Nagle's algorithm on (Crossbar's RawSocket does) holds back the
    /// last, short segment of a large message until everything before it is acknowledged;
    /// with Linux's delayed ACKs that costs up to 40 ms per large message. The kernel drops
    /// quick-ACK mode again on its own, so this is asked each time a large message stalls.
    pub fn quick_ack(&self) {
        #[cfg(target_os = "linux")]
        if let Control::Tcp(s) = self {
            use std::os::linux::net::TcpStreamExt;
            // Only a speed-up: if it fails, the message still arrives.
            let _ = s.set_quickack(true);
        }
    }

    #[cfg(unix)]
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        match self {
            Control::Tcp(s) => s.as_raw_fd(),
            Control::Unix(s) => s.as_raw_fd(),
        }
    }

    pub fn shutdown(&self) {
        // Errors only mean the socket is already gone, which is what we want.
        let _ = match self {
            Control::Tcp(s) => s.shutdown(std::net::Shutdown::Both),
            #[cfg(unix)]
            Control::Unix(s) => s.shutdown(std::net::Shutdown::Both),
        };
    }
}

impl Stream {
    /// Opens a TCP connection (trying each resolved address) with TCP_NODELAY on, so that
    /// every frame leaves at once instead of waiting for Nagle's algorithm. `timeout` bounds
    /// resolving the name (see [`Resolver`]) and then each address's connect.
    pub fn connect_tcp(
        host: &str,
        port: u16,
        timeout: Duration,
    ) -> Result<(Stream, Control), Error> {
        let context = || format!("connecting to {host}:{port}");
        let addrs = RESOLVER
            .resolve(host, port, timeout)
            .map_err(|e| Error::io(context(), e))?;
        let mut last_error = io::Error::new(io::ErrorKind::NotFound, "no address resolved");
        for addr in addrs {
            match StdTcpStream::connect_timeout(&addr, timeout) {
                Ok(stream) => {
                    stream
                        .set_nodelay(true)
                        .map_err(|e| Error::io(context(), e))?;
                    let control = stream.try_clone().map_err(|e| Error::io(context(), e))?;
                    control
                        .set_read_timeout(Some(timeout))
                        .and_then(|_| control.set_write_timeout(Some(timeout)))
                        .map_err(|e| Error::io(context(), e))?;
                    // The socket stays blocking (with timeouts) until the handshakes are done;
                    // mio does not mind, and the session thread flips it to non-blocking later.
                    let stream = Tracked::new(mio::net::TcpStream::from_std(stream));
                    return Ok((Stream::Tcp(stream), Control::Tcp(control)));
                }
                Err(e) => last_error = e,
            }
        }
        Err(Error::io(context(), last_error))
    }

    /// Wraps a TCP stream in TLS, verifying the certificate unless told otherwise.
    pub fn start_tls(self, host: &str, options: &TransportOptions) -> Result<Stream, Error> {
        let tcp = match self {
            Stream::Tcp(tcp) => tcp,
            _ => unreachable!("TLS is only layered on TCP"),
        };
        let context = || format!("connecting to {host}");
        if options.danger_accept_invalid_certs {
            log::warn!("TLS certificate verification is OFF for {host}: anyone can impersonate it");
        } else if options.danger_accept_invalid_hostnames {
            log::warn!("TLS host name verification is OFF for {host}");
        }
        let connector = TLS_CONNECTORS.get(options)?;
        match connector.connect(host, tcp) {
            Ok(tls) => Ok(Stream::Tls(Box::new(tls))),
            Err(native_tls::HandshakeError::Failure(e)) => Err(Error::tls(context(), e)),
            Err(native_tls::HandshakeError::WouldBlock(_)) => Err(Error::io(
                context(),
                io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"),
            )),
        }
    }

    #[cfg(unix)]
    pub fn connect_unix(path: &Path, timeout: Duration) -> Result<(Stream, Control), Error> {
        let context = || format!("connecting to unix socket {}", path.display());
        let stream =
            std::os::unix::net::UnixStream::connect(path).map_err(|e| Error::io(context(), e))?;
        let control = stream.try_clone().map_err(|e| Error::io(context(), e))?;
        control
            .set_read_timeout(Some(timeout))
            .and_then(|_| control.set_write_timeout(Some(timeout)))
            .map_err(|e| Error::io(context(), e))?;
        Ok((
            Stream::Unix(Tracked::new(mio::net::UnixStream::from_std(stream))),
            Control::Unix(control),
        ))
    }

    #[cfg(not(unix))]
    pub fn connect_unix(path: &Path, _timeout: Duration) -> Result<(Stream, Control), Error> {
        Err(Error::InvalidUrl {
            url: format!("unix://{}", path.display()),
            reason: "unix sockets are not available on this platform".into(),
        })
    }

    /// The socket to register with the session thread's poll.
    pub fn source(&mut self) -> &mut dyn mio::event::Source {
        match self {
            Stream::Tcp(s) => &mut s.inner,
            Stream::Tls(s) => &mut s.get_mut().inner,
            #[cfg(unix)]
            Stream::Unix(s) => &mut s.inner,
        }
    }

    /// Starts (non-blocking phase) or stops (blocking phase) answering reads after a short
    /// one without a system call.
    pub fn track_short_reads(&mut self, on: bool) {
        match self {
            Stream::Tcp(s) => s.track(on),
            Stream::Tls(s) => s.get_mut().track(on),
            #[cfg(unix)]
            Stream::Unix(s) => s.track(on),
        }
    }

    /// The counts of bytes read from and written to the socket (below TLS).
    pub fn traffic(&self) -> Arc<Traffic> {
        match self {
            Stream::Tcp(s) => s.traffic.clone(),
            Stream::Tls(s) => s.get_ref().traffic.clone(),
            #[cfg(unix)]
            Stream::Unix(s) => s.traffic.clone(),
        }
    }

    /// The poll reported the socket readable: reads go to the socket again.
    pub fn mark_readable(&mut self) {
        match self {
            Stream::Tcp(s) => s.drained = false,
            Stream::Tls(s) => s.get_mut().drained = false,
            #[cfg(unix)]
            Stream::Unix(s) => s.drained = false,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
            #[cfg(unix)]
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
            #[cfg(unix)]
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
            #[cfg(unix)]
            Stream::Unix(s) => s.flush(),
        }
    }
}

/// The host names of this process, resolved by the system's resolver.
static RESOLVER: LazyLock<Resolver> = LazyLock::new(|| Resolver::new(system_lookup));

fn system_lookup(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    Ok((host, port).to_socket_addrs()?.collect())
}

/// Host name resolution bounded by the connect timeout.
///
/// `getaddrinfo` takes no timeout: a DNS server that does not answer holds the caller for as
/// long as the C library keeps retrying (tens of seconds with several name servers), whatever
/// the connect timeout says. So a name is resolved on a thread of its own, and the caller
/// waits for it no longer than the timeout. A lookup cannot be cancelled, so one that overruns
/// runs on; a later resolution of the same host and port joins it instead of starting
/// another, or a client reconnecting every half second against a hanging DNS server would
/// leave a thread behind at every attempt.
///
/// An answer that arrives after every caller gave up is kept for the next caller, once and
/// for at most [`LATE_ANSWER_KEPT`]: else a server that always answers a little slower than
/// the timeout would never be answered in time. Answers that reach a caller are not kept, so
/// each connect still sees the current DNS records, as without the thread.
struct Resolver {
    lookup: Arc<LookupFn>,
    lookups: parking_lot::Mutex<HashMap<(String, u16), Arc<Lookup>>>,
}

type LookupFn = dyn Fn(&str, u16) -> io::Result<Vec<SocketAddr>> + Send + Sync;

/// How long an answer that came too late waits for the next caller.
const LATE_ANSWER_KEPT: Duration = Duration::from_secs(60);

/// One lookup of one host and port, on its own thread.
struct Lookup {
    state: parking_lot::Mutex<LookupState>,
    answered: parking_lot::Condvar,
}

#[derive(Default)]
struct LookupState {
    /// The lookup's answer, and when it came.
    answer: Option<(Answer, Instant)>,
    /// Callers waiting for the answer now.
    waiting: usize,
    /// Whether the answer reached a waiting caller (then nobody needs it kept).
    delivered: bool,
}

/// What a lookup found. An error is kept as its kind and message: each caller gets a copy,
/// and `io::Error` cannot be cloned.
type Answer = Result<Vec<SocketAddr>, (io::ErrorKind, String)>;

impl Resolver {
    fn new(
        lookup: impl Fn(&str, u16) -> io::Result<Vec<SocketAddr>> + Send + Sync + 'static,
    ) -> Resolver {
        Resolver {
            lookup: Arc::new(lookup),
            lookups: parking_lot::Mutex::new(HashMap::new()),
        }
    }

    /// The addresses of `host`, waiting at most `timeout` for them.
    fn resolve(&self, host: &str, port: u16, timeout: Duration) -> io::Result<Vec<SocketAddr>> {
        // An address needs no lookup, and so no thread.
        if let Some(ip) = ip_literal(host) {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        self.lookup_for(host, port)?.wait(host, timeout)
    }

    /// The lookup running for `host` and `port`, or its late answer, or a new lookup. The
    /// caller counts among its waiters.
    fn lookup_for(&self, host: &str, port: u16) -> io::Result<Arc<Lookup>> {
        let mut lookups = self.lookups.lock();
        let now = Instant::now();
        lookups.retain(|_, lookup| lookup.worth_keeping(now));
        let key = (host.to_owned(), port);
        if let Some(lookup) = lookups.get(&key).cloned() {
            let mut state = lookup.state.lock();
            if state.answer.is_some() {
                // A late answer, for this caller alone.
                lookups.remove(&key);
            } else {
                state.waiting += 1;
            }
            drop(state);
            return Ok(lookup);
        }
        let lookup = Arc::new(Lookup {
            state: parking_lot::Mutex::new(LookupState {
                waiting: 1,
                ..LookupState::default()
            }),
            answered: parking_lot::Condvar::new(),
        });
        let (resolve, answer_to, name) = (self.lookup.clone(), lookup.clone(), key.0.clone());
        std::thread::Builder::new()
            .name("wamp-resolve".into())
            .spawn(move || answer_to.answer(resolve(&name, port)))
            .map_err(|e| io::Error::new(e.kind(), format!("no thread to resolve {host}: {e}")))?;
        lookups.insert(key, lookup.clone());
        Ok(lookup)
    }
}

impl Lookup {
    fn answer(&self, answer: io::Result<Vec<SocketAddr>>) {
        let mut state = self.state.lock();
        state.delivered = state.waiting > 0;
        state.answer = Some((
            answer.map_err(|e| (e.kind(), e.to_string())),
            Instant::now(),
        ));
        self.answered.notify_all();
    }

    /// Whether the lookup is still running, or has a late answer fresh enough to hand out.
    fn worth_keeping(&self, now: Instant) -> bool {
        let state = self.state.lock();
        match &state.answer {
            None => true,
            Some((_, at)) => !state.delivered && now.duration_since(*at) < LATE_ANSWER_KEPT,
        }
    }

    fn wait(&self, host: &str, timeout: Duration) -> io::Result<Vec<SocketAddr>> {
        let deadline = crate::deadline::after(timeout);
        let mut state = self.state.lock();
        loop {
            if let Some((answer, _)) = &state.answer {
                return answer
                    .clone()
                    .map_err(|(kind, message)| io::Error::new(kind, message));
            }
            if self.answered.wait_until(&mut state, deadline).timed_out() && state.answer.is_none()
            {
                state.waiting -= 1;
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("resolving {host} took longer than the connect timeout ({timeout:?})"),
                ));
            }
        }
    }
}

/// `host` as an address, when it is one (an IPv6 address with or without its brackets).
fn ip_literal(host: &str) -> Option<IpAddr> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse().ok()
}

/// The TLS connectors of this process, shared by every client and every reconnect.
static TLS_CONNECTORS: TlsConnectors = TlsConnectors::new();

/// TLS connectors kept for reuse, by the options they were built from.
///
/// Building a connector loads the system's root certificates: about 60 ms of CPU on our test
/// machine, where OpenSSL reads the whole bundle twice, against a few milliseconds for the
/// handshake itself. A connector never changes once built and is cheap to clone, so it is
/// built once per set of options and reused.
struct TlsConnectors {
    built: parking_lot::Mutex<Vec<(ConnectorKey, native_tls::TlsConnector)>>,
}

/// Distinct TLS settings a process is expected to use at once (usually one); past that the
/// oldest is forgotten.
const TLS_CONNECTORS_KEPT: usize = 4;

impl TlsConnectors {
    const fn new() -> TlsConnectors {
        TlsConnectors {
            built: parking_lot::const_mutex(Vec::new()),
        }
    }

    /// The connector for these options, built on first use.
    fn get(&self, options: &TransportOptions) -> Result<native_tls::TlsConnector, Error> {
        let key = ConnectorKey::of(options);
        if let Some((_, connector)) = self.built.lock().iter().find(|(k, _)| *k == key) {
            return Ok(connector.clone());
        }
        // Built without the lock: a second thread may build the same one meanwhile, which
        // costs time once but is never wrong.
        let connector = build_tls_connector(options)?;
        let mut built = self.built.lock();
        if !built.iter().any(|(k, _)| *k == key) {
            if built.len() == TLS_CONNECTORS_KEPT {
                built.remove(0);
            }
            built.push((key, connector.clone()));
        }
        Ok(connector)
    }
}

/// What a TLS connector depends on. A CA file counts by its path and its modification time,
/// so that a renewed CA is read again on the next connect.
#[derive(Debug, PartialEq, Eq)]
struct ConnectorKey {
    ca_file: Option<(PathBuf, Option<SystemTime>)>,
    accept_invalid_certs: bool,
    accept_invalid_hostnames: bool,
}

impl ConnectorKey {
    fn of(options: &TransportOptions) -> ConnectorKey {
        ConnectorKey {
            ca_file: options.ca_file.as_ref().map(|path| {
                let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
                (path.clone(), modified)
            }),
            accept_invalid_certs: options.danger_accept_invalid_certs,
            accept_invalid_hostnames: options.danger_accept_invalid_hostnames,
        }
    }
}

fn build_tls_connector(options: &TransportOptions) -> Result<native_tls::TlsConnector, Error> {
    let mut builder = native_tls::TlsConnector::builder();
    if let Some(ca_file) = &options.ca_file {
        let context = || format!("reading CA file {}", ca_file.display());
        let pem = std::fs::read(ca_file).map_err(|e| Error::io(context(), e))?;
        let certificates =
            pem_certificates(&pem).map_err(|message| Error::tls(context(), message))?;
        for certificate in certificates {
            builder.add_root_certificate(certificate);
        }
    }
    if options.danger_accept_invalid_certs {
        builder.danger_accept_invalid_certs(true);
        builder.danger_accept_invalid_hostnames(true);
    } else if options.danger_accept_invalid_hostnames {
        builder.danger_accept_invalid_hostnames(true);
    }
    builder.build().map_err(|e| Error::tls("setting up TLS", e))
}

/// Every certificate of a PEM file, as Python's `ca_certs` reads it: a bundle holds several,
/// often with text between them, and keys or other blocks are passed over.
///
/// Each block is read on its own rather than with `Certificate::stack_from_pem`, which on
/// macOS refuses a file that also holds a key, and whose errors do not say which block failed.
fn pem_certificates(pem: &[u8]) -> Result<Vec<native_tls::Certificate>, String> {
    const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
    const END: &[u8] = b"-----END CERTIFICATE-----";
    let find = |haystack: &[u8], needle: &[u8]| {
        haystack
            .windows(needle.len())
            .position(|window| window == needle)
    };
    let mut certificates = Vec::new();
    let mut rest = pem;
    while let Some(start) = find(rest, BEGIN) {
        let block = &rest[start..];
        let end = find(block, END)
            .ok_or_else(|| format!("certificate {} has no end line", certificates.len() + 1))?
            + END.len();
        let certificate = native_tls::Certificate::from_pem(&block[..end])
            .map_err(|e| format!("certificate {}: {e}", certificates.len() + 1))?;
        certificates.push(certificate);
        rest = &block[end..];
    }
    if certificates.is_empty() {
        return Err("no certificate in it (no -----BEGIN CERTIFICATE----- block)".into());
    }
    Ok(certificates)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn built(connectors: &TlsConnectors) -> usize {
        connectors.built.lock().len()
    }

    #[test]
    fn one_tls_connector_per_set_of_options() {
        let connectors = TlsConnectors::new();
        let verified = TransportOptions::default();
        connectors.get(&verified).unwrap();
        connectors.get(&verified).unwrap();
        assert_eq!(built(&connectors), 1);

        let lax = TransportOptions {
            danger_accept_invalid_hostnames: true,
            ..TransportOptions::default()
        };
        connectors.get(&lax).unwrap();
        connectors.get(&verified).unwrap();
        assert_eq!(built(&connectors), 2);
    }

    #[test]
    fn failed_builds_are_not_kept_and_each_setting_is_built_once() {
        let connectors = TlsConnectors::new();
        for n in 0..TLS_CONNECTORS_KEPT + 2 {
            let options = TransportOptions {
                ca_file: Some(PathBuf::from(format!("/nonexistent/ca-{n}.pem"))),
                ..TransportOptions::default()
            };
            // A missing CA file is an error every time, never a kept connector.
            let err = connectors.get(&options).unwrap_err();
            assert!(err.to_string().contains("reading CA file"), "{err}");
        }
        assert_eq!(built(&connectors), 0);

        let options = |hostnames, certs| TransportOptions {
            danger_accept_invalid_hostnames: hostnames,
            danger_accept_invalid_certs: certs,
            ..TransportOptions::default()
        };
        let all = [
            options(false, false),
            options(true, false),
            options(false, true),
        ];
        for o in all.iter().chain(&all).chain(&all) {
            connectors.get(o).unwrap();
        }
        assert_eq!(built(&connectors), 3);
    }

    #[test]
    fn a_renewed_ca_file_is_read_again() {
        let dir = std::env::temp_dir().join(format!("izaber-ca-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ca.pem");
        std::fs::write(&path, "not yet a certificate").unwrap();
        let options = TransportOptions {
            ca_file: Some(path.clone()),
            ..TransportOptions::default()
        };
        let before = ConnectorKey::of(&options);
        assert_eq!(before, ConnectorKey::of(&options));

        let file = std::fs::File::options().write(true).open(&path).unwrap();
        let later = SystemTime::now() + Duration::from_secs(60);
        file.set_modified(later).unwrap();
        assert_ne!(before, ConnectorKey::of(&options));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[cfg(test)]
mod ca_file_tests {
    use super::*;

    /// Two self-signed CA certificates (EC P-256, valid until 2126), made for these tests.
    const CA_ONE: &str = "-----BEGIN CERTIFICATE-----
MIIBpjCCAUugAwIBAgIUYwAzPCfT85r6k1ad2fSgzrQYIGowCgYIKoZIzj0EAwIw
JzElMCMGA1UEAwwcaXphYmVyLXdhbXAgdW5pdCB0ZXN0IENBIG9uZTAgFw0yNjEy
MDYxNzM3MzZaGA8yMTI2MTExMjE3MzczNlowJzElMCMGA1UEAwwcaXphYmVyLXdh
bXAgdW5pdCB0ZXN0IENBIG9uZTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABIHM
Xc/FIAtGLjNhYYBoUSP43zPdr2glWR+wAT9IZ9yNC8N0rIMTXDsyZISsCk7Qq9OZ
+dkNPL1uA0OnnT76z+OjUzBRMB0GA1UdDgQWBBSA7Sughwf5Y9Qa145vh4CMjxF3
MzAfBgNVHSMEGDAWgBSA7Sughwf5Y9Qa145vh4CMjxF3MzAPBgNVHRMBAf8EBTAD
AQH/MAoGCCqGSM49BAMCA0kAMEYCIQD9q8GW3RN11KCpJE+RLkOAZDrnU4Mp4n2g
PBVYCgjYEAIhAKEVjcd6Kwo3qNXYxfpYn5zZLw89dZz5n2g5zcB0yiNW
-----END CERTIFICATE-----
";
    const CA_TWO: &str = "-----BEGIN CERTIFICATE-----
MIIBpjCCAUugAwIBAgIUc65x7KN62kW1mqYAi8Uf2fWRPUMwCgYIKoZIzj0EAwIw
JzElMCMGA1UEAwwcaXphYmVyLXdhbXAgdW5pdCB0ZXN0IENBIHR3bzAgFw0yNjEy
MDYxNzM3MzZaGA8yMTI2MTExMjE3MzczNlowJzElMCMGA1UEAwwcaXphYmVyLXdh
bXAgdW5pdCB0ZXN0IENBIHR3bzBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABM7t
v2hk7x4T2xqqWJa1k4zOkVUfUrZmV3v4br9CJSGDDgFkRI+dazqWtZhrLhLYO5BJ
WMfj5cTU+aFxy/SEAyejUzBRMB0GA1UdDgQWBBRb1FIX0XBWUT+UXMnydiYSK7Yv
kjAfBgNVHSMEGDAWgBRb1FIX0XBWUT+UXMnydiYSK7YvkjAPBgNVHRMBAf8EBTAD
AQH/MAoGCCqGSM49BAMCA0kAMEYCIQCPTr9+L9C8rafr1qoEOCUAvElQKZUi2IVc
XkpeaMoi8wIhAPZpfShXGADmFMK4qUfMBI4IxTjVJvV7d9BP1mwptgBO
-----END CERTIFICATE-----
";

    fn der(pem: &str) -> Vec<u8> {
        native_tls::Certificate::from_pem(pem.as_bytes())
            .unwrap()
            .to_der()
            .unwrap()
    }

    #[test]
    fn every_certificate_of_a_bundle_is_trusted_whatever_lies_between() {
        let bundle = format!(
            "# A corporate bundle\r\n{CA_ONE}\nsubject=CN = two\n-----BEGIN PRIVATE KEY-----\n\
             not read\n-----END PRIVATE KEY-----\n{}",
            CA_TWO.replace('\n', "\r\n")
        );
        let found: Vec<Vec<u8>> = pem_certificates(bundle.as_bytes())
            .unwrap()
            .iter()
            .map(|c| c.to_der().unwrap())
            .collect();
        assert_eq!(found, [der(CA_ONE), der(CA_TWO)]);
    }

    #[test]
    fn a_ca_file_without_a_certificate_is_a_tls_error_naming_the_file() {
        let dir = std::env::temp_dir().join(format!("izaber-ca-empty-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, content) in [
            ("empty.pem", String::new()),
            (
                "key.pem",
                "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n".into(),
            ),
            ("cut.pem", CA_ONE[..200].to_owned()),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, content).unwrap();
            let options = TransportOptions {
                ca_file: Some(path.clone()),
                ..TransportOptions::default()
            };
            let err = build_tls_connector(&options).unwrap_err();
            assert!(matches!(err, Error::Tls { .. }), "{name}: {err}");
            assert!(err.to_string().contains(&*path.to_string_lossy()), "{err}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[cfg(test)]
mod resolver_tests {
    use std::sync::atomic::AtomicUsize;

    use crossbeam_channel::{Receiver, Sender};

    use super::*;

    /// A resolver whose lookups each wait for an answer sent by the test, and the count of
    /// lookups started.
    fn held_resolver() -> (Resolver, Sender<Vec<SocketAddr>>, Arc<AtomicUsize>) {
        let (answers, held): (_, Receiver<Vec<SocketAddr>>) = crossbeam_channel::unbounded();
        let started = Arc::new(AtomicUsize::new(0));
        let counted = started.clone();
        let resolver = Resolver::new(move |host, _port| {
            counted.fetch_add(1, Ordering::SeqCst);
            // Bounded, so that a failing test leaves no thread behind for long.
            held.recv_timeout(Duration::from_secs(30))
                .map_err(|_| io::Error::other(format!("no answer for {host}")))
        });
        (resolver, answers, started)
    }

    fn address(last: u8) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, last], 8080))
    }

    #[test]
    fn a_hanging_lookup_fails_within_the_timeout_naming_host_and_timeout() {
        let (resolver, _answers, _) = held_resolver();
        let started = Instant::now();
        let err = resolver
            .resolve("router.example", 8080, Duration::from_millis(100))
            .unwrap_err();
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(100), "{waited:?}");
        assert!(waited < Duration::from_secs(5), "{waited:?}");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        let shown = format!("{:#}", Error::io("connecting to router.example:8080", err));
        assert!(shown.contains("resolving router.example"), "{shown}");
        assert!(shown.contains("100ms"), "{shown}");
    }

    #[test]
    fn one_hanging_host_gets_one_lookup_thread_however_often_it_is_asked() {
        let (resolver, _answers, started) = held_resolver();
        let short = Duration::from_millis(5);
        std::thread::scope(|s| {
            for _ in 0..10 {
                s.spawn(|| resolver.resolve("router.example", 8080, short).unwrap_err());
            }
        });
        for _ in 0..100 {
            resolver.resolve("router.example", 8080, short).unwrap_err();
        }
        assert_eq!(started.load(Ordering::SeqCst), 1);
        // Another port is another lookup.
        resolver.resolve("router.example", 8443, short).unwrap_err();
        assert_eq!(started.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn an_answer_that_comes_too_late_goes_to_the_next_caller_once() {
        let (resolver, answers, started) = held_resolver();
        let short = Duration::from_millis(20);
        let long = Duration::from_secs(10);
        resolver.resolve("router.example", 8080, short).unwrap_err();
        answers.send(vec![address(1)]).unwrap();
        // Whether the lookup has stored its answer yet or not, this caller gets it.
        let got = resolver.resolve("router.example", 8080, long).unwrap();
        assert_eq!(got, [address(1)]);
        assert_eq!(started.load(Ordering::SeqCst), 1);

        // Used once: the next caller looks again, and gets the new answer.
        answers.send(vec![address(2)]).unwrap();
        let got = resolver.resolve("router.example", 8080, long).unwrap();
        assert_eq!(got, [address(2)]);
        assert_eq!(started.load(Ordering::SeqCst), 2);

        // An answer in time is not kept: each connect sees the current records.
        answers.send(vec![address(3)]).unwrap();
        let got = resolver.resolve("router.example", 8080, long).unwrap();
        assert_eq!(got, [address(3)]);
        assert_eq!(started.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn addresses_are_never_looked_up() {
        let (resolver, _answers, started) = held_resolver();
        let none = Duration::ZERO;
        for (host, ip) in [
            ("127.0.0.1", IpAddr::from([127, 0, 0, 1])),
            ("::1", IpAddr::from(std::net::Ipv6Addr::LOCALHOST)),
            ("[::1]", IpAddr::from(std::net::Ipv6Addr::LOCALHOST)),
        ] {
            let got = resolver.resolve(host, 8080, none).unwrap();
            assert_eq!(got, [SocketAddr::new(ip, 8080)], "{host}");
        }
        assert_eq!(started.load(Ordering::SeqCst), 0);
    }
}
