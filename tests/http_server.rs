//! The `http_server` source through the real binary, under load and
//! through its lifecycle: many concurrent clients, SIGTERM (under load and
//! with a request in flight), a reload that leaves the source unchanged,
//! `ack = "accepted"` against `"delivered"`, and the timeout on a backed-up
//! graph. Requests, status codes and bodies are in `http_server_requests.rs`.

mod common;
mod daemon_support;
mod http_server_support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::Config;
use daemon_support::{Daemon, wait_metric};
use http_server_support::{body, client, ids, lines, post, runtime, send};

/// 16 clients × 40 requests × 100 events, each answered 200 once every
/// event of it is written; then SIGTERM: the file holds every event once.
#[test]
fn sixteen_clients_forty_requests_each_then_sigterm_deliver_every_event_once() {
    const CLIENTS: usize = 16;
    const REQUESTS: usize = 40;
    const EVENTS: usize = 100;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let config = Config::new()
        .source("in", "http_server")
        .set("address", "127.0.0.1:0")
        .sink("out", "file", &["in"])
        .set("path", &out)
        .write(dir.path(), "p.toml");
    let mut daemon = Daemon::start(&config, &[], &[]);
    let url = format!("http://{}/", daemon.listen_address("in", "http"));
    let rt = runtime();
    let answers: Vec<Vec<(u16, String)>> = rt.block_on(async {
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let url = url.clone();
                tokio::spawn(async move {
                    let http = client();
                    let mut got = Vec::new();
                    for r in 0..REQUESTS {
                        let req = http.post(&url).body(body(&format!("c{c}-r{r}"), EVENTS));
                        let a = send(req).await.expect("an answer");
                        got.push((a.status, a.text));
                    }
                    got
                })
            })
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.push(t.await.unwrap());
        }
        all
    });
    for (status, text) in answers.iter().flatten() {
        assert_eq!(*status, 200, "{text}");
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(v, serde_json::json!({"accepted": EVENTS, "errors": 0}));
    }
    // Delivered means written: every event is in the file before SIGTERM.
    assert_eq!(lines(&out).len(), CLIENTS * REQUESTS * EVENTS);
    assert!(daemon.terminate().success(), "{}", daemon.stderr());
    let mut got = ids(&out);
    got.sort();
    let mut want: Vec<String> = (0..CLIENTS)
        .flat_map(|c| {
            (0..REQUESTS).flat_map(move |r| (0..EVENTS).map(move |i| format!("c{c}-r{r}-{i}")))
        })
        .collect();
    want.sort();
    assert_eq!(got.len(), want.len(), "no event lost or duplicated");
    assert!(got == want, "the file holds exactly the events sent");
}

