//! Criterion benchmarks of the `parse_regex` stage (issue 15) on the loghub
//! HDFS and Apache lines: the `regex` crate as the stage used it, against
//! the straight-line plan the stage now uses for these patterns.
//!
//! ```sh
//! cargo bench --bench parse_regex              # everything (~1 min)
//! cargo bench --bench parse_regex -- hdfs      # one data set
//! ```
//!
//! Per data set (bytes/s of line text, all 2000 lines per iteration):
//! * `before`: what the stage did per line before plans:
//!   `Regex::captures_read`, then the captures escaped byte by byte into a
//!   new `Vec` (the old `write_json_str`);
//! * `captures_read`: the `regex` crate's match alone;
//! * `stage_regex`: the stage without its plan (the `regex` crate, chunked
//!   escapes, one buffer per batch), batches of 256 text events;
//! * `stage`: the stage as built (the plan when the pattern has one).

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use regex::Regex;

use sluice::kit::codec::{self, Codec, Line};
use sluice::kit::event::Event;
use sluice::transforms::parse_regex::{ParseRegex, ParseRegexConfig};
use sluice::transforms::{BatchCtx, PortBuffers, SyncTransform};

const APACHE_LOG: &str = include_str!("../tests/data/loghub/Apache_2k.log");
const HDFS_JSONL: &str = include_str!("../tests/data/loghub/hdfs.jsonl");

const HDFS: &str = r"^(?P<Date>\d{6}) (?P<Time>\d{6}) (?P<Pid>\d+) (?P<Level>\w+) (?P<Component>[^:]+): (?P<Content>.*?)\s*$";
const APACHE: &str = r"^\[(?P<time>[^\]]+)\] \[(?P<level>[a-z]+)\] (?P<content>.*)$";

const BATCH: usize = 256;

/// The raw HDFS_2k.log lines, rebuilt from loghub's structured CSV (the
/// same bytes; `tests/parse_regex_hdfs.rs` checks the file's hash).
fn hdfs_lines() -> Vec<String> {
    HDFS_JSONL
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("jsonl");
            let f = |k: &str| v[k].as_str().expect("string field").to_string();
            let (date, time, pid) = (f("date"), f("time"), f("pid"));
            let (level, component, content) = (f("level"), f("component"), f("content"));
            format!("{date} {time} {pid} {level} {component}: {content}")
        })
        .collect()
}

/// The stage's old JSON string writer, byte by byte.
fn old_write_json_str(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    let mut last = 0;
    for (i, &c) in s.iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\t' => b"\\t",
            b'\r' => b"\\r",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f | 0x7f => {
                out.extend_from_slice(&s[last..i]);
                out.extend_from_slice(format!("\\u{c:04x}").as_bytes());
                last = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&s[last..i]);
        out.extend_from_slice(esc);
        last = i + 1;
    }
    out.extend_from_slice(&s[last..]);
    out.push(b'"');
}

/// The stage's old per-line work: match, then a new `Vec` of JSON.
fn old_line(
    re: &Regex,
    locs: &mut regex::CaptureLocations,
    names: &[(usize, String)],
    s: &str,
) -> Option<Vec<u8>> {
    re.captures_read(locs, s)?;
    let mut json = Vec::with_capacity(s.len() + 16 * names.len());
    json.push(b'{');
    for (n, (i, key)) in names.iter().enumerate() {
        if n > 0 {
            json.push(b',');
        }
        json.extend_from_slice(key.as_bytes());
        json.push(b':');
        match locs.get(*i) {
            Some((a, b)) => old_write_json_str(&s.as_bytes()[a..b], &mut json),
            None => json.extend_from_slice(b"null"),
        }
    }
    json.push(b'}');
    Some(json)
}

fn events(lines: &[String]) -> Vec<Vec<Event>> {
    let all: Vec<Event> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            codec::decode(
                Codec::Text,
                "bench",
                i as u64 + 1,
                Line::Complete(l.as_bytes()),
            )
            .expect("a line")
            .expect("decodes")
        })
        .collect();
    all.chunks(BATCH).map(<[Event]>::to_vec).collect()
}

fn run_stage(stage: &mut ParseRegex, batches: Vec<Vec<Event>>) -> usize {
    let ctx = BatchCtx {
        stage: "parse",
        origin: 1,
        seq: 0,
        seed: 0,
    };
    let mut ok = 0;
    for input in batches {
        let mut out: PortBuffers = vec![Vec::with_capacity(BATCH), Vec::new()];
        stage.process(input, &ctx, &mut out);
        ok += out[0].len();
        black_box(out);
    }
    ok
}

fn bench_set(c: &mut Criterion, name: &str, pattern: &str, lines: &[String]) {
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    let re = Regex::new(pattern).expect("compiles");
    let names: Vec<(usize, String)> = re
        .capture_names()
        .enumerate()
        .filter_map(|(i, n)| n.map(|n| (i, format!("\"{n}\""))))
        .collect();
    let cfg: ParseRegexConfig =
        toml::from_str(&format!("pattern = '''{pattern}'''")).expect("config");
    let mut stage = cfg.build().expect("builds");
    let mut stage_regex = cfg.build_without_plan().expect("builds");
    let batches = events(lines);
    assert_eq!(
        run_stage(&mut stage, batches.clone()),
        lines.len(),
        "every line matches"
    );

    let mut g = c.benchmark_group(format!("parse_regex_{name}"));
    g.throughput(Throughput::Bytes(bytes as u64));
    let mut locs = re.capture_locations();
    g.bench_function("before", |b| {
        b.iter(|| {
            for l in lines {
                black_box(old_line(&re, &mut locs, &names, black_box(l)));
            }
        })
    });
    g.bench_function("captures_read", |b| {
        b.iter(|| {
            for l in lines {
                black_box(re.captures_read(&mut locs, black_box(l)));
            }
        })
    });
    for (label, st) in [("stage_regex", &mut stage_regex), ("stage", &mut stage)] {
        g.bench_function(label, |b| {
            b.iter_batched(
                || batches.clone(),
                |input| run_stage(st, input),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

fn parse_regex(c: &mut Criterion) {
    let apache: Vec<String> = APACHE_LOG.lines().map(str::to_string).collect();
    bench_set(c, "hdfs", HDFS, &hdfs_lines());
    bench_set(c, "apache", APACHE, &apache);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = parse_regex
}
criterion_main!(benches);
