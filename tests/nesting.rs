//! The nesting limit through the real binary: a line nested 200 000 deep
//! (which used to abort the process with a stack overflow) is an error event
//! with its line number on stdin, on a `tcp` source and in a redis entry,
//! the stream goes on,
//! and values exactly at the limit survive every recursive jq builtin.

mod common;
mod daemon_support;
mod redis_support;

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{Config, describe, json_lines, mentions_line, sluice, u64_of};
use daemon_support::{Daemon, PATIENCE};
use sluice::kit::json::MAX_NESTING;

/// `n` nested arrays: `[[…]]`.
fn arrays(n: usize) -> String {
    "[".repeat(n) + &"]".repeat(n)
}

/// `n` nested objects: `{"a":{"a":…1…}}`.
fn objects(n: usize) -> String {
    "{\"a\":".repeat(n) + "1" + &"}".repeat(n)
}

/// `n` nested arrays with spaces: not canonical, so jaq's parser reads it.
fn spaced(n: usize) -> String {
    "[ ".repeat(n) + &"]".repeat(n)
}

#[test]
fn a_200_000_deep_line_on_stdin_is_reported_and_the_stream_goes_on() {
    let deep = arrays(200_000);
    for workers in ["1", "2"] {
        let input = format!(
            "{{\"n\":1}}\n{deep}\n{{ \"n\": 3 }}\n{}\n[4]\n",
            spaced(200_000)
        );
        let out = sluice()
            .args(["filter", "-w", workers, "."])
            .write_stdin(input)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", describe(&out));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "{\"n\":1}\n{\"n\":3}\n[4]\n",
            "{}",
            describe(&out)
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("nested deeper than {MAX_NESTING} levels")),
            "{err}"
        );
        assert!(mentions_line(&err, 2) && mentions_line(&err, 4), "{err}");
    }
}

#[test]
fn a_value_at_the_limit_is_accepted_and_one_level_more_is_refused() {
    let (at, over) = (MAX_NESTING, MAX_NESTING + 1);
    let input = [
        arrays(at),
        objects(at),
        spaced(at),
        arrays(over),
        objects(over),
        spaced(over),
    ]
    .join("\n");
    let out = sluice()
        .args(["filter", "-w", "1", "--strict", "."])
        .write_stdin(input)
        .output()
        .unwrap();
    // --strict: the refused lines make the status non-zero at the end.
    assert!(!out.status.success(), "{}", describe(&out));
    let got = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(
        got,
        format!("{}\n{}\n{}\n", arrays(at), objects(at), arrays(at)),
        "{}",
        describe(&out)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    for line in [4, 5, 6] {
        assert!(mentions_line(&err, line), "line {line} not reported: {err}");
    }
    for line in [1, 2, 3] {
        assert!(!mentions_line(&err, line), "line {line} refused: {err}");
    }
}

/// Every recursive builtin on values at the limit, on one worker and on the
/// default count: the limit leaves them enough stack.
#[test]
fn recursive_builtins_are_safe_on_values_at_the_limit() {
    let mixed = "{\"a\":[".repeat(MAX_NESTING / 2) + "1" + &"]}".repeat(MAX_NESTING / 2);
    let input = [
        arrays(MAX_NESTING),
        objects(MAX_NESTING),
        spaced(MAX_NESTING),
        mixed,
    ]
    .join("\n");
    let programs = [
        ".",
        "[..] | length",
        "walk(.) | tojson | length",
        "[paths] | length",
        "tojson | fromjson | tostring | length",
        ". == .",
        "[.] | sort | length",
        "(.. | numbers) |= . + 1 | [..] | length",
    ];
    for program in programs {
        for workers in [&["-w", "1"][..], &[]] {
            let out = sluice()
                .arg("filter")
                .args(workers)
                .arg(program)
                .write_stdin(input.clone())
                .output()
                .unwrap();
            assert!(
                out.status.success() && out.stderr.is_empty(),
                "{program} {workers:?}: {}",
                describe(&out)
            );
            assert_eq!(
                out.stdout.iter().filter(|&&b| b == b'\n').count(),
                4,
                "{program}"
            );
        }
    }
}

/// The same values through a `jq` transform of `sluice run`, whose workers
/// are threads of the runtime.
#[test]
fn a_jq_transform_handles_values_at_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let input = common::write(
        dir.path(),
        "in.jsonl",
        [arrays(MAX_NESTING), spaced(MAX_NESTING), arrays(200_000)].join("\n"),
    );
    let out_path = dir.path().join("out.jsonl");
    let errors = dir.path().join("errors.jsonl");
    let program =
        "([walk(.) | ..] | length), ([paths] | length), (tojson | fromjson | tojson | length)";
    let config = Config::new()
        .source("in", "file")
        .set("path", &input)
        .transform("deep", "jq", &["in"])
        .set("program", program)
        .set("workers", 2)
        .sink("out", "file", &["deep"])
        .set("path", &out_path)
        .sink("errors", "file", &["in.errors"])
        .set("path", &errors)
        .write(dir.path(), "p.toml");
    let out = sluice().args(["run", "-q"]).arg(&config).output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let n = MAX_NESTING as u64;
    let mut got: Vec<u64> = json_lines(&std::fs::read(&out_path).unwrap())
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    got.sort_unstable();
    assert_eq!(got, vec![n - 1, n - 1, n, n, 2 * n, 2 * n]);
    let errs = json_lines(&std::fs::read(&errors).unwrap());
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(u64_of(&errs[0], "line"), 3);
}

