//! `sluice filter` on malformed input, as a table: invalid JSON, invalid
//! UTF-8, lines over the limit and jq runtime errors are reported on stderr
//! with their line numbers, every good line is output in order, and
//! `--strict` turns a bad line into a failing exit once all is output.

mod common;
mod malformed_support;

use std::time::Duration;

use common::{json_lines, mentions_line, sluice, u64_of};
use malformed_support::{GOOD, Kind, input_with_bad_lines};

/// What a `sluice filter` case must print on stdout.
enum Stdout {
    /// Exactly these bytes.
    Exact(Vec<u8>),
    /// These non-empty lines, in this order, byte for byte.
    Lines(Vec<Vec<u8>>),
    /// JSON lines whose `id` fields are these, in this order.
    Ids(Vec<u64>),
    /// These lines, in order, once the `null` lines are left out.
    NonNull(Vec<String>),
}

/// One run of `sluice filter ARGS` on `input`.
struct FilterCase {
    name: &'static str,
    args: &'static [&'static str],
    input: Vec<u8>,
    /// Exit 0, or a non-zero exit code (not a signal).
    ok: bool,
    stdout: Stdout,
    /// Line numbers stderr reports, and ones it must not mention.
    mentions: Vec<u64>,
    silent_on: Vec<u64>,
    /// An upper bound on stderr's length (a long line is not echoed whole).
    stderr_under: Option<usize>,
}

