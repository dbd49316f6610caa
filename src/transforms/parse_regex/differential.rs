//! Differential tests: the straight-line matcher ([`super::plan`]) against
//! `regex::Regex` on the loghub lines (as they are and mangled), on
//! hand-picked patterns, and on generated patterns and lines. Wherever a
//! plan is built, its captures and the stage's JSON output must equal what
//! the `regex` crate gives.

use proptest::prelude::*;

use super::*;
use crate::kit::codec::Codec;

const APACHE_LOG: &str = include_str!("../../../tests/data/loghub/Apache_2k.log");
const HDFS_JSONL: &str = include_str!("../../../tests/data/loghub/hdfs.jsonl");

const HDFS: &str = r"^(?P<Date>\d{6}) (?P<Time>\d{6}) (?P<Pid>\d+) (?P<Level>\w+) (?P<Component>[^:]+): (?P<Content>.*?)\s*$";
const APACHE: &str = r"^\[(?P<time>[^\]]+)\] \[(?P<level>[a-z]+)\] (?P<content>.*)$";

/// The raw HDFS lines, rebuilt from loghub's structured CSV (the same bytes
/// as `HDFS_2k.log`; `tests/parse_regex_hdfs.rs` checks its hash).
fn hdfs_lines() -> Vec<String> {
    HDFS_JSONL
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("jsonl");
            let f = |k: &str| v[k].as_str().expect("string field").to_string();
            format!(
                "{} {} {} {} {}: {}",
                f("date"),
                f("time"),
                f("pid"),
                f("level"),
                f("component"),
                f("content")
            )
        })
        .collect()
}

/// Variants of `line` at the edges the patterns care about.
fn mangle(line: &str) -> Vec<String> {
    let mut out = vec![line.to_string()];
    for end in [
        " ",
        "  ",
        "\t",
        "\r",
        " \r",
        "\r\n",
        "\n",
        " \n ",
        "x\n",
        "\n ",
        "\u{a0}",
        "\u{3000}",
        "\u{85}",
        "\u{200b}",
        "é",
        " \"q\" \\ ",
        "\u{1}",
        ":",
        "]",
    ] {
        out.push(format!("{line}{end}"));
        out.push(format!("{end}{line}"));
    }
    for (i, _) in line.char_indices().step_by(7) {
        out.push(format!("{}\n{}", &line[..i], &line[i..]));
        out.push(format!(
            "{}{}",
            &line[..i],
            line[i..].chars().skip(1).collect::<String>()
        ));
        out.push(format!("{}٣{}", &line[..i], &line[i..]));
    }
    out
}

/// Checks the plan of `pattern` against the `regex` crate on `lines`;
/// returns false when the pattern has no plan.
fn check(pattern: &str, lines: &[String]) -> bool {
    let re = Regex::new(pattern).expect("pattern compiles");
    let Some(plan) = Plan::new(pattern, re.captures_len()) else {
        return false;
    };
    let mut slots = vec![usize::MAX; plan.slots()];
    let mut locs = re.capture_locations();
    for s in lines {
        let want = re.captures_read(&mut locs, s).is_some();
        assert_eq!(plan.run(s, &mut slots), want, "{pattern:?} on {s:?}");
        if want {
            for g in 0..re.captures_len() {
                assert_eq!(
                    Some((slots[2 * g], slots[2 * g + 1])),
                    locs.get(g),
                    "group {g} of {pattern:?} on {s:?}"
                );
            }
        }
    }
    true
}

/// The stage's output (text of each ok and error event) on `lines`.
fn stage_output(t: &mut ParseRegex, lines: &[String]) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let ctx = BatchCtx {
        stage: "p",
        origin: 0,
        seq: 0,
        seed: 0,
    };
    let input = lines
        .iter()
        .enumerate()
        .map(|(i, l)| Event::with_line(Val::from(l.clone()), i as u64 + 1))
        .collect();
    let mut out = vec![Vec::new(), Vec::new()];
    t.process(input, &ctx, &mut out);
    let text = |es: &Vec<Event>| {
        es.iter()
            .map(|e| {
                let mut b = Vec::new();
                e.encode(Codec::Json, &mut b);
                b
            })
            .collect()
    };
    (text(&out[0]), text(&out[1]))
}

