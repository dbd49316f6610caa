//! Rewrites a parsed program so that jaq runs it with jq's semantics where
//! the two differ in the language itself rather than in a builtin:
//!
//! - `l = r`, `l |= f`, `l += r`, `l //= r`, … become the jq definitions
//!   of assignment (`_jq_assign`, `_jq_modify` in `defs.jq`), which update
//!   through `setpath`/`delpaths` and so create what is missing;
//! - `a / b` fails on a zero divisor (jaq yields infinity), `-x` fails on
//!   non-numbers with jq's message;
//! - `try f catch g` hands `g` jq's wording of the error;
//! - `$__loc__` is the object jq gives, `$ENV` is `env`.
//!
//! It also notes what the runner must provide: `input`/`inputs`, and
//! `input_filename`/`input_line_number`.

use jaq_core::load::lex::StrPart;
use jaq_core::load::parse::{BinaryOp, Def, Pattern, Term};
use jaq_core::ops::Math;
use jaq_core::path::{Part, Path};

/// What the rewrite found.
#[derive(Debug, Default, Clone, Copy)]
pub struct Uses {
    /// `input` or `inputs`.
    pub input: bool,
    /// `input_filename` or `input_line_number`.
    pub position: bool,
}

/// Rewrites terms of `code` (whose slices they are).
pub struct Rewriter<'s> {
    code: &'s str,
    arena: &'s jaq_core::load::Arena,
    /// What the program asks of its runner.
    pub uses: Uses,
    /// The program binds `$ENV` itself: leave it alone.
    own_env: bool,
}

type T<'s> = Term<&'s str>;

fn call<'s>(name: &'s str, args: Vec<T<'s>>) -> T<'s> {
    Term::Call(name, args)
}

fn pipe<'s>(l: T<'s>, r: T<'s>) -> T<'s> {
    Term::BinOp(Box::new(l), BinaryOp::Pipe(None), Box::new(r))
}

fn string<'s>(s: &'s str) -> T<'s> {
    Term::Str(None, vec![StrPart::Str(s)])
}

impl<'s> Rewriter<'s> {
    /// A rewriter for terms parsed from `code`; new strings go to `arena`.
    pub fn new(code: &'s str, arena: &'s jaq_core::load::Arena) -> Self {
        let own_env = code.contains("$ENV") && {
            let t = code.replace(' ', "");
            t.contains("as$ENV") || t.contains("$ENV;") || t.contains("$ENV)")
        };
        Rewriter {
            code,
            arena,
            uses: Uses::default(),
            own_env,
        }
    }

