//! The long-lived loops of a running graph are OS threads of their own,
//! named after their stage (what `top -H` shows), and a forced stop that
//! abandons them ends with its report, not with a panic from a thread.

mod common;
mod daemon_support;

use std::time::{Duration, Instant};

use common::{Config, raw};
use daemon_support::{Daemon, PATIENCE};

/// The names of the threads of process `pid`, from `/proc`.
fn thread_names(pid: u32) -> Vec<String> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|n| n.trim_end().to_string())
        .collect()
}

/// A jq stage with three workers and a file sink: while the daemon runs,
/// its threads include `shape#0`..`shape#2` and `out`.
#[test]
fn workers_and_sinks_run_on_threads_named_after_their_stage() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let file = Config::new()
        .source("net", "tcp")
        .set("address", "127.0.0.1:0")
        .transform("shape", "jq", &["net"])
        .set("program", ".")
        .set("workers", 3)
        .sink("out", "file", &["shape"])
        .set("path", &out)
        .write(dir.path(), "named.toml");
    let mut daemon = Daemon::start(&file, &[], &[]);
    daemon.wait_log("listening on tcp");
    let want = ["shape#0", "shape#1", "shape#2", "out"];
    let deadline = Instant::now() + PATIENCE;
    loop {
        let names = thread_names(daemon.pid());
        if want.iter().all(|w| names.iter().any(|n| n == w)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "threads {names:?} lack some of {want:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(daemon.terminate().success(), "{}", daemon.stderr());
}

/// A tcp sink to a closed port sleeps an hour between tries; SIGTERM's
/// drain runs out of `shutdown_grace`, the stop is forced (exit 1, the
/// undelivered events counted), and the sink's abandoned thread, woken by
/// the runtime shutting down, prints no panic.
#[test]
fn a_forced_stop_abandons_threads_without_a_panic() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = closed.local_addr().unwrap();
    drop(closed);
    let dir = tempfile::tempdir().unwrap();
    let file = Config::new()
        .pipeline()
        .set("shutdown_grace", "200ms")
        .source("app", "generate")
        .set("count", 3)
        .sink("peer", "tcp", &["app"])
        .set("address", address.to_string())
        .set(
            "retry",
            raw(r#"{ attempts = 2, initial = "1h", max = "1h" }"#),
        )
        .write(dir.path(), "forced.toml");
    let mut daemon = Daemon::start(&file, &[], &[]);
    daemon.wait_log("retrying in");
    let status = daemon.terminate();
    let stderr = daemon.stderr();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("3 events in flight were not delivered"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
