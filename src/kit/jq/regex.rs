//! jq's regular-expression filters with compiled patterns cached.
//!
//! In jaq, `test`, `match`, `capture`, `scan`, `split`, `sub` and `gsub` are
//! jq definitions over three native filters (`matches`, `split_matches`,
//! `split_`), and those compile their pattern on every call — for a log
//! parser, once per line. These replacements behave the same (same output
//! shapes, offsets in characters, same flags) but keep compiled patterns in
//! a per-thread cache keyed by pattern and flags, and use the `regex` crate.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use jaq_core::native::{Fun, bome, run};
use jaq_core::{Bind, Cv, Error, ValR};
use jaq_json::Val;
use jaq_std::ValT as _;
use regex::bytes::{Regex, RegexBuilder};

type Data = jaq_core::data::JustLut<Val>;

/// Patterns kept per thread; the cache is cleared when it grows past this
/// (programs with many dynamic patterns then still work, just uncached).
const CACHE_SIZE: usize = 256;

/// The native filters that replace jaq's regex natives.
pub fn funs() -> impl Iterator<Item = Fun<Data>> {
    let vv = || -> Box<[Bind]> { [Bind::Var(()), Bind::Var(())].into() };
    let matches: jaq_core::RunPtr<Data> = |cv| bome(re(false, true, cv));
    let split_matches: jaq_core::RunPtr<Data> = |cv| bome(re(true, true, cv));
    let split: jaq_core::RunPtr<Data> = |cv| bome(re(true, false, cv));
    [
        ("matches", vv(), matches),
        ("split_matches", vv(), split_matches),
        ("split_", vv(), split),
    ]
    .into_iter()
    .map(run::<Data>)
}

/// Names of the natives [`funs`] replaces.
pub const REPLACED: &[&str] = &["matches", "split_matches", "split_"];

#[derive(Clone, Copy, Default)]
struct Flags {
    g: bool,
    n: bool,
}

/// A compiled pattern and the flags that are not part of it.
type Compiled = (Rc<Regex>, Flags);

thread_local! {
    static CACHE: RefCell<HashMap<(String, String), Compiled>> = RefCell::new(HashMap::new());
}

/// A compiled pattern, shared: a cloned `Regex` would start with an empty
/// search cache on every call.
fn compile(re: &str, flags: &str) -> Result<Compiled, String> {
    let key = (re.to_string(), flags.to_string());
    if let Some(hit) = CACHE.with(|c| c.borrow().get(&key).cloned()) {
        return Ok(hit);
    }
    let mut f = Flags::default();
    let mut b = RegexBuilder::new(re);
    for flag in flags.chars() {
        match flag {
            'g' => f.g = true,
            'n' => f.n = true,
            'i' => _ = b.case_insensitive(true),
            'm' => _ = b.multi_line(true),
            's' => _ = b.dot_matches_new_line(true),
            'l' => _ = b.swap_greed(true),
            'x' => _ = b.ignore_whitespace(true),
            'p' => _ = b.multi_line(true).dot_matches_new_line(true),
            c => return Err(format!("invalid regex flag: {c}")),
        }
    }
    let regex = Rc::new(b.build().map_err(|e| format!("invalid regex: {e}"))?);
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= CACHE_SIZE {
            c.clear();
        }
        c.insert(key, (regex.clone(), f));
    });
    Ok((regex, f))
}

/// One match or capture group, as jq reports it.
fn match_obj(
    input: &Val,
    s: &[u8],
    chars: &mut CharOffsets,
    start: usize,
    end: usize,
    name: Option<&str>,
) -> ValR<Val> {
    let offset = chars.at(s, start);
    let length = String::from_utf8_lossy(&s[start..end]).chars().count();
    let mut fields = vec![
        (Val::from("offset".to_string()), Val::from(offset as isize)),
        (Val::from("length".to_string()), Val::from(length as isize)),
        (
            Val::from("string".to_string()),
            input.as_sub_str(&s[start..end]),
        ),
    ];
    if let Some(n) = name {
        fields.push((Val::from("name".to_string()), Val::from(n.to_string())));
    }
    jaq_core::ValT::from_map(fields)
}

/// Byte → character offsets, for monotonically increasing byte offsets.
struct CharOffsets {
    byte: usize,
    char: usize,
}

impl CharOffsets {
    fn at(&mut self, s: &[u8], byte: usize) -> usize {
        if byte < self.byte {
            self.byte = 0;
            self.char = 0;
        }
        self.char += String::from_utf8_lossy(&s[self.byte..byte]).chars().count();
        self.byte = byte;
        self.char
    }
}

fn as_str(v: &Val) -> Result<&str, Error<Val>> {
    std::str::from_utf8(v.try_as_utf8_bytes()?).map_err(Error::str)
}

/// `s`: output the text between matches; `m`: output the matches.
fn re(s: bool, m: bool, mut cv: Cv<'_, Data>) -> ValR<Val> {
    let flags = cv.0.pop_var();
    let pattern = cv.0.pop_var();
    let (regex, f) = compile(as_str(&pattern)?, as_str(&flags)?).map_err(Error::str)?;
    let input = cv.1;
    let text = input.try_as_utf8_bytes()?;
    let mut chars = CharOffsets { byte: 0, char: 0 };
    let mut out = Vec::new();
    let mut last = 0;
    for caps in regex.captures_iter(text) {
        let whole = caps.get(0).expect("group 0 always participates");
        if f.n && whole.as_bytes().is_empty() {
            continue;
        }
        if s {
            out.push(input.as_sub_str(&text[last..whole.start()]));
            last = whole.end();
        }
        if m {
            let mut groups = Vec::new();
            for (g, name) in caps.iter().zip(regex.capture_names()) {
                if let Some(g) = g {
                    groups.push(match_obj(
                        &input,
                        text,
                        &mut chars,
                        g.start(),
                        g.end(),
                        name,
                    )?);
                }
            }
            out.push(Val::Arr(groups.into()));
        }
        if !f.g {
            break;
        }
    }
    if s {
        out.push(input.as_sub_str(&text[last..]));
    }
    Ok(Val::Arr(out.into()))
}
