//! A tour of the library against a local Nexus-like router that it starts and stops itself.
//!
//! ```text
//! bash examples/tour.sh      # sets up the router's Python venv once, then runs this
//! ```
//!
//! It calls, registers, publishes and subscribes, uses rosters, metadata, one-time passwords
//! and API keys, reads ZERP, and changes user, printing what it does.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Duration;

use izaber_wamp::{InitOptions, call, config, domain, initialize_with, wamp, zerp};
use serde_json::json;

fn main() -> anyhow::Result<()> {
    env_logger::init();
    println!("== starting a local router (Crossbar.io with a Nexus-like component)");
    let router = support::Router::private();
    let backend = router.backend(1);
    let frontend = router.frontend();
    println!("   listening on {}", router.ws_url);

    // What izaber.yaml would hold; here it is passed as text.
    let yaml = format!(
        "default:\n  wamp:\n    connection:\n      url: '{}'\n      username: '{}'\n      password: '{}'\n    zerp:\n      database: sandbox\n",
        router.ws_url, backend.username, backend.password
    );
    initialize_with(InitOptions::new().yaml(yaml))?;
    println!(
        "== initialize(): connected as {}",
        config()?
            .get_str("wamp.connection.username")?
            .unwrap_or("?")
    );

    println!("== wamp.whoami() -> {}", wamp.whoami()?);

    wamp.register("tour.greet", |invocation| {
        let name: String = invocation.arg(0)?;
        let punctuation: Option<String> = invocation.kwarg("punctuation")?;
        Ok(format!(
            "Hello {name}{} (from a handler, called by {})",
            punctuation.unwrap_or_default(),
            invocation.caller_authid().unwrap_or("<unknown>")
        ))
    })?;
    let greeting = call!(wamp, "tour.greet", "Zaber", punctuation = "!")?;
    println!(
        "== registered tour.greet and called it: {}",
        greeting.as_str().unwrap_or("?")
    );

    let (events_tx, events_rx) = crossbeam_channel::unbounded();
    wamp.subscribe("tour.news", move |event| {
        let _ = events_tx.send(event);
    })?;
    let reporter =
        wamp.spawn_connection(&router.backend(2).username, &router.backend(2).password)?;
    reporter.publish(
        "tour.news",
        (json!({"headline": "Rust client joins Nexus"}),),
    )?;
    let event = events_rx.recv_timeout(Duration::from_secs(10))?;
    println!(
        "== subscribed to tour.news; event from {}: {}",
        event
            .details
            .get("publisher_authid")
            .and_then(|v| v.as_str())
            .unwrap_or("?"),
        event.args[0]
    );

    let roster_key = format!("roster.tour.{}", backend.username);
    wamp.roster_register(&roster_key, json!({"service": "tour", "version": 1}))?;
    println!(
        "== roster_register({roster_key}); roster_query -> {}",
        reporter.roster_query(&roster_key)?
    );
    wamp.roster_unregister(&roster_key)?;

    wamp.metadata_set("tour.theme", "dark")?;
    println!(
        "== metadata: get -> {}, list -> {} keys",
        wamp.metadata_get("tour.theme")?,
        wamp.metadata_list()?.as_dict().map_or(0, |d| d.len())
    );
    wamp.metadata_delete("tour.theme")?;

    let otp = wamp.otp_create()?;
    let otp_login = otp["login"].as_str().unwrap_or_default().to_owned();
    let otp_session = wamp.spawn_connection(
        &otp_login,
        otp["plaintext_key"].as_str().unwrap_or_default(),
    )?;
    println!(
        "== otp_create(): logged in once with it as {}; that session may not make another: {}",
        otp_session.whoami()?["authid"].as_str().unwrap_or("?"),
        otp_session.otp_create().unwrap_err()
    );
    otp_session.close();

    let apikey = wamp.apikeys_create(json!({"description": "tour"}))?;
    let key_session = wamp.spawn_connection(
        &backend.username,
        apikey["plaintext_key"].as_str().unwrap_or_default(),
    )?;
    println!(
        "== apikeys_create(): {} key(s) listed; logged in with the key as {}",
        wamp.apikeys_list()?.as_list().map_or(0, |l| l.len()),
        key_session.whoami()?["authid"].as_str().unwrap_or("?")
    );
    key_session.close();
    wamp.apikeys_delete(apikey["uuid"].as_str().unwrap_or_default())?;

    // ZERP (the router's ZERP-like backend), as Python's izaber-wamp-zerp reads it.
    let products = zerp.get("product.product")?;
    let stages = products.search_fetch(
        domain![("default_code", "like", "X-LSQ"), ("qty_available", ">", 0)],
        &["default_code", "qty_available"],
    )?;
    let listed: Vec<String> = stages
        .iter()
        .map(|p| {
            format!(
                "{:#} ({:#} in stock)",
                p["default_code"], p["qty_available"]
            )
        })
        .collect();
    println!(
        "== zerp.get('product.product').search_fetch(..) on {}: {}",
        zerp.database()?,
        listed.join(", ")
    );

    match wamp.change_user(&frontend.username, "a wrong password") {
        Ok(()) => println!("== change_user with a wrong password unexpectedly worked"),
        Err(e) => println!(
            "== change_user with a wrong password fails ({e}); still {}",
            wamp.whoami()?["authid"].as_str().unwrap_or("?")
        ),
    }
    wamp.change_user(&frontend.username, &frontend.password)?;
    println!(
        "== change_user({}): now {}",
        frontend.username,
        wamp.whoami()?
    );
    match wamp.register("tour.forbidden", |_| Ok(())) {
        Ok(_) => println!("   (the frontend user could register: unexpected)"),
        Err(e) => println!("   a frontend user may not register: {e}"),
    }

    println!("== stats: {:?}", wamp.stats()?);
    if let Some(cli) = std::env::var_os("IZABER_WAMP_CLI") {
        command_line(&cli, &router, &reporter)?;
    }
    reporter.close();
    wamp.disconnect();
    println!("== done; stopping the router");
    Ok(())
}

