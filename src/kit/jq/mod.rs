//! jq programs on the jaq crates: compiling with readable errors, and running a
//! compiled program on one value.
//!
//! Every stage that evaluates jq (`filter`, `jq`, `route`, and `sluice filter`)
//! goes through [`Program`], so the dialect and the error texts are the same
//! everywhere.

pub mod context;
pub mod depth;
pub mod fast;
mod fromjson;
pub mod messages;
mod natives;
pub mod paths;
mod regex;
mod rewrite;
pub mod write;

use std::sync::OnceLock;

use jaq_core::load::parse::Def;
use jaq_core::load::{Arena, File, Loader};
use jaq_core::native::Fun;
use jaq_core::{Ctx, Vars, data};
use jaq_json::Val;

pub use rewrite::Uses;

type Data = data::JustLut<Val>;

/// A compiled jq program.
pub struct Program {
    filter: jaq_core::Filter<Data>,
    /// Values of the global variables (`--arg` and friends), in order.
    vars: Vec<Val>,
    /// What the program asks of whoever runs it.
    uses: Uses,
}

/// Why a program did not compile: the message and the byte offset in the
/// program text it refers to, when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    /// Byte offset into the program text.
    pub offset: Option<usize>,
    /// What is wrong, in jaq's words.
    pub message: String,
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.offset {
            Some(o) => write!(f, "{} (at offset {o} of the program)", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// jaq's definitions, then sluice's (`defs.jq`: jq's builtins jaq lacks or
/// defines differently), which win.
fn prelude() -> impl Iterator<Item = Def<&'static str>> {
    let ours =
        jaq_core::load::parse(include_str!("defs.jq"), |p| p.defs()).expect("defs.jq parses");
    jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs())
        .chain(ours)
}

/// jaq natives kept under another name, so that `defs.jq` can wrap them
/// with jq's checks and messages.
const RENAMED: &[(&str, &str)] = &[
    ("limit", "_limit"),
    ("skip", "_skip"),
    ("ltrimstr", "_ltrimstr"),
    ("rtrimstr", "_rtrimstr"),
    ("trim", "_trim"),
    ("ltrim", "_ltrim"),
    ("rtrim", "_rtrim"),
    ("implode", "_implode"),
    ("utf8bytelength", "_utf8bytelength"),
    ("mktime", "_mktime"),
    ("strftime", "_strftime"),
    ("strflocaltime", "_strflocaltime"),
];

/// Every native filter: jaq's, with ours replacing some.
fn funs() -> impl Iterator<Item = Fun<Data>> {
    // jaq's regex natives recompile their pattern on every call; ours
    // cache it (see `regex.rs`). Its `fromjson` has no depth limit; ours
    // does (see `fromjson.rs`).
    let replaced = |name: &str| {
        regex::REPLACED.contains(&name)
            || fromjson::REPLACED.contains(&name)
            || natives::REPLACED.contains(&name)
    };
    let renamed = jaq_core::funs()
        .chain(jaq_std::funs())
        .filter_map(|(name, args, f)| {
            RENAMED
                .iter()
                .find(|(old, _)| *old == name)
                .map(|(_, new)| (*new, args, f))
        });
    jaq_core::funs()
        .chain(jaq_std::funs().filter(move |f| !replaced(f.0)))
        .chain(jaq_json::funs().filter(move |f| !replaced(f.0)))
        .chain(regex::funs())
        .chain(fromjson::funs())
        .chain(natives::funs())
        .chain(renamed)
}

/// `builtins`: every public filter as `name/arity`.
/// A prelude definition, for a loader of shorter-lived text.
fn shorten<'s>(d: Def<&'static str>) -> Def<&'s str> {
    d
}

/// Compiles loaded modules with every native and the global variables.
fn compile_modules<'s>(
    modules: jaq_core::load::Modules<&'s str, ()>,
    globals: &[&'s str],
    offset: &dyn Fn(&str) -> Option<usize>,
) -> Result<jaq_core::Filter<Data>, Vec<CompileError>> {
    jaq_core::Compiler::default()
        .with_funs(funs())
        .with_global_vars(globals.iter().copied())
        .compile(modules)
        .map_err(|errs| {
            errs.into_iter()
                .flat_map(|(_file, es)| es)
                .map(|(name, undef)| CompileError {
                    offset: offset(name),
                    message: format!("undefined {} `{name}`", undef.as_str()),
                })
                .collect()
        })
}

