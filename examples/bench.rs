//! Performance benchmark: one echo procedure, called over and over.
//!
//! ```text
//! cargo run --release --example bench -- --role callee|caller --url URL --realm REALM \
//!     --user U --password P --serializer json|msgpack|cbor \
//!     [--calls N] [--big-calls M] [--threads T] [--duration S] [--observe LABEL:PID[+PID..]]..
//!     [--latencies FILE] [--ping-interval S]
//! ```
//!
//! * `--role callee` registers `com.izaber.wamp.bench.echo` (returns its first positional
//!   argument), prints `READY` and serves until killed.
//! * `--role caller` makes 200 warm-up calls, then N sequential calls with a 64-byte string
//!   (each timed), M calls with a 1 MiB string, then T threads sharing the one client call
//!   for S seconds. Its last stdout line is one JSON object (`impl`, `serializer`,
//!   `transport`, `p50_us`, `p90_us`, `p99_us`, `big_mean_ms`, `seq_calls_per_s`,
//!   `threaded_calls_per_s`, `cpu_us_per_call`, `max_rss_kib`, and more: see `report`).
//!
//! `--latencies FILE` writes every sequential call's latency (ns, in call order);
//! `--ping-interval S` sets the heartbeat (0: none; default: the library's).
//!
//! `benches/peers/swampyer_bench.py` is the same program for Python's swampyer, and
//! `benches/peers/run.sh` runs both against the test router and writes BENCHMARKS.md.
//!
//! CPU time is read from `/proc/PID/task/*/schedstat` (the scheduler's run time of every
//! thread, in nanoseconds; the same counter `utime + stime` are derived from) rather than
//! `/proc/PID/stat`, whose `utime`/`stime` come in clock ticks (10 ms at `CLK_TCK` = 100):
//! a phase that uses 60 ms of CPU would be off by up to a sixth. Threads that exit during a
//! phase take their schedstat with them, so `/proc/PID/stat` is read too, and used when it
//! says clearly more (see [`Cpu::since`]). `--observe router:PID+PID` does the same for other
//! processes (the router, the callee), so the report says where the CPU went in each phase.

use std::fmt;
use std::fs;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use izaber_wamp::Client;
use izaber_wamp::protocol::{Serializer, Value};
use serde_json::json;

const PROCEDURE: &str = "com.izaber.wamp.bench.echo";
const WARMUP_CALLS: usize = 200;
const SMALL_BYTES: usize = 64;
const BIG_BYTES: usize = 1 << 20;
const IMPL: &str = "rust-izaber-wamp";

const USAGE: &str = "usage: bench --role callee|caller --url URL --realm REALM --user U --password P \
--serializer json|msgpack|cbor [--calls N] [--big-calls M] [--threads T] [--duration S] \
[--observe LABEL:PID[+PID...]]... [--latencies FILE] [--ping-interval S]";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Callee,
    Caller,
}

struct Args {
    role: Role,
    url: String,
    realm: String,
    user: String,
    password: String,
    serializer: Serializer,
    calls: usize,
    big_calls: usize,
    threads: usize,
    duration: Duration,
    /// Other processes whose CPU is measured over each phase: (label, pids).
    observe: Vec<(String, Vec<u32>)>,
    /// Where to write every sequential call's latency (ns, one a line).
    latencies: Option<String>,
    /// Heartbeat ping interval; `None`: the library's default; zero: no pings.
    ping_interval: Option<Duration>,
}

