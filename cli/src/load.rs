//! Load mode of `call` and `publish`: `--repeat N` requests, `--concurrency C` of them at
//! once over `--parallel S` sessions, at most `--rate R` per second, then a summary instead
//! of the results: requests per second, the latency percentiles and the errors by URI. As
//! one JSON object with `--json-summary`, so that it serves as a benchmark against any
//! router.
//!
//! How it measures:
//! - Latency is the time one request took, from sending it to its answer (for a publication
//!   without `--ack`, until it is written to the connection), of the successful requests
//!   only. It does not include the wait for a `--rate` slot: a router that falls behind the
//!   rate shows as fewer requests per second, not as latency.
//! - Percentiles are nearest-rank: the p-th percentile is the smallest latency that at least
//!   p % of the successful requests did not exceed. Latencies are kept in microseconds in a
//!   histogram of fixed size (about 180 KiB, whatever N is): exact below 2.048 ms, above that
//!   the top of a bucket less than 0.1 % wide (never above the exact maximum). Latencies over
//!   71 minutes (`u32::MAX` µs) count as 71 minutes in the percentiles.
//! - `--rate R` is one schedule for all callers: request k (from 0) starts no earlier than
//!   start + k/R. Callers sleep until their slot; nothing spins.
//! - Requests per second counts the successful requests over the wall time of the whole run.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use crossbeam_channel::{Receiver, select};
use izaber_wamp::{Client, Error};
use serde_json::{Value, json};

use crate::failure::Failure;
use crate::output;

/// Flattened into the `call` and `publish` commands' arguments.
#[derive(Args, Debug, Clone)]
pub struct LoadArgs {
    /// Makes N calls (or publications) in all and prints a summary instead of results:
    /// requests per second, latency percentiles, errors by URI.
    #[arg(long, value_name = "N")]
    pub repeat: Option<u64>,
    /// How many at once (callers in all, spread over the sessions). Default 1.
    #[arg(long, value_name = "C", default_value_t = 1, requires = "repeat")]
    pub concurrency: usize,
    /// How many sessions (connections) to spread them over. Default 1.
    #[arg(long, value_name = "S", default_value_t = 1, requires = "repeat")]
    pub parallel: usize,
    /// At most R per second in all, e.g. 500 or 500/s.
    #[arg(long, value_name = "R/s", requires = "repeat")]
    pub rate: Option<String>,
    /// Prints the summary as one JSON object.
    #[arg(long, requires = "repeat")]
    pub json_summary: bool,
}

/// What clap gives without any of the flags: concurrency and parallel 1.
impl Default for LoadArgs {
    fn default() -> LoadArgs {
        LoadArgs {
            repeat: None,
            concurrency: 1,
            parallel: 1,
            rate: None,
            json_summary: false,
        }
    }
}

impl LoadArgs {
    /// True with `--repeat`: the command runs the load instead of one request.
    pub fn is_load(&self) -> bool {
        self.repeat.is_some()
    }

    /// The usage errors, found before connecting.
    pub fn check(&self) -> Result<(), Failure> {
        let Some(repeat) = self.repeat else {
            if self.concurrency != 1
                || self.parallel != 1
                || self.rate.is_some()
                || self.json_summary
            {
                return Err(Failure::usage(
                    "--concurrency, --parallel, --rate and --json-summary go with --repeat N",
                ));
            }
            return Ok(());
        };
        if repeat == 0 {
            return Err(Failure::usage("--repeat must be at least 1"));
        }
        if self.concurrency == 0 {
            return Err(Failure::usage("--concurrency must be at least 1"));
        }
        if self.parallel == 0 {
            return Err(Failure::usage("--parallel must be at least 1"));
        }
        if self.parallel > self.concurrency {
            return Err(Failure::usage(format!(
                "--parallel {0} needs a caller per session: --concurrency {0} or more",
                self.parallel
            )));
        }
        self.rate_per_second()?;
        Ok(())
    }

    /// `--rate` in requests per second, if given.
    pub fn rate_per_second(&self) -> Result<Option<f64>, Failure> {
        self.rate.as_deref().map(parse_rate).transpose()
    }
}

/// `500` or `500/s` (a decimal number above zero).
fn parse_rate(text: &str) -> Result<f64, Failure> {
    let number = text.trim();
    let number = number.strip_suffix("/s").unwrap_or(number).trim_end();
    match number.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(Failure::usage(format!(
            "--rate wants a number per second above zero, such as 500 or 500/s, not {text:?}"
        ))),
    }
}

