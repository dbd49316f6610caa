//! The shipped daemon configuration and systemd unit: `config/daemon.toml`
//! validates and runs (with its paths and ports moved to a temp dir), and
//! `systemd/sluice.service` passes `systemd-analyze verify` where it exists.

mod common;
mod daemon_support;

use std::io::Write;
use std::net::TcpStream;
use std::process::Command;

use common::{repo_root, sluice};
use daemon_support::{Daemon, NotifySocket, wait_metric};

#[test]
fn daemon_toml_is_valid() {
    sluice()
        .arg("check")
        .arg(repo_root().join("config/daemon.toml"))
        .assert()
        .success();
}

#[test]
fn daemon_toml_runs_with_dead_letters() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo_root().join("config/daemon.toml")).unwrap();
    let text = text
        .replace("/var/lib/sluice", &dir.path().display().to_string())
        .replace("127.0.0.1:9000", "127.0.0.1:0")
        .replace("127.0.0.1:9598", "127.0.0.1:0");
    let config = common::write(dir.path(), "daemon.toml", text);
    let mut notify = NotifySocket::bind(dir.path());
    let socket = notify.path.to_str().unwrap().to_string();
    let mut daemon = Daemon::start(&config, &[], &[("NOTIFY_SOCKET", &socket)]);
    notify.wait_for("READY=1");
    let addr = daemon.listen_address("ingest", "tcp");
    let metrics = daemon.metrics_address();
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(
        b"{\"ts\":1,\"host\":\"a\",\"level\":\"info\",\"message\":\"kept\"}\n\
          {\"ts\":2,\"host\":\"a\",\"level\":\"debug\",\"message\":\"dropped\"}\n\
          {\"ts\":3,\"host\":\"b\",\"level\":\"error\",\"msg\":\"kept too\"}\n\
          not json\n",
    )
    .unwrap();
    drop(s);
    wait_metric(metrics, "sluice_events_out_total", "events", |v| v == 2.0);
    let status = daemon.terminate();
    assert!(status.success(), "{status:?}\n{}", daemon.stderr());
    notify.wait_for("STOPPING=1");

    let events = common::json_lines(&std::fs::read(dir.path().join("events.jsonl")).unwrap());
    let msgs: Vec<_> = events.iter().map(|e| e["msg"].as_str().unwrap()).collect();
    assert_eq!(msgs.len(), 2);
    assert!(msgs.contains(&"kept") && msgs.contains(&"kept too"));
    let dead = common::json_lines(&std::fs::read(dir.path().join("dead-letters.jsonl")).unwrap());
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["input"], "not json");
    assert_eq!(dead[0]["line"], 4);
}

#[test]
fn the_unit_passes_systemd_analyze_verify() {
    let Ok(version) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("note: systemd-analyze is not installed; skipping");
        return;
    };
    assert!(version.status.success());
    // verify checks that ExecStart exists: point it at the binary under test.
    let dir = tempfile::tempdir().unwrap();
    let unit = std::fs::read_to_string(repo_root().join("systemd/sluice.service")).unwrap();
    let bin = assert_cmd::cargo::cargo_bin("sluice");
    let unit = unit.replace("/usr/local/bin/sluice", bin.to_str().unwrap());
    let path = common::write(dir.path(), "sluice.service", unit);
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stderr.contains("sluice.service"),
        "systemd-analyze warns about the unit:\n{stderr}"
    );
}
