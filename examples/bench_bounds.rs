//! What a burst costs a service: threads and memory of a callee under a burst of slow calls,
//! and of a subscriber slower than its events.
//!
//! ```text
//! bench_bounds serve-calls  --procedure P --expect N [--sleep-ms MS] CONNECTION
//! bench_bounds make-calls   --procedure P --calls N CONNECTION
//! bench_bounds serve-events --topic T --expect N [--handler-ms MS] CONNECTION
//! bench_bounds publish      --topic T --events N [--size BYTES] CONNECTION
//! ```
//!
//! CONNECTION is `--url URL --realm REALM --user U --password P --serializer S`. Each role is
//! a process of its own, so that a figure is one program's: `benches/bounds.py` starts a
//! server role, waits for its `ready` line, runs the client role against it, and reads the
//! JSON line each prints last.
//!
//! * `serve-calls` registers `P`, whose handler sleeps `MS` (1000 unless set) and answers;
//!   it ends once `N` invocations have come and each is answered (a result, or an error such
//!   as a refusal when the handler threads and the queue are full), or after 120 s. It prints
//!   the most threads the process had at once (sampled every 2 ms) and its peak RSS.
//! * `make-calls` makes `N` calls to `P` at once, from `N` threads, and prints how many got a
//!   result, which errors the others got, and how long the burst took.
//! * `serve-events` subscribes to `T` with a handler that takes `MS` (5 unless set) per event;
//!   it ends once `N` events have arrived (handled or not), and prints its peak RSS, its RSS
//!   then, and how many events it handled and dropped.
//! * `publish` publishes `N` events of `BYTES` (1024 unless set) without acknowledgement, as
//!   fast as it can, then one acknowledged, so that all are with the router when it ends.
//!
//! Only API that older trees of this crate also have is used, so that a build of an earlier
//! commit runs the same program (`--binary before=PATH` in bounds.py).

// Shared with the other bench programs; this one needs only its flag parsing.
#[allow(dead_code)]
#[path = "bench_support/mod.rs"]
mod bench_support;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use bench_support::{Flags, TargetFlags, number};
use izaber_wamp::{Client, Event, PublishOptions};
use serde_json::json;

const USAGE: &str = "usage: bench_bounds serve-calls|make-calls|serve-events|publish \
[--procedure P] [--topic T] [--expect N] [--calls N] [--events N] [--sleep-ms MS] \
[--handler-ms MS] [--size BYTES] --url URL --realm REALM --user U --password P \
--serializer json|msgpack|cbor";

/// The longest a server role waits for what it expects.
const GIVE_UP: Duration = Duration::from_secs(120);

struct Args {
    role: String,
    name: String,
    count: usize,
    millis: Option<u64>,
    size: usize,
}

fn main() -> Result<()> {
    env_logger::init();
    let role = std::env::args().nth(1).context(USAGE)?;
    let mut flags = Flags::new(USAGE);
    // The role is not a flag.
    flags.next_flag();
    let mut target = TargetFlags::default();
    let mut args = Args {
        role,
        name: String::new(),
        count: 0,
        millis: None,
        size: 1024,
    };
    while let Some((flag, inline)) = flags.next_flag() {
        let mut inline = Some(inline);
        let mut value = || flags.value(&flag, inline.take().flatten());
        match flag.as_str() {
            "--procedure" | "--topic" => args.name = value()?,
            "--expect" | "--calls" | "--events" => args.count = number(value()?, &flag)?,
            "--sleep-ms" | "--handler-ms" => args.millis = Some(number(value()?, &flag)? as u64),
            "--size" => args.size = number(value()?, &flag)?,
            _ => ensure!(
                target.take(&flag, &mut value)?,
                "unknown argument {flag:?}\n{USAGE}"
            ),
        }
    }
    let target = target.finish(USAGE)?;
    ensure!(
        !args.name.is_empty() && args.count > 0,
        "a name and a count are needed\n{USAGE}"
    );
    let client = Client::builder(target.url.as_str())
        .realm(&target.realm)
        .ticket(&target.user, target.password.as_str())
        .serializer(target.serializer)
        .timeout(Duration::from_secs(300))
        .connect()
        .with_context(|| format!("connecting to {}", target.url))?;
    let report = match args.role.as_str() {
        "serve-calls" => serve_calls(&client, &args)?,
        "make-calls" => make_calls(&client, &args)?,
        "serve-events" => serve_events(&client, &args)?,
        "publish" => publish(&client, &args)?,
        other => bail!("unknown role {other:?}\n{USAGE}"),
    };
    client.close();
    println!("{report}");
    Ok(())
}

