//! Reloads keep every promise, through the real binary: an ordered file
//! sink stays effectively-once across several SIGHUPs and a `kill -9`; a
//! reload that only moves a source in the file (a comment, an edit to
//! another stage) leaves it running, while changing one of its keys
//! restarts it; and a stage a reload adds is measured like the others.

mod common;
mod daemon_support;

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Config, read_report, stage, toml_path};
use daemon_support::{Daemon, PATIENCE, metric, scrape, wait_metric};

const LINES: u64 = 24_000;

/// file (checkpointed) → delay with jitter on 6 workers → ordered file
/// sink. `variant` changes the text without changing what it reads: a
/// comment above the source, another delay, a source key written out at
/// its default value (which restarts the source: its table changed).
fn crash_config(d: &Path, variant: u32) -> String {
    let comment = if variant % 2 == 1 {
        "# a comment above the source\n"
    } else {
        ""
    };
    let follow = if variant == 3 { "follow = false\n" } else { "" };
    let jitter = 100 + 50 * variant;
    Config::new()
        .pipeline()
        .set("data_dir", &d.join("state"))
        .set("capacity", 256)
        .raw(comment)
        .source("app", "file")
        .set("path", &d.join("in.jsonl"))
        .raw(follow)
        .transform("work", "delay", &["app"])
        .set("duration", "0ms")
        .set("jitter", format!("{jitter}us"))
        .set("workers", 6)
        .sink("out", "file", &["work"])
        .set("path", &d.join("out.jsonl"))
        .set("ordered", true)
        .text()
}

fn lines_in(p: &Path) -> u64 {
    std::fs::read(p)
        .map(|b| b.iter().filter(|&&c| c == b'\n').count() as u64)
        .unwrap_or(0)
}

/// Polls until `p` holds more than `n` lines.
fn wait_lines(p: &Path, n: u64) {
    let deadline = Instant::now() + PATIENCE;
    while lines_in(p) <= n {
        assert!(
            Instant::now() < deadline,
            "{} never grew past {n} lines",
            p.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn an_ordered_sink_stays_effectively_once_across_reloads_and_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let input: String = (1..=LINES).map(|i| format!("{{\"id\":{i}}}\n")).collect();
    std::fs::write(d.join("in.jsonl"), input).unwrap();
    let cfg = d.join("p.toml");
    let out = d.join("out.jsonl");
    std::fs::write(&cfg, crash_config(d, 0)).unwrap();
    let mut daemon = Daemon::start(&cfg, &[], &[]);
    // Three reloads mid-stream: the sink is rebuilt each time, the source
    // kept twice and restarted once.
    for variant in 1..=3u32 {
        wait_lines(&out, u64::from(variant) * LINES / 10);
        std::fs::write(&cfg, crash_config(d, variant)).unwrap();
        daemon.signal("HUP");
        daemon.wait_log_count("reload complete", variant as usize);
    }
    assert_eq!(
        daemon
            .stderr()
            .matches("reload: stopping source `app`")
            .count(),
        1,
        "only the reload that changed the source's keys restarts it:\n{}",
        daemon.stderr()
    );
    let before_kill = lines_in(&out);
    wait_lines(&out, before_kill + LINES / 20);
    let at_kill = lines_in(&out);
    daemon.kill9();
    assert!(
        at_kill < LINES,
        "the kill must land mid-stream ({at_kill} of {LINES} lines written)"
    );
    let status = Command::new(assert_cmd::cargo::cargo_bin("sluice"))
        .args(["run", "-q"])
        .arg(&cfg)
        .status()
        .unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&out).unwrap();
    let got: Vec<u64> = text
        .lines()
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}"));
            v["id"].as_u64().unwrap()
        })
        .collect();
    let first_bad =
        (0..got.len().max(LINES as usize)).find(|&i| got.get(i).copied() != Some(i as u64 + 1));
    if let Some(at) = first_bad {
        let around: Vec<_> = got.iter().skip(at.saturating_sub(3)).take(8).collect();
        panic!(
            "every line exactly once, in order: {} lines (killed at {at_kill}); first difference at line {}: {around:?}",
            got.len(),
            at + 1
        );
    }
}

