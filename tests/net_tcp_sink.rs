//! The `tcp` sink through the real binary: a peer that is down at start
//! gets every line once it comes up.

mod common;
mod daemon_support;

use std::io::Read;
use std::net::TcpListener;

use common::{Config, id_lines};
use daemon_support::Daemon;

#[test]
fn peer_down_at_start_then_up_gets_every_line() {
    let dir = tempfile::tempdir().unwrap();
    let input = common::write(dir.path(), "in.jsonl", id_lines(20_000));
    // A free port, with nobody listening on it for now.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let address = format!("127.0.0.1:{port}");
    let config = dir.path().join("p.toml");
    std::fs::write(
        &config,
        Config::new()
            .source("in", "file")
            .set("path", &input)
            .sink("peer", "tcp", &["in"])
            .set("address", &address)
            .text(),
    )
    .unwrap();
    let mut daemon = Daemon::start(&config, &[], &[]);
    daemon.wait_log("cannot connect to");
    let listener = TcpListener::bind(&address).expect("the port is still free");
    let (mut conn, _) = listener.accept().unwrap();
    conn.set_read_timeout(Some(daemon_support::PATIENCE))
        .unwrap();
    let mut got = Vec::new();
    conn.read_to_end(&mut got).unwrap();
    let status = daemon.wait();
    assert!(status.success(), "{status:?}\n{}", daemon.stderr());
    assert_eq!(String::from_utf8(got).unwrap(), id_lines(20_000));
}

#[test]
fn a_peer_that_goes_away_is_replaced_by_a_reconnect() {
    use std::io::Write;
    use std::net::TcpStream;
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let config = Config::new()
        .pipeline()
        .set("metrics_address", "127.0.0.1:0")
        .source("in", "tcp")
        .set("address", "127.0.0.1:0")
        .set("codec", "text")
        .sink("peer", "tcp", &["in"])
        .set("address", &address)
        .set("codec", "text")
        .write(dir.path(), "p.toml");
    let mut daemon = Daemon::start(&config, &[], &[]);
    let input = daemon.listen_address("in", "tcp");
    let metrics = daemon.metrics_address();
    let mut client = TcpStream::connect(input).unwrap();

    // The first peer takes one line and hangs up.
    writeln!(client, "first").unwrap();
    let (mut first, _) = listener.accept().unwrap();
    first
        .set_read_timeout(Some(daemon_support::PATIENCE))
        .unwrap();
    let mut got = [0u8; 6];
    first.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"first\n");
    drop(first);

    // Lines keep coming until the sink has reconnected (bounded rounds).
    listener.set_nonblocking(true).unwrap();
    let started = Instant::now();
    let mut sent = 1;
    let mut second = loop {
        match listener.accept() {
            Ok((conn, _)) => break conn,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("accept: {e}"),
        }
        assert!(
            started.elapsed() < daemon_support::PATIENCE,
            "the sink never reconnected:\n{}",
            daemon.stderr()
        );
        writeln!(client, "retry-{sent}").unwrap();
        sent += 1;
        std::thread::sleep(Duration::from_millis(20));
    };
    second.set_nonblocking(false).unwrap();
    for i in 0..100 {
        writeln!(client, "after-{i}").unwrap();
    }
    sent += 100;
    drop(client);
    daemon_support::wait_metric(metrics, "sluice_events_in_total", "in", |v| {
        v == sent as f64
    });
    let status = daemon.terminate();
    assert!(status.success(), "{status:?}\n{}", daemon.stderr());
    second
        .set_read_timeout(Some(daemon_support::PATIENCE))
        .unwrap();
    let mut text = String::new();
    second.read_to_string(&mut text).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let after: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("after-"))
        .collect();
    let expected: Vec<String> = (0..100).map(|i| format!("after-{i}")).collect();
    assert_eq!(
        after, expected,
        "every line after the reconnect arrives, in order"
    );
}
