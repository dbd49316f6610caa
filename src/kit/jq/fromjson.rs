//! `fromjson` with the input nesting limit.
//!
//! jaq's own `fromjson` (also behind `tonumber` and `toboolean`) hands the
//! string to its recursive parser unchecked, so an event holding a string of
//! 200 000 `[` would overflow a worker's stack through a harmless-looking
//! `.payload | fromjson`. This replacement checks the depth first (see
//! [`crate::kit::json::check_nesting`]) and otherwise behaves like jq's: the
//! string holds one value (`"1 2"` and `"2a"` are errors, so `tonumber?`
//! drops them), `"nan"` is NaN, a parse error is a jq error.

use jaq_core::native::{Fun, run, v};
use jaq_core::{Error, Exn, RunPtr};
use jaq_json::Val;
use jaq_std::ValT as _;

use crate::kit::json::{MAX_NESTING, check_nesting};

type Data = jaq_core::data::JustLut<Val>;

/// The native filter that replaces jaq's `fromjson`.
pub fn funs() -> impl Iterator<Item = Fun<Data>> {
    let fromjson: RunPtr<Data> =
        |cv| Box::new(parse(&cv.1).into_iter().map(|r| r.map_err(Exn::from)));
    [("fromjson", v(0), fromjson)].into_iter().map(run::<Data>)
}

/// Names of the natives [`funs`] replaces.
pub const REPLACED: &[&str] = &["fromjson"];

/// The values in string `v`, in jaq's words on failure.
fn parse(v: &Val) -> Vec<Result<Val, Error<Val>>> {
    let bytes = match v.try_as_utf8_bytes() {
        Ok(b) => b,
        Err(e) => return vec![Err(e)],
    };
    if let Err(reason) = check_nesting(bytes, MAX_NESTING) {
        return vec![Err(Error::str(format_args!(
            "cannot parse as JSON: {reason}"
        )))];
    }
    if matches!(bytes.trim_ascii(), b"nan" | b"NaN") {
        return vec![Ok(Val::from(f64::NAN))];
    }
    let text = || String::from_utf8_lossy(bytes).into_owned();
    let mut values = jaq_json::read::parse_many(bytes);
    let first = match values.next() {
        None => Err(format!("Expected JSON value (while parsing '{}')", text())),
        Some(Err(e)) => Err(format!("{e} (while parsing '{}')", text())),
        Some(Ok(x)) => match values.next() {
            None => Ok(x),
            Some(_) => Err(format!(
                "Unexpected extra JSON values (while parsing '{}')",
                text()
            )),
        },
    };
    vec![first.map_err(Error::str)]
}

#[cfg(test)]
mod tests {
    use crate::kit::jq::Program;
    use jaq_json::Val;

    fn run(code: &str, input: Val) -> Vec<Result<String, String>> {
        let mut out = Vec::new();
        Program::compile(code)
            .unwrap()
            .run(input, |r| out.push(r.map(|v| v.to_string())));
        out
    }

    #[test]
    fn parses_like_jq_within_the_limit() {
        let s = |t: &str| Val::from(t.to_string());
        assert_eq!(
            run("fromjson", s("[1, {\"a\":2}]")),
            vec![Ok("[1,{\"a\":2}]".into())]
        );
        assert!(run("fromjson", s("1 2"))[0].is_err());
        assert_eq!(run("tonumber", s("12")), vec![Ok("12".into())]);
        assert!(run("fromjson", s("{")).pop().unwrap().is_err());
        // A syntax error ends the values (it used to repeat forever).
        assert_eq!(
            run(
                "[.[] | tonumber?]",
                vec![s("1"), s("2a")].into_iter().collect::<Val>()
            )
            .len(),
            1
        );
        assert!(run("fromjson", Val::from(1isize)).pop().unwrap().is_err());
    }

    #[test]
    fn a_deep_string_is_an_error_not_a_stack_overflow() {
        let deep = "[".repeat(200_000) + &"]".repeat(200_000);
        let out = run("fromjson", Val::from(deep));
        let err = out[0].as_ref().unwrap_err();
        assert!(err.contains("nested deeper than"), "{err}");
        let at_limit = "[".repeat(super::MAX_NESTING) + &"]".repeat(super::MAX_NESTING);
        assert!(run("fromjson", Val::from(at_limit))[0].is_ok());
    }
}
