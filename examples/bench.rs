//! Performance benchmark: one echo procedure, called over and over; and publish/subscribe.
//!
//! ```text
//! cargo run --release --example bench -- --role callee|caller|publisher|subscriber --url URL \
//!     --realm REALM --user U --password P --serializer json|msgpack|cbor \
//!     [--calls N] [--big-calls M] [--events E] [--threads T] [--duration S]
//!     [--phase NAME:KIND[:RATE]].. [--quit]
//!     [--observe LABEL:PID[+PID..]].. [--latencies FILE] [--ping-interval S]
//!     [--handler-delay-ms D]
//! ```
//!
//! * `--role callee` registers `com.izaber.wamp.bench.echo` (returns its first positional
//!   argument, after `--handler-delay-ms D` if given), subscribes to
//!   `com.izaber.wamp.bench.tick` (does nothing with the event), prints `READY` and serves
//!   until killed.
//! * `--role caller` makes 200 warm-up calls, then N sequential calls with a 64-byte string
//!   (each timed), E acknowledged publications of a 64-byte string to the callee's topic
//!   (phase `events`, none by default: what an event costs a service that also serves
//!   calls), M calls with a 1 MiB string, then T threads sharing the one client call for S
//!   seconds. Its last stdout line is one JSON object (`impl`, `serializer`,
//!   `transport`, `p50_us`, `p90_us`, `p99_us`, `big_mean_ms`, `seq_calls_per_s`,
//!   `threaded_calls_per_s`, `cpu_us_per_call`, `max_rss_kib`, and more: see `report`).
//! * `--role publisher` and `--role subscriber` are the events benchmark's programs, as
//!   `benches/peers/EVENTS.md` says: the publisher runs each `--phase` for S seconds
//!   (`flood`, `acked` or `paced:RATE`) with [`Client::publish`] (acknowledged ones with
//!   [`Client::publish_with`]), the subscriber tallies every event in an ordinary
//!   [`Client::subscribe_with`] handler. `benches/peers/events.sh` runs them.
//!
//! `--latencies FILE` writes every sequential call's latency (ns, in call order);
//! `--ping-interval S` sets the heartbeat (0: none; default: the library's).
//!
//! `benches/peers/swampyer_bench.py` is the same program for Python's swampyer, and
//! `benches/peers/run.sh` runs both against the test router and writes
//! `benches/results/peers.md`.
//!
//! `examples/bench_floor.rs` is the cheapest possible caller, measured the same way: how much
//! of a call's CPU no client that uses the kernel's sockets can avoid.
//!
//! CPU is read per thread from `/proc` for this process and every `--observe`d one, at the
//! start and end of each phase: see `bench_support/mod.rs`, which both programs share so that
//! they measure alike.

#[path = "bench_support/mod.rs"]
mod bench_support;

use std::fs;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use bench_support::{
    Control, EVENTS_PAD, EVENTS_TOPIC, EventPhase, EventPublisher, Flags, Marker, Meter,
    SubscriberTally, Target, TargetFlags, number, round, seconds, status_kib,
};
use izaber_wamp::protocol::Value;
use izaber_wamp::{Client, PublishOptions, SubscribeOptions};
use serde_json::json;

const PROCEDURE: &str = "com.izaber.wamp.bench.echo";
const TOPIC: &str = "com.izaber.wamp.bench.tick";
const WARMUP_CALLS: usize = 200;
const SMALL_BYTES: usize = 64;
const BIG_BYTES: usize = 1 << 20;
const IMPL: &str = "rust-izaber-wamp";

const USAGE: &str = "usage: bench --role callee|caller|publisher|subscriber --url URL --realm REALM \
--user U --password P --serializer json|msgpack|cbor [--calls N] [--big-calls M] [--events E] \
[--threads T] [--duration S] [--phase NAME:flood|NAME:acked|NAME:paced:RATE]... [--quit] \
[--observe LABEL:PID[+PID...]]... [--latencies FILE] [--ping-interval S] [--handler-delay-ms D]";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Callee,
    Caller,
    Publisher,
    Subscriber,
}

