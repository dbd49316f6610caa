//! `sluice run` with no config runs the embedded demo (config/default.toml),
//! and every shipped config under config/ passes `sluice check`.

mod common;

use std::time::Duration;

use common::{describe, json_lines, read_report, repo_root, sluice, stage, u64_of};

/// The embedded default config, parsed, for names and counts.
fn default_config() -> toml::Table {
    let text = std::fs::read_to_string(repo_root().join("config/default.toml")).unwrap();
    text.parse().expect("config/default.toml is TOML")
}

/// Stage names of the default config, in file order within each section.
fn stage_names(config: &toml::Table) -> Vec<String> {
    ["sources", "transforms", "sinks"]
        .iter()
        .filter_map(|s| config.get(*s).and_then(|t| t.as_table()))
        .flat_map(|t| t.keys().cloned())
        .collect()
}

#[test]
fn run_without_config_runs_the_demo_and_ends() {
    let config = default_config();
    let dir = tempfile::tempdir().unwrap();
    let report_path = dir.path().join("report.json");
    // From an empty directory: the default config is embedded, not read.
    let out = sluice()
        .current_dir(dir.path())
        .arg("run")
        .arg("--report")
        .arg(&report_path)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));

    // stdout: JSON lines only.
    let events = json_lines(&out.stdout);
    assert!(!events.is_empty(), "the demo printed nothing");
    for e in &events {
        assert!(e.is_object(), "{e}");
    }

    // stderr: the per-stage summary, one row per stage.
    let stderr = String::from_utf8_lossy(&out.stderr);
    for name in stage_names(&config) {
        assert!(
            stderr
                .lines()
                .any(|l| l.split_whitespace().next() == Some(name.as_str())),
            "no summary row for `{name}`:\n{stderr}"
        );
    }
    assert!(stderr.contains("events read"), "{stderr}");
    assert!(stderr.contains("events/s"), "{stderr}");

    // The report agrees with what was printed.
    let report = read_report(&report_path);
    assert_eq!(
        u64_of(&report, "events_written"),
        events.len() as u64,
        "events_written vs stdout lines"
    );
    let count = config["sources"]["demo"]["count"].as_integer().unwrap() as u64;
    assert_eq!(u64_of(&report, "events_read"), count);
    assert_eq!(u64_of(stage(&report, "demo"), "events_out"), count);
    assert_eq!(u64_of(&report, "errors"), 0);
    assert!(report["elapsed_s"].as_f64().unwrap() > 0.0);
}

#[test]
fn demo_output_follows_its_config() {
    // The demo keeps warn and error events, reshapes them, and its stdout
    // sink is ordered: levels are filtered and `seq` increases.
    let out = sluice()
        .args(["run", "-q"])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let events = json_lines(&out.stdout);
    assert!(!events.is_empty());
    let mut last = None;
    for e in &events {
        let level = e["level"].as_str().unwrap_or_else(|| panic!("level: {e}"));
        assert!(level == "warn" || level == "error", "{e}");
        let mut keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["host", "level", "msg", "seq", "status"], "{e}");
        let seq = u64_of(e, "seq");
        assert!(last.is_none_or(|l| seq > l), "seq out of order at {e}");
        last = Some(seq);
    }
}

#[test]
fn quiet_run_prints_no_summary_and_the_same_events() {
    let loud = sluice()
        .arg("run")
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let quiet = sluice()
        .args(["run", "-q"])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(loud.status.code(), Some(0), "{}", describe(&loud));
    assert_eq!(quiet.status.code(), Some(0), "{}", describe(&quiet));
    let stderr = String::from_utf8_lossy(&quiet.stderr);
    assert!(
        !stderr.contains("events read"),
        "summary with -q:\n{stderr}"
    );
    assert!(
        !stderr.lines().any(|l| l.starts_with("stage")),
        "summary header with -q:\n{stderr}"
    );
    // Same seed, same output: -q changes only stderr.
    assert!(!quiet.stdout.is_empty());
    assert!(quiet.stdout == loud.stdout, "stdout differs between runs");
}

#[test]
fn every_shipped_config_passes_check() {
    let root = repo_root();
    let mut configs: Vec<_> = std::fs::read_dir(root.join("config"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    configs.sort();
    assert!(!configs.is_empty(), "no config/*.toml");
    for path in configs {
        let rel = path.strip_prefix(&root).unwrap();
        let out = sluice()
            .current_dir(&root)
            .arg("check")
            .arg(rel)
            .timeout(Duration::from_secs(30))
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{} does not pass check: {}",
            rel.display(),
            describe(&out)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(stdout.lines().count(), 1, "{stdout}");
        assert!(
            stdout.contains("stages") && stdout.contains("edges"),
            "{stdout}"
        );
    }
}

#[test]
fn loghub_apache_example_routes_every_line() {
    // Run the shipped example from a scratch directory holding a copy of its
    // input at the same relative path, so its out/ lands there.
    let root = repo_root();
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("tests/data/loghub");
    std::fs::create_dir_all(&data_dir).unwrap();
    let log = std::fs::read_to_string(root.join("tests/data/loghub/Apache_2k.log")).unwrap();
    std::fs::write(data_dir.join("Apache_2k.log"), &log).unwrap();
    let out = sluice()
        .current_dir(dir.path())
        .args(["run", "-q"])
        .arg(root.join("config/loghub-apache.toml"))
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));

    // Expected: "[time] [level] content", split by hand; errors and the rest
    // each in input order (both sinks are ordered).
    let mut want_errors = Vec::new();
    let mut want_other = Vec::new();
    for line in log.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let (time, rest) = line[1..].split_once("] [").expect("apache line");
        let (level, content) = rest.split_once("] ").expect("apache line");
        let v = serde_json::json!({"time": time, "level": level, "content": content});
        if level == "error" {
            want_errors.push(v);
        } else {
            want_other.push(v);
        }
    }
    assert!(!want_errors.is_empty() && !want_other.is_empty());
    let read = |name: &str| json_lines(&std::fs::read(dir.path().join("out").join(name)).unwrap());
    assert!(
        read("apache-errors.jsonl") == want_errors,
        "apache-errors.jsonl"
    );
    assert!(
        read("apache-other.jsonl") == want_other,
        "apache-other.jsonl"
    );
    assert!(
        read("apache-unparsed.jsonl").is_empty(),
        "every line parses"
    );
}

#[test]
fn workers_demo_example_processes_every_item_once() {
    let root = repo_root();
    let out = sluice()
        .current_dir(&root)
        .args(["run", "-q", "config/workers-demo.toml"])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let mut items: Vec<u64> = json_lines(&out.stdout)
        .iter()
        .map(|v| u64_of(v, "item"))
        .collect();
    items.sort_unstable();
    assert_eq!(items, (0..10).collect::<Vec<_>>());
}
