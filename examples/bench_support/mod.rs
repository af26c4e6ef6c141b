//! What `bench.rs` and `bench_floor.rs` share: the command line's common flags, the CPU
//! meter, the pieces of the JSON report, and the events benchmark's publisher loop and
//! subscriber tally (`benches/peers/EVENTS.md`). Kept in one place so that the two programs
//! measure alike: a difference between their figures must come from the clients, not from
//! the rulers.
//!
//! This directory has no `main.rs`, so cargo does not take it for an example; each program
//! includes it with `#[path]`.
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
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail, ensure};
use izaber_wamp::protocol::{Serializer, Value};
use serde_json::json;

// --- the command line ----------------------------------------------------------------------

/// The arguments as `--flag value` or `--flag=value` pairs.
pub struct Flags {
    argv: std::iter::Skip<std::env::Args>,
    usage: &'static str,
}

impl Flags {
    pub fn new(usage: &'static str) -> Flags {
        Flags {
            argv: std::env::args().skip(1),
            usage,
        }
    }

    /// The next flag and its value if it came as `--flag=value`. `-h` and `--help` print the
    /// usage and exit here, so that no program has to list them.
    pub fn next_flag(&mut self) -> Option<(String, Option<String>)> {
        let arg = self.argv.next()?;
        if arg == "-h" || arg == "--help" {
            println!("{}", self.usage);
            std::process::exit(0);
        }
        Some(match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg, None),
        })
    }

    /// The value of `flag`: `inline` (from `--flag=value`) or the next argument.
    pub fn value(&mut self, flag: &str, inline: Option<String>) -> Result<String> {
        match inline {
            Some(v) => Ok(v),
            None => self
                .argv
                .next()
                .with_context(|| format!("{flag} needs a value\n{}", self.usage)),
        }
    }
}

/// Where to connect and how many sequential calls to measure: the flags both programs take.
pub struct Target {
    pub url: String,
    pub realm: String,
    pub user: String,
    pub password: String,
    pub serializer: Serializer,
    pub calls: usize,
    /// Other processes whose CPU is measured over each phase: (label, pids).
    pub observe: Vec<(String, Vec<u32>)>,
    /// How long a callee's handler waits before it answers (`--handler-delay-ms`), standing
    /// for a handler that waits on a device or a database; zero by default.
    pub handler_delay: Duration,
}

/// Gathers [`Target`]'s flags while a program parses its own.
#[derive(Default)]
pub struct TargetFlags {
    url: Option<String>,
    realm: Option<String>,
    user: Option<String>,
    password: Option<String>,
    serializer: Option<Serializer>,
    calls: Option<usize>,
    observe: Vec<(String, Vec<u32>)>,
    handler_delay: Option<Duration>,
}

