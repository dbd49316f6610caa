//! The `tcp` sink's retry budget through the real binary: a peer that is
//! down for 3 seconds loses nothing (the retries show in the report); a
//! peer down past the budget sends every batch to the sink's error output.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Config, raw, read_report, stage, u64_of};

const LINES: u64 = 5_000;

fn setup(dir: &std::path::Path, port: u16, retry: &str) -> std::path::PathBuf {
    let input: String = (0..LINES).map(|i| format!("{{\"id\":{i}}}\n")).collect();
    std::fs::write(dir.join("in.jsonl"), input).unwrap();
    let cfg = dir.join("p.toml");
    std::fs::write(
        &cfg,
        Config::new()
            .source("app", "file")
            .set("path", &dir.join("in.jsonl"))
            .sink("out", "tcp", &["app"])
            .set("address", format!("127.0.0.1:{port}"))
            .set("retry", raw(retry))
            .sink("dead", "file", &["out.errors"])
            .set("path", &dir.join("dead.jsonl"))
            .text(),
    )
    .unwrap();
    cfg
}

/// A port with nothing listening on it (bound, then released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_peer_down_for_three_seconds_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = setup(
        dir.path(),
        port,
        r#"{ attempts = 100, initial = "50ms", max = "250ms" }"#,
    );
    let report = dir.path().join("report.json");
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("sluice"))
        .args(["run", "-q", "--report"])
        .arg(&report)
        .arg(&cfg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the first failed attempt (a warning on stderr)...
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap() > 0 && !line.contains("cannot connect") {
        line.clear();
    }
    assert!(
        line.contains("cannot connect"),
        "the sink never tried: {line}"
    );
    std::thread::spawn(move || for _ in stderr.lines() {});
    // ...keep the peer down for the scenario's 3 seconds, then bring it up.
    std::thread::sleep(Duration::from_secs(3));
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let (conn, _) = listener.accept().unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let started = Instant::now();
    let mut ids = Vec::new();
    for l in BufReader::new(conn).lines() {
        let Ok(l) = l else { break };
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        ids.push(v["id"].as_u64().unwrap());
        assert!(started.elapsed() < Duration::from_secs(60));
    }
    assert!(child.wait().unwrap().success());
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids, (0..LINES).collect::<Vec<_>>(), "every line arrived");
    let r = read_report(&report);
    assert!(
        u64_of(stage(&r, "out"), "retries") >= 3,
        "retries are counted"
    );
    assert_eq!(
        u64_of(stage(&r, "dead"), "events_out"),
        0,
        "nothing went to the dead letter"
    );
}

#[test]
fn past_the_retry_budget_batches_land_in_the_error_output() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = setup(
        dir.path(),
        port,
        r#"{ attempts = 3, initial = "10ms", max = "20ms" }"#,
    );
    let out = Command::new(assert_cmd::cargo::cargo_bin("sluice"))
        .args(["run", "-q"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dead = std::fs::read_to_string(dir.path().join("dead.jsonl")).unwrap();
    let mut ids: Vec<u64> = dead
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["stage"], "out");
            assert!(
                v["error"].as_str().unwrap().contains("cannot deliver"),
                "{v}"
            );
            v["input"]["id"].as_u64().unwrap()
        })
        .collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        (0..LINES).collect::<Vec<_>>(),
        "every event is in the dead letter, none vanished"
    );
}
