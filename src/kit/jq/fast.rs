//! A fast path for the conditions users write most: comparisons of a field
//! path with a literal, combined with `and`, `or` and `not` — e.g.
//! `.level == "error"`, `.status >= 500 and .host != "web-1"`.
//!
//! Such a condition is recognised in jaq's own syntax tree and evaluated on
//! the event's raw JSON text, without building a value. Whenever the text
//! does not allow a sure answer (an escape in a compared string, a path into
//! a non-object, a number too long for f64), evaluation answers `None` and
//! the caller runs the full jq program instead, so results are jq's.

use jaq_core::load::lex::StrPart;
use jaq_core::load::parse::{BinaryOp, Term};
use jaq_core::ops::Cmp;
use jaq_core::path::{Opt, Part};

use crate::kit::json::{self, Kind};

/// A condition the fast path can evaluate.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// `PATH OP LITERAL` (or `LITERAL OP PATH`, normalised).
    Cmp(Vec<String>, Cmp, Lit),
    /// `PATH`: truthy unless `null` or `false`.
    Truthy(Vec<String>),
    /// `a and b`
    And(Box<Cond>, Box<Cond>),
    /// `a or b`
    Or(Box<Cond>, Box<Cond>),
    /// `a | not`
    Not(Box<Cond>),
    /// A constant: `true`, `false`, `null`.
    Const(bool),
}

/// A literal in a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// a number
    Num(f64),
    /// a string without characters that need escaping
    Str(String),
}

impl Lit {
    fn kind(&self) -> Kind {
        match self {
            Lit::Null => Kind::Null,
            Lit::Bool(false) => Kind::False,
            Lit::Bool(true) => Kind::True,
            Lit::Num(_) => Kind::Number,
            Lit::Str(_) => Kind::String,
        }
    }
}

impl Cond {
    /// The fast form of a condition program, if it has one.
    pub fn compile(code: &str) -> Option<Cond> {
        let term = jaq_core::load::parse(code, |p| p.term())?;
        cond(&term)
    }

    /// The fast form of a `select(COND)` program, if it has one.
    pub fn compile_select(code: &str) -> Option<Cond> {
        match jaq_core::load::parse(code, |p| p.term())? {
            Term::Call("select", args) if args.len() == 1 => cond(&args[0]),
            _ => None,
        }
    }

    /// Evaluates on canonical raw JSON; `None` when only full jq can tell.
    pub fn eval(&self, raw: &[u8]) -> Option<bool> {
        match self {
            Cond::Const(b) => Some(*b),
            Cond::Truthy(path) => {
                let v = lookup(raw, path)?;
                Some(!matches!(json::kind(v), Kind::Null | Kind::False))
            }
            Cond::Cmp(path, op, lit) => compare(lookup(raw, path)?, *op, lit),
            Cond::And(a, b) => match a.eval(raw)? {
                false => Some(false),
                true => b.eval(raw),
            },
            Cond::Or(a, b) => match a.eval(raw)? {
                true => Some(true),
                false => b.eval(raw),
            },
            Cond::Not(a) => a.eval(raw).map(|b| !b),
        }
    }
}

/// A program that only picks fields: `.`, `.a.b`, or an object of such
/// paths like `{ts, host, msg: .message}`. Evaluated on raw text, it writes
/// the output's canonical text directly.
#[derive(Debug, Clone, PartialEq)]
pub enum Projection {
    /// A path of object keys; empty for `.`.
    Path(Vec<String>),
    /// `{key: projection, ...}` with distinct plain keys.
    Object(Vec<(String, Projection)>),
}

impl Projection {
    /// The fast form of a program, if it has one.
    pub fn compile(code: &str) -> Option<Projection> {
        projection(&jaq_core::load::parse(code, |p| p.term())?)
    }

    /// True for `.`: the output is the input.
    pub fn is_identity(&self) -> bool {
        matches!(self, Projection::Path(p) if p.is_empty())
    }

