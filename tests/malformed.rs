//! Malformed input in a pipeline: invalid JSON, invalid UTF-8, over-long
//! lines and jq runtime errors become error events on the stage's `errors`
//! output, and every good line still arrives exactly once. (`sluice filter`
//! on the same input: `malformed_filter.rs`.)

mod common;
mod malformed_support;

use std::path::Path;
use std::time::Duration;

use common::{
    Config, describe, json_lines, mentions_line, read_report, sluice, sorted_ids, stage, u64_of,
    write,
};
use malformed_support::{GOOD, Kind, input_with_bad_lines};
use serde_json::Value;

fn run_config(dir: &Path, config: &Config) -> std::process::Output {
    let path = config.write(dir, "sluice.toml");
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
    let config = Config::new()
        .source("app", "file")
        .set("path", &input)
        .set("max_line_bytes", 1000)
        .sink("good", "file", &["app"])
        .set("path", &good_out)
        .sink("bad", "file", &["app.errors"])
        .set("path", &bad_out);
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
    let config = Config::new()
        .source("app", "file")
        .set("path", &input)
        .set("max_line_bytes", 1000)
        .sink("good", "file", &["app"])
        .set("path", &good_out);
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
    let config = Config::new()
        .source("app", "file")
        .set("path", &input)
        .transform("j", "jq", &["app"])
        .set("program", ".a.b")
        .set("workers", 2)
        .sink("good", "file", &["j"])
        .set("path", &good_out)
        .sink("bad", "file", &["j.errors"])
        .set("path", &bad_out);
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
    let config = Config::new()
        .source("app", "file")
        .set("path", &input)
        .set("max_line_bytes", 10)
        .sink("all", "file", &["app", "app.errors"])
        .set("path", &output);
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
