//! Scaling out on Redis Streams, through the real binary and a real
//! redis-server: daemons sharing a consumer group, one killed with SIGKILL,
//! Redis restarted mid-stream, max_deliveries, shutdown, and the sink.

mod common;
mod daemon_support;
mod redis_support;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Config, raw};
use daemon_support::Daemon;
use redis_support::{Redis, consumer_config, line_count, numbers, wait_until};

const STREAM: &str = "events";
const GROUP: &str = "workers";

/// Number of consumers the group has registered.
fn consumers(redis: &Redis) -> usize {
    let reply: redis::RedisResult<Vec<redis::Value>> = redis::cmd("XINFO")
        .arg("CONSUMERS")
        .arg(STREAM)
        .arg(GROUP)
        .query(&mut redis.conn());
    reply.map(|v| v.len()).unwrap_or(0)
}

/// Union of the numbers in `outs`, total lines and per-file counts.
fn union(outs: &[PathBuf]) -> (HashSet<u64>, usize, Vec<usize>) {
    let mut all = HashSet::new();
    let mut total = 0;
    let mut per = Vec::new();
    for o in outs {
        let ns = numbers(o);
        total += ns.len();
        per.push(ns.len());
        all.extend(ns);
    }
    (all, total, per)
}

fn start_daemons(
    redis: &Redis,
    dir: &Path,
    names: &[&str],
    extra: impl Fn(&str) -> String,
) -> (Vec<Daemon>, Vec<PathBuf>) {
    let mut daemons = Vec::new();
    let mut outs = Vec::new();
    for name in names {
        let out = dir.join(format!("{name}.jsonl"));
        let cfg = consumer_config(dir, name, &redis.url(), STREAM, name, &out, &extra(name));
        daemons.push(Daemon::start(&cfg, &[], &[]));
        outs.push(out);
    }
    // At least: a test may start more daemons into a group that has some.
    wait_until("every daemon registered in the group", || {
        consumers(redis) >= names.len()
    });
    (daemons, outs)
}

#[test]
fn three_daemons_share_one_stream_and_deliver_every_entry() {
    const N: u64 = 30_000;
    let redis = Redis::start();
    let dir = tempfile::tempdir().unwrap();
    let (mut daemons, outs) =
        start_daemons(&redis, dir.path(), &["a", "b", "c"], |_| String::new());
    redis.fill(STREAM, 0..N);
    wait_until("every entry written and acknowledged", || {
        outs.iter().map(|o| line_count(o)).sum::<usize>() >= N as usize
            && redis.pending_total(STREAM, GROUP) == 0
    });
    for d in &mut daemons {
        assert!(d.terminate().success(), "stderr:\n{}", d.stderr());
    }
    let (all, total, per) = union(&outs);
    assert_eq!(all.len() as u64, N, "every entry is in the union");
    assert!(all.iter().all(|n| *n < N));
    eprintln!("shares {per:?}, duplicates {}", total - all.len());
    for (n, o) in per.iter().zip(&outs) {
        assert!(
            *n as u64 >= N / 20,
            "{} took only {n} of {N} entries: {per:?}",
            o.display()
        );
    }
    assert_eq!(redis.pending_total(STREAM, GROUP), 0);
}

#[test]
fn a_killed_daemons_pending_entries_are_claimed_by_the_others() {
    const N: u64 = 30_000;
    let redis = Redis::start();
    let dir = tempfile::tempdir().unwrap();
    // `b` is slow (2ms per event) and reads 1 000 entries at a time, so
    // once it has written some it holds hundreds read but unacknowledged
    // for seconds. It starts alone and `a` and `c` only once it holds
    // entries: started together on a loaded machine, the fast two could
    // drain the stream before `b` read anything.
    let extra = |name: &str| {
        let (slow, batch) = if name == "b" {
            (
                "\n[transforms.slow]\ntype = \"delay\"\ninputs = [\"in\"]\nduration = \"2ms\"\n",
                1000,
            )
        } else {
            ("", 100)
        };
        format!("claim_idle = \"1s\"\nbatch_size = {batch}\n{slow}")
    };
    let (mut daemons, mut outs) = start_daemons(&redis, dir.path(), &["b"], extra);
    redis.fill(STREAM, 0..N);
    wait_until("b wrote some entries and holds others", || {
        line_count(&outs[0]) >= 20
            && redis.pending(STREAM, GROUP).get("b").copied().unwrap_or(0) > 0
    });
    let (others, other_outs) = start_daemons(&redis, dir.path(), &["a", "c"], extra);
    daemons.extend(others);
    outs.extend(other_outs);
    let b = daemons.remove(0);
    let stranded = redis.pending(STREAM, GROUP).get("b").copied().unwrap_or(0);
    b.signal("KILL");
    assert!(stranded > 0, "b held no pending entries when killed");
    wait_until(
        "every entry written and acknowledged after the claim",
        || {
            let (all, _, _) = union(&outs);
            all.len() as u64 >= N && redis.pending_total(STREAM, GROUP) == 0
        },
    );
    drop(b);
    for d in &mut daemons {
        assert!(d.terminate().success(), "stderr:\n{}", d.stderr());
    }
    let claimed = daemons
        .iter()
        .filter(|d| d.stderr().contains("claimed"))
        .count();
    assert!(claimed >= 1, "nobody claimed b's entries");
    let (all, total, per) = union(&outs);
    assert_eq!(all.len() as u64, N, "every entry is in the union");
    eprintln!(
        "b left {stranded} pending entries at SIGKILL; shares {per:?}; duplicates {}",
        total - all.len()
    );
}

