//! What a replay reads: `from`/`to` bounds in every time form, the order of
//! several files (name or timestamp), and the error events for lines whose
//! time cannot be read.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Config, describe, json_lines, raw, read_report, sluice, stage, u64_of, write};
use serde_json::Value;

/// Runs a file source with `replay` over `paths` into `out.jsonl` (ordered)
/// and its errors into `errors.jsonl`; returns both and the report.
fn replay(dir: &Path, paths: &[&Path], replay: &str) -> (Vec<Value>, Vec<Value>, Value) {
    let out = dir.join("out.jsonl");
    let errors = dir.join("errors.jsonl");
    let report = dir.join("report.json");
    let config = Config::new()
        .source("rec", "file")
        .set("path", paths)
        .set("replay", raw(replay))
        .sink("out", "file", &["rec"])
        .set("path", &out)
        .set("append", false)
        .set("ordered", true)
        .sink("errors", "file", &["rec.errors"])
        .set("path", &errors)
        .set("append", false)
        .text();
    let cfg = write(dir, "replay.toml", config);
    let run = sluice()
        .args(["run", "-q", "--report"])
        .arg(&report)
        .arg(&cfg)
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", describe(&run));
    let read = |p: &Path| json_lines(&std::fs::read(p).unwrap());
    (read(&out), read(&errors), read_report(&report))
}

fn ids(events: &[Value]) -> Vec<u64> {
    events.iter().map(|e| u64_of(e, "id")).collect()
}

/// Events `id` 0..20, one a minute from 2024-01-01T00:00:00Z, with the
/// time written by `ts` (given the minute).
fn minutes(dir: &Path, name: &str, ts: impl Fn(i64) -> String) -> std::path::PathBuf {
    let lines: String = (0..20)
        .map(|i| format!("{{\"id\":{i},\"ts\":{}}}\n", ts(i)))
        .collect();
    write(dir, name, lines)
}

const START: i64 = 1_704_067_200; // 2024-01-01T00:00:00Z

#[test]
fn from_is_inclusive_and_to_exclusive_in_every_time_form() {
    let dir = tempfile::tempdir().unwrap();
    let rfc = minutes(dir.path(), "rfc.jsonl", |i| {
        format!("\"2024-01-01T00:{i:02}:00Z\"")
    });
    let secs = minutes(dir.path(), "secs.jsonl", |i| (START + 60 * i).to_string());
    let millis = minutes(dir.path(), "millis.jsonl", |i| {
        ((START + 60 * i) * 1000).to_string()
    });
    let fractional = minutes(dir.path(), "frac.jsonl", |i| {
        format!("{}.250", START + 60 * i)
    });
    let cases = [
        // RFC 3339 data and bounds, one with an offset (+01:00 is 1 h ahead).
        (
            &rfc,
            "{ timestamp_field = \"ts\", from = \"2024-01-01T00:05:00Z\", to = \"2024-01-01T01:15:00+01:00\" }",
        ),
        // Epoch seconds in the data, epoch seconds as bounds.
        (
            &secs,
            &*format!(
                "{{ timestamp_field = \"ts\", from = {}, to = {} }}",
                START + 300,
                START + 900
            ),
        ),
        // Epoch milliseconds in the data, a TOML date-time and an RFC 3339
        // string as bounds.
        (
            &millis,
            "{ timestamp_field = \"ts\", from = 2024-01-01T00:05:00Z, to = \"2024-01-01T00:15:00Z\" }",
        ),
        // Fractional seconds: 00:04:00.250 is before from, 00:14:00.250 before to.
        (
            &fractional,
            "{ timestamp_field = \"ts\", from = \"2024-01-01T00:04:00.5Z\", to = \"2024-01-01T00:14:00.5Z\" }",
        ),
    ];
    for (path, bounds) in cases {
        let (out, errors, report) = replay(dir.path(), &[path], bounds);
        assert_eq!(ids(&out), (5..15).collect::<Vec<_>>(), "{bounds}");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(u64_of(stage(&report, "rec"), "skipped"), 10, "{bounds}");
        assert_eq!(u64_of(&report, "events_read"), 10);
    }
}