/// The stage with and without its plan gives the same events.
fn check_stage(pattern: &str, lines: &[String]) {
    let cfg = ParseRegexConfig {
        pattern: Spanned::new(0..0, pattern.into()),
        field: None,
    };
    let mut fast = cfg.build().expect("builds");
    assert!(fast.plan.is_some(), "{pattern:?} has a plan");
    let mut slow = cfg.build_without_plan().expect("builds");
    assert!(slow.plan.is_none());
    let (f, s) = (
        stage_output(&mut fast, lines),
        stage_output(&mut slow, lines),
    );
    assert_eq!(f.1.len(), s.1.len(), "{pattern:?}: as many mismatches");
    for (a, b) in f.0.iter().zip(&s.0).chain(f.1.iter().zip(&s.1)) {
        assert_eq!(
            String::from_utf8_lossy(a),
            String::from_utf8_lossy(b),
            "{pattern:?}"
        );
    }
    for line in &f.0 {
        assert!(crate::kit::json::is_canonical(line.trim_ascii_end()));
    }
}

#[test]
fn loghub_lines_and_their_variants_match_like_regex() {
    let hdfs: Vec<String> = hdfs_lines().iter().flat_map(|l| mangle(l)).collect();
    let apache: Vec<String> = APACHE_LOG.lines().flat_map(mangle).collect();
    for (pattern, lines) in [(HDFS, &hdfs), (APACHE, &apache)] {
        assert!(check(pattern, lines), "{pattern:?} has a plan");
        check_stage(pattern, lines);
    }
    // The HDFS lines really do go through the lazy tail, trailing blanks
    // and all.
    let re = Regex::new(HDFS).expect("compiles");
    assert!(hdfs.iter().filter(|l| re.is_match(l)).count() > 40_000);
}

#[test]
fn hand_picked_patterns() {
    let lines: Vec<String> = [
        "",
        " ",
        "a",
        "ab: c",
        "ab: c  ",
        "ab: c \t\r",
        "ab:  ",
        "ab:",
        "a:b: c d \n",
        "12 ab",
        "123456 7",
        "١٢٣ x",
        "x\ny",
        "x \n",
        "\n",
        " \u{a0}x\u{a0} ",
        "[a] [b] c",
        "[a]] [b] c",
        "\"q\": \\",
        "aaa",
        "aab",
        "é:é é",
    ]
    .iter()
    .flat_map(|l| mangle(l))
    .collect();
    let with_plan = [
        HDFS,
        APACHE,
        r"^(?P<a>.*?)\s*$",
        r"^(?P<a>.*)\s*$",
        r"^(?P<a>(?s:.)*?)\s*$",
        r"^(?P<a>[^:]*):(?P<b>.*?)[ \t]*$",
        r"^(?P<a>\d{2,4}) (?P<b>\S+)",
        r"^(?P<a>\d+?) (?P<b>\S*?) x",
        r"^(?P<a>[^\]]+)\]+ (?P<b>.*)",
        r"^(?i)(?P<a>ab)(?P<b>[^:]*)",
        r"^(?P<whole>(?P<a>\w)(?P<b>\w*)):(?P<c>.*?) *$",
        r"^(?P<a>a|b)(?P<b>[^ab]*)",
        r"^(?P<a>\w*)",
        r"^(?P<a>\p{Greek}*)(?P<b>é?)",
        r"^(?-u:(?P<a>\w+)) (?P<b>.*)$",
    ];
    for p in with_plan {
        assert!(check(p, &lines), "{p:?} has a plan");
        check_stage(p, &lines);
    }
    // Shapes the plan must refuse: the regex crate keeps them.
    for p in [
        r"(?P<a>\w+)",
        r"^(?P<a>\w+)\w",
        r"^(?P<a>ab|cd)",
        r"^(?P<a>\w+)(?P<b>\s*)(?P<c>.*?)(?P<d>\s*)$",
        r"^(?P<a>\w*?)",
        r"^(?P<a>.*?) (?P<b>.*)$",
        r"^(?m)(?P<a>.*)$",
        r"^(?P<a>\w+)\b",
        r"^(?P<a>x)?",
        r"^(?P<a>.*)\s+$",
        r"^(?P<a>.*?)$\s*",
        r"^(?P<a>\w+)(\s+)(?P<b>[^\s]+)?",
    ] {
        let re = Regex::new(p).expect("compiles");
        assert!(Plan::new(p, re.captures_len()).is_none(), "{p:?}");
    }
}

