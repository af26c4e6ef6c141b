//! The commands: each does its one thing on a session it is given (its own, or the shell's)
//! and prints JSON on stdout. A command that waits (subscribe, register) leaves nothing
//! behind on the session when it ends, so that the shell's session stays clean.

use std::io::Write;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use crossbeam_channel::select;
use izaber_wamp::{
    CallError, CallOptions, CancelToken, Client, Event, Invocation, Match, PublishOptions,
    RegisterOptions, SubscribeOptions,
};
use serde_json::{Value, json};

use crate::connection::{ConnectionArgs, Lifetime};
use crate::failure::Failure;
use crate::load::{self, LoadArgs};
use crate::values::{self, Arguments};
use crate::{interrupt, output};

/// What a command runs with: the session, and the settings to open more (load mode).
pub struct Context<'a> {
    pub connection: &'a ConnectionArgs,
    pub client: &'a Client,
    /// The session is this command's alone (not the shell's), so that a service command may
    /// end it with a graceful shutdown.
    pub owns_session: bool,
}

/// Calls a procedure and prints its result.
///
/// The result is printed as JSON: the single positional result when that is all the callee
/// returned (as Python's `wamp.call` returns it), else `{"args": [...], "kwargs": {...}}`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  izaber-wamp call auth.whoami
  izaber-wamp call example.add 1 2                 # [1, 2]
  izaber-wamp call x.y 1 '\"1\"' abc                 # [1, \"1\", \"abc\"]
  izaber-wamp call x.y -k name=motor -k speed=2.5
  izaber-wamp call \"example.call('pos1', 2, keyword1='value1')\"
  izaber-wamp call x.count --progress               # one line per progressive result
  echo 42 | izaber-wamp call \"x.read({stdin}, ['code'])\"
ZERP, as Python's wampcli writes it (database: --zerp-database or wamp.zerp.database):
  izaber-wamp call \"product.product:object.execute.read([1], ['name'])\"
  izaber-wamp call \"product.product..search([('sale_ok', '=', True)])\"")]
pub struct CallArgs {
    /// The procedure (relative URIs get the configured uri_base), or a Python-style call such
    /// as "x.y('a', 2, k=3)". `{stdin}` anywhere is replaced by what is piped in. ZERP's
    /// forms are rewritten as wampcli does: `model:method` is `zerp:<database>:model:method`
    /// and `model..shorthand` uses izaber-wamp-zerp's shorthands (`..read`, `..search_fetch`).
    uri: String,
    /// Positional arguments: one that parses as JSON is that JSON, anything else a string.
    args: Vec<String>,
    /// A keyword argument, KEY=VALUE (VALUE read as the positional ones).
    #[arg(short = 'k', long = "kwarg", value_name = "KEY=VALUE")]
    kwargs: Vec<String>,
    /// A CALL option, KEY=VALUE (e.g. -o timeout=5000, the router's timeout in ms).
    #[arg(short = 'o', long = "option", value_name = "KEY=VALUE")]
    options: Vec<String>,
    /// Reads {"args": [...], "kwargs": {...}} from FILE, or from stdin with `-`.
    #[arg(long, value_name = "FILE|-")]
    args_json: Option<String>,
    /// Asks for progressive results and prints each on its own line before the result.
    #[arg(long, conflicts_with = "repeat")]
    progress: bool,
    #[command(flatten)]
    load: LoadArgs,
}

impl CallArgs {
    /// What can be checked before connecting.
    pub fn check(&self) -> Result<(), Failure> {
        self.load.check()
    }
}