/// SIGTERM while 8 clients keep sending: a request is either answered 200
/// and delivered (exactly once), or refused (503 while stopping, or no
/// connection once the server has closed) and none of it is in the file.
#[test]
fn sigterm_under_load_delivers_exactly_the_requests_answered_200() {
    const CLIENTS: usize = 8;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let config = Config::new()
        .source("in", "http_server")
        .set("address", "127.0.0.1:0")
        .transform("shape", "jq", &["in"])
        .set("program", ".")
        .set("workers", 2)
        .sink("out", "file", &["shape"])
        .set("path", &out)
        .write(dir.path(), "p.toml");
    let mut daemon = Daemon::start(&config, &[], &[]);
    let url = format!("http://{}/", daemon.listen_address("in", "http"));
    let rt = runtime();
    let answered = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (url, answered) = (url.clone(), answered.clone());
            rt.spawn(async move {
                let http = client();
                let mut outcome = BTreeMap::new();
                // Bounded: stops at the first refusal, or after 400 requests.
                for r in 0..400 {
                    let tag = format!("c{c}-r{r}");
                    let status = match send(http.post(&url).body(body(&tag, 50))).await {
                        Ok(a) => {
                            if a.status == 503 {
                                assert!(
                                    a.header("retry-after").is_some(),
                                    "503 without Retry-After"
                                );
                            }
                            a.status
                        }
                        Err(_) => 0,
                    };
                    outcome.insert(tag, status);
                    if status != 200 {
                        break;
                    }
                    answered.fetch_add(1, Ordering::Relaxed);
                }
                outcome
            })
        })
        .collect();
    let deadline = Instant::now() + daemon_support::PATIENCE;
    while answered.load(Ordering::Relaxed) < 200 {
        assert!(Instant::now() < deadline, "the clients made no progress");
        std::thread::sleep(Duration::from_millis(10));
    }
    daemon.signal("TERM");
    let outcomes: BTreeMap<String, u16> = rt.block_on(async {
        let mut all = BTreeMap::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all
    });
    assert!(daemon.wait().success(), "{}", daemon.stderr());
    for (tag, status) in &outcomes {
        assert!([200, 503, 0].contains(status), "{tag}: {status}");
    }
    let refused = outcomes.values().filter(|s| **s != 200).count();
    assert_eq!(
        refused, CLIENTS,
        "every client ended on a refusal: {outcomes:?}"
    );
    let want: BTreeSet<String> = outcomes
        .iter()
        .filter(|(_, s)| **s == 200)
        .flat_map(|(tag, _)| (0..50).map(move |i| format!("{tag}-{i}")))
        .collect();
    let got = ids(&out);
    let unique: BTreeSet<String> = got.iter().cloned().collect();
    assert_eq!(unique.len(), got.len(), "an event was written twice");
    assert!(
        unique == want,
        "the file holds exactly the requests answered 200: {} lines, {} expected",
        got.len(),
        want.len()
    );
}

/// A request in flight when SIGTERM comes is finished (200, delivered);
/// one arriving meanwhile is answered 503 with `Retry-After`.
#[test]
fn sigterm_finishes_the_request_in_flight_and_refuses_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let config = Config::new()
        .pipeline()
        .set("metrics_address", "127.0.0.1:0")
        .source("in", "http_server")
        .set("address", "127.0.0.1:0")
        .transform("slow", "delay", &["in"])
        .set("duration", "2s")
        .sink("out", "file", &["slow"])
        .set("path", &out)
        .write(dir.path(), "p.toml");
    let mut daemon = Daemon::start(&config, &[], &[]);
    let url = format!("http://{}/", daemon.listen_address("in", "http"));
    let metrics = daemon.metrics_address();
    let rt = runtime();
    let first = rt.spawn(send(client().post(&url).body("{\"id\":\"first\"}\n")));
    // The request is inside: its event has entered the graph.
    wait_metric(metrics, "sluice_events_in_total", "in", |n| n >= 1.0);
    daemon.signal("TERM");
    daemon.wait_log("SIGTERM: draining");
    let refused = post(&rt, &url, "{\"id\":\"late\"}\n");
    assert_eq!(refused.status, 503, "{}", refused.text);
    assert!(refused.header("retry-after").is_some());
    assert!(
        refused.json()["error"]
            .as_str()
            .unwrap()
            .contains("stopping")
    );
    let first = rt
        .block_on(first)
        .unwrap()
        .expect("the first request is answered");
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(ids(&out), vec!["first"], "delivered before the answer");
    assert!(daemon.wait().success(), "{}", daemon.stderr());
    assert_eq!(ids(&out), vec!["first"], "the refused request left nothing");
}

/// SIGHUP with the source's table unchanged: the source keeps its socket
/// and serves on, into the new graph.
#[test]
fn a_reload_that_leaves_the_source_unchanged_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let (before, after) = (
        dir.path().join("before.jsonl"),
        dir.path().join("after.jsonl"),
    );
    let config = |out: &std::path::Path| {
        Config::new()
            .source("in", "http_server")
            .set("address", "127.0.0.1:0")
            .sink("out", "file", &["in"])
            .set("path", out)
            .write(dir.path(), "p.toml")
    };
    let path = config(&before);
    let mut daemon = Daemon::start(&path, &[], &[]);
    let url = format!("http://{}/", daemon.listen_address("in", "http"));
    let rt = runtime();
    assert_eq!(post(&rt, &url, body("a", 10)).status, 200);
    config(&after);
    daemon.signal("HUP");
    daemon.wait_log("reload complete");
    // The same address (port 0 was picked once): the source was not reopened.
    let answer = post(&rt, &url, body("b", 10));
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert!(
        !daemon.stderr().contains("stopping source `in`"),
        "{}",
        daemon.stderr()
    );
    assert_eq!(ids(&before).len(), 10);
    assert_eq!(
        ids(&after),
        (0..10).map(|i| format!("b-{i}")).collect::<Vec<_>>()
    );
    assert!(daemon.terminate().success(), "{}", daemon.stderr());
}

