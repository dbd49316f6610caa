//! The `http` sink through the real binary, against a real HTTP service
//! on 127.0.0.1 (`common::upstream`) that injects a peer's failures:
//! 503s, a 429 with `Retry-After`, a reset, a 400, answers slower than the
//! timeout. What counts is measured at the server: which ids arrived in
//! requests it answered 2xx, how many requests it had in flight at once.

mod common;
mod daemon_support;

use std::collections::HashMap;
use std::io::Write as _;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::upstream::{Reply, Seen, Upstream};
use common::{Config, describe, id_lines, raw, read_report, stage, u64_of};
use daemon_support::{Daemon, PATIENCE};
use serde_json::Value;

/// The ids in a request body: NDJSON lines or one JSON array of events.
fn ids(seen: &Seen) -> Vec<u64> {
    let text = seen.text();
    let events: Vec<Value> = if text.starts_with('[') {
        serde_json::from_str::<Vec<Value>>(&text).expect("a JSON array body")
    } else {
        text.lines()
            .map(|l| serde_json::from_str(l).expect("an NDJSON line"))
            .collect()
    };
    events.iter().map(|e| u64_of(e, "id")).collect()
}

/// What the server answered to each request, with the ids it carried.
type Log = Arc<Mutex<Vec<(u16, Vec<u64>)>>>;

/// A service that answers by `script` and logs each answer's status with
/// the request's ids (0 for a reset).
fn recording(script: impl Fn(u64) -> Reply + Send + Sync + 'static) -> (Upstream, Log) {
    let log: Log = Arc::default();
    let kept = log.clone();
    let upstream = Upstream::start(move |seen, n| {
        let reply = script(n);
        let status = match &reply {
            Reply::Status(code, _) | Reply::RetryAfter(code, _) => *code,
            _ => 0,
        };
        kept.lock().unwrap().push((status, ids(seen)));
        reply
    });
    (upstream, log)
}

/// `sluice run -q --report` on `config`; the output and the report.
fn run(dir: &Path, config: &Config, envs: &[(&str, &str)]) -> (Output, Value) {
    let path = config.write(dir, "p.toml");
    let report = dir.join("report.json");
    let mut cmd = common::sluice();
    cmd.args(["run", "-q", "--report"]).arg(&report).arg(&path);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.timeout(PATIENCE).output().expect("sluice runs");
    assert!(out.status.success(), "{}", describe(&out));
    (out, read_report(&report))
}

/// The `line` the checkpoint in `state` holds for `path` of source `app`.
fn checkpoint_line(state: &Path, path: &Path) -> u64 {
    let text = std::fs::read_to_string(state.join("checkpoint.json")).unwrap_or_default();
    let cp: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    cp["sources"]["app"][path.display().to_string()]["line"]
        .as_u64()
        .unwrap_or(0)
}

/// A file source `app` of `n` id lines, checkpointing in `dir/state`.
fn file_source(dir: &Path, n: u64) -> (Config, PathBuf) {
    let input = common::write(dir, "in.jsonl", id_lines(n));
    let config = Config::new()
        .pipeline()
        .set("data_dir", &dir.join("state"))
        .source("app", "file")
        .set("path", &input);
    (config, input)
}