/// The sessions of a load: the command's own session (never closed here) and
/// `parallel - 1` more opened for the load, which are closed when this is dropped.
pub struct Sessions {
    clients: Vec<Client>,
}

impl Sessions {
    /// `first` and `parallel - 1` sessions more from `connect`, opened at once. When one
    /// cannot connect, the others are closed and its failure returned.
    pub fn open(
        first: &Client,
        parallel: usize,
        connect: &(dyn Fn() -> Result<Client, Failure> + Sync),
    ) -> Result<Sessions, Failure> {
        let opened: Vec<Result<Client, Failure>> = std::thread::scope(|scope| {
            let connecting: Vec<_> = (1..parallel)
                .map(|_| scope.spawn(connect))
                .collect::<Vec<_>>();
            connecting
                .into_iter()
                .map(|thread| {
                    thread
                        .join()
                        .unwrap_or_else(|_| Err(Failure::usage("connecting a session panicked")))
                })
                .collect()
        });
        let mut sessions = Sessions {
            clients: vec![first.clone()],
        };
        let mut failure = None;
        for outcome in opened {
            match outcome {
                Ok(client) => sessions.clients.push(client),
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        match failure {
            None => Ok(sessions),
            // Dropping `sessions` closes those that did connect.
            Some(failure) => Err(failure),
        }
    }

    /// All of them, the command's own first.
    pub fn clients(&self) -> &[Client] {
        &self.clients
    }
}

impl Drop for Sessions {
    fn drop(&mut self) {
        let opened = &self.clients[1..];
        std::thread::scope(|scope| {
            for client in opened {
                scope.spawn(|| client.close());
            }
        });
    }
}

/// Runs the load: `sessions` are shared by `concurrency` callers (caller i uses
/// `sessions[i % len]`); `request` makes one call or publication. Prints the summary on
/// stdout. Fails with [`Failure::Load`] when any request failed.
///
/// When `stop` receives (Ctrl-C; pass `&crossbeam_channel::never()` for none), no request
/// is started after that, those under way finish, the summary of what was done is printed
/// and the outcome is [`Failure::Interrupted`] (unless some failed: then [`Failure::Load`]).
pub fn run(
    args: &LoadArgs,
    what: &str,
    sessions: &[Client],
    request: &(dyn Fn(&Client) -> Result<(), Error> + Sync),
    stop: &Receiver<()>,
) -> Result<(), Failure> {
    let summary = measure(args, what, sessions, request, stop)?;
    if args.json_summary {
        output::print(&summary.to_json());
    } else {
        output::print_line(summary.to_text().trim_end());
    }
    summary.outcome()
}

/// Runs the requests and sums them up. Generic over the session so that the tests can run
/// it without a router.
fn measure<S: Sync>(
    args: &LoadArgs,
    what: &str,
    sessions: &[S],
    request: &(dyn Fn(&S) -> Result<(), Error> + Sync),
    stop: &Receiver<()>,
) -> Result<Summary, Failure> {
    args.check()?;
    let repeat = args.repeat.unwrap_or(1);
    if sessions.is_empty() {
        return Err(Failure::usage("a load needs a session"));
    }
    let plan = Plan {
        repeat,
        rate: args.rate_per_second()?,
        next: AtomicU64::new(0),
        stopped: AtomicBool::new(false),
        start: Instant::now(),
    };
    let tally = Tally::new();
    // More callers than requests would have nothing to do.
    let callers = u64::try_from(args.concurrency).map_or(repeat, |c| c.min(repeat)) as usize;
    log::info!(
        "{what}: {repeat} requests, {callers} at once over {} session(s)",
        sessions.len()
    );
    let spawned = std::thread::scope(|scope| {
        let (finished, done) = crossbeam_channel::bounded::<()>(0);
        let plan = &plan;
        scope.spawn(move || {
            select! {
                recv(stop) -> pressed => {
                    if pressed.is_ok() {
                        plan.stopped.store(true, Ordering::SeqCst);
                    } else {
                        let _ = done.recv();
                    }
                }
                recv(done) -> _ => {}
            }
        });
        let mut spawned = Ok(());
        let mut threads = Vec::with_capacity(callers);
        for i in 0..callers {
            let session = &sessions[i % sessions.len()];
            let tally = &tally;
            let started = std::thread::Builder::new()
                .name(format!("load-{i}"))
                .spawn_scoped(scope, move || caller(plan, session, request, tally));
            match started {
                Ok(thread) => threads.push(thread),
                Err(e) => {
                    plan.stopped.store(true, Ordering::SeqCst);
                    spawned = Err(Failure::usage(format!(
                        "cannot start {callers} callers (--concurrency): {e}"
                    )));
                    break;
                }
            }
        }
        for thread in threads {
            if let Err(panic) = thread.join() {
                std::panic::resume_unwind(panic);
            }
        }
        drop(finished);
        spawned
    });
    spawned?;
    let wall = plan.start.elapsed();
    Ok(tally.summary(Settings {
        what: what.to_owned(),
        repeat,
        concurrency: args.concurrency,
        parallel: sessions.len(),
        rate: plan.rate,
        stopped: plan.stopped.load(Ordering::SeqCst),
        wall,
    }))
}

/// What the callers share: the next request's number and the schedule.
struct Plan {
    repeat: u64,
    rate: Option<f64>,
    next: AtomicU64,
    stopped: AtomicBool,
    start: Instant,
}

/// One caller: takes the next request number until there is none left.
fn caller<S>(
    plan: &Plan,
    session: &S,
    request: &(dyn Fn(&S) -> Result<(), Error> + Sync),
    tally: &Tally,
) {
    loop {
        if plan.stopped.load(Ordering::Relaxed) {
            return;
        }
        let k = plan.next.fetch_add(1, Ordering::Relaxed);
        if k >= plan.repeat {
            return;
        }
        if let Some(rate) = plan.rate
            && !wait_for_slot(plan, k, rate)
        {
            return;
        }
        let sent = Instant::now();
        match request(session) {
            Ok(()) => tally.succeeded(sent.elapsed()),
            Err(error) => tally.failed(&error),
        }
    }
}

/// Sleeps until request `k`'s slot, start + k/rate. False when stopped meanwhile.
fn wait_for_slot(plan: &Plan, k: u64, rate: f64) -> bool {
    // Sleeps of at most this long, so that a stop is seen while waiting for a far slot.
    const NAP: f64 = 0.1;
    let due = k as f64 / rate;
    loop {
        if plan.stopped.load(Ordering::Relaxed) {
            return false;
        }
        let now = plan.start.elapsed().as_secs_f64();
        if now >= due {
            return true;
        }
        std::thread::sleep(Duration::from_secs_f64((due - now).min(NAP)));
    }
}

/// The error key of the summary: the WAMP error URI, or a short kind for the others.
fn error_kind(error: &Error) -> String {
    if let Some(uri) = error.wamp_uri() {
        return uri.to_owned();
    }
    let kind = match error {
        Error::Timeout { .. } => "timeout",
        error if error.is_connection_error() => "connection lost",
        Error::Closed => "client closed",
        Error::GaveUp { .. } => "gave up reconnecting",
        Error::Aborted { .. } => "session aborted",
        Error::Protocol(_) => "protocol error",
        Error::Authentication(_) => "authentication failed",
        Error::PayloadTooLarge { .. } => "payload too large",
        Error::Value(_) => "value conversion",
        Error::InvalidArgument(_) => "invalid argument",
        Error::InvalidUrl { .. } | Error::Config(_) => "configuration",
        _ => "other",
    };
    kind.to_owned()
}

/// The errors' counts and the first message of each kind.
#[derive(Debug, Clone, PartialEq)]
struct ErrorCount {
    count: u64,
    example: String,
}

/// What the callers record, shared.
struct Tally {
    latencies: Histogram,
    failed: AtomicU64,
    errors: Mutex<BTreeMap<String, ErrorCount>>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            latencies: Histogram::new(),
            failed: AtomicU64::new(0),
            errors: Mutex::new(BTreeMap::new()),
        }
    }

