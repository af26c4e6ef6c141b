//! Turning command-line text into call arguments: `ARG...`, `-k KEY=VALUE`, `-o KEY=VALUE`,
//! `--args-json`, and Python-style expressions (`uri('a', 2, k=3)`).

use std::io::Read;

use serde_json::{Map, Value};

use crate::failure::Failure;
use crate::pyexpr;

/// Positional and keyword arguments of one call or publication.
#[derive(Debug, Default, PartialEq)]
pub struct Arguments {
    pub uri: String,
    pub args: Vec<Value>,
    pub kwargs: Map<String, Value>,
}

/// Text that parses as JSON is that JSON; anything else is the text as a string. So `1` is a
/// number, `'"1"'` the string "1", and `abc` the string "abc".
pub fn json_or_string(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// `KEY=VALUE` with the value read by [`json_or_string`].
pub fn key_value(text: &str, flag: &str) -> Result<(String, Value), Failure> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), json_or_string(value))),
        _ => Err(Failure::usage(format!(
            "{flag} wants KEY=VALUE, not {text:?}"
        ))),
    }
}

/// Reads stdin once, for `{stdin}` placeholders and `--args-json -`.
pub fn read_stdin() -> Result<String, Failure> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| Failure::usage(format!("cannot read stdin: {e}")))?;
    Ok(input)
}

/// The arguments of `call`/`publish`: `uri` is a URI or a Python-style expression (then no
/// `ARG`s may follow), `{stdin}` anywhere is replaced by what is piped in, and `-k`s and
/// `--args-json` add to what the rest gives.
pub fn gather(
    uri: &str,
    positional: &[String],
    keywords: &[String],
    args_json: Option<&str>,
) -> Result<Arguments, Failure> {
    let uses_stdin = uri.contains("{stdin}") || positional.iter().any(|a| a.contains("{stdin}"));
    if uses_stdin && args_json == Some("-") {
        return Err(Failure::usage(
            "stdin cannot feed both {stdin} and --args-json -",
        ));
    }
    let input = if uses_stdin {
        read_stdin()?
    } else {
        String::new()
    };
    let uri = pyexpr::substitute_stdin(uri, &input);
    let mut arguments = if uri.contains('(') {
        if !positional.is_empty() {
            return Err(Failure::usage(
                "arguments go inside the parentheses of a Python-style call, not after it",
            ));
        }
        let parsed = pyexpr::parse_call(&uri).map_err(|e| Failure::usage(e.to_string()))?;
        Arguments {
            uri: parsed.uri,
            args: parsed.args,
            kwargs: parsed.kwargs,
        }
    } else {
        Arguments {
            uri: uri.trim().to_owned(),
            args: positional
                .iter()
                .map(|a| json_or_string(&pyexpr::substitute_stdin(a, &input)))
                .collect(),
            kwargs: Map::new(),
        }
    };
    if let Some(source) = args_json {
        let (args, kwargs) = read_args_json(source)?;
        arguments.args.extend(args);
        arguments.kwargs.extend(kwargs);
    }
    for keyword in keywords {
        let (key, value) = key_value(keyword, "-k")?;
        arguments.kwargs.insert(key, value);
    }
    if arguments.uri.is_empty() {
        return Err(Failure::usage("no URI given"));
    }
    Ok(arguments)
}

/// `--args-json FILE|-`: `{"args": [...], "kwargs": {...}}`, either part optional.
fn read_args_json(source: &str) -> Result<(Vec<Value>, Map<String, Value>), Failure> {
    let (text, origin) = if source == "-" {
        (read_stdin()?, "stdin".to_owned())
    } else {
        let text = std::fs::read_to_string(source)
            .map_err(|e| Failure::usage(format!("--args-json: cannot read {source}: {e}")))?;
        (text, source.to_owned())
    };
    let invalid = |why: String| Failure::usage(format!("--args-json ({origin}): {why}"));
    let value: Value =
        serde_json::from_str(&text).map_err(|e| invalid(format!("not JSON: {e}")))?;
    let Value::Object(mut object) = value else {
        return Err(invalid(
            r#"expected {"args": [...], "kwargs": {...}}"#.into(),
        ));
    };
    if let Some(key) = object.keys().find(|k| *k != "args" && *k != "kwargs") {
        return Err(invalid(format!(
            r#"unexpected key {key:?}: expected {{"args": [...], "kwargs": {{...}}}}"#
        )));
    }
    let args = match object.remove("args") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(args)) => args,
        Some(_) => return Err(invalid("\"args\" must be a list".into())),
    };
    let kwargs = match object.remove("kwargs") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(kwargs)) => kwargs,
        Some(_) => return Err(invalid("\"kwargs\" must be an object".into())),
    };
    Ok((args, kwargs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_argument_is_json_when_it_parses_as_json() {
        assert_eq!(json_or_string("1"), json!(1));
        assert_eq!(json_or_string("\"1\""), json!("1"));
        assert_eq!(json_or_string("abc"), json!("abc"));
        assert_eq!(
            json_or_string("[1, {\"a\": null}]"),
            json!([1, {"a": null}])
        );
        assert_eq!(json_or_string(""), json!(""));
    }

    #[test]
    fn plain_arguments_and_keywords() {
        let a = gather(
            "x.y",
            &["1".into(), "\"1\"".into(), "abc".into()],
            &["k=2".into(), "s=text".into()],
            None,
        )
        .unwrap();
        assert_eq!(a.uri, "x.y");
        assert_eq!(a.args, vec![json!(1), json!("1"), json!("abc")]);
        assert_eq!(Value::Object(a.kwargs), json!({"k": 2, "s": "text"}));
    }

    #[test]
    fn python_style_calls() {
        let a = gather("example.call('pos1', 2, keyword1='value1')", &[], &[], None).unwrap();
        assert_eq!(a.uri, "example.call");
        assert_eq!(a.args, vec![json!("pos1"), json!(2)]);
        assert_eq!(Value::Object(a.kwargs), json!({"keyword1": "value1"}));
        assert!(gather("x.y(1)", &["2".into()], &[], None).is_err());
        assert!(gather("x.y(1", &[], &[], None).is_err());
    }

    #[test]
    fn bad_keywords_are_usage_errors() {
        assert!(matches!(
            gather("x", &[], &["novalue".into()], None),
            Err(Failure::Usage(_))
        ));
        assert!(matches!(
            gather("x", &[], &["=1".into()], None),
            Err(Failure::Usage(_))
        ));
    }

    #[test]
    fn args_json_files_are_checked() {
        let dir = std::env::temp_dir().join(format!("izaber-cli-values-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.json");
        std::fs::write(&good, r#"{"args": [1, "a"], "kwargs": {"k": true}}"#).unwrap();
        let a = gather("x", &[], &[], Some(good.to_str().unwrap())).unwrap();
        assert_eq!(a.args, vec![json!(1), json!("a")]);
        assert_eq!(Value::Object(a.kwargs), json!({"k": true}));
        for bad in [r#"{"args": 1}"#, "[1, 2]", "{not json", r#"{"other": 1}"#] {
            let path = dir.join("bad.json");
            std::fs::write(&path, bad).unwrap();
            assert!(
                matches!(
                    gather("x", &[], &[], Some(path.to_str().unwrap())),
                    Err(Failure::Usage(_))
                ),
                "{bad}"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
