//! The layers stay layers: no cycle between the top-level modules of
//! `src/`. Reads every `crate::NAME` reference (and every `use crate::{A, B}`
//! group, over as many lines as it spans) in each top-level module's files,
//! skipping comments, strings and character literals, and fails naming each
//! cycle (`a -> b -> a`) when the modules do not form a DAG. `super::` paths
//! stay inside a module and do not count; inside `src/kit/` the same check
//! runs on the kit's own modules, where `super::x` names a sibling.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

/// The module graph: each top-level module and the others it names.
type Deps = BTreeMap<String, BTreeSet<String>>;

/// What the reference scanner needs of Rust's tokens.
#[derive(Debug, PartialEq)]
enum Token {
    /// An identifier or keyword (`crate`, `config`, `self`).
    Ident(String),
    /// `::`.
    PathSep,
    /// Any other single punctuation character (`{`, `,`, `}`, `;`).
    Punct(char),
}

/// The tokens of `text` with comments (line, block, nested block, doc),
/// string literals (plain, byte, raw with any number of `#`), character
/// literals and lifetimes left out: only code can name a module.
fn tokens(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == '"' {
            i = skip_string(&chars, i + 1);
        } else if c == '\'' {
            i = skip_char_or_lifetime(&chars, i);
        } else if c == ':' && at(i + 1) == ':' {
            out.push(Token::PathSep);
            i += 2;
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            match (word.as_str(), at(i)) {
                ("r" | "br" | "cr", '"' | '#') if raw_string_opens(&chars, i) => {
                    i = skip_raw_string(&chars, i);
                }
                ("b" | "c", '"') => i = skip_string(&chars, i + 1),
                ("b", '\'') => i = skip_char_or_lifetime(&chars, i),
                // `r#type`: a raw identifier is still an identifier.
                ("r", '#') => i += 1,
                _ => out.push(Token::Ident(word)),
            }
        } else if c.is_whitespace() {
            i += 1;
        } else {
            out.push(Token::Punct(c));
            i += 1;
        }
    }
    out
}