    fn succeeded(&self, latency: Duration) {
        self.latencies
            .record(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
    }

    fn failed(&self, error: &Error) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        let kind = error_kind(error);
        let mut errors = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        let entry = errors.entry(kind).or_insert_with_key(|kind| {
            // The message without the kind it starts with ("wamp.error.x: ...").
            let text = format!("{error:#}");
            let text = text
                .strip_prefix(kind.as_str())
                .and_then(|rest| rest.strip_prefix(": "))
                .unwrap_or(&text);
            ErrorCount {
                count: 0,
                example: shorten(text, 200),
            }
        });
        entry.count += 1;
    }

    fn summary(self, settings: Settings) -> Summary {
        let ok = self.latencies.count();
        Summary {
            ok,
            failed: self.failed.into_inner(),
            latency: self.latencies.latency(),
            errors: self.errors.into_inner().unwrap_or_else(|e| e.into_inner()),
            settings,
        }
    }
}

fn shorten(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

/// How the load was run.
#[derive(Debug, Clone, PartialEq)]
struct Settings {
    what: String,
    repeat: u64,
    concurrency: usize,
    parallel: usize,
    rate: Option<f64>,
    /// Stopped before all `repeat` requests were made.
    stopped: bool,
    wall: Duration,
}

/// Latencies of the successful requests, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Latency {
    min: u64,
    p50: u64,
    p90: u64,
    p99: u64,
    max: u64,
    mean: f64,
}