    /// Appends the output for canonical `raw` to `out`; `false` (with `out`
    /// in an unspecified state) when only full jq can tell.
    pub fn eval(&self, raw: &[u8], out: &mut Vec<u8>) -> bool {
        match self {
            Projection::Path(p) => match lookup(raw, p) {
                Some(v) => {
                    out.extend_from_slice(v);
                    true
                }
                None => false,
            },
            Projection::Object(fields) => {
                out.push(b'{');
                for (i, (key, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.push(b'"');
                    out.extend_from_slice(key.as_bytes());
                    out.extend_from_slice(b"\":");
                    if !value.eval(raw, out) {
                        return false;
                    }
                }
                out.push(b'}');
                true
            }
        }
    }
}

fn projection(t: &Term<&str>) -> Option<Projection> {
    if let Term::Obj(fields) = t {
        let mut out: Vec<(String, Projection)> = Vec::new();
        for (k, v) in fields {
            let key = plain_str(k)?;
            let value = match v {
                None => Projection::Path(vec![key.clone()]),
                Some(v) => projection(v)?,
            };
            if out.iter().any(|(k2, _)| *k2 == key) {
                return None;
            }
            out.push((key, value));
        }
        return Some(Projection::Object(out));
    }
    path(t).map(Projection::Path)
}

fn cond(t: &Term<&str>) -> Option<Cond> {
    match t {
        Term::BinOp(l, BinaryOp::And, r) => Some(Cond::And(Box::new(cond(l)?), Box::new(cond(r)?))),
        Term::BinOp(l, BinaryOp::Or, r) => Some(Cond::Or(Box::new(cond(l)?), Box::new(cond(r)?))),
        Term::BinOp(l, BinaryOp::Pipe(None), r) if matches!(&**r, Term::Call("not", a) if a.is_empty()) => {
            Some(Cond::Not(Box::new(cond(l)?)))
        }
        Term::BinOp(l, BinaryOp::Cmp(op), r) => {
            if let (Some(p), Some(v)) = (path(l), lit(r)) {
                Some(Cond::Cmp(p, *op, v))
            } else if let (Some(v), Some(p)) = (lit(l), path(r)) {
                Some(Cond::Cmp(p, flip(*op), v))
            } else {
                None
            }
        }
        Term::Call("true", a) if a.is_empty() => Some(Cond::Const(true)),
        Term::Call("false" | "null", a) if a.is_empty() => Some(Cond::Const(false)),
        _ => path(t).map(Cond::Truthy),
    }
}

/// `.a.b` or `.["a"]`: a path of plain object keys, no `?`.
fn path(t: &Term<&str>) -> Option<Vec<String>> {
    match t {
        Term::Id => Some(Vec::new()),
        Term::Path(base, p) if matches!(**base, Term::Id) => {
            p.0.iter()
                .map(|(part, opt)| match (part, opt) {
                    (Part::Index(k), Opt::Essential) => plain_str(k),
                    _ => None,
                })
                .collect()
        }
        _ => None,
    }
}

fn lit(t: &Term<&str>) -> Option<Lit> {
    match t {
        Term::Num(n) => n
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Lit::Num),
        Term::Neg(n) => match lit(n)? {
            Lit::Num(f) => Some(Lit::Num(-f)),
            _ => None,
        },
        Term::Call("true", a) if a.is_empty() => Some(Lit::Bool(true)),
        Term::Call("false", a) if a.is_empty() => Some(Lit::Bool(false)),
        Term::Call("null", a) if a.is_empty() => Some(Lit::Null),
        _ => plain_str(t).map(Lit::Str),
    }
}

/// A string literal without interpolation or characters needing escapes,
/// so its raw JSON form is its text.
fn plain_str(t: &Term<&str>) -> Option<String> {
    match t {
        Term::Str(None, parts) => {
            let mut s = String::new();
            for p in parts {
                match p {
                    StrPart::Str(x) => s.push_str(x),
                    StrPart::Char(c) => s.push(*c),
                    StrPart::Term(_) => return None,
                }
            }
            let plain = s
                .bytes()
                .all(|b| b >= 0x20 && b != b'"' && b != b'\\' && b != 0x7f);
            plain.then_some(s)
        }
        _ => None,
    }
}

fn flip(op: Cmp) -> Cmp {
    match op {
        Cmp::Lt => Cmp::Gt,
        Cmp::Le => Cmp::Ge,
        Cmp::Gt => Cmp::Lt,
        Cmp::Ge => Cmp::Le,
        other => other,
    }
}

/// The raw value at `path`; `None` when jq would fail (indexing a
/// non-object) — the slow path then reports jq's error.
fn lookup<'a>(raw: &'a [u8], path: &[String]) -> Option<&'a [u8]> {
    let mut v = raw;
    for key in path {
        v = match json::kind(v) {
            Kind::Object => json::get(v, key.as_bytes()).unwrap_or(b"null"),
            Kind::Null => b"null",
            _ => return None,
        };
    }
    Some(v)
}