/// One generated pattern item: a literal or a class, with a quantifier,
/// maybe in a group.
fn item() -> impl Strategy<Value = String> {
    let atom = prop::sample::select(vec![
        " ",
        ":",
        "a",
        "é",
        r"\[",
        r"\]",
        r"\d",
        r"\w",
        r"\s",
        r"\S",
        ".",
        r"[^:]",
        "[a-z]",
        r"[^ ]",
        r"[ \t]",
        "(?s:.)",
        r"[^\]]",
        r"\p{Greek}",
        r"[^\s\S]",
        r"(?-u:\w)",
        "ab",
    ]);
    let quant = prop::sample::select(vec![
        "", "", "*", "+", "?", "*?", "+?", "??", "{2}", "{1,3}", "{2,}?", "{0,2}?",
    ]);
    (atom, quant, any::<bool>()).prop_map(|(a, q, group)| {
        let a = if q.is_empty()
            || a.chars().count() == 1
            || a.starts_with('[')
            || a.starts_with('\\')
            || a == "."
        {
            format!("{a}{q}")
        } else {
            format!("(?:{a}){q}")
        };
        if group { format!("({a})") } else { a }
    })
}

/// How a generated pattern ends: nothing, `$`, or a run before `X*$`.
fn end() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "",
        "$",
        r"\s*$",
        r"[ \t]*$",
        r"\s*?$",
        r"(.*?)\s*$",
        r"(.*)\s*$",
        r"(\S*?)[ \t]*$",
        r"((?s:.)*?)\s*$",
        r"(.*?)[^a]*$",
        r"([^:]*)\s*$",
    ])
}

fn subject() -> impl Strategy<Value = String> {
    let ch = prop::sample::select(vec![
        ' ', ':', 'a', 'b', '1', '٣', 'é', 'λ', '\t', '\r', '\n', '\u{a0}', '[', ']', '"', '\\',
        'Z', '\u{3000}', '\u{1}',
    ]);
    prop::collection::vec(ch, 0..14).prop_map(|v| v.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn generated_patterns_match_like_regex(
        items in prop::collection::vec(item(), 1..6),
        end in end(),
        lines in prop::collection::vec(subject(), 1..40),
    ) {
        let pattern = format!("^{}{}", items.concat(), end);
        if let Ok(re) = Regex::new(&pattern)
            && Plan::new(&pattern, re.captures_len()).is_some()
        {
            check(&pattern, &lines);
            check_stage(&pattern, &lines);
        }
    }
}

/// The generator is worth its time: a good share of its patterns get a
/// plan (and so are checked above), with and without the lazy tail.
#[test]
fn generated_patterns_often_have_plans() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut planned, mut tails) = (0, 0);
    let strategy = (prop::collection::vec(item(), 1..6), end());
    for _ in 0..1000 {
        let (items, end) = strategy.new_tree(&mut runner).expect("tree").current();
        let pattern = format!("^{}{}", items.concat(), end);
        if let Ok(re) = Regex::new(&pattern)
            && let Some(plan) = Plan::new(&pattern, re.captures_len())
        {
            planned += 1;
            tails += usize::from(format!("{plan:?}").contains("tail: Some"));
        }
    }
    eprintln!("planned {planned} of 1000, {tails} with a solved tail");
    assert!(planned >= 200 && tails >= 60, "{planned} {tails}");
}