#[derive(Debug, Clone, PartialEq)]
struct Summary {
    ok: u64,
    failed: u64,
    /// None when no request succeeded.
    latency: Option<Latency>,
    errors: BTreeMap<String, ErrorCount>,
    settings: Settings,
}

impl Summary {
    fn requests(&self) -> u64 {
        self.ok + self.failed
    }

    /// Successful requests per second of wall time.
    fn ok_per_second(&self) -> f64 {
        let seconds = self.settings.wall.as_secs_f64().max(1e-6);
        self.ok as f64 / seconds
    }

    fn to_json(&self) -> Value {
        let ms = |micros: u64| micros as f64 / 1000.0;
        let latency = self.latency.map(|l| {
            json!({
                "min": ms(l.min),
                "p50": ms(l.p50),
                "p90": ms(l.p90),
                "p99": ms(l.p99),
                "max": ms(l.max),
                "mean": round(l.mean / 1000.0, 3),
            })
        });
        let counts: serde_json::Map<String, Value> = self
            .errors
            .iter()
            .map(|(kind, e)| (kind.clone(), json!(e.count)))
            .collect();
        let examples: serde_json::Map<String, Value> = self
            .errors
            .iter()
            .map(|(kind, e)| (kind.clone(), json!(e.example)))
            .collect();
        let s = &self.settings;
        json!({
            "what": s.what,
            "requests": self.requests(),
            "ok": self.ok,
            "failed": self.failed,
            "interrupted": s.stopped,
            "wall_s": round(s.wall.as_secs_f64(), 6),
            "ok_per_s": round(self.ok_per_second(), 3),
            "ok_latency_ms": latency,
            "errors": counts,
            "error_examples": examples,
            "settings": {
                "repeat": s.repeat,
                "concurrency": s.concurrency,
                "parallel": s.parallel,
                "rate_per_s": s.rate,
            },
        })
    }

    fn to_text(&self) -> String {
        use std::fmt::Write;
        let s = &self.settings;
        let rate = s.rate.map_or("unlimited".to_owned(), |r| format!("{r}/s"));
        let mut text = String::new();
        let mut line = |label: &str, value: String| {
            let _ = writeln!(text, "  {label:<12}{value}");
        };
        line(
            "settings",
            format!(
                "repeat {}, concurrency {}, parallel {}, rate {rate}",
                s.repeat, s.concurrency, s.parallel
            ),
        );
        if s.stopped {
            line(
                "interrupted",
                format!("after {} of {} requests", self.requests(), s.repeat),
            );
        }
        line("requests", self.requests().to_string());
        line("ok", self.ok.to_string());
        line("failed", self.failed.to_string());
        line("wall", format!("{:.3} s", s.wall.as_secs_f64()));
        line("ok/s", format!("{:.1}", self.ok_per_second()));
        let mut text = format!("{}\n{text}", s.what);
        match &self.latency {
            Some(l) => {
                text.push_str("  latency of the ok requests, ms\n");
                for (label, micros) in [
                    ("min", l.min as f64),
                    ("p50", l.p50 as f64),
                    ("p90", l.p90 as f64),
                    ("p99", l.p99 as f64),
                    ("max", l.max as f64),
                    ("mean", l.mean),
                ] {
                    let _ = writeln!(text, "    {label:<10}{:.3}", micros / 1000.0);
                }
            }
            None => text.push_str("  latency     none: no request succeeded\n"),
        }
        if !self.errors.is_empty() {
            text.push_str("  errors\n");
            for (kind, e) in self.by_count() {
                let _ = writeln!(text, "    {:>8}  {kind}  ({})", e.count, e.example);
            }
        }
        text
    }