fn builtins() -> Val {
    static LIST: OnceLock<Vec<String>> = OnceLock::new();
    let list = LIST.get_or_init(|| {
        let mut names: Vec<String> = prelude()
            .map(|d| format!("{}/{}", d.name, d.args.len()))
            .chain(funs().map(|(name, args, _)| format!("{name}/{}", args.len())))
            .filter(|n| !n.starts_with('_') && !n.starts_with('!') && !n.starts_with('@'))
            .collect();
        names.sort();
        names.dedup();
        names
    });
    Val::Arr(jaq_json::Rc::new(
        list.iter().map(|s| Val::from(s.clone())).collect(),
    ))
}

impl Program {
    /// Compiles `code` with jq's standard library (jaq dialect, regex included).
    pub fn compile(code: &str) -> Result<Program, Vec<CompileError>> {
        Self::compile_with(code, Vec::new())
    }

    /// Compiles `code` with global variables (`$name`, value), as jq's
    /// `--arg`, `--argjson`, … give them.
    pub fn compile_with(
        code: &str,
        globals: Vec<(String, Val)>,
    ) -> Result<Program, Vec<CompileError>> {
        let arena = Arena::default();
        let offset = |part: &str| {
            let whole = code.as_ptr() as usize;
            let p = part.as_ptr() as usize;
            (p >= whole && p <= whole + code.len()).then(|| p - whole)
        };
        let names: Vec<&str> = globals.iter().map(|(n, _)| n.as_str()).collect();
        let term = jaq_core::load::parse(code, |p| p.term());
        // jaq compiles `import "f" as $x` without loading it and panics on
        // the first use of `$x`: refuse it here.
        if term.is_none() && code.contains("import") && code.contains("as $") {
            return Err(vec![CompileError {
                offset: code.find("import"),
                message: "importing data (`import \"file\" as $name`) is not supported".into(),
            }]);
        }
        let (filter, uses) = match term {
            // A syntax error (reported at its place by loading the text as
            // it is), or modules (`import`, `include`): as jaq has them.
            None => {
                let modules = Loader::new(prelude().map(shorten))
                    .load(&arena, File { code, path: () })
                    .map_err(|errs| load_errors(errs, &offset))?;
                (compile_modules(modules, &names, &offset)?, Uses::default())
            }
            // Otherwise rewritten to jq's semantics (see `rewrite.rs`) and
            // compiled as the body of a definition.
            Some(term) => {
                let mut rewriter = rewrite::Rewriter::new(code, &arena);
                let body = rewriter.term(term);
                let main = Def {
                    name: "_main",
                    args: Vec::new(),
                    body,
                };
                let modules = Loader::new(prelude().map(shorten).chain([main]))
                    .load(
                        &arena,
                        File {
                            code: "_main",
                            path: (),
                        },
                    )
                    .map_err(|errs| load_errors(errs, &offset))?;
                (compile_modules(modules, &names, &offset)?, rewriter.uses)
            }
        };
        let vars = globals.into_iter().map(|(_, v)| v).collect();
        Ok(Program { filter, vars, uses })
    }

    /// What the program asks of its runner (`input`, `input_filename`, …).
    pub fn uses(&self) -> Uses {
        self.uses
    }

    fn ctx(&self) -> Ctx<'_, Data> {
        let vars = if self.vars.is_empty() {
            Vars::new([])
        } else {
            Vars::new(self.vars.iter().cloned())
        };
        Ctx::<Data>::new(&self.filter.lut, vars)
    }

    /// Runs the program on `input`, calling `out` for each output value or
    /// runtime error, in order.
    pub fn run(&self, input: Val, mut out: impl FnMut(Result<Val, String>)) {
        for r in self.filter.id.run((self.ctx(), input)) {
            match r.map_err(exception) {
                Ok(v) => out(Ok(v)),
                Err(e) => out(Err(e)),
            }
        }
    }

    /// Runs the program and tells whether its first output is truthy (jq's
    /// `select` semantics: no output or `false`/`null` is false). A runtime
    /// error is returned as such.
    pub fn is_truthy(&self, input: Val) -> Result<bool, String> {
        let mut outputs = self.filter.id.run((self.ctx(), input));
        match outputs.next() {
            None => Ok(false),
            Some(r) => match r.map_err(exception) {
                Ok(v) => Ok(!matches!(v, Val::Null | Val::Bool(false))),
                Err(e) => Err(e),
            },
        }
    }
}

