//! `follow = true` through the real binary: a followed file that grows, is
//! renamed away and recreated, then truncated, delivers every line once.

mod common;
mod daemon_support;

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use common::Config;
use daemon_support::Daemon;

fn append(path: &Path, ids: std::ops::Range<u64>) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    let text: String = ids.map(|i| format!("{{\"id\":{i}}}\n")).collect();
    f.write_all(text.as_bytes()).unwrap();
}

/// Waits (bounded) until `path` holds `n` lines.
fn wait_lines(path: &Path, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let have = std::fs::read_to_string(path)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if have >= n {
            return;
        }
        assert!(Instant::now() < deadline, "{have} of {n} lines arrived");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_followed_file_survives_rotation_and_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let out = dir.path().join("out.jsonl");
    append(&log, 0..1000);
    let cfg = dir.path().join("p.toml");
    std::fs::write(
        &cfg,
        Config::new()
            .pipeline()
            .set("data_dir", &dir.path().join("state"))
            .source("app", "file")
            .set("path", &log)
            .set("follow", true)
            .sink("out", "file", &["app"])
            .set("path", &out)
            .text(),
    )
    .unwrap();
    let mut daemon = Daemon::start(&cfg, &[], &[]);
    wait_lines(&out, 1000);
    // Growth.
    append(&log, 1000..1500);
    wait_lines(&out, 1500);
    // Rotation: a last write to the old file, rename, a new file at the path.
    append(&log, 1500..1600);
    std::fs::rename(&log, dir.path().join("app.log.1")).unwrap();
    append(&log, 1600..2000);
    wait_lines(&out, 2000);
    // Truncation in place.
    std::fs::File::create(&log).unwrap();
    append(&log, 2000..2100);
    wait_lines(&out, 2100);
    let status = daemon.terminate();
    assert!(status.success(), "{status:?}\n{}", daemon.stderr());

    let mut ids: Vec<u64> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_u64()
                .unwrap()
        })
        .collect();
    ids.sort_unstable();
    assert_eq!(ids.len(), 2100, "no line twice");
    ids.dedup();
    assert_eq!(
        ids,
        (0..2100).collect::<Vec<_>>(),
        "every line of both files once"
    );

    // A restart resumes from the checkpoint: nothing is read again.
    let mut again = Daemon::start(&cfg, &[], &[]);
    append(&log, 2100..2110);
    wait_lines(&out, 2110);
    let status = again.terminate();
    assert!(status.success(), "{}", again.stderr());
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 2110);
}