fn parse_args() -> Result<Args> {
    let mut role = None;
    let mut url = None;
    let mut realm = None;
    let mut user = None;
    let mut password = None;
    let mut serializer = None;
    let mut calls = 3000;
    let mut big_calls = 30;
    let mut threads = 8;
    let mut duration = Duration::from_secs(5);
    let mut observe = Vec::new();
    let mut latencies = None;
    let mut ping_interval = None;

    let mut argv = std::env::args().skip(1);
    while let Some(arg) = argv.next() {
        if arg == "-h" || arg == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        // `--flag value` or `--flag=value`
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = || -> Result<String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => argv
                    .next()
                    .with_context(|| format!("{flag} needs a value\n{USAGE}")),
            }
        };
        let number = |text: String, flag: &str| -> Result<usize> {
            text.parse()
                .with_context(|| format!("{flag}: not a number: {text:?}"))
        };
        let seconds = |text: String, flag: &str| -> Result<Duration> {
            let secs: f64 = text
                .parse()
                .with_context(|| format!("{flag}: not a number: {text:?}"))?;
            ensure!(
                secs.is_finite() && secs >= 0.0,
                "{flag} must be seconds >= 0"
            );
            Ok(Duration::from_secs_f64(secs))
        };
        match flag.as_str() {
            "--role" => {
                role = Some(match value()?.as_str() {
                    "callee" => Role::Callee,
                    "caller" => Role::Caller,
                    other => bail!("--role must be callee or caller, not {other:?}"),
                })
            }
            "--url" => url = Some(value()?),
            "--realm" => realm = Some(value()?),
            "--user" => user = Some(value()?),
            "--password" => password = Some(value()?),
            "--serializer" => {
                serializer = Some(match value()?.as_str() {
                    "json" => Serializer::Json,
                    "msgpack" => Serializer::MsgPack,
                    "cbor" => Serializer::Cbor,
                    other => bail!("--serializer must be json, msgpack or cbor, not {other:?}"),
                })
            }
            "--calls" => calls = number(value()?, "--calls")?,
            "--big-calls" => big_calls = number(value()?, "--big-calls")?,
            "--threads" => threads = number(value()?, "--threads")?,
            "--duration" => duration = seconds(value()?, "--duration")?,
            "--observe" => {
                let text = value()?;
                let (label, pids) = text
                    .split_once(':')
                    .with_context(|| format!("--observe wants LABEL:PID[+PID...], not {text:?}"))?;
                let pids = pids
                    .split('+')
                    .map(|p| {
                        p.parse::<u32>()
                            .with_context(|| format!("--observe: not a pid: {p:?}"))
                    })
                    .collect::<Result<Vec<_>>>()?;
                observe.push((label.to_owned(), pids));
            }
            "--latencies" => latencies = Some(value()?),
            "--ping-interval" => ping_interval = Some(seconds(value()?, "--ping-interval")?),
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    let missing = |what: &str| format!("{what} is required\n{USAGE}");
    let args = Args {
        role: role.with_context(|| missing("--role"))?,
        url: url.with_context(|| missing("--url"))?,
        realm: realm.with_context(|| missing("--realm"))?,
        user: user.with_context(|| missing("--user"))?,
        password: password.with_context(|| missing("--password"))?,
        serializer: serializer.with_context(|| missing("--serializer"))?,
        calls,
        big_calls,
        threads,
        duration,
        observe,
        latencies,
        ping_interval,
    };
    ensure!(args.calls > 0, "--calls must be at least 1");
    Ok(args)
}

fn connect(args: &Args) -> Result<Client> {
    let mut builder = Client::builder(&args.url)
        .realm(&args.realm)
        .ticket(&args.user, args.password.as_str())
        .uri_base("com.izaber.wamp")
        .serializer(args.serializer)
        .timeout(Duration::from_secs(60));
    if let Some(interval) = args.ping_interval {
        builder = builder.ping_interval((!interval.is_zero()).then_some(interval));
    }
    builder
        .connect()
        .with_context(|| format!("connecting to {} as {}", args.url, args.user))
}

fn main() -> Result<()> {
    // RUST_LOG=warn (or debug) shows what the client logs; nothing by default
    env_logger::init();
    let args = parse_args()?;
    match args.role {
        Role::Callee => callee(&args),
        Role::Caller => caller(&args),
    }
}

fn callee(args: &Args) -> Result<()> {
    let client = connect(args)?;
    client
        .register(PROCEDURE, |invocation| {
            Ok(invocation.args.into_iter().next().unwrap_or(Value::Null))
        })
        .context("registering the echo procedure")?;
    println!("READY");
    std::io::stdout().flush()?;
    loop {
        std::thread::park();
    }
}

// --- measuring -----------------------------------------------------------------------------

/// CPU used so far by a set of processes (all their threads).
#[derive(Clone, Copy, Debug, Default)]
struct Cpu {
    /// Sum of `/proc/PID/task/*/schedstat` run times of the threads alive now.
    sched_ns: u64,
    /// `utime + stime` of `/proc/PID/stat` (every thread, dead ones too), in clock ticks.
    ticks: u64,
}

/// Nanoseconds per clock tick. `CLK_TCK` is 100 on every Linux that matters (it is fixed
/// in the kernel ABI for /proc, whatever the kernel's HZ).
const NS_PER_TICK: u64 = 10_000_000;

