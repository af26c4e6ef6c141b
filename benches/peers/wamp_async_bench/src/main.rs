//! The `wamp_async` 0.3.1 peer for `benches/peers/run.py`: the same echo procedure and the
//! same threaded phase as `examples/bench.rs` (`--peer-rounds N`), and the publisher and
//! subscriber of the events benchmark (`benches/peers/EVENTS.md`), with the async Rust client
//! `wamp_async` (tokio), so that it can be compared with ours on one router in one run.
//!
//! ```text
//! wamp-async-bench --role callee|caller|publisher|subscriber --url URL --realm R --user U
//!     --password P --serializer json|msgpack [--observe LABEL:PID[+PID..]].. [--ping-interval S]
//!     caller:    [--threads T] [--duration S]
//!     publisher: --phase NAME:flood|acked|paced:RATE ... [--duration S] [--quit]
//!                [--flood-max-events N]
//! ```
//!
//! * `--role callee` registers `com.izaber.wamp.bench.echo` (returns its first argument),
//!   prints `READY` and serves until killed.
//! * `--role caller` makes 200 warm-up calls, then T tasks share the one client and call with
//!   a 64-byte string for S seconds. Its stdout line is a JSON object with
//!   `threaded_calls_per_s` and `phases.threaded` (`calls`, `wall_s`, `cpu_ms` of itself and
//!   of every `--observe`d process, and `runs`, the times their threads were put on a CPU),
//!   as bench.rs reports it.
//! * `--role publisher` / `--role subscriber`: see `events.rs` and `EVENTS.md`.
//!
//! What wamp_async 0.3.1 speaks, from its source (`Core::connect`, `SerializerType`):
//! WebSocket (`ws://`, `wss://`) and RawSocket over TCP (`tcp://`, `tcps://`; the test
//! router's `tcpip://` URLs are taken as `tcp://`), JSON and MessagePack. Refused here, with a
//! message saying why: CBOR (the library has no CBOR serializer), RawSocket over a unix socket
//! (no such transport), and TLS (the library can verify a certificate only against the
//! system's roots or not at all, so it cannot be pointed at the test router's CA; the
//! benchmarks run in the clear). It sends no heartbeat of its own, so `--ping-interval` is
//! accepted for the runner's sake and has nothing to turn on or off.

mod events;
mod measure;

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use wamp_async::{
    AuthenticationChallengeResponse, AuthenticationMethod, Client, ClientConfig, ClientRole,
    SerializerType,
};

use measure::Meter;

const IMPL: &str = "rust-wamp_async";
const PROCEDURE: &str = "com.izaber.wamp.bench.echo";
const WARMUP_CALLS: usize = 200;

const USAGE: &str = "wamp-async-bench --role callee|caller|publisher|subscriber --url URL \
    --realm R --user U --password P --serializer json|msgpack [--observe LABEL:PID[+PID..]].. \
    [--ping-interval S]
  caller:    [--threads T] [--duration S]
  publisher: --phase NAME:flood|acked|paced:RATE ... [--duration S] [--quit]
             [--flood-max-events N]";

pub struct Args {
    role: String,
    /// The URL handed to wamp_async (`tcpip://` rewritten to `tcp://`).
    url: String,
    /// `websocket` or `rawsocket`, as the other bench programs name it.
    transport: &'static str,
    realm: String,
    user: String,
    password: String,
    serializer: SerializerType,
    serializer_name: String,
    threads: usize,
    duration: Duration,
    observe: Vec<(String, Vec<u32>)>,
    phases: Vec<events::PhaseSpec>,
    quit: bool,
    /// A flood phase stops after this many publications (0: no limit); see events.rs.
    flood_max_events: u64,
}

