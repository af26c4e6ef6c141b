//! The `wamp_async` 0.3.1 peer for `benches/peers/run.py --peer-rounds N`: the same echo
//! procedure and the same threaded phase as `examples/bench.rs`, with the async Rust client
//! `wamp_async` (tokio), so that threaded throughput on one connection can be compared
//! on one router in one run.
//!
//! ```text
//! wamp-async-bench --role callee|caller --url ws://... --realm R --user U --password P
//!     --serializer json|msgpack [--threads T] [--duration S] [--observe LABEL:PID[+PID..]]..
//! ```
//!
//! * `--role callee` registers `com.izaber.wamp.bench.echo` (returns its first argument),
//!   prints `READY` and serves until killed.
//! * `--role caller` makes 200 warm-up calls, then T tasks share the one client and call with
//!   a 64-byte string for S seconds. Its stdout line is a JSON object with
//!   `threaded_calls_per_s` and `phases.threaded` (`calls`, `wall_s`, `cpu_ms` of itself and
//!   of every `--observe`d process, from `/proc/PID/task/*/schedstat`, and `runs`, the times
//!   their threads were put on a CPU), as bench.rs reports it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use wamp_async::{
    AuthenticationChallengeResponse, AuthenticationMethod, Client, ClientConfig, ClientRole,
    SerializerType,
};

const PROCEDURE: &str = "com.izaber.wamp.bench.echo";
const WARMUP_CALLS: usize = 200;

struct Args {
    role: String,
    url: String,
    realm: String,
    user: String,
    password: String,
    serializer: SerializerType,
    serializer_name: String,
    threads: usize,
    duration: Duration,
    observe: Vec<(String, Vec<u32>)>,
}

fn parse_args() -> Result<Args> {
    let mut pairs = BTreeMap::new();
    let mut observe = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        if flag == "--observe" {
            let (label, pids) = value
                .split_once(':')
                .context("--observe LABEL:PID[+PID..]")?;
            let pids = pids
                .split('+')
                .map(|p| p.parse::<u32>().context("--observe: a PID"))
                .collect::<Result<Vec<_>>>()?;
            observe.push((label.to_owned(), pids));
        } else {
            pairs.insert(flag, value);
        }
    }
    let mut take = |name: &str| {
        pairs
            .remove(name)
            .with_context(|| format!("{name} is required"))
    };
    let serializer_name = take("--serializer")?;
    let serializer = match serializer_name.as_str() {
        "json" => SerializerType::Json,
        "msgpack" => SerializerType::MsgPack,
        other => bail!("wamp_async speaks json and msgpack, not {other}"),
    };
    let parsed = Args {
        role: take("--role")?,
        url: take("--url")?,
        realm: take("--realm")?,
        user: take("--user")?,
        password: take("--password")?,
        serializer,
        serializer_name,
        threads: pairs.remove("--threads").map_or(Ok(8), |t| t.parse())?,
        duration: Duration::from_secs_f64(
            pairs.remove("--duration").map_or(Ok(5.0), |d| d.parse())?,
        ),
        observe,
    };
    if let Some(flag) = pairs.keys().next() {
        bail!("unknown argument {flag}");
    }
    Ok(parsed)
}

/// CPU time (ns) of every thread of `pid` and how many times they were put on a CPU, from
/// the scheduler's own accounting (the first and third fields of schedstat).
fn cpu_and_runs(pid: u32) -> (u64, u64) {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return (0, 0);
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .map(|stat| {
            let mut fields = stat
                .split_whitespace()
                .map(|f| f.parse::<u64>().unwrap_or(0));
            (fields.next().unwrap_or(0), fields.nth(1).unwrap_or(0))
        })
        .fold((0, 0), |(ns, runs), (n, r)| (ns + n, runs + r))
}

fn sample(args: &Args) -> Vec<(String, (u64, u64))> {
    let mut out = vec![("caller".to_owned(), cpu_and_runs(std::process::id()))];
    for (label, pids) in &args.observe {
        let sum = pids
            .iter()
            .map(|&p| cpu_and_runs(p))
            .fold((0, 0), |(ns, runs), (n, r)| (ns + n, runs + r));
        out.push((label.clone(), sum));
    }
    out
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
    println!("READY");
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
    let before = sample(&args);
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
    let after = sample(&args);
    let calls = calls.load(Ordering::Relaxed);
    let cpu_ms: serde_json::Map<String, Value> = before
        .iter()
        .zip(&after)
        .map(|((label, a), (_, b))| (label.clone(), json!(b.0.saturating_sub(a.0) as f64 / 1e6)))
        .collect();
    let runs: serde_json::Map<String, Value> = before
        .iter()
        .zip(&after)
        .map(|((label, a), (_, b))| (label.clone(), json!(b.1.saturating_sub(a.1))))
        .collect();
    println!(
        "{}",
        json!({
            "impl": "rust-wamp_async",
            "serializer": args.serializer_name,
            "transport": "websocket",
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
        other => bail!("--role callee or caller, not {other}"),
    }
}
