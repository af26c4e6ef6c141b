//! `izaber-wamp`: Nexus (or any WAMP router) from the shell, scripts and pipes.
//!
//! Every command reads the same configuration as the library (`izaber.yaml`, `IZABER_YAML`,
//! `IZABER_ENVIRONMENT`), with command-line and `IZABER_WAMP_*` overrides. stdout carries
//! only data (JSON); messages go to stderr. Exit codes are in [`failure`].

mod commands;
mod connection;
mod failure;
mod interrupt;
mod load;
mod output;
mod pyexpr;
mod shell;
mod types;
mod values;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use commands::Context;
use connection::{ConnectionArgs, Lifetime};
use failure::Failure;

const AFTER_HELP: &str = "\
Exit codes: 0 ok, 1 the router (or the callee) answered with an error (with --repeat: any \
request failed), 2 usage or invalid input, 3 cannot connect or log in (or the connection was \
lost), 4 timeout, 130 interrupted.

Examples:
  izaber-wamp whoami
  izaber-wamp call example.add 1 2
  izaber-wamp call \"example.call('pos1', 2, keyword1='value1')\"
  izaber-wamp --url ws://127.0.0.1:8282/ws --user backend-1 join
  izaber-wamp subscribe example.topic --count 3
  izaber-wamp register example.upper --exec tr a-z A-Z
  izaber-wamp shell < commands.txt";

#[derive(Parser)]
#[command(
    name = "izaber-wamp",
    version,
    about = "Nexus (or any WAMP router) from the shell: call, publish, subscribe, register",
    after_help = AFTER_HELP
)]
struct Cli {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// More messages on stderr (-v: info, -vv: debug). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    Call(commands::CallArgs),
    #[command(visible_alias = "pub")]
    Publish(commands::PublishArgs),
    #[command(visible_alias = "sub")]
    Subscribe(commands::SubscribeArgs),
    Register(commands::RegisterArgs),
    /// Writes serde structs for ZERP models from their live schema (fields_get): Python's
    /// `python -m izaber_wamp_zerp generate-types`.
    GenerateTypes(types::GenerateTypesArgs),
    /// Logs in, prints the session (id, authid, role, authmethod, router roles) and leaves:
    /// the quickest "can I reach Nexus?".
    #[command(
        after_help = "Examples:\n  izaber-wamp join\n  izaber-wamp --url wss://nexus.example.com/ws --user me join"
    )]
    Join,
    #[command(flatten)]
    Nexus(commands::NexusCommand),
    /// The same commands on one connection, at a prompt or read line by line from a pipe.
    Shell(shell::ShellArgs),
    /// Prints a completion script for a shell.
    #[command(
        after_help = "Examples:\n  izaber-wamp completions bash > ~/.local/share/bash-completion/completions/izaber-wamp\n  izaber-wamp completions zsh > ~/.zfunc/_izaber-wamp\n  izaber-wamp completions fish > ~/.config/fish/completions/izaber-wamp.fish"
    )]
    Completions {
        /// bash, zsh, fish, powershell or elvish.
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { failure::USAGE } else { 0 });
        }
    };
    init_logging(cli.verbose, cli.quiet);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            failure.report();
            ExitCode::from(failure.code())
        }
    }
}

fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level))
        .format_timestamp(None)
        .format_target(false)
        .init();
}

fn run(cli: Cli) -> Result<(), Failure> {
    let connection = &cli.connection;
    let command = match cli.command {
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "izaber-wamp",
                &mut std::io::stdout(),
            );
            return Ok(());
        }
        Command::Shell(args) => return shell::run(connection, args),
        command => command,
    };
    match &command {
        Command::Call(args) => args.check()?,
        Command::Publish(args) => args.check()?,
        _ => {}
    }
    let client = connection.connect(command.lifetime())?;
    let outcome = execute(
        &Context {
            connection,
            client: &client,
            owns_session: true,
        },
        command,
    );
    client.close();
    outcome
}

impl Command {
    /// Commands that wait keep their session through reconnects; the others fail at once
    /// when it drops.
    fn lifetime(&self) -> Lifetime {
        match self {
            Command::Subscribe(_) | Command::Register(_) | Command::Shell(_) => Lifetime::Service,
            Command::Nexus(commands::NexusCommand::Roster(commands::RosterCommand::Register {
                hold: true,
                ..
            })) => Lifetime::Service,
            _ => Lifetime::OneShot,
        }
    }
}

/// Runs one command on a session (the command's own, or the shell's).
pub(crate) fn execute(context: &Context, command: Command) -> Result<(), Failure> {
    match command {
        Command::Call(args) => commands::call(context, args),
        Command::Publish(args) => commands::publish(context, args),
        Command::Subscribe(args) => commands::subscribe(context, args),
        Command::Register(args) => commands::register(context, args),
        Command::GenerateTypes(args) => types::generate_types(context, args),
        Command::Join => commands::join(context),
        Command::Nexus(command) => commands::nexus(context, command),
        Command::Shell(_) | Command::Completions { .. } => Err(Failure::usage(
            "shell and completions are not available inside the shell",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent_and_every_command_shows_examples() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            let subcommands: Vec<_> = command
                .get_subcommands()
                .filter(|c| c.get_name() != "help")
                .collect();
            if subcommands.is_empty() {
                let help = command
                    .get_after_help()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                if !help.contains("Example") {
                    missing.push(path.to_owned());
                }
            }
            for sub in subcommands {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        Cli::command().debug_assert();
        let mut missing = Vec::new();
        walk(&Cli::command(), "izaber-wamp", &mut missing);
        assert!(missing.is_empty(), "no examples in --help: {missing:?}");
    }

    #[test]
    fn a_uuid_that_starts_with_a_hyphen_is_a_uuid() {
        // One Nexus uuid in 64 starts with "-" (URL-safe base64); `-v` still counts as a flag
        // before it.
        for command in ["otp", "apikeys"] {
            let cli = Cli::try_parse_from(["izaber-wamp", "-v", command, "delete", "-lq3sQ"])
                .unwrap_or_else(|e| panic!("{command}: {e}"));
            assert_eq!(cli.verbose, 1);
            use commands::{ApikeysCommand, NexusCommand, UuidCommand};
            let uuid = match cli.command {
                Command::Nexus(NexusCommand::Otp(UuidCommand::Delete { uuid }))
                | Command::Nexus(NexusCommand::Apikeys(ApikeysCommand::Delete { uuid })) => uuid,
                _ => panic!("{command}: not a delete"),
            };
            assert_eq!(uuid, "-lq3sQ");
        }
    }
}