pub fn call(context: &Context, args: CallArgs) -> Result<(), Failure> {
    args.load.check()?;
    let arguments = values::gather(
        &args.uri,
        &args.args,
        &args.kwargs,
        args.args_json.as_deref(),
    )?;
    let mut options = CallOptions::new();
    for option in &args.options {
        let (key, value) = values::key_value(option, "-o")?;
        options = options.option(&key, value);
    }
    let Arguments {
        uri,
        args: positional,
        kwargs,
    } = arguments;
    let uri = zerp_uri(&uri, || {
        context.connection.settings().map(|s| s.zerp_database)
    })?;
    let client = context.client;
    if args.load.is_load() {
        let what = format!("call {}", client.full_uri(&uri));
        return run_load(context, &args.load, &what, &|session| {
            session
                .call_with(&uri, &positional, &kwargs, &options)
                .map(|_| ())
        });
    }
    // Ctrl-C cancels the call at the router (CANCEL), then the command ends.
    let token = CancelToken::new();
    let options = options.cancel_token(&token);
    let presses = interrupt::presses()?;
    let (finished, done) = crossbeam_channel::bounded::<()>(0);
    let watcher = std::thread::spawn(move || {
        select! {
            recv(presses) -> _ => { token.cancel(); true }
            recv(done) -> _ => false,
        }
    });
    let result = if args.progress {
        client.call_progressive(&uri, &positional, &kwargs, &options, |progress| {
            output::print_line(&output::compact(&output::result_value(&progress)));
        })
    } else {
        client.call_with(&uri, &positional, &kwargs, &options)
    };
    drop(finished);
    if watcher.join().unwrap_or(false) {
        return Err(Failure::Interrupted);
    }
    output::print(&output::result_value(&result?));
    Ok(())
}

/// Publishes an event.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  izaber-wamp publish example.topic hello
  izaber-wamp pub \"example.topic(args=[1, 2], kwargs={'k': 42})\"
  izaber-wamp publish example.topic 1 -k unit=mm --ack")]
pub struct PublishArgs {
    /// The topic, or a Python-style publication such as "t('a', k=1)" or
    /// "t(args=[1, 2], kwargs={'k': 42})". `{stdin}` is replaced by what is piped in.
    topic: String,
    /// Positional arguments: one that parses as JSON is that JSON, anything else a string.
    args: Vec<String>,
    /// A keyword argument, KEY=VALUE.
    #[arg(short = 'k', long = "kwarg", value_name = "KEY=VALUE")]
    kwargs: Vec<String>,
    /// A PUBLISH option, KEY=VALUE (e.g. -o exclude_me=false).
    #[arg(short = 'o', long = "option", value_name = "KEY=VALUE")]
    options: Vec<String>,
    /// Reads {"args": [...], "kwargs": {...}} from FILE, or from stdin with `-`.
    #[arg(long, value_name = "FILE|-")]
    args_json: Option<String>,
    /// Waits for the router's acknowledgement and prints the publication id; a refusal is
    /// an error (exit 1).
    #[arg(long)]
    ack: bool,
    #[command(flatten)]
    load: LoadArgs,
}

impl PublishArgs {
    /// What can be checked before connecting.
    pub fn check(&self) -> Result<(), Failure> {
        self.load.check()
    }
}

pub fn publish(context: &Context, args: PublishArgs) -> Result<(), Failure> {
    args.load.check()?;
    let arguments = values::gather(
        &args.topic,
        &args.args,
        &args.kwargs,
        args.args_json.as_deref(),
    )?;
    let mut options = PublishOptions::new().acknowledge(args.ack);
    for option in &args.options {
        let (key, value) = values::key_value(option, "-o")?;
        options = options.option(&key, value);
    }
    if args.load.is_load() {
        let acknowledged = if args.ack { " (acknowledged)" } else { "" };
        let uri = context.client.full_uri(&arguments.uri);
        return run_load(
            context,
            &args.load,
            &format!("publish {uri}{acknowledged}"),
            &|session| {
                session
                    .publish_with(&arguments.uri, &arguments.args, &arguments.kwargs, &options)
                    .map(|_| ())
            },
        );
    }
    let published =
        context
            .client
            .publish_with(&arguments.uri, &arguments.args, &arguments.kwargs, &options);
    if let Some(publication) = published? {
        output::print(&publication);
    }
    Ok(())
}

