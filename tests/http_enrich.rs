//! `http_enrich` through the real binary against a real HTTP service on
//! 127.0.0.1 (`common::upstream`): order with 8 workers, the cache and
//! coalesced misses counted at the server, the stage-wide concurrency limit
//! measured at the server, timeouts and `on_error` both ways, retried 503,
//! 429 and resets, a refused 400, URL encoding, POST bodies, the counters
//! in the report and `/metrics`, and bad settings caught by `check`.

mod common;
mod daemon_support;

use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use common::upstream::{Reply, Seen, Upstream};
use common::{Config, json_lines, raw, read_report, sluice, stage, u64_of};
use serde_json::{Value, json};

/// What one run left: stdout's events, the errors file's events, the report.
struct Run {
    out: Vec<Value>,
    errors: Vec<Value>,
    report: Value,
    stderr: String,
}

/// stdin → `enrich` (http_enrich calling `url`, with `settings` as TOML
/// lines) → stdout in order; `enrich.errors` → a file.
fn pipeline(dir: &Path, url: &str, settings: &str) -> std::path::PathBuf {
    Config::new()
        .pipeline()
        .set("capacity", 64)
        .source("in", "stdin")
        .transform("enrich", "http_enrich", &["in"])
        .set("url", url)
        .raw(settings)
        .sink("out", "stdout", &["enrich"])
        .set("ordered", true)
        .sink("errs", "file", &["enrich.errors"])
        .set("path", &dir.join("errors.jsonl"))
        .write(dir, "p.toml")
}

fn run(url: &str, settings: &str, input: &str) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let config = pipeline(dir.path(), url, settings);
    let report = dir.path().join("report.json");
    let out = sluice()
        .arg("run")
        .arg(&config)
        .arg("--report")
        .arg(&report)
        .write_stdin(input.to_string())
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    let errors = std::fs::read(dir.path().join("errors.jsonl")).unwrap_or_default();
    Run {
        out: json_lines(&out.stdout),
        errors: json_lines(&errors),
        report: read_report(&report),
        stderr,
    }
}

/// The stage's own counter `name` in the report.
fn counter(r: &Run, name: &str) -> u64 {
    let st = stage(&r.report, "enrich");
    u64_of(&st["counters"], name)
}

/// The last segment of the request's path.
fn last_segment(seen: &Seen) -> String {
    seen.uri.rsplit('/').next().unwrap_or_default().to_string()
}

/// `{"id":1,"k":K(1)}` … lines.
fn lines(n: u64, k: impl Fn(u64) -> u64) -> String {
    (1..=n)
        .map(|i| format!("{{\"id\":{i},\"k\":{}}}\n", k(i)))
        .collect()
}

#[test]
fn events_leave_in_order_with_eight_workers() {
    // Answers take 0–12 ms in a scattered pattern, so later calls often
    // finish first.
    let up = Upstream::start(|seen, n| {
        let id = last_segment(seen);
        let wait = Duration::from_millis((n * 7919) % 13);
        Reply::After(wait, Box::new(Reply::ok(format!("{{\"echo\":{id}}}"))))
    });
    let r = run(
        &up.url("/items/{.id}"),
        "workers = 8\nconcurrency = 32",
        &lines(2000, |i| i),
    );
    let ids: Vec<u64> = r.out.iter().map(|v| u64_of(v, "id")).collect();
    assert_eq!(ids, (1..=2000).collect::<Vec<_>>(), "{}", r.stderr);
    for v in &r.out {
        assert_eq!(v["http"]["echo"], v["id"], "{v}");
    }
    assert_eq!(up.calls(), 2000);
    assert_eq!(counter(&r, "http_requests"), 2000);
    assert!(r.errors.is_empty());
}

#[test]
fn the_cache_spares_repeated_calls() {
    let up = Upstream::start(|seen, _| Reply::ok(format!("{{\"k\":{}}}", last_segment(seen))));
    let r = run(
        &up.url("/k/{.k}"),
        "workers = 2\ncache = { ttl = \"60s\", max_entries = 100 }",
        &lines(1000, |i| i % 10),
    );
    assert_eq!(up.calls(), 10, "one call per distinct key");
    assert_eq!(r.out.len(), 1000);
    for v in &r.out {
        assert_eq!(v["http"]["k"], v["k"], "{v}");
    }
    assert_eq!(counter(&r, "http_requests"), 10);
    assert_eq!(counter(&r, "http_cache_hits"), 990);
}

