//! Test support: a real Crossbar.io router that behaves like Zaber's Nexus.
//!
//! Integration tests include this with `mod support;` and then use
//! [`Router::shared`] (one router per test binary) or [`Router::private`] (a
//! router of their own, for tests that crash, restart or freeze it).
//!
//! The router is `tests/router/router.py` run by the Python venv that
//! `bash tests/router/setup-venv.sh` creates (`tests/router/.venv`, or the
//! directory in `IZABER_ROUTER_VENV`). Each router lives in its own temporary
//! directory, listens on its own free loopback ports and runs in its own
//! process group, so tests in many binaries and threads can run in parallel.
//!
//! Users (see `tests/router/router.py`): `trust-1` (trust), `backend-1..3`
//! (backend), `frontend-1` (frontend), `public-1` (public), all WAMP-Ticket;
//! `cra-backend` (WAMP-CRA, plain secret, backend) and `cra-salted`
//! (WAMP-CRA, salted, frontend). Anonymous logins get role `public`.
//! `nexus.testing.otp.age(uuid, seconds)` (trust only) moves a one-time
//! password's expiry into the past.
//!
//! Set `IZABER_KEEP_ROUTER_DIR=1` to keep private routers' directories.
//!
//! Unix only: the router runs in a process group of its own, is stopped and frozen with
//! signals, and serves a unix socket. Elsewhere this module compiles, and a router cannot be
//! started: see [`UNIX_ONLY`]. Without `/proc` (macOS, the BSDs) stopping a router waits for
//! `router.py` to exit, not for every process of its group.
#![allow(dead_code)]

use std::fs::{self, File};
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
#[cfg(unix)]
use std::os::unix::net::UnixStream;
#[cfg(unix)]
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a router may take to accept connections on every endpoint.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a router may take to exit after SIGTERM before it gets SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(15);
/// How often `prepare` + `start` is tried when another process took a port.
const START_ATTEMPTS: usize = 4;
/// Why no router starts on this system, when it is not unix.
pub const UNIX_ONLY: &str = "the test router needs a unix system (a process group of its own, \
     signals to stop and freeze it, a unix socket endpoint); tests that use it cannot run here";

/// Where the router's files live, relative to the crate root.
const ROUTER_DIR: &str = "tests/router";
/// Written by setup-venv.sh once the venv is complete.
const VENV_MARKER: &str = ".izaber-router-venv-complete";

/// A login known to the test router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub username: String,
    pub password: String,
    /// `public`, `frontend`, `backend` or `trust`.
    pub role: String,
    /// `ticket`, `wampcra`, `cryptosign` (the password is then the key's seed in hex) or
    /// `scram`.
    pub authmethod: String,
    /// WAMP-CRA key derivation (salted users only).
    pub salt: Option<String>,
    pub iterations: Option<u32>,
    pub keylen: Option<u32>,
}

/// The listening ports of a router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    pub ws: u16,
    pub wss: u16,
    pub tcp: u16,
    pub tcps: u16,
}

/// A running test router. See the module documentation.
pub struct Router {
    /// The router's directory (config, TLS files, unix socket, log).
    pub dir: PathBuf,
    /// `izaber`.
    pub realm: String,
    /// `ws://127.0.0.1:PORT/ws`
    pub ws_url: String,
    /// `wss://localhost:PORT/ws` (certificate signed by [`Router::ca_file`]).
    pub wss_url: String,
    /// `tcpip://127.0.0.1:PORT` (RawSocket).
    pub tcp_url: String,
    /// `tcpips://localhost:PORT` (RawSocket over TLS).
    pub tcps_url: String,
    /// `unix:///path/to/nexus.sock` (RawSocket).
    pub unix_url: String,
    /// The path of the unix socket.
    pub unix_socket: PathBuf,
    /// PEM file of the CA that signed the server certificate (valid for
    /// `localhost` and `127.0.0.1`; the router speaks TLS 1.3 only).
    pub ca_file: PathBuf,
    pub ports: Ports,
    /// Everything `router.py prepare` printed.
    pub info: Value,
    users: Vec<User>,
    python: PathBuf,
    router_py: PathBuf,
    log_path: PathBuf,
    /// Whether this is a private router (stopped and cleaned up on drop).
    private: bool,
    child: Mutex<Option<Child>>,
}

static SHARED: OnceLock<Result<Router, String>> = OnceLock::new();
static DIR_COUNTER: AtomicUsize = AtomicUsize::new(0);

