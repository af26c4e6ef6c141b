//! Tests that read the crate's own source, for two promises the compiler does not keep:
//!
//! - each layer uses only the layers below it (the crate's *Architecture* docs, the README's
//!   layout table): [`layers_use_only_the_layers_below_them`];
//! - the global `wamp` offers every public method of `Client`:
//!   [`wamp_offers_every_public_client_method`].
//!
//! Both read the source as tokens, with comments, strings and character literals skipped, so a
//! doc comment or a log message that names a module is not a use of it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The crate's layers, lowest first, and the files of each (under `src/`; a name ending in
/// `/` is a directory). A file may use the crate's root names (modules, and what `lib.rs`
/// re-exports or `#[macro_export]` puts at the root) of its own layer and the layers below,
/// and the names its layer's `exceptions` list, each with the reason it is allowed.
///
/// A root name counts as the layer of the module that defines it: `crate::Secret` is
/// `secret`'s, `crate::Client` is `client`'s. `lib.rs` itself is above every layer.
const LAYERS: &[Layer] = &[
    Layer {
        // What every layer may use: no WAMP, no I/O, nothing else of the crate. `memory`
        // holds the bytes of messages (the payload type frames are read into, spare buffers,
        // the allocator's tuning), so that protocol (which decodes into those buffers) and
        // transport (which reads frames into them) build on it without knowing each other.
        // `Secret` is a string that never prints, which protocol's messages carry (tickets,
        // signatures): plain data, so it sits here, and protocol may use it.
        name: "the bottom",
        files: &["memory.rs", "secret.rs", "deadline.rs"],
        exceptions: &[],
    },
    Layer {
        name: "protocol",
        files: &["protocol/"],
        exceptions: &[],
    },
    Layer {
        // The crate's one error enum, which every layer from transport up returns. It wraps
        // protocol's errors; protocol does not use it.
        name: "error",
        files: &["error.rs"],
        exceptions: &[(
            "config",
            "Error::Config holds izaber.yaml's ConfigError, so that `initialize()?` needs no \
             conversion; ConfigError is plain data defined in src/config.rs. Moving it below \
             the error type would end this exception.",
        )],
    },
    Layer {
        // `stop`: the process's stop signal (Ctrl-C, SIGTERM), no WAMP.
        name: "transport",
        files: &["transport/", "stop.rs"],
        exceptions: &[],
    },
    Layer {
        name: "session",
        files: &["session/"],
        exceptions: &[],
    },
    Layer {
        name: "client",
        files: &["client/"],
        exceptions: &[],
    },
    Layer {
        name: "izaber",
        files: &["izaber.rs", "nexus.rs", "config/"],
        exceptions: &[],
    },
    Layer {
        // ZERP through Nexus: calls through `wamp` (or a client), with izaber.yaml's database.
        name: "zerp",
        files: &["zerp/"],
        exceptions: &[],
    },
];

struct Layer {
    name: &'static str,
    files: &'static [&'static str],
    /// Root names of a higher layer that this one may use, and why.
    exceptions: &'static [(&'static str, &'static str)],
}

