//! Backpressure: a slow sink slows the whole graph instead of letting
//! buffers grow. The in-flight peak stays under the bound the configuration
//! implies, yet reaches a level that shows the graph really filled up.

mod common;

use std::time::Duration;

use common::{Config, describe, read_report, sluice, stage, u64_of, write};

const CAPACITY: u64 = 8;
const COUNT: u64 = 3000;
const WORKERS: u64 = 2;

/// The upper bound on events inside the graph for generate → jq (WORKERS
/// workers) → sink, each edge of capacity CAPACITY.
fn in_flight_bound() -> u64 {
    // Events travel in batches of min(256, smallest capacity) events.
    let batch = CAPACITY.min(256);
    // An edge of capacity C holds max(1, C / batch) batches.
    let edge = (CAPACITY / batch).max(1) * batch;
    // Two edges: generate → jq and jq → sink.
    let edges = 2 * edge;
    // The source holds the batch it is sending while the edge is full.
    let source = batch;
    // A worker holds its input batch until its output batch is sent: both
    // count while it waits on a full output edge.
    let workers = WORKERS * 2 * batch;
    // The sink holds the batch it is consuming.
    let sink = batch;
    edges + source + workers + sink
}

#[test]
fn a_slow_sink_bounds_the_events_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::new()
        .pipeline()
        .set("capacity", CAPACITY)
        .source("gen", "generate")
        .set("count", COUNT)
        .transform("copy", "jq", &["gen"])
        .set("program", ".")
        .set("workers", WORKERS)
        .sink("slow", "blackhole", &["copy"])
        .set("rate", 3000)
        .text();
    let path = write(dir.path(), "bp.toml", config);
    let report_path = dir.path().join("report.json");
    let out = sluice()
        .args(["run", "-q", "--report"])
        .arg(&report_path)
        .arg(&path)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let report = read_report(&report_path);

    // Everything is delivered.
    assert_eq!(u64_of(&report, "events_read"), COUNT, "{report}");
    assert_eq!(u64_of(&report, "events_written"), COUNT, "{report}");
    assert_eq!(u64_of(stage(&report, "copy"), "events_out"), COUNT);
    assert_eq!(u64_of(stage(&report, "slow"), "events_in"), COUNT);

    // The rate-limited sink set the pace (3000 events at 3000/s).
    let elapsed = report["elapsed_s"].as_f64().unwrap();
    assert!(
        elapsed >= 0.8,
        "the blackhole's rate was not applied: {elapsed}s"
    );

    // Bounded: never more than edges + what each task holds.
    let peak = u64_of(&report, "peak_in_flight");
    let bound = in_flight_bound();
    assert_eq!(bound, 64);
    assert!(
        peak <= bound,
        "peak_in_flight {peak} exceeds the bound {bound} implied by capacity {CAPACITY}"
    );
    // And the graph did fill up behind the slow sink: at least a full edge.
    assert!(
        peak >= CAPACITY,
        "peak_in_flight {peak}: nothing queued behind the slow sink"
    );
}

#[test]
fn fan_out_waits_for_the_slowest_consumer() {
    // The slowest consumer sets the pace: the source cannot run ahead of the
    // slow branch by more than that branch's edge, so the peak stays bounded
    // even though the other branch drains instantly.
    let dir = tempfile::tempdir().unwrap();
    let config = Config::new()
        .pipeline()
        .set("capacity", CAPACITY)
        .source("gen", "generate")
        .set("count", 1500)
        .sink("slow", "blackhole", &["gen"])
        .set("rate", 3000)
        .sink("fast", "blackhole", &["gen"])
        .text();
    let path = write(dir.path(), "fan.toml", config);
    let report_path = dir.path().join("report.json");
    let out = sluice()
        .args(["run", "-q", "--report"])
        .arg(&report_path)
        .arg(&path)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let report = read_report(&report_path);
    assert_eq!(u64_of(stage(&report, "slow"), "events_out"), 1500);
    assert_eq!(u64_of(stage(&report, "fast"), "events_out"), 1500);
    let elapsed = report["elapsed_s"].as_f64().unwrap();
    assert!(
        elapsed >= 0.4,
        "the slow sink's rate was not applied: {elapsed}s"
    );
    // Two edges of CAPACITY, the source's copies of one batch to each sink
    // (counted as soon as it starts sending), one batch in each sink.
    let batch = CAPACITY;
    let bound = 2 * CAPACITY + 2 * batch + 2 * batch;
    let peak = u64_of(&report, "peak_in_flight");
    assert!(peak <= bound, "peak_in_flight {peak} > {bound}");
    assert!(peak >= CAPACITY, "peak_in_flight {peak}");
}

#[test]
fn a_file_sink_holds_no_more_than_one_batch() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("out.jsonl");
    let config = Config::new()
        .pipeline()
        .set("capacity", CAPACITY)
        .source("gen", "generate")
        .set("count", 50000)
        .transform("copy", "jq", &["gen"])
        .set("program", ".")
        .set("workers", WORKERS)
        .sink("out", "file", &["copy"])
        .set("path", &out_path)
        .text();
    let path = write(dir.path(), "file.toml", config);
    let report_path = dir.path().join("report.json");
    let out = sluice()
        .args(["run", "-q", "--report"])
        .arg(&report_path)
        .arg(&path)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let report = read_report(&report_path);
    assert_eq!(u64_of(&report, "events_written"), 50000);
    let peak = u64_of(&report, "peak_in_flight");
    let bound = in_flight_bound();
    assert!(
        peak <= bound,
        "peak_in_flight {peak} exceeds the bound {bound} implied by capacity {CAPACITY}"
    );
}