/// A few commands of the `izaber-wamp` tool (cli/) against the same router, when
/// `examples/tour.sh` built it and named it in `IZABER_WAMP_CLI`.
fn command_line(
    cli: &std::ffi::OsStr,
    router: &support::Router,
    service: &izaber_wamp::Client,
) -> anyhow::Result<()> {
    println!("== the command line, `izaber-wamp` (cli/), against the same router");
    // served here, called by the tool from another process
    service.register("tour.shout", |invocation| {
        let text: String = invocation.arg(0)?;
        let punctuation: Option<String> = invocation.kwarg("punctuation")?;
        Ok(format!(
            "{}{}",
            text.to_uppercase(),
            punctuation.unwrap_or_default()
        ))
    })?;
    let user = router.backend(3);
    let commands: [&[&str]; 4] = [
        &["join"],
        &["call", "tour.shout", "hello", "-k", "punctuation=!"],
        &["call", "tour.shout('Python syntax', punctuation='?')"],
        &["call", "tour.nothing"],
    ];
    for args in commands {
        let output = std::process::Command::new(cli)
            .args(args)
            .env("IZABER_WAMP_URL", &router.ws_url)
            .env("IZABER_WAMP_REALM", &router.realm)
            .env("IZABER_WAMP_USER", &user.username)
            .env("IZABER_WAMP_PASSWORD", &user.password)
            .output()?;
        let shown = if output.status.success() {
            String::from_utf8_lossy(&output.stdout).trim().to_owned()
        } else {
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned()
        };
        let quoted: Vec<String> = args
            .iter()
            .map(|a| {
                if a.contains(' ') {
                    format!("\"{a}\"")
                } else {
                    (*a).to_owned()
                }
            })
            .collect();
        println!(
            "   $ izaber-wamp {}   (exit {})\n     {shown}",
            quoted.join(" "),
            output.status.code().unwrap_or(-1)
        );
    }
    Ok(())
}
