//! What a replay tells: the `--report` JSON (counts that match the summary
//! and the output files, busy time, latency quantiles, edge occupancy, the
//! bottleneck, rates, the config's hash), progress bars on a terminal only,
//! and the shipped `config/replay.toml`.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{
    Config, data, describe, json_lines, raw, read_report, repo_root, sluice, stage, u64_of, write,
};
use serde_json::Value;
use sha2::Digest as _;

/// A summary row: (role, in, out, errors) by stage name.
fn summary_rows(stderr: &str, names: &[&str]) -> Vec<(String, String, u64, u64, u64)> {
    names
        .iter()
        .map(|name| {
            let row = stderr
                .lines()
                .find(|l| l.split_whitespace().next() == Some(name))
                .unwrap_or_else(|| panic!("no summary row for {name}:\n{stderr}"));
            let cols: Vec<&str> = row.split_whitespace().collect();
            let n = |i: usize| cols[i].parse::<u64>().unwrap_or_else(|_| panic!("{row}"));
            (name.to_string(), cols[1].to_string(), n(2), n(3), n(4))
        })
        .collect()
}

#[test]
fn the_report_matches_the_summary_and_the_output_files() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("hdfs.jsonl");
    let mut text = std::fs::read_to_string(data("loghub/hdfs.jsonl")).unwrap();
    // Give every event a time (date + time are separate in loghub's HDFS
    // log), and add two lines that cannot be replayed.
    text = text
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let (d, t) = (v["date"].as_str().unwrap(), v["time"].as_str().unwrap());
            let ts = format!(
                "20{}-{}-{}T{}:{}:{}Z",
                &d[0..2],
                &d[2..4],
                &d[4..6],
                &t[0..2],
                &t[2..4],
                &t[4..6]
            );
            format!("{},\"ts\":\"{ts}\"}}\n", &l[..l.len() - 1])
        })
        .collect();
    text.push_str("{\"line\":2001,\"level\":\"INFO\"}\nnot json\n");
    std::fs::write(&input, &text).unwrap();
    let out = |n: &str| dir.path().join(format!("{n}.jsonl"));
    let config = Config::new()
        .source("hdfs", "file")
        .set("path", &input)
        .set("replay", raw(r#"{ timestamp_field = "ts" }"#))
        .transform("shape", "jq", &["hdfs"])
        .set("workers", 2)
        .set("program", "{ts, level, component, content}")
        .transform("by_level", "route", &["shape"])
        .set("routes.warn", r#".level == "WARN""#)
        .sink("warnings", "file", &["by_level.warn"])
        .set("path", &out("warnings"))
        .set("ordered", true)
        .sink("rest", "file", &["by_level._unmatched"])
        .set("path", &out("rest"))
        .sink("bad", "file", &["hdfs.errors"])
        .set("path", &out("bad"))
        .text();
    let cfg = write(dir.path(), "report.toml", &config);
    let report_path = dir.path().join("report.json");
    let run = sluice()
        .arg("run")
        .arg(&cfg)
        .arg("--report")
        .arg(&report_path)
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", describe(&run));
    let report = read_report(&report_path);
    let stderr = String::from_utf8_lossy(&run.stderr);

    // The summary rows and the report's stages agree.
    let names = ["hdfs", "shape", "by_level", "warnings", "rest", "bad"];
    for (name, role, events_in, events_out, errors) in summary_rows(&stderr, &names) {
        let s = stage(&report, &name);
        assert_eq!(s["role"], role.as_str(), "{name}");
        assert_eq!(u64_of(s, "events_in"), events_in, "{name}");
        assert_eq!(u64_of(s, "events_out"), events_out, "{name}");
        assert_eq!(u64_of(s, "errors"), errors, "{name}");
    }
    assert!(
        stderr.contains(&format!(
            "{} events read, {} written, {} errors",
            u64_of(&report, "events_read"),
            u64_of(&report, "events_written"),
            u64_of(&report, "errors")
        )),
        "{stderr}"
    );

    // The counts match the files.
    let lines = |n: &str| json_lines(&std::fs::read(out(n)).unwrap());
    let (warnings, rest, bad) = (lines("warnings"), lines("rest"), lines("bad"));
    assert_eq!(warnings.len() + rest.len(), 2000);
    assert!(!warnings.is_empty() && warnings.iter().all(|w| w["level"] == "WARN"));
    assert_eq!(bad.len(), 2);
    assert_eq!(u64_of(&report, "events_read"), 2002);
    assert_eq!(u64_of(&report, "events_written"), 2002);
    assert_eq!(u64_of(&report, "errors"), 2);
    assert_eq!(
        u64_of(stage(&report, "warnings"), "events_out"),
        warnings.len() as u64
    );
    assert_eq!(
        u64_of(stage(&report, "rest"), "events_out"),
        rest.len() as u64
    );
    assert_eq!(u64_of(&report, "bytes_read"), text.len() as u64);
    let written: u64 = ["warnings", "rest", "bad"]
        .iter()
        .map(|n| std::fs::metadata(out(n)).unwrap().len())
        .sum();
    assert_eq!(u64_of(&report, "bytes_written"), written);

    // Rates, and the hash of the config text (what sha256sum prints).
    let elapsed = report["elapsed_s"].as_f64().unwrap();
    let rate = report["events_per_s"].as_f64().unwrap();
    assert!(
        (rate - 2002.0 / elapsed).abs() < 1e-6 * rate.max(1.0),
        "{rate}"
    );
    let bytes_rate = report["bytes_per_s"].as_f64().unwrap();
    assert!((bytes_rate - text.len() as f64 / elapsed).abs() < 1e-6 * bytes_rate);
    let sha: String = sha2::Sha256::digest(config.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(report["config_sha256"], sha.as_str());

    // Busy time, latency quantiles and occupancy where a stage has them.
    for name in ["shape", "by_level", "warnings", "rest"] {
        let s = stage(&report, name);
        assert!(s["busy_s"].as_f64().unwrap() > 0.0, "{s}");
        assert!(u64_of(s, "batches") > 0, "{s}");
        let q = &s["latency_ms"];
        let (p50, p90, p99, max) = (
            q["p50_ms"].as_f64().unwrap(),
            q["p90_ms"].as_f64().unwrap(),
            q["p99_ms"].as_f64().unwrap(),
            q["max_ms"].as_f64().unwrap(),
        );
        assert!(0.0 < p50 && p50 <= p90 && p90 <= p99 && p99 <= max, "{q}");
    }
    let source = stage(&report, "hdfs");
    assert_eq!(source["latency_ms"], Value::Null);
    assert!(source["busy_s"].as_f64().unwrap() > 0.0, "{source}");
    assert!(source["blocked_s"].as_f64().is_some(), "{source}");
    assert!(report["occupancy_every_s"].as_f64().unwrap() > 0.0);
    for s in report["stages"].as_array().unwrap() {
        if let Some(o) = s["occupancy"].as_object() {
            let (mean, max) = (o["mean"].as_f64().unwrap(), o["max"].as_f64().unwrap());
            assert!(
                (0.0..=1.0).contains(&mean) && mean <= max && max <= 1.0,
                "{s}"
            );
            let series = o["series"].as_array().unwrap();
            assert!(!series.is_empty() && series.len() <= 64, "{s}");
        }
    }
}

#[test]
fn the_report_names_the_stage_that_holds_the_others_back() {
    let dir = tempfile::tempdir().unwrap();
    // A generator as fast as it can go, a stage that takes 2 ms an event,
    // and a fast sink: the slow stage's input edge stays full, the sink's
    // stays empty.
    let cfg = Config::new()
        .pipeline()
        .set("capacity", 16)
        .source("gen", "generate")
        .set("count", 250)
        .transform("slow", "delay", &["gen"])
        .set("duration", "2ms")
        .sink("out", "blackhole", &["slow"])
        .write(dir.path(), "slow.toml");
    let report_path = dir.path().join("report.json");
    let run = sluice()
        .arg("run")
        .arg(&cfg)
        .arg("--report")
        .arg(&report_path)
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", describe(&run));
    let report = read_report(&report_path);
    assert_eq!(report["bottleneck"], "slow", "{report:#}");
    let occupancy = &stage(&report, "slow")["occupancy"];
    assert!(occupancy["mean"].as_f64().unwrap() >= 0.5, "{occupancy}");
    assert!(stage(&report, "out")["occupancy"]["mean"].as_f64().unwrap() < 0.5);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("bottleneck: slow"), "{stderr}");
}

#[test]
fn progress_bars_only_on_a_terminal_and_not_with_quiet() {
    let dir = tempfile::tempdir().unwrap();
    // 400 events over 10 s of their own time at speed 20: half a second.
    let lines: String = (0..400)
        .map(|i| format!("{{\"i\":{i},\"ts\":{}}}\n", 1_700_000_000_000u64 + i * 25))
        .collect();
    let input = write(dir.path(), "paced.jsonl", lines);
    let cfg = Config::new()
        .source("rec", "file")
        .set("path", &input)
        .set("replay", raw(r#"{ timestamp_field = "ts", speed = 20.0 }"#))
        .sink("out", "blackhole", &["rec"])
        .write(dir.path(), "paced.toml");
    // Not a terminal: no bar.
    let piped = sluice()
        .arg("run")
        .arg(&cfg)
        .timeout(Duration::from_secs(20))
        .output()
        .unwrap();
    assert_eq!(piped.status.code(), Some(0), "{}", describe(&piped));
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(
        !stderr.contains("ETA"),
        "a bar without a terminal:\n{stderr}"
    );
    assert!(stderr.contains("events read"), "{stderr}");

    // On a terminal (`script` gives the run a pseudo-terminal): a bar with
    // the file's name, bytes of its size, events per second and an ETA.
    let Some(on_tty) = on_a_terminal(&cfg, &[]) else {
        return;
    };
    let size = std::fs::metadata(&input).unwrap().len();
    assert!(on_tty.contains("paced.jsonl ["), "{on_tty}");
    assert!(on_tty.contains("ETA"), "{on_tty}");
    assert!(on_tty.contains("/s"), "{on_tty}");
    assert!(
        on_tty.contains(&format!("{:.2} KiB", size as f64 / 1024.0)),
        "{on_tty}"
    );
    let quiet = on_a_terminal(&cfg, &["-q"]).unwrap();
    assert!(!quiet.contains("ETA"), "a bar with -q:\n{quiet}");
}

/// Runs `sluice run ARGS CONFIG` under `script` (a pseudo-terminal) and
/// returns what it printed, or `None` when `script` is not installed.
fn on_a_terminal(cfg: &Path, args: &[&str]) -> Option<String> {
    let bin = assert_cmd::cargo::cargo_bin("sluice");
    let mut command = format!("{} run", bin.display());
    for a in args {
        command.push_str(&format!(" {a}"));
    }
    command.push_str(&format!(" {}", cfg.display()));
    let out = match std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
    {
        Ok(out) => out,
        Err(_) => {
            eprintln!("note: `script` is not installed; skipping the terminal check");
            return None;
        }
    };
    assert!(out.status.success(), "{}", describe(&out));
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn the_shipped_replay_config_counts_errors_by_minute_in_its_hour() {
    let root = repo_root();
    let shipped = std::fs::read_to_string(root.join("config/replay.toml")).unwrap();
    assert!(
        shipped.contains("speed = 100.0"),
        "the example replays at 100x"
    );
    // Run it from a scratch directory holding its input at the same
    // relative path, as fast as possible (36 s at 100x is for people).
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("tests/data/loghub");
    std::fs::create_dir_all(&data_dir).unwrap();
    let log = std::fs::read_to_string(data("loghub/apache.jsonl")).unwrap();
    std::fs::write(data_dir.join("apache.jsonl"), &log).unwrap();
    let unpaced = shipped.replace(", speed = 100.0", "");
    let cfg = write(dir.path(), "replay.toml", &unpaced);
    let run = sluice()
        .current_dir(dir.path())
        .args(["run", "-q", "replay.toml", "--report", "report.json"])
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", describe(&run));
    let _ = cfg;

    // Expected: the events of 06:00–06:59 on Dec 4, errors apart.
    let in_hour: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["time"].as_str().unwrap().starts_with("Sun Dec 04 06:"))
        .collect();
    let want_errors: Vec<&Value> = in_hour.iter().filter(|v| v["level"] == "error").collect();
    let read = |n: &str| json_lines(&std::fs::read(dir.path().join("out").join(n)).unwrap());
    let errors = read("replay-errors.jsonl");
    let other = read("replay-other.jsonl");
    assert!(!want_errors.is_empty());
    assert_eq!(errors.len(), want_errors.len());
    assert_eq!(errors.len() + other.len(), in_hour.len());
    assert!(read("replay-dead-letters.jsonl").is_empty());
    for (got, want) in errors.iter().zip(&want_errors) {
        assert_eq!(got["content"], want["content"]);
        let ts = got["ts"].as_str().unwrap();
        assert!(ts.starts_with("2005-12-04T06:"), "{got}");
        assert_eq!(got["minute"].as_str().unwrap(), format!("{}00Z", &ts[..17]));
    }
    let report = read_report(&dir.path().join("report.json"));
    assert_eq!(u64_of(&report, "events_read"), in_hour.len() as u64);
    assert_eq!(
        u64_of(stage(&report, "apache"), "skipped"),
        (log.lines().count() - in_hour.len()) as u64
    );
}
