//! One instance of a shared procedure, for the rolling-restart benchmark and test: serves
//! until asked to stop (SIGTERM, Ctrl-C), then shuts down gracefully.
//!
//! ```text
//! bench_service --procedure P [--work-ms MS] [--grace-s S] --url URL --realm REALM \
//!     --user U --password P --serializer json|msgpack|cbor
//! ```
//!
//! Registers `P` with `invoke=roundrobin` (so several instances share it); each call takes
//! `MS` (50 unless set) and answers this process's id. Prints `ready` once registered, and
//! after the shutdown (within `S` seconds of grace, 10 unless set) one JSON line: what the
//! [`ShutdownReport`](izaber_wamp::ShutdownReport) says. `benches/rolling.py` runs it.

// Shared with the other bench programs; this one needs only its flag parsing.
#[allow(dead_code)]
#[path = "bench_support/mod.rs"]
mod bench_support;

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use bench_support::{Flags, TargetFlags, number};
use izaber_wamp::{Client, RegisterOptions};
use serde_json::json;

const USAGE: &str = "usage: bench_service --procedure P [--work-ms MS] [--grace-s S] \
--url URL --realm REALM --user U --password P --serializer json|msgpack|cbor";

fn main() -> Result<()> {
    env_logger::init();
    let mut flags = Flags::new(USAGE);
    let mut target = TargetFlags::default();
    let (mut procedure, mut work_ms, mut grace_s) = (String::new(), 50, 10);
    while let Some((flag, inline)) = flags.next_flag() {
        let mut inline = Some(inline);
        let mut value = || flags.value(&flag, inline.take().flatten());
        match flag.as_str() {
            "--procedure" => procedure = value()?,
            "--work-ms" => work_ms = number(value()?, &flag)?,
            "--grace-s" => grace_s = number(value()?, &flag)?,
            _ => ensure!(
                target.take(&flag, &mut value)?,
                "unknown argument {flag:?}\n{USAGE}"
            ),
        }
    }
    let target = target.finish(USAGE)?;
    ensure!(!procedure.is_empty(), "--procedure is required\n{USAGE}");
    let client = Client::builder(target.url.as_str())
        .realm(&target.realm)
        .ticket(&target.user, target.password.as_str())
        .serializer(target.serializer)
        .connect()
        .with_context(|| format!("connecting to {}", target.url))?;
    let work = Duration::from_millis(work_ms as u64);
    client.register_with(
        &procedure,
        &RegisterOptions::new().invoke(izaber_wamp::Invoke::RoundRobin),
        move |_| {
            std::thread::sleep(work);
            Ok(std::process::id())
        },
    )?;
    println!("ready");
    let report = client.run_until_stopped(Duration::from_secs(grace_s as u64))?;
    println!(
        "{}",
        json!({
            "withdrawn": report.withdrawn,
            "answered": report.answered,
            "cancelled": report.cancelled,
            "cut_off": report.cut_off,
            "seconds": report.elapsed.as_secs_f64(),
        })
    );
    Ok(())
}
