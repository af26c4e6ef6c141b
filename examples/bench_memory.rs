//! Memory after large messages: what a service's RSS is once a burst of 1–8 MiB calls is over.
//!
//! ```text
//! cargo run --release --example bench_memory -- --url URL --realm REALM --user U \
//!     --password P --serializer json|msgpack|cbor [--calls N] [--threads T] \
//!     [--min-mib A] [--max-mib B] [--settle-ms MS]
//! ```
//!
//! One process holds a callee client and a caller client on the same router. `T` caller
//! threads (8 unless set) each make `N` calls (20 unless set), alternating two kinds: one sends
//! a string of A..=B MiB (1 and 8 unless set) and gets its length back, the other sends the
//! length and gets such a string back, built by the handler. So large buffers are made,
//! encoded and decoded on caller threads, on the socket threads and on handler threads, as in
//! a service under load. Then the program prints one JSON line:
//!
//! * `idle_rss_kib`: `VmRSS` after connecting and registering, before any large call;
//! * `peak_rss_kib`: `VmHWM`, the most the process ever held;
//! * `open_rss_kib`: `VmRSS` after the calls, clients still connected, after `--settle-ms`
//!   (1000 unless set): what a running service keeps after a burst;
//! * `closed_rss_kib`: `VmRSS` after both clients are closed and the settle time again;
//! * `open_heap_kib` / `closed_heap_kib`: what the allocator counts as in use at those two
//!   moments (glibc's `mallinfo2`, on Linux with glibc only), so that memory still held by the
//!   program can be told apart from freed memory the allocator keeps.
//!
//! `benches/memory.py` runs it against the test router, with and without glibc's tuning
//! variables, and writes the table in `benches/results/memory.md`.

// Shared with bench.rs and bench_floor.rs; this program needs only its flag parsing.
#[allow(dead_code)]
#[path = "bench_support/mod.rs"]
mod bench_support;

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use bench_support::{Flags, TargetFlags, number};
use izaber_wamp::protocol::Value;
use izaber_wamp::{CallError, Client};
use serde_json::json;

const USAGE: &str = "usage: bench_memory --url URL --realm REALM --user U --password P \
--serializer json|msgpack|cbor [--calls N] [--threads T] [--min-mib A] [--max-mib B] \
[--settle-ms MS]";
const MIB: usize = 1024 * 1024;

fn main() -> Result<()> {
    env_logger::init();
    let mut flags = Flags::new(USAGE);
    let mut target = TargetFlags::default();
    let (mut threads, mut min_mib, mut max_mib, mut settle_ms) = (8, 1, 8, 1000);
    let mut calls_given = None;
    while let Some((flag, inline)) = flags.next_flag() {
        let mut inline = Some(inline);
        let mut value = || flags.value(&flag, inline.take().flatten());
        match flag.as_str() {
            "--calls" => calls_given = Some(number(value()?, &flag)?),
            "--threads" => threads = number(value()?, &flag)?,
            "--min-mib" => min_mib = number(value()?, &flag)?,
            "--max-mib" => max_mib = number(value()?, &flag)?,
            "--settle-ms" => settle_ms = number(value()?, &flag)?,
            _ => {
                ensure!(
                    target.take(&flag, &mut value)?,
                    "unknown argument {flag:?}\n{USAGE}"
                );
            }
        }
    }
    let target = target.finish(USAGE)?;
    let calls = calls_given.unwrap_or(20);
    ensure!(
        threads > 0 && calls > 0,
        "--threads and --calls must be at least 1"
    );
    ensure!(
        0 < min_mib && min_mib <= max_mib,
        "want 0 < --min-mib <= --max-mib"
    );
    let settle = Duration::from_millis(settle_ms as u64);

    let connect = || {
        Client::builder(target.url.as_str())
            .realm(&target.realm)
            .ticket(&target.user, target.password.as_str())
            .serializer(target.serializer)
            .timeout(Duration::from_secs(120))
            .connect()
            .with_context(|| format!("connecting to {}", target.url))
    };
    let callee = connect()?;
    let caller = Arc::new(connect()?);
    let base = format!("com.izaber.wamp.bench.memory.{}", std::process::id());
    let (length_of, string_of) = (format!("{base}.length_of"), format!("{base}.string_of"));
    callee.register(&length_of, |invocation| {
        let text: String = invocation.arg(0)?;
        Ok(text.len())
    })?;
    callee.register(&string_of, |invocation| {
        let size: usize = invocation.arg(0)?;
        Ok::<_, CallError>(filler(size))
    })?;
    let idle = status_kib("VmRSS")?;

    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (caller, length_of, string_of) =
                (caller.clone(), length_of.clone(), string_of.clone());
            thread::spawn(move || -> Result<u64> {
                let mut moved = 0;
                for i in 0..calls {
                    // sizes spread over the range, different in each thread
                    let span = max_mib - min_mib + 1;
                    let size = (min_mib + (t * 7 + i * 3) % span) * MIB;
                    if i % 2 == 0 {
                        let answer = caller.call(&length_of, (filler(size),))?;
                        ensure!(answer.as_u64() == Some(size as u64), "wrong length");
                    } else {
                        let answer = caller.call(&string_of, (size,))?;
                        ensure!(answer.as_str().map(str::len) == Some(size), "wrong string");
                    }
                    moved += size as u64;
                }
                Ok(moved)
            })
        })
        .collect();
    let mut bytes = 0;
    for worker in workers {
        bytes += worker.join().expect("a caller thread panicked")?;
    }
    let seconds = started.elapsed().as_secs_f64();

    thread::sleep(settle);
    let open_rss = status_kib("VmRSS")?;
    let open_heap = heap_in_use_kib();
    caller.close();
    callee.close();
    drop(caller);
    thread::sleep(settle);
    let closed_rss = status_kib("VmRSS")?;
    let closed_heap = heap_in_use_kib();
    println!(
        "{}",
        json!({
            "threads": threads,
            "calls": threads * calls,
            "mib": bytes / MIB as u64,
            "seconds": (seconds * 1000.0).round() / 1000.0,
            "idle_rss_kib": idle,
            "peak_rss_kib": status_kib("VmHWM")?,
            "open_rss_kib": open_rss,
            "open_heap_kib": open_heap,
            "closed_rss_kib": closed_rss,
            "closed_heap_kib": closed_heap,
        })
    );
    Ok(())
}

/// A string of `size` ASCII letters.
fn filler(size: usize) -> Value {
    Value::from("x".repeat(size))
}

/// A `kB` line of `/proc/self/status` (`VmRSS`, `VmHWM`).
fn status_kib(key: &str) -> Result<u64> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {key} in /proc/self/status"))
}

/// Bytes the allocator counts as handed out (small chunks plus mmapped ones), in KiB.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn heap_in_use_kib() -> Option<u64> {
    // SAFETY: mallinfo2 only reads the allocator's counters; it takes no pointers.
    let info = unsafe { libc::mallinfo2() };
    Some(((info.uordblks + info.hblkhd) / 1024) as u64)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn heap_in_use_kib() -> Option<u64> {
    None
}
