//! What goes to stdout: JSON, pretty on a terminal and one line per value when piped, so
//! that `jq` and line-oriented tools read it.

use std::io::{IsTerminal, Write};

use izaber_wamp::CallResult;
use izaber_wamp::protocol::{Dict, Value};
use serde::Serialize;
use serde_json::json;

/// One line of JSON. Values that JSON cannot hold as they are (binary strings) are written
/// as serde writes them (a list of byte values).
pub fn compact(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| format!("\"<not printable: {e}>\""))
}

/// Prints one value: pretty when stdout is a terminal, else on one line.
pub fn print(value: &impl Serialize) {
    let text = if std::io::stdout().is_terminal() {
        serde_json::to_string_pretty(value).unwrap_or_else(|_| compact(value))
    } else {
        compact(value)
    };
    print_line(&text);
}

/// Prints one line and flushes it, so that a reader of a pipe gets each event at once.
/// A closed pipe (`| head -1`) ends the program quietly, as other command-line tools do.
pub fn print_line(text: &str) {
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{text}").and_then(|()| out.flush()).is_err() {
        std::process::exit(0);
    }
}

/// A call's result as the CLI shows it: the single positional result when that is all there
/// is (what Python's `wamp.call` returns), else `{"args": [...], "kwargs": {...}}`.
pub fn result_value(result: &CallResult) -> serde_json::Value {
    shaped(&result.args, &result.kwargs)
}

pub fn shaped(args: &[Value], kwargs: &Dict) -> serde_json::Value {
    match (args, kwargs.is_empty()) {
        ([], true) => serde_json::Value::Null,
        ([only], true) => to_json(only),
        _ => json!({"args": to_json(&args), "kwargs": to_json(kwargs)}),
    }
}

pub fn to_json(value: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or_else(|e| json!(format!("<not printable: {e}>")))
}