#[test]
fn concurrent_misses_for_one_key_make_one_call() {
    // A ttl this short caches nothing for later lookups: every lookup of
    // the one batch (64 events, the edges' batch here) starts before the
    // answer, so only coalescing can keep them to one call.
    let up = Upstream::start(|_, _| {
        Reply::After(Duration::from_millis(300), Box::new(Reply::ok("{\"v\":1}")))
    });
    let r = run(
        &up.url("/same"),
        "cache = { ttl = \"1ms\" }",
        &lines(64, |_| 0),
    );
    assert_eq!(up.calls(), 1, "{}", r.stderr);
    assert_eq!(r.out.len(), 64);
    assert!(r.out.iter().all(|v| v["http"] == json!({"v": 1})));
    assert_eq!(counter(&r, "http_cache_hits"), 63);
}

#[test]
fn the_concurrency_limit_holds_for_the_whole_stage() {
    let up = Upstream::start_with(
        |_, _| Reply::After(Duration::from_millis(10), Box::new(Reply::ok("{}"))),
        false,
    );
    let r = run(
        &up.url("/x/{.id}"),
        "workers = 4\nconcurrency = 5",
        &lines(600, |i| i),
    );
    assert_eq!(r.out.len(), 600);
    let most = up.max_in_flight();
    assert!((2..=5).contains(&most), "max in flight {most}, limit 5");
}

#[test]
fn one_worker_keeps_many_requests_in_flight() {
    let up =
        Upstream::start(|_, _| Reply::After(Duration::from_millis(100), Box::new(Reply::ok("{}"))));
    let r = run(&up.url("/x/{.id}"), "concurrency = 16", &lines(64, |i| i));
    assert_eq!(r.out.len(), 64);
    assert_eq!(
        up.max_in_flight(),
        16,
        "one worker, a batch of 64, 16 permits"
    );
}

/// Every third id answers after 3 s, past the 200 ms timeout.
fn slow_thirds() -> Upstream {
    Upstream::start(|seen, _| {
        let id: u64 = last_segment(seen).parse().unwrap_or(0);
        let ok = Box::new(Reply::ok(format!("{{\"id\":{id}}}")));
        if id.is_multiple_of(3) {
            Reply::After(Duration::from_secs(3), ok)
        } else {
            *ok
        }
    })
}

const FAST_TIMEOUT: &str =
    "timeout = \"200ms\"\nretry = { attempts = 2, initial = \"10ms\", max = \"10ms\" }";

#[test]
fn a_timed_out_call_sends_the_event_to_errors() {
    let up = slow_thirds();
    let r = run(&up.url("/u/{.id}"), FAST_TIMEOUT, &lines(30, |i| i));
    let ok: Vec<u64> = r.out.iter().map(|v| u64_of(v, "id")).collect();
    assert_eq!(ok, (1..=30).filter(|i| i % 3 != 0).collect::<Vec<_>>());
    assert_eq!(r.errors.len(), 10, "{:?}", r.errors);
    for e in &r.errors {
        assert_eq!(e["stage"], "enrich");
        assert_eq!(
            e["error"], "timeout after 200ms (gave up after 2 tries)",
            "{e}"
        );
        assert_eq!(u64_of(&e["input"], "id") % 3, 0, "{e}");
    }
    assert_eq!(counter(&r, "http_failures"), 10);
    assert_eq!(counter(&r, "http_retries"), 10);
    assert_eq!(u64_of(stage(&r.report, "enrich"), "errors"), 10);
}

