//! Malformed input: invalid JSON, invalid UTF-8, over-long lines and jq
//! runtime errors become error events (or stderr reports in `sluice filter`),
//! and every good line still arrives exactly once.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{
    describe, json_lines, mentions_line, read_report, sluice, sorted_ids, stage, toml_path, u64_of,
    write,
};
use serde_json::Value;

const GOOD: u64 = 10_000;

/// A bad line placed in the middle of the good ones.
struct Bad {
    /// 1-based line number in the file.
    line: u64,
    bytes: Vec<u8>,
    kind: Kind,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    InvalidJson,
    InvalidUtf8,
    /// Valid JSON, but longer than `max_line_bytes = 1000`.
    TooLong,
}

/// 10 000 good lines `{"id":N,"msg":"ok"}` with the bad lines inserted after
/// good lines 2500, 5000 and 7500; returns the file bytes and the bad lines.
fn input_with_bad_lines() -> (Vec<u8>, Vec<Bad>) {
    let inserts: [(u64, Kind, Vec<u8>); 3] = [
        (2500, Kind::InvalidJson, br#"{"a":"#.to_vec()),
        (
            5000,
            Kind::InvalidUtf8,
            b"{\"s\":\"bad \xff\xfe bytes\"}".to_vec(),
        ),
        (
            7500,
            Kind::TooLong,
            format!("{{\"big\":\"{}\"}}", "x".repeat(2000)).into_bytes(),
        ),
    ];
    let mut out = Vec::new();
    let mut bad = Vec::new();
    let mut line = 0;
    for id in 1..=GOOD {
        out.extend_from_slice(format!("{{\"id\":{id},\"msg\":\"ok\"}}\n").as_bytes());
        line += 1;
        for (after, kind, bytes) in &inserts {
            if *after == id {
                out.extend_from_slice(bytes);
                out.push(b'\n');
                line += 1;
                bad.push(Bad {
                    line,
                    bytes: bytes.clone(),
                    kind: *kind,
                });
            }
        }
    }
    (out, bad)
}

fn run_config(dir: &Path, config: &str) -> std::process::Output {
    let path = write(dir, "sluice.toml", config);
    let report = dir.join("report.json");
    let out = sluice()
        .args(["run", "-q", "--report"])
        .arg(&report)
        .arg(&path)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(out.status.success(), "sluice run: {}", describe(&out));
    out
}

#[test]
fn run_sends_bad_lines_to_the_errors_output_and_good_ones_through() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, bad) = input_with_bad_lines();
    let input = write(dir.path(), "in.jsonl", &bytes);
    let good_out = dir.path().join("good.jsonl");
    let bad_out = dir.path().join("bad.jsonl");
    let config = format!(
        r#"
[sources.app]
type = "file"
path = {input}
max_line_bytes = 1000

[sinks.good]
type = "file"
inputs = ["app"]
path = {good}

[sinks.bad]
type = "file"
inputs = ["app.errors"]
path = {bad_path}
"#,
        input = toml_path(&input),
        good = toml_path(&good_out),
        bad_path = toml_path(&bad_out),
    );
    run_config(dir.path(), &config);

    // Every good line exactly once.
    let ids = sorted_ids(&std::fs::read(&good_out).unwrap());
    assert_eq!(ids, (1..=GOOD).collect::<Vec<_>>());

    // Each bad line once, as an error event of stage `app` with its line.
    let mut errors = json_lines(&std::fs::read(&bad_out).unwrap());
    errors.sort_by_key(|e| e["line"].as_u64());
    assert_eq!(errors.len(), bad.len(), "error events: {errors:?}");
    for (e, b) in errors.iter().zip(&bad) {
        assert_eq!(e["stage"], "app", "{e}");
        assert_eq!(u64_of(e, "line"), b.line, "{e}");
        let reason = e["error"].as_str().expect("error is a string");
        assert!(!reason.is_empty());
        let input = e["input"]
            .as_str()
            .unwrap_or_else(|| panic!("input is the raw line: {e}"));
        match b.kind {
            Kind::InvalidJson => assert_eq!(input.as_bytes(), &b.bytes[..], "{e}"),
            Kind::InvalidUtf8 => {
                assert!(input.starts_with(r#"{"s":"bad "#), "{e}");
                assert!(input.contains('\u{fffd}'), "bad bytes replaced: {e}");
                assert!(reason.contains("UTF-8"), "{e}");
            }
            Kind::TooLong => {
                assert!(!input.is_empty(), "{e}");
                assert!(
                    b.bytes.starts_with(input.as_bytes()),
                    "input is a prefix of the long line: {e}"
                );
                assert!(input.len() < 1000, "the long line is not kept whole");
                assert!(reason.contains("2010"), "reason gives the length: {reason}");
            }
        }
    }

    let report = read_report(&dir.path().join("report.json"));
    let app = stage(&report, "app");
    assert_eq!(u64_of(app, "errors"), 3);
    assert_eq!(u64_of(app, "errors_unconsumed"), 0);
    assert_eq!(u64_of(app, "events_out"), GOOD);
    assert_eq!(u64_of(stage(&report, "good"), "events_out"), GOOD);
    assert_eq!(u64_of(stage(&report, "bad"), "events_out"), 3);
    assert_eq!(u64_of(&report, "errors"), 3);
}

#[test]
fn unconsumed_errors_are_counted_and_logged_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, bad) = input_with_bad_lines();
    let input = write(dir.path(), "in.jsonl", &bytes);
    let good_out = dir.path().join("good.jsonl");
    let config = format!(
        r#"
[sources.app]
type = "file"
path = {input}
max_line_bytes = 1000

[sinks.good]
type = "file"
inputs = ["app"]
path = {good}
"#,
        input = toml_path(&input),
        good = toml_path(&good_out),
    );
    let out = run_config(dir.path(), &config);
    let ids = sorted_ids(&std::fs::read(&good_out).unwrap());
    assert_eq!(ids, (1..=GOOD).collect::<Vec<_>>());
    let report = read_report(&dir.path().join("report.json"));
    let app = stage(&report, "app");
    assert_eq!(u64_of(app, "errors"), 3);
    assert_eq!(u64_of(app, "errors_unconsumed"), 3);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for b in &bad {
        assert!(
            mentions_line(&stderr, b.line),
            "stderr does not mention line {}: {stderr}",
            b.line
        );
    }
}