#[test]
fn layers_use_only_the_layers_below_them() {
    let src = src_dir();
    let files = rust_files(&src);
    // Every file but lib.rs (the root) and this one is in a layer.
    let layer_of_file = |file: &Path| -> Option<usize> {
        let relative = relative(&src, file);
        LAYERS.iter().position(|layer| {
            layer
                .files
                .iter()
                .any(|entry| match entry.strip_suffix('/') {
                    Some(dir) => relative.starts_with(&format!("{dir}/")),
                    None => relative == *entry,
                })
        })
    };
    let unplaced: Vec<String> = files
        .iter()
        .filter(|file| layer_of_file(file).is_none())
        .map(|file| relative(&src, file))
        .filter(|file| file != "lib.rs" && file != "architecture.rs")
        .collect();
    assert!(
        unplaced.is_empty(),
        "these files are in no layer: add them to LAYERS in src/architecture.rs: {unplaced:?}"
    );

    let names = RootNames::read(&src, &files);
    let layer_of_name = |name: &str| -> Option<usize> {
        let module = names.owner(name)?;
        let file = [format!("{module}.rs"), format!("{module}/mod.rs")]
            .into_iter()
            .map(|f| src.join(f))
            .find(|f| f.exists())?;
        layer_of_file(&file)
    };

    let mut wrong = Vec::new();
    for file in &files {
        let Some(layer) = layer_of_file(file) else {
            continue;
        };
        let depth = module_depth(&src, file);
        for (name, line) in root_names_used(&lex(&read(file)), depth) {
            let allowed = match layer_of_name(&name) {
                Some(owner) => owner <= layer,
                None => false,
            } || LAYERS[layer]
                .exceptions
                .iter()
                .any(|(exception, _)| *exception == name);
            if !allowed {
                let owner = layer_of_name(&name)
                    .map_or("no layer (unknown root name)", |owner| LAYERS[owner].name);
                wrong.push(format!(
                    "src/{}:{line}: `crate::{name}` (of {owner}) in {}",
                    relative(&src, file),
                    LAYERS[layer].name
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "a layer uses one above it (layers, lowest first: {}):\n{}",
        LAYERS
            .iter()
            .map(|layer| layer.name)
            .collect::<Vec<_>>()
            .join(", "),
        wrong.join("\n")
    );
}

/// The checker itself: what it takes for a use of the crate's root, and what it skips.
#[test]
fn the_layer_check_sees_paths_to_the_root_and_nothing_else() {
    let source = r##"
        //! Docs naming crate::client are no use of it.
        use crate::protocol::Value;
        use crate::{Error, transport::{self, Payload}};
        pub(crate) fn f() -> crate::Secret { let _ = "crate::session"; let _ = r#"crate::x"#; }
        fn g<'a>(c: char) -> &'a str { let _ = ('"', '\'', b'x'); $crate::call!(); "" }
        use super::memory;
        mod inner { use super::stop; use super::super::config; }
        /* crate::izaber /* nested */ crate::nexus */
    "##;
    let used: Vec<String> = root_names_used(&lex(source), 1)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(
        used,
        [
            "protocol",
            "Error",
            "transport",
            "Secret",
            "call",
            "memory",
            "config"
        ]
    );
    // Deeper in the module tree, `super` reaches the root later.
    let used = root_names_used(&lex("use super::x; use super::super::y;"), 2);
    assert_eq!(used, [("y".to_owned(), 1)]);
}

// ---- `wamp` and `Client` ----

/// Public `Client` methods that `wamp` does not have, and why. Anything else a `Client` can
/// do, `wamp` must offer under the same name.
const NOT_ON_WAMP: &[(&str, &str)] = &[(
    "builder",
    "makes a client; `wamp`'s is made by initialize() from izaber.yaml",
)];

#[test]
fn wamp_offers_every_public_client_method() {
    let src = src_dir();
    let mut client = BTreeMap::new();
    let mut on_wamp = BTreeSet::new();
    for file in rust_files(&src) {
        let tokens = lex(&read(&file));
        for (name, line) in public_methods(&tokens, "Client") {
            client.insert(name, format!("src/{}:{line}", relative(&src, &file)));
        }
        on_wamp.extend(public_methods(&tokens, "Wamp").into_iter().map(|(n, _)| n));
    }
    assert!(
        client.contains_key("call") && client.contains_key("registration_list"),
        "the parser found too few Client methods: {client:?}"
    );
    assert!(on_wamp.contains("call") && on_wamp.contains("change_user"));

    let missing: Vec<String> = client
        .iter()
        .filter(|(name, _)| !on_wamp.contains(*name))
        .filter(|(name, _)| !NOT_ON_WAMP.iter().any(|(n, _)| n == name))
        .map(|(name, at)| format!("{name} ({at})"))
        .collect();
    assert!(
        missing.is_empty(),
        "public Client methods that `wamp` lacks: {missing:?}. Add each to the \
         forward_to_client! list in src/izaber.rs (one line), or, when it makes no sense on \
         the global, to NOT_ON_WAMP in src/architecture.rs with the reason"
    );
    for (name, _) in NOT_ON_WAMP {
        assert!(
            client.contains_key(*name),
            "NOT_ON_WAMP names `{name}`, which is no public Client method any more"
        );
        assert!(
            !on_wamp.contains(*name),
            "NOT_ON_WAMP names `{name}`, which `wamp` has"
        );
    }
}

/// The checker itself: signatures over several lines, generics, restricted visibility,
/// nested items, and the `forward_to_client!` list.
#[test]
fn the_method_lists_see_public_methods_only() {
    let source = r#"
        impl Client {
            pub fn one(&self) {}
            pub fn two<F, R>(
                &self,
                handler: F,
            ) -> Result<R, Error>
            where
                F: Fn() -> R,
            { fn inner() {} let _ = "pub fn not_this"; }
            pub(crate) fn crate_only(&self) {}
            fn private(&self) {}
            pub const fn three() {}
        }
        impl fmt::Debug for Client { fn fmt(&self) {} }
        impl Wamp {
            pub fn four(&self) {}
            forward_to_client! {
                /// Docs.
                fn five<T>(uri: &str) -> Result<T, Error> where [T: Clone];
                fn six() -> Option<Id>;
            }
        }
    "#;
    let names = |ty| -> Vec<String> {
        public_methods(&lex(source), ty)
            .into_iter()
            .map(|(name, _)| name)
            .collect()
    };
    assert_eq!(names("Client"), ["one", "two", "three"]);
    assert_eq!(names("Wamp"), ["four", "five", "six"]);
}

/// The public methods of the inherent `impl {ty}` blocks in `tokens` (`pub fn` directly in the
/// block, and the entries of a `forward_to_client!` list there), with their lines.
fn public_methods(tokens: &[Token], ty: &str) -> Vec<(String, usize)> {
    let mut found = Vec::new();
    let mut i = 0;
    while i + 2 < tokens.len() {
        if !(tokens[i].is("impl") && tokens[i + 1].is(ty) && tokens[i + 2].is("{")) {
            i += 1;
            continue;
        }
        let block = i + 2;
        let end = matching(tokens, block);
        let mut j = block + 1;
        while j < end {
            let token = &tokens[j];
            if token.is("pub") {
                // `pub fn`, `pub const fn`...; not `pub(crate) fn`.
                let mut k = j + 1;
                while tokens[k].is("const") || tokens[k].is("unsafe") || tokens[k].is("async") {
                    k += 1;
                }
                if tokens[k].is("fn") && tokens[k + 1].is_ident() {
                    found.push((tokens[k + 1].text.clone(), tokens[k + 1].line));
                }
            } else if token.is("forward_to_client") && tokens[j + 1].is("!") {
                let list = j + 2;
                let list_end = matching(tokens, list);
                let mut k = list + 1;
                while k < list_end {
                    if tokens[k].is("fn") && tokens[k + 1].is_ident() {
                        found.push((tokens[k + 1].text.clone(), tokens[k + 1].line));
                    }
                    k = skip_group(tokens, k);
                }
                j = list_end;
            }
            j = skip_group(tokens, j);
        }
        i = end;
    }
    found
}

// ---- reading the source ----

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn read(file: &Path) -> String {
    std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

fn relative(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).expect("under src/");
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// How deep in the module tree a file's top level is: 1 for `src/a.rs` and `src/a/mod.rs`
/// (module `crate::a`), 2 for `src/a/b.rs`.
fn module_depth(src: &Path, file: &Path) -> usize {
    let relative = relative(src, file);
    let parts = relative.split('/').count();
    if relative.ends_with("/mod.rs") {
        parts - 1
    } else {
        parts
    }
}

/// The module that defines each of the crate's root names: its modules, what `lib.rs`
/// re-exports by name (`pub use module::...::{A, B}`), and the `#[macro_export]` macros.
/// Any other root name comes through the one glob re-export, `pub use client::*`.
struct RootNames {
    owners: BTreeMap<String, String>,
    glob: String,
}

impl RootNames {
    fn read(src: &Path, files: &[PathBuf]) -> RootNames {
        let mut owners = BTreeMap::new();
        let lib = lex(&read(&src.join("lib.rs")));
        for (i, token) in lib.iter().enumerate() {
            if token.is("mod") && lib[i + 1].is_ident() {
                owners.insert(lib[i + 1].text.clone(), lib[i + 1].text.clone());
            }
        }
        let mut glob = None;
        for (i, token) in lib.iter().enumerate() {
            if !(token.is("use") && lib[i + 1].is_ident()) {
                continue;
            }
            let module = &lib[i + 1].text;
            let end = (i..lib.len()).find(|&j| lib[j].is(";")).expect("a `;`");
            for j in i + 1..end {
                if lib[j].is("*") {
                    glob = Some(module.clone());
                } else if lib[j].is_ident() && !lib[j + 1].is("::") && !lib[j].is("self") {
                    // A module and a re-exported function may share a name (`config`): the
                    // module wins, as in a path.
                    owners
                        .entry(lib[j].text.clone())
                        .or_insert_with(|| module.clone());
                }
            }
        }
        for file in files {
            let tokens = lex(&read(file));
            for (i, token) in tokens.iter().enumerate() {
                if !token.is("macro_export") {
                    continue;
                }
                if let Some(rules) = (i..tokens.len()).find(|&j| tokens[j].is("macro_rules")) {
                    let module = relative(src, file);
                    let module = module.split(['/', '.']).next().expect("a module");
                    owners.insert(tokens[rules + 2].text.clone(), module.to_owned());
                }
            }
        }
        RootNames {
            owners,
            glob: glob.expect("lib.rs re-exports `client::*`"),
        }
    }

    /// The module that defines the root name `name`; `None` for `*` (all of them).
    fn owner(&self, name: &str) -> Option<&str> {
        if name == "*" {
            return None;
        }
        Some(self.owners.get(name).unwrap_or(&self.glob))
    }
}

/// The root names a file uses, with their lines: the first segment after `crate::` (or
/// `$crate::`), each name of a `crate::{...}` group, and the first segment after a `super::`
/// chain that climbs to the root. `depth` is how deep the file's top level is in the module
/// tree ([`module_depth`]).
fn root_names_used(tokens: &[Token], depth: usize) -> Vec<(String, usize)> {
    let mut used = Vec::new();
    // The inline modules (`mod tests { ... }`) open at each brace, to know where `super` goes.
    let mut braces: Vec<bool> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let token = &tokens[i];
        if token.is("{") {
            braces.push(i >= 2 && tokens[i - 2].is("mod"));
        } else if token.is("}") {
            braces.pop();
        }
        let after_root = if token.is("crate") && tokens.get(i + 1).is_some_and(|t| t.is("::")) {
            Some(i + 2)
        } else if token.is("super") && (i == 0 || !tokens[i - 1].is("::")) {
            // `super::super::x`: how far up does it go?
            let mut climbed = 0;
            let mut j = i;
            while tokens[j].is("super") && tokens[j + 1].is("::") {
                climbed += 1;
                j += 2;
            }
            let inline = braces.iter().filter(|&&is_mod| is_mod).count();
            (climbed >= depth + inline).then_some(j)
        } else {
            None
        };
        if let Some(at) = after_root {
            let line = tokens[at].line;
            if tokens[at].is("{") {
                // `crate::{A, b::{C, D}}`: the first name of each item of the group.
                let mut depth = 0;
                let mut item_start = true;
                for token in &tokens[at + 1..matching(tokens, at)] {
                    match token.text.as_str() {
                        "{" | "(" | "[" => depth += 1,
                        "}" | ")" | "]" => depth -= 1,
                        "," if depth == 0 => {
                            item_start = true;
                            continue;
                        }
                        _ if item_start && token.is_ident() => {
                            used.push((token.text.clone(), line));
                        }
                        _ => {}
                    }
                    item_start = false;
                }
            } else if tokens[at].is_ident() {
                used.push((tokens[at].text.clone(), line));
            } else if tokens[at].is("*") {
                used.push(("*".to_owned(), line));
            }
        }
        i += 1;
    }
    used
}

/// The index of the bracket that closes the one at `open`.
fn matching(tokens: &[Token], open: usize) -> usize {
    let mut depth = 0;
    for (i, token) in tokens.iter().enumerate().skip(open) {
        if token.is("{") || token.is("(") || token.is("[") {
            depth += 1;
        } else if token.is("}") || token.is(")") || token.is("]") {
            depth -= 1;
            if depth == 0 {
                return i;
            }
        }
    }
    panic!("unclosed bracket at line {}", tokens[open].line)
}

/// The index after the token at `i`, or after its group when it opens one.
fn skip_group(tokens: &[Token], i: usize) -> usize {
    if tokens[i].is("{") || tokens[i].is("(") || tokens[i].is("[") {
        matching(tokens, i) + 1
    } else {
        i + 1
    }
}

#[derive(Debug)]
struct Token {
    text: String,
    line: usize,
}

impl Token {
    fn is(&self, text: &str) -> bool {
        self.text == text
    }

    fn is_ident(&self) -> bool {
        self.text
            .starts_with(|c: char| c.is_alphabetic() || c == '_')
    }
}

/// Rust source as identifiers and punctuation (`::` as one token), without comments,
/// literals and lifetimes. Enough to find paths and items, not a full lexer.
fn lex(source: &str) -> Vec<Token> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut i = 0;
    // Skips to after the closing `"` of a string whose body starts at `i`, with `hashes` `#`s
    // after it (a raw string: no escapes).
    let skip_string = |mut i: usize, raw: bool, hashes: usize, line: &mut usize| -> usize {
        while i < chars.len() {
            match chars[i] {
                '\\' if !raw => {
                    i += 1;
                    if chars.get(i) == Some(&'\n') {
                        *line += 1;
                    }
                }
                '"' if chars[i + 1..]
                    .iter()
                    .take(hashes)
                    .filter(|&&c| c == '#')
                    .count()
                    == hashes =>
                {
                    return i + 1 + hashes;
                }
                '\n' => *line += 1,
                _ => {}
            }
            i += 1;
        }
        i
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if c == '"' {
            i = skip_string(i + 1, false, 0, &mut line);
        } else if c == '\'' {
            // A character literal ('x', '\n', '\'', '\u{1F600}') or a lifetime ('a, 'static).
            if next == Some('\\') {
                i += 3;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if chars.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
            }
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let after = chars.get(i).copied();
            let raw_prefix = matches!(word.as_str(), "r" | "br" | "cr");
            let prefix = raw_prefix || matches!(word.as_str(), "b" | "c");
            if prefix && after == Some('"') {
                i = skip_string(i + 1, raw_prefix, 0, &mut line);
            } else if raw_prefix && after == Some('#') {
                let hashes = chars[i..].iter().take_while(|&&c| c == '#').count();
                if chars.get(i + hashes) == Some(&'"') {
                    i = skip_string(i + hashes + 1, true, hashes, &mut line);
                } else {
                    // A raw identifier, `r#type`.
                    i += 1;
                    let start = i;
                    while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                        i += 1;
                    }
                    let text = chars[start..i].iter().collect();
                    tokens.push(Token { text, line });
                }
            } else if word == "b" && after == Some('\'') {
                // A byte literal: b'x', b'\''.
                i += if chars.get(i + 1) == Some(&'\\') {
                    3
                } else {
                    2
                };
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else {
                tokens.push(Token { text: word, line });
            }
        } else if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
        } else if c == ':' && next == Some(':') {
            tokens.push(Token {
                text: "::".to_owned(),
                line,
            });
            i += 2;
        } else {
            tokens.push(Token {
                text: c.to_string(),
                line,
            });
            i += 1;
        }
    }
    tokens
}
