//! Property tests on generated JSON: the canonical-text fast path is
//! byte-identical to jaq's writer, the jq fast path agrees with jaq on
//! generated conditions and projections, and no bytes make a codec panic.
//! The checks themselves are `sluice::fuzz_checks`, shared with the fuzz
//! targets; case counts keep the file to a few seconds.

use proptest::prelude::*;
use sluice::fuzz_checks::{self, OPS, path_text};

/// A JSON document as written, duplicate keys and all (a `Val` cannot hold
/// those).
#[derive(Debug, Clone)]
enum J {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

/// Few distinct keys, so that objects repeat them and paths hit them.
const KEYS: [&str; 6] = ["a", "b", "level", "n", "é", "k\"q"];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(&KEYS[..]).prop_map(str::to_string),
        1 => text(),
    ]
}

/// Strings with unicode, control characters, quotes, backslashes and DEL.
fn text() -> impl Strategy<Value = String> {
    let special = prop::sample::select(vec![
        '"', '\\', '/', '\n', '\t', '\r', '\u{8}', '\u{c}', '\u{0}', '\u{1f}', '\u{7f}', 'é', '😀',
        '\u{2028}', 'a', ' ',
    ]);
    prop::collection::vec(prop_oneof![special, any::<char>()], 0..8)
        .prop_map(|cs| cs.into_iter().collect())
}

fn scalar() -> impl Strategy<Value = J> {
    prop_oneof![
        Just(J::Null),
        any::<bool>().prop_map(J::Bool),
        prop_oneof![any::<i64>(), -1000i64..1000].prop_map(J::Int),
        prop_oneof![
            any::<f64>().prop_filter("finite", |f| f.is_finite()),
            (-100i32..100).prop_map(|i| f64::from(i) / 4.0),
        ]
        .prop_map(J::Float),
        text().prop_map(J::Str),
        prop::sample::select(vec!["error", "info", "", "a"]).prop_map(|s| J::Str(s.into())),
    ]
}

fn json() -> impl Strategy<Value = J> {
    scalar().prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(J::Arr),
            prop::collection::vec((key(), inner), 0..5).prop_map(J::Obj),
        ]
    })
}

/// Writes `j`: compact, or with spaces where JSON allows them.
fn render(j: &J, spaced: bool, out: &mut String) {
    let sep = if spaced { " " } else { "" };
    match j {
        J::Null => out.push_str("null"),
        J::Bool(b) => out.push_str(&b.to_string()),
        J::Int(i) => out.push_str(&i.to_string()),
        J::Float(f) => out.push_str(&format!("{f:?}")),
        J::Str(s) => out.push_str(&serde_json::to_string(s).unwrap()),
        J::Arr(xs) => {
            out.push('[');
            for (i, x) in xs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                    out.push_str(sep);
                }
                render(x, spaced, out);
            }
            out.push(']');
        }
        J::Obj(kvs) => {
            out.push('{');
            for (i, (k, v)) in kvs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(sep);
                out.push_str(&serde_json::to_string(k).unwrap());
                out.push(':');
                out.push_str(sep);
                render(v, spaced, out);
            }
            out.push('}');
        }
    }
}

fn text_of(j: &J, spaced: bool) -> String {
    let mut s = String::new();
    render(j, spaced, &mut s);
    s
}

/// A path of (mostly) known keys.
fn path() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        prop::sample::select(&KEYS[..4]).prop_map(str::to_string),
        0..4,
    )
}

fn literal() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "null",
            "true",
            "false",
            "0",
            "1",
            "-1",
            "2.5",
            "-0.25",
            "1e3",
            "\"\"",
            "\"a\"",
            "\"error\"",
            "\"info\"",
            "\"é\"",
        ])
        .prop_map(str::to_string),
        (-1000i64..1000).prop_map(|i| i.to_string()),
    ]
}

fn comparison() -> impl Strategy<Value = String> {
    (path(), 0..OPS.len(), literal(), any::<bool>()).prop_map(|(p, op, lit, flip)| {
        if flip {
            format!("{lit} {} {}", OPS[op], path_text(&p))
        } else {
            format!("{} {} {lit}", path_text(&p), OPS[op])
        }
    })
}

fn condition() -> impl Strategy<Value = String> {
    prop_oneof![comparison(), path().prop_map(|p| path_text(&p))].prop_recursive(3, 8, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) and ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) or ({b})")),
            inner.prop_map(|a| format!("({a}) | not")),
        ]
    })
}

/// An event: an object of the known keys (some nested), as jaq writes it.
fn event() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec((key(), json()), 0..6).prop_filter_map("jaq reads it", |kvs| {
        let text = text_of(&J::Obj(kvs), false);
        let v = sluice::kit::json::parse_limited(text.as_bytes()).ok()?;
        Some(fuzz_checks::write(&v))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// jaq's text of any value is canonical, passes through unparsed, and
    /// is exactly what the writer writes for the parsed value.
    #[test]
    fn pass_through_is_byte_identical_to_jaqs_writer(j in json()) {
        let v = sluice::kit::json::parse_limited(text_of(&j, false).as_bytes()).unwrap();
        fuzz_checks::pass_through_is_writer(&v);
    }

    /// Any text the scanner calls canonical (duplicate keys, serde_json's
    /// escapes, spaces included) is what jaq writes; and every decoded line
    /// re-encodes stably.
    #[test]
    fn canonical_means_what_jaq_writes(j in json(), spaced in any::<bool>()) {
        let text = text_of(&j, spaced);
        fuzz_checks::canonical(text.as_bytes());
        let mut line = vec![1u8];
        line.extend_from_slice(text.as_bytes());
        line.push(b'\n');
        fuzz_checks::decode(&line);
    }

    /// Random bytes, split into random reads, with a 16-byte or a 1 MiB line
    /// limit (the first byte picks), through the json and text codecs.
    #[test]
    fn no_bytes_make_a_codec_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        fuzz_checks::decode(&bytes);
    }
}

proptest! {
    // Each case compiles jq programs: fewer cases.
    #![proptest_config(ProptestConfig { cases: 150, ..ProptestConfig::default() })]

    /// The fast path agrees with jaq whenever it answers.
    #[test]
    fn fast_conditions_agree_with_jaq(raw in event(), cond in condition()) {
        fuzz_checks::condition_agrees(&raw, &cond);
        fuzz_checks::condition_agrees(&raw, &format!("select({cond})"));
    }

    /// Projections write what jaq writes whenever they answer.
    #[test]
    fn fast_projections_agree_with_jaq(raw in event(), a in path(), b in path()) {
        fuzz_checks::projection_agrees(&raw, &path_text(&a));
        let obj = format!("{{x: {}, y: {{z: {}}}}}", path_text(&a), path_text(&b));
        fuzz_checks::projection_agrees(&raw, &obj);
    }
}
