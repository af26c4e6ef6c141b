//! `--role publisher` and `--role subscriber`: the events benchmark of
//! `benches/peers/EVENTS.md` with wamp_async 0.3.1.
//!
//! What the library makes of the contract, read from its source:
//!
//! * An unacknowledged `publish()` only hands the message to the client's event loop through
//!   an unbounded channel and returns; the event loop encodes and writes it later. So the
//!   `flood` and `paced` phases time that hand-off, and a `flood` can run far ahead of the
//!   socket, its backlog held in memory: against the test router (crossbar, about 2,600
//!   events/s with JSON) one second of flood queues some 450,000 publications, which take
//!   minutes to go out. So a flood phase also stops once it has handed wamp_async
//!   `--flood-max-events` publications (default 20,000; 0: no limit, the contract to the
//!   letter), and says so (`capped`). Two figures beyond the contract tell what happened:
//!   `drain_s`, the time from the last publication's return to the end marker's
//!   acknowledgement (the end marker queues behind the backlog, so this is how long the client
//!   took to catch up); `delivered_per_s`, `sent / (seconds + drain_s)`: the rate at which
//!   the events actually went out, the figure to set beside a blocking client's
//!   `events_per_s`; and `through_drain`, the CPU figures measured up to the end marker's
//!   acknowledgement instead of the last publish()'s return, since the client's encoding and
//!   writing (and the router's work) happen in the drain.
//! * An unacknowledged publication's request stays in the client's table of pending requests
//!   for good (no PUBLISHED ever comes to remove it), so `max_rss_kib` grows with the number of
//!   events published.
//! * The subscription handler is the library's ordinary one: the event queue `subscribe()`
//!   returns, read in a loop.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Map, Value};
use wamp_async::{Client, ClientRole};

use crate::measure::{self, Cpu, Meter};
use crate::Args;

const TOPIC: &str = "com.izaber.wamp.bench.events";

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    Flood,
    Acked,
    Paced(f64),
}

pub struct PhaseSpec {
    pub name: String,
    pub kind: Kind,
}

/// `NAME:KIND[:RATE]`.
pub fn parse_phase(text: &str) -> Result<PhaseSpec> {
    let mut parts = text.split(':');
    let (name, kind, rate) = (parts.next(), parts.next(), parts.next());
    let usage = || format!("--phase wants NAME:flood, NAME:acked or NAME:paced:RATE, not {text:?}");
    let name = name.filter(|n| !n.is_empty()).with_context(usage)?;
    if parts.next().is_some() {
        bail!(usage());
    }
    let kind = match (kind, rate) {
        (Some("flood"), None) => Kind::Flood,
        (Some("acked"), None) => Kind::Acked,
        (Some("paced"), Some(rate)) => {
            let rate: f64 = rate.parse().with_context(usage)?;
            if !(rate.is_finite() && rate > 0.0) {
                bail!("--phase {text}: the rate must be events per second > 0");
            }
            Kind::Paced(rate)
        }
        _ => bail!(usage()),
    };
    Ok(PhaseSpec {
        name: name.to_owned(),
        kind,
    })
}

fn pad() -> Value {
    Value::String("0123456789abcdef".repeat(4))
}

// --- the publisher -------------------------------------------------------------------------

