//! The close cascade: when finite sources end, every stage drains and every
//! sink flushes before the process exits 0; every event arrives exactly once,
//! through worker pools, fan-out and fan-in.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{
    Config, describe, id_lines, json_lines, read_report, sluice, sorted_ids, stage, u64_of, write,
};

fn run(dir: &Path, config: &str) -> serde_json::Value {
    let path = write(dir, "sluice.toml", config);
    let report = dir.join("report.json");
    let out = sluice()
        .args(["run", "--report"])
        .arg(&report)
        .arg(&path)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    read_report(&report)
}

#[test]
fn three_stage_graph_delivers_every_event_exactly_once() {
    const N: u64 = 50_000;
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "in.jsonl", id_lines(N));
    let output = dir.path().join("out/result.jsonl");
    let config = Config::new()
        .source("app", "file")
        .set("path", &input)
        .transform("double", "jq", &["app"])
        .set("program", "{id, v: (.id * 2)}")
        .set("workers", 4)
        .transform("check", "filter", &["double"])
        .set("condition", ".v == .id * 2")
        .set("workers", 4)
        .sink("out", "file", &["check"])
        .set("path", &output)
        .text();
    let report = run(dir.path(), &config);

    let events = json_lines(&std::fs::read(&output).unwrap());
    for e in &events {
        assert_eq!(e["v"].as_u64(), e["id"].as_u64().map(|i| i * 2), "{e}");
    }
    // Sorted ids, duplicates kept: a lost or a doubled event both fail.
    let ids = sorted_ids(&std::fs::read(&output).unwrap());
    assert_eq!(ids.len() as u64, N, "event count");
    assert!(
        ids == (1..=N).collect::<Vec<_>>(),
        "ids are not exactly 1..={N}"
    );

    assert_eq!(u64_of(&report, "events_read"), N);
    assert_eq!(u64_of(&report, "events_written"), N);
    for s in ["double", "check"] {
        assert_eq!(u64_of(stage(&report, s), "events_in"), N, "{s}");
        assert_eq!(u64_of(stage(&report, s), "events_out"), N, "{s}");
    }
    assert_eq!(u64_of(&report, "errors"), 0);
}

#[test]
fn fan_out_gives_every_consumer_every_event() {
    const N: u64 = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "in.jsonl", id_lines(N));
    let a = dir.path().join("a.jsonl");
    let b = dir.path().join("b.jsonl");
    let c = dir.path().join("c.jsonl");
    let config = Config::new()
        .pipeline()
        .set("capacity", 64)
        .source("app", "file")
        .set("path", &input)
        .transform("odd", "filter", &["app"])
        .set("condition", ".id % 2 == 1")
        .set("workers", 3)
        .sink("a", "file", &["app"])
        .set("path", &a)
        .sink("b", "file", &["app"])
        .set("path", &b)
        .set("ordered", true)
        .sink("c", "file", &["odd"])
        .set("path", &c)
        .text();
    let report = run(dir.path(), &config);
    let all: Vec<u64> = (1..=N).collect();
    assert!(sorted_ids(&std::fs::read(&a).unwrap()) == all, "sink a");
    // b is ordered and fed straight from the file: byte-identical.
    assert!(
        std::fs::read(&b).unwrap() == std::fs::read(&input).unwrap(),
        "sink b"
    );
    let odd: Vec<u64> = (1..=N).filter(|i| i % 2 == 1).collect();
    assert!(sorted_ids(&std::fs::read(&c).unwrap()) == odd, "sink c");
    assert_eq!(u64_of(&report, "events_written"), N * 2 + N / 2);
}

#[test]
fn fan_in_merges_two_sources_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let first = write(dir.path(), "first.jsonl", id_lines(15_000));
    // The second file continues the ids: 15 001 ..= 27 000.
    let second: String = (15_001..=27_000u64)
        .map(|i| format!("{{\"id\":{i}}}\n"))
        .collect();
    let second = write(dir.path(), "second.jsonl", second);
    let merged = dir.path().join("merged.jsonl");
    let ordered = dir.path().join("ordered.jsonl");
    let config = Config::new()
        .source("one", "file")
        .set("path", &first)
        .source("two", "file")
        .set("path", &second)
        .transform("tag", "jq", &["one", "two"])
        .set("program", "{id}")
        .set("workers", 4)
        .sink("merged", "file", &["tag"])
        .set("path", &merged)
        .sink("ordered", "file", &["one", "two"])
        .set("path", &ordered)
        .set("ordered", true)
        .text();
    let report = run(dir.path(), &config);
    let all: Vec<u64> = (1..=27_000).collect();
    assert!(
        sorted_ids(&std::fs::read(&merged).unwrap()) == all,
        "merged"
    );

    // An ordered fan-in keeps each source's own order.
    let got: Vec<u64> = json_lines(&std::fs::read(&ordered).unwrap())
        .iter()
        .map(|v| u64_of(v, "id"))
        .collect();
    let mut sorted = got.clone();
    sorted.sort_unstable();
    assert!(sorted == all, "ordered fan-in lost or doubled events");
    let from_one: Vec<u64> = got.iter().copied().filter(|i| *i <= 15_000).collect();
    let from_two: Vec<u64> = got.iter().copied().filter(|i| *i > 15_000).collect();
    assert!(
        from_one == (1..=15_000).collect::<Vec<_>>(),
        "order of source one"
    );
    assert!(
        from_two == (15_001..=27_000).collect::<Vec<_>>(),
        "order of source two"
    );
    assert_eq!(u64_of(&report, "events_read"), 27_000);
    assert_eq!(u64_of(&report, "events_written"), 54_000);
}

#[test]
fn stdin_source_ends_at_eof() {
    const N: u64 = 5_000;
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.jsonl");
    let config = Config::new()
        .source("in", "stdin")
        .transform("j", "jq", &["in"])
        .set("program", ".")
        .set("workers", 2)
        .sink("out", "file", &["j"])
        .set("path", &output)
        .text();
    let path = write(dir.path(), "sluice.toml", config);
    let out = sluice()
        .args(["run", "-q"])
        .arg(&path)
        .write_stdin(id_lines(N))
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(sorted_ids(&std::fs::read(&output).unwrap()) == (1..=N).collect::<Vec<_>>());
}
