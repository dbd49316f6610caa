//! The `tcp` sink through the real binary: a peer that is down at start
//! gets every line once it comes up.

mod common;
mod daemon_support;

use std::io::Read;
use std::net::TcpListener;

use common::{id_lines, toml_path, toml_str};
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
        format!(
            r#"
[sources.in]
type = "file"
path = {}

[sinks.peer]
type = "tcp"
inputs = ["in"]
address = {}
"#,
            toml_path(&input),
            toml_str(&address)
        ),
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