#[test]
fn a_timestamp_format_reads_other_forms_as_utc() {
    let dir = tempfile::tempdir().unwrap();
    // Apache's own format, as in the loghub files; no zone: UTC.
    let data = "{\"id\":1,\"time\":\"Sun Dec 04 04:47:44 2005\"}\n\
                {\"id\":2,\"time\":\"Sun Dec 04 06:00:00 2005\"}\n\
                {\"id\":3,\"time\":\"Sun Dec 04 06:59:59 2005\"}\n\
                {\"id\":4,\"time\":\"Sun Dec 04 07:00:00 2005\"}\n\
                {\"id\":5,\"time\":\"2005-12-04T06:30:00Z\"}\n";
    let path = write(dir.path(), "apache.jsonl", data);
    let (out, errors, _) = replay(
        dir.path(),
        &[&path],
        "{ timestamp_field = \"time\", timestamp_format = \"%a %b %d %H:%M:%S %Y\", \
         from = \"2005-12-04T06:00:00Z\", to = \"Sun Dec 04 07:00:00 2005\" }",
    );
    assert_eq!(ids(&out), [2, 3]);
    // The data must follow the format: an RFC 3339 value is an error there.
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["line"], 5);
}

#[test]
fn unreadable_timestamps_become_error_events_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = "{\"id\":1,\"ts\":\"2024-01-01T00:00:00Z\"}\n\
                {\"id\":2}\n\
                {\"id\":3,\"ts\":\"last tuesday\"}\n\
                this is not JSON\n\
                \n\
                {\"id\":6,\"ts\":true}\n\
                [1,2,3]\n\
                { \"id\": 8, \"ts\": \"soon\" }\n\
                {\"id\":9,\"ts\":1704067260}\n";
    let path = write(dir.path(), "mixed.jsonl", data);
    let (out, errors, report) = replay(dir.path(), &[&path], "{ timestamp_field = \"ts\" }");
    assert_eq!(ids(&out), [1, 9]);
    let lines: Vec<u64> = errors.iter().map(|e| u64_of(e, "line")).collect();
    assert_eq!(lines, [2, 3, 4, 6, 7, 8], "{errors:#?}");
    for e in &errors {
        assert_eq!(e["stage"], "rec", "{e}");
        assert!(e["error"].is_string(), "{e}");
    }
    let reason = |line: u64| {
        errors.iter().find(|e| e["line"] == line).unwrap()["error"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(reason(2).contains("no field `ts`"), "{}", reason(2));
    assert!(reason(3).contains("last tuesday"), "{}", reason(3));
    assert!(reason(4).contains("invalid JSON"), "{}", reason(4));
    assert!(reason(8).contains("soon"), "{}", reason(8));
    // The original event travels with its error; a bad line as its text.
    let input = |line: u64| errors.iter().find(|e| e["line"] == line).unwrap()["input"].clone();
    assert_eq!(input(2), serde_json::json!({"id": 2}));
    assert_eq!(input(4), "this is not JSON");
    assert_eq!(u64_of(stage(&report, "rec"), "errors"), 6);
}

#[test]
fn several_files_are_read_in_name_order_or_merged_by_time() {
    let dir = tempfile::tempdir().unwrap();
    // Written out of name order on purpose; b's times fall between a's.
    let b = write(
        dir.path(),
        "b.jsonl",
        "{\"id\":2,\"ts\":2}\n{\"id\":4,\"ts\":4}\n{\"id\":6,\"ts\":6}\nnot json\n",
    );
    let a = write(
        dir.path(),
        "a.jsonl",
        "{\"id\":1,\"ts\":1}\n{\"id\":3,\"ts\":3}\n{\"id\":5,\"ts\":5}\n{\"id\":7,\"ts\":7}\n",
    );
    let glob = dir.path().join("*.jsonl");
    let (by_name, _, _) = replay(dir.path(), &[&glob], "{ timestamp_field = \"ts\" }");
    assert_eq!(ids(&by_name), [1, 3, 5, 7, 2, 4, 6]);
    let (merged, errors, _) = replay(
        dir.path(),
        &[&b, &a],
        "{ timestamp_field = \"ts\", merge = \"timestamp\" }",
    );
    assert_eq!(ids(&merged), [1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["line"], 4);
}

#[test]
fn bad_replay_settings_fail_check_with_the_key_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(dir.path(), "d.jsonl", "{}\n");
    for (replay, needle) in [
        ("{ timestamp_field = \"ts\", speed = 0.0 }", "replay.speed"),
        ("{ timestamp_field = \"ts\", speed = -2.0 }", "replay.speed"),
        (
            "{ timestamp_field = \"ts\", from = \"tomorrow\" }",
            "replay.from",
        ),
        (
            "{ timestamp_field = \"ts\", from = 20, to = 10 }",
            "replay.from",
        ),
        (
            "{ timestamp_field = \"ts\", timestamp_format = \"%Y %J\" }",
            "timestamp_format",
        ),
        (
            "{ timestamp_field = \"ts\", merge = \"size\" }",
            "`name` or `timestamp`",
        ),
        ("{ speed = 2.0 }", "timestamp_field"),
    ] {
        let cfg = Config::new()
            .source("rec", "file")
            .set("path", &data)
            .set("replay", raw(replay))
            .sink("out", "blackhole", &["rec"])
            .write(dir.path(), "bad.toml");
        let out = sluice().arg("check").arg(&cfg).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{replay}: {}", describe(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{replay}: {stderr}");
        assert!(stderr.contains("bad.toml:"), "{stderr}");
    }
}