#[test]
fn on_error_keep_sends_the_event_on_with_null() {
    let up = slow_thirds();
    let settings = format!("{FAST_TIMEOUT}\non_error = \"keep\"\ntarget = \"user\"");
    let r = run(&up.url("/u/{.id}"), &settings, &lines(30, |i| i));
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let ids: Vec<u64> = r.out.iter().map(|v| u64_of(v, "id")).collect();
    assert_eq!(ids, (1..=30).collect::<Vec<_>>());
    for v in &r.out {
        let id = u64_of(v, "id");
        let want = if id.is_multiple_of(3) {
            Value::Null
        } else {
            json!({ "id": id })
        };
        assert_eq!(v["user"], want, "{v}");
        assert!(v.get("http").is_none());
    }
}

#[test]
fn a_503_then_200_is_retried() {
    let up = Upstream::start(|_, n| match n {
        0 => Reply::Status(503, "busy".into()),
        _ => Reply::ok("{\"ok\":true}"),
    });
    let r = run(&up.url("/a"), "", "{\"id\":1}\n");
    assert_eq!(r.out, vec![json!({"id": 1, "http": {"ok": true}})]);
    assert_eq!(up.calls(), 2);
    assert_eq!(counter(&r, "http_requests"), 2);
    assert_eq!(counter(&r, "http_retries"), 1);
    assert_eq!(counter(&r, "http_failures"), 0);
}

#[test]
fn a_reset_and_a_429_with_retry_after_are_retried() {
    let up = Upstream::start(|_, n| match n {
        0 => Reply::Reset,
        1 => Reply::RetryAfter(429, 1),
        _ => Reply::ok("{\"ok\":true}"),
    });
    let started = Instant::now();
    let r = run(&up.url("/a"), "", "{\"id\":1}\n");
    assert_eq!(r.out, vec![json!({"id": 1, "http": {"ok": true}})]);
    assert_eq!(up.calls(), 3);
    assert_eq!(counter(&r, "http_retries"), 2);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was honoured"
    );
}

#[test]
fn a_400_goes_to_errors_with_the_status_and_no_retry() {
    let up = Upstream::start(|_, _| Reply::Status(400, "no such user".into()));
    let r = run(&up.url("/u/{.id}"), "", &lines(5, |i| i));
    assert!(r.out.is_empty());
    assert_eq!(up.calls(), 5, "a 400 is not retried");
    let ids: Vec<u64> = r.errors.iter().map(|e| u64_of(&e["input"], "id")).collect();
    assert_eq!(ids, vec![1, 2, 3, 4, 5]);
    for e in &r.errors {
        assert_eq!(e["error"], "HTTP 400: no such user", "{e}");
        assert_eq!(e["stage"], "enrich");
    }
    assert_eq!(counter(&r, "http_failures"), 5);
}

