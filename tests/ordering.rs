//! Order: an `ordered = true` sink and `sluice filter` (ordered by default)
//! give events in source order whatever the worker count and timing.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Config, describe, id_lines, sluice, write};

fn run_ok(dir: &Path, config: &str) {
    let path = write(dir, "sluice.toml", config);
    let out = sluice()
        .args(["run", "-q"])
        .arg(&path)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

fn first_difference(got: &str, want: &str) -> String {
    let at = got
        .lines()
        .zip(want.lines())
        .position(|(a, b)| a != b)
        .unwrap_or(got.lines().count().min(want.lines().count()));
    format!(
        "line {}: got {:?}, want {:?} ({} vs {} lines)",
        at + 1,
        got.lines().nth(at),
        want.lines().nth(at),
        got.lines().count(),
        want.lines().count()
    )
}

#[test]
fn ordered_sink_after_jittered_delay_workers_keeps_input_order() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "in.jsonl", id_lines(400));
    let output = dir.path().join("out.jsonl");
    let config = Config::new()
        .pipeline()
        .set("seed", 7)
        .source("app", "file")
        .set("path", &input)
        .transform("io", "delay", &["app"])
        .set("duration", "0ms")
        .set("jitter", "4ms")
        .set("workers", 8)
        .sink("out", "file", &["io"])
        .set("path", &output)
        .set("ordered", true)
        .text();
    run_ok(dir.path(), &config);
    let got = std::fs::read_to_string(&output).unwrap();
    let want = id_lines(400);
    assert!(got == want, "{}", first_difference(&got, &want));
}

#[test]
fn ordered_sink_after_two_worker_pools_keeps_input_order() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "in.jsonl", id_lines(300));
    let output = dir.path().join("out.jsonl");
    let config = Config::new()
        .source("app", "file")
        .set("path", &input)
        .transform("io", "delay", &["app"])
        .set("duration", "0ms")
        .set("jitter", "3ms")
        .set("workers", 6)
        .transform("shape", "jq", &["io"])
        .set("program", "{id, twice: (.id * 2)}")
        .set("workers", 3)
        .sink("out", "file", &["shape"])
        .set("path", &output)
        .set("ordered", true)
        .text();
    run_ok(dir.path(), &config);
    let got = std::fs::read_to_string(&output).unwrap();
    let want: String = (1..=300)
        .map(|i| format!("{{\"id\":{i},\"twice\":{}}}\n", i * 2))
        .collect();
    assert!(got == want, "{}", first_difference(&got, &want));
}

#[test]
fn filter_with_eight_workers_keeps_input_order() {
    let input = id_lines(20_000);
    // Uneven work per event, so that workers finish out of turn.
    let program = "{id, n: ([range(0; .id % 50)] | length)}";
    let out = sluice()
        .args(["filter", "-w", "8", program])
        .write_stdin(input)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let got = String::from_utf8(out.stdout).unwrap();
    let want: String = (1..=20_000u64)
        .map(|i| format!("{{\"id\":{i},\"n\":{}}}\n", i % 50))
        .collect();
    assert!(got == want, "{}", first_difference(&got, &want));
}

#[test]
fn filter_with_small_batches_keeps_input_order() {
    // --capacity 4: batches of 4 events, many more batches than workers.
    let out = sluice()
        .args([
            "filter",
            "-w",
            "8",
            "--capacity",
            "4",
            "select(.id % 3 != 0)",
        ])
        .write_stdin(id_lines(5_000))
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let got = String::from_utf8(out.stdout).unwrap();
    let want: String = (1..=5_000u64)
        .filter(|i| i % 3 != 0)
        .map(|i| format!("{{\"id\":{i}}}\n"))
        .collect();
    assert!(got == want, "{}", first_difference(&got, &want));
}

