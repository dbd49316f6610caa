//! Paced replays: events leave at their own pace times `speed`, measured by
//! when each line reaches us on a pipe from `sluice run` (the stdout sink
//! flushes whenever its input is idle), not by the total run time.
//!
//! These tests live in their own binary so that no other test binary's
//! work runs beside them and skews the clock.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Config, raw, write};

/// 50 events, 100 ms apart in their own time (4.9 s from first to last),
/// as RFC 3339 timestamps with milliseconds.
fn fifty_events(dir: &Path) -> std::path::PathBuf {
    let lines: String = (0..50)
        .map(|i| {
            format!(
                "{{\"n\":{i},\"ts\":\"2024-03-01T12:00:{:02}.{:03}Z\"}}\n",
                i / 10,
                (i % 10) * 100
            )
        })
        .collect();
    write(dir, "events.jsonl", lines)
}

fn config(input: &Path, speed: Option<f64>) -> String {
    let speed = speed.map_or(String::new(), |s| format!(", speed = {s:?}"));
    Config::new()
        .source("recorded", "file")
        .set("path", input)
        .set(
            "replay",
            raw(&format!("{{ timestamp_field = \"ts\"{speed} }}")),
        )
        .sink("out", "stdout", &["recorded"])
        .text()
}

/// Runs `config` and returns each stdout line with the time it arrived,
/// relative to the first line. Bounded: the run is killed after 20 s.
fn arrivals(config: &Path) -> Vec<(Duration, serde_json::Value)> {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("sluice"))
        .args(["run", "-q"])
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sluice");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send((Instant::now(), line)).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut got = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(item) => got.push(item),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                panic!("sluice did not finish within 20 s ({} lines)", got.len());
            }
        }
    }
    reader.join().unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "sluice failed: {status:?}");
    let first = got.first().expect("no output at all").0;
    got.into_iter()
        .map(|(at, line)| (at - first, serde_json::from_str(&line).expect("JSON line")))
        .collect()
}

#[test]
fn speed_10_spreads_5_seconds_of_events_over_half_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let input = fifty_events(dir.path());
    let cfg = write(dir.path(), "paced.toml", config(&input, Some(10.0)));
    let got = arrivals(&cfg);
    assert_eq!(got.len(), 50);
    for (i, (_, v)) in got.iter().enumerate() {
        assert_eq!(v["n"], i, "events out of order");
    }
    // Their own time spans 4.9 s: at speed 10, 0.49 s of wall time (± 20%).
    let span = got.last().unwrap().0.as_secs_f64();
    assert!(
        (0.392..=0.588).contains(&span),
        "first to last took {span:.3} s, expected 0.49 s ± 20%"
    );
    // And every event leaves near its own due time (10 ms apart), not in
    // bursts: at most 60 ms early or late.
    let worst = got
        .iter()
        .enumerate()
        .map(|(i, (at, _))| (at.as_secs_f64() - i as f64 * 0.01).abs())
        .fold(0.0, f64::max);
    assert!(
        worst <= 0.06,
        "an event left {worst:.3} s away from its due time"
    );
    // Halfway through the events, about halfway through the time.
    let middle = got[25].0.as_secs_f64();
    assert!((0.2..=0.3).contains(&middle), "event 25 at {middle:.3} s");
}

#[test]
fn without_speed_the_same_events_go_as_fast_as_possible() {
    let dir = tempfile::tempdir().unwrap();
    let input = fifty_events(dir.path());
    let cfg = write(dir.path(), "fast.toml", config(&input, None));
    let got = arrivals(&cfg);
    assert_eq!(got.len(), 50);
    let span = got.last().unwrap().0.as_secs_f64();
    assert!(
        span < 0.1,
        "an unpaced replay spread its events over {span:.3} s"
    );
}

#[test]
fn speed_100_compresses_the_same_events_tenfold_again() {
    let dir = tempfile::tempdir().unwrap();
    let input = fifty_events(dir.path());
    let cfg = write(dir.path(), "faster.toml", config(&input, Some(100.0)));
    let got = arrivals(&cfg);
    assert_eq!(got.len(), 50);
    // 4.9 s / 100 = 49 ms; allow for start-up noise but not for pacing at 10.
    let span = got.last().unwrap().0.as_secs_f64();
    assert!(
        (0.035..=0.2).contains(&span),
        "first to last took {span:.3} s at speed 100"
    );
}