/// Load mode: the command's session plus `--parallel` - 1 more, each request made by
/// `request`, stopped early by Ctrl-C.
fn run_load(
    context: &Context,
    args: &LoadArgs,
    what: &str,
    request: &(dyn Fn(&Client) -> Result<(), izaber_wamp::Error> + Sync),
) -> Result<(), Failure> {
    let sessions = load::Sessions::open(context.client, args.parallel, &|| {
        context.connection.connect(Lifetime::OneShot)
    })?;
    load::run(
        args,
        what,
        sessions.clients(),
        request,
        &interrupt::presses()?,
    )
}

/// Prints one JSON line per event: {"args": [...], "kwargs": {...}}, with "topic" and
/// "details" too under --details.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  izaber-wamp subscribe example.topic
  izaber-wamp subscribe example -o match=prefix --details
  izaber-wamp subscribe example.topic --count 1 | jq .args[0]")]
pub struct SubscribeArgs {
    /// The topic (a prefix or a pattern with -o match=prefix|wildcard).
    topic: String,
    /// A SUBSCRIBE option, KEY=VALUE; match=prefix or match=wildcard for patterns.
    #[arg(short = 'o', long = "option", value_name = "KEY=VALUE")]
    options: Vec<String>,
    /// Adds the topic and the event's details to each line.
    #[arg(long)]
    details: bool,
    /// Stops after N events.
    #[arg(long, value_name = "N")]
    count: Option<u64>,
}

pub fn subscribe(context: &Context, args: SubscribeArgs) -> Result<(), Failure> {
    let mut options = SubscribeOptions::new();
    for option in &args.options {
        let (key, value) = values::key_value(option, "-o")?;
        options = match (key.as_str(), &value) {
            ("match", Value::String(policy)) => options.match_policy(match_policy(policy)?),
            _ => options.option(&key, value),
        };
    }
    let interrupted = interrupt::presses()?;
    let client = context.client;
    let (events_tx, events) = crossbeam_channel::unbounded::<Event>();
    let subscription = client.subscribe_with(&args.topic, &options, move |event: Event| {
        let _ = events_tx.send(event);
    })?;
    log::info!("subscribed to {}", client.full_uri(&args.topic));
    let mut seen = 0;
    let outcome = loop {
        if args.count.is_some_and(|count| seen >= count) {
            break Ok(());
        }
        select! {
            recv(events) -> event => {
                let Ok(event) = event else { break Ok(()) };
                let mut line = json!({
                    "args": output::to_json(&event.args),
                    "kwargs": output::to_json(&event.kwargs),
                });
                if args.details {
                    line["topic"] = json!(event.topic);
                    line["details"] = output::to_json(&event.details);
                }
                output::print_line(&output::compact(&line));
                seen += 1;
            }
            recv(interrupted) -> _ => {
                interrupt::stopping();
                break Err(Failure::Interrupted);
            }
        }
    };
    if let Err(e) = client.unsubscribe(subscription) {
        log::warn!("could not unsubscribe: {e:#}");
    }
    outcome
}

/// Serves a procedure until Ctrl-C or SIGTERM (or --count invocations), answering with a
/// command's output or with the call's own arguments.
///
/// On Ctrl-C or SIGTERM it stops as a service should: it withdraws the registration (so that
/// the router sends new calls to the other callees of a shared procedure), lets the
/// invocations already routed to it finish (a running --exec command included) within
/// --grace seconds, then leaves. A second Ctrl-C or SIGTERM exits at once. In the shell, the
/// registration is simply removed.
///
/// With --exec, each invocation runs CMD with {"args": [...], "kwargs": {...}, "details":
/// {...}} as JSON on its stdin; its stdout is the result (JSON, or else the text as a
/// string); a non-zero exit is answered with the error
/// com.izaber.wamp.error.command_failed carrying its stderr. With --echo the result is
/// {"args": [...], "kwargs": {...}} of the call. The registration comes back after a
/// reconnect, as the library's always do.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  izaber-wamp register example.echo --echo
  izaber-wamp register example.upper --exec tr a-z A-Z
  izaber-wamp register example.count --count 1 --exec jq '.args | length'")]
