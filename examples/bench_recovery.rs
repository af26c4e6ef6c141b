//! Recovery benchmark peers: how soon a service answers again after its router was killed
//! and restarted on the same ports. Run by `benches/peers/recovery.py` (see
//! `benches/peers/recovery.sh`), which kills and restarts the test router and reads what these
//! programs print; `benches/peers/swampyer_recovery.py` is the `callee` role for Python's
//! swampyer.
//!
//! ```text
//! bench_recovery callee --url URL --user U --password P --procedure URI
//!     [--registrations N] [--subscriptions M]
//! bench_recovery herd --url URL --user U --password P --clients N
//! bench_recovery probe --url URL --user U --password P [--tcp HOST:PORT] [--procedure URI]...
//!     [--restore URI:N:M]... [--sessions ROLE:COUNT] [--interval-ms MS] [--timeout S]
//! ```
//!
//! Every stdout line is one JSON object with an `"event"` key; times are wall-clock seconds
//! since the Unix epoch (f64), so that the runner can line them up with its own clock.
//!
//! * `callee` logs in with the client's default settings (in particular its default reconnect
//!   policy: that is what is measured), registers `URI` (answers `"pong"`), `N - 1` more
//!   procedures `URI.extra.1..` and subscribes to `M` topics `URI.topic.0..`, in that order.
//!   It prints `ready`, then `join` (and `disconnect`) on every later join (and drop), and
//!   runs until stdin closes.
//! * `herd` connects `N` clients in this one process, each recording the time of every join
//!   (`ClientBuilder::on_join`). On stdin EOF it prints `joins` (every client's
//!   join times) and exits.
//! * `probe` is started while the router is down. It prints `waiting`, then every
//!   `--interval-ms` (default 10) tries a fresh login with a fresh client (router-ready: the
//!   first that succeeds) and, with `--tcp`, a bare TCP connect (when the port first accepts).
//!   Once logged in, on that session: calls each `--procedure` until it answers
//!   (`wamp.error.no_such_procedure` means not yet); for each `--restore URI:N:M` polls the
//!   router's meta API (`wamp.registration.lookup` / `list_callees` to find the session that
//!   holds `URI`, then `wamp.registration.list` / `wamp.subscription.list` of that session)
//!   until that session has `N` registrations and `M` subscriptions, then checks every one of
//!   the callee's URIs with `wamp.*.lookup`; with `--sessions ROLE:COUNT` polls
//!   `wamp.session.count` until `COUNT` sessions of `ROLE` are joined. Prints `result`.
//!   The meta API needs the `trust` role on the test router.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use izaber_wamp::{CallOptions, Client, ClientBuilder, Error};
use serde_json::{Value as Json, json};

const REALM: &str = "izaber";
const IMPL: &str = "rust-izaber-wamp";
const USAGE: &str = "usage: bench_recovery callee|herd|probe --url URL --user U --password P \
[--procedure URI]... [--registrations N] [--subscriptions M] [--clients N] [--tcp HOST:PORT] \
[--restore URI:N:M]... [--sessions ROLE:COUNT] [--interval-ms MS] [--timeout S]";

/// Wall-clock time, seconds since the Unix epoch.
fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Prints one JSON line (stdout is line-buffered, so each line goes out whole).
fn emit(value: Json) {
    println!("{value}");
}

struct Args {
    command: String,
    url: String,
    user: String,
    password: String,
    procedures: Vec<String>,
    registrations: usize,
    subscriptions: usize,
    clients: usize,
    tcp: Option<SocketAddr>,
    restore: Vec<(String, usize, usize)>,
    sessions: Option<(String, u64)>,
    interval: Duration,
    timeout: Duration,
}

