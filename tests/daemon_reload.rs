//! SIGHUP reload through the real binary: a changed program applies while
//! events flow, nothing is lost or duplicated, an invalid config leaves the
//! old graph running, and reloading works again and again under load.

mod common;
mod daemon_support;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{Config, read_report, stage, u64_of};
use daemon_support::{Daemon, NotifySocket, metric, scrape, wait_metric};

fn config(out: &Path, version: &str) -> String {
    Config::new()
        .pipeline()
        .set("metrics_address", "127.0.0.1:0")
        .set("capacity", 256)
        .source("in", "tcp")
        .set("address", "127.0.0.1:0")
        .transform("shape", "jq", &["in"])
        .set("program", format!("{{n: .n, v: {version}}}"))
        .set("workers", 2)
        .sink("out", "file", &["shape"])
        .set("path", out)
        .text()
}

/// Sends `{"n":i}` lines until told to stop (bounded in lines and time);
/// returns how many it sent.
fn client(addr: SocketAddr, stop: Arc<AtomicBool>) -> JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).expect("connect");
        let started = Instant::now();
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed)
            && n < 3_000_000
            && started.elapsed() < Duration::from_secs(100)
        {
            let chunk: String = (n..n + 100).map(|i| format!("{{\"n\":{i}}}\n")).collect();
            if s.write_all(chunk.as_bytes()).is_err() {
                break;
            }
            n += 100;
        }
        n
    })
}

/// Every output line as (n, v), in file order.
fn outputs(path: &Path) -> Vec<(u64, u64)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["n"].as_u64().unwrap(), v["v"].as_u64().unwrap())
        })
        .collect()
}

fn events_out(metrics: SocketAddr) -> f64 {
    metric(&scrape(metrics), "sluice_events_out_total", "out").unwrap_or(0.0)
}

#[test]
fn a_changed_program_applies_without_losing_or_duplicating_events() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let report = dir.path().join("report.json");
    let cfg = dir.path().join("p.toml");
    std::fs::write(&cfg, config(&out, "1")).unwrap();
    let mut notify = NotifySocket::bind(dir.path());
    let socket = notify.path.to_str().unwrap().to_string();
    let mut daemon = Daemon::start(
        &cfg,
        &["--report", report.to_str().unwrap()],
        &[("NOTIFY_SOCKET", &socket)],
    );
    notify.wait_for("READY=1");
    let addr = daemon.listen_address("in", "tcp");
    let metrics = daemon.metrics_address();
    let stop = Arc::new(AtomicBool::new(false));
    let sender = client(addr, stop.clone());

    wait_metric(metrics, "sluice_events_out_total", "out", |v| v >= 5_000.0);
    std::fs::write(&cfg, config(&out, "2")).unwrap();
    daemon.signal("HUP");
    daemon.wait_log_count("reload complete", 1);
    notify.wait_for("RELOADING=1");
    // Events keep flowing through the new graph.
    let after_reload = events_out(metrics);
    wait_metric(metrics, "sluice_events_out_total", "out", |v| {
        v >= after_reload + 5_000.0
    });

    // An invalid config is rejected with its place; the old graph runs on.
    std::fs::write(
        &cfg,
        config(&out, "2 +").replace("type = \"jq\"", "type = \"jq\"\nbogus = 1"),
    )
    .unwrap();
    daemon.signal("HUP");
    let rejected = daemon.wait_log("reload rejected:");
    assert!(rejected.contains("p.toml:"), "{rejected}");
    let after_reject = events_out(metrics);
    wait_metric(metrics, "sluice_events_out_total", "out", |v| {
        v >= after_reject + 5_000.0
    });

    stop.store(true, Ordering::Relaxed);
    let sent = sender.join().unwrap();
    let status = daemon.terminate();
    assert!(status.success(), "{status:?}\n{}", daemon.stderr());
    notify.wait_for("STOPPING=1");
    // READY=1, RELOADING=1, READY=1 again, STOPPING=1, in that order.
    let has = |m: &String, line: &str| m.lines().any(|l| l == line);
    let reloading = notify.position("RELOADING=1").unwrap();
    let stopping = notify.position("STOPPING=1").unwrap();
    assert!(
        notify.position("READY=1").unwrap() < reloading,
        "{:?}",
        notify.messages
    );
    assert!(
        notify.messages[reloading + 1..stopping]
            .iter()
            .any(|m| has(m, "READY=1")),
        "no READY=1 after the reload: {:?}",
        notify.messages
    );

    let read = u64_of(stage(&read_report(&report), "in"), "events_in");
    assert!(read <= sent);
    let lines = outputs(&out);
    let mut ns: Vec<u64> = lines.iter().map(|l| l.0).collect();
    ns.sort_unstable();
    assert_eq!(
        ns,
        (0..read).collect::<Vec<_>>(),
        "every event read, exactly once"
    );
    // The old graph drained before the new one wrote: v=1 lines, then v=2.
    let first_new = lines
        .iter()
        .position(|l| l.1 == 2)
        .expect("the new program ran");
    assert!(first_new > 0, "the old program ran first");
    assert!(
        lines[first_new..].iter().all(|l| l.1 == 2),
        "no old output after the switch"
    );
}

#[test]
fn a_hundred_reloads_under_load_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let report = dir.path().join("report.json");
    let cfg = dir.path().join("p.toml");
    std::fs::write(&cfg, config(&out, "0")).unwrap();
    let mut daemon = Daemon::start(&cfg, &["--report", report.to_str().unwrap()], &[]);
    let addr = daemon.listen_address("in", "tcp");
    let metrics = daemon.metrics_address();
    let stop = Arc::new(AtomicBool::new(false));
    let sender = client(addr, stop.clone());
    wait_metric(metrics, "sluice_events_out_total", "out", |v| v >= 1_000.0);
    for i in 1..=100 {
        std::fs::write(&cfg, config(&out, &i.to_string())).unwrap();
        daemon.signal("HUP");
        daemon.wait_log_count("reload complete", i);
    }
    stop.store(true, Ordering::Relaxed);
    let sent = sender.join().unwrap();
    let status = daemon.terminate();
    assert!(status.success(), "{status:?}\n{}", daemon.stderr());

    let read = u64_of(stage(&read_report(&report), "in"), "events_in");
    assert!(read <= sent);
    let lines = outputs(&out);
    let mut ns: Vec<u64> = lines.iter().map(|l| l.0).collect();
    ns.sort_unstable();
    assert_eq!(
        ns,
        (0..read).collect::<Vec<_>>(),
        "every event read, exactly once"
    );
    // Program versions only ever go up in the file: each graph drained
    // before the next one wrote.
    assert!(lines.windows(2).all(|w| w[0].1 <= w[1].1));
    assert_eq!(lines.last().map(|l| l.1), Some(100));
}