/// The text of a runtime error: the message itself for `error("text")`,
/// jq's wording of jaq's own errors (see `messages.rs`), the value as JSON
/// otherwise.
fn reason(e: jaq_core::Error<Val>) -> String {
    match e.into_val() {
        Val::TStr(s) => messages::jq_text(&String::from_utf8_lossy(&s)),
        other => write::to_string(&other),
    }
}

/// The text of an exception. jaq's own `unwrap_valr` ends the whole
/// process on `halt`, from whichever worker runs it, without flushing
/// anything: here a halt only ends this input's run, as an error.
fn exception(e: jaq_core::Exn<'_, Val>) -> String {
    match e.get_err() {
        Ok(e) => reason(e),
        Err(e) => match e.get_halt() {
            Ok(code) => format!("halt({code}): the program stops for this input only"),
            Err(_) => "internal control flow escaped the program".to_string(),
        },
    }
}

type LoadErrors<'s> = jaq_core::load::Errors<&'s str, ()>;

/// Syntax and module errors as [`CompileError`]s.
fn load_errors(errs: LoadErrors<'_>, offset: &dyn Fn(&str) -> Option<usize>) -> Vec<CompileError> {
    let mut out = Vec::new();
    for (_file, err) in errs {
        match err {
            jaq_core::load::Error::Io(es) => {
                for (path, msg) in es {
                    out.push(CompileError {
                        offset: None,
                        message: format!("cannot load module {path}: {msg}"),
                    });
                }
            }
            jaq_core::load::Error::Lex(es) => {
                for (expect, found) in es {
                    out.push(CompileError {
                        offset: offset(found),
                        message: format!("expected {}", expect.as_str()),
                    });
                }
            }
            jaq_core::load::Error::Parse(es) => {
                for (expect, found) in es {
                    let found_at = found;
                    let found = if found.is_empty() {
                        "end of program".to_string()
                    } else {
                        format!("`{found}`")
                    };
                    out.push(CompileError {
                        offset: offset(found_at),
                        message: format!("expected {}, found {found}", expect.as_str()),
                    });
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(code: &str, input: &str) -> Vec<String> {
        let p = Program::compile(code).unwrap();
        let mut out = Vec::new();
        p.run(
            jaq_json::read::parse_single(input.as_bytes()).unwrap(),
            |r| {
                out.push(match r {
                    Ok(v) => v.to_string(),
                    Err(e) => format!("error: {e}"),
                })
            },
        );
        out
    }

    #[test]
    fn runs_programs_with_the_standard_library() {
        assert_eq!(run(".a, .b", r#"{"a":1,"b":"x"}"#), vec!["1", "\"x\""]);
        assert_eq!(run("map(. * 2)", "[1,2]"), vec!["[2,4]"]);
        assert_eq!(run(r#"test("^a+$")"#, r#""aaa""#), vec!["true"]);
        assert_eq!(
            run(r#"capture("(?<x>[0-9]+)")"#, r#""ab12""#),
            vec![r#"{"x":"12"}"#]
        );
    }

    #[test]
    fn runtime_errors_are_values_not_panics() {
        let out = run(".a.b", r#"{"a":1}"#);
        assert_eq!(out.len(), 1);
        assert!(out[0].starts_with("error: "), "{out:?}");
    }

    #[test]
    fn compile_errors_say_what_was_expected() {
        let errs = Program::compile(".a |").err().unwrap();
        assert!(!errs.is_empty());
        let errs = Program::compile("nosuchfn(1)").err().unwrap();
        assert_eq!(errs[0].message, "undefined filter `nosuchfn`");
        assert_eq!(errs[0].offset, Some(0));
    }

    #[test]
    fn truthiness_follows_jq() {
        let p = Program::compile(".level == \"error\"").unwrap();
        let v = jaq_json::read::parse_single(br#"{"level":"error"}"#).unwrap();
        assert_eq!(p.is_truthy(v), Ok(true));
        let p = Program::compile("empty").unwrap();
        assert_eq!(p.is_truthy(Val::Null), Ok(false));
    }
}
