//! Raw JSON text without building a tree: a scanner that checks a line is
//! valid JSON *in the exact form the sink would write it* (compact, canonical
//! escapes, no duplicate keys), and lookups of top-level paths in such text.
//!
//! This is what lets an event that no stage modifies travel from source to
//! sink as its original bytes: parsed only if a stage needs the value, never
//! re-serialised.
//!
//! It also owns the nesting limit ([`MAX_NESTING`]): [`parse_limited`] is
//! how bytes from outside become a value, depth-checked first (jq's
//! `fromjson` runs [`check_nesting`] itself).

/// Deepest nesting of arrays and objects accepted from outside (a scalar is
/// depth 0, `[]` depth 1). Every later recursive operation on a value at this
/// depth (jaq's parser, its writer, `Drop` of a `Val`, jq's `..`, `walk`,
/// `paths`, `tojson`) then stays far inside the 2 MiB stacks of the runtime's
/// threads, even in a debug build; deeper input becomes an error event (see
/// [`check_nesting`]) instead of a stack overflow that would abort the
/// process. SPEC asks for at least 128; README's Limits section documents it.
pub const MAX_NESTING: usize = 128;

/// Deepest nesting the canonical scanner follows (it recurses, about one
/// small frame per level): the same as the input limit, so that every value
/// the limit lets in can keep its raw text.
const MAX_DEPTH: usize = MAX_NESTING;

/// Objects with more keys than this are not checked for duplicates and take
/// the slow path.
const MAX_KEYS: usize = 64;

mod swar;
use swar::{key_tag, plain_run};