/// Polls `cond` until it holds, at most [`PATIENCE`].
fn eventually(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < deadline, "{what}: not within {PATIENCE:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn twenty_thousand_events_through_503s_a_429_and_a_reset_arrive_once() {
    let dir = tempfile::tempdir().unwrap();
    let (upstream, log) = recording(|n| match n {
        2 | 5 | 9 => Reply::Status(503, "busy".into()),
        7 => Reply::RetryAfter(429, 1),
        12 => Reply::Reset,
        _ => Reply::ok(""),
    });
    let (config, input) = file_source(dir.path(), 20_000);
    let config = config
        .sink("out", "http", &["app"])
        .set("url", upstream.url("/ingest"))
        .set("batch", raw(r#"{ max_events = 250, timeout = "1h" }"#))
        .set(
            "retry",
            raw(r#"{ attempts = 5, initial = "10ms", max = "50ms" }"#),
        );
    let (_, report) = run(dir.path(), &config, &[]);

    let log = log.lock().unwrap();
    let mut delivered: HashMap<u64, usize> = HashMap::new();
    for id in log
        .iter()
        .filter(|(s, _)| *s == 200)
        .flat_map(|(_, ids)| ids)
    {
        *delivered.entry(*id).or_default() += 1;
    }
    assert_eq!(delivered.len(), 20_000, "every id answered 2xx");
    assert!(
        (1..=20_000).all(|i| delivered.get(&i) == Some(&1)),
        "no id twice"
    );
    let refused = log.iter().filter(|(s, _)| *s != 200).count();
    assert_eq!(refused, 5, "three 503s, a 429, a reset: {:?}", log.len());
    let out = stage(&report, "out");
    assert_eq!(u64_of(out, "events_out"), 20_000);
    assert_eq!(u64_of(out, "errors"), 0);
    assert_eq!(u64_of(out, "retries"), 5, "{out}");
    assert!(u64_of(out, "bytes") > 20_000 * 8, "{out}");
    assert_eq!(
        checkpoint_line(&dir.path().join("state"), &input),
        20_000,
        "everything answered 2xx is acknowledged"
    );
}

#[test]
fn a_400_endpoint_sends_every_event_to_errors_with_the_status() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start(|_, _| Reply::Status(400, "bad payload: field `x`".into()));
    let dead = dir.path().join("dead.jsonl");
    let (config, input) = file_source(dir.path(), 1_000);
    let config = config
        .sink("out", "http", &["app"])
        .set("url", upstream.url("/"))
        .set("batch", raw("{ max_events = 100 }"))
        .sink("dead", "file", &["out.errors"])
        .set("path", &dead);
    let (_, report) = run(dir.path(), &config, &[]);

    assert_eq!(upstream.calls(), 10, "a 400 is not retried");
    let errors = common::json_lines(&std::fs::read(&dead).unwrap());
    let mut got: Vec<u64> = errors.iter().map(|e| u64_of(&e["input"], "id")).collect();
    got.sort_unstable();
    assert_eq!(got, (1..=1_000).collect::<Vec<_>>());
    for e in &errors {
        assert_eq!(e["stage"], "out");
        assert_eq!(e["error"], "HTTP 400: bad payload: field `x`", "{e}");
    }
    let out = stage(&report, "out");
    assert_eq!(u64_of(out, "events_out"), 0);
    assert_eq!(u64_of(out, "errors"), 1_000);
    // Dead letters written are deliveries: the source commits them.
    assert_eq!(checkpoint_line(&dir.path().join("state"), &input), 1_000);
}

#[test]
fn refused_events_nobody_takes_from_errors_are_not_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start(|_, _| Reply::Status(422, "no".into()));
    let (config, input) = file_source(dir.path(), 300);
    let config = config
        .sink("out", "http", &["app"])
        .set("url", upstream.url("/"));
    let (out, report) = run(dir.path(), &config, &[]);
    assert_eq!(u64_of(stage(&report, "out"), "errors"), 300);
    assert_eq!(
        checkpoint_line(&dir.path().join("state"), &input),
        0,
        "{}",
        describe(&out)
    );
}

#[test]
fn gzip_json_arrays_are_decoded_at_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start(|_, _| Reply::ok("{}"));
    let (config, _) = file_source(dir.path(), 500);
    let config = config
        .sink("out", "http", &["app"])
        .set("url", upstream.url("/bulk"))
        .set("encoding", "json_array")
        .set("compression", "gzip")
        .set("method", "put")
        .set("batch", raw("{ max_events = 200 }"));
    run(dir.path(), &config, &[]);
    let seen = upstream.seen();
    assert_eq!(seen.len(), 3, "200 + 200 + 100");
    let mut all = Vec::new();
    for s in &seen {
        assert_eq!(s.method, "PUT");
        assert_eq!(s.uri, "/bulk");
        assert_eq!(s.headers["content-encoding"], "gzip");
        assert_eq!(s.headers["content-type"], "application/json");
        assert!(s.text().starts_with('[') && s.text().ends_with(']'));
        all.extend(ids(s));
    }
    all.sort_unstable();
    assert_eq!(all, (1..=500).collect::<Vec<_>>());
}