impl Cpu {
    fn read(pids: &[String]) -> Cpu {
        let mut cpu = Cpu::default();
        for pid in pids {
            if let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) {
                for task in tasks.flatten() {
                    let ns = fs::read_to_string(task.path().join("schedstat"))
                        .ok()
                        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok());
                    cpu.sched_ns += ns.unwrap_or(0);
                }
            }
            if let Some(fields) = stat_fields(&format!("/proc/{pid}/stat")) {
                // after "(comm)": state is field 0, utime 11, stime 12
                let get = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
                cpu.ticks += get(11).unwrap_or(0) + get(12).unwrap_or(0);
            }
        }
        cpu
    }

    /// CPU nanoseconds between `earlier` and now. The schedstat figure unless the tick
    /// count says clearly more (threads that ran and exited during the phase are missing
    /// from the schedstat sum): then the tick figure.
    fn since(self, earlier: Cpu) -> u64 {
        let sched = self.sched_ns.saturating_sub(earlier.sched_ns);
        let ticks = self.ticks.saturating_sub(earlier.ticks) * NS_PER_TICK;
        if ticks > sched + sched / 10 + 2 * NS_PER_TICK {
            ticks
        } else {
            sched
        }
    }
}

fn stat_fields(path: &str) -> Option<Vec<String>> {
    let text = fs::read_to_string(path).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// A `Vm...:` line of /proc/self/status, in KiB.
fn status_kib(key: &str) -> u64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// The caller itself plus every `--observe`d process.
struct Meter {
    labels: Vec<String>,
    pids: Vec<Vec<String>>,
}

/// One reading of a [`Meter`].
struct Reading {
    at: Instant,
    cpu: Vec<Cpu>,
    machine: MachineCpu,
}

/// CPU time of the whole machine, all CPUs (the `cpu` line of /proc/stat), in clock ticks.
#[derive(Clone, Copy, Default)]
struct MachineCpu {
    /// user + nice + system + irq + softirq: what every process together used.
    busy: u64,
    /// Taken by the hypervisor for other guests.
    steal: u64,
    /// idle + iowait.
    idle: u64,
}

impl MachineCpu {
    fn read() -> MachineCpu {
        let text = fs::read_to_string("/proc/stat").unwrap_or_default();
        let ticks: Vec<u64> = text
            .lines()
            .next()
            .unwrap_or("")
            .split_whitespace()
            .skip(1)
            .map(|f| f.parse().unwrap_or(0))
            .collect();
        let get = |i: usize| ticks.get(i).copied().unwrap_or(0);
        MachineCpu {
            busy: get(0) + get(1) + get(2) + get(5) + get(6),
            steal: get(7),
            idle: get(3) + get(4),
        }
    }
}

/// What a phase cost: wall time, calls, CPU per process.
struct Phase {
    name: &'static str,
    wall: Duration,
    calls: u64,
    cpu_ns: Vec<(String, u64)>,
    /// Machine-wide busy, steal and idle time over the phase, in clock ticks.
    machine: MachineCpu,
}

impl Meter {
    fn new(observe: &[(String, Vec<u32>)]) -> Meter {
        let mut labels = vec!["caller".to_owned()];
        let mut pids = vec![vec!["self".to_owned()]];
        for (label, list) in observe {
            labels.push(label.clone());
            pids.push(list.iter().map(u32::to_string).collect());
        }
        Meter { labels, pids }
    }

    fn read(&self) -> Reading {
        Reading {
            cpu: self.pids.iter().map(|p| Cpu::read(p)).collect(),
            machine: MachineCpu::read(),
            at: Instant::now(),
        }
    }

    fn phase(&self, name: &'static str, start: &Reading, calls: u64) -> Phase {
        let end = self.read();
        Phase {
            name,
            wall: end.at - start.at,
            calls,
            cpu_ns: self
                .labels
                .iter()
                .zip(end.cpu.iter().zip(&start.cpu))
                .map(|(label, (e, s))| (label.clone(), e.since(*s)))
                .collect(),
            machine: MachineCpu {
                busy: end.machine.busy.saturating_sub(start.machine.busy),
                steal: end.machine.steal.saturating_sub(start.machine.steal),
                idle: end.machine.idle.saturating_sub(start.machine.idle),
            },
        }
    }
}

impl Phase {
    fn cpu_ns(&self, label: &str) -> u64 {
        self.cpu_ns
            .iter()
            .find(|(l, _)| l == label)
            .map_or(0, |(_, ns)| *ns)
    }

    fn json(&self) -> serde_json::Value {
        let cpu: serde_json::Map<String, serde_json::Value> = self
            .cpu_ns
            .iter()
            .map(|(label, ns)| (label.clone(), json!(round(*ns as f64 / 1e6, 3))))
            .collect();
        let ms = |ticks: u64| (ticks * NS_PER_TICK / 1_000_000) as f64;
        json!({
            "wall_s": round(self.wall.as_secs_f64(), 4),
            "calls": self.calls,
            "cpu_ms": cpu,
            "machine_ms": {
                "busy": ms(self.machine.busy),
                "steal": ms(self.machine.steal),
                "idle": ms(self.machine.idle),
            },
        })
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} calls in {:.3} s",
            self.name,
            self.calls,
            self.wall.as_secs_f64()
        )?;
        for (label, ns) in &self.cpu_ns {
            write!(f, ", {label} {:.1} ms CPU", *ns as f64 / 1e6)?;
        }
        Ok(())
    }
}