impl TargetFlags {
    /// Takes `flag` when it is one of [`Target`]'s (true), reading its value from `value`.
    pub fn take(&mut self, flag: &str, value: &mut dyn FnMut() -> Result<String>) -> Result<bool> {
        match flag {
            "--url" => self.url = Some(value()?),
            "--realm" => self.realm = Some(value()?),
            "--user" => self.user = Some(value()?),
            "--password" => self.password = Some(value()?),
            "--serializer" => self.serializer = Some(serializer(value()?)?),
            "--calls" => self.calls = Some(number(value()?, flag)?),
            "--observe" => self.observe.push(observe(value()?)?),
            "--handler-delay-ms" => {
                self.handler_delay = Some(Duration::from_millis(number(value()?, flag)? as u64));
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    pub fn finish(self, usage: &str) -> Result<Target> {
        let missing = |what: &str| format!("{what} is required\n{usage}");
        let target = Target {
            url: self.url.with_context(|| missing("--url"))?,
            realm: self.realm.with_context(|| missing("--realm"))?,
            user: self.user.with_context(|| missing("--user"))?,
            password: self.password.with_context(|| missing("--password"))?,
            serializer: self.serializer.with_context(|| missing("--serializer"))?,
            calls: self.calls.unwrap_or(3000),
            observe: self.observe,
            handler_delay: self.handler_delay.unwrap_or_default(),
        };
        ensure!(target.calls > 0, "--calls must be at least 1");
        Ok(target)
    }
}

fn serializer(text: String) -> Result<Serializer> {
    text.parse()
        .with_context(|| format!("--serializer must be json, msgpack or cbor, not {text:?}"))
}

pub fn number(text: String, flag: &str) -> Result<usize> {
    text.parse()
        .with_context(|| format!("{flag}: not a number: {text:?}"))
}

pub fn seconds(text: String, flag: &str) -> Result<Duration> {
    let secs: f64 = text
        .parse()
        .with_context(|| format!("{flag}: not a number: {text:?}"))?;
    ensure!(
        secs.is_finite() && secs >= 0.0,
        "{flag} must be seconds >= 0"
    );
    Ok(Duration::from_secs_f64(secs))
}

/// `--observe LABEL:PID[+PID...]`: the label and the pids.
fn observe(text: String) -> Result<(String, Vec<u32>)> {
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
    Ok((label.to_owned(), pids))
}

// --- measuring -----------------------------------------------------------------------------

/// CPU used so far by a set of processes (all their threads).
#[derive(Clone, Copy, Debug, Default)]
pub struct Cpu {
    /// Sum of `/proc/PID/task/*/schedstat` run times of the threads alive now.
    sched_ns: u64,
    /// `utime + stime` of `/proc/PID/stat` (every thread, dead ones too), in clock ticks.
    ticks: u64,
    /// How many times the threads alive now were put on a CPU (the third schedstat field):
    /// nearly all of them wake-ups from sleep, so a process that never runs dry scores low.
    runs: u64,
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
                    let stat =
                        fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
                    let mut fields = stat.split_whitespace().map(|f| f.parse::<u64>().ok());
                    cpu.sched_ns += fields.next().flatten().unwrap_or(0);
                    cpu.runs += fields.nth(1).flatten().unwrap_or(0);
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

/// The label of this process's own CPU in a [`Meter`]'s figures (`caller` for history: the
/// calls benchmark's reports have always named it so).
pub const SELF: &str = "caller";

/// The caller itself plus every `--observe`d process.
pub struct Meter {
    labels: Vec<String>,
    pids: Vec<Vec<String>>,
}

/// One reading of a [`Meter`].
pub struct Reading {
    pub at: Instant,
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
pub struct Phase {
    pub name: &'static str,
    pub wall: Duration,
    pub calls: u64,
    cpu_ns: Vec<(String, u64)>,
    /// Times each process's threads were put on a CPU during the phase (see [`Cpu::runs`]).
    runs: Vec<(String, u64)>,
    /// Machine-wide busy, steal and idle time over the phase, in clock ticks.
    machine: MachineCpu,
}

impl Meter {
    pub fn new(observe: &[(String, Vec<u32>)]) -> Meter {
        let mut labels = vec![SELF.to_owned()];
        let mut pids = vec![vec!["self".to_owned()]];
        for (label, list) in observe {
            labels.push(label.clone());
            pids.push(list.iter().map(u32::to_string).collect());
        }
        Meter { labels, pids }
    }

    pub fn read(&self) -> Reading {
        Reading {
            cpu: self.pids.iter().map(|p| Cpu::read(p)).collect(),
            machine: MachineCpu::read(),
            at: Instant::now(),
        }
    }

    pub fn phase(&self, name: &'static str, start: &Reading, calls: u64) -> Phase {
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
            runs: self
                .labels
                .iter()
                .zip(end.cpu.iter().zip(&start.cpu))
                .map(|(label, (e, s))| (label.clone(), e.runs.saturating_sub(s.runs)))
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
    /// CPU nanoseconds of the process labelled `label` over the phase (this process's label
    /// is [`SELF`]).
    pub fn cpu_ns(&self, label: &str) -> u64 {
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
            "runs": self.runs.iter().map(|(label, n)| (label.clone(), json!(n))).collect::<serde_json::Map<_, _>>(),
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

// --- the report ----------------------------------------------------------------------------

pub fn round(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

/// Nearest-rank percentile of sorted nanoseconds, in microseconds.
pub fn percentile_us(sorted_ns: &[u64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted_ns.len() as f64).ceil() as usize;
    sorted_ns[rank.clamp(1, sorted_ns.len()) - 1] as f64 / 1e3
}

pub fn transport_name(url: &str) -> &'static str {
    match url.split_once("://").map(|(scheme, _)| scheme) {
        Some("ws") => "websocket",
        Some("wss") => "websocket-tls",
        Some("tcpip") => "rawsocket",
        Some("tcpips") => "rawsocket-tls",
        Some("unix") => "rawsocket-unix",
        _ => "unknown",
    }
}

/// Adds the figures of the sequential phase to `report` (a JSON object): latency percentiles
/// from the sorted latencies (ns), calls per second and the caller's CPU per call.
pub fn add_sequential_figures(report: &mut serde_json::Value, sorted_ns: &[u64], seq: &Phase) {
    let p = |q: f64| json!(round(percentile_us(sorted_ns, q), 1));
    let calls_per_s = round(seq.calls as f64 / seq.wall.as_secs_f64(), 1);
    let cpu_us_per_call = round(seq.cpu_ns(SELF) as f64 / 1e3 / seq.calls.max(1) as f64, 2);
    report
        .as_object_mut()
        .expect("the report is a JSON object")
        .extend([
            ("p50_us".to_owned(), p(50.0)),
            ("p90_us".to_owned(), p(90.0)),
            ("p99_us".to_owned(), p(99.0)),
            ("max_us".to_owned(), p(100.0)),
            ("seq_calls_per_s".to_owned(), json!(calls_per_s)),
            ("cpu_us_per_call".to_owned(), json!(cpu_us_per_call)),
        ]);
}

/// The report's `phases`: each phase's wall time, calls and CPU per measured process, by name.
pub fn phases_json<'a>(phases: impl IntoIterator<Item = &'a Phase>) -> serde_json::Value {
    let map: serde_json::Map<String, serde_json::Value> = phases
        .into_iter()
        .map(|phase| (phase.name.to_owned(), phase.json()))
        .collect();
    serde_json::Value::Object(map)
}

// --- process and clock ---------------------------------------------------------------------

/// A `Vm...:` line of /proc/self/status (`VmRSS`, `VmHWM`), in KiB; 0 where there is none.
pub fn status_kib(key: &str) -> u64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// The peak resident set so far (`VmHWM`), in KiB. The kernel updates `VmHWM` lazily, so it
/// is never reported below the current `VmRSS`.
pub fn peak_rss_kib() -> u64 {
    status_kib("VmHWM").max(status_kib("VmRSS"))
}

/// Wall-clock time (`CLOCK_REALTIME`: `SystemTime` on Linux), nanoseconds since the Unix
/// epoch. Publisher and subscriber run on one host, so one's reading minus the other's is a
/// latency.
pub fn realtime_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

// --- the histogram -------------------------------------------------------------------------

/// Nanosecond durations counted in log-linear buckets: exact below 64 ns, then 32 buckets per
/// power of two, so that a bucket is at most 1/32 of its values wide and its middle, which is
/// what percentiles report, is within 1/64 of any value in it. A flood records millions of
/// events: a list of them would grow the very peak RSS the benchmark reports, and cost a
/// reallocation now and then in the middle of the measured loop. The maximum is kept exactly.
/// `swampyer_bench.py` buckets the same way.
pub struct Histogram {
    counts: Vec<u64>,
    count: u64,
    max: u64,
}

/// 64 exact buckets, then 32 for each of the 58 powers of two from 2^6 to 2^63.
const HISTOGRAM_BUCKETS: usize = 64 + 58 * 32;

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; HISTOGRAM_BUCKETS],
            count: 0,
            max: 0,
        }
    }
}

impl Histogram {
    fn bucket(ns: u64) -> usize {
        if ns < 64 {
            return ns as usize;
        }
        // 7 significant bits or more: keep the top 6 (32..=63) and the shift
        let shift = 64 - ns.leading_zeros() - 6;
        64 + (shift as usize - 1) * 32 + ((ns >> shift) as usize - 32)
    }

    /// The middle of bucket `index`.
    fn middle(index: usize) -> u64 {
        if index < 64 {
            return index as u64;
        }
        let shift = (index - 64) / 32 + 1;
        let top = ((index - 64) % 32 + 32) as u64;
        (top << shift) + (1 << (shift - 1))
    }

    pub fn record(&mut self, ns: u64) {
        self.counts[Self::bucket(ns)] += 1;
        self.count += 1;
        self.max = self.max.max(ns);
    }

    /// Nearest-rank percentile `p` (0..=100), in microseconds; `None` when nothing was
    /// recorded. Never more than the maximum recorded.
    pub fn percentile_us(&self, p: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((p / 100.0) * self.count as f64).ceil() as u64;
        let rank = rank.clamp(1, self.count);
        let mut seen = 0;
        for (index, n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(Self::middle(index).min(self.max) as f64 / 1e3);
            }
        }
        Some(self.max as f64 / 1e3)
    }

    /// The longest duration recorded, in microseconds; `None` when nothing was.
    pub fn max_us(&self) -> Option<f64> {
        (self.count > 0).then(|| self.max as f64 / 1e3)
    }
}

/// A figure rounded for the JSON line, or `null`.
fn figure(x: Option<f64>, digits: i32) -> serde_json::Value {
    x.filter(|x| x.is_finite())
        .map_or(serde_json::Value::Null, |x| json!(round(x, digits)))
}

// --- the events benchmark (benches/peers/EVENTS.md) -----------------------------------------

/// The topic every publisher and subscriber of the events benchmark uses.
pub const EVENTS_TOPIC: &str = "com.izaber.wamp.bench.events";
/// The 64-byte string every event carries.
pub const EVENTS_PAD: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// How a phase publishes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum EventKind {
    /// Unacknowledged, one after another, as fast as `publish()` returns.
    Flood,
    /// Acknowledged, one after another, each waiting for PUBLISHED.
    Acked,
    /// Unacknowledged, at this many events per second.
    Paced(f64),
}

/// One `--phase NAME:KIND[:RATE]`.
#[derive(Clone, Debug)]
pub struct EventPhase {
    pub name: String,
    pub kind: EventKind,
}

impl EventPhase {
    pub fn parse(text: &str) -> Result<EventPhase> {
        let mut parts = text.splitn(3, ':');
        let name = parts.next().unwrap_or("");
        let kind = parts.next();
        let rate = parts.next();
        ensure!(
            !name.is_empty(),
            "--phase wants NAME:KIND[:RATE], not {text:?}"
        );
        let kind = match (kind, rate) {
            (Some("flood"), None) => EventKind::Flood,
            (Some("acked"), None) => EventKind::Acked,
            (Some("paced"), Some(rate)) => {
                let rate: f64 = rate
                    .parse()
                    .with_context(|| format!("--phase {text}: not a rate: {rate:?}"))?;
                ensure!(
                    rate.is_finite() && rate > 0.0,
                    "--phase {text}: the rate must be > 0"
                );
                EventKind::Paced(rate)
            }
            _ => bail!("--phase wants NAME:flood, NAME:acked or NAME:paced:RATE, not {text:?}"),
        };
        Ok(EventPhase {
            name: name.to_owned(),
            kind,
        })
    }
}

/// An acknowledged marker publication.
#[derive(Clone, Copy, Debug)]
pub enum Marker<'a> {
    /// `["start", NAME]`
    Start(&'a str),
    /// `["end", NAME, SENT]`
    End(&'a str, u64),
    /// `["quit"]`
    Quit,
}

/// What a program does to publish; [`publish_phases`] does the rest.
pub trait EventPublisher {
    /// Publishes `marker` acknowledged and waits for the router's PUBLISHED.
    fn marker(&mut self, marker: Marker<'_>) -> Result<()>;
    /// Publishes `["event", phase, seq, sent_ns, EVENTS_PAD]`, acknowledged or not; returns
    /// when the library's publish call does.
    fn event(&mut self, phase: &str, seq: u64, sent_ns: u64, acknowledged: bool) -> Result<()>;
}

/// Runs every phase as EVENTS.md says, then the quit marker with `quit`; returns the
/// publisher JSON line's `phases`.
pub fn publish_phases(
    publisher: &mut impl EventPublisher,
    meter: &Meter,
    phases: &[EventPhase],
    duration: Duration,
    quit: bool,
) -> Result<serde_json::Value> {
    let mut out = serde_json::Map::new();
    for phase in phases {
        let name = phase.name.as_str();
        publisher
            .marker(Marker::Start(name))
            .with_context(|| format!("phase {name}: the start marker"))?;
        let mut times = Histogram::default();
        let acknowledged = phase.kind == EventKind::Acked;
        let mut publish = |seq: u64| -> Result<(Instant, Instant)> {
            let before = Instant::now();
            let sent_ns = realtime_ns();
            publisher
                .event(name, seq, sent_ns, acknowledged)
                .with_context(|| format!("phase {name}: event {seq}"))?;
            let after = Instant::now();
            times.record((after - before).as_nanos() as u64);
            Ok((before, after))
        };
        let start = meter.read();
        let t0 = Instant::now();
        let mut sent = 0u64;
        let mut first = None;
        let mut last = t0;
        match phase.kind {
            EventKind::Flood | EventKind::Acked => {
                while last - t0 < duration {
                    let (before, after) = publish(sent)?;
                    first.get_or_insert(before);
                    last = after;
                    sent += 1;
                }
            }
            EventKind::Paced(rate) => {
                // event i is due at t0 + i / rate; those due before t0 + duration go out
                let total = (duration.as_secs_f64() * rate).ceil() as u64;
                while sent < total {
                    let due = t0 + Duration::from_secs_f64(sent as f64 / rate);
                    let now = Instant::now();
                    if now < due {
                        std::thread::sleep(due - now);
                        continue;
                    }
                    let (before, after) = publish(sent)?;
                    first.get_or_insert(before);
                    last = after;
                    sent += 1;
                }
            }
        }
        let measured = meter.phase("events", &start, sent);
        publisher
            .marker(Marker::End(name, sent))
            .with_context(|| format!("phase {name}: the end marker"))?;
        let seconds = first.map_or(0.0, |first| (last - first).as_secs_f64());
        let per_event = |ns: u64| (sent > 0).then(|| ns as f64 / 1e3 / sent as f64);
        let observed: serde_json::Map<String, serde_json::Value> = measured
            .cpu_ns
            .iter()
            .filter(|(label, _)| label != SELF)
            .map(|(label, ns)| {
                (
                    label.clone(),
                    json!({ "cpu_us_per_event": figure(per_event(*ns), 3) }),
                )
            })
            .collect();
        let (kind, rate) = match phase.kind {
            EventKind::Flood => ("flood", None),
            EventKind::Acked => ("acked", None),
            EventKind::Paced(rate) => ("paced", Some(rate)),
        };
        out.insert(
            name.to_owned(),
            json!({
                "kind": kind,
                "rate": rate,
                "sent": sent,
                "seconds": round(seconds, 6),
                "events_per_s": figure((seconds > 0.0).then(|| sent as f64 / seconds), 1),
                "publish_p50_us": figure(times.percentile_us(50.0), 2),
                "publish_p99_us": figure(times.percentile_us(99.0), 2),
                "publish_max_ms": figure(times.max_us().map(|us| us / 1e3), 3),
                "cpu_us_per_event": figure(per_event(measured.cpu_ns(SELF)), 3),
                "observed": observed,
                "max_rss_kib": peak_rss_kib(),
            }),
        );
        eprintln!(
            "{name}: {sent} events in {seconds:.3} s, {}",
            measured
                .cpu_ns
                .iter()
                .map(|(label, ns)| format!("{label} {:.1} ms CPU", *ns as f64 / 1e6))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if quit {
        publisher.marker(Marker::Quit).context("the quit marker")?;
    }
    Ok(serde_json::Value::Object(out))
}

/// What the subscriber should do after a message.
pub enum Control {
    Continue,
    /// A phase ended: its JSON line, to add to and print.
    Phase(serde_json::Map<String, serde_json::Value>),
    /// The quit marker came: exit.
    Quit,
}

/// The subscriber's figures (EVENTS.md, *Subscriber*): everything but receiving.
pub struct SubscriberTally {
    meter: Meter,
    head: serde_json::Map<String, serde_json::Value>,
    phase: Option<PhaseTally>,
    /// Events of no current phase (between an end and the next start): counted as stray in
    /// the next phase.
    stray: u64,
}

struct PhaseTally {
    name: String,
    start: Reading,
    received: u64,
    stray: u64,
    first_recv_ns: u64,
    last_recv_ns: u64,
    latency: Histogram,
}

impl SubscriberTally {
    pub fn new(impl_name: &str, target: &Target) -> SubscriberTally {
        let mut head = serde_json::Map::new();
        head.insert("impl".into(), json!(impl_name));
        head.insert("role".into(), json!("subscriber"));
        head.insert("serializer".into(), json!(target.serializer.name()));
        head.insert("transport".into(), json!(transport_name(&target.url)));
        SubscriberTally {
            meter: Meter::new(&[]),
            head,
            phase: None,
            stray: 0,
        }
    }

    /// Takes one publication's positional arguments.
    pub fn handle(&mut self, args: &[Value]) -> Result<Control> {
        match args.first().and_then(Value::as_str) {
            Some("event") => {
                let now = realtime_ns();
                let name = args.get(1).and_then(Value::as_str);
                let sent_ns = args.get(3).and_then(Value::as_u64);
                let (Some(name), Some(sent_ns)) = (name, sent_ns) else {
                    bail!("an event without a phase name or SENT_NS: {args:?}");
                };
                match &mut self.phase {
                    Some(phase) if phase.name == name => {
                        if phase.received == 0 {
                            phase.first_recv_ns = now;
                        }
                        phase.last_recv_ns = now;
                        phase.received += 1;
                        phase.latency.record(now.saturating_sub(sent_ns));
                    }
                    Some(phase) => phase.stray += 1,
                    None => self.stray += 1,
                }
                Ok(Control::Continue)
            }
            Some("start") => {
                let name = args.get(1).and_then(Value::as_str);
                let Some(name) = name else {
                    bail!("a start marker without a phase name: {args:?}");
                };
                if let Some(old) = &self.phase {
                    eprintln!(
                        "phase {} started before phase {} ended: its figures are lost",
                        name, old.name
                    );
                }
                self.phase = Some(PhaseTally {
                    name: name.to_owned(),
                    start: self.meter.read(),
                    received: 0,
                    stray: std::mem::take(&mut self.stray),
                    first_recv_ns: 0,
                    last_recv_ns: 0,
                    latency: Histogram::default(),
                });
                Ok(Control::Continue)
            }
            Some("end") => {
                let name = args.get(1).and_then(Value::as_str);
                let sent = args.get(2).and_then(Value::as_u64);
                let (Some(name), Some(sent)) = (name, sent) else {
                    bail!("an end marker without a phase name or SENT: {args:?}");
                };
                let Some(phase) = self.phase.take_if(|p| p.name == name) else {
                    eprintln!("the end of phase {name}, which did not start here");
                    return Ok(Control::Continue);
                };
                let measured = self.meter.phase("events", &phase.start, phase.received);
                Ok(Control::Phase(self.line(&phase, sent, &measured)))
            }
            Some("quit") => Ok(Control::Quit),
            _ => bail!("a publication that is no event or marker: {args:?}"),
        }
    }

    fn line(
        &self,
        phase: &PhaseTally,
        sent: u64,
        measured: &Phase,
    ) -> serde_json::Map<String, serde_json::Value> {
        let received = phase.received;
        let span_ns = phase.last_recv_ns.saturating_sub(phase.first_recv_ns);
        let events_per_s =
            (received >= 2 && span_ns > 0).then(|| (received - 1) as f64 * 1e9 / span_ns as f64);
        let latency = |p: f64| figure(phase.latency.percentile_us(p), 1);
        let cpu = (received > 0).then(|| measured.cpu_ns(SELF) as f64 / 1e3 / received as f64);
        let mut line = self.head.clone();
        line.extend([
            ("phase".to_owned(), json!(phase.name)),
            ("sent".to_owned(), json!(sent)),
            ("received".to_owned(), json!(received)),
            ("stray".to_owned(), json!(phase.stray)),
            ("first_recv_ns".to_owned(), json!(phase.first_recv_ns)),
            ("last_recv_ns".to_owned(), json!(phase.last_recv_ns)),
            ("events_per_s".to_owned(), figure(events_per_s, 1)),
            ("lat_p50_us".to_owned(), latency(50.0)),
            ("lat_p90_us".to_owned(), latency(90.0)),
            ("lat_p99_us".to_owned(), latency(99.0)),
            ("lat_max_us".to_owned(), figure(phase.latency.max_us(), 1)),
            ("cpu_us_per_event".to_owned(), figure(cpu, 3)),
            ("max_rss_kib".to_owned(), json!(peak_rss_kib())),
        ]);
        line
    }
}
