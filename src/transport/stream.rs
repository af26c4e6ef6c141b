//! The byte stream under a transport: TCP, TLS over TCP, or a unix socket.
//!
//! Connecting and the handshakes are blocking with timeouts; afterwards the session thread
//! switches the socket to non-blocking and registers it with its `mio` poll.

use std::io::{self, Read, Write};
use std::net::{TcpStream as StdTcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

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
/// queue, so the next read would only say `WouldBlock`. Until the poll reports the socket
/// readable again, such a read is answered `WouldBlock` without the system call: one
/// `recvfrom` saved per message received. (Safe with edge-triggered readiness: data that
/// arrives after the short read raises a new readiness event.)
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

impl<S: Read> Read for Tracked<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.drained && !buf.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = self.inner.read(buf)?;
        if self.tracking && n > 0 && n < buf.len() {
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
    /// every frame leaves at once instead of waiting for Nagle's algorithm.
    pub fn connect_tcp(
        host: &str,
        port: u16,
        timeout: Duration,
    ) -> Result<(Stream, Control), Error> {
        let context = || format!("connecting to {host}:{port}");
        let addrs = (host, port)
            .to_socket_addrs()
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
            Err(native_tls::HandshakeError::Failure(e)) => Err(Error::Tls {
                context: context(),
                message: e.to_string(),
            }),
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
        let cert = native_tls::Certificate::from_pem(&pem).map_err(|e| Error::Tls {
            context: context(),
            message: e.to_string(),
        })?;
        builder.add_root_certificate(cert);
    }
    if options.danger_accept_invalid_certs {
        builder.danger_accept_invalid_certs(true);
        builder.danger_accept_invalid_hostnames(true);
    } else if options.danger_accept_invalid_hostnames {
        builder.danger_accept_invalid_hostnames(true);
    }
    builder.build().map_err(|e| Error::Tls {
        context: "setting up TLS".into(),
        message: e.to_string(),
    })
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
