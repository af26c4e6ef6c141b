//! `izaber-wamp shell`: the same commands on one connection, typed at a prompt (line
//! editing, history kept across runs, tab completion of commands and of URIs used before) or
//! read from a pipe, line by line, so that a file of commands works as a script.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser};
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{Editor, Helper};

use crate::Command;
use crate::commands::Context;
use crate::connection::{ConnectionArgs, Lifetime};
use crate::failure::Failure;

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  izaber-wamp shell
  izaber-wamp shell < commands.txt       # one command per line; # starts a comment
  printf 'whoami\\ncall example.add 1 2\\n' | izaber-wamp shell")]
pub struct ShellArgs {
    /// Where the prompt keeps its history (default: izaber-wamp/history in the user's data
    /// directory: $XDG_DATA_HOME, else ~/.local/share; on Windows %APPDATA%).
    #[arg(long, value_name = "FILE")]
    history: Option<PathBuf>,
}

/// One line of the shell: any command but `shell` and `completions`.
#[derive(Parser)]
#[command(no_binary_name = true, name = "", disable_version_flag = true)]
struct Line {
    #[command(subcommand)]
    command: Command,
}

const PROMPT: &str = "izaber-wamp> ";

pub fn run(connection: &ConnectionArgs, args: ShellArgs) -> Result<(), Failure> {
    let client = connection.connect(Lifetime::Service)?;
    let context = Context {
        connection,
        client: &client,
        owns_session: false,
    };
    let outcome = if std::io::stdin().is_terminal() {
        interactive(&context, args.history.or_else(default_history))
    } else {
        script(&context)
    };
    client.close();
    outcome
}

/// Runs each line of stdin. A failing line is reported and the script goes on; the exit
/// code is that of the first failure.
fn script(context: &Context) -> Result<(), Failure> {
    let mut first_failure = None;
    for (number, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line.map_err(|e| Failure::usage(format!("cannot read stdin: {e}")))?;
        match run_line(context, &line) {
            Ok(Flow::Continue) => {}
            Ok(Flow::Exit) => break,
            Err(Failure::Interrupted) => return Err(Failure::Interrupted),
            Err(failure) => {
                eprint!("line {}: ", number + 1);
                failure.report();
                first_failure.get_or_insert(failure.code());
            }
        }
    }
    match first_failure {
        Some(code) => Err(Failure::Reported(code)),
        None => Ok(()),
    }
}

fn interactive(context: &Context, history: Option<PathBuf>) -> Result<(), Failure> {
    let editor_error = |e: ReadlineError| Failure::usage(format!("the line editor failed: {e}"));
    let helper = Completions::new(history.as_ref());
    let mut editor: Editor<Completions, DefaultHistory> = Editor::new().map_err(editor_error)?;
    editor.set_helper(Some(helper));
    if let Some(path) = &history {
        // A first run has no history yet.
        let _ = editor.load_history(path);
    }
    eprintln!(
        "connected as {} (session {}); `help` lists the commands, Ctrl-D leaves",
        context.client.authid().unwrap_or_default(),
        context.client.session_id().unwrap_or_default()
    );
    loop {
        let line = match editor.readline(PROMPT) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(editor_error(e)),
        };
        if line.trim().is_empty() {
            continue;
        }
        let _ = editor.add_history_entry(line.as_str());
        if let Some(helper) = editor.helper_mut() {
            helper.learn(&line);
        }
        match run_line(context, &line) {
            Ok(Flow::Continue) => {}
            Ok(Flow::Exit) => break,
            Err(Failure::Interrupted) => eprintln!("interrupted"),
            Err(failure) => failure.report(),
        }
    }
    if let Some(path) = &history {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = editor.save_history(path) {
            log::warn!("could not save the history to {}: {e}", path.display());
        }
    }
    Ok(())
}

enum Flow {
    Continue,
    Exit,
}

