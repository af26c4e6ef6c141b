//! What `bench.rs` and `bench_floor.rs` share: the command line's common flags, the CPU
//! meter and the pieces of the JSON report. Kept in one place so that the two programs measure
//! alike: a difference between their figures must come from the callers, not from the rulers.
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
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use izaber_wamp::protocol::Serializer;
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
        let mut labels = vec!["caller".to_owned()];
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
fn percentile_us(sorted_ns: &[u64], p: f64) -> f64 {
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
    let cpu_us_per_call = round(
        seq.cpu_ns("caller") as f64 / 1e3 / seq.calls.max(1) as f64,
        2,
    );
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