    /// The errors, most frequent first.
    fn by_count(&self) -> Vec<(&String, &ErrorCount)> {
        let mut errors: Vec<_> = self.errors.iter().collect();
        errors.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
        errors
    }

    fn outcome(&self) -> Result<(), Failure> {
        if self.failed > 0 {
            let mut kinds: Vec<String> = self
                .by_count()
                .iter()
                .take(3)
                .map(|(kind, e)| format!("{} {kind}", e.count))
                .collect();
            if self.errors.len() > 3 {
                kinds.push("...".to_owned());
            }
            return Err(Failure::Load(format!(
                "{} of {} requests failed: {}",
                self.failed,
                self.requests(),
                kinds.join(", ")
            )));
        }
        if self.settings.stopped {
            return Err(Failure::Interrupted);
        }
        Ok(())
    }
}

fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

/// Counts of latencies (µs) in log-linear buckets, shared by the callers: the values below
/// `EXACT` have a bucket each; above, every doubling is cut in `SUB` buckets, so a bucket is
/// less than 1/`SUB` of its values wide. Values are capped at `u32::MAX` (71 minutes); the
/// count, sum, minimum and maximum are exact.
struct Histogram {
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    sum: AtomicU64,
    min: AtomicU64,
    max: AtomicU64,
}

const SUB_BITS: u32 = 10;
const SUB: u64 = 1 << SUB_BITS;
const EXACT: u64 = 2 * SUB;
const CAPPED: u64 = u32::MAX as u64;

impl Histogram {
    fn new() -> Histogram {
        Histogram {
            buckets: (0..=bucket_of(CAPPED)).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0),
            min: AtomicU64::new(u64::MAX),
            max: AtomicU64::new(0),
        }
    }

    fn record(&self, micros: u64) {
        self.buckets[bucket_of(micros.min(CAPPED))].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(micros, Ordering::Relaxed);
        self.min.fetch_min(micros, Ordering::Relaxed);
        self.max.fetch_max(micros, Ordering::Relaxed);
    }

    fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn latency(&self) -> Option<Latency> {
        let count = self.count();
        if count == 0 {
            return None;
        }
        let [p50, p90, p99] = self.percentiles([500, 900, 990]);
        Some(Latency {
            min: self.min.load(Ordering::Relaxed),
            p50,
            p90,
            p99,
            max: self.max.load(Ordering::Relaxed),
            mean: self.sum.load(Ordering::Relaxed) as f64 / count as f64,
        })
    }

    /// Nearest-rank percentiles, given in thousandths in increasing order (500 is the
    /// median): the value of rank ceil(count × p / 1000), counting from 1 in increasing
    /// order.
    fn percentiles<const N: usize>(&self, per_mille: [u64; N]) -> [u64; N] {
        let count = self.count();
        let min = self.min.load(Ordering::Relaxed);
        let max = self.max.load(Ordering::Relaxed);
        let ranks = per_mille.map(|p| {
            let rank = (u128::from(count) * u128::from(p)).div_ceil(1000);
            u64::try_from(rank).unwrap_or(count).clamp(1, count.max(1))
        });
        let mut values = [max; N];
        let mut seen = 0u64;
        let mut next = 0;
        for (bucket, n) in self.buckets.iter().enumerate() {
            seen += n.load(Ordering::Relaxed);
            while next < N && seen >= ranks[next] {
                values[next] = highest_in(bucket).clamp(min, max);
                next += 1;
            }
            if next == N {
                break;
            }
        }
        values
    }
}

/// The bucket of a value (at most [`CAPPED`]).
fn bucket_of(micros: u64) -> usize {
    if micros < EXACT {
        return micros as usize;
    }
    let top_bit = 63 - micros.leading_zeros();
    let shift = top_bit - SUB_BITS;
    (EXACT + u64::from(shift - 1) * SUB + ((micros >> shift) - SUB)) as usize
}

/// The least value of a bucket.
fn lowest_in(bucket: usize) -> u64 {
    let bucket = bucket as u64;
    if bucket < EXACT {
        return bucket;
    }
    let above = bucket - EXACT;
    (SUB + above % SUB) << (above / SUB + 1)
}

