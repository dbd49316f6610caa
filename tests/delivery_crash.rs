//! Crash safety through the real binary: a file → 4 workers → file pipeline
//! with `data_dir`, killed with SIGKILL at several moments and restarted
//! each time, ends with every input line delivered — exactly once through
//! an ordered sink (effectively-once), at least once through an unordered one.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Config;

const LINES: u64 = 200_000;

fn config(dir: &Path, ordered: bool) -> String {
    Config::new()
        .pipeline()
        .set("data_dir", &dir.join("state"))
        .set("capacity", 512)
        .source("app", "file")
        .set("path", &dir.join("in.jsonl"))
        .transform("work", "jq", &["app"])
        .set("program", "{id, twice: (.id * 2)}")
        .set("workers", 4)
        .sink("out", "file", &["work"])
        .set("path", &dir.join("out.jsonl"))
        .set("ordered", ordered)
        .text()
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// Runs the pipeline, SIGKILLs it once its output has grown past `at`
/// bytes (or it finished first), and returns whether it was killed.
fn run_and_kill(cfg: &Path, out: &Path, at: u64) -> bool {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("sluice"))
        .args(["run", "-q"])
        .arg(cfg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sluice starts");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if file_len(out) >= at {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(child.id().to_string())
                .status();
            child.wait().unwrap();
            return true;
        }
        assert!(
            Instant::now() < deadline,
            "the output never reached {at} bytes"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn ids(out: &Path) -> Vec<u64> {
    std::fs::read_to_string(out)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}"));
            assert_eq!(v["twice"].as_u64(), v["id"].as_u64().map(|i| i * 2));
            v["id"].as_u64().unwrap()
        })
        .collect()
}

/// Kills at growing output sizes spread over the run, then finishes cleanly.
fn crash_and_finish(ordered: bool) -> Vec<u64> {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let input: String = (1..=LINES)
        .map(|i| {
            format!(
                "{{\"id\":{i},\"pad\":\"{}\"}}\n",
                "x".repeat(i as usize % 40)
            )
        })
        .collect();
    std::fs::write(d.join("in.jsonl"), input).unwrap();
    let cfg = d.join("p.toml");
    std::fs::write(&cfg, config(d, ordered)).unwrap();
    let out = d.join("out.jsonl");
    // One output line is about 30 bytes: kill at about 10%…80% of the output.
    let full = LINES * 30;
    let mut kills = 0;
    for tenth in [1, 2, 3, 4, 5, 6, 8] {
        if run_and_kill(&cfg, &out, full * tenth / 10) {
            kills += 1;
        }
    }
    assert!(
        kills >= 3,
        "the pipeline finished before it could be killed"
    );
    let status = Command::new(assert_cmd::cargo::cargo_bin("sluice"))
        .args(["run", "-q"])
        .arg(&cfg)
        .status()
        .unwrap();
    assert!(status.success());
    ids(&out)
}

/// The first place `got` differs from 1..=LINES, for a readable failure.
fn first_difference(got: &[u64]) -> Option<String> {
    let n = got.len().max(LINES as usize);
    let at = (0..n).find(|&i| got.get(i).copied() != Some(i as u64 + 1))?;
    let around: Vec<_> = got.iter().skip(at.saturating_sub(3)).take(8).collect();
    Some(format!(
        "{} lines; first difference at line {}: {around:?}",
        got.len(),
        at + 1
    ))
}

#[test]
fn an_ordered_file_sink_is_effectively_once_across_kill_9() {
    let got = crash_and_finish(true);
    if let Some(d) = first_difference(&got) {
        panic!("every line exactly once, in order: {d}");
    }
}

#[test]
fn an_unordered_file_sink_is_at_least_once_across_kill_9() {
    let mut got = crash_and_finish(false);
    let total = got.len();
    got.sort_unstable();
    got.dedup();
    assert!(
        got.len() as u64 == LINES && first_difference(&got).is_none(),
        "no line lost: {:?}",
        first_difference(&got)
    );
    eprintln!(
        "at-least-once: {} duplicates over {LINES} lines",
        total as u64 - LINES
    );
}