/// A filter that drops whole batches, then a second transform, then an
/// ordered sink. The dropped batches must still reach the sink as empty
/// batches, or it waits for them forever.
#[test]
fn ordered_sink_after_a_filter_that_drops_whole_batches_finishes() {
    const N: u64 = 50_000;
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "in.jsonl", id_lines(N));
    let output = dir.path().join("out.jsonl");
    let config = Config::new()
        .source("app", "file")
        .set("path", &input)
        .transform("late", "filter", &["app"])
        .set("condition", ".id > 1000")
        .set("workers", 2)
        .transform("copy", "jq", &["late"])
        .set("program", ".")
        .set("workers", 2)
        .sink("out", "file", &["copy"])
        .set("path", &output)
        .set("ordered", true)
        .text();
    let path = write(dir.path(), "sluice.toml", config);
    // Correct runs take well under a second; the timeout only bounds a hang.
    let out = sluice()
        .args(["run", "-q"])
        .arg(&path)
        .timeout(Duration::from_secs(20))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "hung or failed: {}",
        describe(&out)
    );
    let got = std::fs::read_to_string(&output).unwrap();
    let want: String = (1001..=N).map(|i| format!("{{\"id\":{i}}}\n")).collect();
    assert!(got == want, "{}", first_difference(&got, &want));
}

/// `sluice filter` when a whole batch of input lines is malformed: the
/// source's batch of good events is empty, the stdin → jq edge drops it, jq
/// never forwards its sequence number, and the ordered stdout waits forever.
#[test]
fn filter_finishes_when_a_whole_batch_of_lines_is_malformed() {
    // --capacity 8 makes batches of 8 lines: the first batch is all bad,
    // then 600 good lines (75 batches, more than the reorder window of 64).
    // The input stays far below a pipe buffer, so the timeout applies.
    let mut input = String::new();
    for _ in 0..8 {
        input.push_str("{\"a\":\n");
    }
    input.push_str(&id_lines(600));
    let out = sluice()
        .args(["filter", "-w", "2", "--capacity", "8", "."])
        .write_stdin(input)
        .timeout(Duration::from_secs(20))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "hung or failed: {}",
        describe(&out)
    );
    let got = String::from_utf8(out.stdout).unwrap();
    let want = id_lines(600);
    assert!(got == want, "{}", first_difference(&got, &want));
}

/// The source decodes batches on several threads at once (framing stays
/// on the reading thread): events, error events and their line numbers
/// must come out exactly as a one-line-at-a-time reader would send them,
/// across thousands of batches, from a file and from stdin.
#[test]
fn lines_decoded_in_parallel_keep_their_order_and_line_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let (mut input, mut want, mut bad) = (String::new(), String::new(), Vec::new());
    for no in 1..=120_000u64 {
        if no % 1013 == 0 {
            input.push_str("{\"id\":\n");
            bad.push(no);
        } else if no % 7 == 0 {
            // Not canonical: parsed, then written compact.
            input.push_str(&format!("{{ \"id\" : {no} }}\n"));
            want.push_str(&format!("{{\"id\":{no}}}\n"));
        } else if no % 5000 == 0 {
            // Blank lines are skipped, like jq.
            input.push('\n');
        } else {
            input.push_str(&format!("{{\"id\":{no}}}\n"));
            want.push_str(&format!("{{\"id\":{no}}}\n"));
        }
    }
    let path = write(dir.path(), "in.jsonl", &input);
    let out_path = dir.path().join("out.jsonl");
    let err_path = dir.path().join("errors.jsonl");
    run_ok(
        dir.path(),
        &format!(
            r#"
[sources.in]
type = "file"
path = {}

[sinks.out]
type = "file"
inputs = ["in"]
path = {}
ordered = true

[sinks.errs]
type = "file"
inputs = ["in.errors"]
path = {}
ordered = true
"#,
            common::toml_path(&path),
            common::toml_path(&out_path),
            common::toml_path(&err_path),
        ),
    );
    let got = std::fs::read_to_string(&out_path).unwrap();
    assert!(got == want, "file: {}", first_difference(&got, &want));
    let errors = std::fs::read(&err_path).unwrap();
    let lines: Vec<u64> = common::json_lines(&errors)
        .iter()
        .map(|e| common::u64_of(e, "line"))
        .collect();
    assert_eq!(
        lines, bad,
        "error events, in order, with their line numbers"
    );

    let out = sluice()
        .args(["filter", "-w", "2", "."])
        .write_stdin(input)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let got = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(got == want, "stdin: {}", first_difference(&got, &want));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut reported: Vec<u64> = stderr
        .lines()
        .filter_map(|l| {
            l.split("line ")
                .nth(1)?
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .collect();
    reported.sort_unstable();
    assert_eq!(reported, bad, "stderr: {stderr}");
}
