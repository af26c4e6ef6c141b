//! Parses `wampcli`-style call expressions, written the way Python writes a call, into JSON.
//!
//! Zaber's Python `wampcli` (package `izaber-wamp-zerp`) takes commands such as
//! `call "product.product..read(1596, ['default_code'])"` and hands the part between the
//! parentheses to Python's `eval`. This module accepts the same text without evaluating
//! anything: only literals are understood (strings, numbers, `True`/`False`/`None`, lists,
//! tuples, dicts), and JSON's `true`/`false`/`null` too, so that piped JSON works.
//!
//! Where the result must differ from Python because it has to become JSON:
//! - tuples become arrays;
//! - dict keys must be strings; integer keys become their decimal string, as Python's
//!   `json.dumps` does; any other key is an error; a repeated key keeps its last value;
//! - integers must fit in `i64` or `u64`, and floats must be finite (`inf`/`nan` are errors);
//! - sets are errors, except `{{...}}` around a dict, which reads as that dict: wampcli ran
//!   every command through `str.format`, so its users had to double the braces of dicts;
//! - `\/` in a string is `/` (JSON's meaning; Python would keep the backslash);
//! - `\uD83D\uDE00` pairs are joined as in JSON; a lone surrogate is an error.

use serde_json::{Map, Number, Value};
use std::fmt;

/// Deeper nesting is refused: the parser recurses, and hostile input must not overflow the stack.
const MAX_DEPTH: usize = 128;

const NOT_FINITE: &str = "inf and nan cannot be represented in JSON";

/// A parsed call or publish expression.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedCall {
    /// Everything before the `(`, trimmed; not expanded or validated beyond the absence of
    /// whitespace, `#` and Python punctuation, so wampcli's shorthands (`model..read`) and
    /// wildcard patterns (`a..c`) reach the caller intact.
    pub uri: String,
    /// The positional arguments.
    pub args: Vec<Value>,
    /// The keyword arguments; sorted by name unless serde_json's `preserve_order` is enabled.
    pub kwargs: Map<String, Value>,
}

/// Why an expression or literal could not be parsed, and where.
///
/// `Display` gives the message, the position, the offending line and a caret under the
/// position. Positions count characters (not bytes) from 1, in the text as parsed, i.e.
/// after `{stdin}` substitution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    message: String,
    line: usize,
    column: usize,
    multiline: bool,
    excerpt: String,
    caret: usize,
}

#[cfg(test)]
impl ParseError {
    /// The message alone, without position or excerpt.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The line of the error, counted from 1.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The column of the error within its line, counted in characters from 1.
    pub fn column(&self) -> usize {
        self.column
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (message, line, column) = (&self.message, self.line, self.column);
        let head = match self.multiline {
            true => format!("{message} at line {line}, column {column}: "),
            false => format!("{message} at column {column}: "),
        };
        let pad = head.chars().count() + self.caret;
        write!(f, "{head}{}\n{:pad$}^", self.excerpt, "")
    }
}

impl std::error::Error for ParseError {}

/// Parses `uri(arg, ..., name=value, ...)`, or a bare `uri`, which has no arguments.
///
/// As in Python, a positional argument after a keyword argument and a repeated keyword are
/// errors. The explicit form `uri(args=[...], kwargs={...})` (either part may be left out),
/// which wampcli's `pub` needs, is recognised when those are the only arguments, `args` is a
/// list or tuple and `kwargs` a dict: it yields those as the positional and keyword
/// arguments. To send a keyword really named `args`, write `uri(kwargs={'args': ...})`.
pub fn parse_call(expression: &str) -> Result<ParsedCall, ParseError> {
    let mut p = Parser::new(expression);
    p.skip_ws();
    let start = p.pos;
    while p.peek().is_some_and(|c| c != '(') {
        p.pos += 1;
    }
    let mut end = p.pos;
    while end > start && is_ws(p.chars[end - 1]) {
        end -= 1;
    }
    if end == start {
        return Err(p.err(start, "expected a URI"));
    }
    // Whitespace and punctuation in the URI almost always mean a typo such as a missing '('.
    let bad = |c: char| is_ws(c) || "#)[]{}'\",".contains(c);
    if let Some(i) = (start..end).find(|&i| bad(p.chars[i])) {
        let c = p.chars[i];
        return Err(p.err(i, format!("character {c:?} is not allowed in a URI")));
    }
    let uri: String = p.chars[start..end].iter().collect();
    let (mut args, mut kwargs) = (Vec::new(), Map::new());
    if p.eat('(') {
        p.arguments(&mut args, &mut kwargs)?;
    }
    p.skip_ws();
    if p.peek().is_some() {
        return Err(p.err(p.pos, "unexpected text after the closing ')'"));
    }
    let explicit = args.is_empty()
        && !kwargs.is_empty()
        && kwargs.get("args").is_none_or(Value::is_array)
        && kwargs.get("kwargs").is_none_or(Value::is_object)
        && kwargs.keys().all(|k| k == "args" || k == "kwargs");
    if explicit {
        if let Some(Value::Array(a)) = kwargs.remove("args") {
            args = a;
        }
        kwargs = match kwargs.remove("kwargs") {
            Some(Value::Object(k)) => k,
            _ => Map::new(),
        };
    }
    Ok(ParsedCall { uri, args, kwargs })
}