pub struct RegisterArgs {
    /// The procedure (or a prefix / pattern with -o match=prefix|wildcard).
    uri: String,
    /// A REGISTER option, KEY=VALUE: match=prefix|wildcard, invoke=roundrobin|random|..., or
    /// any other option the router knows.
    #[arg(short = 'o', long = "option", value_name = "KEY=VALUE")]
    options: Vec<String>,
    /// How many invocations run at once (default 1; more wait their turn).
    #[arg(long, value_name = "N", default_value_t = 1)]
    concurrency: usize,
    /// Stops after answering N invocations.
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// Answers with the call's arguments.
    #[arg(long, conflicts_with = "exec")]
    echo: bool,
    /// On Ctrl-C or SIGTERM, how long invocations already received may take to finish.
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
    grace: f64,
    /// The command (and its arguments) to run per invocation; everything after it is its.
    #[arg(long, num_args = 1.., allow_hyphen_values = true, value_name = "CMD")]
    exec: Vec<String>,
}

pub fn register(context: &Context, args: RegisterArgs) -> Result<(), Failure> {
    if !args.echo && args.exec.is_empty() {
        return Err(Failure::usage(
            "register needs --exec CMD [ARG...] or --echo",
        ));
    }
    if args.concurrency == 0 {
        return Err(Failure::usage("--concurrency must be at least 1"));
    }
    if args.grace.is_nan() || args.grace < 0.0 {
        return Err(Failure::usage(format!(
            "--grace must be a number of seconds, zero or more, not {}",
            args.grace
        )));
    }
    let grace = Duration::try_from_secs_f64(args.grace).unwrap_or(Duration::MAX);
    let mut options = RegisterOptions::new().concurrency(args.concurrency);
    for option in &args.options {
        let (key, value) = values::key_value(option, "-o")?;
        options = match (key.as_str(), &value) {
            ("match", Value::String(policy)) => options.match_policy(match_policy(policy)?),
            _ => options.option(&key, value),
        };
    }
    let interrupted = interrupt::presses()?;
    let client = context.client;
    let answered = Arc::new(AtomicU64::new(0));
    let (done_tx, done) = crossbeam_channel::unbounded::<()>();
    let exec = Arc::new(args.exec);
    let counted = answered.clone();
    // Answers this command's handler gives, counted by the library once they are sent.
    let answered_before = client.stats().invocations_answered;
    let registration =
        client.register_with(&args.uri, &options, move |invocation: Invocation| {
            let answer = if exec.is_empty() {
                Ok(json!({
                    "args": output::to_json(&invocation.args),
                    "kwargs": output::to_json(&invocation.kwargs),
                }))
            } else {
                run_command(&exec, &invocation)
            };
            counted.fetch_add(1, Ordering::SeqCst);
            let _ = done_tx.send(());
            answer
        })?;
    log::info!("serving {}", client.full_uri(&args.uri));
    let outcome = loop {
        if let Some(count) = args.count
            && answered.load(Ordering::SeqCst) >= count
        {
            // The handler has returned its answer, but the library may not have written it
            // yet: closing first would make the router cancel the call. Wait (briefly) until
            // the library has handed the last answer to the connection.
            let deadline = Instant::now() + Duration::from_secs(5);
            while client.stats().invocations_answered - answered_before < count
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(2));
            }
            break Ok(());
        }
        select! {
            recv(done) -> _ => {}
            recv(interrupted) -> _ => {
                interrupt::stopping();
                break Err(Failure::Interrupted);
            }
        }
    };
    if context.owns_session {
        let report = client.shutdown(grace);
        if report.lost_nothing() {
            log::info!("{report}");
        } else {
            log::warn!("{report}");
        }
    } else if let Err(e) = client.unregister(registration) {
        log::warn!("could not unregister: {e:#}");
    }
    outcome
}

