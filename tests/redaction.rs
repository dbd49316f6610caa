//! Redis passwords never leave sluice: a daemon whose redis source and sink
//! point at a closed 127.0.0.1 port logs its reconnects, writes its report
//! and its sink's error events, and `check` and `graph` print the config,
//! all without the password (the URLs appear as `redis://user:***@…`).

mod common;
mod daemon_support;

use std::net::TcpListener;

use common::{Config, describe, raw, sluice};
use daemon_support::Daemon;

const SOURCE_PW: &str = "S0urcePassw0rd";
const SINK_PW: &str = "S1nkPassw0rd";

/// A 127.0.0.1 port nobody listens on (bound, then released).
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn assert_clean(what: &str, text: &str) {
    for pw in [SOURCE_PW, SINK_PW] {
        assert!(!text.contains(pw), "{what} shows a password:\n{text}");
    }
}

#[test]
fn passwords_reach_no_log_report_error_event_check_or_graph() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let report = dir.path().join("report.json");
    let errors = dir.path().join("errors.jsonl");
    let config = Config::new()
        .source("queue", "redis_stream")
        .set("url", format!("redis://app:{SOURCE_PW}@127.0.0.1:{port}/0"))
        .set("stream", "s")
        .set("group", "g")
        .source("one", "generate")
        .set("count", 1)
        .sink("out", "redis_stream", &["queue", "one"])
        .set("url", format!("redis://:{SINK_PW}@127.0.0.1:{port}"))
        .set("stream", "t")
        .set(
            "retry",
            raw(r#"{ attempts = 2, initial = "10ms", max = "10ms" }"#),
        )
        .sink("dead", "file", &["out.errors"])
        .set("path", &errors)
        .write(dir.path(), "p.toml");

    let check = sluice().arg("check").arg(&config).output().unwrap();
    assert!(check.status.success(), "{}", describe(&check));
    assert_clean("check", &String::from_utf8_lossy(&check.stdout));
    assert_clean("check", &String::from_utf8_lossy(&check.stderr));
    let graph = sluice().arg("graph").arg(&config).output().unwrap();
    assert!(graph.status.success(), "{}", describe(&graph));
    assert_clean("graph", &String::from_utf8_lossy(&graph.stdout));
    assert_clean("graph", &String::from_utf8_lossy(&graph.stderr));

    let mut daemon = Daemon::start(&config, &["--report", report.to_str().unwrap()], &[]);
    // The source's reconnect warning names the URL, redacted.
    let warn = daemon.wait_log(&format!("redis redis://app:***@127.0.0.1:{port}/0"));
    assert_clean("the reconnect warning", &warn);
    // The sink gives up on its one event: logged, and an error event.
    daemon.wait_log("events go to `out.errors`");
    let deadline = std::time::Instant::now() + daemon_support::PATIENCE;
    while std::fs::read(&errors).unwrap_or_default().is_empty() {
        assert!(std::time::Instant::now() < deadline, "no error event");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let status = daemon.terminate();
    assert!(status.success(), "{status:?}\n{}", daemon.stderr());
    assert_clean("stderr", &daemon.stderr());
    assert_clean("the report", &std::fs::read_to_string(&report).unwrap());
    assert_clean(
        "the error events",
        &std::fs::read_to_string(&errors).unwrap(),
    );

    // A URL the client rejects is reported by `check`, redacted too.
    let bad = Config::new()
        .source("queue", "redis_stream")
        .set(
            "url",
            format!("redis://app:{SOURCE_PW}@127.0.0.1:notaport/0"),
        )
        .set("stream", "s")
        .set("group", "g")
        .sink("out", "redis_stream", &["queue"])
        .set("url", format!("redis://:{SINK_PW}@[::1"))
        .set("stream", "t")
        .write(dir.path(), "bad.toml");
    let check = sluice().arg("check").arg(&bad).output().unwrap();
    assert!(!check.status.success(), "{}", describe(&check));
    let err = String::from_utf8_lossy(&check.stderr);
    assert!(
        err.contains("invalid `url`") && err.contains(":***@"),
        "{err}"
    );
    assert_clean("check of a bad url", &err);
}