fn parse_args() -> Result<Args> {
    let mut role = None;
    let mut url = None;
    let mut realm = None;
    let mut user = None;
    let mut password = None;
    let mut serializer = None;
    let mut threads = None;
    let mut duration = None;
    let mut observe = Vec::new();
    let mut phases = Vec::new();
    let mut quit = false;
    let mut flood_max_events = None;
    let mut argv = std::env::args().skip(1);
    while let Some(arg) = argv.next() {
        if arg == "-h" || arg == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        // --flag value or --flag=value
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg, None),
        };
        if flag == "--quit" {
            quit = true;
            continue;
        }
        let value = match inline {
            Some(v) => v,
            None => argv
                .next()
                .with_context(|| format!("{flag} needs a value\n{USAGE}"))?,
        };
        match flag.as_str() {
            "--role" => role = Some(value),
            "--url" => url = Some(value),
            "--realm" => realm = Some(value),
            "--user" => user = Some(value),
            "--password" => password = Some(value),
            "--serializer" => serializer = Some(value),
            "--threads" => threads = Some(value.parse().context("--threads: a number")?),
            "--duration" => {
                let secs: f64 = value.parse().context("--duration: seconds")?;
                if !(secs.is_finite() && secs >= 0.0) {
                    bail!("--duration must be seconds >= 0");
                }
                duration = Some(Duration::from_secs_f64(secs));
            }
            "--observe" => {
                let (label, pids) = value
                    .split_once(':')
                    .with_context(|| format!("--observe wants LABEL:PID[+PID..], not {value:?}"))?;
                let pids = pids
                    .split('+')
                    .map(|p| {
                        p.parse::<u32>()
                            .with_context(|| format!("--observe: not a pid: {p:?}"))
                    })
                    .collect::<Result<Vec<_>>>()?;
                observe.push((label.to_owned(), pids));
            }
            "--phase" => phases.push(events::parse_phase(&value)?),
            "--flood-max-events" => {
                flood_max_events = Some(value.parse().context("--flood-max-events: a number")?)
            }
            "--ping-interval" => {
                let secs: f64 = value.parse().context("--ping-interval: seconds")?;
                if secs != 0.0 {
                    eprintln!(
                        "wamp-async-bench: wamp_async sends no heartbeat; --ping-interval {value} changes nothing"
                    );
                }
            }
            other => bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    let missing = |what: &str| format!("{what} is required\n{USAGE}");
    let role = role.with_context(|| missing("--role"))?;
    let (url, transport) = endpoint(&url.with_context(|| missing("--url"))?)?;
    let serializer_name = serializer.with_context(|| missing("--serializer"))?;
    let serializer = match serializer_name.as_str() {
        "json" => SerializerType::Json,
        "msgpack" => SerializerType::MsgPack,
        "cbor" => bail!("wamp_async 0.3.1 has no CBOR serializer: it speaks json and msgpack only"),
        other => bail!("--serializer json or msgpack (all wamp_async 0.3.1 speaks), not {other:?}"),
    };
    match role.as_str() {
        "callee" | "caller" | "publisher" | "subscriber" => {}
        other => bail!("--role callee, caller, publisher or subscriber, not {other:?}"),
    }
    if role == "publisher" && phases.is_empty() {
        bail!("--role publisher needs at least one --phase NAME:KIND[:RATE]\n{USAGE}");
    }
    if role != "publisher" && (!phases.is_empty() || quit || flood_max_events.is_some()) {
        bail!("--phase, --quit and --flood-max-events are for --role publisher");
    }
    if role != "caller" && threads.is_some() {
        bail!("--threads is for --role caller");
    }
    Ok(Args {
        role,
        url,
        transport,
        realm: realm.with_context(|| missing("--realm"))?,
        user: user.with_context(|| missing("--user"))?,
        password: password.with_context(|| missing("--password"))?,
        serializer,
        serializer_name,
        threads: threads.unwrap_or(8),
        duration: duration.unwrap_or(Duration::from_secs(5)),
        observe,
        phases,
        quit,
        flood_max_events: flood_max_events.unwrap_or(20_000),
    })
}

/// The URL as wamp_async wants it and the transport's name, or why wamp_async cannot go there.
fn endpoint(url: &str) -> Result<(String, &'static str)> {
    let (scheme, rest) = url
        .split_once("://")
        .with_context(|| format!("--url {url:?}: no scheme"))?;
    match scheme {
        "ws" => Ok((url.to_owned(), "websocket")),
        // the test router's name for RawSocket over TCP; wamp_async calls it tcp://
        "tcpip" | "tcp" => Ok((format!("tcp://{rest}"), "rawsocket")),
        "wss" | "tcpips" | "tcps" => bail!(
            "--url {url}: wamp_async 0.3.1 can verify a TLS certificate only against the system's \
             roots (or not at all), not against the test router's CA; this bench runs ws:// and \
             tcpip:// (tcp://) only"
        ),
        "unix" => bail!(
            "--url {url}: wamp_async 0.3.1 has no RawSocket over a unix socket; it connects to \
             ws:// and tcp:// (tcpip://) only"
        ),
        other => bail!(
            "--url {url}: wamp_async 0.3.1 knows no {other}:// transport; use ws:// or tcpip://"
        ),
    }
}

