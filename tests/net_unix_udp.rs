//! The `unix` and `udp` sources through the real binary.

mod common;
mod daemon_support;

use std::io::Write;
use std::os::unix::net::UnixStream;

use common::Config;
use daemon_support::{Daemon, wait_metric};

#[test]
fn unix_and_udp_sources_deliver_lines() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("in.sock");
    let out = dir.path().join("out.txt");
    let config = dir.path().join("p.toml");
    std::fs::write(
        &config,
        Config::new()
            .pipeline()
            .set("metrics_address", "127.0.0.1:0")
            .source("local", "unix")
            .set("path", &socket)
            .set("codec", "text")
            .source("dgram", "udp")
            .set("address", "127.0.0.1:0")
            .set("codec", "text")
            .sink("out", "file", &["local", "dgram"])
            .set("path", &out)
            .set("codec", "text")
            .text(),
    )
    .unwrap();
    // A stale socket file left by a crash is replaced, not an error.
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    let mut daemon = Daemon::start(&config, &[], &[]);
    daemon.wait_log("listening on unix");
    let udp = daemon.listen_address("dgram", "udp");
    let metrics = daemon.metrics_address();

    let mut expected = Vec::new();
    for c in 0..2 {
        let mut s = UnixStream::connect(&socket).unwrap();
        let text: String = (0..1000).map(|n| format!("unix-{c}-{n}\n")).collect();
        s.write_all(text.as_bytes()).unwrap();
        expected.extend((0..1000).map(|n| format!("unix-{c}-{n}")));
    }
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for d in 0..50 {
        let mut text: String = (0..20).map(|n| format!("udp-{d}-{n}\n")).collect();
        if d % 2 == 1 {
            text.pop(); // the end of a datagram ends its last line
        }
        client.send_to(text.as_bytes(), udp).unwrap();
        expected.extend((0..20).map(|n| format!("udp-{d}-{n}")));
    }
    wait_metric(metrics, "sluice_events_in_total", "local", |v| v == 2000.0);
    wait_metric(metrics, "sluice_events_in_total", "dgram", |v| v == 1000.0);
    let status = daemon.terminate();
    assert!(status.success(), "{status:?}\n{}", daemon.stderr());
    assert!(!socket.exists(), "the socket file is removed at exit");

    let text = std::fs::read_to_string(&out).unwrap();
    let mut got: Vec<&str> = text.lines().collect();
    got.sort_unstable();
    expected.sort_unstable();
    assert_eq!(got, expected);
}
