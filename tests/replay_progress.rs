//! The progress bar of a windowed replay, read off a real terminal (tmux):
//! one hour in the middle of a day of events, at 900× (4 s). The bar must
//! follow the window in event time (`…/1h00m`) and its ETA the replay's
//! own pace: at most the window's 4 s, falling as it runs, and close to
//! the time the run really had left. (Computed from the file's bytes, as
//! it was, the ETA read half a minute: 23 of the file's 24 hours lie
//! outside the window.)
//!
//! In a binary of its own, like `replay_pacing.rs`, so no other test's work
//! runs beside it and skews the pace.

mod common;
mod tmux_support;

use std::time::{Duration, Instant};

use common::{Config, raw, write};
use tmux_support::{PATIENCE, Tmux, tmux_or_skip};

/// The replay's window, in event seconds, and its speed: 4 s of wall time.
const WINDOW_S: f64 = 3600.0;
const SPEED: f64 = 900.0;

/// A day of events, one every 10 s, RFC 3339 times.
fn a_day(dir: &std::path::Path) -> std::path::PathBuf {
    let lines: String = (0..8640)
        .map(|i| {
            let s = i * 10;
            format!(
                "{{\"n\":{i},\"ts\":\"2024-03-01T{:02}:{:02}:{:02}Z\",\"msg\":\"an event of the day\"}}\n",
                s / 3600,
                s % 3600 / 60,
                s % 60
            )
        })
        .collect();
    write(dir, "day.jsonl", lines)
}

/// Seconds in `45s`, `3m05s`, `1h00m`.
fn seconds(span: &str) -> Option<f64> {
    let (mut total, mut digits) = (0.0, String::new());
    for c in span.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: f64 = digits.parse().ok()?;
        digits.clear();
        total += n * match c {
            's' => 1.0,
            'm' => 60.0,
            'h' => 3600.0,
            'd' => 86_400.0,
            _ => return None,
        };
    }
    digits.is_empty().then_some(total)
}

/// One reading of the bar: (event seconds done, window, ETA seconds).
fn reading(screen: &str) -> Option<(f64, f64, f64)> {
    let line = screen.lines().find(|l| l.starts_with("recorded ["))?;
    let after_bar = &line[line.find("] ")? + 2..];
    let (done, rest) = after_bar.split_once('/')?;
    let (window, rest) = rest.split_once(',')?;
    let eta = rest.rsplit_once("ETA ")?.1.trim();
    Some((seconds(done)?, seconds(window)?, seconds(eta)?))
}

#[test]
fn a_windowed_replay_shows_its_window_in_event_time_and_a_true_eta() {
    let Some(()) = tmux_or_skip("a_windowed_replay_shows_its_window") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let input = a_day(dir.path());
    let config = Config::new()
        .source("recorded", "file")
        .set("path", input.as_path())
        .set(
            "replay",
            raw(&format!(
                "{{ timestamp_field = \"ts\", speed = {SPEED:?}, from = \"2024-03-01T06:00:00Z\", to = \"2024-03-01T07:00:00Z\" }}"
            )),
        )
        .sink("out", "blackhole", &["recorded"])
        .write(dir.path(), "replay.toml");
    let tmux = Tmux::start(
        120,
        10,
        &format!(
            "{} run --log-level warn {}; echo \"run exited $?\"",
            assert_cmd::cargo::cargo_bin("sluice").display(),
            config.display()
        ),
    );
    // Every distinct reading, with when it was seen.
    let mut readings: Vec<(Instant, (f64, f64, f64))> = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    let end = loop {
        let screen = tmux.screen();
        let now = Instant::now();
        if screen.contains("run exited") {
            assert!(screen.contains("run exited 0"), "{screen}");
            break now;
        }
        if let Some(r) = reading(&screen)
            && readings.last().is_none_or(|(_, last)| *last != r)
        {
            readings.push((now, r));
        }
        assert!(now < deadline, "the replay did not end:\n{screen}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let shown: Vec<String> = readings
        .iter()
        .map(|(t, r)| format!("{:.1}s before the end: {r:?}", (end - *t).as_secs_f64()))
        .collect();
    let shown = shown.join("\n");
    assert!(readings.len() >= 3, "too few readings of the bar:\n{shown}");
    let window_wall = WINDOW_S / SPEED;
    for (t, (done, window, eta)) in &readings {
        assert_eq!(*window, WINDOW_S, "the window is an hour:\n{shown}");
        assert!(*done <= WINDOW_S, "{shown}");
        // Shown in whole seconds, rounded down.
        assert!(*eta <= window_wall, "ETA past the window's 4 s:\n{shown}");
        // Not more than two seconds short of the time the run really had
        // left (the summary and exit add a little after the window).
        let left = (end - *t).as_secs_f64();
        assert!(
            eta + 2.0 >= left - 1.0,
            "ETA {eta}s with {left:.1}s left:\n{shown}"
        );
    }
    let (first, last) = (readings[0].1, readings[readings.len() - 1].1);
    assert!(last.0 > first.0, "the position moved:\n{shown}");
    assert!(last.2 < first.2, "the ETA fell:\n{shown}");
    assert!(
        readings.windows(2).all(|w| w[1].1.0 >= w[0].1.0),
        "the position never went back:\n{shown}"
    );
}