fn compare(v: &[u8], op: Cmp, lit: &Lit) -> Option<bool> {
    use std::cmp::Ordering;
    let (kv, kl) = (json::kind(v), lit.kind());
    let ord = if kv != kl {
        kv.cmp(&kl)
    } else {
        match lit {
            Lit::Null | Lit::Bool(_) => Ordering::Equal,
            Lit::Num(n) => {
                // f64 is exact for up to 15 significant digits; longer
                // numbers are left to jq.
                if v.len() > 15 {
                    return None;
                }
                let x: f64 = std::str::from_utf8(v).ok()?.parse().ok()?;
                x.partial_cmp(n)?
            }
            Lit::Str(s) => {
                let inner = &v[1..v.len() - 1];
                if inner.contains(&b'\\') {
                    return None;
                }
                inner.cmp(s.as_bytes())
            }
        }
    };
    Some(match op {
        Cmp::Eq => ord == Ordering::Equal,
        Cmp::Ne => ord != Ordering::Equal,
        Cmp::Lt => ord == Ordering::Less,
        Cmp::Le => ord != Ordering::Greater,
        Cmp::Gt => ord == Ordering::Greater,
        Cmp::Ge => ord != Ordering::Less,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::jq::Program;

    /// The fast answer, checked against jaq on the same input.
    fn both(code: &str, input: &str) -> Option<bool> {
        let fast = Cond::compile(code).unwrap_or_else(|| panic!("no fast form for {code}"));
        let got = fast.eval(input.as_bytes());
        let slow = Program::compile(code)
            .unwrap()
            .is_truthy(jaq_json::read::parse_single(input.as_bytes()).unwrap());
        if let Some(g) = got {
            assert_eq!(Ok(g), slow, "{code} on {input}");
        }
        got
    }

    #[test]
    fn agrees_with_jq() {
        let ev = r#"{"level":"error","status":503,"host":"web-1","ok":false,"n":null,"m":{"k":"v"},"f":1.5}"#;
        assert_eq!(both(r#".level == "error""#, ev), Some(true));
        assert_eq!(both(r#""error" == .level"#, ev), Some(true));
        assert_eq!(both(r#".level != "error""#, ev), Some(false));
        assert_eq!(
            both(".status >= 500 and .host != \"web-2\"", ev),
            Some(true)
        );
        assert_eq!(both(".status < 500 or .ok", ev), Some(false));
        assert_eq!(both(".ok | not", ev), Some(true));
        assert_eq!(both(".missing == null", ev), Some(true));
        assert_eq!(both(".n", ev), Some(false));
        assert_eq!(both(".m.k == \"v\"", ev), Some(true));
        assert_eq!(both(".m.x.y == null", ev), Some(true));
        assert_eq!(both(".f > 1", ev), Some(true));
        assert_eq!(both(".f == 1.5", ev), Some(true));
        assert_eq!(both(".status > \"a\"", ev), Some(false)); // numbers sort before strings
        assert_eq!(both(".level > 5", ev), Some(true));
        assert_eq!(both(".m > 5", ev), Some(true)); // objects sort last
        assert_eq!(both(".status == -503", ev), Some(false));
    }

    #[test]
    fn unsure_cases_fall_back() {
        // Indexing a string is a jq error: the slow path must report it.
        assert_eq!(
            Cond::compile(".level.x == 1")
                .unwrap()
                .eval(br#"{"level":"a"}"#),
            None
        );
        // An escape in the compared string.
        assert_eq!(
            Cond::compile(r#".m == "a""#)
                .unwrap()
                .eval(br#"{"m":"\n"}"#),
            None
        );
        // Top level not an object.
        assert_eq!(Cond::compile(".a == 1").unwrap().eval(b"[1]"), None);
    }

    #[test]
    fn projections_write_what_jq_writes() {
        let ev = r#"{"ts":1,"host":"h","message":"m \"q\"","a":{"b":[1,2]}}"#;
        for code in [
            ".",
            ".host",
            ".a.b",
            ".zz",
            "{ts, host, msg: .message}",
            r#"{"k": .a.b, n: {t: .ts}}"#,
        ] {
            let p = Projection::compile(code).unwrap_or_else(|| panic!("no fast form for {code}"));
            let mut out = Vec::new();
            assert!(p.eval(ev.as_bytes(), &mut out), "{code}");
            let mut want = Vec::new();
            Program::compile(code)
                .unwrap()
                .run(jaq_json::read::parse_single(ev.as_bytes()).unwrap(), |r| {
                    jaq_json::write::write(&mut want, &Default::default(), 0, &r.unwrap()).unwrap()
                });
            assert_eq!(
                String::from_utf8(out).unwrap(),
                String::from_utf8(want).unwrap(),
                "{code}"
            );
        }
        assert!(Projection::compile("{a: .x, a: .y}").is_none());
        assert!(Projection::compile("{(.k): 1}").is_none());
        let mut out = Vec::new();
        assert!(
            !Projection::compile(".host.x")
                .unwrap()
                .eval(ev.as_bytes(), &mut out)
        );
    }

    #[test]
    fn only_simple_conditions_have_a_fast_form() {
        assert!(Cond::compile(".a | length > 1").is_none());
        assert!(Cond::compile(".a == .b").is_none());
        assert!(Cond::compile(r#".a == "\(.b)""#).is_none());
        assert!(Cond::compile(".a? == 1").is_none());
        assert!(Cond::compile_select("select(.a == 1)").is_some());
        assert!(Cond::compile_select("def select(f): .; select(.a == 1)").is_none());
    }
}