/// The input for `sluice filter`: the same file; the 2010-byte line is well
/// under the default 1 MiB limit, so only two lines are malformed.
#[test]
fn filter_reports_bad_lines_on_stderr_and_outputs_the_rest_in_order() {
    let (bytes, bad) = input_with_bad_lines();
    let out = sluice()
        .args(["filter", "-w", "4", "."])
        .write_stdin(bytes.clone())
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));

    // Ordered output: exactly the well-formed lines, in input order.
    let expected: Vec<&[u8]> = bytes
        .split(|b| *b == b'\n')
        .enumerate()
        .filter(|(i, l)| {
            let n = *i as u64 + 1;
            !l.is_empty() && !bad.iter().any(|b| b.line == n && b.kind != Kind::TooLong)
        })
        .map(|(_, l)| l)
        .collect();
    let got: Vec<&[u8]> = out
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(got.len(), GOOD as usize + 1, "10 000 ids and the long line");
    assert!(got == expected, "stdout is not the good lines in order");

    let stderr = String::from_utf8_lossy(&out.stderr);
    for b in bad.iter().filter(|b| b.kind != Kind::TooLong) {
        assert!(
            mentions_line(&stderr, b.line),
            "stderr does not mention line {}: {stderr}",
            b.line
        );
    }
    let long = bad.iter().find(|b| b.kind == Kind::TooLong).unwrap();
    assert!(
        !mentions_line(&stderr, long.line),
        "a 2 KB line is within the default limit: {stderr}"
    );
}

#[test]
fn filter_strict_fails_at_the_end_but_still_outputs_everything() {
    let (bytes, _) = input_with_bad_lines();
    let out = sluice()
        .args(["filter", "--strict", "-w", "4", ".id"])
        .write_stdin(bytes)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        out.status.code().is_some(),
        "exited normally: {}",
        describe(&out)
    );
    // `.id` of the long line is null.
    let text = String::from_utf8(out.stdout).unwrap();
    let ids: Vec<&str> = text.lines().filter(|l| *l != "null").collect();
    let expected: Vec<String> = (1..=GOOD).map(|i| i.to_string()).collect();
    assert!(ids == expected, "ids in order");

    // Without --strict the same input exits 0.
    let (bytes, _) = input_with_bad_lines();
    sluice()
        .args(["filter", "-w", "4", ".id"])
        .write_stdin(bytes)
        .timeout(Duration::from_secs(60))
        .assert()
        .success();
}

#[test]
fn filter_skips_a_line_over_the_default_one_mib_limit() {
    let mut input = Vec::new();
    for id in 1..=1000 {
        input.extend_from_slice(format!("{{\"id\":{id}}}\n").as_bytes());
    }
    // Line 1001: a valid JSON string of 2 MiB, over the default 1 MiB limit.
    input.push(b'"');
    input.extend(std::iter::repeat_n(b'y', 2 << 20));
    input.extend_from_slice(b"\"\n");
    for id in 1001..=2000 {
        input.extend_from_slice(format!("{{\"id\":{id}}}\n").as_bytes());
    }
    let out = sluice()
        .args(["filter", "-w", "2", "."])
        .write_stdin(input)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let got: Vec<u64> = json_lines(&out.stdout)
        .iter()
        .map(|v| u64_of(v, "id"))
        .collect();
    assert_eq!(got, (1..=2000).collect::<Vec<_>>(), "good lines, in order");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(mentions_line(&stderr, 1001), "{stderr}");
    assert!(stderr.len() < 10_000, "the long line is not echoed whole");

    // --strict turns it into a failure.
    let mut input = b"{\"id\":1}\n\"".to_vec();
    input.extend(std::iter::repeat_n(b'y', 2 << 20));
    input.extend_from_slice(b"\"\n{\"id\":2}\n");
    sluice()
        .args(["filter", "--strict", "."])
        .write_stdin(input)
        .timeout(Duration::from_secs(60))
        .assert()
        .failure()
        .stdout("{\"id\":1}\n{\"id\":2}\n");
}