/// One Python literal or JSON value. (The CLI takes single arguments as JSON or strings;
/// this exposes the literal grammar to the tests.)
///
/// Surrounding whitespace is ignored; anything else after the value is an error. A bare word
/// such as `hello` is an error ("unknown name"), not a string: the caller decides whether to
/// fall back to taking the text as a string.
#[cfg(test)]
pub fn parse_literal(text: &str) -> Result<Value, ParseError> {
    let mut p = Parser::new(text);
    let value = p.value()?;
    p.skip_ws();
    match p.peek() {
        None => Ok(value),
        Some(_) => Err(p.err(p.pos, "unexpected text after the value")),
    }
}

/// Replaces every `{stdin}` with `input` (trimmed of trailing whitespace).
///
/// The substitution is textual, as in wampcli, so the input may be a literal (`{stdin}`
/// unquoted, fed the printed result of a previous call) or any piece of the expression, even
/// the URI. Inside quotes (`'{stdin}'`) input that contains the same quote breaks the string.
/// Unlike wampcli (Python's `str.format`), other braces are left alone, so `{{` is not
/// needed, and like wampcli all trailing whitespace is trimmed (`str.rstrip`), not only the
/// final newline. `{stdin}` inside the input is not substituted again.
pub fn substitute_stdin(expression: &str, input: &str) -> String {
    expression.replace("{stdin}", input.trim_end())
}

fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c')
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_ident(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn new(text: &str) -> Self {
        let chars = text.chars().collect();
        Parser {
            chars,
            pos: 0,
            depth: 0,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        let found = self.peek() == Some(c);
        self.pos += usize::from(found);
        found
    }

    fn err(&self, at: usize, message: impl Into<String>) -> ParseError {
        let at = at.min(self.chars.len());
        let line_start = self.chars[..at]
            .iter()
            .rposition(|c| *c == '\n')
            .map_or(0, |i| i + 1);
        let line_len = self.chars[line_start..]
            .iter()
            .take_while(|c| **c != '\n')
            .count();
        let column = at - line_start;
        // A piped result can make a line megabytes long: show a window around the column.
        let (from, to) = (column.saturating_sub(40), (column + 40).min(line_len));
        let mut excerpt = String::from(if from > 0 { "..." } else { "" });
        let caret = column - from + excerpt.len();
        let line = &self.chars[line_start..line_start + line_len];
        excerpt.extend(
            line[from..to]
                .iter()
                .map(|&c| if c.is_control() { ' ' } else { c }),
        );
        if to < line_len {
            excerpt.push_str("...");
        }
        ParseError {
            message: message.into(),
            line: self.chars[..at].iter().filter(|c| **c == '\n').count() + 1,
            column: column + 1,
            multiline: self.chars.contains(&'\n'),
            excerpt,
            caret,
        }
    }

    /// Skips whitespace, including backslash-newline line continuations.
    fn skip_ws(&mut self) {
        loop {
            match self.peek() {
                Some(c) if is_ws(c) => self.pos += 1,
                Some('\\') if self.peek_at(1) == Some('\n') => self.pos += 2,
                Some('\\') if self.peek_at(1) == Some('\r') && self.peek_at(2) == Some('\n') => {
                    self.pos += 3;
                }
                _ => return,
            }
        }
    }

    fn ident(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(is_ident) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    /// Consumes `name =` (but not `name ==`) and returns the name, or consumes nothing.
    fn keyword(&mut self) -> Option<String> {
        let start = self.pos;
        if self.peek().is_some_and(is_ident_start) {
            let name = self.ident();
            self.skip_ws();
            if self.peek() == Some('=') && self.peek_at(1) != Some('=') {
                self.pos += 1;
                return Some(name);
            }
        }
        self.pos = start;
        None
    }

    /// Parses an argument list after its `(`, up to and including the `)`.
    fn arguments(
        &mut self,
        args: &mut Vec<Value>,
        kwargs: &mut Map<String, Value>,
    ) -> Result<(), ParseError> {
        loop {
            self.skip_ws();
            if self.eat(')') {
                return Ok(());
            }
            let start = self.pos;
            if let Some(name) = self.keyword() {
                if matches!(name.as_str(), "True" | "False" | "None") {
                    return Err(self.err(start, format!("cannot use {name} as a keyword name")));
                }
                if kwargs.contains_key(&name) {
                    return Err(self.err(start, format!("keyword argument repeated: {name}")));
                }
                let value = self.value()?;
                kwargs.insert(name, value);
            } else if self.peek() == Some('*') {
                return Err(self.err(start, "argument unpacking with '*' is not supported"));
            } else if !kwargs.is_empty() {
                return Err(self.err(start, "positional argument follows keyword argument"));
            } else {
                args.push(self.value()?);
            }
            self.skip_ws();
            if self.eat(')') {
                return Ok(());
            }
            if !self.eat(',') {
                return Err(self.err(self.pos, "expected ',' or ')'"));
            }
        }
    }

    fn value(&mut self) -> Result<Value, ParseError> {
        self.skip_ws();
        let start = self.pos;
        if self.depth >= MAX_DEPTH {
            return Err(self.err(start, "nesting too deep"));
        }
        self.depth += 1;
        let value = match self.peek() {
            None => Err(self.err(start, "unexpected end of input: expected a value")),
            Some('[') => {
                self.pos += 1;
                self.items(']').map(Value::Array)
            }
            Some('(') => self.tuple(),
            Some('{') => self.dict(),
            Some('-' | '+') => self.signed(),
            Some(_) if self.at_number() => self.number(false, start),
            Some(c) if c == '"' || c == '\'' || is_ident_start(c) => self.word_or_string(),
            Some(c) => Err(self.err(start, format!("unexpected {c:?}: expected a value"))),
        };
        self.depth -= 1;
        value
    }

    /// Values separated by commas up to `close`, which is consumed; a trailing comma is fine.
    fn items(&mut self, close: char) -> Result<Vec<Value>, ParseError> {
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            if self.eat(close) {
                return Ok(items);
            }
            items.push(self.value()?);
            self.skip_ws();
            if self.eat(close) {
                return Ok(items);
            }
            if !self.eat(',') {
                return Err(self.err(self.pos, format!("expected ',' or '{close}'")));
            }
        }
    }

    /// `()` and `(a,)` are tuples, `(a)` is just `a`, as in Python.
    fn tuple(&mut self) -> Result<Value, ParseError> {
        self.pos += 1;
        self.skip_ws();
        if self.eat(')') {
            return Ok(Value::Array(Vec::new()));
        }
        let first = self.value()?;
        self.skip_ws();
        if self.eat(')') {
            return Ok(first);
        }
        if !self.eat(',') {
            return Err(self.err(self.pos, "expected ',' or ')'"));
        }
        let mut items = vec![first];
        items.extend(self.items(')')?);
        Ok(Value::Array(items))
    }

    fn dict(&mut self) -> Result<Value, ParseError> {
        let open = self.pos;
        self.pos += 1;
        let mut map = Map::new();
        loop {
            self.skip_ws();
            if self.eat('}') {
                return Ok(Value::Object(map));
            }
            let key_start = self.pos;
            let key = self.value()?;
            self.skip_ws();
            if !self.eat(':') {
                if !map.is_empty() || !matches!(self.peek(), Some(',' | '}')) {
                    return Err(self.err(self.pos, "expected ':'"));
                }
                // wampcli's str.format forced `{{...}}` for a dict; in Python that is a set
                // holding a dict, which is an error anyway, so giving it wampcli's meaning is safe.
                if key.is_object() && self.chars[open + 1] == '{' && self.eat('}') {
                    return Ok(key);
                }
                return Err(self.err(open, "sets are not supported (JSON has no sets)"));
            }
            let key = match key {
                Value::String(s) => s,
                Value::Number(n) if !n.is_f64() => n.to_string(),
                _ => return Err(self.err(key_start, "dict keys must be strings or integers")),
            };
            let value = self.value()?;
            map.insert(key, value);
            self.skip_ws();
            if !self.eat(',') && self.peek() != Some('}') {
                return Err(self.err(self.pos, "expected ',' or '}'"));
            }
        }
    }

    fn signed(&mut self) -> Result<Value, ParseError> {
        let start = self.pos;
        let negative = self.peek() == Some('-');
        self.pos += 1;
        self.skip_ws();
        if self.at_number() {
            return self.number(negative, start);
        }
        match self.ident().as_str() {
            "inf" | "Infinity" | "nan" | "NaN" => Err(self.err(start, NOT_FINITE)),
            _ => Err(self.err(start, "expected a number after the sign")),
        }
    }

    fn number(&mut self, negative: bool, start: usize) -> Result<Value, ParseError> {
        let tok = self.pos;
        let radix = match (self.peek(), self.peek_at(1)) {
            (Some('0'), Some('x' | 'X')) => 16,
            (Some('0'), Some('o' | 'O')) => 8,
            (Some('0'), Some('b' | 'B')) => 2,
            _ => 10,
        };
        let mut float = false;
        if radix != 10 {
            self.pos += 2;
            while self.peek().is_some_and(|c| c.is_digit(radix) || c == '_') {
                self.pos += 1;
            }
        } else {
            self.digits();
            if self.eat('.') {
                float = true;
                self.digits();
            }
            let sign = usize::from(matches!(self.peek_at(1), Some('+' | '-')));
            if matches!(self.peek(), Some('e' | 'E'))
                && self.peek_at(1 + sign).is_some_and(|c| c.is_ascii_digit())
            {
                float = true;
                self.pos += 1 + sign;
                self.digits();
            }
        }
        let text: String = self.chars[tok..self.pos].iter().collect();
        let digits = if radix == 10 { &text[..] } else { &text[2..] };
        // Python allows '_' only between digits (and right after a radix prefix).
        let misplaced: &[&str] = match radix {
            10 => &["__", "_.", "._", "_e", "_E"],
            _ => &["__"],
        };
        let bad_underscore = misplaced.iter().any(|s| digits.contains(s));
        let invalid = digits.is_empty() || digits.ends_with('_') || bad_underscore;
        if invalid || self.peek().is_some_and(|c| is_ident(c) || c == '.') {
            return Err(self.err(start, "invalid number literal"));
        }
        let clean = digits.replace('_', "");
        if float {
            let f = clean
                .parse::<f64>()
                .map_err(|_| self.err(start, "invalid number literal"))?;
            let f = if negative { -f } else { f };
            let too_big = "float out of range: it would be inf, which JSON cannot represent";
            return Number::from_f64(f)
                .map(Value::Number)
                .ok_or_else(|| self.err(start, too_big));
        }
        if radix == 10 && clean.starts_with('0') && clean.bytes().any(|b| b != b'0') {
            let message = "leading zeros in decimal integer literals are not permitted";
            return Err(self.err(start, message));
        }
        let value = u64::from_str_radix(&clean, radix)
            .ok()
            .and_then(|m| match negative {
                true => 0i64.checked_sub_unsigned(m).map(Value::from),
                false => Some(Value::from(m)),
            });
        let too_big = "integer out of range: JSON integers must fit in i64 or u64; use a string";
        value.ok_or_else(|| self.err(start, too_big))
    }

    fn at_number(&self) -> bool {
        let digit = |c: Option<char>| c.is_some_and(|c| c.is_ascii_digit());
        digit(self.peek()) || (self.peek() == Some('.') && digit(self.peek_at(1)))
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit() || c == '_') {
            self.pos += 1;
        }
    }

    /// Names (`True`, `null`, ...), `dict(k=v)`, and strings with their `r`/`u` prefixes.
    /// Adjacent strings are joined, as Python does and as `pprint` relies on to wrap long ones.
    fn word_or_string(&mut self) -> Result<Value, ParseError> {
        let start = self.pos;
        let mut joined: Option<String> = None;
        loop {
            let word_start = self.pos;
            let prefix = self.ident();
            if !matches!(self.peek(), Some('"' | '\'')) {
                self.pos = word_start;
                break;
            }
            let raw = match prefix.to_ascii_lowercase().as_str() {
                "" | "u" => Ok(false),
                "r" => Ok(true),
                p if p.contains('b') => {
                    Err(self.err(word_start, "bytes literals are not supported"))
                }
                p if p.contains('f') => Err(self.err(word_start, "f-strings are not supported")),
                _ => Err(self.err(word_start, format!("unknown string prefix {prefix:?}"))),
            }?;
            let s = self.string(raw, word_start)?;
            joined.get_or_insert_with(String::new).push_str(&s);
            self.skip_ws();
        }
        if let Some(s) = joined {
            return Ok(Value::String(s));
        }
        let name = self.ident();
        match name.as_str() {
            "True" | "true" => Ok(Value::Bool(true)),
            "False" | "false" => Ok(Value::Bool(false)),
            "None" | "null" => Ok(Value::Null),
            "inf" | "Infinity" | "nan" | "NaN" => Err(self.err(start, NOT_FINITE)),
            _ => {
                self.skip_ws();
                if name == "dict" && self.eat('(') {
                    let mut positional = Vec::new();
                    let mut map = Map::new();
                    self.arguments(&mut positional, &mut map)?;
                    if !positional.is_empty() {
                        return Err(self.err(start, "only dict(name=value, ...) is supported"));
                    }
                    Ok(Value::Object(map))
                } else if self.peek() == Some('(') {
                    Err(self.err(
                        start,
                        format!("{name}(...) is a call; only literals are allowed"),
                    ))
                } else {
                    Err(self.err(start, format!("unknown name {name:?} (quote strings)")))
                }
            }
        }
    }

    /// One string literal from its opening quote.
    fn string(&mut self, raw: bool, start: usize) -> Result<String, ParseError> {
        let quote = self.chars[self.pos];
        self.pos += 1;
        let triple = self.peek() == Some(quote) && self.peek_at(1) == Some(quote);
        self.pos += if triple { 2 } else { 0 };
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.err(start, "unterminated string literal"));
            };
            self.pos += 1;
            match c {
                c if c == quote && !triple => return Ok(out),
                c if c == quote && self.peek() == Some(quote) && self.peek_at(1) == Some(quote) => {
                    self.pos += 2;
                    return Ok(out);
                }
                '\n' if !triple => {
                    let message = "unterminated string literal (for a newline write \\n)";
                    return Err(self.err(start, message));
                }
                '\\' if raw => {
                    // Even in raw strings a backslash keeps the next character from ending it.
                    out.push('\\');
                    if let Some(next) = self.peek() {
                        out.push(next);
                        self.pos += 1;
                    }
                }
                '\\' => self.escape(&mut out, start)?,
                c => out.push(c),
            }
        }
    }

    fn escape(&mut self, out: &mut String, start: usize) -> Result<(), ParseError> {
        let at = self.pos - 1;
        let Some(c) = self.peek() else {
            return Err(self.err(start, "unterminated string literal"));
        };
        self.pos += 1;
        let simple = match c {
            '\n' => None,
            '\r' => {
                self.eat('\n');
                None
            }
            '\\' | '\'' | '"' | '/' => Some(c),
            'a' => Some('\x07'),
            'b' => Some('\x08'),
            'f' => Some('\x0c'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\x0b'),
            '0'..='7' => {
                let mut code = c.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match self.peek().and_then(|d| d.to_digit(8)) {
                        Some(d) => code = code * 8 + d,
                        None => break,
                    }
                    self.pos += 1;
                }
                char::from_u32(code)
            }
            'x' | 'u' | 'U' => {
                let len = match c {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let Some(mut code) = self.hex(len) else {
                    return Err(self.err(at, format!("truncated \\{c} escape")));
                };
                if (0xD800..0xDC00).contains(&code)
                    && self.peek() == Some('\\')
                    && self.peek_at(1) == Some('u')
                {
                    let back = self.pos;
                    self.pos += 2;
                    match self.hex(4) {
                        Some(low @ 0xDC00..0xE000) => {
                            code = 0x10000 + ((code - 0xD800) << 10) + low - 0xDC00
                        }
                        _ => self.pos = back,
                    }
                }
                let bad = || {
                    self.err(
                        at,
                        format!("\\{c}{code:0len$X} is not a Unicode scalar value"),
                    )
                };
                Some(char::from_u32(code).ok_or_else(bad)?)
            }
            'N' => return Err(self.err(at, "\\N{...} escapes are not supported")),
            // Python keeps unknown escapes as written.
            other => {
                out.push('\\');
                Some(other)
            }
        };
        out.extend(simple);
        Ok(())
    }

    fn hex(&mut self, len: usize) -> Option<u32> {
        let mut code = 0;
        for _ in 0..len {
            code = code * 16 + self.peek()?.to_digit(16)?;
            self.pos += 1;
        }
        Some(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Each case: Python text and the JSON it must give.
    fn literals(cases: &[(&str, &str)]) {
        for (text, expected) in cases {
            let got = parse_literal(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            let expected: Value = serde_json::from_str(expected).expect(expected);
            assert_eq!(got, expected, "{text:?}");
        }
    }

    /// Each case: input, column of the error, part of its message.
    fn errors(parse: fn(&str) -> Result<(), ParseError>, cases: &[(&str, usize, &str)]) {
        for (text, column, part) in cases {
            let e = parse(text).expect_err(text);
            assert!(e.message().contains(part), "{text:?}: {e}");
            assert_eq!(e.column(), *column, "{text:?}: {e}");
        }
    }

    fn literal_errors(cases: &[(&str, usize, &str)]) {
        errors(|t| parse_literal(t).map(drop), cases);
    }

    fn call(expr: &str) -> Value {
        let c = parse_call(expr).unwrap_or_else(|e| panic!("{expr:?}: {e}"));
        json!([c.uri, c.args, c.kwargs])
    }

    #[test]
    fn examples_from_the_issue() {
        let expected = json!(["example.call", ["pos1", 2], {"keyword1": "value1"}]);
        assert_eq!(call("example.call('pos1', 2, keyword1='value1')"), expected);
        let expected = json!(["topic", [1, 2], {"k": 42}]);
        assert_eq!(call("topic(args=[1, 2], kwargs={'k': 42})"), expected);
        assert_eq!(call("example.call"), json!(["example.call", [], {}]));
        assert_eq!(call("  example.call  \n"), json!(["example.call", [], {}]));
        assert_eq!(call("x.y()"), json!(["x.y", [], {}]));
        let piped = substitute_stdin("x.read({stdin}, ['code'])", "[1, 2, 3]\n");
        assert_eq!(call(&piped), json!(["x.read", [[1, 2, 3], ["code"]], {}]));
    }

    #[test]
    fn wampcli_documentation_examples() {
        let full = "com.izaber.wamp.zerp:sandbox:product.product:object.execute.read";
        assert_eq!(
            call(&format!("{full}(1596, ['default_code'])"))[0],
            json!(full)
        );
        let expected = json!(["product.product..read", [1596, ["default_code"]], {}]);
        assert_eq!(
            call("product.product..read(1596, ['default_code'])"),
            expected
        );
        let expected = json!(["com.ghar.api.randtext.generate", ["8pc"], {"count": 5}]);
        assert_eq!(
            call("com.ghar.api.randtext.generate('8pc', count=5)"),
            expected
        );
        let search = call("product.product..search([('default_code', 'like', 'X-LSQ')])");
        assert_eq!(search[1], json!([[["default_code", "like", "X-LSQ"]]]));
        // wampcli needed `{{` because of str.format; such commands keep working.
        let expected = json!(["t", [1, 2], {"var1": 42}]);
        assert_eq!(call("t(args=[1, 2], kwargs={{'var1': 42}})"), expected);
    }

    #[test]
    fn stdin_substitution() {
        // Textual, so the input may supply part of the call, as wampcli documents.
        let expr = substitute_stdin("com.some.{stdin})", "uri('Hello'\n");
        assert_eq!(call(&expr), json!(["com.some.uri", ["Hello"], {}]));
        assert_eq!(
            substitute_stdin("u('{stdin}')", "Hello \r\n\n"),
            "u('Hello')"
        );
        let once = substitute_stdin("{stdin}{stdin} {x} {{y}}", " {stdin}");
        assert_eq!(once, " {stdin} {stdin} {x} {{y}}");
        // pprint output of a previous call: wrapped lines, u'' from Python 2, split strings.
        let printed = "[{u'code': u'X-LSQ150B',\n  'id': 1596,\n  'name': ('a long name '\n  \
                       'wrapped by pprint')},\n {'id': -2, 'ok': True, 'p': None}]\n";
        let first =
            json!({"code": "X-LSQ150B", "id": 1596, "name": "a long name wrapped by pprint"});
        let expected = json!([[first, {"id": -2, "ok": true, "p": null}]]);
        assert_eq!(
            call(&substitute_stdin("m.write({stdin})", printed))[1],
            expected
        );
        let piped_json = "{\n  \"a\": [true, false, null, 1.5e3, \"\\u00e9\\/\"]\n}\n";
        let expected = json!(["m", [{"a": [true, false, null, 1500.0, "é/"]}], {}]);
        assert_eq!(call(&substitute_stdin("m({stdin})", piped_json)), expected);
    }

    #[test]
    fn strings() {
        literals(&[
            (r#"'it''s'"#, r#""its""#),
            (r#""say 'hi'""#, r#""say 'hi'""#),
            (r#"'a\'b\"c\\d'"#, r#""a'b\"c\\d""#),
            (
                r"'\n\t\r\a\b\f\v\0\101\x41'",
                r#""\n\t\r\u0007\b\f\u000b\u0000AA""#,
            ),
            (r"'\u00e9\U0001F600\ud83d\ude00'", r#""é😀😀""#),
            (r"'\q\/'", r#""\\q/""#),
            ("'a\\\nb'", r#""ab""#),
            ("'''one\n'two'\n\"three\"'''", r#""one\n'two'\n\"three\"""#),
            (r#""""x "y" z""""#, r#""x \"y\" z""#),
            ("''", r#""""#),
            ("''''''", r#""""#),
            (r"r'C:\new\'x'", r#""C:\\new\\'x""#),
            (r"R'\d+' u'ü' U'x'", r#""\\d+üx""#),
            ("'héllo wörld ✓'", r#""héllo wörld ✓""#),
        ]);
        literal_errors(&[
            ("'abc", 1, "unterminated"),
            ("'ab\ncd'", 1, "unterminated"),
            ("'''abc''", 1, "unterminated"),
            ("'abc\\", 1, "unterminated"),
            (r"r'abc\'", 1, "unterminated"),
            (r"'ab\x4'", 4, "truncated \\x"),
            (r"'\u12'", 2, "truncated \\u"),
            (r"'\U00110000'", 2, "\\U00110000 is not a Unicode scalar"),
            (r"'\ud800'", 2, "\\uD800 is not a Unicode scalar"),
            (r"'\ud800\u0041'", 2, "not a Unicode scalar"),
            (r"'\N{DASH}'", 2, "\\N{"),
            ("b'x'", 1, "bytes"),
            ("f'{x}'", 1, "f-strings"),
            ("ur'x'", 1, "unknown string prefix"),
        ]);
    }

    #[test]
    fn numbers() {
        literals(&[
            (
                "[0, 7, -7, +7, - 7, 1_000_000, 000]",
                "[0, 7, -7, 7, -7, 1000000, 0]",
            ),
            (
                "[0xff, 0XFF, 0x_f, 0x1_e, 0o17, 0b101, -0x10]",
                "[255, 255, 15, 30, 15, 5, -16]",
            ),
            ("18446744073709551615", "18446744073709551615"),
            ("-9223372036854775808", "-9223372036854775808"),
            (
                "[1.5, -0.25, .5, 1., 1e3, 1E-3]",
                "[1.5, -0.25, 0.5, 1.0, 1e3, 1e-3]",
            ),
            (
                "[2.5e+2, 1_0.0_1, 0.0, 0.1, -0.0]",
                "[250.0, 10.01, 0.0, 0.1, -0.0]",
            ),
            ("1.7976931348623157e308", "1.7976931348623157e308"),
        ]);
        literal_errors(&[
            ("18446744073709551616", 1, "integer out of range"),
            ("[1, -9223372036854775809]", 5, "integer out of range"),
            ("0x1_0000_0000_0000_0000", 1, "integer out of range"),
            ("0123", 1, "leading zeros"),
            ("1e400", 1, "float out of range"),
            ("-1e400", 1, "float out of range"),
            ("--1", 1, "expected a number after the sign"),
            ("-'1'", 1, "expected a number after the sign"),
        ]);
        let invalid = [
            "1__0", "1_", "0x", "0x_", "0b2", "12abc", "1j", "1L", "1.2.3", "1e",
        ];
        for bad in invalid
            .iter()
            .chain(&["1e+", "1_.5", "1._5", "1_e5", "0x1__0"])
        {
            literal_errors(&[(bad, 1, "invalid number literal")]);
        }
        for bad in ["inf", "-inf", "nan", "NaN", "Infinity", "-Infinity"] {
            literal_errors(&[(bad, 1, "inf and nan")]);
        }
    }

    #[test]
    fn constants_and_containers() {
        literals(&[
            ("[True, False, None]", "[true, false, null]"),
            ("[true, false, null]", "[true, false, null]"),
            ("(1, 'a')", r#"[1, "a"]"#),
            ("(1,)", "[1]"),
            ("(1)", "1"),
            ("((1))", "1"),
            ("()", "[]"),
            ("[]", "[]"),
            ("{}", "{}"),
            ("[1, 2,]", "[1, 2]"),
            ("{'a': 1,}", r#"{"a": 1}"#),
            (
                " \t\n[ \n 1 ,\r\n ( 2 , ) , { 'k' :\n [ ] } ] \n",
                r#"[1, [2], {"k": []}]"#,
            ),
            ("[1, \\\n 2]", "[1, 2]"),
            (
                "{1: 'a', -2: 'b', 0x10: 'c', 'd': 4}",
                r#"{"1": "a", "-2": "b", "16": "c", "d": 4}"#,
            ),
            ("{'a': 1, 'a': 2}", r#"{"a": 2}"#),
            (
                "{'a': [{'b': ({'c': (None,)},)}]}",
                r#"{"a": [{"b": [{"c": [null]}]}]}"#,
            ),
            ("{{'a': {{'b': 1}}}}", r#"{"a": {"b": 1}}"#),
            ("dict(a=1, b=[2])", r#"{"a": 1, "b": [2]}"#),
            ("dict ()", "{}"),
        ]);
        let deep = format!("{}1{}", "[".repeat(100), "]".repeat(100));
        assert_eq!(parse_literal(&deep).unwrap().to_string(), deep);
    }

    #[test]
    fn container_errors() {
        literal_errors(&[
            ("{1, 2}", 1, "sets are not supported"),
            ("{'a'}", 1, "sets are not supported"),
            ("{{'a': 1}, 2}", 1, "sets are not supported"),
            ("{ {'a': 1} }", 1, "sets are not supported"),
            ("{1.5: 'a'}", 2, "dict keys must be strings or integers"),
            ("{None: 1}", 2, "dict keys must be strings or integers"),
            ("{True: 1}", 2, "dict keys must be strings or integers"),
            ("{(1, 2): 1}", 2, "dict keys must be strings or integers"),
            ("{'a': 1, 'b'}", 13, "expected ':'"),
            ("{'a': 1 'b': 2}", 9, "expected ',' or '}'"),
            ("[1 2]", 4, "expected ',' or ']'"),
            ("(1 2)", 4, "expected ',' or ')'"),
            ("[1,,2]", 4, "unexpected ',': expected a value"),
            ("[1, 2", 6, "expected ',' or ']'"),
            ("[1,", 4, "unexpected end of input"),
            ("", 1, "unexpected end of input"),
            ("   ", 4, "unexpected end of input"),
            ("hello", 1, "unknown name \"hello\""),
            ("set([1])", 1, "set(...) is a call"),
            (
                "datetime.datetime(2020, 1, 1)",
                1,
                "unknown name \"datetime\"",
            ),
            ("dict(1)", 1, "only dict(name=value, ...)"),
            ("1 2", 3, "unexpected text after the value"),
            ("@", 1, "unexpected '@'"),
        ]);
        // Deep nesting is an error, not a stack overflow.
        literal_errors(&[(&"[".repeat(100_000), 129, "nesting too deep")]);
    }

    #[test]
    fn call_arguments() {
        let expected = json!(["f", [1], {"x": "a", "y": [1, 2]}]);
        assert_eq!(call("f(\n  1,\n  x = 'a',\n  y=[1, 2],\n)"), expected);
        assert_eq!(call("f (1)"), json!(["f", [1], {}]));
        let expected = json!(["f", [true, null], {"_p": 1, "ñ": 2, "from": 3}]);
        assert_eq!(call("f(true, null, _p=1, ñ=2, from=3)"), expected);
        assert_eq!(
            call("f((1), (1,), dict(a=1))")[1],
            json!([1, [1], {"a": 1}])
        );
        // WAMP URIs as in the spec, loose URIs and wildcard patterns pass unchanged.
        assert_eq!(
            call("com.myapp.my-topic_2:x!")[0],
            json!("com.myapp.my-topic_2:x!")
        );
        assert_eq!(call("a..c")[0], json!("a..c"));
    }

    #[test]
    fn explicit_args_kwargs_form() {
        assert_eq!(call("t(args=(1, 2))"), json!(["t", [1, 2], {}]));
        assert_eq!(call("t(kwargs={'a': 1})"), json!(["t", [], {"a": 1}]));
        assert_eq!(
            call("t(kwargs={'args': [1]})"),
            json!(["t", [], {"args": [1]}])
        );
        // Not the explicit form: these stay ordinary keyword arguments.
        assert_eq!(call("t(args=5)"), json!(["t", [], {"args": 5}]));
        assert_eq!(call("t(kwargs=[1])"), json!(["t", [], {"kwargs": [1]}]));
        assert_eq!(
            call("t(args=[1], x=2)"),
            json!(["t", [], {"args": [1], "x": 2}])
        );
        assert_eq!(call("t(0, args=[1])"), json!(["t", [0], {"args": [1]}]));
    }

    #[test]
    fn call_errors() {
        let cases = [
            ("example.call('a' 2)", 18, "expected ',' or ')'"),
            (
                "f(a=1, 2)",
                8,
                "positional argument follows keyword argument",
            ),
            ("f(a=1, a=2)", 8, "keyword argument repeated: a"),
            ("f(None=1)", 3, "cannot use None as a keyword name"),
            ("f(*[1])", 3, "unpacking"),
            ("f(**{'a': 1})", 3, "unpacking"),
            ("f(a==1)", 3, "unknown name"),
            ("f(1", 4, "expected ',' or ')'"),
            ("f(", 3, "unexpected end of input"),
            ("f(1) x", 6, "unexpected text after the closing ')'"),
            ("f(1))", 5, "unexpected text after the closing ')'"),
            ("", 1, "expected a URI"),
            ("  (1)", 3, "expected a URI"),
            ("foo bar(1)", 4, "' ' is not allowed in a URI"),
            ("a.#.b", 3, "'#' is not allowed in a URI"),
            ("f'x'", 2, "'\\'' is not allowed in a URI"),
            ("f)", 2, "')' is not allowed in a URI"),
        ];
        errors(|t| parse_call(t).map(drop), &cases);
    }

    #[test]
    fn error_display_points_at_the_column() {
        let e = parse_call("example.call('a' 2)").unwrap_err();
        let head = "expected ',' or ')' at column 18: ";
        // The caret sits under the 18th character of the expression, the `2`.
        let expected = format!(
            "{head}example.call('a' 2)\n{}^",
            " ".repeat(head.len() + 17)
        );
        assert_eq!(e.to_string(), expected);
        let e = parse_call("f(1,\n\t2 3)").unwrap_err();
        assert_eq!((e.line(), e.column()), (2, 4));
        // The tab shows as a space so that the caret stays aligned.
        let head = "expected ',' or ')' at line 2, column 4: ";
        assert_eq!(
            e.to_string(),
            format!("{head} 2 3)\n{}^", " ".repeat(head.len() + 3))
        );
        // A long line is cut to a window around the column.
        let long = format!("f([{}'x' 1])", "1, ".repeat(1000));
        let shown = parse_call(&long).unwrap_err().to_string();
        let (first, caret) = shown.split_once('\n').unwrap();
        assert!(first.len() < 150 && first.contains(": ...1, 1,"), "{shown}");
        assert!(first.ends_with("'x' 1])"), "{shown}");
        assert_eq!(first.chars().nth(caret.len() - 1), Some('1'), "{shown}");
        let _: &dyn std::error::Error = &e;
    }

    #[test]
    fn arbitrary_input_never_panics() {
        let seeds = [
            "example.call('pos1', 2, keyword1='value1')",
            "topic(args=[1, 2], kwargs={'k': 42})",
            "m.r([{u'a': (1, 2.5e-3, -0x1f)}, \"\\u00e9\\ud83d\\ude00\", r'\\'', '''x\ny''']",
            "m.r(\\\n {{'a': 1}}, dict(b=None), 0b1_0, 1_0.5e-1_0, '\\x41\\101\\N{X}', z=+.5)",
        ];
        let pieces = [
            "(", ")", "[", "]", "{", "}", ",", ":", "=", "'", "\"", "'''", "\\", "\\x", "\\u",
            "\\U", "\\N", "\\ud800", "0x", "_", ".", "e", "-", "+", "*", "1", "0", "9e999", "True",
            "inf", "r", "b", "dict", "#", " ", "\n", "é", "😀", "\r", "\0", "a", "{stdin}",
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let mut inputs: Vec<String> = Vec::new();
        for seed in seeds {
            inputs.extend(seed.char_indices().map(|(i, _)| seed[..i].to_string()));
            inputs.extend(seed.char_indices().map(|(i, _)| seed[i..].to_string()));
        }
        for _ in 0..20_000 {
            let len = next(24);
            inputs.push((0..len).map(|_| pieces[next(pieces.len())]).collect());
        }
        for input in &inputs {
            if let Err(e) = parse_call(input) {
                assert!(e.line() >= 1 && e.column() >= 1 && e.to_string().ends_with('^'));
            }
            if let Err(e) = parse_literal(input) {
                assert!(e.line() >= 1 && e.column() >= 1 && e.to_string().ends_with('^'));
            }
            let _ = parse_call(&substitute_stdin(input, input));
        }
    }
}