fn run_line(context: &Context, line: &str) -> Result<Flow, Failure> {
    let words = split_words(line)?;
    let Some(first) = words.first() else {
        return Ok(Flow::Continue);
    };
    match first.as_str() {
        "exit" | "quit" => return Ok(Flow::Exit),
        "help" | "?" => {
            let _ = Line::command().print_help();
            return Ok(Flow::Continue);
        }
        _ => {}
    }
    if line.contains("{stdin}") || words.iter().any(|w| w == "-") {
        return Err(Failure::usage(
            "stdin is the shell's own input: {stdin} and `-` are not available here",
        ));
    }
    let parsed = match Line::try_parse_from(&words) {
        Ok(parsed) => parsed,
        Err(e) if e.use_stderr() => return Err(Failure::usage(e.to_string().trim_end())),
        Err(e) => {
            // --help of a command
            let _ = e.print();
            return Ok(Flow::Continue);
        }
    };
    crate::execute(context, parsed.command).map(|()| Flow::Continue)
}

/// Splits a line as a POSIX shell would, without expansions: blanks separate words; single
/// quotes keep everything; double quotes keep everything but `\"` and `\\`; a backslash
/// outside quotes keeps the next character; `#` at the start of a word begins a comment.
pub fn split_words(line: &str) -> Result<Vec<String>, Failure> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => words.extend(word.take()),
            '#' if word.is_none() => break,
            '\'' => {
                let word = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(Failure::usage("unterminated ' quote")),
                    }
                }
            }
            '"' => {
                let word = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(Failure::usage("unterminated \" quote")),
                        },
                        Some(c) => word.push(c),
                        None => return Err(Failure::usage("unterminated \" quote")),
                    }
                }
            }
            '\\' => {
                let word = word.get_or_insert_with(String::new);
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err(Failure::usage("a lone \\ at the end of the line")),
                }
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

fn default_history() -> Option<PathBuf> {
    history_in(|name| std::env::var_os(name), cfg!(windows))
}

/// The history file in the user's data directory, found through the environment (`var`).
/// `XDG_DATA_HOME` first, wherever it is set (the tests set it, to keep the machine's history
/// out). Then `~/.local/share` on unix, macOS included, as other command-line tools there
/// keep it; on Windows the roaming application data (`%APPDATA%`, which Windows sets for
/// every user; else the same folder under `%USERPROFILE%`), where a user's settings follow
/// them from machine to machine.
fn history_in(var: impl Fn(&str) -> Option<OsString>, windows: bool) -> Option<PathBuf> {
    let path = |name| var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let data = path("XDG_DATA_HOME").or_else(|| {
        if windows {
            path("APPDATA")
                .or_else(|| path("USERPROFILE").map(|p| p.join("AppData").join("Roaming")))
        } else {
            path("HOME").map(|home| home.join(".local").join("share"))
        }
    })?;
    Some(data.join("izaber-wamp").join("history"))
}

/// Tab completion: command names first, then URIs used before (in this run or in the
/// history), for the commands that take one.
struct Completions {
    commands: Vec<String>,
    uris: BTreeSet<String>,
}

/// The commands whose first argument is a URI.
const TAKES_URI: [&str; 6] = ["call", "publish", "pub", "subscribe", "sub", "register"];

impl Completions {
    fn new(history: Option<&PathBuf>) -> Completions {
        let mut commands: Vec<String> = Line::command()
            .get_subcommands()
            .flat_map(|c| {
                std::iter::once(c.get_name().to_owned())
                    .chain(c.get_visible_aliases().map(str::to_owned))
            })
            .filter(|name| name != "shell" && name != "completions")
            .collect();
        commands.extend(["help", "exit"].map(String::from));
        commands.sort();
        let mut completions = Completions {
            commands,
            uris: BTreeSet::new(),
        };
        if let Some(text) = history.and_then(|path| std::fs::read_to_string(path).ok()) {
            for line in text.lines() {
                completions.learn(line);
            }
        }
        completions
    }

    /// Remembers the URI of a command line, for completion.
    fn learn(&mut self, line: &str) {
        let Ok(words) = split_words(line) else { return };
        if let [command, uri, ..] = words.as_slice()
            && TAKES_URI.contains(&command.as_str())
        {
            let uri = uri.split('(').next().unwrap_or_default().trim();
            if !uri.is_empty() && !uri.starts_with('-') {
                self.uris.insert(uri.to_owned());
            }
        }
    }
}