#[test]
fn values_are_url_encoded_and_unusable_events_fail_without_a_call() {
    let up = Upstream::start(|seen, _| Reply::ok(format!("{{\"path\":\"{}\"}}", seen.uri)));
    let input = concat!(
        "{\"u\":\"a b/c?d\"}\n",
        "{\"u\":42}\n",
        "{\"u\":1.50}\n",
        "{\"other\":1}\n",
        "\"just a string\"\n",
        "{\"u\":{\"nested\":1}}\n",
    );
    let r = run(&up.url("/users/{.u}?q={.u}"), "", input);
    let mut uris: Vec<String> = up.seen().into_iter().map(|s| s.uri).collect();
    uris.sort();
    assert_eq!(
        uris,
        vec![
            "/users/1.50?q=1.50",
            "/users/42?q=42",
            "/users/a%20b%2Fc%3Fd?q=a%20b%2Fc%3Fd",
        ]
    );
    assert_eq!(r.out.len(), 3);
    assert_eq!(
        r.out[0]["http"]["path"],
        "/users/a%20b%2Fc%3Fd?q=a%20b%2Fc%3Fd"
    );
    let reasons: Vec<&str> = r
        .errors
        .iter()
        .map(|e| e["error"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        vec![
            "url placeholder {.u}: no value in the event",
            "cannot set field \"http\" on a string: the event is not an object",
            "url placeholder {.u}: is an object, not a string or a number",
        ]
    );
}

#[test]
fn a_post_sends_the_body_program_and_caches_by_body() {
    let up = Upstream::start(|seen, _| Reply::ok(format!("{{\"got\":{}}}", seen.text())));
    let settings = "method = \"post\"\nbody = '{user: .u}'\ntarget = \"profile\"\ncache = {}";
    let r = run(
        &up.url("/lookup"),
        settings,
        "{\"u\":\"x\"}\n{\"u\":\"y\"}\n{\"u\":\"x\"}\n",
    );
    assert_eq!(up.calls(), 2, "same URL, two bodies");
    let seen = up.seen();
    assert!(seen.iter().all(|s| s.method == "POST"));
    assert!(
        seen.iter()
            .all(|s| s.headers.get("content-type").unwrap() == "application/json")
    );
    let got: Vec<&Value> = r.out.iter().map(|v| &v["profile"]["got"]["user"]).collect();
    assert_eq!(got, vec!["x", "y", "x"]);
}

#[test]
fn the_counters_are_in_metrics_and_match_the_report() {
    use daemon_support::{Daemon, metric, wait_metric};
    let up = Upstream::start(|seen, _| Reply::ok(format!("{{\"k\":{}}}", last_segment(seen))));
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let config = Config::new()
        .pipeline()
        .set("metrics_address", "127.0.0.1:0")
        .source("in", "tcp")
        .set("address", "127.0.0.1:0")
        .transform("enrich", "http_enrich", &["in"])
        .set("url", up.url("/k/{.k}"))
        .set("cache", raw("{ max_entries = 100 }"))
        .sink("out", "blackhole", &["enrich"])
        .write(dir.path(), "p.toml");
    let mut daemon = Daemon::start(&config, &["--report", report.to_str().unwrap()], &[]);
    let addr = daemon.listen_address("in", "tcp");
    let metrics = daemon.metrics_address();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(lines(50, |i| i % 5).as_bytes()).unwrap();
    drop(s);
    let scraped = wait_metric(metrics, "sluice_events_out_total", "enrich", |v| v == 50.0);
    let status = daemon.terminate();
    assert!(status.success(), "{}", daemon.stderr());
    assert_eq!(
        metric(&scraped, "sluice_http_requests_total", "enrich"),
        Some(5.0)
    );
    assert_eq!(
        metric(&scraped, "sluice_http_cache_hits_total", "enrich"),
        Some(45.0)
    );
    assert_eq!(
        metric(&scraped, "sluice_http_failures_total", "enrich"),
        Some(0.0)
    );
    assert_eq!(
        metric(&scraped, "sluice_http_request_seconds_count", "enrich"),
        Some(5.0)
    );
    assert!(scraped.contains("# TYPE sluice_http_request_seconds histogram"));
    let r = read_report(&report);
    let st = stage(&r, "enrich");
    assert_eq!(u64_of(&st["counters"], "http_requests"), 5);
    assert_eq!(u64_of(&st["counters"], "http_cache_hits"), 45);
    assert!(
        st["timings_ms"]["http_request"]["p99_ms"].is_number(),
        "{st}"
    );
    assert!(
        daemon.stderr().contains("enrich: http_cache_hits 45"),
        "{}",
        daemon.stderr()
    );
}

#[test]
fn check_names_each_bad_setting() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::new()
        .source("in", "stdin")
        .transform("enrich", "http_enrich", &["in"])
        .set("url", "http://h/{user_id}")
        .set("method", "fetch")
        .set("concurrency", 0)
        .set("body", "{a: .b")
        .set("retry", raw("{ attempts = 0 }"))
        .sink("out", "stdout", &["enrich"])
        .write(dir.path(), "p.toml");
    let out = sluice().arg("check").arg(&config).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for want in [
        "p.toml:7:7: transform `enrich`: `url`: placeholder `{user_id}`: a path starts with `.`",
        "unknown `method` \"fetch\"",
        "concurrency",
        "invalid jq program",
        "retry.attempts",
    ] {
        assert!(stderr.contains(want), "missing {want:?} in:\n{stderr}");
    }
    let scheme = Config::new()
        .source("in", "stdin")
        .transform("enrich", "http_enrich", &["in"])
        .set("url", "ftp://h/{.a}")
        .sink("out", "stdout", &["enrich"])
        .write(dir.path(), "q.toml");
    let out = sluice().arg("check").arg(&scheme).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("http:// or https://"));
}