#[test]
fn ndjson_is_the_default_and_batches_close_at_max_events() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start(|_, _| Reply::ok(""));
    let (config, _) = file_source(dir.path(), 1_000);
    let config = config
        .sink("out", "http", &["app"])
        .set("url", upstream.url("/"))
        .set("batch", raw(r#"{ max_events = 100, timeout = "1h" }"#));
    run(dir.path(), &config, &[]);
    let seen = upstream.seen();
    assert_eq!(seen.len(), 10);
    for s in &seen {
        assert_eq!(s.method, "POST");
        assert_eq!(s.headers["content-type"], "application/x-ndjson");
        assert!(s.headers.get("content-encoding").is_none());
        assert_eq!(ids(s).len(), 100, "a batch closes at max_events");
    }
}

#[test]
fn max_bytes_closes_a_batch_before_it_overflows() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start(|_, _| Reply::ok(""));
    let (config, _) = file_source(dir.path(), 1_000);
    let config = config
        .sink("out", "http", &["app"])
        .set("url", upstream.url("/"))
        .set("batch", raw(r#"{ max_events = 1000, max_bytes = "1KiB" }"#));
    run(dir.path(), &config, &[]);
    let seen = upstream.seen();
    let mut total = 0;
    for s in &seen {
        assert!(s.body.len() <= 1024, "{} bytes", s.body.len());
        total += ids(s).len();
    }
    assert_eq!(total, 1_000);
    assert!(seen.len() >= 10, "{} requests for ~12 KB", seen.len());
}

#[test]
fn headers_read_variables_from_the_environment_and_never_print_them() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start(|_, _| Reply::ok(""));
    let (config, _) = file_source(dir.path(), 10);
    let config = config
        .sink("out", "http", &["app"])
        .set("url", upstream.url("/"))
        .set(
            "headers",
            raw(r#"{ Authorization = "Bearer ${SINK_TOKEN}", X-Tenant = "t-${TENANT}-$$" }"#),
        );
    let path = config.write(dir.path(), "p.toml");
    let mut daemon = Daemon::start(
        &path,
        &["--log-level", "debug"],
        &[("SINK_TOKEN", "s3cr3t-t0ken"), ("TENANT", "acme")],
    );
    let status = daemon.wait();
    assert!(status.success(), "{}", daemon.stderr());
    let seen = upstream.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].headers["authorization"], "Bearer s3cr3t-t0ken");
    assert_eq!(seen[0].headers["x-tenant"], "t-acme-$");
    assert!(!daemon.stderr().contains("s3cr3t"), "{}", daemon.stderr());
}

#[test]
fn an_unset_header_variable_fails_the_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start(|_, _| Reply::ok(""));
    let (config, _) = file_source(dir.path(), 10);
    let path = config
        .sink("out", "http", &["app"])
        .set("url", upstream.url("/"))
        .set(
            "headers",
            raw(r#"{ Authorization = "Bearer ${NO_SUCH_TOKEN_VAR}" }"#),
        )
        .write(dir.path(), "p.toml");
    let out = common::sluice()
        .arg("run")
        .arg(&path)
        .env_remove("NO_SUCH_TOKEN_VAR")
        .timeout(PATIENCE)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`NO_SUCH_TOKEN_VAR` is not set") && stderr.contains("out"),
        "{stderr}"
    );
    assert_eq!(upstream.calls(), 0);
}

#[test]
fn the_concurrency_limit_holds_at_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let upstream =
        Upstream::start(|_, _| Reply::After(Duration::from_millis(40), Box::new(Reply::ok(""))));
    let (config, _) = file_source(dir.path(), 3_000);
    let config = config
        .sink("out", "http", &["app"])
        .set("url", upstream.url("/"))
        .set("concurrency", 3)
        .set("batch", raw("{ max_events = 100 }"));
    let (_, report) = run(dir.path(), &config, &[]);
    assert_eq!(u64_of(stage(&report, "out"), "events_out"), 3_000);
    assert_eq!(upstream.calls(), 30);
    let most = upstream.max_in_flight();
    assert!(most <= 3, "{most} requests in flight at once");
    assert!(most >= 2, "requests did overlap: {most}");
}