impl Completer for Completions {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let start = before.rfind(char::is_whitespace).map_or(0, |i| i + 1);
        let partial = &before[start..];
        let earlier: Vec<&str> = before[..start].split_whitespace().collect();
        let candidates: Vec<&String> = match earlier.as_slice() {
            [] => self.commands.iter().collect(),
            [command] if TAKES_URI.contains(command) => self.uris.iter().collect(),
            _ => Vec::new(),
        };
        let pairs = candidates
            .into_iter()
            .filter(|c| c.starts_with(partial))
            .map(|c| Pair {
                display: c.clone(),
                replacement: c.clone(),
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Hinter for Completions {
    type Hint = String;
}
impl Highlighter for Completions {}
impl Validator for Completions {}
impl Helper for Completions {}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(vars: &[(&str, &str)], windows: bool) -> Option<PathBuf> {
        history_in(
            |name| {
                vars.iter()
                    .find(|(set, _)| *set == name)
                    .map(|(_, value)| OsString::from(value))
            },
            windows,
        )
    }

    #[test]
    fn the_history_goes_to_the_users_data_directory_on_each_system() {
        let file = |dir: &str| Some(PathBuf::from(dir).join("izaber-wamp").join("history"));
        let home = ("HOME", "/home/u");
        assert_eq!(history(&[home], false), file("/home/u/.local/share"));
        assert_eq!(
            history(&[home, ("XDG_DATA_HOME", "/data")], false),
            file("/data")
        );
        assert_eq!(
            history(&[("XDG_DATA_HOME", ""), home], false),
            file("/home/u/.local/share")
        );
        assert_eq!(history(&[], false), None);

        let appdata = ("APPDATA", r"C:\Users\u\AppData\Roaming");
        let profile = ("USERPROFILE", r"C:\Users\u");
        assert_eq!(history(&[appdata, profile, home], true), file(appdata.1));
        let roaming = PathBuf::from(profile.1).join("AppData").join("Roaming");
        assert_eq!(
            history(&[profile], true),
            Some(roaming.join("izaber-wamp").join("history"))
        );
        assert_eq!(
            history(&[home], true),
            None,
            "no unix directories on Windows"
        );
    }

    fn words(line: &str) -> Vec<String> {
        split_words(line).unwrap()
    }

    #[test]
    fn words_split_as_a_shell_would() {
        assert_eq!(words("call x.y 1 2"), ["call", "x.y", "1", "2"]);
        assert_eq!(words("  call   x.y  "), ["call", "x.y"]);
        assert_eq!(
            words(r#"call x.y '"1"' "a b" c\ d"#),
            ["call", "x.y", "\"1\"", "a b", "c d"]
        );
        assert_eq!(
            words(r#"call "x.y('a', 2, k=\"v\")""#),
            ["call", "x.y('a', 2, k=\"v\")"]
        );
        assert_eq!(words("call x # a comment"), ["call", "x"]);
        assert_eq!(words("call x a#b"), ["call", "x", "a#b"]);
        assert_eq!(words("call x ''"), ["call", "x", ""]);
        assert!(words("").is_empty());
        assert!(split_words("call 'x").is_err());
        assert!(split_words("call \"x").is_err());
        assert!(split_words("call x\\").is_err());
    }

    #[test]
    fn completion_learns_uris() {
        let mut completions = Completions::new(None);
        completions.learn("call example.add 1 2");
        completions.learn("pub \"example.topic(args=[1])\"");
        completions.learn("whoami");
        assert_eq!(
            completions.uris.iter().collect::<Vec<_>>(),
            ["example.add", "example.topic"]
        );
        assert!(completions.commands.contains(&"call".to_owned()));
        assert!(completions.commands.contains(&"sub".to_owned()));
        assert!(!completions.commands.contains(&"shell".to_owned()));
    }
}