/// Runs `command` with the invocation as JSON on its stdin.
fn run_command(command: &[String], invocation: &Invocation) -> Result<Value, CallError> {
    let input = json!({
        "args": output::to_json(&invocation.args),
        "kwargs": output::to_json(&invocation.kwargs),
        "details": output::to_json(&invocation.details),
    });
    let failed = |message: String| CallError::new("com.izaber.wamp.error.command_failed", message);
    let mut child = std::process::Command::new(&command[0])
        .args(&command[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(format!("cannot run {}: {e:#}", command[0])))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    // A command that exits without reading its input closes the pipe: not our error.
    let _ = stdin.write_all(output::compact(&input).as_bytes());
    drop(stdin);
    let finished = child
        .wait_with_output()
        .map_err(|e| failed(format!("{} failed: {e:#}", command[0])))?;
    if !finished.status.success() {
        let stderr = String::from_utf8_lossy(&finished.stderr);
        return Err(failed(format!(
            "{} exited with {}: {}",
            command[0],
            finished.status,
            stderr.trim_end()
        )));
    }
    let stdout = String::from_utf8_lossy(&finished.stdout);
    let stdout = stdout.trim_end_matches(['\n', '\r']);
    Ok(serde_json::from_str(stdout).unwrap_or_else(|_| Value::String(stdout.to_owned())))
}

/// Logs in, prints the session's welcome and leaves: the quickest "can I reach Nexus?".
pub fn join(context: &Context) -> Result<(), Failure> {
    let client = context.client;
    let welcome = client.welcome_details();
    let roles = welcome
        .get("roles")
        .and_then(|roles| roles.as_dict())
        .map(|roles| roles.keys().cloned().collect::<Vec<_>>())
        .unwrap_or_default();
    let shown = json!({
        "session": client.session_id(),
        "authid": client.authid(),
        "authrole": client.authrole(),
        "authmethod": output::to_json(&welcome.get("authmethod")),
        "authprovider": output::to_json(&welcome.get("authprovider")),
        "router_roles": roles,
        "serializer": client.serializer().to_string(),
    });
    output::print(&shown);
    Ok(())
}

/// Nexus's own services, with the library's helpers.
#[derive(Subcommand, Debug)]
pub enum NexusCommand {
    /// Who the router says you are (auth.whoami).
    #[command(
        after_help = "Example:\n  izaber-wamp whoami\n  izaber-wamp --user me whoami    # asks for the password"
    )]
    Whoami,
    /// Rosters: named lists (roster.*) that sessions join with data of their own.
    #[command(subcommand)]
    Roster(RosterCommand),
    /// Per-user metadata stored by Nexus.
    #[command(subcommand)]
    Metadata(MetadataCommand),
    /// One-time passwords of the logged-in user.
    #[command(subcommand)]
    Otp(UuidCommand),
    /// API keys of the logged-in user.
    #[command(subcommand)]
    Apikeys(ApikeysCommand),
    /// The directory (Active Directory) as Nexus sees it.
    #[command(subcommand)]
    Ad(AdCommand),
}

#[derive(Subcommand, Debug)]
pub enum RosterCommand {
    /// The entries of a roster (their data).
    #[command(after_help = "Example:\n  izaber-wamp roster query roster.testers")]
    Query { name: String },
    /// Adds this session to a roster with DATA (JSON, or else a string). An entry lives as
    /// long as its session: at once gone when the command ends, unless --hold keeps it until
    /// Ctrl-C (or until the shell's session ends).
    #[command(
        after_help = "Examples:\n  izaber-wamp roster register roster.testers '{\"bench\": 3}' --hold\n  izaber-wamp shell    # then: roster register roster.testers 1, ..., roster unregister roster.testers"
    )]
    Register {
        name: String,
        data: String,
        /// Keeps the session (and its entry) until Ctrl-C.
        #[arg(long)]
        hold: bool,
    },
    /// Removes this session's entry (so in practice: in the shell).
    #[command(after_help = "Example (in the shell):\n  roster unregister roster.testers")]
    Unregister { name: String },
}