fn round(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

/// Nearest-rank percentile of sorted nanoseconds, in microseconds.
fn percentile_us(sorted_ns: &[u64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted_ns.len() as f64).ceil() as usize;
    sorted_ns[rank.clamp(1, sorted_ns.len()) - 1] as f64 / 1e3
}

fn transport_name(url: &str) -> &'static str {
    match url.split_once("://").map(|(scheme, _)| scheme) {
        Some("ws") => "websocket",
        Some("wss") => "websocket-tls",
        Some("tcpip") => "rawsocket",
        Some("tcpips") => "rawsocket-tls",
        Some("unix") => "rawsocket-unix",
        _ => "unknown",
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
    let meter = Meter::new(&args.observe);
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
    let mut latencies = Vec::with_capacity(args.calls);
    let start = meter.read();
    for _ in 0..args.calls {
        let t = Instant::now();
        echo(&client, &small).context("sequential call")?;
        latencies.push(t.elapsed().as_nanos() as u64);
    }
    let seq = meter.phase("sequential", &start, args.calls as u64);
    eprintln!("{seq}");
    if let Some(path) = &args.latencies {
        let text: String = latencies.iter().map(|ns| format!("{ns}\n")).collect();
        fs::write(path, text).with_context(|| format!("writing {path}"))?;
    }
    latencies.sort_unstable();

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

    let per_call_us = |phase: &Phase, label: &str| {
        round(
            phase.cpu_ns(label) as f64 / 1e3 / phase.calls.max(1) as f64,
            2,
        )
    };
    let mut phases = serde_json::Map::new();
    for phase in [
        Some(&warmup),
        Some(&seq),
        Some(&big_phase),
        threaded.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        phases.insert(phase.name.to_owned(), phase.json());
    }
    let report = json!({
        "impl": IMPL,
        "serializer": args.serializer.name(),
        "transport": transport_name(&args.url),
        "p50_us": round(percentile_us(&latencies, 50.0), 1),
        "p90_us": round(percentile_us(&latencies, 90.0), 1),
        "p99_us": round(percentile_us(&latencies, 99.0), 1),
        "max_us": round(percentile_us(&latencies, 100.0), 1),
        "big_mean_ms": if args.big_calls > 0 {
            json!(round(big_phase.wall.as_secs_f64() * 1e3 / args.big_calls as f64, 3))
        } else {
            serde_json::Value::Null
        },
        "seq_calls_per_s": round(args.calls as f64 / seq.wall.as_secs_f64(), 1),
        "threaded_calls_per_s": threaded
            .as_ref()
            .map(|p| json!(round(p.calls as f64 / p.wall.as_secs_f64(), 1))),
        "cpu_us_per_call": per_call_us(&seq, "caller"),
        "max_rss_kib": max_rss_kib,
        "idle_rss_kib": idle_rss_kib,
        "connected_rss_kib": connected_rss_kib,
        "calls": args.calls,
        "big_calls": args.big_calls,
        "threads": args.threads,
        "duration_s": args.duration.as_secs_f64(),
        "phases": phases,
    });
    println!("{report}");
    Ok(())
}