pub async fn publish(args: Args) -> Result<()> {
    let client = crate::connect(&args, ClientRole::Publisher).await?;
    let meter = Meter::new("publisher", &args.observe);
    let pad = pad();
    let mut phases = Map::new();
    for phase in &args.phases {
        let name = Value::String(phase.name.clone());
        acked(&client, vec!["start".into(), name.clone()])
            .await
            .with_context(|| format!("phase {}: the start marker", phase.name))?;

        let mut took_ns: Vec<u64> = Vec::new();
        let mut seq: u64 = 0;
        let acknowledge = phase.kind == Kind::Acked;
        let mut capped = false;
        // one publication: SENT_NS read just before the call, the call timed
        macro_rules! publish_one {
            () => {{
                let started = Instant::now();
                let event = vec![
                    "event".into(),
                    name.clone(),
                    seq.into(),
                    measure::realtime_ns().into(),
                    pad.clone(),
                ];
                client
                    .publish(TOPIC, Some(event), None, acknowledge)
                    .await
                    .map_err(|e| anyhow!("phase {}: publication {seq}: {e:?}", phase.name))?;
                took_ns.push(started.elapsed().as_nanos() as u64);
                seq += 1;
            }};
        }

        let start = meter.read();
        let first = Instant::now();
        match phase.kind {
            Kind::Flood => {
                while first.elapsed() < args.duration {
                    if args.flood_max_events > 0 && seq >= args.flood_max_events {
                        capped = true;
                        break;
                    }
                    publish_one!();
                }
            }
            Kind::Acked => {
                while first.elapsed() < args.duration {
                    publish_one!();
                }
            }
            Kind::Paced(rate) => {
                // event i is due at first + i / rate; publish every event due, then sleep
                // until the next one is
                let due = |i: u64| first + Duration::from_secs_f64(i as f64 / rate);
                let total = (args.duration.as_secs_f64() * rate).ceil() as u64;
                while seq < total {
                    let now = Instant::now();
                    while seq < total && due(seq) <= now {
                        publish_one!();
                    }
                    if seq < total {
                        tokio::time::sleep_until(due(seq).into()).await;
                    }
                }
            }
        }
        let end = meter.read();
        let last_returned = Instant::now();

        acked(&client, vec!["end".into(), name.clone(), seq.into()])
            .await
            .with_context(|| format!("phase {}: the end marker", phase.name))?;
        let drain = last_returned.elapsed();
        let drained = meter.read();

        let seconds = if seq > 0 {
            (last_returned - first).as_secs_f64()
        } else {
            0.0
        };
        took_ns.sort_unstable();
        let cpu = meter.between(&start, &end);
        let observed = |cpu: &[(String, u64, u64)]| -> Map<String, Value> {
            cpu[1..]
                .iter()
                .map(|(label, ns, _)| {
                    (
                        label.clone(),
                        json!({"cpu_us_per_event": measure::us_per(*ns, seq)}),
                    )
                })
                .collect()
        };
        let through_drain = meter.between(&start, &drained);
        phases.insert(
            phase.name.clone(),
            json!({
                "kind": match phase.kind {
                    Kind::Flood => "flood",
                    Kind::Acked => "acked",
                    Kind::Paced(_) => "paced",
                },
                "rate": match phase.kind { Kind::Paced(rate) => json!(rate), _ => Value::Null },
                "sent": seq,
                "seconds": measure::round(seconds, 4),
                "events_per_s": if seconds > 0.0 { json!(measure::round(seq as f64 / seconds, 1)) } else { Value::Null },
                "publish_p50_us": measure::percentile_us(&took_ns, 50.0),
                "publish_p99_us": measure::percentile_us(&took_ns, 99.0),
                "publish_max_ms": took_ns.last().map_or(Value::Null, |ns| json!(measure::round(*ns as f64 / 1e6, 3))),
                "cpu_us_per_event": measure::us_per(cpu[0].1, seq),
                "observed": observed(&cpu),
                "max_rss_kib": measure::max_rss_kib(),
                "drain_s": measure::round(drain.as_secs_f64(), 4),
                "delivered_per_s": if seconds > 0.0 {
                    json!(measure::round(seq as f64 / (seconds + drain.as_secs_f64()), 1))
                } else {
                    Value::Null
                },
                "capped": capped,
                // the CPU figures again, up to the end marker's acknowledgement: wamp_async
                // encodes and writes unacknowledged publications after publish() returned
                "through_drain": {
                    "cpu_us_per_event": measure::us_per(through_drain[0].1, seq),
                    "observed": observed(&through_drain),
                },
            }),
        );
        eprintln!(
            "wamp-async-bench: phase {}: {} events in {:.3} s{}, then {:.3} s until the end marker was acknowledged",
            phase.name,
            seq,
            seconds,
            if capped { " (stopped at --flood-max-events)" } else { "" },
            drain.as_secs_f64()
        );
    }
    if args.quit {
        acked(&client, vec!["quit".into()])
            .await
            .context("the quit marker")?;
    }
    // leaves the realm and stops the event loop, which closes the connection
    client.disconnect().await;
    println!(
        "{}",
        json!({
            "impl": crate::IMPL,
            "role": "publisher",
            "serializer": args.serializer_name,
            "transport": args.transport,
            "phases": phases,
        })
    );
    Ok(())
}

async fn acked(client: &Client<'static>, event: Vec<Value>) -> Result<()> {
    client
        .publish(TOPIC, Some(event), None, true)
        .await
        .map(|_| ())
        .map_err(|e| anyhow!("{e:?}"))
}

// --- the subscriber ------------------------------------------------------------------------