/// One line on stdout, flushed at once (the runner waits for READY and for each phase's line).
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

async fn connect(args: &Args, role: ClientRole) -> Result<Client<'static>> {
    let config = ClientConfig::default()
        .set_roles(vec![role])
        .set_serializers(vec![args.serializer]);
    let (mut client, (event_loop, rpc_queue)) = Client::connect(&args.url, Some(config))
        .await
        .map_err(|e| anyhow!("connecting to {}: {e:?}", args.url))?;
    tokio::spawn(event_loop);
    if let Some(mut queue) = rpc_queue {
        // each invocation is a future of its own: run them as they come
        tokio::spawn(async move {
            while let Some(invocation) = queue.recv().await {
                tokio::spawn(invocation);
            }
        });
    }
    let password = args.password.clone();
    client
        .join_realm_with_authentication(
            args.realm.clone(),
            vec![AuthenticationMethod::Ticket],
            args.user.clone(),
            move |_method, _extra| {
                let password = password.clone();
                async move { Ok(AuthenticationChallengeResponse::with_signature(password)) }
            },
        )
        .await
        .map_err(|e| anyhow!("joining {}: {e:?}", args.realm))?;
    Ok(client)
}

async fn serve(args: Args) -> Result<()> {
    let client = connect(&args, ClientRole::Callee).await?;
    client
        .register(PROCEDURE, |positional, _keywords| async move {
            let first = positional.and_then(|mut a| (!a.is_empty()).then(|| a.remove(0)));
            Ok((Some(first.into_iter().collect()), None))
        })
        .await
        .map_err(|e| anyhow!("registering {PROCEDURE}: {e:?}"))?;
    say("READY");
    loop {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}

async fn call(args: Args) -> Result<()> {
    let client = Arc::new(connect(&args, ClientRole::Caller).await?);
    let payload = vec![Value::String("0123456789abcdef".repeat(4))];
    for _ in 0..WARMUP_CALLS {
        client
            .call(PROCEDURE, Some(payload.clone()), None)
            .await
            .map_err(|e| anyhow!("warm-up call: {e:?}"))?;
    }
    let calls = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let meter = Meter::new("caller", &args.observe);
    let before = meter.read();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.threads {
        let (client, calls, stop, payload) =
            (client.clone(), calls.clone(), stop.clone(), payload.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                client
                    .call(PROCEDURE, Some(payload.clone()), None)
                    .await
                    .map_err(|e| format!("{e:?}"))?;
                calls.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<(), String>(())
        }));
    }
    tokio::time::sleep(args.duration).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await?.map_err(|e| anyhow!("threaded call: {e}"))?;
    }
    let wall = started.elapsed().as_secs_f64();
    let after = meter.read();
    let calls = calls.load(Ordering::Relaxed);
    let measured = meter.between(&before, &after);
    let cpu_ms: serde_json::Map<String, Value> = measured
        .iter()
        .map(|(label, ns, _)| (label.clone(), json!(*ns as f64 / 1e6)))
        .collect();
    let runs: serde_json::Map<String, Value> = measured
        .iter()
        .map(|(label, _, runs)| (label.clone(), json!(runs)))
        .collect();
    println!(
        "{}",
        json!({
            "impl": IMPL,
            "serializer": args.serializer_name,
            "transport": args.transport,
            "threads": args.threads,
            "threaded_calls_per_s": calls as f64 / wall,
            "phases": {"threaded": {"calls": calls, "wall_s": wall, "cpu_ms": cpu_ms, "runs": runs}},
        })
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = parse_args()?;
    match args.role.as_str() {
        "callee" => serve(args).await,
        "caller" => call(args).await,
        "publisher" => events::publish(args).await,
        "subscriber" => events::subscribe(args).await,
        other => bail!("--role callee, caller, publisher or subscriber, not {other}"),
    }
}