fn parse_args() -> Result<Args> {
    let mut argv = std::env::args().skip(1);
    let command = argv.next().with_context(|| USAGE.to_owned())?;
    if command == "-h" || command == "--help" {
        println!("{USAGE}");
        std::process::exit(0);
    }
    let mut args = Args {
        command,
        url: String::new(),
        user: String::new(),
        password: String::new(),
        procedures: Vec::new(),
        registrations: 1,
        subscriptions: 0,
        clients: 50,
        tcp: None,
        restore: Vec::new(),
        sessions: None,
        interval: Duration::from_millis(10),
        timeout: Duration::from_secs(90),
    };
    while let Some(flag) = argv.next() {
        let value = argv
            .next()
            .with_context(|| format!("{flag} needs a value\n{USAGE}"))?;
        let number = |v: &str| -> Result<usize> {
            v.parse()
                .with_context(|| format!("{flag}: not a number: {v:?}"))
        };
        match flag.as_str() {
            "--url" => args.url = value,
            "--user" => args.user = value,
            "--password" => args.password = value,
            "--procedure" => args.procedures.push(value),
            "--registrations" => args.registrations = number(&value)?.max(1),
            "--subscriptions" => args.subscriptions = number(&value)?,
            "--clients" => args.clients = number(&value)?,
            "--tcp" => args.tcp = Some(value.parse().context("--tcp wants HOST:PORT")?),
            "--restore" => {
                let mut parts = value.rsplitn(3, ':');
                let (m, n, uri) = (parts.next(), parts.next(), parts.next());
                let (Some(m), Some(n), Some(uri)) = (m, n, uri) else {
                    bail!("--restore wants URI:N:M, not {value:?}");
                };
                args.restore.push((uri.to_owned(), number(n)?, number(m)?));
            }
            "--sessions" => {
                let (role, count) = value
                    .split_once(':')
                    .with_context(|| format!("--sessions wants ROLE:COUNT, not {value:?}"))?;
                args.sessions = Some((role.to_owned(), number(count)? as u64));
            }
            "--interval-ms" => args.interval = Duration::from_millis(number(&value)? as u64),
            "--timeout" => {
                let secs: f64 = value.parse().context("--timeout wants seconds")?;
                args.timeout = Duration::from_secs_f64(secs.max(0.0));
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    if args.url.is_empty() || args.user.is_empty() {
        bail!("--url and --user are required\n{USAGE}");
    }
    Ok(args)
}

fn main() -> Result<()> {
    env_logger::init();
    let args = parse_args()?;
    match args.command.as_str() {
        "callee" => callee(&args),
        "herd" => herd(&args),
        "probe" => probe(&args),
        other => bail!("unknown command {other:?}\n{USAGE}"),
    }
}

/// A builder with what every role shares; nothing else is changed from the defaults.
fn builder(args: &Args) -> ClientBuilder {
    Client::builder(&args.url)
        .realm(REALM)
        .ticket(&args.user, args.password.as_str())
}

// --- stopping ------------------------------------------------------------------------------

/// Returns when stdin reaches EOF: the runner stops a role by closing its stdin (and only
/// kills it when that did not work), so no signal handling is needed.
fn wait_for_stop() {
    let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
}

// --- callee --------------------------------------------------------------------------------

fn callee(args: &Args) -> Result<()> {
    let procedure = args
        .procedures
        .first()
        .context("callee needs --procedure")?
        .clone();
    let client = builder(args)
        .on_join(|_details| emit(json!({"event": "join", "t": now()})))
        .on_disconnect(|reason| emit(json!({"event": "disconnect", "t": now(), "reason": reason})))
        .connect()
        .with_context(|| format!("connecting to {} as {}", args.url, args.user))?;
    client.register(&procedure, |_| Ok("pong"))?;
    for i in 1..args.registrations {
        client.register(&format!("{procedure}.extra.{i}"), |_| Ok("pong"))?;
    }
    for i in 0..args.subscriptions {
        client.subscribe(&format!("{procedure}.topic.{i}"), |_| ())?;
    }
    emit(json!({
        "event": "ready",
        "t": now(),
        "impl": IMPL,
        "pid": std::process::id(),
        "procedure": procedure,
        "registrations": args.registrations,
        "subscriptions": args.subscriptions,
    }));
    wait_for_stop();
    client.close();
    Ok(())
}

// --- herd ----------------------------------------------------------------------------------

fn herd(args: &Args) -> Result<()> {
    let joins: Arc<Vec<Mutex<Vec<f64>>>> =
        Arc::new((0..args.clients).map(|_| Mutex::default()).collect());
    let mut clients = Vec::with_capacity(args.clients);
    for i in 0..args.clients {
        let joins = joins.clone();
        let client = builder(args)
            .on_join(move |_details| joins[i].lock().unwrap().push(now()))
            .connect()
            .with_context(|| format!("connecting client {i} to {}", args.url))?;
        clients.push(client);
    }
    emit(json!({
        "event": "ready",
        "t": now(),
        "impl": IMPL,
        "pid": std::process::id(),
        "clients": args.clients,
    }));
    wait_for_stop();
    let joins: Vec<Vec<f64>> = joins.iter().map(|j| j.lock().unwrap().clone()).collect();
    let connected: Vec<bool> = clients.iter().map(Client::is_connected).collect();
    emit(json!({"event": "joins", "t": now(), "joins": joins, "connected": connected}));
    // closing 50 sessions one by one would only slow the runner down
    std::process::exit(0)
}

// --- probe ---------------------------------------------------------------------------------

/// Sleeps until `start + interval`, so that attempts start every `interval`.
fn pace(start: Instant, interval: Duration) {
    if let Some(left) = (start + interval).checked_duration_since(Instant::now()) {
        thread::sleep(left);
    }
}

fn meta(client: &Client, procedure: &str, args: Json) -> Result<Json, Error> {
    let options = CallOptions::new().timeout(Duration::from_secs(5));
    client
        .call_with(procedure, args, (), &options)?
        .value_as::<Json>()
}

fn count_exact(ids: &Json) -> usize {
    ids.get("exact")
        .and_then(Json::as_array)
        .map_or(0, Vec::len)
}

fn probe(args: &Args) -> Result<()> {
    let started = now();
    let deadline = Instant::now() + args.timeout;
    emit(json!({"event": "waiting", "t": started}));

    // when the port first accepts a bare TCP connection
    let accept = args.tcp.map(|addr| {
        let interval = args.interval;
        thread::spawn(move || {
            while Instant::now() < deadline {
                let t0 = Instant::now();
                if TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok() {
                    return Some(now());
                }
                pace(t0, interval);
            }
            None
        })
    });

    // router-ready: the first fresh login that succeeds
    let mut attempts = 0u64;
    let mut last_error = String::new();
    let mut last_failed_start = None;
    let (client, ready_attempt_t, ready_t) = loop {
        if Instant::now() >= deadline {
            let tcp_accept_t = accept.and_then(|h| h.join().ok().flatten());
            emit(json!({"event": "result", "ok": false, "start_t": started,
                        "tcp_accept_t": tcp_accept_t, "attempts": attempts,
                        "last_error": last_error}));
            return Ok(());
        }
        let t0 = Instant::now();
        let attempt_t = now();
        attempts += 1;
        match builder(args)
            .connect_timeout(Duration::from_secs(1))
            .connect()
        {
            Ok(client) => break (client, attempt_t, now()),
            Err(e) => {
                last_error = e.to_string();
                last_failed_start = Some(attempt_t);
            }
        }
        pace(t0, args.interval);
    };
    let tcp_accept_t = accept.and_then(|h| h.join().ok().flatten());

    let mut workers = Vec::new();
    for procedure in &args.procedures {
        let (client, procedure, interval) = (client.clone(), procedure.clone(), args.interval);
        workers.push(thread::spawn(move || {
            answer_of(&client, &procedure, interval, deadline)
        }));
    }
    let restores: Vec<_> = args
        .restore
        .iter()
        .cloned()
        .map(|(uri, n, m)| {
            let (client, interval) = (client.clone(), args.interval);
            thread::spawn(move || restore_of(&client, &uri, n, m, interval, deadline))
        })
        .collect();
    let sessions = args.sessions.clone().map(|(role, count)| {
        let (client, interval) = (client.clone(), args.interval);
        thread::spawn(move || sessions_of(&client, &role, count, interval, deadline))
    });

    let mut answers = serde_json::Map::new();
    for (procedure, worker) in args.procedures.iter().zip(workers) {
        answers.insert(procedure.clone(), worker.join().unwrap_or(Json::Null));
    }
    let mut restore = serde_json::Map::new();
    for ((uri, _, _), worker) in args.restore.iter().zip(restores) {
        restore.insert(uri.clone(), worker.join().unwrap_or(Json::Null));
    }
    let sessions = sessions.map(|h| h.join().unwrap_or(Json::Null));
    emit(json!({
        "event": "result",
        "ok": true,
        "start_t": started,
        "tcp_accept_t": tcp_accept_t,
        "ready_attempt_t": ready_attempt_t,
        "ready_t": ready_t,
        "last_failed_attempt_t": last_failed_start,
        "attempts": attempts,
        "last_error": last_error,
        "answers": answers,
        "restore": restore,
        "sessions": sessions,
    }));
    client.close();
    Ok(())
}

/// Calls `procedure` every `interval` until it answers: the time of the first answer.
fn answer_of(client: &Client, procedure: &str, interval: Duration, deadline: Instant) -> Json {
    let options = CallOptions::new().timeout(Duration::from_secs(2));
    let mut calls = 0u64;
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    while Instant::now() < deadline {
        let t0 = Instant::now();
        calls += 1;
        match client.call_with(procedure, (), (), &options) {
            Ok(_) => return json!({"t": now(), "calls": calls, "errors": errors}),
            Err(e) => {
                let key = e.wamp_uri().map_or_else(|| e.to_string(), str::to_owned);
                *errors.entry(key).or_default() += 1;
            }
        }
        pace(t0, interval);
    }
    json!({"t": null, "calls": calls, "errors": errors})
}

/// Polls the meta API until the session holding `uri` has `n` registrations and `m`
/// subscriptions; then looks up every one of the callee's URIs.
fn restore_of(
    client: &Client,
    uri: &str,
    n: usize,
    m: usize,
    interval: Duration,
    deadline: Instant,
) -> Json {
    let mut session: Option<u64> = None;
    let mut first_seen_t = None;
    let mut progress = Vec::new();
    let mut last = (0, 0);
    let mut polls = 0u64;
    let mut restored_t = None;
    while Instant::now() < deadline {
        let t0 = Instant::now();
        polls += 1;
        if session.is_none() {
            // the session that holds the callee's first procedure
            let registration = meta(client, "wamp.registration.lookup", json!([uri]));
            if let Ok(Json::Number(id)) = registration {
                let callees = meta(client, "wamp.registration.list_callees", json!([id]));
                session = callees.ok().and_then(|c| c.as_array()?.first()?.as_u64());
                if session.is_some() {
                    first_seen_t = Some(now());
                }
            }
        }
        if let Some(id) = session {
            let regs = meta(client, "wamp.registration.list", json!([id]));
            let subs = meta(client, "wamp.subscription.list", json!([id]));
            let t = now();
            match (regs, subs) {
                (Ok(regs), subs) => {
                    // a session without subscriptions is unknown to the broker
                    let counts = (
                        count_exact(&regs),
                        subs.map_or(0, |subs| count_exact(&subs)),
                    );
                    if counts != last {
                        progress.push(json!([t, counts.0, counts.1]));
                        last = counts;
                    }
                    if counts.0 >= n && counts.1 >= m {
                        restored_t = Some(t);
                        break;
                    }
                }
                // the session went away (reconnected again?): look for it anew
                (Err(_), _) => session = None,
            }
        }
        pace(t0, interval);
    }
    // outside the timed window: is every one of the callee's URIs at the router?
    let (mut missing_registrations, mut missing_subscriptions) = (0, 0);
    if restored_t.is_some() {
        for i in 0..n {
            let procedure = if i == 0 {
                uri.to_owned()
            } else {
                format!("{uri}.extra.{i}")
            };
            let found = meta(client, "wamp.registration.lookup", json!([procedure]));
            if !matches!(found, Ok(Json::Number(_))) {
                missing_registrations += 1;
            }
        }
        for i in 0..m {
            let topic = format!("{uri}.topic.{i}");
            let found = meta(client, "wamp.subscription.lookup", json!([topic]));
            if !matches!(found, Ok(Json::Number(_))) {
                missing_subscriptions += 1;
            }
        }
    }
    json!({
        "t": restored_t,
        "session": session,
        "first_seen_t": first_seen_t,
        "last_counts": [last.0, last.1],
        "polls": polls,
        "progress": progress,
        "missing_registrations": missing_registrations,
        "missing_subscriptions": missing_subscriptions,
    })
}

/// Polls `wamp.session.count` until `count` sessions of `role` are joined.
fn sessions_of(
    client: &Client,
    role: &str,
    count: u64,
    interval: Duration,
    deadline: Instant,
) -> Json {
    let mut progress = Vec::new();
    let mut last = u64::MAX;
    while Instant::now() < deadline {
        let t0 = Instant::now();
        if let Ok(Json::Number(n)) = meta(client, "wamp.session.count", json!([[role]])) {
            let n = n.as_u64().unwrap_or(0);
            let t = now();
            if n != last {
                progress.push(json!([t, n]));
                last = n;
            }
            if n >= count {
                return json!({"t": t, "progress": progress});
            }
        }
        pace(t0, interval);
    }
    json!({"t": null, "progress": progress})
}