/// Polls `path` until it holds `n` lines; returns them parsed.
fn wait_lines(path: &Path, n: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let text = std::fs::read(path).unwrap_or_default();
        if text.iter().filter(|&&b| b == b'\n').count() >= n {
            return json_lines(&text);
        }
        assert!(
            Instant::now() < deadline,
            "{} never reached {n} lines: {:?}",
            path.display(),
            String::from_utf8_lossy(&text)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_deep_line_from_one_tcp_client_hurts_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.jsonl");
    let errors = dir.path().join("errors.jsonl");
    let config = Config::new()
        .source("in", "tcp")
        .set("address", "127.0.0.1:0")
        .sink("good", "file", &["in"])
        .set("path", &good)
        .sink("dead_letters", "file", &["in.errors"])
        .set("path", &errors)
        .write(dir.path(), "p.toml");
    let mut daemon = Daemon::start(&config, &[], &[]);
    let addr = daemon.listen_address("in", "tcp");

    let mut b = TcpStream::connect(addr).unwrap();
    b.write_all(b"{\"c\":\"b\",\"n\":1}\n").unwrap();
    wait_lines(&good, 1);

    let mut a = TcpStream::connect(addr).unwrap();
    let mut bad = b"{\"c\":\"a\",\"n\":1}\n".to_vec();
    bad.extend_from_slice(arrays(200_000).as_bytes());
    bad.extend_from_slice(b"\n{\"c\":\"a\",\"n\":3}\n");
    a.write_all(&bad).unwrap();
    let errs = wait_lines(&errors, 1);
    assert_eq!(errs[0]["stage"], "in");
    assert_eq!(u64_of(&errs[0], "line"), 2);
    let reason = errs[0]["error"].as_str().unwrap();
    assert!(reason.contains("nested deeper than"), "{reason}");
    assert_eq!(errs[0]["input"].as_str().map(str::len), Some(400_000));

    // The other connection survived, and new ones are still served.
    b.write_all(b"{\"c\":\"b\",\"n\":2}\n").unwrap();
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(b"{\"c\":\"c\",\"n\":1}\n").unwrap();
    let got = wait_lines(&good, 5);
    let mut seen: Vec<String> = got
        .iter()
        .map(|v| format!("{}{}", v["c"], v["n"]))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        ["\"a\"1", "\"a\"3", "\"b\"1", "\"b\"2", "\"c\"1"],
        "{got:?}"
    );
    drop((a, b, c));
    let status = daemon.terminate();
    assert!(status.success(), "{status:?}\n{}", daemon.stderr());
}

/// Raw lines parsed by the program (`-R` and `fromjson`, or `tonumber` on a
/// field) meet the same limit: a jq error for that line, not a crash.
#[test]
fn fromjson_of_a_deep_string_is_a_jq_error() {
    let input = format!(
        "[1]\n{}\n{}\n{{\"b\":2}}\n",
        arrays(200_000),
        arrays(MAX_NESTING)
    );
    let out = sluice()
        .args(["filter", "-R", "fromjson | length"])
        .write_stdin(input)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1\n1\n1\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nested deeper than") && mentions_line(&err, 2),
        "{err}"
    );
    assert!(!mentions_line(&err, 3), "{err}");
}

/// A redis entry whose `data` is 200 000 deep: an error event (and the
/// entry acknowledged like any delivered one), the entries around it
/// delivered.
#[test]
fn a_deep_redis_entry_is_an_error_event() {
    let redis = redis_support::Redis::start();
    let mut con = redis.conn();
    for data in ["{\"n\":1}".to_string(), arrays(200_000), "{\"n\":3}".into()] {
        let _: String = redis::cmd("XADD")
            .arg("s")
            .arg("*")
            .arg("data")
            .arg(data)
            .query(&mut con)
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let errors = dir.path().join("errors.jsonl");
    let extra = Config::new()
        .sink("errors", "file", &["in.errors"])
        .set("path", &errors)
        .text();
    let config =
        redis_support::consumer_config(dir.path(), "d", &redis.url(), "s", "c1", &out, &extra);
    let mut daemon = Daemon::start(&config, &[], &[]);
    let good = wait_lines(&out, 2);
    assert_eq!(
        good,
        vec![serde_json::json!({"n": 1}), serde_json::json!({"n": 3})]
    );
    let errs = wait_lines(&errors, 1);
    assert_eq!(errs[0]["stage"], "in");
    let reason = errs[0]["error"].as_str().unwrap();
    assert!(reason.contains("nested deeper than"), "{reason}");
    redis_support::wait_until("every entry acknowledged", || {
        redis.pending_total("s", "workers") == 0
    });
    let status = daemon.terminate();
    assert!(status.success(), "{status:?}\n{}", daemon.stderr());
}