impl FilterCase {
    fn new(name: &'static str, args: &'static [&'static str], input: Vec<u8>) -> Self {
        FilterCase {
            name,
            args,
            input,
            ok: true,
            stdout: Stdout::Exact(Vec::new()),
            mentions: Vec::new(),
            silent_on: Vec::new(),
            stderr_under: None,
        }
    }

    /// Runs the case; the list of what went wrong (empty when it passed).
    fn check(&self) -> Vec<String> {
        let out = sluice()
            .arg("filter")
            .args(self.args)
            .write_stdin(self.input.clone())
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap();
        let mut wrong = Vec::new();
        let code = out.status.code();
        if self.ok != (code == Some(0)) || code.is_none() {
            wrong.push(format!("exit {code:?}, want ok = {}", self.ok));
        }
        let lines = || out.stdout.split(|b| *b == b'\n').filter(|l| !l.is_empty());
        let stdout_ok = match &self.stdout {
            Stdout::Exact(want) => out.stdout == *want,
            Stdout::Lines(want) => lines().eq(want.iter().map(|l| &l[..])),
            Stdout::Ids(want) => {
                let got: Vec<u64> = json_lines(&out.stdout)
                    .iter()
                    .map(|v| u64_of(v, "id"))
                    .collect();
                got == *want
            }
            Stdout::NonNull(want) => String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| *l != "null")
                .eq(want.iter().map(String::as_str)),
        };
        if !stdout_ok {
            let shown: String = String::from_utf8_lossy(&out.stdout)
                .chars()
                .take(300)
                .collect();
            wrong.push(format!("stdout is not as expected; it starts {shown:?}"));
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        for n in &self.mentions {
            if !mentions_line(&stderr, *n) {
                wrong.push(format!("stderr does not mention line {n}"));
            }
        }
        for n in &self.silent_on {
            if mentions_line(&stderr, *n) {
                wrong.push(format!("stderr mentions line {n}, which is fine"));
            }
        }
        if let Some(max) = self.stderr_under
            && stderr.len() >= max
        {
            wrong.push(format!(
                "stderr is {} bytes, want under {max}",
                stderr.len()
            ));
        }
        if !wrong.is_empty() {
            let shown: String = stderr.chars().take(2000).collect();
            wrong.push(format!("--- stderr ---\n{shown}"));
        }
        wrong
    }
}

/// `n` lines `{"id":N}` from `from` up, each ending with a newline.
fn ids_from(from: u64, n: u64) -> Vec<u8> {
    (from..from + n)
        .flat_map(|id| format!("{{\"id\":{id}}}\n").into_bytes())
        .collect()
}

/// A line holding a JSON string of 2 MiB, over the default 1 MiB limit.
fn two_mib_line() -> Vec<u8> {
    let mut line = b"\"".to_vec();
    line.extend(std::iter::repeat_n(b'y', 2 << 20));
    line.extend_from_slice(b"\"\n");
    line
}

/// The cases of `sluice filter` on malformed input: bad lines are reported
/// on stderr with their line number and the rest is output in order;
/// `--strict` turns them into a failing exit once everything is output.
fn filter_cases() -> Vec<FilterCase> {
    let (bytes, bad) = input_with_bad_lines();
    // The 2010-byte line is well under the default 1 MiB limit, so only
    // two lines of this input are malformed for `sluice filter`.
    let good_lines: Vec<Vec<u8>> = bytes
        .split(|b| *b == b'\n')
        .enumerate()
        .filter(|(i, l)| {
            let n = *i as u64 + 1;
            !l.is_empty() && !bad.iter().any(|b| b.line == n && b.kind != Kind::TooLong)
        })
        .map(|(_, l)| l.to_vec())
        .collect();
    assert_eq!(
        good_lines.len(),
        GOOD as usize + 1,
        "10 000 ids and the long line"
    );
    let malformed = || {
        bad.iter()
            .filter(|b| b.kind != Kind::TooLong)
            .map(|b| b.line)
    };
    let long = bad.iter().find(|b| b.kind == Kind::TooLong).unwrap().line;
    // `.id` of the long line is null.
    let ids: Vec<String> = (1..=GOOD).map(|i| i.to_string()).collect();
    let over_the_limit = [ids_from(1, 1000), two_mib_line(), ids_from(1001, 1000)].concat();
    let jq_errors = b"{\"a\":1}\n{\"a\":{\"b\":5}}\n".to_vec();
    vec![
        FilterCase {
            stdout: Stdout::Lines(good_lines),
            mentions: malformed().collect(),
            silent_on: vec![long],
            ..FilterCase::new(
                "bad lines on stderr, the rest in order",
                &["-w", "4", "."],
                bytes.clone(),
            )
        },
        FilterCase {
            ok: false,
            stdout: Stdout::NonNull(ids.clone()),
            ..FilterCase::new(
                "--strict fails at the end but outputs everything",
                &["--strict", "-w", "4", ".id"],
                bytes.clone(),
            )
        },
        FilterCase {
            stdout: Stdout::NonNull(ids),
            ..FilterCase::new(
                "without --strict the same input exits 0",
                &["-w", "4", ".id"],
                bytes,
            )
        },
        FilterCase {
            stdout: Stdout::Ids((1..=2000).collect()),
            mentions: vec![1001],
            stderr_under: Some(10_000),
            ..FilterCase::new(
                "a line over the default 1 MiB limit is skipped",
                &["-w", "2", "."],
                over_the_limit,
            )
        },
        FilterCase {
            ok: false,
            stdout: Stdout::Exact(b"{\"id\":1}\n{\"id\":2}\n".to_vec()),
            ..FilterCase::new(
                "--strict fails on a line over the limit",
                &["--strict", "."],
                [ids_from(1, 1), two_mib_line(), ids_from(2, 1)].concat(),
            )
        },
        FilterCase {
            stdout: Stdout::Exact(b"5\n".to_vec()),
            ..FilterCase::new(
                "a jq runtime error is not a failure",
                &[".a.b"],
                jq_errors.clone(),
            )
        },
        FilterCase {
            ok: false,
            stdout: Stdout::Exact(b"5\n".to_vec()),
            ..FilterCase::new(
                "--strict counts jq runtime errors",
                &["--strict", ".a.b"],
                jq_errors,
            )
        },
        FilterCase {
            stdout: Stdout::Exact(b"{\"id\":1}\n{\"id\":2}\n".to_vec()),
            mentions: vec![3, 6],
            silent_on: vec![1, 2, 4, 5],
            ..FilterCase::new(
                "line numbers count blank lines; CRLF JSON is accepted",
                &["."],
                b"{\"id\":1}\n\n{\"a\":\n{\"id\":2}\r\n  \n{\"b\":\n".to_vec(),
            )
        },
    ]
}

/// Every case of [`filter_cases`]; a failure names each failing case.
#[test]
fn filter_on_malformed_input() {
    let mut failed = Vec::new();
    for case in filter_cases() {
        let wrong = case.check();
        if !wrong.is_empty() {
            failed.push(format!(
                "case `{}` (filter {:?}):\n  {}",
                case.name,
                case.args,
                wrong.join("\n  ")
            ));
        }
    }
    assert!(
        failed.is_empty(),
        "{} failing case(s):\n{}",
        failed.len(),
        failed.join("\n\n")
    );
}