#[test]
fn a_stopped_replay_resumes_after_what_it_delivered() {
    let dir = tempfile::tempdir().unwrap();
    // Two files whose events interleave, 100 ms apart in their own time:
    // 4 s at speed 4, about a second of wall time.
    let mut a = String::new();
    let mut b = String::new();
    for i in 0..40 {
        let line = format!("{{\"id\":{i},\"ts\":{}}}\n", 1_700_000_000_000u64 + i * 100);
        if i % 2 == 0 {
            a.push_str(&line)
        } else {
            b.push_str(&line)
        }
    }
    let a = write(dir.path(), "a.jsonl", a);
    let b = write(dir.path(), "b.jsonl", b);
    let out = dir.path().join("out.jsonl");
    let cfg = Config::new()
        .pipeline()
        .set("data_dir", &dir.path().join("state"))
        .source("rec", "file")
        .set("path", [a.clone(), b.clone()])
        .set(
            "replay",
            raw(r#"{ timestamp_field = "ts", speed = 4.0, merge = "timestamp" }"#),
        )
        .sink("out", "file", &["rec"])
        .set("path", &out)
        .set("ordered", true)
        .write(dir.path(), "resume.toml");
    // Stop the first run (SIGTERM: it drains what it sent) once some events
    // are out, well before the end.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("sluice"))
        .args(["run", "-q"])
        .arg(&cfg)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let lines = |p: &Path| std::fs::read_to_string(p).map_or(0, |t| t.lines().count());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while lines(&out) < 5 {
        assert!(std::time::Instant::now() < deadline, "no output after 10 s");
        std::thread::sleep(Duration::from_millis(10));
    }
    let stopped = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let first = lines(&out);
    assert!(
        (5..40).contains(&first),
        "the first run wrote {first} events"
    );

    // The second run reads only what was not delivered.
    let report = dir.path().join("report.json");
    let run = sluice()
        .args(["run", "-q", "--report"])
        .arg(&report)
        .arg(&cfg)
        .timeout(Duration::from_secs(20))
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", describe(&run));
    let all = ids(&json_lines(&std::fs::read(&out).unwrap()));
    assert_eq!(
        all,
        (0..40).collect::<Vec<_>>(),
        "every event once, in time order"
    );
    assert_eq!(
        u64_of(&read_report(&report), "events_read"),
        (40 - first) as u64
    );
}