    /// `$__loc__` at `at` (a slice of the program): jq's `{file, line}`.
    fn loc(&self, at: &'s str) -> T<'s> {
        let whole = self.code.as_ptr() as usize;
        let offset = (at.as_ptr() as usize)
            .saturating_sub(whole)
            .min(self.code.len());
        let line = self.code[..offset].matches('\n').count() + 1;
        let line: &'s str = self.arena.alloc(line.to_string());
        Term::Obj(vec![
            (string("file"), Some(string("<top-level>"))),
            (string("line"), Some(Term::Num(line))),
        ])
    }

    #[allow(clippy::boxed_local)] // the terms come boxed
    fn boxed(&mut self, t: Box<T<'s>>) -> Box<T<'s>> {
        Box::new(self.term(*t))
    }

    /// The rewritten term.
    pub fn term(&mut self, t: T<'s>) -> T<'s> {
        match t {
            Term::Id | Term::Recurse | Term::Num(_) | Term::Break(_) => t,
            Term::Var(v) if v == "$__loc__" => self.loc(v),
            Term::Var(v) if v == "$ENV" && !self.own_env => call("env", Vec::new()),
            Term::Var(_) => t,
            Term::Str(fmt, parts) => Term::Str(
                fmt,
                parts
                    .into_iter()
                    .map(|p| match p {
                        StrPart::Term(t) => StrPart::Term(self.term(t)),
                        other => other,
                    })
                    .collect(),
            ),
            Term::Arr(a) => Term::Arr(a.map(|a| self.boxed(a))),
            Term::Obj(entries) => Term::Obj(
                entries
                    .into_iter()
                    .map(|(k, v)| match (k, v) {
                        (Term::Var(x), None) if x == "$__loc__" => {
                            (string("__loc__"), Some(self.loc(x)))
                        }
                        (k, v) => (self.term(k), v.map(|v| self.term(v))),
                    })
                    .collect(),
            ),
            Term::Neg(x) => match *x {
                n @ Term::Num(_) => Term::Neg(Box::new(n)),
                x => pipe(self.term(x), call("_neg", Vec::new())),
            },
            Term::BinOp(l, op, r) => self.binop(*l, op, *r),
            Term::Label(x, t) => Term::Label(x, self.boxed(t)),
            Term::Fold(kind, xs, pat, args) => {
                let xs = self.boxed(xs);
                let pat = self.pattern(pat);
                let args = args.into_iter().map(|a| self.term(a)).collect();
                Term::Fold(kind, xs, pat, args)
            }
            Term::TryCatch(t, c) => {
                let t = self.boxed(t);
                let c = c.map(|c| Box::new(pipe(call("_jq_errmsg", Vec::new()), self.term(*c))));
                Term::TryCatch(t, c)
            }
            Term::IfThenElse(branches, otherwise) => Term::IfThenElse(
                branches
                    .into_iter()
                    .map(|(c, t)| (self.term(c), self.term(t)))
                    .collect(),
                otherwise.map(|o| self.boxed(o)),
            ),
            Term::Def(defs, t) => {
                let defs = defs.into_iter().map(|d| self.def(d)).collect();
                Term::Def(defs, self.boxed(t))
            }
            Term::Call(name, args) => {
                match (name, args.len()) {
                    ("input" | "inputs", 0) => self.uses.input = true,
                    ("input_filename" | "input_line_number", 0) => self.uses.position = true,
                    _ => {}
                }
                Term::Call(name, args.into_iter().map(|a| self.term(a)).collect())
            }
            Term::Path(base, path) => {
                let base = self.boxed(base);
                let parts = path
                    .0
                    .into_iter()
                    .map(|(part, opt)| {
                        let part = match part {
                            Part::Index(i) => Part::Index(self.term(i)),
                            Part::Range(from, upto) => {
                                Part::Range(from.map(|t| self.term(t)), upto.map(|t| self.term(t)))
                            }
                        };
                        (part, opt)
                    })
                    .collect();
                Term::Path(base, Path(parts))
            }
        }
    }

    /// A definition with its body rewritten.
    pub fn def(&mut self, d: Def<&'s str, T<'s>>) -> Def<&'s str, T<'s>> {
        Def {
            name: d.name,
            args: d.args,
            body: self.term(d.body),
        }
    }

    fn pattern(&mut self, p: Pattern<&'s str>) -> Pattern<&'s str> {
        match p {
            Pattern::Var(_) => p,
            Pattern::Arr(ps) => Pattern::Arr(ps.into_iter().map(|p| self.pattern(p)).collect()),
            Pattern::Obj(entries) => Pattern::Obj(
                entries
                    .into_iter()
                    .map(|(k, p)| (self.term(k), self.pattern(p)))
                    .collect(),
            ),
        }
    }

    fn binop(&mut self, l: T<'s>, op: BinaryOp<&'s str>, r: T<'s>) -> T<'s> {
        const RHS: &str = "$__rhs";
        match op {
            BinaryOp::Assign => call("_jq_assign", vec![self.term(l), self.term(r)]),
            BinaryOp::Update => call("_jq_modify", vec![self.term(l), self.term(r)]),
            BinaryOp::UpdateMath(m) => {
                let update = self.binop(Term::Id, BinaryOp::Math(m), Term::Var(RHS));
                let modify = call("_jq_modify", vec![self.term(l), update]);
                let r = self.term(r);
                Term::BinOp(
                    Box::new(r),
                    BinaryOp::Pipe(Some(Pattern::Var(RHS))),
                    Box::new(modify),
                )
            }
            BinaryOp::UpdateAlt => {
                let update =
                    Term::BinOp(Box::new(Term::Id), BinaryOp::Alt, Box::new(Term::Var(RHS)));
                let modify = call("_jq_modify", vec![self.term(l), update]);
                let r = self.term(r);
                Term::BinOp(
                    Box::new(r),
                    BinaryOp::Pipe(Some(Pattern::Var(RHS))),
                    Box::new(modify),
                )
            }
            BinaryOp::Math(Math::Div) => call("_jq_div", vec![self.term(l), self.term(r)]),
            BinaryOp::Pipe(Some(p)) => {
                let l = self.term(l);
                let p = self.pattern(p);
                Term::BinOp(Box::new(l), BinaryOp::Pipe(Some(p)), Box::new(self.term(r)))
            }
            op => {
                let l = self.term(l);
                Term::BinOp(Box::new(l), op, Box::new(self.term(r)))
            }
        }
    }
}
