//! jq programs on the jaq crates: compiling with readable errors, and running a
//! compiled program on one value.
//!
//! Every stage that evaluates jq (`filter`, `jq`, `route`, and `sluice filter`)
//! goes through [`Program`], so the dialect and the error texts are the same
//! everywhere.

pub mod depth;
pub mod fast;
mod fromjson;
mod regex;

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Ctx, Vars, data};
use jaq_json::Val;

type Data = data::JustLut<Val>;

/// A compiled jq program.
pub struct Program {
    filter: jaq_core::Filter<Data>,
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

impl Program {
    /// Compiles `code` with jq's standard library (jaq dialect, regex included).
    pub fn compile(code: &str) -> Result<Program, Vec<CompileError>> {
        let program = File { code, path: () };
        let defs = jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs());
        // jaq's regex natives recompile their pattern on every call; ours
        // cache it (see `regex.rs`). Its `fromjson` has no depth limit; ours
        // does (see `fromjson.rs`).
        let funs = jaq_core::funs()
            .chain(jaq_std::funs().filter(|f| !regex::REPLACED.contains(&f.0)))
            .chain(jaq_json::funs().filter(|f| !fromjson::REPLACED.contains(&f.0)))
            .chain(regex::funs())
            .chain(fromjson::funs());
        let loader = Loader::new(defs);
        let arena = Arena::default();
        let offset = |part: &str| {
            let whole = code.as_ptr() as usize;
            let p = part.as_ptr() as usize;
            (p >= whole && p <= whole + code.len()).then(|| p - whole)
        };
        let modules = loader.load(&arena, program).map_err(|errs| {
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
        })?;
        let filter = jaq_core::Compiler::default()
            .with_funs(funs)
            .compile(modules)
            .map_err(|errs| {
                errs.into_iter()
                    .flat_map(|(_file, es)| es)
                    .map(|(name, undef)| CompileError {
                        offset: offset(name),
                        message: format!("undefined {} `{name}`", undef.as_str()),
                    })
                    .collect::<Vec<_>>()
            })?;
        Ok(Program { filter })
    }

    /// Runs the program on `input`, calling `out` for each output value or
    /// runtime error, in order.
    pub fn run(&self, input: Val, mut out: impl FnMut(Result<Val, String>)) {
        let ctx = Ctx::<Data>::new(&self.filter.lut, Vars::new([]));
        for r in self.filter.id.run((ctx, input)) {
            match jaq_core::unwrap_valr(r) {
                Ok(v) => out(Ok(v)),
                Err(e) => out(Err(reason(e))),
            }
        }
    }

    /// Runs the program and tells whether its first output is truthy (jq's
    /// `select` semantics: no output or `false`/`null` is false). A runtime
    /// error is returned as such.
    pub fn is_truthy(&self, input: Val) -> Result<bool, String> {
        let ctx = Ctx::<Data>::new(&self.filter.lut, Vars::new([]));
        let mut outputs = self.filter.id.run((ctx, input));
        match outputs.next() {
            None => Ok(false),
            Some(r) => match jaq_core::unwrap_valr(r) {
                Ok(v) => Ok(!matches!(v, Val::Null | Val::Bool(false))),
                Err(e) => Err(reason(e)),
            },
        }
    }
}

/// The text of a runtime error: the message itself for `error("text")`,
/// jaq's description otherwise.
fn reason(e: jaq_core::Error<Val>) -> String {
    match e.into_val() {
        Val::TStr(s) => String::from_utf8_lossy(&s).into_owned(),
        other => other.to_string(),
    }
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
