//! The rulers, read the way `examples/bench_support/mod.rs` reads them, so that this peer's
//! figures and ours differ only by what the clients do.
//!
//! CPU time is the scheduler's run time of every thread (`/proc/PID/task/*/schedstat`, first
//! field, nanoseconds). Threads that exit during a phase take their schedstat with them, so
//! `utime + stime` of `/proc/PID/stat` (clock ticks, dead threads included) is read too and
//! used when it says clearly more ([`Cpu::since`]).

use std::fs;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

/// Nanoseconds per clock tick: `CLK_TCK` is 100 for /proc on every Linux.
const NS_PER_TICK: u64 = 10_000_000;

/// CPU used so far by a set of processes (all their threads).
#[derive(Clone, Copy, Debug, Default)]
pub struct Cpu {
    /// Sum of the schedstat run times of the threads alive now.
    sched_ns: u64,
    /// `utime + stime` of `/proc/PID/stat`, in clock ticks.
    ticks: u64,
    /// Times the threads alive now were put on a CPU (the third schedstat field).
    runs: u64,
}

impl Cpu {
    /// `pids` as /proc names: numbers, or "self".
    pub fn read(pids: &[String]) -> Cpu {
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

    pub fn own() -> Cpu {
        Cpu::read(&["self".to_owned()])
    }

    /// CPU nanoseconds between `earlier` and now: the schedstat figure unless the tick
    /// count says clearly more (threads that exited meanwhile), then the tick figure.
    pub fn since(self, earlier: Cpu) -> u64 {
        let sched = self.sched_ns.saturating_sub(earlier.sched_ns);
        let ticks = self.ticks.saturating_sub(earlier.ticks) * NS_PER_TICK;
        if ticks > sched + sched / 10 + 2 * NS_PER_TICK {
            ticks
        } else {
            sched
        }
    }

    pub fn runs_since(self, earlier: Cpu) -> u64 {
        self.runs.saturating_sub(earlier.runs)
    }
}

fn stat_fields(path: &str) -> Option<Vec<String>> {
    let text = fs::read_to_string(path).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// This process (labelled `own_label`) plus every `--observe`d process.
pub struct Meter {
    labels: Vec<String>,
    pids: Vec<Vec<String>>,
}

pub struct Reading {
    cpu: Vec<Cpu>,
}

impl Meter {
    pub fn new(own_label: &str, observe: &[(String, Vec<u32>)]) -> Meter {
        let mut labels = vec![own_label.to_owned()];
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
        }
    }

    /// (label, CPU ns, runs) of each process between two readings; this process first.
    pub fn between(&self, start: &Reading, end: &Reading) -> Vec<(String, u64, u64)> {
        self.labels
            .iter()
            .zip(end.cpu.iter().zip(&start.cpu))
            .map(|(label, (e, s))| (label.clone(), e.since(*s), e.runs_since(*s)))
            .collect()
    }
}

/// `VmHWM` of this process, KiB.
pub fn max_rss_kib() -> u64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// `CLOCK_REALTIME` in nanoseconds since the Unix epoch.
pub fn realtime_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

pub fn round(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

/// Nearest-rank percentile of sorted nanoseconds, in microseconds (as bench_support's);
/// null when there are none.
pub fn percentile_us(sorted_ns: &[u64], p: f64) -> Value {
    if sorted_ns.is_empty() {
        return Value::Null;
    }
    let rank = ((p / 100.0) * sorted_ns.len() as f64).ceil() as usize;
    json!(round(
        sorted_ns[rank.clamp(1, sorted_ns.len()) - 1] as f64 / 1e3,
        1
    ))
}

/// `cpu_ns / count` in microseconds, null when `count` is 0.
pub fn us_per(cpu_ns: u64, count: u64) -> Value {
    if count == 0 {
        Value::Null
    } else {
        json!(round(cpu_ns as f64 / 1e3 / count as f64, 3))
    }
}