/// tcp source → jq → file; `program` and `comment` vary the text around
/// the source, `max` is one of the source's own keys.
fn tcp_config(out: &Path, comment: bool, program: &str, max: u32) -> String {
    let comment = if comment {
        "# the network input\n# (two comment lines above it)\n"
    } else {
        ""
    };
    Config::new()
        .pipeline()
        .set("metrics_address", "127.0.0.1:0")
        .raw(comment)
        .source("in", "tcp")
        .set("address", "127.0.0.1:0")
        .set("max_connections", max)
        .transform("shape", "jq", &["in"])
        .set("program", program)
        .sink("out", "file", &["shape"])
        .set("path", out)
        .text()
}

#[test]
fn a_reload_that_only_moves_a_source_keeps_it_and_its_connections() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let cfg = dir.path().join("p.toml");
    std::fs::write(&cfg, tcp_config(&out, false, "{n}", 8)).unwrap();
    let mut daemon = Daemon::start(&cfg, &[], &[]);
    let addr = daemon.listen_address("in", "tcp");
    let mut client = TcpStream::connect(addr).unwrap();
    writeln!(client, "{{\"n\":1}}").unwrap();
    wait_lines(&out, 0);

    // A comment above the source and a changed program elsewhere.
    std::fs::write(&cfg, tcp_config(&out, true, "{n, v: 2}", 8)).unwrap();
    daemon.signal("HUP");
    daemon.wait_log_count("reload complete", 1);
    writeln!(client, "{{\"n\":2}}").unwrap();
    wait_lines(&out, 1);
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        text, "{\"n\":1}\n{\"n\":2,\"v\":2}\n",
        "the open connection's later line arrives, through the new program"
    );
    let log = daemon.stderr();
    assert_eq!(log.matches("listening on tcp").count(), 1, "{log}");
    assert!(!log.contains("stopping source"), "{log}");

    // One of its own keys changed: it restarts (a new listener).
    std::fs::write(&cfg, tcp_config(&out, true, "{n, v: 2}", 9)).unwrap();
    daemon.signal("HUP");
    daemon.wait_log_count("reload complete", 2);
    daemon.wait_log("reload: stopping source `in`");
    daemon.wait_log_count("listening on tcp", 2);
    drop(client);
    assert!(daemon.terminate().success());
}