impl Router {
    /// The router shared by every test of this test binary, started on first
    /// use. It is never dropped: `router.py` stops it (and removes its
    /// directory) when the test binary exits.
    pub fn shared() -> &'static Router {
        match SHARED.get_or_init(|| Router::launch(false)) {
            Ok(router) => router,
            Err(msg) => panic!("the shared test router could not start:\n{msg}"),
        }
    }

    /// A router of its own, stopped (and its directory removed) on drop,
    /// also when the test panics; a panicking test gets the router log on
    /// stderr.
    pub fn private() -> Router {
        Router::launch(true)
            .unwrap_or_else(|msg| panic!("a private test router could not start:\n{msg}"))
    }

    fn launch(private: bool) -> Result<Router, String> {
        if !cfg!(unix) {
            return Err(UNIX_ONLY.into());
        }
        let (python, router_py) = locate_venv()?;
        let mut last_error = String::new();
        for _ in 0..START_ATTEMPTS {
            let dir = new_router_dir()?;
            let router = Router::prepare(&python, &router_py, dir, private)?;
            match router.spawn().and_then(|()| router.wait_ready()) {
                Ok(()) => return Ok(router),
                Err(err) => {
                    let clash = router.log().contains("Address already in use");
                    router.stop();
                    if !clash {
                        return Err(err);
                    }
                    // another process took one of our ports between picking
                    // and binding: try again with fresh ports
                    last_error = err;
                    let _ = fs::remove_dir_all(&router.dir);
                }
            }
        }
        Err(format!(
            "ports kept being taken; last attempt:\n{last_error}"
        ))
    }

    fn prepare(
        python: &Path,
        router_py: &Path,
        dir: PathBuf,
        private: bool,
    ) -> Result<Router, String> {
        let out = Command::new(python)
            .arg(router_py)
            .arg("prepare")
            .arg(&dir)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
        if !out.status.success() {
            return Err(format!(
                "router.py prepare failed ({}):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        let info: Value = serde_json::from_str(line)
            .map_err(|e| format!("router.py prepare printed {stdout:?}: {e}"))?;

        let text = |v: &Value, what: &str| -> Result<String, String> {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("router.py prepare: no {what} in {info}"))
        };
        let port = |name: &str| -> Result<u16, String> {
            info["ports"][name]
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .ok_or_else(|| format!("router.py prepare: no port {name} in {info}"))
        };
        let users = info["users"]
            .as_array()
            .ok_or_else(|| format!("router.py prepare: no users in {info}"))?
            .iter()
            .map(|u| {
                Ok(User {
                    username: text(&u["username"], "username")?,
                    password: text(&u["password"], "password")?,
                    role: text(&u["role"], "role")?,
                    authmethod: text(&u["authmethod"], "authmethod")?,
                    salt: u["salt"].as_str().map(str::to_owned),
                    iterations: u["iterations"].as_u64().map(|n| n as u32),
                    keylen: u["keylen"].as_u64().map(|n| n as u32),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;

        Ok(Router {
            realm: text(&info["realm"], "realm")?,
            ws_url: text(&info["urls"]["ws"], "ws url")?,
            wss_url: text(&info["urls"]["wss"], "wss url")?,
            tcp_url: text(&info["urls"]["tcp"], "tcp url")?,
            tcps_url: text(&info["urls"]["tcps"], "tcps url")?,
            unix_url: text(&info["urls"]["unix"], "unix url")?,
            unix_socket: PathBuf::from(text(&info["unix_socket"], "unix socket")?),
            ca_file: PathBuf::from(text(&info["ca_file"], "ca file")?),
            ports: Ports {
                ws: port("ws")?,
                wss: port("wss")?,
                tcp: port("tcp")?,
                tcps: port("tcps")?,
            },
            users,
            python: python.to_owned(),
            router_py: router_py.to_owned(),
            log_path: dir.join("router.log"),
            dir,
            info,
            private,
            child: Mutex::new(None),
        })
    }

    /// Start `router.py start` in its own process group, output to the log.
    fn spawn(&self) -> Result<(), String> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .map_err(|e| format!("cannot open {}: {e}", self.log_path.display()))?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(&self.python);
        cmd.arg(&self.router_py)
            .arg("start")
            .arg(&self.dir)
            .arg("--watch-parent")
            .arg(std::process::id().to_string());
        if !self.private {
            // nobody cleans up the shared router but router.py itself
            cmd.arg("--cleanup-dir");
        }
        #[cfg(unix)]
        cmd.process_group(0);
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.router_py.display()))?;
        *self.child.lock().unwrap() = Some(child);
        Ok(())
    }

    /// Poll every endpoint until all accept a connection.
    fn wait_ready(&self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut pending = self.endpoints();
        loop {
            if let Some(status) = self.exited() {
                return Err(format!(
                    "router exited ({status}) before it was ready; log {}:\n{}",
                    self.log_path.display(),
                    self.log_tail(120)
                ));
            }
            pending.retain(|ep| !ep.accepts());
            if pending.is_empty() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "router not ready after {READY_TIMEOUT:?} (still waiting for {pending:?}); log {}:\n{}",
                    self.log_path.display(),
                    self.log_tail(120)
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn endpoints(&self) -> Vec<Endpoint> {
        let tcp = |port| Endpoint::Tcp(SocketAddr::from(([127, 0, 0, 1], port)));
        vec![
            tcp(self.ports.ws),
            tcp(self.ports.wss),
            tcp(self.ports.tcp),
            tcp(self.ports.tcps),
            Endpoint::Unix(self.unix_socket.clone()),
        ]
    }

    fn exited(&self) -> Option<std::process::ExitStatus> {
        let mut guard = self.child.lock().unwrap();
        guard.as_mut().and_then(|c| c.try_wait().ok().flatten())
    }

    fn pgid(&self) -> Option<u32> {
        self.child.lock().unwrap().as_ref().map(Child::id)
    }

    fn signal_group(&self, signal: &str) {
        if let Some(pgid) = self.pgid() {
            // the `kill` utility, so that no libc binding is needed
            let _ = Command::new("kill")
                .arg(format!("-{signal}"))
                .arg("--")
                .arg(format!("-{pgid}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }

    /// Wait until `router.py` exited and no thread of its group is left.
    /// Then the process group is forgotten, so that no later signal can hit
    /// an unrelated group that happens to get the same id.
    fn wait_gone(&self, timeout: Duration) -> bool {
        let Some(pgid) = self.pgid() else { return true };
        let deadline = Instant::now() + timeout;
        loop {
            let supervisor_done = self.exited().is_some();
            if supervisor_done && !group_has_live_threads(pgid) {
                *self.child.lock().unwrap() = None;
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stop the router: SIGTERM to its process group, SIGKILL after a grace
    /// period. Returns once every process of the group is gone.
    pub fn stop(&self) {
        if self.pgid().is_none() {
            return;
        }
        self.signal_group("TERM");
        self.signal_group("CONT"); // a frozen router must run to handle TERM
        if !self.wait_gone(STOP_GRACE) {
            self.kill_hard();
        }
    }

    /// Crash the router: SIGKILL its whole process group (no goodbyes, no
    /// clean close). Returns once every process of the group is gone.
    pub fn kill_hard(&self) {
        self.signal_group("KILL");
        if !self.wait_gone(STOP_GRACE) {
            panic!(
                "test router (process group {:?}) survived SIGKILL",
                self.pgid()
            );
        }
    }

    /// Start the router again in the same directory, on the same ports, and
    /// wait until it is ready. A running router is stopped first. Its
    /// in-memory state (metadata, OTPs, API keys, rosters) starts empty.
    pub fn restart(&self) {
        self.stop();
        let mut last_error = String::new();
        for _ in 0..START_ATTEMPTS {
            let result = self.spawn().and_then(|()| self.wait_ready());
            match result {
                Ok(()) => return,
                Err(err) if self.log_tail(200).contains("Address already in use") => {
                    // a port of ours is (still) taken; it may come free
                    self.stop();
                    last_error = err;
                    std::thread::sleep(Duration::from_millis(500));
                }
                Err(err) => {
                    self.stop();
                    panic!("test router did not restart:\n{err}");
                }
            }
        }
        panic!("test router could not get its ports back:\n{last_error}");
    }

    /// Stop (SIGSTOP) every process of the router: connections stay open
    /// but nothing is answered. [`Router::thaw`] resumes it.
    pub fn freeze(&self) {
        self.signal_group("STOP");
    }

    /// Resume a router stopped with [`Router::freeze`].
    pub fn thaw(&self) {
        self.signal_group("CONT");
    }

    /// Whether the router process is still running.
    pub fn is_running(&self) -> bool {
        self.pgid().is_some() && self.exited().is_none()
    }

    /// The router's log so far (crossbar's output and the component's).
    pub fn log(&self) -> String {
        fs::read(&self.log_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// The last `lines` lines of the log.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = self.log();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// `let _g = router.log_on_failure();` prints the end of the router log
    /// to stderr if the test panics while the guard is alive.
    pub fn log_on_failure(&self) -> LogGuard<'_> {
        LogGuard { router: self }
    }

    /// `nexus.testing.otp.age`: trust-only test hook, called with
    /// `(uuid, seconds)`, that moves a one-time password's expiry `seconds`
    /// into the past (OTPs expire 10 minutes after creation).
    pub fn age_otp_procedure(&self) -> &str {
        self.info["procedures"]["age_otp"]
            .as_str()
            .unwrap_or("nexus.testing.otp.age")
    }

    // --- users -----------------------------------------------------------

    /// A client builder for `url` that logs in as `user` (ticket, WAMP-CRA, WAMP-Cryptosign
    /// or WAMP-SCRAM, as the user needs) on this router's realm, with the `com.izaber.wamp` URI base, this router's CA
    /// trusted and a 20 s request timeout. Tests add what they need and connect.
    pub fn client(&self, url: &str, user: &User) -> izaber_wamp::ClientBuilder {
        let builder = izaber_wamp::Client::builder(url)
            .realm(&self.realm)
            .uri_base("com.izaber.wamp")
            .ca_file(&self.ca_file)
            .timeout(Duration::from_secs(20));
        match user.authmethod.as_str() {
            "wampcra" => builder.wampcra(&user.username, user.password.as_str()),
            "scram" => builder.scram(&user.username, user.password.as_str()),
            // The fixture gives a cryptosign user's key seed as its password.
            "cryptosign" => builder.cryptosign(
                &user.username,
                izaber_wamp::CryptosignKey::from_hex_seed(&user.password)
                    .expect("the fixture's seed is 64 hex digits"),
            ),
            _ => builder.ticket(&user.username, user.password.as_str()),
        }
    }

    /// [`Router::client`] for a backend user, speaking CBOR and reconnecting forever, trying
    /// every `interval`: the client that restart and crash tests use.
    pub fn reconnecting_client(
        &self,
        url: &str,
        backend: usize,
        interval: Duration,
    ) -> izaber_wamp::ClientBuilder {
        self.client(url, self.backend(backend))
            .serializer(izaber_wamp::protocol::Serializer::Cbor)
            .reconnect(izaber_wamp::ReconnectPolicy::every(interval))
    }

    /// The router venv's Python, for tests that run Python peers (swampyer, izaber-wamp).
    pub fn python(&self) -> &Path {
        &self.python
    }

    /// All users of the router.
    pub fn users(&self) -> &[User] {
        &self.users
    }

    /// The user called `username`; panics if there is none.
    pub fn user(&self, username: &str) -> &User {
        self.users
            .iter()
            .find(|u| u.username == username)
            .unwrap_or_else(|| panic!("the test router has no user {username:?}"))
    }

    /// `trust-1`, role `trust` (may call bare procedure names).
    pub fn trust(&self) -> &User {
        self.user("trust-1")
    }

    /// `backend-1`, `backend-2` or `backend-3` (n = 1..=3), role `backend`.
    pub fn backend(&self, n: usize) -> &User {
        assert!(
            (1..=3).contains(&n),
            "there are backend users 1 to 3, not {n}"
        );
        self.user(&format!("backend-{n}"))
    }

    /// `frontend-1`, role `frontend`.
    pub fn frontend(&self) -> &User {
        self.user("frontend-1")
    }

    /// `public-1`, role `public` (a ticket login; anonymous logins get
    /// `public` too).
    pub fn public(&self) -> &User {
        self.user("public-1")
    }

    /// `cra-backend`: WAMP-CRA with a plain secret, role `backend`.
    pub fn cra_plain(&self) -> &User {
        self.user("cra-backend")
    }

    /// `cra-salted`: WAMP-CRA with salt/iterations/keylen, role `frontend`.
    pub fn cra_salted(&self) -> &User {
        self.user("cra-salted")
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        if !self.private {
            return;
        }
        let panicking = std::thread::panicking();
        if panicking {
            eprintln!(
                "----- test router log ({}), last 150 lines -----\n{}\n----- end of router log -----",
                self.log_path.display(),
                self.log_tail(150)
            );
        }
        self.stop();
        if panicking || std::env::var_os("IZABER_KEEP_ROUTER_DIR").is_some() {
            eprintln!("test router directory kept: {}", self.dir.display());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// See [`Router::log_on_failure`].
pub struct LogGuard<'a> {
    router: &'a Router,
}

impl Drop for LogGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(
                err,
                "----- test router log ({}), last 150 lines -----\n{}\n----- end of router log -----",
                self.router.log_path.display(),
                self.router.log_tail(150)
            );
        }
    }
}

#[derive(Debug, Clone)]
enum Endpoint {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl Endpoint {
    fn accepts(&self) -> bool {
        match self {
            Endpoint::Tcp(addr) => TcpStream::connect_timeout(addr, Duration::from_secs(1)).is_ok(),
            #[cfg(unix)]
            Endpoint::Unix(path) => UnixStream::connect(path).is_ok(),
            #[cfg(not(unix))]
            Endpoint::Unix(_) => false,
        }
    }
}

/// The python of the router venv and router.py; an error telling how to
/// create the venv when it is missing.
fn locate_venv() -> Result<(PathBuf, PathBuf), String> {
    // The workspace root: this module also serves crates in subdirectories (cli/).
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest_dir
        .ancestors()
        .find(|dir| dir.join(ROUTER_DIR).join("router.py").exists())
        .unwrap_or(manifest_dir)
        .to_path_buf();
    let venv = match std::env::var_os("IZABER_ROUTER_VENV") {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => root.join(ROUTER_DIR).join(".venv"),
    };
    let python = venv.join("bin").join("python");
    if !python.exists() || !venv.join(VENV_MARKER).exists() {
        return Err(format!(
            "the test router's Python venv is missing or incomplete at {}.\n\
             Create it with:  bash tests/router/setup-venv.sh\n\
             (or point IZABER_ROUTER_VENV at an existing one)",
            venv.display()
        ));
    }
    Ok((python, root.join(ROUTER_DIR).join("router.py")))
}

/// A fresh, short directory: the unix socket path inside must stay under
/// the kernel's ~107 byte limit.
fn new_router_dir() -> Result<PathBuf, String> {
    let mut base = std::env::temp_dir();
    if base.as_os_str().len() > 60 {
        base = PathBuf::from("/tmp");
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    for _ in 0..100 {
        let n = DIR_COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!("izr-{}-{n}-{nanos:x}", std::process::id()));
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
        }
    }
    Err("cannot find a free router directory name".into())
}

/// Whether any process of group `pgid` still has a thread that is not a
/// zombie. A process killed with SIGKILL shows its main thread as a zombie
/// while its other threads are still exiting, and its listening sockets are
/// closed only when the last thread is gone, so every thread counts.
fn group_has_live_threads(pgid: u32) -> bool {
    let Ok(procs) = fs::read_dir("/proc") else {
        return false;
    };
    for entry in procs.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Some(fields) = stat_fields(&format!("/proc/{pid}/stat")) else {
            continue;
        };
        // after the command: state, ppid, pgrp, ...
        if fields.get(2).and_then(|g| g.parse::<u32>().ok()) != Some(pgid) {
            continue;
        }
        let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let path = task.path().join("stat");
            let state = stat_fields(&path.to_string_lossy()).and_then(|f| f.into_iter().next());
            if state.is_some_and(|s| s != "Z" && s != "X") {
                return true;
            }
        }
    }
    false
}

/// The fields of a /proc stat file after the `(command)` field.
fn stat_fields(path: &str) -> Option<Vec<String>> {
    let text = fs::read_to_string(path).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// A URI no other test uses, so tests can run in parallel on the shared router.
pub fn unique(name: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    format!(
        "test.{name}.{}.{}",
        std::process::id(),
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// Runs a script or an example in `dir`, which is also its HOME (so that izaber.yaml is
/// found there and nowhere else), with no input and none of the izaber.yaml variables of the
/// test's own environment. Returns its exit code and what it printed; panics, showing its
/// output, when it exits with a code not in `expected_codes`.
pub fn run_in_home(
    dir: &Path,
    mut command: Command,
    expected_codes: &[i32],
) -> (Option<i32>, String) {
    let std::process::Output {
        status,
        stdout,
        stderr,
    } = command
        .current_dir(dir)
        .env("HOME", dir)
        .env_remove("IZABER_YAML")
        .env_remove("IZABER_ENVIRONMENT")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("the script runs");
    let stdout = String::from_utf8_lossy(&stdout).into_owned();
    assert!(
        status
            .code()
            .is_some_and(|code| expected_codes.contains(&code)),
        "{command:?} failed ({status}):\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&stderr)
    );
    (status.code(), stdout)
}

/// The path of example `name`, built (all examples, once per test binary) on first use:
/// `cargo test` does not build examples for integration tests.
pub fn example(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--examples"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the examples failed");
    });
    let mut path = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    path.extend(["target", "debug", "examples", name]);
    path
}