/// The index after the closing quote of a string whose body starts at `i`.
fn skip_string(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// True when `#`s then `"` start at `i` (after an `r` prefix).
fn raw_string_opens(chars: &[char], mut i: usize) -> bool {
    while chars.get(i) == Some(&'#') {
        i += 1;
    }
    chars.get(i) == Some(&'"')
}

/// The index after a raw string whose `#`s (or quote) start at `i`.
fn skip_raw_string(chars: &[char], mut i: usize) -> usize {
    let mut hashes = 0;
    while chars.get(i) == Some(&'#') {
        hashes += 1;
        i += 1;
    }
    i += 1; // the opening quote
    while i < chars.len() {
        if chars[i] == '"' && (1..=hashes).all(|k| chars.get(i + k) == Some(&'#')) {
            return i + 1 + hashes;
        }
        i += 1;
    }
    i
}

/// The index after a character literal (`'x'`, `'\n'`, `'\u{1F600}'`) or
/// after the quote of a lifetime (`'a`, whose name is then read as a word).
fn skip_char_or_lifetime(chars: &[char], i: usize) -> usize {
    match chars.get(i + 1) {
        Some('\\') => {
            let mut j = i + 2;
            while j < chars.len() && chars[j] != '\'' {
                j += 1;
            }
            j + 1
        }
        Some(_) if chars.get(i + 2) == Some(&'\'') => i + 3,
        _ => i + 1,
    }
}

/// The first path segments named after `crate::` in `text`: `crate::a::X`
/// names `a`, and `use crate::{a::X, b::{Y, Z}, c}` names `a`, `b` and `c`.
fn references(text: &str) -> BTreeSet<String> {
    references_under(text, &["crate"])
}

/// Like [`references`], for the segment after the path `prefix`
/// (`["crate", "kit"]` names the kit's own modules).
fn references_under(text: &str, prefix: &[&str]) -> BTreeSet<String> {
    let toks = tokens(text);
    let mut out = BTreeSet::new();
    let mut i = 0;
    let n = prefix.len() * 2;
    while i + n < toks.len() {
        let matches = prefix.iter().enumerate().all(|(k, p)| {
            toks[i + 2 * k] == Token::Ident((*p).into()) && toks[i + 2 * k + 1] == Token::PathSep
        });
        if !matches {
            i += 1;
            continue;
        }
        i += n;
        match &toks[i] {
            Token::Ident(name) => {
                out.insert(name.clone());
            }
            Token::Punct('{') => {
                // At depth 1, the first word of each item of the group.
                let mut depth = 0;
                let mut item_start = true;
                while i < toks.len() {
                    match &toks[i] {
                        Token::Punct('{') => {
                            depth += 1;
                            item_start = depth == 1;
                        }
                        Token::Punct('}') => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        Token::Punct(',') if depth == 1 => item_start = true,
                        Token::Ident(name) if item_start => {
                            if name != "self" {
                                out.insert(name.clone());
                            }
                            item_start = false;
                        }
                        _ => {}
                    }
                    i += 1;
                }
            }
            _ => {}
        }
    }
    out
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`src/a.rs` and
/// `src/a/**` are `a`); the crate roots belong to none.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main" | "mod")).then(|| name.to_string())
}

/// Which top-level modules of `src/` each one names (itself and names that
/// are not modules, such as macros, left out).
fn module_deps(src: &Path) -> Deps {
    module_deps_under(src, &["crate"])
}

/// Which modules of the directory `src` (a module reached as `prefix`)
/// each one names; in files directly in `src`, `super::x` names a sibling
/// too.
fn module_deps_under(src: &Path, prefix: &[&str]) -> Deps {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut deps = Deps::new();
    for f in &files {
        let Some(m) = module_of(src, f) else { continue };
        let text = std::fs::read_to_string(f).unwrap();
        let entry = deps.entry(m).or_default();
        entry.extend(references_under(&text, prefix));
        if prefix.len() > 1 && f.parent() == Some(src) {
            entry.extend(references_under(&text, &["super"]));
        }
    }
    let modules: BTreeSet<String> = deps.keys().cloned().collect();
    for (m, set) in deps.iter_mut() {
        set.retain(|d| d != m && modules.contains(d));
    }
    deps
}

/// One shortest cycle through each group of modules that reach each other
/// (each strongly connected component of more than one module), as
/// `a -> b -> a`.
fn cycles(deps: &Deps) -> Vec<String> {
    let reach = |from: &str| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_string()];
        while let Some(m) = todo.pop() {
            for d in deps.get(&m).into_iter().flatten() {
                if seen.insert(d.clone()) {
                    todo.push(d.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&String, BTreeSet<String>> = deps.keys().map(|m| (m, reach(m))).collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for m in deps.keys() {
        if done.contains(m) || !reaches[m].contains(m) {
            continue;
        }
        let group: BTreeSet<&String> = deps
            .keys()
            .filter(|o| *o == m || (reaches[m].contains(*o) && reaches[*o].contains(m)))
            .collect();
        done.extend(group.iter().map(|s| s.to_string()));
        out.push(format!(
            "{}  (all of: {})",
            shortest_cycle(deps, m).join(" -> "),
            group
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out
}

/// The shortest path from `m` back to itself (breadth first), `m` at both ends.
fn shortest_cycle(deps: &Deps, m: &str) -> Vec<String> {
    let mut came_from: BTreeMap<String, String> = BTreeMap::new();
    let mut todo = VecDeque::from([m.to_string()]);
    while let Some(cur) = todo.pop_front() {
        for d in deps.get(&cur).into_iter().flatten() {
            if d == m {
                let mut path = vec![cur.clone()];
                let mut at = cur.clone();
                while let Some(prev) = came_from.get(&at) {
                    path.push(prev.clone());
                    at = prev.clone();
                }
                path.reverse();
                path.push(m.to_string());
                return path;
            }
            if !came_from.contains_key(d) && d != m {
                came_from.insert(d.clone(), cur.clone());
                todo.push_back(d.clone());
            }
        }
    }
    vec![m.to_string()]
}

#[test]
fn top_level_modules_form_no_cycle() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = cycles(&module_deps(&src));
    assert!(
        found.is_empty(),
        "cycles between top-level modules of src/ (each uses the next; move the shared piece down a layer):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_stage_kits_modules_form_no_cycle() {
    let kit = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/kit");
    let found = cycles(&module_deps_under(&kit, &["crate", "kit"]));
    assert!(
        found.is_empty(),
        "cycles between the modules of src/kit/ (the kit is the bottom layer; each of its pieces should be too):\n{}",
        found.join("\n")
    );
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn a_path_and_a_group_name_their_first_segments() {
    let text = "use crate::a::X;\nfn f() { crate::b::g(); }\nuse crate::{c::Y, d::{E, f}, self};";
    assert_eq!(references(text), names(&["a", "b", "c", "d"]));
}

#[test]
fn a_group_spanning_lines_names_every_module() {
    let text = "use crate::{\n    config::Config,\n    sinks::{\n        Sink, topology,\n    },\n    // crate::hidden\n    stats,\n};\n";
    assert_eq!(references(text), names(&["config", "sinks", "stats"]));
}

#[test]
fn references_in_comments_and_strings_are_not_edges() {
    let text = r####"
// use crate::line_comment;
/// crate::doc_comment::X
/* crate::block /* crate::nested */ crate::still_block */
const A: &str = "crate::plain \" crate::escaped";
const B: &str = r#"crate::raw " crate::raw_quote"#;
const C: &[u8] = b"crate::bytes";
const D: char = '"'; fn f<'a>(x: &'a str) { crate::real::go(x) }
const E: &str = r##"crate::"#hashes"##;
"####;
    assert_eq!(references(text), names(&["real"]));
}

#[test]
fn super_and_other_crates_are_not_edges() {
    let text = "use super::a;\nuse self::b;\nuse my_crate::c;\nuse sluice::d;\nmod x { pub(crate) fn f() {} }";
    assert!(references(text).is_empty(), "{:?}", references(text));
}

#[test]
fn a_cycle_is_named_and_a_dag_passes() {
    let graph = |edges: &[(&str, &str)]| {
        let mut deps = Deps::new();
        for (a, b) in edges {
            deps.entry(a.to_string()).or_default().insert(b.to_string());
            deps.entry(b.to_string()).or_default();
        }
        deps
    };
    let dag = graph(&[("app", "config"), ("config", "event"), ("app", "event")]);
    assert!(cycles(&dag).is_empty());
    let cyclic = graph(&[("a", "b"), ("b", "c"), ("c", "a"), ("b", "a"), ("x", "y")]);
    assert_eq!(cycles(&cyclic), vec!["a -> b -> a  (all of: a, b, c)"]);
}