#[test]
fn redis_restarted_mid_stream_loses_nothing() {
    const N: u64 = 30_000;
    let mut redis = Redis::start();
    let dir = tempfile::tempdir().unwrap();
    // Slowed down (1ms per event, 4 workers) so that the restart lands
    // mid-stream; every event also goes to stream `copy` through the sink.
    let url = redis.url();
    let (mut daemons, outs) = start_daemons(&redis, dir.path(), &["a", "b"], |_| {
        format!(
            "batch_size = 200\n\n[transforms.slow]\ntype = \"delay\"\ninputs = [\"in\"]\nduration = \"1ms\"\nworkers = 4\n\n\
             [sinks.copy]\ntype = \"redis_stream\"\ninputs = [\"slow\"]\nurl = \"{url}\"\nstream = \"copy\"\n"
        )
    });
    redis.fill(STREAM, 0..N);
    wait_until("some entries written", || {
        outs.iter().map(|o| line_count(o)).sum::<usize>() >= 2_000
    });
    redis.restart();
    let written = outs.iter().map(|o| line_count(o)).sum::<usize>();
    assert!(
        written < N as usize,
        "the restart came after the end ({written} lines)"
    );
    assert_eq!(redis.xlen(STREAM), N, "the stream survived the restart");
    wait_until(
        "every entry written and acknowledged after the restart",
        || {
            let (all, _, _) = union(&outs);
            all.len() as u64 >= N && redis.pending_total(STREAM, GROUP) == 0
        },
    );
    for d in &mut daemons {
        assert!(d.terminate().success(), "stderr:\n{}", d.stderr());
    }
    let reconnected = daemons
        .iter()
        .filter(|d| d.stderr().contains("connected to redis after"))
        .count();
    assert!(reconnected >= 1, "no daemon logged a reconnect");
    let (all, total, _) = union(&outs);
    assert_eq!(all.len() as u64, N);
    // The sink reconnected too: the copy holds every entry.
    let copied: HashSet<String> = redis.xrange_data("copy").into_iter().collect();
    let expected: HashSet<String> = (0..N).map(|i| format!("{{\"n\":{i}}}")).collect();
    assert_eq!(copied, expected);
    eprintln!(
        "restart at {written} lines; duplicates {}",
        total - all.len()
    );
}

#[test]
fn sigterm_returns_once_every_read_entry_is_acknowledged() {
    const N: u64 = 5_000;
    let redis = Redis::start();
    let dir = tempfile::tempdir().unwrap();
    let (mut daemons, outs) = start_daemons(&redis, dir.path(), &["a"], |_| {
        "batch_size = 50\n\n[transforms.slow]\ntype = \"delay\"\ninputs = [\"in\"]\nduration = \"1ms\"\n".into()
    });
    redis.fill(STREAM, 0..N);
    wait_until("some entries written", || line_count(&outs[0]) >= 100);
    let mut d = daemons.pop().unwrap();
    assert!(d.terminate().success(), "stderr:\n{}", d.stderr());
    let written = numbers(&outs[0]);
    assert!((written.len() as u64) < N, "stopped after the end");
    assert_eq!(
        redis.pending_total(STREAM, GROUP),
        0,
        "every entry read was delivered and acknowledged"
    );
    // What was acknowledged is exactly what was written, in order.
    let expected: Vec<u64> = (0..written.len() as u64).collect();
    assert_eq!(written, expected);
}

