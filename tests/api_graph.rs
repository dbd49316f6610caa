//! `/api/v1/graph` and `sluice graph --live` against a running daemon with
//! a deliberately slow stage: in the middle (a `delay` transform between a
//! fast source and a fast sink) and at the end (a `tcp` sink whose peer
//! reads slowly). The judgement must name the slow stage in both, live and
//! in the end-of-run summary.

mod api_support;
mod common;
mod daemon_support;

use std::io::Read;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use api_support::{stage, wait_bottleneck};
use common::Config;
use daemon_support::Daemon;

/// gen (as fast as it goes) → slow (2 ms an event) → null.
fn middle(dir: &std::path::Path) -> std::path::PathBuf {
    Config::new()
        .pipeline()
        .set("metrics_address", "127.0.0.1:0")
        .set("capacity", 64)
        .source("gen", "generate")
        .transform("slow", "delay", &["gen"])
        .set("duration", "2ms")
        .sink("null", "blackhole", &["slow"])
        .write(dir, "middle.toml")
}

#[test]
fn a_slow_stage_in_the_middle_is_named_live_and_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = Daemon::start(&middle(dir.path()), &[], &[]);
    let api = daemon.metrics_address();
    let g = wait_bottleneck(api, "slow", 3);

    // The contract's shape.
    assert_eq!(g["version"], 1);
    assert!(g["window_s"].as_f64().unwrap() > 0.0, "{g:#}");
    let names: Vec<&str> = g["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["gen", "slow", "null"], "graph order");
    let slow = stage(&g, "slow");
    assert_eq!(slow["kind"], "delay");
    assert_eq!(slow["role"], "transform");
    assert_eq!(slow["workers"], 1);
    assert_eq!(slow["inputs"], serde_json::json!(["gen"]));
    assert!(slow["input_fill"].as_f64().unwrap() >= 0.5, "{slow}");
    assert!(slow["busy"].as_f64().unwrap() >= 0.5, "{slow}");
    assert!(slow["rate_in"].as_f64().unwrap() > 0.0, "{slow}");
    assert!(slow["p99_ms"].as_f64().unwrap() >= 1.0, "{slow}");
    let gen_stage = stage(&g, "gen");
    assert!(
        gen_stage["input_fill"].is_null(),
        "a source has no input edge"
    );
    assert!(stage(&g, "null")["input_fill"].as_f64().unwrap() < 0.5);
    let reason = g["bottleneck"]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("input edge ") && reason.contains("% full, busy "),
        "{reason}"
    );
    let edge = g["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["from"] == "gen" && e["to"] == "slow")
        .unwrap_or_else(|| panic!("no edge gen -> slow in {g:#}"));
    assert_eq!(edge["port"], "");
    assert_eq!(edge["capacity"], 64);
    assert!(edge["rate"].as_f64().unwrap() > 0.0, "{edge}");
    assert!(edge["fill"].as_f64().unwrap() >= 0.5, "{edge}");
    assert_eq!(g["tap_dropped"], 0);

    // The same picture in DOT.
    let live = common::sluice()
        .args(["graph", "--live", "--address", &api.to_string()])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(live.status.success(), "{}", common::describe(&live));
    let dot = String::from_utf8(live.stdout).unwrap();
    let slow_node = dot
        .lines()
        .find(|l| l.trim_start().starts_with("\"slow\" ["))
        .unwrap_or_else(|| panic!("no node `slow` in\n{dot}"));
    assert!(slow_node.contains("color=red"), "{slow_node}");
    assert!(
        !dot.lines()
            .any(|l| l.trim_start().starts_with("\"null\" [") && l.contains("color=red")),
        "{dot}"
    );
    let arrow = dot
        .lines()
        .find(|l| l.contains("\"gen\" -> \"slow\""))
        .unwrap_or_else(|| panic!("no edge in\n{dot}"));
    assert!(
        arrow.contains(" ev/s") && arrow.contains("fill "),
        "{arrow}"
    );

    // The end-of-run summary comes from the same judgement.
    let status = daemon.terminate();
    assert!(status.success(), "{status:?}\n{}", daemon.stderr());
    assert!(
        daemon.stderr().contains("bottleneck: slow (input edge "),
        "{}",
        daemon.stderr()
    );
}

/// A peer that accepts one connection and reads it slowly (4 KiB every
/// 10 ms, through a small receive buffer) until told to stop.
struct SlowReader {
    address: String,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SlowReader {
    fn start() -> SlowReader {
        let socket = socket2::Socket::new(
            socket2::Domain::IPV4,
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )
        .unwrap();
        // Set before listen: accepted connections inherit it, so the
        // kernel's buffers fill within seconds.
        socket.set_recv_buffer_size(16 * 1024).unwrap();
        socket
            .bind(
                &"127.0.0.1:0"
                    .parse::<std::net::SocketAddr>()
                    .unwrap()
                    .into(),
            )
            .unwrap();
        socket.listen(4).unwrap();
        let listener: TcpListener = socket.into();
        let address = listener.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let Ok((mut conn, _)) = listener.accept() else {
                return;
            };
            conn.set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            let mut buf = [0u8; 4096];
            // Bounded in time: the test stops it, or PATIENCE runs out.
            let deadline = std::time::Instant::now() + daemon_support::PATIENCE;
            while !stopping.load(Ordering::Relaxed) && std::time::Instant::now() < deadline {
                match conn.read(&mut buf) {
                    Ok(0) => return,
                    Ok(_) | Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
            // Then read whatever is left at full speed, so the drain ends.
            let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
            let mut rest = Vec::new();
            let _ = conn.read_to_end(&mut rest);
        });
        SlowReader {
            address,
            stop,
            thread: Some(thread),
        }
    }

    /// Reads at full speed from now on, until the sink ends the stream.
    fn hurry(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Waits for the end of the stream (after the daemon stopped).
    fn join(mut self) {
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

#[test]
fn a_slow_sink_at_the_end_is_named_not_the_stage_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let peer = SlowReader::start();
    let config = Config::new()
        .pipeline()
        .set("metrics_address", "127.0.0.1:0")
        .set("capacity", 256)
        .source("gen", "generate")
        .transform("shape", "jq", &["gen"])
        .set("program", "{seq, host, msg: .message}")
        .sink("out", "tcp", &["shape"])
        .set("address", &peer.address)
        .write(dir.path(), "end.toml");
    let mut daemon = Daemon::start(&config, &[], &[]);
    let api = daemon.metrics_address();
    let g = wait_bottleneck(api, "out", 3);
    // The transform's input is full too, but only because it cannot send.
    let shape = stage(&g, "shape");
    assert!(shape["input_fill"].as_f64().unwrap() >= 0.5, "{g:#}");
    let out = stage(&g, "out");
    assert!(out["input_fill"].as_f64().unwrap() >= 0.5, "{g:#}");
    assert!(out["busy"].as_f64().unwrap() >= 0.5, "{g:#}");
    peer.hurry();
    let status = daemon.terminate();
    assert!(status.success(), "{status:?}\n{}", daemon.stderr());
    assert!(
        daemon.stderr().contains("bottleneck: out (input edge "),
        "{}",
        daemon.stderr()
    );
    peer.join();
}