#[test]
fn jq_runtime_errors_go_to_the_transform_errors_output() {
    let dir = tempfile::tempdir().unwrap();
    let lines = [
        r#"{"a":1}"#,
        r#"{"a":{"b":5}}"#,
        r#"{"a":"s"}"#,
        r#"{"a":{"b":[1]}}"#,
        r#"{"a":null}"#,
    ];
    let input = write(dir.path(), "in.jsonl", lines.join("\n") + "\n");
    let good_out = dir.path().join("good.jsonl");
    let bad_out = dir.path().join("bad.jsonl");
    let config = format!(
        r#"
[sources.app]
type = "file"
path = {input}

[transforms.j]
type = "jq"
inputs = ["app"]
program = ".a.b"
workers = 2

[sinks.good]
type = "file"
inputs = ["j"]
path = {good}

[sinks.bad]
type = "file"
inputs = ["j.errors"]
path = {bad_path}
"#,
        input = toml_path(&input),
        good = toml_path(&good_out),
        bad_path = toml_path(&bad_out),
    );
    run_config(dir.path(), &config);

    let mut good: Vec<String> = json_lines(&std::fs::read(&good_out).unwrap())
        .iter()
        .map(Value::to_string)
        .collect();
    good.sort();
    assert_eq!(good, vec!["5", "[1]", "null"]);

    let mut errors = json_lines(&std::fs::read(&bad_out).unwrap());
    errors.sort_by_key(|e| e["line"].as_u64());
    assert_eq!(errors.len(), 2, "{errors:?}");
    for (e, (line, original)) in errors.iter().zip([(1, lines[0]), (3, lines[2])]) {
        assert_eq!(e["stage"], "j", "{e}");
        assert_eq!(u64_of(e, "line"), line, "{e}");
        let original: Value = serde_json::from_str(original).unwrap();
        assert_eq!(e["input"], original, "the original event: {e}");
        assert!(e["error"].as_str().is_some_and(|s| !s.is_empty()), "{e}");
    }
    let report = read_report(&dir.path().join("report.json"));
    let j = stage(&report, "j");
    assert_eq!(u64_of(j, "events_in"), 5);
    assert_eq!(u64_of(j, "events_out"), 3);
    assert_eq!(u64_of(j, "errors"), 2);
    assert_eq!(u64_of(j, "errors_unconsumed"), 0);
}

#[test]
fn filter_counts_jq_runtime_errors_for_strict() {
    let input = "{\"a\":1}\n{\"a\":{\"b\":5}}\n";
    sluice()
        .args(["filter", ".a.b"])
        .write_stdin(input)
        .timeout(Duration::from_secs(30))
        .assert()
        .success()
        .stdout("5\n");
    sluice()
        .args(["filter", "--strict", ".a.b"])
        .write_stdin(input)
        .timeout(Duration::from_secs(30))
        .assert()
        .failure()
        .stdout("5\n");
}

#[test]
fn line_numbers_count_blank_lines_and_crlf_json_is_accepted() {
    let input = "{\"id\":1}\n\n{\"a\":\n{\"id\":2}\r\n  \n{\"b\":\n";
    let out = sluice()
        .args(["filter", "."])
        .write_stdin(input)
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "{\"id\":1}\n{\"id\":2}\n"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    for line in [3, 6] {
        assert!(mentions_line(&stderr, line), "line {line}: {stderr}");
    }
    for line in [1, 2, 4, 5] {
        assert!(
            !mentions_line(&stderr, line),
            "line {line} is fine: {stderr}"
        );
    }
}

#[test]
fn a_limit_below_the_kept_prefix_still_reports_long_lines() {
    // max_line_bytes smaller than the prefix an error event keeps, and an
    // over-long last line without a newline.
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "in.jsonl",
        "{\"id\":1}\n{\"a\":\"0123456789012345\"}\n{\"id\":2}\n{\"a\":\"01234567890123456789",
    );
    let output = dir.path().join("out.jsonl");
    let config = format!(
        r#"
[sources.app]
type = "file"
path = {input}
max_line_bytes = 10

[sinks.all]
type = "file"
inputs = ["app", "app.errors"]
path = {output}
"#,
        input = toml_path(&input),
        output = toml_path(&output),
    );
    run_config(dir.path(), &config);
    let events = json_lines(&std::fs::read(&output).unwrap());
    let mut ids: Vec<u64> = events.iter().filter_map(|e| e["id"].as_u64()).collect();
    ids.sort_unstable();
    assert_eq!(ids, [1, 2], "{events:?}");
    let mut lines: Vec<u64> = events
        .iter()
        .filter(|e| e.get("error").is_some())
        .map(|e| {
            assert_eq!(e["stage"], "app", "{e}");
            assert!(
                e["input"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("{\"a\":\"0123")),
                "{e}"
            );
            u64_of(e, "line")
        })
        .collect();
    lines.sort_unstable();
    assert_eq!(lines, [2, 4], "{events:?}");
}
