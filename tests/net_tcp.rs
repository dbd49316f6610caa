//! The `tcp` source through the real binary: many clients under a
//! connection limit, SIGTERM in the middle of a stream, and a misbehaving
//! peer that only hurts its own connection.

mod common;
mod daemon_support;

use std::collections::HashSet;
use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use common::{Config, read_report, stage, u64_of};
use daemon_support::{Daemon, metric, scrape, wait_metric};

/// Peak resident memory of a process (VmHWM), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn two_hundred_clients_under_fifty_connections_lose_nothing() {
    const CLIENTS: usize = 200;
    const LINES: usize = 5_000;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.txt");
    let report = dir.path().join("report.json");
    let config = dir.path().join("p.toml");
    std::fs::write(
        &config,
        Config::new()
            .pipeline()
            .set("metrics_address", "127.0.0.1:0")
            .source("in", "tcp")
            .set("address", "127.0.0.1:0")
            .set("codec", "text")
            .set("max_connections", 50)
            .sink("out", "file", &["in"])
            .set("path", &out)
            .set("codec", "text")
            .text(),
    )
    .unwrap();
    let mut daemon = Daemon::start(&config, &["--report", report.to_str().unwrap()], &[]);
    let addr = daemon.listen_address("in", "tcp");
    let metrics = daemon.metrics_address();

    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).expect("connect");
                let text: String = (0..LINES).map(|n| format!("{c}-{n}\n")).collect();
                s.write_all(text.as_bytes()).expect("write");
                s.shutdown(Shutdown::Write).unwrap();
                // Keep the socket until sluice has read it all and closed its end.
                let _ = std::io::Read::read(&mut s, &mut [0u8; 1]);
            })
        })
        .collect();
    // While the clients run, the limit holds.
    let total = (CLIENTS * LINES) as f64;
    let deadline = Instant::now() + daemon_support::PATIENCE;
    let mut most_open = 0.0f64;
    loop {
        let text = scrape(metrics);
        most_open = most_open.max(metric(&text, "sluice_source_connections", "in").unwrap());
        if metric(&text, "sluice_events_in_total", "in") == Some(total) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not every line was read:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    for c in clients {
        c.join().unwrap();
    }
    assert!(most_open <= 50.0, "{most_open} connections open at once");
    let rss_mib = peak_rss_kib(daemon.pid()) / 1024;
    let status = daemon.terminate();
    assert!(status.success(), "{status:?}\n{}", daemon.stderr());

    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), CLIENTS * LINES, "lines lost or duplicated");
    let unique: HashSet<&str> = lines.iter().copied().collect();
    assert_eq!(unique.len(), CLIENTS * LINES, "duplicated lines");
    for c in 0..CLIENTS {
        for n in [0, LINES / 2, LINES - 1] {
            assert!(
                unique.contains(format!("{c}-{n}").as_str()),
                "{c}-{n} missing"
            );
        }
    }
    let r = read_report(&report);
    assert_eq!(
        u64_of(stage(&r, "in"), "events_in"),
        (CLIENTS * LINES) as u64
    );
    assert_eq!(
        u64_of(stage(&r, "out"), "events_out"),
        (CLIENTS * LINES) as u64
    );
    // Bounded by the capacities and the connection limit, not by the input.
    let peak = u64_of(&r, "peak_in_flight");
    assert!(peak < 100_000, "peak_in_flight {peak}");
    eprintln!("peak in flight {peak} events, peak RSS {rss_mib} MiB");
    assert!(rss_mib < 512, "peak RSS {rss_mib} MiB");
}

