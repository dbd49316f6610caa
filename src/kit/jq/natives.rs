//! Native filters sluice adds to jaq's: the path functions with jq's
//! semantics (`paths.rs`), jq's formats (`@csv`, `@tsv`), jq's wording of
//! errors, `tojson` in jq's number form, division that fails on zero, and
//! the filters that ask about the input (`input`, `inputs`,
//! `input_filename`, `input_line_number`), which read [`context`].

use jaq_core::box_iter::box_once;
use jaq_core::native::{Fun, bome, run, v};
use jaq_core::{Error, Exn, RunPtr, ValR};
use jaq_json::Val;

use super::context;
use super::messages::{describe, jq_text};
use super::paths;
use super::write;

type Data = jaq_core::data::JustLut<Val>;

fn err(msg: impl Into<String>) -> Error<Val> {
    Error::new(Val::from(msg.into()))
}

/// The native filters.
pub fn funs() -> impl Iterator<Item = Fun<Data>> {
    let list: Vec<jaq_core::native::Filter<RunPtr<Data>>> = vec![
        ("_setpath", v(2), |mut cv| {
            let x = cv.0.pop_var();
            let p = cv.0.pop_var();
            bome(paths::setpath(cv.1, &p, x).map_err(err))
        }),
        ("_delpaths", v(1), |mut cv| {
            let ps = cv.0.pop_var();
            bome(paths::delpaths(cv.1, &ps).map_err(err))
        }),
        ("_resolve_path", v(1), |mut cv| {
            let p = cv.0.pop_var();
            bome(paths::resolve(&cv.1, &p).map_err(err))
        }),
        ("_div", v(1), |mut cv| {
            let y = cv.0.pop_var();
            bome(div(cv.1, y))
        }),
        ("_neg", v(0), |cv| bome(neg(cv.1))),
        ("_jq_desc", v(0), |cv| bome(Ok(Val::from(describe(&cv.1))))),
        ("_jq_errmsg", v(0), |cv| {
            bome(Ok(match &cv.1 {
                Val::TStr(s) => Val::from(jq_text(&String::from_utf8_lossy(s))),
                other => other.clone(),
            }))
        }),
        ("tojson", v(0), |cv| {
            bome(Ok(Val::from(write::to_string(&cv.1))))
        }),
        ("_csv", v(0), |cv| bome(row(&cv.1, Sep::Csv))),
        ("_tsv", v(0), |cv| bome(row(&cv.1, Sep::Tsv))),
        ("input", v(0), |_| {
            box_once(match context::next_input() {
                Some(Ok(v)) => Ok(v),
                Some(Err(e)) => Err(Exn::from(err(e))),
                None => Err(Exn::from(err("No more inputs"))),
            })
        }),
        ("inputs", v(0), |_| {
            Box::new(std::iter::from_fn(|| {
                context::next_input().map(|r| r.map_err(|e| Exn::from(err(e))))
            }))
        }),
        ("input_filename", v(0), |_| bome(Ok(context::filename()))),
        ("input_line_number", v(0), |_| {
            bome(Ok(Val::from(context::line() as isize)))
        }),
        ("builtins", v(0), |_| bome(Ok(super::builtins()))),
        ("_base32", v(0), |cv| {
            bome(text(&cv.1).map(|t| Val::from(base32(t.as_bytes()))))
        }),
        ("_base32d", v(0), |cv| {
            bome(text(&cv.1).and_then(|t| {
                base32d(&t)
                    .map(|b| Val::from(String::from_utf8_lossy(&b).into_owned()))
                    .ok_or_else(|| err(format!("{} is not valid base32 data", describe(&cv.1))))
            }))
        }),
    ];
    list.into_iter().map(run::<Data>)
}

/// Names of jaq natives these replace.
pub const REPLACED: &[&str] = &["tojson"];

/// The input as text, as jq's formats take it (`tostring`).
fn text(v: &Val) -> Result<String, Error<Val>> {
    Ok(match v {
        Val::TStr(s) | Val::BStr(s) => String::from_utf8_lossy(s).into_owned(),
        other => write::to_string(other),
    })
}

const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32, padded.
fn base32(b: &[u8]) -> String {
    let mut out = String::new();
    for chunk in b.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let n = u64::from_be_bytes([0, 0, 0, buf[0], buf[1], buf[2], buf[3], buf[4]]);
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..8 {
            if i < chars {
                out.push(B32[((n >> (35 - 5 * i)) & 31) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes RFC 4648 base32 (padding optional).
fn base32d(t: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u64, 0u32);
    for c in t.bytes().filter(|c| *c != b'=') {
        let v = B32.iter().position(|x| *x == c.to_ascii_uppercase())? as u64;
        acc = (acc << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// jq's `/`: numbers fail on a zero divisor, strings split.
fn div(x: Val, y: Val) -> ValR<Val> {
    // 0/0 is NaN in jq; any other number over zero is an error.
    if let (Val::Num(_), Val::Num(_)) = (&x, &y)
        && y == Val::from(0isize)
        && x != Val::from(0isize)
    {
        return Err(err(format!(
            "{} and {} cannot be divided because the divisor is zero",
            describe(&x),
            describe(&y)
        )));
    }
    x / y
}

/// jq's unary minus: only numbers.
fn neg(x: Val) -> ValR<Val> {
    match x {
        Val::Num(_) => -x,
        other => Err(err(format!("{} cannot be negated", describe(&other)))),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Sep {
    Csv,
    Tsv,
}

/// `@csv` / `@tsv` of an array, in jq's words on failure.
fn row(v: &Val, sep: Sep) -> ValR<Val> {
    let (name, glue) = match sep {
        Sep::Csv => ("csv", ","),
        Sep::Tsv => ("tsv", "\t"),
    };
    let Val::Arr(items) = v else {
        return Err(err(format!(
            "{} cannot be {name}-formatted, only an array can be",
            describe(v)
        )));
    };
    let mut out = String::new();
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(glue);
        }
        match x {
            Val::Null => {}
            Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Val::Num(n) => {
                let mut b = Vec::new();
                write::number(&mut b, n);
                out.push_str(&String::from_utf8_lossy(&b));
            }
            Val::TStr(s) | Val::BStr(s) => {
                let s = String::from_utf8_lossy(s);
                match sep {
                    Sep::Csv => {
                        out.push('"');
                        out.push_str(&s.replace('"', "\"\""));
                        out.push('"');
                    }
                    Sep::Tsv => {
                        for c in s.chars() {
                            match c {
                                '\\' => out.push_str("\\\\"),
                                '\t' => out.push_str("\\t"),
                                '\n' => out.push_str("\\n"),
                                '\r' => out.push_str("\\r"),
                                c => out.push(c),
                            }
                        }
                    }
                }
            }
            other => {
                let what = match sep {
                    Sep::Csv => "is not valid in a csv row",
                    Sep::Tsv => "is not valid in a tsv row",
                };
                return Err(err(format!("{} {what}", describe(other))));
            }
        }
    }
    Ok(Val::from(out))
}

#[cfg(test)]
mod tests {
    #[test]
    fn base32_round_trips() {
        assert_eq!(super::base32(b"foobar"), "MZXW6YTBOI======");
        assert_eq!(super::base32d("MZXW6YTBOI======").unwrap(), b"foobar");
    }
}