struct Args {
    role: Role,
    target: Target,
    big_calls: usize,
    events: usize,
    threads: usize,
    duration: Duration,
    /// Where to write every sequential call's latency (ns, one a line).
    latencies: Option<String>,
    /// Heartbeat ping interval; `None`: the library's default; zero: no pings.
    ping_interval: Option<Duration>,
    /// The publisher's phases, in order (each lasts `duration`).
    phases: Vec<EventPhase>,
    /// The publisher tells the subscriber to quit after the last phase.
    quit: bool,
}

fn parse_args() -> Result<Args> {
    let mut role = None;
    let mut target = TargetFlags::default();
    let mut big_calls = 30;
    let mut events = 0;
    let mut threads = 8;
    let mut duration = Duration::from_secs(5);
    let mut latencies = None;
    let mut ping_interval = None;
    let mut phases = Vec::new();
    let mut quit = false;

    let mut flags = Flags::new(USAGE);
    while let Some((flag, inline)) = flags.next_flag() {
        let mut value = || flags.value(&flag, inline.clone());
        if target.take(&flag, &mut value)? {
            continue;
        }
        match flag.as_str() {
            "--role" => {
                role = Some(match value()?.as_str() {
                    "callee" => Role::Callee,
                    "caller" => Role::Caller,
                    "publisher" => Role::Publisher,
                    "subscriber" => Role::Subscriber,
                    other => bail!(
                        "--role must be callee, caller, publisher or subscriber, not {other:?}"
                    ),
                })
            }
            "--big-calls" => big_calls = number(value()?, "--big-calls")?,
            "--events" => events = number(value()?, "--events")?,
            "--threads" => threads = number(value()?, "--threads")?,
            "--duration" => duration = seconds(value()?, "--duration")?,
            "--latencies" => latencies = Some(value()?),
            "--ping-interval" => ping_interval = Some(seconds(value()?, "--ping-interval")?),
            "--phase" => phases.push(EventPhase::parse(&value()?)?),
            "--quit" => quit = true,
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    Ok(Args {
        role: role.with_context(|| format!("--role is required\n{USAGE}"))?,
        target: target.finish(USAGE)?,
        big_calls,
        events,
        threads,
        duration,
        latencies,
        ping_interval,
        phases,
        quit,
    })
}

fn connect(args: &Args) -> Result<Client> {
    let mut builder = Client::builder(&args.target.url)
        .realm(&args.target.realm)
        .ticket(&args.target.user, args.target.password.as_str())
        .uri_base("com.izaber.wamp")
        .serializer(args.target.serializer)
        .timeout(Duration::from_secs(60));
    if let Some(interval) = args.ping_interval {
        builder = builder.ping_interval((!interval.is_zero()).then_some(interval));
    }
    builder
        .connect()
        .with_context(|| format!("connecting to {} as {}", args.target.url, args.target.user))
}

fn main() -> Result<()> {
    // RUST_LOG=warn (or debug) shows what the client logs; nothing by default
    env_logger::init();
    let args = parse_args()?;
    match args.role {
        Role::Callee => callee(&args),
        Role::Caller => caller(&args),
        Role::Publisher => publisher(&args),
        Role::Subscriber => subscriber(&args),
    }
}

fn callee(args: &Args) -> Result<()> {
    let client = connect(args)?;
    let delay = args.target.handler_delay;
    client
        .register(PROCEDURE, move |invocation| {
            if !delay.is_zero() {
                std::thread::sleep(delay);
            }
            Ok(invocation.args.into_iter().next().unwrap_or(Value::Null))
        })
        .context("registering the echo procedure")?;
    client
        .subscribe(TOPIC, |_event| {})
        .context("subscribing to the events")?;
    println!("READY");
    std::io::stdout().flush()?;
    loop {
        std::thread::park();
    }
}

// --- the caller ------------------------------------------------------------------------------

fn echo(client: &Client, payload: &str) -> Result<()> {
    let reply = client.call(PROCEDURE, (payload,))?;
    ensure!(
        reply.as_str() == Some(payload),
        "the echo came back different ({} instead of a {}-byte string)",
        reply.type_name(),
        payload.len()
    );
    Ok(())
}

fn caller(args: &Args) -> Result<()> {
    let meter = Meter::new(&args.target.observe);
    let small: String = "0123456789abcdef".repeat(SMALL_BYTES / 16);
    let big: String = "x".repeat(BIG_BYTES);

    let client = connect(args)?;
    let connected_rss_kib = status_kib("VmRSS");

    // warm-up
    let start = meter.read();
    for _ in 0..WARMUP_CALLS {
        echo(&client, &small).context("warm-up call")?;
    }
    let warmup = meter.phase("warmup", &start, WARMUP_CALLS as u64);
    eprintln!("{warmup}");
    let idle_rss_kib = status_kib("VmRSS");

    // sequential calls, each timed
    let mut latencies = Vec::with_capacity(args.target.calls);
    let start = meter.read();
    for _ in 0..args.target.calls {
        let t = Instant::now();
        echo(&client, &small).context("sequential call")?;
        latencies.push(t.elapsed().as_nanos() as u64);
    }
    let seq = meter.phase("sequential", &start, args.target.calls as u64);
    eprintln!("{seq}");
    if let Some(path) = &args.latencies {
        let text: String = latencies.iter().map(|ns| format!("{ns}\n")).collect();
        fs::write(path, text).with_context(|| format!("writing {path}"))?;
    }
    latencies.sort_unstable();

    // acknowledged publications to the callee's subscription
    let start = meter.read();
    let acknowledged = PublishOptions::new().acknowledge(true);
    for _ in 0..args.events {
        client
            .publish_with(TOPIC, (&small,), (), &acknowledged)
            .context("publication")?;
    }
    let events_phase = meter.phase("events", &start, args.events as u64);
    if args.events > 0 {
        eprintln!("{events_phase}");
    }

    // 1 MiB calls
    let start = meter.read();
    for _ in 0..args.big_calls {
        echo(&client, &big).context("1 MiB call")?;
    }
    let big_phase = meter.phase("big", &start, args.big_calls as u64);
    eprintln!("{big_phase}");
    drop(big);

    // T threads sharing the client. Every thread stays alive until the end of the phase is
    // measured, so that its schedstat is still there to be read.
    let threaded = if args.threads > 0 && !args.duration.is_zero() {
        let count = Arc::new(AtomicU64::new(0));
        let finished = Arc::new(Barrier::new(args.threads + 1));
        let measured = Arc::new(Barrier::new(args.threads + 1));
        let start = meter.read();
        let deadline = start.at + args.duration;
        let workers: Vec<_> = (0..args.threads)
            .map(|_| {
                let (client, small) = (client.clone(), small.clone());
                let (count, finished, measured) =
                    (count.clone(), finished.clone(), measured.clone());
                std::thread::spawn(move || -> Result<()> {
                    let mut result = Ok(());
                    while Instant::now() < deadline {
                        if let Err(e) = echo(&client, &small) {
                            result = Err(e.context("threaded call"));
                            break;
                        }
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    finished.wait();
                    measured.wait();
                    result
                })
            })
            .collect();
        finished.wait();
        let phase = meter.phase("threaded", &start, count.load(Ordering::Relaxed));
        measured.wait();
        for worker in workers {
            worker.join().expect("a bench thread panicked")?;
        }
        eprintln!("{phase} ({} threads)", args.threads);
        Some(phase)
    } else {
        None
    };

    // VmHWM is kept up to date lazily by the kernel: never report less than was seen
    let max_rss_kib = status_kib("VmHWM")
        .max(status_kib("VmRSS"))
        .max(idle_rss_kib);
    client.close();

    let mut report = json!({
        "impl": IMPL,
        "serializer": args.target.serializer.name(),
        "transport": bench_support::transport_name(&args.target.url),
        "big_mean_ms": if args.big_calls > 0 {
            json!(round(big_phase.wall.as_secs_f64() * 1e3 / args.big_calls as f64, 3))
        } else {
            serde_json::Value::Null
        },
        "threaded_calls_per_s": threaded
            .as_ref()
            .map(|p| json!(round(p.calls as f64 / p.wall.as_secs_f64(), 1))),
        "max_rss_kib": max_rss_kib,
        "idle_rss_kib": idle_rss_kib,
        "connected_rss_kib": connected_rss_kib,
        "calls": args.target.calls,
        "big_calls": args.big_calls,
        "events": args.events,
        "threads": args.threads,
        "duration_s": args.duration.as_secs_f64(),
        "phases": bench_support::phases_json(
            [
                Some(&warmup),
                Some(&seq),
                (args.events > 0).then_some(&events_phase),
                Some(&big_phase),
                threaded.as_ref(),
            ]
                .into_iter()
                .flatten()
        ),
    });
    bench_support::add_sequential_figures(&mut report, &latencies, &seq);
    println!("{report}");
    Ok(())
}

// --- the events benchmark (benches/peers/EVENTS.md) ----------------------------------------

/// Our publisher: the client's publish calls, as a user's code would make them.
struct Publisher {
    client: Client,
    acknowledged: PublishOptions,
}

impl EventPublisher for Publisher {
    fn marker(&mut self, marker: Marker<'_>) -> Result<()> {
        let client = &self.client;
        let ack = &self.acknowledged;
        match marker {
            Marker::Start(phase) => client.publish_with(EVENTS_TOPIC, ("start", phase), (), ack),
            Marker::End(phase, sent) => {
                client.publish_with(EVENTS_TOPIC, ("end", phase, sent), (), ack)
            }
            Marker::Quit => client.publish_with(EVENTS_TOPIC, ("quit",), (), ack),
        }?;
        Ok(())
    }

    fn event(&mut self, phase: &str, seq: u64, sent_ns: u64, acknowledged: bool) -> Result<()> {
        let args = ("event", phase, seq, sent_ns, EVENTS_PAD);
        if acknowledged {
            self.client
                .publish_with(EVENTS_TOPIC, args, (), &self.acknowledged)?;
        } else {
            self.client.publish(EVENTS_TOPIC, args)?;
        }
        Ok(())
    }
}

fn publisher(args: &Args) -> Result<()> {
    ensure!(!args.phases.is_empty(), "a publisher needs a --phase");
    let meter = Meter::new(&args.target.observe);
    let client = connect(args)?;
    let mut publisher = Publisher {
        client: client.clone(),
        acknowledged: PublishOptions::new().acknowledge(true),
    };
    let phases = bench_support::publish_phases(
        &mut publisher,
        &meter,
        &args.phases,
        args.duration,
        args.quit,
    )?;
    client.close();
    let report = json!({
        "impl": IMPL,
        "role": "publisher",
        "serializer": args.target.serializer.name(),
        "transport": bench_support::transport_name(&args.target.url),
        "phases": phases,
    });
    println!("{report}");
    Ok(())
}

/// What the subscription's handler tells the main thread.
enum Done {
    Quit,
    Failed(anyhow::Error),
}

fn subscriber(args: &Args) -> Result<()> {
    let client = connect(args)?;
    let tally = Mutex::new(SubscriberTally::new(IMPL, &args.target));
    let (done, finished) = mpsc::channel();
    // The subscription's queue is where events wait while the handler is busy; past its
    // bound the library drops the oldest (its documented choice for a slow subscriber). The
    // benchmark wants every event counted, so the bound is lifted: a handler that falls
    // behind shows as latency and memory, and any drop still shows as received < sent (and
    // in `dropped`, the library's own count).
    let options = SubscribeOptions::new()
        .queue_limit(usize::MAX)
        .queue_bytes(usize::MAX);
    let stats = client.clone();
    client
        .subscribe_with(EVENTS_TOPIC, &options, move |event| {
            let control = tally.lock().unwrap().handle(&event.args);
            let tell = |message| _ = done.send(message);
            match control {
                Ok(Control::Continue) => {}
                Ok(Control::Phase(mut line)) => {
                    let stats = stats.stats();
                    line.insert("dropped".into(), json!(stats.events_dropped));
                    // Since the subscriber started, all phases: how many events its idle
                    // handler thread read itself (no hand-off from the socket thread).
                    line.insert("read_by_worker".into(), json!(stats.events_read_by_worker));
                    line.insert("events_so_far".into(), json!(stats.events));
                    let mut out = std::io::stdout().lock();
                    _ = writeln!(out, "{}", serde_json::Value::Object(line));
                    _ = out.flush();
                }
                Ok(Control::Quit) => tell(Done::Quit),
                Err(e) => tell(Done::Failed(e)),
            }
        })
        .context("subscribing to the events")?;
    println!("READY");
    std::io::stdout().flush()?;
    let outcome = finished.recv();
    client.close();
    match outcome {
        Ok(Done::Quit) => Ok(()),
        Ok(Done::Failed(e)) => Err(e),
        Err(_) => bail!("the subscription handler is gone"),
    }
}