/// SIGTERM while a stream of up to 1 000 000 lines flows through tcp → 4
/// workers → file, a quarter of the way in: every line read is written.
#[test]
fn sigterm_mid_stream_keeps_every_line_read() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let report = dir.path().join("report.json");
    let config = dir.path().join("p.toml");
    std::fs::write(
        &config,
        Config::new()
            .pipeline()
            .set("metrics_address", "127.0.0.1:0")
            .source("in", "tcp")
            .set("address", "127.0.0.1:0")
            .transform("shape", "jq", &["in"])
            .set("program", "{n: .n, even: (.n % 2 == 0)}")
            .set("workers", 4)
            .sink("out", "file", &["shape"])
            .set("path", &out)
            .text(),
    )
    .unwrap();
    let mut daemon = Daemon::start(&config, &["--report", report.to_str().unwrap()], &[]);
    let addr = daemon.listen_address("in", "tcp");
    let metrics = daemon.metrics_address();

    // Streams until sluice stops reading (bounded in lines and time).
    let client = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).expect("connect");
        let started = Instant::now();
        let mut n = 0u64;
        while n < 1_000_000 && started.elapsed() < Duration::from_secs(100) {
            let chunk: String = (n..n + 1000).map(|i| format!("{{\"n\":{i}}}\n")).collect();
            if s.write_all(chunk.as_bytes()).is_err() {
                break;
            }
            n += 1000;
        }
        n
    });
    wait_metric(metrics, "sluice_events_out_total", "out", |v| {
        v >= 250_000.0
    });
    let status = daemon.terminate();
    let sent = client.join().unwrap();
    assert!(status.success(), "{status:?}\n{}", daemon.stderr());

    let r = read_report(&report);
    let read = u64_of(stage(&r, "in"), "events_in");
    assert!(
        read >= 250_000 && read < sent,
        "read {read} of {sent}: not mid-stream"
    );
    let written = u64_of(stage(&r, "out"), "events_out");
    assert_eq!(written, read, "every line read must be written");
    let text = std::fs::read_to_string(&out).unwrap();
    let mut ns: Vec<u64> = text
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["even"], v["n"].as_u64().unwrap().is_multiple_of(2));
            v["n"].as_u64().unwrap()
        })
        .collect();
    ns.sort_unstable();
    // One connection is read in order: what was read is exactly a prefix.
    assert_eq!(ns, (0..read).collect::<Vec<_>>());
}

#[test]
fn a_bad_peer_only_hurts_its_own_connection() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.jsonl");
    let errors = dir.path().join("errors.jsonl");
    let config = dir.path().join("p.toml");
    std::fs::write(
        &config,
        Config::new()
            .pipeline()
            .set("metrics_address", "127.0.0.1:0")
            .source("in", "tcp")
            .set("address", "127.0.0.1:0")
            .set("max_line_bytes", 64)
            .sink("good", "file", &["in"])
            .set("path", &good)
            .sink("dead_letters", "file", &["in.errors"])
            .set("path", &errors)
            .text(),
    )
    .unwrap();
    let mut daemon = Daemon::start(&config, &[], &[]);
    let addr = daemon.listen_address("in", "tcp");
    let metrics = daemon.metrics_address();

    let mut b = TcpStream::connect(addr).unwrap();
    for n in 0..50 {
        writeln!(b, "{{\"c\":\"b\",\"n\":{n}}}").unwrap();
    }
    let mut a = TcpStream::connect(addr).unwrap();
    let mut bad = Vec::new();
    bad.extend_from_slice(b"{\"c\":\"a\",\"n\":1}\n");
    bad.extend_from_slice(b"not json\n");
    bad.extend_from_slice(b"{\"c\":\"a\",\"n\":3}\n");
    bad.extend(std::iter::repeat_n(b'x', 10_000));
    bad.extend_from_slice(b"\n{\"c\":\"a\",\"n\":5}\n");
    bad.extend_from_slice(b"\"\xff\xfe\"\n");
    bad.extend_from_slice(b"{\"c\":\"a\",\"n\":7}\n");
    bad.extend_from_slice(b"{\"c\":\"a\",\"n\":"); // and the peer goes away mid-line
    a.write_all(&bad).unwrap();
    drop(a);
    for n in 50..100 {
        writeln!(b, "{{\"c\":\"b\",\"n\":{n}}}").unwrap();
    }
    drop(b);
    wait_metric(metrics, "sluice_events_in_total", "in", |v| v == 108.0);
    // A silent peer does not hold up the shutdown.
    let idle = TcpStream::connect(addr).unwrap();
    wait_metric(metrics, "sluice_source_connections", "in", |v| v == 1.0);
    let status = daemon.terminate();
    drop(idle);
    assert!(status.success(), "{status:?}\n{}", daemon.stderr());

    let good: Vec<serde_json::Value> = common::json_lines(&std::fs::read(&good).unwrap());
    let from = |c: &str| -> Vec<u64> {
        let mut v: Vec<u64> = good
            .iter()
            .filter(|e| e["c"] == c)
            .map(|e| e["n"].as_u64().unwrap())
            .collect();
        v.sort_unstable();
        v
    };
    assert_eq!(from("a"), vec![1, 3, 5, 7]);
    assert_eq!(from("b"), (0..100).collect::<Vec<_>>());
    let errors = common::json_lines(&std::fs::read(&errors).unwrap());
    let mut lines: Vec<u64> = errors.iter().map(|e| u64_of(e, "line")).collect();
    lines.sort_unstable();
    assert_eq!(lines, vec![2, 4, 6, 8], "{errors:?}");
    for e in &errors {
        assert_eq!(e["stage"], "in");
        assert!(e["error"].is_string());
    }
}
