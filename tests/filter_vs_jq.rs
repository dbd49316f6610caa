//! `sluice filter` against jq 1.6 on the loghub fixtures: same bytes, same
//! order, for a range of programs and for the raw input/output modes.

mod common;

use std::path::Path;
use std::process::Stdio;

use common::{data, describe, jq, sluice};

const FILES: &[&str] = &[
    "loghub/apache.jsonl",
    "loghub/hdfs.jsonl",
    "loghub/linux.jsonl",
];

const PROGRAMS: &[&str] = &[
    ".",
    r#"select(.level=="error")"#,
    "{l: .line, c: .content}",
    r#".content | test("[0-9]+")"#,
    r#"select(.content | test("error|fail"; "i")) | .line"#,
    r#".content | capture("(?<first>[A-Za-z]+)")"#,
    ".line, .level",
    "select(.line % 7 == 0) | .content",
];

/// jq's output for `args` on `input`.
fn run_jq(jq: &Path, args: &[&str], input: &Path) -> Vec<u8> {
    let out = std::process::Command::new(jq)
        .args(args)
        .stdin(Stdio::from(std::fs::File::open(input).expect("fixture")))
        .output()
        .expect("jq runs");
    assert!(out.status.success(), "jq {args:?} failed: {out:?}");
    out.stdout
}

/// sluice filter's output for `args` on `input`; it must succeed quietly.
fn run_sluice(args: &[&str], input: &Path) -> Vec<u8> {
    let out = sluice()
        .arg("filter")
        .args(args)
        .pipe_stdin(input)
        .expect("fixture")
        .output()
        .expect("sluice runs");
    assert!(
        out.status.success(),
        "sluice filter {args:?}: {}",
        describe(&out)
    );
    out.stdout
}

fn assert_same(what: &str, ours: &[u8], theirs: &[u8]) {
    if ours != theirs {
        let o = String::from_utf8_lossy(ours);
        let t = String::from_utf8_lossy(theirs);
        let first = o
            .lines()
            .zip(t.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(o.lines().count().min(t.lines().count()));
        panic!(
            "{what}: output differs from jq at line {} (sluice {} lines, jq {} lines)\n sluice: {:?}\n     jq: {:?}",
            first + 1,
            o.lines().count(),
            t.lines().count(),
            o.lines().nth(first),
            t.lines().nth(first)
        );
    }
}

#[test]
fn filter_matches_jq_byte_for_byte_on_loghub() {
    let Some(jq) = jq() else { return };
    let mut non_empty = 0;
    for file in FILES {
        let input = data(file);
        for program in PROGRAMS {
            let theirs = run_jq(&jq, &["-c", program], &input);
            let ours = run_sluice(&["-w", "4", program], &input);
            assert_same(&format!("{program} on {file}"), &ours, &theirs);
            if !theirs.is_empty() {
                non_empty += 1;
            }
        }
    }
    // Guard against a comparison of nothing with nothing.
    assert!(
        non_empty >= FILES.len() * (PROGRAMS.len() - 1),
        "too few programs produced output: {non_empty}"
    );
}

#[test]
fn multiple_outputs_per_input_stay_together_and_in_order() {
    let input = data("loghub/apache.jsonl");
    let out = run_sluice(&["-w", "4", ".line, .level"], &input);
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4000, "two outputs for each of 2000 inputs");
    for (i, pair) in lines.chunks(2).enumerate() {
        assert_eq!(pair[0], (i + 1).to_string(), "line number of input {i}");
        assert!(
            pair[1].starts_with('"'),
            "level string after line: {pair:?}"
        );
    }
}

/// Apache_2k.log with its CRLF line endings turned into LF, in `dir`: sluice's
/// text codec drops a trailing `\r` (README: "Lines"), jq -R keeps it, so the
/// byte comparison with jq runs on LF input.
fn apache_log_lf(dir: &Path) -> std::path::PathBuf {
    let original = std::fs::read(data("loghub/Apache_2k.log")).unwrap();
    let text = String::from_utf8(original).unwrap().replace("\r\n", "\n");
    common::write(dir, "Apache_2k_lf.log", text)
}

#[test]
fn raw_input_and_raw_output_match_jq() {
    let Some(jq) = jq() else { return };
    let dir = tempfile::tempdir().unwrap();
    let log = apache_log_lf(dir.path());
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["-R", "-r", "ascii_downcase"],
            &["-R", "-r", "ascii_downcase"],
        ),
        (&["-R", "."], &["-c", "-R", "."]),
        (&["-R", "length"], &["-c", "-R", "length"]),
        (
            &["-R", "-r", r#"split("] ") | .[1]"#],
            &["-R", "-r", r#"split("] ") | .[1]"#],
        ),
        (
            &["-R", r#"select(test("error")) | {msg: .}"#],
            &["-c", "-R", r#"select(test("error")) | {msg: .}"#],
        ),
    ];
    for (ours_args, jq_args) in cases {
        let mut args = vec!["-w", "4"];
        args.extend_from_slice(ours_args);
        let ours = run_sluice(&args, &log);
        let theirs = run_jq(&jq, jq_args, &log);
        assert!(!theirs.is_empty());
        assert_same(&format!("{ours_args:?} on Apache_2k.log"), &ours, &theirs);
    }
    // -r alone on JSON input: strings unquoted, other values compact JSON.
    let json = data("loghub/apache.jsonl");
    for program in [".content", ".line", "{line}"] {
        let ours = run_sluice(&["-w", "4", "-r", program], &json);
        let theirs = run_jq(&jq, &["-c", "-r", program], &json);
        assert_same(&format!("-r {program}"), &ours, &theirs);
    }
}

#[test]
fn raw_input_and_output_round_trip_lines() {
    // Independent of jq: -R -r '.' gives back every line, each with a
    // newline; the CRLF endings of the original file become LF.
    let log = data("loghub/Apache_2k.log");
    let original = String::from_utf8(std::fs::read(&log).unwrap()).unwrap();
    assert!(
        original.contains("\r\n"),
        "the fixture has CRLF line endings"
    );
    let mut expected = original.replace("\r\n", "\n");
    if !expected.ends_with('\n') {
        expected.push('\n');
    }
    let ours = run_sluice(&["-w", "4", "-R", "-r", "."], &log);
    assert_eq!(ours.len(), expected.len(), "output size");
    assert!(ours == expected.as_bytes(), "-R -r . changed the lines");
}

#[test]
fn unordered_gives_the_same_multiset_as_ordered() {
    for file in FILES {
        let input = data(file);
        for program in [".", "{l: .line, c: .content}", ".line, .level"] {
            let ordered = run_sluice(&["-w", "4", program], &input);
            let unordered = run_sluice(&["-w", "4", "--unordered", program], &input);
            let mut a: Vec<&[u8]> = ordered.split(|b| *b == b'\n').collect();
            let mut b: Vec<&[u8]> = unordered.split(|b| *b == b'\n').collect();
            assert!(a.len() > 2000, "{program} on {file}: {} lines", a.len());
            a.sort_unstable();
            b.sort_unstable();
            assert!(
                a == b,
                "{program} on {file}: --unordered changed the outputs"
            );
        }
    }
}