/// The greatest value of a bucket.
fn highest_in(bucket: usize) -> u64 {
    let b = bucket as u64;
    if b < EXACT {
        return b;
    }
    lowest_in(bucket) + (1 << ((b - EXACT) / SUB + 1)) - 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use izaber_wamp::WampError;
    use izaber_wamp::protocol::{Dict, Value as WampValue};

    fn load(repeat: u64, concurrency: usize, parallel: usize) -> LoadArgs {
        LoadArgs {
            repeat: Some(repeat),
            concurrency,
            parallel,
            ..LoadArgs::default()
        }
    }

    fn defaults() -> LoadArgs {
        LoadArgs::default()
    }

    fn message(failure: Failure) -> String {
        match failure {
            Failure::Usage(message) | Failure::Load(message) => message,
            other => panic!("not a message: {other:?}"),
        }
    }

    fn wamp_error(uri: &str) -> Error {
        Error::Wamp(WampError {
            uri: uri.to_owned(),
            args: vec![WampValue::from("no callee")],
            kwargs: Dict::new(),
            details: Dict::new(),
        })
    }

    fn histogram(values: impl IntoIterator<Item = u64>) -> Histogram {
        let histogram = Histogram::new();
        for value in values {
            histogram.record(value);
        }
        histogram
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let h = histogram(1..=100);
        assert_eq!(h.percentiles([500, 900, 990, 1000]), [50, 90, 99, 100]);
        let l = h.latency().unwrap();
        assert_eq!((l.min, l.max, l.mean), (1, 100, 50.5));
        // ceil(4 × 0.5) = 2nd, ceil(4 × 0.9) = 4th, in any order of recording.
        let h = histogram([40, 10, 30, 20]);
        assert_eq!(h.percentiles([500, 900, 990]), [20, 40, 40]);
        let h = histogram([7]);
        assert_eq!(h.percentiles([500, 900, 990]), [7, 7, 7]);
        // 99 fast and one slow: p99 is still fast, the max is not.
        let h = histogram((0..99).map(|_| 100).chain([5000]));
        let l = h.latency().unwrap();
        assert_eq!((l.p50, l.p90, l.p99, l.max), (100, 100, 100, 5000));
        assert!(histogram([]).latency().is_none());
    }

    #[test]
    fn large_latencies_are_within_a_thousandth() {
        let h = histogram([1_234_567, 3_000_000]);
        let [p50, p99] = h.percentiles([500, 990]);
        assert!(
            (1_234_567..=1_234_567 + 1_234_567 / 1024).contains(&p50),
            "{p50}"
        );
        assert_eq!(p99, 3_000_000, "never above the exact maximum");
        // An hour and a half is capped in the buckets, not in the maximum.
        let h = histogram([5_400_000_000]);
        let l = h.latency().unwrap();
        assert_eq!(l.max, 5_400_000_000);
        assert_eq!(l.p50, 5_400_000_000, "the minimum bounds it from below");
    }

    #[test]
    fn buckets_cover_every_value_in_order() {
        let mut previous = 0;
        for value in (0..70_000).chain([CAPPED - 1, CAPPED]) {
            let bucket = bucket_of(value);
            assert!(bucket >= previous, "{value}");
            previous = bucket;
            assert!(
                lowest_in(bucket) <= value && value <= highest_in(bucket),
                "{value}"
            );
            let width = highest_in(bucket) - lowest_in(bucket) + 1;
            assert!(width == 1 || width * SUB <= value, "{value}: {width}");
        }
        for bucket in 1..=bucket_of(CAPPED) {
            assert_eq!(lowest_in(bucket), highest_in(bucket - 1) + 1, "{bucket}");
        }
        assert_eq!(highest_in(bucket_of(CAPPED)), CAPPED);
        // Fixed memory, whatever the number of requests.
        assert!(Histogram::new().buckets.len() * 8 < 200 * 1024);
    }

    #[test]
    fn rates_are_per_second() {
        assert_eq!(parse_rate("500").unwrap(), 500.0);
        assert_eq!(parse_rate("500/s").unwrap(), 500.0);
        assert_eq!(parse_rate(" 2.5/s ").unwrap(), 2.5);
        assert_eq!(parse_rate("1e3").unwrap(), 1000.0);
        for bad in ["", "/s", "0", "-5", "fast", "500/m", "inf", "NaN", "5 0"] {
            assert!(
                message(parse_rate(bad).unwrap_err()).contains("--rate"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn check_finds_the_usage_errors() {
        assert!(defaults().check().is_ok());
        assert!(!defaults().is_load());
        assert!(load(200, 8, 1).check().is_ok());
        assert!(load(200, 8, 1).is_load());
        assert!(load(1, 4, 4).check().is_ok());
        let fails = |args: LoadArgs, expected: &str| {
            let text = message(args.check().unwrap_err());
            assert!(text.contains(expected), "{text}");
        };
        fails(load(0, 1, 1), "--repeat must be at least 1");
        fails(load(10, 0, 1), "--concurrency must be at least 1");
        fails(load(10, 1, 0), "--parallel must be at least 1");
        fails(load(10, 2, 3), "--concurrency 3 or more");
        let mut bad_rate = load(10, 1, 1);
        bad_rate.rate = Some("lots".into());
        fails(bad_rate, "--rate");
        let mut rated = load(10, 1, 1);
        rated.rate = Some("20/s".into());
        assert_eq!(rated.rate_per_second().unwrap(), Some(20.0));
        for without_repeat in [
            LoadArgs {
                concurrency: 4,
                ..defaults()
            },
            LoadArgs {
                parallel: 2,
                ..defaults()
            },
            LoadArgs {
                rate: Some("5".into()),
                ..defaults()
            },
            LoadArgs {
                json_summary: true,
                ..defaults()
            },
        ] {
            fails(without_repeat, "go with --repeat N");
        }
    }

    fn settings() -> Settings {
        Settings {
            what: "call com.example.x".into(),
            repeat: 5,
            concurrency: 2,
            parallel: 1,
            rate: Some(100.0),
            stopped: false,
            wall: Duration::from_millis(500),
        }
    }

    #[test]
    fn the_summary_as_json() {
        let tally = Tally::new();
        for micros in [1000, 2000, 3000] {
            tally.succeeded(Duration::from_micros(micros));
        }
        tally.failed(&wamp_error("wamp.error.no_such_procedure"));
        tally.failed(&Error::Timeout {
            operation: "CALL com.example.x".into(),
            after: Duration::from_secs(1),
        });
        let summary = tally.summary(settings());
        assert_eq!(
            summary.to_json(),
            json!({
                "what": "call com.example.x",
                "requests": 5,
                "ok": 3,
                "failed": 2,
                "interrupted": false,
                "wall_s": 0.5,
                "ok_per_s": 6.0,
                "ok_latency_ms": {
                    "min": 1.0, "p50": 2.0, "p90": 3.0, "p99": 3.0, "max": 3.0, "mean": 2.0,
                },
                "errors": {"timeout": 1, "wamp.error.no_such_procedure": 1},
                "error_examples": {
                    "timeout": "CALL com.example.x: no answer within 1s",
                    "wamp.error.no_such_procedure": "no callee",
                },
                "settings": {"repeat": 5, "concurrency": 2, "parallel": 1, "rate_per_s": 100.0},
            })
        );
        let text = message(summary.outcome().unwrap_err());
        assert_eq!(
            text,
            "2 of 5 requests failed: 1 timeout, 1 wamp.error.no_such_procedure"
        );
    }

    #[test]
    fn the_summary_as_text() {
        let tally = Tally::new();
        tally.succeeded(Duration::from_micros(1234));
        let text = tally.summary(settings()).to_text();
        assert!(text.starts_with("call com.example.x\n"), "{text}");
        for expected in [
            "rate 100/s",
            "requests    1\n",
            "failed      0\n",
            "wall        0.500 s\n",
            "ok/s        2.0\n",
            "latency of the ok requests, ms\n",
            "p99       1.234\n",
        ] {
            assert!(text.contains(expected), "{expected:?} in\n{text}");
        }
        assert!(!text.contains("errors"), "{text}");

        let tally = Tally::new();
        for _ in 0..3 {
            tally.failed(&Error::ConnectionLost {
                reason: "reset".into(),
            });
        }
        let summary = tally.summary(settings());
        let text = summary.to_text();
        assert!(text.contains("none: no request succeeded"), "{text}");
        assert!(
            text.contains("       3  connection lost  (reset)"),
            "{text}"
        );
        assert_eq!(summary.to_json()["ok_latency_ms"], Value::Null);
    }

    #[test]
    fn errors_are_keyed_by_uri_or_kind() {
        assert_eq!(
            error_kind(&wamp_error("wamp.error.not_authorized")),
            "wamp.error.not_authorized"
        );
        assert_eq!(error_kind(&Error::Closed), "client closed");
        assert_eq!(
            error_kind(&Error::RawSocket("broken".into())),
            "connection lost"
        );
        assert_eq!(
            error_kind(&Error::InvalidArgument("x".into())),
            "invalid argument"
        );
    }

    #[test]
    fn callers_share_the_requests_and_the_sessions() {
        let sessions: Vec<AtomicU64> = (0..3).map(|_| AtomicU64::new(0)).collect();
        let request = |session: &AtomicU64| -> Result<(), Error> {
            let n = session.fetch_add(1, Ordering::SeqCst);
            if n % 10 == 9 {
                return Err(wamp_error("com.example.error.tenth"));
            }
            std::thread::sleep(Duration::from_micros(200));
            Ok(())
        };
        let args = load(300, 6, 3);
        let summary = measure(
            &args,
            "call x",
            &sessions,
            &request,
            &crossbeam_channel::never(),
        )
        .unwrap();
        let counts: Vec<u64> = sessions.iter().map(|s| s.load(Ordering::SeqCst)).collect();
        assert_eq!(counts.iter().sum::<u64>(), 300);
        assert!(counts.iter().all(|&n| n > 0), "{counts:?}");
        assert_eq!(summary.requests(), 300);
        assert_eq!(
            summary.errors["com.example.error.tenth"].count,
            summary.failed
        );
        assert!(summary.failed >= 27, "{}", summary.failed);
        let l = summary.latency.unwrap();
        assert!(l.min >= 200 && l.min <= l.p50 && l.p50 <= l.p99 && l.p99 <= l.max);
        assert!(!summary.settings.stopped);
    }

    #[test]
    fn more_callers_than_requests_is_fine() {
        let sessions = [()];
        let summary = measure(
            &load(3, 50, 1),
            "publish t",
            &sessions,
            &|_: &()| Ok(()),
            &crossbeam_channel::never(),
        )
        .unwrap();
        assert_eq!((summary.ok, summary.failed), (3, 0));
        assert!(summary.outcome().is_ok());
    }

    #[test]
    fn the_rate_spaces_the_starts() {
        let started = Mutex::new(Vec::new());
        let origin = Instant::now();
        let request = |_: &()| -> Result<(), Error> {
            started.lock().unwrap().push(origin.elapsed());
            Ok(())
        };
        let mut args = load(11, 4, 1);
        args.rate = Some("100/s".into());
        let summary = measure(&args, "x", &[()], &request, &crossbeam_channel::never()).unwrap();
        assert_eq!(summary.ok, 11);
        let mut started = started.into_inner().unwrap();
        started.sort();
        // Request k no earlier than k × 10 ms (origin is a little before the load's start).
        for (k, at) in started.iter().enumerate() {
            assert!(*at >= Duration::from_millis(10 * k as u64), "{k}: {at:?}");
        }
        assert!(summary.settings.wall >= Duration::from_millis(100));
        assert!(summary.settings.wall < Duration::from_secs(2));
    }

    #[test]
    fn a_stop_ends_the_load_early() {
        let (press, presses) = crossbeam_channel::bounded(1);
        let made = AtomicU64::new(0);
        let request = |_: &()| -> Result<(), Error> {
            if made.fetch_add(1, Ordering::SeqCst) == 5 {
                let _ = press.try_send(());
            }
            std::thread::sleep(Duration::from_millis(1));
            Ok(())
        };
        let summary = measure(&load(1_000_000, 2, 1), "x", &[()], &request, &presses).unwrap();
        assert!(summary.settings.stopped);
        assert!(summary.requests() < 1000, "{}", summary.requests());
        assert!(matches!(summary.outcome(), Err(Failure::Interrupted)));
        assert_eq!(summary.to_json()["interrupted"], true);
        // A stop while waiting for a slot far ahead.
        let (press, presses) = crossbeam_channel::bounded(1);
        let mut slow = load(10, 1, 1);
        slow.rate = Some("0.01".into());
        let started = Instant::now();
        let stopper = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            let _ = press.send(());
        });
        let summary = measure(&slow, "x", &[()], &|_: &()| Ok(()), &presses).unwrap();
        stopper.join().unwrap();
        assert_eq!(summary.requests(), 1);
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