#[test]
fn a_stage_added_by_a_reload_is_sampled_like_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let cfg = dir.path().join("p.toml");
    let report = dir.path().join("report.json");
    let base = Config::new()
        .pipeline()
        .set("metrics_address", "127.0.0.1:0")
        .source("in", "tcp")
        .set("address", "127.0.0.1:0")
        .sink("out", "file", &["in"])
        .set("path", &out)
        .text();
    std::fs::write(&cfg, &base).unwrap();
    let report_arg = report.to_str().unwrap();
    let mut daemon = Daemon::start(&cfg, &["--report", report_arg], &[]);
    let metrics = daemon.metrics_address();
    let addr = daemon.listen_address("in", "tcp");
    assert!(metric(&scrape(metrics), "sluice_edge_capacity", "added").is_none());

    let added = format!("{base}\n[sinks.added]\ntype = \"blackhole\"\ninputs = [\"in\"]\n");
    std::fs::write(&cfg, added).unwrap();
    daemon.signal("HUP");
    daemon.wait_log_count("reload complete", 1);
    let mut client = TcpStream::connect(addr).unwrap();
    for n in 0..100 {
        writeln!(client, "{{\"n\":{n}}}").unwrap();
    }
    let text = wait_metric(metrics, "sluice_events_in_total", "added", |v| v >= 100.0);
    assert!(metric(&text, "sluice_edge_capacity", "added").is_some_and(|c| c > 0.0));
    assert!(metric(&text, "sluice_edge_occupancy", "added").is_some());
    // Samples are taken every 100 ms: let a few ticks pass, measured by
    // the daemon's own clock.
    let uptime = |t: &str| {
        t.lines()
            .find_map(|l| l.strip_prefix("sluice_uptime_seconds "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap()
    };
    let from = uptime(&text);
    let deadline = Instant::now() + PATIENCE;
    while uptime(&scrape(metrics)) < from + 0.5 {
        assert!(Instant::now() < deadline, "uptime does not advance");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(client);
    assert!(daemon.terminate().success());
    let r = read_report(&report);
    let occupancy = &stage(&r, "added")["occupancy"];
    assert!(
        occupancy["samples"].as_u64().is_some_and(|n| n >= 3),
        "the added sink's input edge is sampled: {occupancy}"
    );
    let first = stage(&r, "out")["occupancy"]["samples"].as_u64().unwrap();
    assert!(
        first >= occupancy["samples"].as_u64().unwrap(),
        "each stage is sampled once per tick"
    );
}

/// A followed file with a backlog: a reload that changes the source stops
/// it mid-file (it does not wait to reach the end), and its successor
/// resumes from the checkpoint: every line once, in order.
#[test]
fn a_reload_restarts_a_followed_file_mid_backlog_without_loss() {
    const BACKLOG: u64 = 30_000;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let input: String = (1..=BACKLOG).map(|i| format!("{{\"id\":{i}}}\n")).collect();
    std::fs::write(d.join("in.jsonl"), input).unwrap();
    let out = d.join("out.jsonl");
    let cfg = d.join("p.toml");
    let config = |extra: &str| {
        Config::new()
            .pipeline()
            .set("data_dir", &d.join("state"))
            .set("capacity", 256)
            .source("app", "file")
            .set("path", &d.join("in.jsonl"))
            .set("follow", true)
            .raw(extra)
            .transform("work", "delay", &["app"])
            .set("duration", "0ms")
            .set("jitter", "200us")
            .set("workers", 4)
            .sink("out", "file", &["work"])
            .set("path", &out)
            .set("ordered", true)
            .text()
    };
    std::fs::write(&cfg, config("")).unwrap();
    let mut daemon = Daemon::start(&cfg, &[], &[]);
    wait_lines(&out, 1_000);
    std::fs::write(&cfg, config("max_line_bytes = 4096")).unwrap();
    daemon.signal("HUP");
    daemon.wait_log_count("reload complete", 1);
    let at_switch = lines_in(&out);
    assert!(
        at_switch < BACKLOG * 9 / 10,
        "the old source stopped mid-file ({at_switch} of {BACKLOG} lines out at the switch)"
    );
    daemon.wait_log("resuming at byte");
    wait_lines(&out, BACKLOG - 1);
    assert!(daemon.terminate().success());
    let got: Vec<u64> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert!(
        got.iter().copied().eq(1..=BACKLOG),
        "every line once, in order: {} lines",
        got.len()
    );
}

/// A reload moves the ordered sink to another file, then `kill -9`: the
/// restart cuts back the new file only (the checkpoint names the file its
/// length is of), and the two files hold every line exactly once, in order.
#[test]
fn a_sink_moved_by_a_reload_stays_effectively_once_across_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let input: String = (1..=LINES).map(|i| format!("{{\"id\":{i}}}\n")).collect();
    std::fs::write(d.join("in.jsonl"), input).unwrap();
    let cfg = d.join("p.toml");
    let (first, second) = (d.join("out1.jsonl"), d.join("out2.jsonl"));
    let config =
        |out: &Path| crash_config(d, 0).replace(&toml_path(&d.join("out.jsonl")), &toml_path(out));
    std::fs::write(&cfg, config(&first)).unwrap();
    let mut daemon = Daemon::start(&cfg, &[], &[]);
    wait_lines(&first, LINES / 5);
    std::fs::write(&cfg, config(&second)).unwrap();
    daemon.signal("HUP");
    daemon.wait_log_count("reload complete", 1);
    wait_lines(&second, LINES / 5);
    daemon.kill9();
    assert!(
        lines_in(&first) + lines_in(&second) < LINES,
        "killed mid-stream"
    );
    let status = Command::new(assert_cmd::cargo::cargo_bin("sluice"))
        .args(["run", "-q"])
        .arg(&cfg)
        .status()
        .unwrap();
    assert!(status.success());
    let ids = |p: &Path| -> Vec<u64> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                    .as_u64()
                    .unwrap()
            })
            .collect()
    };
    let (a, b) = (ids(&first), ids(&second));
    let n = a.len() as u64;
    assert!(
        a.iter().copied().eq(1..=n) && b.iter().copied().eq(n + 1..=LINES),
        "{} lines in the first file, {} in the second (first {:?}), not every line once in order",
        a.len(),
        b.len(),
        b.first()
    );
}
