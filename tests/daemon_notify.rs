//! systemd's notification protocol, with a test standing in for systemd:
//! a Unix datagram socket as `NOTIFY_SOCKET`.

mod common;
mod daemon_support;

use common::Config;
use daemon_support::{Daemon, NotifySocket};

fn tcp_to_blackhole(dir: &std::path::Path) -> std::path::PathBuf {
    Config::new()
        .source("in", "tcp")
        .set("address", "127.0.0.1:0")
        .sink("null", "blackhole", &["in"])
        .write(dir, "p.toml")
}

#[test]
fn ready_watchdog_then_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let config = tcp_to_blackhole(dir.path());
    let mut notify = NotifySocket::bind(dir.path());
    let path = notify.path.to_str().unwrap().to_string();
    let mut daemon = Daemon::start(
        &config,
        &[],
        &[("NOTIFY_SOCKET", &path), ("WATCHDOG_USEC", "200000")],
    );
    let ready = notify.wait_for("READY=1");
    assert!(ready.contains("STATUS="), "{ready:?}");
    notify.wait_for("WATCHDOG=1");
    let status = daemon.terminate();
    assert!(status.success(), "{status:?}\n{}", daemon.stderr());
    notify.wait_for("STOPPING=1");
    let ready_at = notify.position("READY=1").unwrap();
    let stopping_at = notify.position("STOPPING=1").unwrap();
    assert!(ready_at < stopping_at, "{:?}", notify.messages);
}

#[test]
fn a_graph_that_ends_by_itself_says_ready_then_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let input = common::write(dir.path(), "in.jsonl", common::id_lines(100));
    let config = Config::new()
        .source("in", "file")
        .set("path", &input)
        .sink("null", "blackhole", &["in"])
        .write(dir.path(), "p.toml");
    let mut notify = NotifySocket::bind(dir.path());
    let path = notify.path.to_str().unwrap().to_string();
    let mut daemon = Daemon::start(&config, &[], &[("NOTIFY_SOCKET", &path)]);
    let status = daemon.wait();
    assert!(status.success(), "{status:?}\n{}", daemon.stderr());
    notify.wait_for("STOPPING=1");
    let ready_at = notify.position("READY=1").expect("READY=1 was sent");
    assert!(ready_at < notify.position("STOPPING=1").unwrap());
    assert!(
        notify.position("WATCHDOG=1").is_none(),
        "no watchdog without WATCHDOG_USEC"
    );
}
