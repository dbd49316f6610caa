//! `/metrics` through the real binary: counters equal to the report at the
//! end, and edge occupancy pointing at the bottleneck.

mod common;
mod daemon_support;

use std::io::Write;
use std::net::TcpStream;

use common::{Config, raw, read_report, stage, u64_of};
use daemon_support::{Daemon, http_get, metric, scrape, wait_metric};

#[test]
fn per_stage_counters_match_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let report = dir.path().join("report.json");
    let config = Config::new()
        .pipeline()
        .set("metrics_address", "127.0.0.1:0")
        .source("in", "tcp")
        .set("address", "127.0.0.1:0")
        .transform("keep", "filter", &["in"])
        .set("condition", ".n % 3 != 0")
        .set("workers", 2)
        .transform("shape", "jq", &["keep"])
        .set("program", "{n, tenth: (.n / 10 | floor)}")
        .sink("out", "file", &["shape"])
        .set("path", &out)
        .write(dir.path(), "p.toml");
    let mut daemon = Daemon::start(&config, &["--report", report.to_str().unwrap()], &[]);
    let addr = daemon.listen_address("in", "tcp");
    let metrics = daemon.metrics_address();

    let mut s = TcpStream::connect(addr).unwrap();
    let mut text: String = (0..3000).map(|n| format!("{{\"n\":{n}}}\n")).collect();
    text.push_str("garbage\n{\"n\": oops}\n");
    s.write_all(text.as_bytes()).unwrap();
    drop(s);
    let scraped = wait_metric(metrics, "sluice_events_out_total", "out", |v| v == 2000.0);
    let status = daemon.terminate();
    assert!(status.success(), "{status:?}\n{}", daemon.stderr());

    let r = read_report(&report);
    for name in ["in", "keep", "shape", "out"] {
        let st = stage(&r, name);
        for (metric_name, key) in [
            ("sluice_events_in_total", "events_in"),
            ("sluice_events_out_total", "events_out"),
            ("sluice_errors_total", "errors"),
            ("sluice_bytes_total", "bytes"),
        ] {
            assert_eq!(
                metric(&scraped, metric_name, name),
                Some(u64_of(st, key) as f64),
                "{metric_name} of {name}; report {st}"
            );
        }
    }
    assert_eq!(metric(&scraped, "sluice_errors_total", "in"), Some(2.0));
    assert_eq!(
        metric(&scraped, "sluice_events_in_total", "in"),
        Some(3002.0)
    );
    // Edges, the latency histogram, the stage list.
    assert!(metric(&scraped, "sluice_edge_capacity", "keep").unwrap() >= 1.0);
    assert!(metric(&scraped, "sluice_edge_occupancy", "out").is_some());
    assert!(metric(&scraped, "sluice_stage_latency_seconds_count", "keep").unwrap() >= 1.0);
    assert!(
        scraped.contains("sluice_stage_info{stage=\"keep\",role=\"transform\",type=\"filter\"} 1")
    );
    assert!(scraped.contains("# TYPE sluice_stage_latency_seconds histogram"));
}

#[test]
fn edge_occupancy_points_at_the_bottleneck() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::write(
        dir.path(),
        "p.toml",
        r#"
[pipeline]
metrics_address = "127.0.0.1:0"

[sources.gen]
type = "generate"

[transforms.slow]
type = "delay"
inputs = ["gen"]
duration = "2ms"

[sinks.null]
type = "blackhole"
inputs = ["slow"]
"#,
    );
    let mut daemon = Daemon::start(&config, &[], &[]);
    let metrics = daemon.metrics_address();
    wait_metric(metrics, "sluice_edge_occupancy", "slow", |v| v >= 0.9);
    // One scrape is a snapshot; the picture is the average over several.
    let (mut slow, mut null) = (0.0, 0.0);
    for _ in 0..20 {
        let text = scrape(metrics);
        slow += metric(&text, "sluice_edge_occupancy", "slow").unwrap() / 20.0;
        null += metric(&text, "sluice_edge_occupancy", "null").unwrap() / 20.0;
    }
    assert!(
        slow >= 0.75 && null <= 0.25,
        "the bottleneck's input is full ({slow:.2}), the next stage's empty ({null:.2})"
    );
    let (status_line, _) = http_get(metrics, "/nope");
    assert!(status_line.contains("404"), "{status_line}");
    assert!(scrape(metrics).contains("sluice_uptime_seconds"));
    let status = daemon.terminate();
    assert!(status.success(), "{status:?}\n{}", daemon.stderr());
}

#[test]
fn a_retrying_sink_shows_its_retries() {
    // A port nobody listens on (yet): every connect is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let config = Config::new()
        .pipeline()
        .set("metrics_address", "127.0.0.1:0")
        .source("gen", "generate")
        .set("rate", 100)
        .sink("out", "tcp", &["gen"])
        .set("address", format!("127.0.0.1:{port}"))
        .set(
            "retry",
            raw(r#"{ attempts = 1000, initial = "10ms", max = "20ms" }"#),
        )
        .write(dir.path(), "p.toml");
    let mut daemon = Daemon::start(&config, &[], &[]);
    let metrics = daemon.metrics_address();
    let text = wait_metric(metrics, "sluice_sink_retries_total", "out", |v| v >= 2.0);
    assert!(
        metric(&text, "sluice_sink_retries_total", "gen").is_none(),
        "a source has no sink retries:\n{text}"
    );
    // The peer comes up: the retries end in a delivery.
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let (conn, _) = listener.accept().unwrap();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut line = String::new();
    let mut reader = std::io::BufReader::new(conn);
    std::io::BufRead::read_line(&mut reader, &mut line).unwrap();
    assert!(line.starts_with('{'), "a JSON line arrives: {line:?}");
    let status = daemon.terminate();
    assert!(status.success(), "{status:?}\n{}", daemon.stderr());
}