/// Checks, without recursion, that no array or object in `s` is nested
/// deeper than `limit`; `Err` carries the reason for the error event.
///
/// It must run before any recursive parse of bytes from outside. It follows
/// jaq's lexical rules where they matter for counting (strings with
/// backslash escapes, `#` comments to the end of the line), so that over
/// any prefix jaq's parser accepts, the depth counted here is the depth of
/// jaq's recursion. It never undercounts; on invalid JSON it may count a
/// bracket jaq would never reach, which only turns one error into another.
pub fn check_nesting(s: &[u8], limit: usize) -> Result<(), String> {
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        match c {
            b'"' => {
                i += 1;
                // Skip to the closing quote, stepping over escaped bytes.
                loop {
                    match memchr::memchr2(b'"', b'\\', &s[i.min(s.len())..]) {
                        Some(k) if s[i + k] == b'\\' => i += k + 2,
                        Some(k) => {
                            i += k;
                            break;
                        }
                        None => return Ok(()),
                    }
                }
            }
            b'#' => match memchr::memchr(b'\n', &s[i..]) {
                Some(k) => i += k,
                None => return Ok(()),
            },
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return Err(format!(
                        "JSON nested deeper than {limit} levels (at byte offset {i})"
                    ));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// Parses one JSON value from outside with jaq, after [`check_nesting`]
/// against [`MAX_NESTING`]: decoders use this, never jaq's parser directly.
pub fn parse_limited(s: &[u8]) -> Result<jaq_json::Val, String> {
    check_nesting(s, MAX_NESTING)?;
    jaq_json::read::parse_single(s).map_err(|e| format!("invalid JSON: {e}"))
}

/// True when `s` is one JSON value written exactly as `jaq_json`'s compact
/// writer would write it again. Canonical text is valid UTF-8 (the scanner
/// checks the strings; everything else must be ASCII), so a caller need
/// not check it first.
pub fn is_canonical(s: &[u8]) -> bool {
    KEYS.with_borrow_mut(|keys| {
        keys.clear();
        let mut sc = Scanner {
            s,
            i: 0,
            keys: Some(keys),
        };
        sc.value(0) && sc.i == s.len()
    })
}

/// A key seen in an object being checked: its span and [`key_tag`].
type SeenKey = (usize, usize, u64);

thread_local! {
    /// The keys of the objects being checked, innermost last: one buffer per
    /// thread, reused, so checking a line allocates and clears nothing.
    static KEYS: std::cell::RefCell<Vec<SeenKey>> = const { std::cell::RefCell::new(Vec::new()) };
}

struct Scanner<'a, 'k> {
    s: &'a [u8],
    i: usize,
    /// Where duplicate keys are looked for; `None` when skipping text
    /// already known to be canonical.
    keys: Option<&'k mut Vec<SeenKey>>,
}

impl Scanner<'_, '_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn value(&mut self, depth: usize) -> bool {
        match self.peek() {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => false,
        }
    }

    fn literal(&mut self, lit: &[u8]) -> bool {
        if self.s[self.i..].starts_with(lit) {
            self.i += lit.len();
            true
        } else {
            false
        }
    }

    fn object(&mut self, depth: usize) -> bool {
        if depth >= MAX_DEPTH {
            return false;
        }
        self.i += 1;
        if self.peek() == Some(b'}') {
            self.i += 1;
            return true;
        }
        // This object's keys follow those of the objects it is inside.
        let base = self.keys.as_ref().map_or(0, |k| k.len());
        let ok = self.members(depth, base);
        if let Some(keys) = self.keys.as_mut() {
            keys.truncate(base);
        }
        ok
    }

    /// The members of an object after its `{`, through its `}`; its keys
    /// are recorded from `base` on.
    fn members(&mut self, depth: usize, base: usize) -> bool {
        loop {
            let start = self.i;
            if self.peek() != Some(b'"') || !self.string() {
                return false;
            }
            if let Some(keys) = self.keys.as_mut() {
                let key = &self.s[start..self.i];
                // The tag (length and first bytes) settles most comparisons
                // without touching the text.
                let tag = key_tag(key);
                let seen = &keys[base..];
                if seen.len() == MAX_KEYS
                    || seen
                        .iter()
                        .any(|&(a, b, t)| t == tag && &self.s[a..b] == key)
                {
                    return false;
                }
                keys.push((start, self.i, tag));
            }
            if self.peek() != Some(b':') {
                return false;
            }
            self.i += 1;
            if !self.value(depth + 1) {
                return false;
            }
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return true;
                }
                _ => return false,
            }
        }
    }

    fn array(&mut self, depth: usize) -> bool {
        if depth >= MAX_DEPTH {
            return false;
        }
        self.i += 1;
        if self.peek() == Some(b']') {
            self.i += 1;
            return true;
        }
        loop {
            if !self.value(depth + 1) {
                return false;
            }
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return true;
                }
                _ => return false,
            }
        }
    }

    /// A string whose escapes are exactly those the writer produces, in
    /// valid UTF-8.
    fn string(&mut self) -> bool {
        self.i += 1;
        let s = self.s;
        let from = self.i;
        let mut ascii = true;
        loop {
            let (n, high) = plain_run(&s[self.i.min(s.len())..]);
            self.i += n;
            ascii &= !high;
            match s.get(self.i) {
                Some(b'"') => {
                    self.i += 1;
                    return ascii || std::str::from_utf8(&s[from..self.i - 1]).is_ok();
                }
                Some(b'\\') => {
                    match s.get(self.i + 1) {
                        Some(b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 2,
                        Some(b'u') => {
                            // Only control characters without a short form,
                            // and DEL, are written as \u00xx (lowercase hex).
                            let Some(hex) = s.get(self.i + 2..self.i + 6) else {
                                return false;
                            };
                            let Some(code) = std::str::from_utf8(hex)
                                .ok()
                                .filter(|h| {
                                    h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                                })
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                            else {
                                return false;
                            };
                            let short = matches!(code, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d);
                            if !((code < 0x20 && !short) || code == 0x7f) {
                                return false;
                            }
                            self.i += 6;
                        }
                        _ => return false,
                    }
                }
                // A control character or DEL, which the writer escapes; or
                // the end of the text inside a string.
                _ => return false,
            }
        }
    }

    /// A JSON number; `-0` is the one literal the writer would change.
    fn number(&mut self) -> bool {
        let s = self.s;
        let start = self.i;
        if s.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        match s.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                while matches!(s.get(self.i), Some(b'0'..=b'9')) {
                    self.i += 1;
                }
            }
            _ => return false,
        }
        let int_end = self.i;
        if s.get(self.i) == Some(&b'.') {
            self.i += 1;
            if !self.digits() {
                return false;
            }
        }
        if matches!(s.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(s.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !self.digits() {
                return false;
            }
        }
        !(int_end == self.i && &s[start..self.i] == b"-0")
    }

    fn digits(&mut self) -> bool {
        let from = self.i;
        while matches!(self.s.get(self.i), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        self.i > from
    }

    /// Skips one value known to be valid; returns its end.
    fn skip(&mut self) -> usize {
        self.value(0);
        self.i
    }
}

/// The kind of a raw JSON value, in jq's ordering of types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// `null`
    Null,
    /// `false`
    False,
    /// `true`
    True,
    /// a number
    Number,
    /// a string
    String,
    /// an array
    Array,
    /// an object
    Object,
}

/// The kind of the canonical raw value `v`.
pub fn kind(v: &[u8]) -> Kind {
    match v.first() {
        Some(b'n') => Kind::Null,
        Some(b'f') => Kind::False,
        Some(b't') => Kind::True,
        Some(b'"') => Kind::String,
        Some(b'[') => Kind::Array,
        Some(b'{') => Kind::Object,
        _ => Kind::Number,
    }
}