#[test]
fn entries_over_max_deliveries_go_to_the_error_output() {
    let redis = Redis::start();
    let dir = tempfile::tempdir().unwrap();
    redis.fill(STREAM, 0..3);
    redis.cli(&["XGROUP", "CREATE", STREAM, GROUP, "0"]);
    // A consumer that keeps failing: 3 deliveries each, never acknowledged.
    redis.cli(&[
        "XREADGROUP",
        "GROUP",
        GROUP,
        "ghost",
        "STREAMS",
        STREAM,
        ">",
    ]);
    redis.cli(&[
        "XREADGROUP",
        "GROUP",
        GROUP,
        "ghost",
        "STREAMS",
        STREAM,
        "0",
    ]);
    redis.cli(&[
        "XREADGROUP",
        "GROUP",
        GROUP,
        "ghost",
        "STREAMS",
        STREAM,
        "0",
    ]);
    // And one entry that is not JSON, one without the field.
    redis.cli(&["XADD", STREAM, "*", "data", "{nope"]);
    redis.cli(&["XADD", STREAM, "*", "host", "h1", "msg", "hi"]);
    let out = dir.path().join("out.jsonl");
    let errors = dir.path().join("errors.jsonl");
    let cfg = consumer_config(
        dir.path(),
        "a",
        &redis.url(),
        STREAM,
        "a",
        &out,
        &format!(
            "claim_idle = \"100ms\"\nmax_deliveries = 3\n\n[sinks.errors]\ntype = \"file\"\ninputs = [\"in.errors\"]\npath = \"{}\"\n",
            errors.display()
        ),
    );
    let mut d = Daemon::start(&cfg, &[], &[]);
    wait_until("every entry handled and acknowledged", || {
        line_count(&errors) >= 4 && redis.pending_total(STREAM, GROUP) == 0
    });
    assert!(d.terminate().success(), "stderr:\n{}", d.stderr());
    let good = std::fs::read_to_string(&out).unwrap();
    assert_eq!(good, "{\"host\":\"h1\",\"msg\":\"hi\"}\n");
    let errs = std::fs::read_to_string(&errors).unwrap();
    let lines: Vec<serde_json::Value> = errs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{errs}");
    let over: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|e| e["error"].as_str().unwrap().contains("max_deliveries"))
        .collect();
    assert_eq!(over.len(), 3, "{errs}");
    let mut ns: Vec<u64> = over
        .iter()
        .map(|e| e["input"]["n"].as_u64().unwrap())
        .collect();
    ns.sort();
    assert_eq!(ns, [0, 1, 2]);
    assert!(over.iter().all(|e| e["stage"] == "in"));
    let bad: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|e| e["error"].as_str().unwrap().contains("invalid JSON"))
        .collect();
    assert_eq!(bad.len(), 1, "{errs}");
    assert_eq!(bad[0]["input"], "{nope");
}

#[test]
fn the_sink_writes_entries_readable_by_xrange() {
    let redis = Redis::start();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let lines: Vec<String> = (0..5_000)
        .map(|i| format!("{{\"n\":{i},\"msg\":\"m{i}\"}}"))
        .collect();
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let cfg = dir.path().join("sink.toml");
    std::fs::write(
        &cfg,
        Config::new()
            .source("in", "file")
            .set("path", &input)
            .transform("pick", "jq", &["in"])
            .set("program", "{n, msg}")
            .sink("all", "redis_stream", &["pick"])
            .set("url", redis.url())
            .set("stream", "copy")
            .sink("trimmed", "redis_stream", &["in"])
            .set("url", redis.url())
            .set("stream", "trimmed")
            .set("maxlen", 100)
            .text(),
    )
    .unwrap();
    let status = Command::new(assert_cmd::cargo::cargo_bin("sluice"))
        .arg("run")
        .arg(&cfg)
        .arg("-q")
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(redis.xrange_data("copy"), lines);
    let trimmed = redis.xlen("trimmed");
    assert!(
        (100..5_000).contains(&trimmed),
        "MAXLEN ~ 100 left {trimmed} entries"
    );
    let tail = redis.xrange_data("trimmed");
    assert_eq!(tail.last(), lines.last());
}

#[test]
fn the_sink_retries_then_sends_to_errors_when_redis_is_down() {
    let dir = tempfile::tempdir().unwrap();
    // A port with nobody listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, "{\"n\":1}\n{\"n\":2}\n").unwrap();
    let errors = dir.path().join("errors.jsonl");
    let cfg = dir.path().join("down.toml");
    std::fs::write(
        &cfg,
        Config::new()
            .source("in", "file")
            .set("path", &input)
            .sink("r", "redis_stream", &["in"])
            .set("url", format!("redis://127.0.0.1:{port}"))
            .set("stream", "s")
            .set(
                "retry",
                raw(r#"{ attempts = 3, initial = "10ms", max = "20ms" }"#),
            )
            .sink("err", "file", &["r.errors"])
            .set("path", &errors)
            .text(),
    )
    .unwrap();
    let status = Command::new(assert_cmd::cargo::cargo_bin("sluice"))
        .arg("run")
        .arg(&cfg)
        .arg("-q")
        .status()
        .unwrap();
    assert!(status.success());
    let errs = std::fs::read_to_string(&errors).unwrap();
    let lines: Vec<serde_json::Value> = errs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{errs}");
    assert_eq!(lines[0]["input"]["n"], 1);
    assert_eq!(lines[0]["stage"], "r");
    assert!(lines[0]["error"].as_str().unwrap().contains("XADD"));
}

#[test]
fn check_reports_bad_redis_settings() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(
        &cfg,
        r#"[sources.in]
type = "redis_stream"
url = "http://nope"
stream = "s"
group = "g"
batch_size = 0
max_deliveries = 0

[sinks.out]
type = "redis_stream"
inputs = ["in"]
url = "redis://127.0.0.1:6379"
stream = ""
"#,
    )
    .unwrap();
    let out = Command::new(assert_cmd::cargo::cargo_bin("sluice"))
        .arg("check")
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in ["`url`", "`batch_size`", "`max_deliveries`", "`stream`"] {
        assert!(err.contains(needle), "no {needle} in:\n{err}");
    }
    let ok = Command::new(assert_cmd::cargo::cargo_bin("sluice"))
        .arg("check")
        .arg("config/scale-out.toml")
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}