#[derive(Subcommand, Debug)]
pub enum MetadataCommand {
    /// The value stored under KEY.
    #[command(after_help = "Example:\n  izaber-wamp metadata get colour")]
    Get { key: String },
    /// Stores VALUE (JSON, or else a string) under KEY.
    #[command(
        after_help = "Examples:\n  izaber-wamp metadata set colour blue\n  izaber-wamp metadata set limits '{\"speed\": 2.5}'"
    )]
    Set { key: String, value: String },
    /// Every key and value.
    #[command(after_help = "Example:\n  izaber-wamp metadata list | jq 'keys'")]
    List,
    /// Removes KEY.
    #[command(after_help = "Example:\n  izaber-wamp metadata delete colour")]
    Delete { key: String },
}

#[derive(Subcommand, Debug)]
pub enum UuidCommand {
    /// Makes a one-time password; the answer holds it (`plaintext_key`) and its uuid.
    #[command(
        after_help = "Example:\n  IZABER_WAMP_PASSWORD=$(izaber-wamp otp create | jq -r .plaintext_key) izaber-wamp whoami"
    )]
    Create,
    /// Your one-time passwords (without their keys).
    #[command(after_help = "Example:\n  izaber-wamp otp list")]
    List,
    /// Removes the one with UUID.
    #[command(after_help = "Example:\n  izaber-wamp otp delete 0b6e3c3e-...")]
    Delete {
        /// Nexus uuids are URL-safe base64 and may start with "-".
        #[arg(allow_hyphen_values = true)]
        uuid: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum ApikeysCommand {
    /// Makes a key; DATA (JSON, or else a string) describes it. The answer holds the key
    /// (`plaintext_key`), shown this once.
    #[command(after_help = "Example:\n  izaber-wamp apikeys create '{\"description\": \"ci\"}'")]
    Create { data: Option<String> },
    /// Your keys (without their secrets).
    #[command(after_help = "Example:\n  izaber-wamp apikeys list")]
    List,
    /// Removes the key with UUID.
    #[command(after_help = "Example:\n  izaber-wamp apikeys delete 0b6e3c3e-...")]
    Delete {
        /// Nexus uuids are URL-safe base64 and may start with "-".
        #[arg(allow_hyphen_values = true)]
        uuid: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum AdCommand {
    /// The directory's users.
    #[command(after_help = "Example:\n  izaber-wamp ad users | jq '.[].attributes.sAMAccountName'")]
    Users,
    /// The directory's groups.
    #[command(after_help = "Example:\n  izaber-wamp ad groups")]
    Groups,
}

pub fn nexus(context: &Context, command: NexusCommand) -> Result<(), Failure> {
    let result = nexus_request(context.client, command)?;
    output::print(&output::to_json(&result));
    Ok(())
}

fn nexus_request(
    client: &Client,
    command: NexusCommand,
) -> Result<izaber_wamp::protocol::Value, Failure> {
    use NexusCommand as N;
    let json = values::json_or_string;
    Ok(match command {
        N::Whoami => client.whoami()?,
        N::Roster(RosterCommand::Query { name }) => client.roster_query(&name)?,
        N::Roster(RosterCommand::Register { name, data, hold }) => {
            let interrupted = if hold {
                Some(interrupt::presses()?)
            } else {
                None
            };
            let registered = client.roster_register(&name, json(&data))?;
            if let Some(interrupted) = interrupted {
                output::print(&output::to_json(&registered));
                log::info!("in roster {name} until Ctrl-C or SIGTERM");
                let _ = interrupted.recv();
                interrupt::stopping();
                let _ = client.roster_unregister(&name);
                return Err(Failure::Interrupted);
            }
            registered
        }
        N::Roster(RosterCommand::Unregister { name }) => client.roster_unregister(&name)?,
        N::Metadata(MetadataCommand::Get { key }) => client.metadata_get(&key)?,
        N::Metadata(MetadataCommand::Set { key, value }) => {
            client.metadata_set(&key, json(&value))?
        }
        N::Metadata(MetadataCommand::List) => client.metadata_list()?,
        N::Metadata(MetadataCommand::Delete { key }) => client.metadata_delete(&key)?,
        N::Otp(UuidCommand::Create) => client.otp_create()?,
        N::Otp(UuidCommand::List) => client.otp_list()?,
        N::Otp(UuidCommand::Delete { uuid }) => client.otp_delete(&uuid)?,
        N::Apikeys(ApikeysCommand::Create { data }) => {
            client.apikeys_create(data.as_deref().map_or(json!({}), json))?
        }
        N::Apikeys(ApikeysCommand::List) => client.apikeys_list()?,
        N::Apikeys(ApikeysCommand::Delete { uuid }) => client.apikeys_delete(&uuid)?,
        N::Ad(AdCommand::Users) => client.ad_users()?,
        N::Ad(AdCommand::Groups) => client.ad_groups()?,
    })
}

fn match_policy(policy: &str) -> Result<Match, Failure> {
    match policy {
        "exact" => Ok(Match::Exact),
        "prefix" => Ok(Match::Prefix),
        "wildcard" => Ok(Match::Wildcard),
        other => Err(Failure::usage(format!(
            "match must be exact, prefix or wildcard, not {other:?}"
        ))),
    }
}

/// Python wampcli's ZERP forms, as URIs relative to the URI base: `model:method` is
/// `zerp:<database>:model:method`, `model..shorthand` is the same with the shorthand's
/// method. Anything else (`auth.whoami`, a URI starting with `com` or `wamp`, or one already
/// starting `zerp:`) is left as it is. `database` is asked only for a ZERP form.
fn zerp_uri(
    uri: &str,
    database: impl FnOnce() -> Result<Option<String>, Failure>,
) -> Result<String, Failure> {
    let is_zerp_form =
        !(uri.starts_with("com") || uri.starts_with("wamp") || uri.starts_with("zerp:"))
            && (uri.contains("..") || uri.contains(':'));
    if !is_zerp_form {
        return Ok(uri.to_owned());
    }
    let Some(database) = database()? else {
        return Err(Failure::usage(format!(
            "{uri} is a ZERP procedure, but no ZERP database is set: use --zerp-database \
             or wamp.zerp.database in izaber.yaml"
        )));
    };
    let relative = match uri.split_once("..") {
        Some((model, shorthand)) => {
            format!("{model}:{}", izaber_wamp::zerp::method_for(shorthand))
        }
        None => uri.to_owned(),
    };
    Ok(format!("zerp:{database}:{relative}"))
}

#[cfg(test)]
mod zerp_tests {
    use super::*;

    fn expanded(uri: &str) -> String {
        zerp_uri(uri, || Ok(Some("sandbox".to_owned()))).unwrap()
    }

    #[test]
    fn wampclis_zerp_forms_become_zerp_uris() {
        assert_eq!(
            expanded("product.product:object.execute.read"),
            "zerp:sandbox:product.product:object.execute.read"
        );
        assert_eq!(
            expanded("product.product..read"),
            "zerp:sandbox:product.product:object.execute.read"
        );
        assert_eq!(
            expanded("product.product..search_fetch"),
            "zerp:sandbox:product.product:object.execute.zerp_search_read"
        );
        assert_eq!(
            expanded("res.users..hello"),
            "zerp:sandbox:res.users:object.execute.hello"
        );
        for unchanged in [
            "auth.whoami",
            "com.izaber.wamp.zerp:testing:product.product:object.execute.read",
            "wamp.session.count",
            "zerp:testing:product.product:object.execute.read",
        ] {
            let asked = std::cell::Cell::new(false);
            let got = zerp_uri(unchanged, || {
                asked.set(true);
                Ok(None)
            })
            .unwrap();
            assert_eq!(got, unchanged);
            assert!(!asked.get(), "{unchanged}: the database was not needed");
        }
        let error = zerp_uri("product.product..read", || Ok(None)).unwrap_err();
        assert!(matches!(error, Failure::Usage(ref m) if m.contains("--zerp-database")));
    }
}
