//! `sluice tap` and `/api/v1/tap` against a running daemon: the events of
//! the stage (or port) named, `--limit`, `--sample`, a clean end when the
//! daemon stops, 130 on Ctrl-C, the errors a user can meet (no daemon, no
//! such stage, taps disabled), and a tap whose reader never reads losing
//! copies (counted) while the pipeline goes on.

mod api_support;
mod common;
mod daemon_support;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use api_support::{graph, request, stage};
use common::{Config, json_lines, sluice};
use daemon_support::{Daemon, PATIENCE, metric, scrape};

/// gen (1000 events/s) → shape (jq) → route (`even`) → null, and the
/// route's ports to blackholes.
fn config(dir: &std::path::Path, tap: Option<bool>) -> std::path::PathBuf {
    let mut c = Config::new()
        .pipeline()
        .set("metrics_address", "127.0.0.1:0");
    if let Some(tap) = tap {
        c = c.raw(&format!("api = {{ tap = {tap} }}"));
    }
    c.source("gen", "generate")
        .set("rate", 1000)
        .transform("shape", "jq", &["gen"])
        .set("program", "{seq, tapped: true}")
        .transform("pick", "route", &["shape"])
        .set("routes.even", ".seq % 2 == 0")
        .sink("null", "blackhole", &["pick.even", "pick._unmatched"])
        .write(dir, "tap.toml")
}

fn tap(addr: SocketAddr, args: &[&str]) -> std::process::Output {
    sluice()
        .arg("tap")
        .arg("--address")
        .arg(addr.to_string())
        .args(args)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap()
}

#[test]
fn tap_prints_a_stages_events_with_limit_sample_and_port() {
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = Daemon::start(&config(dir.path(), None), &[], &[]);
    let api = daemon.metrics_address();

    let out = tap(api, &["shape", "--limit", "5"]);
    assert!(out.status.success(), "{}", common::describe(&out));
    let events = json_lines(&out.stdout);
    assert_eq!(events.len(), 5, "{events:?}");
    assert!(events.iter().all(|e| e["tapped"] == true), "{events:?}");

    // A port: only the route's `even` events.
    let out = tap(api, &["pick.even", "--limit", "4"]);
    assert!(out.status.success(), "{}", common::describe(&out));
    let events = json_lines(&out.stdout);
    assert_eq!(events.len(), 4);
    assert!(events.iter().all(|e| e["seq"].as_u64().unwrap() % 2 == 0));

    // Every other event: consecutive taken events are 2 apart (more when
    // a copy was dropped, never less).
    let out = tap(api, &["shape", "--limit", "6", "--sample", "0.5"]);
    assert!(out.status.success(), "{}", common::describe(&out));
    let seqs: Vec<u64> = json_lines(&out.stdout)
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs.len(), 6);
    assert!(
        seqs.windows(2)
            .all(|w| w[1] >= w[0] + 2 && (w[1] - w[0]) % 2 == 0),
        "{seqs:?}"
    );

    // Wrong names are told apart, with what exists.
    let out = tap(api, &["nope"]);
    assert_eq!(out.status.code(), Some(1), "{}", common::describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no stage `nope`") && err.contains("404"),
        "{err}"
    );
    let out = tap(api, &["pick.odd"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("pick.even") && err.contains("pick._unmatched"),
        "{err}"
    );
    let a = request(api, "GET", "/api/v1/tap?stage=shape&limit=0", &[]);
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.body.contains("\"error\""), "{}", a.body);

    let status = daemon.terminate();
    assert!(status.success(), "{status:?}\n{}", daemon.stderr());
}

#[test]
fn a_tap_ends_cleanly_when_the_daemon_stops_and_with_130_on_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = Daemon::start(&config(dir.path(), None), &[], &[]);
    let api = daemon.metrics_address();
    let start_tap = || {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("sluice"))
            .args(["tap", "--address", &api.to_string(), "shape"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Its first line says the tap is open.
        let mut first = String::new();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        out.read_line(&mut first).unwrap();
        assert!(first.contains("\"tapped\":true"), "{first:?}");
        (child, out)
    };
    let wait = |child: &mut std::process::Child| {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "sluice tap did not end");
            std::thread::sleep(Duration::from_millis(20));
        }
    };

    // Ctrl-C.
    let (mut interrupted, _out) = start_tap();
    let ok = Command::new("kill")
        .args(["-INT", &interrupted.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    assert_eq!(wait(&mut interrupted).code(), Some(130));

    // The daemon stops: the stream ends, the tap exits 0.
    let (mut child, mut out) = start_tap();
    let status = daemon.terminate();
    assert!(status.success(), "{status:?}\n{}", daemon.stderr());
    // Read on, so the end of the stream is not held by a full pipe.
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut out, &mut rest);
    let tap_status = wait(&mut child);
    let mut err = String::new();
    let _ = std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err);
    assert_eq!(tap_status.code(), Some(0), "{err}");
    assert!(err.contains("the stream ended"), "{err}");
}

#[test]
fn a_reader_that_never_reads_loses_copies_not_throughput() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::new()
        .pipeline()
        .set("metrics_address", "127.0.0.1:0")
        .source("gen", "generate")
        .sink("null", "blackhole", &["gen"])
        .write(dir.path(), "fast.toml");
    let mut daemon = Daemon::start(&config, &[], &[]);
    let api = daemon.metrics_address();
    // Ask for a tap and never read the answer.
    let mut stalled = TcpStream::connect(api).unwrap();
    write!(
        stalled,
        "GET /api/v1/tap?stage=gen HTTP/1.1\r\nHost: {api}\r\n\r\n"
    )
    .unwrap();
    let deadline = Instant::now() + PATIENCE;
    let g = loop {
        let g = graph(api, None);
        if g["tap_dropped"].as_u64().unwrap() > 0 {
            break g;
        }
        assert!(Instant::now() < deadline, "no tap copy dropped: {g:#}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(g["taps_open"], 1, "{g:#}");
    // The pipeline goes on meanwhile.
    let before = stage(&g, "null")["events_in"].as_u64().unwrap();
    let text = loop {
        let text = scrape(api);
        if metric(&text, "sluice_events_in_total", "null").unwrap() > before as f64 + 100_000.0 {
            break text;
        }
        assert!(Instant::now() < deadline, "the pipeline stalled:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let dropped: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("sluice_tap_dropped_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no sluice_tap_dropped_total in\n{text}"));
    assert!(dropped > 0.0);
    // The stop is not held by the reader that does not read.
    let status = daemon.terminate();
    assert!(status.success(), "{status:?}\n{}", daemon.stderr());
    drop(stalled);
}

#[test]
fn disabled_taps_and_a_missing_daemon_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = Daemon::start(&config(dir.path(), Some(false)), &[], &[]);
    let api = daemon.metrics_address();
    let a = request(api, "GET", "/api/v1/tap?stage=shape", &[]);
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(a.body.contains("tap = false"), "{}", a.body);
    let out = tap(api, &["shape", "--limit", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("(403)"));
    // The graph is still served.
    assert_eq!(graph(api, None)["version"], 1);
    let status = daemon.terminate();
    assert!(status.success(), "{status:?}\n{}", daemon.stderr());

    // Nobody there.
    let out = tap(api, &["shape"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no sluice daemon answers at"), "{err}");
    let out = sluice()
        .args(["graph", "--live", "--address", &api.to_string()])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no sluice daemon answers at"));
}