#[test]
fn a_slow_upstream_is_retried_then_its_events_go_to_errors() {
    let dir = tempfile::tempdir().unwrap();
    let upstream =
        Upstream::start(|_, _| Reply::After(Duration::from_secs(3), Box::new(Reply::ok(""))));
    let dead = dir.path().join("dead.jsonl");
    let (config, _) = file_source(dir.path(), 20);
    let config = config
        .sink("out", "http", &["app"])
        .set("url", upstream.url("/"))
        .set("timeout", "200ms")
        .set(
            "retry",
            raw(r#"{ attempts = 3, initial = "10ms", max = "20ms" }"#),
        )
        .sink("dead", "file", &["out.errors"])
        .set("path", &dead);
    let (_, report) = run(dir.path(), &config, &[]);
    assert_eq!(upstream.calls(), 3, "three tries of the one batch");
    let errors = common::json_lines(&std::fs::read(&dead).unwrap());
    assert_eq!(errors.len(), 20);
    let reason = errors[0]["error"].as_str().unwrap();
    assert!(
        reason.contains("timeout after 200ms") && reason.contains("3 tries"),
        "{reason}"
    );
    assert_eq!(u64_of(stage(&report, "out"), "retries"), 3);
}

/// A daemon reading JSON lines on TCP into an `http` sink: the daemon,
/// the connection to its source and its metrics address.
fn tcp_daemon(dir: &Path, sink: Config) -> (Daemon, TcpStream, std::net::SocketAddr) {
    let config = Config::new()
        .pipeline()
        .set("metrics_address", "127.0.0.1:0")
        .source("in", "tcp")
        .set("address", "127.0.0.1:0")
        .raw(&sink.text())
        .write(dir, "p.toml");
    let daemon = Daemon::start(
        &config,
        &["--report", &dir.join("report.json").display().to_string()],
        &[],
    );
    let client = TcpStream::connect(daemon.listen_address("in", "tcp")).unwrap();
    let metrics = daemon.metrics_address();
    (daemon, client, metrics)
}

#[test]
fn a_quiet_input_is_sent_after_batch_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start(|_, _| Reply::ok(""));
    let sink = Config::new()
        .sink("out", "http", &["in"])
        .set("url", upstream.url("/"))
        .set("batch", raw(r#"{ max_events = 1000, timeout = "200ms" }"#));
    let (mut daemon, mut client, _) = tcp_daemon(dir.path(), sink);
    client.write_all(id_lines(5).as_bytes()).unwrap();
    let sent = Instant::now();
    eventually("the 5 events were sent after batch.timeout", || {
        upstream.calls() == 1
    });
    assert!(sent.elapsed() >= Duration::from_millis(200));
    assert_eq!(ids(&upstream.seen()[0]), vec![1, 2, 3, 4, 5]);
    drop(client);
    let status = daemon.terminate();
    assert!(status.success(), "{}", daemon.stderr());
    assert_eq!(upstream.calls(), 1);
}

#[test]
fn sigterm_sends_the_partial_batch_and_waits_for_requests_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let upstream =
        Upstream::start(|_, _| Reply::After(Duration::from_millis(1500), Box::new(Reply::ok(""))));
    let sink = Config::new()
        .sink("out", "http", &["in"])
        .set("url", upstream.url("/"))
        .set("batch", raw(r#"{ max_events = 5, timeout = "1h" }"#));
    let (mut daemon, mut client, metrics) = tcp_daemon(dir.path(), sink);
    client.write_all(id_lines(7).as_bytes()).unwrap();
    // Five went out at once (a full batch); two wait for a batch.timeout
    // of an hour.
    daemon_support::wait_metric(metrics, "sluice_events_in_total", "out", |v| v == 7.0);
    eventually("the full batch is in flight", || upstream.calls() == 1);
    let status = daemon.terminate();
    assert!(status.success(), "{}", daemon.stderr());
    let mut got: Vec<u64> = upstream.seen().iter().flat_map(ids).collect();
    got.sort_unstable();
    assert_eq!(got, (1..=7).collect::<Vec<_>>());
    // Counted as written only on the 2xx: the exit waited for both answers.
    let report = read_report(&dir.path().join("report.json"));
    assert_eq!(u64_of(stage(&report, "out"), "events_out"), 7);
}

#[test]
fn check_names_each_bad_setting() {
    let dir = tempfile::tempdir().unwrap();
    let path = Config::new()
        .source("app", "stdin")
        .sink("out", "http", &["app"])
        .set("url", "ftp://example/")
        .set("concurrency", 0)
        .set("batch", raw(r#"{ max_events = 0, max_bytes = "2GiB" }"#))
        .set("headers", raw(r#"{ Authorization = "Bearer ${OPEN" }"#))
        .write(dir.path(), "p.toml");
    let out = common::sluice().arg("check").arg(&path).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "http:// or https://",
        "`concurrency` must be between 1 and",
        "`batch.max_events` must be between 1 and",
        "`batch.max_bytes` must be between 1 and",
        "`headers.Authorization`: `${` without its closing `}`",
    ] {
        assert!(stderr.contains(needle), "{needle:?} not in:\n{stderr}");
    }
}

#[test]
fn an_ordered_sink_needs_one_request_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let (config, _) = file_source(dir.path(), 1);
    let path = config
        .sink("out", "http", &["app"])
        .set("url", "http://127.0.0.1:9/")
        .set("ordered", true)
        .write(dir.path(), "p.toml");
    let out = common::sluice().arg("run").arg(&path).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("needs `concurrency = 1`"), "{stderr}");
}
