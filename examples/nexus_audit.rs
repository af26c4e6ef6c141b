//! Nexus audit: does every procedure we rely on have a callee, and who serves it?
//!
//! The Rust twin of `examples/porting/nexus_audit.py`, ported line for line (see "Porting
//! real scripts" in the README). It reads the procedures it must find from its own
//! izaber.yaml section:
//!
//! ```yaml
//! nexus_audit:
//!   required:
//!     - com.izaber.wamp.system.roster.query
//!     - com.izaber.wamp.my.service.ping
//!   show_peers: true
//! ```
//!
//! and prints one line per required procedure (OK with its callees, or MISSING), then a
//! summary of the router's registrations by match policy. It exits with status 1 when a
//! required procedure has no callee, 2 when it cannot ask. `tests/porting.rs` runs both
//! and compares what they print.

use std::process::ExitCode;

use izaber_wamp::protocol::{Dict, Value};
use izaber_wamp::{InitOptions, config, initialize_with, wamp};
use serde_json::json;

fn main() -> anyhow::Result<ExitCode> {
    initialize_with(InitOptions::app("nexus-audit"))?;

    let audit = config()?.value("nexus_audit")?;
    let required = audit.get_or("required", Value::Null);
    let show_peers = audit.get_or("show_peers", true).is_truthy();

    // The meta API and Nexus's own procedures are not under our URI base.
    wamp.set_uri_base("")?;

    // Where a session connects from: behind a proxy, the forwarded address.
    let peer_of = |session: &Value| {
        let transport = &session["transport"];
        let headers = &transport["http_headers_received"];
        headers["x-forwarded-for"].or(transport.get_or("peer", "INTERNAL"))
    };

    let callee_summary = |session_id: &Value| {
        let session = match wamp.call("wamp.session.get", (session_id,)) {
            Ok(session) => session,
            Err(ex) => return Value::from(json!({"session": session_id, "error": ex.message()})),
        };
        let mut summary = Value::from(json!({
            "session": session_id,
            "authid": session["authid"].or("?"),
            "authrole": session["authrole"].or("?"),
        }));
        if show_peers {
            summary["peer"] = peer_of(&session);
        }
        summary
    };

    let by_match = match wamp.call("wamp.registration.list", ()) {
        Ok(by_match) => by_match,
        Err(ex) => {
            println!("cannot list registrations: {}", ex.message());
            return Ok(ExitCode::from(2));
        }
    };

    let mut registrations = Value::Dict(Dict::new());
    let mut counts = Vec::new();
    for (match_policy, ids) in by_match.items() {
        counts.push(format!("{match_policy} {}", ids.len()));
        for registration_id in ids.iter() {
            let mut reg_data = wamp.call("wamp.registration.get", (registration_id,))?;
            if !reg_data.is_truthy() {
                continue;
            }
            let mut callees = wamp.call("wamp.registration.list_callees", (registration_id,))?;
            if let Some(ids) = callees.as_list_mut() {
                ids.sort_by_key(Value::as_u64);
            }
            reg_data["callees"] = callees.iter().map(&callee_summary).collect();
            let uri = reg_data["uri"].as_str().unwrap_or_default().to_owned();
            registrations[uri.as_str()] = reg_data;
        }
    }

    let mut missing = Vec::new();
    for uri in required.iter() {
        let uri = uri.as_str().unwrap_or_default();
        let reg_data = &registrations[uri];
        if !reg_data.is_truthy() || !reg_data["callees"].is_truthy() {
            missing.push(uri);
            println!("MISSING  {uri}");
            continue;
        }
        for callee in reg_data["callees"].iter() {
            if callee["error"].is_truthy() {
                println!(
                    "OK       {uri}  session {:#}: {:#}",
                    callee["session"], callee["error"]
                );
                continue;
            }
            let from = show_peers.then(|| format!(" from {:#}", callee["peer"]));
            let (authid, authrole) = (&callee["authid"], &callee["authrole"]);
            println!(
                "OK       {uri}  {authid:#} ({authrole:#}){}",
                from.unwrap_or_default()
            );
        }
        let shared = reg_data["callees"].len();
        let invoke = reg_data["invoke"].as_str().unwrap_or_default();
        if invoke != "single" && shared > 1 {
            println!("         shared: {shared} callees, invoke {invoke}");
        }
    }

    let total = required.len();
    println!(
        "{} of {total} required procedures served; registrations: {}",
        total - missing.len(),
        counts.join(", ")
    );
    Ok(ExitCode::from(u8::from(!missing.is_empty())))
}