/// The figures of the phase under way.
struct Current {
    name: String,
    cpu: Cpu,
    latencies_ns: Vec<u64>,
    first_recv_ns: u64,
    last_recv_ns: u64,
}

pub async fn subscribe(args: Args) -> Result<()> {
    let mut client = crate::connect(&args, ClientRole::Subscriber).await?;
    let (subscription, mut events) = client
        .subscribe(TOPIC)
        .await
        .map_err(|e| anyhow!("subscribing to {TOPIC}: {e:?}"))?;
    crate::say("READY");

    let mut current: Option<Current> = None;
    let mut stray: u64 = 0;
    loop {
        let Some((_publication, positional, _keywords)) = events.recv().await else {
            bail!("the event queue closed: the connection to the router is gone");
        };
        let now = measure::realtime_ns();
        let positional = positional.unwrap_or_default();
        match positional.first().and_then(Value::as_str) {
            Some("event") => {
                let phase = positional.get(1).and_then(Value::as_str);
                match (&mut current, phase) {
                    (Some(c), Some(phase)) if c.name == phase => {
                        let sent_ns = positional
                            .get(3)
                            .and_then(Value::as_u64)
                            .context("an event without SENT_NS")?;
                        c.latencies_ns.push(now.saturating_sub(sent_ns));
                        if c.latencies_ns.len() == 1 {
                            c.first_recv_ns = now;
                        }
                        c.last_recv_ns = now;
                    }
                    _ => stray += 1,
                }
            }
            Some("start") => {
                let name = positional
                    .get(1)
                    .and_then(Value::as_str)
                    .context("a start marker without a phase name")?;
                current = Some(Current {
                    name: name.to_owned(),
                    cpu: Cpu::own(),
                    latencies_ns: Vec::new(),
                    first_recv_ns: 0,
                    last_recv_ns: 0,
                });
                stray = 0;
            }
            Some("end") => {
                let cpu_end = Cpu::own();
                let name = positional
                    .get(1)
                    .and_then(Value::as_str)
                    .context("an end marker without a phase name")?;
                let sent = positional.get(2).and_then(Value::as_u64);
                let phase = match current.take() {
                    Some(c) if c.name == name => c,
                    other => {
                        // an end without its start: report the phase as empty
                        eprintln!("wamp-async-bench: end of phase {name} without its start");
                        current = other;
                        Current {
                            name: name.to_owned(),
                            cpu: cpu_end,
                            latencies_ns: Vec::new(),
                            first_recv_ns: 0,
                            last_recv_ns: 0,
                        }
                    }
                };
                crate::say(&phase_line(&args, phase, cpu_end, sent, stray).to_string());
                stray = 0;
            }
            Some("quit") => break,
            _ => stray += 1,
        }
    }
    // leave promptly; the process exits when main returns whatever the router does
    let _ = tokio::time::timeout(Duration::from_secs(2), client.unsubscribe(subscription)).await;
    let _ = tokio::time::timeout(Duration::from_secs(2), client.leave_realm()).await;
    Ok(())
}

fn phase_line(
    args: &Args,
    mut phase: Current,
    cpu_end: Cpu,
    sent: Option<u64>,
    stray: u64,
) -> Value {
    let received = phase.latencies_ns.len() as u64;
    phase.latencies_ns.sort_unstable();
    let lat = &phase.latencies_ns;
    let span_ns = phase.last_recv_ns.saturating_sub(phase.first_recv_ns);
    let events_per_s = if received >= 2 && span_ns > 0 {
        json!(measure::round(
            (received - 1) as f64 / (span_ns as f64 / 1e9),
            1
        ))
    } else {
        Value::Null
    };
    json!({
        "impl": crate::IMPL,
        "role": "subscriber",
        "serializer": args.serializer_name,
        "transport": args.transport,
        "phase": phase.name,
        "sent": sent,
        "received": received,
        "stray": stray,
        // 0 when none arrived (the contract keeps these integers)
        "first_recv_ns": phase.first_recv_ns,
        "last_recv_ns": phase.last_recv_ns,
        "events_per_s": events_per_s,
        "lat_p50_us": measure::percentile_us(lat, 50.0),
        "lat_p90_us": measure::percentile_us(lat, 90.0),
        "lat_p99_us": measure::percentile_us(lat, 99.0),
        "lat_max_us": measure::percentile_us(lat, 100.0),
        "cpu_us_per_event": measure::us_per(cpu_end.since(phase.cpu), received),
        "max_rss_kib": measure::max_rss_kib(),
    })
}
