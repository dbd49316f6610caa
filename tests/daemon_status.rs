//! SIGUSR1 and SIGQUIT with real signals: a status line per stage, then
//! the bottleneck judgement and the stages' states, and the daemon runs on
//! (no API needed: the live view samples without `metrics_address`).

mod common;
mod daemon_support;

use common::Config;
use daemon_support::{Daemon, NotifySocket};

#[test]
fn usr1_logs_every_stage_and_quit_the_judgement_without_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::new()
        .source("gen", "generate")
        .set("rate", 2000)
        .transform("shape", "jq", &["gen"])
        .set("program", "{seq}")
        .set("workers", 2)
        .sink("null", "blackhole", &["shape"])
        .write(dir.path(), "p.toml");
    // READY=1 comes once the signal handlers are in place.
    let mut notify = NotifySocket::bind(dir.path());
    let socket = notify.path.display().to_string();
    let mut daemon = Daemon::start(&config, &[], &[("NOTIFY_SOCKET", &socket)]);
    notify.wait_for("READY=1");
    daemon.signal("USR1");
    daemon.wait_log("SIGUSR1: 3 stages");
    for stage in [
        "`gen` (source generate)",
        "`shape` (transform jq, 2 workers)",
        "`null` (sink blackhole)",
    ] {
        let line = daemon.wait_log(&format!("status: {stage}"));
        assert!(line.contains("in ") && line.contains("/s)"), "{line}");
    }
    daemon.signal("QUIT");
    let line = daemon.wait_log("SIGQUIT: bottleneck: ");
    // 2000 events/s is nothing for jq: the source sets the pace.
    assert!(line.contains("bottleneck: none"), "{line}");
    daemon.wait_log("state: `shape` running (2 tasks)");
    // Still running: a second USR1 is answered too.
    daemon.signal("USR1");
    daemon.wait_log_count("SIGUSR1: 3 stages", 2);
    let status = daemon.terminate();
    assert!(status.success(), "{status:?}\n{}", daemon.stderr());
}