/// The raw value of key `key` in the canonical raw object `obj`; `None` when
/// absent. `key` is compared with the raw key text, so it must contain no
/// character that needs escaping.
pub fn get<'a>(obj: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let mut sc = Scanner {
        s: obj,
        i: 1,
        keys: None,
    };
    if obj.get(1) == Some(&b'}') {
        return None;
    }
    loop {
        let kstart = sc.i;
        sc.string();
        let k = &obj[kstart + 1..sc.i - 1];
        sc.i += 1; // ':'
        let vstart = sc.i;
        let vend = sc.skip();
        if k == key {
            return Some(&obj[vstart..vend]);
        }
        match obj.get(sc.i) {
            Some(b',') => sc.i += 1,
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_json_is_canonical() {
        for ok in [
            r#"{"a":1,"b":[true,false,null],"c":{"d":"x\"y\\z\n"},"e":-1.5e3}"#,
            r#""é\u001f\u007f""#,
            "\"日本語 ü 🎉\"",
            "[]",
            "{}",
            "0",
            "-0.0",
        ] {
            assert!(is_canonical(ok.as_bytes()), "{ok}");
        }
    }

    #[test]
    fn anything_the_writer_would_change_is_not() {
        for no in [
            r#"{"a": 1}"#,
            r#"{"a":1,"a":2}"#,
            r#""\/""#,
            r#""\u0041""#,
            r#""\u000a""#,
            r#""\u001F""#,
            "-0",
            "01",
            "1.",
            r#"{"a":1"#,
            "[1,]",
            "tru",
            "1 ",
            "\"\x7f\"",
        ] {
            assert!(!is_canonical(no.as_bytes()), "{no}");
        }
        // Not UTF-8: a lone continuation byte, a truncated sequence, an
        // overlong form, a surrogate, bytes outside strings.
        for no in [
            &b"\"\x80\""[..],
            b"\"\xc3\"",
            b"\"\xc0\xaf\"",
            b"\"\xed\xa0\x80\"",
            b"{\"a\":\"\xff\"}",
            b"[1,\xc3\xa9]",
        ] {
            assert!(!is_canonical(no), "{no:?}");
        }
    }

    #[test]
    fn canonical_text_round_trips_through_the_writer() {
        for s in [
            r#"{"a":1,"b":[true,false,null],"c":{"d":"x\"y\\z\n\t\r\b\f"},"e":-1.5e3,"f":1E+2}"#,
            r#"["\u0000\u001f\u007f",12345678901234567890123]"#,
        ] {
            assert!(is_canonical(s.as_bytes()), "{s}");
            let v = jaq_json::read::parse_single(s.as_bytes()).unwrap();
            let mut out = Vec::new();
            jaq_json::write::write(&mut out, &jaq_json::write::Pp::default(), 0, &v).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), s);
        }
    }

    #[test]
    fn nesting_is_counted_without_recursion() {
        let deep = |n: usize| "[".repeat(n) + &"]".repeat(n);
        assert!(check_nesting(deep(MAX_NESTING).as_bytes(), MAX_NESTING).is_ok());
        let err = check_nesting(deep(MAX_NESTING + 1).as_bytes(), MAX_NESTING).unwrap_err();
        assert!(err.contains("nested deeper than 128 levels"), "{err}");
        assert!(check_nesting(deep(200_000).as_bytes(), MAX_NESTING).is_err());
        // Brackets in strings (escaped quotes too) and comments do not count.
        assert!(check_nesting(br#"["[[[", "\"[[[", {"k[": "\\"}]"#, 2).is_ok());
        assert!(check_nesting(b"[1, # [[[[\n 2]", 1).is_ok());
        assert!(check_nesting(br#"[{"a":[1]}]"#, 2).is_err());
        // Stray closers never lower the count below zero.
        assert!(check_nesting(b"]]][[[", 2).is_err());
        // Canonical text is bounded by the same limit.
        assert!(is_canonical(deep(MAX_NESTING).as_bytes()));
        assert!(!is_canonical(deep(MAX_NESTING + 1).as_bytes()));
    }

    #[test]
    fn strings_with_long_plain_runs_and_escapes() {
        let long = "x".repeat(37);
        for ok in [
            format!(r#""{long}\"{long}\\\n{long}é""#),
            format!(r#"{{"{long}":"{long}","{long}a":1}}"#),
        ] {
            assert!(is_canonical(ok.as_bytes()), "{ok}");
        }
        for no in [
            format!("\"{long}\x01\""),
            format!("\"{long}\x7f{long}\""),
            format!("\"{long}"),
            format!(r#"{{"{long}":1,"{long}":2}}"#),
        ] {
            assert!(!is_canonical(no.as_bytes()), "{no}");
        }
    }

    #[test]
    fn get_finds_top_level_keys_only() {
        let o = br#"{"x":{"level":"no"},"level":"error","n":[1,{"a":2}]}"#;
        assert_eq!(get(o, b"level"), Some(&br#""error""#[..]));
        assert_eq!(get(o, b"n"), Some(&br#"[1,{"a":2}]"#[..]));
        assert_eq!(get(o, b"missing"), None);
        assert_eq!(get(b"{}", b"a"), None);
        assert_eq!(kind(b"-1"), Kind::Number);
    }
}