fn serve_calls(client: &Client, args: &Args) -> Result<serde_json::Value> {
    let sleep = Duration::from_millis(args.millis.unwrap_or(1000));
    client.register(&args.name, move |_| {
        thread::sleep(sleep);
        Ok("done")
    })?;
    let peaks = Peaks::start();
    println!("ready");
    let started = Instant::now();
    let answered_all = || {
        let stats = client.stats();
        stats.invocations >= args.count as u64
            && stats.invocations_answered + stats.rejected_by_queue_limit >= args.count as u64
    };
    while !answered_all() && started.elapsed() < GIVE_UP {
        thread::sleep(Duration::from_millis(10));
    }
    let stats = client.stats();
    let (most_threads, peak_rss_kib) = peaks.stop();
    Ok(json!({
        "role": "serve-calls",
        "invocations": stats.invocations,
        "answered": stats.invocations_answered,
        "refused": stats.rejected_by_queue_limit,
        "peak_threads": most_threads,
        "peak_rss_kib": peak_rss_kib,
        "seconds": started.elapsed().as_secs_f64(),
    }))
}

fn make_calls(client: &Client, args: &Args) -> Result<serde_json::Value> {
    let barrier = Arc::new(Barrier::new(args.count));
    let started = Instant::now();
    let callers: Vec<_> = (0..args.count)
        .map(|_| {
            let (client, procedure, barrier) = (client.clone(), args.name.clone(), barrier.clone());
            // Small stacks: a caller only waits.
            thread::Builder::new()
                .stack_size(128 * 1024)
                .spawn(move || {
                    barrier.wait();
                    client.call(&procedure, ())
                })
                .context("starting a caller thread")
        })
        .collect::<Result<_>>()?;
    let (mut results, mut errors) = (0, std::collections::BTreeMap::<String, u64>::new());
    for caller in callers {
        match caller.join().expect("a caller thread panicked") {
            Ok(_) => results += 1,
            Err(e) => {
                let kind = e
                    .wamp_uri()
                    .map_or_else(|| format!("{e:.40}"), str::to_owned);
                *errors.entry(kind).or_default() += 1;
            }
        }
    }
    Ok(json!({
        "role": "make-calls",
        "calls": args.count,
        "results": results,
        "errors": errors,
        "seconds": started.elapsed().as_secs_f64(),
    }))
}

fn serve_events(client: &Client, args: &Args) -> Result<serde_json::Value> {
    let pause = Duration::from_millis(args.millis.unwrap_or(5));
    let handled = Arc::new(AtomicU64::new(0));
    {
        let handled = handled.clone();
        client.subscribe(&args.name, move |_: Event| {
            thread::sleep(pause);
            handled.fetch_add(1, Ordering::Relaxed);
        })?;
    }
    let peaks = Peaks::start();
    println!("ready");
    let started = Instant::now();
    while client.stats().events < args.count as u64 && started.elapsed() < GIVE_UP {
        thread::sleep(Duration::from_millis(10));
    }
    let arrived = started.elapsed();
    let stats = client.stats();
    let (_, peak_rss_kib) = peaks.stop();
    Ok(json!({
        "role": "serve-events",
        "events": stats.events,
        "handled": handled.load(Ordering::Relaxed),
        "dropped": stats.rejected_by_queue_limit,
        "peak_rss_kib": peak_rss_kib,
        "rss_kib": status_kib("VmRSS")?,
        "seconds": arrived.as_secs_f64(),
    }))
}

fn publish(client: &Client, args: &Args) -> Result<serde_json::Value> {
    let payload = "x".repeat(args.size);
    let started = Instant::now();
    for n in 0..args.count {
        client.publish(&args.name, (n, &payload))?;
    }
    client.publish_with(
        &args.name,
        (args.count, &payload),
        (),
        &PublishOptions::new().acknowledge(true),
    )?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(json!({
        "role": "publish",
        "events": args.count + 1,
        "seconds": seconds,
        "events_per_second": (args.count + 1) as f64 / seconds,
    }))
}

/// The most threads and the peak RSS of this process, sampled on a thread of its own.
struct Peaks {
    stop: Arc<AtomicBool>,
    most_threads: Arc<AtomicUsize>,
    sampler: thread::JoinHandle<()>,
}

impl Peaks {
    fn start() -> Peaks {
        let stop = Arc::new(AtomicBool::new(false));
        let most_threads = Arc::new(AtomicUsize::new(0));
        let sampler = {
            let (stop, most_threads) = (stop.clone(), most_threads.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(threads) = status_kib("Threads") {
                        most_threads.fetch_max(threads as usize, Ordering::Relaxed);
                    }
                    thread::sleep(Duration::from_millis(2));
                }
            })
        };
        Peaks {
            stop,
            most_threads,
            sampler,
        }
    }

    /// (most threads, peak RSS in KiB).
    fn stop(self) -> (usize, u64) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.sampler.join();
        (
            self.most_threads.load(Ordering::Relaxed),
            status_kib("VmHWM").unwrap_or(0),
        )
    }
}

/// A number from `/proc/self/status` (KiB for sizes).
fn status_kib(field: &str) -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status").context("reading /proc")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .with_context(|| format!("no {field} in /proc/self/status"))
}