/// `accepted` answers once the events are in the graph (the slow stage has
/// not written them yet); `delivered` once they are written; a request
/// that cannot be delivered within `timeout` gets 503 with `Retry-After`.
#[test]
fn accepted_answers_before_delivery_delivered_after_and_timeout_is_503() {
    let dir = tempfile::tempdir().unwrap();
    let (acc, del, slow) = (
        dir.path().join("acc.jsonl"),
        dir.path().join("del.jsonl"),
        dir.path().join("slow.jsonl"),
    );
    let branch =
        |c: Config, name: &str, ack: &str, timeout: &str, delay: &str, out: &std::path::Path| {
            c.source(name, "http_server")
                .set("address", "127.0.0.1:0")
                .set("ack", ack)
                .set("timeout", timeout)
                .transform(&format!("{name}_delay"), "delay", &[name])
                .set("duration", delay)
                .sink(&format!("{name}_out"), "file", &[&format!("{name}_delay")])
                .set("path", out)
        };
    let c = branch(Config::new(), "acc", "accepted", "30s", "2s", &acc);
    let c = branch(c, "del", "delivered", "30s", "2s", &del);
    let c = branch(c, "slow", "delivered", "300ms", "2s", &slow);
    let config = c.write(dir.path(), "p.toml");
    let mut daemon = Daemon::start(&config, &[], &[]);
    let rt = runtime();
    let url = |s: &str| format!("http://{}/", daemon.listen_address(s, "http"));

    let a = post(&rt, &url("acc"), "{\"id\":\"acc\"}");
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(
        lines(&acc).is_empty(),
        "accepted: answered before the write"
    );

    let d = post(&rt, &url("del"), "{\"id\":\"del\"}");
    assert_eq!(d.status, 200, "{}", d.text);
    assert_eq!(
        ids(&del),
        vec!["del"],
        "delivered: written before the answer"
    );

    let s = post(&rt, &url("slow"), "{\"id\":\"slow\"}");
    assert_eq!(s.status, 503, "{}", s.text);
    assert_eq!(s.header("retry-after").as_deref(), Some("1"));
    assert!(
        s.json()["error"].as_str().unwrap().contains("timeout"),
        "{}",
        s.text
    );

    assert!(daemon.terminate().success(), "{}", daemon.stderr());
    assert_eq!(ids(&acc), vec!["acc"], "accepted events are delivered too");
    // A 503 is no promise either way: this one was in the graph and is
    // written by the drain (a client retry would duplicate it).
    assert_eq!(ids(&slow), vec!["slow"]);
}

/// A sink that cannot write the request's events fails their
/// acknowledgement: the client hears 503 (and retries), never 200.
#[test]
fn a_sink_that_fails_the_batch_makes_the_answer_503() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::new()
        .source("in", "http_server")
        .set("address", "127.0.0.1:0")
        .sink("out", "file", &["in"])
        .set("path", "/dev/full")
        .raw("retry = { attempts = 1, initial = \"1ms\", max = \"1ms\" }")
        .write(dir.path(), "p.toml");
    let mut daemon = Daemon::start(&config, &[], &[]);
    let url = format!("http://{}/", daemon.listen_address("in", "http"));
    let a = post(&runtime(), &url, body("lost", 5));
    assert_eq!(a.status, 503, "{}", a.text);
    assert!(a.header("retry-after").is_some());
    assert!(
        a.json()["error"]
            .as_str()
            .unwrap()
            .contains("not delivered"),
        "{}",
        a.text
    );
    daemon.terminate();
}
